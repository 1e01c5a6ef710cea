/*
 * usage_ingest: hourly utilization of EC2 instances, from CloudWatch
 * GetMetricData or from CloudWatch Metric Streams files.
 */
#include <stdlib.h>
#include <string.h>

#include "finops/job.h"
#include "finops/usage.h"

enum { OPT_START = 1000, OPT_END, OPT_INSTANCE, OPT_REGION, OPT_SKIP_PRESENT, OPT_SHARD };

static const struct fo_option options[] = {
	{"start", 1, OPT_START, "TIME",
	 "start of the window, on the hour (ISO 8601, UTC: 2026-11-01T00:00:00Z); required"},
	{"end", 1, OPT_END, "TIME", "end of the window (excluded), on the hour; required"},
	{"instance", 1, OPT_INSTANCE, "ID",
	 "read this instance from CloudWatch (repeatable; default: the instances with EC2"
	 " instance hours in the billing table during the window)"},
	{"region", 1, OPT_REGION, "REGION",
	 "region of --instance ids and of s3:// sources [$AWS_REGION]"},
	{"skip-present", 0, OPT_SKIP_PRESENT, NULL,
	 "load only the hours of the window with no usage yet, leave the others as they are"
	 " (a backfill after a restore: docs/operations.md)"},
	{"shard", 1, OPT_SHARD, "I/N",
	 "only the instances whose id falls in shard I of N (0 <= I < N; FNV-1a of the id"
	 " modulo N): N runs at once split a fleet (docs/operations.md, \"Shards\")"},
	{NULL, 0, 0, NULL, NULL}
};

struct state {
	struct fo_usage_opts opts;
	char *instances[1024];
};

static int
on_option(struct fo_run *ctx, int id, const char *arg, fo_err *err)
{
	struct state *s = ctx->data;

	switch (id) {
	case OPT_START:
		s->opts.start = arg;
		return 0;
	case OPT_END:
		s->opts.end = arg;
		return 0;
	case OPT_INSTANCE:
		if (strncmp(arg, "i-", 2) != 0)
			return fo_err_set(err, FO_EXIT_USAGE, "--instance %s: not an instance id (i-...)",
					  arg);
		if (s->opts.ninstances == sizeof(s->instances) / sizeof(s->instances[0]))
			return fo_err_set(err, FO_EXIT_USAGE, "--instance: too many; leave them out to"
					  " take the billing table's");
		s->instances[s->opts.ninstances++] = (char *)arg;
		return 0;
	case OPT_REGION:
		s->opts.region = arg;
		return 0;
	case OPT_SKIP_PRESENT:
		s->opts.skip_present = 1;
		return 0;
	case OPT_SHARD:
		return fo_opt_shard("shard", arg, &s->opts.shard, &s->opts.nshards, err);
	}
	return fo_err_set(err, FO_EXIT_USAGE, "unknown option");
}

static int
on_args(struct fo_run *ctx, int argc, char **argv, fo_err *err)
{
	struct state *s = ctx->data;

	(void)err;
	s->opts.streams = argv;
	s->opts.nstreams = (size_t)argc;
	return 0;
}

static int
check(struct fo_run *ctx, fo_err *err)
{
	struct state *s = ctx->data;

	return fo_usage_check(&s->opts, err);
}

static int
run(struct fo_run *ctx, fo_err *err)
{
	struct state *s = ctx->data;

	return fo_usage_ingest(ctx, &s->opts, err);
}

static const struct fo_job job = {
	.name = "usage_ingest",
	.purpose = "load hourly EC2 utilization (CPU, memory, network) from CloudWatch or"
		   " metric-stream files",
	.usage = "--start TIME --end TIME [OPTIONS] [SOURCE...]",
	.description =
		"Without SOURCE, reads CloudWatch GetMetricData (AWS credentials from Vault or the\n"
		"environment, docs/secrets.md). SOURCE is a CloudWatch Metric Streams output file\n"
		"(JSON lines, gzip or plain), a directory of them, or an s3:// object or prefix;\n"
		"the sources must hold every datapoint of the window. Each hour of the window\n"
		"with data is upserted into finops.instance_usage_hourly, so a window loaded\n"
		"again gives the same rows. Airflow passes its data interval as --start/--end.",
	.flags = FO_JOB_DRY_RUN,
	.options = options,
	.option = on_option,
	.args = on_args,
	.check = check,
	.run = run,
};

int
main(int argc, char **argv)
{
	struct state s;

	memset(&s, 0, sizeof(s));
	s.opts.instances = s.instances;
	return fo_job_main(&job, &s, argc, argv);
}
