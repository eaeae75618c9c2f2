/**
 * Joliet (Microsoft, 1995): a Supplementary Volume Descriptor whose escape sequences announce UCS-2
 * level 1/2/3 (`%/@`, `%/C`, `%/E`), with a second directory tree whose identifiers are big-endian
 * UCS-2. Modern writers (xorriso, genisoimage, Windows) actually store UTF-16BE, so surrogate pairs
 * are decoded; a lone surrogate becomes U+FFFD rather than producing an unencodable file name.
 * Names are at most 64 UCS-2 characters per the spec, 103 with `-joliet-long`; longer ones are
 * accepted (readers should be liberal), the record length already bounds them.
 */
import { fail, ok, type IsoResult, type Where } from './fail.js';

/** Returns the Joliet level (1–3) if the SVD escape-sequence field (32 bytes) announces Joliet. */
export function jolietLevel(escapes: Buffer): 1 | 2 | 3 | undefined {
  // The escape sequence may appear anywhere in the 32-byte field; writers put it first.
  for (let i = 0; i + 3 <= escapes.length; i++) {
    if (escapes[i] === 0x25 && escapes[i + 1] === 0x2f) {
      const c = escapes[i + 2];
      if (c === 0x40) return 1;
      if (c === 0x43) return 2;
      if (c === 0x45) return 3;
    }
  }
  return undefined;
}

/**
 * Decodes the UTF-16BE code units of `bytes`; lone surrogates become U+FFFD and a trailing odd byte
 * is ignored (padded text fields and best-effort labels for messages need no more).
 */
export function utf16beText(bytes: Buffer): string {
  const units: number[] = [];
  for (let i = 0; i + 1 < bytes.length; i += 2) units.push((bytes[i]! << 8) | bytes[i + 1]!);
  let out = '';
  for (let i = 0; i < units.length; i++) {
    const u = units[i]!;
    if (u >= 0xd800 && u <= 0xdbff) {
      const lo = units[i + 1];
      if (lo !== undefined && lo >= 0xdc00 && lo <= 0xdfff) {
        out += String.fromCharCode(u, lo);
        i++;
      } else {
        out += '\ufffd';
      }
    } else if (u >= 0xdc00 && u <= 0xdfff) {
      out += '\ufffd';
    } else {
      out += String.fromCharCode(u);
    }
  }
  return out;
}

/** Decodes a UTF-16BE identifier; an odd byte count cannot be one. */
export function decodeUtf16be(bytes: Buffer, where: Where): IsoResult<string> {
  if (bytes.length % 2 !== 0) {
    return fail('RB_ERR_ISO_FORMAT', where, `Joliet identifier has an odd byte length (${bytes.length})`, { nameLength: bytes.length });
  }
  return ok(utf16beText(bytes));
}

/**
 * Joliet identifier → name. Writers may append ";1" as in plain ISO9660; strip it. A trailing "."
 * is only an artefact when it precedes the version (Windows cannot even create such names otherwise).
 */
export function jolietName(identifier: Buffer, where: Where): IsoResult<string> {
  const decoded = decodeUtf16be(identifier, where);
  if (!decoded.ok) return decoded;
  let s = decoded.value;
  const semi = s.lastIndexOf(';');
  if (semi >= 0 && semi < s.length - 1 && /^[0-9]+$/.test(s.slice(semi + 1))) {
    s = s.slice(0, semi);
    if (s.endsWith('.')) s = s.slice(0, -1);
  }
  return ok(s);
}

/** Decodes an SVD text field (volume id etc.) stored as UCS-2BE, trimming padding. */
export function jolietText(field: Buffer): string {
  return utf16beText(field).replace(/[\0 ]+$/u, '');
}
