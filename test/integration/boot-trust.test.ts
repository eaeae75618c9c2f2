/**
 * Trust on the boot path (issue 15): an install config carries the node's trigger token and
 * password hashes, so it goes only to the node's own address; the trigger is believed only from
 * the node, and an installer that retries it gets its success again for as long as the hand-off
 * it started runs or has run. Everything here goes over loopback: 127.0.0.1 is a stranger,
 * 127.0.0.2 and 127.0.0.3 are nodes.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { startAppliance, type Appliance } from '../../src/appliance.js';
import { loadConfig } from '../../src/config/load.js';
import { createCliLogger } from '../../src/log.js';
import { encodeError, encodeRequest, parsePacket } from '../../src/tftp/packet.js';
import { runCliInProcess } from '../helpers/cli-inproc.js';
import { distroRecord, loopbackEnv } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const exec = promisify(execFile);
const MAC1 = '52:54:00:00:01:01';
const MAC3 = '52:54:00:00:01:03';
const dashed = (mac: string): string => mac.replace(/:/g, '-');

/** The first packet the TFTP server sends back to `from` for a read of `file`: DATA's text, or the ERROR. */
async function tftpFirst(port: number, file: string, from: string): Promise<{ data?: string; error?: string }> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, from, () => r()));
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no TFTP answer for ${file} from ${from}`)), 10_000);
      sock.once('message', (msg, rinfo) => {
        clearTimeout(timer);
        const p = parsePacket(msg);
        if (!p.ok) return reject(new Error(p.reason));
        if (p.packet.op === 'DATA') {
          sock.send(encodeError(0, 'enough'), rinfo.port, rinfo.address);
          resolve({ data: Buffer.from(p.packet.data).toString() });
        } else if (p.packet.op === 'ERROR') resolve({ error: p.packet.message });
        else reject(new Error(`unexpected ${p.packet.op}`));
      });
      sock.send(encodeRequest('RRQ', file, 'octet'), port, '127.0.0.1');
    });
  } finally {
    sock.close();
  }
}

describe('boot-path trust', () => {
  let app: Appliance;
  let base: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    const dir = await tempDir('rhevboot-trust-');
    env = loopbackEnv(dir, { RHEVBOOT_BOOT_HTTP_BASE: 'http://127.0.0.1:8080', RHEVBOOT_HTTP_METRICS_OPEN: 'true' });
    app = await startAppliance(loadConfig({ env }), { log: createCliLogger('silent') });
    base = `http://127.0.0.1:${app.httpAddress.port}`;
    await app.store.distros.put(distroRecord());
    await app.services.nodes.add([
      { name: 'n1', macs: [MAC1], ip: '127.0.0.2', distro: 'rhevh6.5', manager: 'rhevm.example.com' },
      // No reservation: its address is whatever its NIC holds a bound lease for.
      { name: 'n3', macs: [MAC3], distro: 'rhevh6.5', manager: 'rhevm.example.com' },
    ]);
    await app.services.nodes.nodeset('n1,n3', 'install');
  });
  after(() => app?.stop());

  const status = async (name: string) => (await app.store.nodes.get(name))!.status;
  const events = async (name: string) => (await app.store.events.list({ subjectType: 'node', subject: name })).map((e) => e.kind);
  const getScript = async (mac: string, from: string) => {
    const { stdout } = await exec('curl', ['-s', '--interface', from, '-w', '\n%{http_code}', `${base}/boot/ipxe/${dashed(mac)}`]);
    const i = stdout.lastIndexOf('\n');
    return { status: Number(stdout.slice(i + 1)), body: stdout.slice(0, i) };
  };
  const refusals = async (protocol: string) => {
    const text = await (await fetch(`${base}/metrics`)).text();
    return Number(new RegExp(`^rhevboot_boot_config_refused_total\\{protocol="${protocol}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  };

  it('refuses an install script to a stranger as if the MAC were unknown, changing nothing, and counts it', async () => {
    const before = await events('n1');
    const stranger = await getScript(MAC1, '127.0.0.1');
    assert.equal(stranger.status, 404);
    assert.doesNotMatch(stranger.body, /token=|adminpw|rhevh/);
    assert.equal(stranger.body, (await getScript('52:54:00:99:99:99', '127.0.0.1')).body, 'the same answer an unknown MAC gets');
    assert.equal(await status('n1'), 'install', 'a stranger does not start the install');
    await app.services.events.flush();
    assert.deepEqual(await events('n1'), before, 'nor writes to the timeline');
    assert.equal(await refusals('http'), 1, 'counted');

    const own = await getScript(MAC1, '127.0.0.2');
    assert.equal(own.status, 200);
    assert.match(own.body, /local_boot_trigger=\S+\?token=[A-Za-z0-9_-]{24}/);
    assert.equal(await status('n1'), 'installing', 'the node itself starts it');
    assert.equal((await getScript(MAC1, '127.0.0.1')).status, 404, 'and a stranger is refused from the kept plan too');
    assert.equal(await refusals('http'), 2);
  });

  it('refuses install configs over TFTP to a stranger by MAC and by address name; serves the node', async () => {
    const port = app.boot.tftp!.port;
    const before = await refusals('tftp');
    for (const file of [`pxelinux.cfg/01-${dashed(MAC1)}`, 'pxelinux.cfg/7F000002', `grub.cfg-01-${dashed(MAC1)}`]) {
      assert.deepEqual(await tftpFirst(port, file, '127.0.0.1'), { error: 'file not found' }, file);
      assert.match((await tftpFirst(port, file, '127.0.0.2')).data!, /^# rhevboot: n1 installs rhevh6\.5\/x86_64\n/, file);
    }
    assert.equal(await refusals('tftp'), before + 3);
  });

  it('believes a bound lease as the node\'s address, not an offered one', async () => {
    const lease = { ip: '127.0.0.3', mac: MAC3, clientId: null, hostname: null, subnet: '127.0.0.0/8', expiresAt: Date.now() + 3_600_000, updatedAt: Date.now() };
    await app.store.leases.upsertMany([{ ...lease, state: 'offered' }]);
    assert.equal((await getScript(MAC3, '127.0.0.3')).status, 404, 'an offer is not an address yet');
    assert.equal(await status('n3'), 'install');
    await app.store.leases.upsertMany([{ ...lease, state: 'bound' }]);
    assert.equal((await getScript(MAC3, '127.0.0.3')).status, 200);
    assert.equal(await status('n3'), 'installing');
  });

  it('serves local-boot configs to anyone: they carry no secret', async () => {
    await app.services.nodes.nodeset('n3', 'local');
    const local = await getScript(MAC3, '127.0.0.1');
    assert.equal(local.status, 200);
    assert.match(local.body, /^exit$/m);
    assert.match((await tftpFirst(app.boot.tftp!.port, `pxelinux.cfg/01-${dashed(MAC3)}`, '127.0.0.1')).data!, /LOCALBOOT 0/);
    await app.services.nodes.nodeset('n3', 'install');
  });

  it('answers a repeated trigger with success while the hand-off it started is queued, running or done', async () => {
    const token = (await app.store.nodes.get('n1'))!.triggerToken!;
    const trigger = async (t: string, from = '127.0.0.2') => {
      const { stdout } = await exec('curl', ['-s', '--interface', from, '-w', ' %{http_code}', `${base}/xcatrhevh/rhevh_finish_install/n1?token=${t}`]);
      return stdout;
    };
    assert.equal(await trigger(token), 'ok\n 200');
    assert.equal(await status('n1'), 'booted');
    const booted = (await events('n1')).filter((k) => k === 'node.booted').length;
    // The hand-off moves the node on; the installer, not knowing, retries.
    for (const to of ['registering', 'pending_approval', 'up'] as const) {
      await app.services.lifecycle.move('n1', { to, cause: 'handoff' }, { kind: 'node.status', message: `test: ${to}`, data: {} });
      assert.equal(await trigger(token), 'ok (already booted)\n 200', to);
      assert.equal(await status('n1'), to, 'a repeat changes nothing');
    }
    assert.equal((await events('n1')).filter((k) => k === 'node.booted').length, booted, 'no second flip');
    assert.equal(await trigger(token, '127.0.0.1'), 'refused\n 403', 'still only from the node');
    assert.equal(await trigger('not-the-token'), 'refused\n 403');
    await app.services.nodes.nodeset('n1', 'install');
    assert.equal(await trigger(token), 'refused\n 403', "a new install's trigger needs the new install's token");
  });

  it('never prints the trigger token in node show or ls, JSON or not', async () => {
    const token = (await app.store.nodes.get('n1'))!.triggerToken!;
    for (const args of [['node', 'show', 'n1', '--json'], ['node', 'show', 'n1'], ['node', 'ls', '--json'], ['node', 'ls']]) {
      const r = await runCliInProcess(args, { ...env, RHEVBOOT_LOG_LEVEL: 'silent' });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(!r.stdout.includes(token), `${args.join(' ')} printed the token`);
      assert.doesNotMatch(r.stdout, /triggerToken/);
    }
  });
});
