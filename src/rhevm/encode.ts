/**
 * Model → request bodies, for both dialects (ovirt-api.md §4.1 v4, §4.2 v3).
 *
 * Each builder writes the same logical request; the `Dialect` decides the spelling of the few
 * structures that differ (versions, CPU type and topology, OS and boot order, MAC, IP, options,
 * status). Element order follows the engine's examples, although the engine does not depend on it.
 */
import type { ApiVersion } from './model.js';
import { el, textEl, type XEl } from '../xml/tree.js';

/** Reference on input: by id (preferred, unambiguous) or by name (§4.1). */
export interface RefSpec {
  id?: string;
  name?: string;
}

export interface VersionSpec {
  major: number;
  minor: number;
}

export interface DataCenterSpec {
  name: string;
  description?: string;
  local?: boolean;
  /** v3.0/3.1 mandatory (§7.2); ignored by v4 engines. */
  storageType?: string;
  storageFormat?: string;
  version?: VersionSpec;
}

export interface ClusterSpec {
  name: string;
  dataCenter: RefSpec;
  description?: string;
  cpuType?: string;
  version?: VersionSpec;
}

export interface PowerManagementSpec {
  enabled: boolean;
  /** fence agent type, e.g. ipmilan */
  type?: string;
  address?: string;
  username?: string;
  password?: string;
  options?: Record<string, string>;
}

export interface HostSpec {
  name: string;
  address: string;
  rootPassword?: string;
  cluster?: RefSpec;
  port?: number;
  description?: string;
  powerManagement?: PowerManagementSpec;
}

export type HostUpdateSpec = Partial<Omit<HostSpec, 'rootPassword'>>;

export interface NetworkSpec {
  name: string;
  dataCenter: RefSpec;
  description?: string;
  vlanId?: number;
  mtu?: number;
  stp?: boolean;
  /** vm, display, migration, management … */
  usages?: string[];
}

export interface ClusterNetworkSpec {
  network: RefSpec;
  required?: boolean;
  usages?: string[];
}

export interface LogicalUnitSpec {
  id: string;
  address?: string;
  port?: number;
  target?: string;
}

export interface StorageDomainSpec {
  name: string;
  /** data | iso | export */
  type: string;
  /** The host that creates the domain (must be up, §7.5). */
  host: RefSpec;
  storage: {
    type: string;
    address?: string;
    path?: string;
    nfsVersion?: string;
    mountOptions?: string;
    logicalUnits?: LogicalUnitSpec[];
  };
  description?: string;
  storageFormat?: string;
}

export interface TemplateSpec {
  name: string;
  vm: RefSpec;
  description?: string;
}

export interface VmBodySpec {
  name: string;
  cluster: RefSpec;
  /** Defaults to Blank in the facade (§7.7: v4 requires a template). */
  template?: RefSpec;
  description?: string;
  /** bytes */
  memory?: number;
  type?: string;
  cpu?: { sockets?: number; cores?: number; threads?: number };
  os?: { type?: string; boot?: string[] };
  display?: { type: string };
  placement?: { hosts?: RefSpec[]; affinity?: string };
  highAvailability?: boolean;
  stateless?: boolean;
  /** v3 only in the body (`<disks><clone>true</clone></disks>`); v4 uses `?clone=true` (§7.7). */
  cloneDisks?: boolean;
}

export type VmUpdateSpec = Partial<Omit<VmBodySpec, 'cloneDisks'>>;

export interface VmNicSpec {
  name: string;
  interface?: string;
  /** v3 attaches a NIC to a network directly. */
  network?: RefSpec;
  /** v4 attaches a NIC to a vNIC profile (§7.7). */
  vnicProfile?: RefSpec;
  mac?: string;
}

export interface DiskBodySpec {
  name?: string;
  description?: string;
  /** bytes */
  size: number;
  format?: string;
  interface?: string;
  bootable?: boolean;
  sparse?: boolean;
  storageDomain: RefSpec;
}

export interface IpSpec {
  address?: string;
  netmask?: string;
  gateway?: string;
}

export interface NetworkAttachmentSpec {
  network: RefSpec;
  hostNic: RefSpec;
  /** static | dhcp | none */
  bootProtocol?: string;
  ip?: IpSpec;
  nameServers?: string[];
}

export interface BondSpec {
  name: string;
  options?: Record<string, string>;
  slaves: RefSpec[];
}

export interface SetupNetworksSpec {
  modifiedBonds?: BondSpec[];
  modifiedNetworkAttachments?: NetworkAttachmentSpec[];
  removedNetworkAttachments?: RefSpec[];
  checkConnectivity?: boolean;
  connectivityTimeout?: number;
  commitOnSuccess?: boolean;
}

/** Parameters of an `<action>` (§5.2); only those given are written. */
export interface ActionParams {
  async?: boolean;
  force?: boolean;
  reason?: string;
  cluster?: RefSpec;
  host?: RefSpec;
  network?: RefSpec;
  storageDomain?: RefSpec;
  rootPassword?: string;
  /** RHEV-H 3.x upgrade image for `install` */
  image?: string;
  fenceType?: string;
  /** `start` run-once / `clone` target */
  vm?: { name?: string; bootDevices?: string[]; host?: RefSpec };
  ticket?: { value?: string; expiry?: number };
  setupNetworks?: SetupNetworksSpec;
  discardSnapshots?: boolean;
  exclusive?: boolean;
  activate?: boolean;
  /** job `end` */
  status?: string;
}

// ---- dialects ---------------------------------------------------------------------------------

interface Dialect {
  version(v: VersionSpec, name?: string): XEl;
  cpuType(type: string): XEl;
  topology(t: { sockets?: number; cores?: number; threads?: number }): XEl;
  os(type: string | undefined, boot: string[] | undefined): XEl;
  mac(address: string): XEl;
  ip(ip: IpSpec): XEl;
  option(name: string, value: string): XEl;
  status(value: string): XEl;
}

function defined(o: Record<string, string | number | undefined>): [string, string][] {
  return Object.entries(o)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => [k, String(v)]);
}

/** v3 writes scalar sub-properties as attributes (§4.2). */
const V3: Dialect = {
  version: (v, name = 'version') => el(name, { major: v.major, minor: v.minor }),
  cpuType: (type) => el('cpu', { id: type }),
  topology: (t) => el('topology', { sockets: t.sockets, cores: t.cores, threads: t.threads }),
  os: (type, boot) => el('os', type ? { type } : {}, (boot ?? []).map((d) => el('boot', { dev: d }))),
  mac: (address) => el('mac', { address }),
  ip: (ip) => el('ip', { address: ip.address, netmask: ip.netmask, gateway: ip.gateway }),
  option: (name, value) => el('option', { name, value }),
  status: (value) => el('status', {}, [textEl('state', value)]),
};

/** v4 writes everything but id/href as elements (§4.1). */
const V4: Dialect = {
  version: (v, name = 'version') => el(name, {}, [textEl('major', v.major), textEl('minor', v.minor)]),
  cpuType: (type) => el('cpu', {}, [textEl('type', type)]),
  topology: (t) => el('topology', {}, defined({ cores: t.cores, sockets: t.sockets, threads: t.threads }).map(([k, v]) => textEl(k, v))),
  os: (type, boot) => {
    const kids: XEl[] = [];
    if (boot?.length) kids.push(el('boot', {}, [el('devices', {}, boot.map((d) => textEl('device', d)))]));
    if (type) kids.push(textEl('type', type));
    return el('os', {}, kids);
  },
  mac: (address) => el('mac', {}, [textEl('address', address)]),
  ip: (ip) => el('ip', {}, defined({ address: ip.address, netmask: ip.netmask, gateway: ip.gateway }).map(([k, v]) => textEl(k, v))),
  option: (name, value) => el('option', {}, [textEl('name', name), textEl('value', value)]),
  status: (value) => textEl('status', value),
};

export function dialect(v: ApiVersion): Dialect {
  return v === 3 ? V3 : V4;
}

// ---- helpers ----------------------------------------------------------------------------------

export function refNode(name: string, r: RefSpec): XEl {
  if (r.id !== undefined) return el(name, { id: r.id });
  return el(name, {}, r.name !== undefined ? [textEl('name', r.name)] : []);
}

/** Push `<name>value</name>` only when the value is given. */
function opt(kids: XEl['children'], name: string, value: string | number | boolean | undefined): void {
  if (value !== undefined) kids.push(textEl(name, value));
}

// ---- entity bodies ----------------------------------------------------------------------------

export function dataCenterBody(v: ApiVersion, s: DataCenterSpec): XEl {
  const k: XEl[] = [textEl('name', s.name)];
  opt(k, 'description', s.description);
  opt(k, 'local', s.local);
  if (v === 3) opt(k, 'storage_type', s.storageType);
  opt(k, 'storage_format', s.storageFormat);
  if (s.version) k.push(dialect(v).version(s.version));
  return el('data_center', {}, k);
}

export function clusterBody(v: ApiVersion, s: ClusterSpec): XEl {
  const k: XEl[] = [textEl('name', s.name)];
  opt(k, 'description', s.description);
  if (s.cpuType) k.push(dialect(v).cpuType(s.cpuType));
  k.push(refNode('data_center', s.dataCenter));
  if (s.version) k.push(dialect(v).version(s.version));
  return el('cluster', {}, k);
}

export function powerManagementNode(v: ApiVersion, pm: PowerManagementSpec): XEl {
  const d = dialect(v);
  const k: XEl[] = [textEl('enabled', pm.enabled)];
  // v3 carries the agent type as an attribute (`<power_management type="ipmilan">`, §4.2).
  if (v === 4) opt(k, 'type', pm.type);
  opt(k, 'address', pm.address);
  opt(k, 'username', pm.username);
  opt(k, 'password', pm.password);
  if (pm.options && Object.keys(pm.options).length) k.push(el('options', {}, Object.entries(pm.options).map(([n, val]) => d.option(n, val))));
  return el('power_management', v === 3 && pm.type ? { type: pm.type } : {}, k);
}

export function hostBody(v: ApiVersion, s: HostSpec): XEl {
  const k: XEl[] = [textEl('name', s.name), textEl('address', s.address)];
  opt(k, 'root_password', s.rootPassword);
  opt(k, 'description', s.description);
  if (s.cluster) k.push(refNode('cluster', s.cluster));
  opt(k, 'port', s.port);
  if (s.powerManagement) k.push(powerManagementNode(v, s.powerManagement));
  return el('host', {}, k);
}

export function hostUpdateBody(v: ApiVersion, s: HostUpdateSpec): XEl {
  const k: XEl[] = [];
  opt(k, 'name', s.name);
  opt(k, 'address', s.address);
  opt(k, 'description', s.description);
  if (s.cluster) k.push(refNode('cluster', s.cluster));
  opt(k, 'port', s.port);
  if (s.powerManagement) k.push(powerManagementNode(v, s.powerManagement));
  return el('host', {}, k);
}

export function networkBody(_v: ApiVersion, s: NetworkSpec): XEl {
  const k: XEl[] = [textEl('name', s.name)];
  opt(k, 'description', s.description);
  k.push(refNode('data_center', s.dataCenter));
  if (s.vlanId !== undefined) k.push(el('vlan', { id: s.vlanId }));
  opt(k, 'mtu', s.mtu);
  opt(k, 'stp', s.stp);
  if (s.usages) k.push(el('usages', {}, s.usages.map((u) => textEl('usage', u))));
  return el('network', {}, k);
}

export function clusterNetworkBody(_v: ApiVersion, s: ClusterNetworkSpec): XEl {
  const n = refNode('network', s.network);
  opt(n.children, 'required', s.required);
  if (s.usages) n.children.push(el('usages', {}, s.usages.map((u) => textEl('usage', u))));
  return n;
}

export function storageDomainBody(v: ApiVersion, s: StorageDomainSpec): XEl {
  const st = s.storage;
  const sk: XEl[] = [textEl('type', st.type)];
  opt(sk, 'address', st.address);
  opt(sk, 'path', st.path);
  opt(sk, 'nfs_version', st.nfsVersion);
  opt(sk, 'mount_options', st.mountOptions);
  if (st.logicalUnits?.length) {
    const luns = st.logicalUnits.map((l) => {
      const lk: XEl[] = [];
      opt(lk, 'address', l.address);
      opt(lk, 'port', l.port);
      opt(lk, 'target', l.target);
      return el('logical_unit', { id: l.id }, lk);
    });
    // v4 wraps LUNs in <logical_units>; v3 lists them directly (§7.5).
    if (v === 4) sk.push(el('logical_units', {}, luns));
    else sk.push(...luns);
  }
  const k: XEl[] = [textEl('name', s.name), textEl('type', s.type)];
  opt(k, 'description', s.description);
  k.push(el('storage', {}, sk));
  opt(k, 'storage_format', s.storageFormat);
  k.push(refNode('host', s.host));
  return el('storage_domain', {}, k);
}

export function templateBody(_v: ApiVersion, s: TemplateSpec): XEl {
  const k: XEl[] = [textEl('name', s.name)];
  opt(k, 'description', s.description);
  k.push(refNode('vm', s.vm));
  return el('template', {}, k);
}

export function vmBody(v: ApiVersion, s: VmUpdateSpec & { cloneDisks?: boolean }): XEl {
  const d = dialect(v);
  const k: XEl[] = [];
  opt(k, 'name', s.name);
  opt(k, 'description', s.description);
  if (s.cluster) k.push(refNode('cluster', s.cluster));
  if (s.template) k.push(refNode('template', s.template));
  opt(k, 'memory', s.memory);
  if (s.cpu) k.push(el('cpu', {}, [d.topology(s.cpu)]));
  if (s.os && (s.os.type || s.os.boot?.length)) k.push(d.os(s.os.type, s.os.boot));
  opt(k, 'type', s.type);
  if (s.display) k.push(el('display', {}, [textEl('type', s.display.type)]));
  if (s.placement) {
    const pk: XEl[] = [];
    opt(pk, 'affinity', s.placement.affinity);
    const hosts = s.placement.hosts ?? [];
    // v3 has a single <host>; v4 a <hosts> list (§7.7, v3 schema VmPlacementPolicy).
    if (v === 3 && hosts[0]) pk.push(refNode('host', hosts[0]));
    if (v === 4 && hosts.length) pk.push(el('hosts', {}, hosts.map((h) => refNode('host', h))));
    k.push(el('placement_policy', {}, pk));
  }
  if (s.highAvailability !== undefined) k.push(el('high_availability', {}, [textEl('enabled', s.highAvailability)]));
  opt(k, 'stateless', s.stateless);
  if (v === 3 && s.cloneDisks) k.push(el('disks', {}, [textEl('clone', true)]));
  return el('vm', {}, k);
}

export function vmNicBody(v: ApiVersion, s: VmNicSpec): XEl {
  const k: XEl[] = [textEl('name', s.name)];
  opt(k, 'interface', s.interface);
  if (v === 3 && s.network) k.push(refNode('network', s.network));
  if (v === 4 && s.vnicProfile) k.push(refNode('vnic_profile', s.vnicProfile));
  if (s.mac) k.push(dialect(v).mac(s.mac));
  return el('nic', {}, k);
}

/** v3: `<disk>` to `/vms/{id}/disks`; v4: `<disk_attachment>` to `/vms/{id}/diskattachments` (§7.7). */
export function diskBody(v: ApiVersion, s: DiskBodySpec): XEl {
  const sd = el('storage_domains', {}, [refNode('storage_domain', s.storageDomain)]);
  if (v === 3) {
    const k: XEl[] = [];
    opt(k, 'name', s.name);
    opt(k, 'description', s.description);
    k.push(textEl('size', s.size));
    opt(k, 'interface', s.interface);
    opt(k, 'format', s.format);
    opt(k, 'sparse', s.sparse);
    opt(k, 'bootable', s.bootable);
    k.push(sd);
    return el('disk', {}, k);
  }
  const dk: XEl[] = [];
  opt(dk, 'description', s.description);
  opt(dk, 'format', s.format);
  opt(dk, 'name', s.name);
  dk.push(textEl('provisioned_size', s.size));
  opt(dk, 'sparse', s.sparse);
  dk.push(sd);
  const k: XEl[] = [];
  opt(k, 'bootable', s.bootable ?? false);
  opt(k, 'interface', s.interface ?? 'virtio');
  k.push(textEl('active', true));
  k.push(el('disk', {}, dk));
  return el('disk_attachment', {}, k);
}

export function hostNicUpdateBody(v: ApiVersion, s: { bootProtocol?: string; ip?: IpSpec }): XEl {
  const k: XEl[] = [];
  opt(k, 'boot_protocol', s.bootProtocol);
  if (s.ip) k.push(dialect(v).ip(s.ip));
  return el('host_nic', {}, k);
}

// ---- actions ----------------------------------------------------------------------------------

function setupNetworksNodes(v: ApiVersion, s: SetupNetworksSpec): XEl[] {
  const d = dialect(v);
  const out: XEl[] = [];
  if (s.modifiedBonds?.length) {
    out.push(
      el(
        'modified_bonds',
        {},
        s.modifiedBonds.map((b) => {
          const bk: XEl[] = [];
          if (b.options && Object.keys(b.options).length) bk.push(el('options', {}, Object.entries(b.options).map(([n, val]) => d.option(n, val))));
          bk.push(el('slaves', {}, b.slaves.map((sl) => refNode('host_nic', sl))));
          return el('host_nic', {}, [textEl('name', b.name), el('bonding', {}, bk)]);
        }),
      ),
    );
  }
  if (s.modifiedNetworkAttachments?.length) {
    out.push(
      el(
        'modified_network_attachments',
        {},
        s.modifiedNetworkAttachments.map((a) => {
          const ak: XEl[] = [refNode('network', a.network), refNode('host_nic', a.hostNic)];
          if (a.bootProtocol) {
            const ik: XEl[] = [textEl('assignment_method', a.bootProtocol)];
            if (a.ip) ik.push(d.ip(a.ip));
            ak.push(el('ip_address_assignments', {}, [el('ip_address_assignment', {}, ik)]));
          }
          if (a.nameServers?.length) {
            ak.push(el('dns_resolver_configuration', {}, [el('name_servers', {}, a.nameServers.map((ns) => textEl('name_server', ns)))]));
          }
          return el('network_attachment', {}, ak);
        }),
      ),
    );
  }
  if (s.removedNetworkAttachments?.length) {
    out.push(el('removed_network_attachments', {}, s.removedNetworkAttachments.map((r) => refNode('network_attachment', r))));
  }
  opt(out, 'check_connectivity', s.checkConnectivity);
  opt(out, 'connectivity_timeout', s.connectivityTimeout);
  opt(out, 'commit_on_success', s.commitOnSuccess);
  return out;
}

/** The `<action>` envelope (§5.2): `<action/>` when there are no parameters. */
export function actionBody(v: ApiVersion, p: ActionParams = {}): XEl {
  const d = dialect(v);
  const k: XEl[] = [];
  if (p.setupNetworks) k.push(...setupNetworksNodes(v, p.setupNetworks));
  if (p.cluster) k.push(refNode('cluster', p.cluster));
  if (p.host) k.push(refNode('host', p.host));
  if (p.network) k.push(refNode('network', p.network));
  if (p.storageDomain) k.push(refNode('storage_domain', p.storageDomain));
  opt(k, 'root_password', p.rootPassword);
  opt(k, 'image', p.image);
  opt(k, 'fence_type', p.fenceType);
  if (p.vm) {
    const vk: XEl[] = [];
    opt(vk, 'name', p.vm.name);
    if (p.vm.bootDevices?.length) vk.push(d.os(undefined, p.vm.bootDevices));
    if (p.vm.host) vk.push(el('placement_policy', {}, v === 3 ? [refNode('host', p.vm.host)] : [el('hosts', {}, [refNode('host', p.vm.host)])]));
    k.push(el('vm', {}, vk));
  }
  if (p.ticket) {
    const tk: XEl[] = [];
    opt(tk, 'value', p.ticket.value);
    opt(tk, 'expiry', p.ticket.expiry);
    k.push(el('ticket', {}, tk));
  }
  opt(k, 'discard_snapshots', p.discardSnapshots);
  opt(k, 'exclusive', p.exclusive);
  opt(k, 'activate', p.activate);
  opt(k, 'force', p.force);
  opt(k, 'reason', p.reason);
  if (p.status) k.push(d.status(p.status));
  opt(k, 'async', p.async);
  return el('action', {}, k);
}

/** v3 storage-domain removal body (`DELETE /storagedomains/{id}`, §7.5); v4 uses query params. */
export function storageDomainRemoveBodyV3(host: RefSpec, format: boolean, destroy?: boolean): XEl {
  const k: XEl[] = [refNode('host', host), textEl('format', format)];
  opt(k, 'destroy', destroy);
  return el('storage_domain', {}, k);
}
