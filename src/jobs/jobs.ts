import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from '../log.js';
import type { JobProgress, JobRecord, Store } from '../store/store.js';

/**
 * True if a job's process is gone: its work will never finish and whatever it left is debris.
 * Another host's process cannot be looked at, so its jobs are never judged here. `atStart`: the
 * caller runs no job yet (a server starting), so a job naming this very process was left by an
 * earlier one that had the same pid, as happens after a reboot, when systemd starts the same
 * units in much the same order and pids repeat.
 */
export function isOrphaned(job: JobRecord, opts: { host?: string; atStart?: boolean } = {}): boolean {
  if (job.state !== 'running' || job.host !== (opts.host ?? hostname())) return false;
  if (job.pid === process.pid) return opts.atStart === true;
  try {
    process.kill(job.pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

const PROGRESS_INTERVAL_MS = 500;

export interface RunningJob {
  readonly record: JobRecord;
  /** Records progress, at most every half second (the store is not a progress bar); ignored once the outcome is in. */
  progress(p: JobProgress): void;
  succeed(result: Record<string, unknown>): Promise<void>;
  fail(error: { code: string; message: string }): Promise<void>;
}

/**
 * Persisted jobs: work that outlives a request (an ISO import, later a host registration) is a
 * row with its process, progress and outcome, so a restart can tell finished work from work that
 * was interrupted and must be cleaned up and redone.
 */
export class JobService {
  constructor(private readonly store: Store, private readonly log: Logger) {}

  async start(kind: string, subject: string, params: Record<string, unknown>, total = 0): Promise<RunningJob> {
    const record = await this.store.jobs.create({
      id: randomUUID(),
      kind,
      subject,
      state: 'running',
      pid: process.pid,
      host: hostname(),
      progress: { phase: 'starting', done: 0, total },
      params,
    });
    let last = 0;
    let pending: JobProgress | undefined;
    let timer: NodeJS.Timeout | undefined;
    // Progress writes are not awaited by whoever reports progress; the outcome waits for them.
    let writing: Promise<void> = Promise.resolve();
    let settled = false;
    const write = (p: JobProgress): void => {
      last = Date.now();
      const w = this.store.jobs.updateProgress(record.id, p).catch((err: unknown) => this.log.warn({ err, job: record.id }, 'job progress not recorded'));
      writing = writing.then(() => w);
    };
    const flush = (): void => {
      timer = undefined;
      if (!pending) return;
      const p = pending;
      pending = undefined;
      write(p);
    };
    /**
     * Before the outcome is written: the last progress goes first, none is taken after it, and no
     * write or timer is left behind. A caller closes the store as soon as the outcome is written
     * (the CLI's copycds does), and a write landing after that failed with "The database
     * connection is not open".
     */
    const settle = async (): Promise<void> => {
      settled = true;
      if (timer) clearTimeout(timer);
      flush();
      await writing;
    };
    return {
      record,
      progress: (p) => {
        if (settled) return;
        pending = p;
        const wait = PROGRESS_INTERVAL_MS - (Date.now() - last);
        if (wait <= 0) flush();
        else timer ??= setTimeout(flush, wait);
      },
      succeed: async (result) => {
        await settle();
        await this.store.jobs.finish(record.id, 'succeeded', { result });
      },
      fail: async (error) => {
        await settle();
        await this.store.jobs.finish(record.id, 'failed', { error });
      },
    };
  }

  /**
   * Marks the running jobs of `kind` whose process is gone as interrupted, and returns them:
   * `serve` at its start (with `atStart`, see isOrphaned), and each copycds before it looks at a tree.
   */
  async reapOrphans(kind: string, opts: { subject?: string; atStart?: boolean } = {}): Promise<JobRecord[]> {
    const running = await this.store.jobs.list({ kind, state: 'running', ...(opts.subject ? { subject: opts.subject } : {}), limit: 10_000 });
    const orphans = running.filter((j) => isOrphaned(j, { atStart: opts.atStart }));
    for (const j of orphans) {
      await this.store.jobs.finish(j.id, 'interrupted', { error: { code: 'RB_ERR_IMPORT', message: `process ${j.pid} ended before the job finished` } });
      this.log.warn({ job: j.id, kind, subject: j.subject, pid: j.pid }, 'job interrupted: its process is gone');
    }
    return orphans;
  }
}
