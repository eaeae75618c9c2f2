/**
 * The whole appliance on a provisioning segment: `rhevboot serve` with DHCP (full), TFTP and HTTP
 * in one namespace, a client namespace on the same bridge playing the node with real clients
 * (busybox udhcpc, tftp-hpa, curl). Checks the wiring between the servers and the services: the
 * reservation and boot file from the boot question, the rendered config over TFTP, the distro tree
 * under distros/, the node's timeline, and the trigger flipping the node to local boot.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BOOTSTRAP_TOKEN_FILE } from '../../src/appliance.js';
import { REPO_ROOT, runCli } from '../helpers/cli.js';
import { Lab, requireTools } from '../helpers/dhcp-netns.js';
import { makeRhevhIso } from '../helpers/rhevh-iso.js';
import { waitFor } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const SRV = '10.234.0.1';
const NODE_IP = '10.234.0.50';
const MAC = '52:54:00:34:00:50';

describe('the appliance on a provisioning segment (DHCP + TFTP + HTTP)', () => {
  const lab = new Lab('ap');
  let srvNs: string;
  let cliNs: string;
  let work: string;
  let env: NodeJS.ProcessEnv;
  let serverOut = '';

  before(async () => {
    requireTools([
      { bin: 'busybox', pkg: 'busybox-static' },
      { bin: 'tftp', pkg: 'tftp-hpa' },
      { bin: 'curl', pkg: 'curl' },
    ]);
    work = await tempDir('rhevboot-appliance-');
    env = {
      RHEVBOOT_STATE_DIR: path.join(work, 'state'),
      RHEVBOOT_DHCP_MODE: 'full',
      RHEVBOOT_DHCP_INTERFACE: 'eth0',
      RHEVBOOT_DHCP_SUBNETS: JSON.stringify([{ subnet: '10.234.0.0/24', pools: ['10.234.0.100-10.234.0.150'], unknownClients: 'ignore', leaseSeconds: 600 }]),
      RHEVBOOT_HTTP_PORT: '8080',
      RHEVBOOT_BOOT_BIOS_LOADER: 'pxelinux.0',
      RHEVBOOT_LOG_LEVEL: 'info',
    };
    const iso = path.join(work, 'rhevh.iso');
    await makeRhevhIso(work, iso);
    let r = await runCli(['copycds', iso, '-q'], env);
    assert.equal(r.code, 0, r.stderr);
    r = await runCli(['node', 'add', 'n50', '--mac', MAC, '--ip', NODE_IP, '--distro', 'rhevh6.5'], env);
    assert.equal(r.code, 0, r.stderr);
    r = await runCli(['nodeset', 'n50', 'install'], env);
    assert.equal(r.code, 0, r.stderr);

    lab.segment();
    srvNs = lab.addNs('s');
    cliNs = lab.addNs('c');
    lab.attach(srvNs, 'eth0', { addrs: [`${SRV}/24`] });
    lab.attach(cliNs, 'eth0', { mac: MAC });
    // The route the README asks for, so broadcasts leave on the provisioning interface.
    lab.in(srvNs, ['ip', 'route', 'add', '255.255.255.255/32', 'dev', 'eth0']);
    const server = lab.spawn(srvNs, [process.execPath, '--import', 'tsx', path.join(REPO_ROOT, 'src/cli/main.ts'), 'serve'], { ...process.env, ...env, RHEVBOOT_CONFIG: '' });
    server.stdout!.on('data', (d: Buffer) => (serverOut += d.toString()));
    server.stderr!.on('data', (d: Buffer) => (serverOut += d.toString()));
    await waitFor(() => serverOut.includes('"msg":"rhevboot ready"'), { what: () => `serve to start:\n${serverOut}`, timeoutMs: 30_000, intervalMs: 100 });
  });
  after(() => lab.destroy());

  it('a PXE client gets its reservation, host name and pxelinux.0; TFTP renders its install config', async () => {
    const hookOut = path.join(work, 'udhcpc.log');
    const hook = path.join(work, 'udhcpc.sh');
    writeFileSync(hook, `#!/bin/sh\necho "$1 ip=$ip siaddr=$siaddr boot_file=$boot_file hostname=$hostname serverid=$serverid" >> ${hookOut}\ncase "$1" in bound) ip addr replace $ip/$mask dev $interface ;; esac\n`);
    chmodSync(hook, 0o755);
    // A BIOS PXE ROM's vendor class and option 93 = 0, as udhcpc can be told to send them.
    const r = await lab.run(cliNs, ['busybox', 'udhcpc', '-i', 'eth0', '-n', '-q', '-t', '5', '-T', '1', '-V', 'PXEClient:Arch:00000:UNDI:002001', '-x', '0x5d:0000', '-s', hook], 30_000);
    assert.equal(r.code, 0, `${r.stderr}\n${serverOut.slice(-2000)}`);
    const log = existsSync(hookOut) ? readFileSync(hookOut, 'utf8') : '';
    assert.match(log, new RegExp(`bound ip=${NODE_IP.replace(/\./g, '\\.')} siaddr=${SRV.replace(/\./g, '\\.')} boot_file=pxelinux\\.0 hostname=n50 serverid=${SRV.replace(/\./g, '\\.')}`));

    const cfg = path.join(work, 'cfg');
    const t = await lab.run(cliNs, ['tftp', '-m', 'binary', SRV, '-c', 'get', 'pxelinux.cfg/01-52-54-00-34-00-50', cfg], 30_000);
    assert.equal(t.code, 0, t.stderr + t.stdout);
    const text = readFileSync(cfg, 'utf8');
    assert.match(text, /KERNEL distros\/rhevh6\.5\/x86_64\/isolinux\/vmlinuz0/);
    assert.match(text, new RegExp(`local_boot_trigger=http://${SRV.replace(/\./g, '\\.')}:8080/xcatrhevh/rhevh_finish_install/@HOSTNAME@\\?token=`));

    const kernel = path.join(work, 'vmlinuz0');
    const k = await lab.run(cliNs, ['tftp', '-m', 'binary', SRV, '-c', 'get', 'distros/rhevh6.5/x86_64/isolinux/vmlinuz0', kernel], 60_000);
    assert.equal(k.code, 0, k.stderr);
    const ours = readFileSync(kernel);
    const tree = readFileSync(path.join(env.RHEVBOOT_STATE_DIR!, 'install/rhevh6.5/x86_64/isolinux/vmlinuz0'));
    assert.ok(ours.equals(tree), 'the kernel over TFTP is the tree\'s');
    const unknown = await lab.run(cliNs, ['tftp', '-m', 'binary', SRV, '-c', 'get', 'pxelinux.cfg/01-52-54-00-99-99-99', path.join(work, 'x')], 30_000);
    assert.match(unknown.stdout + unknown.stderr, /not found/i);
  });

  it('the installer\'s trigger flips the node to local boot; the timeline tells the story', async () => {
    const show = async (): Promise<{ status: string; bootAction: string }> => {
      const r = await runCli(['node', 'show', 'n50', '--json'], env);
      assert.equal(r.code, 0, `node show failed: ${r.stderr}`);
      return JSON.parse(r.stdout) as { status: string; bootAction: string };
    };
    const node = await show();
    assert.equal(node.status, 'installing');
    const cfg = readFileSync(path.join(work, 'cfg'), 'utf8');
    const url = /local_boot_trigger=(\S+)/.exec(cfg)![1]!.replace('@HOSTNAME@', 'n50');
    const r = await lab.run(cliNs, ['curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', url], 30_000);
    assert.equal(r.stdout, '200', r.stderr);
    const after1 = await show();
    assert.deepEqual([after1.status, after1.bootAction], ['booted', 'local']);

    const cfg2 = path.join(work, 'cfg2');
    const t = await lab.run(cliNs, ['tftp', '-m', 'binary', SRV, '-c', 'get', 'pxelinux.cfg/01-52-54-00-34-00-50', cfg2], 30_000);
    assert.equal(t.code, 0);
    assert.match(readFileSync(cfg2, 'utf8'), /LOCALBOOT 0/);

    const token = (await readFile(path.join(env.RHEVBOOT_STATE_DIR!, BOOTSTRAP_TOKEN_FILE), 'utf8')).trim();
    const ev = await lab.run(cliNs, ['curl', '-sS', '-H', `authorization: Bearer ${token}`, `http://${SRV}:8080/api/v1/nodes/n50/events`], 30_000);
    const kinds = (JSON.parse(ev.stdout) as { kind: string }[]).map((e) => e.kind);
    const first = (k: string): number => kinds.indexOf(k);
    assert.ok(first('node.dhcp') > first('node.nodeset'), kinds.join(' '));
    assert.ok(first('node.installing') > first('node.dhcp'), kinds.join(' '));
    assert.ok(first('node.tftp') > first('node.dhcp'), kinds.join(' '));
    assert.ok(first('node.booted') > first('node.tftp'), kinds.join(' '));
  });
});
