/**
 * `GET`/`HEAD /boot/ipxe/<mac>` are answered in front of fastify (src/httpboot/ipxe-fast-path.ts). The
 * same route stays in fastify, which a query string reaches: the two must answer alike. Everything
 * that is not that plain shape must still be fastify's.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startAppliance, type Appliance } from '../../src/appliance.js';
import { loadConfig } from '../../src/config/load.js';
import { createCliLogger, createLogger } from '../../src/log.js';
import { createServices } from '../../src/services.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { runCli } from '../helpers/cli.js';
import { distroRecord } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const DISTRO = distroRecord();
const MAC = '52-54-00-12-34-56';
const NO_CONFIG = '#!ipxe\necho rhevboot: no boot config for this machine\nexit\n';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  reusedSocket: boolean;
}

describe('iPXE scripts: the fast path in front of fastify', () => {
  let app: Appliance;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const logLines: Record<string, unknown>[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

  const request = (method: string, p: string): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: app.httpAddress.port, method, path: p, agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body, reusedSocket: req.reusedSocket }));
      });
      req.on('error', reject);
      req.end();
    });

  const counted = async (status: number, method = 'GET'): Promise<number> => {
    const { body } = await app.metrics.render();
    const line = body.split('\n').find((l) => l.startsWith(`rhevboot_http_requests_total{method="${method}",route="/boot/ipxe/:mac",status="${status}"}`));
    return line ? Number(line.split(' ').at(-1)) : 0;
  };

  before(async () => {
    dir = await tempDir('rhevboot-ipxe-fast-');
    env = { RHEVBOOT_STATE_DIR: dir, RHEVBOOT_HTTP_HOST: '127.0.0.1', RHEVBOOT_HTTP_PORT: '0', RHEVBOOT_TFTP_HOST: '127.0.0.1', RHEVBOOT_TFTP_PORT: '0', RHEVBOOT_BOOT_HTTP_BASE: 'http://127.0.0.1:8080' };
    // At info, to see the access line; kept in memory.
    const log = createLogger({ level: 'info', stream: { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) } });
    app = await startAppliance(loadConfig({ env }), { log });
    await app.store.distros.put(DISTRO);
    await app.services.nodes.add([{ name: 'n1', macs: [MAC], ip: '127.0.0.1', distro: 'rhevh6.5', manager: 'rhevm.example.com', kernelArgs: 'console=ttyS0' }]);
    await app.services.nodes.nodeset('n1', 'install');
  });
  after(async () => {
    agent.destroy();
    await app?.stop();
  });

  it('serves the node its script with the same status, headers and body as the fastify route, over one kept-alive connection', async () => {
    const before200 = await counted(200);
    const fast = await request('GET', `/boot/ipxe/${MAC}`);
    assert.equal(fast.status, 200);
    assert.match(fast.body, /^#!ipxe\n/);
    assert.match(fast.body, /\nkernel http:\/\/127\.0\.0\.1:8080\/install\/rhevh6\.5\/x86_64\/isolinux\/vmlinuz0 .*hostname=n1 /);
    assert.equal(fast.headers['content-type'], 'text/plain');
    assert.equal(fast.headers['content-length'], String(Buffer.byteLength(fast.body)));
    assert.equal(fast.headers.connection, 'keep-alive');
    assert.equal((await app.store.nodes.get('n1'))!.status, 'installing', 'the first fetch is the first sign of installing');

    const again = await request('GET', `/boot/ipxe/${MAC}`);
    assert.equal(again.body, fast.body);
    assert.ok(again.reusedSocket, 'keep-alive: the second request came on the same connection');

    // A query string is not the fast path's shape: fastify answers, and must answer the same.
    const viaFastify = await request('GET', `/boot/ipxe/${MAC}?from=fastify`);
    assert.equal(viaFastify.status, 200);
    assert.equal(viaFastify.body, fast.body);
    for (const h of ['content-type', 'content-length', 'connection', 'keep-alive']) assert.equal(fast.headers[h], viaFastify.headers[h], h);
    assert.equal(await counted(200), before200 + 3, 'the request metric counts fast path and fastify alike');
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    const get = await request('GET', `/boot/ipxe/${MAC}`);
    const head = await request('HEAD', `/boot/ipxe/${MAC}`);
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal(head.headers['content-length'], get.headers['content-length']);
    assert.equal(head.headers['content-type'], 'text/plain');
    const unknown = await request('HEAD', '/boot/ipxe/52-54-00-99-99-99');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body, '');
    assert.equal(unknown.headers['content-length'], String(NO_CONFIG.length));
    assert.ok((await counted(200, 'HEAD')) >= 1);
  });

  it('gives unknown and malformed MACs the iPXE 404 body', async () => {
    const before404 = await counted(404);
    for (const name of ['52-54-00-99-99-99', 'zz', '52:54:00:zz:00:01', 'not-a-mac-at-all']) {
      const res = await request('GET', `/boot/ipxe/${name}`);
      assert.equal(res.status, 404, name);
      assert.equal(res.body, NO_CONFIG, name);
      assert.equal(res.headers['content-type'], 'text/plain', name);
      assert.equal(res.headers['content-length'], String(NO_CONFIG.length), name);
    }
    assert.equal(await counted(404), before404 + 4);
  });

  it('leaves other methods and other paths to fastify, as before', async () => {
    const post = await request('POST', `/boot/ipxe/${MAC}`);
    assert.equal(post.status, 404);
    assert.match(post.headers['content-type']!, /^application\/json/);
    assert.equal((JSON.parse(post.body) as { error: { code: string } }).error.code, 'RB_ERR_NOT_FOUND');

    const long = await request('GET', `/boot/ipxe/${'a'.repeat(40)}`);
    assert.equal(long.status, 400, 'over the route schema\'s length: fastify\'s validation');
    assert.equal((JSON.parse(long.body) as { error: { code: string } }).error.code, 'RB_ERR_INVALID');

    for (const p of ['/boot/ipxe/a/b', '/boot/ipxex/52-54-00-12-34-56', '/boot/nothing-here']) {
      const res = await request('GET', p);
      assert.equal(res.status, 404, p);
      assert.match(res.headers['content-type']!, /^application\/json/, p);
    }
    // An empty name is fastify's too (its route takes it, and finds no node).
    assert.equal((await request('GET', '/boot/ipxe/')).status, 404);
    // Percent-encoding is decoded by fastify's router: the same script.
    const encoded = await request('GET', `/boot/ipxe/${MAC.replaceAll('-', '%2D')}`);
    assert.equal(encoded.status, 200);
    assert.match(encoded.body, /hostname=n1 /);
  });

  it('writes the access log line of every request, as fastify\'s hook does', async () => {
    logLines.length = 0;
    await request('GET', `/boot/ipxe/${MAC}`);
    await request('GET', '/boot/ipxe/zz');
    const access = logLines.filter((l) => l.msg === 'http request');
    assert.deepEqual(
      access.map((l) => [l.method, l.url, l.status, l.remote]),
      [['GET', `/boot/ipxe/${MAC}`, 200, '127.0.0.1'], ['GET', '/boot/ipxe/zz', 404, '127.0.0.1']],
    );
    for (const l of access) {
      assert.equal(typeof l.ms, 'number');
      assert.match(String(l.reqId), /^req-[0-9a-z]+$/);
    }
    assert.notEqual(access[0]!.reqId, access[1]!.reqId);
  });

  it('puts every fetch on the node\'s timeline, repeats as a count', async () => {
    await app.services.events.flush();
    const before = (await app.store.events.list({ subject: 'n1', kindPrefix: 'node.http', limit: 1000 })).length;
    for (let i = 0; i < 5; i++) await request('GET', `/boot/ipxe/${MAC}`);
    await app.services.events.flush();
    const http = (await app.store.events.list({ subject: 'n1', kindPrefix: 'node.http', limit: 1000 })).slice(before);
    // A row is one fetch, or a count of repeats.
    const fetches = http.reduce((n, e) => n + ((e.data.repeats as number | undefined) ?? 1), 0);
    assert.ok(http.length < 5, 'repeats are folded');
    assert.equal(fetches, 5, http.map((e) => e.message).join('\n'));
    assert.ok(http.every((e) => e.message.startsWith(`HTTP /boot/ipxe/${MAC}: install script to 127.0.0.1`)));
  });

  it('answers 500 when the script cannot be had, and goes on serving', async () => {
    const configs = app.services.configs;
    const original = configs.ipxe;
    const before500 = await counted(500);
    try {
      configs.ipxe = () => Promise.reject(new Error('store on fire'));
      let res = await request('GET', `/boot/ipxe/${MAC}`);
      assert.equal(res.status, 500);
      assert.equal(res.headers['content-type'], 'text/plain');
      assert.doesNotMatch(res.body, /fire/, 'the reason is logged, not told');
      configs.ipxe = () => {
        throw new Error('thrown, not rejected');
      };
      res = await request('GET', `/boot/ipxe/${MAC}`);
      assert.equal(res.status, 500);
    } finally {
      configs.ipxe = original;
    }
    assert.equal(await counted(500), before500 + 2);
    assert.ok(logLines.some((l) => l.msg === 'unexpected error' && (l.err as { message?: string } | undefined)?.message === 'store on fire'));
    const ok = await request('GET', `/boot/ipxe/${MAC}`);
    assert.equal(ok.status, 200);
  });

  it('sees a change made by another connection at the next request: in this process, and by the CLI', async () => {
    const installing = await request('GET', `/boot/ipxe/${MAC}`);
    assert.match(installing.body, /^kernel /m);

    // A second connection to the same file, in this process (as the CLI has in its own).
    const cliStore = openSqliteStore({ dir });
    try {
      const cli = createServices(loadConfig({ env }).config, cliStore, createCliLogger('silent'));
      await cli.nodes.nodeset('n1', 'local');
      assert.match((await request('GET', `/boot/ipxe/${MAC}`)).body, /\nexit\n$/, 'nodeset local from another connection is seen at once');
    } finally {
      await cliStore.close();
    }

    // The CLI, another process.
    const r = await runCli(['nodeset', 'n1', 'install'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match((await request('GET', `/boot/ipxe/${MAC}`)).body, /^kernel /m, 'nodeset install from the CLI is seen at the next request');

    // A node added by the CLI: its MAC was unknown (and that answer was kept) until now.
    assert.equal((await request('GET', '/boot/ipxe/52-54-00-77-77-77')).status, 404);
    const added = await runCli(['node', 'add', 'n7', '--mac', '52:54:00:77:77:77'], env);
    assert.equal(added.code, 0, added.stderr);
    assert.equal((await request('GET', '/boot/ipxe/52-54-00-77-77-77')).status, 200);
  });
});
