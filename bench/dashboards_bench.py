#!/usr/bin/env python3
"""Benchmark: every SQL panel of the Grafana dashboards at scale, on the daily
aggregate against the line items, side by side in one run.

A throwaway PostgreSQL 15 gets a month of gen_cur line items (10,000,000 by
default) through billing_ingest, which keeps finops.billing_daily and
billing_daily_tags in the load's transaction; then forecast_train and
anomaly_detect run on it, as Airflow would. Each SQL panel of
deploy/grafana/dashboards is expanded as Grafana does (tests/cli/grafana.py:
variables from their queries, macros over the data's month) and timed in one
psql session (\\timing, rows discarded), alternating
  ours: the panel as shipped (the aggregate), and
  scan: the same panel with finops.billing_daily, billing_daily_tags and
        forecast_actuals replaced by views computing them from the line items
        (what the panels would have to read without the aggregate),
--repeat times each (the scans --scan-repeat times, default once: they take
tens of seconds each at 10 million rows); it prints the median of each, their
ratio (scan/ours) and
the slowest panel (target: every panel under 500 ms). Panels reading views
that read the aggregate inside (finops.kpi_*, forecast_errors) are the same
SQL both ways: their scan column says "same".

Usage: bench/dashboards_bench.py [--rows 10000000] [--repeat 5] [--scan-repeat 1]
       [--bindir build] [--workdir build/bench]
"""
import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
sys.path.insert(0, os.path.join(ROOT, "tests", "cli"))
from benchlib import ThrowawayPostgres  # noqa: E402
from grafana import expand_macros, interpolate  # noqa: E402

SCAN_VIEWS = """
CREATE SCHEMA bench_scan;
CREATE VIEW bench_scan.billing_daily AS
SELECT billing_period, source_id, (charge_period_start AT TIME ZONE 'UTC')::date AS usage_date,
       CASE WHEN charge_period_end > charge_period_start + interval '1 day'
            THEN ((charge_period_end - interval '1 microsecond') AT TIME ZONE 'UTC')::date
            ELSE (charge_period_start AT TIME ZONE 'UTC')::date END AS last_day,
       billing_account_id, sub_account_id, service_name, region_id, charge_category,
       billing_currency, count(*) AS line_items, sum(billed_cost) AS billed_cost,
       sum(effective_cost) AS effective_cost, sum(list_cost) AS list_cost
  FROM finops.billing_line_items GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10;
CREATE VIEW bench_scan.billing_daily_tags AS
SELECT billing_period, source_id, (charge_period_start AT TIME ZONE 'UTC')::date AS usage_date,
       billing_account_id, billing_currency, t.key AS tag_key, t.value AS tag_value,
       count(*) AS line_items, sum(billed_cost) AS billed_cost, sum(effective_cost) AS effective_cost
  FROM finops.billing_line_items, jsonb_each_text(tags) AS t(key, value)
 GROUP BY 1, 2, 3, 4, 5, 6, 7;
"""
SCANNED = ("finops.billing_daily_tags", "finops.billing_daily", "finops.forecast_actuals")


def old_forecast_actuals():
    """bench_scan.forecast_actuals: migration 0011's view, which read the line items."""
    import re
    text = open(os.path.join(ROOT, "sql", "migrations",
                             "0011_forecast_actuals_spread_charges.sql")).read()
    body = re.search(r"CREATE OR REPLACE VIEW finops.forecast_actuals AS\n(.*?);\n", text, re.S)
    return "CREATE VIEW bench_scan.forecast_actuals AS\n" + body.group(1) + ";"


def sh(args, env, capture=False):
    return subprocess.run(args, env=env, check=True, text=True,
                          stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                          stderr=subprocess.PIPE if capture else None)


def psql(env, sql):
    return subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                          env=env, check=True, text=True, stdout=subprocess.PIPE).stdout.strip()


def timed_job(env, argv):
    t0 = time.monotonic()
    proc = subprocess.run(argv, env=env, text=True, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
    return time.monotonic() - t0, proc.returncode


def variable_values(env, board):
    values, multi = {}, set()
    for v in board["templating"]["list"]:
        if v["type"] == "custom":
            values[v["name"]] = v["current"]["value"]
            continue
        options = [x for x in psql(env, interpolate(v["query"], values, multi)).splitlines() if x]
        cur = v.get("current", {}).get("value")
        if v.get("includeAll") and cur in (["$__all"], "$__all"):
            values[v["name"]] = options
        else:
            values[v["name"]] = cur if cur in options else (options[0] if options else "")
        if v.get("multi") or v.get("includeAll"):
            multi.add(v["name"])
    return values, multi


def time_queries(env, queries, repeat):
    """Median milliseconds of each query, run repeat times, all in one session."""
    script = ["\\timing on", "\\o /dev/null", "SET statement_timeout = '120s';"]
    for _ in range(repeat):
        for q in queries:
            script.append(q.rstrip().rstrip(";") + ";")
    out = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"], input="\n".join(script),
                         env=env, check=True, text=True, stdout=subprocess.PIPE).stdout
    times = [float(line.split()[1]) for line in out.splitlines() if line.startswith("Time: ")]
    times = times[1:]                                    # the SET
    assert len(times) == repeat * len(queries), out[-2000:]
    return [statistics.median(times[i::len(queries)]) for i in range(len(queries))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--scan-repeat", type=int, default=1)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--bindir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--workdir", default=os.path.join(ROOT, "build", "bench"))
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    gen_hash = hashlib.sha256(open(os.path.join(ROOT, "bench", "gen_cur.c"), "rb").read())
    path = os.path.join(args.workdir, f"cur-{args.rows}-{args.seed}-{gen_hash.hexdigest()[:8]}.csv.gz")
    if not os.path.exists(path):
        print(f"generating {args.rows} rows into {path} ...", file=sys.stderr)
        subprocess.run([os.path.join(args.bindir, "gen_cur"), str(args.rows), str(args.seed),
                        path + ".tmp"], check=True)
        os.rename(path + ".tmp", path)

    pg = ThrowawayPostgres(args.bindir, "fo-dash-bench.")
    env = dict(pg.env, FINOPS_LOG_LEVEL="warn")
    try:
        load_s, code = timed_job(env, [os.path.join(args.bindir, "billing_ingest"), path])
        assert code == 0, "billing_ingest failed"
        jobs = {}
        for job in ("forecast_train", "anomaly_detect"):
            jobs[job] = timed_job(env, [os.path.join(args.bindir, job)])
        # a rightsizing run of the 15th that advised 2,000 instances each the type it
        # runs as (so each counts as applied): what the savings-applied panels look up
        psql(env, """
            INSERT INTO finops.rightsizing_runs (run_id, window_start, window_end, parameters,
                   instances, monthly_saving_list, monthly_saving_effective)
            VALUES (1, '2026-10-01', '2026-10-15', '{}', 2000, 0, 0);
            INSERT INTO finops.rightsizing_recommendations (run_id, instance_id, current_type,
                   recommended_type, finding, hours, cpu_statistic, monthly_saving_list,
                   monthly_saving_effective, reason)
            SELECT 1, resource_id, 'x', instance_type, 'over_provisioned', 336, 'p99.5', 10, 8,
                   'bench'
              FROM (SELECT DISTINCT ON (resource_id) resource_id, instance_type
                      FROM finops.billing_line_items
                     WHERE instance_type IS NOT NULL AND resource_id LIKE 'i-%'
                     ORDER BY resource_id LIMIT 2000) i""")
        psql(env, SCAN_VIEWS + old_forecast_actuals())
        psql(env, "VACUUM ANALYZE")
        items = int(psql(env, "SELECT count(*) FROM finops.billing_line_items"))
        daily = int(psql(env, "SELECT count(*) FROM finops.billing_daily"))
        tags = int(psql(env, "SELECT count(*) FROM finops.billing_daily_tags"))
        first, last = psql(env, "SELECT min(usage_date), max(usage_date) + 1"
                                " FROM finops.billing_daily").split("|")
        frm = datetime.fromisoformat(first).replace(tzinfo=timezone.utc)
        to = datetime.fromisoformat(last).replace(tzinfo=timezone.utc)

        panels = []
        for name in sorted(os.listdir(os.path.join(ROOT, "deploy", "grafana", "dashboards"))):
            board = json.load(open(os.path.join(ROOT, "deploy", "grafana", "dashboards", name)))
            values, multi = variable_values(env, board)
            for p in board["panels"]:
                for t in p["targets"]:
                    if "rawSql" in t:
                        sql = expand_macros(interpolate(t["rawSql"], values, multi), frm, to)
                        scan = sql
                        for v in SCANNED:
                            scan = scan.replace(v, v.replace("finops.", "bench_scan."))
                        panels.append((board["title"], p["title"], sql, scan))
        ours = time_queries(env, [p[2] for p in panels], args.repeat)
        changed = [i for i, p in enumerate(panels) if p[3] != p[2]]
        scans = dict(zip(changed, time_queries(env, [panels[i][3] for i in changed],
                                               args.scan_repeat)))
    finally:
        pg.stop()

    print(f"\nDashboards' SQL panels on {items:,} line items ({daily:,} rows of billing_daily,"
          f" {tags:,} of billing_daily_tags), {os.cpu_count()} cores, median of {args.repeat}"
          f" (scans: of {args.scan_repeat})")
    print(f"billing_ingest (with the aggregates): {load_s:.1f} s;"
          + "".join(f" {j} {s:.1f} s (exit {c});" for j, (s, c) in jobs.items()))
    print(f"{'dashboard':<26} {'panel':<44} {'ours ms':>8} {'scan ms':>9} {'ratio':>7}")
    for i, (board, title, _, _) in enumerate(panels):
        s = scans.get(i)
        print(f"{board:<26} {title[:44]:<44} {ours[i]:>8.1f} "
              + (f"{s:>9.1f} {s / ours[i]:>7.1f}" if s is not None else f"{'same':>9} {'':>7}"))
    worst = max(range(len(panels)), key=lambda i: ours[i])
    print(f"slowest: {panels[worst][0]} / {panels[worst][1]}: {ours[worst]:.1f} ms"
          f" ({'under' if ours[worst] < 500 else 'OVER'} the 500 ms target)")
    if scans:
        print("median ratio scan/ours of the panels that read the aggregate: "
              f"{statistics.median(scans[i] / ours[i] for i in scans):.1f}")


if __name__ == "__main__":
    main()
