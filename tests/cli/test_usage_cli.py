"""usage_ingest on CloudWatch Metric Streams files (JSON lines, as the
documented output format) and on CloudWatch GetMetricData served by moto:
hourly rows equal values computed independently here."""
import gzip
import json
from collections import defaultdict
from datetime import datetime, timezone

import pytest

from conftest import MotoServer, psql, run

H0 = int(datetime(2026, 10, 5, 0, tzinfo=timezone.utc).timestamp())
START, END = "2026-10-05T00:00:00Z", "2026-10-05T03:00:00Z"


def record(instance, metric, ts, s, count=1, mx=None, ns="AWS/EC2", unit="Percent",
           dims=None):
    return {"metric_stream_name": "finops-stream", "account_id": "123456789012",
            "region": "eu-west-1", "namespace": ns, "metric_name": metric,
            "dimensions": dims if dims is not None else {"InstanceId": instance},
            "timestamp": ts * 1000,
            "value": {"max": mx if mx is not None else s / count, "min": 0.0, "sum": s,
                      "count": float(count)},
            "unit": unit}


def stream_fixture():
    """Three instances over three hours (minute datapoints), one without memory,
    plus lines usage_ingest must ignore, and the expected hourly rows."""
    lines, want = [], defaultdict(lambda: defaultdict(list))
    for i, inst in enumerate(["i-0aaa", "i-0bbb", "i-0ccc"]):
        for h in range(3):
            for minute in range(0, 60, 5):
                ts = H0 + h * 3600 + minute * 60
                cpu = (i + 1) * 10 + h + minute / 10
                lines.append(record(inst, "CPUUtilization", ts, cpu, mx=cpu + 5))
                lines.append(record(inst, "NetworkIn", ts, 1000.0 * (i + 1), unit="Bytes"))
                lines.append(record(inst, "NetworkOut", ts, 500.0 + minute, unit="Bytes"))
                w = want[(inst, h)]
                w["cpu"].append(cpu)
                w["cpu_max"].append(cpu + 5)
                w["in"].append(1000.0 * (i + 1))
                w["out"].append(500.0 + minute)
                if inst != "i-0ccc":          # no CloudWatch agent on i-0ccc
                    mem = 40 + i + minute / 60
                    lines.append(record(inst, "mem_used_percent", ts, mem, ns="CWAgent",
                                        dims={"InstanceId": inst, "ImageId": "ami-1",
                                              "InstanceType": "m5.large"}))
                    w["mem"].append(mem)
    # ignored: a per-group aggregate, another namespace, a datapoint after the window
    lines.append(record(None, "CPUUtilization", H0, 50, dims={"AutoScalingGroupName": "web"}))
    lines.append(record("i-0aaa", "Invocations", H0, 3, ns="AWS/Lambda"))
    lines.append(record("i-0aaa", "CPUUtilization", H0 + 3 * 3600, 99.0))
    expected = {}
    for (inst, h), w in want.items():
        expected[(inst, h)] = (
            sum(w["cpu"]) / len(w["cpu"]), max(w["cpu_max"]),
            sum(w["mem"]) / len(w["mem"]) if w["mem"] else None,
            max(w["mem"]) if w["mem"] else None, sum(w["in"]), sum(w["out"]), len(w["cpu"]))
    return lines, expected


def write_lines(path, records, gz=False):
    text = "".join(json.dumps(r) + "\n" for r in records)
    if gz:
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)


def loaded(db):
    out = {}
    for line in psql(db, "SELECT instance_id, extract(epoch FROM hour)::bigint, cpu_avg,"
                         " cpu_max, mem_avg, mem_max, net_in_bytes, net_out_bytes,"
                         " sample_count FROM finops.instance_usage_hourly").splitlines():
        inst, hour, *vals = line.split("|")
        out[(inst, (int(hour) - H0) // 3600)] = tuple(
            None if v == "" else float(v) for v in vals[:6]) + (int(vals[6]),)
    return out


def close(got, want):
    assert got.keys() == want.keys()
    for k in want:
        for g, w in zip(got[k], want[k]):
            if w is None:
                assert g is None, k
            else:
                assert g == pytest.approx(w, rel=1e-12), k


@pytest.fixture
def mdb(migrated_db):
    return migrated_db


def ingest(db, *args, env=None):
    return run("usage_ingest", "--dsn", f"dbname={db}", "--start", START, "--end", END, *args,
               env=env)


def test_metric_stream_files_roll_up_to_hours(mdb, tmp_path):
    lines, want = stream_fixture()
    d = tmp_path / "stream" / "2026" / "10" / "05"
    d.mkdir(parents=True)
    # split over a plain and a gzip file, as Firehose delivers them
    write_lines(d / "part-1", lines[:len(lines) // 2])
    write_lines(d / "part-2.gz", lines[len(lines) // 2:], gz=True)
    r = ingest(mdb, str(tmp_path / "stream"))
    assert r.code == 0, r.stderr
    close(loaded(mdb), want)
    assert psql(mdb, "SELECT count(*) FROM finops.instance_usage_hourly"
                     " WHERE mem_avg IS NULL") == "3"      # i-0ccc: missing, not zero
    assert psql(mdb, "SELECT DISTINCT account_id || ' ' || region || ' ' || source FROM"
                     " finops.instance_usage_hourly") == "123456789012 eu-west-1 metric_stream"
    msg = r.summary()["msg"]
    assert "9 instance-hour(s) upserted" in msg
    assert "2 other metrics, 1 outside the window" in msg


def test_reloading_and_overlapping_windows_do_not_double_count(mdb, tmp_path):
    lines, want = stream_fixture()
    f = tmp_path / "all.json"
    write_lines(f, lines + lines[:40])      # Firehose may deliver a record twice
    assert ingest(mdb, str(f)).code == 0
    first = loaded(mdb)
    close(first, want)
    assert ingest(mdb, str(f)).code == 0
    assert loaded(mdb) == first
    # an overlapping window (hour 1 only) recomputes hour 1 the same way
    r = run("usage_ingest", "--dsn", f"dbname={mdb}", "--start", "2026-10-05T01:00:00Z",
            "--end", "2026-10-05T02:00:00Z", str(f))
    assert r.code == 0, r.stderr
    assert loaded(mdb) == first
    assert "duplicate(s)" in r.summary()["msg"]


def test_a_bad_line_fails_naming_file_and_line_and_writes_nothing(mdb, tmp_path):
    lines, _ = stream_fixture()
    good = tmp_path / "a.json"
    write_lines(good, lines)
    bad = tmp_path / "b.json"
    write_lines(bad, lines[:5])
    with open(bad, "a") as f:
        f.write('{"namespace": "AWS/EC2", "metric_name": "CPUUtilization", "timestamp": \n')
    r = ingest(mdb, str(good), str(bad))
    assert r.code == 3, r.stderr
    assert f"{bad}:6: not a JSON object" in r.stderr
    assert psql(mdb, "SELECT count(*) FROM finops.instance_usage_hourly") == "0"
    with open(bad, "w") as f:
        f.write(json.dumps(record("i-0aaa", "CPUUtilization", H0, 1.0) | {"value": "high"})
                + "\n")
    r = ingest(mdb, str(bad))
    assert r.code == 3
    assert f"{bad}:1: value:" in r.stderr


def test_window_must_be_whole_hours(mdb, tmp_path):
    r = run("usage_ingest", "--dsn", f"dbname={mdb}", "--start", "2026-10-05T00:30:00Z",
            "--end", END, str(tmp_path))
    assert r.code == 2
    assert "not on the hour" in r.stderr
    r = run("usage_ingest", "--dsn", f"dbname={mdb}", "--end", END, str(tmp_path))
    assert r.code == 2
    assert "--start is required" in r.stderr


# ---- CloudWatch GetMetricData against moto -----------------------------------------

@pytest.fixture(scope="module")
def moto_cw():
    import boto3

    server = MotoServer()
    url = server.url
    try:
        cw = boto3.client("cloudwatch", endpoint_url=url, region_name="eu-west-1",
                          aws_access_key_id="AKIDTEST", aws_secret_access_key="secret")
        yield {"url": url, "cw": cw}
    finally:
        server.stop()


def put(cw, ns, name, inst, ts, value, unit="Percent"):
    cw.put_metric_data(Namespace=ns, MetricData=[{
        "MetricName": name, "Dimensions": [{"Name": "InstanceId", "Value": inst}],
        "Timestamp": datetime.fromtimestamp(ts, timezone.utc), "Value": value, "Unit": unit}])


def test_cloudwatch_get_metric_data(mdb, moto_cw):
    cw = moto_cw["cw"]
    want = {}
    for i, inst in enumerate(["i-0cw1", "i-0cw2"]):
        for h in range(3):
            cpus = [5.0 * (i + 1) + h + k for k in range(4)]
            nets = [100.0 * (k + 1) for k in range(4)]
            mems = [30.0 + k for k in range(4)] if inst == "i-0cw1" else []
            for k in range(4):
                ts = H0 + h * 3600 + k * 900
                put(cw, "AWS/EC2", "CPUUtilization", inst, ts, cpus[k])
                put(cw, "AWS/EC2", "NetworkIn", inst, ts, nets[k], "Bytes")
                put(cw, "AWS/EC2", "NetworkOut", inst, ts, nets[k] / 2, "Bytes")
                if mems:
                    put(cw, "CWAgent", "mem_used_percent", inst, ts, mems[k])
            want[(inst, h)] = (sum(cpus) / 4, max(cpus), sum(mems) / 4 if mems else None,
                               max(mems) if mems else None, sum(nets), sum(nets) / 2, 4)
    env = {"VAULT_ADDR": "", "AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "secret",
           "AWS_REGION": "eu-west-1", "FINOPS_CLOUDWATCH_ENDPOINT": moto_cw["url"]}
    r = ingest(mdb, "--instance", "i-0cw1", "--instance", "i-0cw2", "--instance", "i-0idle",
               env=env)
    assert r.code == 0, r.stderr
    close(loaded(mdb), want)
    assert "i-0idle: no datapoints in the window" in r.stderr
    assert "(3 instance(s), 1 without datapoints)" in r.summary()["msg"]
    assert psql(mdb, "SELECT DISTINCT source || ' ' || region FROM"
                     " finops.instance_usage_hourly") == "cloudwatch eu-west-1"
    # the same window again: the same rows
    before = psql(mdb, "SELECT md5(string_agg(instance_id || hour || cpu_avg || cpu_max,"
                       " ',' ORDER BY instance_id, hour)) FROM finops.instance_usage_hourly")
    assert ingest(mdb, "--instance", "i-0cw1", "--instance", "i-0cw2", env=env).code == 0
    assert psql(mdb, "SELECT md5(string_agg(instance_id || hour || cpu_avg || cpu_max,"
                     " ',' ORDER BY instance_id, hour)) FROM finops.instance_usage_hourly") \
        == before


def test_cloudwatch_backfill_skips_the_hours_present(mdb, moto_cw):
    """--skip-present on CloudWatch: an hour already loaded is left as it was
    (the datapoints CloudWatch returns for it are not used), the others load."""
    cw = moto_cw["cw"]
    for h in range(3):
        for k in range(2):
            put(cw, "AWS/EC2", "CPUUtilization", "i-0bf1", H0 + h * 3600 + k * 1800, 10.0 + h)
    env = {"VAULT_ADDR": "", "AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "secret",
           "AWS_REGION": "eu-west-1", "FINOPS_CLOUDWATCH_ENDPOINT": moto_cw["url"]}
    one = run("usage_ingest", "--dsn", f"dbname={mdb}", "--start", "2026-10-05T01:00:00Z",
              "--end", "2026-10-05T02:00:00Z", "--instance", "i-0bf1", env=env)
    assert one.code == 0, one.stderr
    # the restored hour differs from what CloudWatch says now: it must stay
    psql(mdb, "UPDATE finops.instance_usage_hourly SET cpu_avg = 99 WHERE instance_id ="
              " 'i-0bf1'")
    r = ingest(mdb, "--instance", "i-0bf1", "--skip-present", env=env)
    assert r.code == 0, r.stderr
    assert "1 of 3 hour(s) present already, left as they are (1 datapoint(s)" in \
        r.summary()["msg"]
    assert psql(mdb, "SELECT string_agg(extract(hour FROM hour AT TIME ZONE 'UTC') || '='"
                     " || cpu_avg, ',' ORDER BY hour) FROM finops.instance_usage_hourly"
                     " WHERE instance_id = 'i-0bf1'") == "0=10,1=99,2=12"


def test_cloudwatch_instances_default_to_those_billed_in_the_window(mdb, moto_cw, tmp_path):
    from curfixtures import LEGACY_COLUMNS, legacy_row, write_csv

    cw = moto_cw["cw"]
    # billed in the window: i-0bill1 (eu-west-1) and i-0bill2; i-0before only earlier;
    # an EBS volume line is not an instance
    rows = [legacy_row(1, usage_start="2026-10-05T01:00:00Z",
                       **{"lineItem/ResourceId": "i-0bill1", "product/regionCode": "eu-west-1"}),
            legacy_row(2, usage_start="2026-10-05T02:00:00Z",
                       **{"lineItem/ResourceId": "i-0bill2", "product/regionCode": "eu-west-1"}),
            legacy_row(3, usage_start="2026-10-04T02:00:00Z",
                       **{"lineItem/ResourceId": "i-0before", "product/regionCode": "eu-west-1"}),
            legacy_row(4, usage_start="2026-10-05T02:00:00Z",
                       **{"lineItem/ResourceId": "vol-0abc", "lineItem/UsageType": "EBS:VolumeUsage",
                          "product/regionCode": "eu-west-1"})]
    path = write_csv(tmp_path / "cur.csv", LEGACY_COLUMNS, rows)
    assert run("billing_ingest", "--dsn", f"dbname={mdb}", str(path)).code == 0
    for inst in ("i-0bill1", "i-0before"):
        put(cw, "AWS/EC2", "CPUUtilization", inst, H0 + 3600 + 60, 42.0)
    env = {"VAULT_ADDR": "", "AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "secret",
           "AWS_REGION": "us-east-1", "FINOPS_CLOUDWATCH_ENDPOINT": moto_cw["url"]}
    r = ingest(mdb, env=env)
    assert r.code == 0, r.stderr
    assert "(2 instance(s), 1 without datapoints)" in r.summary()["msg"]
    assert "i-0bill2: no datapoints in the window" in r.stderr
    assert psql(mdb, "SELECT instance_id || ' ' || cpu_avg || ' ' || region || ' ' || account_id"
                     " FROM finops.instance_usage_hourly") == "i-0bill1 42 eu-west-1 444455556666"


class FakeCloudWatch:
    """Answers GetMetricData in the AWS JSON 1.0 protocol as AWS documents it:
    throttles the first two calls (400 ThrottlingException), then serves the
    results in two pages (NextToken), the first marked PartialData."""

    def __init__(self):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        import threading

        self.bodies = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.bodies.append((self.headers.get("X-Amz-Target"),
                                    self.headers.get("Authorization", ""), body))
                if len(fake.bodies) <= 2:
                    return self.answer(400, {"__type": "Throttling",
                                             "message": "Rate exceeded"})
                ids = [q["Id"] for q in body["MetricDataQueries"]]
                stats = {q["Id"]: q["MetricStat"]["Stat"] + q["MetricStat"]["Metric"]
                         ["MetricName"] for q in body["MetricDataQueries"]}
                values = {"AverageCPUUtilization": 20.0, "MaximumCPUUtilization": 80.0,
                          "SampleCountCPUUtilization": 12.0, "SumNetworkIn": 5e6,
                          "SumNetworkOut": 1e6, "Averagemem_used_percent": 61.5,
                          "Maximummem_used_percent": 70.0}
                first = "NextToken" not in body
                hours = [0, 1] if first else [2]
                results = [{"Id": i, "Label": stats[i], "StatusCode":
                            "PartialData" if first else "Complete",
                            "Timestamps": [H0 + h * 3600 for h in hours],
                            "Values": [values[stats[i]] + h for h in hours]} for i in ids]
                answer = {"MetricDataResults": results, "Messages": []}
                if first:
                    answer["NextToken"] = "page-2"
                self.answer(200, answer)

            def answer(self, code, obj):
                data = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def test_cloudwatch_throttling_paging_and_partial_data(mdb):
    fake = FakeCloudWatch()
    try:
        env = {"VAULT_ADDR": "", "AWS_ACCESS_KEY_ID": "AKIDTEST",
               "AWS_SECRET_ACCESS_KEY": "secret", "AWS_REGION": "ap-south-1",
               "FINOPS_CLOUDWATCH_ENDPOINT": fake.url}
        r = ingest(mdb, "--instance", "i-0page", env=env)
        assert r.code == 0, r.stderr
        assert r.stderr.count("CloudWatch throttled GetMetricData") == 2
        target, auth, body = fake.bodies[2]
        assert target == "GraniteServiceVersion20100801.GetMetricData"
        assert "/ap-south-1/monitoring/aws4_request" in auth
        assert len(body["MetricDataQueries"]) == 7
        assert body["StartTime"] == H0 and body["EndTime"] == H0 + 3 * 3600
        assert fake.bodies[3][2]["NextToken"] == "page-2"
        assert loaded(mdb) == {
            ("i-0page", h): (20.0 + h, 80.0 + h, 61.5 + h, 70.0 + h, 5e6 + h, 1e6 + h, 12 + h)
            for h in range(3)}
    finally:
        fake.httpd.shutdown()


# ---- values CloudWatch never reports -----------------------------------------------

def rec_with(metric, value, ns="AWS/EC2", unit="Percent"):
    r = record("i-0aaa", metric, H0 + 600, 0.0, ns=ns, unit=unit)
    r["value"] = value
    return r


@pytest.mark.parametrize("bad,field,why", [
    (rec_with("CPUUtilization", {"sum": -50.0, "count": 1.0, "max": 1.0, "min": 0.0}),
     "value.sum / value.count", "CPUUtilization -50 is negative"),
    (rec_with("CPUUtilization", {"sum": 250.0, "count": 1.0, "max": 250.0, "min": 250.0}),
     "value.sum / value.count", "CPUUtilization 250 is above 100 (a percentage)"),
    (rec_with("CPUUtilization", {"sum": 120.0, "count": 2.0, "max": 40.0, "min": 10.0}),
     "value.max", "CPUUtilization maximum 40 is below the average 60"),
    (rec_with("CPUUtilization", {"sum": 60.0, "count": 2.0, "max": 40.0, "min": 35.0}),
     "value.min", "CPUUtilization minimum 35 is above the average 30"),
    (rec_with("mem_used_percent", {"sum": 1000.0, "count": 1.0, "max": 1000.0, "min": 1000.0},
              ns="CWAgent"),
     "value.sum / value.count", "mem_used_percent 1000 is above 100 (a percentage)"),
    (rec_with("NetworkIn", {"sum": -4.0, "count": 1.0, "max": 0.0, "min": -4.0}, unit="Bytes"),
     "value.sum / value.count", "NetworkIn -4 is negative"),
    (rec_with("CPUUtilization", {"sum": 5.0, "count": 0.0, "max": 5.0, "min": 5.0}),
     "value", "not a finite sum, count and max"),
    # JSON has no infinity: a number too large for a double is refused by the parser
    (rec_with("CPUUtilization", {"sum": 5.0, "count": 1.0, "max": 1e999, "min": 5.0}),
     "not a JSON object", "real number overflow"),
])
def test_values_cloudwatch_never_reports_fail_naming_file_line_and_field(mdb, tmp_path, bad,
                                                                          field, why):
    """CPU -50% or 250%, memory 1000%, a maximum below the average, infinity:
    exit 3 naming file, line and field; nothing written, the earlier rows kept."""
    lines, want = stream_fixture()
    good = tmp_path / "good.json"
    write_lines(good, lines)
    assert ingest(mdb, str(good)).code == 0
    before = psql(mdb, "SELECT md5(string_agg(instance_id || hour || cpu_avg || cpu_max"
                       " || coalesce(mem_max, -1), ',' ORDER BY instance_id, hour))"
                       " FROM finops.instance_usage_hourly")
    path = tmp_path / "bad.json"
    text = "".join(json.dumps(r) + "\n" for r in lines[:3])
    text += json.dumps(bad).replace("Infinity", "1e999") + "\n"
    path.write_text(text)
    r = ingest(mdb, str(path))
    assert r.code == 3, r.stderr
    err = [x for x in r.log_lines() if x["level"] == "error"][0]["msg"]
    assert err.startswith(f"{path}:4: {field}"), err
    assert why in err
    assert psql(mdb, "SELECT md5(string_agg(instance_id || hour || cpu_avg || cpu_max"
                     " || coalesce(mem_max, -1), ',' ORDER BY instance_id, hour))"
                     " FROM finops.instance_usage_hourly") == before


def test_a_cpu_of_exactly_0_and_100_percent_is_loaded(mdb, tmp_path):
    path = tmp_path / "edge.json"
    write_lines(path, [
        rec_with("CPUUtilization", {"sum": 0.0, "count": 1.0, "max": 0.0, "min": 0.0}),
        record("i-0aaa", "CPUUtilization", H0 + 900, 100.0, mx=100.0)])
    r = ingest(mdb, str(path))
    assert r.code == 0, r.stderr
    assert psql(mdb, "SELECT cpu_avg || ' ' || cpu_max FROM finops.instance_usage_hourly") == \
        "50 100"


def test_cloudwatch_answering_an_impossible_value_fails_naming_it(mdb, moto_cw):
    cw = moto_cw["cw"]
    put(cw, "AWS/EC2", "CPUUtilization", "i-0neg", H0 + 60, -50.0)
    env = {"VAULT_ADDR": "", "AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "secret",
           "AWS_REGION": "eu-west-1", "FINOPS_CLOUDWATCH_ENDPOINT": moto_cw["url"]}
    r = ingest(mdb, "--instance", "i-0neg", env=env)
    assert r.code == 3, r.stderr
    assert ("CloudWatch GetMetricData in eu-west-1: CPUUtilization Average of i-0neg at"
            " 2026-10-05 00:00:00+00: CPUUtilization -50 is negative") in r.stderr
    assert psql(mdb, "SELECT count(*) FROM finops.instance_usage_hourly") == "0"


# ---- shards: N runs at once split a fleet ---------------------------------------------

EDGE = int(datetime(2026, 9, 30, 22, tzinfo=timezone.utc).timestamp())   # across a month end
FLEET = [f"i-0{n:016x}" for n in range(1, 121)]
SNAPSHOT = ("SELECT md5(string_agg(instance_id || hour || cpu_avg || cpu_max"
            " || coalesce(net_in_bytes, -1) || sample_count, ',' ORDER BY instance_id, hour))"
            " || ' ' || count(*) FROM finops.instance_usage_hourly")


def fleet_files(tmp_path):
    """120 instances over the 6 hours from 2026-09-30T22:00Z, 5-minute datapoints, in 4
    files an instance is spread over (as Firehose writes them)."""
    files = [[] for _ in range(4)]
    for i, inst in enumerate(FLEET):
        for h in range(6):
            for minute in range(0, 60, 5):
                ts = EDGE + h * 3600 + minute * 60
                f = files[(i + minute) % 4]
                f.append(record(inst, "CPUUtilization", ts, (i % 40) + h + minute / 20,
                                mx=(i % 40) + h + 10))
                f.append(record(inst, "NetworkIn", ts, 100.0 * i + minute, unit="Bytes"))
    d = tmp_path / "fleet"
    d.mkdir()
    for k, recs in enumerate(files):
        write_lines(d / f"part-{k}.json", recs)
    return str(d)


def fleet_run(db, src, *args):
    return ["usage_ingest", "--dsn", f"dbname={db}", "--start", "2026-09-30T22:00:00Z",
            "--end", "2026-10-01T04:00:00Z", *args, src]


def test_shards_split_a_fleet_and_at_once_give_one_runs_rows(db, tmp_path):
    import uuid
    from conftest import start

    src = fleet_files(tmp_path)
    dbs = [db] + ["fo_shard_" + uuid.uuid4().hex[:8] for _ in range(2)]
    for d in dbs[1:]:
        psql("postgres", f"CREATE DATABASE {d}")
    try:
        for d in dbs:
            assert run("finops_migrate", "--dsn", f"dbname={d}").code == 0
        serial, parallel, split = dbs
        one = run(*fleet_run(serial, src))
        assert one.code == 0, one.stderr
        want = psql(serial, SNAPSHOT)
        assert want.endswith(" 720")
        # shard by shard: each instance in exactly one of 3, none left out
        seen = {}
        for k in range(3):
            r = run(*fleet_run(split, src, "--shard", f"{k}/3"))
            assert r.code == 0, r.stderr
            assert f"shard {k}/3 (" in r.summary()["msg"]
            for inst in psql(split, "SELECT DISTINCT instance_id FROM"
                                    " finops.instance_usage_hourly").split():
                seen.setdefault(inst, k)
        assert sorted(seen) == FLEET
        sizes = [list(seen.values()).count(k) for k in range(3)]
        assert all(25 <= s <= 55 for s in sizes), sizes
        assert psql(split, SNAPSHOT) == want
        # at once, on the same window (and its two new partitions): three shards, two
        # overlapping ones and an unsharded run
        procs = [start(*fleet_run(parallel, src, *extra))
                 for extra in (["--shard", "0/3"], ["--shard", "1/3"], ["--shard", "2/3"],
                               ["--shard", "0/2"], ["--shard", "1/2"], [])]
        for p in procs:
            out, errs = p.communicate(timeout=120)
            assert p.returncode == 0, errs
        assert psql(parallel, SNAPSHOT) == want
        assert psql(parallel, "SELECT count(*) FROM pg_inherits WHERE inhparent ="
                              " 'finops.instance_usage_hourly'::regclass") == "2"
    finally:
        for d in dbs[1:]:
            psql("postgres", f"DROP DATABASE IF EXISTS {d} WITH (FORCE)")


@pytest.mark.parametrize("arg", ["3/3", "1", "a/2", "0/0", "0/2000", "-1/2", "1/2/3"])
def test_a_bad_shard_is_a_usage_error(arg):
    r = run("usage_ingest", "--start", START, "--end", END, "--shard", arg,
            env={"PGHOST": "/nonexistent-fo-socket-dir"})
    assert r.code == 2, r.stderr
    assert f"--shard {arg}:" in r.log_lines()[0]["msg"]
