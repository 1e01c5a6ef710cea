"""Airflow's hostname_callable for the Celery test: each worker is named by
FINOPS_TEST_WORKER (two workers on one machine share its hostname)."""
import os
import socket


def get():
    return os.environ.get("FINOPS_TEST_WORKER") or socket.getfqdn()
