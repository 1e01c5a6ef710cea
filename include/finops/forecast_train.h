/*
 * forecast_train.h: daily effective-cost forecasts per series (the total,
 * each billing account, each sub account and service), per currency, into
 * finops.forecast_runs/models/values/months, with the model of each series
 * chosen by backtest (forecast.h). Accuracy and drift are views over them.
 */
#ifndef FINOPS_FORECAST_TRAIN_H
#define FINOPS_FORECAST_TRAIN_H

#include "finops/error.h"
#include "finops/run.h"

struct fo_forecast_opts {
	int cutoff_days;          /* the newest days of CUR data left out as incomplete (2) */
	const char *dimensions;   /* "total,billing_account,sub_account_service" */
	int origins;              /* backtest origins (3) */
	int backtest_days;        /* horizon of each backtest window (14) */
	int retrain_drifted;      /* only series whose drift exceeds the threshold */
	double drift_threshold;   /* absolute percentage error on the month (12) */
	int shard, nshards;       /* --shard I/N: only series whose key is in shard I of N
				     (core.h fo_shard_of); nshards 0: every series */
};

void fo_forecast_defaults(struct fo_forecast_opts *o);

/* Checks the options without connecting (--dimensions): FO_EXIT_USAGE naming the bad one. */
int fo_forecast_check(const struct fo_forecast_opts *opts, fo_err *err);

int fo_forecast_train(struct fo_run *ctx, const struct fo_forecast_opts *opts, fo_err *err);

#endif
