#!/usr/bin/env bash
# The real xdpband in a throwaway namespace pair: log lines -> bans -> dropped
# packets, with restarts, SIGKILL, a simulated reboot, rotation and bad config.
# Usage: test_daemon.sh PATH_TO_XDPBAND PATH_TO_XDPBAN SOURCE_DIR
set -uo pipefail
here=$(dirname "$0")
. "$here/lib.sh"
XD=$1 XB=$2 SRC=$3
require_root_bpf

P=xbd$$
T=$(mktemp -d /tmp/xdpban-daemon-XXXXXX)
PD=/sys/fs/bpf/xdpban-dt-$$
SOCK=$T/xdpban.sock
DPID=
cleanup() {
  [ -n "$DPID" ] && kill -9 "$DPID" 2>/dev/null
  drop_pair "$P"
  rm -rf "$PD" "$T"
}
trap cleanup EXIT
make_pair "$P"

daemon_conf
cat >"$T/jail.conf" <<CONF
[DEFAULT]
bantime = 1h
findtime = 10m
maxretry = 3
ignoreip = 198.51.100.0/24

[sshd]
enabled = true
logpath = $T/auth.log

[counter]
# Counts failures in a rotated log; never bans.
enabled = true
filter = sshd
logpath = $T/rot.log
maxretry = 100000

[short]
enabled = true
filter = sshd
logpath = $T/short.log
maxretry = 1
bantime = 2s
bantime.increment = true
CONF
touch "$T/auth.log" "$T/rot.log" "$T/short.log"
fail_line() { echo "$(now_syslog "${2:-now}") host sshd[4242]: Failed password for root from $1 port 5555 ssh2"; }

banned() { ctl "$SOCK" '{"cmd":"list"}' | grep -q "\"cidr\": *\"$1\""; }
status_of() { ctl "$SOCK" "{\"cmd\":\"status\",\"jail\":\"$1\"}"; }

# --- configuration is validated before anything changes -------------------------
out=$("$XD" -c "$T/xdpban.conf" --check) || fail "--check on a good config: $out"
ok "--check: $out"

start_daemon
expect_reach 4 yes "daemon up, nothing banned"

# --- maxretry - 1 failures do not ban; a line older than findtime is ignored -----
fail_line 10.213.0.2 >>"$T/auth.log"
fail_line 10.213.0.2 >>"$T/auth.log"
fail_line 10.213.0.2 "-1 hour" >>"$T/auth.log"
sleep 1.2
banned 10.213.0.2 && fail "banned after maxretry-1 recent failures (and one too old)"
expect_reach 4 yes "2 of 3 failures (plus one older than findtime): not banned"

# --- the third failure bans, within milliseconds ----------------------------------
t0=$(date +%s%N)
fail_line 10.213.0.2 >>"$T/auth.log"
for _ in $(seq 400); do banned 10.213.0.2 && break; sleep 0.005; done
t1=$(date +%s%N)
banned 10.213.0.2 || fail "not banned after maxretry failures"
ok "ban in the maps $(( (t1 - t0) / 1000000 )) ms after the line was appended (includes the polling client)"
expect_reach 4 no "attacker banned by the daemon"
grep -q "\[sshd\] Ban 10.213.0.2" "$T/daemon.log" || fail "no '[sshd] Ban 10.213.0.2' in the log"

# --- ignoreip is never banned -----------------------------------------------------
for _ in 1 2 3 4; do fail_line 198.51.100.50 >>"$T/auth.log"; done
sleep 0.5
banned 198.51.100.50 && fail "ignoreip address was banned"
grep -q "Ignore 198.51.100.50" "$T/daemon.log" || fail "no 'Ignore 198.51.100.50' in the log"
ok "ignoreip never banned"

# --- rotation by rename and by copytruncate while lines are written --------------
N=600
for i in $(seq 1 $N); do
  fail_line "192.0.2.$((i % 200 + 1))" >>"$T/rot.log"
  if [ "$i" = 200 ]; then mv "$T/rot.log" "$T/rot.log.1"; fi
  if [ "$i" = 400 ]; then cp "$T/rot.log" "$T/rot.log.2"; truncate -s 0 "$T/rot.log"; fi
  if [ $((i % 50)) = 0 ]; then sleep 0.05; fi
done
for _ in $(seq 50); do
  got=$(json_get "$(status_of counter)" 'd["jails"][0]["total_failed"]')
  [ "$got" = $N ] && break; sleep 0.1
done
[ "$got" = $N ] || fail "rotation lost lines: $got of $N failures seen"
ok "rename and copytruncate rotation while writing: $got of $N lines seen"

# --- SIGKILL: bans stay enforced --------------------------------------------------
sleep 1.2  # let a tick save the positions
before=$(json_get "$(ctl "$SOCK" '{"cmd":"list"}')" '[b["remaining_s"] for b in d["bans"] if b["cidr"]=="10.213.0.2"][0]')
stop_daemon KILL
expect_reach 4 no "daemon killed with SIGKILL: ban still enforced"

# --- restart: nothing re-read, bans and remaining times intact --------------------
start_daemon
st=$(status_of sshd)
[ "$(json_get "$st" 'd["jails"][0]["total_failed"]')" = 0 ] || fail "restart re-read old lines: $st"
[ "$(json_get "$(status_of counter)" 'd["jails"][0]["total_failed"]')" = 0 ] || fail "restart re-read the rotated log"
after=$(json_get "$(ctl "$SOCK" '{"cmd":"list"}')" '[b["remaining_s"] for b in d["bans"] if b["cidr"]=="10.213.0.2"][0]')
[ $((before - after)) -ge 0 ] && [ $((before - after)) -le 10 ] || fail "remaining time changed: $before -> $after"
ok "restart: nothing re-read, remaining time $before s -> $after s"
expect_reach 4 no "after restart"

# --- simulated reboot: maps gone, restored from the store -------------------------
stop_daemon TERM
expect_reach 4 no "after a clean stop the program and bans stay"
inns "$VNS" "$XB" --pin-dir "$PD" detach "$VIF" >/dev/null || fail "detach"
rm -rf "$PD"
expect_reach 4 yes "maps removed (reboot): traffic passes"
start_daemon
grep -q "1 put back into the maps" "$T/daemon.log" || fail "restore from the store not reported"
expect_reach 4 no "after the reboot the ban is back from the store"

# --- a ban written while the daemon was down is adopted ---------------------------
stop_daemon TERM
inns "$VNS" "$XB" --pin-dir "$PD" ban 203.0.113.99 --for 1h >/dev/null || fail "direct ban with the daemon down"
start_daemon
banned 203.0.113.99 || fail "ban written while the daemon was down was not adopted"
grep -q "1 adopted from the maps" "$T/daemon.log" || fail "adoption not reported"
ok "ban written while the daemon was down adopted"

# --- while the daemon runs, the CLI goes through it ----------------------------------
xbs() { inns "$VNS" "$XB" --pin-dir "$PD" --socket "$SOCK" "$@"; }
out=$(xbs ban 203.0.113.120 --for 30m --reason test) || fail "CLI ban through the daemon: $out"
echo "$out" | grep -q "\[manual\] Ban 203.0.113.120 for 30m" || fail "CLI ban output: $out"
banned 203.0.113.120 || fail "CLI ban did not reach the daemon"
grep -q "\[manual\] Ban 203.0.113.120" "$T/daemon.log" || fail "daemon did not log the CLI ban"
out=$(xbs status sshd) || fail "status sshd: $out"
echo "$out" | grep -q "Banned IP list:.*10.213.0.2" || fail "status sshd does not list the ban: $out"
echo "$out" | grep -q "File list:.*auth.log" || fail "status sshd does not list the file: $out"
out=$(xbs status) || fail "status: $out"
echo "$out" | grep -q "Jail list:.*sshd" || fail "status: $out"
out=$(xbs unban 203.0.113.120) || fail "CLI unban through the daemon: $out"
banned 203.0.113.120 && fail "CLI unban did not reach the daemon"
xbs unban 203.0.113.120 2>/dev/null; [ $? = 3 ] || fail "unban of an address not banned should exit 3"
ok "CLI ban, status and unban go through the running daemon"

# --- list through the daemon knows since and failures ------------------------------
xbs list --json | python3 -c '
import json, sys, time
d = {e["cidr"]: e for e in json.load(sys.stdin)}
e = d["10.213.0.2"]
assert e["jail"] == "sshd" and e["failures"] == 3 and e["count"] == 1 and e["flags"] == "-", e
assert e["origin"] == "", e  # banned here, not applied from a fleet
assert time.time() - 600 < e["since"] <= time.time() and 0 < e["remaining_s"] <= 3600, e
' || fail "list --json through the daemon: $(xbs list --json)"
xbs list | head -1 | grep -q "ADDRESS.*JAIL.*SINCE.*REMAINING.*FAILURES.*FLAGS.*ORIGIN" || fail "list header: $(xbs list)"
xbs list | grep -qE "^10\.213\.0\.2 .* local$" || fail "list: origin of a local ban: $(xbs list)"
[ "$(xbs fleet status)" = "fleet: not configured ([fleet] enabled = false)" ] ||
  fail "fleet status without [fleet]: $(xbs fleet status 2>&1)"
xbs list --jail sshd | grep -E "^10\.213\.0\.2 +sshd +20[0-9-]+ [0-9:]+ +[0-9hms]+ +3 " >/dev/null ||
  fail "list row with since and failures: $(xbs list --jail sshd)"
ok "list through the daemon: since, remaining time, failures"

# --- import through the daemon: one writer, counts, --replace ----------------------
printf '203.0.113.0/25\n198.51.100.7\n10.213.0.1\n2001:db8:5::/48\nnot-an-address\n' >"$T/drop.txt"
out=$(xbs import "$T/drop.txt" --jail drop --json 2>"$T/import.err"); rc=$?
[ $rc = 4 ] || fail "import through the daemon: exit $rc, want 4 (one bad line, one own address): $out $(cat "$T/import.err")"
json_get "$out" 'd["daemon"] is True and d["added"] == 3 and d["refused"] == 1 and d["rejected"] == 1' | grep -qx True ||
  fail "import counts through the daemon: $out"
grep -q "drop.txt:3: 10.213.0.1 contains 10.213.0.1, an address of this machine" "$T/import.err" ||
  fail "own address not named with its line: $(cat "$T/import.err")"
grep -q "\[drop\] Import 3 entries: 3 added" "$T/daemon.log" || fail "daemon did not log the import"
banned 2001:db8:5::/48 || fail "imported entry not in the daemon's bans"
printf '198.51.100.7\n' | xbs import - --jail drop --replace --json >"$T/out" || fail "import --replace: $(cat "$T/out")"
json_get "$(cat "$T/out")" 'd["already"] == 1 and d["removed"] == 2' | grep -qx True || fail "--replace counts: $(cat "$T/out")"
banned 203.0.113.0/25 && fail "--replace through the daemon left an old entry"
banned 198.51.100.7 || fail "--replace through the daemon lost the kept entry"
ok "import through the daemon: counts, refused own address with its line, --replace"

# --- changes made while the daemon is down are kept; the allow list survives a reboot --
xbs allow add 192.0.2.128/25 >/dev/null || fail "allow add through the daemon"
stop_daemon TERM
xbs unban 198.51.100.7 >/dev/null 2>&1 || fail "direct unban with the daemon down"
xbs ban 10.213.0.2 --for 2h --jail manual >/dev/null 2>&1 || fail "direct re-ban with the daemon down"
start_daemon
banned 198.51.100.7 && fail "a ban removed while the daemon was down came back"
json_get "$(ctl "$SOCK" '{"cmd":"list"}')" '[(b["jail"], 7100 < b["remaining_s"] <= 7200) for b in d["bans"] if b["cidr"]=="10.213.0.2"]' |
  grep -qx "\[('manual', True)\]" || fail "a ban changed while the daemon was down: $(ctl "$SOCK" '{"cmd":"list"}')"
grep -q "1 changed and 1 removed in the maps while xdpband was down" "$T/daemon.log" || fail "reconcile did not report the offline changes"
stop_daemon TERM
inns "$VNS" "$XB" --pin-dir "$PD" detach "$VIF" >/dev/null || fail "detach"
rm -rf "$PD"
start_daemon
[ "$(inns "$VNS" "$XB" --pin-dir "$PD" allow list --json)" = '["192.0.2.128/25"]' ] ||
  fail "allow list after a reboot: $(inns "$VNS" "$XB" --pin-dir "$PD" allow list --json)"
banned 10.213.0.2 || fail "ban lost across the reboot"
expect_reach 4 no "after the second reboot"
xbs allow del 192.0.2.128/25 >/dev/null || fail "allow del"
ok "offline unban and re-ban kept at restart; allow list restored after a reboot"

# --- bantime.increment doubles on a repeat ------------------------------------------
fail_line 198.18.0.7 >>"$T/short.log"
sleep 0.5
grep -q "\[short\] Ban 198.18.0.7 for 2s" "$T/daemon.log" || fail "first short ban not 2s"
sleep 3
grep -q "\[short\] Unban 198.18.0.7" "$T/daemon.log" || fail "short ban did not end"
fail_line 198.18.0.7 >>"$T/short.log"
sleep 0.5
grep -q "\[short\] Ban 198.18.0.7 for 4s (banned 1 times before)" "$T/daemon.log" || fail "repeat ban not doubled"
ok "bantime.increment: 2s then 4s"

# --- malformed configuration: clear error, non-zero exit, nothing changed --------
cp "$T/jail.conf" "$T/jail.conf.good"
sed -i 's/^maxretry = 3$/maxretry = lots/' "$T/jail.conf"
before=$(inns "$VNS" "$XB" --pin-dir "$PD" list --json 2>/dev/null || true)
out=$("$XD" -c "$T/xdpban.conf" --check 2>&1); rc=$?
[ $rc = 2 ] || fail "--check on a bad config exited $rc"
echo "$out" | grep -q "jail.conf:4: .*maxretry: 'lots'" || fail "error does not name file:line and value: $out"
ok "bad config: $out"
r=$(ctl "$SOCK" '{"cmd":"reload"}')
echo "$r" | grep -q '"ok":false' || fail "reload of a bad config should fail: $r"
banned 10.213.0.2 || fail "a failed reload dropped bans"
cp "$T/jail.conf.good" "$T/jail.conf"
ok "failed reload keeps the running configuration and every ban"

stop_daemon TERM
# Only the reload failure provoked above may appear as an error.
grep -iE "error|sanitizer" "$T/daemon.log" | grep -v "reload failed" && fail "errors in the daemon log"
inns "$VNS" "$XB" --pin-dir "$PD" detach "$VIF" >/dev/null
out=$("$XB" --socket "$SOCK" status 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "not running" || fail "status without a daemon: exit $rc: $out"
ok "status without a daemon says so"

# --- the shipped default configuration is valid ------------------------------------
mkdir -p "$T/shipped"
cp -r "$SRC/deploy/etc/xdpban/." "$T/shipped/"
sed -i "s|^filter_path = .*|filter_path = $SRC/deploy/filter.d|" "$T/shipped/xdpban.conf"
out=$("$XD" -c "$T/shipped/xdpban.conf" --check 2>&1) || fail "shipped config: $out"
ok "shipped configuration: $out"
echo "all daemon checks passed"
