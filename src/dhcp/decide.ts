/**
 * What to answer (pure): a parsed request + the lease book + the node's boot plan -> a reply (or
 * none), where it goes, what must be persisted before it leaves, and why. No sockets, no clock:
 * the server passes `now`. The lease book is mutated in memory here; persisting is the server's.
 */
import type { BootClient, BootPlan } from '../domain/boot.js';
import type { LeaseRecord } from '../domain/lease.js';
import { inCidr, intToIp, ipToInt } from '../util/ipv4.js';
import { isZero } from './ip.js';
import type { Decline, LeaseBook, Subnet } from './leases.js';
import { ipBytes, ipsBytes, OPT, PXE_DISCOVERY_CONTROL_USE_OFFER, strBytes, typed, u32Bytes, type TypedOptions } from './options.js';
import { BOOTREPLY, BOOTREQUEST, FLAG_BROADCAST, macOf, messageTypeName, MSG, type DhcpPacket } from './packet.js';

export interface Request {
  packet: DhcpPacket;
  t: TypedOptions;
  mac: string;
  type: string;
}

export type Check = { ok: true; request: Request } | { ok: false; reason: string };

/** Header checks that parsing (which only checks syntax) leaves to the server. */
export function checkRequest(packet: DhcpPacket): Check {
  if (packet.op !== BOOTREQUEST) return { ok: false, reason: 'not a BOOTREQUEST (op 2)' };
  if (packet.hlen === 0) return { ok: false, reason: 'hlen 0: no client hardware address' };
  const t = typed(packet.options);
  if (t.messageType === undefined) return { ok: false, reason: 'no DHCP message type (plain BOOTP is not served)' };
  if (t.messageType < MSG.DISCOVER || t.messageType > MSG.INFORM || t.messageType === MSG.OFFER || t.messageType === MSG.ACK || t.messageType === MSG.NAK) {
    return { ok: false, reason: `message type ${t.messageType} is not a client message` };
  }
  return { ok: true, request: { packet, t, mac: macOf(packet), type: messageTypeName(t.messageType) } };
}

/** The boot question's view of a DHCP client. */
export function describeClient(r: Request): BootClient {
  const { t, packet } = r;
  const c: BootClient = { mac: r.mac };
  if (t.clientArch?.length) c.arch = t.clientArch[0]!;
  if (t.vendorClass !== undefined) c.vendorClass = t.vendorClass;
  if (t.userClass?.length) c.userClass = t.userClass[0]!;
  // iPXE announces itself with user class "iPXE" and with option 175 (its feature list); a
  // chainloaded iPXE build with a custom user class still sends 175.
  if (t.userClass?.includes('iPXE') || t.ipxe !== undefined) c.ipxe = true;
  if (t.clientUuid !== undefined) c.uuid = t.clientUuid;
  if (!isZero(packet.giaddr)) c.giaddr = packet.giaddr;
  if (!isZero(packet.ciaddr)) c.ip = packet.ciaddr;
  return c;
}

/**
 * Only firmware gets boot fields: an installed OS renewing its lease gets an address, not a
 * boot file (a BIOS that sees `file` set would not care, but a Linux dhclient writes it to disk
 * and some installers act on it).
 */
export function isBootClient(r: Request): boolean {
  const vc = r.t.vendorClass ?? '';
  return vc.startsWith('PXEClient') || vc.startsWith('HTTPClient') || r.t.clientArch !== undefined || r.t.userClass?.includes('iPXE') === true || r.t.ipxe !== undefined;
}

export interface DecideContext {
  mode: 'full' | 'proxy';
  serverAddress: string;
  book: LeaseBook;
  now: number;
  /** True when the request arrived on the ProxyDHCP boot-server port (4011). */
  viaProxyPort: boolean;
}

export interface Decision {
  reply?: DhcpPacket;
  /** Lease records that must be on disk before `reply` is sent. */
  persist?: LeaseRecord[];
  /** offer, ack, nak, proxy-offer, proxy-ack, ignored, released, declined, ... */
  outcome: string;
  reason: string;
  ip?: string;
  /** For a DECLINE in full mode: what became of it (the server reports and counts it). */
  decline?: DeclineReport;
}

/** Why a DECLINE was ignored. */
export type DeclineIgnored = 'other-server' | 'no-requested-address' | Extract<Decline, { ok: false }>['reason'];

export type DeclineReport =
  | { outcome: 'quarantined'; reserved: boolean; quarantineSeconds: number }
  | { outcome: 'ignored'; reason: DeclineIgnored; detail: string };

function none(outcome: string, reason: string): Decision {
  return { outcome, reason };
}

/** Picks the subnet: by relay address, else by the client's own address, else the served segment. */
export function subnetFor(book: LeaseBook, packet: DhcpPacket, serverAddress: string): Subnet | undefined {
  if (!isZero(packet.giaddr)) return book.subnetOf(ipToInt(packet.giaddr));
  if (!isZero(packet.ciaddr)) {
    const s = book.subnetOf(ipToInt(packet.ciaddr));
    if (s) return s;
  }
  return serverAddress ? book.subnetOf(ipToInt(serverAddress)) : undefined;
}

/**
 * Option values that are the same in every reply of a subnet (or of the server), encoded once:
 * re-encoding them per packet was a visible share of the packet path. Replies share these
 * buffers, so nothing may write into an option value of a reply (formatPacket only copies).
 */
interface SubnetWire {
  mask: Buffer;
  broadcast: Buffer;
  routers?: Buffer;
  dnsServers?: Buffer;
  domainName?: Buffer;
  leaseTimes: Buffer[];
}

const subnetWire = new WeakMap<Subnet, SubnetWire>();

function wireOf(subnet: Subnet): SubnetWire {
  let w = subnetWire.get(subnet);
  if (!w) {
    const cfg = subnet.cfg;
    const s = cfg.leaseSeconds;
    w = {
      mask: ipBytes(intToIp(subnet.cidr.mask)),
      broadcast: ipBytes(intToIp(subnet.cidr.broadcast)),
      leaseTimes: [u32Bytes(s), u32Bytes(Math.floor(s / 2)), u32Bytes(Math.floor((s * 7) / 8))],
    };
    if (cfg.routers.length) w.routers = ipsBytes(cfg.routers);
    if (cfg.dnsServers.length) w.dnsServers = ipsBytes(cfg.dnsServers);
    if (cfg.domainName) w.domainName = strBytes(cfg.domainName);
    subnetWire.set(subnet, w);
  }
  return w;
}

const MESSAGE_TYPES = new Map<number, Buffer>(Object.values(MSG).map((t) => [t, Buffer.from([t])]));
const serverIdBytes = new Map<string, Buffer>();

function serverIdOf(serverAddress: string): Buffer {
  let b = serverIdBytes.get(serverAddress);
  if (!b) {
    b = ipBytes(serverAddress);
    // One server address per process in practice; the bound keeps a test run from growing this.
    if (serverIdBytes.size > 64) serverIdBytes.clear();
    serverIdBytes.set(serverAddress, b);
  }
  return b;
}

function baseReply(req: DhcpPacket, type: number, serverAddress: string): DhcpPacket {
  const options = new Map<number, Buffer>();
  options.set(OPT.MESSAGE_TYPE, MESSAGE_TYPES.get(type) ?? Buffer.from([type]));
  options.set(OPT.SERVER_ID, serverIdOf(serverAddress));
  return {
    op: BOOTREPLY,
    htype: req.htype,
    hlen: req.hlen,
    hops: 0,
    xid: req.xid,
    secs: 0,
    flags: req.flags,
    ciaddr: '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: req.giaddr,
    chaddr: req.chaddr,
    sname: '',
    file: '',
    options,
  };
}

function addNetworkOptions(reply: DhcpPacket, subnet: Subnet): void {
  const o = reply.options;
  const w = wireOf(subnet);
  o.set(OPT.SUBNET_MASK, w.mask);
  o.set(OPT.BROADCAST, w.broadcast);
  if (w.routers) o.set(OPT.ROUTERS, w.routers);
  if (w.dnsServers) o.set(OPT.DNS_SERVERS, w.dnsServers);
  if (w.domainName) o.set(OPT.DOMAIN_NAME, w.domainName);
}

function addLeaseTimes(reply: DhcpPacket, subnet: Subnet): void {
  const [lease, renewal, rebinding] = wireOf(subnet).leaseTimes;
  reply.options.set(OPT.LEASE_TIME, lease!);
  reply.options.set(OPT.RENEWAL_TIME, renewal!);
  reply.options.set(OPT.REBINDING_TIME, rebinding!);
}

/**
 * Renders the boot plan: next-server, the `file` field AND option 67 (firmwares differ in which
 * one they read), option 60 so the firmware accepts the offer, and for PXEClient option 43
 * `06 01 08 ff` (pxe-lab G8: neither iPXE nor EDK2 then waits for a ProxyDHCP offer).
 */
function addBoot(reply: DhcpPacket, r: Request, plan: BootPlan, serverAddress: string): boolean {
  if (!plan.bootFile) return false;
  reply.siaddr = serverAddress;
  // The 128-byte file field holds 127 characters and a NUL; a longer URL travels in option 67 only.
  reply.file = plan.bootFile.length <= 127 ? plan.bootFile : '';
  const o = reply.options;
  const vc = plan.vendorClass;
  if (vc) o.set(OPT.VENDOR_CLASS, strBytes(vc));
  if (vc === 'PXEClient') o.set(OPT.VENDOR_SPECIFIC, PXE_DISCOVERY_CONTROL_USE_OFFER);
  o.set(OPT.BOOTFILE, strBytes(plan.bootFile));
  // PXE 2.1: the boot server echoes the client machine identifier; some vendor ROMs match on it.
  const uuid = r.packet.options.get(OPT.CLIENT_UUID);
  if (uuid) o.set(OPT.CLIENT_UUID, uuid);
  return true;
}

/** RFC 3046: the relay agent information is echoed, last, so the relay can route the reply. */
function echoRelay(reply: DhcpPacket, r: Request): void {
  const ra = r.packet.options.get(OPT.RELAY_AGENT);
  if (ra && !isZero(r.packet.giaddr)) {
    reply.options.delete(OPT.RELAY_AGENT);
    reply.options.set(OPT.RELAY_AGENT, ra);
  }
}

function nak(r: Request, ctx: DecideContext, reason: string): Decision {
  const reply = baseReply(r.packet, MSG.NAK, ctx.serverAddress);
  reply.options.set(OPT.MESSAGE, strBytes(reason.slice(0, 200)));
  // RFC 2131 §4.3.2: a NAK through a relay carries the broadcast bit so the relay broadcasts it.
  if (!isZero(r.packet.giaddr)) reply.flags |= FLAG_BROADCAST;
  echoRelay(reply, r);
  return { reply, outcome: 'nak', reason };
}

export function decide(r: Request, plan: BootPlan | undefined, ctx: DecideContext): Decision {
  const type = r.t.messageType!;
  if (type === MSG.DECLINE && ctx.mode === 'full') return decideDecline(r, ctx);
  if (r.t.serverId !== undefined && r.t.serverId !== ctx.serverAddress && type !== MSG.DISCOVER) {
    if (type === MSG.REQUEST && ctx.mode === 'full') {
      const s = subnetFor(ctx.book, r.packet, ctx.serverAddress);
      if (s) ctx.book.withdrawOffer(s, r.mac);
    }
    return none('ignored', `server identifier ${r.t.serverId} is not ours (the client chose another server)`);
  }
  if (ctx.mode === 'proxy') return decideProxy(r, plan, ctx);
  return decideFull(r, plan, ctx);
}

/**
 * ProxyDHCP: boot information only, never an address. On 67 it answers DISCOVERs of PXE clients
 * with an OFFER without yiaddr; on 4011 it answers the boot-server REQUEST (or INFORM) with an ACK
 * unicast to the source.
 */
function decideProxy(r: Request, plan: BootPlan | undefined, ctx: DecideContext): Decision {
  const type = r.t.messageType!;
  if (!isBootClient(r)) return none('ignored', 'ProxyDHCP answers PXE/HTTP/iPXE clients only');
  if (!plan || plan.action === 'ignore') return none('ignored', `boot plan says ignore${plan ? `: ${plan.why.join('; ')}` : ''}`);
  let replyType: number;
  if (ctx.viaProxyPort) {
    if (type !== MSG.REQUEST && type !== MSG.INFORM) return none('ignored', `${r.type} on the boot-server port`);
    replyType = MSG.ACK;
  } else {
    if (type !== MSG.DISCOVER && type !== MSG.REQUEST) return none('ignored', `ProxyDHCP ignores ${r.type}`);
    // A REQUEST on 67 is for the real DHCP server; ours went out with the OFFER.
    if (type === MSG.REQUEST) return none('ignored', 'REQUEST on 67 is for the address server');
    replyType = MSG.OFFER;
  }
  const reply = baseReply(r.packet, replyType, ctx.serverAddress);
  if (ctx.viaProxyPort) reply.ciaddr = r.packet.ciaddr;
  // A ProxyDHCP reply always names PXEClient (or HTTPClient) so the client knows what it is.
  const proxyPlan: BootPlan = { ...plan, vendorClass: plan.vendorClass ?? 'PXEClient' };
  if (!addBoot(reply, r, proxyPlan, ctx.serverAddress)) return none('ignored', 'the boot plan has no boot file');
  if (plan.node) reply.options.set(OPT.HOSTNAME, strBytes(plan.node.hostname));
  echoRelay(reply, r);
  return { reply, outcome: ctx.viaProxyPort ? 'proxy-ack' : 'proxy-offer', reason: plan.why.join('; ') };
}

function decideFull(r: Request, plan: BootPlan | undefined, ctx: DecideContext): Decision {
  const type = r.t.messageType!;
  const { book, now } = ctx;
  if (ctx.viaProxyPort) return none('ignored', 'full mode does not serve the boot-server port');
  const subnet = subnetFor(book, r.packet, ctx.serverAddress);
  if (!subnet) return none('ignored', isZero(r.packet.giaddr) ? 'no configured subnet for this segment' : `no configured subnet for relay ${r.packet.giaddr}`);

  if (type === MSG.RELEASE) {
    const rec = book.release(ipToInt(r.packet.ciaddr), r.mac, now);
    return rec ? { outcome: 'released', reason: `${rec.ip} released`, persist: [rec], ip: rec.ip } : none('ignored', `RELEASE of ${r.packet.ciaddr}, not leased to ${r.mac}`);
  }
  if (!plan) return none('ignored', 'no boot plan');
  if (plan.action === 'ignore') return none('ignored', `boot plan says ignore: ${plan.why.join('; ')}`);
  if (!plan.node && subnet.cfg.unknownClients === 'ignore') return none('ignored', `unknown client; ${subnet.cfg.subnet} ignores unknown clients`);
  const reserved = plan.node?.ip ? ipToInt(plan.node.ip) : undefined;
  if (reserved !== undefined) book.noteReservation(reserved, r.mac);
  const boot = isBootClient(r);

  if (type === MSG.INFORM) {
    // RFC 2131 §4.3.5: configuration only, no lease, no yiaddr; ciaddr is the client's.
    const reply = baseReply(r.packet, MSG.ACK, ctx.serverAddress);
    reply.ciaddr = r.packet.ciaddr;
    addNetworkOptions(reply, subnet);
    if (boot) addBoot(reply, r, plan, ctx.serverAddress);
    echoRelay(reply, r);
    return { reply, outcome: 'inform-ack', reason: 'configuration for an already configured client' };
  }


  if (type === MSG.DISCOVER) {
    const requested = r.t.requestedIp ? ipToInt(r.t.requestedIp) : undefined;
    const pick = book.pick(subnet, r.mac, reserved, requested, now);
    if (!pick.ok) return none('no-address', pick.reason);
    book.offer(subnet, r.mac, pick.ip, now);
    const reply = baseReply(r.packet, MSG.OFFER, ctx.serverAddress);
    finishLease(reply, pick.ip, r, plan, subnet, boot, ctx.serverAddress);
    return { reply, outcome: 'offer', reason: reserved !== undefined ? 'reservation' : 'pool', ip: intToIp(pick.ip) };
  }

  // REQUEST (RFC 2131 §4.3.2): which state the client is in decides what it asks for.
  const p = r.packet;
  let ip: number;
  let state: string;
  if (r.t.serverId !== undefined) {
    state = 'selecting';
    const want = r.t.requestedIp ?? (isZero(p.ciaddr) ? undefined : p.ciaddr);
    if (!want) return nak(r, ctx, 'SELECTING REQUEST without a requested address');
    ip = ipToInt(want);
  } else if (r.t.requestedIp !== undefined && isZero(p.ciaddr)) {
    state = 'init-reboot';
    ip = ipToInt(r.t.requestedIp);
    if (!inCidr(subnet.cidr, ip)) return nak(r, ctx, `${r.t.requestedIp} is on the wrong network (${subnet.cfg.subnet})`);
  } else if (!isZero(p.ciaddr)) {
    state = 'renewing';
    ip = ipToInt(p.ciaddr);
  } else {
    return none('ignored', 'REQUEST with neither server identifier, requested address nor ciaddr');
  }
  const ok = book.canBind(subnet, r.mac, ip, reserved, now);
  if (!ok.ok) return nak(r, ctx, `${state}: ${ok.reason}`);
  const rec = book.bind(subnet, r.mac, ip, { clientId: r.t.clientId ?? null, hostname: plan.node?.hostname ?? r.t.hostname ?? null }, subnet.cfg.leaseSeconds * 1000, now);
  const reply = baseReply(r.packet, MSG.ACK, ctx.serverAddress);
  reply.ciaddr = p.ciaddr;
  finishLease(reply, ip, r, plan, subnet, boot, ctx.serverAddress);
  return { reply, persist: [rec], outcome: 'ack', reason: state, ip: rec.ip };
}

/**
 * DHCPDECLINE (RFC 2131 §4.3.3; full mode, the only one that leases): the client found its new
 * address answering ARP. Honoured only as Kea does: option 54, when present, must be ours (RFC
 * 2131 requires it; a DECLINE naming another server is for that server), option 50 must name the
 * address, and that address must be leased to this client (see LeaseBook.decline). An ignored
 * DECLINE changes nothing and persists nothing: a stranger's DECLINE must not take a node's
 * reserved address away. No reply either way.
 */
function decideDecline(r: Request, ctx: DecideContext): Decision {
  const ip = r.t.requestedIp;
  const ignored = (reason: DeclineIgnored, why: string): Decision => {
    const d: Decision = { outcome: 'ignored', reason: `DECLINE ignored: ${why}`, decline: { outcome: 'ignored', reason, detail: why } };
    if (ip) d.ip = ip;
    return d;
  };
  if (r.t.serverId !== undefined && r.t.serverId !== ctx.serverAddress) return ignored('other-server', `server identifier ${r.t.serverId} is not ours`);
  if (!ip) return ignored('no-requested-address', 'no requested address (option 50)');
  const d = ctx.book.decline(ipToInt(ip), { mac: r.mac, clientId: r.t.clientId }, ctx.now);
  if (!d.ok) return ignored(d.reason, d.detail);
  const seconds = Math.round(d.holdMs / 1000);
  return {
    outcome: 'declined',
    reason: `${ip} in use on the network: quarantined for ${seconds} s (${d.reserved ? "a node's reservation: its probation" : 'a pool address'})`,
    persist: [d.record],
    ip,
    decline: { outcome: 'quarantined', reserved: d.reserved, quarantineSeconds: seconds },
  };
}

/** What an OFFER and an ACK carry besides their type: the address, lease times, network, boot. */
function finishLease(reply: DhcpPacket, ip: number, r: Request, plan: BootPlan, subnet: Subnet, boot: boolean, serverAddress: string): void {
  reply.yiaddr = intToIp(ip);
  addLeaseTimes(reply, subnet);
  addNetworkOptions(reply, subnet);
  if (plan.node) reply.options.set(OPT.HOSTNAME, strBytes(plan.node.hostname));
  if (boot) addBoot(reply, r, plan, serverAddress);
  echoRelay(reply, r);
}

export interface Destination {
  address: string;
  port: number;
  kind: 'relay' | 'unicast' | 'broadcast' | 'source';
}

/**
 * Where a reply goes (RFC 2131 §4.1): to the relay's port 67 when relayed; to the client's
 * address when it has one (ciaddr); else broadcast. RFC 2131 would unicast to yiaddr when the
 * broadcast bit is clear, but that needs an ARP entry for an address the client does not hold
 * yet, which Node's sockets cannot create, so those replies are broadcast too (clients accept
 * both). Boot-server (4011) replies go back to the request's source.
 */
export function destinationFor(
  req: DhcpPacket,
  reply: DhcpPacket,
  from: { address: string; port: number },
  ports: { server: number; client: number; viaProxyPort: boolean },
): Destination {
  if (ports.viaProxyPort) return { address: from.address, port: from.port, kind: 'source' };
  if (!isZero(req.giaddr)) return { address: req.giaddr, port: ports.server, kind: 'relay' };
  const type = reply.options.get(OPT.MESSAGE_TYPE)?.[0];
  if (type === MSG.NAK) return { address: '255.255.255.255', port: ports.client, kind: 'broadcast' };
  if (!isZero(req.ciaddr)) return { address: req.ciaddr, port: ports.client, kind: 'unicast' };
  return { address: '255.255.255.255', port: ports.client, kind: 'broadcast' };
}
