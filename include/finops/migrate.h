/*
 * migrate.h: forward-only schema migrations.
 *
 * Migrations are the files sql/migrations/NNNN_name.sql, compiled into the
 * library in version order (fo_migrations_embedded). Each is applied once,
 * inside its own transaction, and recorded in finops.schema_migrations with
 * the SHA-256 of its text; a recorded migration whose text has changed since
 * is an error. Applying takes an advisory lock, so concurrent runs are safe,
 * and is idempotent.
 */
#ifndef FINOPS_MIGRATE_H
#define FINOPS_MIGRATE_H

#include <stddef.h>
#include <libpq-fe.h>

#include "finops/error.h"

struct fo_migration {
	int version;         /* NNNN of the file name */
	const char *name;    /* file name without .sql */
	const char *sql;
};

extern const struct fo_migration fo_migrations_embedded[];
extern const size_t fo_migrations_embedded_count;

struct fo_migrate_report {
	int applied_before;   /* migrations already recorded */
	int applied_now;      /* migrations applied by this call */
	int pending;          /* migrations not applied (dry run, or check) */
	int latest;           /* highest recorded version afterwards */
	int unknown;          /* recorded versions this binary does not know */
	int unknown_latest;   /* the newest of them, and its name */
	char unknown_name[128];
};

/*
 * Applies the migrations of list (n entries, versions strictly increasing)
 * that are not yet recorded. With dry_run, applies nothing and counts them in
 * report->pending. Fails, before applying anything, when a recorded migration
 * differs from the list's text (FO_EXIT_USAGE). Another migrator holding the
 * lock is waited for lock_wait_s seconds (as fo_pg_lock()).
 */
int fo_migrate_apply(PGconn *conn, const struct fo_migration *list, size_t n,
		     int dry_run, int lock_wait_s, struct fo_migrate_report *report,
		     fo_err *err);

/*
 * Checks that every migration of list is recorded with the same checksum, as
 * a job does before it starts. Pending or changed migrations fail with
 * FO_EXIT_USAGE and a message telling the operator to run finops_migrate; so
 * do recorded migrations this binary does not know (a newer release migrated
 * the database), naming both versions.
 */
int fo_migrate_check(PGconn *conn, const struct fo_migration *list, size_t n,
		     struct fo_migrate_report *report, fo_err *err);

#endif
