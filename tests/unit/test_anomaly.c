/*
 * Daily cost anomalies, worked by hand on series with a known shape
 * (deterministic noise): a monthly fee is not one, a 3-day leak is one
 * anomaly with its impact, 10 days of history cannot alert, small changes
 * pass the bound but not the thresholds, a service that appears from
 * nothing has no percentage, and a permanent step becomes the new normal.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "finops/anomaly.h"
#include "xorshift.h"

#define DAY0 20393                 /* 2025-11-01, a Saturday */
#define N 150

static uint64_t rng;

/* Uniform in (-1, 1), the same sequence every run. */
static double
noise(void)
{
	return 2 * xs_uniform(&rng) - 1;
}

/* About base a day, weekends at 70%, +-spread noise. */
static void
series(double *y, size_t n, double base, double spread)
{
	rng = 88172645463325252ull;
	for (size_t i = 0; i < n; i++) {
		int weekday = (int)((DAY0 + (long)i + 4) % 7);       /* 0 Sunday */

		y[i] = base * (weekday == 0 || weekday == 6 ? 0.7 : 1.0) * (1 + spread * noise());
	}
}

/* The episodes of a scan of y from day 20 at the defaults (*eps is the caller's). */
static size_t
scan(const double *y, unsigned char *flags, struct fo_anom_episode **eps)
{
	struct fo_anom_params p;
	size_t n;

	fo_anom_defaults(&p);
	assert_int_equal(fo_anom_scan(y, N, DAY0, 20, &p, flags, eps, &n), 0);
	return n;
}

static void
test_probit(void **state)
{
	(void)state;
	assert_true(fabs(fo_anom_probit(0.99) - 2.326348) < 1e-5);
	assert_true(fabs(fo_anom_probit(0.5)) < 1e-9);
	assert_true(fabs(fo_anom_probit(0.001) + 3.090232) < 1e-5);
}

static void
test_monthly_fee_is_not_an_anomaly(void **state)
{
	struct fo_anom_params p;
	struct fo_anom_eval ev;
	double y[N];
	/* the 1st of Dec, Jan, Feb, Mar: days 30, 61, 92, 120 */
	const size_t firsts[] = {30, 61, 92, 120};

	(void)state;
	fo_anom_defaults(&p);
	series(y, N, 1000, 0.05);
	for (size_t i = 0; i < 4; i++)
		y[firsts[i]] += 3000;          /* support, billed on the 1st */
	/* the first time it is new: an anomaly */
	assert_int_equal(fo_anom_evaluate(y, NULL, 30, DAY0, &p, &ev), 0);
	assert_true(ev.evaluated);
	assert_true(ev.anomalous);
	/* once it came a month before, it is expected */
	for (size_t i = 1; i < 4; i++) {
		assert_int_equal(fo_anom_evaluate(y, NULL, firsts[i], DAY0, &p, &ev), 0);
		assert_false(ev.anomalous);
		assert_true(ev.recurring);
	}
}

static void
test_three_day_leak_is_one_anomaly(void **state)
{
	struct fo_anom_episode *eps;
	unsigned char flags[N];
	double y[N];

	(void)state;
	series(y, N, 1000, 0.05);
	for (size_t i = 70; i < 73; i++)
		y[i] += 800;                   /* a NAT gateway left running */
	assert_int_equal(scan(y, flags, &eps), 1);
	assert_int_equal(eps[0].first, 70);
	assert_int_equal(eps[0].last, 72);
	assert_false(eps[0].open);
	assert_false(eps[0].level_shift);
	/* the impact is the leak's 2,400, give or take the noise of the expected values */
	assert_true(fabs(eps[0].impact - 2400) < 150);
	assert_true(eps[0].max_impact > 700 && eps[0].max_impact < 900);
	free(eps);
}

static void
test_short_history_does_not_alert(void **state)
{
	struct fo_anom_params p;
	struct fo_anom_eval ev;
	double y[N];

	(void)state;
	fo_anom_defaults(&p);
	series(y, N, 1000, 0.05);
	y[10] += 5000;
	assert_int_equal(fo_anom_evaluate(y, NULL, 10, DAY0, &p, &ev), 0);
	assert_false(ev.evaluated);
	assert_false(ev.anomalous);
	/* the same spike with 14 days before it alerts */
	y[14] += 5000;
	assert_int_equal(fo_anom_evaluate(y, NULL, 14, DAY0, &p, &ev), 0);
	assert_true(ev.evaluated);
	assert_true(ev.anomalous);
}

static void
test_thresholds(void **state)
{
	struct fo_anom_params p;
	struct fo_anom_eval ev;
	double y[N];

	(void)state;
	fo_anom_defaults(&p);
	series(y, N, 5000, 0.005);
	y[80] += 400;                      /* far above the bound, but only ~8% */
	assert_int_equal(fo_anom_evaluate(y, NULL, 80, DAY0, &p, &ev), 0);
	assert_true(ev.actual > ev.upper);
	assert_true(ev.impact_pct > 5 && ev.impact_pct < 10);
	assert_false(ev.anomalous);        /* AND: 20% is not reached */
	p.join_or = 1;
	assert_int_equal(fo_anom_evaluate(y, NULL, 80, DAY0, &p, &ev), 0);
	assert_true(ev.anomalous);         /* OR: $100 is */
	/* a small series: +60% but $30 */
	fo_anom_defaults(&p);
	series(y, N, 50, 0.01);
	y[80] += 30;
	assert_int_equal(fo_anom_evaluate(y, NULL, 80, DAY0, &p, &ev), 0);
	assert_true(ev.impact_pct > 40);
	assert_false(ev.anomalous);
}

static void
test_from_nothing_has_no_percentage(void **state)
{
	struct fo_anom_params p;
	struct fo_anom_eval ev;
	double y[40] = {0};

	(void)state;
	fo_anom_defaults(&p);
	y[39] = 500;                       /* a GPU cluster in a new account */
	assert_int_equal(fo_anom_evaluate(y, NULL, 39, DAY0, &p, &ev), 0);
	assert_true(ev.evaluated);
	assert_true(ev.anomalous);
	assert_true(fabs(ev.expected) < 1e-9);
	assert_true(isnan(ev.impact_pct));
	assert_true(fabs(ev.impact - 500) < 1e-9);
}

static void
test_step_becomes_the_new_normal(void **state)
{
	struct fo_anom_episode *eps;
	unsigned char flags[N];
	double y[N];

	(void)state;
	series(y, N, 1000, 0.02);
	for (size_t i = 60; i < N; i++)
		y[i] *= 2;                     /* a new workload, here to stay */
	assert_int_equal(scan(y, flags, &eps), 1);
	assert_int_equal(eps[0].first, 60);
	assert_true(eps[0].level_shift);
	assert_false(eps[0].open);
	/* nothing after it */
	for (size_t i = eps[0].last + 1; i < N; i++)
		assert_int_equal(flags[i], 0);
	free(eps);
}

static void
test_excluded_days_leave_the_baseline(void **state)
{
	struct fo_anom_params p;
	struct fo_anom_eval with, without;
	unsigned char excluded[N] = {0};
	double y[N];

	(void)state;
	fo_anom_defaults(&p);
	series(y, N, 1000, 0.05);
	/* a month of planned load test, most of the window before day 87 */
	for (size_t i = 55; i < 87; i++) {
		y[i] += 1500;
		excluded[i] = 1;
	}
	assert_int_equal(fo_anom_evaluate(y, NULL, 87, DAY0, &p, &with), 0);
	assert_int_equal(fo_anom_evaluate(y, excluded, 87, DAY0, &p, &without), 0);
	/* left in, the load test is the baseline; left out, the weeks before it are */
	assert_true(with.expected > 1800);
	assert_true(without.expected > 850 && without.expected < 1150);
	/* a single week of it is clipped even when left in (5 robust deviations) */
	series(y, N, 1000, 0.05);
	for (size_t i = 80; i < 87; i++)
		y[i] += 1500;
	assert_int_equal(fo_anom_evaluate(y, NULL, 87, DAY0, &p, &with), 0);
	assert_true(with.expected < 1250);
}

/*
 * A daily job scans one day at a time, reading back what the runs before
 * it found: it must find exactly what one scan of the whole series finds,
 * episodes that span runs and the level shift included.
 */
static void
test_day_by_day_is_one_scan(void **state)
{
	struct fo_anom_params p;
	struct fo_anom_episode *eps, *one;
	struct fo_anom_eval ev[N];
	unsigned char flags[N];
	size_t n_one, neps, base = 0;
	double y[N];

	(void)state;
	fo_anom_defaults(&p);
	series(y, N, 1000, 0.03);
	/*
	 * A spike on 12-09. On 12-11 (day 40) it would, with the leak over
	 * 01-11, make the step's 02-11 (day 102) read as a monthly charge: a
	 * rise on the same day of each of the two months before is one.
	 */
	y[38] += 900;
	for (size_t i = 70; i < 73; i++)      /* a leak over three runs */
		y[i] += 700;
	for (size_t i = 100; i < N; i++)      /* a step that stays */
		y[i] *= 1.8;
	n_one = scan(y, flags, &one);
	assert_int_equal(n_one, 3);
	memset(ev, 0, sizeof(ev));
	for (size_t t = 20; t < N; t++) {
		assert_int_equal(fo_anom_scan_days(y, t + 1, DAY0, t, &base, NULL, &p, ev, &eps,
						   &neps), 0);
		/* the run of day t reports the episode it extends or starts, whole */
		if (neps) {
			assert_int_equal(neps, 1);
			for (size_t k = 0; k < n_one; k++)
				if (one[k].first == eps[0].first && one[k].last == t) {
					assert_true(fabs(one[k].impact - eps[0].impact) < 1e-6);
					assert_int_equal(one[k].level_shift, eps[0].level_shift);
				}
		}
		free(eps);
	}
	for (size_t t = 20; t < N; t++)
		assert_int_equal(ev[t].anomalous, flags[t]);
	assert_int_equal(base, one[2].first);
	free(one);
}

/* Days a person held out (planned activity) never become the new normal. */
static void
test_held_days_never_become_the_baseline(void **state)
{
	struct fo_anom_params p;
	struct fo_anom_episode *eps;
	struct fo_anom_eval ev[N];
	unsigned char held[N] = {0};
	size_t neps, base = 0;
	double y[N];

	(void)state;
	fo_anom_defaults(&p);
	series(y, N, 1000, 0.02);
	for (size_t i = 60; i < 90; i++) {   /* a month of migration at twice the cost */
		y[i] *= 2;
		held[i] = 1;
	}
	memset(ev, 0, sizeof(ev));
	assert_int_equal(fo_anom_scan_days(y, N, DAY0, 20, &base, held, &p, ev, &eps, &neps), 0);
	assert_int_equal(neps, 1);
	assert_int_equal(eps[0].first, 60);
	assert_int_equal(eps[0].last, 89);        /* the whole migration, one anomaly */
	assert_false(eps[0].level_shift);
	assert_int_equal(base, 0);
	for (size_t t = 90; t < N; t++)           /* and back to normal is normal */
		assert_false(ev[t].anomalous);
	free(eps);
}

/* Watching drops: a fall below the lower bound, its impact negative; a stop is a new normal. */
static void
test_drops(void **state)
{
	struct fo_anom_params p;
	struct fo_anom_episode *eps;
	unsigned char flags[N];
	size_t neps;
	double y[N];

	(void)state;
	fo_anom_defaults(&p);
	p.drops = 1;
	series(y, N, 1000, 0.02);
	y[50] *= 0.3;                              /* a day of failed jobs */
	for (size_t i = 100; i < N; i++)           /* the service switched off */
		y[i] = 0;
	assert_int_equal(fo_anom_scan(y, N, DAY0, 20, &p, flags, &eps, &neps), 0);
	assert_int_equal(neps, 2);
	assert_int_equal(eps[0].first, 50);
	assert_int_equal(eps[0].last, 50);
	assert_true(eps[0].impact < -400 && eps[0].impact > -600);   /* a Sunday: 70% of 1,000 */
	assert_int_equal(eps[1].first, 100);
	assert_true(eps[1].level_shift);
	/* rises are not watched then */
	series(y, N, 1000, 0.02);
	y[50] += 2000;
	free(eps);
	assert_int_equal(fo_anom_scan(y, N, DAY0, 20, &p, flags, &eps, &neps), 0);
	assert_int_equal(neps, 0);
	free(eps);
}

/* The cause's values joined with " / ", for assertions. */
static const char *
cause_text(const struct fo_rc_cause *c)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "%s%s%s", c->value[0], c->dim[1] >= 0 ? " / " : "",
		 c->dim[1] >= 0 ? c->value[1] : "");
	return buf;
}

static void
test_root_causes_rank_and_refine(void **state)
{
	const struct fo_rc_leaf leaves[] = {
		{{"AmazonEC2", "111111111111", "us-east-1", "NatGateway-Bytes"}, 840, 40},
		{{"AmazonEC2", "111111111111", "us-east-1", "BoxUsage:m5.large"}, 500, 500},
		{{"AmazonS3", "111111111111", "us-east-1", "Requests-Tier1"}, 130, 30},
		{{"AWSLambda", "222222222222", "eu-west-1", "Request"}, 20.5, 20},
	};
	struct fo_rc_cause out[10];
	size_t n;
	double sum = 0;

	(void)state;
	assert_int_equal(fo_anom_root_causes(leaves, 4, 900.5, 1, out, 10, &n), 0);
	/* the NAT gateway first, in its most specific pair; then S3; Lambda's 0.50 is below $1 */
	assert_int_equal(n, 2);
	assert_non_null(strstr(cause_text(&out[0]), "NatGateway-Bytes"));
	assert_true(fabs(out[0].contribution - 800) < 1e-9);
	assert_non_null(strstr(cause_text(&out[1]), "AmazonS3") ?
			strstr(cause_text(&out[1]), "AmazonS3") : strstr(cause_text(&out[1]),
									 "Requests-Tier1"));
	assert_true(fabs(out[1].contribution - 100) < 1e-9);
	for (size_t i = 0; i < n; i++)
		sum += out[i].contribution;
	assert_true(sum <= 900.5);
}

static void
test_root_causes_never_exceed_the_impact(void **state)
{
	/* EC2 rose 1,000 while S3 fell 600: the day is 400 up */
	const struct fo_rc_leaf leaves[] = {
		{{"AmazonEC2", "111111111111", "us-east-1", "BoxUsage:p3.2xlarge"}, 1500, 500},
		{{"AmazonS3", "111111111111", "us-east-1", "TimedStorage"}, 400, 1000},
	};
	struct fo_rc_cause out[10];
	size_t n;

	(void)state;
	assert_int_equal(fo_anom_root_causes(leaves, 2, 400, 1, out, 10, &n), 0);
	assert_int_equal(n, 1);
	assert_true(fabs(out[0].contribution - 400) < 1e-9);
}

static void
test_root_causes_spread_thin_name_the_common_value(void **state)
{
	struct fo_rc_leaf leaves[15];
	char types[15][32];
	struct fo_rc_cause out[10];
	size_t n;

	(void)state;
	/* 15 usage types of one account each up $50: the account is the cause */
	for (int i = 0; i < 15; i++) {
		snprintf(types[i], sizeof(types[i]), "Usage-%d", i);
		leaves[i] = (struct fo_rc_leaf){{i % 2 ? "AmazonEC2" : "AmazonRDS", "333333333333",
						 "us-west-2", types[i]}, 150, 100};
	}
	assert_int_equal(fo_anom_root_causes(leaves, 15, 750, 1, out, 10, &n), 0);
	assert_true(n >= 1);
	assert_int_equal(out[0].dim[1], -1);
	assert_true(fabs(out[0].contribution - 750) < 1e-9);
	assert_int_equal(n, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probit),
		cmocka_unit_test(test_monthly_fee_is_not_an_anomaly),
		cmocka_unit_test(test_three_day_leak_is_one_anomaly),
		cmocka_unit_test(test_short_history_does_not_alert),
		cmocka_unit_test(test_thresholds),
		cmocka_unit_test(test_from_nothing_has_no_percentage),
		cmocka_unit_test(test_step_becomes_the_new_normal),
		cmocka_unit_test(test_excluded_days_leave_the_baseline),
		cmocka_unit_test(test_day_by_day_is_one_scan),
		cmocka_unit_test(test_held_days_never_become_the_baseline),
		cmocka_unit_test(test_drops),
		cmocka_unit_test(test_root_causes_rank_and_refine),
		cmocka_unit_test(test_root_causes_never_exceed_the_impact),
		cmocka_unit_test(test_root_causes_spread_thin_name_the_common_value),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
