/**
 * Typed errors of the engine client. Each has a stable code so that the registration job, the CLI
 * and tests can name it; messages carry the engine's own words (reason and detail, §5.4) but never
 * a secret: request bodies, credentials and tokens are not copied into errors.
 */
import { RhevbootError, type ErrorCode } from '../errors.js';
import type { Fault } from './model.js';

export type RhevmErrorCode = Extract<
  ErrorCode,
  /** The engine answered with an error status (fault body or not). */
  | 'RB_ERR_RHEVM_FAULT'
  /** Credentials refused (401 after one re-authentication, SSO access_denied). */
  | 'RB_ERR_RHEVM_AUTH'
  /** TLS verification against the pinned CA failed. Never retried. */
  | 'RB_ERR_RHEVM_TLS'
  /** Connection refused/reset, DNS failure … after the retry budget. */
  | 'RB_ERR_RHEVM_UNREACHABLE'
  /** A call or a wait (202 polling, state wait) exceeded its bound. */
  | 'RB_ERR_RHEVM_TIMEOUT'
  /** The engine said something we cannot read (garbled XML, wrong root, no API at the URL). */
  | 'RB_ERR_RHEVM_PROTOCOL'
  /** The caller's AbortSignal fired. */
  | 'RB_ERR_RHEVM_ABORTED'
  /** An entity reached a state that ends the wait as failed (e.g. host install_failed). */
  | 'RB_ERR_RHEVM_STATE'
>;

export interface RhevmErrorDetails {
  method?: string;
  /** Path (with query) of the call; never the body. */
  path?: string;
  status?: number;
  correlationId?: string;
  attempts?: number;
  [k: string]: unknown;
}

/** Base class; `rhevmCode` is `code` narrowed to the client's codes. */
export class RhevmError extends RhevbootError {
  readonly rhevmCode: RhevmErrorCode;
  constructor(code: RhevmErrorCode, message: string, details: RhevmErrorDetails = {}, options?: { cause?: unknown }) {
    super(code, message, details, options);
    this.name = 'RhevmError';
    this.rhevmCode = code;
  }
}

/** An error status from the engine, with its fault when it sent one (§5.4). */
export class EngineFault extends RhevmError {
  readonly status: number;
  readonly reason: string;
  readonly detail: string;
  constructor(status: number, fault: Fault | undefined, details: RhevmErrorDetails = {}) {
    const reason = fault?.reason || statusText(status);
    const detail = fault?.detail ?? '';
    super('RB_ERR_RHEVM_FAULT', detail ? `${reason}: ${detail} (HTTP ${status})` : `${reason} (HTTP ${status})`, { ...details, status, reason, detail });
    this.name = 'EngineFault';
    this.status = status;
    this.reason = reason;
    this.detail = detail;
  }
  get notFound(): boolean {
    return this.status === 404;
  }
  get conflict(): boolean {
    return this.status === 409;
  }
}

function statusText(status: number): string {
  switch (status) {
    case 400:
      return 'Bad Request';
    case 401:
      return 'Unauthorized';
    case 403:
      return 'Forbidden';
    case 404:
      return 'Not Found';
    case 409:
      return 'Conflict';
    case 500:
      return 'Internal Server Error';
    case 502:
      return 'Bad Gateway';
    case 503:
      return 'Service Unavailable';
    case 504:
      return 'Gateway Timeout';
    default:
      return `HTTP ${status}`;
  }
}

export function isEngineFault(err: unknown, status?: number): err is EngineFault {
  return err instanceof EngineFault && (status === undefined || err.status === status);
}

export function isRhevmError(err: unknown, code?: RhevmErrorCode): err is RhevmError {
  return err instanceof RhevmError && (code === undefined || err.rhevmCode === code);
}
