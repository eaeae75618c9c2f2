import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { LoadedConfig } from './config/load.js';
import { startBootServers, type BootServers } from './boot-servers.js';
import { buildHttpApp } from './http/app.js';
import { bootHttp } from './httpboot/boot-http.js';
import { createLogger, type Logger } from './log.js';
import { createMetrics, handoffJobCounts, type ApplianceMetrics } from './metrics/registry.js';
import { createServices, type Services } from './services.js';
import { REGISTER_JOB } from './management/registration.js';
import { openSqliteStore } from './store/sqlite/index.js';
import type { Store } from './store/store.js';
import { VERSION } from './version.js';

export interface Appliance {
  store: Store;
  services: Services;
  http: FastifyInstance;
  boot: BootServers;
  log: Logger;
  /** This appliance's Prometheus registry (`GET /metrics`). */
  metrics: ApplianceMetrics;
  /** The HTTP address actually bound (port 0 in tests picks a free one). */
  httpAddress: { host: string; port: number };
  stop(reason?: string): Promise<void>;
}

export const BOOTSTRAP_TOKEN_FILE = 'admin.token';

/**
 * The composition root: opens the store, builds the services, starts the servers, and stops
 * them in reverse order.
 */
export async function startAppliance(loaded: LoadedConfig, opts: { log?: Logger; distroDir?: string } = {}): Promise<Appliance> {
  const { config } = loaded;
  const log = opts.log ?? createLogger({ level: config.log.level, dir: config.log.file ? path.join(config.stateDir, 'logs') : undefined });
  log.info({ version: VERSION, config: loaded.file ?? '(embedded defaults)', stateDir: config.stateDir, installDir: config.installDir }, 'rhevboot starting');
  const metrics = createMetrics();
  const store = openSqliteStore({ dir: config.stateDir, busyTimeoutMs: config.store.busyTimeoutMs, onCall: metrics.storeCall });
  metrics.sources.jobs = handoffJobCounts(store, REGISTER_JOB);
  let http: FastifyInstance | undefined;
  let boot: BootServers | undefined;
  try {
    const services = createServices(config, store, log, { ...opts, observe: metrics.services });
    const tokenFile = path.join(config.stateDir, BOOTSTRAP_TOKEN_FILE);
    if (await services.tokens.ensureBootstrap(tokenFile)) {
      log.warn({ file: tokenFile }, 'no API token existed: created token "bootstrap" and wrote it to the file (readable by this user only)');
    }
    // A copycds killed (or a serve that died during an API import) leaves its job running; it is
    // marked interrupted here rather than at the next copycds, so the jobs list tells the truth.
    const orphans = await services.jobs.reapOrphans('copycds', { atStart: true });
    if (orphans.length) log.warn({ jobs: orphans.map((j) => j.id) }, 'imports interrupted by an earlier stop; the next copycds of each cleans up');

    const bootPath = bootHttp({
      scripts: services.configs,
      trigger: services.trigger,
      roots: { installDir: config.installDir, tftpRoot: config.tftp.root },
      log,
      metrics,
      onBootFile: (f) => {
        metrics.bootFileBytes(f.bytes);
        services.contacts.httpFile(f);
      },
    });
    http = await buildHttpApp({ store, services, log, bodyLimit: config.http.bodyLimit, boot: bootPath, metrics, metricsOpen: config.http.metricsOpen });
    // A boot storm opens a connection per node at once; Node's default backlog (511) overflowed
    // with 1000 nodes and the kernel reset the rest. The kernel caps this at net.core.somaxconn.
    await http.listen({ host: config.http.host, port: config.http.port, backlog: 4096 });
    const addr = http.server.address();
    const httpAddress = typeof addr === 'object' && addr ? { host: addr.address, port: addr.port } : { host: config.http.host, port: config.http.port };
    boot = await startBootServers(config, store, services, log, { dhcpPacket: metrics.dhcpPacket });
    const { dhcp, tftp } = boot;
    if (dhcp) metrics.sources.dhcp = () => dhcp.stats();
    if (tftp) metrics.sources.tftp = () => tftp.stats();
    // Hand-offs queued by triggers, also those a stop interrupted: resumed where they stood.
    await services.registrations.start();
    log.info({ http: httpAddress, dhcp: config.dhcp.mode, tftp: boot.tftp ? { port: boot.tftp.port } : 'off' }, 'rhevboot ready');

    let stopping: Promise<void> | undefined;
    const server = http;
    const bootServers = boot;
    return {
      store,
      services,
      http: server,
      boot: bootServers,
      log,
      metrics,
      httpAddress,
      stop(reason = 'stop requested') {
        stopping ??= (async () => {
          log.info({ reason }, 'rhevboot stopping');
          await bootServers.close();
          await server.close();
          await services.registrations.stop();
          await services.events.flush();
          if (services.background.size) log.info({ running: services.background.size }, 'aborting background work');
          await services.background.drain(reason);
          await store.close();
          log.info('rhevboot stopped');
          log.flush();
        })();
        return stopping;
      },
    };
  } catch (err) {
    await boot?.close().catch(() => {});
    await http?.close().catch(() => {});
    await store.close();
    throw err;
  }
}
