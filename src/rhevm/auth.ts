/**
 * Authentication to the engine (ovirt-api.md §2).
 *
 * - v3: HTTP Basic with `Prefer: persistent-auth`; the engine answers with a JSESSIONID cookie and
 *   later calls send the cookie instead of the password (what the v3 SDK does, §2.2). Without
 *   `Prefer: persistent-auth` every call would log a new engine session in and out.
 * - v4: an SSO bearer token from `/ovirt-engine/sso/oauth/token` (grant_type=password,
 *   scope=ovirt-app-api, §2.3). If the SSO endpoint does not exist (404: a proxy that only
 *   forwards `/ovirt-engine/api`), fall back to Basic + persistent-auth, which v4 still accepts (§2.1).
 * - There are no refresh tokens: on 401 the caller invalidates and authenticates again, once.
 *
 * The password and the token live in private fields: they are not enumerable, not in JSON, not in
 * `util.inspect` output, and never copied into errors.
 */
import { inspect } from 'node:util';
import { parseSsoError, parseSsoToken } from './codec.js';
import { RhevmError } from './errors.js';
import type { HttpResponse, Transport } from './transport.js';

export interface Credentials {
  /** `user@domain`, e.g. admin@internal */
  username: string;
  password: string;
}

export interface Authenticator {
  readonly scheme: 'basic' | 'sso';
  /** Headers that authenticate one API call; may fetch a token first. */
  headers(signal?: AbortSignal): Promise<Record<string, string>>;
  /** Look at an API response (session cookie). */
  observe(res: HttpResponse): void;
  /** Drop the session or token after a 401, so that the next call authenticates afresh. */
  invalidate(): void;
}

/** `Set-Cookie: JSESSIONID=…; Path=/ovirt-engine/api; Secure; HttpOnly` → the cookie pair. */
export function sessionCookie(res: HttpResponse): string | undefined {
  const raw = res.headers['set-cookie'];
  const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  for (const c of list) {
    const pair = c.split(';')[0]!.trim();
    if (/^JSESSIONID=/i.test(pair) && pair.length > 'JSESSIONID='.length) return pair;
  }
  return undefined;
}

export class BasicSessionAuth implements Authenticator {
  readonly scheme = 'basic' as const;
  readonly username: string;
  // Secrets are #fields: out of util.inspect and object dumps, whatever logs the object.
  readonly #basic: string;
  #cookie: string | undefined;

  constructor(creds: Credentials) {
    this.username = creds.username;
    this.#basic = 'Basic ' + Buffer.from(`${creds.username}:${creds.password}`, 'utf8').toString('base64');
  }

  async headers(): Promise<Record<string, string>> {
    // Credentials only while there is no session, as the v3 SDK does (§2.2).
    return this.#cookie ? { Prefer: 'persistent-auth', Cookie: this.#cookie } : { Prefer: 'persistent-auth', Authorization: this.#basic };
  }

  observe(res: HttpResponse): void {
    const c = sessionCookie(res);
    if (c) this.#cookie = c;
  }

  invalidate(): void {
    this.#cookie = undefined;
  }

  get hasSession(): boolean {
    return this.#cookie !== undefined;
  }

  toJSON(): object {
    return { scheme: this.scheme, username: this.username };
  }
  [inspect.custom](): string {
    return `BasicSessionAuth { username: ${this.username} }`;
  }
}

export const SSO_TOKEN_PATH = '/ovirt-engine/sso/oauth/token';
/** Refresh a token this long before the engine says it expires. */
const EXPIRY_MARGIN_MS = 60_000;

export class SsoAuth implements Authenticator {
  readonly username: string;
  // Secrets are #fields: out of util.inspect and object dumps, whatever logs the object.
  readonly #password: string;
  private readonly transport: Transport;
  private readonly timeoutMs: number;
  #token: { value: string; expiresAt?: number } | undefined;
  #pending: Promise<string> | undefined;
  /** Set when the engine has no SSO endpoint; then Basic + session is used (§2.1). */
  private fallback: BasicSessionAuth | undefined;
  private readonly now: () => number;

  constructor(creds: Credentials, transport: Transport, opts: { timeoutMs: number; now?: () => number }) {
    this.username = creds.username;
    this.#password = creds.password;
    this.transport = transport;
    this.timeoutMs = opts.timeoutMs;
    this.now = opts.now ?? Date.now;
  }

  get scheme(): 'basic' | 'sso' {
    return this.fallback ? 'basic' : 'sso';
  }

  async headers(signal?: AbortSignal): Promise<Record<string, string>> {
    if (this.fallback) return this.fallback.headers();
    const tok = this.#token;
    if (tok && (tok.expiresAt === undefined || tok.expiresAt - EXPIRY_MARGIN_MS > this.now())) {
      return { Authorization: `Bearer ${tok.value}` };
    }
    // Concurrent calls share one token request.
    this.#pending ??= this.fetchToken(signal).finally(() => {
      this.#pending = undefined;
    });
    const value = await this.#pending;
    if (this.fallback) return (this.fallback as BasicSessionAuth).headers();
    return { Authorization: `Bearer ${value}` };
  }

  private async fetchToken(signal?: AbortSignal): Promise<string> {
    const form = new URLSearchParams({ grant_type: 'password', scope: 'ovirt-app-api', username: this.username, password: this.#password });
    const res = await this.transport.request({
      method: 'POST',
      path: SSO_TOKEN_PATH,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: form.toString(),
      timeoutMs: this.timeoutMs,
      ...(signal && { signal }),
    });
    if (res.status === 404) {
      this.fallback = new BasicSessionAuth({ username: this.username, password: this.#password });
      return '';
    }
    if (res.status === 200) {
      const t = parseSsoToken(res.body);
      if (!t.ok) throw new RhevmError('RB_ERR_RHEVM_PROTOCOL', `unreadable SSO reply: ${t.reason}`, { path: SSO_TOKEN_PATH, status: 200 });
      this.#token = { value: t.value.accessToken, ...(t.value.expiresAt !== undefined && { expiresAt: t.value.expiresAt }) };
      return t.value.accessToken;
    }
    const e = parseSsoError(res.body);
    if (res.status >= 500) {
      throw new RhevmError('RB_ERR_RHEVM_UNREACHABLE', `SSO endpoint failed with HTTP ${res.status}`, { path: SSO_TOKEN_PATH, status: res.status, netClass: 'transient' });
    }
    // 400 access_denied (engine), or 401 from some proxies (§2.3).
    throw new RhevmError('RB_ERR_RHEVM_AUTH', e ? `SSO refused ${this.username}: ${e.message || e.code}` : `SSO refused ${this.username} (HTTP ${res.status})`, {
      path: SSO_TOKEN_PATH,
      status: res.status,
      ...(e && { ssoError: e.code }),
    });
  }

  observe(res: HttpResponse): void {
    this.fallback?.observe(res);
  }

  invalidate(): void {
    this.#token = undefined;
    this.fallback?.invalidate();
  }

  toJSON(): object {
    return { scheme: this.scheme, username: this.username };
  }
  [inspect.custom](): string {
    return `SsoAuth { username: ${this.username}, scheme: ${this.scheme} }`;
  }
}
