"""Airflow on the CeleryExecutor, all on 127.0.0.1, for tests and bench/: Redis
from Debian's packages as the broker, a PostgreSQL database as the metadata
database and the result backend, Airflow's API server (the Task Execution API
the workers call and the REST API), Celery workers of one slot each, and
Airflow's scheduler and DAG processor, started and stopped here. The
scheduler starts no run of its own (use_job_schedule off, so nothing depends
on the wall clock): runs are triggered through the REST API with a logical
date (trigger)."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
AIRFLOW = os.path.join(os.path.dirname(sys.executable), "airflow")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class CeleryCluster:
    """meta: the (existing, empty) metadata database on $PGHOST; dags: the DAG
    folder; extra: environment of every Airflow process (the workers' FINOPS_*,
    Variables as AIRFLOW_VAR_*)."""

    def __init__(self, workdir, meta, dags, extra):
        self.workdir = workdir
        self.procs = []
        self.workers = []
        host = os.environ.get("PGHOST", "/tmp")
        self.redis_port, self.api_port = free_port(), free_port()
        self.env = dict(os.environ)
        self.env.update({
            "AIRFLOW_HOME": os.path.join(workdir, "airflow"),
            "AIRFLOW__CORE__EXECUTOR":
                "airflow.providers.celery.executors.celery_executor.CeleryExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://postgres@/{meta}"
                                                   f"?host={host}",
            "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://postgres@/{meta}?host={host}",
            "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
            "AIRFLOW__CORE__DAGS_FOLDER": dags,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__API_AUTH__JWT_SECRET": "finops-celery-" + uuid.uuid4().hex,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL":
                f"http://127.0.0.1:{self.api_port}/execution/",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "worker_name.get",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "PYTHONPATH": HERE,
        })
        self.env.update(extra)

    def spawn(self, name, args, clean_env=False, **extra):
        log = os.path.join(self.workdir, f"{name}.log")
        penv = dict(self.env, **extra)
        if clean_env:
            # Redis cannot run under libfaketime (the clock+2y pass): the broker keeps
            # the real clock, which no message of Airflow's depends on
            penv = {k: v for k, v in penv.items()
                    if k != "LD_PRELOAD" and not k.startswith("FAKETIME")}
        p = subprocess.Popen(args, env=penv, stdout=open(log, "w"),
                             stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append((name, p, log))
        return log

    def wait_until(self, what, predicate, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if predicate():
                return
            for name, p, log in self.procs:
                if p.poll() is not None:
                    raise AssertionError(f"{name} exited {p.returncode}:\n"
                                         + open(log).read()[-3000:])
            time.sleep(0.5)
        raise AssertionError(f"{what}: not within {timeout} s")

    def start(self, workers=("a", "b")):
        """Redis, the metadata schema, the API server and the named workers."""
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is missing (scripts/setup-debian.sh installs it)")
        self.spawn("redis", ["redis-server", "--port", str(self.redis_port), "--bind",
                             "127.0.0.1", "--save", "", "--appendonly", "no"], clean_env=True)
        self.wait_until("Redis", lambda: listening(self.redis_port), 30)
        r = subprocess.run([AIRFLOW, "db", "migrate"], env=self.env, capture_output=True,
                           text=True, timeout=300)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        self.spawn("api-server", [AIRFLOW, "api-server", "--host", "127.0.0.1", "--port",
                                  str(self.api_port), "--workers", "1"])
        self.add_workers(workers)

    def add_workers(self, names):
        """Celery workers worker-NAME of one slot each (their task instances' hostname)."""
        logs = [self.spawn(f"worker-{w}", [AIRFLOW, "celery", "worker", "--celery-hostname",
                                           f"worker-{w}@%h", "--concurrency", "1"],
                           FINOPS_TEST_WORKER=f"worker-{w}") for w in names]
        self.workers += list(names)

        def ready():
            return listening(self.api_port) and \
                all(" ready." in open(log).read() for log in logs)

        self.wait_until("the API server and the workers", ready, 120)

    def start_scheduler(self):
        """Airflow's scheduler and DAG processor, free running (the DAGs serialized
        first, so that runs can be triggered at once). The scheduler starts no run
        of its own (use_job_schedule off): only the runs triggered."""
        r = subprocess.run([AIRFLOW, "dags", "reserialize"], env=self.env, capture_output=True,
                           text=True, timeout=300)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        log = self.spawn("scheduler", [AIRFLOW, "scheduler"])
        self.spawn("dag-processor", [AIRFLOW, "dag-processor"])
        self.wait_until("the scheduler", lambda: "Starting the scheduler" in open(log).read()
                        or "Launched DagFileProcessorManager" in open(log).read()
                        or "Adopting or resetting orphaned tasks" in open(log).read(), 120)

    def api(self, method, path, body=None):
        """A call to Airflow's REST API (the simple auth manager, everyone an admin)."""
        import json
        import urllib.request

        base = f"http://127.0.0.1:{self.api_port}"
        if not getattr(self, "token", None):
            with urllib.request.urlopen(base + "/auth/token", timeout=30) as r:
                self.token = json.load(r)["access_token"]
        req = urllib.request.Request(base + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {self.token}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.load(r)

    def trigger(self, dag_id, logical_date, timeout=600):
        """Unpauses the DAG and triggers a run of logical_date through the REST API
        (which, unlike `airflow dags trigger`, infers the data interval from the
        logical date, not from the wall clock); waits until the scheduler has run
        it to success or failure and returns the state."""
        self.api("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
        run = self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": logical_date})
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run['dag_run_id']}"
        self.wait_until(f"the {dag_id} run",
                        lambda: self.api("GET", path)["state"] in ("success", "failed"), timeout)
        return self.api("GET", path)["state"]

    def stop(self):
        for name, p, log in reversed(self.procs):
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for name, p, log in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.procs = []
