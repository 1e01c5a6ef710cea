"""Airflow DAG forecast_train: cost forecasts, whenever new billing data has
landed (billing_ingest publishes the asset), not on a clock. The
retraining of drifted series is `forecast_train --retrain-drifted`, which
operators run by hand ("Forecast Drift -> trigger re-training").
"""
from datetime import datetime, timedelta

from finops_common import (BILLING, DAG, NOTHING_NEW, BashOperator, bin_path,
                           default_args)

with DAG(
    dag_id="forecast_train",
    description="Daily cost forecasts with prediction intervals, accuracy and drift",
    schedule=[BILLING],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(timedelta(hours=2)),
    tags=["finops", "analysis"],
) as dag:
    BashOperator(
        task_id="forecast_train",
        bash_command=bin_path("forecast_train") + " --log-format json",
        skip_on_exit_code=NOTHING_NEW,
    )
