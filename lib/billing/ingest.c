/*
 * ingest.c: atomic loads of billing exports (see billing.h), one unit after
 * another; the stages are in load.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "finops/log.h"
#include "finops/pg.h"
#include "finops/source.h"
#include "billing/load.h"
#include "core/core.h"

static long long
ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000LL + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void
describe_totals(struct load *l, fo_buf *out)
{
	for (size_t i = 0; i < l->ncur; i++) {
		char sum[160];

		fo_dec_format(&l->cur[i].billed, sum, sizeof(sum));
		fo_buf_printf(out, "%s%s %s", i ? ", " : "", l->cur[i].code, sum);
	}
}

static void
add_details(struct load *l, const char *outcome)
{
	fo_buf *d = &l->ctx->details;

	if (d->len == 0)
		fo_buf_puts(d, "{\"units\":[");
	else
		d->len -= 2;                 /* reopen the "]}" at the end */
	if (d->data[d->len - 1] == '}')
		fo_buf_putc(d, ',');
	fo_buf_puts(d, "{\"source\":");
	fo_json_append_string(d, l->u->label);
	fo_buf_puts(d, ",\"outcome\":");
	fo_json_append_string(d, outcome);
	fo_buf_puts(d, ",\"format\":");
	fo_json_append_string(d, l->format_name ? l->format_name : "");
	fo_buf_puts(d, ",\"assembly_id\":");
	fo_json_append_string(d, l->u->assembly_id);
	fo_buf_printf(d, ",\"files\":%zu,\"rows\":%lld,\"load_id\":%lld,\"periods\":[", l->u->nfiles,
		      l->rows, l->load_id);
	for (size_t i = 0; i < l->ngroups; i++) {
		fo_buf_printf(d, "%s{\"source_id\":%d,\"billing_period\":\"%s\",\"rows\":%lld}",
			      i ? "," : "", l->groups[i].source_id, l->groups[i].period,
			      l->groups[i].rows);
	}
	fo_buf_puts(d, "],\"billed_cost\":{");
	for (size_t i = 0; i < l->ncur; i++) {
		char sum[160];

		fo_dec_format(&l->cur[i].billed, sum, sizeof(sum));
		fo_buf_printf(d, "%s\"%s\":\"%s\"", i ? "," : "", l->cur[i].code, sum);
	}
	fo_buf_puts(d, "}}]}");
}

/*
 * A manifest names its assembly before a byte is read: when the latest load
 * of that assembly is still current for every period it held, there is
 * nothing new and the files need not be read at all. Returns 1 when so.
 */
static int
assembly_is_current(struct fo_run *ctx, const struct unit *u, fo_err *err)
{
	const char *params[3] = {u->assembly_id, u->report_name, u->man.account};
	PGresult *res;
	int current;

	/* an assembly of this report (and payer, when the manifest names it), not another's */
	if (fo_pg_query(ctx->conn,
			"WITH mine AS (SELECT l.* FROM finops.billing_loads l"
			"                JOIN finops.billing_sources s USING (source_id)"
			"               WHERE s.kind = 'aws_cur' AND s.report_name = $2"
			"                 AND ($3::text IS NULL OR s.billing_account_id = $3))"
			"SELECT count(*) > 0 AND bool_and(status = 'current')"
			"  FROM mine"
			" WHERE load_id = (SELECT max(load_id) FROM mine WHERE assembly_id = $1)",
			3, params, &res, err) < 0)
		return -1;
	current = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return current;
}

static int
load_unit(struct fo_run *ctx, const struct fo_billing_opts *opts, struct unit *u,
	  int *changed, fo_err *err)
{
	struct load l;
	struct timespec t0;
	PGresult *res, *landed = NULL;
	fo_buf totals = FO_BUF_INIT;
	int rc = -1, todo, committed = 0;

	memset(&l, 0, sizeof(l));
	l.ctx = ctx;
	l.opts = opts;
	l.u = u;
	l.crc = crc32(0L, Z_NULL, 0);
	*changed = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	snprintf(l.staging, sizeof(l.staging), "billing_line_items_load_%lld",
		 ctx->run_id ? ctx->run_id : (long long)getpid());

	if (u->has_manifest && !opts->force) {
		int current = assembly_is_current(ctx, u, err);

		if (current < 0)
			return -1;
		if (current) {
			fo_logf(FO_LOG_INFO, FO_FIELDS(FO_STR("source", u->label),
						       FO_STR("assembly_id", u->assembly_id)),
				"%s: nothing new: assembly %s is already loaded (--force to load it"
				" again)", u->label, u->assembly_id);
			add_details(&l, "nothing_new");
			return 0;
		}
	}
	if (u->has_manifest) {
		if (fo_manifest_resolve(&u->man, err) < 0)
			return -1;
		u->files = u->man.files;
	}

	/* Partitions belong to the writer role, so that every job can swap them. */
	if (fo_pg_begin_writer(ctx->conn, err) < 0)
		return -1;
	if (fo_pg_query(ctx->conn, "SELECT nextval('finops.billing_load_id_seq')", 0, NULL, &res,
			err) < 0)
		goto out;
	l.load_id = atoll(PQgetvalue(res, 0, 0));
	snprintf(l.load_id_text, sizeof(l.load_id_text), "%lld", l.load_id);
	PQclear(res);

	if (billing_read_files(&l, err) < 0)
		goto out;
	if (!u->has_manifest)
		snprintf(u->assembly_id, sizeof(u->assembly_id), "crc32:%08lx:%llu",
			 (unsigned long)l.crc, l.bytes);
	if (u->has_manifest && u->man.period[0])
		for (size_t i = 0; i < l.ngroups; i++)
			if (strcmp(l.groups[i].period, u->man.period) != 0)
				fo_logf(FO_LOG_WARN, FO_FIELDS(FO_STR("manifest_period", u->man.period),
							       FO_STR("row_period", l.groups[i].period),
							       FO_INT("rows", l.groups[i].rows)),
					"%s: %lld rows carry billing period %s, not the manifest's %s;"
					" they are loaded as period %s", u->label, l.groups[i].rows,
					l.groups[i].period, u->man.period, l.groups[i].period);
	if (billing_landed_totals(&l, &landed, err) < 0 || billing_reconcile(&l, landed, err) < 0)
		goto out;
	todo = billing_decide(&l, err);
	if (todo < 0)
		goto out;
	describe_totals(&l, &totals);
	if (!todo) {
		fo_logf(FO_LOG_INFO, FO_FIELDS(FO_STR("source", u->label),
					       FO_STR("assembly_id", u->assembly_id)),
			"%s: nothing new: this assembly is already loaded (--force to load it again)",
			u->label);
		add_details(&l, "nothing_new");
		rc = 0;
		goto out;
	}
	if (ctx->dry_run) {
		fo_logf(FO_LOG_INFO, FO_FIELDS(FO_STR("source", u->label), FO_INT("rows", l.rows)),
			"dry run: would load %lld rows into %zu billing period(s): %s", l.rows,
			l.ngroups, fo_buf_str(&totals));
		add_details(&l, "dry_run");
		*changed = 1;      /* it would change: exit 0, not 99 */
		rc = 0;
		goto out;
	}
	/*
	 * Creating, detaching and attaching partitions of the one parent table
	 * takes its locks in an order two loads cannot agree on (two sources of
	 * a new period deadlocked at CREATE TABLE ... PARTITION OF): one load at
	 * a time swaps its partitions in, until it commits. A swap is quick;
	 * the long part of a load (reading, COPY, reconciling) still overlaps.
	 */
	if (billing_sql(&l, err, "SELECT pg_advisory_xact_lock(hashtextextended("
		"'finops:billing_ingest:partitions', 0))") < 0)
		goto out;
	if (billing_swap(&l, landed, ms_since(&t0), err) < 0)
		goto out;
	if (!l.staging_kept && billing_sql(&l, err, "DROP TABLE finops.%s", l.staging) < 0)
		goto out;
	if (fo_pg_commit(ctx->conn, err) < 0)
		goto out;
	committed = 1;
	*changed = 1;
	ctx->rows_written += l.rows;
	add_details(&l, "loaded");
	for (size_t i = 0; i < l.ngroups; i++)
		fo_logf(FO_LOG_INFO,
			FO_FIELDS(FO_STR("source", u->label), FO_STR("billing_period", l.groups[i].period),
				  FO_STR("billing_account_id", l.groups[i].account),
				  FO_INT("source_id", l.groups[i].source_id),
				  FO_INT("rows", l.groups[i].rows), FO_INT("load_id", l.load_id),
				  FO_INT("replaced_load_id", l.groups[i].old_load)),
			"loaded billing period %s of %s (%lld rows)%s", l.groups[i].period,
			l.groups[i].account, l.groups[i].rows,
			l.groups[i].old_load ? ", replacing the previous load" : "");
	fo_logf(FO_LOG_INFO, FO_FIELDS(FO_STR("source", u->label), FO_STR("format", l.format_name),
				       FO_INT("rows", l.rows), FO_INT("duration_ms", ms_since(&t0))),
		"%s: loaded %lld rows; billed %s", u->label, l.rows, fo_buf_str(&totals));
	rc = 0;
out:
	if (l.copy)
		fo_copy_abort(l.copy, "load failed");
	if (!committed)
		fo_pg_rollback(ctx->conn);
	PQclear(landed);
	fo_cur_mapper_free(l.mapper);
	billing_daily_free(l.daily);
	for (size_t i = 0; i < l.ngroups; i++)
		free(l.groups[i].account);
	free(l.groups);
	free(l.gslots);
	fo_buf_free(&totals);
	return rc;
}

int
fo_billing_check(const struct fo_billing_opts *opts, fo_err *err)
{
	if (opts->nsources == 0)
		return fo_err_set(err, FO_EXIT_USAGE, "name at least one manifest, file or directory");
	for (size_t i = 0; i < opts->nsources && !opts->skip_undelivered; i++)
		if (fo_source_check(opts->sources[i], err) < 0)
			return -1;
	return 0;
}

int
fo_billing_ingest(struct fo_run *ctx, const struct fo_billing_opts *opts, fo_err *err)
{
	size_t loaded = 0, skipped = 0;
	int failed = 0;

	if (fo_billing_check(opts, err) < 0)
		return -1;
	fo_source_set_region(opts->region);
	for (size_t i = 0; i < opts->nsources && !failed; i++) {
		struct unit u;
		int changed, rc, missing = 0;

		if (opts->skip_undelivered &&
		    billing_undelivered(opts->sources[i], &missing, err) < 0)
			return -1;
		if (missing) {
			skipped++;
			continue;
		}
		rc = billing_unit(&u, opts->sources[i],
				    opts->report_name ? opts->report_name : "default", err);
		if (rc == 0)
			rc = load_unit(ctx, opts, &u, &changed, err);
		billing_unit_free(&u);
		if (rc < 0) {
			failed = 1;
			break;
		}
		if (changed)
			loaded++;
		else
			skipped++;
	}
	if (failed)
		return -1;
	ctx->nothing_new = loaded == 0;
	fo_buf_printf(&ctx->summary, "%zu unit(s) %s, %zu unchanged or skipped%s", loaded,
		      ctx->dry_run ? "would load" : "loaded", skipped,
		      ctx->dry_run ? " (dry run: nothing written)" : "");
	return 0;
}
