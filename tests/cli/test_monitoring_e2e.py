"""The monitoring path end to end with the real servers from Debian, all on 127.0.0.1
and started here: jobs push their run metrics to the Pushgateway; postgres_exporter
reads the KPIs of a database the demo loaded, with deploy/postgres_exporter's
queries, as a reader; Prometheus scrapes both as deploy/prometheus/prometheus.yml
says and evaluates deploy/prometheus/rules; Alertmanager, with
deploy/alertmanager's routes, posts to the Slack stand-in and to the Teams
workflow's. A failed job and the demo's budget heading over its amount fire their
rules, and the messages arrive. Every Prometheus query of the dashboards is valid.
Bounded: each wait gives up after 60 s; every server is stopped at the end."""
import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from chatstub import Chat
from conftest import demo_database, psql, run, wait_for
from promstack import Server, http_get, prom_query, pushgateway

ROOT = Path(__file__).resolve().parents[2]
EXPORTER = "fo_exporter"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("monitoring")
    servers, chat = [], Chat()
    with demo_database(tmp_path_factory) as (db, _):
        try:
            psql(db, f"DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname ="
                     f" '{EXPORTER}') THEN CREATE ROLE {EXPORTER} LOGIN IN ROLE finops_reader,"
                     " pg_monitor; END IF; END$$")
            pgw = pushgateway(tmp)
            servers.append(pgw)

            dsn = (f"host={os.environ['PGHOST']} port={os.environ.get('PGPORT', '5432')}"
                   f" user={EXPORTER} dbname={db} sslmode=disable")
            exporter = Server("prometheus-postgres-exporter", lambda port: [
                f"--web.listen-address=127.0.0.1:{port}",
                f"--extend.query-path={ROOT}/deploy/postgres_exporter/queries.yaml"],
                tmp / "exporter.log", ready_path="/", env={"DATA_SOURCE_NAME": dsn})
            servers.append(exporter)

            # Alertmanager: the shipped routes, its secrets and template where this test
            # puts them, and its waits shortened from 30 s / 5 min to 1 s for a test
            secrets = tmp / "am-secrets"
            secrets.mkdir()
            (secrets / "slack_webhook_url").write_text(chat.url("slack", "alerts") + "\n")
            shutil.copytree(ROOT / "deploy/alertmanager/templates", tmp / "am-templates")
            text = (ROOT / "deploy/alertmanager/alertmanager.yml").read_text()
            text = text.replace("/etc/prometheus/alertmanager_templates/",
                                str(tmp / "am-templates") + "/")
            text = text.replace("/etc/finops/alertmanager/", str(secrets) + "/")
            text = text.replace("https://TEAMS-WORKFLOW-URL.invalid/",
                                chat.url("workflow", "teams-workflow"))
            conf = yaml.safe_load(text)
            conf["route"].update(group_wait="1s", group_interval="1s")
            (tmp / "alertmanager.yml").write_text(yaml.safe_dump(conf))
            am = Server("prometheus-alertmanager", lambda port: [
                f"--config.file={tmp / 'alertmanager.yml'}", f"--storage.path={tmp / 'am'}",
                f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
                tmp / "alertmanager.log")
            servers.append(am)

            # Prometheus: the example's scrape jobs for the two, every second
            conf = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
            conf["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
            conf["rule_files"] = [str(ROOT / "deploy/prometheus/rules/*.yml")]
            conf["alerting"]["alertmanagers"][0]["static_configs"] = [
                {"targets": [f"127.0.0.1:{am.port}"]}]
            jobs = {j["job_name"]: j for j in conf["scrape_configs"]}
            jobs["pushgateway"]["static_configs"] = [{"targets": [f"127.0.0.1:{pgw.port}"]}]
            jobs["postgres_exporter"].update(
                static_configs=[{"targets": [f"127.0.0.1:{exporter.port}"]}],
                scrape_interval="1s", scrape_timeout="1s")
            conf["scrape_configs"] = [jobs["pushgateway"], jobs["postgres_exporter"]]
            (tmp / "prometheus.yml").write_text(yaml.safe_dump(conf))
            prom = Server("prometheus", lambda port: [
                f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}"], tmp / "prometheus.log")
            servers.append(prom)
            yield {"db": db, "pgw": pgw, "prom": prom, "am": am, "chat": chat,
                   "exporter": exporter}
        finally:
            for s in reversed(servers):
                s.stop()
            chat.stop()


def test_a_run_is_queryable_and_a_failure_fires_and_is_told(stack):
    db, prom, chat = stack["db"], stack["prom"], stack["chat"]
    env = {"FINOPS_PUSHGATEWAY_URL": stack["pgw"].url}
    ok = run("anomaly_detect", "--dsn", f"dbname={db}", env=env)
    assert ok.code == 99, ok.stderr
    bad = run("budget_check", "--dsn", f"dbname={db}", "--budgets", "/nonexistent.json", env=env)
    assert bad.code == 3

    assert wait_for(lambda: prom_query(prom, 'finops_job_exit_code{job="budget_check"}'), 60)
    (labels, value), = prom_query(prom, 'finops_job_exit_code{job="budget_check"}')
    assert value == 3 and labels["scope"] == "default" and labels["job"] == "budget_check"
    (_, last), = prom_query(prom, 'finops_job_last_success_timestamp_seconds{job="anomaly_detect"}')
    assert last > 1.7e9

    def firing(name):
        return [m for m, _ in prom_query(prom, f'ALERTS{{alertname="{name}",alertstate="firing"}}')]
    assert wait_for(lambda: firing("FinopsJobFailed"), 60)
    assert firing("FinopsJobFailed")[0]["job"] == "budget_check"

    def told(name, title):
        return [r for r in chat.log(name)
                if r["status"] in (200, 202) and title in json.dumps(r["body"])]
    assert wait_for(lambda: told("alerts", "FinopsJobFailed"), 60), chat.log("alerts")
    msg = told("alerts", "FinopsJobFailed")[0]["body"]
    assert msg["channel"] == "#finops-alerts"
    att = msg["attachments"][0]
    assert att["title"].startswith("[FIRING:1] FinopsJobFailed (warning)")
    assert "budget_check (default) failed with exit code 3" in att["text"]
    assert "docs/operations.md#finopsjobfailed" in att["text"]
    # the Teams route: Alertmanager's webhook JSON to the workflow
    assert wait_for(lambda: told("teams-workflow", "FinopsJobFailed"), 60)
    hook = told("teams-workflow", "FinopsJobFailed")[0]["body"]
    assert hook["version"] == "4" and hook["commonLabels"]["severity"] == "warning"


def test_the_kpis_come_from_the_database_and_the_budget_rule_fires(stack):
    prom, chat = stack["prom"], stack["chat"]
    assert wait_for(lambda: prom_query(prom, "finops_budget_state"), 60)
    states = {m["name"]: v for m, v in prom_query(prom, "finops_budget_state")}
    assert states == {"aws-monthly": 0, "ml-team": 1, "data-platform-quarter": 0,
                      "gcp-eu-analytics": 0}
    spend = {(m["billing_account_id"], m["currency"]): v
             for m, v in prom_query(prom, "finops_spend_month_to_date_effective_cost")}
    assert spend[("210987654321", "USD")] == pytest.approx(float(psql(
        stack["db"], "SELECT effective_cost FROM finops.kpi_spend_month_to_date"
                     " WHERE currency = 'USD'")), rel=1e-9)
    (_, applied), = prom_query(prom, "finops_rightsizing_applied_saving_list")
    assert applied == pytest.approx(140.16)
    assert wait_for(lambda: prom_query(
        prom, 'ALERTS{alertname="FinopsBudgetForecastOver",alertstate="firing"}'), 60)
    assert wait_for(lambda: [r for r in chat.log("alerts")
                             if "FinopsBudgetForecastOver" in json.dumps(r["body"])], 60)
    # info goes to Slack only
    assert not [r for r in chat.log("teams-workflow")
                if "FinopsBudgetForecastOver" in json.dumps(r["body"])]


def test_every_dashboard_prometheus_query_is_valid(stack):
    prom = stack["prom"]
    exprs = []
    for path in sorted((ROOT / "deploy/grafana/dashboards").glob("*.json")):
        for p in json.loads(path.read_text())["panels"]:
            exprs += [t["expr"] for t in p["targets"] if "expr" in t]
    assert len(exprs) >= 10
    for e in exprs:
        prom_query(prom, e)            # status success, or the query's error
    # the job panels have data once the jobs pushed
    assert wait_for(lambda: prom_query(
        prom, "time() - max by (job) (finops_job_last_success_timestamp_seconds)"), 60)


def test_the_targets_are_up(stack):
    prom = stack["prom"]
    up = {m["job"]: v for m, v in prom_query(prom, "up")}
    assert up == {"pushgateway": 1, "postgres_exporter": 1}
    (_, pg_up), = prom_query(prom, "pg_up")
    assert pg_up == 1
    assert "finops_freshness_hours_behind" in http_get(stack["exporter"].url + "/metrics")
