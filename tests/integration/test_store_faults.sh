#!/usr/bin/env bash
# The state store under faults, with the real xdpband: its files are the
# owner's alone (0600, the state directory 0700); a database damaged while the
# daemon was down is moved aside and the bans come back from the pinned maps;
# a full disk during a ban burst loses no ban and the store catches up once
# there is space again.
# Usage: test_store_faults.sh PATH_TO_XDPBAND PATH_TO_XDPBAN SOURCE_DIR
set -uo pipefail
here=$(dirname "$0")
. "$here/lib.sh"
XD=$1 XB=$2 SRC=$3
require_root_bpf

P=xsf$$
T=$(mktemp -d /tmp/xdpban-store-XXXXXX)
PD=/sys/fs/bpf/xdpban-sf-$$
SOCK=$T/xdpban.sock
DB=$T/state/state.db  # the daemon creates $T/state
DPID=
MNT=
cleanup() {
  [ -n "$DPID" ] && kill -9 "$DPID" 2>/dev/null
  [ -n "$DPID" ] && wait "$DPID" 2>/dev/null
  [ -n "$MNT" ] && umount "$MNT"
  drop_pair "$P"
  rm -rf "$PD" "$T"
}
trap cleanup EXIT
make_pair "$P"

daemon_conf
sed -i "s|^database = .*|database = $DB|" "$T/xdpban.conf"
cat >"$T/jail.conf" <<CONF
[DEFAULT]
bantime = 1h
findtime = 10m

[sshd]
enabled = true
logpath = $T/auth.log
maxretry = 1
CONF
touch "$T/auth.log"
fail_line() { echo "$(now_syslog) host sshd[4242]: Failed password for root from $1 port 5555 ssh2"; }
banned() { ctl "$SOCK" '{"cmd":"list"}' | grep -q "\"cidr\": *\"$1\""; }
n_bans() { json_get "$(ctl "$SOCK" '{"cmd":"list"}')" 'len(d["bans"])'; }
mode() { stat -c %a "$1"; }
stored() { python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])" "$DB" "$1"; }

# --- the files are private ----------------------------------------------------------
start_daemon
fail_line 10.213.0.2 >>"$T/auth.log"
for _ in $(seq 100); do banned 10.213.0.2 && break; sleep 0.05; done
banned 10.213.0.2 || fail "not banned from the log"
r=$(ctl "$SOCK" '{"cmd":"ban","cidrs":["203.0.113.5"],"duration":3600}')
echo "$r" | grep -q '"ok":true' || fail "manual ban: $r"
sleep 1.2  # a commit and a tick
[ "$(mode "$T/state")" = 700 ] || fail "state directory is $(mode "$T/state"), want 700"
for f in "$DB" "$DB-wal" "$DB-shm"; do
  [ -e "$f" ] || fail "$f missing"
  [ "$(mode "$f")" = 600 ] || fail "$f is $(mode "$f"), want 600"
done
ok "state directory 700; database, -wal and -shm 600"

# --- a damaged database: moved aside, bans recovered from the maps -----------------------
stop_daemon TERM
head -c 65536 /dev/urandom >"$DB"
rm -f "$DB-wal" "$DB-shm"
start_daemon
banned 10.213.0.2 || fail "ban from the log lost with the damaged database"
banned 203.0.113.5 || fail "manual ban lost with the damaged database"
expect_reach 4 no "after the damaged database was replaced the ban is enforced"
moved=$(ls "$DB".corrupt-* 2>/dev/null | grep -v -e '-wal$' -e '-shm$')
[ -n "$moved" ] && [ "$(stat -c %s "$moved")" = 65536 ] || fail "damaged database not kept aside: $(ls "$T/state")"
grep -E " error: state database $DB was damaged .*moved it aside to $moved .*recovered 2 bans from the pinned maps" \
  "$T/daemon.log" >/dev/null || fail "no error line for the damaged database: $(grep -i damaged "$T/daemon.log")"
for f in "$DB" "$moved"; do [ "$(mode "$f")" = 600 ] || fail "$f is $(mode "$f"), want 600"; done
sleep 1.2
[ "$(stored 'SELECT COUNT(*) FROM bans')" = 2 ] || fail "the new database does not hold the recovered bans"
ok "damaged database moved aside to $(basename "$moved"), 2 bans recovered from the maps and stored anew"

# --- a full disk during a ban burst ---------------------------------------------------
stop_daemon TERM
mv "$T/state" "$T/state.disk"
mkdir -m 700 "$T/state"
mount -t tmpfs -o size=1m,mode=0700 xdpban-test "$T/state" || fail "cannot mount a tmpfs"
MNT=$T/state
cp -p "$T/state.disk/state.db" "$DB"
start_daemon
dd if=/dev/zero of="$T/state/filler" bs=4k 2>/dev/null  # until the disk is full
N=300
for i in $(seq 1 $N); do fail_line "10.77.$((i / 250)).$((i % 250 + 1))" >>"$T/auth.log"; done
for _ in $(seq 100); do [ "$(n_bans)" = $((N + 2)) ] && break; sleep 0.1; done
[ "$(n_bans)" = $((N + 2)) ] || fail "the burst was not banned: $(n_bans) bans"
expect_reach 4 no "with the disk full, bans are enforced"
sleep 2.5  # retries meanwhile
failures=$(grep -c "cannot store state" "$T/daemon.log")
[ "$failures" = 1 ] || fail "the store failure should be logged once, not $failures times: $(grep 'cannot store state' "$T/daemon.log" | head -3)"
grep "cannot store state" "$T/daemon.log" | grep -q " error: cannot store state" || fail "the store failure is not an error"
grep -q "Ban 10.77.1.51" "$T/daemon.log" || fail "no Ban line for the last of the burst"
saved=$(stored "SELECT offset FROM file_positions WHERE path='$T/auth.log'")
[ "$saved" -lt "$(stat -c %s "$T/auth.log")" ] || fail "the log position was saved past bans that are not stored ($saved)"
ok "disk full: $N bans enforced, the failure logged once, the log position held at $saved"

rm -f "$T/state/filler"
for _ in $(seq 50); do grep -q "state store works again" "$T/daemon.log" && break; sleep 0.1; done
grep -q "state store works again" "$T/daemon.log" || fail "recovery not logged"
sleep 2.5
[ "$(grep -c "state store works again" "$T/daemon.log")" = 1 ] || fail "recovery logged more than once"
[ "$(grep -c "cannot store state" "$T/daemon.log")" = 1 ] || fail "failure logged again after the recovery"
stop_daemon TERM
[ "$(stored 'SELECT COUNT(*) FROM bans')" = $((N + 2)) ] || fail "after space returned the store holds $(stored 'SELECT COUNT(*) FROM bans') of $((N + 2)) bans"
[ "$(stored "SELECT COUNT(*) FROM ban_events WHERE cidr LIKE '10.77.%' AND kind='ban'")" = $N ] ||
  fail "the event log lost bans of the burst"
[ "$(stored "SELECT offset FROM file_positions WHERE path='$T/auth.log'")" = "$(stat -c %s "$T/auth.log")" ] ||
  fail "the log position did not catch up"
for f in "$DB" "$DB-wal" "$DB-shm"; do [ ! -e "$f" ] || [ "$(mode "$f")" = 600 ] || fail "$f is $(mode "$f")"; done
ok "space back: all $((N + 2)) bans, their events and the log position stored; recovery logged once"

umount "$MNT" && MNT=
grep -iE "sanitizer|runtime error" "$T/daemon.log" && fail "sanitizer reports in the daemon log"
inns "$VNS" "$XB" --pin-dir "$PD" detach "$VIF" >/dev/null
echo "all store fault checks passed"
