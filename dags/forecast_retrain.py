"""Airflow DAG forecast_retrain: the playbook "Forecast Drift -> trigger
re-training job". Every six hours, fifty minutes past the billing loads,
`forecast_train --retrain-drifted` (waiting up to 10 minutes for a
forecast_train run that holds the job's lock) retrains the series whose newest forecasts
missed their last 30 closed days by more than 12% (finops.forecast_drift)
and that have not been trained to today's cut-off yet. When none has
drifted the binary exits 99 and the run shows as skipped; a retraining
publishes the forecasts asset, so budget_check judges the new forecasts.
"""
from datetime import timedelta

from finops_common import FORECASTS, job_dag

dag = job_dag(
    "forecast_retrain",
    "Retrains the forecasts of drifted series (finops.forecast_drift above 12%)",
    schedule="50 */6 * * *",
    timeout=timedelta(hours=1),
    tags=["analysis", "playbook"],
    binary="forecast_train",
    arguments=" --retrain-drifted --lock-wait 600",
    outlets=[FORECASTS],
)
