/*
 * anomaly_bench: the anomaly detector against two published baselines on
 * seeded synthetic daily cost series of FinOps shapes, in one run.
 *
 *   anomaly_bench [--series N] [--days D] [--seed S] [--speed M]
 *
 * Each series: a level ($20 to $20,000 a day, log-uniform), a weekly
 * pattern, growth, multiplicative noise, and by chance a permanent level
 * shift, a month-start fee or intermittent days (none of these is an
 * incident). Incidents are labelled: one-day spikes of several sizes,
 * multi-day leaks, slow ramps; each at least twice the alert thresholds.
 * Every detector sees each day from day 120 on with the history before it.
 *
 * Scoring is by event: an incident is found when a flagged day falls in it
 * (or within 2 days after); a flagged episode that touches no incident is a
 * false positive. Precision = episodes on incidents / episodes; recall =
 * incidents found / incidents; delay = days from an incident's start to its
 * first flag.
 *
 * --speed M also times one newly closed day for M series of D days
 * (evaluation only, as anomaly_detect does for each series each day).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "finops/anomaly.h"
#include "finops/datetime.h"
#include "xorshift.h"

#define FROM 120
#define DAY0 19723                /* 2024-01-01 */

static uint64_t rng;
/* what make_series knows and no detector does: each day's expected cost and noise */
static double *truth, truth_spread;

static double
uniform(void)
{
	return xs_uniform(&rng);
}

static double
gauss(void)
{
	return xs_gauss(&rng);
}

struct incident {
	size_t first, last;
};

/* One series and its incidents (at most 3). */
static size_t
make_series(double *y, size_t n, struct incident *inc)
{
	double level = exp(log(20) + uniform() * (log(20000) - log(20)));
	double weekend = 0.6 + 0.4 * uniform(), growth = -0.0005 + 0.0025 * uniform();
	double spread = 0.02 + 0.08 * uniform();
	int shift = uniform() < 0.3, fee = uniform() < 0.3, intermittent = uniform() < 0.1;

	/* each shape can be left out, to see what it costs each detector */
	shift &= !getenv("BENCH_NO_SHIFT");
	fee &= !getenv("BENCH_NO_FEE");
	intermittent &= !getenv("BENCH_NO_INTERMITTENT");
	size_t shift_day = FROM + (size_t)(uniform() * (double)(n - FROM - 30));
	double shift_by = 0.6 + 1.2 * uniform(), fee_by = 3 + 5 * uniform();
	size_t ninc = (size_t)(uniform() * 4), k = 0;
	/* what an incident must add to clear the thresholds twice over */
	double floor_add = fmax(200, 0.4 * level);

	for (size_t i = 0; i < n; i++) {
		long day = DAY0 + (long)i;
		int wd = (int)((day + 4) % 7);               /* 0 Sunday */
		double v = level * pow(1 + growth, (double)i) * (wd == 0 || wd == 6 ? weekend : 1);

		if (shift && i >= shift_day)
			v *= shift_by;
		double mean = v;

		v *= 1 + spread * gauss();
		if (intermittent && uniform() < 0.3)
			v = mean = 0;
		/* a fee on the 1st of each month */
		if (fee) {
			int yy, mm, dd;

			fo_civil_from_days(day, &yy, &mm, &dd);
			if (dd == 1) {
				v += fee_by * level;
				mean += fee_by * level;
			}
		}
		y[i] = v > 0 ? v : 0;
		truth[i] = mean;
	}
	for (size_t j = 0; j < ninc; j++) {
		int type = (int)(uniform() * 3);
		size_t len = type == 0 ? 1 : type == 1 ? 3 + (size_t)(uniform() * 8) : 7 +
			     (size_t)(uniform() * 8);
		size_t first = FROM + 20 + (size_t)(uniform() * (double)(n - FROM - 40 - len));
		double size = floor_add * (1 + 3 * uniform()) * (type == 0 ? 2 : 1);
		int clash = 0;

		/* apart from the other incidents and the level shift */
		for (size_t q = 0; q < k; q++)
			clash |= first <= inc[q].last + 20 && inc[q].first <= first + len + 20;
		clash |= shift && first <= shift_day + 20 && shift_day <= first + len + 20;
		if (clash)
			continue;
		for (size_t d = 0; d < len; d++)
			y[first + d] += type == 2 ? size * (double)(d + 1) / (double)len : size;
		inc[k].first = first;
		inc[k].last = first + len - 1;
		k++;
	}
	truth_spread = spread;
	return k;
}

/*
 * The ceiling: a detector that knows each day's true expected cost and the
 * series' true noise, with the same level and thresholds as ours. What it
 * flags on days without an incident is the noise's own tail.
 */
static void
oracle(const double *y, size_t n, const struct fo_anom_params *p, unsigned char *flags)
{
	double z = fo_anom_probit(1 - (1 - p->level) / 2);

	memset(flags, 0, n);
	for (size_t t = FROM; t < n; t++) {
		double e = truth[t], imp = y[t] - e;

		flags[t] = y[t] > e + z * truth_spread * e && imp >= p->min_impact &&
			   (e > 0 ? 100 * imp / e >= p->min_pct : imp > 0);
	}
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Robust z-score: median and MAD of the 14 days before; z >= 3.5 and >= $100 over the median. */
static void
robust_z(const double *y, size_t n, unsigned char *flags)
{
	memset(flags, 0, n);
	for (size_t t = FROM; t < n; t++) {
		double w[14], d[14], med, mad;

		memcpy(w, y + t - 14, sizeof(w));
		qsort(w, 14, sizeof(double), cmp_double);
		med = (w[6] + w[7]) / 2;
		for (int i = 0; i < 14; i++)
			d[i] = fabs(y[t - 14 + (size_t)i] - med);
		qsort(d, 14, sizeof(double), cmp_double);
		mad = 1.4826 * (d[6] + d[7]) / 2;
		flags[t] = y[t] - med >= 100 && (mad > 0 ? (y[t] - med) / mad >= 3.5 : 1);
	}
}

/* SundaySky's rule: cost >= mean + 4 sigma, > 1.25 mean and >= $10 over the 14 days before. */
static void
sigma_rule(const double *y, size_t n, unsigned char *flags)
{
	memset(flags, 0, n);
	for (size_t t = FROM; t < n; t++) {
		double s = 0, ss = 0, mean, sd;

		for (size_t i = t - 15; i < t - 1; i++) {     /* the day before is left out */
			s += y[i];
			ss += y[i] * y[i];
		}
		mean = s / 14;
		sd = sqrt(fmax(0, ss / 14 - mean * mean));
		flags[t] = y[t] >= mean + 4 * sd && y[t] > 1.25 * mean && y[t] >= 10;
	}
}

struct score {
	long incidents, found, episodes, true_episodes;
	double delay;
};

static void
score(const unsigned char *flags, size_t n, const struct incident *inc, size_t ninc,
      struct score *s)
{
	for (size_t j = 0; j < ninc; j++) {
		s->incidents++;
		for (size_t t = inc[j].first; t <= inc[j].last + 2 && t < n; t++)
			if (flags[t]) {
				s->found++;
				s->delay += (double)(t - inc[j].first);
				break;
			}
	}
	for (size_t t = FROM; t < n; t++) {
		size_t end = t;
		int hit = 0;

		if (!flags[t] || (t > FROM && flags[t - 1]))
			continue;
		while (end + 1 < n && flags[end + 1])
			end++;
		for (size_t j = 0; j < ninc; j++)
			hit |= t <= inc[j].last + 2 && inc[j].first <= end;
		s->episodes++;
		s->true_episodes += hit;

	}
}

static void
report(const char *name, const struct score *s)
{
	double p = s->episodes ? (double)s->true_episodes / (double)s->episodes : 0;
	double r = s->incidents ? (double)s->found / (double)s->incidents : 0;

	printf("%-22s %9.3f %7.3f %7.3f %8.2f %9ld %9ld\n", name, p, r,
	       p + r > 0 ? 2 * p * r / (p + r) : 0, s->found ? s->delay / (double)s->found : 0,
	       s->incidents, s->episodes);
}

static double
now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	size_t series = 200, days = 730, speed = 0;
	unsigned long long seed = 42;
	struct score ours = {0}, rz = {0}, sr = {0}, or = {0}, ours3 = {0}, or3 = {0};
	struct fo_anom_params p, p3;
	double *y;
	unsigned char *flags;
	struct incident inc[4];
	double t0;
	struct rusage ru;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--series") == 0)
			series = strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--days") == 0)
			days = strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--seed") == 0)
			seed = strtoull(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--speed") == 0)
			speed = strtoul(argv[i + 1], NULL, 10);
	}
	if (days < FROM + 60) {
		fprintf(stderr, "anomaly_bench: --days must be at least %d\n", FROM + 60);
		return 2;
	}
	fo_anom_defaults(&p);
	p3 = p;
	p3.level = 0.999;
	y = malloc(days * sizeof(double));
	flags = malloc(days);
	truth = malloc(days * sizeof(double));
	if (!y || !flags || !truth)
		return 1;
	rng = seed * 2654435761ull + 1;
	t0 = now_s();
	for (size_t s = 0; s < series; s++) {
		size_t ninc = make_series(y, days, inc);
		struct fo_anom_episode *eps;
		size_t neps;

		if (fo_anom_scan(y, days, DAY0, FROM, &p, flags, &eps, &neps) < 0)
			return 1;
		free(eps);
		score(flags, days, inc, ninc, &ours);
		robust_z(y, days, flags);
		score(flags, days, inc, ninc, &rz);
		sigma_rule(y, days, flags);
		score(flags, days, inc, ninc, &sr);
		oracle(y, days, &p, flags);
		score(flags, days, inc, ninc, &or);
		if (!getenv("BENCH_ONE_LEVEL")) {
			if (fo_anom_scan(y, days, DAY0, FROM, &p3, flags, &eps, &neps) < 0)
				return 1;
			free(eps);
			score(flags, days, inc, ninc, &ours3);
			oracle(y, days, &p3, flags);
			score(flags, days, inc, ninc, &or3);
		}
	}
	printf("anomaly detection on %zu synthetic series of %zu days (seed %llu), days %d on,"
	       " %.1f s\n", series, days, seed, FROM, now_s() - t0);
	printf("%-22s %9s %7s %7s %8s %9s %9s\n", "detector", "precision", "recall", "F1",
	       "delay d", "incidents", "episodes");
	report("anomaly_detect", &ours);
	report("robust z (14 d)", &rz);
	report("mean+4 sigma (14 d)", &sr);
	report("oracle (true mean, sd)", &or);
	if (!getenv("BENCH_ONE_LEVEL")) {
		printf("at level 99.9%% (thresholds unchanged):\n");
		report("anomaly_detect", &ours3);
		report("oracle (true mean, sd)", &or3);
	}
	if (speed) {
		struct fo_anom_eval ev;
		double t1;
		long alerts = 0;

		t1 = now_s();
		for (size_t s = 0; s < speed; s++) {
			make_series(y, days, inc);
			if (fo_anom_evaluate(y, NULL, days - 1, DAY0, &p, &ev) < 0)
				return 1;
			alerts += ev.anomalous;
		}
		getrusage(RUSAGE_SELF, &ru);
		printf("one newly closed day of %zu series of %zu days: %.1f s (%ld anomalous),"
		       " peak RSS %.1f MB\n", speed, days, now_s() - t1, alerts,
		       (double)ru.ru_maxrss / 1024);
	}
	free(y);
	free(flags);
	free(truth);
	return 0;
}
