"""The five Grafana dashboards of the operations guide (deploy/grafana), tested without
Grafana: each parses, has a unique uid and unique panel ids that fit the grid, uses
only the provisioned datasources' uids and only variables it defines; and every SQL
panel, its variables interpolated and its macros expanded as Grafana does
(grafana.py) over a time range taken from the data, runs as a login role of
finops_reader against a database the demo loaded, and returns rows (a time column
for the time series)."""
import json
import os
import re
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from chatstub import Chat
from conftest import bindir, demo_database, psql
from grafana import VARIABLE, expand_macros, interpolate, to_utc

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy/grafana"
BOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
TITLES = {"App Overview", "Cost & Usage Trends", "Rightsizing Opportunities",
          "Forecast Accuracy", "Anomalies & Alerts"}
READER = "fo_dashboard_reader"


def boards():
    return [(p.name, json.loads(p.read_text())) for p in BOARDS]


def datasources():
    conf = yaml.safe_load((GRAFANA / "provisioning/datasources/finops.yaml").read_text())
    return {d["uid"]: d for d in conf["datasources"]}


def panels(board):
    for p in board["panels"]:
        yield p
        yield from p.get("panels", [])          # rows that hold panels


def test_provisioning_files():
    ds = datasources()
    pg = ds["finops-postgres"]
    assert pg["type"] == "grafana-postgresql-datasource"
    assert pg["secureJsonData"]["password"].startswith("$")     # from the environment
    assert pg["jsonData"]["postgresVersion"] == 1500
    assert ds["finops-prometheus"]["type"] == "prometheus"
    prov = yaml.safe_load((GRAFANA / "provisioning/dashboards/finops.yaml").read_text())
    assert prov["apiVersion"] == 1
    (p,) = prov["providers"]
    assert p["type"] == "file" and p["options"]["path"] and p["disableDeletion"] is True


def test_the_five_dashboards_are_well_formed():
    ds = datasources()
    found = {b["title"] for _, b in boards()}
    assert found == TITLES
    assert len({b["uid"] for _, b in boards()}) == len(BOARDS)
    for name, b in boards():
        ids = [p["id"] for p in panels(b)]
        assert len(ids) == len(set(ids)), name
        defined = {v["name"] for v in b["templating"]["list"]}
        for v in b["templating"]["list"]:
            if v["type"] == "query":
                assert v["datasource"]["uid"] in ds, (name, v["name"])
        for p in panels(b):
            g = p["gridPos"]
            assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0, (name, p["title"])
            uids = [p["datasource"]["uid"]] + [t["datasource"]["uid"] for t in p["targets"]]
            assert set(uids) <= set(ds), (name, p["title"], uids)
            texts = [p["title"]] + [t.get("rawSql") or t.get("expr") for t in p["targets"]]
            for t in texts:
                for m in VARIABLE.finditer(t):
                    var = m.group(1) or m.group(2) or m.group(3)
                    assert var.startswith("__") or var in defined, (name, p["title"], var)
            for t in p["targets"]:
                assert t.get("rawSql") or t.get("expr"), (name, p["title"])
        # no two panels overlap
        cells = set()
        for p in panels(b):
            g = p["gridPos"]
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    assert (x, y) not in cells, (name, p["title"])
                    cells.add((x, y))


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    with demo_database(tmp_path_factory) as (db, _):
        # the team turned Slack on after the demo: the breach it recorded is told now
        chat = Chat()
        try:
            env = dict(FINOPS_WEBHOOK_TEAM_ML=chat.url("slack", "team-ml"),
                       FINOPS_WEBHOOK_FINOPS=chat.url("slack", "finops"),
                       FINOPS_WEBHOOK_FINANCE=chat.url("teams", "finance"))
            r = subprocess.run([f"{bindir()}/budget_check", "--dsn", f"dbname={db}",
                                "--budgets", str(ROOT / "demo/budgets.json")],
                               capture_output=True, text=True, env={**os.environ, **env},
                               timeout=120)
            assert r.returncode == 0, r.stderr
        finally:
            chat.stop()
        psql(db, f"DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{READER}')"
                 f" THEN CREATE ROLE {READER} LOGIN IN ROLE finops_reader; END IF; END$$")
        yield db


def run_as_reader(db, sql):
    """(column names, rows) of sql run by the reader role."""
    proc = subprocess.run(["psql", "-X", "-q", "-A", "-F", "\x1f", "-P", "footer=off",
                           "-v", "ON_ERROR_STOP=1", "-U", READER, "-d", db, "-c", sql],
                          capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise AssertionError(proc.stderr + "\n" + sql)
    lines = proc.stdout.splitlines()
    return lines[0].split("\x1f"), [line.split("\x1f") for line in lines[1:]]


def time_range(db):
    """From the first day of billing data to the day after the newest of the data, the
    forecasts and the runs: the range a reader would pick to see all of it."""
    first, last = psql(db, """
        SELECT min(usage_date), greatest(max(usage_date),
               (SELECT max(day) FROM finops.forecast_values),
               (SELECT max(finished_at)::date FROM finops.job_runs))
          FROM finops.billing_daily""").split("|")
    return to_utc(date.fromisoformat(first)), to_utc(date.fromisoformat(last) + timedelta(days=1))


def variable_values(db, board):
    """Each variable as Grafana sets it: its saved value when its query still offers it
    (All: every value), else the query's first."""
    values, multi = {}, set()
    for v in board["templating"]["list"]:
        if v["type"] == "custom":
            values[v["name"]] = v["current"]["value"]
            continue
        q = interpolate(v["query"], values, multi)
        _, rows = run_as_reader(db, q)
        options = [r[0] for r in rows]
        assert options, (board["title"], v["name"], "no values")
        cur = v.get("current", {}).get("value")
        if v.get("includeAll") and cur in (["$__all"], "$__all"):
            values[v["name"]] = options
        elif cur in options:
            values[v["name"]] = cur
        else:
            values[v["name"]] = options[0]
        if v.get("multi") or v.get("includeAll"):
            multi.add(v["name"])
    return values, multi


@pytest.mark.parametrize("name", [p.name for p in BOARDS])
def test_every_sql_panel_runs_as_the_reader_and_returns_rows(demo, name):
    board = json.loads((GRAFANA / "dashboards" / name).read_text())
    frm, to = time_range(demo)
    values, multi = variable_values(demo, board)
    ran = 0
    for p in panels(board):
        for t in p["targets"]:
            if "rawSql" not in t:
                continue
            sql = expand_macros(interpolate(t["rawSql"], values, multi), frm, to)
            assert "$" not in sql.replace("$$", ""), (p["title"], sql)
            cols, rows = run_as_reader(demo, sql)
            assert rows, f"{name}: panel {p['title']!r} returned no rows:\n{sql}"
            if t.get("format") == "time_series":
                assert "time" in cols, (p["title"], cols)
                times = [r[cols.index("time")] for r in rows]
                assert times == sorted(times), f"{p['title']}: not ordered by time"
            ran += 1
    assert ran >= 3, name


def test_the_reader_cannot_change_anything(demo):
    with pytest.raises(AssertionError, match="permission denied"):
        run_as_reader(demo, "DELETE FROM finops.billing_daily")


def test_the_expansion_is_grafanas():
    """Grafana's own examples of its macros (docs and macros_test.go)."""
    frm, to = to_utc(date(2018, 4, 12)), to_utc(date(2018, 4, 13))
    assert expand_macros("WHERE $__timeFilter(time_column)", frm, to) == \
        "WHERE time_column BETWEEN '2018-04-12T00:00:00Z' AND '2018-04-13T00:00:00Z'"
    assert expand_macros("SELECT $__timeGroupAlias(time_column,'5m')", frm, to) == \
        "SELECT floor(extract(epoch from time_column)/300)*300 AS \"time\""
    assert expand_macros("GROUP BY $__timeGroup(time_column, 1d), x", frm, to) == \
        "GROUP BY floor(extract(epoch from time_column)/86400)*86400 AS \"time\", x"
    assert expand_macros("WHERE $__unixEpochFilter(t)", frm, to) == \
        "WHERE t >= 1523491200 AND t <= 1523577600"
    assert interpolate("IN ($a) AND c = '$c' AND ${c}", {"a": ["x", "o'k"], "c": "USD"}, {"a"}) \
        == "IN ('x','o''k') AND c = 'USD' AND USD"
    assert re.search("unknown", str(pytest.raises(ValueError, expand_macros, "$__nope(x)",
                                                    frm, to).value))
