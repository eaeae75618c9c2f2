/**
 * A scriptable TFTP read client (RFC 1350 + 2347 + 7440) for loopback tests: it can drop chosen
 * DATA packets or ACKs once, ACK twice, delay ACKs, and re-ACK on its own timeout the way iPXE and
 * EDK2 do. Every wait is bounded by `deadlineMs`.
 */
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { encodeAck, encodeError, encodeRequest, parsePacket, type TftpOption } from '../../src/tftp/packet.js';

export interface FakeClientOptions {
  port: number;
  host?: string;
  file: string;
  mode?: string;
  options?: TftpOption[];
  /** Drop the first arrival of these DATA blocks (absolute numbers, 1-based). */
  dropData?: number[];
  /** Do not send the first ACK for these absolute block numbers. */
  dropAck?: number[];
  /** Send every ACK twice (what a network duplicating packets, or a confused client, produces). */
  doubleAcks?: boolean;
  /** On the first arrival of this block, stop reading the socket for `ms` (a busy client or a
   * delayed DATA), then process everything queued in order: the classic trigger of the Sorcerer's
   * Apprentice, since the server's timer resends the block meanwhile and both copies get ACKed. */
  stall?: { block: number; ms: number };
  /** After the ACK of block `after`, also send an ACK for block `ack` (a repeat, or a stale number). */
  extraAcks?: { after: number; ack: number }[];
  /** On the first arrival of this block, answer with ERROR 0 instead of an ACK and stop. */
  errorAt?: number;
  /** Re-send the last ACK after this much silence (client-side timeout). */
  reAckMs?: number;
  /** Stop after the OACK with ERROR 8 (EDK2's "ask the size first"). */
  abortAfterOack?: boolean;
  deadlineMs?: number;
}

export interface FakeClientResult {
  ok: boolean;
  data: Buffer;
  oack?: TftpOption[];
  error?: { code: number; message: string };
  dataPackets: number;
  duplicateData: number;
  /** Each dropped DATA block that came again: how long after the drop (what the server's timer took). */
  recovered: { block: number; ms: number }[];
  serverPort?: number;
  reason?: string;
}

export async function fakeGet(o: FakeClientOptions): Promise<FakeClientResult> {
  const host = o.host ?? '127.0.0.1';
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, host, () => r()));
  const chunks: Buffer[] = [];
  /** Dropped DATA blocks, by when; deleted when the block comes again. */
  const droppedData = new Map<number, number>();
  const everDropped = new Set<number>();
  const recovered: { block: number; ms: number }[] = [];
  const droppedAck = new Set<number>();
  let stalled: Buffer[] | undefined;
  let stallDone = false;
  let blockSize = 512;
  let windowSize = 1;
  let expected = 1; // absolute number of the next block wanted
  let inWindow = 0;
  let lastAck = 0;
  let dataPackets = 0;
  let duplicateData = 0;
  let serverPort: number | undefined;
  let oack: TftpOption[] | undefined;
  let reAckTimer: NodeJS.Timeout | undefined;

  const sendAck = (abs: number) => {
    if (o.dropAck?.includes(abs) && !droppedAck.has(abs)) {
      droppedAck.add(abs);
      return;
    }
    if (serverPort === undefined) return;
    sock.send(encodeAck(abs), serverPort, host);
    if (o.doubleAcks) sock.send(encodeAck(abs), serverPort, host);
  };
  const armReAck = () => {
    if (!o.reAckMs) return;
    if (reAckTimer) clearTimeout(reAckTimer);
    reAckTimer = setTimeout(function again() {
      if (serverPort !== undefined) sock.send(encodeAck(lastAck), serverPort, host);
      reAckTimer = setTimeout(again, o.reAckMs);
    }, o.reAckMs);
  };

  const result = await new Promise<FakeClientResult>((resolve) => {
    const finish = (r: Omit<FakeClientResult, 'data' | 'dataPackets' | 'duplicateData' | 'recovered'>) =>
      resolve({ ...r, data: Buffer.concat(chunks), dataPackets, duplicateData, recovered, ...(oack ? { oack } : {}), ...(serverPort !== undefined ? { serverPort } : {}) });
    const deadline = setTimeout(() => finish({ ok: false, reason: 'deadline' }), o.deadlineMs ?? 15000);
    const done = (r: Omit<FakeClientResult, 'data' | 'dataPackets' | 'duplicateData' | 'recovered'>) => {
      clearTimeout(deadline);
      if (reAckTimer) clearTimeout(reAckTimer);
      finish(r);
    };
    const onMessage = (msg: Buffer, rinfo: { port: number }) => {
      if (stalled) {
        stalled.push(msg);
        return;
      }
      if (serverPort === undefined) serverPort = rinfo.port;
      else if (rinfo.port !== serverPort) {
        sock.send(encodeError(5, 'unknown transfer ID'), rinfo.port, host);
        return;
      }
      const p = parsePacket(msg);
      if (!p.ok) return;
      const pk = p.packet;
      if (pk.op === 'ERROR') return done({ ok: false, error: { code: pk.code, message: pk.message } });
      if (pk.op === 'OACK') {
        oack = pk.options;
        for (const opt of pk.options) {
          if (opt.name === 'blksize') blockSize = Number(opt.value);
          if (opt.name === 'windowsize') windowSize = Number(opt.value);
        }
        if (o.abortAfterOack) {
          sock.send(encodeError(8, 'User aborted the transfer'), rinfo.port, host);
          return done({ ok: true });
        }
        if (expected === 1) {
          lastAck = 0;
          sendAck(0);
          armReAck();
        }
        return;
      }
      if (pk.op !== 'DATA') return;
      dataPackets++;
      // Map the 16-bit number onto the absolute sequence near `expected` (rollover past 65535).
      const abs = expected + ((((pk.block - expected) & 0xffff) + 0x8000) & 0xffff) - 0x8000;
      if (o.dropData?.includes(abs) && !everDropped.has(abs)) {
        everDropped.add(abs);
        droppedData.set(abs, performance.now());
        return;
      }
      const droppedAt = droppedData.get(abs);
      if (droppedAt !== undefined) {
        droppedData.delete(abs);
        recovered.push({ block: abs, ms: performance.now() - droppedAt });
      }
      if (o.stall && o.stall.block === abs && !stallDone) {
        stallDone = true;
        const queue: Buffer[] = [msg];
        stalled = queue;
        setTimeout(() => {
          stalled = undefined;
          for (const m of queue) onMessage(m, rinfo);
        }, o.stall.ms);
        return;
      }
      if (abs !== expected) {
        duplicateData++;
        // RFC 7440: on a gap, ACK the last block received in order so the server goes back.
        if (abs > expected) {
          lastAck = expected - 1;
          inWindow = 0;
          sendAck(lastAck);
          armReAck();
        } else if (windowSize === 1 && serverPort !== undefined) {
          // RFC 1350 receivers ACK a duplicate again: the half of the Sorcerer's Apprentice that
          // the server must absorb.
          sock.send(encodeAck(abs), serverPort, host);
        }
        return;
      }
      if (abs === o.errorAt) {
        sock.send(encodeError(0, 'stop here'), rinfo.port, host);
        return done({ ok: false, reason: 'errorAt' });
      }
      chunks.push(Buffer.from(pk.data));
      expected++;
      inWindow++;
      const last = pk.data.length < blockSize;
      if (last || inWindow >= windowSize) {
        inWindow = 0;
        lastAck = abs;
        sendAck(abs);
        armReAck();
      }
      for (const x of o.extraAcks ?? []) if (x.after === abs && serverPort !== undefined) sock.send(encodeAck(x.ack), serverPort, host);
      if (last) done({ ok: true });
    };
    sock.on('message', onMessage);
    sock.send(encodeRequest('RRQ', o.file, o.mode ?? 'octet', o.options ?? []), o.port, host);
  });
  // Let a final ACK leave before the socket goes.
  await new Promise((r) => setTimeout(r, 5));
  sock.close();
  return result;
}

/** Sends one raw datagram to the server and returns the first reply (or undefined after `waitMs`). */
export async function firstReply(port: number, request: Buffer, waitMs = 3000, host = '127.0.0.1'): Promise<{ packet: ReturnType<typeof parsePacket>; port: number; ms: number } | undefined> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, host, () => r()));
  const t0 = performance.now();
  try {
    return await new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), waitMs);
      sock.once('message', (msg, rinfo) => {
        clearTimeout(timer);
        // Do not leave a transfer waiting for us: say goodbye the way a client that gives up does.
        if (msg.length >= 2 && msg[1] !== 5) sock.send(encodeError(0, 'test done'), rinfo.port, host);
        resolve({ packet: parsePacket(msg), port: rinfo.port, ms: performance.now() - t0 });
      });
      sock.send(request, port, host);
    });
  } finally {
    await new Promise((r) => setTimeout(r, 5));
    sock.close();
  }
}
