/**
 * Loss and duplication against the real server on loopback with a scripted client: the cases of
 * libeval §2's loss table, where the npm server went into a Sorcerer's Apprentice storm.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import { startTftpServer, type TftpServer } from '../../src/tftp/server.js';
import { waitFor } from '../helpers/fixtures.js';
import { watchStalls } from '../helpers/loop-stalls.js';
import { fakeGet } from '../helpers/tftp-fake-client.js';
import { tempDir } from '../helpers/tmp.js';

const SIZE = 64 * 1024 + 100; // 129 blocks of 512
/** The server's floor under the retransmission timeout. */
const MIN_RTO_MS = 60;
let server: TftpServer;
let content: Buffer;

function blocks(size: number, blk: number): number {
  return Math.floor(size / blk) + 1;
}

/**
 * Runs one transfer and counts what the server sent for it. `resent` is DATA sent again (an OACK
 * resent is not DATA); every DATA is a block's first send or a resend, which is checked exactly.
 * `stalls` is how many timer expiries this process's stalls could have caused (client and server
 * share its event loop; see loop-stalls.ts): the resends a loaded machine, not the server, is to
 * blame for. On a quiet machine it is 0 and the bounds below are the script's own.
 */
async function measured(blk: number, run: () => Promise<{ ok: boolean; data: Buffer }>): Promise<{ sent: number; resent: number; stalls: number; dupAcks: number }> {
  const before = server.stats();
  const watch = watchStalls(MIN_RTO_MS);
  const r = await run();
  assert.equal(r.ok, true, 'transfer failed');
  assert.ok(r.data.equals(content), 'content differs');
  // Let the server see the final ACK (the client is done before the server is).
  await waitFor(() => server.stats().active === 0, { what: 'the transfer to end on the server' });
  const stalls = watch.stop().expiries;
  const s = server.stats();
  const sent = s.dataSent! - before.dataSent!;
  const resent = s.retransmits! - before.retransmits! - Math.max(0, s.oackSent! - before.oackSent! - 1);
  assert.equal(sent, blocks(SIZE, blk) + resent, 'every block sent once, plus the resends');
  return { sent, resent, stalls, dupAcks: s.dupAcks! - before.dupAcks! };
}

describe('tftp loss handling (scripted client on loopback)', () => {
  before(async () => {
    const root = await tempDir('rbt-tftp-loss-');
    content = randomBytes(SIZE);
    await writeFile(path.join(root, 'f.bin'), content);
    server = await startTftpServer({
      host: '127.0.0.1',
      port: 0,
      root,
      maxBlockSize: 1468,
      maxWindowSize: 64,
      maxTransfers: 10,
      timeoutMs: 400,
      retries: 5,
      minRtoMs: MIN_RTO_MS,
      log: pino({ level: 'silent' }),
    });
  });
  after(async () => {
    await server?.close();
  });

  /** `resent` within `bound`, plus `perStall` for each expiry the machine's stalls could cause. */
  const within = (m: { resent: number; stalls: number }, bound: number, perStall = 1) =>
    assert.ok(m.resent <= bound + perStall * m.stalls, `resent ${m.resent}: at most ${bound} + ${perStall} x ${m.stalls} (stalls)`);

  it('no loss, lockstep: every block sent exactly once', async () => {
    const m = await measured(512, () => fakeGet({ port: server.port, file: 'f.bin' }));
    within(m, 0);
  });

  it('lost DATA 6, client re-ACKs 5 on its timeout (iPXE/EDK2): one resend, no storm', async () => {
    const m = await measured(512, () => fakeGet({ port: server.port, file: 'f.bin', dropData: [6], reAckMs: 30 }));
    // The re-ACK resends 6 (once per progress); the timer may have done so first.
    assert.ok(m.resent >= 1);
    within(m, 2);
  });

  it('lost DATA 6, passive client: the server timer recovers', async () => {
    const m = await measured(512, () => fakeGet({ port: server.port, file: 'f.bin', dropData: [6] }));
    assert.ok(m.resent >= 1);
    within(m, 1);
  });

  it('every ACK arrives twice: duplicates never double the transfer', async () => {
    const m = await measured(512, () => fakeGet({ port: server.port, file: 'f.bin', doubleAcks: true }));
    // None on an idle machine. On a loaded one a duplicate can arrive after the resend gap (20 ms,
    // shorter than a stall that counts) and resend (once per progress, by design), or the timer
    // can; a Sorcerer's Apprentice server would send every block twice.
    within(m, 2);
    assert.ok(m.dupAcks >= blocks(SIZE, 512) - 1, `dupAcks ${m.dupAcks}`);
  });

  it('ACK delayed past the server timeout (the classic Sorcerer\'s Apprentice trigger): no doubling afterwards', async () => {
    // The client sits on block 10 while the timer resends it, then ACKs both copies of 10. A
    // server that answers each ACK 10 with block 11 sends every later block twice.
    const m = await measured(512, () => fakeGet({ port: server.port, file: 'f.bin', stall: { block: 10, ms: 150 } }));
    within(m, 3);
  });

  it('windowsize 4, lost DATA 6 (client ACKs 5 at the gap): go back once', async () => {
    const opts = [{ name: 'windowsize', value: '4' }];
    const m = await measured(512, () => fakeGet({ port: server.port, file: 'f.bin', options: opts, dropData: [6] }));
    assert.ok(m.resent >= 1);
    within(m, 4, 4);
  });

  it('windowsize 8, several losses (6, 7, 13, 40) and a lost ACK: bounded resends', async () => {
    const opts = [{ name: 'windowsize', value: '8' }];
    const m = await measured(512, () => fakeGet({ port: server.port, file: 'f.bin', options: opts, dropData: [6, 7, 13, 40], dropAck: [16], reAckMs: 30 }));
    within(m, 5 * 8, 8);
  });

  it('blksize 1468 windowsize 16, lost DATA 40, re-ACKing client: bounded resends', async () => {
    const opts = [
      { name: 'blksize', value: '1468' },
      { name: 'windowsize', value: '16' },
    ];
    const m = await measured(1468, () => fakeGet({ port: server.port, file: 'f.bin', options: opts, dropData: [40], reAckMs: 30, doubleAcks: true }));
    assert.ok(m.resent >= 1);
    within(m, 2 * 16, 16);
  });

  it('a lost OACK ACK: the OACK is resent, then the transfer completes', async () => {
    const opts = [{ name: 'tsize', value: '0' }];
    const before = server.stats();
    const r = await fakeGet({ port: server.port, file: 'f.bin', options: opts, dropAck: [0] });
    assert.equal(r.ok, true);
    assert.ok(r.data.equals(content));
    assert.ok(server.stats().oackSent! - before.oackSent! >= 2);
  });
});
