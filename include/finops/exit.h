/*
 * exit.h: the exit codes every finops binary uses.
 *
 * Airflow, cron and operators react to these codes, so they never change
 * meaning:
 *   0   done
 *   99  nothing new to do (Airflow: skip_on_exit_code=99 marks the task skipped)
 *   2   usage or configuration error: the operator must act
 *   3   bad input data; nothing was changed: the operator must act, no retry
 *   4   transient failure (network, database, Vault unavailable): retry
 *   1   anything else
 */
#ifndef FINOPS_EXIT_H
#define FINOPS_EXIT_H

enum fo_exit {
	FO_EXIT_OK = 0,
	FO_EXIT_FAILURE = 1,
	FO_EXIT_USAGE = 2,
	FO_EXIT_BAD_INPUT = 3,
	FO_EXIT_TRANSIENT = 4,
	FO_EXIT_NOTHING_NEW = 99
};

/* A short lower-case name of an exit code ("transient"), for logs and job_runs. */
const char *fo_exit_name(int code);

#endif
