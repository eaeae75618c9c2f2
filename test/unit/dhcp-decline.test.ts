/**
 * Issue 15, point 3: one spoofed DHCPDECLINE must not lock a reserved node out. A DECLINE counts
 * only from the client holding the lease (MAC, and client identifier when the lease has one), as
 * in Kea; a reserved address is quarantined for `dhcp.declineProbationSeconds` at most, after which
 * it is offered to its node again. Time is passed in (`now`), never waited for.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DhcpSubnetConfig } from '../../src/config/load.js';
import { checkRequest, decide, describeClient, type Decision } from '../../src/dhcp/decide.js';
import { LeaseBook } from '../../src/dhcp/leases.js';
import { ipBytes, OPT } from '../../src/dhcp/options.js';
import { MSG, parsePacket } from '../../src/dhcp/packet.js';
import { createCliLogger } from '../../src/log.js';
import { EventService } from '../../src/events/events.js';
import { createMetrics } from '../../src/metrics/registry.js';
import { BootContacts } from '../../src/provisioning/contacts.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import type { Store } from '../../src/store/store.js';
import { ipToInt } from '../../src/util/ipv4.js';
import { TEST_LOADERS, testBooter } from '../helpers/dhcp-booter.js';
import { craft } from '../helpers/dhcp-lab.js';
import { tempDir } from '../helpers/tmp.js';

const SERVER = '10.231.1.1';
const SUBNETS: DhcpSubnetConfig[] = [{ subnet: '10.231.1.0/24', pools: ['10.231.1.100-10.231.1.102'], routers: [], dnsServers: [], domainName: '', leaseSeconds: 3600, unknownClients: 'discover' }];
const NODE = '52:54:00:12:34:56';
const NODE_IP = '10.231.1.50';
/** What iPXE sends as option 61: hardware type 1 and the MAC. */
const NODE_CID = Buffer.from('01525400123456', 'hex');
const STRANGER = '52:54:00:66:66:66';
const T0 = 1_000_000;
const booter = testBooter([{ mac: NODE, name: 'node-a', ip: NODE_IP }], TEST_LOADERS);

/** A book as the server keeps it: the node's reservation known (setReservations). */
function bookWith(opts: { declineProbationMs?: number } = {}): LeaseBook {
  const book = new LeaseBook(SUBNETS, { serverAddress: SERVER, ...opts });
  book.setReservations(new Map([[NODE_IP, [NODE]]]));
  return book;
}

async function send(book: LeaseBook, b: Buffer, now: number): Promise<Decision> {
  const p = parsePacket(b);
  assert.ok(p.ok);
  const c = checkRequest(p.packet);
  assert.ok(c.ok);
  const r = c.request;
  const plan = r.type === 'DECLINE' ? undefined : await booter.plan(describeClient(r));
  return decide(r, plan, { mode: 'full', serverAddress: SERVER, book, now, viaProxyPort: false });
}

const serverId: [number, Buffer] = [OPT.SERVER_ID, ipBytes(SERVER)];
const discover = (mac = NODE): Buffer => craft(mac, MSG.DISCOVER, [[OPT.CLIENT_ID, NODE_CID]]);
const select = (ip = NODE_IP): Buffer => craft(NODE, MSG.REQUEST, [serverId, [OPT.REQUESTED_IP, ipBytes(ip)], [OPT.CLIENT_ID, NODE_CID]]);
function decline(mac: string, opts: { ip?: string | null; cid?: Buffer | null; serverId?: string | null } = {}): Buffer {
  const o: Array<[number, Buffer]> = [];
  const ip = opts.ip === undefined ? NODE_IP : opts.ip;
  const sid = opts.serverId === undefined ? SERVER : opts.serverId;
  const cid = opts.cid === undefined ? NODE_CID : opts.cid;
  if (ip) o.push([OPT.REQUESTED_IP, ipBytes(ip)]);
  if (sid) o.push([OPT.SERVER_ID, ipBytes(sid)]);
  if (cid) o.push([OPT.CLIENT_ID, cid]);
  return craft(mac, MSG.DECLINE, o);
}

/** The node boots: OFFER and ACK of its reservation, with its client identifier on the lease. */
async function bindNode(book: LeaseBook, now = T0): Promise<void> {
  assert.equal((await send(book, discover(), now)).ip, NODE_IP);
  const ack = await send(book, select(), now);
  assert.equal(ack.outcome, 'ack');
  assert.equal(ack.persist?.[0]?.clientId, '01525400123456');
}

/** The node's address is still its own: its lease is bound, offered again, and renewed. */
async function stillTheNodes(book: LeaseBook, now: number): Promise<void> {
  const lease = book.leaseAt(ipToInt(NODE_IP));
  assert.equal(lease?.state, 'bound');
  assert.equal(lease?.mac, NODE);
  const offer = await send(book, discover(), now);
  assert.equal(offer.outcome, 'offer', offer.reason);
  assert.equal(offer.ip, NODE_IP);
  assert.equal((await send(book, select(), now)).outcome, 'ack');
}

describe('dhcp DECLINE: only the lease holder, and a reserved address only for its probation', () => {
  it('a DECLINE of the node\'s address from another MAC changes nothing: reported as ignored, nothing persisted', async () => {
    const book = bookWith();
    await bindNode(book);
    const d = await send(book, decline(STRANGER), T0 + 1000);
    assert.equal(d.outcome, 'ignored');
    assert.equal(d.persist, undefined, 'nothing to write');
    assert.equal(d.reply, undefined);
    assert.deepEqual(d.decline, { outcome: 'ignored', reason: 'not-holder', detail: `${NODE_IP} is leased to another client` });
    // A stranger that copies the node's client identifier is no more the holder.
    assert.equal((await send(book, decline(STRANGER, { cid: NODE_CID }), T0 + 1000)).decline?.outcome, 'ignored');
    await stillTheNodes(book, T0 + 2000);
  });

  it("the holder's MAC with another client identifier, or with none, is ignored: the node keeps its address", async () => {
    const book = bookWith();
    await bindNode(book);
    const other = await send(book, decline(NODE, { cid: Buffer.from('01aabbccddeeff', 'hex') }), T0 + 1000);
    assert.equal(other.outcome, 'ignored');
    assert.equal(other.persist, undefined);
    assert.deepEqual(other.decline, { outcome: 'ignored', reason: 'client-id-mismatch', detail: `${NODE_IP} is leased to this MAC with another client identifier` });
    const none = await send(book, decline(NODE, { cid: null }), T0 + 1000);
    assert.equal(none.decline?.outcome === 'ignored' && none.decline.reason, 'client-id-mismatch');
    await stillTheNodes(book, T0 + 2000);
  });

  it('a DECLINE naming another server, no address, an unleased address or a mere OFFER is ignored, with why', async () => {
    const book = bookWith();
    // Offered, not yet ACKed: the client has not probed the address yet, nothing to decline.
    assert.equal((await send(book, discover(), T0)).ip, NODE_IP);
    const offered = await send(book, decline(NODE), T0);
    assert.equal(offered.decline?.outcome === 'ignored' && offered.decline.reason, 'not-leased');
    assert.equal(book.leaseAt(ipToInt(NODE_IP))?.state, 'offered');
    await bindNode(book);
    const cases: Array<[Buffer, string]> = [
      [decline(NODE, { serverId: '10.231.1.254' }), 'other-server'],
      [decline(NODE, { ip: null }), 'no-requested-address'],
      [decline(NODE, { ip: '10.231.1.77' }), 'not-leased'],
      [decline(NODE, { ip: '192.168.9.9' }), 'not-leased'],
    ];
    for (const [b, reason] of cases) {
      const d = await send(book, b, T0 + 1000);
      assert.equal(d.outcome, 'ignored');
      assert.equal(d.persist, undefined);
      assert.equal(d.decline?.outcome === 'ignored' && d.decline.reason, reason, d.reason);
    }
    await stillTheNodes(book, T0 + 2000);
  });

  it("the holder's DECLINE quarantines a reserved address for the probation (60 s by default), then the node gets it again", async () => {
    const book = bookWith();
    await bindNode(book);
    const t = T0 + 5000;
    const d = await send(book, decline(NODE), t);
    assert.equal(d.outcome, 'declined');
    assert.deepEqual(d.decline, { outcome: 'quarantined', reserved: true, quarantineSeconds: 60 });
    assert.equal(d.persist?.length, 1);
    assert.deepEqual({ ip: d.persist![0]!.ip, state: d.persist![0]!.state, expiresAt: d.persist![0]!.expiresAt }, { ip: NODE_IP, state: 'declined', expiresAt: t + 60_000 });
    // During the probation nobody gets it, the node included (it can be given no other address).
    assert.equal((await send(book, discover(), t + 59_999)).outcome, 'no-address');
    assert.equal((await send(book, select(), t + 59_999)).outcome, 'nak');
    // The probation is over: offered and bound again.
    const offer = await send(book, discover(), t + 60_000);
    assert.equal(offer.outcome, 'offer', offer.reason);
    assert.equal(offer.ip, NODE_IP);
    assert.equal((await send(book, select(), t + 60_000)).outcome, 'ack');
    assert.equal(book.leaseAt(ipToInt(NODE_IP))?.state, 'bound');
  });

  it('the probation is configurable, and a node added seconds ago gets it too (its own packets name its reservation)', async () => {
    const book = new LeaseBook(SUBNETS, { serverAddress: SERVER, declineProbationMs: 10_000 });
    // No setReservations yet: the server refreshes them every few seconds.
    await bindNode(book);
    const d = await send(book, decline(NODE), T0 + 1000);
    assert.deepEqual(d.decline, { outcome: 'quarantined', reserved: true, quarantineSeconds: 10 });
    assert.equal((await send(book, discover(), T0 + 10_999)).outcome, 'no-address');
    assert.equal((await send(book, discover(), T0 + 11_000)).ip, NODE_IP);
  });

  it('a declined pool address is held back an hour and its client gets another', async () => {
    const book = bookWith();
    const pc = '52:54:00:aa:00:04';
    assert.equal((await send(book, craft(pc, MSG.DISCOVER), T0)).ip, '10.231.1.100');
    assert.equal((await send(book, craft(pc, MSG.REQUEST, [serverId, [OPT.REQUESTED_IP, ipBytes('10.231.1.100')]]), T0)).outcome, 'ack');
    const d = await send(book, decline(pc, { ip: '10.231.1.100', cid: null }), T0 + 1000);
    assert.deepEqual(d.decline, { outcome: 'quarantined', reserved: false, quarantineSeconds: 3600 });
    assert.equal((await send(book, craft(pc, MSG.DISCOVER), T0 + 2000)).ip, '10.231.1.101');
    assert.equal(book.availableTo(ipToInt('10.231.1.100'), '52:54:00:aa:00:05', T0 + 1000 + 3_599_999), false);
    assert.equal(book.availableTo(ipToInt('10.231.1.100'), '52:54:00:aa:00:05', T0 + 1000 + 3_600_000), true);
  });

  it('a longer quarantine of a reserved address, persisted before (an older version, another probation), ends after the probation', async () => {
    const book = new LeaseBook(SUBNETS, { serverAddress: SERVER });
    book.load([{ ip: NODE_IP, mac: NODE, clientId: '01525400123456', hostname: null, subnet: '10.231.1.0/24', state: 'declined', expiresAt: T0 + 3_600_000, updatedAt: T0 }]);
    book.setReservations(new Map([[NODE_IP, [NODE]]]));
    assert.equal((await send(book, discover(), T0 + 59_000)).outcome, 'no-address');
    assert.equal(book.expire(T0 + 60_000), 1, 'the sweep drops it at the end of the probation');
    assert.equal((await send(book, discover(), T0 + 60_000)).ip, NODE_IP);
  });
});

describe('dhcp DECLINE: reported as a metric and on the timeline', () => {
  it('rhevboot_dhcp_declines_total reads the server\'s counters at scrape time', async () => {
    const metrics = createMetrics();
    metrics.sources.dhcp = () => ({ declineQuarantined: 1, declineIgnored: 3 });
    const { body } = await metrics.render();
    assert.match(body, /^rhevboot_dhcp_declines_total\{outcome="quarantined"\} 1$/m);
    assert.match(body, /^rhevboot_dhcp_declines_total\{outcome="ignored"\} 3$/m);
  });

  it("a node's quarantine is its node.dhcp contact; ignored DECLINEs fold; a pool address's quarantine is a dhcp.declined event", async () => {
    const store = openSqliteStore({ dir: await tempDir('rhevboot-decline-') });
    try {
      const events = new EventService(store, createCliLogger('silent'));
      const node = { name: 'node-a' };
      const nodes = {
        byIp: async (ip: string) => (ip === NODE_IP ? node : undefined),
        byMac: async (mac: string) => (mac === NODE ? node : undefined),
      };
      const contacts = new BootContacts({ store: { nodes } as unknown as Store, nodes: { atAddress: async () => undefined }, events, lifecycle: {} as never });
      // A flood of spoofed DECLINEs from random MACs for the node's address: one event, counted.
      for (let i = 0; i < 5; i++) {
        await contacts.dhcpDecline({ mac: `52:54:00:66:66:6${i}`, ip: NODE_IP, outcome: 'ignored', reason: 'not-holder', detail: `${NODE_IP} is leased to another client` });
      }
      await contacts.dhcpDecline({ mac: NODE, ip: NODE_IP, outcome: 'quarantined', reason: 'in-use', detail: 'x', reserved: true, quarantineSeconds: 60 });
      await contacts.dhcpDecline({ mac: '52:54:00:aa:00:04', ip: '10.231.1.100', outcome: 'quarantined', reason: 'in-use', detail: 'x', reserved: false, quarantineSeconds: 3600 });
      await contacts.dhcpDecline({ mac: '52:54:00:aa:00:05', ip: '10.231.1.101', outcome: 'ignored', reason: 'not-leased', detail: 'x' });
      await events.flush();
      const timeline = await store.events.list({ subjectType: 'node', subject: 'node-a' });
      assert.deepEqual(timeline.map((e) => e.kind), ['node.dhcp-decline-ignored', 'node.dhcp-decline-ignored', 'node.dhcp']);
      assert.equal(timeline[0]!.message, `DHCP DECLINE of ${NODE_IP} ignored: ${NODE_IP} is leased to another client`);
      assert.deepEqual({ mac: timeline[0]!.data.mac, reason: timeline[0]!.data.reason }, { mac: '52:54:00:66:66:60', reason: 'not-holder' }, 'the sender is in the data');
      assert.match(timeline[1]!.message, /^DHCP DECLINE of 10\.231\.1\.50 ignored: .* \(4 more times since /);
      assert.equal(timeline[1]!.data.repeats, 4, 'the four repeats are one event with a count');
      assert.equal(timeline[2]!.message, `DHCP DECLINE from ${NODE}: ${NODE_IP} is in use on the network, quarantined for 60 s`);
      assert.equal(timeline[2]!.data.quarantineSeconds, 60);
      const pool = await store.events.list({ subjectType: 'address' });
      assert.deepEqual(pool.map((e) => [e.kind, e.subject]), [['dhcp.declined', '10.231.1.100']], 'an ignored DECLINE of nobody\'s address is only counted');
    } finally {
      await store.close();
    }
  });
});
