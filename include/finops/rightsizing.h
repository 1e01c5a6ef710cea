/*
 * rightsizing.h: idle, over- and under-provisioned EC2 instances, with the
 * monthly saving, from finops.instance_usage_hourly, the instance catalog
 * and the billing table (defaults follow AWS Compute Optimizer and Trusted
 * Advisor; see docs/rightsizing.md).
 */
#ifndef FINOPS_RIGHTSIZING_H
#define FINOPS_RIGHTSIZING_H

#include <stddef.h>

#include "finops/error.h"
#include "finops/run.h"

struct fo_rightsizing_opts {
	const char *end;            /* end of the lookback (ISO 8601; NULL: this hour) */
	int lookback_days;          /* 14 */
	double cpu_percentile;      /* 0.995, 0.95, 0.90, or 1 for the maximum */
	double cpu_headroom;        /* 0.20: a type may be used up to 80% */
	double mem_headroom;        /* 0.20 */
	int allow_arch_change;
	double under_threshold;     /* CPU statistic above this %: under-provisioned (90) */
	int min_hours;              /* fewer hours of metrics: insufficient data (30) */
	int jobs;                   /* connections reading the usage at once, each a part of
				       the window's days (2) */
	int memory_mb;              /* for every instance's statistics at once (40); a
				       window that needs more is read in instance order */
	int shard, nshards;         /* --shard I/N: only instances whose id is in shard I of N
				       (core.h fo_shard_of); nshards 0: every instance */
};

void fo_rightsizing_defaults(struct fo_rightsizing_opts *o);

/* Checks the options without connecting (--end): FO_EXIT_USAGE naming the bad one. */
int fo_rightsizing_check(const struct fo_rightsizing_opts *opts, fo_err *err);

int fo_rightsizing_calc(struct fo_run *ctx, const struct fo_rightsizing_opts *opts,
			fo_err *err);

#endif
