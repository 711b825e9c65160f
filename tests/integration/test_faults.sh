#!/usr/bin/env bash
# Faults and abuse against the real xdpband (issue 12): pins removed under an
# attached program, hostile control-socket requests, clients that never read,
# absurd durations. Each case checks real packets or the daemon's answers.
# Usage: test_faults.sh PATH_TO_XDPBAND PATH_TO_XDPBAN SOURCE_DIR
set -uo pipefail
here=$(dirname "$0")
. "$here/lib.sh"
XD=$1 XB=$2 SRC=$3
require_root_bpf

P=xbf$$
T=$(mktemp -d /tmp/xdpban-faults-XXXXXX)
PD=/sys/fs/bpf/xdpban-ft-$$
SOCK=$T/xdpban.sock
DPID=
HOGS=()
cleanup() {
  for h in "${HOGS[@]}"; do kill -9 "$h" 2>/dev/null; done
  [ -n "$DPID" ] && kill -9 "$DPID" 2>/dev/null
  drop_pair "$P"
  rm -rf "$PD" "$PD-moved"; [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
make_pair "$P"

daemon_conf
cat >"$T/jail.conf" <<CONF
[sshd]
enabled = true
logpath = $T/auth.log
maxretry = 1
bantime = 1h
CONF
touch "$T/auth.log"
fail_line() { echo "$(now_syslog) host sshd[4242]: Failed password for root from $1 port 5555 ssh2"; }
banned() { ctl "$SOCK" '{"cmd":"list"}' | grep -q "\"cidr\": *\"$1\""; }
xbs() { inns "$VNS" "$XB" --pin-dir "$PD" --socket "$SOCK" "$@"; }
wait_banned() {
  for _ in $(seq 200); do banned "$1" && return 0; sleep 0.01; done
  fail "$1 not banned: $(tail -5 "$T/daemon.log")"
}

# --- 1. pins removed under the attached program ---------------------------------
start_daemon
expect_reach 4 yes "daemon up"
stop_daemon
prog_before=$(inns "$VNS" ip -j link show "$VIF" | json_get "$(cat)" 'd[0]["xdp"]["prog"]["id"]')
rm -rf "$PD"
start_daemon
grep -q "enforced none of the bans" "$T/daemon.log" ||
  fail "no warning about the program reading removed maps: $(cat "$T/daemon.log")"
prog_after=$(inns "$VNS" ip -j link show "$VIF" | json_get "$(cat)" 'd[0]["xdp"]["prog"]["id"]')
[ "$prog_before" != "$prog_after" ] || fail "the program reading the removed maps is still attached ($prog_after)"
fail_line 10.213.0.2 >>"$T/auth.log"
wait_banned 10.213.0.2
expect_reach 4 no "after the pin dir was removed and xdpband restarted, a new ban is enforced"
ctl "$SOCK" '{"cmd":"unban","cidrs":["10.213.0.2"]}' >/dev/null
stop_daemon

# The same with pin_dir moved to another directory in the configuration.
mv_pd=$PD-moved
sed -i "s|^pin_dir = .*|pin_dir = $mv_pd|" "$T/xdpban.conf"
start_daemon
ctl "$SOCK" '{"cmd":"ban","cidrs":["10.213.0.2"],"duration":600}' | grep -q '"ok":true' || fail "ban"
expect_reach 4 no "after pin_dir changed, a ban in the new maps is enforced"
stop_daemon
# A restart on the same pins keeps the program (no needless replacement).
id1=$(inns "$VNS" ip -j link show "$VIF" | json_get "$(cat)" 'd[0]["xdp"]["prog"]["id"]')
start_daemon
id2=$(inns "$VNS" ip -j link show "$VIF" | json_get "$(cat)" 'd[0]["xdp"]["prog"]["id"]')
[ "$id1" = "$id2" ] || fail "a restart on the same maps replaced the program ($id1 -> $id2)"
ok "a restart on the same maps keeps the attached program (id $id1)"
ctl "$SOCK" '{"cmd":"unban","cidrs":["10.213.0.2"]}' >/dev/null
stop_daemon
sed -i "s|^pin_dir = .*|pin_dir = $PD|" "$T/xdpban.conf"
rm -rf "$mv_pd"
start_daemon
expect_reach 4 yes "back on the first pin dir, nothing banned"

echo "all fault tests passed"
