/**
 * Builds a RHEV-H-shaped ISO for tests: the livecd-creator layout (isolinux/vmlinuz0,
 * isolinux/initrd0.img as a gzip newc cpio, isolinux/isolinux.cfg with root=live:CDLABEL=...,
 * LiveOS/squashfs.img), Rock Ridge + Joliet and an El Torito boot entry, made with xorriso as the
 * real images are made with mkisofs. Contents are random: nothing here pretends to boot.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { run } from './iso-build.js';

export interface RhevhIsoOptions {
  /** Volume id; the default names the distro rhevh6.5. */
  volumeId?: string;
  /** Size of LiveOS/squashfs.img in bytes (random, incompressible like a real squashfs). */
  squashBytes?: number;
  /** Seed-ish marker so two ISOs of the same shape differ. */
  flavour?: string;
  /** Leave out a file, to make a broken image. */
  omit?: string[];
  isolinuxCfg?: string;
}

export const RHEVH_CFG = (label: string): string => `default vesamenu.c32
timeout 30
menu background splash.jpg
menu title Red Hat Enterprise Virtualization Hypervisor 6.5-20140603.2.el6ev
label linux
  menu label Boot
  kernel vmlinuz0
  append initrd=initrd0.img root=live:CDLABEL=${label} rootfstype=auto ro liveimg nomodeset check rootflags=ro crashkernel=512M-2G:64M,2G-:128M elevator=deadline processor.max_cstate=1 install rhgb rd_NO_LUKS rd_NO_MD rd_NO_DM
label check0
  menu label Verify and Boot
  kernel vmlinuz0
  append initrd=initrd0.img root=live:CDLABEL=${label} rootfstype=auto ro liveimg nomodeset quiet rhgb rd.luks=0 rd.md=0 rd.dm=0 check
`;

async function randomFile(file: string, bytes: number): Promise<void> {
  const chunk = 1024 * 1024;
  let left = bytes;
  await pipeline(
    Readable.from(
      (function* () {
        while (left > 0) {
          const n = Math.min(chunk, left);
          left -= n;
          yield randomBytes(n);
        }
      })(),
    ),
    createWriteStream(file),
  );
}

/** Writes the tree under `<work>/tree` and the image to `iso`. */
export async function makeRhevhIso(work: string, iso: string, opts: RhevhIsoOptions = {}): Promise<void> {
  const volumeId = opts.volumeId ?? 'RHEV-Hypervisor-6.5-20140603.2';
  const tree = path.join(work, `tree-${path.basename(iso)}`);
  await mkdir(path.join(tree, 'isolinux'), { recursive: true });
  await mkdir(path.join(tree, 'LiveOS'), { recursive: true });
  const omit = new Set(opts.omit ?? []);
  const put = async (rel: string, data: Buffer | string): Promise<void> => {
    if (!omit.has(rel)) await writeFile(path.join(tree, rel), data);
  };

  // A real gzip newc initramfs, like dracut's, made with GNU cpio.
  const initramfs = path.join(work, `initramfs-${path.basename(iso)}`);
  await mkdir(path.join(initramfs, 'etc'), { recursive: true });
  await writeFile(path.join(initramfs, 'init'), `#!/bin/sh\n# ${opts.flavour ?? ''}\necho dracut\n`, { mode: 0o755 });
  await writeFile(path.join(initramfs, 'etc/release'), randomBytes(12345));
  if (!omit.has('isolinux/initrd0.img')) {
    await run('sh', ['-c', `cd '${initramfs}' && find . | cpio -o -H newc --quiet | gzip -1 > '${path.join(tree, 'isolinux/initrd0.img')}'`]);
  }
  await put('isolinux/vmlinuz0', Buffer.concat([Buffer.from(`kernel ${opts.flavour ?? ''}`), randomBytes(1024 * 1024 + 3)]));
  await put('isolinux/isolinux.bin', randomBytes(24 * 1024));
  await put('isolinux/vesamenu.c32', randomBytes(155_000));
  await put('isolinux/splash.jpg', randomBytes(40_000));
  await put('isolinux/isolinux.cfg', opts.isolinuxCfg ?? RHEVH_CFG(`${volumeId}.el6ev`));
  await put('LiveOS/livecd-iso-to-pxeboot', '#!/bin/bash\n# Convert a live CD iso so that it can be booted over the network\n');
  if (!omit.has('LiveOS/squashfs.img')) await randomFile(path.join(tree, 'LiveOS/squashfs.img'), opts.squashBytes ?? 4 * 1024 * 1024 + 17);
  await run('xorriso', [
    '-as', 'mkisofs', '-quiet', '-R', '-J', '-joliet-long', '-V', volumeId,
    '-b', 'isolinux/isolinux.bin', '-c', 'isolinux/boot.cat', '-no-emul-boot', '-boot-load-size', '4', '-boot-info-table',
    '-o', iso, tree,
  ]);
}
