# lib_fleet.sh - a fleet lab for the integration tests and benchmarks of issue 13:
# one "lab" namespace holding a Linux bridge, and namespaces for nodes, NATS
# brokers and an attacker, each joined to the bridge by a veth pair, in
# 10.77.0.0/24 and fd00:77::/64. nats-server runs inside its broker namespace;
# every xdpband runs inside its node namespace with XDP on its own veth, its own
# config dir, pin dir, database, socket, log file and sshd-like jail.
# Source lib.sh first. Every name carries $$; fleet_cleanup removes exactly what
# this file made (processes by pid, namespaces, pin dirs and the temp dir by name).
#
# Uses from the caller: XD (xdpband), XB (xdpban), SRC (source tree).
# Sets: FP (name prefix), FT (temp dir), ANS (attacker namespace), and per node X
# (a letter) and broker K (k1, k2, k3): NPID[X], BPID[K].

FP=xf$$
FT=
FLAB=${FP}lab
ANS=${FP}x
declare -A NPID=() BPID=() NIP=()
FLEET_PIDS=()
FLEET_NS=()
FLEET_PINS=()
# Addresses: nodes a=.1 b=.2 c=.3 d=.4, brokers k1..k3 = .51..53, attacker .100 (+ .101-.109).
NIP=([a]=1 [b]=2 [c]=3 [d]=4 [k1]=51 [k2]=52 [k3]=53 [x]=100)
ATTACKER4=10.77.0.100
ATTACKER6=fd00:77::100

fleet_ip4() { echo "10.77.0.${NIP[$1]}"; }
fleet_ip6() { echo "fd00:77::${NIP[$1]}"; }
fleet_ns() { echo "${FP}$1"; }
fleet_pin() { echo "/sys/fs/bpf/xdpban-test-$$-$1"; }

# wait_until SECONDS CMD...: polls CMD every 50 ms; false if it never succeeded.
wait_until() {
  local end=$(($(date +%s%N) + ${1%.*} * 1000000000)); shift
  while :; do
    "$@" && return 0
    [ "$(date +%s%N)" -ge "$end" ] && return 1
    sleep 0.05
  done
}

# require_nats: skips (77) without nats-server or curl, except under CI=true.
require_nats() {
  local t
  for t in nats-server curl; do
    command -v "$t" >/dev/null && continue
    [ "${CI:-}" = true ] && fail "CI=true and this fleet test cannot run: needs $t"
    echo "SKIP: needs $t"; exit 77
  done
}

# fleet_cleanup: the EXIT trap. After a failure the logs (daemons, brokers) are
# copied to /tmp/xdpban-fleet-fail-PID and the last lines of each printed.
fleet_cleanup() {
  local rc=$? p ns f
  if [ "$rc" != 0 ] && [ -n "$FT" ] && [ -d "$FT" ]; then
    local keep=/tmp/xdpban-fleet-fail-$$
    mkdir -p "$keep"
    for f in "$FT"/*/daemon.log; do [ -f "$f" ] && cp "$f" "$keep/$(basename "$(dirname "$f")").daemon.log"; done
    cp "$FT"/*.nats.log "$FT"/logs/* "$keep/" 2>/dev/null
    for f in "$FT"/*/daemon.log; do
      [ -f "$f" ] || continue
      echo "--- last lines of $f" >&2; tail -25 "$f" >&2
    done
    for f in "$FT"/*.nats.log; do
      [ -f "$f" ] || continue
      echo "--- last lines of $f (route retries left out)" >&2
      grep -v "Error trying to connect to route" "$f" | tail -15 >&2
    done
    local x
    for x in "${!NPID[@]}"; do
      [ -n "${NPID[$x]}" ] || continue
      echo "--- fleet status of $x: $(fleet_status "$x" 2>&1)" >&2
    done
    echo "fleet test logs kept in $keep" >&2
  fi
  for p in "${NPID[@]}" "${BPID[@]}" "${FLEET_PIDS[@]}"; do
    [ -n "$p" ] && kill -9 "$p" 2>/dev/null
  done
  for p in "${NPID[@]}" "${BPID[@]}" "${FLEET_PIDS[@]}"; do
    [ -n "$p" ] && wait "$p" 2>/dev/null
  done
  for ns in "${FLEET_NS[@]}"; do ip netns del "$ns" 2>/dev/null; done
  for p in "${FLEET_PINS[@]}"; do rm -rf "$p"; done
  [ -n "$FT" ] && rm -rf "$FT"
  return 0
}

# fleet_lab: the lab namespace with bridge ${FP}br, the attacker (10.77.0.100-.109)
# and the temp dir FT. Nodes and brokers are attached with fleet_attach.
fleet_lab() {
  FT=$(mktemp -d /tmp/xdpban-fleet-XXXXXX)
  ip netns add "$FLAB" || fail "ip netns add $FLAB"
  FLEET_NS+=("$FLAB")
  inns "$FLAB" ip link set lo up
  inns "$FLAB" ip link add "${FP}br" type bridge
  # no STP listening delay: ports forward at once
  inns "$FLAB" ip link set "${FP}br" type bridge stp_state 0 forward_delay 0
  inns "$FLAB" ip link set "${FP}br" up
  fleet_attach x
  local i
  for i in 1 2 3 4 5 6 7 8 9; do inns "$ANS" ip addr add "10.77.0.10$i/24" dev "${FP}x0"; done
}

# fleet_attach NAME: namespace ${FP}NAME with veth ${FP}NAME0 (its end) to the
# bridge (${FP}NAME1 in the lab), addresses 10.77.0.N/24 and fd00:77::N/64.
fleet_attach() {
  local ns=${FP}$1 ifn=${FP}${1}0 peer=${FP}${1}1
  ip netns add "$ns" || fail "ip netns add $ns"
  FLEET_NS+=("$ns")
  ip link add "$ifn" netns "$ns" type veth peer name "$peer" netns "$FLAB" || fail "veth $ifn"
  inns "$FLAB" ip link set "$peer" master "${FP}br"
  inns "$FLAB" ip link set "$peer" up
  inns "$ns" ip link set lo up
  inns "$ns" ip addr add "$(fleet_ip4 "$1")/24" dev "$ifn"
  inns "$ns" ip -6 addr add "$(fleet_ip6 "$1")/64" dev "$ifn" nodad
  inns "$ns" ip link set "$ifn" up
}

# --- NATS ---------------------------------------------------------------------------
# broker_start K [nats-server options...]: nats-server with JetStream (file store
# $FT/K.store, kept across restarts), clients on IP:4222, monitoring on IP:8222,
# log $FT/K.nats.log. Namespace ${FP}K is made on first use.
broker_start() {
  local k=$1; shift
  [ -e "/run/netns/${FP}$k" ] || fleet_attach "$k"
  local ip; ip=$(fleet_ip4 "$k")
  mkdir -p "$FT/$k.store"
  # nsenter execs nats-server: $! is the server itself
  nsenter --net="/run/netns/${FP}$k" nats-server -js -sd "$FT/$k.store" --server_name "$k" \
    -a "$ip" -p 4222 -m 8222 -l "$FT/$k.nats.log" "$@" &
  BPID[$k]=$!
}

# broker_healthy K: JetStream of K answers healthy (for a cluster: with a meta leader).
broker_healthy() {
  inns "${FP}$1" curl -sf -m 1 "http://$(fleet_ip4 "$1"):8222/healthz" 2>/dev/null | grep -q '"ok"'
}

broker_wait() {
  local k
  for k in "$@"; do
    wait_until 20 broker_healthy "$k" || { tail -20 "$FT/$k.nats.log"; fail "nats-server $k not healthy"; }
  done
}

# broker_kill K [SIGNAL]: KILL by default.
broker_kill() {
  kill -"${2:-KILL}" "${BPID[$1]}" 2>/dev/null
  wait "${BPID[$1]}" 2>/dev/null
  BPID[$1]=
}

# single_start [options...]: one JetStream server, k1 (10.77.0.51:4222).
single_start() { broker_start k1 "$@"; broker_wait k1; }

# cluster_start: a 3-server JetStream cluster k1..k3 (routes on :6222), waits until
# every server reports JetStream healthy (meta leader elected).
cluster_start() {
  local routes="nats://$(fleet_ip4 k1):6222,nats://$(fleet_ip4 k2):6222,nats://$(fleet_ip4 k3):6222" k
  for k in k1 k2 k3; do
    broker_start "$k" --cluster_name "${FP}c" --cluster "nats://$(fleet_ip4 "$k"):6222" --routes "$routes"
  done
  broker_wait k1 k2 k3
}

# cluster_nodes_up: nodes a, b and c on the cluster k1..k3 (bucket xdpban-r3,
# 3 replicas), each connected with its snapshot read, and the bucket's stream
# there. Sets servers (the nodes' `servers =` value) for nodes added later.
cluster_nodes_up() {
  local x
  servers=$(fleet_servers k1 k2 k3)
  for x in a b c; do node_conf "$x" "servers = $servers" "bucket = xdpban-r3" "replicas = 3"; done
  for x in a b c; do node_start "$x"; done
  for x in a b c; do wait_until 15 fleet_ready "$x" || fail "node $x not connected to the cluster: $(fleet_status "$x")"; done
  wait_until 10 broker_stream k1 KV_xdpban-r3 >/dev/null || fail "no stream KV_xdpban-r3 on the cluster"
}

# fleet_servers K...: the `servers =` value for these brokers.
fleet_servers() {
  local k out=
  for k in "$@"; do out+="${out:+, }nats://$(fleet_ip4 "$k"):4222"; done
  echo "$out"
}

# broker_stream K STREAM: the stream's state and config as JSON from K's monitoring port.
broker_stream() {
  local js
  js=$(inns "${FP}$1" curl -sf -m 2 "http://$(fleet_ip4 "$1"):8222/jsz?accounts=true&streams=true&config=true") || return 1
  python3 -c "
import json, sys
d = json.loads(sys.argv[2])
for a in d.get('account_details', []):
    for s in a.get('stream_detail', []):
        if s['name'] == sys.argv[1]: print(json.dumps(s)); sys.exit(0)
sys.exit(1)" "$2" "$js"
}

# --- nodes ----------------------------------------------------------------------------
# node_ctx X: points lib.sh's T VNS VIF PD SOCK DPID at node X (for daemon_conf,
# start_daemon, stop_daemon).
node_ctx() {
  T=$FT/$1 VNS=${FP}$1 VIF=${FP}${1}0 PD=$(fleet_pin "$1") SOCK=$FT/$1/xdpban.sock DPID=${NPID[$1]:-}
}

# node_conf X [OPTION = VALUE ...]: config of node X (namespace made on first use):
# [xdpban] on its veth, an sshd jail on $FT/X/auth.log (maxretry 3), and
# [fleet] with node = X, bucket xdpban-test on broker k1 unless the options
# given (appended to [fleet]) say otherwise.
node_conf() {
  local x=$1; shift
  [ -e "/run/netns/${FP}$x" ] || fleet_attach "$x"
  node_ctx "$x"
  mkdir -p "$T"
  FLEET_PINS+=("$PD")
  local have_servers=0 line
  for line in "$@"; do [[ $line == servers* ]] && have_servers=1; done
  local fl=("[fleet]" "enabled = true" "node = $x")
  [ $have_servers = 1 ] || fl+=("servers = $(fleet_servers k1)")
  fl+=("$@")
  local hasb=0
  for line in "$@"; do [[ $line == bucket* ]] && hasb=1; done
  [ $hasb = 1 ] || fl+=("bucket = xdpban-test")
  daemon_conf "${fl[@]}"
  cat >"$T/jail.conf" <<CONF
[DEFAULT]
bantime = 1h
findtime = 10m
maxretry = 3

[sshd]
enabled = true
logpath = $T/auth.log
CONF
  touch "$T/auth.log"
}

# node_start X / node_stop X [SIGNAL]: lib.sh's start_daemon/stop_daemon for node X.
node_start() { node_ctx "$1"; start_daemon; NPID[$1]=$DPID; }
node_stop() { node_ctx "$1"; stop_daemon "${2:-TERM}"; NPID[$1]=; }

# node_reset X: node X as new: daemon stopped, XDP detached, pins and state gone.
node_reset() {
  [ -n "${NPID[$1]:-}" ] && node_stop "$1"
  node_ctx "$1"
  inns "$VNS" "$XB" --pin-dir "$PD" detach "$VIF" >/dev/null 2>&1
  inns "$VNS" ip link set "$VIF" xdp off 2>/dev/null
  mkdir -p "$FT/logs"
  [ -f "$T/daemon.log" ] && mv "$T/daemon.log" "$FT/logs/$1.$(date +%s%N).daemon.log"
  rm -rf "$PD" "$T"
}

# xb X ARGS...: the CLI on node X (its namespace, pins and socket).
xb() { local x=$1; shift; inns "${FP}$x" "$XB" --pin-dir "$(fleet_pin "$x")" --socket "$FT/$x/xdpban.sock" "$@"; }

# node_fail X ADDRESS: three sshd failures from ADDRESS in X's log (maxretry 3).
node_fail() {
  local l="$(now_syslog) host sshd[4242]: Failed password for root from $2 port 5555 ssh2"
  printf '%s\n%s\n%s\n' "$l" "$l" "$l" >>"$FT/$1/auth.log"
}

# ban_origin X CIDR: prints the origin of X's ban of CIDR ("" for local), or
# fails if X does not list it (xdpban list --json through X's socket).
ban_origin() {
  xb "$1" list --json 2>/dev/null | python3 -c "
import json, sys
for e in json.load(sys.stdin):
    if e['cidr'] == sys.argv[1]: print(e.get('origin', '?')); sys.exit(0)
sys.exit(1)" "$2"
}
has_ban() { ban_origin "$1" "$2" >/dev/null; }
no_ban() { ! ban_origin "$1" "$2" >/dev/null; }

# expect_ban X CIDR ORIGIN [SECONDS]: waits until X lists CIDR with this origin.
expect_ban() {
  local got
  wait_until "${4:-5}" has_ban "$1" "$2" || fail "node $1 does not list $2 after ${4:-5} s: $(xb "$1" list 2>&1 | head -20)"
  got=$(ban_origin "$1" "$2")
  [ "$got" = "$3" ] || fail "node $1 lists $2 with origin '$got', want '$3'"
}
# expect_no_ban X CIDR [SECONDS]: waits until X does not list CIDR.
expect_no_ban() {
  wait_until "${3:-5}" no_ban "$1" "$2" || fail "node $1 still lists $2 after ${3:-5} s"
}

# fleet_status X: `xdpban fleet status --json` of node X.
fleet_status() { xb "$1" fleet status --json; }
fleet_field() { json_get "$(fleet_status "$1" 2>/dev/null)" "$2" 2>/dev/null; }
fleet_connected() { [ "$(fleet_field "$1" 'd["connected"]')" = True ]; }
# fleet_is X EXPR: EXPR (python, on the status `d`) is true for node X; for wait_until.
fleet_is() { [ "$(fleet_field "$1" "$2")" = True ]; }
# fleet_ready X: connected and the bucket's snapshot read.
fleet_ready() { [ "$(fleet_field "$1" 'd["connected"] and d["snapshot_done"]')" = True ]; }

# expect_reach_nodes FAMILY yes|no WHAT X...: lib.sh's expect_reach from the
# attacker to each node X, all nodes probed at once.
expect_reach_nodes() {
  local fam=$1 want=$2 what=$3 x pids=() rc=0; shift 3
  for x in "$@"; do
    (
      VNS=${FP}$x DST4=$(fleet_ip4 "$x") DST6=$(fleet_ip6 "$x")
      expect_reach "$fam" "$want" "$what at $x"
    ) &
    pids+=($!)
  done
  for x in "${pids[@]}"; do wait "$x" || rc=1; done
  [ $rc = 0 ] || fail "$what: reachability (above)"
}

# node_log_has X REGEX: the daemon log of X has a line matching REGEX.
node_log_has() { grep -qE "$2" "$FT/$1/daemon.log"; }
