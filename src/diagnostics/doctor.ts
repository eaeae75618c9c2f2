/**
 * `rhevboot doctor`: checks the running appliance's environment, one small function per check,
 * each answering ok / warn / fail (or skip) with what is wrong and the command that fixes it. Like
 * xCAT's `xcatprobe`, but the checks know this appliance: they talk to its own ports, read its own
 * store and manifest, and tell "is rhevboot answering?" apart from "is *something* answering?".
 *
 * Every probe is bounded in time (HTTP and TFTP 3 s, the rogue-DHCP probe 3 s, engines
 * `engineTimeoutMs`), and they run concurrently, so a dead appliance is diagnosed in seconds.
 */
import dgram from 'node:dgram';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/load.js';
import type { DistroDescriptor } from '../domain/distro.js';
import { isRhevbootError } from '../errors.js';
import { inspectLoaderFile, loadersInUse, loadLoaderManifest } from '../media/loaders.js';
import { describeCa } from '../rhevm/index.js';
import type { DistroRecord, Store } from '../store/store.js';
import { encodeRequest, ERR, parsePacket as parseTftp } from '../tftp/packet.js';
import { sha256FileInWorker } from '../util/hash-file.js';
import type { EngineService } from '../management/engines.js';
import { provisioningAddress } from '../config/provisioning-address.js';
import { probeRogueDhcp, type ProbeOutcome } from './rogue-dhcp.js';
import { udpPortHolders, type PortHolder } from './udp-ports.js';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  /** Stable id, e.g. `http`, `loader:ipxe.efi`, `distro:rhevh6.5/x86_64`, `engine:lab`. */
  id: string;
  status: CheckStatus;
  /** What was found, in one line. */
  message: string;
  /** For warn and fail: what to do about it. */
  fix?: string;
}

export interface DoctorDeps {
  config: Config;
  store: Store;
  engines: EngineService;
  descriptors: DistroDescriptor[];
  /** Hash whole install trees (ISOs of several hundred MB), not just their sizes. */
  deep?: boolean;
  manifestFile?: string;
  probeTimeoutMs?: number;
  engineTimeoutMs?: number;
  now?: () => Date;
  /** For tests: the rogue-DHCP probe and /proc. */
  probe?: typeof probeRogueDhcp;
  procRoot?: string;
}

const result = (id: string, status: CheckStatus, message: string, fix?: string): CheckResult => (fix ? { id, status, message, fix } : { id, status, message });

/** Where to reach a server listening on `host`: the wildcard is reached on loopback. */
function reachable(host: string): string {
  return host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host;
}

const NOT_RUNNING_FIX = 'start it (systemctl start rhevboot) and read why it stopped (journalctl -u rhevboot -n 50); doctor must use the same configuration (--config or RHEVBOOT_CONFIG)';

// ---- ports ----

/** GET with node:http rather than fetch: fetch refuses "bad ports" (1, 6000, ...) an admin may have chosen. */
function httpGet(url: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (body.length < 65_536) body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs / 1000} s`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
  });
}

export async function checkHttp(config: Config, timeoutMs = 3000): Promise<CheckResult> {
  const url = `http://${reachable(config.http.host)}:${config.http.port}/healthz`;
  let res: { status: number; body: string };
  try {
    res = await httpGet(url, timeoutMs);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return result('http', 'fail', `nothing answers ${url} (${e.code ?? e.message})`, NOT_RUNNING_FIX);
  }
  let body: { status?: string; version?: string; schemaVersion?: number; uptimeSeconds?: number } | undefined;
  try {
    body = JSON.parse(res.body) as typeof body;
  } catch {
    body = undefined;
  }
  if (res.status === 503 && body?.status === 'unavailable') {
    return result('http', 'fail', `rhevboot answers ${url} but its store is unavailable`, 'check the state directory (disk full? permissions?) and journalctl -u rhevboot');
  }
  if (res.status !== 200 || body?.status !== 'ok' || typeof body.version !== 'string' || typeof body.schemaVersion !== 'number') {
    return result('http', 'fail', `${url} answers HTTP ${res.status}, not like rhevboot: another program holds port ${config.http.port}`, `find it (ss -tlpn 'sport = :${config.http.port}') and stop it, or move rhevboot with http.port`);
  }
  return result('http', 'ok', `rhevboot ${body.version} answers ${url} (up ${body.uptimeSeconds ?? '?'} s, schema ${body.schemaVersion})`);
}

/**
 * An RRQ for a file that cannot exist must get "file not found" at once: that is what pxelinux
 * relies on to fall through its config search, and the exact wording tells rhevboot apart from
 * tftpd-hpa or dnsmasq holding the port.
 */
export async function checkTftp(config: Config, timeoutMs = 3000): Promise<CheckResult> {
  if (!config.tftp.enabled) return result('tftp', 'skip', 'tftp.enabled is false');
  const host = reachable(config.tftp.host);
  const name = `rhevboot-doctor-${randomBytes(6).toString('hex')}`;
  const sock = dgram.createSocket('udp4');
  sock.on('error', () => {});
  try {
    const reply = await new Promise<Buffer | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), timeoutMs);
      // The answer comes from the transfer's own port (its TID), so the socket is not connected.
      sock.on('message', (msg, rinfo) => {
        if (rinfo.address !== host) return;
        clearTimeout(timer);
        resolve(msg);
      });
      sock.send(encodeRequest('RRQ', name, 'octet'), config.tftp.port, host);
    });
    const where = `${host}:${config.tftp.port}`;
    if (!reply) return result('tftp', 'fail', `no TFTP answer from ${where} within ${timeoutMs / 1000} s`, NOT_RUNNING_FIX);
    const parsed = parseTftp(reply);
    if (parsed.ok && parsed.packet.op === 'ERROR' && parsed.packet.code === ERR.FILE_NOT_FOUND && parsed.packet.message === 'file not found') {
      return result('tftp', 'ok', `rhevboot's TFTP answers on ${where} ("file not found" for a missing file)`);
    }
    const what = parsed.ok ? (parsed.packet.op === 'ERROR' ? `error ${parsed.packet.code} "${parsed.packet.message}"` : parsed.packet.op) : 'an unreadable packet';
    return result('tftp', 'warn', `a TFTP server on ${where} answered a missing file with ${what}: not rhevboot's answer, another TFTP server (tftpd-hpa, dnsmasq) may hold the port`, `find it (ss -ulpn 'sport = :${config.tftp.port}') and stop it, or set tftp.enabled false if it is meant to serve`);
  } finally {
    sock.close();
  }
}

export function looksLikeRhevboot(h: PortHolder): boolean {
  return /rhevboot/.test(h.cmdline) || h.comm === 'rhevboot';
}

/** Judges who holds a DHCP port: rhevboot (ok), nobody (fail), someone else (fail), unknown (warn). */
export function judgeDhcpPort(port: number, bound: number, holders: PortHolder[], isRhevboot: (h: PortHolder) => boolean = looksLikeRhevboot): CheckResult {
  const id = `dhcp-port:${port}`;
  if (bound === 0) return result(id, 'fail', `nothing listens on UDP ${port}: rhevboot's DHCP server is not running`, NOT_RUNNING_FIX);
  const others = holders.filter((h) => !isRhevboot(h));
  if (others.length) {
    const who = others.map((h) => `${h.comm} (pid ${h.pid})`).join(', ');
    return result(id, 'fail', `UDP ${port} is held by ${who}: clients get answers from it, not (only) from rhevboot`, `stop it (e.g. systemctl disable --now dnsmasq isc-dhcp-server), or use dhcp.mode proxy next to an existing DHCP server`);
  }
  if (holders.length === 0) return result(id, 'warn', `UDP ${port} is held, by a process this user cannot see`, 'run doctor as root to see who holds the port');
  return result(id, 'ok', `UDP ${port} is held by rhevboot (pid ${holders.map((h) => h.pid).join(', ')})`);
}

export async function checkDhcpPorts(config: Config, procRoot?: string): Promise<CheckResult[]> {
  if (config.dhcp.mode === 'off') return [result('dhcp-port', 'skip', 'dhcp.mode is off')];
  const ports = config.dhcp.mode === 'proxy' ? [config.dhcp.port, config.dhcp.proxyPort] : [config.dhcp.port];
  const out: CheckResult[] = [];
  for (const port of ports) {
    const { sockets, holders } = await udpPortHolders(port, procRoot);
    out.push(judgeDhcpPort(port, sockets.length, holders));
  }
  return out;
}

// ---- files ----

export async function checkLoaders(config: Config, manifestFile?: string): Promise<CheckResult[]> {
  const manifest = await loadLoaderManifest(manifestFile);
  const inUse = loadersInUse(config.boot);
  const out: CheckResult[] = [];
  for (const spec of manifest) {
    const file = path.join(config.tftp.root, spec.serveAs);
    const id = `loader:${spec.serveAs}`;
    const s = await inspectLoaderFile(file, spec);
    const install = `rhevboot install-loaders (needs the ${spec.package} package)`;
    if (s.state === 'ok') out.push(result(id, 'ok', `${file} matches boot/manifest.yaml`));
    else if (s.state === 'missing') {
      out.push(inUse.has(spec.serveAs) ? result(id, 'fail', `${file} is missing; nodes asking for it get "file not found"`, install) : result(id, 'ok', `${spec.serveAs} is not installed (not used by this configuration)`));
    } else if (s.state === 'mismatch') {
      out.push(result(id, 'fail', `${file} is ${s.bytes} bytes${s.sha256 ? ` with sha256 ${s.sha256}` : ''}, not the manifest's ${spec.bytes} bytes with sha256 ${spec.sha256}: a damaged, replaced or other-version loader is served to nodes`, `reinstall it: ${install}`));
    } else out.push(result(id, 'fail', `${file} cannot be read: ${s.reason}`, `make it a readable regular file: ${install}`));
  }
  return out;
}

async function sizeOf(file: string): Promise<number | undefined> {
  try {
    const st = await stat(file);
    return st.isFile() ? st.size : undefined;
  } catch {
    return undefined;
  }
}

/** Kernel, initrd, PXE initrd and ISO of one imported tree: present, with the recorded sizes (and sha256 with `deep`). */
export async function checkDistro(d: DistroRecord, isoName: string | undefined, deep: boolean): Promise<CheckResult> {
  const id = `distro:${d.name}/${d.arch}`;
  const fix = `re-import it: rhevboot copycds ${d.sourcePath} --name ${d.name} --arch ${d.arch} --force (or rhevboot distro rm ${d.name} --arch ${d.arch})`;
  const files: { rel: string; bytes?: number; sha256?: string }[] = [{ rel: d.kernel }, { rel: d.initrd }, { rel: d.pxeInitrd, bytes: d.pxeInitrdBytes, sha256: d.pxeInitrdSha256 }];
  if (isoName) files.push({ rel: isoName, bytes: d.isoBytes, sha256: d.isoSha256 });
  const problems: string[] = [];
  for (const f of files) {
    const file = path.join(d.treePath, f.rel);
    const size = await sizeOf(file);
    if (size === undefined) problems.push(`${f.rel} is missing`);
    else if (size === 0) problems.push(`${f.rel} is empty`);
    else if (f.bytes !== undefined && size !== f.bytes) problems.push(`${f.rel} is ${size} bytes, ${f.bytes} were imported`);
    else if (deep && f.sha256) {
      const h = await sha256FileInWorker(file);
      if (h.sha256 !== f.sha256) problems.push(`${f.rel} has sha256 ${h.sha256}, ${f.sha256} was imported`);
    }
  }
  if (!isoName) problems.push(`no descriptor for family '${d.family}' in distro/, so its ISO was not checked`);
  if (problems.length) return result(id, isoName ? 'fail' : 'warn', `${d.treePath}: ${problems.join('; ')}`, fix);
  return result(id, 'ok', `${d.treePath}: kernel, initrd, PXE initrd and ISO present with their imported sizes${deep ? ' and checksums' : ''}`);
}

export async function checkDistros(store: Store, descriptors: DistroDescriptor[], deep: boolean): Promise<CheckResult[]> {
  const distros = await store.distros.list();
  if (!distros.length) return [result('distros', 'warn', 'no distro imported: nodes set to install have nothing to boot', 'import an ISO: rhevboot copycds /path/to/rhev-hypervisor.iso')];
  const isoNames = new Map(descriptors.map((x) => [x.family, x.install.isoName]));
  return Promise.all(distros.map((d) => checkDistro(d, isoNames.get(d.family), deep)));
}

// ---- network neighbours ----

/** What another DHCP server on the segment means depends on our own mode. */
export function judgeRogue(mode: Config['dhcp']['mode'], outcome: ProbeOutcome): CheckResult {
  const id = 'rogue-dhcp';
  if (outcome.kind === 'skipped') return result(id, 'skip', `rogue-DHCP probe skipped: ${outcome.reason}`, outcome.fix);
  const describe = (list: typeof outcome.foreign): string => list.map((s) => `${s.serverId}${s.proxy ? ' (ProxyDHCP)' : ` (offered ${s.offered})`}${s.bootFile ? ` boot file ${s.bootFile}` : ''}`).join(', ');
  const givers = outcome.foreign.filter((s) => !s.proxy);
  const proxies = outcome.foreign.filter((s) => s.proxy);
  const where = `on ${outcome.interface} (DISCOVER to ${outcome.sentTo})`;
  const stopIt = 'find the server by its address and disable DHCP there (or keep it off this segment); nodes take whichever offer comes first';
  if (mode === 'full' && outcome.foreign.length) return result(id, 'fail', `another DHCP server answers ${where}: ${describe(outcome.foreign)}`, stopIt + '; or use dhcp.mode proxy next to it');
  if (mode === 'proxy') {
    if (proxies.length) return result(id, 'fail', `another ProxyDHCP server answers ${where}: ${describe(proxies)}`, stopIt);
    if (!givers.length) return result(id, 'warn', `no DHCP server offered an address ${where}: in proxy mode nodes need one to get an address`, 'check the site DHCP server serves this segment (or a relay forwards to it), or use dhcp.mode full');
    return result(id, 'ok', `the site DHCP server answers ${where}: ${describe(givers)} (expected in proxy mode)`);
  }
  if (mode === 'off') {
    if (!outcome.foreign.length) return result(id, 'warn', `no DHCP server answers ${where}, and rhevboot's is off: nodes cannot PXE boot`, 'set dhcp.mode full (or proxy next to a site DHCP server)');
    return result(id, 'ok', `DHCP ${where} comes from ${describe(outcome.foreign)} (rhevboot's DHCP is off)`);
  }
  return result(id, 'ok', `no other DHCP server answers ${where}${outcome.oursAnswered ? '' : ' (nor did rhevboot, which ignores unknown MACs unless a subnet says unknownClients: discover)'}`);
}

export async function checkRogueDhcp(config: Config, probe: typeof probeRogueDhcp, timeoutMs: number): Promise<CheckResult> {
  let ours: string[] = [];
  try {
    ours = [provisioningAddress({ serverAddress: config.dhcp.serverAddress, interface: config.dhcp.interface }).address];
  } catch {
    // Without an address of ours every offer counts as foreign, which is the safe reading.
  }
  return judgeRogue(config.dhcp.mode, await probe({ interface: config.dhcp.interface, ours, timeoutMs }));
}

// ---- engines and clock ----

export interface EngineCheck {
  result: CheckResult;
  /** The engine's Date header, when it answered. */
  date?: Date;
}

/** Logs in with the pinned CA (as every hand-off will), bounded in time, and keeps the engine's clock. */
export async function checkEngine(engines: EngineService, store: Store, name: string, timeoutMs: number, now: Date): Promise<EngineCheck> {
  const id = `engine:${name}`;
  const e = await engines.get(name);
  let client;
  try {
    client = await engines.client(name);
  } catch (err) {
    return { result: result(id, 'fail', (err as Error).message, `rhevboot rhevm test ${name}`) };
  }
  try {
    const signal = AbortSignal.timeout(timeoutMs);
    const o = client.conn.op({ signal, timeoutMs });
    const api = await client.conn.api(o);
    // The same authenticated call as `connect`, kept to read the engine's Date header.
    const res = await client.conn.send('GET', api.path, o);
    client.conn.check(res, 'GET', api.path, o);
    const dateHeader = res.headers['date'];
    const date = typeof dateHeader === 'string' && !Number.isNaN(Date.parse(dateHeader)) ? new Date(dateHeader) : undefined;
    const notes: string[] = [];
    let status: CheckStatus = 'ok';
    let fix: string | undefined;
    if (e.url.startsWith('http:')) {
      status = 'warn';
      notes.push('plain http: the password crosses the network in clear (labs only)');
      fix = `use https and pin its CA: rhevboot rhevm add ${name} --url https://… then rhevboot rhevm test ${name}`;
    }
    const pem = (await store.engines.get(name))?.caPem;
    if (pem) {
      const ca = describeCa(pem);
      const daysLeft = (Date.parse(ca.notAfter) - now.getTime()) / 86_400_000;
      if (daysLeft < 30) {
        status = daysLeft < 0 ? 'fail' : 'warn';
        notes.push(daysLeft < 0 ? `its pinned CA expired on ${ca.notAfter}` : `its pinned CA expires on ${ca.notAfter}`);
        fix = `renew the engine's CA, then re-pin it: rhevboot rhevm test ${name}`;
      }
    }
    return { result: result(id, status, `${e.url}: logged in, API v${api.version} at ${api.path}${notes.length ? `; ${notes.join('; ')}` : ''}`, fix), ...(date ? { date } : {}) };
  } catch (err) {
    const code = isRhevbootError(err) ? err.code : undefined;
    const fixes: Record<string, string> = {
      RB_ERR_RHEVM_TLS: `the engine's certificate does not verify against the pinned CA (or not for this host name): if the engine's CA was replaced, re-pin it with rhevboot rhevm test ${name}`,
      RB_ERR_RHEVM_AUTH: `the user or password was refused: rhevboot rhevm add ${name} --url ${e.url} --user ${e.username} (prompts for the password)`,
      RB_ERR_RHEVM_UNREACHABLE: `check the engine is up and reachable from this host (curl -sS ${e.url})`,
      RB_ERR_RHEVM_TIMEOUT: `the engine did not answer within ${timeoutMs / 1000} s: check it is up and reachable (curl -sS ${e.url})`,
      RB_ERR_RHEVM_ABORTED: `the engine did not answer within ${timeoutMs / 1000} s: check it is up and reachable (curl -sS ${e.url})`,
    };
    return { result: result(id, 'fail', `${e.url}: ${(err as Error).message}`, (code && fixes[code]) ?? `check the engine, then rhevboot rhevm test ${name}`) };
  } finally {
    await client.close().catch(() => {});
  }
}

/** Allowed difference with an engine: TLS and the engine's host certificates tolerate little more. */
const SKEW_WARN_S = 60;
const SKEW_FAIL_S = 300;

export function checkClock(now: Date, engineDates: { name: string; date: Date }[]): CheckResult {
  const year = now.getUTCFullYear();
  if (year < 2020 || year > 2100) return result('clock', 'fail', `the system clock says ${now.toISOString()}: certificates and lease times are meaningless`, 'set the time and keep it set: timedatectl set-ntp true (or set it by hand: timedatectl set-time)');
  if (!engineDates.length) return result('clock', 'ok', `the system clock says ${now.toISOString()} (no engine answered to compare with)`);
  const skews = engineDates.map((e) => ({ name: e.name, s: Math.round((now.getTime() - e.date.getTime()) / 1000) }));
  const worst = skews.reduce((a, b) => (Math.abs(b.s) > Math.abs(a.s) ? b : a));
  const text = skews.map((k) => `${k.s >= 0 ? '+' : ''}${k.s} s against ${k.name}`).join(', ');
  const fix = 'synchronise this host and the engines to the same NTP servers (timedatectl set-ntp true; chronyc tracking)';
  if (Math.abs(worst.s) > SKEW_FAIL_S) return result('clock', 'fail', `the system clock is ${text}: the engine's host certificates and TLS checks break`, fix);
  if (Math.abs(worst.s) > SKEW_WARN_S) return result('clock', 'warn', `the system clock is ${text}`, fix);
  return result('clock', 'ok', `the system clock agrees with the engines (${text})`);
}

/** One check that threw is a failed check with its error, not a crashed doctor. */
async function guarded(id: string, run: () => Promise<CheckResult | CheckResult[]>): Promise<CheckResult[]> {
  try {
    const r = await run();
    return Array.isArray(r) ? r : [r];
  } catch (err) {
    return [result(id, 'fail', `the check itself failed: ${(err as Error).message}`, 'fix what the message names and run doctor again')];
  }
}

export async function runDoctor(deps: DoctorDeps): Promise<CheckResult[]> {
  const { config } = deps;
  const probeMs = deps.probeTimeoutMs ?? 3000;
  const engineMs = deps.engineTimeoutMs ?? 10_000;
  const now = deps.now ?? (() => new Date());
  const engineNames = (await deps.engines.list()).map((e) => e.name);
  const engineChecks = Promise.all(engineNames.map((n) => checkEngine(deps.engines, deps.store, n, engineMs, now()).catch((err: Error) => ({ result: result(`engine:${n}`, 'fail', err.message, `rhevboot rhevm test ${n}`) }) as EngineCheck)));
  const groups = await Promise.all([
    guarded('http', () => checkHttp(config, probeMs)),
    guarded('tftp', () => checkTftp(config, probeMs)),
    guarded('dhcp-port', () => checkDhcpPorts(config, deps.procRoot)),
    guarded('rogue-dhcp', () => checkRogueDhcp(config, deps.probe ?? probeRogueDhcp, probeMs)),
    guarded('loaders', () => checkLoaders(config, deps.manifestFile)),
    guarded('distros', () => checkDistros(deps.store, deps.descriptors, deps.deep ?? false)),
    engineChecks.then((list) => list.map((e) => e.result)),
  ]);
  const dates = (await engineChecks).flatMap((e, i) => (e.date ? [{ name: engineNames[i]!, date: e.date }] : []));
  return [...groups.flat(), checkClock(now(), dates)];
}

/** 1 when any check failed; warnings and skips alone are success. */
export function doctorExitCode(results: CheckResult[]): number {
  return results.some((r) => r.status === 'fail') ? 1 : 0;
}
