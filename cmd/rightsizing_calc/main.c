/*
 * rightsizing_calc: find idle, over- and under-provisioned instances and price the saving.
 *
 * Not built yet (issue #8): it answers --help and --version, and any other
 * use exits 2 without touching anything.
 */
#include "finops/job.h"

static const struct fo_job job = {
	.name = "rightsizing_calc",
	.purpose = "find idle, over- and under-provisioned instances and price the saving",
	.usage = "[OPTIONS]",
	.description = "This job is being built (issue #8).",
	.flags = FO_JOB_NOT_IMPLEMENTED,
};

int
main(int argc, char **argv)
{
	return fo_job_main(&job, NULL, argc, argv);
}
