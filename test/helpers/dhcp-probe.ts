/**
 * A scripted DHCP client for what real clients cannot be made to send (options 93/77/60/82,
 * wrong requested addresses, relayed requests, port 4011). Runs inside a test namespace:
 * config JSON in RBD_PROBE; prints one JSON line {replies:[{i, from, hex}]}. Every wait is bounded.
 */
import dgram from 'node:dgram';

interface ProbeConfig {
  bind: { address: string; port: number };
  to: { address: string; port: number };
  /** Packets as hex, sent one after another. */
  packets: string[];
  /** Per packet: stop waiting after this many replies with its xid (default 1; 0: send and go on). */
  want?: number;
  /** Per packet: stop waiting after this long (default 10 s). Only a packet that gets fewer than
   * `want` replies waits it out, so it bounds a hang on a loaded machine, not a normal run. */
  waitMs?: number;
}

const cfg = JSON.parse(process.env.RBD_PROBE ?? '{}') as ProbeConfig;
const sock = dgram.createSocket({ type: 'udp4', reuseAddr: false });
const replies: Array<{ i: number; from: string; hex: string }> = [];
let current = -1;
let currentXid = -1;
let got = 0;
let wake: (() => void) | undefined;
sock.on('message', (msg, rinfo) => {
  if (msg.length < 8 || msg.readUInt32BE(4) !== currentXid) return;
  replies.push({ i: current, from: `${rinfo.address}:${rinfo.port}`, hex: msg.toString('hex') });
  got++;
  if (got >= (cfg.want ?? 1)) wake?.();
});
await new Promise<void>((res) => sock.bind(cfg.bind.port, cfg.bind.address, () => res()));
sock.setBroadcast(true);
for (let i = 0; i < cfg.packets.length; i++) {
  const buf = Buffer.from(cfg.packets[i]!, 'hex');
  current = i;
  currentXid = buf.readUInt32BE(4);
  got = 0;
  if (cfg.want === 0) {
    // A packet that gets no answer (DECLINE, or one the server ignores): the test watches the
    // server's own report instead of waiting out a silence.
    await new Promise<void>((res) => sock.send(buf, cfg.to.port, cfg.to.address, () => res()));
    continue;
  }
  const done = new Promise<void>((res) => {
    wake = res;
    setTimeout(res, cfg.waitMs ?? 10_000);
  });
  sock.send(buf, cfg.to.port, cfg.to.address);
  await done;
}
process.stdout.write(`${JSON.stringify({ replies })}\n`);
sock.close();
