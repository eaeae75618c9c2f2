/**
 * The fuzz run, inside a namespace that has only loopback (so replies to the random giaddr and
 * ciaddr values of mutated packets go nowhere): starts the server in this process on
 * 127.0.0.1:6767, checks it answers a well-formed relayed DISCOVER, sends RBD_FUZZ_COUNT random and
 * mutated packets, checks it still answers, and prints {before, after, sent, ms, stats}. A crash
 * of the server is a crash of this process (non-zero exit).
 */
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { startDhcpServer } from '../../src/dhcp/server.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { TEST_LOADERS, testBooter } from './dhcp-booter.js';
import { fixture, fixtureNames } from './dhcp-fixtures.js';
import { craft } from './dhcp-lab.js';

const COUNT = Number(process.env.RBD_FUZZ_COUNT ?? 100_000);
const dir = mkdtempSync(path.join(os.tmpdir(), 'rbd-fuzz-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const store = openSqliteStore({ dir });
const server = await startDhcpServer({
  mode: 'full',
  serverAddress: '127.0.0.1',
  bindAddress: '127.0.0.1',
  port: 6767,
  proxyPort: 6768,
  subnets: [{ subnet: '127.0.0.0/8', pools: ['127.0.1.1-127.0.255.254'], routers: [], dnsServers: [], domainName: '', leaseSeconds: 600, unknownClients: 'discover' }],
  booter: testBooter([], TEST_LOADERS),
  leases: store.leases,
  log: pino({ level: 'silent' }),
});

const relay = dgram.createSocket({ type: 'udp4', reuseAddr: false });
relay.on('error', () => undefined);
await new Promise<void>((r) => relay.bind(6767, '127.0.0.2', () => r()));
const offers = new Set<number>();
relay.on('message', (m) => {
  if (m.length >= 8) offers.add(m.readUInt32BE(4));
});

async function answers(mac: string): Promise<boolean> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const pkt = craft(mac, 1, [], { giaddr: '127.0.0.2', hops: 1 });
    relay.send(pkt, 6767, '127.0.0.1');
    const xid = pkt.readUInt32BE(4);
    for (let i = 0; i < 20 && !offers.has(xid); i++) await new Promise((r) => setTimeout(r, 25));
    if (offers.has(xid)) return true;
  }
  return false;
}

let seed = Number(process.env.RBD_FUZZ_SEED ?? 20261121);
const rnd = (n: number): number => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed % n;
};
const seeds = fixtureNames().map(fixture);
const relayed = seeds.map((s) => {
  const b = Buffer.from(s);
  b[0] = 1;
  Buffer.from([127, 0, 0, 2]).copy(b, 24);
  return b;
});

/** One hostile packet; the kinds cycle so each gets a fair share. */
function mutant(i: number): Buffer {
  const base = Buffer.from(relayed[rnd(relayed.length)]!);
  switch (i % 6) {
    case 0: // random bytes, any length
      return Buffer.from(Array.from({ length: rnd(700) }, () => rnd(256)));
    case 1: // bit flips anywhere
      for (let k = 0, n = 1 + rnd(12); k < n; k++) base[rnd(base.length)]! ^= 1 << rnd(8);
      return base;
    case 2: // truncation
      return base.subarray(0, rnd(base.length));
    case 3: {
      // option length lie: a length byte inside the options grows
      const at = 240 + rnd(Math.max(1, base.length - 241));
      base[at + 1 < base.length ? at + 1 : at] = 128 + rnd(128);
      return base;
    }
    case 4: {
      // overload loops: option 52 in every area, garbage options in file/sname
      const b = Buffer.alloc(300);
      base.copy(b, 0, 0, 240);
      Buffer.from([52, 1, 1 + rnd(3)]).copy(b, 108);
      for (let k = 111; k < 236; k++) b[k] = rnd(256);
      Buffer.from([52, 1, 3, 52, 1, 3]).copy(b, 44);
      Buffer.from([53, 1, 1 + rnd(8), 52, 1, rnd(5), 255]).copy(b, 240);
      return b;
    }
    default: {
      // a well-formed packet with random message type, addresses and flags
      const b = craft(`52:54:00:${rnd(256).toString(16)}:${rnd(256).toString(16)}:${rnd(256).toString(16)}`, rnd(10), [[50, Buffer.from([127, 0, 1, rnd(256)])], [54, Buffer.from([127, 0, 0, rnd(3)])]], {
        giaddr: rnd(2) ? '127.0.0.2' : `${rnd(256)}.${rnd(256)}.0.1`,
        ciaddr: rnd(2) ? '0.0.0.0' : `127.0.1.${rnd(256)}`,
        flags: rnd(2) ? 0x8000 : 0,
      });
      return b;
    }
  }
}

const before = await answers('52:54:00:f0:00:01');
const sender = dgram.createSocket({ type: 'udp4', reuseAddr: false });
sender.on('error', () => undefined);
await new Promise<void>((r) => sender.bind(0, '127.0.0.3', () => r()));
const t0 = Date.now();
let sent = 0;
for (let i = 0; i < COUNT && Date.now() - t0 < 50_000; i++) {
  sender.send(mutant(i), 6767, '127.0.0.1');
  sent++;
  // libuv reads at most 32 datagrams per loop turn: yield often so the in-process server drains
  // its socket instead of the kernel dropping most of the run.
  if (i % 16 === 15) await new Promise((r) => setImmediate(r));
}
await new Promise((r) => setTimeout(r, 500));
const after = await answers('52:54:00:f0:00:02');
const stats = server.stats();
process.stdout.write(`${JSON.stringify({ before, after, sent, ms: Date.now() - t0, stats })}\n`);
sender.close();
relay.close();
await server.close();
await store.close();
