import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Liquid, type Template } from 'liquidjs';
import { macDashed } from '../domain/boot.js';
import type { DistroDescriptor } from '../domain/distro.js';
import { installKernelArgs, triggerUrl } from '../domain/kernel-args.js';
import { normaliseMac, type NodeRecord } from '../domain/node.js';
import { intToIp } from '../util/ipv4.js';
import { RhevbootError } from '../errors.js';
import type { Logger } from '../log.js';
import type { DistroRecord, NewEvent, Store } from '../store/store.js';
import type { EventService } from '../events/events.js';

export const BUILTIN_TEMPLATE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../templates');

export type ConfigKind = 'pxelinux' | 'ipxe' | 'grub';

const FILES: Record<ConfigKind, Record<'install' | 'local', string>> = {
  pxelinux: { install: 'pxelinux-install.cfg', local: 'pxelinux-local.cfg' },
  ipxe: { install: 'ipxe-install.ipxe', local: 'ipxe-local.ipxe' },
  grub: { install: 'grub-install.cfg', local: 'grub-local.cfg' },
};

/** Secret names whose values (SHA-512 crypt hashes) go on the installer's command line. */
export const SECRET_ADMIN_PASSWORD = 'rhevh.admin-password';
export const SECRET_RHEVM_ADMIN_PASSWORD = 'rhevh.rhevm-admin-password';

/** Where TFTP serves distro trees (the TFTP server mounts installDir here). */
export const TFTP_DISTRO_PREFIX = 'distros/';

export interface RenderedConfig {
  kind: ConfigKind;
  action: 'install' | 'local';
  text: string;
  why: string[];
}

const SAMPLE = {
  node: { name: 'sample', ip: '10.0.0.1', groups: [], attrs: {} },
  distro: 'rhevh6.5/x86_64',
  kernel: 'k',
  initrd: 'i',
  kernelUrl: 'http://x/k',
  initrdUrl: 'http://x/i',
  cmdline: 'a=b',
  mac: '52-54-00-00-00-01',
  why: 'sample',
};

/**
 * Boot configs rendered from the store at request time, so a nodeset is one transaction and no
 * stale file can exist. Templates are parsed once at start, and rendered once against a sample,
 * so a template that does not parse or names a variable that does not exist stops the start with
 * its file and line instead of failing a node at boot time.
 */
type Rendered = RenderedConfig | { kind: ConfigKind; text: undefined; why: string[] };
interface Found {
  node: NodeRecord;
  rendered: Rendered;
  /** The timeline event of the last fetch, reused while the same client refetches (no allocation). */
  fetched?: { mac: string; address: string; event: NewEvent };
}

/** A fetch by this node is its first sign of installing: a write, so never the synchronous path. */
function startsInstall(node: NodeRecord | undefined): boolean {
  return node !== undefined && node.bootAction === 'install' && node.status === 'install';
}

/** Enough for every node of a large estate under every name it asks for; past it, start over. */
const MAX_CACHED_ANSWERS = 50_000;

export class BootConfigs {
  private readonly cache = new Map<string, { found: Found | undefined }>();
  private cacheGeneration = -1;
  private readonly templates = new Map<string, Template[]>();
  private readonly engine = new Liquid({ strictVariables: true, strictFilters: true, ownPropertyOnly: true });

  constructor(
    private readonly deps: { store: Store; events: EventService; log: Logger; descriptors: DistroDescriptor[]; /** Resolved when first needed: the CLI must work on a machine whose address is ambiguous. */ httpBase: string | (() => string); templateDir?: string },
  ) {
    for (const kind of Object.values(FILES)) for (const file of Object.values(kind)) this.load(file);
  }

  private httpBase(): string {
    return typeof this.deps.httpBase === 'function' ? this.deps.httpBase() : this.deps.httpBase;
  }

  private load(file: string): void {
    const dir = this.deps.templateDir || BUILTIN_TEMPLATE_DIR;
    const full = path.join(dir, file);
    let text: string;
    try {
      text = readFileSync(full, 'utf8');
    } catch (err) {
      throw new RhevbootError('RB_ERR_CONFIG', `cannot read template ${full}: ${(err as Error).message}`, { file: full });
    }
    try {
      const parsed = this.engine.parse(text, full);
      this.engine.renderSync(parsed, SAMPLE);
      this.templates.set(file, parsed);
    } catch (err) {
      const e = err as Error & { token?: { getPosition?: () => [number, number] } };
      const line = e.token?.getPosition?.()[0];
      throw new RhevbootError('RB_ERR_CONFIG', `${full}:${line ?? '?'}: bad template: ${e.message.split('\n')[0]}`, { file: full, line });
    }
  }

  /** Renders what a node gets now for a loader kind, or undefined (with why) when it gets nothing. */
  async render(kind: ConfigKind, node: NodeRecord): Promise<Rendered> {
    const why: string[] = [`node ${node.name} is set to ${node.bootAction}`];
    const mac = node.nics.find((n) => n.install)?.mac ?? node.nics[0]?.mac ?? '';
    const base = { node: { name: node.name, ip: node.ip, groups: node.groups, attrs: node.attrs }, mac: macDashed(mac) };
    if (node.bootAction !== 'install') {
      const text = await this.engine.render(this.templates.get(FILES[kind].local)!, { ...base, distro: '', kernel: '', initrd: '', kernelUrl: '', initrdUrl: '', cmdline: '', why: why.join('; ') });
      return { kind, action: 'local', text, why };
    }
    const distro = node.distro ? await this.deps.store.distros.get(node.distro, node.arch) : undefined;
    if (!distro) {
      why.push(`but its distro ${node.distro ?? '(none)'}/${node.arch} is not imported: no config`);
      return { kind, text: undefined, why };
    }
    const descriptor = this.deps.descriptors.find((d) => d.family === distro.family);
    if (!descriptor) {
      why.push(`but no descriptor describes the ${distro.family} family: no config`);
      return { kind, text: undefined, why };
    }
    const cmdline = installKernelArgs({
      baseArgs: descriptor.kernelArgs,
      node,
      managementServer: await this.managementServer(node.manager),
      adminPasswordHash: await this.deps.store.secrets.get(SECRET_ADMIN_PASSWORD),
      rhevmAdminPasswordHash: await this.deps.store.secrets.get(SECRET_RHEVM_ADMIN_PASSWORD),
      triggerUrl: triggerUrl(this.httpBase(), node.triggerToken ?? ''),
      bootifFromLoader: kind === 'pxelinux',
    }).join(' ');
    why.push(`installs ${distro.name}/${distro.arch} (${distro.family} ${distro.version}) from ${kind === 'ipxe' ? 'HTTP' : 'TFTP'}`);
    const text = await this.engine.render(this.templates.get(FILES[kind].install)!, {
      ...base,
      distro: `${distro.name}/${distro.arch}`,
      ...this.paths(distro),
      cmdline,
      why: why.join('; '),
    });
    return { kind, action: 'install', text, why };
  }

  /**
   * `management_server=host:port` (§8.1): from the URL of the engine the node names, or, for a
   * manager that is not a registered engine, the name itself (port 443 unless given).
   */
  private async managementServer(manager: string | null): Promise<string | undefined> {
    if (!manager) return undefined;
    const engine = await this.deps.store.engines.get(manager);
    if (!engine) return manager.includes(':') ? manager : `${manager}:443`;
    const url = new URL(engine.url);
    return `${url.hostname}:${url.port || (url.protocol === 'http:' ? 80 : 443)}`;
  }

  private paths(d: DistroRecord): { kernel: string; initrd: string; kernelUrl: string; initrdUrl: string } {
    const tree = `${d.name}/${d.arch}`;
    return {
      kernel: `${TFTP_DISTRO_PREFIX}${tree}/${d.kernel}`,
      initrd: `${TFTP_DISTRO_PREFIX}${tree}/${d.pxeInitrd}`,
      kernelUrl: `${this.httpBase()}/install/${tree}/${d.kernel}`,
      initrdUrl: `${this.httpBase()}/install/${tree}/${d.pxeInitrd}`,
    };
  }

  /**
   * TFTP names with no file behind them: `pxelinux.cfg/01-<mac>`, `pxelinux.cfg/<HEXIP>` (the whole
   * address; its shorter prefixes name subnets, and no node lives there), `grub.cfg-01-<mac>` in any
   * directory. Anything else, and unknown nodes, are undefined: "file not found", at once, so
   * pxelinux falls through to `default` as it should.
   */
  async forTftp(filename: string, client: { address: string }): Promise<Buffer | undefined> {
    const name = filename.replace(/^\/+/, '');
    const macForm = /^(?:pxelinux\.cfg\/|(?:.*\/)?grub\.cfg-)01-([0-9a-f]{2}(?:-[0-9a-f]{2}){5})$/i.exec(name);
    const hex = macForm ? undefined : /^pxelinux\.cfg\/([0-9A-F]{8})$/i.exec(name);
    if (!macForm && !hex) return undefined;
    const kind: ConfigKind = name.startsWith('pxelinux.cfg/') ? 'pxelinux' : 'grub';
    const mac = macForm ? normaliseMac(macForm[1]!) : undefined;
    if (macForm && !mac) return undefined;
    const found = await this.cached(`${kind} ${mac ?? hex![1]!.toUpperCase()}`, async () => {
      const node = mac ? await this.deps.store.nodes.byMac(mac) : await this.deps.store.nodes.byIp(intToIp(parseInt(hex![1]!, 16)));
      return node ? { node, rendered: await this.render(kind, node) } : undefined;
    });
    if (!found) return undefined;
    const { node, rendered } = found;
    if (rendered.text === undefined) {
      this.deps.log.warn({ node: node.name, file: name, client: client.address, why: rendered.why }, 'no boot config for node');
      return undefined;
    }
    await this.noteContact(node, `TFTP ${name}`, client.address);
    return Buffer.from(rendered.text);
  }

  /**
   * The iPXE script for `/boot/ipxe/<mac>`. Kept answers are keyed by the name as asked, so a boot
   * storm's repeat fetches skip parsing the MAC; only a miss (or a first install contact, which
   * writes) takes the slow path.
   */
  forIpxe(mac: string, client: { address: string }): Promise<string | undefined> {
    try {
      const kept = this.keptNow(`ipxe ${mac}`);
      if (kept && !startsInstall(kept.found?.node)) return Promise.resolve(this.servedIpxe(kept.found, mac, client.address));
    } catch (err) {
      // Callers get a promise either way, as from an async function.
      return Promise.reject(err);
    }
    return this.forIpxeSlow(mac, client.address);
  }

  private async forIpxeSlow(mac: string, address: string): Promise<string | undefined> {
    // Not a MAC: nothing to look up, and nothing kept (names are the client's to invent).
    const canon = normaliseMac(mac);
    if (!canon) return undefined;
    const found = await this.cached(`ipxe ${mac}`, async () => {
      const node = await this.deps.store.nodes.byMac(canon);
      return node ? { node, rendered: await this.render('ipxe', node) } : undefined;
    });
    if (found && found.rendered.text !== undefined) await this.noteContact(found.node, `HTTP /boot/ipxe/${mac}`, address);
    return this.servedIpxe(found, mac, address);
  }

  /** Every fetch of a script is a step of the node's timeline (noted; a refetch loop folds into a count). */
  private servedIpxe(found: Found | undefined, mac: string, address: string): string | undefined {
    if (!found || found.rendered.text === undefined) return undefined;
    let fetched = found.fetched;
    if (!fetched || fetched.address !== address || fetched.mac !== mac) {
      const file = `/boot/ipxe/${mac}`;
      const { action } = found.rendered;
      const event: NewEvent = { kind: 'node.http', subjectType: 'node', subject: found.node.name, message: `HTTP ${file}: ${action} script to ${address}`, data: { file, client: address, action } };
      found.fetched = fetched = { mac, address, event };
    }
    this.deps.events.note(fetched.event, { foldRepeats: true });
    return found.rendered.text;
  }

  /**
   * Rendering costs far more than serving (store lookups, secrets, the template): in a boot storm
   * every node fetches its config several times. So answers are kept under the store's boot
   * generation, which any change to nodes, NICs, distros or secrets bumps, from this process or
   * the CLI's: one cheap read decides whether the kept answer is still the truth (per request here;
   * on the synchronous path of `keptNow`, once per turn of the event loop, see the store).
   * Unknown names are kept too (pxelinux asks for a dozen names that do not exist per boot).
   */
  private async cached(key: string, compute: () => Promise<Found | undefined>): Promise<Found | undefined> {
    const generation = await this.deps.store.bootGeneration();
    this.useGeneration(generation);
    const hit = this.cache.get(key);
    if (hit) return hit.found;
    const found = await compute();
    // Computed from a store that may have moved on meanwhile: keep it only if nothing changed.
    if ((await this.deps.store.bootGeneration()) === generation) {
      if (this.cache.size >= MAX_CACHED_ANSWERS) this.cache.clear();
      this.cache.set(key, { found });
    }
    return found;
  }

  /**
   * The kept answer, checked against the generation read synchronously; undefined when that read
   * has to wait (the store is busy) or nothing is kept: then `cached` decides, the long way.
   */
  private keptNow(key: string): { found: Found | undefined } | undefined {
    const generation = this.deps.store.bootGenerationNow();
    if (generation === undefined) return undefined;
    this.useGeneration(generation);
    return this.cache.get(key);
  }

  private useGeneration(generation: number): void {
    if (generation === this.cacheGeneration) return;
    this.cache.clear();
    this.cacheGeneration = generation;
  }

  /** A node that fetches its install config has started installing: that is the first sign. */
  private async noteContact(node: NodeRecord, what: string, address: string): Promise<void> {
    if (!startsInstall(node)) return;
    await this.deps.store.transaction(async (tx) => {
      const fresh = await tx.nodes.get(node.name);
      if (!fresh || fresh.status !== 'install') return;
      await tx.nodes.putMany([{ ...fresh, status: 'installing', updatedAt: new Date().toISOString() }]);
      await this.deps.events.record(
        { kind: 'node.installing', subjectType: 'node', subject: node.name, message: `${what} fetched by ${address}: installing`, data: { file: what, client: address } },
        tx,
      );
    });
  }
}
