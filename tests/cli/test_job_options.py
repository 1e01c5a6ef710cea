"""Options are checked before any connection: a misconfigured task exits the
same whether the database is up or down, so Airflow never retries a usage
error as if it were transient (4), and an input that does not exist is bad
input (3) for every job alike."""
import os
import time

import pytest

from conftest import run

# a database that is down: a socket directory with no server in it (retried as transient)
DOWN = {"PGHOST": "/nonexistent-fo-socket-dir", "PGCONNECT_TIMEOUT": "1"}

USAGE_ERRORS = [
    ("usage_ingest", []),                                                  # no --start
    ("usage_ingest", ["--start", "2026-10-01T00:00:00Z"]),                 # no --end
    ("usage_ingest", ["--start", "2026-10-01T00:30:00Z", "--end", "2026-10-02T00:00:00Z"]),
    ("usage_ingest", ["--start", "2026-10-02T00:00:00Z", "--end", "2026-10-01T00:00:00Z"]),
    ("usage_ingest", ["--start", "2026-10-01T00:00:00Z", "--end", "2026-10-02T00:00:00Z",
                      "--instance", "i-0abc", "/dev/null"]),
    ("forecast_train", ["--dimensions", "foo"]),
    ("forecast_train", ["--dimensions", "total,"]),
    ("forecast_train", ["--dimensions", ""]),
    ("rightsizing_calc", ["--end", "yesterday"]),
    ("billing_ingest", []),                                                # no source
    ("instance_catalog_updater", ["--from-file", "/dev/null", "--region", "us-east-1",
                                  "--region", "eu-west-1"]),
]


@pytest.mark.parametrize("binary,args", USAGE_ERRORS)
def test_usage_errors_exit_2_whether_or_not_the_database_is_up(db, binary, args):
    up = run(binary, "--dsn", f"dbname={db}", *args)
    assert up.code == 2, up.stderr
    began = time.monotonic()
    down = run(binary, *args, env=DOWN)
    assert down.code == 2, down.stderr
    assert "will retry" not in down.stderr
    assert time.monotonic() - began < 5
    # the same message either way, naming the option
    assert up.log_lines()[0]["msg"] == down.log_lines()[0]["msg"]


MISSING = "/nonexistent-fo-input/report-Manifest.json"


@pytest.mark.parametrize("binary,args", [
    ("billing_ingest", [MISSING]),
    ("usage_ingest", ["--start", "2026-10-01T00:00:00Z", "--end", "2026-10-02T00:00:00Z",
                      MISSING]),
    ("instance_catalog_updater", ["--from-file", MISSING]),
])
def test_a_missing_input_exits_3_for_every_job_database_up_or_down(db, binary, args):
    for env in ({}, DOWN):
        dsn = ["--dsn", f"dbname={db}"] if not env else []
        r = run(binary, *dsn, *args, env=env)
        assert r.code == 3, r.stderr
        rec = r.log_lines()[0]
        assert rec["msg"] == f"{MISSING}: No such file or directory"
        assert rec["exit_code"] == 3 and rec["error_class"] == "bad_input"
        assert "will retry" not in r.stderr


def test_no_database_configured_says_how_to_give_one():
    """Nothing names a database and no server listens on libpq's default
    socket: exit 2 at once, saying every way to give one."""
    if os.path.exists("/var/run/postgresql/.s.PGSQL.5432"):
        pytest.skip("a PostgreSQL server listens on the default socket of this machine")
    env = {k: None for k in ("PGHOST", "PGHOSTADDR", "PGSERVICE", "PGDATABASE", "PGUSER",
                           "PGPORT", "FINOPS_DSN", "FINOPS_DSN_FILE", "VAULT_ADDR")}
    began = time.monotonic()
    r = run("forecast_train", env=env)
    assert r.code == 2, r.stderr
    assert time.monotonic() - began < 5
    assert "will retry" not in r.stderr
    msg = r.log_lines()[0]["msg"]
    assert "/var/run/postgresql/.s.PGSQL.5432" in msg
    for way in ("--dsn", "FINOPS_DSN", "VAULT_ADDR", "PGHOST"):
        assert way in msg


def test_a_database_named_but_down_is_still_retried_as_transient():
    r = run("forecast_train", env=dict(DOWN, PGCONNECT_TIMEOUT="1"), timeout=60)
    assert r.code == 4, r.stderr
    assert "will retry" in r.stderr


def help_columns(out):
    """The column where each option's help text starts, option lines and
    continuation lines alike."""
    cols = []
    for line in out.splitlines():
        if line.startswith("  -") or line.startswith("      --"):
            left = line.lstrip()
            gap = left.find("  ")
            if gap < 0:
                continue            # the name alone; its help follows on the next line
            after = left[gap:]
            cols.append(len(line) - len(after) + (len(after) - len(after.lstrip())))
        elif line.startswith("          ") and line.strip():
            cols.append(len(line) - len(line.lstrip()))
    return cols


@pytest.mark.parametrize("binary", ["rightsizing_calc", "forecast_train", "usage_ingest",
                                    "billing_ingest", "instance_catalog_updater"])
def test_help_lines_are_aligned(binary):
    out = run(binary, "--help").stdout
    cols = help_columns(out)
    assert len(cols) > 10
    assert len(set(cols)) == 1, out


def test_help_says_what_the_headroom_options_accept():
    out = run("rightsizing_calc", "--help").stdout
    assert out.count("0 to 90 (default 20)") == 2
    assert "0, 20 (default) or 30" not in out
    for v, code in (("90", 0), ("91", 2), ("-1", 2)):
        r = run("rightsizing_calc", "--cpu-headroom", v, "--help")
        assert r.code == code, (v, r.stderr)
