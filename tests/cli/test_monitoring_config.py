"""What deploy/ gives Prometheus and Alertmanager, checked by their own tools from
Debian's packages: the rules load (promtool check rules) and every rule has
promtool test cases that fire it and that do not; every rule carries a severity,
a team and a runbook that docs/operations.md has; the example prometheus.yml and
alertmanager.yml load (promtool check config, amtool check-config) and route each
severity where the docs say; the Teams card is an Adaptive Card 1.2."""
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from promstack import binary

ROOT = Path(__file__).resolve().parents[2]
RULES = sorted((ROOT / "deploy/prometheus/rules").glob("*.yml"))
RULE_TESTS = sorted((ROOT / "tests/prometheus").glob("*.test.yml"))


def tool(*args):
    return subprocess.run([binary(args[0]), *args[1:]], capture_output=True, text=True,
                          timeout=120)


def alert_rules():
    out = []
    for path in RULES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            out += [r for r in group["rules"] if "alert" in r]
    return out


def anchors(markdown):
    """GitHub's anchors of a Markdown file's headings."""
    out = set()
    for line in markdown.splitlines():
        m = re.match(r"^#+\s+(.*)$", line)
        if m:
            a = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            out.add(a)
    return out


def test_rules_load():
    r = tool("promtool", "check", "rules", *map(str, RULES))
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(alert_rules()) >= 15


def test_every_rule_test_passes():
    assert RULE_TESTS
    r = tool("promtool", "test", "rules", *map(str, RULE_TESTS))
    assert r.returncode == 0, r.stdout + r.stderr


def test_every_rule_is_tested_firing_and_not_firing():
    fired, quiet = set(), set()
    for path in RULE_TESTS:
        for t in yaml.safe_load(path.read_text())["tests"]:
            for case in t.get("alert_rule_test", []):
                (fired if case.get("exp_alerts") else quiet).add(case["alertname"])
    names = {r["alert"] for r in alert_rules()}
    assert names - fired == set(), "never tested firing"
    assert names - quiet == set(), "never tested quiet"


def test_every_rule_has_severity_team_and_a_runbook_the_docs_have():
    docs = anchors((ROOT / "docs/operations.md").read_text())
    for rule in alert_rules():
        labels, ann = rule.get("labels", {}), rule.get("annotations", {})
        assert labels.get("severity") in ("critical", "warning", "info"), rule["alert"]
        assert labels.get("team") in ("platform", "finops"), rule["alert"]
        assert ann.get("summary") and ann.get("description"), rule["alert"]
        url = ann.get("runbook_url", "")
        assert url.startswith("docs/operations.md#"), rule["alert"]
        assert url.split("#", 1)[1] in docs, f"{rule['alert']}: {url} is not a heading"


def test_prometheus_example_config_loads(tmp_path):
    text = (ROOT / "deploy/prometheus/prometheus.yml").read_text()
    conf = yaml.safe_load(text)
    jobs = {j["job_name"]: j for j in conf["scrape_configs"]}
    assert jobs["pushgateway"].get("honor_labels") is True
    assert jobs["node"].get("honor_labels") is True
    assert "postgres_exporter" in jobs
    # the rules where this checkout has them
    conf["rule_files"] = [str(ROOT / "deploy/prometheus/rules/*.yml")]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(conf))
    r = tool("promtool", "check", "config", str(path))
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.fixture
def am_config(tmp_path):
    """alertmanager.yml with its files where this test puts them."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "slack_webhook_url").write_text("https://hooks.slack.com/services/T0/B0/x\n")
    shutil.copytree(ROOT / "deploy/alertmanager/templates", tmp_path / "templates")
    text = (ROOT / "deploy/alertmanager/alertmanager.yml").read_text()
    text = text.replace("/etc/prometheus/alertmanager_templates/", str(tmp_path / "templates") + "/")
    text = text.replace("/etc/finops/alertmanager/", str(secrets) + "/")
    path = tmp_path / "alertmanager.yml"
    path.write_text(text)
    return path


def test_alertmanager_config_loads_and_routes_by_severity(am_config):
    r = tool("amtool", "check-config", str(am_config))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 templates" in r.stdout
    for labels, receiver in ((["severity=critical", "alertname=ApiHighLatency"], "finops-oncall"),
                             (["severity=warning", "alertname=FinopsJobFailed"], "finops-alerts"),
                             (["severity=info", "alertname=FinopsBudgetForecastOver"],
                              "finops-info"),
                             (["alertname=Unlabelled"], "finops-alerts")):
        r = tool("amtool", "config", "routes", "test", f"--config.file={am_config}", *labels)
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.strip() == receiver, (labels, r.stdout)
    conf = yaml.safe_load(am_config.read_text())
    by_name = {x["name"]: x for x in conf["receivers"]}
    # critical and warning reach Slack and the Teams workflow; info Slack only
    for name in ("finops-oncall", "finops-alerts"):
        assert by_name[name]["slack_configs"] and by_name[name]["webhook_configs"]
    assert "webhook_configs" not in by_name["finops-info"]
    assert "hooks.slack.com" not in (ROOT / "deploy/alertmanager/alertmanager.yml").read_text()


def test_teams_card_is_an_adaptive_card():
    card = json.loads((ROOT / "deploy/alertmanager/teams-card.json").read_text())
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.2"
    assert card["body"][0]["type"] == "TextBlock"
    assert all(a["type"] == "Action.OpenUrl" for a in card["actions"])
    assert {e["type"] for e in card["body"]} <= {"TextBlock", "FactSet"}
