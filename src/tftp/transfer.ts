/**
 * One read transfer: its own UDP socket (the server's side of the TID), windowed sending per
 * RFC 7440 (window 1 is RFC 1350 lockstep), block numbers rolling over past 65535, retransmission
 * with an adaptive timeout and backoff, and an idle deadline.
 *
 * Duplicate ACKs are the dangerous part. The npm `tftp` server sends a new window for every
 * duplicate, so one delayed packet turns into a Sorcerer's Apprentice storm (libeval §2: 159,464
 * duplicates for one lost block). Here only an ACK that moves the window forward sends new data.
 * A repeat of the last ACK resends the outstanding window at most once, only when we sent the
 * ACKed block once (if we sent it twice, the client is just ACKing both copies) and only after the
 * window has been out for a while (the client's own timer fired, the re-ACK that iPXE and EDK2
 * send). Everything else is left to our timer.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log.js';
import { ERR, encodeError, encodeOack, OP, type TftpOption } from './packet.js';
import type { DataBlocks } from './data-blocks.js';
import { openTransferSocket, type TransferSocket } from './transfer-socket.js';

export type TransferOutcome = 'ok' | 'timeout' | 'error' | 'aborted';

export interface TransferResult {
  outcome: TransferOutcome;
  bytes: number;
  retransmits: number;
  durationMs: number;
  reason?: string;
}

/** Server-wide counters the transfer adds to (shared object, no allocation per packet). */
export interface TransferCounters {
  dataSent: number;
  oackSent: number;
  retransmits: number;
  bytesSent: number;
  dupAcks: number;
  /** Bursts the kernel's send buffer could not take whole. */
  sendStalls: number;
  /** DATA the socket sent on its own on in-order ACKs (an armed run), without a call into JS. */
  relayed: number;
}

export interface TransferOptions {
  host: string;
  client: { address: string; port: number };
  source: DataBlocks;
  blockSize: number;
  windowSize: number;
  /** Send this OACK first and wait for ACK 0. */
  oack?: TftpOption[];
  /** Longest retransmission timeout: the client's `timeout` option or the configured one. */
  timeoutMs: number;
  /** Consecutive timeouts tolerated; the transfer is reaped after (retries + 1) timeouts' worth of silence. */
  retries: number;
  /** Floor of the adaptive timeout. */
  minRtoMs?: number;
  /** Smoothed RTT of recent transfers: the first OACK or DATA is retransmitted on that basis
   * instead of the full timeout (curl asks for 6 s; a lost OACK would stall it that long). */
  rttHintMs?: number;
  socketBufferBytes?: number;
  counters: TransferCounters;
  log: Logger;
}

const DEFAULT_MIN_RTO_MS = 25;
const OACK_MIN_RTO_MS = 500;
/** Packets handed to the socket per run: a whole file chunk (data-blocks.ts reads at most 1024 blocks). */
const RUN_MAX = 1024;

export class ReadTransfer {
  readonly done: Promise<TransferResult>;
  retransmits = 0;

  private resolveDone!: (r: TransferResult) => void;
  private socket: TransferSocket | undefined;
  /** Packets of the burst being built; sent in one call (one sendmmsg on the batched socket). */
  private readonly burst: Buffer[] = [];
  private burstLength = 0;
  private readonly o: TransferOptions;
  private readonly w: number;
  private readonly blk: number;
  private readonly ring: (Buffer | undefined)[];
  private readonly sentAt: Float64Array;
  private readonly resent: Uint8Array;
  private readonly cumBytes: Float64Array;
  private readonly startedAt = performance.now();
  private readonly minRto: number;
  private readonly giveUpMs: number;

  private acked = 0;
  private sent = 0;
  private lastBlock: number | undefined;
  private totalBytes = 0;
  private ackedBytes = 0;
  private oackPacket: Buffer | undefined;
  private oackResent = false;
  private ackedWasResent = false;
  private dupResendArmed = true;
  private filling = false;
  private finished = false;
  private lastSendAt = performance.now();
  private lastProgressAt = performance.now();
  private srtt: number | undefined;
  private rttvar = 0;
  private backoff = 0;
  /**
   * The armed run: packets of blocks runFrom+1 … that the socket sends on its own as in-order
   * ACKs come in (lockstep paid a call into JS per block, most of its cost). JS does not send,
   * and `acked`/`sent` stand still, until the run is taken back.
   */
  private readonly run: Buffer[] = [];
  private runArmed = false;
  private runBase = 0;
  private runFrom = 0;
  /** The run's ACK count when the timer last looked. */
  private runSeen = 0;
  private timer: NodeJS.Timeout | undefined;
  private releaseTimer: NodeJS.Timeout | undefined;
  private timerDueAt = 0;
  private progressed = false;
  private hinted = false;

  constructor(opts: TransferOptions) {
    this.o = opts;
    this.w = opts.windowSize;
    this.blk = opts.blockSize;
    this.ring = new Array<Buffer | undefined>(this.w).fill(undefined);
    this.sentAt = new Float64Array(this.w);
    this.resent = new Uint8Array(this.w);
    this.cumBytes = new Float64Array(this.w);
    this.minRto = Math.min(opts.minRtoMs ?? DEFAULT_MIN_RTO_MS, opts.timeoutMs);
    this.giveUpMs = opts.timeoutMs * (opts.retries + 1);
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    if (opts.rttHintMs !== undefined && opts.rttHintMs > 0) {
      this.srtt = opts.rttHintMs;
      this.rttvar = opts.rttHintMs / 2;
      this.hinted = true;
    }
  }

  /** Measured smoothed RTT, if this transfer measured one. */
  get measuredRttMs(): number | undefined {
    return this.hinted ? undefined : this.srtt;
  }

  /** True once the client ACKed anything: a repeated RRQ must not replace a transfer that is flowing. */
  get started(): boolean {
    return this.progressed;
  }

  /** Opens the transfer's socket on the listening address (the client must see replies from the address it asked). */
  async start(): Promise<void> {
    const socket = await openTransferSocket({
      host: this.o.host,
      client: this.o.client,
      // Windows of 64 full-MTU packets must fit, or the kernel drops our own burst.
      bufferBytes: this.o.socketBufferBytes ?? 4 * 1024 * 1024,
      events: {
        ack: (block) => {
          if (!this.finished) this.onAck(block);
        },
        other: (op, msg) => this.onOther(op, msg),
        error: (code) => this.onSocketError(code),
        stalled: () => this.o.counters.sendStalls++,
        runEnded: (sent, acked, ack) => {
          if (!this.finished) this.onRunEnded(sent, acked, ack);
        },
      },
    });
    if (this.finished) {
      await socket.closeWith(undefined);
      return;
    }
    this.socket = socket;
    if (this.o.oack) {
      this.oackPacket = encodeOack(this.o.oack);
      this.send(this.oackPacket);
      this.o.counters.oackSent++;
      this.lastSendAt = performance.now();
      this.armTimer();
    } else {
      this.fill();
    }
  }

  abort(reason: string): void {
    void this.finish('aborted', reason);
  }

  private send(p: Buffer): void {
    this.queue(p);
    this.flushBurst();
  }

  private queue(p: Buffer): void {
    this.burst[this.burstLength++] = p;
  }

  private flushBurst(): void {
    const n = this.burstLength;
    if (n === 0) return;
    this.burstLength = 0;
    this.socket?.send(this.burst, n);
  }

  private onSocketError(code: string): void {
    if (this.finished) return;
    // ECONNREFUSED on a connected UDP socket: ICMP port unreachable, the client is gone.
    void this.finish(code === 'ECONNREFUSED' ? 'aborted' : 'error', `socket: ${code}`);
  }

  private onOther(op: number, msg: Buffer): void {
    if (this.finished) return;
    if (op === OP.ERROR) {
      const code = (msg[2]! << 8) | msg[3]!;
      const end = msg.indexOf(0, 4);
      const text = msg.subarray(4, end === -1 ? msg.length : end).toString('latin1');
      // EDK2 asks for tsize, then ends the transfer with error 8 and asks again: not a failure.
      void this.finish('aborted', `client error ${code}: ${text}`);
    }
    // Anything else from the client (DATA, a request) is ignored; it cannot move the transfer.
  }

  private rto(): number {
    const est = this.srtt === undefined ? this.o.timeoutMs : this.srtt + 4 * this.rttvar;
    // A duplicate OACK is worse than a late one: atftp aborts on it ("unexpected OACK") once it
    // has moved on to DATA, which a busy client does after our timer fired. So the OACK waits
    // longer than DATA ever does.
    const floor = this.oackPacket ? Math.max(this.minRto, OACK_MIN_RTO_MS) : this.minRto;
    return Math.min(this.o.timeoutMs, Math.max(floor, est) * 2 ** this.backoff);
  }

  /** The socket timed the ACKs it answered: one sample of their mean keeps the RTO near the link's
   * RTT (without it, a transfer whose ACKs all go to runs would wait the full timeout on a loss). */
  private sampleRunRtt(): void {
    const r = this.socket?.runRtt?.() ?? -1;
    if (r >= 0) this.sampleRtt(r);
  }

  private sampleRtt(r: number): void {
    if (this.srtt === undefined || this.hinted) {
      this.hinted = false;
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
  }

  private progress(now: number): void {
    this.progressed = true;
    this.backoff = 0;
    this.lastProgressAt = now;
    this.lastSendAt = now;
    this.dupResendArmed = true;
  }

  private onAck(wire: number): void {
    const now = performance.now();
    if (this.oackPacket) {
      if (wire !== 0) return;
      if (!this.oackResent) this.sampleRtt(now - this.lastSendAt);
      this.ackedWasResent = this.oackResent;
      this.oackPacket = undefined;
      this.progress(now);
      this.fill(now);
      return;
    }
    const abs = this.acked + ((wire - (this.acked & 0xffff)) & 0xffff);
    if (abs > this.sent) return; // older than the window (or garbage): nothing to learn
    if (abs === this.acked) {
      this.onDuplicateAck(now);
      return;
    }
    const slot = abs % this.w;
    // A block the socket sent by itself has no send time here (NaN): no sample.
    const at = this.sentAt[slot]!;
    if (!this.resent[slot] && !Number.isNaN(at)) this.sampleRtt(now - at);
    this.ackedWasResent = this.resent[slot] === 1;
    this.acked = abs;
    this.ackedBytes = this.cumBytes[slot]!;
    this.progress(now);
    if (this.lastBlock !== undefined && abs >= this.lastBlock) {
      void this.finish('ok');
      return;
    }
    this.releaseAcked();
    // RFC 7440: an ACK short of the window's end means the client saw a gap; go back to it.
    if (abs < this.sent) this.resendOutstanding(now);
    this.fill(now);
  }

  private onDuplicateAck(now: number): void {
    this.o.counters.dupAcks++;
    if (this.sent <= this.acked || this.ackedWasResent || !this.dupResendArmed) return;
    const gap = Math.max(20, 2 * (this.srtt ?? 10));
    if (now - this.lastSendAt < gap) return;
    this.dupResendArmed = false;
    this.resendOutstanding(now);
  }

  private resendOutstanding(now: number): void {
    for (let n = this.acked + 1; n <= this.sent; n++) {
      const slot = n % this.w;
      const p = this.ring[slot];
      if (!p) continue;
      this.resent[slot] = 1;
      this.queue(p);
      this.retransmits++;
      this.o.counters.retransmits++;
      this.o.counters.dataSent++;
    }
    this.flushBurst();
    this.lastSendAt = now;
    this.armTimer();
  }

  /** Sends what the window allows, in one loop; the clock is read and the timer looked at once
   * per burst, not per block. */
  private fill(now = performance.now()): void {
    if (this.filling || this.finished || this.oackPacket || this.runArmed) return;
    const end = Math.min(this.acked + this.w, this.lastBlock ?? Infinity);
    if (this.sent >= end) {
      this.armRun();
      return;
    }
    const before = this.sent;
    while (this.sent < end && this.lastBlock === undefined) {
      const n = this.sent + 1;
      const p = this.o.source.packet(n);
      if (!(p instanceof Uint8Array)) {
        this.filling = true;
        p.then(
          (pkt) => {
            this.filling = false;
            if (this.finished) return;
            const at = performance.now();
            this.emit(n, pkt, at);
            this.flushBurst();
            this.lastSendAt = at;
            this.armTimer();
            this.fill(at);
          },
          (err: unknown) => {
            this.filling = false;
            this.o.log.error({ err, client: this.o.client.address }, 'tftp: read failed');
            void this.finish('error', 'read failed', 'read error');
          },
        );
        break;
      }
      this.emit(n, p, now);
    }
    this.flushBurst();
    if (this.sent === before) return;
    this.lastSendAt = now;
    this.armTimer();
    this.armRun();
  }

  /** With the window full, hands the loaded packets after it to the socket (see `run`). */
  private armRun(): void {
    const socket = this.socket;
    const source = this.o.source;
    if (!socket?.arm || !source.ready || this.runArmed || this.filling || this.finished || this.oackPacket || this.lastBlock !== undefined) return;
    // Without an RTT estimate the timer would sit at the full timeout for the whole run: the first
    // ACK comes to JS, which measures it.
    if (this.sent !== this.acked + this.w || socket.queued > 0 || this.srtt === undefined) return;
    const count = source.ready(this.sent + 1, this.run, RUN_MAX);
    if (count === 0) return;
    if (!socket.arm(this.run, count, this.acked & 0xffff, this.w)) return;
    this.runArmed = true;
    this.runBase = this.acked;
    this.runFrom = this.sent;
    this.runSeen = 0;
  }

  /** The socket ended the run itself: used up, out of send buffer, or an ACK it leaves to us. */
  private onRunEnded(sent: number, acked: number, ack: number): void {
    const now = performance.now();
    const moved = this.absorbRun(sent, acked, now);
    if (ack >= 0) {
      this.onAck(ack);
      return;
    }
    if (moved) {
      if (this.lastBlock !== undefined && this.acked >= this.lastBlock) {
        void this.finish('ok');
        return;
      }
      this.releaseAcked();
    }
    this.fill(now);
  }

  /** Takes an armed run back from the socket (the timer, or the end of the transfer). */
  private takeRunBack(now: number): void {
    const taken = this.socket?.disarm?.();
    this.absorbRun(taken?.[0] ?? 0, taken?.[1] ?? 0, now);
  }

  /** Takes over what the run did: its sent packets become the outstanding window, its ACKs ours.
   * True when the window moved. */
  private absorbRun(sent: number, acked: number, now: number): boolean {
    this.runArmed = false;
    this.sampleRunRtt();
    for (let i = 0; i < sent; i++) this.record(this.runFrom + 1 + i, this.run[i]!, Number.NaN);
    this.o.counters.relayed += sent;
    // When the socket's last send was is not known here; now is the safe side for the timer.
    if (sent > 0) this.lastSendAt = now;
    const abs = this.runBase + acked;
    if (abs <= this.acked) return false;
    this.acked = abs;
    // The run may have sent a whole window past `abs`, reusing its ring slot; every block before
    // the last is full.
    this.ackedBytes = Math.min(abs * this.blk, this.totalBytes);
    this.ackedWasResent = false;
    this.progress(now);
    return true;
  }

  private emit(n: number, p: Buffer, now: number): void {
    this.record(n, p, now);
    this.queue(p);
  }

  /** Bookkeeping of block `n` going out: the window's ring, the last block, the counters. */
  private record(n: number, p: Buffer, now: number): void {
    const len = p.length - 4;
    if (len < this.blk) this.lastBlock = n;
    this.totalBytes += len;
    const slot = n % this.w;
    this.ring[slot] = p;
    this.resent[slot] = 0;
    this.sentAt[slot] = now;
    this.cumBytes[slot] = this.totalBytes;
    this.sent = n;
    this.o.counters.dataSent++;
    this.o.counters.bytesSent += len;
  }

  /**
   * Lets the source reuse the memory of ACKed blocks. A datagram the kernel would not take at once
   * waits in libuv's queue still pointing at its packet, so nothing is handed back while anything
   * is queued; the queue drains within milliseconds.
   */
  private releaseAcked(): void {
    if (this.finished || this.releaseTimer) return;
    if (this.socket && this.socket.queued > 0) {
      this.releaseTimer = setTimeout(() => {
        this.releaseTimer = undefined;
        this.releaseAcked();
        this.fill();
      }, 1);
      return;
    }
    this.o.source.release(this.acked);
  }

  /** Keeps one timer, due one RTO after the last send; re-armed only when that moves it earlier
   * (the first RTT samples shrink the RTO from the configured timeout to a few RTTs). */
  private armTimer(): void {
    if (this.finished) return;
    const due = this.lastSendAt + this.rto();
    if (this.timer) {
      if (this.timerDueAt <= due + 2) return;
      clearTimeout(this.timer);
    }
    this.timerDueAt = due;
    this.timer = setTimeout(() => this.onTimer(), Math.max(1, due - performance.now()));
  }

  private onTimer(): void {
    this.timer = undefined;
    if (this.finished) return;
    const now = performance.now();
    if (this.runArmed) {
      const moved = this.socket!.runAcked!();
      if (moved !== this.runSeen) {
        // The run is moving: that is progress, however long ago we last sent anything ourselves.
        this.runSeen = moved;
        this.sampleRunRtt();
        this.progress(now);
        this.armTimer();
        return;
      }
    }
    const due = this.lastSendAt + this.rto();
    if (now < due) {
      this.timerDueAt = due;
      this.timer = setTimeout(() => this.onTimer(), Math.max(1, due - now));
      return;
    }
    if (this.runArmed) {
      // The run is stuck: a lost block or ACK. Take it back and recover as for our own sends.
      this.takeRunBack(this.lastSendAt);
    }
    if (now - this.lastProgressAt >= this.giveUpMs) {
      void this.finish('timeout', `no ACK for ${Math.round(now - this.lastProgressAt)} ms`, 'transfer timed out');
      return;
    }
    if (this.socket && this.socket.queued > 0) {
      // Part of the window still waits for room in the send buffer: it cannot have been lost,
      // and resending would only queue copies behind it. The clock restarts when it leaves.
      this.lastSendAt = now;
      this.armTimer();
      return;
    }
    this.backoff++;
    if (this.oackPacket) {
      this.oackResent = true;
      this.send(this.oackPacket);
      this.retransmits++;
      this.o.counters.retransmits++;
      this.o.counters.oackSent++;
      this.lastSendAt = now;
      this.armTimer();
    } else if (this.sent > this.acked) {
      this.resendOutstanding(now);
    } else {
      // Waiting on a slow read, nothing outstanding: just look again later.
      this.lastSendAt = now;
      this.armTimer();
    }
  }

  private async finish(outcome: TransferOutcome, reason?: string, errorToClient?: string): Promise<void> {
    if (this.finished) return;
    if (this.runArmed) {
      // The bytes the result reports include what the run got ACKed.
      this.takeRunBack(performance.now());
    }
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.releaseTimer) clearTimeout(this.releaseTimer);
    this.releaseTimer = undefined;
    this.burstLength = 0;
    await this.socket?.closeWith(errorToClient ? encodeError(ERR.NOT_DEFINED, errorToClient) : undefined);
    this.ring.fill(undefined);
    this.burst.length = 0;
    this.run.length = 0;
    await this.o.source.close().catch((err: unknown) => this.o.log.warn({ err }, 'tftp: closing a source failed'));
    this.resolveDone({
      outcome,
      bytes: outcome === 'ok' ? this.totalBytes : this.ackedBytes,
      retransmits: this.retransmits,
      durationMs: performance.now() - this.startedAt,
      ...(reason ? { reason } : {}),
    });
  }
}
