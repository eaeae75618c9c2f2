/**
 * The RHEV-M / oVirt side of the hypervisor driver (issue 7), over the engine client.
 *
 * What the engine says, translated for placement and the VM service:
 * - hosts: `rhev-h` (v3) / `ovirt_node` (v4) are hypervisor type `rhevh`, `rhel` hosts are `kvm`;
 *   the architecture is the host's cluster CPU architecture (hosts carry none of their own);
 *   free memory is `max_scheduling_memory`, what the engine's scheduler would still place.
 * - templates: image properties come from the description (image-properties.ts).
 * - every change waits for the engine's end state with a bound (the engine answers actions at
 *   once and moves the VM afterwards, ovirt-api.md §5.3), and an engine refusal is thrown as the
 *   client's EngineFault, whose message carries the engine's reason and detail verbatim
 *   ("Cannot run VM. VM is running."), so the admin reads the engine's own words.
 */
import { RhevbootError } from '../errors.js';
import type { Logger } from '../log.js';
import { sleep } from '../util/sleep.js';
import { RhevmError, type Cluster, type Host, type RhevmClient, type Vm, type VmNic } from '../rhevm/index.js';
import type { HostInfo, ImageInfo } from '../domain/hypervisor.js';
import type { DiskSpec, HypervisorDriver, NicSpec, PowerAction, VmChanges, VmInfo, VmSpec } from './driver.js';
import { parseImageProperties } from './image-properties.js';

const MIB = 1024 * 1024;

export interface RhevmDriverOptions {
  /** The engine's name in rhevboot. */
  name: string;
  client: RhevmClient;
  log?: Logger;
  /** Longest interval between state checks; the first is 1/8 of it (min 50 ms), doubling up to it. */
  pollIntervalMs?: number;
  /** Bound of a power or migrate wait (default 5 min: a guest agent may take ~60 s to report up). */
  powerTimeoutMs?: number;
  /** Bound of a create or clone wait (default 30 min: disk copies are storage-speed bound). */
  copyTimeoutMs?: number;
}

type Check = 'done' | 'wait' | { fail: string };

/** States a VM passes through on its own; anything else while waiting is an end state. */
const SETTLING = new Set(['wait_for_launch', 'powering_up', 'powering_down', 'reboot_in_progress', 'saving_state', 'restoring_state', 'migrating', 'image_locked', 'unassigned', 'unknown']);

export class RhevmDriver implements HypervisorDriver {
  readonly kind = 'rhevm' as const;
  readonly name: string;
  private readonly client: RhevmClient;
  private readonly log: Logger | undefined;
  private readonly pollMs: number;
  private readonly powerTimeoutMs: number;
  private readonly copyTimeoutMs: number;
  // Cached per driver (one service operation): a bulk run looks these up once, not once per VM.
  private hosts: Promise<Host[]> | undefined;
  private clusters: Promise<Cluster[]> | undefined;
  private readonly nicTargets = new Map<string, Promise<{ network?: { name: string }; vnicProfile?: { id: string } }>>();
  private readonly storage = new Map<string, Promise<string>>();
  private readonly defaultNetwork = new Map<string, Promise<string>>();

  constructor(opts: RhevmDriverOptions) {
    this.name = opts.name;
    this.client = opts.client;
    this.log = opts.log;
    this.pollMs = opts.pollIntervalMs ?? 5000;
    this.powerTimeoutMs = opts.powerTimeoutMs ?? 300_000;
    this.copyTimeoutMs = opts.copyTimeoutMs ?? 1_800_000;
  }

  /** Engine calls made so far (figures for the bulk run). */
  get calls(): number {
    return this.client.conn.stats.requests;
  }

  // ---- hosts and images ---------------------------------------------------------------------

  async listHosts(): Promise<HostInfo[]> {
    const [hosts, clusters] = await Promise.all([this.allHosts(true), this.allClusters()]);
    return hosts.map((h) => {
      const cl = clusters.find((c) => c.id === h.cluster?.id);
      const total = Math.floor((h.memory ?? 0) / MIB);
      return {
        id: h.id,
        name: h.name ?? h.id,
        manager: this.name,
        hypervisorType: hypervisorTypeOf(h.type),
        arch: (cl?.cpuArchitecture ?? 'x86_64').toLowerCase(),
        state: h.status ?? 'unknown',
        memoryTotalMiB: total,
        // Engines before 3.1 do not report max_scheduling_memory; total is then the best we know.
        memoryFreeMiB: h.maxSchedulingMemory !== undefined ? Math.floor(h.maxSchedulingMemory / MIB) : total,
        ...(cl?.name ? { cluster: cl.name } : {}),
      };
    });
  }

  async listImages(): Promise<ImageInfo[]> {
    const templates = await this.client.templates.list();
    return templates.map((t) => ({ id: t.id, name: t.name ?? t.id, manager: this.name, properties: parseImageProperties(t.description).properties }));
  }

  // ---- VMs ----------------------------------------------------------------------------------

  async listVms(): Promise<VmInfo[]> {
    const [vms, hosts] = await Promise.all([this.client.vms.list(), this.allHosts()]);
    // MACs would cost one call per VM; the VM service takes them from the node table instead.
    return vms.map((v) => this.info(v, hosts, []));
  }

  async findVm(name: string): Promise<VmInfo | undefined> {
    const vm = await this.client.vms.findByName(name);
    if (!vm) return undefined;
    const [nics, hosts] = await Promise.all([this.client.vms.listNics(vm.id), this.allHosts()]);
    return this.info(vm, hosts, nics);
  }

  async createVm(spec: VmSpec, opts: { host?: string } = {}): Promise<VmInfo> {
    const host = opts.host ? await this.hostByName(opts.host) : undefined;
    const clusterName = spec.cluster ?? (host?.cluster?.id ? (await this.allClusters()).find((c) => c.id === host.cluster!.id)?.name : undefined) ?? 'Default';
    const vms = this.client.vms;
    const created = await vms.add({
      name: spec.name,
      cluster: { name: clusterName },
      template: { name: spec.template ?? 'Blank' },
      type: 'server',
      memory: spec.memoryMiB * MIB,
      ...(spec.cpu && { cpu: spec.cpu }),
      ...((spec.osType || spec.boot) && { os: { ...(spec.osType && { type: spec.osType }), ...(spec.boot && { boot: spec.boot }) } }),
      ...(spec.display && { display: { type: spec.display } }),
      // A VM runs on no host until started: the host placement chose is the scheduler's preferred
      // host, migratable (what xCAT's mkvm did with vm.host, xcat-rhev.md §4.5).
      ...(host && { placement: { hosts: [{ id: host.id }], affinity: 'migratable' } }),
    });
    try {
      const existing = spec.template && spec.template !== 'Blank' ? await vms.listNics(created.id) : [];
      const nics: VmNic[] = [...existing];
      // No NIC asked for and none from the template: one on the management network, so the VM
      // can PXE-boot from rhevboot (xCAT's default `rhevm:eth0:yes`).
      const wanted: NicSpec[] = spec.nics ?? (existing.length ? [] : [{}]);
      for (const [i, n] of wanted.entries()) nics.push(await this.addNic(created.id, clusterName, n, `nic${existing.length + i + 1}`));
      const disks = [];
      for (const [i, d] of (spec.disks ?? []).entries()) disks.push(await this.addDisk(created.id, clusterName, d, `${spec.name}_Disk${i + 1}`));
      await this.disksReady(created.id, disks, this.copyTimeoutMs);
      const vm = await this.wait(created.id, `${spec.name} to be created`, this.copyTimeoutMs, (v) => (v.status === 'down' ? 'done' : v.status === 'image_locked' ? 'wait' : { fail: `it is ${v.status}` }));
      return this.info(vm, await this.allHosts(), nics);
    } catch (err) {
      // A half-made VM (no NIC, a missing disk) is worse than none: take it back, say why.
      await vms.remove(created.id, { force: true }).catch((e: Error) => this.log?.warn({ vm: spec.name, err: e.message }, 'rhevm: could not remove a half-created VM'));
      throw err;
    }
  }

  async updateVm(name: string, changes: VmChanges): Promise<VmInfo> {
    const vm = await this.vm(name);
    const vms = this.client.vms;
    const base = changes.memoryMiB !== undefined || changes.cpu || changes.boot || changes.display;
    if (base) {
      await vms.update(vm.id, {
        ...(changes.memoryMiB !== undefined && { memory: changes.memoryMiB * MIB }),
        ...(changes.cpu && { cpu: changes.cpu }),
        ...(changes.boot && { os: { boot: changes.boot } }),
        ...(changes.display && { display: { type: changes.display } }),
      });
    }
    const clusterName = (await this.allClusters()).find((c) => c.id === vm.cluster?.id)?.name ?? 'Default';
    let nics = await vms.listNics(vm.id);
    for (const key of changes.removeNics ?? []) {
      const nic = nics.find((n) => n.name === key || n.mac?.toLowerCase() === key.toLowerCase());
      if (!nic) throw new RhevbootError('RB_ERR_NOT_FOUND', `${name} has no NIC ${key} (NICs: ${nics.map((n) => `${n.name} ${n.mac ?? ''}`).join(', ') || 'none'})`, { field: 'removeNics' });
      await vms.nics(vm.id).remove(nic.id);
      nics = nics.filter((n) => n !== nic);
    }
    for (const n of changes.addNics ?? []) nics.push(await this.addNic(vm.id, clusterName, n, nextName(nics.map((x) => x.name ?? ''), 'nic')));
    const disks = [];
    const have = await vms.listDisks(vm.id);
    for (const [i, d] of (changes.addDisks ?? []).entries()) disks.push(await this.addDisk(vm.id, clusterName, d, `${name}_Disk${have.length + i + 1}`));
    await this.disksReady(vm.id, disks, this.copyTimeoutMs);
    return this.info(await vms.get(vm.id), await this.allHosts(), nics);
  }

  async removeVm(name: string, opts: { disks?: boolean; force?: boolean } = {}): Promise<void> {
    const vm = await this.vm(name);
    await this.client.vms.remove(vm.id, { ...(opts.force && { force: true }), ...(opts.disks === false && { detachOnly: true }) });
    // The engine removes disks in the background; the VM is gone when its URL answers 404.
    await this.waitGone(vm.id, name);
  }

  async power(name: string, action: PowerAction): Promise<VmInfo> {
    const vm = await this.vm(name);
    const vms = this.client.vms;
    if (action === 'status') return this.info(vm, await this.allHosts(), []);
    const label = `${name} to ${action}`;
    let seenMoving = false;
    let check: (v: Vm) => Check;
    switch (action) {
      case 'start':
        await vms.start(vm.id);
        check = (v) => {
          if (v.status === 'up') return 'done';
          if (v.status === 'down' && seenMoving) return { fail: `it went down while starting${why(v)}` };
          if (v.status !== 'down') seenMoving = true;
          return v.status === 'paused' ? { fail: `it is paused${why(v)}` } : 'wait';
        };
        break;
      case 'stop':
      case 'shutdown':
        await (action === 'stop' ? vms.stop(vm.id) : vms.shutdown(vm.id));
        check = (v) => (v.status === 'down' ? 'done' : v.status === 'up' && seenMoving ? { fail: `it is up again${why(v)}` } : ((seenMoving ||= v.status !== 'up'), 'wait'));
        break;
      case 'suspend':
        await vms.suspend(vm.id);
        check = (v) => (v.status === 'suspended' ? 'done' : SETTLING.has(v.status ?? '') || v.status === 'up' ? 'wait' : { fail: `it is ${v.status}${why(v)}` });
        break;
      case 'reboot':
        await vms.reboot(vm.id);
        // The engine sets reboot_in_progress before it answers; `up` afterwards is the end state.
        check = (v) => (v.status === 'up' ? 'done' : SETTLING.has(v.status ?? '') ? 'wait' : { fail: `it is ${v.status}${why(v)}` });
        break;
    }
    const end = await this.wait(vm.id, label, this.powerTimeoutMs, check);
    return this.info(end, await this.allHosts(true), []);
  }

  async migrate(name: string, opts: { host?: string } = {}): Promise<VmInfo> {
    const vm = await this.vm(name);
    const target = opts.host ? await this.hostByName(opts.host) : undefined;
    const from = vm.host?.id;
    await this.client.vms.migrate(vm.id, target ? { host: { id: target.id } } : {});
    const end = await this.wait(vm.id, `${name} to migrate`, this.powerTimeoutMs, (v) => {
      if (v.status === 'migrating') return 'wait';
      if (v.status !== 'up') return { fail: `it is ${v.status}${why(v)}` };
      // The engine may still show the old host for a moment after the action answered.
      return v.host?.id && v.host.id !== from ? 'done' : 'wait';
    });
    return this.info(end, await this.allHosts(true), []);
  }

  /**
   * Clones one by one: the engine locks the source while it copies (image_locked), so parallel
   * clones of one source would be refused. v4 engines have the clone action (3.5+); on v3 the
   * copies are made the way xCAT's clonevm + mkvm did, through a template that is removed after.
   */
  async clone(source: string, names: string[]): Promise<VmInfo[]> {
    const src = await this.vm(source);
    if (src.status !== 'down') throw new RhevbootError('RB_ERR_CONFLICT', `${source} is ${src.status}: only a VM that is down can be cloned (stop it first)`, { vm: source, state: src.status });
    const api = await this.client.api();
    const vms = this.client.vms;
    const out: VmInfo[] = [];
    if (api.version === 4) {
      for (const name of names) {
        await vms.clone(src.id, name);
        out.push(await this.cloned(name));
      }
      return out;
    }
    const tplName = `${source}-clone-${Date.now().toString(36)}`.slice(0, 60);
    const tpl = await this.client.templates.add({ name: tplName, vm: { id: src.id }, description: `rhevboot: temporary template to clone ${source}` });
    try {
      await this.client.templates.waitForStatus(tpl.id, ['ok'], { failOn: ['illegal'], timeoutMs: this.copyTimeoutMs, intervalMs: this.pollMs });
      const cluster = src.cluster?.id ? { id: src.cluster.id } : { name: 'Default' };
      for (const name of names) {
        await vms.add({ name, cluster, template: { id: tpl.id }, cloneDisks: true });
        out.push(await this.cloned(name));
      }
    } finally {
      await this.wait(src.id, `${source} to be unlocked`, this.copyTimeoutMs, (v) => (v.status === 'image_locked' ? 'wait' : 'done')).catch(() => undefined);
      await this.client.templates.remove(tpl.id).catch((e: Error) => this.log?.warn({ template: tplName, err: e.message }, 'rhevm: temporary clone template left behind'));
    }
    return out;
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  // ---- internals ----------------------------------------------------------------------------

  private async cloned(name: string): Promise<VmInfo> {
    const vm = await this.vm(name);
    const end = await this.wait(vm.id, `${name} to be cloned`, this.copyTimeoutMs, (v) => (v.status === 'down' ? 'done' : v.status === 'image_locked' ? 'wait' : { fail: `it is ${v.status}` }));
    return this.info(end, await this.allHosts(), await this.client.vms.listNics(vm.id));
  }

  private async vm(name: string): Promise<Vm> {
    const vm = await this.client.vms.findByName(name);
    if (!vm) throw new RhevbootError('RB_ERR_NOT_FOUND', `engine ${this.name} has no VM named ${name}`, { vm: name, manager: this.name });
    return vm;
  }

  private allHosts(fresh = false): Promise<Host[]> {
    if (fresh || !this.hosts) {
      const p = this.client.hosts.list();
      this.hosts = p;
      p.catch(() => (this.hosts === p ? (this.hosts = undefined) : undefined));
    }
    return this.hosts;
  }

  private allClusters(): Promise<Cluster[]> {
    if (!this.clusters) {
      const p = this.client.clusters.list();
      this.clusters = p;
      p.catch(() => (this.clusters = undefined));
    }
    return this.clusters;
  }

  private async hostByName(name: string): Promise<Host> {
    const hosts = await this.allHosts();
    const h = hosts.find((x) => x.name === name) ?? hosts.find((x) => x.name?.toLowerCase().split('.')[0] === name.toLowerCase());
    if (!h) throw new RhevbootError('RB_ERR_NOT_FOUND', `engine ${this.name} has no host named ${name}`, { host: name, manager: this.name });
    return h;
  }

  private async cluster(name: string): Promise<Cluster> {
    const c = (await this.allClusters()).find((x) => x.name === name);
    if (!c) throw new RhevbootError('RB_ERR_NOT_FOUND', `engine ${this.name} has no cluster named ${name}`, { cluster: name, manager: this.name });
    return c;
  }

  /** The management network of the cluster (the one every host has), for the default NIC. */
  private clusterNetwork(clusterName: string): Promise<string> {
    let p = this.defaultNetwork.get(clusterName);
    if (!p) {
      p = (async () => {
        const cl = await this.cluster(clusterName);
        const nets = await this.client.clusters.networks(cl.id).list();
        const pick = nets.find((n) => n.usages.includes('management')) ?? nets.find((n) => n.usages.includes('vm')) ?? nets[0];
        if (!pick?.name) throw new RhevbootError('RB_ERR_INVALID', `cluster ${clusterName} on ${this.name} has no network for a NIC: pass --nic network=…`, { field: 'nics' });
        return pick.name;
      })();
      this.defaultNetwork.set(clusterName, p);
      p.catch(() => this.defaultNetwork.delete(clusterName));
    }
    return p;
  }

  /**
   * What a NIC attaches to: v3 names the network; v4 needs the vNIC profile (the one named like
   * the network, which the engine makes with it). Resolved once per network, not per VM, which
   * saves three engine calls per NIC in a bulk create.
   */
  private nicTarget(clusterName: string, n: NicSpec): Promise<{ network?: { name: string }; vnicProfile?: { id: string } }> {
    const key = `${clusterName}\0${n.network ?? ''}\0${n.profile ?? ''}`;
    let p = this.nicTargets.get(key);
    if (!p) {
      p = (async () => {
        const netName = n.network ?? (n.profile ? undefined : await this.clusterNetwork(clusterName));
        if ((await this.client.api()).version === 3) {
          if (!netName) throw new RhevbootError('RB_ERR_INVALID', 'a v3 engine attaches NICs to networks: pass network=…, not profile=…', { field: 'nics' });
          return { network: { name: netName } };
        }
        const cl = await this.cluster(clusterName);
        const nets = await this.client.networks.list();
        const candidates = netName ? nets.filter((x) => x.name === netName && (!cl.dataCenter?.id || x.dataCenter?.id === cl.dataCenter.id)) : nets;
        for (const net of candidates) {
          const profiles = await this.client.networks.vnicProfiles(net.id);
          const prof = n.profile ? profiles.find((x) => x.name === n.profile) : (profiles.find((x) => x.name === net.name) ?? profiles[0]);
          if (prof) return { vnicProfile: { id: prof.id } };
        }
        throw new RhevbootError('RB_ERR_NOT_FOUND', netName ? `engine ${this.name} has no network ${netName}${n.profile ? ` with vNIC profile ${n.profile}` : ' with a vNIC profile'} in the data center of cluster ${clusterName}` : `engine ${this.name} has no vNIC profile ${n.profile}`, { field: 'nics' });
      })();
      this.nicTargets.set(key, p);
      p.catch(() => this.nicTargets.delete(key));
    }
    return p;
  }

  private async addNic(vmId: string, clusterName: string, n: NicSpec, defaultName: string): Promise<VmNic> {
    const target = await this.nicTarget(clusterName, n);
    return this.client.vms.addNic(vmId, { name: n.name ?? defaultName, interface: n.interface ?? 'virtio', ...target, ...(n.mac && { mac: n.mac }) });
  }

  /** The storage domain for a disk: the one named, else the first active data domain of the cluster's data center. */
  private storageDomain(clusterName: string, named: string | undefined): Promise<string> {
    const key = `${clusterName}\0${named ?? ''}`;
    let p = this.storage.get(key);
    if (!p) {
      p = (async () => {
        const cl = await this.cluster(clusterName);
        if (!cl.dataCenter?.id) throw new RhevbootError('RB_ERR_INVALID', `cluster ${clusterName} has no data center`, { field: 'disks' });
        const sds = await this.client.datacenters.storageDomains(cl.dataCenter.id).list();
        const sd = named ? sds.find((s) => s.name === named) : sds.find((s) => s.type === 'data' && s.status === 'active');
        if (!sd) {
          throw new RhevbootError(
            'RB_ERR_NOT_FOUND',
            named ? `storage domain ${named} is not attached to the data center of cluster ${clusterName} on ${this.name}` : `the data center of cluster ${clusterName} on ${this.name} has no active data storage domain: pass sd=…`,
            { field: 'disks' },
          );
        }
        return sd.id;
      })();
      this.storage.set(key, p);
      p.catch(() => this.storage.delete(key));
    }
    return p;
  }

  private async addDisk(vmId: string, clusterName: string, d: DiskSpec, name: string): Promise<string> {
    const sd = await this.storageDomain(clusterName, d.storageDomain);
    const format = d.format ?? 'cow';
    const disk = await this.client.vms.addDisk(vmId, {
      name,
      size: d.sizeMiB * MIB,
      format,
      interface: d.interface ?? 'virtio',
      bootable: d.bootable ?? false,
      // cow is thin (sparse); raw preallocated, as the engine pairs them on block storage.
      sparse: format === 'cow',
      storageDomain: { id: sd },
    });
    return disk.id;
  }

  /** New disks are `locked` until the engine has made them; a VM cannot start before (§7.7). */
  private async disksReady(vmId: string, diskIds: string[], timeoutMs: number): Promise<void> {
    for (const id of diskIds) {
      await this.poll(`disk ${id} of VM ${vmId} to be ready`, timeoutMs, async () => {
        const d = await this.client.conn.getEntity('disk', `disks/${encodeURIComponent(id)}`, this.client.conn.op());
        return d.status === 'ok' || d.status === undefined ? 'done' : d.status === 'illegal' ? { fail: 'the engine marked it illegal' } : 'wait';
      });
    }
  }

  private async wait(vmId: string, label: string, timeoutMs: number, check: (v: Vm) => Check): Promise<Vm> {
    let last: Vm | undefined;
    await this.poll(label, timeoutMs, async () => {
      last = await this.client.vms.get(vmId);
      return check(last);
    }, () => (last ? ` (last state: ${last.status})` : ''));
    return last!;
  }

  private async waitGone(vmId: string, name: string): Promise<void> {
    await this.poll(`${name} to be removed`, this.copyTimeoutMs, async () => ((await this.client.vms.find(vmId)) ? 'wait' : 'done'));
  }

  /** Polls `step` until done, failed or past the bound, starting fast and backing off to the poll interval. */
  private async poll(label: string, timeoutMs: number, step: () => Promise<Check>, lastWords: () => string = () => ''): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let delay = Math.max(50, Math.floor(this.pollMs / 8));
    for (;;) {
      const r = await step();
      if (r === 'done') return;
      if (r !== 'wait') throw new RhevmError('RB_ERR_RHEVM_STATE', `engine ${this.name}: waiting for ${label}: ${r.fail}`, { manager: this.name });
      if (Date.now() + delay > deadline) throw new RhevmError('RB_ERR_RHEVM_TIMEOUT', `engine ${this.name}: ${label}: not done after ${Math.round(timeoutMs / 1000)} s${lastWords()}`, { manager: this.name });
      await sleep(delay);
      delay = Math.min(this.pollMs, delay * 2);
    }
  }

  private info(v: Vm, hosts: Host[], nics: VmNic[]): VmInfo {
    const t = v.cpu?.topology;
    const host = v.host?.id ? (hosts.find((h) => h.id === v.host!.id)?.name ?? v.host.name ?? v.host.id) : undefined;
    return {
      id: v.id,
      name: v.name ?? v.id,
      manager: this.name,
      state: v.status ?? 'unknown',
      ...(host && { host }),
      ...(v.memory !== undefined && { memoryMiB: Math.round(v.memory / MIB) }),
      ...(t && { cpus: (t.sockets ?? 1) * (t.cores ?? 1) * (t.threads ?? 1) }),
      macs: nics.map((n) => n.mac?.toLowerCase()).filter((m): m is string => !!m),
      addresses: v.guestIps,
    };
  }
}

/** rhev-h (v3) and ovirt_node (v4) are RHEV-H; rhel hosts are plain KVM (§7.4). */
export function hypervisorTypeOf(engineType: string | undefined): string {
  switch ((engineType ?? '').toLowerCase()) {
    case 'rhev-h':
    case 'ovirt_node':
      return 'rhevh';
    case 'rhel':
    case '':
      return 'kvm';
    default:
      return engineType!.toLowerCase();
  }
}

function why(v: Vm): string {
  return v.statusDetail ? ` (${v.statusDetail})` : '';
}

function nextName(taken: string[], prefix: string): string {
  for (let i = 1; ; i++) if (!taken.includes(`${prefix}${i}`)) return `${prefix}${i}`;
}
