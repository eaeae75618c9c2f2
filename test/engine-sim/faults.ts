// Fault injection and the request log: what a test uses to make the engine misbehave (5xx, slow
// answers, dropped connections, 409s) and to assert exactly what the client sent.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export interface RequestMatch {
  method?: string;
  /** A path prefix (without query) or a RegExp tested against path + query. */
  path?: string | RegExp;
}

export type FaultKind =
  /** Answer with this status (and body) instead of handling the request. */
  | { kind: 'status'; status: number; body?: string; contentType?: string }
  /** Handle the request normally, but only after a delay (slow engine / proxy). */
  | { kind: 'delay'; ms: number }
  /** Destroy the socket before the request is handled: the engine never saw it. */
  | { kind: 'drop' }
  /** Handle the request (state changes!), then destroy the socket instead of answering. */
  | { kind: 'drop-after' };

export type FaultRule = RequestMatch & FaultKind & {
  /** How many matching requests the rule applies to (default 1; Infinity for all). */
  times?: number;
  /** Matching requests to let through before the rule starts applying (default 0). */
  skip?: number;
};

export interface LoggedRequest {
  seq: number;
  time: Date;
  method: string;
  /** Path and query, as sent. */
  url: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  status?: number;
  /** Set when the request was answered by an injected fault. */
  fault?: FaultKind['kind'];
}

/** The engine's 503 through its Apache proxy (a plain HTML page, not a <fault>). */
const PROXY_503 = '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head><title>503 Service Unavailable</title></head><body><h1>Service Unavailable</h1></body></html>\n';
const FAULT_500 = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<fault>\n    <reason>Operation Failed</reason>\n    <detail>Injected engine failure</detail>\n</fault>\n';
const FAULT_409 = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<fault>\n    <reason>Operation Failed</reason>\n    <detail>[Cannot perform this operation. Related operation is currently in progress. Please try again later.]</detail>\n</fault>\n';

function defaultBody(status: number): { body: string; type: string } {
  if (status === 409) return { body: FAULT_409, type: 'application/xml' };
  if (status === 500) return { body: FAULT_500, type: 'application/xml' };
  if (status === 502 || status === 503 || status === 504) return { body: PROXY_503.replace(/503 Service Unavailable|Service Unavailable/g, (m) => m.replace('503', String(status))), type: 'text/html' };
  return { body: '', type: 'text/plain' };
}

export class Faults {
  rules: (FaultRule & { seen: number; applied: number })[] = [];
  log: LoggedRequest[] = [];
  private seq = 0;
  /** Paths not logged (the simulator's own admin routes). */
  private static readonly QUIET = /^\/__sim(\/|$)/;

  add(rule: FaultRule): void {
    this.rules.push({ ...rule, seen: 0, applied: 0 });
  }

  /** The next `n` matching calls answer `status` (5xx by default 503 from the proxy). */
  failNext(n: number, status = 503, match: RequestMatch = {}): void {
    this.add({ ...match, kind: 'status', status, times: n });
  }

  clear(): void {
    this.rules = [];
  }

  clearLog(): void {
    this.log = [];
  }

  private take(req: FastifyRequest): FaultRule | undefined {
    const path = req.url.split('?')[0]!;
    for (const r of this.rules) {
      if (r.method && r.method.toUpperCase() !== req.method) continue;
      if (typeof r.path === 'string' && !path.startsWith(r.path)) continue;
      if (r.path instanceof RegExp && !r.path.test(req.url)) continue;
      r.seen++;
      if (r.seen <= (r.skip ?? 0)) continue;
      if (r.applied >= (r.times ?? 1)) continue;
      r.applied++;
      return r;
    }
    return undefined;
  }

  install(app: FastifyInstance): void {
    app.addHook('onRequest', async (req, reply) => {
      if (Faults.QUIET.test(req.url)) return;
      const entry: LoggedRequest = { seq: ++this.seq, time: new Date(), method: req.method, url: req.url, path: req.url.split('?')[0]!, headers: { ...req.headers }, body: '' };
      this.log.push(entry);
      (req as FastifyRequest & { simLog?: LoggedRequest }).simLog = entry;
      const rule = this.take(req);
      if (!rule) return;
      entry.fault = rule.kind;
      if (rule.kind === 'delay') {
        await new Promise((r) => setTimeout(r, rule.ms));
      } else if (rule.kind === 'drop') {
        req.raw.socket.destroy();
        return reply.hijack();
      } else if (rule.kind === 'drop-after') {
        (req as FastifyRequest & { simDropAfter?: boolean }).simDropAfter = true;
      } else {
        const d = defaultBody(rule.status);
        entry.status = rule.status;
        return reply.code(rule.status).type(rule.contentType ?? d.type).send(rule.body ?? d.body);
      }
    });
    app.addHook('preHandler', async (req) => {
      const entry = (req as FastifyRequest & { simLog?: LoggedRequest }).simLog;
      if (entry && typeof req.body === 'string') entry.body = req.body;
    });
    app.addHook('onSend', async (req, reply: FastifyReply, payload) => {
      const entry = (req as FastifyRequest & { simLog?: LoggedRequest }).simLog;
      if (entry) entry.status = reply.statusCode;
      if ((req as FastifyRequest & { simDropAfter?: boolean }).simDropAfter) req.raw.socket.destroy();
      return payload;
    });
  }
}
