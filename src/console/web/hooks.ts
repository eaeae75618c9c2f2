import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { get } from './api';

export interface Loaded<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  /** Fetches again, keeping the current data on screen until the answer comes. */
  reload(): void;
  set(fn: (old: T | undefined) => T | undefined): void;
}

/**
 * GET `path` while mounted (null: nothing to fetch). A newer request aborts an older one, so a
 * slow answer can never overwrite a fresher one.
 */
export function useGet<T>(path: string | null): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  const [loading, setLoading] = useState(path !== null);
  const [generation, setGeneration] = useState(0);
  const current = useRef<AbortController | null>(null);

  useEffect(() => {
    if (path === null) return;
    const abort = new AbortController();
    current.current?.abort();
    current.current = abort;
    setLoading(true);
    get<T>(path, abort.signal).then(
      (d) => {
        if (abort.signal.aborted) return;
        setData(d);
        setError(undefined);
        setLoading(false);
      },
      (err: Error) => {
        if (abort.signal.aborted) return;
        setError(err);
        setLoading(false);
      },
    );
    return () => abort.abort();
  }, [path, generation]);

  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return { data, error, loading, reload, set: setData };
}

/** The current time, ticking every `ms`: "5 s ago" labels stay true without a refetch. */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}
