import type { Logger } from '../log.js';
import type { EventRecord, NewEvent, Repositories, Store } from '../store/store.js';
import { realTimers, type TimerHandle, type Timers } from '../util/timers.js';
import { RepeatFolds } from './repeat-folds.js';

export interface NoteOptions {
  /** The same event again for the subject is counted, and the count written once per fold window. */
  foldRepeats?: boolean;
}

/** How long repeats of a contact fold into one event: short enough that the timeline stays live. */
const FOLD_WINDOW_MS = 1000;

export interface EventServiceOptions {
  foldWindowMs?: number;
  /** Wall-clock ms (events are stamped with it): Date.now unless a test drives the clock. */
  now?: () => number;
  /** Node's timers unless a test drives them (with `now`). */
  timers?: Timers;
}

/**
 * The audit trail and the timeline: every state change a service makes is an event row, and the
 * same fact is logged once. Pass `tx` to record the event in the transaction that made the change.
 */
export class EventService {
  private readonly pending: NewEvent[] = [];
  private flushing: Promise<void> | undefined;
  private readonly folds: RepeatFolds;
  private foldTimer: TimerHandle | undefined;
  private readonly now: () => number;
  private readonly timers: Timers;

  constructor(
    private readonly repos: Repositories & Partial<Pick<Store, 'transaction'>>,
    private readonly log: Logger,
    /** Told of every event written (the server's metrics time boot phases from the timeline). */
    private readonly onRecorded?: (e: EventRecord) => void,
    private readonly opts: EventServiceOptions = {},
  ) {
    this.folds = new RepeatFolds(opts.foldWindowMs ?? FOLD_WINDOW_MS);
    this.now = opts.now ?? Date.now;
    this.timers = opts.timers ?? realTimers;
  }

  async record(event: NewEvent, tx: Repositories = this.repos): Promise<EventRecord> {
    // Repeats folded for this subject happened before this event: their count goes first, unless
    // notes are still queued (its first event may be one of them): then it joins them, in order.
    const folded = this.folds.size ? this.folds.take(event) : undefined;
    if (folded) {
      if (this.pending.length) this.queue(folded);
      else await this.write(folded, tx);
    }
    return this.write(event, tx);
  }

  private async write(event: NewEvent, tx: Repositories): Promise<EventRecord> {
    const saved = await tx.events.append(event);
    // A boot storm writes thousands of these a second: the log object only when it is read.
    if (this.log.isLevelEnabled('info')) this.log.info({ event: saved.kind, [saved.subjectType]: saved.subject, ...saved.data }, saved.message);
    this.onRecorded?.(saved);
    return saved;
  }

  /**
   * Records a contact event without waiting for it: the boot servers note every DHCP packet and
   * TFTP transfer of a known node, and a boot storm of those must not cost one commit each. Events
   * noted in the same turn are written in one transaction, in order; a failure is logged, never
   * thrown at the packet path. With `foldRepeats`, the same event again is counted rather than
   * written (see RepeatFolds): the count is written once per fold window.
   */
  note(event: NewEvent, opts: NoteOptions = {}): void {
    const now = this.now();
    if (opts.foldRepeats && this.folds.repeat(event, now, this.queued)) return;
    const e = { ...event, at: event.at ?? new Date(now).toISOString() };
    const folded = this.folds.size ? this.folds.take(e) : undefined;
    if (folded) this.queue(folded);
    this.queue(e);
    if (opts.foldRepeats) {
      this.folds.start(e, now);
      this.armFoldTimer();
    }
  }

  private queue(e: NewEvent): void {
    this.pending.push(e);
    if (this.pending.length === 1 && !this.flushing) this.timers.setImmediate(() => void this.writePending());
  }

  /** `queue`, bound once: handed to the folds on every repeat. */
  private readonly queued = (e: NewEvent): void => this.queue(e);

  private armFoldTimer(): void {
    if (this.foldTimer || !this.folds.size) return;
    this.foldTimer = this.timers.setTimeout(() => {
      this.foldTimer = undefined;
      this.folds.due(this.now(), this.queued);
      this.armFoldTimer();
    }, this.opts.foldWindowMs ?? FOLD_WINDOW_MS);
    this.foldTimer.unref?.();
  }

  /** Writes what `note` queued, folded repeats included (also called at stop, before the store closes). */
  async flush(): Promise<void> {
    this.folds.due(this.now(), (e) => this.pending.push(e), true);
    this.timers.clearTimeout(this.foldTimer);
    this.foldTimer = undefined;
    await this.writePending();
  }

  private async writePending(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (!this.pending.length) return;
    const batch = this.pending.splice(0, this.pending.length);
    const write = async (tx: Repositories): Promise<void> => {
      for (const e of batch) await this.write(e, tx);
    };
    this.flushing = (this.repos.transaction ? this.repos.transaction(write) : write(this.repos))
      .catch((err: unknown) => this.log.warn({ err, events: batch.length }, 'timeline events not recorded'))
      .finally(() => {
        this.flushing = undefined;
        if (this.pending.length) this.timers.setImmediate(() => void this.writePending());
      });
    await this.flushing;
  }

  list(filter: Parameters<Repositories['events']['list']>[0]): Promise<EventRecord[]> {
    return this.repos.events.list(filter);
  }

  /** The most recent events matching the filter, oldest first: what an admin reads first. */
  latest(filter: Omit<NonNullable<Parameters<Repositories['events']['list']>[0]>, 'latest' | 'afterId'>): Promise<EventRecord[]> {
    return this.repos.events.list({ ...filter, latest: true });
  }
}
