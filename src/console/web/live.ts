import { useEffect, useRef, useState } from 'preact/hooks';
import { authHeaders, session } from './api';
import { SseParser } from './sse';
import type { ApiEvent, ApiJobUpdate, ApiStreamReady } from '../../http/api-types';
import { sleep } from '../../util/sleep';

export type LiveMessage = { type: 'event'; event: ApiEvent } | { type: 'job'; job: ApiJobUpdate } | { type: 'reset' };
export type LiveState = 'off' | 'connecting' | 'live' | 'retrying';

const MAX_BACKOFF_MS = 15_000;

/**
 * The console's one connection to GET /api/v1/stream. fetch + ReadableStream rather than
 * EventSource, because EventSource cannot send the Authorization header. It reconnects with
 * backoff and resumes after the last event id it saw, so a dropped connection loses nothing.
 */
class LiveStream {
  private readonly listeners = new Set<(m: LiveMessage) => void>();
  private readonly stateListeners = new Set<(s: LiveState) => void>();
  private abort: AbortController | undefined;
  private lastId: number | undefined;
  state: LiveState = 'off';

  start(): void {
    if (this.abort) return;
    const abort = new AbortController();
    this.abort = abort;
    void this.run(abort.signal);
  }

  stop(): void {
    this.abort?.abort();
    this.abort = undefined;
    this.lastId = undefined;
    this.setState('off');
  }

  on(fn: (m: LiveMessage) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  onState(fn: (s: LiveState) => void): () => void {
    this.stateListeners.add(fn);
    return () => this.stateListeners.delete(fn);
  }

  private setState(s: LiveState): void {
    if (s === this.state) return;
    this.state = s;
    for (const fn of this.stateListeners) fn(s);
  }

  private emit(m: LiveMessage): void {
    for (const fn of this.listeners) {
      try {
        fn(m);
      } catch (err) {
        console.error('live update handler failed', err);
      }
    }
  }

  private async run(signal: AbortSignal): Promise<void> {
    let backoff = 1000;
    while (!signal.aborted) {
      this.setState('connecting');
      try {
        const wasLive = await this.connect(signal);
        if (wasLive) backoff = 1000;
      } catch (err) {
        if (signal.aborted) return;
        if ((err as { status?: number }).status === 401) return session.logout(true);
      }
      if (signal.aborted) return;
      this.setState('retrying');
      await sleep(backoff, signal);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  }

  /** One connection, until the server ends it or it breaks. True if it got as far as live. */
  private async connect(signal: AbortSignal): Promise<boolean> {
    const query = this.lastId !== undefined ? `?afterId=${this.lastId}` : '';
    const res = await fetch(`/api/v1/stream${query}`, { headers: { ...authHeaders(), accept: 'text/event-stream' }, signal, cache: 'no-store' });
    if (!res.ok || !res.body) throw Object.assign(new Error(`stream: HTTP ${res.status}`), { status: res.status });
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    const parser = new SseParser();
    let live = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return live;
      for (const m of parser.feed(value)) {
        const data = JSON.parse(m.data) as unknown;
        if (m.event === 'ready') {
          live = true;
          const { lastEventId } = data as ApiStreamReady;
          this.lastId = Math.max(this.lastId ?? 0, lastEventId);
          this.setState('live');
        } else if (m.event === 'event') {
          const event = data as ApiEvent;
          this.lastId = Math.max(this.lastId ?? 0, event.id);
          this.emit({ type: 'event', event });
        } else if (m.event === 'job') {
          this.emit({ type: 'job', job: data as ApiJobUpdate });
        } else if (m.event === 'reset') {
          this.emit({ type: 'reset' });
        }
      }
    }
  }
}

export const live = new LiveStream();

/** Calls `handler` with every live message while the component is mounted (latest handler wins). */
export function useLive(handler: (m: LiveMessage) => void): void {
  const ref = useRef(handler);
  ref.current = handler;
  useEffect(() => live.on((m) => ref.current(m)), []);
}

export function useLiveState(): LiveState {
  const [state, setState] = useState(live.state);
  useEffect(() => live.onState(setState), []);
  return state;
}

/**
 * Runs `fn` once per burst: a boot storm sends many events a second, and each page refreshes
 * what they touched once, `ms` after the burst starts, instead of once per event.
 */
export function useCoalesced<K>(fn: (keys: Set<K>) => void, ms = 250): (key: K) => void {
  const ref = useRef(fn);
  ref.current = fn;
  const pending = useRef<{ keys: Set<K>; timer: number } | null>(null);
  useEffect(() => () => void (pending.current && clearTimeout(pending.current.timer)), []);
  return (key: K) => {
    if (pending.current) return void pending.current.keys.add(key);
    const keys = new Set([key]);
    pending.current = {
      keys,
      timer: window.setTimeout(() => {
        pending.current = null;
        ref.current(keys);
      }, ms),
    };
  };
}
