/**
 * TFTP throughput: rhevboot's server against tftpd-hpa, dnsmasq and atftpd, one at a time on
 * port 69 in a server namespace, the atftp client in a client namespace across a veth pair; the
 * same 256 MiB file and the same client for all. Prints MiB/s and our ratio to each.
 *
 * Needs: atftp, atftpd, dnsmasq(-base), iproute2, and tftpd-hpa's in.tftpd. tftpd-hpa conflicts
 * with atftpd as a package (both ship /usr/sbin/in.tftpd), so when the installed in.tftpd is not
 * tftpd-hpa's, its binary is unpacked from `apt-get download tftpd-hpa` into a temp dir.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { NetnsPair, requireTools, run, startServerChild } from '../test/helpers/tftp-netns.js';

const MiB = 1024 * 1024;
/** RBT_BENCH_TFTP_MB shortens a trial run; the comparison itself uses 256 MiB. */
const FILE_SIZE = Number(process.env.RBT_BENCH_TFTP_MB ?? 256) * MiB;

interface Case {
  label: string;
  options: string[];
}

const CASES: Case[] = [
  { label: 'lockstep 512', options: ['blksize 512'] },
  { label: 'lockstep 1468', options: ['blksize 1468'] },
  { label: 'window 4 @1468', options: ['blksize 1468', 'windowsize 4'] },
  { label: 'window 16 @1468', options: ['blksize 1468', 'windowsize 16'] },
  { label: 'window 64 @1468', options: ['blksize 1468', 'windowsize 64'] },
];

async function tftpdHpaBinary(work: string): Promise<string> {
  try {
    const v = execFileSync('/usr/sbin/in.tftpd', ['-V'], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 }).toString();
    if (/tftp-hpa/i.test(v)) return '/usr/sbin/in.tftpd';
  } catch {
    // atftpd's in.tftpd or none
  }
  const dir = path.join(work, 'tftpd-hpa');
  await mkdir(dir, { recursive: true });
  execFileSync('apt-get', ['download', 'tftpd-hpa'], { cwd: dir, stdio: 'ignore', timeout: 120000 });
  const deb = (await readdir(dir)).find((f) => f.endsWith('.deb'));
  if (!deb) throw new Error('apt-get download tftpd-hpa produced no .deb');
  execFileSync('dpkg-deb', ['-x', path.join(dir, deb), path.join(dir, 'x')], { timeout: 60000 });
  const bin = path.join(dir, 'x', 'usr', 'sbin', 'in.tftpd');
  if (!existsSync(bin)) throw new Error('tftpd-hpa package has no usr/sbin/in.tftpd');
  return bin;
}

interface Server {
  name: string;
  start(): Promise<() => Promise<void>>;
}

/** A foreign server in the server namespace, stopped by its PID. */
async function spawnIn(ns: string, cmd: string, args: string[]): Promise<() => Promise<void>> {
  const child: ChildProcess = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += String(d)));
  let exited = false;
  child.on('exit', () => (exited = true));
  await new Promise((r) => setTimeout(r, 700));
  if (exited) throw new Error(`${cmd} exited at once: ${stderr.slice(0, 300)}`);
  return async () => {
    if (exited) return;
    const gone = new Promise<void>((r) => child.once('exit', () => r()));
    process.kill(child.pid!, 'SIGTERM');
    const t = setTimeout(() => !exited && process.kill(child.pid!, 'SIGKILL'), 3000);
    await gone;
    clearTimeout(t);
  };
}

export async function benchTftp(): Promise<void> {
  requireTools([
    { bin: 'ip', pkg: 'iproute2' },
    { bin: 'atftp', pkg: 'atftp' },
    { bin: 'atftpd', pkg: 'atftpd' },
    { bin: 'dnsmasq', pkg: 'dnsmasq-base' },
    { bin: 'dpkg-deb', pkg: 'dpkg' },
  ]);
  const work = path.join(os.tmpdir(), `rbt-bench-tftp-${process.pid}`);
  const root = path.join(work, 'root');
  await mkdir(root, { recursive: true });
  const net = new NetnsPair('b');
  try {
    const hpaBin = await tftpdHpaBinary(work);
    const fh = await open(path.join(root, 'big.bin'), 'w');
    for (let pos = 0; pos < FILE_SIZE; pos += 8 * MiB) await fh.write(randomBytes(8 * MiB), 0, 8 * MiB, pos);
    await fh.close();
    net.setUp();
    const ip = net.serverIp;
    const servers: Server[] = [
      {
        name: 'rhevboot',
        async start() {
          const s = await startServerChild(net.serverNs, { host: ip, port: 69, root, maxBlockSize: 1468, maxWindowSize: 64, maxTransfers: 100, timeoutMs: 1000, retries: 5 });
          return () => s.close();
        },
      },
      { name: 'tftpd-hpa', start: () => spawnIn(net.serverNs, hpaBin, ['-L', '-a', `${ip}:69`, '-s', root, '-u', 'root', '-B', '1468']) },
      {
        name: 'dnsmasq',
        start: () =>
          spawnIn(net.serverNs, 'dnsmasq', [
            '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--port=0', '--bind-interfaces',
            `--listen-address=${ip}`, '--enable-tftp', `--tftp-root=${root}`, '--user=root', '--group=root', '--pid-file=', '--log-facility=/dev/null',
          ]),
      },
      { name: 'atftpd', start: () => spawnIn(net.serverNs, 'atftpd', ['--daemon', '--no-fork', '--bind-address', ip, '--port', '69', '--user', 'root.root', '--logfile', '/dev/null', root]) },
    ];

    const results = new Map<string, Map<string, number | string>>();
    for (const server of servers) {
      const stop = await server.start();
      const row = new Map<string, number | string>();
      results.set(server.name, row);
      try {
        for (const c of CASES) {
          const out = path.join(work, 'out.bin');
          const r = await run('ip', ['netns', 'exec', net.clientNs, 'atftp', '--tftp-timeout', '2', ...c.options.flatMap((o) => ['--option', o]), '-g', '-r', 'big.bin', '-l', out, ip], 300000);
          let size = 0;
          try {
            size = (await (await import('node:fs/promises')).stat(out)).size;
          } catch {
            // no output
          }
          await rm(out, { force: true });
          const v = r.code === 0 && size === FILE_SIZE ? FILE_SIZE / MiB / (r.ms / 1000) : `fail(${r.code})`;
          row.set(c.label, v);
          process.stdout.write(`tftp bench: ${server.name.padEnd(10)} ${c.label.padEnd(16)} ${typeof v === 'number' ? v.toFixed(1) + ' MiB/s' : v}\n`);
        }
      } finally {
        await stop();
      }
    }

    const ours = results.get('rhevboot')!;
    const others = servers.map((s) => s.name).filter((n) => n !== 'rhevboot');
    const fmt = (v: number | string | undefined) => (typeof v === 'number' ? v.toFixed(1) : String(v ?? '-'));
    const ratio = (a: number | string | undefined, b: number | string | undefined) => (typeof a === 'number' && typeof b === 'number' ? (a / b).toFixed(2) + 'x' : '-');
    const header = [`case (atftp client, ${FILE_SIZE / MiB} MiB, veth)`, 'rhevboot', ...others, ...others.map((o) => `vs ${o}`)];
    const lines = [header];
    for (const c of CASES) {
      lines.push([c.label, fmt(ours.get(c.label)), ...others.map((o) => fmt(results.get(o)!.get(c.label))), ...others.map((o) => ratio(ours.get(c.label), results.get(o)!.get(c.label)))]);
    }
    const widths = header.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
    process.stdout.write('\nTFTP throughput, MiB/s\n');
    for (const l of lines) process.stdout.write(l.map((cell, i) => cell.padStart(widths[i]!)).join('  ') + '\n');
  } finally {
    net.tearDown();
    await rm(work, { recursive: true, force: true });
  }
}
