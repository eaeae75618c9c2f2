/**
 * Boot loaders: the binaries nodes fetch first (pxelinux.0, undionly.kpxe, ipxe.efi, ...). They are
 * never committed; `boot/manifest.yaml` names the Debian package and path each comes from and the
 * sha256 and size it must have. `rhevboot install-loaders` copies them into the TFTP root and
 * `rhevboot doctor` checks what is there, both against that manifest.
 *
 * Why checksums and not "whatever the package has": the loader is the first code a bare-metal node
 * runs, unauthenticated, over TFTP. A different package version can change behaviour (pxelinux
 * 6.03 vs 6.04 differ in how they walk pxelinux.cfg/), and a damaged or planted file must not be
 * served. A new package version is a reviewed change of the manifest, not a silent swap.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { RhevbootError } from '../errors.js';

/** The package's own boot/manifest.yaml (src/media and dist/media are two levels below the root). */
export const BUILTIN_MANIFEST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../boot/manifest.yaml');

/** Loaders are small (the largest, ipxe.efi, is under 1 MiB); anything far bigger is not one. */
const MAX_LOADER_BYTES = 16 * 1024 * 1024;

const loaderSchema = z
  .object({
    // A bare file name: it is joined to the TFTP root, so no directories and no escape.
    serveAs: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be a plain file name'),
    package: z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/, 'must be a Debian package name'),
    version: z.string().min(1),
    path: z.string().startsWith('/', 'must be an absolute path'),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits'),
    bytes: z.number().int().min(1).max(MAX_LOADER_BYTES),
    firmware: z.string().min(1),
  })
  .strict();

export type LoaderSpec = z.infer<typeof loaderSchema>;

/** Reads and validates the manifest; a bad one is refused with the file and the offending entry. */
export async function loadLoaderManifest(file: string = BUILTIN_MANIFEST): Promise<LoaderSpec[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new RhevbootError('RB_ERR_CONFIG', `cannot read the boot loader manifest ${file}: ${(err as Error).message} (reinstall rhevboot: the package ships boot/manifest.yaml)`, { file });
  }
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length) throw new RhevbootError('RB_ERR_CONFIG', `${file}: not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`, { file });
  const parsed = z.object({ loaders: z.array(loaderSchema).min(1) }).safeParse(doc.toJS());
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new RhevbootError('RB_ERR_CONFIG', `${file}: invalid boot loader manifest at '${issue.path.join('.')}': ${issue.message}`, { file });
  }
  const names = new Set<string>();
  for (const l of parsed.data.loaders) {
    if (names.has(l.serveAs)) throw new RhevbootError('RB_ERR_CONFIG', `${file}: ${l.serveAs} is listed twice`, { file });
    names.add(l.serveAs);
  }
  return parsed.data.loaders;
}

/**
 * The loader files a configuration actually serves. The chosen BIOS and UEFI loaders; pxelinux and
 * syslinux.efi load their core module (ldlinux.c32 / ldlinux.e64) over TFTP right after starting
 * and stop with "Failed to load ldlinux" without it; and ipxe.efi always, because UEFI HTTP Boot
 * clients are handed `/boot/ipxe.efi` whatever `boot.uefiLoader` says.
 */
export function loadersInUse(boot: { biosLoader: string; uefiLoader: string }): Set<string> {
  const used = new Set<string>([boot.biosLoader, boot.uefiLoader, 'ipxe.efi']);
  if (boot.biosLoader === 'pxelinux.0') used.add('ldlinux.c32');
  if (boot.uefiLoader === 'syslinux.efi') used.add('ldlinux.e64');
  return used;
}

export function sha256Of(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** One `apt-get install` line for the packages that are missing, in manifest order. */
export function aptInstallLine(packages: Iterable<string>): string {
  return `apt-get install -y --no-install-recommends ${[...new Set(packages)].join(' ')}`;
}

export type FileState =
  | { state: 'ok' }
  | { state: 'missing' }
  | { state: 'mismatch'; sha256: string; bytes: number }
  | { state: 'unreadable'; reason: string };

/** What a file on disk is, measured against the manifest entry. */
export async function inspectLoaderFile(file: string, spec: LoaderSpec): Promise<FileState> {
  let data: Buffer;
  try {
    const st = await stat(file);
    if (!st.isFile()) return { state: 'unreadable', reason: 'not a regular file' };
    // A file of the wrong size is a mismatch without reading it (it could be anything, of any size).
    if (st.size !== spec.bytes) return { state: 'mismatch', sha256: '', bytes: st.size };
    data = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { state: 'missing' };
    return { state: 'unreadable', reason: (err as Error).message };
  }
  const sha256 = sha256Of(data);
  return sha256 === spec.sha256 && data.length === spec.bytes ? { state: 'ok' } : { state: 'mismatch', sha256, bytes: data.length };
}

export type InstallStatus = 'installed' | 'unchanged' | 'missing' | 'mismatch';

export interface InstallResult {
  serveAs: string;
  package: string;
  status: InstallStatus;
  /** Where the file was (or would have been) read from. */
  source: string;
  target: string;
  /** One line for the admin: what happened, and for a failure, what to do. */
  message: string;
}

export interface InstallOptions {
  tftpRoot: string;
  manifest: LoaderSpec[];
  /**
   * A mirror directory instead of the installed packages: `DIR/<path>` (debs unpacked with
   * `dpkg-deb -x pkg.deb DIR`) or, flat, `DIR/<serveAs>` (e.g. another appliance's TFTP root).
   */
  from?: string;
}

/** The first candidate that exists as a file (symlinks followed), or undefined. */
async function firstFile(candidates: string[]): Promise<string | undefined> {
  for (const c of candidates) {
    try {
      if ((await stat(c)).isFile()) return c;
    } catch {
      /* next candidate */
    }
  }
  return undefined;
}

/**
 * Writes beside the target and renames over it, so a node fetching the loader during an install
 * gets the old file or the new one, never half of one. The temporary name is hidden (leading dot),
 * which the TFTP and HTTP servers refuse to serve.
 */
async function writeAtomic(target: string, data: Buffer): Promise<void> {
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await writeFile(tmp, data, { mode: 0o644, flush: true });
    // The umask may have narrowed the mode; the TFTP server (another user) must be able to read it.
    await chmod(tmp, 0o644);
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

async function installOne(spec: LoaderSpec, opts: InstallOptions): Promise<InstallResult> {
  const target = path.join(opts.tftpRoot, spec.serveAs);
  const candidates = opts.from ? [path.join(opts.from, spec.path), path.join(opts.from, spec.serveAs)] : [spec.path];
  const base = { serveAs: spec.serveAs, package: spec.package, target };
  const source = await firstFile(candidates);
  if (!source) {
    const fix = opts.from
      ? `put it in ${opts.from} as ${candidates.join(' or ')} (e.g. apt-get download ${spec.package} && dpkg-deb -x ${spec.package}_*.deb ${opts.from})`
      : `install the package: ${aptInstallLine([spec.package])}`;
    return { ...base, status: 'missing', source: candidates[0]!, message: `${candidates.join(' or ')} not found (package ${spec.package}); ${fix}` };
  }
  const data = await readFile(source);
  const sha256 = sha256Of(data);
  if (data.length !== spec.bytes || sha256 !== spec.sha256) {
    return {
      ...base,
      status: 'mismatch',
      source,
      message:
        `${source} is ${data.length} bytes with sha256 ${sha256}, but boot/manifest.yaml expects ${spec.bytes} bytes with sha256 ${spec.sha256} ` +
        `(${spec.package} ${spec.version}); refused, ${spec.serveAs} not written. ` +
        (opts.from
          ? `Replace it with the file from ${spec.package} ${spec.version}.`
          : `Reinstall that version (apt-get install --reinstall ${spec.package}=${spec.version}), or, after checking a newer package, update boot/manifest.yaml.`),
    };
  }
  const current = await inspectLoaderFile(target, spec);
  if (current.state === 'ok') {
    // Same bytes: leave the file (and its timestamps) alone, but make sure the server can read it.
    if (((await stat(target)).mode & 0o777) !== 0o644) await chmod(target, 0o644);
    return { ...base, status: 'unchanged', source, message: `${target} is already the manifest's file` };
  }
  await writeAtomic(target, data);
  return { ...base, status: 'installed', source, message: `${source} -> ${target}` };
}

/**
 * Installs every loader of the manifest into the TFTP root, each one checked before it is written.
 * A missing or mismatching source is reported and skipped; the others are still installed, so one
 * absent package (syslinux-efi) does not block the BIOS loaders.
 */
export async function installLoaders(opts: InstallOptions): Promise<InstallResult[]> {
  await mkdir(opts.tftpRoot, { recursive: true, mode: 0o755 });
  const results: InstallResult[] = [];
  for (const spec of opts.manifest) results.push(await installOne(spec, opts));
  return results;
}
