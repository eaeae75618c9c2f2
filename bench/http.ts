/**
 * HTTP benchmark, on loopback, in the same run:
 * - boot files: a 256 MB initrd fetched with curl from rhevboot and from nginx serving the same
 *   file. Target (issue 5): at least 0.7x nginx.
 * - iPXE scripts: 64 keep-alive connections (bench/ipxe-load.ts), each a node of --nodes set to
 *   install fetching its own script from its own loopback address (an install script goes only to
 *   its node), next to nginx serving a static file of the same size. Target (issue 5): at least
 *   10,000 req/s. RBT_BENCH_HTTP_PIN=split runs the client on CPU 1 (pin the bench to CPU 0).
 *   npm run bench -- http [--size-mb 256] [--runs 5] [--nodes 1000] [--connections 64] [--seconds 10] [--ipxe-only]
 *   (--ipxe-only skips the big file: a flag, because bench/run.ts takes bare words for bench names)
 * Needs nginx (Debian package nginx) and curl.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startAppliance } from '../src/appliance.js';
import { loadConfig } from '../src/config/load.js';
import { createCliLogger } from '../src/log.js';
import { distroRecord } from '../test/helpers/fixtures.js';

const exec = promisify(execFile);

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

/** Seconds for curl to fetch a URL to /dev/null, as curl itself measures it. */
async function fetchSeconds(url: string): Promise<number> {
  const { stdout } = await exec('curl', ['-sSf', '-o', '/dev/null', '-w', '%{time_total}', url]);
  return Number(stdout);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchHttp(): Promise<void> {
  const sizeMb = arg('size-mb', 256);
  const runs = arg('runs', 5);
  const ipxeOnly = process.argv.includes('--ipxe-only');
  const work = await mkdtemp(path.join(os.tmpdir(), 'rhevboot-bench-http-'));
  const tree = path.join(work, 'install/rhevh/x86_64/pxe');
  await mkdir(tree, { recursive: true });
  const file = path.join(tree, 'initrd0.img');
  const chunk = randomBytes(1024 * 1024);
  if (!ipxeOnly) {
    await writeFile(file, Buffer.concat(Array.from({ length: sizeMb }, () => chunk)));
    await exec('sh', ['-c', `cat '${file}' > /dev/null`]);
  }

  const nginxPort = 20000 + (process.pid % 10000);
  const conf = path.join(work, 'nginx.conf');
  await writeFile(
    conf,
    `daemon off; worker_processes 1; pid ${work}/nginx.pid; error_log ${work}/nginx-error.log;
events { worker_connections 1024; }
http { access_log off; sendfile on; tcp_nopush on; client_body_temp_path ${work};
  server { listen 127.0.0.1:${nginxPort}; location /install/ { root ${work}; } } }\n`,
  );
  const nginx = spawn('nginx', ['-c', conf, '-p', work], { stdio: 'ignore' });
  const loaded = loadConfig({ env: { RHEVBOOT_STATE_DIR: path.join(work, 'state'), RHEVBOOT_INSTALL_DIR: path.join(work, 'install'), RHEVBOOT_HTTP_HOST: '127.0.0.1', RHEVBOOT_HTTP_PORT: '0', RHEVBOOT_TFTP_HOST: '127.0.0.1', RHEVBOOT_TFTP_PORT: '0', RHEVBOOT_LOG_LEVEL: 'warn' } });
  const app = await startAppliance(loaded, { log: createCliLogger('warn') });
  try {
    await new Promise((r) => setTimeout(r, 300));
    if (!ipxeOnly) await benchBootFile(app.httpAddress.port, nginxPort, sizeMb, runs);
    await benchIpxeScripts(app, work, nginxPort);
  } finally {
    await app.stop('bench over');
    nginx.kill('SIGTERM');
    await new Promise((r) => nginx.once('exit', r));
    await rm(work, { recursive: true, force: true });
  }
}

/** The big-file part: a boot initrd over curl, rhevboot against nginx. */
async function benchBootFile(port: number, nginxPort: number, sizeMb: number, runs: number): Promise<void> {
  const urls = {
    rhevboot: `http://127.0.0.1:${port}/install/rhevh/x86_64/pxe/initrd0.img`,
    nginx: `http://127.0.0.1:${nginxPort}/install/rhevh/x86_64/pxe/initrd0.img`,
  };
  const times: Record<string, number[]> = { rhevboot: [], nginx: [] };
  for (let r = 0; r < runs; r++) {
    // Alternate the order so neither server always runs on a warmer machine.
    for (const name of r % 2 ? (['nginx', 'rhevboot'] as const) : (['rhevboot', 'nginx'] as const)) times[name]!.push(await fetchSeconds(urls[name]));
  }
  const mbps = (s: number): number => sizeMb * 1.048576 / s;
  const rb = median(times.rhevboot!);
  const ng = median(times.nginx!);
  process.stdout.write(
    `${sizeMb} MiB file, loopback, curl, median of ${runs}\n` +
      `rhevboot  ${rb.toFixed(3)} s  ${mbps(rb).toFixed(0)} MB/s\n` +
      `nginx     ${ng.toFixed(3)} s  ${mbps(ng).toFixed(0)} MB/s\n` +
      `rhevboot / nginx throughput ratio: ${(ng / rb).toFixed(2)}x\n`,
  );
}

/**
 * The load client (bench/ipxe-load.ts) in its own process: with RBT_BENCH_HTTP_PIN=split it runs on
 * CPU 1 (pin this process to CPU 0 with taskset), otherwise where the scheduler puts it.
 */
async function ipxeLoad(port: number, clients: { source: string; path: string }[], seconds: number): Promise<{ rps: number; p99: number; errors: number }> {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'ipxe-load.ts');
  const args = ['--import', 'tsx', script, '--port', String(port), '--sources', clients.map((c) => c.source).join(','), '--paths', clients.map((c) => c.path).join(','), '--seconds', String(seconds)];
  const pinned = process.env.RBT_BENCH_HTTP_PIN === 'split';
  const { stdout } = await exec(pinned ? 'taskset' : process.execPath, pinned ? ['-c', '1', process.execPath, ...args] : args, { maxBuffer: 1 << 20 });
  const r = JSON.parse(stdout) as { requests: number; non200: number; errors: number; seconds: number; p99: number };
  return { rps: r.requests / r.seconds, p99: r.p99, errors: r.non200 + r.errors };
}

async function benchIpxeScripts(app: Awaited<ReturnType<typeof startAppliance>>, work: string, nginxPort: number): Promise<void> {
  const nodes = arg('nodes', 1000);
  const connections = Math.min(arg('connections', 64), nodes);
  const seconds = arg('seconds', 10);
  await app.store.distros.put(distroRecord({ name: 'rhevh', treePath: path.join(work, 'install/rhevh/x86_64'), importedAt: new Date().toISOString() }));
  const hex = (i: number, shift: number): string => ((i >> shift) & 255).toString(16).padStart(2, '0');
  const macOf = (i: number): string => `52:54:00:${hex(i, 16)}:${hex(i, 8)}:${hex(i, 0)}`;
  // Every node has its own loopback address: an install script is served only to its node.
  const ipOf = (i: number): string => `127.1.${(i >> 8) & 255}.${i & 255}`;
  await app.services.nodes.add(Array.from({ length: nodes }, (_, i) => ({ name: `n${i}`, macs: [macOf(i)], ip: ipOf(i), distro: 'rhevh', manager: 'rhevm.example.com', kernelArgs: 'console=ttyS0' })));
  await app.services.nodes.nodeset(`n[0-${nodes - 1}]`, 'install');
  const port = app.httpAddress.port;
  const { stdout: sample } = await exec('curl', ['-sSf', '--interface', ipOf(0), `http://127.0.0.1:${port}/boot/ipxe/${macOf(0)}`]);
  if (!sample.startsWith('#!ipxe') || !sample.includes('initrd')) throw new Error(`unexpected iPXE script:\n${sample}`);
  await writeFile(path.join(work, 'install/script.ipxe'), sample);
  // One connection per node, spread over the estate, each fetching its own script again and again.
  const clients = Array.from({ length: connections }, (_, c) => {
    const i = Math.floor((c * nodes) / connections);
    return { source: ipOf(i), path: `/boot/ipxe/${macOf(i)}` };
  });
  // A warm-up pass moves these nodes from install to installing (the first fetch is a write).
  await ipxeLoad(port, clients, 2);
  // CPU time of this process (the appliance; the client is a child) per request: steadier than
  // req/s on a shared machine, and what the fast path is about.
  const cpu0 = process.cpuUsage();
  const rb = await ipxeLoad(port, clients, seconds);
  const cpu = process.cpuUsage(cpu0);
  const cpuPerReq = (us: number): string => (rb.rps ? (us / (rb.rps * seconds)).toFixed(1) : '?');
  const ng = await ipxeLoad(nginxPort, clients.map((c) => ({ ...c, path: '/install/script.ipxe' })), seconds);
  process.stdout.write(
    `iPXE scripts: ${connections} keep-alive connections, each a node fetching its own script from its own address, ${seconds} s, ${nodes} nodes set to install, ${sample.length}-byte script${process.env.RBT_BENCH_HTTP_PIN === 'split' ? ', client pinned to CPU 1' : ''}\n` +
      `rhevboot  ${rb.rps.toFixed(0)} req/s  p99 ${rb.p99} ms  errors ${rb.errors}  (target 10,000)  CPU ${cpuPerReq(cpu.user + cpu.system)} us/req (user ${cpuPerReq(cpu.user)}, system ${cpuPerReq(cpu.system)})\n` +
      `nginx     ${ng.rps.toFixed(0)} req/s  p99 ${ng.p99} ms  errors ${ng.errors}  (the same bytes as a static file)\n` +
      `rhevboot / nginx: ${(rb.rps / ng.rps).toFixed(2)}x\n`,
  );
}
