/**
 * What an admin may ask of an engine's virtual environment, checked before anything is sent: a
 * bad request is refused here with the field it names and changes nothing, in rhevboot or in the
 * engine. The CLI and the API both call the service with these shapes (the API's JSON field names
 * are these names; the CLI's options are the same words, dashed).
 */
import { RhevbootError } from '../errors.js';
import type { LogicalUnitSpec, StorageDomainSpec, VersionSpec } from '../rhevm/index.js';
import { parseIpv4 } from '../util/ipv4.js';

export const VE_TYPES = ['datacenter', 'cluster', 'storagedomain', 'network'] as const;
export type VeType = (typeof VE_TYPES)[number];

/** xCAT's cfgve/lsve `-t dc|cl|sd|nw` names are accepted too, as are plurals (the API's paths). */
const TYPE_ALIASES: Record<string, VeType> = {
  dc: 'datacenter',
  datacenter: 'datacenter',
  datacenters: 'datacenter',
  cl: 'cluster',
  cluster: 'cluster',
  clusters: 'cluster',
  sd: 'storagedomain',
  storagedomain: 'storagedomain',
  storagedomains: 'storagedomain',
  nw: 'network',
  net: 'network',
  network: 'network',
  networks: 'network',
};
export const VE_TYPE_WORDS = Object.keys(TYPE_ALIASES);

export function parseVeType(word: string): VeType {
  const t = TYPE_ALIASES[word.toLowerCase()];
  if (!t) throw invalid('type', `unknown type '${word}': use datacenter (dc), cluster (cl), storagedomain (sd) or network (nw)`);
  return t;
}

/** How a type is called in messages. */
export const TYPE_LABEL: Record<VeType, string> = { datacenter: 'data center', cluster: 'cluster', storagedomain: 'storage domain', network: 'network' };

export interface DataCenterInput {
  name: string;
  /** `shared` (the default) or `local`; v3 engines also take the 3.0/3.1 DC storage type itself. */
  storageType?: string;
  /** Compatibility version, `4.3`. */
  version?: string;
  description?: string;
}

export interface ClusterInput {
  name: string;
  dataCenter: string;
  /** e.g. `Intel Nehalem Family`; v3 engines require one and get xCAT's default when none is given. */
  cpuType?: string;
  version?: string;
  description?: string;
}

export interface StorageDomainInput {
  name: string;
  /** data (default) | iso | export */
  domainType?: string;
  /** nfs | iscsi | fc | localfs */
  storageType: string;
  /** The host (up) through which the engine creates the domain. */
  host: string;
  /** NFS server or iSCSI portal. */
  address?: string;
  /** NFS export or local directory. */
  path?: string;
  /** iSCSI portal port (default 3260). */
  port?: number;
  /** iSCSI target IQN. */
  target?: string;
  /** iSCSI or FC LUN ids (WWIDs, as `GET /hosts/{id}/storage` lists them). */
  luns?: string[];
  nfsVersion?: string;
  mountOptions?: string;
  /** Attach the new domain to this data center and wait for it to be active (xCAT's cfgve -c did). */
  dataCenter?: string;
  description?: string;
}

export interface NetworkInput {
  name: string;
  dataCenter: string;
  /** 802.1Q tag, 0–4094 */
  vlan?: number;
  /** 0 = the engine's default */
  mtu?: number;
  /** A VM network (a bridge, with a vNIC profile) or not; the engine's default is true. */
  vm?: boolean;
  stp?: boolean;
  description?: string;
}

export interface HostNicInput {
  host: string;
  nic: string;
  /** none | dhcp | static */
  bootProtocol?: string;
  address?: string;
  netmask?: string;
  gateway?: string;
}

export function invalid(field: string, message: string): RhevbootError {
  return new RhevbootError('RB_ERR_INVALID', message, { field });
}

/** The engine's own rule (ACTION_TYPE_FAILED_NAME_MAY_NOT_CONTAIN_SPECIAL_CHARS, ovirt-api.md §5.4). */
const NAME = /^[A-Za-z0-9_.-]{1,50}$/;
const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,253})$/;
const IPV6 = /^[0-9A-Fa-f:]{2,39}$/;
/** LUN ids are WWIDs (`3600144f0…`), sometimes with a vendor prefix. */
const LUN = /^[A-Za-z0-9_.:-]{1,128}$/;
/** RFC 3720 names: iqn.yyyy-mm.reversed.domain[:x], eui.<16 hex>, naa.<hex>. */
const IQN = /^(iqn\.\d{4}-\d{2}\.[^\s]+|eui\.[0-9A-Fa-f]{16}|naa\.[0-9A-Fa-f]{16,32})$/;
const CONTROL = /[\u0000-\u001f\u007f]/;

export function checkName(name: unknown, type: VeType): string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw invalid('name', `${TYPE_LABEL[type]} name '${String(name)}' must be 1-50 letters, digits, '_', '-' or '.' (the engine's rule)`);
  }
  return name;
}

/** A reference to another object by name (data center, cluster, host): the same rule, named field. */
function checkRef(value: unknown, field: string, what: string): string {
  if (typeof value !== 'string' || value === '') throw invalid(field, `${field}: name the ${what}`);
  if (!NAME.test(value)) throw invalid(field, `${field}: '${value}' is not a valid ${what} name`);
  return value;
}

function checkText(value: string | undefined, field: string, max = 1024): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length > max || CONTROL.test(value)) throw invalid(field, `${field}: at most ${max} printable characters`);
  return value;
}

export function parseVersion(value: string | undefined, field = 'version'): VersionSpec | undefined {
  if (value === undefined) return undefined;
  const m = /^([34])\.(\d{1,2})$/.exec(String(value));
  if (!m) throw invalid(field, `${field}: '${value}' is not a compatibility version like 3.6 or 4.3`);
  return { major: Number(m[1]), minor: Number(m[2]) };
}

function checkInt(value: number | undefined, field: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < min || value > max) throw invalid(field, `${field}: ${value} is not a whole number from ${min} to ${max}`);
  return value;
}

function checkAddress(value: string | undefined, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (!(HOSTNAME.test(value) || IPV6.test(value))) throw invalid(field, `${field}: '${value}' is not a host name or IP address`);
  return value;
}

export interface DataCenterPlan {
  name: string;
  local: boolean;
  /** Only written for v3 engines (3.0/3.1 need it). */
  storageType: string;
  version?: VersionSpec;
  description?: string;
}

const DC_STORAGE = ['shared', 'local', 'nfs', 'iscsi', 'fc', 'fcp', 'localfs'];

export function planDataCenter(i: DataCenterInput): DataCenterPlan {
  const name = checkName(i.name, 'datacenter');
  const st = (i.storageType ?? 'shared').toLowerCase();
  if (!DC_STORAGE.includes(st)) throw invalid('storageType', `storageType: '${i.storageType}' is not one of ${DC_STORAGE.join(', ')}`);
  const local = st === 'local' || st === 'localfs';
  // 3.0/3.1 data centers had one storage type; "shared" was NFS there, as in xCAT's cfgve -k nfs.
  const storageType = local ? 'localfs' : st === 'shared' ? 'nfs' : st === 'fc' ? 'fcp' : st;
  const version = parseVersion(i.version);
  const description = checkText(i.description, 'description');
  return { name, local, storageType, ...(version && { version }), ...(description !== undefined && { description }) };
}

export interface ClusterPlan {
  name: string;
  dataCenter: string;
  cpuType?: string;
  version?: VersionSpec;
  description?: string;
}

export function planCluster(i: ClusterInput): ClusterPlan {
  const name = checkName(i.name, 'cluster');
  const dataCenter = checkRef(i.dataCenter, 'dataCenter', 'data center');
  const cpuType = checkText(i.cpuType, 'cpuType', 100);
  if (cpuType !== undefined && cpuType.trim() === '') throw invalid('cpuType', 'cpuType: must not be empty');
  const version = parseVersion(i.version);
  const description = checkText(i.description, 'description');
  return { name, dataCenter, ...(cpuType !== undefined && { cpuType }), ...(version && { version }), ...(description !== undefined && { description }) };
}

/** The storage-domain spec minus the host, which the service resolves against the engine. */
export type StorageDomainPlan = Omit<StorageDomainSpec, 'host'> & { host: string; dataCenter?: string };

const DOMAIN_TYPES = ['data', 'iso', 'export'];
const STORAGE_TYPES: Record<string, string> = { nfs: 'nfs', iscsi: 'iscsi', fc: 'fcp', fcp: 'fcp', localfs: 'localfs' };
const NFS_VERSIONS = ['auto', 'v3', 'v4', 'v4_1', 'v4_2'];

export function planStorageDomain(i: StorageDomainInput): StorageDomainPlan {
  const name = checkName(i.name, 'storagedomain');
  const type = (i.domainType ?? 'data').toLowerCase();
  if (!DOMAIN_TYPES.includes(type)) throw invalid('domainType', `domainType: '${i.domainType}' is not one of ${DOMAIN_TYPES.join(', ')}`);
  const st = STORAGE_TYPES[String(i.storageType ?? '').toLowerCase()];
  if (!st) throw invalid('storageType', `storageType: '${i.storageType ?? ''}' is not one of nfs, iscsi, fc, localfs`);
  const host = checkRef(i.host, 'host', 'host');
  const address = checkAddress(i.address, 'address');
  const port = checkInt(i.port, 'port', 1, 65535);
  const target = i.target;
  const luns = i.luns;
  const path = i.path;
  const fileBased = st === 'nfs' || st === 'localfs';
  // ISO and export domains are file domains in every engine version.
  if (!fileBased && type !== 'data') throw invalid('domainType', `domainType: ${type} domains must be on nfs or localfs, not ${i.storageType}`);
  const refuse = (field: string, present: unknown): void => {
    if (present !== undefined) throw invalid(field, `${field}: does not apply to ${i.storageType} storage`);
  };
  const spec: StorageDomainPlan = { name, type, host, storage: { type: st } };
  if (fileBased) {
    if (typeof path !== 'string' || !/^\/\S*$/.test(path) || path.length > 4096) throw invalid('path', `path: ${st === 'nfs' ? 'the NFS export' : 'the local directory'}, an absolute path without spaces`);
    if (st === 'nfs' && address === undefined) throw invalid('address', 'address: the NFS server is needed');
    if (st === 'localfs') refuse('address', address);
    refuse('port', port);
    refuse('target', target);
    refuse('luns', luns);
    spec.storage.path = path;
    if (address !== undefined) spec.storage.address = address;
  } else {
    if (!Array.isArray(luns) || luns.length === 0) throw invalid('luns', `luns: ${st === 'fcp' ? 'FC' : 'iSCSI'} domains are built on LUN ids (see the host's storage)`);
    for (const l of luns) if (typeof l !== 'string' || !LUN.test(l)) throw invalid('luns', `luns: '${String(l)}' is not a LUN id`);
    if (new Set(luns).size !== luns.length) throw invalid('luns', 'luns: a LUN is named twice');
    refuse('path', path);
    let lunSpec: LogicalUnitSpec[];
    if (st === 'iscsi') {
      if (address === undefined) throw invalid('address', 'address: the iSCSI portal is needed');
      if (typeof target !== 'string' || !IQN.test(target)) throw invalid('target', `target: '${target ?? ''}' is not an iSCSI target name (iqn.…)`);
      lunSpec = luns.map((id) => ({ id, address, port: port ?? 3260, target }));
    } else {
      refuse('address', address);
      refuse('port', port);
      refuse('target', target);
      lunSpec = luns.map((id) => ({ id }));
    }
    spec.storage.logicalUnits = lunSpec;
  }
  if (i.nfsVersion !== undefined) {
    if (st !== 'nfs') throw invalid('nfsVersion', `nfsVersion: does not apply to ${i.storageType} storage`);
    if (!NFS_VERSIONS.includes(i.nfsVersion)) throw invalid('nfsVersion', `nfsVersion: '${i.nfsVersion}' is not one of ${NFS_VERSIONS.join(', ')}`);
    spec.storage.nfsVersion = i.nfsVersion;
  }
  if (i.mountOptions !== undefined) {
    if (st !== 'nfs') throw invalid('mountOptions', `mountOptions: does not apply to ${i.storageType} storage`);
    if (!/^[A-Za-z0-9_=,.:-]{1,256}$/.test(i.mountOptions)) throw invalid('mountOptions', 'mountOptions: comma-separated mount options');
    spec.storage.mountOptions = i.mountOptions;
  }
  const description = checkText(i.description, 'description');
  if (description !== undefined) spec.description = description;
  if (i.dataCenter !== undefined) spec.dataCenter = checkRef(i.dataCenter, 'dataCenter', 'data center');
  return spec;
}

export interface NetworkPlan {
  name: string;
  dataCenter: string;
  vlan?: number;
  mtu?: number;
  vm: boolean;
  stp?: boolean;
  description?: string;
}

export function planNetwork(i: NetworkInput): NetworkPlan {
  const name = checkName(i.name, 'network');
  const dataCenter = checkRef(i.dataCenter, 'dataCenter', 'data center');
  const vlan = checkInt(i.vlan, 'vlan', 0, 4094);
  const mtu = checkInt(i.mtu, 'mtu', 0, 65520);
  if (mtu !== undefined && mtu !== 0 && mtu < 68) throw invalid('mtu', 'mtu: 0 (the default) or 68 to 65520');
  const description = checkText(i.description, 'description');
  return {
    name,
    dataCenter,
    vm: i.vm ?? true,
    ...(vlan !== undefined && { vlan }),
    ...(mtu !== undefined && { mtu }),
    ...(i.stp !== undefined && { stp: i.stp }),
    ...(description !== undefined && { description }),
  };
}

export interface HostNicPlan {
  host: string;
  nic: string;
  bootProtocol?: string;
  ip?: { address?: string; netmask?: string; gateway?: string };
}

export function planHostNic(i: HostNicInput): HostNicPlan {
  const host = checkRef(i.host, 'host', 'host');
  if (typeof i.nic !== 'string' || !/^[A-Za-z0-9_.:-]{1,15}$/.test(i.nic)) throw invalid('nic', `nic: '${i.nic ?? ''}' is not a NIC name like eth1 or bond0`);
  const bp = i.bootProtocol?.toLowerCase();
  if (bp !== undefined && !['none', 'dhcp', 'static'].includes(bp)) throw invalid('bootProtocol', `bootProtocol: '${i.bootProtocol}' is not one of none, dhcp, static`);
  const ipGiven = i.address !== undefined || i.netmask !== undefined || i.gateway !== undefined;
  if (ipGiven && bp !== 'static') throw invalid('bootProtocol', 'address, netmask and gateway need bootProtocol static');
  const plan: HostNicPlan = { host, nic: i.nic };
  if (bp !== undefined) plan.bootProtocol = bp;
  if (bp === 'static') {
    for (const f of ['address', 'netmask'] as const) if (i[f] === undefined) throw invalid(f, `${f}: needed for a static address`);
    for (const f of ['address', 'netmask', 'gateway'] as const) {
      if (i[f] !== undefined && parseIpv4(i[f]!) === undefined) throw invalid(f, `${f}: '${i[f]}' is not an IPv4 address`);
    }
    plan.ip = { address: i.address!, netmask: i.netmask!, ...(i.gateway !== undefined && { gateway: i.gateway }) };
  }
  return plan;
}
