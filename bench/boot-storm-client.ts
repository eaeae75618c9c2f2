/**
 * The client side of the boot storm (bench/boot-storm.ts), run inside the client namespace:
 *
 *   node --import tsx bench/boot-storm-client.ts PLAN.json REPORT.json
 *
 * It plays N PXE machines behind a DHCP relay, all started within `rampMs`:
 * 1. DHCP DORA through one relay socket (bound to the relay address, port 67, giaddr set, hops 1,
 *    option 82 added), replies demultiplexed by xid. Packets are a BIOS PXE ROM's: option 93 = 0,
 *    94, 97, 60 `PXEClient:Arch:00000:UNDI:002001`, the broadcast flag. Retransmission as the PXE
 *    spec has firmware do it (4, 8, 16, 32 s), so a dropped packet shows as seconds of latency.
 * 2. TFTP, from the node's leased address: the boot file the offer named (pxelinux.0), then
 *    `pxelinux.cfg/01-<mac>`, lockstep with blksize 1468 and tsize, retransmitting on silence
 *    (1 s doubling, `tftpRetries` times) the way PXE ROMs and pxelinux do.
 * 3. HTTP, from the node's address, one keep-alive connection: the KERNEL and initrd= of the
 *    rendered config, fetched over HTTP as lpxelinux/iPXE would (the TFTP path `distros/<d>/<a>/x`
 *    is the tree the HTTP server serves as `/install/<d>/<a>/x`).
 * 4. The trigger: `local_boot_trigger=` from the APPEND line with @HOSTNAME@ replaced by the
 *    node's name (what the installer does), on a new connection from the node's address.
 * Every wait is bounded; at `deadlineMs` whatever is unfinished is reported as failed there.
 */
import dgram from 'node:dgram';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { ipBytes, OPT, strBytes, u16Bytes, type DhcpOptions } from '../src/dhcp/options.js';
import { BOOTREQUEST, FLAG_BROADCAST, formatPacket, macToChaddr, MSG, parsePacket, type DhcpPacket } from '../src/dhcp/packet.js';
import { encodeAck, encodeError, encodeRequest, parsePacket as parseTftp } from '../src/tftp/packet.js';

export interface StormNode {
  name: string;
  mac: string;
  ip: string;
}

export interface StormPlan {
  server: string;
  relay: string;
  nodes: StormNode[];
  rampMs: number;
  deadlineMs: number;
  /** DHCP retransmission intervals (ms): the PXE spec's 4, 8, 16, 32 s. */
  dhcpTimeoutsMs: number[];
  tftpTimeoutMs: number;
  tftpRetries: number;
  blksize: number;
  httpTimeoutMs: number;
}

export const PHASES = ['dhcp', 'tftp', 'http', 'trigger'] as const;
export type Phase = (typeof PHASES)[number];

export interface NodeResult {
  name: string;
  ok: boolean;
  /** The phase that failed (or was running at the deadline). */
  failedIn?: Phase;
  reason?: string;
  /** Offset of the node's start from the storm's start (ms). */
  startMs: number;
  /** Duration of each completed phase (ms). */
  ms: Partial<Record<Phase, number>>;
  /** Payload bytes received per phase (DHCP: reply datagrams; TFTP: file data; HTTP: bodies). */
  bytes: Record<Phase, number>;
  /** Retransmissions: DHCP requests re-sent, TFTP packets re-sent, TFTP busy refusals retried. */
  dhcpRetransmits: number;
  tftpRetransmits: number;
  tftpBusy: number;
  /** Packets from a second server port during one transfer (answered with ERROR 5, RFC 1350). */
  tftpForeignTid: number;
  doneMs?: number;
}

export interface StormReport {
  nodes: NodeResult[];
  wallMs: number;
  strayDhcp: number;
  malformedDhcp: number;
  /** CPU seconds the simulated clients used (they share the machine with the appliance). */
  clientCpuS: number;
}

class Failure extends Error {}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- DHCP through one relay socket ----

type Waiter = (p: DhcpPacket, bytes: number) => void;

class Relay {
  private readonly waiters = new Map<number, Waiter>();
  stray = 0;
  malformed = 0;

  private constructor(
    private readonly sock: dgram.Socket,
    private readonly plan: StormPlan,
  ) {
    sock.on('message', (m) => {
      const r = parsePacket(m);
      if (!r.ok) {
        this.malformed++;
        return;
      }
      const w = this.waiters.get(r.packet.xid);
      if (w) w(r.packet, m.length);
      else this.stray++;
    });
  }

  static async open(plan: StormPlan): Promise<Relay> {
    const sock = dgram.createSocket({ type: 'udp4', reuseAddr: false });
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind({ port: 67, address: plan.relay, exclusive: true }, () => {
        sock.off('error', reject);
        resolve();
      });
    });
    sock.on('error', () => {});
    return new Relay(sock, plan);
  }

  close(): void {
    this.sock.close();
  }

  /**
   * Sends `pkt` and waits for a reply of one of `want` types, re-sending after each interval of
   * `dhcpTimeoutsMs` (the PXE ROM's schedule). Replies of other types (a late OFFER while waiting
   * for the ACK) are ignored, as firmware does.
   */
  async exchange(pkt: DhcpPacket, want: number[], r: NodeResult, alive: () => boolean): Promise<DhcpPacket> {
    const buf = formatPacket(pkt);
    const what = want.includes(MSG.OFFER) ? 'OFFER' : 'ACK';
    return new Promise<DhcpPacket>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let attempt = 0;
      const finish = (err: Error | undefined, p?: DhcpPacket): void => {
        if (timer) clearTimeout(timer);
        this.waiters.delete(pkt.xid);
        if (err) reject(err);
        else resolve(p!);
      };
      this.waiters.set(pkt.xid, (p, bytes) => {
        r.bytes.dhcp += bytes;
        const t = p.options.get(OPT.MESSAGE_TYPE)?.[0];
        if (t !== undefined && want.includes(t)) finish(undefined, p);
      });
      const send = (): void => {
        if (!alive()) return finish(new Failure('deadline'));
        if (attempt >= this.plan.dhcpTimeoutsMs.length) return finish(new Failure(`no ${what} after ${attempt} tries (${this.plan.dhcpTimeoutsMs.join('+')} ms)`));
        if (attempt > 0) r.dhcpRetransmits++;
        this.sock.send(buf, 67, this.plan.server);
        timer = setTimeout(send, this.plan.dhcpTimeoutsMs[attempt++]);
      };
      send();
    });
  }
}

/** What a BIOS PXE ROM (Intel/iPXE UNDI) puts in its DISCOVER and REQUEST. */
function pxeRequest(plan: StormPlan, node: StormNode, uuid: Buffer, xid: number, secs: number, type: number, extra: [number, Buffer][] = []): DhcpPacket {
  const options: DhcpOptions = new Map<number, Buffer>([
    [OPT.MESSAGE_TYPE, Buffer.from([type])],
    ...extra,
    [OPT.MAX_MESSAGE_SIZE, u16Bytes(1260)],
    [OPT.PARAM_REQUEST_LIST, Buffer.from([1, 2, 3, 5, 6, 11, 12, 13, 15, 16, 17, 18, 43, 54, 60, 67, 128, 129, 130, 131, 132, 133, 134, 135])],
    [OPT.CLIENT_NDI, Buffer.from([1, 2, 1])],
    [OPT.CLIENT_ARCH, u16Bytes(0)],
    [OPT.VENDOR_CLASS, strBytes('PXEClient:Arch:00000:UNDI:002001')],
    [OPT.CLIENT_UUID, Buffer.concat([Buffer.from([0]), uuid])],
    // What the relay adds (RFC 3046): circuit id. The server echoes it.
    [OPT.RELAY_AGENT, Buffer.concat([Buffer.from([1, 9]), Buffer.from('rbs-storm')])],
  ]);
  return {
    op: BOOTREQUEST, htype: 1, hlen: 6, hops: 1, xid, secs, flags: FLAG_BROADCAST,
    ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: plan.relay,
    chaddr: macToChaddr(node.mac), sname: '', file: '', options,
  };
}

async function dora(relay: Relay, plan: StormPlan, node: StormNode, r: NodeResult, alive: () => boolean): Promise<{ ip: string; file: string; next: string }> {
  const t0 = performance.now();
  const secs = (): number => Math.floor((performance.now() - t0) / 1000);
  const uuid = Buffer.alloc(16);
  macToChaddr(node.mac).copy(uuid, 10, 0, 6);
  const xid = (Math.random() * 0xffffffff) >>> 0;
  const offer = await relay.exchange(pxeRequest(plan, node, uuid, xid, secs(), MSG.DISCOVER), [MSG.OFFER], r, alive);
  const serverId = offer.options.get(OPT.SERVER_ID);
  if (!serverId) throw new Failure('OFFER without a server identifier');
  if (offer.yiaddr !== node.ip) throw new Failure(`OFFER of ${offer.yiaddr}, reservation is ${node.ip}`);
  const ack = await relay.exchange(
    pxeRequest(plan, node, uuid, xid, secs(), MSG.REQUEST, [[OPT.REQUESTED_IP, ipBytes(offer.yiaddr)], [OPT.SERVER_ID, serverId]]),
    [MSG.ACK, MSG.NAK],
    r,
    alive,
  );
  if (ack.options.get(OPT.MESSAGE_TYPE)?.[0] === MSG.NAK) throw new Failure(`NAK: ${ack.options.get(OPT.MESSAGE)?.toString('latin1') ?? ''}`);
  const file = ack.options.get(OPT.BOOTFILE)?.toString('latin1').replace(/\0+$/, '') || ack.file;
  if (!file) throw new Failure('ACK without a boot file');
  return { ip: ack.yiaddr, file, next: ack.siaddr !== '0.0.0.0' ? ack.siaddr : plan.server };
}

// ---- TFTP ----

async function tftpGet(plan: StormPlan, local: string, server: string, file: string, r: NodeResult, alive: () => boolean, keep: boolean): Promise<Buffer> {
  for (let busy = 0; ; busy++) {
    const got = await tftpOnce(plan, local, server, file, r, alive, keep);
    if (got !== 'busy') return got;
    r.tftpBusy++;
    if (busy >= 5) throw new Failure(`${file}: server busy ${busy + 1} times`);
    await sleep(1000 * (busy + 1));
  }
}

function tftpOnce(plan: StormPlan, local: string, server: string, file: string, r: NodeResult, alive: () => boolean, keep: boolean): Promise<Buffer | 'busy'> {
  const sock = dgram.createSocket('udp4');
  return new Promise<Buffer | 'busy'>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let tid: number | undefined;
    let blksize = 512;
    let expected = 1;
    let last: Buffer = encodeRequest('RRQ', file, 'octet', [{ name: 'tsize', value: '0' }, { name: 'blksize', value: String(plan.blksize) }]);
    let lastPort = 69;
    let tries = 0;
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    /** `lastWords`: a final packet (the last ACK) that must leave before the socket closes. */
    const finish = (err: Error | undefined, v?: Buffer | 'busy', lastWords?: Buffer): void => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      // dgram resolves even a literal address on the next tick, so a send followed at once by
      // close() is silently dropped: close only once the final ACK is out.
      if (lastWords) sock.send(lastWords, tid!, server, () => sock.close());
      else sock.close();
      if (err) reject(err);
      else resolve(v!);
    };
    const arm = (): void => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        if (!alive()) return finish(new Failure(`${file}: deadline`));
        if (++tries > plan.tftpRetries) return finish(new Failure(`${file}: no answer after ${plan.tftpRetries} retransmissions (block ${expected})`));
        r.tftpRetransmits++;
        sock.send(last, lastPort, server);
        arm();
      }, plan.tftpTimeoutMs * 2 ** tries);
    };
    const send = (b: Buffer): void => {
      last = b;
      lastPort = tid!;
      tries = 0;
      sock.send(b, tid!, server);
      arm();
    };
    sock.on('error', (err) => finish(new Failure(`${file}: socket: ${err.message}`)));
    sock.on('message', (msg, rinfo) => {
      if (done || rinfo.address !== server) return;
      if (tid === undefined) tid = rinfo.port;
      else if (rinfo.port !== tid) {
        r.tftpForeignTid++;
        sock.send(encodeError(5, 'unknown transfer ID'), rinfo.port, rinfo.address);
        return;
      }
      const p = parseTftp(msg);
      if (!p.ok) return finish(new Failure(`${file}: bad packet: ${p.reason}`));
      const pk = p.packet;
      if (pk.op === 'ERROR') {
        if (pk.code === 0 && /busy/i.test(pk.message)) return finish(undefined, 'busy');
        return finish(new Failure(`${file}: TFTP error ${pk.code} ${pk.message}`));
      }
      if (pk.op === 'OACK') {
        if (expected !== 1) return;
        const bs = pk.options.find((o) => o.name === 'blksize');
        if (bs) blksize = Number(bs.value);
        return send(encodeAck(0));
      }
      if (pk.op === 'DATA') {
        if (pk.block === (expected & 0xffff)) {
          r.bytes.tftp += pk.data.length;
          if (keep) chunks.push(Buffer.from(pk.data));
          const final = pk.data.length < blksize;
          if (final) return finish(undefined, Buffer.concat(chunks), encodeAck(pk.block));
          expected++;
          return send(encodeAck(pk.block));
        }
        // A duplicate of the previous block: our ACK was lost or late; ACK it again.
        if (pk.block === ((expected - 1) & 0xffff)) sock.send(encodeAck(pk.block), tid, server);
      }
    });
    sock.bind(0, local, () => {
      sock.send(last, 69, server);
      arm();
    });
  });
}

// ---- HTTP ----

function httpGet(url: string, local: string, agent: http.Agent | false, timeoutMs: number, r: NodeResult, phase: Phase, keep = false): Promise<{ status: number; body: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { localAddress: local, agent }, (res) => {
      let bytes = 0;
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        r.bytes[phase] += c.length;
        if (keep) parts.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8'), bytes }));
      res.on('error', (err) => reject(new Failure(`${url}: ${err.message}`)));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no progress for ${timeoutMs} ms`)));
    req.on('error', (err) => reject(new Failure(`${url}: ${err.message}`)));
  });
}

// ---- one node ----

async function bootOne(relay: Relay, plan: StormPlan, node: StormNode, r: NodeResult, t0: number, alive: () => boolean): Promise<void> {
  let phase: Phase = 'dhcp';
  let mark = performance.now();
  const next = (p: Phase): void => {
    const now = performance.now();
    r.ms[phase] = now - mark;
    mark = now;
    phase = p;
  };
  try {
    const lease = await dora(relay, plan, node, r, alive);
    next('tftp');
    await tftpGet(plan, lease.ip, lease.next, lease.file, r, alive, false);
    const dashed = `01-${node.mac.replace(/:/g, '-')}`;
    const cfg = (await tftpGet(plan, lease.ip, lease.next, `pxelinux.cfg/${dashed}`, r, alive, true)).toString('utf8');
    const kernel = /^\s*KERNEL\s+(\S+)/m.exec(cfg)?.[1];
    const initrd = /\binitrd=(\S+)/.exec(cfg)?.[1];
    const trigger = /\blocal_boot_trigger=(\S+)/.exec(cfg)?.[1];
    if (!kernel || !initrd || !trigger) throw new Failure(`config without KERNEL, initrd= or local_boot_trigger=:\n${cfg.slice(0, 400)}`);
    next('http');
    const origin = new URL(trigger).origin;
    const toUrl = (p: string): string => (/^https?:/.test(p) ? p : `${origin}/install/${p.replace(/^\/?distros\//, '')}`);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (const u of [toUrl(kernel), toUrl(initrd)]) {
        const res = await httpGet(u, lease.ip, agent, plan.httpTimeoutMs, r, 'http');
        if (res.status !== 200) throw new Failure(`GET ${u}: HTTP ${res.status}`);
      }
    } finally {
      agent.destroy();
    }
    next('trigger');
    const url = trigger.replace('@HOSTNAME@', node.name);
    const res = await httpGet(url, lease.ip, false, plan.httpTimeoutMs, r, 'trigger', true);
    if (res.status !== 200) throw new Failure(`trigger: HTTP ${res.status} ${res.body.slice(0, 200)}`);
    next('trigger');
    r.ok = true;
    r.doneMs = performance.now() - t0;
  } catch (err) {
    r.failedIn = phase;
    r.reason = err instanceof Error ? err.message : String(err);
  }
}

export async function runStorm(plan: StormPlan): Promise<StormReport> {
  const relay = await Relay.open(plan);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let open = true;
  const alive = (): boolean => open;
  const results: NodeResult[] = plan.nodes.map((n, i) => ({
    name: n.name, ok: false, startMs: (plan.rampMs * i) / Math.max(1, plan.nodes.length),
    ms: {}, bytes: { dhcp: 0, tftp: 0, http: 0, trigger: 0 }, dhcpRetransmits: 0, tftpRetransmits: 0, tftpBusy: 0, tftpForeignTid: 0,
  }));
  const current = (r: NodeResult): Phase => PHASES.find((p) => r.ms[p] === undefined) ?? 'trigger';
  const progress = setInterval(() => {
    const done = results.filter((r) => r.ok).length;
    const failed = results.filter((r) => r.reason).length;
    const at: Record<string, number> = {};
    for (const r of results) if (!r.ok && !r.reason) at[current(r)] = (at[current(r)] ?? 0) + 1;
    process.stderr.write(`  ${((performance.now() - t0) / 1000).toFixed(0)} s: ${done} booted, ${failed} failed, in progress ${JSON.stringify(at)}\n`);
  }, 5000);
  const runs = plan.nodes.map(async (node, i) => {
    const r = results[i]!;
    await sleep(r.startMs);
    await bootOne(relay, plan, node, r, t0, alive);
  });
  const deadline = new Promise<void>((resolve) => setTimeout(resolve, plan.deadlineMs).unref());
  await Promise.race([Promise.all(runs), deadline]);
  open = false;
  clearInterval(progress);
  const wallMs = performance.now() - t0;
  for (const r of results) {
    if (!r.ok && !r.reason) {
      r.failedIn = current(r);
      r.reason = `still running at the ${plan.deadlineMs} ms deadline`;
    }
  }
  relay.close();
  const cpu = process.cpuUsage(cpu0);
  return { nodes: results, wallMs, strayDhcp: relay.stray, malformedDhcp: relay.malformed, clientCpuS: (cpu.user + cpu.system) / 1e6 };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const plan = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as StormPlan;
  const report = await runStorm(plan);
  writeFileSync(process.argv[3]!, JSON.stringify(report));
  // Sockets of nodes still running at the deadline would keep the process alive.
  process.exit(0);
}
