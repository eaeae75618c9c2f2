/**
 * The boot plan: the whole answer to "what does this client get, and why", made by one pure
 * function from what the booter read (the node, and for an install its tree, its family's recipe
 * and the secrets on its command line). Pixiecore's `Booter.BootSpec` is the model: the DHCP, TFTP
 * and HTTP servers, the preview and the console render a plan and decide nothing.
 */
import { bootFileFor, configKindOf, firmwareOf, macDashed, type BootClient, type BootPlan, type ConfigKind, type LoaderChoice, type PlannedNode } from './boot.js';
import type { DistroDescriptor } from './distro.js';
import { KERNEL_ARG_RECIPES, triggerUrl } from './kernel-args.js';
import type { NodeRecord } from './node.js';

/** Leaving for the local disk is the same for every family: one template per loader. */
export const LOCAL_TEMPLATES: Record<ConfigKind, string> = {
  pxelinux: 'pxelinux-local.cfg',
  ipxe: 'ipxe-local.ipxe',
  grub: 'grub-local.cfg',
};

/** Where TFTP serves the distro trees (the TFTP server mounts installDir here). */
export const TFTP_DISTRO_PREFIX = 'distros/';

/** An imported distro tree, as much of it as a plan needs (the store's distro record has more). */
export interface InstallTree {
  name: string;
  arch: string;
  family: string;
  version: string;
  /** Paths relative to the tree. */
  kernel: string;
  pxeInitrd: string;
}

/** What a plan is made from. The booter reads the node once; the rest only for a node set to install. */
export interface PlanFacts {
  node?: NodeRecord;
  /** The node's distro tree, when it is imported. */
  tree?: InstallTree;
  /** The descriptor of the tree's family. */
  descriptor?: DistroDescriptor;
  /** `host:port` of the node's engine (`management_server`). */
  managementServer?: string;
  /** SHA-512 crypt hashes for the installer (`adminpw`, `rhevm_admin_password`). */
  adminPasswordHash?: string;
  rhevmAdminPasswordHash?: string;
}

/** The plan for one client. `loaders.httpBase` is the base of every URL in it. */
export function planBoot(client: BootClient, facts: PlanFacts, loaders: LoaderChoice): BootPlan {
  return client.config ? planConfig(client.config, client, facts, loaders) : planFirmware(client, facts, loaders);
}

/** The firmware's DHCP request: which loader it gets, and what that loader will be told. */
function planFirmware(client: BootClient, facts: PlanFacts, loaders: LoaderChoice): BootPlan {
  const mac = client.mac ?? '';
  const fw = firmwareOf(client);
  const why = [fw.why];
  let bootFile = bootFileFor(fw.firmware, { mac, arch: client.arch }, loaders);
  const vendorClass = fw.firmware === 'uefi-http' ? 'HTTPClient' : 'PXEClient';
  if (!bootFile) why.push('no boot file for this firmware');
  const { node } = facts;
  if (!node) {
    why.push(`MAC ${mac} belongs to no node: discovery`);
    return { action: 'discover', firmware: fw.firmware, bootFile, vendorClass, installConfigUrl: '', why };
  }
  why.push(`MAC ${mac} is node ${node.name}, set to ${node.bootAction}${node.ip ? `, address ${node.ip}` : ''}`);
  if (node.bootAction === 'local' && bootFile === 'syslinux.efi') {
    // LOCALBOOT loops under syslinux.efi (it cannot hand back to the firmware); offering no boot
    // file makes UEFI PXE fail over to the next boot entry, the local disk.
    bootFile = undefined;
    why.push('local boot under syslinux.efi: no boot file, so the firmware moves to its next boot entry');
  }
  const plan: BootPlan = { node: plannedNode(node), action: node.bootAction, firmware: fw.firmware, bootFile, vendorClass, installConfigUrl: '', why };
  if (!bootFile) return plan;
  // What the loader behind the boot file will be told when it asks (its own plan says why).
  const kind = configKindOf(bootFile);
  if (node.bootAction !== 'install') return { ...plan, config: { kind, template: LOCAL_TEMPLATES[kind], secret: false } };
  return { ...plan, ...install(kind, node, facts, loaders).details };
}

/** A running loader's config request: local boot, an install, or nothing to serve (and why). */
function planConfig(kind: ConfigKind, client: BootClient, facts: PlanFacts, loaders: LoaderChoice): BootPlan {
  const { node } = facts;
  if (!node) return { action: 'discover', installConfigUrl: '', why: [`${client.mac ? `MAC ${client.mac}` : `address ${client.ip ?? '?'}`} belongs to no node`] };
  const why = [`node ${node.name} is set to ${node.bootAction}`];
  const base = { node: plannedNode(node), action: node.bootAction, installConfigUrl: '', why } satisfies BootPlan;
  if (node.bootAction !== 'install') return { ...base, config: { kind, template: LOCAL_TEMPLATES[kind], secret: false } };
  const { details, problem } = install(kind, node, facts, loaders);
  why.push(problem ?? `installs ${details.distro!.name}/${details.distro!.arch} (${details.distro!.family} ${details.distro!.version}) from ${kind === 'ipxe' ? 'HTTP' : 'TFTP'}`);
  return { ...base, ...details };
}

type InstallDetails = Pick<BootPlan, 'config' | 'distro' | 'kernel' | 'initrd' | 'cmdline' | 'installConfigUrl'>;

/** What a loader of `kind` installs the node with, from its family's descriptor; or why it cannot. */
function install(kind: ConfigKind, node: NodeRecord, facts: PlanFacts, loaders: LoaderChoice): { details: InstallDetails; problem?: string } {
  const { tree, descriptor } = facts;
  const none = (problem: string): { details: InstallDetails; problem: string } => ({ details: { installConfigUrl: '' }, problem: `but ${problem}: no config` });
  if (!tree) return none(`its distro ${node.distro ?? '(none)'}/${node.arch} is not imported`);
  if (!descriptor) return none(`no descriptor describes the ${tree.family} family`);
  const loader = descriptor.boot.loaders[kind];
  if (!loader) return none(`the ${tree.family} family does not install from ${kind}`);
  const treePath = `${tree.name}/${tree.arch}`;
  const file = (rel: string): { path: string; url: string } => ({ path: `${TFTP_DISTRO_PREFIX}${treePath}/${rel}`, url: `${loaders.httpBase}/install/${treePath}/${rel}` });
  const installConfigUrl = '';
  const cmdline = KERNEL_ARG_RECIPES[descriptor.boot.recipe]({
    baseArgs: descriptor.boot.kernelArgs,
    node,
    managementServer: facts.managementServer,
    adminPasswordHash: facts.adminPasswordHash,
    rhevmAdminPasswordHash: facts.rhevmAdminPasswordHash,
    triggerUrl: triggerUrl(loaders.httpBase, node.triggerToken ?? ''),
    installConfigUrl,
    bootifFromLoader: loader.bootif === 'appended-by-loader',
  }).join(' ');
  return {
    details: {
      config: { kind, template: loader.template, secret: true },
      distro: { name: tree.name, arch: tree.arch, family: tree.family, version: tree.version },
      kernel: file(tree.kernel),
      initrd: file(tree.pxeInitrd),
      cmdline,
      installConfigUrl,
    },
  };
}

function plannedNode(node: NodeRecord): PlannedNode {
  const mac = node.nics.find((n) => n.install)?.mac ?? node.nics[0]?.mac ?? '';
  return { name: node.name, hostname: node.name, ...(node.ip ? { ip: node.ip } : {}), status: node.status, mac: macDashed(mac), groups: node.groups, attrs: node.attrs };
}
