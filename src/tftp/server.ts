/**
 * The TFTP listener: takes read requests on one address and port, decides what (if anything) is
 * served, and runs each transfer on its own socket. Read-only by design.
 */
import dgram from 'node:dgram';
import type { FileHandle } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { RhevbootError } from '../errors.js';
import type { Logger } from '../log.js';
import { negotiate, oackOptions } from './options.js';
import { ERR, encodeError, OP, parsePacket, peekOpcode } from './packet.js';
import { normalizeRequestName, openStatic, prepareRoots, type ServedRoot } from '../confinement/served-files.js';
import { CopiedBlocks, FileBlocks, type DataBlocks } from './data-blocks.js';
import { BufferSource, FileSource, NetasciiSource, type BlockSource } from './reader.js';
import { transferIo } from './transfer-socket.js';
import { ReadTransfer, type TransferCounters } from './transfer.js';

export type TransferOutcomeKind = 'ok' | 'not-found' | 'refused' | 'timeout' | 'error' | 'aborted';

export interface TransferEvent {
  /** The client's IP address (the node's identity on the timeline; ports change per request). */
  client: string;
  file: string;
  bytes: number;
  durationMs: number;
  outcome: TransferOutcomeKind;
  retransmits: number;
  blockSize: number;
  windowSize: number;
  /** Why a transfer did not end `ok`, in words (`client error 8: …`, `socket: ECONNREFUSED`). */
  reason?: string;
}

export interface TftpServerOptions {
  host: string;
  port: number;
  root: string;
  maxBlockSize: number;
  maxWindowSize: number;
  maxTransfers: number;
  timeoutMs: number;
  retries: number;
  log: Logger;
  /** Read-only trees served under a prefix, e.g. { prefix: 'distros/', dir: installDir } for kernels and initrds. */
  mounts?: { prefix: string; dir: string }[];
  /** Files with no file on disk (pxelinux.cfg/01-<mac>, pxelinux.cfg/<HEXIP>, grub.cfg-01-<mac>): bytes, or undefined for "file not found" (answer fast, so pxelinux falls through to `default`). */
  render?: (filename: string, client: { address: string; port: number }) => Promise<Buffer | undefined>;
  /** One call per finished transfer, for the node timeline and metrics. */
  onTransfer?: (t: TransferEvent) => void;
  /** Floor of the adaptive retransmission timeout (tests lower it; the default suits a LAN). */
  minRtoMs?: number;
  /** Send buffer asked for per transfer socket (default 4 MiB, capped by net.core.wmem_max). */
  socketBufferBytes?: number;
}

export interface TftpServer {
  port: number;
  close(): Promise<void>;
  stats(): Record<string, number>;
}

/** A renderer that hangs must not hold a transfer slot (and the client) for ever. */
const RENDER_TIMEOUT_MS = 5000;

interface Counters extends TransferCounters {
  requests: number;
  malformed: number;
  writeRefused: number;
  busy: number;
  ok: number;
  notFound: number;
  refused: number;
  timeouts: number;
  errors: number;
  aborted: number;
  superseded: number;
  duplicateRequests: number;
  rendered: number;
}

interface Slot {
  transfer?: ReadTransfer;
  startedAt: number;
  /** File, mode and options of the request: what tells a repeat from a new question. */
  signature: string;
  /** A repeat of the request that arrived while this transfer had not started yet. */
  repeat?: { options: { name: string; value: string }[]; at: number };
}

/** How long a served request is remembered, and a repeat kept; longer than any client's re-ask. */
const FINISHED_MEMORY_MS = 5000;

function requestSignature(name: string, mode: string, options: { name: string; value: string }[]): string {
  return `${name}\0${mode.toLowerCase()}\0${options.map((o) => `${o.name.toLowerCase()}=${o.value}`).join('\0')}`;
}

export async function startTftpServer(opts: TftpServerOptions): Promise<TftpServer> {
  let roots: ServedRoot[];
  try {
    roots = await prepareRoots(opts.root, opts.mounts);
  } catch (err) {
    throw new RhevbootError('RB_ERR_CONFIG', `TFTP root or mount is not usable: ${(err as Error).message}`, { root: opts.root }, { cause: err });
  }
  const log = opts.log;
  const counters: Counters = {
    requests: 0,
    malformed: 0,
    writeRefused: 0,
    busy: 0,
    ok: 0,
    notFound: 0,
    refused: 0,
    timeouts: 0,
    errors: 0,
    aborted: 0,
    superseded: 0,
    duplicateRequests: 0,
    rendered: 0,
    dataSent: 0,
    oackSent: 0,
    retransmits: 0,
    bytesSent: 0,
    dupAcks: 0,
    sendStalls: 0,
    relayed: 0,
  };
  /** Keyed by client address:port; includes requests still being resolved. */
  const active = new Map<string, Slot>();
  const pending = new Set<Promise<void>>();
  let closing = false;
  /** Smoothed RTT over finished transfers: the starting point for the next one's timeout. */
  let rttHint: number | undefined;

  const family = opts.host.includes(':') ? 'udp6' : 'udp4';
  const socket = dgram.createSocket({ type: family });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', (err) =>
      reject(new RhevbootError('RB_ERR_CONFIG', `cannot listen for TFTP on ${opts.host}:${opts.port}: ${err.message}`, { host: opts.host, port: opts.port }, { cause: err })),
    );
    socket.bind({ address: opts.host, port: opts.port, exclusive: true }, () => resolve());
  });
  socket.removeAllListeners('error');
  socket.on('error', (err) => log.error({ err }, 'tftp: listening socket error'));
  try {
    // A boot storm sends hundreds of RRQs at once; the default buffer drops some of them.
    socket.setRecvBufferSize(4 * 1024 * 1024);
  } catch {
    // capped by net.core.rmem_max
  }
  const port = socket.address().port;

  function report(client: { address: string; port: number }, file: string, outcome: TransferOutcomeKind, extra: Partial<TransferEvent> = {}, startedAt = performance.now()) {
    const key: keyof Counters =
      outcome === 'ok' ? 'ok' : outcome === 'not-found' ? 'notFound' : outcome === 'refused' ? 'refused' : outcome === 'timeout' ? 'timeouts' : outcome === 'error' ? 'errors' : 'aborted';
    counters[key]++;
    if (!opts.onTransfer) return;
    try {
      opts.onTransfer({
        client: client.address,
        file,
        bytes: 0,
        durationMs: performance.now() - startedAt,
        outcome,
        retransmits: 0,
        blockSize: 512,
        windowSize: 1,
        ...extra,
      });
    } catch (err) {
      log.error({ err }, 'tftp: onTransfer hook failed');
    }
  }

  /** Errors answering a request come from a fresh port, as a transfer's first packet would. */
  async function replyError(client: { address: string; port: number }, code: number, message: string): Promise<void> {
    const s = dgram.createSocket({ type: family });
    try {
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.bind({ address: opts.host, port: 0, exclusive: true }, () => resolve());
      });
      await new Promise<void>((resolve) => s.send(encodeError(code, message), client.port, client.address, () => resolve()));
    } catch (err) {
      log.debug({ err, client: client.address }, 'tftp: could not send an error reply');
    } finally {
      try {
        s.close();
      } catch {
        // never bound
      }
    }
  }

  async function resolveSource(
    name: string,
    client: { address: string; port: number },
  ): Promise<{ kind: 'file'; handle: FileHandle; size: number } | { kind: 'buffer'; bytes: Buffer; size: number } | { kind: 'not-found' } | { kind: 'refused'; reason: string }> {
    const opened = await openStatic(name, roots);
    if (opened.kind === 'file') return { kind: 'file', handle: opened.handle, size: opened.size };
    if (opened.kind === 'refused') return opened;
    // Only names in the TFTP root itself can be rendered; mounted trees are plain files.
    if (!opts.render || roots.some((r) => r.prefix !== '' && name.startsWith(r.prefix))) return { kind: 'not-found' };
    let timer: NodeJS.Timeout | undefined;
    try {
      const bytes = await Promise.race([
        opts.render(name, client),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('render timed out')), RENDER_TIMEOUT_MS);
        }),
      ]);
      if (!bytes) return { kind: 'not-found' };
      counters.rendered++;
      return { kind: 'buffer', bytes, size: bytes.length };
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  async function handleRead(client: { address: string; port: number }, filename: string, mode: string, options: { name: string; value: string }[]): Promise<void> {
    const startedAt = performance.now();
    const key = `${client.address}:${client.port}`;
    const check = normalizeRequestName(filename);
    if (!check.ok) {
      log.warn({ client: client.address, port: client.port, file: filename.slice(0, 300), reason: check.reason }, 'tftp: request refused');
      report(client, filename.slice(0, 300), 'refused', {}, startedAt);
      await replyError(client, ERR.ACCESS_VIOLATION, 'access violation');
      return;
    }
    const name = check.name;
    if (mode !== 'octet' && mode !== 'netascii') {
      report(client, name, 'refused', {}, startedAt);
      await replyError(client, ERR.ILLEGAL_OPERATION, `transfer mode ${mode.slice(0, 20)} not supported`);
      return;
    }
    const signature = requestSignature(name, mode, options);
    const existing = active.get(key);
    if (existing) {
      // A repeated RRQ from the same port while a transfer is being set up or has sent its
      // first packet. Usually the client re-asked because our answer was slow or lost (pxelinux
      // re-asks after ~110 ms, iPXE ~250 ms): replacing the transfer then kills the download,
      // because the client has already bound to the first transfer's port and answers the second
      // with error 5. So the first transfer carries on (its own timer resends), and the request
      // is kept: if the client ends the first transfer itself (EDK2's "ask tsize, error 8, ask
      // again", whose error may arrive after the new RRQ), the kept request is served then.
      // A request with other options or another file is a new question: it replaces the old one.
      if (existing.transfer?.started) return;
      if (existing.signature === signature) {
        counters.duplicateRequests++;
        existing.repeat = { options, at: performance.now() };
        return;
      }
      if (!existing.transfer) return;
      counters.superseded++;
      existing.transfer.abort('superseded by a different request from the same port');
    }
    const recent = finished.get(key);
    if (recent && recent.signature === signature && performance.now() - recent.at < FINISHED_MEMORY_MS) {
      // A late duplicate of a request already served: the client has its file; a new transfer
      // would only time out against a client that moved on.
      counters.duplicateRequests++;
      return;
    }
    if (active.size >= opts.maxTransfers) {
      counters.busy++;
      log.warn({ client: client.address, file: name, active: active.size }, 'tftp: too many transfers, request turned away');
      socket.send(encodeError(ERR.NOT_DEFINED, 'server busy, retry'), client.port, client.address);
      return;
    }
    const slot: Slot = { startedAt, signature };
    active.set(key, slot);
    let endedByClient = false;
    try {
      let resolved;
      try {
        resolved = await resolveSource(name, client);
      } catch (err) {
        log.error({ err, client: client.address, file: name }, 'tftp: cannot produce file');
        report(client, name, 'error', {}, startedAt);
        await replyError(client, ERR.NOT_DEFINED, 'cannot read file');
        return;
      }
      if (resolved.kind === 'refused') {
        log.warn({ client: client.address, port: client.port, file: name, reason: resolved.reason }, 'tftp: request refused');
        report(client, name, 'refused', {}, startedAt);
        await replyError(client, ERR.ACCESS_VIOLATION, 'access violation');
        return;
      }
      if (resolved.kind === 'not-found') {
        log.debug({ client: client.address, file: name }, 'tftp: file not found');
        report(client, name, 'not-found', {}, startedAt);
        await replyError(client, ERR.FILE_NOT_FOUND, 'file not found');
        return;
      }
      const netascii = mode === 'netascii';
      const neg = negotiate(options, { maxBlockSize: opts.maxBlockSize, maxWindowSize: opts.maxWindowSize }, { netascii });
      if (neg.ignored.length > 0) log.debug({ client: client.address, file: name, ignored: neg.ignored }, 'tftp: options ignored');
      const oack = oackOptions(neg, resolved.size);
      let source: DataBlocks;
      if (resolved.kind === 'file' && !netascii) {
        try {
          source = new FileBlocks(resolved.handle, resolved.size, neg.blockSize, neg.windowSize);
        } catch (err) {
          // A window too large to buffer (windowsize 65535 of 64 KiB blocks): refuse it, keep the handle count right.
          await resolved.handle.close().catch(() => undefined);
          log.error({ err, client: client.address, file: name, blockSize: neg.blockSize, windowSize: neg.windowSize }, 'tftp: cannot buffer the window');
          report(client, name, 'error', {}, startedAt);
          await replyError(client, ERR.NOT_DEFINED, 'window too large');
          return;
        }
      } else {
        // Netascii changes lengths, so those blocks are converted and copied one at a time.
        const raw: BlockSource = resolved.kind === 'file' ? new FileSource(resolved.handle, resolved.size, 64 * 1024) : new BufferSource(resolved.bytes);
        source = new CopiedBlocks(netascii ? new NetasciiSource(raw) : raw, neg.blockSize);
      }
      if (closing) {
        await source.close();
        return;
      }
      const transfer = new ReadTransfer({
        host: opts.host,
        client,
        source,
        blockSize: neg.blockSize,
        windowSize: neg.windowSize,
        ...(oack.length > 0 ? { oack } : {}),
        timeoutMs: neg.timeoutMs ?? opts.timeoutMs,
        retries: opts.retries,
        ...(opts.minRtoMs !== undefined ? { minRtoMs: opts.minRtoMs } : {}),
        ...(opts.socketBufferBytes !== undefined ? { socketBufferBytes: opts.socketBufferBytes } : {}),
        ...(rttHint !== undefined ? { rttHintMs: rttHint } : {}),
        counters,
        log,
      });
      slot.transfer = transfer;
      try {
        await transfer.start();
      } catch (err) {
        log.error({ err, client: client.address }, 'tftp: cannot open a transfer socket');
        transfer.abort('socket setup failed');
      }
      const r = await transfer.done;
      const rtt = transfer.measuredRttMs;
      if (rtt !== undefined) rttHint = rttHint === undefined ? rtt : 0.8 * rttHint + 0.2 * rtt;
      const outcome = r.outcome === 'aborted' && r.reason?.startsWith('socket setup') ? 'error' : r.outcome;
      if (outcome === 'timeout') log.warn({ client: client.address, file: name, bytes: r.bytes, reason: r.reason }, 'tftp: transfer timed out');
      else log.debug({ client: client.address, file: name, outcome, bytes: r.bytes, ms: Math.round(r.durationMs), reason: r.reason }, 'tftp: transfer finished');
      report(client, name, outcome, { bytes: r.bytes, retransmits: r.retransmits, blockSize: neg.blockSize, windowSize: neg.windowSize, ...(r.reason ? { reason: r.reason } : {}) }, startedAt);
      endedByClient = outcome === 'aborted' && (r.reason?.startsWith('client error') ?? false);
      if (outcome === 'ok') remember(key, signature);
    } finally {
      if (active.get(key) === slot) active.delete(key);
    }
    // The client ended the transfer and had already asked again: answer that request now.
    if (endedByClient && slot.repeat && performance.now() - slot.repeat.at < FINISHED_MEMORY_MS && !closing) {
      await handleRead(client, filename, mode, slot.repeat.options);
    }
  }

  /** Requests served lately, by client address:port: late duplicates of them are ignored. */
  const finished = new Map<string, { signature: string; at: number }>();
  function remember(key: string, signature: string): void {
    finished.set(key, { signature, at: performance.now() });
    if (finished.size > 10_000) {
      const cutoff = performance.now() - FINISHED_MEMORY_MS;
      for (const [k, v] of finished) if (v.at < cutoff) finished.delete(k);
    }
  }

  socket.on('message', (msg, rinfo) => {
    if (closing) return;
    const client = { address: rinfo.address, port: rinfo.port };
    const parsed = parsePacket(msg);
    if (!parsed.ok) {
      counters.malformed++;
      const op = peekOpcode(msg);
      log.debug({ client: client.address, reason: parsed.reason }, 'tftp: malformed packet');
      // A request we cannot read still gets an answer, so the client fails fast instead of retrying.
      if (op === OP.RRQ || op === OP.WRQ) void replyError(client, ERR.ILLEGAL_OPERATION, `malformed request: ${parsed.reason}`);
      return;
    }
    const p = parsed.packet;
    if (p.op === 'WRQ') {
      counters.requests++;
      counters.writeRefused++;
      log.warn({ client: client.address, file: p.filename.slice(0, 300) }, 'tftp: write request refused');
      report(client, p.filename.slice(0, 300), 'refused');
      void replyError(client, ERR.ACCESS_VIOLATION, 'read-only server: write requests are refused');
      return;
    }
    if (p.op !== 'RRQ') return; // stray DATA/ACK/ERROR on the listening port: no transfer lives here
    counters.requests++;
    const job = handleRead(client, p.filename, p.mode, p.options).catch((err: unknown) => log.error({ err, client: client.address }, 'tftp: request failed'));
    pending.add(job);
    void job.finally(() => pending.delete(job));
  });

  // Said once: an unbuilt addon costs throughput, not correctness, and the admin should know why.
  const io = transferIo();
  log.info({ host: opts.host, port, root: roots.find((r) => r.prefix === '')?.dir, io: io.kind, ...(io.reason ? { ioReason: io.reason } : {}) }, 'tftp: listening');

  return {
    port,
    stats(): Record<string, number> {
      return { ...counters, active: active.size };
    },
    async close(): Promise<void> {
      if (closing) return;
      closing = true;
      await new Promise<void>((resolve) => socket.close(() => resolve()));
      for (const slot of active.values()) slot.transfer?.abort('server stopping');
      await Promise.allSettled([...pending]);
    },
  };
}
