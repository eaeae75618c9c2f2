/**
 * The socket a transfer sends its DATA from: bound to the listening address on an ephemeral port
 * (the server's TID) and connected to the client's, so the kernel drops datagrams from anyone else.
 *
 * Two implementations behind one shape. The batched one (src/native/udp_batch.c) hands a window to
 * the kernel in one sendmmsg(2) and reads ACKs with recvmmsg(2): the kernel copies the payloads
 * before the call returns, so nothing is left queued pointing at reusable memory. The node:dgram
 * one is what runs when the addon is not built (or RHEVBOOT_TFTP_IO=dgram): same behaviour, one
 * libuv send per datagram.
 */
import dgram from 'node:dgram';
import { udpBatch, udpBatchProblem, type UdpBatchAddon } from '../native/udp-batch.js';

export interface TransferSocketEvents {
  /** An ACK for the 16-bit wire block number. */
  ack(block: number): void;
  /** Any other datagram of 4 bytes or more from the client (an ERROR, a stray request). */
  other(op: number, msg: Buffer): void;
  /** A socket failure; `code` like ECONNREFUSED (the client's port is gone). */
  error(code: string): void;
  /** The kernel's send buffer was full: part of a burst waits (net.core.wmem_max too small, or a
   * slow link's queue). Counted, because an admin can act on it. */
  stalled(): void;
  /** An armed run ended on its own (see `TransferSocket.arm`): `sent` of its packets went out,
   * `acked` blocks past its base were ACKed; `ack` is the wire block of an ACK that ended it and
   * is still to be handled, or -1. */
  runEnded(sent: number, acked: number, ack: number): void;
}

export interface TransferSocket {
  readonly kind: 'batched' | 'dgram';
  /** Sends `packets[0..count)` in order. What the kernel cannot take now waits, in order, here. */
  send(packets: readonly Buffer[], count: number): void;
  /** Datagrams accepted but not yet handed to the kernel: their memory must not be reused yet. */
  readonly queued: number;
  /**
   * Batched only. With the window full, hands over the next `count` packets (loaded, headers
   * written): each ACK of the last block sent sends the next window without calling JS,
   * until the run is used up or anything unusual happens (`runEnded`). `baseWire` is the wire
   * number of the last ACKed block. The packets' memory is the socket's until the run ends.
   * False when the socket cannot take a run yet (the last one's thread is still winding down).
   */
  arm?(packets: readonly Buffer[], count: number, baseWire: number, window: number): boolean;
  /** Takes an armed run back: [packets of it sent, blocks ACKed past its base]; undefined when none is armed. */
  disarm?(): [number, number] | undefined;
  /** Blocks ACKed past the armed run's base, or -1: how a timer tells a moving run from a stuck one. */
  runAcked?(): number;
  /** Mean round trip (ms) of the ACKs runs answered since the last call, or -1: the RTT samples
   * JS does not see itself. */
  runRtt?(): number;
  /** Sends one last datagram (an ERROR) as well as the socket can, then closes. */
  closeWith(last: Buffer | undefined): Promise<void>;
}

/** Which I/O transfers use, and why not the batched one: said once at server start. */
export function transferIo(): { kind: 'batched' | 'dgram'; reason?: string } {
  const problem = udpBatchProblem();
  return udpBatch() ? { kind: 'batched' } : { kind: 'dgram', ...(problem ? { reason: problem } : {}) };
}

export interface OpenTransferSocket {
  host: string;
  client: { address: string; port: number };
  bufferBytes: number;
  events: TransferSocketEvents;
}

export async function openTransferSocket(o: OpenTransferSocket): Promise<TransferSocket> {
  const native = udpBatch();
  // The addon takes IP literals only; a scoped IPv6 address goes through node:dgram.
  if (native && !o.host.includes('%') && !o.client.address.includes('%')) return new BatchedSocket(native, o);
  return openDgram(o);
}

class BatchedSocket implements TransferSocket {
  readonly kind = 'batched' as const;
  private readonly h: unknown;
  private backlog: Buffer[] = [];
  private head = 0;
  private waiting = false;
  private closed = false;

  constructor(
    private readonly addon: UdpBatchAddon,
    private readonly o: OpenTransferSocket,
  ) {
    this.h = addon.open(o.host, 0, o.bufferBytes, Math.min(o.bufferBytes, 1024 * 1024));
    try {
      addon.connect(this.h, o.client.address, o.client.port);
      addon.start(
        this.h,
        (op, n, extra, ack) => (op === 4 ? o.events.ack(n) : op === 0 ? o.events.runEnded(n, extra as number, ack!) : o.events.other(op, extra as Buffer)),
        (code) => o.events.error(code),
        () => this.flush(),
      );
    } catch (err) {
      addon.close(this.h);
      throw err;
    }
  }

  get queued(): number {
    return this.backlog.length - this.head;
  }

  send(packets: readonly Buffer[], count: number): void {
    if (this.closed || count === 0) return;
    if (this.queued > 0) {
      for (let i = 0; i < count; i++) this.backlog.push(packets[i]!);
      return;
    }
    const taken = this.sendNow(packets, 0, count);
    if (taken < count) {
      for (let i = taken; i < count; i++) this.backlog.push(packets[i]!);
      this.o.events.stalled();
      this.wait();
    }
  }

  arm(packets: readonly Buffer[], count: number, baseWire: number, window: number): boolean {
    return !this.closed && this.addon.arm(this.h, packets, count, baseWire, window);
  }

  disarm(): [number, number] | undefined {
    return this.closed ? undefined : this.addon.disarm(this.h);
  }

  runAcked(): number {
    return this.closed ? -1 : this.addon.runAcked(this.h);
  }

  runRtt(): number {
    return this.closed ? -1 : this.addon.runRtt(this.h);
  }

  async closeWith(last: Buffer | undefined): Promise<void> {
    if (this.closed) return;
    if (last) this.sendNow([last], 0, 1);
    this.closed = true;
    this.backlog = [];
    this.addon.close(this.h);
  }

  /** Returns how many the kernel took; a hard error (ECONNREFUSED) is reported as an event. */
  private sendNow(packets: readonly Buffer[], first: number, count: number): number {
    try {
      return this.addon.send(this.h, packets, first, count);
    } catch (err) {
      this.o.events.error((err as NodeJS.ErrnoException).code ?? 'EIO');
      return count;
    }
  }

  private wait(): void {
    if (this.waiting || this.closed) return;
    this.waiting = true;
    this.addon.waitWritable(this.h);
  }

  private flush(): void {
    this.waiting = false;
    if (this.closed) return;
    this.head += this.sendNow(this.backlog, this.head, this.backlog.length - this.head);
    if (this.head === this.backlog.length) {
      this.backlog = [];
      this.head = 0;
    } else {
      this.wait();
    }
  }
}

async function openDgram(o: OpenTransferSocket): Promise<TransferSocket> {
  const socket = dgram.createSocket({ type: o.host.includes(':') ? 'udp6' : 'udp4' });
  socket.on('error', (err: NodeJS.ErrnoException) => o.events.error(err.code ?? err.message));
  socket.on('message', (msg: Buffer) => {
    if (msg.length < 4) return;
    const op = (msg[0]! << 8) | msg[1]!;
    if (op === 4) o.events.ack((msg[2]! << 8) | msg[3]!);
    else o.events.other(op, msg);
  });
  const once = (start: (done: () => void) => void) =>
    new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      start(() => {
        socket.off('error', reject);
        resolve();
      });
    });
  try {
    await once((done) => socket.bind({ address: o.host, port: 0, exclusive: true }, done));
    try {
      // Windows of 64 full-MTU packets must fit, or the kernel drops our own burst.
      socket.setSendBufferSize(o.bufferBytes);
      socket.setRecvBufferSize(Math.min(o.bufferBytes, 1024 * 1024));
    } catch {
      // Capped by net.core.[rw]mem_max; the defaults still work, only slower under bursts.
    }
    await once((done) => socket.connect(o.client.port, o.client.address, done));
  } catch (err) {
    socket.close();
    throw err;
  }
  let closed = false;
  return {
    kind: 'dgram',
    get queued() {
      return socket.getSendQueueCount();
    },
    send(packets, count) {
      if (closed) return;
      try {
        for (let i = 0; i < count; i++) socket.send(packets[i]!);
      } catch (err) {
        o.events.error((err as NodeJS.ErrnoException).code ?? 'EIO');
        return;
      }
      // libuv queues what the kernel would not take at once.
      if (socket.getSendQueueCount() > 0) o.events.stalled();
    },
    async closeWith(last) {
      if (closed) return;
      closed = true;
      if (last) {
        await new Promise<void>((resolve) => {
          try {
            socket.send(last, () => resolve());
          } catch {
            resolve();
          }
        });
      }
      try {
        socket.close();
      } catch {
        // already closed
      }
    },
  };
}

