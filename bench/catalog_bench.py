#!/usr/bin/env python3
"""Benchmark: instance_catalog_updater streaming generated EC2 offer files.

For each size, an offer file with the real 91-column header (tests/cli/
pricefixtures.py) is generated once (cached under the work directory): a mix
of On-Demand and Reserved prices of compute instances, plus the rows the
catalog skips (other product families, unused capacity, host placeholders)
in roughly the proportions of a real regional file. A local HTTP server
serves it with a region index; instance_catalog_updater loads it into a
throwaway PostgreSQL 15 (--force, so every run downloads and replaces).
Prints rows per second, MB/s and peak RSS; the RSS must stay bounded and the
same whatever the file's size.

Usage: bench/catalog_bench.py [--rows 100000 1000000] [--repeat 1]
       [--bindir build] [--workdir build/bench]
"""
import argparse
import csv
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from benchlib import ThrowawayPostgres  # noqa: E402
sys.path.insert(0, os.path.join(ROOT, "tests", "cli"))
from pricefixtures import HEADER, TYPES, row, write_index  # noqa: E402

VERSION = "20261101000000"
REGION = "us-east-1"


def generate(path, rows, seed):
    """Writes an offer file of about `rows` price rows, deterministic by seed."""
    rnd = random.Random(seed)
    types = list(TYPES)
    oses = ["Linux", "Windows", "RHEL", "SUSE", "Red Hat Enterprise Linux with HA"]
    with open(path, "w", newline="") as f:
        w = csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\n")
        for k, v in [("FormatVersion", "v1.0"), ("Disclaimer", "Informational only."),
                     ("Publication Date", "2026-11-01T00:00:00Z"), ("Version", VERSION),
                     ("OfferCode", "AmazonEC2")]:
            w.writerow([k, v])
        w.writerow(HEADER)
        n = 0
        while n < rows:
            t = rnd.choice(types)
            sku = "%016X" % rnd.getrandbits(64)
            os_ = rnd.choice(oses)
            tenancy = rnd.choice(["Shared", "Shared", "Dedicated"])
            kind = rnd.random()
            if kind < 0.25:       # skipped: storage, unused capacity, host placeholders
                r = rnd.choice([
                    row(sku, "", REGION, family="Storage", price="0.08", unit="GB-Mo"),
                    row(sku, t, REGION, capacity="UnusedCapacityReservation", os_=os_),
                    row(sku, t, REGION, tenancy="Host", price="0", os_=os_,
                        usage=f"HostBoxUsage:{t}")])
                w.writerow(r)
                n += 1
                continue
            price = rnd.uniform(0.005, 40)
            w.writerow(row(sku, t, REGION, price=f"{price:.10f}", os_=os_, tenancy=tenancy))
            n += 1
            for lease in ("1yr", "3yr"):
                for cls in ("standard", "convertible"):
                    code = "%010X" % rnd.getrandbits(40)
                    w.writerow(row(sku, t, REGION, "Reserved", f"{price * 0.6:.10f}",
                                   os_=os_, tenancy=tenancy, lease=lease,
                                   purchase="Partial Upfront", offering=cls, term_code=code))
                    w.writerow(row(sku, t, REGION, "Reserved", "%d" % (price * 3000),
                                   unit="Quantity", os_=os_, tenancy=tenancy, lease=lease,
                                   purchase="Partial Upfront", offering=cls, term_code=code,
                                   description="Upfront Fee"))
                    n += 2


def serve(root):
    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=root, **kw)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--bindir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--workdir", default=os.path.join(ROOT, "build", "bench"))
    args = ap.parse_args()
    tool = os.path.join(args.bindir, "instance_catalog_updater")
    migrate = os.path.join(args.bindir, "finops_migrate")
    for b in (tool, migrate):
        if not os.access(b, os.X_OK):
            sys.exit(f"{b} is missing: build first (cmake --build {args.bindir})")
    pg = ThrowawayPostgres(args.bindir, "fo-cbench.")
    env = pg.env
    env["FINOPS_LOG_LEVEL"] = "warn"
    results = []
    try:
        for rows in args.rows:
            www = os.path.join(args.workdir, f"pricing-{rows}-{args.seed}")
            d = os.path.join(www, "offers", "v1.0", "aws", "AmazonEC2", VERSION, REGION)
            path = os.path.join(d, "index.csv")
            if not os.path.exists(path):
                os.makedirs(d, exist_ok=True)
                print(f"generating {rows} rows into {path} ...", file=sys.stderr)
                generate(path + ".tmp", rows, args.seed)
                os.rename(path + ".tmp", path)
                write_index(www, {REGION: VERSION})
            httpd = serve(www)
            url = f"http://127.0.0.1:{httpd.server_address[1]}"
            times, rss = [], []
            for _ in range(args.repeat):
                t0 = time.monotonic()
                proc = subprocess.Popen([tool, "--base-url", url, "--force"], env=env,
                                        stderr=subprocess.PIPE, text=True)
                _, status, usage = os.wait4(proc.pid, 0)
                times.append(time.monotonic() - t0)
                rss.append(usage.ru_maxrss / 1024.0)
                if os.waitstatus_to_exitcode(status) != 0:
                    sys.exit(proc.stderr.read()[-3000:])
            httpd.shutdown()
            results.append((rows, os.path.getsize(path), statistics.median(times), max(rss)))
    finally:
        pg.stop()
    print(f"\ninstance_catalog_updater, one region from a local HTTP server, {os.cpu_count()}"
          f" cores, median of {args.repeat} run(s)")
    print(f"{'rows':>10} {'file MB':>8} {'seconds':>8} {'rows/s':>9} {'MB/s':>6}"
          f" {'peak RSS MB':>12}")
    for rows, size, t, rss in results:
        print(f"{rows:>10} {size / 1e6:>8.0f} {t:>8.1f} {rows / t:>9.0f} {size / 1e6 / t:>6.1f}"
              f" {rss:>12.1f}")


if __name__ == "__main__":
    main()
