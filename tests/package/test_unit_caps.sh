#!/usr/bin/env bash
# The real xdpband with exactly the capabilities the systemd unit grants
# (CapabilityBoundingSet= of deploy/systemd/xdpband.service, applied with
# setpriv as systemd does for root): it attaches to the default route's
# interface (none configured, as shipped), answers, reads a log owned by
# another user (as Asterisk's are), bans from it, the banned source's packets
# are dropped, and a reload (SIGHUP, the unit's ExecReload) works. Then each capability is removed in turn and the result
# reported (which ones this kernel and libxdp need).
# Usage: test_unit_caps.sh PATH_TO_XDPBAND PATH_TO_XDPBAN SOURCE_DIR
set -uo pipefail
XD=$1 XB=$2 SRC=$3
. "$SRC/tests/integration/lib.sh"
require_root_bpf
for tool in setpriv capsh; do command -v $tool >/dev/null || fail "needs $tool (tools/deps.txt)"; done

unit=$SRC/deploy/systemd/xdpband.service
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit")
[ -n "$caps" ] || fail "no CapabilityBoundingSet= in $unit"
# "CAP_BPF CAP_NET_ADMIN" -> "+bpf,+net_admin"
to_setpriv() { local out="" c; for c in "$@"; do out+=",+$(echo "${c#CAP_}" | tr A-Z a-z)"; done; echo "${out#,}"; }

P=xcp$$
T=$(mktemp -d /tmp/xdpban-caps-XXXXXX)
PD=/sys/fs/bpf/xdpban-caps-$$
DPID=
cleanup() {
  [ -n "$DPID" ] && kill -9 "$DPID" 2>/dev/null
  inns "${P}v" "$XB" --pin-dir "$PD" detach "${P}0" >/dev/null 2>&1
  drop_pair "$P"
  rm -rf "$PD" "$T"
}
trap cleanup EXIT
make_pair "$P"
SOCK=$T/xdpban.sock
# No interfaces configured, as shipped: the daemon takes the default route's.
inns "$VNS" ip route add default via 10.213.0.2 dev "$VIF"

cat >"$T/xdpban.conf" <<CONF
[xdpban]
interfaces =
xdp_mode = skb
pin_dir = $PD
database = $T/state/xdpban.db
socket = $SOCK
filter_path = $SRC/deploy/filter.d
capacity = 4096
CONF
cat >"$T/jail.conf" <<CONF
[sshd]
enabled = auto
logpath = $T/auth.log
maxretry = 2
bantime = 1h
CONF
# A service's own log: owned by another user, unreadable to others.
touch "$T/auth.log"
chown nobody:nogroup "$T/auth.log"
chmod 0600 "$T/auth.log"

# run_with CAPS...: starts xdpband with this bounding set; 0 once it answers.
run_with() {
  local set; set=$(to_setpriv "$@")
  : >"$T/daemon.log"
  nsenter --net="/run/netns/$VNS" setpriv --bounding-set=-all${set:+,$set} --inh-caps=-all \
    --no-new-privs -- "$XD" -c "$T/xdpban.conf" >>"$T/daemon.log" 2>&1 &
  DPID=$!
  for _ in $(seq 100); do
    ctl "$SOCK" '{"cmd":"ping"}' 2>/dev/null | grep -q '"ok":true' && return 0
    kill -0 "$DPID" 2>/dev/null || { wait "$DPID" 2>/dev/null; DPID=; return 1; }
    sleep 0.1
  done
  return 1
}
stop() { [ -n "$DPID" ] && { kill "$DPID"; wait "$DPID" 2>/dev/null; DPID=; }; }
# Each run starts from nothing: no program on the interface, no pins.
reset() {
  stop
  inns "$VNS" "$XB" --pin-dir "$PD" detach "$VIF" >/dev/null 2>&1
  rm -rf "$PD" "$T/state"
  : >"$T/auth.log"
}

# bans_from_log ADDR: two failures in the log -> banned within 3 s?
bans_from_log() {
  for _ in 1 2; do
    echo "$(now_syslog) host sshd[4242]: Failed password for root from $1 port 5555 ssh2" >>"$T/auth.log"
  done
  for _ in $(seq 60); do ctl "$SOCK" '{"cmd":"list"}' | grep -q "\"$1\"" && return 0; sleep 0.05; done
  return 1
}

read -ra unit_caps <<<"$caps"
run_with "${unit_caps[@]}" || { cat "$T/daemon.log"; fail "xdpband does not start with the unit's capabilities: $caps"; }
grep -q "enabled = auto: log $T/auth.log exists" "$T/daemon.log" || fail "auto jail not enabled: $(cat "$T/daemon.log")"
grep -q "XDP on $VIF: skb mode" "$T/daemon.log" || fail "not attached to the default route's $VIF: $(cat "$T/daemon.log")"
pcaps=$(awk '/^CapEff/ {print $2}' "/proc/$DPID/status")
# The daemon holds exactly the unit's capabilities, nothing more.
have=$(capsh --decode="$pcaps" | sed 's/.*=//' | tr , '\n' | sort | tr '\n' ' ')
want=$(for c in $caps; do echo "$c"; done | tr A-Z a-z | sort | tr '\n' ' ')
[ "$have" = "$want" ] || fail "effective capabilities $have, expected $want"
ok "started with $caps (CapEff $pcaps)"
bans_from_log 10.213.0.2 || fail "no ban from a log owned by nobody with the unit's capabilities: $(cat "$T/daemon.log")"
expect_reach 4 no "banned with only the unit's capabilities"
# systemctl reload (ExecReload: SIGHUP) re-attaches and re-reads the jails.
kill -HUP "$DPID"
for _ in $(seq 50); do grep -q "configuration reloaded" "$T/daemon.log" && break; sleep 0.1; done
grep -q "configuration reloaded: 1 jails" "$T/daemon.log" || fail "SIGHUP reload: $(cat "$T/daemon.log")"
grep -q "reload failed" "$T/daemon.log" && fail "SIGHUP reload failed: $(cat "$T/daemon.log")"
expect_reach 4 no "still banned after a reload"
reset

# Without each one: does the daemon still start and ban? (kernel-dependent; reported)
needed=()
for drop in "${unit_caps[@]}"; do
  rest=()
  for c in "${unit_caps[@]}"; do [ "$c" = "$drop" ] || rest+=("$c"); done
  if ! run_with "${rest[@]}"; then
    echo "without $drop: does not start: $(grep -iE "error|fail|denied|not permitted" "$T/daemon.log" | head -3 | tr '\n' ' ')"
    needed+=("$drop")
  elif ! bans_from_log 10.213.0.2; then
    echo "without $drop: starts, no ban: $(grep -iE "error|warn|denied" "$T/daemon.log" | head -2 | tr '\n' ' ')"
    needed+=("$drop")
  else
    echo "without $drop: starts and bans"
  fi
  reset
done
ok "needed on this kernel ($(uname -r)): ${needed[*]:-none of them alone}"
echo "all capability checks passed"
