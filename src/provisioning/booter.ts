import type { BootClient, BootPlan, LoaderChoice } from '../domain/boot.js';
import { planBoot, type PlanFacts } from '../domain/boot-plan.js';
import type { DistroDescriptor } from '../domain/distro.js';
import { normaliseMac } from '../domain/node.js';
import type { Store } from '../store/store.js';
import { GenerationCache } from './generation-cache.js';
import { SECRET_ADMIN_PASSWORD, SECRET_RHEVM_ADMIN_PASSWORD } from './secrets.js';

/**
 * The product's answer to the boot question: one node read (by MAC, or by the address a loader
 * named itself by), and for a node set to install its tree, family and secrets; then the pure
 * plan (domain/boot-plan.ts). Nothing is trusted past the store's boot generation, so a nodeset
 * from the CLI next to a running server is seen at the next packet. Unknown MACs get the discovery
 * plan, which the DHCP server offers or not according to the subnet's `unknownClients` policy.
 */
export class Booter {
  private readonly kept: GenerationCache<BootPlan>;

  constructor(private readonly deps: { store: Store; descriptors: DistroDescriptor[]; loaders: LoaderChoice }) {
    this.kept = new GenerationCache(deps.store);
  }

  /** The plan for a client, made once per generation for each way a client can ask. */
  plan(client: BootClient): Promise<BootPlan> {
    // A loader's name that is not a MAC: nothing to look up, and nothing kept (names are the client's to invent).
    if (client.config && client.mac !== undefined && !normaliseMac(client.mac)) return Promise.resolve(planBoot(client, {}, this.deps.loaders));
    return this.kept.get(keyOf(client), async () => planBoot(client, await this.facts(client), this.deps.loaders));
  }

  /** The kept plan, synchronously, or undefined: then `plan` (the iPXE fast path asks this first). */
  planNow(client: BootClient): BootPlan | undefined {
    return this.kept.now(keyOf(client));
  }

  private async facts(client: BootClient): Promise<PlanFacts> {
    const { store } = this.deps;
    let node;
    if (client.mac !== undefined) {
      const mac = normaliseMac(client.mac);
      if (mac) node = await store.nodes.byMac(mac);
    } else if (client.ip !== undefined) {
      node = await store.nodes.byIp(client.ip);
    }
    if (!node || node.bootAction !== 'install') return { node };
    const tree = node.distro ? await store.distros.get(node.distro, node.arch) : undefined;
    return {
      node,
      tree,
      descriptor: tree && this.deps.descriptors.find((d) => d.family === tree.family),
      managementServer: await this.managementServer(node.manager),
      adminPasswordHash: await store.secrets.get(SECRET_ADMIN_PASSWORD),
      rhevmAdminPasswordHash: await store.secrets.get(SECRET_RHEVM_ADMIN_PASSWORD),
    };
  }

  /**
   * `management_server=host:port` (xcat-rhev.md §8.1): from the URL of the engine the node names,
   * or, for a manager that is not a registered engine, the name itself (port 443 unless given).
   */
  private async managementServer(manager: string | null): Promise<string | undefined> {
    if (!manager) return undefined;
    const engine = await this.deps.store.engines.get(manager);
    if (!engine) return manager.includes(':') ? manager : `${manager}:443`;
    const url = new URL(engine.url);
    return `${url.hostname}:${url.port || (url.protocol === 'http:' ? 80 : 443)}`;
  }
}

/**
 * Everything of a client a plan depends on. A loader is known by what it asks and the name it asks
 * by; a firmware by its MAC and the DHCP options that pick its loader (and word its `why`).
 */
function keyOf(c: BootClient): string {
  if (c.config) return c.mac === undefined ? `${c.config}@${c.ip}` : `${c.config} ${c.mac}`;
  return `dhcp ${c.mac} ${c.arch} ${c.ipxe ? 1 : 0} ${c.userClass} ${c.vendorClass}`;
}
