"""Airflow DAG rightsizing_calc: recommendations, whenever both new billing
and new usage have landed (their DAGs publish these assets), not on a clock.
It publishes the recommendations, on which idle_stop is scheduled.

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
)
