# lib.sh - shared helpers for the integration tests: root/CI checks, throwaway
# namespaces joined by a veth pair, reachability probes. Every test names what it
# creates with its own prefix and removes exactly that on exit.

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

# Skips (exit 77) without root/BPF, except under CI=true where that is a failure.
require_root_bpf() {
  local why=""
  [ "$(id -u)" = 0 ] || why="needs root"
  [ -z "$why" ] && ! command -v nsenter >/dev/null && why="needs nsenter"
  if [ -n "$why" ]; then
    [ "${CI:-}" = true ] && fail "CI=true and this BPF test cannot run: $why"
    echo "SKIP: $why"; exit 77
  fi
}

# inns NS CMD...: runs CMD in a namespace, keeping this /sys (and so bpffs pins).
inns() { local ns=$1; shift; nsenter --net="/run/netns/$ns" "$@"; }

# make_pair PREFIX: namespaces ${PREFIX}v (victim, XDP side) and ${PREFIX}a
# (attacker) with veth ${PREFIX}0/${PREFIX}1, IPv4 10.213.0.1/.2 and IPv6
# fd00:213::1/::2. Sets VNS ANS VIF.
make_pair() {
  VNS=${1}v ANS=${1}a VIF=${1}0
  ip netns add "$VNS"
  ip netns add "$ANS"
  ip link add "$VIF" netns "$VNS" type veth peer name "${1}1" netns "$ANS"
  inns "$VNS" ip addr add 10.213.0.1/24 dev "$VIF"
  inns "$ANS" ip addr add 10.213.0.2/24 dev "${1}1"
  inns "$VNS" ip -6 addr add fd00:213::1/64 dev "$VIF" nodad
  inns "$ANS" ip -6 addr add fd00:213::2/64 dev "${1}1" nodad
  for ns in "$VNS" "$ANS"; do inns "$ns" ip link set lo up; done
  inns "$VNS" ip link set "$VIF" up
  inns "$ANS" ip link set "${1}1" up
}

drop_pair() {
  ip netns del "${1}v" 2>/dev/null || true
  ip netns del "${1}a" 2>/dev/null || true
}

# ping_ok FAMILY: does a ping from the attacker reach the victim? (The victim's
# addresses are DST4/DST6 when set, make_pair's otherwise.)
ping_ok() {
  local dst=${DST4:-10.213.0.1}; [ "$1" = 6 ] && dst=${DST6:-fd00:213::1}
  inns "$ANS" ping -"$1" -c 1 -W "${WAIT:-2}" "$dst" >/dev/null 2>&1
}

# udp_ok FAMILY: is a UDP datagram to port 5060 from the attacker delivered?
udp_ok() {
  local dst=${DST4:-10.213.0.1} bind=0.0.0.0 af=AF_INET
  [ "$1" = 6 ] && { dst=${DST6:-fd00:213::1}; bind=::; af=AF_INET6; }
  local out; out=$(mktemp)
  inns "$VNS" python3 -c "
import socket,sys
s=socket.socket(socket.$af,socket.SOCK_DGRAM); s.bind(('$bind',5060)); s.settimeout(${WAIT:-2})
try: print(s.recv(100).decode())
except socket.timeout: pass" >"$out" &
  local rx=$!
  sleep 0.3
  inns "$ANS" python3 -c "
import socket,time
s=socket.socket(socket.$af,socket.SOCK_DGRAM)
for i in range(3): s.sendto(b'xdpban-probe',('$dst',5060)); time.sleep(0.1)" 2>/dev/null || true
  wait "$rx" || true
  grep -q xdpban-probe "$out"; local rc=$?
  rm -f "$out"
  return $rc
}

# expect_reach FAMILY yes|no WHAT: checks ICMP and UDP together.
expect_reach() {
  if [ "$2" = yes ]; then
    ping_ok "$1" || fail "$3: IPv$1 ping should pass"
    udp_ok "$1" || fail "$3: IPv$1 UDP should pass"
  else
    # a dropped probe can only time out: wait less for it
    WAIT=1 ping_ok "$1" && fail "$3: IPv$1 ping should be dropped"
    WAIT=1 udp_ok "$1" && fail "$3: IPv$1 UDP should be dropped"
  fi
  ok "$3 (IPv$1 $([ "$2" = yes ] && echo passes || echo dropped))"
}

# ctl SOCKET JSON: one request to xdpband's control socket; prints the answer.
ctl() {
  python3 - "$1" "$2" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
req = json.loads(sys.argv[2]); req["v"] = 1
s.sendall((json.dumps(req) + "\n").encode())
buf = b""
while not buf.endswith(b"\n"):
    chunk = s.recv(65536)
    if not chunk: break
    buf += chunk
print(buf.decode().strip())
PY
}

# jq-like field access with python: json_get JSON EXPR (EXPR uses `d`).
json_get() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); print($2)" "$1"; }

now_syslog() { date '+%b %e %H:%M:%S' -d "${1:-now}"; }

# --- the real xdpband in a test -------------------------------------------------
# These use the caller's T (temp dir), VNS and VIF (make_pair), PD (pin dir),
# SOCK (control socket), XD (xdpband) and SRC (source tree); the daemon's
# output goes to $T/daemon.log and its pid is DPID.

# daemon_conf [OPTION = VALUE ...]: $T/xdpban.conf for a test daemon on $VIF
# (native XDP), the given options appended; jails go to $T/jail.conf.
daemon_conf() {
  {
    printf '[xdpban]\ninterfaces = %s\nxdp_mode = native\npin_dir = %s\n' "$VIF" "$PD"
    printf 'database = %s/state.db\nsocket = %s\nfilter_path = %s/deploy/filter.d\ncapacity = 65536\n' \
      "$T" "$SOCK" "$SRC"
    for line in "$@"; do printf '%s\n' "$line"; done
  } >"$T/xdpban.conf"
}

# start_daemon: starts xdpband in $VNS and waits until it answers on $SOCK.
start_daemon() {
  # nsenter execs xdpband (no fork), so $! is the daemon itself.
  nsenter --net="/run/netns/$VNS" "$XD" -c "$T/xdpban.conf" >>"$T/daemon.log" 2>&1 &
  DPID=$!
  for _ in $(seq 100); do
    ctl "$SOCK" '{"cmd":"ping"}' 2>/dev/null | grep -q '"ok":true' && return 0
    kill -0 "$DPID" 2>/dev/null || { cat "$T/daemon.log"; fail "xdpband exited during start-up"; }
    sleep 0.1
  done
  cat "$T/daemon.log"; fail "xdpband did not answer on $SOCK"
}

# stop_daemon [SIGNAL]: TERM by default; fails if the daemon outlives it.
stop_daemon() {
  kill -"${1:-TERM}" "$DPID"
  wait "$DPID" 2>/dev/null
  kill -0 "$DPID" 2>/dev/null && fail "xdpband $DPID still running after SIG${1:-TERM}"
  DPID=
}
