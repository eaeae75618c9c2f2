import type { FastifyInstance } from 'fastify';
import type { Store } from '../../store/store.js';
import { VERSION } from '../../version.js';

/** Unauthenticated liveness for load balancers, systemd watchdogs and `rhevboot doctor`. */
export function healthRoutes(app: FastifyInstance, store: Store): void {
  const started = Date.now();
  app.get(
    '/healthz',
    {
      schema: {
        response: {
          200: {
            type: 'object',
            properties: { status: { type: 'string' }, version: { type: 'string' }, uptimeSeconds: { type: 'number' }, schemaVersion: { type: 'integer' } },
          },
          503: { type: 'object', properties: { status: { type: 'string' }, reason: { type: 'string' } } },
        },
      },
    },
    async (req, reply) => {
      try {
        const schemaVersion = await store.schemaVersion();
        return { status: 'ok', version: VERSION, uptimeSeconds: Math.round((Date.now() - started) / 1000), schemaVersion };
      } catch (err) {
        req.log.error({ err }, 'health check: store unavailable');
        return reply.status(503).send({ status: 'unavailable', reason: 'store unavailable' });
      }
    },
  );
}
