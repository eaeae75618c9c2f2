/**
 * Boot storm (issue 5): N simulated PXE machines boot at once against the real appliance.
 *
 *   npm run bench -- boot-storm [--nodes 100,1000] [--kernel-mb 1] [--initrd-mb 4] [--ramp-ms 1500]
 *                               [--deadline-s 170] [--tsx] [--cpu-prof]
 *
 * Two namespaces joined by a veth (10.237.0.0/24): `rhevboot serve` (DHCP full, TFTP on 69, HTTP
 * on 80, product defaults otherwise) in one, and in the other a Node process
 * (bench/boot-storm-client.ts) playing a DHCP relay (10.237.128.1) for the relayed subnet
 * 10.237.128.0/17 and the N nodes behind it, each with its reserved address on the client's veth.
 * Each node does DHCP DORA, TFTP pxelinux.0 + pxelinux.cfg/01-<mac>, HTTP kernel + initrd (small
 * random stand-ins, sizes by option) and the install trigger; all start within --ramp-ms.
 *
 * The appliance is the product as installed: compiled with tsc into a temporary directory and
 * started as `node bin/rhevboot.js serve` (--tsx runs src/ through tsx instead, as the tests do).
 * Its state is prepared through the services the CLI uses: a distro record whose tree holds the
 * stand-ins, N nodes with MACs and reserved IPs, `nodeset all install`.
 *
 * Reported per N: completion time (first DISCOVER to last trigger), failures by phase with the
 * first reasons, p50/p99 per phase, bytes per phase, the nodes' final state read from the store
 * (booted, local boot), and the appliance's peak RSS (VmHWM) and CPU time, against the targets
 * for 1000 nodes: no failures, under 60 s, under 300 MB. --cpu-prof writes a V8 profile of the
 * serve process and prints its heaviest functions.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/load.js';
import { createCliLogger } from '../src/log.js';
import { createServices } from '../src/services.js';
import { openSqliteStore } from '../src/store/sqlite/index.js';
import { Lab, requireTools } from '../test/helpers/dhcp-netns.js';
import { distroRecord, waitFor } from '../test/helpers/fixtures.js';
import { PHASES, type NodeResult, type Phase, type StormPlan, type StormReport } from './boot-storm-client.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SRV = '10.237.0.1';
const CLI = '10.237.0.2';
const RELAY = '10.237.128.1';
const RELAYED = '10.237.128.0/17';
const DEV = 'rbs0';
const DISTRO = 'rhevh6.5';
const TARGET = { nodes: 1000, seconds: 60, rssMb: 300 };

function opt(name: string): string | undefined {
  const eq = process.argv.find((a) => a.startsWith(`--${name}=`));
  if (eq) return eq.slice(name.length + 3);
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}
const num = (name: string, fallback: number): number => Number(opt(name) ?? fallback);
const flag = (name: string): boolean => process.argv.includes(`--${name}`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Host addresses of the relayed subnet after the relay's, skipping .0 and .255 (10.237.128.11, ...). */
function nodeIp(i: number): string {
  const k = i + 10;
  return `10.237.${128 + Math.floor(k / 254)}.${(k % 254) + 1}`;
}
const nodeMac = (i: number): string => `52:54:00:ed:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;

async function randomFile(file: string, bytes: number): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const out = createWriteStream(file);
  for (let left = bytes; left > 0; left -= 1 << 20) {
    if (!out.write(randomBytes(Math.min(left, 1 << 20)))) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

/** Compiles the product (tsc, tsconfig.build.json) into `dir` laid out like the package. */
async function buildProduct(dir: string): Promise<string> {
  const t = Date.now();
  const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', path.join(dir, 'dist')], { encoding: 'utf8', timeout: 300_000 });
  // tsc emits even with type errors (another part of src/ may be mid-change); the errors are shown.
  if (r.status !== 0) process.stderr.write(`  tsc reported errors (building anyway):\n${(r.stdout + r.stderr).split('\n').slice(0, 10).join('\n')}\n`);
  for (const f of ['package.json', 'templates', 'distro', 'node_modules', 'boot']) await symlink(path.join(ROOT, f), path.join(dir, f));
  await mkdir(path.join(dir, 'bin'));
  await copyFile(path.join(ROOT, 'bin/rhevboot.js'), path.join(dir, 'bin/rhevboot.js'));
  process.stderr.write(`  built the product into ${dir} in ${((Date.now() - t) / 1000).toFixed(0)} s\n`);
  return path.join(dir, 'bin/rhevboot.js');
}

interface Sizes {
  loader: number;
  kernel: number;
  initrd: number;
}

/** The state the appliance starts with: the stand-in files, a distro record, N nodes set to install. */
async function prepare(work: string, env: NodeJS.ProcessEnv, n: number, sizes: Sizes): Promise<void> {
  const stateDir = env.RHEVBOOT_STATE_DIR!;
  const tree = path.join(stateDir, 'install', DISTRO, 'x86_64');
  await randomFile(path.join(env.RHEVBOOT_TFTP_ROOT!, 'pxelinux.0'), sizes.loader);
  await randomFile(path.join(tree, 'isolinux/vmlinuz0'), sizes.kernel);
  await randomFile(path.join(tree, 'isolinux/initrd0.img'), 64 * 1024);
  await randomFile(path.join(tree, 'pxe/initrd0.img'), sizes.initrd);
  const loaded = loadConfig({ env });
  const store = openSqliteStore({ dir: stateDir, busyTimeoutMs: loaded.config.store.busyTimeoutMs });
  try {
    const services = createServices(loaded.config, store, createCliLogger('warn'));
    await store.distros.put(
      distroRecord({
        name: DISTRO, volumeId: 'RHEV-Hypervisor-6.5-storm', sourcePath: path.join(work, 'stand-in.iso'), isoBytes: sizes.initrd, fileCount: 3,
        bytes: sizes.kernel + sizes.initrd, treePath: tree, pxeInitrdBytes: sizes.initrd, importedAt: new Date().toISOString(),
      }),
    );
    const { errors } = await services.nodes.add(
      Array.from({ length: n }, (_, i) => ({ name: `s${String(i).padStart(4, '0')}`, macs: [nodeMac(i)], ip: nodeIp(i), distro: DISTRO })),
    );
    if (errors.length) throw new Error(`node add refused: ${JSON.stringify(errors.slice(0, 3))}`);
    await services.nodes.nodeset('all', 'install');
  } finally {
    await store.close();
  }
}

/** The nodes' state in the store after the storm. */
async function finalStates(env: NodeJS.ProcessEnv): Promise<{ booted: number; local: number; notBooted: string[] }> {
  const loaded = loadConfig({ env });
  const store = openSqliteStore({ dir: env.RHEVBOOT_STATE_DIR!, busyTimeoutMs: loaded.config.store.busyTimeoutMs });
  try {
    const nodes = await store.nodes.list();
    const notBooted = nodes.filter((x) => x.status !== 'booted' || x.bootAction !== 'local').map((x) => `${x.name}:${x.status}/${x.bootAction}`);
    return { booted: nodes.filter((x) => x.status === 'booted').length, local: nodes.filter((x) => x.bootAction === 'local').length, notBooted };
  } finally {
    await store.close();
  }
}

function procStatus(pid: number): { rssKb: number; hwmKb: number } {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    return { rssKb: Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? 0), hwmKb: Number(/VmHWM:\s+(\d+)/.exec(s)?.[1] ?? 0) };
  } catch {
    return { rssKb: 0, hwmKb: 0 };
  }
}

/** utime + stime of a process in seconds. */
function cpuSeconds(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

async function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  return Promise.race([new Promise<boolean>((r) => child.once('exit', () => r(true))), sleep(ms).then(() => false)]);
}

/** Self time per function of a V8 .cpuprofile, heaviest first. */
function profileTop(file: string, n: number): string[] {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as { nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[]; samples: number[]; timeDeltas: number[] };
  const byId = new Map(prof.nodes.map((x) => [x.id, x]));
  const self = new Map<string, number>();
  let total = 0;
  prof.samples.forEach((id, i) => {
    const dt = prof.timeDeltas[i] ?? 0;
    total += dt;
    const cf = byId.get(id)!.callFrame;
    const key = `${cf.functionName || '(anonymous)'} ${cf.url.replace(/^file:\/\/.*?\/(dist|src|node_modules)\//, '$1/')}:${cf.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + dt);
  });
  return [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${((100 * v) / total).toFixed(1).padStart(5)} %  ${(v / 1000).toFixed(0).padStart(6)} ms  ${k}`);
}

/** The appliance's warnings and errors during the run, by message, most frequent first. */
function logWarnings(file: string): string[] {
  const counts = new Map<string, number>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /"level":"?(warn|error|fatal|40|50|60)"?.*"msg":"([^"]*)"/.exec(line);
    if (m) counts.set(`${m[1]}: ${m[2]}`, (counts.get(`${m[1]}: ${m[2]}`) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, v]) => `${v} x ${k}`);
}

const NET_COUNTERS = [
  'TcpExt.ListenOverflows', 'TcpExt.ListenDrops', 'TcpExt.TCPReqQFullDrop', 'TcpExt.TCPReqQFullDoCookies', 'TcpExt.SyncookiesSent',
  'TcpExt.TCPAbortOnData', 'TcpExt.TCPAbortOnClose', 'Tcp.EstabResets', 'Tcp.OutRsts', 'Udp.RcvbufErrors', 'Udp.SndbufErrors', 'Udp.NoPorts', 'Udp.InErrors',
];

/** The kernel's TCP/UDP counters of a namespace (/proc/net/netstat and snmp): drops, overflows, resets. */
function netCounters(lab: Lab, ns: string): Map<string, number> {
  const out = new Map<string, number>();
  const text = lab.in(ns, ['cat', '/proc/net/netstat', '/proc/net/snmp']).split('\n');
  for (let i = 0; i + 1 < text.length; i += 2) {
    const [head, vals] = [text[i]!.split(/\s+/), text[i + 1]!.split(/\s+/)];
    const group = head[0]!.replace(/:$/, '');
    head.slice(1).forEach((k, j) => {
      if (NET_COUNTERS.includes(`${group}.${k}`)) out.set(`${group}.${k}`, Number(vals[j + 1]));
    });
  }
  return out;
}

interface StormResult {
  /** Non-zero kernel counters per side after the storm. */
  net?: string[];
  warnings?: string[];
  n: number;
  report?: StormReport;
  error?: string;
  idleRssMb: number;
  peakRssMb: number;
  cpuSeconds: number;
  states?: { booted: number; local: number; notBooted: string[] };
  profile?: string[];
  profileFile?: string;
  sizes: Sizes;
  /** 1-minute load average before and after the storm: other work on the machine skews the figures. */
  loadBefore?: number;
  loadAfter?: number;
}

async function stormOnce(n: number, sizes: Sizes, entry: string[], work: string): Promise<StormResult> {
  const lab = new Lab('bs');
  const result: StormResult = { n, idleRssMb: 0, peakRssMb: 0, cpuSeconds: NaN, sizes };
  const stateDir = path.join(work, 'state');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    RHEVBOOT_CONFIG: '',
    RHEVBOOT_STATE_DIR: stateDir,
    RHEVBOOT_TFTP_ROOT: path.join(work, 'tftpboot'),
    RHEVBOOT_DHCP_MODE: 'full',
    RHEVBOOT_DHCP_INTERFACE: DEV,
    RHEVBOOT_DHCP_SERVER_ADDRESS: SRV,
    RHEVBOOT_DHCP_SUBNETS: JSON.stringify([
      { subnet: '10.237.0.0/24', pools: [], unknownClients: 'ignore' },
      { subnet: RELAYED, pools: ['10.237.250.1-10.237.250.200'], routers: [RELAY], unknownClients: 'ignore', leaseSeconds: 3600 },
    ]),
    RHEVBOOT_BOOT_BIOS_LOADER: 'pxelinux.0',
  };
  const onSignal = (): void => {
    void lab.destroy().finally(() => rm(work, { recursive: true, force: true }).finally(() => process.exit(130)));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await prepare(work, env, n, sizes);
    const srvNs = lab.addNs('s');
    const cliNs = lab.addNs('c');
    lab.in(srvNs, ['ip', 'link', 'add', DEV, 'type', 'veth', 'peer', 'name', DEV, 'netns', cliNs]);
    for (const ns of [srvNs, cliNs]) lab.in(ns, ['sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1']);
    lab.in(srvNs, ['ip', 'addr', 'add', `${SRV}/24`, 'dev', DEV]);
    lab.in(srvNs, ['ip', 'link', 'set', DEV, 'up']);
    lab.in(srvNs, ['ip', 'route', 'add', RELAYED, 'via', CLI]);
    lab.in(srvNs, ['ip', 'route', 'add', '255.255.255.255/32', 'dev', DEV]);
    const batch = path.join(work, 'addrs.batch');
    const lines = [`addr add ${CLI}/24 dev ${DEV}`, `addr add ${RELAY}/17 dev ${DEV}`];
    for (let i = 0; i < n; i++) lines.push(`addr add ${nodeIp(i)}/32 dev ${DEV}`);
    await writeFile(batch, `${lines.join('\n')}\n`);
    lab.in(cliNs, ['ip', '-batch', batch]);
    lab.in(cliNs, ['ip', 'link', 'set', DEV, 'up']);

    const profDir = path.join(work, 'prof');
    const nodeArgs = flag('cpu-prof') ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
    const server = lab.spawn(srvNs, [process.execPath, ...nodeArgs, ...entry, 'serve'], env);
    const log = createWriteStream(path.join(work, 'serve.log'));
    let head = '';
    server.stdout!.on('data', (d: Buffer) => {
      if (head.length < 100_000) head += d.toString();
      log.write(d);
    });
    server.stderr!.on('data', (d: Buffer) => {
      head += d.toString();
      log.write(d);
    });
    await waitFor(
      () => {
        if (server.exitCode !== null) throw new Error(`rhevboot serve exited before it was ready:\n${head.slice(-3000)}`);
        return head.includes('"msg":"rhevboot ready"');
      },
      { what: () => `rhevboot serve to start:\n${head.slice(-3000)}`, timeoutMs: 60_000, intervalMs: 100 },
    );
    const pid = server.pid!;
    await sleep(500);
    result.idleRssMb = procStatus(pid).rssKb / 1024;
    const cpu0 = cpuSeconds(pid);
    result.loadBefore = os.loadavg()[0]!;

    const plan: StormPlan = {
      server: SRV, relay: RELAY, rampMs: num('ramp-ms', 1500), deadlineMs: num('deadline-s', 170) * 1000,
      dhcpTimeoutsMs: [4000, 8000, 16000, 32000], tftpTimeoutMs: 1000, tftpRetries: 5, blksize: 1468, httpTimeoutMs: 30_000,
      nodes: Array.from({ length: n }, (_, i) => ({ name: `s${String(i).padStart(4, '0')}`, mac: nodeMac(i), ip: nodeIp(i) })),
    };
    const planFile = path.join(work, 'plan.json');
    const reportFile = path.join(work, 'report.json');
    await writeFile(planFile, JSON.stringify(plan));
    let peakSampled = 0;
    const sampler = setInterval(() => (peakSampled = Math.max(peakSampled, procStatus(pid).rssKb)), 200);
    process.stderr.write(`  storm of ${n} nodes started\n`);
    const client = lab.spawn(cliNs, [process.execPath, '--import', 'tsx', path.join(ROOT, 'bench/boot-storm-client.ts'), planFile, reportFile], { ...process.env, UV_THREADPOOL_SIZE: '4' });
    let clientErr = '';
    client.stdout!.on('data', (d: Buffer) => process.stderr.write(d));
    client.stderr!.on('data', (d: Buffer) => {
      clientErr += d.toString();
      process.stderr.write(d);
    });
    const exited = await waitExit(client, plan.deadlineMs + 60_000);
    if (!exited && client.pid) process.kill(client.pid, 'SIGKILL');
    clearInterval(sampler);
    result.cpuSeconds = cpuSeconds(pid) - cpu0;
    result.net = [];
    for (const [side, ns] of [['server', srvNs], ['clients', cliNs]] as const) {
      const nz = [...netCounters(lab, ns)].filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}`);
      result.net.push(`${side}: ${nz.length ? nz.join(', ') : 'none'}`);
    }
    result.loadAfter = os.loadavg()[0]!;
    const st = procStatus(pid);
    result.peakRssMb = Math.max(st.hwmKb, peakSampled) / 1024;
    try {
      result.report = JSON.parse(readFileSync(reportFile, 'utf8')) as StormReport;
    } catch {
      result.error = `the client produced no report (exit ${client.exitCode}): ${clientErr.slice(-2000)}`;
    }

    // A clean stop (SIGTERM, by PID): the store is closed, the CPU profile written.
    server.kill('SIGTERM');
    if (!(await waitExit(server, 15_000))) {
      process.stderr.write('  serve did not stop within 15 s of SIGTERM; killing it\n');
      server.kill('SIGKILL');
      await waitExit(server, 5000);
    }
    await new Promise<void>((r) => log.end(() => r()));
    result.warnings = logWarnings(path.join(work, 'serve.log'));
    result.states = await finalStates(env);
    if (flag('cpu-prof')) {
      const files = (await readdir(profDir).catch(() => [] as string[])).filter((f) => f.endsWith('.cpuprofile'));
      if (files[0]) {
        result.profileFile = path.join(os.tmpdir(), `rhevboot-boot-storm-${n}-${process.pid}.cpuprofile`);
        await copyFile(path.join(profDir, files[0]), result.profileFile);
        result.profile = profileTop(result.profileFile, 25);
      }
    }
    if (!result.report || result.report.nodes.some((r) => !r.ok)) {
      const keep = path.join(os.tmpdir(), `rhevboot-boot-storm-${n}-${process.pid}`);
      await copyFile(path.join(work, 'serve.log'), `${keep}-serve.log`);
      await copyFile(reportFile, `${keep}-report.json`).catch(() => {});
      process.stderr.write(`  failures: the appliance's log and the client's report are kept in ${keep}-serve.log, -report.json\n`);
    }
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await lab.destroy();
  }
  return result;
}

function quantile(xs: number[], q: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
}

const MB = 1024 * 1024;
const fmtMs = (x: number): string => (Number.isNaN(x) ? '-' : x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(1)} ms`);
const fmtBytes = (b: number): string => (b >= MB ? `${(b / MB).toFixed(1)} MiB` : `${(b / 1024).toFixed(1)} KiB`);

function print(r: StormResult): void {
  const w = (s: string): boolean => process.stdout.write(`${s}\n`);
  w(`-- ${r.n} nodes (kernel ${fmtBytes(r.sizes.kernel)}, initrd ${fmtBytes(r.sizes.initrd)}, pxelinux.0 ${fmtBytes(r.sizes.loader)})`);
  if (r.error) w(`ERROR: ${r.error}`);
  const rep = r.report;
  if (rep) {
    const nodes = rep.nodes;
    const ok = nodes.filter((x) => x.ok);
    const failed = nodes.filter((x) => !x.ok);
    const completion = ok.length ? Math.max(...ok.map((x) => x.doneMs ?? 0)) : NaN;
    w(`completion: ${fmtMs(completion)} (first DISCOVER to last trigger; client wall ${fmtMs(rep.wallMs)}), booted ${ok.length}/${nodes.length}, failed ${failed.length}`);
    if (failed.length) {
      const byPhase = new Map<Phase, NodeResult[]>();
      for (const f of failed) byPhase.set(f.failedIn ?? 'dhcp', [...(byPhase.get(f.failedIn ?? 'dhcp') ?? []), f]);
      for (const [phase, fs] of byPhase) {
        w(`  failed in ${phase}: ${fs.length}`);
        const reasons = new Map<string, number>();
        for (const f of fs) reasons.set(f.reason ?? '?', (reasons.get(f.reason ?? '?') ?? 0) + 1);
        for (const [reason, count] of [...reasons].sort((a, b) => b[1] - a[1]).slice(0, 4)) w(`    ${count} x ${reason.slice(0, 300)}`);
      }
    }
    w(`phase    |  done |    p50    |    p99    |    max    | bytes received`);
    for (const p of PHASES) {
      const ms = nodes.map((x) => x.ms[p]).filter((x): x is number => x !== undefined);
      const bytes = nodes.reduce((a, x) => a + x.bytes[p], 0);
      w(`${p.padEnd(8)} | ${String(ms.length).padStart(5)} | ${fmtMs(quantile(ms, 0.5)).padStart(9)} | ${fmtMs(quantile(ms, 0.99)).padStart(9)} | ${fmtMs(ms.length ? Math.max(...ms) : NaN).padStart(9)} | ${fmtBytes(bytes)}`);
    }
    const total = ok.map((x) => (x.doneMs ?? 0) - x.startMs);
    w(`per node, start to trigger: p50 ${fmtMs(quantile(total, 0.5))}, p99 ${fmtMs(quantile(total, 0.99))}`);
    const sum = (f: (x: NodeResult) => number): number => nodes.reduce((a, x) => a + f(x), 0);
    w(`retransmissions: DHCP ${sum((x) => x.dhcpRetransmits)}, TFTP ${sum((x) => x.tftpRetransmits)}, TFTP busy refusals retried ${sum((x) => x.tftpBusy)}, TFTP packets from a second server port (answered ERROR 5) ${sum((x) => x.tftpForeignTid ?? 0)}; stray DHCP replies ${rep.strayDhcp}, malformed ${rep.malformedDhcp}`);
  }
  if (r.net) w(`kernel drop/reset counters: ${r.net.join(' | ')}`);
  if (r.warnings?.length) w(`appliance warnings/errors: ${r.warnings.join('; ')}`);
  if (r.states) w(`store after the storm: ${r.states.booted} booted, ${r.states.local} set to local boot${r.states.notBooted.length ? `; not booted/local: ${r.states.notBooted.slice(0, 5).join(', ')}${r.states.notBooted.length > 5 ? ', ...' : ''}` : ''}`);
  w(`appliance: RSS idle ${r.idleRssMb.toFixed(0)} MB, peak (VmHWM) ${r.peakRssMb.toFixed(0)} MB, CPU during the storm ${r.cpuSeconds.toFixed(1)} s (the simulated clients: ${r.report?.clientCpuS.toFixed(1) ?? '?'} s); machine load average ${r.loadBefore?.toFixed(1) ?? '?'} before, ${r.loadAfter?.toFixed(1) ?? '?'} after`);
  if (rep) {
    const ok = rep.nodes.filter((x) => x.ok);
    const completion = ok.length ? Math.max(...ok.map((x) => x.doneMs ?? 0)) : Infinity;
    const failures = rep.nodes.length - ok.length;
    const verdict = (pass: boolean): string => (pass ? 'PASS' : 'FAIL');
    const allBooted = r.states ? r.states.notBooted.length === 0 : false;
    w(`targets (set for ${TARGET.nodes} nodes): no failures ${verdict(failures === 0 && allBooted)} (${failures} failed, ${r.states?.notBooted.length ?? '?'} not booted in the store) | under ${TARGET.seconds} s ${verdict(completion < TARGET.seconds * 1000)} (${fmtMs(completion)}) | under ${TARGET.rssMb} MB RSS ${verdict(r.peakRssMb < TARGET.rssMb)} (${r.peakRssMb.toFixed(0)} MB)`);
  }
  if (r.profile) {
    w(`CPU profile of serve (${r.profileFile}), self time, heaviest first:`);
    for (const l of r.profile) w(`  ${l}`);
  }
}

export async function benchBootStorm(): Promise<void> {
  requireTools([{ bin: 'ip', pkg: 'iproute2' }]);
  const counts = (opt('nodes') ?? '100,1000').split(',').map(Number).filter((x) => x > 0);
  if (counts.some((x) => x > 30_000)) throw new Error('--nodes: at most 30000 (the relayed /17)');
  const sizes: Sizes = { loader: Math.round(num('loader-kb', 42) * 1024), kernel: Math.round(num('kernel-mb', 1) * MB), initrd: Math.round(num('initrd-mb', 4) * MB) };
  const buildDir = await mkdtemp(path.join(os.tmpdir(), 'rhevboot-storm-build-'));
  try {
    const entry = flag('tsx') ? ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts')] : [await buildProduct(buildDir)];
    process.stdout.write(`boot storm: DHCP (relayed) + TFTP pxelinux.0 and config + HTTP kernel and initrd + trigger per node; serve = ${flag('tsx') ? 'src/ through tsx' : 'compiled product (bin/rhevboot.js)'}; ${os.cpus().length} CPUs\n`);
    for (const n of counts) {
      const work = await mkdtemp(path.join(os.tmpdir(), `rhevboot-storm-${n}-`));
      try {
        print(await stormOnce(n, sizes, entry, work));
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    }
  } finally {
    await rm(buildDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) await benchBootStorm();
