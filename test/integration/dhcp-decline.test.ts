/**
 * Issue 15, point 3, against a real server (a child process in a loopback-only namespace, over a
 * real SQLite store): raw DHCPDECLINEs from a stranger and from the node's MAC with the wrong
 * client identifier leave its reservation bound (in the store too) and offered again; the node's
 * own DECLINE quarantines the address for the probation only (the server's clock is moved, not
 * waited for), and every DECLINE is reported and counted.
 *
 * DISCOVERs and REQUESTs are relayed (giaddr 127.0.0.2) so their replies come back on loopback; the
 * DECLINEs are sent as a client sends them, not relayed (they get no reply).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ipBytes, OPT, typed } from '../../src/dhcp/options.js';
import { MSG } from '../../src/dhcp/packet.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { craft, probe, ServerProc } from '../helpers/dhcp-lab.js';
import type { ServerMainConfig } from '../helpers/dhcp-server-main.js';
import { Lab, requireTools } from '../helpers/dhcp-netns.js';
import { waitFor } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const NODE = '52:54:00:88:00:01';
const NODE_IP = '127.0.1.50';
const STRANGER = '52:54:00:88:00:99';
const SERVER = '127.0.0.1';
const cid = (hex: string): [number, Buffer] => [OPT.CLIENT_ID, Buffer.from(hex, 'hex')];
const NODE_CID = cid('01525400880001');
const serverId: [number, Buffer] = [OPT.SERVER_ID, ipBytes(SERVER)];
const requested: [number, Buffer] = [OPT.REQUESTED_IP, ipBytes(NODE_IP)];

describe('dhcp DECLINE on a real server', { timeout: 120_000 }, () => {
  const lab = new Lab('dc');
  after(async () => {
    await lab.destroy();
  });

  it('ignores DECLINEs from anyone but the holder; quarantines the reserved address for the probation only', async () => {
    requireTools([{ bin: 'ip', pkg: 'iproute2' }]);
    const ns = lab.addNs('d');
    lab.in(ns, ['ip', 'addr', 'add', '127.0.0.2/8', 'dev', 'lo']);
    const storeDir = path.join(await tempDir('rbd-decline-'), 'store');
    const cfg: ServerMainConfig = {
      mode: 'full',
      serverAddress: SERVER,
      bindAddress: SERVER,
      port: 6767,
      proxyPort: 6768,
      storeDir,
      nodes: [{ mac: NODE, name: 'node-a', ip: NODE_IP }],
      reservations: true,
      subnets: [{ subnet: '127.0.0.0/8', pools: ['127.0.1.1-127.0.1.250'], routers: [], dnsServers: [], domainName: '', leaseSeconds: 3600, unknownClients: 'discover' }],
    };
    const rel = { giaddr: '127.0.0.2', hops: 1 };
    const relay = { bind: { address: '127.0.0.2', port: 6767 }, to: { address: SERVER, port: 6767 } };
    const raw = { bind: { address: '127.0.0.2', port: 6769 }, to: { address: SERVER, port: 6767 }, want: 0 };
    const server = await ServerProc.start(lab, ns, cfg);
    const store = openSqliteStore({ dir: storeDir });
    try {
      /** The node's DISCOVER and SELECTING REQUEST: the address each reply carries, and its type. */
      const boot = async (): Promise<Array<{ type: number | undefined; yiaddr: string }>> => {
        const replies = await probe(lab, ns, { ...relay, packets: [craft(NODE, MSG.DISCOVER, [NODE_CID], rel), craft(NODE, MSG.REQUEST, [serverId, requested, NODE_CID], rel)] });
        return [0, 1].map((i) => {
          const p = replies.find((r) => r.i === i)?.packet;
          return { type: p && typed(p.options).messageType, yiaddr: p?.yiaddr ?? '' };
        });
      };
      const declines = (): Record<string, unknown>[] => server.lines.filter((o) => o.event === 'decline');

      assert.deepEqual(await boot(), [{ type: MSG.OFFER, yiaddr: NODE_IP }, { type: MSG.ACK, yiaddr: NODE_IP }]);
      const bound = await store.leases.get(NODE_IP);
      assert.equal(bound?.state, 'bound');
      const before = await server.stats();

      // A stranger declines the node's address (with and without the node's client identifier);
      // the node's MAC declines it with another client identifier.
      await probe(lab, ns, {
        ...raw,
        packets: [
          craft(STRANGER, MSG.DECLINE, [requested, serverId]),
          craft(STRANGER, MSG.DECLINE, [requested, serverId, NODE_CID]),
          craft(NODE, MSG.DECLINE, [requested, serverId, cid('01aabbccddeeff')]),
        ],
      });
      await server.line(() => declines().length === 3, 10_000, 'three DECLINEs reported');
      assert.deepEqual(
        declines().map((o) => [o.mac, o.ip, o.outcome, o.reason]),
        [
          [STRANGER, NODE_IP, 'ignored', 'not-holder'],
          [STRANGER, NODE_IP, 'ignored', 'not-holder'],
          [NODE, NODE_IP, 'ignored', 'client-id-mismatch'],
        ],
      );
      const ignored = await server.stats();
      assert.equal(ignored.declineIgnored, 3);
      assert.equal(ignored.declineQuarantined ?? 0, 0);
      assert.equal(ignored.leasesPersisted, before.leasesPersisted, 'an ignored DECLINE persists nothing');
      assert.deepEqual(await store.leases.get(NODE_IP), bound, 'the stored lease is untouched');
      // Still the node's: offered and ACKed again.
      assert.deepEqual(await boot(), [{ type: MSG.OFFER, yiaddr: NODE_IP }, { type: MSG.ACK, yiaddr: NODE_IP }]);

      // The node itself declines it (its ARP probe was answered): quarantined for the probation.
      await probe(lab, ns, { ...raw, packets: [craft(NODE, MSG.DECLINE, [requested, serverId, NODE_CID])] });
      const q = await server.line((o) => o.event === 'decline' && o.outcome === 'quarantined', 10_000, 'the quarantine reported');
      assert.deepEqual([q.mac, q.ip, q.reason, q.reserved, q.quarantineSeconds], [NODE, NODE_IP, 'in-use', true, 60]);
      await waitFor(async () => (await store.leases.get(NODE_IP))?.state === 'declined', { what: 'the quarantine committed', timeoutMs: 10_000 });
      const stored = (await store.leases.get(NODE_IP))!;
      assert.equal(stored.expiresAt - stored.updatedAt, 60_000, 'persisted for the probation, not an hour');
      const quarantined = await server.stats();
      assert.equal(quarantined.declineQuarantined, 1);
      assert.equal(quarantined.declineIgnored, 3);

      // During the probation the node gets nothing.
      await probe(lab, ns, { ...relay, want: 0, packets: [craft(NODE, MSG.DISCOVER, [NODE_CID], rel)] });
      const none = await server.packet((e) => e.type === 'DISCOVER' && e.outcome === 'no-address', 10_000, 'the DISCOVER during the probation');
      assert.equal(none.mac, NODE);

      // After it, the address is the node's again.
      await server.advance(60_000);
      assert.deepEqual(await boot(), [{ type: MSG.OFFER, yiaddr: NODE_IP }, { type: MSG.ACK, yiaddr: NODE_IP }]);
      await waitFor(async () => (await store.leases.get(NODE_IP))?.state === 'bound', { what: 'the new lease committed', timeoutMs: 10_000 });
    } finally {
      await store.close();
    }
  });
});
