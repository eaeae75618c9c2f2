/**
 * The one boot question (DESIGN.md): every protocol server describes the client it is talking to
 * and asks `bootFor(client)`; DHCP renders the answer as a lease and a boot file, TFTP as a config
 * file, HTTP as an iPXE script. This module is the question's vocabulary and the pure part of the
 * answer (which loader a firmware gets); the node lookup lives in the provisioning service.
 */

/** What a server knows about a booting client. */
export interface BootClient {
  /** Canonical lower-case colon MAC, e.g. `52:54:00:12:34:56`. */
  mac: string;
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
  /** The client's address, when it has one (TFTP, HTTP, a DHCP renewal). */
  ip?: string;
}

export type Firmware = 'bios' | 'uefi' | 'uefi-http' | 'ipxe' | 'unsupported';

export type BootAction = 'install' | 'local' | 'discover' | 'ignore';

export interface BootPlan {
  /** The node the client is, if known. */
  node?: { name: string; hostname: string; ip?: string };
  action: BootAction;
  firmware: Firmware;
  /** Boot file for DHCP (file field and option 67): a TFTP path or, for HTTP clients, a URL. */
  bootFile?: string;
  /** Option 60 the reply must carry so the firmware accepts it (pxe-lab G8, UEFI HTTP Boot). */
  vendorClass?: 'PXEClient' | 'HTTPClient';
  /** Why: one line per decision, for logs and `rhevboot preview`. */
  why: string[];
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

export interface Booter {
  bootFor(client: BootClient): Promise<BootPlan>;
}

export interface LoaderChoice {
  biosLoader: 'pxelinux.0' | 'undionly.kpxe';
  uefiLoader: 'ipxe.efi' | 'syslinux.efi';
  /** e.g. `http://10.0.0.1:80`, no trailing slash. */
  httpBase: string;
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
export function bootFileFor(firmware: Firmware, client: Pick<BootClient, 'mac' | 'arch'>, loaders: LoaderChoice): string | undefined {
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
