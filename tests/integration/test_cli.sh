#!/usr/bin/env bash
# The xdpban CLI against real pinned maps in a private pin dir, daemon down (the
# CLI writes the maps itself): every bad input names the input, exits non-zero
# and changes nothing; list/allow/stats JSON have the documented shape and
# values; import counts, --replace, stdin; stats --watch; a 1M-line import
# (time printed). The CLI runs in a throwaway namespace so "this machine's
# addresses" are known: 127.0.0.1, ::1 and 192.0.2.1.
# Usage: test_cli.sh PATH_TO_XDPBAN
set -uo pipefail
here=$(dirname "$0")
. "$here/lib.sh"
XB=$1
require_root_bpf

NS=xbc$$
PD=/sys/fs/bpf/xdpban-cli-$$
TMP=$(mktemp -d /tmp/xbc.XXXXXX)
FAKE=
cleanup() {
  [ -n "$FAKE" ] && kill "$FAKE" 2>/dev/null
  ip netns del "$NS" 2>/dev/null
  rm -rf "$PD" "/sys/fs/bpf/xdpban-test-fuzz-$$" "$TMP"
}
trap cleanup EXIT
ip netns add "$NS" || fail "cannot create namespace $NS"
inns "$NS" ip link set lo up
inns "$NS" ip addr add 192.0.2.1/32 dev lo
xb() { inns "$NS" "$XB" --pin-dir "$PD" "$@"; }

# py EXPR-SCRIPT: runs python3 with stdin as the JSON document in `d`.
pyjson() { python3 -c "import json,sys; d=json.load(sys.stdin); $1"; }

# The state bad input must not change (remaining time left out: it ticks).
snapshot() {
  xb list --json --expired | pyjson 'print(sorted((e["cidr"], e["jail"], e["flags"], e["permanent"]) for e in d))'
  xb allow list --json
}

# expect_bad WHAT NEEDLE CMD...: exit 2, the message contains NEEDLE (the bad
# input), and neither bans nor allow entries changed.
expect_bad() {
  local what=$1 needle=$2 before after out rc
  shift 2
  before=$(snapshot) || fail "$what: snapshot before"
  out=$(xb "$@" 2>&1 </dev/null); rc=$?
  [ $rc = 2 ] || fail "$what: xdpban $* exited $rc, want 2: $out"
  grep -qF -- "$needle" <<<"$out" || fail "$what: message does not name '$needle': $out"
  after=$(snapshot) || fail "$what: snapshot after"
  [ "$before" = "$after" ] || fail "$what: state changed: $before -> $after"
  ok "$what: $(head -1 <<<"$out")"
}

# ---- a known starting state ----
xb ban 198.51.100.100 >/dev/null 2>&1 || fail "ban 198.51.100.100"
xb ban 2001:db8::/48 --for 1h --jail web >/dev/null 2>&1 || fail "ban 2001:db8::/48"
xb allow add 198.51.100.0/28 >/dev/null || fail "allow add"
out=$(xb ban 203.0.113.7/24 --jail web 2>&1) || fail "ban with host bits: $out"
grep -q "warning: 203.0.113.7/24 has host bits set; using 203.0.113.0/24" <<<"$out" || fail "no host-bits warning: $out"
grep -q "xdpband is not running: writing the pinned maps directly" <<<"$out" ||
  fail "a direct write does not say so: $out"
ok "starting state written (maps created in $PD), the CLI says it writes the maps directly"

# ---- bad input: message names it, exit 2, nothing changed ----
expect_bad "malformed address" "203.0.113.300" ban 203.0.113.300
expect_bad "prefix too long" "203.0.113.0/33" ban 203.0.113.0/33
expect_bad "IPv6 prefix too long" "2001:db8::/129" ban 2001:db8::/129
expect_bad "one bad of several" "203.0.113.x" ban 198.51.100.77 203.0.113.x
expect_bad "malformed duration" "10parsecs" ban 198.51.100.77 --for 10parsecs
expect_bad "zero duration" "'0'" ban 198.51.100.77 --for 0
expect_bad "bad jail name" "bad jail!" ban 198.51.100.77 --jail "bad jail!"
expect_bad "jail name too long" "jjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjj" ban 198.51.100.77 --jail jjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjj
expect_bad "unknown flag" "--bogus" ban 198.51.100.77 --bogus
expect_bad "unknown subcommand" "frobnicate" frobnicate
expect_bad "--for with --permanent" "--permanent" ban 198.51.100.77 --for 1h --permanent
expect_bad "own address" "127.0.0.1" ban 127.0.0.1
expect_bad "network containing own address" "192.0.2.1, an address of this machine" ban 192.0.2.0/24
expect_bad "own IPv6 address" "::1" ban ::1
expect_bad "allow-listed address" "allow list (198.51.100.0/28)" ban 198.51.100.5
expect_bad "unban malformed" "not-an-ip" unban not-an-ip
expect_bad "unban nothing named" "--all" unban
expect_bad "allow add malformed" "2001:db8::/200" allow add 2001:db8::/200
expect_bad "allow del malformed" "300.1.1.1" allow del 300.1.1.1
expect_bad "list --cidr malformed" "1.2.3" list --cidr 1.2.3
expect_bad "stats --interval without --watch" "--interval" stats --interval 5
expect_bad "stats --interval out of range" "0.01" stats --watch --interval 0.01
expect_bad "import missing file" "$TMP/nope.txt" import "$TMP/nope.txt"
printf '198.51.100.70\n' >"$TMP/one.txt"
expect_bad "import malformed duration" "fortnightish" import "$TMP/one.txt" --for fortnightish
expect_bad "import bad jail" "no way" import "$TMP/one.txt" --jail "no way"
printf '198.51.100.70\n198.51.100.71\nnot-an-address\n' >"$TMP/strict.txt"
expect_bad "import --strict with a bad line" "$TMP/strict.txt:3: 'not-an-address' is not an IP address or network" \
  import "$TMP/strict.txt" --strict
printf '# nothing here\n\n' >"$TMP/empty.txt"
expect_bad "import --replace of an empty list" "refusing to empty jail" import "$TMP/empty.txt" --replace
for cmd in list "ban 198.51.100.77" "attach lo" "import $TMP/one.txt"; do
  out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$XB" --pin-dir "$PD-nobody" $cmd 2>&1); rc=$?
  [ $rc = 1 ] && grep -q "needs root" <<<"$out" || fail "xdpban $cmd as nobody: exit $rc: $out"
  [ -e "$PD-nobody" ] && fail "xdpban $cmd as nobody created $PD-nobody"
done
ok "not root: 'needs root ... run it with sudo', exit 1, nothing created"
xb ban 198.51.100.5 --force >/dev/null 2>&1 || fail "--force should ban an allow-listed address"
xb unban 198.51.100.5 >/dev/null || fail "unban 198.51.100.5"
out=$(xb unban 198.51.100.99 2>&1); rc=$?
[ $rc = 3 ] || fail "unban of an address that is not banned: exit $rc, want 3: $out"
grep -qF "198.51.100.99 was not banned" <<<"$out" || fail "unban not-banned message: $out"
ok "unban of a non-banned address: exit 3, named"

# ---- JSON ----
xb list --json | pyjson '
by = {e["cidr"]: e for e in d}
assert isinstance(d, list) and len(d) == 3, d
for e in d: assert set(e) == {"cidr", "jail", "flags", "origin", "permanent", "remaining_s", "since", "failures", "count"}, e
# Written here, not applied from the fleet: origin "" (this node).
for e in d: assert e["origin"] == "", e
# The maps alone do not know when or why (xdpband does: test_daemon.sh).
for e in d: assert e["since"] is None and e["failures"] is None and e["count"] is None, e
h = by["198.51.100.100"]
assert h["jail"] == "manual" and h["permanent"] is True and h["remaining_s"] is None and h["flags"] == "manual", h
n = by["2001:db8::/48"]
assert n["jail"] == "web" and n["permanent"] is False and 3500 <= n["remaining_s"] <= 3600, n
assert by["203.0.113.0/24"]["jail"] == "web", by
' || fail "list --json"
xb list --json --jail web | pyjson 'assert sorted(e["cidr"] for e in d) == ["2001:db8::/48", "203.0.113.0/24"], d' ||
  fail "list --json --jail web"
xb list --json --cidr 198.51.100.0/24 | pyjson 'assert [e["cidr"] for e in d] == ["198.51.100.100"], d' ||
  fail "list --json --cidr"
ok "list --json: shape, jails, permanence, remaining time, filters"
out=$(xb list) || fail "list: $out"
head -1 <<<"$out" | grep -qE "^ADDRESS +JAIL +SINCE +REMAINING +FAILURES +FLAGS +ORIGIN$" || fail "list header: $out"
grep -qE "^198\.51\.100\.100 .* manual +local$" <<<"$out" || fail "list: flags and origin of 198.51.100.100: $out"
ok "list: FLAGS and ORIGIN columns (a ban written here is local)"

# ---- what the daemon answers, printed: list's origin, fleet status ----
# A stand-in for xdpband on a socket of its own answers each command with the
# JSON in $TMP/answers.json: this checks how the CLI prints the daemon's
# answers (the real daemon's answers are the daemon's tests).
cat >"$TMP/fake_daemon.py" <<'EOF'
import json, socket, sys
srv = socket.socket(socket.AF_UNIX)
srv.bind(sys.argv[1])
srv.listen(8)
while True:
    c, _ = srv.accept()
    buf = b""
    while b"\n" not in buf:
        chunk = c.recv(65536)
        if not chunk:
            break
        buf += chunk
    req = json.loads(buf.split(b"\n")[0])
    with open(sys.argv[2]) as f:
        answers = json.load(f)
    c.sendall((json.dumps(answers.get(req.get("cmd"), {"ok": False, "error": "unknown command"})) + "\n").encode())
    c.close()
EOF
answers() {
  python3 - "$TMP/answers.json" "$1" <<'EOF'
import json, sys
fleet = {"ok": True, "enabled": True, "node": "edge-a", "bucket": "xdpban", "connected": True,
         "server": "nats://10.0.0.1:4222", "last_error": "", "outbox": 2,
         "lag_ms": {"last": 3, "p50": 2.5, "p99": 9}, "published": 11, "received": 7, "applied": 5,
         "rejected": 1, "snapshot_done": True}
if sys.argv[2] == "off":
    fleet = {"ok": True, "enabled": False}
elif sys.argv[2] == "down":
    fleet.update(connected=False, server="", last_error="nats: no servers available for connection",
                 lag_ms={"last": None, "p50": None, "p99": None}, snapshot_done=False)
ban = {"start": 1700000000, "expiry": 0, "remaining_s": None, "permanent": True, "count": 1, "failures": 0}
json.dump({"ping": {"ok": True},
           "fleet_status": fleet,
           "list": {"ok": True, "bans": [dict(ban, cidr="192.0.2.7", jail="sshd", flags=8, origin="edge-b"),
                                         dict(ban, cidr="192.0.2.8", jail="manual", flags=1, origin="")]}},
          open(sys.argv[1], "w"))
EOF
}
answers on
python3 "$TMP/fake_daemon.py" "$TMP/fake.sock" "$TMP/answers.json" &
FAKE=$!
for _ in $(seq 50); do [ -S "$TMP/fake.sock" ] && break; sleep 0.1; done
xbd() { inns "$NS" "$XB" --pin-dir "$PD" --socket "$TMP/fake.sock" "$@"; }
out=$(xbd list) || fail "list from the daemon: $out"
grep -qE "^192\.0\.2\.7 +sshd .* fleet +edge-b$" <<<"$out" || fail "list: a fleet ban's origin: $out"
grep -qE "^192\.0\.2\.8 +manual .* manual +local$" <<<"$out" || fail "list: a local ban's origin: $out"
xbd list --json | pyjson '
assert {e["cidr"]: e["origin"] for e in d} == {"192.0.2.7": "edge-b", "192.0.2.8": ""}, d
assert {e["cidr"]: e["flags"] for e in d} == {"192.0.2.7": "fleet", "192.0.2.8": "manual"}, d' ||
  fail "list --json origin from the daemon"
ok "list: the daemon's origin (ORIGIN edge-b / local, JSON \"origin\")"
out=$(xbd fleet status) || fail "fleet status: $out"
want="node: edge-a
bucket: xdpban
server: nats://10.0.0.1:4222 (connected)
snapshot: done
outbox: 2
lag: last 3 ms, p50 2.5 ms, p99 9 ms
published/received/applied/rejected: 11/7/5/1"
[ "$out" = "$want" ] || fail "fleet status printed:
$out
want:
$want"
xbd fleet status --json | pyjson 'assert d["node"] == "edge-a" and d["lag_ms"]["p99"] == 9 and d["outbox"] == 2, d' ||
  fail "fleet status --json"
answers down
out=$(xbd fleet status) || fail "fleet status (broker down): $out"
grep -qxF "server: - (not connected)" <<<"$out" || fail "fleet status, broker down: $out"
grep -qxF "last error: nats: no servers available for connection" <<<"$out" || fail "fleet status, last error: $out"
grep -qxF "lag: last -, p50 -, p99 -" <<<"$out" || fail "fleet status, no lag yet: $out"
answers off
out=$(xbd fleet status); rc=$?
[ $rc = 0 ] && [ "$out" = "fleet: not configured ([fleet] enabled = false)" ] ||
  fail "fleet status without [fleet]: exit $rc: $out"
ok "fleet status: connected, broker down and not configured, as the daemon answers"
kill "$FAKE"; FAKE=
out=$(inns "$NS" "$XB" --socket "$TMP/none.sock" fleet status 2>&1); rc=$?
[ $rc = 1 ] || fail "fleet status without a daemon: exit $rc, want 1: $out"
grep -qF "xdpband is not running (no answer on $TMP/none.sock)" <<<"$out" || fail "fleet status without a daemon: $out"
out=$(inns "$NS" "$XB" fleet 2>&1); rc=$?
[ $rc = 2 ] || fail "'xdpban fleet' without a subcommand: exit $rc, want 2: $out"
"$XB" fleet status --help | grep -q "outbox" || fail "fleet status --help does not explain it"
ok "fleet status: no daemon is a clear error (exit 1); --help explains it"
xb allow list --json | pyjson 'assert d == ["198.51.100.0/28"], d' || fail "allow list --json"
ok "allow list --json"
xb stats --json | pyjson '
keys = {"passed", "dropped_v4", "dropped_v6", "allow_hits", "expired_hits", "non_ip", "malformed", "host_probes", "host_exact", "net_probes",
        "flood_checked", "flood_dropped", "flood_events", "flood_lost"}
assert set(d["counters"]) == keys, d["counters"]
assert all(isinstance(v, int) and v >= 0 for v in d["counters"].values()), d
t = d["tables"]
assert t["hosts4"] == 1 and t["hosts6"] == 0 and t["nets4"] == 1 and t["nets6"] == 1, t
assert t["slots4"] >= 1024 and t["slots6"] >= 1024 and t["spilled4"] == 0, t
assert d["interfaces"] == [], d
' || fail "stats --json"
ok "stats --json: counters, table usage, no interfaces"

# ---- stats --watch (not a terminal: plain lines; --json: one object per line) ----
out=$(timeout 20 "$XB" --pin-dir "$PD" stats --watch --interval 0.2 --count 3) || fail "stats --watch: $out"
[ "$(wc -l <<<"$out")" = 4 ] || fail "stats --watch --count 3 should print a header and 3 lines: $out"
head -1 <<<"$out" | grep -q "PASSED/S.*DROPPED4/S.*DROPPED6/S" || fail "stats --watch header: $out"
timeout 20 "$XB" --pin-dir "$PD" stats --watch --json --interval 0.2 --count 2 | python3 -c '
import json, sys
lines = sys.stdin.read().splitlines()
assert len(lines) == 2, lines
for l in lines:
    d = json.loads(l)
    assert set(d["rates"]) == set(d["counters"]) and 0.15 < d["interval_s"] < 5, d
    assert all(r == 0 for r in d["rates"].values()), d
' || fail "stats --watch --json"
"$XB" --pin-dir "$PD" stats --watch --interval 30 >/dev/null &
wpid=$!
sleep 0.5
kill -INT $wpid
wait $wpid; rc=$?
[ $rc = 0 ] || fail "stats --watch should end cleanly on Ctrl-C (exit $rc)"
ok "stats --watch: plain lines, JSON lines, ends on SIGINT"

# ---- import: counts and line numbers ----
printf '%s\r\n' \
  '; test list (Spamhaus style)' \
  '198.51.100.20' \
  '198.51.100.20 # again' \
  '203.0.113.77/25 ; SBL1' \
  '2001:db8:1::/48' \
  'bogus-line' \
  '198.51.100.21' \
  '127.0.0.1' \
  '198.51.100.3' \
  '10.0.0.300' \
  '198.51.100.100' \
  '' >"$TMP/small.txt"
out=$(xb import "$TMP/small.txt" --json 2>"$TMP/err"); rc=$?
[ $rc = 4 ] || fail "import with rejected lines: exit $rc, want 4: $out $(cat "$TMP/err")"
pyjson '
assert d["lines"] == 12 and d["added"] == 4 and d["duplicates"] == 1 and d["rejected"] == 2, d
assert d["refused"] == 2 and d["kept"] == 1 and d["already"] == 0 and d["normalised"] == 1, d
assert d["jail"] == "import", d
' <<<"$out" || fail "import counts: $out"
for want in "$TMP/small.txt:6: 'bogus-line' is not an IP address or network" \
  "$TMP/small.txt:10: '10.0.0.300' is not an IP address or network" \
  "$TMP/small.txt:8: 127.0.0.1 contains 127.0.0.1, an address of this machine" \
  "$TMP/small.txt:9: 198.51.100.3 is on the allow list" \
  "$TMP/small.txt:4: warning: '203.0.113.77/25' has host bits set; using 203.0.113.0/25"; do
  grep -qF -- "$want" "$TMP/err" || fail "import stderr lacks: $want: $(cat "$TMP/err")"
done
xb list --json --jail import | pyjson '
assert sorted(e["cidr"] for e in d) == ["198.51.100.20", "198.51.100.21", "2001:db8:1::/48", "203.0.113.0/25"], d
assert all(e["flags"] == "import" and e["permanent"] for e in d), d
' || fail "list after import"
xb list --json | pyjson 'assert {e["cidr"]: e["jail"] for e in d}["198.51.100.100"] == "manual", d' ||
  fail "an entry another jail bans permanently stays with it"
ok "import: 4 added, 1 duplicate, 2 rejected and 2 refused with line numbers, 1 kept by another jail (exit 4)"

out=$(xb import "$TMP/small.txt" --json --for 2h 2>/dev/null); rc=$?
[ $rc = 4 ] || fail "re-import exit $rc"
pyjson 'assert d["added"] == 0 and d["already"] == 4, d' <<<"$out" || fail "re-import counts: $out"
xb list --json --jail import | pyjson 'assert all(not e["permanent"] and 7100 <= e["remaining_s"] <= 7200 for e in d), d' ||
  fail "re-import with --for should set every entry's expiry"
ok "re-import: 4 already listed, expiry refreshed to 2h"

printf '198.51.100.21\n198.51.100.22\n2001:db8:2::/48\n' | xb import - --jail import --replace --json >"$TMP/out" ||
  fail "import --replace from stdin: $(cat "$TMP/out")"
pyjson 'assert d["file"] == "<stdin>" and d["added"] == 2 and d["already"] == 1 and d["removed"] == 3, d' <"$TMP/out" ||
  fail "--replace counts: $(cat "$TMP/out")"
xb list --json | pyjson '
j = {e["cidr"]: e["jail"] for e in d}
assert sorted(c for c in j if j[c] == "import") == ["198.51.100.21", "198.51.100.22", "2001:db8:2::/48"], j
assert j["198.51.100.100"] == "manual" and j["2001:db8::/48"] == "web" and j["203.0.113.0/24"] == "web", j
' || fail "list after --replace"
ok "import --replace from stdin: the jail holds exactly the new list, other jails untouched"

# ---- import: a line longer than a line may be is rejected, not slurped ----
python3 - "$TMP/longline.txt" <<'EOF'
import sys
with open(sys.argv[1], "wb") as f:
    f.write(b"198.51.100.31\n")
    for _ in range(128):
        f.write(b"7" * (1 << 20))  # one 128 MiB line
    f.write(b"\n198.51.100.32\n")
EOF
# import_rss FILE: "EXIT PEAK_RSS_MIB JSON" of one import (stderr to $TMP/err).
import_rss() {
  python3 - "$NS" "$XB" "$PD" "$1" 2>"$TMP/err" <<'EOF'
import resource, subprocess, sys
ns, xb, pd, path = sys.argv[1:]
p = subprocess.run(["nsenter", "--net=/run/netns/" + ns, xb, "--pin-dir", pd, "import", path, "--jail", "long",
                    "--json"], stdout=subprocess.PIPE, stderr=sys.stderr)
print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024, p.stdout.decode().strip())
EOF
}
# The mapped ban tables dominate the CLI's memory: the long line may add little to it.
printf '198.51.100.31\nshort-bad-line\n198.51.100.32\n' >"$TMP/shortline.txt"
read -r rc base json <<<"$(import_rss "$TMP/shortline.txt")"
[ "$rc" = 4 ] || fail "import of a 3-line list: exit $rc: $json $(cat "$TMP/err")"
read -r rc rss json <<<"$(import_rss "$TMP/longline.txt")"
[ "$rc" = 4 ] || fail "import with a 128 MiB line: exit $rc, want 4: $json $(cat "$TMP/err")"
grep -qF "$TMP/longline.txt:2: line of 134217728 bytes (more than 4096) is not an IP address or network" "$TMP/err" ||
  fail "the long line is not named by its number: $(cat "$TMP/err")"
pyjson 'assert d["already"] == 2 and d["rejected"] == 1 and d["lines"] == 3, d' <<<"$json" || fail "long-line counts: $json"
[ $((rss - base)) -lt 32 ] || fail "a 128 MiB line took the import from $base to $rss MiB peak RSS (bound: +32 MiB)"
rm -f "$TMP/longline.txt"
ok "import: a 128 MiB line is line 2 rejected, the others loaded (exit 4), peak RSS $rss MiB (a 3-line list: $base MiB)"

# ---- import into a full table: what fits is loaded, exit 4 with the counts ----
PD2=/sys/fs/bpf/xdpban-test-fuzz-$$
xb2() { inns "$NS" "$XB" --pin-dir "$PD2" "$@"; }
inns "$NS" ip link add xbfull0 type veth peer name xbfull1 && inns "$NS" ip link set xbfull0 up &&
  inns "$NS" ip link set xbfull1 up || fail "veth pair in $NS"
xb2 attach xbfull0 --mode skb --capacity 1024 >/dev/null || fail "attach with --capacity 1024"
python3 -c 'print("\n".join("100.64.%d.%d" % (i // 250, i % 250 + 1) for i in range(5000)))' >"$TMP/full.txt"
out=$(xb2 import "$TMP/full.txt" --jail small --json 2>"$TMP/err"); rc=$?
[ $rc = 4 ] || fail "import into a full table: exit $rc, want 4: $out $(cat "$TMP/err")"
loaded=$(pyjson 'assert d["not_loaded"] > 0 and d["added"] + d["not_loaded"] == 5000 and d["rejected"] == 0, d
print(d["added"])' <<<"$out") || fail "full-table counts: $out"
grep -qF "loaded $loaded of 5000 entries; $((5000 - loaded)) not loaded: the ban tables are full" "$TMP/err" ||
  fail "full table: no 'loaded N of M' line: $(cat "$TMP/err")"
listed=$(xb2 list --json --jail small | pyjson 'print(len(d))')
[ "$listed" = "$loaded" ] || fail "full table: $listed entries listed, the import said $loaded"
# --replace with a list that does not fit: the old entries stay.
python3 -c 'print("\n".join("100.65.%d.%d" % (i // 250, i % 250 + 1) for i in range(5000)))' >"$TMP/full2.txt"
out=$(xb2 import "$TMP/full2.txt" --jail small --replace --json 2>"$TMP/err"); rc=$?
[ $rc = 4 ] || fail "--replace into a full table: exit $rc: $out"
pyjson 'assert d["removed"] == 0 and d["not_loaded"] == 5000 - d["added"], d' <<<"$out" || fail "--replace full: $out"
grep -qF -- "--replace removed nothing" "$TMP/err" || fail "--replace full: $(cat "$TMP/err")"
listed=$(xb2 list --json --jail small | pyjson 'print(len(d))')
[ "$listed" -ge "$loaded" ] || fail "--replace into a full table removed old entries: $listed left of $loaded"
xb2 detach xbfull0 >/dev/null 2>&1
rm -rf "$PD2"
ok "import into a 1024-entry table: $loaded of 5000 loaded and listed, exit 4 with the counts; --replace removes nothing"

# ---- 1M lines ----
python3 - "$TMP/big.txt" <<'EOF'
import random, sys
r = random.Random(1)
skip = {0, 10, 127, 192, 198, 203} | set(range(224, 256))
hosts = set()
while len(hosts) < 990000:
    a = r.getrandbits(32)
    if a >> 24 not in skip: hosts.add(a)
nets = set()
while len(nets) < 10000:
    a = r.getrandbits(24)
    if a >> 16 not in skip: nets.add(a)
with open(sys.argv[1], "w") as f:
    f.write("# generated: 990000 hosts and 10000 /24 networks\n")
    f.writelines("%d.%d.%d.%d\n" % (a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255) for a in hosts)
    f.writelines("%d.%d.%d.0/24 ; SBL%d\n" % (a >> 16, a >> 8 & 255, a & 255, a) for a in nets)
EOF
before=$(xb stats --json | pyjson 't = d["tables"]; print(t["hosts4"] + t["nets4"])')
start=$(date +%s.%N)
out=$(xb import "$TMP/big.txt" --jail big --json 2>/dev/null) || fail "1M import: $out"
secs=$(python3 -c "print(round($(date +%s.%N) - $start, 2))")
after=$(xb stats --json | pyjson 't = d["tables"]; print(t["hosts4"] + t["nets4"])')
pyjson 'assert d["added"] == 1000000 and d["rejected"] == 0 and d["lines"] == 1000001, d' <<<"$out" ||
  fail "1M import counts: $out"
[ $((after - before)) = 1000000 ] || fail "1M import: the maps hold $((after - before)) new entries, want 1000000"
python3 -c "import sys; sys.exit(0 if $secs < 20 else 1)" || fail "1M import took $secs s (bound 20 s)"
echo "1M-line import: $secs s wall (CLI's own figure: $(pyjson 'print(round(d["seconds"], 2))' <<<"$out") s)"
out=$(xb import "$TMP/big.txt" --jail big --replace --json 2>/dev/null) || fail "1M re-import: $out"
pyjson 'assert d["added"] == 0 and d["already"] == 1000000 and d["removed"] == 0, d' <<<"$out" ||
  fail "1M re-import --replace counts: $out"
ok "1M import: every entry in the maps; re-import with --replace is a no-op"
echo "all CLI checks passed"
