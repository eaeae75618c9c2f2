// EngineSim: the simulated RHEV-M / oVirt engine that tests start, steer and inspect.
//
//   const sim = await EngineSim.start({ version: 4, tls: true, stepMs: 5 });
//   sim.apiUrl            https://127.0.0.1:PORT/ovirt-engine/api  (v3 engine: .../api)
//   sim.ca                { pem, path, fingerprint256, fingerprint1 } when tls
//   sim.faults.failNext(2, 503, { path: '/ovirt-engine/api/hosts' }); sim.faults.add({ kind: 'drop-after', method: 'POST', path: '/ovirt-engine/api/hosts' })
//   sim.requests          every request: method, url, headers (Correlation-Id…), body, status
//   sim.failHost({ name: 'node1', kind: 'install_failed', reason: 'Network error during communication with the host' })
//   await sim.registerNode({ name: 'node1', address: '127.0.0.1', uniqueId: '…' })  (or over HTTP, §8.3)
//   await sim.waitFor(() => sim.hostByName('node1')?.status === 'up')
//   await sim.restart({ downMs: 200 })   same port, same state; sessions/tokens dropped
//   await sim.close()
import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import type { EngineConfigView } from './api.js';
import { buildApp } from './app.js';
import { AuthStore, type Credentials } from './auth.js';
import { Faults, type FaultRule, type LoggedRequest } from './faults.js';
import { registerNode, type NodeRegistration } from './register.js';
import type { ProductInfo } from './render.js';
import { Clock, DEFAULT_TIMINGS, EngineState, type Host, type HostFailureRule, type Timings, type Vm } from './state.js';
import { makePki, makeSshPublicKey, type EnginePki } from './tls.js';
import { waitFor } from '../helpers/fixtures.js';

export interface EngineSimOptions {
  /** Engine product major version: 3 = RHEV-M 3.x (v3 only), 4 = oVirt 4.x (v4, v3 on request). */
  version?: 3 | 4;
  /** Product minor: 3.0–3.3 serve only /api; 4.4+ refuse v3 (§1.1, §1.2). Default 3.6 / 4.3. */
  minor?: number;
  tls?: boolean;
  host?: string;
  port?: number;
  /** Milliseconds per clock step; 0 = manual (advance()). Default 10. */
  stepMs?: number;
  timings?: Partial<Timings>;
  users?: Credentials[];
  /** Also serve /api (v3) on a 4.x engine, as the §9.1 blueprint asks. Default true. */
  legacyApiPath?: boolean;
  managementNetwork?: string;
  autoApprovePatterns?: RegExp[];
  autoRegistrationClusterId?: string;
  ssoErrorStyle?: 'oauth' | 'restapi';
  tokenTtlMs?: number;
}

export const DEFAULT_USER: Credentials = { user: 'admin@internal', password: 'engine-sim-password' };

export class EngineSim {
  readonly state: EngineState;
  readonly auth: AuthStore;
  readonly faults = new Faults();
  readonly cfg: EngineConfigView;
  readonly product: ProductInfo;
  private app?: FastifyInstance;
  private sshKey = makeSshPublicKey();
  port = 0;

  private constructor(readonly opts: Required<Pick<EngineSimOptions, 'version' | 'minor' | 'host' | 'legacyApiPath'>> & EngineSimOptions, readonly pki: EnginePki | undefined) {
    const clock = new Clock(opts.stepMs ?? 10);
    const major = opts.version;
    this.state = new EngineState(
      { managementNetwork: opts.managementNetwork ?? (major === 3 ? 'rhevm' : 'ovirtmgmt'), dcVersion: { major, minor: opts.minor } },
      clock, { ...DEFAULT_TIMINGS, ...opts.timings },
    );
    this.auth = new AuthStore(opts.users ?? [DEFAULT_USER], major >= 4, opts.tokenTtlMs, opts.ssoErrorStyle);
    this.cfg = { engineHost: opts.host, autoApprovePatterns: opts.autoApprovePatterns ?? [], ...(opts.autoRegistrationClusterId ? { autoRegistrationClusterId: opts.autoRegistrationClusterId } : {}) };
    this.product = major === 3
      ? { name: 'Red Hat Enterprise Virtualization Manager', vendor: 'Red Hat', version: { major: 3, minor: opts.minor, build: 13, revision: 0, full: `3.${opts.minor}.13-0.1.el6` } }
      : { name: 'oVirt Engine', vendor: 'ovirt.org', version: { major: 4, minor: opts.minor, build: 11, revision: 0, full: `4.${opts.minor}.11-1.el7` } };
  }

  static async start(opts: EngineSimOptions = {}): Promise<EngineSim> {
    const version = opts.version ?? 4;
    const full = { ...opts, version, minor: opts.minor ?? (version === 3 ? 6 : 3), host: opts.host ?? '127.0.0.1', legacyApiPath: opts.legacyApiPath ?? true };
    const sim = new EngineSim(full, opts.tls ? await makePki() : undefined);
    await sim.listen(opts.port ?? 0);
    return sim;
  }

  private async listen(port: number): Promise<void> {
    this.app = buildApp({
      state: () => this.state, auth: this.auth, faults: this.faults, cfg: this.cfg, product: this.product, legacyApiPath: this.opts.legacyApiPath,
      tls: this.pki ? { key: this.pki.keyPem, cert: this.pki.certPem } : undefined,
      caPem: () => this.pki?.caPem ?? '', engineCertPem: () => this.pki?.certPem ?? '', sshPublicKey: () => this.sshKey,
      admin: (app) => this.adminRoutes(app),
    });
    await this.app.listen({ host: this.opts.host, port });
    this.port = (this.app.server.address() as AddressInfo).port;
  }

  get url(): string {
    const h = this.opts.host.includes(':') ? `[${this.opts.host}]` : this.opts.host;
    return `${this.pki ? 'https' : 'http'}://${h}:${this.port}`;
  }

  /** The canonical API URL: /ovirt-engine/api, or /api on RHEV-M 3.0–3.3 (§1.1). */
  get apiUrl(): string {
    return this.url + (this.opts.version === 3 && this.opts.minor < 4 ? '/api' : '/ovirt-engine/api');
  }

  get ca(): { pem: string; path: string; fingerprint256: string; fingerprint1: string } | undefined {
    return this.pki && { pem: this.pki.caPem, path: this.pki.caPath, fingerprint256: this.pki.caFingerprint256, fingerprint1: this.pki.caFingerprint1 };
  }

  get requests(): LoggedRequest[] {
    return this.faults.log;
  }

  get clock(): Clock {
    return this.state.clock;
  }

  /** Manual clock (stepMs 0): run the transitions due in the next `steps` steps. */
  advance(steps = 1): void {
    this.state.clock.advance(steps);
  }

  failHost(rule: HostFailureRule): void {
    this.state.hostFailures.push(rule);
  }

  /** Registers a node as if vdsm had called host-register (§8.4); returns the host. */
  registerNode(reg: NodeRegistration, sourceIp = '127.0.0.1'): Host {
    return registerNode(this.state, this.cfg, reg, sourceIp);
  }

  hostByName(name: string): Host | undefined {
    return [...this.state.hosts.values()].find((h) => h.name === name);
  }

  vmByName(name: string): Vm | undefined {
    return [...this.state.vms.values()].find((v) => v.name === name);
  }

  async waitFor(pred: () => boolean, timeoutMs = 5000): Promise<void> {
    await waitFor(
      () => {
        if (pred()) return true;
        // With stepMs 0 the simulator's clock moves only when asked: one tick per look.
        if (this.state.clock.stepMs === 0) this.state.clock.advance(1);
        return false;
      },
      { timeoutMs, intervalMs: 5, what: 'EngineSim.waitFor condition' },
    );
  }

  /** Waits until no timed transition is pending (with stepMs 0: runs them all). */
  async settle(timeoutMs = 5000): Promise<void> {
    await this.waitFor(() => this.state.clock.pending === 0, timeoutMs);
  }

  /** Puts an image file on the named ISO domain (listed at /storagedomains/{id}/files). */
  addIsoFile(domainName: string, file: string): void {
    const sd = [...this.state.storageDomains.values()].find((s) => s.name === domainName);
    if (!sd) throw new Error(`no storage domain ${domainName}`);
    sd.files.push(file);
  }

  /** Stops listening (connections are destroyed mid-flight); the state is kept. */
  async stop(): Promise<void> {
    await this.app?.close();
    this.app = undefined;
  }

  /**
   * An engine restart: stop, wait, listen again on the same port with the same state. Like the
   * real engine, in-memory sessions and SSO tokens are lost (unless keepSessions), and jobs that
   * were running are left as `unknown`; the entities' own transitions carry on.
   */
  async restart(opts: { downMs?: number; keepSessions?: boolean } = {}): Promise<void> {
    await this.stop();
    if (!opts.keepSessions) this.auth.expireAll();
    for (const j of this.state.jobs.values()) if (j.status === 'started') this.state.endJob(j, 'unknown');
    if (opts.downMs) await new Promise((r) => setTimeout(r, opts.downMs));
    await this.listen(this.port);
  }

  async close(): Promise<void> {
    this.state.clock.cancelAll();
    await this.stop();
    await this.pki?.cleanup();
  }

  /** JSON admin interface for simulators run as a separate process (main.ts). Unauthenticated: test only. */
  private adminRoutes(app: FastifyInstance): void {
    const json = (b: unknown): unknown => (typeof b === 'string' && b.trim() ? JSON.parse(b) : {});
    app.get('/__sim/info', async () => ({ url: this.url, apiUrl: this.apiUrl, caPath: this.ca?.path ?? null, caFingerprint256: this.ca?.fingerprint256 ?? null, version: this.opts.version }));
    app.get('/__sim/requests', async () => this.requests);
    app.delete('/__sim/requests', async () => (this.faults.clearLog(), {}));
    app.get('/__sim/hosts', async () => [...this.state.hosts.values()].map((h) => ({ id: h.id, name: h.name, address: h.address, status: h.status, statusDetail: h.statusDetail ?? null, clusterId: h.clusterId, uniqueId: h.uniqueId ?? null })));
    app.post('/__sim/faults', async (req) => {
      const b = json(req.body) as FaultRule & { path?: string; pathRegex?: string };
      this.faults.add({ ...b, ...(b.pathRegex ? { path: new RegExp(b.pathRegex) } : {}) } as FaultRule);
      return {};
    });
    app.delete('/__sim/faults', async () => (this.faults.clear(), {}));
    app.post('/__sim/host-failures', async (req) => {
      const b = json(req.body) as HostFailureRule & { nameRegex?: string; addressRegex?: string };
      this.failHost({ ...b, ...(b.nameRegex ? { name: new RegExp(b.nameRegex) } : {}), ...(b.addressRegex ? { address: new RegExp(b.addressRegex) } : {}) });
      return {};
    });
    app.post('/__sim/advance', async (req) => (this.advance(Number((json(req.body) as { steps?: number }).steps ?? 1)), {}));
    app.post('/__sim/expire-auth', async () => (this.auth.expireAll(), {}));
    app.post('/__sim/restart', async (req, reply) => {
      const b = json(req.body) as { downMs?: number; keepSessions?: boolean };
      // Answer first; the restart closes this very connection.
      reply.send({});
      setImmediate(() => void this.restart(b));
      return reply;
    });
  }
}

export type { Credentials, FaultRule, LoggedRequest, HostFailureRule, Timings, NodeRegistration };
