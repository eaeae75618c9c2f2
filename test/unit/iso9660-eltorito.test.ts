import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseBootCatalog, checkValidationEntry, catalogNeedsMore, platformName } from '../../src/iso9660/eltorito.js';
import type { IsoResult } from '../../src/iso9660/fail.js';
import { bootCatalog, validationEntry } from '../helpers/iso-synth.js';
import { value } from '../helpers/iso-results.js';

const where = { image: 'boot.iso', record: 'El Torito boot catalog', lba: 33 };

function rejects(b: Buffer, re: RegExp): void {
  const r = parseBootCatalog(b, where);
  assert.ok(!r.ok, 'expected a problem');
  assert.equal(r.problem.code, 'RB_ERR_ISO_FORMAT');
  assert.match(r.problem.message, re);
  assert.ok(r.problem.message.startsWith('boot.iso: El Torito boot catalog'), r.problem.message);
}

describe('El Torito boot catalog', () => {
  it('validation entry: checksum makes the words sum to zero, key bytes 55 AA', () => {
    assert.equal(value(checkValidationEntry(validationEntry(0, 'RHEVBOOT'), where)), 0);
    assert.equal(value(checkValidationEntry(validationEntry(0xef), where)), 0xef);
    const bad = validationEntry(0);
    bad[4] = 0x41; // id byte changed, checksum not updated
    rejects(Buffer.concat([bad, Buffer.alloc(32)]), /checksum is wrong/);
    const nokey = validationEntry(0);
    nokey[31] = 0;
    rejects(Buffer.concat([nokey, Buffer.alloc(32)]), /55 AA/);
    const hdr = validationEntry(0);
    hdr[0] = 2;
    rejects(Buffer.concat([hdr, Buffer.alloc(32)]), /header id is 0x2/);
    rejects(Buffer.alloc(10), /shorter than one entry/);
    rejects(validationEntry(0), /has no default entry/);
  });

  it('default entry only (isolinux style)', () => {
    const cat = bootCatalog(0, { lba: 754, sectorCount: 4, loadSegment: 0 });
    assert.deepEqual(value(parseBootCatalog(cat, where)), [{ platform: 'bios', bootable: true, mediaType: 'no-emulation', loadSegment: 0, sectorCount: 4, lba: 754 }]);
  });

  it('section headers 0x90/0x91 with UEFI and PowerPC entries, skipping extension entries', () => {
    const cat = bootCatalog(0, { lba: 100, media: 2, loadSegment: 0x7c0, sectorCount: 1 }, [
      { platform: 0xef, entries: [{ lba: 200, sectorCount: 2880 }, { lba: 210, bootable: false, media: 4 }], extensionAfterFirst: true },
      { platform: 1, entries: [{ lba: 300, media: 3 }] },
    ]);
    assert.equal(cat[64], 0x90);
    assert.deepEqual(value(parseBootCatalog(cat, where)), [
      { platform: 'bios', bootable: true, mediaType: '1.44M', loadSegment: 0x7c0, sectorCount: 1, lba: 100 },
      { platform: 'uefi', bootable: true, mediaType: 'no-emulation', loadSegment: 0, sectorCount: 2880, lba: 200 },
      { platform: 'uefi', bootable: false, mediaType: 'hdd', loadSegment: 0, sectorCount: 4, lba: 210 },
      { platform: 'ppc', bootable: true, mediaType: '2.88M', loadSegment: 0, sectorCount: 4, lba: 300 },
    ]);
  });

  it('media types and platform ids', () => {
    assert.equal(value(parseBootCatalog(bootCatalog(0, { lba: 1, media: 1 }), where))[0]!.mediaType, '1.2M');
    assert.equal(platformName(2), 'mac');
    assert.equal(platformName(0x42), 0x42);
    rejects(bootCatalog(0, { lba: 1, media: 7 }), /media type 7 is undefined/);
    const badIndicator = bootCatalog(0, { lba: 1 });
    badIndicator[32] = 0x42;
    rejects(badIndicator, /^boot\.iso: El Torito boot catalog default entry at LBA 33 offset 0x20: boot entry indicator 0x42 is neither 0x88 nor 0x00$/);
  });

  it('a section announcing more entries than the catalog holds is a clear error', () => {
    const cat = bootCatalog(0, { lba: 1 }, [{ platform: 0xef, entries: [{ lba: 2 }] }]).subarray(0, 128);
    cat.writeUInt16LE(5, 66);
    rejects(cat, /announces 5 entries but the catalog ends after 1/);
    const r = parseBootCatalog(cat, where);
    assert.ok(!r.ok);
    assert.deepEqual(r.problem.details, { section: 1, count: 5 });
    assert.equal(catalogNeedsMore(cat), true);
    assert.equal(catalogNeedsMore(bootCatalog(0, { lba: 1 })), false);
  });
});
