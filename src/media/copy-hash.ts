import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

const CHUNK = 8 * 1024 * 1024;

export interface CopyHashOptions {
  /** Destination, created exclusively (never overwrites, never follows a planted symlink); omit to only hash. */
  dest?: string;
  mode?: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/**
 * Copies a file while computing its sha256, in one read pass. Reads, writes and hashing overlap:
 * the next chunk is read (thread pool) while the current one is hashed (main thread) and written
 * (thread pool), so the copy runs at the speed of the slowest of the three rather than their sum.
 */
export async function copyAndHash(src: string, opts: CopyHashOptions = {}): Promise<{ sha256: string; bytes: number }> {
  const input = await open(src, 'r');
  const output = opts.dest ? await open(opts.dest, 'wx', opts.mode ?? 0o644) : undefined;
  const hash = createHash('sha256');
  try {
    const total = (await input.stat()).size;
    const buffers = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)];
    let position = 0;
    let pendingWrite: Promise<unknown> = Promise.resolve();
    let nextRead = input.read(buffers[0]!, 0, CHUNK, 0);
    for (let i = 0; ; i++) {
      const { bytesRead } = await nextRead;
      if (bytesRead === 0) break;
      opts.signal?.throwIfAborted();
      const buf = buffers[i % 2]!;
      const chunk = buf.subarray(0, bytesRead);
      const chunkPos = position;
      position += bytesRead;
      // The other buffer is free once the previous write has finished with it.
      await pendingWrite;
      nextRead = input.read(buffers[(i + 1) % 2]!, 0, CHUNK, position);
      if (output) pendingWrite = writeFully(output, chunk, chunkPos);
      hash.update(chunk);
      opts.onProgress?.(position, total);
    }
    await pendingWrite;
    return { sha256: hash.digest('hex'), bytes: position };
  } finally {
    await input.close();
    await output?.close();
  }
}

async function writeFully(fh: import('node:fs/promises').FileHandle, chunk: Buffer, position: number): Promise<void> {
  let off = 0;
  while (off < chunk.length) {
    const { bytesWritten } = await fh.write(chunk, off, chunk.length - off, position + off);
    off += bytesWritten;
  }
}
