import { timingSafeEqual } from 'node:crypto';
import { AFTER_TRIGGER, mayMove, moveNode } from '../domain/lifecycle.js';
import type { NodeRecord } from '../domain/node.js';
import type { Logger } from '../log.js';
import type { Repositories, Store } from '../store/store.js';
import type { EventService } from '../events/events.js';
import type { NodeService } from './nodes.js';

/**
 * Where an installed node goes next: the hand-off to its engine (management/registration.ts),
 * queued in the trigger's own transaction so the flip to local boot and the hand-off happen
 * together or not at all.
 */
export interface HandoffQueue {
  queue(node: NodeRecord, tx: Repositories): Promise<unknown>;
}

export interface TriggerRequest {
  /** The address the request came from (never a header: X-Forwarded-For is the caller's word). */
  remoteAddress: string;
  /** The `@HOSTNAME@` the installer substituted: the node's hostname, maybe fully qualified. */
  hostname: string;
  token: string | undefined;
}

/** Why a trigger was refused, as a small fixed set (metrics label it; the reason text is logged). */
export type TriggerRefusal = 'unknown-address' | 'wrong-hostname' | 'bad-token' | 'not-installing' | 'changed';

export type TriggerOutcome = { accepted: true; node: string; repeat: boolean } | { accepted: false; reason: string; refusal: TriggerRefusal };

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The install-finished trigger (xcat-rhev.md §3, fixed per §8.4): RHEV-H calls
 * `local_boot_trigger` right before its post-install reboot. It is believed only if it comes from
 * the node's own address, names that node, carries the token its install was given, and the node
 * is installing; then the node is flipped to local boot and marked booted in one transaction.
 * A repeat (the installer retries, with this install's token: a new install gets a new one)
 * changes nothing and is answered the same, while the hand-off it started is queued, running or
 * done.
 */
export class TriggerService {
  constructor(
    private readonly store: Store,
    private readonly nodes: NodeService,
    private readonly events: EventService,
    private readonly log: Logger,
    private readonly handoff?: { queue: HandoffQueue; onQueued?: () => void },
    /** Told every outcome (the server's metrics). */
    private readonly observe?: (o: TriggerOutcome) => void,
  ) {}

  async fire(req: TriggerRequest): Promise<TriggerOutcome> {
    const outcome = await this.decide(req);
    this.observe?.(outcome);
    return outcome;
  }

  private async decide(req: TriggerRequest): Promise<TriggerOutcome> {
    const refuse = (refusal: TriggerRefusal, reason: string, node?: string): TriggerOutcome => {
      this.log.warn({ remote: req.remoteAddress, hostname: req.hostname, node, reason }, 'install trigger refused');
      return { accepted: false, reason, refusal };
    };
    const node = await this.nodes.atAddress(req.remoteAddress);
    if (!node) return refuse('unknown-address', `no node has address ${req.remoteAddress}`);
    const shortName = req.hostname.split('.')[0]!.toLowerCase();
    if (shortName !== node.name) return refuse('wrong-hostname', `${req.remoteAddress} is node ${node.name}, but the URL names '${req.hostname}'`, node.name);
    if (!req.token || !node.triggerToken || !sameToken(req.token, node.triggerToken)) return refuse('bad-token', 'the token is not the one this install was given', node.name);
    if (AFTER_TRIGGER.has(node.status)) return { accepted: true, node: node.name, repeat: true };
    if (node.bootAction !== 'install' || !mayMove(node.status, 'booted', 'trigger')) {
      return refuse('not-installing', `node ${node.name} is not installing (boot ${node.bootAction}, status ${node.status})`, node.name);
    }
    const outcome = await this.store.transaction(async (tx): Promise<TriggerOutcome> => {
      // Checked again under the write lock: a nodeset or a second trigger may have come between.
      const fresh = await tx.nodes.get(node.name);
      if (!fresh || fresh.triggerToken !== node.triggerToken) return { accepted: false, reason: 'the node changed while the trigger was checked', refusal: 'changed' };
      if (AFTER_TRIGGER.has(fresh.status)) return { accepted: true, node: node.name, repeat: true };
      if (fresh.bootAction !== 'install' || !mayMove(fresh.status, 'booted', 'trigger')) {
        return { accepted: false, reason: `node ${node.name} is not installing (boot ${fresh.bootAction}, status ${fresh.status})`, refusal: 'not-installing' };
      }
      const booted = moveNode(fresh, { to: 'booted', cause: 'trigger', bootAction: 'local', at: new Date().toISOString() });
      await tx.nodes.putMany([booted]);
      await this.events.record(
        { kind: 'node.booted', subjectType: 'node', subject: node.name, message: `install finished (trigger from ${req.remoteAddress}); set to local boot`, data: { remote: req.remoteAddress } },
        tx,
      );
      // The hand-off to RHEV-M is queued with the flip, so neither can happen without the other.
      if (this.handoff) await this.handoff.queue.queue(booted, tx);
      return { accepted: true, node: node.name, repeat: false };
    });
    if (!outcome.accepted) return refuse(outcome.refusal, outcome.reason, node.name);
    if (!outcome.repeat) this.handoff?.onQueued?.();
    return outcome;
  }
}
