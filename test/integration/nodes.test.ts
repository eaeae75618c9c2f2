import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { createCliLogger } from '../../src/log.js';
import { Booter } from '../../src/provisioning/booter.js';
import { loadDescriptors } from '../../src/media/descriptors.js';
import { createServices } from '../../src/services.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { runCli } from '../helpers/cli.js';
import { distroRecord } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

async function env(): Promise<NodeJS.ProcessEnv> {
  const dir = await tempDir('rhevboot-nodes-');
  return { RHEVBOOT_STATE_DIR: dir, RHEVBOOT_DHCP_SUBNETS: JSON.stringify([{ subnet: '10.1.0.0/16' }]) };
}

const mac = (i: number): string => `52:54:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
const ip = (i: number): string => `10.1.${(i >> 8) & 255}.${i & 255}`;

describe('nodes (CLI)', () => {
  it('add, ls, show, set, rm; duplicates are refused naming the node that holds them', async () => {
    const e = await env();
    let r = await runCli(['node', 'add', 'n01', '--mac', '52-54-00-AA-00-01,5254.00aa.0002', '--ip', '10.1.0.11', '--groups', 'rack1,compute', '--distro', 'rhevh6.5', '--attr', 'console=ttyS1'], e);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /added 1 node: n01/);
    r = await runCli(['node', 'add', 'n02', '--mac', '52:54:00:aa:00:02'], e);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /row 1 \(n02\): macs: 52:54:00:aa:00:02 already belongs to node n01/);
    r = await runCli(['node', 'add', 'n02', '--ip', '10.1.0.11'], e);
    assert.match(r.stderr, /ip: 10\.1\.0\.11 already belongs to node n01/);
    r = await runCli(['node', 'add', 'n02', '--ip', '192.168.1.1'], e);
    assert.match(r.stderr, /not inside a configured subnet \(10\.1\.0\.0\/16\)/);
    r = await runCli(['node', 'add', 'n[02-05]', '--groups', 'rack1'], e);
    assert.equal(r.code, 0, r.stderr);

    r = await runCli(['node', 'show', 'n01', '--json'], e);
    const n01 = JSON.parse(r.stdout) as { nics: unknown; ip: string; groups: string[]; attrs: Record<string, string>; bootAction: string; status: string };
    assert.deepEqual(n01.nics, [
      { mac: '52:54:00:aa:00:01', install: true },
      { mac: '52:54:00:aa:00:02', install: false },
    ]);
    assert.deepEqual([n01.ip, n01.groups, n01.attrs, n01.bootAction, n01.status], ['10.1.0.11', ['rack1', 'compute'], { console: 'ttyS1' }, 'local', 'defined']);

    r = await runCli(['node', 'ls', 'rack1,-n03', '--json'], e);
    assert.deepEqual((JSON.parse(r.stdout) as { name: string }[]).map((n) => n.name), ['n01', 'n02', 'n04', 'n05']);
    r = await runCli(['node', 'set', 'n[02-04]', '--distro', 'rhevh6.5', '--manager', 'rhevm1', '--cluster', 'Default'], e);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /changed 3 nodes/);
    r = await runCli(['node', 'set', 'n[02-04]', '--ip', '10.1.0.50'], e);
    assert.match(r.stderr, /one node at a time/);
    r = await runCli(['node', 'ls'], e);
    assert.match(r.stdout, /n04\s+-\s+0\s+-\s+rack1\s+rhevh6\.5\/x86_64\s+local\s+defined/);
    r = await runCli(['node', 'rm', 'n05,ghost'], e);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /RB_ERR_NOT_FOUND: no node or group named 'ghost'/);
    r = await runCli(['node', 'rm', 'rack1,-n01'], e);
    assert.match(r.stdout, /removed 4 nodes/);
    r = await runCli(['node', 'ls', '--json'], e);
    assert.deepEqual((JSON.parse(r.stdout) as { name: string }[]).map((n) => n.name), ['n01']);
  });

  it('imports 10,000 nodes in one transaction; one bad row refuses all unless --skip-bad', async () => {
    const e = await env();
    const dir = e.RHEVBOOT_STATE_DIR!;
    const lines = ['name,macs,ip,groups'];
    for (let i = 1; i <= 10_000; i++) lines.push(`n${String(i).padStart(5, '0')},${mac(i)},${ip(i)},rack${Math.ceil(i / 40)}`);
    const good = path.join(dir, 'nodes.csv');
    await writeFile(good, lines.join('\n') + '\n');
    const bad = path.join(dir, 'bad.csv');
    const badLines = [...lines];
    badLines[5000] = `n05000,${mac(4999)},${ip(5000)},rack1`; // MAC of the row before
    badLines[7001] = 'n07001,not-a-mac,,';
    await writeFile(bad, badLines.join('\n') + '\n');

    let r = await runCli(['node', 'import', bad], e);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /row 5001 \(n05000\): macs: 52:54:00:00:13:87 already belongs to node n04999/);
    assert.match(r.stderr, /row 7002 \(n07001\): macs: 'not-a-mac' is not a MAC address/);
    assert.match(r.stderr, /2 of 10000 rows are invalid; nothing was added/);
    r = await runCli(['node', 'ls', '--json'], e);
    assert.deepEqual(JSON.parse(r.stdout), []);

    const t0 = Date.now();
    r = await runCli(['node', 'import', good, '--json'], e);
    const took = Date.now() - t0;
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { added: 10_000, errors: [] });
    process.stdout.write(`# imported 10,000 nodes in ${took} ms (CLI process included)\n`);

    r = await runCli(['node', 'ls', 'rack250', '--json'], e);
    assert.equal((JSON.parse(r.stdout) as unknown[]).length, 40);

    const more = path.join(dir, 'more.json');
    await writeFile(more, JSON.stringify([{ name: 'x1', macs: [mac(20_001)] }, { name: 'x2', macs: [mac(1)] }, { name: 'x3', ip: '10.1.200.1' }]));
    r = await runCli(['node', 'import', more, '--skip-bad'], e);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /row 2 \(x2\): macs: 52:54:00:00:00:01 already belongs to node n00001/);
    assert.match(r.stdout, /imported 2 nodes, skipped 1 bad rows/);
  });
});

describe('nodeset and the boot question', () => {
  it('nodeset needs an imported distro for install; next after install is local; the booter follows the store', async () => {
    const e = await env();
    const loaded = loadConfig({ env: e });
    const store = openSqliteStore({ dir: loaded.config.stateDir });
    try {
      const services = createServices(loaded.config, store, createCliLogger('silent'));
      await services.nodes.add([
        { name: 'n1', macs: ['52:54:00:00:00:01'], ip: '10.1.0.1', distro: 'rhevh6.5' },
        { name: 'n2', macs: ['52:54:00:00:00:02'] },
      ]);
      await assert.rejects(services.nodes.nodeset('n1,n2', 'install'), /n1: distro rhevh6\.5\/x86_64 is not imported; n2 has no distro/);
      assert.equal((await services.nodes.get('n1')).bootAction, 'local', 'a refused nodeset changes nothing');

      await store.distros.put(distroRecord());
      assert.deepEqual(await services.nodes.nodeset('n1', 'install'), [{ name: 'n1', from: 'local', to: 'install' }]);
      assert.equal((await services.nodes.get('n1')).status, 'install');

      const booter = new Booter({ store, descriptors: loadDescriptors(), loaders: { biosLoader: 'undionly.kpxe', uefiLoader: 'ipxe.efi', httpBase: 'http://10.1.0.254' } });
      let plan = await booter.plan({ mac: '52:54:00:00:00:01', arch: 0, vendorClass: 'PXEClient:Arch:00000:UNDI:002001' });
      assert.deepEqual([plan.node?.name, plan.node?.ip, plan.action, plan.firmware, plan.bootFile, plan.vendorClass], ['n1', '10.1.0.1', 'install', 'bios', 'undionly.kpxe', 'PXEClient']);
      plan = await booter.plan({ mac: '52:54:00:00:00:01', arch: 7 });
      assert.equal(plan.bootFile, 'ipxe.efi');
      plan = await booter.plan({ mac: '52:54:00:00:00:01', ipxe: true, userClass: 'iPXE' });
      assert.equal(plan.bootFile, 'http://10.1.0.254/boot/ipxe/52-54-00-00-00-01');
      plan = await booter.plan({ mac: '52:54:00:00:00:01', arch: 16, vendorClass: 'HTTPClient:Arch:00016:UNDI:003001' });
      assert.deepEqual([plan.firmware, plan.bootFile, plan.vendorClass], ['uefi-http', 'http://10.1.0.254/boot/ipxe.efi', 'HTTPClient']);
      const pxelinux = new Booter({ store, descriptors: loadDescriptors(), loaders: { biosLoader: 'pxelinux.0', uefiLoader: 'syslinux.efi', httpBase: 'http://10.1.0.254' } });
      plan = await pxelinux.plan({ mac: '52:54:00:00:00:01', arch: 0, ipxe: true, userClass: 'iPXE' });
      assert.equal(plan.bootFile, 'pxelinux.0', 'an iPXE option ROM is handed the chosen syslinux loader');
      plan = await pxelinux.plan({ mac: '52:54:00:00:00:01', arch: 7, ipxe: true, userClass: 'iPXE' });
      assert.equal(plan.bootFile, 'syslinux.efi');
      plan = await booter.plan({ mac: '52:54:00:00:00:99', arch: 0 });
      assert.equal(plan.node, undefined);
      assert.equal(plan.action, 'discover');
      assert.match(plan.why.join('\n'), /belongs to no node/);
      plan = await booter.plan({ mac: '52:54:00:00:00:01', arch: 11 });
      assert.equal(plan.bootFile, undefined);
      assert.match(plan.why.join('\n'), /no loader for ARM64 UEFI/);

      assert.deepEqual(await services.nodes.nodeset('n1,n2', 'next'), [
        { name: 'n1', from: 'install', to: 'local' },
        { name: 'n2', from: 'local', to: 'local' },
      ]);
      plan = await booter.plan({ mac: '52:54:00:00:00:01', arch: 0 });
      assert.equal(plan.action, 'local', 'the booter sees the change at once (no cache)');
      const events = await services.events.list({ subjectType: 'node', subject: 'n1' });
      assert.deepEqual(events.map((x) => x.kind), ['node.added', 'node.nodeset', 'node.nodeset']);
    } finally {
      await store.close();
    }
  });
});
