#!/usr/bin/env bash
# The fleet (issue 13) end to end: real nats-server with JetStream in its own
# namespace, three xdpband (a, b, c; later d) in theirs, all on one bridge, and an
# attacker sending real packets. A log ban on one node drops the attacker at every
# node; an unban anywhere is fleet-wide; a late joiner gets the snapshot; a broker
# killed and restarted loses nothing (outbox flush, missed deletes resynced); a
# 3-server cluster with replicas = 3 survives a server's death; bad credentials
# are a clear error and local banning goes on.
# Usage: test_fleet.sh PATH_TO_XDPBAND PATH_TO_XDPBAN SOURCE_DIR
set -uo pipefail
here=$(dirname "$0")
. "$here/lib.sh"
. "$here/lib_fleet.sh"
XD=$1 XB=$2 SRC=$3
require_root_bpf
require_nats
trap fleet_cleanup EXIT
started=$(date +%s)
A4=$ATTACKER4 A6=$ATTACKER6

fleet_lab
single_start
for x in a b c; do node_conf "$x"; done
for x in a b c; do node_start "$x"; done
for x in a b c; do
  wait_until 10 fleet_ready "$x" || fail "node $x not connected to the broker: $(fleet_status "$x" 2>&1)"
done
st=$(fleet_status a)
json_get "$st" 'd["enabled"] and d["node"] == "a" and d["bucket"] == "xdpban-test" and d["server"] == "nats://10.77.0.51:4222"' |
  grep -qx True || fail "fleet status of a: $st"
ok "broker k1 and nodes a, b, c up and connected: $st"
expect_reach_nodes 4 yes "fleet up, nothing banned" a b c

# --- a. a log ban on a is enforced at b and c ---------------------------------------
t0=$(date +%s%N)
node_fail a "$A4"
node_fail a "$A6"
expect_ban a "$A4" ""
for x in b c; do expect_ban "$x" "$A4" a; expect_ban "$x" "$A6" a; done
ok "a's log ban listed at b and c with origin a after $((($(date +%s%N) - t0) / 1000000)) ms"
xb b list --json | python3 -c "
import json, sys
e = [e for e in json.load(sys.stdin) if e['cidr'] == '$A4'][0]
assert e['jail'] == 'sshd' and e['origin'] == 'a' and 3500 < e['remaining_s'] <= 3600, e" ||
  fail "b's copy of the ban: $(xb b list --json)"
xb b list | grep -E "^$A4 .* a( |$)" >/dev/null || fail "text list of b does not show origin a: $(xb b list)"
xb a list | grep -E "^$A4 .* local( |$)" >/dev/null || fail "text list of a does not show origin local: $(xb a list)"
expect_reach_nodes 4 no "log ban on a" a b c
expect_reach_nodes 6 no "log ban on a" a b c

# --- b. an unban on b is fleet-wide -------------------------------------------------
xb b unban "$A4" >/dev/null || fail "unban on b: $(xb b unban "$A4" 2>&1)"
for x in a b c; do expect_no_ban "$x" "$A4"; done
xb c unban "$A6" >/dev/null || fail "unban on c"
for x in a b c; do expect_no_ban "$x" "$A6"; done
ok "unban of a's ban on b (IPv4) and on c (IPv6) removed it at a, b and c"
expect_reach_nodes 4 yes "unbanned on b" a b c
expect_reach_nodes 6 yes "unbanned on c" a b c

# --- c. a late joiner gets every ban (snapshot) -------------------------------------
node_reset c
node_fail a "$A4"
for i in 1 2 3 4 5; do xb a ban "203.0.113.$i" --for 1h >/dev/null || fail "manual ban on a"; done
xb a ban 2001:db8:77::/48 --for 2h >/dev/null || fail "manual IPv6 network ban on a"
late=("$A4" 203.0.113.1 203.0.113.2 203.0.113.3 203.0.113.4 203.0.113.5 2001:db8:77::/48)
for c in "${late[@]}"; do expect_ban b "$c" a; done  # in the bucket
node_conf c
t0=$(date +%s%N)
node_start c
for c in "${late[@]}"; do expect_ban c "$c" a 10; done
ok "late joiner c has all ${#late[@]} bans $((($(date +%s%N) - t0) / 1000000)) ms after its exec"
no_ban c "$A6" || fail "c resurrected a ban unbanned before it joined"
wait_until 5 fleet_is c 'd["snapshot_done"]' || fail "c: snapshot_done: $(fleet_status c)"
expect_reach_nodes 4 no "late joiner c enforces the snapshot" c

# --- d. broker killed and restarted: outbox flush, missed deletes --------------------
xb a unban "$A4" >/dev/null || fail "unban on a"
for x in b c; do expect_no_ban "$x" "$A4"; done
broker_kill k1
for x in a b; do wait_until 10 eval "! fleet_connected $x" || fail "$x still connected with the broker killed"; done
for x in a b; do
  node_log_has "$x" "disconnected from nats://10.77.0.51:4222" || fail "$x's log does not say it lost the broker"
done
ok "broker k1 killed (SIGKILL): a and b report not connected and log it"
t0=$(date +%s%N)
node_fail a "$A4"
expect_ban a "$A4" ""
ok "local ban on a with the broker down: in a's maps $((($(date +%s%N) - t0) / 1000000)) ms after the lines"
xb a unban 203.0.113.1 >/dev/null || fail "unban on a with the broker down"
xb b unban 203.0.113.2 >/dev/null || fail "unban on b with the broker down"
no_ban a 203.0.113.1 && no_ban b 203.0.113.2 || fail "local unbans with the broker down"
expect_reach_nodes 4 no "broker down: a's local ban" a
expect_reach_nodes 4 yes "broker down: b does not know a's new ban yet" b
[ "$(fleet_field a 'd["outbox"] >= 2')" = True ] || fail "a's outbox should hold a put and a delete: $(fleet_status a)"
[ "$(fleet_field b 'd["outbox"] >= 1')" = True ] || fail "b's outbox should hold a delete: $(fleet_status b)"
# the outbox is in the state database: a restart of a with the broker still down keeps it
node_stop a TERM
node_start a
[ "$(fleet_field a 'd["outbox"] >= 2')" = True ] || fail "a's outbox lost by a restart: $(fleet_status a)"
has_ban a "$A4" || fail "a lost its local ban across the restart"
ok "a restarted with the broker down: its outbox came back from the state database"
single_start  # the same store: the bucket is still there
t0=$(date +%s%N)
for x in b c; do expect_ban "$x" "$A4" a 20; done
ok "broker back: a's ban made while it was down reached b and c $((($(date +%s%N) - t0) / 1000000)) ms after it was healthy"
for x in b c; do expect_no_ban "$x" 203.0.113.1 10; done
for x in a c; do expect_no_ban "$x" 203.0.113.2 10; done
for x in a b; do wait_until 10 fleet_is "$x" 'd["outbox"] == 0' || fail "$x's outbox not flushed: $(fleet_status "$x")"; done
ok "unbans made on a and b while the broker was down propagated; outboxes empty"
expect_reach_nodes 4 no "after the broker's restart" a b c
# a node that misses a delete (down while it happens) drops the ban at its next snapshot
node_stop c KILL
xb a unban 203.0.113.3 >/dev/null || fail "unban on a"
xb a ban 203.0.113.6 --for 1h >/dev/null || fail "ban on a"
expect_no_ban b 203.0.113.3
node_start c
expect_no_ban c 203.0.113.3 10
expect_ban c 203.0.113.6 a 10
has_ban c 203.0.113.4 || fail "c lost a ban that is still in the bucket"
ok "c, killed while 203.0.113.3 was unbanned, removed it at restart (missed delete resynced)"

# --- e. 3-server JetStream cluster, replicas = 3: one server killed ------------------
for x in a b c; do node_reset "$x"; done
broker_kill k1 TERM
rm -rf "$FT/k1.store"
cluster_start
cluster_nodes_up
r=$(broker_stream k1 KV_xdpban-r3 | python3 -c "import json,sys; print(json.load(sys.stdin)['config']['num_replicas'])")
[ "$r" = 3 ] || fail "bucket xdpban-r3 has $r replicas, want 3"
ok "cluster k1..k3 up; bucket xdpban-r3 created with 3 replicas"
node_fail a "$A4"
xb b ban 203.0.113.20 --for 1h >/dev/null || fail "ban on b"
for x in b c; do expect_ban "$x" "$A4" a 10; done
for x in a c; do expect_ban "$x" 203.0.113.20 b 10; done
srv=$(fleet_field a 'd["server"]')
victim=
for k in k1 k2 k3; do [ "$srv" = "nats://$(fleet_ip4 "$k"):4222" ] && victim=$k; done
[ -n "$victim" ] || fail "a's server '$srv' is none of the cluster's"
t0=$(date +%s%N)
broker_kill "$victim"
ok "killed $victim (SIGKILL), the server a was connected to"
xb a ban 203.0.113.21 --for 1h >/dev/null || fail "ban on a after the kill"
xb c ban 203.0.113.22 --for 1h >/dev/null || fail "ban on c after the kill"
declare -A want=(["$A4"]=a [203.0.113.20]=b [203.0.113.21]=a [203.0.113.22]=c)
# The cluster keeps quorum: new bans reach every node within a few seconds of
# the cluster electing new leaders (nats-server 2.9 takes 4-8 s when the dead
# server led the stream or the meta group), as the links retry lost requests
# after 1-2 s and libnats remakes a watch consumer lost with the server after
# its 1 s heartbeat goes missing. Seen: 0.5-12 s after the kill on a busy
# machine; 30 s leaves slack for a CI run with sanitizers.
for c in "${!want[@]}"; do
  for x in a b c; do
    [ "$x" = "${want[$c]}" ] && o="" || o=${want[$c]}
    expect_ban "$x" "$c" "$o" 30
  done
done
ok "bans made after the kill listed at a, b and c $((($(date +%s%N) - t0) / 1000000)) ms after it"
node_conf d "servers = $servers" "bucket = xdpban-r3" "replicas = 3"
node_start d
for c in "${!want[@]}"; do expect_ban d "$c" "${want[$c]}" 30; done
ok "bans before and after the kill at a, b, c and at a new node d (from the bucket, 2 of 3 servers)"
expect_reach_nodes 4 no "cluster with one server down" a b c d

# --- f. bad credentials: a clear error, local bans go on --------------------------------
for x in a b c d; do node_reset "$x"; done
for k in k1 k2 k3; do [ -n "${BPID[$k]:-}" ] && broker_kill "$k" TERM; done
rm -rf "$FT/k1.store"
single_start --user fleet --pass right-secret
node_conf d "user = fleet" "password = wrong-secret"
node_start d
wait_until 10 eval "grep -i 'auth' '$FT/d/daemon.log' | grep -q '10.77.0.51:4222'" ||
  fail "no error naming the server and the authorization in d's log: $(cat "$FT/d/daemon.log")"
ok "bad password: $(grep -i 'auth' "$FT/d/daemon.log" | grep '10.77.0.51:4222' | head -1)"
st=$(fleet_status d) || fail "fleet status with bad credentials: $st"
json_get "$st" 'd["connected"] is False and d["last_error"] != ""' | grep -qx True || fail "fleet status of d: $st"
xb d fleet status | grep -qi "not connected" || fail "text fleet status of d: $(xb d fleet status 2>&1)"
ok "fleet status of d: not connected, $(json_get "$st" 'd["last_error"]')"
node_fail d "$A4"
expect_ban d "$A4" ""
expect_reach_nodes 4 no "bad credentials: d bans locally" d
node_stop d

for f in "$FT"/*/daemon.log "$FT"/logs/*.daemon.log; do
  [ -f "$f" ] || continue
  grep -E "Sanitizer|runtime error" "$f" && fail "sanitizer report in $f"
done
echo "all fleet checks passed in $(($(date +%s) - started)) s"
