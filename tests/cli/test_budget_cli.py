"""budget_check on billing data the test writes (legacy CUR, constant daily costs
so that every sum can be written here): a budget scoped by a tag, fixed and
auto-adjusting amounts, an 80% actual threshold that fires once across three
runs, a forecasted threshold that fires, re-arms when a restatement lowers the
month and fires again, finance told only at 100% actual, currencies apart, a
scope that matches nothing, a quarter across a month boundary, a removed budget
archived, a bad file. Messages go to the stand-ins on 127.0.0.1."""
import json
from datetime import date, timedelta

import pytest

from chatstub import chat  # noqa: F401 (a fixture)
from conftest import psql, run
from curfixtures import LEGACY_COLUMNS, legacy_row, write_csv

FIRST = date(2026, 7, 1)
EUR_PAYER = "999988887777"


def cur_rows(last, ec2=lambda d: 100.0):
    """Every day from FIRST to last: EC2 for team payments, S3 for team data ($50),
    and a euro payer's EC2 (EUR 40)."""
    out, n, d = [], 0, FIRST
    while d <= last:
        for service, team, payer, cur, cost in (
                ("AmazonEC2", "payments", "111122223333", "USD", ec2(d)),
                ("AmazonS3", "data", "111122223333", "USD", 50.0),
                ("AmazonEC2", "analytics", EUR_PAYER, "EUR", 40.0)):
            n += 1
            out.append(legacy_row(
                n, cost=f"{cost:.2f}", currency=cur, period=d.strftime("%Y-%m"),
                usage_start=f"{d.isoformat()}T00:00:00Z",
                **{"lineItem/ProductCode": service, "product/ProductName": service,
                   "bill/PayerAccountId": payer, "resourceTags/user:team": team,
                   "lineItem/UsageAccountId": "444455556666" if cur == "USD" else "777700001111",
                   "identity/LineItemId": f"li-{d.isoformat()}-{n:05d}"}))
        d += timedelta(days=1)
    return out


def load(db, tmp_path, last, name, ec2=lambda d: 100.0, months=None):
    parts = {}
    for r in cur_rows(last, ec2):
        parts.setdefault((r["bill/PayerAccountId"], r["bill/BillingPeriodStartDate"][:7]),
                         []).append(r)
    paths = [str(write_csv(tmp_path / f"{name}-{p}-{m}.csv", LEGACY_COLUMNS, rows))
             for (p, m), rows in sorted(parts.items()) if not months or m in months]
    r = run("billing_ingest", "--dsn", f"dbname={db}", *paths)
    assert r.code in (0, 99), r.stderr


CHANNELS = [{"name": "team-payments", "kind": "slack"}, {"name": "finance", "kind": "teams"}]


def budgets_file(tmp_path, budgets, name="budgets.json"):
    path = tmp_path / name
    path.write_text(json.dumps({"channels": CHANNELS, "budgets": budgets}))
    return str(path)


def payments(**over):
    b = {"name": "payments", "owner": "team-payments", "currency": "USD", "period": "monthly",
         "scope": {"tags": {"user:team": ["payments"]}}, "amount": 3500,
         "thresholds": [{"type": "actual", "percent": 80},
                        {"type": "forecasted", "percent": 100},
                        {"type": "actual", "percent": 100,
                         "notify": ["team-payments", "finance"]}]}
    b.update(over)
    return b


def check(db, path, chat=None, *args):
    env = {}
    if chat:
        env = {"FINOPS_WEBHOOK_TEAM_PAYMENTS": chat.url("slack", "team-payments"),
               "FINOPS_WEBHOOK_FINANCE": chat.url("teams", "finance")}
    return run("budget_check", "--dsn", f"dbname={db}", "--log-format", "json", "--budgets",
               path, *args, env=env)


def status(db, name):
    return psql(db, "SELECT amount::numeric(12,2) || ' ' || actual::numeric(12,2) || ' '"
                    " || closed_through || ' ' || state FROM finops.budget_status"
                    f" WHERE name = '{name}'")


@pytest.fixture
def bdb(migrated_db, tmp_path):
    db = migrated_db
    load(db, tmp_path, date(2026, 10, 25), "a")        # closed to 10-23
    return db


def test_a_tag_scope_and_an_80_percent_threshold_that_fires_once(bdb, tmp_path, chat):
    path = budgets_file(tmp_path, [payments()])
    r = check(bdb, path, chat)
    assert r.code == 99, r.stderr                # synced, judged, nothing crossed
    # 23 days of team payments' EC2 at $100 (S3 is team data's): 2,300.00 of 3,500
    assert status(bdb, "payments") == "3500.00 2300.00 2026-10-23 ok"
    assert psql(bdb, "SELECT count(*) FROM finops.budget_breaches") == "0"
    assert check(bdb, path, chat).code == 99
    load(bdb, tmp_path, date(2026, 10, 31), "b", months={"2026-10"})   # closed to 10-29
    r = check(bdb, path, chat)
    assert r.code == 0, r.stderr
    assert status(bdb, "payments") == "3500.00 2900.00 2026-10-29 ok"
    assert psql(bdb, "SELECT threshold || ' ' || value::numeric(12,2) || ' '"
                     " || array_to_string(notified, ',') FROM finops.budget_breaches") == \
        "actual:80% 2900.00 team-payments"
    log = chat.log("team-payments")
    assert len(log) == 1 and log[0]["body"]["text"].startswith(
        "Budget payments: 83% of $3,500.00 spent (2026-10)")
    assert "service AmazonEC2: $2,900.00" in json.dumps(log[0]["body"])
    assert "tag user:team=payments" in json.dumps(log[0]["body"])
    # a third run: nothing new, nothing sent again
    assert check(bdb, path, chat).code == 99
    assert len(chat.log("team-payments")) == 1 and chat.log("finance") == []


def test_finance_is_told_only_at_100_percent_actual(bdb, tmp_path, chat):
    path = budgets_file(tmp_path, [payments(amount=2800)])
    load(bdb, tmp_path, date(2026, 10, 28), "b", months={"2026-10"})   # closed to 10-26: 2,600
    assert check(bdb, path, chat).code == 0
    assert [x["body"]["text"].split(":")[0] for x in chat.log("team-payments")] == \
        ["Budget payments", "Budget payments"]          # 80% actual, 100% forecasted
    assert chat.log("finance") == []
    load(bdb, tmp_path, date(2026, 10, 31), "c", months={"2026-10"})   # 2,900 of 2,800
    assert check(bdb, path, chat).code == 0
    assert len(chat.log("finance")) == 1
    assert chat.log("finance")[0]["body"]["attachments"][0]["content"]["body"][0]["text"] \
        .startswith("Budget payments: 104% of $2,800.00 spent")
    assert len(chat.log("team-payments")) == 3


def test_a_forecasted_threshold_rearms_after_a_restatement_and_fires_again(bdb, tmp_path, chat):
    # October at $100 a day: 3,100 forecast for the month against 3,000
    path = budgets_file(tmp_path, [payments(amount=3000, thresholds=[
        {"type": "forecasted", "percent": 100}])])
    assert check(bdb, path, chat).code == 0
    assert len(chat.log("team-payments")) == 1
    # AWS restates October: the first half at $50 (a refund): the forecast falls below
    load(bdb, tmp_path, date(2026, 10, 25), "low", months={"2026-10"},
         ec2=lambda d: 50.0 if date(2026, 10, 1) <= d <= date(2026, 10, 15) else 100.0)
    r = check(bdb, path, chat)
    assert r.code == 99, r.stderr                # re-armed, nothing crossed
    assert "back below" in r.stderr
    assert psql(bdb, "SELECT count(*) FILTER (WHERE cleared_at IS NOT NULL) || ' ' || count(*)"
                     " FROM finops.budget_breaches") == "1 1"
    # and back: the refund is reversed; it fires again, once
    load(bdb, tmp_path, date(2026, 10, 25), "high", months={"2026-10"},
         ec2=lambda d: 101.0)
    assert check(bdb, path, chat).code == 0
    assert psql(bdb, "SELECT count(*) FROM finops.budget_breaches") == "2"
    assert len(chat.log("team-payments")) == 2
    assert check(bdb, path, chat).code == 99


def test_auto_adjusting_and_quarterly_amounts_and_currencies_apart(bdb, tmp_path):
    path = budgets_file(tmp_path, [
        payments(name="auto", amount={"auto": {"periods": 3}}),
        {"name": "eu-quarter", "owner": "finance", "currency": "EUR", "period": "quarterly",
         "amount": 4000, "thresholds": [{"type": "actual", "amount": 3000}]}])
    assert check(bdb, path, None, "--no-notify").code in (0, 99)
    # July, August, September: 3,100, 3,100 and 3,000 of team payments' EC2
    # (October heads for 3,100: over the average)
    assert status(bdb, "auto") == "3066.67 2300.00 2026-10-23 forecast_over"
    # the quarter to 10-23 in euros only: 23 x 40
    assert status(bdb, "eu-quarter") == "4000.00 920.00 2026-10-23 ok"   # heading for 3,680
    # across the month boundary: October whole and November to 11-03
    load(bdb, tmp_path, date(2026, 11, 5), "nov", months={"2026-10", "2026-11"})
    assert check(bdb, path, None, "--no-notify").code in (0, 99)
    assert status(bdb, "eu-quarter") == "4000.00 1360.00 2026-11-03 ok"       # 34 x 40
    # the monthly one moved to November, and October was judged to its end first
    assert status(bdb, "auto").split()[1:3] == ["300.00", "2026-11-03"]
    assert psql(bdb, "SELECT actual::numeric(12,2) FROM finops.budget_evaluations e JOIN"
                     " finops.budgets b USING (budget_id) WHERE b.name = 'auto' AND"
                     " e.period_start = '2026-10-01' ORDER BY run_id DESC LIMIT 1") == "3100.00"


def test_a_yearly_budget_counts_the_whole_year_to_date(bdb, tmp_path):
    path = budgets_file(tmp_path, [payments(name="year", period="yearly", amount=50000)])
    assert check(bdb, path, None, "--no-notify").code == 99
    # July 1 to October 23: 115 days of $100, longer than the forecast's history
    assert status(bdb, "year") == "50000.00 11500.00 2026-10-23 ok"
    assert psql(bdb, "SELECT period_start || ' ' || period_end || ' ' || days_left"
                     " FROM finops.budget_status") == "2026-01-01 2026-12-31 69"


def test_a_scope_that_matches_nothing_warns_and_breaches_nothing(bdb, tmp_path):
    path = budgets_file(tmp_path, [payments(name="ghost", amount=10,
                                            scope={"services": ["AmazonSageMaker"]})])
    r = check(bdb, path, None, "--no-notify")
    assert r.code == 99, r.stderr
    assert "its scope matches no USD cost" in r.stderr
    assert psql(bdb, "SELECT count(*) FROM finops.budget_breaches") == "0"


def test_a_removed_budget_is_archived_and_stops_alerting(bdb, tmp_path, chat):
    path = budgets_file(tmp_path, [payments(), payments(name="other", amount=100000)])
    assert check(bdb, path, chat).code in (0, 99)
    path = budgets_file(tmp_path, [payments(name="other", amount=100000)], "fewer.json")
    r = check(bdb, path, chat)
    assert "budget payments is no longer in the file: archived" in r.stderr
    assert psql(bdb, "SELECT status FROM finops.budgets WHERE name = 'payments'") == "archived"
    load(bdb, tmp_path, date(2026, 10, 31), "b", months={"2026-10"})   # it would cross 80%
    check(bdb, path, chat)
    assert chat.log("team-payments") == []
    assert psql(bdb, "SELECT count(*) FROM finops.budget_evaluations e JOIN finops.budgets b"
                     " USING (budget_id) WHERE b.name = 'payments'") == "1"   # history kept
    assert psql(bdb, "SELECT string_agg(name, ',') FROM finops.budget_status") == "other"


@pytest.mark.parametrize("budget,path", [
    ({"thresholds": [{"type": "actual", "percent": 0}]}, "budgets[0].thresholds[0].percent"),
    ({"thresholds": [{"type": "actual"}]}, "budgets[0].thresholds[0]"),
    ({"thresholds": [{"type": "spent", "percent": 80}]}, "budgets[0].thresholds[0].type"),
    ({"owner": "nobody"}, "budgets[0].owner"),
    ({"period": "weekly"}, "budgets[0].period"),
    ({"amount": {"auto": {"periods": 13}}}, "budgets[0].amount.auto.periods"),
    ({"amount": {"planned": {"2026-13": 5}}}, "budgets[0].amount.planned.2026-13"),
    ({"scope": {"tag": {"team": ["x"]}}}, "budgets[0].scope.tag"),
    ({"currency": "dollars"}, "budgets[0].currency"),
])
def test_a_bad_file_exits_3_naming_the_path_and_changes_nothing(bdb, tmp_path, budget, path):
    good = budgets_file(tmp_path, [payments()], "good.json")
    assert check(bdb, good, None, "--no-notify").code in (0, 99)
    before = psql(bdb, "SELECT string_agg(definition::text, ',') FROM finops.budgets")
    bad = budgets_file(tmp_path, [payments(**budget)], "bad.json")
    r = check(bdb, bad, None, "--no-notify")
    assert r.code == 3, r.stderr
    assert f"{bad}: {path}:" in r.stderr, r.stderr
    assert psql(bdb, "SELECT string_agg(definition::text, ',') FROM finops.budgets") == before


def test_the_forecast_of_forecast_train_is_used_when_the_scope_is_its_series(bdb, tmp_path):
    """All of a currency is forecast_train's "total": its month total (trained to the same
    closed day) is the budget's forecast; a scope it does not forecast gets its own."""
    assert run("forecast_train", "--dsn", f"dbname={bdb}").code == 0
    path = budgets_file(tmp_path, [
        payments(name="all-usd", scope={}, amount=100000),
        payments(name="team", amount=100000)])
    r = check(bdb, path, None, "--no-notify", "--log-level", "debug")
    assert r.code == 99, r.stderr
    assert "budget all-usd: the rest of the month from forecast_train's total" in r.stderr
    assert "budget team: the rest" not in r.stderr
    assert psql(bdb, "SELECT s.forecast::numeric(12,2) = f.point::numeric(12,2) FROM"
                     " finops.budget_status s, finops.forecast_months f WHERE s.name = 'all-usd'"
                     " AND f.series_key = 'total' AND f.currency = 'USD'"
                     " AND f.month = '2026-10-01'") == "t"
    # 150 a day: the whole month 4,650.00, within a cent or so
    assert abs(float(psql(bdb, "SELECT forecast FROM finops.budget_status"
                               " WHERE name = 'all-usd'")) - 4650) < 5


def test_a_channel_that_refuses_is_named_and_told_by_the_next_run(bdb, tmp_path, chat):
    path = budgets_file(tmp_path, [payments(amount=2000)])          # 2,300: over 80 and 100%
    env = {"FINOPS_WEBHOOK_TEAM_PAYMENTS": chat.url("slack", "gone", "404"),
           "FINOPS_WEBHOOK_FINANCE": chat.url("teams", "finance")}
    r = run("budget_check", "--dsn", f"dbname={bdb}", "--budgets", path, env=env)
    assert r.code == 2, r.stderr
    assert "team-payments" in r.stderr and "channel_not_found" in r.stderr
    # the breaches are kept; finance (100% actual) was told; the owner's messages wait
    assert psql(bdb, "SELECT count(*) FROM finops.budget_breaches") == "3"
    assert len(chat.log("finance")) == 1
    fixed = check(bdb, path, chat)
    assert fixed.code == 0, fixed.stderr
    assert len(chat.log("team-payments")) == 3 and len(chat.log("finance")) == 1
    assert psql(bdb, "SELECT bool_and(channels <@ notified) FROM finops.budget_breaches") == "t"
