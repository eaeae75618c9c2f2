/**
 * The file's blocks as the DATA packets a transfer sends (packet.ts is the codec of every TFTP
 * packet), built where they will be sent from. A transfer asks for each block once, in order,
 * and keeps the packets of its window until they are ACKed (retransmissions resend the same
 * Buffer), then calls `release` so their memory can take the next blocks.
 *
 * `FileBlocks` is the fast path for octet reads of files: the file is read in large `preadv`
 * calls straight into the payload area of preallocated packets, the 4-byte header written in
 * place. A window is then a run of `socket.send` calls on views made once per chunk buffer: no
 * allocation, no copy and no promise per block, and one trip to the thread pool per ~512 KiB
 * instead of one per window. `CopiedBlocks` adapts any cursor-style `BlockSource` (rendered
 * configs, netascii) at one small allocation per block, which does not matter at their sizes.
 */
import type { FileHandle } from 'node:fs/promises';
import { udpBatch } from '../native/udp-batch.js';
import { writeDataHeader } from './packet.js';
import type { BlockSource } from './reader.js';

export interface DataBlocks {
  /** Bytes the transfer will carry, when known up front (octet mode). */
  readonly size: number | undefined;
  /**
   * The DATA packet for block `n` (1-based, not wrapped at 65535), header written; its payload is
   * shorter than the block size only for the last block. Called once per block, in order. Sync
   * when the block is loaded, else a promise.
   */
  packet(n: number): Buffer | Promise<Buffer>;
  /**
   * Optional: the packets of blocks `from`, `from`+1, … that are loaded now, up to `max` and the
   * end of their buffer, headers written, into `out`; how many. Nothing is started or waited for:
   * a transfer hands these to the socket to send on its own (`TransferSocket.arm`). Any of them
   * may still be asked for again with `packet`.
   */
  ready?(from: number, out: Buffer[], max: number): number;
  /** Blocks up to `n` are ACKed and none of their packets is still queued for sending. */
  release(n: number): void;
  close(): Promise<void>;
}

export class CopiedBlocks implements DataBlocks {
  constructor(
    private readonly src: BlockSource,
    private readonly blk: number,
  ) {}

  get size(): number | undefined {
    return this.src.size;
  }

  packet(n: number): Buffer | Promise<Buffer> {
    const p = Buffer.allocUnsafe(4 + this.blk);
    writeDataHeader(p, n);
    const r = this.src.readInto(p, 4, this.blk);
    if (typeof r === 'number') return r === this.blk ? p : p.subarray(0, 4 + r);
    return r.then((len) => (len === this.blk ? p : p.subarray(0, 4 + len)));
  }

  release(): void {}

  close(): Promise<void> {
    return this.src.close();
  }
}

export type CachedRead = (fd: number, buffers: Buffer[], position: number) => number;

const defaultCachedRead: CachedRead = (fd, buffers, position) => {
  const addon = udpBatch();
  return addon ? addon.readCached(fd, buffers, 0, buffers.length, position) : -1;
};

/** Payload bytes aimed at per chunk: few thread-pool trips, and two chunks per transfer keep a
 * thousand concurrent kernel or initrd downloads near 1 GiB at worst (small files get buffers
 * their own size). */
const CHUNK_BYTES = 512 * 1024;
/** Linux IOV_MAX: more payloads than this in one `preadv` would come back as a short read. */
const MAX_IOV = 1024;

interface Chunk {
  /** Chunk number c holds blocks c*N+1 .. (c+1)*N; -1 when it never held any. */
  index: number;
  buf: Buffer;
  /** Header plus full payload of each block, made once per buffer and reused for every load. */
  packets: Buffer[];
  /** The payload part of each, the `preadv` targets. */
  payloads: Buffer[];
  /** Payload bytes the last load got. */
  bytes: number;
  loading: Promise<void> | undefined;
  error: unknown;
}

export class FileBlocks implements DataBlocks {
  private readonly stride: number;
  /** Blocks per chunk: at least the window, so a window never spans more than two chunks. */
  private readonly perChunk: number;
  private readonly lastChunk: number;
  private readonly chunks: Chunk[] = [];
  private highest = -1;
  private released = 0;
  private started = false;
  private closed = false;
  /** A block asked for before its buffer could be refilled: resumed when a read starts or ends. */
  private gate: (() => void) | undefined;

  /** `size` is fixed at open: the OACK's tsize and the bytes sent agree even if the file grows. */
  constructor(
    private readonly handle: FileHandle,
    readonly size: number,
    private readonly blk: number,
    windowSize: number,
    /** Page-cache read without the thread pool: bytes, or -1 (not cached, or not available). */
    private readonly readCached: CachedRead = defaultCachedRead,
  ) {
    this.stride = 4 + blk;
    const totalBlocks = Math.floor(size / blk) + 1;
    const target = Math.max(1, Math.min(MAX_IOV, Math.ceil(CHUNK_BYTES / blk)));
    this.perChunk = Math.min(totalBlocks, Math.max(windowSize, target));
    this.lastChunk = Math.floor((totalBlocks - 1) / this.perChunk);
    const count = this.lastChunk === 0 ? 1 : 2;
    for (let i = 0; i < count; i++) {
      const buf = Buffer.allocUnsafeSlow(this.perChunk * this.stride);
      const packets: Buffer[] = [];
      const payloads: Buffer[] = [];
      for (let b = 0; b < this.perChunk; b++) {
        packets.push(buf.subarray(b * this.stride, (b + 1) * this.stride));
        payloads.push(buf.subarray(b * this.stride + 4, (b + 1) * this.stride));
      }
      this.chunks.push({ index: -1, buf, packets, payloads, bytes: 0, loading: undefined, error: undefined });
    }
    // Start reading now: the first blocks are ready by the time the OACK's ACK comes back. The
    // second chunk waits for the first block to be asked for: OVMF asks for tsize and aborts.
    this.prefetch();
  }

  packet(n: number): Buffer | Promise<Buffer> {
    if (!this.started) {
      this.started = true;
      this.prefetch();
    }
    const c = Math.floor((n - 1) / this.perChunk);
    const ch = this.chunks[c % this.chunks.length]!;
    if (ch.index === c && !ch.loading) {
      if (ch.error !== undefined) return Promise.reject(ch.error);
      return this.view(ch, n);
    }
    if (ch.index !== c) {
      // The read-ahead has not started: the buffer is still being read from, or still holds
      // blocks the transfer has not released (their datagrams may sit in the send queue).
      if (ch.loading || !this.free(ch)) return new Promise<void>((resolve) => (this.gate = resolve)).then(() => this.packet(n));
      this.load(ch, c);
    }
    return ch.loading!.then(() => {
      if (ch.error !== undefined) throw ch.error;
      return this.view(ch, n);
    });
  }

  ready(from: number, out: Buffer[], max: number): number {
    const c = Math.floor((from - 1) / this.perChunk);
    const ch = this.chunks[c % this.chunks.length]!;
    if (!this.started || ch.index !== c || ch.loading || ch.error !== undefined) return 0;
    const last = Math.min((c + 1) * this.perChunk, from + max - 1);
    let k = 0;
    for (let n = from; n <= last; n++) {
      const p = this.view(ch, n);
      out[k++] = p;
      if (p.length - 4 < this.blk) break; // the file's last block
    }
    return k;
  }

  release(n: number): void {
    if (n <= this.released) return;
    this.released = n;
    this.prefetch();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // A read still in flight writes into our buffers through this descriptor: let it finish.
    await Promise.allSettled(this.chunks.map((ch) => ch.loading));
    await this.handle.close();
  }

  private view(ch: Chunk, n: number): Buffer {
    const i = n - 1 - ch.index * this.perChunk;
    const len = Math.max(0, Math.min(this.blk, ch.bytes - i * this.blk));
    const p = len === this.blk ? ch.packets[i]! : ch.buf.subarray(i * this.stride, i * this.stride + 4 + len);
    writeDataHeader(p, n);
    return p;
  }

  /** Loads the next chunk into the buffer whose blocks are all released. */
  private prefetch(): void {
    const next = this.highest + 1;
    if (this.closed || next > this.lastChunk || (next > 0 && !this.started)) return;
    const ch = this.chunks[next % this.chunks.length]!;
    if (ch.loading || !this.free(ch)) return;
    this.load(ch, next);
  }

  /** True when every block the buffer holds has been released. */
  private free(ch: Chunk): boolean {
    return ch.index < 0 || (ch.index + 1) * this.perChunk <= this.released;
  }

  private openGate(): void {
    const g = this.gate;
    this.gate = undefined;
    g?.();
  }

  private load(ch: Chunk, c: number): void {
    ch.index = c;
    ch.bytes = 0;
    ch.error = undefined;
    if (c > this.highest) this.highest = c;
    const pos = c * this.perChunk * this.blk;
    const want = Math.max(0, Math.min(this.perChunk * this.blk, this.size - pos));
    ch.loading = this.fill(ch, pos, want).then(
      (got) => {
        ch.bytes = got;
        ch.loading = undefined;
        this.prefetch();
        this.openGate();
      },
      (err: unknown) => {
        ch.error = err;
        ch.loading = undefined;
        this.openGate();
      },
    );
    this.openGate();
  }

  private async fill(ch: Chunk, pos: number, want: number): Promise<number> {
    let got = 0;
    while (got < want && !this.closed) {
      const iov = this.iovecs(ch, got, want);
      // Page-cached bytes (a boot loader or kernel every node fetches) are copied inline: a thread
      // pool read would wake the loop from another CPU for each chunk. Not cached, or no addon:
      // the thread pool, so the loop never waits on a disk.
      const inline = this.readCached(this.handle.fd, iov, pos + got);
      const bytesRead = inline > 0 ? inline : (await this.handle.readv(iov, pos + got)).bytesRead;
      // The file shrank: the short block ends the transfer rather than leaving it waiting.
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return got;
  }

  /** Payload areas covering chunk bytes [from, to): whole blocks as made, the ends cut. */
  private iovecs(ch: Chunk, from: number, to: number): Buffer[] {
    const out: Buffer[] = [];
    for (let b = Math.floor(from / this.blk); b * this.blk < to; b++) {
      const start = Math.max(from - b * this.blk, 0);
      const end = Math.min(to - b * this.blk, this.blk);
      out.push(start === 0 && end === this.blk ? ch.payloads[b]! : ch.payloads[b]!.subarray(start, end));
    }
    return out;
  }
}
