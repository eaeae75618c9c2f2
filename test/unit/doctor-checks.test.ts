import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { describe, it } from 'node:test';
import { installFailed } from '../../src/cli/commands/install-loaders.js';
import { OPT, ipBytes, strBytes } from '../../src/dhcp/options.js';
import { formatPacket, macToChaddr, MSG, parsePacket } from '../../src/dhcp/packet.js';
import { loadersInUse } from '../../src/media/loaders.js';
import http from 'node:http';
import { loadConfig } from '../../src/config/load.js';
import { encodeError } from '../../src/tftp/packet.js';
import { checkClock, checkHttp, checkTftp, judgeDhcpPort, judgeRogue } from '../../src/diagnostics/doctor.js';
import { buildProbeDiscover, directedBroadcastOf, foreignOffers, randomProbeMac, type ForeignServer, type ProbeOutcome } from '../../src/diagnostics/rogue-dhcp.js';
import { parseProcNetUdp, udpPortHolders } from '../../src/diagnostics/udp-ports.js';

const PROC_NET_UDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  283: 00000000:0043 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 41235 2 0000000000000000 0
  511: 0100007F:0045 00000000:0000 07 00000000:00000000 00:00000000 00000000   998        0 41240 2 0000000000000000 0
 1007: 0A00000A:0FAB 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 41300 2 0000000000000000 0
  garbage line
`;

function offer(opts: { xid: number; mac: string; serverId?: string; yiaddr?: string; type?: number; bootFile?: string }): Buffer {
  const options = new Map<number, Buffer>([[OPT.MESSAGE_TYPE, Buffer.from([opts.type ?? MSG.OFFER])]]);
  if (opts.serverId) options.set(OPT.SERVER_ID, ipBytes(opts.serverId));
  if (opts.bootFile) options.set(OPT.BOOTFILE, strBytes(opts.bootFile));
  return formatPacket({ op: 2, htype: 1, hlen: 6, hops: 0, xid: opts.xid, secs: 0, flags: 0x8000, ciaddr: '0.0.0.0', yiaddr: opts.yiaddr ?? '10.0.0.50', siaddr: '0.0.0.0', giaddr: '0.0.0.0', chaddr: macToChaddr(opts.mac), sname: '', file: '', options });
}

const done = (foreign: ForeignServer[]): ProbeOutcome => ({ kind: 'done', interface: 'eth1', sentTo: '10.0.0.255', foreign, oursAnswered: false });

describe('doctor: /proc/net/udp', () => {
  it('parses addresses (little-endian hex), ports and inodes, skipping bad lines', () => {
    assert.deepEqual(parseProcNetUdp(PROC_NET_UDP), [
      { address: '0.0.0.0', port: 67, inode: 41235 },
      { address: '127.0.0.1', port: 69, inode: 41240 },
      { address: '10.0.0.10', port: 4011, inode: 41300 },
    ]);
  });

  it('finds the process holding a live socket (this one)', async () => {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    try {
      const { sockets, holders } = await udpPortHolders(s.address().port);
      assert.equal(sockets.length, 1);
      assert.deepEqual(holders.map((h) => h.pid), [process.pid]);
    } finally {
      s.close();
    }
  });

  it('judges a DHCP port: rhevboot ok, nobody or someone else fail, invisible owner warn', () => {
    const rb = { pid: 10, comm: 'node', cmdline: 'node /usr/bin/rhevboot serve' };
    const dnsmasq = { pid: 11, comm: 'dnsmasq', cmdline: 'dnsmasq -k' };
    assert.equal(judgeDhcpPort(67, 1, [rb]).status, 'ok');
    assert.equal(judgeDhcpPort(67, 0, []).status, 'fail');
    const other = judgeDhcpPort(67, 2, [rb, dnsmasq]);
    assert.equal(other.status, 'fail');
    assert.match(other.message, /dnsmasq \(pid 11\)/);
    assert.match(other.fix!, /dhcp\.mode proxy/);
    assert.equal(judgeDhcpPort(67, 1, []).status, 'warn');
  });
});

describe('doctor: rogue-DHCP decision', () => {
  const mac = randomProbeMac();
  const xid = 0x12345678;

  it('builds a broadcast PXE DISCOVER with a locally administered MAC', () => {
    assert.match(mac, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    assert.equal(parseInt(mac.slice(0, 2), 16) & 0x03, 0x02);
    const p = parsePacket(buildProbeDiscover(mac, xid));
    assert.ok(p.ok);
    assert.equal(p.packet.xid, xid);
    assert.equal(p.packet.flags & 0x8000, 0x8000);
    assert.deepEqual(p.packet.options.get(OPT.MESSAGE_TYPE), Buffer.from([MSG.DISCOVER]));
    assert.match(p.packet.options.get(OPT.VENDOR_CLASS)!.toString(), /^PXEClient/);
  });

  it('keeps OFFERs to our probe from servers that are not us, one per server', () => {
    const replies = [
      { from: '10.0.0.1', data: offer({ xid, mac, serverId: '10.0.0.1' }) }, // us
      { from: '10.0.0.2', data: offer({ xid, mac, serverId: '10.0.0.2', bootFile: 'pxelinux.0' }) },
      { from: '10.0.0.2', data: offer({ xid, mac, serverId: '10.0.0.2' }) }, // duplicate
      { from: '10.0.0.3', data: offer({ xid, mac, yiaddr: '0.0.0.0' }) }, // ProxyDHCP without option 54
      { from: '10.0.0.4', data: offer({ xid: xid + 1, mac, serverId: '10.0.0.4' }) }, // another client's
      { from: '10.0.0.5', data: offer({ xid, mac: '02:00:00:00:00:01', serverId: '10.0.0.5' }) },
      { from: '10.0.0.6', data: offer({ xid, mac, serverId: '10.0.0.6', type: MSG.ACK }) },
      { from: '10.0.0.7', data: Buffer.from('junk') },
    ];
    const r = foreignOffers(replies, { xid, mac }, new Set(['10.0.0.1']));
    assert.equal(r.oursAnswered, true);
    assert.deepEqual(r.foreign, [
      { serverId: '10.0.0.2', from: '10.0.0.2', offered: '10.0.0.50', proxy: false, bootFile: 'pxelinux.0' },
      { serverId: '10.0.0.3', from: '10.0.0.3', offered: '0.0.0.0', proxy: true, bootFile: '' },
    ]);
  });

  it('judges by dhcp.mode', () => {
    const giver = { serverId: '10.0.0.2', from: '10.0.0.2', offered: '10.0.0.50', proxy: false, bootFile: '' };
    const proxy = { serverId: '10.0.0.3', from: '10.0.0.3', offered: '0.0.0.0', proxy: true, bootFile: '' };
    assert.equal(judgeRogue('full', done([])).status, 'ok');
    assert.equal(judgeRogue('full', done([giver])).status, 'fail');
    assert.match(judgeRogue('full', done([giver])).message, /10\.0\.0\.2 \(offered 10\.0\.0\.50\)/);
    assert.equal(judgeRogue('full', done([proxy])).status, 'fail');
    assert.equal(judgeRogue('proxy', done([giver])).status, 'ok');
    assert.equal(judgeRogue('proxy', done([])).status, 'warn');
    assert.equal(judgeRogue('proxy', done([giver, proxy])).status, 'fail');
    assert.equal(judgeRogue('off', done([giver])).status, 'ok');
    assert.equal(judgeRogue('off', done([])).status, 'warn');
    const skipped = judgeRogue('full', { kind: 'skipped', reason: 'needs root (the probe listens on UDP port 68)', fix: 'run `sudo rhevboot doctor`' });
    assert.equal(skipped.status, 'skip');
    assert.match(skipped.message, /skipped: needs root/);
  });

  it('needs root and an interface, and broadcasts on the interface subnet', async () => {
    const { probeRogueDhcp } = await import('../../src/diagnostics/rogue-dhcp.js');
    assert.equal((await probeRogueDhcp({ interface: '', ours: [] })).kind, 'skipped');
    const notRoot = await probeRogueDhcp({ interface: 'eth1', ours: [], uid: 1000 });
    assert.ok(notRoot.kind === 'skipped' && /needs root/.test(notRoot.reason));
    const ifs = { eth1: [{ address: '10.0.0.10', netmask: '255.255.255.0', family: 'IPv4' as const, mac: '', internal: false, cidr: '10.0.0.10/24' }] };
    assert.equal(directedBroadcastOf('eth1', ifs), '10.0.0.255');
    assert.equal(directedBroadcastOf('eth9', ifs), undefined);
  });
});

describe('doctor: clock and loaders', () => {
  it('fails an absurd year, compares with the engines otherwise', () => {
    assert.equal(checkClock(new Date('1970-01-02T00:00:00Z'), []).status, 'fail');
    const now = new Date('2025-06-01T12:00:00Z');
    assert.equal(checkClock(now, []).status, 'ok');
    assert.equal(checkClock(now, [{ name: 'e', date: new Date(now.getTime() - 5_000) }]).status, 'ok');
    assert.equal(checkClock(now, [{ name: 'e', date: new Date(now.getTime() - 120_000) }]).status, 'warn');
    const off = checkClock(now, [{ name: 'ok', date: now }, { name: 'far', date: new Date(now.getTime() + 3_600_000) }]);
    assert.equal(off.status, 'fail');
    assert.match(off.message, /-3600 s against far/);
    assert.match(off.fix!, /timedatectl set-ntp true/);
  });

  it('knows which loaders a configuration serves, and when a missing one fails install-loaders', () => {
    assert.deepEqual([...loadersInUse({ biosLoader: 'undionly.kpxe', uefiLoader: 'ipxe.efi' })].sort(), ['ipxe.efi', 'undionly.kpxe']);
    assert.deepEqual([...loadersInUse({ biosLoader: 'pxelinux.0', uefiLoader: 'syslinux.efi' })].sort(), ['ipxe.efi', 'ldlinux.c32', 'ldlinux.e64', 'pxelinux.0', 'syslinux.efi']);
    const r = (serveAs: string, status: 'installed' | 'missing' | 'mismatch') => ({ serveAs, package: 'p', status, source: '', target: '', message: '' });
    const inUse = new Set(['ipxe.efi']);
    assert.equal(installFailed([r('ipxe.efi', 'installed'), r('syslinux.efi', 'missing')], inUse), false);
    assert.equal(installFailed([r('ipxe.efi', 'missing')], inUse), true);
    assert.equal(installFailed([r('syslinux.efi', 'mismatch')], inUse), true);
  });
});

describe('doctor: who answers on the ports', () => {
  it('tells another HTTP server or another TFTP server from rhevboot', async () => {
    const web = http.createServer((_req, res) => res.end('<html>it works</html>'));
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', () => r()));
    const tftp = dgram.createSocket('udp4');
    // Answers like tftpd-hpa: "File not found" from a new port.
    tftp.on('message', (_m, rinfo) => {
      const reply = dgram.createSocket('udp4');
      reply.send(encodeError(1, 'File not found'), rinfo.port, rinfo.address, () => reply.close());
    });
    await new Promise<void>((r) => tftp.bind(0, '127.0.0.1', () => r()));
    try {
      const { config } = loadConfig({ env: { RHEVBOOT_HTTP_HOST: '127.0.0.1', RHEVBOOT_HTTP_PORT: String((web.address() as { port: number }).port), RHEVBOOT_TFTP_HOST: '127.0.0.1', RHEVBOOT_TFTP_PORT: String(tftp.address().port) } });
      const h = await checkHttp(config, 2000);
      assert.equal(h.status, 'fail');
      assert.match(h.message, /not like rhevboot: another program holds port/);
      const t = await checkTftp(config, 2000);
      assert.equal(t.status, 'warn');
      assert.match(t.message, /error 1 "File not found": not rhevboot's answer/);
    } finally {
      web.close();
      tftp.close();
    }
  });
});
