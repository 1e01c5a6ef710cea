"""Command-line behaviour of every binary: help, version, exit codes, logs."""
import json

import pytest

from conftest import BINARIES, run


@pytest.mark.parametrize("binary", BINARIES)
def test_help_prints_usage_and_exits_0(binary):
    r = run(binary, "--help")
    assert r.code == 0, r.stderr
    assert f"Usage: {binary} " in r.stdout
    assert "Exit codes: 0 done, 99 nothing new" in r.stdout
    assert r.stderr == ""
    assert run(binary, "-h").stdout == r.stdout


@pytest.mark.parametrize("binary", BINARIES)
def test_version_names_binary_and_libraries_and_exits_0(binary):
    r = run(binary, "--version")
    assert r.code == 0
    first, second = r.stdout.splitlines()[:2]
    assert first.startswith(f"{binary} (finops-pipeline) ")
    for lib in ("libpq", "libcurl", "jansson", "libcsv", "zlib"):
        assert lib in second
    assert run(binary, "-V").code == 0


@pytest.mark.parametrize("binary", BINARIES)
@pytest.mark.parametrize("args", [["--no-such-option"], ["-x"], ["--log-format", "xml"],
                                  ["--lock-wait", "soon"], ["--dsn"]])
def test_bad_options_exit_2_with_a_json_error(binary, args):
    r = run(binary, *args)
    assert r.code == 2, r.stderr
    lines = r.log_lines()
    assert len(lines) == 1
    assert lines[0]["level"] == "error"
    assert lines[0]["job"] == binary
    assert lines[0]["exit_code"] == 2
    assert f"Try '{binary} --help'" in r.stderr
    assert r.stdout == ""


def test_log_format_text_is_plain(db):
    r = run("finops_migrate", "--dsn", f"dbname={db}", "--log-format", "text")
    assert r.code == 0, r.stderr
    assert r.stderr.strip()
    for line in r.stderr.splitlines():
        with pytest.raises(json.JSONDecodeError):
            json.loads(line)
        assert " finops_migrate: " in line


def test_log_format_from_environment(db):
    r = run("finops_migrate", "--dsn", f"dbname={db}", env={"FINOPS_LOG_FORMAT": "text"})
    assert r.code == 0
    assert r.stderr.splitlines()[-1].split(" ")[1] == "info"


def test_json_lines_carry_ts_level_job_msg(db):
    r = run("finops_migrate", "--dsn", f"dbname={db}", "--log-level", "debug")
    assert r.code == 0, r.stderr
    lines = r.log_lines()
    assert len(lines) >= 2
    for rec in lines:
        assert list(rec)[:4] == ["ts", "level", "job", "msg"]
        assert rec["job"] == "finops_migrate"
        assert rec["ts"].endswith("Z")


def test_unreachable_database_exits_4():
    r = run("finops_migrate", "--dsn", "host=/nonexistent-dir port=5999 connect_timeout=2")
    assert r.code == 4, r.stderr
    assert r.summary()["exit_code"] == 4
    assert "database not available after 5 attempts" in r.stderr


def test_missing_database_exits_2_without_retrying():
    r = run("finops_migrate", "--dsn", "dbname=fo_cli_no_such_db")
    assert r.code == 2, r.stderr
    assert "fo_cli_no_such_db" in r.stderr
    assert "will retry" not in r.stderr
