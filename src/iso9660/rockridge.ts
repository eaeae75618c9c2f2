/**
 * Rock Ridge Interchange Protocol (RRIP 1.09 / 1.10 / 1.12) over SUSP entries. Pure.
 *
 *   PX  POSIX mode, nlink, uid, gid; RRIP 1.12 adds the inode number (44 bytes instead of 36).
 *   PN  device numbers (block/char devices).
 *   NM  alternate name, possibly split over several entries (flag CONTINUE=1); CURRENT=2 / PARENT=4
 *       denote "." / ".." and never belong on a child record, HOST=0x20 is ignored.
 *   SL  symlink target as components (ROOT=8 "/", PARENT=4 "..", CURRENT=2 ".", CONTINUE=1 "the
 *       component goes on in the next component record"). Components and entries may both be split:
 *       SL entry flag CONTINUE=1 says the next SL entry continues this one.
 *   TF  timestamps; flag bit order creation, modify, access, attributes, backup, expiration,
 *       effective, with LONG_FORM=0x80 selecting 17-byte instead of 7-byte dates.
 *   CL / PL / RE  deep-directory relocation (ECMA-119 caps depth at 8): the real directory lives in
 *       /rr_moved with RE set; its original parent holds a placeholder *file* record with CL pointing
 *       at it. Readers follow CL and hide RE.
 *   ZF  zisofs-compressed file (detected; reading refused).  SF  sparse file (RRIP 1.12; refused).
 *   RR  RRIP 1.09 "which fields are present" bitmap; only useful as a presence marker.
 */
import { decodeLongDate, decodeShortDate } from './record.js';
import { fail, ok, type IsoResult, type Where } from './fail.js';
import type { SuspEntry } from './susp.js';

export const RR_EXTENSION_IDS = ['RRIP_1991A', 'IEEE_P1282', 'IEEE_1282'];


export interface RockRidgeInfo {
  /** True if any Rock Ridge entry (not merely SUSP framing) was present. */
  present: boolean;
  name?: string;
  /** NM with CURRENT/PARENT flag. */
  nameSpecial?: 'current' | 'parent';
  mode?: number;
  nlink?: number;
  uid?: number;
  gid?: number;
  ino?: number;
  device?: { high: number; low: number };
  symlinkTarget?: string;
  mtime?: Date;
  childLink?: number;
  parentLink?: number;
  relocated: boolean;
  zisofs?: { algorithm: string; headerSize: number; blockSizeLog2: number; uncompressedSize: number };
  sparse: boolean;
  extensions: string[];
}

const RR_SIGS = new Set(['PX', 'PN', 'SL', 'NM', 'CL', 'PL', 'RE', 'TF', 'SF', 'ZF', 'RR']);

const fatal = new TextDecoder('utf-8', { fatal: true });

/**
 * RR names and link targets are raw bytes in whatever charset the writer's locale used. UTF-8 is
 * today's norm; bytes that are not valid UTF-8 are taken as Latin-1 so they stay distinct and
 * round-trippable instead of collapsing to U+FFFD.
 */
export function decodeRrBytes(b: Buffer): string {
  try {
    return fatal.decode(b);
  } catch {
    return b.toString('latin1');
  }
}

/** The entry's data if it holds at least `n` bytes. */
function need(e: SuspEntry, n: number, where: Where): IsoResult<Buffer> {
  if (e.data.length < n) {
    return fail('RB_ERR_ISO_FORMAT', where, `Rock Ridge ${e.sig} entry has ${e.data.length} data bytes, expected at least ${n}`, { sig: e.sig });
  }
  return ok(e.data);
}

function decodeSymlink(parts: SuspEntry[], where: Where): IsoResult<string> {
  const components: string[] = [];
  let pending: Buffer[] | undefined; // bytes of a component still being continued
  let root = false;
  for (const e of parts) {
    const checked = need(e, 1, where);
    if (!checked.ok) return checked;
    const data = checked.value;
    let off = 1; // byte 0 is the entry's own flags
    while (off + 2 <= data.length) {
      const cflags = data[off]!;
      const clen = data[off + 1]!;
      if (off + 2 + clen > data.length) {
        return fail('RB_ERR_ISO_FORMAT', where, `Rock Ridge SL component of ${clen} bytes runs past its entry`, { componentLength: clen });
      }
      const content = data.subarray(off + 2, off + 2 + clen);
      off += 2 + clen;
      let piece: Buffer | string;
      if (cflags & 0x08) {
        if (components.length === 0 && pending === undefined) root = true;
        continue;
      } else if (cflags & 0x04) piece = '..';
      else if (cflags & 0x02) piece = '.';
      else if (cflags & 0x10) piece = ''; // VOLROOT (obsolete): mount point of the volume, unknowable here
      else if (cflags & 0x20) piece = ''; // HOST (obsolete)
      else piece = content;
      if (typeof piece === 'string') {
        if (pending) components.push(decodeRrBytes(Buffer.concat(pending)));
        pending = undefined;
        if (piece !== '') components.push(piece);
        continue;
      }
      (pending ??= []).push(piece);
      if ((cflags & 0x01) === 0) {
        components.push(decodeRrBytes(Buffer.concat(pending)));
        pending = undefined;
      }
    }
  }
  if (pending) components.push(decodeRrBytes(Buffer.concat(pending)));
  return ok((root ? '/' : '') + components.join('/'));
}

/** Interprets the SUSP entries of one directory record. */
export function parseRockRidge(entries: SuspEntry[], where: Where): IsoResult<RockRidgeInfo> {
  const info: RockRidgeInfo = { present: false, relocated: false, sparse: false, extensions: [] };
  const nameParts: Buffer[] = [];
  const slParts: SuspEntry[] = [];
  for (const e of entries) {
    if (RR_SIGS.has(e.sig)) info.present = true;
    switch (e.sig) {
      case 'ER': {
        if (e.data.length >= 4) {
          const idLen = e.data[0]!;
          const id = e.data.toString('latin1', 4, Math.min(e.data.length, 4 + idLen));
          info.extensions.push(id);
        }
        break;
      }
      case 'PX': {
        const d = need(e, 32, where);
        if (!d.ok) return d;
        info.mode = d.value.readUInt32LE(0);
        info.nlink = d.value.readUInt32LE(8);
        info.uid = d.value.readUInt32LE(16);
        info.gid = d.value.readUInt32LE(24);
        if (d.value.length >= 40) info.ino = d.value.readUInt32LE(32);
        break;
      }
      case 'PN': {
        const d = need(e, 16, where);
        if (!d.ok) return d;
        info.device = { high: d.value.readUInt32LE(0), low: d.value.readUInt32LE(8) };
        break;
      }
      case 'NM': {
        const d = need(e, 1, where);
        if (!d.ok) return d;
        const flags = d.value[0]!;
        if (flags & 0x02) info.nameSpecial = 'current';
        else if (flags & 0x04) info.nameSpecial = 'parent';
        else if ((flags & 0x20) === 0) nameParts.push(d.value.subarray(1));
        break;
      }
      case 'SL':
        slParts.push(e);
        break;
      case 'TF': {
        const d = need(e, 1, where);
        if (!d.ok) return d;
        const flags = d.value[0]!;
        const size = flags & 0x80 ? 17 : 7;
        let off = 1;
        for (let bit = 0; bit < 7; bit++) {
          if ((flags & (1 << bit)) === 0) continue;
          if (off + size > d.value.length) {
            return fail('RB_ERR_ISO_FORMAT', where, `Rock Ridge TF entry is too short for its flags 0x${flags.toString(16)}`, { flags });
          }
          if (bit === 1) info.mtime = size === 17 ? decodeLongDate(d.value, off) : decodeShortDate(d.value, off);
          off += size;
        }
        break;
      }
      case 'CL': {
        const d = need(e, 8, where);
        if (!d.ok) return d;
        info.childLink = d.value.readUInt32LE(0);
        break;
      }
      case 'PL': {
        const d = need(e, 8, where);
        if (!d.ok) return d;
        info.parentLink = d.value.readUInt32LE(0);
        break;
      }
      case 'RE':
        info.relocated = true;
        break;
      case 'ZF': {
        const d = need(e, 12, where);
        if (!d.ok) return d;
        info.zisofs = {
          algorithm: d.value.toString('latin1', 0, 2),
          headerSize: d.value[2]!,
          blockSizeLog2: d.value[3]!,
          uncompressedSize: d.value.readUInt32LE(4),
        };
        break;
      }
      case 'SF':
        info.sparse = true;
        break;
      default:
        break;
    }
  }
  if (nameParts.length > 0) info.name = decodeRrBytes(Buffer.concat(nameParts));
  if (slParts.length > 0) {
    const target = decodeSymlink(slParts, where);
    if (!target.ok) return target;
    info.symlinkTarget = target.value;
  }
  return ok(info);
}
