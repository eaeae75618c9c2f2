import type { FastifyInstance, FastifySchema } from 'fastify';
import { RhevbootError } from '../../errors.js';
import type { Services } from '../../services.js';
import type { ClusterInput, DataCenterInput, HostNicInput, NetworkInput, StorageDomainInput, VeType } from '../../management/ve-input.js';
import type { RemoveOptions } from '../../management/ve.js';
import { errorBodySchema } from '../errors.js';

/**
 * An engine's virtual environment over the admin API, the same service calls as `rhevboot ve`:
 * `/engines/:engine/ve/{datacenters,clusters,storagedomains,networks}`. Creates and actions
 * answer once the engine's end state is reached (storage domain active, data center up, host
 * network committed); the engine's refusals come back as 502 with its reason and detail.
 */

const NAME = { type: 'string', minLength: 1, maxLength: 50, pattern: '^[A-Za-z0-9_.-]+$' } as const;
const TEXT = { type: 'string', maxLength: 1024 } as const;
const VERSION = { type: 'string', pattern: '^[34]\\.[0-9]{1,2}$' } as const;
const nul = (t: string) => ({ type: [t, 'null'] }) as const;

const dataCenterView = {
  type: 'object',
  properties: { id: { type: 'string' }, name: { type: 'string' }, status: nul('string'), storage: { type: 'string', enum: ['local', 'shared'] }, storageType: nul('string'), version: nul('string'), description: nul('string') },
} as const;
const clusterView = {
  type: 'object',
  properties: { id: { type: 'string' }, name: { type: 'string' }, dataCenter: nul('string'), cpuType: nul('string'), version: nul('string'), description: nul('string') },
} as const;
const storageDomainView = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    domainType: nul('string'),
    storageType: nul('string'),
    address: nul('string'),
    path: nul('string'),
    luns: { type: 'array', items: { type: 'string' } },
    master: { type: 'boolean' },
    status: { type: 'string' },
    dataCenters: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, status: nul('string') } } },
    availableBytes: nul('number'),
    usedBytes: nul('number'),
  },
} as const;
const networkView = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    dataCenter: nul('string'),
    vlan: nul('integer'),
    mtu: nul('integer'),
    vm: { type: 'boolean' },
    usages: { type: 'array', items: { type: 'string' } },
    description: nul('string'),
    clusters: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, required: nul('boolean'), status: nul('string') } } },
    /** Set when the network was just put on a host NIC. */
    host: { type: 'object', properties: { name: { type: 'string' }, nic: { type: 'string' }, status: nul('string') } },
  },
} as const;

const VIEWS = { datacenters: dataCenterView, clusters: clusterView, storagedomains: storageDomainView, networks: networkView } as const;
type Coll = keyof typeof VIEWS;
const TYPE_OF: Record<Coll, VeType> = { datacenters: 'datacenter', clusters: 'cluster', storagedomains: 'storagedomain', networks: 'network' };

const errors = { 400: errorBodySchema, 404: errorBodySchema, 409: errorBodySchema, 502: errorBodySchema, 504: errorBodySchema } as const;
const engineParams = { type: 'object', properties: { engine: { type: 'string', maxLength: 63 } }, required: ['engine'] } as const;
const nameParams = { type: 'object', properties: { engine: { type: 'string', maxLength: 63 }, name: NAME }, required: ['engine', 'name'] } as const;
const dcQuery = { type: 'object', properties: { dataCenter: NAME }, additionalProperties: false } as const;
const body = (properties: Record<string, unknown>, required: string[] = []) => ({ type: 'object', properties, required, additionalProperties: false }) as const;

const CREATE: Record<Coll, object> = {
  datacenters: body({ name: NAME, storageType: { type: 'string', enum: ['shared', 'local', 'nfs', 'iscsi', 'fc', 'fcp', 'localfs'] }, version: VERSION, description: TEXT }, ['name']),
  clusters: body({ name: NAME, dataCenter: NAME, cpuType: { type: 'string', minLength: 1, maxLength: 100 }, version: VERSION, description: TEXT }, ['name', 'dataCenter']),
  storagedomains: body(
    {
      name: NAME,
      domainType: { type: 'string', enum: ['data', 'iso', 'export'] },
      storageType: { type: 'string', enum: ['nfs', 'iscsi', 'fc', 'fcp', 'localfs'] },
      host: NAME,
      address: { type: 'string', maxLength: 255 },
      path: { type: 'string', maxLength: 4096 },
      port: { type: 'integer', minimum: 1, maximum: 65535 },
      target: { type: 'string', maxLength: 223 },
      luns: { type: 'array', items: { type: 'string', maxLength: 128 }, minItems: 1, maxItems: 256 },
      nfsVersion: { type: 'string', enum: ['auto', 'v3', 'v4', 'v4_1', 'v4_2'] },
      mountOptions: { type: 'string', maxLength: 256 },
      dataCenter: NAME,
      description: TEXT,
    },
    ['name', 'storageType', 'host'],
  ),
  networks: body({ name: NAME, dataCenter: NAME, vlan: { type: 'integer', minimum: 0, maximum: 4094 }, mtu: { type: 'integer', minimum: 0, maximum: 65520 }, vm: { type: 'boolean' }, stp: { type: 'boolean' }, description: TEXT }, ['name', 'dataCenter']),
};

const REMOVE_QUERY: Record<Coll, object> = {
  datacenters: { type: 'object', properties: { force: { type: 'boolean' } }, additionalProperties: false },
  clusters: { type: 'object', properties: { force: { type: 'boolean' } }, additionalProperties: false },
  storagedomains: { type: 'object', properties: { force: { type: 'boolean' }, format: { type: 'boolean' }, destroy: { type: 'boolean' }, host: NAME }, additionalProperties: false },
  networks: { type: 'object', properties: { dataCenter: NAME }, additionalProperties: false },
};

export function veRoutes(app: FastifyInstance, services: Services): void {
  const ve = services.ve;
  // Validation messages name the field (namingFieldErrors, installed for the whole app).
  const route = (schema: FastifySchema) => ({ schema: { tags: ['ve'], ...schema, response: { ...errors, ...(schema.response as object) } } });

  app.get<{ Params: { engine: string }; Querystring: { dataCenter?: string } }>(
    '/engines/:engine/ve',
    route({ params: engineParams, querystring: dcQuery, response: { 200: { type: 'object', properties: Object.fromEntries(Object.entries(VIEWS).map(([k, v]) => [k, { type: 'array', items: v }])) } } }),
    (req) => ve.listAll(req.params.engine, req.query.dataCenter),
  );

  for (const coll of Object.keys(VIEWS) as Coll[]) {
    const type = TYPE_OF[coll];
    app.get<{ Params: { engine: string }; Querystring: { dataCenter?: string } }>(
      `/engines/:engine/ve/${coll}`,
      route({ params: engineParams, querystring: dcQuery, response: { 200: { type: 'array', items: VIEWS[coll] } } }),
      (req) => ve.list(req.params.engine, type, req.query.dataCenter),
    );
    app.post<{ Params: { engine: string }; Body: Record<string, unknown> }>(
      `/engines/:engine/ve/${coll}`,
      route({ params: engineParams, body: CREATE[coll], response: { 201: VIEWS[coll] } }),
      async (req, reply) => {
        const e = req.params.engine;
        const b = req.body;
        const created =
          type === 'datacenter'
            ? await ve.createDataCenter(e, b as unknown as DataCenterInput)
            : type === 'cluster'
              ? await ve.createCluster(e, b as unknown as ClusterInput)
              : type === 'storagedomain'
                ? await ve.createStorageDomain(e, b as unknown as StorageDomainInput)
                : await ve.createNetwork(e, b as unknown as NetworkInput);
        return reply.status(201).send(created);
      },
    );
    app.delete<{ Params: { engine: string; name: string }; Querystring: RemoveOptions }>(
      `/engines/:engine/ve/${coll}/:name`,
      route({ params: nameParams, querystring: REMOVE_QUERY[coll], response: { 204: { type: 'null' } } }),
      async (req, reply) => {
        await ve.remove(req.params.engine, type, req.params.name, req.query);
        return reply.status(204).send();
      },
    );
  }

  // Storage domain actions: each names the data center and answers with the domain's new state.
  const sdAction = { type: 'object', properties: { dataCenter: NAME }, required: ['dataCenter'], additionalProperties: false } as const;
  const sdBodies = { attach: sdAction, activate: sdAction, detach: sdAction, deactivate: body({ dataCenter: NAME, force: { type: 'boolean' } }, ['dataCenter']) } as const;
  for (const action of Object.keys(sdBodies) as (keyof typeof sdBodies)[]) {
    app.post<{ Params: { engine: string; name: string }; Body: { dataCenter: string; force?: boolean } }>(
      `/engines/:engine/ve/storagedomains/:name/${action}`,
      route({ params: nameParams, body: sdBodies[action], response: { 200: storageDomainView } }),
      (req) => {
        const { engine, name } = req.params;
        const dc = req.body.dataCenter;
        if (action === 'attach') return ve.attachStorageDomain(engine, name, dc);
        if (action === 'activate') return ve.activateStorageDomain(engine, name, dc);
        if (action === 'deactivate') return ve.deactivateStorageDomain(engine, name, dc, { force: req.body.force === true });
        return ve.detachStorageDomain(engine, name, dc);
      },
    );
  }

  // Networks: to a cluster `{cluster, required?}`, or to a host NIC `{host, nic, bootProtocol?, address?, netmask?, gateway?}`.
  app.post<{ Params: { engine: string; name: string }; Body: { cluster?: string; required?: boolean } & Partial<HostNicInput> }>(
    '/engines/:engine/ve/networks/:name/attach',
    route({
      params: nameParams,
      body: body({
        cluster: NAME,
        required: { type: 'boolean' },
        host: NAME,
        nic: { type: 'string', minLength: 1, maxLength: 15 },
        bootProtocol: { type: 'string', enum: ['none', 'dhcp', 'static'] },
        address: { type: 'string', maxLength: 15 },
        netmask: { type: 'string', maxLength: 15 },
        gateway: { type: 'string', maxLength: 15 },
      }),
      response: { 200: networkView },
    }),
    (req) => {
      const { engine, name } = req.params;
      const { cluster, required, ...nic } = req.body;
      if ((cluster === undefined) === (nic.host === undefined)) throw new RhevbootError('RB_ERR_INVALID', 'give either cluster, or host and nic', { field: 'cluster' });
      if (cluster !== undefined) {
        const extra = Object.keys(nic)[0];
        if (extra) throw new RhevbootError('RB_ERR_INVALID', `${extra}: applies to attaching to a host, not to a cluster`, { field: extra });
        return ve.attachNetworkToCluster(engine, name, { cluster, ...(required !== undefined && { required }) });
      }
      if (required !== undefined) throw new RhevbootError('RB_ERR_INVALID', 'required: applies to attaching to a cluster, not to a host', { field: 'required' });
      return ve.attachNetworkToHost(engine, name, nic as HostNicInput);
    },
  );
  app.post<{ Params: { engine: string; name: string }; Body: { cluster?: string; host?: string } }>(
    '/engines/:engine/ve/networks/:name/detach',
    route({ params: nameParams, body: body({ cluster: NAME, host: NAME }), response: { 200: networkView } }),
    (req) => ve.detachNetwork(req.params.engine, req.params.name, req.body),
  );
}
