/**
 * Test helpers: build ISO images with the real Debian tools (xorriso, genisoimage), extract them with
 * the bsdtar oracle, and snapshot/compare directory trees.
 *
 * Tools are required, never optional: a missing tool fails the test with the package to install
 * (CI installs xorriso, genisoimage, libarchive-tools).
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants as C, createReadStream } from 'node:fs';
import { chmod, lstat, mkdir, readdir, readlink, rm, symlink, truncate, open, writeFile } from 'node:fs/promises';
import path from 'node:path';

const PACKAGES: Record<string, string> = {
  xorriso: 'xorriso',
  genisoimage: 'genisoimage',
  bsdtar: 'libarchive-tools',
  isoinfo: 'genisoimage',
};

/** Runs a tool and returns stdout; rejects with stderr in the message. */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...opts.env } }, (err, stdout, stderr) => {
      if (err) {
        const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
        reject(
          new Error(
            missing
              ? `required test tool "${cmd}" is not installed (apt-get install ${PACKAGES[cmd] ?? cmd})`
              : `${cmd} ${args.join(' ')} failed: ${err.message}\n${stderr}`,
          ),
        );
      } else resolve(stdout);
    });
  });
}

export type IsoTool = 'xorriso' | 'genisoimage';

/** Builds `out` from `srcDir` with `xorriso -as mkisofs` or `genisoimage` and the given options. */
export async function buildIso(tool: IsoTool, options: string[], srcDir: string, out: string): Promise<void> {
  // Names are UTF-8 on disk; say so, so Joliet conversion does not depend on the CI locale.
  const common = ['-input-charset', 'utf-8', '-V', 'RHEVBOOT_TEST', '-o', out];
  if (tool === 'xorriso') await run('xorriso', ['-as', 'mkisofs', '-quiet', ...common, ...options, srcDir]);
  else await run('genisoimage', ['-quiet', ...common, ...options, srcDir]);
}

export async function bsdtarExtract(iso: string, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  // -p: apply the archive's permissions without the umask, as root does by default; so the
  // comparison works the same for root and non-root CI runners.
  await run('bsdtar', ['-xpf', iso, '-C', dir]);
}

/**
 * rm -rf that also works as non-root on trees holding read-only directories (0555 from `-r`
 * images, which both extractors reproduce): directories are made writable first.
 */
export async function removeTree(p: string): Promise<void> {
  const open = async (dir: string): Promise<void> => {
    const st = await lstat(dir).catch(() => undefined);
    if (!st?.isDirectory()) return;
    await chmod(dir, 0o700).catch(() => undefined);
    for (const name of await readdir(dir).catch(() => [] as string[])) await open(path.join(dir, name));
  };
  await open(p);
  await rm(p, { recursive: true, force: true });
}

/** sha256 of a stream, without holding it in memory. */
export function sha256Stream(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    stream.on('data', (c: Buffer) => h.update(c));
    stream.on('error', reject);
    stream.on('end', () => resolve(h.digest('hex')));
  });
}

/** sha256 of a command's stdout, streamed (e.g. `bsdtar -xOf img big.bin`). */
export function sha256OfCommand(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const digest = sha256Stream(child.stdout);
    child.on('error', (err) => reject(new Error(`cannot run ${cmd}: ${err.message} (apt-get install ${PACKAGES[cmd] ?? cmd})`)));
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr}`));
      else digest.then(resolve, reject);
    });
  });
}

export interface TreeItem {
  type: 'file' | 'dir' | 'symlink' | 'other';
  /** Permission bits including setuid/setgid/sticky. */
  mode: number;
  size: number;
  sha256?: string;
  target?: string;
  mtimeSec: number;
}

/** Snapshot of everything under `root` (root itself excluded), keyed by relative path. */
export async function snapshotTree(root: string): Promise<Map<string, TreeItem>> {
  const out = new Map<string, TreeItem>();
  const visit = async (rel: string): Promise<void> => {
    const abs = rel === '' ? root : path.join(root, rel);
    for (const name of (await readdir(abs)).sort()) {
      const r = rel === '' ? name : `${rel}/${name}`;
      const p = path.join(root, r);
      const st = await lstat(p);
      const base = { mode: st.mode & 0o7777, size: st.size, mtimeSec: Math.floor(st.mtimeMs / 1000) };
      if (st.isSymbolicLink()) out.set(r, { ...base, type: 'symlink', target: await readlink(p) });
      else if (st.isDirectory()) {
        out.set(r, { ...base, type: 'dir', size: 0 });
        await visit(r);
      } else if (st.isFile()) out.set(r, { ...base, type: 'file', sha256: await sha256Stream(createReadStream(p)) });
      else out.set(r, { ...base, type: 'other' });
    }
  };
  await visit('');
  return out;
}

/**
 * Differences between our extraction and bsdtar's, as readable lines ([] when equal).
 *
 * Modes: bsdtar (libarchive 3.6) reports the Rock Ridge PX mode, or for images without Rock Ridge
 * (plain ISO9660 and Joliet-only) fixed defaults: 0700 directories and 0400 files. Run as root (or
 * with -p) it applies them exactly, setuid/setgid included, and also chmods the extraction directory
 * itself to the mode of the image root. extractIso deliberately drops setuid/setgid/sticky and leaves
 * the target directory alone, so permission bits are compared as `mode & 0o777`, the target directory
 * is not compared, and callers assert separately that our side has no bits above 0o777.
 */
export function diffTrees(ours: Map<string, TreeItem>, theirs: Map<string, TreeItem>, opts: { mtimes?: boolean; jolietQuirk?: boolean } = {}): string[] {
  const diffs: string[] = [];
  if (opts.jolietQuirk) ours = new Map([...ours].map(([p, v]) => [libarchiveJolietPath(p), v]));
  for (const [p, t] of theirs) {
    const o = ours.get(p);
    if (!o) {
      diffs.push(`missing in ours: ${p} (${t.type})`);
      continue;
    }
    if (o.type !== t.type) diffs.push(`${p}: type ${o.type} vs bsdtar ${t.type}`);
    if ((o.mode & 0o777) !== (t.mode & 0o777)) diffs.push(`${p}: mode ${(o.mode & 0o777).toString(8)} vs bsdtar ${(t.mode & 0o777).toString(8)}`);
    if (o.type === 'file' && (o.size !== t.size || o.sha256 !== t.sha256)) diffs.push(`${p}: content differs (${o.size} vs bsdtar ${t.size} bytes)`);
    if (o.type === 'symlink' && o.target !== t.target) diffs.push(`${p}: symlink target ${o.target} vs bsdtar ${t.target}`);
    if (opts.mtimes && o.type !== 'symlink' && o.mtimeSec !== t.mtimeSec) diffs.push(`${p}: mtime ${o.mtimeSec} vs bsdtar ${t.mtimeSec}`);
  }
  for (const p of ours.keys()) if (!theirs.has(p)) diffs.push(`extra in ours: ${p}`);
  return diffs;
}

/**
 * libarchive 3.6 cuts every Joliet name to 103 UCS-2 characters (the mkisofs -joliet-long limit),
 * but xorriso -joliet-long writes 104 ("<100 chars>.txt" stays whole), and isoinfo -J and the kernel
 * show the full name. extractIso keeps the name as stored, so for comparison our paths are cut
 * the way libarchive cuts them.
 */
export function libarchiveJolietPath(p: string): string {
  return p
    .split('/')
    .map((c) => (c.length > 103 ? c.slice(0, 103) : c))
    .join('/');
}

export const LONG_NAME_1 = 'long-' + 'abcdefghij'.repeat(20) + '.txt'; // 209 chars
export const LONG_NAME_2 = 'Zlong-' + 'é'.repeat(20) + 'x'.repeat(180) + '.bin'; // 210 chars, 230 UTF-8 bytes
export const UNICODE_NAMES = ['ünï €.txt', '日本語ファイル.cfg', 'emoji-😀-surrogate.txt', 'Ωmega'];
export const DEEP_PARTS = ['d1', 'd2', 'd3', 'd4', 'd5', 'd6', 'd7', 'd8', 'd9', 'd10', 'd11', 'd12'];

/**
 * The fixture tree every flavour is built from: files of odd sizes, an empty file, long and Unicode
 * names, a 12-level deep tree (forces RR_MOVED relocation with genisoimage -R), symlinks (relative,
 * absolute, dangling, to a directory), a setuid file and a variety of modes.
 */
export async function makeFixtureTree(root: string): Promise<void> {
  const w = async (rel: string, data: string | Buffer, mode = 0o644): Promise<void> => {
    const p = path.join(root, rel);
    await mkdir(path.dirname(p), { recursive: true });
    await writeFile(p, data);
    await chmod(p, mode);
  };
  await w('isolinux/isolinux.cfg', 'default vesamenu.c32\ntimeout 600\n');
  await w('isolinux/vmlinuz0', Buffer.alloc(123_457, 0xab), 0o755);
  await w('isolinux/isolinux.bin', patterned(4096));
  await w('images/efiboot.img', Buffer.alloc(64 * 1024, 0xef));
  await w('README', 'hello\n');
  await w('empty.txt', '');
  await w('odd/one.bin', Buffer.from([1]));
  await w('odd/2047.bin', patterned(2047));
  await w('odd/2049.bin', patterned(2049));
  await w('odd/big.bin', patterned(3 * 1024 * 1024 + 17));
  await w('modes/private', 'secret\n', 0o600);
  await w('modes/group', 'g\n', 0o640);
  await w('modes/exec', '#!/bin/sh\n', 0o755);
  await w('modes/setuid', 'suid\n', 0o4755);
  await w('modes/sticky-setgid', 'sg\n', 0o2750);
  await mkdir(path.join(root, 'modes/privdir'));
  await w('modes/privdir/inside', 'x\n');
  await chmod(path.join(root, 'modes/privdir'), 0o700);
  await w(LONG_NAME_1, 'long one\n');
  await w(LONG_NAME_2, 'long two\n');
  for (const n of UNICODE_NAMES) await w(`unicode/${n}`, `${n}\n`);
  await w(`deep/${DEEP_PARTS.join('/')}/leaf.txt`, 'deep leaf\n');
  await w('deep/d1/d2/d3/d4/d5/d6/d7/d8/sibling.txt', 'sibling\n');
  await mkdir(path.join(root, 'emptydir'));
  await symlink('isolinux/isolinux.cfg', path.join(root, 'link-relative'));
  await symlink('/etc/hostname', path.join(root, 'link-absolute'));
  await symlink('does/not/exist', path.join(root, 'link-dangling'));
  await symlink('isolinux', path.join(root, 'link-to-dir'));
  await symlink('../README', path.join(root, 'odd/link-up'));
}

function patterned(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}

/** Creates a sparse file of `size` bytes with marker bytes at the given offsets. */
export async function makeSparseFile(p: string, size: number, markers: { offset: number; data: Buffer }[]): Promise<void> {
  await writeFile(p, '');
  await truncate(p, size);
  const fh = await open(p, C.O_WRONLY);
  try {
    for (const m of markers) await fh.write(m.data, 0, m.data.length, m.offset);
  } finally {
    await fh.close();
  }
}

/** Parsed `xorriso -indev IMG -report_el_torito plain` boot image lines. */
export async function xorrisoElTorito(iso: string): Promise<{ platform: string; bootable: boolean; emul: string; loadSegment: number; sectorCount: number; lba: number }[]> {
  const out = await run('xorriso', ['-indev', iso, '-report_el_torito', 'plain']);
  const rows: { platform: string; bootable: boolean; emul: string; loadSegment: number; sectorCount: number; lba: number }[] = [];
  for (const line of out.split('\n')) {
    const m = /^El Torito boot img :\s+(\d+)\s+(\S+)\s+([yn])\s+(\S+)\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(\d+)\s+(\d+)/i.exec(line);
    if (m) rows.push({ platform: m[2]!, bootable: m[3] === 'y', emul: m[4]!, loadSegment: parseInt(m[5]!, 16), sectorCount: Number(m[7]), lba: Number(m[8]) });
  }
  return rows;
}
