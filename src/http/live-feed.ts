import type { Logger } from '../log.js';
import type { EventRecord, JobRecord, Store } from '../store/store.js';

/** A job as the console shows it: no params (paths, engine names) it does not need. */
export type JobUpdate = Pick<JobRecord, 'id' | 'kind' | 'subject' | 'state' | 'progress' | 'error' | 'updatedAt'>;

export type FeedMessage = { type: 'event'; event: EventRecord } | { type: 'job'; job: JobUpdate } | { type: 'reset'; reason: string };

export interface Subscription {
  /** Stops delivery (the client went away). Idempotent. */
  close(): void;
  /** The subscriber has been given (or told to reload) every event up to this id. */
  cursor: number;
}

interface Subscriber {
  deliver(m: FeedMessage): void;
  end(): void;
  /** Messages that arrived while the backlog was being read; null once live. */
  queue: FeedMessage[] | null;
  /** Highest event id this subscriber has been given: replays and live polls never repeat one. */
  sentUpTo: number;
}

/** Replayed to a reconnecting client at most; beyond that it is told to reload (a `reset`). */
export const BACKLOG_LIMIT = 1000;
const BATCH = 500;

function jobUpdate(j: JobRecord): JobUpdate {
  return { id: j.id, kind: j.kind, subject: j.subject, state: j.state, progress: j.progress, error: j.error, updatedAt: j.updatedAt };
}

/**
 * What the console's live stream carries: new event rows and job progress, polled from the store
 * by one timer shared by every open stream, and only while at least one is open.
 *
 * Polling rather than hooking EventService on purpose: `rhevboot nodeset` from the CLI, a
 * `copycds` in another process and the boot servers all write the same SQLite file, and only the
 * table sees all of them. Event ids only grow, so "after id N" is an exact cursor; a client that
 * reconnects with the last id it saw misses nothing.
 */
export class LiveFeed {
  private readonly subs = new Set<Subscriber>();
  private cursor = 0;
  /** Running jobs at the last poll and what was sent for each, to send changes and the final state. */
  private jobs = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private starting: Promise<void> | undefined;
  private ticking = false;
  private failing = false;

  constructor(private readonly store: Pick<Store, 'events' | 'jobs'>, private readonly log: Logger, private readonly intervalMs = 500) {}

  get size(): number {
    return this.subs.size;
  }

  /**
   * Starts delivering to `deliver`: first the events after `afterId` (when the client says where it
   * stopped), then the running jobs, then everything new as it is polled. `end` is called if the
   * feed stops (the appliance is stopping).
   */
  async subscribe(deliver: (m: FeedMessage) => void, end: () => void, afterId?: number): Promise<Subscription> {
    // The last other subscriber may leave while we wait for the start, which stops the poller:
    // wait until the start we waited for is still the current one.
    for (;;) {
      const started = this.start();
      await started;
      if (this.starting === started) break;
    }
    // Captured with no await in between: the poller delivers only ids above `upTo` from here on,
    // so the backlog read below is exactly (afterId, upTo] and nothing falls in a gap.
    const upTo = this.cursor;
    const sub: Subscriber = { deliver, end, queue: [], sentUpTo: Math.min(afterId ?? upTo, upTo) };
    this.subs.add(sub);
    const subscription = { close: () => this.drop(sub), cursor: upTo };
    try {
      if (afterId !== undefined && afterId > upTo) {
        // An id this table never reached: the store was replaced (restored, recreated).
        sub.deliver({ type: 'reset', reason: `event ${afterId} does not exist here: reload` });
      } else if (afterId !== undefined && afterId < upTo) {
        const backlog = (await this.store.events.list({ afterId, limit: BACKLOG_LIMIT + 1 })).filter((e) => e.id <= upTo);
        if (backlog.length > BACKLOG_LIMIT) {
          sub.deliver({ type: 'reset', reason: `more than ${BACKLOG_LIMIT} events since id ${afterId}: reload` });
          sub.sentUpTo = upTo;
        } else {
          for (const event of backlog) this.send(sub, { type: 'event', event });
        }
      }
      for (const j of await this.store.jobs.list({ state: 'running', limit: 100 })) sub.deliver({ type: 'job', job: jobUpdate(j) });
    } catch (err) {
      this.drop(sub);
      throw err;
    }
    const queued = sub.queue ?? [];
    sub.queue = null;
    for (const m of queued) this.send(sub, m);
    return subscription;
  }

  /** Ends every subscriber (their streams close) and the timer: called when the server closes. */
  stop(): void {
    for (const sub of [...this.subs]) {
      this.drop(sub);
      sub.end();
    }
  }

  private send(sub: Subscriber, m: FeedMessage): void {
    if (sub.queue) return void sub.queue.push(m);
    if (m.type === 'event') {
      if (m.event.id <= sub.sentUpTo) return;
      sub.sentUpTo = m.event.id;
    }
    sub.deliver(m);
  }

  private drop(sub: Subscriber): void {
    if (!this.subs.delete(sub) || this.subs.size) return;
    // Nobody listens: stop polling. The next subscriber starts from the table's end again.
    clearInterval(this.timer);
    this.timer = undefined;
    this.starting = undefined;
  }

  private start(): Promise<void> {
    this.starting ??= (async () => {
      this.cursor = (await this.store.events.list({ latest: true, limit: 1 }))[0]?.id ?? 0;
      this.jobs = new Map((await this.store.jobs.list({ state: 'running', limit: 100 })).map((j) => [j.id, j.updatedAt + JSON.stringify(j.progress)]));
      // unref: an open console must never keep the process alive on its own.
      this.timer = setInterval(() => void this.tick(), this.intervalMs).unref();
    })().catch((err: unknown) => {
      this.starting = undefined;
      throw err;
    });
    return this.starting;
  }

  private broadcast(m: FeedMessage): void {
    for (const sub of this.subs) {
      try {
        this.send(sub, m);
      } catch (err) {
        // One broken client must not starve the others.
        this.log.debug({ err }, 'live stream: delivery failed');
        this.drop(sub);
        sub.end();
      }
    }
  }

  /** One poll: new events in id order, then changed and finished jobs. Never overlaps itself. */
  async tick(): Promise<void> {
    if (this.ticking || !this.subs.size) return;
    this.ticking = true;
    try {
      // A boot storm can write more than a batch per interval: drain, a few batches at most.
      for (let i = 0; i < 4; i++) {
        const events = await this.store.events.list({ afterId: this.cursor, limit: BATCH });
        for (const event of events) {
          this.cursor = event.id;
          this.broadcast({ type: 'event', event });
        }
        if (events.length < BATCH) break;
      }
      const running = await this.store.jobs.list({ state: 'running', limit: 100 });
      const now = new Map<string, string>();
      for (const j of running) {
        const stamp = j.updatedAt + JSON.stringify(j.progress);
        now.set(j.id, stamp);
        if (this.jobs.get(j.id) !== stamp) this.broadcast({ type: 'job', job: jobUpdate(j) });
      }
      for (const id of this.jobs.keys()) {
        if (now.has(id)) continue;
        // Left the running set: succeeded, failed, or requeued for a retry. Say which.
        const j = await this.store.jobs.get(id);
        if (j) this.broadcast({ type: 'job', job: jobUpdate(j) });
      }
      this.jobs = now;
      if (this.failing) this.log.info('live stream: store polling recovered');
      this.failing = false;
    } catch (err) {
      // Logged once per outage, not twice a second; the clients keep their streams.
      if (!this.failing) this.log.warn({ err }, 'live stream: polling the store failed');
      this.failing = true;
    } finally {
      this.ticking = false;
    }
  }
}
