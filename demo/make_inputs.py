#!/usr/bin/env python3
"""Writes the demo's generated inputs into DIR (scripts/demo.sh calls it):

  DIR/pricing/index.csv     an EC2 offer file (the Price List's CSV form) for
                            the regions and types of the demo CUR, with
                            smaller and larger types to recommend
  DIR/metrics/*.json.gz     CloudWatch Metric Streams output for the demo
                            CUR's instances over 2026-10-18..25, hourly:
                            some idle, most over-provisioned, a few busy

Deterministic: the same files every run. Prices are close to the public
on-demand Linux prices but made for this demo.
"""
import csv
import gzip
import hashlib
import json
import os
import sys
from datetime import datetime, timedelta, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "cli"))
import pricefixtures  # noqa: E402

# type: (family, vcpu, GiB, processor, price per hour in us-east-1)
TYPES = {
    "t3.medium": ("General purpose", 2, 4, "Intel Skylake E5 2686 v5", 0.0416),
    "m5.large": ("General purpose", 2, 8, "Intel Xeon Platinum 8175", 0.096),
    "m5.xlarge": ("General purpose", 4, 16, "Intel Xeon Platinum 8175", 0.192),
    "m5.2xlarge": ("General purpose", 8, 32, "Intel Xeon Platinum 8175", 0.384),
    "m6i.large": ("General purpose", 2, 8, "Intel Xeon 8375C (Ice Lake)", 0.096),
    "m6i.xlarge": ("General purpose", 4, 16, "Intel Xeon 8375C (Ice Lake)", 0.192),
    "m6i.2xlarge": ("General purpose", 8, 32, "Intel Xeon 8375C (Ice Lake)", 0.384),
    "m6i.4xlarge": ("General purpose", 16, 64, "Intel Xeon 8375C (Ice Lake)", 0.768),
    "c5.large": ("Compute optimized", 2, 4, "Intel Xeon Platinum 8124M", 0.085),
    "c5.xlarge": ("Compute optimized", 4, 8, "Intel Xeon Platinum 8124M", 0.17),
    "c5.2xlarge": ("Compute optimized", 8, 16, "Intel Xeon Platinum 8124M", 0.34),
    "r5.large": ("Memory optimized", 2, 16, "Intel Xeon Platinum 8175", 0.126),
    "r5.xlarge": ("Memory optimized", 4, 32, "Intel Xeon Platinum 8175", 0.252),
}
REGIONS = {"us-east-1": 1.0, "us-west-2": 1.0, "eu-west-1": 1.1}
START = datetime(2026, 10, 18, tzinfo=timezone.utc)
HOURS = 7 * 24


def offer(path):
    rows = []
    for region, factor in REGIONS.items():
        for n, (t, (fam, vcpu, mem, proc, price)) in enumerate(TYPES.items()):
            pricefixtures.TYPES[t] = (fam, str(vcpu), f"{mem} GiB", proc, "NA",
                                      "Up to 10 Gigabit", "EBS only")
            sku = hashlib.sha1(f"{region}{t}".encode()).hexdigest()[:16].upper()
            rows.append(pricefixtures.row(sku, t, region, price=f"{price * factor:.4f}"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(pricefixtures.offer_csv("20261001000000", rows))


def instances(cur_csv):
    out = {}
    with gzip.open(cur_csv, "rt") as f:
        for r in csv.DictReader(f):
            rid = r["lineItem/ResourceId"]
            if rid.startswith("i-") and "BoxUsage" in r["lineItem/UsageType"]:
                out[rid] = (r["lineItem/UsageAccountId"], r["product/regionCode"])
    return out


def metrics(directory, insts):
    os.makedirs(directory, exist_ok=True)
    with gzip.open(os.path.join(directory, "2026-10-18-metrics.json.gz"), "wt") as f:
        for h in range(HOURS):
            ts = int((START + timedelta(hours=h)).timestamp()) * 1000
            for rid, (account, region) in sorted(insts.items()):
                k = int(hashlib.sha1(rid.encode()).hexdigest()[:8], 16)
                kind = k % 10                    # 0: idle, 1-7: over-provisioned, 8-9: busy
                wave = (h % 24) / 24
                cpu = 1.5 if kind == 0 else (6 + 10 * wave if kind < 8 else 55 + 40 * wave)
                net = 2e3 if kind == 0 else 5e7
                for ns, name, value in (("AWS/EC2", "CPUUtilization", cpu),
                                        ("AWS/EC2", "NetworkIn", net),
                                        ("AWS/EC2", "NetworkOut", net / 4),
                                        ("CWAgent", "mem_used_percent", 20 + (k % 30))):
                    f.write(json.dumps({
                        "metric_stream_name": "demo", "account_id": account, "region": region,
                        "namespace": ns, "metric_name": name,
                        "dimensions": {"InstanceId": rid}, "timestamp": ts,
                        "value": {"max": value * (1.3 if name == "CPUUtilization" else 1),
                                  "min": value, "sum": value, "count": 1.0},
                        "unit": "Percent" if "CPU" in name or "mem" in name else "Bytes"}) + "\n")


def main():
    out = sys.argv[1]
    cur = os.path.join(ROOT, "demo", "aws-cur", "demo-cur", "20261001-20261101",
                       "5d3b1c2e-0c4a-4c1e-9d2f-7a1e2b3c4d5e", "demo-cur-1.csv.gz")
    offer(os.path.join(out, "pricing", "index.csv"))
    metrics(os.path.join(out, "metrics"), instances(cur))


if __name__ == "__main__":
    main()
