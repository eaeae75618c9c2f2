import http from 'node:http';
import net from 'node:net';
import { emptyHead, readHead } from './http1-head.js';
import { PlainResponses } from './plain-response.js';

/**
 * Answers one route's plainest requests straight from the TCP socket, below Node's HTTP parser,
 * and gives the connection to Node for good at the first byte that is anything else.
 *
 * Why: for a tiny cached answer, Node's parser and its IncomingMessage/ServerResponse objects cost
 * more CPU than everything the appliance does for the request. Why it is safe: a connection starts
 * here and stays here only while each request is one whole, strict head (src/httpboot/http1-head.ts)
 * naming the route; the first request that is not (another URL or method, a body, anything odd, a
 * head split across reads, a server closing) is pushed back into the socket with `unshift`, and
 * Node's own connection listener takes the socket over, parsing from exactly that byte on, for the
 * life of the connection. Responses already owed are written before that, so order holds.
 *
 * The hand-over, as checked against Node 20's lib/_http_server.js: Node's listener registers its
 * 'data' listener and then `parser.consume(socket._handle)`, after which bytes read from the handle
 * go to the parser natively, not through the stream. The bytes we pushed back are in the stream's
 * buffer: the socket is paused first so that `unshift` buffers rather than emits them (to nobody),
 * then resumed after Node's listener is in place; the buffer flows to Node's 'data' listener on the
 * next tick, before the event loop can read anything newer from the handle.
 *
 * What Node would have done and this does too: keep-alive and `Connection: close` as the request
 * asks, the idle keep-alive timeout, closeIdleConnections/closeAllConnections (so server.close()),
 * stopping reads while answers back up. What it does not: emit 'request' or the http.server
 * diagnostics channels for the requests it answers (the route counts and logs them itself), and
 * read past a `Connection: close` request (llhttp answers 400 to bytes after one; RFC 9112 §9.6
 * says not to process them, so they are dropped).
 */

/** The route answered here. */
export interface SocketRoute {
  /** The name a request target (buf[start, end), visible ASCII) asks for, or undefined: not this route. */
  match(buf: Buffer, start: number, end: number): string | undefined;
  /** Answers the exchange: calls its `respond` once (or `abort`), now or later. */
  serve(exchange: SocketExchange): void;
}

/** One request taken from the socket, as the route sees it. */
export interface SocketExchange {
  readonly method: 'GET' | 'HEAD';
  readonly name: string;
  readonly remote: string;
  respond(status: number, body: string): void;
  /** The answer cannot be had at all: drop the connection. */
  abort(): void;
}

/** Past this much unsent response, stop reading (a client pipelining without reading answers). */
const WRITE_HIGH_WATER = 64 * 1024;
/** Heads larger than this are Node's (its default limit: larger ones get its 431). */
const HEAD_LIMIT = 16 * 1024;
/** Node waits this much longer than the keep-alive timeout it advertises (lib/_http_server.js). */
const KEEP_ALIVE_GRACE = 1000;

type ConnectionListener = (this: http.Server, socket: net.Socket) => void;

/**
 * Puts `route` in front of Node on `server`: takes over its 'connection' listener (Node's own,
 * registered by the http.Server constructor, which it calls for every connection it gives back),
 * and extends closeIdleConnections/closeAllConnections to the connections held here, which Node's
 * list does not know about.
 */
export function answerFromSocket(server: http.Server, route: SocketRoute): void {
  const listeners = server.listeners('connection') as ConnectionListener[];
  if (listeners.length !== 1) throw new Error(`socket fast path: expected Node's one 'connection' listener, found ${listeners.length}`);
  const state = new SocketPath(server, route, listeners[0]!);
  server.removeListener('connection', listeners[0]!);
  server.on('connection', (socket: net.Socket) => state.accept(socket));

  const closeIdle = server.closeIdleConnections;
  const closeAll = server.closeAllConnections;
  // server.close() calls closeIdleConnections through the instance, so this covers it too.
  server.closeIdleConnections = function (this: http.Server) {
    closeIdle.call(this);
    state.close(false);
  };
  server.closeAllConnections = function (this: http.Server) {
    closeAll.call(this);
    state.close(true);
  };
}

class SocketPath {
  readonly responses = new PlainResponses();
  readonly connections = new Set<Connection>();

  constructor(
    readonly server: http.Server,
    readonly route: SocketRoute,
    private readonly nodeListener: ConnectionListener,
  ) {}

  accept(socket: net.Socket): void {
    // Not a TCP socket (someone emitting 'connection' with another stream), or a server counting
    // requests per socket (Node's to count): Node's from the start.
    if (!(socket instanceof net.Socket) || !this.mayAnswer()) this.giveToNode(socket);
    else this.connections.add(new Connection(this, socket));
  }

  /** Whether a request may be answered here now. */
  mayAnswer(): boolean {
    // Closing: fastify answers 503 with `Connection: close`, which lets keep-alive clients go.
    return this.server.listening && !(this.server.maxRequestsPerSocket! > 0);
  }

  headLimit(): number {
    const configured = (this.server as { maxHeaderSize?: number }).maxHeaderSize || http.maxHeaderSize;
    return Math.min(HEAD_LIMIT, configured);
  }

  giveToNode(socket: net.Socket): void {
    this.nodeListener.call(this.server, socket);
  }

  /** Idle ones only, or all: as Node's closeIdleConnections and closeAllConnections. */
  close(all: boolean): void {
    for (const c of this.connections) if (all || c.idle) c.socket.destroy();
  }
}

class Connection implements SocketExchange {
  method: 'GET' | 'HEAD' = 'GET';
  name = '';
  readonly remote: string;
  /** A request is being answered. */
  private busy = false;
  /** No longer ours: given to Node, or closing. */
  private done = false;
  /** The peer will send nothing more. */
  private ended = false;
  private keepAlive = true;
  private idleTimeoutSet = false;
  private readonly head = emptyHead();

  /** Waiting for a request: nothing owed, and not on its way out already. */
  get idle(): boolean {
    return !this.busy && !this.done;
  }

  constructor(
    private readonly path: SocketPath,
    readonly socket: net.Socket,
  ) {
    this.remote = socket.remoteAddress ?? '';
    const server = path.server;
    // As Node does for its connections (server.timeout is fastify's connectionTimeout).
    if (server.timeout) socket.setTimeout(server.timeout);
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    socket.on('timeout', this.onTimeout);
  }

  private readonly onData = (chunk: Buffer): void => {
    const socket = this.socket;
    // On its way out (after a `Connection: close` answer): what follows is not read.
    if (this.done) return;
    if (this.busy) {
      // Pipelined while an answer is pending: back into the stream until that answer is out.
      socket.pause();
      socket.unshift(chunk);
      return;
    }
    const path = this.path;
    if (!path.mayAnswer()) return this.giveToNode(chunk);
    const head = this.head;
    const end = readHead(chunk, 0, path.headLimit(), head);
    if (end < 0) return this.giveToNode(chunk);
    const name = path.route.match(chunk, head.targetStart, head.targetEnd);
    if (name === undefined) return this.giveToNode(chunk);
    if (end < chunk.length) {
      // More requests after this one: read again once this one is answered.
      socket.pause();
      socket.unshift(chunk.subarray(end));
    }
    this.busy = true;
    this.method = head.head ? 'HEAD' : 'GET';
    this.name = name;
    this.keepAlive = head.keepAlive;
    path.route.serve(this);
  };

  respond(status: number, body: string): void {
    if (this.done) return;
    const { socket, path } = this;
    const server = path.server;
    this.busy = false;
    // A server closing says so, as fastify's 503 does, rather than leaving the client to find out.
    const keepAlive = this.keepAlive && server.listening;
    socket.write(path.responses.bytes(status, body, this.method === 'HEAD', { keepAlive, keepAliveTimeout: server.keepAliveTimeout }));
    if (!keepAlive) return this.finish();
    if (this.ended) {
      // Node ends its half of a connection the client has ended, once the answers are out.
      this.done = true;
      socket.end();
      return;
    }
    if (!this.idleTimeoutSet && server.keepAliveTimeout) {
      // Set once: the socket's timer restarts at every read and write, so it counts idle time.
      // While a request is pending, onTimeout ignores it.
      this.idleTimeoutSet = true;
      socket.setTimeout(server.keepAliveTimeout + KEEP_ALIVE_GRACE);
    }
    // needDrain too: 'drain' comes only once a write has been refused (a socket's own high-water
    // mark may be set above this one).
    if (socket.writableLength > WRITE_HIGH_WATER && socket.writableNeedDrain) {
      socket.pause();
      socket.once('drain', this.onDrain);
    } else if (socket.isPaused()) {
      socket.resume();
    }
  }

  abort(): void {
    this.done = true;
    this.socket.destroy();
  }

  /** The last answer is written: close once it is out, as Node does after `Connection: close`. */
  private finish(): void {
    this.done = true;
    this.socket.destroySoon();
  }

  private readonly onDrain = (): void => {
    if (!this.done && !this.busy) this.socket.resume();
  };

  private readonly onEnd = (): void => {
    this.ended = true;
    // Nothing pending (a pending answer ends the connection itself, in respond).
    if (!this.busy && !this.done) {
      this.done = true;
      this.socket.end();
    }
  };

  private readonly onTimeout = (): void => {
    // Idle past the keep-alive timeout (or the connection timeout): gone, as in Node. Not while an
    // answer is pending; the timer starts again with the next write.
    if (!this.busy) this.socket.destroy();
  };

  private readonly onError = (): void => {
    // A reset or a broken pipe: nobody left to answer. The socket is destroyed already.
    this.done = true;
  };

  private readonly onClose = (): void => {
    this.done = true;
    this.path.connections.delete(this);
  };

  /** From `rest` on, the connection is Node's. */
  private giveToNode(rest: Buffer): void {
    const socket = this.socket;
    this.done = true;
    this.path.connections.delete(this);
    socket.removeListener('data', this.onData);
    socket.removeListener('end', this.onEnd);
    socket.removeListener('error', this.onError);
    socket.removeListener('close', this.onClose);
    socket.removeListener('timeout', this.onTimeout);
    socket.removeListener('drain', this.onDrain);
    if (socket.destroyed) return;
    // Node sets its own (server.timeout) if it has one.
    if (this.idleTimeoutSet) socket.setTimeout(0);
    // Paused, `unshift` puts the bytes at the head of the stream's buffer instead of emitting them.
    socket.pause();
    socket.unshift(rest);
    this.path.giveToNode(socket);
    socket.resume();
  }
}
