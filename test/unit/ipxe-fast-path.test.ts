import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { IPXE_NO_CONFIG, ipxeFastPath, requestIdSequence, serverWithFastPath } from '../../src/http/ipxe-fast-path.js';
import { createCliLogger } from '../../src/log.js';

describe('iPXE fast path', () => {
  const asked: string[] = [];
  const counted: string[] = [];
  let answer: (mac: string) => Promise<string | undefined> = async (mac) => (mac === '52-54-00-12-34-56' ? '#!ipxe\nexit\n' : undefined);
  const fast = ipxeFastPath({
    configs: { forIpxe: (mac) => (asked.push(mac), answer(mac)) },
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
