"""Airflow DAG budget_check: budgets judged on actual and forecasted cost once
new billing data and new forecasts have landed (both assets), owners and
finance told once per crossing. Each run syncs the budgets file first: the
Airflow Variable ``finops_budgets_file`` names it (default
/etc/finops/budgets.json), kept in the operators' own repository. Exit 99
(nothing crossed since the last run) marks the run skipped.
"""
from datetime import timedelta

from finops_common import BILLING, FORECASTS, job_dag

dag = job_dag(
    "budget_check",
    "Budgets as code: actual and forecasted thresholds, escalated to the owner and finance",
    schedule=[BILLING, FORECASTS],
    timeout=timedelta(minutes=30),
    tags=["analysis", "alerting"],
    arguments=" --budgets \"{{ var.value.get('finops_budgets_file', '/etc/finops/budgets.json') }}\"",
)
