"""billing_ingest on exports the tests write: restatement, atomicity, bad input."""
import gzip
import json
import os
import subprocess

import pytest

from conftest import psql, run, start, wait_for
from curfixtures import (LEGACY_COLUMNS, PAYER, legacy_row, write_csv,
                         write_legacy_delivery)

REPORT = "cur-report"
FINGERPRINT = ("SELECT count(*) || '|' || coalesce(sum(billed_cost), 0) || '|'"
               " || coalesce(md5(string_agg(line_item_id, ',' ORDER BY line_item_id)), '')"
               " FROM finops.billing_line_items")


@pytest.fixture
def fdb(migrated_db):
    return migrated_db


def ingest(db, *args, **kw):
    return run("billing_ingest", "--dsn", f"dbname={db}", *args, **kw)


def month(db, period="2026-10-01"):
    return psql(db, f"SELECT count(*) || '|' || sum(billed_cost) FROM finops.billing_line_items"
                    f" WHERE billing_period = '{period}'")


def test_restated_period_replaces_previous_load(fdb, tmp_path):
    first = write_legacy_delivery(tmp_path / "a", REPORT, "2026-10", "asm-1",
                                  [[legacy_row(i) for i in range(3)]], mtime=1_700_000_000)
    second = write_legacy_delivery(tmp_path / "b", REPORT, "2026-10", "asm-2",
                                   [[legacy_row(i, cost="5.00") for i in range(10, 12)]],
                                   mtime=1_700_100_000)
    assert ingest(fdb, first).code == 0
    assert month(fdb) == "3|3.00"
    r = ingest(fdb, second)
    assert r.code == 0, r.stderr
    assert month(fdb) == "2|10.00"
    assert psql(fdb, "SELECT string_agg(assembly_id || ':' || status, ',' ORDER BY load_id)"
                     " FROM finops.billing_loads") == "asm-1:replaced,asm-2:current"
    # one partition for the period and source, nothing left of the load tables
    assert psql(fdb, "SELECT count(*) FROM pg_tables WHERE schemaname = 'finops'"
                     " AND tablename LIKE 'billing_line_items_load_%'") == "0"


def test_same_manifest_again_exits_99_unless_forced(fdb, tmp_path):
    m = write_legacy_delivery(tmp_path, REPORT, "2026-10", "asm-1", [[legacy_row(1)]])
    assert ingest(fdb, m).code == 0
    again = ingest(fdb, m)
    assert again.code == 99
    assert "nothing new" in again.stderr
    assert ingest(fdb, "--force", m).code == 0
    assert psql(fdb, "SELECT count(*) FROM finops.billing_loads") == "2"
    assert month(fdb) == "1|1.00"


def test_loaded_manifest_is_skipped_without_reading_its_files(fdb, tmp_path):
    m = write_legacy_delivery(tmp_path, REPORT, "2026-10", "asm-1", [[legacy_row(1)]])
    assert ingest(fdb, m).code == 0
    # the report file may even be gone: the manifest alone says nothing is new
    data = os.path.join(os.path.dirname(m), "asm-1", f"{REPORT}-1.csv.gz")
    os.rename(data, data + ".moved")
    r = ingest(fdb, m)
    assert r.code == 99, r.stderr
    assert r.summary()["rows_read"] == 0
    os.rename(data + ".moved", data)


def test_older_assembly_never_replaces_newer(fdb, tmp_path):
    newer = write_legacy_delivery(tmp_path / "n", REPORT, "2026-10", "asm-new",
                                  [[legacy_row(1, cost="7.00")]], mtime=1_700_100_000)
    older = write_legacy_delivery(tmp_path / "o", REPORT, "2026-10", "asm-old",
                                  [[legacy_row(1, cost="3.00")]], mtime=1_700_000_000)
    assert ingest(fdb, newer).code == 0
    r = ingest(fdb, older)
    assert r.code == 99
    assert "a newer assembly of 2026-10-01 is already loaded" in r.stderr
    assert month(fdb) == "1|7.00"
    assert ingest(fdb, "--force", older).code == 0
    assert month(fdb) == "1|3.00"


def test_manifest_is_one_unit_all_files_or_nothing(fdb, tmp_path):
    good = write_legacy_delivery(tmp_path / "g", REPORT, "2026-10", "asm-1",
                                 [[legacy_row(1)], [legacy_row(2)]], mtime=1_700_000_000)
    assert ingest(fdb, good).code == 0
    before = psql(fdb, FINGERPRINT)
    bad = write_legacy_delivery(tmp_path / "b", REPORT, "2026-10", "asm-2",
                                [[legacy_row(i, cost="9.00") for i in range(5)],
                                 [legacy_row(9, cost="oops")]], mtime=1_700_100_000)
    r = ingest(fdb, bad)
    assert r.code == 3
    error = [x for x in r.log_lines() if x["level"] == "error"][0]["msg"]
    assert "cur-report-2.csv.gz:2: column lineItem/UnblendedCost: \"oops\" is not a number" \
        in error
    assert psql(fdb, FINGERPRINT) == before


def bad_inputs(tmp_path):
    """name -> (path to load, text the error must contain)."""
    cases = {}
    good = [legacy_row(i) for i in range(3)]

    def csvfile(name, rows, columns=LEGACY_COLUMNS):
        return write_csv(tmp_path / name, columns, rows)

    p = csvfile("quote.csv", good)
    with open(p, "a") as f:
        f.write('li-x,"unterminated,' + "," * (len(LEGACY_COLUMNS) - 2) + "\n")
    cases["unterminated quote"] = (p, "quote.csv:5: malformed CSV at the end: unterminated quoted")
    p = csvfile("fields.csv", good)
    with open(p, "a") as f:
        f.write("a,b,c\n")
    cases["wrong field count"] = (p, f"fields.csv:5: 3 fields, the header has {len(LEGACY_COLUMNS)}")
    cases["non-numeric money"] = (
        csvfile("money.csv", good + [legacy_row(4, cost="12,50")]),
        'money.csv:5: column lineItem/UnblendedCost: "12,50" is not a number')
    cases["bad timestamp"] = (
        csvfile("ts.csv", good + [legacy_row(4, usage_start="2026-10-32T00:00:00Z")]),
        'ts.csv:5: column lineItem/UsageStartDate: "2026-10-32T00:00:00Z" is not a valid date')
    cases["bad currency"] = (
        csvfile("currency.csv", good + [legacy_row(4, currency="usd")]),
        'currency.csv:5: column lineItem/CurrencyCode: "usd" is not a currency code')
    cases["missing required column"] = (
        csvfile("nocost.csv", [[r[c] for c in LEGACY_COLUMNS if c != "lineItem/UnblendedCost"]
                               for r in good],
                [c for c in LEGACY_COLUMNS if c != "lineItem/UnblendedCost"]),
        "nocost.csv:1: required column lineItem/UnblendedCost is missing")
    p = tmp_path / "empty.csv"
    p.write_bytes(b"")
    cases["empty file"] = (p, "empty.csv: empty file")
    p = tmp_path / "truncated.csv.gz"
    data = gzip.compress(open(csvfile("big.csv", [legacy_row(i) for i in range(2000)]), "rb")
                         .read())
    p.write_bytes(data[: len(data) * 2 // 3])
    cases["truncated gzip"] = (p, "truncated.csv.gz:")
    m = write_legacy_delivery(tmp_path / "m", REPORT, "2026-10", "asm-9", [good, good])
    os.remove(os.path.join(os.path.dirname(m), "asm-9", f"{REPORT}-2.csv.gz"))
    cases["manifest naming a missing file"] = (
        m, f"report file {REPORT}/20261001-20261101/asm-9/{REPORT}-2.csv.gz named by the"
           " manifest was not found")
    return cases


@pytest.mark.parametrize("case", [
    "unterminated quote", "wrong field count", "non-numeric money", "bad timestamp",
    "bad currency", "missing required column", "empty file", "truncated gzip",
    "manifest naming a missing file"])
def test_bad_input_exits_3_naming_the_place_and_changes_nothing(fdb, tmp_path, case):
    previous = write_legacy_delivery(tmp_path / "prev", "default", "2026-10", "asm-0",
                                     [[legacy_row(i, cost="2.50") for i in range(4)]])
    assert ingest(fdb, previous).code == 0
    before = psql(fdb, FINGERPRINT)
    loads = psql(fdb, "SELECT count(*) FROM finops.billing_loads")
    path, message = bad_inputs(tmp_path)[case]
    r = ingest(fdb, str(path))
    assert r.code == 3, r.stderr
    errors = [x for x in r.log_lines() if x["level"] == "error"]
    assert message in errors[0]["msg"]
    if case == "truncated gzip":
        assert "truncated gzip file" in errors[0]["msg"]
    assert psql(fdb, FINGERPRINT) == before
    assert psql(fdb, "SELECT count(*) FROM finops.billing_loads") == loads
    assert psql(fdb, "SELECT status || ':' || exit_code FROM finops.job_runs"
                     " ORDER BY run_id DESC LIMIT 1") == "failed:3"


def test_killed_connection_mid_load_leaves_the_previous_month(fdb, tmp_path):
    first = write_legacy_delivery(tmp_path / "a", REPORT, "2026-10", "asm-1",
                                  [[legacy_row(i) for i in range(3)]], mtime=1_700_000_000)
    assert ingest(fdb, first).code == 0
    before = psql(fdb, FINGERPRINT)
    second = write_legacy_delivery(tmp_path / "b", REPORT, "2026-10", "asm-2",
                                   [[legacy_row(i, cost="4.00") for i in range(5000)]],
                                   mtime=1_700_100_000)
    # Hold the audit table: the load parses and copies everything, then waits
    # for it, with its new month built but not committed.
    # (held before the load starts: on a busy machine psql may start after it)
    blocker = subprocess.Popen(["psql", "-X", "-q", "-A", "-t", "-d", fdb], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    blocker.stdin.write("BEGIN; LOCK TABLE finops.billing_loads IN ACCESS EXCLUSIVE MODE;\n"
                        "\\echo locked\n")
    blocker.stdin.flush()
    while blocker.stdout.readline().strip() != "locked":
        assert blocker.poll() is None, "psql ended before taking the lock"
    try:
        proc = start("billing_ingest", "--dsn", f"dbname={fdb}", second)
        # this test's database only: other tests run in the same cluster at the same time
        waiting = ("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                   f"'billing_ingest' AND wait_event_type = 'Lock' AND datname = '{fdb}'")
        assert wait_for(lambda: psql("postgres", waiting) == "1", timeout=60)
        psql("postgres", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                         f" WHERE application_name = 'billing_ingest' AND datname = '{fdb}'")
        out, err = proc.communicate(timeout=60)
    finally:
        blocker.kill()
        blocker.wait()
    assert proc.returncode == 4, err
    assert "connection to the database lost" in err or "terminating connection" in err
    assert psql(fdb, FINGERPRINT) == before
    assert month(fdb) == "3|3.00"


def test_effective_cost_follows_the_cid_rule_for_each_line_item_type(fdb, tmp_path):
    rows = [
        legacy_row(1, "Usage", cost="1.10"),
        legacy_row(2, "SavingsPlanCoveredUsage", cost="2.00",
                   **{"savingsPlan/SavingsPlanEffectiveCost": "1.40",
                      "savingsPlan/SavingsPlanARN": "arn:aws:savingsplans::1:savingsplan/x"}),
        legacy_row(3, "SavingsPlanRecurringFee", cost="10.00",
                   **{"savingsPlan/TotalCommitmentToDate": "10.00",
                      "savingsPlan/UsedCommitment": "8.75"}),
        legacy_row(4, "SavingsPlanNegation", cost="-2.00"),
        legacy_row(5, "SavingsPlanUpfrontFee", cost="300.00"),
        legacy_row(6, "DiscountedUsage", cost="0",
                   **{"reservation/EffectiveCost": "0.062",
                      "reservation/ReservationARN": "arn:aws:ec2:us-east-1:1:reserved-instances/r"}),
        legacy_row(7, "RIFee", cost="50.00",
                   **{"reservation/UnusedAmortizedUpfrontFeeForBillingPeriod": "3.25",
                      "reservation/UnusedRecurringFee": "1.50"}),
        legacy_row(8, "Fee", cost="1000.00",
                   **{"reservation/ReservationARN": "arn:aws:ec2:us-east-1:1:reserved-instances/r"}),
        legacy_row(9, "Fee", cost="25.00"),
        legacy_row(10, "Tax", cost="0.80"),
        legacy_row(11, "Credit", cost="-5.00"),
        legacy_row(12, "Refund", cost="-1.00"),
    ]
    path = write_csv(tmp_path / "types.csv", LEGACY_COLUMNS, rows)
    r = ingest(fdb, path)
    assert r.code == 0, r.stderr
    got = psql(fdb, "SELECT string_agg(line_item_type || '=' || effective_cost::text || '/'"
                    " || charge_category, ' ' ORDER BY line_item_id) FROM finops.billing_line_items")
    assert got == ("Usage=1.10/Usage SavingsPlanCoveredUsage=1.40/Usage"
                   " SavingsPlanRecurringFee=1.25/Purchase SavingsPlanNegation=0/Usage"
                   " SavingsPlanUpfrontFee=0/Purchase DiscountedUsage=0.062/Usage"
                   " RIFee=4.75/Purchase Fee=0/Purchase Fee=25.00/Purchase Tax=0.80/Tax"
                   " Credit=-5.00/Credit Refund=-1.00/Credit")


def test_split_cost_allocation_rows_do_not_double_count(fdb, tmp_path):
    parent = legacy_row(1, cost="10.00", **{"lineItem/ResourceId": "i-0parent"})
    tasks = [legacy_row(n, cost="0", **{"lineItem/ResourceId": f"arn:aws:ecs:task/{n}",
                                        "splitLineItem/ParentResourceId": "i-0parent",
                                        "splitLineItem/SplitCost": split,
                                        "splitLineItem/UnusedCost": unused})
             for n, split, unused in [(2, "6.00", "0.50"), (3, "3.00", "0.50")]]
    path = write_csv(tmp_path / "split.csv", LEGACY_COLUMNS, [parent] + tasks)
    assert ingest(fdb, path).code == 0
    assert psql(fdb, "SELECT sum(billed_cost) || '|' || sum(effective_cost) || '|'"
                     " || sum(split_cost + split_unused_cost)"
                     " FROM finops.billing_line_items") == "10.00|10.00|10.00"


def test_currencies_are_never_added_together(fdb, tmp_path):
    path = write_csv(tmp_path / "fx.csv", LEGACY_COLUMNS,
                     [legacy_row(1, cost="1.00"), legacy_row(2, cost="2.00", currency="EUR"),
                      legacy_row(3, cost="3.00")])
    r = ingest(fdb, path)
    assert r.code == 0
    totals = json.loads(psql(fdb, "SELECT totals FROM finops.billing_loads"))
    assert totals["USD"]["billed_cost"] == 4.0 and totals["USD"]["rows"] == 2
    assert totals["EUR"]["billed_cost"] == 2.0 and totals["EUR"]["rows"] == 1
    assert "billed USD 4, EUR 2" in r.stderr


def test_cur2_manifest_with_data_files_and_tag_maps(fdb, tmp_path):
    columns = ["identity_line_item_id", "bill_payer_account_id", "bill_payer_account_name",
               "bill_billing_period_start_date", "line_item_usage_account_id",
               "line_item_line_item_type", "line_item_usage_start_date",
               "line_item_currency_code", "line_item_unblended_cost", "product_instance_type",
               "resource_tags", "cost_category"]
    rows = [[f"id{i}", PAYER, "Payer", "2026-10-01T00:00:00.000Z", "444455556666", "Usage",
             "2026-10-02T03:00:00.000Z", "USD", f"{i}.25", "m7g.large",
             json.dumps({"user_team": "search"}), json.dumps({"unit": "ads"})] for i in range(4)]
    data = tmp_path / "cur2" / "data" / "BILLING_PERIOD=2026-10"
    meta = tmp_path / "cur2" / "metadata" / "BILLING_PERIOD=2026-10"
    data.mkdir(parents=True)
    meta.mkdir(parents=True)
    write_csv(data / "exp-00001.csv.gz", columns, rows[:2], gz=True)
    write_csv(data / "exp-00002.csv.gz", columns, rows[2:], gz=True)
    manifest = meta / "exp-Manifest.json"
    manifest.write_text(json.dumps({
        "exportName": "exp", "executionId": "exec-1",
        "billingPeriod": {"start": "2026-10-01T00:00:00.000Z", "end": "2026-11-01T00:00:00.000Z"},
        "dataFiles": [f"s3://bucket/cur2/data/BILLING_PERIOD=2026-10/exp-0000{i}.csv.gz"
                      for i in (1, 2)]}))
    r = ingest(fdb, str(manifest))
    assert r.code == 0, r.stderr
    assert month(fdb) == "4|7.00"
    assert psql(fdb, "SELECT DISTINCT tags->>'user_team' || '|' || (cost_categories->>'unit')"
                     " || '|' || instance_type || '|' || format FROM finops.billing_line_items"
                     " JOIN finops.billing_loads USING (load_id, source_id, billing_period)") \
        == "search|ads|m7g.large|aws-cur2"
    assert psql(fdb, "SELECT report_name FROM finops.billing_sources") == "exp"


def test_dry_run_reads_everything_and_writes_nothing(fdb, tmp_path):
    m = write_legacy_delivery(tmp_path, REPORT, "2026-10", "asm-1", [[legacy_row(1)]])
    r = ingest(fdb, "--dry-run", m)
    assert r.code == 0, r.stderr
    assert "dry run: would load 1 rows" in r.stderr
    assert psql(fdb, FINGERPRINT) == "0|0|"
    assert psql(fdb, "SELECT count(*) FROM finops.billing_sources") == "0"


def test_second_run_on_the_same_period_exits_4(fdb, tmp_path, hold_lock):
    m = write_legacy_delivery(tmp_path, REPORT, "2026-10", "asm-1", [[legacy_row(1)]])
    hold_lock(fdb, f"finops:billing_ingest:aws_cur/{PAYER}/{REPORT}/2026-10")
    r = ingest(fdb, m)
    assert r.code == 4
    assert f"another billing_ingest run is working on scope 'aws_cur/{PAYER}/{REPORT}/2026-10'" \
        in r.stderr
    assert psql(fdb, FINGERPRINT) == "0|0|"


def test_job_runs_records_the_load(fdb, tmp_path):
    m = write_legacy_delivery(tmp_path, REPORT, "2026-10", "asm-1",
                              [[legacy_row(i) for i in range(3)]])
    assert ingest(fdb, m).code == 0
    row = psql(fdb, "SELECT status || '|' || scope || '|' || rows_written || '|'"
                    " || (details->'units'->0->>'assembly_id')"
                    " FROM finops.job_runs ORDER BY run_id DESC LIMIT 1")
    assert row == f"succeeded|aws_cur/{PAYER}/{REPORT}/2026-10|3|asm-1"


def test_readers_see_the_old_or_the_new_month_never_a_mix(fdb, tmp_path):
    deliveries = [write_legacy_delivery(tmp_path / str(k), REPORT, "2026-10", f"asm-{k}",
                                        [[legacy_row(i, cost=f"{k}.00") for i in range(400)]],
                                        mtime=1_700_000_000 + k)
                  for k in range(1, 5)]
    assert ingest(fdb, deliveries[0]).code == 0
    seen = set()
    for d in deliveries[1:]:
        proc = start("billing_ingest", "--dsn", f"dbname={fdb}", d)
        while proc.poll() is None:
            seen.add(psql(fdb, "SELECT count(*) || '|' || count(DISTINCT billed_cost)"
                               " FROM finops.billing_line_items"))
        assert proc.returncode == 0
    assert seen, "no snapshot was taken while loading"
    # every snapshot is one whole month: 400 rows of one price
    assert seen <= {"400|1"}
    assert month(fdb) == "400|1600.00"


def test_back_to_back_runs_never_find_the_lock_still_held(fdb, tmp_path):
    # cron and retries start a run the moment the previous one exits
    path = write_csv(tmp_path / "one.csv", LEGACY_COLUMNS, [legacy_row(1)])
    for _ in range(15):
        r = ingest(fdb, "--force", str(path))
        assert r.code == 0, r.stderr
