/*
 * budget_check: budgets as code, judged on actual and forecasted cost,
 * breaches told to their owners and escalated (docs/budgets.md).
 */
#include "finops/budget.h"
#include "finops/job.h"

enum { OPT_BUDGETS = 1000, OPT_CUTOFF, OPT_NO_NOTIFY };

static const struct fo_option options[] = {
	{"budgets", 1, OPT_BUDGETS, "FILE", "the budgets file (JSON; docs/budgets.md); required"},
	{"cutoff-days", 1, OPT_CUTOFF, "DAYS",
	 "leave out the newest DAYS days of each source's data as incomplete (default 2)"},
	{"no-notify", 0, OPT_NO_NOTIFY, NULL, "record breaches, send no message"},
	{NULL, 0, 0, NULL, NULL}
};

static int
on_option(struct fo_run *ctx, int id, const char *arg, fo_err *err)
{
	struct fo_bd_opts *o = ctx->data;

	switch (id) {
	case OPT_BUDGETS:
		o->budgets_path = arg;
		return 0;
	case OPT_CUTOFF:
		return fo_opt_int("cutoff-days", arg, 0, 31, NULL, &o->cutoff_days, err);
	case OPT_NO_NOTIFY:
		o->no_notify = 1;
		return 0;
	}
	return fo_err_set(err, FO_EXIT_USAGE, "unknown option");
}

static int
check(struct fo_run *ctx, fo_err *err)
{
	return fo_bd_check(ctx->data, err);
}

static int
run(struct fo_run *ctx, fo_err *err)
{
	return fo_bd_run(ctx, ctx->data, err);
}

static const struct fo_job job = {
	.name = "budget_check",
	.purpose = "judge budgets on actual and forecasted cost; tell owners and finance once",
	.usage = "--budgets FILE [OPTIONS]",
	.description =
		"Syncs the budgets file into finops.budgets (a budget gone from it is archived),\n"
		"then judges each budget's period: actual to date over closed days and the\n"
		"forecast to the period's end with its 80% interval, against its thresholds.\n"
		"An actual threshold fires once a period; a forecasted one re-arms when the\n"
		"forecast falls back below it. Each crossing is recorded in\n"
		"finops.budget_breaches and told to its channels once. Exit 99: nothing crossed.",
	.flags = FO_JOB_DRY_RUN,
	.options = options,
	.option = on_option,
	.check = check,
	.run = run,
};

int
main(int argc, char **argv)
{
	struct fo_bd_opts o;
	int rc;

	fo_bd_defaults(&o);
	rc = fo_job_main(&job, &o, argc, argv);
	fo_bd_opts_free(&o);
	return rc;
}
