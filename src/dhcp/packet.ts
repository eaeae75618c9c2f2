/**
 * BOOTP/DHCPv4 packet codec (RFC 951, RFC 2131 §2). Pure: Buffer in, Buffer out.
 *
 * `parsePacket` never throws: anything a hostile or broken client can put on the wire comes back
 * as `{ ok: false, reason }`, which the server logs at debug level and counts. The npm `dhcp`
 * package crashed on a truncated option (libeval §1), which is the failure this shape rules out.
 */
import { encodedOptionsLength, encodeOptionsInto, OPT, scanOptions, type DhcpOptions } from './options.js';

export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;
export const MAGIC_COOKIE = 0x63825363;
/** Fixed header (236) + magic cookie (4). */
export const HEADER_BYTES = 240;
/** RFC 1542 §2.1: relays and old clients drop BOOTP messages shorter than 300 bytes. */
export const BOOTP_MIN_BYTES = 300;
/** Flags bit 15: the client cannot receive unicast before it is configured (RFC 2131 §2). */
export const FLAG_BROADCAST = 0x8000;

export const MSG = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const;

const MSG_NAMES: Record<number, string> = { 1: 'DISCOVER', 2: 'OFFER', 3: 'REQUEST', 4: 'DECLINE', 5: 'ACK', 6: 'NAK', 7: 'RELEASE', 8: 'INFORM' };

export function messageTypeName(t: number | undefined): string {
  return t === undefined ? 'BOOTP' : (MSG_NAMES[t] ?? `type-${t}`);
}

export interface DhcpPacket {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** The full 16-byte chaddr field; the hardware address is its first `hlen` bytes. */
  chaddr: Buffer;
  /** Server host name; '' when the field carried options (overload). */
  sname: string;
  /** Boot file name; '' when the field carried options (overload). */
  file: string;
  options: DhcpOptions;
}

export type ParseResult = { ok: true; packet: DhcpPacket } | { ok: false; reason: string };

function ipAt(b: Buffer, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

/** A NUL-terminated text field; bytes after the first NUL are ignored. */
function cstr(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.toString('latin1', 0, nul === -1 ? b.length : nul);
}

export function parsePacket(buf: Buffer): ParseResult {
  if (!Buffer.isBuffer(buf)) return { ok: false, reason: 'not a buffer' };
  if (buf.length < HEADER_BYTES) return { ok: false, reason: `too short: ${buf.length} bytes, need at least ${HEADER_BYTES}` };
  const op = buf[0]!;
  if (op !== BOOTREQUEST && op !== BOOTREPLY) return { ok: false, reason: `bad op ${op}` };
  const hlen = buf[2]!;
  if (hlen > 16) return { ok: false, reason: `hlen ${hlen} exceeds the 16-byte chaddr field` };
  const cookie = buf.readUInt32BE(236);
  if (cookie !== MAGIC_COOKIE) return { ok: false, reason: `bad magic cookie 0x${cookie.toString(16).padStart(8, '0')}` };

  const options: DhcpOptions = new Map();
  const main = scanOptions(buf.subarray(HEADER_BYTES), options, 'options');
  if (!main.ok) return main;

  // Option 52 is honoured only in the options field: an overload option found inside `file` or
  // `sname` would ask for the same area to be read again (an "overload loop"), so it is ignored.
  const ovRaw = options.get(OPT.OVERLOAD);
  let overload = 0;
  if (ovRaw !== undefined) {
    if (ovRaw.length !== 1 || ovRaw[0]! < 1 || ovRaw[0]! > 3) return { ok: false, reason: `bad overload option (${ovRaw.toString('hex')})` };
    overload = ovRaw[0]!;
  }
  const fileArea = buf.subarray(108, 236);
  const snameArea = buf.subarray(44, 108);
  if (overload & 1) {
    const r = scanOptions(fileArea, options, 'file');
    if (!r.ok) return r;
  }
  if (overload & 2) {
    const r = scanOptions(snameArea, options, 'sname');
    if (!r.ok) return r;
  }
  // The first value of option 52 wins even if a later area repeated it.
  if (ovRaw !== undefined) options.set(OPT.OVERLOAD, ovRaw);

  const mt = options.get(OPT.MESSAGE_TYPE);
  if (mt !== undefined && mt.length !== 1) return { ok: false, reason: `message type option has length ${mt.length}` };

  return {
    ok: true,
    packet: {
      op,
      htype: buf[1]!,
      hlen,
      hops: buf[3]!,
      xid: buf.readUInt32BE(4),
      secs: buf.readUInt16BE(8),
      flags: buf.readUInt16BE(10),
      ciaddr: ipAt(buf, 12),
      yiaddr: ipAt(buf, 16),
      siaddr: ipAt(buf, 20),
      giaddr: ipAt(buf, 24),
      chaddr: Buffer.from(buf.subarray(28, 44)),
      sname: overload & 2 ? '' : cstr(snameArea),
      file: overload & 1 ? '' : cstr(fileArea),
      options,
    },
  };
}

function writeIp(b: Buffer, o: number, ip: string): void {
  // Most header addresses of a reply are unset; the buffer is already zero there.
  if (ip === '0.0.0.0') return;
  const p = ip.split('.');
  for (let i = 0; i < 4; i++) b[o + i] = Number(p[i] ?? 0) & 0xff;
}

export interface FormatOptions {
  /** Pad the packet with zeros to at least this many bytes (default: the 300-byte BOOTP minimum). */
  minBytes?: number;
}

/**
 * Serialises a packet. Options are written in map order, long ones split per RFC 3396, then END,
 * then zero padding to 300 bytes. `sname`/`file` longer than their fields are cut (a boot URL too
 * long for `file` still travels whole in option 67).
 */
export function formatPacket(p: DhcpPacket, fo: FormatOptions = {}): Buffer {
  const size = Math.max(fo.minBytes ?? BOOTP_MIN_BYTES, HEADER_BYTES + encodedOptionsLength(p.options));
  const b = Buffer.alloc(size);
  b[0] = p.op;
  b[1] = p.htype;
  b[2] = p.hlen;
  b[3] = p.hops;
  b.writeUInt32BE(p.xid >>> 0, 4);
  b.writeUInt16BE(p.secs & 0xffff, 8);
  b.writeUInt16BE(p.flags & 0xffff, 10);
  writeIp(b, 12, p.ciaddr);
  writeIp(b, 16, p.yiaddr);
  writeIp(b, 20, p.siaddr);
  writeIp(b, 24, p.giaddr);
  p.chaddr.copy(b, 28, 0, Math.min(16, p.chaddr.length));
  if (p.sname) b.write(p.sname, 44, 63, 'latin1');
  if (p.file) b.write(p.file, 108, 127, 'latin1');
  b.writeUInt32BE(MAGIC_COOKIE, 236);
  encodeOptionsInto(p.options, b, HEADER_BYTES);
  return b;
}

/** The client hardware address in canonical lower-case colon form (first `hlen` bytes of chaddr). */
export function macOf(p: DhcpPacket): string {
  const n = Math.min(p.hlen, 16);
  let s = '';
  for (let i = 0; i < n; i++) s += i === 0 ? HEX[p.chaddr[i]!]! : `:${HEX[p.chaddr[i]!]!}`;
  return s;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function macToChaddr(mac: string): Buffer {
  const b = Buffer.alloc(16);
  mac.split(':').forEach((h, i) => {
    if (i < 16) b[i] = parseInt(h, 16) & 0xff;
  });
  return b;
}
