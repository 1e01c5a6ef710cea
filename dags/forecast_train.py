"""Airflow DAG forecast_train: cost forecasts, whenever new billing data has
landed (billing_ingest publishes the asset), not on a clock. Drifted series
are retrained by the forecast_retrain DAG ("Forecast Drift -> trigger
re-training").
"""
from datetime import timedelta

from finops_common import BILLING, FORECASTS, job_dag

dag = job_dag(
    "forecast_train",
    "Daily cost forecasts with prediction intervals, accuracy and drift",
    schedule=[BILLING],
    timeout=timedelta(hours=2),
    tags=["analysis"],
    outlets=[FORECASTS],
)
