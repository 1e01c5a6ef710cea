/*
 * m4_bench: the library's forecasting on an M4 competition set.
 *
 *   m4_bench DIR [ORIGINS] [--set Hourly|Weekly] [--score FILE.csv]... [--markdown]
 *
 * Reads DIR/SET-train.csv and DIR/SET-test.csv (Hourly: horizon 48, M4's
 * frequency 24; Weekly: horizon 13, frequency 1, the library's models given
 * the yearly cycle of 52 weeks), forecasts each series with Naive2, the
 * seasonal naive (both with M4's frequency) and fo_fc_auto (model chosen by
 * rolling-origin backtest over ORIGINS windows, default 3), and prints each
 * method's sMAPE, MASE and OWA (relative to Naive2, as the M4 competition
 * defines them), the coverage of its 80% and 95% intervals, its MSIS (the
 * 95% interval's mean scaled interval score, scaled like MASE) and how often
 * each model was chosen (alone or in a mean of two or three).
 *
 * --score FILE.csv (method,id,step,point,lo80,hi80,lo95,hi95, one row per
 * series and step; bench/m4_statsforecast.py writes it) adds the methods in
 * the file, scored by the same code on the same series.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "finops/csvread.h"
#include "finops/forecast.h"

#define MAXH 48
#define MAXMETHODS 16
#define MAXCHOSEN 32

struct series {
	char id[16];
	double *v;
	size_t n;
};

struct set {
	struct series *s;
	size_t n;
};

/* one method's forecasts: 5 x h values a series, in series order */
struct method {
	char name[32];
	double *fc;                  /* point, lo80, hi80, lo95, hi95 */
	unsigned char *have;         /* a series' rows seen */
	double cpu;                  /* seconds; < 0 when not timed here */
};

/* An allocation that worked, or the bench ends saying why (it has nothing to report without it). */
static void *
need(void *p)
{
	if (!p) {
		fprintf(stderr, "m4_bench: out of memory\n");
		exit(1);
	}
	return p;
}

static int
on_record(void *ctx, const struct fo_csv_record *rec, fo_err *err)
{
	struct set *set = ctx;
	struct series *s;

	(void)err;
	if (rec->index == 1)
		return 0;                /* the header */
	set->s = need(realloc(set->s, (set->n + 1) * sizeof(*set->s)));
	s = &set->s[set->n++];
	snprintf(s->id, sizeof(s->id), "%s", rec->field[0]);
	s->v = need(malloc(rec->nfields * sizeof(double)));
	s->n = 0;
	for (size_t i = 1; i < rec->nfields && rec->len[i]; i++)
		s->v[s->n++] = atof(rec->field[i]);
	return 0;
}

static void
free_set(struct set *set)
{
	for (size_t i = 0; i < set->n; i++)
		free(set->s[i].v);
	free(set->s);
}

static int
load(const char *path, struct set *set)
{
	fo_err err;

	memset(set, 0, sizeof(*set));
	if (fo_csv_read_file(path, on_record, set, NULL, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	return 0;
}

struct scoring {
	const struct set *train;
	struct method *methods;
	int nmethods;
	size_t h, last;              /* the series of the previous row */
	const char *path;
};

static struct method *
method_named(struct method *methods, int *nmethods, const char *name, size_t nseries,
	     size_t h)
{
	struct method *m;

	for (int k = 0; k < *nmethods; k++)
		if (strcmp(methods[k].name, name) == 0)
			return &methods[k];
	if (*nmethods == MAXMETHODS)
		return NULL;
	m = &methods[(*nmethods)++];
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->fc = need(calloc(nseries * h * 5, sizeof(double)));
	m->have = need(calloc(nseries, 1));
	m->cpu = -1;
	return m;
}

static int
on_score(void *ctx, const struct fo_csv_record *rec, fo_err *err)
{
	struct scoring *sc = ctx;
	struct method *m;
	size_t i, step;

	if (rec->index == 1)
		return 0;
	if (rec->nfields != 8) {
		fo_err_set(err, 1, "%s:%llu: %zu fields, expected 8", sc->path, rec->line,
			   rec->nfields);
		return -1;
	}
	i = sc->last;
	if (i >= sc->train->n || strcmp(sc->train->s[i].id, rec->field[1]) != 0)
		for (i = 0; i < sc->train->n && strcmp(sc->train->s[i].id, rec->field[1]) != 0; i++)
			;
	step = (size_t)strtoul(rec->field[2], NULL, 10);
	if (i == sc->train->n || step >= sc->h) {
		fo_err_set(err, 1, "%s:%llu: series %s step %s is not in the set", sc->path,
			   rec->line, rec->field[1], rec->field[2]);
		return -1;
	}
	sc->last = i;
	m = method_named(sc->methods, &sc->nmethods, rec->field[0], sc->train->n, sc->h);
	if (!m) {
		fo_err_set(err, 1, "%s: more than %d methods", sc->path, MAXMETHODS);
		return -1;
	}
	for (int k = 0; k < 5; k++)
		m->fc[(i * 5 + (size_t)k) * sc->h + step] = atof(rec->field[3 + k]);
	m->have[i] = 1;
	return 0;
}

int
main(int argc, char **argv)
{
	struct set train, test;
	struct method methods[MAXMETHODS];
	int nmethods = 3, origins = 3, markdown = 0, mq, mm;
	const char *dir = NULL, *setname = "Hourly", *scores[MAXMETHODS];
	int nscores = 0;
	char path[4096];
	size_t h;
	char chosen[MAXCHOSEN][48];
	int counts[MAXCHOSEN] = {0}, nchosen = 0, pairs = 0;
	double naive2_smape = 0, naive2_mase = 0;

	memset(methods, 0, sizeof(methods));
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--set") == 0 && i + 1 < argc)
			setname = argv[++i];
		else if (strcmp(argv[i], "--score") == 0 && i + 1 < argc && nscores < MAXMETHODS)
			scores[nscores++] = argv[++i];
		else if (strcmp(argv[i], "--markdown") == 0)
			markdown = 1;
		else if (!dir)
			dir = argv[i];
		else
			origins = atoi(argv[i]);
	}
	if (!dir || origins < 1) {
		fprintf(stderr, "usage: %s DIR [ORIGINS] [--set Hourly|Weekly] [--score FILE.csv]..."
			" [--markdown]\n", argv[0]);
		return 2;
	}
	if (strcmp(setname, "Hourly") == 0) {
		h = 48, mq = 24, mm = 24;
	} else if (strcmp(setname, "Weekly") == 0) {
		h = 13, mq = 1, mm = 52;
	} else {
		fprintf(stderr, "%s: --set is Hourly or Weekly\n", argv[0]);
		return 2;
	}
	snprintf(path, sizeof(path), "%s/%s-train.csv", dir, setname);
	if (load(path, &train) < 0)
		return 1;
	snprintf(path, sizeof(path), "%s/%s-test.csv", dir, setname);
	if (load(path, &test) < 0)
		return 1;
	if (train.n != test.n || !train.n) {
		fprintf(stderr, "train has %zu series, test %zu\n", train.n, test.n);
		return 1;
	}
	for (size_t i = 0; i < train.n; i++)
		if (test.s[i].n != h || strcmp(train.s[i].id, test.s[i].id) != 0) {
			fprintf(stderr, "%s: the test has %zu values\n", test.s[i].id, test.s[i].n);
			return 1;
		}

	/* our methods */
	{
		static const char *const names[3] = {"Naive2", "seasonal naive", "fo_fc_auto"};

		for (int k = 0; k < 3; k++) {
			snprintf(methods[k].name, sizeof(methods[k].name), "%s", names[k]);
			methods[k].fc = need(calloc(train.n * h * 5, sizeof(double)));
			methods[k].have = need(calloc(train.n, 1));
		}
	}
	for (int k = 0; k < 3; k++) {
		clock_t t0 = clock();

		for (size_t i = 0; i < train.n; i++) {
			const struct series *tr = &train.s[i];
			double *f = methods[k].fc + i * 5 * h;
			struct fo_fc_out out = {f, f + h, f + 2 * h, f + 3 * h, f + 4 * h, "", {0}, 0, NULL};
			int c;

			if (k == 0)
				fo_fc_naive2(tr->v, tr->n, mq, h, &out);
			else if (k == 1)
				fo_fc_seasonal_naive(tr->v, tr->n, mq, h, &out);
			else
				fo_fc_auto(tr->v, tr->n, mm, h, h, origins, &out, NULL, NULL);
			methods[k].have[i] = 1;
			if (k != 2)
				continue;
			/* each model of a combination "a+b" counts once */
			pairs += strchr(out.model, '+') != NULL;
			for (char *part = strtok(out.model, "+"); part; part = strtok(NULL, "+")) {
				for (c = 0; c < nchosen && strcmp(chosen[c], part) != 0; c++)
					;
				if (c == nchosen && nchosen < MAXCHOSEN)
					snprintf(chosen[nchosen++], sizeof(chosen[0]), "%s", part);
				if (c < MAXCHOSEN)
					counts[c]++;
			}
		}
		methods[k].cpu = (double)(clock() - t0) / CLOCKS_PER_SEC;
	}

	/* theirs */
	for (int f = 0; f < nscores; f++) {
		struct scoring sc = {&train, methods, nmethods, h, 0, scores[f]};
		fo_err err;

		if (fo_csv_read_file(scores[f], on_score, &sc, NULL, &err) < 0) {
			fprintf(stderr, "%s\n", err.msg);
			return 1;
		}
		nmethods = sc.nmethods;
	}

	printf("M4 %s: %zu series, horizon %zu, M4 frequency %d, model seasonality %d,"
	       " %d backtest origin(s)\n", setname, train.n, h, mq, mm, origins);
	printf(markdown ? "| method | sMAPE | MASE | OWA | 80%% coverage | 95%% coverage | MSIS | CPU s |\n"
			  "|---|---|---|---|---|---|---|---|\n"
			: "%-16s %8s %8s %8s %8s %8s %8s %8s\n",
	       "method", "sMAPE", "MASE", "OWA", "cov80%", "cov95%", "MSIS", "CPU s");
	for (int k = 0; k < nmethods; k++) {
		struct method *m = &methods[k];
		double smape = 0, mase = 0, msis = 0, in80 = 0, in95 = 0, s, q, owa;
		size_t missing = 0;

		for (size_t i = 0; i < train.n; i++) {
			const struct series *tr = &train.s[i];
			const double *y = test.s[i].v, *f = m->fc + i * 5 * h;

			if (!m->have[i]) {
				missing++;
				continue;
			}
			smape += fo_fc_smape(y, f, h);
			mase += fo_fc_mase(tr->v, tr->n, mq, y, f, h);
			msis += fo_fc_msis(tr->v, tr->n, mq, y, f + 3 * h, f + 4 * h, h, 0.05);
			for (size_t j = 0; j < h; j++) {
				in80 += y[j] >= f[h + j] && y[j] <= f[2 * h + j];
				in95 += y[j] >= f[3 * h + j] && y[j] <= f[4 * h + j];
			}
		}
		if (missing) {
			fprintf(stderr, "%s: no forecast for %zu of the %zu series\n", m->name, missing,
				train.n);
			return 1;
		}
		s = smape / train.n;
		q = mase / train.n;
		if (k == 0)
			naive2_smape = s, naive2_mase = q;
		owa = (s / naive2_smape + q / naive2_mase) / 2;
		if (markdown) {
			printf("| %s | %.3f | %.3f | %.3f | %.1f%% | %.1f%% | %.2f | ", m->name, s, q, owa,
			       100 * in80 / (double)(train.n * h), 100 * in95 / (double)(train.n * h),
			       msis / train.n);
			if (m->cpu >= 0)
				printf("%.1f |\n", m->cpu);
			else
				printf("|\n");
		} else {
			printf("%-16s %8.3f %8.3f %8.3f %7.1f%% %7.1f%% %8.2f", m->name, s, q, owa,
			       100 * in80 / (double)(train.n * h), 100 * in95 / (double)(train.n * h),
			       msis / train.n);
			if (m->cpu >= 0)
				printf(" %8.1f", m->cpu);
			printf("\n");
		}
	}
	printf("fo_fc_auto: the mean of two or three models for %d of the %zu series; each model chosen:",
	       pairs, train.n);
	for (int c = 0; c < nchosen; c++)
		printf(" %s %d", chosen[c], counts[c]);
	printf("\n");
	for (int k = 0; k < nmethods; k++) {
		free(methods[k].fc);
		free(methods[k].have);
	}
	free_set(&train);
	free_set(&test);
	return 0;
}
