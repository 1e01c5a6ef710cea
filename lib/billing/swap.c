/*
 * swap.c: after parsing, the reconciliation, what is new, the partition
 * swap and the audit (see load.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finops/jobrun.h"
#include "finops/log.h"
#include "finops/pg.h"
#include "billing/load.h"
#include "core/core.h"

/*
 * One scan of the new rows gives, per (source, period, currency), the row
 * count and the billed, effective and list totals: the audit's figures, and
 * what the totals counted while parsing must equal. *out is the caller's.
 */
int
billing_landed_totals(struct load *l, PGresult **out, fo_err *err)
{
	char q[512];

	snprintf(q, sizeof(q),
		 "SELECT source_id, billing_period, billing_currency, count(*), sum(billed_cost),"
		 "       sum(effective_cost), coalesce(sum(list_cost), 0)"
		 "  FROM finops.%s GROUP BY 1, 2, 3", l->staging);
	return fo_pg_query(l->ctx->conn, q, 0, NULL, out, err);
}

/* Adds column col of the landed rows of currency code to sum. */
static int
landed_sum(struct load *l, PGresult *landed, const char *code, int col, fo_dec_sum *sum,
	   long long *rows, fo_err *err)
{
	fo_dec_zero(sum);
	*rows = 0;
	for (int i = 0; i < PQntuples(landed); i++) {
		if (strcmp(PQgetvalue(landed, i, 2), code) != 0)
			continue;
		*rows += atoll(PQgetvalue(landed, i, 3));
		if (fo_dec_add(sum, PQgetvalue(landed, i, col), (size_t)PQgetlength(landed, i, col)) < 0)
			return fo_err_set(err, FO_EXIT_FAILURE, "%s: total %s out of range",
					  l->u->label, PQgetvalue(landed, i, col));
	}
	return 0;
}

/*
 * The totals counted while parsing (rows, billed and effective cost per
 * currency) must equal what landed in the new table.
 */
int
billing_reconcile(struct load *l, PGresult *landed, fo_err *err)
{
	for (size_t k = 0; k < l->ncur; k++) {
		static const struct {
			int col;
			const char *what;
		} checks[] = {{4, "billed"}, {5, "effective"}};
		struct currency_total *t = &l->cur[k];

		for (size_t c = 0; c < sizeof(checks) / sizeof(checks[0]); c++) {
			const fo_dec_sum *parsed = c == 0 ? &t->billed : &t->effective;
			fo_dec_sum sum;
			long long rows;
			char mine[160], theirs[160];

			if (landed_sum(l, landed, t->code, checks[c].col, &sum, &rows, err) < 0)
				return -1;
			fo_dec_format(parsed, mine, sizeof(mine));
			fo_dec_format(&sum, theirs, sizeof(theirs));
			if (rows != t->rows || strcmp(mine, theirs) != 0)
				return fo_err_set(err, FO_EXIT_FAILURE,
						  "%s: reconciliation failed for %s: parsed %lld rows,"
						  " %s %s; loaded %lld rows, %s %s", l->u->label,
						  t->code, t->rows, checks[c].what, mine, rows,
						  checks[c].what, theirs);
		}
	}
	for (int i = 0; i < PQntuples(landed); i++) {
		int known = 0;

		for (size_t k = 0; k < l->ncur; k++)
			known |= strcmp(PQgetvalue(landed, i, 2), l->cur[k].code) == 0;
		if (!known)
			return fo_err_set(err, FO_EXIT_FAILURE,
					  "%s: reconciliation failed: %s rows landed that were not parsed",
					  l->u->label, PQgetvalue(landed, i, 2));
	}
	return 0;
}

/*
 * Decides, per (source, period), whether this unit replaces what is there.
 * Returns 1 when there is something to load, 0 when nothing is new.
 */
int
billing_decide(struct load *l, fo_err *err)
{
	int same = 0, older = 0;

	for (size_t i = 0; i < l->ngroups; i++) {
		struct group *g = &l->groups[i];
		const char *params[2] = {g->source_id_text, g->period};
		PGresult *res;

		if (fo_pg_query(l->ctx->conn,
				"SELECT load_id, assembly_id, coalesce(extract(epoch FROM assembly_time), 0)"
				"  FROM finops.billing_loads"
				" WHERE source_id = $1 AND billing_period = $2 AND status = 'current'"
				"   FOR UPDATE", 2, params, &res, err) < 0)
			return -1;
		g->replace = 1;
		if (PQntuples(res) == 1) {
			double t = atof(PQgetvalue(res, 0, 2));

			g->old_load = atoll(PQgetvalue(res, 0, 0));
			if (strcmp(PQgetvalue(res, 0, 1), l->u->assembly_id) == 0) {
				same++;
			} else if (l->u->assembly_time && t > (double)l->u->assembly_time) {
				older++;
				fo_logf(FO_LOG_WARN,
					FO_FIELDS(FO_STR("period", g->period), FO_STR("account", g->account),
						  FO_STR("current_assembly", PQgetvalue(res, 0, 1)),
						  FO_STR("assembly", l->u->assembly_id)),
					"%s: a newer assembly of %s is already loaded; not replacing it with"
					" this older one%s", l->u->label, g->period,
					l->opts->force ? " (--force: replacing anyway)" : " (--force to load it)");
			}
		}
		PQclear(res);
	}
	if (l->opts->force)
		return 1;
	if (older)
		return 0;
	return same < (int)l->ngroups;
}

/* Leaf table name of a (source, period): billing_line_items_p20261001_s3 */
static void
leaf_name(const struct group *g, char *out, size_t len)
{
	snprintf(out, len, "billing_line_items_p%.4s%.2s%.2s_s%d", g->period, g->period + 5,
		 g->period + 8, g->source_id);
}

/*
 * Moves the new rows of period, and of one source when source_id >= 0
 * (with the CHECK its partition needs), into a table of their own (a load
 * of several groups); the count moved must be the count parsed.
 */
static int
move_rows(struct load *l, const char *table, const char *period, int source_id,
	  long long rows, fo_err *err)
{
	fo_buf cols = FO_BUF_INIT, q = FO_BUF_INIT;
	PGresult *res;
	int rc;

	for (int c = 0; c < FO_CUR_NCOLS; c++)
		fo_buf_printf(&cols, "%s%s", c ? ", " : "", fo_cur_column_names[c]);
	rc = billing_sql(l, err, "CREATE TABLE finops.%s (LIKE " PARENT " INCLUDING DEFAULTS"
			 " INCLUDING CONSTRAINTS)", table);
	if (rc == 0 && source_id >= 0)
		rc = billing_sql(l, err, "ALTER TABLE finops.%s ADD CONSTRAINT %s_bounds"
				 " CHECK (billing_period = '%s' AND source_id = %d)", table, table,
				 period, source_id);
	fo_buf_printf(&q, "INSERT INTO finops.%s (%s) SELECT %s FROM finops.%s"
		      " WHERE billing_period = '%s'", table, cols.data, cols.data, l->staging,
		      period);
	if (source_id >= 0)
		fo_buf_printf(&q, " AND source_id = %d", source_id);
	if (rc == 0)
		rc = q.oom || cols.oom ? fo_err_set(err, FO_EXIT_FAILURE, "out of memory")
		     : fo_pg_query(l->ctx->conn, q.data, 0, NULL, &res, err);
	if (rc == 0) {
		if (atoll(PQcmdTuples(res)) != rows)
			rc = fo_err_set(err, FO_EXIT_FAILURE, "%s: %s rows of %s moved, %lld parsed",
					l->u->label, PQcmdTuples(res), period, rows);
		PQclear(res);
	}
	fo_buf_free(&cols);
	fo_buf_free(&q);
	return rc;
}

static void
period_table_name(const char *period, char *out, size_t len)
{
	snprintf(out, len, "billing_line_items_p%.4s%.2s%.2s", period, period + 5, period + 8);
}

static int
table_exists(struct load *l, const char *table, int *exists, fo_err *err)
{
	char reg[160];
	const char *params[1] = {reg};
	PGresult *res;

	snprintf(reg, sizeof(reg), "finops.%s", table);
	if (fo_pg_query(l->ctx->conn, "SELECT to_regclass($1) IS NOT NULL", 1, params, &res, err) < 0)
		return -1;
	*exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return 0;
}

/* Runs the SQL text of b (any length); frees b. */
static int
sql_buf(struct load *l, fo_buf *b, fo_err *err)
{
	int rc = b->oom ? fo_err_set(err, FO_EXIT_FAILURE, "out of memory")
		 : fo_pg_exec(l->ctx->conn, b->data, err);

	fo_buf_free(b);
	return rc;
}

/*
 * Source ids between brackets: "()" a partition's list, "(3, 7, 12)"; "{}"
 * an int[] parameter, "{3, 7, 12}".
 */
static void
id_list(fo_buf *b, const int *ids, size_t n, const char *brackets)
{
	fo_buf_putc(b, brackets[0]);
	for (size_t i = 0; i < n; i++)
		fo_buf_printf(b, "%s%d", i ? ", " : "", ids[i]);
	fo_buf_putc(b, brackets[1]);
}

static int
cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return x < y ? -1 : x > y;
}

/*
 * The period's table, made when the period is new: on its own and then
 * attached, since ATTACH takes the parent's SHARE UPDATE EXCLUSIVE lock,
 * which readers and the other loads' staging (ACCESS SHARE) do not block,
 * where CREATE TABLE ... PARTITION OF needs ACCESS EXCLUSIVE and deadlocked
 * with them. The swap lock (load_unit) keeps two loads from making it at once.
 */
static int
ensure_period_table(struct load *l, const char *period, fo_err *err)
{
	char table[64];
	int exists;

	period_table_name(period, table, sizeof(table));
	if (table_exists(l, table, &exists, err) < 0)
		return -1;
	if (exists)
		return 0;
	if (billing_sql(l, err, "CREATE TABLE finops.%s (LIKE " PARENT " INCLUDING DEFAULTS"
		" INCLUDING CONSTRAINTS) PARTITION BY LIST (source_id)", table) < 0 ||
	    billing_sql(l, err, "ALTER TABLE " PARENT " ATTACH PARTITION finops.%s FOR VALUES IN ('%s')",
		table, period) < 0)
		return -1;
	return 0;
}

/*
 * Takes the rows of sources ids (n, sorted) of a period out of its table:
 * their own partitions are detached and dropped, their rows in the DEFAULT
 * partition (where loads of many sources put them) deleted. *dflt gets the
 * DEFAULT partition's name, "" when there is none.
 */
static int
clear_sources(struct load *l, const char *period, const int *ids, size_t n, char *dflt,
	      size_t dlen, fo_err *err)
{
	char table[64], reg[96];
	const char *params[2] = {reg, NULL};
	fo_buf arr = FO_BUF_INIT;
	PGresult *res;
	int rc = 0;

	dflt[0] = '\0';
	period_table_name(period, table, sizeof(table));
	snprintf(reg, sizeof(reg), "finops.%s", table);
	if (fo_pg_query(l->ctx->conn,
			"SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
			"  JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass",
			1, params, &res, err) < 0)
		return -1;
	for (int r = 0; r < PQntuples(res) && rc == 0; r++) {
		const char *leaf = PQgetvalue(res, r, 0), *bound = PQgetvalue(res, r, 1);
		int id;

		if (strcmp(bound, "DEFAULT") == 0) {
			snprintf(dflt, dlen, "%s", leaf);
			continue;
		}
		/* a source's own partition: FOR VALUES IN (7) */
		if (sscanf(bound, "FOR VALUES IN (%d)", &id) != 1 ||
		    !bsearch(&id, ids, n, sizeof(*ids), cmp_int))
			continue;
		rc = billing_sql(l, err, "ALTER TABLE finops.%s DETACH PARTITION finops.%s", table, leaf);
		if (rc == 0)
			rc = billing_sql(l, err, "DROP TABLE finops.%s", leaf);
	}
	PQclear(res);
	if (rc == 0 && dflt[0]) {
		char q[256];

		id_list(&arr, ids, n, "{}");
		params[0] = arr.data;
		snprintf(q, sizeof(q), "DELETE FROM finops.%s WHERE source_id = ANY($1::int[])", dflt);
		rc = arr.oom ? fo_err_set(err, FO_EXIT_FAILURE, "out of memory")
		     : fo_pg_query(l->ctx->conn, q, 1, params, NULL, err);
	}
	fo_buf_free(&arr);
	return rc;
}

/* Puts table in place as the partition of the sources ids (n) of a period. */
static int
attach_leaf(struct load *l, const char *period, const char *table, const char *leaf,
	    const int *ids, size_t n, fo_err *err)
{
	char ptable[64];
	fo_buf q = FO_BUF_INIT;

	period_table_name(period, ptable, sizeof(ptable));
	if (billing_sql(l, err, "ALTER TABLE finops.%s RENAME TO %s", table, leaf) < 0)
		return -1;
	fo_buf_printf(&q, "ALTER TABLE finops.%s ATTACH PARTITION finops.%s FOR VALUES IN ",
		      ptable, leaf);
	id_list(&q, ids, n, "()");
	return sql_buf(l, &q, err);
}

static int record_load(struct load *l, const struct group *g, PGresult *landed, long long ms,
		       fo_err *err);

/*
 * The new rows of a period of many sources, into its DEFAULT partition
 * (their old rows are already out of it): as the partition itself when
 * there is none yet, else added to it. k names the split table.
 */
static int
into_default(struct load *l, const char *period, long long rows, const char *dflt, size_t k,
	     size_t nperiods, fo_err *err)
{
	char ptable[64], table[96], leaf[96];
	int rc = 0;

	period_table_name(period, ptable, sizeof(ptable));
	if (nperiods == 1) {
		snprintf(table, sizeof(table), "%s", l->staging);
		l->staging_kept = 1;
	} else {
		snprintf(table, sizeof(table), "%s_p%zu", l->staging, k + 1);
		rc = move_rows(l, table, period, -1, rows, err);
	}
	if (rc < 0)
		return -1;
	if (!dflt[0]) {
		snprintf(leaf, sizeof(leaf), "%s_default", ptable);
		if (billing_sql(l, err, "ALTER TABLE finops.%s RENAME TO %s", table, leaf) < 0)
			return -1;
		return billing_sql(l, err, "ALTER TABLE finops.%s ATTACH PARTITION finops.%s DEFAULT", ptable,
			   leaf);
	}
	if (billing_sql(l, err, "INSERT INTO finops.%s SELECT * FROM finops.%s", dflt, table) < 0)
		return -1;
	if (nperiods == 1)
		l->staging_kept = 0;      /* copied: dropped at the end with the others */
	else if (billing_sql(l, err, "DROP TABLE finops.%s", table) < 0)
		return -1;
	return 0;
}

static int
cmp_group_period(const void *a, const void *b)
{
	const struct group *x = *(const struct group *const *)a;
	const struct group *y = *(const struct group *const *)b;
	int c = strcmp(x->period, y->period);

	return c ? c : (x->source_id > y->source_id) - (x->source_id < y->source_id);
}

/*
 * Puts every (source, period) of the load in place, period by period: the
 * old rows of its sources out (clear_sources), the new ones in, one
 * partition a source, or one for all of them past MAX_LEAVES; then the audit
 * rows. Runs under the swap lock, in the load's transaction.
 */
int
billing_swap(struct load *l, PGresult *landed, long long ms, fo_err *err)
{
	struct group **order = malloc((l->ngroups ? l->ngroups : 1) * sizeof(*order));
	int *ids = malloc((l->ngroups ? l->ngroups : 1) * sizeof(*ids));
	size_t nperiods = 0, k = 0;
	char dflt[96];
	int rc = 0;

	if (!order || !ids) {
		free(order);
		free(ids);
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	}
	for (size_t i = 0; i < l->ngroups; i++)
		order[i] = &l->groups[i];
	qsort(order, l->ngroups, sizeof(*order), cmp_group_period);
	for (size_t i = 0; i < l->ngroups; i++)
		nperiods += i == 0 || strcmp(order[i]->period, order[i - 1]->period) != 0;
	for (size_t i = 0; i < l->ngroups && rc == 0; i = k) {
		const char *period = order[i]->period;
		long long rows = 0;
		size_t n;

		for (k = i; k < l->ngroups && strcmp(order[k]->period, period) == 0; k++) {
			ids[k - i] = order[k]->source_id;
			rows += order[k]->rows;
		}
		n = k - i;
		rc = ensure_period_table(l, period, err);
		if (rc == 0)
			rc = clear_sources(l, period, ids, n, dflt, sizeof(dflt), err);
		if (rc == 0 && n <= MAX_LEAVES) {
			for (size_t j = i; j < k && rc == 0; j++) {
				char table[96], leaf[96];

				if (l->multi) {
					snprintf(table, sizeof(table), "%s_%zu", l->staging, j + 1);
					rc = move_rows(l, table, order[j]->period, order[j]->source_id,
						      order[j]->rows, err);
				} else {
					snprintf(table, sizeof(table), "%s", l->staging);
					l->staging_kept = 1;
				}
				leaf_name(order[j], leaf, sizeof(leaf));
				if (rc == 0)
					rc = attach_leaf(l, period, table, leaf, &order[j]->source_id, 1,
							 err);
			}
		} else if (rc == 0) {
			rc = into_default(l, period, rows, dflt, i, nperiods, err);
		}
		for (size_t j = i; j < k && rc == 0; j++)
			rc = record_load(l, order[j], landed, ms, err);
		if (rc == 0) {
			fo_buf arr = FO_BUF_INIT;

			id_list(&arr, ids, n, "{}");
			rc = arr.oom ? fo_err_set(err, FO_EXIT_FAILURE, "out of memory")
			     : billing_daily_write(l, period, arr.data, err);
			fo_buf_free(&arr);
		}
	}
	free(order);
	free(ids);
	return rc;
}

/* {"USD": {"rows": n, "billed_cost": x, ...}, ...} for one (source, period). */
static void
totals_json(const struct group *g, PGresult *landed, fo_buf *out)
{
	int first = 1;

	fo_buf_putc(out, '{');
	for (int i = 0; i < PQntuples(landed); i++) {
		if (strcmp(PQgetvalue(landed, i, 0), g->source_id_text) != 0 ||
		    strcmp(PQgetvalue(landed, i, 1), g->period) != 0)
			continue;
		fo_buf_printf(out, "%s\"%s\":{\"rows\":%s,\"billed_cost\":%s,\"effective_cost\":%s,"
			      "\"list_cost\":%s}", first ? "" : ",", PQgetvalue(landed, i, 2),
			      PQgetvalue(landed, i, 3), PQgetvalue(landed, i, 4),
			      PQgetvalue(landed, i, 5), PQgetvalue(landed, i, 6));
		first = 0;
	}
	fo_buf_putc(out, '}');
}

static int
record_load(struct load *l, const struct group *g, PGresult *landed, long long ms, fo_err *err)
{
	char run[24], when[24], dur[24], rows[24];
	char *files = fo_jobrun_args_literal((int)l->u->nfiles, l->u->files);
	fo_buf totals = FO_BUF_INIT;
	const char *params[12];
	int rc;

	if (!files)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	totals_json(g, landed, &totals);
	snprintf(run, sizeof(run), "%lld", l->ctx->run_id);
	snprintf(when, sizeof(when), "%lld", (long long)l->u->assembly_time);
	snprintf(dur, sizeof(dur), "%lld", ms);
	snprintf(rows, sizeof(rows), "%lld", g->rows);
	params[0] = l->load_id_text;
	params[1] = g->source_id_text;
	params[2] = g->period;
	params[3] = l->ctx->run_id ? run : NULL;
	params[4] = l->format_name;
	params[5] = l->u->has_manifest ? l->u->label : NULL;
	params[6] = l->u->assembly_id;
	params[7] = l->u->assembly_time ? when : NULL;
	params[8] = files;
	params[9] = rows;
	params[10] = totals.data;
	params[11] = dur;
	rc = fo_pg_query(l->ctx->conn,
			 "UPDATE finops.billing_loads SET status = 'replaced', replaced_by = $1"
			 " WHERE source_id = $2 AND billing_period = $3 AND status = 'current'",
			 3, params, NULL, err);
	if (rc == 0)
		rc = fo_pg_query(l->ctx->conn,
				 "INSERT INTO finops.billing_loads (load_id, source_id, billing_period,"
				 "  run_id, format, manifest, assembly_id, assembly_time, files, rows_loaded,"
				 "  totals, duration_ms)"
				 " VALUES ($1, $2, $3, $4, $5, $6, $7, to_timestamp($8::double precision),"
				 "         $9::text[], $10, $11::jsonb, $12)", 12, params, NULL, err);
	free(files);
	fo_buf_free(&totals);
	return rc;
}

