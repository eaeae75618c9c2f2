import type { Logger } from '../log.js';
import type { EventRecord, NewEvent, Repositories } from '../store/store.js';

/**
 * The audit trail and the timeline: every state change a service makes is an event row, and the
 * same fact is logged once. Pass `tx` to record the event in the transaction that made the change.
 */
export class EventService {
  constructor(private readonly repos: Repositories, private readonly log: Logger) {}

  async record(event: NewEvent, tx: Repositories = this.repos): Promise<EventRecord> {
    const saved = await tx.events.append(event);
    this.log.info({ event: saved.kind, [saved.subjectType]: saved.subject, ...saved.data }, saved.message);
    return saved;
  }

  list(filter: Parameters<Repositories['events']['list']>[0]): Promise<EventRecord[]> {
    return this.repos.events.list(filter);
  }

  /** The most recent events matching the filter, oldest first: what an admin reads first. */
  latest(filter: Omit<NonNullable<Parameters<Repositories['events']['list']>[0]>, 'latest' | 'afterId'>): Promise<EventRecord[]> {
    return this.repos.events.list({ ...filter, latest: true });
  }
}
