import { moveNode, type Move } from '../domain/lifecycle.js';
import type { NodeRecord } from '../domain/node.js';
import type { EventService } from '../events/events.js';
import type { NewEvent, Repositories, Store } from '../store/store.js';

/** The timeline entry of a move: its kind, message and data (the node is the subject). */
export type MoveEvent = Pick<NewEvent, 'kind' | 'message' | 'data'>;

/**
 * Where node moves are written: the node is read again inside the transaction, moved by the
 * lifecycle (domain/lifecycle.ts, which refuses what it does not allow), written, and its event
 * recorded in the same transaction. A node that is gone is not moved (undefined).
 */
export class NodeLifecycle {
  constructor(private readonly deps: { store: Store; events: EventService; now?: () => number }) {}

  /**
   * In its own transaction, or in `tx` when the move is part of a larger change. With `onlyIf`, a
   * node that no longer satisfies it (it moved on since the caller looked) is left alone.
   */
  async move(name: string, move: Omit<Move, 'at'>, event: MoveEvent, opts: { tx?: Repositories; onlyIf?: (node: NodeRecord) => boolean } = {}): Promise<NodeRecord | undefined> {
    const { tx } = opts;
    if (!tx) return this.deps.store.transaction((t) => this.move(name, move, event, { ...opts, tx: t }));
    const fresh = await tx.nodes.get(name);
    if (!fresh || (opts.onlyIf && !opts.onlyIf(fresh))) return undefined;
    const moved = moveNode(fresh, { ...move, at: new Date((this.deps.now ?? Date.now)()).toISOString() });
    await tx.nodes.putMany([moved]);
    await this.deps.events.record({ ...event, subjectType: 'node', subject: name, data: { ...event.data, status: moved.status } }, tx);
    return moved;
  }
}
