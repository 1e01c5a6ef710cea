"""The pieces of a fan-out (issue 20) on one machine: billing_ingest
--list-units names the units a report root holds, one JSON line each, with no
database; loading those units as parallel tasks would (and two tasks on the
same unit) leaves exactly what one serial run leaves."""
import json
import uuid

from conftest import psql, run, start
from curfixtures import legacy_row, write_legacy_delivery

TOTALS = ("SELECT count(*) || ' ' || sum(billed_cost) || ' ' || md5(string_agg(line_item_id"
          " || resource_id || billed_cost, ',' ORDER BY line_item_id, resource_id)) FROM"
          " finops.billing_line_items")
LOADS = ("SELECT string_agg(to_char(billing_period, 'YYYY-MM') || ' ' || assembly_id || ' '"
         " || rows_loaded, ', ' ORDER BY billing_period) FROM finops.billing_loads"
         " WHERE status = 'current'")


def bucket(tmp_path):
    """A report root with three periods, the middle one of two files."""
    b = tmp_path / "bucket"
    for k, period in enumerate(("2026-08", "2026-09", "2026-10")):
        files = [[legacy_row(i, period=period) for i in range(40 * (k + 1))]]
        if period == "2026-09":
            files.append([legacy_row(1000 + i, period=period) for i in range(30)])
        write_legacy_delivery(str(b), "finops", period, f"asm-{period}", files)
    return str(b / "finops")


def test_list_units_of_a_report_root_needs_no_database(tmp_path):
    root = bucket(tmp_path)
    r = run("billing_ingest", "--list-units", root,
            env={"PGHOST": "/nonexistent-fo-socket-dir", "PGCONNECT_TIMEOUT": "1"})
    assert r.code == 0, r.stderr
    units = [json.loads(line) for line in r.stdout.splitlines()]
    assert [(u["period"], u["kind"], u["assembly"], u["files"]) for u in units] == [
        ("2026-08-01", "manifest", "asm-2026-08", 1),
        ("2026-09-01", "manifest", "asm-2026-09", 2),
        ("2026-10-01", "manifest", "asm-2026-10", 1)]
    assert units[0]["source"] == root + "/20260801-20260901/"
    assert "3 unit(s) listed" in r.summary()["msg"]
    # a period folder lists as itself; a folder with nothing is bad input
    one = run("billing_ingest", "--list-units", units[1]["source"])
    assert one.code == 0 and json.loads(one.stdout)["assembly"] == "asm-2026-09"
    (tmp_path / "empty").mkdir()
    bad = run("billing_ingest", "--list-units", str(tmp_path / "empty"))
    assert bad.code == 3 and "no billing period folder" in bad.stderr


def test_a_period_not_delivered_yet_is_left_out_only_when_told(db, tmp_path):
    """On a month's first hours the DAG names this month's folder before AWS has
    made it: --skip-undelivered leaves it out (a folder missing or empty, in a root
    that holds something); a root missing or empty as a whole is a wrong name."""
    root = bucket(tmp_path)
    nov = root + "/20261101-20261201/"
    oct_ = root + "/20261001-20261101/"
    assert run("billing_ingest", "--list-units", oct_, nov).code == 3      # not told
    r = run("billing_ingest", "--list-units", "--skip-undelivered", oct_, nov)
    assert r.code == 0, r.stderr
    assert [json.loads(line)["period"] for line in r.stdout.splitlines()] == ["2026-10-01"]
    assert f"{nov}: not delivered yet (nothing there), left out" in r.stderr
    os_mkdir = tmp_path / "bucket" / "finops" / "20261101-20261201"
    os_mkdir.mkdir()                                     # made, still empty
    r = run("billing_ingest", "--list-units", "--skip-undelivered", nov)
    assert r.code == 99 and "0 unit(s) listed" in r.summary()["msg"]
    for wrong in (str(tmp_path / "typo") + "/20261101-20261201/",
                  str(tmp_path / "empty-root") + "/20261101-20261201/"):
        (tmp_path / "empty-root").mkdir(exist_ok=True)
        r = run("billing_ingest", "--list-units", "--skip-undelivered", wrong)
        assert r.code == 3 and "(a wrong name, not a period not delivered yet)" in r.stderr
    # the same when loading: October loads, November is left out; then nothing new
    assert run("finops_migrate", "--dsn", f"dbname={db}").code == 0
    r = run("billing_ingest", "--dsn", f"dbname={db}", "--skip-undelivered", oct_, nov)
    assert r.code == 0, r.stderr
    assert psql(db, LOADS) == "2026-10 asm-2026-10 120"
    assert run("billing_ingest", "--dsn", f"dbname={db}", "--skip-undelivered", nov).code == 99


def test_units_loaded_in_parallel_equal_one_serial_run(db, tmp_path):
    root = bucket(tmp_path)
    units = [json.loads(line)["source"] for line in
             run("billing_ingest", "--list-units", root).stdout.splitlines()]
    other = "fo_fanout_" + uuid.uuid4().hex[:8]
    psql("postgres", f"CREATE DATABASE {other}")
    try:
        for d in (db, other):
            assert run("finops_migrate", "--dsn", f"dbname={d}").code == 0
        serial = run("billing_ingest", "--dsn", f"dbname={db}", *units)
        assert serial.code == 0, serial.stderr
        # one task a unit, at once, and a second task on the same unit as a retry
        # racing the first would: it waits for the (source, period) lock, then finds
        # the assembly loaded (99)
        procs = [start("billing_ingest", "--dsn", f"dbname={other}", "--lock-wait", "60", u)
                 for u in units + [units[1]]]
        codes = []
        for p in procs:
            _, errs = p.communicate(timeout=120)
            codes.append(p.returncode)
            assert p.returncode in (0, 99), errs
        assert sorted(codes) == [0, 0, 0, 99]
        assert psql(other, TOTALS) == psql(db, TOTALS)
        assert psql(other, LOADS) == psql(db, LOADS) == \
            "2026-08 asm-2026-08 40, 2026-09 asm-2026-09 110, 2026-10 asm-2026-10 120"
    finally:
        psql("postgres", f"DROP DATABASE IF EXISTS {other} WITH (FORCE)")
