/**
 * Streaming cpio newc archive writer. Headers come from the pure codec in ./newc.ts; this module
 * only moves bytes: file contents are streamed with large positional reads and writes, never
 * loaded whole, so a 3.9 GiB ISO costs a few MiB of memory.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { RhevbootError } from '../errors.js';
import {
  NEWC_TRAILER_NAME,
  assertNewcFileSize,
  blockPadding,
  dataPadding,
  encodeNewcHeader,
  encodeNewcTrailer,
  zeroPad,
} from './newc.js';
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFLNK, S_IFREG } from '../util/file-mode.js';

/**
 * Where archive bytes go. `write` may be called again before an earlier call settles; the sink
 * must apply chunks in call order, and the caller leaves a chunk untouched until its promise
 * settles (so the sink may hand it to a thread without copying).
 */
export interface ByteSink {
  write(chunk: Buffer): Promise<void>;
}

/**
 * Writes at explicit positions, one write at a time: concurrent pwrite()s to one file serialize on
 * the inode lock anyway and measured no faster, so a chunk queues behind the previous one while
 * reads and any hashing overlap with the write in progress.
 */
export class FileHandleSink implements ByteSink {
  private tail: Promise<void> = Promise.resolve();

  constructor(
    readonly fh: FileHandle,
    public position: number,
  ) {}

  write(chunk: Buffer): Promise<void> {
    const at = this.position;
    this.position += chunk.length;
    const p = this.tail.then(() => writeFully(this.fh, chunk, at));
    this.tail = p.catch(() => undefined);
    return p;
  }
}

export async function writeFully(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  try {
    while (done < buf.length) {
      const { bytesWritten } = await fh.write(buf, done, buf.length - done, position + done);
      if (bytesWritten <= 0) throw new Error('write returned 0 bytes');
      done += bytesWritten;
    }
  } catch (err) {
    const at = position + done;
    const message = `cannot write archive data at offset ${at}: ${errText(err)}`;
    throw new RhevbootError('RB_ERR_IMPORT', message, { position: at }, { cause: err });
  }
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export interface CpioEntryCommon {
  /** Relative path inside the archive, '/'-separated, e.g. `bin/busybox` (lands at /bin/busybox). */
  name: string;
  /** Permission bits only (0o7777); the file type bits come from `type`. */
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date | number;
  /** Defaults to the writer's counter; give it only if you manage all numbers yourself. */
  ino?: number;
  nlink?: number;
}

export type CpioEntry =
  /** A directory already written (e.g. as a parent) is not written again. */
  | (CpioEntryCommon & { type: 'directory' })
  | (CpioEntryCommon & { type: 'symlink'; target: string })
  /**
   * A regular file streamed from disk (symlinks are followed, as with `cpio -L`). With `handle`,
   * that already open file is read instead of opening `path` (which then only names it in errors),
   * so a size the caller checked cannot change under it; the caller keeps ownership of the handle.
   */
  | (CpioEntryCommon & { type: 'file'; path: string; handle?: FileHandle })
  | (CpioEntryCommon & { type: 'buffer'; data: Buffer })
  | (CpioEntryCommon & { type: 'device'; device: 'char' | 'block'; major: number; minor: number });

export interface CpioWriterOptions {
  /** Byte offset in the file handle where the archive starts; 'append' (default) = current end of file. */
  position?: number | 'append';
  /** Emit missing parent directories (mode 0755) before an entry, as `cpio` users get from `find`. */
  parents?: boolean;
  /** Pad the archive with zeroes to a multiple of 512 bytes after the trailer, as GNU cpio does. */
  padToBlock?: boolean;
  /** Defaults for entries that do not set them. mtime defaults to the epoch for reproducible output. */
  mtime?: Date | number;
  uid?: number;
  gid?: number;
  /** First automatic inode number. GNU `cpio --reproducible` starts at 0. */
  firstIno?: number;
  /** Size of each read/write when streaming files. */
  chunkSize?: number;
  /** Buffers in the ring (one being read, the others queued for or being written); at least 3. */
  buffers?: number;
  signal?: AbortSignal;
  /** Called after each streamed chunk of a `file` entry. */
  onProgress?: (p: CpioProgress) => void;
}

export interface CpioProgress {
  /** Archive bytes handed to the sink so far. */
  archiveBytes: number;
  /** The entry being streamed, its bytes copied so far and its size. */
  name: string;
  entryBytes: number;
  entrySize: number;
}

export const DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024;
const DEFAULT_BUFFERS = 4;
/** Small writes (headers, symlink targets, padding) are batched up to this size. */
const BATCH_LIMIT = 64 * 1024;
/** The kernel's initramfs unpacker refuses names longer than PATH_MAX. */
const MAX_NAME_BYTES = 4095;
const MAX_BATCHES_IN_FLIGHT = 8;

function toEpochSeconds(t: Date | number | undefined): number {
  if (t === undefined) return 0;
  const s = t instanceof Date ? Math.floor(t.getTime() / 1000) : Math.floor(t);
  if (!Number.isFinite(s) || s < 0 || s > 0xffff_ffff) {
    throw new RhevbootError('RB_ERR_CPIO', `mtime ${String(t)} does not fit the 32-bit newc mtime field`, {
      mtime: String(t),
    });
  }
  return s;
}

/** Names are written as given, so refuse the ones that would escape or confuse an unpacker. */
export function validateEntryName(name: string): void {
  const bad = (why: string): never => {
    throw new RhevbootError('RB_ERR_CPIO', `invalid cpio entry name ${JSON.stringify(name)}: ${why}`, { name });
  };
  if (name.length === 0) bad('empty');
  if (name.includes('\0')) bad('contains NUL');
  if (name.startsWith('/')) bad('must be relative (the kernel and cpio -i resolve it against the root)');
  if (name === NEWC_TRAILER_NAME) bad('reserved for the end-of-archive marker');
  const parts = name.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) bad('empty, "." or ".." path component');
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) bad(`longer than ${MAX_NAME_BYTES} bytes`);
}

export class CpioWriter {
  private readonly sink: ByteSink;
  private readonly fh: FileHandle | undefined;
  private readonly opts: CpioWriterOptions;
  private started = false;
  private finished = false;
  private nextIno: number;
  private bytes = 0;
  private batch: Buffer[] = [];
  private batchBytes = 0;
  private readonly dirs = new Set<string>();
  private inFlight = new Set<Promise<void>>();
  private failure: unknown;

  /** `target` is a FileHandle (written at `opts.position`) or any ByteSink. */
  constructor(target: FileHandle | ByteSink, opts: CpioWriterOptions = {}) {
    this.opts = opts;
    this.nextIno = opts.firstIno ?? 0;
    if (isByteSink(target)) {
      if (opts.position !== undefined) {
        throw new RhevbootError('RB_ERR_CPIO', 'position applies only when writing to a FileHandle', {});
      }
      this.sink = target;
    } else {
      this.fh = target;
      // Position resolved lazily in start(), because 'append' needs an fstat.
      this.sink = new FileHandleSink(target, typeof opts.position === 'number' ? opts.position : -1);
    }
  }

  /** Archive bytes produced so far (including batched bytes not yet handed to the sink). */
  get size(): number {
    return this.bytes;
  }

  private async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    if (this.fh && this.sink instanceof FileHandleSink && this.sink.position < 0) {
      this.sink.position = (await this.fh.stat()).size;
    }
  }

  private common(e: CpioEntryCommon, defaultPerm: number, type: number) {
    const perm = e.mode ?? defaultPerm;
    if (!Number.isInteger(perm) || perm < 0 || perm > 0o7777) {
      throw new RhevbootError('RB_ERR_CPIO', `mode of "${e.name}" must be permission bits 0..0o7777`, {
        name: e.name,
        mode: perm,
      });
    }
    return {
      name: e.name,
      ino: e.ino ?? this.nextIno++,
      mode: type | perm,
      uid: e.uid ?? this.opts.uid ?? 0,
      gid: e.gid ?? this.opts.gid ?? 0,
      mtime: toEpochSeconds(e.mtime ?? this.opts.mtime),
    };
  }

  private push(buf: Buffer): void {
    if (buf.length === 0) return;
    this.batch.push(buf);
    this.batchBytes += buf.length;
    this.bytes += buf.length;
  }

  private async flush(force = false): Promise<void> {
    if (this.batchBytes === 0 || (!force && this.batchBytes < BATCH_LIMIT)) return;
    const chunk = this.batch.length === 1 ? this.batch[0]! : Buffer.concat(this.batch, this.batchBytes);
    this.batch = [];
    this.batchBytes = 0;
    await this.track(this.sink.write(chunk));
  }

  /** Keeps sink writes in flight (a few at most); the first failure is remembered and rethrown. */
  private async track(p: Promise<void>): Promise<void> {
    const t = p.then(
      () => {
        this.inFlight.delete(t);
      },
      (err: unknown) => {
        this.inFlight.delete(t);
        this.failure ??= err;
      },
    );
    this.inFlight.add(t);
    while (this.inFlight.size >= MAX_BATCHES_IN_FLIGHT) await Promise.race(this.inFlight);
    if (this.failure !== undefined) throw this.failure;
  }

  private async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
    if (this.failure !== undefined) throw this.failure;
  }

  private async ensureParents(name: string): Promise<void> {
    if (!this.opts.parents) return;
    const parts = name.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!this.dirs.has(dir)) await this.add({ type: 'directory', name: dir });
    }
  }

  async add(entry: CpioEntry): Promise<void> {
    if (this.finished) throw new RhevbootError('RB_ERR_CPIO', 'cpio archive already finished', { name: entry.name });
    this.opts.signal?.throwIfAborted();
    validateEntryName(entry.name);
    await this.start();
    await this.ensureParents(entry.name);
    switch (entry.type) {
      case 'directory': {
        if (this.dirs.has(entry.name)) return;
        this.dirs.add(entry.name);
        this.push(encodeNewcHeader({ ...this.common(entry, 0o755, S_IFDIR), nlink: entry.nlink ?? 2, filesize: 0 }));
        break;
      }
      case 'symlink': {
        // The target is the entry's data, without a NUL (unlike the name).
        const target = Buffer.from(entry.target, 'utf8');
        if (target.length === 0 || target.includes(0)) {
          throw new RhevbootError('RB_ERR_CPIO', `symlink "${entry.name}" needs a non-empty target without NUL`, {
            name: entry.name,
          });
        }
        this.pushData(this.common(entry, 0o777, S_IFLNK), entry.nlink, target);
        break;
      }
      case 'buffer':
        this.pushData(this.common(entry, 0o644, S_IFREG), entry.nlink, entry.data);
        break;
      case 'device': {
        const type = entry.device === 'char' ? S_IFCHR : S_IFBLK;
        this.push(
          encodeNewcHeader({
            ...this.common(entry, 0o600, type),
            nlink: entry.nlink ?? 1,
            filesize: 0,
            rdevmajor: entry.major,
            rdevminor: entry.minor,
          }),
        );
        break;
      }
      case 'file':
        await this.addFile(entry);
        break;
      default: {
        const never: never = entry;
        throw new RhevbootError('RB_ERR_CPIO', `unknown cpio entry type ${JSON.stringify(never)}`, {});
      }
    }
    await this.flush();
  }

  private pushData(base: ReturnType<CpioWriter['common']>, nlink: number | undefined, data: Buffer): void {
    const header = encodeNewcHeader({ ...base, nlink: nlink ?? 1, filesize: data.length });
    this.push(header);
    this.push(data);
    this.push(zeroPad(dataPadding(data.length)));
  }

  private async addFile(entry: CpioEntryCommon & { type: 'file'; path: string; handle?: FileHandle }): Promise<void> {
    let src: FileHandle;
    try {
      src = entry.handle ?? (await open(entry.path, 'r'));
    } catch (err) {
      throw importError(`cannot open ${entry.path}: ${errText(err)}`, entry.path, err);
    }
    try {
      const st = await src.stat().catch((err: unknown) => {
        throw importError(`cannot stat ${entry.path}: ${errText(err)}`, entry.path, err);
      });
      if (!st.isFile()) {
        throw new RhevbootError('RB_ERR_CPIO', `${entry.path} is not a regular file`, { path: entry.path });
      }
      // Checked before the header is produced, so a refused file leaves no trace in the archive.
      assertNewcFileSize(st.size, entry.name);
      const base = this.common(entry, 0o644, S_IFREG);
      this.push(encodeNewcHeader({ ...base, nlink: entry.nlink ?? 1, filesize: st.size }));
      await this.pump(src, st.size, entry.path, entry.name);
      this.push(zeroPad(dataPadding(st.size)));
    } finally {
      if (!entry.handle) await src.close().catch(() => undefined);
    }
  }

  private async pump(src: FileHandle, size: number, label: string, name: string): Promise<void> {
    await this.flush(true);
    await this.drain();
    const before = this.bytes;
    await pumpFile(src, size, this.sink, {
      label,
      chunkSize: this.opts.chunkSize,
      buffers: this.opts.buffers,
      signal: this.opts.signal,
      onChunk: (done) => {
        this.bytes = before + done;
        this.opts.onProgress?.({ archiveBytes: this.bytes, name, entryBytes: done, entrySize: size });
      },
    });
  }

  /** Writes the trailer (and block padding if asked); returns the archive's length in bytes. */
  async finish(): Promise<number> {
    if (this.finished) return this.bytes;
    await this.start();
    this.push(encodeNewcTrailer());
    if (this.opts.padToBlock) this.push(zeroPad(blockPadding(this.bytes, 512)));
    this.finished = true;
    await this.flush(true);
    await this.drain();
    return this.bytes;
  }
}

export interface PumpOptions {
  /** Used in error messages. */
  label?: string;
  chunkSize?: number;
  buffers?: number;
  signal?: AbortSignal;
  /** Called after each chunk is handed to the sink, with the bytes handed over so far. */
  onChunk?: (bytesDone: number) => void;
}

/**
 * Copies exactly `size` bytes of `src` (from offset 0) into `sink`. The read of the next chunk is
 * issued before the current one is handed to the sink, and a ring of buffers lets chunks queue for
 * writing, so reads, writes (both on libuv's threads) and any hashing the sink does on this thread
 * overlap. Resolves only when no write still uses one of the buffers.
 */
export async function pumpFile(src: FileHandle, size: number, sink: ByteSink, opts: PumpOptions = {}): Promise<void> {
  const label = opts.label ?? 'input file';
  const chunkSize = Math.max(4096, Math.min(opts.chunkSize ?? DEFAULT_CHUNK_SIZE, size || 4096));
  const slots = Math.max(3, opts.buffers ?? DEFAULT_BUFFERS);
  const ring: Buffer[] = [];
  const busy: (Promise<void> | undefined)[] = new Array<Promise<void> | undefined>(slots).fill(undefined);
  let failure: { err: unknown } | undefined;

  const startRead = async (slot: number, pos: number): Promise<Buffer> => {
    await busy[slot];
    if (failure) throw failure.err;
    opts.signal?.throwIfAborted();
    const buf = (ring[slot] ??= Buffer.allocUnsafe(chunkSize));
    const want = Math.min(chunkSize, size - pos);
    await readFully(src, buf, want, pos, label);
    return want === buf.length ? buf : buf.subarray(0, want);
  };

  let pos = 0;
  let slot = 0;
  let reading: Promise<Buffer> | undefined = size > 0 ? startRead(0, 0) : undefined;
  try {
    while (reading) {
      const chunk = await reading;
      reading = undefined;
      const next = pos + chunk.length;
      const nextSlot = (slot + 1) % slots;
      if (next < size) {
        reading = startRead(nextSlot, next);
        // Rejections are observed by the await at the top of the loop (or dropped in finally).
        reading.catch(() => undefined);
      }
      busy[slot] = sink.write(chunk).then(undefined, (err: unknown) => {
        failure ??= { err };
      });
      pos = next;
      slot = nextSlot;
      opts.onChunk?.(pos);
    }
  } finally {
    if (reading) await reading.catch(() => undefined);
    await Promise.all(busy);
  }
  if (failure) throw failure.err;
}

async function readFully(src: FileHandle, buf: Buffer, length: number, position: number, label: string): Promise<void> {
  let done = 0;
  while (done < length) {
    let n: number;
    try {
      ({ bytesRead: n } = await src.read(buf, done, length - done, position + done));
    } catch (err) {
      throw importError(`cannot read ${label} at offset ${position + done}: ${errText(err)}`, label, err);
    }
    if (n === 0) {
      throw importError(`${label} shrank while it was being archived (EOF at ${position + done})`, label);
    }
    done += n;
  }
}

function importError(message: string, path: string, cause?: unknown): RhevbootError {
  return new RhevbootError('RB_ERR_IMPORT', message, { path }, cause === undefined ? undefined : { cause });
}

function isByteSink(t: FileHandle | ByteSink): t is ByteSink {
  return !('fd' in t && typeof (t as FileHandle).stat === 'function');
}

/** Convenience: writes all entries and the trailer; returns the archive's length in bytes. */
export async function writeCpioArchive(
  target: FileHandle | ByteSink,
  entries: Iterable<CpioEntry> | AsyncIterable<CpioEntry>,
  opts: CpioWriterOptions = {},
): Promise<number> {
  const w = new CpioWriter(target, opts);
  for await (const e of entries) await w.add(e);
  return w.finish();
}
