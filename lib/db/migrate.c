/*
 * migrate.c: forward-only schema migrations, recorded with their checksums.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "finops/log.h"
#include "finops/migrate.h"
#include "finops/pg.h"

#define LOCK_JOB "finops_migrate"
#define LOCK_SCOPE "schema"

static const char bootstrap_sql[] =
	"CREATE SCHEMA IF NOT EXISTS finops;\n"
	"CREATE TABLE IF NOT EXISTS finops.schema_migrations (\n"
	"  version integer PRIMARY KEY,\n"
	"  name text NOT NULL,\n"
	"  checksum_sha256 text NOT NULL,\n"
	"  applied_at timestamptz NOT NULL DEFAULT now(),\n"
	"  applied_by text NOT NULL DEFAULT current_user,\n"
	"  duration_ms bigint NOT NULL DEFAULT 0\n"
	");\n"
	"COMMENT ON TABLE finops.schema_migrations IS "
	"'Migrations applied by finops_migrate, with the SHA-256 of each file.';";

struct recorded {
	int version;
	char name[128];
	char checksum[65];
};

static int
validate_list(const struct fo_migration *list, size_t n, fo_err *err)
{
	for (size_t i = 0; i < n; i++) {
		if (list[i].version <= 0 || !list[i].name || !list[i].sql)
			return fo_err_set(err, FO_EXIT_FAILURE, "migration list entry %zu is invalid", i);
		if (i > 0 && list[i].version <= list[i - 1].version)
			return fo_err_set(err, FO_EXIT_FAILURE,
					  "migrations %s and %s: versions must strictly increase",
					  list[i - 1].name, list[i].name);
	}
	return 0;
}

/* The SHA-256 (hex) of sql's UTF-8 bytes, as sha256sum prints for the file. */
static int
checksum(PGconn *conn, const char *sql, char out[65], fo_err *err)
{
	const char *params[] = {sql};
	PGresult *res;

	if (fo_pg_query(conn, "SELECT encode(sha256(convert_to($1, 'UTF8')), 'hex')", 1, params,
			&res, err) < 0)
		return -1;
	snprintf(out, 65, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

static int
table_exists(PGconn *conn, int *exists, fo_err *err)
{
	PGresult *res;

	if (fo_pg_query(conn, "SELECT to_regclass('finops.schema_migrations') IS NOT NULL", 0, NULL,
			&res, err) < 0)
		return -1;
	*exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return 0;
}

/* Reads the recorded migrations; *out is malloc'ed, caller frees. */
static int
load_recorded(PGconn *conn, struct recorded **out, int *count, fo_err *err)
{
	PGresult *res;
	int n;

	*out = NULL;
	*count = 0;
	if (fo_pg_query(conn,
			"SELECT version, name, checksum_sha256 FROM finops.schema_migrations"
			" ORDER BY version", 0, NULL, &res, err) < 0)
		return -1;
	n = PQntuples(res);
	if (n > 0) {
		*out = calloc((size_t)n, sizeof(**out));
		if (!*out) {
			PQclear(res);
			return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		}
	}
	for (int i = 0; i < n; i++) {
		(*out)[i].version = atoi(PQgetvalue(res, i, 0));
		snprintf((*out)[i].name, sizeof((*out)[i].name), "%s", PQgetvalue(res, i, 1));
		snprintf((*out)[i].checksum, sizeof((*out)[i].checksum), "%s", PQgetvalue(res, i, 2));
	}
	*count = n;
	PQclear(res);
	return 0;
}

/*
 * Compares what is recorded with the list. Fills report and pending[] (1 for
 * each list entry not yet recorded). Fails on a changed migration, or on a
 * pending one older than an applied one.
 */
static int
compare(PGconn *conn, const struct fo_migration *list, size_t n, const struct recorded *rec,
	int nrec, int *pending, struct fo_migrate_report *report, fo_err *err)
{
	memset(report, 0, sizeof(*report));
	for (int r = 0; r < nrec; r++) {
		size_t i;

		if (rec[r].version > report->latest)
			report->latest = rec[r].version;
		for (i = 0; i < n && list[i].version != rec[r].version; i++)
			;
		if (i == n) {
			report->unknown++;
			if (rec[r].version >= report->unknown_latest) {
				report->unknown_latest = rec[r].version;
				snprintf(report->unknown_name, sizeof(report->unknown_name), "%s",
					 rec[r].name);
			}
			continue;
		}
		report->applied_before++;
	}
	for (size_t i = 0; i < n; i++) {
		const struct recorded *found = NULL;
		char sum[65];

		for (int r = 0; r < nrec; r++)
			if (rec[r].version == list[i].version)
				found = &rec[r];
		pending[i] = found == NULL;
		if (!found) {
			report->pending++;
			if (list[i].version < report->latest)
				return fo_err_set(err, FO_EXIT_USAGE,
						  "migration %s is not applied but a later one (%04d) is:"
						  " migrations must be applied in order", list[i].name,
						  report->latest);
			continue;
		}
		if (checksum(conn, list[i].sql, sum, err) < 0)
			return -1;
		if (strcmp(found->name, list[i].name) != 0 || strcmp(found->checksum, sum) != 0)
			return fo_err_set(err, FO_EXIT_USAGE,
					  "migration %s was changed after it was applied as %s"
					  " (recorded sha256 %.12s, now %.12s): applied migrations must"
					  " never change; put the change in a new migration",
					  list[i].name, found->name, found->checksum, sum);
	}
	return 0;
}

/*
 * A database migrated by a newer release: a binary that does not know its
 * schema must not write to it (nor finops_migrate go on as if it were
 * current). FO_EXIT_USAGE naming both versions.
 */
static int
newer_than_binary(const struct fo_migration *list, size_t n,
		  const struct fo_migrate_report *report, fo_err *err)
{
	if (!report->unknown)
		return 0;
	return fo_err_set(err, FO_EXIT_USAGE, "the database schema is newer than this binary: it"
			  " has migration %s (%d migration(s) this binary does not know), this"
			  " binary knows up to %s; run the release that migrated it",
			  report->unknown_name, report->unknown, n ? list[n - 1].name : "none");
}

static long long
elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000LL + (now.tv_nsec - start->tv_nsec) / 1000000;
}

static int
apply_one(PGconn *conn, const struct fo_migration *m, fo_err *err)
{
	struct timespec start;
	char version[16], sum[65], ms[32];
	const char *params[4];

	clock_gettime(CLOCK_MONOTONIC, &start);
	if (checksum(conn, m->sql, sum, err) < 0 || fo_pg_begin(conn, err) < 0)
		return -1;
	if (fo_pg_exec(conn, m->sql, err) < 0) {
		fo_pg_rollback(conn);
		return fo_err_prefix(err, "migration %s: ", m->name);
	}
	if (PQtransactionStatus(conn) != PQTRANS_INTRANS) {
		fo_pg_rollback(conn);
		return fo_err_set(err, FO_EXIT_FAILURE,
				  "migration %s ended the transaction itself: a migration must not"
				  " contain BEGIN, COMMIT or ROLLBACK", m->name);
	}
	snprintf(version, sizeof(version), "%d", m->version);
	snprintf(ms, sizeof(ms), "%lld", elapsed_ms(&start));
	params[0] = version;
	params[1] = m->name;
	params[2] = sum;
	params[3] = ms;
	if (fo_pg_query(conn,
			"INSERT INTO finops.schema_migrations (version, name, checksum_sha256, duration_ms)"
			" VALUES ($1, $2, $3, $4)", 4, params, NULL, err) < 0 ||
	    fo_pg_commit(conn, err) < 0) {
		fo_pg_rollback(conn);
		return fo_err_prefix(err, "migration %s: ", m->name);
	}
	fo_logf(FO_LOG_INFO, FO_FIELDS(FO_STR("migration", m->name), FO_INT("version", m->version),
				       FO_STR("sha256", sum), FO_INT("duration_ms", elapsed_ms(&start))),
		"applied migration %s", m->name);
	return 0;
}

int
fo_migrate_apply(PGconn *conn, const struct fo_migration *list, size_t n, int dry_run,
		 int lock_wait_s, struct fo_migrate_report *report, fo_err *err)
{
	struct recorded *rec = NULL;
	int nrec = 0, exists = 0, rc = -1, locked = 0;
	int *pending = NULL;

	memset(report, 0, sizeof(*report));
	if (validate_list(list, n, err) < 0)
		return -1;
	pending = calloc(n ? n : 1, sizeof(*pending));
	if (!pending)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	if (fo_pg_lock(conn, LOCK_JOB, LOCK_SCOPE, lock_wait_s, err) < 0)
		goto out;
	locked = 1;
	if (table_exists(conn, &exists, err) < 0)
		goto out;
	if (!exists && !dry_run && fo_pg_exec(conn, bootstrap_sql, err) < 0) {
		fo_err_prefix(err, "creating finops.schema_migrations: ");
		goto out;
	}
	if ((exists || !dry_run) && load_recorded(conn, &rec, &nrec, err) < 0)
		goto out;
	if (compare(conn, list, n, rec, nrec, pending, report, err) < 0 ||
	    newer_than_binary(list, n, report, err) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (!pending[i])
			continue;
		if (dry_run) {
			fo_logf(FO_LOG_INFO, FO_FIELDS(FO_STR("migration", list[i].name)),
				"would apply migration %s", list[i].name);
			continue;
		}
		if (apply_one(conn, &list[i], err) < 0)
			goto out;
		report->applied_now++;
		report->pending--;
		if (list[i].version > report->latest)
			report->latest = list[i].version;
	}
	rc = 0;
out:
	if (locked)
		fo_pg_unlock(conn, LOCK_JOB, LOCK_SCOPE, NULL);
	free(rec);
	free(pending);
	return rc;
}

int
fo_migrate_check(PGconn *conn, const struct fo_migration *list, size_t n,
		 struct fo_migrate_report *report, fo_err *err)
{
	struct recorded *rec = NULL;
	int nrec = 0, exists = 0, rc = -1;
	int *pending = NULL;

	memset(report, 0, sizeof(*report));
	if (validate_list(list, n, err) < 0)
		return -1;
	if (table_exists(conn, &exists, err) < 0)
		return -1;
	if (!exists)
		return fo_err_set(err, FO_EXIT_USAGE,
				  "the database has no finops schema: run finops_migrate first");
	pending = calloc(n ? n : 1, sizeof(*pending));
	if (!pending)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	if (load_recorded(conn, &rec, &nrec, err) < 0 ||
	    compare(conn, list, n, rec, nrec, pending, report, err) < 0 ||
	    newer_than_binary(list, n, report, err) < 0)
		goto out;
	if (report->pending) {
		for (size_t i = 0; i < n; i++)
			if (pending[i]) {
				fo_err_set(err, FO_EXIT_USAGE,
					   "the database schema is behind this binary: %d migration(s)"
					   " pending, starting with %s; run finops_migrate first",
					   report->pending, list[i].name);
				goto out;
			}
	}
	rc = 0;
out:
	free(rec);
	free(pending);
	return rc;
}
