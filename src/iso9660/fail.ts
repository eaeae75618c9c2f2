/**
 * Error construction shared by the ISO9660 codec. Every message has to let an operator find the
 * offending bytes with `dd`/`isoinfo`, so each one names the image, the record (its path inside
 * the image as far as it is known) and the LBA/offset, e.g.
 *   bad.iso: directory record "/a/b" at LBA 23 offset 0x44: extent 99999 past end of volume (...)
 */
import { RhevbootError, type ErrorCode } from '../errors.js';

export type IsoErrorCode = Extract<ErrorCode, 'RB_ERR_ISO_IO' | 'RB_ERR_ISO_FORMAT' | 'RB_ERR_ISO_HOSTILE' | 'RB_ERR_ISO_UNSUPPORTED'>;

/** Where in the image something was found; carried by pure parsers so they can raise good errors. */
export interface Where {
  image: string;
  /** e.g. `directory record "/isolinux/vmlinuz0"`, `primary volume descriptor`, `boot catalog entry 3`. */
  record: string;
  lba?: number;
  offset?: number;
}

export function describeWhere(w: Where): string {
  let s = `${w.image}: ${w.record}`;
  if (w.lba !== undefined) s += ` at LBA ${w.lba}`;
  if (w.offset !== undefined) s += `${w.lba === undefined ? ' at' : ''} offset 0x${w.offset.toString(16)}`;
  return s;
}

export function isoError(
  code: IsoErrorCode,
  where: Where,
  problem: string,
  details: Record<string, unknown> = {},
  cause?: unknown,
): RhevbootError {
  return new RhevbootError(
    code,
    `${describeWhere(where)}: ${problem}`,
    { image: where.image, record: where.record, lba: where.lba, offset: where.offset, ...details },
    cause === undefined ? undefined : { cause },
  );
}

/** Quotes a path for messages ('' is the root); control characters such as NUL come out escaped. */
export function recordLabel(kind: string, isoPath: string): string {
  return `${kind} ${JSON.stringify(`/${isoPath}`)}`;
}

/** Name validation shared by every namespace: such names could escape or confuse an extraction. */
export function checkEntryName(name: string, where: Where, source: string): void {
  let problem: string | undefined;
  if (name.length === 0) problem = 'empty name';
  else if (name === '.' || name === '..') problem = `name "${name}" is reserved`;
  else if (name.includes('/')) problem = `name ${JSON.stringify(name)} contains "/"`;
  else if (name.includes('\0')) problem = `name ${JSON.stringify(name)} contains NUL`;
  if (problem !== undefined) {
    throw isoError('RB_ERR_ISO_HOSTILE', where, `${source} ${problem}`, { name, nameSource: source });
  }
}
