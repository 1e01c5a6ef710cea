"""Airflow DAG billing_ingest: AWS CUR, every 6 hours (AWS rewrites the month up to three
times a day until the invoice is final), fanned out one task per unit.

Each run loads the billing period its data interval ends in, and during the
first five days of a month the previous period too (AWS finalises it then),
of every report root: the Variable ``finops_cur_report_roots`` (a JSON list,
for an organisation with several payer accounts or reports), else
``finops_cur_report_root`` (one). A root holds one folder per period named as
AWS names them (20261101-20261201): an S3 prefix (s3://bucket/prefix/report)
or a local directory.

The task ``list_units`` runs ``billing_ingest --list-units --skip-undelivered``
on those period folders (a period AWS has not delivered yet, as this month's
on its first hours, is left out; a root with nothing in it is an error);
``load`` is mapped over its answer, one task per unit, so the
units of a run load in parallel on as many workers as there are (each unit
stays atomic and locked by its source and period). A unit whose assembly is
already loaded exits 99 and its task shows as skipped.
"""
import json
from datetime import datetime, timedelta

from finops_common import BILLING, BashOperator, DAG, bin_path, default_args, mapped_loads

ROOTS = ("{% set roots = var.json.get('finops_cur_report_roots', none)"
         " or [var.value.finops_cur_report_root] %}")
PERIOD = ("{{ root }}/"
          "{{ %(m)s.strftime('%%Y%%m01') }}-{{ %(m)s.add(months=1).strftime('%%Y%%m01') }}/")
THIS_MONTH = "data_interval_end.start_of('month')"
LAST_MONTH = "data_interval_end.start_of('month').subtract(months=1)"
FOLDERS = (ROOTS + "{% for root in roots %}{% if data_interval_end.day <= 5 %} \""
           + PERIOD % {"m": LAST_MONTH} + "\"{% endif %} \"" + PERIOD % {"m": THIS_MONTH}
           + "\"{% endfor %}")


def unit_env(unit):
    """The environment of the load task of one unit (added to the worker's own)."""
    return {"FINOPS_UNIT_SOURCE": unit["source"]}


with DAG(
    dag_id="billing_ingest",
    description="AWS Cost and Usage Reports into billing_line_items, one atomic period at a time",
    schedule="0 */6 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,                      # each run reloads whole periods
    max_active_runs=1,
    default_args=default_args(timedelta(hours=3)),
    tags=["finops", "ingest"],
) as dag:
    # the units, as a JSON list (XCom holds a task's last line of output)
    list_units = BashOperator(
        task_id="list_units",
        bash_command="set -o pipefail; " + bin_path("billing_ingest")
        + " --log-format json --list-units --skip-undelivered" + FOLDERS
        + " | paste -sd, - | sed 's/.*/[&]/'",
        do_xcom_push=True,
        output_processor=json.loads,
        execution_timeout=timedelta(minutes=10),
    )
    mapped_loads("load", bin_path("billing_ingest") + ' --log-format json "$FINOPS_UNIT_SOURCE"',
                 [BILLING], list_units.output.map(unit_env))
