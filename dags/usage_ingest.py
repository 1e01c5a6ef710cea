"""Airflow DAG usage_ingest: hourly EC2 utilization, one hour behind the data interval.

The run of the interval [H, H+1) loads the hour before it, [H-1, H): by then
CloudWatch has every datapoint of H-1, and Firehose (which buffers up to 15
minutes and files records by delivery hour) has written all of them into
the folders of H-1 and H. Without the Variable ``finops_metric_stream_prefix``
it reads CloudWatch GetMetricData for the instances billed in the hour; with
it (an S3 prefix or a directory with one folder per hour, YYYY/MM/DD/HH as
Firehose writes them) it reads those two folders. Runs are idempotent
(upserted by instance and hour), so catchup backfills what an outage missed.
"""
from datetime import datetime, timedelta

from finops_common import USAGE, hourly_intervals, job_dag

FMT = "%Y-%m-%dT%H:%M:%SZ"

dag = job_dag(
    "usage_ingest",
    "Hourly CPU, memory and network of EC2 instances",
    schedule=hourly_intervals(),
    timeout=timedelta(minutes=50),
    tags=["ingest"],
    arguments=" --start {{ data_interval_start.subtract(hours=1).strftime('%s') }}"
    " --end {{ data_interval_start.strftime('%s') }}" % (FMT, FMT)
    + "{% if var.value.get('finops_metric_stream_prefix', '') %}"
      " \"{{ var.value.finops_metric_stream_prefix }}/"
      "{{ data_interval_start.subtract(hours=1).strftime('%Y/%m/%d/%H') }}/\""
      " \"{{ var.value.finops_metric_stream_prefix }}/"
      "{{ data_interval_start.strftime('%Y/%m/%d/%H') }}/\"{% endif %}",
    outlets=[USAGE],
    start_date=datetime(2026, 11, 1),
    catchup=True,                       # idempotent hours: catchup backfills an outage
    max_active_runs=3,
)
