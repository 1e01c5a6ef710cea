"""Airflow DAG rightsizing_calc: recommendations, whenever both new billing
and new usage have landed (their DAGs publish these assets), not on a clock.

A run with nothing to examine exits 99 and shows as skipped.
"""
from datetime import datetime, timedelta

from finops_common import (BILLING, DAG, NOTHING_NEW, USAGE, BashOperator, bin_path,
                           default_args)

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
    BashOperator(
        task_id="rightsizing_calc",
        bash_command=bin_path("rightsizing_calc") + " --log-format json",
        skip_on_exit_code=NOTHING_NEW,
    )
