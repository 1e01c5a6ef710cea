#!/usr/bin/env python3
"""Benchmark: anomaly_detect end to end on one newly closed day of 10,000
series of two years, against the detection core alone on as many series, in
one run.

A throwaway PostgreSQL 15 gets a FOCUS export of ACCOUNTS billing accounts x
SERVICES services, DAYS days each (deterministic costs: level, weekly
pattern, growth, noise), loaded by billing_ingest. anomaly_detect judges
the last closed day once (--backfill-days 1: the set-up run), then the
month is delivered again with one more day (a new load, as CUR's rewrites
are) and the timed run judges that one new closed day of every series: the
accounts' totals and a service monitor (top_n = SERVICES) per account, the
restatement check over the reloaded month included. The baseline is
anomaly_bench --speed: the same number of evaluations, core only, no
database. Prints both, the ratio, and anomaly_detect's peak RSS (targets:
under 60 s and 100 MB for 10,000 series).

Usage: bench/anomaly_job_bench.py [--accounts 100] [--services 100] [--days 730]
       [--bindir build] [--workdir build/bench]
"""
import argparse
import csv
import json
import math
import os
import random
import subprocess
import sys
import time
from datetime import date, timedelta

from benchlib import ThrowawayPostgres

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLS = ["BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodStart",
        "BillingPeriodEnd", "ChargeCategory", "ChargePeriodStart", "ChargePeriodEnd",
        "BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "ProviderName",
        "ServiceName", "SubAccountId", "RegionId"]
LAST = date(2026, 10, 31)


def sh(*args, env=None, check=True, capture=False):
    return subprocess.run(args, env=env, check=check, text=True,
                          stdout=subprocess.PIPE if capture else None)


def timed(argv, env):
    t0 = time.monotonic()
    r = subprocess.run(argv, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - t0
    if r.returncode not in (0, 99):
        sys.exit(f"{argv} failed with {r.returncode}:\n{r.stderr[-3000:]}")
    return seconds, r.stdout, r.stderr


def month_start(d):
    return date(d.year, d.month, 1)


def next_month(d):
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)


def write_focus(path, accounts, services, origin, first, last):
    """Days first..last of the series that start on origin."""
    rnd = random.Random(42)
    shape = [[(math.exp(rnd.uniform(math.log(20), math.log(2000))), rnd.uniform(0.6, 1.0),
               rnd.uniform(0.02, 0.06)) for _ in range(services)] for _ in range(accounts)]
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(COLS)
        d = first
        while d <= last:
            k = (d - origin).days
            p0, p1 = month_start(d), next_month(d)
            ts, te = f"{d} 00:00:00", f"{d + timedelta(days=1)} 00:00:00"
            weekend = d.weekday() >= 5
            for a in range(accounts):
                for s in range(services):
                    level, wk, noise = shape[a][s]
                    v = level * (wk if weekend else 1) * (1 + 0.0005 * k)
                    v *= 1 + noise * (((k * 7919 + a * 104729 + s * 1299709) % 2001) / 1000 - 1)
                    c = f"{v:.2f}"
                    w.writerow([f"acct{a:04d}", "n", "USD", f"{p0} 00:00:00", f"{p1} 00:00:00",
                                "Usage", ts, te, c, c, c, c, "Acme", f"svc{s:03d}",
                                f"sub{a:04d}", "us-east-1"])
            d += timedelta(days=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=100)
    ap.add_argument("--services", type=int, default=100)
    ap.add_argument("--days", type=int, default=730)
    ap.add_argument("--bindir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--workdir", default=os.path.join(ROOT, "build", "bench"))
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    b = {n: os.path.join(args.bindir, n) for n in ("finops_migrate", "billing_ingest",
                                                    "anomaly_detect", "anomaly_bench")}
    for p in b.values():
        if not os.access(p, os.X_OK):
            sys.exit(f"{p} is missing: build first (cmake --build {args.bindir})")
    series = args.accounts * (args.services + 1)
    first = LAST - timedelta(days=args.days - 1)
    # the history to 10-29 (the set-up run judges 10-27), then October again to 10-30
    hist = os.path.join(args.workdir, f"anom-{args.accounts}x{args.services}x{args.days}.csv")
    if not os.path.exists(hist):
        print(f"writing {hist} ...", file=sys.stderr)
        write_focus(hist + ".tmp", args.accounts, args.services, first, first,
                    LAST - timedelta(days=2))
        os.rename(hist + ".tmp", hist)
    more = os.path.join(args.workdir, f"anom-{args.accounts}x{args.services}-oct.csv")
    write_focus(more, args.accounts, args.services, first, month_start(LAST),
                LAST - timedelta(days=1))
    monitors = os.path.join(args.workdir, "anom-monitors.json")
    with open(monitors, "w") as f:
        json.dump({"monitors": [{"name": "accounts", "dimension": "billing_account"},
                                {"name": "services", "dimension": "service",
                                 "top_n": args.services}]}, f)

    pg = ThrowawayPostgres(args.bindir, "fo-bench.")
    env = pg.env
    env["FINOPS_LOG_LEVEL"] = "warn"
    env.pop("FINOPS_LOG_FORMAT", None)
    try:
        t, _, _ = timed([b["billing_ingest"], "--report-name", "bench", hist], env)
        print(f"loaded {args.accounts * args.services * (args.days - 2):,} rows in {t:.0f} s",
              file=sys.stderr)
        t, _, _ = timed([b["anomaly_detect"], "--monitors", monitors, "--backfill-days", "1",
                         "--no-notify"], env)
        print(f"set-up run (one day of {series} series): {t:.1f} s", file=sys.stderr)
        sh(b["billing_ingest"], "--report-name", "bench", more, env=env)
        # the timed run, under /usr/bin/time for its peak RSS
        t0 = time.monotonic()
        r = subprocess.run(["/usr/bin/time", "-f", "%M", b["anomaly_detect"], "--monitors",
                            monitors, "--no-notify", "--log-format", "json",
                            "--log-level", "info"], env=env, capture_output=True, text=True)
        job_s = time.monotonic() - t0
        if r.returncode != 0:
            sys.exit(f"anomaly_detect failed with {r.returncode}:\n{r.stderr[-3000:]}")
        rss_mb = int(r.stderr.strip().splitlines()[-1]) / 1024
        summary = [json.loads(x)["msg"] for x in r.stderr.splitlines()
                   if x.startswith("{") and "summary:" in x][0]
        t0 = time.monotonic()
        core = sh(b["anomaly_bench"], "--series", "0", "--days", str(args.days), "--speed",
                  str(series), capture=True, env=dict(env, BENCH_ONE_LEVEL="1")).stdout
        core_s = time.monotonic() - t0
    finally:
        pg.stop()
    print(f"\nanomaly_detect, one newly closed day of {series:,} series of {args.days} days"
          f" ({args.accounts} accounts x {args.services} services + the accounts' totals),"
          f" {os.cpu_count()} cores")
    print(f"  {summary}")
    print(f"  anomaly_detect (PostgreSQL, restatement check, records): {job_s:6.1f} s,"
          f" peak RSS {rss_mb:.1f} MB")
    print(f"  core alone (anomaly_bench --speed {series}):              {core_s:6.1f} s")
    print(f"  ratio job / core: {job_s / core_s:.2f}")
    print("  " + core.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
