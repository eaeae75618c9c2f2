/**
 * HTTP/1.1 over a bare TCP socket, for tests that need to control the bytes: pipelining, a head split
 * across writes, malformed requests, and seeing exactly when the server closes.
 */
import net from 'node:net';

export interface RawResponse {
  status: number;
  /** Names lowercased; a repeated name keeps its last value. */
  headers: Record<string, string>;
  /** The head as sent, status line included. */
  head: string;
  body: string;
}

export interface RawResult {
  responses: RawResponse[];
  /** The server ended or closed the connection. */
  closed: boolean;
  /** Bytes after the last complete response. */
  rest: string;
  /** Everything received, as latin1. */
  raw: string;
}

export interface RawOptions {
  /** Milliseconds between the chunks (each is its own write). */
  gapMs?: number;
  /** Without `expect`: once something came back, stop waiting this long after the last byte. */
  idleMs?: number;
  /** Stop as soon as this many responses are in (or the server closes): no idle cut-off. */
  expect?: number;
  /** Give up on a server that neither answers nor closes (what came so far is the result). The
   * wait for the first byte, or for `expect` responses, is this long: a loaded machine's slow
   * answer is not mistaken for none. */
  timeoutMs?: number;
  /** Which responses answer HEAD (no body whatever content-length says), by index. */
  head?: (index: number) => boolean;
}

/** Parses as many whole responses as `data` holds. */
export function parseResponses(data: Buffer, head: (index: number) => boolean = () => false): { responses: RawResponse[]; rest: Buffer } {
  const responses: RawResponse[] = [];
  let at = 0;
  for (;;) {
    const headEnd = data.indexOf('\r\n\r\n', at);
    if (headEnd < 0) break;
    const headText = data.toString('latin1', at, headEnd);
    const [statusLine, ...lines] = headText.split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine!)?.[1] ?? NaN);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    let bodyStart = headEnd + 4;
    let body: Buffer;
    if (head(responses.length)) {
      body = Buffer.alloc(0);
    } else if (headers['transfer-encoding'] === 'chunked') {
      const parts: Buffer[] = [];
      let p = bodyStart;
      let complete = false;
      for (;;) {
        const lineEnd = data.indexOf('\r\n', p);
        if (lineEnd < 0) break;
        const size = parseInt(data.toString('latin1', p, lineEnd), 16);
        if (data.length < lineEnd + 2 + size + 2) break;
        parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
        p = lineEnd + 2 + size + 2;
        if (size === 0) {
          complete = true;
          break;
        }
      }
      if (!complete) break;
      body = Buffer.concat(parts);
      bodyStart = p;
    } else {
      const length = Number(headers['content-length'] ?? 0);
      if (data.length < bodyStart + length) break;
      body = data.subarray(bodyStart, bodyStart + length);
      bodyStart += length;
    }
    responses.push({ status, headers, head: headText, body: body.toString('utf8') });
    at = bodyStart;
  }
  return { responses, rest: data.subarray(at) };
}

/** Writes `chunks` to a new connection and collects what comes back. */
export function rawExchange(port: number, chunks: (string | Buffer)[], opts: RawOptions = {}): Promise<RawResult> {
  const { gapMs = 0, idleMs = 300, expect, head, timeoutMs = 10_000 } = opts;
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    let closed = false;
    let idle: NodeJS.Timeout | undefined;
    let settled = false;
    const hang = setTimeout(() => finish(), timeoutMs);
    const finish = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(idle);
      clearTimeout(hang);
      socket.destroy();
      const { responses, rest } = parseResponses(data, head);
      resolve({ responses, closed, rest: rest.toString('latin1'), raw: data.toString('latin1') });
    };
    // The idle cut-off only tells "nothing more is coming" once something came.
    const arm = (): void => {
      if (expect !== undefined || data.length === 0) return;
      clearTimeout(idle);
      idle = setTimeout(finish, idleMs);
    };
    socket.on('data', (d: Buffer) => {
      data = Buffer.concat([data, d]);
      if (expect !== undefined && parseResponses(data, head).responses.length >= expect) return finish();
      arm();
    });
    socket.on('end', () => {
      closed = true;
      finish();
    });
    socket.on('close', () => {
      closed = true;
      finish();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // A reset after the server answered and closed is still a close.
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') {
        closed = true;
        finish();
      } else reject(err);
    });
    socket.on('connect', async () => {
      for (let i = 0; i < chunks.length; i++) {
        if (i > 0 && gapMs) await new Promise((r) => setTimeout(r, gapMs));
        if (socket.destroyed) return;
        socket.write(chunks[i]!);
      }
      arm();
    });
  });
}

/** A plain request head. */
export function get(path: string, extra = '', method = 'GET'): string {
  return `${method} ${path} HTTP/1.1\r\nHost: test\r\n${extra}\r\n`;
}
