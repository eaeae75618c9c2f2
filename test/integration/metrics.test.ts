/**
 * `GET /metrics`: one appliance on loopback (DHCP in full mode on a free port, TFTP on port 0)
 * gets real traffic of each kind, and the scrape must show exactly what moved. A second appliance
 * in the same process checks `http.metricsOpen` and that each has its own registry.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import http from 'node:http';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BOOTSTRAP_TOKEN_FILE, startAppliance, type Appliance } from '../../src/appliance.js';
import { loadConfig } from '../../src/config/load.js';
import { OPT } from '../../src/dhcp/options.js';
import { formatPacket, macToChaddr, MSG } from '../../src/dhcp/packet.js';
import { createCliLogger } from '../../src/log.js';
import { REGISTER_JOB } from '../../src/management/registration.js';
import { distroRecord, freePort, waitFor } from '../helpers/fixtures.js';
import { fakeGet } from '../helpers/tftp-fake-client.js';
import { tempDir } from '../helpers/tmp.js';

const DISTRO = distroRecord();
const MAC = '52:54:00:12:34:56';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

// prom-client prints `Nan` (an early event-loop lag mean); Prometheus parses it (Go's ParseFloat ignores case).
const SAMPLE_RE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:\\.|[^"\\])*",?)*)\})? ([-+]?(?:\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|[Nn][Aa][Nn]|Inf))$/;
const COMMENT_RE = /^# (?:HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (?:counter|gauge|histogram|summary|untyped))$/;

/** Parses the text exposition, failing on any line that is not a valid comment or sample. */
function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      assert.match(line, COMMENT_RE, `bad comment line: ${line}`);
      continue;
    }
    const m = SAMPLE_RE.exec(line);
    assert.ok(m, `bad sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:\\.|[^"\\])*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: /nan/i.test(m[3]!) ? NaN : Number(m[3]!.replace('Inf', 'Infinity')) });
  }
  return out;
}

/** The value of the one sample with this name and (at least) these labels; 0 if none. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.ok(found.length <= 1, `${name} ${JSON.stringify(labels)} matches ${found.length} samples`);
  return found[0]?.value ?? 0;
}

describe('GET /metrics', () => {
  let app: Appliance;
  let base: string;
  let auth: Record<string, string>;
  let dhcpPort: number;
  let tftpRoot: string;
  let installDir: string;

  before(async () => {
    const dir = await tempDir('rhevboot-metrics-');
    dhcpPort = await freePort();
    const file = path.join(dir, 'rhevboot.yaml');
    await writeFile(
      file,
      [
        'dhcp:',
        '  mode: full',
        '  serverAddress: 127.0.0.1',
        `  port: ${dhcpPort}`,
        '  subnets:',
        '    - subnet: 127.0.0.0/24',
        '      pools: [127.0.0.10-127.0.0.20]',
        '',
      ].join('\n'),
    );
    const env = { RHEVBOOT_STATE_DIR: dir, RHEVBOOT_HTTP_HOST: '127.0.0.1', RHEVBOOT_HTTP_PORT: '0', RHEVBOOT_TFTP_HOST: '127.0.0.1', RHEVBOOT_TFTP_PORT: '0', RHEVBOOT_BOOT_HTTP_BASE: 'http://127.0.0.1:8080' };
    const loaded = loadConfig({ env, file });
    tftpRoot = loaded.config.tftp.root;
    installDir = loaded.config.installDir;
    app = await startAppliance(loaded, { log: createCliLogger('silent') });
    base = `http://127.0.0.1:${app.httpAddress.port}`;
    auth = { authorization: `Bearer ${(await readFile(path.join(dir, BOOTSTRAP_TOKEN_FILE), 'utf8')).trim()}` };
    await app.store.distros.put(DISTRO);
  });
  after(() => app?.stop());

  const api = (method: string, p: string, body?: unknown) =>
    fetch(`${base}/api/v1${p}`, { method, headers: { ...auth, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
  const scrape = async (): Promise<Sample[]> => {
    const res = await fetch(`${base}/metrics`, { headers: auth });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return parse(await res.text());
  };

  /** A GET from the node's own address, as its iPXE and its installer make them. */
  const statusFromNode = (url: string) =>
    new Promise<number>((resolve, reject) => {
      http
        .get(url, { localAddress: '127.0.0.2' }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        })
        .on('error', reject);
    });

  it('refuses a scrape without a token (metricsOpen is off by default)', async () => {
    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 401);
    assert.equal((await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer nope' } })).status, 401);
  });

  it('counts DHCP, iPXE, TFTP, boot-file, trigger and store traffic exactly', async () => {
    // The node lives at 127.0.0.2 (127.0.0.1 is the appliance's): its script and trigger come from there.
    assert.equal((await api('POST', '/nodes', { nodes: [{ name: 'n1', macs: [MAC], ip: '127.0.0.2', distro: 'rhevh6.5' }] })).status, 201);
    assert.equal((await api('POST', '/nodeset', { range: 'n1', action: 'install' })).status, 200);
    const before = await scrape();
    for (const name of ['rhevboot_process_cpu_user_seconds_total', 'rhevboot_nodejs_heap_size_used_bytes']) assert.ok(before.some((s) => s.name === name), `default metric ${name}`);

    // DHCP: one DISCOVER from the node's MAC (the OFFER goes to port 68; we only need it handled).
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((res) => sock.bind(0, '127.0.0.1', () => res()));
    const packet = (type: number, extra: [number, Buffer][] = []) =>
      formatPacket({
        op: 1, htype: 1, hlen: 6, hops: 0, xid: 0x1234, secs: 0, flags: 0,
        ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0',
        chaddr: macToChaddr(MAC), sname: '', file: '',
        options: new Map<number, Buffer>([[OPT.MESSAGE_TYPE, Buffer.from([type])], [OPT.USER_CLASS, Buffer.from('iPXE')], ...extra]),
      });
    const send = (buf: Buffer) => new Promise<void>((res, rej) => sock.send(buf, dhcpPort, '127.0.0.1', (err) => (err ? rej(err) : res())));
    await send(packet(MSG.DISCOVER));
    await send(Buffer.from('garbage'));
    await waitFor(
      async () => {
        const s = await scrape();
        return value(s, 'rhevboot_dhcp_dropped_packets_total', { reason: 'malformed' }) === 1 && s.some((x) => x.name === 'rhevboot_dhcp_packets_total' && x.labels.type === 'DISCOVER');
      },
      { what: 'the DISCOVER to be counted', intervalMs: 20 },
    );
    // The REQUEST for the node's reserved address: its lease is committed before the ACK.
    await send(packet(MSG.REQUEST, [[OPT.REQUESTED_IP, Buffer.from([127, 0, 0, 2])], [OPT.SERVER_ID, Buffer.from([127, 0, 0, 1])]]));
    await waitFor(async () => (await scrape()).some((x) => x.name === 'rhevboot_dhcp_packets_total' && x.labels.type === 'REQUEST'), { what: 'the REQUEST to be counted', intervalMs: 20 });
    sock.close();
    // The contact is on the timeline before the config fetch (the boot-phase clock starts there).
    await app.services.events.flush();

    // iPXE script (the config fetch: the node becomes installing).
    assert.equal(await statusFromNode(`${base}/boot/ipxe/52-54-00-12-34-56`), 200);
    // A boot file over HTTP: 1000 bytes.
    await mkdir(path.join(installDir, 'rhevh6.5', 'x86_64'), { recursive: true });
    await writeFile(path.join(installDir, 'rhevh6.5', 'x86_64', 'vmlinuz0'), Buffer.alloc(1000, 7));
    assert.equal((await (await fetch(`${base}/install/rhevh6.5/x86_64/vmlinuz0`)).arrayBuffer()).byteLength, 1000);
    // TFTP: one transfer of 1500 bytes, one of a missing file.
    await mkdir(tftpRoot, { recursive: true });
    await writeFile(path.join(tftpRoot, 'pxelinux.0'), Buffer.alloc(1500, 1));
    const got = await fakeGet({ port: app.boot.tftp!.port, file: 'pxelinux.0' });
    assert.ok(got.ok, got.reason);
    assert.equal(got.data.length, 1500);
    assert.equal((await fakeGet({ port: app.boot.tftp!.port, file: 'nothing-here' })).ok, false);
    // Triggers: a bad token (refused), the right one (accepted), again (repeat).
    const token = (await app.store.nodes.get('n1'))!.triggerToken!;
    const trigger = (t: string) => statusFromNode(`${base}/xcatrhevh/rhevh_finish_install/n1?token=${t}`);
    assert.equal(await trigger('wrong'), 403);
    assert.equal(await trigger(token), 200);
    assert.equal(await trigger(token), 200);

    const s = await scrape();
    const moved = (name: string, labels: Record<string, string> = {}) => value(s, name, labels) - value(before, name, labels);

    assert.equal(moved('rhevboot_dhcp_packets_total', { type: 'DISCOVER', outcome: 'offer' }), 1);
    assert.equal(moved('rhevboot_dhcp_packets_total', { type: 'REQUEST', outcome: 'ack' }), 1);
    assert.equal(moved('rhevboot_dhcp_dropped_packets_total', { reason: 'malformed' }), 1);
    assert.equal(value(s, 'rhevboot_dhcp_leases'), 1, 'the offered address is in the lease book');

    assert.equal(moved('rhevboot_tftp_transfers_total', { outcome: 'ok' }), 1);
    assert.equal(moved('rhevboot_tftp_transfers_total', { outcome: 'not_found' }), 1);
    assert.equal(moved('rhevboot_tftp_transfer_failures_total'), 0);
    assert.equal(moved('rhevboot_tftp_sent_bytes_total'), 1500);
    assert.equal(moved('rhevboot_tftp_retransmits_total'), 0);
    assert.equal(value(s, 'rhevboot_tftp_active_transfers'), 0);

    assert.equal(moved('rhevboot_http_boot_file_sent_bytes_total'), 1000);
    assert.equal(moved('rhevboot_http_requests_total', { method: 'GET', route: '/boot/ipxe/:mac', status: '200' }), 1);
    assert.equal(moved('rhevboot_http_requests_total', { method: 'GET', route: '/install/*', status: '200' }), 1);
    assert.equal(moved('rhevboot_http_requests_total', { method: 'GET', route: '/xcatrhevh/rhevh_finish_install/:hostname', status: '403' }), 1);
    assert.equal(moved('rhevboot_http_requests_total', { method: 'GET', route: '/xcatrhevh/rhevh_finish_install/:hostname', status: '200' }), 2);
    assert.ok(!s.some((x) => x.name === 'rhevboot_http_requests_total' && /[?]|52-54/.test(x.labels.route ?? '')), 'routes are patterns, never raw URLs');

    assert.equal(moved('rhevboot_trigger_requests_total', { outcome: 'refused', reason: 'bad-token' }), 1);
    assert.equal(moved('rhevboot_trigger_requests_total', { outcome: 'accepted' }), 1);
    assert.equal(moved('rhevboot_trigger_requests_total', { outcome: 'repeat' }), 1);

    assert.equal(moved('rhevboot_boot_phase_duration_seconds_count', { phase: 'config' }), 1);
    assert.equal(moved('rhevboot_boot_phase_duration_seconds_count', { phase: 'trigger' }), 1);
    assert.ok(value(s, 'rhevboot_boot_phase_duration_seconds_sum', { phase: 'trigger' }) < 60);

    // Every state is exported; n1 has no engine, so its trigger queued no hand-off.
    for (const state of ['queued', 'running', 'succeeded', 'failed', 'interrupted']) assert.equal(value(s, 'rhevboot_rhevm_handoff_jobs', { state }), 0, state);

    assert.ok(moved('rhevboot_store_call_duration_seconds_count', { repo: 'nodes', method: 'get', outcome: 'ok' }) >= 1);
    assert.ok(moved('rhevboot_store_call_duration_seconds_count', { repo: 'store', method: 'transaction', outcome: 'ok' }) >= 1);
    assert.ok(moved('rhevboot_dhcp_lease_commit_duration_seconds_count') >= 1, 'the ACK\'s lease was committed');
  });

  it('counts DHCPDECLINEs by outcome and puts them on the node\'s timeline (issue 15)', async () => {
    const mac = '52:54:00:12:34:57';
    const ip = Buffer.from([127, 0, 0, 3]);
    const cid = Buffer.from('01525400123457', 'hex');
    assert.equal((await api('POST', '/nodes', { nodes: [{ name: 'n2', macs: [mac], ip: '127.0.0.3', distro: 'rhevh6.5' }] })).status, 201);
    const before = await scrape();
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((res) => sock.bind(0, '127.0.0.1', () => res()));
    const send = (from: string, type: number, extra: [number, Buffer][]) => {
      const buf = formatPacket({
        op: 1, htype: 1, hlen: 6, hops: 0, xid: 0x4321, secs: 0, flags: 0,
        ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0',
        chaddr: macToChaddr(from), sname: '', file: '',
        options: new Map<number, Buffer>([[OPT.MESSAGE_TYPE, Buffer.from([type])], [OPT.SERVER_ID, Buffer.from([127, 0, 0, 1])], [OPT.REQUESTED_IP, ip], ...extra]),
      });
      return new Promise<void>((res, rej) => sock.send(buf, dhcpPort, '127.0.0.1', (err) => (err ? rej(err) : res())));
    };
    try {
      await send(mac, MSG.REQUEST, [[OPT.CLIENT_ID, cid]]);
      await waitFor(async () => (await app.store.leases.get('127.0.0.3'))?.state === 'bound', { what: "n2's lease committed", intervalMs: 20 });
      await send('52:54:00:66:66:66', MSG.DECLINE, []);
      await send(mac, MSG.DECLINE, [[OPT.CLIENT_ID, Buffer.from('01aabbccddeeff', 'hex')]]);
      await send(mac, MSG.DECLINE, [[OPT.CLIENT_ID, cid]]);
    } finally {
      sock.close();
    }
    const moved = (s: Sample[], outcome: string) => value(s, 'rhevboot_dhcp_declines_total', { outcome }) - value(before, 'rhevboot_dhcp_declines_total', { outcome });
    await waitFor(
      async () => {
        const s = await scrape();
        return moved(s, 'quarantined') === 1 && moved(s, 'ignored') === 2;
      },
      { what: 'the DECLINEs to be counted', intervalMs: 20 },
    );
    await waitFor(
      async () => {
        await app.services.events.flush();
        const timeline = await app.store.events.list({ subjectType: 'node', subject: 'n2' });
        const kinds = timeline.filter((e) => e.message.startsWith('DHCP DECLINE')).map((e) => e.kind);
        return kinds.length === 3 ? kinds : undefined;
      },
      { what: "n2's DECLINE events", intervalMs: 20 },
    );
    const timeline = (await app.store.events.list({ subjectType: 'node', subject: 'n2' })).filter((e) => e.message.startsWith('DHCP DECLINE'));
    assert.deepEqual(
      timeline.map((e) => [e.kind, e.data.outcome, e.data.reason]),
      [
        ['node.dhcp-decline-ignored', 'ignored', 'not-holder'],
        ['node.dhcp-decline-ignored', 'ignored', 'client-id-mismatch'],
        ['node.dhcp', 'quarantined', 'in-use'],
      ],
    );
    assert.equal(timeline[2]!.data.quarantineSeconds, 60, "a node's reserved address: the default probation");
  });

  it('reads hand-off job states from the store at scrape time', async () => {
    // Due in an hour: the runner leaves it queued.
    await app.store.jobs.enqueue({ id: 'job-metrics-1', kind: REGISTER_JOB, subject: 'n9', params: {}, runAfter: Date.now() + 3_600_000 });
    await app.store.jobs.enqueue({ id: 'job-metrics-2', kind: 'copycds', subject: 'iso', params: {}, runAfter: Date.now() + 3_600_000 });
    const s = await scrape();
    assert.equal(value(s, 'rhevboot_rhevm_handoff_jobs', { state: 'queued' }), 1, 'other kinds of job are not hand-offs');
  });

  it('serves a scraper without a token when http.metricsOpen is true, from its own registry', async () => {
    const dir = await tempDir('rhevboot-metrics-open-');
    const env = { RHEVBOOT_STATE_DIR: dir, RHEVBOOT_HTTP_HOST: '127.0.0.1', RHEVBOOT_HTTP_PORT: '0', RHEVBOOT_TFTP_ENABLED: 'false', RHEVBOOT_HTTP_METRICS_OPEN: 'true' };
    const open = await startAppliance(loadConfig({ env }), { log: createCliLogger('silent') });
    try {
      assert.notEqual(open.metrics.registry, app.metrics.registry);
      const res = await fetch(`http://127.0.0.1:${open.httpAddress.port}/metrics`);
      assert.equal(res.status, 200);
      const s = parse(await res.text());
      assert.equal(value(s, 'rhevboot_trigger_requests_total', { outcome: 'accepted' }), 0, 'nothing from the other appliance');
      assert.equal(value(s, 'rhevboot_tftp_active_transfers'), 0);
      // The admin API still needs a token.
      assert.equal((await fetch(`http://127.0.0.1:${open.httpAddress.port}/api/v1/version`)).status, 401);
    } finally {
      await open.stop();
    }
  });
});
