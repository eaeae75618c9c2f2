/*
 * The writer's archives must be read the same way by the tools admins (and the kernel) use:
 * GNU cpio and libarchive's bsdtar. Needs the Debian packages cpio and libarchive-tools.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmod,
  lstat,
  lutimes,
  mkdir,
  mkdtemp,
  open,
  readFile,
  readlink,
  rm,
  symlink,
  truncate,
  writeFile,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isRhevbootError } from '../../src/errors.js';
import { parseNewcArchive } from '../../src/cpio/newc.js';
import { CpioWriter, writeCpioArchive, type CpioEntry } from '../../src/cpio/writer.js';

const MTIME = 1_700_000_000;
const BIG = 300 * 1024 * 1024;

function run(cmd: string, args: string[], opts: { cwd?: string; input?: Buffer | string } = {}): Buffer {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, input: opts.input, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`${cmd} could not be run: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr.toString()}`);
  }
  return r.stdout;
}

function requireTool(cmd: string, pkg: string): void {
  const r = spawnSync(cmd, ['--version']);
  if (r.error) throw new Error(`${cmd} is required for this test (Debian package ${pkg}): ${r.error.message}`);
}

function assertSameFile(a: string, b: string): void {
  const r = spawnSync('cmp', [a, b]);
  assert.equal(r.status, 0, `cmp ${a} ${b}: ${r.stdout.toString()}${r.stderr.toString()}`);
}

let tmp: string;
let src: string;

interface FileCase {
  name: string;
  file: string;
}
const fileCases: FileCase[] = [];

before(async () => {
  requireTool('cpio', 'cpio');
  requireTool('bsdtar', 'libarchive-tools');
  requireTool('cmp', 'diffutils');
  tmp = await mkdtemp(path.join(os.tmpdir(), 'rb-cpio-tools-'));
  src = path.join(tmp, 'src');
  await mkdir(src);
  const sizes: [string, number][] = [
    ['empty', 0],
    ['one', 1],
    ['b511', 511],
    ['b512', 512],
    ['b513', 513],
  ];
  for (const [n, size] of sizes) {
    const file = path.join(src, n);
    await writeFile(file, randomBytes(size));
    fileCases.push({ name: `data/${n}`, file });
  }
  const utf = path.join(src, 'ünï.txt');
  await writeFile(utf, 'ünïcode payload\n');
  fileCases.push({ name: 'isos/ünï.txt', file: utf });
});

after(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** A 300 MB file that is mostly a hole, with random islands so a wrong offset shows in cmp. */
async function makeSparse(file: string, size: number): Promise<void> {
  await writeFile(file, '');
  await truncate(file, size);
  const fh = await open(file, 'r+');
  try {
    for (const at of [0, 4 * 1024 * 1024 - 7, size / 2 + 13, size - 65536]) {
      await fh.write(randomBytes(65536), 0, 65536, at);
    }
  } finally {
    await fh.close();
  }
}

describe('writer output read by GNU cpio and bsdtar', () => {
  let archive: string;
  let bigFile: string;
  let rssGrowthMiB: number | undefined;
  const entries: CpioEntry[] = [];

  before(async () => {
    bigFile = path.join(src, 'big.img');
    await makeSparse(bigFile, BIG);
    for (const c of fileCases) entries.push({ type: 'file', name: c.name, path: c.file, mtime: MTIME });
    entries.push(
      { type: 'directory', name: 'emptydir', mode: 0o700, mtime: MTIME },
      { type: 'symlink', name: 'links/to-one', target: '../data/one', mtime: MTIME },
      { type: 'symlink', name: 'links/ünï', target: '../isos/ünï.txt', mtime: MTIME },
      { type: 'symlink', name: 'links/abs', target: '/nonexistent/target', mtime: MTIME },
      { type: 'buffer', name: 'etc/motd', data: Buffer.from('from a buffer\n'), mode: 0o600, mtime: MTIME },
    );
    archive = path.join(tmp, 'out.cpio');
    const fh = await open(archive, 'w');
    try {
      const w = new CpioWriter(fh, { parents: true, padToBlock: true, mtime: MTIME, firstIno: 1 });
      for (const e of entries) await w.add(e);
      // The big entry is measured on its own: its memory use must not scale with its size.
      // maxRSS is the process's high-water mark, so a short spike between samples still counts.
      const rssBefore = process.memoryUsage().rss;
      await w.add({ type: 'file', name: 'big/sparse.img', path: bigFile, mtime: MTIME });
      rssGrowthMiB = (process.resourceUsage().maxRSS * 1024 - rssBefore) / 2 ** 20;
      const bytes = await w.finish();
      assert.equal(bytes % 512, 0);
      assert.equal((await fh.stat()).size, bytes);
    } finally {
      await fh.close();
    }
  });

  it('keeps memory flat while streaming the 300 MB entry', () => {
    assert.ok(rssGrowthMiB !== undefined, 'RSS was measured');
    assert.ok(rssGrowthMiB < 100, `RSS grew by ${rssGrowthMiB.toFixed(1)} MiB while writing a 300 MiB entry`);
  });

  const expectedNames = (): string[] =>
    [
      'data',
      ...fileCases.map((c) => c.name),
      'isos',
      'emptydir',
      'links',
      'links/to-one',
      'links/ünï',
      'links/abs',
      'etc',
      'etc/motd',
      'big',
      'big/sparse.img',
    ].sort();

  async function checkTree(root: string): Promise<void> {
    for (const c of fileCases) assertSameFile(c.file, path.join(root, c.name));
    assertSameFile(bigFile, path.join(root, 'big/sparse.img'));
    assert.equal(await readlink(path.join(root, 'links/to-one')), '../data/one');
    assert.equal(await readlink(path.join(root, 'links/ünï')), '../isos/ünï.txt');
    assert.equal(await readlink(path.join(root, 'links/abs')), '/nonexistent/target');
    assert.equal(await readFile(path.join(root, 'links/to-one'), 'latin1'), await readFile(fileCases[1]!.file, 'latin1'));
    assert.equal(await readFile(path.join(root, 'etc/motd'), 'utf8'), 'from a buffer\n');
    const motd = await lstat(path.join(root, 'etc/motd'));
    assert.equal(motd.mode & 0o7777, 0o600);
    assert.equal(Math.floor(motd.mtimeMs / 1000), MTIME);
    const dir = await lstat(path.join(root, 'emptydir'));
    assert.ok(dir.isDirectory());
    assert.equal(dir.mode & 0o7777, 0o700);
    assert.equal((await lstat(path.join(root, 'data/empty'))).size, 0);
  }

  it('GNU cpio -t lists every entry, parents first', () => {
    const names = run('cpio', ['-t', '--quiet', '-F', archive]).toString('utf8').trim().split('\n');
    assert.deepEqual([...names].sort(), expectedNames());
    assert.ok(names.indexOf('data') < names.indexOf('data/one'));
    assert.ok(names.indexOf('big') < names.indexOf('big/sparse.img'));
  });

  it('GNU cpio -idm extracts identical contents, modes, mtimes and symlinks', async () => {
    const out = path.join(tmp, 'x-gnu');
    await mkdir(out);
    run('cpio', ['-idm', '--quiet', '--no-absolute-filenames', '-F', archive], { cwd: out });
    await checkTree(out);
  });

  it('bsdtar -tvf lists every entry with sizes and link targets', () => {
    const listing = run('bsdtar', ['-tvf', archive]).toString('utf8');
    const names = run('bsdtar', ['-tf', archive]).toString('utf8').trim().split('\n');
    assert.deepEqual([...names].sort(), expectedNames());
    assert.match(listing, new RegExp(`\\s${BIG}\\s.*big/sparse\\.img`));
    assert.match(listing, /links\/to-one -> \.\.\/data\/one/);
    assert.match(listing, /links\/ünï -> \.\.\/isos\/ünï\.txt/);
  });

  it('bsdtar -xf extracts identical contents, modes, mtimes and symlinks', async () => {
    const out = path.join(tmp, 'x-bsdtar');
    await mkdir(out);
    run('bsdtar', ['-xpf', archive, '-C', out]);
    await checkTree(out);
  });
});

describe('writer output equals GNU cpio byte for byte', () => {
  it('matches cpio -H newc -o --reproducible for the same tree', async () => {
    const dir = path.join(tmp, 'gnu-tree');
    await mkdir(path.join(dir, 'sub', 'deeper'), { recursive: true });
    await writeFile(path.join(dir, 'sub', 'a.txt'), 'hello\n', { mode: 0o644 });
    await writeFile(path.join(dir, 'sub', 'deeper', 'ünï.bin'), randomBytes(1021), { mode: 0o640 });
    await writeFile(path.join(dir, 'top'), '', { mode: 0o600 });
    await symlink('sub/a.txt', path.join(dir, 'link'));
    const list = ['sub', 'sub/deeper', 'sub/deeper/ünï.bin', 'sub/a.txt', 'top', 'link'];
    // Explicit modes: the umask of whoever runs the test must not leak into the comparison.
    const modes: [string, number][] = [
      ['sub', 0o755],
      ['sub/deeper', 0o750],
      ['sub/deeper/ünï.bin', 0o640],
      ['sub/a.txt', 0o644],
      ['top', 0o600],
    ];
    for (const [p, m] of modes) await chmod(path.join(dir, p), m);
    for (const p of list) await lutimes(path.join(dir, p), MTIME, MTIME);
    const gnu = run('cpio', ['-H', 'newc', '-o', '--quiet', '--reproducible', '--owner=0:0'], {
      cwd: dir,
      input: list.join('\n') + '\n',
    });

    const ours = path.join(tmp, 'ours.cpio');
    const fh = await open(ours, 'w');
    try {
      await writeCpioArchive(
        fh,
        [
          // GNU stores the real link count: 'sub' holds one subdirectory.
          { type: 'directory', name: 'sub', nlink: 3 },
          { type: 'directory', name: 'sub/deeper', mode: 0o750 },
          { type: 'file', name: 'sub/deeper/ünï.bin', path: path.join(dir, 'sub/deeper/ünï.bin'), mode: 0o640 },
          { type: 'file', name: 'sub/a.txt', path: path.join(dir, 'sub/a.txt') },
          { type: 'file', name: 'top', path: path.join(dir, 'top'), mode: 0o600 },
          { type: 'symlink', name: 'link', target: 'sub/a.txt' },
        ],
        { padToBlock: true, mtime: MTIME, firstIno: 0, position: 0 },
      );
    } finally {
      await fh.close();
    }
    const mine = await readFile(ours);
    assert.equal(mine.length, gnu.length);
    assert.ok(mine.equals(gnu), 'archives differ');
    const listing = parseNewcArchive(mine);
    assert.equal(listing.error, undefined);
    assert.deepEqual(
      listing.entries.map((e) => e.name),
      [...list, 'TRAILER!!!'],
    );
  });
});

describe('writer placement and refusals', () => {
  it('appends at the end of the file, or writes at a given position', async () => {
    const file = path.join(tmp, 'placed.bin');
    await writeFile(file, 'PREFIX!!'); // 8 bytes
    const fh = await open(file, 'r+');
    try {
      const n1 = await writeCpioArchive(fh, [{ type: 'buffer', name: 'one', data: Buffer.from('1') }]);
      const size1 = (await fh.stat()).size;
      assert.equal(size1, 8 + n1);
      const n2 = await writeCpioArchive(fh, [{ type: 'buffer', name: 'two', data: Buffer.from('22') }], {
        position: size1,
      });
      const buf = await readFile(file);
      assert.equal(buf.length, size1 + n2);
      assert.equal(buf.toString('latin1', 0, 8), 'PREFIX!!');
      const first = parseNewcArchive(buf, 8);
      assert.equal(first.error, undefined);
      assert.deepEqual(first.entries.map((e) => e.name), ['one', 'TRAILER!!!']);
      const second = parseNewcArchive(buf, size1);
      assert.deepEqual(second.entries.map((e) => e.name), ['two', 'TRAILER!!!']);
    } finally {
      await fh.close();
    }
  });

  it('refuses a file of 4 GiB or more before writing its header', async () => {
    const huge = path.join(tmp, 'huge.iso');
    await writeFile(huge, '');
    await truncate(huge, 2 ** 32);
    const file = path.join(tmp, 'refused.cpio');
    const fh = await open(file, 'w');
    try {
      const w = new CpioWriter(fh, { position: 0 });
      await w.add({ type: 'buffer', name: 'ok', data: Buffer.from('fine') });
      const before = w.size;
      await assert.rejects(w.add({ type: 'file', name: 'rhevh.iso', path: huge }), (err: unknown) => {
        assert.ok(isRhevbootError(err, 'RB_ERR_CPIO'));
        assert.match(err.message, /newc cannot hold.*4 GiB/);
        return true;
      });
      assert.equal(w.size, before, 'no bytes of the refused entry were produced');
    } finally {
      await fh.close();
      await rm(huge);
    }
  });

  it('refuses unsafe names, non-regular files and missing files', async () => {
    const fh = await open(path.join(tmp, 'names.cpio'), 'w');
    try {
      const w = new CpioWriter(fh, { position: 0 });
      for (const name of ['/etc/passwd', '../up', 'a/../b', 'a//b', 'a/', './a', 'TRAILER!!!', '']) {
        await assert.rejects(w.add({ type: 'buffer', name, data: Buffer.alloc(0) }), (err: unknown) =>
          isRhevbootError(err, 'RB_ERR_CPIO'),
        );
      }
      await assert.rejects(w.add({ type: 'file', name: 'dir', path: tmp }), (err: unknown) =>
        isRhevbootError(err, 'RB_ERR_CPIO'),
      );
      await assert.rejects(w.add({ type: 'file', name: 'gone', path: path.join(tmp, 'missing') }), (err: unknown) =>
        isRhevbootError(err, 'RB_ERR_IMPORT'),
      );
      assert.equal(w.size, 0);
    } finally {
      await fh.close();
    }
  });
});
