import http, { type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import { answerFromSocket, type SocketExchange, type SocketRoute } from './socket-fast-path.js';

/**
 * `GET`/`HEAD /boot/ipxe/<mac>` without fastify. In a boot storm every node fetches its script,
 * and fastify's routing, hooks and reply machinery cost several times what answering from the
 * rendered-config cache does; so do Node's HTTP parser and request/response objects. The fast path
 * answers only the plain shape of that URL, in two places: straight from the socket
 * (src/httpboot/socket-fast-path.ts) for connections that send nothing but such requests, and in front
 * of fastify's handler for requests Node has parsed (a connection the socket path handed over).
 * Anything else (other methods, a query string, percent-encoding, a name fastify's schema refuses,
 * a server that is closing) falls through to fastify unchanged, where the same route still lives.
 */

export const IPXE_ROUTE = '/boot/ipxe/:mac';
const PREFIX = '/boot/ipxe/';
const PREFIX_BYTES = Buffer.from(PREFIX, 'latin1');
/** The fastify route's params schema takes names up to this long: longer ones get its 400 there. */
export const IPXE_MAX_NAME = 32;
/** iPXE shows the status line; `exit` in a 404 body would not be run anyway. */
export const IPXE_NO_CONFIG = '#!ipxe\necho rhevboot: no boot config for this machine\nexit\n';
const INTERNAL_ERROR = 'internal error; see the appliance log\n';

/** Where scripts come from (provisioning's config requests): undefined for a name with no script. */
export interface IpxeScripts {
  ipxe(name: string, client: { address: string }): Promise<string | undefined>;
}

export interface IpxeFastPathDeps {
  scripts: IpxeScripts;
  log: Logger;
  metrics?: { httpResponse(method: string, route: string | undefined, status: number): void };
  /** Shared with fastify (its `genReqId`), so request ids in the log stay unique across both paths. */
  nextReqId: () => string;
}

export interface FastPath {
  /** A request Node has parsed: answers it and returns true, or returns false and leaves it untouched. */
  request(req: IncomingMessage, res: ServerResponse): boolean;
  /** The same route, answered below Node's parser. */
  socket: SocketRoute;
}

/** fastify's default request ids (`req-<base36>`), as one sequence both paths draw from. */
export function requestIdSequence(): () => string {
  let next = 0;
  return () => {
    next = (next + 1) & 0x7fffffff;
    return `req-${next.toString(36)}`;
  };
}

/** '/', '?', '#', '%': another route, a query, or an encoding find-my-way would decode. */
function outsideName(c: number): boolean {
  return c === 0x2f || c === 0x3f || c === 0x23 || c === 0x25;
}

/** The `<mac>` of a URL this path answers, or undefined for everything fastify should see. */
function ipxeName(url: string): string | undefined {
  if (url.length <= PREFIX.length || url.length > PREFIX.length + IPXE_MAX_NAME || !url.startsWith(PREFIX)) return undefined;
  for (let i = PREFIX.length; i < url.length; i++) if (outsideName(url.charCodeAt(i))) return undefined;
  return url.slice(PREFIX.length);
}

/** ipxeName over a request target's bytes (visible ASCII, so latin1 is the URL as Node reads it). */
function ipxeNameIn(buf: Buffer, start: number, end: number): string | undefined {
  const nameStart = start + PREFIX_BYTES.length;
  if (end <= nameStart || end - nameStart > IPXE_MAX_NAME) return undefined;
  for (let i = 0; i < PREFIX_BYTES.length; i++) if (buf[start + i] !== PREFIX_BYTES[i]) return undefined;
  for (let i = nameStart; i < end; i++) if (outsideName(buf[i]!)) return undefined;
  return buf.toString('latin1', nameStart, end);
}

export function ipxeFastPath(deps: IpxeFastPathDeps): FastPath {
  const { scripts, log, metrics, nextReqId } = deps;

  /** The answer is out: count it and write the access line (fastify's onResponse hook does both there). */
  const answered = (ex: SocketExchange, started: number, status: number, body: string): void => {
    try {
      ex.respond(status, body);
      metrics?.httpResponse(ex.method, IPXE_ROUTE, status);
      // Built only when someone reads it.
      if (started) {
        log.info(
          { reqId: nextReqId(), method: ex.method, url: PREFIX + ex.name, status, ms: Math.round(performance.now() - started), remote: ex.remote },
          'http request',
        );
      }
    } catch (err) {
      // A logger or a metric failing: the connection is all that is left.
      log.error({ err, url: PREFIX + ex.name }, 'iPXE fast path failed');
      ex.abort();
    }
  };

  // No closure is named per request (tsx's keepNames would define a `name` on each one).
  const serve = (ex: SocketExchange): void => {
    // Only the access line reads the time: skip the clock when nobody reads that.
    const started = log.isLevelEnabled('info') ? performance.now() : 0;
    let answer: Promise<string | undefined>;
    try {
      answer = scripts.ipxe(ex.name, { address: ex.remote });
    } catch (err) {
      answer = Promise.reject(err);
    }
    answer.then(
      (script) => answered(ex, started, script === undefined ? 404 : 200, script ?? IPXE_NO_CONFIG),
      (err: unknown) => {
        log.error({ reqId: nextReqId(), err, url: PREFIX + ex.name, remote: ex.remote }, 'unexpected error');
        answered(ex, started, 500, INTERNAL_ERROR);
      },
    );
  };

  return {
    request(req, res) {
      const method = req.method;
      if (method !== 'GET' && method !== 'HEAD') return false;
      const name = ipxeName(req.url!);
      if (name === undefined) return false;
      serve({
        method,
        name,
        remote: req.socket.remoteAddress ?? '',
        respond(status, body) {
          res.writeHead(status, ['content-type', 'text/plain', 'content-length', String(Buffer.byteLength(body))]);
          // Node leaves the body out of a HEAD answer itself; the headers still say what GET would send.
          res.end(method === 'HEAD' ? undefined : body);
        },
        abort() {
          res.destroy();
        },
      });
      return true;
    },
    socket: { match: ipxeNameIn, serve },
  };
}

/**
 * The HTTP server fastify would create (its serverFactory), with the fast path in front of fastify's
 * own handler and below Node's parser. The timeouts are fastify's resolved options: with a
 * serverFactory, setting them is ours to do.
 */
export function serverWithFastPath(fast: FastPath, fallback: RequestListener, options: Record<string, unknown>): http.Server {
  const server = http.createServer((options.http as http.ServerOptions | null | undefined) ?? {}, function (this: http.Server, req, res) {
    // Once closing, fastify answers 503 with `Connection: close`, which lets keep-alive clients go.
    if (!this.listening || !fast.request(req, res)) fallback(req, res);
  });
  answerFromSocket(server, fast.socket);
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
