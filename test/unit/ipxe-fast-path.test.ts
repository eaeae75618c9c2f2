import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { IPXE_NO_CONFIG, ipxeFastPath, requestIdSequence, serverWithFastPath } from '../../src/httpboot/ipxe-fast-path.js';
import { createCliLogger } from '../../src/log.js';
import { waitFor } from '../helpers/fixtures.js';
import { get, parseResponses, rawExchange } from '../helpers/raw-http.js';

describe('iPXE fast path', () => {
  const asked: string[] = [];
  const counted: string[] = [];
  let answer: (mac: string) => Promise<string | undefined> = async (mac) => (mac === '52-54-00-12-34-56' ? '#!ipxe\nexit\n' : undefined);
  const fast = ipxeFastPath({
    scripts: { ipxe: (mac) => (asked.push(mac), answer(mac)) },
    log: createCliLogger('silent'),
    metrics: { httpResponse: (method, route, status) => void counted.push(`${method} ${route} ${status}`) },
    nextReqId: requestIdSequence(),
  });
  // What fastify would have answered: marked, so a test can tell who did.
  const server = serverWithFastPath(fast, (_req, res) => res.writeHead(299, { 'x-fallback': 'yes' }).end(), { keepAliveTimeout: 5000 });
  let port = 0;

  before(() => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => ((port = (server.address() as AddressInfo).port), resolve()))));
  after(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))));

  const get = (method: string, path: string) =>
    new Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method, path }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
      });
      req.on('error', reject);
      req.end();
    });

  it('answers GET and HEAD of /boot/ipxe/<name>, 404 with the iPXE body when there is no script', async () => {
    assert.deepEqual(await get('GET', '/boot/ipxe/52-54-00-12-34-56').then((r) => [r.status, r.body, r.headers['content-length']]), [200, '#!ipxe\nexit\n', '12']);
    assert.deepEqual(await get('HEAD', '/boot/ipxe/52-54-00-12-34-56').then((r) => [r.status, r.body, r.headers['content-length']]), [200, '', '12']);
    assert.deepEqual(await get('GET', '/boot/ipxe/zz').then((r) => [r.status, r.body]), [404, IPXE_NO_CONFIG]);
    assert.deepEqual(asked, ['52-54-00-12-34-56', '52-54-00-12-34-56', 'zz'], 'the name as asked; parsing it is the service\'s business');
    assert.deepEqual(counted, ['GET /boot/ipxe/:mac 200', 'HEAD /boot/ipxe/:mac 200', 'GET /boot/ipxe/:mac 404']);
  });

  it('leaves anything else to the handler behind it', async () => {
    asked.length = 0;
    for (const [method, path] of [
      ['POST', '/boot/ipxe/52-54-00-12-34-56'],
      ['PUT', '/boot/ipxe/52-54-00-12-34-56'],
      ['GET', '/boot/ipxe/'],
      ['GET', '/boot/ipxe/a/b'],
      ['GET', '/boot/ipxe/52-54-00-12-34-56?x=1'],
      ['GET', '/boot/ipxe/52%2D54-00-12-34-56'],
      ['GET', `/boot/ipxe/${'a'.repeat(33)}`],
      ['GET', '/boot/ipxe.efi'],
      ['GET', '/Boot/ipxe/52-54-00-12-34-56'],
      ['GET', '//boot/ipxe/52-54-00-12-34-56'],
    ] as const) {
      const res = await get(method, path);
      assert.equal(res.headers['x-fallback'], 'yes', `${method} ${path}`);
    }
    assert.deepEqual(asked, []);
    assert.equal((await get('GET', `/boot/ipxe/${'a'.repeat(32)}`)).status, 404, 'the longest name the route schema takes is ours');
  });

  it('answers 500 (and logs) when the script cannot be had, sync or async, and keeps serving', async () => {
    answer = async () => {
      throw new Error('boom');
    };
    assert.equal((await get('GET', '/boot/ipxe/52-54-00-12-34-56')).status, 500);
    answer = () => {
      throw new Error('sync boom');
    };
    const res = await get('GET', '/boot/ipxe/52-54-00-12-34-56');
    assert.equal(res.status, 500);
    assert.equal(res.headers['content-type'], 'text/plain');
    answer = async () => '#!ipxe\nexit\n';
    assert.equal((await get('GET', '/boot/ipxe/52-54-00-12-34-56')).status, 200);
  });
});

/**
 * Below Node's parser (src/httpboot/socket-fast-path.ts): what a client sees must be what the same
 * handlers behind a plain Node server send, byte for byte but the Date, whatever the bytes it sends.
 */
describe('iPXE fast path on the socket: answers as Node would', () => {
  const SCRIPT = '#!ipxe\nexit\n';
  const build = (answer: (mac: string) => Promise<string | undefined>) =>
    ipxeFastPath({ scripts: { ipxe: (mac) => answer(mac) }, log: createCliLogger('silent'), nextReqId: requestIdSequence() });
  const known = async (mac: string) => (mac === 'a' ? SCRIPT : undefined);
  // What fastify would have answered: marked, and with a length, so that responses can be told apart.
  const fallback = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    req.resume();
    const body = `fallback ${req.method} ${req.url}`;
    res.writeHead(299, { 'x-fallback': 'yes', 'content-length': Buffer.byteLength(body) }).end(body);
  };
  const fast = build(known);
  const withSocketPath = serverWithFastPath(fast, fallback, { keepAliveTimeout: 5000 });
  // The same handlers behind Node's parser alone: the reference.
  const nodeOnly = http.createServer((req, res) => void (fast.request(req, res) || fallback(req, res)));
  nodeOnly.keepAliveTimeout = 5000;
  const servers = [withSocketPath, nodeOnly];
  const port = (s: http.Server): number => (s.address() as AddressInfo).port;

  before(() => Promise.all(servers.map((s) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve())))));
  after(() => Promise.all(servers.map((s) => new Promise<void>((resolve) => (s.closeAllConnections(), s.close(() => resolve()))))));

  const sameDate = (raw: string): string => raw.replace(/\r\nDate: [^\r]*/g, '\r\nDate: (now)');
  const both = async (chunks: (string | Buffer)[], gapMs = 0) => {
    const [ours, node] = await Promise.all(servers.map((s) => rawExchange(port(s), chunks, { gapMs, idleMs: 150 })));
    return { ours: ours!, node: node! };
  };

  const cases: [string, (string | Buffer)[]][] = [
    ['a GET', [get('/boot/ipxe/a')]],
    ['a GET with no script', [get('/boot/ipxe/zz')]],
    ['a HEAD, then a GET on the same connection', [get('/boot/ipxe/a', '', 'HEAD') + get('/boot/ipxe/a')]],
    ['HTTP/1.0', ['GET /boot/ipxe/a HTTP/1.0\r\n\r\n']],
    ['HTTP/1.0 with keep-alive', ['GET /boot/ipxe/a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n' + get('/boot/ipxe/a')]],
    ['Connection: close', [get('/boot/ipxe/a', 'Connection: close\r\n')]],
    ['pipelined: iPXE, iPXE, another route, iPXE', [get('/boot/ipxe/a') + get('/boot/ipxe/zz') + get('/other') + get('/boot/ipxe/a')]],
    ['another route first, then iPXE', [get('/healthz') + get('/boot/ipxe/a')]],
    ['a query string', [get('/boot/ipxe/a?x=1')]],
    ['percent-encoding', [get('/boot/ipxe/%61')]],
    ['a POST', ['POST /boot/ipxe/a HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi' + get('/boot/ipxe/a')]],
    ['a head split across two writes', ['GET /boot/ipxe/a HTTP/1.1\r\nHo', 'st: t\r\n\r\n' + get('/boot/ipxe/a')]],
    ['a request split at its blank line', ['GET /boot/ipxe/a HTTP/1.1\r\nHost: t\r\n', '\r\n']],
    // Smuggling: a body that is itself a request. Node reads one request with a body; so must we.
    ['a body that looks like a request', [`GET /boot/ipxe/zz HTTP/1.1\r\nHost: t\r\nContent-Length: ${get('/boot/ipxe/a').length}\r\n\r\n${get('/boot/ipxe/a')}`]],
    ['Content-Length and Transfer-Encoding', [`GET /boot/ipxe/zz HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${get('/boot/ipxe/a')}`]],
    ['two Content-Lengths', [`GET /boot/ipxe/zz HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\nGET /`]],
    ['Transfer-Encoding chunked', [`GET /boot/ipxe/zz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n${get('/boot/ipxe/a')}`]],
    ['Expect: 100-continue', [get('/boot/ipxe/a', 'Expect: 100-continue\r\n')]],
    ['Upgrade', [get('/boot/ipxe/a', 'Connection: Upgrade\r\nUpgrade: websocket\r\n')]],
    ['a space before a colon', [get('/boot/ipxe/a', 'X-A : b\r\n')]],
    ['an illegal byte in a header name', [get('/boot/ipxe/a', 'X(A): b\r\n')]],
    ['obs-fold', [get('/boot/ipxe/a', 'X-A: b\r\n c\r\n')]],
    ['bare LF', ['GET /boot/ipxe/a HTTP/1.1\nHost: t\n\n']],
    ['NUL in a header value', [get('/boot/ipxe/a', 'X-A: b\0c\r\n')]],
    ['obs-text in a header value', [Buffer.from(get('/boot/ipxe/a', 'User-Agent: caf\xe9\r\n'), 'latin1')]],
    ['HTTP/1.1 without Host', ['GET /boot/ipxe/a HTTP/1.1\r\n\r\n']],
    ['two Hosts', [get('/boot/ipxe/a', 'Host: u\r\n')]],
    ['a lowercase method', ['get /boot/ipxe/a HTTP/1.1\r\nHost: t\r\n\r\n']],
    ['absolute form', ['GET http://t/boot/ipxe/a HTTP/1.1\r\nHost: t\r\n\r\n']],
    ['HTTP/0.9', ['GET /boot/ipxe/a\r\n\r\n']],
    ['HTTP/2 preface', ['PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n']],
    ['headers over 16 KiB', [get('/boot/ipxe/a', `X-Big: ${'b'.repeat(17_000)}\r\n`)]],
    ['garbage', [Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00])]],
  ];
  for (const [why, chunks] of cases) {
    it(`answers ${why} as Node does`, async () => {
      const { ours, node } = await both(chunks, 30);
      assert.ok(node.raw.length > 0 || node.closed, 'the reference answered something');
      assert.equal(sameDate(ours.raw), sameDate(node.raw));
      assert.equal(ours.closed, node.closed, 'closed alike');
    });
  }

  it('keeps a connection that Node took over working with Node, iPXE requests included', async () => {
    const res = await rawExchange(port(withSocketPath), [get('/boot/ipxe/a'), get('/other'), get('/boot/ipxe/a'), get('/boot/ipxe/a', '', 'HEAD'), get('/boot/ipxe/zz')], {
      gapMs: 30,
      expect: 5,
      head: (i) => i === 3,
    });
    assert.deepEqual(
      res.responses.map((r) => [r.status, r.body]),
      [[200, SCRIPT], [299, 'fallback GET /other'], [200, SCRIPT], [200, ''], [404, IPXE_NO_CONFIG]],
    );
    assert.equal(res.closed, false);
  });

  it('stops reading the requests after Connection: close, rather than answer 400 to all of them as Node does', async () => {
    const pipelined = get('/boot/ipxe/a') + get('/boot/ipxe/a', 'Connection: close\r\n') + get('/boot/ipxe/a');
    const ours = await rawExchange(port(withSocketPath), [pipelined]);
    assert.deepEqual(ours.responses.map((r) => [r.status, r.headers.connection]), [[200, 'keep-alive'], [200, 'close']]);
    assert.ok(ours.closed);
    const node = await rawExchange(port(nodeOnly), [pipelined]);
    assert.deepEqual(node.responses.map((r) => r.status), [400], 'llhttp refuses data after close');
  });

  it('sends a Date that parses, to the second', async () => {
    const res = await rawExchange(port(withSocketPath), [get('/boot/ipxe/a')], { expect: 1 });
    const date = Date.parse(res.responses[0]!.headers.date!);
    assert.ok(Math.abs(date - Date.now()) < 2000, res.responses[0]!.headers.date);
    assert.equal(new Date(date).toUTCString(), res.responses[0]!.headers.date);
  });
});

describe('iPXE fast path on the socket: connections', () => {
  const SCRIPT = '#!ipxe\nexit\n';
  const asked: string[] = [];
  let answer: (mac: string) => Promise<string | undefined> = async () => SCRIPT;
  const fast = ipxeFastPath({ scripts: { ipxe: (mac) => (asked.push(mac), answer(mac)) }, log: createCliLogger('silent'), nextReqId: requestIdSequence() });
  const fallback = (_req: http.IncomingMessage, res: http.ServerResponse): void => void res.writeHead(299, { 'content-length': 0 }).end();
  const started: http.Server[] = [];
  const start = async (options: Record<string, unknown> = { keepAliveTimeout: 5000 }): Promise<{ server: http.Server; port: number }> => {
    const server = serverWithFastPath(fast, fallback, options);
    started.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    return { server, port: (server.address() as AddressInfo).port };
  };
  after(() => Promise.all(started.filter((s) => s.listening).map((s) => new Promise<void>((resolve) => (s.closeAllConnections(), s.close(() => resolve()))))));
  const connect = (port: number): Promise<net.Socket> =>
    new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
      socket.on('error', reject);
    });
  const closedWithin = (socket: net.Socket, ms: number): Promise<boolean> =>
    new Promise((resolve) => {
      if (socket.destroyed || socket.readableEnded) return resolve(true);
      const timer = setTimeout(() => resolve(false), ms);
      socket.on('close', () => (clearTimeout(timer), resolve(true)));
      socket.on('end', () => (clearTimeout(timer), resolve(true)));
      socket.resume();
    });
  const firstResponse = (socket: net.Socket): Promise<string> =>
    new Promise((resolve) => {
      let data = '';
      const onData = (d: Buffer): void => {
        data += d.toString('latin1');
        const { responses } = parseResponses(Buffer.from(data, 'latin1'));
        if (responses.length) {
          socket.off('data', onData);
          resolve(responses[0]!.head);
        }
      };
      socket.on('data', onData);
    });

  it('leaves every request to Node when the server counts requests per socket', async () => {
    const { port } = await start({ keepAliveTimeout: 5000, maxRequestsPerSocket: 3 });
    const res = await rawExchange(port, [get('/boot/ipxe/a')], { expect: 1 });
    assert.equal(res.responses[0]!.status, 200);
    assert.equal(res.responses[0]!.headers['keep-alive'], 'timeout=5, max=3', 'Node\'s ServerResponse wrote this');
  });

  it('closes an idle keep-alive connection after the keep-alive timeout, as Node does', async () => {
    const { port } = await start({ keepAliveTimeout: 100 });
    const socket = await connect(port);
    const response = firstResponse(socket);
    socket.write(get('/boot/ipxe/a'));
    assert.match(await response, /Keep-Alive: timeout=0/);
    const t0 = Date.now();
    assert.ok(await closedWithin(socket, 5000), 'closed');
    // Node waits a second longer than it advertises.
    assert.ok(Date.now() - t0 >= 900, `after ${Date.now() - t0} ms`);
  });

  it('on close, ends idle connections at once and answers a pending request with Connection: close', async () => {
    const { server, port } = await start();
    const idle = await connect(port);
    const idleAnswered = firstResponse(idle);
    idle.write(get('/boot/ipxe/a'));
    await idleAnswered;
    let release!: () => void;
    answer = () => new Promise((resolve) => (release = () => resolve(SCRIPT)));
    try {
      const busy = await connect(port);
      const busyAnswered = firstResponse(busy);
      const waiting = asked.length;
      busy.write(get('/boot/ipxe/a'));
      await waitFor(() => asked.length > waiting, { what: 'the script to be asked for', intervalMs: 5 });
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      assert.ok(await closedWithin(idle, 1000), 'the idle connection was ended by close()');
      release();
      assert.match(await busyAnswered, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\nConnection: close$/);
      assert.ok(await closedWithin(busy, 1000), 'the busy connection ended after its answer');
      const t0 = Date.now();
      await closed;
      assert.ok(Date.now() - t0 < 1000);
    } finally {
      answer = async () => SCRIPT;
    }
  });

  it('stops reading from a client that pipelines without reading the answers, and catches up when it reads', { timeout: 30_000 }, async () => {
    const big = `#!ipxe\n${'#'.repeat(64 * 1024)}\n`;
    answer = async () => big;
    try {
      const { port } = await start();
      const socket = await connect(port);
      socket.pause();
      const N = 2000;
      asked.length = 0;
      // The last one is Node's: handed over after a long stall, with the stream paused and refilled.
      socket.write(get('/boot/ipxe/a').repeat(N) + get('/other'));
      await new Promise((r) => setTimeout(r, 500));
      const whilePaused = asked.length;
      // Loopback buffers hold some megabytes of answers; the rest must wait for the client.
      assert.ok(whilePaused < N / 2, `answered ${whilePaused} of ${N} without the client reading`);
      const statuses: number[] = [];
      let data: Buffer = Buffer.alloc(0);
      await new Promise<void>((resolve) => {
        socket.on('data', (d: Buffer) => {
          data = Buffer.concat([data, d]);
          const { responses, rest } = parseResponses(data);
          for (const r of responses) {
            statuses.push(r.status);
            if (r.status === 200) assert.equal(r.body, big);
          }
          data = rest;
          if (statuses.length === N + 1) resolve();
        });
        socket.resume();
      });
      assert.deepEqual(statuses, [...Array.from({ length: N }, () => 200), 299]);
      assert.equal(asked.length, N);
      socket.destroy();
    } finally {
      answer = async () => SCRIPT;
    }
  });

  it('survives clients that reset or half-close mid-request', async () => {
    const { port } = await start();
    answer = () => new Promise((resolve) => setTimeout(() => resolve(SCRIPT), 30));
    try {
      for (let i = 0; i < 5; i++) {
        const socket = await connect(port);
        socket.write(get('/boot/ipxe/a'));
        socket.resetAndDestroy();
      }
      // Half-closed after the request: answered, then closed.
      const res = await new Promise<string>((resolve) => {
        const socket = net.connect(port, '127.0.0.1', () => socket.end(get('/boot/ipxe/a')));
        let data = '';
        socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
        socket.on('end', () => resolve(data));
      });
      assert.match(res, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n#!ipxe\nexit\n$/);
      await new Promise((r) => setTimeout(r, 60));
    } finally {
      answer = async () => SCRIPT;
    }
    const after = await rawExchange(port, [get('/boot/ipxe/a')], { expect: 1 });
    assert.equal(after.responses[0]!.status, 200);
  });
});
