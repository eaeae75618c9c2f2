/**
 * A small test Booter: known MACs -> node name/ip, boot file by firmware (`bootFileFor`). The
 * product's booter over the node store comes from another issue; this one has the same shape.
 */
import { bootFileFor, firmwareOf, type BootClient, type Booter, type BootPlan, type LoaderChoice } from '../../src/domain/boot.js';

export interface TestNode {
  mac: string;
  name: string;
  ip?: string;
  /** Default 'install'. */
  action?: BootPlan['action'];
}

export function testBooter(nodes: TestNode[], loaders: LoaderChoice, seen?: BootClient[]): Booter {
  const byMac = new Map(nodes.map((n) => [n.mac.toLowerCase(), n]));
  return {
    async bootFor(client: BootClient): Promise<BootPlan> {
      seen?.push(client);
      const node = byMac.get(client.mac);
      const { firmware, why } = firmwareOf(client);
      const plan: BootPlan = { action: node ? (node.action ?? 'install') : 'discover', firmware, why: [why, node ? `known node ${node.name}` : 'unknown MAC: discovery'] };
      if (node) plan.node = node.ip ? { name: node.name, hostname: node.name, ip: node.ip } : { name: node.name, hostname: node.name };
      const file = bootFileFor(firmware, client, loaders);
      if (file) plan.bootFile = file;
      if (firmware === 'uefi-http') plan.vendorClass = 'HTTPClient';
      else if (firmware !== 'unsupported') plan.vendorClass = 'PXEClient';
      return plan;
    },
  };
}

export const TEST_LOADERS: LoaderChoice = { biosLoader: 'undionly.kpxe', uefiLoader: 'ipxe.efi', httpBase: 'http://10.231.1.1:8080' };
