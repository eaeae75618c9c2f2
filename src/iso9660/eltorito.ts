/**
 * El Torito (Phoenix/IBM 1995) boot catalog. The Boot Record descriptor points at the catalog, a
 * sequence of 32-byte entries:
 *   - validation entry: header id 1, platform id, id string, a checksum word making the sixteen LE
 *     16-bit words sum to 0, and key bytes 55 AA;
 *   - initial/default entry: boot indicator (0x88 bootable, 0x00 not), media type, load segment
 *     (0 means the BIOS default 0x07C0), system type, sector count in 512-byte *virtual* sectors, LBA;
 *   - section headers: 0x90 (more follow) or 0x91 (final), a platform id and the number of section
 *     entries that follow; section entries have the same layout as the default entry and may be
 *     followed by extension entries (0x44) when bit 5 of their media byte is set.
 * Platform ids: 0 x86 BIOS, 1 PowerPC, 2 Mac, 0xEF UEFI. For UEFI no-emulation entries the sector
 * count is often 0 or 1 (the real size comes from the FAT image itself); it is reported as stored.
 */
import { fail, ok, type IsoResult, type Where } from './fail.js';

export type BootPlatform = 'bios' | 'uefi' | 'ppc' | 'mac' | number;
export type BootMediaType = 'no-emulation' | '1.2M' | '1.44M' | '2.88M' | 'hdd';

export interface ElToritoEntry {
  platform: BootPlatform;
  bootable: boolean;
  mediaType: BootMediaType;
  /** As stored; 0 means the BIOS default segment 0x07C0. */
  loadSegment: number;
  /** In 512-byte virtual sectors, as stored. */
  sectorCount: number;
  lba: number;
}

const ENTRY = 32;
/** 64 entries per 2048-byte sector; catalogs are one sector in practice. */
export const MAX_CATALOG_ENTRIES = 64 * 16;

export function platformName(id: number): BootPlatform {
  switch (id) {
    case 0:
      return 'bios';
    case 1:
      return 'ppc';
    case 2:
      return 'mac';
    case 0xef:
      return 'uefi';
    default:
      return id;
  }
}

const MEDIA: BootMediaType[] = ['no-emulation', '1.2M', '1.44M', '2.88M', 'hdd'];

function parseBootEntry(b: Buffer, off: number, platform: number, where: Where): IsoResult<ElToritoEntry> {
  const indicator = b[off]!;
  if (indicator !== 0x88 && indicator !== 0x00) {
    return fail('RB_ERR_ISO_FORMAT', { ...where, offset: off }, `boot entry indicator 0x${indicator.toString(16)} is neither 0x88 nor 0x00`, { indicator });
  }
  const mediaCode = b[off + 1]! & 0x0f;
  const mediaType = MEDIA[mediaCode];
  if (mediaType === undefined) {
    return fail('RB_ERR_ISO_FORMAT', { ...where, offset: off }, `boot media type ${mediaCode} is undefined`, { mediaCode });
  }
  return ok({
    platform: platformName(platform),
    bootable: indicator === 0x88,
    mediaType,
    loadSegment: b.readUInt16LE(off + 2),
    sectorCount: b.readUInt16LE(off + 6),
    lba: b.readUInt32LE(off + 8),
  });
}

/** Verifies the validation entry; returns its platform id. */
export function checkValidationEntry(b: Buffer, where: Where): IsoResult<number> {
  if (b.length < ENTRY) return fail('RB_ERR_ISO_FORMAT', where, 'boot catalog is shorter than one entry');
  if (b[0] !== 0x01) return fail('RB_ERR_ISO_FORMAT', { ...where, offset: 0 }, `validation entry header id is 0x${b[0]!.toString(16)}, expected 0x01`);
  if (b[30] !== 0x55 || b[31] !== 0xaa) return fail('RB_ERR_ISO_FORMAT', { ...where, offset: 30 }, 'validation entry lacks the 55 AA key bytes');
  let sum = 0;
  for (let i = 0; i < ENTRY; i += 2) sum = (sum + b.readUInt16LE(i)) & 0xffff;
  if (sum !== 0) return fail('RB_ERR_ISO_FORMAT', { ...where, offset: 28 }, `validation entry checksum is wrong (words sum to 0x${sum.toString(16)})`, { sum });
  return ok(b[1]!);
}

/**
 * Parses a catalog buffer (one or more sectors). Stops after the final section header's entries or
 * at the first all-zero entry where a section header was expected.
 */
export function parseBootCatalog(b: Buffer, where: Where): IsoResult<ElToritoEntry[]> {
  const validationPlatform = checkValidationEntry(b, where);
  if (!validationPlatform.ok) return validationPlatform;
  if (b.length < 2 * ENTRY) return fail('RB_ERR_ISO_FORMAT', where, 'boot catalog has no default entry');
  const first = parseBootEntry(b, ENTRY, validationPlatform.value, { ...where, record: `${where.record} default entry` });
  if (!first.ok) return first;
  const entries: ElToritoEntry[] = [first.value];
  let off = 2 * ENTRY;
  let sectionNo = 0;
  while (off + ENTRY <= b.length) {
    const header = b[off]!;
    if (header !== 0x90 && header !== 0x91) break; // end of catalog (usually zero fill)
    sectionNo++;
    const platform = b[off + 1]!;
    const count = b.readUInt16LE(off + 2);
    const final = header === 0x91;
    off += ENTRY;
    let parsed = 0;
    while (parsed < count) {
      if (off + ENTRY > b.length) {
        return fail('RB_ERR_ISO_FORMAT', where, `section ${sectionNo} announces ${count} entries but the catalog ends after ${parsed}`, { section: sectionNo, count });
      }
      if (b[off] === 0x44) {
        off += ENTRY; // extension entry: selection criteria continuation, not a boot image
        continue;
      }
      const entry = parseBootEntry(b, off, platform, { ...where, record: `${where.record} section ${sectionNo} entry ${parsed + 1}` });
      if (!entry.ok) return entry;
      entries.push(entry.value);
      if (entries.length > MAX_CATALOG_ENTRIES) {
        return fail('RB_ERR_ISO_HOSTILE', where, `boot catalog has more than ${MAX_CATALOG_ENTRIES} entries`);
      }
      parsed++;
      off += ENTRY;
    }
    if (final) break;
  }
  return ok(entries);
}

/** Catalog sectors needed to hold everything announced so far, for incremental reading. */
export function catalogNeedsMore(b: Buffer): boolean {
  // Walk headers without validating; if a header's entries extend past the buffer, ask for more.
  let off = 2 * ENTRY;
  while (off + ENTRY <= b.length) {
    const header = b[off]!;
    if (header !== 0x90 && header !== 0x91) return false;
    const count = b.readUInt16LE(off + 2);
    off += ENTRY;
    let n = 0;
    while (n < count) {
      if (off + ENTRY > b.length) return true;
      if (b[off] !== 0x44) n++;
      off += ENTRY;
    }
    if (header === 0x91) return false;
  }
  return off + ENTRY > b.length;
}
