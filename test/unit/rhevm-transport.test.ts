import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import { RhevmClient, type RhevmClientOptions } from '../../src/rhevm/client.js';
import { describeCa, fetchEngineCa, sameFingerprint } from '../../src/rhevm/ca.js';
import { forgetApi } from '../../src/rhevm/detect.js';
import { EngineFault, RhevmError } from '../../src/rhevm/errors.js';
import { backoffDelay } from '../../src/rhevm/retry.js';
import { startFakeEngine, TOKEN, V3_ROOT, V4_ROOT, type FakeEngine, type Handler, type Recorded } from '../helpers/rhevm-fake-engine.js';
import { tempDir } from '../helpers/tmp.js';

const PASSWORD = 'pw-SECRET-987';
const FAST = { retry: { attempts: 4, baseDelayMs: 5, maxDelayMs: 40, budgetMs: 5000 }, pollIntervalMs: 5, pollTimeoutMs: 2000, timeoutMs: 2000 };

const engines: FakeEngine[] = [];
const clients: RhevmClient[] = [];
after(async () => {
  for (const c of clients) await c.close();
  for (const e of engines) await e.close();
});

async function engine(h: Handler, tls?: { key: string; cert: string }): Promise<FakeEngine> {
  const e = await startFakeEngine(h, tls);
  engines.push(e);
  return e;
}

function client(url: string, extra: Partial<RhevmClientOptions> = {}): RhevmClient {
  forgetApi();
  const c = new RhevmClient({ url, username: 'admin@internal', password: PASSWORD, ...FAST, ...extra });
  clients.push(c);
  return c;
}

const api = (r: Recorded) => r.url.startsWith('/ovirt-engine/api');
const hostXml = (id: string, name: string, status = 'up') =>
  `<host href="/ovirt-engine/api/hosts/${id}" id="${id}"><name>${name}</name><address>${name}.example.com</address><status>${status}</status></host>`;

/** A v4 engine: root, SSO, and whatever `more` answers for the rest. */
function v4(more: Handler): Handler {
  return (r, n) => {
    if (r.url === '/ovirt-engine/sso/oauth/token') return { status: 200, body: JSON.stringify({ access_token: TOKEN, token_type: 'bearer', exp: String(Date.now() + 3_600_000) }), headers: { 'Content-Type': 'application/json' } };
    if (r.url === '/ovirt-engine/api' && r.method === 'GET') return { status: 200, body: V4_ROOT };
    return more(r, n);
  };
}

describe('rhevm: version detection and auth (§1, §2, §10)', () => {
  it('v3 engine at /api: falls back from /ovirt-engine/api, Basic + persistent-auth, then the session cookie', async () => {
    const e = await engine((r) => {
      if (r.url.startsWith('/ovirt-engine')) return { status: 404 };
      if (r.url === '/api') return { status: 200, body: V3_ROOT, headers: { 'Set-Cookie': 'JSESSIONID=sess42; Path=/api; Secure; HttpOnly' } };
      if (r.url.startsWith('/api/hosts')) return { status: 200, body: `<hosts>${hostXml('h1', 'rhevh1').replace(/<status>up<\/status>/, '<status><state>pending_approval</state></status>')}</hosts>` };
      return { status: 404 };
    });
    const c = client(e.url);
    const info = await c.api();
    assert.deepEqual(info, { path: '/api', version: 3, productVersion: '3.6.13', productName: 'Red Hat Enterprise Virtualization Manager' });
    const [h] = await c.hosts.list({ search: { name: 'rhevh1*' } });
    assert.equal(h!.status, 'pending_approval');
    const probe = e.requests.find((r) => r.url === '/api')!;
    assert.equal(probe.headers['authorization'], 'Basic ' + Buffer.from(`admin@internal:${PASSWORD}`).toString('base64'));
    assert.equal(probe.headers['prefer'], 'persistent-auth');
    const list = e.requests.find((r) => r.url.startsWith('/api/hosts'))!;
    assert.equal(list.url, '/api/hosts?search=name%3Drhevh1*');
    assert.equal(list.headers['cookie'], 'JSESSIONID=sess42', 'session reused');
    assert.equal(list.headers['authorization'], undefined, 'no password once a session exists');
    assert.equal(list.headers['accept'], 'application/xml');
    assert.equal(list.headers['version'], '3');
  });

  it('v4 engine: SSO token, bearer on API calls, detection remembered per engine', async () => {
    const e = await engine(v4((r) => (r.url.startsWith('/ovirt-engine/api/hosts') ? { status: 200, body: `<hosts>${hostXml('h1', 'a')}</hosts>` } : { status: 404 })));
    const c = client(e.url);
    await c.hosts.list();
    await c.hosts.list();
    const tok = e.requests.filter((r) => r.url === '/ovirt-engine/sso/oauth/token');
    assert.equal(tok.length, 1, 'one token for both calls');
    const form = new URLSearchParams(tok[0]!.body);
    assert.equal(form.get('grant_type'), 'password');
    assert.equal(form.get('scope'), 'ovirt-app-api');
    assert.equal(form.get('username'), 'admin@internal');
    assert.equal(tok[0]!.headers['content-type'], 'application/x-www-form-urlencoded');
    const calls = e.requests.filter((r) => r.url === '/ovirt-engine/api/hosts');
    assert.equal(calls.length, 2);
    for (const r of calls) {
      assert.equal(r.headers['authorization'], `Bearer ${TOKEN}`);
      assert.equal(r.headers['version'], '4');
    }
    assert.equal(e.requests.filter((r) => r.url === '/ovirt-engine/api').length, 1, 'root probed once');
    // A second client for the same engine reuses the remembered detection.
    const c2 = new RhevmClient({ url: e.url, username: 'admin@internal', password: PASSWORD, ...FAST });
    clients.push(c2);
    assert.equal((await c2.api()).version, 4);
    assert.equal(e.requests.filter((r) => r.url === '/ovirt-engine/api').length, 1);
  });

  it('SSO endpoint missing (404): falls back to Basic + persistent-auth', async () => {
    const e = await engine((r) => {
      if (r.url === '/ovirt-engine/sso/oauth/token') return { status: 404 };
      if (r.url === '/ovirt-engine/api') return { status: 200, body: V4_ROOT };
      return { status: 200, body: '<hosts/>' };
    });
    const c = client(e.url);
    assert.deepEqual(await c.hosts.list(), []);
    const last = e.requests.at(-1)!;
    assert.match(String(last.headers['authorization']), /^Basic /);
    assert.equal(last.headers['prefer'], 'persistent-auth');
  });

  it('SSO access_denied is an auth error with the engine words, and no password in it', async () => {
    const e = await engine((r) => {
      if (r.url === '/ovirt-engine/sso/oauth/token') return { status: 400, body: readFileSync(new URL('../fixtures/ovirt-examples/sso-token-error-oauth.json', import.meta.url), 'utf8') };
      return { status: 200, body: V4_ROOT };
    });
    const c = client(e.url);
    const err = await c.hosts.list().catch((x: unknown) => x);
    assert.ok(err instanceof RhevmError);
    assert.equal(err.rhevmCode, 'RB_ERR_RHEVM_AUTH');
    assert.match(err.message, /username or password is incorrect/);
    assert.ok(!JSON.stringify({ m: err.message, d: err.details, s: err.stack }).includes(PASSWORD));
  });

  it('401 → re-authenticates exactly once and retries; a second 401 is an auth error', async () => {
    let expired = true;
    const e = await engine(
      v4((r) => {
        if (r.url !== '/ovirt-engine/api/hosts') return { status: 404 };
        if (expired) {
          expired = false;
          return { status: 401, headers: { 'WWW-Authenticate': 'Basic realm="RESTAPI"' } };
        }
        return { status: 200, body: '<hosts/>' };
      }),
    );
    const c = client(e.url);
    await c.hosts.list();
    assert.equal(e.requests.filter((r) => r.url === '/ovirt-engine/sso/oauth/token').length, 2, 'token fetched again after the 401');
    assert.equal(c.conn.stats.reauths, 1);

    e.setHandler(v4((r) => (r.url === '/ovirt-engine/api/hosts' ? { status: 401 } : { status: 404 })));
    const before = e.requests.length;
    const err = await c.hosts.list().catch((x: unknown) => x);
    assert.ok(err instanceof RhevmError && err.rhevmCode === 'RB_ERR_RHEVM_AUTH');
    assert.equal(e.requests.slice(before).filter((r) => r.url === '/ovirt-engine/api/hosts').length, 2, 'one retry only');
  });
});

describe('rhevm: retries (§10)', () => {
  it('5xx on GET: retried with backoff until success; one Correlation-Id across the retries', async () => {
    let fails = 2;
    const e = await engine(v4((r) => (r.url === '/ovirt-engine/api/hosts/h1' ? (fails-- > 0 ? { status: 503, body: '<html>down</html>' } : { status: 200, body: hostXml('h1', 'a') }) : { status: 404 })));
    const c = client(e.url);
    const t0 = Date.now();
    const h = await c.hosts.get('h1', { correlationId: 'job-17_a' });
    assert.equal(h.name, 'a');
    const tries = e.requests.filter((r) => r.url === '/ovirt-engine/api/hosts/h1');
    assert.equal(tries.length, 3);
    assert.deepEqual(new Set(tries.map((r) => r.headers['correlation-id'])), new Set(['job-17_a']));
    assert.ok(Date.now() - t0 >= 2 + 5, 'backed off between tries');
    // Another logical operation gets another id.
    await c.hosts.get('h1');
    const ids = new Set(e.requests.filter((r) => r.url === '/ovirt-engine/api/hosts/h1').map((r) => r.headers['correlation-id']));
    assert.equal(ids.size, 2);
    assert.match([...ids][1] as string, /^[0-9a-f-]{36}$/);
  });

  it('5xx forever: gives up after the configured attempts with the engine fault', async () => {
    const e = await engine(v4((r) => (r.url === '/ovirt-engine/api/vms' ? { status: 500, body: '<fault><reason>Operation Failed</reason><detail>db down</detail></fault>' } : { status: 404 })));
    const c = client(e.url, { retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 2, budgetMs: 5000 } });
    const err = await c.vms.list().catch((x: unknown) => x);
    assert.ok(err instanceof EngineFault);
    assert.equal(err.status, 500);
    assert.equal(err.detail, 'db down');
    assert.equal(e.requests.filter((r) => r.url === '/ovirt-engine/api/vms').length, 3);
  });

  it('connection reset on GET: retried', async () => {
    let resets = 1;
    const e = await engine(v4((r) => (r.url === '/ovirt-engine/api/clusters' ? (resets-- > 0 ? 'reset' : { status: 200, body: '<clusters><cluster id="c1"><name>Default</name></cluster></clusters>' }) : { status: 404 })));
    const c = client(e.url);
    const l = await c.clusters.list();
    assert.equal(l[0]!.name, 'Default');
    assert.equal(e.requests.filter((r) => r.url === '/ovirt-engine/api/clusters').length, 2);
  });

  it('POST add reset after the engine created it: looked up by name, not sent again', async () => {
    const created: string[] = [];
    const e = await engine(
      v4((r) => {
        if (r.method === 'POST' && r.url === '/ovirt-engine/api/vms') {
          created.push('vm1');
          return 'reset';
        }
        if (r.method === 'GET' && r.url.startsWith('/ovirt-engine/api/vms?search=')) {
          return { status: 200, body: `<vms>${created.map((n) => `<vm id="id-${n}"><name>${n}</name><status>down</status></vm>`).join('')}</vms>` };
        }
        return { status: 404 };
      }),
    );
    const c = client(e.url);
    const vm = await c.vms.add({ name: 'vm1', cluster: { name: 'Default' } });
    assert.equal(vm.id, 'id-vm1');
    assert.equal(e.requests.filter((r) => r.method === 'POST' && api(r)).length, 1, 'exactly one POST');
    const lookup = e.requests.find((r) => r.url.startsWith('/ovirt-engine/api/vms?search='))!;
    assert.equal(lookup.url, '/ovirt-engine/api/vms?search=name%3Dvm1');
    const post = e.requests.find((r) => r.method === 'POST' && api(r))!;
    assert.equal(lookup.headers['correlation-id'], post.headers['correlation-id']);
    assert.match(post.body, /<template><name>Blank<\/name><\/template>/);
    assert.equal(post.headers['content-type'], 'application/xml');
  });

  it('POST add reset before the engine created it: lookup finds nothing, then re-sent once', async () => {
    let first = true;
    const e = await engine(
      v4((r) => {
        if (r.method === 'POST' && r.url === '/ovirt-engine/api/hosts') {
          if (first) {
            first = false;
            return 'reset';
          }
          return { status: 201, body: hostXml('h9', 'rhevh9', 'installing'), headers: { Location: '/ovirt-engine/api/hosts/h9' } };
        }
        if (r.url.startsWith('/ovirt-engine/api/hosts?search=')) return { status: 200, body: '<hosts/>' };
        return { status: 404 };
      }),
    );
    const c = client(e.url);
    const h = await c.hosts.add({ name: 'rhevh9', address: '10.0.0.9', rootPassword: PASSWORD, cluster: { name: 'Default' } });
    assert.equal(h.status, 'installing');
    assert.equal(e.requests.filter((r) => r.method === 'POST' && api(r)).length, 2);
  });

  it('actions are never retried blindly: 503 on an action is one POST and a fault', async () => {
    const e = await engine(v4((r) => (r.method === 'POST' && r.url.endsWith('/start') ? { status: 503 } : { status: 404 })));
    const c = client(e.url);
    const err = await c.vms.start('v1').catch((x: unknown) => x);
    assert.ok(err instanceof EngineFault && err.status === 503);
    assert.equal(e.requests.filter((r) => r.url.endsWith('/start')).length, 1);
  });

  it('backoff grows exponentially, with jitter, capped', () => {
    const p = { attempts: 9, baseDelayMs: 100, maxDelayMs: 1000, budgetMs: 1e9 };
    assert.equal(backoffDelay(1, p, () => 0), 50);
    assert.equal(backoffDelay(1, p, () => 1), 100);
    assert.equal(backoffDelay(3, p, () => 1), 400);
    assert.equal(backoffDelay(10, p, () => 1), 1000);
    assert.equal(backoffDelay(10, p, () => 0), 500);
  });

  it('AbortSignal cancels a call in its backoff', async () => {
    const e = await engine(v4(() => ({ status: 503 })));
    const c = client(e.url, { retry: { attempts: 10, baseDelayMs: 200, maxDelayMs: 200, budgetMs: 60_000 } });
    await c.api();
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const err = await c.vms.list({ signal: ac.signal }).catch((x: unknown) => x);
    assert.ok(err instanceof RhevmError && err.rhevmCode === 'RB_ERR_RHEVM_ABORTED', String(err));
  });
});

describe('rhevm: actions, faults, 202 (§5)', () => {
  it('action envelope and result; <action><fault> on 409 becomes EngineFault without brackets', async () => {
    const e = await engine(
      v4((r) => {
        if (r.url === '/ovirt-engine/api/hosts/h1/approve') return { status: 200, body: '<action><cluster id="c1"/><status>complete</status><job href="/ovirt-engine/api/jobs/9" id="9"/></action>' };
        if (r.url === '/ovirt-engine/api/vms/v1/start')
          return { status: 409, body: '<action><fault><reason>Operation Failed</reason><detail>[Cannot run VM. VM is running.]</detail></fault><status>failed</status></action>' };
        if (r.url === '/ovirt-engine/api/vms/nope') return { status: 404 };
        return { status: 404 };
      }),
    );
    const c = client(e.url);
    const a = await c.hosts.approve('h1', { cluster: { id: 'c1' } });
    assert.equal(a.status, 'complete');
    assert.equal(a.job?.id, '9');
    assert.equal(e.requests.find((r) => r.url.endsWith('/approve'))!.body, '<action><cluster id="c1"/></action>');
    const err = await c.vms.start('v1').catch((x: unknown) => x);
    assert.ok(err instanceof EngineFault);
    assert.equal(err.status, 409);
    assert.equal(err.reason, 'Operation Failed');
    assert.equal(err.detail, 'Cannot run VM. VM is running.');
    assert.equal(err.conflict, true);
    assert.equal(e.requests.find((r) => r.url.endsWith('/start'))!.body, '<action/>');
    assert.equal(await c.vms.find('nope'), undefined, '404 with an empty body is "not there"');
  });

  it('202 action: polls the task href until complete, same Correlation-Id', async () => {
    let polls = 0;
    const e = await engine(
      v4((r) => {
        if (r.url === '/ovirt-engine/api/vms/v1/clone')
          return { status: 202, body: '<action id="t1" href="/ovirt-engine/api/vms/v1/clone/t1"><async>true</async><status>pending</status><link rel="parent" href="/ovirt-engine/api/vms/v1"/></action>' };
        if (r.url === '/ovirt-engine/api/vms/v1/clone/t1') return { status: 200, body: `<action id="t1"><status>${++polls < 3 ? 'in_progress' : 'complete'}</status></action>` };
        return { status: 404 };
      }),
    );
    const c = client(e.url);
    const r = await c.vms.clone('v1', 'v1-copy');
    assert.equal(r.status, 'complete');
    assert.equal(polls, 3);
    const mine = e.requests.filter((q) => q.url.includes('/vms/v1/clone'));
    assert.equal(new Set(mine.map((q) => q.headers['correlation-id'])).size, 1);
    assert.equal(mine[0]!.body, '<action><vm><name>v1-copy</name></vm></action>');
  });

  it('202 action whose task fails: EngineFault with the task fault', async () => {
    const e = await engine(
      v4((r) => {
        if (r.url === '/ovirt-engine/api/vms/v1/clone') return { status: 202, body: '<action id="t1" href="/ovirt-engine/api/vms/v1/clone/t1"><status>pending</status></action>' };
        return { status: 200, body: '<action id="t1"><status>failed</status><fault><reason>Asynchronous task failed</reason><detail>disk copy</detail></fault></action>' };
      }),
    );
    const c = client(e.url);
    const err = await c.vms.clone('v1', 'x').catch((x: unknown) => x);
    assert.ok(err instanceof EngineFault && err.reason === 'Asynchronous task failed');
  });

  it('202 add: polls creation_status, then returns the finished entity', async () => {
    let polls = 0;
    let gets = 0;
    const e = await engine(
      v4((r) => {
        if (r.method === 'POST' && r.url === '/ovirt-engine/api/vms?clone=true')
          return {
            status: 202,
            body: '<vm href="/ovirt-engine/api/vms/v7" id="v7"><name>web1</name><creation_status>pending</creation_status><link rel="creation_status" href="/ovirt-engine/api/vms/v7/creation_status/a,b"/><status>image_locked</status></vm>',
          };
        if (r.url === '/ovirt-engine/api/vms/v7/creation_status/a,b') return { status: 200, body: `<creation id="a,b"><status>${++polls < 2 ? 'in_progress' : 'complete'}</status></creation>` };
        if (r.url === '/ovirt-engine/api/vms/v7') return { status: 200, body: `<vm id="v7"><name>web1</name><status>${++gets < 2 ? 'image_locked' : 'down'}</status></vm>` };
        return { status: 404 };
      }),
    );
    const c = client(e.url);
    const vm = await c.vms.cloneFromTemplate({ name: 'rhel7' }, { name: 'web1', cluster: { name: 'Default' } });
    assert.equal(vm.status, 'down');
    assert.equal(polls, 2);
  });

  it('waitForStatus: up ends the wait; install_failed ends it as failed with the engine words', async () => {
    const seq = ['installing', 'initializing', 'up'];
    const e = await engine(v4((r) => (r.url === '/ovirt-engine/api/hosts/h1' ? { status: 200, body: hostXml('h1', 'a', seq.shift() ?? 'up') } : { status: 200, body: hostXml('h2', 'b', 'install_failed').replace('</host>', '<status_detail>ssh refused</status_detail></host>') })));
    const c = client(e.url);
    const h = await c.hosts.waitForStatus('h1', ['up'], { failOn: ['install_failed'], intervalMs: 2 });
    assert.equal(h.status, 'up');
    const err = await c.hosts.waitForStatus('h2', ['up'], { failOn: ['install_failed', 'non_operational'], intervalMs: 2 }).catch((x: unknown) => x);
    assert.ok(err instanceof RhevmError && err.rhevmCode === 'RB_ERR_RHEVM_STATE');
    assert.match(err.message, /install_failed \(ssh refused\)/);
  });

  it('v3 remove with force sends an <action> body; v4 uses ?force=true', async () => {
    const e3 = await engine((r) => (r.url === '/api' ? { status: 200, body: V3_ROOT } : r.url.startsWith('/ovirt-engine') ? { status: 404 } : { status: 200, body: '<action><status><state>complete</state></status></action>' }));
    const c3 = client(e3.url);
    await c3.hosts.remove('h1', { force: true });
    const d3 = e3.requests.find((r) => r.method === 'DELETE')!;
    assert.equal(d3.url, '/api/hosts/h1');
    assert.equal(d3.body, '<action><force>true</force></action>');
    const e4 = await engine(v4(() => ({ status: 200, body: '<action><status>complete</status></action>' })));
    const c4 = client(e4.url);
    await c4.hosts.remove('h1', { force: true });
    assert.equal(e4.requests.find((r) => r.method === 'DELETE')!.url, '/ovirt-engine/api/hosts/h1?force=true');
  });

  it('hrefs pointing at another origin are refused (credentials stay with the engine)', async () => {
    const e = await engine(v4((r) => (r.url.endsWith('/clone') ? { status: 202, body: '<action href="http://evil.example/steal"><status>pending</status></action>' } : { status: 404 })));
    const c = client(e.url);
    const err = await c.vms.clone('v', 'x').catch((x: unknown) => x);
    assert.ok(err instanceof RhevmError && err.rhevmCode === 'RB_ERR_RHEVM_PROTOCOL');
  });

  it('garbled success bodies are protocol errors, not crashes', async () => {
    const e = await engine(v4(() => ({ status: 200, body: '<hosts><host id="1"><name>x</hosts>' })));
    const c = client(e.url);
    const err = await c.hosts.list().catch((x: unknown) => x);
    assert.ok(err instanceof RhevmError && err.rhevmCode === 'RB_ERR_RHEVM_PROTOCOL');
  });

  it('secrets never show in JSON, inspect, toString or errors of the client', async () => {
    const e = await engine(v4(() => ({ status: 400, body: '<fault><reason>Operation Failed</reason><detail>bad</detail></fault>' })));
    const c = client(e.url);
    const err = await c.hosts.add({ name: 'h', address: 'a', rootPassword: PASSWORD }).catch((x: unknown) => x);
    assert.ok(err instanceof EngineFault);
    const views = [JSON.stringify(c), inspect(c, { depth: 10, showHidden: true }), String(c), inspect(c.conn, { depth: 10, showHidden: true }), JSON.stringify(c.conn), err.message, JSON.stringify(err.details), inspect(err, { depth: 10 })];
    for (const v of views) {
      assert.ok(!v.includes(PASSWORD), `password leaked in: ${v.slice(0, 200)}`);
      assert.ok(!v.includes(TOKEN), `token leaked in: ${v.slice(0, 200)}`);
    }
  });
});

describe('rhevm: TLS with a pinned CA, and CA fetching (§2.4)', () => {
  let dir = '';
  let pki: { ca: string; otherCa: string; key: string; cert: string };
  before(async () => {
    dir = await tempDir('rhevm-tls-');
    const o = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    for (const n of ['ca', 'other']) {
      o('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${n}.key`, '-out', `${n}.pem`, '-days', '2', '-subj', `/CN=${n} test CA`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    }
    o('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=127.0.0.1');
    writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n');
    o('x509', '-req', '-in', 'srv.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'srv.pem', '-days', '2', '-extfile', 'ext.cnf');
    const rd = (f: string) => readFileSync(path.join(dir, f), 'utf8');
    pki = { ca: rd('ca.pem'), otherCa: rd('other.pem'), key: rd('srv.key'), cert: rd('srv.pem') };
  });

  it('the pinned CA is accepted', async () => {
    const e = await engine(v4(() => ({ status: 200, body: '<hosts/>' })), { key: pki.key, cert: pki.cert });
    const c = client(e.url, { caPem: pki.ca });
    assert.deepEqual(await c.hosts.list(), []);
  });

  it('a different CA is refused, with a TLS error and no retries', async () => {
    const e = await engine(v4(() => ({ status: 200, body: '<hosts/>' })), { key: pki.key, cert: pki.cert });
    const c = client(e.url, { caPem: pki.otherCa });
    const err = await c.hosts.list().catch((x: unknown) => x);
    assert.ok(err instanceof RhevmError, String(err));
    assert.equal(err.rhevmCode, 'RB_ERR_RHEVM_TLS');
    assert.equal(e.requests.length, 0, 'nothing was sent');
  });

  it('https without a pinned CA is refused up front', () => {
    assert.throws(() => new RhevmClient({ url: 'https://engine.example.com', username: 'u', password: 'p' }), (x: unknown) => x instanceof RhevmError && x.rhevmCode === 'RB_ERR_RHEVM_TLS');
  });

  it('fetches the CA from pki-resource and computes the fingerprint openssl computes', async () => {
    const e = await engine((r) =>
      r.url === '/ovirt-engine/services/pki-resource?resource=ca-certificate&format=X509-PEM-CA' ? { status: 200, body: pki.ca, headers: { 'Content-Type': 'application/x-x509-ca-cert' } } : { status: 404 },
    );
    const ca = await fetchEngineCa(`${e.url}/ovirt-engine/api`);
    const want = execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256', '-in', path.join(dir, 'ca.pem')], { encoding: 'utf8' }).split('=')[1]!.trim();
    assert.equal(ca.sha256, want);
    assert.ok(sameFingerprint(ca.sha256, want.toLowerCase().replace(/:/g, '')));
    assert.match(ca.subject, /ca test CA/);
    assert.equal(e.requests[0]!.headers['authorization'], undefined, 'fetched unauthenticated');
    // The 3.x legacy location is tried when pki-resource is missing.
    const legacy = await engine((r) => (r.url === '/ca.crt' ? { status: 200, body: pki.otherCa } : { status: 404 }));
    assert.equal((await fetchEngineCa(legacy.url)).url, `${legacy.url}/ca.crt`);
  });

  it('a server certificate is not accepted as a CA to pin', () => {
    assert.throws(() => describeCa(pki.cert), (x: unknown) => x instanceof RhevmError && /not a CA/.test(x.message));
    assert.throws(() => describeCa('hello'), RhevmError);
  });
});
