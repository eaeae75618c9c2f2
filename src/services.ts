import path from 'node:path';
import { TokenService } from './access/tokens.js';
import type { Config } from './config/load.js';
import { applianceAddresses, httpBaseFor, provisioningAddress } from './config/provisioning-address.js';
import { EventService } from './events/events.js';
import { BackgroundWork } from './jobs/background.js';
import { JobRunner } from './jobs/job-runner.js';
import { JobService } from './jobs/jobs.js';
import type { Logger } from './log.js';
import { EngineService } from './management/engines.js';
import { HypervisorService } from './management/hypervisors.js';
import { REGISTER_JOB, RegistrationService } from './management/registration.js';
import { VeService } from './management/ve.js';
import { VmService } from './management/vms.js';
import { loadDescriptors } from './media/descriptors.js';
import { DistroService } from './media/distros.js';
import { Booter } from './provisioning/booter.js';
import { ConfigRequests, type ConfigProtocol } from './provisioning/config-requests.js';
import { BootContacts } from './provisioning/contacts.js';
import { GroupService } from './provisioning/groups.js';
import { NodeLifecycle } from './provisioning/lifecycle.js';
import { NodeService } from './provisioning/nodes.js';
import { PreviewService } from './provisioning/preview.js';
import { ConfigRenderer } from './provisioning/renderer.js';
import { SecretService } from './provisioning/secrets.js';
import { TriggerService, type TriggerOutcome } from './provisioning/trigger.js';
import type { EngineCallObserver } from './rhevm/connection.js';
import type { EventRecord, Store } from './store/store.js';

export interface Services {
  background: BackgroundWork;
  events: EventService;
  engines: EngineService;
  hypervisors: HypervisorService;
  jobs: JobService;
  distros: DistroService;
  nodes: NodeService;
  groups: GroupService;
  lifecycle: NodeLifecycle;
  /** The boot question: one plan per client (DHCP asks it directly). */
  booter: Booter;
  /** Configs loaders fetch by name (TFTP pxelinux/GRUB, HTTP iPXE), rendered from plans. */
  configs: ConfigRequests;
  /** Boot contacts of known nodes onto their timelines. */
  contacts: BootContacts;
  preview: PreviewService;
  secrets: SecretService;
  trigger: TriggerService;
  registration: RegistrationService;
  /** Runs queued hand-offs; started only by `serve` (the CLI queues, the server works). */
  registrations: JobRunner;
  tokens: TokenService;
  ve: VeService;
  vms: VmService;
}

/** Hooks the composition root passes in (metrics); the services never import prom-client. */
export interface ServiceObservers {
  event?: (e: EventRecord) => void;
  engineCall?: EngineCallObserver;
  trigger?: (o: TriggerOutcome) => void;
  /** An install config refused to an address that is not the node's. */
  configRefused?: (protocol: ConfigProtocol) => void;
}

/** Builds the services over a store: the same set backs the CLI and the HTTP API. */
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
  const distros = new DistroService({
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
  const lifecycle = new NodeLifecycle({ store, events });
  const nodes = new NodeService(store, events, config.dhcp.subnets, () => applianceAddresses({ serverAddress: config.dhcp.serverAddress, interface: config.dhcp.interface }));
  const booter = new Booter({
    store,
    descriptors,
    loaders: {
      biosLoader: config.boot.biosLoader,
      uefiLoader: config.boot.uefiLoader,
      get httpBase() {
        return httpBase();
      },
    },
  });
  const renderer = new ConfigRenderer({ descriptors, templateDir: config.boot.templateDir });
  const contacts = new BootContacts({ store, nodes, events, lifecycle });
  const engines = new EngineService({ store, events, log, ...(observe.engineCall ? { onCall: observe.engineCall } : {}) });
  const registration = new RegistrationService({
    store,
    events,
    engines,
    lifecycle,
    log,
    options: { timeoutMs: config.rhevm.registrationTimeoutMs, pollIntervalMs: config.rhevm.pollIntervalMs, addAfterMs: config.rhevm.addAfterMs },
  });
  const registrations = new JobRunner({ store, log, kind: REGISTER_JOB, concurrency: config.rhevm.concurrency, handler: (job, ctx) => registration.run(job, ctx) });
  const trigger = new TriggerService(store, nodes, events, log, { queue: registration, onQueued: () => registrations.wake() }, observe.trigger);
  return {
    background: new BackgroundWork(),
    events,
    engines,
    hypervisors: new HypervisorService({ store, engines, events }),
    jobs,
    distros,
    nodes,
    groups: new GroupService(store, nodes, events),
    lifecycle,
    booter,
    configs: new ConfigRequests({ booter, renderer, contacts, nodes, log, ...(observe.configRefused ? { onRefused: observe.configRefused } : {}) }),
    contacts,
    preview: new PreviewService({ nodes, booter, renderer, httpBase }),
    secrets: new SecretService({ store, events }),
    trigger,
    registration,
    registrations,
    tokens: new TokenService(store, events),
    ve: new VeService({ engines, events, log, options: { pollIntervalMs: config.rhevm.pollIntervalMs } }),
    vms: new VmService({ store, engines, nodes, events, log, pollIntervalMs: config.rhevm.pollIntervalMs }),
  };
}
