"""Airflow DAG idle_stop: the playbook "Idle Resource -> stop instance,
notify owner", after each new set of rightsizing recommendations (the asset
rightsizing_calc publishes).

Safe by default: the run prints and records its plan and stops nothing
until the Airflow Variable ``finops_idle_stop_execute`` is ``true``. The
Variable ``finops_idle_policy_file`` names the policy (default
/etc/finops/idle-policy.json): which tags opt an instance in, who owns it,
where they are told (docs/idle_stop.md). Exit 99 (nothing to stop) marks the
run skipped; exit 2 names an IAM permission the role lacks, and is not
retried as if it were transient.
"""
from datetime import timedelta

from finops_common import RIGHTSIZING, job_dag

dag = job_dag(
    "idle_stop",
    "Stops idle EC2 instances that opt in by tag, tells their owners",
    schedule=[RIGHTSIZING],
    timeout=timedelta(minutes=30),
    tags=["playbook", "action"],
    arguments=(" --policy \"{{ var.value.get('finops_idle_policy_file',"
               " '/etc/finops/idle-policy.json') }}\""
               "{{ ' --execute' if var.value.get('finops_idle_stop_execute', 'false')"
               " | lower == 'true' else '' }}"),
)
