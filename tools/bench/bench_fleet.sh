#!/usr/bin/env bash
# bench_fleet.sh - the fleet benchmarks of issue 13 on the fleet lab of the
# integration tests (tests/integration/lib_fleet.sh: a bridge, nats-server with
# JetStream in its own namespace, each xdpband in its own):
#   1. a line written on node a -> the ban in node b's pinned maps: p50/p99 (goal p99 < 50 ms)
#   2. local ban latency on a (line -> a's maps) with the broker up, then killed:
#      side by side, ratio (goal ~1.0)
#   3. 1M fleet bans in the bucket -> a newly started node has all of them in its
#      maps, from its exec (goal < 10 s)
# Usage: sudo tools/bench/bench_fleet.sh [--build DIR] [--trials N] [--fill N] [--only latency,local,catchup]
# Needs a Release build of xdpband, xdpban, bench_daemon_probe and fleet_fill (README.md).
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$top/build-dbench trials=200 nfill=1000000 only=latency,local,catchup
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --trials) trials=$2; shift 2 ;;
    --fill) nfill=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    *) echo "usage: $0 [--build DIR] [--trials N (<= 250)] [--fill N] [--only latency,local,catchup]" >&2; exit 2 ;;
  esac
done
want() { [[ ",$only," == *",$1,"* ]]; }
. "$top/tests/integration/lib.sh"
. "$top/tests/integration/lib_fleet.sh"
XD=$build/src/daemon/xdpband XB=$build/src/cli/xdpban SRC=$top
PROBE=$build/tools/bench/bench_daemon_probe FILL=$build/tools/bench/fleet_fill
for f in "$XD" "$XB" "$PROBE" "$FILL"; do [ -x "$f" ] || { echo "missing $f: build it (tools/bench/README.md)" >&2; exit 1; }; done
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 1; }
require_nats
trap fleet_cleanup EXIT

# q JSON FIELD: a number from the probe's answer.
q() { json_get "$1" "d[\"$2\"]"; }
results=()
result() { results+=("$(printf '%-52s %-44s %-18s %s' "$1" "$2" "$3" "$4")"); }
met() { python3 -c "import sys; print('yes' if $1 else 'NO')"; }

echo "== fleet lab: nats-server $(nats-server --version | awk '{print $NF}') (JetStream, file store) and xdpband ($build) in namespaces on one bridge"
fleet_lab
single_start
node_conf a
node_conf b
node_start a
node_start b
for x in a b; do wait_until 10 fleet_connected "$x" || { echo "node $x not connected: $(fleet_status "$x")" >&2; exit 1; }; done

# --- 1. line on a -> ban in b's maps --------------------------------------------------
if want latency; then
  echo
  echo "== 1. line on a -> ban in b's map: $trials fresh addresses (198.18.1.x), 3 sshd lines each, the"
  echo "   clock read before the last line's write(2) to a's log, b's pinned maps polled (Blocklist::find)"
  out=$("$PROBE" latency --pin-dir "$(fleet_pin b)" --log "$FT/a/auth.log" --trials "$trials" --maxretry 3 --net 1 --timeout 2)
  echo "   $out"
  p50=$(q "$out" median_ms) p99=$(q "$out" p99_ms)
  result "line on a -> ban in b's map (n=$trials, $(q "$out" missed) missed)" "p50 $p50 ms, p99 $p99 ms" "p99 < 50 ms" "$(met "$p99 < 50 and $(q "$out" missed) == 0")"
  echo "   b: $(fleet_status b | python3 -c "import json,sys; d=json.load(sys.stdin); print('received', d['received'], 'applied', d['applied'], 'lag_ms', d['lag_ms'])")"
fi

# --- 2. local latency, broker up vs down ------------------------------------------------
if want local; then
  echo
  echo "== 2. local ban latency on a (line -> a's map), $trials addresses each: broker up (198.18.2.x),"
  echo "   broker killed with SIGKILL (198.18.3.x), broker up again after the outbox flushed (198.18.4.x)"
  up=$("$PROBE" latency --pin-dir "$(fleet_pin a)" --log "$FT/a/auth.log" --trials "$trials" --maxretry 3 --net 2 --timeout 2)
  echo "   broker up:    $up"
  broker_kill k1
  wait_until 10 eval '! fleet_connected a' || { echo "a still connected with the broker killed" >&2; exit 1; }
  down=$("$PROBE" latency --pin-dir "$(fleet_pin a)" --log "$FT/a/auth.log" --trials "$trials" --maxretry 3 --net 3 --timeout 2)
  echo "   broker down:  $down (outbox $(fleet_field a 'd["outbox"]'))"
  single_start
  wait_until 30 fleet_is a 'd["connected"] and d["outbox"] == 0' ||
    echo "   (a: outbox not flushed 30 s after the restart: $(fleet_status a))"
  again=$("$PROBE" latency --pin-dir "$(fleet_pin a)" --log "$FT/a/auth.log" --trials "$trials" --maxretry 3 --net 4 --timeout 2)
  echo "   broker again: $again"
  r50=$(python3 -c "print('%.2f' % ($(q "$down" median_ms) / $(q "$up" median_ms)))")
  r99=$(python3 -c "print('%.2f' % ($(q "$down" p99_ms) / $(q "$up" p99_ms)))")
  result "local line -> map on a, broker up" "p50 $(q "$up" median_ms) ms, p99 $(q "$up" p99_ms) ms" "" ""
  result "local line -> map on a, broker down (SIGKILL)" "p50 $(q "$down" median_ms) ms, p99 $(q "$down" p99_ms) ms" "" ""
  result "local line -> map on a, broker up again" "p50 $(q "$again" median_ms) ms, p99 $(q "$again" p99_ms) ms" "" ""
  result "ratio down / up" "p50 ${r50}x, p99 ${r99}x" "~1.0 (unchanged)" "$(met "$r50 < 1.5")"
fi

# --- 3. 1M bans in the bucket -> a new node ---------------------------------------------
if want catchup; then
  echo
  echo "== 3. catch-up: $nfill bans put into the bucket (fleet_fill: js_PublishAsync, a and b stopped),"
  echo "   then node c started with empty state; time from its exec until all are in its maps"
  node_stop a
  node_stop b
  out=$(inns "${FP}k1" "$FILL" fill --server "nats://$(fleet_ip4 k1):4222" --bucket xdpban-test --count "$nfill") ||
    { echo "fill failed: $out" >&2; exit 1; }
  echo "   fill: $out"
  node_conf c
  sed -i 's/^capacity = .*/capacity = 2097152/' "$FT/c/xdpban.conf"
  t0=$(date +%s%N)
  "$FILL" wait --pin-dir "$(fleet_pin c)" --count "$nfill" --since-ns "$t0" --timeout 120 >"$FT/wait.json" &
  wpid=$!
  FLEET_PIDS+=("$wpid")
  node_start c
  ready_ms=$((($(date +%s%N) - t0) / 1000000))
  wait "$wpid"
  w=$(cat "$FT/wait.json")
  echo "   c answered its socket after $ready_ms ms; maps: $w"
  wait_until 60 fleet_is c 'd["snapshot_done"]'
  echo "   c: $(fleet_status c | python3 -c "import json,sys; d=json.load(sys.stdin); print('received', d['received'], 'applied', d['applied'], 'rejected', d['rejected'], 'snapshot_done', d['snapshot_done'])"); RSS $(awk '/VmRSS/ {print $2, $3}' "/proc/${NPID[c]}/status")"
  all=$(json_get "$w" 'd.get("all_s", -1)')
  grep "fleet:" "$FT/c/daemon.log" | sed 's/^/   c: /'
  result "$nfill bucket bans -> new node's maps (from exec)" "$all s (first $(json_get "$w" 'd.get("first_s", -1)') s, half $(json_get "$w" 'd.get("half_s", -1)') s)" "< 10 s" "$(met "0 < $all < 10")"
fi

echo
echo "== fleet results ($(date -u +%F), $(nproc) CPUs, build $build)"
printf '%-52s %-44s %-18s %s\n' benchmark figure goal met
for l in "${results[@]}"; do echo "$l"; done
