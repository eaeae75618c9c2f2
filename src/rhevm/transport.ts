/**
 * HTTP(S) to one engine, over undici. Knows nothing of XML, auth or retries: it sends one request
 * and returns status, headers and body text, or throws a classified RhevmError.
 *
 * TLS is always verified, against the CA the admin pinned (`connect: { ca }`, hostname checked as
 * usual). There is deliberately no switch to turn verification off: a lab without a CA uses a
 * plain `http://` base URL instead, which is visible in the engine's configuration.
 */
import { Agent, request } from 'undici';
import { RhevmError } from './errors.js';
import { classifyNetworkError } from './retry.js';
import { MAX_BODY_BYTES } from './xml.js';

export interface TransportOptions {
  /** Engine origin, `https://engine.example.com[:port]` (a path, if any, is ignored here). */
  origin: string;
  /** PEM of the pinned engine CA; required for https. */
  caPem?: string;
  /** Default per-call timeout. */
  timeoutMs: number;
  maxBodyBytes?: number;
}

export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';
  /** Absolute path (`/ovirt-engine/api/vms?search=…`) or an absolute URL on the engine's origin. */
  path: string;
  headers: Record<string, string>;
  body?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Transport-level failure, with whether the request may have reached the engine. */
export interface NetworkFailureDetails {
  method: string;
  path: string;
  /** `before-send`: safe to retry any method; `transient`: retry only idempotent calls. */
  netClass: 'tls' | 'before-send' | 'transient' | 'other' | 'timeout';
  errno?: string;
}

export class Transport {
  readonly origin: string;
  private readonly agent: Agent;
  private readonly timeoutMs: number;
  private readonly maxBody: number;

  constructor(opts: TransportOptions) {
    const u = new URL(opts.origin);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new RhevmError('RB_ERR_RHEVM_PROTOCOL', `unsupported engine URL scheme ${u.protocol}`);
    if (u.protocol === 'https:' && !opts.caPem) {
      throw new RhevmError('RB_ERR_RHEVM_TLS', 'no CA pinned for this engine: fetch and pin it first (rhevboot rhevm test)');
    }
    this.origin = u.origin;
    this.timeoutMs = opts.timeoutMs;
    this.maxBody = opts.maxBodyBytes ?? MAX_BODY_BYTES;
    // Only the pinned CA is trusted (not the system store): an engine cert from any other CA,
    // however public, is refused. rejectUnauthorized stays at its default (true).
    this.agent = new Agent(u.protocol === 'https:' ? { connect: { ca: opts.caPem! } } : {});
  }

  /** Resolve a path or href against the origin; hrefs pointing elsewhere are refused (credentials stay home). */
  url(p: string): URL {
    const u = new URL(p, this.origin);
    if (u.origin !== this.origin) throw new RhevmError('RB_ERR_RHEVM_PROTOCOL', `engine href points to another origin: ${u.origin}`);
    return u;
  }

  async request(req: HttpRequest): Promise<HttpResponse> {
    const url = this.url(req.path);
    const timeout = AbortSignal.timeout(req.timeoutMs ?? this.timeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
    const where = { method: req.method, path: url.pathname + url.search };
    try {
      const res = await request(url, {
        method: req.method,
        headers: req.headers,
        body: req.body,
        dispatcher: this.agent,
        signal,
      });
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length;
        if (size > this.maxBody) {
          res.body.destroy();
          throw new RhevmError('RB_ERR_RHEVM_PROTOCOL', `engine response larger than ${this.maxBody} bytes`, where);
        }
        chunks.push(chunk as Buffer);
      }
      return { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') };
    } catch (err) {
      if (err instanceof RhevmError) throw err;
      if (req.signal?.aborted) throw new RhevmError('RB_ERR_RHEVM_ABORTED', 'engine call aborted', where, { cause: req.signal.reason });
      if (timeout.aborted) {
        const d: NetworkFailureDetails = { ...where, netClass: 'timeout' };
        throw new RhevmError('RB_ERR_RHEVM_TIMEOUT', `engine did not answer ${req.method} ${where.path} in time`, { ...d });
      }
      const netClass = classifyNetworkError(err);
      const errno = (err as { code?: string }).code ?? (err as { cause?: { code?: string } }).cause?.code;
      const d: NetworkFailureDetails = { ...where, netClass, ...(errno !== undefined && { errno }) };
      if (netClass === 'tls') {
        throw new RhevmError('RB_ERR_RHEVM_TLS', `TLS verification of the engine failed (${errno ?? 'unknown'}): is the pinned CA the engine's?`, { ...d }, { cause: err });
      }
      throw new RhevmError('RB_ERR_RHEVM_UNREACHABLE', `engine unreachable: ${(err as Error).message}`, { ...d }, { cause: err });
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
