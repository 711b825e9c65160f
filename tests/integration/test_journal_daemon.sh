#!/usr/bin/env bash
# The real xdpband following a systemd journal (backend = systemd): journal files
# written by systemd-journal-remote from journal export format (no journald runs
# here), appended while the daemon follows them. Checks journalmatch, maxretry,
# the ban reaching the XDP maps (packets dropped), the saved cursor across a
# restart (nothing re-read, entries written while down are read) and bad
# backend arguments. Usage: test_journal_daemon.sh PATH_TO_XDPBAND SOURCE_DIR
set -uo pipefail
here=$(dirname "$0")
. "$here/lib.sh"
XD=$1 SRC=$2
require_root_bpf

JR=
for p in /lib/systemd/systemd-journal-remote /usr/lib/systemd/systemd-journal-remote; do
  [ -x "$p" ] && JR=$p && break
done
if [ -z "$JR" ]; then
  [ "${CI:-}" = true ] && fail "CI=true and systemd-journal-remote is missing (tools/deps.txt)"
  echo "SKIP: systemd-journal-remote is not installed"; exit 77
fi

P=xbj$$
T=$(mktemp -d /tmp/xdpban-journal-XXXXXX)
PD=/sys/fs/bpf/xdpban-jt-$$
SOCK=$T/xdpban.sock
J=$T/remote.journal
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

[sshd]
enabled = true
backend = systemd[journalfiles="$J"]
journalmatch = _SYSTEMD_UNIT=sshd.service + _COMM=sshd
CONF

# entry UNIT MESSAGE [AGE_SECONDS]: one entry in journal export format.
mono=1000000
entry() {
  local t=$(( $(date +%s%N) / 1000 - ${3:-0} * 1000000 ))
  mono=$((mono + 1000))
  printf '__REALTIME_TIMESTAMP=%s\n__MONOTONIC_TIMESTAMP=%s\n_BOOT_ID=0123456789abcdef0123456789abcdef\n' "$t" "$mono"
  printf '_HOSTNAME=web1\nSYSLOG_IDENTIFIER=%s\n_PID=4242\n_COMM=%s\n_SYSTEMD_UNIT=%s.service\nMESSAGE=%s\n\n' \
    "${1%%.*}" "${1%%.*}" "$1" "$2"
}
failure() { entry "${2:-sshd}" "Failed password for root from $1 port 5555 ssh2" "${3:-0}"; }
# append ENTRIES...: one systemd-journal-remote run appends them to $J ($(...)
# strips the blank line that ends each entry: put it back).
append() { printf '%s\n\n' "$@" | "$JR" --output="$J" - 2>>"$T/remote.log" || fail "systemd-journal-remote failed: $(cat "$T/remote.log")"; }

banned() { ctl "$SOCK" '{"cmd":"list"}' | grep -q "\"cidr\": *\"$1\""; }
sshd_status() { ctl "$SOCK" '{"cmd":"status","jail":"sshd"}'; }
failed_total() { json_get "$(sshd_status)" 'd["jails"][0]["total_failed"]'; }

# --- bad backend arguments: a clear error naming file:line, nothing started --------
cp "$T/jail.conf" "$T/jail.good"
sed -i "s|^backend = .*|backend = systemd[journalfile=$J]|" "$T/jail.conf"
out=$("$XD" -c "$T/xdpban.conf" --check 2>&1) && fail "--check accepted an unknown backend argument"
echo "$out" | grep -q "jail.conf:.*journalfile" || fail "error does not name file:line and argument: $out"
sed -i "s|^backend = .*|backend = systemd[journalfiles=$J, namespace=foo]|" "$T/jail.conf"
out=$("$XD" -c "$T/xdpban.conf" --check 2>&1) && fail "--check accepted journalfiles with namespace"
ok "bad backend arguments refused: $(echo "$out" | tail -1)"
cp "$T/jail.good" "$T/jail.conf"

# An old failure (outside findtime) and an unrelated unit exist before the start.
append "$(failure 10.213.0.2 sshd 3600)" "$(entry cron "session opened")"
out=$("$XD" -c "$T/xdpban.conf" --check) || fail "--check on a good journal config: $out"
start_daemon
st=$(sshd_status)
[ "$(json_get "$st" 'd["jails"][0]["journal"]')" != "" ] || fail "status does not name the journal: $st"
json_get "$st" 'd["jails"][0]["journal_matches"]' | grep -q "_SYSTEMD_UNIT=sshd.service" ||
  fail "status does not show the journal matches: $st"
expect_reach 4 yes "daemon up on the journal, nothing banned"

# --- journalmatch: failures logged by another unit do not count -----------------
append "$(failure 10.213.0.2)" "$(failure 10.213.0.2)" "$(failure 10.213.0.2 nginx)" "$(failure 10.213.0.2 nginx)"
for _ in $(seq 50); do [ "$(failed_total)" = 2 ] && break; sleep 0.1; done
[ "$(failed_total)" = 2 ] || fail "expected 2 failures (sshd only, nothing older than findtime), got $(failed_total)"
banned 10.213.0.2 && fail "banned after maxretry-1 failures"
ok "2 sshd failures counted; other units' entries and one older than findtime ignored"

# --- the third failure bans; packets dropped -------------------------------------
t0=$(date +%s%N)
append "$(failure 10.213.0.2)"
for _ in $(seq 400); do banned 10.213.0.2 && break; sleep 0.005; done
t1=$(date +%s%N)
banned 10.213.0.2 || { cat "$T/daemon.log"; fail "not banned after 3 journal failures"; }
ok "ban in the maps $(( (t1 - t0) / 1000000 )) ms after the journal append (includes systemd-journal-remote's run)"
expect_reach 4 no "attacker banned from the journal"
grep -q "\[sshd\] Ban 10.213.0.2" "$T/daemon.log" || fail "no '[sshd] Ban 10.213.0.2' in the log"

# --- restart: the cursor is kept; nothing re-read; what came meanwhile is read ----
stop_daemon
append "$(failure 10.213.0.3)" "$(failure 10.213.0.3)" "$(failure 10.213.0.3)"
start_daemon
for _ in $(seq 50); do banned 10.213.0.3 && break; sleep 0.1; done
banned 10.213.0.3 || fail "failures written while the daemon was down were not read"
[ "$(failed_total)" = 3 ] || fail "restart re-read journal entries: $(failed_total) failures, expected 3"
grep -q "from the saved cursor" "$T/daemon.log" || fail "the daemon did not resume from its saved cursor"
ok "restart resumed from the saved cursor: only the 3 new failures read"

# --- reload keeps following the journal ------------------------------------------
ctl "$SOCK" '{"cmd":"reload"}' | grep -q '"ok": *true' || fail "reload failed"
append "$(failure 10.213.0.4)" "$(failure 10.213.0.4)" "$(failure 10.213.0.4)"
for _ in $(seq 50); do banned 10.213.0.4 && break; sleep 0.1; done
banned 10.213.0.4 || fail "after a reload the journal is no longer followed"
[ "$(failed_total)" = 3 ] || fail "reload re-read journal entries: $(failed_total) failures since the reload's jails, expected 3"
ok "reload: journal still followed, nothing re-read"
stop_daemon
echo "PASS"
