/** A FIFO async lock: one holder at a time, waiters served in arrival order. */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();
  /** Holder and waiters: what `idle` is made of. */
  private users = 0;

  /**
   * Nobody holds the lock or waits for it: a synchronous read cannot land in the middle of someone's
   * critical section, so it may skip the queue (and the promise hops of `run`).
   */
  get idle(): boolean {
    return this.users === 0;
  }

  async run<T>(fn: () => Promise<T> | T): Promise<T> {
    let release!: () => void;
    const next = new Promise<void>((resolve) => (release = resolve));
    const previous = this.tail;
    this.tail = previous.then(() => next);
    this.users++;
    try {
      await previous;
      return await fn();
    } finally {
      this.users--;
      release();
    }
  }
}
