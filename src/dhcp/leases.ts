/**
 * The lease book: pools, reservations, offers, bindings, expiry and decline quarantine, all in
 * memory. Pure (no I/O, time passed in): the server loads it from the store at start and
 * persists the records this module returns, so the packet path never waits on a disk read.
 */
import type { DhcpSubnetConfig } from '../config/load.js';
import type { LeaseRecord } from '../domain/lease.js';
import { inCidr, intToIp, ipToInt, parseCidr, type Cidr } from '../util/ipv4.js';

/** A lease in memory: the persisted record with its address as a number for pool arithmetic. */
export type Lease = Omit<LeaseRecord, 'ip'> & { ip: number };

export interface Subnet {
  cfg: DhcpSubnetConfig;
  cidr: Cidr;
  pools: Array<{ start: number; end: number }>;
  /** Addresses never handed out: network, broadcast, the server, routers, DNS servers. */
  excluded: Set<number>;
  /** Allocation cursor: the pool scan resumes where it stopped, so allocation is O(1) amortised. */
  cursor: { pool: number; ip: number };
  byMac: Map<string, Lease>;
}

export interface LeaseBookOptions {
  serverAddress: string;
  /** How long an OFFER holds its address for the client (not persisted). */
  offerHoldMs?: number;
  /**
   * How long a declined address reserved for a node stays out of use (`dhcp.declineProbationSeconds`,
   * Kea's `decline-probation-period`): the node can be given no other address, so a longer
   * quarantine only keeps it from booting.
   */
  declineProbationMs?: number;
  /** How long a declined pool address that is no node's stays out of the pool. */
  declineHoldMs?: number;
}

export const DEFAULT_DECLINE_PROBATION_MS = 60_000;
/**
 * A declined pool address is held back an hour: its client is simply given another address, so a
 * long hold costs nothing but one address, and the host that answered ARP for it is most likely
 * one configured by hand, which does not go away within minutes (Kea holds every declined address
 * 24 hours by default; Windows Server 10 minutes).
 */
export const DEFAULT_POOL_DECLINE_HOLD_MS = 3_600_000;

export type Pick = { ok: true; ip: number } | { ok: false; reason: string };

/** What a DECLINE did: the quarantine it started, or why it changed nothing. */
export type Decline =
  | { ok: true; record: LeaseRecord; reserved: boolean; holdMs: number }
  | { ok: false; reason: 'not-leased' | 'not-holder' | 'client-id-mismatch'; detail: string };

export class LeaseBook {
  readonly subnets: Subnet[];
  private readonly byIp = new Map<number, Lease>();
  /** Addresses reserved for nodes (ip -> the node's MACs): never offered to anyone else. */
  private reservedFor = new Map<number, Set<string>>();
  private readonly offerHoldMs: number;
  private readonly declineProbationMs: number;
  private readonly declineHoldMs: number;

  constructor(configs: DhcpSubnetConfig[], opts: LeaseBookOptions) {
    this.offerHoldMs = opts.offerHoldMs ?? 60_000;
    this.declineProbationMs = opts.declineProbationMs ?? DEFAULT_DECLINE_PROBATION_MS;
    // Never shorter than a reserved address's probation: a pool conflict is no less real.
    this.declineHoldMs = Math.max(opts.declineHoldMs ?? DEFAULT_POOL_DECLINE_HOLD_MS, this.declineProbationMs);
    const server = opts.serverAddress ? ipToInt(opts.serverAddress) : -1;
    this.subnets = configs.map((cfg) => {
      // The config loader has checked the CIDR.
      const cidr = parseCidr(cfg.subnet)!;
      const excluded = new Set<number>([cidr.network, cidr.broadcast, server, ...cfg.routers.map(ipToInt), ...cfg.dnsServers.map(ipToInt)]);
      const pools = cfg.pools
        .map((p) => {
          const [a, b] = p.split('-');
          return { start: ipToInt(a!), end: ipToInt(b!) };
        })
        .filter((p) => p.start <= p.end && inCidr(cidr, p.start) && inCidr(cidr, p.end));
      return { cfg, cidr, pools, excluded, cursor: { pool: 0, ip: pools[0]?.start ?? 0 }, byMac: new Map() };
    });
  }

  /** Replaces the node reservations (the server refreshes them from the node store). */
  setReservations(reservations: Map<string, string[]>): void {
    const next = new Map<number, Set<string>>();
    for (const [ip, macs] of reservations) next.set(ipToInt(ip), new Set(macs));
    this.reservedFor = next;
  }

  /** True when `ip` is reserved for a node that `mac` is not. */
  reservedForOther(ip: number, mac: string): boolean {
    const owners = this.reservedFor.get(ip);
    return owners !== undefined && !owners.has(mac);
  }

  /**
   * The node's own packet named its reservation (its boot plan is read fresh per packet): known at
   * once rather than at the next refresh, so a node added seconds ago that declines its address
   * gets the probation of a reserved address, not the hold of a pool one.
   */
  noteReservation(ip: number, mac: string): void {
    const owners = this.reservedFor.get(ip);
    if (owners) owners.add(mac);
    else this.reservedFor.set(ip, new Set([mac]));
  }

  /**
   * When a declined address comes back. A reserved address's quarantine is cut to the probation
   * counted from the DECLINE, whatever the record says: a quarantine persisted before the address
   * was reserved, by an older version, or under a longer probation must not lock its node out.
   */
  private quarantineEnd(l: Lease): number {
    return this.reservedFor.has(l.ip) ? Math.min(l.expiresAt, l.updatedAt + this.declineProbationMs) : l.expiresAt;
  }

  /** Loads persisted leases (server start). Offers were never persisted. */
  load(records: LeaseRecord[]): void {
    for (const r of records) {
      const ip = ipToInt(r.ip);
      const subnet = this.subnetOf(ip);
      if (!subnet) continue;
      const lease: Lease = { ip, mac: r.mac, clientId: r.clientId, hostname: r.hostname, subnet: subnet.cfg.subnet, state: r.state, expiresAt: r.expiresAt, updatedAt: r.updatedAt };
      this.byIp.set(ip, lease);
      if (r.state === 'bound' || r.state === 'expired' || r.state === 'released') {
        const prev = subnet.byMac.get(r.mac);
        if (!prev || prev.updatedAt <= r.updatedAt) subnet.byMac.set(r.mac, lease);
      }
    }
  }

  subnetOf(ip: number): Subnet | undefined {
    return this.subnets.find((s) => inCidr(s.cidr, ip));
  }

  leaseAt(ip: number): Lease | undefined {
    return this.byIp.get(ip);
  }

  leaseOf(subnet: Subnet, mac: string): Lease | undefined {
    return subnet.byMac.get(mac);
  }

  get size(): number {
    return this.byIp.size;
  }

  inPool(subnet: Subnet, ip: number): boolean {
    if (subnet.excluded.has(ip)) return false;
    return subnet.pools.some((p) => ip >= p.start && ip <= p.end);
  }

  /**
   * Whether `mac` may hold `ip` now: nobody else holds it (an active offer, a bound lease, or a
   * decline quarantine are all "held"). A released or expired lease of another client is free.
   */
  availableTo(ip: number, mac: string, now: number): boolean {
    const l = this.byIp.get(ip);
    if (!l) return true;
    if (l.state === 'declined') return this.quarantineEnd(l) <= now;
    if (l.mac === mac) return true;
    return l.state === 'released' || l.state === 'expired' || l.expiresAt <= now;
  }

  /** Whether `mac` may be bound to `ip` in `subnet` (`reserved` is the node's reservation, if any). */
  canBind(subnet: Subnet, mac: string, ip: number, reserved: number | undefined, now: number): { ok: true } | { ok: false; reason: string } {
    if (!inCidr(subnet.cidr, ip)) return { ok: false, reason: `${intToIp(ip)} is not in subnet ${subnet.cfg.subnet}` };
    if (reserved !== undefined && ip !== reserved) return { ok: false, reason: `${intToIp(ip)} requested, ${intToIp(reserved)} is reserved for ${mac}` };
    if (reserved === undefined && !this.inPool(subnet, ip)) return { ok: false, reason: `${intToIp(ip)} is outside the pools of ${subnet.cfg.subnet}` };
    if (reserved === undefined && this.reservedForOther(ip, mac)) return { ok: false, reason: `${intToIp(ip)} is reserved for another node` };
    if (!this.availableTo(ip, mac, now)) return { ok: false, reason: `${intToIp(ip)} is held by ${this.byIp.get(ip)!.mac}` };
    return { ok: true };
  }

  /**
   * The address to offer: the reservation; else the client's current or previous address; else
   * the address it asks for (option 50) if free; else a pool address nobody has ever held; else
   * the longest-expired one. Addresses of other clients' expired leases are the last resort so a
   * machine that comes back finds its old address.
   */
  pick(subnet: Subnet, mac: string, reserved: number | undefined, requested: number | undefined, now: number): Pick {
    if (reserved !== undefined) {
      if (!inCidr(subnet.cidr, reserved)) return { ok: false, reason: `reservation ${intToIp(reserved)} is outside ${subnet.cfg.subnet}` };
      if (!this.availableTo(reserved, mac, now)) return { ok: false, reason: `reserved ${intToIp(reserved)} is held by ${this.byIp.get(reserved)!.mac} (conflict)` };
      return { ok: true, ip: reserved };
    }
    const mine = subnet.byMac.get(mac);
    if (mine && mine.mac === mac && this.byIp.get(mine.ip) === mine && mine.state !== 'declined' && this.inPool(subnet, mine.ip) && !this.reservedForOther(mine.ip, mac)) {
      return { ok: true, ip: mine.ip };
    }
    if (requested !== undefined && this.inPool(subnet, requested) && this.availableTo(requested, mac, now) && !this.reservedForOther(requested, mac)) return { ok: true, ip: requested };
    const fresh = this.scanFree(subnet, mac);
    if (fresh !== undefined) return { ok: true, ip: fresh };
    let best: Lease | undefined;
    for (const pool of subnet.pools) {
      for (let ip = pool.start; ip <= pool.end; ip++) {
        if (subnet.excluded.has(ip) || this.reservedForOther(ip, mac)) continue;
        const l = this.byIp.get(ip);
        if (l && this.availableTo(ip, mac, now) && (!best || l.expiresAt < best.expiresAt)) best = l;
      }
    }
    if (best) return { ok: true, ip: best.ip };
    return { ok: false, reason: `no free address in ${subnet.cfg.subnet}` };
  }

  /** Next pool address that has never carried a lease, scanning from the cursor once round. */
  private scanFree(subnet: Subnet, mac: string): number | undefined {
    const pools = subnet.pools;
    if (pools.length === 0) return undefined;
    let total = 0;
    for (const p of pools) total += p.end - p.start + 1;
    let { pool, ip } = subnet.cursor;
    for (let n = 0; n < total; n++) {
      const p = pools[pool]!;
      if (ip < p.start || ip > p.end) ip = p.start;
      const candidate = ip;
      ip++;
      if (ip > p.end) {
        pool = (pool + 1) % pools.length;
        ip = pools[pool]!.start;
      }
      if (!subnet.excluded.has(candidate) && !this.byIp.has(candidate) && !this.reservedForOther(candidate, mac)) {
        subnet.cursor = { pool, ip };
        return candidate;
      }
    }
    subnet.cursor = { pool, ip };
    return undefined;
  }

  private put(subnet: Subnet, lease: Lease): void {
    const prev = this.byIp.get(lease.ip);
    if (prev && prev.mac !== lease.mac && subnet.byMac.get(prev.mac) === prev) subnet.byMac.delete(prev.mac);
    const old = subnet.byMac.get(lease.mac);
    // The client moved to another address: its old one is free for others now.
    if (old && old.ip !== lease.ip && this.byIp.get(old.ip) === old && old.state !== 'declined') this.byIp.delete(old.ip);
    this.byIp.set(lease.ip, lease);
    subnet.byMac.set(lease.mac, lease);
  }

  /** Holds `ip` for an OFFER. A bound lease of the same client on that address stays bound. */
  offer(subnet: Subnet, mac: string, ip: number, now: number): void {
    const cur = this.byIp.get(ip);
    if (cur && cur.mac === mac && cur.state === 'bound' && cur.expiresAt > now) return;
    this.put(subnet, { ip, mac, clientId: null, hostname: null, subnet: subnet.cfg.subnet, state: 'offered', expiresAt: now + this.offerHoldMs, updatedAt: now });
  }

  /** The client chose another server (REQUEST with someone else's option 54): drop our offer. */
  withdrawOffer(subnet: Subnet, mac: string): void {
    const l = subnet.byMac.get(mac);
    if (l && l.state === 'offered') {
      subnet.byMac.delete(mac);
      if (this.byIp.get(l.ip) === l) this.byIp.delete(l.ip);
    }
  }

  bind(subnet: Subnet, mac: string, ip: number, extra: { clientId: string | null; hostname: string | null }, leaseMs: number, now: number): LeaseRecord {
    const lease: Lease = { ip, mac, clientId: extra.clientId, hostname: extra.hostname, subnet: subnet.cfg.subnet, state: 'bound', expiresAt: now + leaseMs, updatedAt: now };
    this.put(subnet, lease);
    return toRecord(lease);
  }

  /** RELEASE: only the holder can release an address. */
  release(ip: number, mac: string, now: number): LeaseRecord | undefined {
    const l = this.byIp.get(ip);
    if (!l || l.mac !== mac || l.state !== 'bound') return undefined;
    l.state = 'released';
    l.expiresAt = now;
    l.updatedAt = now;
    return toRecord(l);
  }

  /**
   * DECLINE: the client found the address in use (ARP after its ACK). RFC 2131 §4.3.3 has the
   * server mark the address not available. A DECLINE carries no proof of who sent it, so, as Kea
   * does, it is honoured only from the client the address is leased to: a bound, unexpired lease
   * with the same MAC and, when the lease has one, the same client identifier (option 61).
   * Anything else changes nothing. The quarantine lasts `declineProbationMs` for an address
   * reserved for a node (which can be given no other) and `declineHoldMs` for a pool address.
   */
  decline(ip: number, client: { mac: string; clientId: string | undefined }, now: number): Decline {
    const addr = intToIp(ip);
    const subnet = this.subnetOf(ip);
    const l = this.byIp.get(ip);
    if (!subnet || !l || l.state !== 'bound' || l.expiresAt <= now) return { ok: false, reason: 'not-leased', detail: `${addr} is not leased` };
    // No MACs in the details: they make the timeline's message, and a flood of spoofed DECLINEs
    // from random MACs must fold into one event with a count.
    if (l.mac !== client.mac) return { ok: false, reason: 'not-holder', detail: `${addr} is leased to another client` };
    if (l.clientId !== null && l.clientId !== client.clientId) return { ok: false, reason: 'client-id-mismatch', detail: `${addr} is leased to this MAC with another client identifier` };
    const reserved = this.reservedFor.has(ip);
    const holdMs = reserved ? this.declineProbationMs : this.declineHoldMs;
    if (subnet.byMac.get(client.mac) === l) subnet.byMac.delete(client.mac);
    const q: Lease = { ip, mac: client.mac, clientId: l.clientId, hostname: null, subnet: subnet.cfg.subnet, state: 'declined', expiresAt: now + holdMs, updatedAt: now };
    this.byIp.set(ip, q);
    return { ok: true, record: toRecord(q), reserved, holdMs };
  }

  /** Marks lapsed leases expired and drops lapsed offers and quarantines; returns how many changed. */
  expire(now: number): number {
    let n = 0;
    for (const [ip, l] of this.byIp) {
      if ((l.state === 'declined' ? this.quarantineEnd(l) : l.expiresAt) > now) continue;
      if (l.state === 'offered' || l.state === 'declined') {
        this.byIp.delete(ip);
        const s = this.subnetOf(ip);
        if (s && s.byMac.get(l.mac) === l) s.byMac.delete(l.mac);
        n++;
      } else if (l.state === 'bound') {
        l.state = 'expired';
        n++;
      }
    }
    return n;
  }
}

export function toRecord(l: Lease): LeaseRecord {
  return { ip: intToIp(l.ip), mac: l.mac, clientId: l.clientId, hostname: l.hostname, subnet: l.subnet, state: l.state, expiresAt: l.expiresAt, updatedAt: l.updatedAt };
}
