"""Airflow DAG anomaly_detect: daily cost anomalies with their root causes,
told to Slack or Microsoft Teams, whenever new billing data has landed
(billing_ingest publishes the asset). Each run judges only the days that
have closed since the last one and exits 99 (skipped) when none has.

The Airflow Variable ``finops_anomaly_monitors``, when set, is the path of
the monitors file (docs/anomalies.md: what is watched, thresholds,
channels); without it the default monitors run and nothing is sent. The
channels' webhook URLs are secrets the binary reads (Vault or the worker's
environment), never DAG arguments.
"""
from datetime import timedelta

from finops_common import BILLING, job_dag

MONITORS = ("{% if var.value.get('finops_anomaly_monitors', '') %}"
            " --monitors \"{{ var.value.finops_anomaly_monitors }}\"{% endif %}")

dag = job_dag(
    "anomaly_detect",
    "Daily cost anomalies with ranked root causes, sent to Slack and Microsoft Teams",
    schedule=[BILLING],
    timeout=timedelta(hours=1),
    tags=["analysis", "alerting"],
    arguments=MONITORS,
)
