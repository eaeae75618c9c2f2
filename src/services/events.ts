import type { Logger } from '../log.js';
import type { EventRecord, NewEvent, Repositories, Store } from '../store/store.js';

/**
 * The audit trail and the timeline: every state change a service makes is an event row, and the
 * same fact is logged once. Pass `tx` to record the event in the transaction that made the change.
 */
export class EventService {
  private readonly pending: NewEvent[] = [];
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly repos: Repositories & Partial<Pick<Store, 'transaction'>>,
    private readonly log: Logger,
    /** Told of every event written (the server's metrics time boot phases from the timeline). */
    private readonly onRecorded?: (e: EventRecord) => void,
  ) {}

  async record(event: NewEvent, tx: Repositories = this.repos): Promise<EventRecord> {
    const saved = await tx.events.append(event);
    this.log.info({ event: saved.kind, [saved.subjectType]: saved.subject, ...saved.data }, saved.message);
    this.onRecorded?.(saved);
    return saved;
  }

  /**
   * Records a contact event without waiting for it: the boot servers note every DHCP packet and
   * TFTP transfer of a known node, and a boot storm of those must not cost one commit each. Events
   * noted in the same turn are written in one transaction, in order; a failure is logged, never
   * thrown at the packet path.
   */
  note(event: NewEvent): void {
    this.pending.push({ ...event, at: event.at ?? new Date().toISOString() });
    if (this.pending.length === 1 && !this.flushing) setImmediate(() => void this.flush());
  }

  /** Writes what `note` queued (also called at stop, before the store closes). */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (!this.pending.length) return;
    const batch = this.pending.splice(0, this.pending.length);
    const write = async (tx: Repositories): Promise<void> => {
      for (const e of batch) await this.record(e, tx);
    };
    this.flushing = (this.repos.transaction ? this.repos.transaction(write) : write(this.repos))
      .catch((err: unknown) => this.log.warn({ err, events: batch.length }, 'timeline events not recorded'))
      .finally(() => {
        this.flushing = undefined;
        if (this.pending.length) setImmediate(() => void this.flush());
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
