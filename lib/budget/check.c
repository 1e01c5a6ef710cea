/*
 * check.c: budget_check's run: the file synced, each budget's period judged
 * (actual to date over closed days, forecast to the period's end), each
 * crossing recorded once and told to its channels once (budget.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finops/budget.h"
#include "finops/buf.h"
#include "finops/datetime.h"
#include "finops/forecast.h"
#include "finops/log.h"
#include "finops/notify.h"
#include "finops/pg.h"

#define HISTORY_DAYS 112      /* days of history the forecast of the rest is fitted on */
#define MAX_PARAMS 64

void
fo_bd_defaults(struct fo_bd_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->cutoff_days = 2;
}

int
fo_bd_check(struct fo_bd_opts *o, fo_err *err)
{
	if (!o->budgets_path)
		return fo_err_set(err, FO_EXIT_USAGE, "--budgets FILE is required: the budgets file"
				  " (docs/budgets.md)");
	return fo_bd_load(&o->file, o->budgets_path, err);
}

void
fo_bd_opts_free(struct fo_bd_opts *o)
{
	fo_bd_free(&o->file);
}

/* A query's text and parameters, the scope's filters among them. */
struct q {
	fo_buf sql;
	const char *p[MAX_PARAMS];
	fo_buf owned[MAX_PARAMS];
	int n;
};

static int
param(struct q *q, const char *v)
{
	q->p[q->n] = v;
	return ++q->n;
}

static int
param_array(struct q *q, const char *const *v, size_t n)
{
	fo_buf_reset(&q->owned[q->n]);
	fo_pg_text_array(&q->owned[q->n], v, n);
	q->p[q->n] = q->owned[q->n].data;
	return ++q->n;
}

static void
q_free(struct q *q)
{
	fo_buf_free(&q->sql);
	for (int i = 0; i < MAX_PARAMS; i++)
		fo_buf_free(&q->owned[i]);
}

/* " AND ..." for each field of the budget's scope (AND across fields, OR within one). */
static void
scope_sql(struct q *q, const struct fo_bd_budget *b)
{
	for (size_t i = 0; i < b->nfilters; i++) {
		const struct fo_bd_filter *f = &b->filters[i];
		const char *col = strcmp(f->field, "billing_account") == 0 ? "billing_account_id"
				  : strcmp(f->field, "sub_account") == 0 ? "sub_account_id"
				  : strcmp(f->field, "service") == 0 ? "service_name"
				  : strcmp(f->field, "region") == 0 ? "region_id" : NULL;

		if (col) {
			int k = param_array(q, f->values, f->nvalues);

			fo_buf_printf(&q->sql, " AND %s = ANY ($%d::text[])", col, k);
		} else {
			int k = param(q, f->key), v = param_array(q, f->values, f->nvalues);

			fo_buf_printf(&q->sql, " AND %s ->> $%d = ANY ($%d::text[])",
				      strcmp(f->field, "tag") == 0 ? "tags" : "cost_categories", k, v);
		}
	}
}

/* The scope in words: "tag team=payments; service AmazonEC2 or AmazonS3". */
static void
scope_words(const struct fo_bd_budget *b, fo_buf *out)
{
	if (b->nfilters == 0)
		fo_buf_printf(out, "all %s cost", b->currency);
	for (size_t i = 0; i < b->nfilters; i++) {
		const struct fo_bd_filter *f = &b->filters[i];

		fo_buf_printf(out, "%s%s", i ? "; " : "",
			      strcmp(f->field, "billing_account") == 0 ? "billing account"
			      : strcmp(f->field, "sub_account") == 0 ? "sub account"
			      : strcmp(f->field, "cost_category") == 0 ? "cost category" : f->field);
		if (f->key)
			fo_buf_printf(out, " %s", f->key);
		fo_buf_putc(out, f->key ? '=' : ' ');
		for (size_t k = 0; k < f->nvalues; k++)
			fo_buf_printf(out, "%s%s", k ? " or " : "", f->values[k]);
	}
}

struct counts {
	long long budgets, added, changed, archived, evaluated, crossed, rearmed, sent, failed;
};

/* The file into finops.budgets, in the run's transaction: new, changed, gone (archived). */
static int
sync_file(struct fo_run *ctx, const struct fo_bd_file *f, long long *ids, struct counts *n,
	  fo_err *err)
{
	static const char *const periods[] = {"monthly", "quarterly", "yearly"};
	const char **names = calloc(f->nbudgets + 1, sizeof(char *));
	char run[24];
	fo_buf arr = FO_BUF_INIT;
	int rc = names ? 0 : fo_err_set(err, FO_EXIT_FAILURE, "out of memory");

	snprintf(run, sizeof(run), "%lld", ctx->run_id);
	for (size_t i = 0; rc == 0 && i < f->nbudgets; i++) {
		const struct fo_bd_budget *b = &f->budgets[i];
		const char *p[7] = {b->name, b->owner, b->currency, periods[b->period],
				    b->billed ? "billed_cost" : "effective_cost", b->definition, run};
		PGresult *res;

		names[i] = b->name;
		rc = fo_pg_query(ctx->conn,
			"INSERT INTO finops.budgets AS t (name, owner, currency, period, metric,"
			" definition, synced_run_id) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)"
			" ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner,"
			" currency = EXCLUDED.currency, period = EXCLUDED.period,"
			" metric = EXCLUDED.metric, definition = EXCLUDED.definition,"
			" status = 'active', archived_at = NULL, synced_run_id = EXCLUDED.synced_run_id,"
			" updated_at = CASE WHEN t.definition IS DISTINCT FROM EXCLUDED.definition"
			"   OR t.status <> 'active' THEN now() ELSE t.updated_at END"
			" RETURNING budget_id, xmax = 0, updated_at = now()", 7, p, &res, err);
		if (rc < 0)
			break;
		ids[i] = atoll(PQgetvalue(res, 0, 0));
		if (PQgetvalue(res, 0, 1)[0] == 't')
			n->added++;
		else if (PQgetvalue(res, 0, 2)[0] == 't')
			n->changed++;
		PQclear(res);
	}
	if (rc == 0) {
		const char *p[1];
		PGresult *res;

		fo_pg_text_array(&arr, names, f->nbudgets);
		p[0] = arr.data;
		rc = fo_pg_query(ctx->conn, "UPDATE finops.budgets SET status = 'archived',"
				 " archived_at = now(), updated_at = now()"
				 " WHERE status = 'active' AND name <> ALL ($1::text[]) RETURNING name",
				 1, p, &res, err);
		if (rc == 0) {
			n->archived = PQntuples(res);
			for (int r = 0; r < PQntuples(res); r++)
				fo_logf(FO_LOG_INFO, FO_FIELDS(FO_STR("budget", PQgetvalue(res, r, 0))),
					"budget %s is no longer in the file: archived, its history kept",
					PQgetvalue(res, r, 0));
			PQclear(res);
		}
	}
	fo_buf_free(&arr);
	free(names);
	return rc;
}

/* Daily cost of the budget's scope over [d0, d1] into y (d1 - d0 + 1 days, zeroed). */
static int
daily(struct fo_run *ctx, const struct fo_bd_budget *b, long d0, long d1, double *y,
      long *first_seen, fo_err *err)
{
	char s0[16], s1[16];
	struct q q;
	PGresult *res;
	int rc, k0, k1, kc;

	memset(&q, 0, sizeof(q));
	fo_day_text(d0, s0);
	fo_day_text(d1, s1);
	kc = param(&q, b->currency);
	k0 = param(&q, s0);
	k1 = param(&q, s1);
	fo_buf_printf(&q.sql, "SELECT (charge_period_start AT TIME ZONE 'UTC')::date::text,"
		      " sum(%s)::float8 FROM finops.billing_line_items"
		      " WHERE billing_currency = $%d"
		      "   AND billing_period >= (date_trunc('month', $%d::date) - interval '1 month')::date"
		      "   AND charge_period_start >= ($%d::date)::timestamp AT TIME ZONE 'UTC'"
		      "   AND charge_period_start < ($%d::date + 1)::timestamp AT TIME ZONE 'UTC'",
		      b->billed ? "billed_cost" : "effective_cost", kc, k0, k0, k1);
	scope_sql(&q, b);
	fo_buf_puts(&q.sql, " GROUP BY 1");
	rc = q.sql.oom ? fo_err_set(err, FO_EXIT_FAILURE, "out of memory")
	     : fo_pg_query(ctx->conn, q.sql.data, q.n, q.p, &res, err);
	q_free(&q);
	if (rc < 0)
		return -1;
	memset(y, 0, (size_t)(d1 - d0 + 1) * sizeof(double));
	*first_seen = 0;
	for (int r = 0; r < PQntuples(res); r++) {
		long d = fo_day_parse(PQgetvalue(res, r, 0));

		if (d >= d0 && d <= d1) {
			y[d - d0] += atof(PQgetvalue(res, r, 1));
			if (!*first_seen || d < *first_seen)
				*first_seen = d;
		}
	}
	ctx->rows_read += PQntuples(res);
	PQclear(res);
	return 0;
}

/* Each billing account's last closed day, per currency: read once a run. */
struct closed {
	PGresult *res;             /* account, currency, last closed day */
};

static int
load_closed(struct fo_run *ctx, int cutoff_days, struct closed *c, fo_err *err)
{
	char cut[16];
	const char *p[1] = {cut};

	snprintf(cut, sizeof(cut), "%d", cutoff_days);
	/* each account's own sources' last day (finops.forecast_series_last_day) less the cut-off */
	return fo_pg_query(ctx->conn, "SELECT substr(series_key, 17), currency,"
			   " (last_day - $1::int)::text FROM finops.forecast_series_last_day"
			   " WHERE series_key LIKE 'billing\\_account=%'", 1, p, &c->res, err);
}

/* The last closed day of the budget's accounts in its currency, the earliest (0: none). */
static long
closed_day(const struct closed *c, const struct fo_bd_budget *b)
{
	const struct fo_bd_filter *accounts = NULL;
	long day = 0;

	for (size_t i = 0; i < b->nfilters; i++)
		if (strcmp(b->filters[i].field, "billing_account") == 0)
			accounts = &b->filters[i];
	for (int r = 0; r < PQntuples(c->res); r++) {
		long d = fo_day_parse(PQgetvalue(c->res, r, 2));
		int in = !accounts;

		if (strcmp(PQgetvalue(c->res, r, 1), b->currency) != 0)
			continue;
		for (size_t k = 0; accounts && k < accounts->nvalues && !in; k++)
			in = strcmp(accounts->values[k], PQgetvalue(c->res, r, 0)) == 0;
		if (in && (day == 0 || d < day))
			day = d;
	}
	return day;
}

/* The period before the one starting on first. */
static void
previous(enum fo_bd_period p, long first, long *pf, long *pl, char name[16])
{
	fo_bd_period_of(p, first - 1, pf, pl, name);
}

/* The budget's amount for the period starting on first; 0 (with a warning) when it has none. */
static int
amount_of(struct fo_run *ctx, const struct fo_bd_budget *b, long first, const char *name,
	  double *amount, fo_err *err)
{
	*amount = 0;
	if (b->amount_kind == FO_BD_FIXED) {
		*amount = b->amount;
		return 0;
	}
	if (b->amount_kind == FO_BD_PLANNED) {
		for (size_t i = 0; i < b->nplanned; i++)
			if (strcmp(b->planned_keys[i], name) == 0)
				*amount = b->planned[i];
		if (*amount == 0)
			fo_logf(FO_LOG_WARN, FO_FIELDS(FO_STR("budget", b->name), FO_STR("period", name)),
				"budget %s: no planned amount for %s; not judged", b->name, name);
		return 0;
	}
	/* auto-adjusting: the average of the last N periods that had cost */
	{
		long pf = first, pl, d0;
		char pname[16];
		double *y, sum = 0;
		long seen;
		int used = 0;

		for (int k = 0; k < b->auto_periods; k++)
			previous(b->period, pf, &pf, &pl, pname);
		d0 = pf;
		y = malloc((size_t)(first - d0) * sizeof(double));
		if (!y)
			return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		if (daily(ctx, b, d0, first - 1, y, &seen, err) < 0) {
			free(y);
			return -1;
		}
		pf = first;
		for (int k = 0; k < b->auto_periods; k++) {
			double s = 0;
			int any = 0;

			previous(b->period, pf, &pf, &pl, pname);
			for (long d = pf; d <= pl; d++) {
				s += y[d - d0];
				any |= seen && d >= seen;
			}
			if (any) {
				sum += s;
				used++;
			}
		}
		free(y);
		if (used)
			*amount = sum / used;
		else
			fo_logf(FO_LOG_WARN, FO_FIELDS(FO_STR("budget", b->name)),
				"budget %s: no earlier period with cost to average; not judged", b->name);
	}
	return 0;
}

/*
 * The forecast of the h days after y's last (the history): their sum and
 * the half-width of its 80% interval.
 */
static void
forecast_rest(const double *y, size_t n, size_t h, double *rest, double *half)
{
	struct fo_fc_out f;
	double var = 0;

	*rest = 0;
	*half = 0;
	if (h == 0 || n == 0)
		return;
	if (n >= 14 && fo_fc_out_alloc(&f, h) == 0) {
		double mase, smape;

		fo_fc_auto(y, n, 7, h, 7, 2, &f, &mase, &smape);
		for (size_t i = 0; i < h; i++)
			*rest += f.point[i] > 0 ? f.point[i] : 0;
		/* the days' errors correlated as the model has them, as forecast_train's months */
		var = pow(fo_fc_sum_sd(&f, 0, h), 2);
		fo_fc_out_free(&f);
	} else {
		/* too little history for a model: its mean and spread */
		double m = 0, v = 0;

		for (size_t i = 0; i < n; i++)
			m += y[i] / (double)n;
		for (size_t i = 0; i < n; i++)
			v += (y[i] - m) * (y[i] - m) / (double)(n > 1 ? n - 1 : 1);
		*rest = m * (double)h;
		var = v * (double)h;
	}
	*half = FO_FC_Z80 * sqrt(var);
}

/*
 * A monthly budget's month as forecast_train forecast it, when the
 * budget's scope is one of its series (all of a currency: "total"; one
 * billing account) on effective cost and the forecast was trained to this
 * same closed day: 1 with the month's total (*point: its actual to date and
 * the forecast of the rest, multi-day charges spread over their days, as
 * forecast_train counts them; the month's total is the same) and *half (of
 * its 80% interval); 0 when there is none to use (the caller forecasts the
 * scope's own series).
 */
static int
trained_month(struct fo_run *ctx, const struct fo_bd_budget *b, long cutoff, long month,
	      double *point, double *half, fo_err *err)
{
	char key[300], m[16], c[16];
	const char *p[4] = {key, b->currency, m, c};
	PGresult *res;
	int found;

	if (b->period != FO_BD_MONTHLY || b->billed)
		return 0;
	if (b->nfilters == 0)
		snprintf(key, sizeof(key), "total");
	else if (b->nfilters == 1 && strcmp(b->filters[0].field, "billing_account") == 0 &&
		 b->filters[0].nvalues == 1)
		snprintf(key, sizeof(key), "billing_account=%s", b->filters[0].values[0]);
	else
		return 0;
	fo_day_text(month, m);
	fo_day_text(cutoff, c);
	if (fo_pg_query(ctx->conn, "SELECT f.point::float8, (f.hi80 - f.lo80)::float8 / 2"
			" FROM finops.forecast_months f"
			" JOIN finops.forecast_models fm USING (run_id, series_key, currency)"
			" WHERE f.series_key = $1 AND f.currency = $2 AND f.month = $3"
			"   AND fm.cutoff_day = $4 ORDER BY f.run_id DESC LIMIT 1", 4, p, &res,
			err) < 0)
		return -1;
	found = PQntuples(res) > 0;
	if (found) {
		*point = atof(PQgetvalue(res, 0, 0));
		*half = atof(PQgetvalue(res, 0, 1));
		fo_logf(FO_LOG_DEBUG, FO_FIELDS(FO_STR("budget", b->name), FO_STR("series", key)),
			"budget %s: the rest of the month from forecast_train's %s", b->name, key);
	}
	PQclear(res);
	return found;
}

/* One budget's period: evaluated, recorded, its thresholds crossed or re-armed. */
static int
judge(struct fo_run *ctx, const struct fo_bd_budget *b, long long id, long cutoff, long pf,
      long pl, const char *pname, struct counts *n, fo_err *err)
{
	/* the days read: the whole period to date (a year is longer than the history) and more */
	long upto = cutoff < pl ? cutoff : pl, h0 = (pf < upto - HISTORY_DAYS + 1 ? pf
								: upto - HISTORY_DAYS + 1), seen;
	size_t ndays = (size_t)(upto - h0 + 1);
	double *y = malloc(ndays * sizeof(double)), amount, actual = 0, rest, half;
	char ids[24], ps[16], pe[16], ct[16], run[24], am[40], ac[40], fc[40], lo[40], hi[40];
	int rc = 0;

	if (!y)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	if (amount_of(ctx, b, pf, pname, &amount, err) < 0 ||
	    daily(ctx, b, h0, upto, y, &seen, err) < 0) {
		free(y);
		return -1;
	}
	fo_day_text(upto, ct);
	if (amount <= 0)
		goto out;
	if (!seen)
		fo_logf(FO_LOG_WARN, FO_FIELDS(FO_STR("budget", b->name), FO_STR("period", pname)),
			"budget %s: its scope matches no %s cost in the %ld days to %s; check its"
			" scope (nothing is breached)", b->name, b->currency, upto - h0 + 1, ct);
	for (long d = pf; d <= upto; d++)
		if (d >= h0)
			actual += y[d - h0];
	rc = upto < pl ? trained_month(ctx, b, upto, pf, &rest, &half, err) : 0;
	if (rc < 0)
		goto out;
	if (rc == 1)
		rest = fmax(0, rest - actual);        /* the month's total, less what is spent */
	if (rc == 0 && upto < pl) {
		/* the history from the scope's first day with cost */
		long from = seen && seen > h0 ? seen : h0;

		forecast_rest(y + (from - h0), (size_t)(upto - from + 1), (size_t)(pl - upto), &rest,
			      &half);
	} else if (upto >= pl) {
		rest = half = 0;
	}
	rc = 0;
	snprintf(ids, sizeof(ids), "%lld", id);
	fo_day_text(pf, ps);
	fo_day_text(pl, pe);
	snprintf(run, sizeof(run), "%lld", ctx->run_id);
	snprintf(am, sizeof(am), "%.6f", amount);
	snprintf(ac, sizeof(ac), "%.6f", actual);
	snprintf(fc, sizeof(fc), "%.6f", actual + rest);
	snprintf(lo, sizeof(lo), "%.6f", fmax(actual, actual + rest - half));
	snprintf(hi, sizeof(hi), "%.6f", actual + rest + half);
	{
		const char *p[10] = {ids, ps, pe, run, ct, am, ac, fc, lo, hi};

		rc = fo_pg_query(ctx->conn, "INSERT INTO finops.budget_evaluations (budget_id,"
				 " period_start, period_end, run_id, closed_through, amount, actual,"
				 " forecast, forecast_lo80, forecast_hi80) VALUES ($1, $2, $3, $4, $5,"
				 " $6, $7, $8, $9, $10)", 10, p, NULL, err);
	}
	n->evaluated++;
	for (size_t i = 0; rc == 0 && i < b->nthresholds; i++) {
		const struct fo_bd_threshold *t = &b->thresholds[i];
		double limit = t->percent > 0 ? amount * t->percent / 100 : t->absolute;
		double value = t->forecasted ? actual + rest : actual;
		char lim[40], val[40];
		fo_buf chans = FO_BUF_INIT;
		const char *p[8] = {ids, t->key, t->forecasted ? "forecasted" : "actual", ps, lim, val,
				    run, NULL};
		PGresult *res;

		snprintf(lim, sizeof(lim), "%.6f", limit);
		snprintf(val, sizeof(val), "%.6f", value);
		if (value < limit) {
			/* a forecast back below its threshold re-arms it */
			if (t->forecasted) {
				rc = fo_pg_query(ctx->conn, "UPDATE finops.budget_breaches SET"
						 " cleared_at = now() WHERE budget_id = $1 AND threshold = $2"
						 " AND period_start = $3 AND kind = 'forecasted'"
						 " AND cleared_at IS NULL RETURNING breach_id", 3,
						 (const char *[]){ids, t->key, ps}, &res, err);
				if (rc == 0) {
					if (PQntuples(res))
						fo_logf(FO_LOG_INFO, FO_FIELDS(FO_STR("budget", b->name),
									       FO_STR("threshold", t->key)),
							"budget %s: the forecast is back below %s; it may"
							" fire again", b->name, t->key);
					n->rearmed += PQntuples(res);
					PQclear(res);
				}
			}
			continue;
		}
		fo_pg_text_array(&chans, t->notify, t->nnotify);
		p[7] = chans.data;
		rc = chans.oom ? fo_err_set(err, FO_EXIT_FAILURE, "out of memory")
		     : fo_pg_query(ctx->conn, t->forecasted
			? "INSERT INTO finops.budget_breaches (budget_id, threshold, kind, period_start,"
			  " threshold_amount, value, run_id, channels) VALUES ($1, $2, $3, $4, $5, $6,"
			  " $7, $8) ON CONFLICT (budget_id, threshold, period_start)"
			  " WHERE kind = 'forecasted' AND cleared_at IS NULL DO NOTHING"
			  " RETURNING breach_id"
			: "INSERT INTO finops.budget_breaches (budget_id, threshold, kind, period_start,"
			  " threshold_amount, value, run_id, channels) VALUES ($1, $2, $3, $4, $5, $6,"
			  " $7, $8) ON CONFLICT (budget_id, threshold, period_start)"
			  " WHERE kind = 'actual' DO NOTHING RETURNING breach_id", 8, p, &res, err);
		fo_buf_free(&chans);
		if (rc < 0)
			break;
		if (PQntuples(res)) {
			n->crossed++;
			fo_logf(FO_LOG_INFO, FO_FIELDS(FO_STR("budget", b->name),
						       FO_STR("threshold", t->key),
						       FO_NUM("value", value), FO_NUM("limit", limit)),
				"budget %s %s: %s %.2f %s crossed %s (%.2f)", b->name, pname,
				t->forecasted ? "forecast" : "actual", value, b->currency, t->key,
				limit);
		}
		PQclear(res);
	}
out:
	free(y);
	return rc;
}

/* The largest contributors to a budget's period to date: "service AmazonEC2: $1,234.00". */
static int
contributors(struct fo_run *ctx, const struct fo_bd_budget *b, const char *ps, const char *ct,
	     char **lines, size_t *nlines, fo_err *err)
{
	static const char *const cols[2] = {"service_name", "sub_account_id"};
	static const char *const words[2] = {"service", "sub account"};

	*nlines = 0;
	for (int c = 0; c < 2; c++) {
		struct q q;
		PGresult *res;
		int rc, kc, k0, k1;

		memset(&q, 0, sizeof(q));
		kc = param(&q, b->currency);
		k0 = param(&q, ps);
		k1 = param(&q, ct);
		fo_buf_printf(&q.sql, "SELECT coalesce(%s, '(none)'), sum(%s)::float8"
			      " FROM finops.billing_line_items WHERE billing_currency = $%d"
			      "   AND billing_period >= (date_trunc('month', $%d::date)"
			      "                          - interval '1 month')::date"
			      "   AND charge_period_start >= ($%d::date)::timestamp AT TIME ZONE 'UTC'"
			      "   AND charge_period_start < ($%d::date + 1)::timestamp AT TIME ZONE 'UTC'",
			      cols[c], b->billed ? "billed_cost" : "effective_cost", kc, k0, k0, k1);
		scope_sql(&q, b);
		fo_buf_printf(&q.sql, " GROUP BY 1 ORDER BY 2 DESC LIMIT %d", c == 0 ? 5 : 3);
		rc = fo_pg_query(ctx->conn, q.sql.data, q.n, q.p, &res, err);
		q_free(&q);
		if (rc < 0)
			return -1;
		for (int r = 0; r < PQntuples(res); r++) {
			char money[48], line[300];

			fo_notify_money(atof(PQgetvalue(res, r, 1)), b->currency, money, sizeof(money));
			snprintf(line, sizeof(line), "%s %s: %s", words[c], PQgetvalue(res, r, 0), money);
			if ((lines[*nlines] = strdup(line)) != NULL)
				(*nlines)++;
		}
		PQclear(res);
	}
	return 0;
}

/* Tells each breach's channels not told yet; a failure is tried again by the next run. */
static int
tell(struct fo_run *ctx, const struct fo_bd_opts *o, struct counts *n, fo_err *err)
{
	const struct fo_bd_file *f = &o->file;
	PGresult *res;
	fo_err worst;
	int rc;

	fo_err_clear(&worst);
	rc = fo_pg_query(ctx->conn,
		"SELECT br.breach_id, b.name, br.kind, br.threshold, br.threshold_amount::float8,"
		"       br.value::float8, br.period_start::text, array_to_string(br.channels, ','),"
		"       array_to_string(br.notified, ','), e.amount::float8, e.actual::float8,"
		"       e.forecast::float8, e.forecast_lo80::float8, e.forecast_hi80::float8,"
		"       e.closed_through::text, e.period_end - e.closed_through"
		"  FROM finops.budget_breaches br JOIN finops.budgets b USING (budget_id)"
		"  JOIN LATERAL (SELECT * FROM finops.budget_evaluations e"
		"                 WHERE e.budget_id = br.budget_id AND e.period_start = br.period_start"
		"                 ORDER BY e.run_id DESC LIMIT 1) e ON true"
		" WHERE b.status = 'active' AND NOT (br.channels <@ br.notified)"
		" ORDER BY br.breach_id", 0, NULL, &res, err);
	if (rc < 0)
		return -1;
	for (int r = 0; r < PQntuples(res) && rc == 0; r++) {
		const struct fo_bd_budget *b = NULL;
		const char *name = PQgetvalue(res, r, 1), *kind = PQgetvalue(res, r, 2);
		int forecasted = strcmp(kind, "forecasted") == 0;
		char amount[48], actual[48], fc[48], lo[48], hi[48], limit[48], title[400],
		     summary[900], key[64], pct[16], fpct[16], period[16], days[16], thr[160],
		     *lines[8];
		size_t nlines = 0;
		fo_buf scope = FO_BUF_INIT;
		double am = atof(PQgetvalue(res, r, 9));
		long pf, pl;

		for (size_t i = 0; i < f->nbudgets && !b; i++)
			if (strcmp(f->budgets[i].name, name) == 0)
				b = &f->budgets[i];
		if (!b)
			continue;
		fo_bd_period_of(b->period, fo_day_parse(PQgetvalue(res, r, 6)), &pf, &pl, period);
		fo_notify_money(am, b->currency, amount, sizeof(amount));
		fo_notify_money(atof(PQgetvalue(res, r, 10)), b->currency, actual, sizeof(actual));
		fo_notify_money(atof(PQgetvalue(res, r, 11)), b->currency, fc, sizeof(fc));
		fo_notify_money(atof(PQgetvalue(res, r, 12)), b->currency, lo, sizeof(lo));
		fo_notify_money(atof(PQgetvalue(res, r, 13)), b->currency, hi, sizeof(hi));
		fo_notify_money(atof(PQgetvalue(res, r, 4)), b->currency, limit, sizeof(limit));
		snprintf(pct, sizeof(pct), "%.0f%%", am > 0 ? 100 * atof(PQgetvalue(res, r, 10)) / am : 0);
		snprintf(fpct, sizeof(fpct), "%.0f%%", am > 0 ? 100 * atof(PQgetvalue(res, r, 11)) / am : 0);
		snprintf(days, sizeof(days), "%s", PQgetvalue(res, r, 15));
		scope_words(b, &scope);
		if (forecasted)
			snprintf(title, sizeof(title), "Budget %s: forecast to reach %s of %s (%s)", name,
				 fpct, amount, period);
		else
			snprintf(title, sizeof(title), "Budget %s: %s of %s spent (%s)", name, pct, amount,
				 period);
		{
			/* "actual:80%" reads "80% actual ($2,800.00)" */
			const char *colon = strchr(PQgetvalue(res, r, 3), ':');

			snprintf(thr, sizeof(thr), "%s %s (%s)", colon ? colon + 1
				 : PQgetvalue(res, r, 3), kind, limit);
			snprintf(summary, sizeof(summary), "%s so far (%s of %s) with %s day%s of %s"
				 " left; forecast %s (80%%: %s to %s). Threshold: %s.", actual, pct,
				 amount, days, strcmp(days, "1") == 0 ? "" : "s", period, fc, lo, hi, thr);
		}
		if (contributors(ctx, b, PQgetvalue(res, r, 6), PQgetvalue(res, r, 14), lines, &nlines,
				 err) < 0) {
			rc = -1;
			fo_buf_free(&scope);
			break;
		}
		{
			struct fo_notify_fact facts[] = {
				{"Scope", scope.data ? scope.data : ""}, {"Amount", amount},
				{"Actual", actual}, {"Forecast", fc}, {"Days left", days},
				{"Threshold", thr},
			};
			struct fo_notify_message m = {
				.event = forecasted ? "budget_forecasted" : "budget_actual",
				.dedup_key = key, .title = title, .summary = summary, .facts = facts,
				.nfacts = 6, .items_title = nlines ? "Largest contributors" : NULL,
				.items = (const char *const *)lines, .nitems = nlines,
			};
			char chlist[512], done[512];

			snprintf(key, sizeof(key), "budget-breach:%s", PQgetvalue(res, r, 0));
			snprintf(chlist, sizeof(chlist), ",%s,", PQgetvalue(res, r, 7));
			snprintf(done, sizeof(done), ",%s,", PQgetvalue(res, r, 8));
			for (size_t c = 0; c < f->nchannels && rc == 0; c++) {
				char probe[128];
				enum fo_notify_outcome out;
				fo_err e;

				snprintf(probe, sizeof(probe), ",%s,", f->channels[c].name);
				if (!strstr(chlist, probe) || strstr(done, probe))
					continue;
				fo_err_clear(&e);
				if (fo_notify_send(ctx->conn, ctx->run_id, &f->channels[c], &m, &out,
						   &e) < 0) {
					n->failed++;
					if (worst.code == FO_EXIT_OK || e.code == FO_EXIT_USAGE)
						worst = e;
					continue;
				}
				n->sent += out == FO_NOTIFY_SENT;
				rc = fo_pg_query(ctx->conn, "UPDATE finops.budget_breaches SET notified ="
						 " array_append(notified, $2) WHERE breach_id = $1", 2,
						 (const char *[]){PQgetvalue(res, r, 0), f->channels[c].name},
						 NULL, err);
			}
		}
		for (size_t i = 0; i < nlines; i++)
			free(lines[i]);
		fo_buf_free(&scope);
	}
	PQclear(res);
	if (rc == 0 && worst.code != FO_EXIT_OK) {
		*err = worst;
		rc = -1;
	}
	return rc;
}

int
fo_bd_run(struct fo_run *ctx, struct fo_bd_opts *o, fo_err *err)
{
	const struct fo_bd_file *f = &o->file;
	long long *ids = calloc(f->nbudgets + 1, sizeof(long long));
	struct closed closed = {NULL};
	struct counts n;
	int rc;

	memset(&n, 0, sizeof(n));
	if (!ids)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	if (fo_run_lock(ctx, "budget", err) < 0) {
		free(ids);
		return -1;
	}
	rc = fo_pg_begin_writer(ctx->conn, err);
	if (rc == 0)
		rc = sync_file(ctx, f, ids, &n, err);
	if (rc == 0)
		rc = load_closed(ctx, o->cutoff_days, &closed, err);
	for (size_t i = 0; rc == 0 && i < f->nbudgets; i++) {
		const struct fo_bd_budget *b = &f->budgets[i];
		long cutoff = closed_day(&closed, b), pf, pl;
		char pname[16];

		if (!cutoff) {
			fo_logf(FO_LOG_WARN, FO_FIELDS(FO_STR("budget", b->name)),
				"budget %s: no closed day of %s billing data yet; not judged", b->name,
				b->currency);
			continue;
		}
		n.budgets++;
		fo_bd_period_of(b->period, cutoff, &pf, &pl, pname);
		/* a period the last run left before its end is judged to its end first */
		{
			char ids_s[24], pf_s[16];
			const char *p[2] = {ids_s, pf_s};
			PGresult *res;

			snprintf(ids_s, sizeof(ids_s), "%lld", ids[i]);
			fo_day_text(pf, pf_s);
			rc = fo_pg_query(ctx->conn, "SELECT period_start::text FROM"
					 " finops.budget_evaluations WHERE budget_id = $1"
					 " AND period_start < $2 AND closed_through < period_end"
					 " ORDER BY period_start DESC, run_id DESC LIMIT 1", 2, p, &res, err);
			if (rc == 0 && PQntuples(res)) {
				long qf, ql;
				char qname[16];

				fo_bd_period_of(b->period, fo_day_parse(PQgetvalue(res, 0, 0)), &qf, &ql, qname);
				rc = judge(ctx, b, ids[i], ql, qf, ql, qname, &n, err);
			}
			if (res)
				PQclear(res);
		}
		if (rc == 0)
			rc = judge(ctx, b, ids[i], cutoff, pf, pl, pname, &n, err);
	}
	if (closed.res)
		PQclear(closed.res);
	if (rc < 0 || ctx->dry_run)
		fo_pg_rollback(ctx->conn);
	else
		rc = fo_pg_commit(ctx->conn, err);
	free(ids);
	if (rc < 0)
		return -1;
	if (!ctx->dry_run && !o->no_notify)
		rc = tell(ctx, o, &n, err);
	ctx->rows_written += ctx->dry_run ? 0 : n.evaluated + n.crossed;
	fo_buf_printf(&ctx->summary, "%zu budget%s synced (%lld new, %lld changed, %lld archived),"
		      " %lld judged: %lld threshold%s crossed, %lld re-armed; %lld message%s sent,"
		      " %lld failed", f->nbudgets, f->nbudgets == 1 ? "" : "s", n.added, n.changed,
		      n.archived, n.budgets, n.crossed, n.crossed == 1 ? "" : "s", n.rearmed, n.sent,
		      n.sent == 1 ? "" : "s", n.failed);
	fo_buf_printf(&ctx->details, "{\"budgets\":%zu,\"judged\":%lld,\"crossed\":%lld,"
		      "\"rearmed\":%lld,\"sent\":%lld,\"failed\":%lld}", f->nbudgets, n.budgets,
		      n.crossed, n.rearmed, n.sent, n.failed);
	if (rc == 0 && n.crossed == 0 && n.sent == 0)
		ctx->nothing_new = 1;
	return rc;
}
