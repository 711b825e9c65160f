#!/usr/bin/env python3
"""bench_filter.py - xdpban test-filter vs fail2ban-regex on the same generated logs.

Generates the deterministic workload with genlog.py (2M lines: auth.log,
mail.log, asterisk.log + ground_truth.json), extracts Debian's fail2ban package
(tools/fetch-fail2ban.sh, never installed), then runs both tools on the same
files with the same filter files (fail2ban's stock filter.d) and prints lines per
CPU-second, wall time, peak RSS and hosts found vs the ground truth, with ratios.
With --ours it adds rows for xdpban's own deploy/filter.d filters.
Not a ctest test: run it by hand on an idle machine.

--f2b-record FILE is for iterating on xdpban only: fail2ban-regex's figures are
measured once per (log, filter) and read back from FILE on later runs (rows
marked "(recorded)"). Published numbers come from one run without it, both
tools side by side.
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))

JOBS = [  # (jail in ground_truth.json, log file, filter argument)
    ("sshd", "auth.log", "sshd"),
    ("postfix-sasl", "mail.log", "postfix[mode=auth]"),
    ("dovecot", "mail.log", "dovecot"),
    ("asterisk", "asterisk.log", "asterisk"),
]
GOAL_FLOOR = 50  # xdpban must do the same work on >= 50x fewer CPU-seconds
OUR_FILTERS = {"sshd": "sshd", "postfix-sasl": "postfix-sasl", "dovecot": "dovecot", "asterisk": "asterisk"}


def measured_rss(cmd, env=None):
    """Runs cmd in a child that reports its own child's rusage: (stdout, wall, cpu, rss MiB)."""
    helper = (
        "import os,sys,json,subprocess,time,resource\n"
        "cmd=json.loads(sys.argv[1])\n"
        "t=time.monotonic()\n"
        "p=subprocess.Popen(cmd,stdout=open(sys.argv[2],'wb'),stderr=subprocess.PIPE)\n"
        "err=p.stderr.read()\n"
        "_,status,ru=os.wait4(p.pid,0)\n"
        "w=time.monotonic()-t\n"
        "print(json.dumps({'wall':w,'cpu':ru.ru_utime+ru.ru_stime,'rss':ru.ru_maxrss/1024,"
        "'status':os.waitstatus_to_exitcode(status),'err':err.decode(errors='replace')[-2000:]}))\n"
    )
    out_path = "/tmp/bench_filter_out.%d" % os.getpid()
    res = subprocess.run([sys.executable, "-c", helper, json.dumps(cmd), out_path], env=env,
                         capture_output=True, check=True)
    info = json.loads(res.stdout)
    with open(out_path) as f:
        out = f.read()
    os.unlink(out_path)
    if info["status"] != 0:
        sys.exit("command failed (%d): %s\n%s" % (info["status"], " ".join(cmd), info["err"]))
    return out, info["wall"], info["cpu"], info["rss"]


def count_lines(path):
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--size", default="large", choices=["large", "small"])
    ap.add_argument("--work", default=os.path.join(REPO, "build-filter-rel", "bench"),
                    help="work directory (generated logs, extracted fail2ban)")
    ap.add_argument("--xdpban", default=os.path.join(REPO, "build-filter-rel", "src", "cli", "xdpban"),
                    help="xdpban binary (use a non-sanitized build)")
    ap.add_argument("--genlog", default="/work/shared/bench/genlog.py")
    ap.add_argument("--ours", action="store_true", help="also run xdpban with deploy/filter.d")
    ap.add_argument("--only", action="append", help="jail(s) to run (default: all)")
    ap.add_argument("--f2b-record", metavar="FILE",
                    help="reuse fail2ban-regex figures recorded in FILE (measured and added when missing); "
                         "for iteration only, not for published numbers")
    args = ap.parse_args()

    data = os.path.join(args.work, "logs-%s-%d" % (args.size, args.seed))
    if not os.path.exists(os.path.join(data, "ground_truth.json")):
        os.makedirs(data, exist_ok=True)
        subprocess.run([sys.executable, args.genlog, "--size", args.size, "--seed", str(args.seed),
                        "--out", data], check=True, stdout=subprocess.DEVNULL)
    f2b = os.path.join(args.work, "fail2ban-deb")
    subprocess.run([os.path.join(REPO, "tools", "fetch-fail2ban.sh"), f2b], check=True)
    f2b_filters = os.path.join(f2b, "etc", "fail2ban", "filter.d")
    truth = json.load(open(os.path.join(data, "ground_truth.json")))

    env = dict(os.environ, TZ="UTC")  # genlog writes UTC time stamps
    f2b_env = dict(env, PYTHONPATH=os.path.join(f2b, "usr", "lib", "python3", "dist-packages"))
    recorded = {}
    if args.f2b_record and os.path.exists(args.f2b_record):
        recorded = json.load(open(args.f2b_record))
    rows = []
    for jail, logname, flt in JOBS:
        if args.only and jail not in args.only:
            continue
        log = os.path.join(data, logname)
        lines = count_lines(log)
        jt = truth["jails"][jail]
        want = set(jt["per_ip"].keys())
        decoys = set(jt.get("must_not_ban_decoys", []))

        def score(hosts):
            return (len(hosts & want), len(want - hosts), len(hosts - want), len(hosts & decoys))

        runs = []
        out, wall, cpu, rss = measured_rss(
            [args.xdpban, "test-filter", "--json", "--filter-dir", f2b_filters, log, flt], env)
        hosts = set(json.loads(out)["hosts"].keys())
        runs.append(("xdpban", flt, wall, cpu, rss, score(hosts)))
        if args.ours:
            ours = OUR_FILTERS[jail]
            out, wall, cpu, rss = measured_rss(
                [args.xdpban, "test-filter", "--json", "--filter-dir", os.path.join(REPO, "deploy", "filter.d"),
                 log, ours], env)
            hosts = set(json.loads(out)["hosts"].keys())
            runs.append(("xdpban", "ours:" + ours, wall, cpu, rss, score(hosts)))
        key = "%s %s %d" % (log, flt, os.path.getsize(log))
        if key in recorded:
            r = recorded[key]
            runs.append(("fail2ban-regex", flt + " (recorded)", r["wall"], r["cpu"], r["rss"], tuple(r["score"])))
        else:
            out, wall, cpu, rss = measured_rss(
                [sys.executable, os.path.join(f2b, "usr", "bin", "fail2ban-regex"), "-c",
                 os.path.join(f2b, "etc", "fail2ban"), "-r", "-o", "ip", log, flt], f2b_env)
            hosts = set(l.strip() for l in out.splitlines() if l.strip())
            runs.append(("fail2ban-regex", flt, wall, cpu, rss, score(hosts)))
            if args.f2b_record:
                recorded[key] = {"wall": wall, "cpu": cpu, "rss": rss, "score": score(hosts)}
                with open(args.f2b_record, "w") as f:
                    json.dump(recorded, f, indent=1)
        rows.append((jail, logname, lines, len(want), runs))

    hdr = "%-13s %-22s %-16s %9s %12s %8s %9s %8s %22s %7s" % (
        "jail", "filter", "tool", "lines", "lines/cpu-s", "wall s", "RSS MiB", "cpu x", "hosts ok/miss/extra", "decoys")
    print("workload: genlog.py --size %s --seed %d (%s)" % (args.size, args.seed, data))
    print(hdr)
    print("-" * len(hdr))
    for jail, logname, lines, nwant, runs in rows:
        base = [r for r in runs if r[0] == "fail2ban-regex"][0]
        base_rate = lines / base[3]
        for tool, flt, wall, cpu, rss, (ok, miss, extra, dec) in runs:
            rate = lines / cpu
            print("%-13s %-22s %-16s %9d %12.0f %8.2f %9.1f %8s %22s %7d" % (
                jail, flt, tool, lines, rate, wall, rss,
                "1.0" if tool == "fail2ban-regex" else "%.1f" % (rate / base_rate),
                "%d/%d/%d of %d" % (ok, miss, extra, nwant), dec))
    # One line per jail, for scripts: xdpban (stock filter) against fail2ban-regex.
    for jail, logname, lines, nwant, runs in rows:
        base = [r for r in runs if r[0] == "fail2ban-regex"][0]
        ours = [r for r in runs if r[0] == "xdpban"][0]
        ratio = base[3] / ours[3]  # same lines: the CPU-time ratio is the rate ratio
        print("goal: %s %.1fx fail2ban-regex (floor %dx): %s" % (
            jail, ratio, GOAL_FLOOR, "met" if ratio >= GOAL_FLOOR else "NOT met"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
