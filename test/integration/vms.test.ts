import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildHttpApp } from '../../src/http/app.js';
import { Booter } from '../../src/provisioning/booter.js';
import { loadDescriptors } from '../../src/media/descriptors.js';
import type { EngineSim } from '../engine-sim/index.js';
import { main } from '../../src/cli/main.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { distroRecord } from '../helpers/fixtures.js';
import { applianceWith, startEngine, type Appliance } from '../helpers/vm-estate.js';

const KVM_IMAGE = { name: 'rhel7', description: 'RHEL 7 golden image hypervisor_type=kvm;architecture=x86_64;min_memory_mib=1024' };
const lines = (s: string): string[] => s.trim().split('\n').filter(Boolean);

/**
 * The CLI in this process (same main(), same services) for speed: a spawned tsx CLI costs seconds
 * on a busy 2-core box. A few steps still spawn the real thing (runCli) to prove that path.
 */
async function cliIn(env: NodeJS.ProcessEnv, args: string[]): Promise<CliResult> {
  const saved = { ...process.env };
  Object.assign(process.env, env, { RHEVBOOT_CONFIG: '' });
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  // The CLI writes strings; the test runner's child protocol writes Buffers, which pass through
  // untouched (capturing them would swallow the test's own report).
  process.stdout.write = ((c: string | Uint8Array, ...rest: never[]) => (typeof c === 'string' ? ((stdout += c), true) : out(c, ...rest))) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array, ...rest: never[]) => (typeof c === 'string' ? ((stderr += c), true) : err(c, ...rest))) as typeof process.stderr.write;
  process.exitCode = undefined;
  try {
    const code = await main(['node', 'rhevboot', ...args]);
    return { code, signal: null, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    process.exitCode = undefined;
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

for (const version of [3, 4] as const) {
  describe(`vm commands against a v${version} engine`, () => {
    let sim: EngineSim;
    let a: Appliance;
    const mgmt = version === 3 ? 'rhevm' : 'ovirtmgmt';
    before(async () => {
      sim = await startEngine(version, [
        { name: 'h1', type: 'ovirt_node', memoryMiB: 16384 },
        { name: 'h2', type: 'ovirt_node', memoryMiB: 12288 },
      ]);
      a = await applianceWith([{ name: 'e1', sim }]);
    });
    after(async () => {
      await a?.close();
      await sim?.close();
    });
    const cli = (...args: string[]) => cliIn(a.env, args);

    it('mk, ls, set, power, migrate, clone and rm a noderange, each VM a node', async () => {
      let r = await cli('vm', 'mk', 'vm[01-02]', '--memory', '1G', '--cpus', '1:2', '--disk', 'size=2G,bootable', '--explain');
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stdout, /^vm01:\n {2}h1 \(e1\)\s+CHOSEN/m, '--explain prints the verdicts');
      const made = r.stdout.split('\n').filter((l) => /^vm0[12]: created/.test(l));
      assert.equal(made.length, 2, r.stdout);
      for (const l of made) assert.match(l, /^vm0[12]: created on e1 host h1, MAC 00:1a:4a:[0-9a-f:]{8}, node added$/);
      for (const n of ['vm01', 'vm02']) {
        const simVm = sim.vmByName(n)!;
        assert.equal(simVm.memory, 1024 * 1024 * 1024);
        assert.deepEqual([simVm.cpu.sockets, simVm.cpu.cores], [1, 2]);
        assert.deepEqual(simVm.boot, ['network', 'hd'], 'PXE first, so rhevboot decides what it boots');
        assert.equal(simVm.disks.length, 1);
        assert.equal(simVm.disks[0]!.bootable, true);
        const node = await a.store.nodes.get(n);
        assert.deepEqual(node!.nics.map((x) => x.mac), simVm.nics.map((x) => x.mac), 'the VM’s MACs are the node’s');
        assert.equal(node!.manager, 'e1');
        assert.deepEqual([node!.attrs['vm.manager'], node!.attrs['vm.host'], node!.attrs['vm.id']], ['e1', 'h1', simVm.id]);
      }

      r = await cli('vm', 'ls', '--json');
      assert.equal(r.code, 0, r.stderr);
      const listed = JSON.parse(r.stdout) as { name: string; state: string; macs: string[]; node: boolean }[];
      assert.deepEqual(listed.map((v) => [v.name, v.state, v.node]), [['vm01', 'down', true], ['vm02', 'down', true]]);
      assert.equal(listed[0]!.macs.length, 1);

      r = await cli('vm', 'set', 'vm01', '--memory', '2G', '--add-nic', `network=${mgmt},interface=e1000`);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stdout, /^vm01: changed \(memory 2048 MiB, \+1 NIC\(s\)\)$/m);
      assert.equal(sim.vmByName('vm01')!.memory, 2048 * 1024 * 1024);
      assert.equal((await a.store.nodes.get('vm01'))!.nics.length, 2, 'the new NIC’s MAC is in the node table');

      r = await cli('vm', 'power', 'vm[01-02]', 'start');
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.deepEqual(lines(r.stdout), ['vm01: up on h1', 'vm02: up on h1']);

      // The engine's refusal reaches the admin in its own words, and the exit code says it failed.
      r = await runCli(['vm', 'power', 'vm01', 'start'], a.env);
      assert.equal(r.code, 1);
      assert.equal(r.stdout.trim(), 'vm01: error RB_ERR_RHEVM_FAULT: Operation Failed: Cannot run VM. VM is running. (HTTP 409)');
      assert.match(r.stderr, /1 of 1 VM\(s\) failed/);

      r = await cli('vm', 'migrate', 'vm01');
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.equal(r.stdout.trim(), 'vm01: migrated from h1 to h2');
      r = await cli('vm', 'migrate', 'vm02', '--to', 'h1');
      assert.equal(r.code, 1, 'migrating to the host it runs on is refused by the engine');
      assert.match(r.stdout, /vm02: error RB_ERR_RHEVM_FAULT: .*source and destination is the same/);
      assert.equal((await a.store.nodes.get('vm01'))!.attrs['vm.host'], 'h2');

      r = await cli('vm', 'power', 'vm[01-02]', 'stop');
      assert.deepEqual(lines(r.stdout), ['vm01: down', 'vm02: down']);
      r = await cli('vm', 'power', 'vm01', 'status');
      assert.equal(r.stdout.trim(), 'vm01: down');

      r = await cli('vm', 'clone', 'vm02', 'vm[03-04]');
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.equal(lines(r.stdout).length, 2);
      for (const n of ['vm03', 'vm04']) {
        const node = await a.store.nodes.get(n);
        assert.deepEqual(node!.nics.map((x) => x.mac), sim.vmByName(n)!.nics.map((x) => x.mac));
        assert.notDeepEqual(node!.nics.map((x) => x.mac), (await a.store.nodes.get('vm02'))!.nics.map((x) => x.mac), 'clones get their own MACs');
      }
      // v3 has no clone action: the copies come from a template made of vm02 (kept: the engine
      // refuses to remove a template VMs are based on).
      if (version === 3) assert.match(sim.state.templates.get(sim.vmByName('vm03')!.templateId)!.name, /^vm02-clone-/);

      r = await cli('vm', 'rm', 'vm[01-04]', '--keep-disks');
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.deepEqual(lines(r.stdout), ['vm01', 'vm02', 'vm03', 'vm04'].map((n) => `${n}: removed from e1, disks kept, node removed`));
      assert.equal(sim.state.vms.size, 0);
      assert.equal((await a.store.nodes.list()).length, 0);
      const deletes = sim.requests.filter((q) => q.method === 'DELETE' && /\/vms\//.test(q.path));
      assert.equal(deletes.length, 4);
      if (version === 4) assert.ok(deletes.every((q) => /detach_only=true/.test(q.url)), 'v4 keeps disks with ?detach_only=true');
      else assert.ok(deletes.every((q) => /<detach_only>true<\/detach_only>/.test(q.body ?? '')), 'v3 keeps disks with the action body');
    });

    it('bad input is refused before anything is made', async () => {
      const before = sim.requests.length;
      for (const [args, re] of [
        [['vm', 'mk', 'VM_1'], /VM name 'VM_1' must be an RFC 1123 label/],
        [['vm', 'mk', 'ok1', '--memory', 'lots'], /--memory: 'lots' is not a size/],
        [['vm', 'mk', 'ok[1-2]', '--nic', 'mac=52:54:00:00:00:01'], /a MAC belongs to one VM/],
        [['vm', 'mk', 'ok1', '--disk', 'size=2G,colour=red'], /--disk: unknown key 'colour'/],
        [['vm', 'mk', 'ok1', '--manager', 'nope'], /no manager named nope/],
        [['vm', 'power', 'ghost', 'start'], /ghost: error RB_ERR_NOT_FOUND: no VM named ghost on any manager/],
      ] as [string[], RegExp][]) {
        const r = await cli(...args);
        assert.equal(r.code, 1, args.join(' '));
        assert.match(r.stderr + r.stdout, re);
      }
      assert.deepEqual((await a.store.nodes.list()).map((n) => n.name), [], 'no node was recorded');
      assert.equal((await a.store.nodes.list()).length, 0);
      assert.deepEqual(sim.requests.slice(before).filter((q) => q.method !== 'GET' && q.path.includes('/api/')).map((q) => `${q.method} ${q.path}`), [], 'nothing but look-ups reached the engine');
    });

    it('survives a 503 during create, and a failing NIC rolls the VM back with the engine’s words', async () => {
      sim.faults.failNext(1, 503, { method: 'POST', path: /\/vms$/ });
      let [res] = await a.services.vms.create({ names: 'f1', memoryMiB: 512, manager: 'e1' }).then((o) => o.results);
      assert.equal(res!.ok, true, res!.message);
      assert.equal([...sim.state.vms.values()].filter((v) => v.name === 'f1').length, 1, 'created once, not twice');

      sim.faults.add({ kind: 'status', status: 500, times: 100, method: 'POST', path: /\/vms\/[^/]+\/nics$/ });
      [res] = (await a.services.vms.create({ names: 'f2', memoryMiB: 512, manager: 'e1' })).results;
      assert.equal(res!.ok, false);
      assert.equal(res!.error!.status, 502);
      assert.match(res!.message, /HTTP 500/);
      assert.equal(sim.vmByName('f2'), undefined, 'the half-made VM was removed');
      assert.equal(await a.store.nodes.get('f2'), undefined);
      sim.faults.clear();
      assert.deepEqual((await a.services.vms.remove('f1')).map((x) => x.ok), [true]);
    });
  });
}

describe('hybrid placement across two engines (rhevh and kvm hosts), VM as node, and the API', () => {
  let ea: EngineSim;
  let eb: EngineSim;
  let a: Appliance;
  let http: FastifyInstance;
  let token: string;
  before(async () => {
    [ea, eb] = await Promise.all([
      startEngine(4, [{ name: 'r1', type: 'ovirt_node', memoryMiB: 16384 }, { name: 'r2', type: 'ovirt_node', memoryMiB: 8192 }], [KVM_IMAGE]),
      startEngine(3, [{ name: 'k1', type: 'rhel', memoryMiB: 6144 }, { name: 'k2', type: 'rhel', memoryMiB: 3072 }], [KVM_IMAGE]),
    ]);
    a = await applianceWith([{ name: 'ea', sim: ea }, { name: 'eb', sim: eb }]);
    http = await buildHttpApp({ store: a.store, services: a.services, log: pino({ level: 'silent' }), bodyLimit: 1 << 20 });
    token = (await a.services.tokens.create('vm-test')).token;
  });
  after(async () => {
    await http?.close();
    await a?.close();
    await Promise.all([ea?.close(), eb?.close()]);
  });
  const api = async (method: string, url: string, body?: unknown) => {
    const res = await http.inject({ method: method as 'GET', url: `/api/v1${url}`, headers: { authorization: `Bearer ${token}` }, ...(body !== undefined && { payload: body as object }) });
    return { status: res.statusCode, body: res.json() as Record<string, unknown> & { results: { name: string; ok: boolean; message: string; error?: { status: number } }[] } };
  };

  it('an image with hypervisor_type=kvm lands only on kvm hosts; --explain says why for each host', async () => {
    const r = await runCli(['vm', 'mk', 'k01', '--template', 'rhel7', '--memory', '2G', '--explain'], a.env);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const out = lines(r.stdout);
    assert.equal(out[0], 'k01:');
    assert.match(out[1]!, /^ {2}k1 \(eb\)\s+CHOSEN\s+weight 4096 MiB free after$/);
    assert.match(out[2]!, /^ {2}k2 \(eb\)\s+#2\s+weight 1024 MiB free after$/);
    assert.ok(out.some((l) => /^ {2}r1 \(ea\)\s+rejected {2}hypervisor_type: image wants kvm, host is rhevh$/.test(l)), r.stdout);
    assert.ok(out.some((l) => /^ {2}r2 \(ea\)\s+rejected {2}hypervisor_type: image wants kvm, host is rhevh$/.test(l)), r.stdout);
    assert.match(out.at(-1)!, /^k01: created on eb host k1, MAC [0-9a-f:]{17}, node added$/);
    assert.ok(eb.vmByName('k01') && !ea.vmByName('k01'));
    assert.deepEqual(eb.vmByName('k01')!.placement?.hostIds, [eb.hostByName('k1')!.id], 'k1 is the VM’s preferred host on the engine');
  });

  it('without an image constraint the most free memory wins, across engines; no fit is a clear error per host', async () => {
    const plan = await a.services.vms.explain({ names: 'p[1-3]', memoryMiB: 4096 });
    assert.deepEqual(plan.placements.map((p) => `${p.host.manager}/${p.host.name}`), ['ea/r1', 'ea/r1', 'ea/r1'], '16 GiB outlasts the rest for three 4 GiB VMs');
    const pack = await a.services.vms.explain({ names: 'p1', memoryMiB: 2048, weigher: 'pack' });
    assert.equal(pack.placements[0]!.host.name, 'k2', 'pack fills the fullest host that still fits');

    const r = await cliIn(a.env, ['vm', 'mk', 'big', '--template', 'rhel7', '--memory', '64G']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /RB_ERR_CONFLICT: no host can take big: /);
    for (const re of [/k1 \(eb\): memory — 6144 MiB free, needs 65536 MiB/, /k2 \(eb\): memory — 3072 MiB free, needs 65536 MiB/, /r1 \(ea\): hypervisor_type — image wants kvm, host is rhevh/]) assert.match(r.stderr, re);
    assert.equal(eb.vmByName('big'), undefined);
  });

  it('a VM is a node: nodeset install works on it and its MAC boots the installer; power on lands on the placed host', async () => {
    const node = (await a.store.nodes.get('k01'))!;
    assert.equal(node.nics[0]!.mac, eb.vmByName('k01')!.nics[0]!.mac);
    await a.store.distros.put(distroRecord({ name: 'rhel7', family: 'rhel', version: '7' }));
    let r = await cliIn(a.env, ['node', 'set', 'k01', '--distro', 'rhel7']);
    assert.equal(r.code, 0, r.stderr);
    r = await runCli(['nodeset', 'k01', 'install'], a.env);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const booter = new Booter({ store: a.store, descriptors: loadDescriptors(), loaders: { biosLoader: 'undionly.kpxe', uefiLoader: 'ipxe.efi', httpBase: 'http://10.0.0.1' } });
    const plan = await booter.plan({ mac: node.nics[0]!.mac, arch: 0 });
    assert.deepEqual([plan.node?.name, plan.action], ['k01', 'install']);
    const [res] = await a.services.vms.power('k01', 'start');
    assert.equal(res!.message, 'up on k1');
    assert.deepEqual(eb.vmByName('k01')!.boot, ['network', 'hd']);
  });

  it('the API: create, explain, power (409 stays 409 with the engine’s words), migrate, change, clone, list, remove', async () => {
    let r = await api('POST', '/vms', { names: 'a1', memoryMiB: 'lots' });
    assert.equal(r.status, 400);
    assert.match(JSON.stringify(r.body), /memoryMiB/);
    r = await api('POST', '/vms', { names: 'a1', memoryMiB: 1024, nics: [{ network: 'ovirtmgmt', colour: 'red' }] });
    assert.equal(r.status, 400);
    assert.match(JSON.stringify(r.body), /colour|additional/);

    r = await api('POST', '/placement/explain', { names: 'a1', memoryMiB: 1024, template: 'rhel7' });
    assert.equal(r.status, 200);
    const verdicts = (r.body.placements as { verdicts: { host: string; accepted: boolean; filter?: string }[] }[])[0]!.verdicts;
    assert.deepEqual(verdicts.filter((v) => !v.accepted).map((v) => [v.host, v.filter]).sort(), [['r1', 'hypervisor_type'], ['r2', 'hypervisor_type']]);

    r = await api('POST', '/vms', { names: 'a[1-2]', memoryMiB: 1024, manager: 'ea' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.deepEqual(r.body.results.map((x) => x.ok), [true, true]);
    r = await api('POST', '/vms/a[1-2]/power', { action: 'start' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.results.map((x) => x.message), ['up on r1', 'up on r1'], JSON.stringify(r.body) + ea.vmByName('a1')?.status);
    r = await api('POST', '/vms/a1/power', { action: 'start' });
    assert.equal(r.status, 409, JSON.stringify(r.body));
    assert.match((r.body.error as { message: string }).message, /Cannot run VM\. VM is running\./);
    r = await api('POST', '/vms/a1,k01/power', { action: 'reboot' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    r = await api('POST', '/vms/a1,ghost/power', { action: 'status' });
    assert.equal(r.status, 207, 'some failed');
    r = await api('POST', '/vms/a1/migrate', { host: 'r2' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(ea.hostByName('r2')!.id, ea.vmByName('a1')!.hostId);

    ea.faults.failNext(5, 503, { method: 'POST', path: /\/stop$/ });
    r = await api('POST', '/vms/a2/power', { action: 'stop' });
    assert.equal(r.status, 502, 'an engine outage is a bad gateway');
    ea.faults.clear();
    r = await api('POST', '/vms/a[1-2]/power', { action: 'stop' });
    assert.equal(r.status, 200);

    r = await api('PATCH', '/vms/a1', { memoryMiB: 1536 });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(ea.vmByName('a1')!.memory, 1536 * 1024 * 1024);
    r = await api('POST', '/vms/a1/clone', { names: 'a3' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    r = await api('GET', '/vms');
    assert.deepEqual((r.body.vms as { name: string; manager: string }[]).map((v) => `${v.manager}/${v.name}`), ['ea/a1', 'ea/a2', 'ea/a3', 'eb/k01']);
    r = await api('DELETE', '/vms/a[1-3]');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    r = await api('DELETE', '/vms/k01');
    assert.equal(r.status, 409, `a running VM is not removed without force: ${JSON.stringify(r.body)}`);
    assert.match((r.body.error as { message: string }).message, /Cannot remove VM that its state is not down/);
    r = await api('DELETE', '/vms/k01?force=true');
    assert.equal(r.status, 200);
    assert.equal(await a.store.nodes.get('k01'), undefined);
  });
});
