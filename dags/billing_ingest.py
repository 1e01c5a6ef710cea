"""Airflow DAG billing_ingest: AWS CUR, every 6 hours (AWS rewrites the month up to three
times a day until the invoice is final).

Each run loads the billing period its data interval ends in, and during the
first five days of a month the previous period too (AWS finalises it then).
The Variable ``finops_cur_report_root`` is the report's root, holding one
folder per period named as AWS names them (20261101-20261201): an S3 prefix
(s3://bucket/prefix/report) or a local directory. Exit 99 (the assembly is
already loaded) marks the run skipped.
"""
from datetime import timedelta

from finops_common import BILLING, job_dag

PERIOD = ("{{ var.value.finops_cur_report_root }}/"
          "{{ %(m)s.strftime('%%Y%%m01') }}-{{ %(m)s.add(months=1).strftime('%%Y%%m01') }}/")
THIS_MONTH = "data_interval_end.start_of('month')"
LAST_MONTH = "data_interval_end.start_of('month').subtract(months=1)"

dag = job_dag(
    "billing_ingest",
    "AWS Cost and Usage Reports into billing_line_items, one atomic period at a time",
    schedule="0 */6 * * *",
    timeout=timedelta(hours=3),
    tags=["ingest"],
    arguments="{% if data_interval_end.day <= 5 %} \"" + PERIOD % {"m": LAST_MONTH}
    + "\"{% endif %} \"" + PERIOD % {"m": THIS_MONTH} + "\"",
    outlets=[BILLING],
)                                       # no catchup: each run reloads whole periods
