/**
 * The PXE end-to-end lab (modelled on shared/lab/boot_test.sh, with rhevboot as the only server):
 * one network namespace `rbe<pid>` holding a bridge (10.233.0.1/24, the appliance's address) and
 * a tap for qemu. rhevboot (DHCP, TFTP, HTTP) and qemu run inside it through `ip netns exec`,
 * which execs in place, so every child's PID is the process itself. Nothing is attached to the
 * root namespace, so no packet leaves. `destroy()` ends our children by PID (TERM, then KILL),
 * then deletes the namespace; it is safe to call twice and after a failure.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, type WriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { REPO_ROOT } from './cli.js';

/** Every Debian package the e2e test needs, and why (apt-get install --no-install-recommends). */
export const E2E_PACKAGES: Record<string, string> = {
  'qemu-system-x86': 'qemu-system-x86_64, SeaBIOS',
  'ipxe-qemu': 'the iPXE option ROMs qemu puts on its NICs (the BIOS PXE stack)',
  ipxe: 'ipxe.efi and undionly.kpxe, copied into the TFTP root',
  pxelinux: 'pxelinux.0, copied into the TFTP root',
  'syslinux-common': 'ldlinux.c32, which pxelinux.0 loads',
  ovmf: 'OVMF (UEFI firmware for qemu)',
  'busybox-static': 'the userland of the installer initramfs',
  cpio: 'packs the installer initramfs',
  xorriso: 'builds the RHEV-H-shaped ISO',
  iproute2: 'ip netns, bridge, tap',
  curl: 'reads the node timeline from the HTTP API inside the namespace',
  kmod: 'depmod/modprobe, used by test/helpers/fetch-kernel.sh to pick the guest kernel modules',
};

interface Need {
  what: string;
  pkg: keyof typeof E2E_PACKAGES;
  ok: () => boolean;
}

const onPath = (bin: string) => (): boolean => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const isFile = (file: string) => (): boolean => existsSync(file);

export const FILES = {
  pxelinux: '/usr/lib/PXELINUX/pxelinux.0',
  ldlinux: '/usr/lib/syslinux/modules/bios/ldlinux.c32',
  ipxeEfi: '/usr/lib/ipxe/ipxe.efi',
  undionly: '/usr/lib/ipxe/undionly.kpxe',
  ovmfCode: '/usr/share/OVMF/OVMF_CODE.fd',
  ovmfVars: '/usr/share/OVMF/OVMF_VARS.fd',
  e1000Rom: '/usr/lib/ipxe/qemu/pxe-e1000.rom',
};

const NEEDS: Need[] = [
  { what: 'qemu-system-x86_64', pkg: 'qemu-system-x86', ok: onPath('qemu-system-x86_64') },
  { what: FILES.e1000Rom, pkg: 'ipxe-qemu', ok: isFile(FILES.e1000Rom) },
  { what: FILES.ipxeEfi, pkg: 'ipxe', ok: isFile(FILES.ipxeEfi) },
  { what: FILES.undionly, pkg: 'ipxe', ok: isFile(FILES.undionly) },
  { what: FILES.pxelinux, pkg: 'pxelinux', ok: isFile(FILES.pxelinux) },
  { what: FILES.ldlinux, pkg: 'syslinux-common', ok: isFile(FILES.ldlinux) },
  { what: FILES.ovmfCode, pkg: 'ovmf', ok: isFile(FILES.ovmfCode) },
  { what: 'cpio', pkg: 'cpio', ok: onPath('cpio') },
  { what: 'xorriso', pkg: 'xorriso', ok: onPath('xorriso') },
  { what: 'ip', pkg: 'iproute2', ok: onPath('ip') },
  { what: 'curl', pkg: 'curl', ok: onPath('curl') },
];

/** Fails (never skips) when something is missing, naming the Debian package. */
export function requireE2eTools(): void {
  if (process.getuid?.() !== 0) throw new Error('the PXE e2e test must run as root (ip netns, tap devices, mknod)');
  const missing = NEEDS.filter((n) => !n.ok());
  if (missing.length) {
    const pkgs = [...new Set(missing.map((m) => m.pkg))];
    throw new Error(
      `missing for the PXE e2e test: ${missing.map((m) => `${m.what} (Debian package ${m.pkg})`).join(', ')}; ` +
        `run: apt-get install -y --no-install-recommends ${pkgs.join(' ')}`,
    );
  }
}

/**
 * TCG always (pxe-lab G1): this machine's /dev/kvm is kvm_pvm, under which the iPXE option ROM
 * triple-faults. Elsewhere KVM would work, but TCG keeps the timings comparable everywhere.
 */
export const QEMU_ACCEL = ['-accel', 'tcg'];

export interface ManagedProcess {
  child: ChildProcess;
  logFile: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export class PxeLab {
  readonly ns = `rbe${process.pid}`;
  readonly serverIp = '10.233.0.1';
  readonly cidr = '10.233.0.0/24';
  readonly bridge = 'br0';
  readonly tap = 'tap0';
  private readonly children = new Set<ChildProcess>();
  private created = false;

  /** Creates the namespace, the bridge with the appliance's address, and the tap qemu attaches to. */
  up(): void {
    spawnSync('ip', ['netns', 'del', this.ns]);
    this.must(['ip', 'netns', 'add', this.ns]);
    this.created = true;
    this.in(['ip', 'link', 'set', 'lo', 'up']);
    // IPv4 only (pxe-lab G7): rhevboot sends no IPv6 router advertisements, so the segment gets
    // no IPv6 at all; the namespace then sends no RS/MLD/DAD of its own. iPXE still looks for a
    // router and waits for that to time out, which is the cost measured in the timings.
    this.in(['sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1']);
    this.in(['sysctl', '-q', '-w', 'net.ipv6.conf.default.disable_ipv6=1']);
    this.in(['ip', 'link', 'add', this.bridge, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
    this.in(['ip', 'addr', 'add', `${this.serverIp}/24`, 'dev', this.bridge]);
    this.in(['ip', 'tuntap', 'add', 'dev', this.tap, 'mode', 'tap']);
    this.in(['ip', 'link', 'set', this.tap, 'master', this.bridge]);
    this.in(['ip', 'link', 'set', this.tap, 'up']);
    this.in(['ip', 'link', 'set', this.bridge, 'up']);
    // What rhevboot's DHCP server asks of the provisioning interface (src/dhcp/server.ts): the
    // limited broadcast goes out of it.
    this.in(['ip', 'route', 'add', '255.255.255.255/32', 'dev', this.bridge]);
  }

  /** Runs a command inside the namespace, synchronously and bounded; throws on failure. */
  in(cmd: string[], timeoutMs = 20_000): string {
    return this.must(['ip', 'netns', 'exec', this.ns, ...cmd], timeoutMs);
  }

  private must(cmd: string[], timeoutMs = 20_000): string {
    const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', timeout: timeoutMs });
    if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}`);
    return r.stdout;
  }

  /** Starts a long-running process in the namespace; stdout and stderr go to `logFile`. */
  spawn(cmd: string[], logFile: string, opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): ManagedProcess {
    const out: WriteStream = createWriteStream(logFile, { flags: 'a' });
    const child = spawn('ip', ['netns', 'exec', this.ns, ...cmd], { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env, cwd: opts.cwd ?? REPO_ROOT });
    child.stdout!.pipe(out, { end: false });
    child.stderr!.pipe(out, { end: false });
    this.children.add(child);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.on('close', (code, signal) => {
        this.children.delete(child);
        out.end();
        resolve({ code, signal });
      });
    });
    return { child, logFile, exited };
  }

  /** Ends one of our processes by PID: TERM, then KILL after `graceMs`. */
  async stop(p: ManagedProcess, graceMs = 5000): Promise<void> {
    if (p.child.exitCode !== null || p.child.signalCode !== null || !p.child.pid) return;
    p.child.kill('SIGTERM');
    const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
    await p.exited;
    clearTimeout(timer);
  }

  /** Kills every process we started (by PID), then deletes the namespace (and with it br0/tap0). */
  async destroy(): Promise<void> {
    for (const c of this.children) if (c.pid && c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    const deadline = Date.now() + 5000;
    while (this.children.size && Date.now() < deadline) await sleep(50);
    for (const c of this.children) if (c.pid && c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    if (!this.created) return;
    // Anything still in the namespace was started by us (it exists only for this test file).
    const pids = spawnSync('ip', ['netns', 'pids', this.ns], { encoding: 'utf8' }).stdout?.split('\n').filter(Boolean) ?? [];
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    spawnSync('ip', ['netns', 'del', this.ns]);
    this.created = false;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'latin1');
  } catch {
    return '';
  }
}

export function readTextSync(file: string): string {
  try {
    return readFileSync(file, 'latin1');
  } catch {
    return '';
  }
}
