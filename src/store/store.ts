import type { DistroRecord } from '../domain/distro.js';
import type { EventRecord, NewEvent } from '../domain/event.js';
import type { LeaseRecord } from '../domain/lease.js';
import type { NodeRecord } from '../domain/node.js';

export type { DistroRecord } from '../domain/distro.js';
export type { EventRecord, NewEvent } from '../domain/event.js';
export type { LeaseRecord, LeaseState } from '../domain/lease.js';

/**
 * The state store as services see it. Every method is asynchronous even though SQLite answers
 * synchronously, so that a PostgreSQL store (several appliances sharing one region database, as
 * MAAS rack controllers do) can implement the same interface without services changing.
 */


export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'interrupted';

export interface JobProgress {
  phase: string;
  done: number;
  total: number;
  /** What a resumable job needs to pick up where it stopped (e.g. the engine's host id). */
  detail?: Record<string, unknown>;
}

export interface JobRecord {
  id: string;
  kind: string;
  /** What the job works on, e.g. `rhevh6.5/x86_64`; at most one running job per kind+subject. */
  subject: string;
  state: JobState;
  /** Process that runs the job: a job whose process is gone was interrupted. */
  pid: number;
  host: string;
  progress: JobProgress;
  params: Record<string, unknown>;
  result: Record<string, unknown> | null;
  error: { code: string; message: string } | null;
  /** Epoch ms before which a queued job is not claimed (retry backoff). */
  runAfter: number;
  /** How many times the job was put back in the queue after a failed attempt. */
  attempts: number;
  createdAt: string;
  updatedAt: string;
}

export interface TokenRecord {
  id: number;
  name: string;
  /** sha256 of the token; the token itself is never stored. */
  hash: string;
  createdAt: string;
  lastUsedAt: string | null;
}

export interface LeaseRepository {
  /** Every lease, for the DHCP server to load into memory at start. */
  all(): Promise<LeaseRecord[]>;
  /** The lease on one address, if any. */
  get(ip: string): Promise<LeaseRecord | undefined>;
  /**
   * Writes many leases in one transaction (group commit: the server batches the leases of many
   * packets, commits once, then sends their ACKs). Replaces any lease with the same ip.
   */
  upsertMany(leases: LeaseRecord[]): Promise<void>;
  remove(ips: string[]): Promise<void>;
}

export interface NodeRepository {
  get(name: string): Promise<NodeRecord | undefined>;
  byMac(mac: string): Promise<NodeRecord | undefined>;
  byIp(ip: string): Promise<NodeRecord | undefined>;
  list(): Promise<NodeRecord[]>;
  /** Inserts or replaces nodes with their NICs (in the caller's transaction, if any). */
  putMany(nodes: NodeRecord[]): Promise<void>;
  remove(names: string[]): Promise<number>;
  /** Reserved addresses: ip -> MACs of the node that holds it (for the DHCP pools). */
  reservations(): Promise<Map<string, string[]>>;
  /** Who holds a MAC or an address already (for clear duplicate errors). */
  holders(q: { macs: string[]; ips: string[] }): Promise<{ macs: Map<string, string>; ips: Map<string, string> }>;
}

export interface SecretRepository {
  get(name: string): Promise<string | undefined>;
  set(name: string, value: string): Promise<void>;
  remove(name: string): Promise<boolean>;
  /** Names and when they were set; never the values. */
  list(): Promise<{ name: string; updatedAt: string }[]>;
}

export interface DistroRepository {
  get(name: string, arch: string): Promise<DistroRecord | undefined>;
  list(): Promise<DistroRecord[]>;
  /** Inserts or replaces the record for name+arch. */
  put(record: DistroRecord): Promise<void>;
  remove(name: string, arch: string): Promise<boolean>;
}

export interface EventRepository {
  append(event: NewEvent): Promise<EventRecord>;
  /** Oldest first; with `latest`, the last `limit` events (still oldest first). */
  list(filter?: { subjectType?: string; subject?: string; kindPrefix?: string; afterId?: number; limit?: number; latest?: boolean }): Promise<EventRecord[]>;
  /** The newest event of any of `kinds` per subject of a type (e.g. each node's last boot contact). */
  lastPerSubject(filter: { subjectType: string; kinds: string[] }): Promise<EventRecord[]>;
}

export interface JobRepository {
  create(job: Omit<JobRecord, 'createdAt' | 'updatedAt' | 'result' | 'error' | 'runAfter' | 'attempts'>): Promise<JobRecord>;
  /** Adds a queued job; undefined if a live (queued or running) job of that kind+subject exists. */
  enqueue(job: { id: string; kind: string; subject: string; params: Record<string, unknown>; runAfter?: number }): Promise<JobRecord | undefined>;
  /** Atomically takes the oldest due queued job of a kind and marks it running in this process. */
  claim(kind: string, at: { now: number; pid: number; host: string }): Promise<JobRecord | undefined>;
  /** Puts a running job back in the queue (after a failed attempt, or its process died). */
  requeue(id: string, runAfter: number, progress: JobProgress, error?: { code: string; message: string }): Promise<void>;
  get(id: string): Promise<JobRecord | undefined>;
  list(filter?: { kind?: string; subject?: string; state?: JobState; limit?: number }): Promise<JobRecord[]>;
  /** How many jobs (of a kind) are in each state: one GROUP BY, for the metrics scrape. */
  countByState(kind?: string): Promise<Partial<Record<JobState, number>>>;
  updateProgress(id: string, progress: JobProgress): Promise<void>;
  finish(id: string, state: Exclude<JobState, 'running'>, outcome: { result?: Record<string, unknown>; error?: { code: string; message: string } }): Promise<void>;
}

export interface TokenRepository {
  create(name: string, hash: string): Promise<TokenRecord>;
  findByHash(hash: string): Promise<TokenRecord | undefined>;
  list(): Promise<TokenRecord[]>;
  remove(name: string): Promise<boolean>;
  touch(id: number, at: string): Promise<void>;
}

export interface EngineRecord {
  name: string;
  /** rhevm: a RHEV-M / oVirt engine; libvirt: a KVM host, `url` its libvirt URI. */
  kind: 'rhevm' | 'libvirt';
  url: string;
  username: string;
  /** Write-only: never returned by the API or the CLI, never logged. */
  password: string;
  /** The engine CA the admin pinned; null only for a plain-http lab engine. */
  caPem: string | null;
  caFingerprint: string | null;
  /** What version detection found last (e.g. `4 /ovirt-engine/api`). */
  apiVersion: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface EngineRepository {
  get(name: string): Promise<EngineRecord | undefined>;
  list(): Promise<EngineRecord[]>;
  put(engine: Omit<EngineRecord, 'createdAt' | 'updatedAt' | 'kind'> & { kind?: EngineRecord['kind'] }): Promise<EngineRecord>;
  remove(name: string): Promise<boolean>;
}

export interface Repositories {
  nodes: NodeRepository;
  secrets: SecretRepository;
  distros: DistroRepository;
  leases: LeaseRepository;
  events: EventRepository;
  jobs: JobRepository;
  tokens: TokenRepository;
  engines: EngineRepository;
}

export interface Store extends Repositories {
  /**
   * Runs `fn` in one transaction: everything it does through `tx` commits together or not at all.
   * Calls made outside `tx` while it runs wait for it to finish.
   */
  transaction<T>(fn: (tx: Repositories) => Promise<T>): Promise<T>;
  /** Schema version after migrations, and a cheap liveness probe for /healthz. */
  schemaVersion(): Promise<number>;
  /**
   * Changes whenever nodes, NICs, distros or secrets change, in any process sharing the store:
   * what a cache of rendered boot configs must be checked against before it is trusted.
   */
  bootGeneration(): Promise<number>;
  /**
   * The same, synchronously, when nothing of this process is using the store (the usual case), else
   * undefined (use bootGeneration()). A boot storm checks it on every request: no promise hop, and
   * one read per turn of the event loop (the value is not kept past the turn, nor past any use of
   * the store by this process).
   */
  bootGenerationNow(): number | undefined;
  close(): Promise<void>;
}
