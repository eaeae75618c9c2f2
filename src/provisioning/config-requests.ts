import type { BootClient, BootPlan } from '../domain/boot.js';
import { intToIp } from '../util/ipv4.js';
import type { Logger } from '../log.js';
import type { Booter } from './booter.js';
import type { BootContacts } from './contacts.js';
import type { ConfigRenderer } from './renderer.js';

/**
 * The configs loaders fetch by name, rendered from the store at request time (nothing per node is
 * ever written to disk, so a nodeset is one transaction and no stale file can exist): the name
 * says which loader and which client, the booter says what that client gets, the renderer writes
 * it, and the contact goes on the node's timeline.
 */
export class ConfigRequests {
  constructor(private readonly deps: { booter: Booter; renderer: ConfigRenderer; contacts: BootContacts; log: Logger }) {}

  /**
   * TFTP names with no file behind them: `pxelinux.cfg/01-<mac>`, `pxelinux.cfg/<HEXIP>` (the whole
   * address; its shorter prefixes name subnets, and no node lives there), `grub.cfg-01-<mac>` in any
   * directory. Anything else, and unknown nodes, are undefined: "file not found", at once, so
   * pxelinux falls through to `default` as it should.
   */
  async tftp(filename: string, client: { address: string }): Promise<Buffer | undefined> {
    const name = filename.replace(/^\/+/, '');
    const asked = tftpClient(name);
    if (!asked) return undefined;
    const plan = await this.deps.booter.plan(asked);
    const text = this.deps.renderer.render(plan);
    if (text === undefined) {
      if (plan.node) this.deps.log.warn({ node: plan.node.name, file: name, client: client.address, why: plan.why }, 'no boot config for node');
      return undefined;
    }
    await this.deps.contacts.configFetched(plan, `TFTP ${name}`, client.address);
    return Buffer.from(text);
  }

  /**
   * The iPXE script for `/boot/ipxe/<name>`. In a boot storm every node fetches its script, often
   * several times: a kept plan is answered without a promise hop or a store call; only a miss, or a
   * first install contact (which writes), takes the long way.
   */
  ipxe(name: string, client: { address: string }): Promise<string | undefined> {
    try {
      const kept = this.deps.booter.planNow({ config: 'ipxe', mac: name });
      if (kept && !this.deps.contacts.startsInstall(kept)) return Promise.resolve(this.script(kept, name, client.address));
    } catch (err) {
      // Callers get a promise either way, as from an async function.
      return Promise.reject(err);
    }
    return this.ipxeSlow(name, client.address);
  }

  private async ipxeSlow(name: string, address: string): Promise<string | undefined> {
    const plan = await this.deps.booter.plan({ config: 'ipxe', mac: name });
    if (this.deps.renderer.render(plan) !== undefined) await this.deps.contacts.configFetched(plan, `HTTP /boot/ipxe/${name}`, address);
    return this.script(plan, name, address);
  }

  private script(plan: BootPlan, name: string, address: string): string | undefined {
    const text = this.deps.renderer.render(plan);
    if (text !== undefined) this.deps.contacts.scriptFetched(plan, name, address);
    return text;
  }
}

/** The loader and the client a TFTP config name stands for, or undefined for any other name. */
function tftpClient(name: string): BootClient | undefined {
  const macForm = /^(?:pxelinux\.cfg\/|(?:.*\/)?grub\.cfg-)01-([0-9a-f]{2}(?:-[0-9a-f]{2}){5})$/i.exec(name);
  const config = name.startsWith('pxelinux.cfg/') ? 'pxelinux' : 'grub';
  if (macForm) return { config, mac: macForm[1]!.toLowerCase() };
  const hex = /^pxelinux\.cfg\/([0-9A-F]{8})$/i.exec(name);
  return hex ? { config, ip: intToIp(parseInt(hex[1]!, 16)) } : undefined;
}
