import { createReadStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Sends an open file with the HTTP semantics boot clients and admins rely on: Range (iPXE and
 * curl resume; a single range, as every boot client asks), HEAD, ETag/Last-Modified with 304s.
 *
 * It bypasses fastify's reply pipeline for the body: the stock static plugin moves a 256 MB initrd
 * at a quarter of nginx's speed because of small chunks and per-chunk work. Large positional
 * reads piped straight into the socket keep pace with plain Node `http`.
 */
const CHUNK = 1024 * 1024;
/** Streams in flight: in a boot storm hundreds of initrds go out at once. */
let active = 0;

/**
 * Each stream holds about two chunks (one read ahead, one in the socket). One fast client gets
 * 1 MiB reads (that is what keeps pace with nginx); when hundreds download at once the chunk
 * shrinks, so memory stays bounded while the network, not the reads, is the limit.
 */
function chunkFor(streams: number): number {
  if (streams <= 16) return CHUNK;
  if (streams <= 64) return CHUNK / 4;
  return CHUNK / 16;
}

export interface SendStats {
  status: number;
  bytes: number;
}

function parseRange(header: string, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  // Multiple ranges or other units: ignore the header and send the whole file (RFC 9110 allows it).
  if (!m) return undefined;
  const [, a, b] = m as unknown as [string, string, string];
  if (a === '' && b === '') return undefined;
  let start: number;
  let end: number;
  if (a === '') {
    const suffix = Number(b);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}

export async function sendFile(req: FastifyRequest, reply: FastifyReply, file: { handle: FileHandle; size: number }): Promise<SendStats> {
  const { handle, size } = file;
  let st;
  try {
    st = await handle.stat();
  } catch (err) {
    await handle.close();
    throw err;
  }
  const etag = `"${st.ino.toString(16)}-${size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
  const lastModified = st.mtime.toUTCString();
  const headers: Record<string, string | number> = {
    'accept-ranges': 'bytes',
    etag,
    'last-modified': lastModified,
    'content-type': 'application/octet-stream',
    'cache-control': 'no-cache',
  };
  const inm = req.headers['if-none-match'];
  const ims = req.headers['if-modified-since'];
  if ((inm && inm.split(/\s*,\s*/).includes(etag)) || (!inm && ims && Date.parse(ims) >= Math.floor(st.mtimeMs / 1000) * 1000)) {
    await handle.close();
    reply.hijack();
    reply.raw.writeHead(304, headers);
    reply.raw.end();
    return { status: 304, bytes: 0 };
  }

  let start = 0;
  let end = size - 1;
  let status = 200;
  const ifRange = req.headers['if-range'];
  const rangeHeader = typeof req.headers.range === 'string' && (!ifRange || ifRange === etag || ifRange === lastModified) ? req.headers.range : undefined;
  if (rangeHeader) {
    const range = parseRange(rangeHeader, size);
    if (range === 'unsatisfiable') {
      await handle.close();
      reply.hijack();
      reply.raw.writeHead(416, { ...headers, 'content-range': `bytes */${size}`, 'content-length': 0 });
      reply.raw.end();
      return { status: 416, bytes: 0 };
    }
    if (range) {
      ({ start, end } = range);
      status = 206;
      headers['content-range'] = `bytes ${start}-${end}/${size}`;
    }
  }
  const length = size === 0 ? 0 : end - start + 1;
  headers['content-length'] = length;
  reply.hijack();
  const res = reply.raw;
  res.writeHead(status, headers);
  if (req.method === 'HEAD' || length === 0) {
    await handle.close();
    res.end();
    return { status, bytes: 0 };
  }
  // The stream owns the handle from here and closes it on end, error or a client that goes away.
  active++;
  const stream = createReadStream('', { fd: handle, start, end, highWaterMark: chunkFor(active), autoClose: true });
  return new Promise((resolve) => {
    let sent = 0;
    let finished = false;
    stream.on('data', (chunk) => (sent += chunk.length));
    const done = (): void => {
      if (finished) return;
      finished = true;
      active--;
      resolve({ status, bytes: sent });
    };
    res.on('close', () => {
      stream.destroy();
      done();
    });
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  });
}
