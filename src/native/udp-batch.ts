/**
 * Loads the optional C addon (udp_batch.c, built by `npm install` with node-gyp): batched UDP
 * sockets for TFTP transfers and page-cache reads that skip the thread pool. Everything that uses
 * it has a plain Node path; `problem()` says why that path is in use.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface UdpBatchAddon {
  open(host: string, port: number, sndbuf: number, rcvbuf: number): unknown;
  connect(h: unknown, host: string, port: number): void;
  start(h: unknown, onMessage: (op: number, n: number, msg?: Buffer | number, ack?: number) => void, onError: (code: string) => void, onWritable: () => void): void;
  send(h: unknown, packets: readonly Buffer[], first: number, count: number): number;
  waitWritable(h: unknown): void;
  /** The next `count` packets after a full window, sent by the addon as in-order ACKs arrive. */
  arm(h: unknown, packets: readonly Buffer[], count: number, baseWire: number, window: number): boolean;
  /** Takes an armed run back: [packets of it sent, blocks ACKed past its base]. */
  disarm(h: unknown): [number, number] | undefined;
  /** Blocks ACKed past the armed run's base; -1 when none is armed. */
  runAcked(h: unknown): number;
  /** Mean round trip (ms) of the ACKs runs answered since the last call; -1 when none. */
  runRtt(h: unknown): number;
  close(h: unknown): void;
  /** preadv2(RWF_NOWAIT): bytes read, or -1 when the data is not in the page cache. */
  readCached(fd: number, buffers: readonly Buffer[], first: number, count: number, position: number): number;
}

let addon: UdpBatchAddon | undefined;
let why: string | undefined;
let tried = false;

/** The addon, or undefined (RHEVBOOT_TFTP_IO=dgram, not built, or not loadable). */
export function udpBatch(): UdpBatchAddon | undefined {
  if (tried) return addon;
  tried = true;
  if (process.env.RHEVBOOT_TFTP_IO === 'dgram') {
    why = 'RHEVBOOT_TFTP_IO=dgram';
    return undefined;
  }
  // From src/native (tsx) or dist/native (compiled); the build output stays under src/native.
  const candidates = ['./build/Release/udp_batch.node', '../../src/native/build/Release/udp_batch.node'].map((p) => fileURLToPath(new URL(p, import.meta.url)));
  const file = candidates.find((f) => existsSync(f));
  if (!file) {
    why = 'src/native/udp_batch.node is not built (npm install builds it with node-gyp)';
    return undefined;
  }
  try {
    addon = createRequire(import.meta.url)(file) as UdpBatchAddon;
  } catch (err) {
    why = `cannot load ${file}: ${(err as Error).message}`;
  }
  return addon;
}

/** Why the addon is not in use, when it is not. */
export function udpBatchProblem(): string | undefined {
  udpBatch();
  return why;
}
