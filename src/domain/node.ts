/**
 * Nodes: the machines rhevboot provisions. Pure validation and normalisation, no I/O: a node is
 * checked here the same way whether it came from the CLI, the API or a 10,000-row import.
 */

import { inCidr, intToIp, parseIpv4, type Cidr } from '../util/ipv4.js';
import { notOneName } from './noderange.js';

export type BootAction = 'install' | 'local' | 'discover';

/** The lifecycle of DESIGN.md (its moves are in lifecycle.ts). `defined` until the first nodeset. */
export const NODE_STATUSES = ['defined', 'install', 'installing', 'booted', 'registering', 'pending_approval', 'up', 'failed'] as const;

export type NodeStatus = (typeof NODE_STATUSES)[number];

export interface NodeNic {
  mac: string;
  /** The NIC the installer uses (BOOTIF); exactly one when the node has NICs. */
  install: boolean;
}

export interface NodeRecord {
  name: string;
  nics: NodeNic[];
  ip: string | null;
  groups: string[];
  /** Distro name and arch to install, e.g. rhevh6.5 / x86_64. */
  distro: string | null;
  arch: string;
  hypervisor: string;
  /** The RHEV-M engine (by its rhevboot name) and cluster the host joins. */
  manager: string | null;
  cluster: string | null;
  /** storage_init value; empty string means the bare `storage_init` (first disk). */
  storageInit: string | null;
  /** Admin-added kernel arguments, appended after the generated ones. */
  kernelArgs: string;
  attrs: Record<string, string>;
  bootAction: BootAction;
  status: NodeStatus;
  statusReason: string | null;
  /** Set by `nodeset install`, carried in local_boot_trigger; null when no install is pending. */
  triggerToken: string | null;
  createdAt: string;
  updatedAt: string;
}

/** A node as the faces show it: everything but its install's trigger token, a per-install secret. */
export type NodeView = Omit<NodeRecord, 'triggerToken'>;

export function nodeView(node: NodeRecord): NodeView {
  const { triggerToken: _secret, ...view } = node;
  return view;
}

/** The fields an admin sets; the rest is state the appliance keeps. */
export type NodeInput = Partial<Pick<NodeRecord, 'ip' | 'groups' | 'distro' | 'arch' | 'hypervisor' | 'manager' | 'cluster' | 'storageInit' | 'kernelArgs' | 'attrs'>> & {
  name: string;
  /** MACs in any accepted spelling; the first is the install NIC unless `installMac` says otherwise. */
  macs?: string[];
  installMac?: string;
};

export class NodeValidationError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
  }
}

const HEX12 = /^[0-9a-f]{12}$/;

/**
 * Accepts the spellings admins paste: `aa:bb:cc:dd:ee:ff`, `aa-bb-cc-dd-ee-ff`, `aabb.ccdd.eeff`
 * (Cisco), `aabbccddeeff`; any case. Returns the canonical lower-case colon form, or undefined.
 */
export function normaliseMac(input: string): string | undefined {
  const s = input.trim().toLowerCase();
  let hex: string;
  if (/^([0-9a-f]{1,2}[:-]){5}[0-9a-f]{1,2}$/.test(s)) {
    const sep = s.includes(':') ? ':' : '-';
    if (s.includes(':') && s.includes('-')) return undefined;
    hex = s
      .split(sep)
      .map((p) => p.padStart(2, '0'))
      .join('');
  } else if (/^[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}$/.test(s)) {
    hex = s.replace(/\./g, '');
  } else {
    hex = s;
  }
  if (!HEX12.test(hex)) return undefined;
  return hex.match(/../g)!.join(':');
}

/** RFC 1123 host label: the node name becomes a hostname, a DNS label and a URL segment. */
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function validateNodeName(name: string): string | undefined {
  if (!LABEL.test(name)) {
    return `node name '${name}' must be an RFC 1123 label: 1-63 lower-case letters, digits and '-', not starting or ending with '-'`;
  }
  if (/^\d+$/.test(name)) return `node name '${name}' must not be all digits (it would read as a number in noderanges)`;
  const syntax = notOneName(name);
  if (syntax) return `node name ${syntax}`;
  return undefined;
}

const GROUP = /^[a-z0-9][a-z0-9_.-]{0,63}$/i;

/** Why a group name cannot be used, or undefined. `all` is the noderange for every node. */
export function validateGroupName(name: string): string | undefined {
  if (!GROUP.test(name)) return `group '${name}' must be letters, digits, '_', '.' or '-' (at most 64)`;
  if (name.toLowerCase() === 'all') return "group 'all' is reserved: it means every node";
  const syntax = notOneName(name);
  if (syntax) return `group name ${syntax}`;
  return undefined;
}

/**
 * Why a MAC (canonical form) cannot be a NIC's, or undefined. Frames to the broadcast or a
 * multicast address reach every listener, and the all-zero address is what broken firmware and
 * unset VM templates report: a node given one would be matched to the wrong machines' packets.
 */
export function macProblem(mac: string): string | undefined {
  if (mac === 'ff:ff:ff:ff:ff:ff') return `${mac} is the broadcast address, not a NIC`;
  if (parseInt(mac.slice(0, 2), 16) & 1) return `${mac} is a multicast address, not a NIC`;
  if (mac === '00:00:00:00:00:00') return `${mac} is no NIC's address (all zeros)`;
  return undefined;
}

/** Addresses inside the nodes' networks that already belong to something else. */
export interface ReservedAddresses {
  /** The DHCP subnets' routers. */
  routers: readonly string[];
  /** The appliance's own addresses; asked only when an input has an IP (it may ask the OS). */
  appliance: () => readonly string[];
}

/** Why an IPv4 address (parsed) cannot be a node's, or undefined. */
function ipProblem(ip: number, subnets: Cidr[], reserved: ReservedAddresses | undefined): string | undefined {
  const text = intToIp(ip);
  if (ip >>> 24 === 0) return `${text} is in 0.0.0.0/8 ("this network"), not a host's address`;
  if (ip === 0xffffffff) return `${text} is the broadcast address, not a host's`;
  if (ip >>> 28 >= 14) return `${text} is a multicast or reserved address, not a host's`;
  if (subnets.length && !subnets.some((s) => inCidr(s, ip))) {
    return `${text} is not inside a configured subnet (${subnets.map((s) => s.text).join(', ')})`;
  }
  // A /31 or /32 has no network or broadcast address (RFC 3021).
  for (const s of subnets.filter((c) => c.prefix <= 30 && inCidr(c, ip))) {
    if (ip === s.network) return `${text} is the network address of ${s.text}, not a host's`;
    if (ip === s.broadcast) return `${text} is the broadcast address of ${s.text}, not a host's`;
  }
  if (reserved?.routers.includes(text)) return `${text} is a router's address (dhcp.subnets routers)`;
  if (reserved?.appliance().includes(text)) return `${text} is the appliance's own address (dhcp.serverAddress or dhcp.interface)`;
  return undefined;
}

const ARCH = /^[a-z0-9_]{1,16}$/i;
/** A manager's name (a RHEV-M engine, a KVM host): `rhevboot rhevm add` and `kvm add` take these. */
export const MANAGER_NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/i;

/**
 * Normalises an admin's input into the fields of a node, or throws NodeValidationError naming the
 * field. `subnets` are the networks node addresses must fall in (the DHCP subnets); when none are
 * configured any unicast address is accepted. `reserved` are addresses in them that are taken by
 * the appliance and the routers.
 */
export function normaliseNodeInput(input: NodeInput, subnets: Cidr[], reserved?: ReservedAddresses): Omit<NodeInput, 'macs' | 'installMac'> & { nics?: NodeNic[] } {
  const bad = validateNodeName(input.name);
  if (bad) throw new NodeValidationError('name', bad);
  const out: Omit<NodeInput, 'macs' | 'installMac'> & { nics?: NodeNic[] } = { name: input.name };
  if (input.macs !== undefined) {
    const macs: string[] = [];
    for (const m of input.macs) {
      const canon = normaliseMac(m);
      if (!canon) throw new NodeValidationError('macs', `'${m}' is not a MAC address (use aa:bb:cc:dd:ee:ff, aa-bb-..., or aabb.ccdd.eeff)`);
      const problem = macProblem(canon);
      if (problem) throw new NodeValidationError('macs', problem);
      if (macs.includes(canon)) throw new NodeValidationError('macs', `${canon} is listed twice`);
      macs.push(canon);
    }
    let install: string | undefined = macs[0];
    if (input.installMac !== undefined) {
      install = normaliseMac(input.installMac);
      if (!install || !macs.includes(install)) throw new NodeValidationError('installMac', `install MAC '${input.installMac}' is not one of the node's MACs`);
    }
    out.nics = macs.map((mac) => ({ mac, install: mac === install }));
  }
  if (input.ip !== undefined && input.ip !== null && input.ip !== '') {
    const ip = parseIpv4(input.ip);
    if (ip === undefined) throw new NodeValidationError('ip', `'${input.ip}' is not an IPv4 address`);
    const problem = ipProblem(ip, subnets, reserved);
    if (problem) throw new NodeValidationError('ip', problem);
    out.ip = intToIp(ip);
  } else if (input.ip !== undefined) {
    out.ip = null;
  }
  if (input.groups !== undefined) {
    for (const g of input.groups) {
      const problem = validateGroupName(g);
      if (problem) throw new NodeValidationError('groups', problem);
    }
    out.groups = [...new Set(input.groups)];
  }
  // The arch names a tree on disk and URLs under /install/ (the distro's name is checked by the
  // service, against distro.ts's rule); the manager names an engine; the cluster goes to it.
  if (input.manager && !MANAGER_NAME.test(input.manager)) throw new NodeValidationError('manager', `manager '${input.manager}' is not an engine name (letters, digits, '_', '.', '-')`);
  if (input.cluster && /[\x00-\x1f\x7f]/.test(input.cluster)) throw new NodeValidationError('cluster', 'the cluster name must be one line of printable characters');
  for (const key of ['distro', 'manager', 'cluster'] as const) {
    const v = input[key];
    if (v !== undefined) out[key] = v === '' ? null : v;
  }
  if (input.arch !== undefined) {
    if (!ARCH.test(input.arch)) throw new NodeValidationError('arch', `arch '${input.arch}' must be 1-16 letters, digits or '_' (e.g. x86_64)`);
    out.arch = input.arch;
  }
  if (input.hypervisor !== undefined) {
    if (!/^[a-z][a-z0-9-]{0,31}$/.test(input.hypervisor)) throw new NodeValidationError('hypervisor', `hypervisor type '${input.hypervisor}' is not a valid name`);
    out.hypervisor = input.hypervisor;
  }
  if (input.storageInit !== undefined) {
    if (input.storageInit !== null && /\s/.test(input.storageInit)) throw new NodeValidationError('storageInit', 'storage_init must not contain spaces');
    out.storageInit = input.storageInit;
  }
  if (input.kernelArgs !== undefined) {
    if (/[\r\n\0]/.test(input.kernelArgs)) throw new NodeValidationError('kernelArgs', 'kernel arguments must be one line');
    out.kernelArgs = input.kernelArgs.trim();
  }
  if (input.attrs !== undefined) {
    for (const [k, v] of Object.entries(input.attrs)) {
      if (!/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/.test(k)) throw new NodeValidationError('attrs', `attribute name '${k}' is not valid`);
      if (typeof v !== 'string' || /[\r\n\0]/.test(v)) throw new NodeValidationError('attrs', `attribute '${k}' must be a one-line string`);
    }
    out.attrs = { ...input.attrs };
  }
  return out;
}
