import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseDirectoryExtent, parseDirectoryRecord, plainName, decodeShortDate, decodeLongDate, type DirRecord } from '../../src/iso9660/record.js';
import { parseVolumeDescriptor, checkPrimary, type VolumeDescriptor } from '../../src/iso9660/descriptors.js';
import type { IsoProblem, IsoResult, Where } from '../../src/iso9660/fail.js';
import { dirRecord, packRecords, shortDate, buildIso, SECTOR } from '../helpers/iso-synth.js';
import { problem as isoProblem, value } from '../helpers/iso-results.js';

const where = { image: 'unit.iso', record: 'directory "/x"', lba: 30 };

const problem = (r: IsoResult<unknown>, code: string, re: RegExp): IsoProblem => isoProblem(r, code, re, 'unit.iso: ');

const record = (buf: Buffer, off: number, limit: number, w: Where): DirRecord => value(parseDirectoryRecord(buf, off, limit, w));
const descriptor = (sector: Buffer, w: Where): VolumeDescriptor => value(parseVolumeDescriptor(sector, w));

describe('directory record parsing', () => {
  it('reads fields from the little-endian half of both-endian fields', () => {
    const rec = dirRecord({ name: Buffer.from('VMLINUZ.;1'), lba: 1234, size: 56789, flags: 0x80 });
    // Corrupt the big-endian halves: readers must not care.
    rec.writeUInt32BE(0xdeadbeef, 6);
    rec.writeUInt32BE(0xdeadbeef, 14);
    const r = record(rec, 0, rec.length, where);
    assert.equal(r.lba, 1234);
    assert.equal(r.dataLength, 56789);
    assert.equal(r.flags, 0x80);
    assert.equal(r.identifier.toString(), 'VMLINUZ.;1');
    assert.equal(r.special, undefined);
    assert.equal(r.length, rec.length);
  });

  it('finds the System Use area after the padding byte of even-length names', () => {
    const su = Buffer.from('XYZW');
    const even = record(dirRecord({ name: Buffer.from('AB'), lba: 1, size: 1, su }), 0, 255, where);
    const odd = record(dirRecord({ name: Buffer.from('ABC'), lba: 1, size: 1, su }), 0, 255, where);
    assert.equal(even.systemUse.subarray(0, 4).toString(), 'XYZW');
    assert.equal(odd.systemUse.subarray(0, 4).toString(), 'XYZW');
  });

  it('recognises "." and ".." by their identifier bytes', () => {
    const dot = record(dirRecord({ name: Buffer.from([0]), lba: 5, size: 2048, flags: 2 }), 0, 255, where);
    const dotdot = record(dirRecord({ name: Buffer.from([1]), lba: 5, size: 2048, flags: 2 }), 0, 255, where);
    assert.equal(dot.special, 'self');
    assert.equal(dotdot.special, 'parent');
  });

  it('skips to the next sector on a zero length byte', () => {
    const recs = [dirRecord({ name: Buffer.from('A'), lba: 20, size: 1 })];
    // Fill the first sector so the next record must start in sector 2.
    for (let i = 0; i < 60; i++) recs.push(dirRecord({ name: Buffer.from(`F${String(i).padStart(4, '0')}.TXT;1`), lba: 21 + i, size: i }));
    const buf = packRecords(recs);
    assert.ok(buf.length > SECTOR, 'fixture spans two sectors');
    const parsed = value(parseDirectoryExtent(buf, where));
    assert.equal(parsed.length, 61);
    assert.equal(parsed[60]!.dataLength, 59);
    assert.ok(parsed.some((r) => r.offset === SECTOR), 'a record starts exactly at the sector boundary');
  });

  it('rejects records that cross a sector boundary', () => {
    const buf = Buffer.alloc(SECTOR + 100);
    buf[SECTOR - 10] = 60; // a 60-byte record starting 10 bytes before the boundary
    buf[SECTOR - 10 + 32] = 1;
    problem(parseDirectoryRecord(buf, SECTOR - 10, SECTOR, where), 'RB_ERR_ISO_FORMAT', /crosses a sector boundary/);
    // Same through the extent walker: a record at SECTOR-10 must be preceded by real records.
    const ext = Buffer.alloc(2 * SECTOR);
    let off = 0;
    const filler = dirRecord({ name: Buffer.from('F'.repeat(17)), lba: 1, size: 0 });
    while (off + filler.length <= SECTOR - 40) {
      filler.copy(ext, off);
      off += filler.length;
    }
    ext[off] = SECTOR - off + 2; // claims 2 bytes more than the sector has left
    ext[off + 32] = 1;
    problem(parseDirectoryExtent(ext, where), 'RB_ERR_ISO_FORMAT', /crosses a sector boundary/);
  });

  it('rejects short records and identifiers longer than the record, never with a RangeError', () => {
    problem(parseDirectoryRecord(Buffer.from([20, ...Buffer.alloc(40)]), 0, 2048, where), 'RB_ERR_ISO_FORMAT', /shorter than the minimum/);
    const rec = dirRecord({ name: Buffer.from('NAME'), lba: 1, size: 1 });
    rec[32] = 200;
    problem(parseDirectoryRecord(rec, 0, 2048, where), 'RB_ERR_ISO_FORMAT', /identifier length 200/);
    // Record running past the end of the buffer.
    const cut = dirRecord({ name: Buffer.from('NAME'), lba: 1, size: 1 }).subarray(0, 30);
    problem(parseDirectoryRecord(cut, 0, 2048, where), 'RB_ERR_ISO_FORMAT', /crosses a sector boundary or the end/);
    problem(parseDirectoryRecord(cut, 30, 2048, where), 'RB_ERR_ISO_FORMAT', /starts outside its extent/);
  });

  it('names the image, record, LBA and offset in errors', () => {
    const buf = Buffer.alloc(SECTOR);
    dirRecord({ name: Buffer.from('OK'), lba: 1, size: 1 }).copy(buf, 0);
    const first = buf[0]!;
    buf[first] = 10; // garbage record right after the first one
    const p = problem(parseDirectoryExtent(buf, where), 'RB_ERR_ISO_FORMAT', /length 10 is shorter than the minimum 34/);
    assert.equal(p.message, `unit.iso: directory "/x" at LBA 30 offset 0x${first.toString(16)}: directory record length 10 is shorter than the minimum 34`);
    assert.deepEqual(p.where, { ...where, offset: first });
    assert.deepEqual(p.details, { recordLength: 10 });
  });
});

describe('ISO9660 names and dates', () => {
  it('strips ";1" versions and the trailing dot of extension-less names, keeping case', () => {
    assert.equal(plainName(Buffer.from('ISOLINUX.CFG;1')), 'ISOLINUX.CFG');
    assert.equal(plainName(Buffer.from('README.;1')), 'README');
    assert.equal(plainName(Buffer.from('README.')), 'README');
    assert.equal(plainName(Buffer.from('DIR')), 'DIR');
    assert.equal(plainName(Buffer.from('A;B')), 'A;B');
    assert.equal(plainName(Buffer.from('..')), '.');
  });

  it('decodes 7-byte dates with their GMT offset', () => {
    const d = new Date(Date.UTC(2023, 5, 15, 12, 30, 45));
    assert.equal(decodeShortDate(shortDate(d, 0), 0).toISOString(), d.toISOString());
    // Same instant written in UTC+02:00 (8 quarter hours) and UTC-05:00.
    assert.equal(decodeShortDate(shortDate(d, 8), 0).toISOString(), d.toISOString());
    assert.equal(decodeShortDate(shortDate(d, -20), 0).toISOString(), d.toISOString());
    assert.equal(decodeShortDate(Buffer.alloc(7), 0).getTime(), 0, 'all-zero date is the epoch, not NaN');
    assert.equal(decodeShortDate(Buffer.alloc(3), 0).getTime(), 0, 'short buffer is the epoch');
  });

  it('decodes 17-byte dates', () => {
    const b = Buffer.concat([Buffer.from('2024010203040599'), Buffer.from([4])]); // UTC+1
    assert.equal(decodeLongDate(b, 0)!.toISOString(), '2024-01-02T02:04:05.990Z');
    assert.equal(decodeLongDate(Buffer.concat([Buffer.from('0000000000000000'), Buffer.from([0])]), 0), undefined);
    assert.equal(decodeLongDate(Buffer.from('garbage'), 0), undefined);
  });
});

describe('volume descriptors', () => {
  it('classifies PVD, Joliet SVD, boot record and terminator', () => {
    const { image } = buildIso({ root: [{ name: 'A.TXT;1', data: Buffer.from('a') }], joliet: [{ name: 'a.txt', data: Buffer.from('a') }], bootCatalog: Buffer.alloc(SECTOR), volumeId: 'VOL_ONE' });
    const w = { image: 'unit.iso', record: 'vd' };
    const kinds = [16, 17, 18, 19].map((lba) => descriptor(image.subarray(lba * SECTOR, (lba + 1) * SECTOR), w));
    assert.deepEqual(
      kinds.map((k) => k.kind),
      ['primary', 'joliet', 'boot', 'terminator'],
    );
    const pvd = kinds[0]!;
    assert.ok(pvd.kind === 'primary');
    assert.equal(pvd.info.volumeId, 'VOL_ONE');
    assert.equal(pvd.info.blockSize, 2048);
    assert.equal(pvd.info.volumeBlocks, image.length / SECTOR);
    const svd = kinds[1]!;
    assert.ok(svd.kind === 'joliet');
    assert.equal(svd.level, 3);
    assert.equal(svd.info.volumeId, 'VOL_ONE');
    const br = kinds[2]!;
    assert.ok(br.kind === 'boot' && br.elTorito);
  });

  it('reports UDF recognition sequence sectors as foreign', () => {
    const s = Buffer.alloc(SECTOR);
    s.write('BEA01', 1, 'latin1');
    assert.deepEqual(descriptor(s, { image: 'u.iso', record: 'vd' }), { kind: 'foreign', ident: 'BEA01' });
  });

  it('reports short sectors, bad root records and unusable PVDs as problems', () => {
    const w = { image: 'unit.iso', record: 'volume descriptor', lba: 16 };
    problem(parseVolumeDescriptor(Buffer.alloc(100), w), 'RB_ERR_ISO_FORMAT', /^unit\.iso: volume descriptor at LBA 16: volume descriptor is 100 bytes, expected 2048$/);
    const { image } = buildIso({ root: [{ name: 'A.TXT;1', data: Buffer.from('a') }] });
    const pvd = Buffer.from(image.subarray(16 * SECTOR, 17 * SECTOR));
    pvd[156] = 40; // root record claims 40 bytes: it would spill into the volume set id
    problem(parseVolumeDescriptor(pvd, w), 'RB_ERR_ISO_FORMAT', /^unit\.iso: primary volume descriptor root directory record at LBA 16 offset 0x9c: directory record of 40 bytes crosses/);
    const good = descriptor(image.subarray(16 * SECTOR, 17 * SECTOR), w);
    assert.ok(good.kind === 'primary');
    assert.equal(value(checkPrimary(good.info, w)), good.info);
    const p = problem(checkPrimary({ ...good.info, blockSize: 512 }, w), 'RB_ERR_ISO_UNSUPPORTED', /logical block size 512 is not supported/);
    assert.deepEqual(p.details, { blockSize: 512 });
    problem(checkPrimary({ ...good.info, volumeBlocks: 16 }, w), 'RB_ERR_ISO_FORMAT', /volume space size 16 blocks is too small/);
    problem(checkPrimary({ ...good.info, root: { ...good.info.root, flags: 0 } }, w), 'RB_ERR_ISO_FORMAT', /root directory record is not flagged as a directory/);
  });
});
