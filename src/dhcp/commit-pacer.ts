/**
 * When to run the next group commit of leases. A commit has a fixed cost (a transaction and a WAL
 * append, ~100 µs) that does not grow much with the number of leases in it, so the fewer commits
 * the better, but every ACK waits for its commit, so none may wait long. better-sqlite3 commits
 * synchronously, so "commit whatever queued while the last commit ran" batches nothing: nothing
 * queues during a synchronous call. Commits are spaced instead:
 *
 * - the next commit may start `costFactor` times the last commit's duration after the last one
 *   started (so commits take at most ~1/costFactor of the event loop), and never later than
 *   `maxIntervalMs` after it (a checkpoint that made one commit slow must not hold ACKs long);
 * - when that moment has passed (an idle server), the commit runs at the end of the current
 *   event-loop turn (setImmediate), so every packet read in the same poll phase joins it and a lone
 *   client's ACK waits for nothing but its own write;
 * - commits never overlap; records queued meanwhile go in the next one.
 *
 * Under load that is several leases per commit instead of one or two, and far fewer WAL frames, so
 * far fewer checkpoints, each of which stalls the event loop for milliseconds.
 */
import { realTimers, type TimerHandle, type Timers } from '../util/timers.js';

export const DEFAULT_COMMIT_INTERVAL_MS = 5;
export const DEFAULT_COMMIT_COST_FACTOR = 10;

export interface CommitPacerOptions {
  /** The next commit may start this many times the last one's duration after it started. */
  costFactor?: number;
  /** Milliseconds, monotonic: performance.now() unless a test drives the clock. */
  now?: () => number;
  /** Node's timers unless a test drives them (with `now`). */
  timers?: Timers;
}

export class CommitPacer {
  private running: Promise<void> | undefined;
  private timer: TimerHandle | undefined;
  private immediate: TimerHandle | undefined;
  private lastStart = Number.NEGATIVE_INFINITY;
  /** Least time from the last commit's start to the next one's. */
  private gapMs = 0;
  private wanted = false;
  private readonly costFactor: number;
  private readonly clock: () => number;
  private readonly timers: Timers;

  /** `commit` takes whatever is queued at the moment it is called; its failures are its own to report. */
  constructor(
    private readonly commit: () => Promise<void>,
    private readonly maxIntervalMs: number,
    opts: CommitPacerOptions = {},
  ) {
    this.costFactor = opts.costFactor ?? DEFAULT_COMMIT_COST_FACTOR;
    this.clock = opts.now ?? (() => performance.now());
    this.timers = opts.timers ?? realTimers;
  }

  /** Something was queued: make sure a commit will take it. */
  request(): void {
    this.wanted = true;
    if (this.running || this.timer || this.immediate) return;
    const wait = this.lastStart + this.gapMs - this.clock();
    if (wait <= 0) {
      this.immediate = this.timers.setImmediate(() => {
        this.immediate = undefined;
        this.start();
      });
    } else {
      this.timer = this.timers.setTimeout(() => {
        this.timer = undefined;
        this.start();
      }, Math.ceil(wait));
    }
  }

  /** Commits what is queued now, interval or not, and resolves once nothing is queued or running. */
  async drain(): Promise<void> {
    for (;;) {
      if (this.running) {
        await this.running;
        continue;
      }
      if (!this.wanted) return;
      this.cancelWait();
      this.start();
    }
  }

  private cancelWait(): void {
    if (this.timer) this.timers.clearTimeout(this.timer);
    if (this.immediate) this.timers.clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
  }

  private start(): void {
    if (this.running || !this.wanted) return;
    this.wanted = false;
    const started = this.clock();
    this.lastStart = started;
    this.running = this.commit()
      .catch(() => {})
      .finally(() => {
        this.running = undefined;
        this.gapMs = Math.min(this.maxIntervalMs, (this.clock() - started) * this.costFactor);
        // Records queued while this commit ran wait for the next slot.
        if (this.wanted && !this.timer && !this.immediate) this.request();
      });
  }
}
