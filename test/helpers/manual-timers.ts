/**
 * A scheduler the test moves by hand (src/util/timers.ts): time stands still until `advance`, and
 * "the end of this turn" comes when `turn` says. Timers fire in due order (ties in the order they
 * were set), each followed by the immediates it queued, the way Node runs them; after every
 * callback the promise jobs it started run to the end, so a component's async bookkeeping is done
 * before the test looks. Nothing here waits for the real clock.
 */
import type { TimerHandle, Timers } from '../../src/util/timers.js';

interface Pending extends TimerHandle {
  at: number;
  seq: number;
  fn: () => void;
}

/** Lets every promise job already started (and those they start) run: one real macrotask later. */
export const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class ManualTimers implements Timers {
  private clock = 0;
  private seq = 0;
  private timeouts: Pending[] = [];
  private immediates: Pending[] = [];

  constructor(start = 0) {
    this.clock = start;
  }

  /** The scheduler's clock, in ms: pass as the component's `now`. */
  readonly now = (): number => this.clock;

  /** Timeouts set and not yet fired or cleared. */
  get pendingTimeouts(): number {
    return this.timeouts.length;
  }

  /** When the next timeout is due, or undefined. */
  get nextDue(): number | undefined {
    return this.timeouts.length ? Math.min(...this.timeouts.map((t) => t.at)) : undefined;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    // Node runs a timeout of less than 1 ms (or NaN) after 1 ms.
    const delay = ms >= 1 ? ms : 1;
    const t: Pending = { at: this.clock + delay, seq: this.seq++, fn, unref: () => t };
    this.timeouts.push(t);
    return t;
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    this.timeouts = this.timeouts.filter((t) => t !== handle);
  }

  setImmediate(fn: () => void): TimerHandle {
    const t: Pending = { at: this.clock, seq: this.seq++, fn, unref: () => t };
    this.immediates.push(t);
    return t;
  }

  clearImmediate(handle: TimerHandle | undefined): void {
    this.immediates = this.immediates.filter((t) => t !== handle);
  }

  /** A promise resolved `ms` of this scheduler's time from now: what a test's slow operation awaits. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.setTimeout(resolve, ms));
  }

  /**
   * Ends the current turn: runs the immediates queued so far (those they queue wait for the next
   * turn, as in Node) and lets the promise jobs they start finish. The clock does not move.
   */
  async turn(): Promise<void> {
    await settle();
    const batch = this.immediates;
    this.immediates = [];
    for (const t of batch) {
      t.fn();
      await settle();
    }
  }

  /** Turns until no immediate is queued (a component that keeps queueing them is a bug: it throws). */
  async idle(): Promise<void> {
    for (let i = 0; ; i++) {
      await this.turn();
      if (!this.immediates.length) return;
      if (i === 1000) throw new Error('immediates keep coming: a busy loop');
    }
  }

  /** Moves the clock `ms` on, firing every timeout due on the way, at its own time. */
  async advance(ms: number): Promise<void> {
    const until = this.clock + ms;
    await this.idle();
    for (;;) {
      let next: Pending | undefined;
      for (const t of this.timeouts) if (t.at <= until && (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
      if (!next) break;
      this.timeouts = this.timeouts.filter((t) => t !== next);
      this.clock = next.at;
      next.fn();
      await this.idle();
    }
    this.clock = until;
  }
}
