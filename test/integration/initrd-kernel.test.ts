/*
 * The real acceptance test for buildPxeInitrd: a Debian kernel in qemu (TCG, no network) unpacks
 * the built initrd and a busybox /init checks that /rhevh.iso arrived intact.
 *
 * Needs qemu-system-x86 and busybox-static, plus a kernel image (see test/helpers/kernel.ts;
 * CI runs test/helpers/fetch-kernel.sh).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { writeCpioArchive } from '../../src/cpio/writer.js';
import { buildPxeInitrd } from '../../src/media/initrd.js';
import { requireKernel, requireStaticBusybox } from '../helpers/kernel.js';

const QEMU = process.env.RHEVBOOT_TEST_QEMU ?? 'qemu-system-x86_64';
/** A TCG boot takes ~10 s here; the bound only stops a hung guest from hanging CI. */
const BOOT_LIMIT_MS = 120_000;

// Runs as PID 1 with nothing mounted. It prints exactly one verdict line, then powers off, so
// qemu (-no-reboot) exits by itself.
const INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
want=
for w in $(cat /proc/cmdline); do
  case "$w" in rb_sha=*) want="\${w#rb_sha=}" ;; esac
done
if [ ! -f /rhevh.iso ]; then
  echo "RB-INITRD-BAD missing /rhevh.iso"
else
  size=$(stat -c %s /rhevh.iso)
  got=$(sha256sum /rhevh.iso | cut -d ' ' -f 1)
  if [ -n "$want" ] && [ "$got" = "$want" ]; then
    echo "RB-INITRD-OK $size"
  else
    echo "RB-INITRD-BAD sha256 $got size $size"
  fi
fi
poweroff -f
`;

let tmp: string;
let kernel: string;
let baseInitrd: string;
let payload: string;
let payloadSha: string;
let payloadSize: number;
const children = new Set<number>();

before(async () => {
  const q = spawnSync(QEMU, ['--version']);
  if (q.error) throw new Error(`${QEMU} is required for this test (Debian package qemu-system-x86): ${q.error.message}`);
  kernel = await requireKernel();
  const busybox = await requireStaticBusybox();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'rb-initrd-kernel-'));

  // The base initrd stands in for RHEV-H's initrd0.img: a gzip-compressed newc archive. Its
  // length must not be a multiple of 4, or the good builds would not need the zero pad; a filler
  // file of random (incompressible) bytes moves the length until it is not.
  baseInitrd = path.join(tmp, 'base.img');
  for (let attempt = 1; ; attempt++) {
    await buildBase(busybox, baseInitrd, randomBytes(attempt));
    const size = (await stat(baseInitrd)).size;
    if (size % 4 !== 0) break;
    if (attempt === 32) throw new Error('could not make a base initrd whose length is not a multiple of 4');
  }

  payloadSize = 3 * 1024 * 1024 + 5;
  const data = randomBytes(payloadSize);
  payloadSha = createHash('sha256').update(data).digest('hex');
  payload = path.join(tmp, 'payload.iso');
  await writeFile(payload, data);
});

after(async () => {
  for (const pid of children) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function buildBase(busybox: string, out: string, filler: Buffer): Promise<void> {
  const raw = path.join(tmp, 'base.cpio');
  const fh = await open(raw, 'w');
  try {
    await writeCpioArchive(
      fh,
      [
        { type: 'directory', name: 'bin' },
        { type: 'directory', name: 'dev' },
        { type: 'directory', name: 'proc' },
        // Without /dev/console in the archive, /init starts with no stdout at all.
        { type: 'device', name: 'dev/console', device: 'char', major: 5, minor: 1, mode: 0o600 },
        { type: 'file', name: 'bin/busybox', path: busybox, mode: 0o755 },
        { type: 'buffer', name: 'init', data: Buffer.from(INIT), mode: 0o755 },
        { type: 'buffer', name: 'filler', data: filler },
      ],
      { position: 0, padToBlock: true, firstIno: 1 },
    );
  } finally {
    await fh.close();
  }
  await pipeline(createReadStream(raw), createGzip({ level: 6 }), createWriteStream(out));
}

interface Boot {
  log: string;
  timedOut: boolean;
  exitCode: number | null;
  seconds: number;
}

async function boot(initrd: string, tag: string): Promise<Boot> {
  const serial = path.join(tmp, `${tag}.serial.log`);
  const args = [
    '-accel', 'tcg', // no KVM here (kvm_pvm), and CI runners may have none either
    '-machine', 'pc',
    '-m', '512',
    '-smp', '1',
    '-nographic',
    '-monitor', 'none',
    '-no-reboot',
    '-nic', 'none',
    '-serial', `file:${serial}`,
    '-kernel', kernel,
    '-initrd', initrd,
    '-append', `console=ttyS0 panic=-1 quiet loglevel=4 rb_sha=${payloadSha}`,
  ];
  const started = Date.now();
  const child = spawn(QEMU, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  if (child.pid !== undefined) children.add(child.pid);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
  }, BOOT_LIMIT_MS);
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => resolve(code));
  }).finally(() => {
    clearTimeout(timer);
    if (child.pid !== undefined) children.delete(child.pid);
  });
  let log = '';
  try {
    log = await readFile(serial, 'utf8');
  } catch {
    // qemu failed before creating it; stderr says why
  }
  if (stderr.trim()) log += `\n[qemu stderr]\n${stderr}`;
  return { log, timedOut, exitCode, seconds: (Date.now() - started) / 1000 };
}

function verdict(b: Boot): string {
  return `after ${b.seconds.toFixed(1)} s (timed out: ${b.timedOut}, exit ${b.exitCode}); serial log tail:\n${b.log.slice(-3000)}`;
}

describe('kernel accepts the built initrd', { timeout: 4 * BOOT_LIMIT_MS }, () => {
  for (const compress of ['none', 'gzip'] as const) {
    it(`finds /rhevh.iso with the right sha256 (compress: ${compress})`, async (t) => {
      const out = path.join(tmp, `pxe-${compress}.img`);
      await buildPxeInitrd({ baseInitrd, appendFile: payload, appendName: 'rhevh.iso', outFile: out, compress });
      const b = await boot(out, compress);
      t.diagnostic(`boot ${b.seconds.toFixed(1)} s: ${b.log.match(/RB-INITRD-\S+.*/)?.[0] ?? 'no verdict'}`);
      assert.equal(b.timedOut, false, `qemu did not power off in time ${verdict(b)}`);
      assert.match(b.log, new RegExp(`RB-INITRD-OK ${payloadSize}\\b`), verdict(b));
      assert.doesNotMatch(b.log, /RB-INITRD-BAD|Initramfs unpacking failed/, verdict(b));
    });
  }

  it('rejects an uncompressed member that starts at a non-4-aligned offset', async (t) => {
    // The same bytes as a good build, with the member shifted off alignment. This is what a
    // naive `cat` gives 3 times in 4, and shows the positive checks above can fail.
    const good = path.join(tmp, 'pxe-none.img');
    const bytes = await readFile(good);
    const baseLen = (await readFile(baseInitrd)).length;
    const member = bytes.subarray(Math.ceil(baseLen / 4) * 4);
    assert.notEqual(baseLen % 4, 0);
    const misaligned = Buffer.concat([bytes.subarray(0, baseLen), member]);
    assert.notEqual((misaligned.length - member.length) % 4, 0);
    const bad = path.join(tmp, 'pxe-misaligned.img');
    await writeFile(bad, misaligned);
    const b = await boot(bad, 'misaligned');
    t.diagnostic(`boot ${b.seconds.toFixed(1)} s: ${b.log.match(/Initramfs unpacking failed.*|RB-INITRD-\S+.*/g)?.join(' | ') ?? 'no verdict'}`);
    assert.equal(b.timedOut, false, `qemu did not power off in time ${verdict(b)}`);
    assert.doesNotMatch(b.log, /RB-INITRD-OK/, verdict(b));
    assert.match(b.log, /Initramfs unpacking failed|RB-INITRD-BAD missing/, verdict(b));
  });
});
