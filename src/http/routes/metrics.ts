import type { FastifyInstance } from 'fastify';
import type { ApplianceMetrics } from '../../metrics/registry.js';
import type { TokenService } from '../../access/tokens.js';
import { requireToken } from '../auth.js';

/**
 * `GET /metrics` in the Prometheus text format. Behind the API's bearer tokens unless
 * `http.metricsOpen` lets a scraper without one read it (Prometheus sends a token with
 * `authorization: { credentials_file: ... }` in its scrape config).
 */
export async function metricsRoutes(app: FastifyInstance, deps: { metrics: ApplianceMetrics; tokens: TokenService; open: boolean }): Promise<void> {
  await app.register(async (scope) => {
    if (!deps.open) requireToken(scope, deps.tokens);
    scope.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
      const { contentType, body } = await deps.metrics.render();
      return reply.type(contentType).send(body);
    });
  });
}
