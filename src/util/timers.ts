/**
 * The timer functions a component schedules its own work with. Production passes nothing and gets
 * Node's; a test passes a scheduler it advances by hand, so what it asserts is the component's
 * schedule, exactly, not how busy the machine was.
 */
export interface TimerHandle {
  /** Node's handles have it: a timer that must not keep the process alive calls it. */
  unref?(): unknown;
}

export interface Timers {
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
  /** Runs `fn` at the end of the current event-loop turn, after the I/O it read (setImmediate). */
  setImmediate(fn: () => void): TimerHandle;
  clearImmediate(handle: TimerHandle | undefined): void;
}

/** Node's own. Handles from one kind of timer are only ever passed back to its own clear. */
export const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout | undefined),
  setImmediate: (fn) => setImmediate(fn),
  clearImmediate: (h) => clearImmediate(h as NodeJS.Immediate | undefined),
};
