#!/bin/sh
# fetch-fail2ban.sh DEST - downloads Debian's fail2ban package (never installs it:
# that would start a service) and extracts it into DEST, for the compatibility
# suite and the benchmark. Idempotent: does nothing if DEST is already complete.
set -eu
dest=${1:?usage: fetch-fail2ban.sh DEST}
marker="$dest/.extracted"
if [ -f "$marker" ]; then
  exit 0
fi
mkdir -p "$dest"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
if ! apt-get download fail2ban >/dev/null 2>&1; then
  # The package lists may be missing on a fresh machine or container.
  if [ "$(id -u)" = 0 ]; then apt-get update >/dev/null; fi
  apt-get download fail2ban
fi
deb=$(ls fail2ban_*.deb | head -n 1)
dpkg-deb -x "$deb" "$dest"
dpkg-deb -f "$deb" Version > "$dest/.version"
touch "$marker"
echo "fetch-fail2ban: extracted $deb into $dest" >&2
