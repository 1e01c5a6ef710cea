"""Airflow DAG rightsizing_calc: recommendations, whenever both new billing
and new usage have landed (their DAGs publish these assets), not on a clock.
It publishes the recommendations, on which idle_stop is scheduled.

The Variable ``finops_rightsizing_shards`` (default 1) splits the fleet as the
usage DAG's ``finops_usage_shards`` does: the task ``shards`` names them ("0/N"
to "N-1/N") and ``rightsizing_calc`` is mapped over them, each task
``rightsizing_calc --shard I/N``; finops.rightsizing_current is the newest run
of each shard (docs/operations.md, "Shards and fan-out").

A run with nothing to examine exits 99 and shows as skipped.
"""
from datetime import datetime, timedelta

from finops_common import (BILLING, DAG, RIGHTSIZING, USAGE, bin_path, default_args,
                           mapped_loads, shard_env, shards_task)

with DAG(
    dag_id="rightsizing_calc",
    description="Idle, over- and under-provisioned EC2 instances, with the saving",
    schedule=(BILLING & USAGE),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(timedelta(hours=1)),
    tags=["finops", "analysis"],
) as dag:
    shards = shards_task("finops_rightsizing_shards")
    mapped_loads("rightsizing_calc", bin_path("rightsizing_calc") + " --log-format json"
                 ' --shard "$FINOPS_SHARD"', [RIGHTSIZING], shards.output.map(shard_env))
