/**
 * VMs on every manager (issue 7; xCAT's mkvm, chvm, rmvm, lsvm, rpower, rmigrate, clonevm,
 * xcat-rhev.md §4.5), through the hypervisor drivers, whatever kind each manager is.
 *
 * - A VM is also a node: its NIC MACs go into the node table with `manager` = its manager and
 *   attributes `vm.manager`, `vm.id`, `vm.host`, so `nodeset vm01 install` and a power-on
 *   provision it over PXE from rhevboot, as xCAT did. Removing the VM removes that node.
 * - Noderanges: each VM is worked on in parallel with a bound, one result per VM; a failure is
 *   that VM's result and never stops the others. The request as a whole (names, sizes, MACs) is
 *   checked before anything is touched: bad input changes nothing.
 * - Without a manager or a host, `create` places the VMs across all managers (placement.ts).
 */
import { RhevbootError, httpStatusFor, isRhevbootError } from '../errors.js';
import type { Logger } from '../log.js';
import type { HostInfo, ImageInfo } from '../domain/hypervisor.js';
import { macProblem, normaliseMac, validateNodeName, type NodeRecord } from '../domain/node.js';
import { compareNodeNames, expandNames, NoderangeError } from '../domain/noderange.js';
import { NoValidHostError, placeMany, requestProblem, WEIGHERS, type ImagesByManager, type Placement, type Weigher } from '../domain/placement.js';
import { EngineFault } from '../rhevm/index.js';
import type { EngineRecord, Store } from '../store/store.js';
import { mapLimit } from '../util/map-limit.js';
import type { DiskSpec, HypervisorDriver, NicSpec, PowerAction, VmChanges, VmInfo, VmSpec } from '../virt/driver.js';
import { driverFor } from './drivers.js';
import type { EngineService } from './engines.js';
import type { EventService } from '../events/events.js';
import type { NodeService } from '../provisioning/nodes.js';

export const POWER_ACTIONS: readonly PowerAction[] = ['start', 'stop', 'shutdown', 'suspend', 'reboot', 'status'];

export interface VmCreateRequest {
  /** A name or a noderange of new names (`vm[01-10]`). */
  names: string;
  manager?: string;
  host?: string;
  template?: string;
  cluster?: string;
  memoryMiB: number;
  cpu?: VmSpec['cpu'];
  osType?: string;
  boot?: VmSpec['boot'];
  display?: VmSpec['display'];
  disks?: DiskSpec[];
  nics?: NicSpec[];
  weigher?: Weigher;
  architecture?: string;
}

export interface VmError {
  code: string;
  message: string;
  /** What the API answers for this failure: the engine's 409 stays a 409, its 5xx are 502. */
  status: number;
}

export interface VmResult {
  name: string;
  ok: boolean;
  /** One line for the admin: what happened, or the error (the engine's words included). */
  message: string;
  vm?: VmInfo;
  error?: VmError;
}

export interface PlanView {
  placements: Placement[];
  /** Managers whose hosts could not be listed (they took no part in the plan). */
  warnings: string[];
}

export interface CreateOutcome extends Partial<PlanView> {
  results: VmResult[];
}

export type VmRow = VmInfo & { node: boolean };

export interface VmServiceDeps {
  store: Store;
  engines: EngineService;
  nodes: NodeService;
  events: EventService;
  log: Logger;
  /** Longest interval between state checks (config rhevm.pollIntervalMs). */
  pollIntervalMs?: number;
  /** VMs of one noderange worked on at once (default 16). */
  concurrency?: number;
  /** Tests and the bench may supply drivers; normally one per manager row (drivers.ts). */
  driverFor?: (engine: EngineRecord) => Promise<HypervisorDriver>;
}

/** The drivers one operation uses, opened on first use and closed together. */
class DriverSet {
  private readonly opened = new Map<string, Promise<HypervisorDriver>>();
  constructor(private readonly open: (name: string) => Promise<HypervisorDriver>) {}
  get(name: string): Promise<HypervisorDriver> {
    let d = this.opened.get(name);
    if (!d) {
      d = this.open(name);
      this.opened.set(name, d);
    }
    return d;
  }
  async close(): Promise<void> {
    await Promise.all([...this.opened.values()].map(async (p) => (await p.catch(() => undefined))?.close().catch(() => undefined)));
  }
}

interface Target {
  name: string;
  node?: NodeRecord;
  manager?: string;
}

export class VmService {
  private readonly concurrency: number;

  constructor(private readonly deps: VmServiceDeps) {
    this.concurrency = deps.concurrency ?? 16;
  }

  // ---- create and placement ------------------------------------------------------------------

  /** Places the VMs of a request without creating anything (`--dry-run`, POST /placement/explain). */
  async explain(req: VmCreateRequest): Promise<PlanView> {
    const names = this.newNames(req.names);
    return this.withDrivers((ds) => this.plan(ds, names, req));
  }

  async create(req: VmCreateRequest): Promise<CreateOutcome> {
    const names = this.newNames(req.names);
    const nics = this.checkSpec(req, names);
    await this.macsFree(names, nics);
    await this.notGroups(names);
    return this.withDrivers(async (ds) => {
      let placements: Placement[] | undefined;
      let warnings: string[] | undefined;
      // Where each VM goes: a named host (its manager found if not given), a named manager (its own
      // scheduler decides at start), or the placement across every manager.
      const where = new Map<string, { manager: string; host?: HostInfo }>();
      if (req.host) {
        const h = await this.findHost(ds, req.host, req.manager);
        for (const n of names) where.set(n, { manager: h.manager, host: h });
      } else if (req.manager) {
        await this.engine(req.manager);
        for (const n of names) where.set(n, { manager: req.manager });
      } else {
        ({ placements, warnings } = await this.plan(ds, names, req));
        for (const p of placements) where.set(p.vm, { manager: p.host.manager, host: p.host });
      }
      const results = await this.each(names, async (name) => {
        const w = where.get(name)!;
        const d = await ds.get(w.manager);
        const spec: VmSpec = {
          name,
          memoryMiB: req.memoryMiB,
          boot: req.boot ?? ['network', 'hd'],
          ...(req.cpu && { cpu: req.cpu }),
          ...(req.osType && { osType: req.osType }),
          ...(req.display && { display: req.display }),
          ...(req.template && { template: req.template }),
          ...((req.cluster ?? w.host?.cluster) && { cluster: req.cluster ?? w.host?.cluster }),
          ...(req.disks && { disks: req.disks }),
          ...(nics && { nics }),
        };
        const vm = await d.createVm(spec, w.host ? { host: w.host.name } : {});
        const nodeNote = await this.recordNode(vm, { host: w.host?.name, arch: w.host?.arch, cluster: spec.cluster });
        await this.event('vm.created', name, `VM ${name} created on ${vm.manager}${w.host ? ` (host ${w.host.name})` : ''}`, { manager: vm.manager, host: w.host?.name ?? null, macs: vm.macs });
        return { vm, message: `created on ${vm.manager}${w.host ? ` host ${w.host.name}` : ''}${vm.macs.length ? `, MAC ${vm.macs.join(' ')}` : ''}${nodeNote}` };
      });
      return { results, ...(placements && { placements }), ...(warnings && { warnings }) };
    });
  }

  private async plan(ds: DriverSet, names: string[], req: VmCreateRequest): Promise<PlanView> {
    const weigher = req.weigher ?? 'spread';
    if (!WEIGHERS.includes(weigher)) throw new RhevbootError('RB_ERR_INVALID', `weigher must be one of ${WEIGHERS.join(', ')}`, { field: 'weigher' });
    const managers = req.manager ? [await this.engine(req.manager)] : await this.deps.store.engines.list();
    const warnings: string[] = [];
    const hosts: HostInfo[] = [];
    const images = new Map<string, ImageInfo[]>();
    await Promise.all(
      managers.map(async (m) => {
        try {
          const d = await ds.get(m.name);
          const [hs, imgs] = await Promise.all([d.listHosts(), req.template !== undefined ? d.listImages() : Promise.resolve([])]);
          hosts.push(...hs);
          images.set(m.name, imgs);
        } catch (err) {
          warnings.push(`${m.name}: hosts not listed: ${(err as Error).message}`);
        }
      }),
    );
    hosts.sort((a, b) => a.manager.localeCompare(b.manager) || a.name.localeCompare(b.name));
    const reqs = names.map((vm) => ({
      vm,
      memoryMiB: req.memoryMiB,
      ...(req.template !== undefined && { template: req.template }),
      ...(req.cluster !== undefined && { cluster: req.cluster }),
      ...(req.architecture !== undefined && { architecture: req.architecture }),
    }));
    const problem = requestProblem(reqs[0]!, images as ImagesByManager);
    if (problem) throw new RhevbootError('RB_ERR_INVALID', problem, { field: problem.startsWith('memory') ? 'memoryMiB' : 'architecture' });
    try {
      return { placements: placeMany(hosts, reqs, images, weigher), warnings };
    } catch (err) {
      if (err instanceof NoValidHostError) {
        throw new RhevbootError('RB_ERR_CONFLICT', warnings.length ? `${err.message} (also: ${warnings.join('; ')})` : err.message, { vm: err.vm, verdicts: err.verdicts, warnings });
      }
      throw err;
    }
  }

  // ---- list, change, remove, power, migrate, clone -------------------------------------------

  /** VMs of every manager (or of a noderange), with the node table's MACs where the driver gave none. */
  async list(range?: string): Promise<{ vms: VmRow[]; warnings: string[] }> {
    const wanted = range ? new Set((await this.targets(range, { locate: false })).map((t) => t.name)) : undefined;
    const nodes = new Map((await this.deps.store.nodes.list()).map((n) => [n.name, n]));
    const warnings: string[] = [];
    const rows: VmRow[] = [];
    await this.withDrivers(async (ds) => {
      await Promise.all(
        (await this.deps.store.engines.list()).map(async (m) => {
          try {
            for (const vm of await (await ds.get(m.name)).listVms()) {
              if (wanted && !wanted.has(vm.name)) continue;
              const node = nodes.get(vm.name);
              rows.push({ ...vm, macs: vm.macs.length ? vm.macs : (node?.nics.map((n) => n.mac) ?? []), node: node !== undefined });
            }
          } catch (err) {
            warnings.push(`${m.name}: VMs not listed: ${(err as Error).message}`);
          }
        }),
      );
    });
    rows.sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }) || a.manager.localeCompare(b.manager));
    return { vms: rows, warnings };
  }

  async change(range: string, changes: VmChanges): Promise<VmResult[]> {
    if (!Object.values(changes).some((v) => v !== undefined && (!Array.isArray(v) || v.length))) throw new RhevbootError('RB_ERR_INVALID', 'nothing to change: give --memory, --cpus, --boot, --display, --add-disk, --add-nic or --rm-nic', {});
    if (changes.memoryMiB !== undefined && (!Number.isInteger(changes.memoryMiB) || changes.memoryMiB <= 0)) throw new RhevbootError('RB_ERR_INVALID', 'memory must be a positive size', { field: 'memoryMiB' });
    // Before the engine is touched: a MAC the node table would refuse must not reach a VM.
    if (changes.addNics?.some((n) => n.mac !== undefined)) changes = { ...changes, addNics: changes.addNics.map((n, i) => (n.mac === undefined ? n : { ...n, mac: checkMac(n.mac, i, 'addNics') })) };
    return this.onTargets(range, async (t, d) => {
      const vm = await d.updateVm(t.name, changes);
      if (changes.addNics?.length || changes.removeNics?.length) await this.recordNode(vm, {});
      await this.event('vm.changed', t.name, `VM ${t.name} changed: ${Object.keys(changes).join(', ')}`, { manager: vm.manager, fields: Object.keys(changes) });
      return { vm, message: `changed (${describeChanges(changes)})` };
    });
  }

  async remove(range: string, opts: { keepDisks?: boolean; force?: boolean } = {}): Promise<VmResult[]> {
    return this.onTargets(range, async (t, d) => {
      await d.removeVm(t.name, { disks: !opts.keepDisks, ...(opts.force && { force: true }) });
      // The node goes with the VM only when it is that VM's node (not a bare-metal namesake).
      const node = await this.deps.store.nodes.get(t.name);
      const dropNode = node && node.attrs['vm.manager'] === d.name;
      if (dropNode) await this.deps.nodes.remove(t.name);
      await this.event('vm.removed', t.name, `VM ${t.name} removed from ${d.name}${opts.keepDisks ? ' (disks kept)' : ''}`, { manager: d.name, keepDisks: !!opts.keepDisks });
      return { message: `removed from ${d.name}${opts.keepDisks ? ', disks kept' : ''}${dropNode ? ', node removed' : ''}` };
    });
  }

  async power(range: string, action: PowerAction): Promise<VmResult[]> {
    if (!POWER_ACTIONS.includes(action)) throw new RhevbootError('RB_ERR_INVALID', `power action must be one of ${POWER_ACTIONS.join(', ')}`, { field: 'action' });
    return this.onTargets(range, async (t, d) => {
      const vm = await d.power(t.name, action);
      if (action !== 'status') {
        if (vm.host && t.node && t.node.attrs['vm.host'] !== vm.host) await this.setAttrs(t.node, { 'vm.host': vm.host });
        await this.event('vm.power', t.name, `VM ${t.name}: ${action} -> ${vm.state}`, { manager: vm.manager, action, state: vm.state, host: vm.host ?? null });
      }
      return { vm, message: `${vm.state}${vm.host ? ` on ${vm.host}` : ''}` };
    });
  }

  async migrate(range: string, opts: { host?: string } = {}): Promise<VmResult[]> {
    return this.onTargets(range, async (t, d) => {
      const before = t.node?.attrs['vm.host'];
      const vm = await d.migrate(t.name, opts.host ? { host: opts.host } : {});
      if (t.node && vm.host) await this.setAttrs(t.node, { 'vm.host': vm.host });
      await this.event('vm.migrated', t.name, `VM ${t.name} migrated to ${vm.host ?? '?'}`, { manager: vm.manager, from: before ?? null, to: vm.host ?? null });
      return { vm, message: `migrated${before ? ` from ${before}` : ''} to ${vm.host ?? '(unknown host)'}` };
    });
  }

  /**
   * Clones `source` to the new names of `range`, one after another (the engine locks the source
   * while it copies). A failure part-way reports each name: those made are kept (and are nodes).
   */
  async clone(source: string, range: string): Promise<VmResult[]> {
    const names = this.newNames(range);
    if (names.includes(source)) throw new RhevbootError('RB_ERR_INVALID', `${source} cannot be cloned onto itself`, { field: 'names' });
    await this.notGroups(names);
    return this.withDrivers(async (ds) => {
      const [src] = await this.locate(ds, [{ name: source, ...(await this.nodeOf(source)) }]);
      if (!src?.manager) throw new RhevbootError('RB_ERR_NOT_FOUND', `no VM named ${source} on any manager`, { vm: source });
      const d = await ds.get(src.manager);
      const host = src.node?.attrs['vm.host'];
      let made: VmInfo[] = [];
      let failure: unknown;
      try {
        made = await d.clone(source, names);
      } catch (err) {
        failure = err;
        made = (await Promise.all(names.map((n) => d.findVm(n).catch(() => undefined)))).filter((v): v is VmInfo => v !== undefined);
      }
      const results: VmResult[] = [];
      for (const name of names) {
        const vm = made.find((v) => v.name === name);
        if (!vm) {
          results.push(this.failed(name, failure ?? new RhevbootError('RB_ERR_RHEVM_STATE', `${name} was not made`)));
          continue;
        }
        const note = await this.recordNode(vm, { ...(host && { host }), ...(src.node?.arch && { arch: src.node.arch }) });
        await this.event('vm.created', name, `VM ${name} cloned from ${source} on ${vm.manager}`, { manager: vm.manager, source, macs: vm.macs });
        results.push({ name, ok: true, vm, message: `cloned from ${source} on ${vm.manager}${vm.macs.length ? `, MAC ${vm.macs.join(' ')}` : ''}${note}` });
      }
      return results;
    });
  }

  // ---- internals -----------------------------------------------------------------------------

  private async withDrivers<T>(fn: (ds: DriverSet) => Promise<T>): Promise<T> {
    const ds = new DriverSet(async (name) => this.driver(await this.engine(name)));
    try {
      return await fn(ds);
    } finally {
      await ds.close();
    }
  }

  private driver(e: EngineRecord): Promise<HypervisorDriver> {
    if (this.deps.driverFor) return this.deps.driverFor(e);
    return driverFor(e, { engines: this.deps.engines, log: this.deps.log, ...(this.deps.pollIntervalMs !== undefined && { pollIntervalMs: this.deps.pollIntervalMs }) });
  }

  private async engine(name: string): Promise<EngineRecord> {
    const e = await this.deps.store.engines.get(name);
    if (!e) throw new RhevbootError('RB_ERR_NOT_FOUND', `no manager named ${name} (rhevboot rhevm ls)`, { field: 'manager', manager: name });
    return e;
  }

  /** New names from a noderange, each a valid node name (a VM is a node). */
  private newNames(range: string): string[] {
    let names: string[];
    try {
      names = expandNames(range);
    } catch (err) {
      if (err instanceof NoderangeError) throw new RhevbootError('RB_ERR_INVALID', err.message, { field: 'names' });
      throw err;
    }
    for (const n of names) {
      const bad = validateNodeName(n);
      if (bad) throw new RhevbootError('RB_ERR_INVALID', bad.replace('node name', 'VM name'), { field: 'names' });
    }
    return names;
  }

  /** Checks what is the same for every VM; returns the NICs with canonical MACs. */
  private checkSpec(req: VmCreateRequest, names: string[]): NicSpec[] | undefined {
    if (!Number.isInteger(req.memoryMiB) || req.memoryMiB <= 0) throw new RhevbootError('RB_ERR_INVALID', 'memory must be a positive size (e.g. 2G)', { field: 'memoryMiB' });
    for (const [i, d] of (req.disks ?? []).entries()) {
      if (!Number.isInteger(d.sizeMiB) || d.sizeMiB <= 0) throw new RhevbootError('RB_ERR_INVALID', `disk ${i + 1}: size must be a positive size (e.g. 20G)`, { field: 'disks' });
    }
    const nics = req.nics?.map((n, i) => {
      if (n.mac === undefined) return n;
      const mac = checkMac(n.mac, i, 'nics');
      if (names.length > 1) throw new RhevbootError('RB_ERR_INVALID', `NIC ${i + 1}: a MAC belongs to one VM, not to the ${names.length} of ${req.names}`, { field: 'nics' });
      return { ...n, mac };
    });
    return nics;
  }

  private async macsFree(names: string[], nics: NicSpec[] | undefined): Promise<void> {
    const macs = (nics ?? []).map((n) => n.mac).filter((m): m is string => !!m);
    if (!macs.length) return;
    const holders = await this.deps.store.nodes.holders({ macs, ips: [] });
    for (const [mac, holder] of holders.macs) {
      if (!names.includes(holder)) throw new RhevbootError('RB_ERR_CONFLICT', `${mac} already belongs to node ${holder}`, { field: 'nics', holder });
    }
  }

  /** A VM is a node, and a node never shares a group's name (NodeService.add): checked up front. */
  private async notGroups(names: string[]): Promise<void> {
    const groups = new Set((await this.deps.store.nodes.list()).flatMap((n) => n.groups));
    const taken = names.filter((n) => groups.has(n));
    if (taken.length) throw new RhevbootError('RB_ERR_CONFLICT', `${taken.join(', ')}: a group's name; a VM is a node and cannot share it`, { field: 'names', groups: taken });
  }

  private async findHost(ds: DriverSet, host: string, manager?: string): Promise<HostInfo> {
    const managers = manager ? [await this.engine(manager)] : await this.deps.store.engines.list();
    const found: HostInfo[] = [];
    await Promise.all(managers.map(async (m) => found.push(...(await (await ds.get(m.name)).listHosts()).filter((h) => h.name === host || h.name.split('.')[0] === host))));
    if (!found.length) throw new RhevbootError('RB_ERR_NOT_FOUND', `no host named ${host} on ${manager ?? 'any manager'}`, { field: 'host', host });
    if (found.length > 1) throw new RhevbootError('RB_ERR_INVALID', `host ${host} exists on ${found.map((h) => h.manager).join(' and ')}: name the manager`, { field: 'manager', host });
    return found[0]!;
  }

  private async nodeOf(name: string): Promise<{ node?: NodeRecord; manager?: string }> {
    const node = await this.deps.store.nodes.get(name);
    return node ? { node, ...(node.attrs['vm.manager'] && { manager: node.attrs['vm.manager'] }) } : {};
  }

  /**
   * The VMs a noderange means: nodes (groups work, `all` works) when the range resolves in the
   * node table, else the names it spells (VMs made outside rhevboot). Their managers come from
   * the node's `vm.manager`, or by asking every manager once.
   */
  private async targets(range: string, opts: { locate: boolean; ds?: DriverSet }): Promise<Target[]> {
    // A noderange names existing nodes (and silently skips names of a bracket range that are not
    // nodes); a VM need not be a node, so the names the range spells are added back.
    let nodes: NodeRecord[] = [];
    try {
      nodes = await this.deps.nodes.resolve(range);
    } catch (err) {
      if (!isRhevbootError(err, 'RB_ERR_NOT_FOUND')) throw err;
    }
    let spelled: string[] = [];
    try {
      spelled = expandNames(range);
    } catch (err) {
      if (!(err instanceof NoderangeError)) throw err;
      if (!nodes.length) throw new RhevbootError('RB_ERR_INVALID', err.message, { field: 'range' });
    }
    const all = await this.deps.store.nodes.list();
    const groups = new Set(all.flatMap((n) => n.groups));
    const have = new Set(nodes.map((n) => n.name));
    const extra = spelled.filter((n) => !have.has(n) && !groups.has(n));
    if (extra.length) this.newNames(extra.join(','));
    const targets: Target[] = [
      ...nodes.map((node) => ({ name: node.name, node, ...(node.attrs['vm.manager'] && { manager: node.attrs['vm.manager'] }) })),
      ...extra.map((name) => ({ name })),
    ].sort((x, y) => compareNodeNames(x.name, y.name));
    return opts.locate && opts.ds ? this.locate(opts.ds, targets) : targets;
  }

  private async locate(ds: DriverSet, targets: Target[]): Promise<Target[]> {
    if (targets.every((t) => t.manager)) return targets;
    const where = new Map<string, string>();
    await Promise.all(
      (await this.deps.store.engines.list()).map(async (m) => {
        try {
          for (const vm of await (await ds.get(m.name)).listVms()) if (!where.has(vm.name)) where.set(vm.name, m.name);
        } catch (err) {
          this.deps.log.warn({ manager: m.name, err: (err as Error).message }, 'vms: manager not searched');
        }
      }),
    );
    return targets.map((t) => (t.manager || !where.has(t.name) ? t : { ...t, manager: where.get(t.name)! }));
  }

  private async onTargets(range: string, fn: (t: Target, d: HypervisorDriver) => Promise<{ vm?: VmInfo; message: string }>): Promise<VmResult[]> {
    return this.withDrivers(async (ds) => {
      const targets = await this.targets(range, { locate: true, ds });
      const results = await this.each(
        targets.map((t) => t.name),
        async (_name, i) => {
          const t = targets[i]!;
          if (!t.manager) throw new RhevbootError('RB_ERR_NOT_FOUND', `no VM named ${t.name} on any manager`, { vm: t.name });
          return fn(t, await ds.get(t.manager));
        },
      );
      return results;
    });
  }

  private async each(names: string[], fn: (name: string, i: number) => Promise<{ vm?: VmInfo; message: string }>): Promise<VmResult[]> {
    const settled = await mapLimit(names, this.concurrency, fn);
    return settled.map((s, i) => (s.ok ? { name: names[i]!, ok: true, message: s.value.message, ...(s.value.vm && { vm: s.value.vm }) } : this.failed(names[i]!, s.error)));
  }

  private failed(name: string, err: unknown): VmResult {
    const error = vmError(err);
    if (error.status >= 500 && error.code === 'RB_ERR_INTERNAL') this.deps.log.error({ vm: name, err }, 'vms: unexpected error');
    return { name, ok: false, message: error.message, error };
  }

  /** Puts the VM's MACs into the node table (adding the node, or updating the one of that name). */
  private async recordNode(vm: VmInfo, extra: { host?: string | undefined; arch?: string | undefined; cluster?: string | undefined }): Promise<string> {
    const attrs: Record<string, string> = { 'vm.manager': vm.manager, 'vm.id': vm.id, ...(extra.host && { 'vm.host': extra.host }) };
    try {
      const node = await this.deps.store.nodes.get(vm.name);
      if (node) {
        await this.deps.nodes.set(vm.name, { ...(vm.macs.length && { macs: vm.macs }), manager: vm.manager, attrs: { ...node.attrs, ...attrs } });
        return ', node updated';
      }
      await this.deps.nodes.add([{ name: vm.name, macs: vm.macs, manager: vm.manager, ...(extra.arch && { arch: extra.arch }), ...(extra.cluster && { cluster: extra.cluster }), attrs }]);
      return ', node added';
    } catch (err) {
      // The VM exists; say plainly that only the node record is missing, and why (e.g. a MAC
      // another node has: two engines with the default MAC pool hand out the same addresses).
      const rows = isRhevbootError(err) ? (err.details['errors'] as { message: string }[] | undefined) : undefined;
      return `; node NOT recorded: ${rows?.length ? rows.map((r) => r.message).join('; ') : (err as Error).message}`;
    }
  }

  private async setAttrs(node: NodeRecord, attrs: Record<string, string>): Promise<void> {
    await this.deps.nodes.set(node.name, { attrs: { ...node.attrs, ...attrs } }).catch((err: Error) => this.deps.log.warn({ node: node.name, err: err.message }, 'vms: node attributes not updated'));
  }

  private async event(kind: string, subject: string, message: string, data: Record<string, unknown>): Promise<void> {
    await this.deps.events.record({ kind, subjectType: 'node', subject, message, data });
  }
}

/** A NIC's MAC in canonical form, refused as the node table would refuse it (the VM is a node). */
function checkMac(mac: string, i: number, field: string): string {
  const canon = normaliseMac(mac);
  if (!canon) throw new RhevbootError('RB_ERR_INVALID', `NIC ${i + 1}: '${mac}' is not a MAC address`, { field });
  const problem = macProblem(canon);
  if (problem) throw new RhevbootError('RB_ERR_INVALID', `NIC ${i + 1}: ${problem}`, { field });
  return canon;
}

/** The error of one VM as the API and the CLI show it; the engine's own words are kept whole. */
export function vmError(err: unknown): VmError {
  if (err instanceof EngineFault) {
    // The engine refused something the admin asked: its 400/409 are the admin's to fix (409 stays
    // 409); a name it did not find (404 "Entity not found: Template: name=x") is bad input too.
    // Its 401/403/5xx are the appliance's gateway failing: 502.
    const status = err.status === 409 || err.status === 400 ? err.status : err.status === 404 ? 400 : 502;
    return { code: err.code, message: err.message, status };
  }
  if (isRhevbootError(err)) return { code: err.code, message: err.message, status: httpStatusFor(err.code) };
  return { code: 'RB_ERR_INTERNAL', message: `internal error: ${(err as Error)?.message ?? String(err)}`, status: 500 };
}

function describeChanges(c: VmChanges): string {
  const out: string[] = [];
  if (c.memoryMiB !== undefined) out.push(`memory ${c.memoryMiB} MiB`);
  if (c.cpu) out.push(`cpu ${c.cpu.sockets ?? 1}:${c.cpu.cores ?? 1}:${c.cpu.threads ?? 1}`);
  if (c.boot) out.push(`boot ${c.boot.join(',')}`);
  if (c.display) out.push(`display ${c.display}`);
  if (c.addDisks?.length) out.push(`+${c.addDisks.length} disk(s)`);
  if (c.addNics?.length) out.push(`+${c.addNics.length} NIC(s)`);
  if (c.removeNics?.length) out.push(`-NIC ${c.removeNics.join(',')}`);
  return out.join(', ');
}
