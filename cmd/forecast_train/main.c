/*
 * forecast_train: daily cost forecasts with prediction intervals, the model
 * of each series chosen by backtest, accuracy and drift tracked in views.
 */
#include <stdlib.h>
#include <string.h>

#include "finops/forecast_train.h"
#include "finops/job.h"

enum { OPT_CUTOFF = 1000, OPT_DIMS, OPT_ORIGINS, OPT_DRIFTED, OPT_THRESHOLD, OPT_BT_DAYS,
       OPT_SHARD };

static const struct fo_option options[] = {
	{"cutoff-days", 1, OPT_CUTOFF, "DAYS",
	 "leave out the newest DAYS days of billing data as incomplete (default 2)"},
	{"dimensions", 1, OPT_DIMS, "LIST",
	 "series to forecast: total, billing_account, sub_account_service (default all three)"},
	{"backtest-origins", 1, OPT_ORIGINS, "N", "rolling-origin backtest windows (default 3)"},
	{"backtest-days", 1, OPT_BT_DAYS, "DAYS", "days each backtest window scores (default 14)"},
	{"retrain-drifted", 0, OPT_DRIFTED, NULL,
	 "retrain only the series in finops.forecast_drift above the threshold"},
	{"drift-threshold", 1, OPT_THRESHOLD, "PERCENT",
	 "absolute percentage error on the month that marks drift (default 12)"},
	{"shard", 1, OPT_SHARD, "I/N",
	 "only the series whose key falls in shard I of N (0 <= I < N; FNV-1a of the key"
	 " modulo N): N runs at once split the series (docs/operations.md, \"Shards\")"},
	{NULL, 0, 0, NULL, NULL}
};

static int
on_option(struct fo_run *ctx, int id, const char *arg, fo_err *err)
{
	struct fo_forecast_opts *o = ctx->data;
	int v;

	switch (id) {
	case OPT_CUTOFF:
		return fo_opt_int("cutoff-days", arg, 0, 31, NULL, &o->cutoff_days, err);
	case OPT_DIMS:
		o->dimensions = arg;
		return 0;
	case OPT_ORIGINS:
		return fo_opt_int("backtest-origins", arg, 0, 12, NULL, &o->origins, err);
	case OPT_BT_DAYS:
		return fo_opt_int("backtest-days", arg, 1, 120, NULL, &o->backtest_days, err);
	case OPT_DRIFTED:
		o->retrain_drifted = 1;
		return 0;
	case OPT_THRESHOLD:
		if (fo_opt_int("drift-threshold", arg, 1, 1000, "a percentage", &v, err) < 0)
			return -1;
		o->drift_threshold = v;
		return 0;
	case OPT_SHARD:
		return fo_opt_shard("shard", arg, &o->shard, &o->nshards, err);
	}
	return fo_err_set(err, FO_EXIT_USAGE, "unknown option");
}

static int
check(struct fo_run *ctx, fo_err *err)
{
	return fo_forecast_check(ctx->data, err);
}

static int
run(struct fo_run *ctx, fo_err *err)
{
	return fo_forecast_train(ctx, ctx->data, err);
}

static const struct fo_job job = {
	.name = "forecast_train",
	.purpose = "forecast daily cost to the end of next month, with prediction intervals",
	.usage = "[OPTIONS]",
	.description =
		"Builds daily effective-cost series from finops.billing_line_items (the total,\n"
		"each billing account, each sub account and service; per currency; closed days\n"
		"only), chooses each series' model by rolling-origin backtest (seasonal naive,\n"
		"ETS, Theta, their combination), and writes forecasts with 80% and 95% intervals\n"
		"and month totals (actual to date plus forecast) for this month and the next.\n"
		"finops.forecast_accuracy and finops.forecast_drift follow them as actuals arrive.",
	.flags = FO_JOB_DRY_RUN,
	.options = options,
	.option = on_option,
	.check = check,
	.run = run,
};

int
main(int argc, char **argv)
{
	struct fo_forecast_opts o;

	fo_forecast_defaults(&o);
	return fo_job_main(&job, &o, argc, argv);
}
