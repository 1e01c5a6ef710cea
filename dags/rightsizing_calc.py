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
from datetime import timedelta

from finops_common import BILLING, RIGHTSIZING, USAGE, job_dag

dag = job_dag(
    "rightsizing_calc",
    "Idle, over- and under-provisioned EC2 instances, with the saving",
    schedule=(BILLING & USAGE),
    timeout=timedelta(hours=1),
    tags=["analysis"],
    outlets=[RIGHTSIZING],
    shards_variable="finops_rightsizing_shards",
)
