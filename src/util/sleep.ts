/**
 * Waits `ms`, or less: an abort of `signal` ends the wait at once. It never rejects; the caller
 * looks at `signal.aborted` afterwards and decides what an abort means (a job gives up its turn,
 * an engine call fails with RB_ERR_RHEVM_ABORTED), and a timer is never left behind to hold the
 * process open after a shutdown.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
