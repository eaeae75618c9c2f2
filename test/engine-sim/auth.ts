// Authentication as the engine does it (ovirt-api.md §2): HTTP Basic with user@domain, the
// `Prefer: persistent-auth` JSESSIONID session, and (engine ≥ 4.0) SSO bearer tokens from
// /ovirt-engine/sso/oauth/token. Sessions and tokens live in memory, as in the engine, so an engine
// restart drops them unless the simulator is told to keep them.
import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export interface Credentials { user: string; password: string }

interface Session { user: string; ttlMs: number; lastUsed: number }
interface Token { user: string; scope: string; expiresAt: number }

export type AuthOutcome =
  | { ok: true; user: string; setCookie?: string; dropSessionAfter?: string }
  | { ok: false };

export type SsoResult = { status: 200 | 400; body: Record<string, string> };

export class AuthStore {
  private sessions = new Map<string, Session>();
  private tokens = new Map<string, Token>();

  constructor(
    public users: Credentials[],
    /** Bearer tokens exist only on engines ≥ 4.0 (§2.3). */
    public ssoEnabled: boolean,
    public tokenTtlMs = 10 * 3600_000,
    /** §2.3: 400 {"error":…,"error_description":…} (oauth) or {"error_code":…,"error":…} (REST-API scope). */
    public ssoErrorStyle: 'oauth' | 'restapi' = 'oauth',
  ) {}

  private check(user: string, password: string): boolean {
    // §2.1: the user name must carry its domain/profile ("admin@internal").
    return user.includes('@') && this.users.some((u) => u.user === user && u.password === password);
  }

  /** Decides one API request. `cookiePath` is the API base the JSESSIONID cookie is scoped to. */
  authenticate(headers: IncomingHttpHeaders, cookiePath: string, secure: boolean): AuthOutcome {
    const authz = headers['authorization'] ?? '';
    const prefer = String(headers['prefer'] ?? '').toLowerCase();
    const persistent = prefer.includes('persistent-auth');
    const newAuth = prefer.includes('new-auth');
    const bearer = /^Bearer\s+(\S+)/i.exec(authz);
    if (bearer) {
      const tok = this.tokens.get(bearer[1]!);
      if (!this.ssoEnabled || !tok || tok.expiresAt < Date.now() || !tok.scope.split(/\s+/).includes('ovirt-app-api')) return { ok: false };
      return { ok: true, user: tok.user };
    }
    const sid = /(?:^|;\s*)JSESSIONID=([^;]+)/.exec(String(headers['cookie'] ?? ''))?.[1];
    if (sid && !newAuth) {
      const s = this.sessions.get(sid);
      if (s && Date.now() - s.lastUsed <= s.ttlMs) {
        s.lastUsed = Date.now();
        // §2.2: a request without `Prefer: persistent-auth` ends the session after it is served.
        return persistent ? { ok: true, user: s.user } : { ok: true, user: s.user, dropSessionAfter: sid };
      }
      if (s) this.sessions.delete(sid);
    }
    const basic = /^Basic\s+(\S+)/i.exec(authz);
    if (!basic) return { ok: false };
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0 || !this.check(decoded.slice(0, colon), decoded.slice(colon + 1))) return { ok: false };
    const user = decoded.slice(0, colon);
    if (!persistent) return { ok: true, user };
    const ttlMin = Number(headers['session-ttl']);
    const id = randomBytes(18).toString('base64url');
    this.sessions.set(id, { user, ttlMs: Number.isFinite(ttlMin) && ttlMin >= 1 ? ttlMin * 60_000 : 180 * 60_000, lastUsed: Date.now() });
    return { ok: true, user, setCookie: `JSESSIONID=${id}; Path=${cookiePath}; ${secure ? 'Secure; ' : ''}HttpOnly` };
  }

  dropSession(id: string): void {
    this.sessions.delete(id);
  }

  /** §2.3 POST /ovirt-engine/sso/oauth/token (grant_type=password, scope=ovirt-app-api). */
  token(form: URLSearchParams): SsoResult {
    const err = (code: string, message: string): SsoResult =>
      ({ status: 400, body: this.ssoErrorStyle === 'oauth' ? { error: code, error_description: message } : { error: message, error_code: code } });
    for (const p of ['grant_type', 'scope']) if (!form.get(p)) return err('invalid_request', `Missing parameter: '${p}'`);
    if (form.get('grant_type') !== 'password') return err('unsupported_grant_type', `The authorization grant type '${form.get('grant_type')}' is not supported by the authorization server.`);
    for (const p of ['username', 'password']) if (!form.get(p)) return err('invalid_request', `Missing parameter: '${p}'`);
    const user = form.get('username')!;
    if (!this.check(user, form.get('password')!)) return err('access_denied', `Cannot authenticate user '${user}': The username or password is incorrect..`);
    const scope = form.get('scope')!;
    const access = randomBytes(20).toString('base64');
    const expiresAt = Date.now() + this.tokenTtlMs;
    this.tokens.set(access, { user, scope, expiresAt });
    return { status: 200, body: { access_token: access, scope, exp: String(expiresAt), token_type: 'bearer' } };
  }

  revoke(token: string): void {
    this.tokens.delete(token);
  }

  /** Test hooks: make every session / token invalid (the client must re-authenticate once). */
  expireAll(): void {
    this.sessions.clear();
    this.tokens.clear();
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  get tokenCount(): number {
    return this.tokens.size;
  }
}
