#!/bin/sh
# real_logs_cli.sh XDPBAN FAIL2BAN_ROOT REAL_LOGS_DIR - every "LOG|FILTER" pair
# of REAL_LOGS_DIR/expected.json through `xdpban test-filter --json` with
# fail2ban's stock filters; the per-host counts must equal fail2ban 1.0.2's.
# Also checks that an unterminated last line is not counted (fail2ban's file
# reader and xdpband's tailer wait for its newline).
set -eu
xdpban=${1:?usage: real_logs_cli.sh XDPBAN FAIL2BAN_ROOT REAL_LOGS_DIR}
root=${2:?}
dir=${3:?}
here=$(cd "$(dirname "$0")" && pwd)
"$here/../../tools/fetch-fail2ban.sh" "$root" >&2
filters="$root/etc/fail2ban/filter.d"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A failing sshd line, appended without its newline.
cp "$dir/crowdsec-hub-sshd.log" "$tmp/unterminated.log"
grep -m1 'Failed password for' "$dir/crowdsec-hub-sshd.log" | tr -d '\n' >> "$tmp/unterminated.log"

python3 - "$xdpban" "$filters" "$dir" "$tmp/unterminated.log" <<'PY'
import json, subprocess, sys
xdpban, filters, d, unterminated = sys.argv[1:]
expected = json.load(open(d + "/expected.json"))
def counts(log, flt):
    out = subprocess.run([xdpban, "test-filter", "--json", "--filter-dir", filters, log, flt],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)["hosts"]
bad = 0
for pair, want in expected.items():
    log, flt = pair.split("|", 1)
    got = counts(d + "/" + log, flt)
    ok = got == want
    bad += not ok
    print(("agree    " if ok else "disagree ") + pair)
    for h in sorted(set(got) | set(want)):
        if got.get(h, 0) != want.get(h, 0):
            print("    %s: fail2ban %d, xdpban test-filter %d" % (h, want.get(h, 0), got.get(h, 0)))
pair = "crowdsec-hub-sshd.log|sshd"
got = counts(unterminated, "sshd")
ok = got == expected[pair]
bad += not ok
print(("agree    " if ok else "disagree ") + pair + " with an unterminated failing last line")
print("%d/%d checks agree" % (len(expected) + 1 - bad, len(expected) + 1))
sys.exit(1 if bad else 0)
PY
