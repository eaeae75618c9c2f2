/**
 * The DHCP server: sockets, timers and group commit around the pure codec (packet.ts,
 * options.ts), lease book (leases.ts) and decisions (decide.ts).
 *
 * How the appliance binds, and why:
 * - One socket on 0.0.0.0:67 (`dhcp.port`). Clients without an address broadcast, and a socket
 *   bound to a unicast address never sees broadcasts (libeval §1), so the wildcard is required.
 *   `reuseAddr` is false: a second DHCP server on this host (a system dnsmasq, another rhevboot)
 *   makes start fail loudly instead of both silently sharing the port.
 * - Node's dgram has neither SO_BINDTODEVICE nor IP_PKTINFO, so a broadcast's arrival interface is
 *   unknowable. The appliance therefore serves ONE provisioning segment directly (`dhcp.interface`,
 *   whose address is `dhcp.serverAddress`: the server identifier and next-server; non-relayed
 *   requests get the subnet that contains it) plus any number of relayed subnets, which need no
 *   interface knowledge: the relay's giaddr selects the subnet and replies go to giaddr:67.
 *   (The TFTP socket addon in src/native could learn IP_PKTINFO; DHCP does not depend on it, so a
 *   machine without a compiler still serves DHCP.) Run the appliance (or its DHCP) in a network
 *   namespace to serve a second segment directly.
 * - Broadcast replies go to 255.255.255.255. Linux routes that by the routing table (with no
 *   route: ENETUNREACH; with a default route elsewhere: out of the wrong interface), so the
 *   provisioning interface wants `ip route add 255.255.255.255/32 dev <dhcp.interface>` (the
 *   same advice ISC dhcpd gave). Without that route the server falls back, once and for good, to
 *   the directed broadcast of the provisioning subnet (e.g. 10.0.0.255), which the kernel always
 *   sends out of the interface that owns the subnet as an Ethernet broadcast.
 * - A client without an address cannot be unicast to (that needs an ARP entry), so such replies
 *   are broadcast (decide.ts `destinationFor`).
 * - ProxyDHCP mode adds a socket on 0.0.0.0:4011 (`dhcp.proxyPort`), answered by unicast to the
 *   source address and port.
 *
 * Persistence: leases live in memory for the packet path. ACKs (and RELEASE/DECLINE state) are
 * group-committed: records queue up and are written with one `upsertMany` transaction, and only
 * then are their ACKs sent, so a lease is on disk before its ACK leaves (a kill -9 cannot forget a
 * lease a client holds). OFFERs are not persisted. A commit costs ~100 µs whatever its size (the
 * WAL append of the touched pages) and ~10 µs per lease, so under load one commit per packet would
 * spend more on commits than on everything else. Commits are therefore paced: an idle server
 * commits at the end of the current event-loop turn, a busy one leaves ten times the last
 * commit's duration (at most `commitIntervalMs`) between commits, and each takes everything that
 * queued meanwhile (see commit-pacer.ts).
 */
import dgram from 'node:dgram';
import type { DhcpSubnetConfig } from '../config/load.js';
import type { BootClient, BootPlan } from '../domain/boot.js';
import type { LeaseRecord } from '../domain/lease.js';
import type { Logger } from '../log.js';
import { checkRequest, decide, describeClient, destinationFor, type Decision, type DeclineIgnored, type Destination } from './decide.js';
import { intToIp, ipToInt } from '../util/ipv4.js';
import { CommitPacer, DEFAULT_COMMIT_INTERVAL_MS } from './commit-pacer.js';
import { DEFAULT_DECLINE_PROBATION_MS, LeaseBook } from './leases.js';
import { formatPacket, MSG, parsePacket } from './packet.js';

export interface DhcpPacketEvent {
  mac: string;
  type: string;
  outcome: string;
  ip?: string;
  node?: string;
}

/**
 * A DHCPDECLINE (full mode) and what became of it: `quarantined` (the lease holder's: the address
 * is out of use for `quarantineSeconds`) or `ignored` (anyone else's, with `reason`: nothing
 * changed). RFC 2131 §4.3.3: the administrator SHOULD be told of the conflict; a DECLINE that was
 * ignored is worth telling too, since it may be someone trying to take a node's address away.
 */
export interface DhcpDeclineEvent {
  /** The DECLINE's chaddr. */
  mac: string;
  /** The declined address (option 50), when the DECLINE named one. */
  ip?: string;
  outcome: 'quarantined' | 'ignored';
  /** `in-use` for a quarantine; else why it was ignored. */
  reason: 'in-use' | DeclineIgnored;
  /** The same in words, without MACs (so repeated spoofs read the same). */
  detail: string;
  /** Quarantined: whether the address is reserved for a node (then the quarantine is the probation). */
  reserved?: boolean;
  quarantineSeconds?: number;
}

/** What the server asks of provisioning: the boot plan for a client (it only renders the answer). */
export interface BootPlanner {
  plan(client: BootClient): Promise<BootPlan>;
}

/** Where leases are kept: loaded into memory at start, group-committed before their ACKs leave. */
export interface LeaseStore {
  all(): Promise<LeaseRecord[]>;
  /** Writes many leases in one transaction, replacing any with the same ip. */
  upsertMany(leases: LeaseRecord[]): Promise<void>;
}

export interface DhcpServerOptions {
  mode: 'full' | 'proxy';
  serverAddress: string;
  bindAddress?: string;
  port: number;
  proxyPort: number;
  clientPort?: number;
  subnets: DhcpSubnetConfig[];
  booter: BootPlanner;
  leases: LeaseStore;
  log: Logger;
  onPacket?: (e: DhcpPacketEvent) => void;
  /** Told of every DECLINE in full mode (also counted in stats(): `declineQuarantined`, `declineIgnored`). */
  onDecline?: (e: DhcpDeclineEvent) => void;
  /**
   * How long a declined address reserved for a node stays out of use (`dhcp.declineProbationSeconds`,
   * default 60). A declined pool address is held back an hour (see leases.ts).
   */
  declineProbationSeconds?: number;
  /**
   * Node reservations (ip -> the node's MACs), so pool addresses reserved for a node that has not
   * booted yet are not handed to someone else. Re-read every few seconds: a node added from the
   * CLI is protected within that time, and the node's own request is always checked at once.
   */
  reservations?: () => Promise<Map<string, string[]>>;
  now?: () => number;
  /**
   * SO_RCVBUF of the DHCP sockets (default 4 MiB; the kernel caps it at net.core.rmem_max). The
   * default ~200 KB holds ~150 requests, which a boot storm fills during one GC pause or WAL
   * checkpoint of a few milliseconds; those clients would wait seconds for their retransmission.
   */
  recvBufferBytes?: number;
  /** Most time between two lease commits while busy (default 5 ms): an ACK waits at most this long for its batch to start. */
  commitIntervalMs?: number;
}

const RESERVATION_REFRESH_MS = 3000;
const DEFAULT_RECV_BUFFER_BYTES = 4 * 1024 * 1024;

export interface DhcpServer {
  close(): Promise<void>;
  stats(): Record<string, number>;
}

/** A formatted reply and where it goes. */
interface Reply {
  sock: dgram.Socket;
  buf: Buffer;
  dest: Destination;
  /** The message type as counted (`out.ACK`) and logged. */
  type: string;
}

/** Lease records waiting for the next commit, and the reply that may leave only after it. */
interface Pending {
  records: LeaseRecord[];
  reply?: Reply;
}

const REPLY_TYPES: Record<string, string> = { offer: 'OFFER', ack: 'ACK', nak: 'NAK', 'proxy-offer': 'OFFER', 'proxy-ack': 'ACK', 'inform-ack': 'ACK' };

const EXPIRY_SWEEP_MS = 30_000;

export async function startDhcpServer(opts: DhcpServerOptions): Promise<DhcpServer> {
  const now = opts.now ?? Date.now;
  const log = opts.log.child({ component: 'dhcp' });
  const clientPort = opts.clientPort ?? 68;
  const counters: Record<string, number> = {};
  const count = (k: string, n = 1): void => {
    counters[k] = (counters[k] ?? 0) + n;
  };

  const book = new LeaseBook(opts.subnets, {
    serverAddress: opts.serverAddress,
    declineProbationMs: opts.declineProbationSeconds === undefined ? DEFAULT_DECLINE_PROBATION_MS : opts.declineProbationSeconds * 1000,
  });
  if (opts.mode === 'full') book.load(await opts.leases.all());
  const refreshReservations = async (): Promise<void> => {
    if (!opts.reservations) return;
    try {
      book.setReservations(await opts.reservations());
    } catch (err) {
      log.warn({ err }, 'node reservations not refreshed');
    }
  };
  await refreshReservations();
  const reservationTimer = opts.reservations && opts.mode === 'full' ? setInterval(() => void refreshReservations(), RESERVATION_REFRESH_MS) : undefined;
  reservationTimer?.unref();
  counters.leasesLoaded = book.size;
  const served = opts.serverAddress ? book.subnetOf(ipToInt(opts.serverAddress)) : undefined;
  const directedBroadcast = served ? intToIp(served.cidr.broadcast) : undefined;
  let limitedBroadcastWorks = true;

  const sockets: dgram.Socket[] = [];
  const recvBufferBytes = opts.recvBufferBytes ?? DEFAULT_RECV_BUFFER_BYTES;
  const bindAddress = opts.bindAddress ?? '0.0.0.0';

  function bind(port: number): Promise<dgram.Socket> {
    return new Promise((resolve, reject) => {
      const s = dgram.createSocket({ type: 'udp4', reuseAddr: false });
      const onError = (err: Error): void => reject(err);
      s.once('error', onError);
      s.bind({ port, address: bindAddress, exclusive: true }, () => {
        s.off('error', onError);
        s.setBroadcast(true);
        try {
          s.setRecvBufferSize(recvBufferBytes);
        } catch (err) {
          log.warn({ err, bytes: recvBufferBytes }, 'dhcp receive buffer not enlarged: bursts beyond the default are dropped');
        }
        // A socket error (e.g. ICMP port unreachable reported on a later send) must not kill the
        // server: log and keep serving.
        s.on('error', (err) => {
          count('socketErrors');
          log.warn({ err }, 'dhcp socket error');
        });
        resolve(s);
      });
    });
  }

  function transmit(sock: dgram.Socket, buf: Buffer, dest: Destination, what: string): void {
    const target = dest.kind === 'broadcast' && !limitedBroadcastWorks && directedBroadcast ? directedBroadcast : dest.address;
    sock.send(buf, dest.port, target, (err) => {
      if (!err) {
        count('sent');
        return;
      }
      const code = (err as NodeJS.ErrnoException).code;
      if (dest.kind === 'broadcast' && target === '255.255.255.255' && directedBroadcast && (code === 'ENETUNREACH' || code === 'EHOSTUNREACH')) {
        limitedBroadcastWorks = false;
        log.warn({ fallback: directedBroadcast }, 'no route for 255.255.255.255: broadcasting to the provisioning subnet instead (add `ip route add 255.255.255.255/32 dev <dhcp.interface>`)');
        sock.send(buf, dest.port, directedBroadcast, (err2) => count(err2 ? 'sendErrors' : 'sent'));
        return;
      }
      count('sendErrors');
      log.debug({ err, to: `${target}:${dest.port}`, what }, 'dhcp send failed');
    });
  }

  // ---- group commit ----
  const queue: Pending[] = [];
  let closed = false;
  const pacer = new CommitPacer(flush, opts.commitIntervalMs ?? DEFAULT_COMMIT_INTERVAL_MS);

  async function flush(): Promise<void> {
    if (queue.length === 0) return;
    const batch = queue.splice(0, queue.length);
    const records: LeaseRecord[] = [];
    for (const p of batch) for (const r of p.records) records.push(r);
    try {
      await opts.leases.upsertMany(records);
      count('leaseCommits');
      count('leasesPersisted', records.length);
      for (const p of batch) if (p.reply) sendReply(p.reply);
    } catch (err) {
      // Not on disk, so not ACKed: the client retries, and we answer once the store is back.
      count('persistFailures');
      log.error({ err, leases: records.length }, 'lease commit failed: the ACKs of this batch are not sent');
    }
  }

  function emit(e: { mac: string; type: string; outcome: string; ip?: string | undefined; node?: string | undefined }): void {
    if (!opts.onPacket) return;
    const ev: DhcpPacketEvent = { mac: e.mac, type: e.type, outcome: e.outcome };
    if (e.ip) ev.ip = e.ip;
    if (e.node) ev.node = e.node;
    try {
      opts.onPacket(ev);
    } catch (err) {
      log.warn({ err }, 'onPacket listener threw');
    }
  }

  function reportDecline(r: { mac: string }, d: Decision): void {
    const rep = d.decline!;
    const e: DhcpDeclineEvent =
      rep.outcome === 'quarantined'
        ? { mac: r.mac, outcome: 'quarantined', reason: 'in-use', detail: d.reason, reserved: rep.reserved, quarantineSeconds: rep.quarantineSeconds }
        : { mac: r.mac, outcome: 'ignored', reason: rep.reason, detail: rep.detail };
    if (d.ip) e.ip = d.ip;
    if (rep.outcome === 'quarantined') {
      count('declineQuarantined');
      // RFC 2131 §4.3.3: the administrator SHOULD be told (Kea logs a warning too).
      log.warn({ mac: r.mac, ip: d.ip, reserved: rep.reserved, seconds: rep.quarantineSeconds }, 'dhcp: address declined (in use on the network): quarantined');
    } else {
      count('declineIgnored');
      // Debug only: a flood of spoofed DECLINEs must not flood the log; the counter shows it.
      log.debug({ mac: r.mac, ip: d.ip, reason: rep.reason }, d.reason);
    }
    if (!opts.onDecline) return;
    try {
      opts.onDecline(e);
    } catch (err) {
      log.warn({ err }, 'onDecline listener threw');
    }
  }

  async function handle(sock: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo, viaProxyPort: boolean): Promise<void> {
    count('received');
    const parsed = parsePacket(msg);
    if (!parsed.ok) {
      count('malformed');
      log.debug({ from: `${rinfo.address}:${rinfo.port}`, bytes: msg.length, reason: parsed.reason }, 'dhcp packet rejected');
      return;
    }
    const checked = checkRequest(parsed.packet);
    if (!checked.ok) {
      count('rejected');
      log.debug({ from: `${rinfo.address}:${rinfo.port}`, reason: checked.reason }, 'dhcp packet rejected');
      return;
    }
    const r = checked.request;
    count(`in.${r.type}`);
    const type = r.t.messageType!;
    let plan: BootPlan | undefined;
    if (type === MSG.DISCOVER || type === MSG.REQUEST || type === MSG.INFORM) {
      try {
        plan = await opts.booter.plan(describeClient(r));
      } catch (err) {
        count('booterErrors');
        log.warn({ err, mac: r.mac }, 'boot plan failed: not answering');
        return;
      }
    }
    if (closed) return;
    let d: Decision;
    try {
      d = decide(r, plan, { mode: opts.mode, serverAddress: opts.serverAddress, book, now: now(), viaProxyPort });
    } catch (err) {
      // decide is pure and should not throw; if it does, one packet is lost, not the server.
      count('internalErrors');
      log.error({ err, mac: r.mac }, 'dhcp decision failed');
      return;
    }
    count(`outcome.${d.outcome}`);
    const node = plan?.node?.name;
    // Built only when someone reads it: at thousands of packets a second the garbage counts.
    if (log.isLevelEnabled('debug')) log.debug({ mac: r.mac, type: r.type, outcome: d.outcome, reason: d.reason, ip: d.ip, node }, 'dhcp');
    if (opts.onPacket) emit({ mac: r.mac, type: r.type, outcome: d.outcome, ip: d.ip, node });
    if (d.decline) reportDecline(r, d);

    let reply: Reply | undefined;
    if (d.reply) {
      const dest = destinationFor(r.packet, d.reply, rinfo, { server: opts.port, client: clientPort, viaProxyPort });
      reply = { sock, buf: formatPacket(d.reply), dest, type: REPLY_TYPES[d.outcome] ?? d.outcome.toUpperCase() };
    }
    if (d.persist?.length) {
      queue.push(reply ? { records: d.persist, reply } : { records: d.persist });
      pacer.request();
    } else if (reply) {
      sendReply(reply);
    }
  }

  function sendReply(reply: Reply): void {
    if (closed) return;
    transmit(reply.sock, reply.buf, reply.dest, reply.type);
    count(`out.${reply.type}`);
    count(`dest.${reply.dest.kind}`);
  }

  function listen(sock: dgram.Socket, viaProxyPort: boolean): void {
    sock.on('message', (msg, rinfo) => {
      handle(sock, msg, rinfo, viaProxyPort).catch((err: unknown) => {
        count('internalErrors');
        log.error({ err }, 'dhcp packet handling failed');
      });
    });
  }

  try {
    const main = await bind(opts.port);
    sockets.push(main);
    listen(main, false);
    if (opts.mode === 'proxy') {
      const boot = await bind(opts.proxyPort);
      sockets.push(boot);
      listen(boot, true);
    }
  } catch (err) {
    for (const s of sockets) s.close();
    if (reservationTimer) clearInterval(reservationTimer);
    throw err;
  }

  const sweep = setInterval(() => {
    const n = book.expire(now());
    if (n) count('expired', n);
  }, EXPIRY_SWEEP_MS);
  sweep.unref();

  log.info({ mode: opts.mode, bind: `${bindAddress}:${opts.port}`, serverAddress: opts.serverAddress, subnets: opts.subnets.map((s) => s.subnet), leases: book.size }, 'dhcp server listening');

  return {
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(sweep);
      if (reservationTimer) clearInterval(reservationTimer);
      await Promise.all(sockets.map((s) => new Promise<void>((res) => s.close(() => res()))));
      // Commit what is queued and let an in-flight commit finish, so those leases are on disk
      // (their ACKs are dropped: the sockets are closed).
      await pacer.drain();
    },
    stats() {
      return { ...counters, leases: book.size, pendingCommits: queue.length };
    },
  };
}
