import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCliLogger } from '../../src/log.js';
import { EventService } from '../../src/events/events.js';
import { RepeatFolds } from '../../src/events/repeat-folds.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import type { NewEvent } from '../../src/store/store.js';
import { ManualTimers } from '../helpers/manual-timers.js';
import { tempDir } from '../helpers/tmp.js';

const fetch1: NewEvent = { kind: 'node.http', subjectType: 'node', subject: 'n1', message: 'HTTP /boot/ipxe/x: install script to 10.0.0.5', data: { file: '/boot/ipxe/x' } };
const iso = (ms: number) => new Date(ms).toISOString();

describe('repeat folds', () => {
  it('count the same event again and hand over one count per window', () => {
    const folds = new RepeatFolds(1000);
    const out: NewEvent[] = [];
    const emit = (e: NewEvent) => void out.push(e);
    assert.equal(folds.repeat(fetch1, 0, emit), false, 'nothing to repeat yet: written');
    folds.start({ ...fetch1, at: iso(0) }, 0);
    assert.equal(folds.repeat(fetch1, 100, emit), true);
    assert.equal(folds.repeat(fetch1, 200, emit), true);
    assert.equal(folds.repeat({ ...fetch1, message: 'HTTP /boot/ipxe/x: local script to 10.0.0.5' }, 300, emit), false, 'another message is not a repeat');
    assert.equal(folds.repeat({ ...fetch1, subject: 'n2' }, 300, emit), false, 'nor the same message for another subject');
    assert.deepEqual(out, []);

    // The window closed at 1000: the next repeat hands its count over and opens the next window.
    assert.equal(folds.repeat(fetch1, 1500, emit), true);
    assert.equal(out.length, 1);
    assert.deepEqual(out[0], {
      kind: 'node.http', subjectType: 'node', subject: 'n1', at: iso(200),
      message: `HTTP /boot/ipxe/x: install script to 10.0.0.5 (2 more times since ${iso(100)})`,
      data: { file: '/boot/ipxe/x', repeats: 2, since: iso(100) },
    });

    // Before another event of the subject: its count so far, and the fold ends.
    assert.match(folds.take(fetch1)!.message, /\(1 more time since /);
    assert.equal(folds.size, 0);
    assert.equal(folds.take(fetch1), undefined);
    assert.equal(folds.repeat(fetch1, 1600, emit), false, 'after take the next one is written again');
  });

  it('end the folds of subjects that went quiet, and all of them on demand', () => {
    const folds = new RepeatFolds(1000);
    const out: NewEvent[] = [];
    const emit = (e: NewEvent) => void out.push(e);
    folds.start({ ...fetch1, at: iso(0) }, 0);
    folds.start({ ...fetch1, subject: 'n2', at: iso(0) }, 0);
    folds.repeat(fetch1, 500, emit);
    folds.due(1500, emit);
    assert.deepEqual(out, [], 'closed windows wait for the next repeat, a window longer');
    folds.due(2001, emit);
    assert.deepEqual(out.map((e: NewEvent) => [e.subject, e.data?.repeats]), [['n1', 1]], 'a quiet fold ends; one without repeats ends silently');
    assert.equal(folds.size, 0);

    folds.start({ ...fetch1, at: iso(3000) }, 3000);
    folds.repeat(fetch1, 3001, emit);
    folds.due(3002, emit, true);
    assert.equal(out.length, 2);
    assert.equal(folds.size, 0);
  });
});

describe('timeline events noted with foldRepeats', () => {
  // The service on a scheduler the test moves by hand: "the end of the turn" and the fold window's
  // timer come when the test says, and every event is stamped with that clock.
  const T0 = Date.parse('2030-01-01T00:00:00.000Z');
  async function service(foldWindowMs: number) {
    const store = openSqliteStore({ dir: await tempDir('rhevboot-folds-') });
    const timers = new ManualTimers(T0);
    const events = new EventService(store, createCliLogger('silent'), undefined, { foldWindowMs, now: timers.now, timers });
    const rows = () => store.events.list({});
    return { store, timers, events, rows };
  }

  it('write the first at the end of the turn, then the count, in order with the subject\'s other events', async () => {
    const { store, timers, events, rows } = await service(60_000);
    try {
      events.note(fetch1, { foldRepeats: true });
      assert.deepEqual(await rows(), [], 'nothing is written inside the turn that noted it');
      await timers.turn();
      assert.deepEqual((await rows()).map((e) => [e.message, e.at]), [[fetch1.message, iso(T0)]], 'the first fetch is on the timeline at the end of the turn');

      for (let i = 0; i < 4; i++) {
        await timers.advance(100);
        events.note(fetch1, { foldRepeats: true });
      }
      await timers.turn();
      assert.equal((await rows()).length, 1, 'repeats wait for their window');

      // Another event of the subject: the count goes first.
      events.note({ kind: 'node.dhcp', subjectType: 'node', subject: 'n1', message: 'DHCP DISCOVER', data: {} });
      await timers.turn();
      let all = await rows();
      assert.deepEqual(all.map((e) => [e.kind, e.data.repeats, e.at]), [['node.http', undefined, iso(T0)], ['node.http', 4, iso(T0 + 400)], ['node.dhcp', undefined, iso(T0 + 400)]]);
      assert.equal(all[1]!.message, `HTTP /boot/ipxe/x: install script to 10.0.0.5 (4 more times since ${iso(T0 + 100)})`);

      // The same before an event recorded directly (the trigger's, say).
      events.note(fetch1, { foldRepeats: true });
      await timers.turn();
      events.note(fetch1, { foldRepeats: true });
      events.note(fetch1, { foldRepeats: true });
      await events.record({ kind: 'node.booted', subjectType: 'node', subject: 'n1', message: 'booted', data: {} });
      await events.flush();
      all = await rows();
      assert.deepEqual(all.slice(3).map((e) => [e.kind, e.data.repeats]), [['node.http', undefined], ['node.http', 2], ['node.booted', undefined]]);
    } finally {
      await store.close();
    }
  });

  it('a subject that goes quiet: its count is written by the window timer, with no other event to carry it', async () => {
    const { store, timers, events, rows } = await service(1000);
    try {
      events.note(fetch1, { foldRepeats: true });
      await timers.advance(100);
      events.note(fetch1, { foldRepeats: true });
      await timers.advance(100);
      events.note(fetch1, { foldRepeats: true });
      // The window closes at T0 + 1000; a fold that no repeat closed ends a whole window after that,
      // at the first tick of the timer (every window) past it.
      await timers.advance(2999 - 200);
      assert.equal((await rows()).length, 1, 'the count waits for the window after the close');
      await timers.advance(1);
      const all = await rows();
      assert.deepEqual(all.map((e) => [e.data.repeats, e.at]), [[undefined, iso(T0)], [2, iso(T0 + 200)]]);
      assert.equal(all[1]!.message, `${fetch1.message} (2 more times since ${iso(T0 + 100)})`);
      assert.equal(timers.pendingTimeouts, 0, 'no fold left, no timer left');

      // Noted again later: written at once, and folding starts over.
      await timers.advance(10_000);
      events.note(fetch1, { foldRepeats: true });
      await timers.turn();
      assert.deepEqual((await rows()).slice(2).map((e) => [e.data.repeats, e.at]), [[undefined, iso(T0 + 13_000)]]);
    } finally {
      await events.flush();
      await store.close();
    }
  });
});

describe('sqlite store: bootGenerationNow', () => {
  it('is read at once, is undefined while a transaction holds the store, and sees other connections at once', async () => {
    const dir = await tempDir('rhevboot-gen-');
    const store = openSqliteStore({ dir });
    const other = openSqliteStore({ dir });
    try {
      const g0 = store.bootGenerationNow()!;
      assert.equal(g0, await store.bootGeneration());
      await other.secrets.set('x', 'y');
      // Same turn of the event loop: the kept value must not hide another connection's commit.
      assert.ok(store.bootGenerationNow()! > g0);

      let inside: number | undefined = -1;
      await store.transaction(async (tx) => {
        await tx.secrets.set('x', 'z');
        inside = store.bootGenerationNow();
      });
      assert.equal(inside, undefined, 'an open transaction of its own: wait for bootGeneration()');
      assert.equal(store.bootGenerationNow(), await store.bootGeneration());
    } finally {
      await other.close();
      await store.close();
    }
  });
});
