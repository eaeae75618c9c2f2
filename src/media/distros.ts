import { constants as fsConstants } from 'node:fs';
import { copyFile, mkdir, realpath, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  deriveName,
  explainMismatch,
  factsNeeded,
  isExtracted,
  normaliseArch,
  recognise,
  validateDistroName,
  type DistroDescriptor,
  type IsoFacts,
} from '../domain/distro.js';
import { isRhevbootError, RhevbootError } from '../errors.js';
import { extractIso, IsoImage } from '../iso9660/index.js';
import type { Logger } from '../log.js';
import type { EventService } from '../events/events.js';
import type { JobService } from '../jobs/jobs.js';
import type { DistroRecord, Store } from '../store/store.js';
import { sha256FileInWorker } from '../util/hash-file.js';
import { InitrdCache } from './initrd-cache.js';
import { recoverTree, swapIn, treePaths, treeStats } from './tree.js';

export interface ImportRequest {
  isoPath: string;
  name?: string;
  arch?: string;
  force?: boolean;
  compress?: 'none' | 'gzip';
}

export type ImportPhase = 'inspect' | 'verify' | 'extract' | 'copy' | 'register';

export interface ImportProgress {
  phase: ImportPhase;
  done: number;
  total: number;
}

export interface ImportOutcome {
  status: 'imported' | 'unchanged';
  distro: DistroRecord;
  jobId?: string;
  /** Human-readable notes: cleanups done, cache hits, why nothing happened. */
  notes: string[];
}

export interface DistroServiceDeps {
  store: Store;
  jobs: JobService;
  events: EventService;
  log: Logger;
  installDir: string;
  cacheDir: string;
  descriptors: DistroDescriptor[];
  maxIsoBytes: number;
  defaultCompression: 'none' | 'gzip';
}

const TEXT_LIMIT = 1024 * 1024;

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

/**
 * Distros: imported, listed, removed. copycds imports a hypervisor ISO into
 * `<installDir>/<name>/<arch>/`. The ISO is read in
 * process (no loop mount, so no root needed), the raw ISO is kept as the descriptor's `isoName`,
 * the boot files are extracted, and the PXE initrd (original initrd + a newc cpio holding the
 * ISO) is built or taken from the cache. The tree is built aside and swapped in by rename, and
 * the distro row is written last, so an interrupted import never leaves a half-registered distro.
 */
export class DistroService {
  private readonly initrds: InitrdCache;

  constructor(private readonly deps: DistroServiceDeps) {
    this.initrds = new InitrdCache(path.join(deps.cacheDir, 'initrd'), deps.log);
  }

  async inspect(isoPath: string): Promise<{ image: IsoImage; facts: IsoFacts; descriptor: DistroDescriptor }> {
    const image = await IsoImage.open(isoPath);
    try {
      const facts = await this.gatherFacts(image);
      const result = recognise(this.deps.descriptors, facts);
      if (!result.ok) {
        const explanation = explainMismatch(isoPath, this.deps.descriptors, facts, result.mismatches, await this.topLevel(image));
        throw new RhevbootError('RB_ERR_NOT_DISTRO', explanation, { iso: isoPath, volumeId: facts.volumeId, mismatches: result.mismatches });
      }
      return { image, facts, descriptor: result.descriptor };
    } catch (err) {
      await image.close();
      throw err;
    }
  }

  private async gatherFacts(image: IsoImage): Promise<IsoFacts> {
    const { paths, textFiles } = factsNeeded(this.deps.descriptors);
    const present = new Set<string>();
    const text = new Map<string, string>();
    for (const p of paths) {
      const entry = await image.lookup(p);
      if (!entry || entry.type !== 'file') continue;
      present.add(p);
      if (textFiles.includes(p) && entry.size <= TEXT_LIMIT) text.set(p, (await image.readFile(entry, TEXT_LIMIT)).toString('latin1'));
    }
    return { volumeId: image.volumeId, present, text };
  }

  /** Only for the refusal message: walking the whole tree is not worth it on the import path. */
  private async topLevel(image: IsoImage): Promise<string[]> {
    const names: string[] = [];
    for await (const e of image.walk()) {
      if (!e.path.includes('/')) names.push(e.type === 'dir' ? `${e.name}/` : e.name);
      else if (names.length >= 50) break;
    }
    return names;
  }

  async importIso(
    req: ImportRequest,
    opts: { onProgress?: (p: ImportProgress) => void; onJob?: (job: { id: string; subject: string }) => void; signal?: AbortSignal } = {},
  ): Promise<ImportOutcome> {
    const started = Date.now();
    const report = opts.onProgress ?? (() => {});
    const isoPath = await realpath(req.isoPath).catch((err: NodeJS.ErrnoException) => {
      throw new RhevbootError('RB_ERR_INVALID', `cannot read ISO ${req.isoPath}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`, { iso: req.isoPath });
    });
    const st = await stat(isoPath);
    if (!st.isFile()) throw new RhevbootError('RB_ERR_INVALID', `${isoPath} is not a regular file`, { iso: isoPath });
    if (st.size > this.deps.maxIsoBytes) {
      throw new RhevbootError(
        'RB_ERR_INVALID',
        `${isoPath} is ${st.size} bytes; the PXE initrd carries the ISO in a newc cpio, which cannot hold 4 GiB or more (limit media.maxIsoBytes = ${this.deps.maxIsoBytes})`,
        { iso: isoPath, bytes: st.size, limit: this.deps.maxIsoBytes },
      );
    }

    report({ phase: 'inspect', done: 0, total: 1 });
    const { image, facts, descriptor } = await this.inspect(isoPath);
    try {
      const arch = normaliseArch(req.arch ?? descriptor.defaultArch);
      if (!descriptor.arches.includes(arch)) {
        throw new RhevbootError('RB_ERR_INVALID', `arch '${arch}' is not one of ${descriptor.family}'s (${descriptor.arches.join(', ')})`, { arch });
      }
      const derived = deriveName(descriptor, facts);
      const name = req.name ?? derived?.name;
      if (!name) {
        throw new RhevbootError(
          'RB_ERR_INVALID',
          `${isoPath} is ${descriptor.title}, but no name can be derived from volume id '${facts.volumeId}' or its isolinux.cfg; pass --name (e.g. ${descriptor.family}6.5)`,
          { iso: isoPath, volumeId: facts.volumeId },
        );
      }
      const bad = validateDistroName(name);
      if (bad) throw new RhevbootError('RB_ERR_INVALID', bad, { name });
      report({ phase: 'inspect', done: 1, total: 1 });
      return await this.runImport({ req, isoPath, isoBytes: st.size, image, facts, descriptor, arch, name, version: derived?.version ?? '', started, report, onJob: opts.onJob, signal: opts.signal });
    } finally {
      await image.close();
    }
  }

  private async runImport(ctx: {
    req: ImportRequest;
    isoPath: string;
    isoBytes: number;
    image: IsoImage;
    facts: IsoFacts;
    descriptor: DistroDescriptor;
    arch: string;
    name: string;
    version: string;
    started: number;
    report: (p: ImportProgress) => void;
    onJob: ((job: { id: string; subject: string }) => void) | undefined;
    signal: AbortSignal | undefined;
  }): Promise<ImportOutcome> {
    const { deps } = this;
    const { isoPath, descriptor, arch, name, report, signal } = ctx;
    const subject = `${name}/${arch}`;
    const notes: string[] = [];

    // Debris of interrupted imports is cleaned before anything else looks at the tree.
    await deps.jobs.reapOrphans('copycds');
    const live = new Set((await deps.store.jobs.list({ kind: 'copycds', subject, state: 'running' })).map((j) => j.id));
    for (const action of await recoverTree(deps.installDir, name, arch, (id) => live.has(id))) {
      notes.push(action);
      await deps.events.record({ kind: 'distro.import.recovered', subjectType: 'distro', subject, message: `cleaned up an interrupted import: ${action}`, data: {} });
    }

    const anyLive = new Set((await deps.store.jobs.list({ kind: 'copycds', state: 'running' })).map((j) => j.id));
    await this.initrds.prune((id) => anyLive.has(id), { entries: false });

    const existing = await deps.store.distros.get(name, arch);
    const finalTree = treePaths(deps.installDir, name, arch, 'x').final;
    let knownSha: string | undefined;
    if (existing && !ctx.req.force) {
      const verified = await sha256FileInWorker(isoPath, (done, total) => report({ phase: 'verify', done, total }));
      signal?.throwIfAborted();
      knownSha = verified.sha256;
      if (verified.sha256 !== existing.isoSha256) {
        throw new RhevbootError(
          'RB_ERR_CONFLICT',
          `distro ${subject} was imported from a different ISO (sha256 ${existing.isoSha256.slice(0, 16)}…, this one is ${verified.sha256.slice(0, 16)}…); use --force to replace it, or --name to import it beside`,
          { distro: subject, existing: existing.isoSha256, offered: verified.sha256 },
        );
      }
      if (await this.treeIntact(existing)) {
        notes.push(`${subject} is already imported from this ISO (sha256 ${existing.isoSha256.slice(0, 16)}…); nothing to do (use --force to re-import)`);
        return { status: 'unchanged', distro: existing, notes };
      }
      notes.push(`${subject} is registered but its tree is incomplete; importing again`);
    } else if (!existing && (await isFile(path.join(finalTree, descriptor.install.isoName)))) {
      notes.push(`${finalTree} exists but is not a registered distro (an import stopped before registering); replacing it`);
    }

    const job = await deps.jobs.start('copycds', subject, { iso: isoPath, name, arch, force: Boolean(ctx.req.force) }, ctx.isoBytes);
    const paths = treePaths(deps.installDir, name, arch, job.record.id);
    ctx.onJob?.({ id: job.record.id, subject });
    const progress = (p: ImportProgress): void => {
      report(p);
      job.progress(p);
    };
    await deps.events.record({ kind: 'distro.import.started', subjectType: 'distro', subject, message: `importing ${isoPath} as ${subject}`, data: { iso: isoPath, job: job.record.id } });
    try {
      await mkdir(paths.staging, { recursive: true, mode: 0o755 });
      const before = await stat(isoPath);
      // The boot files first (small): the initrd build needs initrd0.img.
      await extractIso(ctx.image, paths.staging, {
        filter: (e) => isExtracted(descriptor, e.path) || descriptor.install.extract.some((x) => x.startsWith(`${e.path}/`)),
        signal,
        onProgress: (p) => progress({ phase: 'extract', done: p.bytes, total: p.totalBytes }),
      });
      for (const p of [descriptor.install.kernel, descriptor.install.initrd]) {
        if (!(await isFile(path.join(paths.staging, p)))) {
          throw new RhevbootError('RB_ERR_IMPORT', `${isoPath}: ${p} was not extracted (check the descriptor's install.extract)`, { iso: isoPath, path: p });
        }
      }
      // Then three full passes over the ISO at once, each on its own resource: the kernel copies
      // it into the tree (copy_file_range/sendfile, no user space), a worker thread hashes it, and
      // this thread builds and hashes the PXE initrd from it. Run one after another they would
      // cost the sum of the three.
      const isoCopy = path.join(paths.staging, descriptor.install.isoName);
      const hashing = knownSha ? Promise.resolve({ sha256: knownSha, bytes: ctx.isoBytes }) : sha256FileInWorker(isoPath);
      hashing.catch(() => {});
      const [, isoHash, pxe] = await Promise.all([
        copyFile(isoPath, isoCopy, fsConstants.COPYFILE_EXCL),
        hashing,
        this.initrds.obtain({
          jobId: job.record.id,
          baseInitrd: path.join(paths.staging, descriptor.install.initrd),
          iso: isoPath,
          isoSha256: hashing.then((h) => h.sha256),
          isoName: descriptor.install.isoName,
          compress: ctx.req.compress ?? deps.defaultCompression,
          signal,
          onProgress: (done, total) => progress({ phase: 'copy', done, total }),
        }),
      ]);
      const after = await stat(isoPath);
      if (after.size !== before.size || after.mtimeMs !== before.mtimeMs || after.ino !== before.ino) {
        throw new RhevbootError('RB_ERR_IMPORT', `${isoPath} changed while it was being imported; import it again`, { iso: isoPath });
      }
      await this.initrds.linkInto(pxe.path, path.join(paths.staging, descriptor.install.pxeInitrd));
      if (pxe.cached) notes.push(`PXE initrd taken from the cache (${pxe.sha256.slice(0, 16)}…)`);
      const copied = { sha256: isoHash.sha256, bytes: ctx.isoBytes };

      progress({ phase: 'register', done: 0, total: 1 });
      const stats = await treeStats(paths.staging);
      const record: DistroRecord = {
        name,
        arch,
        family: descriptor.family,
        version: ctx.version,
        volumeId: ctx.facts.volumeId,
        sourcePath: isoPath,
        isoSha256: copied.sha256,
        isoBytes: copied.bytes,
        fileCount: stats.files,
        bytes: stats.bytes,
        treePath: paths.final,
        kernel: descriptor.install.kernel,
        initrd: descriptor.install.initrd,
        pxeInitrd: descriptor.install.pxeInitrd,
        pxeInitrdSha256: pxe.sha256,
        pxeInitrdBytes: pxe.bytes,
        importedAt: new Date().toISOString(),
        durationMs: Date.now() - ctx.started,
      };
      signal?.throwIfAborted();
      await swapIn(paths);
      await deps.store.transaction(async (tx) => {
        await tx.distros.put(record);
        await deps.events.record(
          {
            kind: 'distro.imported',
            subjectType: 'distro',
            subject,
            message: `imported ${subject} from ${isoPath} (${stats.files} files, ${stats.bytes} bytes, ${record.durationMs} ms)`,
            data: { iso: isoPath, sha256: copied.sha256, files: stats.files, bytes: stats.bytes, durationMs: record.durationMs, job: job.record.id },
          },
          tx,
        );
      });
      // Before the outcome: the job takes no progress after it, and its row ends at register 1/1.
      progress({ phase: 'register', done: 1, total: 1 });
      await job.succeed({ distro: subject, sha256: copied.sha256 });
      return { status: 'imported', distro: record, jobId: job.record.id, notes };
    } catch (err) {
      await rm(paths.staging, { recursive: true, force: true }).catch(() => {});
      // File-system failures (no space, no permission) reach the admin as import errors with the
      // system's words, not as a stack trace.
      const failure = isRhevbootError(err)
        ? err
        : new RhevbootError('RB_ERR_IMPORT', `import of ${isoPath} as ${subject} failed: ${(err as Error).message}`, { iso: isoPath }, { cause: err });
      await job.fail({ code: failure.code, message: failure.message });
      await deps.events.record({ kind: 'distro.import.failed', subjectType: 'distro', subject, message: `import of ${isoPath} as ${subject} failed: ${failure.message}`, data: { iso: isoPath, code: failure.code, job: job.record.id } });
      throw failure;
    }
  }

  private async treeIntact(d: DistroRecord): Promise<boolean> {
    for (const p of [d.kernel, d.initrd]) if (!(await isFile(path.join(d.treePath, p)))) return false;
    try {
      return (await stat(path.join(d.treePath, d.pxeInitrd))).size === d.pxeInitrdBytes;
    } catch {
      return false;
    }
  }

  list(): Promise<DistroRecord[]> {
    return this.deps.store.distros.list();
  }

  async get(name: string, arch?: string): Promise<DistroRecord> {
    const all = (await this.deps.store.distros.list()).filter((d) => d.name === name && (!arch || d.arch === normaliseArch(arch)));
    if (all.length === 0) throw new RhevbootError('RB_ERR_NOT_FOUND', `no distro named ${name}${arch ? `/${arch}` : ''}`, { name, arch });
    if (all.length > 1) {
      throw new RhevbootError('RB_ERR_INVALID', `${name} exists for several arches (${all.map((d) => d.arch).join(', ')}); say which with --arch`, { name });
    }
    return all[0]!;
  }

  /** Unregisters a distro and deletes its tree; cached initrds no tree uses any more go too. */
  async remove(name: string, arch?: string): Promise<DistroRecord> {
    const d = await this.get(name, arch);
    const subject = `${d.name}/${d.arch}`;
    const liveJobs = new Set((await this.deps.store.jobs.list({ kind: 'copycds', state: 'running' })).map((j) => j.id));
    const running = await this.deps.store.jobs.list({ kind: 'copycds', subject, state: 'running' });
    if (running.length) throw new RhevbootError('RB_ERR_CONFLICT', `an import of ${subject} is running (job ${running[0]!.id})`, { distro: subject });
    await this.deps.store.transaction(async (tx) => {
      await tx.distros.remove(d.name, d.arch);
      await this.deps.events.record({ kind: 'distro.removed', subjectType: 'distro', subject, message: `removed ${subject} and its tree ${d.treePath}`, data: { tree: d.treePath } }, tx);
    });
    await rm(d.treePath, { recursive: true, force: true });
    await this.initrds.prune((id) => liveJobs.has(id), { entries: true });
    return d;
  }
}
