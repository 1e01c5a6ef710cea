/*
 * anomaly_detect.h: the daily anomaly job. Monitors (the defaults, or a JSON
 * file) say which series are watched; each newly closed day of each series
 * is judged by the anomaly core (anomaly.h), anomalies are recorded in
 * finops.anomalies with their days and root causes, and the channels of
 * their monitor are told (notify.h), at once or in one daily digest. See
 * docs/anomalies.md.
 */
#ifndef FINOPS_ANOMALY_DETECT_H
#define FINOPS_ANOMALY_DETECT_H

#include <stddef.h>

#include "finops/anomaly.h"
#include "finops/error.h"
#include "finops/notify.h"
#include "finops/run.h"

/* What a monitor watches: each value of one dimension is its own series. */
enum fo_ad_dim {
	FO_AD_ACCOUNT,             /* the total of each billing account */
	FO_AD_SERVICE,
	FO_AD_SUB_ACCOUNT,
	FO_AD_REGION,
	FO_AD_USAGE_TYPE,
	FO_AD_TAG,                 /* the values of one tag key */
	FO_AD_COST_CATEGORY        /* the values of one cost category */
};

/* "billing_account", "service", ...: as finops.anomaly_series.dimension says. */
const char *fo_ad_dim_name(enum fo_ad_dim dim);

struct fo_ad_channel {
	struct fo_notify_channel ch;
	int digest;                /* 1: one message a closed day, listing the anomalies */
};

struct fo_ad_monitor {
	char *name;
	enum fo_ad_dim dim;
	char *key;                 /* the tag key or cost category; NULL otherwise */
	int top_n;                 /* the values with the most spend (10); accounts: all */
	struct fo_anom_params up;  /* rises */
	int watch_drops;
	struct fo_anom_params down;   /* falls, when watch_drops */
	size_t *channels;          /* indices into fo_ad_config.channels */
	size_t nchannels;
};

struct fo_ad_config {
	const char *path;          /* the file it came from, or NULL for the defaults */
	int billed;                /* metric: 1 billed_cost, 0 effective_cost (default) */
	struct fo_ad_monitor *monitors;
	size_t nmonitors;
	struct fo_ad_channel *channels;
	size_t nchannels;
	char *dashboard_url;       /* a template: {anomaly_id} {monitor} {value} {day} ... or NULL */
	void *json;                /* the parsed file, which owns the channels' strings */
};

/*
 * The defaults (no file): a monitor of each billing account's total and
 * one each of service, sub account, region and usage type (top 10 values),
 * rises only, thresholds $100 AND 20% at the 99% bound, no channel.
 */
int fo_ad_config_defaults(struct fo_ad_config *c, fo_err *err);

/*
 * Reads a monitors file (docs/anomalies.md). Anything wrong is
 * FO_EXIT_USAGE naming the file and the JSON path of the field
 * ("monitors.json: monitors[2].threshold.percent: must be a number from 0
 * to 1000"); unknown keys are refused as the typos they usually are.
 */
int fo_ad_config_load(struct fo_ad_config *c, const char *path, fo_err *err);

/* Parses JSON text as a monitors file named name (for tests and the loader). */
int fo_ad_config_parse(struct fo_ad_config *c, const char *name, const char *text, size_t len,
		       fo_err *err);

void fo_ad_config_free(struct fo_ad_config *c);

enum fo_ad_verdict { FO_AD_YES, FO_AD_NO, FO_AD_PLANNED };

struct fo_ad_feedback {
	long long anomaly_id;
	enum fo_ad_verdict verdict;
};

struct fo_ad_opts {
	const char *monitors_path;    /* --monitors, or NULL for the defaults */
	int metric_set, billed;       /* --metric */
	int cutoff_days;              /* newest days of each source left out as incomplete (2) */
	int backfill_days;            /* closed days a new series is judged over (30) */
	int notify_days;              /* anomalies older than this (by last day) are not sent (7) */
	int no_notify;                /* --no-notify: record only */
	struct fo_ad_feedback *feedback;   /* --feedback ID=VERDICT, repeatable */
	size_t nfeedback;
	struct fo_ad_config config;   /* loaded by fo_ad_check */
};

void fo_ad_defaults(struct fo_ad_opts *o);

/* Parses "ID=yes|no|planned_activity" (--feedback) and appends it. */
int fo_ad_add_feedback(struct fo_ad_opts *o, const char *arg, fo_err *err);

/* Loads and checks the monitors, before any connection. */
int fo_ad_check(struct fo_ad_opts *o, fo_err *err);

/* The run: records feedback when given, else evaluates the newly closed days and notifies. */
int fo_ad_run(struct fo_run *ctx, struct fo_ad_opts *o, fo_err *err);

void fo_ad_free(struct fo_ad_opts *o);

#endif
