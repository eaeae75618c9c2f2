/**
 * The strict request-head reader the socket-level fast path trusts (src/httpboot/http1-head.ts): what it
 * takes, what it waits for, what it leaves to Node; and, against Node's own parser, that every head
 * it takes is one Node reads the same way (method, target, version, persistence, where it ends).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { emptyHead, HEAD_INCOMPLETE, HEAD_REFUSED, readHead, type Http1Head } from '../../src/httpboot/http1-head.js';

const LIMIT = 16 * 1024;

function read(text: string | Buffer, start = 0, limit = LIMIT): { end: number; head: Http1Head; target: string } {
  const buf = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
  const head = emptyHead();
  const end = readHead(buf, start, limit, head);
  return { end, head, target: end >= 0 ? buf.toString('latin1', head.targetStart, head.targetEnd) : '' };
}

const IPXE = 'GET /boot/ipxe/52-54-00-12-34-56 HTTP/1.1\r\nConnection: keep-alive\r\nUser-Agent: iPXE/1.21.1+ (g988d2)\r\nHost: 10.0.0.1\r\n\r\n';
const WRK = 'GET /boot/ipxe/52:54:00:00:00:01 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n';
const CURL = 'GET /boot/ipxe/a HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n';

describe('HTTP/1 request heads: what the reader takes', () => {
  it('takes plain GET and HEAD heads, ending at the blank line', () => {
    for (const text of [IPXE, WRK, CURL]) {
      const r = read(text);
      assert.equal(r.end, text.length, text);
      assert.equal(r.head.head, false);
      assert.equal(r.head.minor, 1);
      assert.equal(r.head.keepAlive, true);
      assert.match(r.target, /^\/boot\/ipxe\//);
    }
    const h = read('HEAD /boot/ipxe/x HTTP/1.1\r\nHost: h\r\n\r\n');
    assert.deepEqual([h.end > 0, h.head.head, h.target], [true, true, '/boot/ipxe/x']);
  });

  it('decides persistence as Node does: HTTP/1.1 unless close, HTTP/1.0 only with keep-alive', () => {
    const cases: [string, boolean][] = [
      ['GET / HTTP/1.1\r\nHost: h\r\n\r\n', true],
      ['GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n', false],
      ['GET / HTTP/1.1\r\nHost: h\r\nconnection:CLOSE \r\n\r\n', false],
      ['GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n', true],
      ['GET / HTTP/1.1\r\nHost: h\r\nConnection: close,close\r\n\r\n', false],
      ['GET / HTTP/1.0\r\n\r\n', false],
      ['GET / HTTP/1.0\r\nHost: h\r\n\r\n', false],
      ['GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n', true],
      ['GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: keep-alive\r\n\r\n', true],
      ['GET / HTTP/1.0\r\nConnection: close\r\n\r\n', false],
    ];
    for (const [text, keepAlive] of cases) {
      const r = read(text);
      assert.equal(r.end, text.length, JSON.stringify(text));
      assert.equal(r.head.keepAlive, keepAlive, JSON.stringify(text));
    }
  });

  it('takes any header names and values in the strict grammar, Content-Length: 0 once, whitespace around values', () => {
    const text =
      'GET /x HTTP/1.1\r\nhOsT: h\r\nContent-Length: \t0 \t\r\nX-Empty:\r\nX-Tab:\ta\tb\r\n' +
      "!#$%&'*+-.^_`|~09azAZ: v!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\r\nAccept-Encoding: gzip, br\r\n\r\n";
    assert.equal(read(text).end, text.length);
  });

  it('reads pipelined heads one at a time, from any offset', () => {
    const two = WRK + CURL;
    const first = read(two);
    assert.equal(first.end, WRK.length);
    const second = read(two, first.end);
    assert.equal(second.end, two.length);
    assert.equal(second.target, '/boot/ipxe/a');
  });

  it('waits (HEAD_INCOMPLETE) on every proper prefix of a head it takes, and never takes one', () => {
    for (const text of [IPXE, WRK, CURL, 'HEAD /a HTTP/1.0\r\n\r\n']) {
      for (let n = 0; n < text.length; n++) assert.equal(read(text.slice(0, n)).end, HEAD_INCOMPLETE, `${JSON.stringify(text)} cut at ${n}`);
    }
  });

  it('gives up (HEAD_REFUSED) on a head larger than its limit, and waits while below it', () => {
    const big = `GET /x HTTP/1.1\r\nHost: h\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`;
    assert.equal(read(big).end, HEAD_REFUSED);
    assert.equal(read(big.slice(0, 10_000)).end, HEAD_INCOMPLETE);
    assert.equal(read(big, 0, 100_000).end, big.length, 'the limit is the caller\'s');
    assert.equal(read(`GET /${'a'.repeat(20_000)}`).end, HEAD_REFUSED, 'a huge request line');
  });
});

describe('HTTP/1 request heads: what the reader leaves to Node', () => {
  const refused: [string, string][] = [
    ['lowercase method', 'get /x HTTP/1.1\r\nHost: h\r\n\r\n'],
    ['another method', 'POST /x HTTP/1.1\r\nHost: h\r\n\r\n'],
    ['OPTIONS *', 'OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n'],
    ['a longer method', 'GETS /x HTTP/1.1\r\nHost: h\r\n\r\n'],
    ['CONNECT', 'CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n'],
    ['absolute form', 'GET http://h/boot/ipxe/a HTTP/1.1\r\nHost: h\r\n\r\n'],
    ['asterisk form', 'GET * HTTP/1.1\r\nHost: h\r\n\r\n'],
    ['authority form', 'GET h:80 HTTP/1.1\r\nHost: h\r\n\r\n'],
    ['HTTP/0.9', 'GET /boot/ipxe/a\r\n\r\n'],
    ['the HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'],
    ['HTTP/2.0', 'GET /x HTTP/2.0\r\nHost: h\r\n\r\n'],
    ['HTTP/1.2', 'GET /x HTTP/1.2\r\nHost: h\r\n\r\n'],
    ['HTTP/1.10', 'GET /x HTTP/1.10\r\nHost: h\r\n\r\n'],
    ['lowercase version', 'GET /x http/1.1\r\nHost: h\r\n\r\n'],
    ['two spaces after the method', 'GET  /x HTTP/1.1\r\nHost: h\r\n\r\n'],
    ['two spaces before the version', 'GET /x  HTTP/1.1\r\nHost: h\r\n\r\n'],
    ['a tab for a space', 'GET\t/x HTTP/1.1\r\nHost: h\r\n\r\n'],
    ['a space at the end of the request line', 'GET /x HTTP/1.1 \r\nHost: h\r\n\r\n'],
    ['an empty line first', '\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n'],
    ['bare LF after the request line', 'GET /x HTTP/1.1\nHost: h\r\n\r\n'],
    ['bare LF after a header', 'GET /x HTTP/1.1\r\nHost: h\n\r\n'],
    ['bare LF for the blank line', 'GET /x HTTP/1.1\r\nHost: h\r\n\n'],
    ['bare CR inside a value', 'GET /x HTTP/1.1\r\nHost: h\rX: y\r\n\r\n'],
    ['CR CR LF', 'GET /x HTTP/1.1\r\nHost: h\r\r\n\r\n'],
    ['NUL in the target', 'GET /boot/ipxe/a\0b HTTP/1.1\r\nHost: h\r\n\r\n'],
    ['NUL in a value', 'GET /x HTTP/1.1\r\nHost: h\0\r\n\r\n'],
    ['NUL in a name', 'GET /x HTTP/1.1\r\nHo\0st: h\r\n\r\n'],
    ['DEL in a value', 'GET /x HTTP/1.1\r\nHost: h\x7f\r\n\r\n'],
    ['obs-text in a value', 'GET /x HTTP/1.1\r\nHost: h\r\nUser-Agent: caf\xe9\r\n\r\n'],
    ['a byte over 0x7f in the target', 'GET /boot/ipxe/\xe9 HTTP/1.1\r\nHost: h\r\n\r\n'],
    ['a space before the colon', 'GET /x HTTP/1.1\r\nHost : h\r\n\r\n'],
    ['a tab before the colon', 'GET /x HTTP/1.1\r\nHost\t: h\r\n\r\n'],
    ['obs-fold', 'GET /x HTTP/1.1\r\nHost: h\r\nX-A: b\r\n c\r\n\r\n'],
    ['a name with a parenthesis', 'GET /x HTTP/1.1\r\nHost: h\r\nX(Y): z\r\n\r\n'],
    ['a name with a space', 'GET /x HTTP/1.1\r\nHost: h\r\nX Y: z\r\n\r\n'],
    ['a name with a slash', 'GET /x HTTP/1.1\r\nHost: h\r\nX/Y: z\r\n\r\n'],
    ['an empty name', 'GET /x HTTP/1.1\r\nHost: h\r\n: z\r\n\r\n'],
    ['no colon', 'GET /x HTTP/1.1\r\nHost h\r\n\r\n'],
    ['a body by length', 'GET /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello'],
    ['two Content-Length 0', 'GET /x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n'],
    ['Content-Length 0, 0', 'GET /x HTTP/1.1\r\nHost: h\r\nContent-Length: 0, 0\r\n\r\n'],
    ['Content-Length 00', 'GET /x HTTP/1.1\r\nHost: h\r\nContent-Length: 00\r\n\r\n'],
    ['Content-Length +0', 'GET /x HTTP/1.1\r\nHost: h\r\nContent-Length: +0\r\n\r\n'],
    ['an empty Content-Length', 'GET /x HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n'],
    ['Content-Length and Transfer-Encoding', 'GET /x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['Transfer-Encoding chunked', 'GET /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['Transfer-Encoding in capitals', 'GET /x HTTP/1.1\r\nHost: h\r\nTRANSFER-ENCODING: identity\r\n\r\n'],
    ['Expect', 'GET /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n'],
    ['Upgrade', 'GET /x HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n'],
    ['Upgrade alone', 'GET /x HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\n\r\n'],
    ['Connection: upgrade alone', 'GET /x HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n\r\n'],
    ['HTTP2-Settings', 'GET /x HTTP/1.1\r\nHost: h\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n'],
    ['Connection close and keep-alive', 'GET /x HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n'],
    ['Connection close and keep-alive apart', 'GET /x HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n'],
    ['an unknown Connection option', 'GET /x HTTP/1.1\r\nHost: h\r\nConnection: TE\r\nTE: trailers\r\n\r\n'],
    ['an empty Connection', 'GET /x HTTP/1.1\r\nHost: h\r\nConnection:\r\n\r\n'],
    ['an empty Connection option', 'GET /x HTTP/1.1\r\nHost: h\r\nConnection: close,,keep-alive\r\n\r\n'],
    ['Connection with a parameter', 'GET /x HTTP/1.1\r\nHost: h\r\nConnection: close;x=1\r\n\r\n'],
    ['a near-miss Connection option', 'GET /x HTTP/1.1\r\nHost: h\r\nConnection: closed\r\n\r\n'],
    ['Proxy-Connection', 'GET /x HTTP/1.1\r\nHost: h\r\nProxy-Connection: close\r\n\r\n'],
    ['HTTP/1.1 without Host', 'GET /x HTTP/1.1\r\n\r\n'],
    ['two Hosts', 'GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'],
    ['two Hosts in HTTP/1.0', 'GET /x HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n'],
  ];
  for (const [why, text] of refused) {
    it(`refuses ${why}`, () => assert.equal(read(text).end, HEAD_REFUSED, JSON.stringify(text)));
  }
});

/** mulberry32: the same "random" inputs on every run. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('HTTP/1 request heads: Node reads every head the reader takes the same way', () => {
  const seen: { method: string; url: string; version: string; keepAlive: boolean }[] = [];
  let wake: (() => void) | undefined;
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method!, url: req.url!, version: req.httpVersion, keepAlive: res.shouldKeepAlive });
    res.end();
    wake?.();
  });
  let port = 0;
  before(() => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => ((port = (server.address() as AddressInfo).port), resolve()))));
  after(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))));

  const SENTINEL = 'GET /sentinel HTTP/1.1\r\nHost: s\r\n\r\n';

  /** The requests Node sees in `text` followed by a sentinel request, as the first and second. */
  const nodeReads = (text: Buffer, want: number) =>
    new Promise<typeof seen>((resolve) => {
      seen.length = 0;
      const socket = net.connect(port, '127.0.0.1', () => socket.write(Buffer.concat([text, Buffer.from(SENTINEL)])));
      socket.on('data', () => {});
      socket.on('error', () => {});
      const done = (): void => {
        clearTimeout(timer);
        wake = undefined;
        socket.destroy();
        resolve([...seen]);
      };
      const timer = setTimeout(done, 500);
      wake = () => {
        if (seen.length >= want) setImmediate(done);
      };
    });

  it('on mutants of real requests (seeded), agreeing with Node wherever it takes one', async () => {
    const seeds = [IPXE, WRK, CURL, 'HEAD /boot/ipxe/a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n', 'GET /a HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'];
    const bytesOf = [0x20, 0x09, 0x0d, 0x0a, 0x00, 0x3a, 0x2c, 0x7f, 0x80, 0xff, 0x61, 0x41, 0x30, 0x2f, 0x3f, 0x23];
    const lines = ['Content-Length: 0', 'Content-Length: 1', 'Transfer-Encoding: chunked', 'Connection: close', 'Connection: keep-alive', 'Host: y', 'Expect: 100-continue', ' folded', 'X-A: b', 'Upgrade: h2c'];
    const random = prng(20261122);
    const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)]!;
    let taken = 0;
    for (let n = 0; n < 1500; n++) {
      let buf = Buffer.from(pick(seeds), 'latin1');
      for (let m = 1 + Math.floor(random() * 3); m > 0; m--) {
        const at = Math.floor(random() * buf.length);
        const op = random();
        if (op < 0.35) buf[at] = pick(bytesOf);
        else if (op < 0.6) buf = Buffer.concat([buf.subarray(0, at), Buffer.from([pick(bytesOf)]), buf.subarray(at)]);
        else if (op < 0.8) buf = Buffer.concat([buf.subarray(0, at), buf.subarray(at + 1)]);
        else {
          // A header line after the request line.
          const lineAt = buf.indexOf('\r\n') + 2;
          buf = Buffer.concat([buf.subarray(0, lineAt), Buffer.from(`${pick(lines)}\r\n`, 'latin1'), buf.subarray(lineAt)]);
        }
      }
      const head = emptyHead();
      if (readHead(buf, 0, LIMIT, head) !== buf.length) continue;
      taken++;
      const node = await nodeReads(buf, head.keepAlive ? 2 : 1);
      const ours = { method: head.head ? 'HEAD' : 'GET', url: buf.toString('latin1', head.targetStart, head.targetEnd), version: `1.${head.minor}`, keepAlive: head.keepAlive };
      const expected = head.keepAlive ? [ours, { method: 'GET', url: '/sentinel', version: '1.1', keepAlive: true }] : [ours];
      assert.deepEqual(node.slice(0, expected.length), expected, JSON.stringify(buf.toString('latin1')));
    }
    assert.ok(taken > 100, `enough mutants were taken to mean something (${taken})`);
  });
});
