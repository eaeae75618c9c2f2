/**
 * TFTP throughput: rhevboot's server against tftpd-hpa, dnsmasq and atftpd, one at a time on
 * port 69 in a server namespace, the atftp client in a client namespace across a veth pair; the
 * same 256 MiB file and the same client for all, the page cache warmed before every transfer, the
 * client writing to tmpfs. Servers take turns case by case for RBT_BENCH_TFTP_RUNS rounds (3); each
 * case prints its median MiB/s and our ratio to each server, plus the server's CPU time per MiB
 * for each transfer.
 *
 * Needs: atftp, atftpd, dnsmasq(-base), iproute2, and tftpd-hpa's in.tftpd. tftpd-hpa conflicts
 * with atftpd as a package (both ship /usr/sbin/in.tftpd), so when the installed in.tftpd is not
 * tftpd-hpa's, its binary is unpacked from `apt-get download tftpd-hpa` into a temp dir.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, open, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { NetnsPair, requireTools, run, startServerChild } from '../test/helpers/tftp-netns.js';

const MiB = 1024 * 1024;
/** RBT_BENCH_TFTP_MB shortens a trial run; the comparison itself uses 256 MiB. */
const FILE_SIZE = Number(process.env.RBT_BENCH_TFTP_MB ?? 256) * MiB;
/** Rounds; each case reports the median. Servers take turns within a round, so a slow spell on
 * this shared machine lands on all of them rather than on whichever ran last. */
const RUNS = Math.max(1, Number(process.env.RBT_BENCH_TFTP_RUNS ?? 3));
/** Comma-separated filters for a focused run: RBT_BENCH_TFTP_SERVERS=rhevboot,atftpd RBT_BENCH_TFTP_CASES=w16,w64 */
const ONLY_SERVERS = process.env.RBT_BENCH_TFTP_SERVERS?.split(',').filter(Boolean);
const ONLY_CASES = process.env.RBT_BENCH_TFTP_CASES?.split(',').filter(Boolean);
/** RBT_BENCH_TFTP_PROF=<dir>: rhevboot's server runs under --cpu-prof, profiles land in <dir>. */
const PROF_DIR = process.env.RBT_BENCH_TFTP_PROF;
/** RBT_BENCH_TFTP_BASELINE=<dir>: another rhevboot tree (e.g. `git archive` of the last commit, with
 * node_modules linked) runs as server "baseline" in the same rounds: before/after under one load. */
const BASELINE = process.env.RBT_BENCH_TFTP_BASELINE;
/**
 * RBT_BENCH_TFTP_PIN=same|split|none (default none): where server and client run. Lockstep speed
 * on this VM is decided less by the servers than by the scheduler: when server and client land on
 * one vCPU every wakeup is local and any server does 30-45 MiB/s at 1468; when they sit on two,
 * every block costs two cross-CPU wakeups (IPIs into halted vCPUs) and all of them drop to 2-10.
 * Which one a run gets is luck, so unpinned medians swing 5x between runs. `same` pins both to
 * CPU 0 (the servers' own cost per block), `split` server to 0 and client to 1 (the wakeup cost
 * a real NIC interrupt also has).
 */
const PIN = process.env.RBT_BENCH_TFTP_PIN ?? 'none';
if (!['none', 'same', 'split'].includes(PIN)) throw new Error(`RBT_BENCH_TFTP_PIN=${PIN}: use same, split or none`);
const SERVER_CPU = '0';
const CLIENT_CPU = PIN === 'split' ? '1' : '0';
/** The client command, on its CPU when pinned. */
const clientCmd = (args: string[]): [string, string[]] => (PIN === 'none' ? ['ip', args] : ['taskset', ['-c', CLIENT_CPU, 'ip', ...args]]);
/** Moves a started server (every thread, and the children it forks later) to its CPU. */
function pinServer(pid: number): void {
  if (PIN !== 'none') execFileSync('taskset', ['-a', '-cp', SERVER_CPU, String(pid)], { stdio: 'ignore', timeout: 5000 });
}

interface Case {
  id: string;
  label: string;
  options: string[];
}

const CASES: Case[] = [
  { id: 'l512', label: 'lockstep 512', options: ['blksize 512'] },
  { id: 'l1468', label: 'lockstep 1468', options: ['blksize 1468'] },
  { id: 'w4', label: 'window 4 @1468', options: ['blksize 1468', 'windowsize 4'] },
  { id: 'w16', label: 'window 16 @1468', options: ['blksize 1468', 'windowsize 16'] },
  { id: 'w64', label: 'window 64 @1468', options: ['blksize 1468', 'windowsize 64'] },
].filter((c) => !ONLY_CASES || ONLY_CASES.includes(c.id));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Reads the file once so every server starts from a warm page cache. */
async function warm(file: string): Promise<void> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(8 * MiB);
    for (let pos = 0; ; pos += buf.length) if ((await fh.read(buf, 0, buf.length, pos)).bytesRead === 0) break;
  } finally {
    await fh.close();
  }
}

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
  /** False for servers that ignore windowsize (tftpd-hpa, dnsmasq): their windowed runs would
   * only repeat lockstep 1468, so they are skipped and shown as n/a. */
  windowed: boolean;
  start(): Promise<Running>;
}

/** A foreign server in the server namespace, stopped by its PID. */
interface Running {
  /** The server's PID (`ip netns exec` execs it), for its CPU time. */
  pid: number;
  stop(): Promise<void>;
  /** rhevboot's own counters (retransmissions, send stalls), read after each transfer. */
  stats?(): Promise<Record<string, number>>;
}

/** CPU seconds a process and its reaped children have used (tftpd-hpa forks per transfer). */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14-17 of proc(5) (utime, stime, cutime, cstime) are 11-14 after the command name.
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
  } catch {
    return NaN;
  }
}

async function spawnIn(ns: string, cmd: string, args: string[]): Promise<Running> {
  const child: ChildProcess = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += String(d)));
  let exited = false;
  child.on('exit', () => (exited = true));
  await new Promise((r) => setTimeout(r, 700));
  if (exited) throw new Error(`${cmd} exited at once: ${stderr.slice(0, 300)}`);
  const stop = async () => {
    if (exited) return;
    const gone = new Promise<void>((r) => child.once('exit', () => r()));
    process.kill(child.pid!, 'SIGTERM');
    const t = setTimeout(() => !exited && process.kill(child.pid!, 'SIGKILL'), 3000);
    await gone;
    clearTimeout(t);
  };
  return { pid: child.pid!, stop };
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
    // Fetched only when tftpd-hpa is in the run (it may need `apt-get download`).
    const hpaBin = !ONLY_SERVERS || ONLY_SERVERS.includes('tftpd-hpa') ? await tftpdHpaBinary(work) : '';
    const fh = await open(path.join(root, 'big.bin'), 'w');
    for (let pos = 0; pos < FILE_SIZE; pos += 8 * MiB) await fh.write(randomBytes(8 * MiB), 0, 8 * MiB, pos);
    await fh.close();
    await writeFile(path.join(root, 'warm.bin'), randomBytes(32 * MiB));
    net.setUp();
    const ip = net.serverIp;
    const servers: Server[] = [
      {
        name: 'rhevboot',
        windowed: true,
        async start() {
          const prof = PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROF_DIR}`] : [];
          const s = await startServerChild(net.serverNs, { host: ip, port: 69, root, maxBlockSize: 1468, maxWindowSize: 64, maxTransfers: 100, timeoutMs: 1000, retries: 5 }, prof);
          return { pid: s.pid, stop: () => s.close(), stats: () => s.stats() };
        },
      },
      ...(BASELINE
        ? [
            {
              name: 'baseline',
              windowed: true,
              async start(): Promise<Running> {
                const helper = (await import(path.resolve(BASELINE, 'test/helpers/tftp-netns.ts'))) as { startServerChild: typeof startServerChild };
                const s = await helper.startServerChild(net.serverNs, { host: ip, port: 69, root, maxBlockSize: 1468, maxWindowSize: 64, maxTransfers: 100, timeoutMs: 1000, retries: 5 });
                return { pid: s.pid, stop: () => s.close() };
              },
            },
          ]
        : []),
      { name: 'tftpd-hpa', windowed: false, start: () => spawnIn(net.serverNs, hpaBin, ['-L', '-a', `${ip}:69`, '-s', root, '-u', 'root', '-B', '1468']) },
      {
        name: 'dnsmasq',
        windowed: false,
        start: () =>
          spawnIn(net.serverNs, 'dnsmasq', [
            '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--port=0', '--bind-interfaces',
            `--listen-address=${ip}`, '--enable-tftp', `--tftp-root=${root}`, '--user=root', '--group=root', '--pid-file=', '--log-facility=/dev/null',
          ]),
      },
      { name: 'atftpd', windowed: true, start: () => spawnIn(net.serverNs, 'atftpd', ['--daemon', '--no-fork', '--bind-address', ip, '--port', '69', '--user', 'root.root', '--logfile', '/dev/null', root]) },
    ];

    const active = servers.filter((sv) => !ONLY_SERVERS || ONLY_SERVERS.includes(sv.name));
    // Written to tmpfs: a disk's writeback must not land on whichever server runs next.
    const out = path.join(existsSync('/dev/shm') ? '/dev/shm' : work, `rbt-bench-tftp-${process.pid}.out`);
    const samples = new Map<string, Map<string, number[]>>(active.map((sv) => [sv.name, new Map(CASES.map((c) => [c.id, []]))]));
    const failures = new Map<string, string>();
    // Per round, per case, every server in turn (the order rotating each round): this machine's
    // speed drifts by 2x within minutes (shared vCPUs, wakeup latency), so one case's samples
    // for all servers are taken within a minute or two of each other, and nobody always goes first.
    for (let round = 1; round <= RUNS; round++) {
      const order = active.map((_, i) => active[(i + round - 1) % active.length]!);
      for (const c of CASES) {
        for (const server of order) {
          if (!server.windowed && c.id.startsWith('w')) continue;
          await warm(path.join(root, 'big.bin'));
          const srv = await server.start();
          try {
            pinServer(srv.pid);
            // An untimed transfer first: the appliance is a long-running process, so rhevboot is
            // measured with its JIT warm, as it serves; the C servers lose nothing by it.
            await run(...clientCmd(['netns', 'exec', net.clientNs, 'atftp', '--tftp-timeout', '2', ...c.options.flatMap((o) => ['--option', o]), '-g', '-r', 'warm.bin', '-l', out, ip]), 120000);
            await rm(out, { force: true });
            const cpu0 = cpuSeconds(srv.pid);
            const before = await srv.stats?.();
            const r = await run(...clientCmd(['netns', 'exec', net.clientNs, 'atftp', '--tftp-timeout', '2', ...c.options.flatMap((o) => ['--option', o]), '-g', '-r', 'big.bin', '-l', out, ip]), 300000);
            // Server CPU per MiB: how much of the time is the server's own work, separate from waiting.
            // (n/a for tftpd-hpa: its per-transfer children are reaped with SIGCHLD ignored, uncounted.)
            const cpuMsPerMiB = ((cpuSeconds(srv.pid) - cpu0) * 1000) / (FILE_SIZE / MiB);
            const after = await srv.stats?.();
            const resent =
              before && after
                ? `  resent ${after.retransmits! - before.retransmits!} of ${after.dataSent! - before.dataSent!}, ${after.relayed! - before.relayed!} relayed by the socket`
                : '';
            let size = 0;
            try {
              size = (await stat(out)).size;
            } catch {
              // no output
            }
            await rm(out, { force: true });
            const ok = r.code === 0 && size === FILE_SIZE;
            const v = FILE_SIZE / MiB / (r.ms / 1000);
            if (ok) samples.get(server.name)!.get(c.id)!.push(v);
            else failures.set(`${server.name} ${c.id}`, `fail(${r.code}, ${size} bytes)`);
            process.stdout.write(`tftp bench: round ${round} ${server.name.padEnd(10)} ${c.label.padEnd(16)} ${ok ? v.toFixed(1) + ' MiB/s' : `fail(${r.code})`}  server CPU ${cpuMsPerMiB > 0 ? cpuMsPerMiB.toFixed(2) + ' ms/MiB' : 'n/a'}${resent}\n`);
          } finally {
            await srv.stop();
          }
        }
      }
    }
    const results = new Map<string, Map<string, number | string>>();
    for (const server of active) {
      const row = new Map<string, number | string>();
      for (const c of CASES) {
        if (!server.windowed && c.id.startsWith('w')) {
          row.set(c.label, 'n/a');
          continue;
        }
        const xs = samples.get(server.name)!.get(c.id)!;
        // A case that failed in any round is reported as failed: a median must not hide it.
        row.set(c.label, failures.get(`${server.name} ${c.id}`) ?? median(xs));
      }
      results.set(server.name, row);
    }

    const ours = results.get('rhevboot') ?? new Map<string, number | string>();
    const others = active.map((sv) => sv.name).filter((n) => n !== 'rhevboot');
    const fmt = (v: number | string | undefined) => (typeof v === 'number' ? v.toFixed(1) : String(v ?? '-'));
    const ratio = (a: number | string | undefined, b: number | string | undefined) => (typeof a === 'number' && typeof b === 'number' ? (a / b).toFixed(2) + 'x' : '-');
    const header = [`case (atftp client, ${FILE_SIZE / MiB} MiB, veth, median of ${RUNS}, pin ${PIN})`, 'rhevboot', ...others, ...others.map((o) => `vs ${o}`)];
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
