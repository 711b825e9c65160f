#!/usr/bin/env bash
# Real traffic through the real XDP program: two throwaway namespaces joined by
# veth, the program attached (native, then skb) on the victim side, bans written
# by the real CLI. Usage: test_xdp_netns.sh PATH_TO_XDPBAN
set -uo pipefail
here=$(dirname "$0")
. "$here/lib.sh"
XB=$1
require_root_bpf

P=xbt$$
PD=/sys/fs/bpf/xdpban-it-$$
TMPD=$(mktemp -d /tmp/xdpban-it.XXXXXX)
cleanup() { drop_pair "$P"; rm -rf "$PD" "$TMPD"; }
trap cleanup EXIT
make_pair "$P"
xb() { inns "$VNS" "$XB" --pin-dir "$PD" "$@"; }

for mode in native skb; do
  out=$(xb attach "$VIF" --mode "$mode" --capacity 65536) || fail "attach $mode: $out"
  echo "$out" | grep -q "$mode mode" || fail "attach did not report $mode mode: $out"
  inns "$VNS" ip link show "$VIF" | grep -qE "xdp(generic)? " || fail "no XDP program on $VIF after attach"
  ok "attached in $mode mode: $out"

  for fam in 4 6; do
    if [ $fam = 4 ]; then host=10.213.0.2 net=10.213.0.0/24 me=10.213.0.1; else host=fd00:213::2 net=fd00:213::/64 me=fd00:213::1; fi
    expect_reach $fam yes "$mode: before any ban"

    xb ban "$host" >/dev/null || fail "ban $host"
    expect_reach $fam no "$mode: host ban $host"
    xb list | grep -q "^$host " || fail "list does not show $host"

    xb unban "$host" >/dev/null || fail "unban $host"
    expect_reach $fam yes "$mode: after unban $host"

    # A covering network that contains this machine's own address needs --force.
    xb ban "$net" 2>/dev/null; rc=$?
    [ $rc = 2 ] || fail "ban of a network containing $me should need --force (exit $rc)"
    xb ban "$net" --force >/dev/null || fail "ban $net --force"
    expect_reach $fam no "$mode: network ban $net"

    xb allow add "$host" >/dev/null || fail "allow add $host"
    expect_reach $fam yes "$mode: allow-listed $host inside banned $net"
    xb allow del "$host" >/dev/null || fail "allow del $host"
    expect_reach $fam no "$mode: allow entry removed"
    xb unban "$net" >/dev/null || fail "unban $net"
    expect_reach $fam yes "$mode: after unban $net"

    # The program itself ends the ban on time: no userspace action after this.
    xb ban "$host" --for 3s >/dev/null || fail "ban --for 3s"
    expect_reach $fam no "$mode: short ban $host"
    sleep 3.2
    expect_reach $fam yes "$mode: short ban lapsed with no userspace action"
    xb unban --all >/dev/null || fail "unban --all"
  done

  out=$(xb detach "$VIF") || fail "detach: $out"
  inns "$VNS" ip link show "$VIF" | grep -qE "xdp(generic)? " && fail "XDP program still on $VIF after detach"
  out=$(xb detach "$VIF") || fail "second detach should succeed: $out"
  echo "$out" | grep -q "not attached" || fail "second detach should say not attached: $out"
  ok "$mode: detach is clean and idempotent"
done

# Only the maps stay pinned: no program pins in our directory.
for f in "$PD"/*; do
  bpftool map show pinned "$f" >/dev/null 2>&1 || fail "$f is not a map (stray pin)"
done
ok "only maps remain pinned in $PD ($(ls "$PD" | wc -l) maps)"

# bpftool shows named fields (BTF) for the pinned maps.
xb ban 203.0.113.0/24 --for 1h >/dev/null || fail "ban for bpftool check"
dump=$(bpftool map dump pinned "$PD/xdpban_nets4") || fail "bpftool map dump"
for field in prefixlen addr expires_ns jail flags; do
  echo "$dump" | grep -q "\"$field\"" || fail "bpftool dump of xdpban_nets4 lacks field $field: $dump"
done
stats=$(bpftool map lookup pinned "$PD/xdpban_stats" key 0 0 0 0) || fail "bpftool lookup stats"
for field in passed dropped_v4 dropped_v6 allow_hits expired_hits non_ip malformed; do
  echo "$stats" | grep -q "\"$field\"" || fail "bpftool stats lacks $field"
done
ok "bpftool shows named fields"

# The maps holding bans list exactly the active bans (hosts and networks, v4
# and v6), with named fields, in well under a second, and a lookup by address
# finds a ban.
xb unban --all >/dev/null || fail "unban --all before the dump check"
for c in 198.51.100.7 198.51.100.8 2001:db8::7 198.18.0.0/15 2001:db8:1::/48; do
  xb ban "$c" --for 1h >/dev/null || fail "ban $c for the dump check"
done
t0=$(date +%s%N)
for m in hosts4 hosts6 nets4 nets6; do
  bpftool -j map dump pinned "$PD/xdpban_$m" >"$TMPD/$m.json" || fail "bpftool map dump xdpban_$m"
done
ms=$((($(date +%s%N) - t0) / 1000000))
python3 - "$TMPD" <<'PY' || fail "bpftool dumps do not list exactly the bans"
import ipaddress, json, sys
pd = sys.argv[1]
want = {"hosts4": {"198.51.100.7/32", "198.51.100.8/32"}, "hosts6": {"2001:db8::7/128"},
        "nets4": {"198.18.0.0/15"}, "nets6": {"2001:db8:1::/48"}}
for m, expect in want.items():
    got = set()
    for e in json.load(open(f"{pd}/{m}.json")):
        f = e["formatted"]
        for field in ("expires_ns", "jail", "flags", "prefixlen"):
            assert field in f["value"], (m, field, f)
        addr = bytes(f["key"]["addr"])
        plen = f["key"].get("prefixlen", 8 * len(addr))
        assert f["value"]["prefixlen"] == plen, (m, f)
        got.add(str(ipaddress.ip_network((addr, plen))))
    assert got == expect, (m, got, expect)
PY
[ "$ms" -lt 1000 ] || fail "dumping the four ban maps took $ms ms"
look=$(bpftool -j map lookup pinned "$PD/xdpban_hosts4" key 198 51 100 7) || fail "bpftool lookup of a banned host"
echo "$look" | grep -q '"expires_ns"' || fail "lookup of 198.51.100.7 shows no named value: $look"
bpftool map lookup pinned "$PD/xdpban_hosts4" key 198 51 100 9 >/dev/null 2>&1 && fail "lookup of a host never banned found an entry"
look=$(bpftool -j map lookup pinned "$PD/xdpban_nets4" key 32 0 0 0 198 19 4 5) || fail "bpftool lookup of an address in a banned network"
echo "$look" | grep -q '"prefixlen":15' || fail "lookup of 198.19.4.5 does not find the /15: $look"
ok "bpftool dumps list exactly the 5 bans in $ms ms; lookups by address work"
echo "all integration checks passed"
