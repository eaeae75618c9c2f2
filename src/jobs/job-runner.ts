import { hostname } from 'node:os';
import type { Logger } from '../log.js';
import type { JobProgress, JobRecord, Store } from '../store/store.js';
import { isOrphaned } from './jobs.js';

/** What one attempt at a job came to. */
export type JobOutcome =
  | { kind: 'done'; result: Record<string, unknown> }
  | { kind: 'failed'; error: { code: string; message: string } }
  /** Put it back in the queue, to be claimed again after `afterMs` (also after a restart). */
  | { kind: 'retry'; afterMs: number; error?: { code: string; message: string } };

export interface JobContext {
  signal: AbortSignal;
  /** Persists progress at once (resumable jobs keep their place in `detail`). */
  progress(p: JobProgress): Promise<void>;
}

export type JobHandler = (job: JobRecord, ctx: JobContext) => Promise<JobOutcome>;

/**
 * Runs the queued jobs of one kind in the serving process: claims them from the store (so two
 * processes never run one job), at most `concurrency` at a time, and on stop aborts them and puts
 * them back in the queue with their progress, so the next start resumes them. Jobs left `running`
 * by a process that died are queued again at start.
 */
export class JobRunner {
  private readonly running = new Map<string, { abort: AbortController; done: Promise<void> }>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private claiming = false;

  constructor(
    private readonly deps: { store: Store; log: Logger; kind: string; concurrency: number; handler: JobHandler; pollMs?: number; now?: () => number },
  ) {}

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  async start(): Promise<void> {
    this.stopped = false;
    // Nothing runs here yet: a job naming this process is an earlier one's (see isOrphaned).
    const stale = (await this.deps.store.jobs.list({ kind: this.deps.kind, state: 'running', limit: 10_000 })).filter((j) => isOrphaned(j, { atStart: this.running.size === 0 }));
    for (const j of stale) {
      await this.deps.store.jobs.requeue(j.id, 0, j.progress, { code: 'RB_ERR_INTERRUPTED', message: `process ${j.pid} ended during ${j.progress.phase}; resumed` });
      this.deps.log.warn({ job: j.id, kind: j.kind, subject: j.subject, phase: j.progress.phase }, 'job interrupted by an earlier stop: queued again to resume');
    }
    const tick = (): void => {
      this.wake();
      this.timer = setTimeout(tick, this.deps.pollMs ?? 1000);
      this.timer.unref();
    };
    tick();
  }

  /** Claims what is due now (called by whoever just queued work, and every poll interval). */
  wake(): void {
    if (this.stopped || this.claiming) return;
    this.claiming = true;
    void this.claimDue()
      .catch((err: unknown) => this.deps.log.error({ err, kind: this.deps.kind }, 'job queue not read'))
      .finally(() => (this.claiming = false));
  }

  private async claimDue(): Promise<void> {
    while (!this.stopped && this.running.size < this.deps.concurrency) {
      const job = await this.deps.store.jobs.claim(this.deps.kind, { now: this.now(), pid: process.pid, host: hostname() });
      if (!job) return;
      const abort = new AbortController();
      const done = this.run(job, abort.signal).finally(() => {
        this.running.delete(job.id);
        this.wake();
      });
      this.running.set(job.id, { abort, done });
    }
  }

  private async run(job: JobRecord, signal: AbortSignal): Promise<void> {
    const { store, log } = this.deps;
    let last = job.progress;
    const ctx: JobContext = {
      signal,
      progress: async (p) => {
        last = p;
        await store.jobs.updateProgress(job.id, p);
      },
    };
    let outcome: JobOutcome;
    try {
      outcome = await this.deps.handler(job, ctx);
    } catch (err) {
      outcome = { kind: 'failed', error: { code: (err as { code?: string }).code ?? 'RB_ERR_INTERNAL', message: (err as Error).message } };
      log.error({ err, job: job.id, kind: job.kind, subject: job.subject }, 'job handler threw');
    }
    try {
      if (signal.aborted || outcome.kind === 'retry') {
        // Stopping, or asked to come back later: either way the job keeps its place and progress.
        const afterMs = outcome.kind === 'retry' ? outcome.afterMs : 0;
        await store.jobs.requeue(job.id, this.now() + afterMs, last, outcome.kind === 'retry' ? outcome.error : undefined);
      } else if (outcome.kind === 'done') {
        await store.jobs.finish(job.id, 'succeeded', { result: outcome.result });
      } else {
        await store.jobs.finish(job.id, 'failed', { error: outcome.error });
      }
    } catch (err) {
      log.error({ err, job: job.id }, 'job outcome not recorded (it stays running and is resumed at the next start)');
    }
  }

  get size(): number {
    return this.running.size;
  }

  /** Aborts running jobs and waits until each is back in the queue (or finished). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const r of this.running.values()) r.abort.abort(new Error('appliance stopping'));
    await Promise.all([...this.running.values()].map((r) => r.done));
  }
}
