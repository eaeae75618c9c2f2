import { randomBytes } from 'node:crypto';
import { RhevbootError } from '../errors.js';
import { moveNode, nextAction } from '../domain/lifecycle.js';
import { validateDistroName } from '../domain/distro.js';
import {
  NodeValidationError,
  normaliseNodeInput,
  type BootAction,
  type NodeInput,
  type NodeRecord,
  type ReservedAddresses,
} from '../domain/node.js';
import type { RowError } from '../domain/node-import.js';
import { compareNodeNames, NoderangeError, resolveNoderange } from '../domain/noderange.js';
import { parseCidr, type Cidr } from '../util/ipv4.js';
import type { Repositories, Store } from '../store/store.js';
import type { EventService } from '../events/events.js';

export type { RowError };

export type NodesetAction = BootAction | 'next';

const DEFAULTS = { ip: null, groups: [], distro: null, arch: 'x86_64', hypervisor: 'rhevh', manager: null, cluster: null, storageInit: '', kernelArgs: '', attrs: {} };

/**
 * Nodes: define, change, remove, and nodeset. Every change validates the same way whatever the
 * face, runs in one transaction (a 10,000-node import included) and leaves an event per node.
 */
export class NodeService {
  private readonly subnets: Cidr[];
  private readonly routers: string[];

  /**
   * `subnets`: the DHCP subnets (node addresses fall inside them, never on their routers).
   * `applianceAddresses`: the appliance's own addresses, asked only when a change carries an IP:
   * resolving them may ask the OS, and a CLI on a machine whose provisioning address is ambiguous
   * must still work.
   */
  constructor(
    private readonly store: Store,
    private readonly events: EventService,
    subnets: { subnet: string; routers?: string[] }[],
    private readonly applianceAddresses: () => string[] = () => [],
  ) {
    this.subnets = subnets.map((s) => parseCidr(s.subnet)).filter((c): c is Cidr => c !== undefined);
    this.routers = subnets.flatMap((s) => s.routers ?? []);
  }

  /** The addresses taken on the nodes' networks, the appliance's asked once per change. */
  private reserved(): ReservedAddresses {
    let appliance: string[] | undefined;
    return { routers: this.routers, appliance: () => (appliance ??= this.applianceAddresses()) };
  }

  /** The domain's checks, plus the distro name (a directory and URL segment, distro.ts's rule). */
  private normalise(input: NodeInput, reserved: ReservedAddresses): ReturnType<typeof normaliseNodeInput> {
    const node = normaliseNodeInput(input, this.subnets, reserved);
    const badDistro = node.distro ? validateDistroName(node.distro) : undefined;
    if (badDistro) throw new NodeValidationError('distro', badDistro);
    return node;
  }

  /**
   * Adds nodes. Every row is checked (fields, duplicates in the batch and in the store) before
   * anything is written; with `skipBad` the good rows are added and the bad ones reported,
   * otherwise one bad row refuses the whole batch.
   */
  async add(
    inputs: NodeInput[],
    opts: { skipBad?: boolean; replace?: boolean; /** File row of each input, for the report. */ rowNumbers?: number[]; /** Errors found earlier (parsing), reported with these. */ priorErrors?: RowError[] } = {},
  ): Promise<{ added: string[]; errors: RowError[] }> {
    return this.store.transaction(async (tx) => {
      const errors: RowError[] = [...(opts.priorErrors ?? [])];
      const rowOf = (i: number): number => opts.rowNumbers?.[i] ?? i + 1;
      const now = new Date().toISOString();
      const accepted: NodeRecord[] = [];
      const seenNames = new Map<string, number>();
      const seenMacs = new Map<string, string>();
      const seenIps = new Map<string, string>();
      const normalised: { row: number; node: ReturnType<typeof normaliseNodeInput> }[] = [];
      const reserved = this.reserved();
      inputs.forEach((input, i) => {
        try {
          normalised.push({ row: rowOf(i), node: this.normalise(input, reserved) });
        } catch (err) {
          if (!(err instanceof NodeValidationError)) throw err;
          errors.push({ row: rowOf(i), name: input.name, field: err.field, message: err.message });
        }
      });
      const stored = await tx.nodes.list();
      const existing = new Set(stored.map((n) => n.name));
      // A word that is both a node and a group means the node in a noderange, so the two must
      // never share a name: the group would be unreachable, or the node's PATCH would reach the
      // group's members. Against the store that is a conflict; within the batch, bad input.
      const storedGroups = new Set(stored.flatMap((n) => n.groups));
      const batchGroups = new Map<string, number>();
      for (const { row, node } of normalised) for (const g of node.groups ?? []) if (!batchGroups.has(g)) batchGroups.set(g, row);
      const batchNames = new Map(normalised.map(({ row, node }) => [node.name, row]));
      const collisions = new Set<RowError>();
      const holders = await tx.nodes.holders({
        macs: normalised.flatMap((n) => n.node.nics?.map((x) => x.mac) ?? []),
        ips: normalised.flatMap((n) => (n.node.ip ? [n.node.ip] : [])),
      });
      for (const { row, node } of normalised) {
        const fail = (field: string, message: string, collision = false): void => {
          const e = { row, name: node.name, field, message };
          errors.push(e);
          if (collision) collisions.add(e);
        };
        if (storedGroups.has(node.name)) {
          fail('name', `${node.name} is a group's name; a node cannot share it`, true);
          continue;
        }
        if (batchGroups.has(node.name)) {
          fail('name', `${node.name} is also a group, in row ${batchGroups.get(node.name)}; a node cannot share a group's name`);
          continue;
        }
        const nodeNamedLikeGroup = (node.groups ?? []).find((g) => existing.has(g) || batchNames.has(g));
        if (nodeNamedLikeGroup !== undefined) {
          const inBatch = batchNames.get(nodeNamedLikeGroup);
          if (inBatch !== undefined) fail('groups', `group ${nodeNamedLikeGroup} is also a node, in row ${inBatch}; a group cannot share a node's name`);
          else fail('groups', `group ${nodeNamedLikeGroup} is a node's name; a group cannot share it`, true);
          continue;
        }
        if (seenNames.has(node.name)) {
          fail('name', `node ${node.name} is also defined in row ${seenNames.get(node.name)}`);
          continue;
        }
        seenNames.set(node.name, row);
        if (existing.has(node.name) && !opts.replace) {
          fail('name', `node ${node.name} already exists`);
          continue;
        }
        let ok = true;
        for (const nic of node.nics ?? []) {
          const holder = holders.macs.get(nic.mac) ?? seenMacs.get(nic.mac);
          if (holder && holder !== node.name) (ok = false), fail('macs', `${nic.mac} already belongs to node ${holder}`);
          seenMacs.set(nic.mac, node.name);
        }
        if (node.ip) {
          const holder = holders.ips.get(node.ip) ?? seenIps.get(node.ip);
          if (holder && holder !== node.name) (ok = false), fail('ip', `${node.ip} already belongs to node ${holder}`);
          seenIps.set(node.ip, node.name);
        }
        if (!ok) continue;
        accepted.push({
          ...DEFAULTS,
          ...node,
          nics: node.nics ?? [],
          bootAction: 'local',
          status: 'defined',
          statusReason: null,
          triggerToken: null,
          createdAt: now,
          updatedAt: now,
        } as NodeRecord);
      }
      if (errors.length && !opts.skipBad) {
        errors.sort((a, b) => a.row - b.row);
        const total = inputs.length + (opts.priorErrors?.length ?? 0);
        // Refused only for names groups or nodes already hold: a conflict with the store, as
        // `group add` of a node's name is. Anything else in the batch makes it bad input.
        const code = errors.every((e) => collisions.has(e)) ? 'RB_ERR_CONFLICT' : 'RB_ERR_INVALID';
        throw new RhevbootError(code, `${new Set(errors.map((e) => e.row)).size} of ${total} rows are invalid; nothing was added`, { errors });
      }
      await tx.nodes.putMany(accepted);
      for (const n of accepted) {
        await this.events.record({ kind: 'node.added', subjectType: 'node', subject: n.name, message: `node ${n.name} defined`, data: { macs: n.nics.map((x) => x.mac), ip: n.ip } }, tx);
      }
      return { added: accepted.map((n) => n.name), errors: errors.sort((a, b) => a.row - b.row) };
    });
  }

  async resolve(noderange: string, tx: Repositories = this.store): Promise<NodeRecord[]> {
    const all = await tx.nodes.list();
    const groups = new Map<string, string[]>();
    for (const n of all) for (const g of n.groups) groups.set(g, [...(groups.get(g) ?? []), n.name]);
    let names: string[];
    try {
      names = resolveNoderange(noderange, { nodes: all.map((n) => n.name), groups });
    } catch (err) {
      if (err instanceof NoderangeError) throw new RhevbootError('RB_ERR_NOT_FOUND', err.message, { noderange });
      throw err;
    }
    const byName = new Map(all.map((n) => [n.name, n]));
    return names.map((n) => byName.get(n)!);
  }

  async list(noderange?: string): Promise<NodeRecord[]> {
    if (noderange) return this.resolve(noderange);
    return (await this.store.nodes.list()).sort((a, b) => compareNodeNames(a.name, b.name));
  }

  /**
   * The node at a network address: its reserved IP, or the address its MAC holds a DHCP lease
   * for (a node without a reservation gets one from the pool). Undefined for anyone else.
   */
  async atAddress(address: string): Promise<NodeRecord | undefined> {
    const ip = address.replace(/^::ffff:/, '');
    const byIp = await this.store.nodes.byIp(ip);
    if (byIp) return byIp;
    const lease = await this.store.leases.get(ip);
    return lease?.state === 'bound' ? this.store.nodes.byMac(lease.mac) : undefined;
  }

  async get(name: string): Promise<NodeRecord> {
    const node = await this.store.nodes.get(name);
    if (!node) throw new RhevbootError('RB_ERR_NOT_FOUND', `no node named ${name}`, { name });
    return node;
  }

  /** Changes fields of every node in a range (one transaction). MACs and IP only for a single node. */
  async set(noderange: string, changes: Omit<NodeInput, 'name'>): Promise<NodeRecord[]> {
    return this.store.transaction(async (tx) => {
      const nodes = await this.resolve(noderange, tx);
      if (nodes.length > 1 && (changes.macs !== undefined || (changes.ip !== undefined && changes.ip !== null && changes.ip !== ''))) {
        throw new RhevbootError('RB_ERR_INVALID', 'MACs and IP addresses belong to one node: set them one node at a time', { noderange });
      }
      const now = new Date().toISOString();
      const updated: NodeRecord[] = [];
      const reserved = this.reserved();
      for (const group of changes.groups ?? []) {
        // A node and a group never share a name (see add).
        if (await tx.nodes.get(group)) throw new RhevbootError('RB_ERR_CONFLICT', `group ${group} is a node's name; a group cannot share it`, { field: 'groups', group });
      }
      for (const node of nodes) {
        let norm: ReturnType<typeof normaliseNodeInput>;
        try {
          norm = this.normalise({ ...changes, name: node.name }, reserved);
        } catch (err) {
          if (err instanceof NodeValidationError) throw new RhevbootError('RB_ERR_INVALID', err.message, { field: err.field, node: node.name });
          throw err;
        }
        const holders = await tx.nodes.holders({ macs: norm.nics?.map((n) => n.mac) ?? [], ips: norm.ip ? [norm.ip] : [] });
        for (const [mac, holder] of holders.macs) {
          if (holder !== node.name) throw new RhevbootError('RB_ERR_CONFLICT', `${mac} already belongs to node ${holder}`, { field: 'macs', holder });
        }
        for (const [ip, holder] of holders.ips) {
          if (holder !== node.name) throw new RhevbootError('RB_ERR_CONFLICT', `${ip} already belongs to node ${holder}`, { field: 'ip', holder });
        }
        const { name: _name, ...fields } = norm;
        updated.push({ ...node, ...fields, nics: norm.nics ?? node.nics, updatedAt: now });
      }
      await tx.nodes.putMany(updated);
      for (const n of updated) {
        await this.events.record({ kind: 'node.changed', subjectType: 'node', subject: n.name, message: `node ${n.name} changed: ${Object.keys(changes).join(', ')}`, data: { fields: Object.keys(changes) } }, tx);
      }
      return updated;
    });
  }

  async remove(noderange: string): Promise<string[]> {
    return this.store.transaction(async (tx) => {
      const names = (await this.resolve(noderange, tx)).map((n) => n.name);
      await tx.nodes.remove(names);
      for (const n of names) await this.events.record({ kind: 'node.removed', subjectType: 'node', subject: n, message: `node ${n} removed`, data: {} }, tx);
      return names;
    });
  }

  /**
   * nodeset: what each node boots next. `install` needs a distro that is imported; `next` moves
   * on from the current state (after an install: local boot). One transaction for the range.
   */
  async nodeset(noderange: string, action: NodesetAction): Promise<{ name: string; from: BootAction; to: BootAction }[]> {
    return this.store.transaction(async (tx) => {
      const nodes = await this.resolve(noderange, tx);
      if (action === 'install') {
        const problems: string[] = [];
        const distros = await tx.distros.list();
        for (const n of nodes) {
          if (!n.distro) problems.push(`${n.name} has no distro`);
          else if (!distros.some((d) => d.name === n.distro && d.arch === n.arch)) problems.push(`${n.name}: distro ${n.distro}/${n.arch} is not imported`);
          if (n.nics.length === 0) problems.push(`${n.name} has no MAC`);
        }
        if (problems.length) throw new RhevbootError('RB_ERR_INVALID', `cannot set install: ${problems.join('; ')}`, { problems });
      }
      const now = new Date().toISOString();
      const changes = nodes.map((n) => {
        const to = action === 'next' ? nextAction(n.bootAction, n.status) : action;
        // An install starts the lifecycle over, with a fresh trigger token: a token from an earlier
        // install cannot flip this one. Other actions change what the node boots, not its state.
        const node =
          to === 'install'
            ? moveNode(n, { to: 'install', cause: 'nodeset', bootAction: 'install', triggerToken: randomBytes(18).toString('base64url'), at: now })
            : { ...n, bootAction: to, statusReason: null, updatedAt: now };
        return { node, from: n.bootAction, to };
      });
      await tx.nodes.putMany(changes.map((c) => c.node));
      for (const c of changes) {
        await this.events.record({ kind: 'node.nodeset', subjectType: 'node', subject: c.node.name, message: `nodeset ${action}: ${c.from} -> ${c.to}`, data: { action, from: c.from, to: c.to } }, tx);
      }
      return changes.map((c) => ({ name: c.node.name, from: c.from, to: c.to }));
    });
  }
}
