import { randomUUID } from 'node:crypto';
import type { NodeRecord, NodeStatus } from '../domain/node.js';
import { isRhevbootError } from '../errors.js';
import type { Logger } from '../log.js';
import { sleep } from '../util/sleep.js';
import { EngineFault, type Host, type RhevmClient } from '../rhevm/index.js';
import type { JobProgress, JobRecord, Repositories, Store } from '../store/store.js';
import type { EngineService } from './engines.js';
import type { EventService } from '../events/events.js';
import type { JobContext, JobOutcome } from '../jobs/job-runner.js';
import type { NodeLifecycle } from '../provisioning/lifecycle.js';
import { SECRET_HOST_ROOT_PASSWORD, SECRET_PM_PASSWORD } from '../provisioning/secrets.js';

export const REGISTER_JOB = 'rhevm.register';

type Phase = 'waiting-for-host' | 'approving' | 'waiting-for-up' | 'follow-ups';

/** Where a registration stands; persisted in the job's progress so a restart resumes it. */
interface Detail {
  phase: Phase;
  deadline: number;
  hostId?: string;
  lastStatus?: string;
  approvals?: number;
  added?: boolean;
}

/** States that end the hand-off as failed, in the engine's words. */
const FAILED = new Set(['install_failed', 'non_operational', 'error', 'kdumping']);
/** Engine faults that are the engine's trouble, not ours: wait and ask again. */
const TRANSIENT_CODES = new Set(['RB_ERR_RHEVM_UNREACHABLE', 'RB_ERR_RHEVM_TIMEOUT']);

function isTransient(err: unknown): boolean {
  if (err instanceof EngineFault) return err.status >= 500 || err.status === 429;
  return isRhevbootError(err) && TRANSIENT_CODES.has(err.code);
}

function describe(err: unknown): { code: string; message: string } {
  return { code: (err as { code?: string }).code ?? 'RB_ERR_INTERNAL', message: (err as Error).message };
}

export interface RegistrationOptions {
  timeoutMs: number;
  pollIntervalMs: number;
  /** Without self-registration by then, add the host by address (needs the root password secret). */
  addAfterMs?: number;
  now?: () => number;
  random?: () => number;
}

/**
 * Hands an installed host to its engine (issue 6): wait for the host to register itself (RHEV-H
 * does, given `management_server`), approve it into the node's cluster, wait through the engine's
 * host-deploy until `up`, then the node's follow-ups. xCAT left all of this to an admin typing
 * `chhypervisor -a`. Each step is an event on the node's timeline; the node's status follows
 * (registering, pending_approval, up, or failed with the engine's words).
 */
export class RegistrationService {
  constructor(
    private readonly deps: { store: Store; events: EventService; engines: EngineService; lifecycle: NodeLifecycle; log: Logger; options: RegistrationOptions },
  ) {}

  private now(): number {
    return (this.deps.options.now ?? Date.now)();
  }

  /**
   * Called in the trigger's transaction: queues the hand-off when the node names a registered
   * engine. Returns what happened, for the trigger's event.
   */
  async queue(node: NodeRecord, tx: Repositories): Promise<'queued' | 'already-queued' | 'no-engine'> {
    if (!node.manager || (await tx.engines.get(node.manager))?.kind !== 'rhevm') {
      await this.deps.events.record(
        { kind: 'node.handoff-skipped', subjectType: 'node', subject: node.name, message: node.manager ? `no engine named ${node.manager} is registered (rhevboot rhevm add): host not handed off` : 'the node names no engine: host not handed off', data: { manager: node.manager } },
        tx,
      );
      return 'no-engine';
    }
    const job = await tx.jobs.enqueue({ id: randomUUID(), kind: REGISTER_JOB, subject: node.name, params: { engine: node.manager, cluster: node.cluster ?? 'Default' } });
    if (!job) return 'already-queued';
    await this.deps.events.record({ kind: 'rhevm.queued', subjectType: 'node', subject: node.name, message: `hand-off to engine ${node.manager} queued`, data: { job: job.id, engine: node.manager } }, tx);
    return 'queued';
  }

  /** The job body: one attempt, from wherever the job's progress says it stopped. */
  async run(job: JobRecord, ctx: JobContext): Promise<JobOutcome> {
    const { store } = this.deps;
    const node = await store.nodes.get(job.subject);
    if (!node) return { kind: 'failed', error: { code: 'RB_ERR_NOT_FOUND', message: `node ${job.subject} no longer exists` } };
    const engineName = String(job.params.engine);
    const cluster = String(job.params.cluster ?? 'Default');
    const detail: Detail = (job.progress.detail as Detail | undefined) ?? { phase: 'waiting-for-host', deadline: this.now() + this.deps.options.timeoutMs };
    let client: RhevmClient;
    try {
      client = await this.deps.engines.client(engineName);
    } catch (err) {
      return this.fail(node, detail, describe(err));
    }
    const save = async (): Promise<void> => {
      const p: JobProgress = { phase: detail.phase, done: ['waiting-for-host', 'approving', 'waiting-for-up', 'follow-ups'].indexOf(detail.phase), total: 4, detail: { ...detail } };
      await ctx.progress(p);
    };
    const call = { correlationId: job.id, signal: ctx.signal };
    let delay = this.deps.options.pollIntervalMs;
    const maxDelay = this.deps.options.pollIntervalMs * 12;
    const address = await this.addressOf(node);
    if (node.status === 'booted') await this.setStatus(node.name, 'registering', null, `hand-off to engine ${engineName} started`, { engine: engineName, job: job.id });
    try {
      for (;;) {
        if (ctx.signal.aborted) return { kind: 'retry', afterMs: 0 };
        if (this.now() > detail.deadline) {
          return this.fail(node, detail, { code: 'RB_ERR_RHEVM_TIMEOUT', message: `engine ${engineName}: no end to '${detail.phase}' within ${Math.round(this.deps.options.timeoutMs / 1000)} s${detail.lastStatus ? ` (host last ${detail.lastStatus})` : ''}` });
        }
        let progressed = false;
        try {
          progressed = await this.step(client, node, address, detail, cluster, engineName, call);
        } catch (err) {
          if (ctx.signal.aborted) return { kind: 'retry', afterMs: 0 };
          if (!isTransient(err)) return this.fail(node, detail, describe(err));
          this.deps.log.warn({ node: node.name, engine: engineName, phase: detail.phase, err: describe(err) }, 'engine trouble during hand-off: trying again');
        }
        await save();
        if (detail.phase === 'follow-ups' && progressed) {
          await this.setStatus(node.name, 'up', null, `host ${detail.hostId} is up in engine ${engineName}`, { engine: engineName, host: detail.hostId }, 'rhevm.host-up');
          return { kind: 'done', result: { engine: engineName, host: detail.hostId ?? null } };
        }
        if (progressed) {
          delay = this.deps.options.pollIntervalMs;
          continue;
        }
        await sleep(delay * (0.75 + 0.5 * (this.deps.options.random ?? Math.random)()), ctx.signal);
        delay = Math.min(maxDelay, delay * 2);
      }
    } finally {
      await client.close();
    }
  }

  /**
   * One look at the engine and, if the host's state allows, one move. True when the phase
   * advanced (so the next look comes at once); false to wait and look again.
   */
  private async step(client: RhevmClient, node: NodeRecord, address: string | undefined, d: Detail, cluster: string, engine: string, call: { correlationId: string; signal: AbortSignal }): Promise<boolean> {
    switch (d.phase) {
      case 'waiting-for-host': {
        const host = (await client.hosts.findByHostName(node.name, { ...call, prefix: true })) ?? (address ? await client.hosts.findByAddress(address, call) : undefined);
        if (!host) return this.maybeAdd(client, node, d, cluster, engine, address, call);
        d.hostId = host.id;
        d.lastStatus = host.status;
        await this.event(node.name, 'rhevm.host-found', `host ${host.name} (${host.id}) found in engine ${engine}: ${host.status}`, { host: host.id, status: host.status, engine });
        if (host.status === 'pending_approval' || host.status === 'install_failed') {
          if (host.status === 'pending_approval') await this.setStatus(node.name, 'pending_approval', null, `host ${host.name} waits for approval in engine ${engine}`, { host: host.id });
          d.phase = 'approving';
        } else {
          // Already approved (an auto-approving engine, or an admin was quicker).
          d.phase = 'waiting-for-up';
        }
        return true;
      }
      case 'approving': {
        if ((d.approvals ?? 0) >= 2) throw Object.assign(new Error(`engine ${engine}: host ${d.hostId} failed to install twice after approval (${d.lastStatus})`), { code: 'RB_ERR_RHEVM_STATE' });
        try {
          await client.hosts.approve(d.hostId!, { cluster: { name: cluster } }, call);
        } catch (err) {
          // 409: not pending any more (someone approved it meanwhile): look at where it is.
          if (!(err instanceof EngineFault && err.status === 409)) throw err;
          const host = await client.hosts.get(d.hostId!, call);
          d.lastStatus = host.status;
          if (host.status === 'pending_approval' || host.status === 'install_failed') throw err;
        }
        d.approvals = (d.approvals ?? 0) + 1;
        await this.event(node.name, 'rhevm.host-approved', `host ${d.hostId} approved into cluster ${cluster}`, { host: d.hostId, cluster });
        d.phase = 'waiting-for-up';
        return true;
      }
      case 'waiting-for-up': {
        const host = await client.hosts.find(d.hostId!, call);
        if (!host) throw Object.assign(new Error(`engine ${engine}: host ${d.hostId} was removed from the engine during the hand-off`), { code: 'RB_ERR_RHEVM_STATE' });
        if (host.status !== d.lastStatus) await this.event(node.name, 'rhevm.host-status', `host ${host.name}: ${d.lastStatus ?? '?'} -> ${host.status}${host.statusDetail ? ` (${host.statusDetail})` : ''}`, { host: host.id, status: host.status });
        d.lastStatus = host.status;
        if (host.status === 'up' || host.status === 'maintenance') {
          d.phase = 'follow-ups';
          return false;
        }
        if (host.status === 'install_failed' && !d.added && (d.approvals ?? 0) < 2) {
          // A self-registered host whose deploy failed may be approved again (§7.4); once.
          d.phase = 'approving';
          return true;
        }
        if (FAILED.has(host.status ?? '')) throw hostFailed(engine, host);
        if (host.status === 'pending_approval') d.phase = 'approving';
        // Anything else (installing, initializing, unassigned, reboot, …) is on the way to up (§7.4).
        return false;
      }
      case 'follow-ups': {
        const host = await client.hosts.get(d.hostId!, call);
        if (host.status === 'maintenance') {
          await client.hosts.activate(host.id, call);
          await this.event(node.name, 'rhevm.host-activated', `host ${host.name} activated`, { host: host.id });
          d.phase = 'waiting-for-up';
          return false;
        }
        if (host.status !== 'up') {
          d.phase = 'waiting-for-up';
          return false;
        }
        await this.followUps(client, node, host, call);
        return true;
      }
    }
  }

  /**
   * Optional follow-ups from the node's attributes: power management (`pm.address`, `pm.user`,
   * `pm.type` (ipmilan), password from the `rhevm.pm-password` secret) and logical networks
   * (`rhevm.networks=net:nic[,net:nic]`). Each is idempotent, so a resumed hand-off repeats it.
   */
  private async followUps(client: RhevmClient, node: NodeRecord, host: Host, call: { correlationId: string; signal: AbortSignal }): Promise<void> {
    const pmAddress = node.attrs['pm.address'];
    if (pmAddress) {
      const password = await this.deps.store.secrets.get(SECRET_PM_PASSWORD);
      await client.hosts.setPowerManagement(
        host.id,
        { enabled: true, type: node.attrs['pm.type'] ?? 'ipmilan', address: pmAddress, ...(node.attrs['pm.user'] ? { username: node.attrs['pm.user'] } : {}), ...(password ? { password } : {}) },
        call,
      );
      await this.event(node.name, 'rhevm.power-management', `power management ${node.attrs['pm.type'] ?? 'ipmilan'} at ${pmAddress} set on host ${host.name}`, { host: host.id, address: pmAddress });
    }
    const spec = node.attrs['rhevm.networks'];
    if (!spec) return;
    for (const pair of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
      const [network, nic] = pair.split(':');
      if (!network || !nic) throw Object.assign(new Error(`node ${node.name}: attribute rhevm.networks entry '${pair}' is not network:nic`), { code: 'RB_ERR_INVALID' });
      try {
        await client.hosts.attachNetwork(host.id, { nic, network: { name: network } }, call);
      } catch (err) {
        // Already attached (a resumed hand-off): that is the state we want.
        if (!(err instanceof EngineFault && err.status === 409)) throw err;
      }
      await this.event(node.name, 'rhevm.network-attached', `network ${network} attached to ${nic} of host ${host.name}`, { host: host.id, network, nic });
    }
  }

  /** A host that never registered itself is added by address, when the admin allowed it. */
  private async maybeAdd(client: RhevmClient, node: NodeRecord, d: Detail, cluster: string, engine: string, address: string | undefined, call: { correlationId: string; signal: AbortSignal }): Promise<boolean> {
    const addAfter = this.deps.options.addAfterMs;
    if (addAfter === undefined || !address) return false;
    const started = d.deadline - this.deps.options.timeoutMs;
    if (this.now() < started + addAfter) return false;
    const rootPassword = await this.deps.store.secrets.get(SECRET_HOST_ROOT_PASSWORD);
    if (!rootPassword) return false;
    const host = await client.hosts.add({ name: node.name, address, rootPassword, cluster: { name: cluster } }, call);
    d.hostId = host.id;
    d.added = true;
    d.lastStatus = host.status;
    await this.event(node.name, 'rhevm.host-added', `host never registered itself: added to engine ${engine} by address ${address}`, { host: host.id, address });
    d.phase = 'waiting-for-up';
    return true;
  }

  /** The node's reserved address, else the one its NICs hold a bound lease for (read once per attempt). */
  private async addressOf(node: NodeRecord): Promise<string | undefined> {
    if (node.ip) return node.ip;
    const macs = new Set(node.nics.map((n) => n.mac));
    return (await this.deps.store.leases.all()).find((l) => macs.has(l.mac) && l.state === 'bound')?.ip;
  }

  private async fail(node: NodeRecord, d: Detail, error: { code: string; message: string }): Promise<JobOutcome> {
    try {
      await this.setStatus(node.name, 'failed', error.message, `hand-off failed in ${d.phase}: ${error.message}`, { phase: d.phase, code: error.code }, 'rhevm.failed');
    } catch (err) {
      // The node moved on meanwhile (an admin re-installed it): its new state is not ours to fail.
      if (!isRhevbootError(err, 'RB_ERR_TRANSITION')) throw err;
      await this.event(node.name, 'rhevm.failed', `hand-off ended in ${d.phase}: ${error.message} (node left as ${String(err.details.from)})`, { phase: d.phase, code: error.code });
    }
    return { kind: 'failed', error };
  }

  private async event(node: string, kind: string, message: string, data: Record<string, unknown>): Promise<void> {
    await this.deps.events.record({ kind, subjectType: 'node', subject: node, message, data });
  }

  /** Every status the hand-off writes is a lifecycle move (refused if the node is no longer ours to move). */
  private async setStatus(name: string, status: NodeStatus, reason: string | null, message: string, data: Record<string, unknown>, kind = 'node.status'): Promise<void> {
    await this.deps.lifecycle.move(name, { to: status, cause: 'handoff', ...(reason === null ? {} : { reason }) }, { kind, message, data });
  }
}

function hostFailed(engine: string, host: Host): Error {
  return Object.assign(new Error(`engine ${engine}: host ${host.name} is ${host.status}${host.statusDetail ? ` (${host.statusDetail})` : ''}`), { code: 'RB_ERR_RHEVM_STATE' });
}
