// Faithfulness of the engine simulator: every request example in shared/reference/ovirt-examples/
// is replayed against it and its answer compared with the example's answer (status code, element
// and attribute names/structure), and every v3 document it produced is validated against the v3
// XSD with `xmllint --schema` (Debian libxml2-utils). Deviations from an example are listed where
// ovirt-api.md says the example is wrong (§4.3) or describes an older engine.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { DEFAULT_USER, EngineSim } from '../engine-sim/index.js';
import { BLANK_TEMPLATE_ID, DEFAULT_CLUSTER_ID, DEFAULT_DC_ID, MGMT_NETWORK_ID } from '../engine-sim/state.js';
import { tempDir } from '../helpers/tmp.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const EX = path.resolve(here, '../fixtures/ovirt-examples');
const XSD = path.join(EX, 'schemas/v3-api-3.6.13.xsd');
const ex = (f: string): string => readFileSync(path.join(EX, f), 'utf8');
const BASIC = 'Basic ' + Buffer.from(`${DEFAULT_USER.user}:${DEFAULT_USER.password}`).toString('base64');

interface Res { status: number; text: string; headers: Record<string, string> }

async function call(sim: EngineSim, method: string, p: string, body?: string, headers: Record<string, string> = {}, dispatcher?: Agent): Promise<Res> {
  const url = p.startsWith('http') ? p : sim.url + p;
  const res = await request(url, {
    method: method as 'GET', headers: { authorization: BASIC, accept: 'application/xml', 'content-type': 'application/xml', ...headers },
    ...(body !== undefined ? { body } : {}), ...(dispatcher ? { dispatcher } : {}),
  });
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers)) h[k] = Array.isArray(v) ? v.join(', ') : String(v);
  return { status: res.statusCode, text: await res.body.text(), headers: h };
}

/**
 * The structure of an XML document as a set of paths: `host/cpu/topology`, `host/version/@major`.
 * Tolerant of the hand-written 3.0-guide examples (unclosed tags, `...`, stray `</action>`).
 */
function shape(xml: string): Set<string> {
  const out = new Set<string>();
  const stack: string[] = [];
  const re = /<(\/?)([A-Za-z_][\w.-]*)((?:\s+[\w:.-]+\s*=\s*"[^"]*")*)\s*(\/?)>/g;
  for (const m of xml.replace(/<\?[^>]*\?>/g, '').matchAll(re)) {
    const [, close, name, attrs, selfClose] = m;
    if (close) {
      const i = stack.lastIndexOf(name!);
      if (i >= 0) stack.length = i;
      continue;
    }
    const p = [...stack, name].join('/');
    out.add(p);
    for (const a of attrs!.matchAll(/([\w:.-]+)\s*=/g)) out.add(`${p}/@${a[1]}`);
    if (!selfClose) stack.push(name!);
  }
  return out;
}

function jsonShape(v: unknown, prefix = ''): Set<string> {
  const out = new Set<string>();
  const walk = (x: unknown, p: string): void => {
    if (Array.isArray(x)) return x.forEach((y) => walk(y, p));
    if (x && typeof x === 'object') for (const [k, y] of Object.entries(x)) { const q = p ? `${p}/${k}` : k; out.add(q); walk(y, q); }
  };
  walk(v, prefix);
  return out;
}

/** Every path of the example must be in the answer, modulo the listed, justified deviations. */
function assertShape(actual: string, example: string, deviations: Record<string, string | null> = {}, what = ''): void {
  const got = shape(actual);
  const missing = [...shape(example)]
    .map((p) => {
      for (const [from, to] of Object.entries(deviations)) if (p === from || p.startsWith(from + '/')) return to === null ? null : to + p.slice(from.length);
      return p;
    })
    .filter((p): p is string => p !== null && !got.has(p));
  assert.deepEqual(missing, [], `${what}: paths of the example missing from the simulator's answer`);
}

/** §4.3: the 3.0 guide shows <status>UP</status>; the 3.0 code emitted <status><state>up</state></status>. */
function v3StatusFix(xml: string): string {
  // The guide's storage domain responses also leave `<host id href>` references unclosed.
  if (!xml.includes('</host>')) xml = xml.replace(/<host((?:\s+\w+="[^"]*")+)\s*>/g, '<host$1/>');
  return xml.replace(/<status>([A-Z_ ]+)<\/status>/g, (_m, s: string) => `<status><state>${s.toLowerCase().replace(/ /g, '_')}</state></status>`);
}

/** Splits a 3.0-guide .txt example into its HTTP exchanges. */
function exchanges(txt: string): { method: string; path: string; body: string; response?: { status: number; body: string } }[] {
  const blocks = txt.split(/\n(?=(?:GET|POST|PUT|DELETE|HTTP\/1\.1) )/);
  const out: ReturnType<typeof exchanges> = [];
  for (const b of blocks) {
    const [first, ...rest] = b.split('\n');
    const bodyStart = rest.findIndex((l) => l.trim() === '');
    const body = bodyStart < 0 ? '' : rest.slice(bodyStart + 1).join('\n').trim();
    const http = /^HTTP\/1\.1 (\d+)/.exec(first!);
    if (http) out[out.length - 1]!.response = { status: Number(http[1]), body };
    else {
      const [method, p] = first!.split(' ');
      // Long request lines are wrapped in the guide; the wrapped part starts the next line.
      const cont = /^\S+ HTTP\/1\.1$/.exec(rest[0] ?? '') ? rest[0]!.split(' ')[0] : '';
      out.push({ method: method!, path: p!.replace(' HTTP/1.1', '') + (cont ?? ''), body: cont ? rest.slice(rest.findIndex((l) => l.trim() === '') + 1).join('\n').trim() : body });
    }
  }
  return out;
}

const idOf = (xml: string, root: string): string => new RegExp(`<${root}[^>]*\\bid="([^"]+)"`).exec(xml)![1]!;

describe('engine simulator: v4 examples', () => {
  let sim: EngineSim;
  const A = '/ovirt-engine/api';
  before(async () => {
    sim = await EngineSim.start({ version: 4, stepMs: 2 });
  });
  after(() => sim?.close());

  it('serves the API root like v4-api-root.xml', async () => {
    const r = await call(sim, 'GET', A);
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type']!, /^application\/xml/);
    assert.match(r.text, /^<\?xml version="1.0" encoding="UTF-8" standalone="yes"\?>/);
    // The doc example mixes in v3-only collections (capabilities, roles…) — §7.1 says so.
    assertShape(r.text, ex('v4-api-root.xml'), {}, 'api root');
    assert.match(r.text, /<major>4<\/major>/);
    assert.doesNotMatch(r.text, /major="/);
  });

  it('lists seed data like the data center, cluster and network examples (§4.4 ids)', async () => {
    const dcs = await call(sim, 'GET', `${A}/datacenters`);
    assertShape(dcs.text, ex('v4-datacenters-list.xml'), {}, 'datacenters');
    assert.match(dcs.text, new RegExp(`id="${DEFAULT_DC_ID}"`));
    assertShape((await call(sim, 'GET', `${A}/datacenters/${DEFAULT_DC_ID}`)).text, ex('v4-datacenter.xml'), {}, 'datacenter');
    const cls = await call(sim, 'GET', `${A}/clusters`);
    assertShape(cls.text, ex('v4-clusters-list.xml'), {}, 'clusters');
    assert.match(cls.text, new RegExp(`id="${DEFAULT_CLUSTER_ID}"`));
    assertShape((await call(sim, 'GET', `${A}/networks`)).text, ex('v4-networks-list.xml'), {}, 'networks');
    const net = await call(sim, 'GET', `${A}/networks/${MGMT_NETWORK_ID}`);
    assertShape(net.text, ex('v4-network.xml'), { 'network/link': 'network/link' }, 'network');
    assert.match(net.text, /<name>ovirtmgmt<\/name>/);
    const tpl = await call(sim, 'GET', `${A}/templates/${BLANK_TEMPLATE_ID}`);
    assert.match(tpl.text, /<name>Blank<\/name>/);
    assert.match(tpl.text, /<memory>1073741824<\/memory>/);
  });

  it('renders JSON like v4-network.json and v4-cluster.json (strings for scalars)', async () => {
    const n = await call(sim, 'GET', `${A}/networks?search=name%3Dovirtmgmt`, undefined, { accept: 'application/json' });
    assert.match(n.headers['content-type']!, /^application\/json/);
    const nj = JSON.parse(n.text) as { network: { stp: unknown; mtu: unknown }[] };
    const missingN = [...jsonShape(JSON.parse(ex('v4-network.json')))].filter((p) => !jsonShape(nj).has(p));
    assert.deepEqual(missingN, []);
    assert.equal(nj.network[0]!.stp, 'false');
    assert.equal(nj.network[0]!.mtu, '0');
    const c = JSON.parse((await call(sim, 'GET', `${A}/clusters`, undefined, { accept: 'application/json' })).text) as unknown;
    const missingC = [...jsonShape(JSON.parse(ex('v4-cluster.json')))].filter((p) => !jsonShape(c).has(p));
    assert.deepEqual(missingC, []);
  });

  it('answers v4-fault.xml for a VM without a name, and faults inside actions (§5.4)', async () => {
    const body = '<vm><cluster><name>Default</name></cluster><template><name>Blank</name></template></vm>';
    const r = await call(sim, 'POST', `${A}/vms`, body);
    assert.equal(r.status, 400);
    assert.equal(shape(r.text).size, shape(ex('v4-fault.xml')).size);
    assert.match(r.text, /<reason>Incomplete parameters<\/reason>\s*<detail>Vm \[name\] required for add<\/detail>/);
    const noCluster = await call(sim, 'POST', `${A}/vms`, '<vm><name>x</name></vm>');
    assert.match(noCluster.text, /<detail>Vm \[cluster.id\|name\] required for add<\/detail>/);
    const badCluster = await call(sim, 'POST', `${A}/vms`, '<vm><name>x</name><cluster><name>nope</name></cluster><template><name>Blank</name></template></vm>');
    assert.equal(badCluster.status, 404);
    assert.match(badCluster.text, /<reason>Operation Failed<\/reason>\s*<detail>Entity not found: Cluster: name=nope<\/detail>/);
    const unknown = await call(sim, 'GET', `${A}/hosts/00000000-dead-beef-0000-000000000000`);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.text, '');
    const syntax = await call(sim, 'POST', `${A}/vms`, '<vm><name>x</vm>');
    assert.equal(syntax.status, 400);
    assert.match(syntax.text, /<reason>Request syntactically incorrect.<\/reason>/);
  });

  it('replays the v4 request examples in order, with the documented status codes', async () => {
    // Data center, cluster, network (placeholders "123" become the ids the simulator gave).
    const dc = await call(sim, 'POST', `${A}/datacenters`, ex('v4-datacenter-add-request.xml'));
    assert.equal(dc.status, 201);
    assert.equal(dc.headers['location'], `${A}/datacenters/${idOf(dc.text, 'data_center')}`);
    // The request set no description (the example shows the seeded Default DC's).
    assertShape(dc.text, ex('v4-datacenter.xml'), { 'data_center/description': null }, 'added dc');
    const dcId = idOf(dc.text, 'data_center');
    const cl = await call(sim, 'POST', `${A}/clusters`, ex('v4-cluster-add-request.xml').replace('id="123"', `id="${dcId}"`));
    assert.equal(cl.status, 201, cl.text);
    assertShape(cl.text, ex('v4-clusters-list.xml').replace(/<\/?clusters>/g, ''), { 'cluster/description': null }, 'added cluster');
    const net = await call(sim, 'POST', `${A}/networks`, ex('v4-network-add-request.xml').replace('id="123"', `id="${dcId}"`));
    assert.equal(net.status, 201, net.text);
    assertShape(net.text, ex('v4-network.xml'), { 'network/description': null }, 'added network');
    const cn = await call(sim, 'POST', `${A}/clusters/${idOf(cl.text, 'cluster')}/networks`, ex('v4-cluster-network-add-request.xml').replace('id="123"', `id="${idOf(net.text, 'network')}"`));
    assert.equal(cn.status, 201, cn.text);
    assert.equal((await call(sim, 'POST', `${A}/clusters/${idOf(cl.text, 'cluster')}/networks`, `<network id="${idOf(net.text, 'network')}"/>`)).status, 409);

    // Hosts: add (201, installing) → up; a second host for migration.
    const h = await call(sim, 'POST', `${A}/hosts`, ex('v4-host-add-request.xml'), { 'correlation-id': 'add-myhost' });
    assert.equal(h.status, 201, h.text);
    assert.match(h.text, /<status>installing<\/status>/);
    assert.equal(h.headers['correlation-id'], 'add-myhost');
    const hostId = idOf(h.text, 'host');
    const h2 = await call(sim, 'POST', `${A}/hosts`, '<host><name>myhost2</name><address>myhost2.example.com</address><root_password>x</root_password></host>');
    assert.equal(h2.status, 201);
    await sim.settle();
    const hosts = await call(sim, 'GET', `${A}/hosts`);
    assertShape(hosts.text, ex('v4-hosts-list.xml'), {}, 'hosts');
    assert.equal((hosts.text.match(/<status>up<\/status>/g) ?? []).length, 2);
    const jobs = await call(sim, 'GET', `${A}/jobs?search=correlation_id%3Dadd-myhost`);
    assertShape(jobs.text, ex('v4-jobs-list.xml'), {}, 'jobs');
    assert.match(jobs.text, /<description>Adding new Host myhost to Cluster Default<\/description>/);
    assert.match(jobs.text, /<status>finished<\/status>/);
    assertShape((await call(sim, 'GET', `${A}/jobs/${idOf(jobs.text, 'job')}`)).text, ex('v4-job.xml'), {}, 'job');

    // fence needs power management (409 in an <action> without it, §5.4); then 200.
    const noPm = await call(sim, 'POST', `${A}/hosts/${hostId}/fence`, ex('v4-host-fence-action-request.xml'));
    assert.equal(noPm.status, 409);
    assertShape(noPm.text, ex('v4-action-fault-in-action.xml'), {}, 'fault in action');
    assert.match(noPm.text, /<fence_type>start<\/fence_type>/);
    await call(sim, 'PUT', `${A}/hosts/${hostId}`, '<host><power_management><enabled>true</enabled><type>ipmilan</type><address>10.0.0.9</address><username>root</username></power_management></host>');
    assert.equal((await call(sim, 'POST', `${A}/hosts/${hostId}/fence`, '<action><fence_type>status</fence_type></action>')).text.includes('<power_management>'), true);

    // setupnetworks with the example body: needs network "myvlan" in the host's DC.
    await call(sim, 'POST', `${A}/networks`, `<network><name>myvlan</name><data_center id="${DEFAULT_DC_ID}"/><vlan id="100"/></network>`);
    const sn = await call(sim, 'POST', `${A}/hosts/${hostId}/setupnetworks`, ex('v4-host-setupnetworks-action-request.xml'));
    assert.equal(sn.status, 200, sn.text);
    assert.match(sn.text, /<status>complete<\/status>/);
    const atts = await call(sim, 'GET', `${A}/hosts/${hostId}/networkattachments`);
    assert.match(atts.text, /<network_attachment /);
    assert.match((await call(sim, 'GET', `${A}/hosts/${hostId}/nics`)).text, /<name>bond0<\/name>/);
    assert.equal((await call(sim, 'POST', `${A}/hosts/${hostId}/commitnetconfig`, '<action/>')).status, 200);

    // Storage: NFS add (201, unattached) like the response example; iSCSI add; attach → active.
    const nfs = await call(sim, 'POST', `${A}/storagedomains`, ex('v4-storagedomain-add-nfs-request.xml'));
    assert.equal(nfs.status, 201, nfs.text);
    assertShape(nfs.text, ex('v4-storagedomain-add-nfs-response.xml'), {}, 'nfs add');
    assert.match(nfs.text, /<status>unattached<\/status>/);
    assert.equal((await call(sim, 'POST', `${A}/storagedomains`, ex('v4-storagedomain-add-iscsi-request.xml'))).status, 201);
    const att = await call(sim, 'POST', `${A}/datacenters/${DEFAULT_DC_ID}/storagedomains`, ex('v4-attach-storagedomain-request.xml'));
    assert.equal(att.status, 201, att.text);
    await sim.settle();
    const sd = await call(sim, 'GET', `${A}/storagedomains/${idOf(nfs.text, 'storage_domain')}`);
    assertShape(sd.text, ex('v4-storagedomain.xml'), {}, 'storage domain');
    assert.match((await call(sim, 'GET', `${A}/datacenters/${DEFAULT_DC_ID}/storagedomains`)).text, /<status>active<\/status>/);
    assert.match((await call(sim, 'GET', `${A}/datacenters/${DEFAULT_DC_ID}`)).text, /<status>up<\/status>/);

    // VM: add like the response example, NIC, disk, start (run-once cdrom), migrate, ticket.
    const vm = await call(sim, 'POST', `${A}/vms`, ex('v4-vm-add-request.xml'));
    assert.equal(vm.status, 201, vm.text);
    assertShape(vm.text, ex('v4-vm-add-response.xml'), {}, 'vm add');
    const vmId = idOf(vm.text, 'vm');
    assert.equal((await call(sim, 'POST', `${A}/vms/${vmId}/nics`, ex('v4-vm-nic-add-request.xml'))).status, 201);
    const da = await call(sim, 'POST', `${A}/vms/${vmId}/diskattachments`, ex('v4-vm-diskattachment-add-request.xml'));
    assert.equal(da.status, 201, da.text);
    const start = await call(sim, 'POST', `${A}/vms/${vmId}/start`, ex('v4-vm-start-action-request.xml'), { 'correlation-id': 'start-myvm' });
    assert.equal(start.status, 200, start.text);
    assert.match(start.text, /<status>complete<\/status>\s*<?/);
    assert.match(start.text, /<job href="\/ovirt-engine\/api\/jobs\/[^"]+" id="/);
    assert.match((await call(sim, 'GET', `${A}/vms/${vmId}`)).text, /<status>(wait_for_launch|powering_up|up)<\/status>/);
    const again = await call(sim, 'POST', `${A}/vms/${vmId}/start`, '<action/>');
    assert.equal(again.status, 409);
    assert.match(again.text, /<detail>\[Cannot run VM. VM is running.\]<\/detail>/);
    await sim.settle();
    const running = await call(sim, 'GET', `${A}/vms/${vmId}`);
    assert.match(running.text, /<status>up<\/status>/);
    const onHost = /<host href="[^"]+" id="([^"]+)"/.exec(running.text)![1]!;
    const other = onHost === hostId ? idOf(h2.text, 'host') : hostId;
    const mig = await call(sim, 'POST', `${A}/vms/${vmId}/migrate`, ex('v4-vm-migrate-action-request.xml').replace(/id="[^"]+"/, `id="${other}"`));
    assert.equal(mig.status, 200, mig.text);
    await sim.settle();
    assert.match((await call(sim, 'GET', `${A}/vms/${vmId}`)).text, new RegExp(`<host href="[^"]+" id="${other}"`));
    const ticket = await call(sim, 'POST', `${A}/vms/${vmId}/ticket`, ex('v4-vm-ticket-action-request.xml'));
    assert.match(ticket.text, /<ticket>\s*<value>abcd12345<\/value>\s*<expiry>120<\/expiry>\s*<\/ticket>/);

    // Template from the (stopped) VM: disks are copied → 202 + creation_status, polled to complete.
    assert.equal((await call(sim, 'POST', `${A}/vms/${vmId}/stop`, '<action/>')).status, 200);
    const tpl = await call(sim, 'POST', `${A}/templates`, ex('v4-template-add-request.xml').replace('id="123"', `id="${vmId}"`));
    assert.equal(tpl.status, 202, tpl.text);
    const poll = /<link href="([^"]+)" rel="creation_status"\/>/.exec(tpl.text)![1]!;
    await sim.settle();
    const done = await call(sim, 'GET', poll);
    assert.match(done.text, /<creation href="[^"]+" id="[^"]+">\s*<status>complete<\/status>/);
  });

  it('sso: token endpoint and exact error bodies (sso-token-*.json, §2.3)', async () => {
    const form = (u: string, p: string): string => `grant_type=password&scope=ovirt-app-api&username=${encodeURIComponent(u)}&password=${encodeURIComponent(p)}`;
    const ok = await call(sim, 'POST', '/ovirt-engine/sso/oauth/token', form(DEFAULT_USER.user, DEFAULT_USER.password), { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', authorization: '' });
    assert.equal(ok.status, 200);
    const tok = JSON.parse(ok.text) as Record<string, string>;
    for (const k of ['access_token', 'token_type', 'scope']) assert.ok(k in tok, k);
    assert.equal(tok['token_type'], 'bearer');
    assert.match(tok['exp']!, /^\d+$/);
    const bad = await call(sim, 'POST', '/ovirt-engine/sso/oauth/token', form('admin@internal', 'wrong'), { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', authorization: '' });
    assert.equal(bad.status, 400);
    assert.deepEqual(JSON.parse(bad.text), JSON.parse(ex('sso-token-error-oauth.json')));
    sim.auth.ssoErrorStyle = 'restapi';
    const bad2 = await call(sim, 'POST', '/ovirt-engine/sso/oauth/token', form('admin@internal', 'wrong'), { 'content-type': 'application/x-www-form-urlencoded', authorization: '' });
    assert.deepEqual(JSON.parse(bad2.text), JSON.parse(ex('sso-token-error-restapi-scope.json')));
    sim.auth.ssoErrorStyle = 'oauth';
    const withBearer = await call(sim, 'GET', A, undefined, { authorization: `Bearer ${tok['access_token']}` });
    assert.equal(withBearer.status, 200);
    sim.auth.expireAll();
    const expired = await call(sim, 'GET', A, undefined, { authorization: `Bearer ${tok['access_token']}` });
    assert.equal(expired.status, 401);
    assert.equal(expired.headers['www-authenticate'], 'Basic realm="RESTAPI"');
  });
});

describe('engine simulator: v3 (RHEV-M 3.6) examples and the v3 schema', () => {
  let sim: EngineSim;
  const v3Docs: { what: string; xml: string }[] = [];
  const get = async (p: string): Promise<Res> => {
    const r = await call(sim, 'GET', p);
    if (r.status === 200 && r.text.startsWith('<?xml')) v3Docs.push({ what: `GET ${p}`, xml: r.text });
    return r;
  };
  const send = async (method: string, p: string, body: string): Promise<Res> => {
    const r = await call(sim, method, p, body);
    if (r.text.startsWith('<?xml')) v3Docs.push({ what: `${method} ${p}`, xml: r.text });
    return r;
  };
  before(async () => {
    sim = await EngineSim.start({ version: 3, minor: 6, stepMs: 2 });
  });
  after(() => sim?.close());

  it('replays the 3.0 guide end-to-end RHEV-H example (§4.3 corrections applied)', async () => {
    // A RHEV-H node registers itself (§8), the guide's "hypervisor" host.
    const reg = await call(sim, 'GET', '/ovirt-engine/services/host-register?version=1&command=register&name=hypervisor&address=10.64.14.110&uniqueId=4C4C4544-0032&sshUser=root&sshPort=22&port=54321', undefined, { authorization: '' });
    assert.equal(reg.status, 200);
    assert.equal(reg.text, 'OK\n');
    const ids = new Map<string, string>([
      ['01a45ff0-915a-11e0-8b87-5254004ac988', DEFAULT_DC_ID], ['d70d5e2d-b8ad-494a-a4d2-c7a5631073c4', DEFAULT_DC_ID],
      ['0656f432-923a-11e0-ad20-5254004ac988', sim.hostByName('hypervisor')!.id],
    ]);
    const steps = exchanges(ex('v3-3.0doc-end-to-end-example.txt'));
    assert.equal(steps.length, 19);
    const map = (s: string): string => [...ids].reduce((acc, [k, v]) => acc.replaceAll(k, v), s.replace('/restapi-definition', '/api'));
    for (const step of steps) {
      let body = step.body.replace(/^<\/action>$/, '<action/>');
      if (step.path.includes('/storagedomains') && step.method === 'POST' && /\/datacenters\/[^/]+\/storagedomains\/[^/]+\/activate/.test(step.path) === false) {
        // Storage is attached and activated after the host is up (the guide's order).
        await sim.settle();
      }
      if (step.path.endsWith('/files')) sim.addIsoFile('iso1', 'rhel-server-6.0-x86_64-dvd.iso');
      body = map(body);
      const r = step.method === 'GET' ? await get(map(step.path)) : await send(step.method, map(step.path), body);
      const what = `${step.method} ${step.path}`;
      if (/\/activate$/.test(step.path)) {
        // §7.5: attaching activates the domain automatically since 3.x; the 3.0 guide's explicit
        // activate now meets an active domain: 409 in an <action> (§5.4).
        assert.equal(r.status, 409, what);
        assert.match(r.text, /The relevant Storage Domain's status is (active|locked)/);
      } else if (step.method === 'POST') {
        // §4.3: creates answer 201 (the guide's 200 is the prose's mistake); actions 200.
        assert.equal(r.status, /\/(approve|start)$/.test(step.path) ? 200 : 201, `${what}: ${r.text}`);
      } else {
        assert.equal(r.status, 200, what);
      }
      if (step.response?.body.startsWith('<')) {
        const deviations: Record<string, string | null> = {
          // §4.2: 3.0 had <system_version>; 3.1+ roots carry product_info/version.
          'api/system_version': 'api/product_info/version',
          // §7.2: storage_type is the 3.0/3.1 form; 3.4+ data centers say <local>.
          'data_centers/data_center/storage_type': 'data_centers/data_center/local',
          // The guide's VM was once started; a new VM has no start_time yet (v4-vm-add-response too).
          'vm/start_time': null,
          // Event 103 is a user logout the simulator has no reason to log.
        };
        assertShape(r.text, v3StatusFix(step.response.body), deviations, what);
      }
      // The guide's ids for what this request created stand for the simulator's from now on.
      const exId = step.response && /^<\w+ id="([^"]+)"/.exec(step.response.body)?.[1];
      if (exId && r.status < 300) ids.set(exId, /^<\?xml[^>]*>\s*<\w+ href="[^"]+" id="([^"]+)"/.exec(r.text)![1]!);
      if (step.method === 'POST' && step.path.endsWith('/approve')) await sim.settle();
      if (step.method === 'POST' && /datacenters\/[^/]+\/storagedomains$/.test(step.path)) await sim.settle();
    }
    // The VM the guide built is running on the approved hypervisor, with its CD and disk.
    await sim.settle();
    const vm = sim.vmByName('vm1')!;
    assert.equal(vm.status, 'up');
    assert.equal(vm.cdrom, 'rhel-server-6.0-x86_64-dvd.iso');
    assert.equal(vm.hostId, sim.hostByName('hypervisor')!.id);
  });

  it('matches the v3 host and VM documents (rhev-h type, attribute-style version/topology/os)', async () => {
    const h = sim.hostByName('hypervisor')!;
    const host = await get(`/api/hosts/${h.id}`);
    assertShape(host.text, v3StatusFix(ex('v3-3.0doc-host.xml')), {}, 'v3 host');
    assert.match(host.text, /<type>rhev-h<\/type>/);
    assert.match(host.text, /<status>\s*<state>up<\/state>\s*<\/status>/);
    assert.match(host.text, /<version [^>]*major="4"/);
    const vm = await get(`/api/vms/${sim.vmByName('vm1')!.id}`);
    assertShape(vm.text, v3StatusFix(ex('v3-3.0doc-vm.xml')), {
      // vm1 was created without a description.
      'vm/description': null,
      // The guide spells high_availability "highly_available"; the XSD (and engine) say high_availability.
      'vm/highly_available': 'vm/high_availability',
      // Guest agent data and custom properties are not simulated.
      'vm/guest_info': null, 'vm/custom_properties': null, 'vm/display/port': null,
      // Placement pinned to a host in the guide; the simulator's VMs are migratable anywhere.
      'vm/placement_policy/host': null,
    }, 'v3 vm');
  });

  it('approves, installs, attaches NICs and commits like the 3.0 guide actions', async () => {
    const reg = sim.registerNode({ name: 'node2', address: '10.64.14.111', uniqueId: 'uuid-node2' });
    const approve = await send('POST', `/api/hosts/${reg.id}/approve`, ex('v3-3.0doc-host-approve-action.txt').split('\n\n')[1]!.replace('<action>\n    <cluster id="99408929-82cf-4dc7-a532-9d998063fa95"/>\n<action>', `<action><cluster id="${DEFAULT_CLUSTER_ID}"/></action>`));
    assert.equal(approve.status, 200, approve.text);
    assert.match(approve.text, /<status>\s*<state>complete<\/state>/);
    await sim.settle();
    assert.equal(reg.status, 'up');
    // install (reinstall) needs maintenance: 409 first, then deactivate, then both bodies of the guide.
    const [pw, image] = ex('v3-3.0doc-host-install-action.txt').split(/\n\n\n+/).map((b) => b.slice(b.indexOf('<action>')));
    assert.equal((await send('POST', `/api/hosts/${reg.id}/install`, pw!)).status, 409);
    assert.equal((await send('POST', `/api/hosts/${reg.id}/deactivate`, '<action/>')).status, 200);
    await sim.settle();
    assert.equal(reg.status, 'maintenance');
    assert.equal((await send('POST', `/api/hosts/${reg.id}/install`, pw!)).status, 200);
    await sim.settle();
    assert.equal(reg.status, 'up');
    await send('POST', `/api/hosts/${reg.id}/deactivate`, '<action/>');
    await sim.settle();
    assert.equal((await send('POST', `/api/hosts/${reg.id}/install`, image!.trim())).status, 200);
    await sim.settle();
    const net = await send('POST', '/api/networks', `<network><name>storage</name><data_center id="${DEFAULT_DC_ID}"/></network>`);
    const nics = await get(`/api/hosts/${reg.id}/nics`);
    const eth1 = /<host_nic href="[^"]+" id="([^"]+)">\s*<actions>(?:(?!<\/host_nic>)[\s\S])*?<name>eth1<\/name>/.exec(nics.text)![1]!;
    const [attach, commit] = ex('v3-3.0doc-host-nic-attach-and-commitnetconfig.txt').split(/\n\n\n+/);
    const r1 = await send('POST', `/api/hosts/${reg.id}/nics/${eth1}/attach`, attach!.slice(attach!.indexOf('<action>')).replace('e657d631-657d-42bb-a536-73501a085d85', idOf(net.text, 'network')));
    assert.equal(r1.status, 200, r1.text);
    assert.equal((await send('POST', `/api/hosts/${reg.id}/commitnetconfig`, commit!.slice(commit!.indexOf('<action/>')).trim())).status, 200);
    assert.match((await get(`/api/hosts/${reg.id}/nics/${eth1}`)).text, new RegExp(`<network href="[^"]+" id="${idOf(net.text, 'network')}"`));
  });

  it('answers the 409 immutability fault exactly (v3-3.0doc-fault-409.txt)', async () => {
    const [req, res] = ex('v3-3.0doc-fault-409.txt').split('HTTP/1.1 ');
    const r = await send('PUT', `/api/vms/${sim.vmByName('vm1')!.id}`, req!.slice(req!.indexOf('<resource>')).replace(/resource>/g, 'vm>'));
    assert.equal(r.status, 409);
    assert.ok(res!.startsWith('409 Conflict'));
    assertShape(r.text, res!.slice(res!.indexOf('<fault>')), {}, 'fault 409');
    assert.match(r.text, /<reason>Broken immutability constraint<\/reason>\s*<detail>Attempt to set immutable field: id<\/detail>/);
  });

  it('async action and async creation: 202, href to poll, complete (3.0 guide Common Idioms)', async () => {
    const vm1 = sim.vmByName('vm1')!;
    await send('POST', `/api/vms/${vm1.id}/stop`, '<action/>');
    // Creation: a template copies vm1's disk → 202 with creation_status and its link.
    const tpl = await send('POST', '/api/templates', `<template><name>tpl1</name><vm id="${vm1.id}"/></template>`);
    assert.equal(tpl.status, 202, tpl.text);
    const creationExample = ex('v3-3.0doc-async-creation-202.txt').split('HTTP/1.1 202 Accepted')[1]!.split('GET ')[0]!.replace(/resource/g, 'template').replace('</creation status>', '</creation_status>');
    assertShape(tpl.text, v3StatusFix(creationExample.replace(/<creation_status>(\w+)<\/creation_status>/, '<creation_status><state>$1</state></creation_status>').replace(/<creation_status><state>(\w+)<\/state>/, (_m, s: string) => `<creation_status><state>${s.toLowerCase()}</state>`)), {}, 'creation 202');
    await sim.settle();
    const poll = await get(/<link href="([^"]+)" rel="creation_status"\/>/.exec(tpl.text)![1]!);
    assertShape(poll.text, v3StatusFix(ex('v3-3.0doc-async-creation-202.txt').split('HTTP/1.1 200 OK')[1]!), {}, 'creation poll');
    assert.match(poll.text, /<state>complete<\/state>/);
    // Action: clone (storage copy) with <async>true</async> → 202 <action id href>.
    const clone = await send('POST', `/api/vms/${vm1.id}/clone`, '<action><async>true</async><vm><name>vm1-clone</name></vm></action>');
    assert.equal(clone.status, 202, clone.text);
    const [asyncReq, asyncPoll] = ex('v3-3.0doc-async-action-202.txt').split('HTTP/1.1 202 Accepted')[1]!.split('HTTP/1.1 200 OK');
    const fixTail = (s: string): string => s.replace(/<action>\s*$/, '</action>').replace('<link rel="parent" /', '<link rel="parent" href="/');
    assertShape(clone.text, fixTail(asyncReq!.split('GET ')[0]!), {}, 'action 202');
    await sim.settle();
    const p = await get(/<action [^>]*href="([^"]+)"/.exec(clone.text)![1]!);
    assertShape(p.text, v3StatusFix(fixTail(asyncPoll!).replace(/<status>[A-Z_|]+<\/status>/, '<status>COMPLETE</status>')), {}, 'action poll');
    assert.equal(sim.vmByName('vm1-clone')!.status, 'down');
  });

  it('every v3 document the simulator produced validates against the 3.6 XSD (xmllint --schema)', async () => {
    // xmllint comes from Debian's libxml2-utils (listed in test/setup/system-packages.txt).
    assert.ok(existsSync(XSD), XSD);
    for (const p of ['/api', '/api/datacenters', '/api/clusters', '/api/networks', '/api/hosts', '/api/vms', '/api/templates', '/api/storagedomains', '/api/jobs', '/api/events']) await get(p);
    await send('DELETE', `/api/vms/${sim.vmByName('vm1-clone')!.id}`, '');
    assert.ok(v3Docs.length > 40, String(v3Docs.length));
    const dir = await tempDir('engine-sim-xsd-');
    const files: string[] = [];
    for (const [i, d] of v3Docs.entries()) {
      const f = path.join(dir, `${String(i).padStart(3, '0')}.xml`);
      await writeFile(f, d.xml);
      files.push(f);
    }
    let out = '';
    try {
      execFileSync('xmllint', ['--noout', '--schema', XSD, ...files], { stdio: 'pipe' });
    } catch (e) {
      out = String((e as { stderr?: Buffer }).stderr ?? e);
    }
    const failures = out.split('\n').filter((l) => l.includes('fails to validate') || l.includes('validity error'));
    const which = failures.map((l) => { const m = /(\d{3})\.xml/.exec(l); return m ? `${v3Docs[Number(m[1])]!.what}: ${l}` : l; });
    assert.deepEqual(which, []);
  });

  it('also rejects an invalid document (the schema check can fail)', async () => {
    const dir = await tempDir('engine-sim-xsd-');
    const f = path.join(dir, 'bad.xml');
    await writeFile(f, '<?xml version="1.0"?>\n<host><status>up</status><name>wrong order</name></host>\n');
    assert.throws(() => execFileSync('xmllint', ['--noout', '--schema', XSD, f], { stdio: 'pipe' }));
  });
});
