/*
 * billing_ingest: loads AWS CUR (legacy and 2.0) and FOCUS exports into
 * finops.billing_line_items, one atomic billing period at a time.
 */
#include <stdio.h>
#include <stdlib.h>

#include "finops/billing.h"
#include "finops/job.h"

enum {
	OPT_FORCE = 1000, OPT_REPORT_NAME, OPT_ALLOW_SHORT_ROWS, OPT_REGION, OPT_LIST_UNITS,
	OPT_SKIP_UNDELIVERED
};

static const struct fo_option options[] = {
	{"force", 0, OPT_FORCE, NULL,
	 "load even when the assembly is already loaded or older than the loaded one"},
	{"report-name", 1, OPT_REPORT_NAME, "NAME",
	 "report name for plain files without a manifest (default \"default\"); with the"
	 " billing account it names the source a load replaces"},
	{"allow-short-rows", 0, OPT_ALLOW_SHORT_ROWS, NULL,
	 "accept rows with fewer fields than the header, the missing ones empty"},
	{"region", 1, OPT_REGION, "REGION",
	 "AWS region of s3:// sources [$AWS_REGION, $AWS_DEFAULT_REGION, us-east-1]"},
	{"list-units", 0, OPT_LIST_UNITS, NULL,
	 "print the units the sources hold, one JSON object a line (a report root: each of"
	 " its period folders), and load nothing; needs no database"},
	{"skip-undelivered", 0, OPT_SKIP_UNDELIVERED, NULL,
	 "leave out a period folder that does not exist or holds nothing yet (AWS has not"
	 " delivered it) in a report root that holds something, with a log line; nothing"
	 " left: exit 99"},
	{NULL, 0, 0, NULL, NULL}
};

static int
on_option(struct fo_run *ctx, int id, const char *arg, fo_err *err)
{
	struct fo_billing_opts *o = ctx->data;

	switch (id) {
	case OPT_FORCE:
		o->force = 1;
		return 0;
	case OPT_REPORT_NAME:
		if (!*arg)
			return fo_err_set(err, FO_EXIT_USAGE, "--report-name: empty");
		o->report_name = arg;
		return 0;
	case OPT_ALLOW_SHORT_ROWS:
		o->allow_short_rows = 1;
		return 0;
	case OPT_REGION:
		if (!*arg)
			return fo_err_set(err, FO_EXIT_USAGE, "--region: empty");
		o->region = arg;
		return 0;
	case OPT_LIST_UNITS:
		o->list_units = 1;
		return 0;
	case OPT_SKIP_UNDELIVERED:
		o->skip_undelivered = 1;
		return 0;
	}
	return fo_err_set(err, FO_EXIT_USAGE, "unknown option");
}

static int
on_args(struct fo_run *ctx, int argc, char **argv, fo_err *err)
{
	struct fo_billing_opts *o = ctx->data;

	(void)err;
	o->sources = argv;
	o->nsources = (size_t)argc;
	return 0;
}

static int
check(struct fo_run *ctx, fo_err *err)
{
	return fo_billing_check(ctx->data, err);
}

static int
list_units(struct fo_run *ctx, fo_err *err)
{
	struct fo_billing_opts *o = ctx->data;
	size_t n;

	if (!o->list_units)
		return 0;
	if (fo_billing_list_units(o, stdout, &n, err) < 0)
		return -1;
	fo_buf_printf(&ctx->summary, "%zu unit(s) listed", n);
	ctx->nothing_new = n == 0;      /* only with --skip-undelivered: else an error */
	return 1;
}

static int
run(struct fo_run *ctx, fo_err *err)
{
	return fo_billing_ingest(ctx, ctx->data, err);
}

static const struct fo_job job = {
	.name = "billing_ingest",
	.purpose = "load AWS CUR and FOCUS billing files into PostgreSQL, one atomic billing"
		   " period at a time",
	.usage = "[OPTIONS] SOURCE...",
	.description =
		"SOURCE is a CUR manifest (<report>-Manifest.json, legacy or CUR 2.0), a CSV or\n"
		"CSV.gz file (legacy CUR, CUR 2.0 or FOCUS 1.0-1.2; gzip is detected by content),\n"
		"or a directory holding one manifest or such files. Each may be an\n"
		"s3://BUCKET/KEY (a prefix ending in / for a directory), read with SigV4 and the\n"
		"AWS credentials from Vault or the environment (docs/secrets.md), streamed.\n"
		"Each SOURCE is one unit, loaded in one transaction: every billing period it\n"
		"holds replaces that period of its source (payer or billing account, and\n"
		"report) or nothing changes.\n"
		"Re-running a loaded assembly exits 99; bad input exits 3 naming file, line and\n"
		"column. --list-units prints the units instead (for a fan-out, one task a unit).",
	.flags = FO_JOB_DRY_RUN,
	.options = options,
	.option = on_option,
	.args = on_args,
	.check = check,
	.offline = list_units,
	.run = run,
};

int
main(int argc, char **argv)
{
	struct fo_billing_opts opts = {0};

	return fo_job_main(&job, &opts, argc, argv);
}
