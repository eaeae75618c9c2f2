/**
 * Errors with stable codes, in the manner of fastify's FST_ERR_*: logs, the API and tests name an
 * error by its code, never by its message text, so messages can improve without breaking anyone.
 *
 * The table is the one list of codes: each with the HTTP status it maps to at the API face and
 * what it means. A new code is one line here.
 */
export const ERRORS = {
  RB_ERR_CONFIG: { status: 400, message: 'a configuration setting (file, environment or option) is invalid or unusable' },
  RB_ERR_STORE: { status: 500, message: 'the state database cannot be opened or used' },
  RB_ERR_MIGRATION: { status: 500, message: "the state database's schema cannot be migrated to this version" },
  RB_ERR_NOT_FOUND: { status: 404, message: 'no such node, group, distro, engine, job, file or route' },
  RB_ERR_CONFLICT: { status: 409, message: 'the request contradicts the current state (exists already, in use, in the wrong state)' },
  RB_ERR_INVALID: { status: 400, message: 'bad input: a field, a noderange or a request body' },
  RB_ERR_UNAUTHORIZED: { status: 401, message: 'no valid API token' },
  RB_ERR_TRANSITION: { status: 409, message: "a node lifecycle transition that is not allowed from the node's state by that cause" },
  RB_ERR_BUSY: { status: 503, message: 'too many of something at once (live streams); retry later' },
  RB_ERR_INTERNAL: { status: 500, message: 'an unexpected failure; the appliance log has the details' },
  RB_ERR_INTERRUPTED: { status: 500, message: "a job's process ended while the job ran; the job is resumed" },
  // A libvirt manager (virsh, src/virt/libvirt-*.ts): the appliance is a gateway to it.
  RB_ERR_LIBVIRT: { status: 502, message: 'a libvirt manager refused, failed or sent something unreadable' },
  RB_ERR_LIBVIRT_TIMEOUT: { status: 504, message: 'a libvirt manager did not answer in time' },
  // Distro media: the ISO reader (src/iso9660), the initrd writer, the import.
  RB_ERR_ISO_IO: { status: 500, message: 'an ISO image or its extraction target cannot be read or written' },
  RB_ERR_ISO_FORMAT: { status: 400, message: 'not a well-formed ISO9660 image' },
  RB_ERR_ISO_HOSTILE: { status: 400, message: 'an ISO image built to harm its reader (loops, escapes, absurd sizes)' },
  RB_ERR_ISO_UNSUPPORTED: { status: 400, message: 'an ISO image that needs a feature the reader does not have (UDF only, zisofs)' },
  RB_ERR_CPIO: { status: 500, message: 'an initrd (cpio newc) entry cannot be read or written' },
  RB_ERR_NOT_DISTRO: { status: 400, message: 'an ISO image that no distro descriptor recognises' },
  RB_ERR_IMPORT: { status: 500, message: 'a distro import (copycds) failed or was cut short' },
  // The RHEV-M engine behind us (src/rhevm/errors.ts says when each is raised): the appliance is a
  // gateway to it, so its failures are 502 and its silences 504.
  RB_ERR_RHEVM_FAULT: { status: 502, message: 'the engine answered with an error status' },
  RB_ERR_RHEVM_AUTH: { status: 502, message: "the engine refused rhevboot's credentials" },
  RB_ERR_RHEVM_TLS: { status: 502, message: "the engine's TLS certificate does not verify against the pinned CA" },
  RB_ERR_RHEVM_UNREACHABLE: { status: 502, message: 'the engine cannot be reached' },
  RB_ERR_RHEVM_TIMEOUT: { status: 504, message: 'an engine call or a wait for the engine exceeded its bound' },
  RB_ERR_RHEVM_PROTOCOL: { status: 502, message: 'the engine said something rhevboot cannot read' },
  RB_ERR_RHEVM_ABORTED: { status: 500, message: 'an engine call was aborted by its caller' },
  RB_ERR_RHEVM_STATE: { status: 502, message: 'an engine entity reached a state that fails the wait (e.g. install_failed)' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

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
  return ERRORS[code].status;
}
