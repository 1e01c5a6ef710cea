"""Fixtures for the command-line tests.

The binaries are run as Airflow, cron and operators run them: as separate
processes with a pipe on stderr, against the throwaway PostgreSQL that the
ctest fixture started (PGHOST etc. in the environment).
"""
import contextlib
import json
import os
import subprocess
import time
import uuid

import pytest

JOBS = ["instance_catalog_updater", "billing_ingest", "usage_ingest",
        "rightsizing_calc", "forecast_train", "anomaly_detect", "budget_check", "idle_stop"]
BINARIES = JOBS + ["finops_migrate"]


def bindir():
    d = os.environ.get("FINOPS_BINDIR")
    if not d:
        pytest.fail("FINOPS_BINDIR is not set: run these tests through ctest")
    return d


class Result:
    def __init__(self, proc):
        self.code = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr

    def log_lines(self):
        """Every stderr line, parsed as JSON (fails on a line that is not)."""
        lines = []
        for line in self.stderr.splitlines():
            if line.startswith("Try '"):
                continue   # the usage hint after a usage error
            lines.append(json.loads(line))
        return lines

    def summary(self):
        for rec in self.log_lines():
            if rec["msg"].startswith("summary: "):
                return rec
        raise AssertionError("no summary line in:\n" + self.stderr)

    def run_id(self):
        """The run's finops.job_runs id, from its summary line."""
        return self.summary()["run_id"]


def run(binary, *args, env=None, timeout=120):
    """Runs a binary; env adds to the environment (a value of None removes it)."""
    full_env = dict(os.environ)
    full_env.pop("FINOPS_LOG_FORMAT", None)
    for k, v in (env or {}).items():
        if v is None:
            full_env.pop(k, None)
        else:
            full_env[k] = v
    proc = subprocess.run([os.path.join(bindir(), binary), *args], capture_output=True,
                          text=True, env=full_env, timeout=timeout, stdin=subprocess.DEVNULL)
    return Result(proc)


def start(binary, *args, env=None):
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.Popen([os.path.join(bindir(), binary), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=full_env,
                            stdin=subprocess.DEVNULL)


def psql(db, sql):
    out = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db,
                          "-c", sql], capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.fixture
def db():
    """A fresh empty database; its name, also usable as a DSN."""
    name = "fo_cli_" + uuid.uuid4().hex[:10]
    psql("postgres", f"CREATE DATABASE {name}")
    yield name
    psql("postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def migrated_template():
    """A database finops_migrate has migrated, once a session: the template of
    migrated_db (test_migrate_cli migrates fresh databases itself)."""
    name = "fo_tmpl_" + uuid.uuid4().hex[:10]
    psql("postgres", f"CREATE DATABASE {name}")
    r = run("finops_migrate", "--dsn", f"dbname={name}")
    assert r.code == 0, r.stderr
    yield name
    psql("postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def migrated_db(migrated_template):
    """A fresh database holding the migrated schema (a copy of the session's
    template: half the time of migrating each one)."""
    name = "fo_cli_" + uuid.uuid4().hex[:10]
    psql("postgres", f"CREATE DATABASE {name} TEMPLATE {migrated_template}")
    yield name
    psql("postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


class LockHolder:
    """A psql session holding the advisory lock a finops run would take."""

    def __init__(self, db, name):
        self.proc = subprocess.Popen(["psql", "-X", "-q", "-A", "-t", "-d", db],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.proc.stdin.write(f"SELECT pg_advisory_lock(hashtextextended('{name}', 0));\n"
                              "\\echo locked\n")
        self.proc.stdin.flush()
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError("psql ended before taking the lock")
            if line.strip() == "locked":
                break

    def release(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


@pytest.fixture
def hold_lock():
    holders = []

    def hold(db, name):
        h = LockHolder(db, name)
        holders.append(h)
        return h
    yield hold
    for h in holders:
        h.release()


class MotoServer:
    """moto in server mode on a free 127.0.0.1 port (the pinned moto[server])."""

    def __init__(self, **env):
        import socket
        import sys
        import urllib.request

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                                      "-p", str(port)], env=dict(os.environ, **env),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                urllib.request.urlopen(self.url + "/moto-api/", timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise AssertionError("moto did not start")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def wait_for(predicate, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@contextlib.contextmanager
def demo_database(tmp_path_factory):
    """scripts/demo-pipeline.sh run into a fresh database: (its name, the report)."""
    name = "fo_demo_" + uuid.uuid4().hex[:8]
    psql("postgres", f"CREATE DATABASE {name}")
    work = tmp_path_factory.mktemp("demo")
    env = dict(os.environ, PGDATABASE=name)
    env.pop("FINOPS_LOG_FORMAT", None)
    script = os.path.join(os.environ["FINOPS_SOURCE_DIR"], "scripts", "demo-pipeline.sh")
    try:
        proc = subprocess.run([script, bindir(), str(work)], capture_output=True, text=True,
                              env=env, timeout=600)
        assert proc.returncode == 0, proc.stderr[-4000:]
        yield name, proc.stdout
    finally:
        psql("postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def shard_of(key, n):
    """The shard of an id or series key among n: FNV-1a 64 of its bytes, modulo n
    (docs/operations.md, "Shards and fan-out"), computed here independently of the C."""
    h = 0xcbf29ce484222325
    for b in key.encode():
        h = ((h ^ b) * 0x100000001b3) % 2**64
    return h % n
