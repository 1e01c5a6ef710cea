/*
 * instance_catalog_updater: the EC2 instance and price catalog from the AWS
 * Price List bulk offer files.
 */
#include <stdlib.h>
#include <string.h>

#include "finops/catalog.h"
#include "finops/job.h"

enum { OPT_BASE_URL = 1000, OPT_REGION, OPT_FROM_FILE, OPT_FORCE };

static const struct fo_option options[] = {
	{"base-url", 1, OPT_BASE_URL, "URL",
	 "the Price List bulk API (default " FO_CATALOG_DEFAULT_BASE ")"},
	{"region", 1, OPT_REGION, "REGION",
	 "update this region (repeatable; default every region of the index)"},
	{"from-file", 1, OPT_FROM_FILE, "FILE",
	 "load an offer file from disk (CSV, plain or gzip) instead of the bulk API"},
	{"force", 0, OPT_FORCE, NULL, "load even offer versions that are already loaded"},
	{NULL, 0, 0, NULL, NULL}
};

struct state {
	struct fo_catalog_opts opts;
	char *regions[256];
};

static int
on_option(struct fo_run *ctx, int id, const char *arg, fo_err *err)
{
	struct state *s = ctx->data;

	switch (id) {
	case OPT_BASE_URL:
		if (strncmp(arg, "http://", 7) != 0 && strncmp(arg, "https://", 8) != 0)
			return fo_err_set(err, FO_EXIT_USAGE, "--base-url %s: not an http(s) URL", arg);
		s->opts.base_url = arg;
		return 0;
	case OPT_REGION:
		if (!*arg)
			return fo_err_set(err, FO_EXIT_USAGE, "--region: empty");
		if (s->opts.nregions == sizeof(s->regions) / sizeof(s->regions[0]))
			return fo_err_set(err, FO_EXIT_USAGE, "--region: too many");
		s->regions[s->opts.nregions++] = (char *)arg;
		return 0;
	case OPT_FROM_FILE:
		s->opts.from_file = arg;
		return 0;
	case OPT_FORCE:
		s->opts.force = 1;
		return 0;
	}
	return fo_err_set(err, FO_EXIT_USAGE, "unknown option");
}

static int
check(struct fo_run *ctx, fo_err *err)
{
	struct state *s = ctx->data;

	return fo_catalog_check(&s->opts, err);
}

static int
run(struct fo_run *ctx, fo_err *err)
{
	struct state *s = ctx->data;

	return fo_catalog_update(ctx, &s->opts, err);
}

static const struct fo_job job = {
	.name = "instance_catalog_updater",
	.purpose = "load the EC2 instance and price catalog from the AWS Price List bulk files",
	.usage = "[OPTIONS]",
	.description =
		"Reads the Price List region index, and for each region whose offer version\n"
		"changed streams its CSV offer file into finops.instance_types and\n"
		"finops.instance_prices (On-Demand and Reserved prices of compute instances in\n"
		"use; other rows are skipped and counted by reason). Each region is replaced in\n"
		"one transaction; one that fails keeps its previous catalog. Exits 99 when no\n"
		"region changed.",
	.flags = FO_JOB_DRY_RUN,
	.options = options,
	.option = on_option,
	.check = check,
	.run = run,
};

int
main(int argc, char **argv)
{
	struct state s;

	memset(&s, 0, sizeof(s));
	s.opts.regions = s.regions;
	return fo_job_main(&job, &s, argc, argv);
}
