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
import { tempDir } from '../helpers/tmp.js';
import { fakeGet } from '../helpers/tftp-fake-client.js';

const SIZE = 64 * 1024 + 100; // 129 blocks of 512
let server: TftpServer;
let content: Buffer;

function blocks(size: number, blk: number): number {
  return Math.floor(size / blk) + 1;
}

async function measured(run: () => Promise<{ ok: boolean; data: Buffer }>): Promise<{ sent: number; retransmits: number; dupAcks: number }> {
  const before = server.stats();
  const r = await run();
  assert.equal(r.ok, true, 'transfer failed');
  assert.ok(r.data.equals(content), 'content differs');
  // Let the server see the final ACK (the client is done before the server is).
  for (let i = 0; i < 50 && server.stats().active! > 0; i++) await new Promise((res) => setTimeout(res, 10));
  const s = server.stats();
  return { sent: s.dataSent! - before.dataSent!, retransmits: s.retransmits! - before.retransmits!, dupAcks: s.dupAcks! - before.dupAcks! };
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
      minRtoMs: 60,
      log: pino({ level: 'silent' }),
    });
  });
  after(async () => {
    await server?.close();
  });

  it('no loss, lockstep: every block sent exactly once', async () => {
    const m = await measured(() => fakeGet({ port: server.port, file: 'f.bin' }));
    assert.equal(m.sent, blocks(SIZE, 512));
    assert.equal(m.retransmits, 0);
  });

  it('lost DATA 6, client re-ACKs 5 on its timeout (iPXE/EDK2): one resend, no storm', async () => {
    const m = await measured(() => fakeGet({ port: server.port, file: 'f.bin', dropData: [6], reAckMs: 30 }));
    assert.ok(m.sent <= blocks(SIZE, 512) + 2, `sent ${m.sent}`);
    assert.ok(m.retransmits >= 1 && m.retransmits <= 2, `retransmits ${m.retransmits}`);
  });

  it('lost DATA 6, passive client: the server timer recovers', async () => {
    const m = await measured(() => fakeGet({ port: server.port, file: 'f.bin', dropData: [6] }));
    assert.ok(m.sent <= blocks(SIZE, 512) + 1, `sent ${m.sent}`);
  });

  it('every ACK arrives twice: duplicates never double the transfer', async () => {
    const m = await measured(() => fakeGet({ port: server.port, file: 'f.bin', doubleAcks: true }));
    // Exactly one send per block on an idle machine. On a loaded one a duplicate can arrive after
    // the resend gap and (once per progress, by design) or the timer can resend a block; a
    // Sorcerer's Apprentice server would send every block twice.
    assert.ok(m.sent <= blocks(SIZE, 512) + 2, `sent ${m.sent} for ${blocks(SIZE, 512)} blocks`);
    assert.ok(m.dupAcks >= blocks(SIZE, 512) - 1, `dupAcks ${m.dupAcks}`);
  });

  it('ACK delayed past the server timeout (the classic Sorcerer\'s Apprentice trigger): no doubling afterwards', async () => {
    // The client sits on block 10 while the timer resends it, then ACKs both copies of 10. A
    // server that answers each ACK 10 with block 11 sends every later block twice.
    const m = await measured(() => fakeGet({ port: server.port, file: 'f.bin', stall: { block: 10, ms: 150 } }));
    assert.ok(m.sent <= blocks(SIZE, 512) + 3, `sent ${m.sent} for ${blocks(SIZE, 512)} blocks`);
  });

  it('windowsize 4, lost DATA 6 (client ACKs 5 at the gap): go back once', async () => {
    const opts = [{ name: 'windowsize', value: '4' }];
    const m = await measured(() => fakeGet({ port: server.port, file: 'f.bin', options: opts, dropData: [6] }));
    assert.ok(m.sent <= blocks(SIZE, 512) + 4, `sent ${m.sent}`);
  });

  it('windowsize 8, several losses (6, 7, 13, 40) and a lost ACK: bounded resends', async () => {
    const opts = [{ name: 'windowsize', value: '8' }];
    const m = await measured(() => fakeGet({ port: server.port, file: 'f.bin', options: opts, dropData: [6, 7, 13, 40], dropAck: [16], reAckMs: 30 }));
    assert.ok(m.sent <= blocks(SIZE, 512) + 5 * 8, `sent ${m.sent}`);
  });

  it('blksize 1468 windowsize 16, lost DATA 40, re-ACKing client: bounded resends', async () => {
    const opts = [
      { name: 'blksize', value: '1468' },
      { name: 'windowsize', value: '16' },
    ];
    const m = await measured(() => fakeGet({ port: server.port, file: 'f.bin', options: opts, dropData: [40], reAckMs: 30, doubleAcks: true }));
    assert.ok(m.sent <= blocks(SIZE, 1468) + 2 * 16, `sent ${m.sent}`);
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
