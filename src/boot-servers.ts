import { mkdir } from 'node:fs/promises';
import type { Config } from './config/load.js';
import { startDhcpServer, type DhcpPacketEvent, type DhcpServer } from './dhcp/server.js';
import { provisioningAddress } from './config/provisioning-address.js';
import { TFTP_DISTRO_PREFIX } from './domain/boot-plan.js';
import type { Logger } from './log.js';
import type { Services } from './services.js';
import type { Store } from './store/store.js';
import { startTftpServer, type TftpServer } from './tftp/server.js';

export interface BootServers {
  dhcp?: DhcpServer;
  tftp?: TftpServer;
  close(): Promise<void>;
}

/**
 * Starts the boot-protocol servers the config asks for and connects them to provisioning: DHCP
 * renders each client's boot plan and finds node reservations in the store; TFTP serves the
 * configs loaders ask for by name and the distro trees under `distros/`. What each server did for
 * a known node goes to its timeline (provisioning/contacts.ts).
 */
export async function startBootServers(
  config: Config,
  store: Store,
  services: Services,
  log: Logger,
  observe: { dhcpPacket?: (e: DhcpPacketEvent) => void } = {},
): Promise<BootServers> {
  const started: BootServers = { close: async () => {} };
  const closers: (() => Promise<void>)[] = [];
  started.close = async () => {
    for (const close of closers.reverse()) await close().catch((err: unknown) => log.warn({ err }, 'error while stopping a boot server'));
  };
  try {
    if (config.dhcp.mode !== 'off') {
      const { address } = provisioningAddress({ serverAddress: config.dhcp.serverAddress, interface: config.dhcp.interface });
      started.dhcp = await startDhcpServer({
        mode: config.dhcp.mode,
        serverAddress: address,
        port: config.dhcp.port,
        proxyPort: config.dhcp.proxyPort,
        subnets: config.dhcp.subnets,
        booter: services.booter,
        leases: store.leases,
        reservations: () => store.nodes.reservations(),
        log,
        onPacket: (e) => {
          observe.dhcpPacket?.(e);
          services.contacts.dhcp(e);
        },
        // Counted by the server (rhevboot_dhcp_declines_total reads its stats); here the timeline.
        onDecline: (e) => void services.contacts.dhcpDecline(e),
        declineProbationSeconds: config.dhcp.declineProbationSeconds,
      });
      closers.push(() => started.dhcp!.close());
    }
    if (config.tftp.enabled) {
      await mkdir(config.tftp.root, { recursive: true, mode: 0o755 });
      await mkdir(config.installDir, { recursive: true, mode: 0o755 });
      started.tftp = await startTftpServer({
        host: config.tftp.host,
        port: config.tftp.port,
        root: config.tftp.root,
        maxBlockSize: config.tftp.maxBlockSize,
        maxWindowSize: config.tftp.maxWindowSize,
        maxTransfers: config.tftp.maxTransfers,
        timeoutMs: config.tftp.timeoutMs,
        retries: config.tftp.retries,
        log,
        mounts: [{ prefix: TFTP_DISTRO_PREFIX, dir: config.installDir }],
        render: (filename, client) => services.configs.tftp(filename, client),
        onTransfer: (t) => services.contacts.tftp(t),
      });
      closers.push(() => started.tftp!.close());
    }
    return started;
  } catch (err) {
    await started.close();
    throw err;
  }
}
