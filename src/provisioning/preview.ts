import { macDashed, type BootClient, type BootPreview, type PreviewFirmware } from '../domain/boot.js';
import { RhevbootError } from '../errors.js';
import type { Booter } from './booter.js';
import type { NodeService } from './nodes.js';
import type { ConfigRenderer } from './renderer.js';

export type { BootPreview, PreviewFirmware };

/** What a firmware puts in its DHCP request, so the preview asks the same question it would. */
const CLIENTS: Record<PreviewFirmware, Omit<BootClient, 'mac'>> = {
  bios: { arch: 0, vendorClass: 'PXEClient:Arch:00000:UNDI:002001' },
  uefi: { arch: 7, vendorClass: 'PXEClient:Arch:00007:UNDI:003016' },
  ipxe: { arch: 0, vendorClass: 'PXEClient:Arch:00000:UNDI:002001', userClass: 'iPXE', ipxe: true },
  'uefi-http': { arch: 16, vendorClass: 'HTTPClient:Arch:00016:UNDI:003001' },
};

/**
 * `rhevboot preview` and GET /api/v1/nodes/:name/boot: exactly what DHCP, TFTP and HTTP would
 * give a node now, and why, from the plans the servers render. Nothing is recorded (a preview is
 * not a contact: the node does not start "installing" because an admin looked).
 */
export class PreviewService {
  constructor(private readonly deps: { nodes: NodeService; booter: Booter; renderer: ConfigRenderer; httpBase: () => string }) {}

  async preview(name: string, firmware: PreviewFirmware): Promise<BootPreview> {
    if (!(firmware in CLIENTS)) throw new RhevbootError('RB_ERR_INVALID', `firmware must be one of ${Object.keys(CLIENTS).join(', ')}`, { firmware });
    const node = await this.deps.nodes.get(name);
    const mac = node.nics.find((n) => n.install)?.mac ?? node.nics[0]?.mac;
    if (!mac) throw new RhevbootError('RB_ERR_INVALID', `node ${name} has no MAC: it cannot PXE boot`, { node: name });
    const { booter, renderer } = this.deps;
    const tftp: BootPreview['tftp'] = [];
    for (const [config, file] of [
      ['pxelinux', `pxelinux.cfg/01-${macDashed(mac)}`],
      ['grub', `grub.cfg-01-${macDashed(mac)}`],
    ] as const) {
      const plan = await booter.plan({ config, mac });
      tftp.push({ file, content: renderer.render(plan) ?? null, why: plan.why });
    }
    const ipxe = await booter.plan({ config: 'ipxe', mac });
    return {
      node: node.name,
      firmware,
      mac,
      dhcp: { address: node.ip ?? 'from the pool', plan: await booter.plan({ mac, ...CLIENTS[firmware] }) },
      tftp,
      http: { url: `${this.deps.httpBase()}/boot/ipxe/${macDashed(mac)}`, content: renderer.render(ipxe) ?? null, why: ipxe.why },
    };
  }
}
