/**
 * Runs the DHCP server in a child process (inside a test namespace), over a real SQLite store.
 * Config: JSON in RBD_DHCP (see ServerMainConfig). Writes one JSON line per event on stdout:
 * {"event":"ready"}, {"event":"packet",...}, {"event":"decline",...}, {"event":"stats",...},
 * {"event":"advanced",...}. Reads commands on stdin: "stats", "close", "advance <ms>" (moves the
 * server's clock forward: tests never wait for time to pass).
 */
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import type { DhcpSubnetConfig } from '../../src/config/load.js';
import { startDhcpServer } from '../../src/dhcp/server.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { TEST_LOADERS, testBooter, type TestNode } from './dhcp-booter.js';

export interface ServerMainConfig {
  mode: 'full' | 'proxy';
  serverAddress: string;
  bindAddress?: string;
  port: number;
  proxyPort: number;
  clientPort?: number;
  subnets: DhcpSubnetConfig[];
  nodes: TestNode[];
  storeDir: string;
  /** Emit a line per packet (off for benchmarks). */
  events?: boolean;
  /** Give the server the nodes' addresses as reservations, as the appliance does. */
  reservations?: boolean;
}

const cfg = JSON.parse(process.env.RBD_DHCP ?? '{}') as ServerMainConfig;
const out = (o: unknown): void => {
  process.stdout.write(`${JSON.stringify(o)}\n`);
};
const store = openSqliteStore({ dir: cfg.storeDir });
const log = pino({ level: process.env.RBD_DHCP_LOG ?? 'warn' }, pino.destination(2));
let clockOffset = 0;
const reservations = new Map<string, string[]>();
for (const n of cfg.nodes) if (n.ip) reservations.set(n.ip, [...(reservations.get(n.ip) ?? []), n.mac.toLowerCase()]);
const server = await startDhcpServer({
  mode: cfg.mode,
  serverAddress: cfg.serverAddress,
  ...(cfg.bindAddress ? { bindAddress: cfg.bindAddress } : {}),
  port: cfg.port,
  proxyPort: cfg.proxyPort,
  ...(cfg.clientPort ? { clientPort: cfg.clientPort } : {}),
  subnets: cfg.subnets,
  booter: testBooter(cfg.nodes, { ...TEST_LOADERS, httpBase: `http://${cfg.serverAddress}:8080` }),
  leases: store.leases,
  log,
  ...(cfg.events === false ? {} : { onPacket: (e) => out({ event: 'packet', ...e }) }),
  ...(cfg.events === false ? {} : { onDecline: (e) => out({ event: 'decline', ...e }) }),
  ...(cfg.reservations ? { reservations: async () => reservations } : {}),
  now: () => Date.now() + clockOffset,
});
out({ event: 'ready' });
const stop = async (): Promise<void> => {
  await server.close();
  await store.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'stats') out({ event: 'stats', stats: server.stats() });
  if (line === 'close') void stop();
  const advance = /^advance (\d+)$/.exec(line);
  if (advance) {
    clockOffset += Number(advance[1]);
    out({ event: 'advanced', offset: clockOffset });
  }
});
