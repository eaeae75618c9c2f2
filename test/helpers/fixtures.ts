/**
 * What many tests need the same of: an imported distro's record, waiting for a condition with a
 * deadline (and saying what was awaited when it does not come), a free port.
 */
import dgram from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DistroRecord } from '../../src/store/store.js';

/**
 * A distro as copycds would have recorded it (rhevh6.5/x86_64, the loaders at their usual paths,
 * a tree at /t that does not exist): what a boot config or nodeset needs to find one. Override what
 * the test looks at.
 */
export function distroRecord(overrides: Partial<DistroRecord> = {}): DistroRecord {
  return {
    name: 'rhevh6.5',
    arch: 'x86_64',
    family: 'rhevh',
    version: '6.5',
    volumeId: 'v',
    sourcePath: '/x.iso',
    isoSha256: 'a'.repeat(64),
    isoBytes: 1,
    fileCount: 1,
    bytes: 1,
    treePath: '/t',
    kernel: 'isolinux/vmlinuz0',
    initrd: 'isolinux/initrd0.img',
    pxeInitrd: 'pxe/initrd0.img',
    pxeInitrdSha256: 'b'.repeat(64),
    pxeInitrdBytes: 1,
    importedAt: '',
    durationMs: 1,
    ...overrides,
  };
}

export interface WaitForOptions {
  /** Give up after this long (default 5 s): a bound on a hang, never what the test waits for. */
  timeoutMs?: number;
  /** Between two looks (default 10 ms). */
  intervalMs?: number;
  /** What is awaited, for the failure message ("the transfer to end"); a function is asked at the
   * failure, for what only then is worth saying (a log so far). */
  what?: string | (() => string);
}

/**
 * Looks at `probe` until it returns something other than undefined or false, and returns that: a
 * condition that comes from outside the test's control (another process, a socket, the kernel).
 * After `timeoutMs` it throws, naming `what`, how long it waited and what probe last returned. A
 * probe that throws ends the wait with its error (a server that died will not become ready).
 * Something the test drives itself needs no polling: see manual-timers.ts.
 */
export async function waitFor<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, opts: WaitForOptions = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const intervalMs = opts.intervalMs ?? 10;
  const started = Date.now();
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() - started >= timeoutMs) {
      const what = typeof opts.what === 'function' ? opts.what() : (opts.what ?? 'the condition');
      throw new Error(`waitFor: ${what} did not happen within ${timeoutMs} ms (the probe last returned ${String(v)})`);
    }
    await sleep(intervalMs);
  }
}

/** A UDP port nobody is bound to on `host` right now (the kernel's pick; closed again at once). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, host, () => resolve()));
  const { port } = s.address();
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/**
 * The environment of an appliance a test runs on loopback: its state in `stateDir`, HTTP and TFTP
 * on 127.0.0.1 at ports the kernel picks, and whatever the test adds.
 */
export function loopbackEnv(stateDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return { RHEVBOOT_STATE_DIR: stateDir, RHEVBOOT_HTTP_HOST: '127.0.0.1', RHEVBOOT_HTTP_PORT: '0', RHEVBOOT_TFTP_HOST: '127.0.0.1', RHEVBOOT_TFTP_PORT: '0', ...extra };
}
