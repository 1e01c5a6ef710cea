/*
 * rightsizing_calc: idle, over- and under-provisioned EC2 instances, with the
 * monthly saving priced from the instance catalog.
 */
#include <stdlib.h>
#include <string.h>

#include "finops/job.h"
#include "finops/rightsizing.h"

enum {
	OPT_END = 1000, OPT_LOOKBACK, OPT_STAT, OPT_HEADROOM, OPT_MEM_HEADROOM, OPT_ARCH,
	OPT_MIN_HOURS, OPT_SHARD, OPT_JOBS, OPT_MEMORY
};

static const struct fo_option options[] = {
	{"end", 1, OPT_END, "TIME", "end of the lookback (ISO 8601, UTC; default: this hour)"},
	{"lookback-days", 1, OPT_LOOKBACK, "DAYS", "days of hourly metrics to look at (default 14)"},
	{"cpu-statistic", 1, OPT_STAT, "STAT",
	 "p99.5 (default), p95, p90 or max of the hourly CPU maxima"},
	{"cpu-headroom", 1, OPT_HEADROOM, "PERCENT",
	 "vCPU share kept free on the recommended type, 0 to 90 (default 20)"},
	{"memory-headroom", 1, OPT_MEM_HEADROOM, "PERCENT",
	 "memory share kept free on the recommended type, 0 to 90 (default 20)"},
	{"allow-arch-change", 0, OPT_ARCH, NULL,
	 "allow recommending another architecture (x86_64 <-> arm64)"},
	{"min-hours", 1, OPT_MIN_HOURS, "HOURS",
	 "fewer hours of metrics: insufficient data (default 30)"},
	{"jobs", 1, OPT_JOBS, "N",
	 "database connections reading the usage at once, each a part of the window's days"
	 " (1 to 16, default 2; with fewer free, the run uses what it can open)"},
	{"memory", 1, OPT_MEMORY, "MB",
	 "memory for every instance's statistics at once (default 40: some 170,000"
	 " instances over 14 days at p99.5); a window that needs more is read again in"
	 " instance order, one instance at a time, which is slower"},
	{"shard", 1, OPT_SHARD, "I/N",
	 "only the instances whose id falls in shard I of N (0 <= I < N; the hash of"
	 " usage_ingest --shard): N runs at once split a fleet, and finops.rightsizing_current"
	 " is the newest run of each shard (docs/operations.md, \"Shards\")"},
	{NULL, 0, 0, NULL, NULL}
};

static int
on_option(struct fo_run *ctx, int id, const char *arg, fo_err *err)
{
	struct fo_rightsizing_opts *o = ctx->data;
	int v;

	switch (id) {
	case OPT_END:
		o->end = arg;
		return 0;
	case OPT_LOOKBACK:
		return fo_opt_int("lookback-days", arg, 1, 93, NULL, &o->lookback_days, err);
	case OPT_STAT:
		if (strcmp(arg, "p99.5") == 0)
			o->cpu_percentile = 0.995;
		else if (strcmp(arg, "p95") == 0)
			o->cpu_percentile = 0.95;
		else if (strcmp(arg, "p90") == 0)
			o->cpu_percentile = 0.90;
		else if (strcmp(arg, "max") == 0)
			o->cpu_percentile = 1;
		else
			return fo_err_set(err, FO_EXIT_USAGE, "--cpu-statistic %s: p99.5, p95, p90 or"
					  " max", arg);
		return 0;
	case OPT_HEADROOM:
	case OPT_MEM_HEADROOM:
		if (fo_opt_int(id == OPT_HEADROOM ? "cpu-headroom" : "memory-headroom", arg, 0, 90,
			       "a percentage, 0 to 90", &v, err) < 0)
			return -1;
		if (id == OPT_HEADROOM)
			o->cpu_headroom = (double)v / 100;
		else
			o->mem_headroom = (double)v / 100;
		return 0;
	case OPT_ARCH:
		o->allow_arch_change = 1;
		return 0;
	case OPT_MIN_HOURS:
		return fo_opt_int("min-hours", arg, 1, 100000, "a count of hours", &o->min_hours, err);
	case OPT_JOBS:
		return fo_opt_int("jobs", arg, 1, 16, "a count of connections", &o->jobs, err);
	case OPT_MEMORY:
		return fo_opt_int("memory", arg, 1, 65536, "megabytes", &o->memory_mb, err);
	case OPT_SHARD:
		return fo_opt_shard("shard", arg, &o->shard, &o->nshards, err);
	}
	return fo_err_set(err, FO_EXIT_USAGE, "unknown option");
}

static int
check(struct fo_run *ctx, fo_err *err)
{
	return fo_rightsizing_check(ctx->data, err);
}

static int
run(struct fo_run *ctx, fo_err *err)
{
	return fo_rightsizing_calc(ctx, ctx->data, err);
}

static const struct fo_job job = {
	.name = "rightsizing_calc",
	.purpose = "find idle, over- and under-provisioned EC2 instances and the monthly saving",
	.usage = "[OPTIONS]",
	.description =
		"Reads finops.instance_usage_hourly over the lookback, what each instance ran as\n"
		"from the billing table, and the instance catalog, and writes one recommendation\n"
		"per instance to finops.rightsizing_recommendations (the newest run, or the\n"
		"newest of each shard, is finops.rightsizing_current). Defaults follow AWS\n"
		"Compute Optimizer: p99.5 of the hourly CPU maxima, 20% headroom,\n"
		"current-generation types of the same architecture, GPUs, storage and no lower\n"
		"network; idle by Trusted Advisor's rule.",
	.flags = FO_JOB_DRY_RUN,
	.options = options,
	.option = on_option,
	.check = check,
	.run = run,
};

int
main(int argc, char **argv)
{
	struct fo_rightsizing_opts o;

	fo_rightsizing_defaults(&o);
	return fo_job_main(&job, &o, argc, argv);
}
