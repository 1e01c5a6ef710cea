#!/usr/bin/env python3
"""Writes the demo's inputs into DIR (scripts/demo-pipeline.sh calls it).

One believable small company, Lumen Freight (a logistics SaaS), as its data
would stand on the morning of 2026-11-06:

  DIR/cur/lumen-cur/YYYYMMDD-YYYYMMDD/   its AWS Cost and Usage Report, legacy
                                         format, daily granularity, as AWS
                                         delivers it to S3: one manifest and
                                         one gzip file a billing period,
                                         August to October final, November
                                         to date (up to 11-05: a day behind)
  DIR/cur-2026-10-23/lumen-cur/...      the same report as AWS had delivered
                                         it two weeks before (October to
                                         10-22), which the pipeline loaded and
                                         forecast from then
  DIR/focus/lumen-gcp-focus.csv          its Google Cloud billing export in
                                         FOCUS 1.0, EUR, 08-01 to 11-04
  DIR/pricing/index.csv                  an EC2 offer file (the Price List's
                                         CSV form) for its two regions: every
                                         type it runs, and the types to move to
  DIR/metrics/YYYY/MM/DD/*.json.gz       CloudWatch Metric Streams output of
                                         its instances over the 14 days before
                                         2026-11-06: CPU, memory (CloudWatch
                                         agent), network

The company: three AWS accounts under one payer (production, data,
staging), 40 EC2 instances in us-east-1 and eu-west-1 (web and API tiers, a
Partial Upfront Compute Savings Plan covering four web servers, queue workers sized for a
peak long gone, an analytics box and a GPU box somebody forgot, weekday-only
staging and batch), RDS, S3, CloudFront, NAT gateways, Lambda, CloudWatch
and Business support; on Google Cloud, BigQuery and a few VMs for the EU
analytics team. Traffic follows weekdays and grows about 2% a month.

Deterministic: the same bytes every run. Prices are close to the public
on-demand Linux prices of 2026; everything else is made up.
"""
import csv
import gzip
import hashlib
import io
import json
import math
import os
import random
import sys
import uuid
from datetime import date, datetime, timedelta, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "cli"))
import curfixtures  # noqa: E402
import pricefixtures  # noqa: E402

UTC = timezone.utc
FIRST_DAY = date(2026, 8, 1)
TODAY = date(2026, 11, 6)                 # the morning the demo runs
CUR_END = date(2026, 11, 6)               # the CUR holds days before this one
FOCUS_END = date(2026, 11, 5)             # the FOCUS export, a day further behind
METRICS_DAYS = 14

PAYER = "210987654321"
ACCOUNTS = {"111122223333": "lumen-production", "444455556666": "lumen-data",
            "777788889999": "lumen-staging"}
PROD, DATA, STAGING = ACCOUNTS
REPORT = "lumen-cur"
SP_ARN = f"arn:aws:savingsplans::{PAYER}:savingsplan/5e1f0c2a-7b8d-4e9f-a1b2-c3d4e5f6a7b8"
SP_DISCOUNT = 0.28                        # the Compute Savings Plan's rate is 72% of on-demand

# type: (family, vcpu, GiB, processor, gpu, network, storage, $/h in us-east-1)
TYPES = {
    "t3.small": ("General purpose", 2, 2, "Intel Skylake E5 2686 v5", "NA",
                 "Up to 5 Gigabit", "EBS only", 0.0208),
    "t3.medium": ("General purpose", 2, 4, "Intel Skylake E5 2686 v5", "NA",
                  "Up to 5 Gigabit", "EBS only", 0.0416),
    "t3.large": ("General purpose", 2, 8, "Intel Skylake E5 2686 v5", "NA",
                 "Up to 5 Gigabit", "EBS only", 0.0832),
    "m5.large": ("General purpose", 2, 8, "Intel Xeon Platinum 8175", "NA",
                 "Up to 10 Gigabit", "EBS only", 0.096),
    "m6i.large": ("General purpose", 2, 8, "Intel Xeon 8375C (Ice Lake)", "NA",
                  "Up to 12500 Megabit", "EBS only", 0.096),
    "m6i.xlarge": ("General purpose", 4, 16, "Intel Xeon 8375C (Ice Lake)", "NA",
                   "Up to 12500 Megabit", "EBS only", 0.192),
    "m6i.2xlarge": ("General purpose", 8, 32, "Intel Xeon 8375C (Ice Lake)", "NA",
                    "Up to 12500 Megabit", "EBS only", 0.384),
    "m6i.4xlarge": ("General purpose", 16, 64, "Intel Xeon 8375C (Ice Lake)", "NA",
                    "Up to 12500 Megabit", "EBS only", 0.768),
    "m6g.large": ("General purpose", 2, 8, "AWS Graviton2 Processor", "NA",
                  "Up to 10 Gigabit", "EBS only", 0.077),
    "m6g.xlarge": ("General purpose", 4, 16, "AWS Graviton2 Processor", "NA",
                   "Up to 10 Gigabit", "EBS only", 0.154),
    "c6i.large": ("Compute optimized", 2, 4, "Intel Xeon 8375C (Ice Lake)", "NA",
                  "Up to 12500 Megabit", "EBS only", 0.085),
    "c6i.xlarge": ("Compute optimized", 4, 8, "Intel Xeon 8375C (Ice Lake)", "NA",
                   "Up to 12500 Megabit", "EBS only", 0.17),
    "c6i.2xlarge": ("Compute optimized", 8, 16, "Intel Xeon 8375C (Ice Lake)", "NA",
                    "Up to 12500 Megabit", "EBS only", 0.34),
    "r6i.large": ("Memory optimized", 2, 16, "Intel Xeon 8375C (Ice Lake)", "NA",
                  "Up to 12500 Megabit", "EBS only", 0.126),
    "r6i.xlarge": ("Memory optimized", 4, 32, "Intel Xeon 8375C (Ice Lake)", "NA",
                   "Up to 12500 Megabit", "EBS only", 0.252),
    "r6i.2xlarge": ("Memory optimized", 8, 64, "Intel Xeon 8375C (Ice Lake)", "NA",
                    "Up to 12500 Megabit", "EBS only", 0.504),
    "r6i.4xlarge": ("Memory optimized", 16, 128, "Intel Xeon 8375C (Ice Lake)", "NA",
                    "Up to 12500 Megabit", "EBS only", 1.008),
    "g5.xlarge": ("GPU instance", 4, 16, "AMD EPYC 7R32", "1", "Up to 10 Gigabit",
                  "1 x 250 NVMe SSD", 1.006),
    "g5.2xlarge": ("GPU instance", 8, 32, "AMD EPYC 7R32", "1", "Up to 10 Gigabit",
                   "1 x 450 NVMe SSD", 1.212),
}
REGIONS = {"us-east-1": (1.0, "", "US East (N. Virginia)"),
           "eu-west-1": (1.115, "EU-", "EU (Ireland)")}


def price(itype, region):
    return round(TYPES[itype][7] * REGIONS[region][0], 4)


# ---- the fleet -------------------------------------------------------------------

class Instance:
    """One EC2 instance: where it runs, when, and how busy it is.

    cpu: (weekday peak %, night %, weekend factor); mem: % used (None: no
    CloudWatch agent); net: bytes an hour at the peak; hours: "always",
    "autoscaled" (busy afternoons), (start, end) UTC hours on weekdays; launched: the first day it ran;
    resized: (day, type) it was moved to another type (the same work on it)."""

    def __init__(self, name, account, region, itype, team, env, cpu, mem, net,
                 hours="always", launched=FIRST_DAY, sp=False, spiky=0.0, resized=None):
        self.name, self.account, self.region, self.first_type = name, account, region, itype
        self.resized = resized
        self.team, self.env, self.cpu, self.mem, self.net = team, env, cpu, mem, net
        self.hours, self.launched, self.sp, self.spiky = hours, launched, sp, spiky
        self.id = "i-0" + hashlib.sha1(name.encode()).hexdigest()[:16]
        self.volume = "vol-0" + hashlib.sha1(("vol" + name).encode()).hexdigest()[:16]

    def type_on(self, d):
        if self.resized and d >= self.resized[0]:
            return self.resized[1]
        return self.first_type

    def load_factor(self, d):
        """How much busier the same work makes it than its first type (CPU, memory)."""
        t = self.type_on(d)
        if t == self.first_type:
            return 1.0, 1.0
        return (TYPES[self.first_type][1] / TYPES[t][1], TYPES[self.first_type][2] / TYPES[t][2])

    def runs(self, t):
        if t.date() < self.launched:
            return False
        if self.hours == "always":
            return True
        if self.hours == "autoscaled":
            # the web tier's Auto Scaling group adds this instance on busy afternoons:
            # how long depends on the day's traffic
            extra = random.Random(f"scale{self.name}{t.date()}").randint(0, 5)
            busy_day = t.weekday() < 5 or extra >= 4
            return busy_day and 14 <= t.hour < 17 + extra
        start, end = self.hours
        return t.weekday() < 5 and start <= t.hour < end

    def hours_on(self, d):
        t = datetime(d.year, d.month, d.day, tzinfo=UTC)
        return sum(self.runs(t + timedelta(hours=h)) for h in range(24))


def fleet():
    f = []
    # production, us-east-1: the web tier (four under the Savings Plan), the API
    for k in range(1, 7):
        f.append(Instance(f"web-{k}", PROD, "us-east-1", "m6i.xlarge", "web", "production",
                          (55, 18, 0.7), 46, 9e8, sp=k <= 4))
    for k in range(1, 4):
        f.append(Instance(f"web-scaled-{k}", PROD, "us-east-1", "m6i.xlarge", "web",
                          "production", (62, 40, 0.8), 44, 9e8, hours="autoscaled"))
    for k in range(1, 5):
        f.append(Instance(f"api-{k}", PROD, "us-east-1", "c6i.xlarge", "api", "production",
                          (52, 16, 0.75), 38, 1.2e9))
    # queue workers sized for the 2025 peak season; a fourth added in September
    # worker-3 moved to m6i.xlarge on 11-03, as the rightsizing run of 11-02 advised
    for k in range(1, 5):
        f.append(Instance(f"worker-{k}", PROD, "us-east-1", "m6i.2xlarge", "platform",
                          "production", (27, 9, 0.8), 24, 3e8,
                          launched=date(2026, 9, 8) if k == 4 else FIRST_DAY,
                          resized=(date(2026, 11, 3), "m6i.xlarge") if k == 3 else None))
    f.append(Instance("search-1", PROD, "us-east-1", "m6i.large", "api", "production",
                      (97, 90, 0.98), 62, 4e8))
    for k in (1, 2):
        f.append(Instance(f"cache-{k}", PROD, "us-east-1", "r6i.large", "platform",
                          "production", (30, 12, 0.8), 72, 6e8))
    f.append(Instance("bastion", PROD, "us-east-1", "t3.small", "platform", "production",
                      (2.5, 1.5, 1.0), None, 4e4))
    f.append(Instance("billing-batch", PROD, "us-east-1", "c6i.2xlarge", "finance",
                      "production", (24, 24, 1.0), 38, 5e8, hours=(8, 18)))
    # production, eu-west-1
    for k in range(1, 4):
        f.append(Instance(f"web-eu-{k}", PROD, "eu-west-1", "m6i.large", "web", "production",
                          (48, 15, 0.7), 52, 5e8))
    f.append(Instance("worker-eu-1", PROD, "eu-west-1", "m6i.xlarge", "platform",
                      "production", (11, 5, 0.8), 21, 2e8))
    # data
    for k in range(1, 4):
        f.append(Instance(f"etl-{k}", DATA, "us-east-1", "r6i.2xlarge", "data", "production",
                          (58, 30, 0.9), 71, 2e9))
    f.append(Instance("analytics-1", DATA, "us-east-1", "m6i.4xlarge", "data", "production",
                      (7, 3, 0.6), 17, 1e8, launched=date(2026, 9, 15)))
    # the GPU box of an experiment that ended on 10-11, still running
    f.append(Instance("gpu-train-1", DATA, "us-east-1", "g5.xlarge", "ml", "development",
                      (1.2, 0.8, 1.0), 9, 5e4, launched=date(2026, 10, 5)))
    # staging and development
    for k in (1, 2):
        f.append(Instance(f"stg-web-{k}", STAGING, "us-east-1", "m6i.large", "web", "staging",
                          (22, 10, 1.0), 40, 2e8, hours=(7, 19)))
    f.append(Instance("stg-db", STAGING, "us-east-1", "r6i.large", "platform", "staging",
                      (9, 4, 0.8), 19, 1e8))
    for k in (1, 2, 3):
        f.append(Instance(f"dev-{k}", STAGING, "us-east-1", "t3.large", "platform",
                          "development", (6, 2, 0.5) if k < 3 else (1.0, 0.8, 1.0), 28,
                          3e8 if k < 3 else 3e4))
    # no CloudWatch agent on the CI runners and the monitoring box
    f.append(Instance("ci-runner-1", STAGING, "us-east-1", "c6i.xlarge", "platform",
                      "development", (45, 6, 0.3), None, 8e8, spiky=0.5))
    f.append(Instance("ci-runner-2", STAGING, "us-east-1", "c6i.xlarge", "platform",
                      "development", (40, 6, 0.3), None, 8e8, spiky=0.5))
    f.append(Instance("grafana", PROD, "us-east-1", "t3.medium", "platform", "production",
                      (35, 20, 0.9), None, 2e8))
    return f


def busy(t):
    """0 at night, 1 in the middle of the working day (UTC, a US and EU business)."""
    return max(0.0, math.sin(math.pi * (t.hour - 6) / 14)) if 6 <= t.hour <= 20 else 0.0


def utilization(inst, t, rng):
    """CPU average and maximum, memory average and maximum (or None), network in
    and out bytes for the hour starting at t; every value within what
    CloudWatch can report."""
    peak, night, weekend = inst.cpu
    cpu_f, mem_f = inst.load_factor(t.date())
    peak, night = peak * cpu_f, night * cpu_f
    level = night + (peak - night) * busy(t)
    if t.weekday() >= 5:
        level *= weekend
    avg = min(99.0, max(0.2, level * (1 + 0.06 * rng.uniform(-1, 1))))
    burst = 1.12 + 0.12 * rng.random()
    if inst.spiky and rng.random() < 0.2:
        burst += inst.spiky
    mx = min(100.0, avg * burst)
    mem = None
    if inst.mem is not None:
        mem_avg = min(99.0, inst.mem * mem_f * (1 + 0.03 * rng.uniform(-1, 1)))
        mem = (mem_avg, min(100.0, mem_avg * 1.04))
    traffic = inst.net * (0.15 + 0.85 * busy(t)) * (0.6 if t.weekday() >= 5 else 1)
    return avg, mx, mem, traffic, traffic * 0.4


# ---- the AWS CUR -----------------------------------------------------------------

# the columns of the tests' CUR fixtures, and a tag and the Savings Plan rate
COLUMNS = curfixtures.LEGACY_COLUMNS + ["savingsPlan/SavingsPlanRate", "resourceTags/user:Name"]


def month_of(d):
    return date(d.year, d.month, 1)


def next_month(d):
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)


def iso(d):
    return f"{d.isoformat()}T00:00:00Z"


def money(v):
    return f"{v:.10f}".rstrip("0").rstrip(".") if v else "0"


def growth(d):
    """About 2% a month since August."""
    return 1 + 0.02 * (d - FIRST_DAY).days / 30.4


class Cur:
    def __init__(self):
        self.rows = {}           # billing period -> rows
        self.n = 0

    def add(self, d, account, ptype, product, code, usage_type, operation, amount, rate, cost,
            description, resource="", itype="", family="", region="us-east-1", end=None,
            unit="Hrs", tags=None, **extra):
        self.n += 1
        period = month_of(d)
        end = end or d + timedelta(days=1)
        row = {
            "identity/LineItemId": hashlib.sha1(f"li{self.n}".encode()).hexdigest()[:26],
            "identity/TimeInterval": f"{iso(d)}/{iso(end)}",
            "bill/BillingEntity": "AWS", "bill/BillType": "Anniversary",
            "bill/PayerAccountId": PAYER, "bill/BillingPeriodStartDate": iso(period),
            "bill/BillingPeriodEndDate": iso(next_month(period)),
            "lineItem/UsageAccountId": account, "lineItem/LineItemType": ptype,
            "lineItem/UsageStartDate": iso(d), "lineItem/UsageEndDate": iso(end),
            "lineItem/ProductCode": code, "lineItem/UsageType": usage_type,
            "lineItem/Operation": operation, "lineItem/ResourceId": resource,
            "lineItem/UsageAmount": money(amount), "lineItem/CurrencyCode": "USD",
            "lineItem/UnblendedRate": money(rate), "lineItem/UnblendedCost": money(cost),
            "lineItem/LineItemDescription": description, "product/ProductName": product,
            "product/instanceType": itype, "product/productFamily": family,
            "product/regionCode": region, "pricing/term": "OnDemand" if rate else "",
            "pricing/unit": unit, "pricing/publicOnDemandCost": money(cost if cost > 0 else 0),
        }
        for k, v in (tags or {}).items():
            row[f"resourceTags/user:{k}"] = v
        row.update(extra)
        self.rows.setdefault(period, []).append(row)


def cur_rows(instances):
    cur = Cur()
    d = FIRST_DAY
    while d < CUR_END:
        g = growth(d)
        weekend = d.weekday() >= 5
        sp_used = 0.0
        for inst in instances:
            hours = inst.hours_on(d)
            if not hours:
                continue
            itype = inst.type_on(d)
            p = price(itype, inst.region)
            prefix = REGIONS[inst.region][1]
            tags = {"Name": inst.name, "team": inst.team, "env": inst.env}
            common = dict(product="Amazon Elastic Compute Cloud", code="AmazonEC2",
                          usage_type=f"{prefix}BoxUsage:{itype}", operation="RunInstances",
                          amount=hours, rate=p, cost=p * hours, resource=inst.id,
                          itype=itype, family="Compute Instance", region=inst.region,
                          tags=tags, **{"product/operatingSystem": "Linux",
                                        "product/tenancy": "Shared",
                                        "lineItem/AvailabilityZone": inst.region + "a"})
            desc = f"${p} per On Demand Linux {itype} Instance Hour"
            if inst.sp:
                effective = p * hours * (1 - SP_DISCOUNT)
                sp_used += effective
                sp = {"savingsPlan/SavingsPlanARN": SP_ARN,
                      "savingsPlan/SavingsPlanRate": money(p * (1 - SP_DISCOUNT)),
                      "savingsPlan/SavingsPlanEffectiveCost": money(effective)}
                cur.add(d, inst.account, "SavingsPlanCoveredUsage", description=desc,
                        **common, **sp)
                neg = dict(common, cost=-p * hours)
                cur.add(d, inst.account, "SavingsPlanNegation",
                        description=f"SavingsPlanNegation used by AccountId : {inst.account}"
                        f" and UsageType : {common['usage_type']}", **neg, **sp)
            else:
                cur.add(d, inst.account, "Usage", description=desc, **common)
            # its gp3 root and data volume: 100 GiB, $0.08 (0.088 in Ireland) a GiB-month
            days = (next_month(d) - month_of(d)).days
            gb_rate = 0.08 * REGIONS[inst.region][0]
            size = 200 if inst.first_type.startswith(("r6i", "m6i.4")) else 100
            cur.add(d, inst.account, "Usage", "Amazon Elastic Compute Cloud", "AmazonEC2",
                    f"{prefix}EBS:VolumeUsage.gp3", "CreateVolume-Gp3", size / days, gb_rate,
                    gb_rate * size / days, f"${gb_rate} per GB-month of General Purpose (gp3)"
                    " provisioned storage", resource=inst.volume, family="Storage",
                    region=inst.region, unit="GB-Mo", tags=tags)
        # the Compute Savings Plan, 1 year Partial Upfront, bought on 2026-07-01: half
        # the commitment was paid upfront then, the other half is billed every day; the
        # effective cost of the covered usage holds both halves (the upfront amortized)
        commitment = 4 * price("m6i.xlarge", "us-east-1") * (1 - SP_DISCOUNT) * 24
        cur.add(d, PAYER, "SavingsPlanRecurringFee", "Savings Plans for AWS Compute usage",
                "ComputeSavingsPlans", "ComputeSP:1yrPartialUpfront", "", 24,
                commitment / 2 / 24, commitment / 2,
                "1 year Partial Upfront Compute Savings Plan", resource=SP_ARN, region="",
                unit="Hrs", **{"savingsPlan/SavingsPlanARN": SP_ARN,
                               "savingsPlan/TotalCommitmentToDate": money(commitment),
                               "savingsPlan/UsedCommitment": money(min(sp_used, commitment))})
        # RDS: a Multi-AZ PostgreSQL for production, one for staging
        for account, cls, rate, name in ((PROD, "db.r6g.xlarge", 0.904, "lumen-prod"),
                                         (STAGING, "db.t4g.medium", 0.065, "lumen-staging")):
            cur.add(d, account, "Usage", "Amazon Relational Database Service", "AmazonRDS",
                    f"{'Multi-AZUsage' if account == PROD else 'InstanceUsage'}:{cls}",
                    "CreateDBInstance:0014", 24, rate, rate * 24,
                    f"${rate} per RDS {cls} instance hour (PostgreSQL)",
                    resource=f"arn:aws:rds:us-east-1:{account}:db:{name}",
                    family="Database Instance", itype=cls)
            gb = 500 if account == PROD else 50
            cur.add(d, account, "Usage", "Amazon Relational Database Service", "AmazonRDS",
                    "RDS:Multi-AZ-GP3-Storage" if account == PROD else "RDS:GP3-Storage",
                    "CreateDBInstance:0014", gb / 30, 0.23 if account == PROD else 0.115,
                    gb / 30 * (0.23 if account == PROD else 0.115),
                    "Storage for PostgreSQL (gp3)", family="Database Storage",
                    resource=f"arn:aws:rds:us-east-1:{account}:db:{name}", unit="GB-Mo")
        # S3: the data lake grows every day, requests follow the working week
        for account, tb, bucket in ((DATA, 17.5, "lumen-datalake"),
                                    (PROD, 3.1, "lumen-prod-assets")):
            gb = tb * 1024 * g
            cur.add(d, account, "Usage", "Amazon Simple Storage Service", "AmazonS3",
                    "TimedStorage-ByteHrs", "StandardStorage", gb / 30, 0.023,
                    0.023 * gb / 30, "$0.023 per GB - first 50 TB / month of storage used",
                    resource=bucket, family="Storage", unit="GB-Mo")
            req = (2.4 if account == PROD else 1.1) * (0.55 if weekend else 1) * g * \
                (1 + 0.12 * random.Random(f"req{account}{d}").gauss(0, 1))
            cur.add(d, account, "Usage", "Amazon Simple Storage Service", "AmazonS3",
                    "Requests-Tier1", "PutObject", req / 0.000005, 0.000005, req,
                    "$0.005 per 1,000 PUT, COPY, POST, or LIST requests", resource=bucket,
                    family="API Request", unit="Requests")
        # CloudFront, NAT gateways, data transfer, Lambda, CloudWatch: traffic, which
        # varies from day to day as customers' shipments do
        noise = random.Random(f"traffic{d}")
        traffic = (0.58 if weekend else 1.0) * g * (1 + 0.09 * noise.gauss(0, 1))
        for product, code, utype, op, amount, rate, desc in (
                ("Amazon CloudFront", "AmazonCloudFront", "US-DataTransfer-Out-Bytes",
                 "GET", 160 * traffic, 0.085, "$0.085 per GB - first 10 TB / month data"
                 " transfer out (United States)"),
                ("Amazon Elastic Compute Cloud", "AmazonEC2", "NatGateway-Hours", "NatGateway",
                 48, 0.045, "$0.045 per NAT Gateway Hour"),
                ("Amazon Elastic Compute Cloud", "AmazonEC2", "NatGateway-Bytes", "NatGateway",
                 210 * traffic, 0.045, "$0.045 per GB Data Processed by NAT Gateways"),
                ("AWS Data Transfer", "AWSDataTransfer", "DataTransfer-Out-Bytes",
                 "PublicIP-Out", 70 * traffic, 0.09, "$0.090 per GB - first 10 TB / month"
                 " data transfer out beyond the global free tier"),
                ("AWS Lambda", "AWSLambda", "Lambda-GB-Second", "Invoke",
                 190000 * traffic, 0.0000166667, "AWS Lambda - Total Compute - US East"),
                ("AmazonCloudWatch", "AmazonCloudWatch", "CW:MetricMonitorUsage",
                 "MetricStorage", 480 * g / 30, 0.30, "$0.30 per metric-month for the first"
                 " 10,000 metrics")):
            cur.add(d, PROD, "Usage", product, code, utype, op, amount, rate, amount * rate,
                    desc, family="Data Transfer" if "Bytes" in utype else "",
                    unit="GB" if "Bytes" in utype else "Hrs")
        # the incident: from 10-28 to 10-30 a misconfigured nightly sync copied the data
        # lake to a partner through the production NAT gateways, 9 TB a day at $0.045
        # a GB (an S3 gateway endpoint would have made it free); found and fixed on 10-31
        if date(2026, 10, 28) <= d <= date(2026, 10, 30):
            cur.add(d, PROD, "Usage", "Amazon Elastic Compute Cloud", "AmazonEC2",
                    "NatGateway-Bytes", "NatGateway", 9000, 0.045, 9000 * 0.045,
                    "$0.045 per GB Data Processed by NAT Gateways", family="Data Transfer",
                    unit="GB")
        # Business support: a month's charge on the first of the month
        if d.day == 1:
            cur.add(d, PAYER, "Usage", "AWS Support (Business)", "AWSSupportBusiness",
                    "Dollar", "", 1, 640.0 * g, 640.0 * g, "AWS Support (Business)",
                    end=next_month(d), unit="Dollar")
        d += timedelta(days=1)
    return cur.rows


def write_cur(directory, rows, delivered):
    """One delivery a billing period, laid out as AWS writes it to S3, its
    manifest dated when AWS delivered it (the time its load is judged by)."""
    paths = []
    for period, part in sorted(rows.items()):
        start, end = period.strftime("%Y%m%d"), next_month(period).strftime("%Y%m%d")
        assembly = str(uuid.uuid5(uuid.NAMESPACE_URL, f"lumen-cur/{start}/{len(part)}"))
        period_dir = os.path.join(directory, REPORT, f"{start}-{end}")
        os.makedirs(os.path.join(period_dir, assembly), exist_ok=True)
        key = f"{REPORT}/{start}-{end}/{assembly}/{REPORT}-1.csv.gz"
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(COLUMNS)
        for r in part:
            w.writerow([r.get(c, "") for c in COLUMNS])
        with open(os.path.join(directory, key), "wb") as f:
            f.write(gzip.compress(buf.getvalue().encode(), mtime=0))
        manifest = {
            "assemblyId": assembly, "account": PAYER, "reportName": REPORT,
            "billingPeriod": {"start": f"{start}T000000.000Z", "end": f"{end}T000000.000Z"},
            "bucket": "lumen-billing", "reportKeys": [key],
            "columns": [{"category": c.split("/")[0], "name": c.split("/")[1]} for c in COLUMNS],
            "compression": "GZIP", "contentType": "text/csv", "charset": "UTF-8"}
        path = os.path.join(period_dir, f"{REPORT}-Manifest.json")
        with open(path, "w") as f:
            json.dump(manifest, f, indent=1)
        when = delivered.timestamp()
        os.utime(path, (when, when))
        paths.append(path)
    return paths


def as_delivered(rows, cut):
    """The report as AWS had delivered it before day cut: the periods of then,
    the last one with its days before cut only."""
    out = {}
    for period, part in rows.items():
        if period > cut:
            continue
        out[period] = [r for r in part if r["lineItem/UsageStartDate"] < iso(cut)]
    return out


# ---- the Google Cloud FOCUS export ------------------------------------------------

FOCUS_COLUMNS = [
    "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodStart",
    "BillingPeriodEnd", "ChargeCategory", "ChargeClass", "ChargeDescription",
    "ChargeFrequency", "ChargePeriodStart", "ChargePeriodEnd", "BilledCost", "EffectiveCost",
    "ListCost", "ContractedCost", "ProviderName", "PublisherName", "InvoiceIssuerName",
    "RegionId", "RegionName", "ResourceId", "ResourceName", "ResourceType",
    "ServiceCategory", "ServiceName", "SkuId", "SkuPriceId", "SubAccountId", "SubAccountName",
    "PricingCategory", "PricingQuantity", "PricingUnit", "ConsumedQuantity", "ConsumedUnit",
    "CommitmentDiscountId", "Tags",
]


def focus_rows():
    rows = []
    d = FIRST_DAY
    while d < FOCUS_END:
        weekend = d.weekday() >= 5
        g = growth(d)
        period = month_of(d)
        items = [
            ("Compute", "Compute Engine", "lumen-analytics-eu", "projects/lumen-analytics-eu/"
             "instances/dbt-runner", "n2-standard-4", 24, 0.2185, 0.80, "analytics"),
            ("Compute", "Compute Engine", "lumen-analytics-eu", "projects/lumen-analytics-eu/"
             "instances/airbyte", "e2-standard-4", 24, 0.1478, 1.0, "analytics"),
            ("Analytics", "BigQuery", "lumen-analytics-eu", "projects/lumen-analytics-eu/"
             "datasets/freight", "analysis", (3.1 if weekend else 7.8) * g *
             (1 + 0.15 * random.Random(f"bq{d}").gauss(0, 1)), 5.95, 1.0, "analytics"),
            ("Storage", "Cloud Storage", "lumen-analytics-eu", "projects/lumen-analytics-eu/"
             "buckets/lumen-eu-lake", "standard", 4200 * g / 30, 0.0184, 1.0, "analytics"),
            ("Databases", "Cloud SQL", "lumen-ml-eu", "projects/lumen-ml-eu/instances/"
             "features-pg", "db-custom-2-7680", 24, 0.3211, 1.0, "ml"),
        ]
        for cat, service, project, rid, sku, qty, rate, eff, team in items:
            cost = round(qty * rate, 6)
            unit = "GiB-months" if service == "Cloud Storage" else \
                "TiB" if service == "BigQuery" else "Hours"
            rows.append({
                "BillingAccountId": "01A2B3-C4D5E6-F7A8B9", "BillingAccountName":
                "Lumen Freight GCP", "BillingCurrency": "EUR",
                "BillingPeriodStart": f"{period} 00:00:00",
                "BillingPeriodEnd": f"{next_month(period)} 00:00:00", "ChargeCategory": "Usage",
                "ChargeDescription": f"{service} usage", "ChargeFrequency": "Usage-Based",
                "ChargePeriodStart": f"{d} 00:00:00",
                "ChargePeriodEnd": f"{d + timedelta(days=1)} 00:00:00",
                "BilledCost": f"{cost:.6f}", "EffectiveCost": f"{cost * eff:.6f}",
                "ListCost": f"{cost:.6f}", "ContractedCost": f"{cost:.6f}",
                "ProviderName": "Google Cloud", "PublisherName": "Google Cloud",
                "InvoiceIssuerName": "Google Cloud", "RegionId": "europe-west1",
                "RegionName": "Belgium", "ResourceId": rid, "ResourceName": rid.split("/")[-1],
                "ResourceType": service, "ServiceCategory": cat, "ServiceName": service,
                "SkuId": sku, "SubAccountId": project, "SubAccountName": project,
                "PricingCategory": "Committed" if eff < 1 else "Standard",
                "PricingQuantity": f"{qty:.6f}", "PricingUnit": unit,
                "ConsumedQuantity": f"{qty:.6f}", "ConsumedUnit": unit,
                "CommitmentDiscountId": "projects/lumen-analytics-eu/commitments/n2-1yr"
                if eff < 1 else "",
                "Tags": json.dumps({"team": team, "env": "production"})})
        if d == date(2026, 9, 14):
            rows.append(dict(rows[-1], ChargeCategory="Credit", ChargeDescription="Promotional"
                             " credit: BigQuery migration", BilledCost="-150.000000",
                             EffectiveCost="-150.000000", ListCost="0", ContractedCost="0",
                             ServiceName="BigQuery", ServiceCategory="Analytics",
                             SubAccountId="lumen-analytics-eu", PricingQuantity="",
                             ConsumedQuantity="", ResourceId="", ResourceName="", SkuId=""))
        d += timedelta(days=1)
    return rows


def write_focus(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, FOCUS_COLUMNS, lineterminator="\n")
        w.writeheader()
        for r in focus_rows():
            w.writerow(r)


# ---- the price list --------------------------------------------------------------

def write_offer(path):
    rows = []
    for region, (factor, _, location) in REGIONS.items():
        for n, (t, (fam, vcpu, mem, proc, gpu, net, storage, _)) in enumerate(TYPES.items()):
            pricefixtures.TYPES[t] = (fam, str(vcpu), f"{mem} GiB", proc, gpu, net, storage)
            sku = hashlib.sha1(f"{region}{t}".encode()).hexdigest()[:16].upper()
            r = pricefixtures.row(sku, t, region, price=f"{price(t, region):.10f}",
                                  usage=f"{REGIONS[region][1]}BoxUsage:{t}")
            r[pricefixtures.HEADER.index("Location")] = location
            if t == "m5.large":
                r[pricefixtures.HEADER.index("Current Generation")] = "No"
            rows.append(r)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(pricefixtures.offer_csv("20261101000000", rows))


# ---- the metric streams ----------------------------------------------------------

def write_metrics(directory, instances):
    """One file a day as Firehose writes them (YYYY/MM/DD/); one record an hour
    a metric, carrying the hour's statistic set of twelve 5-minute samples."""
    start = datetime(TODAY.year, TODAY.month, TODAY.day, tzinfo=UTC) - timedelta(
        days=METRICS_DAYS)
    for day in range(METRICS_DAYS):
        t0 = start + timedelta(days=day)
        d = os.path.join(directory, t0.strftime("%Y/%m/%d"))
        os.makedirs(d, exist_ok=True)
        out = io.StringIO()
        for h in range(24):
            t = t0 + timedelta(hours=h)
            ts = int(t.timestamp()) * 1000
            for inst in instances:
                if not inst.runs(t):
                    continue
                rng = random.Random(f"{inst.name}{ts}")
                cpu, cpu_max, mem, net_in, net_out = utilization(inst, t, rng)
                stats = [("AWS/EC2", "CPUUtilization", "Percent", cpu, cpu_max, cpu * 0.7),
                         ("AWS/EC2", "NetworkIn", "Bytes", net_in / 12, net_in / 12 * 1.6,
                          net_in / 12 * 0.4),
                         ("AWS/EC2", "NetworkOut", "Bytes", net_out / 12, net_out / 12 * 1.6,
                          net_out / 12 * 0.4)]
                if mem:
                    stats.append(("CWAgent", "mem_used_percent", "Percent", mem[0], mem[1],
                                  mem[0] * 0.97))
                for ns, name, unit, avg, mx, mn in stats:
                    dims = {"InstanceId": inst.id}
                    if ns == "CWAgent":
                        dims.update({"ImageId": "ami-0f3c9c4f8d5a7b2e1",
                                     "InstanceType": inst.type_on(t.date())})
                    out.write(json.dumps({
                        "metric_stream_name": "lumen-usage", "account_id": inst.account,
                        "region": inst.region, "namespace": ns, "metric_name": name,
                        "dimensions": dims, "timestamp": ts,
                        "value": {"max": round(mx, 4), "min": round(mn, 4),
                                  "sum": round(avg * 12, 4), "count": 12.0},
                        "unit": unit}) + "\n")
        name = f"lumen-usage-1-{t0.strftime('%Y-%m-%d-%H-%M-%S')}-demo.json.gz"
        with open(os.path.join(d, name), "wb") as f:
            f.write(gzip.compress(out.getvalue().encode(), mtime=0))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_inputs.py DIR")
    out = sys.argv[1]
    instances = fleet()
    rows = cur_rows(instances)
    manifests = write_cur(os.path.join(out, "cur"), rows, datetime(2026, 11, 6, 6, tzinfo=timezone.utc))
    # the pipeline ran two weeks before too: its forecast of then has its actuals now
    early = write_cur(os.path.join(out, "cur-2026-10-23"), as_delivered(rows, date(2026, 10, 23)),
                      datetime(2026, 10, 23, 6, tzinfo=timezone.utc))
    write_focus(os.path.join(out, "focus", "lumen-gcp-focus.csv"))
    write_offer(os.path.join(out, "pricing", "index.csv"))
    write_metrics(os.path.join(out, "metrics"), instances)
    with open(os.path.join(out, "manifests.txt"), "w") as f:
        f.write("\n".join(manifests) + "\n")
    with open(os.path.join(out, "manifests-2026-10-23.txt"), "w") as f:
        f.write("\n".join(early) + "\n")


if __name__ == "__main__":
    main()
