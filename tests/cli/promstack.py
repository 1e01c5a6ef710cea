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
    """One server process; ready once GET ready_path answers 200."""

    def __init__(self, name, args, port, log_path, ready_path="/-/ready", env=None):
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen([binary(name), *args], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=dict(os.environ, **(env or {})))
        end = time.monotonic() + 30
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                break
            try:
                http_get(self.url + ready_path, timeout=1)
                return
            except (OSError, urllib.error.HTTPError):
                time.sleep(0.1)
        self.stop()
        raise AssertionError(f"{name} did not start:\n" + open(log_path).read()[-3000:])

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
    port = free_port()
    return Server("prometheus-pushgateway", [f"--web.listen-address=127.0.0.1:{port}"], port,
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
