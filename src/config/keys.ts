import { z } from 'zod';

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
  default: string | number | boolean | ((resolved: Record<string, unknown>) => unknown);
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
    key: 'store.busyTimeoutMs',
    schema: z.number().int().min(0).max(600_000),
    default: 5000,
    doc: 'How long a store write waits for another process (a CLI command next to the server) to release the SQLite write lock.',
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
