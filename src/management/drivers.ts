/**
 * One driver per manager row (the `engines` table): RHEV-M engines get the RHEV-M driver over
 * the engine client (with the engine's pinned CA, through EngineService), libvirt managers the
 * libvirt driver over `virsh -c <uri>`. Services and placement never ask which kind they hold.
 */
import type { Logger } from '../log.js';
import type { EngineService } from './engines.js';
import type { EngineRecord } from '../store/store.js';
import type { HypervisorDriver } from '../virt/driver.js';
import { RhevmDriver } from '../virt/rhevm-driver.js';

export interface DriverDeps {
  engines: Pick<EngineService, 'client'>;
  log: Logger;
  /** Longest interval between checks of a VM's state (and of the engine's 202 tasks). */
  pollIntervalMs?: number;
  powerTimeoutMs?: number;
  copyTimeoutMs?: number;
}

export async function driverFor(engine: EngineRecord, deps: DriverDeps): Promise<HypervisorDriver> {
  switch (engine.kind) {
    case 'rhevm':
      return new RhevmDriver({
        name: engine.name,
        client: await deps.engines.client(engine.name, deps.pollIntervalMs ? { pollIntervalMs: deps.pollIntervalMs } : {}),
        log: deps.log,
        ...(deps.pollIntervalMs !== undefined && { pollIntervalMs: deps.pollIntervalMs }),
        ...(deps.powerTimeoutMs !== undefined && { powerTimeoutMs: deps.powerTimeoutMs }),
        ...(deps.copyTimeoutMs !== undefined && { copyTimeoutMs: deps.copyTimeoutMs }),
      });
    case 'libvirt': {
      // Loaded on first use: an estate of engines only never loads the virsh side.
      const { LibvirtDriver } = await import('../virt/libvirt-driver.js');
      return new LibvirtDriver({ name: engine.name, uri: engine.url, log: deps.log });
    }
    default: {
      const kind: never = engine.kind;
      throw new Error(`no hypervisor driver for manager kind ${String(kind)}`);
    }
  }
}
