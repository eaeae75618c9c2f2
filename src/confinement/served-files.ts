/**
 * Turning a requested file name (a TFTP filename, or an HTTP boot path) into an open file under
 * one of the served roots, and nothing else. Two layers: a lexical check of the name (cheap, refuses the obvious), then `realpath` of
 * the candidate, which must stay inside the root's own realpath, so a symlink that leads outside
 * is refused whatever the name looked like.
 */
import { constants } from 'node:fs';
import { open, realpath, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

/** Longest accepted name in bytes; real boot loaders ask for paths well under 200. */
export const MAX_NAME_BYTES = 512;
/** NAME_MAX on Linux. */
export const MAX_COMPONENT_BYTES = 255;

export type NameCheck = { ok: true; name: string } | { ok: false; reason: string };

/**
 * Lexical normal form of a requested name: `a/b/c`, relative, no empty, `.` or `..` parts.
 * - One leading `/` is dropped: GRUB asks for `/grub/x86_64-efi/normal.mod` relative to the root.
 * - `\` becomes `/`: Windows-built menus and some vendor ROMs use backslashes.
 * - Any component starting with `.` is refused: covers `..`, and keeps hidden files and the
 *   importer's staging directories (`.x86_64.partial-*`) unservable.
 */
export function normalizeRequestName(raw: string): NameCheck {
  if (raw.length === 0) return { ok: false, reason: 'empty name' };
  if (Buffer.byteLength(raw, 'utf8') > MAX_NAME_BYTES) return { ok: false, reason: 'name too long' };
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(raw)) return { ok: false, reason: 'control character or NUL in name' };
  let name = raw.replace(/\\/g, '/');
  if (name.startsWith('/')) name = name.slice(1);
  if (name.startsWith('/')) return { ok: false, reason: 'absolute path' };
  const parts = name.split('/');
  for (const p of parts) {
    if (p === '') return { ok: false, reason: 'empty path component' };
    if (p.startsWith('.')) return { ok: false, reason: p === '..' ? 'parent directory reference' : 'hidden or relative component' };
    if (Buffer.byteLength(p, 'utf8') > MAX_COMPONENT_BYTES) return { ok: false, reason: 'path component too long' };
  }
  return { ok: true, name: parts.join('/') };
}

export interface ServedRoot {
  /** '' for the TFTP root; e.g. 'distros/' for a mounted tree. */
  prefix: string;
  /** The directory's realpath. */
  dir: string;
}

/** Realpaths of the roots, longest prefix first so a mount wins over the root. */
export async function prepareRoots(root: string, mounts: { prefix: string; dir: string }[] = []): Promise<ServedRoot[]> {
  const out: ServedRoot[] = [{ prefix: '', dir: await realpath(root) }];
  for (const m of mounts) {
    const prefix = m.prefix.replace(/^\/+/, '').replace(/\/*$/, '/');
    const check = normalizeRequestName(prefix.slice(0, -1));
    if (!check.ok) throw new Error(`invalid mount prefix ${JSON.stringify(m.prefix)}: ${check.reason}`);
    out.push({ prefix, dir: await realpath(m.dir) });
  }
  return out.sort((a, b) => b.prefix.length - a.prefix.length);
}

export type OpenResult =
  | { kind: 'file'; handle: FileHandle; size: number; path: string }
  | { kind: 'not-found' }
  | { kind: 'refused'; reason: string };

function inside(dir: string, candidate: string): boolean {
  return candidate.startsWith(dir.endsWith(path.sep) ? dir : dir + path.sep);
}

/** Opens a name that already passed `normalizeRequestName`. Never throws for a client's input. */
export async function openStatic(name: string, roots: ServedRoot[]): Promise<OpenResult> {
  const root = roots.find((r) => r.prefix === '' || name.startsWith(r.prefix));
  if (!root) return { kind: 'not-found' };
  const rest = name.slice(root.prefix.length);
  if (rest === '') return { kind: 'refused', reason: 'names a directory' };
  let real: string;
  try {
    real = await realpath(path.join(root.dir, rest));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'not-found' };
    return { kind: 'refused', reason: `cannot resolve (${code ?? 'error'})` };
  }
  if (!inside(root.dir, real)) return { kind: 'refused', reason: 'resolves outside the served root' };
  // A link inside the root may still point at a hidden staging directory.
  if (path.relative(root.dir, real).split(path.sep).some((p) => p.startsWith('.'))) return { kind: 'refused', reason: 'resolves to a hidden path' };
  let handle: FileHandle;
  try {
    // O_NOFOLLOW: the realpath result must not have become a link since; O_NONBLOCK: opening a
    // FIFO planted in the tree must not hang the server.
    handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { kind: 'not-found' };
    return { kind: 'refused', reason: `cannot open (${code ?? 'error'})` };
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) {
      await handle.close();
      return { kind: 'refused', reason: 'not a regular file' };
    }
    return { kind: 'file', handle, size: st.size, path: real };
  } catch (err) {
    await handle.close().catch(() => undefined);
    return { kind: 'refused', reason: `cannot stat (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
  }
}
