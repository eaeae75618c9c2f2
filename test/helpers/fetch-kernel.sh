#!/bin/sh
# Put a Debian kernel image at <repo>/.cache/kernel/vmlinuz for the initrd boot test, and the
# handful of modules the PXE end-to-end test's guest needs next to it in .cache/kernel/modules/.
#
# Why not `apt-get install linux-image-amd64`: the package pulls in initramfs-tools, systemd and
# udev and runs update-initramfs (about a minute, and a 30 MB initrd nobody uses). The tests only
# need the bzImage and a few .ko files, so we download the .deb and unpack just those.
#
# Modules (pxe-lab G2: every NIC driver is a module in the Debian 6.1 kernel): the NIC drivers of
# the qemu models the e2e test uses (e1000; virtio-net, which also needs its PCI transport
# virtio_pci) and loop/isofs to mount the ISO the initrd carries. For each wanted module,
# modules/<name>.deps lists the .ko files to insmod, in order (dependencies first), read from each
# module's own depends= field; the .ko files sit in modules/ (uncompressed: busybox insmod).
#
# Idempotent: does nothing when the image and the module set are already there (set
# RHEVBOOT_KERNEL_REFRESH=1 to fetch again). Needs apt metadata (`apt-get update`), not root and
# not kmod. Override the package with RHEVBOOT_KERNEL_PKG=linux-image-6.1.0-NN-amd64.
set -eu

repo=$(CDPATH= cd -- "$(dirname -- "$0")/../.." && pwd)
dest_dir="$repo/.cache/kernel"
dest="$dest_dir/vmlinuz"
mod_dir="$dest_dir/modules"
# Bump the suffix when the list changes, so an older cache is completed on the next run.
wanted_modules="e1000 virtio_pci virtio_net loop isofs"
mod_stamp="$mod_dir/.complete-v2"

if [ -s "$dest" ] && [ -f "$mod_stamp" ] && [ "${RHEVBOOT_KERNEL_REFRESH:-0}" != 1 ]; then
  echo "fetch-kernel: $dest and modules already present"
  exit 0
fi

pkg=${RHEVBOOT_KERNEL_PKG:-}
if [ -z "$pkg" ] && [ -s "$dest" ] && [ -s "$dest_dir/version" ] && [ "${RHEVBOOT_KERNEL_REFRESH:-0}" != 1 ]; then
  # Only the modules are missing: take them from the package of the cached image, if apt still
  # knows it, so image and modules match (a module of another build does not load).
  cached=$(sed 's/^vmlinuz-//' "$dest_dir/version")
  if apt-cache show "linux-image-$cached" >/dev/null 2>&1; then pkg="linux-image-$cached"; fi
fi
if [ -z "$pkg" ]; then
  # linux-image-amd64 is a metapackage; its single Depends names the current versioned image.
  pkg=$(apt-cache depends linux-image-amd64 2>/dev/null \
    | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9].*-amd64$/ { print $2; exit }')
fi
if [ -z "$pkg" ]; then
  echo "fetch-kernel: cannot resolve linux-image-amd64 (run apt-get update first)" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/rb-kernel.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

cd "$work"
# As root, apt drops to the _apt user for downloads, which cannot write into our 0700 temp dir.
sandbox=
if [ "$(id -u)" = 0 ]; then sandbox="-o APT::Sandbox::User=root"; fi
# shellcheck disable=SC2086
apt-get download -q $sandbox "$pkg"
deb=$(ls ./*.deb)
dpkg-deb -x "$deb" "$work/root"

img=$(ls "$work"/root/boot/vmlinuz-* 2>/dev/null | head -n 1)
if [ -z "$img" ] || [ ! -s "$img" ]; then
  echo "fetch-kernel: $pkg has no boot/vmlinuz-*" >&2
  exit 1
fi
kver=${img##*/vmlinuz-}

# Dependency order without kmod (the .deb ships no modules.dep, and depmod is not everywhere):
# each module's .modinfo section holds "depends=a,b\0"; walk it depth first, dependencies first.
find "$work/root/lib/modules/$kver" -name '*.ko' > "$work/ko.index"
ko_of() {  # module name (dashes and underscores are the same to the kernel) -> its .ko path
  pat=$(printf '%s' "$1" | sed 's/[-_]/[-_]/g')
  grep -m 1 -E "/$pat\.ko\$" "$work/ko.index"
}
resolve() {  # appends $1's .ko and its dependencies' to $order, dependencies first, each once
  ko=$(ko_of "$1") || { echo "fetch-kernel: module $1 not found in $pkg (built in, or renamed?)" >&2; exit 1; }
  case "$ko" in
    *.ko) ;;
    *) echo "fetch-kernel: $ko is compressed; busybox insmod needs plain .ko files" >&2; exit 1 ;;
  esac
  grep -qx "$ko" "$order" && return 0
  deps=$(tr '\0' '\n' < "$ko" | sed -n 's/^depends=//p' | head -n 1 | tr ',' ' ')
  for d in $deps; do resolve "$d"; done
  # ko was overwritten by the recursion: look it up again
  ko=$(ko_of "$1")
  grep -qx "$ko" "$order" || printf '%s\n' "$ko" >> "$order"
}
new_mods="$work/modules"
mkdir -p "$new_mods"
for m in $wanted_modules; do
  order="$work/$m.list"
  : > "$order"
  resolve "$m"
  : > "$new_mods/$m.deps"
  while read -r ko; do
    cp "$ko" "$new_mods/"
    basename "$ko" >> "$new_mods/$m.deps"
  done < "$order"
done
printf '%s\n' "$kver" > "$new_mods/.complete-v2"

mkdir -p "$dest_dir"
# Keep the cache out of git even if the repo's .gitignore does not list it.
[ -e "$repo/.cache/.gitignore" ] || printf '*\n' > "$repo/.cache/.gitignore"
cp "$img" "$dest.tmp.$$"
rm -rf "$mod_dir.tmp.$$"
cp -R "$new_mods" "$mod_dir.tmp.$$"
# Image first, then the modules; the stamp inside modules/ is what marks the pair complete.
mv -f "$dest.tmp.$$" "$dest"
printf '%s\n' "$(basename "$img")" > "$dest_dir/version"
rm -rf "$mod_dir"
mv "$mod_dir.tmp.$$" "$mod_dir"
echo "fetch-kernel: $(basename "$img") and modules ($wanted_modules) from $pkg -> $dest_dir"
