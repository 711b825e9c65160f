#!/usr/bin/env bash
# bench_daemon.sh - the daemon benchmarks of issue 5, on the real xdpband in a
# throwaway namespace pair (xbq<pid>v / xbq<pid>a, veth xbq<pid>0/1): ban
# latency, live ingest of the genlog 2M-line workload (next to fail2ban-server
# 1.0.2 from Debian's package when --fail2ban DIR is given), restart with 1M
# bans while a banned source sends, memory per tracked failing address, and a
# 1M-entry blocklist import with the daemon down (CLI writes the maps) and up
# (through the control socket), side by side.
# Pins under /sys/fs/bpf/xdpban-bq-<pid>*, files under /tmp/xbq-bench.*; a trap
# removes namespaces, pins, files and the processes it started.
# Usage: sudo tools/bench/bench_daemon.sh [--build DIR] [--runs N] [--only LIST]
#        [--fail2ban DIR] [--workload DIR] [--trials N] [--bans N] [--flood N]
#   --only: comma list of latency,ingest,restart,memory,import (default: all)
#   --fail2ban: root of `dpkg-deb -x fail2ban_1.0.2*.deb` (+ python3-pyinotify) for the
#               side-by-side ingest; without it the issue's figure is quoted, labelled
#   --workload: an existing genlog output made by this script's genlog command (else generated)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
. "$src/tests/integration/lib.sh"

build=$src/build-dbench
runs=2
only=latency,ingest,restart,memory,import
f2b=
workload=
trials=100
f2bruns=
nbans=1000000
nflood=1000000
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --fail2ban) f2b=$2; shift 2 ;;
    --fail2ban-runs) f2bruns=$2; shift 2 ;;
    --workload) workload=$2; shift 2 ;;
    --trials) trials=$2; shift 2 ;;
    --bans) nbans=$2; shift 2 ;;
    --flood) nflood=$2; shift 2 ;;
    *) sed -n '11,16p' "$0" >&2; exit 2 ;;
  esac
done
f2bruns=${f2bruns:-$runs}
XD=$build/src/daemon/xdpband
XB=$build/src/cli/xdpban
PROBE=$build/tools/bench/bench_daemon_probe
for b in "$XD" "$XB" "$PROBE"; do
  [ -x "$b" ] || { echo "bench_daemon.sh: no $b (ninja -C $build xdpband xdpban bench_daemon_probe)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "bench_daemon.sh: needs root" >&2; exit 1; }
want() { [[ ",$only," == *",$1,"* ]]; }
export TZ=UTC

P=xbq$$
PD0=/sys/fs/bpf/xdpban-bq-$$
T=$(mktemp -d /tmp/xbq-bench.XXXXXX)
DPID= FPID= PIDS=()
cleanup() {
  for p in $DPID $FPID "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  drop_pair "$P"
  rm -rf "$PD0"-* "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
make_pair "$P"
rss_kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{sub(/.*\) /, ""); print ($12 + $13) / hz}' "/proc/$1/stat"; }

# --- xdpband with a temporary configuration -------------------------------------
# write_conf DIR PINDIR CAPACITY: xdpban.conf; jails go to DIR/jail.conf.
write_conf() {
  mkdir -p "$1"
  cat >"$1/xdpban.conf" <<CONF
[xdpban]
interfaces = $VIF
xdp_mode = native
pin_dir = $2
database = $1/state.db
socket = $1/xdpban.sock
filter_path = $src/deploy/filter.d
capacity = $3
CONF
}
# start_daemon DIR: waits for the control socket; sets DPID and READY_MS (exec to first answer).
start_daemon() {
  local t0; t0=$(date +%s%N)
  # nsenter execs xdpband (no fork), so $! is the daemon itself.
  nsenter --net="/run/netns/$VNS" "$XD" -c "$1/xdpban.conf" >>"$1/daemon.log" 2>&1 &
  DPID=$!
  READY_MS=$("$PROBE" ready --socket "$1/xdpban.sock" --since-ns "$t0" --timeout 120) ||
    { tail -5 "$1/daemon.log" >&2; echo "xdpband did not become ready" >&2; exit 1; }
}
stop_daemon() {
  [ -n "$DPID" ] || { echo "bench_daemon.sh: no daemon to stop" >&2; exit 1; }
  kill -TERM "$DPID"; wait "$DPID" 2>/dev/null; DPID=
}
detach_all() { nsenter --net="/run/netns/$VNS" "$XB" --pin-dir "$1" detach "$VIF" >/dev/null 2>&1 || true; rm -rf "$1"; }

summary() {  # summary NAME VALUES...: min..max (median) of the values
  python3 - "$@" <<'PY'
import statistics, sys
v = [float(x) for x in sys.argv[2:]]
print("  %-44s %s" % (sys.argv[1], "%.4g .. %.4g (median %.4g) over %d runs" % (min(v), max(v), statistics.median(v), len(v)) if v else "-"))
PY
}

echo "xdpband $(git -C "$src" rev-parse --short HEAD) ($build), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"

# --- 1. latency ---------------------------------------------------------------------
if want latency; then
  echo
  echo "== 1. latency: maxretry=3 sshd lines for a fresh address, clock read before the last write(2),"
  echo "   Blocklist::find on the mmapped host table polled until the ban is there ($trials trials per run)"
  med=() p99=()
  for r in $(seq "$runs"); do
    D=$T/lat$r PD=$PD0-lat$r
    write_conf "$D" "$PD" 65536
    cat >"$D/jail.conf" <<CONF
[sshd]
enabled = true
logpath = $D/auth.log
maxretry = 3
findtime = 10m
bantime = 1h
CONF
    touch "$D/auth.log"
    start_daemon "$D"
    out=$("$PROBE" latency --pin-dir "$PD" --log "$D/auth.log" --trials "$trials" --maxretry 3 --net "$r")
    echo "  run $r: $out"
    med+=("$(json_get "$out" 'd["median_ms"]')") p99+=("$(json_get "$out" 'd["p99_ms"]')")
    stop_daemon; detach_all "$PD"
  done
  summary "median ms" "${med[@]}"
  summary "p99 ms (goal < 10)" "${p99[@]}"
fi

# --- 2. live ingest -----------------------------------------------------------------
if want ingest; then
  echo
  # genlog's timestamps end 5 minutes before now and span 48 h; findtime = 4 days keeps
  # every line inside xdpband's window (it uses the log time and ignores lines older
  # than findtime), and genlog's exact ground truth is computed with the same 4 days.
  # fail2ban in operation replaces times more than 60 s off the clock by arrival time,
  # so with any findtime longer than the ingest it bans the same set
  # (banned_if_compressed, checked equal to banned below). While it is behind (a
  # backlog) it keeps the log time, and a ban whose log time + bantime is past is
  # dropped ("Ignore IP, expired bantime"): bantime = 1w keeps every ban in the future.
  FT=345600
  if [ -z "$workload" ]; then
    workload=$T/genlog
    echo "   generating: genlog.py --size large --start now-173100 --findtime $FT --maxretry 3 --out $workload"
    python3 /work/shared/bench/genlog.py --size large --start now-173100 --findtime $FT --maxretry 3 \
      --out "$workload" >/dev/null || exit 1
  fi
  GT=$workload/ground_truth.json
  sentinels=$(python3 -c "import json; print(','.join(json.load(open('$GT'))['generator']['sentinel_ips'].values()))")
  echo "== 2. live ingest: $(python3 -c "import json; g=json.load(open('$GT')); print(sum(f['lines'] for f in g['files'].values()), 'lines,', g['rules'])")"
  echo "   jails sshd, postfix-sasl, dovecot, asterisk; maxretry 3, findtime ${FT}s, bantime 1w; files appended"
  echo "   in 64 KiB whole-line writes round-robin as fast as possible; done = the 4 end-of-file sentinels banned"
  # compare JAIL_BANS_JSON: exact set comparison against the ground truth
  compare() {
    python3 - "$GT" "$1" <<'PY'
import json, sys
gt = json.load(open(sys.argv[1]))["jails"]
got = json.load(open(sys.argv[2]))
tot_fp = tot_fn = 0
for j, g in gt.items():
    want = set(g["banned"]); have = set(got.get(j, []))
    assert want == set(g["banned_if_compressed"]), j
    fp, fn = sorted(have - want), sorted(want - have)
    decoys = sorted(have & set(g["must_not_ban_decoys"]))
    tot_fp += len(fp); tot_fn += len(fn)
    print("    %-13s expected %5d banned %5d  false+ %d %s false- %d %s decoys banned %d" %
          (j, len(want), len(have), len(fp), fp[:5], len(fn), fn[:5], len(decoys)))
print("    bans vs ground truth: %s" % ("EXACT" if tot_fp == tot_fn == 0 else "%d false positives, %d false negatives" % (tot_fp, tot_fn)))
PY
  }
  xl=() xc=() xr=() fl=() fc=() fr=()
  for r in $(seq "$runs"); do
    D=$T/ing$r PD=$PD0-ing$r
    write_conf "$D" "$PD" 65536
    cat >"$D/jail.conf" <<CONF
[DEFAULT]
maxretry = 3
findtime = $FT
bantime = 1w

[sshd]
enabled = true
logpath = $D/auth.log

[postfix-sasl]
enabled = true
logpath = $D/mail.log

[dovecot]
enabled = true
logpath = $D/mail.log

[asterisk]
enabled = true
logpath = $D/asterisk.log
CONF
    touch "$D/auth.log" "$D/mail.log" "$D/asterisk.log"
    sync; echo 1 >/proc/sys/vm/drop_caches 2>/dev/null || true
    start_daemon "$D"
    out=$("$PROBE" ingest --src "$workload" --dst "$D" --pid "$DPID" --pin-dir "$PD" --sentinels "$sentinels" --timeout 900)
    echo "  run $r xdpband:  $out"
    xl+=("$(json_get "$out" 'd["lines_per_s"]')") xc+=("$(json_get "$out" 'd["cpu_s"]')") xr+=("$(json_get "$out" 'd["vmhwm_kib"]/1024')")
    sleep 1
    ctl "$D/xdpban.sock" '{"cmd":"list"}' | python3 -c "
import json,sys; d=json.load(sys.stdin); o={}
[o.setdefault(b['jail'],[]).append(b['cidr']) for b in d['bans']]; json.dump(o,open('$D/bans.json','w'))"
    compare "$D/bans.json"
    stop_daemon; detach_all "$PD"; rm -f "$D"/*.log

    if [ -n "$f2b" ] && [ "$r" -le "$f2bruns" ]; then
      F=$T/f2b$r
      mkdir -p "$F"
      cp -a "$f2b/etc/fail2ban" "$F/conf"
      rm -f "$F/conf/jail.d/"*
      cat >"$F/conf/fail2ban.local" <<CONF
[Definition]
loglevel = INFO
logtarget = $F/fail2ban.log
socket = $F/f2b.sock
pidfile = $F/f2b.pid
dbfile = $F/f2b.sqlite3
allowipv6 = auto
CONF
      cat >"$F/conf/jail.local" <<CONF
[DEFAULT]
backend = pyinotify
usedns = no
maxretry = 3
findtime = $FT
bantime = 1w
action = dummy[target=$F/bans.txt]

# per jail too: Debian's jail.conf sets maxretry = 10 in [asterisk], which [DEFAULT] here does not override
[sshd]
enabled = true
logpath = $F/auth.log
maxretry = 3
findtime = $FT

[postfix-sasl]
enabled = true
logpath = $F/mail.log
maxretry = 3
findtime = $FT

[dovecot]
enabled = true
logpath = $F/mail.log
maxretry = 3
findtime = $FT

[asterisk]
enabled = true
logpath = $F/asterisk.log
maxretry = 3
findtime = $FT
CONF
      touch "$F/auth.log" "$F/mail.log" "$F/asterisk.log" "$F/fail2ban.log"
      sync; echo 1 >/proc/sys/vm/drop_caches 2>/dev/null || true
      PYTHONPATH=$f2b/usr/lib/python3/dist-packages nsenter --net="/run/netns/$VNS" \
        python3 "$f2b/usr/bin/fail2ban-server" -f -x -c "$F/conf" >"$F/server.out" 2>&1 &
      FPID=$!
      for _ in $(seq 300); do
        [ "$(grep -c "Jail '.*' started" "$F/fail2ban.log")" = 4 ] && break
        sleep 0.1
      done
      out=$("$PROBE" ingest --src "$workload" --dst "$F" --pid "$FPID" --done-log "$F/fail2ban.log" --sentinels "$sentinels" --timeout 1800)
      echo "  run $r fail2ban: $out"
      fl+=("$(json_get "$out" 'd["lines_per_s"]')") fc+=("$(json_get "$out" 'd["cpu_s"]')") fr+=("$(json_get "$out" 'd["vmhwm_kib"]/1024')")
      python3 - "$F/fail2ban.log" "$F/bans.json" <<'PY'
import json, re, sys
o = {}
for l in open(sys.argv[1]):
    m = re.search(r"\[([\w-]+)\] Ban (\S+)", l)
    if m: o.setdefault(m.group(1), []).append(m.group(2))
json.dump(o, open(sys.argv[2], "w"))
PY
      compare "$F/bans.json"
      kill -TERM "$FPID"; wait "$FPID" 2>/dev/null; FPID=
      rm -f "$F"/*.log
    fi
  done
  summary "xdpband lines/s" "${xl[@]}"
  summary "xdpband CPU-s" "${xc[@]}"
  summary "xdpband peak RSS MiB (VmHWM)" "${xr[@]}"
  if [ -n "$f2b" ]; then
    summary "fail2ban-server lines/s" "${fl[@]}"
    summary "fail2ban-server CPU-s (incl. reaped children)" "${fc[@]}"
    summary "fail2ban-server peak RSS MiB (VmHWM)" "${fr[@]}"
    python3 - "${#xc[@]}" "${xc[@]}" "${fc[@]}" <<'PY'
import sys
n = int(sys.argv[1]); x = [float(v) for v in sys.argv[2:2 + n]]; f = [float(v) for v in sys.argv[2 + n:]]
r = [b / a for a, b in zip(x, f)]  # run i of each, side by side
print("  %-44s %.0f .. %.0f x (goal >= 50x), same run, same files" % ("fail2ban CPU-s / xdpband CPU-s", min(r), max(r)))
PY
  else
    python3 - "${xc[@]}" <<'PY'
import sys
x = [float(v) for v in sys.argv[1:]]
print("  %-44s %.0f .. %.0f x (goal >= 50x) -- NOT measured in this run: the issue's 160 CPU-s" % ("160 CPU-s (issue) / xdpband CPU-s", 160 / max(x), 160 / min(x)))
PY
  fi
fi

# --- 3. restart with 1M active bans -------------------------------------------------
if want restart; then
  echo
  echo "== 3. restart with $nbans bans: imported with the CLI while the daemon is down, adopted at the"
  echo "   next start (stored in SQLite), then SIGTERM + start again while 10.213.0.2 (banned) sends UDP"
  rd=() gaps=()
  D=$T/rst PD=$PD0-rst
  write_conf "$D" "$PD" 1048576
  cat >"$D/jail.conf" <<CONF
[sshd]
enabled = true
logpath = $D/auth.log
CONF
  touch "$D/auth.log"
  start_daemon "$D"
  stop_daemon
  python3 -c "
import sys
out = open('$D/bans.txt', 'w'); out.write('10.213.0.2\n')
for i in range($nbans - 1):
    a = 0x14000000 + i
    out.write('%d.%d.%d.%d\n' % (a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255))"
  t0=$(date +%s%N)
  nsenter --net="/run/netns/$VNS" "$XB" --pin-dir "$PD" import "$D/bans.txt" --for 1d --json >"$D/import.json" ||
    { cat "$D/import.json"; exit 1; }
  echo "  xdpban import of $nbans bans (daemon down): $(( ($(date +%s%N) - t0) / 1000000 )) ms"
  start_daemon "$D"
  echo "  first start, adopting them into the store: ready in $READY_MS ms; $(grep -o 'restored state.*' "$D/daemon.log" | tail -1)"
  for r in $(seq "$runs"); do
    stats() { nsenter --net="/run/netns/$VNS" "$XB" --pin-dir "$PD" stats --json | python3 -c "import json,sys; print(json.load(sys.stdin)['counters']['dropped_v4'])"; }
    # receiver counts what reaches the victim's socket; sender paces 20k pps until told to stop
    nsenter --net="/run/netns/$VNS" python3 -c "
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', 5060)); s.settimeout(0.2)
n = 0
open('$D/rx.ready', 'w').close()
import os
while not os.path.exists('$D/rx.stop'):
    try: s.recv(100); n += 1
    except socket.timeout: pass
print(n)" >"$D/rx.out" &
    rx=$!; PIDS+=("$rx")
    while [ ! -e "$D/rx.ready" ]; do sleep 0.05; done
    d0=$(stats)
    nsenter --net="/run/netns/$ANS" python3 -c "
import os, socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
n, t0 = 0, time.monotonic()
while not os.path.exists('$D/tx.stop'):
    for _ in range(20): s.sendto(b'xbq', ('10.213.0.1', 5060)); n += 1
    time.sleep(max(0, t0 + n / 20000 - time.monotonic()))
print(n)" >"$D/tx.out" &
    tx=$!; PIDS+=("$tx")
    sleep 1
    ts=$(date +%s%N)
    stop_daemon
    stopped=$(( ($(date +%s%N) - ts) / 1000000 ))
    start_daemon "$D"; ms=$READY_MS
    sleep 1
    touch "$D/tx.stop"; wait "$tx"; sleep 0.3; touch "$D/rx.stop"; wait "$rx"
    rm -f "$D/tx.stop" "$D/rx.stop" "$D/rx.ready"
    d1=$(stats)
    sent=$(cat "$D/tx.out") got=$(cat "$D/rx.out")
    echo "  run $r: SIGTERM->exit $stopped ms, exec->ready $ms ms ($(grep -o 'restored state.*' "$D/daemon.log" | tail -1));" \
      "sent $sent, XDP dropped $((d1 - d0)), delivered to the victim $got"
    rd+=("$ms") gaps+=("$((sent - (d1 - d0) + got))")
  done
  summary "time to ready ms (goal < 2000)" "${rd[@]}"
  summary "packets not dropped by XDP (goal 0)" "${gaps[@]}"
  stop_daemon; detach_all "$PD"
fi

# --- 4. memory per tracked failing address ------------------------------------------
if want memory; then
  echo
  echo "== 4. memory: $nflood distinct addresses failing once each (findtime 1h); RSS delta (VmRSS after -"
  echo "   before the flood) / currently tracked, at maxretry:maxtracked 5:1048576, 5:100000 and 1000:100000."
  echo "   (maxretry 100000 is not run: each tracked address then costs 400 KB and 1M of them OOM the machine)"
  for v in 5:1048576 5:100000 1000:100000; do
    mr=${v%%:*} cap=${v##*:}
    per=()
    for r in $(seq "$runs"); do
      D=$T/mem$mr-$cap-$r PD=$PD0-mem$r
      write_conf "$D" "$PD" 65536
      cat >"$D/jail.conf" <<CONF
[flood]
enabled = true
filter = sshd
logpath = $D/auth.log
maxretry = $mr
findtime = 1h
maxtracked = $cap
CONF
      touch "$D/auth.log"
      start_daemon "$D"
      sleep 0.5
      before=$(rss_kib "$DPID" VmRSS)
      "$PROBE" flood --log "$D/auth.log" --count "$nflood"
      # the daemon drains the whole backlog before it serves the socket again: a ping may time out
      t0=$(date +%s%N)
      for _ in $(seq 600); do
        st=$(ctl "$D/xdpban.sock" '{"cmd":"status"}' 2>/dev/null) || continue
        [ "$(json_get "$st" 'd["jails"][0]["total_failed"]')" = "$nflood" ] && break
        sleep 0.5
      done
      drain=$(( ($(date +%s%N) - t0) / 1000000 ))
      after=$(rss_kib "$DPID" VmRSS) hwm=$(rss_kib "$DPID" VmHWM)
      tracked=$(json_get "$st" 'd["jails"][0]["currently_failed"]')
      b=$(( (after - before) * 1024 / tracked ))
      echo "  maxretry $mr maxtracked $cap run $r: tracked $tracked (total_failed $(json_get "$st" 'd["jails"][0]["total_failed"]')), VmRSS $before -> $after KiB (VmHWM $hwm), $b bytes per tracked address; all counted after $drain ms"
      per+=("$b")
      stop_daemon; detach_all "$PD"
    done
    summary "bytes/tracked, maxretry $mr maxtracked $cap" "${per[@]}"
  done
fi

# --- 5. import a 1M-entry blocklist: daemon down vs daemon up ----------------------
if want import; then
  echo
  echo "== 5. import of $nbans entries (990k hosts + 10k /24 in a random order, Spamhaus-style lines): the"
  echo "   CLI writing the maps (daemon down) vs through xdpband (parsed by the CLI, one request, stored in"
  echo "   SQLite), then the same list again with --replace through the daemon (nothing to change)"
  python3 - "$T/big.txt" "$nbans" <<'PY'
import random, sys
r = random.Random(1)
n = int(sys.argv[2]); nets = n // 100
skip = {0, 10, 127, 192, 198, 203} | set(range(224, 256))
hosts = set()
while len(hosts) < n - nets:
    a = r.getrandbits(32)
    if a >> 24 not in skip: hosts.add(a)
ns = set()
while len(ns) < nets:
    a = r.getrandbits(24)
    if a >> 16 not in skip: ns.add(a)
with open(sys.argv[1], "w") as f:
    f.writelines("%d.%d.%d.%d\n" % (a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255) for a in hosts)
    f.writelines("%d.%d.%d.0/24 ; SBL%d\n" % (a >> 16, a >> 8 & 255, a & 255, a) for a in ns)
PY
  down=() up=() again=()
  for r in $(seq "$runs"); do
    for mode in down up; do
      D=$T/imp$r$mode PD=$PD0-imp$r$mode
      write_conf "$D" "$PD" 2097152
      printf '[sshd]\nenabled = true\nlogpath = %s/auth.log\n' "$D" >"$D/jail.conf"
      touch "$D/auth.log"
      xb() { nsenter --net="/run/netns/$VNS" "$XB" --pin-dir "$PD" --socket "$D/xdpban.sock" "$@"; }
      start_daemon "$D"  # maps created, program attached
      [ $mode = down ] && stop_daemon
      t0=$(date +%s%N); xb import "$T/big.txt" --jail big --for 1d --json >"$D/first.json" 2>/dev/null || { cat "$D/first.json"; exit 1; }
      ms=$(( ($(date +%s%N) - t0) / 1000000 ))
      if [ $mode = down ]; then
        down+=("$ms")
        echo "  run $r: daemon down: $ms ms ($(json_get "$(cat "$D/first.json")" '"%d added" % d["added"]'))"
      else
        up+=("$ms")
        t0=$(date +%s%N); xb import "$T/big.txt" --jail big --for 1d --replace --json >"$D/again.json" 2>/dev/null || { cat "$D/again.json"; exit 1; }
        again+=("$(( ($(date +%s%N) - t0) / 1000000 ))")
        echo "  run $r: through xdpband: $ms ms ($(json_get "$(cat "$D/first.json")" '"%d added" % d["added"]'));" \
          "--replace with the same list ${again[-1]} ms ($(json_get "$(cat "$D/again.json")" '"%d already, %d removed" % (d["already"], d["removed"])'))"
        echo "    daemon: $(grep -o '\[big\] Import.*' "$D/daemon.log" | head -1); RSS $(rss_kib "$DPID" VmRSS) KiB"
        stop_daemon
      fi
      detach_all "$PD"
    done
  done
  summary "daemon down: ms for $nbans (goal < 2000)" "${down[@]}"
  summary "through xdpband: ms for $nbans (goal < 2000)" "${up[@]}"
  summary "through xdpband, --replace, unchanged: ms" "${again[@]}"
fi
