import type { ApiEvent } from '../../http/api-types';

export type Phase = 'DHCP' | 'TFTP' | 'HTTP' | 'config' | 'trigger' | 'RHEV-M' | 'admin';

/** Which part of a boot an event is, for the timeline's first column. */
export function phaseOf(e: ApiEvent): Phase {
  if (e.kind === 'node.dhcp') return 'DHCP';
  if (e.kind === 'node.tftp') return 'TFTP';
  // node.installing: the install config was fetched, over HTTP (iPXE) or TFTP (pxelinux, GRUB).
  if (e.kind === 'node.installing') return String(e.data.file ?? '').startsWith('http') || String(e.data.file ?? '').includes('ipxe') ? 'HTTP' : 'config';
  if (e.kind === 'node.booted') return 'trigger';
  if (e.kind.startsWith('rhevm.') || e.kind === 'node.handoff-skipped' || e.kind === 'node.status') return 'RHEV-M';
  return 'admin';
}

export interface Step {
  label: string;
  event: ApiEvent | undefined;
  /** Since the step before it that happened. */
  sinceMs: number | undefined;
}

const REGISTRATION_END = new Set(['rhevm.host-up', 'rhevm.failed', 'node.handoff-skipped']);

/**
 * The steps of the node's latest install, from the `nodeset install` that started it: first DHCP
 * contact, first boot file or config (TFTP or HTTP), the install trigger, and the RHEV-M
 * hand-off (its final event when there is one, else its latest). Empty if it never installed.
 */
export function installSteps(events: ApiEvent[]): Step[] {
  let start = -1;
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i]!;
    if (e.kind === 'node.nodeset' && e.data.to === 'install') {
      start = i;
      break;
    }
  }
  if (start < 0) return [];
  const after = events.slice(start + 1);
  const first = (pred: (e: ApiEvent) => boolean) => after.find(pred);
  const registration = after.filter((e) => phaseOf(e) === 'RHEV-M');
  const steps: [string, ApiEvent | undefined][] = [
    ['nodeset install', events[start]],
    ['DHCP', first((e) => e.kind === 'node.dhcp')],
    ['TFTP / HTTP', first((e) => e.kind === 'node.tftp' || e.kind === 'node.installing')],
    ['install trigger', first((e) => e.kind === 'node.booted')],
    ['registration', registration.find((e) => REGISTRATION_END.has(e.kind)) ?? registration.at(-1)],
  ];
  let prev: ApiEvent | undefined;
  return steps.map(([label, event]) => {
    const sinceMs = event && prev ? new Date(event.at).getTime() - new Date(prev.at).getTime() : undefined;
    if (event) prev = event;
    return { label, event, sinceMs };
  });
}

/** Adds events to a timeline: by id, so replays and the initial fetch racing the stream are harmless. */
export function mergeEvents(old: ApiEvent[], add: ApiEvent[]): ApiEvent[] {
  const seen = new Set(old.map((e) => e.id));
  const fresh = add.filter((e) => !seen.has(e.id));
  if (!fresh.length) return old;
  return [...old, ...fresh].sort((a, b) => a.id - b.id);
}
