/** The API's records as the console reads them (see src/http/routes/*.ts for the schemas). */

export interface EventRecord {
  id: number;
  at: string;
  kind: string;
  subjectType: string;
  subject: string;
  message: string;
  data: Record<string, unknown>;
}

export interface NodeRecord {
  name: string;
  nics: { mac: string; install: boolean }[];
  ip: string | null;
  groups: string[];
  distro: string | null;
  arch: string;
  manager: string | null;
  cluster: string | null;
  bootAction: string;
  status: string;
  statusReason: string | null;
  updatedAt: string;
}

export interface JobRecord {
  id: string;
  kind: string;
  subject: string;
  state: 'queued' | 'running' | 'succeeded' | 'failed' | 'interrupted';
  progress: { phase: string; done: number; total: number };
  error: { code: string; message: string } | null;
  updatedAt: string;
  createdAt?: string;
}

export interface DistroRecord {
  name: string;
  arch: string;
  family: string;
  version: string;
  volumeId: string;
  sourcePath: string;
  isoSha256: string;
  isoBytes: number;
  fileCount: number;
  bytes: number;
  pxeInitrdSha256: string;
  importedAt: string;
  durationMs: number;
}

export interface EngineRecord {
  name: string;
  url: string;
  username: string;
  caPinned: boolean;
  caFingerprint: string | null;
  apiVersion: string | null;
}

export interface HypervisorRecord {
  engine: string;
  id: string;
  name: string;
  address: string | null;
  status: string | null;
  statusDetail: string | null;
  node: string | null;
}

export interface GroupSummary {
  name: string;
  members: string[];
}

export type Firmware = 'bios' | 'uefi' | 'ipxe' | 'uefi-http';

export interface BootPreview {
  node: string;
  firmware: Firmware;
  mac: string;
  dhcp: { address: string; plan: { action: string; bootFile?: string; vendorClass?: string; why: string[] } };
  tftp: { file: string; content: string | null; why: string[] }[];
  http: { url: string; content: string | null; why: string[] };
}

export type LastContact = Record<string, { at: string; kind: string; message: string }>;

export const NODE_STATUSES = ['defined', 'install', 'installing', 'booted', 'registering', 'pending_approval', 'up', 'failed'] as const;
export const NODESET_ACTIONS = ['install', 'local', 'next', 'discover'] as const;
