import { mkdir } from 'node:fs/promises';
import type { Config } from './config/load.js';
import { startDhcpServer, type DhcpPacketEvent, type DhcpServer } from './dhcp/server.js';
import type { Logger } from './log.js';
import { TFTP_DISTRO_PREFIX } from './provisioning/boot-configs.js';
import type { Services } from './services.js';
import { provisioningAddress } from './config/provisioning-address.js';
import type { Store } from './store/store.js';
import { startTftpServer, type TftpServer } from './tftp/server.js';

export interface BootServers {
  dhcp?: DhcpServer;
  tftp?: TftpServer;
  close(): Promise<void>;
}

/**
 * Starts the boot-protocol servers the config asks for and connects them to the services: DHCP
 * asks the boot question and finds node reservations in the store; TFTP renders node configs and
 * serves distro trees under `distros/`. Contacts of known nodes become events on their timeline.
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
  const timeline = (node: string | undefined, kind: string, message: string, data: Record<string, unknown>): void => {
    if (!node) return;
    services.events.note({ kind, subjectType: 'node', subject: node, message, data });
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
        // What a known node asked and what it got: the first lines an admin reads when a boot stalls.
        onPacket: (e) => {
          observe.dhcpPacket?.(e);
          timeline(e.node, 'node.dhcp', `DHCP ${e.type} from ${e.mac}: ${e.outcome}${e.ip ? ` ${e.ip}` : ''}`, { ...e });
        },
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
        render: (filename, client) => services.configs.forTftp(filename, client),
        onTransfer: (t) => {
          if (t.outcome === 'not-found') return;
          void store.nodes
            .byIp(t.client)
            .then((node) => timeline(node?.name, 'node.tftp', `TFTP ${t.file}: ${t.outcome}, ${t.bytes} bytes in ${Math.round(t.durationMs)} ms`, { ...t }))
            .catch(() => {});
        },
      });
      closers.push(() => started.tftp!.close());
    }
    return started;
  } catch (err) {
    await started.close();
    throw err;
  }
}
