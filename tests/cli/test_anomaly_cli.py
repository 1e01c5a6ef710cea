"""anomaly_detect on real parts: legacy CUR files with an injected incident ->
billing_ingest -> anomaly_detect -> stand-ins for Slack and Teams on
127.0.0.1 (tests/support/chat_server.py) that check each payload's shape.
Hand-worked cases: a 3-day NAT gateway leak is one anomaly with 3 days and
its impact; AWS Support billed on the 1st is not an anomaly; a new service
with 10 days of history does not alert; euros stay euros; a restatement
that removes the leak closes it; planned-activity feedback keeps a
migration out of the baseline."""
import json
import os
import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from anomalyfixtures import EUR_PAYER, rows, write_months
from chatstub import chat  # noqa: F401 (a fixture)
from conftest import psql, run, start

HERE = Path(__file__).resolve().parent
GOLDEN = HERE.parent / "golden"
LEAK = (date(2026, 10, 20), date(2026, 10, 22))
LEAK_PER_DAY = 900.0


def leak(d):
    if LEAK[0] <= d <= LEAK[1]:
        return [("AmazonEC2", "NatGateway-Bytes", "111122223333", "USD", LEAK_PER_DAY)]
    return []


def monitors(tmp_path, channels, **top):
    cfg = {"channels": channels, "notify": [c["name"] for c in channels],
           "dashboard_url": "https://grafana.example.com/d/finops-anomalies?var-anomaly={anomaly_id}"}
    cfg.update(top)
    path = tmp_path / "monitors.json"
    path.write_text(json.dumps(cfg))
    return str(path)


def load(db, tmp_path, all_rows, name, months=None):
    paths = write_months(tmp_path, all_rows, name, months)
    r = run("billing_ingest", "--dsn", f"dbname={db}", *paths)
    assert r.code in (0, 99), r.stderr


def detect(db, *args, env=None):
    return run("anomaly_detect", "--dsn", f"dbname={db}", "--log-format", "json", *args,
               env=env)


@pytest.fixture
def adb(migrated_db, tmp_path):
    db = migrated_db
    load(db, tmp_path, rows(leak), "a")
    return db


def anomalies(db, where="true"):
    out = psql(db, "SELECT monitor || '|' || value || '|' || currency || '|' || first_day || '|'"
                   " || last_day || '|' || days || '|' || status || '|' || total_impact::float8"
                   f" FROM finops.anomalies_current WHERE {where} ORDER BY anomaly_id")
    return [line.split("|") for line in out.splitlines() if line]


def test_a_leak_is_one_anomaly_a_monitor_with_its_days_impact_and_causes(adb):
    r = detect(adb, "--no-notify")
    assert r.code == 0, r.stderr
    found = anomalies(adb)
    # each default monitor that holds the leak sees it, nothing else is flagged:
    # not AWS Support on 10-01 (billed on the 1st of every month), not the euros
    assert sorted(a[0] for a in found) == ["billing_account", "region", "service",
                                           "sub_account", "usage_type"], found
    for monitor, value, cur, first, last, days, status, impact in found:
        assert (cur, first, last, days, status) == ("USD", "2026-10-20", "2026-10-22", "3",
                                                    "closed"), found
        # the leak added 2,700.00; the model's expected cost is within a few percent
        assert abs(float(impact) - 3 * LEAK_PER_DAY) < 0.05 * 3 * LEAK_PER_DAY, found
    assert psql(adb, "SELECT count(*) FROM finops.anomalies_current WHERE currency = 'EUR'"
                     " OR first_day = '2026-10-01'") == "0"
    # root causes: the NAT gateway first, never more than the impact in total
    top = psql(adb, "SELECT r.dimension || '=' || r.value FROM finops.anomaly_root_causes r"
                    " JOIN finops.anomalies_current a USING (anomaly_id)"
                    " WHERE a.monitor = 'billing_account' AND rank = 1")
    assert top == "usage_type=NatGateway-Bytes"
    assert psql(adb, "SELECT count(*) FROM (SELECT a.anomaly_id FROM finops.anomalies a"
                     " JOIN finops.anomaly_root_causes r USING (anomaly_id)"
                     " GROUP BY a.anomaly_id, a.total_impact"
                     " HAVING sum(r.contribution) > a.total_impact) x") == "0"
    # its days, with the model's bound below the cost
    assert psql(adb, "SELECT count(*), bool_and(actual > upper_bound) FROM finops.anomaly_days d"
                     " JOIN finops.anomalies_current a USING (anomaly_id)"
                     " WHERE a.monitor = 'usage_type'") == "3|t"
    # the same days again: nothing new, exit 99
    again = detect(adb, "--no-notify")
    assert again.code == 99, again.stderr
    assert "no newly closed day" in again.summary()["msg"]
    assert len(anomalies(adb)) == 5


def test_messages_once_with_retries_and_golden_shapes(adb, tmp_path, chat):
    cfg = monitors(tmp_path, [{"name": "finops-alerts", "kind": "slack"},
                              {"name": "finops-teams", "kind": "teams"}])
    env = {"FINOPS_WEBHOOK_FINOPS_ALERTS": chat.url("slack", "finops-alerts", "429,200"),
           "FINOPS_WEBHOOK_FINOPS_TEAMS": chat.url("teams", "finops-teams", "500,200")}
    r = detect(adb, "--monitors", cfg, "--log-level", "debug", env=env)
    assert r.code == 0, r.stderr
    slack = [x for x in chat.log("finops-alerts") if x["status"] == 200]
    teams = [x for x in chat.log("finops-teams") if x["status"] == 200]
    # the five monitors' anomalies are one event: one message a channel, after a retry
    assert len(slack) == 1 and len(teams) == 1, (chat.log("finops-alerts"), chat.log("finops-teams"))
    assert [x["status"] for x in chat.log("finops-alerts")] == [429, 200]
    assert [x["status"] for x in chat.log("finops-teams")] == [500, 200]
    body = slack[0]["body"]
    assert body["text"].startswith("Cost anomaly: ")
    text = json.dumps(body)
    assert "NatGateway-Bytes" in text and "2026-10-20" in text
    assert "var-anomaly=" in text
    # the shape, digits aside (the model's cents are not the point here)
    for got, name in ((slack[0]["body"], "anomaly_slack.json"), (teams[0]["body"], "anomaly_teams.json")):
        if os.environ.get("FINOPS_UPDATE_GOLDEN"):
            (GOLDEN / name).write_text(json.dumps(got, sort_keys=True, ensure_ascii=False) + "\n")
        masked = re.sub(r"\d", "9", json.dumps(got, sort_keys=True, ensure_ascii=False))
        want = re.sub(r"\d", "9", (GOLDEN / name).read_text().strip())
        assert masked == want, f"{name} changed:\n{json.dumps(got, sort_keys=True)}"
    # recorded: every anomaly told to both channels, by one message each
    assert psql(adb, "SELECT count(*) FROM finops.anomaly_notifications WHERE status = 'sent'") \
        == "10"
    # one try each (a run's HTTP retries are one try: tries counts the runs that tried)
    assert psql(adb, "SELECT string_agg(channel || ':' || tries || ':' || http_status, ','"
                     " ORDER BY channel) FROM finops.notifications") \
        == "finops-alerts:1:200,finops-teams:1:202"
    # no webhook URL anywhere: not in the debug log, the database or job_runs
    for out in (r.stderr, r.stdout, psql(adb, "SELECT string_agg(n::text, ' ') FROM"
                                         " finops.notifications n"),
                psql(adb, "SELECT string_agg(j::text, ' ') FROM finops.job_runs j")):
        assert "SECRET" not in out, out     # the host may be named, never the path
    # a second run sends nothing
    again = detect(adb, "--monitors", cfg, env=env)
    assert again.code == 99, again.stderr
    assert len(chat.log("finops-alerts")) == 2 and len(chat.log("finops-teams")) == 2


@pytest.mark.parametrize("code,error", [(400, "invalid_payload"), (404, "channel_not_found"),
                                        (410, "channel_is_archived"), (403, "action_prohibited")])
def test_a_channel_that_refuses_is_named_and_tried_again_next_run(adb, tmp_path, chat, code,
                                                                    error):
    cfg = monitors(tmp_path, [{"name": "gone", "kind": "slack"}])
    r = detect(adb, "--monitors", cfg,
               env={"FINOPS_WEBHOOK_GONE": chat.url("slack", "gone", str(code))})
    assert r.code == 2, r.stderr
    assert "channel gone" in r.stderr and error in r.stderr, r.stderr
    # the evaluation is kept; the message is recorded as failed, and sent by the next run
    assert len(anomalies(adb)) == 5
    assert psql(adb, "SELECT status || ' ' || http_status FROM finops.notifications") \
        == f"failed {code}"
    fixed = detect(adb, "--monitors", cfg,
                   env={"FINOPS_WEBHOOK_GONE": chat.url("slack", "fixed", "200")})
    assert fixed.code == 0, fixed.stderr
    assert psql(adb, "SELECT status || ' ' || tries FROM finops.notifications") == "sent 2"
    assert len(chat.log("fixed")) == 1


def test_a_digest_channel_gets_one_message_for_the_day(adb, tmp_path, chat):
    cfg = monitors(tmp_path, [{"name": "daily", "kind": "slack", "delivery": "digest"}])
    env = {"FINOPS_WEBHOOK_DAILY": chat.url("slack", "daily")}
    assert detect(adb, "--monitors", cfg, env=env).code == 0
    log = chat.log("daily")
    assert len(log) == 1 and log[0]["body"]["text"].startswith("1 cost anomaly to 2026-10-29")
    assert detect(adb, "--monitors", cfg, env=env).code == 99
    assert len(chat.log("daily")) == 1


def test_a_restatement_that_removes_the_leak_closes_it(adb, tmp_path):
    assert detect(adb, "--no-notify").code == 0
    assert len(anomalies(adb)) == 5
    # AWS rewrites October without the leak (a refund folded into the usage)
    load(adb, tmp_path, rows(), "restated", months={"2026-10"})
    r = detect(adb, "--no-notify")
    assert r.code == 0, r.stderr
    assert anomalies(adb) == []
    notes = psql(adb, "SELECT DISTINCT close_reason || ': ' || close_note FROM finops.anomalies")
    assert re.fullmatch(r"restated: billing period 2026-10 of source \d+ was restated \(load \d+\)"
                        r" from 2026-10-20: no longer anomalous", notes), notes
    assert "5 removed by a restatement" in r.summary()["msg"]
    # only the days from the first that changed were judged again, and only in dollars
    assert "10 series evaluated over 100 series-days" in r.summary()["msg"], r.summary()["msg"]


def test_a_restatement_that_moves_the_leak_updates_its_record(adb, tmp_path):
    """AWS corrects the leak's dates a day later: the same anomalies, updated (first
    day, last day, days), not closed and opened anew."""
    assert detect(adb, "--no-notify").code == 0
    before = psql(adb, "SELECT string_agg(anomaly_id::text, ',' ORDER BY anomaly_id)"
                       " FROM finops.anomalies_current")

    def later(d):
        return leak(d - timedelta(days=1))
    load(adb, tmp_path, rows(later), "later", months={"2026-10"})
    r = detect(adb, "--no-notify")
    assert r.code == 0, r.stderr
    assert psql(adb, "SELECT string_agg(anomaly_id::text, ',' ORDER BY anomaly_id)"
                     " FROM finops.anomalies_current") == before
    assert psql(adb, "SELECT DISTINCT first_day || ' ' || last_day || ' ' || days FROM"
                     " finops.anomalies_current") == "2026-10-21 2026-10-23 3"
    assert psql(adb, "SELECT count(*) FROM finops.anomalies WHERE close_reason = 'restated'") \
        == "0"
    assert "0 new anomalies" in r.summary()["msg"]


def test_a_restatement_loaded_while_anomalies_are_judged(adb, tmp_path):
    """billing_ingest and anomaly_detect at the same time: neither fails nor waits
    forever, and whichever went first, the next evaluation agrees with the data
    (no live anomaly for a leak the restatement removed)."""
    paths = write_months(tmp_path, rows(), "concurrent", months={"2026-10"})
    det = start("anomaly_detect", "--dsn", f"dbname={adb}", "--no-notify")
    ing = start("billing_ingest", "--dsn", f"dbname={adb}", *paths)
    assert det.wait(timeout=120) == 0, det.stderr.read()
    assert ing.wait(timeout=120) == 0, ing.stderr.read()
    assert detect(adb, "--no-notify").code in (0, 99)
    assert anomalies(adb) == []


def test_a_delivery_that_adds_days_judges_only_them(db, tmp_path):
    """CUR rewrites the month up to three times a day: a new load that keeps the
    days judged before and adds new ones judges only the new ones; one that moves
    cost between services on an old day, its total unchanged, is a restatement."""
    assert run("finops_migrate", "--dsn", f"dbname={db}").code == 0
    load(db, tmp_path, rows(leak, last=date(2026, 10, 25)), "first")    # closed to 10-23
    first = detect(db, "--no-notify")
    assert first.code == 0, first.stderr
    series = int(psql(db, "SELECT count(*) FROM finops.anomaly_series"))
    load(db, tmp_path, rows(leak), "more", months={"2026-10"})          # closed to 10-29
    assert psql(db, "SELECT count(*) FROM finops.billing_loads WHERE status = 'replaced'"
                    " AND billing_period = '2026-10-01'") == "2"         # both payers
    r = detect(db, "--no-notify")
    assert r.code == 0, r.stderr
    assert f"{series} series evaluated over {series * 6} series-days" in r.summary()["msg"]
    assert "restated" not in r.stderr
    assert detect(db, "--no-notify").code == 99
    adb = db

    def moved(d, item):            # 10-05: $100 of S3 billed as EC2 instead, the total the same
        if d == date(2026, 10, 5) and item[1] == "TimedStorage-ByteHrs":
            return 0.5
        return 1.0

    def extra(d):
        return leak(d) + ([("AmazonEC2", "BoxUsage:m5.xlarge", "111122223333", "USD", 100.0)]
                          if d == date(2026, 10, 5) else [])
    load(adb, tmp_path, rows(extra, scale=moved), "moved", months={"2026-10"})
    r = detect(adb, "--no-notify")
    assert r.code == 0, r.stderr
    assert "from 2026-10-05" in r.stderr


def test_planned_activity_stays_out_of_the_baseline(db, tmp_path):
    """A migration doubles S3 from 10-10 for good. Without feedback the eighth day
    makes it the new normal (closed as a level shift); judged planned_activity on
    its third day, it never becomes the baseline: the anomaly grows to the last
    closed day."""
    def migration(d, item):
        return 2.0 if item[0] == "AmazonS3" and d >= date(2026, 10, 10) else 1.0

    results = {}
    for verdict in ("none", "planned_activity"):
        name = f"{db}_{verdict[:4]}"
        psql("postgres", f"CREATE DATABASE {name}")
        try:
            assert run("finops_migrate", "--dsn", f"dbname={name}").code == 0
            # day by day as CUR delivers: October so far, then the whole month
            load(name, tmp_path, rows(scale=migration, last=date(2026, 10, 14)), f"p{verdict}")
            assert detect(name, "--no-notify").code == 0
            first = psql(name, "SELECT anomaly_id || ' ' || first_day || ' ' || status"
                               " FROM finops.anomalies_current WHERE monitor = 'service'")
            assert first.split()[1:] == ["2026-10-10", "open"], first
            if verdict != "none":
                fb = detect(name, "--feedback", f"{first.split()[0]}=planned_activity")
                assert fb.code == 0, fb.stderr
            load(name, tmp_path, rows(scale=migration), f"q{verdict}", months={"2026-10"})
            assert detect(name, "--no-notify").code == 0
            results[verdict] = psql(name, "SELECT first_day || ' ' || last_day || ' ' || status"
                                          " || ' ' || coalesce(close_reason, '-') FROM"
                                          " finops.anomalies_current WHERE monitor = 'service'")
        finally:
            psql("postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    assert results["none"] == "2026-10-10 2026-10-16 closed level_shift", results
    assert results["planned_activity"] == "2026-10-10 2026-10-29 open -", results


def test_a_series_with_10_days_of_history_does_not_alert(db, tmp_path):
    def sagemaker(d):
        if d >= date(2026, 10, 19):      # 10 days before the spike on 10-29
            return [("AmazonSageMaker", "ml.g5.xlarge", "111122223333", "USD",
                     3000.0 if d == date(2026, 10, 29) else 60.0)]
        return []

    assert run("finops_migrate", "--dsn", f"dbname={db}").code == 0
    load(db, tmp_path, rows(sagemaker), "s")
    assert detect(db, "--no-notify").code == 0
    assert psql(db, "SELECT count(*) FROM finops.anomalies_current"
                    " WHERE value LIKE 'ml.%' OR value = 'AmazonSageMaker'") == "0"
    # the account's total, with months of history, does see it
    assert psql(db, "SELECT first_day FROM finops.anomalies_current"
                    " WHERE monitor = 'billing_account'") == "2026-10-29"


def test_euros_are_never_mixed_with_dollars(db, tmp_path):
    def eur_spike(d):
        if d == date(2026, 10, 27):
            return [("AmazonEC2", "BoxUsage:m5.large", EUR_PAYER, "EUR", 2000.0)]
        return []

    assert run("finops_migrate", "--dsn", f"dbname={db}").code == 0
    load(db, tmp_path, rows(eur_spike), "e")
    assert detect(db, "--no-notify").code == 0
    assert psql(db, "SELECT DISTINCT currency || ' ' || billing_account_id FROM"
                    " finops.anomalies_current") == f"EUR {EUR_PAYER}"
    assert psql(db, "SELECT count(*) FROM finops.anomaly_series WHERE billing_account_id ="
                    f" '{EUR_PAYER}' AND currency <> 'EUR'") == "0"


@pytest.mark.parametrize("cfg,path", [
    ({"monitors": [{"name": "svc", "dimension": "service", "top_n": 0}]}, "monitors[0].top_n"),
    ({"threshold": {"percent": -5}}, "threshold.percent"),
    ({"monitors": [{"name": "x", "dimension": "colour"}]}, "monitors[0].dimension"),
    ({"monitors": [{"name": "x", "tag": "team", "notify": ["nowhere"]}]}, "monitors[0].notify[0]"),
    ({"channels": [{"name": "a", "kind": "email"}]}, "channels[0].kind"),
    ({"treshold": {}}, "treshold"),
    ({"threshold": {"join": "xor"}}, "threshold.join"),
])
def test_bad_monitors_exit_2_naming_the_json_path_and_change_nothing(adb, tmp_path, cfg, path):
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(cfg))
    r = detect(adb, "--monitors", str(f))
    assert r.code == 2, r.stderr
    assert f"{f}: {path}:" in r.stderr, r.stderr
    assert psql(adb, "SELECT count(*) FROM finops.anomaly_series") == "0"


def test_bad_feedback_is_a_usage_error(adb):
    assert detect(adb, "--feedback", "12=maybe").code == 2
    r = detect(adb, "--feedback", "424242=no")
    assert r.code == 2 and "no anomaly 424242" in r.stderr


def test_tags_and_drops_as_configured(db, tmp_path):
    """A tag monitor sees the team's series; a drop monitor sees S3 fall to nothing."""
    def scale(d, item):
        return 0.0 if item[0] == "AmazonS3" and d >= date(2026, 10, 25) else 1.0

    assert run("finops_migrate", "--dsn", f"dbname={db}").code == 0
    load(db, tmp_path, rows(leak, scale=scale), "t")
    f = tmp_path / "m.json"
    f.write_text(json.dumps({"monitors": [
        {"name": "team", "tag": "user:team"},
        {"name": "services", "dimension": "service",
         "drops": {"absolute": 100, "percent": 50}}]}))
    r = detect(db, "--monitors", str(f), "--no-notify")
    assert r.code == 0, r.stderr
    assert psql(db, "SELECT string_agg(DISTINCT monitor || ' ' || value || ' ' || direction, ', ')"
                    " FROM finops.anomalies_current") == \
        "services AmazonEC2 up, services AmazonS3 down, team payments up"
    # a fall to nothing is a new normal after a week
    assert psql(db, "SELECT first_day || ' ' || status FROM finops.anomalies_current"
                    " WHERE direction = 'down'") == "2026-10-25 open"
