/**
 * DHCPv4 options (RFC 2132) as raw bytes plus typed views. Pure: Buffer in, Buffer out, and no
 * decoder here ever throws: a value of the wrong length reads as `undefined`, never as garbage.
 *
 * Options are kept as a Map code -> value, in the order the client sent them, with the instances
 * of a split long option already concatenated (RFC 3396). Unknown codes stay as bytes, so a reply
 * can echo what it does not understand (option 82 sub-options, vendor blobs).
 */

export const OPT = {
  PAD: 0,
  SUBNET_MASK: 1,
  ROUTERS: 3,
  DNS_SERVERS: 6,
  HOSTNAME: 12,
  DOMAIN_NAME: 15,
  BROADCAST: 28,
  VENDOR_SPECIFIC: 43,
  REQUESTED_IP: 50,
  LEASE_TIME: 51,
  OVERLOAD: 52,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAM_REQUEST_LIST: 55,
  MESSAGE: 56,
  MAX_MESSAGE_SIZE: 57,
  RENEWAL_TIME: 58,
  REBINDING_TIME: 59,
  VENDOR_CLASS: 60,
  CLIENT_ID: 61,
  TFTP_SERVER: 66,
  BOOTFILE: 67,
  USER_CLASS: 77,
  RELAY_AGENT: 82,
  CLIENT_ARCH: 93,
  CLIENT_NDI: 94,
  CLIENT_UUID: 97,
  IPXE: 175,
  END: 255,
} as const;

export type DhcpOptions = Map<number, Buffer>;

// ---- value encoders (for building replies) ----

export function ipBytes(ip: string): Buffer {
  const b = Buffer.alloc(4);
  const parts = ip.split('.');
  for (let i = 0; i < 4; i++) b[i] = Number(parts[i]) & 0xff;
  return b;
}

export function ipsBytes(ips: readonly string[]): Buffer {
  return Buffer.concat(ips.map(ipBytes));
}

export function u32Bytes(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(Math.max(0, Math.min(0xffffffff, Math.floor(n))) >>> 0);
  return b;
}

export function u16Bytes(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n & 0xffff);
  return b;
}

export function strBytes(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}

// ---- value decoders (never throw; undefined on a bad length) ----

export function ipFrom(b: Buffer | undefined, offset = 0): string | undefined {
  if (!b || b.length < offset + 4) return undefined;
  return `${b[offset]}.${b[offset + 1]}.${b[offset + 2]}.${b[offset + 3]}`;
}

function ipOf(b: Buffer | undefined): string | undefined {
  return b && b.length === 4 ? ipFrom(b) : undefined;
}

function ipsOf(b: Buffer | undefined): string[] | undefined {
  if (!b || b.length === 0 || b.length % 4 !== 0) return undefined;
  const out: string[] = [];
  for (let i = 0; i < b.length; i += 4) out.push(ipFrom(b, i)!);
  return out;
}

function u32Of(b: Buffer | undefined): number | undefined {
  return b && b.length === 4 ? b.readUInt32BE(0) : undefined;
}

function u16Of(b: Buffer | undefined): number | undefined {
  return b && b.length === 2 ? b.readUInt16BE(0) : undefined;
}

/**
 * Text options. Several firmwares (and dnsmasq, pxe-lab G9) NUL-terminate strings such as the
 * boot file or host name; the terminator is not part of the value.
 */
function strOf(b: Buffer | undefined): string | undefined {
  if (!b || b.length === 0) return undefined;
  let end = b.length;
  while (end > 0 && b[end - 1] === 0) end--;
  return b.toString('latin1', 0, end);
}

/** Sub-options in code/length/value form (43, 82, 175). Undefined when a length lies. */
export function parseSubOptions(b: Buffer | undefined): Map<number, Buffer> | undefined {
  if (!b) return undefined;
  const out = new Map<number, Buffer>();
  let i = 0;
  while (i < b.length) {
    const code = b[i]!;
    if (code === 0) {
      i++;
      continue;
    }
    if (code === 255) break;
    if (i + 1 >= b.length) return undefined;
    const len = b[i + 1]!;
    if (i + 2 + len > b.length) return undefined;
    out.set(code, b.subarray(i + 2, i + 2 + len));
    i += 2 + len;
  }
  return out;
}

/**
 * RFC 3004 user class: a list of length-prefixed class names. iPXE, however, sends option 77 as
 * the bare string "iPXE" (no length byte), as do many other clients; a value that does not parse
 * as a well-formed list is taken as one opaque name.
 */
function userClassOf(b: Buffer | undefined): string[] | undefined {
  if (!b || b.length === 0) return undefined;
  const names: string[] = [];
  let i = 0;
  let wellFormed = true;
  while (i < b.length) {
    const len = b[i]!;
    if (len === 0 || i + 1 + len > b.length) {
      wellFormed = false;
      break;
    }
    names.push(b.toString('latin1', i + 1, i + 1 + len));
    i += 1 + len;
  }
  if (wellFormed && names.every((n) => /^[\x20-\x7e]+$/.test(n))) return names;
  return [strOf(b) ?? ''];
}

/** Option 93 is a list of 16-bit architecture types (RFC 4578); clients send one. */
function archOf(b: Buffer | undefined): number[] | undefined {
  if (!b || b.length === 0 || b.length % 2 !== 0) return undefined;
  const out: number[] = [];
  for (let i = 0; i < b.length; i += 2) out.push(b.readUInt16BE(i));
  return out;
}

/** Option 97: type 0 followed by a 16-byte UUID (RFC 4578 §2.5); kept as lower-case hex. */
function uuidOf(b: Buffer | undefined): string | undefined {
  if (!b || b.length !== 17 || b[0] !== 0) return undefined;
  return b.subarray(1).toString('hex');
}

/** Option 94: type 1 (UNDI), major, minor. */
function ndiOf(b: Buffer | undefined): { type: number; major: number; minor: number } | undefined {
  if (!b || b.length !== 3) return undefined;
  return { type: b[0]!, major: b[1]!, minor: b[2]! };
}

export interface TypedOptions {
  subnetMask?: string;
  routers?: string[];
  dnsServers?: string[];
  hostname?: string;
  domainName?: string;
  broadcastAddress?: string;
  /** Option 43 as PXE vendor sub-options (only meaningful with option 60 PXEClient). */
  vendorSpecific?: Map<number, Buffer>;
  requestedIp?: string;
  leaseTime?: number;
  overload?: number;
  messageType?: number;
  serverId?: string;
  paramRequestList?: number[];
  message?: string;
  maxMessageSize?: number;
  renewalTime?: number;
  rebindingTime?: number;
  vendorClass?: string;
  /** Option 61 as lower-case hex (type byte included). */
  clientId?: string;
  tftpServer?: string;
  bootFile?: string;
  userClass?: string[];
  /** Option 82 sub-options (1 circuit id, 2 remote id, ...). */
  relayAgent?: Map<number, Buffer>;
  clientArch?: number[];
  clientNdi?: { type: number; major: number; minor: number };
  clientUuid?: string;
  /** Option 175: iPXE's encapsulated feature options; its presence alone says "iPXE". */
  ipxe?: Map<number, Buffer>;
}

/**
 * Typed view of the listed options. A value with a bad length is left out, not guessed. Only the
 * options present are visited (a request carries a handful of the ~30 codes known here), which
 * keeps this off the profile of the packet path.
 */
export function typed(o: DhcpOptions): TypedOptions {
  const t: TypedOptions = {};
  for (const [code, v] of o) {
    switch (code) {
      case OPT.SUBNET_MASK:
        setIf(t, 'subnetMask', ipOf(v));
        break;
      case OPT.ROUTERS:
        setIf(t, 'routers', ipsOf(v));
        break;
      case OPT.DNS_SERVERS:
        setIf(t, 'dnsServers', ipsOf(v));
        break;
      case OPT.HOSTNAME:
        setIf(t, 'hostname', strOf(v));
        break;
      case OPT.DOMAIN_NAME:
        setIf(t, 'domainName', strOf(v));
        break;
      case OPT.BROADCAST:
        setIf(t, 'broadcastAddress', ipOf(v));
        break;
      case OPT.VENDOR_SPECIFIC:
        setIf(t, 'vendorSpecific', parseSubOptions(v));
        break;
      case OPT.REQUESTED_IP:
        setIf(t, 'requestedIp', ipOf(v));
        break;
      case OPT.LEASE_TIME:
        setIf(t, 'leaseTime', u32Of(v));
        break;
      case OPT.OVERLOAD:
        if (v.length === 1) t.overload = v[0]!;
        break;
      case OPT.MESSAGE_TYPE:
        if (v.length === 1) t.messageType = v[0]!;
        break;
      case OPT.SERVER_ID:
        setIf(t, 'serverId', ipOf(v));
        break;
      case OPT.PARAM_REQUEST_LIST:
        if (v.length > 0) t.paramRequestList = [...v];
        break;
      case OPT.MESSAGE:
        setIf(t, 'message', strOf(v));
        break;
      case OPT.MAX_MESSAGE_SIZE:
        setIf(t, 'maxMessageSize', u16Of(v));
        break;
      case OPT.RENEWAL_TIME:
        setIf(t, 'renewalTime', u32Of(v));
        break;
      case OPT.REBINDING_TIME:
        setIf(t, 'rebindingTime', u32Of(v));
        break;
      case OPT.VENDOR_CLASS:
        setIf(t, 'vendorClass', strOf(v));
        break;
      case OPT.CLIENT_ID:
        if (v.length >= 2) t.clientId = v.toString('hex');
        break;
      case OPT.TFTP_SERVER:
        setIf(t, 'tftpServer', strOf(v));
        break;
      case OPT.BOOTFILE:
        setIf(t, 'bootFile', strOf(v));
        break;
      case OPT.USER_CLASS:
        setIf(t, 'userClass', userClassOf(v));
        break;
      case OPT.RELAY_AGENT:
        setIf(t, 'relayAgent', parseSubOptions(v));
        break;
      case OPT.CLIENT_ARCH:
        setIf(t, 'clientArch', archOf(v));
        break;
      case OPT.CLIENT_NDI:
        setIf(t, 'clientNdi', ndiOf(v));
        break;
      case OPT.CLIENT_UUID:
        setIf(t, 'clientUuid', uuidOf(v));
        break;
      case OPT.IPXE:
        t.ipxe = parseSubOptions(v) ?? new Map();
        break;
    }
  }
  return t;
}

function setIf<K extends keyof TypedOptions>(t: TypedOptions, k: K, v: TypedOptions[K] | undefined): void {
  if (v !== undefined) t[k] = v;
}

/**
 * PXE option 43 that makes both iPXE and EDK2/OVMF take the boot file from this very offer:
 * sub-option 6 (PXE_DISCOVERY_CONTROL) = 0x08 ("use the boot file in the offer, no boot server
 * discovery"). Without option 43 EDK2 rejects a PXEClient offer ("PXE-E16"), and without option
 * 60 PXEClient iPXE waits 2-3 s for ProxyDHCP offers (pxe-lab G8).
 */
export const PXE_DISCOVERY_CONTROL_USE_OFFER = Buffer.from([0x06, 0x01, 0x08, 0xff]);

/** Bytes `encodeOptionsInto` writes for `o`, END included. */
export function encodedOptionsLength(o: DhcpOptions): number {
  let n = 1;
  for (const [code, value] of o) {
    if (code === OPT.PAD || code === OPT.END) continue;
    n += value.length === 0 ? 2 : value.length + 2 * Math.ceil(value.length / 255);
  }
  return n;
}

/**
 * Writes options as code/length/value at `offset` of `out` (which must have room for
 * `encodedOptionsLength(o)` bytes), splitting any value over 255 bytes into consecutive instances
 * of the same code (RFC 3396), then END. Pad and end codes in the map are skipped. Returns the
 * offset after END.
 */
export function encodeOptionsInto(o: DhcpOptions, out: Buffer, offset: number): number {
  let at = offset;
  for (const [code, value] of o) {
    if (code === OPT.PAD || code === OPT.END) continue;
    if (value.length === 0) {
      out[at++] = code;
      out[at++] = 0;
      continue;
    }
    for (let i = 0; i < value.length; i += 255) {
      const len = Math.min(255, value.length - i);
      out[at++] = code;
      out[at++] = len;
      value.copy(out, at, i, i + len);
      at += len;
    }
  }
  out[at++] = OPT.END;
  return at;
}

/** The options area alone: code/length/value, long values split (RFC 3396), then END. */
export function encodeOptions(o: DhcpOptions): Buffer {
  const out = Buffer.alloc(encodedOptionsLength(o));
  encodeOptionsInto(o, out, 0);
  return out;
}

export type OptionsScan = { ok: true; sawEnd: boolean } | { ok: false; reason: string };

/**
 * Reads one option area into `into`, concatenating repeated codes (RFC 3396: the instances of a
 * split option appear in order across the options field, then `file`, then `sname`). Stops at END.
 * A length that runs past the area is a malformed packet, not a value to truncate.
 */
export function scanOptions(area: Buffer, into: DhcpOptions, where: string): OptionsScan {
  let i = 0;
  while (i < area.length) {
    const code = area[i]!;
    if (code === OPT.PAD) {
      i++;
      continue;
    }
    if (code === OPT.END) return { ok: true, sawEnd: true };
    if (i + 1 >= area.length) return { ok: false, reason: `option ${code} in ${where} has no length byte` };
    const len = area[i + 1]!;
    if (i + 2 + len > area.length) return { ok: false, reason: `option ${code} in ${where} claims ${len} bytes, ${area.length - i - 2} left` };
    const value = area.subarray(i + 2, i + 2 + len);
    const prev = into.get(code);
    into.set(code, prev ? Buffer.concat([prev, value]) : Buffer.from(value));
    i += 2 + len;
  }
  return { ok: true, sawEnd: false };
}
