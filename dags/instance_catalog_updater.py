"""Airflow DAG instance_catalog_updater: the EC2 instance and price catalog, daily.

Exit 99 (no region's offer version changed) marks the run skipped.
"""
from datetime import timedelta

from finops_common import CATALOG, job_dag

dag = job_dag(
    "instance_catalog_updater",
    "EC2 instance types and prices from the AWS Price List",
    schedule="0 3 * * *",
    timeout=timedelta(hours=2),
    tags=["ingest"],
    arguments="{% if var.value.get('finops_pricing_base_url', '') %}"
              " --base-url {{ var.value.finops_pricing_base_url }}{% endif %}",
    outlets=[CATALOG],
)                                       # no catchup: only the current catalog matters
