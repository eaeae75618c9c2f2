import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BOOTSTRAP_TOKEN_FILE, startAppliance, type Appliance } from '../../src/appliance.js';
import { loadConfig } from '../../src/config/load.js';
import { createCliLogger } from '../../src/log.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

describe('groups and the event log (API and CLI)', () => {
  let app: Appliance;
  let base: string;
  let token: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    const stateDir = await tempDir('rhevboot-groups-');
    env = { RHEVBOOT_STATE_DIR: stateDir, RHEVBOOT_HTTP_HOST: '127.0.0.1', RHEVBOOT_HTTP_PORT: '0', RHEVBOOT_TFTP_HOST: '127.0.0.1', RHEVBOOT_TFTP_PORT: '0' };
    app = await startAppliance(loadConfig({ env }), { log: createCliLogger('silent') });
    base = `http://127.0.0.1:${app.httpAddress.port}`;
    token = (await readFile(path.join(stateDir, BOOTSTRAP_TOKEN_FILE), 'utf8')).trim();
  });
  after(() => app?.stop('test over'));

  const call = async (method: string, p: string, body?: unknown): Promise<{ status: number; json: any }> => {
    const res = await fetch(base + p, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, json: await res.json() };
  };

  it('manages membership by noderange; groups work in noderanges; bad names change nothing', async () => {
    let r = await call('POST', '/api/v1/nodes', { nodes: ['n01', 'n02', 'n03', 'n04', 'n05'].map((name) => ({ name, groups: name === 'n05' ? ['spare'] : [] })) });
    assert.equal(r.status, 201);

    r = await call('POST', '/api/v1/groups/rack3/members', { range: 'n[01-03]' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { group: 'rack3', changed: ['n01', 'n02', 'n03'] });
    r = await call('POST', '/api/v1/groups/rack3/members', { range: 'n02-n04' });
    assert.deepEqual(r.json.changed, ['n04'], 'nodes already in the group are not changed again');

    r = await call('GET', '/api/v1/groups');
    assert.deepEqual(r.json, [
      { name: 'rack3', members: ['n01', 'n02', 'n03', 'n04'] },
      { name: 'spare', members: ['n05'] },
    ]);
    r = await call('GET', '/api/v1/nodes?range=all,-rack3');
    assert.deepEqual(r.json.map((n: { name: string }) => n.name), ['n05']);

    r = await call('DELETE', '/api/v1/groups/rack3/members/n01');
    assert.deepEqual(r.json.changed, ['n01']);
    assert.deepEqual((await call('GET', '/api/v1/groups/rack3')).json.members, ['n02', 'n03', 'n04']);

    const before = (await call('GET', '/api/v1/groups')).json;
    for (const [name, code, status] of [
      ['all', 'RB_ERR_INVALID', 400],
      ['bad%20name', 'RB_ERR_INVALID', 400],
      ['n05', 'RB_ERR_CONFLICT', 409],
    ] as const) {
      r = await call('POST', `/api/v1/groups/${name}/members`, { range: 'n01' });
      assert.equal(r.status, status, name);
      assert.equal(r.json.error.code, code, name);
    }
    r = await call('POST', '/api/v1/groups/rack4/members', { range: 'n01,nosuch' });
    assert.equal(r.status, 404);
    assert.match(r.json.error.message, /nosuch/);
    r = await call('POST', '/api/v1/groups/rack4/members', { nodes: 'n01' });
    assert.equal(r.status, 400);
    assert.deepEqual((await call('GET', '/api/v1/groups')).json, before, 'refused requests changed nothing');

    r = await call('DELETE', '/api/v1/groups/rack3');
    assert.deepEqual(r.json.changed, ['n02', 'n03', 'n04']);
    assert.equal((await call('GET', '/api/v1/groups/rack3')).status, 404);
  });

  it('the CLI does the same next to the running server, and shows timelines', async () => {
    let r = await runCli(['group', 'add', 'batch1', 'n01,n02'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /2 node\(s\) joined batch1: n01,n02/);
    assert.deepEqual((await call('GET', '/api/v1/groups/batch1')).json.members, ['n01', 'n02'], 'the server sees what the CLI did');
    r = await runCli(['group', 'ls', '--json'], env);
    assert.deepEqual(JSON.parse(r.stdout).find((g: { name: string }) => g.name === 'batch1').members, ['n01', 'n02']);
    r = await runCli(['group', 'rm', 'batch1'], env);
    assert.match(r.stdout, /2 node\(s\) left batch1/);
    r = await runCli(['group', 'rm', 'batch1'], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /RB_ERR_NOT_FOUND.*no group named batch1/);

    r = await runCli(['events', 'n01', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const kinds = (JSON.parse(r.stdout) as { kind: string; message: string }[]).map((e) => e.message);
    assert.deepEqual(kinds.slice(0, 1), ['node n01 defined']);
    assert.ok(kinds.includes('node n01 joined group rack3') && kinds.includes('node n01 left group batch1'), kinds.join(' | '));
    r = await runCli(['events', '--kind', 'node.added', '--limit', '2'], env);
    assert.match(r.stdout, /^TIME\s+KIND\s+SUBJECT\s+MESSAGE\n.*node\/n04 .*\n.*node\/n05 .*node n05 defined\n$/, 'the latest two, oldest first');
    r = await runCli(['events', 'nosuch'], env);
    assert.equal(r.code, 1);
    r = await runCli(['events', '--limit', 'x'], env);
    assert.match(r.stderr, /--limit must be/);
  });

  it('events --follow prints a range\'s new events as they happen and stops on Ctrl-C', async () => {
    const child = spawnCli(['events', 'n01,n02', '--follow', '--json', '--limit', '1'], env);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const lines = (): { subject: string; message: string }[] => out.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    const waitLines = (n: number) => waitFor(() => lines().length >= n, { what: () => `${n} lines from events --follow, had:\n${out}`, timeoutMs: 10_000, intervalMs: 50 });
    try {
      await waitLines(1);
      assert.equal(lines().length, 1, 'the latest event first');
      await call('PATCH', '/api/v1/nodes/n02', { kernelArgs: 'quiet' });
      await call('PATCH', '/api/v1/nodes/n05', { kernelArgs: 'quiet' });
      await call('PATCH', '/api/v1/nodes/n01', { kernelArgs: 'quiet' });
      await waitLines(3);
      assert.deepEqual(lines().slice(1).map((e) => e.subject), ['n02', 'n01'], 'n05 is outside the range');
    } finally {
      child.kill('SIGINT');
    }
    const code = await new Promise((r) => child.on('close', r));
    assert.equal(code, 0);
  });
});
