/**
 * Leases granted before a kill -9 are honoured after restart: the server (a child process in a
 * loopback-only namespace) ACKs only after the lease is committed, so SIGKILL right after the last
 * ACK must lose nothing.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ipBytes, OPT, typed } from '../../src/dhcp/options.js';
import { MSG } from '../../src/dhcp/packet.js';
import { craft, probe, ServerProc } from '../helpers/dhcp-lab.js';
import type { ServerMainConfig } from '../helpers/dhcp-server-main.js';
import { Lab, requireTools } from '../helpers/dhcp-netns.js';
import { waitFor } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const N = 40;
const mac = (i: number): string => `52:54:00:77:00:${i.toString(16).padStart(2, '0')}`;
const ipOf = (i: number): string => `127.0.1.${10 + i}`;

describe('dhcp restart after kill -9', { timeout: 120_000 }, () => {
  const lab = new Lab('r');
  after(async () => {
    await lab.destroy();
  });

  it('honours every ACKed lease after SIGKILL and restart', async () => {
    requireTools([{ bin: 'ip', pkg: 'iproute2' }]);
    const ns = lab.addNs('r');
    lab.in(ns, ['ip', 'addr', 'add', '127.0.0.2/8', 'dev', 'lo']);
    const cfg: ServerMainConfig = {
      mode: 'full',
      serverAddress: '127.0.0.1',
      bindAddress: '127.0.0.1',
      port: 6767,
      proxyPort: 6768,
      storeDir: path.join(await tempDir('rbd-restart-'), 'store'),
      nodes: [],
      subnets: [{ subnet: '127.0.0.0/8', pools: ['127.0.1.1-127.0.1.250'], routers: [], dnsServers: [], domainName: '', leaseSeconds: 3600, unknownClients: 'discover' }],
    };
    const relay = { bind: { address: '127.0.0.2', port: 6767 }, to: { address: '127.0.0.1', port: 6767 } };
    const rel = { giaddr: '127.0.0.2', hops: 1 };

    const first = await ServerProc.start(lab, ns, cfg);
    const acks = await probe(lab, ns, { ...relay, packets: Array.from({ length: N }, (_, i) => craft(mac(i), MSG.REQUEST, [[OPT.REQUESTED_IP, ipBytes(ipOf(i))]], rel)) });
    assert.equal(acks.length, N);
    assert.ok(acks.every((a) => typed(a.packet.options).messageType === MSG.ACK));
    process.kill(first.child.pid!, 'SIGKILL');
    await waitFor(() => first.exited !== undefined, { what: 'the killed server to exit', timeoutMs: 10_000 });
    assert.notEqual(first.exited, 0, 'killed, not exited');

    const second = await ServerProc.start(lab, ns, cfg);
    const stats = await second.stats();
    assert.equal(stats.leasesLoaded, N);
    const packets = [
      ...Array.from({ length: N }, (_, i) => craft(mac(i), MSG.DISCOVER, [], rel)),
      craft('52:54:00:77:99:99', MSG.REQUEST, [[OPT.REQUESTED_IP, ipBytes(ipOf(0))]], rel),
      craft('52:54:00:77:99:99', MSG.DISCOVER, [[OPT.REQUESTED_IP, ipBytes(ipOf(1))]], rel),
    ];
    const replies = await probe(lab, ns, { ...relay, packets });
    for (let i = 0; i < N; i++) assert.equal(replies.find((r) => r.i === i)?.packet.yiaddr, ipOf(i), `${mac(i)} offered its address again`);
    const nak = replies.find((r) => r.i === N)!.packet;
    assert.equal(typed(nak.options).messageType, MSG.NAK);
    assert.match(typed(nak.options).message ?? '', /held by 52:54:00:77:00:00/);
    const other = replies.find((r) => r.i === N + 1)!.packet;
    assert.notEqual(other.yiaddr, ipOf(1), 'a leased address is not offered to someone else');
  });
});
