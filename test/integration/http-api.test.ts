import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { BOOTSTRAP_TOKEN_FILE, startAppliance, type Appliance } from '../../src/appliance.js';
import { loadConfig } from '../../src/config/load.js';
import { REDACT_PATHS } from '../../src/log.js';
import { MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { tempDir } from '../helpers/tmp.js';

describe('HTTP API', () => {
  let app: Appliance;
  let base: string;
  let token: string;
  let stateDir: string;
  const logLines: string[] = [];

  before(async () => {
    stateDir = await tempDir();
    const loaded = loadConfig({ env: { RHEVBOOT_STATE_DIR: stateDir, RHEVBOOT_HTTP_HOST: '127.0.0.1', RHEVBOOT_HTTP_PORT: '0', RHEVBOOT_TFTP_HOST: '127.0.0.1', RHEVBOOT_TFTP_PORT: '0' } });
    const sink = new Writable({ write: (chunk: Buffer, _enc, cb) => (logLines.push(...chunk.toString().split('\n').filter(Boolean)), cb()) });
    const log = pino({ level: 'debug', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink);
    app = await startAppliance(loaded, { log });
    base = `http://127.0.0.1:${app.httpAddress.port}`;
    token = (await readFile(path.join(stateDir, BOOTSTRAP_TOKEN_FILE), 'utf8')).trim();
  });
  after(() => app?.stop('test over'));

  // null: send no Authorization header at all.
  const get = (p: string, auth: string | null = token) => fetch(base + p, { headers: auth !== null ? { authorization: `Bearer ${auth}` } : {} });

  it('answers /healthz without a token', async () => {
    const res = await get('/healthz', null);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { status: string; schemaVersion: number; version: string };
    assert.equal(body.status, 'ok');
    assert.equal(body.schemaVersion, MIGRATIONS.at(-1)!.version);
    assert.match(body.version, /^\d+\.\d+\.\d+/);
  });

  it('created a bootstrap token readable by its owner only, stored only as a hash', async () => {
    assert.match(token, /^rbt_[A-Za-z0-9_-]{43}$/);
    assert.equal((await stat(path.join(stateDir, BOOTSTRAP_TOKEN_FILE))).mode & 0o777, 0o600);
    const db = new Database(path.join(stateDir, 'rhevboot.db'), { readonly: true });
    const rows = db.prepare('SELECT name, hash FROM api_tokens').all() as { name: string; hash: string }[];
    db.close();
    assert.deepEqual(rows.map((r) => r.name), ['bootstrap']);
    assert.notEqual(rows[0]!.hash, token);
    assert.ok(!JSON.stringify(rows).includes(token.slice(4)));
  });

  it('refuses the admin API without a valid token', async () => {
    for (const auth of [null, '', 'rbt_wrong', 'garbage', token + 'x']) {
      const res = await get('/api/v1/distros', auth);
      assert.equal(res.status, 401, String(auth));
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="rhevboot"');
      const body = (await res.json()) as { error: { code: string } };
      assert.equal(body.error.code, 'RB_ERR_UNAUTHORIZED');
    }
  });

  it('serves the API with a token', async () => {
    const res = await get('/api/v1/distros');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), []);
    const v = await get('/api/v1/version');
    assert.equal(v.status, 200);
  });

  it('gives stable error codes for unknown routes, missing things and wrong bodies, and changes nothing', async () => {
    let res = await get('/api/v1/nope');
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'RB_ERR_NOT_FOUND');

    res = await get('/api/v1/distros/rhevh6.5');
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'RB_ERR_NOT_FOUND');

    const post = (body: string, type = 'application/json') =>
      fetch(base + '/api/v1/distros', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': type }, body });
    for (const bad of ['{}', '{"iso": 5}', '{"iso": "/x", "bogus": true}', '{"iso": "/x", "compress": "xz"}', '{not json', '[]']) {
      res = await post(bad);
      assert.equal(res.status, 400, bad);
      const body = (await res.json()) as { error: { code: string; message: string } };
      assert.ok(body.error.code && body.error.message, bad);
    }
    res = await post('{"iso": "/nonexistent/rhevh.iso"}');
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'RB_ERR_INVALID');
    assert.match(body.error.message, /nonexistent\/rhevh\.iso: no such file/);

    res = await fetch(base + '/api/v1/distros', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ iso: 'x'.repeat(2 * 1024 * 1024) }) });
    assert.equal(res.status, 413);
    assert.deepEqual(await (await get('/api/v1/distros')).json(), []);
    assert.deepEqual(await (await get('/api/v1/jobs')).json(), []);
  });

  it('publishes an OpenAPI document built from the route schemas', async () => {
    const res = await get('/api/v1/openapi.json', null);
    assert.equal(res.status, 200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
    assert.match(doc.openapi, /^3\./);
    assert.ok(doc.paths['/api/v1/distros']);
    assert.ok(doc.paths['/api/v1/jobs/{id}']);
  });

  it('logs one line per request and never the token', async () => {
    await get('/api/v1/distros');
    const requestLines = logLines.filter((l) => l.includes('"http request"'));
    assert.ok(requestLines.length >= 5);
    const last = JSON.parse(requestLines.at(-1)!) as { method: string; url: string; status: number; tokenName: string };
    assert.deepEqual([last.method, last.url, last.status, last.tokenName], ['GET', '/api/v1/distros', 200, 'bootstrap']);
    assert.ok(!logLines.some((l) => l.includes(token.slice(4))), 'token found in the log');
  });

  it('redacts secrets in log objects', () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) });
    const log = pino({ redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink);
    log.info({ password: 'p1', engine: { password: 'p2', user: 'admin@internal' }, req: { headers: { authorization: 'Bearer t' } } }, 'x');
    assert.ok(!/p1|p2|Bearer t/.test(lines.join('')));
    assert.match(lines.join(''), /admin@internal/);
  });
});
