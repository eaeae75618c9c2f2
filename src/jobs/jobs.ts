import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from '../log.js';
import type { JobProgress, JobRecord, Store } from '../store/store.js';

/** True if a job's process is gone: its work will never finish and whatever it left is debris. */
export function isOrphaned(job: JobRecord, host = hostname()): boolean {
  if (job.state !== 'running' || job.host !== host) return false;
  if (job.pid === process.pid) return false;
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
  /** Records progress, at most every half second (the store is not a progress bar). */
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
    const flush = (): void => {
      timer = undefined;
      if (!pending) return;
      const p = pending;
      pending = undefined;
      last = Date.now();
      this.store.jobs.updateProgress(record.id, p).catch((err: unknown) => this.log.warn({ err, job: record.id }, 'job progress not recorded'));
    };
    const settle = (): void => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      pending = undefined;
    };
    return {
      record,
      progress: (p) => {
        pending = p;
        const wait = PROGRESS_INTERVAL_MS - (Date.now() - last);
        if (wait <= 0) flush();
        else timer ??= setTimeout(flush, wait);
      },
      succeed: async (result) => {
        settle();
        await this.store.jobs.finish(record.id, 'succeeded', { result });
      },
      fail: async (error) => {
        settle();
        await this.store.jobs.finish(record.id, 'failed', { error });
      },
    };
  }

  /** Marks the running jobs of `kind` whose process is gone as interrupted, and returns them. */
  async reapOrphans(kind: string, subject?: string): Promise<JobRecord[]> {
    const running = await this.store.jobs.list({ kind, state: 'running', ...(subject ? { subject } : {}) });
    const orphans = running.filter((j) => isOrphaned(j));
    for (const j of orphans) {
      await this.store.jobs.finish(j.id, 'interrupted', { error: { code: 'RB_ERR_IMPORT', message: `process ${j.pid} ended before the job finished` } });
      this.log.warn({ job: j.id, kind, subject: j.subject, pid: j.pid }, 'job interrupted: its process is gone');
    }
    return orphans;
  }
}
