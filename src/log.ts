import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import path from 'node:path';
import { pino, type Logger, type DestinationStream, type LoggerOptions } from 'pino';

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

/**
 * Query parameters whose values are secrets: the install trigger's `token`, and what a client may
 * put in a URL by habit (`access_token`, `password`, ...) even though the admin API only reads
 * bearer headers. Requests carrying them are logged, refused ones too, so the value must go
 * wherever a URL is written. One list for every route: a route that takes a secret in its query
 * string adds its parameter's name here. Names are compared lower-cased and percent-decoded, as
 * the query parser would read them, and any name ending in one of SECRET_QUERY_SUFFIXES counts.
 */
export const SECRET_QUERY_PARAMS: ReadonlySet<string> = new Set([
  'token',
  'access_token',
  'refresh_token',
  'id_token',
  'api_key',
  'apikey',
  'key',
  'password',
  'passwd',
  'pwd',
  'secret',
  'client_secret',
  'auth',
  'authorization',
  'signature',
  'sig',
  'session',
  'cookie',
]);
const SECRET_QUERY_SUFFIXES = ['token', 'password', 'passwd', 'secret'];
const REDACTED = '[redacted]';

function isSecretParam(raw: string): boolean {
  let name = raw.replace(/\+/g, ' ');
  try {
    name = decodeURIComponent(name);
  } catch {
    // A bad escape: judged as written.
  }
  name = name.trim().toLowerCase();
  return SECRET_QUERY_PARAMS.has(name) || SECRET_QUERY_SUFFIXES.some((s) => name.endsWith(s));
}

/** `?name=value` or `&name=value`, in a URL or in a message quoting one; the value runs to the next `&`, `#` or blank. */
const QUERY_PAIR = /([?&])([^=&#?\s]+)=([^&#\s]*)/g;

/**
 * A URL (or any text quoting one) with the value of each secret query parameter replaced by
 * `[redacted]`; the name stays, so an admin still sees which request it was
 * (`/xcatrhevh/rhevh_finish_install/n1?token=[redacted]`). Every URL that is logged or recorded
 * goes through here: the access line, and the `url`, `req` and `err` serializers and the message
 * hook of the loggers below, which catch what fastify and pino log on their own.
 */
export function redactUrl(url: string): string {
  // Most URLs have no query: skip the regular expression for them (the boot path logs a lot).
  if (!url.includes('=')) return url;
  return url.replace(QUERY_PAIR, redactPair);
}

function redactPair(pair: string, sep: string, name: string, value: string): string {
  if (isSecretParam(name)) return value ? `${sep}${name}=${REDACTED}` : pair;
  // `?a=1?token=x` is one parameter `a` to the query parser; the `?token=x` inside is still
  // somebody's secret, so it is looked at too.
  return value.includes('?') ? `${sep}${name}=${value.replace(QUERY_PAIR, redactPair)}` : pair;
}

function redactIfString(v: unknown): unknown {
  return typeof v === 'string' ? redactUrl(v) : v;
}

/**
 * Serializers and a message hook shared by the server's and the CLI's loggers: pino's path
 * redaction (REDACT_PATHS) matches field names, not the query string inside a URL, so URLs are
 * redacted by value here. `req` is whatever fastify or Node hands over (fastify logs
 * `{ req: request }` on its own paths): only its method, URL and peer are kept, never headers.
 */
const URL_SERIALIZERS: LoggerOptions['serializers'] = {
  url: redactIfString,
  uri: redactIfString,
  req: (req: unknown) => {
    if (!req || typeof req !== 'object') return req;
    const r = req as { method?: unknown; url?: unknown; ip?: unknown; socket?: { remoteAddress?: unknown; remotePort?: unknown } };
    return { method: r.method, url: redactIfString(r.url), remoteAddress: r.ip ?? r.socket?.remoteAddress, remotePort: r.socket?.remotePort };
  },
  err: (err: unknown) => {
    if (!(err instanceof Error)) return err;
    const out = pino.stdSerializers.err(err) as unknown as Record<string, unknown>;
    // Errors quote URLs too (fastify's "reply already sent" names the request's).
    for (const k of ['message', 'stack']) if (typeof out[k] === 'string') out[k] = redactUrl(out[k] as string);
    return out;
  },
};

const BASE_OPTIONS = {
  redact: { paths: REDACT_PATHS, censor: REDACTED },
  serializers: URL_SERIALIZERS,
  hooks: {
    // Messages quote URLs as well (fastify's "Route GET:/x?token=... not found"). `args` is pino's
    // own copy of the call's arguments, so it is changed in place: no array per log line.
    logMethod(this: Logger, args: Parameters<Logger['info']>, method: (...a: unknown[]) => void): void {
      const a = args as unknown[];
      for (let i = 0; i < a.length; i++) if (typeof a[i] === 'string') a[i] = redactUrl(a[i] as string);
      method.apply(this, a);
    },
  },
  timestamp: pino.stdTimeFunctions.isoTime,
  formatters: { level: (label: string) => ({ level: label }) },
} satisfies LoggerOptions;

/** Mode of the log file: it says who booted what and when, for the service's group, not everyone. */
export const LOG_FILE_MODE = 0o640;

/**
 * Creates the log file with LOG_FILE_MODE before pino opens it (sonic-boom opens asynchronously),
 * and takes away what an older version granted beyond that mode (it created the file 0644).
 */
function prepareLogFile(file: string): void {
  closeSync(openSync(file, 'a', LOG_FILE_MODE));
  const mode = statSync(file).mode & 0o777;
  try {
    if (mode & ~LOG_FILE_MODE) chmodSync(file, mode & LOG_FILE_MODE);
  } catch {
    // Another user's file (a serve once run as root) that this one may still write to: logging
    // matters more than narrowing it, which that user (or `chmod`) can do.
  }
}

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
    const file = path.join(opts.dir, 'rhevboot.log');
    prepareLogFile(file);
    // `mode` again for a file sonic-boom creates itself (reopened after a rotation removed it).
    streams.push({ stream: pino.destination({ dest: file, mkdir: true, sync: false, mode: LOG_FILE_MODE }), level: opts.level });
  }
  return pino({ ...BASE_OPTIONS, level: opts.level, base: { pid: process.pid } }, pino.multistream(streams));
}

/** A logger for CLI commands: quiet unless asked, on stderr so stdout stays for results and --json. */
export function createCliLogger(level: string): Logger {
  return pino({ ...BASE_OPTIONS, level }, pino.destination(2));
}
