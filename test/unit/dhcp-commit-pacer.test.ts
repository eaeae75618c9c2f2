import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CommitPacer } from '../../src/dhcp/commit-pacer.js';

/** A commit that records when it ran and can be held open by the test. */
function recorder(opts: { holdMs?: number; fail?: () => boolean } = {}) {
  const starts: number[] = [];
  let running = 0;
  let overlapped = false;
  const commit = async (): Promise<void> => {
    starts.push(performance.now());
    running++;
    if (running > 1) overlapped = true;
    try {
      if (opts.holdMs) await sleep(opts.holdMs);
      if (opts.fail?.()) throw new Error('disk full');
    } finally {
      running--;
    }
  };
  return { commit, starts, overlapped: () => overlapped };
}

describe('lease commit pacing', () => {
  it('commits at the end of the turn when idle: a lone ACK waits for no timer', async () => {
    const r = recorder();
    const pacer = new CommitPacer(r.commit, 1000);
    const t0 = performance.now();
    pacer.request();
    pacer.request();
    assert.equal(r.starts.length, 0, 'not inside the turn that queued the records');
    await new Promise((res) => setImmediate(res));
    assert.equal(r.starts.length, 1, 'one commit for everything queued in the turn');
    assert.ok(r.starts[0]! - t0 < 50);
  });

  it('while busy, spaces commits by their cost (capped) and folds the requests between them into one', async () => {
    // A 5 ms commit with the default factor of 10 asks for 50 ms; the cap makes it 40.
    const r = recorder({ holdMs: 5 });
    const pacer = new CommitPacer(r.commit, 40);
    pacer.request();
    await new Promise((res) => setImmediate(res));
    for (let i = 0; i < 10; i++) {
      pacer.request();
      await sleep(2);
    }
    assert.equal(r.starts.length, 1, 'requests within the interval wait for the next slot');
    await sleep(80);
    assert.equal(r.starts.length, 2, 'ten requests, one more commit');
    assert.ok(r.starts[1]! - r.starts[0]! >= 39, `second commit ${r.starts[1]! - r.starts[0]!} ms after the first`);
    await sleep(60);
    assert.equal(r.starts.length, 2, 'nothing queued, nothing committed');
  });

  it('a cheap commit leaves a short gap: the cap is a bound, not a fixed delay', async () => {
    const r = recorder();
    const pacer = new CommitPacer(r.commit, 1000);
    pacer.request();
    await new Promise((res) => setImmediate(res));
    pacer.request();
    await sleep(50);
    assert.equal(r.starts.length, 2, 'the second commit did not wait for the 1 s cap');
  });

  it('never overlaps commits; what queued during a long commit goes in the next one at once', async () => {
    const r = recorder({ holdMs: 60 });
    const pacer = new CommitPacer(r.commit, 10);
    pacer.request();
    await new Promise((res) => setImmediate(res));
    pacer.request();
    pacer.request();
    await sleep(30);
    assert.equal(r.starts.length, 1);
    await sleep(60);
    assert.equal(r.starts.length, 2);
    assert.equal(r.overlapped(), false);
    await pacer.drain();
  });

  it('drain commits what is queued without waiting for the interval, and waits for a running commit', async () => {
    const r = recorder({ holdMs: 20 });
    const pacer = new CommitPacer(r.commit, 10_000);
    pacer.request();
    await new Promise((res) => setImmediate(res));
    pacer.request();
    const t0 = performance.now();
    await pacer.drain();
    assert.equal(r.starts.length, 2);
    assert.ok(performance.now() - t0 < 1000, 'did not wait for the 10 s interval');
    await pacer.drain();
    assert.equal(r.starts.length, 2, 'drain with nothing queued commits nothing');
  });

  it('a failed commit does not wedge the pacer', async () => {
    let failures = 1;
    const r = recorder({ fail: () => failures-- > 0 });
    const pacer = new CommitPacer(r.commit, 5);
    pacer.request();
    await sleep(10);
    pacer.request();
    await sleep(20);
    assert.equal(r.starts.length, 2);
  });
});
