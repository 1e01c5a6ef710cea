/*
 * tell.c: the messages about anomalies: one an anomaly and channel, or one
 * daily digest a channel, each sent at most once (notify.h), and what was
 * told where kept in finops.anomaly_notices.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finops/buf.h"
#include "finops/datetime.h"
#include "finops/log.h"
#include "finops/pg.h"
#include "ad.h"

/* An anomaly as its messages say it. */
struct item {
	long long id;
	char *monitor, *account, *dimension, *value, *currency, *direction, *first, *last,
	     *status, *reason;
	int days;
	double impact, pct, max_impact, score, day_actual, day_expected, day_upper, day_lower;
	int has_pct;
	char *causes;              /* one line a cause, '\n'-separated */
	long long monitor_index;   /* in the configuration; -1: no longer configured */
	struct item *lead;         /* in one channel's round: the anomaly whose message tells of it */
	char also[600];            /* the other monitors' series the lead's message names */
};

/*
 * Whether b is the same event as a, seen by another monitor: the same
 * account, currency and direction, days overlapping.
 */
static int
same_event(const struct item *a, const struct item *b)
{
	return strcmp(a->account, b->account) == 0 && strcmp(a->currency, b->currency) == 0 &&
	       strcmp(a->direction, b->direction) == 0 && strcmp(a->first, b->last) <= 0 &&
	       strcmp(b->first, a->last) <= 0;
}

static char *
col(PGresult *res, int r, int c)
{
	return PQgetvalue(res, r, c);
}

/* "AmazonEC2 in 123456789012", "account 123456789012", "tag team=ml in ..." */
static void
series_name(const struct item *it, char *out, size_t len)
{
	const char *v = *it->value ? it->value : "(none)";

	if (strcmp(it->dimension, "billing_account") == 0)
		snprintf(out, len, "account %s", it->account);
	else if (strcmp(it->dimension, "service") == 0)
		snprintf(out, len, "%s in %s", v, it->account);
	else if (strcmp(it->dimension, "sub_account") == 0)
		snprintf(out, len, "sub account %s in %s", v, it->account);
	else if (strcmp(it->dimension, "region") == 0)
		snprintf(out, len, "region %s in %s", v, it->account);
	else if (strcmp(it->dimension, "usage_type") == 0)
		snprintf(out, len, "usage type %s in %s", v, it->account);
	else
		snprintf(out, len, "%s %s in %s", it->monitor, v, it->account);
}

/* A dashboard link from the template: {anomaly_id} {monitor} {account} {value} ... */
static void
link_url(const char *tpl, const struct item *it, fo_buf *out)
{
	char id[24];

	snprintf(id, sizeof(id), "%lld", it->id);
	for (const char *p = tpl; *p; p++) {
		const char *name = NULL, *val = NULL;
		static const char *const keys[] = {"anomaly_id", "monitor", "account", "value",
						   "currency", "first_day", "last_day", NULL};
		const char *vals[] = {id, it->monitor, it->account, it->value, it->currency,
				      it->first, it->last};

		if (*p == '{')
			for (int k = 0; keys[k]; k++)
				if (strncmp(p + 1, keys[k], strlen(keys[k])) == 0 &&
				    p[1 + strlen(keys[k])] == '}') {
					name = keys[k];
					val = vals[k];
				}
		if (!name) {
			fo_buf_putc(out, *p);
			continue;
		}
		for (const unsigned char *c = (const unsigned char *)val; *c; c++)
			if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
			    (*c >= '0' && *c <= '9') || strchr("-._~", *c))
				fo_buf_putc(out, (char)*c);
			else
				fo_buf_printf(out, "%%%02X", *c);
		p += strlen(name) + 1;
	}
}

static void
pct_text(const struct item *it, char *out, size_t len)
{
	if (it->has_pct)
		snprintf(out, len, "%+.0f%%", it->pct);
	else
		snprintf(out, len, "nothing expected");
}

/* The message of one anomaly. */
static int
tell_one(struct fo_run *ctx, const struct fo_ad_opts *o, const struct fo_ad_channel *ch,
	 const struct item *it, enum fo_notify_outcome *outcome, fo_err *err)
{
	char title[400], summary[800], who[300], act[48], exp[48], imp[48], pct[48], mx[48],
	     bound[48], key[64], days[64], score[32], id[24], on[40];
	const char *drop = strcmp(it->direction, "down") == 0 ? "1" : NULL;
	struct fo_notify_fact facts[9];
	size_t nfacts = 7;
	const char *items[10];
	size_t nitems = 0;
	char *causes = strdup(it->causes ? it->causes : "");
	fo_buf link = FO_BUF_INIT, data = FO_BUF_INIT;
	struct fo_notify_message m;
	int rc;

	if (!causes)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	for (char *p = causes, *nl; *p && nitems < 10; p = nl + 1) {
		items[nitems++] = p;
		nl = strchr(p, '\n');
		if (!nl)
			break;
		*nl = '\0';
	}
	series_name(it, who, sizeof(who));
	fo_notify_money(it->day_actual, it->currency, act, sizeof(act));
	fo_notify_money(it->day_expected, it->currency, exp, sizeof(exp));
	fo_notify_money(it->impact, it->currency, imp, sizeof(imp));
	fo_notify_money(it->max_impact, it->currency, mx, sizeof(mx));
	fo_notify_money(drop ? it->day_lower : it->day_upper, it->currency, bound, sizeof(bound));
	pct_text(it, pct, sizeof(pct));
	snprintf(title, sizeof(title), "Cost %s: %s (%s)", drop ? "drop" : "anomaly", who,
		 it->currency);
	if (strcmp(it->status, "open") == 0)
		snprintf(summary, sizeof(summary), "%s cost %s on %s against %s expected; %s %s"
			 " than expected since %s (%s).", who, act, it->last, exp, imp,
			 drop ? "less" : "more", it->first, pct);
	else
		snprintf(summary, sizeof(summary), "%s cost %s %s than expected from %s to %s (%s);"
			 " it is back within its usual range.", who, imp, drop ? "less" : "more",
			 it->first, it->last, pct);
	snprintf(days, sizeof(days), "%s to %s (%d day%s)", it->first, it->last, it->days,
		 it->days == 1 ? "" : "s");
	snprintf(score, sizeof(score), "%.1f", it->score);
	snprintf(id, sizeof(id), "%lld", it->id);
	{
		char expb[120], impb[120];

		snprintf(expb, sizeof(expb), "%s (%s %s)", exp, drop ? "down to" : "up to", bound);
		snprintf(impb, sizeof(impb), "%s (%s), largest day %s", imp, pct, mx);
		snprintf(on, sizeof(on), "Cost on %s", it->last);
		facts[0] = (struct fo_notify_fact){on, act};
		facts[1] = (struct fo_notify_fact){"Expected that day", expb};
		facts[2] = (struct fo_notify_fact){"Impact", impb};
		facts[3] = (struct fo_notify_fact){"Days", days};
		facts[4] = (struct fo_notify_fact){"Monitor", it->monitor};
		facts[5] = (struct fo_notify_fact){"Score", score};
		facts[6] = (struct fo_notify_fact){"Anomaly", id};
		if (it->also[0])
			facts[nfacts++] = (struct fo_notify_fact){"Also seen in", it->also};
		if (o->config.dashboard_url)
			link_url(o->config.dashboard_url, it, &link);
		fo_buf_printf(&data, "{\"anomaly_id\":%lld,\"monitor\":", it->id);
		fo_json_append_string(&data, it->monitor);
		fo_buf_puts(&data, ",\"billing_account_id\":");
		fo_json_append_string(&data, it->account);
		fo_buf_puts(&data, ",\"dimension\":");
		fo_json_append_string(&data, it->dimension);
		fo_buf_puts(&data, ",\"value\":");
		fo_json_append_string(&data, it->value);
		fo_buf_printf(&data, ",\"currency\":\"%s\",\"direction\":\"%s\",\"first_day\":\"%s\","
			      "\"last_day\":\"%s\",\"status\":\"%s\",\"total_impact\":%.2f,"
			      "\"impact_percent\":", it->currency, it->direction, it->first,
			      it->last, it->status, it->impact);
		if (it->has_pct)
			fo_buf_printf(&data, "%.2f", it->pct);
		else
			fo_buf_puts(&data, "null");
		fo_buf_printf(&data, ",\"score\":%.2f}", it->score);
		snprintf(key, sizeof(key), "anomaly:%lld", it->id);
		m = (struct fo_notify_message){
			.event = drop ? "cost_drop" : "cost_anomaly", .dedup_key = key,
			.title = title, .summary = summary, .facts = facts, .nfacts = nfacts,
			.items_title = nitems ? "Top root causes" : NULL, .items = items,
			.nitems = nitems,
			.link_text = link.len ? "Open the dashboard" : NULL,
			.link_url = link.len ? link.data : NULL, .data_json = data.data,
		};
		rc = link.oom || data.oom ? fo_err_set(err, FO_EXIT_FAILURE, "out of memory")
		     : fo_notify_send(ctx->conn, ctx->run_id, &ch->ch, &m, outcome, err);
	}
	fo_buf_free(&link);
	fo_buf_free(&data);
	free(causes);
	return rc;
}

/* One message listing several anomalies: a channel's daily digest. */
static int
tell_digest(struct fo_run *ctx, const struct fo_ad_opts *o, const struct fo_ad_channel *ch,
	    struct item **its, size_t n, const char *day, enum fo_notify_outcome *outcome,
	    fo_err *err)
{
	char title[200], summary[600], key[200], count[24], who[300];
	const char **items = calloc(n + 1, sizeof(char *));
	char **owned = calloc(n + 1, sizeof(char *));
	struct fo_notify_fact facts[2];
	struct fo_notify_message m;
	int rc = 0;

	if (!items || !owned) {
		free(items);
		free(owned);
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		char imp[48], pct[48], line[600];

		series_name(its[i], who, sizeof(who));
		fo_notify_money(its[i]->impact, its[i]->currency, imp, sizeof(imp));
		pct_text(its[i], pct, sizeof(pct));
		snprintf(line, sizeof(line), "%s (%s): %s (%s) from %s to %s, %s [anomaly %lld]", who,
			 its[i]->currency, imp, pct, its[i]->first, its[i]->last,
			 strcmp(its[i]->status, "open") == 0 ? "ongoing" : "over", its[i]->id);
		owned[i] = strdup(line);
		items[i] = owned[i];
		if (!owned[i])
			rc = fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	}
	series_name(its[0], who, sizeof(who));
	snprintf(title, sizeof(title), "%zu cost anomal%s to %s", n, n == 1 ? "y" : "ies", day);
	{
		char imp[48];

		fo_notify_money(its[0]->impact, its[0]->currency, imp, sizeof(imp));
		snprintf(summary, sizeof(summary), "%zu new cost anomal%s in the days to %s; the"
			 " largest: %s, %s.", n, n == 1 ? "y" : "ies", day, who, imp);
	}
	snprintf(count, sizeof(count), "%zu", n);
	facts[0] = (struct fo_notify_fact){"Anomalies", count};
	facts[1] = (struct fo_notify_fact){"Days to", day};
	snprintf(key, sizeof(key), "anomaly-digest:%s", day);
	m = (struct fo_notify_message){
		.event = "cost_anomaly_digest", .dedup_key = key, .title = title,
		.summary = summary, .facts = facts, .nfacts = 2, .items_title = "Anomalies",
		.items = items, .nitems = n,
		.link_text = o->config.dashboard_url ? "Open the dashboard" : NULL,
		.link_url = NULL,
	};
	/* the digest links the dashboard without a particular anomaly */
	{
		fo_buf link = FO_BUF_INIT;
		struct item none = *its[0];

		none.id = 0;
		if (o->config.dashboard_url)
			link_url(o->config.dashboard_url, &none, &link);
		m.link_url = link.len ? link.data : NULL;
		m.link_text = link.len ? "Open the dashboard" : NULL;
		if (rc == 0)
			rc = fo_notify_send(ctx->conn, ctx->run_id, &ch->ch, &m, outcome, err);
		fo_buf_free(&link);
	}
	for (size_t i = 0; i < n; i++)
		free(owned[i]);
	free(owned);
	free(items);
	return rc;
}

static int
noticed(struct fo_run *ctx, long long id, const char *channel, const char *key, fo_err *err)
{
	char ids[24];
	const char *p[3] = {ids, channel, key};

	snprintf(ids, sizeof(ids), "%lld", id);
	return fo_pg_query(ctx->conn, "INSERT INTO finops.anomaly_notices (anomaly_id, channel,"
			   " dedup_key) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", 3, p, NULL,
			   err);
}

/* Keeps the worse of two failures: a channel that refuses (usage) over one that may recover. */
static void
keep_worst(fo_err *worst, const fo_err *e)
{
	if (worst->code == FO_EXIT_OK || (e->code == FO_EXIT_USAGE &&
					  worst->code != FO_EXIT_USAGE))
		*worst = *e;
}

/* A root cause's dimension in words: "usage type". */
static const char *
dim_words(const char *dim)
{
	return strcmp(dim, "sub_account") == 0 ? "sub account"
	       : strcmp(dim, "usage_type") == 0 ? "usage type" : dim;
}

int
fo_ad_tell(struct fo_run *ctx, const struct fo_ad_opts *o, struct fo_ad_counts *n, fo_err *err)
{
	const struct fo_ad_config *c = &o->config;
	char age[16];
	const char *p[2] = {o->config.billed ? "billed_cost" : "effective_cost", age};
	struct item *its = NULL;
	struct item **pick = NULL;
	size_t nits = 0;
	PGresult *res = NULL, *cres = NULL, *nres = NULL;
	fo_err worst;
	int rc;

	fo_err_clear(&worst);
	if (c->nchannels == 0)
		return 0;
	snprintf(age, sizeof(age), "%d", o->notify_days);
	/*
	 * Anomalies still worth telling: not removed by a restatement, not
	 * judged "no" or planned, their last day within notify_days of their
	 * series' newest evaluated day (an old one found on a first run is
	 * recorded for the dashboards, not sent).
	 */
	rc = fo_pg_query(ctx->conn,
		"SELECT a.anomaly_id, s.monitor, s.billing_account_id, s.dimension, s.value,"
		"       s.currency, s.direction, a.first_day::text, a.last_day::text, a.status,"
		"       coalesce(a.close_reason, ''), a.days, a.total_impact::float8,"
		"       a.impact_percent::float8, a.max_daily_impact::float8, a.score,"
		"       d.actual::float8, d.expected::float8, d.upper_bound::float8,"
		"       d.lower_bound::float8, a.impact_percent IS NOT NULL"
		"  FROM finops.anomalies a JOIN finops.anomaly_series s USING (series_id)"
		"  JOIN finops.anomaly_days d ON d.anomaly_id = a.anomaly_id AND d.day = a.last_day"
		" WHERE s.metric = $1 AND a.close_reason IS DISTINCT FROM 'restated'"
		"   AND coalesce(a.feedback, 'yes') = 'yes'"
		"   AND a.last_day >= s.evaluated_through - $2::int"
		" ORDER BY abs(a.total_impact) DESC, a.anomaly_id", 2, p, &res, err);
	if (rc == 0)
		rc = fo_pg_query(ctx->conn,
			"SELECT r.anomaly_id, r.dimension, r.value, coalesce(r.dimension2, ''),"
			"       coalesce(r.value2, ''), r.contribution::float8, s.currency"
			"  FROM finops.anomaly_root_causes r JOIN finops.anomalies a USING (anomaly_id)"
			"  JOIN finops.anomaly_series s USING (series_id)"
			" WHERE s.metric = $1 AND a.last_day >= s.evaluated_through - $2::int"
			" ORDER BY r.anomaly_id, r.rank", 2, p, &cres, err);
	if (rc == 0)
		rc = fo_pg_query(ctx->conn,
			"SELECT n.anomaly_id, n.channel FROM finops.anomaly_notices n"
			"  JOIN finops.anomalies a USING (anomaly_id)"
			"  JOIN finops.anomaly_series s USING (series_id)"
			" WHERE s.metric = $1 AND a.last_day >= s.evaluated_through - $2::int",
			2, p, &nres, err);
	if (rc < 0)
		goto out;
	nits = (size_t)PQntuples(res);
	its = calloc(nits + 1, sizeof(*its));
	pick = calloc(nits + 1, sizeof(*pick));
	if (!its || !pick) {
		rc = fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < nits; i++) {
		struct item *it = &its[i];
		int r = (int)i;
		fo_buf cb = FO_BUF_INIT;

		it->id = atoll(col(res, r, 0));
		it->monitor = col(res, r, 1);
		it->account = col(res, r, 2);
		it->dimension = col(res, r, 3);
		it->value = col(res, r, 4);
		it->currency = col(res, r, 5);
		it->direction = col(res, r, 6);
		it->first = col(res, r, 7);
		it->last = col(res, r, 8);
		it->status = col(res, r, 9);
		it->reason = col(res, r, 10);
		it->days = atoi(col(res, r, 11));
		it->impact = atof(col(res, r, 12));
		it->pct = atof(col(res, r, 13));
		it->max_impact = atof(col(res, r, 14));
		it->score = atof(col(res, r, 15));
		it->day_actual = atof(col(res, r, 16));
		it->day_expected = atof(col(res, r, 17));
		it->day_upper = atof(col(res, r, 18));
		it->day_lower = atof(col(res, r, 19));
		it->has_pct = col(res, r, 20)[0] == 't';
		it->monitor_index = -1;
		for (size_t k = 0; k < c->nmonitors; k++)
			if (strcmp(c->monitors[k].name, it->monitor) == 0)
				it->monitor_index = (long long)k;
		for (int q = 0; q < PQntuples(cres); q++) {
			char money[48];

			if (atoll(col(cres, q, 0)) != it->id)
				continue;
			fo_notify_money(atof(col(cres, q, 5)), col(cres, q, 6), money, sizeof(money));
			fo_buf_printf(&cb, "%s%s %s", cb.len ? "\n" : "", dim_words(col(cres, q, 1)),
				      *col(cres, q, 2) ? col(cres, q, 2) : "(none)");
			if (*col(cres, q, 3))
				fo_buf_printf(&cb, ", %s %s", dim_words(col(cres, q, 3)),
					      *col(cres, q, 4) ? col(cres, q, 4) : "(none)");
			fo_buf_printf(&cb, ": %s%s", atof(col(cres, q, 5)) > 0 ? "+" : "", money);
		}
		if (cb.oom) {
			fo_buf_free(&cb);
			rc = fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
			goto out;
		}
		it->causes = cb.data;   /* NULL when none */
	}
	for (size_t k = 0; k < c->nchannels; k++) {
		const struct fo_ad_channel *ch = &c->channels[k];
		size_t npick = 0, nlead = 0;

		for (size_t i = 0; i < nits; i++) {
			const struct fo_ad_monitor *m;
			int told = 0, wanted = 0;

			if (its[i].monitor_index < 0)
				continue;
			m = &c->monitors[its[i].monitor_index];
			for (size_t q = 0; q < m->nchannels; q++)
				wanted |= m->channels[q] == k;
			for (int q = 0; q < PQntuples(nres) && wanted && !told; q++)
				told = atoll(col(nres, q, 0)) == its[i].id &&
				       strcmp(col(nres, q, 1), ch->ch.name) == 0;
			if (wanted && !told)
				pick[npick++] = &its[i];
		}
		if (npick == 0)
			continue;
		/*
		 * One event seen by several monitors (the account's total, its
		 * service, its usage type) is one message: the largest impact
		 * leads (the list is in that order, the account's total first on
		 * a tie) and names the others.
		 */
		{
			size_t lead = 0;

			for (size_t i = 0; i < nits; i++) {
				its[i].lead = NULL;
				its[i].also[0] = '\0';
			}
			for (size_t i = 0; i < npick; i++) {
				if (pick[i]->lead)
					continue;
				pick[i]->lead = pick[i];
				for (size_t q = i + 1; q < npick; q++) {
					char who[300];
					size_t len = strlen(pick[i]->also);

					if (pick[q]->lead || !same_event(pick[i], pick[q]))
						continue;
					pick[q]->lead = pick[i];
					series_name(pick[q], who, sizeof(who));
					snprintf(pick[i]->also + len, sizeof(pick[i]->also) - len, "%s%s",
						 len ? "; " : "", who);
				}
				pick[lead++] = pick[i];
			}
			/* the followers go after the leads, told by their lead's message */
			for (size_t i = 0, f = lead; i < nits; i++)
				if (its[i].lead && its[i].lead != &its[i] && f < npick)
					pick[f++] = &its[i];
			nlead = lead;
		}
		if (ch->digest) {
			char day[16];
			enum fo_notify_outcome out;
			fo_err e;

			fo_day_text(n->newest ? n->newest : fo_day_parse(pick[0]->last), day);
			fo_err_clear(&e);
			if (tell_digest(ctx, o, ch, pick, nlead, day, &out, &e) < 0) {
				n->failed++;
				keep_worst(&worst, &e);
				continue;
			}
			if (out == FO_NOTIFY_SENT_BEFORE) {
				/* today's digest went out: these wait for the next closed day's */
				n->waiting += (long long)npick;
				fo_logf(FO_LOG_INFO, FO_FIELDS(FO_STR("channel", ch->ch.name),
							       FO_INT("anomalies", npick)),
					"channel %s: the digest to %s was sent before; %zu anomal%s"
					" wait for the next one", ch->ch.name, day, npick,
					npick == 1 ? "y" : "ies");
				continue;
			}
			n->sent++;
			for (size_t i = 0; i < npick; i++) {
				char key[64];

				snprintf(key, sizeof(key), "anomaly-digest:%s", day);
				if (noticed(ctx, pick[i]->id, ch->ch.name, key, err) < 0) {
					rc = -1;
					goto out;
				}
			}
			continue;
		}
		for (size_t i = 0; i < nlead; i++) {
			enum fo_notify_outcome out;
			char key[64];
			fo_err e;

			fo_err_clear(&e);
			if (tell_one(ctx, o, ch, pick[i], &out, &e) < 0) {
				n->failed++;
				keep_worst(&worst, &e);
				/* a channel that refuses refuses the next message too */
				if (e.code == FO_EXIT_USAGE)
					break;
				continue;
			}
			n->sent += out == FO_NOTIFY_SENT;
			n->sent_before += out == FO_NOTIFY_SENT_BEFORE;
			snprintf(key, sizeof(key), "anomaly:%lld", pick[i]->id);
			for (size_t q = 0; q < npick; q++)
				if (pick[q]->lead == pick[i] &&
				    noticed(ctx, pick[q]->id, ch->ch.name, key, err) < 0) {
					rc = -1;
					goto out;
				}
		}
	}
	if (worst.code != FO_EXIT_OK) {
		*err = worst;
		rc = -1;
	}
out:
	for (size_t i = 0; its && i < nits; i++)
		free(its[i].causes);
	free(its);
	free(pick);
	if (res)
		PQclear(res);
	if (cres)
		PQclear(cres);
	if (nres)
		PQclear(nres);
	return rc;
}
