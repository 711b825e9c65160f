#!/usr/bin/env bash
# The flood guard end to end: the real xdpband with a [sip-flood] jail in a
# throwaway namespace pair. One attacker address floods UDP 5060, another
# sends at a normal rate, a third inside an allow-listed network floods too:
# the flooder is banned within a second (no log line involved), the normal
# source and the allow-listed one keep every packet, the ban expires as
# configured, and the CLI shows the counters and the ban.
# Usage: test_flood.sh PATH_TO_XDPBAND PATH_TO_XDPBAN SOURCE_DIR
set -uo pipefail
here=$(dirname "$0")
. "$here/lib.sh"
XD=$1 XB=$2 SRC=$3
require_root_bpf

P=xbf$$
T=$(mktemp -d /tmp/xdpban-flood-XXXXXX)
PD=/sys/fs/bpf/xdpban-ft-$$
SOCK=$T/xdpban.sock
DPID= PIDS=()
cleanup() {
  for p in $DPID "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  drop_pair "$P"
  rm -rf "$PD" "$T"
}
trap cleanup EXIT
make_pair "$P"
inns "$ANS" ip addr add 10.213.0.3/24 dev "${P}1"
inns "$ANS" ip addr add 10.213.0.9/24 dev "${P}1"

daemon_conf "flood_tracked = 4096" "allow = 10.213.0.8/29"
cat >"$T/jail.conf" <<CONF
[sip-flood]
# Runs only where something listens on its ports (the receiver below).
enabled = auto
flood.ports = udp/5060 tcp/5060
flood.rate = 20/s
flood.burst = 20
flood.drops = 50
bantime = 3s
CONF

# Background processes run under nsenter directly (it execs, so $! is the
# process itself and the cleanup can kill it); inns would add a subshell.
# (start_daemon, from lib.sh, does the same for xdpband.)
# The receiver: counts datagrams per source until told to stop.
nsenter --net="/run/netns/$VNS" python3 -c "
import json, os, socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', 5060)); s.settimeout(0.2)
n = {}
open('$T/rx.ready', 'w').close()
while not os.path.exists('$T/rx.stop'):
    try:
        _, a = s.recvfrom(100); n[a[0]] = n.get(a[0], 0) + 1
    except socket.timeout: pass
json.dump(n, open('$T/rx.json', 'w'))" &
PIDS+=($!)
for _ in $(seq 50); do [ -e "$T/rx.ready" ] && break; sleep 0.1; done

start_daemon
grep -q "\[sip-flood\] enabled = auto: something listens on udp/5060" "$T/daemon.log" ||
  fail "the flood jail did not start on a listening port: $(cat "$T/daemon.log")"
grep -q "\[sip-flood\] guarding udp/5060 tcp/5060: 20/s per source, burst 20, ban after 50" "$T/daemon.log" ||
  fail "the guard's rules are not logged: $(cat "$T/daemon.log")"
ok "flood jail enabled (something listens on udp/5060), rules written"

# sender SRC PPS SECONDS NAME: paced UDP to 10.213.0.1:5060; prints what it sent.
sender() {
  nsenter --net="/run/netns/$ANS" python3 -c "
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('$1', 0))
n, t0 = 0, time.monotonic()
open('$T/$4.start', 'w').write(repr(time.time()))
while time.monotonic() - t0 < $3:
    s.sendto(b'x' * 40, ('10.213.0.1', 5060)); n += 1
    ahead = t0 + n / $2 - time.monotonic()
    if ahead > 0: time.sleep(ahead)
print(n)" >"$T/$4.sent" &
  PIDS+=($!)
}
banned() { ctl "$SOCK" '{"cmd":"list","jail":"sip-flood"}' | grep -q "\"cidr\": *\"$1\""; }

sender 10.213.0.3 10 4 normal
sender 10.213.0.9 2000 2 allowed
sleep 0.5
sender 10.213.0.2 5000 2 flood
while [ ! -e "$T/flood.start" ]; do sleep 0.01; done
for _ in $(seq 300); do banned 10.213.0.2 && break; sleep 0.01; done
t_ban=$(python3 -c "import time; print(time.time())")
banned 10.213.0.2 || fail "the flooder was not banned within 3 s: $(tail -5 "$T/daemon.log")"
secs=$(python3 -c "print(round($t_ban - $(cat "$T/flood.start"), 3))")
python3 -c "import sys; sys.exit(0 if $secs < 1.0 else 1)" || fail "the flooder was banned after $secs s (goal < 1 s)"
ok "flooder 10.213.0.2 banned $secs s after its flood began"
grep -q "\[sip-flood\] Found 10.213.0.2 ([0-9]* packets over 20/s)" "$T/daemon.log" || fail "no 'Found' line"
grep -q "\[sip-flood\] Ban 10.213.0.2 for 3s" "$T/daemon.log" || fail "no 'Ban ... for 3s' line"
# While the ban lasts (3 s): list, stats, status.
out=$(inns "$VNS" "$XB" --pin-dir "$PD" --socket "$SOCK" list --json) || fail "list: $out"
json_get "$out" '[(e["jail"], e["flags"]) for e in d if e["cidr"] == "10.213.0.2"]' | grep -qx "\[('sip-flood', 'flood')\]" ||
  fail "list does not show the flood ban: $out"
banned 10.213.0.9 && fail "an allow-listed flooder was banned"
banned 10.213.0.3 && fail "the normal source was banned"
st=$(inns "$VNS" "$XB" --pin-dir "$PD" stats --json) || fail "stats: $st"
json_get "$st" 'd["counters"]["flood_dropped"] > 0 and d["counters"]["flood_events"] >= 1' | grep -qx True ||
  fail "stats do not count flood drops and reports: $st"
out=$(inns "$VNS" "$XB" --pin-dir "$PD" --socket "$SOCK" status sip-flood) || fail "status sip-flood: $out"
grep -q "Ports:.*udp/5060 tcp/5060" <<<"$out" && grep -qE "Packets dropped:.[1-9]" <<<"$out" ||
  fail "status sip-flood: $out"
ok "list, stats and status show the flood ban and the guard's counters"
wait_senders() { for n in "$@"; do while [ ! -s "$T/$n.sent" ]; do sleep 0.05; done; done; }
wait_senders normal allowed flood

# The ban lapses after bantime (3 s); the flood is over, so traffic passes again.
for _ in $(seq 60); do grep -q "\[sip-flood\] Unban 10.213.0.2" "$T/daemon.log" && break; sleep 0.1; done
grep -q "\[sip-flood\] Unban 10.213.0.2" "$T/daemon.log" || fail "the flood ban did not expire"
sleep 1.2  # the bucket refills
sender 10.213.0.2 5 1 after
wait_senders after
sleep 0.3
touch "$T/rx.stop"
for _ in $(seq 50); do [ -s "$T/rx.json" ] && break; sleep 0.1; done
rx=$(cat "$T/rx.json")
echo "sent: normal $(cat "$T/normal.sent"), allow-listed $(cat "$T/allowed.sent"), flood $(cat "$T/flood.sent"), after $(cat "$T/after.sent"); received per source: $rx"
[ "$(json_get "$rx" 'd.get("10.213.0.3", 0)')" = "$(cat "$T/normal.sent")" ] ||
  fail "the normal source lost packets: sent $(cat "$T/normal.sent"), got $rx"
[ "$(json_get "$rx" 'd.get("10.213.0.9", 0)')" = "$(cat "$T/allowed.sent")" ] ||
  fail "the allow-listed source was rate limited: sent $(cat "$T/allowed.sent"), got $rx"
json_get "$rx" 'd.get("10.213.0.2", 0) < 200' | grep -qx True || fail "the flood got through: $rx"
ok "normal and allow-listed sources kept every packet; the flood was cut to its burst; after the ban, traffic passes"

stop_daemon
grep -iE "error|sanitizer" "$T/daemon.log" && fail "errors in the daemon log"
inns "$VNS" "$XB" --pin-dir "$PD" detach "$VIF" >/dev/null
echo "all flood checks passed"
