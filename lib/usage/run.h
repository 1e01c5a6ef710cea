/*
 * run.h: one usage_ingest run as its two sources see it (private to
 * lib/usage): usage.c reads metric streams and merges, from_cloudwatch.c asks
 * CloudWatch GetMetricData; both fill the roll-up.
 */
#ifndef FINOPS_USAGE_RUN_H
#define FINOPS_USAGE_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "finops/error.h"
#include "usage/rollup.h"

struct fo_run;
struct fo_usage_opts;

struct run {
	struct fo_run *ctx;
	const struct fo_usage_opts *opts;
	int64_t start_s, end_s;
	struct instances inst;
	struct rollup roll;
	const char *source;          /* "metric_stream" or "cloudwatch" */
	/* --skip-present: present[h] for each hour of the window that has rows already */
	unsigned char *present;
	size_t present_hours;
	long long present_points;    /* datapoints of those hours left out */
	long long other_shards;      /* --shard: datapoints (or instances) of other shards */
	/* metric streams */
	const char *file;
	long long lines, used_lines, ignored, outside;
	size_t files;
};


extern const char *const usage_metric_names[NMETRICS];

enum dp_field { DP_AVG, DP_MAX, DP_MIN };

/*
 * Whether one datapoint is physically possible (usage.c); -1 with the field
 * at fault and why in msg when it is not.
 */
int usage_implausible(enum metric m, double avg, double max, double min, int has_min,
		      enum dp_field *field, char *msg, size_t len);

/* Whether the hour starting at hour_s is one --skip-present leaves alone. */
static inline int
usage_hour_present(const struct run *r, int64_t hour_s)
{
	return r->present && hour_s >= r->start_s && hour_s < r->end_s &&
	       r->present[(hour_s - r->start_s) / 3600];
}

/* Whether an instance id is in this run's shard (every id when unsharded). */
int usage_in_shard(const struct run *r, const char *id, size_t len);

/* from_cloudwatch.c: the instances to ask for (named, else billed), then their hours. */
int usage_cw_instances(struct run *r, fo_err *err);
int usage_from_cloudwatch(struct run *r, fo_err *err);

#endif
