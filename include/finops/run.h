/*
 * run.h: one run of a job as the library's areas see it: its database
 * connection, the options every job shares, what goes to finops.job_runs and
 * to the summary line, and the run's locks. The job runner (job.h) makes it
 * and hands it to the area that does the work; the areas never see the
 * runner itself.
 */
#ifndef FINOPS_RUN_H
#define FINOPS_RUN_H

#include <libpq-fe.h>

#include "finops/buf.h"
#include "finops/error.h"

struct fo_run {
	const char *name;         /* the job's (the binary's) name */
	void *data;               /* the job's own state, from fo_job_main() */
	PGconn *conn;
	int dry_run;
	int lock_wait_s;
	long long run_id;         /* 0 when no job_runs row */
	long long rows_read;      /* the job adds to these; they go to job_runs */
	long long rows_written;
	int nothing_new;          /* set by the work: exit 99 instead of 0 */
	int offline;              /* the run needed no database (fo_job.offline) */
	char scope[256];          /* set by fo_run_lock(); recorded in job_runs */
	fo_buf details;           /* JSON object for job_runs.details, or empty */
	fo_buf summary;           /* extra text for the summary line, or empty */
	int argc;                 /* the command line, as job_runs records it */
	char **argv;
	double (*elapsed_s)(void);   /* seconds since the process started */
};

/*
 * Takes the job's advisory lock on scope (honouring --lock-wait) and records
 * the scope in job_runs. Held until the process ends.
 */
int fo_run_lock(struct fo_run *run, const char *scope, fo_err *err);

/*
 * For a tool that makes the job_runs table itself (finops_migrate): records
 * the run there once the table exists, started when the process started, so
 * that it is listed with the jobs' runs; the runner records how it ends.
 * Does nothing (0) when there is no job_runs table yet.
 */
int fo_run_record(struct fo_run *run, fo_err *err);

#endif
