/*
 * anomaly_detect: daily cost anomalies with ranked root causes, told to
 * Slack, Microsoft Teams or a webhook (docs/anomalies.md).
 */
#include <string.h>

#include "finops/anomaly_detect.h"
#include "finops/job.h"

enum { OPT_MONITORS = 1000, OPT_METRIC, OPT_CUTOFF, OPT_BACKFILL, OPT_NOTIFY_DAYS,
       OPT_NO_NOTIFY, OPT_FEEDBACK };

static const struct fo_option options[] = {
	{"monitors", 1, OPT_MONITORS, "FILE",
	 "what to watch, thresholds and channels (JSON; default: each account's total and the"
	 " top 10 services, sub accounts, regions and usage types, no channel)"},
	{"metric", 1, OPT_METRIC, "METRIC", "effective_cost (default, amortized) or billed_cost"},
	{"cutoff-days", 1, OPT_CUTOFF, "DAYS",
	 "leave out the newest DAYS days of each source's data as incomplete (default 2)"},
	{"backfill-days", 1, OPT_BACKFILL, "DAYS",
	 "closed days a series is judged over the first time it is seen (default 30)"},
	{"notify-days", 1, OPT_NOTIFY_DAYS, "DAYS",
	 "send nothing about an anomaly whose last day is older than this (default 7)"},
	{"no-notify", 0, OPT_NO_NOTIFY, NULL, "record anomalies, send no message"},
	{"feedback", 1, OPT_FEEDBACK, "ID=VERDICT",
	 "record a verdict on an anomaly: yes, no or planned_activity (no and planned_activity"
	 " keep its days out of the baselines); repeatable; evaluates nothing"},
	{NULL, 0, 0, NULL, NULL}
};

static int
on_option(struct fo_run *ctx, int id, const char *arg, fo_err *err)
{
	struct fo_ad_opts *o = ctx->data;

	switch (id) {
	case OPT_MONITORS:
		o->monitors_path = arg;
		return 0;
	case OPT_METRIC:
		if (strcmp(arg, "effective_cost") != 0 && strcmp(arg, "billed_cost") != 0)
			return fo_err_set(err, FO_EXIT_USAGE, "--metric %s: effective_cost or"
					  " billed_cost", arg);
		o->metric_set = 1;
		o->billed = strcmp(arg, "billed_cost") == 0;
		return 0;
	case OPT_CUTOFF:
		return fo_opt_int("cutoff-days", arg, 0, 31, NULL, &o->cutoff_days, err);
	case OPT_BACKFILL:
		return fo_opt_int("backfill-days", arg, 1, 93, NULL, &o->backfill_days, err);
	case OPT_NOTIFY_DAYS:
		return fo_opt_int("notify-days", arg, 0, 93, NULL, &o->notify_days, err);
	case OPT_NO_NOTIFY:
		o->no_notify = 1;
		return 0;
	case OPT_FEEDBACK:
		return fo_ad_add_feedback(o, arg, err);
	}
	return fo_err_set(err, FO_EXIT_USAGE, "unknown option");
}

static int
check(struct fo_run *ctx, fo_err *err)
{
	return fo_ad_check(ctx->data, err);
}

static int
run(struct fo_run *ctx, fo_err *err)
{
	return fo_ad_run(ctx, ctx->data, err);
}

static const struct fo_job job = {
	.name = "anomaly_detect",
	.purpose = "find daily cost anomalies, rank their root causes, tell Slack or Teams",
	.usage = "[OPTIONS]",
	.description =
		"Judges each newly closed day (per source, less --cutoff-days) of each monitored\n"
		"series (per billing account, currency and value) against a forecast of the days\n"
		"before it, robust to earlier anomalies: anomalous when above the 99% bound and\n"
		"the impact passes $100 and 20%. Consecutive days are one anomaly in\n"
		"finops.anomalies, with its days and up to 10 root causes; a restated period is\n"
		"judged again. Each monitor's channels are told once. Exit 99: no new closed day.",
	.flags = FO_JOB_DRY_RUN,
	.options = options,
	.option = on_option,
	.check = check,
	.run = run,
};

int
main(int argc, char **argv)
{
	struct fo_ad_opts o;
	int rc;

	fo_ad_defaults(&o);
	rc = fo_job_main(&job, &o, argc, argv);
	fo_ad_free(&o);
	return rc;
}
