#!/usr/bin/env python3
"""Benchmark: the client instructions of billing_ingest and usage_ingest in
two builds, side by side in one run, under valgrind's callgrind.

Instruction counts repeat to the instruction for the same binary, input and
environment, whatever else the machine is doing, where wall times on a
shared 2-core machine vary by 10-15% from run to run: this is the benchmark
for a change that must not change speed (a refactor), reported as a ratio
new/base. Only the client is counted; the server's work is the same SQL.

  billing_ingest --force on a gen_cur file of --billing-rows rows (legacy CUR)
  usage_ingest on gen_metric_stream output of --usage-size instances x days

Usage: bench/instructions.py BASE_BINDIR NEW_BINDIR [--billing-rows 100000]
       [--usage-size 100x1] [--workdir build/bench]
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

from benchlib import ROOT, ThrowawayPostgres


def callgrind(argv, env, stdin=None):
    """Runs argv under callgrind; returns its instruction count (Ir)."""
    with tempfile.NamedTemporaryFile(prefix="fo-cg.", dir="/tmp") as out:
        proc = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out.name}",
                               *argv], env=env, stdin=stdin, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            sys.exit(f"{argv[0]} failed under callgrind:\n{proc.stderr[-3000:]}")
        m = re.search(r"Collected : (\d+)", proc.stderr) or \
            re.search(r"refs:\s+([\d,]+)", proc.stderr)
        if not m:
            sys.exit(f"no instruction count in callgrind's output:\n{proc.stderr[-2000:]}")
        return int(m.group(1).replace(",", ""))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("new")
    ap.add_argument("--billing-rows", type=int, default=100000)
    ap.add_argument("--usage-size", default="100x1")
    ap.add_argument("--workdir", default=os.path.join(ROOT, "build", "bench"))
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    cur = os.path.join(args.workdir, f"instr-cur-{args.billing_rows}.csv.gz")
    if not os.path.exists(cur):
        subprocess.run([os.path.join(args.new, "gen_cur"), str(args.billing_rows), "42", cur],
                       check=True)
    inst, days = (int(x) for x in args.usage_size.split("x"))
    stream = os.path.join(args.workdir, f"instr-stream-{inst}x{days}.json")
    if not os.path.exists(stream):
        with open(stream, "w") as f:
            subprocess.run([os.path.join(args.new, "gen_metric_stream"), str(inst), str(days)],
                           stdout=f, check=True)
    rows = []
    for label, bindir in (("base", args.base), ("new", args.new)):
        pg = ThrowawayPostgres(bindir, "fo-ibench.")
        try:
            env = dict(pg.env, FINOPS_LOG_FORMAT="json", FINOPS_LOG_LEVEL="warn")
            billing = callgrind([os.path.join(bindir, "billing_ingest"), "--force", cur], env)
            usage = callgrind([os.path.join(bindir, "usage_ingest"), "--start",
                               "2026-10-01T00:00:00Z", "--end",
                               f"2026-10-{1 + days:02d}T00:00:00Z", stream], env)
        finally:
            pg.stop()
        rows.append((label, billing, usage))
    print(f"\nclient instructions (callgrind Ir): billing_ingest on {args.billing_rows} rows,"
          f" usage_ingest on {inst}x{days}")
    print(f"{'build':>6} {'billing_ingest':>16} {'usage_ingest':>16}")
    for label, b, u in rows:
        print(f"{label:>6} {b:>16,} {u:>16,}")
    (_, b0, u0), (_, b1, u1) = rows
    print(f"{'ratio':>6} {b1 / b0:>16.4f} {u1 / u0:>16.4f}")


if __name__ == "__main__":
    main()
