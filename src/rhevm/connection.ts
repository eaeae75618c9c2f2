/**
 * One engine's REST semantics on top of the transport: detection, auth, Correlation-Id, retries,
 * status codes, faults, the `<action>` envelope and 202 polling (ovirt-api.md §1, §2, §5, §10).
 * The typed facade (client.ts) is a thin layer of paths and bodies over this.
 */
import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import type { Logger } from '../log.js';
import { BasicSessionAuth, SsoAuth, type Authenticator, type Credentials } from './auth.js';
import { parseAction, parseApiRoot, parseEntity, parseFault, parseList } from './codec.js';
import { apiInfoFromRoot, candidatePaths, rememberApi, rememberedApi, type ApiInfo } from './detect.js';
import { actionBody, type ActionParams } from './encode.js';
import { EngineFault, RhevmError } from './errors.js';
import type { ActionResult, ApiVersion, EntityKind, EntityKinds } from './model.js';
import { backoffDelay, DEFAULT_RETRY, pause, type RetryPolicy } from './retry.js';
import { Transport, type HttpRequest, type HttpResponse } from './transport.js';
import { toXml, type XEl } from '../xml/tree.js';

export interface ConnectionOptions {
  /** `https://engine.example.com` (path detected) or a full API URL (`…/ovirt-engine/api`). */
  url: string;
  username: string;
  password: string;
  /** Pinned engine CA (PEM). Required for https. */
  caPem?: string;
  /** Skip detection when the version (and path) are already known, e.g. persisted in the store. */
  version?: ApiVersion;
  apiPath?: string;
  /** Per-call timeout (default 30 s). */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** 202 polling: interval and bound (defaults 2 s and 10 min). */
  pollIntervalMs?: number;
  pollTimeoutMs?: number;
  logger?: Logger;
  /** For tests: deterministic jitter. */
  random?: () => number;
  /** Told of every HTTP exchange with the engine (each try of a retried call): the server's metrics. */
  onCall?: EngineCallObserver;
}

/** `status` is the HTTP status, or undefined when no answer came (network, TLS, timeout, abort). */
export type EngineCallObserver = (c: { method: string; status: number | undefined; seconds: number }) => void;

/** Per logical operation: one Correlation-Id (reused by retries and polls), one signal. */
export interface CallOptions {
  signal?: AbortSignal;
  correlationId?: string;
  timeoutMs?: number;
}

export interface Op {
  correlationId: string;
  signal?: AbortSignal;
  timeoutMs?: number;
  started: number;
}

export interface SendOptions {
  body?: XEl;
  /** Retry on transient failures even though the method is POST (the caller knows it is safe). */
  idempotent?: boolean;
  /** Extra headers (e.g. `Version` for detection). */
  headers?: Record<string, string>;
}

/** A response plus how many tries it took (a 404 on a retried DELETE means the first try worked). */
export type SentResponse = HttpResponse & { attempts?: number };

/** The engine accepts `[0-9a-zA-Z_-]`, at most 36 characters (§1.3); a UUID fits exactly. */
export function newCorrelationId(): string {
  return randomUUID();
}

const CORRELATION_RE = /^[0-9A-Za-z_-]{1,36}$/;

const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE']);

/** Transitional states of an entity that is still being created/copied (§5.1, §7.7, §7.8). */
const LOCKED_STATES = new Set(['image_locked', 'locked']);

export class Connection {
  readonly url: URL;
  readonly username: string;
  // A secret: a #field, out of util.inspect and object dumps (toJSON/toString say what is shown).
  readonly #password: string;
  readonly transport: Transport;
  private readonly retry: RetryPolicy;
  private readonly timeoutMs: number;
  readonly pollIntervalMs: number;
  readonly pollTimeoutMs: number;
  private readonly log: Logger | undefined;
  private readonly random: () => number;
  private readonly onCall: EngineCallObserver | undefined;
  private detected: ApiInfo | undefined;
  private detecting: Promise<ApiInfo> | undefined;
  private auth: Authenticator | undefined;
  /** Counters for figures (calls per VM in the bulk runs) and tests. */
  readonly stats = { requests: 0, retries: 0, reauths: 0 };

  constructor(opts: ConnectionOptions) {
    this.url = new URL(opts.url);
    this.username = opts.username;
    this.#password = opts.password;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.pollIntervalMs = opts.pollIntervalMs ?? 2000;
    this.pollTimeoutMs = opts.pollTimeoutMs ?? 600_000;
    this.log = opts.logger;
    this.random = opts.random ?? Math.random;
    this.onCall = opts.onCall;
    this.transport = new Transport({ origin: this.url.origin, ...(opts.caPem !== undefined && { caPem: opts.caPem }), timeoutMs: this.timeoutMs });
    if (opts.version !== undefined) {
      const path = (opts.apiPath ?? candidatePaths(this.url)[0]!).replace(/\/+$/, '');
      this.detected = { path, version: opts.version };
    }
  }

  private get creds(): Credentials {
    return { username: this.username, password: this.#password };
  }

  private get engineKey(): string {
    return `${this.url.origin}${this.url.pathname.replace(/\/+$/, '')}|${this.username}`;
  }

  op(opts: CallOptions = {}): Op {
    const cid = opts.correlationId ?? newCorrelationId();
    if (!CORRELATION_RE.test(cid)) throw new RhevmError('RB_ERR_RHEVM_PROTOCOL', 'correlation id must be 1-36 of [0-9A-Za-z_-]');
    return { correlationId: cid, started: Date.now(), ...(opts.signal && { signal: opts.signal }), ...(opts.timeoutMs !== undefined && { timeoutMs: opts.timeoutMs }) };
  }

  /** The API location and version, detected once per engine and remembered. */
  async api(o: Op = this.op()): Promise<ApiInfo> {
    if (this.detected) return this.detected;
    const known = rememberedApi(this.engineKey);
    if (known) return (this.detected = known);
    this.detecting ??= this.detect(o).finally(() => {
      this.detecting = undefined;
    });
    return this.detecting;
  }

  private async detect(o: Op): Promise<ApiInfo> {
    // Probe with Basic + persistent-auth: both dialects accept it (§2.1); for v3 the session
    // cookie obtained here is then simply kept.
    const basic = new BasicSessionAuth(this.creds);
    let lastStatus = 0;
    for (const path of candidatePaths(this.url)) {
      const res = await this.exchange('GET', path, o, basic, 4, { headers: { Version: '4' } });
      if (res.status === 401) {
        throw new RhevmError('RB_ERR_RHEVM_AUTH', `engine refused the credentials of ${this.username}`, { path, status: 401, correlationId: o.correlationId });
      }
      lastStatus = res.status;
      if (res.status !== 200) continue;
      const root = parseApiRoot(res.body);
      if (!root.ok) continue;
      const info = apiInfoFromRoot(path, root.value);
      if (info.version === 3) this.auth = basic;
      this.detected = info;
      rememberApi(this.engineKey, info);
      this.log?.info({ engine: this.url.origin, api: info }, 'rhevm api detected');
      return info;
    }
    throw new RhevmError('RB_ERR_RHEVM_PROTOCOL', `no engine API at ${this.url.origin} (tried ${candidatePaths(this.url).join(', ')}; last HTTP ${lastStatus})`, {
      correlationId: o.correlationId,
    });
  }

  private authenticator(api: ApiInfo): Authenticator {
    this.auth ??= api.version === 4 ? new SsoAuth(this.creds, this.transport, { timeoutMs: this.timeoutMs }) : new BasicSessionAuth(this.creds);
    return this.auth;
  }

  /** Resolve `vms/123` or an engine href to an absolute path under the API root. */
  async resolve(p: string, o: Op): Promise<string> {
    if (p.startsWith('/') || /^https?:/i.test(p)) return p;
    const api = await this.api(o);
    return `${api.path}/${p}`;
  }

  /** One API call with auth, Correlation-Id and retries; returns any HTTP status to the caller. */
  async send(method: HttpRequest['method'], p: string, o: Op, s: SendOptions = {}): Promise<SentResponse> {
    const api = await this.api(o);
    const path = await this.resolve(p, o);
    return this.exchange(method, path, o, this.authenticator(api), api.version, s);
  }

  private async exchange(method: HttpRequest['method'], path: string, o: Op, auth: Authenticator, version: ApiVersion, s: SendOptions): Promise<SentResponse> {
    const idempotent = s.idempotent ?? IDEMPOTENT.has(method);
    const body = s.body ? toXml(s.body) : undefined;
    let attempt = 0;
    let reauthed = false;
    for (;;) {
      attempt++;
      let requestSent = false;
      try {
        if (o.signal?.aborted) throw new RhevmError('RB_ERR_RHEVM_ABORTED', 'engine call aborted', { correlationId: o.correlationId });
        const headers: Record<string, string> = {
          Accept: 'application/xml',
          Version: String(version),
          'Correlation-Id': o.correlationId,
          ...(await auth.headers(o.signal)),
          ...(body !== undefined && { 'Content-Type': 'application/xml' }),
          ...s.headers,
        };
        requestSent = true;
        const t0 = Date.now();
        this.stats.requests++;
        const res = await this.transport
          .request({
            method,
            path,
            headers,
            ...(body !== undefined && { body }),
            ...(o.timeoutMs !== undefined && { timeoutMs: o.timeoutMs }),
            ...(o.signal && { signal: o.signal }),
          })
          .then(
            (r) => (this.onCall?.({ method, status: r.status, seconds: (Date.now() - t0) / 1000 }), r),
            (err: unknown) => {
              this.onCall?.({ method, status: undefined, seconds: (Date.now() - t0) / 1000 });
              throw err;
            },
          );
        auth.observe(res);
        this.log?.debug({ method, path, status: res.status, ms: Date.now() - t0, correlationId: o.correlationId, attempt }, 'rhevm call');
        if (res.status === 401 && !reauthed) {
          // Session or token expired: authenticate again, exactly once (§2.3, §10).
          reauthed = true;
          this.stats.reauths++;
          auth.invalidate();
          attempt--;
          continue;
        }
        if (res.status === 401) {
          throw new RhevmError('RB_ERR_RHEVM_AUTH', `engine refused the credentials of ${this.username}`, { method, path, status: 401, correlationId: o.correlationId });
        }
        if (res.status >= 500 && idempotent && (await this.mayRetry(attempt, o))) continue;
        return { ...res, attempts: attempt };
      } catch (err) {
        if (!(err instanceof RhevmError)) throw err;
        const netClass = (err.details as { netClass?: string }).netClass;
        const retryable =
          netClass !== undefined &&
          netClass !== 'tls' &&
          // Before the request left (token fetch, connection refused) any call may be retried.
          (!requestSent || netClass === 'before-send' || idempotent);
        if (retryable && (await this.mayRetry(attempt, o))) continue;
        Object.assign(err.details, { correlationId: o.correlationId, attempts: attempt });
        throw err;
      }
    }
  }

  /** Sleep the backoff and say yes, or say no when the attempts or the time budget are spent. */
  private async mayRetry(attempt: number, o: Op): Promise<boolean> {
    if (attempt >= this.retry.attempts) return false;
    const delay = backoffDelay(attempt, this.retry, this.random);
    if (Date.now() + delay - o.started > this.retry.budgetMs) return false;
    this.stats.retries++;
    await pause(delay, o.signal);
    return true;
  }

  /** Sleep between retries of a non-idempotent add, honouring the same budget. */
  async backoff(attempt: number, o: Op): Promise<boolean> {
    return this.mayRetry(attempt, o);
  }

  get retryPolicy(): RetryPolicy {
    return { ...this.retry };
  }

  /** Throw the engine's fault for an error status; pass successes through. */
  check(res: HttpResponse, method: string, path: string, o: Op): HttpResponse {
    if (res.status < 300) return res;
    throw new EngineFault(res.status, parseFault(res.body), { method, path, correlationId: o.correlationId });
  }

  protocolError(what: string, reason: string, path: string, o: Op): RhevmError {
    return new RhevmError('RB_ERR_RHEVM_PROTOCOL', `unreadable engine reply to ${what}: ${reason}`, { path, correlationId: o.correlationId });
  }

  // ---- typed operations ---------------------------------------------------------------------

  async getEntity<K extends EntityKind>(kind: K, p: string, o: Op): Promise<EntityKinds[K]> {
    const res = this.check(await this.send('GET', p, o), 'GET', p, o);
    const e = parseEntity(kind, res.body);
    if (!e.ok) throw this.protocolError(`GET ${p}`, e.reason, p, o);
    return e.value;
  }

  /** GET that maps 404 to undefined (the engine answers 404 with an empty body for unknown ids, §5.4). */
  async findEntity<K extends EntityKind>(kind: K, p: string, o: Op): Promise<EntityKinds[K] | undefined> {
    try {
      return await this.getEntity(kind, p, o);
    } catch (err) {
      if (err instanceof EngineFault && err.status === 404) return undefined;
      throw err;
    }
  }

  async listEntities<K extends EntityKind>(kind: K, p: string, o: Op): Promise<EntityKinds[K][]> {
    const res = this.check(await this.send('GET', p, o), 'GET', p, o);
    if (res.body.trim() === '') return [];
    const l = parseList(kind, res.body);
    if (!l.ok) throw this.protocolError(`GET ${p}`, l.reason, p, o);
    return l.value;
  }

  /**
   * POST to a collection. 201 (or 200) returns the entity; 202 means the engine is still creating
   * it (VM from a template with disks, template, disk: §5.1) and we poll until it is done.
   * Adds are not idempotent, so a transient failure is not retried blindly: `lookup` asks the
   * engine whether the first try created the entity after all (§10); only if not is it re-sent.
   */
  async addEntity<K extends EntityKind>(
    kind: K,
    p: string,
    body: XEl,
    o: Op,
    lookup: () => Promise<EntityKinds[K] | undefined>,
  ): Promise<EntityKinds[K]> {
    for (let attempt = 1; ; attempt++) {
      let res: HttpResponse | undefined;
      try {
        res = await this.send('POST', p, o, { body });
      } catch (err) {
        const transient =
          err instanceof RhevmError &&
          (err.rhevmCode === 'RB_ERR_RHEVM_TIMEOUT' || (err.rhevmCode === 'RB_ERR_RHEVM_UNREACHABLE' && (err.details as { netClass?: string }).netClass !== 'before-send'));
        if (!transient || !(await this.backoff(attempt, o))) throw err;
      }
      if (res) {
        if (res.status < 500) {
          this.check(res, 'POST', p, o);
          return this.created(kind, res, p, o);
        }
        // 5xx on a POST: the engine may or may not have done it.
        if (!(await this.backoff(attempt, o))) this.check(res, 'POST', p, o);
      }
      const existing = await lookup();
      if (existing) {
        this.log?.info({ kind, id: existing.id, correlationId: o.correlationId }, 'rhevm add: found after a failed try, not re-sent');
        return existing;
      }
    }
  }

  private async created<K extends EntityKind>(kind: K, res: HttpResponse, p: string, o: Op): Promise<EntityKinds[K]> {
    const e = parseEntity(kind, res.body);
    if (!e.ok) throw this.protocolError(`POST ${p}`, e.reason, p, o);
    if (res.status !== 202) return e.value;
    const statusHref = e.value.links['creation_status'];
    if (statusHref) {
      await this.pollTask(statusHref, o);
    }
    const href = e.value.href ?? `${p}/${e.value.id}`;
    // Without a creation_status link, wait for the entity itself to leave its locked state.
    return this.waitFor(
      () => this.getEntity(kind, href, o),
      (x) => {
        const st = (x as { status?: string; creationStatus?: string });
        return !(st.status && LOCKED_STATES.has(st.status)) && (st.creationStatus === undefined || st.creationStatus === 'complete');
      },
      { what: `${kind} ${e.value.id} creation`, ...this.pollBounds(), op: o },
    );
  }

  private pollBounds(): { intervalMs: number; timeoutMs: number } {
    return { intervalMs: this.pollIntervalMs, timeoutMs: this.pollTimeoutMs };
  }

  /**
   * Poll an async status URL (`…/{action}/{taskIds}` or `…/creation_status/{taskIds}`, §5.3) until
   * `complete` or `failed`. A 301 means the task expired and the engine points at the entity:
   * done. The engine reports unknown tasks as complete, so this always ends.
   */
  private async pollTask(href: string, o: Op): Promise<ActionResult> {
    const deadline = Date.now() + this.pollTimeoutMs;
    for (;;) {
      const res = await this.send('GET', href, o);
      if (res.status === 301 || res.status === 302) return { status: 'complete', links: {} };
      this.check(res, 'GET', href, o);
      const a = parseAction(res.body);
      if (!a.ok) throw this.protocolError(`GET ${href}`, a.reason, href, o);
      if (a.value.status === 'failed' || a.value.fault) throw new EngineFault(res.status, a.value.fault ?? { reason: 'Asynchronous task failed', detail: '' }, { path: href, correlationId: o.correlationId });
      if (a.value.status === 'complete') return a.value;
      if (Date.now() + this.pollIntervalMs > deadline) {
        throw new RhevmError('RB_ERR_RHEVM_TIMEOUT', `engine task ${href} not done after ${this.pollTimeoutMs} ms`, { path: href, correlationId: o.correlationId });
      }
      await pause(this.pollIntervalMs, o.signal);
    }
  }

  /**
   * POST an action in its `<action>` envelope (§5.2). 200 → the result (a `failed` status or an
   * `<action><fault>` is thrown as EngineFault); 202 → poll the action's href until done (§5.3).
   * Actions are not retried blindly: a repeated `start`/`migrate` would be a second command.
   */
  async action(p: string, name: string, params: ActionParams, o: Op): Promise<ActionResult> {
    const api = await this.api(o);
    const path = `${await this.resolve(p, o)}/${name}`;
    const res = this.check(await this.send('POST', path, o, { body: actionBody(api.version, params) }), 'POST', path, o);
    if (res.body.trim() === '') return { status: res.status === 202 ? 'in_progress' : 'complete', links: {} };
    const a = parseAction(res.body);
    if (!a.ok) throw this.protocolError(`POST ${path}`, a.reason, path, o);
    if (a.value.fault || a.value.status === 'failed') {
      throw new EngineFault(res.status, a.value.fault ?? { reason: 'Operation Failed', detail: `action ${name} failed` }, { method: 'POST', path, correlationId: o.correlationId });
    }
    if (res.status === 202 && a.value.href && a.value.status !== 'complete') {
      const done = await this.pollTask(a.value.href, o);
      return { ...a.value, status: done.status ?? 'complete' };
    }
    return a.value;
  }

  async putEntity<K extends EntityKind>(kind: K, p: string, body: XEl, o: Op): Promise<EntityKinds[K]> {
    const res = this.check(await this.send('PUT', p, o, { body }), 'PUT', p, o);
    const e = parseEntity(kind, res.body);
    if (!e.ok) throw this.protocolError(`PUT ${p}`, e.reason, p, o);
    return e.value;
  }

  /**
   * DELETE: 200 with `<action><status>complete</status></action>` (or an empty body on 3.0), 204,
   * or 202 when async (§5.1). A 404 on a retried DELETE means the first try worked.
   */
  async remove(p: string, o: Op, opts: { body?: XEl; query?: Record<string, string | boolean | undefined> } = {}): Promise<void> {
    const q = Object.entries(opts.query ?? {}).filter(([, v]) => v !== undefined);
    const path = q.length ? `${p}?${new URLSearchParams(q.map(([k, v]): [string, string] => [k, String(v)])).toString()}` : p;
    const res = await this.send('DELETE', path, o, opts.body ? { body: opts.body } : {});
    if (res.status === 404 && (res.attempts ?? 1) > 1) return;
    this.check(res, 'DELETE', path, o);
    if (res.body.trim() === '') return;
    const a = parseAction(res.body);
    if (a.ok && (a.value.fault || a.value.status === 'failed')) {
      throw new EngineFault(res.status, a.value.fault ?? { reason: 'Operation Failed', detail: 'remove failed' }, { method: 'DELETE', path, correlationId: o.correlationId });
    }
    if (res.status === 202 && a.ok && a.value.href) await this.pollTask(a.value.href, o);
  }

  /**
   * Poll `get` until `done` holds, `fail` holds (RB_ERR_RHEVM_STATE), or the bound passes
   * (RB_ERR_RHEVM_TIMEOUT). Used for 202 entities and for state machines (host `up`, SD `active`).
   */
  async waitFor<T>(
    get: () => Promise<T>,
    done: (x: T) => boolean,
    opts: { what: string; intervalMs?: number; timeoutMs?: number; op?: Op; fail?: (x: T) => string | undefined },
  ): Promise<T> {
    const interval = opts.intervalMs ?? this.pollIntervalMs;
    const deadline = Date.now() + (opts.timeoutMs ?? this.pollTimeoutMs);
    for (;;) {
      const x = await get();
      if (done(x)) return x;
      const why = opts.fail?.(x);
      if (why !== undefined) throw new RhevmError('RB_ERR_RHEVM_STATE', `${opts.what}: ${why}`, { ...(opts.op && { correlationId: opts.op.correlationId }) });
      if (Date.now() + interval > deadline) {
        throw new RhevmError('RB_ERR_RHEVM_TIMEOUT', `${opts.what}: not done after ${opts.timeoutMs ?? this.pollTimeoutMs} ms`, {
          ...(opts.op && { correlationId: opts.op.correlationId }),
        });
      }
      await pause(interval, opts.op?.signal);
    }
  }

  async close(): Promise<void> {
    await this.transport.close();
  }

  toJSON(): object {
    return { url: this.url.href, username: this.username, api: this.detected };
  }
  [inspect.custom](): string {
    return `Connection { url: ${this.url.href}, username: ${this.username}, api: ${this.detected ? `v${this.detected.version} at ${this.detected.path}` : 'undetected'} }`;
  }
  toString(): string {
    return `rhevm ${this.username} at ${this.url.href}`;
  }
}
