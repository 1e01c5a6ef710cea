/*
 * forecast_train: train daily cost forecasts with prediction intervals and track their accuracy.
 *
 * Not built yet (issue #9): it answers --help and --version, and any other
 * use exits 2 without touching anything.
 */
#include "finops/job.h"

static const struct fo_job job = {
	.name = "forecast_train",
	.purpose = "train daily cost forecasts with prediction intervals and track their accuracy",
	.usage = "[OPTIONS]",
	.description = "This job is being built (issue #9).",
	.flags = FO_JOB_NOT_IMPLEMENTED,
};

int
main(int argc, char **argv)
{
	return fo_job_main(&job, NULL, argc, argv);
}
