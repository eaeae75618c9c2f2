// Data centers, clusters, logical networks, vNIC profiles (ovirt-api.md §7.2, §7.3, §7.6), storage
// domains (§7.5), jobs (§5.5) and events.
import { actionResult, type Ctx, type Result, type Router } from './api.js';
import { backendFailure, cannot, EngineFault, entityNotFound, notFound } from './errors.js';
import { immutable, maxOf, recoverIfNetworksOk, removalResult, resolveHostRef } from './hosts.js';
import { cluster as clusterEl, collection, dataCenter, fileEl, event, href, job as jobEl, network as networkEl, step as stepEl, storageDomain, vnicProfile } from './render.js';
import { search, type Fields } from './search.js';
import type { Cluster, DataCenter, EngineState, Job, Network, StorageDomain } from './state.js';
import { child, children, get, parseBool, ref, type Node } from './xml.js';

const byId = <T>(m: Map<string, T>, id: string | undefined): T => {
  const x = id === undefined ? undefined : m.get(id);
  if (!x) throw notFound();
  return x;
};
const caseSensitive = (ctx: Ctx): boolean => ctx.bool('case_sensitive') ?? ctx.r.v === 4;

function resolveDc(st: EngineState, r: { id?: string; name?: string } | undefined, action: string, type: string): DataCenter {
  const dc = r?.id !== undefined ? st.dataCenters.get(r.id) : [...st.dataCenters.values()].find((d) => d.name === r?.name);
  if (!dc) {
    if (r?.id !== undefined) throw backendFailure(400, cannot(action, type, "The relevant Data Center doesn't exist."));
    throw entityNotFound(`Datacenter: name=${r?.name}`);
  }
  return dc;
}

function version(n: Node | undefined): { major: number; minor: number } | undefined {
  const v = child(n, 'version');
  if (!v) return undefined;
  const major = v.attrs['major'] ?? get(v, 'major');
  const minor = v.attrs['minor'] ?? get(v, 'minor');
  return major !== undefined && minor !== undefined ? { major: Number(major), minor: Number(minor) } : undefined;
}

function setText(b: Node, target: { description?: string; comment?: string; name?: string }): void {
  for (const k of ['name', 'description', 'comment'] as const) {
    const v = get(b, k);
    if (v !== undefined) target[k] = v;
  }
}

// ---- data centers ----

const DC_FIELDS: Fields<DataCenter> = { name: (d) => d.name, description: (d) => d.description, status: (d) => d.status, comment: (d) => d.comment, local: (d) => String(d.local) };

function addDc(ctx: Ctx): Result {
  const b = ctx.body('data_center', 'datacenters/methods/add');
  const st = ctx.st;
  const name = get(b, 'name');
  // §7.2: v4 and 3.4+ need name+local; 3.0/3.1 used storage_type+version instead of local.
  const local = get(b, 'local');
  const storageType = get(b, 'storage_type');
  ctx.require(b, 'DataCenter', 'add', [['name', !!name], [ctx.r.v === 3 ? 'local|storageType' : 'local', local !== undefined || (ctx.r.v === 3 && !!storageType)]]);
  if ([...st.dataCenters.values()].some((d) => d.name === name)) throw backendFailure(409, cannot('add', 'Data Center', 'The Data Center name is already in use.'));
  const v = version(b) ?? st.dataCenters.get([...st.dataCenters.keys()][0]!)!.version;
  const dc: DataCenter = {
    id: st.newId(), name: name!, local: parseBool(local) ?? storageType === 'localfs', status: 'uninitialized', version: v,
    storageFormat: get(b, 'storage_format') ?? (v.major >= 4 ? 'v3' : 'v1'), ...(storageType ? { storageType } : {}),
  };
  setText(b, dc);
  st.dataCenters.set(dc.id, dc);
  // The engine gives every new data center its management network (AddEmptyStoragePoolCommand
  // adds the default networks, with a vNIC profile); new clusters then carry it (addCluster).
  const mgmtName = [...st.networks.values()].find((n) => n.usages.includes('management'))?.name ?? 'ovirtmgmt';
  const mgmt: Network = { id: st.newId(), name: mgmtName, description: 'Management Network', dataCenterId: dc.id, stp: false, mtu: 0, usages: ['vm', 'management', 'display'] };
  st.networks.set(mgmt.id, mgmt);
  const profileId = st.newId();
  st.vnicProfiles.set(profileId, { id: profileId, name: mgmtName, networkId: mgmt.id });
  return created(ctx, dataCenter(ctx.r, dc), 'datacenters', dc.id);
}

export function created(ctx: Ctx, body: Result['body'], coll: string, id: string): Result {
  return { status: 201, body, headers: { location: href(ctx.r, coll, id) } };
}

function removeDc(ctx: Ctx): Result {
  const dc = byId(ctx.st.dataCenters, ctx.params['id']);
  const st = ctx.st;
  const force = ctx.bool('force') ?? false;
  const hasClusters = [...st.clusters.values()].some((c) => c.dataCenterId === dc.id);
  if (!force && (hasClusters || [...st.storageDomains.values()].some((s) => s.attachments.has(dc.id)))) {
    throw backendFailure(409, cannot('remove', 'Data Center', 'Data Center contains Clusters or Storage Domains.'));
  }
  st.dataCenters.delete(dc.id);
  for (const n of [...st.networks.values()]) if (n.dataCenterId === dc.id) st.networks.delete(n.id);
  return removalResult(ctx);
}

// ---- clusters ----

const CLUSTER_FIELDS: Fields<Cluster> = { name: (c) => c.name, description: (c) => c.description, comment: (c) => c.comment, cpu_type: (c) => c.cpuType };

function addCluster(ctx: Ctx, dcFromPath?: DataCenter): Result {
  const b = ctx.body('cluster', 'clusters/methods/add');
  const st = ctx.st;
  const name = get(b, 'name');
  const dcRef = dcFromPath ? { id: dcFromPath.id } : ref(b, 'data_center');
  const checks: [string, boolean][] = [['name', !!name], ['dataCenter.name|id', !!dcRef]];
  const cpu = child(b, 'cpu');
  const cpuType = cpu?.attrs['id'] ?? get(cpu, 'type');
  if (ctx.r.v === 3) checks.push(['version.major', !!version(b)], ['cpu.id', !!cpuType]);
  ctx.require(b, 'Cluster', 'add', checks);
  const dc = resolveDc(st, dcRef, 'add', 'Cluster');
  if ([...st.clusters.values()].some((c) => c.name === name)) throw backendFailure(409, cannot('add', 'Cluster', 'The Cluster name is already in use, please choose a unique name and try again.'));
  // The management network of the DC is attached to every new cluster (§7.3, §7.6).
  const mgmt = [...st.networks.values()].find((n) => n.dataCenterId === dc.id && n.usages.includes('management'));
  const c: Cluster = {
    id: st.newId(), name: name!, dataCenterId: dc.id, cpuType: cpuType ?? 'Intel Nehalem Family', version: version(b) ?? dc.version,
    networks: mgmt ? [{ networkId: mgmt.id, required: true, usages: ['vm', 'management', 'display'], display: true }] : [],
  };
  setText(b, c);
  st.clusters.set(c.id, c);
  return created(ctx, clusterEl(ctx.r, c), 'clusters', c.id);
}

function clusterNetworkStatus(st: EngineState, c: Cluster, networkId: string): string {
  const hosts = [...st.hosts.values()].filter((h) => h.clusterId === c.id && h.status === 'up');
  return hosts.every((h) => h.nics.some((n) => n.networkId === networkId)) ? 'operational' : 'non_operational';
}

function attachClusterNetwork(ctx: Ctx): Result {
  const st = ctx.st;
  const c = byId(st.clusters, ctx.params['id']);
  const b = ctx.body('network', 'clusters/cluster/networks/methods/add');
  const r = ref({ name: 'x', attrs: {}, text: '', children: [b] }, 'network');
  ctx.require(b, 'Network', 'add', [['id|name', !!r]]);
  const n = r!.id !== undefined ? st.networks.get(r!.id) : [...st.networks.values()].find((x) => x.name === r!.name && x.dataCenterId === c.dataCenterId);
  if (!n) throw entityNotFound(r!.id !== undefined ? `Network: id=${r!.id}` : `Network: name=${r!.name}`);
  if (c.networks.some((x) => x.networkId === n.id)) throw backendFailure(409, 'Logical Network is already attached to Cluster.');
  const usages = children(child(b, 'usages'), 'usage').map((u) => u.text);
  const required = parseBool(get(b, 'required')) ?? true;
  c.networks.push({ networkId: n.id, required, usages: usages.length ? usages : n.usages.filter((u) => u !== 'management'), display: parseBool(get(b, 'display')) ?? false });
  // §7.6: after a required network is attached, up hosts that lack it become non_operational.
  if (required) {
    for (const h of st.hosts.values()) {
      if (h.clusterId === c.id && h.status === 'up' && !h.nics.some((x) => x.networkId === n.id)) {
        st.clock.after(st.timing.hostActivate, () => {
          if (h.status === 'up' && !h.nics.some((x) => x.networkId === n.id)) {
            h.status = 'non_operational';
            h.statusDetail = 'network_unreachable';
            st.event({ code: 519, severity: 'error', description: `Host ${h.name} does not comply with the cluster ${c.name} networks, the following networks are missing on host: '${n.name}'`, hostId: h.id, clusterId: c.id });
          }
        });
      }
    }
  }
  return created(ctx, networkEl(ctx.r, n, { cluster: c, status: clusterNetworkStatus(st, c, n.id) }), `clusters/${c.id}/networks`, n.id);
}

// ---- networks ----

const NETWORK_FIELDS: Fields<Network> = {
  name: (n) => n.name, description: (n) => n.description, vlan_id: (n) => (n.vlan === undefined ? undefined : String(n.vlan)), stp: (n) => String(n.stp),
  mtu: (n) => String(n.mtu), vm_network: (n) => String(n.usages.includes('vm')),
};

function addNetwork(ctx: Ctx, dcFromPath?: DataCenter): Result {
  const b = ctx.body('network', 'networks/methods/add');
  const st = ctx.st;
  const name = get(b, 'name');
  const dcRef = dcFromPath ? { id: dcFromPath.id } : ref(b, 'data_center');
  ctx.require(b, 'Network', 'add', [['name', !!name], ['dataCenter.name|id', !!dcRef]]);
  const dc = resolveDc(st, dcRef, 'add', 'Network');
  if ([...st.networks.values()].some((n) => n.name === name && n.dataCenterId === dc.id)) {
    throw backendFailure(409, cannot('add', 'Network', `The name of the logical network '${name}' is already used by an existing logical network in the same data-center.\n-Please choose a different name.`));
  }
  const vlan = child(b, 'vlan');
  const vlanId = vlan?.attrs['id'] ?? get(vlan, 'id');
  // No <usages> means a VM network (the engine's default); an empty <usages/> is how a non-VM
  // network is asked for (§7.6, AddNetworkCommand), so absent and empty must not be confused.
  const usagesEl = child(b, 'usages');
  const usages = usagesEl ? children(usagesEl, 'usage').map((u) => u.text) : ['vm'];
  const n: Network = {
    id: st.newId(), name: name!, dataCenterId: dc.id, stp: parseBool(get(b, 'stp')) ?? false, mtu: Number(get(b, 'mtu') ?? 0),
    usages, ...(vlanId !== undefined ? { vlan: Number(vlanId) } : {}),
  };
  setText(b, n);
  st.networks.set(n.id, n);
  // §7.6: VM networks get a vNIC profile of the same name.
  if (n.usages.includes('vm') && parseBool(get(b, 'profile_required')) !== false) {
    const p = { id: st.newId(), name: n.name, networkId: n.id };
    st.vnicProfiles.set(p.id, p);
  }
  return created(ctx, networkEl(ctx.r, n), 'networks', n.id);
}

function removeNetwork(ctx: Ctx): Result {
  const n = byId(ctx.st.networks, ctx.params['id']);
  const st = ctx.st;
  if ([...st.clusters.values()].some((c) => c.networks.some((x) => x.networkId === n.id && x.usages.includes('management')))) {
    throw backendFailure(409, cannot('remove', 'Network', 'The Management Network cannot be removed.'));
  }
  st.networks.delete(n.id);
  for (const c of st.clusters.values()) c.networks = c.networks.filter((x) => x.networkId !== n.id);
  for (const p of [...st.vnicProfiles.values()]) if (p.networkId === n.id) st.vnicProfiles.delete(p.id);
  return removalResult(ctx);
}

// ---- storage domains (§7.5) ----

const SD_FIELDS: Fields<StorageDomain> = {
  name: (s) => s.name, description: (s) => s.description, type: (s) => s.type, comment: (s) => s.comment,
  status: (s) => (s.attachments.size ? [...s.attachments.values()] : 'unattached'),
};

function addStorageDomain(ctx: Ctx): Result {
  const b = ctx.body('storage_domain', 'storagedomains/methods/add');
  const st = ctx.st;
  const type = get(b, 'type');
  const storage = child(b, 'storage');
  const sType = get(storage, 'type');
  const hostRef = ref(b, 'host');
  const fileBased = ['nfs', 'localfs', 'posixfs', 'glusterfs'].includes(sType ?? '');
  const checks: [string, boolean][] = [['type', !!type], ['storage.type', !!sType], ['host.id|name', !!hostRef]];
  if (fileBased) checks.push(['storage.path', !!get(storage, 'path')]);
  if (sType === 'nfs') checks.push(['storage.address', !!get(storage, 'address')]);
  ctx.require(b, 'StorageDomain', 'add', checks);
  const h = resolveHostRef(st, hostRef)!;
  if (h.status !== 'up') throw backendFailure(409, cannot('add', 'Storage', `Operation can be performed only when Host status is Up.`));
  const name = get(b, 'name') ?? `${type}-${st.storageDomains.size + 1}`;
  if ([...st.storageDomains.values()].some((s) => s.name === name)) throw backendFailure(409, cannot('add', 'Storage', 'The Storage Domain name is already in use.'));
  const luns = [...children(child(storage, 'logical_units'), 'logical_unit'), ...children(storage, 'logical_unit')].map((l) => l.attrs['id'] ?? get(l, 'id') ?? '');
  if (['iscsi', 'fcp'].includes(sType!) && !luns.length && !child(storage, 'volume_group')) throw new EngineFault(400, 'Incomplete parameters', 'StorageDomain [storage.logicalUnits.logicalUnit] required for add');
  const address = get(storage, 'address');
  const path = get(storage, 'path');
  const nfsVersion = get(storage, 'nfs_version') ?? (sType === 'nfs' ? 'auto' : undefined);
  const sd: StorageDomain = {
    id: st.newId(), name, type: type!, storage: { type: sType!, ...(address ? { address } : {}), ...(path ? { path } : {}), ...(nfsVersion ? { nfsVersion } : {}), luns },
    master: false, available: 42949672960, used: 9663676416, committed: 0, storageFormat: get(b, 'storage_format') ?? 'v3', hostId: h.id, attachments: new Map(), files: [],
  };
  setText(b, sd);
  st.storageDomains.set(sd.id, sd);
  return created(ctx, storageDomain(ctx.r, sd), 'storagedomains', sd.id);
}

function removeStorageDomain(ctx: Ctx): Result {
  const sd = byId(ctx.st.storageDomains, ctx.params['id']);
  if (sd.attachments.size) throw backendFailure(409, cannot('remove', 'Storage', `The relevant Storage Domain's status is ${[...sd.attachments.values()][0]}.`));
  ctx.st.storageDomains.delete(sd.id);
  return removalResult(ctx);
}

/** POST /datacenters/{dc}/storagedomains: attach, locked → active; first data domain becomes master. */
function attachStorageDomain(ctx: Ctx): Result {
  const st = ctx.st;
  const dc = byId(st.dataCenters, ctx.params['id']);
  const b = ctx.body('storage_domain', 'datacenters/datacenter/storagedomains/methods/add');
  const id = b.attrs['id'] ?? get(b, 'id');
  const name = get(b, 'name');
  ctx.require(b, 'StorageDomain', 'add', [['id|name', id !== undefined || name !== undefined]]);
  const sd = id !== undefined ? st.storageDomains.get(id) : [...st.storageDomains.values()].find((s) => s.name === name);
  if (!sd) throw entityNotFound(id !== undefined ? `Storage: id=${id}` : `Storage: name=${name}`);
  if (sd.attachments.size) throw backendFailure(409, cannot('attach', 'Storage', `The relevant Storage Domain's status is ${[...sd.attachments.values()][0]}.`));
  if (dc.status === 'uninitialized' && sd.type !== 'data') throw backendFailure(409, 'Cannot attach Storage Domain.\n-Please attach Data Domain to the Data Center first.');
  const master = [...st.storageDomains.values()].find((s) => s.master && s.attachments.has(dc.id));
  if (dc.status !== 'uninitialized' && master && master.attachments.get(dc.id) !== 'active') {
    throw backendFailure(409, 'Failed to attach Storage due to an error on the Data Center master Storage Domain.\n-Please activate the master Storage Domain first.');
  }
  sd.attachments.set(dc.id, 'locked');
  const becomesMaster = dc.status === 'uninitialized';
  if (becomesMaster) {
    sd.master = true;
    dc.status = 'contend';
  }
  const job = st.startJob(`Attaching Storage Domain ${sd.name} to Data Center ${dc.name}`, ctx.correlationId);
  st.clock.after(st.timing.sdAttach, () => {
    if (sd.attachments.get(dc.id) !== 'locked') return;
    sd.attachments.set(dc.id, 'active');
    if (becomesMaster) dc.status = 'up';
    st.endJob(job, 'finished');
  });
  return created(ctx, storageDomain(ctx.r, sd, dc.id), `datacenters/${dc.id}/storagedomains`, sd.id);
}

function attachedSdAction(ctx: Ctx): Result {
  const st = ctx.st;
  const dc = byId(st.dataCenters, ctx.params['id']);
  const sd = byId(st.storageDomains, ctx.params['sd']);
  const status = sd.attachments.get(dc.id);
  if (!status) throw notFound();
  ctx.action = ctx.body('action', `datacenters/datacenter/storagedomains/storagedomain/methods/${ctx.params['action']}`);
  const job = st.startJob(`${ctx.params['action'] === 'activate' ? 'Activating' : 'Deactivating'} Storage Domain ${sd.name}`, ctx.correlationId);
  const go = (mid: string, end: string): void => {
    sd.attachments.set(dc.id, mid);
    st.clock.after(st.timing.sdAttach, () => {
      if (sd.attachments.get(dc.id) === mid) sd.attachments.set(dc.id, end);
      st.endJob(job, 'finished');
    });
  };
  if (ctx.params['action'] === 'activate') {
    if (!['maintenance', 'inactive'].includes(status)) throw backendFailure(409, cannot('activate', 'Storage', `The relevant Storage Domain's status is ${status}.`));
    go('activating', 'active');
  } else if (ctx.params['action'] === 'deactivate') {
    if (status !== 'active') throw backendFailure(409, cannot('maintenance', 'Storage', `The relevant Storage Domain's status is ${status}.`));
    go('preparing_for_maintenance', 'maintenance');
  } else throw notFound();
  return actionResult(ctx, { jobId: job.id });
}

function detachStorageDomain(ctx: Ctx): Result {
  const dc = byId(ctx.st.dataCenters, ctx.params['id']);
  const sd = byId(ctx.st.storageDomains, ctx.params['sd']);
  const status = sd.attachments.get(dc.id);
  if (!status) throw notFound();
  if (!['maintenance', 'inactive'].includes(status)) throw backendFailure(409, cannot('detach', 'Storage', `The relevant Storage Domain's status is ${status}.`));
  sd.attachments.delete(dc.id);
  sd.master = false;
  return removalResult(ctx);
}

// ---- jobs (§5.5) ----

const JOB_FIELDS: Fields<Job> = { correlation_id: (j) => j.correlationId };

function jobAction(ctx: Ctx): Result {
  const j = byId(ctx.st.jobs, ctx.params['id']);
  ctx.action = ctx.body('action', `jobs/job/methods/${ctx.params['action']}`);
  if (ctx.params['action'] === 'end') {
    const s = get(ctx.action, 'status') ?? get(ctx.action, 'status.state');
    if (ctx.r.v === 3 && !s) throw new EngineFault(400, 'Incomplete parameters', 'Action [status.state] required for end');
    if (!j.external && !parseBool(get(ctx.action, 'force'))) throw backendFailure(409, 'Cannot end Job. The Job is not external.');
    ctx.st.endJob(j, (s as Job['status']) ?? 'finished');
  } else if (ctx.params['action'] === 'clear') {
    if (j.status === 'started') throw backendFailure(409, 'Cannot clear Job. The Job is still running.');
    ctx.st.jobs.delete(j.id);
  } else throw notFound();
  return actionResult(ctx);
}

function addJob(ctx: Ctx): Result {
  const b = ctx.body('job', 'jobs/methods/add');
  const description = get(b, 'description');
  ctx.require(b, 'Job', 'add', [['description', !!description]]);
  const j = ctx.st.startJob(description!, ctx.correlationId);
  j.external = true;
  j.autoCleared = parseBool(get(b, 'auto_cleared')) ?? true;
  return created(ctx, jobEl(ctx.r, j), 'jobs', j.id);
}

// ---- routing ----

export function resourceRoutes(router: Router): void {
  const st = (ctx: Ctx): EngineState => ctx.st;
  router
    .add('GET', 'datacenters', (ctx) => ({ status: 200, body: collection('data_centers', search([...st(ctx).dataCenters.values()], ctx.query.get('search'), DC_FIELDS, { caseSensitive: caseSensitive(ctx), max: maxOf(ctx) }).map((d) => dataCenter(ctx.r, d))) }))
    .add('POST', 'datacenters', (ctx) => addDc(ctx))
    .add('GET', 'datacenters/:id', (ctx) => ({ status: 200, body: dataCenter(ctx.r, byId(st(ctx).dataCenters, ctx.params['id'])) }))
    .add('PUT', 'datacenters/:id', (ctx) => {
      const dc = byId(st(ctx).dataCenters, ctx.params['id']);
      const b = ctx.body('data_center', 'datacenters/datacenter/methods/update');
      immutable(b, dc.id);
      setText(b, dc);
      const v = version(b);
      if (v) dc.version = v;
      return { status: 200, body: dataCenter(ctx.r, dc) };
    })
    .add('DELETE', 'datacenters/:id', removeDc)
    .add('GET', 'datacenters/:id/clusters', (ctx) => {
      const dc = byId(st(ctx).dataCenters, ctx.params['id']);
      return { status: 200, body: collection('clusters', [...st(ctx).clusters.values()].filter((c) => c.dataCenterId === dc.id).map((c) => clusterEl(ctx.r, c))) };
    })
    .add('POST', 'datacenters/:id/clusters', (ctx) => addCluster(ctx, byId(st(ctx).dataCenters, ctx.params['id'])))
    .add('GET', 'datacenters/:id/networks', (ctx) => {
      const dc = byId(st(ctx).dataCenters, ctx.params['id']);
      return { status: 200, body: collection('networks', [...st(ctx).networks.values()].filter((n) => n.dataCenterId === dc.id).map((n) => networkEl(ctx.r, n))) };
    })
    .add('POST', 'datacenters/:id/networks', (ctx) => addNetwork(ctx, byId(st(ctx).dataCenters, ctx.params['id'])))
    .add('GET', 'datacenters/:id/storagedomains', (ctx) => {
      const dc = byId(st(ctx).dataCenters, ctx.params['id']);
      return { status: 200, body: collection('storage_domains', [...st(ctx).storageDomains.values()].filter((s) => s.attachments.has(dc.id)).map((s) => storageDomain(ctx.r, s, dc.id))) };
    })
    .add('POST', 'datacenters/:id/storagedomains', attachStorageDomain)
    .add('GET', 'datacenters/:id/storagedomains/:sd', (ctx) => {
      const dc = byId(st(ctx).dataCenters, ctx.params['id']);
      const sd = byId(st(ctx).storageDomains, ctx.params['sd']);
      if (!sd.attachments.has(dc.id)) throw notFound();
      return { status: 200, body: storageDomain(ctx.r, sd, dc.id) };
    })
    .add('DELETE', 'datacenters/:id/storagedomains/:sd', detachStorageDomain)
    .add('POST', 'datacenters/:id/storagedomains/:sd/:action', attachedSdAction)

    .add('GET', 'clusters', (ctx) => ({ status: 200, body: collection('clusters', search([...st(ctx).clusters.values()], ctx.query.get('search'), CLUSTER_FIELDS, { caseSensitive: caseSensitive(ctx), max: maxOf(ctx) }).map((c) => clusterEl(ctx.r, c))) }))
    .add('POST', 'clusters', (ctx) => addCluster(ctx))
    .add('GET', 'clusters/:id', (ctx) => ({ status: 200, body: clusterEl(ctx.r, byId(st(ctx).clusters, ctx.params['id'])) }))
    .add('PUT', 'clusters/:id', (ctx) => {
      const c = byId(st(ctx).clusters, ctx.params['id']);
      const b = ctx.body('cluster', 'clusters/cluster/methods/update');
      immutable(b, c.id);
      setText(b, c);
      const cpuType = child(b, 'cpu')?.attrs['id'] ?? get(b, 'cpu.type');
      if (cpuType) c.cpuType = cpuType;
      return { status: 200, body: clusterEl(ctx.r, c) };
    })
    .add('DELETE', 'clusters/:id', (ctx) => {
      const c = byId(st(ctx).clusters, ctx.params['id']);
      if ([...st(ctx).hosts.values()].some((h) => h.clusterId === c.id) || [...st(ctx).vms.values()].some((v) => v.clusterId === c.id)) {
        throw backendFailure(409, cannot('remove', 'Cluster', 'Cluster is not empty.'));
      }
      st(ctx).clusters.delete(c.id);
      return removalResult(ctx);
    })
    .add('GET', 'clusters/:id/networks', (ctx) => {
      const c = byId(st(ctx).clusters, ctx.params['id']);
      return { status: 200, body: collection('networks', c.networks.map((x) => networkEl(ctx.r, st(ctx).networks.get(x.networkId)!, { cluster: c, status: clusterNetworkStatus(st(ctx), c, x.networkId) }))) };
    })
    .add('POST', 'clusters/:id/networks', attachClusterNetwork)
    .add('GET', 'clusters/:id/networks/:nid', (ctx) => {
      const c = byId(st(ctx).clusters, ctx.params['id']);
      if (!c.networks.some((x) => x.networkId === ctx.params['nid'])) throw notFound();
      return { status: 200, body: networkEl(ctx.r, st(ctx).networks.get(ctx.params['nid']!)!, { cluster: c, status: clusterNetworkStatus(st(ctx), c, ctx.params['nid']!) }) };
    })
    .add('PUT', 'clusters/:id/networks/:nid', (ctx) => {
      const c = byId(st(ctx).clusters, ctx.params['id']);
      const cn = c.networks.find((x) => x.networkId === ctx.params['nid']);
      if (!cn) throw notFound();
      const b = ctx.body('network', 'clusters/cluster/networks/network/methods/update');
      const usages = children(child(b, 'usages'), 'usage').map((u) => u.text);
      if (child(b, 'usages')) cn.usages = usages;
      cn.required = parseBool(get(b, 'required')) ?? cn.required;
      cn.display = parseBool(get(b, 'display')) ?? cn.display;
      return { status: 200, body: networkEl(ctx.r, st(ctx).networks.get(cn.networkId)!, { cluster: c, status: clusterNetworkStatus(st(ctx), c, cn.networkId) }) };
    })
    .add('DELETE', 'clusters/:id/networks/:nid', (ctx) => {
      const c = byId(st(ctx).clusters, ctx.params['id']);
      const cn = c.networks.find((x) => x.networkId === ctx.params['nid']);
      if (!cn) throw notFound();
      if (cn.usages.includes('management')) throw backendFailure(409, cannot('detach', 'Network', 'The Management Network cannot be detached from the Cluster.'));
      c.networks = c.networks.filter((x) => x !== cn);
      for (const h of st(ctx).hosts.values()) if (h.clusterId === c.id) recoverIfNetworksOk(st(ctx), h);
      return removalResult(ctx);
    })

    .add('GET', 'networks', (ctx) => ({ status: 200, body: collection('networks', search([...st(ctx).networks.values()], ctx.query.get('search'), { ...NETWORK_FIELDS, datacenter: (n) => st(ctx).dataCenters.get(n.dataCenterId)?.name, data_center: (n) => st(ctx).dataCenters.get(n.dataCenterId)?.name }, { caseSensitive: caseSensitive(ctx), max: maxOf(ctx) }).map((n) => networkEl(ctx.r, n))) }))
    .add('POST', 'networks', (ctx) => addNetwork(ctx))
    .add('GET', 'networks/:id', (ctx) => ({ status: 200, body: networkEl(ctx.r, byId(st(ctx).networks, ctx.params['id'])) }))
    .add('PUT', 'networks/:id', (ctx) => {
      const n = byId(st(ctx).networks, ctx.params['id']);
      const b = ctx.body('network', 'networks/network/methods/update');
      immutable(b, n.id);
      setText(b, n);
      const mtu = get(b, 'mtu');
      if (mtu !== undefined) n.mtu = Number(mtu);
      return { status: 200, body: networkEl(ctx.r, n) };
    })
    .add('DELETE', 'networks/:id', removeNetwork)
    .add('GET', 'networks/:id/vnicprofiles', (ctx) => {
      const n = byId(st(ctx).networks, ctx.params['id']);
      return { status: 200, body: collection('vnic_profiles', [...st(ctx).vnicProfiles.values()].filter((p) => p.networkId === n.id).map((p) => vnicProfile(ctx.r, p))) };
    })
    .add('GET', 'vnicprofiles', (ctx) => ({ status: 200, body: collection('vnic_profiles', [...st(ctx).vnicProfiles.values()].map((p) => vnicProfile(ctx.r, p))) }))
    .add('GET', 'vnicprofiles/:id', (ctx) => ({ status: 200, body: vnicProfile(ctx.r, byId(st(ctx).vnicProfiles, ctx.params['id'])) }))

    .add('GET', 'storagedomains', (ctx) => ({ status: 200, body: collection('storage_domains', search([...st(ctx).storageDomains.values()], ctx.query.get('search'), { ...SD_FIELDS, datacenter: (s) => [...s.attachments.keys()].map((d) => st(ctx).dataCenters.get(d)?.name ?? '') }, { caseSensitive: caseSensitive(ctx), max: maxOf(ctx) }).map((s) => storageDomain(ctx.r, s))) }))
    .add('POST', 'storagedomains', addStorageDomain)
    .add('GET', 'storagedomains/:id', (ctx) => ({ status: 200, body: storageDomain(ctx.r, byId(st(ctx).storageDomains, ctx.params['id'])) }))
    .add('DELETE', 'storagedomains/:id', removeStorageDomain)
    .add('GET', 'storagedomains/:id/files', (ctx) => {
      const sd = byId(st(ctx).storageDomains, ctx.params['id']);
      const self = href(ctx.r, 'storagedomains', sd.id);
      return { status: 200, body: collection('files', sd.files.map((f) => fileEl(ctx.r, f, { href: `${self}/files/${f}`, name: true, sd: sd.id }))) };
    })

    .add('GET', 'jobs', (ctx) => {
      const all = [...st(ctx).jobs.values()].sort((a, b) => b.start.getTime() - a.start.getTime());
      return { status: 200, body: collection('jobs', search(all, ctx.query.get('search'), JOB_FIELDS, { caseSensitive: caseSensitive(ctx), max: maxOf(ctx) }).map((j) => jobEl(ctx.r, j))) };
    })
    .add('POST', 'jobs', addJob)
    .add('GET', 'jobs/:id', (ctx) => ({ status: 200, body: jobEl(ctx.r, byId(st(ctx).jobs, ctx.params['id'])) }))
    .add('GET', 'jobs/:id/steps', (ctx) => {
      const j = byId(st(ctx).jobs, ctx.params['id']);
      return { status: 200, body: collection('steps', j.steps.map((s) => stepEl(ctx.r, j, s))) };
    })
    .add('POST', 'jobs/:id/:action', jobAction)

    .add('GET', 'events', (ctx) => {
      // Newest first, like the engine's audit log; `from=<id>` returns events after that id.
      const from = Number(ctx.param('from') ?? 0);
      const all = st(ctx).events.filter((e) => e.id > from).reverse();
      const max = maxOf(ctx);
      return { status: 200, body: collection('events', (max !== undefined ? all.slice(0, max) : all).map((e) => event(ctx.r, e))) };
    });
}
