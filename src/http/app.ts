import swagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyServerFactory } from 'fastify';
import { redactUrl, type Logger } from '../log.js';
import type { Services } from '../services.js';
import type { Store } from '../store/store.js';
import { VERSION } from '../version.js';
import { requireToken } from './auth.js';
import { installErrorHandlers } from './errors.js';
import { requestValidatorCompiler } from './validation.js';
import { distroRoutes } from './routes/distros.js';
import { engineRoutes } from './routes/engines.js';
import { eventRoutes } from './routes/events.js';
import { groupRoutes } from './routes/groups.js';
import { healthRoutes } from './routes/health.js';
import { jobRoutes } from './routes/jobs.js';
import { nodeRoutes } from './routes/nodes.js';
import { veRoutes } from './routes/ve.js';
import { vmRoutes } from './routes/vms.js';
import { consoleRoutes } from './routes/console.js';
import { metricsRoutes } from './routes/metrics.js';
import type { ApplianceMetrics } from '../metrics/registry.js';

export interface HttpAppOptions {
  store: Store;
  services: Services;
  log: Logger;
  bodyLimit: number;
  /**
   * The boot path (httpboot/): its server in front of fastify and its routes, on the same port.
   * Absent, the app serves the admin API alone.
   */
  boot?: { serverFactory: FastifyServerFactory; genReqId: () => string; routes(app: FastifyInstance): Promise<void> };
  /** `GET /metrics` and the request counters; absent, neither exists. */
  metrics?: ApplianceMetrics;
  /** `http.metricsOpen`: /metrics without a token. */
  metricsOpen?: boolean;
}

/**
 * The HTTP face: health (open), the admin API under /api/v1 (bearer tokens), the web console and
 * /metrics, with the boot path's routes (given by the composition root) on the same server. Routes
 * carry JSON schemas, which validate requests and are the OpenAPI document at /api/v1/openapi.json.
 */
export async function buildHttpApp(opts: HttpAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: opts.log as FastifyBaseLogger,
    ...(opts.boot ? { genReqId: opts.boot.genReqId, serverFactory: opts.boot.serverFactory } : {}),
    // One line per request (below) instead of fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.bodyLimit,
    trustProxy: false,
  });
  // Coercion for query strings and path parameters only; JSON bodies are validated as sent.
  app.setValidatorCompiler(requestValidatorCompiler());
  installErrorHandlers(app);
  const metrics = opts.metrics;
  app.addHook('onResponse', async (req, reply) => {
    metrics?.httpResponse(req.method, req.routeOptions.url, reply.statusCode);
    req.log.info(
      { method: req.method, url: redactUrl(req.url), status: reply.statusCode, ms: Math.round(reply.elapsedTime), remote: req.ip, token: undefined, tokenName: req.tokenName },
      'http request',
    );
  });

  await app.register(swagger, {
    openapi: {
      info: { title: 'rhevboot admin API', version: VERSION },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });

  healthRoutes(app, opts.store);
  await opts.boot?.routes(app);
  await consoleRoutes(app, { store: opts.store, services: opts.services });
  if (metrics) await metricsRoutes(app, { metrics, tokens: opts.services.tokens, open: opts.metricsOpen ?? false });
  app.get('/api/v1/openapi.json', { schema: { hide: true } }, () => app.swagger());

  await app.register(
    async (api) => {
      requireToken(api, opts.services.tokens);
      api.get('/version', { schema: { response: { 200: { type: 'object', properties: { version: { type: 'string' } } } } } }, () => ({ version: VERSION }));
      distroRoutes(api, opts.services);
      nodeRoutes(api, opts.services);
      groupRoutes(api, opts.services);
      engineRoutes(api, opts.services);
      veRoutes(api, opts.services);
      vmRoutes(api, opts.services);
      jobRoutes(api, opts.store);
      eventRoutes(api, opts.services.events);
    },
    { prefix: '/api/v1' },
  );
  return app;
}
