import path from 'node:path';
import type { Config } from '../config/load.js';
import type { Logger } from '../log.js';
import { loadDescriptors } from '../media/descriptors.js';
import { MediaService } from '../media/copycds.js';
import type { Store } from '../store/store.js';
import { BackgroundWork } from './background.js';
import { EngineService } from './engines.js';
import { EventService } from './events.js';
import { JobService } from './jobs.js';
import { GroupService } from './groups.js';
import { HypervisorService } from './hypervisors.js';
import { NodeService } from './nodes.js';
import { BootConfigs } from './boot-configs.js';
import { ProvisioningBooter } from './booter.js';
import { httpBaseFor, provisioningAddress } from './network.js';
import { PreviewService } from './preview.js';
import { JobRunner } from './job-runner.js';
import { REGISTER_JOB, RegistrationService } from './registration.js';
import { TriggerService } from './trigger.js';
import { TokenService } from './tokens.js';

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
}

/** Builds the services over a store: the same set backs the CLI and the HTTP API. */
export function createServices(config: Config, store: Store, log: Logger, opts: { distroDir?: string } = {}): Services {
  const descriptors = loadDescriptors(opts.distroDir);
  let base: string | undefined;
  const httpBase = (): string =>
    (base ??= httpBaseFor({
      httpBase: config.boot.httpBase,
      address: config.boot.httpBase ? '' : provisioningAddress({ serverAddress: config.dhcp.serverAddress, interface: config.dhcp.interface }).address,
      port: config.http.port,
    }));
  const events = new EventService(store, log);
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
  const engines = new EngineService({ store, events, log });
  const registration = new RegistrationService({
    store,
    events,
    engines,
    log,
    options: { timeoutMs: config.rhevm.registrationTimeoutMs, pollIntervalMs: config.rhevm.pollIntervalMs, addAfterMs: config.rhevm.addAfterMs },
  });
  const registrations = new JobRunner({ store, log, kind: REGISTER_JOB, concurrency: config.rhevm.concurrency, handler: (job, ctx) => registration.run(job, ctx) });
  const trigger = new TriggerService(store, events, log, { registration, onQueued: () => registrations.wake() });
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
  };
}
