import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Services } from '../../services.js';
import type { VmCreateRequest, VmResult } from '../../management/vms.js';
import type { PowerAction, VmChanges } from '../../virt/driver.js';
import { errorBodySchema } from '../errors.js';

const name = { type: 'string', pattern: '^[\\w.-]{1,64}$' } as const;
const sizeMiB = { type: 'integer', minimum: 1, maximum: 64 * 1024 * 1024 } as const;
const cpu = {
  type: 'object',
  properties: { sockets: { type: 'integer', minimum: 1, maximum: 256 }, cores: { type: 'integer', minimum: 1, maximum: 256 }, threads: { type: 'integer', minimum: 1, maximum: 16 } },
  additionalProperties: false,
} as const;
const boot = { type: 'array', items: { type: 'string', enum: ['network', 'hd', 'cdrom'] }, minItems: 1, maxItems: 3, uniqueItems: true } as const;
const display = { type: 'string', enum: ['vnc', 'spice'] } as const;
const disk = {
  type: 'object',
  properties: { sizeMiB, interface: { type: 'string', enum: ['virtio', 'virtio_scsi', 'ide'] }, format: { type: 'string', enum: ['cow', 'raw'] }, storageDomain: name, bootable: { type: 'boolean' } },
  required: ['sizeMiB'],
  additionalProperties: false,
} as const;
const nic = {
  type: 'object',
  properties: { name, network: name, profile: name, interface: { type: 'string', enum: ['virtio', 'e1000', 'rtl8139'] }, mac: { type: 'string', maxLength: 32 } },
  additionalProperties: false,
} as const;
const disks = { type: 'array', items: disk, maxItems: 16 } as const;
const nics = { type: 'array', items: nic, maxItems: 16 } as const;

const createBody = {
  type: 'object',
  properties: {
    names: { type: 'string', minLength: 1, maxLength: 1024 },
    manager: name,
    host: { type: 'string', maxLength: 255 },
    template: name,
    cluster: name,
    memoryMiB: sizeMiB,
    cpu,
    osType: name,
    boot,
    display,
    disks,
    nics,
    weigher: { type: 'string', enum: ['spread', 'pack'] },
    architecture: name,
  },
  required: ['names', 'memoryMiB'],
  additionalProperties: false,
} as const;

const vmInfo = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    manager: { type: 'string' },
    state: { type: 'string' },
    host: { type: 'string' },
    memoryMiB: { type: 'number' },
    cpus: { type: 'number' },
    macs: { type: 'array', items: { type: 'string' } },
    addresses: { type: 'array', items: { type: 'string' } },
    node: { type: 'boolean' },
  },
} as const;
const result = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    ok: { type: 'boolean' },
    message: { type: 'string' },
    vm: vmInfo,
    error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' }, status: { type: 'integer' } } },
  },
} as const;
const verdict = {
  type: 'object',
  properties: {
    host: { type: 'string' },
    manager: { type: 'string' },
    accepted: { type: 'boolean' },
    weight: { type: 'number' },
    rank: { type: 'integer' },
    filter: { type: 'string' },
    reason: { type: 'string' },
  },
} as const;
const placement = { type: 'object', properties: { vm: { type: 'string' }, host: { type: 'object', properties: { name: { type: 'string' }, manager: { type: 'string' }, hypervisorType: { type: 'string' }, arch: { type: 'string' } } }, verdicts: { type: 'array', items: verdict } } } as const;
const warnings = { type: 'array', items: { type: 'string' } } as const;
const results = { type: 'object', properties: { results: { type: 'array', items: result }, placements: { type: 'array', items: placement }, warnings, error: errorBodySchema.properties.error } } as const;
const resultResponses = { 200: results, 201: results, 207: results, 400: results, 404: results, 409: results, 500: results, 502: results, 504: results } as const;
const rangeParams = { type: 'object', properties: { range: { type: 'string', minLength: 1, maxLength: 1024 } }, required: ['range'] } as const;

/**
 * A noderange answers with one result per VM. All ok: 200 (201 for creation). All failed: the
 * failure's own status (the engine's 409 stays 409, its outages are 502) with the usual error
 * body besides the results. Some failed: 207, each result saying which.
 */
function send(reply: FastifyReply, rs: VmResult[], okStatus: number, extra: Record<string, unknown> = {}): FastifyReply {
  const failed = rs.filter((r) => !r.ok);
  if (!failed.length) return reply.status(okStatus).send({ results: rs, ...extra });
  if (failed.length < rs.length) return reply.status(207).send({ results: rs, ...extra });
  const statuses = new Set(failed.map((r) => r.error!.status));
  const first = failed[0]!.error!;
  return reply.status(statuses.size === 1 ? first.status : 502).send({ results: rs, ...extra, error: { code: first.code, message: rs.length === 1 ? first.message : `all ${rs.length} VMs failed; first: ${rs[0]!.name}: ${first.message}` } });
}

/** VMs over the admin API: the same service calls as `rhevboot vm`. */
export function vmRoutes(app: FastifyInstance, services: Services): void {
  app.get<{ Querystring: { range?: string } }>(
    '/vms',
    { schema: { querystring: { type: 'object', properties: { range: { type: 'string', maxLength: 1024 } }, additionalProperties: false }, response: { 200: { type: 'object', properties: { vms: { type: 'array', items: vmInfo }, warnings } } } } },
    (req) => services.vms.list(req.query.range),
  );

  app.post<{ Body: VmCreateRequest }>('/vms', { schema: { body: createBody, response: resultResponses } }, async (req, reply) => {
    const out = await services.vms.create(req.body);
    return send(reply, out.results, 201, { ...(out.placements && { placements: out.placements }), ...(out.warnings && { warnings: out.warnings }) });
  });

  app.post<{ Body: VmCreateRequest }>(
    '/placement/explain',
    { schema: { body: createBody, response: { 200: { type: 'object', properties: { placements: { type: 'array', items: placement }, warnings } }, 409: errorBodySchema } } },
    (req) => services.vms.explain(req.body),
  );

  app.patch<{ Params: { range: string }; Body: VmChanges }>(
    '/vms/:range',
    {
      schema: {
        params: rangeParams,
        body: { type: 'object', properties: { memoryMiB: sizeMiB, cpu, boot, display, addDisks: disks, addNics: nics, removeNics: { type: 'array', items: { type: 'string', maxLength: 64 }, maxItems: 16 } }, additionalProperties: false, minProperties: 1 },
        response: resultResponses,
      },
    },
    async (req, reply) => send(reply, await services.vms.change(req.params.range, req.body), 200),
  );

  app.delete<{ Params: { range: string }; Querystring: { keepDisks?: boolean; force?: boolean } }>(
    '/vms/:range',
    { schema: { params: rangeParams, querystring: { type: 'object', properties: { keepDisks: { type: 'boolean' }, force: { type: 'boolean' } }, additionalProperties: false }, response: resultResponses } },
    async (req, reply) => send(reply, await services.vms.remove(req.params.range, { keepDisks: req.query.keepDisks === true, force: req.query.force === true }), 200),
  );

  app.post<{ Params: { range: string }; Body: { action: PowerAction } }>(
    '/vms/:range/power',
    { schema: { params: rangeParams, body: { type: 'object', properties: { action: { type: 'string', enum: ['start', 'stop', 'shutdown', 'suspend', 'reboot', 'status'] } }, required: ['action'], additionalProperties: false }, response: resultResponses } },
    async (req, reply) => send(reply, await services.vms.power(req.params.range, req.body.action), 200),
  );

  app.post<{ Params: { range: string }; Body: { host?: string } }>(
    '/vms/:range/migrate',
    { schema: { params: rangeParams, body: { type: 'object', properties: { host: { type: 'string', maxLength: 255 } }, additionalProperties: false }, response: resultResponses } },
    async (req, reply) => send(reply, await services.vms.migrate(req.params.range, req.body?.host ? { host: req.body.host } : {}), 200),
  );

  app.post<{ Params: { range: string }; Body: { names: string } }>(
    '/vms/:range/clone',
    { schema: { params: rangeParams, body: { type: 'object', properties: { names: { type: 'string', minLength: 1, maxLength: 1024 } }, required: ['names'], additionalProperties: false }, response: resultResponses } },
    async (req, reply) => send(reply, await services.vms.clone(req.params.range, req.body.names), 201),
  );
}
