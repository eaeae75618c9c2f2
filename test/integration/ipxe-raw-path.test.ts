/**
 * The appliance answers `GET`/`HEAD /boot/ipxe/<mac>` straight from the socket
 * (src/httpboot/socket-fast-path.ts) and gives the connection to Node, and so to fastify, at the first
 * request that is anything else. Seen from real clients (curl) and from raw sockets: the same
 * connection carries both, in order; odd or hostile bytes get Node's and fastify's answers; closing
 * the appliance does not wait for idle connections held below Node.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { BOOTSTRAP_TOKEN_FILE, startAppliance, type Appliance } from '../../src/appliance.js';
import { loadConfig } from '../../src/config/load.js';
import { createCliLogger, createLogger } from '../../src/log.js';
import { distroRecord } from '../helpers/fixtures.js';
import { get, rawExchange } from '../helpers/raw-http.js';
import { tempDir } from '../helpers/tmp.js';

const exec = promisify(execFile);

const DISTRO = distroRecord();
const MAC = '52-54-00-12-34-56';
const OTHER_MAC = '52-54-00-12-34-57';
const NO_CONFIG = '#!ipxe\necho rhevboot: no boot config for this machine\nexit\n';

async function applianceWithNodes(log = createCliLogger('silent')): Promise<{ app: Appliance; token: string }> {
  const dir = await tempDir('rhevboot-ipxe-raw-');
  const env = { RHEVBOOT_STATE_DIR: dir, RHEVBOOT_HTTP_HOST: '127.0.0.1', RHEVBOOT_HTTP_PORT: '0', RHEVBOOT_TFTP_HOST: '127.0.0.1', RHEVBOOT_TFTP_PORT: '0', RHEVBOOT_BOOT_HTTP_BASE: 'http://127.0.0.1:8080' };
  const app = await startAppliance(loadConfig({ env }), { log });
  await app.store.distros.put(DISTRO);
  await app.services.nodes.add([
    { name: 'n1', macs: [MAC], ip: '127.0.0.1', distro: 'rhevh6.5', manager: 'rhevm.example.com', kernelArgs: 'console=ttyS0' },
    { name: 'n2', macs: [OTHER_MAC], distro: 'rhevh6.5', manager: 'rhevm.example.com' },
  ]);
  await app.services.nodes.nodeset('n1', 'install');
  // n2 boots locally: its script carries no secret, so it is served to this test's address too.
  await app.services.nodes.nodeset('n2', 'local');
  const token = (await readFile(path.join(dir, BOOTSTRAP_TOKEN_FILE), 'utf8')).trim();
  return { app, token };
}

describe('iPXE scripts from the socket, and everything else from Node and fastify on the same connection', () => {
  let app: Appliance;
  let token: string;
  let port: number;
  let script: string;
  const logLines: Record<string, unknown>[] = [];

  before(async () => {
    const log = createLogger({ level: 'info', stream: { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) } });
    ({ app, token } = await applianceWithNodes(log));
    port = app.httpAddress.port;
    script = (await rawExchange(port, [get(`/boot/ipxe/${MAC}`)], { expect: 1 })).responses[0]!.body;
    assert.match(script, /hostname=n1 /);
  });
  after(() => app?.stop('test over'));

  const counted = async (status: number, method = 'GET'): Promise<number> => {
    const { body } = await app.metrics.render();
    const line = body.split('\n').find((l) => l.startsWith(`rhevboot_http_requests_total{method="${method}",route="/boot/ipxe/:mac",status="${status}"}`));
    return line ? Number(line.split(' ').at(-1)) : 0;
  };

  it('serves several scripts on a kept-alive connection, then fastify\'s routes on it, in order, one request at a time', async () => {
    const auth = `Authorization: Bearer ${token}\r\n`;
    const res = await rawExchange(
      port,
      [get(`/boot/ipxe/${MAC}`), get(`/boot/ipxe/${MAC}`), get('/boot/ipxe/52-54-00-99-99-99'), get('/healthz'), get('/api/v1/version', auth), get('/api/v1/version'), get(`/boot/ipxe/${MAC}`)],
      { gapMs: 40, expect: 7 },
    );
    assert.deepEqual(res.responses.map((r) => r.status), [200, 200, 404, 200, 200, 401, 200]);
    assert.equal(res.responses[0]!.body, script);
    assert.equal(res.responses[2]!.body, NO_CONFIG);
    assert.equal((JSON.parse(res.responses[3]!.body) as { status: string }).status, 'ok');
    assert.ok((JSON.parse(res.responses[4]!.body) as { version: string }).version);
    assert.match(res.responses[5]!.headers['content-type']!, /^application\/json/);
    assert.equal(res.responses[6]!.body, script, 'an iPXE request after Node took the connection over');
    assert.ok(res.responses.every((r) => r.headers.connection === 'keep-alive'));
    assert.equal(res.closed, false);
  });

  it('answers pipelined requests (iPXE, iPXE, another route, iPXE) sent in one write, in order', async () => {
    const res = await rawExchange(port, [get(`/boot/ipxe/${MAC}`) + get(`/boot/ipxe/${OTHER_MAC}`) + get('/healthz') + get(`/boot/ipxe/${MAC}`)], { expect: 4 });
    assert.deepEqual(res.responses.map((r) => r.status), [200, 200, 200, 200]);
    assert.equal(res.responses[0]!.body, script);
    assert.match(res.responses[1]!.body, /^#!ipxe\n/);
    assert.notEqual(res.responses[1]!.body, script, 'n2\'s own script');
    assert.match(res.responses[2]!.headers['content-type']!, /^application\/json/);
    assert.equal(res.responses[3]!.body, script);
  });

  it('answers a request split across two writes (Node parses it)', async () => {
    const request = get(`/boot/ipxe/${MAC}`);
    const res = await rawExchange(port, [request.slice(0, 20), request.slice(20)], { gapMs: 50, expect: 1 });
    assert.equal(res.responses[0]!.status, 200);
    assert.equal(res.responses[0]!.body, script);
  });

  it('closes after answering HTTP/1.0 and Connection: close; answers HEAD with the headers of GET', async () => {
    const old = await rawExchange(port, [`GET /boot/ipxe/${MAC} HTTP/1.0\r\n\r\n`]);
    assert.equal(old.responses[0]!.body, script);
    assert.equal(old.responses[0]!.headers.connection, 'close');
    assert.ok(old.closed);
    const close = await rawExchange(port, [get(`/boot/ipxe/${MAC}`, 'Connection: close\r\n')]);
    assert.equal(close.responses[0]!.headers.connection, 'close');
    assert.ok(close.closed);
    const head = await rawExchange(port, [get(`/boot/ipxe/${MAC}`, '', 'HEAD') + get(`/boot/ipxe/${MAC}`)], { expect: 2, head: (i) => i === 0 });
    assert.deepEqual(head.responses.map((r) => [r.status, r.body.length, r.headers['content-length']]), [[200, 0, String(Buffer.byteLength(script))], [200, Buffer.byteLength(script), String(Buffer.byteLength(script))]]);
    assert.equal(head.rest, '', 'no body after the HEAD answer');
  });

  it('sends the headers the fastify route sends, and a Date that parses', async () => {
    const sent = Date.now();
    const raw = (await rawExchange(port, [get(`/boot/ipxe/${MAC}`)], { expect: 1 })).responses[0]!;
    const got = Date.now();
    const viaFastify = (await rawExchange(port, [get(`/boot/ipxe/${MAC}?via=fastify`)], { expect: 1 })).responses[0]!;
    for (const h of ['content-type', 'content-length', 'connection', 'keep-alive']) assert.equal(raw.headers[h], viaFastify.headers[h], h);
    assert.equal(raw.headers['keep-alive'], 'timeout=72');
    // Made while the request was in flight, to the second (HTTP dates have no finer unit).
    const date = Date.parse(raw.headers.date!);
    assert.ok(date >= Math.floor(sent / 1000) * 1000 && date <= got, `${raw.headers.date} for a request sent at ${new Date(sent).toISOString()}, answered by ${new Date(got).toISOString()}`);
  });

  it('counts and logs every answer as fastify does, with the client\'s address', async () => {
    const before200 = await counted(200);
    const beforeHead = await counted(200, 'HEAD');
    logLines.length = 0;
    await rawExchange(port, [get(`/boot/ipxe/${MAC}`) + get(`/boot/ipxe/${MAC}`, '', 'HEAD')], { expect: 2, head: (i) => i === 1 });
    assert.equal(await counted(200), before200 + 1);
    assert.equal(await counted(200, 'HEAD'), beforeHead + 1);
    const access = logLines.filter((l) => l.msg === 'http request');
    assert.deepEqual(access.map((l) => [l.method, l.url, l.status, l.remote]), [['GET', `/boot/ipxe/${MAC}`, 200, '127.0.0.1'], ['HEAD', `/boot/ipxe/${MAC}`, 200, '127.0.0.1']]);
    assert.notEqual(access[0]!.reqId, access[1]!.reqId);
  });

  it('works for curl: one connection for several URLs, HTTP/1.0, HEAD, Connection: close', async () => {
    const base = `http://127.0.0.1:${port}`;
    const urls = [`${base}/boot/ipxe/${MAC}`, `${base}/boot/ipxe/${MAC}`, `${base}/healthz`, `${base}/boot/ipxe/${OTHER_MAC}`];
    const many = await exec('curl', ['-sS', '-w', '%{http_code} %{num_connects}\\n', ...urls.flatMap((u) => ['-o', '/dev/null', u])]);
    assert.equal(many.stdout, '200 1\n200 0\n200 0\n200 0\n', 'one connection, reused');
    const body = await exec('curl', ['-sS', '--http1.0', `${base}/boot/ipxe/${MAC}`]);
    assert.equal(body.stdout, script);
    const head = await exec('curl', ['-sS', '-I', `${base}/boot/ipxe/${MAC}`]);
    assert.match(head.stdout, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(head.stdout, new RegExp(`\\r\\ncontent-length: ${Buffer.byteLength(script)}\\r\\n`));
    const close = await exec('curl', ['-sS', '-i', '-H', 'Connection: close', `${base}/boot/ipxe/${MAC}`]);
    assert.match(close.stdout, /\r\nConnection: close\r\n\r\n#!ipxe\n/);
  });

  it('hands a body that looks like a request to Node: one request, one answer, nothing smuggled', async () => {
    const inner = get(`/boot/ipxe/${MAC}`);
    const res = await rawExchange(port, [`GET /boot/ipxe/${OTHER_MAC}x HTTP/1.1\r\nHost: t\r\nContent-Length: ${inner.length}\r\n\r\n${inner}`]);
    assert.deepEqual(res.responses.map((r) => [r.status, r.body]), [[404, NO_CONFIG]]);
    assert.equal(res.rest, '');
    const te = await rawExchange(port, [`GET /boot/ipxe/${OTHER_MAC}x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n${inner}`]);
    assert.equal(te.responses[0]!.status, 400, 'Node refuses Content-Length with Transfer-Encoding');
    assert.equal(te.responses.length, 1);
    assert.ok(te.closed);
  });

  it('gives malformed heads Node\'s and fastify\'s 400 (or 431), and goes on serving', async () => {
    // [request, status, answered by fastify's clientError handler (JSON) rather than by Node itself]
    const cases: [string, number, boolean][] = [
      [`GET /boot/ipxe/${MAC} HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\n`, 400, true],
      [`GET /boot/ipxe/${MAC} HTTP/1.1\r\nHost: t\r\nX-A: b\r\n folded\r\n\r\n`, 400, true],
      [`GET /boot/ipxe/${MAC} HTTP/1.1\r\nHost: t\r\nX-A: b\0\r\n\r\n`, 400, true],
      [`GET /boot/ipxe/${MAC} HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n`, 400, true],
      ['PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 400, true],
      [`GET /boot/ipxe/${MAC} HTTP/1.1\r\nHost: t\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`, 431, true],
      // Node's own check (requireHostHeader), with its own bare answer.
      [`GET /boot/ipxe/${MAC} HTTP/1.1\r\n\r\n`, 400, false],
    ];
    for (const [bad, status, json] of cases) {
      const what = JSON.stringify(bad.slice(0, 80));
      const res = await rawExchange(port, [bad]);
      assert.ok(res.closed, what);
      assert.deepEqual(res.responses.map((r) => r.status), [status], what);
      assert.equal(res.responses[0]!.headers['content-type'], json ? 'application/json' : undefined, what);
      assert.equal(res.responses[0]!.headers.connection, json ? undefined : 'close', what);
    }
    const ok = await rawExchange(port, [get(`/boot/ipxe/${MAC}`)], { expect: 1 });
    assert.equal(ok.responses[0]!.body, script);
  });
});

describe('closing the appliance with connections held below Node', () => {
  it('ends idle kept-alive connections at once instead of waiting out their keep-alive timeout', async () => {
    const { app } = await applianceWithNodes();
    const port = app.httpAddress.port;
    const sockets = await Promise.all(
      Array.from({ length: 5 }, () =>
        new Promise<net.Socket>((resolve, reject) => {
          const socket = net.connect(port, '127.0.0.1', () => socket.write(get(`/boot/ipxe/${MAC}`)));
          socket.once('data', () => resolve(socket));
          socket.on('error', reject);
        }),
      ),
    );
    const closed = sockets.map((s) => new Promise<void>((resolve) => s.on('close', () => resolve())));
    const t0 = Date.now();
    await app.stop('test over');
    await Promise.all(closed);
    // Waiting for the clients would take the keep-alive timeout (72 s); half of it tells the two
    // apart however busy the machine is.
    assert.ok(Date.now() - t0 < 36_000, `stopped in ${Date.now() - t0} ms (keep-alive timeout is 72 s)`);
  });
});
