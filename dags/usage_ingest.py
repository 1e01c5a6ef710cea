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
import json
from datetime import datetime, timedelta

from finops_common import (USAGE, NOTHING_NEW, BashOperator, DAG, bin_path, default_args,
                           hourly_intervals)

FMT = "%Y-%m-%dT%H:%M:%SZ"
WINDOW = (" --start {{ data_interval_start.subtract(hours=1).strftime('%s') }}"
          " --end {{ data_interval_start.strftime('%s') }}" % (FMT, FMT))
STREAMS = ("{% if var.value.get('finops_metric_stream_prefix', '') %}"
           " \"{{ var.value.finops_metric_stream_prefix }}/"
           "{{ data_interval_start.subtract(hours=1).strftime('%Y/%m/%d/%H') }}/\""
           " \"{{ var.value.finops_metric_stream_prefix }}/"
           "{{ data_interval_start.strftime('%Y/%m/%d/%H') }}/\"{% endif %}")


def shard_env(shard):
    """The environment of the load task of one shard (added to the worker's own)."""
    return {"FINOPS_SHARD": shard}


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
    # ["0/N", ..., "N-1/N"] on one line (XCom holds a task's last line of output)
    shards = BashOperator(
        task_id="shards",
        bash_command="n={{ var.value.get('finops_usage_shards', '1') | int }};"
        " [ \"$n\" -ge 1 ] || n=1;"
        " seq 0 $((n - 1)) | sed \"s|.*|\\\"&/$n\\\"|\" | paste -sd, - | sed 's/.*/[&]/'",
        do_xcom_push=True,
        output_processor=json.loads,
        execution_timeout=timedelta(minutes=1),
    )
    BashOperator.partial(
        task_id="load",
        bash_command=bin_path("usage_ingest") + " --log-format json" + WINDOW
        + ' --shard "$FINOPS_SHARD"' + STREAMS,
        append_env=True,
        skip_on_exit_code=NOTHING_NEW,
        outlets=[USAGE],
        do_xcom_push=False,
    ).expand(env=shards.output.map(shard_env))
