/**
 * Option negotiation for read requests: RFC 2347 (framework), 2348 (blksize), 2349 (timeout,
 * tsize), 7440 (windowsize). Pure. Every option is judged on its own: a bad or unknown one is left
 * out of the OACK and the rest still count. Refusing the whole request over one option (as the npm
 * `tftp` package does) makes clients fall back to slow 512-byte lockstep or fail outright.
 */
import type { TftpOption } from './packet.js';

export const MIN_BLOCK_SIZE = 8;
export const MAX_BLOCK_SIZE = 65464;
export const DEFAULT_BLOCK_SIZE = 512;
export const MAX_WINDOW_SIZE = 65535;

export interface OptionLimits {
  /** Largest block the link allows without IP fragmentation (1468 on a 1500-byte MTU). */
  maxBlockSize: number;
  maxWindowSize: number;
}

export interface Negotiation {
  blockSize: number;
  windowSize: number;
  /** Retransmission timeout the client asked for (RFC 2349), in ms. */
  timeoutMs?: number;
  /** The client asked for the transfer size; the OACK carries the real size. */
  tsize: boolean;
  /** Accepted options, in the client's order, with the values the OACK will carry. */
  accepted: TftpOption[];
  ignored: { name: string; value: string; reason: string }[];
}

function decimal(value: string): number | undefined {
  // Digits only: `parseInt('1468abc')` would silently accept junk, and 10 digits bound the value.
  return /^[0-9]{1,10}$/.test(value) ? Number(value) : undefined;
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, n));
}

export function negotiate(options: TftpOption[], limits: OptionLimits, ctx: { netascii: boolean } = { netascii: false }): Negotiation {
  const maxBlock = clamp(Math.floor(limits.maxBlockSize), MIN_BLOCK_SIZE, MAX_BLOCK_SIZE);
  const maxWindow = clamp(Math.floor(limits.maxWindowSize), 1, MAX_WINDOW_SIZE);
  const n: Negotiation = { blockSize: DEFAULT_BLOCK_SIZE, windowSize: 1, tsize: false, accepted: [], ignored: [] };
  const ignore = (o: TftpOption, reason: string) => n.ignored.push({ name: o.name, value: o.value, reason });

  for (const o of options) {
    const v = decimal(o.value);
    switch (o.name) {
      case 'blksize': {
        if (v === undefined) ignore(o, 'not a decimal number');
        else if (v < MIN_BLOCK_SIZE) ignore(o, `below ${MIN_BLOCK_SIZE}`);
        else {
          // Larger than the link allows (curl asks 8192, some ROMs 65464): answer the cap; the
          // client must accept a smaller value from the OACK.
          n.blockSize = Math.min(v, maxBlock);
          n.accepted.push({ name: 'blksize', value: String(n.blockSize) });
        }
        break;
      }
      case 'windowsize': {
        if (v === undefined) ignore(o, 'not a decimal number');
        else if (v < 1) ignore(o, 'below 1');
        else {
          n.windowSize = Math.min(v, maxWindow);
          n.accepted.push({ name: 'windowsize', value: String(n.windowSize) });
        }
        break;
      }
      case 'timeout': {
        // RFC 2349: whole seconds 1-255. The npm `tftp` client sends milliseconds (1000); that
        // one option is dropped and the transfer still gets its blksize.
        if (v === undefined) ignore(o, 'not a decimal number');
        else if (v < 1 || v > 255) ignore(o, 'outside 1-255 seconds');
        else {
          n.timeoutMs = v * 1000;
          n.accepted.push({ name: 'timeout', value: String(v) });
        }
        break;
      }
      case 'tsize': {
        // The netascii size is only known after conversion; tftpd-hpa also offers tsize in octet
        // mode only.
        if (ctx.netascii) ignore(o, 'not offered in netascii mode');
        else if (v !== 0) ignore(o, 'must be 0 in a read request');
        else {
          n.tsize = true;
          n.accepted.push({ name: 'tsize', value: '0' });
        }
        break;
      }
      default:
        ignore(o, 'unknown option');
    }
  }
  return n;
}

/** OACK options for a file of `size` bytes, or none: RFC 2347 says no OACK when nothing was accepted. */
export function oackOptions(n: Negotiation, size: number): TftpOption[] {
  // curl rejects an OACK carrying "tsize 0" ("invalid tsize") and aborts, against tftpd-hpa too;
  // leaving tsize out for an empty file costs other clients nothing: the transfer says it is empty.
  const accepted = size === 0 ? n.accepted.filter((o) => o.name !== 'tsize') : n.accepted;
  return accepted.map((o) => (o.name === 'tsize' ? { name: 'tsize', value: String(size) } : o));
}
