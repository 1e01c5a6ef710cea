"""Where the binaries get their credentials: Vault (token, AppRole), the
environment, *_FILE variables; every error path exits as documented, and no
secret appears in any log line, at any log level."""
import json
import os
import subprocess
import sys
import urllib.request

import pytest

from conftest import psql, run
from curfixtures import LEGACY_COLUMNS, legacy_row, write_csv

TOKEN = "hvs.CLI-TEST-TOKEN-0123456789"
ROLE_ID = "role-0b1c2d3e"
SECRET_ID = "secret-id-9f8e7d6c5b4a"
DB_PASSWORD = "Db-Pa55word-never-logged"
SUPPORT = os.path.join(os.environ.get("FINOPS_SOURCE_DIR", ""), "tests", "support")


class Vault:
    def __init__(self, tmp_path, secrets, approle=True):
        data = {"tokens": [TOKEN], "kv2": ["secret"], "secrets": secrets}
        if approle:
            data["approle"] = {"role_id": ROLE_ID, "secret_id": SECRET_ID}
        path = tmp_path / "vault.json"
        path.write_text(json.dumps(data))
        self.proc = subprocess.Popen([sys.executable, os.path.join(SUPPORT, "vault_server.py"),
                                      "--data", str(path)], stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline().split()[1])
        self.addr = f"http://127.0.0.1:{self.port}"

    def post(self, path):
        urllib.request.urlopen(urllib.request.Request(self.addr + path, data=b"{}"))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def vault_for(tmp_path):
    servers = []

    def make(secrets, **kw):
        v = Vault(tmp_path, secrets, **kw)
        servers.append(v)
        return v
    yield make
    for v in servers:
        v.stop()


@pytest.fixture
def mdb(migrated_db):
    return migrated_db


def dsn_of(db):
    # the test cluster trusts local connections: the password is only a secret to hide
    return f"host={os.environ['PGHOST']} dbname={db} user=postgres password={DB_PASSWORD}"


def sample(tmp_path):
    return str(write_csv(tmp_path / "cur.csv", LEGACY_COLUMNS, [legacy_row(1), legacy_row(2)]))


def no_secrets(r):
    for s in (TOKEN, SECRET_ID, DB_PASSWORD):
        assert s not in r.stderr, f"{s} leaked into the log:\n{r.stderr}"
        assert s not in r.stdout


def vault_env(v, **extra):
    env = {"VAULT_ADDR": v.addr, "VAULT_TOKEN": "", "VAULT_ROLE_ID": "", "VAULT_SECRET_ID": "",
           "FINOPS_LOG_LEVEL": "debug", "PGDATABASE": "nonexistent_db_from_env"}
    env.update(extra)
    return env


def test_dsn_from_vault_with_a_token(mdb, tmp_path, vault_for):
    v = vault_for({"secret/finops/database": {"dsn": dsn_of(mdb)}})
    r = run("billing_ingest", sample(tmp_path), env=vault_env(v, VAULT_TOKEN=TOKEN))
    assert r.code == 0, r.stderr
    assert psql(mdb, "SELECT count(*) FROM finops.billing_line_items") == "2"
    assert '"dsn_source":"vault"' in r.stderr
    no_secrets(r)
    # nor in what the run recorded
    assert DB_PASSWORD not in psql(mdb, "SELECT arguments::text || coalesce(error_message, '') || coalesce(details::text, '')"
                                        " FROM finops.job_runs")


def test_dsn_from_vault_with_approle_and_a_secret_id_file(mdb, tmp_path, vault_for):
    v = vault_for({"secret/team/db": {"dsn": dsn_of(mdb)}})
    sid = tmp_path / "secret-id"
    sid.write_text(SECRET_ID + "\n")
    r = run("billing_ingest", sample(tmp_path),
            env=vault_env(v, VAULT_ROLE_ID=ROLE_ID, VAULT_SECRET_ID_FILE=str(sid),
                          FINOPS_VAULT_DB_PATH="team/db"))
    assert r.code == 0, r.stderr
    no_secrets(r)


def test_wrong_approle_secret_is_exit_2_with_the_fix_named(mdb, tmp_path, vault_for):
    v = vault_for({"secret/finops/database": {"dsn": dsn_of(mdb)}})
    r = run("billing_ingest", sample(tmp_path),
            env=vault_env(v, VAULT_ROLE_ID=ROLE_ID, VAULT_SECRET_ID="wrong-" + SECRET_ID))
    assert r.code == 2, r.stderr
    assert "Vault AppRole login refused" in r.stderr
    assert "wrong-" + SECRET_ID not in r.stderr
    no_secrets(r)


def test_wrong_token_and_missing_secret_are_exit_2(mdb, tmp_path, vault_for):
    v = vault_for({})
    r = run("billing_ingest", sample(tmp_path), env=vault_env(v, VAULT_TOKEN="hvs.bad-token"))
    assert r.code == 2
    assert "Vault refused to read secret/finops/database" in r.stderr
    assert "hvs.bad-token" not in r.stderr
    r = run("billing_ingest", sample(tmp_path), env=vault_env(v, VAULT_TOKEN=TOKEN))
    assert r.code == 2
    assert "Vault has no secret at secret/finops/database" in r.stderr
    no_secrets(r)


def test_sealed_vault_is_exit_4(mdb, tmp_path, vault_for):
    v = vault_for({"secret/finops/database": {"dsn": dsn_of(mdb)}})
    v.post("/_test/seal")
    r = run("billing_ingest", sample(tmp_path), env=vault_env(v, VAULT_TOKEN=TOKEN))
    assert r.code == 4, r.stderr
    assert "Vault is sealed" in r.stderr
    no_secrets(r)


def test_without_vault_dsn_from_environment_or_file(mdb, tmp_path):
    env = {"VAULT_ADDR": "", "FINOPS_LOG_LEVEL": "debug",
           "PGDATABASE": "nonexistent_db_from_env"}
    r = run("billing_ingest", sample(tmp_path), env=dict(env, FINOPS_DSN=dsn_of(mdb)))
    assert r.code == 0, r.stderr
    assert '"dsn_source":"environment"' in r.stderr
    no_secrets(r)
    f = tmp_path / "dsn"
    f.write_text(dsn_of(mdb) + "\n")
    r = run("billing_ingest", "--force", sample(tmp_path),
            env=dict(env, FINOPS_DSN_FILE=str(f)))
    assert r.code == 0, r.stderr
    assert '"dsn_source":"file"' in r.stderr
    no_secrets(r)
    r = run("billing_ingest", sample(tmp_path),
            env=dict(env, FINOPS_DSN=dsn_of(mdb), FINOPS_DSN_FILE=str(f)))
    assert r.code == 2
    assert "FINOPS_DSN and FINOPS_DSN_FILE are both set" in r.stderr


def test_dsn_option_wins_over_vault(mdb, tmp_path, vault_for):
    v = vault_for({})       # would answer 404
    r = run("billing_ingest", "--dsn", f"dbname={mdb}", sample(tmp_path),
            env=vault_env(v, VAULT_TOKEN=TOKEN))
    assert r.code == 0, r.stderr


def test_vault_db_path_none_leaves_the_dsn_to_libpq(mdb, tmp_path, vault_for):
    v = vault_for({})
    r = run("billing_ingest", sample(tmp_path),
            env=vault_env(v, VAULT_TOKEN=TOKEN, FINOPS_VAULT_DB_PATH="none", PGDATABASE=mdb))
    assert r.code == 0, r.stderr


# ---- the backup cluster (FINOPS_VAULT_BACKUP_ADDR) -----------------------------------

def requests_to(v):
    with urllib.request.urlopen(v.addr + "/_test/requests") as r:
        return [x for x in json.load(r) if not x["path"].startswith("/_test")]


def failover_env(primary_addr, backup, **extra):
    env = vault_env(backup, VAULT_ADDR=primary_addr, FINOPS_VAULT_BACKUP_ADDR=backup.addr)
    env.update(extra)
    return env


def test_primary_down_fails_over_to_the_backup(mdb, tmp_path, vault_for):
    import socket

    backup = vault_for({"secret/finops/database": {"dsn": dsn_of(mdb)}})
    with socket.socket() as held:                 # bound, never listening: refused
        held.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{held.getsockname()[1]}"
        r = run("billing_ingest", sample(tmp_path),
                env=failover_env(down, backup, VAULT_ROLE_ID=ROLE_ID, VAULT_SECRET_ID=SECRET_ID))
    assert r.code == 0, r.stderr
    warn = [x for x in r.log_lines() if x["level"] == "warn" and x.get("vault_next")]
    assert warn and warn[0]["vault_addr"] == down and warn[0]["vault_next"] == backup.addr
    assert any("served by the backup cluster" in x["msg"] for x in r.log_lines())
    assert [x["path"] for x in requests_to(backup)][:1] == ["/v1/auth/approle/login"]
    no_secrets(r)


def test_primary_sealed_fails_over_and_a_refusal_does_not(mdb, tmp_path, vault_for):
    secrets = {"secret/finops/database": {"dsn": dsn_of(mdb)}}
    primary, backup = vault_for(secrets), vault_for(secrets)
    primary.post("/_test/seal")
    r = run("billing_ingest", sample(tmp_path),
            env=failover_env(primary.addr, backup, VAULT_TOKEN=TOKEN))
    assert r.code == 0, r.stderr
    assert requests_to(backup)
    # unsealed, but the token is wrong: 403 everywhere, the backup is not asked
    primary.post("/_test/unseal")
    before = len(requests_to(backup))
    r = run("billing_ingest", sample(tmp_path),
            env=failover_env(primary.addr, backup, VAULT_TOKEN="hvs.wrong"))
    assert r.code == 2, r.stderr
    assert "Vault refused to read" in r.stderr
    assert len(requests_to(backup)) == before
    no_secrets(r)


def test_both_clusters_down_is_exit_4(mdb, tmp_path, vault_for):
    secrets = {"secret/finops/database": {"dsn": dsn_of(mdb)}}
    primary, backup = vault_for(secrets), vault_for(secrets)
    primary.post("/_test/seal")
    backup.post("/_test/seal")
    r = run("billing_ingest", sample(tmp_path),
            env=failover_env(primary.addr, backup, VAULT_TOKEN=TOKEN))
    assert r.code == 4, r.stderr
    assert "Vault is sealed" in r.stderr
    r = run("billing_ingest", sample(tmp_path),
            env=failover_env(primary.addr, backup, VAULT_TOKEN=TOKEN,
                             FINOPS_VAULT_BACKUP_ADDR="ftp://nope"))
    assert r.code == 2 and "FINOPS_VAULT_BACKUP_ADDR ftp://nope: not an http(s) URL" in r.stderr
