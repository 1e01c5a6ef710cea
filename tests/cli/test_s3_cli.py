"""billing_ingest from s3:// sources, against moto in server mode on 127.0.0.1
with IAM authentication on: every request is SigV4-signed by the binary and
checked by moto. A real public CUR sample (../shared/data) is uploaded with
its manifest; loading it from S3 gives the same table as loading it from disk.
"""
import json
import os
import subprocess
import sys

import pytest

from conftest import MotoServer, psql, run

SHARED = os.path.join(os.environ.get("FINOPS_SOURCE_DIR", ""), "..", "shared", "data")
CUR = os.path.join(SHARED, "aws-cur")
SUPPORT = os.path.join(os.environ.get("FINOPS_SOURCE_DIR", ""), "tests", "support")
BUCKET = "cur-exports"
PERIOD_DIR = "koku-local/20180801-20180901"
ASSEMBLY = "16e57707-f9e3-49be-8be6-b84e684b5194"
MANIFEST = f"{PERIOD_DIR}/koku-local-Manifest.json"
DATA = f"{PERIOD_DIR}/{ASSEMBLY}/koku-local-1.csv.gz"

pytestmark = pytest.mark.skipif(
    not os.path.isdir(CUR), reason=f"{CUR} is absent (the shared sample data); skipping the"
                                   " S3 tests that load a real CUR sample")

TOTALS = ("SELECT count(*) || '|' || sum(billed_cost) || '|' || sum(effective_cost) || '|'"
          " || md5(string_agg(line_item_id || resource_id, ',' ORDER BY line_item_id,"
          " resource_id, billed_cost)) FROM finops.billing_line_items")


@pytest.fixture(scope="module")
def moto():
    import boto3

    server = MotoServer(INITIAL_NO_AUTH_ACTION_COUNT="3", AWS_ACCESS_KEY_ID="setup",
                        AWS_SECRET_ACCESS_KEY="setup", AWS_DEFAULT_REGION="us-east-1")
    url = server.url
    try:
        # the three requests moto lets through unauthenticated: a user, its key, its policy
        iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1",
                           aws_access_key_id="setup", aws_secret_access_key="setup")
        iam.create_user(UserName="finops")
        key = iam.create_access_key(UserName="finops")["AccessKey"]
        iam.put_user_policy(UserName="finops", PolicyName="s3", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
        s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                          aws_access_key_id=key["AccessKeyId"],
                          aws_secret_access_key=key["SecretAccessKey"])
        s3.create_bucket(Bucket=BUCKET)
        for k in (MANIFEST, f"{PERIOD_DIR}/{ASSEMBLY}/koku-local-Manifest.json", DATA):
            s3.upload_file(os.path.join(CUR, k), BUCKET, k)
        # a key with characters SigV4 must encode
        s3.upload_file(os.path.join(CUR, DATA), BUCKET,
                       "data/BILLING_PERIOD=2018-08/part 1+copy.csv.gz")
        yield {"url": url, "key": key["AccessKeyId"], "secret": key["SecretAccessKey"],
               "s3": s3}
    finally:
        server.stop()


@pytest.fixture
def mdb(migrated_db):
    return migrated_db


def s3_env(m, **extra):
    env = {"VAULT_ADDR": "", "FINOPS_S3_ENDPOINT": m["url"], "AWS_ACCESS_KEY_ID": m["key"],
           "AWS_SECRET_ACCESS_KEY": m["secret"], "AWS_REGION": "us-east-1",
           "AWS_SESSION_TOKEN": "", "FINOPS_LOG_LEVEL": "debug"}
    env.update(extra)
    return env


def local_totals(db):
    r = run("billing_ingest", "--dsn", f"dbname={db}", os.path.join(CUR, MANIFEST))
    assert r.code == 0, r.stderr
    t = psql(db, TOTALS)
    psql(db, "DROP TABLE finops.billing_line_items_p20180801")
    return t


def test_manifest_in_s3_loads_the_same_as_from_disk(mdb, moto):
    want = local_totals(mdb)
    psql(mdb, "DELETE FROM finops.billing_loads")
    r = run("billing_ingest", "--dsn", f"dbname={mdb}", f"s3://{BUCKET}/{MANIFEST}",
            env=s3_env(moto))
    assert r.code == 0, r.stderr
    assert psql(mdb, TOTALS) == want
    assert psql(mdb, "SELECT DISTINCT manifest || ' ' || assembly_id FROM finops.billing_loads"
                     " WHERE status = 'current'") == f"s3://{BUCKET}/{MANIFEST} {ASSEMBLY}"
    assert moto["secret"] not in r.stderr
    # the same manifest again: nothing new
    r = run("billing_ingest", "--dsn", f"dbname={mdb}", f"s3://{BUCKET}/{MANIFEST}",
            env=s3_env(moto))
    assert r.code == 99, r.stderr


def test_prefix_in_s3_is_a_directory_with_its_manifest(mdb, moto):
    want = local_totals(mdb)
    psql(mdb, "DELETE FROM finops.billing_loads")
    r = run("billing_ingest", "--dsn", f"dbname={mdb}", f"s3://{BUCKET}/{PERIOD_DIR}/",
            "--region", "us-east-1", env=s3_env(moto, AWS_REGION=""))
    assert r.code == 0, r.stderr
    assert psql(mdb, TOTALS) == want


def test_object_key_with_characters_to_encode(mdb, moto):
    r = run("billing_ingest", "--dsn", f"dbname={mdb}",
            f"s3://{BUCKET}/data/BILLING_PERIOD=2018-08/part 1+copy.csv.gz", env=s3_env(moto))
    assert r.code == 0, r.stderr
    assert int(psql(mdb, "SELECT count(*) FROM finops.billing_line_items")) > 0


def test_wrong_secret_key_is_refused_with_what_to_do(mdb, moto):
    wrong = "WRONG" + moto["secret"][5:]
    r = run("billing_ingest", "--dsn", f"dbname={mdb}", f"s3://{BUCKET}/{MANIFEST}",
            env=s3_env(moto, AWS_SECRET_ACCESS_KEY=wrong))
    assert r.code == 2, r.stderr
    assert "AWS credentials rejected by S3 (SignatureDoesNotMatch)" in r.stderr
    assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in r.stderr
    assert wrong not in r.stderr and moto["secret"] not in r.stderr
    assert psql(mdb, "SELECT count(*) FROM finops.billing_line_items") == "0"
    r = run("billing_ingest", "--dsn", f"dbname={mdb}", f"s3://{BUCKET}/{MANIFEST}",
            env=s3_env(moto, AWS_ACCESS_KEY_ID="AKIAUNKNOWN0000000000"))
    assert r.code == 2, r.stderr
    assert "AWS credentials rejected by S3 (InvalidAccessKeyId)" in r.stderr


def test_missing_object_is_bad_input_naming_it(mdb, moto):
    r = run("billing_ingest", "--dsn", f"dbname={mdb}", f"s3://{BUCKET}/no/such.csv.gz",
            env=s3_env(moto))
    assert r.code == 3, r.stderr
    assert f"s3://{BUCKET}/no/such.csv.gz: no such object" in r.stderr
    r = run("billing_ingest", "--dsn", f"dbname={mdb}", "s3://no-such-bucket/x.csv",
            env=s3_env(moto))
    assert r.code == 2, r.stderr
    assert "s3://no-such-bucket: no such bucket" in r.stderr


def test_no_aws_credentials_is_a_config_error(mdb, moto):
    r = run("billing_ingest", "--dsn", f"dbname={mdb}", f"s3://{BUCKET}/{MANIFEST}",
            env=s3_env(moto, AWS_ACCESS_KEY_ID="", AWS_SECRET_ACCESS_KEY=""))
    assert r.code == 2, r.stderr
    assert "AWS credentials: none configured" in r.stderr


def test_aws_credentials_from_vault(mdb, moto, tmp_path):
    data = tmp_path / "vault.json"
    data.write_text(json.dumps({"tokens": ["hvs.s3test"], "kv2": ["secret"], "secrets": {
        "secret/finops/aws": {"access_key_id": moto["key"],
                              "secret_access_key": moto["secret"]}}}))
    vault = subprocess.Popen([sys.executable, os.path.join(SUPPORT, "vault_server.py"),
                              "--data", str(data)], stdout=subprocess.PIPE, text=True)
    try:
        port = int(vault.stdout.readline().split()[1])
        env = s3_env(moto, VAULT_ADDR=f"http://127.0.0.1:{port}", VAULT_TOKEN="hvs.s3test",
                     AWS_ACCESS_KEY_ID="", AWS_SECRET_ACCESS_KEY="")
        r = run("billing_ingest", "--dsn", f"dbname={mdb}", f"s3://{BUCKET}/{MANIFEST}",
                env=env)
        assert r.code == 0, r.stderr
        assert moto["secret"] not in r.stderr
        # rotated in Vault to a wrong key: the message points at the Vault secret
        data.write_text(json.dumps({"tokens": ["hvs.s3test"], "kv2": ["secret"], "secrets": {
            "secret/finops/aws": {"access_key_id": moto["key"],
                                  "secret_access_key": "x" * 40}}}))
    finally:
        vault.terminate()
        vault.wait(timeout=10)
    vault = subprocess.Popen([sys.executable, os.path.join(SUPPORT, "vault_server.py"),
                              "--data", str(data)], stdout=subprocess.PIPE, text=True)
    try:
        port = int(vault.stdout.readline().split()[1])
        env["VAULT_ADDR"] = f"http://127.0.0.1:{port}"
        r = run("billing_ingest", "--dsn", f"dbname={mdb}", "--force",
                f"s3://{BUCKET}/{MANIFEST}", env=env)
        assert r.code == 2, r.stderr
        assert "the Vault secret at FINOPS_VAULT_AWS_PATH" in r.stderr
    finally:
        vault.terminate()
        vault.wait(timeout=10)


def test_list_units_of_an_s3_report_root(moto):
    r = run("billing_ingest", "--list-units", f"s3://{BUCKET}/koku-local/",
            env=s3_env(moto, PGHOST="/nonexistent-fo-socket-dir"))
    assert r.code == 0, r.stderr
    units = [json.loads(line) for line in r.stdout.splitlines()]
    assert [(u["source"], u["period"], u["kind"], u["assembly"]) for u in units] == [
        (f"s3://{BUCKET}/koku-local/20180801-20180901/", "2018-08-01", "manifest", ASSEMBLY)]
    # the next period's prefix, not delivered yet, is left out (99 when it is all there
    # is); a report root with no object at all is a wrong name (3)
    nxt = f"s3://{BUCKET}/koku-local/20180901-20181001/"
    r = run("billing_ingest", "--list-units", "--skip-undelivered",
            f"s3://{BUCKET}/{PERIOD_DIR}/", nxt, env=s3_env(moto))
    assert r.code == 0, r.stderr
    assert [json.loads(line)["period"] for line in r.stdout.splitlines()] == ["2018-08-01"]
    assert f"{nxt}: not delivered yet" in r.stderr
    assert run("billing_ingest", "--list-units", "--skip-undelivered", nxt,
               env=s3_env(moto)).code == 99
    r = run("billing_ingest", "--list-units", "--skip-undelivered",
            f"s3://{BUCKET}/typo/20180901-20181001/", env=s3_env(moto))
    assert r.code == 3 and "a wrong name" in r.stderr
    assert run("billing_ingest", "--list-units", nxt, env=s3_env(moto)).code == 3
