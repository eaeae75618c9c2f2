import type { EventRecord } from '../store/store.js';

export type BootPhase = 'config' | 'trigger';

/**
 * Times an install from the node's timeline: the clock starts at its first DHCP contact after a
 * nodeset, and stops at its first boot-config fetch (`node.installing`) and at the install trigger
 * (`node.booted`). Timestamps are the events' own (`at`), so the batching of contact events does
 * not skew them. One entry per node at most, dropped on nodeset, removal and trigger.
 */
export class BootPhaseTimer {
  private readonly firstContact = new Map<string, number>();

  constructor(private readonly observe: (phase: BootPhase, seconds: number) => void) {}

  event(e: EventRecord): void {
    if (e.subjectType !== 'node') return;
    const node = e.subject;
    switch (e.kind) {
      case 'node.nodeset':
      case 'node.removed':
        this.firstContact.delete(node);
        return;
      case 'node.dhcp':
        if (!this.firstContact.has(node)) {
          const at = Date.parse(e.at);
          if (Number.isFinite(at)) this.firstContact.set(node, at);
        }
        return;
      case 'node.installing':
        this.since(node, e, 'config');
        return;
      case 'node.booted':
        this.since(node, e, 'trigger');
        this.firstContact.delete(node);
        return;
    }
  }

  /** Nodes whose install is being timed (for tests). */
  get size(): number {
    return this.firstContact.size;
  }

  private since(node: string, e: EventRecord, phase: BootPhase): void {
    const start = this.firstContact.get(node);
    const at = Date.parse(e.at);
    if (start === undefined || !Number.isFinite(at)) return;
    this.observe(phase, Math.max(0, (at - start) / 1000));
  }
}
