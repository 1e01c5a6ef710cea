"""The billing and usage DAGs on Airflow's CeleryExecutor with two workers (issue 20):
Redis from Debian's packages as the broker, the throwaway PostgreSQL as the
metadata database and the result backend, Airflow's API server, a free-running
scheduler and DAG processor, and two Celery workers of one slot each, all on
127.0.0.1, started and stopped here (tests/airflow/celery_cluster.py). Runs are
triggered through the REST API with fixed logical dates (the scheduler starts
none of its own). Six report roots give six mapped billing loads, and four
usage shards four mapped usage loads; the loads must run on both workers, and
the tables must equal those of one serial billing_ingest and one unsharded
usage_ingest."""
import calendar
import json
import os
import shutil
import subprocess
import uuid

import pytest

from celery_cluster import CeleryCluster
from test_dags import BIN, DAGS, psql

TOTALS = ("SELECT count(*) || ' ' || sum(billed_cost) || ' ' || md5(string_agg(line_item_id"
          " || resource_id || billed_cost, ',' ORDER BY line_item_id, resource_id)) || ' / '"
          " || (SELECT string_agg(s.report_name || ':' || l.rows_loaded, ',' ORDER BY"
          " s.report_name) FROM finops.billing_loads l JOIN finops.billing_sources s"
          " USING (source_id)) FROM finops.billing_line_items")

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None,
                                reason="redis-server is missing (scripts/setup-debian.sh"
                                       " installs Debian's redis-server)")

USAGE = ("SELECT md5(string_agg(instance_id || hour || cpu_avg || cpu_max || sample_count, ','"
         " ORDER BY instance_id, hour)) || ' ' || count(*) FROM finops.instance_usage_hourly")


def metric_streams(root):
    """Firehose's folders of 2026-11-03 03:00 and 04:00: 90 instances' minutes of 03:00 (what
    the run of the interval ending 05:00 loads: the hour before its interval)."""
    from test_usage_cli import record, write_lines

    h0 = calendar.timegm((2026, 11, 3, 3, 0, 0))
    for folder in ("03", "04"):
        os.makedirs(os.path.join(root, "2026", "11", "03", folder))
    recs = [record(f"i-0{n:016x}", "CPUUtilization", h0 + m * 60, 1.0 + n % 50 + m / 60,
                   mx=60.0) for n in range(90) for m in range(0, 60, 5)]
    from pathlib import Path
    write_lines(Path(root, "2026", "11", "03", "03", "part.json"), recs)


def ran_on(meta, dag_id):
    rows = psql(meta, "SELECT string_agg(task_id || ':' || state || ':' || hostname, ','"
                      f" ORDER BY task_id, map_index) FROM task_instance WHERE dag_id = '{dag_id}'"
                ).split(",")
    return [x for x in rows if x.startswith("load:")], rows


def test_billing_and_usage_fan_out_on_two_celery_workers(tmp_path):
    from curfixtures import legacy_row, write_legacy_delivery

    meta = "af_celery_" + uuid.uuid4().hex[:8]
    data = "fo_celery_" + uuid.uuid4().hex[:8]
    serial = "fo_serial_" + uuid.uuid4().hex[:8]
    for d in (meta, data, serial):
        psql("postgres", f"CREATE DATABASE {d}")
    roots = []
    for k in range(6):
        report = f"payer-{k}"
        write_legacy_delivery(str(tmp_path / "bucket"), report, "2026-11", f"asm-{report}",
                              [[legacy_row(100 * k + i, period="2026-11")
                                for i in range(20 + k)]])
        roots.append(str(tmp_path / "bucket" / report))
    cluster = CeleryCluster(str(tmp_path), meta, DAGS, {
        # what a worker needs (deploy/celery/README.md): the binaries, the database
        # (here FINOPS_DSN; in production VAULT_ADDR and the AppRole), the Variables
        "FINOPS_BIN_DIR": BIN,
        "FINOPS_DSN": f"dbname={data}",
        "VAULT_ADDR": "",
        "AIRFLOW_VAR_FINOPS_CUR_REPORT_ROOTS": json.dumps(roots),
        "AIRFLOW_VAR_FINOPS_USAGE_SHARDS": "4",
        "AIRFLOW_VAR_FINOPS_METRIC_STREAM_PREFIX": str(tmp_path / "streams"),
    })
    metric_streams(str(tmp_path / "streams"))
    try:
        subprocess.run([os.path.join(BIN, "finops_migrate"), "--dsn", f"dbname={data}"],
                       check=True, capture_output=True)
        cluster.start(workers=("a", "b"))
        cluster.start_scheduler()
        assert cluster.trigger("billing_ingest", "2026-11-20T12:00:00Z") == "success"
        billing, ran = ran_on(meta, "billing_ingest")
        assert len(billing) == 6 and all(":success:" in x for x in billing), ran
        assert cluster.trigger("usage_ingest", "2026-11-03T05:00:00Z") == "success"
        usage, ran = ran_on(meta, "usage_ingest")
        assert len(usage) == 4 and all(":success:" in x for x in usage), ran
        # Celery hands each queued task to a free worker (one slot each, prefetch 1), but
        # which one is Redis's choice: the ten loads together ran on both
        workers = [x.rsplit(":", 1)[1] for x in billing + usage]
        assert set(workers) == {"worker-a", "worker-b"}, (billing, usage)
        print("loads per worker:", {w: workers.count(w) for w in set(workers)})
        # the same units, one serial run
        subprocess.run([os.path.join(BIN, "finops_migrate"), "--dsn", f"dbname={serial}"],
                       check=True, capture_output=True)
        one = subprocess.run([os.path.join(BIN, "billing_ingest"), "--dsn", f"dbname={serial}"]
                             + [f"{root}/20261101-20261201/" for root in roots],
                             capture_output=True, text=True)
        assert one.returncode == 0, one.stderr
        assert psql(data, TOTALS) == psql(serial, TOTALS)
        assert psql(data, "SELECT count(*) FROM finops.billing_loads") == "6"
        one = subprocess.run([os.path.join(BIN, "usage_ingest"), "--dsn", f"dbname={serial}",
                              "--start", "2026-11-03T03:00:00Z", "--end", "2026-11-03T04:00:00Z",
                              str(tmp_path / "streams")], capture_output=True, text=True)
        assert one.returncode == 0, one.stderr
        assert psql(data, USAGE) == psql(serial, USAGE) and psql(data, USAGE).endswith(" 90")
    finally:
        cluster.stop()
        for d in (meta, data, serial):
            psql("postgres", f"DROP DATABASE IF EXISTS {d} WITH (FORCE)")
