#!/usr/bin/env bash
# bench_failover.sh - scenario e of tests/integration/test_fleet.sh in a loop:
# a 3-server JetStream cluster, bucket with 3 replicas, nodes a, b, c; the server
# a is connected to is SIGKILLed, then a and c each ban an address. Per run: the
# ms from the kill until b and c list a's ban and a and b list c's, the largest,
# and which server led the stream and the meta group. A run over 5 s keeps the
# daemons' and servers' logs in OUTDIR/runN.
# Usage: flock /tmp/xdpban-integ.lock tools/bench/bench_failover.sh XDPBAND XDPBAN SRC RUNS OUTDIR
set -uo pipefail
SRC=$3
here=$SRC/tests/integration
. "$here/lib.sh"
. "$here/lib_fleet.sh"
XD=$1 XB=$2 RUNS=$4 OUT=$5
mkdir -p "$OUT"
trap fleet_cleanup EXIT
A4=$ATTACKER4
fleet_lab
ms() { echo $((($(date +%s%N) - $1) / 1000000)); }
for run in $(seq "$RUNS"); do
  for x in a b c; do node_reset "$x"; done
  for k in k1 k2 k3; do [ -n "${BPID[$k]:-}" ] && broker_kill "$k" TERM; done
  rm -rf "$FT"/k?.store "$FT"/k?.nats.log
  cluster_start
  cluster_nodes_up
  node_fail a "$A4"
  xb b ban 203.0.113.20 --for 1h >/dev/null || fail "ban on b"
  for x in b c; do expect_ban "$x" "$A4" a 10; done
  for x in a c; do expect_ban "$x" 203.0.113.20 b 10; done
  srv=$(fleet_field a 'd["server"]'); srvb=$(fleet_field b 'd["server"]'); srvc=$(fleet_field c 'd["server"]')
  victim=
  for k in k1 k2 k3; do [ "$srv" = "nats://$(fleet_ip4 "$k"):4222" ] && victim=$k; done
  # who leads what before the kill
  lead=$(broker_stream k1 KV_xdpban-r3 | python3 -c "import json,sys; print(json.load(sys.stdin).get('cluster',{}).get('leader'))" 2>/dev/null)
  meta=$(inns "${FP}k1" curl -sf -m 1 "http://$(fleet_ip4 k1):8222/jsz" | python3 -c "import json,sys; print(json.load(sys.stdin).get('meta_cluster',{}).get('leader'))" 2>/dev/null)
  t0=$(date +%s%N)
  echo "=== run $run $(date -u +%T.%N | cut -c1-12) kill $victim (a@$srv b@$srvb c@$srvc; stream leader $lead, meta leader $meta)" >>"$OUT/trace.log"
  broker_kill "$victim"
  xb a ban 203.0.113.21 --for 1h >/dev/null || fail "ban on a after the kill"
  xb c ban 203.0.113.22 --for 1h >/dev/null || fail "ban on c after the kill"
  declare -A got=()
  end=$((t0 + 60000000000))
  while [ "$(date +%s%N)" -lt "$end" ]; do
    for pair in b:203.0.113.21 c:203.0.113.21 a:203.0.113.22 b:203.0.113.22; do
      [ -n "${got[$pair]:-}" ] && continue
      has_ban "${pair%%:*}" "${pair#*:}" && got[$pair]=$(ms "$t0")
    done
    [ ${#got[@]} = 4 ] && break
    sleep 0.05
  done
  line="run $run victim=$victim a=$srv b=$srvb c=$srvc lead=$lead meta=$meta"
  mx=0
  for pair in b:203.0.113.21 c:203.0.113.21 a:203.0.113.22 b:203.0.113.22; do
    v=${got[$pair]:-60000}; line+=" $pair=${v}ms"; [ "$v" -gt "$mx" ] && mx=$v
  done
  line+=" max=${mx}ms"
  echo "$line" | tee -a "$OUT/results.txt"
  if [ "$mx" -gt 5000 ]; then
    d=$OUT/run$run; mkdir -p "$d"
    for x in a b c; do cp "$FT/$x/daemon.log" "$d/$x.daemon.log"; done
    cp "$FT"/k?.nats.log "$d/" 2>/dev/null
    echo "$line" > "$d/summary"
  fi
  unset got
done
