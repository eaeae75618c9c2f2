import http, { type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import type { Logger } from '../log.js';

/**
 * `GET`/`HEAD /boot/ipxe/<mac>` without fastify. In a boot storm every node fetches its script,
 * and fastify's routing, hooks and reply machinery cost several times what answering from the
 * rendered-config cache does. The fast path answers only the plain shape of that URL; anything
 * else (other methods, a query string, percent-encoding, a name fastify's schema refuses, a server
 * that is closing) falls through to fastify unchanged, where the same route still lives.
 */

export const IPXE_ROUTE = '/boot/ipxe/:mac';
const PREFIX = '/boot/ipxe/';
/** The fastify route's params schema takes names up to this long: longer ones get its 400 there. */
export const IPXE_MAX_NAME = 32;
/** iPXE shows the status line; `exit` in a 404 body would not be run anyway. */
export const IPXE_NO_CONFIG = '#!ipxe\necho rhevboot: no boot config for this machine\nexit\n';
const INTERNAL_ERROR = 'internal error; see the appliance log\n';

export interface IpxeFastPathDeps {
  configs: { forIpxe(mac: string, client: { address: string }): Promise<string | undefined> };
  log: Logger;
  metrics?: { httpResponse(method: string, route: string | undefined, status: number): void };
  /** Shared with fastify (its `genReqId`), so request ids in the log stay unique across both paths. */
  nextReqId: () => string;
}

/** Answers the request and returns true, or returns false and leaves it untouched. */
export type FastPath = (req: IncomingMessage, res: ServerResponse) => boolean;

/** fastify's default request ids (`req-<base36>`), as one sequence both paths draw from. */
export function requestIdSequence(): () => string {
  let next = 0;
  return () => {
    next = (next + 1) & 0x7fffffff;
    return `req-${next.toString(36)}`;
  };
}

/** The `<mac>` of a URL this path answers, or undefined for everything fastify should see. */
function ipxeName(url: string): string | undefined {
  if (url.length <= PREFIX.length || url.length > PREFIX.length + IPXE_MAX_NAME || !url.startsWith(PREFIX)) return undefined;
  for (let i = PREFIX.length; i < url.length; i++) {
    const c = url.charCodeAt(i);
    // '/', '?', '#', '%': another route, a query, or an encoding find-my-way would decode.
    if (c === 0x2f || c === 0x3f || c === 0x23 || c === 0x25) return undefined;
  }
  return url.slice(PREFIX.length);
}

export function ipxeFastPath(deps: IpxeFastPathDeps): FastPath {
  const { configs, log, metrics, nextReqId } = deps;

  const send = (req: IncomingMessage, res: ServerResponse, status: number, body: string, started: number): void => {
    res.writeHead(status, ['content-type', 'text/plain', 'content-length', String(Buffer.byteLength(body))]);
    // Node leaves the body out of a HEAD answer itself; the headers still say what GET would send.
    res.end(req.method === 'HEAD' ? undefined : body);
    metrics?.httpResponse(req.method!, IPXE_ROUTE, status);
    // The access line fastify's onResponse hook writes, built only when someone reads it.
    if (log.isLevelEnabled('info')) {
      log.info(
        { reqId: nextReqId(), method: req.method, url: req.url, status, ms: Math.round(performance.now() - started), remote: req.socket.remoteAddress },
        'http request',
      );
    }
  };

  return (req, res) => {
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD') return false;
    const mac = ipxeName(req.url!);
    if (mac === undefined) return false;
    const started = performance.now();
    const address = req.socket.remoteAddress ?? '';
    let answer: Promise<string | undefined>;
    try {
      answer = configs.forIpxe(mac, { address });
    } catch (err) {
      answer = Promise.reject(err);
    }
    answer.then(
      (script) => (script === undefined ? send(req, res, 404, IPXE_NO_CONFIG, started) : send(req, res, 200, script, started)),
      (err: unknown) => {
        log.error({ reqId: nextReqId(), err, url: req.url, remote: address }, 'unexpected error');
        send(req, res, 500, INTERNAL_ERROR, started);
      },
    ).catch((err: unknown) => {
      // A throw from send itself (a logger or a metric failing): the connection is all that is left.
      log.error({ err, url: req.url }, 'iPXE fast path failed');
      res.destroy();
    });
    return true;
  };
}

/**
 * The HTTP server fastify would create (its serverFactory), with the fast path in front of fastify's
 * own handler. The timeouts are fastify's resolved options: with a serverFactory, setting them is
 * ours to do.
 */
export function serverWithFastPath(fast: FastPath, fallback: RequestListener, options: Record<string, unknown>): http.Server {
  const server = http.createServer((options.http as http.ServerOptions | null | undefined) ?? {}, function (this: http.Server, req, res) {
    // Once closing, fastify answers 503 with `Connection: close`, which lets keep-alive clients go.
    if (!this.listening || !fast(req, res)) fallback(req, res);
  });
  const num = (key: string): number | undefined => (typeof options[key] === 'number' ? (options[key] as number) : undefined);
  const keepAlive = num('keepAliveTimeout');
  const request = num('requestTimeout');
  const connection = num('connectionTimeout');
  const perSocket = num('maxRequestsPerSocket');
  if (keepAlive !== undefined) server.keepAliveTimeout = keepAlive;
  if (request !== undefined) server.requestTimeout = request;
  if (connection !== undefined) server.setTimeout(connection);
  if (perSocket !== undefined && perSocket > 0) server.maxRequestsPerSocket = perSocket;
  return server;
}
