import { createHash } from 'node:crypto';
import { copyFile, link, mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.js';
import { sha256FileInWorker } from '../util/hash-file.js';
import { buildPxeInitrd } from './initrd.js';

/** Bumped whenever the PXE initrd layout changes, so entries of the old layout are not reused. */
const INITRD_FORMAT = 'rhevboot-pxe-initrd-v1';

export interface InitrdRequest {
  jobId: string;
  baseInitrd: string;
  /** The ISO to append (the source file: it is read while the tree's copy is being written). */
  iso: string;
  /** Resolves to the ISO's sha256; the build starts before it is known. */
  isoSha256: Promise<string>;
  isoName: string;
  compress: 'none' | 'gzip';
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

export interface InitrdEntry {
  path: string;
  sha256: string;
  bytes: number;
  cached: boolean;
}

/**
 * PXE initrds cached by content: the same base initrd, ISO, member name and compression give the
 * same bytes, so a re-import, or the same ISO under another name, links the cached file into its
 * tree instead of writing 700 MB again. Every tree that uses an entry holds a hard link to it, so
 * an entry with one link left is used by no tree and can go.
 *
 *   <dir>/<key>.img          an entry;  <dir>/<key>.img.sha256  its checksum, written after it
 *   <dir>/.build-<job>.img   a build in progress (speculative: started before the key is known)
 */
export class InitrdCache {
  constructor(private readonly dir: string, private readonly log: Logger) {}

  async obtain(req: InitrdRequest): Promise<InitrdEntry> {
    await mkdir(this.dir, { recursive: true, mode: 0o755 });
    const baseSha = (await sha256FileInWorker(req.baseInitrd)).sha256;
    const tmp = path.join(this.dir, `.build-${req.jobId}.img`);
    const stop = new AbortController();
    const onOuterAbort = (): void => stop.abort(req.signal!.reason);
    req.signal?.addEventListener('abort', onOuterAbort, { once: true });
    // Start writing at once: on a fresh import (the common case) the cache cannot hold the entry,
    // and waiting for the ISO's hash would serialise two full passes over it.
    const building = buildPxeInitrd({
      baseInitrd: req.baseInitrd,
      appendFile: req.iso,
      appendName: req.isoName,
      outFile: tmp,
      compress: req.compress,
      mtime: new Date(0),
      // Like cp and cpio, trust the page cache; the checksum file catches a power cut.
      fsync: false,
      signal: stop.signal,
      onProgress: req.onProgress,
    });
    building.catch(() => {});
    try {
      const key = createHash('sha256').update([INITRD_FORMAT, await req.isoSha256, baseSha, req.isoName, req.compress].join('\n')).digest('hex');
      const entry = path.join(this.dir, `${key}.img`);
      const cached = await this.verified(entry);
      if (cached) {
        stop.abort(new Error('cache hit'));
        await building.catch(() => {});
        await unlink(tmp).catch(() => {});
        return { path: entry, sha256: cached.sha256, bytes: cached.bytes, cached: true };
      }
      const built = await building;
      await rename(tmp, entry);
      await writeFile(`${entry}.sha256.partial`, `${built.sha256}\n`);
      await rename(`${entry}.sha256.partial`, `${entry}.sha256`);
      return { path: entry, sha256: built.sha256, bytes: built.bytes, cached: false };
    } catch (err) {
      stop.abort(err);
      await building.catch(() => {});
      await unlink(tmp).catch(() => {});
      throw err;
    } finally {
      req.signal?.removeEventListener('abort', onOuterAbort);
    }
  }

  /** An entry is trusted only if its bytes still hash to the checksum recorded when it was built. */
  private async verified(entry: string): Promise<{ sha256: string; bytes: number } | undefined> {
    const recorded = (await readFile(`${entry}.sha256`, 'utf8').catch(() => '')).trim();
    if (!recorded) return undefined;
    const actual = await sha256FileInWorker(entry).catch(() => undefined);
    if (actual?.sha256 === recorded) return actual;
    this.log.warn({ entry, recorded, actual: actual?.sha256 }, 'cached PXE initrd does not match its checksum; rebuilding');
    await unlink(entry).catch(() => {});
    return undefined;
  }

  /** Puts an entry into a tree: a hard link, or a copy across filesystems. */
  async linkInto(entry: string, dest: string): Promise<void> {
    await mkdir(path.dirname(dest), { recursive: true, mode: 0o755 });
    try {
      await link(entry, dest);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      await copyFile(entry, dest);
    }
  }

  /**
   * Removes builds left by jobs that are not running and, with `entries`, entries no tree links
   * to any more (only when no import could be about to link one: removing a distro, say).
   */
  async prune(isLiveJob: (jobId: string) => boolean, opts: { entries: boolean }): Promise<void> {
    for (const f of await readdir(this.dir).catch(() => [] as string[])) {
      const full = path.join(this.dir, f);
      const build = f.match(/^\.build-(.+?)\.img(\.partial)?$/);
      if (build) {
        if (!isLiveJob(build[1]!)) await unlink(full).catch(() => {});
        continue;
      }
      if (!opts.entries || !f.endsWith('.img')) continue;
      const s = await stat(full).catch(() => undefined);
      if (s?.isFile() && s.nlink === 1) {
        await unlink(full).catch(() => {});
        await unlink(`${full}.sha256`).catch(() => {});
      }
    }
  }
}
