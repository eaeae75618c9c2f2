/**
 * Hostile and broken images: each must fail with the right RB_ERR_ISO_* code and a message naming the
 * image and the offending record, and extraction must write nothing outside the target directory
 * (a sentinel directory next to it stays empty). Images come from the synth builder or from patching
 * bytes of xorriso output.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile, readlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isRhevbootError } from '../../src/errors.js';
import { IsoImage, extractIso, type IsoEntry } from '../../src/iso9660/index.js';
import { buildIso as synth, rrRoot, rrFile, su, utf16be, SECTOR, type SynthSpec, type SynthNode } from '../helpers/iso-synth.js';
import { buildIso as realIso, removeTree } from '../helpers/iso-build.js';

let tmp = '';
let n = 0;

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'rb-iso-hostile-'));
});
after(async () => {
  if (tmp) await removeTree(tmp);
});

async function writeImage(image: Buffer): Promise<string> {
  const p = path.join(tmp, `case${++n}.iso`);
  await writeFile(p, image);
  return p;
}

async function walkAll(img: IsoImage): Promise<IsoEntry[]> {
  const out: IsoEntry[] = [];
  for await (const e of img.walk()) out.push(e);
  return out;
}

/** Opens, walks and extracts; expects the given failure, and that nothing escaped the target. */
async function expectHostile(image: Buffer, code: string, re: RegExp, opts: { maxDepth?: number; maxEntries?: number } = {}): Promise<void> {
  const iso = await writeImage(image);
  const base = path.join(tmp, `run${n}`);
  const target = path.join(base, 'target');
  const sentinel = path.join(base, 'sentinel');
  await mkdir(sentinel, { recursive: true });
  const check = (err: unknown): true => {
    assert.ok(isRhevbootError(err), `expected RhevbootError, got ${(err as Error)?.stack ?? String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.match(err.message, re);
    assert.ok(err.message.startsWith(`${iso}: `), `message must name the image: ${err.message}`);
    return true;
  };
  let img: IsoImage | undefined;
  try {
    img = await IsoImage.open(iso, opts);
  } catch (err) {
    check(err);
  }
  if (img) {
    try {
      await assert.rejects(walkAll(img), check);
      await assert.rejects(extractIso(img, target), check);
    } finally {
      await img.close();
    }
  }
  assert.deepEqual(await readdir(sentinel), [], 'sentinel must stay empty');
  const written = await readdir(target).catch(() => []);
  assert.deepEqual(written, [], 'structural failures are detected before anything is written');
}

const file = (name: string, data = 'data\n', extra: Partial<SynthNode> = {}): SynthNode => ({ name, data: Buffer.from(data), ...extra });
const rrSpec = (root: SynthNode[], extra: Partial<SynthSpec> = {}): SynthSpec => ({ root, rootSelfSu: rrRoot(), ...extra });

describe('hostile directory structure', () => {
  it('directory loop (a subdirectory record pointing back at the root extent)', async () => {
    const { image } = synth({ root: [{ name: 'A', dir: [{ name: 'LOOP', dir: [], pointTo: 'root', flags: 2 }] }] });
    await expectHostile(image, 'RB_ERR_ISO_HOSTILE', /directory record "\/A\/LOOP" at LBA \d+ offset 0x[0-9a-f]+: directory loop: extent \d+ is already part of the tree/);
  });

  it('directory loop via a directory pointing at its own extent', async () => {
    const { image } = synth({ root: [{ name: 'A', id: 'a', dir: [{ name: 'SELF', dir: [], pointTo: 'a' }] }] });
    await expectHostile(image, 'RB_ERR_ISO_HOSTILE', /"\/A\/SELF".*directory loop/);
  });

  it('Rock Ridge CL pointing back at the root', async () => {
    const { image } = synth(
      rrSpec([{ name: 'A', su: rrFile('a', 0o40755), dir: [file('B', '', { su: (c) => Buffer.concat([su.px(0o40755), su.nm('b'), su.cl(c.lbaOf('root'))]) })] }], {
        rootSelfSu: Buffer.concat([rrRoot()]),
      }),
    );
    await expectHostile(image, 'RB_ERR_ISO_HOSTILE', /"\/a\/b".*directory loop/);
  });

  it('file extent past the end of the volume', async () => {
    const { image } = synth({ root: [file('KERNEL.;1', 'x', { lba: 99999 })] });
    await expectHostile(image, 'RB_ERR_ISO_HOSTILE', /directory record "\/KERNEL" at LBA \d+ offset 0x44: file extent 99999 \(\+1 bytes\) past end of volume \(volume has \d+ blocks\)/);
  });

  it('absurd file size (4 GiB - 1 in a tiny volume)', async () => {
    const { image } = synth({ root: [file('HUGE', 'x', { size: 0xffffffff })] });
    await expectHostile(image, 'RB_ERR_ISO_HOSTILE', /"\/HUGE".*\+4294967295 bytes\) past end of volume/);
  });

  it('absurd directory size', async () => {
    const { image } = synth({ root: [{ name: 'BIGDIR', dir: [], size: 0xfffff000 }] });
    await expectHostile(image, 'RB_ERR_ISO_HOSTILE', /absurd directory size 4294963200 bytes/);
  });

  it('multi-extent file whose parts add up to more than the volume', async () => {
    const spec: SynthSpec = { root: [file('X', '', { parts: [Buffer.alloc(1), Buffer.alloc(1), Buffer.alloc(1)], lba: 16, size: 60 * SECTOR })], blobs: [{ id: 'pad', data: Buffer.alloc(70 * SECTOR) }] };
    await expectHostile(synth(spec).image, 'RB_ERR_ISO_HOSTILE', /absurd size: multi-extent file totals \d+ bytes, more than the \d+-byte volume/);
  });

  it('CE continuation chain that loops', async () => {
    const { image } = synth(
      rrSpec([file('F', 'x', { su: (c) => Buffer.concat([su.px(0o100644), su.nm('f'), su.ce(c.lbaOf('ce'), 0, 28)]) })], {
        blobs: [{ id: 'ce', data: (c) => su.ce(c.lbaOf('ce'), 0, 28) }],
      }),
    );
    await expectHostile(image, 'RB_ERR_ISO_HOSTILE', /directory record "\/F" at LBA \d+ offset 0x[0-9a-f]+: CE continuation chain loops back to block \d+ offset 0/);
  });

  it('depth cap', async () => {
    let node: SynthNode = file('LEAF');
    for (let i = 9; i >= 1; i--) node = { name: `D${i}`, dir: [node] };
    const { image } = synth({ root: [node] });
    await expectHostile(image, 'RB_ERR_ISO_HOSTILE', /"\/D1\/D2\/D3\/D4\/D5\/D6".*depth 6 exceeds the limit of 5/, { maxDepth: 5 });
  });

  it('entry-count cap', async () => {
    const { image } = synth({ root: Array.from({ length: 10 }, (_, i) => file(`F${i}`)) });
    await expectHostile(image, 'RB_ERR_ISO_HOSTILE', /more than 5 entries/, { maxEntries: 5 });
  });

  it('interleaved files are refused as unsupported', async () => {
    const { image } = synth({ root: [file('I')] });
    // Patch the file unit size of the record for "I" (third record of the root directory).
    const rootLba = image.readUInt32LE(16 * SECTOR + 156 + 2);
    const idx = image.indexOf(Buffer.from([1, 0x49]), rootLba * SECTOR) - 32; // name length 1, "I"
    image[idx + 26] = 1;
    await expectHostile(image, 'RB_ERR_ISO_UNSUPPORTED', /interleaved recording \(file unit size 1, gap 0\)/);
  });
});

describe('hostile names', () => {
  const rrName = (nm: Buffer, flags = 0) => synth(rrSpec([file('EVIL', 'x', { su: Buffer.concat([su.px(0o100644), su.nm(nm, flags)]) })])).image;
  it('Rock Ridge NM ".."', () => expectHostile(rrName(Buffer.from('..')), 'RB_ERR_ISO_HOSTILE', /directory record "\/EVIL" at LBA \d+ offset 0x[0-9a-f]+: Rock Ridge NM name "\.\." is reserved/));
  it('Rock Ridge NM "a/b"', () => expectHostile(rrName(Buffer.from('a/b')), 'RB_ERR_ISO_HOSTILE', /Rock Ridge NM name "a\/b" contains "\/"/));
  it('Rock Ridge NM with NUL', () => expectHostile(rrName(Buffer.from('a\0b')), 'RB_ERR_ISO_HOSTILE', /Rock Ridge NM name "a\\u0000b" contains NUL/));
  it('Rock Ridge NM CURRENT flag on a child', () => expectHostile(rrName(Buffer.alloc(0), 2), 'RB_ERR_ISO_HOSTILE', /NM entry names a child record "\."/));

  const joliet = (name: Buffer) => synth({ root: [file('SAFE')], joliet: [{ name, data: Buffer.from('x') }] }).image;
  it('Joliet ".."', () => expectHostile(joliet(utf16be('..')), 'RB_ERR_ISO_HOSTILE', /Joliet name "\.\." is reserved/));
  it('Joliet "a/b"', () => expectHostile(joliet(utf16be('a/b')), 'RB_ERR_ISO_HOSTILE', /Joliet name "a\/b" contains "\/"/));
  it('Joliet NUL', () => expectHostile(joliet(utf16be('a\0b')), 'RB_ERR_ISO_HOSTILE', /Joliet name "a\\u0000b" contains NUL/));

  const plain = (name: Buffer) => synth({ root: [{ name, data: Buffer.from('x') }] }).image;
  it('plain ".."', () => expectHostile(plain(Buffer.from('..')), 'RB_ERR_ISO_HOSTILE', /ISO9660 name "\." is reserved/));
  it('plain "A/B"', () => expectHostile(plain(Buffer.from('A/B;1')), 'RB_ERR_ISO_HOSTILE', /ISO9660 name "A\/B" contains "\/"/));
  it('plain NUL', () => expectHostile(plain(Buffer.from('A\0B')), 'RB_ERR_ISO_HOSTILE', /ISO9660 name "A\\u0000B" contains NUL/));
  it('plain empty (";1")', () => expectHostile(plain(Buffer.from(';1')), 'RB_ERR_ISO_HOSTILE', /ISO9660 empty name/));

  it('a symlink x -> /tmp and a directory x/evil (file "through" the symlink)', async () => {
    const { image } = synth(
      rrSpec([
        file('X1', '', { su: Buffer.concat([su.px(0o120777), su.nm('x'), su.slPath('/tmp')]) }),
        { name: 'X2', su: rrFile('x', 0o40755), dir: [file('EVIL', 'pwned\n', { su: rrFile('evil') })] },
      ]),
    );
    await expectHostile(image, 'RB_ERR_ISO_HOSTILE', /directory record "\/x" at LBA \d+ offset 0x[0-9a-f]+: duplicate name "x" in directory "\/"/);
  });
});

describe('extraction never writes outside the target', () => {
  it('symlinks pointing outside are created as-is and never followed', async () => {
    const base = path.join(tmp, 'escape');
    const sentinel = path.join(base, 'sentinel');
    const target = path.join(base, 'target');
    await mkdir(sentinel, { recursive: true });
    const { image } = synth(
      rrSpec([
        file('A', '', { su: Buffer.concat([su.px(0o120777), su.nm('up'), su.slPath('../sentinel')]) }),
        file('B', '', { su: Buffer.concat([su.px(0o120777), su.nm('abs'), su.slPath(sentinel)]) }),
        file('C', 'payload\n', { su: rrFile('upfile') }),
      ]),
    );
    const img = await IsoImage.open(await writeImage(image));
    try {
      const r = await extractIso(img, target);
      assert.deepEqual(r, { files: 1, dirs: 0, symlinks: 2, bytes: 8 });
    } finally {
      await img.close();
    }
    assert.equal(await readlink(path.join(target, 'up')), '../sentinel');
    assert.equal(await readlink(path.join(target, 'abs')), sentinel);
    assert.deepEqual(await readdir(sentinel), []);
  });

  it('refuses to write through a pre-existing symlinked directory or file in the target', async () => {
    const base = path.join(tmp, 'preexisting');
    const sentinel = path.join(base, 'sentinel');
    const target = path.join(base, 'target');
    await mkdir(sentinel, { recursive: true });
    await mkdir(target);
    await symlink(sentinel, path.join(target, 'isolinux'));
    const { image } = synth(rrSpec([{ name: 'ISOLINUX', su: rrFile('isolinux', 0o40755), dir: [file('CFG', 'x\n', { su: rrFile('isolinux.cfg') })] }]));
    const iso = await writeImage(image);
    const img = await IsoImage.open(iso);
    try {
      await assert.rejects(extractIso(img, target), (err: unknown) => {
        assert.ok(isRhevbootError(err, 'RB_ERR_ISO_IO'));
        assert.match(err.message, /refusing to write through a pre-existing symlink/);
        return true;
      });
      // Same for a dangling symlink where a file goes.
      const t2 = path.join(base, 'target2');
      await mkdir(path.join(t2, 'isolinux'), { recursive: true });
      await symlink(path.join(sentinel, 'planted'), path.join(t2, 'isolinux', 'isolinux.cfg'));
      await assert.rejects(extractIso(img, t2), (err: unknown) => isRhevbootError(err, 'RB_ERR_ISO_IO') && /cannot create file.*EEXIST/.test(err.message));
    } finally {
      await img.close();
    }
    assert.deepEqual(await readdir(sentinel), []);
  });
});

describe('broken and foreign images', () => {
  it('UDF-only image is reported as unsupported', async () => {
    const image = Buffer.alloc(300 * SECTOR);
    ['BEA01', 'NSR02', 'TEA01'].forEach((id, i) => image.write(id, (16 + i) * SECTOR + 1, 'latin1'));
    await expectHostile(image, 'RB_ERR_ISO_UNSUPPORTED', /UDF-only image/);
  });

  it('a file that is not an ISO at all', async () => {
    await expectHostile(Buffer.alloc(64 * SECTOR, 0x5a), 'RB_ERR_ISO_FORMAT', /no ISO9660 primary volume descriptor/);
    await expectHostile(Buffer.from('tiny'), 'RB_ERR_ISO_FORMAT', /4 bytes is too small for an ISO9660 image/);
  });

  it('zisofs files are listed but reading or extracting them is refused', async () => {
    const { image } = synth(rrSpec([file('Z', 'compressed?', { su: Buffer.concat([su.px(0o100644), su.nm('z.bin'), su.zf(1_000_000)]) })]));
    const iso = await writeImage(image);
    const img = await IsoImage.open(iso);
    const target = path.join(tmp, 'zf-out');
    try {
      const [z] = await walkAll(img);
      assert.equal(z?.zisofs, true);
      await assert.rejects(img.readFile(z!), (e: unknown) => isRhevbootError(e, 'RB_ERR_ISO_UNSUPPORTED') && /zisofs/.test(e.message));
      await assert.rejects(extractIso(img, target), (e: unknown) => isRhevbootError(e, 'RB_ERR_ISO_UNSUPPORTED') && /"\/z.bin".*zisofs/.test(e.message));
      assert.deepEqual(await readdir(target).catch(() => []), []);
    } finally {
      await img.close();
    }
  });

  describe('real xorriso images, patched or truncated', () => {
    let src = '';
    let good: Buffer = Buffer.alloc(0);
    let jolietBoot: Buffer = Buffer.alloc(0);
    before(async () => {
      src = path.join(tmp, 'small-src');
      await mkdir(path.join(src, 'sub/deeper'), { recursive: true });
      await writeFile(path.join(src, 'hello.txt'), 'hello world\n');
      await writeFile(path.join(src, 'sub/data.bin'), Buffer.alloc(50_000, 7));
      await writeFile(path.join(src, 'sub/deeper/x.cfg'), 'cfg\n');
      await symlink('hello.txt', path.join(src, 'link'));
      const iso = path.join(tmp, 'small.iso');
      await realIso('xorriso', ['-R', '-J', '-joliet-long'], src, iso);
      good = await readFile(iso);
      const iso2 = path.join(tmp, 'small-joliet-boot.iso');
      await realIso('xorriso', ['--norock', '-J', '-joliet-long', '-b', 'sub/data.bin', '-c', 'boot.cat', '-no-emul-boot'], src, iso2);
      jolietBoot = await readFile(iso2);
    });

    const rootLba = (b: Buffer) => b.readUInt32LE(16 * SECTOR + 156 + 2);
    /** Offset of the directory record whose ISO identifier is `id` inside the root directory. */
    const recordOffset = (b: Buffer, id: string) => {
      const start = rootLba(b) * SECTOR;
      const i = b.indexOf(Buffer.from(id, 'latin1'), start);
      assert.ok(i > start && i < start + SECTOR, `record ${id} not found in root`);
      return i - 33;
    };
    const setLba = (b: Buffer, rec: number, lba: number) => {
      b.writeUInt32LE(lba, rec + 2);
      b.writeUInt32BE(lba, rec + 6);
    };

    it('patched: subdirectory pointing at the root extent is a loop', async () => {
      const b = Buffer.from(good);
      setLba(b, recordOffset(b, 'SUB'), rootLba(b));
      await expectHostile(b, 'RB_ERR_ISO_HOSTILE', /directory record "\/sub" at LBA \d+ offset 0x[0-9a-f]+: directory loop/);
    });

    it('patched: file extent past the end of the volume', async () => {
      const b = Buffer.from(good);
      setLba(b, recordOffset(b, 'HELLO.TXT;1'), 0x7fffff00);
      await expectHostile(b, 'RB_ERR_ISO_HOSTILE', /directory record "\/hello.txt" at LBA \d+ offset 0x[0-9a-f]+: file extent 2147483392 \(\+12 bytes\) past end of volume/);
    });

    it('truncated at many sizes: always a clear RhevbootError, never a RangeError', async () => {
      const cuts = [0, 1, 2047, 16 * SECTOR, 16 * SECTOR + 100, 17 * SECTOR, 20 * SECTOR, 30 * SECTOR, Math.floor(good.length / 2), good.length - SECTOR, good.length - 1];
      for (const cut of cuts) {
        const iso = await writeImage(good.subarray(0, cut));
        await assert.rejects(IsoImage.open(iso), (err: unknown) => {
          assert.ok(isRhevbootError(err, 'RB_ERR_ISO_FORMAT'), `cut ${cut}: ${String(err)}`);
          assert.match(err.message, /too small|truncated|no ISO9660 primary volume descriptor/);
          return true;
        });
      }
      // Lie about the volume size so open() passes, then the walk/reads hit the cut.
      for (const cut of [19 * SECTOR, 25 * SECTOR, 33 * SECTOR, 40 * SECTOR]) {
        const b = Buffer.from(good.subarray(0, cut));
        b.writeUInt32LE(cut / SECTOR, 16 * SECTOR + 80);
        const r = await exercise(await writeImage(b));
        assert.ok(r === 'ok' || isRhevbootError(r), `cut ${cut}: ${String(r)}`);
      }
    });

    for (const flavour of ['RR + Joliet', 'Joliet + El Torito'] as const) {
      it(`random byte corruption of descriptors, directories and catalog (${flavour}): only RhevbootErrors`, async () => {
        const base = flavour === 'RR + Joliet' ? good : jolietBoot;
        let seed = flavour === 'RR + Joliet' ? 12345 : 777;
        const rnd = (k: number) => {
          seed = (seed * 1103515245 + 12345) & 0x7fffffff;
          return seed % k;
        };
        const metaEnd = (rootLba(base) + 16) * SECTOR; // descriptors, path tables, directories, CE areas, catalog
        let failures = 0;
        for (let round = 0; round < 400; round++) {
          const b = Buffer.from(base);
          const flips = 1 + rnd(8);
          for (let i = 0; i < flips; i++) b[16 * SECTOR + rnd(metaEnd - 16 * SECTOR)] = rnd(256);
          const iso = await writeImage(b);
          const r = await exercise(iso);
          if (r !== 'ok') {
            assert.ok(isRhevbootError(r), `round ${round}: ${(r as Error)?.stack ?? String(r)}`);
            assert.ok(r.message.startsWith(`${iso}: `), r.message);
            failures++;
          }
          await rm(iso);
        }
        assert.ok(failures > 0, 'corruption should trip at least some checks');
      });
    }
  });
});

/** Opens, walks, reads every file and the boot catalog; returns 'ok' or the first error. */
async function exercise(iso: string): Promise<unknown> {
  let img: IsoImage | undefined;
  try {
    img = await IsoImage.open(iso);
    for await (const e of img.walk()) {
      if (e.type === 'file' && e.size < 1_000_000) await img.readFile(e);
    }
    await img.bootCatalog();
    await img.lookup('sub/deeper/x.cfg');
    await extractIso(img, `${iso}.out`);
    return 'ok';
  } catch (err) {
    return err;
  } finally {
    await img?.close();
    await rm(`${iso}.out`, { recursive: true, force: true });
  }
}

