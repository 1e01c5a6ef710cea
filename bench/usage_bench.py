#!/usr/bin/env python3
"""Benchmark: usage_ingest on CloudWatch Metric Streams lines.

bench/gen_metric_stream writes INSTANCES x DAYS of 5-minute datapoints (CPU,
network in and out, memory for two instances in three) as JSON lines,
time-major as Firehose delivers them, into a pipe that usage_ingest reads
(/dev/stdin), so tens of GB never touch the disk. usage_ingest rolls them up
to hours and upserts them into a throwaway PostgreSQL 15. Prints lines per
second and usage_ingest's peak RSS (bounded: it holds open hours, not the
input).

Usage: bench/usage_bench.py [--size 1000x1 10000x14] [--bindir build]
"""
import argparse
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from benchlib import ThrowawayPostgres  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", nargs="+", default=["1000x1", "10000x14"],
                    help="INSTANCESxDAYS")
    ap.add_argument("--bindir", default=os.path.join(ROOT, "build"))
    args = ap.parse_args()
    gen = os.path.join(args.bindir, "gen_metric_stream")
    tool = os.path.join(args.bindir, "usage_ingest")
    migrate = os.path.join(args.bindir, "finops_migrate")
    for b in (gen, tool, migrate):
        if not os.access(b, os.X_OK):
            sys.exit(f"{b} is missing: build first (cmake --build {args.bindir})")
    pg = ThrowawayPostgres(args.bindir, "fo-ubench.")
    env = pg.env
    env["FINOPS_LOG_FORMAT"] = "json"
    results = []
    try:
        for size in args.size:
            inst, days = (int(x) for x in size.split("x"))
            t0 = time.monotonic()
            g = subprocess.Popen([gen, str(inst), str(days)], stdout=subprocess.PIPE)
            u = subprocess.Popen([tool, "--start", "2026-10-01T00:00:00Z", "--end",
                                  f"2026-10-{1 + days:02d}T00:00:00Z", "/dev/stdin"],
                                 stdin=g.stdout, stderr=subprocess.PIPE, env=env, text=True)
            g.stdout.close()
            _, status, usage = os.wait4(u.pid, 0)
            seconds = time.monotonic() - t0
            g.wait()
            log = u.stderr.read()
            if os.waitstatus_to_exitcode(status) != 0:
                sys.exit(log[-3000:])
            lines = int(log.split('"rows_read":')[1].split(",")[0])
            hours = int(log.split('"rows_written":')[1].split(",")[0])
            results.append((inst, days, lines, hours, seconds, usage.ru_maxrss / 1024.0,
                            usage.ru_utime + usage.ru_stime))
    finally:
        pg.stop()
    print(f"\nusage_ingest on metric-stream lines through a pipe, {os.cpu_count()} cores")
    print(f"{'instances':>9} {'days':>4} {'lines':>11} {'inst-hours':>10} {'seconds':>8}"
          f" {'lines/s':>9} {'CPU s':>7} {'peak RSS MB':>11}")
    for inst, days, lines, hours, s, rss, cpu in results:
        print(f"{inst:>9} {days:>4} {lines:>11} {hours:>10} {s:>8.1f} {lines / s:>9.0f}"
              f" {cpu:>7.1f} {rss:>11.1f}")


if __name__ == "__main__":
    main()
