/*
 * usage_ingest: load hourly instance utilization from CloudWatch and metric-stream files.
 *
 * Not built yet (issue #6): it answers --help and --version, and any other
 * use exits 2 without touching anything.
 */
#include "finops/job.h"

static const struct fo_job job = {
	.name = "usage_ingest",
	.purpose = "load hourly instance utilization from CloudWatch and metric-stream files",
	.usage = "[OPTIONS]",
	.description = "This job is being built (issue #6).",
	.flags = FO_JOB_NOT_IMPLEMENTED,
};

int
main(int argc, char **argv)
{
	return fo_job_main(&job, NULL, argc, argv);
}
