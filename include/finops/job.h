/*
 * job.h: what every finops binary shares: common options, logging set-up,
 * the database connection, the schema check, job_runs bookkeeping, the
 * advisory lock, the summary line and the exit code.
 *
 * A binary's main() describes itself in a struct fo_job and hands over to
 * fo_job_main(). Common options:
 *   -h, --help            usage on stdout, exit 0
 *   -V, --version         version on stdout, exit 0
 *   --dsn CONNINFO        database (else libpq's PG* environment)
 *   --log-format FMT      auto (default: text on a terminal, else json), json, text
 *   --log-level LEVEL     debug, info (default), warn, error
 *   --lock-wait SECONDS   wait that long for another run of the same job and
 *                         scope to finish (default 0: exit 4 at once; -1: forever)
 *   -n, --dry-run         read and check everything, change nothing (jobs that
 *                         set FO_JOB_DRY_RUN)
 * FINOPS_LOG_FORMAT and FINOPS_LOG_LEVEL set defaults for the log options.
 */
#ifndef FINOPS_JOB_H
#define FINOPS_JOB_H

#include "finops/error.h"
#include "finops/run.h"

/* A job-specific option: name without "--", has_arg as getopt_long. */
struct fo_option {
	const char *name;
	int has_arg;            /* 0 no argument, 1 required */
	int id;                 /* passed to fo_job.option; >= 1000 to avoid clashes */
	const char *arg_name;   /* "PATH" in the help */
	const char *help;
};

enum fo_job_flags {
	FO_JOB_DRY_RUN = 1 << 1,         /* accepts --dry-run */
	FO_JOB_SCHEMA_ADMIN = 1 << 2     /* finops_migrate: no schema check, no job_runs row */
};


struct fo_job {
	const char *name;          /* the binary's name */
	const char *purpose;       /* one line for --help */
	const char *usage;         /* after the name: "[OPTIONS] SOURCE..." */
	const char *description;   /* more --help text, or NULL */
	unsigned flags;
	int lock_wait_s;           /* --lock-wait when not given (0: exit 4 at once) */
	const struct fo_option *options;   /* ends with a {NULL} entry; may be NULL */
	/* Called for each job-specific option; fail with FO_EXIT_USAGE on a bad value. */
	int (*option)(struct fo_run *ctx, int id, const char *arg, fo_err *err);
	/* Called with the positional arguments (may be NULL: none allowed). */
	int (*args)(struct fo_run *ctx, int argc, char **argv, fo_err *err);
	/*
	 * Called once every option and argument is parsed, before any connection
	 * (may be NULL): checks them together, so that a usage error exits 2 and
	 * a missing input file 3 whether or not the database is up, and Airflow
	 * never retries a misconfigured task as if it were transient.
	 */
	int (*check)(struct fo_run *ctx, fo_err *err);
	/*
	 * Work that needs no database (may be NULL), called after check():
	 * returns 1 when it was the whole run (billing_ingest --list-units: no
	 * connection, no job_runs row, no job metrics, which would pass for a
	 * load), 0 to go on to run(), -1 on error.
	 */
	int (*offline)(struct fo_run *ctx, fo_err *err);
	/* The work, with ctx->conn open and the schema checked. */
	int (*run)(struct fo_run *ctx, fo_err *err);
};

/* Runs a job as described above and returns its exit code. */
int fo_job_main(const struct fo_job *job, void *data, int argc, char **argv);



/* Parses a whole decimal int in [min, max] for option values. */
int fo_parse_int(const char *s, long min, long max, long *out);

/*
 * The value arg of option --name as a whole number in [min, max] into *out
 * (min and max within int); else FO_EXIT_USAGE "--name ARG: what", or
 * "--name ARG: MIN to MAX" when what is NULL.
 */
int fo_opt_int(const char *name, const char *arg, long min, long max, const char *what, int *out,
	       fo_err *err);

/*
 * The value of option --name as "I/N", shard I of N (0 <= I < N <= 1024), into
 * *i and *n ("0/1", the whole fleet, gives *n 0: not sharded); else
 * FO_EXIT_USAGE "--name ARG: ...".
 */
int fo_opt_shard(const char *name, const char *arg, int *i, int *n, fo_err *err);

#endif
