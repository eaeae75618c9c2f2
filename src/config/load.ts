import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { RhevbootError } from '../errors.js';
import { CONFIG_KEYS, envNameFor, type ConfigKey } from './keys.js';

export interface Config {
  stateDir: string;
  installDir: string;
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'; file: boolean };
  http: { host: string; port: number; bodyLimit: number; metricsOpen: boolean };
  store: { busyTimeoutMs: number };
  media: { initrdCompression: 'none' | 'gzip'; maxIsoBytes: number };
  rhevm: { registrationTimeoutMs: number; pollIntervalMs: number; addAfterMs: number; concurrency: number };
  dhcp: {
    mode: 'off' | 'full' | 'proxy';
    interface: string;
    serverAddress: string;
    port: number;
    proxyPort: number;
    subnets: DhcpSubnetConfig[];
    declineProbationSeconds: number;
  };
  boot: { biosLoader: 'pxelinux.0' | 'undionly.kpxe'; uefiLoader: 'ipxe.efi' | 'syslinux.efi'; httpBase: string; templateDir: string };
  tftp: { enabled: boolean; host: string; port: number; root: string; maxBlockSize: number; maxWindowSize: number; maxTransfers: number; timeoutMs: number; retries: number };
}

export interface DhcpSubnetConfig {
  subnet: string;
  pools: string[];
  routers: string[];
  dnsServers: string[];
  domainName: string;
  leaseSeconds: number;
  unknownClients: 'ignore' | 'discover';
}

export type ConfigSource = 'default' | 'file' | 'env';

export interface LoadedConfig {
  config: Config;
  /** Where each key's value came from, for `rhevboot config show`. */
  sources: Record<string, ConfigSource>;
  file: string | undefined;
}

export interface LoadOptions {
  /** `--config FILE`; falls back to `RHEVBOOT_CONFIG`. No file at all means embedded defaults. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

function fail(key: string, reason: string, file?: string): never {
  const where = file ? `${file}: ` : '';
  throw new RhevbootError('RB_ERR_CONFIG', `${where}invalid config key '${key}': ${reason}`, { key, reason, file });
}

/** Flattens parsed YAML into dotted keys; nested maps become `a.b`, anything else is a leaf. */
function flatten(value: unknown, prefix: string, out: Map<string, unknown>): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else {
    out.set(prefix, value);
  }
}

/** Environment values are strings; numbers and booleans are read the way a shell user writes them. */
function coerceEnv(def: ConfigKey, raw: string): unknown {
  const probe = def.schema.safeParse(raw);
  if (probe.success) return raw;
  // Lists and maps (dhcp.subnets) are given as JSON in the environment.
  if (/^\s*[[{]/.test(raw)) {
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      return raw;
    }
  }
  if (/^(true|yes|1|on)$/i.test(raw) && def.schema.safeParse(true).success) return true;
  if (/^(false|no|0|off)$/i.test(raw) && def.schema.safeParse(false).success) return false;
  if (/^-?\d+$/.test(raw)) return Number(raw);
  return raw;
}

function setPath(target: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    node[part] ??= {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]!] = value;
}

function readYaml(file: string): Map<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new RhevbootError('RB_ERR_CONFIG', `cannot read config file ${file}: ${(err as Error).message}`, { file });
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const line = first.linePos?.[0]?.line;
    throw new RhevbootError('RB_ERR_CONFIG', `${file}${line ? `:${line}` : ''}: not valid YAML: ${first.message.split('\n')[0]}`, { file, line });
  }
  const data: unknown = doc.toJS();
  const flat = new Map<string, unknown>();
  if (data === null || data === undefined) return flat;
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new RhevbootError('RB_ERR_CONFIG', `${file}: the top level must be a mapping of keys`, { file });
  }
  flatten(data, '', flat);
  return flat;
}

/**
 * Loads the configuration: embedded defaults, then the YAML file, then `RHEVBOOT_*` environment
 * overrides. Unknown keys are refused (a typo must not silently fall back to a default), and every
 * refusal names the key and the reason.
 */
export function loadConfig(opts: LoadOptions = {}): LoadedConfig {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const fileArg = opts.file ?? (env.RHEVBOOT_CONFIG || undefined);
  const file = fileArg ? path.resolve(cwd, fileArg) : undefined;
  const fromFile = file ? readYaml(file) : new Map<string, unknown>();
  const known = new Set(CONFIG_KEYS.map((k) => k.key));
  for (const key of fromFile.keys()) {
    if (!known.has(key)) {
      const hint = CONFIG_KEYS.find((k) => k.key.toLowerCase() === key.toLowerCase());
      fail(key, `unknown key${hint ? ` (did you mean '${hint.key}'?)` : ''}`, file);
    }
  }

  const resolved: Record<string, unknown> = {};
  const sources: Record<string, ConfigSource> = {};
  for (const def of CONFIG_KEYS) {
    const envName = envNameFor(def.key);
    let value: unknown;
    let source: ConfigSource;
    let baseDir = cwd;
    if (env[envName] !== undefined && env[envName] !== '') {
      value = coerceEnv(def, env[envName]!);
      source = 'env';
    } else if (fromFile.has(def.key)) {
      value = fromFile.get(def.key);
      source = 'file';
      baseDir = path.dirname(file!);
    } else {
      value = typeof def.default === 'function' ? (def.default as (r: Record<string, unknown>) => unknown)(resolved) : def.default;
      source = 'default';
    }
    const parsed = def.schema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const origin = source === 'env' ? ` (from ${envName})` : '';
      fail(def.key, `${issue.message}${origin}; got ${JSON.stringify(value)}`, source === 'file' ? file : undefined);
    }
    let finalValue = parsed.data;
    if (def.isPath && typeof finalValue === 'string' && finalValue !== '') finalValue = path.resolve(baseDir, finalValue);
    resolved[def.key] = finalValue;
    sources[def.key] = source;
  }

  if ((resolved['media.maxIsoBytes'] as number) >= 2 ** 32) {
    fail('media.maxIsoBytes', 'must be below 4 GiB: the newc cpio appended to the initrd cannot hold a larger ISO', file);
  }

  const config: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(resolved)) setPath(config, key, value);
  return { config: config as unknown as Config, sources, file };
}
