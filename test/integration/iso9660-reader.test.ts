/**
 * IsoImage and extractIso behaviour on synthetic images with exactly known bytes: multi-extent
 * files, Rock Ridge relocation (CL/RE, rr_moved), SUSP skip, lookup, readFile/createReadStream,
 * extraction modes/progress/filter/abort.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isRhevbootError } from '../../src/errors.js';
import { IsoImage, extractIso, type IsoEntry } from '../../src/iso9660/index.js';
import { buildIso, bootCatalog, rrRoot, rrFile, su, shortDate, FIXED_DATE, type SynthSpec, type SynthNode } from '../helpers/iso-synth.js';
import { sha256Stream, removeTree } from '../helpers/iso-build.js';
import { createHash } from 'node:crypto';

let tmp = '';
let n = 0;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'rb-iso-reader-'));
});
after(async () => {
  if (tmp) await removeTree(tmp);
});

async function openSynth(spec: SynthSpec): Promise<IsoImage> {
  const p = path.join(tmp, `s${++n}.iso`);
  await writeFile(p, buildIso(spec).image);
  return IsoImage.open(p);
}
async function walkAll(img: IsoImage): Promise<IsoEntry[]> {
  const out: IsoEntry[] = [];
  for await (const e of img.walk()) out.push(e);
  return out;
}
function pattern(len: number, seed: number): Buffer {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = (i * 13 + seed) & 0xff;
  return b;
}
const file = (name: string, data: string | Buffer, extra: Partial<SynthNode> = {}): SynthNode => ({ name, data: Buffer.isBuffer(data) ? data : Buffer.from(data), ...extra });
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('multi-extent files', () => {
  const parts = [pattern(2049, 1), pattern(4096, 2), pattern(5, 3)];
  const whole = Buffer.concat(parts);

  it('concatenates consecutive same-name records for walk, readFile, streams and extraction', async () => {
    const img = await openSynth({ root: [file('BEFORE', 'b'), { name: 'MULTI.BIN;1', parts }, file('ZAFTER', 'a')] });
    try {
      const entries = await walkAll(img);
      assert.deepEqual(
        entries.map((e) => e.path),
        ['BEFORE', 'MULTI.BIN', 'ZAFTER'],
      );
      const m = entries[1]!;
      assert.equal(m.size, whole.length);
      assert.equal(m.extents.length, 3);
      assert.deepEqual(
        m.extents.map((x) => x.length),
        [2049, 4096, 5],
      );
      assert.deepEqual(await img.readFile(m), whole);
      assert.equal(await sha256Stream(img.createReadStream(m, { highWaterMark: 1000 })), sha(whole));
      const out = path.join(tmp, 'multi-out');
      const r = await extractIso(img, out);
      assert.deepEqual(r, { files: 3, dirs: 0, symlinks: 0, bytes: whole.length + 2 });
      assert.deepEqual(await readFile(path.join(out, 'MULTI.BIN')), whole);
    } finally {
      await img.close();
    }
  });

  it('a multi-extent record not followed by its continuation is a format error', async () => {
    const img = await openSynth({ root: [file('A', 'x', { flags: 0x80 }), file('B', 'y')] });
    try {
      await assert.rejects(walkAll(img), (e: unknown) => isRhevbootError(e, 'RB_ERR_ISO_FORMAT') && /multi-extent file "A" is not continued/.test(e.message));
    } finally {
      await img.close();
    }
    const img2 = await openSynth({ root: [file('A', 'x', { flags: 0x80 })] });
    try {
      await assert.rejects(walkAll(img2), (e: unknown) => isRhevbootError(e, 'RB_ERR_ISO_FORMAT') && /has no final extent/.test(e.message));
    } finally {
      await img2.close();
    }
  });
});

describe('Rock Ridge specifics', () => {
  const relocated = (extraMoved: SynthNode[] = []): SynthSpec => ({
    rootSelfSu: rrRoot(),
    root: [
      {
        name: 'A',
        su: rrFile('a', 0o40755),
        dir: [file('B', '', { su: (c) => Buffer.concat([su.px(0o40755), su.nm('b'), su.cl(c.lbaOf('moved'))]) })],
      },
      {
        name: 'RR_MOVED',
        su: rrFile('rr_moved', 0o40555),
        dir: [
          {
            name: 'B',
            id: 'moved',
            su: Buffer.concat([su.px(0o40750), su.nm('b'), su.re()]),
            selfSu: Buffer.concat([su.px(0o40750, { uid: 7, gid: 8 }), su.tf(0x02, [shortDate(new Date(Date.UTC(2020, 1, 3)))])]),
            dir: [file('LEAF', 'leaf\n', { su: rrFile('leaf') })],
          },
          ...extraMoved,
        ],
      },
    ],
  });

  it('follows CL, hides RE and an rr_moved holding only relocated directories', async () => {
    const img = await openSynth(relocated());
    try {
      assert.equal(img.naming, 'rockridge');
      const entries = await walkAll(img);
      assert.deepEqual(
        entries.map((e) => `${e.type}:${e.path}`),
        ['dir:a', 'dir:a/b', 'file:a/b/leaf'],
      );
      const b = entries[1]!;
      assert.equal(b.mode, 0o750, 'attributes come from the relocated directory');
      assert.equal(b.uid, 7);
      assert.equal(b.mtime.toISOString(), '2020-02-03T00:00:00.000Z');
      assert.equal((await img.lookup('a/b/leaf'))?.size, 5);
      assert.equal(await img.lookup('rr_moved'), undefined);
      assert.equal(await img.lookup('rr_moved/b'), undefined);
    } finally {
      await img.close();
    }
  });

  it('keeps rr_moved visible (without the relocated entries) when it has real content', async () => {
    const img = await openSynth(relocated([file('KEEP', 'k', { su: rrFile('keep') })]));
    try {
      const paths = (await walkAll(img)).map((e) => e.path);
      assert.deepEqual(paths, ['a', 'rr_moved', 'a/b', 'a/b/leaf', 'rr_moved/keep']);
    } finally {
      await img.close();
    }
  });

  it('honours the SP skip length (CD-ROM XA bytes before the SUSP entries)', async () => {
    const xa = Buffer.concat([Buffer.alloc(6), Buffer.from('XA'), Buffer.alloc(6)]); // 14 bytes
    const img = await openSynth({
      rootSelfSu: Buffer.concat([su.sp(14), su.er()]),
      root: [file('F', 'x', { su: Buffer.concat([xa, su.px(0o100600), su.nm('real-name')]) })],
    });
    try {
      const [f] = await walkAll(img);
      assert.equal(f?.name, 'real-name');
      assert.equal(f?.mode, 0o600);
    } finally {
      await img.close();
    }
  });

  it('skips device nodes, associated files; keeps hidden files; NM beats Joliet beats ISO', async () => {
    const img = await openSynth({
      rootSelfSu: rrRoot(),
      root: [
        file('DEV', '', { su: Buffer.concat([su.px(0o020644), su.nm('null')]) }),
        file('ASSOC', 'fork', { flags: 0x04 }),
        file('HIDDEN', 'h', { flags: 0x01, su: rrFile('hidden') }),
        file('NONM.TXT;1', 'n', { su: su.px(0o100640) }),
      ],
      joliet: [file('joliet-name', 'h')],
    });
    try {
      assert.equal(img.naming, 'rockridge');
      assert.equal(img.hasJoliet, true);
      const entries = await walkAll(img);
      assert.deepEqual(
        entries.map((e) => `${e.path}:${e.mode.toString(8)}`),
        ['hidden:644', 'NONM.TXT:640'],
      );
    } finally {
      await img.close();
    }
  });

  it('symlinks carry their SL target and no data', async () => {
    const img = await openSynth({ rootSelfSu: rrRoot(), root: [file('L', '', { su: Buffer.concat([su.px(0o120777), su.nm('lnk'), su.slPath('../../etc/shadow')]) })] });
    try {
      const [l] = await walkAll(img);
      assert.equal(l?.type, 'symlink');
      assert.equal(l?.symlinkTarget, '../../etc/shadow');
      assert.equal(l?.size, 0);
      await assert.rejects(img.readFile(l!), (e: unknown) => isRhevbootError(e, 'RB_ERR_ISO_UNSUPPORTED'));
    } finally {
      await img.close();
    }
  });
});

describe('IsoImage API', () => {
  const spec: SynthSpec = {
    volumeId: 'FEDORA_LIVE',
    root: [{ name: 'ISOLINUX', dir: [file('ISOLINUX.CFG;1', 'default linux\n'), file('VMLINUZ0.;1', pattern(100_000, 9))] }, file('README.;1', 'hi')],
    joliet: [{ name: 'isolinux', dir: [file('isolinux.cfg', 'default linux\n'), file('vmlinuz0', pattern(100_000, 9))] }, file('README', 'hi')],
  };

  it('exposes volume info and picks Joliet names when there is no Rock Ridge', async () => {
    const img = await openSynth(spec);
    try {
      assert.equal(img.volumeId, 'FEDORA_LIVE');
      assert.equal(img.blockSize, 2048);
      assert.equal(img.naming, 'joliet');
      assert.equal(img.hasRockRidge, false);
      const entries = await walkAll(img);
      assert.deepEqual(
        entries.map((e) => e.path),
        ['isolinux', 'README', 'isolinux/isolinux.cfg', 'isolinux/vmlinuz0'],
      );
      assert.equal(entries[0]!.mtime.toISOString(), FIXED_DATE.toISOString());
    } finally {
      await img.close();
    }
  });

  it('lookup is exact and never climbs', async () => {
    const img = await openSynth(spec);
    try {
      assert.equal((await img.lookup('isolinux/isolinux.cfg'))?.size, 14);
      assert.equal((await img.lookup('/isolinux/vmlinuz0'))?.size, 100_000);
      assert.equal(await img.lookup('isolinux/missing'), undefined);
      assert.equal(await img.lookup('ISOLINUX/isolinux.cfg'), undefined);
      assert.equal(await img.lookup('isolinux/../README'), undefined);
      assert.equal(await img.lookup('README/x'), undefined);
      assert.equal(await img.lookup(''), undefined);
      assert.equal((await img.lookup('isolinux'))?.type, 'dir');
    } finally {
      await img.close();
    }
  });

  it('readFile enforces maxBytes; streams honour highWaterMark; closed images refuse', async () => {
    const img = await openSynth(spec);
    const k = (await img.lookup('isolinux/vmlinuz0'))!;
    await assert.rejects(img.readFile(k, 1000), (e: unknown) => isRhevbootError(e, 'RB_ERR_ISO_UNSUPPORTED') && /100000 bytes, above the 1000-byte limit/.test(e.message));
    assert.deepEqual(await img.readFile(k), pattern(100_000, 9));
    const sizes: number[] = [];
    const s = img.createReadStream(k, { highWaterMark: 4096 });
    for await (const c of s) sizes.push((c as Buffer).length);
    assert.equal(sizes.reduce((a, b) => a + b, 0), 100_000);
    assert.ok(Math.max(...sizes) <= 4096);
    const d = (await img.lookup('isolinux'))!;
    await assert.rejects(img.readFile(d), (e: unknown) => isRhevbootError(e, 'RB_ERR_ISO_UNSUPPORTED') && /cannot read a dir/.test(e.message));
    await img.close();
    assert.throws(() => img.walk(), (e: unknown) => isRhevbootError(e, 'RB_ERR_ISO_IO') && /image is closed/.test(e.message));
    await assert.rejects(img.readFile(k), (e: unknown) => isRhevbootError(e, 'RB_ERR_ISO_IO'));
  });

  it('boot catalog round trip through the image', async () => {
    const img = await openSynth({ root: [file('A', 'a')], bootCatalog: bootCatalog(0, { lba: 20, sectorCount: 4 }, [{ platform: 0xef, entries: [{ lba: 21, sectorCount: 0 }] }]) });
    try {
      assert.deepEqual(
        (await img.bootCatalog()).map((e) => `${e.platform}:${e.lba}:${e.sectorCount}`),
        ['bios:20:4', 'uefi:21:0'],
      );
    } finally {
      await img.close();
    }
  });

  it('opening a missing file is RB_ERR_ISO_IO naming the path', async () => {
    const p = path.join(tmp, 'nope.iso');
    await assert.rejects(IsoImage.open(p), (e: unknown) => isRhevbootError(e, 'RB_ERR_ISO_IO') && e.message.startsWith(`${p}: image file: cannot open`));
  });
});

describe('extractIso', () => {
  const rrSpec: SynthSpec = {
    rootSelfSu: rrRoot(),
    root: [
      {
        name: 'RO',
        su: Buffer.concat([su.px(0o40555), su.nm('readonly'), su.tf(0x02, [shortDate(new Date(Date.UTC(2019, 4, 5, 6, 7, 8)))])]),
        dir: [file('INNER', 'inner\n', { su: rrFile('inner', 0o100444) })],
      },
      file('SUID', '#!/bin/sh\n', { su: Buffer.concat([su.px(0o104755), su.nm('suid'), su.tf(0x02, [shortDate(new Date(Date.UTC(2018, 0, 1)))])]) }),
      file('BIG', pattern(9 * 1024 * 1024 + 3, 5), { su: rrFile('big.bin') }),
      file('LINK', '', { su: Buffer.concat([su.px(0o120777), su.nm('link'), su.slPath('readonly/inner')]) }),
    ],
  };

  it('applies modes (dropping setuid) and mtimes, even inside read-only directories', async () => {
    const img = await openSynth(rrSpec);
    const out = path.join(tmp, 'x-modes', 'nested', 'target'); // created if missing
    try {
      const r = await extractIso(img, out);
      assert.deepEqual(r, { files: 3, dirs: 1, symlinks: 1, bytes: 6 + 10 + 9 * 1024 * 1024 + 3 });
    } finally {
      await img.close();
    }
    const ro = await stat(path.join(out, 'readonly'));
    assert.equal(ro.mode & 0o7777, 0o555);
    assert.equal(ro.mtime.toISOString(), '2019-05-05T06:07:08.000Z');
    assert.equal((await stat(path.join(out, 'readonly/inner'))).mode & 0o7777, 0o444);
    const suid = await stat(path.join(out, 'suid'));
    assert.equal(suid.mode & 0o7777, 0o755, 'setuid must be dropped');
    assert.equal(suid.mtime.toISOString(), '2018-01-01T00:00:00.000Z');
    assert.deepEqual(await readFile(path.join(out, 'big.bin')), pattern(9 * 1024 * 1024 + 3, 5));
    assert.ok((await lstat(path.join(out, 'link'))).isSymbolicLink());
  });

  it('reports progress up to the totals and honours a filter (creating skipped parents)', async () => {
    const img = await openSynth(rrSpec);
    const out = path.join(tmp, 'x-filter');
    const seen: { files: number; bytes: number; totalBytes: number; current: string }[] = [];
    try {
      const r = await extractIso(img, out, { filter: (e) => e.path.startsWith('readonly/') || e.path === 'big.bin', onProgress: (p) => seen.push(p) });
      assert.deepEqual(r, { files: 2, dirs: 0, symlinks: 0, bytes: 6 + 9 * 1024 * 1024 + 3 });
    } finally {
      await img.close();
    }
    assert.deepEqual((await readdir(out)).sort(), ['big.bin', 'readonly']);
    assert.equal((await stat(path.join(out, 'readonly'))).mode & 0o777, 0o755, 'parent created for a filtered-out directory');
    const last = seen[seen.length - 1]!;
    assert.equal(last.files, 2);
    assert.equal(last.bytes, last.totalBytes);
    assert.equal(last.totalBytes, 6 + 9 * 1024 * 1024 + 3);
    assert.ok(seen.some((p) => p.current === 'big.bin' && p.bytes < p.totalBytes), 'progress within a large file');
  });

  it('aborts cleanly via AbortSignal, leaving no partial file', async () => {
    const img = await openSynth(rrSpec);
    const out = path.join(tmp, 'x-abort');
    const ac = new AbortController();
    try {
      await assert.rejects(
        extractIso(img, out, {
          signal: ac.signal,
          onProgress: (p) => {
            if (p.current === 'big.bin') ac.abort();
          },
        }),
        (e: unknown) => (e as Error).name === 'AbortError',
      );
      const left = await readdir(out);
      assert.ok(!left.includes('big.bin'), 'partial big.bin must be removed');
      await assert.rejects(extractIso(img, path.join(tmp, 'x-abort2'), { signal: AbortSignal.abort() }), (e: unknown) => (e as Error).name === 'AbortError');
      assert.deepEqual(await readdir(path.join(tmp, 'x-abort2')).catch(() => 'absent'), 'absent');
    } finally {
      await img.close();
    }
  });

  it('refuses to overwrite existing files (O_EXCL) but accepts existing real directories', async () => {
    const img = await openSynth(rrSpec);
    const out = path.join(tmp, 'x-twice');
    try {
      await extractIso(img, out, { filter: (e) => e.type === 'dir' });
      await extractIso(img, out, { filter: (e) => e.type === 'dir' }); // directories may pre-exist
      await extractIso(img, out);
      await assert.rejects(extractIso(img, out), (e: unknown) => isRhevbootError(e, 'RB_ERR_ISO_IO') && /EEXIST/.test(e.message));
    } finally {
      await img.close();
    }
  });

  it('Joliet image without Rock Ridge extracts with libarchive default modes', async () => {
    const img = await openSynth({ root: [file('A', 'a')], joliet: [{ name: 'dir', dir: [file('ünï.txt', 'u')] }] });
    const out = path.join(tmp, 'x-joliet');
    try {
      await extractIso(img, out);
    } finally {
      await img.close();
    }
    assert.equal((await stat(path.join(out, 'dir'))).mode & 0o777, 0o700);
    assert.equal((await stat(path.join(out, 'dir/ünï.txt'))).mode & 0o777, 0o400);
  });
});
