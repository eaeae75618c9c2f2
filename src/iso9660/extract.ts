/**
 * Safe extraction of an IsoImage into a directory.
 *
 * Safety rules (the image is untrusted; the appliance may run as root):
 *  - The whole tree is walked first, so every structural defect (loops, bad extents, hostile names,
 *    duplicate names) is refused before a single byte is written.
 *  - Every output path is resolved and must stay strictly inside the (realpath'd) target directory.
 *  - Nothing is ever followed: files are created with O_CREAT|O_EXCL|O_NOFOLLOW, symlinks with
 *    symlink(2) (which fails on any existing name), and every parent directory is either created here
 *    or lstat-verified to be a real directory, so a pre-existing symlink cannot redirect a write.
 *    Symlink targets from the image are written as-is and never resolved.
 *  - setuid, setgid and sticky bits are dropped (mode & 0o777): a hostile image must not plant a
 *    setuid-root binary. This is a deliberate difference from `bsdtar -xf` run as root, which
 *    restores them. Ownership is not restored either: extracted files belong to the extracting user.
 *  - Directories are created 0700 and get their final mode and mtime last, deepest first, so
 *    read-only directories in the image (0555 with `-r`) do not block writing their children.
 *
 * Speed: large files are copied in 4 MiB positional reads/writes by four lanes with reused buffers;
 * small files are read whole and several files are in flight at once, because every fs call is a
 * thread-pool round trip and a file needs five of them.
 */
import { constants as C } from 'node:fs';
import { lstat, mkdir, open, realpath, symlink, lutimes, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { isoError, recordLabel, type Where } from './fail.js';
import { SECTOR_SIZE } from './record.js';
import type { IsoImage } from './image.js';
import type { IsoEntry } from './types.js';

export interface ExtractOptions {
  filter?: (e: IsoEntry) => boolean;
  onProgress?: (p: { files: number; bytes: number; totalBytes: number; current: string }) => void;
  signal?: AbortSignal;
}

export interface ExtractResult {
  files: number;
  dirs: number;
  symlinks: number;
  bytes: number;
}

const CHUNK = 4 * 1024 * 1024;
const LANES = 4;
/** Files up to this size are read in one go into their own buffer and handled concurrently. */
const SMALL_FILE = 1024 * 1024;
/**
 * Entries in flight. Each fs call is a thread-pool round trip (~0.1 ms on a loaded VM), and a
 * file costs five of them, so thousands of small files are latency-bound unless overlapped.
 */
const CONCURRENCY = 16;
const PERM_MASK = 0o777;

interface DirFixup {
  abs: string;
  rel: string;
  depth: number;
  mode: number;
  mtime: Date;
}

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

class Extractor {
  private readonly verified = new Set<string>(['']);
  private readonly fixups: DirFixup[] = [];
  private bufs: Buffer[] | undefined;
  /** Large files take turns with the shared copy buffers. */
  private bigLane: Promise<void> = Promise.resolve();
  readonly result: ExtractResult = { files: 0, dirs: 0, symlinks: 0, bytes: 0 };
  totalBytes = 0;

  constructor(
    private readonly image: IsoImage,
    private readonly root: string,
    private readonly opts: ExtractOptions,
  ) {}

  private where(rel: string): Where {
    return { image: this.image.imagePath, record: recordLabel('extraction of', rel) };
  }

  /** Absolute output path for `rel`, guaranteed to lie strictly inside the target directory. */
  private outPath(rel: string): string {
    const abs = path.resolve(this.root, rel);
    const prefix = this.root.endsWith(path.sep) ? this.root : this.root + path.sep;
    if (!abs.startsWith(prefix) || abs.length === prefix.length) {
      throw isoError('RB_ERR_ISO_HOSTILE', this.where(rel), `output path ${abs} escapes the target directory ${this.root}`);
    }
    return abs;
  }

  private fail(rel: string, problem: string, err?: unknown): never {
    throw isoError('RB_ERR_ISO_IO', this.where(rel), `${problem}${err ? `: ${(err as Error).message}` : ''}`, { target: this.root }, err);
  }

  /** mkdir that accepts an existing *real* directory and refuses anything else, symlinks included. */
  private async makeDir(rel: string): Promise<boolean> {
    const abs = this.outPath(rel);
    try {
      await mkdir(abs, { mode: 0o700 });
      this.verified.add(rel);
      return true;
    } catch (err) {
      if (code(err) !== 'EEXIST') this.fail(rel, 'cannot create directory', err);
    }
    const st = await lstat(abs).catch((err: unknown) => this.fail(rel, 'cannot inspect existing path', err));
    if (!st.isDirectory()) {
      this.fail(rel, `refusing to write through a pre-existing ${st.isSymbolicLink() ? 'symlink' : 'non-directory'} at ${abs}`);
    }
    this.verified.add(rel);
    return false;
  }

  /** Parents of `rel` must be real directories; ones the filter skipped are created (0755 in the end). */
  private async ensureParents(rel: string): Promise<void> {
    const parts = rel.split('/');
    let prefix = '';
    for (let i = 0; i < parts.length - 1; i++) {
      prefix = prefix === '' ? parts[i]! : `${prefix}/${parts[i]}`;
      if (this.verified.has(prefix)) continue;
      if (await this.makeDir(prefix)) {
        this.fixups.push({ abs: this.outPath(prefix), rel: prefix, depth: i + 1, mode: 0o755, mtime: new Date() });
      }
    }
  }

  /**
   * Directories and missing parents are created here, in walk order, so that the leaf work returned
   * (files, symlinks) can run concurrently: everything it needs already exists.
   */
  async prepare(e: IsoEntry): Promise<(() => Promise<void>) | undefined> {
    this.opts.signal?.throwIfAborted();
    await this.ensureParents(e.path);
    if (e.type === 'dir') {
      await this.makeDir(e.path);
      this.fixups.push({ abs: this.outPath(e.path), rel: e.path, depth: e.path.split('/').length, mode: e.mode & PERM_MASK, mtime: e.mtime });
      this.result.dirs++;
      this.progress(e.path);
      return undefined;
    }
    return () => this.leaf(e);
  }

  private async leaf(e: IsoEntry): Promise<void> {
    this.opts.signal?.throwIfAborted();
    const abs = this.outPath(e.path);
    if (e.type === 'symlink') {
      try {
        await symlink(e.symlinkTarget!, abs);
      } catch (err) {
        this.fail(e.path, 'cannot create symlink', err);
      }
      await lutimes(abs, e.mtime, e.mtime).catch(() => undefined); // best effort: some filesystems refuse
      this.result.symlinks++;
    } else {
      await this.file(e, abs);
      this.result.files++;
    }
    this.progress(e.path);
  }

  private progress(current: string): void {
    this.opts.onProgress?.({ files: this.result.files, bytes: this.result.bytes, totalBytes: this.totalBytes, current });
  }

  private async file(e: IsoEntry, abs: string): Promise<void> {
    const where: Where = { image: this.image.imagePath, record: recordLabel('file', e.path), lba: e.extents[0]?.lba };
    // Small files: the image read overlaps the open (one round trip instead of two).
    let small: Promise<Buffer> | undefined;
    if (e.size <= SMALL_FILE) {
      small = this.readSmall(e, where);
      small.catch(() => undefined); // awaited below
    }
    let out: FileHandle;
    try {
      out = await open(abs, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
    } catch (err) {
      if (small) await small.catch(() => undefined);
      this.fail(e.path, 'cannot create file', err);
    }
    try {
      if (small) {
        const data = await small;
        await this.writeAll(out, data, data.length, 0);
        this.result.bytes += data.length;
      } else {
        await this.inBigLane(() => this.copy(e, out, where));
      }
      // Both at once (one round trip), but both settled before the handle is closed.
      const meta = await Promise.allSettled([out.chmod(e.mode & PERM_MASK), out.utimes(e.mtime, e.mtime)]);
      for (const m of meta) if (m.status === 'rejected') throw m.reason;
      await out.close();
    } catch (err) {
      await out.close().catch(() => undefined);
      await unlink(abs).catch(() => undefined); // never leave a truncated file that looks complete
      if (err instanceof Error && err.name === 'RhevbootError') throw err;
      if (this.opts.signal?.aborted) throw err;
      this.fail(e.path, 'cannot write file', err);
    }
  }

  private async readSmall(e: IsoEntry, where: Where): Promise<Buffer> {
    const data = Buffer.allocUnsafe(e.size);
    let off = 0;
    for (const x of e.extents) {
      await this.image.readInto(data, off, x.length, x.lba * SECTOR_SIZE, { ...where, lba: x.lba });
      off += x.length;
    }
    return data;
  }

  private async writeAll(out: FileHandle, buf: Buffer, len: number, position: number): Promise<void> {
    let done = 0;
    while (done < len) {
      const { bytesWritten } = await out.write(buf, done, len - done, position + done);
      done += bytesWritten;
    }
  }

  private inBigLane(task: () => Promise<void>): Promise<void> {
    const run = this.bigLane.then(task);
    this.bigLane = run.catch(() => undefined);
    return run;
  }

  /**
   * Large files: LANES workers each claim the next CHUNK, read it with one positional read into
   * their own reused buffer and pwrite it at the same offset, so reads and writes of different
   * chunks overlap across thread-pool threads (measured ~2x a single read/write loop on tmpfs).
   */
  private async copy(e: IsoEntry, out: FileHandle, where: Where): Promise<void> {
    this.opts.signal?.throwIfAborted();
    const bufs = (this.bufs ??= Array.from({ length: LANES }, () => Buffer.allocUnsafe(CHUNK)));
    const chunks: { src: number; dst: number; len: number; lba: number }[] = [];
    let dst = 0;
    for (const x of e.extents) {
      for (let off = 0; off < x.length; off += CHUNK) {
        const len = Math.min(CHUNK, x.length - off);
        chunks.push({ src: x.lba * SECTOR_SIZE + off, dst, len, lba: x.lba });
        dst += len;
      }
    }
    let next = 0;
    let stop = false;
    const lane = async (buf: Buffer): Promise<void> => {
      while (!stop && next < chunks.length) {
        const c = chunks[next++]!;
        await this.image.readInto(buf, 0, c.len, c.src, { ...where, lba: c.lba });
        await this.writeAll(out, buf, c.len, c.dst);
        this.result.bytes += c.len;
        this.progress(e.path);
        this.opts.signal?.throwIfAborted();
      }
    };
    // allSettled: never return while a lane is still using a buffer the next file will reuse.
    const results = await Promise.allSettled(
      bufs.map((b) =>
        lane(b).catch((err: unknown) => {
          stop = true;
          throw err;
        }),
      ),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Final modes and mtimes of directories, deepest first (children's creation touched their mtimes). */
  async finish(): Promise<void> {
    this.fixups.sort((a, b) => b.depth - a.depth);
    for (const f of this.fixups) {
      let dh: FileHandle;
      try {
        dh = await open(f.abs, C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW);
      } catch (err) {
        this.fail(f.rel, 'cannot open directory to set its mode', err);
      }
      try {
        await dh.chmod(f.mode);
        await dh.utimes(f.mtime, f.mtime);
      } catch (err) {
        this.fail(f.rel, 'cannot set directory mode/mtime', err);
      } finally {
        await dh.close();
      }
    }
  }
}

export async function extractIso(image: IsoImage, targetDir: string, opts: ExtractOptions = {}): Promise<ExtractResult> {
  opts.signal?.throwIfAborted();
  const entries: IsoEntry[] = [];
  let totalBytes = 0;
  for await (const e of image.walk()) {
    if (opts.filter && !opts.filter(e)) continue;
    if (e.zisofs) {
      throw isoError('RB_ERR_ISO_UNSUPPORTED', { image: image.imagePath, record: recordLabel('file', e.path), lba: e.extents[0]?.lba }, 'file is zisofs-compressed (Rock Ridge ZF); zisofs is not supported');
    }
    entries.push(e);
    if (e.type === 'file') totalBytes += e.size;
    if (entries.length % 1024 === 0) opts.signal?.throwIfAborted();
  }
  opts.signal?.throwIfAborted();
  try {
    await mkdir(targetDir, { recursive: true });
  } catch (err) {
    throw isoError('RB_ERR_ISO_IO', { image: image.imagePath, record: 'extraction target' }, `cannot create ${targetDir}: ${(err as Error).message}`, { target: targetDir }, err);
  }
  const root = await realpath(targetDir);
  const x = new Extractor(image, root, opts);
  x.totalBytes = totalBytes;
  const running = new Set<Promise<void>>();
  let failed = false;
  let firstError: unknown;
  const settle = (err: unknown): void => {
    if (!failed) firstError = err;
    failed = true;
  };
  for (const e of entries) {
    if (failed) break;
    let leaf: (() => Promise<void>) | undefined;
    try {
      leaf = await x.prepare(e);
    } catch (err) {
      settle(err);
      break;
    }
    if (!leaf) continue;
    const p: Promise<void> = leaf()
      .catch(settle)
      .finally(() => running.delete(p));
    running.add(p);
    if (running.size >= CONCURRENCY) await Promise.race(running);
  }
  // Never return (or report an error) while writes are still in flight.
  await Promise.all(running);
  if (failed) throw firstError;
  await x.finish();
  return x.result;
}
