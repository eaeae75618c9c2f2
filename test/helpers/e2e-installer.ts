/**
 * The guest side of the PXE end-to-end test: a RHEV-H-shaped ISO whose isolinux/vmlinuz0 is a
 * real Debian kernel and whose isolinux/initrd0.img is a busybox initramfs that plays the RHEV-H
 * installer, and a "local disk" whose boot sector proves that a node set to local boot really
 * booted from its disk.
 *
 * The installer (/init) does what ovirt-node does at the end of an install, and reports each step
 * on the serial console with an `RBE:` prefix:
 *  - loads the NIC driver modules (pxe-lab G2: every NIC driver is a module in Debian's kernel),
 *  - brings the NIC up with udhcpc (the kernel has no IP autoconfig: `ip=dhcp` is for userspace),
 *  - checks that /rhevh.iso (the cpio rhevboot appended to the initrd) is there and loop-mounts it,
 *    reading a marker file from it,
 *  - reads `local_boot_trigger` and `hostname` from /proc/cmdline, replaces @HOSTNAME@ and calls
 *    the URL (busybox wget under `timeout`, pxe-lab G4),
 *  - prints `RBE: INSTALL DONE` and powers off, so qemu exits.
 */
import { chmod, copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { run } from './iso-build.js';
import { RHEVH_CFG } from './rhevh-iso.js';

/** Printed by the installer right before it powers off, after the trigger answered 200. */
export const INSTALL_DONE = 'RBE: INSTALL DONE';
/** Printed by the local disk's boot sector (it then resets the machine, so qemu -no-reboot exits). */
export const LOCAL_DISK_MARKER = 'RBE-LOCAL-DISK-BOOTED';
/** Content of the marker file inside the ISO, read back by the installer after the loop mount. */
export const ISO_MARKER = 'rhevboot-e2e-iso-marker-7f3a';

const INIT = `#!/bin/busybox sh
/bin/busybox --install -s
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t proc proc /proc
mount -t sysfs sysfs /sys
exec </dev/console >/dev/console 2>&1
say() { echo "RBE: $* (uptime $(cut -d' ' -f1 /proc/uptime))"; }
finish() { say "$1"; sync; poweroff -f; sleep 30; }
say "installer started, kernel $(uname -r)"
echo "RBE: cmdline: $(cat /proc/cmdline)"

for ko in $(cat /lib/modules/load-order); do insmod "/lib/modules/$ko" 2>/dev/null || true; done
i=0; while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
[ -e /sys/class/net/eth0 ] || { ls /sys/class/net; finish "FAIL: no eth0"; }
say "eth0 present mac=$(cat /sys/class/net/eth0/address)"
ip link set lo up
ip link set eth0 up

TRIGGER=; HN=; MS=
for a in $(cat /proc/cmdline); do
  case "$a" in
    local_boot_trigger=*) TRIGGER=\${a#local_boot_trigger=} ;;
    hostname=*) HN=\${a#hostname=} ;;
    management_server=*) MS=\${a#management_server=} ;;
  esac
done
[ -n "$TRIGGER" ] || finish "FAIL: no local_boot_trigger on the command line"
[ -n "$HN" ] || finish "FAIL: no hostname on the command line"

if udhcpc -i eth0 -s /etc/udhcpc.sh -n -q -f -t 8 -T 2 >/tmp/udhcpc.log 2>&1; then
  . /tmp/dhcp.env
  say "udhcpc lease ip=$DHCP_IP hostname=$DHCP_HOSTNAME server=$DHCP_SERVERID"
else
  cat /tmp/udhcpc.log
  finish "FAIL: no DHCP lease"
fi
hostname "$HN"

if [ -f /rhevh.iso ]; then
  say "ISO present /rhevh.iso size=$(stat -c %s /rhevh.iso)"
  mkdir -p /mnt/iso
  if mount -t iso9660 -o loop,ro /rhevh.iso /mnt/iso 2>/tmp/mount.err; then
    say "ISO mounted: $(ls /mnt/iso | tr '\\n' ' ') marker=$(cat /mnt/iso/RBE_MARKER.TXT 2>/dev/null)"
    umount /mnt/iso
  else
    say "ISO mount failed: $(cat /tmp/mount.err)"
  fi
else
  finish "FAIL: ISO MISSING: no /rhevh.iso in the initramfs"
fi

# What vdsm-tool register does on the installed host's first boot (ovirt-api.md §8.3), played here
# right after the trigger: host-register v1 against management_server (plain http in the lab).
register() {
  [ -n "$MS" ] || { say "no management_server: not registering"; return; }
  UUID=$(cat /sys/class/dmi/id/product_uuid 2>/dev/null || cat /sys/class/net/eth0/address)
  R="http://$MS/ovirt-engine/services/host-register?version=1&command=register&name=$HN&address=$DHCP_IP&uniqueId=$UUID&port=54321"
  k=0
  while [ $k -lt 5 ]; do
    if timeout 10 wget -q -O /tmp/register.out "$R" 2>/tmp/register.err; then
      say "registered with $MS: $(cat /tmp/register.out)"
      return
    fi
    k=$((k+1)); sleep 1
  done
  say "registration failed: $(cat /tmp/register.err)"
}

URL=$(echo "$TRIGGER" | sed "s/@HOSTNAME@/$HN/")
say "calling trigger $URL"
n=0
while [ $n -lt 3 ]; do
  if timeout 15 wget -q -O /tmp/trigger.out "$URL" 2>/tmp/trigger.err; then
    say "trigger answered: $(cat /tmp/trigger.out)"
    register
    finish "INSTALL DONE"
  fi
  say "trigger failed: $(cat /tmp/trigger.err)"
  n=$((n+1)); sleep 1
done
finish "FAIL: trigger not accepted"
`;

const UDHCPC_HOOK = `#!/bin/sh
case "$1" in
  deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/\${mask:-24}" dev "$interface"
    { echo "DHCP_IP=$ip"; echo "DHCP_HOSTNAME=$hostname"; echo "DHCP_SERVERID=$serverid"; } > /tmp/dhcp.env ;;
esac
exit 0
`;

/**
 * Builds the installer initramfs (gzip newc, made with GNU cpio as root so /dev/console can be a
 * real device node, pxe-lab G3) at `out`.
 */
export async function buildInstallerInitrd(work: string, out: string, parts: { busybox: string; modules: string[] }): Promise<void> {
  const root = path.join(work, 'installer-root');
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'proc', 'sys', 'dev', 'tmp', 'mnt', 'etc', 'lib/modules']) {
    await mkdir(path.join(root, d), { recursive: true });
  }
  await copyFile(parts.busybox, path.join(root, 'bin/busybox'));
  await chmod(path.join(root, 'bin/busybox'), 0o755);
  await run('mknod', ['-m', '600', path.join(root, 'dev/console'), 'c', '5', '1']);
  await run('mknod', ['-m', '666', path.join(root, 'dev/null'), 'c', '1', '3']);
  for (const ko of parts.modules) await copyFile(ko, path.join(root, 'lib/modules', path.basename(ko)));
  await writeFile(path.join(root, 'lib/modules/load-order'), parts.modules.map((m) => path.basename(m)).join('\n') + '\n');
  await writeFile(path.join(root, 'etc/udhcpc.sh'), UDHCPC_HOOK, { mode: 0o755 });
  await writeFile(path.join(root, 'init'), INIT, { mode: 0o755 });
  await run('sh', ['-c', `cd '${root}' && find . | cpio -o -H newc --quiet -R 0:0 | gzip -6 > '${out}'`]);
}

/**
 * A RHEV-H-shaped ISO (the layout copycds recognises: isolinux/vmlinuz0, isolinux/initrd0.img,
 * isolinux/isolinux.cfg with root=live:, LiveOS/squashfs.img) that really boots: the kernel is
 * `kernel`, the initrd the installer above. Volume id RHEV-Hypervisor-6.5-... names it rhevh6.5.
 */
export async function makeBootableRhevhIso(work: string, iso: string, parts: { kernel: string; busybox: string; modules: string[] }): Promise<void> {
  const volumeId = 'RHEV-Hypervisor-6.5-e2e';
  const tree = path.join(work, 'iso-tree');
  await mkdir(path.join(tree, 'isolinux'), { recursive: true });
  await mkdir(path.join(tree, 'LiveOS'), { recursive: true });
  await copyFile(parts.kernel, path.join(tree, 'isolinux/vmlinuz0'));
  await buildInstallerInitrd(work, path.join(tree, 'isolinux/initrd0.img'), parts);
  await writeFile(path.join(tree, 'isolinux/isolinux.cfg'), RHEVH_CFG(`${volumeId}.el6ev`));
  // Not a squashfs: nothing mounts it here, copycds only needs it to be there.
  await writeFile(path.join(tree, 'LiveOS/squashfs.img'), Buffer.alloc(64 * 1024, 0x5a));
  await writeFile(path.join(tree, 'RBE_MARKER.TXT'), `${ISO_MARKER}\n`);
  await run('xorriso', ['-as', 'mkisofs', '-quiet', '-R', '-J', '-V', volumeId, '-o', iso, tree]);
}

/**
 * A 1 MiB raw disk whose MBR boot code writes LOCAL_DISK_MARKER to COM1 and then resets the
 * machine through the keyboard controller (qemu -no-reboot turns that into an exit). Hand
 * assembled, 16-bit real mode, loaded at 0000:7C00:
 *
 *   31 C0        xor ax, ax
 *   8E D8        mov ds, ax
 *   FC           cld
 *   BE 1B 7C     mov si, 0x7C1B        ; the message, right after these 27 bytes
 *   BA F8 03     mov dx, 0x3F8         ; COM1 data register
 *   AC           lodsb                 ; loop:
 *   84 C0        test al, al
 *   74 03        jz +3                 ; -> reset
 *   EE           out dx, al
 *   EB F8        jmp loop
 *   B0 FE        mov al, 0xFE          ; reset:
 *   E6 64        out 0x64, al          ; pulse the CPU reset line
 *   FA           cli
 *   F4           hlt
 *   EB FC        jmp -4                ; back to cli/hlt, for good
 */
export async function makeLocalDisk(file: string): Promise<void> {
  const code = Buffer.from([
    0x31, 0xc0, 0x8e, 0xd8, 0xfc, 0xbe, 0x1b, 0x7c, 0xba, 0xf8, 0x03, 0xac, 0x84, 0xc0, 0x74, 0x03, 0xee, 0xeb, 0xf8, 0xb0, 0xfe,
    0xe6, 0x64, 0xfa, 0xf4, 0xeb, 0xfc,
  ]);
  if (code.length !== 0x1b) throw new Error(`boot code is ${code.length} bytes, expected 27`);
  const disk = Buffer.alloc(1024 * 1024);
  code.copy(disk, 0);
  Buffer.from(`\r\n${LOCAL_DISK_MARKER}\r\n\0`, 'latin1').copy(disk, 0x1b);
  disk[510] = 0x55;
  disk[511] = 0xaa;
  await writeFile(file, disk);
}
