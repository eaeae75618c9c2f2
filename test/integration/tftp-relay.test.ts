/**
 * The batched socket's relay: with a window out and the next blocks loaded, the addon sends the
 * next window itself on the ACK of the last block sent, and hands the transfer back to JS for
 * anything else. The scripted client puts each unusual ACK where a run is in flight (blocks deep
 * inside a 512 KiB file chunk), and the tests check the bytes, the outcome, what the relay carried
 * and that recovery stays bounded.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import { startTftpServer, type TftpServer, type TransferEvent } from '../../src/tftp/server.js';
import { transferIo } from '../../src/tftp/transfer-socket.js';
import { fakeGet, type FakeClientOptions, type FakeClientResult } from '../helpers/tftp-fake-client.js';
import { tempDir } from '../helpers/tmp.js';

const MB = 1024 * 1024;

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

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
    server = await startTftpServer({ ...serverOptions(), timeoutMs: 2000, retries: 5, minRtoMs: 50, onTransfer: (t) => events.push(t) });
  });
  after(async () => {
    await server?.close();
  });

  async function run(o: Omit<FakeClientOptions, 'port'>): Promise<{ out: FakeClientResult; event: TransferEvent; relayed: number; sent: number; retransmits: number }> {
    const s0 = server.stats();
    const n = events.length;
    const out = await fakeGet({ port: server.port, deadlineMs: 60000, ...o });
    const started = Date.now();
    while (events.length === n && Date.now() - started < 5000) await new Promise((r) => setTimeout(r, 10));
    assert.equal(events.length, n + 1, 'the transfer did not end');
    const s1 = server.stats();
    return { out, event: events[n]!, relayed: s1.relayed! - s0.relayed!, sent: s1.dataSent! - s0.dataSent!, retransmits: s1.retransmits! - s0.retransmits! };
  }
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
    assert.equal(r.sent, blocks);
    assert.ok(r.relayed > blocks * 0.95, `relayed ${r.relayed} of ${blocks}`);
  });

  it('windowsize 16: windows relayed, bytes exact', async () => {
    const r = await run({ file: 'f.bin', options: w16 });
    assert.ok(r.out.ok);
    assert.equal(sha(r.out.data), sha(content));
    const blocks = Math.floor(content.length / 1468) + 1;
    assert.equal(r.sent, blocks);
    assert.equal(r.retransmits, 0);
    assert.ok(r.relayed > blocks * 0.8, `relayed ${r.relayed} of ${blocks}`);
  });

  it('a DATA lost mid-run: the timer takes the run back and resends that block only', async () => {
    const r = await run({ file: 'f.bin', dropData: [1500] });
    assert.ok(r.out.ok);
    assert.equal(sha(r.out.data), sha(content));
    assert.equal(r.retransmits, 1);
  });

  it('a loss mid-run is resent after a few round trips, not the configured timeout: runs time the ACKs they answer', async () => {
    // Every ACK but the first goes to runs. A run armed before JS measured an RTT, with no samples
    // from the runs' own timing either, leaves the timer at the full 8 s (16 s seen with both taken
    // out); either one keeps it near the link's RTT.
    const slow = await startTftpServer({ ...serverOptions(), timeoutMs: 8000, retries: 2 });
    try {
      const started = Date.now();
      const out = await fakeGet({ port: slow.port, file: 'f.bin', dropData: [2500], deadlineMs: 30000 });
      assert.ok(out.ok);
      assert.equal(sha(out.data), sha(content));
      assert.ok(Date.now() - started < 4000, `took ${Date.now() - started} ms`);
      assert.equal(slow.stats().retransmits, 1);
    } finally {
      await slow.close();
    }
  });

  it('a gap in a window mid-run: JS goes back to it (RFC 7440), bytes exact, resends bounded by the window', async () => {
    const r = await run({ file: 'f.bin', options: w16, dropData: [700] });
    assert.ok(r.out.ok);
    assert.equal(sha(r.out.data), sha(content));
    assert.ok(r.retransmits >= 1 && r.retransmits <= 16, `${r.retransmits} resends`);
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
    assert.equal(r.retransmits, 0);
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
