import type { BootClient, BootPlan } from '../domain/boot.js';
import { intToIp } from '../util/ipv4.js';
import type { Logger } from '../log.js';
import type { Booter } from './booter.js';
import type { BootContacts } from './contacts.js';
import type { NodeService } from './nodes.js';
import type { ConfigRenderer } from './renderer.js';

/** Which boot path refused a config to a stranger (a metric label). */
export type ConfigProtocol = 'tftp' | 'http';

/**
 * The configs loaders fetch by name, rendered from the store at request time (nothing per node is
 * ever written to disk, so a nodeset is one transaction and no stale file can exist): the name
 * says which loader and which client, the booter says what that client gets, the renderer writes
 * it, and the contact goes on the node's timeline.
 *
 * A name is no secret (MACs are printed on the box, HEXIP names are the address), but an install
 * config carries the node's trigger token and password hashes. So it goes only to the node's own
 * address, its reservation or the address its NICs hold a bound lease for (relayed subnets
 * included); anyone else gets what an unknown client gets, changes nothing, and is logged and
 * counted. Local-boot configs carry no secret and stay open.
 */
export class ConfigRequests {
  constructor(
    private readonly deps: {
      booter: Booter;
      renderer: ConfigRenderer;
      contacts: BootContacts;
      nodes: Pick<NodeService, 'atAddress'>;
      log: Logger;
      /** Told of each install config refused to a stranger (the metrics). */
      onRefused?: (protocol: ConfigProtocol) => void;
    },
  ) {}

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
    if (!(await this.servedTo(plan, client.address, 'tftp', name))) return undefined;
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
      // The common case: a kept plan, no write to make, and no secret or the node's reserved address asking.
      if (kept && !this.deps.contacts.startsInstall(kept) && (!kept.config?.secret || kept.node?.ip === bareAddress(client.address))) {
        return Promise.resolve(this.script(kept, name, client.address));
      }
    } catch (err) {
      // Callers get a promise either way, as from an async function.
      return Promise.reject(err);
    }
    return this.ipxeSlow(name, client.address);
  }

  private async ipxeSlow(name: string, address: string): Promise<string | undefined> {
    const plan = await this.deps.booter.plan({ config: 'ipxe', mac: name });
    if (this.deps.renderer.render(plan) === undefined) return undefined;
    if (!(await this.servedTo(plan, address, 'http', `/boot/ipxe/${name}`))) return undefined;
    await this.deps.contacts.configFetched(plan, `HTTP /boot/ipxe/${name}`, address);
    return this.script(plan, name, address);
  }

  /** True when the plan's config may go to `address`: it carries no secret, or the address is the node's. */
  private async servedTo(plan: BootPlan, address: string, protocol: ConfigProtocol, file: string): Promise<boolean> {
    const node = plan.node!;
    if (!plan.config?.secret) return true;
    const ip = bareAddress(address);
    if (node.ip === ip || (await this.deps.nodes.atAddress(ip))?.name === node.name) return true;
    this.deps.log.warn({ node: node.name, file, client: ip, protocol }, 'install config refused: the request does not come from the node\'s address');
    this.deps.onRefused?.(protocol);
    return false;
  }

  private script(plan: BootPlan, name: string, address: string): string | undefined {
    const text = this.deps.renderer.render(plan);
    if (text !== undefined) this.deps.contacts.scriptFetched(plan, name, address);
    return text;
  }
}

/** An IPv4 client as Node's dual-stack sockets report it (`::ffff:10.0.0.5`), as the plain address. */
function bareAddress(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/** The loader and the client a TFTP config name stands for, or undefined for any other name. */
function tftpClient(name: string): BootClient | undefined {
  const macForm = /^(?:pxelinux\.cfg\/|(?:.*\/)?grub\.cfg-)01-([0-9a-f]{2}(?:-[0-9a-f]{2}){5})$/i.exec(name);
  const config = name.startsWith('pxelinux.cfg/') ? 'pxelinux' : 'grub';
  if (macForm) return { config, mac: macForm[1]!.toLowerCase() };
  const hex = /^pxelinux\.cfg\/([0-9A-F]{8})$/i.exec(name);
  return hex ? { config, ip: intToIp(parseInt(hex[1]!, 16)) } : undefined;
}
