// Behaviour of the engine simulator beyond the examples: auth (§2), TLS with its generated CA,
// node registration (§8), host failure injection and search (§6, §7.4), and the fault-injection
// controls tests use (5xx, drops, delays, restart), plus the standalone entry point.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import { DEFAULT_USER, EngineSim } from '../engine-sim/index.js';

const BASIC = 'Basic ' + Buffer.from(`${DEFAULT_USER.user}:${DEFAULT_USER.password}`).toString('base64');

async function call(url: string, init: { method?: string; headers?: Record<string, string>; body?: string; dispatcher?: Agent } = {}): Promise<{ status: number; text: string; headers: Record<string, string | string[] | undefined> }> {
  const res = await request(url, { method: (init.method ?? 'GET') as 'GET', headers: { accept: 'application/xml', 'content-type': 'application/xml', ...init.headers }, ...(init.body !== undefined ? { body: init.body } : {}), ...(init.dispatcher ? { dispatcher: init.dispatcher } : {}) });
  return { status: res.statusCode, text: await res.body.text(), headers: res.headers };
}

describe('engine simulator: TLS, auth and sessions', () => {
  let sim: EngineSim;
  let agent: Agent;
  before(async () => {
    sim = await EngineSim.start({ version: 4, tls: true, stepMs: 2 });
    agent = new Agent({ connect: { ca: sim.ca!.pem } });
  });
  after(async () => {
    await agent?.close();
    await sim?.close();
  });

  it('serves HTTPS with a generated CA, downloadable without auth at the pki-resource URL', async () => {
    assert.match(sim.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const r = await call(`${sim.url}/ovirt-engine/services/pki-resource?resource=ca-certificate&format=X509-PEM-CA`, { dispatcher: agent });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/x-x509-ca-cert');
    assert.equal(new X509Certificate(r.text).fingerprint256, sim.ca!.fingerprint256);
    assert.equal(readFileSync(sim.ca!.path, 'utf8'), r.text);
    assert.equal((await call(`${sim.url}/ovirt-engine/services/pki-resource?resource=nope&format=X509-PEM-CA`, { dispatcher: agent })).status, 400);
    // Without the CA the TLS handshake must fail (the client has to pin it).
    await assert.rejects(request(`${sim.url}/ovirt-engine/api`));
  });

  it('401 with the realm per path; Basic; persistent-auth session cookie; new-auth', async () => {
    const none = await call(`${sim.url}/ovirt-engine/api`, { dispatcher: agent });
    assert.equal(none.status, 401);
    assert.equal(none.headers['www-authenticate'], 'Basic realm="RESTAPI"');
    assert.equal((await call(`${sim.url}/api`, { dispatcher: agent })).headers['www-authenticate'], 'Basic realm="ENGINE"');
    const noDomain = 'Basic ' + Buffer.from(`admin:${DEFAULT_USER.password}`).toString('base64');
    assert.equal((await call(`${sim.url}/ovirt-engine/api`, { dispatcher: agent, headers: { authorization: noDomain } })).status, 401);
    const login = await call(`${sim.url}/ovirt-engine/api`, { dispatcher: agent, headers: { authorization: BASIC, prefer: 'persistent-auth', version: '4' } });
    assert.equal(login.status, 200);
    const cookie = String(login.headers['set-cookie']);
    assert.match(cookie, /^JSESSIONID=[^;]+; Path=\/ovirt-engine\/api; Secure; HttpOnly$/);
    const sid = cookie.split(';')[0]!;
    assert.equal((await call(`${sim.url}/ovirt-engine/api/hosts`, { dispatcher: agent, headers: { cookie: sid, prefer: 'persistent-auth' } })).status, 200);
    assert.equal((await call(`${sim.url}/ovirt-engine/api/hosts`, { dispatcher: agent, headers: { cookie: sid, prefer: 'new-auth' } })).status, 401);
    // §2.2: a request without Prefer: persistent-auth ends the session after it is served.
    assert.equal((await call(`${sim.url}/ovirt-engine/api/hosts`, { dispatcher: agent, headers: { cookie: sid } })).status, 200);
    assert.equal((await call(`${sim.url}/ovirt-engine/api/hosts`, { dispatcher: agent, headers: { cookie: sid, prefer: 'persistent-auth' } })).status, 401);
  });

  it('negotiates the version: Version header, /v3 prefix, v3 attributes vs v4 elements (§1.2)', async () => {
    const v3 = await call(`${sim.url}/ovirt-engine/api`, { dispatcher: agent, headers: { authorization: BASIC, version: '3' } });
    assert.match(v3.text, /<version [^>]*major="4"/);
    const pre = await call(`${sim.url}/ovirt-engine/api/v3/hosts`, { dispatcher: agent, headers: { authorization: BASIC } });
    assert.equal(pre.status, 200);
    const v4 = await call(`${sim.url}/ovirt-engine/api`, { dispatcher: agent, headers: { authorization: BASIC } });
    assert.match(v4.text, /<major>4<\/major>/);
    const bad = await call(`${sim.url}/ovirt-engine/api`, { dispatcher: agent, headers: { authorization: BASIC, version: '5' } });
    assert.equal(bad.status, 400);
    assert.doesNotMatch(bad.text, /<fault>/);
  });
});

describe('engine simulator: registration, state machines, search', () => {
  let sim: EngineSim;
  const api = (p: string, init: Parameters<typeof call>[1] = {}) => call(`${sim.apiUrl}${p}`, { ...init, headers: { authorization: BASIC, ...init.headers } });
  before(async () => {
    sim = await EngineSim.start({ version: 4, stepMs: 0 });
  });
  after(() => sim?.close());

  it('registers nodes over host-register v1 and the legacy vdsm-reg URLs (§8.2, §8.3)', async () => {
    const base = `${sim.url}/ovirt-engine/services/host-register`;
    assert.equal((await call(`${base}?version=1&command=get-version`)).text, '1');
    assert.match((await call(`${base}?version=1&command=get-ssh-trust`)).text, /^ssh-rsa AAAA\S+ ovirt-engine\n$/);
    const noId = await call(`${base}?version=1&command=register&name=x&address=10.9.9.9`);
    assert.equal(noId.status, 400);
    assert.equal(noId.text, 'Unique id was not provided');
    assert.equal((await call(`${base}?version=2&command=get-version`)).text, 'Invalid registration protocol version 2');
    assert.equal((await call(`${base}?version=1&command=register&name=n1&address=10.9.0.1&uniqueId=U-1&sshUser=root&sshPort=22&port=54321`)).text, 'OK\n');
    const legacy = await call(`${sim.url}/OvirtEngineWeb/register?vds_ip=10.9.0.2&vds_name=n2&vds_unique_id=U-2_00:1a:4a:01:02:03&port=54321&__VIEWSTATE=&ticket=`);
    assert.equal(legacy.status, 200);
    assert.match(legacy.text, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
    assert.equal(sim.hostByName('n2')!.uniqueId, 'U-2');
    const pending = await api('/hosts?search=status%3Dpendingapproval');
    assert.equal((pending.text.match(/<host /g) ?? []).length, 2);
    assert.match(pending.text, /<status>pending_approval<\/status>/);
    assert.match(pending.text, /<type>ovirt_node<\/type>/);
    const byAddr = await api('/hosts?search=address%3D10.9.0.1%20and%20status%3Dpendingapproval');
    assert.equal((byAddr.text.match(/<host /g) ?? []).length, 1);
    assert.equal((await api('/hosts?search=name%3Dn*')).text.match(/<host /g)?.length, 2);
    assert.equal((await api('/hosts?search=name%3Dn*&max=1')).text.match(/<host /g)?.length, 1);
    assert.equal((await api('/hosts?search=name%3DN1&case_sensitive=false')).text.match(/<host /g)?.length, 1);
    assert.equal((await api('/hosts?search=name%3DN1')).text.match(/<host /g), null);
  });

  it('approve → installing → initializing → up, step by step (manual clock)', async () => {
    const h = sim.hostByName('n1')!;
    const r = await api(`/hosts/${h.id}/approve`, { method: 'POST', body: '<action><cluster><name>Default</name></cluster></action>', headers: { 'correlation-id': 'approve-n1' } });
    assert.equal(r.status, 200);
    assert.equal(h.status, 'installing');
    sim.advance(2);
    assert.equal(h.status, 'installing');
    sim.advance(1);
    assert.equal(h.status, 'initializing');
    sim.advance(1);
    assert.equal(h.status, 'up');
    const jobs = await api('/jobs?search=correlation_id%3Dapprove-n1');
    assert.match(jobs.text, /<status>finished<\/status>/);
    const again = await api(`/hosts/${h.id}/approve`, { method: 'POST', body: '<action/>' });
    assert.equal(again.status, 409);
    assert.equal((await api(`/hosts/${h.id}`, { method: 'DELETE' })).status, 409);
  });

  it('injects install_failed and non_operational with the engine reason', async () => {
    sim.failHost({ name: 'n2', kind: 'install_failed', reason: 'Failed to configure management network on the host', once: true });
    const n2 = sim.hostByName('n2')!;
    await api(`/hosts/${n2.id}/approve`, { method: 'POST', body: '<action/>' });
    sim.advance(5);
    assert.equal(n2.status, 'install_failed');
    const doc = (await api(`/hosts/${n2.id}`)).text;
    assert.match(doc, /<status>install_failed<\/status>\s*<status_detail>Failed to configure management network on the host<\/status_detail>/);
    const v3 = (await call(`${sim.url}/api/hosts/${n2.id}`, { headers: { authorization: BASIC } })).text;
    assert.match(v3, /<state>install_failed<\/state>\s*<detail>Failed to configure management network on the host<\/detail>/);
    // `once`: the retried approval succeeds.
    assert.equal((await api(`/hosts/${n2.id}/approve`, { method: 'POST', body: '<action/>' })).status, 200);
    sim.advance(5);
    assert.equal(n2.status, 'up');
    sim.failHost({ address: /^10\.8\./, kind: 'non_operational', reason: 'network_unreachable' });
    const add = await api('/hosts', { method: 'POST', body: '<host><name>n3</name><address>10.8.0.3</address><root_password>pw</root_password></host>' });
    assert.equal(add.status, 201);
    sim.advance(5);
    assert.equal(sim.hostByName('n3')!.status, 'non_operational');
    const dup = await api('/hosts', { method: 'POST', body: '<host><name>n3</name><address>10.8.0.4</address><root_password>pw</root_password></host>' });
    assert.equal(dup.status, 409);
    assert.match(dup.text, /\[Cannot add Host. The Host name is already in use, please choose a unique name and try again.\]/);
    const missing = await api('/hosts', { method: 'POST', body: '<host><name>n4</name></host>' });
    assert.match(missing.text, /<detail>Host \[address\] required for add<\/detail>/);
  });

  it('re-registering a pending node approves it (RegisterVdsQuery, §8.4)', async () => {
    const h = sim.registerNode({ name: 'n5', address: '10.9.0.5', uniqueId: 'U-5' });
    assert.equal(h.status, 'pending_approval');
    assert.equal(sim.registerNode({ name: 'n5', address: '10.9.0.5', uniqueId: 'U-5' }).id, h.id);
    assert.equal(h.status, 'installing');
    sim.advance(5);
    assert.equal(h.status, 'up');
    assert.equal([...sim.state.hosts.values()].filter((x) => x.uniqueId === 'U-5').length, 1);
  });
});

describe('engine simulator: fault injection, request log, restart', () => {
  let sim: EngineSim;
  const api = (p: string, init: Parameters<typeof call>[1] = {}) => call(`${sim.apiUrl}${p}`, { ...init, headers: { authorization: BASIC, ...init.headers } });
  before(async () => {
    sim = await EngineSim.start({ version: 4, stepMs: 2 });
  });
  after(() => sim?.close());

  it('logs exactly what the client sent', async () => {
    sim.faults.clearLog();
    await api('/datacenters', { method: 'POST', body: '<data_center><name>dcx</name><local>false</local></data_center>', headers: { 'correlation-id': 'corr-1' } });
    const [entry] = sim.requests;
    assert.equal(entry!.method, 'POST');
    assert.equal(entry!.path, '/ovirt-engine/api/datacenters');
    assert.equal(entry!.headers['correlation-id'], 'corr-1');
    assert.equal(entry!.body, '<data_center><name>dcx</name><local>false</local></data_center>');
    assert.equal(entry!.status, 201);
  });

  it('5xx on the next N matching calls, 409s, delays, dropped connections', async () => {
    sim.faults.failNext(2, 503, { path: '/ovirt-engine/api/hosts' });
    assert.equal((await api('/hosts')).status, 503);
    assert.equal((await api('/datacenters')).status, 200);
    assert.equal((await api('/hosts')).status, 503);
    assert.equal((await api('/hosts')).status, 200);
    sim.faults.add({ kind: 'status', status: 409, method: 'POST' });
    assert.equal((await api('/hosts', { method: 'POST', body: '<host/>' })).status, 409);
    sim.faults.add({ kind: 'delay', ms: 150, path: '/ovirt-engine/api/clusters' });
    const t0 = Date.now();
    assert.equal((await api('/clusters')).status, 200);
    assert.ok(Date.now() - t0 >= 140);
    sim.faults.add({ kind: 'drop', path: '/ovirt-engine/api/networks' });
    await assert.rejects(api('/networks'));
    // drop-after: the engine did the work, the client never heard back (adds must look up first).
    sim.faults.add({ kind: 'drop-after', method: 'POST', path: '/ovirt-engine/api/hosts' });
    await assert.rejects(api('/hosts', { method: 'POST', body: '<host><name>lost</name><address>10.7.0.1</address><root_password>pw</root_password></host>' }));
    assert.ok(sim.hostByName('lost'));
  });

  it('restarts on the same port mid-job, keeping state and dropping sessions and running jobs', async () => {
    const add = await api('/hosts', { method: 'POST', body: '<host><name>r1</name><address>10.7.0.2</address><root_password>pw</root_password></host>', headers: { 'correlation-id': 'restart-1', prefer: 'persistent-auth' } });
    const sid = String(add.headers['set-cookie']).split(';')[0]!;
    const port = sim.port;
    await sim.restart({ downMs: 50 });
    assert.equal(sim.port, port);
    assert.equal((await call(`${sim.apiUrl}/hosts`, { headers: { cookie: sid, prefer: 'persistent-auth' } })).status, 401);
    await sim.settle();
    assert.equal(sim.hostByName('r1')!.status, 'up');
    assert.match((await api('/jobs?search=correlation_id%3Drestart-1')).text, /<status>unknown<\/status>/);
  });
});

describe('engine simulator: standalone entry', () => {
  it('prints one JSON line with its URL and CA and serves until SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/engine-sim/main.ts', '--port', '0', '--https', '--version', '3'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let buf = '';
        child.stdout.on('data', (d: Buffer) => {
          buf += d.toString();
          if (buf.includes('\n')) resolve(buf.split('\n')[0]!);
        });
        child.once('exit', (code) => reject(new Error(`exited ${code}`)));
      });
      const info = JSON.parse(line) as { url: string; apiUrl: string; caPath: string; caFingerprint256: string };
      assert.match(info.apiUrl, /^https:\/\/127\.0\.0\.1:\d+\/ovirt-engine\/api$/);
      const agent = new Agent({ connect: { ca: readFileSync(info.caPath, 'utf8') } });
      const r = await call(info.apiUrl, { dispatcher: agent, headers: { authorization: BASIC, version: '4' } });
      // A RHEV-M 3.6 engine ignores Version: 4 and answers v3 (the client detects it by major=, §1.2).
      assert.match(r.text, /<version [^>]*major="3"/);
      assert.equal((await call(`${info.url}/ovirt-engine/sso/oauth/token`, { dispatcher: agent, method: 'POST', body: 'grant_type=password' })).status, 404);
      await agent.close();
    } finally {
      child.kill('SIGTERM');
    }
  });
});
