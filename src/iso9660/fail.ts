/**
 * Problems, results and errors of the ISO9660 codec.
 *
 * The parsers decode bytes of an untrusted image, so like the DHCP/TFTP codecs and the cpio parser
 * they never throw on them: each returns an IsoResult, `{ ok: false, problem }` when the bytes are
 * bad. The I/O layer (IsoImage, extraction) is the service boundary: there `unwrap` turns a problem
 * into a thrown RhevbootError with exactly the code, message and details it carries. Invalid
 * arguments from our own code are programmer errors and may still throw.
 *
 * Every message has to let an operator find the offending bytes with `dd`/`isoinfo`, so each one
 * names the image, the record (its path inside the image as far as it is known) and the LBA/offset, e.g.
 *   bad.iso: directory record "/a/b" at LBA 23 offset 0x44: extent 99999 past end of volume (...)
 */
import { RhevbootError, type ErrorCode } from '../errors.js';

export type IsoErrorCode = Extract<ErrorCode, 'RB_ERR_ISO_IO' | 'RB_ERR_ISO_FORMAT' | 'RB_ERR_ISO_HOSTILE' | 'RB_ERR_ISO_UNSUPPORTED'>;

/** Where in the image something was found; carried by pure parsers so they can report good problems. */
export interface Where {
  image: string;
  /** e.g. `directory record "/isolinux/vmlinuz0"`, `primary volume descriptor`, `boot catalog entry 3`. */
  record: string;
  lba?: number;
  offset?: number;
}

/** What is wrong with the bytes at `where`; becomes a RhevbootError only at the I/O layer. */
export interface IsoProblem {
  code: IsoErrorCode;
  where: Where;
  /** The problem alone, e.g. `directory record length 20 is shorter than the minimum 34`. */
  text: string;
  /** `text` located by `where`: the message of the RhevbootError it becomes. */
  message: string;
  /** Context beyond `where` (which the error's details get too). */
  details: Record<string, unknown>;
}

export type IsoFailure = { ok: false; problem: IsoProblem };
export type IsoResult<T> = { ok: true; value: T } | IsoFailure;

export function describeWhere(w: Where): string {
  let s = `${w.image}: ${w.record}`;
  if (w.lba !== undefined) s += ` at LBA ${w.lba}`;
  if (w.offset !== undefined) s += `${w.lba === undefined ? ' at' : ''} offset 0x${w.offset.toString(16)}`;
  return s;
}

export function ok<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}

export function fail(code: IsoErrorCode, where: Where, text: string, details: Record<string, unknown> = {}): IsoFailure {
  return { ok: false, problem: { code, where, text, message: `${describeWhere(where)}: ${text}`, details } };
}

export function problemError(p: IsoProblem, cause?: unknown): RhevbootError {
  const { image, record, lba, offset } = p.where;
  return new RhevbootError(p.code, p.message, { image, record, lba, offset, ...p.details }, cause === undefined ? undefined : { cause });
}

/** The service boundary: the value, or the problem thrown as a RhevbootError. */
export function unwrap<T>(r: IsoResult<T>): T {
  if (!r.ok) throw problemError(r.problem);
  return r.value;
}

/** For the I/O layer's own failures (open, read, write), which are errors from the start. */
export function isoError(
  code: IsoErrorCode,
  where: Where,
  text: string,
  details: Record<string, unknown> = {},
  cause?: unknown,
): RhevbootError {
  return problemError(fail(code, where, text, details).problem, cause);
}

/** Quotes a path for messages ('' is the root); control characters such as NUL come out escaped. */
export function recordLabel(kind: string, isoPath: string): string {
  return `${kind} ${JSON.stringify(`/${isoPath}`)}`;
}

/** Name validation shared by every namespace: such names could escape or confuse an extraction. */
export function checkEntryName(name: string, where: Where, source: string): IsoResult<string> {
  let problem: string | undefined;
  if (name.length === 0) problem = 'empty name';
  else if (name === '.' || name === '..') problem = `name "${name}" is reserved`;
  else if (name.includes('/')) problem = `name ${JSON.stringify(name)} contains "/"`;
  else if (name.includes('\0')) problem = `name ${JSON.stringify(name)} contains NUL`;
  if (problem !== undefined) return fail('RB_ERR_ISO_HOSTILE', where, `${source} ${problem}`, { name, nameSource: source });
  return ok(name);
}
