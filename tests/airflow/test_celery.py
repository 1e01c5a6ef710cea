"""The billing DAG on Airflow's CeleryExecutor with two workers (issue 20):
Redis from Debian's packages as the broker, the throwaway PostgreSQL as the
metadata database and the result backend, Airflow's API server (the Task
Execution API the workers call) and two Celery workers of one slot each, all
on 127.0.0.1, started and stopped here. `airflow dags test --use-executor`
schedules the run through the CeleryExecutor (a scheduler on its own would
also start runs for the wall clock's intervals). Six report roots give six
mapped load tasks; they must run on both workers, and the tables must equal
those of one serial billing_ingest run."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid

import pytest

from test_dags import BIN, DAGS, psql

HERE = os.path.dirname(os.path.abspath(__file__))
AIRFLOW = os.path.join(os.path.dirname(sys.executable), "airflow")
TOTALS = ("SELECT count(*) || ' ' || sum(billed_cost) || ' ' || md5(string_agg(line_item_id"
          " || resource_id || billed_cost, ',' ORDER BY line_item_id, resource_id)) || ' / '"
          " || (SELECT string_agg(s.report_name || ':' || l.rows_loaded, ',' ORDER BY"
          " s.report_name) FROM finops.billing_loads l JOIN finops.billing_sources s"
          " USING (source_id)) FROM finops.billing_line_items")

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None,
                                reason="redis-server is missing (scripts/setup-debian.sh"
                                       " installs Debian's redis-server)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what, predicate, timeout, procs):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        for name, p, log in procs:
            if p.poll() is not None:
                raise AssertionError(f"{name} exited {p.returncode}:\n"
                                     + open(log).read()[-3000:])
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout} s")


def test_billing_fan_out_runs_on_two_celery_workers(tmp_path):
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
    host = os.environ.get("PGHOST", "/tmp")
    redis_port, api_port = free_port(), free_port()
    env = dict(os.environ)
    env.update({
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__EXECUTOR":
            "airflow.providers.celery.executors.celery_executor.CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://postgres@/{meta}"
                                               f"?host={host}",
        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://postgres@/{meta}?host={host}",
        "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
        "AIRFLOW__CORE__DAGS_FOLDER": DAGS,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "AIRFLOW__API_AUTH__JWT_SECRET": "finops-celery-test-" + uuid.uuid4().hex,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "worker_name.get",
        "PYTHONPATH": HERE,
        # what a worker needs (deploy/celery/README.md): the binaries, the database
        # (here FINOPS_DSN; in production VAULT_ADDR and the AppRole), the Variables
        "FINOPS_BIN_DIR": BIN,
        "FINOPS_DSN": f"dbname={data}",
        "VAULT_ADDR": "",
        "AIRFLOW_VAR_FINOPS_CUR_REPORT_ROOTS": json.dumps(roots),
    })
    procs = []

    def spawn(name, args, **extra):
        log = str(tmp_path / f"{name}.log")
        p = subprocess.Popen(args, env=dict(env, **extra), stdout=open(log, "w"),
                             stderr=subprocess.STDOUT, start_new_session=True)
        procs.append((name, p, log))
        return log

    try:
        subprocess.run([os.path.join(BIN, "finops_migrate"), "--dsn", f"dbname={data}"],
                       check=True, capture_output=True)
        spawn("redis", ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
                        "--save", "", "--appendonly", "no"])
        r = subprocess.run([AIRFLOW, "db", "migrate"], env=env, capture_output=True,
                           text=True, timeout=300)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        spawn("api-server", [AIRFLOW, "api-server", "--host", "127.0.0.1", "--port",
                             str(api_port), "--workers", "1"])
        logs = [spawn(f"worker-{w}", [AIRFLOW, "celery", "worker", "--celery-hostname",
                                      f"worker-{w}@%h", "--concurrency", "1"],
                      FINOPS_TEST_WORKER=f"worker-{w}") for w in "ab"]

        def ready():
            try:
                with socket.create_connection(("127.0.0.1", api_port), timeout=1):
                    pass
            except OSError:
                return False
            return all(" ready." in open(log).read() for log in logs)

        wait_until("the API server and both workers", ready, 120, procs)
        r = subprocess.run([AIRFLOW, "dags", "test", "billing_ingest",
                            "2026-11-20T12:00:00+00:00", "--use-executor"], env=env,
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
        ran = psql(meta, "SELECT string_agg(task_id || ':' || state || ':' || hostname, ','"
                         " ORDER BY task_id, map_index) FROM task_instance"
                         " WHERE dag_id = 'billing_ingest'").split(",")
        loads = [x for x in ran if x.startswith("load:")]
        assert len(loads) == 6 and all(":success:" in x for x in loads), ran
        assert {x.rsplit(":", 1)[1] for x in loads} == {"worker-a", "worker-b"}, ran
        # the same units, one serial run
        subprocess.run([os.path.join(BIN, "finops_migrate"), "--dsn", f"dbname={serial}"],
                       check=True, capture_output=True)
        one = subprocess.run([os.path.join(BIN, "billing_ingest"), "--dsn", f"dbname={serial}"]
                             + [f"{root}/20261101-20261201/" for root in roots],
                             capture_output=True, text=True)
        assert one.returncode == 0, one.stderr
        assert psql(data, TOTALS) == psql(serial, TOTALS)
        assert psql(data, "SELECT count(*) FROM finops.billing_loads") == "6"
    finally:
        for name, p, log in reversed(procs):
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for name, p, log in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        for d in (meta, data, serial):
            psql("postgres", f"DROP DATABASE IF EXISTS {d} WITH (FORCE)")
