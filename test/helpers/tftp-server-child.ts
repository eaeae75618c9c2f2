/**
 * Runs the TFTP server inside a network namespace for the integration tests (started with
 * `ip netns exec <ns> node --import tsx tftp-server-child.ts`): configuration from RBT_TFTP_CHILD
 * (JSON), stats and transfer events over the IPC channel, `close` message to stop.
 */
import { pino } from 'pino';
import { startTftpServer } from '../../src/tftp/server.js';

interface ChildConfig {
  host: string;
  port: number;
  root: string;
  maxBlockSize: number;
  maxWindowSize: number;
  maxTransfers: number;
  timeoutMs: number;
  retries: number;
  minRtoMs?: number;
  socketBufferBytes?: number;
  /** 'dgram' runs the transfers on node:dgram instead of the batched socket. */
  io?: 'dgram';
  renderMac?: string;
}

const cfg = JSON.parse(process.env.RBT_TFTP_CHILD ?? '{}') as ChildConfig;
const send = (m: unknown) => process.send?.(m);
if (cfg.io) process.env.RHEVBOOT_TFTP_IO = cfg.io;
const server = await startTftpServer({
  ...cfg,
  log: pino({ level: 'warn' }, pino.destination(2)),
  render: async (name, client) => (cfg.renderMac && name === `pxelinux.cfg/01-${cfg.renderMac}` ? Buffer.from(`DEFAULT rhevh\nLABEL rhevh\n  APPEND ip=${client.address}\n`) : undefined),
  onTransfer: (t) => send({ event: t }),
});
send({ ready: server.port });
process.on('message', (m: { cmd: string; id?: number }) => {
  if (m.cmd === 'stats') send({ id: m.id, stats: server.stats() });
  if (m.cmd === 'close') void server.close().then(() => process.exit(0));
});
// The parent going away must not leave a server behind in the namespace.
process.on('disconnect', () => void server.close().then(() => process.exit(0)));
