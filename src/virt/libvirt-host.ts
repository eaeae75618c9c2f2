/**
 * The one host behind a libvirt manager, as placement sees it (HostInfo) and as `kvm test` shows
 * it, and the state words of its domains in the engine's vocabulary.
 */
import { isRhevbootError } from '../errors.js';
import type { Logger } from '../log.js';
import type { HostInfo } from '../domain/hypervisor.js';
import { checkSafeName } from './libvirt-domain.js';
import { keyValues, kibToMiB, parseCapabilities, parseList, parseMemStats, parseNodeinfo, type NodeInfo } from './libvirt-parse.js';

/** Runs one virsh command (the driver's shell). */
export type Virsh = (...args: string[]) => Promise<string>;

export interface HostDescription {
  hostname: string;
  nodeinfo: NodeInfo;
  arch: string;
  domainTypes: string[];
  version: Map<string, string>;
  domains: number;
}

export async function describeHost(virsh: Virsh): Promise<HostDescription> {
  const nodeinfo = parseNodeinfo(await virsh('nodeinfo'));
  const caps = parseCapabilities(await virsh('capabilities'));
  return {
    hostname: (await virsh('hostname')).trim(),
    nodeinfo,
    arch: caps.arch,
    domainTypes: caps.domainTypes,
    version: keyValues(await virsh('version')),
    domains: parseList(await virsh('list', '--all')).size,
  };
}

/**
 * Free memory is what RHEV-M calls scheduling memory: total minus what running guests hold now,
 * capped by what the host OS says is free when it can say (`nodememstats`; the test driver cannot).
 * A host virsh cannot reach is `non_responsive`, not an exception, so placement can say why it
 * skipped it.
 */
export async function hostInfo(virsh: Virsh, m: { name: string; uri: string; log: Logger }): Promise<HostInfo> {
  try {
    const info = parseNodeinfo(await virsh('nodeinfo'));
    const caps = parseCapabilities(await virsh('capabilities'));
    const hostname = (await virsh('hostname')).trim();
    let committed = 0;
    for (const [name, state] of parseList(await virsh('list'))) {
      if (!checkSafeName(name) || state === 'shut off' || state === 'crashed') continue;
      committed += kibToMiB(keyValues(await virsh('dominfo', name)).get('used memory')) ?? 0;
    }
    let free = Math.max(0, info.memoryMiB - committed);
    const osFree = await virsh('nodememstats').then(parseMemStats, () => undefined);
    if (osFree !== undefined) free = Math.min(free, osFree);
    return { id: caps.hostUuid ?? hostname, name: m.name, manager: m.name, hypervisorType: 'kvm', arch: caps.arch, state: 'up', memoryTotalMiB: info.memoryMiB, memoryFreeMiB: free };
  } catch (err) {
    if (!isRhevbootError(err, 'RB_ERR_LIBVIRT') && !isRhevbootError(err, 'RB_ERR_LIBVIRT_TIMEOUT')) throw err;
    m.log.warn({ err: err.message }, 'libvirt host not responding');
    return { id: m.uri, name: m.name, manager: m.name, hypervisorType: 'kvm', arch: 'unknown', state: 'non_responsive', memoryTotalMiB: 0, memoryFreeMiB: 0 };
  }
}

/**
 * libvirt's state words (dominfo / list) in the engine's vocabulary. A domain paused by a user
 * (`suspend`, reason `user`) is `suspended`, like one saved with `managedsave`; paused for any
 * other reason (I/O error, migration) it is `paused`, as RHEV-M says for a VM stopped on EIO.
 */
export function vmState(libvirt: string, managedSave: boolean, reason = ''): string {
  switch (libvirt.trim()) {
    case 'running':
    case 'idle':
    case 'blocked':
    case 'no state':
      return 'up';
    case 'paused':
      return reason === 'user' ? 'suspended' : 'paused';
    case 'pmsuspended':
    case 'saved':
      return 'suspended';
    case 'in shutdown':
    case 'dying':
      return 'powering_down';
    case 'shut off':
    case 'crashed':
      return managedSave ? 'suspended' : 'down';
    default:
      return libvirt.trim().replace(/\s+/g, '_');
  }
}

export interface Status {
  /** In the engine's words (vmState). */
  state: string;
  /** The domain has a running (or paused) process: undefine would only make it transient. */
  active: boolean;
  /** Paused in memory: `start` means `resume`. */
  paused: boolean;
}

