/*
 * rows.c: a unit's rows, mapped and streamed into COPY (see load.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finops/csvread.h"
#include "finops/log.h"
#include "finops/pg.h"
#include "finops/source.h"
#include "billing/load.h"
#include "core/core.h"

struct file_read {
	fo_source_file *f;
	struct load *l;
};

/* Reads a file, keeping a CRC-32 of its bytes as the plain files' fingerprint. */
static ssize_t
read_fingerprinted(void *ctx, char *buf, size_t len, fo_err *err)
{
	struct file_read *f = ctx;
	ssize_t n = fo_source_read(f->f, buf, len, err);

	if (n > 0) {
		f->l->crc = crc32(f->l->crc, (const Bytef *)buf, (uInt)n);
		f->l->bytes += (unsigned long long)n;
	}
	return n;
}

static int
start_copy(struct load *l, fo_err *err)
{
	char table[128];

	snprintf(table, sizeof(table), "finops.%s", l->staging);
	return fo_copy_begin_binary(l->ctx->conn, table, fo_cur_column_names, FO_CUR_NCOLS, 0,
				    "FREEZE", &l->copy, err);
}

static int
end_copy(struct load *l, fo_err *err)
{
	struct fo_copy_result r;
	int rc;

	if (!l->copy)
		return 0;
	rc = fo_copy_finish(l->copy, &r, err);
	l->copy = NULL;
	if (rc < 0 && r.failed_row)
		fo_err_prefix(err, "%s: ", l->u->label);
	return rc;
}

static int
source_id_of(struct load *l, const char *account, int *id, fo_err *err)
{
	const char *params[4] = {l->kind, account, l->u->report_name,
				 strcmp(l->kind, "aws_cur") == 0 ? "AWS" : NULL};
	PGresult *res;

	if (fo_pg_query(l->ctx->conn,
			"INSERT INTO finops.billing_sources (kind, billing_account_id, report_name,"
			"                                    provider_name)"
			" VALUES ($1, $2, $3, $4)"
			" ON CONFLICT (kind, billing_account_id, report_name)"
			" DO UPDATE SET kind = EXCLUDED.kind RETURNING source_id",
			4, params, &res, err) < 0)
		return -1;
	*id = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

int
billing_sql(struct load *l, fo_err *err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

int
billing_sql(struct load *l, fo_err *err, const char *fmt, ...)
{
	char text[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return fo_pg_exec(l->ctx->conn, text, err);
}

/* How many groups of the load are in period (the newest included). */
static size_t
groups_in_period(const struct load *l, const char *period)
{
	size_t n = 0;

	for (size_t i = 0; i < l->ngroups; i++)
		n += strcmp(l->groups[i].period, period) == 0;
	return n;
}

/*
 * The locks of the newest group (account, period). Each (source, period)
 * has a lock of its own, which two runs of one source meet on, and each
 * (report, period) one that runs hold shared, so that a load of more than
 * MAX_LEAVES sources can hold it alone instead of a lock a source. Only the
 * first group's locks wait (--lock-wait); the others are taken at once or
 * the run exits 4, so two runs never wait for each other.
 */
static int
lock_group(struct load *l, const char *account, const char *period, fo_err *err)
{
	char scope[256], report[256];
	size_t n = groups_in_period(l, period);
	int wait = l->ngroups == 1 ? l->ctx->lock_wait_s : 0;

	snprintf(scope, sizeof(scope), "%s/%s/%s/%.7s", l->kind, account, l->u->report_name, period);
	snprintf(report, sizeof(report), "%s/%s/%.7s", l->kind, l->u->report_name, period);
	if (n > MAX_LEAVES + 1)
		return 0;               /* the report's period is this run's alone already */
	if (n == MAX_LEAVES + 1)
		return fo_pg_lock(l->ctx->conn, l->ctx->name, report, 0, err);
	if (l->ngroups == 1 ? fo_run_lock(l->ctx, scope, err) < 0
	    : fo_pg_lock(l->ctx->conn, l->ctx->name, scope, 0, err) < 0)
		return -1;
	return n == 1 ? fo_pg_lock_shared(l->ctx->conn, l->ctx->name, report, wait, err) : 0;
}

/* A row of a (source, period) not seen before: register it and route to it. */
static struct group *
new_group(struct load *l, const char *account, const char *period, fo_err *err)
{
	struct group *g, *groups;

	if (end_copy(l, err) < 0)
		return NULL;
	groups = realloc(l->groups, (l->ngroups + 1) * sizeof(*groups));
	if (!groups) {
		fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		return NULL;
	}
	l->groups = groups;
	g = &groups[l->ngroups];
	memset(g, 0, sizeof(*g));
	g->account = strdup(account);
	if (!g->account) {
		fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		return NULL;
	}
	/* counted from here on, so that the load's cleanup frees it */
	l->ngroups++;
	snprintf(g->period, sizeof(g->period), "%s", period);
	/*
	 * The (source, period) lock comes first: a run that finds it held exits
	 * (or waits, --lock-wait) before it touches any row another run has
	 * locked. Only the first lock of a unit waits; the others are taken at
	 * once or the run exits 4, so two runs never wait for each other.
	 */
	if (lock_group(l, account, period, err) < 0)
		return NULL;
	if (source_id_of(l, account, &g->source_id, err) < 0)
		return NULL;
	snprintf(g->source_id_text, sizeof(g->source_id_text), "%d", g->source_id);
	if (l->ngroups == 1) {
		/* The new rows go to a table of their own; with one (source,
		 * period) it becomes that partition as it is. */
		if (billing_sql(l, err,
			"CREATE TABLE finops.%s (LIKE " PARENT " INCLUDING DEFAULTS"
			" INCLUDING CONSTRAINTS)", l->staging) < 0 ||
		    billing_sql(l, err, "ALTER TABLE finops.%s ADD CONSTRAINT %s_bounds"
			" CHECK (billing_period = '%s' AND source_id = %d)", l->staging, l->staging,
			period, g->source_id) < 0)
			return NULL;
		l->staging_made = 1;
	} else {
		if (!l->multi && billing_sql(l, err, "ALTER TABLE finops.%s DROP CONSTRAINT %s_bounds",
				     l->staging, l->staging) < 0)
			return NULL;
		l->multi = 1;
	}
	if (start_copy(l, err) < 0)
		return NULL;
	return g;
}

static uint64_t
group_hash(const char *account, const char *period)
{
	uint64_t h = fo_fnv1a(FO_FNV1A_BASIS, account, strlen(account));

	h = fo_fnv1a(h, "|", 1);
	return fo_fnv1a(h, period, strlen(period));
}

static uint64_t
hash_of_group(const void *ctx, size_t i)
{
	const struct load *l = ctx;

	return group_hash(l->groups[i].account, l->groups[i].period);
}

/* Rebuilds the group hash with room for twice the groups. */
static int
grow_gslots(struct load *l)
{
	size_t n = l->ngslots ? l->ngslots * 2 : 256;
	uint32_t *slots = fo_slots_build(n, l->ngroups, hash_of_group, l);

	if (!slots)
		return -1;
	free(l->gslots);
	l->gslots = slots;
	l->ngslots = n;
	return 0;
}

static struct group *
group_of(struct load *l, const char *account, const char *period, fo_err *err)
{
	uint64_t h;

	if (l->last && strcmp(l->last->period, period) == 0 && strcmp(l->last->account, account) == 0)
		return l->last;
	if ((l->ngroups + 1) * 2 > l->ngslots && grow_gslots(l) < 0) {
		fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		return NULL;
	}
	h = group_hash(account, period);
	for (size_t k = h & (l->ngslots - 1); l->gslots[k]; k = (k + 1) & (l->ngslots - 1)) {
		struct group *g = &l->groups[l->gslots[k] - 1];

		if (strcmp(g->period, period) == 0 && strcmp(g->account, account) == 0)
			return l->last = g;
	}
	l->last = new_group(l, account, period, err);
	if (l->last) {
		/* the slot search above stopped on an empty slot: the new group's */
		size_t k = h & (l->ngslots - 1);

		while (l->gslots[k])
			k = (k + 1) & (l->ngslots - 1);
		l->gslots[k] = (uint32_t)(l->last - l->groups) + 1;
	}
	/* the array may have moved */
	return l->last;
}

static int
add_total(struct load *l, const struct fo_cur_row *row, fo_err *err)
{
	const char *code = row->v[FO_COL_BILLING_CURRENCY];
	struct currency_total *t = NULL;

	for (size_t i = 0; i < l->ncur; i++)
		if (strcmp(l->cur[i].code, code) == 0)
			t = &l->cur[i];
	if (!t) {
		if (l->ncur == MAX_CURRENCIES)
			return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: more than %d currencies", l->file,
					  MAX_CURRENCIES);
		t = &l->cur[l->ncur++];
		memset(t, 0, sizeof(*t));
		snprintf(t->code, sizeof(t->code), "%s", code);
	}
	t->rows++;
	if (fo_dec_add(&t->billed, row->v[FO_COL_BILLED_COST], row->n[FO_COL_BILLED_COST]) < 0)
		return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: billed cost %s is out of range", l->file,
				  row->v[FO_COL_BILLED_COST]);
	if (fo_dec_add(&t->effective, row->v[FO_COL_EFFECTIVE_COST],
		       row->n[FO_COL_EFFECTIVE_COST]) < 0)
		return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: effective cost %s is out of range",
				  l->file, row->v[FO_COL_EFFECTIVE_COST]);
	return 0;
}

/* Sends one row in binary COPY format, each column in its type's form. */
static void
put_row(fo_copy *copy, const struct fo_cur_row *row, int source_id, long long load_id)
{
	for (int c = 0; c < FO_CUR_NCOLS; c++) {
		const char *v = row->v[c];

		if (!v && c != FO_COL_SOURCE_ID && c != FO_COL_LOAD_ID) {
			fo_copy_put_null(copy);
			continue;
		}
		switch ((enum fo_cur_type)fo_cur_column_types[c]) {
		case FO_BT_TEXT:
			fo_copy_put(copy, v, row->n[c]);
			break;
		case FO_BT_INT4:
			fo_copy_put_int4(copy, source_id);
			break;
		case FO_BT_INT8:
			fo_copy_put_int8(copy, load_id);
			break;
		case FO_BT_DATE:
			fo_copy_put_date(copy, row->ts[c].epoch_s);
			break;
		case FO_BT_TIMESTAMPTZ:
			fo_copy_put_timestamptz(copy, row->ts[c].epoch_s, row->ts[c].micros);
			break;
		case FO_BT_NUMERIC:
			fo_copy_put_numeric(copy, v, row->n[c]);
			break;
		case FO_BT_JSONB:
			fo_copy_put_jsonb(copy, v, row->n[c]);
			break;
		}
	}
}

static int
on_record(void *arg, const struct fo_csv_record *rec, fo_err *err)
{
	struct load *l = arg;
	struct fo_cur_map_opts mopts = {l->opts->allow_short_rows};
	struct fo_cur_row row;
	struct group *g;

	if (rec->index == 1) {
		fo_cur_mapper_free(l->mapper);
		l->mapper = NULL;
		if (fo_cur_mapper_new(l->file, rec, &mopts, &l->mapper, err) < 0)
			return -1;
		fo_csv_only_fields(rec, fo_cur_mapper_used(l->mapper), rec->nfields);
		if (!l->kind) {
			l->kind = fo_cur_mapper_kind(l->mapper);
			l->format_name = fo_cur_mapper_format_name(l->mapper);
		} else if (strcmp(l->kind, fo_cur_mapper_kind(l->mapper)) != 0) {
			return fo_err_set(err, FO_EXIT_BAD_INPUT,
					  "%s: a %s file in a load of %s files", l->file,
					  fo_cur_mapper_format_name(l->mapper), l->format_name);
		}
		return 0;
	}
	if (fo_cur_map_row(l->mapper, rec, &row, err) < 0)
		return -1;
	g = group_of(l, row.v[FO_COL_BILLING_ACCOUNT_ID], row.period, err);
	if (!g)
		return -1;
	row.v[FO_COL_SOURCE_ID] = g->source_id_text;
	row.n[FO_COL_SOURCE_ID] = strlen(g->source_id_text);
	row.v[FO_COL_LOAD_ID] = l->load_id_text;
	row.n[FO_COL_LOAD_ID] = strlen(l->load_id_text);
	put_row(l->copy, &row, g->source_id, l->load_id);
	if (fo_copy_end_row(l->copy, err) < 0)
		return fo_err_prefix(err, "%s:%llu: ", l->file, rec->line);
	g->rows++;
	l->rows++;
	if (!l->daily && !(l->daily = billing_daily_new()))
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	if (billing_daily_add(l->daily, (int32_t)(g - l->groups), &row, err) < 0)
		return -1;
	return add_total(l, &row, err);
}

int
billing_read_files(struct load *l, fo_err *err)
{
	for (size_t i = 0; i < l->u->nfiles; i++) {
		struct file_read f = {NULL, l};
		struct fo_csv_stats st;
		int rc;

		l->file = l->u->files[i];
		if (fo_source_open(l->file, &f.f, err) < 0)
			return -1;
		/* plain files: the newest one's time is the unit's */
		if (!l->u->has_manifest && fo_source_mtime(f.f) > (long long)l->u->assembly_time)
			l->u->assembly_time = (time_t)fo_source_mtime(f.f);
		rc = fo_csv_read(l->file, read_fingerprinted, &f, on_record, l, &st, err);
		fo_source_close(f.f);
		if (rc < 0)
			return -1;
		if (st.records == 0)
			return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: empty file (no header)", l->file);
		l->ctx->rows_read += (long long)(st.records - 1);
		fo_logf(FO_LOG_DEBUG, FO_FIELDS(FO_STR("file", l->file), FO_INT("rows", st.records - 1),
						FO_BOOL("gzip", st.gzip), FO_INT("bytes", st.bytes_in)),
			"read %s", l->file);
		fo_cur_mapper_free(l->mapper);
		l->mapper = NULL;
	}
	if (end_copy(l, err) < 0)
		return -1;
	if (l->rows == 0)
		return fo_err_set(err, FO_EXIT_BAD_INPUT,
				  "%s: no line items in %zu file(s): refusing to replace a billing period"
				  " with nothing", l->u->label, l->u->nfiles);
	return 0;
}
