import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CommitPacer } from '../../src/dhcp/commit-pacer.js';
import { ManualTimers } from '../helpers/manual-timers.js';

/**
 * A pacer on a scheduler the test moves by hand, and a commit that records when it started and
 * takes `holdMs` of that scheduler's time: every time below is exact.
 */
function paced(maxIntervalMs: number, opts: { holdMs?: number; fail?: () => boolean } = {}) {
  const timers = new ManualTimers();
  const starts: number[] = [];
  let running = 0;
  let overlapped = false;
  const commit = async (): Promise<void> => {
    starts.push(timers.now());
    running++;
    if (running > 1) overlapped = true;
    try {
      if (opts.holdMs) await timers.sleep(opts.holdMs);
      if (opts.fail?.()) throw new Error('disk full');
    } finally {
      running--;
    }
  };
  const pacer = new CommitPacer(commit, maxIntervalMs, { now: timers.now, timers });
  return { pacer, timers, starts, overlapped: () => overlapped };
}

describe('lease commit pacing', () => {
  it('commits at the end of the turn when idle: a lone ACK waits for no timer', async () => {
    const { pacer, timers, starts } = paced(1000);
    pacer.request();
    pacer.request();
    await Promise.resolve();
    assert.deepEqual(starts, [], 'not inside the turn that queued the records');
    assert.equal(timers.pendingTimeouts, 0, 'no timer: the end of the turn');
    await timers.turn();
    assert.deepEqual(starts, [0], 'one commit for everything queued in the turn, with no time passing');
  });

  it('while busy, spaces commits by their cost (capped) and folds the requests between them into one', async () => {
    // A 5 ms commit with the default factor of 10 asks for 50 ms from its start; the cap makes it 40.
    const { pacer, timers, starts } = paced(40, { holdMs: 5 });
    pacer.request();
    await timers.turn();
    assert.deepEqual(starts, [0]);
    for (let i = 0; i < 10; i++) {
      pacer.request();
      await timers.advance(2);
    }
    assert.deepEqual(starts, [0], 'requests within the interval wait for the next slot');
    assert.equal(timers.nextDue, 40, 'the slot is 40 ms after the last commit started');
    await timers.advance(39 - timers.now());
    assert.deepEqual(starts, [0]);
    await timers.advance(1);
    assert.deepEqual(starts, [0, 40], 'ten requests, one more commit, at the cap');
    await timers.advance(1000);
    assert.deepEqual(starts, [0, 40], 'nothing queued, nothing committed');
    assert.equal(timers.pendingTimeouts, 0);
  });

  it('a cheap commit leaves a short gap: the cap is a bound, not a fixed delay', async () => {
    // 1 ms x 10 = 10 ms, well inside the 1 s cap.
    const { pacer, timers, starts } = paced(1000, { holdMs: 1 });
    pacer.request();
    await timers.turn();
    await timers.advance(1);
    pacer.request();
    await timers.advance(8);
    assert.deepEqual(starts, [0]);
    await timers.advance(1);
    assert.deepEqual(starts, [0, 10], 'the second commit did not wait for the 1 s cap');
  });

  it('an instant commit leaves no gap: the next one is at the end of the turn again', async () => {
    const { pacer, timers, starts } = paced(1000);
    pacer.request();
    await timers.turn();
    pacer.request();
    assert.equal(timers.pendingTimeouts, 0);
    await timers.turn();
    assert.deepEqual(starts, [0, 0]);
  });

  it('never overlaps commits; what queued during a long commit goes in the next one at once', async () => {
    const { pacer, timers, starts, overlapped } = paced(10, { holdMs: 60 });
    pacer.request();
    await timers.turn();
    pacer.request();
    pacer.request();
    await timers.advance(59);
    assert.deepEqual(starts, [0], 'the first commit still runs');
    await timers.advance(1);
    // The interval (10 ms from the first start) passed while it ran: the end of that turn.
    assert.deepEqual(starts, [0, 60]);
    assert.equal(overlapped(), false);
    const drained = pacer.drain();
    await timers.advance(60);
    await drained;
    assert.deepEqual(starts, [0, 60]);
  });

  it('drain commits what is queued without waiting for the interval, and waits for a running commit', async () => {
    const { pacer, timers, starts } = paced(10_000, { holdMs: 20 });
    pacer.request();
    await timers.turn();
    pacer.request();
    let drained = false;
    const drain = pacer.drain().then(() => (drained = true));
    await timers.advance(20);
    // The first commit ended at 20 and asked for 200 ms; drain started the next one at once.
    assert.deepEqual(starts, [0, 20]);
    assert.equal(drained, false, 'drain waits for the commit it started');
    await timers.advance(19);
    assert.equal(drained, false);
    await timers.advance(1);
    assert.equal(drained, true);
    await drain;
    assert.equal(timers.pendingTimeouts, 0, 'the interval timer is gone');
    await pacer.drain();
    assert.deepEqual(starts, [0, 20], 'drain with nothing queued commits nothing');
  });

  it('a failed commit does not wedge the pacer', async () => {
    let failures = 1;
    const { pacer, timers, starts } = paced(5, { holdMs: 1, fail: () => failures-- > 0 });
    pacer.request();
    await timers.turn();
    await timers.advance(1);
    pacer.request();
    await timers.advance(4);
    assert.deepEqual(starts, [0, 5], 'the next commit at the capped interval after the failed one');
  });
});
