"""Airflow DAG instance_catalog_updater: the EC2 instance and price catalog, daily.

Exit 99 (no region's offer version changed) marks the run skipped.
"""
from datetime import datetime, timedelta

from finops_common import (CATALOG, DAG, NOTHING_NEW, BashOperator, bin_path,
                           default_args)

with DAG(
    dag_id="instance_catalog_updater",
    description="EC2 instance types and prices from the AWS Price List",
    schedule="0 3 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,                      # only the current catalog matters
    max_active_runs=1,
    default_args=default_args(timedelta(hours=2)),
    tags=["finops", "ingest"],
) as dag:
    BashOperator(
        task_id="instance_catalog_updater",
        bash_command=bin_path("instance_catalog_updater")
        + " --log-format json"
        + "{% if var.value.get('finops_pricing_base_url', '') %}"
          " --base-url {{ var.value.finops_pricing_base_url }}{% endif %}",
        skip_on_exit_code=NOTHING_NEW,
        outlets=[CATALOG],
    )
