/**
 * Engine documents → model. One decoder per type serves v3 XML, v4 XML and v4 JSON, because the
 * tree accessors (`prop`) read attributes and elements alike (ovirt-api.md §4.1 vs §4.2). Decoders
 * are lenient about unknown or missing elements and about order (§10), strict only about what makes
 * a document unusable (wrong root, an entity without an id); they never throw.
 */
import type {
  ActionResult,
  ApiRoot,
  ApiVersion,
  Cluster,
  CpuTopology,
  DataCenter,
  Disk,
  Entity,
  EntityKind,
  EntityKinds,
  Fault,
  Host,
  HostNic,
  Ip,
  Job,
  Network,
  NetworkAttachment,
  Ref,
  StorageDomain,
  Template,
  Version,
  Vm,
  VmNic,
  VnicProfile,
} from './model.js';
import { COLLECTION_ELEMENT } from './model.js';
import { find, kids, text, type Parsed, type XEl } from '../xml/tree.js';
import { path, prop } from './xml.js';

// ---- scalars ----------------------------------------------------------------------------------

function str(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

function num(v: string | undefined): number | undefined {
  if (v === undefined || v.trim() === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** Booleans arrive as `true`/`false` elements or JSON strings (§1.3). */
function bool(v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  const s = v.trim().toLowerCase();
  if (s === 'true') return true;
  if (s === 'false') return false;
  return undefined;
}

/**
 * A status, in either dialect: v4 `<status>up</status>`, v3 `<status><state>up</state></status>`.
 * Values are lower-cased and spaces become underscores so that the 3.0 guide's prose forms
 * (`UP`, `NON OPERATIONAL`, §4.3) read as the strings the engine code really emits.
 */
export function statusOf(n: XEl | undefined, name = 'status'): { state?: string; detail?: string } {
  const s = find(n, name);
  if (!s) return {};
  const raw = find(s, 'state') ? prop(s, 'state') : text(s);
  const state = str(raw?.trim().toLowerCase().replace(/\s+/g, '_'));
  const detail = str(prop(s, 'detail'));
  return { ...(state !== undefined && { state }), ...(detail !== undefined && { detail }) };
}

function ref(n: XEl | undefined): Ref | undefined {
  if (!n) return undefined;
  const id = str(prop(n, 'id'));
  const href = str(prop(n, 'href'));
  const name = str(prop(n, 'name'));
  if (id === undefined && href === undefined && name === undefined) return undefined;
  return { ...(id !== undefined && { id }), ...(href !== undefined && { href }), ...(name !== undefined && { name }) };
}

/** `<version major="3" minor="6"/>` (v3) or `<version><major>4</major>…</version>` (v4). */
export function versionOf(n: XEl | undefined): Version | undefined {
  if (!n) return undefined;
  const major = num(prop(n, 'major'));
  const minor = num(prop(n, 'minor'));
  if (major === undefined) return undefined;
  const v: Version = { major, minor: minor ?? 0 };
  const build = num(prop(n, 'build'));
  const revision = num(prop(n, 'revision'));
  const fullVersion = str(prop(n, 'full_version'));
  if (build !== undefined) v.build = build;
  if (revision !== undefined) v.revision = revision;
  if (fullVersion !== undefined) v.fullVersion = fullVersion;
  return v;
}

function linksOf(n: XEl): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of kids(n, 'link')) {
    const rel = l.attrs['rel'] ?? prop(l, 'rel');
    const href = l.attrs['href'] ?? prop(l, 'href');
    if (rel && href) out[rel] = href.replace(/\s+/g, '');
  }
  return out;
}

function base(n: XEl): Entity {
  const acts = find(n, 'actions');
  const e: Entity = { id: prop(n, 'id') ?? '', links: linksOf(n), actions: acts ? Object.keys(linksOf(acts)) : [] };
  const href = str(prop(n, 'href'));
  const name = str(prop(n, 'name'));
  const description = str(prop(n, 'description'));
  const comment = str(prop(n, 'comment'));
  if (href !== undefined) e.href = href;
  if (name !== undefined) e.name = name;
  if (description !== undefined) e.description = description;
  if (comment !== undefined) e.comment = comment;
  return e;
}

/** Drop undefined members so decoded objects compare cleanly with deepEqual. */
function clean<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

function topology(n: XEl | undefined): CpuTopology | undefined {
  if (!n) return undefined;
  return clean({ sockets: num(prop(n, 'sockets')), cores: num(prop(n, 'cores')), threads: num(prop(n, 'threads')) });
}

function ip(n: XEl | undefined): Ip | undefined {
  if (!n) return undefined;
  const r = clean({ address: str(prop(n, 'address')), netmask: str(prop(n, 'netmask')), gateway: str(prop(n, 'gateway')) });
  return Object.keys(r).length ? r : undefined;
}

// ---- entities -------------------------------------------------------------------------------

function dataCenter(n: XEl): DataCenter {
  return clean({
    ...base(n),
    status: statusOf(n).state,
    local: bool(prop(n, 'local')),
    storageType: str(prop(n, 'storage_type')),
    storageFormat: str(prop(n, 'storage_format')),
    quotaMode: str(prop(n, 'quota_mode')),
    version: versionOf(find(n, 'version')),
    supportedVersions: kids(find(n, 'supported_versions'), 'version')
      .map(versionOf)
      .filter((v): v is Version => v !== undefined),
  });
}

function cluster(n: XEl): Cluster {
  const cpu = find(n, 'cpu');
  // v3 names the CPU type in the `id` attribute (`<cpu id="Intel Penryn Family"/>`), v4 in `<type>`.
  return clean({
    ...base(n),
    cpuType: str(prop(cpu, 'type')) ?? str(cpu?.attrs['id']),
    cpuArchitecture: str(prop(cpu, 'architecture')),
    dataCenter: ref(find(n, 'data_center')),
    version: versionOf(find(n, 'version')),
  });
}

function host(n: XEl): Host {
  const st = statusOf(n);
  const cpu = find(n, 'cpu');
  const pm = find(n, 'power_management');
  const os = find(n, 'os');
  const osVersion = find(os, 'version');
  // v4 `<spm><status>spm</status></spm>`; v3 `<storage_manager>true</storage_manager>`.
  const spmV4 = statusOf(find(n, 'spm')).state;
  const sm = bool(prop(n, 'storage_manager'));
  return clean({
    ...base(n),
    address: str(prop(n, 'address')),
    status: st.state,
    statusDetail: str(prop(n, 'status_detail')) ?? st.detail,
    externalStatus: statusOf(n, 'external_status').state,
    port: num(prop(n, 'port')),
    type: str(prop(n, 'type')),
    cluster: ref(find(n, 'cluster')),
    cpu: cpu ? clean({ name: str(prop(cpu, 'name')), speed: num(prop(cpu, 'speed')), topology: topology(find(cpu, 'topology')) }) : undefined,
    memory: num(prop(n, 'memory')),
    maxSchedulingMemory: num(prop(n, 'max_scheduling_memory')),
    os: os ? clean({ type: str(prop(os, 'type')), version: str(prop(osVersion, 'full_version')) ?? str(text(osVersion)) }) : undefined,
    powerManagement: pm
      ? clean({
          enabled: bool(prop(pm, 'enabled')),
          type: str(prop(pm, 'type')),
          address: str(prop(pm, 'address')),
          username: str(prop(pm, 'username')),
          status: statusOf(pm).state,
        })
      : undefined,
    spm: spmV4 ?? (sm === undefined ? undefined : sm ? 'spm' : 'none'),
  });
}

function hostNic(n: XEl): HostNic {
  return clean({
    ...base(n),
    mac: str(path(n, 'mac/address')),
    ip: ip(find(n, 'ip')),
    bootProtocol: str(prop(n, 'boot_protocol')),
    status: statusOf(n).state,
    speed: num(prop(n, 'speed')),
    mtu: num(prop(n, 'mtu')),
    bridged: bool(prop(n, 'bridged')),
    network: ref(find(n, 'network')),
    host: ref(find(n, 'host')),
    bondSlaves: kids(find(find(n, 'bonding'), 'slaves'), 'host_nic')
      .map(ref)
      .filter((r): r is Ref => r !== undefined),
  });
}

function network(n: XEl): Network {
  const vlan = find(n, 'vlan');
  return clean({
    ...base(n),
    dataCenter: ref(find(n, 'data_center')),
    cluster: ref(find(n, 'cluster')),
    vlanId: num(prop(vlan, 'id')),
    stp: bool(prop(n, 'stp')),
    mtu: num(prop(n, 'mtu')),
    usages: kids(find(n, 'usages'), 'usage').map((u) => text(u)),
    required: bool(prop(n, 'required')),
    display: bool(prop(n, 'display')),
    status: statusOf(n).state,
  });
}

function vnicProfile(n: XEl): VnicProfile {
  return clean({ ...base(n), network: ref(find(n, 'network')) });
}

function networkAttachment(n: XEl): NetworkAttachment {
  return clean({ ...base(n), network: ref(find(n, 'network')), hostNic: ref(find(n, 'host_nic')), host: ref(find(n, 'host')), inSync: bool(prop(n, 'in_sync')) });
}

function storageDomain(n: XEl): StorageDomain {
  const s = find(n, 'storage');
  // v4 wraps LUNs in `<logical_units>`; v3 repeats `<logical_unit>` directly under `<storage>`.
  const luns = [...kids(find(s, 'logical_units'), 'logical_unit'), ...kids(s, 'logical_unit')];
  return clean({
    ...base(n),
    type: str(prop(n, 'type')),
    status: statusOf(n).state,
    externalStatus: statusOf(n, 'external_status').state,
    master: bool(prop(n, 'master')),
    available: num(prop(n, 'available')),
    used: num(prop(n, 'used')),
    committed: num(prop(n, 'committed')),
    storageFormat: str(prop(n, 'storage_format')),
    storage: s
      ? clean({
          type: str(prop(s, 'type')),
          address: str(prop(s, 'address')),
          path: str(prop(s, 'path')),
          nfsVersion: str(prop(s, 'nfs_version')),
          logicalUnits: luns
            .map((l) => clean({ id: prop(l, 'id') ?? '', address: str(prop(l, 'address')), port: num(prop(l, 'port')), target: str(prop(l, 'target')), size: num(prop(l, 'size')) }))
            .filter((l) => l.id !== ''),
        })
      : undefined,
    dataCenters: kids(find(n, 'data_centers'), 'data_center')
      .map(ref)
      .filter((r): r is Ref => r !== undefined),
    dataCenter: ref(find(n, 'data_center')),
  });
}

function template(n: XEl): Template {
  return clean({
    ...base(n),
    status: statusOf(n).state,
    memory: num(prop(n, 'memory')),
    cluster: ref(find(n, 'cluster')),
    vm: ref(find(n, 'vm')),
    osType: str(prop(find(n, 'os'), 'type')),
  });
}

function bootDevices(os: XEl | undefined): string[] {
  // v4: <boot><devices><device>hd</device></devices></boot>; v3: <boot dev="hd"/> repeated.
  const v4 = kids(find(find(os, 'boot'), 'devices'), 'device').map((d) => text(d));
  if (v4.length) return v4;
  return kids(os, 'boot')
    .map((b) => b.attrs['dev'] ?? '')
    .filter((d) => d !== '');
}

function vm(n: XEl): Vm {
  const st = statusOf(n);
  const cpu = find(n, 'cpu');
  const os = find(n, 'os');
  const display = find(n, 'display');
  const pp = find(n, 'placement_policy');
  const ha = find(n, 'high_availability') ?? find(n, 'highly_available');
  const guest = find(n, 'guest_info');
  const guestIps = [...kids(find(guest, 'ips'), 'ip'), ...kids(guest, 'ip')]
    .map((i) => prop(i, 'address') ?? '')
    .filter((a) => a !== '');
  return clean({
    ...base(n),
    status: st.state,
    statusDetail: str(prop(n, 'status_detail')) ?? st.detail,
    type: str(prop(n, 'type')),
    memory: num(prop(n, 'memory')),
    cpu: cpu ? clean({ architecture: str(prop(cpu, 'architecture')), topology: topology(find(cpu, 'topology')) }) : undefined,
    os: os ? clean({ type: str(prop(os, 'type')), boot: bootDevices(os) }) : undefined,
    cluster: ref(find(n, 'cluster')),
    template: ref(find(n, 'template')),
    originalTemplate: ref(find(n, 'original_template')),
    host: ref(find(n, 'host')),
    display: display
      ? clean({
          type: str(prop(display, 'type')),
          address: str(prop(display, 'address')),
          port: num(prop(display, 'port')),
          securePort: num(prop(display, 'secure_port')),
          monitors: num(prop(display, 'monitors')),
        })
      : undefined,
    placementPolicy: pp
      ? clean({
          affinity: str(prop(pp, 'affinity')),
          hosts: [...kids(find(pp, 'hosts'), 'host'), ...kids(pp, 'host')].map(ref).filter((r): r is Ref => r !== undefined),
        })
      : undefined,
    stateless: bool(prop(n, 'stateless')),
    highAvailability: bool(prop(ha, 'enabled')),
    startTime: str(prop(n, 'start_time')),
    stopTime: str(prop(n, 'stop_time')),
    creationTime: str(prop(n, 'creation_time')),
    origin: str(prop(n, 'origin')),
    fqdn: str(prop(n, 'fqdn')),
    guestIps,
    creationStatus: statusOf(n, 'creation_status').state,
  });
}

function vmNic(n: XEl): VmNic {
  return clean({
    ...base(n),
    interface: str(prop(n, 'interface')),
    mac: str(path(n, 'mac/address')),
    network: ref(find(n, 'network')),
    vnicProfile: ref(find(n, 'vnic_profile')),
    plugged: bool(prop(n, 'plugged')),
    linked: bool(prop(n, 'linked')),
    vm: ref(find(n, 'vm')),
  });
}

/** v3 `<disk>` or v4 `<disk_attachment>` (whose disk is a reference unless `follow` inlined it). */
function disk(n: XEl): Disk {
  const isAttachment = n.name === 'disk_attachment';
  const d = isAttachment ? find(n, 'disk') : n;
  const b = base(d ?? n);
  const sds = kids(find(d, 'storage_domains'), 'storage_domain')
    .map(ref)
    .filter((r): r is Ref => r !== undefined);
  return clean({
    ...b,
    id: isAttachment ? (prop(d, 'id') ?? prop(n, 'id') ?? '') : b.id,
    links: isAttachment ? linksOf(n) : b.links,
    attachmentId: isAttachment ? str(prop(n, 'id')) : undefined,
    bootable: bool(prop(n, 'bootable')),
    interface: str(prop(n, 'interface')),
    active: bool(prop(n, 'active')),
    format: str(prop(d, 'format')),
    provisionedSize: num(prop(d, 'provisioned_size')) ?? num(prop(d, 'size')),
    status: statusOf(d).state,
    storageDomains: sds,
  });
}

function job(n: XEl): Job {
  return clean({
    ...base(n),
    status: statusOf(n).state,
    startTime: str(prop(n, 'start_time')),
    endTime: str(prop(n, 'end_time')),
    lastUpdated: str(prop(n, 'last_updated')),
    external: bool(prop(n, 'external')),
    autoCleared: bool(prop(n, 'auto_cleared')),
    owner: ref(find(n, 'owner')),
  });
}

const DECODERS: { [K in EntityKind]: (n: XEl) => EntityKinds[K] } = {
  data_center: dataCenter,
  cluster,
  host,
  host_nic: hostNic,
  network,
  vnic_profile: vnicProfile,
  network_attachment: networkAttachment,
  storage_domain: storageDomain,
  template,
  vm,
  nic: vmNic,
  disk,
  disk_attachment: disk,
  job,
};

/** Decode one entity document; the root must be the kind's element and must carry an id. */
export function decodeEntity<K extends EntityKind>(kind: K, n: XEl): Parsed<EntityKinds[K]> {
  if (n.name !== kind) return { ok: false, reason: `expected <${kind}>, got <${n.name}>` };
  const e = DECODERS[kind](n);
  if (!e.id) return { ok: false, reason: `<${kind}> without an id` };
  return { ok: true, value: e };
}

/** Decode a collection (`<vms><vm/>…</vms>`); elements without an id are skipped, not fatal. */
export function decodeList<K extends EntityKind>(kind: K, n: XEl): Parsed<EntityKinds[K][]> {
  const plural = COLLECTION_ELEMENT[kind];
  if (n.name !== plural) return { ok: false, reason: `expected <${plural}>, got <${n.name}>` };
  const out: EntityKinds[K][] = [];
  for (const c of kids(n, kind)) {
    const e = DECODERS[kind](c);
    if (e.id) out.push(e);
  }
  return { ok: true, value: out };
}

/** Strip the Java list brackets the engine puts around backend messages (`[msg1, msg2]`, §5.4). */
export function stripBrackets(detail: string): string {
  const t = detail.trim();
  return t.startsWith('[') && t.endsWith(']') ? t.slice(1, -1).trim() : t;
}

export function decodeFault(n: XEl | undefined): Fault | undefined {
  if (!n) return undefined;
  const f = n.name === 'fault' ? n : find(n, 'fault');
  if (!f) return undefined;
  return { reason: prop(f, 'reason') ?? '', detail: stripBrackets(prop(f, 'detail') ?? '') };
}

/** `<action>` responses and async status documents (`<action>`/`<creation>`, §5.2, §5.3). */
export function decodeAction(n: XEl): Parsed<ActionResult> {
  if (n.name !== 'action' && n.name !== 'creation') return { ok: false, reason: `expected <action>, got <${n.name}>` };
  const ticket = find(n, 'ticket');
  const r: ActionResult = clean({
    id: str(prop(n, 'id')),
    href: str(prop(n, 'href')),
    status: statusOf(n).state,
    fault: decodeFault(n),
    job: ref(find(n, 'job')),
    async: bool(prop(n, 'async')),
    links: linksOf(n),
    ticket: ticket ? clean({ value: str(prop(ticket, 'value')), expiry: num(prop(ticket, 'expiry')) }) : undefined,
    powerStatus: statusOf(find(n, 'power_management')).state,
    vm: ref(find(n, 'vm')),
    host: ref(find(n, 'host')),
  });
  return { ok: true, value: r };
}

/**
 * The API root. Its dialect is read from how the version is written (§1.2, §10): attributes
 * (`<version major="3"/>`, 3.0's `<system_version major="3"/>`) mean v3, elements mean v4.
 */
export function decodeApiRoot(n: XEl): Parsed<ApiRoot> {
  if (n.name !== 'api') return { ok: false, reason: `expected <api>, got <${n.name}>` };
  const pi = find(n, 'product_info');
  const vNode = find(pi, 'version') ?? find(n, 'system_version');
  let dialect: ApiVersion | undefined;
  if (vNode?.attrs['major'] !== undefined) dialect = 3;
  else if (find(vNode, 'major')) dialect = 4;
  if (dialect === undefined) return { ok: false, reason: 'API root without a version' };
  const links = linksOf(n);
  const special = find(n, 'special_objects');
  const blankV3 = linksOf(special ?? n)['templates/blank'];
  const blank = str(prop(find(special, 'blank_template'), 'id')) ?? (blankV3 ? blankV3.split('/').pop() : undefined);
  return {
    ok: true,
    value: clean({
      dialect,
      productName: str(prop(pi, 'name')),
      vendor: str(prop(pi, 'vendor')),
      version: versionOf(vNode),
      links,
      blankTemplateId: blank,
      time: str(prop(n, 'time')),
    }),
  };
}
