/*
 * The forecasting models on synthetic series whose answers are known: the
 * optimiser finds a minimum, ETS recovers a smoothing parameter and a
 * season, intervals cover at about their nominal rate, the seasonality test
 * tells seasonal from noise, and degenerate series give numbers, never NaN.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "finops/forecast.h"
#include "xorshift.h"

static uint64_t rng = 88172645463325252ull;

static double
normal(void)
{
	return xs_gauss(&rng);
}

struct fc {
	double point[64], lo80[64], hi80[64], lo95[64], hi95[64], psi[64];
	struct fo_fc_out out;
};

static struct fo_fc_out *
fc(struct fc *f)
{
	memset(f, 0, sizeof(*f));
	f->out.point = f->point;
	f->out.lo80 = f->lo80;
	f->out.hi80 = f->hi80;
	f->out.lo95 = f->lo95;
	f->out.hi95 = f->hi95;
	f->out.psi = f->psi;
	return &f->out;
}

static double
rosenbrock(const double *x, void *ctx)
{
	(void)ctx;
	return 100 * pow(x[1] - x[0] * x[0], 2) + pow(1 - x[0], 2);
}

static void
test_nelder_mead_finds_the_minimum_inside_bounds(void **state)
{
	double x[2] = {-1.2, 1}, lo[2] = {-2, -2}, hi[2] = {2, 2};
	double lo2[2] = {-2, -2}, hi2[2] = {0.5, 2};

	(void)state;
	assert_true(fo_nelder_mead(rosenbrock, NULL, x, 2, lo, hi, 5000) < 1e-6);
	assert_true(fabs(x[0] - 1) < 1e-2 && fabs(x[1] - 1) < 2e-2);
	/* the minimum outside the box: the best point on its edge */
	x[0] = -1.2;
	x[1] = 1;
	fo_nelder_mead(rosenbrock, NULL, x, 2, lo2, hi2, 5000);
	assert_true(fabs(x[0] - 0.5) < 1e-3 && fabs(x[1] - 0.25) < 1e-2);
}

static void
test_seasonal_naive_repeats_the_last_season(void **state)
{
	double y[21];
	struct fc f;

	(void)state;
	for (int t = 0; t < 21; t++)
		y[t] = t % 7 * 10 + t / 7;
	fo_fc_seasonal_naive(y, 21, 7, 10, fc(&f));
	for (int i = 0; i < 10; i++)
		assert_true(f.point[i] == y[14 + i % 7]);
	assert_string_equal(f.out.model, "seasonal_naive");
	assert_true(f.hi95[0] > f.hi80[0] && f.hi80[0] >= f.point[0] && f.lo95[0] < f.lo80[0]);
	assert_true(f.hi95[8] - f.lo95[8] > f.hi95[1] - f.lo95[1]);   /* wider a season later */
}

static void
test_seasonality_test_tells_a_season_from_noise(void **state)
{
	double y[140], z[140];

	(void)state;
	for (int t = 0; t < 140; t++) {
		y[t] = 100 + 20 * sin(2 * M_PI * t / 7) + normal();
		z[t] = 100 + normal();
	}
	assert_true(fo_fc_is_seasonal(y, 140, 7));
	assert_false(fo_fc_is_seasonal(z, 140, 7));
	assert_false(fo_fc_is_seasonal(y, 15, 7));             /* too short to tell */
}

static void
test_ets_recovers_alpha_of_a_local_level(void **state)
{
	enum { N = 3000 };
	static double y[N];
	double level = 100;
	struct fc f;

	(void)state;
	for (int t = 0; t < N; t++) {
		double e = normal();

		y[t] = level + e;
		level += 0.4 * e;
	}
	fo_fc_ets(y, N, 7, 0, 0, 5, fc(&f));
	assert_string_equal(f.out.model, "ets_ANN");
	assert_true(fabs(f.out.params[0] - 0.4) < 0.05);
	assert_true(fabs(f.out.params[4] - 1) < 0.05);          /* sigma */
}

static void
test_ets_follows_a_weekly_season_and_trend(void **state)
{
	double y[140], truth[14];
	struct fc f;
	double smape;

	(void)state;
	for (int t = 0; t < 154; t++) {
		double v = 1000 + 2 * t + 150 * sin(2 * M_PI * t / 7) + 5 * normal();

		if (t < 140)
			y[t] = v;
		else
			truth[t - 140] = 1000 + 2 * t + 150 * sin(2 * M_PI * t / 7);
	}
	fo_fc_ets(y, 140, 7, 1, 1, 14, fc(&f));
	assert_string_equal(f.out.model, "ets_AAdA");
	smape = fo_fc_smape(truth, f.point, 14);
	assert_true(smape < 1.5);
	/* and better than the seasonal naive, which misses the trend */
	{
		struct fc g;

		fo_fc_seasonal_naive(y, 140, 7, 14, fc(&g));
		assert_true(smape < fo_fc_smape(truth, g.point, 14));
	}
}

static void
test_intervals_cover_at_their_nominal_rate(void **state)
{
	int in80 = 0, in95 = 0, runs = 400;

	(void)state;
	for (int r = 0; r < runs; r++) {
		double y[121], level = 50;
		struct fc f;

		for (int t = 0; t < 121; t++) {
			double e = 2 * normal();

			y[t] = level + e;
			level += 0.3 * e;
		}
		fo_fc_ets(y, 120, 7, 0, 0, 1, fc(&f));
		in80 += y[120] >= f.lo80[0] && y[120] <= f.hi80[0];
		in95 += y[120] >= f.lo95[0] && y[120] <= f.hi95[0];
	}
	assert_true(in80 > runs * 0.72 && in80 < runs * 0.88);
	assert_true(in95 > runs * 0.90 && in95 <= runs * 0.99);
}

static void
test_theta_on_a_seasonal_series(void **state)
{
	double y[140], truth[14];
	struct fc f, n2;

	(void)state;
	for (int t = 0; t < 154; t++) {
		double v = 500 + t + 80 * sin(2 * M_PI * t / 7);

		if (t < 140)
			y[t] = v + 3 * normal();
		else
			truth[t - 140] = v;
	}
	fo_fc_theta(y, 140, 7, 14, fc(&f));
	assert_string_equal(f.out.model, "theta_seasonal");
	fo_fc_naive2(y, 140, 7, 14, fc(&n2));
	assert_true(fo_fc_smape(truth, f.point, 14) < fo_fc_smape(truth, n2.point, 14));
	assert_true(fo_fc_smape(truth, f.point, 14) < 3);
}

static void
test_degenerate_series_give_numbers(void **state)
{
	double zeros[60] = {0}, three[3] = {5, 6, 7}, one[1] = {4};
	struct fc f;

	(void)state;
	fo_fc_ets(zeros, 60, 7, 1, 1, 10, fc(&f));
	for (int i = 0; i < 10; i++)
		assert_true(f.point[i] == 0 && isfinite(f.hi95[i]) && isfinite(f.lo95[i]));
	fo_fc_theta(zeros, 60, 7, 10, fc(&f));
	for (int i = 0; i < 10; i++)
		assert_true(isfinite(f.point[i]) && isfinite(f.hi95[i]));
	fo_fc_ets(three, 3, 7, 1, 1, 5, fc(&f));
	assert_string_equal(f.out.model, "naive");
	assert_true(f.point[4] == 7 && isfinite(f.hi95[4]));
	fo_fc_seasonal_naive(one, 1, 7, 3, fc(&f));
	assert_true(f.point[2] == 4 && f.hi95[2] == 4);
}

static void
test_backtest_picks_a_model_that_beats_the_seasonal_naive(void **state)
{
	double y[210], truth[14], mase, smape;
	struct fc f, g;

	(void)state;
	for (int t = 0; t < 224; t++) {
		double v = 300 + 1.5 * t + 60 * sin(2 * M_PI * t / 7);

		if (t < 210)
			y[t] = v + 4 * normal();
		else
			truth[t - 210] = v;
	}
	fo_fc_auto(y, 210, 7, 14, 14, 3, fc(&f), &mase, &smape);
	assert_true(isfinite(mase) && mase > 0 && isfinite(smape));
	assert_true(strcmp(f.out.model, "seasonal_naive") != 0);
	fo_fc_seasonal_naive(y, 210, 7, 14, fc(&g));
	assert_true(fo_fc_smape(truth, f.point, 14) < fo_fc_smape(truth, g.point, 14));
	/* too short to backtest: a simple model, and the scores say so */
	fo_fc_auto(y, 10, 7, 14, 14, 3, fc(&f), &mase, &smape);
	assert_true(isnan(mase));
	assert_string_equal(f.out.model, "ets_ANN");
	for (int i = 0; i < 14; i++)
		assert_true(isfinite(f.point[i]) && isfinite(f.hi95[i]));
}

static void
test_accuracy_measures(void **state)
{
	double a[2] = {100, 50}, f[2] = {110, 50}, in[8] = {1, 2, 3, 4, 5, 6, 7, 8};

	(void)state;
	/* sMAPE: mean of 200 * |a - f| / (|a| + |f|) */
	assert_true(fabs(fo_fc_smape(a, f, 2) - 200.0 * 10 / 210 / 2) < 1e-12);
	/* MASE with m = 1: in-sample scale 1 */
	assert_true(fabs(fo_fc_mase(in, 8, 1, a, f, 2) - 5) < 1e-12);
	assert_true(isnan(fo_fc_mase(a, 1, 1, a, f, 2)));
	/*
	 * MSIS at alpha 0.05: widths 20 and 10, the second value 5 below its
	 * interval (penalty 2 / 0.05 * 5 = 200): (20 + 10 + 200) / 2, scale 1
	 */
	{
		double lo[2] = {90, 55}, hi[2] = {110, 65};

		assert_true(fabs(fo_fc_msis(in, 8, 1, a, lo, hi, 2, 0.05) - 115) < 1e-9);
	}
}

static void
test_intermittent_series_forecast_their_daily_mean(void **state)
{
	double y[120], sum = 0;
	struct fc f;

	(void)state;
	/* billed every other day at 15: the expected cost a day is 7.5 */
	for (int t = 0; t < 120; t++)
		y[t] = t % 2 == 0 ? 15 : 0;
	fo_fc_tsb(y, 120, 30, fc(&f));
	assert_string_equal(f.out.model, "tsb");
	for (int i = 0; i < 30; i++)
		assert_true(fabs(f.point[i] - 7.5) < 0.75);
	fo_fc_auto(y, 120, 7, 30, 14, 3, fc(&f), NULL, NULL);
	for (int i = 0; i < 30; i++)
		sum += f.point[i];
	assert_true(fabs(sum / 30 - 7.5) < 0.75);
	/* and on random days, about a third of them, at 30 +- 5: near their mean a day */
	for (int r = 0; r < 20; r++) {
		double mean = 0;

		sum = 0;
		for (int t = 0; t < 120; t++) {
			y[t] = xs_uniform(&rng) < 1.0 / 3 ? 30 + 5 * normal() : 0;
			mean += y[t] / 120;
		}
		fo_fc_auto(y, 120, 7, 30, 14, 3, fc(&f), NULL, NULL);
		for (int i = 0; i < 30; i++)
			sum += f.point[i];
		assert_true(fabs(sum / 30 - mean) < 0.2 * mean);
	}
}

static void
test_sums_of_steps_add_their_shared_innovations(void **state)
{
	struct fc f;

	(void)state;
	fc(&f);
	/* a random walk (sigma 2): step j carries innovations 0..j */
	for (int j = 0; j < 3; j++)
		f.psi[j] = 2;
	/* steps 0..1: innovation 0 twice, 1 once: 4 (2^2 + 1) = 20 */
	assert_true(fabs(fo_fc_sum_sd(&f.out, 0, 2) - sqrt(20)) < 1e-12);
	/* steps 1..2: innovation 0 and 1 twice, 2 once: 4 (4 + 4 + 1) = 36 */
	assert_true(fabs(fo_fc_sum_sd(&f.out, 1, 3) - 6) < 1e-12);
	assert_true(fo_fc_sum_sd(&f.out, 2, 2) == 0);
	/* without weights, independent steps from the 95% intervals: sd 1 and 2 */
	f.out.psi = NULL;
	f.lo95[0] = -FO_FC_Z95, f.hi95[0] = FO_FC_Z95;
	f.lo95[1] = -2 * FO_FC_Z95, f.hi95[1] = 2 * FO_FC_Z95;
	assert_true(fabs(fo_fc_sum_sd(&f.out, 0, 2) - sqrt(5)) < 1e-12);
}

static void
test_month_totals_cover_at_their_nominal_rate(void **state)
{
	int in = 0, in_independent = 0, runs = 300;

	(void)state;
	/* a wandering level with a weekly pattern: its days' errors are correlated */
	for (int r = 0; r < runs; r++) {
		double y[230], level = 200, truth = 0, point = 0, sd, sd_ind;
		struct fc f;

		for (int t = 0; t < 230; t++) {
			level += 2 * normal();
			y[t] = level * (t % 7 >= 5 ? 0.6 : 1) + 4 * normal();
		}
		fo_fc_auto(y, 200, 7, 30, 14, 3, fc(&f), NULL, NULL);
		for (int i = 0; i < 30; i++) {
			truth += y[200 + i];
			point += f.point[i];
		}
		f.out.psi = f.psi;
		sd = fo_fc_sum_sd(&f.out, 0, 30);
		f.out.psi = NULL;
		sd_ind = fo_fc_sum_sd(&f.out, 0, 30);
		in += fabs(truth - point) <= FO_FC_Z80 * sd;
		in_independent += fabs(truth - point) <= FO_FC_Z80 * sd_ind;
	}
	assert_true(in > runs * 0.72 && in < runs * 0.88);
	/* the days taken as independent: far too narrow */
	assert_true(in_independent < runs * 0.70);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nelder_mead_finds_the_minimum_inside_bounds),
		cmocka_unit_test(test_seasonal_naive_repeats_the_last_season),
		cmocka_unit_test(test_seasonality_test_tells_a_season_from_noise),
		cmocka_unit_test(test_ets_recovers_alpha_of_a_local_level),
		cmocka_unit_test(test_ets_follows_a_weekly_season_and_trend),
		cmocka_unit_test(test_intervals_cover_at_their_nominal_rate),
		cmocka_unit_test(test_theta_on_a_seasonal_series),
		cmocka_unit_test(test_degenerate_series_give_numbers),
		cmocka_unit_test(test_backtest_picks_a_model_that_beats_the_seasonal_naive),
		cmocka_unit_test(test_accuracy_measures),
		cmocka_unit_test(test_intermittent_series_forecast_their_daily_mean),
		cmocka_unit_test(test_sums_of_steps_add_their_shared_innovations),
		cmocka_unit_test(test_month_totals_cover_at_their_nominal_rate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
