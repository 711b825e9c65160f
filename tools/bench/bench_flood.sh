#!/usr/bin/env bash
# bench_flood.sh - the flood guard under a live flood (issue 6). The real
# xdpband (Release build) runs on the receiving end of a veth pair in a
# throwaway namespace pair; bench_datapath gen floods UDP 5060 from --sources
# random addresses with the live-frames generator (XDP_TX); a legitimate
# source sends at --legit-pps from 10.203.0.1; a UDP socket on 5060 counts
# what arrives per source. Two runs side by side: guard off (xdpband without a
# flood jail: bans only) and guard on ([sip-flood]). Prints packets delivered,
# CPU time spent, XDP counters, and how long until every flooding source was
# banned. Namespaces xbl<pid>t/r, veth xbl<pid>0/1, pins /sys/fs/bpf/xdpban-bl-<pid>-* (and
# the generator's xdpban-bench-<its pid>-g),
# files in /tmp/xbl-bench.*: all removed on exit, with the processes started.
# Usage: sudo tools/bench/bench_flood.sh [--build DIR] [--sources N] [--seconds S]
#        [--rate R] [--burst B] [--drops D] [--legit-pps P]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=$src/build-dbench
sources=10000 seconds=5 rate=20 burst=20 drops=40 legit=10
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --sources) sources=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --burst) burst=$2; shift 2 ;;
    --drops) drops=$2; shift 2 ;;
    --legit-pps) legit=$2; shift 2 ;;
    *) sed -n '13,14p' "$0" >&2; exit 2 ;;
  esac
done
XD=$build/src/daemon/xdpband XB=$build/src/cli/xdpban BD=$build/tools/bench/bench_datapath
for b in "$XD" "$XB" "$BD"; do
  [ -x "$b" ] || { echo "bench_flood.sh: no $b (ninja -C $build xdpband xdpban bench_datapath)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "bench_flood.sh: needs root" >&2; exit 1; }
. "$src/tests/integration/lib.sh"

P=xbl$$ TXNS=xbl$$t RXNS=xbl$$r TXIF=xbl$$0 RXIF=xbl$$1
T=$(mktemp -d /tmp/xbl-bench.XXXXXX)
PIDS=() GENS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  # bench_datapath gen pins its maps under its own pid; a failed run leaves them.
  for g in "${GENS[@]}"; do rm -rf "/sys/fs/bpf/xdpban-bench-$g-g"; done
  ip netns del "$TXNS" 2>/dev/null
  ip netns del "$RXNS" 2>/dev/null
  rm -rf /sys/fs/bpf/xdpban-bl-$$-* "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ip netns add "$TXNS"
ip netns add "$RXNS"
ip link add "$TXIF" netns "$TXNS" type veth peer name "$RXIF" netns "$RXNS"
intx() { nsenter --net="/run/netns/$TXNS" "$@"; }
inrx() { nsenter --net="/run/netns/$RXNS" "$@"; }
intx ip addr add 10.203.0.1/24 dev "$TXIF"
inrx ip addr add 10.203.0.2/24 dev "$RXIF"
for ns in "$TXNS" "$RXNS"; do nsenter --net="/run/netns/$ns" ip link set lo up; done
intx ip link set "$TXIF" up
inrx ip link set "$RXIF" up
# The flood's sources are not on this link: let the stack take them anyway
# (guard off must show what the kernel does with a flood, not rp_filter).
inrx sysctl -qw net.ipv4.conf.all.rp_filter=0 "net.ipv4.conf.$RXIF.rp_filter=0"
# The generator addresses its frames to the receiver; veth hands XDP_TX frames
# to a peer that runs an XDP program (xdpband attaches one in both runs).
RXMAC=$(inrx ip -o link show "$RXIF" | awk '{for (i = 1; i < NF; i++) if ($i == "link/ether") print $(i + 1)}')
busy() { awk '/^cpu / {print ($2 + $3 + $4 + $7 + $8) / 100}' /proc/stat; }  # user nice system irq softirq, s

echo "xdpband $(git -C "$src" rev-parse --short HEAD) ($build), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
echo "== flood from $sources sources to UDP 5060 for ${seconds}s (live-frames generator on CPU 1), legitimate"
echo "   source 10.203.0.1 at $legit pps; [sip-flood] rate $rate/s, burst $burst, ban after $drops over the rate"
for mode in off on; do
  D=$T/$mode PD=/sys/fs/bpf/xdpban-bl-$$-$mode
  mkdir -p "$D"
  cat >"$D/xdpban.conf" <<CONF
[xdpban]
interfaces = $RXIF
xdp_mode = native
pin_dir = $PD
database = $D/state.db
socket = $D/xdpban.sock
filter_path = $src/deploy/filter.d
capacity = 65536
flood_tracked = $((sources * 4))
CONF
  printf '[sshd]\nenabled = true\nlogpath = %s/auth.log\n' "$D" >"$D/jail.conf"
  touch "$D/auth.log"
  [ $mode = on ] && cat >>"$D/jail.conf" <<CONF
[sip-flood]
enabled = true
flood.ports = udp/5060
flood.rate = $rate/s
flood.burst = $burst
flood.drops = $drops
bantime = 1h
CONF
  inrx python3 -c "
import json, os, socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', 5060)); s.settimeout(0.2)
# 8 MiB of socket buffer (SO_RCVBUFFORCE, root): python reads far slower than a
# SIP server, and the first bursts (before the guard drops) should not be lost
# to that alone.
s.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)
legit = other = 0
open('$D/rx.ready', 'w').close()
while not os.path.exists('$D/rx.stop'):
    try:
        _, a = s.recvfrom(100)
        if a[0] == '10.203.0.1': legit += 1
        else: other += 1
    except socket.timeout: pass
json.dump({'legit': legit, 'flood': other}, open('$D/rx.json', 'w'))" &
  PIDS+=($!)
  while [ ! -e "$D/rx.ready" ]; do sleep 0.05; done
  taskset -c 0 nsenter --net="/run/netns/$RXNS" "$XD" -c "$D/xdpban.conf" >"$T/$mode.daemon.log" 2>&1 &  # not in $D: the tailer watches it
  DPID=$!
  PIDS+=($DPID)
  for _ in $(seq 200); do ctl "$D/xdpban.sock" '{"cmd":"ping"}' 2>/dev/null | grep -q '"ok":true' && break; sleep 0.1; done
  intx python3 -c "
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('10.203.0.1', 0))
n, t0 = 0, time.monotonic()
while time.monotonic() - t0 < $seconds + 1:
    s.sendto(b'legit', ('10.203.0.2', 5060)); n += 1
    time.sleep(max(0, t0 + n / $legit - time.monotonic()))
print(n)" >"$D/legit.sent" &
  PIDS+=($!)
  sleep 0.5
  c0=$(busy)
  t0=$(date +%s.%N)
  taskset -c 1 "$BD" gen --tx-ns "$TXNS" --tx-if "$TXIF" --dst-mac "$RXMAC" --sources "$sources" --seconds "$seconds" >"$D/gen.json" &
  GPID=$!
  PIDS+=($GPID) GENS+=($GPID)
  wait "$GPID"
  c1=$(busy)
  while [ ! -s "$D/legit.sent" ]; do sleep 0.1; done
  sleep 0.3
  touch "$D/rx.stop"
  while [ ! -s "$D/rx.json" ]; do sleep 0.05; done
  st=$(inrx "$XB" --pin-dir "$PD" stats --json)
  banned=$([ $mode = on ] && ctl "$D/xdpban.sock" '{"cmd":"status","jail":"sip-flood"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["jails"][0]["currently_banned"])' || echo 0)
  python3 - "$mode" "$(cat "$D/gen.json")" "$(cat "$D/rx.json")" "$(cat "$D/legit.sent")" "$st" "$(python3 -c "print($c1 - $c0)")" "$banned" "$T/$mode.daemon.log" "$sources" <<'PY'
import json, statistics, sys, time
mode, gen, rx, legit_sent, st, cpu, banned, log, sources = sys.argv[1:]
gen, rx, c = json.loads(gen), json.loads(rx), json.loads(st)["counters"]
legit_sent = int(legit_sent)
# When each source was banned: the daemon's "[sip-flood] Ban" lines (local time, ms), from the flood's start.
t = []
for line in open(log):
    if "[sip-flood] Ban " in line:
        stamp = line[:23]
        t.append(time.mktime(time.strptime(stamp[:19], "%Y-%m-%d %H:%M:%S")) + float(stamp[19:]) - gen["start"])
gaps = sorted(((b - a, a) for a, b in zip(t, t[1:])), reverse=True)[:1]
all_banned = "%.2f s (median %.2f s; longest pause between two bans %.0f ms, at %.2f s)" % (
    max(t), statistics.median(t), gaps[0][0] * 1000 if gaps else 0, gaps[0][1] if gaps else 0) if t else "-"
print("  guard %-3s: generated %.2f Mpps (%d packets); legitimate %d of %d delivered (%.1f%%); flood packets"
      " delivered to the socket %d; CPU busy %.2f s (both CPUs); XDP dropped %d (bans %d, guard %d; reports %d, lost %d); banned"
      " %s of %s sources, every one within %s of the flood's start" % (
      mode, gen["mpps"], gen["sent"], rx["legit"], legit_sent, 100.0 * rx["legit"] / legit_sent, rx["flood"],
      float(cpu), c["dropped_v4"] + c["flood_dropped"], c["dropped_v4"], c["flood_dropped"], c["flood_events"], c["flood_lost"], banned, sources,
      all_banned))
PY
  kill -TERM "$DPID"; wait "$DPID" 2>/dev/null
  inrx "$XB" --pin-dir "$PD" detach "$RXIF" >/dev/null
  rm -rf "$PD"
done
