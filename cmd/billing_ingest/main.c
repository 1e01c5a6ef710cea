/*
 * billing_ingest: load AWS CUR and FOCUS billing files into PostgreSQL, one atomic billing period at a time.
 *
 * Not built yet (issue #3): it answers --help and --version, and any other
 * use exits 2 without touching anything.
 */
#include "finops/job.h"

static const struct fo_job job = {
	.name = "billing_ingest",
	.purpose = "load AWS CUR and FOCUS billing files into PostgreSQL, one atomic billing period at a time",
	.usage = "[OPTIONS]",
	.description = "This job is being built (issue #3).",
	.flags = FO_JOB_NOT_IMPLEMENTED,
};

int
main(int argc, char **argv)
{
	return fo_job_main(&job, NULL, argc, argv);
}
