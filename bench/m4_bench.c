/*
 * m4_bench: the library's forecasting on the M4 competition's Hourly set.
 *
 *   m4_bench DIR [ORIGINS]
 *
 * Reads DIR/Hourly-train.csv and DIR/Hourly-test.csv (414 series, horizon 48,
 * seasonality 24), forecasts each series with Naive2, the seasonal naive and
 * fo_fc_auto (model chosen by rolling-origin backtest over ORIGINS windows,
 * default 3), and prints each method's sMAPE, MASE and OWA (relative to
 * Naive2, as the M4 competition defines it), and how often each model was
 * chosen.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "finops/csvread.h"
#include "finops/forecast.h"

#define H 48
#define M 24

struct series {
	char id[16];
	double *v;
	size_t n;
};

struct set {
	struct series *s;
	size_t n;
};

static int
on_record(void *ctx, const struct fo_csv_record *rec, fo_err *err)
{
	struct set *set = ctx;
	struct series *s;

	(void)err;
	if (rec->index == 1)
		return 0;                /* the header */
	set->s = realloc(set->s, (set->n + 1) * sizeof(*set->s));
	s = &set->s[set->n++];
	snprintf(s->id, sizeof(s->id), "%s", rec->field[0]);
	s->v = malloc(rec->nfields * sizeof(double));
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

int
main(int argc, char **argv)
{
	struct set train, test;
	char path[4096];
	int origins = argc > 2 ? atoi(argv[2]) : 3;
	double point[H], lo80[H], hi80[H], lo95[H], hi95[H];
	struct fo_fc_out out = {point, lo80, hi80, lo95, hi95, "", {0}, 0};
	double smape[3] = {0}, mase[3] = {0};
	static const char *const names[3] = {"Naive2", "seasonal naive", "fo_fc_auto"};
	char chosen[16][32];
	int counts[16] = {0}, nchosen = 0;
	clock_t t0 = clock();

	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR [ORIGINS]\n", argv[0]);
		return 2;
	}
	snprintf(path, sizeof(path), "%s/Hourly-train.csv", argv[1]);
	if (load(path, &train) < 0)
		return 1;
	snprintf(path, sizeof(path), "%s/Hourly-test.csv", argv[1]);
	if (load(path, &test) < 0)
		return 1;
	if (train.n != test.n) {
		fprintf(stderr, "train has %zu series, test %zu\n", train.n, test.n);
		return 1;
	}
	for (size_t i = 0; i < train.n; i++) {
		const struct series *tr = &train.s[i], *te = &test.s[i];
		int k;

		if (te->n != H || strcmp(tr->id, te->id) != 0) {
			fprintf(stderr, "%s: the test has %zu values\n", te->id, te->n);
			return 1;
		}
		for (int method = 0; method < 3; method++) {
			if (method == 0)
				fo_fc_naive2(tr->v, tr->n, M, H, &out);
			else if (method == 1)
				fo_fc_seasonal_naive(tr->v, tr->n, M, H, &out);
			else
				fo_fc_auto(tr->v, tr->n, M, H, H, origins, &out, NULL, NULL);
			smape[method] += fo_fc_smape(te->v, point, H);
			mase[method] += fo_fc_mase(tr->v, tr->n, M, te->v, point, H);
		}
		for (k = 0; k < nchosen && strcmp(chosen[k], out.model) != 0; k++)
			;
		if (k == nchosen && nchosen < 16)
			snprintf(chosen[nchosen++], sizeof(chosen[0]), "%s", out.model);
		if (k < 16)
			counts[k]++;
	}
	printf("M4 Hourly: %zu series, horizon %d, seasonality %d, %d backtest origin(s),"
	       " %.1f s CPU\n", train.n, H, M, origins, (double)(clock() - t0) / CLOCKS_PER_SEC);
	printf("%-16s %8s %8s %8s\n", "method", "sMAPE", "MASE", "OWA");
	for (int method = 0; method < 3; method++) {
		double s = smape[method] / train.n, m = mase[method] / train.n;
		double owa = (s / (smape[0] / train.n) + m / (mase[0] / train.n)) / 2;

		printf("%-16s %8.3f %8.3f %8.3f\n", names[method], s, m, owa);
	}
	printf("models chosen:");
	for (int k = 0; k < nchosen; k++)
		printf(" %s %d", chosen[k], counts[k]);
	printf("\n");
	free_set(&train);
	free_set(&test);
	return 0;
}
