import path from 'node:path';
import type { Config } from './config/load.js';
import type { Logger } from './log.js';
import { loadDescriptors } from './media/descriptors.js';
import { MediaService } from './media/copycds.js';
import type { EngineCallObserver } from './rhevm/connection.js';
import type { EventRecord, Store } from './store/store.js';
import { BackgroundWork } from './jobs/background.js';
import { EngineService } from './management/engines.js';
import { EventService } from './events/events.js';
import { JobService } from './jobs/jobs.js';
import { GroupService } from './provisioning/groups.js';
import { HypervisorService } from './management/hypervisors.js';
import { NodeService } from './provisioning/nodes.js';
import { BootConfigs } from './provisioning/boot-configs.js';
import { ProvisioningBooter } from './provisioning/booter.js';
import { httpBaseFor, provisioningAddress } from './config/provisioning-address.js';
import { PreviewService } from './provisioning/preview.js';
import { JobRunner } from './jobs/job-runner.js';
import { REGISTER_JOB, RegistrationService } from './management/registration.js';
import { TriggerService, type TriggerOutcome } from './provisioning/trigger.js';
import { TokenService } from './access/tokens.js';
import { VeService } from './management/ve.js';
import { VmService } from './management/vms.js';

export interface Services {
  background: BackgroundWork;
  events: EventService;
  engines: EngineService;
  hypervisors: HypervisorService;
  jobs: JobService;
  media: MediaService;
  nodes: NodeService;
  groups: GroupService;
  booter: ProvisioningBooter;
  configs: BootConfigs;
  preview: PreviewService;
  trigger: TriggerService;
  registration: RegistrationService;
  /** Runs queued hand-offs; started only by `serve` (the CLI queues, the server works). */
  registrations: JobRunner;
  tokens: TokenService;
  ve: VeService;
  vms: VmService;
}

/** Builds the services over a store: the same set backs the CLI and the HTTP API. */
/** Hooks the composition root passes in (metrics); the services never import prom-client. */
export interface ServiceObservers {
  event?: (e: EventRecord) => void;
  engineCall?: EngineCallObserver;
  trigger?: (o: TriggerOutcome) => void;
}

export function createServices(config: Config, store: Store, log: Logger, opts: { distroDir?: string; observe?: ServiceObservers } = {}): Services {
  const observe = opts.observe ?? {};
  const descriptors = loadDescriptors(opts.distroDir);
  let base: string | undefined;
  const httpBase = (): string =>
    (base ??= httpBaseFor({
      httpBase: config.boot.httpBase,
      address: config.boot.httpBase ? '' : provisioningAddress({ serverAddress: config.dhcp.serverAddress, interface: config.dhcp.interface }).address,
      port: config.http.port,
    }));
  const events = new EventService(store, log, observe.event);
  const jobs = new JobService(store, log);
  const media = new MediaService({
    store,
    jobs,
    events,
    log,
    installDir: config.installDir,
    cacheDir: path.join(config.stateDir, 'cache'),
    descriptors,
    maxIsoBytes: config.media.maxIsoBytes,
    defaultCompression: config.media.initrdCompression,
  });
  const nodes = new NodeService(store, events, config.dhcp.subnets.map((s) => s.subnet));
  const booter = new ProvisioningBooter(store, {
    biosLoader: config.boot.biosLoader,
    uefiLoader: config.boot.uefiLoader,
    get httpBase() {
      return httpBase();
    },
  });
  const engines = new EngineService({ store, events, log, ...(observe.engineCall ? { onCall: observe.engineCall } : {}) });
  const registration = new RegistrationService({
    store,
    events,
    engines,
    log,
    options: { timeoutMs: config.rhevm.registrationTimeoutMs, pollIntervalMs: config.rhevm.pollIntervalMs, addAfterMs: config.rhevm.addAfterMs },
  });
  const registrations = new JobRunner({ store, log, kind: REGISTER_JOB, concurrency: config.rhevm.concurrency, handler: (job, ctx) => registration.run(job, ctx) });
  const trigger = new TriggerService(store, nodes, events, log, { registration, onQueued: () => registrations.wake() }, observe.trigger);
  const configs = new BootConfigs({ store, events, log, descriptors, httpBase, templateDir: config.boot.templateDir });
  return {
    background: new BackgroundWork(),
    events,
    engines,
    hypervisors: new HypervisorService({ store, engines, events }),
    jobs,
    media,
    nodes,
    groups: new GroupService(store, nodes, events),
    booter,
    configs,
    preview: new PreviewService({ nodes, booter, configs, httpBase }),
    trigger,
    registration,
    registrations,
    tokens: new TokenService(store, events),
    ve: new VeService({ engines, events, log, options: { pollIntervalMs: config.rhevm.pollIntervalMs } }),
    vms: new VmService({ store, engines, nodes, events, log, pollIntervalMs: config.rhevm.pollIntervalMs }),
  };
}
