#!/usr/bin/env bash
# setup.sh - installs the Debian 12 packages xdpban needs (tools/deps.txt) and
# mounts bpffs. Idempotent: apt runs only when a package is missing.
#   tools/setup.sh          install dependencies
#   tools/setup.sh --run    ... then build (Release) and start xdpban on the
#                           default-route interface (see README)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "setup.sh: run as root (apt-get, bpffs, XDP)" >&2; exit 1; }

mapfile -t pkgs < <(grep -vE '^\s*(#|$)' "$top/tools/deps.txt")
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! mount | grep -q 'on /sys/fs/bpf type bpf'; then
  mount -t bpf bpf /sys/fs/bpf
fi

if [ "${1:-}" = --run ]; then
  cmake -S "$top" -B "$top/build-release" -G Ninja -DCMAKE_BUILD_TYPE=Release -DXDPBAN_TESTS=OFF -DXDPBAN_BENCH=OFF >/dev/null
  ninja -C "$top/build-release" xdpban
  iface=${XDPBAN_IFACE:-$(ip route show default | awk '/default/ {print $5; exit}')}
  [ -n "$iface" ] || { echo "setup.sh: no default route; set XDPBAN_IFACE" >&2; exit 1; }
  "$top/build-release/src/cli/xdpban" attach "$iface" --mode auto
  "$top/build-release/src/cli/xdpban" stats
fi
