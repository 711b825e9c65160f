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
banned() { ctl "$SOCK" "{\"cmd\":\"list\",\"cidr\":\"$1\"}" | grep -q "\"cidr\": *\"$1\""; }
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

# --- 5, 11. hostile requests on the raw socket ------------------------------------
expect_error() {  # JSON, text the error must contain
  local out; out=$(ctl "$SOCK" "$1")
  echo "$out" | grep -q '"ok":false' || fail "accepted: $1 -> $out"
  echo "$out" | grep -q "$2" || fail "$1: error without '$2': $out"
  kill -0 "$DPID" 2>/dev/null || fail "xdpband died on $1"
}
# ctl() adds "v":1; these set their own version.
raw() {
  python3 - "$SOCK" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n"); print(s.recv(65536).decode().strip())
PY
}
out=$(raw '{"v":"1","cmd":"ping"}')
echo "$out" | grep -q 'protocol version .*1.* not supported' || fail "string version: $out"
raw '{"v":[1],"cmd":"ping"}' | grep -q '"ok":false' || fail "array version"
raw '{"cmd":"ping","v":1e400}' | grep -q '"ok":false' || fail "huge number"
kill -0 "$DPID" 2>/dev/null || fail "xdpband died on a malformed version"
ctl "$SOCK" '{"cmd":"ping"}' | grep -q '"ok":true' || fail "no answer after malformed requests"
ok "malformed protocol versions are answered with an error; the daemon lives"
expect_error '{"cmd":"ban","cidrs":["203.0.113.5"],"duration":4611686018427387904}' "100 years"
expect_error '{"cmd":"ban","cidrs":["203.0.113.5"],"duration":0}' "duration"
expect_error '{"cmd":"ban","cidrs":["203.0.113.5"],"duration":-7}' "duration"
expect_error '{"cmd":"import","entries":"203.0.113.5\n","duration":-7}' "duration"
expect_error '{"cmd":"ban","cidrs":["203.0.113.5"],"reason":"x\n[sshd] Unban 10.213.0.2"}' "control characters"
expect_error '{"cmd":"ban","cidrs":["10.213.0.1"]}' "an address of this machine"
expect_error '{"cmd":"ban","cidrs":["10.213.0.0/24"],"jail":"sshd"}' "an address of this machine"
expect_error '{"cmd":"ban","cidrs":["203.0.113.5"],"jail":"bad jail"}' "jail"
expect_error '{"cmd":"ban","cidrs":["203.0.113.5"],"force":"yes"}' "force"
banned 203.0.113.5 && fail "a rejected request banned something"
grep -q "Unban 10.213.0.2$" "$T/daemon.log" && fail "a reason's newline reached the log"
ok "the socket rejects what the CLI rejects: durations, reasons, own addresses, field types"
ctl "$SOCK" '{"cmd":"ban","cidrs":["10.213.0.1"],"force":true,"duration":60}' | grep -q '"ok":true' ||
  fail "--force should ban an own address"
ctl "$SOCK" '{"cmd":"unban","cidrs":["10.213.0.1"]}' >/dev/null

# --- 2. durations past 100 years are refused, not wrapped ------------------------
out=$(xbs ban 203.0.113.6 --for 585y 2>&1); rc=$?
[ $rc = 2 ] || fail "--for 585y: exit $rc (want 2): $out"
echo "$out" | grep -q "longer than 100 years" || fail "--for 585y: $out"
out=$(xbs ban 10.213.0.2 --for 100y) || fail "--for 100y: $out"
expect_reach 4 no "a 100-year ban is enforced"
out=$(xbs list --json) || fail "list"
json_get "$out" '[b["remaining_s"] for b in d if b["cidr"]=="10.213.0.2"][0] > 3155000000' | grep -q True ||
  fail "a 100-year ban does not last 100 years: $out"
xbs unban 10.213.0.2 >/dev/null
ok "--for 585y refused with exit 2; 100y is enforced for 100 years"

# --- 7. clients that never read their answers do not hold the loop ---------------
seq 1 6000 | awk '{printf "198.18.%d.%d\n", int($1/250), $1%250+1}' >"$T/list.txt"
xbs import "$T/list.txt" --jail bulk >/dev/null || fail "import for the big list answer"
for i in 1 2 3 4; do
  python3 - "$SOCK" <<'PY' &
import socket, sys, time, json
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall((json.dumps({"v": 1, "cmd": "list"}) + "\n").encode() * 3)
time.sleep(60)  # never reads
PY
  HOGS+=($!)
done
# Each hog's first answer (~1 MB) is built once; then the loop must be free.
t0=$(date +%s%N)
ctl "$SOCK" '{"cmd":"ping"}' | grep -q '"ok":true' || fail "no answer while 4 clients do not read"
ok "the loop answers a ping $(( ($(date +%s%N) - t0) / 1000000 )) ms after 4 clients sent list requests they never read"
t0=$(date +%s%N)
fail_line 10.213.0.2 >>"$T/auth.log"
wait_banned 10.213.0.2
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$ms" -lt 1000 ] || fail "with 4 clients not reading, a ban took $ms ms"
ok "4 clients that never read 3 list answers each (6000 bans): the next ban landed in $ms ms"
for h in "${HOGS[@]}"; do kill -9 "$h" 2>/dev/null; done
HOGS=()
stop_daemon

echo "all fault tests passed"
