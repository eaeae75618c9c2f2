import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DhcpSubnetConfig } from '../../src/config/load.js';
import type { BootPlan } from '../../src/domain/boot.js';
import { checkRequest, decide, describeClient, destinationFor, type DecideContext, type Request } from '../../src/dhcp/decide.js';
import { ipToInt } from '../../src/util/ipv4.js';
import { LeaseBook } from '../../src/dhcp/leases.js';
import { ipBytes, OPT, typed } from '../../src/dhcp/options.js';
import { formatPacket, parsePacket, type DhcpPacket } from '../../src/dhcp/packet.js';
import { TEST_LOADERS, testBooter } from '../helpers/dhcp-booter.js';
import { fixture } from '../helpers/dhcp-fixtures.js';

const SERVER = '10.231.1.1';
const subnets: DhcpSubnetConfig[] = [
  { subnet: '10.231.1.0/24', pools: ['10.231.1.100-10.231.1.102'], routers: ['10.231.1.1'], dnsServers: ['10.231.1.1'], domainName: 'lab.test', leaseSeconds: 3600, unknownClients: 'discover' },
  { subnet: '10.231.2.0/24', pools: ['10.231.2.100-10.231.2.110'], routers: ['10.231.2.1'], dnsServers: [], domainName: '', leaseSeconds: 600, unknownClients: 'ignore' },
];
const booter = testBooter(
  [
    { mac: '52:54:00:12:34:56', name: 'node-ipxe', ip: '10.231.1.50' },
    { mac: '52:54:00:12:34:58', name: 'node-ovmf', ip: '10.231.1.51' },
    { mac: '52:54:00:12:34:59', name: 'node-http', ip: '10.231.1.52' },
    { mac: '52:54:00:ca:fe:01', name: 'node-linux' },
    { mac: '52:54:00:00:00:99', name: 'nobody', action: 'ignore' },
  ],
  TEST_LOADERS,
);

function req(b: Buffer): Request {
  const p = parsePacket(b);
  assert.ok(p.ok);
  const c = checkRequest(p.packet);
  assert.ok(c.ok, c.ok ? '' : c.reason);
  return c.request;
}

/** A DHCP client packet built from parts (for what real clients cannot be made to send). */
function craft(mac: string, type: number, opts: Array<[number, Buffer]> = [], hdr: Partial<DhcpPacket> = {}): Buffer {
  const options = new Map<number, Buffer>([[OPT.MESSAGE_TYPE, Buffer.from([type])], ...opts]);
  const chaddr = Buffer.alloc(16);
  Buffer.from(mac.replace(/:/g, ''), 'hex').copy(chaddr);
  return formatPacket({ op: 1, htype: 1, hlen: 6, hops: 0, xid: 42, secs: 0, flags: 0, ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0', chaddr, sname: '', file: '', options, ...hdr });
}

async function run(b: Buffer, ctx: DecideContext) {
  const r = req(b);
  const plan: BootPlan = await booter.plan(describeClient(r));
  return { r, d: decide(r, plan, ctx) };
}

function ctxFor(book: LeaseBook, now = 1_000_000, mode: 'full' | 'proxy' = 'full', viaProxyPort = false): DecideContext {
  return { mode, serverAddress: SERVER, book, now, viaProxyPort };
}

describe('dhcp decide: full mode', () => {
  it('offers an iPXE BIOS client its reservation with the exact PXE option bytes (pxe-lab G8)', async () => {
    const book = new LeaseBook(subnets, { serverAddress: SERVER });
    const { d } = await run(fixture('ipxe-bios-discover'), ctxFor(book));
    assert.equal(d.outcome, 'offer');
    const reply = d.reply!;
    assert.equal(reply.yiaddr, '10.231.1.50');
    assert.equal(reply.siaddr, SERVER);
    const url = 'http://10.231.1.1:8080/boot/ipxe/52-54-00-12-34-56';
    assert.equal(reply.file, url);
    const b = formatPacket(reply);
    const hex = (s: string): string => Buffer.from(s).toString('hex');
    const expected =
      '350102' + '36040ae70101' + '330400000e10' + '3a0400000708' + '3b0400000c4e' +
      '0104ffffff00' + '1c040ae701ff' + '03040ae70101' + '06040ae70101' + '0f08' + hex('lab.test') +
      '0c09' + hex('node-ipxe') + '3c09' + hex('PXEClient') + '2b04060108ff' +
      '43' + url.length.toString(16).padStart(2, '0') + hex(url) + '6111008a3bc1d2e4f5061728394a5b6c7d8e9f' + 'ff';
    assert.equal(b.subarray(240, 240 + expected.length / 2).toString('hex'), expected);
    assert.equal(b.readUInt32BE(4), 0x1a2b3c4d, 'xid echoed');
    assert.equal(b.readUInt16BE(10), 0x8000, 'broadcast flag echoed');
    assert.equal(b.subarray(28, 34).toString('hex'), '525400123456');
    assert.ok(b.length >= 300);
  });

  it('OVMF PXE gets ipxe.efi with option 60 + 43; UEFI HTTP Boot gets HTTPClient and a URL', async () => {
    const book = new LeaseBook(subnets, { serverAddress: SERVER });
    const pxe = (await run(fixture('ovmf-pxe-discover'), ctxFor(book))).d.reply!;
    const t = typed(pxe.options);
    assert.equal(pxe.file, 'ipxe.efi');
    assert.equal(t.bootFile, 'ipxe.efi');
    assert.equal(t.vendorClass, 'PXEClient');
    assert.deepEqual(pxe.options.get(OPT.VENDOR_SPECIFIC), Buffer.from('060108ff', 'hex'));
    const http = typed((await run(fixture('ovmf-http-discover'), ctxFor(book))).d.reply!.options);
    assert.equal(http.vendorClass, 'HTTPClient');
    assert.equal(http.bootFile, 'http://10.231.1.1:8080/boot/ipxe.efi');
    assert.equal(http.vendorSpecific, undefined);
  });

  it('an OS client (udhcpc) gets an address and no boot fields', async () => {
    const book = new LeaseBook(subnets, { serverAddress: SERVER });
    const { d } = await run(fixture('udhcpc-discover'), ctxFor(book));
    assert.equal(d.reply!.yiaddr, '10.231.1.100');
    assert.equal(d.reply!.file, '');
    assert.equal(d.reply!.siaddr, '0.0.0.0');
    assert.equal(d.reply!.options.has(OPT.BOOTFILE), false);
    assert.equal(d.reply!.options.has(OPT.VENDOR_CLASS), false);
    assert.equal(typed(d.reply!.options).hostname, 'node-linux');
  });

  it('SELECTING: ACK with a lease to persist; another server chosen: silence and the offer withdrawn', async () => {
    const book = new LeaseBook(subnets, { serverAddress: SERVER });
    await run(fixture('ovmf-pxe-discover'), ctxFor(book));
    const wrong = await run(craft('52:54:00:12:34:58', 3, [[OPT.SERVER_ID, ipBytes('10.231.1.254')], [OPT.REQUESTED_IP, ipBytes('10.231.1.51')]]), ctxFor(book));
    assert.equal(wrong.d.reply, undefined);
    assert.match(wrong.d.reason, /not ours/);
    assert.equal(book.leaseAt(ipToInt('10.231.1.51')), undefined);
    const { d } = await run(fixture('ovmf-pxe-request'), ctxFor(book)); // asks for 10.231.1.50
    assert.equal(d.outcome, 'nak', 'requesting 10.231.1.50 while 10.231.1.51 is reserved');
    const good = await run(craft('52:54:00:12:34:58', 3, [[OPT.SERVER_ID, ipBytes(SERVER)], [OPT.REQUESTED_IP, ipBytes('10.231.1.51')], [OPT.CLIENT_ARCH, Buffer.from([0, 7])]]), ctxFor(book));
    assert.equal(good.d.outcome, 'ack');
    assert.equal(good.d.persist?.[0]?.ip, '10.231.1.51');
    assert.equal(good.d.persist?.[0]?.state, 'bound');
    assert.equal(good.d.persist?.[0]?.expiresAt, 1_000_000 + 3_600_000);
  });

  it('INIT-REBOOT: wrong network and an address held by another client are NAKed', async () => {
    const book = new LeaseBook(subnets, { serverAddress: SERVER });
    const a = await run(craft('52:54:00:aa:00:01', 3, [[OPT.REQUESTED_IP, ipBytes('192.168.7.7')]]), ctxFor(book));
    assert.equal(a.d.outcome, 'nak');
    assert.match(a.d.reason, /wrong network/);
    const ok = await run(craft('52:54:00:aa:00:01', 3, [[OPT.REQUESTED_IP, ipBytes('10.231.1.101')]]), ctxFor(book));
    assert.equal(ok.d.outcome, 'ack', 'a free pool address is confirmed (lease file lost, client remembers)');
    const held = await run(craft('52:54:00:aa:00:02', 3, [[OPT.REQUESTED_IP, ipBytes('10.231.1.101')]]), ctxFor(book));
    assert.equal(held.d.outcome, 'nak');
    assert.match(held.d.reason, /held by 52:54:00:aa:00:01/);
    assert.equal(held.d.reply!.yiaddr, '0.0.0.0');
    assert.equal(destinationFor(held.r.packet, held.d.reply!, { address: '0.0.0.0', port: 68 }, { server: 67, client: 68, viaProxyPort: false }).kind, 'broadcast');
  });

  it('RENEWING extends the lease and is unicast to ciaddr; RELEASE frees; DECLINE quarantines', async () => {
    const book = new LeaseBook(subnets, { serverAddress: SERVER });
    const ip = ipBytes('10.231.1.100');
    await run(craft('52:54:00:aa:00:03', 3, [[OPT.REQUESTED_IP, ip]]), ctxFor(book, 1000));
    const renew = await run(craft('52:54:00:aa:00:03', 3, [], { ciaddr: '10.231.1.100' }), ctxFor(book, 5000));
    assert.equal(renew.d.outcome, 'ack');
    assert.equal(renew.d.persist![0]!.expiresAt, 5000 + 3_600_000);
    assert.deepEqual(destinationFor(renew.r.packet, renew.d.reply!, { address: '10.231.1.100', port: 68 }, { server: 67, client: 68, viaProxyPort: false }), { address: '10.231.1.100', port: 68, kind: 'unicast' });
    const rel = await run(craft('52:54:00:aa:00:03', 7, [[OPT.SERVER_ID, ipBytes(SERVER)]], { ciaddr: '10.231.1.100' }), ctxFor(book, 6000));
    assert.equal(rel.d.outcome, 'released');
    assert.equal(rel.d.reply, undefined);
    assert.equal(rel.d.persist![0]!.state, 'released');
    // Another client may now have it; it declines it (ARP conflict) and it is quarantined.
    const other = await run(craft('52:54:00:aa:00:04', 1), ctxFor(book, 7000));
    assert.equal(other.d.reply!.yiaddr, '10.231.1.101', 'never-used addresses first');
    await run(craft('52:54:00:aa:00:04', 3, [[OPT.SERVER_ID, ipBytes(SERVER)], [OPT.REQUESTED_IP, ipBytes('10.231.1.101')]]), ctxFor(book, 7000));
    const dec = await run(craft('52:54:00:aa:00:04', 4, [[OPT.SERVER_ID, ipBytes(SERVER)], [OPT.REQUESTED_IP, ipBytes('10.231.1.101')]]), ctxFor(book, 8000));
    assert.equal(dec.d.outcome, 'declined');
    const next = await run(craft('52:54:00:aa:00:04', 1), ctxFor(book, 9000));
    assert.notEqual(next.d.reply!.yiaddr, '10.231.1.101');
  });

  it('pool exhaustion answers nothing with a reason (and does not spin)', async () => {
    const book = new LeaseBook(subnets, { serverAddress: SERVER });
    for (let i = 0; i < 3; i++) assert.equal((await run(craft(`52:54:00:bb:00:0${i}`, 1), ctxFor(book))).d.outcome, 'offer');
    const full = await run(craft('52:54:00:bb:00:09', 1), ctxFor(book));
    assert.equal(full.d.outcome, 'no-address');
    assert.match(full.d.reason, /no free address/);
    book.expire(1_000_000 + 61_000);
    assert.equal((await run(craft('52:54:00:bb:00:09', 1), ctxFor(book, 1_000_000 + 61_000))).d.outcome, 'offer', 'lapsed offers free their addresses');
  });

  it('INFORM: ACK with ciaddr, no yiaddr, no lease time', async () => {
    const book = new LeaseBook(subnets, { serverAddress: SERVER });
    const { d } = await run(craft('52:54:00:aa:00:05', 8, [], { ciaddr: '10.231.1.77' }), ctxFor(book));
    assert.equal(d.outcome, 'inform-ack');
    assert.equal(d.reply!.ciaddr, '10.231.1.77');
    assert.equal(d.reply!.yiaddr, '0.0.0.0');
    assert.equal(d.reply!.options.has(OPT.LEASE_TIME), false);
    assert.equal(typed(d.reply!.options).subnetMask, '255.255.255.0');
  });

  it('relayed: subnet by giaddr, option 82 echoed last, reply to giaddr:67; unknown clients ignored per subnet', async () => {
    const book = new LeaseBook(subnets, { serverAddress: SERVER });
    const o82 = Buffer.from('0106657468312f3102036162', 'hex');
    const known = await run(craft('52:54:00:ca:fe:01', 1, [[OPT.RELAY_AGENT, o82]], { giaddr: '10.231.2.1', hops: 1 }), ctxFor(book));
    assert.equal(known.d.reply!.yiaddr, '10.231.2.100');
    assert.equal(known.d.reply!.giaddr, '10.231.2.1');
    assert.deepEqual([...known.d.reply!.options.keys()].at(-1), OPT.RELAY_AGENT);
    assert.deepEqual(known.d.reply!.options.get(OPT.RELAY_AGENT), o82);
    assert.deepEqual(destinationFor(known.r.packet, known.d.reply!, { address: '10.231.2.1', port: 67 }, { server: 67, client: 68, viaProxyPort: false }), { address: '10.231.2.1', port: 67, kind: 'relay' });
    const unknown = await run(craft('52:54:00:dd:00:01', 1, [], { giaddr: '10.231.2.1' }), ctxFor(book));
    assert.equal(unknown.d.outcome, 'ignored');
    assert.match(unknown.d.reason, /ignores unknown clients/);
    const nowhere = await run(craft('52:54:00:ca:fe:01', 1, [], { giaddr: '10.231.9.1' }), ctxFor(book));
    assert.match(nowhere.d.reason, /no configured subnet for relay/);
    const nak = await run(craft('52:54:00:ca:fe:01', 3, [[OPT.REQUESTED_IP, ipBytes('10.231.1.5')]], { giaddr: '10.231.2.1' }), ctxFor(book));
    assert.equal(nak.d.outcome, 'nak');
    assert.equal(nak.d.reply!.flags & 0x8000, 0x8000, 'NAK via a relay sets the broadcast bit');
  });

  it('the boot plan "ignore" means no answer', async () => {
    const book = new LeaseBook(subnets, { serverAddress: SERVER });
    assert.equal((await run(craft('52:54:00:00:00:99', 1), ctxFor(book))).d.reply, undefined);
  });

  it('option 93/77/175 describe the client: iPXE by user class or by option 175 alone', () => {
    const byUc = describeClient(req(craft('52:54:00:aa:00:06', 1, [[OPT.USER_CLASS, Buffer.from('iPXE')], [OPT.CLIENT_ARCH, Buffer.from([0, 9])]])));
    assert.deepEqual({ ipxe: byUc.ipxe, arch: byUc.arch, userClass: byUc.userClass }, { ipxe: true, arch: 9, userClass: 'iPXE' });
    const by175 = describeClient(req(craft('52:54:00:aa:00:06', 1, [[OPT.IPXE, Buffer.from('130101', 'hex')]])));
    assert.equal(by175.ipxe, true);
    const rfc3004 = describeClient(req(craft('52:54:00:aa:00:06', 1, [[OPT.USER_CLASS, Buffer.from('\x04iPXE\x03foo', 'latin1')]])));
    assert.equal(rfc3004.ipxe, true);
  });
});

describe('dhcp decide: ProxyDHCP', () => {
  it('answers a PXE DISCOVER on 67 with boot information and no address; ignores OS clients', async () => {
    const book = new LeaseBook([], { serverAddress: SERVER });
    const { d } = await run(fixture('ovmf-pxe-discover'), ctxFor(book, 0, 'proxy'));
    assert.equal(d.outcome, 'proxy-offer');
    assert.equal(d.reply!.yiaddr, '0.0.0.0');
    assert.equal(d.reply!.options.has(OPT.LEASE_TIME), false);
    assert.equal(typed(d.reply!.options).vendorClass, 'PXEClient');
    assert.deepEqual(d.reply!.options.get(OPT.CLIENT_UUID), Buffer.from('008a3bc1d2e4f5061728394a5b6c7d8e9f', 'hex'));
    assert.equal((await run(fixture('udhcpc-discover'), ctxFor(book, 0, 'proxy'))).d.reply, undefined);
  });

  it('answers the boot-server REQUEST on 4011 with an ACK to the source', async () => {
    const book = new LeaseBook([], { serverAddress: SERVER });
    const b = craft('52:54:00:12:34:58', 3, [[OPT.CLIENT_ARCH, Buffer.from([0, 7])], [OPT.VENDOR_CLASS, Buffer.from('PXEClient:Arch:00007:UNDI:003000')]], { ciaddr: '10.231.1.60' });
    const { r, d } = await run(b, ctxFor(book, 0, 'proxy', true));
    assert.equal(d.outcome, 'proxy-ack');
    assert.equal(d.reply!.ciaddr, '10.231.1.60');
    assert.equal(typed(d.reply!.options).bootFile, 'ipxe.efi');
    assert.deepEqual(destinationFor(r.packet, d.reply!, { address: '10.231.1.60', port: 4011 }, { server: 67, client: 68, viaProxyPort: true }), { address: '10.231.1.60', port: 4011, kind: 'source' });
  });
});
