"""The monitoring servers from Debian's packages (prometheus, prometheus-pushgateway,
prometheus-postgres-exporter, prometheus-alertmanager; scripts/setup-debian.sh
installs them), each started by a test on a free 127.0.0.1 port with its data in
the test's temporary folder, and stopped at the end."""
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def binary(name):
    path = shutil.which(name)
    if not path:
        raise AssertionError(f"{name} is not installed: run scripts/setup-debian.sh")
    return path


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.read().decode()


class Server:
    """One server process on a free port; ready once GET ready_path answers 200 and
    the process is still running a moment later. args(port) gives its arguments.
    A port another process took between being chosen and being bound (tests run side
    by side) makes this server exit at once, and it is started again on another:
    a ready answer alone could be the other process's."""

    def __init__(self, name, args, log_path, ready_path="/-/ready", env=None):
        self.name = name
        self.log_path = log_path
        for _ in range(5):
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            self.log = open(log_path, "w")
            self.proc = subprocess.Popen([binary(name), *args(self.port)], stdout=self.log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=dict(os.environ, **(env or {})))
            if self._ready(ready_path):
                return
            self.stop()
            if "address already in use" not in open(log_path).read():
                break
        raise AssertionError(f"{name} did not start:\n" + open(log_path).read()[-3000:])

    def _ready(self, ready_path):
        end = time.monotonic() + 30
        while time.monotonic() < end and self.proc.poll() is None:
            try:
                http_get(self.url + ready_path, timeout=1)
                time.sleep(0.3)
                return self.proc.poll() is None
            except (OSError, urllib.error.HTTPError):
                time.sleep(0.1)
        return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def pushgateway(tmp_path):
    # Debian builds it to persist into /var/lib/prometheus/pushgateway.data: every
    # test's gateway would start with the groups of the one before
    return Server("prometheus-pushgateway",
                  lambda port: [f"--web.listen-address=127.0.0.1:{port}", "--persistence.file="],
                  tmp_path / "pushgateway.log")


def pushgateway_groups(pgw):
    """The Pushgateway's groups: {(job, scope): {metric name: value}}."""
    data = json.loads(http_get(pgw.url + "/api/v1/metrics"))["data"]
    out = {}
    for group in data:
        labels = group["labels"]
        metrics = {}
        for name, fam in group.items():
            if name == "labels" or not isinstance(fam, dict):
                continue
            for m in fam.get("metrics", []):
                metrics[name] = float(m["value"])
        out[(labels.get("job"), labels.get("scope"))] = metrics
    return out


def prom_query(prom, expr, at=None):
    """An instant query through Prometheus's HTTP API: [(labels, value)]."""
    q = {"query": expr}
    if at is not None:
        q["time"] = str(at)
    body = json.loads(http_get(prom.url + "/api/v1/query?" + urllib.parse.urlencode(q)))
    assert body["status"] == "success", body
    return [(r["metric"], float(r["value"][1])) for r in body["data"]["result"]]
