/**
 * Sequential sources of DATA payloads for the copying path (rendered configs and netascii; octet
 * files go through `FileBlocks`, which reads straight into the packets). A transfer only ever
 * moves forward (retransmissions resend packets it still holds), so a source is a cursor, not
 * random access. The file source reads ahead with positional `FileHandle.read` into a bounded
 * chunk, so a file is never buffered whole.
 */
import type { FileHandle } from 'node:fs/promises';

export interface BlockSource {
  /** Bytes the transfer will carry, when known up front (octet mode). */
  readonly size: number | undefined;
  /** Copies up to `len` bytes into `dst` at `off`; fewer only at the end. Sync when buffered. */
  readInto(dst: Buffer, off: number, len: number): number | Promise<number>;
  close(): Promise<void>;
}

export class BufferSource implements BlockSource {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}
  get size(): number {
    return this.buf.length;
  }
  readInto(dst: Buffer, off: number, len: number): number {
    const n = Math.min(len, this.buf.length - this.pos);
    this.buf.copy(dst, off, this.pos, this.pos + n);
    this.pos += n;
    return n;
  }
  async close(): Promise<void> {}
}

interface Chunk {
  pos: number;
  buf: Buffer;
  len: number;
}

export class FileSource implements BlockSource {
  private pos = 0;
  private cur: Chunk | undefined;
  private next: Promise<Chunk> | undefined;
  private closed = false;

  /** `size` is fixed at open: the OACK's tsize and the bytes sent agree even if the file changes. */
  constructor(
    private readonly handle: FileHandle,
    readonly size: number,
    private readonly chunkSize: number,
  ) {}

  private async load(pos: number): Promise<Chunk> {
    const want = Math.min(this.chunkSize, this.size - pos);
    const buf = Buffer.allocUnsafe(Math.max(want, 0));
    let len = 0;
    while (len < want) {
      const { bytesRead } = await this.handle.read(buf, len, want - len, pos + len);
      if (bytesRead === 0) break; // the file shrank: the transfer ends short rather than hangs
      len += bytesRead;
    }
    return { pos, buf, len };
  }

  private prefetch(): void {
    if (this.next || !this.cur || this.closed) return;
    const at = this.cur.pos + this.cur.len;
    if (at >= this.size || this.cur.len === 0) return;
    this.next = this.load(at);
    // Errors surface when the chunk is awaited; an unobserved rejection must not crash the process.
    this.next.catch(() => undefined);
  }

  readInto(dst: Buffer, off: number, len: number): number | Promise<number> {
    const c = this.cur;
    if (c && this.pos >= c.pos && this.pos + len <= c.pos + c.len) {
      c.buf.copy(dst, off, this.pos - c.pos, this.pos - c.pos + len);
      this.pos += len;
      if (this.pos - c.pos >= c.len / 2) this.prefetch();
      return len;
    }
    return this.slow(dst, off, len);
  }

  private async slow(dst: Buffer, off: number, len: number): Promise<number> {
    let copied = 0;
    while (copied < len && this.pos < this.size) {
      let c = this.cur;
      if (!c || this.pos >= c.pos + c.len) {
        const pending = this.next && c && c.pos + c.len === this.pos ? this.next : undefined;
        this.next = undefined;
        c = await (pending ?? this.load(this.pos));
        if (this.closed) return copied;
        this.cur = c;
        if (c.len === 0) break;
      }
      const n = Math.min(len - copied, c.pos + c.len - this.pos);
      c.buf.copy(dst, off + copied, this.pos - c.pos, this.pos - c.pos + n);
      copied += n;
      this.pos += n;
    }
    this.prefetch();
    return copied;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cur = undefined;
    const pending = this.next;
    this.next = undefined;
    // Let an in-flight read finish before the descriptor goes away.
    if (pending) await pending.catch(() => undefined);
    await this.handle.close();
  }
}

/**
 * RFC 1350 netascii from a Unix file: LF becomes CR LF and a bare CR becomes CR NUL. Each byte
 * maps on its own, so only the output needs buffering across block boundaries.
 */
export class NetasciiSource implements BlockSource {
  readonly size = undefined;
  private pending: Buffer = Buffer.alloc(0);
  private eof = false;
  constructor(private readonly inner: BlockSource) {}

  static convert(raw: Buffer): Buffer {
    let extra = 0;
    for (let i = 0; i < raw.length; i++) if (raw[i] === 0x0a || raw[i] === 0x0d) extra++;
    if (extra === 0) return raw;
    const out = Buffer.allocUnsafe(raw.length + extra);
    let j = 0;
    for (let i = 0; i < raw.length; i++) {
      const b = raw[i]!;
      if (b === 0x0a) {
        out[j++] = 0x0d;
        out[j++] = 0x0a;
      } else if (b === 0x0d) {
        out[j++] = 0x0d;
        out[j++] = 0x00;
      } else out[j++] = b;
    }
    return out;
  }

  async readInto(dst: Buffer, off: number, len: number): Promise<number> {
    while (this.pending.length < len && !this.eof) {
      const raw = Buffer.allocUnsafe(len);
      const n = await this.inner.readInto(raw, 0, len);
      if (n === 0) this.eof = true;
      else this.pending = Buffer.concat([this.pending, NetasciiSource.convert(raw.subarray(0, n))]);
    }
    const n = Math.min(len, this.pending.length);
    this.pending.copy(dst, off, 0, n);
    this.pending = this.pending.subarray(n);
    return n;
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
