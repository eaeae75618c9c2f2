/**
 * Errors with stable codes, in the manner of fastify's FST_ERR_*: logs, the API and tests name an
 * error by its code, never by its message text, so messages can improve without breaking anyone.
 */
export type ErrorCode =
  | 'RB_ERR_CONFIG'
  | 'RB_ERR_STORE'
  | 'RB_ERR_MIGRATION'
  | 'RB_ERR_NOT_FOUND'
  | 'RB_ERR_CONFLICT'
  | 'RB_ERR_INVALID'
  | 'RB_ERR_UNAUTHORIZED'
  // Too many of something at once (live streams); the client should retry later.
  | 'RB_ERR_BUSY'
  // A libvirt manager (virsh) refused, failed or hung (src/virt/libvirt-*.ts).
  | 'RB_ERR_LIBVIRT'
  | 'RB_ERR_LIBVIRT_TIMEOUT'
  | 'RB_ERR_ISO_IO'
  | 'RB_ERR_ISO_FORMAT'
  | 'RB_ERR_ISO_HOSTILE'
  | 'RB_ERR_ISO_UNSUPPORTED'
  | 'RB_ERR_CPIO'
  | 'RB_ERR_NOT_DISTRO'
  | 'RB_ERR_IMPORT'
  // The RHEV-M client's (src/rhevm/errors.ts says what each means).
  | 'RB_ERR_RHEVM_FAULT'
  | 'RB_ERR_RHEVM_AUTH'
  | 'RB_ERR_RHEVM_TLS'
  | 'RB_ERR_RHEVM_UNREACHABLE'
  | 'RB_ERR_RHEVM_TIMEOUT'
  | 'RB_ERR_RHEVM_PROTOCOL'
  | 'RB_ERR_RHEVM_ABORTED'
  | 'RB_ERR_RHEVM_STATE';

export class RhevbootError extends Error {
  readonly code: ErrorCode;
  /** Structured context for logs and API bodies; must never hold secrets. */
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RhevbootError';
    this.code = code;
    this.details = details;
  }
}

export function isRhevbootError(err: unknown, code?: ErrorCode): err is RhevbootError {
  return err instanceof RhevbootError && (code === undefined || err.code === code);
}

/** HTTP status that an error code maps to at the API face. */
export function httpStatusFor(code: ErrorCode): number {
  switch (code) {
    case 'RB_ERR_NOT_FOUND':
      return 404;
    case 'RB_ERR_CONFLICT':
      return 409;
    case 'RB_ERR_UNAUTHORIZED':
      return 401;
    case 'RB_ERR_INVALID':
    case 'RB_ERR_CONFIG':
    case 'RB_ERR_NOT_DISTRO':
    case 'RB_ERR_ISO_FORMAT':
    case 'RB_ERR_ISO_HOSTILE':
    case 'RB_ERR_ISO_UNSUPPORTED':
      return 400;
    // The engine behind us failed or refused: the appliance is a gateway to it.
    case 'RB_ERR_RHEVM_FAULT':
    case 'RB_ERR_RHEVM_AUTH':
    case 'RB_ERR_RHEVM_TLS':
    case 'RB_ERR_RHEVM_UNREACHABLE':
    case 'RB_ERR_RHEVM_PROTOCOL':
    case 'RB_ERR_LIBVIRT':
    case 'RB_ERR_RHEVM_STATE':
      return 502;
    case 'RB_ERR_LIBVIRT_TIMEOUT':
    case 'RB_ERR_RHEVM_TIMEOUT':
      return 504;
    case 'RB_ERR_BUSY':
      return 503;
    default:
      return 500;
  }
}
