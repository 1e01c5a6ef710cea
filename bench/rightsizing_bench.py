#!/usr/bin/env python3
"""Benchmark: rightsizing_calc against one SQL query, side by side in one run.

Fills a throwaway PostgreSQL 15 with INSTANCES x 14 days of hourly usage rows
(generate_series, deterministic), a catalog of 40 types with prices, and one
billed day per instance, then times:
  ours:  rightsizing_calc (streams the hours, decides in C, writes the set);
  floor: one SQL statement computing, per instance, the p99.5 of the hourly
         CPU maxima with percentile_cont, the memory peak and the hours -
         the statistics ours starts from - into a table.
and checks that both found the same p99.5 CPU for every instance. Prints
the ratio ours/floor and rightsizing_calc's peak RSS.

Usage: bench/rightsizing_bench.py [--instances 100000] [--bindir build]
"""
import argparse
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from benchlib import ThrowawayPostgres  # noqa: E402

FLOOR = """
CREATE TABLE floor_answer AS
SELECT instance_id,
       percentile_cont(0.995) WITHIN GROUP (ORDER BY cpu_max) AS cpu_p995,
       max(mem_max) AS mem_peak, count(cpu_max) AS hours
  FROM finops.instance_usage_hourly
 WHERE hour >= '2026-10-01' AND hour < '2026-10-15'
 GROUP BY instance_id
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--instances", type=int, default=100_000)
    ap.add_argument("--bindir", default=os.path.join(ROOT, "build"))
    args = ap.parse_args()
    tool = os.path.join(args.bindir, "rightsizing_calc")
    pg = ThrowawayPostgres(args.bindir, "fo-rbench.")
    env = pg.env
    env["FINOPS_LOG_LEVEL"] = "warn"

    def psql(sql):
        return subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c",
                               sql], env=env, check=True, text=True,
                              stdout=subprocess.PIPE).stdout.strip()

    try:
        n = args.instances
        print(f"filling {n} instances x 14 days ...", file=sys.stderr)
        psql("CREATE TABLE finops.instance_usage_hourly_p202610 PARTITION OF"
             " finops.instance_usage_hourly FOR VALUES FROM ('2026-10-01') TO ('2026-11-01')")
        psql("INSERT INTO finops.instance_types (instance_type, family, vcpu, memory_gib,"
             " architecture, network_performance, storage, current_generation)"
             " SELECT f || '.' || s, f, v, v * m, 'x86_64', 'Up to 12500 Megabit', 'EBS only', true"
             " FROM unnest(ARRAY['m6i','c6i','r6i','m7i','c7i','r7i','m5','c5']) f,"
             " unnest(ARRAY['large','xlarge','2xlarge','4xlarge','8xlarge']) WITH ORDINALITY"
             "   AS x(s, o), LATERAL (SELECT (2 ^ o)::int AS v,"
             "   CASE left(f, 1) WHEN 'c' THEN 2 WHEN 'r' THEN 8 ELSE 4 END AS m) y")
        psql("INSERT INTO finops.instance_prices (region, instance_type, operating_system,"
             " tenancy, license_model, pre_installed_sw, term, price_per_hour, currency, sku,"
             " offer_term_code, offer_version)"
             " SELECT 'us-east-1', instance_type, 'Linux', 'Shared', 'No License required', 'NA',"
             " 'OnDemand', round(vcpu * 0.024 + memory_gib * 0.003, 4), 'USD',"
             " 'SKU' || instance_type, 'JRTCKXETXF', 'v1' FROM finops.instance_types")
        psql("CREATE TABLE finops.billing_line_items_p20261001 PARTITION OF"
             " finops.billing_line_items FOR VALUES IN ('2026-10-01')")
        psql("INSERT INTO finops.billing_sources (kind, billing_account_id, report_name)"
             " VALUES ('aws_cur', '1', 'bench')")
        psql("INSERT INTO finops.billing_line_items (billing_period, source_id, load_id,"
             " billing_account_id, charge_period_start, charge_category, billing_currency,"
             " billed_cost, effective_cost, line_item_type, usage_type, product_code,"
             " resource_id, instance_type, region_id, operating_system, tenancy,"
             " consumed_quantity)"
             " SELECT '2026-10-01', 1, 1, '1', '2026-10-14 12:00+00', 'Usage', 'USD', 1, 1,"
             " 'Usage', 'BoxUsage', 'AmazonEC2', 'i-' || lpad(i::text, 17, '0'),"
             " (SELECT instance_type FROM finops.instance_types ORDER BY instance_type"
             "  OFFSET i % 40 LIMIT 1), 'us-east-1', 'Linux', 'Shared', 1"
             f" FROM generate_series(1, {n}) i")
        psql("INSERT INTO finops.instance_usage_hourly (instance_id, hour, account_id, region,"
             " cpu_avg, cpu_max, mem_avg, mem_max, net_in_bytes, net_out_bytes, sample_count,"
             " source)"
             " SELECT 'i-' || lpad(i::text, 17, '0'), '2026-10-01'::timestamptz"
             "        + h * interval '1 hour', '1', 'us-east-1', c * 0.7, c,"
             "        CASE WHEN i % 3 = 0 THEN NULL ELSE 30 + (i % 50) END,"
             "        CASE WHEN i % 3 = 0 THEN NULL ELSE 35 + (i % 50) END, 1e8, 1e7, 12,"
             "        'cloudwatch'"
             f" FROM generate_series(1, {n}) i, generate_series(0, 14 * 24 - 1) h,"
             " LATERAL (SELECT ((i * 7919 + h * 104729) % 1000) / 10.0 * (i % 7) / 6 AS c) x")
        psql("VACUUM ANALYZE")
        psql("CHECKPOINT")
        rows = psql("SELECT count(*) FROM finops.instance_usage_hourly")

        t0 = time.monotonic()
        psql(FLOOR)
        floor_s = time.monotonic() - t0

        t0 = time.monotonic()
        proc = subprocess.Popen([tool, "--end", "2026-10-15T00:00:00Z"], env=env,
                                stderr=subprocess.PIPE, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        ours_s = time.monotonic() - t0
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(proc.stderr.read()[-3000:])
        diff = psql("SELECT count(*) FROM floor_answer f JOIN finops.rightsizing_current r"
                    " USING (instance_id) WHERE abs(f.cpu_p995 - r.cpu_percent) > 1e-6")
        both = psql("SELECT count(*) FROM floor_answer f JOIN finops.rightsizing_current r"
                    " USING (instance_id)")
        findings = psql("SELECT string_agg(finding || ' ' || n, ', ') FROM (SELECT finding,"
                        " count(*) n FROM finops.rightsizing_current GROUP BY 1 ORDER BY 1) x")
    finally:
        pg.stop()
    print(f"\nrightsizing_calc vs one SQL query (percentile_cont), {n} instances x 14 days"
          f" ({rows} hourly rows), {os.cpu_count()} cores")
    print(f"floor (SQL statistics only): {floor_s:.1f} s; rightsizing_calc (statistics,"
          f" decisions, writing {both} recommendations): {ours_s:.1f} s;"
          f" ratio {ours_s / floor_s:.2f}; peak RSS {usage.ru_maxrss / 1024:.1f} MB")
    print(f"p99.5 CPU differing from percentile_cont: {diff} of {both}; findings: {findings}")


if __name__ == "__main__":
    main()
