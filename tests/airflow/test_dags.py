"""The DAG files under a real, pinned Airflow (tests/airflow/requirements.txt):
they load, each DAG is what operators expect (task, schedule, retries,
skip code, templated command), and one DAG runs end to end with
`airflow dags test`, its BashOperator running the real binary against the
throwaway PostgreSQL."""
import json
import os
import subprocess
import sys
import uuid
from datetime import datetime, timezone

import pendulum
import pytest

SRC = os.environ["FINOPS_SOURCE_DIR"]
BIN = os.environ["FINOPS_BINDIR"]
DAGS = os.path.join(SRC, "dags")
sys.path.insert(0, os.path.join(SRC, "tests", "cli"))


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow-home")
    env = airflow_env(home)
    subprocess.run([os.path.join(os.path.dirname(sys.executable), "airflow"), "db", "migrate"],
                   env=env, check=True, capture_output=True, timeout=600)
    return home


def airflow_env(home, **extra):
    env = dict(os.environ)
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": DAGS,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "FINOPS_BIN_DIR": BIN,
    })
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def dagbag(airflow_home):
    os.environ.update(airflow_env(airflow_home))
    # as Airflow's processes do: the DAGs folder is on sys.path (finops_common.py)
    sys.path.insert(0, DAGS)
    try:
        from airflow.dag_processing.dagbag import DagBag     # Airflow 3
    except ImportError:
        from airflow.models.dagbag import DagBag

    return DagBag(dag_folder=DAGS)


def test_every_dag_file_loads(dagbag):
    assert dagbag.import_errors == {}
    assert sorted(dagbag.dag_ids) == ["anomaly_detect", "billing_ingest", "budget_check",
                                      "forecast_retrain", "forecast_train", "idle_stop",
                                      "instance_catalog_updater", "rightsizing_calc",
                                      "usage_ingest"]


@pytest.mark.parametrize("dag_id,schedule,catchup,max_runs", [
    ("instance_catalog_updater", "0 3 * * *", False, 1),
])
def test_dag_shape(dagbag, dag_id, schedule, catchup, max_runs):
    dag = dagbag.get_dag(dag_id)
    assert [t.task_id for t in dag.tasks] == [dag_id]
    tt = dag.timetable
    assert (getattr(tt, "expression", None) or getattr(tt, "summary", None)
            or getattr(tt, "_expression", None)) == schedule
    assert dag.catchup is catchup
    assert dag.max_active_runs == max_runs
    task = dag.tasks[0]
    assert type(task).__name__ == "BashOperator"
    assert task.skip_on_exit_code == [99] or task.skip_on_exit_code == 99
    assert task.retries == 3
    assert task.retry_exponential_backoff
    assert task.execution_timeout is not None
    assert f"/{dag_id} --log-format json" in task.bash_command
    assert "password" not in task.bash_command.lower()
    assert [o.uri for o in task.outlets]


def render(dag, logical, variables, task_id=None):
    """The task's command for a run whose data interval ends at `logical`."""
    from jinja2 import Environment, StrictUndefined

    task = dag.get_task(task_id) if task_id else dag.tasks[0]
    when = pendulum.instance(logical)
    infer = getattr(dag.timetable, "infer_manual_data_interval", None)
    if infer:
        interval = infer(run_after=when)
    else:                               # a trigger timetable: the interval is the moment
        from airflow.timetables.base import DataInterval
        interval = DataInterval(when, when)

    class Var:
        def __init__(self, values):
            self.values = values

        def get(self, key, default=None):
            return self.values.get(key, default)

        def __getattr__(self, key):
            return self.values[key]

    class JsonVar(Var):
        def get(self, key, default=None):
            return json.loads(self.values[key]) if key in self.values else default

    ctx = {"data_interval_start": interval.start, "data_interval_end": interval.end,
           "var": {"value": Var(variables), "json": JsonVar(variables)},
           "ds": interval.start.strftime("%Y-%m-%d")}
    cmd = task.partial_kwargs["bash_command"] if type(task).__name__ == "MappedOperator" \
        else task.bash_command
    return Environment(undefined=StrictUndefined).from_string(cmd).render(ctx)


def test_rightsizing_is_scheduled_on_the_ingest_assets(dagbag):
    dag = dagbag.get_dag("rightsizing_calc")
    ingest = {o.uri for d in ("billing_ingest", "usage_ingest")
              for t in dagbag.get_dag(d).tasks for o in t.outlets}
    condition = dag.timetable.asset_condition
    assert {a.uri for a in condition.objects} == ingest
    assert type(condition).__name__.endswith("All")      # both, not either
    task = dag.get_task("rightsizing_calc")
    assert task.partial_kwargs["skip_on_exit_code"] in (99, [99])
    assert task.partial_kwargs["append_env"] is True
    assert dag.get_task("shards").downstream_task_ids == {"rightsizing_calc"}
    cmd = render(dag, datetime(2026, 11, 3, 5, tzinfo=timezone.utc), {}, "rightsizing_calc")
    assert cmd == BIN + '/rightsizing_calc --log-format json --shard "$FINOPS_SHARD"'
    for n, want in (({}, '["0/1"]'), ({"finops_rightsizing_shards": "4"},
                                      '["0/4","1/4","2/4","3/4"]')):
        script = render(dag, datetime(2026, 11, 3, 5, tzinfo=timezone.utc), n, "shards")
        assert subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                              check=True).stdout.strip() == want


def test_forecast_is_scheduled_on_new_billing(dagbag):
    dag = dagbag.get_dag("forecast_train")
    billing = {o.uri for o in dagbag.get_dag("billing_ingest").get_task("load").outlets}
    assert {a.uri for a in dag.timetable.asset_condition.objects} == billing
    task = dag.get_task("forecast_train")
    assert task.partial_kwargs["skip_on_exit_code"] in (99, [99])
    assert render(dag, datetime(2026, 11, 3, 5, tzinfo=timezone.utc), {}, "forecast_train") \
        == BIN + '/forecast_train --log-format json --shard "$FINOPS_SHARD"'
    script = render(dag, datetime(2026, 11, 3, 5, tzinfo=timezone.utc),
                    {"finops_forecast_shards": "2"}, "shards")
    assert subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                          check=True).stdout.strip() == '["0/2","1/2"]'


def test_anomalies_are_judged_on_new_billing_with_the_monitors_variable(dagbag):
    dag = dagbag.get_dag("anomaly_detect")
    billing = {o.uri for o in dagbag.get_dag("billing_ingest").get_task("load").outlets}
    assert {a.uri for a in dag.timetable.asset_condition.objects} == billing
    task = dag.tasks[0]
    assert task.skip_on_exit_code in (99, [99]) and task.retries == 3
    when = datetime(2026, 11, 3, 6, tzinfo=timezone.utc)
    assert render(dag, when, {}) == BIN + "/anomaly_detect --log-format json"
    assert render(dag, when, {"finops_anomaly_monitors": "/etc/finops/monitors.json"}) == \
        BIN + '/anomaly_detect --log-format json --monitors "/etc/finops/monitors.json"'


def test_budgets_are_judged_after_billing_and_forecasts(dagbag):
    dag = dagbag.get_dag("budget_check")
    want = {o.uri for d in ("billing_ingest", "forecast_train")
            for t in dagbag.get_dag(d).tasks for o in t.outlets}
    condition = dag.timetable.asset_condition
    assert {a.uri for a in condition.objects} == want and len(want) == 2
    assert type(condition).__name__.endswith("All")
    when = datetime(2026, 11, 3, 6, tzinfo=timezone.utc)
    assert render(dag, when, {}) == \
        BIN + '/budget_check --log-format json --budgets "/etc/finops/budgets.json"'
    assert render(dag, when, {"finops_budgets_file": "/srv/finops/budgets.json"}).endswith(
        '--budgets "/srv/finops/budgets.json"')


def test_idle_stop_follows_rightsizing_and_only_plans_until_told(dagbag):
    dag = dagbag.get_dag("idle_stop")
    rightsizing = {o.uri for o in dagbag.get_dag("rightsizing_calc").get_task(
        "rightsizing_calc").outlets}
    assert {a.uri for a in dag.timetable.asset_condition.objects} == rightsizing
    assert rightsizing == {"postgres://finops-db:5432/finops/finops/rightsizing_recommendations"}
    task = dag.tasks[0]
    assert task.skip_on_exit_code in (99, [99])
    when = datetime(2026, 11, 3, 6, tzinfo=timezone.utc)
    plan = BIN + '/idle_stop --log-format json --policy "/etc/finops/idle-policy.json"'
    assert render(dag, when, {}) == plan
    assert render(dag, when, {"finops_idle_stop_execute": "no"}) == plan
    assert render(dag, when, {"finops_idle_stop_execute": "True",
                              "finops_idle_policy_file": "/srv/p.json"}) == \
        BIN + '/idle_stop --log-format json --policy "/srv/p.json" --execute'


def test_forecast_retrain_runs_retrain_drifted_and_publishes_forecasts(dagbag):
    dag = dagbag.get_dag("forecast_retrain")
    tt = dag.timetable
    assert (getattr(tt, "expression", None) or getattr(tt, "summary", None)
            or getattr(tt, "_expression", None)) == "50 */6 * * *"
    task = dag.tasks[0]
    assert task.bash_command.endswith("/forecast_train --log-format json --retrain-drifted"
                                      " --lock-wait 600")
    assert task.skip_on_exit_code in (99, [99])
    assert [o.uri for o in task.outlets] == \
        [o.uri for o in dagbag.get_dag("forecast_train").get_task("forecast_train").outlets]


def test_billing_fans_out_one_mapped_task_a_unit(dagbag):
    dag = dagbag.get_dag("billing_ingest")
    assert sorted(t.task_id for t in dag.tasks) == ["list_units", "load"]
    tt = dag.timetable
    assert (getattr(tt, "expression", None) or getattr(tt, "summary", None)
            or getattr(tt, "_expression", None)) == "0 */6 * * *"
    assert dag.catchup is False and dag.max_active_runs == 1
    listing, load = dag.get_task("list_units"), dag.get_task("load")
    assert listing.output_processor('[{"source": "s3://b/r/20261101-20261201/"}]') == \
        [{"source": "s3://b/r/20261101-20261201/"}]
    assert listing.output_processor("[]") == []
    assert [t.task_id for t in load.upstream_list] == ["list_units"]
    assert type(load).__name__ == "MappedOperator"
    assert load.partial_kwargs["skip_on_exit_code"] in (99, [99])
    assert load.partial_kwargs["append_env"] is True
    assert load.partial_kwargs["bash_command"].endswith(
        '/billing_ingest --log-format json "$FINOPS_UNIT_SOURCE"')
    assert [o.uri for o in load.outlets] == ["postgres://finops-db:5432/finops/finops/billing_line_items"]


def test_usage_runs_have_hourly_data_intervals(dagbag):
    from airflow.timetables.interval import CronDataIntervalTimetable

    dag = dagbag.get_dag("usage_ingest")
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.catchup is True and dag.max_active_runs == 3
    assert sorted(t.task_id for t in dag.tasks) == ["load", "shards"]


def test_templated_commands(dagbag):
    usage = dagbag.get_dag("usage_ingest")
    load = usage.get_task("load")
    cmd = render(usage, datetime(2026, 11, 3, 5, tzinfo=timezone.utc),
                 {"finops_bin_dir": "/opt/finops/bin"}, "load")
    # the run of [04:00, 05:00) loads the hour before it, its shard from the mapping
    assert cmd == ("/opt/finops/bin/usage_ingest --log-format json"
                   ' --start 2026-11-03T03:00:00Z --end 2026-11-03T04:00:00Z'
                   ' --shard "$FINOPS_SHARD"')
    cmd = render(usage, datetime(2026, 11, 3, 5, tzinfo=timezone.utc),
                 {"finops_metric_stream_prefix": "s3://m/firehose"}, "load")
    assert cmd.endswith(' "s3://m/firehose/2026/11/03/03/" "s3://m/firehose/2026/11/03/04/"')
    assert cmd.startswith(BIN + "/usage_ingest ")
    assert load.partial_kwargs["append_env"] is True
    for n, want in (({}, '["0/1"]'), ({"finops_usage_shards": "3"}, '["0/3","1/3","2/3"]'),
                    ({"finops_usage_shards": "0"}, '["0/1"]')):
        script = render(usage, datetime(2026, 11, 3, 5, tzinfo=timezone.utc), n, "shards")
        out = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                             check=True).stdout.strip()
        assert out == want and usage.get_task("shards").output_processor(out) == \
            json.loads(want)
    root = {"finops_cur_report_root": "s3://cur/reports/finops"}
    billing = dagbag.get_dag("billing_ingest")
    cmd = render(billing, datetime(2026, 11, 20, 12, tzinfo=timezone.utc), root, "list_units")
    assert cmd == ("set -o pipefail; " + BIN + "/billing_ingest --log-format json --list-units"
                   ' --skip-undelivered "s3://cur/reports/finops/20261101-20261201/"'
                   " | paste -sd, - | sed 's/.*/[&]/'")
    # early in a month the previous period is loaded too (AWS finalises it then); several
    # report roots, each its periods
    roots = {"finops_cur_report_roots": '["s3://a/r1", "/srv/cur/r2"]'}
    cmd = render(billing, datetime(2026, 12, 2, 6, tzinfo=timezone.utc), roots, "list_units")
    assert ('--list-units --skip-undelivered "s3://a/r1/20261101-20261201/"'
            ' "s3://a/r1/20261201-20270101/" "/srv/cur/r2/20261101-20261201/"'
            ' "/srv/cur/r2/20261201-20270101/" |') in cmd
    cmd = render(dagbag.get_dag("instance_catalog_updater"),
                 datetime(2026, 11, 3, 3, tzinfo=timezone.utc), {})
    assert cmd == BIN + "/instance_catalog_updater --log-format json"


def psql(db, sql):
    return subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db,
                           "-c", sql], capture_output=True, text=True, check=True).stdout.strip()


def test_billing_dag_runs_the_binary_end_to_end(airflow_home, tmp_path):
    from curfixtures import legacy_row, write_legacy_delivery

    db = "fo_airflow_" + uuid.uuid4().hex[:8]
    psql("postgres", f"CREATE DATABASE {db}")
    try:
        subprocess.run([os.path.join(BIN, "finops_migrate"), "--dsn", f"dbname={db}"],
                       check=True, capture_output=True)
        # laid out as AWS delivers: <root>/finops/20261101-20261201/finops-Manifest.json
        write_legacy_delivery(str(tmp_path / "bucket"), "finops", "2026-11", "asm-airflow",
                              [[legacy_row(i, period="2026-11") for i in range(5)]])
        root = tmp_path / "bucket" / "finops"
        env = airflow_env(airflow_home, AIRFLOW_VAR_FINOPS_CUR_REPORT_ROOT=str(root),
                          FINOPS_DSN=f"dbname={db}", VAULT_ADDR="")
        airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
        r = subprocess.run([airflow, "dags", "test", "billing_ingest", "2026-11-20T12:00:00+00:00"],
                           env=env, capture_output=True, text=True, timeout=600)
        out = r.stdout + r.stderr
        assert r.returncode == 0, out[-4000:]
        assert psql(db, "SELECT count(*) || ' ' || sum(billed_cost) FROM"
                        " finops.billing_line_items") == "5 5.00"
        assert psql(db, "SELECT status FROM finops.job_runs"
                        " WHERE job = 'billing_ingest'") == "succeeded"
        # the same run again: the binary exits 99 and the task is skipped, not failed
        r = subprocess.run([airflow, "dags", "test", "billing_ingest",
                            "2026-11-20T18:00:00+00:00"], env=env, capture_output=True,
                           text=True, timeout=600)
        out = r.stdout + r.stderr
        assert r.returncode == 0, out[-4000:]
        assert "skipped" in out.lower()
        assert psql(db, "SELECT string_agg(status, ',' ORDER BY run_id) FROM finops.job_runs"
                    " WHERE job = 'billing_ingest'") \
            == "succeeded,nothing_new"
    finally:
        psql("postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def test_forecast_retrain_dag_skips_without_drift_and_retrains_with_it(airflow_home, tmp_path):
    """forecast_retrain under `airflow dags test`: skipped while no series has
    drifted, then the series whose cost doubled and its payer's are retrained
    (the total, also drifted, was trained to the day: not again), then skipped
    again."""
    import test_forecast_cli as fc

    db = "fo_airflow_" + uuid.uuid4().hex[:8]
    psql("postgres", f"CREATE DATABASE {db}")
    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
    env = airflow_env(airflow_home, FINOPS_DSN=f"dbname={db}", VAULT_ADDR="",
                      PGDATABASE=db)

    def dag_run(when):
        r = subprocess.run([airflow, "dags", "test", "forecast_retrain", when], env=env,
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
        return psql(db, "SELECT status FROM finops.job_runs WHERE job = 'forecast_train'"
                        " ORDER BY run_id DESC LIMIT 1")

    try:
        subprocess.run([os.path.join(BIN, "finops_migrate"), "--dsn", f"dbname={db}"],
                       check=True, capture_output=True)
        fc.load(db, tmp_path, fc.rows_for(fc.DAYS), "a")
        assert fc.train(db).code == 0
        assert dag_run("2026-10-10T00:50:00+00:00") == "nothing_new"
        more = fc.rows_for(fc.DAYS + 14)
        for r in more:
            if r["product/ProductName"] == "S1" and r["lineItem/CurrencyCode"] == "USD" \
                    and r["lineItem/UsageStartDate"] >= "2026-10-08":
                r["lineItem/UnblendedCost"] = f"{float(r['lineItem/UnblendedCost']) * 2:.2f}"
        fc.load(db, tmp_path, more, "b")
        assert fc.train(db, "--dimensions", "total").code == 0
        assert dag_run("2026-10-24T00:50:00+00:00") == "succeeded"
        assert psql(db, "SELECT r.retrained_only_drifted, string_agg(m.series_key || ' '"
                        " || m.currency, ', ') FROM finops.forecast_runs r JOIN"
                        " finops.forecast_models m USING (run_id) WHERE r.run_id ="
                        " (SELECT max(run_id) FROM finops.forecast_runs)"
                        " GROUP BY r.retrained_only_drifted") == \
            "t|billing_account=111122223333 USD, sub_account_service=444455556666/S1 USD"
        # the USD total drifted too, but `--dimensions total` trained it to the day already
        assert dag_run("2026-10-24T06:50:00+00:00") == "nothing_new"
    finally:
        psql("postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def test_billing_dag_maps_one_load_a_unit_over_several_roots(airflow_home, tmp_path):
    """Two report roots (two reports of the organisation) in finops_cur_report_roots:
    list_units finds a unit in each, and the mapped load tasks load both."""
    from curfixtures import legacy_row, write_legacy_delivery

    db = "fo_airflow_" + uuid.uuid4().hex[:8]
    psql("postgres", f"CREATE DATABASE {db}")
    try:
        subprocess.run([os.path.join(BIN, "finops_migrate"), "--dsn", f"dbname={db}"],
                       check=True, capture_output=True)
        roots = []
        for k, report in enumerate(("finops", "finops-eu")):
            write_legacy_delivery(str(tmp_path / "bucket"), report, "2026-11", f"asm-{report}",
                                  [[legacy_row(100 * k + i, period="2026-11")
                                    for i in range(3 + k)]])
            roots.append(str(tmp_path / "bucket" / report))
        env = airflow_env(airflow_home, AIRFLOW_VAR_FINOPS_CUR_REPORT_ROOTS=json.dumps(roots),
                          FINOPS_DSN=f"dbname={db}", VAULT_ADDR="")
        airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
        r = subprocess.run([airflow, "dags", "test", "billing_ingest",
                            "2026-11-20T12:00:00+00:00"], env=env, capture_output=True,
                           text=True, timeout=600)
        assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
        assert psql(db, "SELECT string_agg(s.report_name || ' ' || l.rows_loaded, ', '"
                        " ORDER BY s.report_name) FROM finops.billing_loads l JOIN"
                        " finops.billing_sources s USING (source_id)") == "finops 3, finops-eu 4"
        assert psql(db, "SELECT count(*) || ' ' || string_agg(DISTINCT status, ',') FROM"
                        " finops.job_runs WHERE job = 'billing_ingest'") == "2 succeeded"
    finally:
        psql("postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
