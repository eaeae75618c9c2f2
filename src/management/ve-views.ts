/**
 * The engine's virtual environment as the CLI and the API show it: names instead of ids, each
 * object with its state. A storage domain's state lives in the data center it is attached to
 * (`/datacenters/{dc}/storagedomains`, ovirt-api.md §7.5) and a network's in each cluster
 * (`/clusters/{id}/networks`, §7.3), so listing them costs one call per data center or cluster,
 * as xCAT's `lsve -t dc -o X` did.
 */
import type { Cluster, DataCenter, Network, RhevmClient, StorageDomain, Version } from '../rhevm/index.js';
import type { VeType } from './ve-input.js';

export interface DataCenterView {
  id: string;
  name: string;
  /** uninitialized | up | maintenance | not_operational | problematic | contend */
  status: string | null;
  storage: 'local' | 'shared';
  /** v3.0/3.1 engines only */
  storageType: string | null;
  version: string | null;
  description: string | null;
}

export interface ClusterView {
  id: string;
  name: string;
  dataCenter: string | null;
  cpuType: string | null;
  version: string | null;
  description: string | null;
}

export interface StorageDomainView {
  id: string;
  name: string;
  /** data | iso | export */
  domainType: string | null;
  /** nfs | iscsi | fcp | localfs */
  storageType: string | null;
  address: string | null;
  path: string | null;
  luns: string[];
  master: boolean;
  /** Its state in the (first) data center it is attached to, else the engine's top-level status (unattached). */
  status: string;
  dataCenters: { name: string; status: string | null }[];
  availableBytes: number | null;
  usedBytes: number | null;
}

export interface NetworkView {
  id: string;
  name: string;
  dataCenter: string | null;
  vlan: number | null;
  mtu: number | null;
  /** A VM network (usage `vm`) */
  vm: boolean;
  usages: string[];
  description: string | null;
  /** Clusters the network is attached to; `status` is operational when every up host has it. */
  clusters: { name: string; required: boolean | null; status: string | null }[];
}

export type VeView = DataCenterView | ClusterView | StorageDomainView | NetworkView;

export interface VeListing {
  datacenters: DataCenterView[];
  clusters: ClusterView[];
  storagedomains: StorageDomainView[];
  networks: NetworkView[];
}

const ver = (v: Version | undefined): string | null => (v ? `${v.major}.${v.minor}` : null);

export function dataCenterView(d: DataCenter): DataCenterView {
  const local = d.local ?? d.storageType === 'localfs';
  return {
    id: d.id,
    name: d.name ?? d.id,
    status: d.status ?? null,
    storage: local ? 'local' : 'shared',
    storageType: d.storageType ?? null,
    version: ver(d.version),
    description: d.description ?? null,
  };
}

export function clusterView(c: Cluster, dcName: (id: string | undefined) => string | null): ClusterView {
  return { id: c.id, name: c.name ?? c.id, dataCenter: dcName(c.dataCenter?.id), cpuType: c.cpuType ?? null, version: ver(c.version), description: c.description ?? null };
}

export function storageDomainView(s: StorageDomain, inDcs: { name: string; status: string | null }[]): StorageDomainView {
  return {
    id: s.id,
    name: s.name ?? s.id,
    domainType: s.type ?? null,
    storageType: s.storage?.type ?? null,
    address: s.storage?.address ?? null,
    path: s.storage?.path ?? null,
    luns: (s.storage?.logicalUnits ?? []).map((l) => l.id),
    master: s.master ?? false,
    status: inDcs[0]?.status ?? s.status ?? (inDcs.length ? 'attached' : 'unattached'),
    dataCenters: inDcs,
    availableBytes: s.available ?? null,
    usedBytes: s.used ?? null,
  };
}

export function networkView(n: Network, dcName: (id: string | undefined) => string | null, clusters: NetworkView['clusters']): NetworkView {
  return {
    id: n.id,
    name: n.name ?? n.id,
    dataCenter: dcName(n.dataCenter?.id),
    vlan: n.vlanId ?? null,
    mtu: n.mtu ?? null,
    vm: n.usages.includes('vm'),
    usages: n.usages,
    description: n.description ?? null,
    clusters,
  };
}

/** Everything of the wanted types, in the engine's order. */
export async function listVe(client: RhevmClient, types: readonly VeType[]): Promise<Partial<VeListing>> {
  const want = new Set(types);
  const dcs = await client.datacenters.list();
  const dcName = (id: string | undefined): string | null => (id === undefined ? null : (dcs.find((d) => d.id === id)?.name ?? id));
  const out: Partial<VeListing> = {};
  if (want.has('datacenter')) out.datacenters = dcs.map(dataCenterView);
  const clusters = want.has('cluster') || want.has('network') ? await client.clusters.list() : [];
  if (want.has('cluster')) out.clusters = clusters.map((c) => clusterView(c, dcName));
  if (want.has('storagedomain')) {
    const inDc = new Map<string, { name: string; status: string | null }[]>();
    for (const dc of dcs) {
      for (const s of await client.datacenters.storageDomains(dc.id).list()) {
        inDc.set(s.id, [...(inDc.get(s.id) ?? []), { name: dc.name ?? dc.id, status: s.status ?? null }]);
      }
    }
    out.storagedomains = (await client.storageDomains.list()).map((s) => storageDomainView(s, inDc.get(s.id) ?? []));
  }
  if (want.has('network')) {
    const inCluster = new Map<string, NetworkView['clusters']>();
    for (const c of clusters) {
      for (const n of await client.clusters.networks(c.id).list()) {
        inCluster.set(n.id, [...(inCluster.get(n.id) ?? []), { name: c.name ?? c.id, required: n.required ?? null, status: n.status ?? null }]);
      }
    }
    out.networks = (await client.networks.list()).map((n) => networkView(n, dcName, inCluster.get(n.id) ?? []));
  }
  return out;
}

/** What belongs to one data center (xCAT's `lsve -t dc -o X` listed a DC with its contents). */
export function filterByDataCenter(l: Partial<VeListing>, dc: string): Partial<VeListing> {
  const out: Partial<VeListing> = {};
  if (l.datacenters) out.datacenters = l.datacenters.filter((d) => d.name === dc);
  if (l.clusters) out.clusters = l.clusters.filter((c) => c.dataCenter === dc);
  if (l.storagedomains) out.storagedomains = l.storagedomains.filter((s) => s.dataCenters.some((d) => d.name === dc));
  if (l.networks) out.networks = l.networks.filter((n) => n.dataCenter === dc);
  return out;
}
