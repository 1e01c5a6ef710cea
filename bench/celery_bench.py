#!/usr/bin/env python3
"""Benchmark: the billing DAG on Airflow's CeleryExecutor with one worker and
with two, side by side in one run (issue 20, docs/scaling.md).

UNITS report roots, each one period (2026-10) of a ROWS-row legacy CUR from
gen_cur (distinct seeds, cached under the work directory), are loaded by the
billing DAG (list_units, then one mapped load task per unit) through a real
CeleryExecutor (tests/airflow/celery_cluster.py: Redis, the API server, a
free-running scheduler and DAG processor, workers of one slot each; runs
triggered through the REST API) into a throwaway PostgreSQL 15:
  one: worker-a alone;
  two: worker-a and worker-b (the data database emptied and migrated again).
It prints, for each, the DAG run's wall time (first task start to last task
end), the rows loaded per second, the time spent inside billing_ingest, the
loads per worker, and the ratio of the two throughputs; and checks that both left the same rows (md5 of every line
item id and cost).

Needs the Airflow virtualenv (build/venv-airflow, made by the test command):
  build/venv-airflow/bin/python bench/celery_bench.py [--units 6] [--rows 300000]
"""
import argparse
import gzip
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
sys.path.insert(0, os.path.join(ROOT, "tests", "airflow"))
from benchlib import ThrowawayPostgres  # noqa: E402

TOTALS = ("SELECT count(*) || ' ' || sum(billed_cost) || ' ' || md5(string_agg(line_item_id"
          " || billed_cost, ',' ORDER BY line_item_id, billed_cost))"
          " FROM finops.billing_line_items")


def delivery(workdir, bindir, report, rows, seed):
    """A legacy CUR delivery of 2026-10 as AWS lays it out: returns its report root."""
    root = os.path.join(workdir, "bucket", report)
    period = os.path.join(root, "20261001-20261101")
    assembly = f"asm-{report}-{rows}"
    data = os.path.join(period, assembly, f"{report}-1.csv.gz")
    if not os.path.exists(data):
        os.makedirs(os.path.dirname(data), exist_ok=True)
        subprocess.run([os.path.join(bindir, "gen_cur"), str(rows), str(seed), data + ".tmp"],
                       check=True)
        os.rename(data + ".tmp", data)
    with gzip.open(data, "rt") as f:
        header = f.readline().strip().split(",")
    manifest = {
        "assemblyId": assembly, "account": "111122223333", "reportName": report,
        "billingPeriod": {"start": "20261001T000000.000Z", "end": "20261101T000000.000Z"},
        "bucket": "billing-bucket",
        "reportKeys": [f"{report}/20261001-20261101/{assembly}/{report}-1.csv.gz"],
        "columns": [{"category": c.split("/")[0], "name": c.split("/")[1]} for c in header],
        "compression": "GZIP", "contentType": "text/csv", "charset": "UTF-8",
    }
    with open(os.path.join(period, f"{report}-Manifest.json"), "w") as f:
        json.dump(manifest, f)
    return root


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=6)
    ap.add_argument("--rows", type=int, default=300_000)
    ap.add_argument("--bindir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--workdir", default=os.path.join(ROOT, "build", "bench", "celery"))
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    print(f"generating {args.units} units of {args.rows} rows (cached) ...", file=sys.stderr)
    roots = [delivery(args.workdir, args.bindir, f"payer-{k}", args.rows, 1000 + k)
             for k in range(args.units)]
    pg = ThrowawayPostgres(args.bindir, "fo-cbench.")
    os.environ.update(pg.env)
    from celery_cluster import CeleryCluster

    def psql(db, sql):
        return subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db,
                               "-c", sql], check=True, text=True,
                              stdout=subprocess.PIPE).stdout.strip()

    psql("postgres", "CREATE DATABASE af_meta")
    run_dir = os.path.join(args.workdir, "run")
    subprocess.run(["rm", "-rf", run_dir], check=True)
    os.makedirs(run_dir)
    cluster = CeleryCluster(run_dir, "af_meta", os.path.join(ROOT, "dags"), {
        "FINOPS_BIN_DIR": args.bindir, "FINOPS_DSN": "dbname=bench", "VAULT_ADDR": "",
        "FINOPS_LOG_LEVEL": "warn",
        "AIRFLOW_VAR_FINOPS_CUR_REPORT_ROOTS": json.dumps(roots),
    })
    results = {}
    try:
        cluster.start(workers=("a",))
        cluster.start_scheduler()
        for label, when in (("one", "2026-10-20T12:00:00Z"), ("two", "2026-10-21T12:00:00Z")):
            if label == "two":
                cluster.add_workers(("b",))
                psql("postgres", "DROP DATABASE bench WITH (FORCE)")
                psql("postgres", "CREATE DATABASE bench")
                subprocess.run([os.path.join(args.bindir, "finops_migrate"), "--dsn",
                                "dbname=bench"], check=True, stderr=subprocess.DEVNULL)
            subprocess.run(["psql", "-X", "-q", "-d", "bench", "-c", "CHECKPOINT"], check=True)
            assert cluster.trigger("billing_ingest", when, timeout=3600) == "success"
            span, hosts, states = psql("af_meta", f"""
                SELECT extract(epoch FROM max(end_date) - min(start_date)),
                       string_agg(hostname, ',' ORDER BY hostname) FILTER (WHERE task_id = 'load'),
                       string_agg(DISTINCT state, ',')
                  FROM task_instance WHERE dag_id = 'billing_ingest'
                   AND run_id = (SELECT run_id FROM dag_run WHERE dag_id = 'billing_ingest'
                                  AND logical_date = '{when}'::timestamptz)""").split("|")
            assert states == "success", states
            rows = int(psql("bench", "SELECT count(*) FROM finops.billing_line_items"))
            assert rows == args.units * args.rows, rows
            hosts = hosts.split(",")
            jobs = float(psql("bench", "SELECT extract(epoch FROM sum(finished_at - started_at))"
                                       " FROM finops.job_runs WHERE job = 'billing_ingest'"))
            results[label] = (float(span), jobs, rows, {h: hosts.count(h) for h in set(hosts)},
                              psql("bench", TOTALS))
    finally:
        cluster.stop()
        pg.stop()
    print(f"billing DAG, {args.units} units x {args.rows} rows, CeleryExecutor, one-slot workers")
    print(f"{'workers':>8} {'wall s':>8} {'rows/s':>10} {'in loads s':>11}  loads per worker")
    for label, n in (("one", 1), ("two", 2)):
        span, jobs, rows, per, _ = results[label]
        print(f"{n:>8} {span:8.1f} {rows / span:10.0f} {jobs:11.1f}  {per}")
    print("(wall: the DAG run's first task start to last task end; in loads: the sum of the"
          " billing_ingest runs' own times, finops.job_runs)")
    assert results["one"][4] == results["two"][4], "the two runs left different rows"
    print(f"throughput two/one: {results['one'][0] / results['two'][0]:.2f}"
          f" (same rows: {results['one'][4]})")


if __name__ == "__main__":
    main()
