import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isRhevbootError } from '../../src/errors.js';
import { parseDirectoryExtent, parseDirectoryRecord, plainName, decodeShortDate, decodeLongDate } from '../../src/iso9660/record.js';
import { parseVolumeDescriptor } from '../../src/iso9660/descriptors.js';
import { dirRecord, packRecords, shortDate, buildIso, SECTOR } from '../helpers/iso-synth.js';

const where = { image: 'unit.iso', record: 'directory "/x"', lba: 30 };

function throwsIso(fn: () => unknown, code: string, re: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isRhevbootError(err), `expected RhevbootError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, re);
    assert.match(err.message, /^unit\.iso: /);
    return true;
  });
}

describe('directory record parsing', () => {
  it('reads fields from the little-endian half of both-endian fields', () => {
    const rec = dirRecord({ name: Buffer.from('VMLINUZ.;1'), lba: 1234, size: 56789, flags: 0x80 });
    // Corrupt the big-endian halves: readers must not care.
    rec.writeUInt32BE(0xdeadbeef, 6);
    rec.writeUInt32BE(0xdeadbeef, 14);
    const r = parseDirectoryRecord(rec, 0, rec.length, where);
    assert.equal(r.lba, 1234);
    assert.equal(r.dataLength, 56789);
    assert.equal(r.flags, 0x80);
    assert.equal(r.identifier.toString(), 'VMLINUZ.;1');
    assert.equal(r.special, undefined);
    assert.equal(r.length, rec.length);
  });

  it('finds the System Use area after the padding byte of even-length names', () => {
    const su = Buffer.from('XYZW');
    const even = parseDirectoryRecord(dirRecord({ name: Buffer.from('AB'), lba: 1, size: 1, su }), 0, 255, where);
    const odd = parseDirectoryRecord(dirRecord({ name: Buffer.from('ABC'), lba: 1, size: 1, su }), 0, 255, where);
    assert.equal(even.systemUse.subarray(0, 4).toString(), 'XYZW');
    assert.equal(odd.systemUse.subarray(0, 4).toString(), 'XYZW');
  });

  it('recognises "." and ".." by their identifier bytes', () => {
    const dot = parseDirectoryRecord(dirRecord({ name: Buffer.from([0]), lba: 5, size: 2048, flags: 2 }), 0, 255, where);
    const dotdot = parseDirectoryRecord(dirRecord({ name: Buffer.from([1]), lba: 5, size: 2048, flags: 2 }), 0, 255, where);
    assert.equal(dot.special, 'self');
    assert.equal(dotdot.special, 'parent');
  });

  it('skips to the next sector on a zero length byte', () => {
    const recs = [dirRecord({ name: Buffer.from('A'), lba: 20, size: 1 })];
    // Fill the first sector so the next record must start in sector 2.
    for (let i = 0; i < 60; i++) recs.push(dirRecord({ name: Buffer.from(`F${String(i).padStart(4, '0')}.TXT;1`), lba: 21 + i, size: i }));
    const buf = packRecords(recs);
    assert.ok(buf.length > SECTOR, 'fixture spans two sectors');
    const parsed = parseDirectoryExtent(buf, where);
    assert.equal(parsed.length, 61);
    assert.equal(parsed[60]!.dataLength, 59);
    assert.ok(parsed.some((r) => r.offset === SECTOR), 'a record starts exactly at the sector boundary');
  });

  it('rejects records that cross a sector boundary', () => {
    const buf = Buffer.alloc(SECTOR + 100);
    buf[SECTOR - 10] = 60; // a 60-byte record starting 10 bytes before the boundary
    buf[SECTOR - 10 + 32] = 1;
    throwsIso(() => parseDirectoryRecord(buf, SECTOR - 10, SECTOR, where), 'RB_ERR_ISO_FORMAT', /crosses a sector boundary/);
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
    throwsIso(() => parseDirectoryExtent(ext, where), 'RB_ERR_ISO_FORMAT', /crosses a sector boundary/);
  });

  it('rejects short records and identifiers longer than the record, never with a RangeError', () => {
    throwsIso(() => parseDirectoryRecord(Buffer.from([20, ...Buffer.alloc(40)]), 0, 2048, where), 'RB_ERR_ISO_FORMAT', /shorter than the minimum/);
    const rec = dirRecord({ name: Buffer.from('NAME'), lba: 1, size: 1 });
    rec[32] = 200;
    throwsIso(() => parseDirectoryRecord(rec, 0, 2048, where), 'RB_ERR_ISO_FORMAT', /identifier length 200/);
    // Record running past the end of the buffer.
    const cut = dirRecord({ name: Buffer.from('NAME'), lba: 1, size: 1 }).subarray(0, 30);
    throwsIso(() => parseDirectoryRecord(cut, 0, 2048, where), 'RB_ERR_ISO_FORMAT', /crosses a sector boundary or the end/);
  });

  it('names the image, record, LBA and offset in errors', () => {
    const buf = Buffer.alloc(SECTOR);
    dirRecord({ name: Buffer.from('OK'), lba: 1, size: 1 }).copy(buf, 0);
    const first = buf[0]!;
    buf[first] = 10; // garbage record right after the first one
    try {
      parseDirectoryExtent(buf, where);
      assert.fail('should throw');
    } catch (err) {
      assert.ok(isRhevbootError(err, 'RB_ERR_ISO_FORMAT'));
      assert.equal(err.message.startsWith(`unit.iso: directory "/x" at LBA 30 offset 0x${first.toString(16)}: `), true, err.message);
      assert.equal(err.details.offset, first);
    }
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
    const kinds = [16, 17, 18, 19].map((lba) => parseVolumeDescriptor(image.subarray(lba * SECTOR, (lba + 1) * SECTOR), w));
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
    assert.deepEqual(parseVolumeDescriptor(s, { image: 'u.iso', record: 'vd' }), { kind: 'foreign', ident: 'BEA01' });
  });
});
