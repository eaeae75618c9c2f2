import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * Field names whose values are secrets wherever they appear in a log object. pino's redaction is
 * path based, so each name is listed at the top level and one and two levels down; secrets are
 * also kept out of log calls at the source, this is the second line of defence.
 */
const SECRET_FIELDS = ['password', 'passwd', 'token', 'secret', 'authorization', 'cookie', 'rootPassword', 'adminPassword', 'apiToken'];
export const REDACT_PATHS = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((f) => `*.${f}`),
  ...SECRET_FIELDS.map((f) => `*.*.${f}`),
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
];

export interface LogOptions {
  level: string;
  /** Write to `<dir>/rhevboot.log` as well as to `stream`. */
  dir?: string;
  /** Where the primary copy goes; stdout by default (the journal under systemd). */
  stream?: DestinationStream;
}

export function createLogger(opts: LogOptions): Logger {
  const streams: { stream: DestinationStream; level: string }[] = [{ stream: opts.stream ?? pino.destination(1), level: opts.level }];
  if (opts.dir) {
    mkdirSync(opts.dir, { recursive: true, mode: 0o750 });
    streams.push({ stream: pino.destination({ dest: path.join(opts.dir, 'rhevboot.log'), mkdir: true, sync: false }), level: opts.level });
  }
  return pino(
    {
      level: opts.level,
      base: { pid: process.pid },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.multistream(streams),
  );
}

/** A logger for CLI commands: quiet unless asked, on stderr so stdout stays for results and --json. */
export function createCliLogger(level: string): Logger {
  return pino(
    { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } },
    pino.destination(2),
  );
}
