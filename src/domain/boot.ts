/**
 * The one boot question (DESIGN.md): every protocol server describes the client it is talking to,
 * asks for its plan, and renders the answer in its own format: DHCP as a lease and a boot file,
 * TFTP as a pxelinux or GRUB config, HTTP as an iPXE script. This module is the question's
 * vocabulary and the pure part of the firmware's answer (which loader it gets); the whole plan is
 * made in boot-plan.ts. No imports: the web console reads these types too.
 */

/** The configs a running loader fetches: pxelinux (and syslinux.efi), GRUB, iPXE. */
export type ConfigKind = 'pxelinux' | 'ipxe' | 'grub';

export const CONFIG_KINDS: readonly ConfigKind[] = ['pxelinux', 'ipxe', 'grub'];

/** What a server knows about a booting client. */
export interface BootClient {
  /**
   * The client's MAC: canonical lower-case colon form from DHCP; from a loader, as it spelled it
   * (the `<mac>` of `/boot/ipxe/<mac>`, the `01-<mac>` of a TFTP config name), normalised when the
   * node is looked up. Absent when a loader names itself by address (`pxelinux.cfg/<HEXIP>`).
   */
  mac?: string;
  /** Set when a running loader fetches its config; absent for the firmware's DHCP request. */
  config?: ConfigKind;
  /** DHCP option 93 (client system architecture), first value. */
  arch?: number;
  /** DHCP option 60, e.g. `PXEClient:Arch:00007:UNDI:003016` or `HTTPClient:Arch:00016:UNDI:003001`. */
  vendorClass?: string;
  /** DHCP option 77 (user class), e.g. `iPXE`. */
  userClass?: string;
  /** True when the client is iPXE (user class `iPXE`, or it sent option 175). */
  ipxe?: boolean;
  /** DHCP option 97 (client machine identifier) as lower-case hex. */
  uuid?: string;
  /** Relay agent address (giaddr) when the request was relayed. */
  giaddr?: string;
  /** The client's address, when it has one (a DHCP renewal), or the address a loader named itself by. */
  ip?: string;
}

export type Firmware = 'bios' | 'uefi' | 'uefi-http' | 'ipxe' | 'unsupported';

/** What a plan does: the node's boot action, or `ignore` (no answer at all). */
export type PlanAction = 'install' | 'local' | 'discover' | 'ignore';

/** The node a plan is for, as the servers and templates see it. */
export interface PlannedNode {
  name: string;
  hostname: string;
  ip?: string;
  /** Lifecycle state when the plan was made (contacts decide from it whether an install started). */
  status: string;
  /** The install NIC, dashed (`52-54-00-12-34-56`): what pxelinux, URLs and BOOTIF use. */
  mac: string;
  groups: string[];
  attrs: Record<string, string>;
}

/** A file the loader fetches: its TFTP path and its HTTP URL. */
export interface PlannedFile {
  path: string;
  url: string;
}

/**
 * The whole answer for one client, made once (domain/boot-plan.ts) from one node read; DHCP, TFTP,
 * HTTP, the preview and the console only render it.
 */
export interface BootPlan {
  /** The node the client is, if known. */
  node?: PlannedNode;
  action: PlanAction;
  /** The firmware that asked (DHCP); absent when a loader fetches its config. */
  firmware?: Firmware;
  /** Boot file for DHCP (file field and option 67): a TFTP path or, for HTTP clients, a URL. */
  bootFile?: string;
  /** Option 60 the reply must carry so the firmware accepts it (pxe-lab G8, UEFI HTTP Boot). */
  vendorClass?: 'PXEClient' | 'HTTPClient';
  /**
   * The config the client's loader renders, and from which template; absent: nothing to serve.
   * `secret`: it carries the node's secrets (an install: the trigger token, password hashes), so
   * it is served only to the node's own address.
   */
  config?: { kind: ConfigKind; template: string; secret: boolean };
  /** What an install plan installs. */
  distro?: { name: string; arch: string; family: string; version: string };
  kernel?: PlannedFile;
  initrd?: PlannedFile;
  /** The installer's full kernel command line, as this loader passes it. */
  cmdline?: string;
  /** Where the installer fetches its config (kickstart families); empty when it takes none. */
  installConfigUrl: string;
  /** Why: one line per decision, for logs, the templates' comment and `rhevboot preview`. */
  why: string[];
}

export interface LoaderChoice {
  biosLoader: 'pxelinux.0' | 'undionly.kpxe';
  uefiLoader: 'ipxe.efi' | 'syslinux.efi';
  /** e.g. `http://10.0.0.1:80`, no trailing slash. */
  httpBase: string;
}

/** The firmwares a preview can play. */
export type PreviewFirmware = 'bios' | 'uefi' | 'ipxe' | 'uefi-http';

/** `rhevboot preview` and GET /api/v1/nodes/:name/boot: what each server would give the node now. */
export interface BootPreview {
  node: string;
  firmware: PreviewFirmware;
  mac: string;
  dhcp: { address: string; plan: BootPlan };
  /** What TFTP would serve for the node's config names (pxelinux and GRUB). */
  tftp: { file: string; content: string | null; why: string[] }[];
  /** What HTTP would serve as the node's iPXE script. */
  http: { url: string; content: string | null; why: string[] };
}

/**
 * RFC 4578 / IANA processor architecture types. 7 and 9 are both x86-64 UEFI in practice:
 * EDK2 sends 7 ("EFI BC") on x86-64, and dnsmasq once swapped the two (fixed in 2.76).
 */
const ARCH_NAMES: Record<number, string> = {
  0: 'x86 BIOS',
  6: 'x86 UEFI',
  7: 'x86-64 UEFI',
  9: 'x86-64 UEFI',
  10: 'ARM32 UEFI',
  11: 'ARM64 UEFI',
  15: 'x86 UEFI HTTP',
  16: 'x86-64 UEFI HTTP',
  18: 'ARM32 UEFI HTTP',
  19: 'ARM64 UEFI HTTP',
};

export function archName(arch: number | undefined): string {
  return arch === undefined ? 'no option 93' : (ARCH_NAMES[arch] ?? `arch ${arch}`);
}

/** Which firmware is asking, and why we think so. */
export function firmwareOf(client: BootClient): { firmware: Firmware; why: string } {
  if (client.ipxe) return { firmware: 'ipxe', why: `iPXE (user class ${client.userClass ?? '-'}${client.userClass === 'iPXE' ? '' : ', option 175'})` };
  if (client.vendorClass?.startsWith('HTTPClient') || client.arch === 16) {
    return { firmware: 'uefi-http', why: `UEFI HTTP Boot client (${archName(client.arch)}, vendor class ${client.vendorClass ?? '-'})` };
  }
  if (client.arch === undefined || client.arch === 0) return { firmware: 'bios', why: `BIOS PXE (${archName(client.arch)})` };
  if (client.arch === 7 || client.arch === 9) return { firmware: 'uefi', why: `UEFI PXE (${archName(client.arch)})` };
  return { firmware: 'unsupported', why: `no loader for ${archName(client.arch)}` };
}

/** `52:54:00:12:34:56` -> `52-54-00-12-34-56`, the form pxelinux and URLs use. */
export function macDashed(mac: string): string {
  return mac.replace(/:/g, '-');
}

/**
 * The first-stage boot file a firmware is given. iPXE (including the iPXE the loaders chain
 * into) gets its per-MAC script over HTTP, the fast path since the initrd carries a whole ISO.
 * Except when the admin chose a syslinux loader for the client's platform: an iPXE option ROM
 * (every qemu NIC, many real ones) is then handed that loader like any PXE ROM. There is no loop:
 * pxelinux and syslinux.efi never DHCP again, only an iPXE we chained into would.
 */
export function bootFileFor(firmware: Firmware, client: Pick<BootClient, 'arch'> & { mac: string }, loaders: LoaderChoice): string | undefined {
  switch (firmware) {
    case 'ipxe':
      if ((client.arch === undefined || client.arch === 0) && loaders.biosLoader === 'pxelinux.0') return 'pxelinux.0';
      if ((client.arch === 7 || client.arch === 9) && loaders.uefiLoader === 'syslinux.efi') return 'syslinux.efi';
      return `${loaders.httpBase}/boot/ipxe/${macDashed(client.mac)}`;
    case 'uefi-http':
      return `${loaders.httpBase}/boot/ipxe.efi`;
    case 'uefi':
      return loaders.uefiLoader;
    case 'bios':
      return loaders.biosLoader;
    default:
      return undefined;
  }
}

/** The config a boot file's loader fetches next: syslinux loaders read pxelinux configs, iPXE its script. */
export function configKindOf(bootFile: string): ConfigKind {
  if (bootFile === 'pxelinux.0' || bootFile === 'lpxelinux.0' || bootFile === 'syslinux.efi') return 'pxelinux';
  if (/grub/i.test(bootFile)) return 'grub';
  return 'ipxe';
}
