/**
 * The admin API from the browser: the token pasted at login lives in sessionStorage (gone when
 * the tab closes, never in a cookie, so no CSRF), and every call sends it as a bearer token.
 */
const KEY = 'rhevboot.token';
export const AUTH_EVENT = 'rhevboot:auth';

export const session = {
  token: (): string | null => sessionStorage.getItem(KEY),
  /** True when the last logout was the API refusing the token, so the login page can say so. */
  expired: false,
  login(token: string): void {
    sessionStorage.setItem(KEY, token);
    session.expired = false;
    window.dispatchEvent(new Event(AUTH_EVENT));
  },
  logout(expired = false): void {
    sessionStorage.removeItem(KEY);
    session.expired = expired;
    window.dispatchEvent(new Event(AUTH_EVENT));
  },
};

/** An API refusal with its stable code (RB_ERR_…), as the README documents them. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export function authHeaders(): Record<string, string> {
  return { authorization: `Bearer ${session.token() ?? ''}` };
}

export async function api<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const res = await fetch(`/api/v1${path}`, {
    method,
    headers: { ...authHeaders(), accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    ...(signal ? { signal } : {}),
    cache: 'no-store',
  });
  if (res.status === 204) return undefined as T;
  const data = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | null;
  if (res.status === 401) session.logout(true); // revoked or wrong token: back to the login page
  if (!res.ok) throw new ApiError(res.status, data?.error?.code ?? `HTTP_${res.status}`, data?.error?.message ?? `HTTP ${res.status}`, data?.error?.details);
  return data as T;
}

export const get = <T>(path: string, signal?: AbortSignal): Promise<T> => api<T>('GET', path, undefined, signal);

/** Path segment or query value, encoded. */
export const enc = encodeURIComponent;
