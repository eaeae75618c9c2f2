// Request context and router of the REST API (both flavours). Paths are matched segment by segment
// after the base (`/api`, `/ovirt-engine/api`, `/ovirt-engine/api/v3|v4`); matrix parameters
// (`/vms;max=10`, v3's form for max/case_sensitive, §4.2) are split off each segment.
import type { IncomingHttpHeaders } from 'node:http';
import { EngineFault, incomplete, syntaxError } from './errors.js';
import type { R } from './render.js';
import { type EngineState } from './state.js';
import { BodySyntaxError, el, parseBool, parseBody, t, type El, type Node } from './xml.js';

export interface EngineConfigView {
  /** Address the engine believes it has (used in fault links and registration). */
  engineHost: string;
  /** §8.4 AutoApprovePatterns: regexes against hostname/unique id; matching nodes skip pending_approval. */
  autoApprovePatterns: RegExp[];
  /** §8.4 AutoRegistrationDefaultVdsGroupID: the cluster self-registered hosts land in. */
  autoRegistrationClusterId?: string;
}

export interface Result { status: number; body?: El; headers?: Record<string, string> }

export class Ctx {
  readonly params: Record<string, string> = {};
  /** The parsed <action> of an action call, echoed in its result or its fault (§5.2, §5.4). */
  action?: Node;
  private parsed?: Node;

  constructor(
    readonly r: R,
    readonly st: EngineState,
    readonly cfg: EngineConfigView,
    readonly method: string,
    readonly segs: string[],
    readonly matrix: Record<string, string>,
    readonly query: URLSearchParams,
    readonly headers: IncomingHttpHeaders,
    readonly rawBody: string,
    readonly correlationId: string,
  ) {}

  header(name: string): string | undefined {
    const v = this.headers[name.toLowerCase()];
    return Array.isArray(v) ? v.join(', ') : v;
  }

  /** A parameter given as query (`?force=true`) or matrix (`;force=true`) parameter. */
  param(name: string): string | undefined {
    return this.query.get(name) ?? this.matrix[name];
  }

  bool(name: string): boolean | undefined {
    return parseBool(this.param(name));
  }

  /** §1.3 Expect: 201-created / 202-accepted, also via X-Ovirt-Expect (Apache drops Expect). */
  expect(): string | undefined {
    return (this.header('x-ovirt-expect') ?? this.header('expect'))?.toLowerCase();
  }

  /** The request body as `rootName` (JSON has no root element); `service` names the apidoc link. */
  body(rootName: string, service: string): Node {
    if (this.parsed) return this.parsed;
    if (!this.rawBody.trim()) {
      if (rootName === 'action') return (this.parsed = { name: 'action', attrs: {}, text: '', children: [] });
      throw syntaxError(this.cfg.engineHost, service);
    }
    try {
      this.parsed = parseBody(this.rawBody, this.header('content-type'), rootName);
    } catch (e) {
      if (e instanceof BodySyntaxError) throw syntaxError(this.cfg.engineHost, service);
      throw e;
    }
    return this.parsed;
  }

  /** Entity type names in "Incomplete parameters" faults: v3 names differ (`VM` vs `Vm`, §5.4). */
  typeName(v4: string): string {
    if (this.r.v === 4) return v4;
    return ({ Vm: 'VM', HostNic: 'HostNIC', Nic: 'NIC' } as Record<string, string>)[v4] ?? v4;
  }

  require(node: Node, type: string, method: string, checks: [string, boolean][]): void {
    const missing = checks.filter(([, ok]) => !ok).map(([n]) => n);
    if (missing.length) throw incomplete(this.typeName(type), missing, method);
  }
}

export type Handler = (ctx: Ctx) => Result | Promise<Result>;

interface Route { method: string; pattern: string[]; handler: Handler }

export class Router {
  private routes: Route[] = [];

  add(method: string, path: string, handler: Handler): this {
    this.routes.push({ method, pattern: path.split('/').filter(Boolean), handler });
    return this;
  }

  /** Returns the handler and fills ctx.params; 404 (empty body) when nothing matches. */
  match(ctx: Ctx): Handler | 'method' | undefined {
    let pathMatched = false;
    for (const r of this.routes) {
      if (r.pattern.length !== ctx.segs.length) continue;
      const params: Record<string, string> = {};
      const ok = r.pattern.every((p, i) => {
        const s = ctx.segs[i]!;
        if (p.startsWith(':')) return (params[p.slice(1)] = decodeURIComponent(s)), true;
        return p === s;
      });
      if (!ok) continue;
      pathMatched = true;
      if (r.method !== ctx.method && !(r.method === 'GET' && ctx.method === 'HEAD')) continue;
      Object.assign(ctx.params, params);
      return r.handler;
    }
    return pathMatched ? 'method' : undefined;
  }
}

/** Converts a parsed request node back to an element (the echoed <action>, §5.2). */
export function nodeToEl(n: Node): El {
  const e = el(n.name, n.attrs, n.children.map(nodeToEl));
  if (!n.children.length && n.text) e.text = n.text;
  return e;
}

export function statusValue(r: R, name: string, value: string): El {
  return r.v === 3 ? el(name, null, [t('state', value)]) : t(name, value)!;
}

/**
 * §5.2: the action result echoes the incoming action, adds <status>complete</status> (v3:
 * <status><state>complete</state></status>) and a <job> link when the command created a job.
 */
export function actionResult(ctx: Ctx, opts: { status?: string; jobId?: string; extra?: El[]; http?: number; idHref?: { id: string; href: string }; links?: El[] } = {}): Result {
  const echo = ctx.action ? ctx.action.children.map(nodeToEl) : [];
  const jobEl = opts.jobId ? el('job', { href: `${ctx.r.base}/jobs/${opts.jobId}`, id: opts.jobId }) : null;
  const body = el('action', opts.idHref ?? null, [...echo, ...(opts.links ?? []), jobEl, statusValue(ctx.r, 'status', opts.status ?? 'complete'), ...(opts.extra ?? [])]);
  return { status: opts.http ?? 200, body };
}

/** Thrown for methods the path does not support (the engine answers 405). */
export const methodNotAllowed = (): EngineFault => new EngineFault(405, null);
