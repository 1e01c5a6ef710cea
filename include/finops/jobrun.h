/*
 * jobrun.h: the finops.job_runs table, one row a run of any binary.
 *
 * Operators and dashboards read it to see what ran, on what scope, how it
 * ended and why. A run's row is written outside the run's own transactions,
 * so a rolled-back load still leaves its failed row behind.
 */
#ifndef FINOPS_JOBRUN_H
#define FINOPS_JOBRUN_H

#include <libpq-fe.h>

#include "finops/error.h"

struct fo_jobrun_end {
	int exit_code;              /* enum fo_exit */
	long long rows_read;
	long long rows_written;
	const char *details_json;   /* a JSON object, or NULL */
	const char *error_message;  /* NULL on success; secrets are redacted here */
	const char *scope;          /* recorded again at the end, or NULL to keep */
};

/*
 * Inserts a "running" row for job with its command-line arguments (passwords
 * and registered secrets redacted) and returns its id in *run_id. Rows of
 * earlier runs of the job still marked running whose database session is
 * gone are marked "abandoned" first.
 */
int fo_jobrun_start(PGconn *conn, const char *job, int argc, char *const *argv,
		    int dry_run, long long *run_id, fo_err *err);

/*
 * The row of a run that began started_ago_s seconds ago, for a tool that
 * creates the job_runs table itself (finops_migrate) and can only record its
 * run once the table exists. As fo_jobrun_start() otherwise.
 */
int fo_jobrun_start_late(PGconn *conn, const char *job, int argc, char *const *argv,
			 int dry_run, double started_ago_s, long long *run_id, fo_err *err);

/* Records the scope (billing period, region, window) the run works on. */
int fo_jobrun_set_scope(PGconn *conn, long long run_id, const char *scope, fo_err *err);

/* Marks the run finished with the status derived from end->exit_code. */
int fo_jobrun_finish(PGconn *conn, long long run_id, const struct fo_jobrun_end *end,
		     fo_err *err);

/* The job_runs status of an exit code: succeeded, nothing_new or failed. */
const char *fo_jobrun_status(int exit_code);

/*
 * Copies argv into a freshly allocated PostgreSQL text[] literal with the
 * values of --dsn redacted and registered secrets replaced. Caller frees.
 * Exposed for tests.
 */
char *fo_jobrun_args_literal(int argc, char *const *argv);

#endif
