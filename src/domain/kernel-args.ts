import { macDashed } from './boot.js';
import type { NodeRecord } from './node.js';

/**
 * The RHEV-H installer's kernel command line (xcat-rhev.md §2.3 and §7.2), with xCAT's bugs fixed
 * (§8.3):
 *  - `rhevm_admin_password` is its own crypted password (the root password RHEV-M uses), not a
 *    copy of the root hash;
 *  - `hostname=<node>` makes `@HOSTNAME@` in the trigger URL deterministic (ovirt-node replaces
 *    it with `$(hostname)`, otherwise whatever DHCP or reverse DNS said);
 *  - `BOOTIF` only in a form ovirt-early understands: pxelinux appends `BOOTIF=01-<mac>` itself
 *    (IPAPPEND 2); iPXE and GRUB get the same form written out. A colon MAC matches nothing.
 *  - `management_server=<engine>:<port>`, so the port is not left to vdsm-reg's default.
 * Pure: values come in, arguments go out.
 */
export interface InstallArgsInput {
  /** The distro descriptor's constant part (root=live:/rhevh.iso ...). */
  baseArgs: string;
  node: Pick<NodeRecord, 'name' | 'nics' | 'storageInit' | 'kernelArgs'>;
  /** `host:port` of the RHEV-M engine, when the node has one. */
  managementServer?: string;
  /** SHA-512 crypt hashes; absent ones are left out. */
  adminPasswordHash?: string;
  rhevmAdminPasswordHash?: string;
  /** Full trigger URL with @HOSTNAME@ left for the node to fill in. */
  triggerUrl: string;
  /** The install config's URL (kickstart families); empty when the family takes none. */
  installConfigUrl: string;
  /** pxelinux adds BOOTIF itself (IPAPPEND 2); everything else needs it written out. */
  bootifFromLoader: boolean;
}

/** `storage_init` alone means "the first disk"; a value picks disks (§7.2). */
function storageInit(value: string | null): string {
  return value ? `storage_init=${value}` : 'storage_init';
}

export function rhevhKernelArgs(i: InstallArgsInput): string[] {
  const args = i.baseArgs.split(/\s+/).filter(Boolean);
  args.push(storageInit(i.node.storageInit));
  const installNic = i.node.nics.find((n) => n.install) ?? i.node.nics[0];
  if (!i.bootifFromLoader && installNic) args.push(`BOOTIF=01-${macDashed(installNic.mac)}`);
  args.push('ip=dhcp', `hostname=${i.node.name}`);
  if (i.adminPasswordHash) args.push(`adminpw=${i.adminPasswordHash}`);
  args.push('ssh_pwauth=1');
  if (i.managementServer) args.push(`management_server=${i.managementServer}`);
  if (i.rhevmAdminPasswordHash) args.push(`rhevm_admin_password=${i.rhevmAdminPasswordHash}`);
  args.push(`local_boot_trigger=${i.triggerUrl}`);
  if (i.node.kernelArgs) args.push(...i.node.kernelArgs.split(/\s+/).filter(Boolean));
  return args;
}

/**
 * The trigger URL. The xCAT path is kept so existing habits and firewall rules carry over; the
 * per-node token rides in the query, after @HOSTNAME@ (ovirt-node's sed replaces only the first).
 */
export function triggerUrl(httpBase: string, token: string): string {
  return `${httpBase}/xcatrhevh/rhevh_finish_install/@HOSTNAME@?token=${token}`;
}

/** How a family's installer is told what to do: the per-node part of its command line. */
export type KernelArgsRecipe = (input: InstallArgsInput) => string[];

/** The recipes a distro descriptor may name (`boot.recipe`); a new family with new arguments adds one. */
export const KERNEL_ARG_RECIPES = { rhevh: rhevhKernelArgs } satisfies Record<string, KernelArgsRecipe>;

export type KernelArgsRecipeName = keyof typeof KERNEL_ARG_RECIPES;
