import type { NewEvent } from '../store/store.js';

type Noted = NewEvent & { at: string };

interface Fold {
  /** The written event the repeats are the same as (same kind and message). */
  first: Noted;
  /** Date.now() at which the current window closes and its count is written. */
  until: number;
  repeats: number;
  /** Times of the window's first and last repeat: as given, or Date.now() (formatted if written). */
  firstRepeatAt: string | number;
  lastAt: string | number;
}

/**
 * Folds repeats of a subject's contact event into counts. A node in a boot loop, or a boot storm
 * that refetches, asks for the same script many times a second: each fetch stays on the timeline,
 * but as "the same again, N more times" once per window rather than a row (and its index pages)
 * apiece, which is what capped the iPXE fast path.
 *
 * The first event of a kind and message for a subject is written as usual. Identical ones after
 * it are counted; each window (`windowMs`) that saw repeats ends in one event carrying the count,
 * written when the next repeat comes, or at the latest a window later (`due`). A subject's count
 * is also written before any other event of that subject (`take`), so each timeline keeps its
 * order.
 */
export class RepeatFolds {
  /** By subject type, then subject: a repeat is checked on every fetch, without building a key. */
  private readonly folds = new Map<string, Map<string, Fold>>();
  private count = 0;

  constructor(private readonly windowMs: number) {}

  get size(): number {
    return this.count;
  }

  /**
   * True when `e` is the same as its subject's folded event: counted, not to be written. A window
   * that has closed meanwhile is handed to `emit` first. Asked before the event is even stamped,
   * so a repeat costs no allocation.
   */
  repeat(e: NewEvent, now: number, emit: (summary: Noted) => void): boolean {
    const fold = this.folds.get(e.subjectType)?.get(e.subject);
    if (!fold || fold.first.kind !== e.kind || fold.first.message !== e.message) return false;
    if (now > fold.until) this.close(fold, now, emit);
    const at = e.at ?? now;
    if (!fold.repeats++) fold.firstRepeatAt = at;
    fold.lastAt = at;
    return true;
  }

  /** Starts counting repeats of `e`, which is being written. */
  start(e: Noted, now: number): void {
    let bySubject = this.folds.get(e.subjectType);
    if (!bySubject) this.folds.set(e.subjectType, (bySubject = new Map()));
    if (!bySubject.has(e.subject)) this.count++;
    bySubject.set(e.subject, { first: e, until: now + this.windowMs, repeats: 0, firstRepeatAt: e.at, lastAt: e.at });
  }

  /** Ends the subject's fold; its count so far, as an event to write before its next one. */
  take(e: Pick<NewEvent, 'subjectType' | 'subject'>): Noted | undefined {
    const bySubject = this.folds.get(e.subjectType);
    const fold = bySubject?.get(e.subject);
    if (!fold) return undefined;
    bySubject!.delete(e.subject);
    this.count--;
    return summary(fold);
  }

  /**
   * Ends the folds of subjects that have stopped repeating (a whole window past its close with no
   * repeat to close it), handing their counts to `emit`; with `all`, ends every fold. A subject
   * that keeps repeating closes its own windows (in `repeat`), so a storm's counts are written
   * spread over time, not all at one tick.
   */
  due(now: number, emit: (summary: Noted) => void, all = false): void {
    for (const bySubject of this.folds.values()) {
      for (const [subject, fold] of bySubject) {
        if (!all && now <= fold.until + this.windowMs) continue;
        bySubject.delete(subject);
        this.count--;
        const e = summary(fold);
        if (e) emit(e);
      }
    }
  }

  private close(fold: Fold, now: number, emit: (summary: Noted) => void): void {
    const e = summary(fold);
    if (e) emit(e);
    fold.repeats = 0;
    fold.until = now + this.windowMs;
  }
}

const iso = (t: string | number): string => (typeof t === 'number' ? new Date(t).toISOString() : t);

function summary(fold: Fold): Noted | undefined {
  if (!fold.repeats) return undefined;
  const { first, repeats } = fold;
  const since = iso(fold.firstRepeatAt);
  return {
    kind: first.kind,
    subjectType: first.subjectType,
    subject: first.subject,
    at: iso(fold.lastAt),
    message: `${first.message} (${repeats} more time${repeats === 1 ? '' : 's'} since ${since})`,
    data: { ...first.data, repeats, since },
  };
}
