import { STATUS_CODES } from 'node:http';

/**
 * Whole `text/plain` HTTP/1.1 responses as bytes, written the way Node's ServerResponse writes the
 * iPXE fast path's answer (same header names, case and order), for the socket-level path that
 * answers without a ServerResponse. In a boot storm each node fetches the same script several
 * times a second, so a response is built once per second (the `Date` changes) and per script text,
 * then written as is.
 */

/** How the connection goes on after the response. */
export interface Persistence {
  /** `Connection: keep-alive` (and the `Keep-Alive` hint) rather than `Connection: close`. */
  keepAlive: boolean;
  /** server.keepAliveTimeout, ms: Node advertises `timeout=<whole seconds>` when it is not 0. */
  keepAliveTimeout: number;
}

export class PlainResponses {
  private second = -1;
  private date = '';
  /** This second's GET keep-alive answers by body text, the steady state of a boot storm. */
  private kept = new Map<string, { status: number; keepAliveTimeout: number; bytes: Buffer }>();
  private static readonly MAX_KEPT = 10_000;

  /** The response to send: the head, and the body unless `head` (a HEAD request). */
  bytes(status: number, body: string, head: boolean, persistence: Persistence): Buffer {
    const now = Date.now();
    const second = Math.floor(now / 1000);
    if (second !== this.second) {
      this.second = second;
      this.date = new Date(second * 1000).toUTCString();
      this.kept = new Map();
    }
    const common = !head && persistence.keepAlive;
    if (common) {
      const hit = this.kept.get(body);
      if (hit && hit.status === status && hit.keepAliveTimeout === persistence.keepAliveTimeout) return hit.bytes;
    }
    const bytes = this.build(status, body, head, persistence);
    if (common) {
      if (this.kept.size >= PlainResponses.MAX_KEPT) this.kept = new Map();
      this.kept.set(body, { status, keepAliveTimeout: persistence.keepAliveTimeout, bytes });
    }
    return bytes;
  }

  private build(status: number, body: string, head: boolean, { keepAlive, keepAliveTimeout }: Persistence): Buffer {
    const length = Buffer.byteLength(body);
    let text =
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'unknown'}\r\n` +
      `content-type: text/plain\r\ncontent-length: ${length}\r\nDate: ${this.date}\r\n`;
    if (!keepAlive) text += 'Connection: close\r\n';
    else {
      text += 'Connection: keep-alive\r\n';
      if (keepAliveTimeout) text += `Keep-Alive: timeout=${Math.floor(keepAliveTimeout / 1000)}\r\n`;
    }
    text += '\r\n';
    if (head) return Buffer.from(text, 'latin1');
    const headLength = Buffer.byteLength(text, 'latin1');
    const bytes = Buffer.allocUnsafe(headLength + length);
    bytes.write(text, 0, 'latin1');
    bytes.write(body, headLength, 'utf8');
    return bytes;
  }
}
