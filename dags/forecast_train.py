"""Airflow DAG forecast_train: cost forecasts, whenever new billing data has
landed (billing_ingest publishes the asset), not on a clock. Drifted series
are retrained by the forecast_retrain DAG ("Forecast Drift -> trigger
re-training").

The Variable ``finops_forecast_shards`` (default 1) splits the series by the
hash of their key: ``forecast_train`` is mapped over the shards "0/N" to
"N-1/N" (docs/operations.md, "Shards and fan-out"); a shard with no series
exits 99 and shows as skipped.
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
    shards_variable="finops_forecast_shards",
)
