// The virtual environment (rhevboot ve …, /api/v1/engines/:engine/ve/…) against the engine
// simulator, v3 and v4: build a data center with its cluster, storage and networks, list it,
// provoke the engine's refusals and faults, and take it all down again in reverse order.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { BOOTSTRAP_TOKEN_FILE, startAppliance, type Appliance } from '../../src/appliance.js';
import { loadConfig } from '../../src/config/load.js';
import { RhevmClient } from '../../src/rhevm/index.js';
import { DEFAULT_USER, EngineSim } from '../engine-sim/index.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { runCliInProcess } from '../helpers/cli-inproc.js';
import { tempDir } from '../helpers/tmp.js';

const E = 'lab';

interface Listing {
  datacenters: { name: string; status: string; storage: string; version: string }[];
  clusters: { name: string; dataCenter: string; cpuType: string }[];
  storagedomains: { name: string; domainType: string; storageType: string; status: string; master: boolean; dataCenters: { name: string; status: string }[]; address: string; path: string }[];
  networks: { name: string; dataCenter: string; vlan: number | null; mtu: number; vm: boolean; clusters: { name: string; required: boolean; status: string }[] }[];
}

for (const version of [3, 4] as const) {
  describe(`virtual environment: CLI and API against a v${version} engine`, () => {
    let sim: EngineSim;
    let app: Appliance;
    let env: NodeJS.ProcessEnv;
    let base: string;
    let token: string;
    let apiPath: string;
    const compat = version === 3 ? '3.6' : '4.3';

    before(async () => {
      sim = await EngineSim.start({ version, stepMs: 2 });
      apiPath = new URL(sim.apiUrl).pathname;
      const stateDir = await tempDir(`rhevboot-ve${version}-`);
      env = {
        RHEVBOOT_STATE_DIR: stateDir,
        RHEVBOOT_HTTP_HOST: '127.0.0.1',
        RHEVBOOT_HTTP_PORT: '0',
        RHEVBOOT_TFTP_HOST: '127.0.0.1',
        RHEVBOOT_TFTP_PORT: '0',
        RHEVBOOT_DHCP_SUBNETS: JSON.stringify([{ subnet: '10.9.0.0/16' }]),
        // The simulator moves in 2 ms steps: check states often, so the test stays fast.
        RHEVBOOT_RHEVM_POLL_INTERVAL_MS: '50',
      };
      const quiet = new Writable({ write: (_c, _e, cb) => cb() });
      app = await startAppliance(loadConfig({ env }), { log: pino({ level: 'warn' }, quiet) });
      base = `http://127.0.0.1:${app.httpAddress.port}/api/v1`;
      token = (await readFile(path.join(stateDir, BOOTSTRAP_TOKEN_FILE), 'utf8')).trim();
      const r = await api('POST', '/engines', { name: E, url: sim.url, username: DEFAULT_USER.user, password: DEFAULT_USER.password });
      assert.equal(r.status, 201, r.text);
    });
    after(async () => {
      await app?.stop('test over');
      await sim?.close();
    });

    const api = async (method: string, p: string, body?: unknown): Promise<{ status: number; text: string; json: any }> => {
      const res = await fetch(base + p, { method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
      const text = await res.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.status, text, json };
    };
    // Most calls run the CLI in-process (fast); `spawned` runs the real binary for a few.
    const cli = (...args: string[]): Promise<CliResult> => runCliInProcess(['ve', ...args, '--engine', E], env);
    const spawned = (...args: string[]): Promise<CliResult> => runCli(['ve', ...args, '--engine', E], env);
    const ok = (r: CliResult): CliResult => (assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`), r);
    const events = async (): Promise<{ kind: string; message: string }[]> => (await api('GET', `/events?subjectType=engine&subject=${E}&limit=1000`)).json;
    // What changed the engine: every call but reads and logins.
    const writes = (since: number): string[] => sim.requests.filter((q) => q.seq > since && q.method !== 'GET' && !q.path.includes('/sso/')).map((q) => `${q.method} ${q.path}`);
    const mark = (): number => sim.requests.at(-1)?.seq ?? 0;
    const simDc = (name: string) => [...sim.state.dataCenters.values()].find((d) => d.name === name);
    const simSd = (name: string) => [...sim.state.storageDomains.values()].find((s) => s.name === name);
    const simNet = (name: string) => [...sim.state.networks.values()].find((n) => n.name === name);

    it('creates a data center, cluster, NFS data and ISO domains and a VLAN network on the cluster and a host NIC', async () => {
      let r = ok(await spawned('mk', 'dc', 'dc1', '--compat-version', compat, '--description', 'rack 1'));
      assert.match(r.stdout, /^data center dc1: uninitialized \(created\)$/m);
      assert.deepEqual(simDc('dc1')?.version, { major: version, minor: version === 3 ? 6 : 3 });

      r = ok(await cli('mk', 'cl', 'cl1', '--dc', 'dc1', '--cpu', 'Intel Nehalem Family'));
      assert.match(r.stdout, /cluster cl1 in data center dc1/);
      const cl1 = [...sim.state.clusters.values()].find((c) => c.name === 'cl1')!;
      assert.equal(cl1.dataCenterId, simDc('dc1')!.id);
      assert.equal(cl1.cpuType, 'Intel Nehalem Family');

      const net = await api('POST', `/engines/${E}/ve/networks`, { name: 'vlan100', dataCenter: 'dc1', vlan: 100, mtu: 9000, description: 'storage VLAN' });
      assert.equal(net.status, 201, net.text);
      assert.deepEqual([net.json.vlan, net.json.mtu, net.json.vm, net.json.dataCenter], [100, 9000, true, 'dc1']);
      ok(await cli('mk', 'nw', 'backend', '--dc', 'dc1', '--vlan', '200', '--no-vm'));
      assert.deepEqual(simNet('backend')?.usages, [], 'asked for as a non-VM network (empty <usages/>)');

      // A host in the new cluster, added by address (the engine installs it), to build storage through.
      const client = new RhevmClient({ url: sim.url, username: DEFAULT_USER.user, password: DEFAULT_USER.password });
      try {
        await client.hosts.add({ name: 'hv1', address: '10.9.0.21', rootPassword: 'secret', cluster: { name: 'cl1' } });
      } finally {
        await client.close();
      }
      await sim.waitFor(() => sim.hostByName('hv1')?.status === 'up', 10_000);

      r = ok(await cli('mk', 'sd', 'data1', '--storage-type', 'nfs', '--host', 'hv1', '--address', 'nfs.lab', '--path', '/exports/data1', '--dc', 'dc1', '--json'));
      const data1 = JSON.parse(r.stdout);
      assert.deepEqual([data1.status, data1.master, data1.domainType, data1.dataCenters], ['active', true, 'data', [{ name: 'dc1', status: 'active' }]]);
      assert.equal(simDc('dc1')!.status, 'up', 'the data center came up with its first data domain');

      const iso = await api('POST', `/engines/${E}/ve/storagedomains`, { name: 'iso1', domainType: 'iso', storageType: 'nfs', host: 'hv1', address: 'nfs.lab', path: '/exports/iso', dataCenter: 'dc1' });
      assert.equal(iso.status, 201, iso.text);
      assert.deepEqual([iso.json.status, iso.json.master, iso.json.domainType], ['active', false, 'iso']);

      // A required network the host lacks makes it non-operational; putting it on eth1 brings it back.
      r = ok(await cli('attach', 'nw', 'vlan100', '--cluster', 'cl1'));
      assert.match(r.stdout, /network vlan100 in data center dc1, VLAN 100; clusters: cl1 \(/);
      await sim.waitFor(() => sim.hostByName('hv1')?.status === 'non_operational', 5000);
      const before = mark();
      r = ok(await cli('attach', 'nw', 'vlan100', '--host', 'hv1', '--nic', 'eth1'));
      assert.match(r.stdout, /on hv1 eth1, committed \(host up\)/);
      const hv1 = sim.hostByName('hv1')!;
      assert.equal(hv1.nics.find((n) => n.name === 'eth1')?.networkId, simNet('vlan100')!.id);
      assert.equal(hv1.netConfigDirty, false, 'committed');
      assert.equal(hv1.status, 'up');
      const sent = writes(before).map((w) => w.replace(/[0-9a-f-]{36}/g, 'ID'));
      assert.deepEqual(sent, version === 4 ? [`POST ${apiPath}/hosts/ID/setupnetworks`, `POST ${apiPath}/hosts/ID/commitnetconfig`] : [`POST ${apiPath}/hosts/ID/nics/ID/attach`, `POST ${apiPath}/hosts/ID/commitnetconfig`]);

      const kinds = (await events()).map((e) => e.kind);
      assert.deepEqual(kinds.filter((k) => k.startsWith('ve.')), [
        've.datacenter-created',
        've.cluster-created',
        've.network-created',
        've.network-created',
        've.storagedomain-created',
        've.storagedomain-attached',
        've.storagedomain-created',
        've.storagedomain-attached',
        've.network-attached',
        've.network-attached',
      ]);
      assert.ok((await events()).some((e) => /storage domain data1 attached to data center dc1: active; data center dc1 up/.test(e.message)));
    });

    it('lists everything with its state, by CLI (JSON and tables) and API', async () => {
      const all = JSON.parse(ok(await spawned('ls', '--json')).stdout) as Listing;
      const dc1 = all.datacenters.find((d) => d.name === 'dc1')!;
      assert.deepEqual([dc1.status, dc1.storage, dc1.version], ['up', 'shared', compat]);
      assert.deepEqual({ ...all.clusters.find((c) => c.name === 'cl1'), id: 'x' }, { id: 'x', name: 'cl1', dataCenter: 'dc1', cpuType: 'Intel Nehalem Family', version: compat, description: null });
      const sds = Object.fromEntries(all.storagedomains.map((s) => [s.name, s]));
      assert.deepEqual([sds.data1!.status, sds.data1!.master, sds.data1!.storageType, sds.data1!.address, sds.data1!.path], ['active', true, 'nfs', 'nfs.lab', '/exports/data1']);
      assert.deepEqual([sds.iso1!.status, sds.iso1!.domainType], ['active', 'iso']);
      const v100 = all.networks.find((n) => n.name === 'vlan100' && n.dataCenter === 'dc1')!;
      assert.deepEqual([v100.vlan, v100.mtu, v100.vm, v100.clusters], [100, 9000, true, [{ name: 'cl1', required: true, status: 'operational' }]]);
      assert.equal(all.networks.find((n) => n.name === 'backend')!.vm, false);
      assert.ok(all.networks.some((n) => n.dataCenter === 'dc1' && n.name === (version === 3 ? 'rhevm' : 'ovirtmgmt')), "the data center's own management network");

      const table = ok(await cli('ls', 'sd')).stdout;
      assert.match(table, /^NAME\s+TYPE\s+STORAGE\s+STATUS\s+DATA CENTER\s+FREE\s+LOCATION$/m);
      assert.match(table, /^data1\s+data\s+nfs\s+active \(master\)\s+dc1\s+40\.0 GiB\s+nfs\.lab:\/exports\/data1$/m);
      const sections = ok(await cli('ls', '--dc', 'dc1')).stdout;
      assert.match(sections, /^DATA CENTERS\n[\s\S]*^dc1\s+up\s+shared[\s\S]*^CLUSTERS\n[\s\S]*^STORAGE DOMAINS\n[\s\S]*^NETWORKS\n[\s\S]*^vlan100\s+dc1\s+100\s+9000\s+yes\s+cl1 \(required, operational\)$/m);
      assert.doesNotMatch(sections, /^Default\s/m, 'filtered to dc1');

      const r = await api('GET', `/engines/${E}/ve/storagedomains?dataCenter=dc1`);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.map((s: { name: string }) => s.name).sort(), ['data1', 'iso1']);
      const whole = await api('GET', `/engines/${E}/ve`);
      assert.deepEqual(Object.keys(whole.json).sort(), ['clusters', 'datacenters', 'networks', 'storagedomains']);
      assert.equal((await api('GET', `/engines/${E}/ve/networks?dataCenter=nodc`)).status, 404);
      const spec = (await api('GET', '/openapi.json')).json as { paths: Record<string, unknown> };
      assert.ok(spec.paths['/api/v1/engines/{engine}/ve/storagedomains/{name}/attach'], 'the routes are in the OpenAPI document');
    });

    it('refuses bad input with a clear error, and changes nothing', async () => {
      const since = mark();
      const eventsBefore = (await events()).length;
      const results = await Promise.all([
        cli('mk', 'nw', 'n1', '--dc', 'dc1', '--vlan', '5000'),
        spawned('mk', 'nw', 'n1', '--dc', 'dc1', '--vlan', 'x'),
        cli('mk', 'dc', 'd2', '--vlan', '5'),
        cli('mk', 'sd', 's2', '--storage-type', 'nfs', '--host', 'hv1', '--address', 'nfs.lab'),
        cli('mk', 'bogus', 'x'),
        cli('mk', 'dc', 'bad name!'),
        cli('mk', 'cl', 'cl9'),
        cli('attach', 'sd', 'data1'),
      ]);
      const expect: [number, RegExp][] = [
        [1, /RB_ERR_INVALID: vlan: 5000 is not a whole number from 0 to 4094/],
        [2, /--vlan must be a whole number/],
        [1, /RB_ERR_INVALID: --vlan does not apply to a data center/],
        [1, /RB_ERR_INVALID: path: the NFS export/],
        [2, /value 'bogus' is invalid for argument 'type'/],
        [1, /RB_ERR_INVALID: data center name 'bad name!' must be/],
        [1, /RB_ERR_INVALID: a cluster needs --dc/],
        [1, /RB_ERR_INVALID: attaching a storage domain needs --dc/],
      ];
      results.forEach((r, i) => {
        assert.equal(r.code, expect[i]![0], `case ${i}: ${r.stderr}`);
        assert.match(r.stderr, expect[i]![1], `case ${i}`);
      });

      const bad: [string, unknown, number, RegExp][] = [
        ['/ve/networks', { name: 'n1', dataCenter: 'dc1', vlan: 5000 }, 400, /body\.vlan must be <= 4094/],
        ['/ve/networks', { name: 'n1' }, 400, /body\.dataCenter is required/],
        ['/ve/networks', { name: 'n1', dataCenter: 'dc1', colour: 'red' }, 400, /body\.colour is not a known field/],
        ['/ve/datacenters', { name: 'bad name' }, 400, /body\.name must match pattern/],
        ['/ve/storagedomains', { name: 's2', storageType: 'iscsi', host: 'hv1', address: 'san.lab', target: 'iqn.2001-04.com.example:t1' }, 400, /luns: iSCSI domains are built on LUN ids/],
        ['/ve/storagedomains', { name: 's2', storageType: 'nfs', domainType: 'iso', host: 'hv1', path: '/x' }, 400, /address: the NFS server is needed/],
        ['/ve/networks/vlan100/attach', {}, 400, /give either cluster, or host and nic/],
        ['/ve/networks/vlan100/attach', { host: 'hv1', nic: 'eth9' }, 404, /host hv1 has no NIC eth9 \(it has eth0, eth1, eth2\)/],
        ['/ve/networks', { name: 'n1', dataCenter: 'nodc' }, 404, /engine lab has no data center named nodc/],
        ['/ve/datacenters', { name: 'dc1' }, 409, /engine lab already has a data center named dc1/],
      ];
      for (const [p, body, status, msg] of bad) {
        const r = await api('POST', `/engines/${E}${p}`, body);
        assert.equal(r.status, status, `${p} ${JSON.stringify(body)}: ${r.text}`);
        assert.match(r.json.error.message, msg);
      }
      assert.equal((await api('POST', `/engines/nosuch/ve/datacenters`, { name: 'x' })).status, 404);
      assert.equal((await api('DELETE', `/engines/${E}/ve/clusters/cl1?format=true`)).status, 400, 'format is for storage domains');

      assert.deepEqual(writes(since), [], 'nothing was sent to the engine but reads');
      assert.equal((await events()).length, eventsBefore, 'no event: nothing changed');
    });

    it("shows the engine's 409 reason for an illegal transition and changes nothing", async () => {
      const eventsBefore = (await events()).length;
      let r = await cli('rm', 'sd', 'data1', '--format');
      assert.equal(r.code, 1);
      assert.match(r.stderr, /RB_ERR_RHEVM_FAULT: engine lab: cannot remove storage domain data1: Operation Failed: Cannot remove Storage\. The relevant Storage Domain's status is active\. \(HTTP 409\)/);
      assert.equal(simSd('data1')!.attachments.get(simDc('dc1')!.id), 'active');

      const api409 = await api('DELETE', `/engines/${E}/ve/storagedomains/iso1?format=true`);
      assert.equal(api409.status, 502, api409.text);
      assert.deepEqual([api409.json.error.code, api409.json.error.details.status, api409.json.error.details.reason], ['RB_ERR_RHEVM_FAULT', 409, 'Operation Failed']);
      assert.match(api409.json.error.details.detail, /The relevant Storage Domain's status is active/);

      const act = await api('POST', `/engines/${E}/ve/storagedomains/data1/activate`, { dataCenter: 'dc1' });
      assert.equal(act.status, 502);
      assert.match(act.json.error.message, /Cannot activate Storage\. The relevant Storage Domain's status is active\./);

      r = await cli('detach', 'sd', 'iso1', '--dc', 'dc1');
      assert.equal(r.code, 1);
      assert.match(r.stderr, /Cannot detach Storage\. The relevant Storage Domain's status is active\./);
      assert.ok(simSd('iso1')!.attachments.has(simDc('dc1')!.id), 'still attached');
      assert.equal((await events()).length, eventsBefore, 'a refusal is not an event');
    });

    it('retries a 5xx during a create (no duplicate), and reports one that persists clearly', async () => {
      let since = mark();
      sim.faults.failNext(1, 503, { method: 'POST', path: `${apiPath}/clusters` });
      const cl2 = await api('POST', `/engines/${E}/ve/clusters`, { name: 'cl2', dataCenter: 'dc1' });
      assert.equal(cl2.status, 201, cl2.text);
      assert.equal([...sim.state.clusters.values()].filter((c) => c.name === 'cl2').length, 1);
      assert.deepEqual(writes(since), [`POST ${apiPath}/clusters`, `POST ${apiPath}/clusters`], 'looked up, then sent again');

      since = mark();
      sim.faults.add({ kind: 'status', status: 500, method: 'POST', path: `${apiPath}/clusters`, times: Infinity });
      try {
        const cl3 = await api('POST', `/engines/${E}/ve/clusters`, { name: 'cl3', dataCenter: 'dc1' });
        assert.equal(cl3.status, 502, cl3.text);
        assert.match(cl3.json.error.message, /^engine lab: cannot create cluster cl3: Operation Failed: Injected engine failure \(HTTP 500\)$/);
      } finally {
        sim.faults.clear();
      }
      assert.ok(writes(since).length >= 2, 'retried before giving up');
      assert.equal([...sim.state.clusters.values()].filter((c) => c.name === 'cl3').length, 0);
      assert.ok(!(await events()).some((e) => e.message.includes('cl3')));
      ok(await cli('rm', 'cl', 'cl2'));
    });

    it('takes it all down in reverse order: networks off, domains deactivated, detached and formatted away', async () => {
      let r = ok(await cli('detach', 'nw', 'vlan100', '--host', 'hv1'));
      assert.equal(sim.hostByName('hv1')!.nics.find((n) => n.name === 'eth1')?.networkId, undefined);
      assert.equal(sim.hostByName('hv1')!.netConfigDirty, false);
      const off = await api('POST', `/engines/${E}/ve/networks/vlan100/detach`, { cluster: 'cl1' });
      assert.equal(off.status, 200, off.text);
      assert.deepEqual(off.json.clusters, []);
      assert.equal((await api('DELETE', `/engines/${E}/ve/networks/vlan100`)).status, 204);
      ok(await cli('rm', 'nw', 'backend', '--dc', 'dc1'));
      assert.equal(simNet('vlan100'), undefined);
      assert.equal(simNet('backend'), undefined);

      // --force does the three steps itself (xCAT's cfgve -r -f): deactivate, detach, remove.
      const exp = await api('POST', `/engines/${E}/ve/storagedomains`, { name: 'export1', domainType: 'export', storageType: 'nfs', host: 'hv1', address: 'nfs.lab', path: '/exports/export1', dataCenter: 'dc1' });
      assert.deepEqual([exp.status, exp.json.status], [201, 'active'], exp.text);
      ok(await cli('rm', 'sd', 'export1', '--force', '--format'));
      assert.equal(simSd('export1'), undefined);

      r = ok(await cli('deactivate', 'sd', 'iso1', '--dc', 'dc1'));
      assert.match(r.stdout, /storage domain iso1: maintenance in data center dc1/);
      r = ok(await cli('detach', 'sd', 'iso1', '--dc', 'dc1'));
      assert.match(r.stdout, /storage domain iso1: unattached/);
      ok(await cli('rm', 'sd', 'iso1', '--format'));
      assert.equal(simSd('iso1'), undefined);

      const deact = await api('POST', `/engines/${E}/ve/storagedomains/data1/deactivate`, { dataCenter: 'dc1' });
      assert.deepEqual([deact.status, deact.json.status], [200, 'maintenance']);
      const det = await api('POST', `/engines/${E}/ve/storagedomains/data1/detach`, { dataCenter: 'dc1' });
      assert.deepEqual([det.status, det.json.status, det.json.dataCenters], [200, 'unattached', []]);
      const since = mark();
      assert.equal((await api('DELETE', `/engines/${E}/ve/storagedomains/data1?format=true`)).status, 204);
      const del = sim.requests.find((q) => q.seq > since && q.method === 'DELETE')!;
      const hostId = sim.hostByName('hv1')!.id;
      // v4 says how in the query, v3 in a <storage_domain> body on the DELETE (§7.5).
      if (version === 4) assert.match(del.url, new RegExp(`host=${hostId}&format=true`));
      else assert.match(del.body, new RegExp(`<host id="${hostId}"/>\\s*<format>true</format>`));
      assert.equal(simSd('data1'), undefined);

      const client = new RhevmClient({ url: sim.url, username: DEFAULT_USER.user, password: DEFAULT_USER.password });
      try {
        const h = (await client.hosts.findByName('hv1'))!;
        await client.hosts.deactivate(h.id);
        await client.hosts.waitForStatus(h.id, ['maintenance'], { intervalMs: 20, timeoutMs: 5000 });
        await client.hosts.remove(h.id);
      } finally {
        await client.close();
      }
      ok(await cli('rm', 'cl', 'cl1'));
      r = ok(await cli('rm', 'dc', 'dc1'));
      assert.match(r.stdout, /data center dc1 removed/);
      assert.equal(simDc('dc1'), undefined);

      const kinds = (await events()).map((e) => e.kind).filter((k) => /removed|detached|deactivated/.test(k));
      assert.deepEqual(kinds, [
        've.cluster-removed',
        've.network-detached',
        've.network-detached',
        've.network-removed',
        've.network-removed',
        've.storagedomain-deactivated',
        've.storagedomain-detached',
        've.storagedomain-removed',
        've.storagedomain-deactivated',
        've.storagedomain-detached',
        've.storagedomain-removed',
        've.storagedomain-deactivated',
        've.storagedomain-detached',
        've.storagedomain-removed',
        've.cluster-removed',
        've.datacenter-removed',
      ]);
    });
  });
}
