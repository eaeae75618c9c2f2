/**
 * An engine's virtual environment (xCAT's cfgve/lsve, xcat-rhev.md §4.4): data centers, clusters,
 * storage domains and logical networks. Each change waits for the engine's end state, within a
 * bound, because the engine answers "complete" long before the state is real (ovirt-api.md §5.3):
 * a storage domain is usable when it is `active` in its data center, and a data center when it is
 * `up` after its first data domain. A refusal carries the engine's own reason (its 409 text) to
 * the admin; each change that happened is an event on the engine's timeline.
 */
import { RhevbootError } from '../errors.js';
import type { Logger } from '../log.js';
import { sleep } from '../util/sleep.js';
import { isEngineFault, RhevmError, type Cluster, type DataCenter, type Host, type Network, type RhevmClient, type StorageDomain } from '../rhevm/index.js';
import type { EngineService } from './engines.js';
import type { EventService } from '../events/events.js';
import {
  checkName,
  invalid,
  planCluster,
  planDataCenter,
  planHostNic,
  planNetwork,
  planStorageDomain,
  TYPE_LABEL,
  VE_TYPES,
  type ClusterInput,
  type DataCenterInput,
  type HostNicInput,
  type NetworkInput,
  type StorageDomainInput,
  type VeType,
} from './ve-input.js';
import { clusterView, dataCenterView, filterByDataCenter, listVe, networkView, storageDomainView, type ClusterView, type DataCenterView, type NetworkView, type StorageDomainView, type VeListing, type VeView } from './ve-views.js';

export interface VeOptions {
  /** Interval between checks of an object's state. */
  pollIntervalMs: number;
  /** Bound of each wait for an end state. */
  timeoutMs: number;
}

const DEFAULTS: VeOptions = { pollIntervalMs: 2000, timeoutMs: 600_000 };

/** xCAT's default CPU type for v3 clusters, which must name one (cfgve -t cl). */
const V3_DEFAULT_CPU = 'Intel Penryn Family';

export interface RemoveOptions {
  force?: boolean;
  /** Storage domains: wipe the storage. */
  format?: boolean;
  /** Storage domains: only forget the domain, leaving the storage untouched. */
  destroy?: boolean;
  /** Storage domains: the host that does the removal (default: the SPM, else any host that is up). */
  host?: string;
  /** Networks: their data center, when the name is used in several. */
  dataCenter?: string;
}

/** What one request has done so far: a failure message says what step failed and what stays done. */
interface Run {
  client: RhevmClient;
  step: string;
  done: string[];
}

export class VeService {
  private readonly opts: VeOptions;

  constructor(private readonly deps: { engines: EngineService; events: EventService; log: Logger; options?: Partial<VeOptions> }) {
    this.opts = { ...DEFAULTS, ...deps.options };
  }

  // ---- listing ----------------------------------------------------------------------------------

  /** Everything, or what belongs to one data center (an unknown one is an error, not an empty list). */
  async listAll(engine: string, dataCenter?: string): Promise<VeListing> {
    return this.run(engine, 'list the virtual environment', async ({ client }) => (await this.listing(client, engine, VE_TYPES, dataCenter)) as VeListing);
  }

  async list(engine: string, type: VeType, dataCenter?: string): Promise<VeView[]> {
    return this.run(engine, `list ${TYPE_LABEL[type]}s`, async ({ client }) => {
      const l = await this.listing(client, engine, [type], dataCenter);
      return (l.datacenters ?? l.clusters ?? l.storagedomains ?? l.networks)!;
    });
  }

  private async listing(client: RhevmClient, engine: string, types: readonly VeType[], dataCenter: string | undefined): Promise<Partial<VeListing>> {
    if (dataCenter === undefined) return listVe(client, types);
    checkName(dataCenter, 'datacenter');
    await this.dataCenter(client, engine, dataCenter);
    return filterByDataCenter(await listVe(client, types), dataCenter);
  }

  // ---- data centers and clusters ----------------------------------------------------------------

  async createDataCenter(engine: string, input: DataCenterInput): Promise<DataCenterView> {
    const p = planDataCenter(input);
    return this.run(engine, `create data center ${p.name}`, async ({ client }) => {
      await this.refuseExisting(engine, 'datacenter', p.name, await client.datacenters.findByName(p.name));
      const dc = await client.datacenters.add({
        name: p.name,
        local: p.local,
        // Written for v3 engines only (dataCenterBody): 3.0/3.1 know storage_type, not local.
        storageType: p.storageType,
        ...(p.version && { version: p.version }),
        ...(p.description !== undefined && { description: p.description }),
      });
      const v = dataCenterView(dc);
      await this.event(engine, 've.datacenter-created', `data center ${p.name} created (${v.storage} storage${v.version ? `, compatibility ${v.version}` : ''}): ${v.status ?? '?'}`, { id: dc.id, name: p.name });
      return v;
    });
  }

  async createCluster(engine: string, input: ClusterInput): Promise<ClusterView> {
    const p = planCluster(input);
    return this.run(engine, `create cluster ${p.name}`, async ({ client }) => {
      const dc = await this.dataCenter(client, engine, p.dataCenter);
      await this.refuseExisting(engine, 'cluster', p.name, await client.clusters.findByName(p.name));
      const v3 = (await client.api()).version === 3;
      // v3 requires a CPU type and a version (§7.3); the data center's version is the natural one.
      const cpuType = p.cpuType ?? (v3 ? V3_DEFAULT_CPU : undefined);
      const version = p.version ?? (v3 && dc.version ? { major: dc.version.major, minor: dc.version.minor } : undefined);
      const c = await client.clusters.add({
        name: p.name,
        dataCenter: { id: dc.id },
        ...(cpuType !== undefined && { cpuType }),
        ...(version && { version }),
        ...(p.description !== undefined && { description: p.description }),
      });
      const v = clusterView(c, () => dc.name ?? null);
      await this.event(engine, 've.cluster-created', `cluster ${p.name} created in data center ${dc.name}${v.cpuType ? ` (${v.cpuType})` : ''}`, { id: c.id, name: p.name, dataCenter: dc.name });
      return v;
    });
  }

  // ---- storage domains -------------------------------------------------------------------------

  /** Create a domain through a host; with `dataCenter`, also attach it there and wait until it is active. */
  async createStorageDomain(engine: string, input: StorageDomainInput): Promise<StorageDomainView> {
    const p = planStorageDomain(input);
    return this.run(engine, `create storage domain ${p.name}`, async (r) => {
      const { client } = r;
      await this.refuseExisting(engine, 'storagedomain', p.name, await client.storageDomains.findByName(p.name));
      const host = await this.host(client, engine, p.host);
      // Resolved before anything is created, so that a wrong name changes nothing.
      const dc = p.dataCenter !== undefined ? await this.dataCenter(client, engine, p.dataCenter) : undefined;
      const { dataCenter: _dc, host: _h, ...spec } = p;
      const sd = await client.storageDomains.add({ ...spec, host: { id: host.id } });
      r.done.push(`storage domain ${p.name} created`);
      await this.event(engine, 've.storagedomain-created', `storage domain ${p.name} created (${p.type}, ${p.storage.type}${p.storage.address ? ` ${p.storage.address}` : ''}${p.storage.path ? `:${p.storage.path}` : ''}) through host ${host.name}`, { id: sd.id, name: p.name, type: p.type, storageType: p.storage.type });
      if (dc) await this.attach(r, engine, sd, dc);
      return this.storageDomainView(client, sd.id);
    });
  }

  async attachStorageDomain(engine: string, name: string, dataCenter: string): Promise<StorageDomainView> {
    checkName(name, 'storagedomain');
    return this.run(engine, `attach storage domain ${name} to data center ${dataCenter}`, async (r) => {
      const sd = await this.storageDomain(r.client, engine, name);
      const dc = await this.dataCenter(r.client, engine, dataCenter);
      await this.attach(r, engine, sd, dc);
      return this.storageDomainView(r.client, sd.id);
    });
  }

  async activateStorageDomain(engine: string, name: string, dataCenter: string): Promise<StorageDomainView> {
    checkName(name, 'storagedomain');
    return this.run(engine, `activate storage domain ${name} in data center ${dataCenter}`, async ({ client }) => {
      const { sd, dc } = await this.attached(client, engine, name, dataCenter);
      await client.datacenters.activateStorageDomain(dc.id, sd.id);
      await this.waitSdInDc(client, sd, dc, ['active'], ['inactive']);
      await this.event(engine, 've.storagedomain-activated', `storage domain ${name} active in data center ${dc.name}`, { id: sd.id, name, dataCenter: dc.name });
      return this.storageDomainView(client, sd.id);
    });
  }

  async deactivateStorageDomain(engine: string, name: string, dataCenter: string, opts: { force?: boolean } = {}): Promise<StorageDomainView> {
    checkName(name, 'storagedomain');
    return this.run(engine, `deactivate storage domain ${name} in data center ${dataCenter}`, async ({ client }) => {
      const { sd, dc } = await this.attached(client, engine, name, dataCenter);
      await this.deactivate(client, engine, sd, dc, opts.force === true);
      return this.storageDomainView(client, sd.id);
    });
  }

  /** Detach from a data center; the engine insists that the domain is in maintenance first. */
  async detachStorageDomain(engine: string, name: string, dataCenter: string): Promise<StorageDomainView> {
    checkName(name, 'storagedomain');
    return this.run(engine, `detach storage domain ${name} from data center ${dataCenter}`, async ({ client }) => {
      const { sd, dc } = await this.attached(client, engine, name, dataCenter);
      await this.detach(client, engine, sd, dc);
      return this.storageDomainView(client, sd.id);
    });
  }

  private async attach(r: Run, engine: string, sd: StorageDomain, dc: DataCenter): Promise<void> {
    const { client } = r;
    r.step = `attach storage domain ${sd.name} to data center ${dc.name}`;
    const firstData = dc.status === 'uninitialized';
    await client.datacenters.attachStorageDomain(dc.id, { id: sd.id });
    // The attachment goes locked → active by itself (§7.5); engines that leave it in maintenance
    // (3.0) get the activate xCAT's cfgve sent. A 409 there means the engine is already at it.
    const settled = await this.waitSdInDc(client, sd, dc, ['active', 'maintenance', 'inactive']);
    if (settled.status !== 'active') {
      try {
        await client.datacenters.activateStorageDomain(dc.id, sd.id);
      } catch (err) {
        if (!isEngineFault(err, 409)) throw err;
      }
      await this.waitSdInDc(client, sd, dc, ['active'], ['inactive']);
    }
    r.done.push(`storage domain ${sd.name} attached to data center ${dc.name}`);
    let dcNote = '';
    if (firstData && sd.type === 'data') {
      // The first data domain becomes the master and the engine builds the pool: DC → up (§7.2).
      r.step = `bring data center ${dc.name} up with its first data domain ${sd.name}`;
      await this.waitStatus(`data center ${dc.name} to come up`, () => client.datacenters.find(dc.id), ['up']);
      dcNote = `; data center ${dc.name} up`;
    }
    await this.event(engine, 've.storagedomain-attached', `storage domain ${sd.name} attached to data center ${dc.name}: active${dcNote}`, { id: sd.id, name: sd.name, dataCenter: dc.name });
  }

  private async deactivate(client: RhevmClient, engine: string, sd: StorageDomain, dc: DataCenter, force: boolean): Promise<void> {
    await client.datacenters.deactivateStorageDomain(dc.id, sd.id, { force });
    await this.waitSdInDc(client, sd, dc, ['maintenance']);
    await this.event(engine, 've.storagedomain-deactivated', `storage domain ${sd.name} in maintenance in data center ${dc.name}`, { id: sd.id, name: sd.name, dataCenter: dc.name });
  }

  private async detach(client: RhevmClient, engine: string, sd: StorageDomain, dc: DataCenter): Promise<void> {
    await client.datacenters.detachStorageDomain(dc.id, sd.id);
    await this.waitGone(`storage domain ${sd.name} to leave data center ${dc.name}`, () => client.datacenters.storageDomains(dc.id).find(sd.id));
    await this.event(engine, 've.storagedomain-detached', `storage domain ${sd.name} detached from data center ${dc.name}`, { id: sd.id, name: sd.name, dataCenter: dc.name });
  }

  private async waitSdInDc(client: RhevmClient, sd: StorageDomain, dc: DataCenter, want: string[], failOn: string[] = []): Promise<StorageDomain> {
    return this.waitStatus(`storage domain ${sd.name} to be ${want.join('|')} in data center ${dc.name}`, () => client.datacenters.storageDomains(dc.id).find(sd.id), want, failOn);
  }

  private async attached(client: RhevmClient, engine: string, name: string, dataCenter: string): Promise<{ sd: StorageDomain; dc: DataCenter }> {
    const sd = await this.storageDomain(client, engine, name);
    const dc = await this.dataCenter(client, engine, dataCenter);
    if (!(await client.datacenters.storageDomains(dc.id).find(sd.id))) {
      throw new RhevbootError('RB_ERR_NOT_FOUND', `storage domain ${name} is not attached to data center ${dataCenter}`, { engine, name, dataCenter });
    }
    return { sd, dc };
  }

  private async storageDomainView(client: RhevmClient, id: string): Promise<StorageDomainView> {
    const sd = await client.storageDomains.get(id);
    const inDcs: StorageDomainView['dataCenters'] = [];
    for (const ref of sd.dataCenters) {
      if (!ref.id) continue;
      const [dc, a] = await Promise.all([client.datacenters.find(ref.id), client.datacenters.storageDomains(ref.id).find(id)]);
      if (a) inDcs.push({ name: dc?.name ?? ref.id, status: a.status ?? null });
    }
    return storageDomainView(sd, inDcs);
  }

  // ---- logical networks ------------------------------------------------------------------------

  async createNetwork(engine: string, input: NetworkInput): Promise<NetworkView> {
    const p = planNetwork(input);
    return this.run(engine, `create network ${p.name}`, async ({ client }) => {
      const dc = await this.dataCenter(client, engine, p.dataCenter);
      // Names are unique per data center only (§7.6).
      if (await client.networks.findInDataCenter(p.name, dc.id)) {
        throw new RhevbootError('RB_ERR_CONFLICT', `engine ${engine} already has a network ${p.name} in data center ${dc.name}`, { engine, name: p.name });
      }
      const n = await client.networks.add({
        name: p.name,
        dataCenter: { id: dc.id },
        // An empty <usages/> is how a non-VM network is asked for; no element means a VM network.
        usages: p.vm ? ['vm'] : [],
        ...(p.vlan !== undefined && { vlanId: p.vlan }),
        ...(p.mtu !== undefined && { mtu: p.mtu }),
        ...(p.stp !== undefined && { stp: p.stp }),
        ...(p.description !== undefined && { description: p.description }),
      });
      await this.event(engine, 've.network-created', `network ${p.name} created in data center ${dc.name}${p.vlan !== undefined ? ` on VLAN ${p.vlan}` : ''}${p.vm ? '' : ' (not a VM network)'}`, { id: n.id, name: p.name, dataCenter: dc.name, vlan: p.vlan ?? null });
      return networkView(n, () => dc.name ?? null, []);
    });
  }

  /** Attach a network to a cluster; `required` (the engine's default) makes hosts without it non-operational. */
  async attachNetworkToCluster(engine: string, name: string, p: { cluster: string; required?: boolean }): Promise<NetworkView> {
    checkName(name, 'network');
    const cluster = checkName(p.cluster, 'cluster');
    return this.run(engine, `attach network ${name} to cluster ${cluster}`, async ({ client }) => {
      const c = await this.cluster(client, engine, cluster);
      const n = await this.network(client, engine, name, c.dataCenter?.id);
      await client.clusters.attachNetwork(c.id, { network: { id: n.id }, ...(p.required !== undefined && { required: p.required }) });
      const view = await this.networkView(client, n);
      const inC = view.clusters.find((x) => x.name === c.name);
      await this.event(engine, 've.network-attached', `network ${name} attached to cluster ${c.name} (${inC?.required === false ? 'optional' : 'required'}${inC?.status ? `, ${inC.status}` : ''})`, { id: n.id, name, cluster: c.name });
      return view;
    });
  }

  /**
   * Put a network on a host NIC and commit the host's network configuration; then check that the
   * engine shows it there, and when the host was non-operational only for lack of its cluster's
   * required networks, wait for it to come back up.
   */
  async attachNetworkToHost(engine: string, name: string, input: HostNicInput): Promise<NetworkView & { host: { name: string; nic: string; status: string | null } }> {
    checkName(name, 'network');
    const p = planHostNic(input);
    return this.run(engine, `attach network ${name} to ${p.host} ${p.nic}`, async (r) => {
      const { client } = r;
      const host = await this.host(client, engine, p.host);
      const cluster = host.cluster?.id ? await client.clusters.get(host.cluster.id) : undefined;
      const n = await this.network(client, engine, name, cluster?.dataCenter?.id);
      const nics = await client.hosts.listNics(host.id);
      if (!nics.some((x) => x.name === p.nic)) {
        throw new RhevbootError('RB_ERR_NOT_FOUND', `host ${host.name} has no NIC ${p.nic} (it has ${nics.map((x) => x.name).join(', ') || 'none'})`, { engine, field: 'nic' });
      }
      await client.hosts.attachNetwork(host.id, { nic: p.nic, network: { id: n.id }, ...(p.bootProtocol !== undefined && { bootProtocol: p.bootProtocol }), ...(p.ip && { ip: p.ip }) });
      r.done.push(`network ${name} set up on ${host.name} ${p.nic} and committed`);
      r.step = `check network ${name} on ${host.name} ${p.nic}`;
      const on = await client.hosts.nicNetworks(host.id);
      if (!on.some((x) => x.networkId === n.id && x.nic.name === p.nic)) {
        throw new RhevmError('RB_ERR_RHEVM_STATE', `the engine accepted the change, but does not show network ${name} on ${p.nic}`, { engine });
      }
      let h = await client.hosts.get(host.id);
      if (h.status === 'non_operational' && cluster) {
        const required = (await client.clusters.networks(cluster.id).list()).filter((x) => x.required !== false).map((x) => x.id);
        if (required.every((id) => on.some((x) => x.networkId === id))) {
          r.step = `wait for host ${host.name} to come up with its networks`;
          h = await this.waitStatus(`host ${host.name} to come up`, () => client.hosts.find(host.id), ['up']);
        }
      }
      await this.event(engine, 've.network-attached', `network ${name} attached to host ${host.name} ${p.nic} and committed (host ${h.status ?? '?'})`, { id: n.id, name, host: host.name, nic: p.nic });
      return { ...(await this.networkView(client, n)), host: { name: host.name ?? host.id, nic: p.nic, status: h.status ?? null } };
    });
  }

  /** Detach a network from a cluster, or take it off a host (and commit). */
  async detachNetwork(engine: string, name: string, p: { cluster?: string; host?: string }): Promise<NetworkView> {
    checkName(name, 'network');
    if ((p.cluster === undefined) === (p.host === undefined)) throw invalid('cluster', 'name either a cluster or a host to detach the network from');
    const from = p.cluster !== undefined ? `cluster ${checkName(p.cluster, 'cluster')}` : `host ${p.host}`;
    return this.run(engine, `detach network ${name} from ${from}`, async ({ client }) => {
      if (p.cluster !== undefined) {
        const c = await this.cluster(client, engine, p.cluster);
        const n = await this.network(client, engine, name, c.dataCenter?.id);
        if (!(await client.clusters.networks(c.id).find(n.id))) throw new RhevbootError('RB_ERR_NOT_FOUND', `network ${name} is not attached to cluster ${c.name}`, { engine, name });
        await client.clusters.detachNetwork(c.id, n.id);
        await this.event(engine, 've.network-detached', `network ${name} detached from cluster ${c.name}`, { id: n.id, name, cluster: c.name });
        return this.networkView(client, n);
      }
      const host = await this.host(client, engine, p.host!);
      const cluster = host.cluster?.id ? await client.clusters.get(host.cluster.id) : undefined;
      const n = await this.network(client, engine, name, cluster?.dataCenter?.id);
      if (!(await client.hosts.detachNetwork(host.id, n.id))) throw new RhevbootError('RB_ERR_NOT_FOUND', `network ${name} is not on any NIC of host ${host.name}`, { engine, name });
      await this.event(engine, 've.network-detached', `network ${name} taken off host ${host.name} and committed`, { id: n.id, name, host: host.name });
      return this.networkView(client, n);
    });
  }

  private async networkView(client: RhevmClient, n: Network): Promise<NetworkView> {
    const dc = n.dataCenter?.id ? await client.datacenters.find(n.dataCenter.id) : undefined;
    const clusters: NetworkView['clusters'] = [];
    for (const c of await client.clusters.list()) {
      if (c.dataCenter?.id !== n.dataCenter?.id) continue;
      const cn = await client.clusters.networks(c.id).find(n.id);
      if (cn) clusters.push({ name: c.name ?? c.id, required: cn.required ?? null, status: cn.status ?? null });
    }
    return networkView(await client.networks.get(n.id), () => dc?.name ?? null, clusters);
  }

  // ---- removal ---------------------------------------------------------------------------------

  /**
   * Remove an object. Storage domains: `force` first deactivates and detaches the domain from
   * every data center (xCAT's cfgve -r -f); without it the engine's refusal is what the admin sees.
   */
  async remove(engine: string, type: VeType, name: string, o: RemoveOptions = {}): Promise<void> {
    checkName(name, type);
    if (type !== 'storagedomain') {
      for (const f of ['format', 'destroy', 'host'] as const) if (o[f] !== undefined && o[f] !== false) throw invalid(f, `${f}: applies to storage domains only`);
    }
    if (type !== 'network' && o.dataCenter !== undefined) throw invalid('dataCenter', 'dataCenter: applies to networks only (their names are unique per data center)');
    if (o.format && o.destroy) throw invalid('destroy', 'format wipes the storage and destroy leaves it untouched: choose one');
    const label = TYPE_LABEL[type];
    await this.run(engine, `remove ${label} ${name}`, async (r) => {
      const { client } = r;
      const force = o.force === true;
      let id: string;
      let note = '';
      if (type === 'datacenter') {
        id = (await this.dataCenter(client, engine, name)).id;
        await client.datacenters.remove(id, { force });
        await this.waitGone(`data center ${name} to go`, () => client.datacenters.find(id));
      } else if (type === 'cluster') {
        id = (await this.cluster(client, engine, name)).id;
        await client.clusters.remove(id, { force });
        await this.waitGone(`cluster ${name} to go`, () => client.clusters.find(id));
      } else if (type === 'network') {
        const dc = o.dataCenter !== undefined ? await this.dataCenter(client, engine, o.dataCenter) : undefined;
        id = (await this.network(client, engine, name, dc?.id)).id;
        await client.networks.remove(id);
        await this.waitGone(`network ${name} to go`, () => client.networks.find(id));
      } else {
        const sd = await this.storageDomain(client, engine, name);
        id = sd.id;
        const host = o.host !== undefined ? await this.host(client, engine, o.host) : await this.someUpHost(client);
        if (!host && !o.destroy) throw new RhevbootError('RB_ERR_INVALID', `no host is up to remove storage domain ${name} through: name one, or destroy it (forget it, storage untouched)`, { engine, field: 'host' });
        if (force) {
          for (const ref of sd.dataCenters) {
            const dc = ref.id ? await client.datacenters.find(ref.id) : undefined;
            const a = dc ? await client.datacenters.storageDomains(dc.id).find(sd.id) : undefined;
            if (!dc || !a) continue;
            r.step = `take storage domain ${name} out of data center ${dc.name}`;
            if (!['maintenance', 'inactive', 'unattached'].includes(a.status ?? '')) await this.deactivate(client, engine, sd, dc, true);
            await this.detach(client, engine, sd, dc);
            r.done.push(`storage domain ${name} detached from data center ${dc.name}`);
          }
          r.step = `remove storage domain ${name}`;
        }
        await client.storageDomains.remove(sd.id, { ...(host && { host: { id: host.id } }), format: o.format === true, ...(o.destroy && { destroy: true }) });
        await this.waitGone(`storage domain ${name} to go`, () => client.storageDomains.find(sd.id));
        note = o.format ? ' (storage formatted)' : o.destroy ? ' (destroyed: storage left untouched)' : '';
      }
      await this.event(engine, `ve.${type}-removed`, `${label} ${name} removed${note}`, { id, name, ...(force && { force }) });
    });
  }

  // ---- look-ups --------------------------------------------------------------------------------

  private notFound(engine: string, type: string, name: string): RhevbootError {
    return new RhevbootError('RB_ERR_NOT_FOUND', `engine ${engine} has no ${type} named ${name}`, { engine, name });
  }

  private async dataCenter(client: RhevmClient, engine: string, name: string): Promise<DataCenter> {
    return (await client.datacenters.findByName(name)) ?? Promise.reject(this.notFound(engine, 'data center', name));
  }

  private async cluster(client: RhevmClient, engine: string, name: string): Promise<Cluster> {
    return (await client.clusters.findByName(name)) ?? Promise.reject(this.notFound(engine, 'cluster', name));
  }

  private async storageDomain(client: RhevmClient, engine: string, name: string): Promise<StorageDomain> {
    return (await client.storageDomains.findByName(name)) ?? Promise.reject(this.notFound(engine, 'storage domain', name));
  }

  /** A host by its engine name, or by the short name of the FQDN it registered under. */
  private async host(client: RhevmClient, engine: string, name: string): Promise<Host> {
    return (await client.hosts.findByHostName(name, { prefix: true })) ?? Promise.reject(this.notFound(engine, 'host', name));
  }

  /** Network names are unique per data center only: without one, the name must be unambiguous. */
  private async network(client: RhevmClient, engine: string, name: string, dataCenterId?: string): Promise<Network> {
    const all = (await client.networks.list()).filter((n) => n.name === name);
    const inDc = dataCenterId !== undefined ? all.filter((n) => n.dataCenter?.id === dataCenterId) : all;
    if (inDc.length === 1) return inDc[0]!;
    if (inDc.length === 0) {
      if (dataCenterId !== undefined && all.length) {
        const dc = await client.datacenters.find(dataCenterId);
        throw new RhevbootError('RB_ERR_NOT_FOUND', `network ${name} is not in data center ${dc?.name ?? dataCenterId}`, { engine, name });
      }
      throw this.notFound(engine, 'network', name);
    }
    throw new RhevbootError('RB_ERR_INVALID', `network ${name} exists in ${inDc.length} data centers: name the data center`, { engine, name, field: 'dataCenter' });
  }

  /** The SPM if the engine says which host it is, else any host that is up. */
  private async someUpHost(client: RhevmClient): Promise<Host | undefined> {
    const up = (await client.hosts.list()).filter((h) => h.status === 'up');
    return up.find((h) => h.spm === 'spm') ?? up[0];
  }

  private async refuseExisting(engine: string, type: VeType, name: string, existing: { id: string } | undefined): Promise<void> {
    // Checked first also because a create retried after a 5xx looks its result up by name
    // (connection.addEntity): an object of that name from before would pass for the new one.
    if (existing) throw new RhevbootError('RB_ERR_CONFLICT', `engine ${engine} already has a ${TYPE_LABEL[type]} named ${name}`, { engine, name, id: existing.id });
  }

  // ---- waiting, errors, events ------------------------------------------------------------------

  /** Poll until the object's status is one of `want`; `failOn` ends the wait early; the bound says the last status seen. */
  private async waitStatus<T extends { status?: string; statusDetail?: string }>(what: string, get: () => Promise<T | undefined>, want: string[], failOn: string[] = []): Promise<T> {
    const deadline = Date.now() + this.opts.timeoutMs;
    for (;;) {
      const x = await get();
      if (x === undefined) throw new RhevmError('RB_ERR_RHEVM_STATE', `waiting for ${what}: it is gone`);
      const st = x.status ?? '';
      if (want.includes(st)) return x;
      if (failOn.includes(st)) throw new RhevmError('RB_ERR_RHEVM_STATE', `waiting for ${what}: the engine reports ${st}${x.statusDetail ? ` (${x.statusDetail})` : ''}`, { state: st });
      if (Date.now() + this.opts.pollIntervalMs > deadline) {
        throw new RhevmError('RB_ERR_RHEVM_TIMEOUT', `waiting for ${what}: still ${st || 'without a status'} after ${Math.round(this.opts.timeoutMs / 1000)} s`, { state: st });
      }
      await sleep(this.opts.pollIntervalMs);
    }
  }

  private async waitGone(what: string, get: () => Promise<unknown>): Promise<void> {
    const deadline = Date.now() + this.opts.timeoutMs;
    while ((await get()) !== undefined) {
      if (Date.now() + this.opts.pollIntervalMs > deadline) throw new RhevmError('RB_ERR_RHEVM_TIMEOUT', `waiting for ${what}: still there after ${Math.round(this.opts.timeoutMs / 1000)} s`);
      await sleep(this.opts.pollIntervalMs);
    }
  }

  /**
   * One request against one engine: a client for it, closed afterwards; an engine error is
   * re-thrown with the step that failed and what was done before it (which stays done).
   */
  private async run<T>(engine: string, step: string, fn: (r: Run) => Promise<T>): Promise<T> {
    const client = await this.deps.engines.client(engine);
    const r: Run = { client, step, done: [] };
    try {
      return await fn(r);
    } catch (err) {
      if (!(err instanceof RhevbootError)) throw err;
      const kept = r.done.length ? ` (already done, and kept: ${r.done.join('; ')})` : '';
      // The caller shows the error (CLI) or logs it with the request (API); this is for the record.
      this.deps.log.info({ engine, step: r.step, code: err.code, err: err.message }, 've operation failed');
      if (!(err instanceof RhevmError)) {
        if (!kept) throw err;
        throw new RhevbootError(err.code, `${err.message}${kept}`, err.details, { cause: err });
      }
      throw new RhevmError(err.rhevmCode, `engine ${engine}: cannot ${r.step}: ${err.message}${kept}`, { ...err.details, engine, step: r.step, ...(r.done.length && { done: r.done }) }, { cause: err });
    } finally {
      await client.close();
    }
  }

  private async event(engine: string, kind: string, message: string, data: Record<string, unknown>): Promise<void> {
    await this.deps.events.record({ kind, subjectType: 'engine', subject: engine, message: `engine ${engine}: ${message}`, data });
  }
}
