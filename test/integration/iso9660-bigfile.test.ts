/**
 * A real > 4 GiB file: ISO9660 sizes are 32-bit, so xorriso -iso-level 3 stores it as several
 * directory records of the same name, all but the last flagged multi-extent (0x80). Slow (~1 min,
 * ~4.5 GB of temporary disk), hence the generous timeout.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { IsoImage } from '../../src/iso9660/index.js';
import { buildIso, makeSparseFile, sha256OfCommand, sha256Stream, removeTree } from '../helpers/iso-build.js';

const SIZE = 4_500_000_000;
const FOUR_GIB = 2 ** 32;
const MARKERS = [
  { offset: 0, data: Buffer.from('START-MARKER') },
  { offset: FOUR_GIB - 6, data: Buffer.from('ACROSS-4GiB') },
  { offset: SIZE - 10, data: Buffer.from('END-MARKER') },
];

describe('multi-extent file larger than 4 GiB', () => {
  let tmp = '';
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'rb-iso-big-'));
  });
  after(async () => {
    if (tmp) await removeTree(tmp);
  });

  it('walk() reports the full size over several extents and the stream matches bsdtar', { timeout: 15 * 60_000 }, async () => {
    const src = path.join(tmp, 'src');
    await mkdir(src);
    await makeSparseFile(path.join(src, 'big.bin'), SIZE, MARKERS);
    const iso = path.join(tmp, 'big.iso');
    await buildIso('xorriso', ['-iso-level', '3', '-R'], src, iso);
    await rm(src, { recursive: true, force: true });

    const img = await IsoImage.open(iso);
    try {
      const entries = [];
      for await (const e of img.walk()) entries.push(e);
      assert.equal(entries.length, 1);
      const big = entries[0]!;
      assert.equal(big.path, 'big.bin');
      assert.equal(big.size, SIZE);
      assert.ok(big.extents.length >= 2, `expected several extents, got ${big.extents.length}`);
      assert.equal(
        big.extents.reduce((s, x) => s + x.length, 0),
        SIZE,
      );

      // Markers, read straight from the image file through the extent map.
      const fh = await open(iso, 'r');
      try {
        for (const m of MARKERS) {
          let base = 0;
          const got = Buffer.alloc(m.data.length);
          let filled = 0;
          for (const x of big.extents) {
            while (filled < got.length && m.offset + filled >= base && m.offset + filled < base + x.length) {
              const within = m.offset + filled - base;
              const n = Math.min(got.length - filled, x.length - within);
              await fh.read(got, filled, n, x.lba * 2048 + within);
              filled += n;
            }
            base += x.length;
          }
          assert.deepEqual(got, m.data, `marker at ${m.offset}`);
        }
      } finally {
        await fh.close();
      }

      const [ours, theirs] = await Promise.all([
        sha256Stream(img.createReadStream(big, { highWaterMark: 4 * 1024 * 1024 })),
        sha256OfCommand('bsdtar', ['-xOf', iso, 'big.bin']),
      ]);
      assert.equal(ours, theirs);
    } finally {
      await img.close();
      await rm(iso, { force: true });
    }
  });
});
