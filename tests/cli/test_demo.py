"""The demo as a FinOps reader reads it: scripts/demo-pipeline.sh runs every
stage on the demo company's inputs against a fresh database, and its report
and tables must survive a second look (savings below the bill, utilization
within 0-100%, few instances without a verdict, forecasts near the run rate,
a readable report)."""
import re
from decimal import Decimal

import pytest

from conftest import demo_database, psql


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    with demo_database(tmp_path_factory) as d:
        yield d


def section(report, title):
    """The lines of the report's section that starts with title."""
    lines = report.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    out = []
    for line in lines[start + 1:]:
        if not line.strip():
            break
        out.append(line)
    return out


def money(s):
    return Decimal(s.replace(",", ""))


def test_every_stage_ran_and_every_job_is_listed(demo):
    db, report = demo
    stages = section(report, "Stages")
    assert [line.split()[0] for line in stages] == [
        "finops_migrate", "instance_catalog_updater", "billing_ingest@2026-10-23",
        "forecast_train@2026-10-23", "billing_ingest", "usage_ingest",
        "rightsizing_calc@2026-11-02", "rightsizing_calc", "forecast_train", "anomaly_detect",
        "budget_check"]
    assert all(line.split()[1] == "done" for line in stages)
    runs = section(report, "Job runs")
    assert [line.split()[0] for line in runs] == \
        [line.split()[0].split("@")[0] for line in stages]
    assert all("succeeded" in line for line in runs)


def test_savings_are_below_the_ec2_bill(demo):
    db, report = demo
    saving, bill = (Decimal(v) for v in psql(db, """
        SELECT (SELECT sum(monthly_saving_list) FROM finops.rightsizing_current
                 WHERE finding IN ('idle', 'over_provisioned')),
               (SELECT sum(billed_cost) FROM finops.billing_line_items
                 WHERE billing_period = '2026-10-01' AND usage_type ~ 'BoxUsage'
                   AND line_item_type <> 'SavingsPlanNegation')""").split("|"))
    assert 0 < saving < bill / 2
    # no instance saves more than it costs over the hours it runs
    assert psql(db, "SELECT count(*) FROM finops.rightsizing_current WHERE monthly_saving_list"
                    " > current_hourly_price * monthly_hours + 0.01 OR monthly_hours > 730") \
        == "0"
    # the report says the same
    m = re.search(r"In all: \$([\d,.]+) a month at list price .*?([\d.]+)% of the\s+"
                  r"\$([\d,.]+) list-price EC2 instance cost", report, re.S)
    assert m, report
    assert money(m.group(1)) == saving and money(m.group(1)) < money(m.group(3))


def test_utilization_is_within_0_and_100_percent(demo):
    db, report = demo
    assert psql(db, "SELECT count(*) FROM finops.instance_usage_hourly WHERE cpu_avg < 0"
                    " OR cpu_max > 100 OR cpu_max < cpu_avg OR mem_max > 100 OR mem_avg < 0"
                    " OR mem_max < mem_avg") == "0"
    assert psql(db, "SELECT count(*) FROM finops.rightsizing_current WHERE cpu_percent > 100")\
        == "0"
    line = section(report, "Utilization")[0]
    for v in re.findall(r"([\d.]+)%", line):
        assert 0 <= float(v) <= 100


def test_almost_every_instance_gets_a_verdict(demo):
    db, _ = demo
    n, insufficient, findings = psql(db, """
        SELECT count(*), count(*) FILTER (WHERE finding = 'insufficient_data'),
               count(DISTINCT finding) FROM finops.rightsizing_current""").split("|")
    assert int(n) >= 30
    assert int(insufficient) <= 0.10 * int(n)
    # a few idle, over- and under-provisioned, most optimized
    counts = dict(line.split("|") for line in psql(
        db, "SELECT finding, count(*) FROM finops.rightsizing_current GROUP BY 1").splitlines())
    assert int(counts["optimized"]) > int(n) / 2
    assert 1 <= int(counts["idle"]) <= 5 and int(counts.get("under_provisioned", 0)) >= 1
    assert 3 <= int(counts["over_provisioned"]) <= int(n) / 3
    # every billed instance type is in the catalog
    assert psql(db, "SELECT count(DISTINCT instance_type) FROM finops.billing_line_items b"
                    " WHERE usage_type ~ 'BoxUsage' AND NOT EXISTS (SELECT 1 FROM"
                    " finops.instance_types t WHERE t.instance_type = b.instance_type)") == "0"


def test_each_currency_forecast_is_near_its_last_full_month(demo):
    db, report = demo
    rows = psql(db, """
        SELECT f.currency, f.point,
               (SELECT sum(cost) FROM finops.forecast_actuals a WHERE a.currency = f.currency
                   AND a.day >= '2026-10-01' AND a.day < '2026-11-01'), f.lo80 < f.point,
               f.point < f.hi80
          FROM finops.forecast_months f
         WHERE f.series_key = 'total' AND f.month = '2026-12-01'""").splitlines()
    assert sorted(r.split("|")[0] for r in rows) == ["EUR", "USD"]
    for r in rows:
        cur, point, october, lo_ok, hi_ok = r.split("|")
        assert abs(Decimal(point) - Decimal(october)) <= Decimal("0.25") * Decimal(october), r
        assert lo_ok == "t" and hi_ok == "t"
    # each currency trained to its own sources' last day less the cut-off
    # (and, two weeks before, USD to its last day then, 10-22, less 2)
    assert psql(db, "SELECT string_agg(currency || ' ' || cutoff_day, ', '"
                    " ORDER BY currency, cutoff_day)"
                    " FROM finops.forecast_models WHERE series_key = 'total'") == \
        "EUR 2026-11-02, USD 2026-10-20, USD 2026-11-03"


def test_the_report_reads_well(demo):
    db, report = demo
    # whole assembly ids (of the loads that are current)
    for aid in psql(db, "SELECT DISTINCT assembly_id FROM finops.billing_loads"
                        " WHERE status = 'current'").splitlines():
        assert aid in report
    assert not re.search(r"\b1 rows\b", report)
    # every table keeps its columns: each line of a section has its last column at the
    # same place as the header's
    for title, last in (("Billing loads", "assembly"), ("Cost by month", "days of data")):
        lines = [line for line in section(report, title) if line.startswith("  ")]
        col = lines[0].index(last)
        for line in lines[1:]:
            assert line[col - 1] == " " and line[col] != " ", (title, line)
    # each number is explained
    for words in ("Billed: what the invoice says", "Effective: amortized",
                  "The 80% interval", "over the hours the instance is\nexpected to run"):
        assert words in report


def test_the_nat_gateway_incident_is_the_one_anomaly(demo):
    """make_inputs.py injects 9 TB a day through the production NAT gateways from
    10-28 to 10-30: $405.00 a day, $1,215.00 in all. Nothing else is anomalous: not
    Business support on the 1st, not the data lake's growth, not the weekends."""
    db, report = demo
    rows = psql(db, "SELECT dimension, first_day, last_day, status, total_impact"
                    " FROM finops.anomalies_current ORDER BY anomaly_id").splitlines()
    assert sorted(r.split("|")[0] for r in rows) == ["billing_account", "region", "service",
                                                     "sub_account", "usage_type"], rows
    for r in rows:
        dim, first, last, status, impact = r.split("|")
        assert (first, last, status) == ("2026-10-28", "2026-10-30", "closed"), r
        assert abs(Decimal(impact) - Decimal("1215")) <= Decimal("0.05") * 1215, r
    top = psql(db, "SELECT r.dimension || ' ' || r.value || ' ' || r.contribution"
                   " FROM finops.anomaly_root_causes r JOIN finops.anomalies_current a"
                   " USING (anomaly_id) WHERE a.dimension = 'billing_account' AND rank = 1")
    dim, value, contribution = top.split()
    assert (dim, value) == ("usage_type", "NatGateway-Bytes")
    assert Decimal(contribution) <= Decimal(rows[0].split("|")[4])
    assert "Root cause 1: usage type NatGateway-Bytes" in report
    assert "2026-10-28 to 2026-10-30 (3 days, over)" in report


def test_the_budgets_read_as_a_finops_team_expects(demo):
    """demo/budgets.json on the morning of 11-06: the AWS account heads for its run
    rate, under its $11,500; the ml team's GPU box heads over its $550 (the one
    forecasted crossing, for team-ml only); nothing is spent over yet."""
    db, report = demo
    rows = {r.split("|")[0]: r.split("|")[1:] for r in psql(db, """
        SELECT name, amount, actual, forecast, forecast_lo80, forecast_hi80, state, days_left
          FROM finops.budget_status""").splitlines()}
    assert sorted(rows) == ["aws-monthly", "data-platform-quarter", "gcp-eu-analytics",
                            "ml-team"]
    for name, (amount, actual, fc, lo, hi, state, days) in rows.items():
        assert Decimal(actual) <= Decimal(lo) <= Decimal(fc) <= Decimal(hi), name
        assert 0 < Decimal(actual) < Decimal(amount), name
    aws = rows["aws-monthly"]
    assert abs(Decimal(aws[2]) - Decimal("9700")) < Decimal("0.10") * 9700 and aws[5] == "ok"
    assert rows["ml-team"][5] == "forecast_over" and rows["data-platform-quarter"][6] == "58"
    assert psql(db, "SELECT string_agg(b.name || ' ' || br.threshold || ' '"
                    " || array_to_string(br.channels, ','), '; ') FROM finops.budget_breaches br"
                    " JOIN finops.budgets b USING (budget_id)") == \
        "ml-team forecasted:100% team-ml"
    assert "Crossed: ml-team forecasted:100%" in report


def test_the_advice_taken_is_counted_as_applied(demo):
    """worker-3 was moved to the type the run of 11-02 advised, on 11-03: one saving
    applied, and today's run finds it right-sized."""
    db, report = demo
    assert psql(db, "SELECT instance_id || ' ' || recommended_type || ' ' || applied_from::date"
                    " || ' ' || monthly_saving_list FROM finops.rightsizing_applied") == \
        psql(db, "SELECT DISTINCT resource_id FROM finops.billing_line_items"
                 " WHERE tags->>'user:Name' = 'worker-3' AND resource_id LIKE 'i-%'")\
        + " m6i.xlarge 2026-11-03 140.16"
    assert psql(db, "SELECT r.current_type || ' ' || r.finding FROM finops.rightsizing_current r"
                    " JOIN finops.rightsizing_applied a USING (instance_id)") == \
        "m6i.xlarge optimized"
    assert "m6i.2xlarge -> m6i.xlarge from 2026-11-03, $140.16 a month (run of 2026-11-02)" \
        in report
