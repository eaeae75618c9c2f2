/**
 * Every ISO9660 parser, fed truncated, bit-flipped and random bytes, returns a result and never
 * throws: `{ ok: true, value }`, or `{ ok: false, problem }` with an RB_ERR_ISO_* code and a message
 * that names the image. Seeds are valid structures (so mutations reach deep into the parsers) and
 * the PRNG is seeded, so a failure names an input that reproduces.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IsoResult, Where } from '../../src/iso9660/fail.js';
import { ok, fail } from '../../src/iso9660/fail.js';
import { parseVolumeDescriptor, checkPrimary } from '../../src/iso9660/descriptors.js';
import { parseDirectoryRecord, parseDirectoryExtent, plainName, decodeShortDate, decodeLongDate, type DirRecord } from '../../src/iso9660/record.js';
import { splitSuspArea, collectSuspEntries, parseSp, type SuspEntry } from '../../src/iso9660/susp.js';
import { parseRockRidge, decodeRrBytes, type RockRidgeInfo } from '../../src/iso9660/rockridge.js';
import { decodeUtf16be, jolietName, jolietText, jolietLevel, utf16beText } from '../../src/iso9660/joliet.js';
import { parseBootCatalog, checkValidationEntry, catalogNeedsMore } from '../../src/iso9660/eltorito.js';
import { checkExtent, checkDirExtent, childName } from '../../src/iso9660/tree.js';
import { buildIso, dirRecord, packRecords, rrRoot, rrFile, su, suEntry, shortDate, utf16be, bootCatalog, SECTOR } from '../helpers/iso-synth.js';

const where: Where = { image: 'fuzz.iso', record: 'fuzz record', lba: 1, offset: 0 };
const ROUNDS = 400;

/** mulberry32: small, seeded, good enough to spread mutations. */
function prng(seed: number): (k: number) => number {
  let a = seed >>> 0;
  return (k) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) % k) >>> 0;
  };
}

function hex(b: Buffer): string {
  return `${b.length} bytes: ${b.subarray(0, 96).toString('hex')}${b.length > 96 ? '…' : ''}`;
}

/** A well-formed result: a value, or a located RB_ERR_ISO_* problem. */
function assertResult(r: unknown, label: string): asserts r is IsoResult<unknown> {
  const res = r as IsoResult<unknown> | undefined;
  assert.ok(res !== null && typeof res === 'object' && typeof res.ok === 'boolean', `${label}: not a result: ${String(r)}`);
  if (res.ok) {
    assert.ok('value' in res, `${label}: ok result without a value`);
    return;
  }
  assert.match(res.problem.code, /^RB_ERR_ISO_(FORMAT|HOSTILE|UNSUPPORTED)$/, label);
  assert.ok(res.problem.message.startsWith('fuzz.iso: '), `${label}: ${res.problem.message}`);
  assert.ok(res.problem.message.endsWith(res.problem.text), `${label}: ${res.problem.message}`);
}

/** Calls a parser; a throw of any kind fails the test with the input that caused it. */
function total<T>(label: string, input: Buffer, call: () => T): T {
  try {
    return call();
  } catch (err) {
    assert.fail(`${label} threw on ${hex(input)}: ${(err as Error)?.stack ?? String(err)}`);
  }
}

function parsed<T>(label: string, input: Buffer, call: () => IsoResult<T>): T | undefined {
  const r = total(label, input, call);
  assertResult(r, `${label} on ${hex(input)}`);
  return r.ok ? (r.value as T) : undefined;
}

/** Variants of a seed: every kind of damage a hostile or broken image can carry. */
function mutate(seed: Buffer, rnd: (k: number) => number): Buffer {
  switch (rnd(6)) {
    case 0:
      return Buffer.from(seed.subarray(0, rnd(seed.length + 1)));
    case 1:
    case 2: {
      const b = Buffer.from(seed);
      const flips = 1 + rnd(8);
      for (let i = 0; i < flips && b.length > 0; i++) b[rnd(b.length)] = rnd(256);
      return b;
    }
    case 3: {
      const b = Buffer.from(seed);
      if (b.length > 0) b.fill(rnd(2) === 0 ? 0xff : 0, rnd(b.length));
      return b;
    }
    case 4:
      return Buffer.concat([seed.subarray(rnd(seed.length + 1)), Buffer.from(Array.from({ length: rnd(64) }, () => rnd(256)))]);
    default:
      return Buffer.from(Array.from({ length: rnd(2 * SECTOR + 1) }, () => rnd(256)));
  }
}

/** Every prefix and a sample of mutations of each seed. */
function* inputs(seeds: Buffer[], seed: number): Generator<Buffer> {
  const rnd = prng(seed);
  for (const s of seeds) {
    const step = Math.max(1, Math.floor(s.length / 256));
    for (let n = 0; n <= s.length; n += step) yield s.subarray(0, n);
    for (let i = 0; i < ROUNDS; i++) yield mutate(s, rnd);
  }
  yield Buffer.alloc(0);
}

const { image } = buildIso({
  root: [{ name: 'A.TXT;1', data: Buffer.from('a') }],
  joliet: [{ name: 'a.txt', data: Buffer.from('a') }],
  bootCatalog: Buffer.alloc(SECTOR),
  volumeId: 'FUZZ',
});
const descriptorSeeds = [16, 17, 18, 19].map((lba) => image.subarray(lba * SECTOR, (lba + 1) * SECTOR));

const suspSeeds = [
  Buffer.concat([rrRoot(), su.ce(30, 0, 40)]),
  rrFile('name', 0o100644, [su.tf(0x80 | 0x02, [Buffer.concat([Buffer.from('2022070410203000'), Buffer.from([4])])]), su.zf(100)]),
  Buffer.concat([su.px(0o120777, { ino: 5 }), su.sl([[0x08, ''], [0x01, 'us'], [0, 'r'], [0x04, ''], [0, 'lib']], 1), su.sl([[0, 'x']]), su.nm('a', 1), su.nm('b')]),
  Buffer.concat([su.cl(40), su.pl(41), su.re(), suEntry('PN', Buffer.alloc(16)), suEntry('SF', Buffer.alloc(21)), su.tf(0x01 | 0x02 | 0x04, [shortDate(), shortDate(), shortDate()]), su.st()]),
];

const recordSeeds = [
  packRecords([
    dirRecord({ name: Buffer.from([0]), lba: 20, size: SECTOR, flags: 2, su: rrRoot() }),
    dirRecord({ name: Buffer.from([1]), lba: 20, size: SECTOR, flags: 2 }),
    dirRecord({ name: Buffer.from('VMLINUZ.;1'), lba: 21, size: 5000, su: rrFile('vmlinuz') }),
    dirRecord({ name: Buffer.from('BIG;1'), lba: 30, size: 100, flags: 0x80 }),
    dirRecord({ name: Buffer.from('BIG;1'), lba: 31, size: 100 }),
    dirRecord({ name: utf16be('ünï.txt;1'), lba: 22, size: 1 }),
    dirRecord({ name: Buffer.from('LINK'), lba: 0, size: 0, su: Buffer.concat([su.px(0o120777), su.nm('link'), su.slPath('../x')]) }),
  ]),
];

const catalogSeeds = [
  bootCatalog(0, { lba: 100, media: 2, loadSegment: 0x7c0, sectorCount: 1 }, [
    { platform: 0xef, entries: [{ lba: 200, sectorCount: 2880 }, { lba: 210, bootable: false, media: 4 }], extensionAfterFirst: true },
    { platform: 1, entries: [{ lba: 300, media: 3 }] },
  ]),
  bootCatalog(0, { lba: 754 }),
];

/** Mutations almost always break the validation checksum; repairing it lets them reach the entries. */
function fixChecksum(b: Buffer): Buffer {
  if (b.length < 32) return b;
  const c = Buffer.from(b);
  c.writeUInt16LE(0, 28);
  let sum = 0;
  for (let i = 0; i < 32; i += 2) sum = (sum + c.readUInt16LE(i)) & 0xffff;
  c.writeUInt16LE((0x10000 - sum) & 0xffff, 28);
  return c;
}

/** Random SUSP entries with Rock Ridge signatures: random framing rarely produces them. */
function randomEntries(rnd: (k: number) => number): SuspEntry[] {
  const sigs = ['PX', 'PN', 'SL', 'NM', 'CL', 'PL', 'RE', 'TF', 'SF', 'ZF', 'RR', 'ER', 'XA'];
  return Array.from({ length: 1 + rnd(6) }, () => ({
    sig: sigs[rnd(sigs.length)]!,
    version: 1,
    data: Buffer.from(Array.from({ length: rnd(48) }, () => rnd(256))),
  }));
}

describe('ISO9660 parsers on hostile bytes: a result, never a throw', () => {
  it('volume descriptors (and the PVD checks)', () => {
    for (const b of inputs(descriptorSeeds, 1)) {
      const vd = parsed('parseVolumeDescriptor', b, () => parseVolumeDescriptor(b, where));
      if (vd?.kind === 'primary') parsed('checkPrimary', b, () => checkPrimary(vd.info, where));
    }
  });

  it('directory records and extents (and the names and extents the walker derives from them)', () => {
    const rnd = prng(2);
    for (const b of inputs(recordSeeds, 2)) {
      const off = rnd(b.length + 40);
      const limit = rnd(b.length + 40);
      const rec = parsed('parseDirectoryRecord', b, () => parseDirectoryRecord(b, off, limit, where));
      total('dates', b, () => [decodeShortDate(b, off), decodeLongDate(b, off), plainName(b)]);
      const records = parsed('parseDirectoryExtent', b, () => parseDirectoryExtent(b, where)) ?? [];
      for (const r of rec ? [rec, ...records] : records) exerciseRecord(r, rnd);
    }
  });

  it('SUSP areas, continuation chains and Rock Ridge entries', async () => {
    const rnd = prng(3);
    for (const b of inputs(suspSeeds, 3)) {
      total('parseSp', b, () => parseSp(b));
      const area = parsed('splitSuspArea', b, () => splitSuspArea(b, where));
      if (area) parsed('parseRockRidge', b, () => parseRockRidge(area.entries, where));
      // Continuation areas come from the same hostile bytes; sometimes the reader refuses.
      const reader = async (ref: { offset: number; length: number }): Promise<IsoResult<Buffer>> =>
        rnd(8) === 0 ? fail('RB_ERR_ISO_HOSTILE', where, 'refused') : ok(mutate(b.subarray(Math.min(ref.offset, b.length)), rnd));
      let r: unknown;
      try {
        r = await collectSuspEntries(b, where, reader);
      } catch (err) {
        assert.fail(`collectSuspEntries threw on ${hex(b)}: ${(err as Error)?.stack ?? String(err)}`);
      }
      assertResult(r, `collectSuspEntries on ${hex(b)}`);
      if (r.ok) parsed('parseRockRidge', b, () => parseRockRidge(r.value as SuspEntry[], where));
    }
    for (let i = 0; i < 20 * ROUNDS; i++) {
      const entries = randomEntries(rnd);
      const b = Buffer.concat(entries.map((e) => Buffer.concat([Buffer.from(e.sig), e.data])));
      parsed('parseRockRidge', b, () => parseRockRidge(entries, where));
      total('decodeRrBytes', b, () => decodeRrBytes(b));
    }
  });

  it('Joliet identifiers and text fields', () => {
    for (const b of inputs([utf16be('isolinux.cfg;1'), Buffer.from([0xd8, 0x3d, 0xde, 0x00, 0xdc, 0x00, 0xd8, 0x00])], 4)) {
      parsed('decodeUtf16be', b, () => decodeUtf16be(b, where));
      parsed('jolietName', b, () => jolietName(b, where));
      total('joliet text', b, () => [jolietText(b), utf16beText(b), jolietLevel(b)]);
    }
  });

  it('El Torito boot catalogs', () => {
    const rnd = prng(5);
    for (const m of inputs(catalogSeeds, 5)) {
      for (const b of [m, fixChecksum(m)]) {
        parsed('checkValidationEntry', b, () => checkValidationEntry(b, where));
        parsed('parseBootCatalog', b, () => parseBootCatalog(b, where));
        total('catalogNeedsMore', b, () => catalogNeedsMore(b));
      }
    }
    // Section headers announcing many entries, with and without the room for them.
    for (let i = 0; i < ROUNDS; i++) {
      const b = fixChecksum(Buffer.concat([catalogSeeds[1]!.subarray(0, 64), Buffer.from(Array.from({ length: rnd(40) * 32 }, () => [0x90, 0x91, 0x44, 0x88, 0, rnd(256)][rnd(6)]!))]));
      parsed('parseBootCatalog', b, () => parseBootCatalog(b, where));
    }
  });
});

/** The walker's pure decisions about one parsed record, in every naming. */
function exerciseRecord(rec: DirRecord, rnd: (k: number) => number): void {
  const input = Buffer.concat([rec.identifier, rec.systemUse]);
  const volumeBlocks = rnd(2) === 0 ? rnd(64) : 0xffffffff;
  parsed('checkExtent', input, () => checkExtent(volumeBlocks, rec.lba + rec.extAttrLength, rec.dataLength, where, 'file'));
  parsed('checkDirExtent', input, () => checkDirExtent(volumeBlocks, rec.lba + rec.extAttrLength, rec.dataLength, where));
  const area = parsed('splitSuspArea', input, () => splitSuspArea(rec.systemUse.subarray(Math.min(rnd(16), rec.systemUse.length)), where));
  const info: RockRidgeInfo | undefined = area && parsed('parseRockRidge', input, () => parseRockRidge(area.entries, where));
  for (const naming of ['rockridge', 'joliet', 'iso9660'] as const) {
    parsed(`childName(${naming})`, input, () => childName(naming, rec, naming === 'rockridge' ? info : undefined, where));
  }
}
