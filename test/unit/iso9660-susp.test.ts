import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { splitSuspArea, collectSuspEntries, parseSp, type ContinuationRef } from '../../src/iso9660/susp.js';
import { parseRockRidge, decodeRrBytes } from '../../src/iso9660/rockridge.js';
import { fail, ok, type IsoProblem, type IsoResult } from '../../src/iso9660/fail.js';
import { su, suEntry, shortDate } from '../helpers/iso-synth.js';
import { problem as isoProblem, value } from '../helpers/iso-results.js';

const where = { image: 'rr.iso', record: 'directory record "/a"', lba: 40, offset: 0x22 };

const problem = (r: IsoResult<unknown>, code: string, re: RegExp): IsoProblem => isoProblem(r, code, re, 'rr.iso: directory record "/a" at LBA 40 offset 0x22: ');

function rrResult(...entries: Buffer[]) {
  return parseRockRidge(value(splitSuspArea(Buffer.concat(entries), where)).entries, where);
}

function rr(...entries: Buffer[]) {
  return value(rrResult(...entries));
}

describe('SUSP framing', () => {
  it('splits entries, stops at ST and at zero padding, skips PD', () => {
    const area = Buffer.concat([su.px(0o100644), suEntry('PD', Buffer.alloc(3)), su.nm('x'), su.st(), su.nm('ignored'), Buffer.alloc(1)]);
    const { entries, continuation } = value(splitSuspArea(area, where));
    assert.deepEqual(
      entries.map((e) => e.sig),
      ['PX', 'NM'],
    );
    assert.equal(continuation, undefined);
    assert.deepEqual(value(splitSuspArea(Buffer.concat([su.nm('a'), Buffer.from([0, 0, 0])]), where)).entries.length, 1);
  });

  it('reports an entry running past its area as RB_ERR_ISO_FORMAT, not a RangeError', () => {
    const area = su.nm('abcdef').subarray(0, 6);
    const p = problem(splitSuspArea(area, where), 'RB_ERR_ISO_FORMAT', /System Use entry "NM" of \d+ bytes runs past the end of its 6-byte area/);
    assert.equal(p.details.suspOffset, 0);
  });

  it('reports a CE entry too short for its block, offset and length', () => {
    problem(splitSuspArea(suEntry('CE', Buffer.alloc(10)), where), 'RB_ERR_ISO_FORMAT', /CE entry is 14 bytes, expected 28/);
  });

  it('parses SP and its skip length', () => {
    assert.equal(parseSp(su.sp(0)), 0);
    assert.equal(parseSp(su.sp(14)), 14);
    assert.equal(parseSp(su.nm('x')), undefined);
    assert.equal(parseSp(Buffer.from('SP')), undefined);
  });

  it('follows CE continuation areas in order', async () => {
    const blocks = new Map<number, Buffer>([
      [100, Buffer.concat([Buffer.alloc(10), su.nm('part2', 1), su.ce(101, 0, 0)])],
      [101, Buffer.alloc(0)],
    ]);
    // Second area ends with a zero-length CE: chain ends.
    const second = blocks.get(100)!;
    const reads: ContinuationRef[] = [];
    const reader = async (ref: ContinuationRef) => {
      reads.push(ref);
      return ok(blocks.get(ref.lba)!.subarray(ref.offset, ref.offset + ref.length));
    };
    const first = Buffer.concat([su.nm('part1', 1), su.ce(100, 10, second.length - 10)]);
    const entries = value(await collectSuspEntries(first, where, reader));
    const info = value(parseRockRidge(entries, where));
    assert.equal(info.name, 'part1part2');
    assert.deepEqual(reads, [{ lba: 100, offset: 10, length: second.length - 10 }]);
  });

  it('refuses CE chains that loop, with RB_ERR_ISO_HOSTILE', async () => {
    const self = Buffer.concat([su.nm('x', 1), su.ce(200, 0, 28 + 9)]);
    const reader = async () => ok(self); // block 200 points at itself
    const p = problem(await collectSuspEntries(Buffer.concat([su.ce(200, 0, self.length)]), where, reader), 'RB_ERR_ISO_HOSTILE', /CE continuation chain loops back to block 200 offset 0$/);
    assert.deepEqual(p.details, { ce: { lba: 200, offset: 0, length: 37 } });
  });

  it('refuses CE chains longer than the cap', async () => {
    const reader = async (ref: ContinuationRef) => ok(su.ce(ref.lba + 1, 0, 28)); // every block points at the next
    problem(await collectSuspEntries(su.ce(1, 0, 28), where, reader), 'RB_ERR_ISO_HOSTILE', /CE continuation chain longer than 32 areas/);
  });

  it('refuses CE areas that do not fit in a block', async () => {
    problem(await collectSuspEntries(su.ce(5, 2000, 100), where, async () => ok(Buffer.alloc(0))), 'RB_ERR_ISO_HOSTILE', /does not fit in one block/);
  });

  it('passes on a problem of the reader, and locates problems inside a continuation area', async () => {
    const outside = fail('RB_ERR_ISO_HOSTILE', where, 'CE continuation area at block 5 past end of volume');
    assert.deepEqual(await collectSuspEntries(su.ce(5, 0, 28), where, async () => outside), outside);
    const r = await collectSuspEntries(su.ce(77, 4, 6), where, async () => ok(su.nm('abcdef').subarray(0, 6)));
    assert.ok(!r.ok);
    assert.equal(r.problem.code, 'RB_ERR_ISO_FORMAT');
    assert.match(r.problem.message, /^rr\.iso: directory record "\/a" continuation area at LBA 77 offset 0x4: System Use entry "NM"/);
  });
});

describe('Rock Ridge entries', () => {
  it('PX in the 36-byte (RRIP 1.10) and 44-byte (1.12, with inode) forms', () => {
    const a = rr(su.px(0o104755, { uid: 1000, gid: 100, nlink: 2 }));
    assert.equal(a.mode, 0o104755);
    assert.equal(a.uid, 1000);
    assert.equal(a.gid, 100);
    assert.equal(a.nlink, 2);
    assert.equal(a.ino, undefined);
    const b = rr(su.px(0o40755, { ino: 77 }));
    assert.equal(b.ino, 77);
    assert.equal(b.present, true);
  });

  it('reports truncated fixed-size entries', () => {
    const p = problem(rrResult(suEntry('PX', Buffer.alloc(10))), 'RB_ERR_ISO_FORMAT', /Rock Ridge PX entry has 10 data bytes, expected at least 32$/);
    assert.deepEqual(p.details, { sig: 'PX' });
    problem(rrResult(suEntry('PN', Buffer.alloc(15))), 'RB_ERR_ISO_FORMAT', /PN entry has 15 data bytes, expected at least 16/);
    problem(rrResult(suEntry('NM', Buffer.alloc(0))), 'RB_ERR_ISO_FORMAT', /NM entry has 0 data bytes, expected at least 1/);
    problem(rrResult(suEntry('CL', Buffer.alloc(4))), 'RB_ERR_ISO_FORMAT', /CL entry has 4 data bytes, expected at least 8/);
    problem(rrResult(suEntry('ZF', Buffer.alloc(11))), 'RB_ERR_ISO_FORMAT', /ZF entry has 11 data bytes, expected at least 12/);
  });

  it('NM: CONTINUE concatenates, CURRENT/PARENT are flagged, HOST is ignored, UTF-8 decoded', () => {
    assert.equal(rr(su.nm('très-', 1), su.nm('long', 0)).name, 'très-long');
    assert.equal(rr(su.nm('', 2)).nameSpecial, 'current');
    assert.equal(rr(su.nm('', 4)).nameSpecial, 'parent');
    assert.equal(rr(su.nm('host', 0x20), su.nm('real')).name, 'real');
    assert.equal(rr(su.nm(Buffer.from([0x66, 0xe9]))).name, 'fé', 'invalid UTF-8 falls back to Latin-1');
    assert.equal(decodeRrBytes(Buffer.from('😀', 'utf8')), '😀');
  });

  it('SL: absolute, relative, parent/current components', () => {
    assert.equal(rr(su.slPath('/etc/passwd')).symlinkTarget, '/etc/passwd');
    assert.equal(rr(su.slPath('../lib/./x')).symlinkTarget, '../lib/./x');
    assert.equal(rr(su.slPath('/')).symlinkTarget, '/');
    assert.equal(rr(su.slPath('dangling')).symlinkTarget, 'dangling');
  });

  it('SL: a component continued across components and across SL entries', () => {
    const info = rr(
      su.sl([
        [0x08, ''],
        [0, 'usr'],
        [0x01, 'sha'],
      ], 1),
      su.sl([
        [0x01, 're/'.slice(0, 2)],
        [0, 'd'],
        [0, 'lib'],
      ]),
    );
    assert.equal(info.symlinkTarget, '/usr/shared/lib');
  });

  it('SL: rejects a component running past its entry', () => {
    const bad = su.sl([[0, 'abc']]);
    bad[6] = 50; // component length
    const p = problem(rrResult(bad), 'RB_ERR_ISO_FORMAT', /Rock Ridge SL component of 50 bytes runs past its entry/);
    assert.deepEqual(p.details, { componentLength: 50 });
  });

  it('TF: short and long forms pick the modify time', () => {
    const created = new Date(Date.UTC(2001, 0, 1));
    const modified = new Date(Date.UTC(2022, 6, 4, 10, 20, 30));
    assert.equal(rr(su.tf(0x01 | 0x02 | 0x04, [shortDate(created), shortDate(modified, 4), shortDate(created)])).mtime!.toISOString(), modified.toISOString());
    const long = (s: string) => Buffer.concat([Buffer.from(s), Buffer.from([0])]);
    assert.equal(rr(su.tf(0x80 | 0x02 | 0x04, [long('2022070410203000'), long('2023010100000000')])).mtime!.toISOString(), modified.toISOString());
    problem(rrResult(su.tf(0x02 | 0x04, [shortDate(modified)])), 'RB_ERR_ISO_FORMAT', /Rock Ridge TF entry is too short for its flags 0x6/);
  });

  it('CL / PL / RE relocation entries', () => {
    assert.equal(rr(su.cl(321)).childLink, 321);
    assert.equal(rr(su.pl(12)).parentLink, 12);
    assert.equal(rr(su.re()).relocated, true);
    assert.equal(rr(su.nm('x')).relocated, false);
  });

  it('ZF and SF are detected; ER ids are collected; PN gives device numbers', () => {
    const z = rr(su.zf(100000));
    assert.deepEqual(z.zisofs, { algorithm: 'pz', headerSize: 4, blockSizeLog2: 15, uncompressedSize: 100000 });
    assert.equal(rr(suEntry('SF', Buffer.alloc(21))).sparse, true);
    const er = rr(su.er('IEEE_P1282'));
    assert.deepEqual(er.extensions, ['IEEE_P1282']);
    assert.equal(er.present, false, 'ER alone is SUSP, not an RR field');
    const pn = rr(suEntry('PN', Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 0, 0, 0]), Buffer.from([3, 0, 0, 0, 0, 0, 0, 3])])));
    assert.deepEqual(pn.device, { high: 0, low: 3 });
  });
});
