/**
 * A strict reader of HTTP/1.x request heads, for the few requests the appliance answers below
 * Node's HTTP parser (src/httpboot/socket-fast-path.ts). It says yes only to the plainest shape (`GET` or
 * `HEAD`, origin-form target, HTTP/1.0 or 1.1, CRLF everywhere, token header names, visible-ASCII
 * values, no body) and leaves everything else, including whatever it merely finds unusual, to
 * Node, whose answer (or 400) is then the one the client gets. Two parsers disagreeing about where
 * a request ends is how smuggling works, so this one never guesses: a head it takes is one Node
 * reads the same way, byte for byte, and anything with a body, a framing header it does not need,
 * or a connection option it does not know is not its business.
 *
 * Allocation free: it walks the bytes once and fills a caller-owned record.
 */

export interface Http1Head {
  /** `HEAD` (headers only) rather than `GET`. */
  head: boolean;
  /** The request target: bytes [targetStart, targetEnd) of the buffer, `/` first, visible ASCII. */
  targetStart: number;
  targetEnd: number;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: number;
  /** Whether the connection persists after the answer, as Node decides it (version and `Connection`). */
  keepAlive: boolean;
}

export function emptyHead(): Http1Head {
  return { head: false, targetStart: 0, targetEnd: 0, minor: 1, keepAlive: true };
}

/** Not a complete head within the buffer (or within the size limit): wait, or rather let Node wait. */
export const HEAD_INCOMPLETE = -1;
/** Not a request this reader vouches for: Node's to parse, and to accept or refuse. */
export const HEAD_REFUSED = -2;

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;
const COMMA = 0x2c;
const SLASH = 0x2f;

/** RFC 9110 tchar: the bytes a header name (and a connection option) may be made of. */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TCHAR[c.charCodeAt(0)] = 1;

// The header names that change how a request is framed or answered, matched without case.
const HOST = bytes('host');
const CONTENT_LENGTH = bytes('content-length');
const CONNECTION = bytes('connection');
// Any of these present: not ours. Bodies (transfer-encoding), interim answers (expect), protocol
// switches (upgrade), llhttp's alias of connection (proxy-connection), HTTP/2 cleartext (http2-settings).
const REFUSED_NAMES = ['transfer-encoding', 'expect', 'upgrade', 'proxy-connection', 'http2-settings'].map(bytes);
const CLOSE = bytes('close');
const KEEP_ALIVE = bytes('keep-alive');

function bytes(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

/** Whether buf[start, end) is `lower` ignoring ASCII case (`lower` is lowercase already). */
function sameName(buf: Uint8Array, start: number, end: number, lower: Uint8Array): boolean {
  if (end - start !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    // `| 0x20` folds A-Z onto a-z; every byte it would fold wrongly is absent from the names above.
    if ((buf[start + i]! | 0x20) !== lower[i]) return false;
  }
  return true;
}

function startsWith(buf: Uint8Array, at: number, end: number, s: Uint8Array): boolean {
  if (end - at < s.length) return false;
  for (let i = 0; i < s.length; i++) if (buf[at + i] !== s[i]) return false;
  return true;
}

const GET_SP = bytes('GET ');
const HEAD_SP = bytes('HEAD ');
const HTTP_1 = bytes(' HTTP/1.');

const CONN_CLOSE = 1;
const CONN_KEEP_ALIVE = 2;

/**
 * The options of one `Connection` value, [start, end) with no surrounding whitespace, as flags; or
 * -1 for anything but a comma list of `close` and `keep-alive` (an unknown option may name a
 * hop-by-hop header, `upgrade` asks for a switch: Node's to weigh).
 */
function connectionOptions(buf: Uint8Array, start: number, end: number): number {
  let flags = 0;
  let i = start;
  for (;;) {
    const tokenStart = i;
    while (i < end && TCHAR[buf[i]!]) i++;
    if (sameName(buf, tokenStart, i, CLOSE)) flags |= CONN_CLOSE;
    else if (sameName(buf, tokenStart, i, KEEP_ALIVE)) flags |= CONN_KEEP_ALIVE;
    else return -1;
    while (i < end && (buf[i] === SP || buf[i] === HTAB)) i++;
    if (i === end) return flags;
    if (buf[i] !== COMMA) return -1;
    i++;
    while (i < end && (buf[i] === SP || buf[i] === HTAB)) i++;
  }
}

/**
 * Reads the request head starting at buf[start], looking no further than `limit` bytes. Returns the
 * offset just past its blank line (where the next request starts, as there is no body) with `out`
 * filled, or HEAD_INCOMPLETE, or HEAD_REFUSED.
 */
export function readHead(buf: Uint8Array, start: number, limit: number, out: Http1Head): number {
  const end = Math.min(buf.length, start + limit);
  // A head that does not fit is Node's (it answers 431 past its own limit), as is one still arriving.
  const short = end < buf.length ? HEAD_REFUSED : HEAD_INCOMPLETE;

  // Request line: exactly `GET ` or `HEAD `, a target, ` HTTP/1.0` or ` HTTP/1.1`, CRLF.
  let i: number;
  if (startsWith(buf, start, end, GET_SP)) {
    out.head = false;
    i = start + GET_SP.length;
  } else if (startsWith(buf, start, end, HEAD_SP)) {
    out.head = true;
    i = start + HEAD_SP.length;
  } else {
    // Partial `GET`/`HEAD` still arriving versus anything else: the same to the caller, but say which.
    return prefixOf(buf, start, end, GET_SP) || prefixOf(buf, start, end, HEAD_SP) ? short : HEAD_REFUSED;
  }
  // Origin form only: absolute-form (`http://…`), authority-form and `*` are not ours.
  if (i < end && buf[i] !== SLASH) return HEAD_REFUSED;
  out.targetStart = i;
  while (i < end && buf[i]! > SP && buf[i]! < 0x7f) i++;
  if (i === end) return short;
  out.targetEnd = i;
  if (!startsWith(buf, i, end, HTTP_1)) return prefixOf(buf, i, end, HTTP_1) ? short : HEAD_REFUSED;
  i += HTTP_1.length;
  if (end - i < 3) return short;
  const minor = buf[i];
  if ((minor !== 0x30 && minor !== 0x31) || buf[i + 1] !== CR || buf[i + 2] !== LF) return HEAD_REFUSED;
  out.minor = minor - 0x30;
  i += 3;

  // Header fields: name ":" OWS value OWS CRLF, until an empty line.
  let hosts = 0;
  let contentLengths = 0;
  let connection = 0;
  for (;;) {
    if (i >= end) return short;
    if (buf[i] === CR) {
      if (i + 1 >= end) return short;
      if (buf[i + 1] !== LF) return HEAD_REFUSED;
      i += 2;
      break;
    }
    const nameStart = i;
    // A line starting with whitespace (obs-fold) stops here: an empty name.
    while (i < end && TCHAR[buf[i]!]) i++;
    if (i === end) return short;
    if (i === nameStart || buf[i] !== COLON) return HEAD_REFUSED;
    const nameEnd = i++;
    while (i < end && (buf[i] === SP || buf[i] === HTAB)) i++;
    const valueStart = i;
    let valueEnd = i;
    for (; i < end; i++) {
      const c = buf[i]!;
      if (c > SP && c < 0x7f) valueEnd = i + 1;
      // NUL, bare CR or LF, DEL, obs-text: Node may take some of these; it can have them all.
      else if (c !== SP && c !== HTAB) break;
    }
    if (i + 1 >= end) return short;
    if (buf[i] !== CR || buf[i + 1] !== LF) return HEAD_REFUSED;
    i += 2;

    const nameLength = nameEnd - nameStart;
    if (nameLength === HOST.length && sameName(buf, nameStart, nameEnd, HOST)) {
      hosts++;
    } else if (nameLength === CONTENT_LENGTH.length && sameName(buf, nameStart, nameEnd, CONTENT_LENGTH)) {
      // `Content-Length: 0`, once, is a bodiless GET; any other value (or a second one) is framing
      // for Node to judge.
      if (++contentLengths > 1 || valueEnd - valueStart !== 1 || buf[valueStart] !== 0x30) return HEAD_REFUSED;
    } else if (nameLength === CONNECTION.length && sameName(buf, nameStart, nameEnd, CONNECTION)) {
      const flags = connectionOptions(buf, valueStart, valueEnd);
      if (flags < 0) return HEAD_REFUSED;
      connection |= flags;
    } else {
      for (const refused of REFUSED_NAMES) if (sameName(buf, nameStart, nameEnd, refused)) return HEAD_REFUSED;
    }
  }
  // HTTP/1.1 without a Host is Node's 400 to give; two Hosts, an ambiguity we leave to it.
  if (hosts > 1 || (out.minor === 1 && hosts === 0)) return HEAD_REFUSED;
  // Both: llhttp's answer differs by version (1.0 keeps the connection); not a case worth owning.
  if (connection === (CONN_CLOSE | CONN_KEEP_ALIVE)) return HEAD_REFUSED;
  out.keepAlive = out.minor === 1 ? connection !== CONN_CLOSE : connection === CONN_KEEP_ALIVE;
  return i;
}

/** Whether buf[start, end) is a proper prefix of `s` (the rest may yet arrive). */
function prefixOf(buf: Uint8Array, start: number, end: number, s: Uint8Array): boolean {
  if (end - start >= s.length) return false;
  for (let i = start; i < end; i++) if (buf[i] !== s[i - start]) return false;
  return true;
}
