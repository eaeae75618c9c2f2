import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCliLogger } from '../../src/log.js';
import { EventService } from '../../src/events/events.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import type { Repositories, Store } from '../../src/store/store.js';
import { tempDir } from '../helpers/tmp.js';

describe('timeline events noted by the boot servers', () => {
  it('are written in order, many per transaction, and flushed on demand', async () => {
    const store = openSqliteStore({ dir: await tempDir('rhevboot-events-') });
    let transactions = 0;
    const counting: Store = { ...store, transaction: <T>(fn: (tx: Repositories) => Promise<T>) => (transactions++, store.transaction(fn)) };
    const events = new EventService(counting, createCliLogger('silent'));
    try {
      for (let i = 0; i < 200; i++) events.note({ kind: 'node.dhcp', subjectType: 'node', subject: `n${i % 4}`, message: `packet ${i}`, data: { i } });
      assert.equal((await store.events.list({})).length, 0, 'nothing is written on the packet path');
      await events.flush();
      const rows = await store.events.list({ limit: 1000 });
      assert.deepEqual(rows.map((r) => r.message), Array.from({ length: 200 }, (_, i) => `packet ${i}`));
      assert.equal(transactions, 1, 'one commit for the whole burst');

      // A failing store loses the batch with a log line; the caller never sees an exception.
      const broken = new EventService({ ...store, transaction: async () => Promise.reject(new Error('disk full')) } as Store, createCliLogger('silent'));
      broken.note({ kind: 'node.dhcp', subjectType: 'node', subject: 'n1', message: 'x', data: {} });
      await broken.flush();
    } finally {
      await store.close();
    }
  });
});
