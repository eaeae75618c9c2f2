import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DhcpPacketEvent } from '../dhcp/server.js';
import type { EngineCallObserver } from '../rhevm/connection.js';
import type { ServiceObservers } from '../services.js';
import type { StoreCallObserver } from '../store/sqlite/index.js';
import type { JobState, Store } from '../store/store.js';
import { BootPhaseTimer } from './boot-phases.js';

/** What the metrics read at scrape time: the servers' own counters, never touched per packet. */
export interface MetricSources {
  dhcp?: () => Record<string, number>;
  tftp?: () => Record<string, number>;
  /** Job counts by state for one kind (the RHEV-M hand-offs). */
  jobs?: () => Promise<Partial<Record<JobState, number>>>;
}

export interface ApplianceMetrics {
  readonly registry: Registry;
  readonly sources: MetricSources;
  /** Hooks for the services (events for boot phases, engine calls, trigger outcomes). */
  readonly services: Required<ServiceObservers>;
  readonly storeCall: StoreCallObserver;
  readonly dhcpPacket: (e: DhcpPacketEvent) => void;
  /** One answered HTTP request: `route` is the route pattern (never the raw URL). */
  httpResponse(method: string, route: string | undefined, status: number): void;
  bootFileBytes(bytes: number): void;
  /** The exposition (Prometheus text format) and its content type. */
  render(): Promise<{ contentType: string; body: string }>;
}

const JOB_STATES: JobState[] = ['queued', 'running', 'succeeded', 'failed', 'interrupted'];
const TFTP_OUTCOMES: [string, string][] = [
  ['ok', 'ok'],
  ['notFound', 'not_found'],
  ['refused', 'refused'],
  ['timeouts', 'timeout'],
  ['errors', 'error'],
  ['aborted', 'aborted'],
];
const FAST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * A counter whose value is read from a server's own counters at scrape time (prom-client has no
 * `set` on counters, so the value is re-filled in `collect`).
 */
function mirroredCounter(registry: Registry, name: string, help: string, labelNames: string[], read: () => [Record<string, string>, number][]): void {
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of read()) this.inc(labels, value);
    },
  });
}

/**
 * One registry per appliance (not prom-client's global one, so tests run several appliances in
 * one process), with Node's process metrics. Names follow Prometheus conventions: `rhevboot_`
 * prefix, `_total` counters, base units (`_seconds`, `_bytes`).
 */
export function createMetrics(): ApplianceMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'rhevboot_' });
  const sources: MetricSources = {};
  const registers = [registry];
  const stat = (s: Record<string, number> | undefined, k: string): number => s?.[k] ?? 0;

  // DHCP: per-packet (type, outcome) from onPacket; the rest from the server's stats().
  const dhcpPackets = new Counter({ name: 'rhevboot_dhcp_packets_total', help: 'DHCP requests handled, by message type and outcome of the decision.', labelNames: ['type', 'outcome'], registers });
  mirroredCounter(registry, 'rhevboot_dhcp_dropped_packets_total', 'DHCP packets not answered before a decision, by reason.', ['reason'], () => {
    if (!sources.dhcp) return [];
    const s = sources.dhcp();
    return [
      [{ reason: 'malformed' }, stat(s, 'malformed')],
      [{ reason: 'rejected' }, stat(s, 'rejected')],
      [{ reason: 'booter_error' }, stat(s, 'booterErrors')],
      [{ reason: 'internal_error' }, stat(s, 'internalErrors')],
    ];
  });
  new Gauge({
    name: 'rhevboot_dhcp_leases',
    help: 'Leases in the DHCP server\'s lease book (offered, bound or reserved, not yet expired).',
    registers,
    collect() {
      this.set(sources.dhcp ? stat(sources.dhcp(), 'leases') : 0);
    },
  });
  const leaseCommit = new Histogram({ name: 'rhevboot_dhcp_lease_commit_duration_seconds', help: 'Time to commit one batch of leases to the store (ACKs wait for it).', buckets: FAST_BUCKETS, registers });
  mirroredCounter(registry, 'rhevboot_dhcp_lease_commit_failures_total', 'Lease batches the store refused (their ACKs were not sent).', [], () => (sources.dhcp ? [[{}, stat(sources.dhcp(), 'persistFailures')]] : []));
  // DECLINEs: a climbing `ignored` is someone sending DECLINEs for addresses they do not hold.
  mirroredCounter(registry, 'rhevboot_dhcp_declines_total', "DHCPDECLINEs (full mode), by outcome: quarantined (the lease holder's: the address is out of use for its probation or hold) or ignored (anyone else's: nothing changed).", ['outcome'], () => {
    if (!sources.dhcp) return [];
    const s = sources.dhcp();
    return [
      [{ outcome: 'quarantined' }, stat(s, 'declineQuarantined')],
      [{ outcome: 'ignored' }, stat(s, 'declineIgnored')],
    ];
  });

  // TFTP: all from stats() at scrape time.
  const tftp = (): Record<string, number> | undefined => sources.tftp?.();
  mirroredCounter(registry, 'rhevboot_tftp_transfers_total', 'TFTP read requests finished, by outcome.', ['outcome'], () => {
    const s = tftp();
    return s ? TFTP_OUTCOMES.map(([k, outcome]) => [{ outcome }, stat(s, k)]) : [];
  });
  mirroredCounter(registry, 'rhevboot_tftp_transfer_failures_total', 'TFTP transfers that failed after starting (timeout, error or aborted).', [], () => {
    const s = tftp();
    return s ? [[{}, stat(s, 'timeouts') + stat(s, 'errors') + stat(s, 'aborted')]] : [];
  });
  mirroredCounter(registry, 'rhevboot_tftp_sent_bytes_total', 'File bytes sent over TFTP (first transmissions).', [], () => {
    const s = tftp();
    return s ? [[{}, stat(s, 'bytesSent')]] : [];
  });
  mirroredCounter(registry, 'rhevboot_tftp_retransmits_total', 'TFTP DATA packets sent again after a timeout.', [], () => {
    const s = tftp();
    return s ? [[{}, stat(s, 'retransmits')]] : [];
  });
  mirroredCounter(registry, 'rhevboot_tftp_send_stalls_total', "TFTP bursts the kernel's send buffer could not take at once (raise net.core.wmem_max if this climbs).", [], () => {
    const s = tftp();
    return s ? [[{}, stat(s, 'sendStalls')]] : [];
  });
  new Gauge({
    name: 'rhevboot_tftp_active_transfers',
    help: 'TFTP transfers in progress.',
    registers,
    collect() {
      this.set(stat(tftp(), 'active'));
    },
  });

  // HTTP.
  const httpRequests = new Counter({ name: 'rhevboot_http_requests_total', help: 'HTTP requests answered, by method, route pattern and status.', labelNames: ['method', 'route', 'status'], registers });
  const bootFileBytes = new Counter({ name: 'rhevboot_http_boot_file_sent_bytes_total', help: 'Bytes of boot files (kernels, initrds, install trees) sent over HTTP.', registers });

  // Boot phases, from the timeline.
  const bootPhase = new Histogram({
    name: 'rhevboot_boot_phase_duration_seconds',
    help: 'Time from a node\'s first DHCP contact of an install to its boot-config fetch (phase="config") and to the install trigger (phase="trigger").',
    labelNames: ['phase'],
    buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200],
    registers,
  });
  const phases = new BootPhaseTimer((phase, seconds) => bootPhase.observe({ phase }, seconds));

  // Trigger.
  const configRefusals = new Counter({
    name: 'rhevboot_boot_config_refused_total',
    help: "Install configs (they carry the node's trigger token and password hashes) refused to an address that is not the node's, by protocol.",
    labelNames: ['protocol'],
    registers,
  });
  const triggers = new Counter({ name: 'rhevboot_trigger_requests_total', help: 'Install triggers, by outcome (accepted, repeat, refused) and refusal reason.', labelNames: ['outcome', 'reason'], registers });

  // RHEV-M.
  new Gauge({
    name: 'rhevboot_rhevm_handoff_jobs',
    help: 'RHEV-M hand-off (registration) jobs in the store, by state.',
    labelNames: ['state'],
    registers,
    async collect() {
      const counts = sources.jobs ? await sources.jobs() : {};
      for (const state of JOB_STATES) this.set({ state }, counts[state] ?? 0);
    },
  });
  const engineCalls = new Histogram({
    name: 'rhevboot_rhevm_call_duration_seconds',
    help: 'Engine REST calls (each try), by HTTP method and outcome (status class, or error when no answer came).',
    labelNames: ['method', 'outcome'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const engineCall: EngineCallObserver = (c) => engineCalls.observe({ method: c.method, outcome: c.status === undefined ? 'error' : `${Math.floor(c.status / 100)}xx` }, c.seconds);

  // Store.
  const storeCalls = new Histogram({
    name: 'rhevboot_store_call_duration_seconds',
    help: 'Store repository calls (lock wait included), by repository and method; repo="store" is a whole transaction.',
    labelNames: ['repo', 'method', 'outcome'],
    buckets: FAST_BUCKETS,
    registers,
  });

  return {
    registry,
    sources,
    services: {
      event: (e) => phases.event(e),
      engineCall,
      configRefused: (protocol) => configRefusals.inc({ protocol }),
      trigger: (o) =>
        triggers.inc(o.accepted ? { outcome: o.repeat ? 'repeat' : 'accepted', reason: '' } : { outcome: 'refused', reason: o.refusal }),
    },
    storeCall: (repo, method, seconds, ok) => {
      storeCalls.observe({ repo, method, outcome: ok ? 'ok' : 'error' }, seconds);
      // The DHCP server's group commit is one upsertMany per batch.
      if (repo === 'leases' && method === 'upsertMany') leaseCommit.observe(seconds);
    },
    dhcpPacket: (e) => dhcpPackets.inc({ type: e.type, outcome: e.outcome }),
    httpResponse: (method, route, status) => httpRequests.inc({ method, route: route ?? '(unmatched)', status: String(status) }),
    bootFileBytes: (bytes) => {
      if (bytes > 0) bootFileBytes.inc(bytes);
    },
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}

/** Job counts for the hand-off gauge, read from the store at scrape time. */
export function handoffJobCounts(store: Store, kind: string): () => Promise<Partial<Record<JobState, number>>> {
  return () => store.jobs.countByState(kind);
}
