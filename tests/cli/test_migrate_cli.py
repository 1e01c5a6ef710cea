"""finops_migrate as an operator runs it, and what every job checks first."""
import json
import os
import signal
import time

from conftest import psql, run, start, wait_for


def test_migrate_twice_applies_once_and_exits_0_both_times(db):
    first = run("finops_migrate", "--dsn", f"dbname={db}")
    assert first.code == 0, first.stderr
    applied = int(psql(db, "SELECT count(*) FROM finops.schema_migrations"))
    assert applied >= 1
    assert first.summary()["rows_written"] == applied
    second = run("finops_migrate", "--dsn", f"dbname={db}")
    assert second.code == 0, second.stderr
    assert second.summary()["rows_written"] == 0
    assert "0 migration(s) applied now" in second.summary()["msg"]
    assert psql(db, "SELECT count(*) FROM finops.schema_migrations") == str(applied)


def test_check_exits_2_until_migrated(db):
    r = run("finops_migrate", "--check", "--dsn", f"dbname={db}")
    assert r.code == 2
    assert "run finops_migrate first" in r.stderr
    assert run("finops_migrate", "--dsn", f"dbname={db}").code == 0
    assert run("finops_migrate", "--check", "--dsn", f"dbname={db}").code == 0


def test_dry_run_changes_nothing(db):
    r = run("finops_migrate", "--dry-run", "--dsn", f"dbname={db}")
    assert r.code == 0, r.stderr
    assert "would apply migration 0001_foundation" in r.stderr
    assert psql(db, "SELECT to_regnamespace('finops') IS NULL") == "t"


def test_second_run_is_kept_out_by_the_lock_and_exits_4(db, hold_lock):
    holder = hold_lock(db, "finops:finops_migrate:schema")
    r = run("finops_migrate", "--dsn", f"dbname={db}", "--lock-wait", "0")
    assert r.code == 4, r.stderr
    err = [x for x in r.log_lines() if x["level"] == "error"][0]
    assert "another finops_migrate run is working on scope 'schema'" in err["msg"]
    assert "--lock-wait" in err["msg"]
    assert psql(db, "SELECT to_regnamespace('finops') IS NULL") == "t"
    holder.release()
    assert run("finops_migrate", "--dsn", f"dbname={db}").code == 0


def test_lock_wait_lets_the_second_run_finish_after_the_first(db, hold_lock):
    holder = hold_lock(db, "finops:finops_migrate:schema")
    proc = start("finops_migrate", "--lock-wait", "60", "--dsn", f"dbname={db}")
    time.sleep(1.5)
    assert proc.poll() is None   # still waiting
    holder.release()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "another run holds the lock" in err


def test_password_is_hidden_from_process_title_and_logs(db, hold_lock):
    secret = "sekrit-Pw-4711"
    hold_lock(db, "finops:finops_migrate:schema")
    proc = start("finops_migrate", "--lock-wait", "60",
                 "--dsn", f"dbname={db} password={secret}")
    cmdline = f"/proc/{proc.pid}/cmdline"
    assert wait_for(lambda: os.path.exists(cmdline) and b"dbname" in open(cmdline, "rb").read())
    # give the binary time to parse its options and start waiting
    time.sleep(1.0)
    title = open(cmdline, "rb").read()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert secret.encode() not in title
    assert b"[REDACTED]" in title
    assert secret not in err
    assert secret not in out


def test_sigterm_while_waiting_exits_4_promptly(db, hold_lock):
    hold_lock(db, "finops:finops_migrate:schema")
    proc = start("finops_migrate", "--lock-wait", "600", "--dsn", f"dbname={db}")
    time.sleep(1.0)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - t0 < 5
    assert proc.returncode == 4, err
    assert "interrupted by signal 15" in err


def test_applying_runs_are_listed_in_job_runs_with_the_jobs(db):
    """finops_migrate records its runs once job_runs exists (its own first
    migration creates it), started when the process started; checks and dry
    runs write nothing."""
    first = run("finops_migrate", "--dsn", f"dbname={db}")
    assert first.code == 0, first.stderr
    assert run("finops_migrate", "--dsn", f"dbname={db}", "--check").code == 0
    assert run("finops_migrate", "--dsn", f"dbname={db}", "--dry-run").code == 0
    again = run("finops_migrate", "--dsn", f"dbname={db}")
    assert again.code == 0
    rows = psql(db, "SELECT job, status, exit_code, rows_written, finished_at >= started_at,"
                    " run_id = (SELECT max(run_id) FROM finops.job_runs)"
                    " FROM finops.job_runs ORDER BY run_id").splitlines()
    applied = psql(db, "SELECT count(*) FROM finops.schema_migrations")
    assert rows == [f"finops_migrate|succeeded|0|{applied}|t|f", "finops_migrate|succeeded|0|0|t|t"]
    assert first.summary()["run_id"] >= 1
    # started before the schema existed: before the first migration was applied
    assert psql(db, "SELECT min(r.started_at) <= min(m.applied_at) FROM finops.job_runs r,"
                    " finops.schema_migrations m") == "t"


def test_concurrent_runs_all_wait_their_turn_and_exit_0(db):
    """Four finops_migrate at once on an empty database: one migrates, the
    others wait for it (their default) and find the schema current."""
    procs = [start("finops_migrate", "--dsn", f"dbname={db}") for _ in range(4)]
    results = [p.communicate(timeout=120) for p in procs]
    codes = [p.returncode for p in procs]
    assert codes == [0, 0, 0, 0], [err for _, err in results]
    applied = [int(json.loads([line for line in err.splitlines() if "summary:" in line][0])
                   ["rows_written"]) for _, err in results]
    n = int(psql(db, "SELECT count(*) FROM finops.schema_migrations"))
    assert sorted(applied) == [0, 0, 0, n]


def test_a_database_migrated_by_a_newer_release_is_refused(db):
    assert run("finops_migrate", "--dsn", f"dbname={db}").code == 0
    psql(db, "INSERT INTO finops.schema_migrations (version, name, checksum_sha256, duration_ms)"
             " VALUES (9000, '9000_from_the_future', repeat('0', 64), 1)")
    for args in ([], ["--check"]):
        r = run("finops_migrate", "--dsn", f"dbname={db}", *args)
        assert r.code == 2, r.stderr
        msg = [x for x in r.log_lines() if x["level"] == "error"][0]["msg"]
        assert "the database schema is newer than this binary: it has migration" \
               " 9000_from_the_future" in msg
        assert "this binary knows up to 00" in msg
    r = run("forecast_train", "--dsn", f"dbname={db}")
    assert r.code == 2, r.stderr
    assert "the database schema is newer than this binary" in r.stderr
