/*
 * forecast_bench: training and forecasting speed of the library's models.
 *
 *   forecast_bench [SERIES] [DAYS] [HORIZON]
 *
 * Generates SERIES synthetic daily cost series of DAYS days (default 10000 x
 * 730: a level, a trend, a weekly pattern, noise, and now and then a step),
 * and runs fo_fc_auto (model chosen by a 3-origin backtest of 14 days each)
 * with HORIZON days (default 60) on each. Prints series per second and peak RSS.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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
	double *y = malloc((size_t)days * sizeof(double)), *buf = malloc(5 * (size_t)h * sizeof(double));
	struct fo_fc_out out = {buf, buf + h, buf + 2 * h, buf + 3 * h, buf + 4 * h, "", {0}, 0};
	struct timespec t0, t1;
	struct rusage ru;
	double checksum = 0, secs;

	if (!y || !buf)
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
		fo_fc_auto(y, (size_t)days, 7, (size_t)h, 14, 3, &out, NULL, NULL);
		checksum += out.point[h - 1];
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	getrusage(RUSAGE_SELF, &ru);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%ld series x %ld days, horizon %ld: %.1f s, %.0f series/s, peak RSS %.1f MB"
	       " (checksum %.3g)\n", series, days, h, secs, (double)series / secs,
	       (double)ru.ru_maxrss / 1024, checksum);
	free(y);
	free(buf);
	return 0;
}
