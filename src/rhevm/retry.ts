/**
 * Retry policy: exponential backoff with jitter, bounded by attempts and by elapsed time.
 *
 * What is retried is decided by the caller (connection.ts) from ovirt-api.md §10: timeouts, 5xx
 * and connection resets, and only for idempotent calls (GET, PUT, DELETE) — or for any call when
 * the failure happened before the request could reach the engine (connection refused).
 */
import { sleep } from '../util/sleep.js';
import { RhevmError } from './errors.js';

export interface RetryPolicy {
  /** Total tries of one call, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Elapsed-time budget of one logical operation's retries; no new try starts after it. */
  budgetMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 250, maxDelayMs: 8000, budgetMs: 60_000 };

/**
 * Delay before retry number `attempt` (1 = first retry): "equal jitter", half fixed and half
 * random, so that many appliances retrying one engine restart do not arrive in lock-step while the
 * delay still grows reliably.
 */
export function backoffDelay(attempt: number, p: RetryPolicy, random: () => number = Math.random): number {
  const exp = Math.min(p.maxDelayMs, p.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + random() * (exp / 2));
}

/** A wait between tries or polls; an abort ends it at once, and the engine call with RB_ERR_RHEVM_ABORTED. */
export async function pause(ms: number, signal?: AbortSignal): Promise<void> {
  await sleep(ms, signal);
  if (signal?.aborted) throw abortError(signal);
}

export function abortError(signal: AbortSignal): RhevmError {
  return new RhevmError('RB_ERR_RHEVM_ABORTED', 'engine call aborted', {}, { cause: signal.reason });
}

/** Network error codes that mean "the engine did not (fully) answer; trying again may work". */
const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

/** Errors raised before a single byte of the request could reach the engine: safe for any method. */
const BEFORE_SEND_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);

/** TLS verification failures: a wrong pin is not cured by retrying. */
const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

/** The code of an error or of any error in its `cause` chain. */
export function errorCodes(err: unknown): string[] {
  const out: string[] = [];
  let cur: unknown = err;
  for (let i = 0; i < 5 && cur && typeof cur === 'object'; i++) {
    const c = (cur as { code?: unknown }).code;
    if (typeof c === 'string') out.push(c);
    cur = (cur as { cause?: unknown }).cause;
  }
  return out;
}

export type NetworkErrorClass = 'tls' | 'before-send' | 'transient' | 'other';

export function classifyNetworkError(err: unknown): NetworkErrorClass {
  const codes = errorCodes(err);
  if (codes.some((c) => TLS_CODES.has(c) || c.startsWith('ERR_TLS') || c.startsWith('ERR_SSL'))) return 'tls';
  if (codes.some((c) => BEFORE_SEND_CODES.has(c))) return 'before-send';
  if (codes.some((c) => TRANSIENT_CODES.has(c))) return 'transient';
  return 'other';
}
