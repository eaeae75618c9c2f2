/**
 * HTTP boot-file benchmark: a 256 MB initrd fetched with curl from rhevboot and from nginx serving
 * the same file, on loopback, in the same run.   npm run bench -- http [--size-mb 256] [--runs 5]
 * Needs nginx (Debian package nginx) and curl. Target (issue 5): at least 0.7x nginx.
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
  const work = await mkdtemp(path.join(os.tmpdir(), 'rhevboot-bench-http-'));
  const tree = path.join(work, 'install/rhevh/x86_64/pxe');
  await mkdir(tree, { recursive: true });
  const file = path.join(tree, 'initrd0.img');
  const chunk = randomBytes(1024 * 1024);
  await writeFile(file, Buffer.concat(Array.from({ length: sizeMb }, () => chunk)));
  await exec('sh', ['-c', `cat '${file}' > /dev/null`]);

  const nginxPort = 20000 + (process.pid % 10000);
  const conf = path.join(work, 'nginx.conf');
  await writeFile(
    conf,
    `daemon off; worker_processes 1; pid ${work}/nginx.pid; error_log ${work}/nginx-error.log;
events { worker_connections 64; }
http { access_log off; sendfile on; tcp_nopush on; client_body_temp_path ${work};
  server { listen 127.0.0.1:${nginxPort}; location /install/ { root ${work}; } } }\n`,
  );
  const nginx = spawn('nginx', ['-c', conf, '-p', work], { stdio: 'ignore' });
  const loaded = loadConfig({ env: { RHEVBOOT_STATE_DIR: path.join(work, 'state'), RHEVBOOT_INSTALL_DIR: path.join(work, 'install'), RHEVBOOT_HTTP_HOST: '127.0.0.1', RHEVBOOT_HTTP_PORT: '0', RHEVBOOT_TFTP_HOST: '127.0.0.1', RHEVBOOT_TFTP_PORT: '0', RHEVBOOT_LOG_LEVEL: 'warn' } });
  const app = await startAppliance(loaded, { log: createCliLogger('warn') });
  try {
    await new Promise((r) => setTimeout(r, 300));
    const urls = {
      rhevboot: `http://127.0.0.1:${app.httpAddress.port}/install/rhevh/x86_64/pxe/initrd0.img`,
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
  } finally {
    await app.stop('bench over');
    nginx.kill('SIGTERM');
    await new Promise((r) => nginx.once('exit', r));
    await rm(work, { recursive: true, force: true });
  }
}
