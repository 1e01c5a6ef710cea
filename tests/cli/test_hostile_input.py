"""Hostile and careless input: each kind refused with a message naming the
place (file, line, field), a non-zero exit and nothing changed. These tests
run in the release build and again under AddressSanitizer, which turns a
read of freed or uninitialised memory into a failure."""
import json
import os

import pytest

from conftest import psql, run
from curfixtures import LEGACY_COLUMNS, legacy_row, write_csv, write_legacy_delivery
from pricefixtures import HEADER, offer_csv, offer_rows


@pytest.fixture
def mdb(db):
    assert run("finops_migrate", "--dsn", f"dbname={db}").code == 0
    return db


def errors(r):
    return [x["msg"] for x in r.log_lines() if x["level"] == "error"]


def loaded(db):
    return psql(db, "SELECT count(*) || ' ' || coalesce(sum(billed_cost), 0)"
                    " FROM finops.billing_line_items")


def delivery(tmp_path, **manifest_changes):
    """A good one-file delivery; manifest_changes replace manifest fields."""
    path = write_legacy_delivery(str(tmp_path / "cur"), "rep", "2026-10", "asm-1",
                                 [[legacy_row(1), legacy_row(2)]])
    m = json.load(open(path))
    m.update(manifest_changes)
    with open(path, "w") as f:
        json.dump(m, f)
    return path


# ---- memory safety -----------------------------------------------------------------

@pytest.mark.parametrize("start", ["2025-13-45", "2026-02-30T00:00:00Z", "not a date",
                                   "0000-01-01"])
def test_a_bad_billing_period_in_a_manifest_is_named_exactly(mdb, tmp_path, start):
    """The message is written before the JSON that holds the text is freed."""
    path = delivery(tmp_path, billingPeriod={"start": start})
    r = run("billing_ingest", "--dsn", f"dbname={mdb}", path)
    assert r.code == 3, r.stderr
    assert errors(r)[0].startswith(f'{path}: billingPeriod.start "{start}" ')
    assert loaded(mdb) == "0 0"


def test_a_bad_metric_stream_value_names_its_instance(mdb, tmp_path):
    rec = {"metric_stream_name": "s", "account_id": "123456789012", "region": "eu-west-1",
           "namespace": "AWS/EC2", "metric_name": "CPUUtilization",
           "dimensions": {"InstanceId": "i-0namedinthemessage"}, "timestamp": 1791158400000,
           "value": {"max": 1.0, "min": 0.0, "sum": 400.0, "count": 2.0}, "unit": "Percent"}
    path = tmp_path / "s.json"
    path.write_text(json.dumps(rec) + "\n")
    r = run("usage_ingest", "--dsn", f"dbname={mdb}", "--start", "2026-10-05T00:00:00Z",
            "--end", "2026-10-05T03:00:00Z", str(path))
    assert r.code == 3, r.stderr
    assert errors(r)[0] == (f"{path}:1: value.sum / value.count: CPUUtilization 200 is above"
                            " 100 (a percentage) (instance i-0namedinthemessage)")


@pytest.mark.parametrize("price,why", [("-1.5", "is negative"), ("-0", "is negative"),
                                       ("", "empty"), ("1,5", "is not a number")])
def test_a_bad_price_in_an_offer_file_says_why(mdb, tmp_path, price, why):
    rows = offer_rows("us-east-1")
    rows[0][HEADER.index("PricePerUnit")] = price
    path = tmp_path / "offer.csv"
    path.write_text(offer_csv("20261101000000", rows))
    r = run("instance_catalog_updater", "--dsn", f"dbname={mdb}", "--from-file", str(path))
    assert r.code == 3, r.stderr
    assert f'offer.csv:7: column PricePerUnit: "{price}" {why}' in errors(r)[0]
    assert psql(mdb, "SELECT count(*) FROM finops.instance_prices") == "0"
