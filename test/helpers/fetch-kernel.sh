#!/bin/sh
# Put a Debian kernel image at <repo>/.cache/kernel/vmlinuz for the initrd boot test.
#
# Why not `apt-get install linux-image-amd64`: the package pulls in initramfs-tools, systemd and
# udev and runs update-initramfs (about a minute, and a 30 MB initrd nobody uses). The test only
# needs the bzImage, so we download the .deb and unpack just that file.
#
# Idempotent: does nothing when the image is already there (set RHEVBOOT_KERNEL_REFRESH=1 to
# fetch again). Needs apt metadata (`apt-get update`) but not root. Override the package with
# RHEVBOOT_KERNEL_PKG=linux-image-6.1.0-NN-amd64.
set -eu

repo=$(CDPATH= cd -- "$(dirname -- "$0")/../.." && pwd)
dest_dir="$repo/.cache/kernel"
dest="$dest_dir/vmlinuz"

if [ -s "$dest" ] && [ "${RHEVBOOT_KERNEL_REFRESH:-0}" != 1 ]; then
  echo "fetch-kernel: $dest already present"
  exit 0
fi

pkg=${RHEVBOOT_KERNEL_PKG:-}
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

mkdir -p "$dest_dir"
# Keep the cache out of git even if the repo's .gitignore does not list it.
[ -e "$repo/.cache/.gitignore" ] || printf '*\n' > "$repo/.cache/.gitignore"
cp "$img" "$dest.tmp.$$"
mv -f "$dest.tmp.$$" "$dest"
printf '%s\n' "$(basename "$img")" > "$dest_dir/version"
echo "fetch-kernel: $(basename "$img") from $pkg -> $dest"
