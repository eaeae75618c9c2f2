/**
 * The libvirt driver: one plain KVM host (a libvirt "manager", stored in `engines` with kind
 * `libvirt` and its URI in `url`) driven through one long-lived `virsh -c <uri>` (libvirt-shell.ts).
 * `qemu+ssh://root@host/system` in production, `test:///default` in the tests.
 *
 * Conventions, because libvirt has no RHEV-M concepts for them:
 * - Hosts: the manager is one host, named like the manager; `hypervisorType` is `kvm`; it is `up`
 *   while virsh answers (`non_responsive` otherwise, so placement can say why it skipped it). Free
 *   memory is what RHEV-M calls scheduling memory: total minus what running guests were given,
 *   capped by what the host OS says is free when it can say (`nodememstats`; the test driver cannot).
 * - Images/templates: a template is a shut-off domain carrying
 *   `<metadata><rb:template xmlns:rb="urn:x-rhevboot:libvirt:1" hypervisorType=… architecture=…
 *   minMemoryMiB=…/></metadata>` (set with `markTemplate`). Templates are not listed as VMs. A VM
 *   made from a template gets copies of its disks (`vol-clone`) and fresh MACs; `Blank` or no
 *   template builds the domain from the VmSpec alone.
 * - Disks: volumes `<vm>-disk<N>.qcow2` in the pool named by `storageDomain`, else the driver's
 *   `pool` option, else the pool `default`, else the first active pool.
 * - NICs: on the libvirt network named by `network` (default `default`), or `bridge:<br>`; a MAC
 *   given is used as is (and refused if another domain here has it), otherwise 52:54:00:xx:xx:xx.
 *   NICs are named `nic1`, `nic2`, … in their order, or by MAC, for `removeNics`.
 * - Suspend is `managedsave` (memory saved to disk, the host's RAM freed), like RHEV-M's suspend,
 *   or a pause in memory (option `suspend: 'pause'`, and on the test driver); both read as
 *   `suspended` and `start` resumes them. A domain paused for another reason (I/O error) is `paused`.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { RhevbootError, isRhevbootError } from '../errors.js';
import type { Logger } from '../log.js';
import { Mutex } from '../util/mutex.js';
import { sleep } from '../util/sleep.js';
import type { HostInfo, ImageInfo } from '../domain/hypervisor.js';
import type { DiskSpec, HypervisorDriver, NicSpec, PowerAction, VmChanges, VmInfo, VmSpec } from './driver.js';
import { applyChanges, buildDomain, checkSafeName, ensureOurs, ensureScsiController, checkMac, checkName, cloneIdentity, diskXml, newMac, nicXml, planDisks, readDomain, removeNics, setTemplate, type DomainFacts, type HostFacts, type PlannedDisk } from './libvirt-domain.js';
import { describeHost, hostInfo, vmState, type HostDescription, type Status } from './libvirt-host.js';
import { firstColumn, keyValues, parseCapabilities, parseIfAddr, parseLeases, parseList } from './libvirt-parse.js';
import { VirshShell } from './libvirt-shell.js';
import { find, findAll, text, toXml, type XEl } from '../xml/tree.js';
import { parseLibvirtXml } from './libvirt-xml.js';

export interface LibvirtDriverOptions {
  /** The manager's name in rhevboot (also the name of its one host). */
  name: string;
  /** libvirt URI: qemu+ssh://root@kvm01/system, qemu:///system, test:///default. */
  uri: string;
  log: Logger;
  virsh?: string;
  /** Bound on one ordinary virsh command (default 60 s). */
  commandTimeoutMs?: number;
  /** Bound on power transitions and long commands: managed save, volume clone, migration (default 300 s). */
  powerTimeoutMs?: number;
  /** Interval between state checks while waiting (default 500 ms). */
  pollMs?: number;
  /** Storage pool for new disks when a DiskSpec names none. */
  pool?: string;
  /** libvirt network for NICs that name none (default `default`). */
  network?: string;
  /** How `suspend` suspends: `managedsave` (default) or `pause` (default for test:// URIs; see suspend()). */
  suspend?: 'managedsave' | 'pause';
}

export const LIBVIRT_URI = /^(qemu(\+ssh|\+tcp|\+tls|\+unix)?|test):\/\/[^\s]*$/;

export class LibvirtDriver implements HypervisorDriver {
  readonly kind = 'libvirt' as const;
  readonly name: string;
  readonly uri: string;
  readonly shell: VirshShell;
  private readonly log: Logger;
  /** Create, update, clone and remove read then write several objects: one at a time per host. */
  private readonly writes = new Mutex();
  private facts: HostFacts | undefined;
  private tmpDir: Promise<string> | undefined;

  constructor(private readonly opts: LibvirtDriverOptions) {
    if (!LIBVIRT_URI.test(opts.uri)) throw new RhevbootError('RB_ERR_INVALID', `libvirt URI '${opts.uri}' must be qemu+ssh://, qemu+tcp://, qemu:/// or test:///`, { field: 'uri' });
    this.name = opts.name;
    this.uri = opts.uri;
    this.log = opts.log.child({ manager: opts.name });
    this.shell = new VirshShell({ uri: opts.uri, log: this.log, ...(opts.virsh ? { virsh: opts.virsh } : {}), ...(opts.commandTimeoutMs ? { commandTimeoutMs: opts.commandTimeoutMs } : {}) });
  }

  private get longMs(): number {
    return this.opts.powerTimeoutMs ?? 300_000;
  }

  private virsh(...args: string[]): Promise<string> {
    return this.shell.run(args);
  }

  // ---- hosts --------------------------------------------------------------------------------

  /** What `kvm test` shows: the connection works and what is on the other end. */
  describe(): Promise<HostDescription> {
    return describeHost((...a) => this.virsh(...a));
  }

  async listHosts(): Promise<HostInfo[]> {
    return [await hostInfo((...a) => this.virsh(...a), { name: this.name, uri: this.uri, log: this.log })];
  }

  private async hostFacts(): Promise<HostFacts> {
    if (!this.facts) {
      const caps = parseCapabilities(await this.virsh('capabilities'));
      const domainType = ['kvm', 'qemu', 'test'].find((t) => caps.domainTypes.includes(t)) ?? caps.domainTypes[0] ?? 'kvm';
      this.facts = { domainType, arch: caps.arch };
    }
    return this.facts;
  }

  // ---- reading domains ----------------------------------------------------------------------

  private async domainXml(name: string, inactive = false): Promise<XEl> {
    return parseLibvirtXml(await (inactive ? this.virsh('dumpxml', name, '--inactive') : this.virsh('dumpxml', name)), `domain ${name}`);
  }

  /** Every domain this host has that rhevboot can address, with its state and XML facts. */
  private async domains(): Promise<{ facts: DomainFacts; state: string; dom: XEl }[]> {
    const out: { facts: DomainFacts; state: string; dom: XEl }[] = [];
    for (const [name, state] of parseList(await this.virsh('list', '--all', '--managed-save'))) {
      if (!checkSafeName(name)) {
        this.log.debug({ domain: name }, 'skipping a domain whose name rhevboot cannot pass to virsh');
        continue;
      }
      try {
        const dom = await this.domainXml(name, true);
        // The listing has no reasons: a paused domain is asked whether a user paused it.
        out.push({ facts: readDomain(dom), state: state === 'paused' ? (await this.status(name)).state : vmState(state, false), dom });
      } catch (err) {
        if (!isRhevbootError(err, 'RB_ERR_NOT_FOUND')) throw err; // undefined since the listing
      }
    }
    return out;
  }

  private async status(name: string): Promise<Status> {
    const kv = keyValues(await this.virsh('dominfo', checkName(name, 'VM')));
    const raw = kv.get('state') ?? 'unknown';
    const reason = raw === 'paused' ? (/\((\w+)\)/.exec(await this.virsh('domstate', name, '--reason'))?.[1] ?? '') : '';
    return { state: vmState(raw, kv.get('managed save') === 'yes', reason), active: raw !== 'shut off' && raw !== 'crashed', paused: raw === 'paused' };
  }

  private async stateOf(name: string): Promise<string> {
    return (await this.status(name)).state;
  }

  private async addresses(name: string, macs: string[], dom: XEl): Promise<string[]> {
    try {
      return parseIfAddr(await this.virsh('domifaddr', name)).map((a) => a.address);
    } catch (err) {
      if (!isRhevbootError(err)) throw err;
    }
    // Older libvirt or no lease source: ask the networks' dnsmasq for the NICs' leases.
    const nets = new Set(findAll(dom, 'devices/interface').map((i) => find(i, 'source')?.attrs.network).filter((n): n is string => !!n && checkSafeName(n)));
    const found: string[] = [];
    for (const net of nets) {
      const leases = await this.virsh('net-dhcp-leases', net).then(parseLeases, () => []);
      found.push(...leases.filter((l) => macs.includes(l.mac)).map((l) => l.address));
    }
    return found;
  }

  /** A VM as its persistent definition says (what it boots with next, as RHEV-M reports), live state and addresses. */
  private async info(name: string, state?: string, definition?: XEl): Promise<VmInfo> {
    const dom = definition ?? (await this.domainXml(name, true));
    const f = readDomain(dom);
    const s = state ?? (await this.stateOf(name));
    return {
      id: f.uuid,
      name: f.name,
      manager: this.name,
      state: s,
      host: this.name,
      ...(f.memoryMiB !== undefined ? { memoryMiB: f.memoryMiB } : {}),
      ...(f.cpus !== undefined ? { cpus: f.cpus } : {}),
      macs: f.macs,
      addresses: s === 'up' ? await this.addresses(name, f.macs, dom) : [],
    };
  }

  async listVms(): Promise<VmInfo[]> {
    const vms: VmInfo[] = [];
    for (const d of await this.domains()) if (!d.facts.template) vms.push(await this.info(d.facts.name, d.state, d.dom));
    return vms;
  }

  async findVm(name: string): Promise<VmInfo | undefined> {
    checkName(name, 'VM');
    try {
      const dom = await this.domainXml(name, true);
      return readDomain(dom).template ? undefined : await this.info(name, undefined, dom);
    } catch (err) {
      if (isRhevbootError(err, 'RB_ERR_NOT_FOUND')) return undefined;
      throw err;
    }
  }

  private async mustFind(name: string): Promise<VmInfo> {
    const vm = await this.findVm(name);
    if (!vm) throw new RhevbootError('RB_ERR_NOT_FOUND', `no VM named ${name} on libvirt host ${this.name}`, { vm: name, manager: this.name });
    return vm;
  }

  async listImages(): Promise<ImageInfo[]> {
    const arch = (await this.hostFacts()).arch;
    return (await this.domains())
      .filter((d) => d.facts.template)
      .map(({ facts: f }) => ({ id: f.uuid, name: f.name, manager: this.name, properties: { hypervisorType: f.template!.hypervisorType ?? 'kvm', architecture: f.template!.architecture ?? arch, ...(f.template!.minMemoryMiB !== undefined ? { minMemoryMiB: f.template!.minMemoryMiB } : {}) } }));
  }

  /** Makes a shut-off domain a template (or, with `props` null, a VM again). */
  async markTemplate(name: string, props: { hypervisorType?: string; architecture?: string; minMemoryMiB?: number } | null): Promise<void> {
    await this.writes.run(async () => {
      checkName(name, 'VM');
      const state = await this.stateOf(name);
      if (props && state !== 'down') throw new RhevbootError('RB_ERR_CONFLICT', `${name} is ${state}: only a VM that is down can become a template`, { vm: name, state });
      const dom = await this.domainXml(name, true);
      setTemplate(dom, props ? { hypervisorType: props.hypervisorType ?? 'kvm', ...(props.architecture ? { architecture: props.architecture } : {}), ...(props.minMemoryMiB !== undefined ? { minMemoryMiB: props.minMemoryMiB } : {}) } : undefined);
      await this.define(dom);
    });
  }

  // ---- writing ------------------------------------------------------------------------------

  private async tmpFile(name: string, content: string): Promise<string> {
    this.tmpDir ??= mkdtemp(path.join(os.tmpdir(), 'rhevboot-virsh-'));
    const file = path.join(await this.tmpDir, name);
    await writeFile(file, content, { mode: 0o600 });
    return file;
  }

  /** `define` from a file: virsh reads it on this side, so this works over qemu+ssh too. */
  private async define(dom: XEl): Promise<void> {
    const file = await this.tmpFile(`${text(find(dom, 'name'))}.xml`, toXml(dom, { pretty: true }));
    try {
      await this.virsh('define', file);
    } finally {
      await rm(file, { force: true });
    }
  }

  private async defaultPool(): Promise<string> {
    if (this.opts.pool) return checkName(this.opts.pool, 'storage pool');
    const pools = firstColumn(await this.virsh('pool-list'));
    const pool = pools.includes('default') ? 'default' : pools.find(checkSafeName);
    if (!pool) throw new RhevbootError('RB_ERR_LIBVIRT', `libvirt host ${this.name} has no active storage pool for new disks`, { manager: this.name });
    return pool;
  }

  private async volumes(pools: string[]): Promise<Set<string>> {
    const names = new Set<string>();
    for (const p of new Set(pools)) for (const v of firstColumn(await this.virsh('vol-list', p))) names.add(v);
    return names;
  }

  private async allMacs(): Promise<Set<string>> {
    return new Set((await this.domains()).flatMap((d) => d.facts.macs));
  }

  private nics(specs: NicSpec[], taken: Set<string>): XEl[] {
    return specs.map((n) => {
      let mac: string;
      if (n.mac) {
        mac = checkMac(n.mac);
        if (taken.has(mac)) throw new RhevbootError('RB_ERR_CONFLICT', `MAC ${mac} is already used by a VM on libvirt host ${this.name}`, { mac });
        taken.add(mac);
      } else mac = newMac(taken);
      return nicXml(n, mac, this.opts.network ?? 'default');
    });
  }

  private async planNewDisks(vm: string, disks: DiskSpec[], dom: XEl | undefined): Promise<PlannedDisk[]> {
    if (disks.length === 0) return [];
    const pool = await this.defaultPool();
    const pools = disks.map((d) => checkName(d.storageDomain ?? pool, 'storage pool'));
    return planDisks(vm, disks, pool, dom, await this.volumes(pools));
  }

  private async createVolumes(disks: PlannedDisk[], created: PlannedDisk[]): Promise<void> {
    for (const d of disks) {
      await this.shell.run(['vol-create-as', d.pool, d.volume, `${d.sizeMiB}M`, '--format', d.format], { timeoutMs: this.longMs });
      created.push(d);
    }
  }

  /** Best effort: what was made for a failed create or clone goes again; the first error stands. */
  private async dropVolumes(vols: { pool: string; volume: string }[]): Promise<void> {
    for (const v of vols) await this.virsh('vol-delete', v.volume, '--pool', v.pool).catch((e: Error) => this.log.warn({ err: e.message, ...v }, 'could not delete a volume after a failure'));
  }

  async createVm(spec: VmSpec, opts: { host?: string } = {}): Promise<VmInfo> {
    checkName(spec.name, 'VM');
    if (opts.host !== undefined && opts.host !== this.name) throw new RhevbootError('RB_ERR_INVALID', `libvirt manager ${this.name} has one host, ${this.name}, not ${opts.host}`, { host: opts.host });
    return this.writes.run(async () => {
      if (await this.exists(spec.name)) throw new RhevbootError('RB_ERR_CONFLICT', `a VM named ${spec.name} already exists on libvirt host ${this.name}`, { vm: spec.name });
      const taken = await this.allMacs();
      const created: { pool: string; volume: string }[] = [];
      try {
        let dom: XEl;
        if (spec.template && spec.template !== 'Blank') {
          dom = await this.fromTemplate(spec, taken, created);
        } else {
          const nics = this.nics(spec.nics ?? [], taken);
          const disks = await this.planNewDisks(spec.name, spec.disks ?? [], undefined);
          dom = buildDomain(spec, await this.hostFacts(), disks, nics);
          await this.createVolumes(disks, created as PlannedDisk[]);
        }
        await this.define(dom);
      } catch (err) {
        await this.dropVolumes(created);
        throw err;
      }
      this.log.info({ vm: spec.name }, 'VM defined');
      return this.info(spec.name);
    });
  }

  private async fromTemplate(spec: VmSpec, taken: Set<string>, created: { pool: string; volume: string }[]): Promise<XEl> {
    const tplName = checkName(spec.template!, 'template');
    const tpl = await this.domainXml(tplName, true).catch((err: unknown) => {
      throw isRhevbootError(err, 'RB_ERR_NOT_FOUND') ? new RhevbootError('RB_ERR_NOT_FOUND', `no template ${tplName} on libvirt host ${this.name}`, { template: tplName }) : err;
    });
    if (!readDomain(tpl).template) throw new RhevbootError('RB_ERR_NOT_FOUND', `${tplName} on libvirt host ${this.name} is a VM, not a template (mark it with markTemplate)`, { template: tplName });
    const dom = cloneIdentity(tpl, spec.name, taken);
    await this.cloneDisks(dom, spec.name, created);
    applyChanges(dom, { memoryMiB: spec.memoryMiB, ...(spec.cpu ? { cpu: spec.cpu } : {}), ...(spec.boot ? { boot: spec.boot } : {}), ...(spec.display ? { display: spec.display } : {}) });
    const devices = find(dom, 'devices')!;
    if (spec.nics) {
      devices.children = devices.children.filter((c) => typeof c === 'string' || c.name !== 'interface');
      devices.children.push(...this.nics(spec.nics, taken));
    }
    const disks = await this.planNewDisks(spec.name, spec.disks ?? [], dom);
    await this.createVolumes(disks, created as PlannedDisk[]);
    devices.children.push(...disks.map(diskXml));
    if (spec.osType) ensureOurs(dom).attrs.osType = spec.osType;
    ensureScsiController(dom, disks);
    return dom;
  }

  /** Gives every disk of `dom` (a copy being made) its own copy of the volume behind it. */
  private async cloneDisks(dom: XEl, name: string, created: { pool: string; volume: string }[]): Promise<void> {
    let i = 0;
    for (const disk of findAll(dom, 'devices/disk')) {
      if ((disk.attrs.device ?? 'disk') !== 'disk') continue; // CD-ROMs share their media
      const source = find(disk, 'source');
      if (!source) continue;
      const dev = find(disk, 'target')?.attrs.dev ?? `disk${i}`;
      const from = disk.attrs.type === 'volume' ? source.attrs.volume : disk.attrs.type === 'file' ? source.attrs.file : undefined;
      if (!from) throw new RhevbootError('RB_ERR_INVALID', `disk ${dev} is a ${disk.attrs.type ?? '?'} disk: only volume and file disks can be copied`, { disk: dev });
      const pool = disk.attrs.type === 'volume' ? checkName(source.attrs.pool ?? '', 'storage pool') : (await this.virsh('vol-pool', from)).trim();
      const ext = /\.(qcow2|img|raw)$/.exec(from)?.[0] ?? (find(disk, 'driver')?.attrs.type === 'raw' ? '.img' : '.qcow2');
      const volume = `${name}-disk${i++}${ext}`;
      await this.shell.run(['vol-clone', from, volume, '--pool', pool], { timeoutMs: this.longMs });
      created.push({ pool, volume });
      if (disk.attrs.type === 'volume') source.attrs.volume = volume;
      else source.attrs.file = (await this.virsh('vol-path', volume, '--pool', pool)).trim();
    }
  }

  private async exists(name: string): Promise<boolean> {
    try {
      await this.virsh('domuuid', name);
      return true;
    } catch (err) {
      if (isRhevbootError(err, 'RB_ERR_NOT_FOUND')) return false;
      throw err;
    }
  }

  /**
   * Changes go into the persistent definition (`define` of the edited XML), which works on every
   * libvirt driver and takes effect at the next boot; on a running VM memory and new devices are
   * also applied live where the hypervisor can (logged, not failed, where it cannot).
   */
  async updateVm(name: string, changes: VmChanges): Promise<VmInfo> {
    checkName(name, 'VM');
    return this.writes.run(async () => {
      const { active } = await this.status(name);
      const dom = await this.domainXml(name, true);
      applyChanges(dom, changes);
      const removedMacs = changes.removeNics?.length ? removeNics(dom, changes.removeNics) : [];
      const devices = find(dom, 'devices')!;
      const nics = changes.addNics?.length ? this.nics(changes.addNics, await this.allMacs()) : [];
      const disks = await this.planNewDisks(name, changes.addDisks ?? [], dom);
      const created: PlannedDisk[] = [];
      try {
        await this.createVolumes(disks, created);
        devices.children.push(...disks.map(diskXml), ...nics);
        ensureScsiController(dom, disks);
        await this.define(dom);
      } catch (err) {
        await this.dropVolumes(created);
        throw err;
      }
      if (active) await this.applyLive(name, changes, [...disks.map(diskXml), ...nics], removedMacs);
      return this.info(name);
    });
  }

  private async applyLive(name: string, ch: VmChanges, added: XEl[], removedMacs: string[]): Promise<void> {
    const tryLive = async (what: string, run: () => Promise<unknown>): Promise<void> => {
      await run().catch((e: Error) => this.log.warn({ vm: name, err: e.message }, `${what}: not applied to the running VM, it takes effect at its next boot`));
    };
    if (ch.memoryMiB !== undefined) await tryLive('memory', () => this.virsh('setmem', name, `${ch.memoryMiB}M`, '--live'));
    for (const dev of added) {
      await tryLive(`attach ${dev.name}`, async () => {
        const file = await this.tmpFile(`${name}-dev.xml`, toXml(dev, { pretty: true }));
        try {
          await this.virsh('attach-device', name, file, '--live');
        } finally {
          await rm(file, { force: true });
        }
      });
    }
    for (const mac of removedMacs) await tryLive(`detach NIC ${mac}`, () => this.virsh('detach-interface', name, 'network', '--mac', mac, '--live'));
  }

  async removeVm(name: string, opts: { disks?: boolean; force?: boolean } = {}): Promise<void> {
    checkName(name, 'VM');
    await this.writes.run(async () => {
      const { state, active } = await this.status(name);
      if (active) {
        if (!opts.force) throw new RhevbootError('RB_ERR_CONFLICT', `VM ${name} is ${state}: stop it first, or remove with force`, { vm: name, state });
        await this.virsh('destroy', name);
      }
      const dom = await this.domainXml(name, true);
      const args = ['undefine', name, '--managed-save'];
      if (find(dom, 'os/nvram')) args.push('--nvram');
      // Name the disks rather than --remove-all-storage, which would delete a CD-ROM's ISO volume too.
      const targets = findAll(dom, 'devices/disk')
        .filter((d) => (d.attrs.device ?? 'disk') === 'disk')
        .map((d) => find(d, 'target')?.attrs.dev)
        .filter((t): t is string => !!t);
      if (opts.disks !== false && targets.length > 0) args.push('--storage', targets.join(','));
      await this.virsh(...args);
      this.log.info({ vm: name, disks: opts.disks !== false }, 'VM removed');
    });
  }

  // ---- power --------------------------------------------------------------------------------

  async power(name: string, action: PowerAction): Promise<VmInfo> {
    checkName(name, 'VM');
    const { state, active, paused } = await this.status(name);
    switch (action) {
      case 'status':
        return this.info(name, state);
      case 'start':
        // A running VM gets libvirt's own refusal (already active), as the engine's 409 text.
        if (paused) await this.virsh('resume', name);
        else await this.virsh('start', name); // restores a managed save by itself
        return this.waitFor(name, 'up');
      case 'stop':
        if (active) await this.virsh('destroy', name);
        else if (state === 'suspended') await this.virsh('managedsave-remove', name); // RHEV-M drops the saved memory too
        else throw new RhevbootError('RB_ERR_CONFLICT', `cannot stop ${name}: it is ${state}`, { vm: name, state });
        return this.waitFor(name, 'down');
      case 'shutdown':
        await this.virsh('shutdown', name);
        return this.waitFor(name, 'down', 'the guest may ignore ACPI: use stop');
      case 'suspend':
        if (state !== 'up' && state !== 'paused') throw new RhevbootError('RB_ERR_CONFLICT', `cannot suspend ${name}: it is ${state}`, { vm: name, state });
        await this.suspend(name);
        return this.waitFor(name, 'suspended');
      case 'reboot':
        await this.virsh('reboot', name);
        return this.waitFor(name, 'up');
      default:
        throw new RhevbootError('RB_ERR_INVALID', `unknown power action ${String(action)}`);
    }
  }

  /**
   * `managedsave` (memory to disk, host RAM freed: RHEV-M's suspend), or `suspend` (paused in
   * memory) when configured, and by default on the test driver. Why: virsh 9.0 runs a save in a
   * worker thread and waits on an event loop the worker quits; a save that ends at once (the test
   * driver's always do) can quit the loop before it runs, and virsh then waits forever, although
   * the save is done. A real save takes seconds, but should virsh hang anyway, the shell restarts
   * it on the timeout and the host is asked whether the VM was saved.
   */
  private async suspend(name: string): Promise<void> {
    if ((this.opts.suspend ?? (this.uri.startsWith('test:') ? 'pause' : 'managedsave')) === 'pause') {
      await this.virsh('suspend', name);
      return;
    }
    try {
      await this.shell.run(['managedsave', name], { timeoutMs: this.longMs });
    } catch (err) {
      if (!isRhevbootError(err, 'RB_ERR_LIBVIRT_TIMEOUT') || (await this.stateOf(name)) !== 'suspended') throw err;
      this.log.warn({ vm: name }, 'virsh hung after managedsave; the VM is saved');
    }
  }

  private async waitFor(name: string, want: string, hint?: string): Promise<VmInfo> {
    const until = Date.now() + this.longMs;
    for (;;) {
      const state = await this.stateOf(name);
      if (state === want) return this.info(name, state);
      if (Date.now() >= until) throw new RhevbootError('RB_ERR_LIBVIRT_TIMEOUT', `VM ${name} is ${state}, not ${want}, after ${this.longMs} ms${hint ? ` (${hint})` : ''}`, { vm: name, state, want });
      await sleep(this.opts.pollMs ?? 500);
    }
  }

  // ---- migrate and clone --------------------------------------------------------------------

  /**
   * A libvirt manager is one host, so there is nowhere to migrate within it. A destination given
   * as another host's libvirt URI is migrated to live (peer-to-peer through this connection; the
   * disks must be on storage both hosts see); the VM then belongs to the destination's manager.
   */
  async migrate(name: string, opts: { host?: string } = {}): Promise<VmInfo> {
    const vm = await this.mustFind(name);
    const dest = opts.host;
    if (!dest || !LIBVIRT_URI.test(dest)) {
      throw new RhevbootError('RB_ERR_INVALID', `migration is not supported within a single libvirt host (${this.name}): name another manager's host as its libvirt URI, e.g. qemu+ssh://root@kvm02/system${dest ? ` (not '${dest}')` : ''}`, { vm: name, host: dest });
    }
    if (vm.state !== 'up') throw new RhevbootError('RB_ERR_CONFLICT', `cannot live-migrate ${name}: it is ${vm.state}`, { vm: name, state: vm.state });
    try {
      await this.shell.run(['migrate', '--live', '--persistent', '--undefinesource', name, dest], { timeoutMs: this.longMs });
    } catch (err) {
      // virsh watches a migration like a save (see suspend()) and can hang after it ended; gone
      // from here (--undefinesource) means it arrived.
      if (!isRhevbootError(err, 'RB_ERR_LIBVIRT_TIMEOUT') || (await this.findVm(name)) !== undefined) throw err;
    }
    this.log.info({ vm: name, to: dest }, 'VM migrated');
    return { ...vm, host: dest };
  }

  async clone(source: string, names: string[]): Promise<VmInfo[]> {
    checkName(source, 'VM');
    names.forEach((n) => checkName(n, 'VM'));
    if (new Set(names).size !== names.length) throw new RhevbootError('RB_ERR_INVALID', 'clone names must be distinct');
    return this.writes.run(async () => {
      const state = await this.stateOf(source);
      if (state !== 'down') throw new RhevbootError('RB_ERR_CONFLICT', `cannot clone ${source}: it is ${state} (its disks must not change while they are copied; stop it first)`, { vm: source, state });
      for (const n of names) if (await this.exists(n)) throw new RhevbootError('RB_ERR_CONFLICT', `a VM named ${n} already exists on libvirt host ${this.name}`, { vm: n });
      const base = await this.domainXml(source, true);
      const taken = await this.allMacs();
      const done: VmInfo[] = [];
      for (const n of names) {
        const created: { pool: string; volume: string }[] = [];
        try {
          const dom = cloneIdentity(base, n, taken);
          await this.cloneDisks(dom, n, created);
          await this.define(dom);
        } catch (err) {
          await this.dropVolumes(created);
          throw err;
        }
        done.push(await this.info(n));
      }
      return done;
    });
  }

  async close(): Promise<void> {
    await this.shell.close();
    if (this.tmpDir) await rm(await this.tmpDir, { recursive: true, force: true });
  }
}

