/**
 * The DHCP server (full mode, in a child process in its own namespace) against real clients in
 * another namespace on the same bridge: busybox udhcpc, ISC dhclient, nmap, dhcping, perfdhcp,
 * plus a scripted client for options real clients cannot be made to send.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ipBytes, OPT, typed } from '../../src/dhcp/options.js';
import { MSG } from '../../src/dhcp/packet.js';
import { fixture } from '../helpers/dhcp-fixtures.js';
import { craft, probe, ServerProc } from '../helpers/dhcp-lab.js';
import { Lab, requireTools } from '../helpers/dhcp-netns.js';
import { waitFor } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const SRV = '10.231.1.1';
const LINUX_MAC = '52:54:00:ca:fe:01';
const nodes = [
  { mac: LINUX_MAC, name: 'node-linux', ip: '10.231.1.60' },
  { mac: '52:54:00:12:34:56', name: 'node-ipxe', ip: '10.231.1.50' },
  { mac: '52:54:00:12:34:58', name: 'node-ovmf', ip: '10.231.1.51' },
  { mac: '52:54:00:12:34:59', name: 'node-http', ip: '10.231.1.52' },
];

describe('dhcp server with real clients (namespaces)', { timeout: 240_000 }, () => {
  const lab = new Lab('c');
  let srvNs = '';
  let cliNs = '';
  let server: ServerProc;
  let work = '';

  before(async () => {
    requireTools([
      { bin: 'ip', pkg: 'iproute2' },
      { bin: 'busybox', pkg: 'busybox-static' },
      { bin: 'dhclient', pkg: 'isc-dhcp-client' },
      { bin: 'dhcping', pkg: 'dhcping' },
      { bin: 'nmap', pkg: 'nmap' },
      { bin: 'perfdhcp', pkg: 'kea-admin' },
    ]);
    work = await tempDir('rbd-dhcp-');
    lab.segment();
    srvNs = lab.addNs('s');
    cliNs = lab.addNs('c');
    lab.attach(srvNs, 'rbd0', { addrs: [`${SRV}/24`] });
    lab.attach(cliNs, 'rbd0', { mac: LINUX_MAC });
    // The relayed subnet is reached on-link (the client namespace plays the relay).
    lab.in(srvNs, ['ip', 'route', 'add', '10.231.2.0/24', 'dev', 'rbd0']);
    server = await ServerProc.start(lab, srvNs, {
      mode: 'full',
      serverAddress: SRV,
      port: 67,
      proxyPort: 4011,
      storeDir: path.join(work, 'store'),
      nodes,
      subnets: [
        { subnet: '10.231.1.0/24', pools: ['10.231.1.90-10.231.1.199'], routers: [SRV], dnsServers: [SRV], domainName: 'lab.test', leaseSeconds: 600, unknownClients: 'discover' },
        { subnet: '10.231.2.0/24', pools: ['10.231.2.100-10.231.2.199'], routers: ['10.231.2.1'], dnsServers: [], domainName: '', leaseSeconds: 600, unknownClients: 'discover' },
      ],
    });
  });

  after(async () => {
    await lab.destroy();
  });

  it('busybox udhcpc: DORA to the reservation, renew (SIGUSR1), release (SIGUSR2)', async () => {
    const hookOut = path.join(work, 'udhcpc.log');
    const hook = path.join(work, 'udhcpc.sh');
    writeFileSync(
      hook,
      `#!/bin/sh\necho "$1 ip=$ip siaddr=$siaddr boot_file=$boot_file hostname=$hostname serverid=$serverid lease=$lease" >> ${hookOut}\n` +
        `case "$1" in bound|renew) ip addr replace $ip/$mask dev $interface ;; deconfig) ip addr flush dev $interface ;; esac\n`,
    );
    chmodSync(hook, 0o755);
    const child = lab.spawn(cliNs, ['busybox', 'udhcpc', '-i', 'rbd0', '-f', '-t', '5', '-T', '1', '-A', '1', '-s', hook]);
    const log = (): string => (existsSync(hookOut) ? readFileSync(hookOut, 'utf8') : '');
    const until = (re: RegExp, what: string) => waitFor(() => re.test(log()), { what, timeoutMs: 10_000, intervalMs: 100 });
    await until(/^bound ip=10\.231\.1\.60 /m, 'udhcpc bound to the reservation');
    assert.match(log(), /bound .*boot_file= hostname=node-linux serverid=10\.231\.1\.1 lease=600/, 'an OS client gets no boot file');
    await server.packet((e) => e.mac === LINUX_MAC && e.outcome === 'ack');
    process.kill(child.pid!, 'SIGUSR1');
    await until(/^renew ip=10\.231\.1\.60 /m, 'udhcpc renewed');
    // The hook ran on the ACK; the server's account of it comes down another pipe, maybe later.
    await waitFor(() => server.events.filter((e) => e.mac === LINUX_MAC && e.outcome === 'ack').length >= 2, { what: 'the renewal ACK in the server\'s events' });
    process.kill(child.pid!, 'SIGUSR2');
    await server.packet((e) => e.mac === LINUX_MAC && e.type === 'RELEASE' && e.outcome === 'released', 10_000, 'RELEASE');
    process.kill(child.pid!, 'SIGTERM');
  });

  it('ISC dhclient (-sf, pxe-lab G13): lease for the reserved address', async () => {
    lab.in(cliNs, ['ip', 'addr', 'flush', 'dev', 'rbd0']);
    const lf = path.join(work, 'dhclient.leases');
    const pf = path.join(work, 'dhclient.pid');
    const r = await lab.run(cliNs, ['dhclient', '-4', '-v', '-1', '-sf', '/bin/true', '-lf', lf, '-pf', pf, 'rbd0'], 40_000);
    assert.equal(r.code, 0, r.stderr);
    if (existsSync(pf)) process.kill(Number(readFileSync(pf, 'utf8').trim()), 'SIGTERM');
    const leases = readFileSync(lf, 'utf8');
    assert.match(leases, /fixed-address 10\.231\.1\.60;/);
    assert.match(leases, /option dhcp-server-identifier 10\.231\.1\.1;/);
    assert.match(leases, /option host-name "node-linux";/);
    assert.doesNotMatch(leases, /filename/);
  });

  it('nmap broadcast-dhcp-discover sees our OFFER', async () => {
    lab.in(cliNs, ['ip', 'addr', 'replace', '10.231.1.99/24', 'dev', 'rbd0']);
    lab.in(cliNs, ['ip', 'route', 'replace', '255.255.255.255/32', 'dev', 'rbd0']);
    const r = await lab.run(cliNs, ['nmap', '-e', 'rbd0', '--script', 'broadcast-dhcp-discover', '--script-args', 'broadcast-dhcp-discover.timeout=3'], 60_000);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /IP Offered: 10\.231\.1\.\d+/);
    assert.match(r.stdout, /Server Identifier: 10\.231\.1\.1/);
    assert.match(r.stdout, /Subnet Mask: 255\.255\.255\.0/);
  });

  it('dhcping: unicast REQUEST (renewing) and INFORM', async () => {
    const mac = '52:54:00:aa:bb:01';
    const req = await lab.run(cliNs, ['dhcping', '-v', '-c', '10.231.1.99', '-s', SRV, '-h', mac, '-t', '3'], 15_000);
    assert.equal(req.code, 0, req.stdout + req.stderr);
    assert.match(req.stdout, /Got answer from: 10\.231\.1\.1/);
    await server.packet((e) => e.mac === mac && e.type === 'REQUEST' && e.outcome === 'ack' && e.ip === '10.231.1.99');
    const inf = await lab.run(cliNs, ['dhcping', '-v', '-i', '-c', '10.231.1.99', '-s', SRV, '-h', mac, '-t', '3'], 15_000);
    assert.equal(inf.code, 0, inf.stdout + inf.stderr);
    await server.packet((e) => e.mac === mac && e.type === 'INFORM' && e.outcome === 'inform-ack');
  });

  it('NAK on a wrong requested address; the NAK names the reason', async () => {
    const replies = await probe(lab, cliNs, {
      bind: { address: '0.0.0.0', port: 68 },
      to: { address: SRV, port: 67 },
      packets: [
        craft(LINUX_MAC, MSG.REQUEST, [[OPT.REQUESTED_IP, ipBytes('10.231.1.61')]]),
        craft('52:54:00:aa:bb:04', MSG.REQUEST, [[OPT.REQUESTED_IP, ipBytes('10.231.1.150')]]),
        craft('52:54:00:aa:bb:02', MSG.REQUEST, [[OPT.REQUESTED_IP, ipBytes('10.231.1.150')]]),
        craft('52:54:00:aa:bb:02', MSG.REQUEST, [[OPT.REQUESTED_IP, ipBytes('192.168.1.10')]]),
      ],
    });
    assert.deepEqual(
      replies.map((r) => typed(r.packet.options).messageType),
      [MSG.NAK, MSG.ACK, MSG.NAK, MSG.NAK],
    );
    assert.match(typed(replies[0]!.packet.options).message ?? '', /10\.231\.1\.60 is reserved/);
    assert.equal(replies[0]!.packet.yiaddr, '0.0.0.0');
    assert.match(typed(replies[2]!.packet.options).message ?? '', /held by 52:54:00:aa:bb:04/);
    assert.match(typed(replies[3]!.packet.options).message ?? '', /wrong network/);
  });

  it('options 93/77/60/43: iPXE gets its script URL, OVMF PXE ipxe.efi + 43, HTTP Boot a URL + HTTPClient', async () => {
    const replies = await probe(lab, cliNs, {
      bind: { address: '0.0.0.0', port: 68 },
      to: { address: SRV, port: 67 },
      packets: [fixture('ipxe-bios-discover'), fixture('ovmf-pxe-discover'), fixture('ovmf-http-discover'), fixture('udhcpc-discover')],
    });
    const by = (i: number) => replies.find((r) => r.i === i)!.packet;
    const ipxe = by(0);
    assert.equal(ipxe.yiaddr, '10.231.1.50');
    assert.equal(ipxe.siaddr, SRV);
    assert.equal(ipxe.file, 'http://10.231.1.1:8080/boot/ipxe/52-54-00-12-34-56');
    assert.equal(typed(ipxe.options).bootFile, ipxe.file);
    assert.equal(typed(ipxe.options).vendorClass, 'PXEClient');
    assert.deepEqual(ipxe.options.get(OPT.VENDOR_SPECIFIC), Buffer.from('060108ff', 'hex'));
    assert.equal(typed(ipxe.options).hostname, 'node-ipxe');
    const ovmf = by(1);
    assert.equal(ovmf.yiaddr, '10.231.1.51');
    assert.equal(ovmf.file, 'ipxe.efi');
    assert.deepEqual(ovmf.options.get(OPT.VENDOR_SPECIFIC), Buffer.from('060108ff', 'hex'));
    const http = typed(by(2).options);
    assert.equal(http.vendorClass, 'HTTPClient');
    assert.equal(http.bootFile, 'http://10.231.1.1:8080/boot/ipxe.efi');
    const os = by(3);
    assert.equal(os.file, '');
    assert.equal(os.options.has(OPT.BOOTFILE), false);
  });

  it('relay: giaddr selects the subnet, the reply goes to giaddr:67, option 82 is echoed', async () => {
    lab.in(cliNs, ['ip', 'addr', 'add', '10.231.2.5/24', 'dev', 'rbd0']);
    const o82 = Buffer.from('0106657468312f3102036162', 'hex');
    const replies = await probe(lab, cliNs, {
      bind: { address: '10.231.2.5', port: 67 },
      to: { address: SRV, port: 67 },
      packets: [craft('52:54:00:aa:bb:03', MSG.DISCOVER, [[OPT.RELAY_AGENT, o82]], { giaddr: '10.231.2.5', hops: 1 })],
    });
    assert.equal(replies.length, 1);
    const p = replies[0]!.packet;
    assert.equal(replies[0]!.from, '10.231.1.1:67');
    assert.match(p.yiaddr, /^10\.231\.2\.1\d\d$/);
    assert.equal(p.giaddr, '10.231.2.5');
    assert.deepEqual(p.options.get(OPT.RELAY_AGENT), o82);
    assert.equal(typed(p.options).routers?.[0], '10.231.2.1');
  });

  const perf = async (local: string): Promise<string> => {
    const r = await lab.run(cliNs, ['perfdhcp', '-4', '-l', local, '-r', '100', '-R', '60', '-n', '200', '-p', '10', '-W', '1000000', SRV], 60_000);
    assert.equal(r.code, 0, `perfdhcp rc ${r.code}: ${r.stdout}\n${r.stderr}`);
    const sent = [...r.stdout.matchAll(/sent packets: (\d+)/g)].map((m) => Number(m[1]));
    const recv = [...r.stdout.matchAll(/received packets: (\d+)/g)].map((m) => Number(m[1]));
    assert.equal(sent.length, 2, r.stdout);
    assert.ok(sent[0]! >= 200, r.stdout);
    assert.deepEqual(recv, sent, `no drops:\n${r.stdout}`);
    return r.stdout;
  };

  it('perfdhcp: 200 DORA exchanges without drops (perfdhcp acts as a relay on the served subnet)', async () => {
    await perf('10.231.1.99');
  });

  it('perfdhcp as a relay of another subnet: leases come from the relayed subnet', async () => {
    const before = server.events.length;
    await perf('10.231.2.5');
    const acks = server.events.slice(before).filter((e) => e.outcome === 'ack');
    assert.ok(acks.length >= 200);
    assert.ok(acks.every((e) => e.ip?.startsWith('10.231.2.')), 'relayed leases in 10.231.2.0/24');
    const stats = await server.stats();
    assert.equal(stats.persistFailures ?? 0, 0);
    assert.ok((stats.leasesPersisted ?? 0) >= 400);
    assert.ok((stats.leaseCommits ?? 0) <= (stats.leasesPersisted ?? 0));
  });
});
