/**
 * Work that a request starts and that outlives it (an import started through the API). On stop
 * the appliance aborts it and waits for it to clean up, so a SIGTERM during an import leaves a
 * failed job and no staging debris rather than an import cut off mid-write with the store closed.
 */
export class BackgroundWork {
  private readonly controller = new AbortController();
  private readonly running = new Set<Promise<unknown>>();

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get size(): number {
    return this.running.size;
  }

  track<T>(work: Promise<T>): Promise<T> {
    this.running.add(work);
    const forget = (): void => void this.running.delete(work);
    work.then(forget, forget);
    return work;
  }

  /** Aborts everything tracked and waits for it to settle, at most `timeoutMs`. */
  async drain(reason: string, timeoutMs = 20_000): Promise<void> {
    this.controller.abort(new Error(reason));
    if (this.running.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.running]),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
  }
}
