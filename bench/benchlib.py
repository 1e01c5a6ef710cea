"""Shared by the benchmark drivers: a throwaway PostgreSQL 15 cluster."""
import os
import shutil
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PGTMP = os.path.join(ROOT, "tests", "support", "pgtmp.sh")


class ThrowawayPostgres:
    """Starts a cluster (pgtmp.sh) with database `bench`, migrated with
    finops_migrate from bindir; `env` is the environment to reach it."""

    def __init__(self, bindir, prefix):
        self.dir = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
        self.env = dict(os.environ)
        out = subprocess.run([PGTMP, "start", self.dir], check=True, text=True,
                             stdout=subprocess.PIPE).stdout
        for word in out.split():
            if "=" in word:
                k, v = word.split("=", 1)
                self.env[k] = v
        self.env["PGDATABASE"] = "bench"
        subprocess.run(["createdb", "bench"], env=self.env, check=True)
        subprocess.run([os.path.join(bindir, "finops_migrate")], env=self.env, check=True,
                       stderr=subprocess.DEVNULL)

    def stop(self):
        subprocess.run([PGTMP, "stop", self.dir], check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
