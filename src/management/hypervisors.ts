import type { HypervisorView } from '../domain/hypervisor.js';
import type { NodeRecord } from '../domain/node.js';

export type { HypervisorView };
import { RhevbootError } from '../errors.js';
import type { Host, RhevmClient } from '../rhevm/index.js';
import type { Store } from '../store/store.js';
import type { EngineService } from './engines.js';
import type { EventService } from '../events/events.js';

/** Whether an engine host is this node: same short name (hosts register under their FQDN) or address. */
function isNode(host: Host, node: NodeRecord): boolean {
  const short = (host.name ?? '').toLowerCase().split('.')[0];
  return short === node.name || (node.ip !== null && host.address === node.ip);
}

/**
 * For admins who want to step in (`rhevboot hypervisor ls|approve|rm`): the hosts each engine
 * has, matched to nodes, and the two moves the hand-off makes on its own.
 */
export class HypervisorService {
  constructor(private readonly deps: { store: Store; engines: EngineService; events: EventService }) {}

  async list(engine?: string): Promise<HypervisorView[]> {
    const engines = engine ? [await this.deps.engines.get(engine)] : await this.deps.engines.list();
    const nodes = await this.deps.store.nodes.list();
    const out: HypervisorView[] = [];
    for (const e of engines) {
      await this.with(e.name, async (client) => {
        for (const h of await client.hosts.list()) out.push(this.view(e.name, h, nodes.find((n) => n.manager === e.name && isNode(h, n))));
      });
    }
    return out;
  }

  /** Approves a node's host into the node's cluster now. */
  async approve(nodeName: string): Promise<HypervisorView> {
    const node = await this.node(nodeName);
    return this.with(node.manager!, async (client) => {
      const host = await this.hostOf(client, node);
      const cluster = node.cluster ?? 'Default';
      await client.hosts.approve(host.id, { cluster: { name: cluster } });
      await this.deps.events.record({ kind: 'rhevm.host-approved', subjectType: 'node', subject: node.name, message: `host ${host.name} approved into cluster ${cluster} by an admin`, data: { host: host.id, cluster } });
      return this.view(node.manager!, await client.hosts.get(host.id), node);
    });
  }

  /** Takes a node's host out of its engine: to maintenance first (the engine insists), then removed. */
  async remove(nodeName: string, opts: { timeoutMs?: number } = {}): Promise<void> {
    const node = await this.node(nodeName);
    await this.with(node.manager!, async (client) => {
      const host = await this.hostOf(client, node);
      if (!['maintenance', 'pending_approval', 'install_failed', 'down'].includes(host.status ?? '')) {
        await client.hosts.deactivate(host.id, { reason: 'removed by rhevboot' });
        await client.hosts.waitForStatus(host.id, ['maintenance'], { timeoutMs: opts.timeoutMs ?? 600_000 });
      }
      await client.hosts.remove(host.id);
      await this.deps.events.record({ kind: 'rhevm.host-removed', subjectType: 'node', subject: node.name, message: `host ${host.name} removed from engine ${node.manager}`, data: { host: host.id } });
    });
  }

  private async node(name: string): Promise<NodeRecord> {
    const node = await this.deps.store.nodes.get(name);
    if (!node) throw new RhevbootError('RB_ERR_NOT_FOUND', `no node named ${name}`, { name });
    if (!node.manager) throw new RhevbootError('RB_ERR_INVALID', `node ${name} names no engine (set --manager)`, { name });
    return node;
  }

  private async hostOf(client: RhevmClient, node: NodeRecord): Promise<Host> {
    const host = (await client.hosts.findByHostName(node.name, { prefix: true })) ?? (node.ip ? await client.hosts.findByAddress(node.ip) : undefined);
    if (!host) throw new RhevbootError('RB_ERR_NOT_FOUND', `engine ${node.manager} has no host for node ${node.name}`, { node: node.name });
    return host;
  }

  private view(engine: string, h: Host, node: NodeRecord | undefined): HypervisorView {
    return { engine, id: h.id, name: h.name ?? h.id, address: h.address ?? null, status: h.status ?? null, statusDetail: h.statusDetail ?? null, type: h.type ?? null, node: node?.name ?? null };
  }

  private async with<T>(engine: string, fn: (client: RhevmClient) => Promise<T>): Promise<T> {
    const client = await this.deps.engines.client(engine);
    try {
      return await fn(client);
    } finally {
      await client.close();
    }
  }
}
