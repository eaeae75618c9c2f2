/**
 * The admin API's records as they travel, i.e. what each route's response schema lets through:
 * one definition, which the routes type their replies with (so a service that stops producing a
 * field fails to compile) and the web console reads. Plain types only: the console is checked for
 * the browser, without Node's types, so this module imports nothing but pure domain modules.
 * The boot preview is the domain's own `BootPreview` (src/domain/boot.ts), sent as it is.
 */
import type { DistroRecord } from '../domain/distro.js';
import type { EventRecord } from '../domain/event.js';
import type { HypervisorView } from '../domain/hypervisor.js';
import type { BootAction, NodeView } from '../domain/node.js';

/** The one error body every API route returns: a stable code (src/errors.ts), a message for humans, details. */
export interface ApiErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

/** GET /nodes, /nodes/:range. The trigger token is a per-install secret: the schema has no field for it. */
export type ApiNode = NodeView;

/** POST /nodes: the names added, and the rows refused with the field at fault. */
export interface ApiNodesAdded {
  added: string[];
  errors: { row: number; name?: string; field: string; message: string }[];
}

/** POST /nodeset: the boot action asked for; `next` is what follows the node's current one. */
export const NODESET_ACTIONS = ['install', 'local', 'next', 'discover'] as const;
export type ApiNodesetAction = (typeof NODESET_ACTIONS)[number];

/** POST /nodeset: one row per node whose boot action was set. */
export interface ApiNodesetChange {
  name: string;
  from: BootAction;
  to: BootAction;
}

/** The event kinds that count as a node's boot contact, for GET /last-contact and the live node table. */
export const CONTACT_KINDS = ['node.dhcp', 'node.tftp', 'node.installing', 'node.booted'];

/** GET /last-contact: node name → its latest boot contact (DHCP, TFTP, HTTP, trigger). */
export type ApiLastContact = Record<string, { at: string; kind: string; message: string }>;

/** GET /groups, /groups/:name. */
export interface ApiGroup {
  name: string;
  members: string[];
}

/** POST /groups/:name/members, DELETE /groups/:name[/members/:range]: the nodes whose membership changed. */
export interface ApiGroupChange {
  group: string;
  changed: string[];
}

/** A timeline row: GET /events, /nodes/:range/events, and `event` on the live stream. */
export type ApiEvent = EventRecord;

/** GET /jobs, /jobs/:id: work that outlives a request (an ISO import, an engine hand-off). */
export interface ApiJob {
  id: string;
  kind: string;
  /** What the job works on, e.g. `rhevh6.5/x86_64`. */
  subject: string;
  state: 'queued' | 'running' | 'succeeded' | 'failed' | 'interrupted';
  /** The process that runs the job, and where. */
  pid: number;
  host: string;
  progress: { phase: string; done: number; total: number };
  params: Record<string, unknown>;
  result: Record<string, unknown> | null;
  error: { code: string; message: string } | null;
  createdAt: string;
  updatedAt: string;
}

/** `job` on the live stream: progress, without the params (paths, engine names) a browser does not need. */
export type ApiJobUpdate = Pick<ApiJob, 'id' | 'kind' | 'subject' | 'state' | 'progress' | 'error' | 'updatedAt'>;

/** `ready` on the live stream: the client has been sent every event up to this id, and is live from here. */
export interface ApiStreamReady {
  lastEventId: number;
}

/** GET /distros, /distros/:name: an imported ISO and what was made from it. */
export type ApiDistro = DistroRecord;

/** POST /distros, 202: the import runs as this job. */
export interface ApiImportStarted {
  jobId: string;
  distro: string;
}

/** POST /distros, 200: nothing was left to do, or it was done before the answer. */
export interface ApiImportDone {
  status: 'imported' | 'unchanged';
  distro: ApiDistro;
  notes: string[];
}

/** GET /engines, /engines/:name. The password and the CA go in and never come out; `caPinned` says whether there is a CA. */
export interface ApiEngine {
  name: string;
  url: string;
  username: string;
  caPinned: boolean;
  caFingerprint: string | null;
  /** What version detection found last, e.g. `4 /ovirt-engine/api`. */
  apiVersion: string | null;
  createdAt: string;
  updatedAt: string;
}

/** POST /engines/:name/test: what the engine's API root said. */
export interface ApiEngineProbe {
  version: number;
  /** The API root's path on the engine, e.g. `/ovirt-engine/api`. */
  path: string;
  productName?: string;
  productVersion?: string;
}

/** GET /hypervisors: an engine's host, and the rhevboot node it is when one matches. */
export type ApiHypervisor = HypervisorView;
