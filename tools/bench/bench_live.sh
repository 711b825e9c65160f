#!/bin/bash
# bench_live.sh - live drop rate of xdpban through a veth pair, next to a
# drop-all XDP program, and (unless --no-netfilter) an nftables set and an
# ipset at the same ban count. Creates two throwaway namespaces and a veth pair
# named xbb-*, and always removes them (and its bpffs pins) on exit.
# Usage: sudo tools/bench/bench_live.sh [--bench PATH] [--bans N] [--seconds S]
#        [--cpu C] [--rounds R] [--no-netfilter] [--permanent] [--receivers LIST] [--span-mib N]
# --receivers: the first run's receivers (bench_datapath live --help), e.g.
#   drop,parse,part-bloom,part-table,part-clock,xdpban to take the hit path apart.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bench="$here/../../build-bench/tools/bench/bench_datapath"
bans=1048576
seconds=2
cpu=1
rounds=3
netfilter=1
global=()
main_receivers=
global_live=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bench) bench=$2; shift 2 ;;
    --bans) bans=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --cpu) cpu=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --no-netfilter) netfilter=0; shift ;;
    --permanent) global+=(--permanent); shift ;;
    --receivers) main_receivers=$2; shift 2 ;;
    --span-mib) global_live+=(--span-mib "$2"); shift 2 ;;
    --miss) global_live+=(--miss); shift ;;
    *) echo "usage: $0 [--bench PATH] [--bans N] [--seconds S] [--cpu C] [--rounds R] [--no-netfilter] [--permanent] [--receivers LIST] [--span-mib N]" >&2; exit 2 ;;
  esac
done
[ -x "$bench" ] || { echo "bench_live.sh: no $bench (ninja -C build-bench bench_datapath)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "bench_live.sh: needs root" >&2; exit 1; }

id=$$
txns=xbb-tx-$id
rxns=xbb-rx-$id
txif=xbb-t$id
rxif=xbb-r$id
pins=/sys/fs/bpf/xdpban-bench-live-$id
work=$(mktemp -d /tmp/xbb-live.XXXXXX)

cleanup() {
  ip netns del "$txns" 2>/dev/null || true
  ip netns del "$rxns" 2>/dev/null || true
  ip link del "$txif" 2>/dev/null || true
  rm -rf "$pins" "$work"
}
trap cleanup EXIT INT TERM

ip netns add "$txns"
ip netns add "$rxns"
ip link add "$txif" type veth peer name "$rxif"
ip link set "$txif" netns "$txns"
ip link set "$rxif" netns "$rxns"
# nsenter, not 'ip netns exec': the latter remounts /sys and hides bpffs pins.
intx() { nsenter --net=/run/netns/"$txns" "$@"; }
inrx() { nsenter --net=/run/netns/"$rxns" "$@"; }
intx ip link set "$txif" address 02:bb:00:00:00:01 up
inrx ip link set "$rxif" address 02:bb:00:00:00:02 up
inrx ip addr add 10.203.0.2/24 dev "$rxif"
intx ip link set lo up
inrx ip link set lo up

live() {
  taskset -c "$cpu" "$bench" "${global[@]}" live --tx-ns "$txns" --tx-if "$txif" --rx-ns "$rxns" --rx-if "$rxif" \
    --pin-dir "$pins" --bans "$bans" --seconds "$seconds" "${global_live[@]}" "$@"
}

receivers=$(for _ in $(seq "$rounds"); do printf '%s,' "${main_receivers:-drop,parse,xdpban}"; done)
live --receivers "${receivers%,}"

if [ "$netfilter" = 1 ]; then
  "$bench" addrs --count "$bans" --format nft >"$work/nft"
  "$bench" addrs --count "$bans" --format ipset >"$work/ipset"
  receivers=$(for _ in $(seq "$rounds"); do printf 'drop,pass,'; done)

  echo
  echo "== nftables: set of $bans IPv4 addresses, 'ip saddr @ban drop' at prerouting priority -300;"
  echo "   frames pass an XDP pass-all program (counted) to reach netfilter"
  t0=$(date +%s.%N)
  inrx nft -f "$work/nft"
  t1=$(date +%s.%N)
  echo "  nft -f of $bans elements: $(echo "$t1 - $t0" | bc) s"
  live --receivers "${receivers%,}" | sed 's/\bpass\b/nft/'
  echo "  nft rule counter: $(inrx nft list chain ip xbb pre | grep -o 'packets [0-9]*')"
  inrx nft delete table ip xbb

  echo
  echo "== ipset: hash:ip of $bans addresses, iptables -t raw PREROUTING -m set --match-set src -j DROP"
  t0=$(date +%s.%N)
  inrx ipset restore <"$work/ipset"
  t1=$(date +%s.%N)
  echo "  ipset restore of $bans entries: $(echo "$t1 - $t0" | bc) s"
  inrx iptables -t raw -A PREROUTING -m set --match-set xbb-ban src -j DROP
  live --receivers "${receivers%,}" | sed 's/\bpass\b/ipset/'
  echo "  iptables rule counter: $(inrx iptables -t raw -L PREROUTING -v -x -n | awk '/match-set/ {print $1}') packets"
  inrx iptables -t raw -F PREROUTING
  inrx ipset destroy xbb-ban
fi
