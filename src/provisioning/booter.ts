import { bootFileFor, firmwareOf, type BootClient, type Booter, type BootPlan, type LoaderChoice } from '../domain/boot.js';
import type { Store } from '../store/store.js';

/**
 * The product's answer to the boot question: the node is found by MAC in the store (nothing is
 * cached, so a nodeset from the CLI next to a running server is seen at the next packet), and its
 * boot action decides. Loaders follow the firmware; unknown MACs get the discovery plan, which
 * the DHCP server offers or not according to the subnet's `unknownClients` policy.
 */
export class ProvisioningBooter implements Booter {
  constructor(private readonly store: Store, private readonly loaders: LoaderChoice) {}

  async bootFor(client: BootClient): Promise<BootPlan> {
    const fw = firmwareOf(client);
    const why = [fw.why];
    const bootFile = bootFileFor(fw.firmware, client, this.loaders);
    const vendorClass = fw.firmware === 'uefi-http' ? 'HTTPClient' : 'PXEClient';
    if (!bootFile) why.push('no boot file for this firmware');
    const node = await this.store.nodes.byMac(client.mac);
    if (!node) {
      why.push(`MAC ${client.mac} belongs to no node: discovery`);
      return { action: 'discover', firmware: fw.firmware, bootFile, vendorClass, why };
    }
    why.push(`MAC ${client.mac} is node ${node.name}, set to ${node.bootAction}${node.ip ? `, address ${node.ip}` : ''}`);
    let file = bootFile;
    if (node.bootAction === 'local' && bootFile === 'syslinux.efi') {
      // LOCALBOOT loops under syslinux.efi (it cannot hand back to the firmware); offering no boot
      // file makes UEFI PXE fail over to the next boot entry, the local disk.
      file = undefined;
      why.push('local boot under syslinux.efi: no boot file, so the firmware moves to its next boot entry');
    }
    return {
      node: { name: node.name, hostname: node.name, ...(node.ip ? { ip: node.ip } : {}) },
      action: node.bootAction,
      firmware: fw.firmware,
      bootFile: file,
      vendorClass,
      why,
    };
  }
}
