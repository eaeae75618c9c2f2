/** Test-side handles on a server child process and the probe, plus packet crafting. */
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OPT } from '../../src/dhcp/options.js';
import { formatPacket, parsePacket, type DhcpPacket } from '../../src/dhcp/packet.js';
import type { Lab } from './dhcp-netns.js';
import type { ServerMainConfig } from './dhcp-server-main.js';

const HELPERS = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HELPERS, '..', '..');
export const NODE_TSX = [process.execPath, '--import', 'tsx'];

export interface PacketEvent {
  event: 'packet';
  mac: string;
  type: string;
  outcome: string;
  ip?: string;
  node?: string;
}

export class ServerProc {
  readonly events: PacketEvent[] = [];
  /** Every JSON line the server wrote, in order. */
  readonly lines: Record<string, unknown>[] = [];
  private buf = '';
  private waiters: Array<{ test: (o: Record<string, unknown>) => boolean; resolve: (o: Record<string, unknown>) => void }> = [];
  stderr = '';
  exited: number | null | undefined;

  private constructor(readonly child: ChildProcess) {
    child.stdout!.on('data', (d: Buffer) => {
      this.buf += d.toString();
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        let o: Record<string, unknown>;
        try {
          o = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue;
        }
        this.lines.push(o);
        if (o.event === 'packet') this.events.push(o as unknown as PacketEvent);
        this.waiters = this.waiters.filter((w) => (w.test(o) ? (w.resolve(o), false) : true));
      }
    });
    child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    child.on('exit', (code) => (this.exited = code));
  }

  static async start(lab: Lab, ns: string, cfg: ServerMainConfig, timeoutMs = 20_000): Promise<ServerProc> {
    const child = lab.spawn(ns, [...NODE_TSX, path.join(HELPERS, 'dhcp-server-main.ts')], { ...process.env, RBD_DHCP: JSON.stringify(cfg) });
    const p = new ServerProc(child);
    await p.waitFor((o) => o.event === 'ready', timeoutMs, 'server ready');
    return p;
  }

  waitFor(test: (o: Record<string, unknown>) => boolean, timeoutMs: number, what: string): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; server stderr: ${this.stderr.slice(-2000)}`)), timeoutMs);
      this.waiters.push({
        test,
        resolve: (o) => {
          clearTimeout(timer);
          resolve(o);
        },
      });
    });
  }

  /** Resolves when an event matching `test` has been seen (already or within `timeoutMs`). */
  async packet(test: (e: PacketEvent) => boolean, timeoutMs = 10_000, what = 'a packet event'): Promise<PacketEvent> {
    const seen = this.events.find(test);
    if (seen) return seen;
    return (await this.waitFor((o) => o.event === 'packet' && test(o as unknown as PacketEvent), timeoutMs, what)) as unknown as PacketEvent;
  }

  /** Resolves with the first line matching `test`, written already or within `timeoutMs`. */
  async line(test: (o: Record<string, unknown>) => boolean, timeoutMs = 10_000, what = 'a line'): Promise<Record<string, unknown>> {
    return this.lines.find(test) ?? this.waitFor(test, timeoutMs, what);
  }

  /** Moves the server's clock `ms` forward (see dhcp-server-main.ts). */
  async advance(ms: number): Promise<void> {
    const p = this.waitFor((o) => o.event === 'advanced', 5000, 'the clock to move');
    this.child.stdin!.write(`advance ${ms}\n`);
    await p;
  }

  async stats(): Promise<Record<string, number>> {
    const p = this.waitFor((o) => o.event === 'stats', 5000, 'stats');
    this.child.stdin!.write('stats\n');
    return (await p).stats as Record<string, number>;
  }
}

export interface ProbeReply {
  i: number;
  from: string;
  packet: DhcpPacket;
}

export async function probe(
  lab: Lab,
  ns: string,
  cfg: { bind: { address: string; port: number }; to: { address: string; port: number }; packets: Buffer[]; want?: number; waitMs?: number },
): Promise<ProbeReply[]> {
  const env = { ...process.env, RBD_PROBE: JSON.stringify({ ...cfg, packets: cfg.packets.map((p) => p.toString('hex')) }) };
  const r = await lab.run(ns, [...NODE_TSX, path.join(HELPERS, 'dhcp-probe.ts')], 30_000 + cfg.packets.length * (cfg.waitMs ?? 10_000), env);
  if (r.code !== 0) throw new Error(`probe failed (${r.code}): ${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { replies: Array<{ i: number; from: string; hex: string }> };
  return out.replies.map((x) => {
    const p = parsePacket(Buffer.from(x.hex, 'hex'));
    if (!p.ok) throw new Error(`probe got a malformed reply: ${p.reason}`);
    return { i: x.i, from: x.from, packet: p.packet };
  });
}

let xid = 0x5000;
/** A client packet from parts. */
export function craft(mac: string, type: number, opts: Array<[number, Buffer]> = [], hdr: Partial<DhcpPacket> = {}): Buffer {
  const options = new Map<number, Buffer>([[OPT.MESSAGE_TYPE, Buffer.from([type])], ...opts]);
  const chaddr = Buffer.alloc(16);
  Buffer.from(mac.replace(/:/g, ''), 'hex').copy(chaddr);
  return formatPacket({ op: 1, htype: 1, hlen: 6, hops: 0, xid: ++xid, secs: 0, flags: 0, ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0', chaddr, sname: '', file: '', options, ...hdr });
}

export { ROOT };
