/**
 * The one typed model of the engine's resources, shared by API v3 and v4 (ovirt-api.md §4).
 *
 * The engine's two dialects differ in *how* they spell things (v3 `<status><state>up</state>`,
 * `major="3"` attributes; v4 `<status>up</status>`, `<major>4</major>` elements) but not in *what*
 * they say: the status strings, ids and sizes are the same. The codec maps both onto these types,
 * so nothing above the codec knows which dialect an engine speaks.
 *
 * Rules that follow from §10: ids are opaque strings; hrefs are opaque absolute paths; every field
 * but `id` is optional because the engine omits what it does not know and old engines lack fields.
 */

export type ApiVersion = 3 | 4;

/** A reference to another entity: `<cluster id="…" href="…"/>` or, on input, `<cluster><name>…</name></cluster>`. */
export interface Ref {
  id?: string;
  href?: string;
  name?: string;
}

export interface Version {
  major: number;
  minor: number;
  build?: number;
  revision?: number;
  fullVersion?: string;
}

/** What every entity carries: identity plus its `<link rel href>` and `<actions>` tables. */
export interface Entity {
  id: string;
  href?: string;
  name?: string;
  description?: string;
  comment?: string;
  /** rel → href of the entity's sub-collections (`nics`, `diskattachments`, `creation_status` …). */
  links: Record<string, string>;
  /** Names of the actions the engine offers on this entity right now (`start`, `approve` …). */
  actions: string[];
}

/** The API root document (§7.1; v3 §4.2 incl. the 3.0 `system_version`). */
export interface ApiRoot {
  /** Which dialect the document is written in: attributes (3) or elements (4). */
  dialect: ApiVersion;
  productName?: string;
  vendor?: string;
  version?: Version;
  links: Record<string, string>;
  blankTemplateId?: string;
  time?: string;
}

export interface DataCenter extends Entity {
  /** uninitialized | up | maintenance | not_operational | problematic | contend (§7.2) */
  status?: string;
  local?: boolean;
  /** v3.0/3.1 only: nfs | iscsi | fcp | localfs */
  storageType?: string;
  storageFormat?: string;
  quotaMode?: string;
  version?: Version;
  supportedVersions: Version[];
}

export interface Cluster extends Entity {
  cpuType?: string;
  cpuArchitecture?: string;
  dataCenter?: Ref;
  version?: Version;
}

export interface CpuTopology {
  sockets?: number;
  cores?: number;
  threads?: number;
}

export interface PowerManagement {
  enabled?: boolean;
  type?: string;
  address?: string;
  username?: string;
  /** Write-only; never parsed back from the engine. */
  password?: string;
  /** Output of fence `status` (on | off | unknown). */
  status?: string;
}

export interface Host extends Entity {
  address?: string;
  /** down, error, initializing, installing, install_failed, maintenance, non_operational, non_responsive,
   *  pending_approval, preparing_for_maintenance, connecting, reboot, unassigned, up, installing_os, kdumping (§7.4) */
  status?: string;
  statusDetail?: string;
  externalStatus?: string;
  port?: number;
  /** rhel | ovirt_node (v4) | rhev-h (v3) */
  type?: string;
  cluster?: Ref;
  cpu?: { name?: string; speed?: number; topology?: CpuTopology };
  memory?: number;
  /** Bytes the scheduler can still give to new VMs (§7.4); what placement weighs on. */
  maxSchedulingMemory?: number;
  os?: { type?: string; version?: string };
  powerManagement?: PowerManagement;
  /** v4 `spm/status` or v3 `storage_manager` true → "spm". */
  spm?: string;
}

export interface Ip {
  address?: string;
  netmask?: string;
  gateway?: string;
}

export interface HostNic extends Entity {
  mac?: string;
  ip?: Ip;
  bootProtocol?: string;
  status?: string;
  speed?: number;
  mtu?: number;
  bridged?: boolean;
  /** v3: the network attached to the NIC. */
  network?: Ref;
  host?: Ref;
  bondSlaves: Ref[];
}

export interface Network extends Entity {
  dataCenter?: Ref;
  /** Present when the network is seen through a cluster (§7.3). */
  cluster?: Ref;
  vlanId?: number;
  stp?: boolean;
  mtu?: number;
  usages: string[];
  required?: boolean;
  display?: boolean;
  /** operational | non_operational (cluster view) */
  status?: string;
}

export interface VnicProfile extends Entity {
  network?: Ref;
}

/**
 * v4 / 3.6+ `/hosts/{id}/networkattachments`: which logical network sits on which host NIC
 * (§7.4). The v3 API shows the same fact as `host_nic/network` instead.
 */
export interface NetworkAttachment extends Entity {
  network?: Ref;
  hostNic?: Ref;
  host?: Ref;
  /** false while the host's real configuration differs from the engine's */
  inSync?: boolean;
}

export interface LogicalUnit {
  id: string;
  address?: string;
  port?: number;
  target?: string;
  size?: number;
}

export interface StorageDomain extends Entity {
  /** data | iso | export | image | volume */
  type?: string;
  /** unattached, active, inactive, locked, maintenance, … (§7.5) */
  status?: string;
  externalStatus?: string;
  master?: boolean;
  available?: number;
  used?: number;
  committed?: number;
  storageFormat?: string;
  storage?: { type?: string; address?: string; path?: string; nfsVersion?: string; logicalUnits: LogicalUnit[] };
  dataCenters: Ref[];
  /** Present on the DC-scoped view (`/datacenters/{dc}/storagedomains/{sd}`). */
  dataCenter?: Ref;
}

export interface Template extends Entity {
  /** illegal | locked | ok */
  status?: string;
  memory?: number;
  cluster?: Ref;
  vm?: Ref;
  osType?: string;
}

export interface Display {
  type?: string;
  address?: string;
  port?: number;
  securePort?: number;
  monitors?: number;
}

export interface Vm extends Entity {
  /** unassigned, down, up, powering_up, paused, migrating, unknown, not_responding, wait_for_launch,
   *  reboot_in_progress, saving_state, restoring_state, suspended, image_locked, powering_down (§7.7) */
  status?: string;
  statusDetail?: string;
  /** desktop | server | high_performance */
  type?: string;
  memory?: number;
  cpu?: { architecture?: string; topology?: CpuTopology };
  os?: { type?: string; boot: string[] };
  cluster?: Ref;
  template?: Ref;
  originalTemplate?: Ref;
  host?: Ref;
  display?: Display;
  placementPolicy?: { affinity?: string; hosts: Ref[] };
  stateless?: boolean;
  highAvailability?: boolean;
  startTime?: string;
  stopTime?: string;
  creationTime?: string;
  origin?: string;
  fqdn?: string;
  /** Guest addresses reported by the guest agent (v3 `guest_info/ips`). */
  guestIps: string[];
  /** pending | in_progress | complete | failed while an async add runs (§5.1). */
  creationStatus?: string;
}

export interface VmNic extends Entity {
  interface?: string;
  mac?: string;
  network?: Ref;
  vnicProfile?: Ref;
  plugged?: boolean;
  linked?: boolean;
  vm?: Ref;
}

export interface Disk extends Entity {
  /** v4 disk attachment fields, or the v3 disk itself. */
  attachmentId?: string;
  bootable?: boolean;
  interface?: string;
  active?: boolean;
  format?: string;
  provisionedSize?: number;
  /** locked | ok | illegal */
  status?: string;
  storageDomains: Ref[];
}

export interface Job extends Entity {
  /** started | finished | failed | aborted | unknown (§5.5) */
  status?: string;
  startTime?: string;
  endTime?: string;
  lastUpdated?: string;
  external?: boolean;
  autoCleared?: boolean;
  owner?: Ref;
}

/** `<fault><reason/><detail/></fault>` (§5.4). `detail` has the Java list brackets stripped. */
export interface Fault {
  reason: string;
  detail: string;
}

/** The response to an action (§5.2, §5.3): echoed action plus status, job, outputs, or a fault. */
export interface ActionResult {
  id?: string;
  href?: string;
  /** complete | pending | in_progress | failed */
  status?: string;
  fault?: Fault;
  job?: Ref;
  async?: boolean;
  links: Record<string, string>;
  /** ticket action output */
  ticket?: { value?: string; expiry?: number };
  /** fence `status` output: on | off | unknown */
  powerStatus?: string;
  /** Entities carried in the response (e.g. a VM or host echoed back). */
  vm?: Ref;
  host?: Ref;
}

/** SSO token endpoint reply (§2.3). */
export interface SsoToken {
  accessToken: string;
  /** epoch milliseconds, when the engine said so */
  expiresAt?: number;
  tokenType?: string;
}

export interface EntityKinds {
  data_center: DataCenter;
  cluster: Cluster;
  host: Host;
  host_nic: HostNic;
  network: Network;
  vnic_profile: VnicProfile;
  network_attachment: NetworkAttachment;
  storage_domain: StorageDomain;
  template: Template;
  vm: Vm;
  nic: VmNic;
  disk: Disk;
  disk_attachment: Disk;
  job: Job;
}
export type EntityKind = keyof EntityKinds;

/** Collection element name for each kind (§4.1: plural root, singular children). */
export const COLLECTION_ELEMENT: Record<EntityKind, string> = {
  data_center: 'data_centers',
  cluster: 'clusters',
  host: 'hosts',
  host_nic: 'host_nics',
  network: 'networks',
  vnic_profile: 'vnic_profiles',
  network_attachment: 'network_attachments',
  storage_domain: 'storage_domains',
  template: 'templates',
  vm: 'vms',
  nic: 'nics',
  disk: 'disks',
  disk_attachment: 'disk_attachments',
  job: 'jobs',
};
