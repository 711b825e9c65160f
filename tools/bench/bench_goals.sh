#!/bin/bash
# bench_goals.sh - every datapath v2 figure next to its floor, in one run
# (issue 14): live frames over veth for banned and never-banned sources among
# 1M bans, the flood guard at 100k tracked sources, the log matcher against
# fail2ban-regex, bpftool dumps of the ban maps, 1M inserts and kernel memory
# per banned host. Prints each benchmark's own output, then one table.
# Usage: sudo tools/bench/bench_goals.sh [--build DIR] [--rounds R] [--skip-matcher]
# Build DIR (default build-bench) as a Release tree with bench_datapath and
# the xdpban CLI (tools/bench/README.md). Creates and removes its own
# namespaces and pins (through bench_live.sh and a pin dir of its own).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build="$here/../../build-bench"
rounds=3
matcher=1
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$(cd "$2" && pwd); shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --skip-matcher) matcher=0; shift ;;
    *) echo "usage: $0 [--build DIR] [--rounds R] [--skip-matcher]" >&2; exit 2 ;;
  esac
done
bench="$build/tools/bench/bench_datapath"
xb="$build/src/cli/xdpban"
for f in "$bench" "$xb"; do [ -x "$f" ] || { echo "bench_goals.sh: no $f (see tools/bench/README.md)" >&2; exit 1; }; done
[ "$(id -u)" = 0 ] || { echo "bench_goals.sh: needs root" >&2; exit 1; }

pd=/sys/fs/bpf/xdpban-goals-$$
work=$(mktemp -d /tmp/xbg.XXXXXX)
cleanup() { rm -rf "$pd" "$work"; }
trap cleanup EXIT INT TERM

rows=()
row() { rows+=("$(printf '| %s | %s | %s | %s |' "$1" "$2" "$3" "$4")"); }
met() { python3 -c "import sys; print('yes' if $1 else '**no**')"; }
# The share of the ceiling a receiver got in a bench_live.sh run (its median).
share() { sed -n "s/.*median $2 *[0-9.]* Mpps = *\([0-9.]*\)% of.*/\1/p" "$1" | python3 -c 'import sys; print(f"{float(sys.stdin.read())/100:.2f}")'; }

echo "== live frames, banned sources (1M bans) vs XDP drop-all"
# part-none (parse and counters, no lookup) and part-span (one random line of
# a 2 MiB table, nothing else) show what is physically left: an exact index of
# 1M IPv4 hosts needs at least ~1.7 MiB, expiry not counted.
"$here/bench_live.sh" --bench "$bench" --no-netfilter --rounds "$rounds" --span-mib 2 \
  --receivers drop,part-none,part-span,xdpban | tee "$work/hit"
hit=$(sed -n 's/.*goal: banned sources.*xdpban \([0-9.]*\) of drop-all.*/\1/p' "$work/hit")
row "1M banned random sources, live, of XDP drop-all" "$hit" ">= 0.60" "$(met "$hit >= 0.60")"
row "  reference: no lookup at all (part-none)" "$(share "$work/hit" part-none)" "" ""
row "  reference: one random line of a 2 MiB table, nothing else (part-span)" "$(share "$work/hit" part-span)" "" ""

echo "== live frames, never-banned sources (1M bans) vs XDP pass-all"
"$here/bench_live.sh" --bench "$bench" --no-netfilter --rounds "$rounds" --miss --span-mib 1 \
  --receivers pass,part-none,part-span,xdpban | tee "$work/miss"
miss=$(sed -n 's/.*goal: never-banned sources.*xdpban \([0-9.]*\) of pass-all.*/\1/p' "$work/miss")
row "non-banned random sources with 1M bans, live, of XDP pass-all" "$miss" ">= 0.95" "$(met "$miss >= 0.95")"
row "  reference: no lookup at all (part-none)" "$(share "$work/miss" part-none)" "" ""
row "  reference: one random word of 1 MiB (the Bloom filter's size), nothing else" "$(share "$work/miss" part-span)" "" ""

echo "== inserts and kernel memory"
taskset -c 1 "$bench" insert --no-compare | tee "$work/insert"
ins=$(sed -n 's/.*1M IPv4 host bans via Blocklist::ban_many *\([0-9.]*\) s.*/\1/p' "$work/insert")
row "1M IPv4 host bans inserted (Blocklist::ban_many)" "$ins s" "< 1 s" "$(met "$ins < 1")"
for fam in IPv4 IPv6; do
  b=$(sed -n "s/.*$fam host maps.* = *\([0-9.]*\) B per banned host.*/\1/p" "$work/insert")
  row "kernel memory per banned $fam host at 1M (capacity 1M)" "$b B" "<= 128 B" "$(met "$b <= 128")"
done

echo "== bpftool dumps of the ban maps"
"$bench" addrs --count 1000000 --format plain >"$work/list"
for c in 198.51.100.7 198.51.100.8 2001:db8::7 198.18.0.0/15; do "$xb" --pin-dir "$pd" ban "$c" --for 1h >/dev/null 2>&1; done
# bpftool alone is timed; the entries are counted afterwards.
dump_ms() {
  local t0 t1 n m
  t0=$(date +%s%N)
  for m in hosts4 hosts6 nets4 nets6; do bpftool -j map dump pinned "$pd/xdpban_$m" >"$work/$m.json"; done
  t1=$(date +%s%N)
  n=$(python3 -c 'import json,sys; print(sum(len(json.load(open(f))) for f in sys.argv[1:]))' "$work"/{hosts4,hosts6,nets4,nets6}.json)
  echo "$(( (t1 - t0) / 1000000 )) $n"
}
read -r ms n <<<"$(dump_ms)"
echo "  4 bans: the four ban maps dumped in $ms ms, $n entries"
row "bpftool map dump of the 4 ban maps, 4 bans (capacity 1M)" "$ms ms, $n entries" "< 1000 ms, exactly 4" "$(met "$ms < 1000 and $n == 4")"
"$xb" --pin-dir "$pd" import "$work/list" --jail bench >/dev/null 2>&1 || true
read -r ms n <<<"$(dump_ms)"
echo "  1M bans: the four ban maps dumped in $ms ms, $n entries"
row "same, 1M + 4 bans (for scale)" "$ms ms, $n entries" "(exactly 1000004)" "$(met "$n == 1000004")"

echo "== flood guard at 100k tracked sources"
taskset -c 1 "$bench" flood --sources 100000 | tee "$work/flood"
flood=$(sed -n 's/.*goal: .*the guard adds \([0-9.]*\)x the floor.*/\1/p' "$work/flood" | tail -1)
row "flood guard at 100k tracked sources, added cost / floor" "${flood:-?}x" "<= 1.5x" "$(met "${flood:-9} <= 1.5")"
# What one random line of the guard's table costs by itself (2.44 MiB at 100k).
taskset -c 1 "$bench" span | tee "$work/span"
for mib in 1 2 4; do
  read -r f l <<<"$(sed -n "s/^ *$mib MiB: floor *\([0-9.]*\) *line read *+*\([-0-9.]*\) ns.*/\1 \2/p" "$work/span")"
  row "  reference: one random line of $mib MiB alone, added / floor" \
    "$(python3 -c "print(f'{$l / $f:.2f}x ($l ns over $f)')")" "" ""
done

if [ "$matcher" = 1 ]; then
  echo "== matcher: xdpban test-filter vs fail2ban-regex, stock sshd filter"
  python3 "$here/bench_filter.py" --only sshd --xdpban "$xb" | tee "$work/match"
  ratio=$(sed -n 's/.*goal: .*sshd.* \([0-9.]*\)x fail2ban-regex.*/\1/p' "$work/match" | tail -1)
  row "matcher, stock sshd filter, lines/CPU-s vs fail2ban-regex" "${ratio:-?}x" ">= 50x" "$(met "${ratio:-0} >= 50")"
fi

echo
echo "| figure | measured | floor | met |"
echo "|---|---|---|---|"
printf '%s\n' "${rows[@]}"
