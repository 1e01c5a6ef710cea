"""deploy/: the cron fallback wrapper, and backup and restore as a disaster
recovery does them: load, back up, lose the database, restore, compare, and
re-run the ingest jobs (nothing new, nothing changed)."""
import json
import os
import subprocess
import uuid

import pytest

from conftest import bindir, psql, run
from curfixtures import legacy_row, write_legacy_delivery
from test_usage_cli import stream_fixture, write_lines

SRC = os.environ.get("FINOPS_SOURCE_DIR", "")
DEPLOY = os.path.join(SRC, "deploy")
CRON = os.path.join(DEPLOY, "cron", "finops-cron-run")

TOTALS = ("SELECT (SELECT count(*) || '/' || sum(billed_cost) || '/' || sum(effective_cost)"
          "         FROM finops.billing_line_items) || ' ' ||"
          " (SELECT count(*) || '/' || coalesce(sum(price_per_hour), 0)"
          "    FROM finops.instance_prices) || ' ' ||"
          " (SELECT count(*) || '/' || coalesce(round(sum(cpu_avg)::numeric, 6), 0)"
          "    FROM finops.instance_usage_hourly) || ' ' ||"
          " (SELECT count(*) FROM finops.billing_loads) || ' ' ||"
          " (SELECT count(*) FROM finops.job_runs)")


@pytest.fixture
def site(tmp_path):
    """The inputs of the three ingest jobs, laid out as in production."""
    bucket = tmp_path / "bucket"
    write_legacy_delivery(str(bucket), "finops", "2026-10", "asm-dr",
                          [[legacy_row(i) for i in range(6)]])
    lines, _ = stream_fixture()
    streams = tmp_path / "streams"
    for h in range(4):
        d = streams / "2026" / "10" / "05" / f"{h:02d}"
        d.mkdir(parents=True)
        write_lines(d / "part.json", [r for r in lines if (r["timestamp"] // 3600000) % 24 == h])
    from pricefixtures import offer_csv, offer_rows
    offer = tmp_path / "offer.csv"
    offer.write_text(offer_csv("20261101000000", offer_rows("eu-west-1")))
    return {"report_root": str(bucket / "finops"), "streams": str(streams),
            "offer": str(offer), "tmp": tmp_path}


def cron(job, db, site, now, **extra):
    env = dict(os.environ, FINOPS_BIN_DIR=bindir(), FINOPS_DSN=f"dbname={db}", VAULT_ADDR="",
               FINOPS_LOG_DIR=str(site["tmp"] / "log"), FINOPS_LOCK_DIR=str(site["tmp"] / "lock"),
               FINOPS_CUR_REPORT_ROOT=site["report_root"],
               FINOPS_METRIC_STREAM_PREFIX=site["streams"], FINOPS_NOW=now)
    env.pop("PGDATABASE", None)
    env.update(extra)
    return subprocess.run([CRON, job], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def mdb(migrated_db):
    return migrated_db


def load_everything(db, site):
    assert cron("billing_ingest", db, site, "2026-10-20T12:00:00Z").returncode == 0
    # the usage run at 03:10 loads 01:00-02:00, from the folders of 01 and 02
    assert cron("usage_ingest", db, site, "2026-10-05T03:10:00Z").returncode == 0
    assert run("instance_catalog_updater", "--dsn", f"dbname={db}", "--from-file",
               site["offer"]).code == 0


def test_cron_wrapper_runs_jobs_as_the_dags_would(mdb, site):
    r = cron("billing_ingest", mdb, site, "2026-10-20T12:00:00Z")
    assert r.returncode == 0, r.stderr
    assert psql(mdb, "SELECT count(*) FROM finops.billing_line_items") == "6"
    r = cron("billing_ingest", mdb, site, "2026-10-20T18:00:00Z")
    assert r.returncode == 99
    r = cron("usage_ingest", mdb, site, "2026-10-05T03:10:00Z")
    assert r.returncode == 0, r.stderr
    assert psql(mdb, "SELECT min(hour) || ' ' || max(hour) || ' ' || count(*) FROM"
                     " finops.instance_usage_hourly") == \
        "2026-10-05 01:00:00+00 2026-10-05 01:00:00+00 3"
    # anomalies after the load, as the DAG on the billing asset would (the monitors file
    # from FINOPS_ANOMALY_MONITORS; a bad one is exit 2, as from Airflow)
    r = cron("anomaly_detect", mdb, site, "2026-10-20T18:30:00Z")
    assert r.returncode in (0, 99), r.stderr
    bad = site["tmp"] / "bad-monitors.json"
    bad.write_text('{"top_n": 0}')
    assert cron("anomaly_detect", mdb, site, "2026-10-20T18:30:00Z",
                FINOPS_ANOMALY_MONITORS=str(bad)).returncode == 2
    # budgets after it, the file from FINOPS_BUDGETS_FILE
    budgets = site["tmp"] / "budgets.json"
    budgets.write_text('{"channels": [{"name": "ops", "kind": "slack"}], "budgets": [{"name":'
                       ' "all", "owner": "ops", "currency": "USD", "amount": 1000000,'
                       ' "thresholds": [{"type": "actual", "percent": 80}]}]}')
    r = cron("budget_check", mdb, site, "2026-10-20T18:40:00Z", FINOPS_BUDGETS_FILE=str(budgets))
    assert r.returncode == 99, r.stderr
    # rightsizing, forecasts, drift retraining and idle_stop, as their DAGs would
    for job in ("rightsizing_calc", "forecast_train", "forecast_retrain"):
        r = cron(job, mdb, site, "2026-10-20T18:50:00Z")
        assert r.returncode in (0, 99), (job, r.stderr)
    summaries = [json.loads(x)["msg"] for x in (site["tmp"] / "log" / "forecast_retrain.log")
                 .read_text().splitlines() if '"summary: ' in x]
    assert "none has drifted" in summaries[-1]
    policy = site["tmp"] / "idle-policy.json"
    policy.write_text('{"opt_in": [{"tag": "finops:auto-stop", "values": ["true"]}]}')
    r = cron("idle_stop", mdb, site, "2026-10-21T07:20:00Z", FINOPS_IDLE_POLICY_FILE=str(policy))
    assert r.returncode == 99, r.stderr
    assert "plan (nothing is stopped without --execute)" in \
        (site["tmp"] / "log" / "idle_stop.out").read_text()
    assert cron("idle_stop", mdb, site, "2026-10-21T07:20:00Z").returncode == 2   # no policy
    # JSON lines for Promtail, one summary per run
    lines = [json.loads(line) for line in
             (site["tmp"] / "log" / "billing_ingest.log").read_text().splitlines()]
    assert [x["exit_code"] for x in lines if x["msg"].startswith("summary:")] == [0, 99]


def test_cron_billing_early_in_a_month_before_aws_delivers_it(mdb, site):
    # 2026-11-01 01:00: October is loaded again (AWS finalises it in the first days), and
    # November's folder does not exist yet: left out, not a failure
    r = cron("billing_ingest", mdb, site, "2026-11-01T01:00:00Z")
    assert r.returncode == 0, r.stderr
    assert psql(mdb, "SELECT count(*) FROM finops.billing_line_items") == "6"
    log = (site["tmp"] / "log" / "billing_ingest.log").read_text()
    assert "/20261101-20261201/: not delivered yet (nothing there), left out" in log
    # then, with October loaded, nothing to do; a report root that is not there at all
    # is a wrong name: exit 3
    assert cron("billing_ingest", mdb, site, "2026-11-01T07:00:00Z").returncode == 99
    r = cron("billing_ingest", mdb, site, "2026-11-01T07:00:00Z",
             FINOPS_CUR_REPORT_ROOT=str(site["tmp"] / "bucket" / "typo"))
    assert r.returncode == 3
    assert "(a wrong name, not a period not delivered yet)" in \
        (site["tmp"] / "log" / "billing_ingest.log").read_text()


def test_cron_runs_never_overlap(mdb, site):
    lock = site["tmp"] / "lock"
    lock.mkdir()
    holder = subprocess.Popen(["flock", str(lock / "finops-billing_ingest.lock"), "sleep", "30"])
    try:
        for _ in range(50):
            if subprocess.run(["flock", "-n", str(lock / "finops-billing_ingest.lock"), "true"]
                              ).returncode != 0:
                break
        r = cron("billing_ingest", mdb, site, "2026-10-20T12:00:00Z")
        assert r.returncode == 75
        assert "holds" in (site["tmp"] / "log" / "billing_ingest.log").read_text()
        assert psql(mdb, "SELECT count(*) FROM finops.billing_line_items") == "0"
    finally:
        holder.kill()
        holder.wait()


def dr_reload(db, site, now, *args):
    env = dict(os.environ, FINOPS_BIN_DIR=bindir(), FINOPS_DSN=f"dbname={db}", VAULT_ADDR="",
               FINOPS_CUR_REPORT_ROOT=site["report_root"], FINOPS_PRICING_FILE=site["offer"],
               FINOPS_METRIC_STREAM_PREFIX=site["streams"], FINOPS_NOW=now)
    env.pop("PGDATABASE", None)
    return subprocess.run([os.path.join(DEPLOY, "dr-reload"), *args], env=env,
                          capture_output=True, text=True, timeout=300)


def test_usage_backfill_skips_the_hours_present(mdb, site):
    """usage_ingest --skip-present over 00:00-04:00 with 01:00 loaded: the other
    three hours are loaded, 01:00 is left exactly as it was."""
    assert cron("usage_ingest", mdb, site, "2026-10-05T03:10:00Z").returncode == 0
    hour1 = psql(mdb, "SELECT string_agg(instance_id || run_id || loaded_at, ','"
                      " ORDER BY instance_id) FROM finops.instance_usage_hourly")
    r = run("usage_ingest", "--dsn", f"dbname={mdb}", "--start", "2026-10-05T00:00:00Z",
            "--end", "2026-10-05T04:00:00Z", "--skip-present", site["streams"])
    assert r.code == 0, r.stderr
    assert "1 of 4 hour(s) present already" in r.summary()["msg"]
    # the three hours as a plain load of the window gives them
    rows = ("SELECT string_agg(instance_id || ' ' || hour || ' ' || cpu_avg || ' '"
            " || coalesce(net_in_bytes, -1), ',' ORDER BY instance_id, hour)"
            " FROM finops.instance_usage_hourly WHERE hour <> '2026-10-05T01:00Z'")
    plain = "fo_plain_" + uuid.uuid4().hex[:8]
    psql("postgres", f"CREATE DATABASE {plain}")
    try:
        assert run("finops_migrate", "--dsn", f"dbname={plain}").code == 0
        assert run("usage_ingest", "--dsn", f"dbname={plain}", "--start",
                   "2026-10-05T00:00:00Z", "--end", "2026-10-05T04:00:00Z",
                   site["streams"]).code == 0
        assert psql(mdb, rows) == psql(plain, rows) != ""
    finally:
        psql("postgres", f"DROP DATABASE IF EXISTS {plain} WITH (FORCE)")
    assert psql(mdb, "SELECT count(DISTINCT hour) FROM finops.instance_usage_hourly") == "4"
    assert psql(mdb, "SELECT string_agg(instance_id || run_id || loaded_at, ','"
                     " ORDER BY instance_id) FROM finops.instance_usage_hourly"
                     " WHERE hour = '2026-10-05T01:00Z'") == hour1
    again = run("usage_ingest", "--dsn", f"dbname={mdb}", "--start", "2026-10-05T00:00:00Z",
                "--end", "2026-10-05T04:00:00Z", "--skip-present", site["streams"])
    assert again.code == 99, again.stderr
    assert "every hour of the window has usage already (4)" in again.summary()["msg"]


def test_dr_reload_refuses_what_it_cannot_do(mdb, site):
    # an empty database and no SINCE: it says to give one
    r = dr_reload(mdb, site, "2026-10-05T04:10:00Z")
    assert r.returncode == 2 and "give -s SINCE" in r.stderr, r.stderr
    r = dr_reload(mdb, site, "2026-10-05T04:10:00Z", "-s", "yesterday-ish")
    assert r.returncode == 2 and "not a time" in r.stderr
    # a failing job stops the reload, naming it; what was loaded stays
    r = dr_reload(mdb, site, "2026-10-05T04:10:00Z", "-s", "2026-10-05T00:00:00Z")
    assert r.returncode == 0, r.stdout + r.stderr
    bad = dict(site, offer=str(site["tmp"] / "missing-offer.csv"))
    r = dr_reload(mdb, bad, "2026-10-05T04:10:00Z", "-s", "2026-10-05T00:00:00Z")
    assert r.returncode == 3, r.stdout + r.stderr
    assert "instance_catalog_updater failed (exit 3)" in r.stderr
    assert "billing_ingest" not in r.stdout


def test_backup_restore_and_rerun_after_disaster_recovery(mdb, site):
    load_everything(mdb, site)
    before = psql(mdb, TOTALS)
    backups = site["tmp"] / "backups"
    for _ in range(3):
        r = subprocess.run([os.path.join(DEPLOY, "backup"), "-d", str(backups), "-k", "2", mdb],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    kept = sorted(backups.iterdir())
    assert len(kept) == 2 and all(p.name.endswith(".sql.gz") for p in kept)

    # the disaster: the database is gone
    psql("postgres", f"DROP DATABASE {mdb} WITH (FORCE)")
    restored = "fo_restored_" + uuid.uuid4().hex[:8]
    try:
        env = dict(os.environ, PATH=bindir() + ":" + os.environ["PATH"])
        r = subprocess.run([os.path.join(DEPLOY, "restore"), str(kept[-1]), restored],
                           capture_output=True, text=True, env=env)
        assert r.returncode == 0, r.stderr
        assert psql(restored, TOTALS) == before
        # restoring over it again is refused, and changes nothing
        r = subprocess.run([os.path.join(DEPLOY, "restore"), str(kept[-1]), restored],
                           capture_output=True, text=True, env=env)
        assert r.returncode == 2
        assert "refusing to overwrite" in r.stderr

        # the runbook: deploy/dr-reload re-runs the three ingest jobs in order and
        # backfills the usage hours since the backup (its newest hour is 01:00)
        hour1 = psql(restored, "SELECT string_agg(instance_id || run_id || loaded_at, ','"
                               " ORDER BY instance_id) FROM finops.instance_usage_hourly")
        r = dr_reload(restored, site, "2026-10-05T04:10:00Z")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "reloading since 2026-10-05T02:00:00Z" in r.stdout
        lines = {line.split()[0]: line for line in r.stdout.splitlines()[1:-1]}
        assert list(lines) == ["instance_catalog_updater", "billing_ingest", "usage_ingest"]
        assert "exit 99" in lines["instance_catalog_updater"]
        assert "exit 99" in lines["billing_ingest"]
        assert "exit 0" in lines["usage_ingest"] and "3 instance-hour(s) upserted" in \
            lines["usage_ingest"]
        after = psql(restored, TOTALS).split(" ")
        # billing, prices and loads as they were; the lost hour 02:00 is back
        assert after[0] == before.split(" ")[0] and after[1] == before.split(" ")[1]
        assert after[3] == before.split(" ")[3]
        assert psql(restored, "SELECT string_agg(DISTINCT hour::text, ',') FROM"
                              " finops.instance_usage_hourly") == \
            "2026-10-05 01:00:00+00,2026-10-05 02:00:00+00"
        assert psql(restored, "SELECT string_agg(instance_id || run_id || loaded_at, ','"
                              " ORDER BY instance_id) FROM finops.instance_usage_hourly"
                              " WHERE hour = '2026-10-05T01:00Z'") == hour1
        # again: nothing to do
        again = dr_reload(restored, site, "2026-10-05T04:10:00Z")
        assert again.returncode == 0 and "nothing to backfill" in again.stdout, again.stdout
    finally:
        psql("postgres", f"DROP DATABASE IF EXISTS {restored} WITH (FORCE)")
