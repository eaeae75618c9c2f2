/**
 * The batched socket's relay: with a window out and the next blocks loaded, the addon sends the
 * next window itself on the ACK of the last block sent, and hands the transfer back to JS for
 * anything else. These tests drive a scripted client over loopback so that each unusual ACK comes
 * exactly where a run is in flight, and check the bytes, the outcome, what the relay carried and
 * that recovery stays bounded.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import { startTftpServer, type TftpServer, type TransferEvent } from '../../src/tftp/server.js';
import { transferIo } from '../../src/tftp/transfer-socket.js';
import { tempDir } from '../helpers/tmp.js';

const MB = 1024 * 1024;

interface Script {
  /** Options for the RRQ; none: plain RFC 1350 (512-byte lockstep). */
  options?: Record<string, string>;
  /** Called for each DATA as it arrives (absolute block number); returns what the client does. */
  onData?(block: number, first: boolean): 'ack' | 'drop' | 'stop' | { also: Buffer };
  /** ACK after every `every` blocks received in order since the last ACK (RFC 7440's window),
   * and at the end; 1 = lockstep. */
  every?: number;
}

interface Outcome {
  bytes: Buffer;
  complete: boolean;
}

/** A TFTP client that does what the script says, in-process, over loopback. */
async function scriptedClient(port: number, file: string, script: Script): Promise<Outcome> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  const parts: Buffer[] = [];
  let expected = 1;
  let sinceAck = 0;
  let blk = 512;
  const every = script.every ?? 1;
  const seen = new Set<number>();
  const opts = Object.entries(script.options ?? {}).flatMap(([k, v]) => [k, v]);
  const rrq = Buffer.from(['\0\x01' + file, 'octet', ...opts, ''].join('\0'), 'latin1');
  const ack = (n: number, to: dgram.RemoteInfo) => sock.send(Buffer.from([0, 4, (n >> 8) & 0xff, n & 0xff]), to.port, to.address);
  try {
    return await new Promise<Outcome>((resolve) => {
      const idle = () => setTimeout(() => resolve({ bytes: Buffer.concat(parts), complete: false }), 4000);
      let timer = idle();
      sock.on('message', (m, rinfo) => {
        clearTimeout(timer);
        timer = idle();
        const op = m.readUInt16BE(0);
        if (op === 6) {
          const fields = m.subarray(2).toString('latin1').split('\0');
          const i = fields.indexOf('blksize');
          if (i >= 0) blk = Number(fields[i + 1]);
          ack(0, rinfo);
          return;
        }
        if (op !== 3) return;
        const wire = m.readUInt16BE(2);
        const block = expected + ((wire - (expected & 0xffff)) & 0xffff);
        if (block !== expected) {
          // Out of order (after a gap) or a repeat: RFC 7440 says ACK the last in-order block.
          if (block > expected) {
            ack((expected - 1) & 0xffff, rinfo);
            sinceAck = 0;
          }
          return;
        }
        const action = script.onData?.(block, !seen.has(block)) ?? 'ack';
        seen.add(block);
        if (action === 'drop') return;
        if (action === 'stop') {
          clearTimeout(timer);
          sock.send(Buffer.from('\0\x05\0\0stop here\0', 'latin1'), rinfo.port, rinfo.address, () =>
            resolve({ bytes: Buffer.concat(parts), complete: false }),
          );
          return;
        }
        parts.push(Buffer.from(m.subarray(4)));
        expected = block + 1;
        const last = m.length - 4 < blk;
        if (last || ++sinceAck === every) {
          ack(block & 0xffff, rinfo);
          sinceAck = 0;
        }
        if (typeof action === 'object') sock.send(action.also, rinfo.port, rinfo.address);
        if (last) {
          clearTimeout(timer);
          setTimeout(() => resolve({ bytes: Buffer.concat(parts), complete: true }), 50);
        }
      });
      sock.send(rrq, port, '127.0.0.1');
    });
  } finally {
    sock.close();
  }
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('tftp: the batched socket relays routine ACKs', { skip: transferIo().kind !== 'batched' && 'the addon is not built' }, () => {
  let root: string;
  let content: Buffer;
  let server: TftpServer;
  const events: TransferEvent[] = [];

  before(async () => {
    root = await tempDir('rbt-tftp-relay-');
    // Over two file chunks at either block size, so runs end and are armed again; not a whole
    // number of blocks, so the last one is short.
    content = randomBytes(2 * MB + 777);
    await writeFile(path.join(root, 'f.bin'), content);
    server = await startTftpServer({
      host: '127.0.0.1',
      port: 0,
      root,
      maxBlockSize: 1468,
      maxWindowSize: 64,
      maxTransfers: 10,
      timeoutMs: 2000,
      retries: 5,
      minRtoMs: 50,
      log: pino({ level: 'silent' }),
      onTransfer: (t) => events.push(t),
    });
  });
  after(async () => {
    await server?.close();
  });

  async function run(script: Script): Promise<{ out: Outcome; event: TransferEvent; relayed: number; sent: number; retransmits: number }> {
    const s0 = server.stats();
    const n = events.length;
    const out = await scriptedClient(server.port, 'f.bin', script);
    const started = Date.now();
    while (events.length === n && Date.now() - started < 5000) await new Promise((r) => setTimeout(r, 10));
    assert.equal(events.length, n + 1, 'the transfer did not end');
    const s1 = server.stats();
    return { out, event: events[n]!, relayed: s1.relayed! - s0.relayed!, sent: s1.dataSent! - s0.dataSent!, retransmits: s1.retransmits! - s0.retransmits! };
  }

  it('lockstep: all but the first blocks of each chunk go out from the socket, bytes exact', async () => {
    const r = await run({});
    assert.ok(r.out.complete);
    assert.equal(sha(r.out.bytes), sha(content));
    assert.equal(r.event.outcome, 'ok');
    assert.equal(r.event.bytes, content.length);
    const blocks = Math.floor(content.length / 512) + 1;
    assert.equal(r.sent, blocks);
    assert.ok(r.relayed > blocks * 0.95, `relayed ${r.relayed} of ${blocks}`);
  });

  it('windowsize 16: windows relayed, bytes exact', async () => {
    const r = await run({ options: { blksize: '1468', windowsize: '16' }, every: 16 });
    assert.ok(r.out.complete);
    assert.equal(sha(r.out.bytes), sha(content));
    const blocks = Math.floor(content.length / 1468) + 1;
    assert.equal(r.sent, blocks);
    assert.equal(r.retransmits, 0);
    assert.ok(r.relayed > blocks * 0.8, `relayed ${r.relayed} of ${blocks}`);
  });

  it('a DATA lost mid-run: the timer takes the run back and resends that block only', async () => {
    const r = await run({ onData: (b, first) => (b === 1500 && first ? 'drop' : 'ack') });
    assert.ok(r.out.complete);
    assert.equal(sha(r.out.bytes), sha(content));
    assert.equal(r.retransmits, 1);
  });

  it('a gap in a window mid-run: JS goes back to it (RFC 7440), bytes exact, resends bounded by the window', async () => {
    const r = await run({ options: { blksize: '1468', windowsize: '16' }, every: 16, onData: (b, first) => (b === 700 && first ? 'drop' : 'ack') });
    assert.ok(r.out.complete);
    assert.equal(sha(r.out.bytes), sha(content));
    assert.ok(r.retransmits >= 1 && r.retransmits <= 16, `${r.retransmits} resends`);
    assert.ok(r.relayed > 0);
  });

  it('a repeated and a stale ACK mid-run change nothing: no duplicate window, bytes exact', async () => {
    const dup = (n: number) => Buffer.from([0, 4, (n >> 8) & 0xff, n & 0xff]);
    const r = await run({
      onData: (b) => (b === 900 ? { also: dup(900) } : b === 1300 ? { also: dup(1100) } : 'ack'),
    });
    assert.ok(r.out.complete);
    assert.equal(sha(r.out.bytes), sha(content));
    // The repeat comes right after the block was sent: not the re-ACK of a client whose timer fired.
    assert.equal(r.retransmits, 0);
  });

  it('a client that ends the transfer mid-run: aborted, and the bytes reported are the ACKed ones', async () => {
    const r = await run({ onData: (b) => (b === 3000 ? 'stop' : 'ack') });
    assert.equal(r.event.outcome, 'aborted');
    assert.match(String(r.event.reason), /client error 0: stop here/);
    assert.equal(r.event.bytes, 2999 * 512);
  });

  it('block numbers roll over past 65535 inside a run', async () => {
    const big = randomBytes(34 * MB);
    await writeFile(path.join(root, 'big.bin'), big);
    const s0 = server.stats();
    const out = await scriptedClient(server.port, 'big.bin', {});
    assert.ok(out.complete);
    assert.equal(sha(out.bytes), sha(big));
    assert.ok(server.stats().relayed! - s0.relayed! > 60000);
  });
});
