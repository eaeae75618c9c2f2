/**
 * Hosts and images as placement sees them (issue 7): the vocabulary every hypervisor driver
 * (src/virt: RHEV-M engines, libvirt hosts) reports in, so the pure domain can decide where a VM
 * goes without knowing which kind of manager is behind a host. Sizes are MiB; names are the
 * manager's names.
 */

/** A host that can run VMs, as placement sees it. */
export interface HostInfo {
  /** The manager's id for the host. */
  id: string;
  name: string;
  /** The driver (manager) this host belongs to: an engine name or a libvirt host name. */
  manager: string;
  /** rhevh, kvm, … (RHEV-M hosts of type rhev-h / ovirt_node are `rhevh`, rhel hosts `kvm`). */
  hypervisorType: string;
  /** x86_64, ppc64le, … */
  arch: string;
  /** up, maintenance, down, non_responsive, … (engine words; libvirt: up when reachable). */
  state: string;
  memoryTotalMiB: number;
  /** What the manager says can still be scheduled (RHEV-M max_scheduling_memory). */
  memoryFreeMiB: number;
  cluster?: string;
}

/** A template / image a VM is created from, with the properties placement matches on. */
export interface ImageInfo {
  id: string;
  name: string;
  manager: string;
  properties: { hypervisorType?: string; architecture?: string; minMemoryMiB?: number };
}

/** An engine's host as `rhevboot hypervisor ls` and GET /hypervisors show it, with the node it is. */
export interface HypervisorView {
  engine: string;
  id: string;
  name: string;
  address: string | null;
  status: string | null;
  statusDetail: string | null;
  type: string | null;
  /** The rhevboot node this host is, when one matches by name or address. */
  node: string | null;
}
