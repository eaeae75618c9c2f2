// Engine faults exactly as ovirt-api.md §5.4 describes them: the reason/detail texts, the status
// codes derived from the engine message's ErrorType, and whether the fault is bare or wrapped in
// the echoed <action> (backend failures of actions).
import { el, t, type El } from './xml.js';

export class EngineFault extends Error {
  constructor(
    readonly status: number,
    readonly reason: string | null,
    readonly detail?: string,
    /** A backend (command) failure: inside an action it is wrapped in the echoed <action> (§5.4). */
    readonly backend = false,
  ) {
    super(`${status} ${reason ?? '(empty body)'}: ${detail ?? ''}`);
  }
}

/** §5.4: entity in the URL not found (or not a UUID) → 404 with an empty body. */
export const notFound = (): EngineFault => new EngineFault(404, null);

/** §5.4 "Incomplete parameters": `Host [name, address] required for add`. */
export function incomplete(type: string, fields: string[], method: string): EngineFault {
  return new EngineFault(400, 'Incomplete parameters', `${type} [${fields.join(', ')}] required for ${method}`);
}

/** §5.4: a reference given by name that does not exist → 404 "Entity not found: Cluster: name=foo". */
export function entityNotFound(what: string): EngineFault {
  return new EngineFault(404, 'Operation Failed', `Entity not found: ${what}`);
}

/**
 * §5.4 backend failure: reason "Operation Failed", detail the engine messages rendered as a Java
 * list string `[msg1, msg2]`, status from the message class (409 CONFLICT, 400 BAD_PARAMETERS…).
 */
export function backendFailure(status: number, ...messages: string[]): EngineFault {
  return new EngineFault(status, 'Operation Failed', `[${messages.join(', ')}]`, true);
}

/** §5.4 message templates `Cannot ${action} ${type}. <reason>`. */
export const cannot = (action: string, type: string, reason: string): string => `Cannot ${action} ${type}. ${reason}`;

/** §5.4: unparseable XML/JSON (v4 text; the link names the apidoc of the called method). */
export function syntaxError(engineHost: string, service: string): EngineFault {
  return new EngineFault(400, 'Request syntactically incorrect.', `For correct usage, see: https://${engineHost}/ovirt-engine/apidoc#services/${service}`);
}

export function faultEl(f: EngineFault): El {
  return el('fault', null, [t('reason', f.reason ?? ''), t('detail', f.detail)]);
}

/** §5.4: inside actions the fault is returned in the echoed action with status failed. */
export function actionFaultEl(f: EngineFault, echo: El[], v: 3 | 4): El {
  return el('action', null, [...echo, v === 3 ? el('status', null, [t('state', 'failed')]) : t('status', 'failed'), faultEl(f)]);
}
