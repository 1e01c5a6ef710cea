"""billing_ingest on the real public samples in ../shared/data.

The expected totals are computed here from the raw CSV with Python's csv
module and Decimal, independently of the C code and of the database.
"""
import csv
import gzip
import os
import re
from collections import defaultdict
from decimal import Decimal

import pytest

from conftest import psql, run

SHARED = os.path.join(os.environ.get("FINOPS_SOURCE_DIR", ""), "..", "shared", "data")
CUR = os.path.join(SHARED, "aws-cur")

pytestmark = pytest.mark.skipif(
    not os.path.isdir(CUR), reason=f"{CUR} is absent: the real-sample tests need ../shared/data")


def raw_rows(path):
    opener = gzip.open if open(path, "rb").read(2) == b"\x1f\x8b" else open
    with opener(path, "rt", newline="", encoding="utf-8") as f:
        yield from csv.DictReader(f)


def dec(v):
    return Decimal(v) if v not in ("", "NULL") else None


def cid_effective_cost(r, get):
    """The CID amortisation rule, written again here from its definition."""
    t = get(r, "lineItem/LineItemType")
    z = lambda name: dec(get(r, name)) or Decimal(0)
    if t == "SavingsPlanCoveredUsage":
        return z("savingsPlan/SavingsPlanEffectiveCost")
    if t == "SavingsPlanRecurringFee":
        return z("savingsPlan/TotalCommitmentToDate") - z("savingsPlan/UsedCommitment")
    if t in ("SavingsPlanNegation", "SavingsPlanUpfrontFee"):
        return Decimal(0)
    if t == "DiscountedUsage":
        return z("reservation/EffectiveCost")
    if t == "RIFee":
        return (z("reservation/UnusedAmortizedUpfrontFeeForBillingPeriod")
                + z("reservation/UnusedRecurringFee"))
    if t == "Fee" and get(r, "reservation/ReservationARN"):
        return Decimal(0)
    return z("lineItem/UnblendedCost")


def legacy_get(row, name):
    """A legacy CUR column, also from files with Athena-style snake_case names."""
    if name in row:
        return row[name] or ""
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).replace("/", "_").lower()
    return row.get(snake, "") or ""


def expected_cur(files):
    """(payer, line item type, currency) -> [rows, billed, effective]."""
    out = defaultdict(lambda: [0, Decimal(0), Decimal(0)])
    for path in files:
        for r in raw_rows(path):
            key = (legacy_get(r, "bill/PayerAccountId"), legacy_get(r, "lineItem/LineItemType"),
                   legacy_get(r, "lineItem/CurrencyCode"))
            t = out[key]
            t[0] += 1
            t[1] += dec(legacy_get(r, "lineItem/UnblendedCost"))
            t[2] += cid_effective_cost(r, legacy_get)
    return dict(out)


def loaded(db, group):
    rows = psql(db, f"SELECT {group}, billing_currency, count(*), sum(billed_cost),"
                    f" sum(effective_cost) FROM finops.billing_line_items GROUP BY 1, 2, 3")
    out = {}
    for line in rows.splitlines():
        a, b, c, n, billed, eff = line.split("|")
        out[(a, b, c)] = [int(n), Decimal(billed), Decimal(eff)]
    return out


def migrate(db):
    assert run("finops_migrate", "--dsn", f"dbname={db}").code == 0


@pytest.mark.parametrize("source,files", [
    ("focus-converters-sample-anonymous-aws-export.csv",
     ["focus-converters-sample-anonymous-aws-export.csv"]),
    ("koku-local/20180801-20180901/koku-local-Manifest.json",
     ["koku-local/20180801-20180901/16e57707-f9e3-49be-8be6-b84e684b5194/koku-local-1.csv.gz"]),
    ("koku-local_bucket/20191001-20191101/local_bucket-Manifest.json",
     ["koku-local_bucket/20191001-20191101/c0eb888a-5aa9-48ae-8a1c-171729d05d68/"
      "local_bucket-1.csv.gz"]),
    ("koku-2023-06-01.csv", ["koku-2023-06-01.csv"]),
    ("koku-2023-06-01-not-final.csv", ["koku-2023-06-01-not-final.csv"]),
    ("koku-2022-07-01-alt-columns.csv", ["koku-2022-07-01-alt-columns.csv"]),
])
def test_cur_sample_totals_equal_an_independent_count(db, source, files):
    migrate(db)
    r = run("billing_ingest", "--dsn", f"dbname={db}", os.path.join(CUR, source))
    assert r.code == 0, r.stderr
    want = expected_cur([os.path.join(CUR, f) for f in files])
    got = loaded(db, "billing_account_id, coalesce(line_item_type, '')")
    assert got == want
    assert r.summary()["rows_written"] == sum(v[0] for v in want.values())


def test_cur_totals_per_usage_account(db):
    migrate(db)
    path = os.path.join(CUR, "focus-converters-sample-anonymous-aws-export.csv")
    assert run("billing_ingest", "--dsn", f"dbname={db}", path).code == 0
    want = defaultdict(Decimal)
    for r in raw_rows(path):
        want[r["lineItem/UsageAccountId"]] += Decimal(r["lineItem/UnblendedCost"])
    got = dict((a, Decimal(b)) for a, b in (
        line.split("|") for line in psql(db, "SELECT sub_account_id, sum(billed_cost) FROM"
                                             " finops.billing_line_items GROUP BY 1").splitlines()))
    assert got == dict(want)


def test_focus_sample_totals_per_account_category_and_currency(db):
    migrate(db)
    path = os.path.join(SHARED, "focus-1.0", "focus_sample.csv")
    r = run("billing_ingest", "--dsn", f"dbname={db}", path)
    assert r.code == 0, r.stderr
    want = defaultdict(lambda: [0, Decimal(0), Decimal(0)])
    for row in raw_rows(path):
        t = want[(row["BillingAccountId"], row["ChargeCategory"], row["BillingCurrency"])]
        t[0] += 1
        t[1] += dec(row["BilledCost"])
        t[2] += dec(row["EffectiveCost"])
    assert loaded(db, "billing_account_id, charge_category") == dict(want)
    # the sample holds 3 billing accounts and 2 billing periods: 4 partitions
    assert psql(db, "SELECT count(*) FROM finops.billing_loads WHERE status = 'current'") == "4"
    assert psql(db, "SELECT count(DISTINCT tableoid) FROM finops.billing_line_items") == "4"
    # tags arrive as JSON objects
    assert psql(db, "SELECT count(*) FROM finops.billing_line_items"
                    " WHERE tags->>'environment' = 'dev'") == str(sum(
                        1 for row in raw_rows(path) if '"environment": "dev"' in row["Tags"]))


def test_cur_legacy_tags_become_a_json_object(db):
    migrate(db)
    path = os.path.join(CUR, "focus-converters-sample-anonymous-aws-export.csv")
    assert run("billing_ingest", "--dsn", f"dbname={db}", path).code == 0
    tagged = [r for r in raw_rows(path) if any(k.startswith("resourceTags/") and v
                                               for k, v in r.items())]
    assert int(psql(db, "SELECT count(*) FROM finops.billing_line_items WHERE tags <> '{}'")) \
        == len(tagged)


def test_malformed_samples_are_refused_with_file_and_line(db):
    migrate(db)
    r = run("billing_ingest", "--dsn", f"dbname={db}", os.path.join(CUR, "koku-test_cur.csv.gz"))
    assert r.code == 3
    assert "koku-test_cur.csv.gz:2: 130 fields, the header has 131" in r.stderr
    r = run("billing_ingest", "--dsn", f"dbname={db}",
            os.path.join(CUR, "koku-November-2023-tags.csv"))
    assert r.code == 3
    assert "koku-November-2023-tags.csv:2: column savingsPlan/UsedCommitment" in r.stderr
    r = run("billing_ingest", "--dsn", f"dbname={db}", os.path.join(CUR, "koku-empty_frame.csv"))
    assert r.code == 3
    assert "no line items" in r.stderr
    assert psql(db, "SELECT count(*) FROM finops.billing_line_items") == "0"


def test_short_rows_load_when_allowed(db):
    migrate(db)
    path = os.path.join(CUR, "koku-test_cur.csv.gz")
    r = run("billing_ingest", "--allow-short-rows", "--dsn", f"dbname={db}", path)
    assert r.code == 0, r.stderr
    assert loaded(db, "billing_account_id, coalesce(line_item_type, '')") == expected_cur([path])
