"""finops.billing_daily and finops.billing_daily_tags, the aggregates the dashboards
and the exporter read, always sum exactly what billing_line_items holds: after a
first load, a restatement, a load of two periods, thousands of accounts in one
shared partition, a bad file (nothing changes) and a dry run; and the
migration's backfill of data loaded before it computes the same rows."""
import json
import re
from pathlib import Path

from conftest import psql
from curfixtures import LEGACY_COLUMNS, legacy_row, write_csv, write_legacy_delivery
from test_billing_load import fdb, ingest  # noqa: F401 (fdb: a fixture)
from test_hostile_input import FOCUS_COLS, focus_rows

MIGRATION = Path(__file__).resolve().parents[2] / "sql/migrations/0015_observability.sql"

DAILY_FROM_ITEMS = """
SELECT billing_period, source_id, (charge_period_start AT TIME ZONE 'UTC')::date AS d,
       billing_account_id, sub_account_id, service_name, region_id, charge_category,
       billing_currency, count(*), sum(billed_cost), sum(effective_cost), sum(list_cost)
  FROM finops.billing_line_items GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9"""
DAILY = """
SELECT billing_period, source_id, usage_date, billing_account_id, sub_account_id,
       service_name, region_id, charge_category, billing_currency, sum(line_items),
       sum(billed_cost), sum(effective_cost), sum(list_cost)
  FROM finops.billing_daily GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9"""
# string values only, and no key of more than 20,000 (day, value) pairs in a (source, period)
TAGS_FROM_ITEMS = """
SELECT billing_period, source_id, d, billing_account_id, billing_currency, k, v, n, b, e
  FROM (SELECT billing_period, source_id, (charge_period_start AT TIME ZONE 'UTC')::date AS d,
               billing_account_id, billing_currency, t.key AS k, t.value #>> '{}' AS v,
               count(*) AS n, sum(billed_cost) AS b, sum(effective_cost) AS e,
               count(*) OVER (PARTITION BY billing_period, source_id, t.key) AS pairs
          FROM finops.billing_line_items, jsonb_each(tags) t
         WHERE jsonb_typeof(t.value) = 'string' GROUP BY 1, 2, 3, 4, 5, 6, 7) g
 WHERE pairs <= 20000"""
TAGS = """
SELECT billing_period, source_id, usage_date, billing_account_id, billing_currency, tag_key,
       tag_value, line_items, billed_cost, effective_cost FROM finops.billing_daily_tags"""


def differences(db):
    """Rows in one side and not the other, both ways, for both aggregates."""
    q = (f"SELECT (SELECT count(*) FROM (({DAILY_FROM_ITEMS}) EXCEPT ALL ({DAILY})) a)"
         f" + (SELECT count(*) FROM (({DAILY}) EXCEPT ALL ({DAILY_FROM_ITEMS})) b)"
         f" + (SELECT count(*) FROM (({TAGS_FROM_ITEMS}) EXCEPT ALL ({TAGS})) c)"
         f" + (SELECT count(*) FROM (({TAGS}) EXCEPT ALL ({TAGS_FROM_ITEMS})) d)")
    return int(psql(db, q))


SNAPSHOT = ("SELECT count(*) || '|' || coalesce(trim_scale(sum(effective_cost)), 0) || '|'"
            " || coalesce(md5(string_agg(usage_date || service_name || trim_scale(effective_cost),"
            " ',' ORDER BY usage_date, service_name, effective_cost)), '')"
            " FROM finops.billing_daily")


def snapshot(db):
    return psql(db, SNAPSHOT)


def rows(period, days, cost, services=("AmazonEC2", "AmazonS3"), monthly_fee=True):
    out, n = [], 0
    for day in range(1, days + 1):
        for svc in services:
            n += 1
            out.append(legacy_row(
                n, cost=cost, period=period, usage_start=f"{period}-{day:02d}T00:00:00Z",
                **{"lineItem/UsageEndDate": f"{period}-{day:02d}T01:00:00Z",
                   "lineItem/ProductCode": svc, "product/ProductName": svc,
                   "resourceTags/user:team": "payments" if n % 3 else "data",
                   "identity/LineItemId": f"{period}-{n}"}))
    if monthly_fee:   # a month of support, billed on the 1st: last_day is the month's end
        n += 1
        out.append(legacy_row(n, cost="100.00", period=period, usage_start=f"{period}-01T00:00:00Z",
                              **{"lineItem/UsageEndDate": f"{period}-28T00:00:00Z",
                                 "lineItem/ProductCode": "AWSSupportBusiness",
                                 "product/ProductName": "AWS Support (Business)",
                                 "identity/LineItemId": f"{period}-fee"}))
    return out


def test_loads_restatements_and_bad_files_keep_the_aggregates_exact(fdb, tmp_path):
    first = write_legacy_delivery(tmp_path / "a", "rep", "2026-10", "asm-1",
                                  [rows("2026-10", 5, "1.10")], mtime=1_700_000_000)
    assert ingest(fdb, first).code == 0
    assert differences(fdb) == 0
    assert psql(fdb, "SELECT count(*) FROM finops.billing_daily_tags") != "0"
    assert psql(fdb, "SELECT last_day FROM finops.billing_daily"
                     " WHERE service_name = 'AWS Support (Business)'") == "2026-10-27"
    # a restatement with more days and other costs replaces the period's rows
    second = write_legacy_delivery(tmp_path / "b", "rep", "2026-10", "asm-2",
                                   [rows("2026-10", 9, "2.35")], mtime=1_700_100_000)
    assert ingest(fdb, second).code == 0
    assert differences(fdb) == 0
    assert psql(fdb, "SELECT max(usage_date) FROM finops.billing_daily") == "2026-10-09"
    # a second period in one run of two deliveries
    nov = write_legacy_delivery(tmp_path / "c", "rep", "2026-11", "asm-3",
                                [rows("2026-11", 3, "0.70")], mtime=1_700_200_000)
    assert ingest(fdb, nov).code == 0
    assert differences(fdb) == 0
    before = snapshot(fdb)

    # a bad file and a dry run change nothing
    bad = rows("2026-11", 4, "1.00")
    bad[5]["lineItem/UnblendedCost"] = "12,5"
    path = write_csv(tmp_path / "bad.csv", LEGACY_COLUMNS, bad)
    assert ingest(fdb, str(path)).code == 3
    good = write_csv(tmp_path / "good.csv", LEGACY_COLUMNS, rows("2026-11", 4, "9.00"))
    assert ingest(fdb, "--dry-run", str(good)).code == 0
    assert snapshot(fdb) == before
    assert differences(fdb) == 0


def test_thousands_of_accounts_in_one_partition(fdb, tmp_path):
    big = write_csv(tmp_path / "all.csv", FOCUS_COLS, focus_rows(range(1500), "1.25"))
    assert ingest(fdb, "--report-name", "reseller", str(big), timeout=300).code == 0
    assert psql(fdb, "SELECT count(*) || ' ' || sum(effective_cost) FROM finops.billing_daily") \
        == "1500 1875.00"
    one = write_csv(tmp_path / "one.csv", FOCUS_COLS, focus_rows([42], "100.00") * 2)
    assert ingest(fdb, "--report-name", "reseller", str(one)).code == 0
    assert psql(fdb, "SELECT sum(effective_cost) FROM finops.billing_daily") == "2073.75"
    assert differences(fdb) == 0


def test_the_migration_backfill_computes_what_the_loads_maintain(fdb, tmp_path):
    for i, period in enumerate(("2026-09", "2026-10")):
        path = write_legacy_delivery(tmp_path / period, "rep", period, f"asm-{i}",
                                     [rows(period, 6, "3.05")], mtime=1_700_000_000 + i)
        assert ingest(fdb, path).code == 0
    maintained = snapshot(fdb)
    inserts = re.findall(r"^INSERT INTO finops\.billing_daily.*?;$", MIGRATION.read_text(),
                         re.S | re.M)
    assert len(inserts) == 2
    out = psql(fdb, "BEGIN; DELETE FROM finops.billing_daily; DELETE FROM finops.billing_daily_tags;"
               + "".join(inserts) + f"SELECT ({SNAPSHOT}) || '/' || (SELECT count(*)"
               " FROM finops.billing_daily_tags); ROLLBACK;")
    assert out.splitlines()[-1] == maintained + "/" + psql(
        fdb, "SELECT count(*) FROM finops.billing_daily_tags")





def view_of(migration, view):
    """The query of a view as a migration defines it (CREATE [OR REPLACE] VIEW v AS ...;)."""
    text = (MIGRATION.parent / migration).read_text()
    m = re.search(r"CREATE (?:OR REPLACE )?VIEW " + re.escape(view) + r" AS\n(.*?);\n", text,
                  re.S)
    assert m, (migration, view)
    return m.group(1)


# migration 0011's forecast_actuals, as it read the line items before 0015 read the aggregate
OLD_ACTUALS = ("SELECT day, currency, billing_account_id, sub_account_id, service_name,"
               " round(cost, 12) FROM (" + view_of("0011_forecast_actuals_spread_charges.sql",
                                                   "finops.forecast_actuals") + ") o")
NEW_ACTUALS = """
SELECT day, currency, billing_account_id, sub_account_id, service_name, round(cost, 12)
  FROM finops.forecast_actuals"""


def test_forecast_actuals_from_the_aggregate_are_those_of_the_line_items(fdb, tmp_path):
    # three fees that spread over the month (one per account and service), day charges
    first = write_legacy_delivery(tmp_path / "a", "rep", "2026-10", "asm-1",
                                  [rows("2026-10", 12, "1.37", services=("AmazonEC2", "AmazonS3",
                                                                         "AmazonRDS"))])
    assert ingest(fdb, first).code == 0
    assert int(psql(fdb, f"SELECT count(*) FROM (({OLD_ACTUALS}) EXCEPT ALL ({NEW_ACTUALS})) a")) \
        + int(psql(fdb, f"SELECT count(*) FROM (({NEW_ACTUALS}) EXCEPT ALL ({OLD_ACTUALS})) b")) \
        == 0
    # 12 days of 3 services, and the fee on each of its 27 days
    assert psql(fdb, "SELECT count(*) FROM finops.forecast_actuals") == "63"
    assert psql(fdb, "SELECT series_key || ' ' || last_day FROM finops.forecast_series_last_day"
                     " WHERE series_key = 'total'") == "total 2026-10-12"


TAGGED_COLS = FOCUS_COLS + ["Tags"]


def tagged(i, cost, tags, day=2, account="acct1", service="Svc", sub="sub1"):
    return [account, "n", "USD", "2026-10-01 00:00:00", "2026-11-01 00:00:00", "Usage",
            f"2026-10-{day:02d} 00:00:00", f"2026-10-{day:02d} 01:00:00", cost, cost, cost, cost,
            "Acme", service, sub, json.dumps(tags)]


def test_odd_costs_json_tags_and_empty_keys_sum_exactly(fdb, tmp_path):
    """Costs with exponents, more than 18 decimals or 25 integer digits (the sums'
    slow path), credits; JSON tags with non-string values (left out) and duplicate-free
    keys; a service that is empty and one that is absent."""
    costs = ["1.2E-7", "0.0000000000000000000123", "-5.5", "123456789012345678901234.5",
             "0.1", "3", "-0.0000000000000000000123", "7.25E+2"]
    rows = []
    for i, c in enumerate(costs):
        rows.append(tagged(i, c, {"team": "a" if i % 2 else "b", "n": 5, "x": None,
                                  "nested": {"k": "v"}, "env": "prod"},
                           service="" if i == 3 else "Svc", sub="" if i == 4 else "sub1"))
    path = write_csv(tmp_path / "odd.csv", TAGGED_COLS, rows)
    r = ingest(fdb, "--report-name", "odd", str(path))
    assert r.code == 0, r.stderr
    assert differences(fdb) == 0
    assert psql(fdb, "SELECT string_agg(DISTINCT tag_key, ',') FROM finops.billing_daily_tags") \
        == "env,team"
    assert psql(fdb, "SELECT (SELECT sum(effective_cost) FROM finops.billing_daily)"
                     " = (SELECT sum(effective_cost) FROM finops.billing_line_items)") == "t"


def test_a_tag_on_every_resource_is_left_out(fdb, tmp_path):
    rows = [tagged(i, "0.01", {"Name": f"r-{i}", "team": f"t{i % 3}"}, day=1 + i % 2)
            for i in range(20002)]
    path = write_csv(tmp_path / "names.csv", TAGGED_COLS, rows)
    r = ingest(fdb, "--report-name", "names", str(path), timeout=300)
    assert r.code == 0, r.stderr
    assert psql(fdb, "SELECT string_agg(DISTINCT tag_key, ',') FROM finops.billing_daily_tags") \
        == "team"
    assert any("tag Name has more than 20000 (day, value) pairs" in x["msg"]
               for x in r.log_lines()), r.stderr
    assert differences(fdb) == 0
