/**
 * The DHCP tests' booter: the product's own plan (domain/boot-plan.ts) over nodes held in memory
 * instead of the store, so the DHCP server is tested against the plans it really renders.
 */
import type { BootClient, BootPlan, LoaderChoice } from '../../src/domain/boot.js';
import { planBoot } from '../../src/domain/boot-plan.js';
import type { NodeRecord } from '../../src/domain/node.js';
import type { BootPlanner } from '../../src/dhcp/server.js';

export interface TestNode {
  mac: string;
  name: string;
  ip?: string;
  /** Default 'install'. `ignore` is a plan no node record makes: it tests how DHCP renders one. */
  action?: BootPlan['action'];
}

function nodeRecord(t: TestNode): NodeRecord {
  const at = '2026-01-01T00:00:00.000Z';
  const bootAction = t.action === undefined || t.action === 'ignore' ? 'install' : t.action;
  return { name: t.name, nics: [{ mac: t.mac.toLowerCase(), install: true }], ip: t.ip ?? null, groups: [], distro: null, arch: 'x86_64', hypervisor: 'rhevh', manager: null, cluster: null, storageInit: '', kernelArgs: '', attrs: {}, bootAction, status: 'install', statusReason: null, triggerToken: null, createdAt: at, updatedAt: at };
}

export function testBooter(nodes: TestNode[], loaders: LoaderChoice, seen?: BootClient[]): BootPlanner {
  const byMac = new Map(nodes.map((n) => [n.mac.toLowerCase(), n]));
  return {
    async plan(client: BootClient): Promise<BootPlan> {
      seen?.push(client);
      const t = client.mac === undefined ? undefined : byMac.get(client.mac);
      const plan = planBoot(client, { node: t && nodeRecord(t) }, loaders);
      return t?.action === 'ignore' ? { ...plan, action: 'ignore' } : plan;
    },
  };
}

export const TEST_LOADERS: LoaderChoice = { biosLoader: 'undionly.kpxe', uefiLoader: 'ipxe.efi', httpBase: 'http://10.231.1.1:8080' };
