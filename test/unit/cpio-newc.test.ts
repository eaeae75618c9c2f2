import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isRhevbootError } from '../../src/errors.js';
import {
  NEWC_HEADER_SIZE,
  NEWC_MAX_FILE_SIZE,
  align4,
  assertNewcFileSize,
  blockPadding,
  dataPadding,
  encodeNewcHeader,
  encodeNewcTrailer,
  parseNewcArchive,
  parseNewcHeader,
} from '../../src/cpio/newc.js';
import { S_IFDIR, S_IFLNK, S_IFREG } from '../../src/util/file-mode.js';

/*
 * Fixture: the exact bytes GNU cpio 2.13 wrote for
 *   umask 022; printf hello > a.txt; mkdir d; ln -s a.txt l; mkdir isos; printf x > 'isos/ünï.txt'
 *   touch -h -d @1700000000 a.txt d l 'isos/ünï.txt'
 *   printf 'a.txt\nd\nl\nisos/ünï.txt\n' | cpio -H newc -o --reproducible --owner=0:0
 * (--reproducible numbers inodes from 0 and zeroes the device fields; the output is 1024 bytes,
 * padded to a 512 multiple.)
 */
const GNU_A_TXT = '07070100000000000081A40000000000000000000000016553F10000000005000000000000000000000000000000000000000600000000a.txt\0';
const GNU_DIR_D = '07070100000001000041ED0000000000000000000000026553F10000000000000000000000000000000000000000000000000200000000d\0';
const GNU_LINK_L = '070701000000020000A1FF0000000000000000000000016553F10000000005000000000000000000000000000000000000000200000000l\0';
const GNU_UTF8 = '07070100000003000081A40000000000000000000000016553F10000000001000000000000000000000000000000000000000F00000000isos/ünï.txt\0\0\0\0';
const GNU_TRAILER = '07070100000000000000000000000000000000000000010000000000000000000000000000000000000000000000000000000B00000000TRAILER!!!\0\0\0\0';

function gnuArchive(): Buffer {
  const parts = [
    Buffer.from(GNU_A_TXT, 'utf8'),
    Buffer.from('hello\0\0\0', 'latin1'),
    Buffer.from(GNU_DIR_D, 'utf8'),
    Buffer.from(GNU_LINK_L, 'utf8'),
    Buffer.from('a.txt\0\0\0', 'latin1'),
    Buffer.from(GNU_UTF8, 'utf8'),
    Buffer.from('x\0\0\0', 'latin1'),
    Buffer.from(GNU_TRAILER, 'latin1'),
  ];
  const body = Buffer.concat(parts);
  return Buffer.concat([body, Buffer.alloc(1024 - body.length)]);
}

const MTIME = 1_700_000_000;

function expectCpioError(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isRhevbootError(err, 'RB_ERR_CPIO'), `expected RB_ERR_CPIO, got ${String(err)}`);
    assert.match(err.message, re);
    return true;
  });
}

/** Deterministic PRNG so a failing fuzz case can be replayed. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

describe('encodeNewcHeader: byte-exact against GNU cpio', () => {
  it('regular file', () => {
    const h = encodeNewcHeader({ name: 'a.txt', ino: 0, mode: S_IFREG | 0o644, mtime: MTIME, filesize: 5 });
    assert.equal(h.toString('latin1'), GNU_A_TXT);
  });

  it('directory (nlink 2)', () => {
    const h = encodeNewcHeader({ name: 'd', ino: 1, mode: S_IFDIR | 0o755, nlink: 2, mtime: MTIME, filesize: 0 });
    assert.equal(h.toString('latin1'), GNU_DIR_D);
  });

  it('symlink (target is the data)', () => {
    const h = encodeNewcHeader({ name: 'l', ino: 2, mode: S_IFLNK | 0o777, mtime: MTIME, filesize: 5 });
    assert.equal(h.toString('latin1'), GNU_LINK_L);
  });

  it('UTF-8 name keeps every byte; namesize counts bytes, not characters', () => {
    const h = encodeNewcHeader({ name: 'isos/ünï.txt', ino: 3, mode: S_IFREG | 0o644, mtime: MTIME, filesize: 1 });
    assert.deepEqual(h, Buffer.from(GNU_UTF8, 'utf8'));
    assert.equal(h.toString('latin1', 94, 102), '0000000F'); // 14 bytes + NUL, though 'isos/ünï.txt'.length is 12
    assert.deepEqual(h.subarray(110, 124), Buffer.from('isos/ünï.txt', 'utf8'));
    const parsed = parseNewcHeader(h);
    assert.ok(parsed.ok);
    assert.equal(parsed.header.name, 'isos/ünï.txt');
  });

  it('raw byte names are written as given', () => {
    const raw = Buffer.from([0x66, 0xff, 0xfe, 0x2e]); // not valid UTF-8
    const h = encodeNewcHeader({ name: raw, ino: 9, mode: S_IFREG | 0o600, filesize: 0 });
    assert.deepEqual(h.subarray(110, 114), raw);
    const parsed = parseNewcHeader(h);
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.header.nameBytes, raw);
  });

  it('trailer', () => {
    assert.equal(encodeNewcTrailer().toString('latin1'), GNU_TRAILER);
  });

  it('codec pieces + 512 block padding rebuild the whole GNU archive', () => {
    const body = Buffer.concat([
      encodeNewcHeader({ name: 'a.txt', ino: 0, mode: S_IFREG | 0o644, mtime: MTIME, filesize: 5 }),
      Buffer.from('hello'),
      Buffer.alloc(dataPadding(5)),
      encodeNewcHeader({ name: 'd', ino: 1, mode: S_IFDIR | 0o755, nlink: 2, mtime: MTIME, filesize: 0 }),
      encodeNewcHeader({ name: 'l', ino: 2, mode: S_IFLNK | 0o777, mtime: MTIME, filesize: 5 }),
      Buffer.from('a.txt'),
      Buffer.alloc(dataPadding(5)),
      encodeNewcHeader({ name: 'isos/ünï.txt', ino: 3, mode: S_IFREG | 0o644, mtime: MTIME, filesize: 1 }),
      Buffer.from('x'),
      Buffer.alloc(dataPadding(1)),
      encodeNewcTrailer(),
    ]);
    const full = Buffer.concat([body, Buffer.alloc(blockPadding(body.length, 512))]);
    assert.deepEqual(full, gnuArchive());
  });

  it('fields are upper-case hex', () => {
    const h = encodeNewcHeader({ name: 'x', ino: 0xabcdef, mode: S_IFREG | 0o644, filesize: 0xdead, uid: 0xbeef });
    const s = h.toString('latin1', 0, NEWC_HEADER_SIZE);
    assert.match(s, /^070701[0-9A-F]{104}$/);
    assert.equal(s.slice(6, 14), '00ABCDEF');
    assert.equal(s.slice(54, 62), '0000DEAD');
  });
});

describe('padding', () => {
  it('header+name is padded to a multiple of 4 for name lengths 1..8', () => {
    // 110 + namesize (name + NUL), rounded up to 4.
    const expected = [112, 116, 116, 116, 116, 120, 120, 120];
    for (let n = 1; n <= 8; n++) {
      const name = 'abcdefgh'.slice(0, n);
      const h = encodeNewcHeader({ name, ino: 0, mode: S_IFREG | 0o644, filesize: 0 });
      assert.equal(h.length, expected[n - 1], `name length ${n}`);
      assert.equal(h.length % 4, 0);
      assert.equal(h.toString('latin1', 110, 110 + n), name);
      assert.ok(h.subarray(110 + n).every((b) => b === 0), `NUL and padding are zero for length ${n}`);
      const parsed = parseNewcHeader(h);
      assert.ok(parsed.ok);
      assert.equal(parsed.header.namesize, n + 1);
      assert.equal(parsed.header.dataOffset, expected[n - 1]);
    }
  });

  it('data padding and block padding', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 511, 512, 513].map(dataPadding), [0, 3, 2, 1, 0, 3, 1, 0, 3]);
    assert.deepEqual([0, 1, 511, 512, 513, 1024].map((n) => blockPadding(n)), [0, 511, 1, 0, 511, 0]);
    assert.equal(align4(2 ** 32 + 1), 2 ** 32 + 4); // no 32-bit wraparound
  });
});

describe('refusals', () => {
  it('refuses files of 4 GiB or more, saying newc cannot hold them', () => {
    for (const size of [2 ** 32, 2 ** 32 + 1, 5 * 2 ** 30]) {
      expectCpioError(
        () => encodeNewcHeader({ name: 'rhevh.iso', ino: 0, mode: S_IFREG | 0o644, filesize: size }),
        /newc cannot hold.*4 GiB/,
      );
      expectCpioError(() => assertNewcFileSize(size, 'rhevh.iso'), /4 GiB/);
    }
  });

  it('accepts the largest size newc can hold', () => {
    const h = encodeNewcHeader({ name: 'big', ino: 0, mode: S_IFREG | 0o644, filesize: NEWC_MAX_FILE_SIZE });
    assert.equal(h.toString('latin1', 54, 62), 'FFFFFFFF');
    assert.doesNotThrow(() => assertNewcFileSize(2 ** 32 - 1, 'big'));
  });

  it('refuses bad names and out-of-range fields', () => {
    expectCpioError(() => encodeNewcHeader({ name: '', ino: 0, mode: 0, filesize: 0 }), /empty/);
    expectCpioError(() => encodeNewcHeader({ name: 'a\0b', ino: 0, mode: 0, filesize: 0 }), /NUL/);
    expectCpioError(() => encodeNewcHeader({ name: 'a', ino: -1, mode: 0, filesize: 0 }), /ino/);
    expectCpioError(() => encodeNewcHeader({ name: 'a', ino: 0, mode: 0, filesize: 1.5 }), /filesize/);
    expectCpioError(() => encodeNewcHeader({ name: 'a', ino: 0, mode: 0, filesize: 0, mtime: 2 ** 32 }), /mtime/);
    expectCpioError(() => encodeNewcHeader({ name: 'a', ino: Number.NaN, mode: 0, filesize: 0 }), /ino/);
  });
});

describe('parser', () => {
  it('walks the GNU archive', () => {
    const buf = gnuArchive();
    const listing = parseNewcArchive(buf);
    assert.equal(listing.error, undefined);
    assert.deepEqual(
      listing.entries.map((e) => [e.name, e.mode.toString(8), e.filesize, e.ino, e.nlink, e.mtime]),
      [
        ['a.txt', '100644', 5, 0, 1, MTIME],
        ['d', '40755', 0, 1, 2, MTIME],
        ['l', '120777', 5, 2, 1, MTIME],
        ['isos/ünï.txt', '100644', 1, 3, 1, MTIME],
        ['TRAILER!!!', '0', 0, 0, 1, 0],
      ],
    );
    const a = listing.entries[0]!;
    assert.equal(buf.toString('latin1', a.dataOffset, a.dataOffset + a.filesize), 'hello');
    const l = listing.entries[2]!;
    assert.equal(buf.toString('latin1', l.dataOffset, l.dataOffset + l.filesize), 'a.txt');
    assert.equal(listing.end, 612); // the trailer ends there; the rest is block padding
    assert.ok(buf.subarray(612).every((b) => b === 0));
  });

  it('parses at an offset (an archive appended to an initrd)', () => {
    const prefix = Buffer.from('\x1f\x8b not a cpio ');
    const pad = Buffer.alloc(dataPadding(prefix.length));
    const buf = Buffer.concat([prefix, pad, gnuArchive()]);
    const listing = parseNewcArchive(buf, prefix.length + pad.length);
    assert.equal(listing.error, undefined);
    assert.equal(listing.entries.length, 5);
  });

  it('accepts lower-case hex and the 070702 variant', () => {
    const h = Buffer.from(GNU_A_TXT.replace('81A4', '81a4').replace('070701', '070702'), 'latin1');
    const r = parseNewcHeader(h);
    assert.ok(r.ok);
    assert.equal(r.header.mode, 0o100644);
    assert.equal(r.header.format, 'crc');
  });

  it('reports every truncation of an archive as an error value', () => {
    const buf = gnuArchive().subarray(0, 612);
    for (let len = 0; len < buf.length; len++) {
      const listing = parseNewcArchive(buf.subarray(0, len));
      assert.ok(listing.error, `length ${len} must be an error`);
      assert.ok(['truncated', 'truncated-data', 'no-trailer'].includes(listing.error.code), `${len}: ${listing.error.code}`);
      assert.ok(listing.error.offset <= len);
    }
    assert.equal(parseNewcArchive(buf).error, undefined);
  });

  it('rejects hostile headers without throwing', () => {
    const good = Buffer.from(GNU_A_TXT + 'hello\0\0\0' + GNU_TRAILER, 'latin1');
    const mutate = (at: number, text: string): Buffer => {
      const b = Buffer.from(good);
      b.write(text, at, 'latin1');
      return b;
    };
    const cases: [Buffer, string][] = [
      [mutate(0, '070707'), 'bad-magic'], // odc, not newc
      [mutate(0, 'GARBAG'), 'bad-magic'],
      [mutate(14, '0000G1A4'), 'bad-field'],
      [mutate(54, '+0000005'), 'bad-field'], // parseInt would have taken it
      [mutate(54, ' 0000005'), 'bad-field'],
      [mutate(94, '00000000'), 'bad-namesize'],
      [mutate(94, 'FFFFFFFF'), 'truncated'],
      [mutate(94, '00000003'), 'bad-name'], // 'a.' then 't' where the NUL should be
      [mutate(111, '\0'), 'bad-name'], // NUL inside the name
      [mutate(54, '7FFFFFFF'), 'truncated-data'],
    ];
    for (const [buf, code] of cases) {
      const listing = parseNewcArchive(buf);
      assert.equal(listing.error?.code, code, buf.toString('latin1', 0, 120));
      assert.equal(listing.entries.length, 0);
    }
    const noTrailer = Buffer.from(GNU_A_TXT + 'hello\0\0\0', 'latin1');
    assert.equal(parseNewcArchive(noTrailer).error?.code, 'no-trailer');
    assert.equal(parseNewcHeader(good, -1).ok, false);
    assert.equal(parseNewcHeader(good, good.length + 10).ok, false);
    assert.equal(parseNewcHeader(good, 1.5).ok, false);
    assert.equal(parseNewcHeader(Buffer.alloc(0)).ok, false);
  });

  it('never throws on random or mutated input, and stays within bounds', () => {
    const rand = prng(0x5eed);
    const base = gnuArchive();
    for (let i = 0; i < 3000; i++) {
      let buf: Buffer;
      if (i % 3 === 0) {
        buf = Buffer.alloc(rand() % 400);
        for (let j = 0; j < buf.length; j++) buf[j] = rand() & 0xff;
        if (buf.length >= 6 && i % 2 === 0) buf.write('070701', 0, 'latin1');
      } else {
        buf = Buffer.from(base.subarray(0, 200 + (rand() % 824)));
        const flips = 1 + (rand() % 6);
        for (let k = 0; k < flips; k++) {
          const at = rand() % buf.length;
          // Mostly hex digits, so mutations get past the digit check and exercise the size logic.
          buf[at] = rand() % 2 ? '0123456789ABCDEF'.charCodeAt(rand() % 16) : rand() & 0xff;
        }
      }
      const listing = parseNewcArchive(buf);
      for (const e of listing.entries) {
        assert.ok(e.dataOffset + e.filesize <= buf.length);
        assert.ok(e.nextOffset > e.headerOffset);
      }
      assert.ok(listing.error !== undefined || listing.end !== undefined);
    }
  });
});
