/*
 * instance_catalog_updater: load the EC2 instance and price catalog from the AWS Price List bulk files.
 *
 * Not built yet (issue #5): it answers --help and --version, and any other
 * use exits 2 without touching anything.
 */
#include "finops/job.h"

static const struct fo_job job = {
	.name = "instance_catalog_updater",
	.purpose = "load the EC2 instance and price catalog from the AWS Price List bulk files",
	.usage = "[OPTIONS]",
	.description = "This job is being built (issue #5).",
	.flags = FO_JOB_NOT_IMPLEMENTED,
};

int
main(int argc, char **argv)
{
	return fo_job_main(&job, NULL, argc, argv);
}
