import path from 'node:path';
import type { Config } from '../config/load.js';
import type { Logger } from '../log.js';
import { loadDescriptors } from '../media/descriptors.js';
import { MediaService } from '../media/copycds.js';
import type { Store } from '../store/store.js';
import { BackgroundWork } from './background.js';
import { EventService } from './events.js';
import { JobService } from './jobs.js';
import { NodeService } from './nodes.js';
import { TokenService } from './tokens.js';

export interface Services {
  background: BackgroundWork;
  events: EventService;
  jobs: JobService;
  media: MediaService;
  nodes: NodeService;
  tokens: TokenService;
}

/** Builds the services over a store: the same set backs the CLI and the HTTP API. */
export function createServices(config: Config, store: Store, log: Logger, opts: { distroDir?: string } = {}): Services {
  const events = new EventService(store, log);
  const jobs = new JobService(store, log);
  const media = new MediaService({
    store,
    jobs,
    events,
    log,
    installDir: config.installDir,
    cacheDir: path.join(config.stateDir, 'cache'),
    descriptors: loadDescriptors(opts.distroDir),
    maxIsoBytes: config.media.maxIsoBytes,
    defaultCompression: config.media.initrdCompression,
  });
  const nodes = new NodeService(store, events, config.dhcp.subnets.map((s) => s.subnet));
  return { background: new BackgroundWork(), events, jobs, media, nodes, tokens: new TokenService(store, events) };
}
