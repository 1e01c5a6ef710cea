"""Every run's metrics, pushed to a real Pushgateway (Debian's) and written for the
textfile collector: a success replaces its group, a failure keeps the last
success, scopes are groups of their own, a Pushgateway that is down or refuses
is a warning and never the exit code, and promtool finds the format clean."""
import socket
import subprocess

import pytest

from conftest import JOBS, run
from promstack import binary, pushgateway, pushgateway_groups

NAMES = ["finops_job_last_success_timestamp_seconds", "finops_job_last_run_timestamp_seconds",
         "finops_job_duration_seconds", "finops_job_exit_code", "finops_job_rows_read",
         "finops_job_rows_written"]


@pytest.fixture
def pgw(tmp_path):
    server = pushgateway(tmp_path)
    yield server
    server.stop()


def migrated(db):
    r = run("finops_migrate", "--dsn", f"dbname={db}")
    assert r.code == 0, r.stderr


def test_success_then_failure_keeps_last_success(db, pgw, tmp_path):
    env = {"FINOPS_PUSHGATEWAY_URL": pgw.url, "FINOPS_METRICS_DIR": str(tmp_path)}
    r = run("finops_migrate", "--dsn", f"dbname={db}", env=env)
    assert r.code == 0, r.stderr
    g = pushgateway_groups(pgw)[("finops_migrate", "default")]
    assert set(NAMES) <= set(g), g
    assert g["finops_job_exit_code"] == 0
    assert g["finops_job_last_success_timestamp_seconds"] == \
        g["finops_job_last_run_timestamp_seconds"]
    first_success = g["finops_job_last_success_timestamp_seconds"]
    assert g["finops_job_duration_seconds"] >= 0

    # the same job fails (a database that is not there): its last success stands
    r = run("finops_migrate", "--dsn", f"dbname={db}_missing", env=env)
    assert r.code not in (0, 99)
    g = pushgateway_groups(pgw)[("finops_migrate", "default")]
    assert g["finops_job_exit_code"] == r.code
    assert g["finops_job_last_success_timestamp_seconds"] == first_success
    assert g["finops_job_last_run_timestamp_seconds"] > first_success
    text = (tmp_path / "finops_finops_migrate_default.prom").read_text()
    assert f'finops_job_exit_code{{job="finops_migrate",scope="default"}} {r.code}\n' in text
    assert "finops_job_last_success_timestamp_seconds{" in text

    # the next success replaces the whole group
    r = run("finops_migrate", "--dsn", f"dbname={db}", env=env)
    assert r.code == 0
    g = pushgateway_groups(pgw)[("finops_migrate", "default")]
    assert g["finops_job_exit_code"] == 0
    assert g["finops_job_last_success_timestamp_seconds"] > first_success


def test_rows_and_nothing_new_is_a_success(db, pgw, tmp_path):
    migrated(db)
    env = {"FINOPS_PUSHGATEWAY_URL": pgw.url + "/", "FINOPS_METRICS_SCOPE": "payer-main"}
    r = run("anomaly_detect", "--dsn", f"dbname={db}", env=env)
    assert r.code == 99, r.stderr
    g = pushgateway_groups(pgw)[("anomaly_detect", "payer-main")]
    assert g["finops_job_exit_code"] == 99
    assert "finops_job_last_success_timestamp_seconds" in g
    assert g["finops_job_rows_read"] == r.summary()["rows_read"]
    assert g["finops_job_rows_written"] == r.summary()["rows_written"]


def test_scopes_are_groups_and_labels_are_bounded(db, pgw):
    migrated(db)
    env = {"FINOPS_PUSHGATEWAY_URL": pgw.url}
    assert run("anomaly_detect", "--dsn", f"dbname={db}", env=env).code == 99
    assert run("anomaly_detect", "--dsn", f"dbname={db}", "--metrics-scope", "eu.payer:2",
               env=env).code == 99
    groups = pushgateway_groups(pgw)
    assert ("anomaly_detect", "default") in groups and ("anomaly_detect", "eu.payer:2") in groups
    text = subprocess.run(["curl", "-sf", pgw.url + "/metrics"], capture_output=True,
                          text=True, check=True).stdout
    for line in text.splitlines():
        if line.startswith("finops_job_"):
            labels = line[line.index("{") + 1:line.index("}")]
            keys = sorted(kv.split("=")[0] for kv in labels.split(","))
            assert keys == ["instance", "job", "scope"], line   # instance="" is the gateway's


def test_usage_errors_are_pushed_too(pgw):
    env = {"FINOPS_PUSHGATEWAY_URL": pgw.url}
    r = run("budget_check", "--bogus", env=env)
    assert r.code == 2
    assert pushgateway_groups(pgw)[("budget_check", "default")]["finops_job_exit_code"] == 2
    # --help and --version are not runs
    assert run("rightsizing_calc", "--help", env=env).code == 0
    assert ("rightsizing_calc", "default") not in pushgateway_groups(pgw)


@pytest.mark.parametrize("args,env", [
    (["--metrics-scope", "a/b"], {}),
    (["--metrics-scope", ""], {}),
    (["--metrics-scope", "x" * 65], {}),
    ([], {"FINOPS_METRICS_SCOPE": "has space"}),
])
def test_bad_scope_is_a_usage_error(args, env):
    r = run("anomaly_detect", *args, env=env)
    assert r.code == 2, r.stderr
    assert "metrics" in r.stderr.lower() or "METRICS_SCOPE" in r.stderr


def test_pushgateway_down_or_refusing_never_changes_the_exit_code(db, tmp_path):
    migrated(db)
    # a port held bound and never listened on: refused, and nobody else can take it
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        url = f"http://finops:s3cret-pass@127.0.0.1:{held.getsockname()[1]}"
        r = run("anomaly_detect", "--dsn", f"dbname={db}", env={"FINOPS_PUSHGATEWAY_URL": url})
    assert r.code == 99, r.stderr
    warns = [x for x in r.log_lines() if x["level"] == "warn" and x.get("metrics")]
    assert len(warns) == 1 and "exit code stands" in warns[0]["msg"], r.stderr
    assert "s3cret-pass" not in r.stderr

    # an answer that is not 2xx (a path that is not a Pushgateway's) names the status
    pgw = pushgateway(tmp_path)
    try:
        r = run("anomaly_detect", "--dsn", f"dbname={db}",
                env={"FINOPS_PUSHGATEWAY_URL": pgw.url + "/not-here"})
    finally:
        pgw.stop()
    assert r.code == 99
    assert any("HTTP 404" in x["msg"] for x in r.log_lines() if x["level"] == "warn"), r.stderr

    # a textfile folder that is not there: a warning naming it
    r = run("anomaly_detect", "--dsn", f"dbname={db}",
            env={"FINOPS_METRICS_DIR": str(tmp_path / "missing")})
    assert r.code == 99
    assert any(str(tmp_path / "missing") in x["msg"] for x in r.log_lines()
               if x["level"] == "warn"), r.stderr


def test_every_job_writes_a_textfile_promtool_accepts(tmp_path):
    promtool = binary("promtool")
    for job in JOBS + ["finops_migrate"]:
        # no database configured: each run fails at once, and still says so
        r = run(job, "--dsn", "host=/nonexistent", env={"FINOPS_METRICS_DIR": str(tmp_path)})
        assert r.code not in (0, 99), job
        path = tmp_path / f"finops_{job}_default.prom"
        text = path.read_text()
        assert f'finops_job_exit_code{{job="{job}",scope="default"}}' in text, job
        check = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                               text=True)
        assert check.returncode == 0, check.stdout + check.stderr
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
