/**
 * Network namespaces for the DHCP tests: every namespace is named `rbd<pid><tag>`, every address
 * is in 10.231.0.0/16, and `destroy()` ends the processes it started by PID and deletes the
 * namespaces (which removes their veths). Nothing is attached to the root namespace.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

export interface Tool {
  bin: string;
  pkg: string;
  /** Command that must succeed for the tool to count as installed. */
  probe?: string[];
}

/** Fails (never skips) when a tool is missing, naming the Debian package to install. */
export function requireTools(tools: Tool[]): void {
  const missing = tools.filter((t) => spawnSync('sh', ['-c', `command -v ${t.bin}`]).status !== 0);
  if (missing.length) throw new Error(`missing tools: ${missing.map((t) => `${t.bin} (apt-get install -y --no-install-recommends ${t.pkg})`).join(', ')}`);
  if (process.getuid?.() !== 0) throw new Error('the DHCP namespace tests must run as root (ip netns)');
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export class Lab {
  readonly prefix: string;
  private readonly namespaces: string[] = [];
  private readonly children = new Set<ChildProcess>();
  private hub: string | undefined;
  private ports = 0;

  constructor(tag: string) {
    this.prefix = `rbd${process.pid}${tag}`;
  }

  /** Creates namespace `<prefix><name>` with lo up; returns its full name. */
  addNs(name: string): string {
    const ns = `${this.prefix}${name}`;
    spawnSync('ip', ['netns', 'del', ns]);
    this.must(['ip', 'netns', 'add', ns]);
    this.namespaces.push(ns);
    this.must(['ip', 'netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
    return ns;
  }

  /** A bridge in its own namespace: the shared Ethernet segment. */
  segment(): void {
    this.hub = this.addNs('h');
    this.in(this.hub, ['ip', 'link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
    this.in(this.hub, ['ip', 'link', 'set', 'br0', 'up']);
  }

  /** Plugs `ns` into the segment as interface `dev` (MAC and addresses optional). */
  attach(ns: string, dev: string, opts: { mac?: string; addrs?: string[] } = {}): void {
    if (!this.hub) throw new Error('segment() first');
    const hubSide = `p${++this.ports}`;
    this.in(this.hub, ['ip', 'link', 'add', hubSide, 'type', 'veth', 'peer', 'name', dev, 'netns', ns]);
    this.in(this.hub, ['ip', 'link', 'set', hubSide, 'master', 'br0']);
    this.in(this.hub, ['ip', 'link', 'set', hubSide, 'up']);
    if (opts.mac) this.in(ns, ['ip', 'link', 'set', dev, 'address', opts.mac]);
    for (const a of opts.addrs ?? []) this.in(ns, ['ip', 'addr', 'add', a, 'dev', dev]);
    this.in(ns, ['ip', 'link', 'set', dev, 'up']);
  }

  /** Runs a command in `ns` synchronously; throws on failure. */
  in(ns: string, cmd: string[]): string {
    return this.must(['ip', 'netns', 'exec', ns, ...cmd]);
  }

  private must(cmd: string[]): string {
    const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', timeout: 20_000 });
    if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  }

  /** Runs a command in `ns` to completion, bounded by `timeoutMs` (then SIGKILL by PID). */
  run(ns: string, cmd: string[], timeoutMs = 30_000, env?: NodeJS.ProcessEnv): Promise<RunResult> {
    return new Promise((resolve) => {
      const child = this.spawn(ns, cmd, env);
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => {
        if (child.pid) process.kill(child.pid, 'SIGKILL');
      }, timeoutMs);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  /**
   * Starts a long-running process in `ns`. `ip netns exec` execs the command in place, so the
   * child's PID is the process itself and can be signalled directly.
   */
  spawn(ns: string, cmd: string[], env?: NodeJS.ProcessEnv): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns, ...cmd], { stdio: ['pipe', 'pipe', 'pipe'], env: env ?? process.env });
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    return child;
  }

  /** Ends our processes by PID (TERM, then KILL), then deletes our namespaces. */
  async destroy(): Promise<void> {
    for (const c of this.children) if (c.pid && c.exitCode === null) process.kill(c.pid, 'SIGTERM');
    const deadline = Date.now() + 3000;
    while (this.children.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const c of this.children) if (c.pid && c.exitCode === null) process.kill(c.pid, 'SIGKILL');
    for (const ns of this.namespaces.reverse()) {
      // Processes started by clients themselves (a daemonized dhclient) are found by namespace.
      const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
      for (const pid of pids) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      spawnSync('ip', ['netns', 'del', ns]);
    }
  }
}
