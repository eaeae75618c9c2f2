// Hosts (ovirt-api.md §7.4): add, approve, install, activate, deactivate, fence, remove, update,
// NICs and host networking, and the timed host-deploy state machine with injectable failures.
import { actionResult, type Ctx, type Result, type Router } from './api.js';
import { backendFailure, cannot, EngineFault, entityNotFound, notFound } from './errors.js';
import { collection, host as hostEl, hostNic, href, networkAttachment } from './render.js';
import { search, type Fields } from './search.js';
import type { EngineState, Host, HostNic, HostStatus, Job } from './state.js';
import { child, children, get, parseBool, ref, type Node } from './xml.js';

// ---- lookups shared with other modules ----

export function hostById(st: EngineState, id: string): Host {
  const h = st.hosts.get(id);
  if (!h) throw notFound();
  return h;
}

/** Resolves a cluster reference from a body (`<cluster id>` or `<cluster><name>`, §4.1). */
export function resolveCluster(st: EngineState, r: { id?: string; name?: string } | undefined, action: string, type: string): string | undefined {
  if (!r) return undefined;
  if (r.id !== undefined) {
    if (!st.clusters.has(r.id)) throw backendFailure(400, cannot(action, type, "The relevant Cluster doesn't exist."));
    return r.id;
  }
  const c = st.clusterByName(r.name!);
  if (!c) throw entityNotFound(`Cluster: name=${r.name}`);
  return c.id;
}

export function resolveHostRef(st: EngineState, r: { id?: string; name?: string } | undefined): Host | undefined {
  if (!r) return undefined;
  const h = r.id !== undefined ? st.hosts.get(r.id) : [...st.hosts.values()].find((x) => x.name === r.name);
  if (!h) throw entityNotFound(r.id !== undefined ? `Host: id=${r.id}` : `Host: name=${r.name}`);
  return h;
}

const HOST_FIELDS: Fields<Host> = {
  name: (h) => h.name, address: (h) => h.address, status: (h) => h.status, comment: (h) => h.comment,
  type: (h) => (h.type === 'ovirt_node' ? ['ovirt_node', 'rhev-h', 'ovirtnode'] : 'rhel'),
  hw_id: (h) => h.uniqueId,
};

/** §5.4 status names in messages ("Maintenance", "Pending Approval"). */
const pretty = (s: string): string => s.split('_').map((w) => w[0]!.toUpperCase() + w.slice(1)).join(' ');

const TRANSIENT: HostStatus[] = ['installing', 'initializing', 'unassigned', 'preparing_for_maintenance', 'reboot', 'connecting'];

// ---- the host-deploy state machine (§7.4, §9.4) ----

/**
 * installing → (host-deploy) → install_failed | maintenance (activate=false) | initializing → up,
 * or non_operational / non_responsive when a failure rule says so. The rule is picked when the
 * install starts, so a `once` rule fails exactly one attempt.
 */
export function runHostDeploy(st: EngineState, h: Host, opts: { activate: boolean; job?: Job }): void {
  h.status = 'installing';
  delete h.statusDetail;
  const rule = st.hostFailureFor(h);
  const T = st.timing;
  st.clock.after(T.hostInstall, () => {
    if (!st.hosts.has(h.id) || h.status !== 'installing') return;
    if (rule?.kind === 'install_failed') {
      h.status = 'install_failed';
      h.statusDetail = rule.reason;
      st.event({ code: 505, severity: 'error', description: `Host ${h.name} installation failed. ${rule.reason}.`, hostId: h.id, clusterId: h.clusterId, ...(opts.job?.correlationId ? { correlationId: opts.job.correlationId } : {}) });
      st.endJob(opts.job, 'failed');
      return;
    }
    st.event({ code: 509, severity: 'normal', description: `Host ${h.name} installed`, hostId: h.id, clusterId: h.clusterId });
    if (!opts.activate) {
      h.status = 'maintenance';
      st.endJob(opts.job, 'finished');
      return;
    }
    h.status = 'initializing';
    st.clock.after(T.hostInitialize, () => {
      if (!st.hosts.has(h.id) || h.status !== 'initializing') return;
      if (rule && rule.kind !== 'install_failed') {
        h.status = rule.kind;
        h.statusDetail = rule.reason;
        st.event({ code: rule.kind === 'non_operational' ? 519 : 9000, severity: 'error', description: `Host ${h.name} moved to ${pretty(rule.kind)} state. ${rule.reason}`, hostId: h.id, clusterId: h.clusterId });
        // The install itself succeeded; the engine's monitoring moved the host afterwards.
        st.endJob(opts.job, 'finished');
        return;
      }
      h.status = 'up';
      st.event({ code: 13, severity: 'normal', description: `Status of host ${h.name} was set to Up.`, hostId: h.id, clusterId: h.clusterId });
      st.endJob(opts.job, 'finished');
    });
  });
}

export function defaultNics(st: EngineState, address: string, withMgmt: string | undefined): HostNic[] {
  const ip = /^\d+\.\d+\.\d+\.\d+$/.test(address) ? address : '192.0.2.10';
  return [
    { id: st.newId(), name: 'eth0', mac: st.newMac(), ip: { address: ip, netmask: '255.255.255.0' }, bootProtocol: 'dhcp', ...(withMgmt ? { networkId: withMgmt } : {}), speed: 1_000_000_000, status: 'up', mtu: 1500 },
    { id: st.newId(), name: 'eth1', mac: st.newMac(), bootProtocol: 'none', speed: 1_000_000_000, status: 'up', mtu: 1500 },
    { id: st.newId(), name: 'eth2', mac: st.newMac(), bootProtocol: 'none', speed: 1_000_000_000, status: 'down', mtu: 1500 },
  ];
}

export function managementNetworkOf(st: EngineState, clusterId: string): string | undefined {
  const c = st.clusters.get(clusterId);
  return c?.networks.find((n) => n.usages.includes('management'))?.networkId;
}

const validName = (s: string): boolean => /^[A-Za-z0-9_.-]+$/.test(s);
const validAddress = (s: string): boolean => /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(s) || /^[0-9a-fA-F:]+$/.test(s);

// ---- handlers ----

function list(ctx: Ctx): Result {
  const all = [...ctx.st.hosts.values()];
  const found = search(all, ctx.query.get('search'), HOST_FIELDS, { caseSensitive: ctx.bool('case_sensitive') ?? ctx.r.v === 4, max: maxOf(ctx) });
  return { status: 200, body: collection('hosts', found.map((h) => hostEl(ctx.r, h, ctx.st))) };
}

export function maxOf(ctx: Ctx): number | undefined {
  const m = ctx.param('max');
  return m === undefined || m === '' || Number.isNaN(Number(m)) ? undefined : Number(m);
}

function add(ctx: Ctx): Result {
  const b = ctx.body('host', 'hosts/methods/add');
  const st = ctx.st;
  const name = get(b, 'name');
  const address = get(b, 'address');
  const password = get(b, 'root_password') ?? get(b, 'ssh.user.password');
  const sshMethod = get(b, 'ssh.authentication_method');
  const clusterRef = ref(b, 'cluster');
  // §7.4: v4 needs name+address (cluster defaults to Default); v3.6 also root_password|ssh and cluster.
  const checks: [string, boolean][] = [['name', !!name], ['address', !!address]];
  if (ctx.r.v === 3) checks.push(['rootPassword', password !== undefined || !!child(b, 'ssh')], ['cluster.id|name', !!clusterRef]);
  ctx.require(b, 'Host', 'add', checks);
  if (!validName(name!)) throw backendFailure(400, `Can not add Host. The given name contains special characters. Only lower-case and upper-case letters, numbers, '_', '-', '.' are allowed.`);
  if (!validAddress(address!)) throw backendFailure(400, 'Can not add Host. The given Host name is invalid. Only Host names corresponding to RFC-952 and RFC-1123 are allowed.');
  const clusterId = resolveCluster(st, clusterRef, 'add', 'Host') ?? st.clusterByName('Default')?.id;
  if (!clusterId) throw backendFailure(400, cannot('add', 'Host', "The relevant Cluster doesn't exist."));
  if ([...st.hosts.values()].some((h) => h.name === name)) throw backendFailure(409, cannot('add', 'Host', 'The Host name is already in use, please choose a unique name and try again.'));
  if ([...st.hosts.values()].some((h) => h.address === address)) throw backendFailure(409, cannot('add', 'Host', 'Host with the same address already exists.'));
  if (!password && sshMethod !== 'publickey') throw backendFailure(400, 'Cannot install Host with empty password.');
  const h: Host = {
    id: st.newId(), name: name!, address: address!, port: Number(get(b, 'port') ?? 54321), clusterId, status: 'installing',
    type: 'rhel', sshPort: Number(get(b, 'ssh.port') ?? 22), sshUser: get(b, 'ssh.user.user_name') ?? 'root',
    nics: defaultNics(st, address!, managementNetworkOf(st, clusterId)), powerManagement: readPm(b) ?? { enabled: false, options: {} },
    spmPriority: Number(get(b, 'spm.priority') ?? 5), netConfigDirty: false, origin: 'api', memory: 8371830784,
    ...(get(b, 'comment') ? { comment: get(b, 'comment')! } : {}), ...(get(b, 'description') ? { description: get(b, 'description')! } : {}),
  };
  st.hosts.set(h.id, h);
  const job = st.startJob(`Adding new Host ${h.name} to Cluster ${st.clusters.get(clusterId)!.name}`, ctx.correlationId);
  st.event({ code: 42, severity: 'normal', description: `Host ${h.name} was added by admin@internal.`, hostId: h.id, clusterId, correlationId: ctx.correlationId });
  // §7.4: `activate` query parameter, default true for add.
  runHostDeploy(st, h, { activate: ctx.bool('activate') ?? true, job });
  // §5.1: 201 with Location and the entity (status installing).
  return { status: 201, body: hostEl(ctx.r, h, st), headers: { location: href(ctx.r, 'hosts', h.id) } };
}

function readPm(b: Node): Host['powerManagement'] | undefined {
  const pm = child(b, 'power_management');
  if (!pm) return undefined;
  const options: Record<string, string> = {};
  for (const o of children(child(pm, 'options'), 'option')) {
    const k = o.attrs['name'] ?? get(o, 'name');
    const v = o.attrs['value'] ?? get(o, 'value');
    if (k !== undefined && v !== undefined) options[k] = v;
  }
  const type = pm.attrs['type'] ?? get(pm, 'type');
  const address = get(pm, 'address');
  const username = get(pm, 'username');
  return { enabled: parseBool(get(pm, 'enabled')) ?? true, ...(type ? { type } : {}), ...(address ? { address } : {}), ...(username ? { username } : {}), options };
}

function update(ctx: Ctx): Result {
  const h = hostById(ctx.st, ctx.params['id']!);
  const b = ctx.body('host', 'hosts/methods/update');
  immutable(b, h.id);
  const address = get(b, 'address');
  const cl = ref(b, 'cluster');
  const clusterId = resolveCluster(ctx.st, cl, 'edit', 'Host');
  const changesPlacement = (address !== undefined && address !== h.address) || (clusterId !== undefined && clusterId !== h.clusterId);
  if (changesPlacement && !['maintenance', 'pending_approval', 'install_failed'].includes(h.status)) {
    throw backendFailure(409, cannot('edit', 'Host', 'Host parameters cannot be modified while Host is operational.\nPlease switch Host to Maintenance mode first.'));
  }
  const name = get(b, 'name');
  if (name !== undefined && name !== h.name && [...ctx.st.hosts.values()].some((x) => x.name === name)) {
    throw backendFailure(409, cannot('edit', 'Host', 'The Host name is already in use, please choose a unique name and try again.'));
  }
  if (name !== undefined) h.name = name;
  if (address !== undefined) h.address = address;
  if (clusterId !== undefined) h.clusterId = clusterId;
  const comment = get(b, 'comment');
  if (comment !== undefined) h.comment = comment;
  const prio = get(b, 'spm.priority');
  if (prio !== undefined) h.spmPriority = Number(prio);
  const pm = readPm(b);
  if (pm) h.powerManagement = { ...h.powerManagement, ...pm };
  return { status: 200, body: hostEl(ctx.r, h, ctx.st) };
}

/** §5.1 / 3.0 guide: changing an immutable field → 409 "Broken immutability constraint". */
export function immutable(b: Node, id: string): void {
  const given = b.attrs['id'] ?? get(b, 'id');
  if (given !== undefined && given !== id) throw new EngineFault(409, 'Broken immutability constraint', 'Attempt to set immutable field: id');
}

function remove(ctx: Ctx): Result {
  const h = hostById(ctx.st, ctx.params['id']!);
  const force = ctx.bool('force') ?? (ctx.rawBody.trim() ? parseBool(get(ctx.body('action', 'hosts/methods/remove'), 'force')) : undefined) ?? false;
  // §7.4: removal is refused while the host is operational (VDS_CANNOT_REMOVE_VDS_STATUS_ILLEGAL);
  // the states where no VDSM is being managed (maintenance, pending approval, failed install,
  // down) are accepted, and force=true removes a non-responsive host.
  const removable: HostStatus[] = ['maintenance', 'pending_approval', 'install_failed', 'down', 'installing_os'];
  if (!removable.includes(h.status) && !(force && h.status === 'non_responsive')) {
    throw backendFailure(409, cannot('remove', 'Host', 'Host is operational. Please switch Host to Maintenance mode first.'));
  }
  if ([...ctx.st.vms.values()].some((v) => v.hostId === h.id)) throw backendFailure(409, cannot('remove', 'Host', 'Host has running VMs.'));
  ctx.st.hosts.delete(h.id);
  ctx.st.event({ code: 44, severity: 'normal', description: `Host ${h.name} was removed by admin@internal.`, correlationId: ctx.correlationId });
  return removalResult(ctx);
}

/** §5.1 DELETE: 200 + <action><status>complete</status></action>; 202 with async=true / Expect. */
export function removalResult(ctx: Ctx): Result {
  const async = ctx.bool('async') === true || ctx.expect() === '202-accepted';
  return actionResult(ctx, async ? { http: 202, status: 'in_progress' } : {});
}

function assertStatus(h: Host, action: string, allowed: HostStatus[]): void {
  if (allowed.includes(h.status)) return;
  if (TRANSIENT.includes(h.status)) throw backendFailure(409, cannot(action, 'Host', 'Related operation is currently in progress. Please try again later.'));
  throw backendFailure(409, cannot(action, 'Host', `Operation can be performed only when Host status is ${allowed.map(pretty).join(', ')}.`));
}

function approve(ctx: Ctx, h: Host): Result {
  // §7.4: only from pending_approval or install_failed (3.6 also installing_os).
  if (!['pending_approval', 'install_failed', 'installing_os'].includes(h.status)) {
    throw backendFailure(409, 'Cannot approve RHVH Host.\n-Host must be in "Pending Approval" or "Install Failed" status in order to be approved.');
  }
  const clusterId = resolveCluster(ctx.st, ref(ctx.action, 'cluster'), 'approve', 'Host');
  if (clusterId) h.clusterId = clusterId;
  if (!h.nics.some((n) => n.networkId)) {
    const mgmt = managementNetworkOf(ctx.st, h.clusterId);
    if (mgmt && h.nics[0]) h.nics[0].networkId = mgmt;
  }
  const job = ctx.st.startJob(`Approving Host ${h.name}`, ctx.correlationId);
  runHostDeploy(ctx.st, h, { activate: ctx.bool('activate') ?? parseBool(get(ctx.action, 'activate')) ?? true, job });
  return actionResult(ctx, { jobId: job.id });
}

function install(ctx: Ctx, h: Host): Result {
  assertStatus(h, 'install', ['maintenance', 'install_failed', 'non_operational']);
  const hasAuth = get(ctx.action, 'root_password') !== undefined || child(ctx.action, 'ssh') !== undefined || get(ctx.action, 'image') !== undefined;
  if (!hasAuth && h.type !== 'ovirt_node') throw backendFailure(400, 'Cannot install Host with empty password.');
  const job = ctx.st.startJob(`Installing Host ${h.name}`, ctx.correlationId);
  // §7.4: v4 install does not activate by default (host stays in maintenance); v3 did.
  const activate = ctx.bool('activate') ?? parseBool(get(ctx.action, 'activate')) ?? ctx.r.v === 3;
  runHostDeploy(ctx.st, h, { activate, job });
  return actionResult(ctx, { jobId: job.id });
}

function activate(ctx: Ctx, h: Host): Result {
  assertStatus(h, 'activate', ['maintenance', 'non_operational', 'non_responsive', 'down', 'install_failed']);
  const st = ctx.st;
  const job = st.startJob(`Activating Host ${h.name}`, ctx.correlationId);
  h.status = 'unassigned';
  delete h.statusDetail;
  st.clock.after(st.timing.hostActivate, () => {
    if (h.status !== 'unassigned') return;
    h.status = 'up';
    st.endJob(job, 'finished');
  });
  return actionResult(ctx, { jobId: job.id });
}

function deactivate(ctx: Ctx, h: Host): Result {
  const st = ctx.st;
  if (h.status === 'maintenance') throw backendFailure(409, 'Cannot switch Host to Maintenance mode. Host is already in Maintenance mode.');
  assertStatus(h, 'maintenance', ['up', 'non_operational', 'non_responsive', 'connecting', 'down', 'install_failed', 'error', 'unassigned']);
  const running = [...st.vms.values()].filter((v) => v.hostId === h.id);
  const others = [...st.hosts.values()].filter((x) => x.id !== h.id && x.clusterId === h.clusterId && x.status === 'up');
  if (running.length && !others.length) {
    const c = st.clusters.get(h.clusterId)!;
    throw backendFailure(409, `The following Hosts have running VMs and cannot be switched to maintenance mode: ${h.name}.\nPlease ensure that the following Clusters have at least one Host in UP state: ${c.name}.`);
  }
  const job = st.startJob(`Moving Host ${h.name} to Maintenance`, ctx.correlationId);
  const direct = ['non_responsive', 'connecting', 'down'].includes(h.status);
  delete h.statusDetail;
  if (direct) {
    h.status = 'maintenance';
    st.endJob(job, 'finished');
  } else {
    h.status = 'preparing_for_maintenance';
    for (const v of running) v.hostId = others[0]!.id;
    st.clock.after(st.timing.hostMaintenance, () => {
      if (h.status !== 'preparing_for_maintenance') return;
      h.status = 'maintenance';
      st.endJob(job, 'finished');
    });
  }
  return actionResult(ctx, { jobId: job.id });
}

function fence(ctx: Ctx, h: Host): Result {
  const type = get(ctx.action, 'fence_type');
  if (!type) throw new EngineFault(400, 'Incomplete parameters', 'Action [fenceType] required for fence');
  const st = ctx.st;
  if (!['start', 'stop', 'restart', 'status', 'manual'].includes(type)) throw new EngineFault(400, 'Invalid value', `${type} is not a member of FenceType. Possible values for FenceType are: manual, restart, start, stop, status`);
  if (type === 'manual') {
    if (h.status !== 'non_responsive') throw backendFailure(409, cannot('fence', 'Host', 'Host status must be Non Responsive.'));
    h.status = 'down';
    return actionResult(ctx);
  }
  if (!h.powerManagement.enabled) throw backendFailure(409, cannot('fence', 'Host', 'Power Management is not enabled for Host.'));
  const pmStatus = ['down', 'reboot', 'non_responsive'].includes(h.status) ? 'off' : 'on';
  if (type === 'status') {
    const s = ctx.r.v === 3 ? { name: 'status', children: [{ name: 'state', text: pmStatus }] } : { name: 'status', text: pmStatus };
    return actionResult(ctx, { extra: [{ name: 'power_management', children: [s] }] });
  }
  const job = st.startJob(`${type === 'stop' ? 'Stopping' : type === 'start' ? 'Starting' : 'Restarting'} Host ${h.name}`, ctx.correlationId);
  if (type === 'stop') {
    h.status = 'down';
    for (const v of st.vms.values()) if (v.hostId === h.id) Object.assign(v, { status: 'down', hostId: undefined, stopTime: new Date() });
    st.endJob(job, 'finished');
  } else {
    h.status = 'reboot';
    st.clock.after(st.timing.hostActivate, () => {
      h.status = 'non_responsive';
      st.clock.after(st.timing.hostActivate, () => {
        if (h.status === 'non_responsive') h.status = 'up';
        st.endJob(job, 'finished');
      });
    });
  }
  return actionResult(ctx, { jobId: job.id });
}

// ---- networking: v4/3.6 setupnetworks with network attachments, 3.1–3.5 nics/setupnetworks,
// 3.0 nic attach/detach, then commitnetconfig (§7.4 Host networking) ----

function networkFromRef(ctx: Ctx, r: { id?: string; name?: string } | undefined, h: Host): string {
  const dcId = ctx.st.clusters.get(h.clusterId)!.dataCenterId;
  const n = r?.id !== undefined ? ctx.st.networks.get(r.id) : [...ctx.st.networks.values()].find((x) => x.name === r?.name && x.dataCenterId === dcId);
  if (!n) throw entityNotFound(r?.id !== undefined ? `Network: id=${r.id}` : `Network: name=${r?.name}`);
  return n.id;
}

function nicFromRef(h: Host, r: { id?: string; name?: string } | undefined): HostNic | undefined {
  if (!r) return undefined;
  const n = h.nics.find((x) => (r.id !== undefined ? x.id === r.id : x.name === r.name));
  if (!n) throw entityNotFound(r.id !== undefined ? `HostNic: id=${r.id}` : `HostNic: name=${r.name}`);
  return n;
}

function assertNetworkable(h: Host): void {
  assertStatus(h, 'setup networks on', ['up', 'maintenance', 'non_operational']);
}

function setupNetworks(ctx: Ctx, h: Host): Result {
  assertNetworkable(h);
  const a = ctx.action!;
  // Bonds first, so attachments can name them.
  for (const b of children(child(a, 'modified_bonds'), 'host_nic')) {
    const name = get(b, 'name')!;
    const slaves = children(child(child(b, 'bonding'), 'slaves'), 'host_nic').map((s) => nicFromRef(h, { ...(s.attrs['id'] ? { id: s.attrs['id'] } : {}), ...(get(s, 'name') ? { name: get(s, 'name')! } : {}) })!.name);
    const options: Record<string, string> = {};
    for (const o of children(child(child(b, 'bonding'), 'options'), 'option')) options[o.attrs['name'] ?? get(o, 'name') ?? ''] = o.attrs['value'] ?? get(o, 'value') ?? '';
    let bond = h.nics.find((x) => x.name === name);
    if (!bond) {
      bond = { id: ctx.st.newId(), name, mac: h.nics.find((x) => x.name === slaves[0])?.mac ?? ctx.st.newMac(), bootProtocol: 'none', speed: 2_000_000_000, status: 'up', mtu: 1500 };
      h.nics.push(bond);
    }
    bond.bonding = { options, slaves };
  }
  for (const att of children(child(a, 'modified_network_attachments'), 'network_attachment')) {
    const netId = networkFromRef(ctx, ref(att, 'network'), h);
    const nic = nicFromRef(h, ref(att, 'host_nic'));
    if (!nic) throw new EngineFault(400, 'Incomplete parameters', 'NetworkAttachment [hostNic.id|name] required for setupnetworks');
    for (const other of h.nics) if (other.networkId === netId) delete other.networkId;
    nic.networkId = netId;
    const ipa = child(child(att, 'ip_address_assignments'), 'ip_address_assignment');
    if (ipa) {
      const method = get(ipa, 'assignment_method') as HostNic['bootProtocol'] | undefined;
      if (method) nic.bootProtocol = method;
      const ip = child(ipa, 'ip');
      const address = ip?.attrs['address'] ?? get(ip, 'address');
      if (address) nic.ip = { address, netmask: ip?.attrs['netmask'] ?? get(ip, 'netmask') ?? '255.255.255.0', ...(get(ip, 'gateway') ? { gateway: get(ip, 'gateway')! } : {}) };
    }
  }
  for (const att of children(child(a, 'removed_network_attachments'), 'network_attachment')) {
    const id = att.attrs['id'];
    const nic = h.nics.find((n) => n.networkId && networkAttachmentId(n) === id);
    if (nic) delete nic.networkId;
  }
  // 3.1–3.5 style: <host_nics> is the full desired state of every NIC.
  const full = child(a, 'host_nics');
  if (full) {
    for (const n of h.nics) delete n.networkId;
    for (const hn of children(full, 'host_nic')) {
      const nic = nicFromRef(h, ref({ name: 'x', attrs: {}, text: '', children: [hn] }, 'host_nic'));
      const net = ref(hn, 'network');
      if (nic && net) nic.networkId = networkFromRef(ctx, net, h);
      const bp = get(hn, 'boot_protocol') as HostNic['bootProtocol'] | undefined;
      if (nic && bp) nic.bootProtocol = bp;
    }
  }
  h.netConfigDirty = true;
  recoverIfNetworksOk(ctx.st, h);
  // §5.3: setupnetworks is a performAction: ?async=true / Expect: 202-accepted → 202 in_progress.
  if (ctx.bool('async') === true || ctx.expect() === '202-accepted') return actionResult(ctx, { http: 202, status: 'in_progress' });
  return actionResult(ctx);
}

const networkAttachmentId = (n: HostNic): string => `${n.id.slice(0, 24)}${n.networkId!.slice(24)}`;

/** A host that was non_operational for a missing required network comes back once it has it. */
export function recoverIfNetworksOk(st: EngineState, h: Host): void {
  if (h.status !== 'non_operational' || h.statusDetail !== 'network_unreachable') return;
  const required = st.clusters.get(h.clusterId)?.networks.filter((n) => n.required).map((n) => n.networkId) ?? [];
  if (required.every((id) => h.nics.some((n) => n.networkId === id))) {
    st.clock.after(st.timing.hostActivate, () => {
      if (h.status === 'non_operational') {
        h.status = 'up';
        delete h.statusDetail;
      }
    });
  }
}

function nicAction(ctx: Ctx): Result {
  const h = hostById(ctx.st, ctx.params['id']!);
  const nic = h.nics.find((n) => n.id === ctx.params['nic']);
  if (!nic) throw notFound();
  ctx.action = ctx.body('action', `hosts/host/nics/nic/methods/${ctx.params['action']}`);
  assertNetworkable(h);
  if (ctx.params['action'] === 'attach') {
    const r = ref(ctx.action, 'network');
    if (!r) throw new EngineFault(400, 'Incomplete parameters', 'Action [network.id|name] required for attach');
    nic.networkId = networkFromRef(ctx, r, h);
  } else if (ctx.params['action'] === 'detach') {
    delete nic.networkId;
  } else throw notFound();
  h.netConfigDirty = true;
  recoverIfNetworksOk(ctx.st, h);
  return actionResult(ctx);
}

function commitNetConfig(ctx: Ctx, h: Host): Result {
  assertNetworkable(h);
  h.netConfigDirty = false;
  return actionResult(ctx);
}

// ---- routing ----

const ACTIONS: Record<string, (ctx: Ctx, h: Host) => Result> = {
  approve, install, activate, deactivate, fence, setupnetworks: setupNetworks, commitnetconfig: commitNetConfig,
  refresh: (ctx) => actionResult(ctx),
  forceselectspm: (ctx) => actionResult(ctx),
  iscsidiscover: (ctx) => actionResult(ctx, { extra: [{ name: 'iscsi_target', text: 'iqn.2010-01.com.example:storage.target0' }] }),
  iscsilogin: (ctx) => actionResult(ctx),
};

function hostAction(ctx: Ctx): Result {
  const h = hostById(ctx.st, ctx.params['id']!);
  const fn = ACTIONS[ctx.params['action']!];
  if (!fn) throw notFound();
  ctx.action = ctx.body('action', `hosts/host/methods/${ctx.params['action']}`);
  return fn(ctx, h);
}

export function hostRoutes(router: Router): void {
  router
    .add('GET', 'hosts', list)
    .add('POST', 'hosts', add)
    .add('GET', 'hosts/:id', (ctx) => ({ status: 200, body: hostEl(ctx.r, hostById(ctx.st, ctx.params['id']!), ctx.st) }))
    .add('PUT', 'hosts/:id', update)
    .add('DELETE', 'hosts/:id', remove)
    .add('GET', 'hosts/:id/nics', (ctx) => {
      const h = hostById(ctx.st, ctx.params['id']!);
      return { status: 200, body: collection('host_nics', h.nics.map((n) => hostNic(ctx.r, h, n))) };
    })
    .add('GET', 'hosts/:id/nics/:nic', (ctx) => {
      const h = hostById(ctx.st, ctx.params['id']!);
      const n = h.nics.find((x) => x.id === ctx.params['nic']);
      if (!n) throw notFound();
      return { status: 200, body: hostNic(ctx.r, h, n) };
    })
    .add('POST', 'hosts/:id/nics/setupnetworks', (ctx) => {
      const h = hostById(ctx.st, ctx.params['id']!);
      ctx.action = ctx.body('action', 'hosts/host/nics/methods/setupnetworks');
      return setupNetworks(ctx, h);
    })
    .add('POST', 'hosts/:id/nics/:nic/:action', nicAction)
    .add('GET', 'hosts/:id/networkattachments', (ctx) => {
      const h = hostById(ctx.st, ctx.params['id']!);
      return { status: 200, body: collection('network_attachments', h.nics.filter((n) => n.networkId).map((n) => networkAttachment(ctx.r, h, n))) };
    })
    .add('GET', 'hosts/:id/statistics', (ctx) => (hostById(ctx.st, ctx.params['id']!), { status: 200, body: collection('statistics', []) }))
    .add('GET', 'hosts/:id/storage', (ctx) => (hostById(ctx.st, ctx.params['id']!), { status: 200, body: collection('host_storages', []) }))
    .add('POST', 'hosts/:id/:action', hostAction);
}

export { HOST_FIELDS };
