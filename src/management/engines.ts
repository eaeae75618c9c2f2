import { fetchEngineCa, readCaPem, RhevmClient, sameFingerprint, type ApiInfo, type EngineCa } from '../rhevm/index.js';
import { MANAGER_NAME } from '../domain/node.js';
import { RhevbootError } from '../errors.js';
import type { Logger } from '../log.js';
import type { EngineRecord, Store } from '../store/store.js';
import type { EventService } from '../events/events.js';
import type { EngineCallObserver } from '../rhevm/connection.js';

/** An engine as the API and the CLI show it: everything but the password. */
export type EngineView = Omit<EngineRecord, 'password' | 'caPem'> & { caPinned: boolean };

export interface EngineInput {
  name: string;
  url: string;
  username: string;
  password: string;
  /** The engine CA, when the admin has it as a file; otherwise pin it with `test`. */
  caPem?: string;
}

/** user@domain, as the engine's login expects (ovirt-api.md §2.1). */
const USER = /^[^@\s:]+@[^@\s:]+$/;

function view(e: EngineRecord): EngineView {
  const { password: _password, caPem, ...rest } = e;
  return { ...rest, caPinned: caPem !== null };
}

/**
 * The RHEV-M / oVirt engines hosts are handed to. Nodes name their engine (`manager`), like xCAT
 * keyed hypervisors by hypervisor.mgr. TLS is never spoken unverified: an https engine is used
 * only with a pinned CA, which the admin pins by comparing its fingerprint (`pinCa`). Plain http
 * is accepted for labs only, and said so.
 */
export class EngineService {
  constructor(private readonly deps: { store: Store; events: EventService; log: Logger; timeoutMs?: number; onCall?: EngineCallObserver }) {}

  async list(): Promise<EngineView[]> {
    return (await this.deps.store.engines.list()).map(view);
  }

  async get(name: string): Promise<EngineView> {
    return view(await this.record(name));
  }

  private async record(name: string, repos: Pick<Store, 'engines'> = this.deps.store): Promise<EngineRecord> {
    const e = await repos.engines.get(name);
    if (!e) throw new RhevbootError('RB_ERR_NOT_FOUND', `no engine named ${name}`, { name });
    return e;
  }

  /** Adds or replaces an engine. A changed URL drops a pinned CA that came with the old one. */
  async add(input: EngineInput): Promise<EngineView> {
    if (!MANAGER_NAME.test(input.name)) throw new RhevbootError('RB_ERR_INVALID', `engine name '${input.name}' must be letters, digits, '_', '.' or '-'`, { field: 'name' });
    let url: URL;
    try {
      url = new URL(input.url);
    } catch {
      throw new RhevbootError('RB_ERR_INVALID', `engine URL '${input.url}' is not a URL`, { field: 'url' });
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new RhevbootError('RB_ERR_INVALID', `engine URL must be https:// (or http:// for a lab), not ${url.protocol}`, { field: 'url' });
    if (url.username || url.password) throw new RhevbootError('RB_ERR_INVALID', 'put the user in --user and the password in the prompt, not in the URL', { field: 'url' });
    // The engine's URL is its address, shown in events and logs: nothing secret may ride in it.
    if (url.search || url.hash) throw new RhevbootError('RB_ERR_INVALID', 'the engine URL takes no query string or fragment (the API paths are found by detection)', { field: 'url' });
    if (!USER.test(input.username)) throw new RhevbootError('RB_ERR_INVALID', `engine user '${input.username}' must be user@domain (e.g. admin@internal)`, { field: 'username' });
    if (!input.password) throw new RhevbootError('RB_ERR_INVALID', 'the engine password must not be empty', { field: 'password' });
    let ca: EngineCa | undefined;
    if (input.caPem !== undefined) {
      // The admin's own PEM (--ca-file, caPem): a bad one is bad input, not the engine's fault.
      const read = readCaPem(input.caPem);
      if (!('ca' in read)) throw new RhevbootError('RB_ERR_INVALID', `the engine CA (caPem, --ca-file) is not usable: ${read.reason}`, { field: 'caPem' });
      ca = read.ca;
    }
    const normalUrl = url.toString().replace(/\/+$/, '');
    return this.deps.store.transaction(async (tx) => {
      const old = await tx.engines.get(input.name);
      const keepCa = old && old.url === normalUrl && !ca;
      const saved = await tx.engines.put({
        name: input.name,
        url: normalUrl,
        username: input.username,
        password: input.password,
        caPem: ca?.pem ?? (keepCa ? old.caPem : null),
        caFingerprint: ca?.sha256 ?? (keepCa ? old.caFingerprint : null),
        apiVersion: keepCa ? old.apiVersion : null,
      });
      await this.deps.events.record(
        { kind: old ? 'engine.changed' : 'engine.added', subjectType: 'engine', subject: input.name, message: `engine ${input.name} ${old ? 'changed' : 'added'}: ${normalUrl} as ${input.username}`, data: { url: normalUrl, caFingerprint: saved.caFingerprint } },
        tx,
      );
      return view(saved);
    });
  }

  async remove(name: string, opts: { force?: boolean } = {}): Promise<void> {
    await this.deps.store.transaction(async (tx) => {
      await this.record(name, tx);
      const users = (await tx.nodes.list()).filter((n) => n.manager === name).map((n) => n.name);
      if (users.length && !opts.force) {
        throw new RhevbootError('RB_ERR_CONFLICT', `engine ${name} is the manager of ${users.length} node(s) (${users.slice(0, 10).join(', ')}${users.length > 10 ? ', …' : ''}); change them first or force`, { nodes: users.slice(0, 100) });
      }
      await tx.engines.remove(name);
      await this.deps.events.record({ kind: 'engine.removed', subjectType: 'engine', subject: name, message: `engine ${name} removed`, data: {} }, tx);
    });
  }

  /** Downloads the engine's CA (unauthenticated, unverified: it is what is being decided on). */
  async fetchCa(name: string): Promise<EngineCa> {
    const e = await this.record(name);
    return fetchEngineCa(e.url, { timeoutMs: this.deps.timeoutMs ?? 15_000 });
  }

  /**
   * Pins a CA the admin has checked: the one just fetched, but only when its SHA-256 fingerprint
   * is the one the admin says (the CLI shows it and asks, or takes --fingerprint).
   */
  async pinCa(name: string, ca: EngineCa, fingerprint: string): Promise<EngineView> {
    if (!sameFingerprint(ca.sha256, fingerprint)) {
      throw new RhevbootError('RB_ERR_INVALID', `the engine's CA has fingerprint ${ca.sha256}, not ${fingerprint}: not pinned`, { field: 'fingerprint' });
    }
    return this.deps.store.transaction(async (tx) => {
      const e = await this.record(name, tx);
      const saved = await tx.engines.put({ ...e, caPem: ca.pem, caFingerprint: ca.sha256 });
      await this.deps.events.record({ kind: 'engine.ca-pinned', subjectType: 'engine', subject: name, message: `engine ${name}: CA ${ca.subject} pinned (SHA-256 ${ca.sha256})`, data: { sha256: ca.sha256, subject: ca.subject, notAfter: ca.notAfter } }, tx);
      return view(saved);
    });
  }

  /** Logs in with the pinned CA and detects the API version, which is kept for later calls. */
  async test(name: string): Promise<ApiInfo> {
    const e = await this.record(name);
    const client = this.clientFor(e);
    try {
      const api = await client.connect();
      await this.deps.store.engines.put({ ...e, apiVersion: `${api.version} ${api.path}` });
      return api;
    } finally {
      await client.close();
    }
  }

  /**
   * A client for one engine, refusing https without a pinned CA. The caller closes it.
   * `pollIntervalMs` sets how often the client polls the engine's 202 tasks (VM clones, template
   * copies); the VM service passes its own so a bulk run does not idle 2 s per copy.
   */
  async client(name: string, opts: { pollIntervalMs?: number } = {}): Promise<RhevmClient> {
    return this.clientFor(await this.record(name), opts);
  }

  private clientFor(e: EngineRecord, opts: { pollIntervalMs?: number } = {}): RhevmClient {
    if (e.kind !== 'rhevm') throw new RhevbootError('RB_ERR_INVALID', `${e.name} is a ${e.kind} manager, not a RHEV-M engine`, { name: e.name });
    if (e.url.startsWith('https:') && !e.caPem) {
      throw new RhevbootError('RB_ERR_INVALID', `engine ${e.name} has no pinned CA: run 'rhevboot rhevm test ${e.name}' and confirm its fingerprint`, { name: e.name });
    }
    const known = /^([34]) (\S+)$/.exec(e.apiVersion ?? '');
    return new RhevmClient({
      url: e.url,
      username: e.username,
      password: e.password,
      ...(e.caPem ? { caPem: e.caPem } : {}),
      ...(known ? { version: Number(known[1]) as 3 | 4, apiPath: known[2]! } : {}),
      ...(this.deps.timeoutMs ? { timeoutMs: this.deps.timeoutMs } : {}),
      ...(opts.pollIntervalMs ? { pollIntervalMs: opts.pollIntervalMs } : {}),
      logger: this.deps.log,
      ...(this.deps.onCall ? { onCall: this.deps.onCall } : {}),
    });
  }
}
