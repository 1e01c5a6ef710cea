/*
 * finops_migrate: applies the schema migrations compiled into this release.
 *
 * A separate tool rather than an option of every job, so that the jobs can
 * run as the finops_writer role, which may not create roles or schemas.
 */
#include <stdio.h>

#include "finops/job.h"
#include "finops/log.h"
#include "finops/migrate.h"

enum { OPT_CHECK = 1000 };

struct migrate_opts {
	int check;
};

static const struct fo_option options[] = {
	{"check", 0, OPT_CHECK, NULL,
	 "apply nothing; exit 0 when the schema is current, 2 when migrations are pending"},
	{NULL, 0, 0, NULL, NULL}
};

static int
on_option(struct fo_run *ctx, int id, const char *arg, fo_err *err)
{
	struct migrate_opts *o = ctx->data;

	(void)arg;
	if (id == OPT_CHECK) {
		o->check = 1;
		return 0;
	}
	return fo_err_set(err, FO_EXIT_USAGE, "unknown option");
}

static int
run(struct fo_run *ctx, fo_err *err)
{
	struct migrate_opts *o = ctx->data;
	struct fo_migrate_report r;
	int rc;

	if (o->check)
		rc = fo_migrate_check(ctx->conn, fo_migrations_embedded,
				      fo_migrations_embedded_count, &r, err);
	else
		rc = fo_migrate_apply(ctx->conn, fo_migrations_embedded,
				      fo_migrations_embedded_count, ctx->dry_run,
				      ctx->lock_wait_s, &r, err);
	/* an applying run is listed in job_runs with the jobs', whether it worked or not */
	if (!o->check && !ctx->dry_run) {
		fo_err rerr;

		if (fo_run_record(ctx, &rerr) < 0)
			fo_logf(FO_LOG_WARN, NULL, 0, "not recorded in finops.job_runs: %s", rerr.msg);
	}
	if (rc < 0)
		return -1;
	ctx->rows_written = r.applied_now;
	fo_buf_printf(&ctx->summary, "schema at %04d; %d migration(s) applied now, %d before, %d pending",
		      r.latest, r.applied_now, r.applied_before, r.pending);
	return 0;
}

static const struct fo_job job = {
	.name = "finops_migrate",
	.purpose = "apply the finops database schema migrations",
	.usage = "[OPTIONS]",
	.description =
		"Applies, in order, every migration of this release not yet recorded in\n"
		"finops.schema_migrations, each in its own transaction. Safe to run again\n"
		"and concurrently: a run started while another migrates waits for it (up to\n"
		"600 s unless --lock-wait says otherwise) and exits 0 when the schema is\n"
		"current (also when nothing was applied). A database migrated by a newer\n"
		"release is refused (exit 2). Run it as a role that may create schemas and\n"
		"roles; the jobs themselves run as members of finops_writer.",
	.flags = FO_JOB_SCHEMA_ADMIN | FO_JOB_DRY_RUN,
	.lock_wait_s = 600,
	.options = options,
	.option = on_option,
	.run = run,
};

int
main(int argc, char **argv)
{
	struct migrate_opts o = {0};

	return fo_job_main(&job, &o, argc, argv);
}
