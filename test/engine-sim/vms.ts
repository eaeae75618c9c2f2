// Virtual machines and templates (ovirt-api.md §7.7, §7.8): CRUD, the VM state machine, actions
// start/stop/shutdown/reboot/suspend/migrate/cancelmigration/ticket/clone, NICs, disks, and the
// asynchronous parts of §5.1/§5.3 (202 + creation_status for adds that copy disks, 202 + action
// href for clone, polled at `{entity}/creation_status/{task}` and `{actionUrl}/{task}`).
import { randomBytes } from 'node:crypto';
import { actionResult, statusValue, type Ctx, type Result, type Router } from './api.js';
import { backendFailure, cannot, EngineFault, entityNotFound, notFound } from './errors.js';
import { immutable, maxOf, removalResult, resolveCluster, resolveHostRef } from './hosts.js';
import { created } from './resources.js';
import { collection, disk as diskEl, fileEl, diskAttachment, href, template as templateEl, vm as vmEl, vmNic } from './render.js';
import { search, type Fields } from './search.js';
import type { AsyncTask, CpuTopology, Disk, EngineState, Job, Template, Vm, VmStatus } from './state.js';
import { BLANK_TEMPLATE_ID } from './state.js';
import { child, children, el, get, parseBool, ref, t, type Node } from './xml.js';

const vmById = (st: EngineState, id: string | undefined): Vm => {
  const v = id === undefined ? undefined : st.vms.get(id);
  if (!v) throw notFound();
  return v;
};

function vmFields(st: EngineState): Fields<Vm> {
  return {
    name: (v) => v.name, status: (v) => v.status, description: (v) => v.description, comment: (v) => v.comment, id: (v) => v.id, type: (v) => v.type,
    cluster: (v) => st.clusters.get(v.clusterId)?.name, host: (v) => (v.hostId ? st.hosts.get(v.hostId)?.name : undefined),
    template: (v) => st.templates.get(v.templateId)?.name,
    datacenter: (v) => st.dataCenters.get(st.clusters.get(v.clusterId)?.dataCenterId ?? '')?.name,
  };
}

function topology(b: Node | undefined): Partial<CpuTopology> {
  const tp = child(child(b, 'cpu'), 'topology');
  if (!tp) return {};
  const n = (k: keyof CpuTopology): number | undefined => {
    const v = tp.attrs[k] ?? get(tp, k);
    return v === undefined ? undefined : Number(v);
  };
  const out: Partial<CpuTopology> = {};
  for (const k of ['sockets', 'cores', 'threads'] as const) if (n(k) !== undefined) out[k] = n(k)!;
  return out;
}

/** v4 `<os><boot><devices><device>`, v3 `<os type><boot dev/>` (§4.2). */
function osOf(b: Node | undefined): { type?: string; boot?: string[] } {
  const os = child(b, 'os');
  if (!os) return {};
  const type = os.attrs['type'] ?? get(os, 'type');
  const v3 = children(os, 'boot').map((x) => x.attrs['dev']).filter((x): x is string => !!x);
  const v4 = children(child(child(os, 'boot'), 'devices'), 'device').map((x) => x.text);
  const boot = v3.length ? v3 : v4;
  return { ...(type ? { type } : {}), ...(boot.length ? { boot } : {}) };
}

/** `<placement_policy><affinity/><hosts><host/></hosts>` (v4) or `<host/>` (v3) (§7.7); undefined when absent. */
function placementOf(st: EngineState, b: Node | undefined): Vm['placement'] | undefined {
  const pp = child(b, 'placement_policy');
  if (!pp) return undefined;
  const refs = child(pp, 'hosts') ? children(child(pp, 'hosts'), 'host').map((h) => ({ id: h.attrs['id'] ?? get(h, 'id'), name: get(h, 'name') })) : [ref(pp, 'host')].filter((x) => x !== undefined);
  const hostIds = refs.map((r) => resolveHostRef(st, { ...(r!.id !== undefined ? { id: r!.id } : {}), ...(r!.name !== undefined ? { name: r!.name } : {}) })!.id);
  return { hostIds, affinity: get(pp, 'affinity') ?? 'migratable' };
}

function resolveTemplate(st: EngineState, r: { id?: string; name?: string } | undefined, action: string): Template {
  const x = r?.id !== undefined ? st.templates.get(r.id) : [...st.templates.values()].find((tp) => tp.name === r?.name);
  if (!x) {
    if (r?.id !== undefined) throw backendFailure(400, cannot(action, 'VM', "The relevant Template doesn't exist."));
    throw entityNotFound(`Template: name=${r?.name}`);
  }
  return x;
}

/** Marks a task set finished after `steps`, running `done` first (storage copy finished). */
function finishTask(st: EngineState, task: AsyncTask, steps: number, done: () => boolean, job?: Job): void {
  task.status = 'in_progress';
  st.clock.after(steps, () => {
    const ok = done();
    task.status = ok ? 'complete' : 'failed';
    if (!ok) task.fault = 'Asynchronous task failed';
    st.endJob(job, ok ? 'finished' : 'failed');
  });
}

const copyDisks = (st: EngineState, disks: Disk[]): Disk[] => disks.map((d) => ({ ...d, id: st.newId(), status: 'locked' as const }));

// ---- VM add / update / remove ----

function addVm(ctx: Ctx): Result | Promise<Result> {
  const b = ctx.body('vm', 'vms/methods/add');
  const st = ctx.st;
  const name = get(b, 'name');
  const clusterRef = ref(b, 'cluster');
  const templateRef = ref(b, 'template');
  // §7.7: cluster is checked first ("Vm [cluster.id|name] required for add"), then name, template.
  if (!clusterRef) ctx.require(b, 'Vm', 'add', [['cluster.id|name', false]]);
  ctx.require(b, 'Vm', 'add', [['name', !!name], ['template.id|name', !!templateRef]]);
  const clusterId = resolveCluster(st, clusterRef, 'add', 'VM')!;
  const tpl = resolveTemplate(st, templateRef, 'add');
  if (!/^[\w.-]+$/.test(name!)) throw backendFailure(400, `Can not add VM. The given name contains special characters. Only lower-case and upper-case letters, numbers, '_', '-', '.' are allowed.`);
  if ([...st.vms.values()].some((v) => v.name === name)) throw backendFailure(409, cannot('add', 'VM', 'The VM name is already in use, please choose a unique name and try again.'));
  const os = osOf(b);
  const now = new Date();
  const memory = get(b, 'memory');
  const x: Vm = {
    id: st.newId(), name: name!, status: 'down', memory: memory ? Number(memory) : tpl.memory, cpu: { ...tpl.cpu, ...topology(b) },
    osType: os.type ?? tpl.osType, boot: os.boot ?? tpl.boot, type: get(b, 'type') ?? tpl.type, clusterId, templateId: tpl.id,
    originalTemplateId: tpl.id, creationTime: now, disks: copyDisks(st, tpl.disks), stateless: parseBool(get(b, 'stateless')) ?? false,
    highAvailability: parseBool(get(b, 'high_availability.enabled')) ?? false,
    // Template NICs come along with fresh MACs from the pool, as the engine does (§7.8).
    nics: (tpl.nics ?? []).map((n) => ({ ...n, id: st.newId(), mac: st.newMac() })),
    ...(placementOf(st, b) ? { placement: placementOf(st, b)! } : {}),
    ...(get(b, 'description') ? { description: get(b, 'description')! } : {}), ...(get(b, 'comment') ? { comment: get(b, 'comment')! } : {}),
  };
  st.vms.set(x.id, x);
  const job = st.startJob(`Creating VM ${x.name} from Template ${tpl.name} in Cluster ${st.clusters.get(clusterId)!.name}`, ctx.correlationId);
  if (!x.disks.length) {
    // §7.7: from Blank (no disks) → 201, VM down.
    st.endJob(job, 'finished');
    return created(ctx, vmEl(ctx.r, x), 'vms', x.id);
  }
  // Template disks are copied: image_locked, 202 + creation_status, unless Expect: 201-created.
  x.status = 'image_locked';
  const task = st.newTask();
  finishTask(st, task, st.timing.storageTask, () => {
    for (const d of x.disks) d.status = 'ok';
    if (x.status === 'image_locked') x.status = 'down';
    return true;
  }, job);
  if (ctx.expect() === '201-created') return waitThen(ctx, task, () => created(ctx, vmEl(ctx.r, x), 'vms', x.id));
  return { status: 202, body: vmEl(ctx.r, x, { task }), headers: { location: href(ctx.r, 'vms', x.id) } };
}

/** Expect: 201-created: the engine polls the tasks until done, then answers (§5.1). */
async function waitThen(ctx: Ctx, task: AsyncTask, then: () => Result): Promise<Result> {
  for (let i = 0; i < 10_000 && (task.status === 'pending' || task.status === 'in_progress'); i++) {
    if (ctx.st.clock.stepMs === 0) ctx.st.clock.advance(1);
    else await new Promise((r) => setTimeout(r, Math.max(1, ctx.st.clock.stepMs / 2)));
  }
  return then();
}

function updateVm(ctx: Ctx): Result {
  const x = vmById(ctx.st, ctx.params['id']);
  const b = ctx.body('vm', 'vms/vm/methods/update');
  immutable(b, x.id);
  if (x.status === 'image_locked') throw backendFailure(409, cannot('edit', 'VM', 'VM is locked. Please try again in a few minutes.').replace('VM. VM is locked', 'VM: VM is locked'));
  const name = get(b, 'name');
  if (name !== undefined && name !== x.name && [...ctx.st.vms.values()].some((v) => v.name === name)) throw backendFailure(409, cannot('edit', 'VM', 'The VM name is already in use, please choose a unique name and try again.'));
  const memory = get(b, 'memory');
  const running = x.status !== 'down';
  const nextRun = ctx.bool('next_run') ?? false;
  if (memory !== undefined && running && !nextRun && Number(memory) < x.memory) {
    throw backendFailure(409, cannot('edit', 'VM', `because the VM is in ${x.status} status.`).replace('VM. because', 'VM because'));
  }
  if (name !== undefined) x.name = name;
  if (memory !== undefined) x.memory = Number(memory);
  const desc = get(b, 'description');
  if (desc !== undefined) x.description = desc;
  const cm = get(b, 'comment');
  if (cm !== undefined) x.comment = cm;
  Object.assign(x.cpu, topology(b));
  const placement = placementOf(ctx.st, b);
  if (placement) x.placement = placement;
  const os = osOf(b);
  if (os.type) x.osType = os.type;
  if (os.boot) x.boot = os.boot;
  return { status: 200, body: vmEl(ctx.r, x) };
}

function removeVm(ctx: Ctx): Result {
  const x = vmById(ctx.st, ctx.params['id']);
  // v4 takes force as a query parameter, v3 in an <action> body on the DELETE (§7.7).
  const force = ctx.bool('force') ?? (ctx.rawBody.trim() ? parseBool(get(ctx.body('action', 'vms/vm/methods/remove'), 'force')) : undefined) ?? false;
  if (x.status === 'image_locked') throw backendFailure(409, 'Cannot remove VM: VM is locked. Please try again in a few minutes.');
  if (x.status !== 'down' && !force) throw backendFailure(409, 'Cannot remove VM that its state is not down.\n-Please stop the VM first.');
  ctx.st.vms.delete(x.id);
  return removalResult(ctx);
}

// ---- VM actions (§7.7 table; §9.4 transitions) ----

const RUNNING: VmStatus[] = ['up', 'powering_up', 'wait_for_launch', 'migrating', 'reboot_in_progress', 'paused', 'powering_down'];

function pickHost(st: EngineState, x: Vm, exclude?: string, requested?: string): string | undefined {
  const ups = [...st.hosts.values()].filter((h) => h.clusterId === x.clusterId && h.status === 'up' && h.id !== exclude);
  if (requested) return ups.find((h) => h.id === requested)?.id;
  return ups[0]?.id;
}

function transition(st: EngineState, x: Vm, path: [VmStatus, number][], job: Job | undefined, final?: () => void): void {
  const [first, ...rest] = path;
  x.status = first![0];
  const step = (i: number, prev: VmStatus, delay: number): void => {
    if (i >= rest.length) {
      final?.();
      st.endJob(job, 'finished');
      return;
    }
    st.clock.after(delay, () => {
      if (x.status !== prev || !st.vms.has(x.id)) return st.endJob(job, 'failed');
      x.status = rest[i]![0];
      step(i + 1, rest[i]![0], rest[i]![1]);
    });
  };
  step(0, first![0], first![1]);
}

function start(ctx: Ctx, x: Vm): Result {
  const st = ctx.st;
  if (RUNNING.includes(x.status)) throw backendFailure(409, cannot('run', 'VM', 'VM is running.'));
  if (x.status === 'image_locked') throw backendFailure(409, 'Cannot run VM: VM is locked. Please try again in a few minutes.');
  if (x.status !== 'down' && x.status !== 'suspended') throw backendFailure(409, `Cannot run VM because the VM is in ${x.status} status.`);
  const a = ctx.action!;
  const runOnce = osOf(child(a, 'vm')).boot;
  const boot = runOnce ?? x.boot;
  const placement = child(child(child(a, 'vm'), 'placement_policy'), 'hosts') ? ref(child(child(child(a, 'vm'), 'placement_policy'), 'hosts'), 'host') : ref(child(child(a, 'vm'), 'placement_policy'), 'host');
  // A run-once host wins; otherwise the VM's own placement policy names the host the scheduler prefers.
  const wanted = placement ? resolveHostRef(st, placement)?.id : x.placement?.hostIds.find((id) => st.hosts.get(id)?.status === 'up');
  const hostId = pickHost(st, x, undefined, wanted);
  if (!hostId) throw backendFailure(409, cannot('run', 'VM', 'There is no available operational Host (in UP state) in the relevant Cluster.'));
  if (boot[0] === 'hd' && boot.length === 1 && !x.disks.some((d) => d.bootable)) {
    throw backendFailure(409, 'Cannot run VM without at least one bootable disk.\nAlternatives:\n-Create a disk for this VM, and rerun the VM.\n-Change the boot sequence to boot from CD-ROM or from network.');
  }
  if (get(a, 'use_sysprep') === 'true' && get(a, 'use_cloud_init') === 'true') throw backendFailure(409, 'Cannot use multiple initialization tags simultaneously when running VM.');
  const job = st.startJob(`Launching VM ${x.name}`, ctx.correlationId);
  st.event({ code: 153, severity: 'normal', description: `${x.name} was started by admin@internal (Host: ${st.hosts.get(hostId)!.name}).`, vmId: x.id, hostId, correlationId: ctx.correlationId });
  x.hostId = hostId;
  delete x.stopTime;
  const T = st.timing;
  const pause = parseBool(get(a, 'pause')) === true;
  if (x.status === 'suspended') transition(st, x, [['restoring_state', T.vmPowerUp], ['up', 0]], job, () => (x.startTime = new Date()));
  else transition(st, x, [['wait_for_launch', T.vmLaunch], ['powering_up', T.vmPowerUp], [pause ? 'paused' : 'up', 0]], job, () => (x.startTime = new Date()));
  return actionResult(ctx, { jobId: job.id });
}

function stopLike(ctx: Ctx, x: Vm, kind: 'stop' | 'shutdown'): Result {
  const st = ctx.st;
  if (x.status === 'down') throw backendFailure(409, cannot(kind, 'VM', 'VM is not running.'));
  if (x.status === 'image_locked') throw backendFailure(409, `Cannot ${kind} VM: VM is locked. Please try again in a few minutes.`);
  const job = st.startJob(`${kind === 'stop' ? 'Stopping' : 'Shutting down'} VM ${x.name}`, ctx.correlationId);
  const off = (): void => {
    delete x.hostId;
    x.stopTime = new Date();
  };
  if (kind === 'stop' || x.status === 'suspended') {
    x.status = 'down';
    off();
    st.endJob(job, 'finished');
  } else {
    transition(st, x, [['powering_down', st.timing.vmShutdown], ['down', 0]], job, off);
  }
  return actionResult(ctx, { jobId: job.id });
}

function reboot(ctx: Ctx, x: Vm): Result {
  if (x.status !== 'up') throw backendFailure(409, cannot('reboot', 'VM', 'VM is not up.'));
  const job = ctx.st.startJob(`Rebooting VM ${x.name}`, ctx.correlationId);
  transition(ctx.st, x, [['reboot_in_progress', ctx.st.timing.vmPowerUp], ['up', 0]], job);
  return actionResult(ctx, { jobId: job.id });
}

function suspend(ctx: Ctx, x: Vm): Result {
  if (x.status !== 'up') throw backendFailure(409, cannot('hibernate', 'VM', 'VM is not up.'));
  const job = ctx.st.startJob(`Hibernating VM ${x.name}`, ctx.correlationId);
  transition(ctx.st, x, [['saving_state', ctx.st.timing.storageTask], ['suspended', 0]], job, () => delete x.hostId);
  return actionResult(ctx, { jobId: job.id });
}

function migrate(ctx: Ctx, x: Vm): Result {
  const st = ctx.st;
  if (x.status === 'migrating') throw backendFailure(409, cannot('migrate', 'VM', 'VM migration is in progress'));
  if (x.status !== 'up') throw backendFailure(409, cannot('migrate', 'VM', 'VM is not running.'));
  const target = resolveHostRef(st, ref(ctx.action, 'host'));
  if (target && target.id === x.hostId) throw backendFailure(409, cannot('migrate', 'VM', 'source and destination is the same.'));
  const dest = pickHost(st, x, x.hostId, target?.id);
  if (!dest) throw backendFailure(409, cannot('migrate', 'VM', 'There are no available running Hosts in the Host Cluster.'));
  const job = st.startJob(`Migrating VM ${x.name} to Host ${st.hosts.get(dest)!.name}`, ctx.correlationId);
  transition(st, x, [['migrating', st.timing.vmMigrate], ['up', 0]], job, () => (x.hostId = dest));
  return actionResult(ctx, { jobId: job.id });
}

function ticket(ctx: Ctx, x: Vm): Result {
  if (x.status !== 'up' && x.status !== 'powering_up') throw backendFailure(409, cannot('set console ticket for', 'VM', 'VM is not running.'));
  const value = get(ctx.action, 'ticket.value') ?? randomBytes(9).toString('base64url');
  const expiry = Number(get(ctx.action, 'ticket.expiry') ?? 7200);
  x.ticket = { value, expiry };
  // The response echoes <ticket> with the generated value (§7.7), so drop the echoed one.
  ctx.action = { ...ctx.action!, children: ctx.action!.children.filter((c) => c.name !== 'ticket') };
  return actionResult(ctx, { extra: [el('ticket', null, [t('value', value), t('expiry', expiry)])] });
}

/** §7.7 clone (v3.5+): VM down; async disk copy → 202 + pollable `/vms/{id}/clone/{taskId}`. */
function clone(ctx: Ctx, x: Vm): Result | Promise<Result> {
  const st = ctx.st;
  const name = get(ctx.action, 'vm.name');
  if (!name) throw new EngineFault(400, 'Incomplete parameters', 'Action [vm.name] required for clone');
  if (x.status !== 'down') throw backendFailure(409, cannot('clone', 'VM', 'VM is running.').replace('clone', 'add'));
  if ([...st.vms.values()].some((v) => v.name === name)) throw backendFailure(409, cannot('add', 'VM', 'The VM name is already in use, please choose a unique name and try again.'));
  const copy: Vm = { ...x, id: st.newId(), name, status: 'image_locked', creationTime: new Date(), nics: x.nics.map((n) => ({ ...n, id: st.newId(), mac: st.newMac() })), disks: copyDisks(st, x.disks), cpu: { ...x.cpu }, boot: [...x.boot] };
  delete copy.hostId;
  st.vms.set(copy.id, copy);
  x.status = 'image_locked';
  const job = st.startJob(`Cloning VM ${x.name}`, ctx.correlationId);
  const task = st.newTask();
  finishTask(st, task, st.timing.storageTask, () => {
    for (const d of copy.disks) d.status = 'ok';
    copy.status = 'down';
    if (x.status === 'image_locked') x.status = 'down';
    return true;
  }, job);
  return asyncAction(ctx, task, href(ctx.r, 'vms', x.id), 'clone', job);
}

/**
 * §5.3 doAction with VDSM tasks: 202 `<action id href><async>true</async><status>pending</status>
 * <link rel="parent"/><link rel="replay"/></action>`; `<async>false</async>` waits and answers 200.
 */
function asyncAction(ctx: Ctx, task: AsyncTask, entity: string, action: string, job: Job): Result | Promise<Result> {
  if (parseBool(get(ctx.action, 'async')) === false) {
    return waitThen(ctx, task, () => actionResult(ctx, { jobId: job.id, status: task.status }));
  }
  const actionUrl = `${entity}/${action}`;
  if (!child(ctx.action, 'async')) ctx.action!.children.unshift({ name: 'async', attrs: {}, text: 'true', children: [] });
  return actionResult(ctx, {
    http: 202, status: 'pending', jobId: job.id, idHref: { id: task.id, href: `${actionUrl}/${task.id}` },
    links: [el('link', { href: entity, rel: 'parent' }), el('link', { href: actionUrl, rel: 'replay' })],
  });
}

const VM_ACTIONS: Record<string, (ctx: Ctx, x: Vm) => Result | Promise<Result>> = {
  start, stop: (c, x) => stopLike(c, x, 'stop'), shutdown: (c, x) => stopLike(c, x, 'shutdown'), reboot, suspend, migrate, ticket, clone,
  cancelmigration: (ctx, x) => {
    if (x.status !== 'migrating') throw backendFailure(409, cannot('cancel migration of', 'VM', 'VM is not being migrated.'));
    x.status = 'up';
    return actionResult(ctx);
  },
};

/** §5.3 polling: `{actionUrl}/{taskIds}` → <action id href><status/>[<fault/>]; unknown ids are complete. */
function pollAction(ctx: Ctx): Result {
  const x = vmById(ctx.st, ctx.params['id']);
  const task = ctx.st.tasks.get(ctx.params['task']!);
  const actionUrl = href(ctx.r, 'vms', x.id, ctx.params['action']!);
  const status = task?.status ?? 'complete';
  return {
    status: 200,
    body: el('action', { href: `${actionUrl}/${ctx.params['task']}`, id: ctx.params['task'] }, [
      el('link', { href: href(ctx.r, 'vms', x.id), rel: 'parent' }), el('link', { href: actionUrl, rel: 'replay' }),
      statusValue(ctx.r, 'status', status),
      task?.fault ? el('fault', null, [t('reason', task.fault), t('detail', task.fault)]) : null,
    ]),
  };
}

function pollCreation(ctx: Ctx, coll: 'vms' | 'templates'): Result {
  const m = coll === 'vms' ? ctx.st.vms : ctx.st.templates;
  if (!m.has(ctx.params['id']!)) throw notFound();
  const task = ctx.st.tasks.get(ctx.params['task']!);
  const self = href(ctx.r, coll, ctx.params['id']!, 'creation_status', ctx.params['task']!);
  return {
    status: 200,
    body: el('creation', { href: self, id: ctx.params['task'] }, [
      statusValue(ctx.r, 'status', task?.status ?? 'complete'),
      task?.fault ? el('fault', null, [t('reason', task.fault), t('detail', task.fault)]) : null,
    ]),
  };
}

// ---- NICs and disks ----

function addNic(ctx: Ctx): Result {
  const st = ctx.st;
  const x = vmById(st, ctx.params['id']);
  const b = ctx.body('nic', 'vms/vm/nics/methods/add');
  const name = get(b, 'name');
  ctx.require(b, 'Nic', 'add', [['name', !!name]]);
  if (x.nics.some((n) => n.name === name)) throw backendFailure(409, cannot('add', 'Interface', 'The Interface name is already in use, please choose a unique name and try again.'));
  // v3: <network><name>rhevm</name></network>; v4: <vnic_profile id/> (§7.7 NICs).
  let networkId: string | undefined;
  let profileId: string | undefined;
  const netRef = ref(b, 'network');
  const dcId = st.clusters.get(x.clusterId)!.dataCenterId;
  if (netRef) {
    const n = netRef.id !== undefined ? st.networks.get(netRef.id) : [...st.networks.values()].find((y) => y.name === netRef.name && y.dataCenterId === dcId);
    if (!n) throw entityNotFound(netRef.id !== undefined ? `Network: id=${netRef.id}` : `Network: name=${netRef.name}`);
    networkId = n.id;
    profileId = [...st.vnicProfiles.values()].find((p) => p.networkId === n.id)?.id;
  }
  const profRef = ref(b, 'vnic_profile');
  if (profRef) {
    const p = profRef.id !== undefined ? st.vnicProfiles.get(profRef.id) : [...st.vnicProfiles.values()].find((y) => y.name === profRef.name);
    if (!p) throw entityNotFound(profRef.id !== undefined ? `VnicProfile: id=${profRef.id}` : `VnicProfile: name=${profRef.name}`);
    profileId = p.id;
    networkId = p.networkId;
  }
  const mac = get(b, 'mac.address') ?? child(b, 'mac')?.attrs['address'] ?? st.newMac();
  const nic = { id: st.newId(), name: name!, interface: get(b, 'interface') ?? 'virtio', mac, linked: parseBool(get(b, 'linked')) ?? true, plugged: parseBool(get(b, 'plugged')) ?? true, ...(networkId ? { networkId } : {}), ...(profileId ? { vnicProfileId: profileId } : {}) };
  x.nics.push(nic);
  return created(ctx, vmNic(ctx.r, x, nic), `vms/${x.id}/nics`, nic.id);
}

function readDisk(ctx: Ctx, b: Node, x: Vm): Disk {
  const st = ctx.st;
  const d = b.name === 'disk_attachment' ? child(b, 'disk') : b;
  const size = get(d, 'provisioned_size') ?? get(d, 'size');
  const iface = get(b, 'interface') ?? get(d, 'interface');
  ctx.require(b, b.name === 'disk_attachment' ? 'DiskAttachment' : 'Disk', 'add', [
    [b.name === 'disk_attachment' ? 'disk.provisionedSize' : 'provisionedSize|size', !!size], ['interface', !!iface], ['format', !!get(d, 'format')],
  ]);
  const sdNode = child(child(d, 'storage_domains'), 'storage_domain') ?? child(d, 'storage_domain');
  let sdId: string | undefined;
  if (sdNode) {
    const id = sdNode.attrs['id'];
    const nm = get(sdNode, 'name');
    const sd = id !== undefined ? st.storageDomains.get(id) : [...st.storageDomains.values()].find((s) => s.name === nm);
    if (!sd) throw entityNotFound(id !== undefined ? `Storage: id=${id}` : `Storage: name=${nm}`);
    sdId = sd.id;
  } else {
    const dcId = st.clusters.get(x.clusterId)!.dataCenterId;
    sdId = [...st.storageDomains.values()].find((s) => s.type === 'data' && s.attachments.get(dcId) === 'active')?.id;
    if (!sdId) throw backendFailure(409, "Cannot add Virtual Disk. Storage Domain doesn't exist.");
  }
  return {
    id: st.newId(), name: get(d, 'name') ?? get(d, 'alias') ?? `${x.name}_Disk${x.disks.length + 1}`, provisionedSize: Number(size), format: (get(d, 'format') as Disk['format']) ?? 'cow',
    interface: iface!, bootable: parseBool(get(b, 'bootable') ?? get(d, 'bootable')) ?? false, status: 'locked', storageDomainId: sdId, active: parseBool(get(b, 'active')) ?? true,
    ...(get(d, 'description') ? { description: get(d, 'description')! } : {}),
  };
}

function addDisk(ctx: Ctx, asAttachment: boolean): Result {
  const st = ctx.st;
  const x = vmById(st, ctx.params['id']);
  const b = ctx.body(asAttachment ? 'disk_attachment' : 'disk', asAttachment ? 'vms/vm/diskattachments/methods/add' : 'vms/vm/disks/methods/add');
  const d = readDisk(ctx, b, x);
  x.disks.push(d);
  // §7.7: disk status locked → ok (poll /disks/{id}); the add itself answers 201.
  st.clock.after(st.timing.storageTask, () => void (d.status = 'ok'));
  return asAttachment ? created(ctx, diskAttachment(ctx.r, x, d), `vms/${x.id}/diskattachments`, d.id) : created(ctx, diskEl(ctx.r, d, x), `vms/${x.id}/disks`, d.id);
}

function findDisk(st: EngineState, id: string | undefined): { d: Disk; owner?: Vm } {
  for (const v of st.vms.values()) {
    const d = v.disks.find((x) => x.id === id);
    if (d) return { d, owner: v };
  }
  for (const tp of st.templates.values()) {
    const d = tp.disks.find((x) => x.id === id);
    if (d) return { d };
  }
  throw notFound();
}

// ---- CD-ROM (§7.7): v4 PUT /vms/{id}/cdroms/0000…, v3.0 POST /vms/{id}/cdroms ----

const CDROM_ID = '00000000-0000-0000-0000-000000000000';

function cdromEl(ctx: Ctx, x: Vm): ReturnType<typeof el> {
  return el('cdrom', { href: href(ctx.r, 'vms', x.id, 'cdroms', CDROM_ID), id: CDROM_ID }, [x.cdrom ? fileEl(ctx.r, x.cdrom) : null, el('vm', { href: href(ctx.r, 'vms', x.id), id: x.id })]);
}

function changeCdrom(ctx: Ctx, add: boolean): Result {
  const x = vmById(ctx.st, ctx.params['id']);
  if (!add && ctx.params['cd'] !== CDROM_ID) throw notFound();
  const b = ctx.body('cdrom', 'vms/vm/cdroms/methods/update');
  const file = child(b, 'file');
  const id = file?.attrs['id'] ?? get(file, 'id');
  if (id !== undefined && id !== '') {
    const dcId = ctx.st.clusters.get(x.clusterId)!.dataCenterId;
    const known = [...ctx.st.storageDomains.values()].some((s) => s.type === 'iso' && s.attachments.has(dcId) && s.files.includes(id));
    if (!known) throw backendFailure(400, cannot('change CD', 'VM', `The ISO file ${id} does not exist in an attached ISO domain.`));
    x.cdrom = id;
  } else delete x.cdrom;
  return add ? created(ctx, cdromEl(ctx, x), `vms/${x.id}/cdroms`, CDROM_ID) : { status: 200, body: cdromEl(ctx, x) };
}

// ---- templates (§7.8) ----

function addTemplate(ctx: Ctx): Result | Promise<Result> {
  const st = ctx.st;
  const b = ctx.body('template', 'templates/methods/add');
  const name = get(b, 'name');
  const vmRef = ref(b, 'vm');
  ctx.require(b, 'Template', 'add', [['name', !!name], ['vm.id|name', !!vmRef]]);
  const src = vmRef!.id !== undefined ? st.vms.get(vmRef!.id) : [...st.vms.values()].find((v) => v.name === vmRef!.name);
  if (!src) throw entityNotFound(vmRef!.id !== undefined ? `VM: id=${vmRef!.id}` : `VM: name=${vmRef!.name}`);
  if (src.status !== 'down') throw backendFailure(409, cannot('add', 'Template', 'VM is running.'));
  if ([...st.templates.values()].some((x) => x.name === name)) throw backendFailure(409, cannot('add', 'Template', 'The Template name is already in use, please choose a unique name and try again.'));
  const tp: Template = {
    id: st.newId(), name: name!, status: 'locked', memory: src.memory, cpu: { ...src.cpu }, osType: src.osType, boot: [...src.boot], type: src.type,
    clusterId: src.clusterId, vmId: src.id, disks: copyDisks(st, src.disks), creationTime: new Date(), nics: src.nics.map((n) => ({ ...n })), ...(get(b, 'description') ? { description: get(b, 'description')! } : {}),
  };
  st.templates.set(tp.id, tp);
  src.status = 'image_locked';
  const job = st.startJob(`Creating Template ${tp.name} from VM ${src.name}`, ctx.correlationId);
  const task = st.newTask();
  finishTask(st, task, st.timing.storageTask, () => {
    tp.status = 'ok';
    for (const d of tp.disks) d.status = 'ok';
    if (src.status === 'image_locked') src.status = 'down';
    return true;
  }, job);
  const render = (): Result => ({ status: 201, body: templateEl(ctx.r, tp), headers: { location: href(ctx.r, 'templates', tp.id) } });
  if (ctx.expect() === '201-created') return waitThen(ctx, task, render);
  const body = templateEl(ctx.r, tp);
  body.children!.splice(1, 0, ctx.r.v === 3 ? el('creation_status', null, [t('state', task.status)]) : t('creation_status', task.status)!, el('link', { href: `${href(ctx.r, 'templates', tp.id)}/creation_status/${task.id}`, rel: 'creation_status' }));
  return { status: 202, body, headers: { location: href(ctx.r, 'templates', tp.id) } };
}

function removeTemplate(ctx: Ctx): Result {
  const st = ctx.st;
  const tp = st.templates.get(ctx.params['id']!);
  if (!tp) throw notFound();
  if (tp.id === BLANK_TEMPLATE_ID) throw backendFailure(409, cannot('remove', 'Template', 'Blank Template cannot be removed.'));
  if (tp.status === 'locked') throw backendFailure(409, cannot('remove', 'Template', 'Template is locked. Please try again in a few minutes.'));
  const users = [...st.vms.values()].filter((v) => v.templateId === tp.id).map((v) => v.name);
  if (users.length) throw backendFailure(409, cannot('remove', 'Template', `The following VMs are based on this template: ${users.join(', ')}.`));
  st.templates.delete(tp.id);
  return removalResult(ctx);
}

// ---- routing ----

export function vmRoutes(router: Router): void {
  router
    .add('GET', 'vms', (ctx) => ({ status: 200, body: collection('vms', search([...ctx.st.vms.values()], ctx.query.get('search'), vmFields(ctx.st), { caseSensitive: ctx.bool('case_sensitive') ?? ctx.r.v === 4, max: maxOf(ctx) }).map((v) => vmEl(ctx.r, v))) }))
    .add('POST', 'vms', addVm)
    .add('GET', 'vms/:id', (ctx) => ({ status: 200, body: vmEl(ctx.r, vmById(ctx.st, ctx.params['id'])) }))
    .add('PUT', 'vms/:id', updateVm)
    .add('DELETE', 'vms/:id', removeVm)
    .add('GET', 'vms/:id/creation_status/:task', (ctx) => pollCreation(ctx, 'vms'))
    .add('GET', 'vms/:id/nics', (ctx) => {
      const x = vmById(ctx.st, ctx.params['id']);
      return { status: 200, body: collection('nics', x.nics.map((n) => vmNic(ctx.r, x, n))) };
    })
    .add('POST', 'vms/:id/nics', addNic)
    .add('GET', 'vms/:id/nics/:nic', (ctx) => {
      const x = vmById(ctx.st, ctx.params['id']);
      const n = x.nics.find((y) => y.id === ctx.params['nic']);
      if (!n) throw notFound();
      return { status: 200, body: vmNic(ctx.r, x, n) };
    })
    .add('DELETE', 'vms/:id/nics/:nic', (ctx) => {
      const x = vmById(ctx.st, ctx.params['id']);
      if (!x.nics.some((y) => y.id === ctx.params['nic'])) throw notFound();
      x.nics = x.nics.filter((y) => y.id !== ctx.params['nic']);
      return removalResult(ctx);
    })
    .add('GET', 'vms/:id/diskattachments', (ctx) => {
      const x = vmById(ctx.st, ctx.params['id']);
      return { status: 200, body: collection('disk_attachments', x.disks.map((d) => diskAttachment(ctx.r, x, d))) };
    })
    .add('POST', 'vms/:id/diskattachments', (ctx) => addDisk(ctx, true))
    .add('GET', 'vms/:id/disks', (ctx) => {
      const x = vmById(ctx.st, ctx.params['id']);
      return { status: 200, body: collection('disks', x.disks.map((d) => diskEl(ctx.r, d, x))) };
    })
    .add('POST', 'vms/:id/disks', (ctx) => addDisk(ctx, false))
    .add('GET', 'vms/:id/cdroms', (ctx) => {
      vmById(ctx.st, ctx.params['id']);
      return { status: 200, body: collection('cdroms', [cdromEl(ctx, vmById(ctx.st, ctx.params['id']))]) };
    })
    .add('POST', 'vms/:id/cdroms', (ctx) => changeCdrom(ctx, true))
    .add('PUT', 'vms/:id/cdroms/:cd', (ctx) => changeCdrom(ctx, false))
    .add('POST', 'vms/:id/:action', (ctx) => {
      const x = vmById(ctx.st, ctx.params['id']);
      const fn = VM_ACTIONS[ctx.params['action']!];
      if (!fn) throw notFound();
      ctx.action = ctx.body('action', `vms/vm/methods/${ctx.params['action']}`);
      return fn(ctx, x);
    })
    .add('GET', 'vms/:id/:action/:task', pollAction)
    .add('GET', 'disks/:id', (ctx) => {
      const { d, owner } = findDisk(ctx.st, ctx.params['id']);
      void owner;
      return { status: 200, body: diskEl(ctx.r, d) };
    })
    .add('GET', 'templates', (ctx) => ({ status: 200, body: collection('templates', search([...ctx.st.templates.values()], ctx.query.get('search'), { name: (x) => x.name, status: (x) => x.status, description: (x) => x.description }, { caseSensitive: ctx.bool('case_sensitive') ?? ctx.r.v === 4, max: maxOf(ctx) }).map((x) => templateEl(ctx.r, x))) }))
    .add('POST', 'templates', addTemplate)
    .add('GET', 'templates/:id', (ctx) => {
      const x = ctx.st.templates.get(ctx.params['id']!);
      if (!x) throw notFound();
      return { status: 200, body: templateEl(ctx.r, x) };
    })
    .add('DELETE', 'templates/:id', removeTemplate)
    .add('GET', 'templates/:id/creation_status/:task', (ctx) => pollCreation(ctx, 'templates'));
}

