/*
 * watch.c: the anomaly job: each newly closed day of each monitored series
 * judged, the anomalies recorded and grown in one transaction, restated
 * periods judged again, feedback recorded (anomaly_detect.h).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finops/buf.h"
#include "finops/datetime.h"
#include "finops/log.h"
#include "finops/pg.h"
#include "ad.h"

#define MAX_CATCHUP 93       /* days a series catches up at most after a pause */
#define RECUR_BACK 70        /* days before the window the recurring-charge check reads */
#define TOP_SPEND_DAYS 30    /* days whose spend ranks a monitor's values */
#define RC_BASE_DAYS 14      /* days before an anomaly whose leaves give the expected cost */
#define TOTALS_DAYS 130      /* days kept to tell a restatement: more than a series catches up */

void
fo_ad_defaults(struct fo_ad_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->cutoff_days = 2;
	o->backfill_days = 30;
	o->notify_days = 7;
}

void
fo_ad_free(struct fo_ad_opts *o)
{
	fo_ad_config_free(&o->config);
	free(o->feedback);
	o->feedback = NULL;
	o->nfeedback = 0;
}

int
fo_ad_add_feedback(struct fo_ad_opts *o, const char *arg, fo_err *err)
{
	static const char *const names[] = {"yes", "no", "planned_activity"};
	const char *eq = strchr(arg, '=');
	struct fo_ad_feedback *g, f;
	char id[24], *end;
	long long v;
	int k;

	if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof(id))
		return fo_err_set(err, FO_EXIT_USAGE, "--feedback %s: must be ID=yes, ID=no or"
				  " ID=planned_activity", arg);
	memcpy(id, arg, (size_t)(eq - arg));
	id[eq - arg] = '\0';
	errno = 0;
	v = strtoll(id, &end, 10);
	if (errno || *end || v <= 0 || !isdigit((unsigned char)id[0]))
		return fo_err_set(err, FO_EXIT_USAGE, "--feedback %s: '%s' is not an anomaly id"
				  " (a whole number, as finops.anomalies.anomaly_id)", arg, id);
	for (k = 0; k < 3 && strcmp(eq + 1, names[k]) != 0; k++)
		;
	if (k == 3)
		return fo_err_set(err, FO_EXIT_USAGE, "--feedback %s: '%s' is not yes, no or"
				  " planned_activity", arg, eq + 1);
	f.anomaly_id = v;
	f.verdict = (enum fo_ad_verdict)k;
	g = realloc(o->feedback, (o->nfeedback + 1) * sizeof(*g));
	if (!g)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	o->feedback = g;
	o->feedback[o->nfeedback++] = f;
	return 0;
}

int
fo_ad_check(struct fo_ad_opts *o, fo_err *err)
{
	int rc = o->monitors_path ? fo_ad_config_load(&o->config, o->monitors_path, err)
		 : fo_ad_config_defaults(&o->config, err);

	if (rc == 0 && o->metric_set)
		o->config.billed = o->billed;
	return rc;
}

static const char *const verdicts[] = {"yes", "no", "planned_activity"};

/* --feedback: recorded in one transaction; an unknown id changes nothing. */
static int
record_feedback(struct fo_run *ctx, const struct fo_ad_opts *o, fo_err *err)
{
	int rc = fo_pg_begin_writer(ctx->conn, err);

	for (size_t i = 0; rc == 0 && i < o->nfeedback; i++) {
		char id[24], run[24];
		const char *p[3] = {id, verdicts[o->feedback[i].verdict], run};
		PGresult *res = NULL;

		snprintf(id, sizeof(id), "%lld", o->feedback[i].anomaly_id);
		snprintf(run, sizeof(run), "%lld", ctx->run_id);
		rc = fo_pg_query(ctx->conn, "UPDATE finops.anomalies SET feedback = $2,"
				 " feedback_at = now(), updated_run_id = $3, updated_at = now()"
				 " WHERE anomaly_id = $1 RETURNING anomaly_id", 3, p, &res, err);
		if (rc == 0 && PQntuples(res) == 0)
			rc = fo_err_set(err, FO_EXIT_USAGE, "--feedback %s=%s: there is no anomaly %s"
					" (see finops.anomalies_current); no feedback was recorded",
					id, p[1], id);
		if (rc == 0)
			fo_logf(FO_LOG_INFO, FO_FIELDS(FO_INT("anomaly_id", o->feedback[i].anomaly_id),
						       FO_STR("feedback", p[1])),
				"anomaly %s: feedback %s%s", id, p[1],
				o->feedback[i].verdict == FO_AD_YES ? ""
				: " (its days stay out of the baseline)");
		if (res)
			PQclear(res);
		res = NULL;
	}
	if (rc < 0 || ctx->dry_run) {
		fo_pg_rollback(ctx->conn);
	} else {
		rc = fo_pg_commit(ctx->conn, err);
	}
	if (rc == 0) {
		ctx->rows_written += ctx->dry_run ? 0 : (long long)o->nfeedback;
		fo_buf_printf(&ctx->summary, "feedback %s on %zu anomal%s", ctx->dry_run ?
			      "checked" : "recorded", o->nfeedback, o->nfeedback == 1 ? "y" : "ies");
	}
	return rc;
}

/* A billing account's closed days in one currency. */
struct acct {
	char *account, *currency;
	long cutoff, first;          /* the last closed day (0: none yet), the first day of data */
	long restated;               /* the first day of a restated period (0: none) */
	char note[200];
	long start;                  /* the first day its series are read from */
	struct state *st;            /* its series already evaluated */
	size_t nst;
};

/* A series already evaluated. */
struct state {
	long long series_id;
	char *monitor, *dimension, *value, *currency, *direction;
	long through;
	int has_open;
};

/* One day of a recorded anomaly, as the evaluation reads it back. */
struct past {
	long long series_id, anomaly_id;
	long first, last, day;
	int level_shift, held;
	double actual, expected, impact, score;
};

struct job {
	struct fo_run *ctx;
	const struct fo_ad_opts *o;
	const char *metric;          /* "effective_cost" or "billed_cost" */
	struct fo_ad_counts *n;
	char run[24];
};

static int
dup_into(char **out, const char *s, fo_err *err)
{
	*out = strdup(s);
	return *out ? 0 : fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
}

/*
 * Each day's effective and billed cost of each (source, period) in the CTE
 * `set`, per account and currency, from $1 on, with a fingerprint of how it
 * splits over services and usage types (each line weighted by a hash of
 * them): what finops.anomaly_day_totals keeps to tell a restatement.
 */
static void
day_totals_sql(fo_buf *q, const char *set)
{
	fo_buf_printf(q, "SELECT b.source_id, b.billing_period, b.billing_account_id,"
		      " b.billing_currency AS currency,"
		      " (b.charge_period_start AT TIME ZONE 'UTC')::date AS day,"
		      " sum(b.effective_cost) AS effective_cost, sum(b.billed_cost) AS billed_cost,"
		      " sum((b.effective_cost + b.billed_cost) * (1 + (hashtext("
		      "   coalesce(b.service_name, '') || '|' || coalesce(b.usage_type, '')) & 1023)"
		      "   / 1024.0)) AS fingerprint"
		      " FROM finops.billing_line_items b JOIN %s USING (source_id, billing_period)"
		      " WHERE b.charge_period_start >= ($1::date)::timestamp AT TIME ZONE 'UTC'"
		      " GROUP BY 1, 2, 3, 4, 5", set);
}

static int
load_accounts(struct job *j, struct acct **out, size_t *nout, fo_err *err)
{
	char cut[16];
	const char *p[4] = {cut, NULL, NULL, NULL};
	PGresult *res, *periods;
	struct acct *a;
	size_t n;
	int rc;

	*out = NULL;
	*nout = 0;
	snprintf(cut, sizeof(cut), "%d", j->o->cutoff_days);
	/* each source's newest billing period (from the loads): where its last day is */
	if (fo_pg_query(j->ctx->conn,
		"SELECT array_agg(source_id ORDER BY source_id)::text,"
		"       array_agg(newest ORDER BY source_id)::text, array_agg(DISTINCT newest)::text"
		"  FROM (SELECT source_id, max(billing_period) AS newest FROM finops.billing_loads"
		"         WHERE status = 'current' GROUP BY 1) t", 0, NULL, &periods, err) < 0)
		return -1;
	for (int k = 0; k < 3; k++)
		p[k + 1] = PQgetisnull(periods, 0, k) ? NULL : PQgetvalue(periods, 0, k);
	/*
	 * Each account's last closed day: the last day of data of the sources
	 * that feed it, the earliest of them, less the cut-off; a source that
	 * ended more than 31 days before the account's newest does not hold it
	 * back (finops.forecast_series_last_day's rule, per account). Only the
	 * sources' newest periods are read; an account's first day is its
	 * sources' first period.
	 */
	rc = fo_pg_query(j->ctx->conn,
		"WITH newest AS (SELECT * FROM unnest($2::int[], $3::date[]) AS n(source_id,"
		"                                                               billing_period)),"
		" firsts AS (SELECT source_id, min(billing_period) AS first_day"
		"              FROM finops.billing_loads WHERE status = 'current' GROUP BY 1),"
		" by_source AS ("
		"  SELECT b.billing_account_id, b.billing_currency AS currency, b.source_id,"
		"         max((b.charge_period_start AT TIME ZONE 'UTC')::date) AS last_day"
		"    FROM finops.billing_line_items b JOIN newest USING (source_id, billing_period)"
		"   WHERE b.billing_period = ANY ($4::date[]) GROUP BY 1, 2, 3),"
		" src AS (SELECT source_id, max(last_day) AS last_day FROM by_source GROUP BY 1),"
		" fed AS (SELECT b.billing_account_id, b.currency, s.last_day, f.first_day,"
		"                max(s.last_day) OVER (PARTITION BY b.billing_account_id,"
		"                                      b.currency) AS newest"
		"           FROM by_source b JOIN src s USING (source_id) JOIN firsts f USING (source_id))"
		" SELECT billing_account_id, currency,"
		"        (min(last_day) FILTER (WHERE last_day >= newest - 31) - $1::int)::text,"
		"        min(first_day)::text"
		"   FROM fed GROUP BY 1, 2 ORDER BY 1, 2", 4, p, &res, err);
	PQclear(periods);
	if (rc < 0)
		return -1;
	n = (size_t)PQntuples(res);
	a = calloc(n + 1, sizeof(*a));
	if (!a) {
		PQclear(res);
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	}
	*out = a;
	for (size_t i = 0; i < n; i++) {
		if (dup_into(&a[i].account, PQgetvalue(res, (int)i, 0), err) < 0 ||
		    dup_into(&a[i].currency, PQgetvalue(res, (int)i, 1), err) < 0) {
			*nout = i + 1;
			PQclear(res);
			return -1;
		}
		a[i].cutoff = fo_day_parse(PQgetvalue(res, (int)i, 2));
		a[i].first = fo_day_parse(PQgetvalue(res, (int)i, 3));
		if (a[i].cutoff < a[i].first)
			a[i].cutoff = 0;     /* nothing closed yet */
	}
	*nout = n;
	PQclear(res);
	/*
	 * Restatements: of the periods with a new load since the last
	 * evaluation, the days it had seen that changed; the period's days from
	 * the first of them are judged again.
	 */
	{
		long newest = 0;
		char since[16];
		const char *q[1] = {since};
		fo_buf sql = FO_BUF_INIT;

		for (size_t i = 0; i < n; i++)
			if (a[i].cutoff > newest)
				newest = a[i].cutoff;
		fo_day_text(newest - TOTALS_DAYS, since);
		fo_buf_puts(&sql, "WITH changed AS (SELECT l.source_id, l.billing_period, l.load_id"
			    "   FROM finops.billing_loads l"
			    "   JOIN finops.anomaly_loads_seen s USING (source_id, billing_period)"
			    "  WHERE l.status = 'current' AND l.load_id <> s.load_id),"
			    " now AS (");
		day_totals_sql(&sql, "changed");
		fo_buf_puts(&sql, "),"
			    " seen AS (SELECT t.* FROM finops.anomaly_day_totals t"
			    "   JOIN changed USING (source_id, billing_period)),"
			    " seen_last AS (SELECT source_id, billing_period, billing_account_id, currency,"
			    "   max(day) AS last_day FROM seen GROUP BY 1, 2, 3, 4),"
			    " diff AS (SELECT source_id, billing_period, billing_account_id, currency, day"
			    "   FROM now n FULL JOIN seen s"
			    "        USING (source_id, billing_period, billing_account_id, currency, day)"
			    "  WHERE n.effective_cost IS DISTINCT FROM s.effective_cost"
			    "     OR n.billed_cost IS DISTINCT FROM s.billed_cost"
			    "     OR n.fingerprint IS DISTINCT FROM s.fingerprint)"
			    " SELECT d.billing_account_id, d.currency, min(d.day)::text,"
			    "        to_char(d.billing_period, 'YYYY-MM'), d.source_id, c.load_id"
			    "   FROM diff d JOIN seen_last g"
			    "        USING (source_id, billing_period, billing_account_id, currency)"
			    "   JOIN changed c USING (source_id, billing_period)"
			    "  WHERE d.day <= g.last_day"
			    "  GROUP BY 1, 2, 4, 5, 6 ORDER BY 3");
		rc = sql.oom ? fo_err_set(err, FO_EXIT_FAILURE, "out of memory")
		     : fo_pg_query(j->ctx->conn, sql.data, 1, q, &res, err);
		fo_buf_free(&sql);
		if (rc < 0)
			return -1;
	}
	for (int r = 0; r < PQntuples(res); r++)
		for (size_t i = 0; i < n; i++) {
			long from = fo_day_parse(PQgetvalue(res, r, 2));

			if (strcmp(a[i].account, PQgetvalue(res, r, 0)) != 0 ||
			    strcmp(a[i].currency, PQgetvalue(res, r, 1)) != 0 ||
			    (a[i].restated && a[i].restated <= from))
				continue;
			a[i].restated = from;
			snprintf(a[i].note, sizeof(a[i].note), "billing period %s of source %s was"
				 " restated (load %s) from %s", PQgetvalue(res, r, 3),
				 PQgetvalue(res, r, 4), PQgetvalue(res, r, 5), PQgetvalue(res, r, 2));
			fo_logf(FO_LOG_INFO, FO_FIELDS(FO_STR("billing_account_id", a[i].account),
						       FO_STR("currency", a[i].currency),
						       FO_STR("from", PQgetvalue(res, r, 2))),
				"account %s (%s): %s; its days from then are judged again",
				a[i].account, a[i].currency, a[i].note);
		}
	PQclear(res);
	return 0;
}

/*
 * What this evaluation saw: the day totals of every (source, period) whose
 * load it had not seen, and the loads. Older days are dropped.
 */
static int
record_seen(struct job *j, long newest, fo_err *err)
{
	char since[16];
	const char *p[1] = {since};
	fo_buf q = FO_BUF_INIT;
	int rc;

	fo_day_text(newest - TOTALS_DAYS, since);
#define FRESH "WITH fresh AS (SELECT l.source_id, l.billing_period" \
		"   FROM finops.billing_loads l" \
		"   LEFT JOIN finops.anomaly_loads_seen s USING (source_id, billing_period)" \
		"  WHERE l.status = 'current' AND s.load_id IS DISTINCT FROM l.load_id)"
	rc = fo_pg_query(j->ctx->conn, FRESH " DELETE FROM finops.anomaly_day_totals t USING fresh f"
			 " WHERE (t.source_id = f.source_id AND t.billing_period = f.billing_period)"
			 "    OR t.day < $1::date", 1, p, NULL, err);
	fo_buf_puts(&q, FRESH " INSERT INTO finops.anomaly_day_totals (source_id, billing_period,"
		    " billing_account_id, currency, day, effective_cost, billed_cost, fingerprint) ");
#undef FRESH
	day_totals_sql(&q, "fresh");
	if (rc == 0)
		rc = q.oom ? fo_err_set(err, FO_EXIT_FAILURE, "out of memory")
		     : fo_pg_query(j->ctx->conn, q.data, 1, p, NULL, err);
	fo_buf_free(&q);
	if (rc == 0)
		rc = fo_pg_exec(j->ctx->conn,
				"INSERT INTO finops.anomaly_loads_seen (source_id, billing_period, load_id)"
				" SELECT source_id, billing_period, load_id FROM finops.billing_loads"
				"  WHERE status = 'current'"
				" ON CONFLICT (source_id, billing_period)"
				" DO UPDATE SET load_id = EXCLUDED.load_id", err);
	return rc;
}


static int
load_states(struct job *j, const char *account, struct state **out, size_t *nout, fo_err *err)
{
	const char *p[2] = {account, j->metric};
	PGresult *res;
	struct state *s;
	size_t n;

	*out = NULL;
	*nout = 0;
	if (fo_pg_query(j->ctx->conn,
		"SELECT s.series_id, s.monitor, s.dimension, s.value, s.currency, s.direction,"
		"       s.evaluated_through::text,"
		"       EXISTS (SELECT 1 FROM finops.anomalies a WHERE a.series_id = s.series_id"
		"                  AND a.status = 'open')"
		"  FROM finops.anomaly_series s WHERE s.billing_account_id = $1 AND s.metric = $2",
		2, p, &res, err) < 0)
		return -1;
	n = (size_t)PQntuples(res);
	s = calloc(n + 1, sizeof(*s));
	if (!s) {
		PQclear(res);
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		int r = (int)i;

		s[i].series_id = atoll(PQgetvalue(res, r, 0));
		s[i].monitor = strdup(PQgetvalue(res, r, 1));
		s[i].dimension = strdup(PQgetvalue(res, r, 2));
		s[i].value = strdup(PQgetvalue(res, r, 3));
		s[i].currency = strdup(PQgetvalue(res, r, 4));
		s[i].direction = strdup(PQgetvalue(res, r, 5));
		s[i].through = fo_day_parse(PQgetvalue(res, r, 6));
		s[i].has_open = PQgetvalue(res, r, 7)[0] == 't';
		*nout = i + 1;
		if (!s[i].monitor || !s[i].dimension || !s[i].value || !s[i].currency ||
		    !s[i].direction) {
			*out = s;
			PQclear(res);
			return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		}
	}
	*out = s;
	PQclear(res);
	return 0;
}

static void
free_states(struct state *s, size_t n)
{
	for (size_t i = 0; s && i < n; i++) {
		free(s[i].monitor);
		free(s[i].dimension);
		free(s[i].value);
		free(s[i].currency);
		free(s[i].direction);
	}
	free(s);
}

static void
free_accounts(struct acct *a, size_t n)
{
	for (size_t i = 0; a && i < n; i++) {
		free(a[i].account);
		free(a[i].currency);
		free_states(a[i].st, a[i].nst);
	}
	free(a);
}

static int
load_past(struct job *j, const char *account, long since, struct past **out, size_t *nout,
	  fo_err *err)
{
	char day[16];
	const char *p[3] = {account, j->metric, day};
	PGresult *res;
	struct past *v;
	size_t n;

	fo_day_text(since, day);
	*out = NULL;
	*nout = 0;
	if (fo_pg_query(j->ctx->conn,
		"SELECT a.series_id, a.anomaly_id, a.first_day::text, a.last_day::text,"
		"       coalesce(a.close_reason = 'level_shift', false),"
		"       coalesce(a.feedback IN ('no', 'planned_activity'), false), d.day::text,"
		"       d.actual::float8, d.expected::float8, d.impact::float8, d.score"
		"  FROM finops.anomalies a JOIN finops.anomaly_series s USING (series_id)"
		"  JOIN finops.anomaly_days d USING (anomaly_id)"
		" WHERE s.billing_account_id = $1 AND s.metric = $2 AND a.last_day >= $3::date"
		"   AND a.close_reason IS DISTINCT FROM 'restated'"
		" ORDER BY a.series_id, a.first_day, d.day", 3, p, &res, err) < 0)
		return -1;
	n = (size_t)PQntuples(res);
	v = calloc(n + 1, sizeof(*v));
	if (!v) {
		PQclear(res);
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		int r = (int)i;

		v[i].series_id = atoll(PQgetvalue(res, r, 0));
		v[i].anomaly_id = atoll(PQgetvalue(res, r, 1));
		v[i].first = fo_day_parse(PQgetvalue(res, r, 2));
		v[i].last = fo_day_parse(PQgetvalue(res, r, 3));
		v[i].level_shift = PQgetvalue(res, r, 4)[0] == 't';
		v[i].held = PQgetvalue(res, r, 5)[0] == 't';
		v[i].day = fo_day_parse(PQgetvalue(res, r, 6));
		v[i].actual = atof(PQgetvalue(res, r, 7));
		v[i].expected = atof(PQgetvalue(res, r, 8));
		v[i].impact = atof(PQgetvalue(res, r, 9));
		v[i].score = atof(PQgetvalue(res, r, 10));
	}
	*out = v;
	*nout = n;
	PQclear(res);
	return 0;
}

/* The SQL of a monitor's value for one line item, with its parameter number for a key. */
static void
value_sql(fo_buf *q, const struct fo_ad_monitor *m, int *param)
{
	switch (m->dim) {
	case FO_AD_ACCOUNT:
		fo_buf_puts(q, "billing_account_id");
		break;
	case FO_AD_SERVICE:
		fo_buf_puts(q, "coalesce(service_name, '')");
		break;
	case FO_AD_SUB_ACCOUNT:
		fo_buf_puts(q, "coalesce(sub_account_id, '')");
		break;
	case FO_AD_REGION:
		fo_buf_puts(q, "coalesce(region_id, '')");
		break;
	case FO_AD_USAGE_TYPE:
		fo_buf_puts(q, "coalesce(usage_type, '')");
		break;
	case FO_AD_TAG:
		fo_buf_printf(q, "coalesce(tags ->> $%d, '')", (*param)++);
		break;
	case FO_AD_COST_CATEGORY:
		fo_buf_printf(q, "coalesce(cost_categories ->> $%d, '')", (*param)++);
		break;
	}
}

/* Line items of one account between two days (by charge day, UTC). */
static void
window_sql(fo_buf *q, const char *metric)
{
	fo_buf_printf(q, " FROM (SELECT billing_currency AS currency,"
		      " (charge_period_start AT TIME ZONE 'UTC')::date AS day, %s AS cost,"
		      " billing_account_id, service_name, sub_account_id, region_id, usage_type,"
		      " tags, cost_categories FROM finops.billing_line_items"
		      " WHERE billing_account_id = $1"
		      "   AND billing_period >= (date_trunc('month', $2::date) - interval '1 month')::date"
		      "   AND charge_period_start >= ($2::date)::timestamp AT TIME ZONE 'UTC'"
		      "   AND charge_period_start < ($3::date + 1)::timestamp AT TIME ZONE 'UTC') d",
		      metric);
}

/* A group of rows: one value of one monitor in one currency, day by day. */
struct grp {
	size_t mon;
	const char *currency, *value;
	int r0, r1;
	double spend;
	long first;                  /* its first day with a line item */
};

static int
by_spend(const void *a, const void *b)
{
	const struct grp *x = a, *y = b;

	return x->spend < y->spend ? 1 : x->spend > y->spend ? -1 : strcmp(x->value, y->value);
}

static struct state *
find_state(struct state *s, size_t n, const char *monitor, const char *dim, const char *value,
	   const char *currency, const char *direction)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s[i].monitor, monitor) == 0 && strcmp(s[i].dimension, dim) == 0 &&
		    strcmp(s[i].value, value) == 0 && strcmp(s[i].currency, currency) == 0 &&
		    strcmp(s[i].direction, direction) == 0)
			return &s[i];
	return NULL;
}

static void
money_text(double v, char out[40])
{
	snprintf(out, 40, "%.6f", isfinite(v) ? v : 0.0);
}

/* The leaves of a series' anomaly and their expected cost, for its root causes. */
static int
root_causes(struct job *j, const struct acct *a, const struct fo_ad_monitor *m,
	    const char *value, long long anomaly_id, long first, long last, double impact,
	    double expected_total, int drop, const unsigned char *out_of_base, long start,
	    fo_err *err)
{
	char d0[16], d1[16], id[24];
	const char *p[6];
	struct fo_rc_leaf *leaves = NULL;
	struct fo_rc_cause causes[10];
	size_t nleaves = 0, ncauses = 0, base_days = 0;
	long b0 = first - RC_BASE_DAYS;
	fo_buf q = FO_BUF_INIT;
	PGresult *res;
	int np = 3, rc;

	for (long d = b0 < start ? start : b0; d < first; d++)
		base_days += !out_of_base[d - start];
	fo_day_text(b0, d0);
	fo_day_text(last, d1);
	p[0] = a->account;
	p[1] = d0;
	p[2] = d1;
	fo_buf_puts(&q, "SELECT coalesce(service_name, ''), coalesce(sub_account_id, ''),"
		    " coalesce(region_id, ''), coalesce(usage_type, ''), day::text,"
		    " sum(cost)::float8");
	window_sql(&q, j->metric);
	fo_buf_puts(&q, " WHERE currency = $4");
	p[np++] = a->currency;
	if (m->dim != FO_AD_ACCOUNT) {
		int kp = np + 1;

		fo_buf_puts(&q, " AND ");
		value_sql(&q, m, &kp);
		fo_buf_printf(&q, " = $%d", np + 1 + (m->key != NULL));
		if (m->key)
			p[np++] = m->key;
		p[np++] = value;
	}
	fo_buf_puts(&q, " GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5");
	rc = q.oom ? fo_err_set(err, FO_EXIT_FAILURE, "out of memory")
	     : fo_pg_query(j->ctx->conn, q.data, np, p, &res, err);
	fo_buf_free(&q);
	if (rc < 0)
		return -1;
	leaves = calloc((size_t)PQntuples(res) + 1, sizeof(*leaves));
	if (!leaves) {
		PQclear(res);
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	}
	for (int r = 0; r < PQntuples(res); r++) {
		long day = fo_day_parse(PQgetvalue(res, r, 4));
		double cost = atof(PQgetvalue(res, r, 5));
		struct fo_rc_leaf *l;
		int same = nleaves > 0;

		for (int k = 0; same && k < FO_RC_NDIMS; k++)
			same = strcmp(leaves[nleaves - 1].value[k], PQgetvalue(res, r, k)) == 0;
		if (!same) {
			l = &leaves[nleaves++];
			for (int k = 0; k < FO_RC_NDIMS; k++)
				l->value[k] = PQgetvalue(res, r, k);
		}
		l = &leaves[nleaves - 1];
		if (day >= first)
			l->actual += cost;
		else if (day >= start && !out_of_base[day - start] && base_days)
			l->expected += cost / (double)base_days * (double)(last - first + 1);
	}
	/*
	 * The leaves' baseline is their mean of the days before; the model's
	 * expected cost also knows the weekday and the trend: scaled to it, the
	 * leaves' increases add up to the anomaly's impact.
	 */
	{
		double sum = 0;

		for (size_t i = 0; i < nleaves; i++)
			sum += leaves[i].expected;
		for (size_t i = 0; sum > 0 && expected_total > 0 && i < nleaves; i++)
			leaves[i].expected *= expected_total / sum;
	}
	if (drop)       /* what fell: the same search on the fall */
		for (size_t i = 0; i < nleaves; i++) {
			double t = leaves[i].actual;

			leaves[i].actual = leaves[i].expected;
			leaves[i].expected = t;
		}
	/* causes of at least $1 and 2% of the impact: not the other leaves' noise */
	rc = fo_anom_root_causes(leaves, nleaves, fabs(impact), fmax(1.0, 0.02 * fabs(impact)),
				 causes, 10, &ncauses);
	if (rc < 0)
		rc = fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	snprintf(id, sizeof(id), "%lld", anomaly_id);
	p[0] = id;
	if (rc == 0)
		rc = fo_pg_query(j->ctx->conn, "DELETE FROM finops.anomaly_root_causes"
				 " WHERE anomaly_id = $1", 1, p, NULL, err);
	for (size_t i = 0; rc == 0 && i < ncauses; i++) {
		static const char *const names[] = {"service", "sub_account", "region", "usage_type"};
		char rank[8], contrib[40];
		const char *ip[7] = {id, rank, names[causes[i].dim[0]], causes[i].value[0],
				     causes[i].dim[1] >= 0 ? names[causes[i].dim[1]] : NULL,
				     causes[i].dim[1] >= 0 ? causes[i].value[1] : NULL, contrib};

		snprintf(rank, sizeof(rank), "%zu", i + 1);
		money_text(drop ? -causes[i].contribution : causes[i].contribution, contrib);
		rc = fo_pg_query(j->ctx->conn, "INSERT INTO finops.anomaly_root_causes (anomaly_id,"
				 " rank, dimension, value, dimension2, value2, contribution)"
				 " VALUES ($1, $2, $3, $4, $5, $6, $7)", 7, ip, NULL, err);
	}
	free(leaves);
	PQclear(res);
	return rc;
}

/* Writes the days from `from` of one episode of a series (and the episode's record). */
static int
record(struct job *j, const struct acct *a, const struct fo_ad_monitor *m, const char *value,
       long long series_id, long start, long from, const struct fo_anom_eval *ev,
       const struct fo_anom_episode *e, long long anomaly_id, long first_day, int drop,
       const unsigned char *out_of_base, fo_err *err)
{
	char sid[24], id[24], f[16], l[16], days[16], act[40], exp[40], imp[40], pct[40],
	     mx[40], score[40], run_s[24];
	const char *status = e->open ? "open" : "closed";
	const char *reason = e->open ? NULL : e->level_shift ? "level_shift" : "returned";
	double actual = 0, expected = 0;
	fo_buf q = FO_BUF_INIT;
	int rc;

	for (size_t t = e->first; t <= e->last; t++) {
		actual += ev[t].actual;
		expected += ev[t].expected;
	}
	snprintf(sid, sizeof(sid), "%lld", series_id);
	fo_day_text(first_day ? first_day : start + (long)e->first, f);
	fo_day_text(start + (long)e->last, l);
	snprintf(days, sizeof(days), "%zu", e->last - e->first + 1);
	money_text(actual, act);
	money_text(expected, exp);
	money_text(e->impact, imp);
	if (expected > 0)
		snprintf(pct, sizeof(pct), "%.4f", 100 * e->impact / expected);
	money_text(e->max_impact, mx);
	snprintf(score, sizeof(score), "%.4f", e->score);
	snprintf(run_s, sizeof(run_s), "%s", j->run);
	{
		const char *p[12] = {sid, f, l, status, reason, days, act, exp, imp,
				     expected > 0 ? pct : NULL, mx, score};
		const char *p2[13];
		PGresult *res;

		if (anomaly_id) {
			snprintf(id, sizeof(id), "%lld", anomaly_id);
			memcpy(p2, p, sizeof(p));
			p2[0] = id;
			p2[12] = run_s;
			rc = fo_pg_query(j->ctx->conn, "UPDATE finops.anomalies SET first_day = $2,"
					 " last_day = $3, status = $4, close_reason = $5,"
					 " close_note = CASE WHEN $5::text IS NULL THEN NULL"
					 " ELSE close_note END, days = $6,"
					 " actual_cost = $7, expected_cost = $8, total_impact = $9,"
					 " impact_percent = $10, max_daily_impact = $11, score = $12,"
					 " updated_run_id = $13, updated_at = now() WHERE anomaly_id = $1",
					 13, p2, NULL, err);
		} else {
			memcpy(p2, p, sizeof(p));
			p2[12] = run_s;
			rc = fo_pg_query(j->ctx->conn, "INSERT INTO finops.anomalies (series_id,"
					 " first_day, last_day, status, close_reason, days, actual_cost,"
					 " expected_cost, total_impact, impact_percent, max_daily_impact,"
					 " score, created_run_id, updated_run_id) VALUES ($1, $2, $3, $4,"
					 " $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)"
					 " RETURNING anomaly_id", 13, p2, &res, err);
			if (rc == 0) {
				anomaly_id = atoll(PQgetvalue(res, 0, 0));
				PQclear(res);
			}
			snprintf(id, sizeof(id), "%lld", anomaly_id);
		}
	}
	if (rc == 0) {
		char fr[16];
		const char *p[2] = {id, fr};

		fo_day_text(from, fr);
		rc = fo_pg_query(j->ctx->conn, "DELETE FROM finops.anomaly_days WHERE anomaly_id = $1"
				 " AND day >= $2", 2, p, NULL, err);
	}
	/* its days from `from`: numbers and dates only, written in one statement */
	fo_buf_puts(&q, "INSERT INTO finops.anomaly_days (anomaly_id, day, actual, expected,"
		    " upper_bound, lower_bound, impact, impact_percent, score, model) VALUES ");
	{
		int any = 0;

		for (size_t t = e->first; t <= e->last; t++) {
			char d[16];

			if (start + (long)t < from)
				continue;
			fo_day_text(start + (long)t, d);
			fo_buf_printf(&q, "%s(%s, '%s', %.6f, %.6f, %.6f, %.6f, %.6f, ", any ? ", " : "",
				      id, d, ev[t].actual, ev[t].expected, ev[t].upper, ev[t].lower,
				      ev[t].impact);
			if (isnan(ev[t].impact_pct))
				fo_buf_puts(&q, "NULL");
			else
				fo_buf_printf(&q, "%.4f", ev[t].impact_pct);
			fo_buf_printf(&q, ", %.4f, '", ev[t].score);
			/* the model's name is the library's own ("ETS(A,Ad,A)"): kept to its letters */
			for (const char *c = ev[t].model; *c; c++)
				if (isalnum((unsigned char)*c) || strchr("(),_ -", *c))
					fo_buf_putc(&q, *c);
			fo_buf_puts(&q, "')");
			any = 1;
		}
		if (q.oom)
			rc = rc ? rc : fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		if (rc == 0 && any)
			rc = fo_pg_exec(j->ctx->conn, q.data, err);
	}
	fo_buf_free(&q);
	/* its totals over all its days, those of earlier runs included */
	if (rc == 0) {
		const char *p[2] = {id, drop ? "t" : "f"};

		rc = fo_pg_query(j->ctx->conn, "UPDATE finops.anomalies a SET days = d.n,"
				 " actual_cost = d.act, expected_cost = d.exp, total_impact = d.imp,"
				 " impact_percent = CASE WHEN d.exp > 0 THEN 100 * d.imp / d.exp END,"
				 " max_daily_impact = d.mx"
				 " FROM (SELECT count(*) AS n, sum(actual) AS act, sum(expected) AS exp,"
				 "              sum(impact) AS imp, CASE WHEN $2::boolean THEN min(impact)"
				 "              ELSE max(impact) END AS mx"
				 "         FROM finops.anomaly_days WHERE anomaly_id = $1) d"
				 " WHERE a.anomaly_id = $1 AND d.n > 0", 2, p, NULL, err);
	}
	if (rc == 0)
		rc = root_causes(j, a, m, value, anomaly_id, start + (long)e->first,
				 start + (long)e->last, e->impact, expected, drop, out_of_base, start,
				 err);
	return rc;
}

/* Whether an episode of this scan starts on day d (the record starting then is its own). */
static int
taken(const struct fo_anom_episode *eps, size_t neps, long start, long d)
{
	for (size_t k = 0; k < neps; k++)
		if (start + (long)eps[k].first == d)
			return 1;
	return 0;
}

/* One series: its new days judged, its anomalies recorded. */
static int
judge(struct job *j, const struct acct *a, const struct fo_ad_monitor *m, const char *value,
      const double *yall, long start, const struct past *past, size_t npast, int drop,
      fo_err *err)
{
	const char *direction = drop ? "down" : "up";
	const struct fo_anom_params *p = drop ? &m->down : &m->up;
	struct state *s = find_state(a->st, a->nst, m->name, fo_ad_dim_name(m->dim), value,
				     a->currency, direction);
	long cutoff = a->cutoff, from;
	size_t n = (size_t)(cutoff - start + 1), base = 0, neps = 0;
	struct fo_anom_eval *ev = NULL;
	struct fo_anom_episode *eps = NULL;
	unsigned char *held = NULL, *out_of_base = NULL;
	long long series_id = 0, *matched = NULL;
	size_t nmatched = 0;
	const char *note = NULL;
	int rc = 0;

	if (s) {
		from = s->through + 1;
		if (a->restated && a->restated <= s->through) {
			from = a->restated;
			note = a->note;
		}
		if (from < cutoff - MAX_CATCHUP + 1)
			from = cutoff - MAX_CATCHUP + 1;
		series_id = s->series_id;
	} else {
		from = cutoff - j->o->backfill_days + 1;
	}
	if (from < start)
		from = start;
	if (from > cutoff)
		return 0;
	ev = calloc(n, sizeof(*ev));
	held = calloc(n, 1);
	out_of_base = calloc(n, 1);
	if (!ev || !held || !out_of_base) {
		rc = fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		goto out;
	}
	/* what earlier runs found before `from`, and where the series starts */
	for (size_t i = 0; s && i < npast; i++) {
		const struct past *v = &past[i];
		long t = v->day - start;

		if (v->series_id != s->series_id || t < 0 || t >= (long)n)
			continue;
		/* a person's verdict holds whatever the days are judged again */
		held[t] = (unsigned char)v->held;
		if (v->day >= from)
			continue;
		if (v->level_shift) {
			/* the new normal: the series starts there, its days are the baseline */
			if (v->last < from && v->first >= start && (size_t)(v->first - start) > base)
				base = (size_t)(v->first - start);
			continue;
		}
		ev[t].anomalous = 1;
		ev[t].actual = v->actual;
		ev[t].expected = v->expected;
		ev[t].impact = v->impact;
		ev[t].score = v->score;
	}
	/* days of a level shift before the base are no longer anomalous to the baseline */
	for (size_t t = 0; t < base; t++)
		ev[t].anomalous = 0;
	if (fo_anom_scan_days(yall, n, start, (size_t)(from - start), &base, held, p, ev, &eps,
			      &neps) < 0) {
		rc = fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		goto out;
	}
	for (size_t t = 0; t < n; t++)
		out_of_base[t] = ev[t].anomalous || held[t];
	j->n->series++;
	j->n->series_days += cutoff - from + 1;
	if (cutoff > j->n->newest)
		j->n->newest = cutoff;
	/* the series' record first: its anomalies refer to it */
	{
		char through[16];
		const char *q[9] = {m->name, a->account, fo_ad_dim_name(m->dim), value, a->currency,
				    j->metric, direction, through, j->run};
		PGresult *res;

		fo_day_text(cutoff, through);
		rc = fo_pg_query(j->ctx->conn, "INSERT INTO finops.anomaly_series (monitor,"
				 " billing_account_id, dimension, value, currency, metric, direction,"
				 " evaluated_through, first_evaluated, run_id)"
				 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)"
				 " ON CONFLICT (monitor, billing_account_id, dimension, value, currency,"
				 " metric, direction) DO UPDATE SET evaluated_through ="
				 " EXCLUDED.evaluated_through, run_id = EXCLUDED.run_id,"
				 " updated_at = now() RETURNING series_id", 9, q, &res, err);
		if (rc < 0)
			goto out;
		series_id = atoll(PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	/* each episode with a day from `from`: the record it continues, or a new one */
	matched = calloc(neps + 1, sizeof(*matched));
	if (!matched) {
		rc = fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		goto out;
	}
	for (size_t k = 0; rc == 0 && k < neps; k++) {
		const struct fo_anom_episode *e = &eps[k];
		long first = start + (long)e->first;
		long long id = 0;
		long id_first = 0;
		int grew = 0;

		for (size_t i = 0; i < npast; i++)
			/* (one open since before the days read starts where they start) */
			if (past[i].series_id == series_id &&
			    (past[i].first == first || (e->first == 0 && past[i].first < start &&
							past[i].last >= start))) {
				id = past[i].anomaly_id;
				id_first = past[i].first;
				grew = past[i].last < start + (long)e->last;
			}
		/*
		 * judged again (a restatement), the same event may start on
		 * another day now: the record of days it overlaps is updated, not
		 * closed and opened anew (nor sent again)
		 */
		for (size_t i = 0; !id && i < npast; i++)
			if (past[i].series_id == series_id && past[i].first >= from &&
			    past[i].first <= start + (long)e->last && past[i].last >= first &&
			    !taken(eps, neps, start, past[i].first)) {
				id = past[i].anomaly_id;
				grew = past[i].last < start + (long)e->last;
			}
		if (id)
			matched[nmatched++] = id;
		rc = record(j, a, m, value, series_id, start, from, ev, e, id, id_first, drop,
			    out_of_base, err);
		if (!id)
			j->n->opened++;
		else if (grew)
			j->n->grown++;
		/* an episode this scan found closed closed in it (the day after, or as a shift) */
		j->n->closed += !e->open;
	}
	/* recorded anomalies with days from `from` that the evaluation no longer finds */
	for (size_t i = 0; rc == 0 && s && i < npast; i++) {
		const struct past *v = &past[i];
		int found = 0;

		if (v->series_id != series_id || v->last < from || (i && past[i - 1].anomaly_id ==
								      v->anomaly_id))
			continue;
		for (size_t k = 0; k < nmatched && !found; k++)
			found = matched[k] == v->anomaly_id;
		if (!found && v->first >= from) {
			char id[24];
			const char *q[3] = {id, note ? note : "judged again",
					    j->run};

			snprintf(id, sizeof(id), "%lld", v->anomaly_id);
			rc = fo_pg_query(j->ctx->conn, "UPDATE finops.anomalies SET status = 'closed',"
					 " close_reason = 'restated', close_note = $2 || ': no longer"
					 " anomalous', updated_run_id = $3, updated_at = now()"
					 " WHERE anomaly_id = $1", 3, q, NULL, err);
			j->n->restated++;
			fo_logf(FO_LOG_INFO, FO_FIELDS(FO_INT("anomaly_id", v->anomaly_id),
						       FO_STR("monitor", m->name), FO_STR("value", value)),
				"anomaly %lld (%s %s) closed: %s", v->anomaly_id, m->name, value, q[1]);
		}
	}
out:
	free(ev);
	free(held);
	free(out_of_base);
	free(eps);
	free(matched);
	return rc;
}

/* One row of the cursor: a monitor's value's cost on a day. */
struct drow {
	size_t mon, val;             /* the monitor; the value, an index into the account's names */
	long day;
	double cost;
};

/* What the reader holds of one account and currency while its rows come. */
struct rows {
	struct drow *r;
	size_t n, cap;
	char **vals;                 /* the values' names, each once (rows come sorted) */
	size_t nvals, capvals;
};

static void
rows_reset(struct rows *x)
{
	for (size_t i = 0; i < x->nvals; i++)
		free(x->vals[i]);
	x->n = 0;
	x->nvals = 0;
}

static int
rows_add(struct rows *x, size_t mon, const char *val, long day, double cost)
{
	if (x->n == x->cap) {
		size_t cap = x->cap ? 2 * x->cap : 1024;
		struct drow *g = realloc(x->r, cap * sizeof(*g));

		if (!g)
			return -1;
		x->r = g;
		x->cap = cap;
	}
	if (x->nvals == 0 || x->r[x->n - 1].mon != mon || strcmp(x->vals[x->nvals - 1], val) != 0) {
		if (x->nvals == x->capvals) {
			size_t cap = x->capvals ? 2 * x->capvals : 64;
			char **g = realloc(x->vals, cap * sizeof(*g));

			if (!g)
				return -1;
			x->vals = g;
			x->capvals = cap;
		}
		if (!(x->vals[x->nvals] = strdup(val)))
			return -1;
		x->nvals++;
	}
	x->r[x->n++] = (struct drow){mon, x->nvals - 1, day, cost};
	return 0;
}

/* Where an account's series are read from: back from the earliest day any of them is judged. */
static int
plan_account(struct job *j, struct acct *a, fo_err *err)
{
	const struct fo_ad_config *c = &j->o->config;
	long from_min = a->cutoff - j->o->backfill_days + 1;

	if (load_states(j, a->account, &a->st, &a->nst, err) < 0)
		return -1;
	for (size_t i = 0; i < a->nst; i++) {
		long f = a->st[i].through + 1;

		if (strcmp(a->st[i].currency, a->currency) != 0)
			continue;
		if (a->restated && a->restated < f)
			f = a->restated;
		if (f < from_min)
			from_min = f;
	}
	if (from_min < a->cutoff - MAX_CATCHUP + 1)
		from_min = a->cutoff - MAX_CATCHUP + 1;
	a->start = from_min;
	for (size_t i = 0; i < c->nmonitors; i++)
		if (from_min - c->monitors[i].up.window - RECUR_BACK < a->start)
			a->start = from_min - c->monitors[i].up.window - RECUR_BACK;
	if (a->start < a->first)
		a->start = a->first;
	return 0;
}

/* One account and currency: every monitor's values, their series, judged. */
static int
watch_account(struct job *j, const struct acct *a, const struct rows *x, fo_err *err)
{
	const struct fo_ad_config *c = &j->o->config;
	struct past *past = NULL;
	size_t npast = 0, ngrp = 0;
	struct grp *g = NULL;
	double *y = NULL;
	int rc;

	rc = load_past(j, a->account, a->start, &past, &npast, err);
	if (rc < 0)
		goto out;
	g = calloc(x->nvals + 1, sizeof(*g));
	y = malloc((size_t)(a->cutoff - a->start + 1) * sizeof(double));
	if (!g || !y) {
		rc = fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		goto out;
	}
	for (size_t r = 0; r < x->n;) {
		struct grp *v = &g[ngrp++];
		size_t e = r;

		v->mon = x->r[r].mon;
		v->currency = a->currency;
		v->value = x->vals[x->r[r].val];
		v->r0 = (int)r;
		v->first = x->r[r].day;
		for (; e < x->n && x->r[e].val == x->r[r].val; e++) {
			if (x->r[e].day > a->cutoff - TOP_SPEND_DAYS)
				v->spend += x->r[e].cost;
			if (x->r[e].day < v->first)
				v->first = x->r[e].day;
		}
		v->r1 = (int)e;
		r = e;
	}
	/* each monitor's top values by spend, and any value with an anomaly still open */
	for (size_t i = 0; i < ngrp && rc == 0;) {
		size_t e = i;

		while (e < ngrp && g[e].mon == g[i].mon)
			e++;
		qsort(g + i, e - i, sizeof(*g), by_spend);
		for (size_t k = i; k < e && rc == 0; k++) {
			const struct fo_ad_monitor *m = &c->monitors[g[k].mon];
			int top = m->dim == FO_AD_ACCOUNT || k - i < (size_t)m->top_n;

			for (int drop = 0; drop <= m->watch_drops && rc == 0; drop++) {
				struct state *s = find_state(a->st, a->nst, m->name,
							     fo_ad_dim_name(m->dim), g[k].value,
							     a->currency, drop ? "down" : "up");
				/*
				 * The series starts on its first day with a line item (a new
				 * service has no history of zeros); after that a day without
				 * a line cost nothing.
				 */
				long s0 = g[k].first;

				if (!top && !(s && s->has_open))
					continue;
				for (long d = s0; d <= a->cutoff; d++)
					y[d - s0] = 0;
				for (int r = g[k].r0; r < g[k].r1; r++)
					if (x->r[r].day >= s0 && x->r[r].day <= a->cutoff)
						y[x->r[r].day - s0] += x->r[r].cost;
				rc = judge(j, a, m, g[k].value, y, s0, past, npast, drop, err);
			}
		}
		i = e;
	}
out:
	free(g);
	free(y);
	free(past);
	return rc;
}

/* The cursor's SQL: every account's monitors' values day by day, in one pass. */
static int
cursor_sql(struct job *j, fo_buf *q, const char **p, int *np)
{
	const struct fo_ad_config *c = &j->o->config;
	int kp = 6;

	/*
	 * Sorted by the account's number and the value only (in the C
	 * collation): what the reader needs to take an account, then a value,
	 * at a time; sorting by names or days too costs twice as much.
	 */
	fo_buf_printf(q, "DECLARE fo_anomaly_rows NO SCROLL CURSOR FOR"
		      " WITH acc AS (SELECT * FROM unnest($1::text[], $2::text[], $3::date[],"
		      "              $4::date[]) WITH ORDINALITY AS acc(account, currency, first_day,"
		      "                                                 last_day, n))"
		      " SELECT d.n, m.i, m.v COLLATE \"C\", d.day::text, sum(d.cost)"
		      "   FROM (SELECT acc.n, b.billing_account_id,"
		      "                (b.charge_period_start AT TIME ZONE 'UTC')::date AS day,"
		      "                b.%s::float8 AS cost, b.service_name, b.sub_account_id,"
		      "                b.region_id,"
		      "                b.usage_type, b.tags, b.cost_categories"
		      "           FROM finops.billing_line_items b"
		      "           JOIN acc ON b.billing_account_id = acc.account"
		      "                   AND b.billing_currency = acc.currency"
		      "          WHERE b.billing_period >= (date_trunc('month', $5::date)"
		      "                                     - interval '1 month')::date"
		      "            AND b.charge_period_start >= (acc.first_day)::timestamp"
		      "                                         AT TIME ZONE 'UTC'"
		      "            AND b.charge_period_start < (acc.last_day + 1)::timestamp"
		      "                                        AT TIME ZONE 'UTC') d"
		      "  CROSS JOIN LATERAL (VALUES ", j->metric);
	for (size_t i = 0; i < c->nmonitors; i++) {
		fo_buf_printf(q, "%s(%zu, ", i ? ", " : "", i);
		value_sql(q, &c->monitors[i], &kp);
		fo_buf_putc(q, ')');
		if (c->monitors[i].key)
			p[(*np)++] = c->monitors[i].key;
	}
	fo_buf_puts(q, ") m(i, v) GROUP BY d.n, m.i, 3, d.day ORDER BY 1, 2, 3");
	return q->oom ? -1 : 0;
}

/*
 * Every account with a closed day: its series read in one pass over the
 * line items (a cursor, an account at a time in memory), each judged.
 */
static int
watch_accounts(struct job *j, struct acct *a, size_t na, fo_err *err)
{
	const char **cols[4] = {NULL, NULL, NULL, NULL};
	char (*days)[2][16] = calloc(na + 1, sizeof(*days));
	fo_buf arr[4] = {FO_BUF_INIT, FO_BUF_INIT, FO_BUF_INIT, FO_BUF_INIT}, q = FO_BUF_INIT;
	const char *p[8 + 100];
	struct rows x = {0};
	struct acct *cur = NULL, **active = NULL;
	size_t nact = 0;
	long min_start = 0;
	char min_s[16];
	int rc = 0, np = 5;

	for (int k = 0; k < 4; k++)
		cols[k] = calloc(na + 1, sizeof(char *));
	active = calloc(na + 1, sizeof(*active));
	if (!days || !cols[0] || !cols[1] || !cols[2] || !cols[3] || !active) {
		rc = fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < na && rc == 0; i++) {
		if (a[i].cutoff == 0)
			continue;
		rc = plan_account(j, &a[i], err);
		fo_day_text(a[i].start, days[nact][0]);
		fo_day_text(a[i].cutoff, days[nact][1]);
		cols[0][nact] = a[i].account;
		cols[1][nact] = a[i].currency;
		cols[2][nact] = days[nact][0];
		cols[3][nact] = days[nact][1];
		active[nact] = &a[i];
		if (nact == 0 || a[i].start < min_start)
			min_start = a[i].start;
		nact++;
	}
	if (rc < 0 || nact == 0)
		goto out;
	for (int k = 0; k < 4; k++) {
		fo_pg_text_array(&arr[k], cols[k], nact);
		p[k] = arr[k].data;
	}
	fo_day_text(min_start, min_s);
	p[4] = min_s;
	if (arr[0].oom || arr[1].oom || arr[2].oom || arr[3].oom || cursor_sql(j, &q, p, &np) < 0) {
		rc = fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		goto out;
	}
	rc = fo_pg_query(j->ctx->conn, q.data, np, p, NULL, err);
	while (rc == 0) {
		PGresult *res;
		int nr;

		rc = fo_pg_query(j->ctx->conn, "FETCH FORWARD 20000 FROM fo_anomaly_rows", 0, NULL,
				 &res, err);
		if (rc < 0)
			break;
		nr = PQntuples(res);
		j->ctx->rows_read += nr;
		for (int r = 0; r < nr && rc == 0; r++) {
			long k = atol(PQgetvalue(res, r, 0));     /* the account's number, from 1 */

			if (k < 1 || (size_t)k > nact)
				rc = fo_err_set(err, FO_EXIT_FAILURE, "anomaly rows: account %ld of %zu",
						k, nact);
			else if (!cur || cur != active[k - 1]) {
				if (cur && x.n)
					rc = watch_account(j, cur, &x, err);
				rows_reset(&x);
				cur = active[k - 1];
			}
			if (rc == 0 && rows_add(&x, (size_t)atoi(PQgetvalue(res, r, 1)),
						PQgetvalue(res, r, 2), fo_day_parse(PQgetvalue(res, r, 3)),
						atof(PQgetvalue(res, r, 4))) < 0)
				rc = fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		}
		PQclear(res);
		if (nr == 0)
			break;
	}
	if (rc == 0 && cur && x.n)
		rc = watch_account(j, cur, &x, err);
	if (rc == 0)
		rc = fo_pg_exec(j->ctx->conn, "CLOSE fo_anomaly_rows", err);
out:
	rows_reset(&x);
	free(x.r);
	free(x.vals);
	for (int k = 0; k < 4; k++) {
		free(cols[k]);
		fo_buf_free(&arr[k]);
	}
	fo_buf_free(&q);
	free(days);
	free(active);
	return rc;
}

int
fo_ad_run(struct fo_run *ctx, struct fo_ad_opts *o, fo_err *err)
{
	struct fo_ad_counts n;
	struct job j = {ctx, o, o->config.billed ? "billed_cost" : "effective_cost", &n, ""};
	struct acct *a = NULL;
	size_t na = 0;
	int rc;

	memset(&n, 0, sizeof(n));
	snprintf(j.run, sizeof(j.run), "%lld", ctx->run_id);
	if (fo_run_lock(ctx, "anomaly", err) < 0)
		return -1;
	if (o->nfeedback)
		return record_feedback(ctx, o, err);
	/* one snapshot: the loads marked seen at the end are the ones judged */
	rc = fo_pg_begin_writer_snapshot(ctx->conn, err);
	/* the series' days are sorted once, an account after another: in memory, not on disk */
	if (rc == 0)
		rc = fo_pg_exec(ctx->conn, "SET LOCAL work_mem = '128MB'", err);
	if (rc == 0)
		rc = load_accounts(&j, &a, &na, err);
	if (rc == 0)
		rc = watch_accounts(&j, a, na, err);
	if (rc == 0) {
		long newest = 0;

		for (size_t i = 0; i < na; i++)
			if (a[i].cutoff > newest)
				newest = a[i].cutoff;
		rc = record_seen(&j, newest, err);
	}
	if (rc < 0 || ctx->dry_run)
		fo_pg_rollback(ctx->conn);
	else
		rc = fo_pg_commit(ctx->conn, err);
	free_accounts(a, na);
	if (rc < 0)
		return -1;
	ctx->rows_written += ctx->dry_run ? 0 : n.opened + n.grown + n.restated;
	if (!ctx->dry_run && !o->no_notify)
		rc = fo_ad_tell(ctx, o, &n, err);
	{
		char newest[16] = "";

		if (n.newest)
			fo_day_text(n.newest, newest);
		if (n.series_days == 0)
			fo_buf_printf(&ctx->summary, "no newly closed day to evaluate");
		else
			fo_buf_printf(&ctx->summary, "%lld series %s over %lld series-days to %s:"
				      " %lld new anomal%s, %lld growing, %lld closed, %lld removed by"
				      " a restatement", n.series, ctx->dry_run ? "would be evaluated"
				      : "evaluated", n.series_days, newest, n.opened,
				      n.opened == 1 ? "y" : "ies", n.grown, n.closed, n.restated);
		if (!ctx->dry_run && !o->no_notify)
			fo_buf_printf(&ctx->summary, "; %lld message%s sent, %lld failed",
				      n.sent, n.sent == 1 ? "" : "s", n.failed);
		fo_buf_printf(&ctx->details, "{\"series\":%lld,\"series_days\":%lld,"
			      "\"new\":%lld,\"growing\":%lld,\"closed\":%lld,\"restated\":%lld,"
			      "\"sent\":%lld,\"failed\":%lld}", n.series, n.series_days, n.opened,
			      n.grown, n.closed, n.restated, n.sent, n.failed);
	}
	if (rc == 0 && n.series_days == 0 && n.sent == 0)
		ctx->nothing_new = 1;
	return rc;
}
