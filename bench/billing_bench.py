#!/usr/bin/env python3
"""Benchmark: billing_ingest against the COPY floor, side by side in one run.

For each size, a deterministic legacy CUR file from gen_cur (cached under the
work directory) is loaded into a throwaway PostgreSQL 15 by:
  floor: zcat FILE | psql -c "\\copy raw FROM STDIN (FORMAT csv, HEADER)"
         into an all-text table of the file's columns (the reference of
         ../shared/notes/bulk-load.md), and
  ours:  billing_ingest --force FILE (parse, check, map, COPY, reconcile,
         swap the partition, commit),
alternating floor/ours for each repeat, with a CHECKPOINT before each run.
After each of ours, the rows it loaded are written to a binary file on the
server and timed as
  limit: COPY t FROM 'file' (FORMAT binary) into a fresh table like
         finops.billing_line_items, no index: the server's own work for the
         same typed rows, with no client, no index and no checks.
It prints wall times, rows per second, the ratios ours/floor and
limit/floor, billing_ingest's own CPU seconds (the server's are not in
them) and its peak RSS (target < 64 MB, the same at
every size). The limit's file is as large as the rows (about 1 GB a
million) and lives in the throwaway cluster's directory.

Usage: bench/billing_bench.py [--rows 1000000 10000000] [--repeat 1]
       [--bindir build] [--workdir build/bench]
"""
import argparse
import gzip
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sh(*args, env=None, check=True, capture=False):
    return subprocess.run(args, env=env, check=check, text=True,
                          stdout=subprocess.PIPE if capture else None)


def timed(argv, env, shell=False):
    """Runs a command; returns (seconds, peak RSS in MB of the process or pipeline,
    its CPU seconds, user and system)."""
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, env=env, shell=shell, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - t0
    err = proc.stderr.read().decode()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"{argv} failed with {code}:\n{err[-3000:]}")
    return seconds, usage.ru_maxrss / 1024.0, usage.ru_utime + usage.ru_stime


def psql(env, sql):
    return sh("psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql, env=env,
              capture=True).stdout.strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--bindir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--workdir", default=os.path.join(ROOT, "build", "bench"))
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)

    gen = os.path.join(args.bindir, "gen_cur")
    ingest = os.path.join(args.bindir, "billing_ingest")
    migrate = os.path.join(args.bindir, "finops_migrate")
    for b in (gen, ingest, migrate):
        if not os.access(b, os.X_OK):
            sys.exit(f"{b} is missing: build first (cmake --build {args.bindir})")
    gen_hash = hashlib.sha256(open(os.path.join(ROOT, "bench", "gen_cur.c"), "rb").read())
    gen_hash = gen_hash.hexdigest()[:8]

    pgdir = tempfile.mkdtemp(prefix="fo-bench.", dir="/tmp")
    pgtmp = os.path.join(ROOT, "tests", "support", "pgtmp.sh")
    env = dict(os.environ)
    for line in sh(pgtmp, "start", pgdir, capture=True).stdout.split():
        if "=" in line:
            k, v = line.split("=", 1)
            env[k] = v
    env["PGDATABASE"] = "bench"
    env["FINOPS_LOG_LEVEL"] = "warn"
    results = []
    try:
        sh("createdb", "bench", env=env)
        sh(migrate, env=env)
        version = psql(env, "SHOW server_version")
        for rows in args.rows:
            path = os.path.join(args.workdir, f"cur-{rows}-{args.seed}-{gen_hash}.csv.gz")
            if not os.path.exists(path):
                print(f"generating {rows} rows into {path} ...", file=sys.stderr)
                sh(gen, str(rows), str(args.seed), path + ".tmp")
                os.rename(path + ".tmp", path)
            with gzip.open(path, "rt") as f:
                header = f.readline().rstrip("\n").split(",")
            cols = ", ".join('"%s" text' % h.replace('"', '""') for h in header)
            floor_t, ours_t, ours_rss, ours_cpu, limit_t = [], [], [], [], []
            dump = os.path.join(pgdir, "limit.bin")
            for _ in range(args.repeat):
                psql(env, f"DROP TABLE IF EXISTS raw; CREATE TABLE raw ({cols}); CHECKPOINT")
                t, _, _ = timed(f"zcat '{path}' | psql -X -q -c "
                             f"\"\\copy raw FROM STDIN (FORMAT csv, HEADER)\"", env, shell=True)
                floor_t.append(t)
                assert psql(env, "SELECT count(*) FROM raw") == str(rows)
                psql(env, "DROP TABLE raw; CHECKPOINT")
                t, rss, cpu = timed([ingest, "--force", path], env)
                ours_t.append(t)
                ours_rss.append(rss)
                ours_cpu.append(cpu)
                assert psql(env, "SELECT count(*) FROM finops.billing_line_items") == str(rows)
                psql(env, f"COPY (SELECT * FROM finops.billing_line_items) TO '{dump}'"
                          " (FORMAT binary); DROP TABLE IF EXISTS limit_rows;"
                          " CREATE TABLE limit_rows (LIKE finops.billing_line_items); CHECKPOINT")
                t, _, _ = timed(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
                              f"COPY limit_rows FROM '{dump}' (FORMAT binary)"], env)
                limit_t.append(t)
                psql(env, "DROP TABLE limit_rows; CHECKPOINT")
                os.unlink(dump)
            f, o = statistics.median(floor_t), statistics.median(ours_t)
            lim = statistics.median(limit_t)
            results.append((rows, f, o, o / f, max(ours_rss), os.path.getsize(path), lim,
                            statistics.median(ours_cpu)))
    finally:
        sh(pgtmp, "stop", pgdir, check=False)
        shutil.rmtree(pgdir, ignore_errors=True)

    print(f"\nbilling_ingest vs COPY floor, PostgreSQL {version}, {os.cpu_count()} cores,"
          f" median of {args.repeat} run(s) each")
    print(f"{'rows':>10} {'gz MB':>7} {'floor s':>8} {'ours s':>8} {'floor rows/s':>13}"
          f" {'ours rows/s':>12} {'ratio':>6} {'limit s':>8} {'limit/floor':>12}"
          f" {'ours CPU s':>11} {'ours peak RSS MB':>17}")
    for rows, f, o, ratio, rss, size, lim, cpu in results:
        print(f"{rows:>10} {size / 1e6:>7.0f} {f:>8.1f} {o:>8.1f} {rows / f:>13.0f}"
              f" {rows / o:>12.0f} {ratio:>6.2f} {lim:>8.1f} {lim / f:>12.2f} {cpu:>11.1f}"
              f" {rss:>17.1f}")


if __name__ == "__main__":
    main()
