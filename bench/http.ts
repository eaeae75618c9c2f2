/**
 * HTTP benchmark, on loopback, in the same run:
 * - boot files: a 256 MB initrd fetched with curl from rhevboot and from nginx serving the same
 *   file. Target (issue 5): at least 0.7x nginx.
 * - iPXE scripts: wrk at 64 connections against /boot/ipxe/<mac>, each request naming one of
 *   --nodes nodes set to install (rendered per request from the store), next to nginx serving a
 *   static file of the same size. Target (issue 5): at least 10,000 req/s.
 *   npm run bench -- http [--size-mb 256] [--runs 5] [--nodes 1000] [--seconds 10] [--ipxe-only]
 *   (--ipxe-only skips the big file: a flag, because bench/run.ts takes bare words for bench names)
 * Needs nginx (Debian package nginx), curl and wrk.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
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

/** Requests per second and latency as wrk reports them. */
async function wrk(url: string, seconds: number, script?: string): Promise<{ rps: number; p99: string; errors: number }> {
  const args = ['-t2', '-c64', `-d${seconds}s`, '--latency', ...(script ? ['-s', script] : []), url];
  const { stdout } = await exec('wrk', args, { maxBuffer: 1 << 20 });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? 0);
  const p99 = /\s99%\s+(\S+)/.exec(stdout)?.[1] ?? '?';
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  const errors = non2xx + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { rps, p99, errors };
}

async function benchIpxeScripts(app: Awaited<ReturnType<typeof startAppliance>>, work: string, nginxPort: number): Promise<void> {
  const nodes = arg('nodes', 1000);
  const seconds = arg('seconds', 10);
  await app.store.distros.put(distroRecord({ name: 'rhevh', treePath: path.join(work, 'install/rhevh/x86_64'), importedAt: new Date().toISOString() }));
  const macOf = (i: number): string => `52:54:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
  await app.services.nodes.add(Array.from({ length: nodes }, (_, i) => ({ name: `n${i}`, macs: [macOf(i)], distro: 'rhevh', manager: 'rhevm.example.com', kernelArgs: 'console=ttyS0' })));
  await app.services.nodes.nodeset(`n[0-${nodes - 1}]`, 'install');
  const base = `http://127.0.0.1:${app.httpAddress.port}`;
  const sample = await (await fetch(`${base}/boot/ipxe/${macOf(0)}`)).text();
  if (!sample.startsWith('#!ipxe') || !sample.includes('initrd')) throw new Error(`unexpected iPXE script:\n${sample}`);
  await writeFile(path.join(work, 'install/script.ipxe'), sample);
  // Every request names another node, so nothing is answered from a single cached entry.
  const lua = path.join(work, 'macs.lua');
  await writeFile(
    lua,
    `local n = 0\nrequest = function()\n  n = n + 1\n  local i = n % ${nodes}\n` +
      `  local mac = string.format("52:54:00:%02x:%02x:%02x", math.floor(i / 65536) % 256, math.floor(i / 256) % 256, i % 256)\n` +
      `  return wrk.format("GET", "/boot/ipxe/" .. mac)\nend\n`,
  );
  // A warm-up pass moves every node from install to installing (the first fetch is a write).
  await wrk(base, 3, lua);
  // CPU time of this process (the appliance; wrk is a child) per request: steadier than req/s on a
  // shared machine, and what the fast path is about.
  const cpu0 = process.cpuUsage();
  const rb = await wrk(base, seconds, lua);
  const cpu = process.cpuUsage(cpu0);
  const cpuPerReq = (us: number): string => (rb.rps ? (us / (rb.rps * seconds)).toFixed(1) : '?');
  const ng = await wrk(`http://127.0.0.1:${nginxPort}/install/script.ipxe`, seconds);
  process.stdout.write(
    `iPXE scripts: wrk -t2 -c64 ${seconds}s, ${nodes} nodes set to install, ${sample.length}-byte script\n` +
      `rhevboot  ${rb.rps.toFixed(0)} req/s  p99 ${rb.p99}  errors ${rb.errors}  (target 10,000)  CPU ${cpuPerReq(cpu.user + cpu.system)} us/req (user ${cpuPerReq(cpu.user)}, system ${cpuPerReq(cpu.system)})\n` +
      `nginx     ${ng.rps.toFixed(0)} req/s  p99 ${ng.p99}  errors ${ng.errors}  (the same bytes as a static file)\n` +
      `rhevboot / nginx: ${(rb.rps / ng.rps).toFixed(2)}x\n`,
  );
}
