/**
 * Finds what the boot tests need: a bzImage for qemu and a statically linked busybox for the
 * initramfs. Never skips: a missing piece is an error that says how to provide it.
 */
import { access, constants, open, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const cachedKernel = path.join(repoRoot, '.cache', 'kernel', 'vmlinuz');

async function readable(p: string): Promise<boolean> {
  try {
    await access(p, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/** Orders vmlinuz-6.1.0-9 before vmlinuz-6.1.0-10. */
function versionCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/** `$RHEVBOOT_TEST_KERNEL`, else the newest readable /boot/vmlinuz-*, else <repo>/.cache/kernel/vmlinuz. */
export async function findKernel(): Promise<string | undefined> {
  const env = process.env.RHEVBOOT_TEST_KERNEL;
  if (env) return env;
  try {
    const boot = (await readdir('/boot')).filter((n) => n.startsWith('vmlinuz-')).sort(versionCompare).reverse();
    // Some distributions make /boot/vmlinuz-* root-only; skip those rather than fail inside qemu.
    for (const n of boot) if (await readable(path.join('/boot', n))) return path.join('/boot', n);
  } catch {
    // no /boot
  }
  return (await readable(cachedKernel)) ? cachedKernel : undefined;
}

export async function requireKernel(): Promise<string> {
  const k = await findKernel();
  if (!k) {
    throw new Error(
      `no Linux kernel image for the boot test: set RHEVBOOT_TEST_KERNEL, or run test/helpers/fetch-kernel.sh (puts one at ${cachedKernel})`,
    );
  }
  if (!(await readable(k))) throw new Error(`kernel image ${k} is not readable`);
  return k;
}

/**
 * True for an ELF executable without a PT_INTERP program header, i.e. one that runs with no
 * dynamic loader or libraries, which is what an initramfs with a single binary needs.
 */
export async function isStaticElf(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const ehdr = Buffer.alloc(64);
    await fh.read(ehdr, 0, 64, 0);
    if (ehdr.readUInt32BE(0) !== 0x7f454c46) return false;
    const is64 = ehdr[4] === 2;
    const le = ehdr[5] === 1;
    const u16 = (b: Buffer, o: number): number => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
    const u32 = (b: Buffer, o: number): number => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const phoff = is64 ? Number(le ? ehdr.readBigUInt64LE(32) : ehdr.readBigUInt64BE(32)) : u32(ehdr, 28);
    const phentsize = u16(ehdr, is64 ? 54 : 42);
    const phnum = u16(ehdr, is64 ? 56 : 44);
    const ph = Buffer.alloc(phentsize * phnum);
    await fh.read(ph, 0, ph.length, phoff);
    for (let i = 0; i < phnum; i++) if (u32(ph, i * phentsize) === 3 /* PT_INTERP */) return false;
    return true;
  } finally {
    await fh.close();
  }
}

/** `$RHEVBOOT_TEST_BUSYBOX`, else Debian busybox-static's /bin/busybox; it must be static. */
export async function requireStaticBusybox(): Promise<string> {
  const candidates = [process.env.RHEVBOOT_TEST_BUSYBOX, '/bin/busybox', '/usr/bin/busybox'].filter(
    (p): p is string => !!p,
  );
  for (const p of candidates) {
    if (!(await readable(p))) continue;
    if (await isStaticElf(p)) return p;
    throw new Error(`${p} is dynamically linked; the test initramfs has no libraries (install busybox-static)`);
  }
  throw new Error('no busybox found: install the Debian package busybox-static or set RHEVBOOT_TEST_BUSYBOX');
}

/** Where test/helpers/fetch-kernel.sh keeps the modules that match `cachedKernel`. */
export const cachedKernelModules = path.join(repoRoot, '.cache', 'kernel', 'modules');

/**
 * The cached kernel (always `.cache/kernel/vmlinuz`, never /boot: a module loads only into the
 * build it came from) and, for each named module, the .ko files to insmod in order, dependencies
 * first and each file once. Fails, naming the fix, when fetch-kernel.sh has not run.
 */
export async function requireKernelWithModules(modules: string[]): Promise<{ kernel: string; modules: string[] }> {
  const fix = 'run test/helpers/fetch-kernel.sh (needs apt metadata and the Debian package kmod)';
  if (!(await readable(cachedKernel))) throw new Error(`no cached kernel at ${cachedKernel}: ${fix}`);
  const ordered: string[] = [];
  for (const m of modules) {
    let list: string;
    try {
      list = await readFile(path.join(cachedKernelModules, `${m}.deps`), 'utf8');
    } catch {
      throw new Error(`no module ${m} for the cached kernel in ${cachedKernelModules}: ${fix}`);
    }
    for (const ko of list.split('\n').map((l) => l.trim()).filter(Boolean)) {
      const file = path.join(cachedKernelModules, ko);
      if (!(await readable(file))) throw new Error(`${file} is missing: ${fix}`);
      if (!ordered.includes(file)) ordered.push(file);
    }
  }
  return { kernel: cachedKernel, modules: ordered };
}
