/**
 * TFTP wire codec (RFC 1350, OACK from RFC 2347). Pure: no sockets, no I/O. Parsing never throws;
 * a packet from the network is hostile until proven otherwise, so every failure is a value.
 */

export const OP = { RRQ: 1, WRQ: 2, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const;

/** RFC 1350 error codes, plus 8 from RFC 2347 (option negotiation refused / transfer aborted). */
export const ERR = {
  NOT_DEFINED: 0,
  FILE_NOT_FOUND: 1,
  ACCESS_VIOLATION: 2,
  DISK_FULL: 3,
  ILLEGAL_OPERATION: 4,
  UNKNOWN_TID: 5,
  FILE_EXISTS: 6,
  NO_SUCH_USER: 7,
  OPTION_REFUSED: 8,
} as const;

export interface TftpOption {
  /** Lower-cased: RFC 2347 option names are case-insensitive (some ROMs send `BLKSIZE`). */
  name: string;
  value: string;
}

export type Packet =
  | { op: 'RRQ' | 'WRQ'; filename: string; mode: string; options: TftpOption[]; notes: string[] }
  | { op: 'DATA'; block: number; data: Buffer }
  | { op: 'ACK'; block: number }
  | { op: 'ERROR'; code: number; message: string }
  | { op: 'OACK'; options: TftpOption[]; notes: string[] };

export type ParseResult = { ok: true; packet: Packet } | { ok: false; reason: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** NUL-terminated strings from `start`; the last one may be unterminated (`terminated` says which). */
function splitStrings(buf: Uint8Array, start: number): { parts: Uint8Array[]; lastTerminated: boolean } {
  const parts: Uint8Array[] = [];
  let pos = start;
  let lastTerminated = true;
  while (pos < buf.length) {
    const nul = buf.indexOf(0, pos);
    if (nul === -1) {
      parts.push(buf.subarray(pos));
      lastTerminated = false;
      break;
    }
    parts.push(buf.subarray(pos, nul));
    pos = nul + 1;
  }
  return { parts, lastTerminated };
}

/**
 * Option pairs after a request's mode (or in an OACK). A damaged pair is dropped on its own and
 * described in `notes`; the request itself stays valid, as RFC 2347 servers (tftpd-hpa) behave.
 */
function parseOptions(parts: Uint8Array[], lastTerminated: boolean): { options: TftpOption[]; notes: string[] } {
  const options: TftpOption[] = [];
  const notes: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < parts.length; i += 2) {
    const nameBytes = parts[i]!;
    const valueBytes = parts[i + 1];
    // Some PXE ROMs pad requests with NUL bytes: empty names are padding, not options.
    if (nameBytes.length === 0) {
      if (valueBytes && valueBytes.length > 0) notes.push('value without an option name');
      continue;
    }
    const name = decodeUtf8(nameBytes)?.toLowerCase();
    if (name === undefined) {
      notes.push('option name is not UTF-8');
      continue;
    }
    if (valueBytes === undefined) {
      notes.push(`option ${name} has no value`);
      continue;
    }
    if (i + 1 === parts.length - 1 && !lastTerminated) {
      notes.push(`option ${name}: value not NUL-terminated`);
      continue;
    }
    const value = decodeUtf8(valueBytes);
    if (value === undefined) {
      notes.push(`option ${name}: value is not UTF-8`);
      continue;
    }
    if (seen.has(name)) {
      notes.push(`option ${name} repeated; the first one counts`);
      continue;
    }
    seen.add(name);
    options.push({ name, value });
  }
  return { options, notes };
}

export function parsePacket(buf: Uint8Array): ParseResult {
  if (buf.length < 2) return { ok: false, reason: 'shorter than an opcode' };
  const opcode = (buf[0]! << 8) | buf[1]!;
  switch (opcode) {
    case OP.RRQ:
    case OP.WRQ: {
      const { parts, lastTerminated } = splitStrings(buf, 2);
      if (parts.length === 0 || (parts.length === 1 && !lastTerminated)) return { ok: false, reason: 'unterminated filename' };
      const fileBytes = parts[0]!;
      if (fileBytes.length === 0) return { ok: false, reason: 'empty filename' };
      const filename = decodeUtf8(fileBytes);
      if (filename === undefined) return { ok: false, reason: 'filename is not UTF-8' };
      const modeBytes = parts[1];
      if (modeBytes === undefined || modeBytes.length === 0) return { ok: false, reason: 'missing transfer mode' };
      // A missing final NUL after the mode is tolerated: nothing can be misread by accepting it.
      const mode = (decodeUtf8(modeBytes) ?? '').toLowerCase();
      if (mode === '') return { ok: false, reason: 'transfer mode is not UTF-8' };
      const { options, notes } = parseOptions(parts.slice(2), lastTerminated);
      return { ok: true, packet: { op: opcode === OP.RRQ ? 'RRQ' : 'WRQ', filename, mode, options, notes } };
    }
    case OP.DATA: {
      if (buf.length < 4) return { ok: false, reason: 'DATA shorter than 4 bytes' };
      const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
      return { ok: true, packet: { op: 'DATA', block: b.readUInt16BE(2), data: b.subarray(4) } };
    }
    case OP.ACK: {
      if (buf.length < 4) return { ok: false, reason: 'ACK shorter than 4 bytes' };
      return { ok: true, packet: { op: 'ACK', block: (buf[2]! << 8) | buf[3]! } };
    }
    case OP.ERROR: {
      if (buf.length < 4) return { ok: false, reason: 'ERROR shorter than 4 bytes' };
      const end = buf.indexOf(0, 4);
      const msgBytes = buf.subarray(4, end === -1 ? buf.length : end);
      const message = decodeUtf8(msgBytes) ?? Buffer.from(msgBytes).toString('latin1');
      return { ok: true, packet: { op: 'ERROR', code: (buf[2]! << 8) | buf[3]!, message } };
    }
    case OP.OACK: {
      const { parts, lastTerminated } = splitStrings(buf, 2);
      const { options, notes } = parseOptions(parts, lastTerminated);
      return { ok: true, packet: { op: 'OACK', options, notes } };
    }
    default:
      return { ok: false, reason: `unknown opcode ${opcode}` };
  }
}

/** The opcode of a datagram, or -1; lets the server answer a malformed request instead of going silent. */
export function peekOpcode(buf: Uint8Array): number {
  return buf.length < 2 ? -1 : (buf[0]! << 8) | buf[1]!;
}

function strings(values: string[]): Buffer[] {
  const out: Buffer[] = [];
  for (const v of values) out.push(Buffer.from(v, 'utf8'), Buffer.alloc(1));
  return out;
}

function opcodeBytes(op: number): Buffer {
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16BE(op, 0);
  return b;
}

export function encodeRequest(op: 'RRQ' | 'WRQ', filename: string, mode: string, options: TftpOption[] = []): Buffer {
  const flat = [filename, mode];
  for (const o of options) flat.push(o.name, o.value);
  return Buffer.concat([opcodeBytes(op === 'RRQ' ? OP.RRQ : OP.WRQ), ...strings(flat)]);
}

/** Header for a DATA packet; the payload is written after it by the caller to avoid a copy. */
export function writeDataHeader(packet: Buffer, block: number): void {
  packet[0] = 0;
  packet[1] = OP.DATA;
  packet.writeUInt16BE(block & 0xffff, 2);
}

export function encodeData(block: number, data: Uint8Array): Buffer {
  const p = Buffer.allocUnsafe(4 + data.length);
  writeDataHeader(p, block);
  p.set(data, 4);
  return p;
}

export function encodeAck(block: number): Buffer {
  const p = Buffer.allocUnsafe(4);
  p[0] = 0;
  p[1] = OP.ACK;
  p.writeUInt16BE(block & 0xffff, 2);
  return p;
}

export function encodeError(code: number, message: string): Buffer {
  const head = Buffer.allocUnsafe(4);
  head[0] = 0;
  head[1] = OP.ERROR;
  head.writeUInt16BE(code & 0xffff, 2);
  return Buffer.concat([head, ...strings([message])]);
}

export function encodeOack(options: TftpOption[]): Buffer {
  const flat: string[] = [];
  for (const o of options) flat.push(o.name, o.value);
  return Buffer.concat([opcodeBytes(OP.OACK), ...strings(flat)]);
}
