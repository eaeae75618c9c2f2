/**
 * The packet sources a transfer sends from: right bytes and headers at every size edge, packets of
 * the outstanding window never overwritten before they are released, big reads, and handles closed.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { open, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { CopiedBlocks, FileBlocks, type CachedRead, type DataBlocks } from '../../src/tftp/data-blocks.js';
import { udpBatch } from '../../src/native/udp-batch.js';
import { BufferSource } from '../../src/tftp/reader.js';
import { tempDir } from '../helpers/tmp.js';

let dir: string;
before(async () => {
  dir = await tempDir('rbt-tftp-packets-');
});

/** The real page-cache read, counting the calls it served. */
function countedCachedRead(): { read: CachedRead; hits: () => number } {
  let hits = 0;
  const addon = udpBatch();
  return {
    read: (fd, buffers, position) => {
      const r = addon ? addon.readCached(fd, buffers, 0, buffers.length, position) : -1;
      if (r > 0) hits++;
      return r;
    },
    hits: () => hits,
  };
}

/** A read handle that counts `readv` calls and can be told to fail. */
async function counted(file: string, fail?: Error): Promise<{ handle: FileHandle; reads: () => number }> {
  const handle = await open(file, 'r');
  let reads = 0;
  const real = handle.readv.bind(handle);
  (handle as unknown as { readv: typeof real }).readv = ((buffers, position) => {
    reads++;
    if (fail) return Promise.reject(fail);
    return real(buffers, position);
  }) as typeof real;
  return { handle, reads: () => reads };
}

/**
 * Drives a source the way a transfer does with window `w`: blocks in order, at most `w` unreleased,
 * and checks after every new block that each outstanding packet still holds what it held when it
 * was handed out (a retransmission resends those very Buffers).
 */
async function drain(src: DataBlocks, blk: number, w: number): Promise<{ data: Buffer; blocks: number }> {
  const parts: Buffer[] = [];
  const outstanding: { n: number; p: Buffer; copy: Buffer }[] = [];
  for (let n = 1; ; n++) {
    if (outstanding.length === w) src.release(outstanding.shift()!.n);
    const p = await src.packet(n);
    assert.equal(p.readUInt16BE(0), 3, `block ${n}: opcode`);
    assert.equal(p.readUInt16BE(2), n & 0xffff, `block ${n}: block number`);
    assert.ok(p.length <= 4 + blk, `block ${n}: longer than the block size`);
    outstanding.push({ n, p, copy: Buffer.from(p) });
    for (const o of outstanding) assert.ok(o.p.equals(o.copy), `block ${o.n} changed while outstanding (at block ${n})`);
    parts.push(Buffer.from(p.subarray(4)));
    if (p.length < 4 + blk) return { data: Buffer.concat(parts), blocks: n };
  }
}

describe('FileBlocks', () => {
  const sizes = (blk: number, perChunk: number) => [0, 1, blk - 1, blk, blk + 1, perChunk * blk - 1, perChunk * blk, perChunk * blk + 1, 3 * perChunk * blk + 7];

  for (const via of ['page cache', 'thread pool'] as const) {
    for (const blk of [512, 1468]) {
      for (const w of [1, 4, 64]) {
        it(`blksize ${blk}, windowsize ${w}, read via the ${via}: every size edge comes out byte for byte`, async () => {
          const perChunk = Math.max(w, Math.ceil((512 * 1024) / blk));
          for (const size of sizes(blk, perChunk)) {
            const content = randomBytes(size);
            const file = path.join(dir, `f-${blk}-${w}-${size}`);
            await writeFile(file, content);
            const inline = countedCachedRead();
            const { handle, reads } = await counted(file);
            const src = new FileBlocks(handle, size, blk, w, via === 'page cache' ? inline.read : () => -1);
            const { data, blocks } = await drain(src, blk, w);
            await src.close();
            assert.equal(blocks, Math.floor(size / blk) + 1, `size ${size}: block count`);
            assert.ok(data.equals(content), `size ${size}: content differs`);
            // A file just written is in the page cache: the inline path must have served it.
            if (size > 0) assert.ok(via === 'page cache' ? inline.hits() > 0 && reads() === 0 : reads() > 0, `size ${size}: read path (${inline.hits()} inline, ${reads()} pool)`);
          }
        });
      }
    }
  }

  it('block numbers roll over past 65535 and the bytes still line up', async () => {
    const blk = 8;
    const size = 65536 * blk + 100;
    const content = randomBytes(size);
    const file = path.join(dir, 'rollover');
    await writeFile(file, content);
    const src = new FileBlocks(await open(file, 'r'), size, blk, 16);
    const { data, blocks } = await drain(src, blk, 16);
    await src.close();
    assert.equal(blocks, 65536 + 13);
    assert.ok(data.equals(content));
  });

  it('reads in large chunks, not per block or per window', async () => {
    const size = 4 * 1024 * 1024 + 5;
    const file = path.join(dir, 'big');
    await writeFile(file, randomBytes(size));
    const { handle, reads } = await counted(file);
    const inline = countedCachedRead();
    const src = new FileBlocks(handle, size, 1468, 4, inline.read);
    await drain(src, 1468, 4);
    await src.close();
    assert.ok(reads() + inline.hits() <= 10, `${reads() + inline.hits()} reads for 4 MiB`);
  });

  it('a buffer still holding unreleased blocks is not refilled: the next block waits for the release', async () => {
    const blk = 512;
    const perChunk = 1024;
    const size = 3 * perChunk * blk;
    const content = randomBytes(size);
    const file = path.join(dir, 'held');
    await writeFile(file, content);
    const src = new FileBlocks(await open(file, 'r'), size, blk, 4);
    const held = await src.packet(1);
    const heldCopy = Buffer.from(held);
    for (let n = 2; n <= 2 * perChunk; n++) await src.packet(n);
    // Block 1 is still unreleased (as if its datagram were queued): the first buffer must not take chunk 3.
    const next = src.packet(2 * perChunk + 1);
    const early = await Promise.race([next, new Promise((r) => setTimeout(() => r('pending'), 100))]);
    assert.equal(early, 'pending');
    assert.ok(held.equals(heldCopy), 'an unreleased packet was overwritten');
    src.release(2 * perChunk);
    const p = await next;
    assert.ok(p.subarray(4).equals(content.subarray(2 * perChunk * blk, 2 * perChunk * blk + blk)));
    await src.close();
  });

  it('a transfer that ends before its first block (the OVMF tsize probe) reads one chunk only', async () => {
    const size = 4 * 1024 * 1024;
    const file = path.join(dir, 'probe');
    await writeFile(file, randomBytes(size));
    const { handle, reads } = await counted(file);
    const inline = countedCachedRead();
    const src = new FileBlocks(handle, size, 1468, 4, inline.read);
    await new Promise((r) => setTimeout(r, 50));
    await src.close();
    // One chunk, by whichever path: inline from the page cache or through the thread pool.
    assert.equal(reads() + inline.hits(), 1);
    assert.equal(handle.fd, -1, 'handle still open');
  });

  it('a file that shrank after open ends the transfer short instead of hanging', async () => {
    const file = path.join(dir, 'shrunk');
    const content = randomBytes(5000);
    await writeFile(file, content);
    const src = new FileBlocks(await open(file, 'r'), 9000, 512, 4);
    const { data } = await drain(src, 512, 4);
    await src.close();
    assert.ok(data.equals(content));
  });

  it('a read error rejects the packet, and close still closes the handle', async () => {
    const file = path.join(dir, 'eio');
    await writeFile(file, randomBytes(3000));
    const { handle } = await counted(file, Object.assign(new Error('EIO'), { code: 'EIO' }));
    // Not in the page cache: the thread-pool read runs, and fails.
    const src = new FileBlocks(handle, 3000, 512, 4, () => -1);
    await assert.rejects(async () => src.packet(1), /EIO/);
    await src.close();
    assert.equal(handle.fd, -1, 'handle still open');
  });

  it('close right after open waits for the read in flight, then closes the handle', async () => {
    const file = path.join(dir, 'early-close');
    await writeFile(file, randomBytes(2 * 1024 * 1024));
    const handle = await open(file, 'r');
    const src = new FileBlocks(handle, 2 * 1024 * 1024, 1468, 64);
    await src.close();
    assert.equal(handle.fd, -1, 'handle still open');
  });
});

describe('CopiedBlocks', () => {
  it('headers, sizes and bytes from a buffer source', async () => {
    for (const size of [0, 1, 511, 512, 513, 2048]) {
      const content = randomBytes(size);
      const { data, blocks } = await drain(new CopiedBlocks(new BufferSource(content), 512), 512, 4);
      assert.equal(blocks, Math.floor(size / 512) + 1);
      assert.ok(data.equals(content), `size ${size}`);
    }
  });
});

