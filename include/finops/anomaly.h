/*
 * anomaly.h: whether a day of a daily cost series is an anomaly, the way
 * AWS Cost Anomaly Detection decides it (see docs/anomalies.md).
 *
 * The expected value and its upper bound come from a forecasting model
 * (stats: ETS with a damped trend, and a weekly season when the series has
 * one) fitted on the days before, made robust first: days excluded by the
 * caller (already anomalous, or judged "no" / planned activity) are
 * replaced by their weekday's median, and spikes among the others are
 * clipped at 5 robust deviations. A
 * day is anomalous when its cost is above the bound at the chosen level and
 * its impact (actual - expected) passes the thresholds: an absolute amount
 * and a percentage of the expected, both (AND) or either (OR). A charge that
 * came on the same day of the month before (a fee, tax, support) is
 * expected, not an anomaly.
 */
#ifndef FINOPS_ANOMALY_H
#define FINOPS_ANOMALY_H

#include <stddef.h>

struct fo_anom_params {
	int min_history;           /* clean days before a series can alert (14) */
	int window;                /* days of history the model sees (56) */
	double level;              /* of the prediction interval, two-sided (0.99: z 2.576) */
	double min_impact;         /* impact at least this much money (100) */
	double min_pct;            /* impact at least this % of the expected (20) */
	int join_or;               /* 0: both thresholds (AND), 1: either (OR) */
	int shift_days;            /* an episode this long at a steady level is the new normal (7) */
	int drops;                 /* 1: watch for falls below the lower bound instead of rises */
};

void fo_anom_defaults(struct fo_anom_params *p);

struct fo_anom_eval {
	int evaluated;             /* 0: too little history (nothing below is set) */
	double actual, expected, upper, lower;
	double impact;             /* actual - expected (negative for a drop) */
	double impact_pct;         /* 100 * impact / expected; NAN when expected is 0 */
	double score;              /* |actual - expected| / sigma in the direction watched, 0..100 */
	int recurring;             /* a charge this day of the month before: expected */
	int anomalous;
	char model[32];            /* the forecasting model that gave the expected value */
};

/*
 * Evaluates day t of y (its history is y[0..t-1], oldest first; y[0] is
 * Unix day first_day). excluded (may be NULL) marks days to keep out of the
 * baseline. Returns 0, or -1 when out of memory.
 */
int fo_anom_evaluate(const double *y, const unsigned char *excluded, size_t t, long first_day,
		     const struct fo_anom_params *p, struct fo_anom_eval *out);

/* Consecutive anomalous days: one record that grows while they last. */
struct fo_anom_episode {
	size_t first, last;        /* day indices */
	double impact;             /* sum of the daily impacts */
	double max_impact;         /* the largest daily impact (the most negative for drops) */
	double score;              /* the largest daily score */
	int open;                  /* still anomalous on the last day scanned */
	int level_shift;           /* closed as the series' new normal (shift_days at a steady level) */
};

/*
 * Scans days from .. n-1 in order, as one run a day would: each day is
 * evaluated with the days flagged before it kept out of the baseline, and
 * consecutive anomalous days make one episode. An episode that lasts
 * shift_days with the cost steady (within 10% of its median) is taken as
 * the series' new normal: it closes as a level shift, and from then on the
 * series starts where it shifted (its days count in the baseline again, the
 * days before it no longer; min_history applies again). flags (n bytes,
 * the caller's) get 1 for each anomalous day; *eps (the caller frees it)
 * the episodes. -1 out of memory.
 */
int fo_anom_scan(const double *y, size_t n, long first_day, size_t from,
		 const struct fo_anom_params *p, unsigned char *flags,
		 struct fo_anom_episode **eps, size_t *neps);

/*
 * fo_anom_scan as a daily job runs it, over days judged by earlier runs:
 * ev (n entries) holds for days before from what those runs found (only
 * anomalous, actual, expected, impact and score are read) and gets the
 * evaluations of days from .. n-1. *base is where the series starts (0, or
 * the first day of its last level shift) and moves when a new one happens.
 * held (n bytes, or NULL) marks days people kept out of the baseline
 * (feedback "no" or "planned_activity"): they stay out even when their
 * episode lasts, and an episode holding one is never taken as the new
 * normal. An episode open on day from - 1 continues (its first is then
 * before from). *eps holds every episode with a day at or after from.
 */
int fo_anom_scan_days(const double *y, size_t n, long first_day, size_t from, size_t *base,
		      const unsigned char *held, const struct fo_anom_params *p,
		      struct fo_anom_eval *ev, struct fo_anom_episode **eps, size_t *neps);

/*
 * Root causes. An anomalous day's cost is split into leaves, one a
 * combination of the four dimensions AWS's root-cause analysis uses
 * (service, sub account, region, usage type), each with its cost that day
 * and its expected cost (the caller's baseline for that leaf). A cause is a
 * value of one dimension or a pair of values of two; its contribution is
 * the part of the impact its leaves explain. Causes are chosen greedily,
 * the largest first (a pair instead of its single value when the pair
 * explains 80% of it), and share no leaf, so their contributions never sum
 * to more than the total impact (the leaves' increases are scaled down
 * when they exceed it, as when other leaves fell).
 */
enum { FO_RC_SERVICE, FO_RC_SUB_ACCOUNT, FO_RC_REGION, FO_RC_USAGE_TYPE, FO_RC_NDIMS };

struct fo_rc_leaf {
	const char *value[FO_RC_NDIMS];   /* NULL or "" counts as a value of its own */
	double actual, expected;
};

struct fo_rc_cause {
	int dim[2];                /* dimensions (FO_RC_*); dim[1] -1 for a single value */
	const char *value[2];      /* pointers into the leaves */
	double contribution;       /* money of the impact it explains, > min_contribution */
};

/*
 * The top max causes (at most 10 is what AWS reports), each explaining more
 * than min_contribution ($1), largest first, into out; *nout how many.
 * -1 out of memory.
 */
int fo_anom_root_causes(const struct fo_rc_leaf *leaves, size_t n, double total_impact,
			double min_contribution, struct fo_rc_cause *out, size_t max,
			size_t *nout);

/* The standard normal quantile of probability q (0 < q < 1). */
double fo_anom_probit(double q);

#endif
