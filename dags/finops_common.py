"""Shared by the finops-pipeline DAG files (this file defines no DAG).

Every task only shells out to one of the pipeline's binaries. Where they are:
the Airflow Variable ``finops_bin_dir``, else the environment variable
FINOPS_BIN_DIR of the scheduler and workers, else /usr/local/bin. Secrets never
appear here: the binaries read VAULT_ADDR and the AppRole (or token) from the
worker's environment (docs/secrets.md), which BashOperator passes on.
"""
import json
import os
from datetime import datetime, timedelta

from airflow.timetables.interval import CronDataIntervalTimetable

try:                                    # Airflow 3
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.sdk import DAG, Asset
except ImportError:                     # Airflow 2.10
    from airflow import DAG
    from airflow.datasets import Dataset as Asset
    from airflow.operators.bash import BashOperator

__all__ = ["DAG", "Asset", "BashOperator", "bin_path", "default_args", "NOTHING_NEW",
           "BILLING", "USAGE", "CATALOG", "FORECASTS", "RIGHTSIZING", "hourly_intervals",
           "job_dag", "shards_task", "shard_env", "mapped_loads"]

# Exit code 99: nothing new to do; the task shows as skipped.
NOTHING_NEW = 99

# Assets name tables as the Postgres provider's URIs do (host:port/database/schema/table;
# with that provider installed, as on any Airflow with a PostgreSQL metadata database, a
# shorter URI fails the DAG's import). "finops-db" is a name, not a connection.
# What the ingest DAGs produce; rightsizing and forecasting are scheduled on them.
CATALOG = Asset("postgres://finops-db:5432/finops/finops/instance_prices")
BILLING = Asset("postgres://finops-db:5432/finops/finops/billing_line_items")
USAGE = Asset("postgres://finops-db:5432/finops/finops/instance_usage_hourly")
# What forecast_train produces; budget_check is scheduled on it and on billing.
FORECASTS = Asset("postgres://finops-db:5432/finops/finops/forecast_values")
# What rightsizing_calc produces; idle_stop is scheduled on it.
RIGHTSIZING = Asset("postgres://finops-db:5432/finops/finops/rightsizing_recommendations")

DEFAULT_BIN_DIR = os.environ.get("FINOPS_BIN_DIR", "/usr/local/bin")


def bin_path(binary):
    """The binary's path as a template, resolved when the task runs."""
    return "{{ var.value.get('finops_bin_dir', '%s') }}/%s" % (DEFAULT_BIN_DIR, binary)


def default_args(timeout):
    """Retries with exponential backoff (exit 4, transient, is what they are for),
    a timeout per try, and the pipeline's JSON log lines in the task log."""
    return {
        "owner": "finops",
        "retries": 3,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
        "execution_timeout": timeout,
        "depends_on_past": False,
    }


def hourly_intervals():
    """Runs whose data interval is the hour before them. (Airflow 3 turns a cron
    string into a trigger timetable, whose data interval is empty.)"""
    return CronDataIntervalTimetable("0 * * * *", timezone="UTC")


def shards_task(variable):
    """The task ``shards``: the shards "0/N" to "N-1/N" as a JSON list on one line
    (XCom holds a task's last line of output), N the Variable's value (default 1,
    and 1 for anything below it)."""
    return BashOperator(
        task_id="shards",
        bash_command="n={{ var.value.get('%s', '1') | int }};"
        " [ \"$n\" -ge 1 ] || n=1;"
        " seq 0 $((n - 1)) | sed \"s|.*|\\\"&/$n\\\"|\" | paste -sd, - | sed 's/.*/[&]/'"
        % variable,
        do_xcom_push=True,
        output_processor=json.loads,
        execution_timeout=timedelta(minutes=1),
    )


def shard_env(shard):
    """The environment of the mapped task of one shard (added to the worker's own):
    its command says --shard "$FINOPS_SHARD"."""
    return {"FINOPS_SHARD": shard}


def mapped_loads(task_id, command, outlets, envs):
    """One task per item of envs (dynamic task mapping), each running command with
    its environment added to the worker's, skipped on exit 99, publishing outlets;
    on as many workers as there are."""
    return BashOperator.partial(
        task_id=task_id,
        bash_command=command,
        append_env=True,
        skip_on_exit_code=NOTHING_NEW,
        outlets=list(outlets),
        do_xcom_push=False,
    ).expand(env=envs)


def job_dag(job, description, schedule, timeout, tags, arguments="", outlets=(),
            start_date=datetime(2026, 1, 1), catchup=False, max_active_runs=1, binary=None,
            shards_variable=None):
    """The DAG of one job: a single BashOperator task that runs the binary (job,
    unless binary names another) with JSON logs and the given (templated)
    arguments, skipped on exit 99, and publishing the job's outlets. One run at a
    time and no catchup unless said. With shards_variable, the task ``shards``
    reads that Variable (N, default 1) and the job's task is mapped over its
    shards, each run with --shard I/N (docs/operations.md, "Shards and fan-out")."""
    with DAG(
        dag_id=job,
        description=description,
        schedule=schedule,
        start_date=start_date,
        catchup=catchup,
        max_active_runs=max_active_runs,
        default_args=default_args(timeout),
        tags=["finops"] + list(tags),
    ) as dag:
        command = bin_path(binary or job) + " --log-format json" + arguments
        if shards_variable:
            shards = shards_task(shards_variable)
            mapped_loads(job, command + ' --shard "$FINOPS_SHARD"', outlets,
                         shards.output.map(shard_env))
        else:
            BashOperator(
                task_id=job,
                bash_command=command,
                skip_on_exit_code=NOTHING_NEW,
                outlets=list(outlets),
            )
    return dag
