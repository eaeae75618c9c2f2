import { z } from 'zod';
import { inCidr, parseCidr, parseIpv4 } from '../util/ipv4.js';

/**
 * Every configuration key in one table: its type, default, environment variable and the line of
 * documentation the README shows. The loader, `rhevboot config show` and the README's reference
 * are all generated from this table, so a key cannot exist without a default and a doc line.
 */
export interface ConfigKey {
  /** Dotted path in the YAML file, e.g. `http.port`. */
  key: string;
  schema: z.ZodType;
  /** Default value, or a function of the partially resolved config (for keys derived from others). */
  default: string | number | boolean | readonly unknown[] | ((resolved: Record<string, unknown>) => unknown);
  /** How the default reads in documentation when it is derived. */
  defaultDoc?: string;
  doc: string;
  /** Resolve relative paths against the config file's directory. */
  isPath?: boolean;
  /** Never printed in full by `config show`. */
  secret?: boolean;
}

const port = z.number().int().min(0).max(65535);
const absOrRelPath = z.string().min(1, 'must not be empty').refine((s) => !s.includes('\0'), 'must not contain NUL');

export const CONFIG_KEYS: ConfigKey[] = [
  {
    key: 'stateDir',
    schema: absOrRelPath,
    default: '/var/lib/rhevboot',
    doc: 'State directory: the SQLite store, logs, caches (built initrds) and the bootstrap admin token.',
    isPath: true,
  },
  {
    key: 'installDir',
    schema: absOrRelPath,
    default: (r) => `${r.stateDir as string}/install`,
    defaultDoc: '`<stateDir>/install`',
    doc: 'Root of the distro trees that `copycds` imports: `<installDir>/<name>/<arch>/`.',
    isPath: true,
  },
  {
    key: 'log.level',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    default: 'info',
    doc: 'Lowest level that is logged (pino levels).',
  },
  {
    key: 'log.file',
    schema: z.boolean(),
    default: true,
    doc: 'Also write the log to `<stateDir>/logs/rhevboot.log` (stdout is always written, for the journal).',
  },
  {
    key: 'http.host',
    schema: z.string().min(1),
    default: '0.0.0.0',
    doc: 'Address the HTTP server (admin API, boot files, install trigger) listens on.',
  },
  {
    key: 'http.port',
    schema: port,
    default: 80,
    doc: 'TCP port of the HTTP server. iPXE fetches kernels and initrds from it, so 80 is the natural choice; 0 picks a free port (tests).',
  },
  {
    key: 'http.bodyLimit',
    schema: z.number().int().min(1024).max(64 * 1024 * 1024),
    default: 1024 * 1024,
    doc: 'Largest API request body accepted, in bytes.',
  },
  {
    key: 'http.metricsOpen',
    schema: z.boolean(),
    default: false,
    doc: 'Serve `GET /metrics` (Prometheus format) without a token, for a scraper on a trusted network. Off: it needs an API token like the admin API.',
  },
  {
    key: 'store.busyTimeoutMs',
    schema: z.number().int().min(0).max(600_000),
    default: 5000,
    doc: 'How long a store write waits for another process (a CLI command next to the server) to release the SQLite write lock.',
  },
  {
    key: 'rhevm.registrationTimeoutMs',
    schema: z.number().int().min(10_000).max(86_400_000),
    default: 3_600_000,
    doc: "How long the hand-off of one host to its engine may take, from the install trigger to `up` (waiting for the host to register itself, approval, the engine's host-deploy). Past it the node is `failed` with the step it was in.",
  },
  {
    key: 'rhevm.pollIntervalMs',
    schema: z.number().int().min(50).max(600_000),
    default: 5000,
    doc: 'First interval between checks of a host in the engine during the hand-off; it backs off (doubling, with jitter) to 12 times this.',
  },
  {
    key: 'rhevm.addAfterMs',
    schema: z.number().int().min(0).max(86_400_000),
    default: 900_000,
    doc: "A host that has not registered itself this long after the trigger is added to its engine by address, with the root password from the `rhevm.host-root-password` secret (only if that secret is set; otherwise the hand-off keeps waiting until `rhevm.registrationTimeoutMs`).",
  },
  {
    key: 'rhevm.concurrency',
    schema: z.number().int().min(1).max(256),
    default: 8,
    doc: 'Host hand-offs worked on at once (the rest wait in the queue, persisted).',
  },
  {
    key: 'media.initrdCompression',
    schema: z.enum(['none', 'gzip']),
    default: 'none',
    doc: 'Compression of the cpio member holding the ISO that is appended to the PXE initrd. The ISO is mostly squashfs, so gzip costs ~20x the time for a few percent.',
  },
  {
    key: 'media.maxIsoBytes',
    schema: z.number().int().min(1),
    default: 4 * 1024 * 1024 * 1024 - 1,
    doc: 'Largest ISO `copycds` accepts. The newc cpio format cannot hold a member of 4 GiB or more, so this cannot be raised past 4 GiB - 1.',
  },
  {
    key: 'dhcp.mode',
    schema: z.enum(['off', 'full', 'proxy']),
    default: 'off',
    doc: 'DHCP server: `off`; `full` (pools and reservations, the only DHCP server on the network); `proxy` (ProxyDHCP on 67 and 4011: boot information only, next to an existing DHCP server). Off by default: a second DHCP server on a network is an outage.',
  },
  {
    key: 'dhcp.interface',
    schema: z.string(),
    default: '',
    doc: 'The provisioning interface (e.g. `eth1`). Node cannot tell which interface a broadcast arrived on, so rhevboot serves one provisioning network directly (plus any number of relayed subnets); its address is the server identifier and next-server. Empty: the only non-loopback IPv4 interface.',
  },
  {
    key: 'dhcp.serverAddress',
    schema: z.union([z.literal(''), z.ipv4()]),
    default: '',
    doc: 'Server identifier (option 54) and next-server; empty means the address of `dhcp.interface`.',
  },
  {
    key: 'dhcp.port',
    schema: port,
    default: 67,
    doc: 'UDP port for DHCP (clients always send to 67; other values are for tests).',
  },
  {
    key: 'dhcp.proxyPort',
    schema: port,
    default: 4011,
    doc: 'UDP port of the PXE boot server (ProxyDHCP mode).',
  },
  {
    key: 'dhcp.subnets',
    schema: z.array(
      z
        .object({
          subnet: z.string().refine((c) => parseCidr(c) !== undefined, 'must be a CIDR like 10.0.0.0/24'),
          pools: z.array(z.string().regex(/^\d{1,3}(\.\d{1,3}){3}-\d{1,3}(\.\d{1,3}){3}$/, 'must be a range like 10.0.0.100-10.0.0.199')).default([]),
          routers: z.array(z.ipv4()).default([]),
          dnsServers: z.array(z.ipv4()).default([]),
          domainName: z.string().default(''),
          leaseSeconds: z.number().int().min(60).max(31_536_000).default(3600),
          unknownClients: z.enum(['ignore', 'discover']).default('ignore'),
        })
        .strict()
        .superRefine((sub, ctx) => {
          const cidr = parseCidr(sub.subnet);
          if (!cidr) return;
          for (const [i, pool] of sub.pools.entries()) {
            const [a, b] = pool.split('-').map((x) => parseIpv4(x));
            if (a === undefined || b === undefined || a > b || !inCidr(cidr, a) || !inCidr(cidr, b)) {
              ctx.addIssue({ code: 'custom', path: ['pools', i], message: `pool ${pool} must be a valid ascending range inside ${sub.subnet}` });
            }
          }
        }),
    ),
    default: [],
    doc: 'Subnets served in full mode: `subnet` (CIDR), `pools` (ranges), `routers`, `dnsServers`, `domainName`, `leaseSeconds` (3600), `unknownClients` (`ignore`, or `discover`: lease an address and offer a discovery boot). Relayed subnets are chosen by the relay address (giaddr).',
  },
  {
    key: 'dhcp.declineProbationSeconds',
    schema: z.number().int().min(1).max(3600),
    default: 60,
    doc: 'How long an address reserved for a node stays out of use after its holder declines it (DHCPDECLINE: another host answers ARP for it) before it is offered to the node again. A DECLINE counts only from the client holding the lease (same MAC, and same client identifier when the lease has one); any other is ignored. A declined pool address is held back an hour and its client gets another.',
  },
  {
    key: 'boot.biosLoader',
    schema: z.enum(['pxelinux.0', 'undionly.kpxe']),
    default: 'undionly.kpxe',
    doc: 'Boot file for BIOS PXE clients (option 93 = 0): iPXE (`undionly.kpxe`, then HTTP) or `pxelinux.0` (all TFTP).',
  },
  {
    key: 'boot.uefiLoader',
    schema: z.enum(['ipxe.efi', 'syslinux.efi']),
    default: 'ipxe.efi',
    doc: 'Boot file for x86-64 UEFI PXE clients (option 93 = 7 or 9): `ipxe.efi` (then HTTP, the fast path) or `syslinux.efi`.',
  },
  {
    key: 'boot.httpBase',
    schema: z.union([z.literal(''), z.url()]),
    default: '',
    doc: 'Base URL nodes use to reach the appliance over HTTP (iPXE scripts, kernels, initrds, the install trigger). Empty: `http://<dhcp.serverAddress>:<http.port>`.',
  },
  {
    key: 'boot.templateDir',
    schema: z.string(),
    default: '',
    doc: 'Directory with admin-edited boot-config templates (same file names as the built-in `templates/`); empty: the built-in ones.',
    isPath: true,
  },
  {
    key: 'tftp.enabled',
    schema: z.boolean(),
    default: true,
    doc: 'Run the TFTP server.',
  },
  {
    key: 'tftp.host',
    schema: z.string().min(1),
    default: '0.0.0.0',
    doc: 'Address the TFTP server listens on; each transfer answers from this address on its own ephemeral port.',
  },
  {
    key: 'tftp.port',
    schema: port,
    default: 69,
    doc: 'UDP port of the TFTP server.',
  },
  {
    key: 'tftp.root',
    schema: absOrRelPath,
    default: (r) => `${r.stateDir as string}/tftpboot`,
    defaultDoc: '`<stateDir>/tftpboot`',
    doc: 'TFTP root: boot loaders installed from OS packages (see boot/manifest.yaml). Nothing outside it is ever served.',
    isPath: true,
  },
  {
    key: 'tftp.maxBlockSize',
    schema: z.number().int().min(512).max(65464),
    default: 1468,
    doc: 'Largest blksize (RFC 2348) granted: 1468 fills a 1500-byte Ethernet frame without IP fragmentation.',
  },
  {
    key: 'tftp.maxWindowSize',
    schema: z.number().int().min(1).max(65535),
    default: 64,
    doc: 'Largest windowsize (RFC 7440) granted.',
  },
  {
    key: 'tftp.maxTransfers',
    schema: z.number().int().min(1).max(100_000),
    default: 1000,
    doc: 'Concurrent transfers; requests beyond it get an error and the client retries (a boot storm degrades instead of collapsing).',
  },
  {
    key: 'tftp.timeoutMs',
    schema: z.number().int().min(100).max(255_000),
    default: 1000,
    doc: 'Initial retransmission timeout when the client does not ask for one (RFC 2349 timeout option); doubled on each retry.',
  },
  {
    key: 'tftp.retries',
    schema: z.number().int().min(1).max(50),
    default: 5,
    doc: 'Retransmissions of one block or window before a transfer is abandoned.',
  },
];

/** `http.port` -> `RHEVBOOT_HTTP_PORT`, `stateDir` -> `RHEVBOOT_STATE_DIR`. */
export function envNameFor(key: string): string {
  return (
    'RHEVBOOT_' +
    key
      .split('.')
      .map((part) => part.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase())
      .join('_')
  );
}
