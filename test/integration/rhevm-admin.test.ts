import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { BOOTSTRAP_TOKEN_FILE, startAppliance, type Appliance } from '../../src/appliance.js';
import { loadConfig } from '../../src/config/load.js';
import { REDACT_PATHS } from '../../src/log.js';
import { DEFAULT_USER, EngineSim } from '../engine-sim/index.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

describe('engines and hypervisors: CLI and API against a TLS engine', () => {
  let sim: EngineSim;
  let app: Appliance;
  let env: NodeJS.ProcessEnv;
  let base: string;
  let token: string;
  let stateDir: string;
  const logLines: string[] = [];

  before(async () => {
    sim = await EngineSim.start({ version: 4, tls: true, stepMs: 5 });
    stateDir = await tempDir('rhevboot-engines-');
    env = { RHEVBOOT_STATE_DIR: stateDir, RHEVBOOT_HTTP_HOST: '127.0.0.1', RHEVBOOT_HTTP_PORT: '0', RHEVBOOT_TFTP_HOST: '127.0.0.1', RHEVBOOT_TFTP_PORT: '0', RHEVBOOT_DHCP_SUBNETS: JSON.stringify([{ subnet: '10.9.0.0/16' }]) };
    const sink = new Writable({ write: (chunk: Buffer, _enc, cb) => (logLines.push(...chunk.toString().split('\n').filter(Boolean)), cb()) });
    app = await startAppliance(loadConfig({ env }), { log: pino({ level: 'debug', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink) });
    base = `http://127.0.0.1:${app.httpAddress.port}/api/v1`;
    token = (await readFile(path.join(stateDir, BOOTSTRAP_TOKEN_FILE), 'utf8')).trim();
  });
  after(async () => {
    await app?.stop('test over');
    await sim?.close();
  });

  const api = async (method: string, p: string, body?: unknown): Promise<{ status: number; text: string }> => {
    const res = await fetch(base + p, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
    return { status: res.status, text: await res.text() };
  };

  it('adds an engine, pins its CA only with the right fingerprint, logs in, never shows the password', async () => {
    let r = await runCli(['rhevm', 'add', 'rhevm1', '--url', sim.url, '--user', DEFAULT_USER.user], env, 60_000, `${DEFAULT_USER.password}\n`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /next: rhevboot rhevm test rhevm1/);

    r = await runCli(['rhevm', 'test', 'rhevm1'], env);
    assert.equal(r.code, 1);
    assert.ok(r.stdout.includes(sim.ca!.fingerprint256), 'the fingerprint is shown');
    assert.match(r.stderr, /not a terminal: pass --fingerprint .* nothing pinned/);
    r = await runCli(['rhevm', 'test', 'rhevm1', '--fingerprint', 'AA:'.repeat(31) + 'AA'], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /RB_ERR_INVALID.*not pinned/);
    assert.equal(JSON.parse((await runCli(['rhevm', 'show', 'rhevm1', '--json'], env)).stdout).caPinned, false);

    r = await runCli(['rhevm', 'test', 'rhevm1', '--fingerprint', sim.ca!.fingerprint256.toLowerCase().replace(/:/g, '')], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /pinned\n/);
    assert.match(r.stdout, /login\s+ok as admin@internal\napi\s+v4 at \/ovirt-engine\/api/);
    r = await runCli(['rhevm', 'test', 'rhevm1'], env);
    assert.match(r.stdout, /matches the pinned CA/);

    const shown = JSON.parse((await runCli(['rhevm', 'ls', '--json'], env)).stdout) as Record<string, unknown>[];
    assert.equal(shown[0]!.caPinned, true);
    assert.equal(shown[0]!.apiVersion, '4 /ovirt-engine/api');
    const listed = (await api('GET', '/engines')).text + (await runCli(['rhevm', 'show', 'rhevm1', '--json'], env)).stdout;
    assert.doesNotMatch(listed, new RegExp(DEFAULT_USER.password), 'the password never comes back');
    const db = new Database(path.join(stateDir, 'rhevboot.db'), { readonly: true });
    assert.equal((db.prepare('SELECT password FROM engines').get() as { password: string }).password, DEFAULT_USER.password);
    db.close();
  });

  it('refuses bad engine definitions over the API and changes nothing', async () => {
    for (const [body, field] of [
      [{ name: 'bad name', url: sim.url, username: 'a@b', password: 'x' }, 'name'],
      [{ name: 'e2', url: 'ftp://x', username: 'a@b', password: 'x' }, 'url'],
      [{ name: 'e2', url: 'https://user:pw@x', username: 'a@b', password: 'x' }, 'url'],
      [{ name: 'e2', url: sim.url, username: 'admin', password: 'x' }, 'username'],
      [{ name: 'e2', url: sim.url, username: 'a@b', password: 'x', caPem: 'not a certificate' }, undefined],
    ] as const) {
      const r = await api('POST', '/engines', body);
      assert.ok(r.status === 400 || r.status === 502, `${JSON.stringify(body)} -> ${r.status} ${r.text}`);
      if (field) assert.equal(JSON.parse(r.text).error.details.field, field);
    }
    assert.equal((await api('POST', '/engines', { name: 'e2', url: sim.url, username: 'a@b' })).status, 400);
    assert.deepEqual(JSON.parse((await api('GET', '/engines')).text).map((e: { name: string }) => e.name), ['rhevm1']);
    const created = await api('POST', '/engines', { name: 'e3', url: sim.url, username: 'a@b', password: 'api-secret-pw', caPem: sim.ca!.pem });
    assert.equal(created.status, 201);
    assert.equal(JSON.parse(created.text).caPinned, true);
    assert.doesNotMatch(created.text, /api-secret-pw/);
    assert.equal((await api('DELETE', '/engines/e3')).status, 204);
    assert.ok(!logLines.some((l) => l.includes('api-secret-pw') || l.includes(DEFAULT_USER.password)), 'no password in any log line');
  });

  it('lists hosts matched to nodes, approves and removes one; an engine in use is not removed', async () => {
    let r = await runCli(['node', 'add', 'rhevh05', '--mac', '52:54:00:09:00:05', '--ip', '10.9.0.5', '--manager', 'rhevm1', '--cluster', 'Default'], env);
    assert.equal(r.code, 0, r.stderr);
    sim.registerNode({ name: 'rhevh05.lab', address: '10.9.0.5', uniqueId: 'u5' });
    r = await runCli(['hypervisor', 'ls', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const host = (JSON.parse(r.stdout) as { name: string; node: string | null; status: string }[]).find((h) => h.name === 'rhevh05.lab')!;
    assert.deepEqual([host.node, host.status], ['rhevh05', 'pending_approval']);

    r = await runCli(['hypervisor', 'approve', 'rhevh05'], env);
    assert.equal(r.code, 0, r.stderr);
    await sim.waitFor(() => sim.hostByName('rhevh05.lab')?.status === 'up', 10_000);
    r = await runCli(['rhevm', 'rm', 'rhevm1'], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /RB_ERR_CONFLICT.*manager of 1 node\(s\) \(rhevh05\)/);

    assert.equal((await api('DELETE', '/hypervisors/rhevh05')).status, 204);
    assert.equal(sim.hostByName('rhevh05.lab'), undefined, 'deactivated, then removed');
    const events = JSON.parse((await api('GET', '/nodes/rhevh05/events')).text) as { kind: string }[];
    assert.deepEqual(events.map((e) => e.kind).filter((k) => k.startsWith('rhevm.')), ['rhevm.host-approved', 'rhevm.host-removed']);
  });
});
