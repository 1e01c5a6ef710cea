/*
 * forecast_bench: training and forecasting speed of the library's models.
 *
 *   forecast_bench [SERIES] [DAYS] [HORIZON] [--months]
 *
 * Generates SERIES synthetic daily cost series of DAYS days (default 10000 x
 * 730: a level, a trend, a weekly pattern, noise, and now and then a step),
 * and runs fo_fc_auto (model chosen by a 3-origin backtest of 14 days each)
 * with HORIZON days (default 60) on each. Prints series per second and peak RSS.
 *
 * --months backtests month totals instead: each series is forecast from
 * HORIZON days before its end, and each whole 30 days of the held-out days
 * is a "month" whose total's 80% and 95% intervals (fo_fc_sum_sd, as
 * forecast_train computes them) are checked against the true total, beside
 * the same intervals from the daily variances summed as if independent.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "finops/forecast.h"
#include "xorshift.h"

static uint64_t state = 0x9E3779B97F4A7C15ull;

static double
uniform(void)
{
	return xs_uniform(&state);
}

int
main(int argc, char **argv)
{
	long series = argc > 1 ? atol(argv[1]) : 10000, days = argc > 2 ? atol(argv[2]) : 730;
	long h = argc > 3 ? atol(argv[3]) : 60;
	int months = argc > 4 && strcmp(argv[4], "--months") == 0;
	double *y = malloc((size_t)days * sizeof(double));
	struct fo_fc_out out;
	struct timespec t0, t1;
	struct rusage ru;
	double checksum = 0, secs;
	long totals = 0, in80 = 0, in95 = 0, ind80 = 0, ind95 = 0;

	if (!y || h < 1 || days <= h || fo_fc_out_alloc(&out, (size_t)h) < 0)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long s = 0; s < series; s++) {
		double level = 50 + 1000 * uniform(), trend = (uniform() - 0.4) * level / 1000;
		double week = uniform() * 0.5, noise = 0.02 + 0.1 * uniform();

		for (long t = 0; t < days; t++) {
			if (uniform() < 0.002)
				level *= 0.7 + 0.6 * uniform();
			y[t] = fmax(0, (level + trend * t) * (1 - week * (t % 7 >= 5)) *
					(1 + noise * (uniform() - 0.5)));
		}
		if (!months) {
			fo_fc_auto(y, (size_t)days, 7, (size_t)h, 14, 3, &out, NULL, NULL);
			checksum += out.point[h - 1];
			continue;
		}
		fo_fc_auto(y, (size_t)(days - h), 7, (size_t)h, 14, 3, &out, NULL, NULL);
		for (long from = 0; from + 30 <= h; from += 30) {
			double truth = 0, point = 0, sd = fo_fc_sum_sd(&out, (size_t)from, (size_t)from + 30);
			double ind, *psi = out.psi;

			for (long d = from; d < from + 30; d++) {
				truth += y[days - h + d];
				point += out.point[d];
			}
			out.psi = NULL;      /* the same, the days independent */
			ind = fo_fc_sum_sd(&out, (size_t)from, (size_t)from + 30);
			out.psi = psi;
			totals++;
			in80 += fabs(truth - point) <= FO_FC_Z80 * sd;
			in95 += fabs(truth - point) <= FO_FC_Z95 * sd;
			ind80 += fabs(truth - point) <= FO_FC_Z80 * ind;
			ind95 += fabs(truth - point) <= FO_FC_Z95 * ind;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	getrusage(RUSAGE_SELF, &ru);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (months) {
		printf("%ld series x %ld days, %ld month totals of 30 held-out days:"
		       " 80%% interval covers %.1f%%, 95%% covers %.1f%%;"
		       " with the days independent %.1f%% and %.1f%%\n", series, days, totals,
		       100.0 * in80 / totals, 100.0 * in95 / totals,
		       100.0 * ind80 / totals, 100.0 * ind95 / totals);
		free(y);
		fo_fc_out_free(&out);
		return 0;
	}
	printf("%ld series x %ld days, horizon %ld: %.1f s, %.0f series/s, peak RSS %.1f MB"
	       " (checksum %.3g)\n", series, days, h, secs, (double)series / secs,
	       (double)ru.ru_maxrss / 1024, checksum);
	free(y);
	fo_fc_out_free(&out);
	return 0;
}
