// Representations of every simulated entity, in the v4 shape (ovirt-api.md §4.1) or the v3 shape
// (§4.2): status as <status>x</status> vs <status><state>x</state></status>, version/topology/os/
// boot/mac/ip as elements vs attributes, host type ovirt_node vs rhev-h, VM NICs naming a network.
// v3 element order is fixed afterwards by toXml (the XSD's sequence order, see v3-order.ts).
import { el, listEl, t, type El } from './xml.js';
import type {
  AsyncTask, Cluster, CpuTopology, DataCenter, Disk, EngineEvent, EngineState, Host, HostNic, Job, Network, StorageDomain,
  Template, Version, Vm, VmNic, VnicProfile,
} from './state.js';
import { ADMIN_USER_ID, BLANK_TEMPLATE_ID, DEFAULT_MAC_POOL_ID, DEFAULT_SCHEDULING_POLICY_ID, ROOT_TAG_ID } from './state.js';

/** Rendering context: API flavour and the base path every href starts with. */
export interface R { v: 3 | 4; base: string }

export const date = (d: Date): string => d.toISOString().replace('Z', '+00:00');

export function href(r: R, ...parts: string[]): string {
  return [r.base, ...parts].join('/');
}

export function refEl(r: R, name: string, collection: string, id: string): El {
  return el(name, { href: href(r, collection, id), id });
}

export function statusEl(r: R, value: string, detail?: string): El[] {
  if (r.v === 3) return [el('status', null, [t('state', value), detail ? t('detail', detail) : null])];
  return [t('status', value)!, ...(detail ? [t('status_detail', detail)!] : [])];
}

export function versionEl(r: R, name: string, v: Version & { build?: number; revision?: number; full?: string }): El {
  if (r.v === 3) return el(name, { major: v.major, minor: v.minor, build: v.build, revision: v.revision, full_version: v.full });
  return el(name, null, [t('build', v.build), t('full_version', v.full), t('major', v.major), t('minor', v.minor), t('revision', v.revision)]);
}

function topologyEl(r: R, c: CpuTopology): El {
  if (r.v === 3) return el('topology', { sockets: c.sockets, cores: c.cores, threads: c.threads });
  return el('topology', null, [t('cores', c.cores), t('sockets', c.sockets), t('threads', c.threads)]);
}

function osEl(r: R, type: string, boot: string[]): El {
  if (r.v === 3) return el('os', { type }, [...boot.map((d) => el('boot', { dev: d })), t('kernel', ''), t('initrd', ''), t('cmdline', '')]);
  return el('os', null, [el('boot', null, [listEl('devices', boot.map((d) => t('device', d)))]), t('type', type)]);
}

function macEl(r: R, mac: string): El {
  return r.v === 3 ? el('mac', { address: mac }) : el('mac', null, [t('address', mac)]);
}

function ipEl(r: R, ip: { address: string; netmask: string; gateway?: string | undefined } | undefined): El {
  if (r.v === 3) return el('ip', ip ? { address: ip.address, netmask: ip.netmask, gateway: ip.gateway } : null);
  return el('ip', null, ip ? [t('address', ip.address), t('gateway', ip.gateway), t('netmask', ip.netmask)] : []);
}

function linksEl(r: R, self: string, rels: string[]): El[] {
  return rels.map((rel) => el('link', { href: `${self}/${rel}`, rel }));
}

function actionsEl(self: string, names: string[]): El {
  return el('actions', null, names.map((n) => el('link', { href: `${self}/${n}`, rel: n })));
}

/** name, description, comment: the BaseResource head every entity starts with. */
function head(name: string | undefined, description?: string, comment?: string): (El | null)[] {
  return [t('name', name), t('description', description), t('comment', comment)];
}

// ---- API root (§7.1, §4.2 root document) ----

const ROOT_COLLECTIONS = ['clusters', 'datacenters', 'events', 'hosts', 'jobs', 'networks', 'storagedomains', 'tags', 'templates', 'vms', 'vnicprofiles'];
const SEARCHABLE = new Set(['clusters', 'datacenters', 'events', 'hosts', 'jobs', 'storagedomains', 'templates', 'vms']);

export interface ProductInfo { name: string; vendor: string; version: Version & { build: number; revision: number; full: string } }

export function apiRoot(r: R, st: EngineState, product: ProductInfo): El {
  const links: El[] = [];
  const colls = r.v === 3 ? ['capabilities', ...ROOT_COLLECTIONS] : ['clusterlevels', ...ROOT_COLLECTIONS];
  for (const c of colls) {
    links.push(el('link', { href: href(r, c), rel: c }));
    if (SEARCHABLE.has(c)) links.push(el('link', { href: `${href(r, c)}?search={query}`, rel: `${c}/search` }));
  }
  const count = <T>(m: Map<string, T>, active: (x: T) => boolean): El[] => {
    const all = [...m.values()];
    return [t('active', all.filter(active).length), t('total', all.length)].filter((x): x is El => !!x);
  };
  const summary = el('summary', null, [
    el('hosts', null, count(st.hosts, (h) => h.status === 'up')),
    el('storage_domains', null, count(st.storageDomains, (s) => [...s.attachments.values()].includes('active'))),
    el('users', null, [t('active', 1), t('total', 1)]),
    el('vms', null, count(st.vms, (v) => v.status !== 'down')),
  ]);
  const special = r.v === 3
    ? el('special_objects', null, [
        el('link', { href: href(r, 'templates', BLANK_TEMPLATE_ID), rel: 'templates/blank' }),
        el('link', { href: href(r, 'tags', ROOT_TAG_ID), rel: 'tags/root' }),
      ])
    : el('special_objects', null, [refEl(r, 'blank_template', 'templates', BLANK_TEMPLATE_ID), refEl(r, 'root_tag', 'tags', ROOT_TAG_ID)]);
  const productInfo = el('product_info', null, [
    t('name', product.name), t('vendor', product.vendor), versionEl(r, 'version', product.version),
    r.v === 3 ? t('full_version', product.version.full) : null,
  ]);
  return el('api', null, [
    ...links, productInfo, special, summary, t('time', date(new Date())),
    r.v === 4 ? refEl(r, 'authenticated_user', 'users', ADMIN_USER_ID) : null,
    r.v === 4 ? refEl(r, 'effective_user', 'users', ADMIN_USER_ID) : null,
  ]);
}

// ---- data centers, clusters, networks ----

export function dataCenter(r: R, dc: DataCenter): El {
  const self = href(r, 'datacenters', dc.id);
  return el('data_center', { href: self, id: dc.id }, [
    r.v === 3 ? actionsEl(self, []) : null,
    ...head(dc.name, dc.description, dc.comment),
    ...linksEl(r, self, ['clusters', 'storagedomains', 'permissions', 'networks', 'quotas', 'qoss', 'iscsibonds']),
    t('local', dc.local),
    t('quota_mode', 'disabled'),
    ...statusEl(r, dc.status),
    r.v === 3 && dc.storageType ? t('storage_type', dc.storageType) : null,
    t('storage_format', dc.storageFormat),
    el('supported_versions', null, [versionEl(r, 'version', dc.version)]),
    versionEl(r, 'version', dc.version),
    refEl(r, 'mac_pool', 'macpools', DEFAULT_MAC_POOL_ID),
  ]);
}

export function cluster(r: R, c: Cluster): El {
  const self = href(r, 'clusters', c.id);
  const b = (name: string, v: boolean): El => t(name, v)!;
  return el('cluster', { href: self, id: c.id }, [
    r.v === 4 ? actionsEl(self, ['resetemulatedmachine']) : null,
    ...head(c.name, c.description, c.comment),
    ...linksEl(r, self, ['networks', 'permissions', 'glustervolumes', 'affinitygroups', 'cpuprofiles']),
    b('ballooning_enabled', false),
    r.v === 3 ? el('cpu', { id: c.cpuType }, [t('architecture', 'x86_64')]) : el('cpu', null, [t('architecture', 'x86_64'), t('type', c.cpuType)]),
    r.v === 4 ? listEl('custom_scheduling_policy_properties', [['HighUtilization', '80'], ['CpuOverCommitDurationMinutes', '2']].map(([k, v]) => el('property', null, [t('name', k), t('value', v)]))) : null,
    el('error_handling', null, [t('on_error', 'migrate')]),
    el('fencing_policy', null, [b('enabled', true), el('skip_if_connectivity_broken', null, [b('enabled', false), t('threshold', 50)]), ...(r.v === 4 ? [b('skip_if_gluster_bricks_up', false), b('skip_if_gluster_quorum_not_met', false)] : []), el('skip_if_sd_active', null, [b('enabled', false)])]),
    r.v === 4 ? t('firewall_type', 'iptables') : null,
    b('gluster_service', false),
    b('ha_reservation', false),
    el('ksm', null, [b('enabled', true), b('merge_across_nodes', true)]),
    r.v === 3
      ? el('memory_policy', null, [el('overcommit', { percent: 100 }), el('transparent_hugepages', null, [t('enabled', true)])])
      : el('memory_policy', null, [el('over_commit', null, [t('percent', 100)]), el('transparent_hugepages', null, [t('enabled', true)])]),
    r.v === 4 ? el('migration', null, [t('auto_converge', 'inherit'), el('bandwidth', null, [t('assignment_method', 'auto')]), t('compressed', 'inherit'), el('policy', { id: '00000000-0000-0000-0000-000000000000' })]) : null,
    r.v === 4 ? listEl('required_rng_sources', [t('required_rng_source', 'random')]) : el('required_rng_sources', null, [t('source', 'random')]),
    r.v === 4 ? t('switch_type', 'legacy') : null,
    b('threads_as_cores', false),
    b('trusted_service', false),
    b('tunnel_migration', false),
    versionEl(r, 'version', c.version),
    b('virt_service', true),
    refEl(r, 'data_center', 'datacenters', c.dataCenterId),
    r.v === 4 ? refEl(r, 'mac_pool', 'macpools', DEFAULT_MAC_POOL_ID) : null,
    r.v === 4 ? refEl(r, 'scheduling_policy', 'schedulingpolicies', DEFAULT_SCHEDULING_POLICY_ID) : el('scheduling_policy', { href: href(r, 'schedulingpolicies', DEFAULT_SCHEDULING_POLICY_ID), id: DEFAULT_SCHEDULING_POLICY_ID }, [t('name', 'none'), t('policy', 'none')]),
  ]);
}

export function network(r: R, n: Network, inCluster?: { cluster: Cluster; status: string }): El {
  const self = inCluster ? href(r, 'clusters', inCluster.cluster.id, 'networks', n.id) : href(r, 'networks', n.id);
  const cn = inCluster?.cluster.networks.find((x) => x.networkId === n.id);
  return el('network', { href: self, id: n.id }, [
    ...head(n.name, n.description, n.comment),
    ...linksEl(r, self, inCluster ? ['permissions'] : ['permissions', 'vnicprofiles', r.v === 3 ? 'labels' : 'networklabels']),
    inCluster ? t('display', cn?.display ?? false) : r.v === 3 ? t('display', false) : null,
    t('mtu', n.mtu),
    inCluster ? t('required', cn?.required ?? false) : null,
    // 3.x also reported an operational status on the top-level network (3.0 guide /networks).
    ...(inCluster ? statusEl(r, inCluster.status) : r.v === 3 ? statusEl(r, 'operational') : []),
    t('stp', n.stp),
    listEl('usages', (cn?.usages ?? n.usages).map((u) => t('usage', u))),
    n.vlan !== undefined ? el('vlan', { id: n.vlan }) : null,
    inCluster ? refEl(r, 'cluster', 'clusters', inCluster.cluster.id) : null,
    refEl(r, 'data_center', 'datacenters', n.dataCenterId),
  ]);
}

export function vnicProfile(r: R, p: VnicProfile): El {
  const self = href(r, 'vnicprofiles', p.id);
  return el('vnic_profile', { href: self, id: p.id }, [...head(p.name), ...linksEl(r, self, ['permissions']), t('port_mirroring', false), refEl(r, 'network', 'networks', p.networkId)]);
}

// ---- hosts (§7.4) ----

const HOST_ACTIONS = ['activate', 'approve', 'commitnetconfig', 'deactivate', 'fence', 'install', 'iscsidiscover', 'iscsilogin', 'refresh', 'setupnetworks'];

export function host(r: R, h: Host, st: EngineState): El {
  const self = href(r, 'hosts', h.id);
  const vms = [...st.vms.values()].filter((v) => v.hostId === h.id);
  const pm = h.powerManagement;
  return el('host', { href: self, id: h.id }, [
    actionsEl(self, r.v === 3 ? HOST_ACTIONS.filter((a) => a !== 'refresh') : HOST_ACTIONS),
    ...head(h.name, h.description, h.comment),
    ...linksEl(r, self, r.v === 3 ? ['storage', 'nics', 'tags', 'permissions', 'statistics'] : ['nics', 'networkattachments', 'storage', 'statistics', 'fenceagents', 'permissions', 'tags']),
    t('address', h.address),
    el('cpu', null, [r.v === 3 ? topologyEl(r, { sockets: 2, cores: 4, threads: 1 }) : null, t('name', 'Intel Core Processor (Haswell, no TSX)'), t('speed', 3600), r.v === 4 ? topologyEl(r, { sockets: 2, cores: 4, threads: 1 }) : null]),
    el('iscsi', null, [t('initiator', `iqn.1994-05.com.redhat:${h.id.slice(0, 12)}`)]),
    el('ksm', null, [t('enabled', false)]),
    t('memory', h.memory),
    // What the scheduler can still place (§7.4): memory less what the VMs running on the host hold.
    t('max_scheduling_memory', Math.max(0, h.memory - vms.filter((v) => v.status !== 'down' && v.status !== 'suspended').reduce((a, v) => a + v.memory, 0))),
    r.v === 3
      ? el('os', { type: h.type === 'ovirt_node' ? 'RHEV Hypervisor' : 'RHEL' }, [el('version', { full_version: '7 - 2.1511.el7', major: 7 })])
      : el('os', null, [t('type', h.type === 'ovirt_node' ? 'RHEV Hypervisor' : 'RHEL'), el('version', null, [t('full_version', '7 - 2.1511.el7'), t('major', 7)])]),
    t('port', h.port),
    r.v === 3
      ? el('power_management', pm.type ? { type: pm.type } : null, [t('enabled', pm.enabled), t('address', pm.address), t('username', pm.username), el('options', null, Object.entries(pm.options).map(([k, v]) => el('option', { name: k, value: v })))])
      : el('power_management', null, [t('address', pm.address), t('enabled', pm.enabled), t('type', pm.type), t('username', pm.username)]),
    r.v === 3 ? { name: 'storage_manager', attrs: { priority: String(h.spmPriority) }, text: 'false' } : null,
    el('spm', null, [t('priority', h.spmPriority), ...(r.v === 3 ? [el('status', null, [t('state', 'none')])] : [t('status', 'none')])]),
    r.v === 3 ? el('ssh', null, [t('port', h.sshPort), t('authentication_method', 'publickey'), el('user', null, [t('user_name', h.sshUser)])])
      : el('ssh', null, [t('authentication_method', 'publickey'), t('port', h.sshPort), el('user', null, [t('user_name', h.sshUser)])]),
    ...statusEl(r, h.status, h.statusDetail),
    el('summary', null, [t('active', vms.filter((v) => v.status === 'up').length), t('migrating', 0), t('total', vms.length)]),
    el('transparent_hugepages', null, [t('enabled', true)]),
    t('type', r.v === 3 && h.type === 'ovirt_node' ? 'rhev-h' : h.type),
    versionEl(r, 'version', { major: 4, minor: 16, build: 30, revision: 0, full: 'vdsm-4.16.30-1.el7' }),
    refEl(r, 'cluster', 'clusters', h.clusterId),
  ]);
}

export function hostNic(r: R, h: Host, n: HostNic): El {
  const self = href(r, 'hosts', h.id, 'nics', n.id);
  return el('host_nic', { href: self, id: n.id }, [
    r.v === 3 ? actionsEl(self, ['attach', 'detach']) : null,
    t('name', n.name),
    ...linksEl(r, self, r.v === 3 ? ['statistics', 'labels'] : ['statistics', 'networkattachments', 'networklabels']),
    n.bonding ? el('bonding', null, [
      el('options', null, Object.entries(n.bonding.options).map(([k, v]) => (r.v === 3 ? el('option', { name: k, value: v }) : el('option', null, [t('name', k), t('value', v)])))),
      el('slaves', null, n.bonding.slaves.map((s) => { const sl = h.nics.find((x) => x.name === s); return sl ? refEl(r, 'host_nic', `hosts/${h.id}/nics`, sl.id) : null; })),
    ]) : null,
    t('boot_protocol', n.bootProtocol),
    t('bridged', n.networkId !== undefined),
    ipEl(r, n.ip),
    macEl(r, n.mac),
    t('mtu', 1500),
    t('speed', n.speed),
    ...statusEl(r, n.status),
    refEl(r, 'host', 'hosts', h.id),
    r.v === 3 && n.networkId ? refEl(r, 'network', 'networks', n.networkId) : null,
  ]);
}

/** v4 network attachments (3.6+/§7.4), one per NIC carrying a network. */
export function networkAttachment(r: R, h: Host, n: HostNic): El {
  const id = `${n.id.slice(0, 24)}${n.networkId!.slice(24)}`;
  const self = href(r, 'hosts', h.id, 'networkattachments', id);
  const ipa = el('ip_address_assignments', null, [el('ip_address_assignment', null, [t('assignment_method', n.bootProtocol), ipEl(r, n.ip)])]);
  ipa.list = true;
  return el('network_attachment', { href: self, id }, [
    t('in_sync', true), ipa, refEl(r, 'host', 'hosts', h.id), refEl(r, 'host_nic', `hosts/${h.id}/nics`, n.id), refEl(r, 'network', 'networks', n.networkId!),
  ]);
}

// ---- storage (§7.5) ----

export function storageDomain(r: R, sd: StorageDomain, inDc?: string): El {
  const self = inDc ? href(r, 'datacenters', inDc, 'storagedomains', sd.id) : href(r, 'storagedomains', sd.id);
  const attached = [...sd.attachments.keys()];
  const status = inDc ? sd.attachments.get(inDc) ?? 'unattached' : attached.length ? undefined : 'unattached';
  return el('storage_domain', { href: self, id: sd.id }, [
    inDc ? actionsEl(self, ['activate', 'deactivate']) : null,
    ...head(sd.name, sd.description, sd.comment),
    ...linksEl(r, self, inDc ? ['disks'] : ['permissions', 'disks', 'storageconnections', 'templates', 'vms', ...(sd.type === 'iso' ? ['files'] : [])]),
    t('available', sd.available),
    t('committed', sd.committed),
    t('critical_space_action_blocker', 5),
    ...(r.v === 3 ? [el('external_status', null, [t('state', 'ok')])] : [t('external_status', 'ok')]),
    t('master', sd.master),
    ...(status ? statusEl(r, status) : []),
    el('storage', null, [
      t('address', sd.storage.address), t('nfs_version', sd.storage.nfsVersion), t('path', sd.storage.path), t('type', sd.storage.type),
      ...(sd.storage.luns.length
        ? r.v === 3 ? sd.storage.luns.map((l) => el('logical_unit', { id: l })) : [listEl('logical_units', sd.storage.luns.map((l) => el('logical_unit', { id: l })))]
        : []),
    ]),
    t('storage_format', sd.storageFormat),
    t('type', sd.type),
    t('used', sd.used),
    t('warning_low_space_indicator', 10),
    t('wipe_after_delete', false),
    inDc ? refEl(r, 'data_center', 'datacenters', inDc) : attached.length ? listEl('data_centers', attached.map((d) => refEl(r, 'data_center', 'datacenters', d))) : null,
    !inDc && sd.hostId && r.v === 3 ? refEl(r, 'host', 'hosts', sd.hostId) : null,
  ]);
}

// ---- templates and VMs (§7.7, §7.8) ----

function vmBase(r: R, x: Template | Vm): (El | null)[] {
  return [
    el('cpu', null, [r.v === 4 ? t('architecture', 'x86_64') : null, topologyEl(r, x.cpu)]),
    t('creation_time', date(x.creationTime)),
    el('display', null, [t('type', r.v === 3 ? 'spice' : 'vnc'), t('monitors', 1)]),
    el('high_availability', null, [t('enabled', 'highAvailability' in x ? x.highAvailability : false), t('priority', 0)]),
    t('memory', x.memory),
    el('memory_policy', null, [t('guaranteed', x.memory)]),
    t('origin', r.v === 3 ? 'rhev' : 'ovirt'),
    osEl(r, x.osType, x.boot),
    t('stateless', 'stateless' in x ? x.stateless : false),
    t('type', x.type),
    r.v === 3 ? t('timezone', 'Etc/GMT') : el('time_zone', null, [t('name', 'Etc/GMT')]),
    el('usb', null, [t('enabled', false)]),
  ];
}

export function template(r: R, x: Template): El {
  const self = href(r, 'templates', x.id);
  return el('template', { href: self, id: x.id }, [
    actionsEl(self, ['export']),
    ...head(x.name, x.description),
    ...linksEl(r, self, r.v === 3 ? ['disks', 'nics', 'cdroms', 'tags', 'permissions', 'watchdogs'] : ['diskattachments', 'nics', 'cdroms', 'tags', 'permissions', 'watchdogs', 'graphicsconsoles']),
    ...vmBase(r, x),
    ...statusEl(r, x.status),
    x.clusterId ? refEl(r, 'cluster', 'clusters', x.clusterId) : null,
    x.vmId && r.v === 4 ? refEl(r, 'vm', 'vms', x.vmId) : null,
  ]);
}

export const VM_ACTIONS = ['cancelmigration', 'clone', 'migrate', 'reboot', 'shutdown', 'start', 'stop', 'suspend', 'ticket'];

export function vm(r: R, x: Vm, creation?: { task: AsyncTask }): El {
  const self = href(r, 'vms', x.id);
  return el('vm', { href: self, id: x.id }, [
    actionsEl(self, VM_ACTIONS),
    ...head(x.name, x.description, x.comment),
    creation ? (r.v === 3 ? el('creation_status', null, [t('state', creation.task.status)]) : t('creation_status', creation.task.status)) : null,
    ...linksEl(r, self, r.v === 3 ? ['disks', 'nics', 'cdroms', 'snapshots', 'tags', 'permissions', 'statistics'] : ['diskattachments', 'nics', 'cdroms', 'snapshots', 'tags', 'permissions', 'statistics', 'graphicsconsoles']),
    creation ? el('link', { href: `${self}/creation_status/${creation.task.id}`, rel: 'creation_status' }) : null,
    ...vmBase(r, x),
    x.startTime ? t('start_time', date(x.startTime)) : null,
    ...statusEl(r, x.status),
    x.stopTime ? t('stop_time', date(x.stopTime)) : null,
    el('placement_policy', null, [
      t('affinity', x.placement?.affinity ?? 'migratable'),
      ...(x.placement?.hostIds.length
        ? r.v === 3
          ? [refEl(r, 'host', 'hosts', x.placement.hostIds[0]!)]
          : [el('hosts', null, x.placement.hostIds.map((id) => refEl(r, 'host', 'hosts', id)))]
        : []),
    ]),
    refEl(r, 'cluster', 'clusters', x.clusterId),
    x.hostId ? refEl(r, 'host', 'hosts', x.hostId) : null,
    r.v === 4 ? refEl(r, 'original_template', 'templates', x.originalTemplateId) : null,
    refEl(r, 'template', 'templates', x.templateId),
  ]);
}

export function vmNic(r: R, x: Vm, n: VmNic): El {
  const self = href(r, 'vms', x.id, 'nics', n.id);
  return el('nic', { href: self, id: n.id }, [
    r.v === 3 ? actionsEl(self, ['activate', 'deactivate']) : null,
    t('name', n.name),
    ...linksEl(r, self, ['statistics', 'reporteddevices']),
    t('interface', n.interface),
    t('linked', n.linked),
    macEl(r, n.mac),
    t('plugged', n.plugged),
    r.v === 3 && n.networkId ? refEl(r, 'network', 'networks', n.networkId) : null,
    n.vnicProfileId ? refEl(r, 'vnic_profile', 'vnicprofiles', n.vnicProfileId) : null,
    refEl(r, 'vm', 'vms', x.id),
  ]);
}

export function disk(r: R, d: Disk, owner?: Vm): El {
  const self = owner && r.v === 3 ? href(r, 'vms', owner.id, 'disks', d.id) : href(r, 'disks', d.id);
  return el('disk', { href: self, id: d.id }, [
    ...head(d.name, d.description),
    ...linksEl(r, self, ['permissions', 'statistics']),
    t('alias', d.name),
    r.v === 3 ? t('bootable', d.bootable) : null,
    t('format', d.format),
    r.v === 3 ? t('interface', d.interface) : null,
    t('provisioned_size', d.provisionedSize),
    r.v === 3 ? t('size', d.provisionedSize) : null,
    ...statusEl(r, d.status),
    d.storageDomainId ? listEl('storage_domains', [refEl(r, 'storage_domain', 'storagedomains', d.storageDomainId)]) : null,
  ]);
}

export function diskAttachment(r: R, x: Vm, d: Disk): El {
  const self = href(r, 'vms', x.id, 'diskattachments', d.id);
  return el('disk_attachment', { href: self, id: d.id }, [
    t('active', d.active), t('bootable', d.bootable), t('interface', d.interface), refEl(r, 'disk', 'disks', d.id), refEl(r, 'vm', 'vms', x.id),
  ]);
}

// ---- jobs and events (§5.5) ----

export function job(r: R, j: Job): El {
  const self = href(r, 'jobs', j.id);
  return el('job', { href: self, id: j.id }, [
    actionsEl(self, ['clear', 'end']),
    t('description', j.description),
    ...linksEl(r, self, ['steps']),
    t('auto_cleared', j.autoCleared),
    j.end ? t('end_time', date(j.end)) : null,
    t('external', j.external),
    t('last_updated', date(j.updated)),
    t('start_time', date(j.start)),
    ...statusEl(r, j.status),
    refEl(r, 'owner', 'users', ADMIN_USER_ID),
  ]);
}

export function step(r: R, j: Job, s: Job['steps'][number]): El {
  const self = href(r, 'jobs', j.id, 'steps', s.id);
  return el('step', { href: self, id: s.id }, [
    actionsEl(self, ['end']),
    t('description', s.description),
    s.end ? t('end_time', date(s.end)) : null,
    t('external', false),
    t('number', s.number),
    t('start_time', date(s.start)),
    ...statusEl(r, s.status),
    t('type', s.type),
    refEl(r, 'job', 'jobs', j.id),
  ]);
}

export function event(r: R, e: EngineEvent): El {
  return el('event', { href: href(r, 'events', String(e.id)), id: String(e.id) }, [
    t('description', e.description),
    t('code', e.code),
    t('correlation_id', e.correlationId),
    t('origin', 'oVirt'),
    t('severity', e.severity),
    t('time', date(e.time)),
    e.clusterId ? refEl(r, 'cluster', 'clusters', e.clusterId) : null,
    e.hostId ? refEl(r, 'host', 'hosts', e.hostId) : null,
    refEl(r, 'user', 'users', ADMIN_USER_ID),
    e.vmId ? refEl(r, 'vm', 'vms', e.vmId) : null,
  ]);
}

/**
 * An ISO file reference. The 3.6 XSD makes <content> mandatory in File (JAXB never checks on
 * output), so v3 documents carry an empty one to stay schema-valid.
 */
export function fileEl(r: R, id: string, opts: { href?: string; name?: boolean; sd?: string } = {}): El {
  return el('file', { href: opts.href, id }, [
    opts.name ? t('name', id) : null,
    r.v === 3 ? t('content', '') : null,
    opts.sd ? refEl(r, 'storage_domain', 'storagedomains', opts.sd) : null,
  ]);
}

export function collection(name: string, items: El[]): El {
  return listEl(name, items);
}
