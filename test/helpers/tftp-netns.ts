/**
 * Two network namespaces joined by a veth pair for TFTP tests with real clients: the server runs
 * in `rbtS<pid>` (a child process, see tftp-server-child.ts), clients in `rbtC<pid>`. Addresses
 * come from 10.232.0.0/16, a /30 per test process. Nothing touches the root namespace's network.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TransferEvent } from '../../src/tftp/server.js';

/** Tools the TFTP tests run, and the Debian package each comes from. */
export const TFTP_TEST_TOOLS: { bin: string; pkg: string }[] = [
  { bin: 'ip', pkg: 'iproute2' },
  { bin: 'nft', pkg: 'nftables' },
  { bin: 'tftp', pkg: 'tftp-hpa' },
  { bin: 'atftp', pkg: 'atftp' },
  { bin: 'curl', pkg: 'curl' },
];

function which(bin: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Fails (never skips) when a tool is missing, naming the package to install. */
export function requireTools(tools = TFTP_TEST_TOOLS): void {
  const missing = tools.filter((t) => !which(t.bin));
  if (missing.length > 0) {
    throw new Error(`missing tools: ${missing.map((t) => t.bin).join(', ')}; run: apt-get install -y --no-install-recommends ${missing.map((t) => t.pkg).join(' ')}`);
  }
  if (process.getuid?.() !== 0) throw new Error('the TFTP namespace tests create network namespaces and must run as root');
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export function run(cmd: string, args: string[], timeoutMs = 60000): Promise<RunResult> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: unknown }).code as number | null) ?? null : 0;
      resolve({ code: typeof code === 'number' ? code : null, stdout: String(stdout), stderr: String(stderr), ms: Date.now() - t0 });
    });
  });
}

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10000 });
}

export class NetnsPair {
  readonly serverNs: string;
  readonly clientNs: string;
  readonly serverIp: string;
  readonly clientIp: string;
  private created: string[] = [];

  constructor(tag: string) {
    this.serverNs = `rbtS${tag}${process.pid}`;
    this.clientNs = `rbtC${tag}${process.pid}`;
    // One /30 per process in 10.232.0.0/16 (16,384 of them).
    const idx = (process.pid * 7 + tag.charCodeAt(0)) % 16384;
    const n = idx * 4;
    const a = `10.232.${n >> 8}.`;
    this.serverIp = a + ((n & 0xff) + 1);
    this.clientIp = a + ((n & 0xff) + 2);
  }

  setUp(): void {
    for (const ns of [this.serverNs, this.clientNs]) {
      try {
        ip(['netns', 'del', ns]);
      } catch {
        // not there: the normal case
      }
      ip(['netns', 'add', ns]);
      this.created.push(ns);
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    ip(['-n', this.serverNs, 'link', 'add', 'rbts0', 'type', 'veth', 'peer', 'name', 'rbtc0', 'netns', this.clientNs]);
    ip(['-n', this.serverNs, 'addr', 'add', `${this.serverIp}/30`, 'dev', 'rbts0']);
    ip(['-n', this.clientNs, 'addr', 'add', `${this.clientIp}/30`, 'dev', 'rbtc0']);
    ip(['-n', this.serverNs, 'link', 'set', 'rbts0', 'up']);
    ip(['-n', this.clientNs, 'link', 'set', 'rbtc0', 'up']);
  }

  /** Runs a command in the client namespace. */
  client(cmd: string, args: string[], timeoutMs = 60000): Promise<RunResult> {
    return run('ip', ['netns', 'exec', this.clientNs, cmd, ...args], timeoutMs);
  }

  /**
   * Random loss of `percent` % of UDP packets arriving at each side of the link. (This kernel has
   * no sch_netem, so `tc qdisc ... netem loss` is unavailable; nftables' numgen does the same
   * job. Dropping on input, not output: a drop in the output hook fails the sender's sendmsg with
   * EPERM, which curl treats as fatal, and a real lossy link never tells the sender.) Requests to
   * port 69 are spared: losing an RRQ only tests the client's patience.
   */
  setLoss(percent: number): void {
    for (const ns of [this.serverNs, this.clientNs]) {
      execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], {
        input: `table inet rbtloss {\n chain in {\n  type filter hook input priority 0; policy accept;\n  udp dport != 69 numgen random mod 100 < ${percent} counter drop\n }\n}\n`,
        timeout: 10000,
      });
    }
  }

  clearLoss(): void {
    for (const ns of [this.serverNs, this.clientNs]) {
      try {
        execFileSync('ip', ['netns', 'exec', ns, 'nft', 'delete', 'table', 'inet', 'rbtloss'], { stdio: 'ignore', timeout: 10000 });
      } catch {
        // no table
      }
    }
  }

  /** Packets the loss rules dropped (both sides). */
  dropped(): number {
    let total = 0;
    for (const ns of [this.serverNs, this.clientNs]) {
      try {
        const out = execFileSync('ip', ['netns', 'exec', ns, 'nft', 'list', 'table', 'inet', 'rbtloss'], { timeout: 10000 }).toString();
        total += Number(/packets (\d+)/.exec(out)?.[1] ?? 0);
      } catch {
        // no table
      }
    }
    return total;
  }

  tearDown(): void {
    for (const ns of this.created.splice(0)) {
      try {
        ip(['netns', 'del', ns]);
      } catch {
        // already gone
      }
    }
  }
}

export interface ServerChild {
  pid: number;
  events: TransferEvent[];
  stats(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

const here = path.dirname(fileURLToPath(import.meta.url));

/** `nodeArgs` go to the child's node (the bench passes `--cpu-prof` to profile the server). */
export async function startServerChild(ns: string, cfg: Record<string, unknown>, nodeArgs: string[] = []): Promise<ServerChild> {
  const child: ChildProcess = spawn('ip', ['netns', 'exec', ns, process.execPath, ...nodeArgs, '--import', 'tsx', path.join(here, 'tftp-server-child.ts')], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, RBT_TFTP_CHILD: JSON.stringify(cfg) },
  });
  const pid = child.pid!;
  const events: TransferEvent[] = [];
  const waiting = new Map<number, (s: Record<string, number>) => void>();
  let nextId = 1;
  let exited = false;
  child.on('exit', () => (exited = true));
  const ready = new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('TFTP server child did not start in 20 s')), 20000);
    child.on('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`TFTP server child exited with ${code}`));
    });
    child.on('message', (m: { ready?: number; event?: TransferEvent; id?: number; stats?: Record<string, number> }) => {
      if (m.ready !== undefined) {
        clearTimeout(t);
        resolve();
      }
      if (m.event) events.push(m.event);
      if (m.id !== undefined && m.stats) waiting.get(m.id)?.(m.stats);
    });
  });
  try {
    await ready;
  } catch (err) {
    if (!exited) process.kill(pid, 'SIGKILL');
    throw err;
  }
  return {
    pid,
    events,
    stats() {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no stats from the server child')), 5000);
        waiting.set(id, (s) => {
          clearTimeout(t);
          waiting.delete(id);
          resolve(s);
        });
        child.send({ cmd: 'stats', id });
      });
    },
    async close() {
      if (exited) return;
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      try {
        child.send({ cmd: 'close' });
      } catch {
        // channel already closed
      }
      const timer = setTimeout(() => {
        if (!exited) process.kill(pid, 'SIGKILL');
      }, 3000);
      await gone;
      clearTimeout(timer);
    },
  };
}

export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file, { highWaterMark: 1024 * 1024 })
      .on('data', (c) => h.update(c))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}
