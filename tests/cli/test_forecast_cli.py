"""forecast_train on billing data the test writes: a weekly pattern it must
follow, a second currency kept apart, a new service with 3 days, a
zero-cost service, month totals, accuracy as actuals arrive, and drift."""
from datetime import date, timedelta

import pytest

from conftest import psql, run, shard_of, start
from curfixtures import LEGACY_COLUMNS, legacy_row, write_csv

FIRST = date(2026, 8, 1)
DAYS = 70                     # to 2026-10-09; the cut-off leaves 2 days out


def weekly(d, base):
    """A cost with a weekday pattern (weekends cheaper) and a slow trend."""
    return round(base * (0.6 if d.weekday() >= 5 else 1.0) * (1 + 0.002 * (d - FIRST).days), 2)


def rows_for(days, scale=1.0):
    rows, n = [], 0
    for k in range(days):
        d = FIRST + timedelta(days=k)
        items = [("S1", "PAYER", "USD", weekly(d, 100) * scale),
                 ("S2", "PAYER", "USD", weekly(d, 40)),
                 ("ZERO", "PAYER", "USD", 0.0),
                 ("S1", "EUROPE", "EUR", weekly(d, 70))]
        if k >= days - 5:
            items.append(("NEW", "PAYER", "USD", 12.0))       # 3 closed days of history
        for service, payer, cur, cost in items:
            n += 1
            extra = {"product/ProductName": service, "lineItem/ProductCode": service}
            if payer == "EUROPE":
                extra["bill/PayerAccountId"] = "999988887777"
            rows.append(legacy_row(n, cost=f"{cost:.2f}", currency=cur,
                                   period=d.strftime("%Y-%m"),
                                   usage_start=f"{d.isoformat()}T12:00:00Z", **extra))
    return rows


def load(db, tmp_path, rows, name):
    by_month = {}
    for r in rows:
        by_month.setdefault(r["bill/BillingPeriodStartDate"][:7], []).append(r)
    for month, part in by_month.items():
        path = write_csv(tmp_path / f"{name}-{month}.csv", LEGACY_COLUMNS, part)
        r = run("billing_ingest", "--dsn", f"dbname={db}", "--force", str(path))
        assert r.code in (0, 99), r.stderr


@pytest.fixture
def fdb(migrated_db, tmp_path):
    db = migrated_db
    load(db, tmp_path, rows_for(DAYS), "a")
    return db


def train(db, *args):
    return run("forecast_train", "--dsn", f"dbname={db}", *args)


def test_forecasts_follow_the_series_and_never_hold_nan(fdb):
    r = train(fdb)
    assert r.code == 0, r.stderr
    cutoff = FIRST + timedelta(days=DAYS - 1 - 2)
    assert psql(fdb, "SELECT cutoff_day || ' ' || horizon_end FROM finops.forecast_runs") \
        == f"{cutoff} 2026-11-30"
    keys = psql(fdb, "SELECT string_agg(series_key || ' ' || currency, ', ' ORDER BY 1)"
                     " FROM finops.forecast_models")
    assert keys == ("billing_account=111122223333 USD, billing_account=999988887777 EUR,"
                    " sub_account_service=444455556666/NEW USD,"
                    " sub_account_service=444455556666/S1 EUR,"
                    " sub_account_service=444455556666/S1 USD,"
                    " sub_account_service=444455556666/S2 USD,"
                    " sub_account_service=444455556666/ZERO USD, total EUR, total USD")
    assert psql(fdb, "SELECT count(*) FROM finops.forecast_values WHERE point = 'NaN'"
                     " OR lo95 = 'NaN' OR hi95 = 'NaN'") == "0"
    # one value a day from the cut-off to the end of next month, for every series
    assert psql(fdb, "SELECT DISTINCT count(*) FROM finops.forecast_values GROUP BY series_key,"
                     " currency") == str((date(2026, 11, 30) - cutoff).days)
    # the weekly pattern is followed: the next 7 days within 5% of the truth
    got = dict(line.split("|") for line in psql(
        fdb, "SELECT day, point FROM finops.forecast_values WHERE series_key ="
             " 'sub_account_service=444455556666/S1' AND currency = 'USD'"
             f" AND day <= '{cutoff + timedelta(days=7)}'").splitlines())
    for day, point in got.items():
        truth = weekly(date.fromisoformat(day), 100)
        assert abs(float(point) - truth) / truth < 0.05, (day, point, truth)
    # a zero-cost series forecasts zero; a 3-day service gets a simple model
    assert psql(fdb, "SELECT max(abs(point)) FROM finops.forecast_values WHERE series_key"
                     " LIKE '%/ZERO'") == "0.000000"
    new = psql(fdb, "SELECT model || ' ' || history_days FROM finops.forecast_models"
                    " WHERE series_key LIKE '%/NEW'")
    assert new in ("naive 3", "ets_ANN 3")
    assert "too short to backtest" in r.summary()["msg"]
    # costs that were never negative are not forecast below zero
    assert psql(fdb, "SELECT count(*) FROM finops.forecast_values WHERE lo95 < 0") == "0"
    assert psql(fdb, "SELECT count(*) FROM finops.forecast_months WHERE lo95 < 0") == "0"
    # intervals are ordered
    assert psql(fdb, "SELECT count(*) FROM finops.forecast_values WHERE NOT (lo95 <= lo80 AND"
                     " lo80 <= point AND point <= hi80 AND hi80 <= hi95)") == "0"


def test_month_totals_are_actual_to_date_plus_forecast(fdb):
    assert train(fdb).code == 0
    cutoff = FIRST + timedelta(days=DAYS - 1 - 2)
    actual = sum(weekly(FIRST + timedelta(days=k), 100) for k in range(DAYS)
                 if date(2026, 10, 1) <= FIRST + timedelta(days=k) <= cutoff)
    row = psql(fdb, "SELECT actual_to_date, forecast_rest, point, lo80 < point AND point < hi80"
                    " FROM finops.forecast_months WHERE series_key ="
                    " 'sub_account_service=444455556666/S1' AND currency = 'USD'"
                    " AND month = '2026-10-01'").split("|")
    assert float(row[0]) == pytest.approx(actual, abs=0.01)
    assert float(row[2]) == pytest.approx(float(row[0]) + float(row[1]), abs=0.01)
    assert row[3] == "t"
    # next month: no actual yet
    assert psql(fdb, "SELECT actual_to_date FROM finops.forecast_months WHERE series_key ="
                     " 'total' AND currency = 'USD' AND month = '2026-11-01'") == "0.000000"


def test_accuracy_and_drift_as_actuals_arrive(fdb, tmp_path):
    assert train(fdb).code == 0
    # 14 more days arrive; S1 in USD doubles (a new workload): it drifts
    more = [r for r in rows_for(DAYS + 14, scale=1.0)]
    jump = [r for r in more if r["product/ProductName"] == "S1" and r["lineItem/CurrencyCode"]
            == "USD" and r["lineItem/UsageStartDate"] >= "2026-10-08"]
    for r in jump:
        r["lineItem/UnblendedCost"] = f"{float(r['lineItem/UnblendedCost']) * 2:.2f}"
    load(fdb, tmp_path, more, "b")
    assert train(fdb, "--dimensions", "total").code == 0      # moves the cut-off on
    acc = psql(fdb, "SELECT count(*) > 0, bool_and(coverage95 BETWEEN 0 AND 1) FROM"
                    " finops.forecast_accuracy WHERE series_key ="
                    " 'sub_account_service=444455556666/S2'")
    assert acc == "t|t"
    drift = dict(line.split("|") for line in psql(
        fdb, "SELECT series_key || ' ' || currency, round(ape_percent::numeric, 1)"
             " FROM finops.forecast_drift").splitlines())
    assert float(drift["sub_account_service=444455556666/S1 USD"]) > 12
    assert float(drift["sub_account_service=444455556666/S2 USD"]) < 12
    r = train(fdb, "--retrain-drifted")
    assert r.code == 0, r.stderr
    retrained = psql(fdb, "SELECT string_agg(series_key || ' ' || currency, ', ' ORDER BY 1)"
                          " FROM finops.forecast_models WHERE run_id = (SELECT max(run_id)"
                          " FROM finops.forecast_runs)")
    assert "sub_account_service=444455556666/S1 USD" in retrained
    assert "S2" not in retrained
    # trained to the day already: again is nothing to do, though the drift view still shows it
    again = train(fdb, "--retrain-drifted")
    assert again.code == 99, again.stderr
    assert "none has drifted since its last training" in again.summary()["msg"]
    # the current view still has every series, each from its newest run
    assert psql(fdb, "SELECT count(DISTINCT (series_key, currency)) FROM"
                     " finops.forecast_current") == "9"


def test_gaps_and_a_currency_change_give_sane_forecasts(db, tmp_path):
    assert run("finops_migrate", "--dsn", f"dbname={db}").code == 0
    rows, n = [], 0
    for k in range(DAYS):
        d = FIRST + timedelta(days=k)
        items = []
        if k % 2 == 0:
            items.append(("GAPPY", "USD", 30.0))           # billed every other day only
        # an account that moved from USD to EUR billing on day 40
        items.append(("SWITCH", "USD" if k < 40 else "EUR", 50.0 if k < 40 else 46.0))
        for service, cur, cost in items:
            n += 1
            rows.append(legacy_row(n, cost=f"{cost:.2f}", currency=cur, period=d.strftime("%Y-%m"),
                                   usage_start=f"{d.isoformat()}T12:00:00Z",
                                   **{"product/ProductName": service,
                                      "lineItem/ProductCode": service}))
    load(db, tmp_path, rows, "g")
    r = run("forecast_train", "--dsn", f"dbname={db}", "--dimensions", "sub_account_service")
    assert r.code == 0, r.stderr
    assert psql(db, "SELECT count(*) FROM finops.forecast_values WHERE point = 'NaN'"
                    " OR lo95 = 'NaN' OR hi95 = 'NaN'") == "0"
    mean = dict(line.split("|") for line in psql(
        db, "SELECT series_key || ' ' || currency, round(avg(point), 1) FROM"
            " finops.forecast_values GROUP BY 1").splitlines())
    # every other day 30 (the missing days are days of zero cost): a forecast within
    # what the history holds, neither zero nor beyond its days of 30
    assert 0 < float(mean["sub_account_service=444455556666/GAPPY USD"]) <= 30
    # the currency change: USD stopped (forecast near 0), EUR goes on near 46
    assert float(mean["sub_account_service=444455556666/SWITCH USD"]) < 5
    assert 40 <= float(mean["sub_account_service=444455556666/SWITCH EUR"]) <= 52


def test_each_series_is_closed_where_its_own_sources_end(db, tmp_path):
    """Two payers' CURs in one currency: A delivered up to 2026-10-25, B up to
    2026-10-31. A series of A (and the total, which both feed) is closed on
    A's last day less the cut-off, never on B's: A's missing days are not
    days of zero cost. Each series' November is within 10% of its own run rate."""
    assert run("finops_migrate", "--dsn", f"dbname={db}").code == 0
    first, rows, n = date(2026, 8, 1), [], 0
    ends = {"111111111111": date(2026, 10, 25), "222222222222": date(2026, 10, 31)}
    base = {"111111111111": 100.0, "222222222222": 40.0}
    daily = {}
    for payer, end in ends.items():
        d = first
        while d <= end:
            cost = weekly(d, base[payer])
            daily[(payer, d)] = cost
            n += 1
            rows.append(legacy_row(n, cost=f"{cost:.2f}", period=d.strftime("%Y-%m"),
                                   usage_start=f"{d.isoformat()}T12:00:00Z",
                                   **{"bill/PayerAccountId": payer,
                                      "lineItem/UsageAccountId": payer}))
            d += timedelta(days=1)
    load(db, tmp_path, rows, "two")
    r = run("forecast_train", "--dsn", f"dbname={db}", "--dimensions", "total,billing_account")
    assert r.code == 0, r.stderr
    assert "trained on days up to 2026-10-23 to 2026-10-29" in r.summary()["msg"]
    cutoffs = dict(line.split("|") for line in psql(
        db, "SELECT series_key, cutoff_day FROM finops.forecast_models").splitlines())
    assert cutoffs == {"total": "2026-10-23", "billing_account=111111111111": "2026-10-23",
                       "billing_account=222222222222": "2026-10-29"}
    assert psql(db, "SELECT cutoff_day FROM finops.forecast_runs") == "2026-10-29"
    # forecasts start the day after each series' own cut-off
    assert psql(db, "SELECT series_key || ' ' || min(day) FROM finops.forecast_values"
                    " GROUP BY series_key ORDER BY 1") == "\n".join([
                        "billing_account=111111111111 2026-10-24",
                        "billing_account=222222222222 2026-10-30", "total 2026-10-24"])

    def run_rate(payers, cutoff):
        days = [cutoff - timedelta(days=k) for k in range(28)]
        return sum(daily[(p, d)] for p in payers for d in days) / 28

    want = {"total": run_rate(ends, date(2026, 10, 23)),
            "billing_account=111111111111": run_rate(["111111111111"], date(2026, 10, 23)),
            "billing_account=222222222222": run_rate(["222222222222"], date(2026, 10, 29))}
    got = dict(line.split("|") for line in psql(
        db, "SELECT series_key, point FROM finops.forecast_months"
            " WHERE month = '2026-11-01'").splitlines())
    for key, rate in want.items():
        assert abs(float(got[key]) - rate * 30) <= 0.10 * rate * 30, (key, got[key], rate * 30)
    # the October total: A's actual to 10-23 and B's to 10-23, the rest forecast
    oct_actual = sum(c for (p, d), c in daily.items()
                     if date(2026, 10, 1) <= d <= date(2026, 10, 23))
    assert float(psql(db, "SELECT actual_to_date FROM finops.forecast_months WHERE series_key"
                          " = 'total' AND month = '2026-10-01'")) == pytest.approx(oct_actual)


def test_a_month_of_support_billed_on_the_first_is_spread_over_its_month(db, tmp_path):
    """AWS Support is dated the 1st with a charge period of the whole month:
    the daily series counts it a day at a time, so the forecast neither reads
    the 1st as a jump in the run rate nor misses the fee in the next month."""
    assert run("finops_migrate", "--dsn", f"dbname={db}").code == 0
    rows, n, d = [], 0, date(2026, 8, 1)
    while d <= date(2026, 11, 5):
        n += 1
        rows.append(legacy_row(n, cost="100.00", period=d.strftime("%Y-%m"),
                               usage_start=f"{d.isoformat()}T00:00:00Z",
                               **{"lineItem/UsageEndDate":
                                  f"{(d + timedelta(days=1)).isoformat()}T00:00:00Z"}))
        if d.day == 1:
            end = date(d.year + d.month // 12, d.month % 12 + 1, 1)
            n += 1
            rows.append(legacy_row(n, cost="620.00", period=d.strftime("%Y-%m"),
                                   usage_start=f"{d.isoformat()}T00:00:00Z",
                                   **{"lineItem/UsageEndDate": f"{end.isoformat()}T00:00:00Z",
                                      "lineItem/ProductCode": "AWSSupportBusiness",
                                      "product/ProductName": "AWS Support (Business)",
                                      "lineItem/UsageType": "Dollar",
                                      "lineItem/ResourceId": ""}))
        d += timedelta(days=1)
    load(db, tmp_path, rows, "support")
    # October 15 carries a 31st of October's fee; the 1st no more than any other day
    assert psql(db, "SELECT round(sum(cost), 2) FROM finops.forecast_actuals"
                    " WHERE day = '2026-10-15'") == f"{100 + 620 / 31:.2f}"
    assert psql(db, "SELECT round(sum(cost), 2) FROM finops.forecast_actuals"
                    " WHERE day = '2026-10-01'") == f"{100 + 620 / 31:.2f}"
    # the month total is unchanged: as billed
    assert psql(db, "SELECT round(sum(cost), 2) FROM finops.forecast_actuals WHERE day"
                    " BETWEEN '2026-10-01' AND '2026-10-31'") == "3720.00"
    assert run("forecast_train", "--dsn", f"dbname={db}", "--dimensions", "total").code == 0
    december = float(psql(db, "SELECT point FROM finops.forecast_months WHERE month ="
                              " '2026-12-01'"))
    assert abs(december - (31 * 100 + 620)) <= 0.05 * (31 * 100 + 620), december
    november = float(psql(db, "SELECT point FROM finops.forecast_months WHERE month ="
                              " '2026-11-01'"))
    assert abs(november - (30 * 100 + 620)) <= 0.05 * (30 * 100 + 620), november



CURRENT = ("SELECT string_agg(series_key || ' ' || currency || ' ' || day || ' ' || point"
           " || ' ' || lo80 || ' ' || hi95, ', ' ORDER BY series_key, currency, day)"
           " FROM finops.forecast_current")


def test_shards_at_once_give_the_unsharded_forecasts(fdb):
    assert train(fdb).code == 0
    whole = psql(fdb, CURRENT)
    keys = psql(fdb, "SELECT DISTINCT series_key FROM finops.forecast_models").splitlines()
    # four shards: the fixture's seven keys fill three of them; the empty one has
    # nothing to train (99, skipped in Airflow)
    assert sorted({shard_of(k, 4) for k in keys}) == [0, 1, 3]
    procs = [start("forecast_train", "--dsn", f"dbname={fdb}", "--shard", f"{i}/4")
             for i in range(4)]
    for i, p in enumerate(procs):
        _, errs = p.communicate(timeout=120)
        assert p.returncode == (99 if i == 2 else 0), errs
    # each series trained by exactly the shard its key hashes to, and the current
    # forecasts are the unsharded run's, value for value
    assert psql(fdb, """
        SELECT string_agg(m.series_key || ' ' || r.shard_index, ', ' ORDER BY 1)
          FROM (SELECT DISTINCT ON (series_key, currency) * FROM finops.forecast_models
                 ORDER BY series_key, currency, run_id DESC) m
          JOIN finops.forecast_runs r USING (run_id)""") == ", ".join(
        f"{k} {shard_of(k, 4)}" for k in sorted(
            psql(fdb, "SELECT series_key FROM finops.forecast_models m JOIN"
                      " finops.forecast_runs r USING (run_id) WHERE r.shard_count = 1"
                      " ORDER BY 1").splitlines()))
    assert psql(fdb, CURRENT) == whole
    assert psql(fdb, "SELECT sum(series) FROM finops.forecast_runs WHERE shard_count = 4") == "9"
    # a shard of one dimension: total (USD and EUR) is in shard 1 of 4, no series of
    # the other shards' is trained again
    r = train(fdb, "--shard", "1/4", "--dimensions", "total")
    assert r.code == 0, r.stderr
    assert "2 series forecast" in r.summary()["msg"]
    assert "; shard 1/4 (0 series of other shards left out)" in r.summary()["msg"]
    r = train(fdb, "--shard", "0/4", "--dimensions", "total")
    assert r.code == 99
    assert "in shard 0/4 (2 series of other shards left out)" in r.summary()["msg"]
    assert train(fdb, "--shard", "4/4").code == 2
