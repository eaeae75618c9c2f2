#!/bin/sh
# Makes sure the system packages the tests use are installed (and the test kernel fetched), so
# `npm test` works on a fresh machine. As root it installs what is missing with apt-get; as
# another user it says what to install and fails.
set -eu
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
packages=$(grep -v '^#' "$here/system-packages.txt" | grep -v '^$' | tr '\n' ' ')

missing=
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done

if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "system-deps: missing Debian packages:$missing" >&2
    echo "system-deps: run as root: apt-get install -y --no-install-recommends$missing" >&2
    exit 1
  fi
  echo "system-deps: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # shellcheck disable=SC2086
  apt-get install -y -q --no-install-recommends $missing
fi
sh "$here/../helpers/fetch-kernel.sh"
