/**
 * The hypervisor side of VM management, as one interface with a driver per kind of manager
 * (issue 7): RHEV-M / oVirt engines first (src/rhevm), libvirt for plain KVM hosts second, so a
 * mixed estate is real. Services speak only this; drivers translate. Hosts and images are
 * reported in placement's vocabulary (src/domain/hypervisor.ts).
 * Sizes are MiB; names are the manager's names (a VM's name is also its node name in rhevboot).
 */
import type { HostInfo, ImageInfo } from '../domain/hypervisor.js';

export interface DiskSpec {
  sizeMiB: number;
  interface?: 'virtio' | 'virtio_scsi' | 'ide';
  format?: 'cow' | 'raw';
  storageDomain?: string;
  bootable?: boolean;
}

export interface NicSpec {
  name?: string;
  /** A logical network (RHEV-M: its vNIC profile of the same name) or a libvirt network. */
  network?: string;
  profile?: string;
  interface?: 'virtio' | 'e1000' | 'rtl8139';
  mac?: string;
}

export interface VmSpec {
  name: string;
  memoryMiB: number;
  cpu?: { sockets?: number; cores?: number; threads?: number };
  osType?: string;
  boot?: ('network' | 'hd' | 'cdrom')[];
  display?: 'vnc' | 'spice';
  /** Template / image name; Blank when absent. */
  template?: string;
  cluster?: string;
  disks?: DiskSpec[];
  nics?: NicSpec[];
}

export type VmChanges = Partial<Pick<VmSpec, 'memoryMiB' | 'cpu' | 'boot' | 'display'>> & { addDisks?: DiskSpec[]; addNics?: NicSpec[]; removeNics?: string[] };

export interface VmInfo {
  id: string;
  name: string;
  manager: string;
  /** down, up, powering_up, suspended, migrating, image_locked, … */
  state: string;
  host?: string;
  memoryMiB?: number;
  cpus?: number;
  macs: string[];
  addresses: string[];
}

export type PowerAction = 'start' | 'stop' | 'shutdown' | 'suspend' | 'reboot' | 'status';

export interface HypervisorDriver {
  readonly kind: 'rhevm' | 'libvirt';
  /** The manager's name in rhevboot (engine name, libvirt host name). */
  readonly name: string;
  listHosts(): Promise<HostInfo[]>;
  listImages(): Promise<ImageInfo[]>;
  listVms(): Promise<VmInfo[]>;
  findVm(name: string): Promise<VmInfo | undefined>;
  /** Creates the VM (on `host` when given, else where the manager puts it) and waits until it exists (down). */
  createVm(spec: VmSpec, opts?: { host?: string }): Promise<VmInfo>;
  updateVm(name: string, changes: VmChanges): Promise<VmInfo>;
  removeVm(name: string, opts?: { disks?: boolean; force?: boolean }): Promise<void>;
  /** Power actions wait for the end state (up, down, suspended) with a bound; `status` just reads it. */
  power(name: string, action: PowerAction): Promise<VmInfo>;
  migrate(name: string, opts?: { host?: string }): Promise<VmInfo>;
  /** Clones `source` to each of `names` (v4 clone action, or via a template) and waits for them. */
  clone(source: string, names: string[]): Promise<VmInfo[]>;
  close(): Promise<void>;
}
