#!/usr/bin/env bash
# Actions, reports and metrics on the real xdpband in a throwaway namespace
# pair: a ban runs ban_command with the right argv (hostile jail names stay
# one argument, no shell runs); a slow command does not delay bans and is
# killed at command_timeout; the metrics endpoint (in the victim namespace's
# loopback) is scraped with curl and every line checked; the periodic report
# arrives as a mail on report_command's stdin; `xdpban report` on the state
# database prints the known numbers, --json too.
# Usage: test_ops.sh PATH_TO_XDPBAND PATH_TO_XDPBAN SOURCE_DIR
set -uo pipefail
here=$(dirname "$0")
. "$here/lib.sh"
XD=$1 XB=$2 SRC=$3
require_root_bpf
for tool in curl sqlite3 python3; do
  if ! command -v $tool >/dev/null; then
    [ "${CI:-}" = true ] && fail "CI=true and $tool is missing (tools/deps.txt)"
    echo "SKIP: needs $tool"; exit 77
  fi
done

P=xbo$$
T=$(mktemp -d /tmp/xdpban-ops-XXXXXX)
PD=/sys/fs/bpf/xdpban-ot-$$
SOCK=$T/xdpban.sock
MARK=/tmp/xdpban-ops-pwned-$$
PORT=9468
DPID= SMTPPID=
cleanup() {
  [ -n "$DPID" ] && kill -9 "$DPID" 2>/dev/null
  [ -n "$SMTPPID" ] && kill -9 "$SMTPPID" 2>/dev/null
  # Commands the daemon started run in their own process groups.
  for g in $(grep -o 'started pid [0-9]*' "$T/daemon.log" 2>/dev/null | awk '{print $3}'); do
    kill -9 -- "-$g" 2>/dev/null
  done
  drop_pair "$P"
  rm -rf "$PD" "$T" "$MARK"
}
trap cleanup EXIT
make_pair "$P"

# record.py FILE ARGS...: appends its argv as one JSON line (what execve gave it).
cat >"$T/record.py" <<'PY'
import json, sys
with open(sys.argv[1], "a") as f:
    f.write(json.dumps(sys.argv[2:]) + "\n")
PY
# save.py DIR: stdin to DIR/report.N (a stand-in for sendmail -t).
cat >"$T/save.py" <<'PY'
import os, sys
d = sys.argv[1]
n = len(os.listdir(d))
data = sys.stdin.read()
with open(os.path.join(d, "report.%d.tmp" % n), "w") as f:
    f.write(data)
os.rename(os.path.join(d, "report.%d.tmp" % n), os.path.join(d, "report.%d" % n))
PY
mkdir "$T/reports"

daemon_conf \
  "loglevel = debug" \
  "command_timeout = 2s" \
  "command_max_running = 2" \
  "report = 4s" \
  "report_command = /usr/bin/python3 $T/save.py $T/reports" \
  "report_mailto = root@example.org" \
  "report_mailfrom = xdpban <xdpban@example.org>" \
  "metrics = 127.0.0.1:$PORT"
# The default for bans of no configured jail (xdpban ban): shell syntax quoted
# in the template itself is passed on literally too.
printf '%s\n' "ban_command = /usr/bin/python3 $T/record.py $T/manual.argv <jail> <cidr> '\$(touch $MARK)' \"; touch $MARK\" '\`touch $MARK\`' 'a b'" >>"$T/xdpban.conf"
cat >"$T/jail.conf" <<CONF
[DEFAULT]
bantime = 1h
findtime = 10m
maxretry = 3

[sshd]
enabled = true
logpath = $T/auth.log
ban_command = /usr/bin/python3 $T/record.py $T/sshd.argv <ip> <jail> <bantime> <failures> <cidr> <count> <family>
unban_command = /usr/bin/python3 $T/record.py $T/sshd-unban.argv <ip> <jail>

[slow]
enabled = true
filter = sshd
logpath = $T/slow.log
maxretry = 1
ban_command = /bin/sleep 10
CONF
touch "$T/auth.log" "$T/slow.log"
fail_line() { echo "$(now_syslog) host sshd[4242]: Failed password for root from $1 port 5555 ssh2"; }

banned() { ctl "$SOCK" '{"cmd":"list"}' | grep -q "\"cidr\": *\"$1\""; }
# wait_ban CIDR: milliseconds from now until CIDR is in the daemon's table.
wait_ban() {
  local t0 t1; t0=$(date +%s%N)
  for _ in $(seq 400); do banned "$1" && break; sleep 0.005; done
  t1=$(date +%s%N)
  banned "$1" || fail "$1 not banned"
  echo $(( (t1 - t0) / 1000000 ))
}
wait_file() { for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.05; done; fail "no $1"; }
scrape() { inns "$VNS" curl -sS --max-time 5 "$@"; }

out=$("$XD" -c "$T/xdpban.conf" --check) || fail "--check: $out"
start_daemon
grep -q "metrics on http://127.0.0.1:$PORT/metrics" "$T/daemon.log" || fail "metrics endpoint not started"
ok "daemon up with actions, reports every 4s and metrics on 127.0.0.1:$PORT (in $VNS)"

# --- a ban runs ban_command with the right argv -----------------------------------
for _ in 1 2 3; do fail_line 10.213.0.2 >>"$T/auth.log"; done
base_ms=$(wait_ban 10.213.0.2)
wait_file "$T/sshd.argv"
got=$(cat "$T/sshd.argv")
[ "$got" = '["10.213.0.2", "sshd", "3600", "3", "10.213.0.2", "1", "inet4"]' ] || fail "ban_command argv: $got"
ok "ban_command ran with $got (ban after $base_ms ms)"
expect_reach 4 no "banned attacker"

# --- shell syntax in a template stays literal; no shell runs -----------------------
xbs() { inns "$VNS" "$XB" --pin-dir "$PD" --socket "$SOCK" "$@"; }
for i in 0 1 2 3; do xbs ban "203.0.113.$((10 + i))" --for 1h >/dev/null || fail "manual ban $i"; done
for _ in $(seq 100); do [ "$(wc -l <"$T/manual.argv" 2>/dev/null)" = 4 ] && break; sleep 0.05; done
python3 - "$T/manual.argv" "$MARK" <<'PY' || fail "manual ban_command argv: $(cat "$T/manual.argv")"
import json, sys
m = sys.argv[2]
rows = sorted(json.loads(l) for l in open(sys.argv[1]))
want = [["manual", "203.0.113.%d" % i, "$(touch %s)" % m, "; touch %s" % m, "`touch %s`" % m, "a b"]
        for i in range(10, 14)]
assert rows == want, (rows, want)
PY
# Jail names reach the maps only as letters, digits, - _ . (checked before any command runs).
xbs ban 203.0.113.20 --jail 'x;touch '"$MARK" >/dev/null 2>&1 && fail "a jail name with ';' was accepted"
sleep 0.3
[ -e "$MARK" ] && fail "a shell ran: $MARK exists"
ok "xdpban.conf's default ban_command ran for 4 manual bans with shell syntax as literal arguments; $MARK never created"

# --- a slow command never delays a ban, and is killed at command_timeout ----------------
t_slow=$(date +%s%N)
for i in 1 2 3 4; do fail_line "198.18.0.$i" >>"$T/slow.log"; done
slow_ms=0
for i in 1 2 3 4; do ms=$(wait_ban "198.18.0.$i"); [ "$ms" -gt "$slow_ms" ] && slow_ms=$ms; done
# Two sleeps run (command_max_running = 2), two wait: a log ban still bans at once.
for _ in 1 2 3; do fail_line 10.213.0.77 >>"$T/auth.log"; done
busy_ms=$(wait_ban 10.213.0.77)
[ "$busy_ms" -lt 1000 ] || fail "ban took $busy_ms ms while slow commands ran"
ok "4 bans with a 'sleep 10' action each: all in the map within $slow_ms ms; another ban meanwhile $busy_ms ms (before: $base_ms ms)"
for _ in $(seq 200); do
  [ "$(grep -c 'ban_command for 198.18.0.*killed after 2 s (command_timeout)' "$T/daemon.log")" = 4 ] && break
  sleep 0.05
done
t_killed=$(date +%s%N)
n=$(grep -c 'ban_command for 198.18.0.*killed after 2 s (command_timeout)' "$T/daemon.log")
[ "$n" = 4 ] || { grep slow "$T/daemon.log"; fail "$n of 4 slow commands killed at the timeout"; }
took=$(( (t_killed - t_slow) / 1000000 ))
# Two rounds of 2 s (two at a time), never 10 s.
[ "$took" -lt 7000 ] || fail "slow commands took $took ms to be killed"
for pid in $(grep 'ban_command for 198.18.0' "$T/daemon.log" | grep -o 'started pid [0-9]*' | awk '{print $3}'); do
  [ -e "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null && fail "sleep $pid still runs"
done
ok "the 4 'sleep 10' commands were killed at the 2 s timeout, two at a time ($took ms for all)"

# --- metrics ---------------------------------------------------------------------------
ping_ok 4  # a few more drops for the counters
scrape -o "$T/metrics.txt" -w '%{http_code} %{content_type}' "http://127.0.0.1:$PORT/metrics" >"$T/http.txt" \
  || fail "scrape failed"
read -r code ctype <"$T/http.txt"
[ "$code" = 200 ] || fail "GET /metrics: HTTP $code"
[ "$ctype" = "text/plain; version=0.0.4; charset=utf-8" ] || fail "content type: $ctype"
python3 - "$T/metrics.txt" <<'PY' || fail "metrics: $(cat "$T/metrics.txt")"
import re, sys
name = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
lval = r'"(?:[^"\\\n]|\\\\|\\"|\\n)*"'
sample = re.compile(r"(%s)(\{[a-zA-Z_][a-zA-Z0-9_]*=%s(,[a-zA-Z_][a-zA-Z0-9_]*=%s)*\})? (\S+)$" % (name, lval, lval))
types, values, fam = {}, {}, None
for line in open(sys.argv[1]).read().splitlines():
    if line.startswith("# HELP "):
        assert re.match(r"# HELP %s .+$" % name, line), line
    elif line.startswith("# TYPE "):
        _, _, fam, t = line.split(" ")
        assert t in ("counter", "gauge"), line
        assert fam not in types, "family twice: " + fam
        types[fam] = t
    else:
        m = sample.match(line)
        assert m, "bad sample line: %r" % line
        assert m.group(1) == fam, "sample outside its family: " + line
        float(m.group(4))
        values[m.group(1) + (m.group(2) or "")] = float(m.group(4))
for f, t in types.items():
    assert (t == "counter") == f.endswith("_total"), (f, t)
def v(k):
    assert k in values, "missing " + k
    return values[k]
assert v('xdpban_bans{jail="sshd"}') == 2
assert v('xdpban_bans_total{jail="sshd"}') == 2
assert v('xdpban_bans{jail="slow"}') == 4
assert v('xdpban_jails') == 2
assert v('xdpban_failures_total{jail="sshd"}') == 6
assert v('xdpban_commands_total{result="timeout"}') == 4
assert v('xdpban_commands_total{result="ok"}') >= 6
assert v('xdpban_xdp_dropped_packets_total{family="ipv4"}') > 0
assert v('xdpban_map_entries{table="hosts",family="ipv4"}') == 10
assert v('xdpban_map_slots{table="hosts",family="ipv4"}') >= 65536
assert v('xdpban_uptime_seconds') >= 0
assert 'xdpban_build_info{version="0.1.0"}' in values
print("%d families, %d samples" % (len(types), len(values)))
PY
ok "metrics: $(wc -l <"$T/metrics.txt") lines in the exposition format, values as expected"
[ "$(scrape -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/nothing")" = 404 ] || fail "unknown path not 404"
[ "$(scrape -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/metrics")" = 405 ] || fail "POST not 405"
[ "$(scrape -o /dev/null -w '%{http_code}' -I "http://127.0.0.1:$PORT/metrics")" = 200 ] || fail "HEAD not 200"
scrape -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$PORT/metrics" >"$T/scrape.time"
# Scrapes at once (8: the per-client connection limit) do not stop bans: the
# server runs in the daemon's loop and never blocks it.
pids=()
for i in $(seq 8); do scrape -o "$T/par.$i" "http://127.0.0.1:$PORT/metrics" & pids+=($!); done
for _ in 1 2 3; do fail_line 10.213.0.78 >>"$T/auth.log"; done
ms=$(wait_ban 10.213.0.78)
for p in "${pids[@]}"; do wait "$p" || fail "parallel scrape failed"; done
for i in $(seq 8); do grep -q '^xdpban_build_info' "$T/par.$i" || fail "parallel scrape $i incomplete"; done
ok "HEAD 200, 404 and 405 answered; one scrape $(cat "$T/scrape.time") s; a ban during 8 parallel scrapes took $ms ms"

# --- the periodic report -----------------------------------------------------------
for _ in $(seq 120); do [ -e "$T/reports/report.0" ] && break; sleep 0.1; done
[ -e "$T/reports/report.0" ] || { grep -i report "$T/daemon.log"; fail "no report within 12 s (report = 4s)"; }
python3 - "$T/reports/report.0" <<'PY' || fail "report mail: $(cat "$T/reports/report.0")"
import email, sys
m = email.message_from_string(open(sys.argv[1]).read())
assert m["To"] == "root@example.org", m["To"]
assert m["From"] == "xdpban <xdpban@example.org>", m["From"]
assert m["Subject"].startswith("xdpban on "), m["Subject"]
assert m["Date"], "no Date"
body = m.get_payload()
assert "sshd" in body and "Top offenders:" in body, body  # the first ban was within 4 s of the start
PY
ok "report mail arrived on report_command's stdin: $(grep '^Subject:' "$T/reports/report.0")"

# --- the documented recipe: the report handed to an MTA over SMTP by curl ---------------
cat >"$T/smtp.py" <<'PY'
import asyncore, os, sys, warnings
warnings.simplefilter("ignore")
import smtpd
d = sys.argv[1]
class Sink(smtpd.SMTPServer):
    def process_message(self, peer, mailfrom, rcpttos, data, **kw):
        n = len(os.listdir(d))
        with open(os.path.join(d, "mail.%d" % n), "wb") as f:
            f.write(b"X-Envelope: %s %s\n" % (mailfrom.encode(), ",".join(rcpttos).encode()) + data)
Sink(("127.0.0.1", 2525), None, decode_data=False)
asyncore.loop(timeout=0.2)
PY
mkdir "$T/smtp"
# nsenter execs python (no fork), so $! is the server itself.
nsenter --net="/run/netns/$VNS" python3 "$T/smtp.py" "$T/smtp" >"$T/smtp.log" 2>&1 &
SMTPPID=$!
sed -i "s|^report_command = .*|report_command = /usr/bin/curl -sS --url smtp://127.0.0.1:2525 --mail-from xdpban@example.org --mail-rcpt root@example.org -T -|" "$T/xdpban.conf"
sleep 0.5
ctl "$SOCK" '{"cmd":"reload"}' | grep -q '"ok":true' || fail "reload"
for _ in $(seq 120); do [ -e "$T/smtp/mail.0" ] && break; sleep 0.1; done
[ -e "$T/smtp/mail.0" ] || { grep -i "report" "$T/daemon.log" | tail -5; fail "no mail through curl smtp://"; }
head -1 "$T/smtp/mail.0" | grep -q "X-Envelope: xdpban@example.org root@example.org" || fail "envelope: $(head -3 "$T/smtp/mail.0")"
grep -q "^Subject: xdpban on " "$T/smtp/mail.0" || fail "mail via SMTP: $(cat "$T/smtp/mail.0")"
ok "report_command = curl smtp://...: the report arrived as a mail at the SMTP server"
kill "$SMTPPID"; wait "$SMTPPID" 2>/dev/null; SMTPPID=

# --- unban runs unban_command; then the report command on the database -------------------
xbs unban 10.213.0.2 >/dev/null || fail "unban"
wait_file "$T/sshd-unban.argv"
[ "$(cat "$T/sshd-unban.argv")" = '["10.213.0.2", "sshd"]' ] || fail "unban_command argv: $(cat "$T/sshd-unban.argv")"
ok "unban_command ran"
stop_daemon
grep -iE "sanitizer|runtime error" "$T/daemon.log" && fail "sanitizer errors in the daemon log"

# Known history: what the daemon wrote, plus older events written here.
old=$(( $(date +%s) - 3 * 86400 ))
sqlite3 "$T/state.db" "INSERT INTO ban_events(time, kind, jail, cidr, duration, failures, count, flags)
  VALUES($old, 'ban', 'sip-flood', '192.0.2.50', 600, 0, 1, 2), ($old, 'ban', 'sip-flood', '192.0.2.51', 600, 0, 1, 2)"
out=$("$XB" --pin-dir "$PD" report --db "$T/state.db" --since 1h) || fail "report: $out"
echo "$out" | grep -q "^Bans:      11 (11 addresses or networks; 4 manual, 0 flood)" || fail "report text: $out"
echo "$out" | grep -qE "^Unbanned:  1$" || fail "report unbans: $out"
echo "$out" | grep -qE "^slow +4 " || fail "report jail row: $out"
echo "$out" | grep -qE "^  198\.18\.0\.0/24 +4 bans from 4 sources" || fail "report networks: $out"
ok "xdpban report --since 1h: $(echo "$out" | grep '^Bans:')"
js=$("$XB" --pin-dir "$PD" report --db "$T/state.db" --since 7d --json) || fail "report --json"
python3 - "$js" <<'PY' || fail "report --json: $js"
import json, sys
d = json.loads(sys.argv[1])
t = d["totals"]
assert t["bans"] == 13 and t["flood_bans"] == 2 and t["unbans"] == 1, t
jails = {j["jail"]: j for j in d["jails"]}
assert jails["sshd"]["bans"] == 3 and jails["sshd"]["failures"] == 9, jails["sshd"]
assert jails["slow"]["bans"] == 4 and jails["sip-flood"]["flood_bans"] == 2
assert d["top_networks"][0] == {"network": "198.18.0.0/24", "bans": 4, "sources": 4, "jails": ["slow"]}, d["top_networks"]
assert [f["cidr"] for f in d["top_flood"]] == ["192.0.2.50", "192.0.2.51"], d["top_flood"]
assert d["drops"]["dropped_v4"] > 0, d["drops"]
assert d["active_bans"] == 10, d["active_bans"]
PY
ok "xdpban report --since 7d --json: 13 bans, 2 flood bans (3 days old), valid JSON"
"$XB" report --db "$T/state.db" --since soon >/dev/null 2>&1; [ $? = 2 ] || fail "bad --since should exit 2"
"$XB" report --db "$T/nope.db" >/dev/null 2>&1; [ $? = 1 ] || fail "missing database should exit 1"
ok "report exit codes: 2 for a bad --since, 1 for a missing database"
inns "$VNS" "$XB" --pin-dir "$PD" detach "$VIF" >/dev/null
echo "all ops checks passed"
