"""Airflow DAG usage_ingest: hourly EC2 utilization, one hour behind the data interval,
fanned out over shards of the fleet.

The run of the interval [H, H+1) loads the hour before it, [H-1, H): by then
CloudWatch has every datapoint of H-1, and Firehose (which buffers up to 15
minutes and files records by delivery hour) has written all of them into
the folders of H-1 and H. Without the Variable ``finops_metric_stream_prefix``
it reads CloudWatch GetMetricData for the instances billed in the hour; with
it (an S3 prefix or a directory with one folder per hour, YYYY/MM/DD/HH as
Firehose writes them) it reads those two folders. Runs are idempotent
(upserted by instance and hour), so catchup backfills what an outage missed.

The Variable ``finops_usage_shards`` (default 1) splits the fleet: the task
``shards`` names them ("0/N" to "N-1/N") and ``load`` is mapped over them,
each task ``usage_ingest --shard I/N`` (docs/operations.md, "Shards and
fan-out"), on as many workers as there are.
"""
from datetime import datetime, timedelta

from finops_common import (USAGE, DAG, bin_path, default_args, hourly_intervals, mapped_loads,
                           shard_env, shards_task)

FMT = "%Y-%m-%dT%H:%M:%SZ"
WINDOW = (" --start {{ data_interval_start.subtract(hours=1).strftime('%s') }}"
          " --end {{ data_interval_start.strftime('%s') }}" % (FMT, FMT))
STREAMS = ("{% if var.value.get('finops_metric_stream_prefix', '') %}"
           " \"{{ var.value.finops_metric_stream_prefix }}/"
           "{{ data_interval_start.subtract(hours=1).strftime('%Y/%m/%d/%H') }}/\""
           " \"{{ var.value.finops_metric_stream_prefix }}/"
           "{{ data_interval_start.strftime('%Y/%m/%d/%H') }}/\"{% endif %}")


with DAG(
    dag_id="usage_ingest",
    description="Hourly CPU, memory and network of EC2 instances",
    schedule=hourly_intervals(),
    start_date=datetime(2026, 11, 1),
    catchup=True,                       # idempotent hours: catchup backfills an outage
    max_active_runs=3,
    default_args=default_args(timedelta(minutes=50)),
    tags=["finops", "ingest"],
) as dag:
    shards = shards_task("finops_usage_shards")
    mapped_loads("load", bin_path("usage_ingest") + " --log-format json" + WINDOW
                 + ' --shard "$FINOPS_SHARD"' + STREAMS, [USAGE], shards.output.map(shard_env))
