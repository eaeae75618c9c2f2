/**
 * The batched socket's relay: with a window out and the next blocks loaded, the addon sends the
 * next window itself on the ACK of the last block sent, and hands the transfer back to JS for
 * anything else. The scripted client puts each unusual ACK where a run is in flight (blocks deep
 * inside a 512 KiB file chunk), and the tests check the bytes, the outcome, what the relay carried
 * and that recovery stays bounded.
 *
 * Resend counts are exact on a quiet machine. The relay thread answers ACKs apart from the event
 * loop, and on a loaded machine a thread can wait tens of milliseconds for a CPU while the loop's
 * timer does not: with a floor of 50 ms under the timeout, a busy machine made the timer resend
 * what the thread had not yet seen ACKed (2 resends for one loss, a window in a run without any).
 * So the shared server's floor is 500 ms, which no thread waits for, and beyond what the client's
 * script forces the only resends allowed are the timer expiries that stalls of this process's
 * event loop (client and server share it) could have caused (see loop-stalls.ts), each resending
 * at most a window. Every DATA sent is a block sent for the first time or a resend, so `sent` is
 * checked as exactly that, whatever the machine did.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import { startTftpServer, type TftpServer, type TransferEvent } from '../../src/tftp/server.js';
import { transferIo } from '../../src/tftp/transfer-socket.js';
import { waitFor } from '../helpers/fixtures.js';
import { watchStalls } from '../helpers/loop-stalls.js';
import { fakeGet, type FakeClientOptions, type FakeClientResult } from '../helpers/tftp-fake-client.js';
import { tempDir } from '../helpers/tmp.js';

const MB = 1024 * 1024;

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** The shared server's floor under the retransmission timeout (see above). */
const MIN_RTO_MS = 500;

describe('tftp: the batched socket relays routine ACKs', { skip: transferIo().kind !== 'batched' && 'the addon is not built' }, () => {
  let root: string;
  let content: Buffer;
  let server: TftpServer;
  const events: TransferEvent[] = [];
  const serverOptions = () => ({ host: '127.0.0.1', port: 0, root, maxBlockSize: 1468, maxWindowSize: 64, maxTransfers: 10, log: pino({ level: 'silent' }) });

  before(async () => {
    root = await tempDir('rbt-tftp-relay-');
    // Over two file chunks at either block size, so runs end and are armed again; not a whole
    // number of blocks, so the last one is short.
    content = randomBytes(2 * MB + 777);
    await writeFile(path.join(root, 'f.bin'), content);
    server = await startTftpServer({ ...serverOptions(), timeoutMs: 2000, retries: 5, minRtoMs: MIN_RTO_MS, onTransfer: (t) => events.push(t) });
  });
  after(async () => {
    await server?.close();
  });

  async function run(o: Omit<FakeClientOptions, 'port'>): Promise<{
    out: FakeClientResult;
    event: TransferEvent;
    relayed: number;
    sent: number;
    /** DATA sent again (the server's retransmits, less any OACK it resent). */
    resent: number;
    /** Timer expiries this process's stalls could have caused during the transfer. */
    stalls: number;
  }> {
    const s0 = server.stats();
    const n = events.length;
    const watch = watchStalls(MIN_RTO_MS);
    const out = await fakeGet({ port: server.port, deadlineMs: 60000, ...o });
    await waitFor(() => events.length > n, { what: 'the transfer to end', timeoutMs: 10_000 });
    const { expiries } = watch.stop();
    const s1 = server.stats();
    const retransmits = s1.retransmits! - s0.retransmits!;
    const oackResent = Math.max(0, s1.oackSent! - s0.oackSent! - 1);
    return {
      out,
      event: events[n]!,
      relayed: s1.relayed! - s0.relayed!,
      sent: s1.dataSent! - s0.dataSent!,
      resent: retransmits - oackResent,
      stalls: expiries,
    };
  }
  /** What the counts were, for a failure message. */
  const counts = (r: { sent: number; resent: number; stalls: number }) => `sent ${r.sent}, resent ${r.resent}, stall allowance ${r.stalls} timer expiries`;
  const w16 = [
    { name: 'blksize', value: '1468' },
    { name: 'windowsize', value: '16' },
  ];

  it('lockstep: all but the first blocks of each chunk go out from the socket, bytes exact', async () => {
    const r = await run({ file: 'f.bin' });
    assert.ok(r.out.ok);
    assert.equal(sha(r.out.data), sha(content));
    assert.equal(r.event.outcome, 'ok');
    assert.equal(r.event.bytes, content.length);
    const blocks = Math.floor(content.length / 512) + 1;
    assert.equal(r.sent, blocks + r.resent, 'every block sent once, plus the resends');
    assert.ok(r.resent <= r.stalls, counts(r));
    assert.ok(r.relayed > blocks * 0.95, `relayed ${r.relayed} of ${blocks}`);
  });

  it('windowsize 16: windows relayed, bytes exact', async () => {
    const r = await run({ file: 'f.bin', options: w16 });
    assert.ok(r.out.ok);
    assert.equal(sha(r.out.data), sha(content));
    const blocks = Math.floor(content.length / 1468) + 1;
    assert.equal(r.sent, blocks + r.resent, 'every block sent once, plus the resends');
    assert.ok(r.resent <= 16 * r.stalls, counts(r));
    assert.ok(r.relayed > blocks * 0.8, `relayed ${r.relayed} of ${blocks}`);
  });

  it('a DATA lost mid-run: the timer takes the run back and resends that block only', async () => {
    const r = await run({ file: 'f.bin', dropData: [1500] });
    assert.ok(r.out.ok);
    assert.equal(sha(r.out.data), sha(content));
    // Lockstep: one block outstanding, so one resend for the loss.
    assert.ok(r.resent >= 1 && r.resent <= 1 + r.stalls, counts(r));
    assert.equal(r.sent, Math.floor(content.length / 512) + 1 + r.resent);
  });

  it('a loss mid-run is resent after a few round trips, not the configured timeout: runs time the ACKs they answer', async () => {
    // Every ACK but the first goes to runs. A run armed before JS measured an RTT, with no samples
    // from the runs' own timing either, leaves the timer at the full 8 s (16 s seen with both taken
    // out); either one keeps it near the link's RTT.
    // The loss is timed where it happens: from the dropped block to its resent copy, at the client.
    // The broken timer cannot resend before the configured timeout; the working one resends within
    // a few RTTs (its floor is 25 ms), so half the timeout tells them apart however slow the machine.
    const timeoutMs = 8000;
    const slow = await startTftpServer({ ...serverOptions(), timeoutMs, retries: 2 });
    try {
      const out = await fakeGet({ port: slow.port, file: 'f.bin', dropData: [2500], deadlineMs: 30000 });
      assert.ok(out.ok);
      assert.equal(sha(out.data), sha(content));
      const loss = out.recovered.find((x) => x.block === 2500);
      assert.ok(loss, 'block 2500 came again');
      assert.ok(loss.ms < timeoutMs / 2, `block 2500 resent ${Math.round(loss.ms)} ms after it was lost`);
      // How many resends is the lockstep loss test's business, on a floor this machine's thread
      // scheduling cannot reach; this server's 25 ms floor is what is under test here.
      assert.ok(slow.stats().retransmits! >= 1);
    } finally {
      await slow.close();
    }
  });

  it('a gap in a window mid-run: JS goes back to it (RFC 7440), bytes exact, resends bounded by the window', async () => {
    const r = await run({ file: 'f.bin', options: w16, dropData: [700] });
    assert.ok(r.out.ok);
    assert.equal(sha(r.out.data), sha(content));
    // The go-back is a window; the client's further ACKs of the gap resend it at most once more
    // (once per progress, if they come after the resend gap, which a busy loop can make them).
    assert.ok(r.resent >= 1 && r.resent <= 16 * (2 + r.stalls), counts(r));
    assert.ok(r.relayed > 0);
  });

  it('a repeated and a stale ACK mid-run change nothing: no duplicate window, bytes exact', async () => {
    const r = await run({
      file: 'f.bin',
      extraAcks: [
        { after: 900, ack: 900 },
        { after: 1300, ack: 1100 },
      ],
    });
    assert.ok(r.out.ok);
    assert.equal(sha(r.out.data), sha(content));
    // The repeat comes right after the block was sent: not the re-ACK of a client whose timer fired.
    assert.ok(r.resent <= r.stalls, counts(r));
  });

  it('a client that ends the transfer mid-run: aborted, and the bytes reported are the ACKed ones', async () => {
    const r = await run({ file: 'f.bin', errorAt: 3000 });
    assert.equal(r.event.outcome, 'aborted');
    assert.match(String(r.event.reason), /client error 0: stop here/);
    assert.equal(r.event.bytes, 2999 * 512);
  });

  it('block numbers roll over past 65535 inside a run', async () => {
    const big = randomBytes(34 * MB);
    await writeFile(path.join(root, 'big.bin'), big);
    const s0 = server.stats();
    const out = await fakeGet({ port: server.port, file: 'big.bin', deadlineMs: 120000 });
    assert.ok(out.ok);
    assert.equal(sha(out.data), sha(big));
    assert.ok(server.stats().relayed! - s0.relayed! > 60000);
  });
});
