import type { FastifyInstance } from 'fastify';
import type { Services } from '../../services.js';
import type { ApiEngine, ApiEngineProbe, ApiHypervisor } from '../api-types.js';
import { errorBodySchema } from '../errors.js';

const engineSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    url: { type: 'string' },
    username: { type: 'string' },
    caPinned: { type: 'boolean' },
    caFingerprint: { type: ['string', 'null'] },
    apiVersion: { type: ['string', 'null'] },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
  },
} as const;
const hypervisorSchema = {
  type: 'object',
  properties: {
    engine: { type: 'string' },
    id: { type: 'string' },
    name: { type: 'string' },
    address: { type: ['string', 'null'] },
    status: { type: ['string', 'null'] },
    statusDetail: { type: ['string', 'null'] },
    type: { type: ['string', 'null'] },
    node: { type: ['string', 'null'] },
  },
} as const;
const nameParams = { type: 'object', properties: { name: { type: 'string', maxLength: 63 } }, required: ['name'] } as const;

/**
 * Engines and their hosts over the admin API, the same service calls as `rhevboot rhevm` and
 * `rhevboot hypervisor`. The password goes in and never comes out (the response schema has no
 * field for it, so it could not leak even by mistake).
 */
export function engineRoutes(app: FastifyInstance, services: Services): void {
  app.get<{ Reply: ApiEngine[] }>('/engines', { schema: { response: { 200: { type: 'array', items: engineSchema } } } }, () => services.engines.list());
  app.get<{ Params: { name: string }; Reply: ApiEngine }>('/engines/:name', { schema: { params: nameParams, response: { 200: engineSchema, 404: errorBodySchema } } }, (req) => services.engines.get(req.params.name));

  app.post<{ Body: { name: string; url: string; username: string; password: string; caPem?: string }; Reply: ApiEngine }>(
    '/engines',
    {
      schema: {
        body: {
          type: 'object',
          properties: {
            name: { type: 'string', maxLength: 63 },
            url: { type: 'string', maxLength: 2048 },
            username: { type: 'string', maxLength: 255 },
            password: { type: 'string', minLength: 1, maxLength: 1024 },
            caPem: { type: 'string', maxLength: 65536 },
          },
          required: ['name', 'url', 'username', 'password'],
          additionalProperties: false,
        },
        response: { 201: engineSchema },
      },
    },
    async (req, reply) => reply.status(201).send(await services.engines.add(req.body)),
  );

  app.delete<{ Params: { name: string }; Querystring: { force?: boolean } }>(
    '/engines/:name',
    { schema: { params: nameParams, querystring: { type: 'object', properties: { force: { type: 'boolean' } }, additionalProperties: false }, response: { 204: { type: 'null' } } } },
    async (req, reply) => {
      await services.engines.remove(req.params.name, { force: req.query.force === true });
      return reply.status(204).send();
    },
  );

  // Fetch the engine's CA and pin it only if it has the fingerprint the admin expects.
  app.post<{ Params: { name: string }; Body: { fingerprint: string }; Reply: ApiEngine }>(
    '/engines/:name/ca',
    { schema: { params: nameParams, body: { type: 'object', properties: { fingerprint: { type: 'string', minLength: 32, maxLength: 128 } }, required: ['fingerprint'], additionalProperties: false }, response: { 200: engineSchema } } },
    async (req) => services.engines.pinCa(req.params.name, await services.engines.fetchCa(req.params.name), req.body.fingerprint),
  );

  app.post<{ Params: { name: string }; Reply: ApiEngineProbe }>('/engines/:name/test', { schema: { params: nameParams } }, (req) => services.engines.test(req.params.name));

  app.get<{ Querystring: { engine?: string }; Reply: ApiHypervisor[] }>(
    '/hypervisors',
    { schema: { querystring: { type: 'object', properties: { engine: { type: 'string', maxLength: 63 } }, additionalProperties: false }, response: { 200: { type: 'array', items: hypervisorSchema } } } },
    (req) => services.hypervisors.list(req.query.engine),
  );
  app.post<{ Params: { name: string }; Reply: ApiHypervisor }>('/hypervisors/:name/approve', { schema: { params: nameParams, response: { 200: hypervisorSchema } } }, (req) => services.hypervisors.approve(req.params.name));
  app.delete<{ Params: { name: string } }>('/hypervisors/:name', { schema: { params: nameParams, response: { 204: { type: 'null' } } } }, async (req, reply) => {
    await services.hypervisors.remove(req.params.name);
    return reply.status(204).send();
  });
}
