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

/** Typed view of the listed options. A value with a bad length is left out, not guessed. */
export function typed(o: DhcpOptions): TypedOptions {
  const t: TypedOptions = {};
  const set = <K extends keyof TypedOptions>(k: K, v: TypedOptions[K] | undefined): void => {
    if (v !== undefined) t[k] = v;
  };
  set('subnetMask', ipOf(o.get(OPT.SUBNET_MASK)));
  set('routers', ipsOf(o.get(OPT.ROUTERS)));
  set('dnsServers', ipsOf(o.get(OPT.DNS_SERVERS)));
  set('hostname', strOf(o.get(OPT.HOSTNAME)));
  set('domainName', strOf(o.get(OPT.DOMAIN_NAME)));
  set('broadcastAddress', ipOf(o.get(OPT.BROADCAST)));
  set('vendorSpecific', parseSubOptions(o.get(OPT.VENDOR_SPECIFIC)));
  set('requestedIp', ipOf(o.get(OPT.REQUESTED_IP)));
  set('leaseTime', u32Of(o.get(OPT.LEASE_TIME)));
  const ov = o.get(OPT.OVERLOAD);
  set('overload', ov && ov.length === 1 ? ov[0] : undefined);
  const mt = o.get(OPT.MESSAGE_TYPE);
  set('messageType', mt && mt.length === 1 ? mt[0] : undefined);
  set('serverId', ipOf(o.get(OPT.SERVER_ID)));
  const prl = o.get(OPT.PARAM_REQUEST_LIST);
  set('paramRequestList', prl && prl.length > 0 ? [...prl] : undefined);
  set('message', strOf(o.get(OPT.MESSAGE)));
  set('maxMessageSize', u16Of(o.get(OPT.MAX_MESSAGE_SIZE)));
  set('renewalTime', u32Of(o.get(OPT.RENEWAL_TIME)));
  set('rebindingTime', u32Of(o.get(OPT.REBINDING_TIME)));
  set('vendorClass', strOf(o.get(OPT.VENDOR_CLASS)));
  const cid = o.get(OPT.CLIENT_ID);
  set('clientId', cid && cid.length >= 2 ? cid.toString('hex') : undefined);
  set('tftpServer', strOf(o.get(OPT.TFTP_SERVER)));
  set('bootFile', strOf(o.get(OPT.BOOTFILE)));
  set('userClass', userClassOf(o.get(OPT.USER_CLASS)));
  set('relayAgent', parseSubOptions(o.get(OPT.RELAY_AGENT)));
  set('clientArch', archOf(o.get(OPT.CLIENT_ARCH)));
  set('clientNdi', ndiOf(o.get(OPT.CLIENT_NDI)));
  set('clientUuid', uuidOf(o.get(OPT.CLIENT_UUID)));
  const ipxe = o.get(OPT.IPXE);
  set('ipxe', ipxe ? (parseSubOptions(ipxe) ?? new Map()) : undefined);
  return t;
}

/**
 * PXE option 43 that makes both iPXE and EDK2/OVMF take the boot file from this very offer:
 * sub-option 6 (PXE_DISCOVERY_CONTROL) = 0x08 ("use the boot file in the offer, no boot server
 * discovery"). Without option 43 EDK2 rejects a PXEClient offer ("PXE-E16"), and without option
 * 60 PXEClient iPXE waits 2-3 s for ProxyDHCP offers (pxe-lab G8).
 */
export const PXE_DISCOVERY_CONTROL_USE_OFFER = Buffer.from([0x06, 0x01, 0x08, 0xff]);

/**
 * Writes options as code/length/value, splitting any value over 255 bytes into consecutive
 * instances of the same code (RFC 3396), then END. Pad and end codes in the map are skipped.
 */
export function encodeOptions(o: DhcpOptions): Buffer {
  const parts: Buffer[] = [];
  for (const [code, value] of o) {
    if (code === OPT.PAD || code === OPT.END) continue;
    if (value.length === 0) {
      parts.push(Buffer.from([code, 0]));
      continue;
    }
    for (let i = 0; i < value.length; i += 255) {
      const chunk = value.subarray(i, Math.min(value.length, i + 255));
      parts.push(Buffer.from([code, chunk.length]), chunk);
    }
  }
  parts.push(Buffer.from([OPT.END]));
  return Buffer.concat(parts);
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
