import type { FastifyInstance } from 'fastify';
import type { BootPreview, PreviewFirmware } from '../../domain/boot.js';
import type { NodeInput } from '../../domain/node.js';
import type { Services } from '../../services.js';
import { NODESET_ACTIONS, type ApiEvent, type ApiNode, type ApiNodesAdded, type ApiNodesetAction, type ApiNodesetChange } from '../api-types.js';
import { errorBodySchema } from '../errors.js';

// Bounds only: the domain (src/domain/node.ts) says what each field may hold, for every face.
const nodeFields = {
  macs: { type: 'array', items: { type: 'string', maxLength: 32 }, maxItems: 64 },
  installMac: { type: 'string', maxLength: 32 },
  ip: { type: ['string', 'null'], maxLength: 15 },
  groups: { type: 'array', items: { type: 'string', maxLength: 64 }, maxItems: 64 },
  distro: { type: ['string', 'null'], maxLength: 63 },
  arch: { type: 'string', maxLength: 16 },
  hypervisor: { type: 'string', maxLength: 32 },
  manager: { type: ['string', 'null'], maxLength: 63 },
  cluster: { type: ['string', 'null'], maxLength: 255 },
  storageInit: { type: ['string', 'null'], maxLength: 1024 },
  kernelArgs: { type: 'string', maxLength: 4096 },
  attrs: { type: 'object', propertyNames: { type: 'string', maxLength: 64 }, additionalProperties: { type: 'string', maxLength: 1024 }, maxProperties: 128 },
} as const;
const nodeInput = { type: 'object', properties: { name: { type: 'string', maxLength: 63 }, ...nodeFields }, required: ['name'], additionalProperties: false } as const;

const nodeSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    nics: { type: 'array', items: { type: 'object', properties: { mac: { type: 'string' }, install: { type: 'boolean' } } } },
    ip: { type: ['string', 'null'] },
    groups: { type: 'array', items: { type: 'string' } },
    distro: { type: ['string', 'null'] },
    arch: { type: 'string' },
    hypervisor: { type: 'string' },
    manager: { type: ['string', 'null'] },
    cluster: { type: ['string', 'null'] },
    storageInit: { type: ['string', 'null'] },
    kernelArgs: { type: 'string' },
    attrs: { type: 'object', additionalProperties: { type: 'string' } },
    bootAction: { type: 'string' },
    status: { type: 'string' },
    statusReason: { type: ['string', 'null'] },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
  },
} as const;

const rangeParams = { type: 'object', properties: { range: { type: 'string', minLength: 1, maxLength: 4096 } }, required: ['range'] } as const;

/** Nodes over the admin API: the same service calls as the CLI, so the same checks and events. */
export function nodeRoutes(app: FastifyInstance, services: Services): void {
  app.get<{ Querystring: { range?: string }; Reply: ApiNode[] }>(
    '/nodes',
    { schema: { querystring: { type: 'object', properties: { range: { type: 'string', maxLength: 4096 } }, additionalProperties: false }, response: { 200: { type: 'array', items: nodeSchema } } } },
    (req) => services.nodes.list(req.query.range),
  );

  app.post<{ Body: { nodes: NodeInput[]; skipBad?: boolean }; Reply: ApiNodesAdded }>(
    '/nodes',
    {
      schema: {
        body: { type: 'object', properties: { nodes: { type: 'array', items: nodeInput, minItems: 1, maxItems: 100_000 }, skipBad: { type: 'boolean' } }, required: ['nodes'], additionalProperties: false },
        response: { 201: { type: 'object', properties: { added: { type: 'array', items: { type: 'string' } }, errors: { type: 'array', items: { type: 'object', additionalProperties: true } } } } },
      },
      bodyLimit: 64 * 1024 * 1024,
    },
    async (req, reply) => reply.status(201).send(await services.nodes.add(req.body.nodes, { skipBad: req.body.skipBad })),
  );

  app.get<{ Params: { range: string }; Reply: ApiNode }>('/nodes/:range', { schema: { params: rangeParams, response: { 200: nodeSchema, 404: errorBodySchema } } }, (req) =>
    services.nodes.get(req.params.range),
  );

  app.patch<{ Params: { range: string }; Body: Omit<NodeInput, 'name'>; Reply: ApiNode[] }>(
    '/nodes/:range',
    { schema: { params: rangeParams, body: { type: 'object', properties: nodeFields, additionalProperties: false, minProperties: 1 }, response: { 200: { type: 'array', items: nodeSchema } } } },
    (req) => services.nodes.set(req.params.range, req.body),
  );

  app.delete<{ Params: { range: string } }>('/nodes/:range', { schema: { params: rangeParams, response: { 200: { type: 'object', properties: { removed: { type: 'array', items: { type: 'string' } } } } } } }, async (req) => ({
    removed: await services.nodes.remove(req.params.range),
  }));

  app.post<{ Body: { range: string; action: ApiNodesetAction }; Reply: ApiNodesetChange[] }>(
    '/nodeset',
    {
      schema: {
        body: { type: 'object', properties: { range: { type: 'string', minLength: 1, maxLength: 4096 }, action: { type: 'string', enum: NODESET_ACTIONS } }, required: ['range', 'action'], additionalProperties: false },
        response: { 200: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' } } } } },
      },
    },
    (req) => services.nodes.nodeset(req.body.range, req.body.action),
  );

  app.get<{ Params: { range: string }; Querystring: { firmware?: PreviewFirmware }; Reply: BootPreview }>(
    '/nodes/:range/boot',
    { schema: { params: rangeParams, querystring: { type: 'object', properties: { firmware: { type: 'string', enum: ['bios', 'uefi', 'ipxe', 'uefi-http'] } }, additionalProperties: false } } },
    (req) => services.preview.preview(req.params.range, req.query.firmware ?? 'bios'),
  );

  app.get<{ Params: { range: string }; Querystring: { afterId?: number; limit?: number; latest?: boolean }; Reply: ApiEvent[] }>(
    '/nodes/:range/events',
    {
      schema: {
        params: rangeParams,
        // latest=true: the last `limit` events (oldest first), for a node with a long history.
        querystring: { type: 'object', properties: { afterId: { type: 'integer', minimum: 0 }, limit: { type: 'integer', minimum: 1, maximum: 10000 }, latest: { type: 'boolean' } }, additionalProperties: false },
      },
    },
    async (req) => {
      const node = await services.nodes.get(req.params.range);
      return services.events.list({ subjectType: 'node', subject: node.name, ...req.query });
    },
  );
}
