/**
 * Pure codec for the cpio "newc" (SVR4, magic 070701) header, the format the Linux kernel's
 * initramfs unpacker reads and the one GNU `cpio -H newc` writes. Buffer in, Buffer out; no I/O.
 *
 * Layout of one entry: a 110-byte ASCII header (magic + 13 fields of 8 upper-case hex digits),
 * the name and its NUL, zero padding so header+name is a multiple of 4, the data, zero padding so
 * the data ends on a multiple of 4. The archive ends with an entry named TRAILER!!!.
 */
import { RhevbootError } from '../errors.js';

export const NEWC_MAGIC = '070701';
/** The "crc" variant: same layout, `check` holds a byte sum. Only parsed, never written. */
export const NEWC_CRC_MAGIC = '070702';
export const NEWC_HEADER_SIZE = 110;
export const NEWC_TRAILER_NAME = 'TRAILER!!!';
/** Every field is 32 bits wide, filesize included: an entry must stay below 4 GiB. */
export const NEWC_MAX_FIELD = 0xffff_ffff;
export const NEWC_MAX_FILE_SIZE = NEWC_MAX_FIELD;


/** Field order is fixed by the format; the names follow GNU cpio's and the kernel's. */
export const NEWC_FIELDS = [
  'ino',
  'mode',
  'uid',
  'gid',
  'nlink',
  'mtime',
  'filesize',
  'devmajor',
  'devminor',
  'rdevmajor',
  'rdevminor',
  'namesize',
  'check',
] as const;

export interface NewcFields {
  ino: number;
  /** File type bits (S_IF*) and permission bits together, as in st_mode. */
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  /** Seconds since the epoch. */
  mtime: number;
  filesize: number;
  devmajor: number;
  devminor: number;
  rdevmajor: number;
  rdevminor: number;
  check: number;
}

export interface NewcHeaderInput extends Partial<Omit<NewcFields, 'ino' | 'mode' | 'filesize'>> {
  /** UTF-8 string or raw bytes; it must not contain NUL. */
  name: string | Buffer;
  ino: number;
  mode: number;
  filesize: number;
}

/** Zero bytes needed after `filesize` bytes of data so the next header starts 4-aligned. */
export function dataPadding(filesize: number): number {
  return (4 - (filesize % 4)) % 4;
}

/** `n` rounded up to a multiple of 4 (safe beyond 2^31, unlike bit tricks). */
export function align4(n: number): number {
  return n + dataPadding(n);
}

/** Zero bytes needed to bring `length` up to a multiple of `block` (512 for tape-style archives). */
export function blockPadding(length: number, block = 512): number {
  return (block - (length % block)) % block;
}

const ZEROES = Buffer.alloc(512);

/** A slice of shared zeroes; callers must not write into it. */
export function zeroPad(n: number): Buffer {
  if (n <= ZEROES.length) return ZEROES.subarray(0, n);
  return Buffer.alloc(n);
}

function cpioError(message: string, details: Record<string, unknown>): RhevbootError {
  return new RhevbootError('RB_ERR_CPIO', message, details);
}

function nameBytes(name: string | Buffer): Buffer {
  // namesize counts bytes, not UTF-16 code units: `isos/ünï.txt` is 14 bytes but 12 JS chars.
  return typeof name === 'string' ? Buffer.from(name, 'utf8') : name;
}

function checkField(field: string, value: number, name: string): void {
  if (!Number.isInteger(value) || value < 0 || value > NEWC_MAX_FIELD) {
    if (field === 'filesize' && Number.isInteger(value) && value > NEWC_MAX_FIELD) {
      throw cpioError(
        `cpio newc cannot hold "${name}": its size ${value} bytes is 4 GiB or more (the newc size field is 32 bits)`,
        { name, filesize: value, max: NEWC_MAX_FILE_SIZE },
      );
    }
    throw cpioError(`cpio newc field ${field} of "${name}" must be an integer in 0..0xFFFFFFFF, got ${value}`, {
      name,
      field,
      value,
    });
  }
}

/**
 * Throws RB_ERR_CPIO unless `size` fits the 32-bit newc filesize field. Callers use this to refuse a
 * big file before they write anything.
 */
export function assertNewcFileSize(size: number, name: string): void {
  checkField('filesize', size, name);
}

/**
 * Header, name, NUL and the padding that brings header+name to a multiple of 4. The entry's data
 * (and its `dataPadding`) follow this.
 */
export function encodeNewcHeader(input: NewcHeaderInput): Buffer {
  const name = nameBytes(input.name);
  const shown = name.toString('utf8');
  if (name.length === 0) throw cpioError('cpio entry name must not be empty', {});
  if (name.includes(0)) throw cpioError(`cpio entry name contains a NUL byte: "${shown}"`, { name: shown });
  const fields: NewcFields = {
    ino: input.ino,
    mode: input.mode,
    uid: input.uid ?? 0,
    gid: input.gid ?? 0,
    nlink: input.nlink ?? 1,
    mtime: input.mtime ?? 0,
    filesize: input.filesize,
    devmajor: input.devmajor ?? 0,
    devminor: input.devminor ?? 0,
    rdevmajor: input.rdevmajor ?? 0,
    rdevminor: input.rdevminor ?? 0,
    check: input.check ?? 0,
  };
  const namesize = name.length + 1;
  const total = align4(NEWC_HEADER_SIZE + namesize);
  const out = Buffer.alloc(total);
  out.write(NEWC_MAGIC, 0, 'latin1');
  let at = NEWC_MAGIC.length;
  for (const field of NEWC_FIELDS) {
    const value = field === 'namesize' ? namesize : fields[field];
    checkField(field, value, shown);
    out.write(value.toString(16).toUpperCase().padStart(8, '0'), at, 'latin1');
    at += 8;
  }
  name.copy(out, NEWC_HEADER_SIZE);
  // The NUL and the alignment padding are already zero from Buffer.alloc.
  return out;
}

/**
 * The end-of-archive entry, as GNU cpio writes it (nlink 1, everything else 0). Not padded to 512:
 * see blockPadding.
 */
export function encodeNewcTrailer(): Buffer {
  return encodeNewcHeader({ name: NEWC_TRAILER_NAME, ino: 0, mode: 0, nlink: 1, filesize: 0 });
}

// ---------------------------------------------------------------------------------------------
// Parsing. Input may be hostile (a doctor command reads whatever sits in the TFTP root), so these
// functions never throw: every problem comes back as a value.

export type NewcParseErrorCode =
  | 'truncated'
  | 'bad-magic'
  | 'bad-field'
  | 'bad-namesize'
  | 'bad-name'
  | 'truncated-data'
  | 'no-trailer';

export interface NewcParseError {
  code: NewcParseErrorCode;
  message: string;
  /** Absolute offset in the input buffer where the problem was found. */
  offset: number;
}

export interface NewcParsedHeader extends NewcFields {
  format: 'newc' | 'crc';
  namesize: number;
  /** Decoded as UTF-8 (lossy for invalid sequences: use nameBytes for the exact bytes). */
  name: string;
  nameBytes: Buffer;
  /** Absolute offsets into the input buffer. */
  headerOffset: number;
  dataOffset: number;
  /** Where the next header starts (after data and its padding). */
  nextOffset: number;
  isTrailer: boolean;
}

export type NewcParseResult = { ok: true; header: NewcParsedHeader } | { ok: false; error: NewcParseError };

function fail(code: NewcParseErrorCode, message: string, offset: number): { ok: false; error: NewcParseError } {
  return { ok: false, error: { code, message, offset } };
}

function isHexDigit(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/**
 * Parses the header and name at `offset`. The data does not need to be present (see
 * parseNewcArchive for that). Lower-case hex is accepted: the kernel accepts it too.
 */
export function parseNewcHeader(buf: Buffer, offset = 0): NewcParseResult {
  if (!Number.isInteger(offset) || offset < 0 || offset > buf.length) {
    return fail('truncated', `offset ${offset} is outside the ${buf.length}-byte input`, Math.max(0, buf.length));
  }
  if (buf.length - offset < NEWC_HEADER_SIZE) {
    return fail('truncated', `only ${buf.length - offset} bytes left, a newc header needs ${NEWC_HEADER_SIZE}`, offset);
  }
  const magic = buf.toString('latin1', offset, offset + 6);
  if (magic !== NEWC_MAGIC && magic !== NEWC_CRC_MAGIC) {
    return fail('bad-magic', `expected magic 070701 or 070702, found ${JSON.stringify(magic)}`, offset);
  }
  const values: Record<string, number> = {};
  for (let i = 0; i < NEWC_FIELDS.length; i++) {
    const start = offset + 6 + i * 8;
    for (let j = start; j < start + 8; j++) {
      if (!isHexDigit(buf[j]!)) {
        return fail(
          'bad-field',
          `field ${NEWC_FIELDS[i]} is not 8 hex digits: ${JSON.stringify(buf.toString('latin1', start, start + 8))}`,
          start,
        );
      }
    }
    values[NEWC_FIELDS[i]!] = parseInt(buf.toString('latin1', start, start + 8), 16);
  }
  const namesize = values.namesize!;
  const nameStart = offset + NEWC_HEADER_SIZE;
  if (namesize < 1) return fail('bad-namesize', 'namesize is 0: there is no room for the NUL', offset + 6 + 11 * 8);
  if (namesize > buf.length - nameStart) {
    return fail('truncated', `name of ${namesize} bytes runs past the end of the input`, nameStart);
  }
  const nameEnd = nameStart + namesize - 1;
  if (buf[nameEnd] !== 0) return fail('bad-name', 'name is not NUL-terminated at namesize', nameEnd);
  const raw = buf.subarray(nameStart, nameEnd);
  const nul = raw.indexOf(0);
  if (nul !== -1) return fail('bad-name', 'name contains a NUL before namesize', nameStart + nul);
  if (raw.length === 0) return fail('bad-name', 'name is empty', nameStart);
  const dataOffset = offset + align4(NEWC_HEADER_SIZE + namesize);
  const filesize = values.filesize!;
  const name = raw.toString('utf8');
  const header: NewcParsedHeader = {
    format: magic === NEWC_MAGIC ? 'newc' : 'crc',
    ino: values.ino!,
    mode: values.mode!,
    uid: values.uid!,
    gid: values.gid!,
    nlink: values.nlink!,
    mtime: values.mtime!,
    filesize,
    devmajor: values.devmajor!,
    devminor: values.devminor!,
    rdevmajor: values.rdevmajor!,
    rdevminor: values.rdevminor!,
    namesize,
    check: values.check!,
    name,
    nameBytes: Buffer.from(raw),
    headerOffset: offset,
    dataOffset,
    nextOffset: dataOffset + align4(filesize),
    isTrailer: name === NEWC_TRAILER_NAME,
  };
  return { ok: true, header };
}

export interface NewcArchiveListing {
  entries: NewcParsedHeader[];
  /** Offset just past the trailer's padding (excluding any 512-byte block padding), if reached. */
  end?: number;
  error?: NewcParseError;
}

/**
 * Walks the archive that starts at `offset` up to and including TRAILER!!!. Returns whatever was
 * parsed before a problem together with the error. Every entry consumes at least 112 bytes, so the
 * walk ends on any input.
 */
export function parseNewcArchive(buf: Buffer, offset = 0): NewcArchiveListing {
  const entries: NewcParsedHeader[] = [];
  let at = offset;
  for (;;) {
    const r = parseNewcHeader(buf, at);
    if (!r.ok) {
      if (r.error.code === 'truncated' && at === buf.length) {
        return { entries, error: { code: 'no-trailer', message: 'input ended before TRAILER!!!', offset: at } };
      }
      return { entries, error: r.error };
    }
    const h = r.header;
    if (h.dataOffset > buf.length) {
      const message = `name padding of "${h.name}" runs past the end`;
      return { entries, error: { code: 'truncated', message, offset: buf.length } };
    }
    if (h.dataOffset + h.filesize > buf.length) {
      return {
        entries,
        error: {
          code: 'truncated-data',
          message: `data of "${h.name}" (${h.filesize} bytes) runs past the end of the input`,
          offset: h.dataOffset,
        },
      };
    }
    entries.push(h);
    if (h.isTrailer) return { entries, end: Math.min(h.nextOffset, buf.length) };
    at = h.nextOffset;
    if (at > buf.length) {
      const message = `data padding of "${h.name}" runs past the end`;
      return { entries, error: { code: 'truncated-data', message, offset: buf.length } };
    }
  }
}
