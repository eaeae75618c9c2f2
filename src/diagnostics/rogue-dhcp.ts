/**
 * The rogue-DHCP probe (MAAS's dhcp_probe_service, xCAT's `xcatprobe detect_dhcpd`): broadcast one
 * DISCOVER on the provisioning network as a made-up PXE client and list every OFFER that does not
 * come from us. A second DHCP server on a provisioning segment is the classic silent outage: nodes
 * take whichever offer arrives first and boot from the wrong place, or from nowhere.
 *
 * The DISCOVER carries PXE's option 60 and 93, so ProxyDHCP servers (which answer only PXE clients)
 * show up too, and the broadcast flag, so servers broadcast their OFFER back to port 68 (we have no
 * address for them to unicast to). It goes to the interface's directed broadcast (e.g.
 * 10.0.0.255): Node cannot bind a socket to a device, and the kernel sends a directed broadcast out
 * of the interface that owns the subnet, whereas 255.255.255.255 follows the default route and
 * could probe the management network instead.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { OPT, strBytes, typed, u16Bytes, type DhcpOptions } from '../dhcp/options.js';
import { BOOTREQUEST, FLAG_BROADCAST, formatPacket, macOf, macToChaddr, MSG, parsePacket } from '../dhcp/packet.js';
import { intToIp, parseCidr } from '../util/ipv4.js';

export interface ForeignServer {
  /** Option 54, or the packet's source address when a server left it out. */
  serverId: string;
  from: string;
  /** The address offered; 0.0.0.0 for a ProxyDHCP offer (boot information only). */
  offered: string;
  proxy: boolean;
  bootFile: string;
}

export type ProbeOutcome =
  | { kind: 'skipped'; reason: string; fix: string }
  | { kind: 'done'; interface: string; sentTo: string; foreign: ForeignServer[]; oursAnswered: boolean };

/** A random locally administered unicast MAC: never a real NIC's, so no server has a lease for it. */
export function randomProbeMac(): string {
  const b = randomBytes(6);
  b[0] = (b[0]! & 0xfe) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

export function buildProbeDiscover(mac: string, xid: number): Buffer {
  const options: DhcpOptions = new Map([
    [OPT.MESSAGE_TYPE, Buffer.from([MSG.DISCOVER])],
    [OPT.PARAM_REQUEST_LIST, Buffer.from([OPT.SUBNET_MASK, OPT.ROUTERS, OPT.SERVER_ID, OPT.VENDOR_CLASS, OPT.TFTP_SERVER, OPT.BOOTFILE])],
    [OPT.MAX_MESSAGE_SIZE, u16Bytes(1472)],
    [OPT.VENDOR_CLASS, strBytes('PXEClient:Arch:00000:UNDI:002001')],
    [OPT.CLIENT_ARCH, u16Bytes(0)],
  ]);
  return formatPacket({
    op: BOOTREQUEST,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid,
    secs: 4,
    flags: FLAG_BROADCAST,
    ciaddr: '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: '0.0.0.0',
    chaddr: macToChaddr(mac),
    sname: '',
    file: '',
    options,
  });
}

/**
 * The decision: of the datagrams that arrived on port 68, the OFFERs to our probe (same xid and
 * MAC: port 68 also carries other clients' traffic) from a server that is not us, one per server.
 */
export function foreignOffers(replies: { from: string; data: Buffer }[], probe: { xid: number; mac: string }, ours: ReadonlySet<string>): { foreign: ForeignServer[]; oursAnswered: boolean } {
  const foreign = new Map<string, ForeignServer>();
  let oursAnswered = false;
  for (const r of replies) {
    const parsed = parsePacket(r.data);
    if (!parsed.ok) continue;
    const p = parsed.packet;
    if (p.op !== 2 || p.xid !== probe.xid || macOf(p) !== probe.mac) continue;
    const t = typed(p.options);
    if (t.messageType !== MSG.OFFER) continue;
    const serverId = t.serverId ?? r.from;
    if (ours.has(serverId)) {
      oursAnswered = true;
      continue;
    }
    if (!foreign.has(serverId)) {
      foreign.set(serverId, { serverId, from: r.from, offered: p.yiaddr, proxy: p.yiaddr === '0.0.0.0', bootFile: t.bootFile ?? p.file });
    }
  }
  return { foreign: [...foreign.values()], oursAnswered };
}

/** The directed broadcast of the interface's first IPv4 address, or undefined. */
export function directedBroadcastOf(name: string, interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): string | undefined {
  const a = (interfaces[name] ?? []).find((x) => x.family === 'IPv4' && !x.internal);
  const cidr = a?.cidr ? parseCidr(a.cidr) : undefined;
  return cidr && cidr.prefix < 31 ? intToIp(cidr.broadcast) : undefined;
}

export interface ProbeOptions {
  interface: string;
  /** Our server identifiers, whose offers are not foreign. */
  ours: string[];
  timeoutMs?: number;
  /** For tests. */
  uid?: number;
  port?: number;
  serverPort?: number;
}

/** Broadcasts the DISCOVER and collects offers for `timeoutMs` (3 s: firmware waits about that long too). */
export async function probeRogueDhcp(opts: ProbeOptions): Promise<ProbeOutcome> {
  if (!opts.interface) return { kind: 'skipped', reason: 'dhcp.interface is not set', fix: 'set dhcp.interface to the provisioning interface to probe it for other DHCP servers' };
  if ((opts.uid ?? process.getuid?.() ?? 0) !== 0) return { kind: 'skipped', reason: 'needs root (the probe listens on UDP port 68)', fix: 'run `sudo rhevboot doctor` to include the rogue-DHCP probe' };
  const target = directedBroadcastOf(opts.interface);
  if (!target) return { kind: 'skipped', reason: `interface ${opts.interface} has no IPv4 subnet to broadcast on`, fix: `give ${opts.interface} its provisioning address (ip addr add ADDR/PREFIX dev ${opts.interface})` };

  const mac = randomProbeMac();
  const xid = randomBytes(4).readUInt32BE(0);
  const replies: { from: string; data: Buffer }[] = [];
  // reuseAddr: a DHCP client on this host may hold port 68 too; broadcasts reach both sockets.
  const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  sock.on('message', (data, rinfo) => replies.push({ from: rinfo.address, data }));
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind({ port: opts.port ?? 68, address: '0.0.0.0' }, () => {
        sock.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    sock.close();
    const code = (err as NodeJS.ErrnoException).code;
    return { kind: 'skipped', reason: `cannot listen on UDP port ${opts.port ?? 68}: ${code ?? (err as Error).message}`, fix: code === 'EADDRINUSE' ? 'a DHCP client on this host holds port 68 exclusively; stop it on the provisioning interface' : 'run as root' };
  }
  try {
    sock.on('error', () => {}); // a late ICMP error must not crash doctor
    sock.setBroadcast(true);
    const packet = buildProbeDiscover(mac, xid);
    await new Promise<void>((resolve, reject) => sock.send(packet, opts.serverPort ?? 67, target, (err) => (err ? reject(err) : resolve())));
    await new Promise((r) => setTimeout(r, opts.timeoutMs ?? 3000));
  } finally {
    sock.close();
  }
  return { kind: 'done', interface: opts.interface, sentTo: target, ...foreignOffers(replies, { xid, mac }, new Set(opts.ours)) };
}
