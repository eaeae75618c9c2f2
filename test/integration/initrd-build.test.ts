/*
 * buildPxeInitrd against the shell recipe it replaces
 * (`echo rhevh.iso | cpio -H newc -o | cat initrd0.img -`). Needs cpio and libarchive-tools.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { isRhevbootError } from '../../src/errors.js';
import { parseNewcArchive } from '../../src/cpio/newc.js';
import { buildPxeInitrd } from '../../src/media/initrd.js';

const MTIME = new Date(1_650_000_000 * 1000);

function run(cmd: string, args: string[], opts: { cwd?: string; input?: Buffer | string } = {}): Buffer {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, input: opts.input, maxBuffer: 256 * 1024 * 1024 });
  if (r.error) throw new Error(`${cmd} could not be run (install it): ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr.toString()}`);
  return r.stdout;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const align4 = (n: number): number => Math.ceil(n / 4) * 4;

let tmp: string;
let isoDir: string;
let iso: string;
let isoBytes: Buffer;
/** What `cd isoDir && echo rhevh.iso | cpio -H newc -o --reproducible` writes for the ISO. */
let gnuCpio: Buffer;

before(async () => {
  for (const [cmd, pkg] of [
    ['cpio', 'cpio'],
    ['bsdtar', 'libarchive-tools'],
  ]) {
    const r = spawnSync(cmd!, ['--version']);
    if (r.error) throw new Error(`${cmd} is required for this test (Debian package ${pkg})`);
  }
  tmp = await mkdtemp(path.join(os.tmpdir(), 'rb-initrd-build-'));
  isoDir = path.join(tmp, 'iso');
  await mkdir(isoDir);
  iso = path.join(isoDir, 'rhevh.iso');
  // Odd size: the data padding after it and the 512-byte block padding are both exercised.
  isoBytes = randomBytes(9 * 1024 * 1024 + 3);
  await writeFile(iso, isoBytes);
  await chmod(iso, 0o644); // GNU cpio records the real mode; the umask must not change it
  await utimes(iso, MTIME, MTIME);
  gnuCpio = run('cpio', ['-H', 'newc', '-o', '--quiet', '--reproducible', '--owner=0:0'], {
    cwd: isoDir,
    input: 'rhevh.iso\n',
  });
});

after(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function makeBase(name: string, size: number): Promise<{ file: string; bytes: Buffer }> {
  const bytes = randomBytes(size);
  bytes[0] = 0x1f; // looks like gzip, as a real initrd0.img would
  const file = path.join(tmp, name);
  await writeFile(file, bytes);
  return { file, bytes };
}

async function leftovers(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.endsWith('.partial'));
}

describe('buildPxeInitrd (uncompressed member)', () => {
  for (const baseSize of [1001, 1002, 1003, 1024]) {
    it(`equals cat base + zero pad + GNU cpio output (base ${baseSize} bytes)`, async () => {
      const base = await makeBase(`base-${baseSize}.img`, baseSize);
      const out = path.join(tmp, `out-${baseSize}.img`);
      const r = await buildPxeInitrd({
        baseInitrd: base.file,
        appendFile: iso,
        appendName: 'rhevh.iso',
        outFile: out,
        mtime: MTIME,
      });
      const pad = Buffer.alloc(align4(baseSize) - baseSize);
      const expected = Buffer.concat([base.bytes, pad, gnuCpio]);
      const got = await readFile(out);
      assert.equal(got.length, expected.length);
      assert.ok(got.equals(expected), 'output differs from cat base <pad> <cpio -H newc -o>');
      assert.equal(r.bytes, expected.length);
      assert.equal(r.sha256, sha256(expected));
      assert.equal((await stat(out)).mode & 0o777, 0o644);
      assert.deepEqual(await leftovers(tmp), []);
    });
  }

  it('GNU cpio and bsdtar read the member at the 4-aligned offset and extract the same bytes', async () => {
    const base = await makeBase('base-tools.img', 4099);
    const out = path.join(tmp, 'out-tools.img');
    await buildPxeInitrd({ baseInitrd: base.file, appendFile: iso, appendName: 'rhevh.iso', outFile: out });
    const member = (await readFile(out)).subarray(align4(4099));

    const listing = parseNewcArchive(member);
    assert.equal(listing.error, undefined);
    assert.deepEqual(
      listing.entries.map((e) => [e.name, e.mode, e.nlink, e.uid, e.gid, e.filesize, e.mtime]),
      [
        ['rhevh.iso', 0o100644, 1, 0, 0, isoBytes.length, 0],
        ['TRAILER!!!', 0, 1, 0, 0, 0, 0],
      ],
    );

    assert.equal(run('cpio', ['-t', '--quiet'], { input: member }).toString(), 'rhevh.iso\n');
    assert.match(run('bsdtar', ['-tvf', '-'], { input: member }).toString(), new RegExp(`${isoBytes.length}.*rhevh\\.iso`));
    for (const [tool, args] of [
      ['cpio', ['-idm', '--quiet']],
      ['bsdtar', ['-xf', '-']],
    ] as const) {
      const dir = path.join(tmp, `x-${tool}`);
      await mkdir(dir);
      run(tool, [...args], { cwd: dir, input: member });
      const extracted = await readFile(path.join(dir, 'rhevh.iso'));
      assert.ok(extracted.equals(isoBytes), `${tool} extracted different bytes`);
    }
  });

  it('reports monotonic progress that ends at the total', async () => {
    const base = await makeBase('base-progress.img', 5000);
    const seen: [number, number][] = [];
    await buildPxeInitrd({
      baseInitrd: base.file,
      appendFile: iso,
      appendName: 'rhevh.iso',
      outFile: path.join(tmp, 'out-progress.img'),
      chunkSize: 1024 * 1024,
      onProgress: (done, total) => seen.push([done, total]),
    });
    const total = 5000 + isoBytes.length;
    assert.ok(seen.length > 5);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]![0] >= seen[i - 1]![0], 'progress went backwards');
    assert.ok(seen.every(([, t]) => t === total));
    assert.deepEqual(seen.at(-1), [total, total]);
  });

  it('replaces an existing output atomically and can skip the hash', async () => {
    const base = await makeBase('base-replace.img', 64);
    const out = path.join(tmp, 'out-replace.img');
    await writeFile(out, 'old contents');
    const r = await buildPxeInitrd({
      baseInitrd: base.file,
      appendFile: iso,
      appendName: 'rhevh.iso',
      outFile: out,
      mtime: MTIME,
      hash: false,
      fsync: false,
    });
    assert.equal(r.sha256, '');
    assert.ok((await readFile(out)).equals(Buffer.concat([base.bytes, gnuCpio])));
  });
});

describe('buildPxeInitrd (gzip member)', () => {
  it('appends gzip(GNU-identical cpio) after the 4-aligned base', async () => {
    const base = await makeBase('base-gz.img', 777);
    const out = path.join(tmp, 'out-gz.img');
    const r = await buildPxeInitrd({
      baseInitrd: base.file,
      appendFile: iso,
      appendName: 'rhevh.iso',
      outFile: out,
      compress: 'gzip',
      mtime: MTIME,
    });
    const got = await readFile(out);
    assert.equal(r.bytes, got.length);
    assert.equal(r.sha256, sha256(got));
    assert.ok(got.subarray(0, 777).equals(base.bytes));
    assert.ok(got.subarray(777, 780).equals(Buffer.alloc(3)));
    const member = got.subarray(780);
    assert.deepEqual([...member.subarray(0, 3)], [0x1f, 0x8b, 8]); // gzip, deflate
    assert.ok(gunzipSync(member).equals(gnuCpio), 'gunzipped member differs from GNU cpio output');
    assert.ok(member.length < gnuCpio.length + 64 * 1024); // random data: stored, not inflated much
  });
});

describe('buildPxeInitrd refusals and cleanup', () => {
  it('refuses an appendFile of 4 GiB or more and leaves nothing behind', async () => {
    const base = await makeBase('base-huge.img', 100);
    const huge = path.join(tmp, 'huge.iso');
    await writeFile(huge, '');
    await truncate(huge, 2 ** 32); // sparse: costs no disk
    const out = path.join(tmp, 'out-huge.img');
    try {
      await assert.rejects(
        buildPxeInitrd({ baseInitrd: base.file, appendFile: huge, appendName: 'rhevh.iso', outFile: out }),
        (err: unknown) => {
          assert.ok(isRhevbootError(err, 'RB_ERR_CPIO'), String(err));
          assert.match(err.message, /4 GiB/);
          assert.match(err.message, /newc/);
          assert.equal(err.details.size, 2 ** 32);
          return true;
        },
      );
      await assert.rejects(stat(out), { code: 'ENOENT' });
      await assert.rejects(stat(`${out}.partial`), { code: 'ENOENT' });
    } finally {
      await rm(huge, { force: true });
    }
  });

  it('abort mid-copy removes the partial and keeps the previous output', async () => {
    const base = await makeBase('base-abort.img', 4096);
    const out = path.join(tmp, 'out-abort.img');
    await writeFile(out, 'previous build');
    const ac = new AbortController();
    let calls = 0;
    await assert.rejects(
      buildPxeInitrd({
        baseInitrd: base.file,
        appendFile: iso,
        appendName: 'rhevh.iso',
        outFile: out,
        chunkSize: 256 * 1024,
        signal: ac.signal,
        onProgress: (done) => {
          // Abort once the ISO is partly copied: the .partial exists and holds data.
          if (++calls === 8) ac.abort();
          if (calls < 8) assert.ok(done < 4096 + isoBytes.length);
        },
      }),
      (err: unknown) => (err as Error).name === 'AbortError',
    );
    assert.ok(calls >= 8);
    assert.equal(await readFile(out, 'utf8'), 'previous build');
    assert.deepEqual(await leftovers(tmp), []);
  });

  it('an already aborted signal writes nothing', async () => {
    const base = await makeBase('base-abort0.img', 10);
    const out = path.join(tmp, 'out-abort0.img');
    await assert.rejects(
      buildPxeInitrd({
        baseInitrd: base.file,
        appendFile: iso,
        appendName: 'rhevh.iso',
        outFile: out,
        signal: AbortSignal.abort(),
      }),
      (err: unknown) => (err as Error).name === 'AbortError',
    );
    await assert.rejects(stat(out), { code: 'ENOENT' });
    assert.deepEqual(await leftovers(tmp), []);
  });

  it('a missing base initrd is an import error with nothing left behind', async () => {
    const out = path.join(tmp, 'out-missing.img');
    await assert.rejects(
      buildPxeInitrd({
        baseInitrd: path.join(tmp, 'nope.img'),
        appendFile: iso,
        appendName: 'rhevh.iso',
        outFile: out,
      }),
      (err: unknown) => isRhevbootError(err, 'RB_ERR_IMPORT'),
    );
    await assert.rejects(stat(out), { code: 'ENOENT' });
    assert.deepEqual(await leftovers(tmp), []);
  });
});
