#!/usr/bin/env bash
# Builds the .deb with cpack from BUILD_DIR and checks it without installing
# it: control fields and dependencies, conffiles, maintainer scripts (postinst
# run for real in a private mount namespace, as root), the files
# (extracted into a throwaway root), the unit (systemd-analyze verify), the man
# pages (groff without warnings) and the shipped configuration (the packaged
# xdpband --check). Usage: test_package.sh BUILD_DIR
set -uo pipefail
BUILD=$1
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

for tool in cpack dpkg-deb dpkg-shlibdeps systemd-analyze groff; do
  if ! command -v "$tool" >/dev/null; then
    [ "${CI:-}" = true ] && fail "CI=true and $tool is missing (tools/deps.txt)"
    echo "SKIP: needs $tool"; exit 77
  fi
done

T=$(mktemp -d /tmp/xdpban-package-XXXXXX)
trap 'rm -rf "$T"' EXIT

# --- build the package ------------------------------------------------------------
out=$(cd "$BUILD" && cpack -G DEB -B "$T/out" 2>&1) || fail "cpack: $out"
debs=("$T"/out/xdpban_*.deb)
[ ${#debs[@]} = 1 ] && [ -f "${debs[0]}" ] || fail "expected one xdpban_*.deb in $T/out: $(ls "$T/out")"
DEB=${debs[0]}
ok "built $(basename "$DEB") ($(stat -c %s "$DEB") bytes)"

# --- control data --------------------------------------------------------------------
info=$(dpkg-deb -I "$DEB") || fail "dpkg-deb -I"
field() { dpkg-deb -f "$DEB" "$1"; }
[ "$(field Package)" = xdpban ] || fail "Package: $(field Package)"
[ "$(field Architecture)" = "$(dpkg --print-architecture)" ] || fail "Architecture: $(field Architecture)"
deps=$(field Depends)
# shlibdeps: every library the binaries link, with a version from its symbols file.
names=$(echo "$deps" | tr ',' '\n' | awk '{print $1}')
for lib in libbpf1 libxdp1 libpcre2-8-0 libsqlite3-0 libsystemd0 libmicrohttpd12 libnats3.4 libc6 libstdc++6; do
  echo "$names" | grep -qxF "$lib" || fail "Depends lacks $lib: $deps"
done
ok "Depends: $deps"
for s in postinst prerm postrm conffiles; do
  echo "$info" | grep -qE "^ +[0-9]+ bytes, +[0-9]+ lines +\*? *$s" || fail "no $s in control: $info"
done
dpkg-deb -e "$DEB" "$T/control"
for s in postinst prerm postrm; do
  [ -x "$T/control/$s" ] || fail "$s is not executable"
  sh -n "$T/control/$s" || fail "$s: syntax error"
done
expected_conffiles="/etc/xdpban/xdpban.conf
/etc/xdpban/jail.conf
/etc/xdpban/jail.d/sshd.conf
/etc/xdpban/jail.d/postfix-sasl.conf
/etc/xdpban/jail.d/dovecot.conf
/etc/xdpban/jail.d/asterisk.conf
/etc/xdpban/jail.d/recidive.conf
/etc/xdpban/jail.d/sip-flood.conf
/etc/xdpban/filter.d/sshd.conf
/etc/xdpban/filter.d/postfix-sasl.conf
/etc/xdpban/filter.d/dovecot.conf
/etc/xdpban/filter.d/asterisk.conf
/etc/xdpban/filter.d/recidive.conf"
[ "$(sort "$T/control/conffiles")" = "$(echo "$expected_conffiles" | sort)" ] ||
  fail "conffiles: $(cat "$T/control/conffiles")"
ok "control: maintainer scripts, $(wc -l <"$T/control/conffiles") conffiles"

# --- postinst enables the unit at boot and starts nothing without systemd -----------
# As root, in a private mount namespace whose systemd directories are empty
# tmpfs (the host's are untouched): run the real postinst as dpkg would.
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && command -v deb-systemd-helper >/dev/null; then
  dpkg-deb --fsys-tarfile "$DEB" | tar -xO ./lib/systemd/system/xdpband.service >"$T/unit.service"
  # systemctl talking to a running systemd and deb-systemd-invoke only record
  # that they were called; offline systemctl --root= (how deb-systemd-helper
  # enables) is the real one.
  mkdir -p "$T/fakebin"
  printf '#!/bin/sh\ncase "$*" in *--root=*) exec %s "$@";; esac\necho "systemctl $*" >>"%s/called"\n' \
    "$(command -v systemctl)" "$T" >"$T/fakebin/systemctl"
  printf '#!/bin/sh\necho "deb-systemd-invoke $*" >>"%s/called"\n' "$T" >"$T/fakebin/deb-systemd-invoke"
  chmod +x "$T/fakebin/systemctl" "$T/fakebin/deb-systemd-invoke"
  out=$(PATH="$T/fakebin:$PATH" unshare --mount --propagation private sh -ec '
    for d in /etc/systemd/system /lib/systemd/system /var/lib/systemd /run/systemd; do
      mkdir -p "$d"; mount -t tmpfs tmpfs "$d"
    done
    cp "$1/unit.service" /lib/systemd/system/xdpband.service
    export DPKG_MAINTSCRIPT_PACKAGE=xdpban DPKG_MAINTSCRIPT_NAME=postinst
    "$1/control/postinst" configure ""
    echo "wants: $(readlink /etc/systemd/system/multi-user.target.wants/xdpband.service)"
    echo "calls: $(cat "$1/called" 2>/dev/null | wc -l)"
    mkdir /run/systemd/system  # now as if systemd ran: an upgrade from 0.0.9
    "$1/control/postinst" configure 0.0.9' sh "$T" 2>&1) || fail "postinst configure: $out"
  echo "$out" | grep -qx "wants: /lib/systemd/system/xdpband.service" ||
    fail "postinst did not enable the unit: $out"
  echo "$out" | grep -qx "calls: 0" || fail "postinst ran without systemd: $out"
  [ "$(cat "$T/called")" = "systemctl --system daemon-reload
deb-systemd-invoke try-restart xdpband.service" ] || fail "postinst upgrade under systemd: $(cat "$T/called")"
  ok "postinst: enabled at boot (multi-user.target.wants), nothing started without systemd, try-restart on upgrade with it"
else
  [ "${CI:-}" = true ] && fail "CI=true and the postinst check needs root, unshare, deb-systemd-helper"
  echo "skip: postinst check (needs root, unshare, deb-systemd-helper)"
fi

# --- contents --------------------------------------------------------------------------
listing=$(dpkg-deb -c "$DEB") || fail "dpkg-deb -c"
# Every file in /etc is a conffile, and every conffile is in the package.
etc_files=$(echo "$listing" | awk '$1 ~ /^-/ {print $6}' | sed -n 's|^\./etc/|/etc/|p' | sort)
[ "$etc_files" = "$(echo "$expected_conffiles" | sort)" ] || fail "files in /etc: $etc_files"
echo "$listing" | awk '{print $2}' | grep -vqx root/root && fail "files not owned by root: $listing"
R=$T/root
dpkg-deb -x "$DEB" "$R" || fail "dpkg-deb -x"
for f in usr/sbin/xdpband usr/sbin/xdpban; do
  [ -f "$R/$f" ] && [ -x "$R/$f" ] || fail "$f missing or not executable"
done
for f in lib/systemd/system/xdpband.service usr/share/man/man8/xdpband.8.gz usr/share/man/man8/xdpban.8.gz \
         usr/share/man/man5/xdpban.conf.5.gz; do
  [ -f "$R/$f" ] || fail "$f missing"
done
[ "$(stat -c %a "$R/usr/sbin/xdpband")" = 755 ] || fail "xdpband mode $(stat -c %a "$R/usr/sbin/xdpband")"
[ "$(stat -c %a "$R/etc/xdpban/jail.conf")" = 644 ] || fail "jail.conf mode"
"$R/usr/sbin/xdpban" --help >/dev/null || fail "packaged xdpban --help"
ok "contents: $(echo "$listing" | awk '$1 ~ /^-/' | wc -l) files, binaries run"

# --- man pages render without groff warnings -------------------------------------------
for m in "$R"/usr/share/man/man*/*.gz; do
  warn=$(zcat "$m" | LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z 2>&1)
  [ -z "$warn" ] || fail "$(basename "$m"): $warn"
  zcat "$m" | LC_ALL=C.UTF-8 groff -man -Tutf8 -P-cbou 2>/dev/null | grep -q "^SEE ALSO" ||
    fail "$(basename "$m") does not render"
done
if command -v man >/dev/null; then
  MANWIDTH=80 man -l "$R/usr/share/man/man8/xdpband.8.gz" 2>&1 | grep -q "CAP_BPF" ||
    fail "man -l xdpband.8 does not show the capabilities"
fi
ok "man pages render without warnings"

# --- the unit ------------------------------------------------------------------------------
# No systemd runs as PID 1 here: verify reads the unit client-side and checks
# that ExecStart= exists, so point it at the extracted binary (same unit name).
unit=$R/lib/systemd/system/xdpband.service
mkdir -p "$T/unit"
sed "s|/usr/sbin/xdpband|$R/usr/sbin/xdpband|g" "$unit" >"$T/unit/xdpband.service"
out=$(systemd-analyze verify --man=no "$T/unit/xdpband.service" 2>&1); rc=$?
[ $rc = 0 ] && [ -z "$out" ] || fail "systemd-analyze verify (rc $rc): $out"
grep -q '^Type=notify$' "$unit" || fail "unit is not Type=notify"
grep -q '^ExecReload=/bin/kill -HUP \$MAINPID$' "$unit" || fail "no ExecReload"
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit")
[ "$caps" = "CAP_BPF CAP_NET_ADMIN CAP_PERFMON CAP_SYS_ADMIN CAP_DAC_READ_SEARCH" ] || fail "capabilities: $caps"
ok "systemd-analyze verify: clean"

# --- the shipped configuration is valid for the packaged daemon ------------------------
sed "s|^filter_path = .*|filter_path = $R/etc/xdpban/filter.d|" "$R/etc/xdpban/xdpban.conf" >"$T/xdpban.conf.tmp"
mv "$T/xdpban.conf.tmp" "$R/etc/xdpban/xdpban.conf"
out=$("$R/usr/sbin/xdpband" -c "$R/etc/xdpban/xdpban.conf" --check 2>&1) || fail "xdpband --check: $out"
ok "packaged configuration: $(echo "$out" | tail -1)"
# enabled = auto with the shipped jails, their logs moved into the throwaway
# root by a jail.local (as an admin's override would): only sshd's exists.
mkdir -p "$R/var/log"
touch "$R/var/log/auth.log"
{
  for j in sshd:auth.log postfix-sasl:mail.log dovecot:mail.log asterisk:asterisk/messages recidive:syslog; do
    printf '[%s]\nlogpath = %s/var/log/%s\n' "${j%%:*}" "$R" "${j#*:}"
  done
} >"$R/etc/xdpban/jail.local"
out=$("$R/usr/sbin/xdpband" -c "$R/etc/xdpban/xdpban.conf" --check 2>&1) || fail "xdpband --check: $out"
echo "$out" | grep -q "OK, 1 jails enabled (sshd), 5 disabled" || fail "auto jails with one log present: $out"
# sip-flood runs where something listens on a SIP port; nothing does in this test.
echo "$out" | grep -q "\[sip-flood\] enabled = auto: nothing listens on its ports: not started" ||
  fail "sip-flood with nothing on udp/5060: $out"
echo "$out" | grep -q "\[sshd\] enabled = auto: log $R/var/log/auth.log exists" || fail "no auto reason for sshd: $out"
ok "enabled = auto: only sshd runs when only its log exists"
echo "all package checks passed"
