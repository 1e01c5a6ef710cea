"""idle_stop against moto in server mode on 127.0.0.1 with IAM authentication
on: every EC2 request (DescribeInstances, StopInstances with DryRun first) is
SigV4-signed by the binary and checked against the caller's IAM policy by
moto. The instances' states are read back through the EC2 API afterwards.

The findings are rightsizing_calc's rows (finops.rightsizing_recommendations)
for instances moto made, and the freshest usage is in instance_usage_hourly;
every time is fixed: the findings' window ends 2026-10-15T00:00Z and the runs
judge at 2026-10-15T02:00Z."""
import json
import os

import pytest

from chatstub import chat  # noqa: F401 (a fixture)
from conftest import MotoServer, psql, run

REGION = "eu-west-1"
AMI = "ami-12c6146b"
AS_OF = "2026-10-15T02:00:00Z"
WINDOW_END = "2026-10-15T00:00:00Z"

# name: (instance type, tags, monthly saving, billed type if not the same, last day's CPU %)
FLEET = {
    "etl-dev":     ("m5.large", {"finops:auto-stop": "true", "owner": "data-team"}, "70.08",
                    None, 1.5),
    "web-test":    ("t3.medium", {"environment": "test", "team": "web"}, "30.37", None, 2.0),
    "no-opt-in":   ("m5.large", {"owner": "data-team"}, "70.08", None, 1.0),
    "kept":        ("m5.xlarge", {"finops:auto-stop": "true", "finops:keep": "true"}, "140.16",
                    None, 1.0),
    "busy-now":    ("c5.large", {"finops:auto-stop": "true"}, "62.05", None, 55.0),
    "resized":     ("m5.large", {"environment": "dev"}, "140.16", "m5.xlarge", 1.0),
    "prod":        ("m5.large", {"environment": "prod"}, "70.08", None, 1.0),
}

POLICY = {
    "opt_in": [{"tag": "finops:auto-stop", "values": ["true"]},
               {"tag": "environment", "values": ["dev", "test"]}],
    "owner_tags": ["owner", "team"],
    "channels": [{"name": "data-team-slack", "kind": "slack"},
                 {"name": "finops-alerts", "kind": "teams"}],
    "owners": {"data-team": "data-team-slack"},
    "default_channel": "finops-alerts",
}


@pytest.fixture(scope="module")
def moto():
    import boto3

    server = MotoServer(INITIAL_NO_AUTH_ACTION_COUNT="6", AWS_ACCESS_KEY_ID="setup",
                        AWS_SECRET_ACCESS_KEY="setup", AWS_DEFAULT_REGION=REGION)
    try:
        iam = boto3.client("iam", endpoint_url=server.url, region_name="us-east-1",
                           aws_access_key_id="setup", aws_secret_access_key="setup")
        keys = {}
        for user, actions in (("admin", ["*"]),
                              ("finops", ["ec2:DescribeInstances", "ec2:StopInstances"])):
            iam.create_user(UserName=user)
            keys[user] = iam.create_access_key(UserName=user)["AccessKey"]
            iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}))
        # past moto's unauthenticated requests: a user that may only describe
        admin = {"endpoint_url": server.url, "region_name": REGION,
                 "aws_access_key_id": keys["admin"]["AccessKeyId"],
                 "aws_secret_access_key": keys["admin"]["SecretAccessKey"]}
        aiam = boto3.client("iam", **dict(admin, region_name="us-east-1"))
        for user, action in (("readonly", "ec2:DescribeInstances"),
                             ("blind", "ec2:StopInstances")):
            aiam.create_user(UserName=user)
            keys[user] = aiam.create_access_key(UserName=user)["AccessKey"]
            aiam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]}))
        yield {"url": server.url, "keys": keys, "admin": admin,
               "ec2": boto3.client("ec2", **admin), "asg": boto3.client("autoscaling", **admin)}
    finally:
        server.stop()


def env_for(m, user="finops", **extra):
    env = {"VAULT_ADDR": "", "FINOPS_EC2_ENDPOINT": m["url"],
           "AWS_ACCESS_KEY_ID": m["keys"][user]["AccessKeyId"],
           "AWS_SECRET_ACCESS_KEY": m["keys"][user]["SecretAccessKey"], "AWS_SESSION_TOKEN": "",
           "AWS_REGION": REGION}
    env.update(extra)
    return env


def launch(ec2, itype, tags):
    r = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, InstanceType=itype,
                          TagSpecifications=[{"ResourceType": "instance", "Tags": [
                              {"Key": k, "Value": v} for k, v in tags.items()]}])
    return r["Instances"][0]["InstanceId"]


def states(m, ids):
    r = m["ec2"].describe_instances(InstanceIds=list(ids))
    return {i["InstanceId"]: i["State"]["Name"] for res in r["Reservations"]
            for i in res["Instances"]}


def add_finding(db, run_id, iid, itype, saving, cpu_last_day, account="123456789012"):
    psql(db, f"""
        INSERT INTO finops.rightsizing_runs (run_id, window_start, window_end, parameters,
               instances, monthly_saving_list, monthly_saving_effective)
        VALUES ({run_id}, '{WINDOW_END}'::timestamptz - interval '14 days', '{WINDOW_END}',
                '{{}}', 0, 0, 0) ON CONFLICT DO NOTHING;
        INSERT INTO finops.rightsizing_recommendations (run_id, instance_id, account_id, region,
               operating_system, tenancy, current_type, finding, hours, cpu_statistic,
               cpu_percent, idle_days, monthly_saving_list, monthly_saving_effective, reason)
        VALUES ({run_id}, '{iid}', '{account}', '{REGION}', 'Linux', 'Shared', '{itype}', 'idle',
                336, 'p99.5', 3, 14, {saving}, {saving},
                'idle on 14 of the last 14 days (average CPU <= 10% and network <= 5 MB a day;'
                ' 4 needed) -> stop it');
        CREATE TABLE IF NOT EXISTS finops.instance_usage_hourly_p202610 PARTITION OF
               finops.instance_usage_hourly FOR VALUES FROM ('2026-10-01') TO ('2026-11-01');
        INSERT INTO finops.instance_usage_hourly (instance_id, hour, account_id, region,
               cpu_avg, cpu_max, net_in_bytes, net_out_bytes, sample_count, source)
        SELECT '{iid}', h, '{account}', '{REGION}',
               CASE WHEN h >= '2026-10-14T02:00Z' THEN {cpu_last_day} ELSE 1 END, 5, 1000, 1000,
               12, 'cloudwatch'
          FROM generate_series('2026-10-01T00:00Z'::timestamptz, '2026-10-15T01:00Z',
                               '1 hour') h
        ON CONFLICT (instance_id, hour) DO UPDATE SET cpu_avg = excluded.cpu_avg""")


@pytest.fixture
def fleet(db, moto):
    """The FLEET launched on moto plus an Auto Scaling group member, with their findings."""
    assert run("finops_migrate", "--dsn", f"dbname={db}").code == 0
    ids = {}
    for name, (itype, tags, saving, billed, cpu) in FLEET.items():
        ids[name] = launch(moto["ec2"], itype, tags)
        add_finding(db, 101, ids[name], billed or itype, saving, cpu)
    asg = moto["asg"]
    group = "web-" + db[-6:]
    asg.create_launch_configuration(LaunchConfigurationName=group, ImageId=AMI,
                                    InstanceType="m5.large")
    asg.create_auto_scaling_group(AutoScalingGroupName=group, LaunchConfigurationName=group,
                                  MinSize=1, MaxSize=1, DesiredCapacity=1,
                                  AvailabilityZones=[REGION + "a"])
    member = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[group])[
        "AutoScalingGroups"][0]["Instances"][0]["InstanceId"]
    moto["ec2"].create_tags(Resources=[member], Tags=[{"Key": "finops:auto-stop",
                                                       "Value": "true"}])
    ids["asg-member"] = member
    add_finding(db, 101, member, "m5.large", "70.08", 1.0)
    yield ids
    running = [i for i, s in states(moto, ids.values()).items() if s == "running"]
    if running:
        moto["ec2"].stop_instances(InstanceIds=running)


def policy_file(tmp_path, **over):
    p = tmp_path / "idle-policy.json"
    p.write_text(json.dumps(dict(POLICY, **over)))
    return str(p)


def idle_stop(db, moto, tmp_path, *args, user="finops", chat=None, policy=None, **env):
    if chat:
        env.update(FINOPS_WEBHOOK_DATA_TEAM_SLACK=chat.url("slack", "data-team-slack"),
                   FINOPS_WEBHOOK_FINOPS_ALERTS=chat.url("teams", "finops-alerts"))
    return run("idle_stop", "--dsn", f"dbname={db}", "--log-format", "json", "--policy",
               policy or policy_file(tmp_path), "--as-of", AS_OF, *args,
               env=env_for(moto, user, **env))


def decisions(db, run_id=None):
    where = f"WHERE run_id = {run_id}" if run_id else ""
    rows = psql(db, "SELECT instance_id || '|' || action || '|' || why || '|'"
                    " || coalesce(channel, '') FROM finops.idle_stop_decisions"
                    f" {where} ORDER BY decision_id")
    return [r.split("|") for r in rows.splitlines()]


WHY = {"etl-dev": "eligible", "web-test": "eligible", "no-opt-in": "not_opted_in",
       "kept": "keep_tag", "busy-now": "busy", "resized": "type_changed",
       "prod": "not_opted_in", "asg-member": "auto_scaling_group"}


def test_plan_stops_nothing_and_records_every_decision(db, moto, fleet, tmp_path):
    r = idle_stop(db, moto, tmp_path)
    assert r.code == 0, r.stderr
    assert set(states(moto, fleet.values()).values()) == {"running"}
    got = {iid: (action, why) for iid, action, why, _ in decisions(db)}
    for name, iid in fleet.items():
        want = ("would_stop", "eligible") if WHY[name] == "eligible" else ("skipped", WHY[name])
        assert got[iid] == want, name
    assert "plan (nothing is stopped without --execute)" in r.stdout
    assert r.stdout.count("WOULD STOP") == 2
    # the DryRun's answer is recorded with the plan
    assert psql(db, "SELECT count(*) FROM finops.idle_stop_decisions WHERE action ="
                    " 'would_stop' AND ec2_answer LIKE 'DryRunOperation%'") == "2"
    summary = r.summary()
    assert "2 would stop, 6 skipped" in summary["msg"], summary


def test_execute_stops_the_eligible_tells_owners_and_acts_once(db, moto, fleet, tmp_path, chat):
    r = idle_stop(db, moto, tmp_path, "--execute", chat=chat)
    assert r.code == 0, r.stderr
    st = states(moto, fleet.values())
    for name, iid in fleet.items():
        assert (st[iid] in ("stopping", "stopped")) == (WHY[name] == "eligible"), name
    stopped = {iid: ch for iid, action, _, ch in decisions(db) if action == "stopped"}
    assert stopped == {fleet["etl-dev"]: "data-team-slack", fleet["web-test"]: "finops-alerts"}
    slack, teams = chat.log("data-team-slack"), chat.log("finops-alerts")
    assert len(slack) == 1 and len(teams) == 1
    text = json.dumps(slack[0]["body"])
    assert f"Stopped idle EC2 instance {fleet['etl-dev']} (m5.large, eu-west-1)" in text
    assert "$70.08" in text and "aws ec2 start-instances --region eu-west-1" in text
    assert "finops:keep=true" in text
    assert fleet["web-test"] in json.dumps(teams[0]["body"])
    assert psql(db, "SELECT bool_and(notified) FROM finops.idle_stop_decisions"
                    " WHERE action = 'stopped'") == "t"
    # again: nothing is stopped twice, nobody told twice
    again = idle_stop(db, moto, tmp_path, "--execute", chat=chat)
    assert again.code == 99, again.stderr
    assert psql(db, "SELECT count(*) FROM finops.idle_stop_decisions"
                    " WHERE action = 'stopped'") == "2"
    assert len(chat.log("data-team-slack")) == 1 and len(chat.log("finops-alerts")) == 1
    # a newer rightsizing run still finding them idle: they are stopped, not running
    for name in ("etl-dev", "web-test"):
        add_finding(db, 102, fleet[name], FLEET[name][0], FLEET[name][2], 1.0)
    third = idle_stop(db, moto, tmp_path, "--execute", chat=chat)
    assert third.code == 99, third.stderr
    assert {why for _, _, why, _ in decisions(db, third.run_id())} == {"not_running"}


def test_an_instance_started_again_after_a_stop_is_left_to_its_owner(db, moto, fleet, tmp_path):
    assert idle_stop(db, moto, tmp_path, "--execute", "--no-notify").code == 0
    moto["ec2"].start_instances(InstanceIds=[fleet["etl-dev"]])
    add_finding(db, 102, fleet["etl-dev"], "m5.large", "70.08", 1.0)
    r = idle_stop(db, moto, tmp_path, "--execute", "--no-notify")
    assert r.code == 99, r.stderr
    assert states(moto, [fleet["etl-dev"]])[fleet["etl-dev"]] == "running"
    assert decisions(db, r.run_id())[0][1:3] == ["skipped", "started_again"]


def test_a_denied_stop_fails_cleanly_naming_the_iam_action(db, moto, fleet, tmp_path):
    for args in ([], ["--execute"]):
        r = idle_stop(db, moto, tmp_path, *args, user="readonly")
        assert r.code == 2, r.stderr
        err = [x for x in r.log_lines() if x["level"] == "error"][0]
        assert "ec2:StopInstances" in err["msg"] and err["error_class"] == "usage", err
        assert set(states(moto, fleet.values()).values()) == {"running"}
        got = [d for d in decisions(db, r.run_id()) if d[1] != "skipped" or d[2] == "not_tried"]
        # the first eligible one failed on the DryRun, the other was not tried
        assert [d[1:3] for d in got] == [["failed", "denied"], ["skipped", "not_tried"]]
    assert moto["keys"]["readonly"]["SecretAccessKey"] not in r.stderr


def test_describe_denied_or_keys_refused_stop_nothing(db, moto, fleet, tmp_path):
    r = idle_stop(db, moto, tmp_path, "--execute", user="blind")
    assert r.code == 2, r.stderr
    err = [x for x in r.log_lines() if x["level"] == "error"][0]
    assert "ec2:DescribeInstances" in err["msg"], err
    r = idle_stop(db, moto, tmp_path, "--execute",
                  AWS_SECRET_ACCESS_KEY="WRONG" + moto["keys"]["finops"]["SecretAccessKey"][5:])
    assert r.code == 2, r.stderr
    assert "refused the credentials" in [x for x in r.log_lines()
                                         if x["level"] == "error"][0]["msg"]
    assert set(states(moto, fleet.values()).values()) == {"running"}
    assert psql(db, "SELECT count(*) FROM finops.idle_stop_decisions") == "0"


def test_the_cap_takes_the_largest_savings_first(db, moto, fleet, tmp_path):
    r = idle_stop(db, moto, tmp_path, "--execute", "--no-notify", "--max-instances", "1")
    assert r.code == 0, r.stderr
    st = states(moto, fleet.values())
    assert st[fleet["etl-dev"]] in ("stopping", "stopped") and st[fleet["web-test"]] == "running"
    assert [d[1:3] for d in decisions(db) if d[0] == fleet["web-test"]] == \
        [["skipped", "over_cap"]]
    # the next run takes the rest
    assert idle_stop(db, moto, tmp_path, "--execute", "--no-notify").code == 0
    assert states(moto, [fleet["web-test"]])[fleet["web-test"]] in ("stopping", "stopped")


def test_stale_usage_or_findings_stop_nothing(db, moto, fleet, tmp_path):
    late = idle_stop(db, moto, tmp_path, "--execute", "--as-of", "2026-10-15T12:00:00Z")
    assert late.code == 99, late.stderr
    whys = {why for _, _, why, _ in decisions(db, late.run_id())}
    assert "usage_stale" in whys and "eligible" not in whys
    old = idle_stop(db, moto, tmp_path, "--execute", "--as-of", "2026-10-19T02:00:00Z",
                    policy=policy_file(tmp_path, max_usage_age_hours=168))
    assert old.code == 99, old.stderr
    assert "finding_stale" in {why for _, _, why, _ in decisions(db, old.run_id())}
    assert set(states(moto, fleet.values()).values()) == {"running"}


def test_a_region_filter_and_an_empty_region(db, moto, fleet, tmp_path):
    r = idle_stop(db, moto, tmp_path, "--region", "us-west-2")
    assert r.code == 99, r.stderr
    assert decisions(db) == []


@pytest.mark.parametrize("policy,says", [
    ({}, "opt_in: missing"),
    ({"opt_in": []}, "opt_in: must be a list of 1 to 50 rules"),
    ({"opt_in": [{"tag": "x"}]}, "opt_in[0].values: missing"),
    ({"opt_in": [{"tag": "x", "values": ["y"]}], "owners": {"a": "nope"}},
     "owners.a: no channel named 'nope'"),
    ({"opt_in": [{"tag": "x", "values": ["y"]}], "max_usage_age_hours": 0},
     "max_usage_age_hours"),
    ({"opt_in": [{"tag": "x", "values": ["y"]}], "stop_everything": True}, "stop_everything"),
])
def test_a_bad_policy_is_a_usage_error_naming_the_field(db, tmp_path, policy, says):
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(policy))
    r = run("idle_stop", "--dsn", f"dbname={db}", "--log-format", "json", "--policy", str(p))
    assert r.code == 2, r.stderr
    assert says in r.log_lines()[0]["msg"] and str(p) in r.log_lines()[0]["msg"]


def test_options_are_checked_before_connecting(tmp_path):
    down = {"PGHOST": "/nonexistent-fo-socket-dir", "PGCONNECT_TIMEOUT": "1"}
    for args in ([], ["--policy", policy_file(tmp_path), "--as-of", "tomorrow"],
                 ["--policy", policy_file(tmp_path), "--max-instances", "0"],
                 ["--policy", policy_file(tmp_path), "--region", "EU WEST"]):
        r = run("idle_stop", *args, env=down)
        assert r.code == 2, (args, r.stderr)
