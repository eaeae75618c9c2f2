/**
 * ECMA-119 directory records (§9.1). Pure functions over Buffers.
 *
 * Field knowledge that matters here:
 *  - Both-endian fields are read from their little-endian half. Some mastering tools have written
 *    garbage into the big-endian half; the kernel and libarchive trust the LE half too.
 *  - A record never crosses a logical sector (2048 bytes). A zero length byte means "no more records in
 *    this sector": continue at the next sector boundary of the directory extent.
 *  - The first two records of every directory are "." (identifier 0x00) and ".." (0x01).
 *  - Flag 0x80 (multi-extent) says "another record with the same name follows"; a file > 4 GiB is
 *    stored as several such records, which the walker concatenates.
 *  - File unit size / interleave gap ≠ 0 means interleaved recording (a CD-i era feature), refused.
 */
import { fail, ok, type IsoResult, type Where } from './fail.js';

export const SECTOR_SIZE = 2048;
/** 33 fixed bytes + at least one identifier byte. */
export const MIN_RECORD_LENGTH = 34;

export const FLAG_HIDDEN = 0x01;
export const FLAG_DIRECTORY = 0x02;
export const FLAG_ASSOCIATED = 0x04;
export const FLAG_MULTI_EXTENT = 0x80;

export interface DirRecord {
  /** Offset of the record inside the buffer it was parsed from. */
  offset: number;
  length: number;
  extAttrLength: number;
  lba: number;
  dataLength: number;
  recorded: Date;
  flags: number;
  unitSize: number;
  gap: number;
  identifier: Buffer;
  /** The System Use area (before any SUSP skip is applied). */
  systemUse: Buffer;
  /** "." (0x00) or ".." (0x01). */
  special: 'self' | 'parent' | undefined;
}

/** Decodes the 7-byte "recording date and time" (§9.1.5). Invalid dates give the epoch, never NaN. */
export function decodeShortDate(b: Buffer, off: number): Date {
  if (off + 7 > b.length) return new Date(0);
  const year = 1900 + b[off]!;
  const month = b[off + 1]!;
  const day = b[off + 2]!;
  const hour = b[off + 3]!;
  const minute = b[off + 4]!;
  const second = b[off + 5]!;
  const tz = b.readInt8(off + 6);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return new Date(0);
  // Offset from GMT in 15-minute intervals, -48 (west) to +52 (east); out-of-range values are ignored
  // the way the kernel does, rather than shifting the time by days.
  const offsetMinutes = tz >= -48 && tz <= 52 ? tz * 15 : 0;
  return new Date(Date.UTC(year, month - 1, day, hour, minute, second) - offsetMinutes * 60_000);
}

/** Decodes the 17-byte "YYYYMMDDHHMMSScc" + offset form (§8.4.26.1), used by the PVD and RR TF long form. */
export function decodeLongDate(b: Buffer, off: number): Date | undefined {
  if (off + 17 > b.length) return undefined;
  const digits = b.toString('latin1', off, off + 16);
  if (!/^[0-9]{16}$/.test(digits)) return undefined;
  const n = (a: number, l: number): number => Number(digits.slice(a, a + l));
  const year = n(0, 4);
  const month = n(4, 2);
  const day = n(6, 2);
  if (year === 0 || month < 1 || month > 12 || day < 1 || day > 31) return undefined;
  const tz = b.readInt8(off + 16);
  const offsetMinutes = tz >= -48 && tz <= 52 ? tz * 15 : 0;
  const ms = Date.UTC(year, month - 1, day, n(8, 2), n(10, 2), n(12, 2), n(14, 2) * 10);
  return new Date(ms - offsetMinutes * 60_000);
}

/**
 * Parses one directory record at `off`. The caller has checked that the length byte is non-zero.
 * `limit` is the end of the sector the record must fit in.
 */
export function parseDirectoryRecord(buf: Buffer, off: number, limit: number, where: Where): IsoResult<DirRecord> {
  const at: Where = { ...where, offset: off };
  if (off >= buf.length || off >= limit) return fail('RB_ERR_ISO_FORMAT', at, 'directory record starts outside its extent');
  const length = buf[off]!;
  if (length < MIN_RECORD_LENGTH) {
    return fail('RB_ERR_ISO_FORMAT', at, `directory record length ${length} is shorter than the minimum ${MIN_RECORD_LENGTH}`, { recordLength: length });
  }
  const end = Math.min(limit, buf.length);
  if (off + length > end) {
    return fail('RB_ERR_ISO_FORMAT', at, `directory record of ${length} bytes crosses a sector boundary or the end of the directory`, { recordLength: length });
  }
  const nameLength = buf[off + 32]!;
  if (nameLength === 0 || 33 + nameLength > length) {
    return fail('RB_ERR_ISO_FORMAT', at, `file identifier length ${nameLength} does not fit in a record of ${length} bytes`, { nameLength, recordLength: length });
  }
  const identifier = buf.subarray(off + 33, off + 33 + nameLength);
  // A padding byte follows an even-length identifier so the System Use area starts on an even offset.
  const suStart = off + 33 + nameLength + (nameLength % 2 === 0 ? 1 : 0);
  const systemUse = suStart < off + length ? buf.subarray(suStart, off + length) : Buffer.alloc(0);
  let special: DirRecord['special'];
  if (nameLength === 1 && identifier[0] === 0) special = 'self';
  else if (nameLength === 1 && identifier[0] === 1) special = 'parent';
  return ok({
    offset: off,
    length,
    extAttrLength: buf[off + 1]!,
    lba: buf.readUInt32LE(off + 2),
    dataLength: buf.readUInt32LE(off + 10),
    recorded: decodeShortDate(buf, off + 18),
    flags: buf[off + 25]!,
    unitSize: buf[off + 26]!,
    gap: buf[off + 27]!,
    identifier,
    systemUse,
    special,
  });
}

/**
 * Splits a directory extent into records. A zero length byte skips to the next sector boundary,
 * counted from the start of the extent (extents are sector-aligned).
 */
export function parseDirectoryExtent(buf: Buffer, where: Where): IsoResult<DirRecord[]> {
  const records: DirRecord[] = [];
  let off = 0;
  while (off < buf.length) {
    const len = buf[off]!;
    if (len === 0) {
      off = (Math.floor(off / SECTOR_SIZE) + 1) * SECTOR_SIZE;
      continue;
    }
    const sectorEnd = (Math.floor(off / SECTOR_SIZE) + 1) * SECTOR_SIZE;
    const rec = parseDirectoryRecord(buf, off, sectorEnd, where);
    if (!rec.ok) return rec;
    records.push(rec.value);
    off += rec.value.length;
  }
  return ok(records);
}

/**
 * Plain ISO9660 identifier → name: strips the ";1" version and the "." that ECMA-119 requires between
 * name and extension even when the extension is empty ("README." → "README"), as the kernel's
 * `map=normal` and libarchive do. Case is kept (libarchive keeps "A/B/F.TXT" upper case).
 */
export function plainName(identifier: Buffer): string {
  let s = identifier.toString('latin1');
  const semi = s.lastIndexOf(';');
  if (semi >= 0 && /^[0-9]*$/.test(s.slice(semi + 1))) s = s.slice(0, semi);
  if (s.endsWith('.')) s = s.slice(0, -1);
  return s;
}
