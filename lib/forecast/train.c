/*
 * forecast_train.c: daily cost series from the billing table, a model per
 * series chosen by backtest, forecasts with intervals to the end of next
 * month, written in one transaction (see forecast_train.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finops/buf.h"
#include "finops/copy.h"
#include "finops/datetime.h"
#include "finops/forecast.h"
#include "finops/forecast_train.h"
#include "finops/log.h"
#include "finops/pg.h"
#include "core/core.h"

void
fo_forecast_defaults(struct fo_forecast_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->cutoff_days = 2;
	o->dimensions = "total,billing_account,sub_account_service";
	o->origins = 3;
	o->backtest_days = 14;
	o->drift_threshold = 12;
}

struct out {
	fo_buf models, values, months;
	long long series, fallback;
	long min_cutoff, max_cutoff;  /* the series' last closed days */
	long horizon_end;             /* the last day any series is forecast */
};

/* The first day of the month of day d, and of the month after. */
static long
month_start(long d, int add)
{
	char buf[16];
	int y, m;

	fo_day_text(d, buf);
	y = atoi(buf);
	m = atoi(buf + 5) + add;
	while (m > 12) {
		m -= 12;
		y++;
	}
	snprintf(buf, sizeof(buf), "%04d-%02d-01", y, m);
	return fo_day_parse(buf);
}

static void
field(fo_buf *b, const char *s, int last)
{
	fo_copy_escape(b, s, strlen(s));
	fo_buf_putc(b, last ? '\n' : '\t');
}

static void
null_field(fo_buf *b, int last)
{
	fo_buf_puts(b, "\\N");
	fo_buf_putc(b, last ? '\n' : '\t');
}

static void
num(fo_buf *b, double v, int last)
{
	char s[48];

	snprintf(s, sizeof(s), "%.6f", isfinite(v) ? v : 0.0);
	field(b, s, last);
}

static double
finite_or(double v, double d)
{
	return isfinite(v) ? v : d;
}

/* Trains one series (y over days first..cutoff) and appends its rows. */
static int
train(struct out *o, const char *run, const char *key, const char *dim, const char *currency,
      const double *y, size_t n, long first, long cutoff, long horizon_end, int origins,
      int backtest_days)
{
	size_t h = (size_t)(horizon_end - cutoff);
	double mase, smape, scale = 0;
	int nonneg_series = 0;
	struct fo_fc_out f;
	char day[16], hist[16];
	size_t k = 0;

	if (fo_fc_out_alloc(&f, h) < 0)
		return -1;
	fo_fc_auto(y, n, 7, h, (size_t)backtest_days, origins, &f, &mase, &smape);
	/* a cost that was never negative is not forecast below zero */
	{
		int nonneg = 1;

		for (size_t t = 0; t < n && nonneg; t++)
			nonneg = y[t] >= 0;
		for (size_t i = 0; nonneg && i < h; i++) {
			f.point[i] = fmax(f.point[i], 0);
			f.lo80[i] = fmax(f.lo80[i], 0);
			f.lo95[i] = fmax(f.lo95[i], 0);
			f.hi80[i] = fmax(f.hi80[i], 0);
			f.hi95[i] = fmax(f.hi95[i], 0);
		}
		nonneg_series = nonneg;
	}
	for (size_t t = 7; t < n; t++, k++)
		scale += fabs(y[t] - y[t - 7]);
	o->series++;
	o->fallback += !isfinite(mase);
	/* the model row */
	field(&o->models, run, 0);
	field(&o->models, key, 0);
	field(&o->models, dim, 0);
	field(&o->models, currency, 0);
	field(&o->models, f.model, 0);
	{
		char params[256];

		snprintf(params, sizeof(params), "{\"alpha\":%.6g,\"beta\":%.6g,\"gamma\":%.6g,"
			 "\"phi\":%.6g,\"sigma\":%.6g}", finite_or(f.params[0], 0),
			 finite_or(f.params[1], 0), finite_or(f.params[2], 0),
			 finite_or(f.params[3], 0), finite_or(f.params[4], 0));
		field(&o->models, f.nparams ? params : "{}", 0);
	}
	if (isfinite(mase)) {
		num(&o->models, mase, 0);
		num(&o->models, smape, 0);
	} else {
		null_field(&o->models, 0);
		null_field(&o->models, 0);
	}
	if (k && scale > 0)
		num(&o->models, scale / (double)k, 0);
	else
		null_field(&o->models, 0);
	snprintf(hist, sizeof(hist), "%zu", n);
	field(&o->models, hist, 0);
	fo_day_text(cutoff, day);
	field(&o->models, day, 1);
	/* the daily forecasts */
	for (size_t i = 0; i < h; i++) {
		fo_day_text(cutoff + 1 + (long)i, day);
		field(&o->values, run, 0);
		field(&o->values, key, 0);
		field(&o->values, currency, 0);
		field(&o->values, day, 0);
		num(&o->values, f.point[i], 0);
		num(&o->values, f.lo80[i], 0);
		num(&o->values, f.hi80[i], 0);
		num(&o->values, f.lo95[i], 0);
		num(&o->values, f.hi95[i], 0);
		field(&o->values, f.model, 1);
	}
	/* this month and the next: actual to date plus the forecast of the rest */
	for (int mo = 0; mo < 2; mo++) {
		long from = month_start(cutoff + 1, mo), to = month_start(cutoff + 1, mo + 1);
		double actual = 0, rest = 0, var;
		long a = from > cutoff + 1 ? from : cutoff + 1;
		long b = to - 1 < horizon_end ? to - 1 : horizon_end;

		for (long d = from; d < to && d <= cutoff; d++)
			if (d >= first)
				actual += y[d - first];
		for (long d = a; d <= b; d++)
			rest += f.point[d - cutoff - 1];
		/* the days' errors are correlated (the model's psi weights): summed as such */
		var = b >= a ? pow(fo_fc_sum_sd(&f, (size_t)(a - cutoff - 1), (size_t)(b - cutoff)), 2) : 0;
		fo_day_text(from, day);
		field(&o->months, run, 0);
		field(&o->months, key, 0);
		field(&o->months, currency, 0);
		field(&o->months, day, 0);
		num(&o->months, actual, 0);
		num(&o->months, rest, 0);
		num(&o->months, actual + rest, 0);
		num(&o->months, nonneg_series ? fmax(actual, actual + rest - FO_FC_Z80 * sqrt(var))
		    : actual + rest - FO_FC_Z80 * sqrt(var), 0);
		num(&o->months, actual + rest + FO_FC_Z80 * sqrt(var), 0);
		num(&o->months, nonneg_series ? fmax(actual, actual + rest - FO_FC_Z95 * sqrt(var))
		    : actual + rest - FO_FC_Z95 * sqrt(var), 0);
		num(&o->months, actual + rest + FO_FC_Z95 * sqrt(var), 1);
	}
	fo_fc_out_free(&f);
	return o->models.oom || o->values.oom || o->months.oom ? -1 : 0;
}

static const char *const model_columns[] = {
	"run_id", "series_key", "dimension", "currency", "model", "parameters", "backtest_mase",
	"backtest_smape", "mase_scale", "history_days", "cutoff_day"};
static const char *const value_columns[] = {
	"run_id", "series_key", "currency", "day", "point", "lo80", "hi80", "lo95", "hi95",
	"model"};
static const char *const month_columns[] = {
	"run_id", "series_key", "currency", "month", "actual_to_date", "forecast_rest", "point",
	"lo80", "hi80", "lo95", "hi95"};
#define NCOLS(a) (sizeof(a) / sizeof((a)[0]))

static int
has_dim(const char *list, const char *dim)
{
	size_t n = strlen(dim);

	for (const char *p = list; (p = strstr(p, dim)) != NULL; p += n)
		if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return 1;
	return 0;
}

int
fo_forecast_check(const struct fo_forecast_opts *opts, fo_err *err)
{
	const char *p = opts->dimensions;

	if (!*p)
		return fo_err_set(err, FO_EXIT_USAGE, "--dimensions: empty; total, billing_account"
				  " or sub_account_service, comma-separated");
	for (;;) {
		size_t n = strcspn(p, ",");

		if (!((n == 5 && strncmp(p, "total", 5) == 0) ||
		      (n == 15 && strncmp(p, "billing_account", 15) == 0) ||
		      (n == 19 && strncmp(p, "sub_account_service", 19) == 0)))
			return fo_err_set(err, FO_EXIT_USAGE, "--dimensions %s: '%.*s' is not total,"
					  " billing_account or sub_account_service (comma-separated)",
					  opts->dimensions, (int)n, p);
		if (p[n] == '\0')
			return 0;
		p += n + 1;
	}
}

int
fo_forecast_train(struct fo_run *ctx, const struct fo_forecast_opts *opts, fo_err *err)
{
	char cutoff_s[16], first_cutoff_s[16], end_s[16], run[24], thr[24], cut[16];
	char scope[48], shard[12], nshards[12];
	const char *params[7];
	long long other_shards = 0;
	struct out o;
	PGresult *res;
	int rc, rows;
	fo_buf q = FO_BUF_INIT;

	memset(&o, 0, sizeof(o));
	if (fo_forecast_check(opts, err) < 0)
		return -1;
	if (opts->nshards)
		snprintf(scope, sizeof(scope), "forecast shard %d/%d", opts->shard, opts->nshards);
	if (fo_run_lock(ctx, opts->nshards ? scope : "forecast", err) < 0)
		return -1;
	snprintf(run, sizeof(run), "%lld", ctx->run_id);
	snprintf(thr, sizeof(thr), "%g", opts->drift_threshold);
	snprintf(cut, sizeof(cut), "%d", opts->cutoff_days);

	/*
	 * Every series of the chosen dimensions, day by day up to its own last
	 * closed day: the last day of data of the billing sources that feed it
	 * (finops.forecast_series_last_day) less the cut-off. Never the newest
	 * day of another source: the days one source has not delivered yet are
	 * not days of zero cost.
	 */
	fo_buf_puts(&q, "WITH a AS (SELECT * FROM finops.forecast_actuals), s AS (");
	{
		int first = 1;

		if (has_dim(opts->dimensions, "total")) {
			fo_buf_puts(&q, "SELECT 'total' AS k, 'total' AS dim, currency, day, sum(cost) c"
				    " FROM a GROUP BY 1, 2, 3, 4");
			first = 0;
		}
		if (has_dim(opts->dimensions, "billing_account")) {
			fo_buf_printf(&q, "%sSELECT 'billing_account=' || billing_account_id AS k,"
				      " 'billing_account' AS dim, currency, day, sum(cost) AS c FROM a"
				      " GROUP BY 1, 2, 3, 4", first ? "" : " UNION ALL ");
			first = 0;
		}
		if (has_dim(opts->dimensions, "sub_account_service"))
			fo_buf_printf(&q, "%sSELECT 'sub_account_service=' || coalesce(sub_account_id,"
				      " '') || '/' || coalesce(service_name, '') AS k,"
				      " 'sub_account_service' AS dim, currency, day, sum(cost) AS c FROM a"
				      " GROUP BY 1, 2, 3, 4", first ? "" : " UNION ALL ");
	}
	fo_buf_puts(&q,
		") SELECT s.k, s.dim, s.currency, s.day::text, s.c::float8,"
		"         (l.last_day - $1::int)::text"
		"    FROM s JOIN finops.forecast_series_last_day l"
		"      ON l.series_key = s.k AND l.currency = s.currency"
		"   WHERE s.day <= l.last_day - $1::int");
	/*
	 * Drifted, and not yet trained to the day it would be trained to now: the
	 * drift view keeps the old errors until new days close, and a model
	 * trained again on the same days would be the same one.
	 */
	if (opts->retrain_drifted)
		fo_buf_puts(&q, " AND (s.k, s.currency) IN (SELECT series_key, currency"
			    " FROM finops.forecast_drift WHERE ape_percent > $2::float8)"
			    " AND NOT EXISTS (SELECT 1 FROM finops.forecast_models m"
			    "  WHERE m.series_key = s.k AND m.currency = s.currency"
			    "    AND m.cutoff_day >= l.last_day - $1::int)");
	fo_buf_puts(&q, " ORDER BY 1, 3, 4");
	params[0] = cut;
	params[1] = thr;
	rc = q.oom ? fo_err_set(err, FO_EXIT_FAILURE, "out of memory")
	     : fo_pg_query(ctx->conn, q.data, opts->retrain_drifted ? 2 : 1, params, &res, err);
	fo_buf_free(&q);
	if (rc < 0)
		return -1;
	rows = PQntuples(res);
	for (int i = 0; i < rows && rc == 0;) {
		const char *key = PQgetvalue(res, i, 0), *cur = PQgetvalue(res, i, 2);
		long first = fo_day_parse(PQgetvalue(res, i, 3));
		long cutoff = fo_day_parse(PQgetvalue(res, i, 5));
		long horizon_end = month_start(cutoff + 1, 2) - 1;
		size_t n = (size_t)(cutoff - first + 1);
		double *y;
		int j = i;

		if (opts->nshards && fo_shard_of(key, (size_t)PQgetlength(res, i, 0),
						 (unsigned)opts->nshards) != (unsigned)opts->shard) {
			for (; j < rows && strcmp(PQgetvalue(res, j, 0), key) == 0 &&
			       strcmp(PQgetvalue(res, j, 2), cur) == 0; j++)
				;
			other_shards++;
			i = j;
			continue;
		}
		y = calloc(n ? n : 1, sizeof(double));
		if (!y) {
			rc = fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
			break;
		}
		/* days without a line are days of zero cost */
		for (; j < rows && strcmp(PQgetvalue(res, j, 0), key) == 0 &&
		       strcmp(PQgetvalue(res, j, 2), cur) == 0; j++) {
			long d = fo_day_parse(PQgetvalue(res, j, 3));

			if (d >= first && d <= cutoff)
				y[d - first] += atof(PQgetvalue(res, j, 4));
		}
		if (train(&o, run, key, PQgetvalue(res, i, 1), cur, y, n, first, cutoff, horizon_end,
			  opts->origins, opts->backtest_days) < 0)
			rc = fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		if (o.series == 1 || cutoff < o.min_cutoff)
			o.min_cutoff = cutoff;
		if (o.series == 1 || cutoff > o.max_cutoff)
			o.max_cutoff = cutoff;
		if (o.series == 1 || horizon_end > o.horizon_end)
			o.horizon_end = horizon_end;
		free(y);
		ctx->rows_read += j - i;
		i = j;
	}
	PQclear(res);
	if (rc == 0 && o.series == 0) {
		fo_buf_printf(&ctx->summary, "no series to %s", opts->retrain_drifted ?
			      "retrain: none has drifted since its last training" :
			      "train: no closed day of billing data");
		if (opts->nshards)
			fo_buf_printf(&ctx->summary, " in shard %d/%d (%lld series of other shards"
				      " left out)", opts->shard, opts->nshards, other_shards);
		ctx->nothing_new = 1;
		goto done;
	}
	fo_day_text(o.max_cutoff, cutoff_s);
	fo_day_text(o.min_cutoff, first_cutoff_s);
	fo_day_text(o.horizon_end, end_s);
	if (rc == 0)
		rc = fo_pg_begin_writer(ctx->conn, err);
	if (rc == 0) {
		char dims[300];

		snprintf(dims, sizeof(dims), "{%s}", opts->dimensions);
		params[0] = run;
		params[1] = cutoff_s;
		params[2] = end_s;
		params[3] = dims;
		params[4] = cut;
		snprintf(shard, sizeof(shard), "%d", opts->nshards ? opts->shard : 0);
		snprintf(nshards, sizeof(nshards), "%d", opts->nshards ? opts->nshards : 1);
		params[5] = shard;
		params[6] = nshards;
		rc = fo_pg_query(ctx->conn, opts->retrain_drifted
				 ? "INSERT INTO finops.forecast_runs (run_id, cutoff_day, horizon_end,"
				   " dimensions, cutoff_days, shard_index, shard_count,"
				   " retrained_only_drifted)"
				   " VALUES ($1, $2, $3, $4, $5, $6, $7, true)"
				 : "INSERT INTO finops.forecast_runs (run_id, cutoff_day, horizon_end,"
				   " dimensions, cutoff_days, shard_index, shard_count)"
				   " VALUES ($1, $2, $3, $4, $5, $6, $7)", 7, params, NULL, err);
	}
	if (rc == 0)
		rc = fo_copy_text_rows(ctx->conn, "finops.forecast_models", model_columns,
				       NCOLS(model_columns), &o.models, err);
	if (rc == 0)
		rc = fo_copy_text_rows(ctx->conn, "finops.forecast_values", value_columns,
				       NCOLS(value_columns), &o.values, err);
	if (rc == 0)
		rc = fo_copy_text_rows(ctx->conn, "finops.forecast_months", month_columns,
				       NCOLS(month_columns), &o.months, err);
	if (rc == 0) {
		params[0] = run;
		rc = fo_pg_query(ctx->conn, "UPDATE finops.forecast_runs SET series = (SELECT count(*)"
				 " FROM finops.forecast_models m WHERE m.run_id = $1::bigint)"
				 " WHERE run_id = $1::bigint", 1, params, NULL, err);
	}
	if (rc < 0 || ctx->dry_run)
		fo_pg_rollback(ctx->conn);
	else
		rc = fo_pg_commit(ctx->conn, err);
	if (rc == 0) {
		ctx->rows_written += ctx->dry_run ? 0 : o.series;
		if (o.min_cutoff == o.max_cutoff)
			fo_buf_printf(&ctx->summary, "%lld series %s to %s (trained on days up to %s),"
				      " %lld too short to backtest", o.series, ctx->dry_run ?
				      "would be forecast" : "forecast", end_s, cutoff_s, o.fallback);
		else
			fo_buf_printf(&ctx->summary, "%lld series %s to %s (trained on days up to %s"
				      " to %s, each to the last closed day of its own sources), %lld"
				      " too short to backtest", o.series, ctx->dry_run ?
				      "would be forecast" : "forecast", end_s, first_cutoff_s, cutoff_s,
				      o.fallback);
		if (opts->nshards)
			fo_buf_printf(&ctx->summary, "; shard %d/%d (%lld series of other shards left"
				      " out)", opts->shard, opts->nshards, other_shards);
	}
done:
	fo_buf_free(&o.models);
	fo_buf_free(&o.values);
	fo_buf_free(&o.months);
	return rc;
}
