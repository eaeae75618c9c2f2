import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { BOOTSTRAP_TOKEN_FILE, startAppliance, type Appliance } from '../../src/appliance.js';
import { loadConfig } from '../../src/config/load.js';
import { bundleConsole } from '../../src/http/console-bundle.js';
import { SseParser, type SseMessage } from '../../src/console/web/sse.js';
import { consoleAssets } from '../../src/http/console-assets.js';
import { waitFor } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

/** An open stream: messages as they come, and the means to hang up. */
interface Stream {
  headers: http.IncomingHttpHeaders;
  next(pred: (m: SseMessage) => boolean, timeoutMs?: number): Promise<SseMessage>;
  /** Resolves when the server ends the response. */
  ended: Promise<void>;
  abort(): void;
}

describe('console: live stream and static files', () => {
  let app: Appliance;
  let base: string;
  let token: string;
  const logLines: string[] = [];

  before(async () => {
    const dir = await tempDir('rhevboot-stream-');
    const sink = new Writable({ write: (chunk: Buffer, _enc, cb) => (logLines.push(...chunk.toString().split('\n').filter(Boolean)), cb()) });
    const env = { RHEVBOOT_STATE_DIR: dir, RHEVBOOT_HTTP_HOST: '127.0.0.1', RHEVBOOT_HTTP_PORT: '0', RHEVBOOT_TFTP_HOST: '127.0.0.1', RHEVBOOT_TFTP_PORT: '0' };
    app = await startAppliance(loadConfig({ env }), { log: pino({ level: 'info' }, sink) });
    base = `http://127.0.0.1:${app.httpAddress.port}`;
    token = (await readFile(path.join(dir, BOOTSTRAP_TOKEN_FILE), 'utf8')).trim();
  });
  after(() => app?.stop('test over'));

  /**
   * A stream over node:http on a connection of its own (agent: false): abort() destroys that
   * socket, which is exactly what a closed browser tab does to the server.
   */
  function open(query = '', headers: Record<string, string> = {}): Promise<Stream> {
    return new Promise((resolve, reject) => {
      const req = http.get(`${base}/api/v1/stream${query}`, { agent: false, headers: { authorization: `Bearer ${token}`, ...headers } }, (res) => {
        if (res.statusCode !== 200) return reject(new Error(`stream: HTTP ${res.statusCode}`));
        const parser = new SseParser();
        const seen: SseMessage[] = [];
        const waiters: (() => void)[] = [];
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          seen.push(...parser.feed(chunk));
          for (const w of waiters.splice(0)) w();
        });
        const ended = new Promise<void>((r) => {
          res.on('end', r);
          res.on('close', r);
        });
        resolve({
          headers: res.headers,
          ended,
          abort: () => req.destroy(),
          async next(pred, timeoutMs = 10_000) {
            const deadline = Date.now() + timeoutMs;
            for (;;) {
              const i = seen.findIndex(pred);
              if (i >= 0) return seen.splice(0, i + 1).at(-1)!;
              if (Date.now() > deadline) throw new Error(`no matching message in ${timeoutMs} ms; had ${JSON.stringify(seen)}`);
              await new Promise<void>((r) => {
                waiters.push(r);
                setTimeout(r, 100);
              });
            }
          },
        });
      });
      req.on('error', (err) => (err.message === 'socket hang up' ? undefined : reject(err)));
    });
  }

  it('refuses the stream without a valid token, like the rest of the API', async () => {
    for (const auth of [undefined, 'Bearer rbt_wrong', `Bearer ${token}x`]) {
      const res = await fetch(`${base}/api/v1/stream`, { headers: auth ? { authorization: auth } : {} });
      assert.equal(res.status, 401, String(auth));
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'RB_ERR_UNAUTHORIZED');
    }
  });

  it('pushes new events with their ids, and job progress', async () => {
    const s = await open();
    assert.match(s.headers['content-type']!, /^text\/event-stream/);
    assert.equal(s.headers['cache-control'], 'no-store');
    const ready = JSON.parse((await s.next((m) => m.event === 'ready')).data) as { lastEventId: number };
    await app.services.nodes.add([{ name: 'live1', macs: ['52:54:00:aa:00:01'] }]);
    const m = await s.next((x) => x.event === 'event');
    const event = JSON.parse(m.data) as { id: number; kind: string; subject: string };
    assert.deepEqual([event.kind, event.subject], ['node.added', 'live1']);
    assert.equal(Number(m.id), event.id);
    assert.ok(event.id > ready.lastEventId);

    const job = await app.services.jobs.start('copycds', 'stream-test', {}, 1000);
    job.progress({ phase: 'copy', done: 250, total: 1000 });
    const progress = JSON.parse((await s.next((x) => x.event === 'job' && (JSON.parse(x.data) as { progress: { done: number } }).progress.done === 250)).data) as Record<string, unknown>;
    assert.deepEqual([progress.id, progress.state, progress.subject], [job.record.id, 'running', 'stream-test']);
    assert.equal(progress.params, undefined, 'job params stay out of the stream');
    await job.succeed({});
    const done = JSON.parse((await s.next((x) => x.event === 'job' && (JSON.parse(x.data) as { state: string }).state !== 'running')).data) as { state: string };
    assert.equal(done.state, 'succeeded');
    s.abort();
  });

  it('resumes after the last id a client saw (afterId or Last-Event-ID), without repeats', async () => {
    const first = await open();
    const { lastEventId } = JSON.parse((await first.next((m) => m.event === 'ready')).data) as { lastEventId: number };
    first.abort();
    await app.services.nodes.add([{ name: 'gap1' }, { name: 'gap2' }]);
    for (const [query, headers] of [
      [`?afterId=${lastEventId}`, {}],
      ['', { 'last-event-id': String(lastEventId) }],
    ] as const) {
      const s = await open(query, headers);
      const names: string[] = [];
      for (let i = 0; i < 2; i++) names.push((JSON.parse((await s.next((m) => m.event === 'event')).data) as { subject: string }).subject);
      assert.deepEqual(names, ['gap1', 'gap2'], query || 'header');
      await s.next((m) => m.event === 'ready');
      s.abort();
    }
  });

  it('ends the stream when the client goes away, and caps open streams', async () => {
    const streams: Stream[] = [];
    for (let i = 0; i < 16; i++) streams.push(await open());
    const refused = await fetch(`${base}/api/v1/stream`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('retry-after'), '10');
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'RB_ERR_BUSY');

    const closedBefore = logLines.filter((l) => l.includes('"live stream closed"')).length;
    for (const s of streams) s.abort();
    // The server notices each hang-up and frees its slot: 16 new streams fit again.
    await waitFor(() => logLines.filter((l) => l.includes('"live stream closed"')).length >= closedBefore + 16, {
      what: 'the server to notice the clients going away',
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    const again: Stream[] = [];
    for (let i = 0; i < 16; i++) again.push(await open());
    for (const s of again) s.abort();
  });

  it('serves the console under a strict CSP, with ETags, and redirects / to it', async () => {
    const root = await fetch(`${base}/`, { redirect: 'manual' });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get('location'), '/console/');
    const index = await fetch(`${base}/console/`);
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type')!, /^text\/html/);
    const csp = index.headers.get('content-security-policy')!;
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe/);
    const html = await index.text();
    assert.match(html, /<script type="module" src="app.js"><\/script>/);
    assert.doesNotMatch(html, /<script>|<script [^>]*>[^<]/, 'no inline script');
    const js = await fetch(`${base}/console/app.js`);
    assert.match(js.headers.get('content-type')!, /^text\/javascript/);
    assert.match(await js.text(), /api\/v1\/stream/);
    const etag = js.headers.get('etag')!;
    assert.equal((await fetch(`${base}/console/app.js`, { headers: { 'if-none-match': etag } })).status, 304);
    assert.match((await fetch(`${base}/console/app.css`)).headers.get('content-type')!, /^text\/css/);
    for (const p of ['/console/bundle.ts', '/console/..%2Fpackage.json', '/console/web/main.ts']) assert.equal((await fetch(base + p)).status, 404, p);
  });

  it('serves a build as it is, bundling only when there is none', async () => {
    const built = await tempDir('rhevboot-console-build-');
    for (const [name, body] of await bundleConsole({ minify: true })) await writeFile(path.join(built, name), body);
    const lines: string[] = [];
    const log = pino({ level: 'info' }, new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }));
    const fromBuild = await consoleAssets(log, built)();
    assert.deepEqual([...fromBuild.keys()].sort(), ['app.css', 'app.js', 'index.html']);
    assert.deepEqual(fromBuild.get('app.js')!.body, await readFile(path.join(built, 'app.js')));
    assert.equal(lines.length, 0, 'a build is read, not bundled again');
    const fromSource = await consoleAssets(log, await tempDir('rhevboot-console-empty-'))();
    assert.match(fromSource.get('app.js')!.body.toString(), /api\/v1\/stream/);
    assert.match(lines.join(''), /bundled in memory/);
  });

  it("gives each node's last boot contact", async () => {
    await app.services.events.record({ kind: 'node.dhcp', subjectType: 'node', subject: 'live1', message: 'DHCP DISCOVER', data: {} });
    await app.services.events.record({ kind: 'node.changed', subjectType: 'node', subject: 'live1', message: 'not a contact', data: {} });
    const res = await fetch(`${base}/api/v1/last-contact`, { headers: { authorization: `Bearer ${token}` } });
    const body = (await res.json()) as Record<string, { kind: string; message: string }>;
    assert.deepEqual(Object.keys(body), ['live1']);
    assert.equal(body.live1!.kind, 'node.dhcp');
    assert.equal((await fetch(`${base}/api/v1/last-contact`)).status, 401);
  });

  it('does not keep the appliance from stopping: open streams are ended', async () => {
    const s = await open();
    await s.next((m) => m.event === 'ready');
    const started = Date.now();
    const stopped = app.stop('test: stop with a stream open').then(() => true);
    // A stream the server does not end holds the close up for good (fastify closes idle
    // connections only), so a generous bound still tells the two apart on a busy machine.
    const within = <T>(p: Promise<T>, ms: number): Promise<T | 'late'> => {
      let timer: NodeJS.Timeout | undefined;
      return Promise.race([p, new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), ms)))]).finally(() => clearTimeout(timer));
    };
    if ((await within(stopped, 20_000)) === 'late') {
      // Cut the connections so the file ends, then fail: the stream held the appliance up.
      app.http.server.closeAllConnections();
      await stopped;
      assert.fail(`stop did not finish in 20 s with a live stream open (${Date.now() - started} ms)`);
    }
    assert.notEqual(await within(s.ended, 20_000), 'late', 'stream not ended by stop');
  });
});
