// The simulated engine database and its clock. It lives outside the HTTP app so that an "engine
// restart" (EngineSim.restart) keeps every entity, like the real engine's PostgreSQL does.
import { randomUUID } from 'node:crypto';

// ---- well-known ids (ovirt-api.md §4.4, fresh engine DB seed data) ----
export const BLANK_TEMPLATE_ID = '00000000-0000-0000-0000-000000000000';
export const ROOT_TAG_ID = '00000000-0000-0000-0000-000000000000';
export const DEFAULT_DC_ID = '00000002-0002-0002-0002-00000000021c';
export const DEFAULT_CLUSTER_ID = '00000001-0001-0001-0001-0000000000d6';
export const MGMT_NETWORK_ID = '00000000-0000-0000-0000-000000000009';
export const MGMT_VNIC_PROFILE_ID = '0000000a-000a-000a-000a-000000000398';
/** Ids the simulator picks for objects it only references (not part of the §4.4 seed list). */
export const DEFAULT_MAC_POOL_ID = '58ca604b-017d-0374-0220-00000000014e';
export const DEFAULT_SCHEDULING_POLICY_ID = 'b4ed2332-a7ac-4d5f-9596-99a439cb2812';
export const ADMIN_USER_ID = 'fdfc627c-d875-11e0-90f0-83df133b58cc';

export type HostStatus =
  | 'down' | 'error' | 'initializing' | 'installing' | 'install_failed' | 'maintenance' | 'non_operational'
  | 'non_responsive' | 'pending_approval' | 'preparing_for_maintenance' | 'connecting' | 'reboot' | 'unassigned'
  | 'up' | 'installing_os' | 'kdumping';
export type VmStatus =
  | 'unassigned' | 'down' | 'up' | 'powering_up' | 'paused' | 'migrating' | 'unknown' | 'not_responding'
  | 'wait_for_launch' | 'reboot_in_progress' | 'saving_state' | 'restoring_state' | 'suspended' | 'image_locked'
  | 'powering_down';
export type JobStatus = 'started' | 'finished' | 'failed' | 'aborted' | 'unknown';
export type TaskStatus = 'pending' | 'in_progress' | 'complete' | 'failed';

export interface Version { major: number; minor: number }

export interface DataCenter {
  id: string; name: string; description?: string; comment?: string; local: boolean; storageType?: string;
  status: 'uninitialized' | 'up' | 'maintenance' | 'not_operational' | 'problematic' | 'contend';
  version: Version; storageFormat: string;
}
export interface ClusterNetwork { networkId: string; required: boolean; usages: string[]; display: boolean }
export interface Cluster {
  id: string; name: string; description?: string; comment?: string; dataCenterId: string; cpuType: string;
  version: Version; networks: ClusterNetwork[];
}
export interface Network {
  id: string; name: string; description?: string; comment?: string; dataCenterId: string; vlan?: number; stp: boolean;
  mtu: number; usages: string[];
}
export interface VnicProfile { id: string; name: string; networkId: string }
export interface Ip { address: string; netmask: string; gateway?: string }
export interface HostNic {
  id: string; name: string; mac: string; ip?: Ip; bootProtocol: 'dhcp' | 'static' | 'none'; networkId?: string;
  speed: number; status: 'up' | 'down'; mtu: number; bonding?: { options: Record<string, string>; slaves: string[] };
}
export interface PowerManagement { enabled: boolean; type?: string; address?: string; username?: string; options: Record<string, string> }
export interface Host {
  id: string; name: string; address: string; port: number; clusterId: string; status: HostStatus; statusDetail?: string;
  type: 'rhel' | 'ovirt_node'; uniqueId?: string; sshPort: number; sshUser: string; comment?: string; description?: string;
  nics: HostNic[]; powerManagement: PowerManagement; spmPriority: number;
  /** Network changes made by setupnetworks/attach that commitnetconfig has not persisted yet. */
  netConfigDirty: boolean; origin: 'api' | 'registration'; memory: number;
}
export interface Disk {
  id: string; name: string; provisionedSize: number; format: 'cow' | 'raw'; interface: string; bootable: boolean;
  status: 'locked' | 'ok' | 'illegal'; storageDomainId?: string; active: boolean; description?: string;
}
export interface VmNic { id: string; name: string; interface: string; mac: string; networkId?: string; vnicProfileId?: string; linked: boolean; plugged: boolean }
export interface CpuTopology { sockets: number; cores: number; threads: number }
export interface Template {
  id: string; name: string; description?: string; status: 'ok' | 'locked' | 'illegal'; memory: number; cpu: CpuTopology;
  osType: string; boot: string[]; type: string; clusterId?: string; vmId?: string; disks: Disk[]; creationTime: Date;
  /** A template keeps the NICs of the VM it was made from; VMs made from it get them with fresh MACs (§7.8). */
  nics?: VmNic[];
}
export interface Vm {
  id: string; name: string; description?: string; comment?: string; status: VmStatus; memory: number; cpu: CpuTopology;
  osType: string; boot: string[]; type: string; clusterId: string; templateId: string; originalTemplateId: string;
  hostId?: string; startTime?: Date; stopTime?: Date; creationTime: Date; nics: VmNic[]; disks: Disk[];
  stateless: boolean; highAvailability: boolean; ticket?: { value: string; expiry: number }; cdrom?: string;
  /** placement_policy (§7.7): the hosts the scheduler prefers when starting the VM, and the affinity. */
  placement?: { hostIds: string[]; affinity: string };
}
export interface StorageDomain {
  id: string; name: string; description?: string; comment?: string; type: string;
  storage: { type: string; address?: string; path?: string; luns: string[]; nfsVersion?: string };
  master: boolean; available: number; used: number; committed: number; storageFormat: string; hostId?: string;
  /** Attachments to data centers and their per-DC status (§7.5 attached statuses). */
  attachments: Map<string, string>;
  /** ISO domains: the image files listed at /storagedomains/{id}/files (3.0 guide). */
  files: string[];
}
export interface Step { id: string; type: string; description: string; status: JobStatus; number: number; start: Date; end?: Date }
export interface Job {
  id: string; description: string; status: JobStatus; correlationId?: string; start: Date; end?: Date; updated: Date;
  external: boolean; autoCleared: boolean; steps: Step[];
}
export interface EngineEvent {
  id: number; code: number; severity: 'normal' | 'warning' | 'error' | 'alert'; description: string; time: Date;
  correlationId?: string; hostId?: string; vmId?: string; clusterId?: string; dataCenterId?: string;
}
/** A VDSM async task set behind a 202 (§5.3), polled at `{actionUrl}/{id}` or `creation_status/{id}`. */
export interface AsyncTask { id: string; status: TaskStatus; fault?: string }

/** Per-host failure injection: which hosts, at which stage, with the engine's words (§7.4). */
export interface HostFailureRule {
  name?: string | RegExp; address?: string | RegExp;
  /** install_failed: host-deploy fails; non_operational / non_responsive: after initializing. */
  kind: 'install_failed' | 'non_operational' | 'non_responsive';
  reason: string;
  /** Apply to the first matching install only (then the host installs fine when retried). */
  once?: boolean;
}

/** Durations of the timed state machines, in clock steps (§9.4). */
export interface Timings {
  hostInstall: number; hostInitialize: number; hostActivate: number; hostMaintenance: number;
  vmLaunch: number; vmPowerUp: number; vmShutdown: number; vmMigrate: number; storageTask: number; sdAttach: number;
}

export const DEFAULT_TIMINGS: Timings = {
  hostInstall: 3, hostInitialize: 1, hostActivate: 1, hostMaintenance: 1,
  vmLaunch: 1, vmPowerUp: 1, vmShutdown: 1, vmMigrate: 2, storageTask: 2, sdAttach: 2,
};

// ---- the clock: timed transitions at a configurable speed ----

interface Timer { due: number; seq: number; fn: () => void; handle?: NodeJS.Timeout }

/**
 * Every engine-side transition (host-deploy, VM launch, storage tasks) is scheduled in *steps*.
 * With `stepMs` > 0 a step is that many milliseconds of real time; with `stepMs: 0` ("manual")
 * nothing moves until a test calls advance(), which makes ordering-sensitive tests deterministic.
 */
export class Clock {
  private timers = new Set<Timer>();
  private now = 0;
  private seq = 0;
  constructor(public stepMs: number) {}

  after(steps: number, fn: () => void): void {
    const timer: Timer = { due: this.now + steps, seq: this.seq++, fn };
    this.timers.add(timer);
    if (this.stepMs > 0) {
      timer.handle = setTimeout(() => {
        this.timers.delete(timer);
        fn();
      }, steps * this.stepMs);
      timer.handle.unref?.();
    }
  }

  /** Manual mode: runs everything due within the next `steps` steps, in due order. */
  advance(steps = 1): void {
    const until = this.now + steps;
    for (;;) {
      const next = [...this.timers].filter((x) => x.due <= until && !x.handle).sort((a, b) => a.due - b.due || a.seq - b.seq)[0];
      if (!next) break;
      this.now = Math.max(this.now, next.due);
      this.timers.delete(next);
      next.fn();
    }
    this.now = until;
  }

  get pending(): number {
    return this.timers.size;
  }

  cancelAll(): void {
    for (const x of this.timers) if (x.handle) clearTimeout(x.handle);
    this.timers.clear();
  }
}

export interface Seed {
  /** RHEV 3.x calls the management network `rhevm`, oVirt `ovirtmgmt` (§4.4). */
  managementNetwork: string;
  dcVersion: Version;
}

export class EngineState {
  dataCenters = new Map<string, DataCenter>();
  clusters = new Map<string, Cluster>();
  networks = new Map<string, Network>();
  vnicProfiles = new Map<string, VnicProfile>();
  hosts = new Map<string, Host>();
  storageDomains = new Map<string, StorageDomain>();
  templates = new Map<string, Template>();
  vms = new Map<string, Vm>();
  jobs = new Map<string, Job>();
  events: EngineEvent[] = [];
  tasks = new Map<string, AsyncTask>();
  hostFailures: HostFailureRule[] = [];
  private eventSeq = 100;
  private macSeq = 0x16_01_00;

  constructor(seed: Seed, readonly clock: Clock, readonly timing: Timings) {
    const now = new Date();
    // §4.4 / §9.3 seed data of a fresh engine database.
    this.dataCenters.set(DEFAULT_DC_ID, {
      id: DEFAULT_DC_ID, name: 'Default', description: 'The default Data Center', local: false, status: 'uninitialized',
      version: seed.dcVersion, storageFormat: seed.dcVersion.major >= 4 ? 'v3' : 'v1',
    });
    this.networks.set(MGMT_NETWORK_ID, {
      id: MGMT_NETWORK_ID, name: seed.managementNetwork, description: 'Management Network', dataCenterId: DEFAULT_DC_ID,
      stp: false, mtu: 0, usages: ['vm', 'management', 'display'],
    });
    this.vnicProfiles.set(MGMT_VNIC_PROFILE_ID, { id: MGMT_VNIC_PROFILE_ID, name: seed.managementNetwork, networkId: MGMT_NETWORK_ID });
    this.clusters.set(DEFAULT_CLUSTER_ID, {
      id: DEFAULT_CLUSTER_ID, name: 'Default', description: 'The default server cluster', dataCenterId: DEFAULT_DC_ID,
      cpuType: seed.dcVersion.major >= 4 ? 'Intel Nehalem Family' : 'Intel Penryn Family', version: seed.dcVersion,
      networks: [{ networkId: MGMT_NETWORK_ID, required: true, usages: ['vm', 'management', 'display'], display: true }],
    });
    this.templates.set(BLANK_TEMPLATE_ID, {
      id: BLANK_TEMPLATE_ID, name: 'Blank', description: 'Blank template', status: 'ok', memory: 1024 * 1024 * 1024,
      cpu: { sockets: 1, cores: 1, threads: 1 }, osType: 'other', boot: ['hd'], type: 'desktop', disks: [], creationTime: now,
    });
  }

  newId(): string {
    return randomUUID();
  }

  /** MACs from the engine's default pool range 00:1a:4a:16:01:51–e6 style prefix (§7.7 NICs). */
  newMac(): string {
    const n = this.macSeq++;
    return ['00', '1a', '4a', ((n >> 16) & 0xff).toString(16).padStart(2, '0'), ((n >> 8) & 0xff).toString(16).padStart(2, '0'), (n & 0xff).toString(16).padStart(2, '0')].join(':');
  }

  startJob(description: string, correlationId: string | undefined, stepType = 'executing'): Job {
    const now = new Date();
    const job: Job = {
      id: randomUUID(), description, status: 'started', start: now, updated: now, external: false, autoCleared: true,
      ...(correlationId ? { correlationId } : {}),
      steps: [{ id: randomUUID(), type: stepType, description: description, status: 'started', number: 0, start: now }],
    };
    this.jobs.set(job.id, job);
    return job;
  }

  endJob(job: Job | undefined, status: JobStatus): void {
    if (!job || job.status !== 'started') return;
    const now = new Date();
    job.status = status;
    job.end = now;
    job.updated = now;
    for (const s of job.steps) if (s.status === 'started') Object.assign(s, { status, end: now });
  }

  event(e: Omit<EngineEvent, 'id' | 'time'>): EngineEvent {
    const ev: EngineEvent = { ...e, id: ++this.eventSeq, time: new Date() };
    this.events.push(ev);
    return ev;
  }

  newTask(): AsyncTask {
    const task: AsyncTask = { id: randomUUID(), status: 'pending' };
    this.tasks.set(task.id, task);
    return task;
  }

  hostFailureFor(host: Host): HostFailureRule | undefined {
    const m = (pat: string | RegExp | undefined, v: string): boolean => pat === undefined || (typeof pat === 'string' ? pat === v : pat.test(v));
    const i = this.hostFailures.findIndex((r) => (r.name !== undefined || r.address !== undefined) && m(r.name, host.name) && m(r.address, host.address));
    if (i < 0) return undefined;
    const rule = this.hostFailures[i]!;
    if (rule.once) this.hostFailures.splice(i, 1);
    return rule;
  }

  clusterByName(name: string): Cluster | undefined {
    return [...this.clusters.values()].find((c) => c.name.toLowerCase() === name.toLowerCase());
  }
}
