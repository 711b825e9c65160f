#!/usr/bin/env bash
# setup.sh - installs the Debian 12 packages xdpban needs (tools/deps.txt) and
# mounts bpffs. Idempotent: apt runs only when a package is missing.
#   tools/setup.sh          install dependencies
#   tools/setup.sh --run    ... then build (Release), install the default
#                           configuration into /etc/xdpban (never overwriting
#                           a file there) and run xdpband in the foreground
#                           (Ctrl-C stops it; bans stay enforced)
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
  ninja -C "$top/build-release" xdpban xdpband
  install -d -m 0755 /etc/xdpban /etc/xdpban/jail.d /etc/xdpban/filter.d
  for f in xdpban.conf jail.conf jail.d/sshd.conf jail.d/postfix-sasl.conf jail.d/dovecot.conf \
           jail.d/asterisk.conf jail.d/recidive.conf jail.d/sip-flood.conf; do
    [ -e "/etc/xdpban/$f" ] || install -m 0644 "$top/deploy/etc/xdpban/$f" "/etc/xdpban/$f"
  done
  for f in "$top"/deploy/filter.d/*.conf; do
    [ -e "/etc/xdpban/filter.d/$(basename "$f")" ] || install -m 0644 "$f" /etc/xdpban/filter.d/
  done
  install -m 0755 "$top/build-release/src/cli/xdpban" "$top/build-release/src/daemon/xdpband" /usr/local/sbin/
  xdpband --check
  # The default jails run where their logs exist (enabled = auto): a log file,
  # or the journal on hosts without rsyslog; xdpband logs which ones started.
  exec xdpband
fi
