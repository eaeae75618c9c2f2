/**
 * ProxyDHCP next to another DHCP server: dnsmasq hands out addresses on the segment, rhevboot
 * (proxy mode) adds boot information for PXE clients on 67 and answers the boot-server port 4011.
 * dnsmasq runs in its own namespace on the same bridge, like a second host: both servers bind
 * 0.0.0.0:67, and rhevboot refuses to share its port (reuseAddr false), by design.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OPT, strBytes, typed } from '../../src/dhcp/options.js';
import { MSG } from '../../src/dhcp/packet.js';
import { fixture } from '../helpers/dhcp-fixtures.js';
import { craft, probe, ServerProc } from '../helpers/dhcp-lab.js';
import { Lab, requireTools } from '../helpers/dhcp-netns.js';
import { waitFor } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const SRV = '10.231.1.1';
const OTHER = '10.231.1.2';

describe('ProxyDHCP alongside dnsmasq', { timeout: 120_000 }, () => {
  const lab = new Lab('p');
  let cliNs = '';
  let server: ServerProc;
  let work = '';

  before(async () => {
    requireTools([
      { bin: 'ip', pkg: 'iproute2' },
      { bin: 'dnsmasq', pkg: 'dnsmasq-base' },
      { bin: 'busybox', pkg: 'busybox-static' },
    ]);
    work = await tempDir('rbd-proxy-');
    lab.segment();
    const srvNs = lab.addNs('s');
    const othNs = lab.addNs('o');
    cliNs = lab.addNs('c');
    lab.attach(srvNs, 'rbd0', { addrs: [`${SRV}/24`] });
    lab.attach(othNs, 'rbd0', { addrs: [`${OTHER}/24`] });
    lab.attach(cliNs, 'rbd0', { mac: '52:54:00:12:34:58', addrs: ['10.231.1.98/24'] });
    lab.in(cliNs, ['ip', 'route', 'add', '255.255.255.255/32', 'dev', 'rbd0']);
    lab.spawn(othNs, [
      'dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--port=0',
      '--interface=rbd0', '--bind-interfaces', '--dhcp-range=10.231.1.150,10.231.1.199,255.255.255.0,10m', '--no-ping',
      `--dhcp-leasefile=${path.join(work, 'dnsmasq.leases')}`, `--pid-file=${path.join(work, 'dnsmasq.pid')}`,
      '--user=root', '--group=root', '--log-dhcp', `--log-facility=${path.join(work, 'dnsmasq.log')}`,
    ]);
    server = await ServerProc.start(lab, srvNs, {
      mode: 'proxy',
      serverAddress: SRV,
      port: 67,
      proxyPort: 4011,
      storeDir: path.join(work, 'store'),
      nodes: [{ mac: '52:54:00:12:34:58', name: 'node-ovmf' }],
      subnets: [{ subnet: '10.231.1.0/24', pools: [], routers: [], dnsServers: [], domainName: '', leaseSeconds: 600, unknownClients: 'discover' }],
    });
    await waitFor(() => existsSync(path.join(work, 'dnsmasq.log')), { what: 'dnsmasq to start (its log file)', timeoutMs: 10_000, intervalMs: 50 });
  });

  after(async () => {
    await lab.destroy();
  });

  it('a PXE DISCOVER gets the address from dnsmasq and the boot file from rhevboot (no yiaddr)', async () => {
    const replies = await probe(lab, cliNs, { bind: { address: '0.0.0.0', port: 68 }, to: { address: '255.255.255.255', port: 67 }, packets: [fixture('ovmf-pxe-discover')], want: 2, waitMs: 4000 });
    const ours = replies.find((r) => typed(r.packet.options).serverId === SRV);
    const theirs = replies.find((r) => typed(r.packet.options).serverId === OTHER);
    assert.ok(theirs, `dnsmasq answered (${replies.length} replies)`);
    assert.match(theirs.packet.yiaddr, /^10\.231\.1\.1[5-9]\d$/);
    assert.ok(ours, 'rhevboot answered');
    assert.equal(typed(ours.packet.options).messageType, MSG.OFFER);
    assert.equal(ours.packet.yiaddr, '0.0.0.0');
    assert.equal(ours.packet.siaddr, SRV);
    assert.equal(ours.packet.file, 'ipxe.efi');
    assert.equal(typed(ours.packet.options).vendorClass, 'PXEClient');
    assert.deepEqual(ours.packet.options.get(OPT.VENDOR_SPECIFIC), Buffer.from('060108ff', 'hex'));
    assert.equal(ours.packet.options.has(OPT.LEASE_TIME), false);
    assert.equal(ours.packet.options.has(OPT.SUBNET_MASK), false);
  });

  it('the boot-server REQUEST on 4011 is ACKed by unicast to its source', async () => {
    const req = craft('52:54:00:12:34:58', MSG.REQUEST, [[OPT.CLIENT_ARCH, Buffer.from([0, 0])], [OPT.VENDOR_CLASS, strBytes('PXEClient:Arch:00000:UNDI:002001')]], { ciaddr: '10.231.1.98' });
    const replies = await probe(lab, cliNs, { bind: { address: '10.231.1.98', port: 68 }, to: { address: SRV, port: 4011 }, packets: [req] });
    assert.equal(replies.length, 1);
    assert.equal(replies[0]!.from, `${SRV}:4011`);
    const p = replies[0]!.packet;
    assert.equal(typed(p.options).messageType, MSG.ACK);
    assert.equal(p.file, 'undionly.kpxe');
    assert.equal(p.ciaddr, '10.231.1.98');
    assert.equal(p.yiaddr, '0.0.0.0');
  });

  it('an OS client (udhcpc) is served by dnsmasq alone; rhevboot stays silent', async () => {
    lab.in(cliNs, ['ip', 'addr', 'flush', 'dev', 'rbd0']);
    const r = await lab.run(cliNs, ['busybox', 'udhcpc', '-i', 'rbd0', '-n', '-q', '-f', '-t', '5', '-T', '1', '-s', '/bin/true'], 30_000);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr + r.stdout, /lease of 10\.231\.1\.1[5-9]\d obtained from 10\.231\.1\.2/);
    const ev = await server.packet((e) => e.type === 'DISCOVER' && e.outcome === 'ignored' && e.mac === '52:54:00:12:34:58');
    assert.equal(ev.outcome, 'ignored');
    assert.match(readFileSync(path.join(work, 'dnsmasq.log'), 'utf8'), /DHCPACK/);
  });
});
