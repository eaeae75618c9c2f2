/**
 * The virtual environment (ovirt-api.md §7.2, §7.3, §7.5, §7.6, §7.8, §5.5): data centers,
 * clusters, logical networks, storage domains, templates and jobs.
 */
import type { Connection } from './connection.js';
import {
  clusterBody,
  clusterNetworkBody,
  dataCenterBody,
  networkBody,
  refNode,
  storageDomainBody,
  storageDomainRemoveBodyV3,
  templateBody,
  type ClusterNetworkSpec,
  type ClusterSpec,
  type DataCenterSpec,
  type NetworkSpec,
  type RefSpec,
  type StorageDomainSpec,
  type TemplateSpec,
} from './encode.js';
import type { ActionResult, Cluster, DataCenter, Job, Network, StorageDomain, Template, VnicProfile } from './model.js';
import { Collection, type Opts } from './resources.js';
import { removeKids, text } from '../xml/tree.js';

const enc = encodeURIComponent;

export class DataCenters extends Collection<'data_center'> {
  constructor(conn: Connection) {
    super(conn, 'data_center', 'datacenters');
  }

  async add(spec: DataCenterSpec, opts: Opts = {}): Promise<DataCenter> {
    const o = this.op(opts);
    return this.addBody(dataCenterBody(await this.version(o), spec), spec.name, o);
  }

  async update(id: string, spec: Partial<DataCenterSpec>, opts: Opts = {}): Promise<DataCenter> {
    const o = this.op(opts);
    const body = dataCenterBody(await this.version(o), { name: '', ...spec });
    removeKids(body, 'name', (c) => text(c) === '');
    return this.conn.putEntity('data_center', `datacenters/${enc(id)}`, body, o);
  }

  /** Storage domains as the data center sees them (status per DC, §7.5). */
  storageDomains(dcId: string): Collection<'storage_domain'> {
    return new Collection(this.conn, 'storage_domain', `datacenters/${enc(dcId)}/storagedomains`);
  }

  /**
   * Attach a storage domain (`POST /datacenters/{dc}/storagedomains`, 201). The first data domain
   * of an uninitialized DC becomes its master; the attachment then goes locked → active by itself.
   */
  async attachStorageDomain(dcId: string, sd: RefSpec, opts: Opts = {}): Promise<StorageDomain> {
    const o = this.op(opts);
    const c = this.storageDomains(dcId);
    const lookup = async () => (await c.list({ op: o })).find((d) => (sd.id !== undefined ? d.id === sd.id : d.name === sd.name));
    return this.conn.addEntity('storage_domain', c.path, refNode('storage_domain', sd), o, lookup);
  }

  async activateStorageDomain(dcId: string, sdId: string, opts: Opts = {}): Promise<ActionResult> {
    return this.conn.action(`datacenters/${enc(dcId)}/storagedomains/${enc(sdId)}`, 'activate', {}, this.op(opts));
  }

  async deactivateStorageDomain(dcId: string, sdId: string, opts: Opts & { force?: boolean } = {}): Promise<ActionResult> {
    return this.conn.action(`datacenters/${enc(dcId)}/storagedomains/${enc(sdId)}`, 'deactivate', opts.force ? { force: true } : {}, this.op(opts));
  }

  /** Detach (`DELETE /datacenters/{dc}/storagedomains/{sd}`); the domain must be in maintenance. */
  async detachStorageDomain(dcId: string, sdId: string, opts: Opts = {}): Promise<void> {
    await this.conn.remove(`datacenters/${enc(dcId)}/storagedomains/${enc(sdId)}`, this.op(opts));
  }

  networks(dcId: string): Collection<'network'> {
    return new Collection(this.conn, 'network', `datacenters/${enc(dcId)}/networks`);
  }

  clusters(dcId: string): Collection<'cluster'> {
    return new Collection(this.conn, 'cluster', `datacenters/${enc(dcId)}/clusters`);
  }
}

export class Clusters extends Collection<'cluster'> {
  constructor(conn: Connection) {
    super(conn, 'cluster', 'clusters');
  }

  async add(spec: ClusterSpec, opts: Opts = {}): Promise<Cluster> {
    const o = this.op(opts);
    return this.addBody(clusterBody(await this.version(o), spec), spec.name, o);
  }

  networks(clusterId: string): Collection<'network'> {
    return new Collection(this.conn, 'network', `clusters/${enc(clusterId)}/networks`);
  }

  /** Attach a logical network to the cluster (§7.3); found-already counts as done on retry. */
  async attachNetwork(clusterId: string, spec: ClusterNetworkSpec, opts: Opts = {}): Promise<Network> {
    const o = this.op(opts);
    const c = this.networks(clusterId);
    const lookup = async () => (await c.list({ op: o })).find((n) => (spec.network.id !== undefined ? n.id === spec.network.id : n.name === spec.network.name));
    return this.conn.addEntity('network', c.path, clusterNetworkBody(await this.version(o), spec), o, lookup);
  }

  async detachNetwork(clusterId: string, networkId: string, opts: Opts = {}): Promise<void> {
    await this.conn.remove(`clusters/${enc(clusterId)}/networks/${enc(networkId)}`, this.op(opts));
  }
}

export class Networks extends Collection<'network'> {
  constructor(conn: Connection) {
    super(conn, 'network', 'networks');
  }

  /** Network names are unique per data center only; pass `dataCenterId` to pick the right one. */
  async findInDataCenter(name: string, dataCenterId: string, opts: Opts = {}): Promise<Network | undefined> {
    return (await this.list({ ...opts })).find((n) => n.name === name && n.dataCenter?.id === dataCenterId);
  }

  async add(spec: NetworkSpec, opts: Opts = {}): Promise<Network> {
    const o = this.op(opts);
    const lookup = async () =>
      (await this.list({ op: o })).find((n) => n.name === spec.name && (spec.dataCenter.id === undefined || n.dataCenter?.id === spec.dataCenter.id));
    return this.conn.addEntity('network', 'networks', networkBody(await this.version(o), spec), o, lookup);
  }

  async vnicProfiles(networkId: string, opts: Opts = {}): Promise<VnicProfile[]> {
    return new Collection(this.conn, 'vnic_profile', `networks/${enc(networkId)}/vnicprofiles`).list(opts);
  }
}

export class StorageDomains extends Collection<'storage_domain'> {
  constructor(conn: Connection) {
    super(conn, 'storage_domain', 'storagedomains');
  }

  /** Create a domain through a host that is up (§7.5); it is `unattached` afterwards. */
  async add(spec: StorageDomainSpec, opts: Opts = {}): Promise<StorageDomain> {
    const o = this.op(opts);
    return this.addBody(storageDomainBody(await this.version(o), spec), spec.name, o);
  }

  /**
   * Remove a domain through a host; `format` wipes it, `destroy` only forgets it (§7.5).
   * v4 takes these as query parameters, v3 as a `<storage_domain>` body on the DELETE.
   */
  override async remove(id: string, opts: Opts & { host?: RefSpec; format?: boolean; destroy?: boolean; force?: boolean } = {}): Promise<void> {
    const o = this.op(opts);
    const p = `storagedomains/${enc(id)}`;
    if ((await this.version(o)) === 3 && opts.host) {
      await this.conn.remove(p, o, { body: storageDomainRemoveBodyV3(opts.host, opts.format ?? false, opts.destroy) });
      return;
    }
    await this.conn.remove(p, o, {
      query: {
        host: opts.host ? (opts.host.id ?? opts.host.name) : undefined,
        format: opts.format,
        destroy: opts.destroy,
      },
    });
  }
}

export class Templates extends Collection<'template'> {
  constructor(conn: Connection) {
    super(conn, 'template', 'templates');
  }

  /** Make a template from a VM that is down; the engine copies disks (202, polled) (§7.8). */
  async add(spec: TemplateSpec, opts: Opts = {}): Promise<Template> {
    const o = this.op(opts);
    return this.addBody(templateBody(await this.version(o), spec), spec.name, o);
  }
}

export class Jobs extends Collection<'job'> {
  constructor(conn: Connection) {
    super(conn, 'job', 'jobs');
  }

  /** The jobs the engine tagged with a Correlation-Id we sent (`correlation_id=…`, §5.5). */
  async byCorrelationId(correlationId: string, opts: Opts = {}): Promise<Job[]> {
    return this.list({ ...opts, search: { correlation_id: correlationId } });
  }
}
