/**
 * System Use Sharing Protocol (IEEE P1281 / SUSP 1.12): the framing Rock Ridge lives in.
 *
 * Each System Use entry is: signature (2 bytes), length (1, including the 4-byte header), version (1),
 * data. Writers pad the area with a 0 byte, so an entry length < 4 ends the area.
 *   SP  only in the root's "." record: bytes BE EF and LEN_SKP, the number of bytes to skip at the start
 *       of every *other* System Use area (non-zero on CD-ROM XA discs, which put their 14-byte "XA"
 *       record there).
 *   CE  continuation area: block, offset, length (both-endian). Entries continue there; that area may
 *       itself hold a CE, so chains are followed with loop and size caps.
 *   ST  terminates the area.
 *   ER  extension reference: identifies Rock Ridge ("RRIP_1991A", "IEEE_P1282", "IEEE_1282").
 *   PD  padding.
 */
import { fail, ok, type IsoResult, type Where } from './fail.js';

export interface SuspEntry {
  sig: string;
  version: number;
  data: Buffer;
}

export interface ContinuationRef {
  lba: number;
  offset: number;
  length: number;
}

export interface SuspArea {
  entries: SuspEntry[];
  continuation: ContinuationRef | undefined;
}

/** A record's areas may not chain through more continuation areas than this (real images use 0–3). */
export const MAX_CE_CHAIN = 32;
/** Upper bound on one continuation area: the spec confines it to a block. */
export const MAX_CE_LENGTH = 2048;

/** Splits one System Use area (record tail or continuation area) into entries. */
export function splitSuspArea(area: Buffer, where: Where): IsoResult<SuspArea> {
  const entries: SuspEntry[] = [];
  let continuation: ContinuationRef | undefined;
  let off = 0;
  while (off + 4 <= area.length) {
    const len = area[off + 2]!;
    if (len < 4) break;
    if (off + len > area.length) {
      return fail('RB_ERR_ISO_FORMAT', where, `System Use entry "${area.toString('latin1', off, off + 2)}" of ${len} bytes runs past the end of its ${area.length}-byte area`, {
        suspOffset: off,
        entryLength: len,
      });
    }
    const sig = area.toString('latin1', off, off + 2);
    const entry: SuspEntry = { sig, version: area[off + 3]!, data: area.subarray(off + 4, off + len) };
    off += len;
    if (sig === 'ST') break;
    if (sig === 'CE') {
      if (entry.data.length < 24) return fail('RB_ERR_ISO_FORMAT', where, `CE entry is ${len} bytes, expected 28`);
      continuation = { lba: entry.data.readUInt32LE(0), offset: entry.data.readUInt32LE(8), length: entry.data.readUInt32LE(16) };
      continue;
    }
    if (sig === 'PD') continue;
    entries.push(entry);
  }
  return ok({ entries, continuation });
}

/** Returns LEN_SKP if `area` (the root "." record's System Use area) starts with a valid SP entry. */
export function parseSp(area: Buffer): number | undefined {
  if (area.length < 7) return undefined;
  if (area[0] !== 0x53 || area[1] !== 0x50 || area[2]! < 7 || area[4] !== 0xbe || area[5] !== 0xef) return undefined;
  return area[6]!;
}

/**
 * Reads a continuation area; supplied by the image so this module stays free of I/O. A problem with
 * the reference (a block outside the volume) comes back as a value; a failed read may throw.
 */
export type ContinuationReader = (ref: ContinuationRef, where: Where) => Promise<IsoResult<Buffer>>;

/**
 * Collects all entries of a record: its own area, then every continuation area in the chain.
 * A chain visiting the same (block, offset) twice is a loop planted to hang readers: hostile.
 */
export async function collectSuspEntries(area: Buffer, where: Where, readContinuation: ContinuationReader): Promise<IsoResult<SuspEntry[]>> {
  let current = splitSuspArea(area, where);
  if (!current.ok) return current;
  const entries = [...current.value.entries];
  const seen = new Set<string>();
  let hops = 0;
  while (current.value.continuation) {
    const ref = current.value.continuation;
    const key = `${ref.lba}:${ref.offset}`;
    if (seen.has(key)) {
      return fail('RB_ERR_ISO_HOSTILE', where, `CE continuation chain loops back to block ${ref.lba} offset ${ref.offset}`, { ce: ref });
    }
    seen.add(key);
    if (++hops > MAX_CE_CHAIN) {
      return fail('RB_ERR_ISO_HOSTILE', where, `CE continuation chain longer than ${MAX_CE_CHAIN} areas`, { ce: ref });
    }
    if (ref.length === 0) break;
    if (ref.length > MAX_CE_LENGTH || ref.offset + ref.length > MAX_CE_LENGTH) {
      return fail('RB_ERR_ISO_HOSTILE', where, `CE continuation area (block ${ref.lba}, offset ${ref.offset}, length ${ref.length}) does not fit in one block`, { ce: ref });
    }
    const next = await readContinuation(ref, where);
    if (!next.ok) return next;
    current = splitSuspArea(next.value, { ...where, record: `${where.record} continuation area`, lba: ref.lba, offset: ref.offset });
    if (!current.ok) return current;
    for (const e of current.value.entries) entries.push(e);
  }
  return ok(entries);
}
