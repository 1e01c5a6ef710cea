/*
 * Migrations against a real PostgreSQL: idempotent, checksummed, ordered,
 * atomic, safe concurrently, and the roles they create behave.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "finops/migrate.h"
#include "finops/pg.h"
#include "pgtest.h"

/* Everything a migration could change, in one hash. */
static const char fingerprint_sql[] =
	"SELECT md5(coalesce((SELECT string_agg(table_name || '.' || column_name || ':' || data_type"
	"                     || ':' || coalesce(column_default, ''), ',' ORDER BY 1)"
	"                      FROM information_schema.columns WHERE table_schema = 'finops'), '')"
	" || coalesce((SELECT string_agg(indexdef, ',' ORDER BY 1) FROM pg_indexes"
	"               WHERE schemaname = 'finops'), '')"
	" || coalesce((SELECT string_agg(viewname || definition, ',' ORDER BY 1) FROM pg_views"
	"               WHERE schemaname = 'finops'), '')"
	" || coalesce((SELECT string_agg(grantee || privilege_type || table_name, ',' ORDER BY 1)"
	"                FROM information_schema.role_table_grants WHERE table_schema = 'finops'), '')"
	" || (SELECT string_agg(version || name || checksum_sha256, ',' ORDER BY version)"
	"       FROM finops.schema_migrations))";

static void
test_embedded_migrations_apply_twice_without_change(void **state)
{
	PGconn *conn = pgtest_fresh_db("fo_test_migrate_twice");
	struct fo_migrate_report r;
	char before[64];
	fo_err err;

	(void)state;
	assert_true(fo_migrations_embedded_count >= 1);
	assert_int_equal(fo_migrate_apply(conn, fo_migrations_embedded,
					  fo_migrations_embedded_count, 0, -1, &r, &err), 0);
	assert_int_equal(r.applied_now, (int)fo_migrations_embedded_count);
	assert_int_equal(r.applied_before, 0);
	assert_int_equal(r.pending, 0);
	snprintf(before, sizeof(before), "%s", pgtest_value(conn, fingerprint_sql));

	assert_int_equal(fo_migrate_apply(conn, fo_migrations_embedded,
					  fo_migrations_embedded_count, 0, -1, &r, &err), 0);
	assert_int_equal(r.applied_now, 0);
	assert_int_equal(r.applied_before, (int)fo_migrations_embedded_count);
	assert_string_equal(pgtest_value(conn, fingerprint_sql), before);
	assert_int_equal(fo_migrate_check(conn, fo_migrations_embedded,
					  fo_migrations_embedded_count, &r, &err), 0);
	assert_string_equal(pgtest_value(conn, "SELECT count(*) FROM finops.schema_migrations"),
			    pgtest_value(conn, "SELECT max(version) FROM finops.schema_migrations"));
	PQfinish(conn);
}

/*
 * 0003 turns the generated effective_cost into a plain column under loaded
 * partitions (two levels deep): every value stays, every partition and its
 * index is attached again, and new rows take the column as given.
 */
static void
test_effective_cost_migration_keeps_loaded_partitions(void **state)
{
	PGconn *conn = pgtest_fresh_db("fo_test_migrate_0003");
	struct fo_migrate_report r;
	fo_err err;
	char before[64];
	static const char values_sql[] =
		"SELECT md5(string_agg(line_item_id || ':' || effective_cost || ':' || tableoid::regclass,"
		" ',' ORDER BY line_item_id)) FROM finops.billing_line_items";

	(void)state;
	assert_true(fo_migrations_embedded_count >= 3);
	assert_string_equal(fo_migrations_embedded[2].name, "0003_effective_cost_from_loader");
	assert_int_equal(fo_migrate_apply(conn, fo_migrations_embedded, 2, 0, -1, &r, &err), 0);
	pgtest_exec(conn,
		    "INSERT INTO finops.billing_sources (kind, billing_account_id, report_name)"
		    " VALUES ('aws_cur', '111', 'r'), ('aws_cur', '222', 'r');"
		    "CREATE TABLE finops.p1 PARTITION OF finops.billing_line_items"
		    " FOR VALUES IN ('2026-09-01') PARTITION BY LIST (source_id);"
		    "CREATE TABLE finops.p1_s1 PARTITION OF finops.p1 FOR VALUES IN (1);"
		    "CREATE TABLE finops.p1_s2 PARTITION OF finops.p1 FOR VALUES IN (2);"
		    "INSERT INTO finops.billing_line_items (billing_period, source_id, load_id,"
		    " line_item_id, billing_account_id, charge_period_start, charge_category,"
		    " billing_currency, billed_cost, line_item_type, sp_total_commitment_to_date,"
		    " sp_used_commitment) VALUES"
		    " ('2026-09-01', 1, 1, 'a', '111', '2026-09-01', 'Usage', 'USD', 1.50, 'Usage',"
		    "  NULL, NULL),"
		    " ('2026-09-01', 2, 2, 'b', '222', '2026-09-02', 'Purchase', 'USD', 10.00,"
		    "  'SavingsPlanRecurringFee', 10.00, 8.75)");
	snprintf(before, sizeof(before), "%s", pgtest_value(conn, values_sql));
	assert_string_equal(pgtest_value(conn, "SELECT string_agg(effective_cost::text, ','"
					 " ORDER BY line_item_id) FROM finops.billing_line_items"),
			    "1.50,1.25");

	assert_int_equal(fo_migrate_apply(conn, fo_migrations_embedded,
					  fo_migrations_embedded_count, 0, -1, &r, &err), 0);
	assert_string_equal(pgtest_value(conn, values_sql), before);
	assert_string_equal(pgtest_value(conn, "SELECT count(*) FROM pg_attribute"
					 " WHERE attname = 'effective_cost' AND attgenerated <> ''"), "0");
	assert_string_equal(pgtest_value(conn, "SELECT string_agg(inhrelid::regclass || '<'"
					 " || inhparent::regclass, ',' ORDER BY inhrelid::regclass::text) FROM pg_inherits"
					 " WHERE inhrelid::regclass::text LIKE 'finops.p1%'"),
			    "finops.p1<finops.billing_line_items,"
			    "finops.p1_charge_period_start_idx<finops.billing_line_items_charge_period_brin,"
			    /* migration 0015's index, built on the partitions there are */
			    "finops.p1_resource_id_instance_type_charge_period_start_idx"
			    "<finops.billing_line_items_instance_type,"
			    "finops.p1_s1<finops.p1,"
			    "finops.p1_s1_charge_period_start_idx<finops.p1_charge_period_start_idx,"
			    "finops.p1_s1_resource_id_instance_type_charge_period_start_idx"
			    "<finops.p1_resource_id_instance_type_charge_period_start_idx,"
			    "finops.p1_s2<finops.p1,"
			    "finops.p1_s2_charge_period_start_idx<finops.p1_charge_period_start_idx,"
			    "finops.p1_s2_resource_id_instance_type_charge_period_start_idx"
			    "<finops.p1_resource_id_instance_type_charge_period_start_idx");
	pgtest_exec(conn, "INSERT INTO finops.billing_line_items (billing_period, source_id,"
			  " load_id, line_item_id, billing_account_id, charge_period_start,"
			  " charge_category, billing_currency, billed_cost, effective_cost)"
			  " VALUES ('2026-09-01', 1, 3, 'c', '111', '2026-09-03', 'Usage', 'USD', 2, 0.5)");
	assert_string_equal(pgtest_value(conn, "SELECT effective_cost FROM finops.billing_line_items"
					 " WHERE line_item_id = 'c'"), "0.5");
	PQfinish(conn);
}

static void
test_recorded_checksum_equals_sha256_of_the_file_text(void **state)
{
	PGconn *conn = pgtest_fresh_db("fo_test_migrate_sum");
	struct fo_migration m[] = {{1, "0001_t", "CREATE TABLE finops.t (x int);\n"}};
	struct fo_migrate_report r;
	fo_err err;

	(void)state;
	assert_int_equal(fo_migrate_apply(conn, m, 1, 0, -1, &r, &err), 0);
	/* sha256sum of that text, computed with coreutils */
	assert_string_equal(pgtest_value(conn, "SELECT checksum_sha256 FROM finops.schema_migrations"),
			    "ece19adf0e7febbabf03fcee39bee531564e8d6fe1be6615a23ebe1f15ca0b61");
	PQfinish(conn);
}

static void
test_check_without_schema_says_run_finops_migrate(void **state)
{
	PGconn *conn = pgtest_fresh_db("fo_test_migrate_none");
	struct fo_migrate_report r;
	fo_err err;

	(void)state;
	assert_int_equal(fo_migrate_check(conn, fo_migrations_embedded,
					  fo_migrations_embedded_count, &r, &err), -1);
	assert_int_equal(err.code, FO_EXIT_USAGE);
	assert_non_null(strstr(err.msg, "run finops_migrate"));
	PQfinish(conn);
}

static void
test_pending_migration_fails_check_then_applies(void **state)
{
	PGconn *conn = pgtest_fresh_db("fo_test_migrate_pending");
	struct fo_migration m[] = {
		{1, "0001_a", "CREATE TABLE finops.a (x int);"},
		{2, "0002_b", "CREATE TABLE finops.b (y int);"},
	};
	struct fo_migrate_report r;
	fo_err err;

	(void)state;
	assert_int_equal(fo_migrate_apply(conn, m, 1, 0, -1, &r, &err), 0);
	assert_int_equal(fo_migrate_check(conn, m, 2, &r, &err), -1);
	assert_int_equal(err.code, FO_EXIT_USAGE);
	assert_non_null(strstr(err.msg, "1 migration(s) pending, starting with 0002_b"));

	/* a dry run applies nothing */
	assert_int_equal(fo_migrate_apply(conn, m, 2, 1, -1, &r, &err), 0);
	assert_int_equal(r.pending, 1);
	assert_string_equal(pgtest_value(conn, "SELECT to_regclass('finops.b') IS NULL"), "t");

	assert_int_equal(fo_migrate_apply(conn, m, 2, 0, -1, &r, &err), 0);
	assert_int_equal(r.applied_now, 1);
	assert_int_equal(r.latest, 2);
	assert_int_equal(fo_migrate_check(conn, m, 2, &r, &err), 0);
	PQfinish(conn);
}

static void
test_changed_applied_migration_is_an_error_and_nothing_is_applied(void **state)
{
	PGconn *conn = pgtest_fresh_db("fo_test_migrate_changed");
	struct fo_migration v1[] = {{1, "0001_a", "CREATE TABLE finops.a (x int);"}};
	struct fo_migration v2[] = {
		{1, "0001_a", "CREATE TABLE finops.a (x bigint);"},
		{2, "0002_b", "CREATE TABLE finops.b (y int);"},
	};
	struct fo_migrate_report r;
	fo_err err;

	(void)state;
	assert_int_equal(fo_migrate_apply(conn, v1, 1, 0, -1, &r, &err), 0);
	assert_int_equal(fo_migrate_apply(conn, v2, 2, 0, -1, &r, &err), -1);
	assert_int_equal(err.code, FO_EXIT_USAGE);
	assert_non_null(strstr(err.msg, "migration 0001_a was changed after it was applied"));
	assert_string_equal(pgtest_value(conn, "SELECT to_regclass('finops.b') IS NULL"), "t");
	assert_int_equal(fo_migrate_check(conn, v2, 2, &r, &err), -1);
	assert_non_null(strstr(err.msg, "was changed"));
	PQfinish(conn);
}

static void
test_failing_migration_is_rolled_back_and_not_recorded(void **state)
{
	PGconn *conn = pgtest_fresh_db("fo_test_migrate_fail");
	struct fo_migration m[] = {
		{1, "0001_a", "CREATE TABLE finops.a (x int);"},
		{2, "0002_broken", "CREATE TABLE finops.half (x int); CREATE TABLE finops.bad (x nosuchtype);"},
	};
	struct fo_migrate_report r;
	fo_err err;

	(void)state;
	assert_int_equal(fo_migrate_apply(conn, m, 2, 0, -1, &r, &err), -1);
	assert_non_null(strstr(err.msg, "migration 0002_broken: "));
	assert_non_null(strstr(err.msg, "nosuchtype"));
	assert_string_equal(pgtest_value(conn, "SELECT to_regclass('finops.half') IS NULL"), "t");
	assert_string_equal(pgtest_value(conn, "SELECT to_regclass('finops.a') IS NULL"), "f");
	assert_string_equal(pgtest_value(conn, "SELECT string_agg(name, ',') FROM finops.schema_migrations"),
			    "0001_a");
	PQfinish(conn);
}

static void
test_migration_with_commit_is_refused(void **state)
{
	PGconn *conn = pgtest_fresh_db("fo_test_migrate_commit");
	struct fo_migration m[] = {{1, "0001_commit", "CREATE TABLE finops.c (x int); COMMIT;"}};
	struct fo_migrate_report r;
	fo_err err;

	(void)state;
	assert_int_equal(fo_migrate_apply(conn, m, 1, 0, -1, &r, &err), -1);
	assert_non_null(strstr(err.msg, "must not contain BEGIN, COMMIT or ROLLBACK"));
	assert_string_equal(pgtest_value(conn, "SELECT count(*) FROM finops.schema_migrations"), "0");
	PQfinish(conn);
}

static void
test_gap_before_applied_migration_is_refused(void **state)
{
	PGconn *conn = pgtest_fresh_db("fo_test_migrate_gap");
	struct fo_migration a[] = {
		{1, "0001_a", "SELECT 1;"},
		{3, "0003_c", "SELECT 3;"},
	};
	struct fo_migration b[] = {
		{1, "0001_a", "SELECT 1;"},
		{2, "0002_b", "SELECT 2;"},
		{3, "0003_c", "SELECT 3;"},
	};
	struct fo_migrate_report r;
	fo_err err;

	(void)state;
	assert_int_equal(fo_migrate_apply(conn, a, 2, 0, -1, &r, &err), 0);
	assert_int_equal(fo_migrate_apply(conn, b, 3, 0, -1, &r, &err), -1);
	assert_non_null(strstr(err.msg, "0002_b is not applied but a later one (0003) is"));
	PQfinish(conn);
}

static void
test_unsorted_list_is_refused(void **state)
{
	PGconn *conn = pgtest_fresh_db("fo_test_migrate_sort");
	struct fo_migration m[] = {{2, "0002_b", "SELECT 2;"}, {1, "0001_a", "SELECT 1;"}};
	struct fo_migrate_report r;
	fo_err err;

	(void)state;
	assert_int_equal(fo_migrate_apply(conn, m, 2, 0, -1, &r, &err), -1);
	assert_non_null(strstr(err.msg, "strictly increase"));
	PQfinish(conn);
}

struct racer {
	struct fo_migrate_report r;
	int rc;
};

static void *
race(void *arg)
{
	struct racer *x = arg;
	PGconn *conn = pgtest_connect("fo_test_migrate_race");
	fo_err err;

	x->rc = fo_migrate_apply(conn, fo_migrations_embedded, fo_migrations_embedded_count, 0, 60,
				 &x->r, &err);
	PQfinish(conn);
	return NULL;
}

static void
test_concurrent_runs_apply_each_migration_once(void **state)
{
	PGconn *conn = pgtest_fresh_db("fo_test_migrate_race");
	struct racer a = {{0}, -1}, b = {{0}, -1};
	pthread_t ta, tb;

	(void)state;
	pthread_create(&ta, NULL, race, &a);
	pthread_create(&tb, NULL, race, &b);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	assert_int_equal(a.rc, 0);
	assert_int_equal(b.rc, 0);
	assert_int_equal(a.r.applied_now + b.r.applied_now, (int)fo_migrations_embedded_count);
	PQfinish(conn);
}

static void
test_reader_role_reads_and_cannot_write(void **state)
{
	PGconn *conn = pgtest_fresh_db("fo_test_migrate_roles");
	struct fo_migrate_report r;
	PGresult *res;
	fo_err err;

	(void)state;
	assert_int_equal(fo_migrate_apply(conn, fo_migrations_embedded,
					  fo_migrations_embedded_count, 0, -1, &r, &err), 0);
	pgtest_exec(conn, "SET ROLE finops_writer");
	pgtest_exec(conn, "INSERT INTO finops.job_runs (job) VALUES ('test')");
	pgtest_exec(conn, "RESET ROLE");
	pgtest_exec(conn, "SET ROLE finops_reader");
	assert_string_equal(pgtest_value(conn, "SELECT count(*) FROM finops.job_runs"), "1");
	assert_string_equal(pgtest_value(conn, "SELECT count(*) FROM finops.job_runs_latest"), "1");
	res = PQexec(conn, "INSERT INTO finops.job_runs (job) VALUES ('nope')");
	assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
	assert_string_equal(PQresultErrorField(res, PG_DIAG_SQLSTATE), "42501");
	PQclear(res);
	res = PQexec(conn, "CREATE TABLE finops.nope (x int)");
	assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
	PQclear(res);
	pgtest_exec(conn, "RESET ROLE");
	PQfinish(conn);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_embedded_migrations_apply_twice_without_change),
		cmocka_unit_test(test_effective_cost_migration_keeps_loaded_partitions),
		cmocka_unit_test(test_recorded_checksum_equals_sha256_of_the_file_text),
		cmocka_unit_test(test_check_without_schema_says_run_finops_migrate),
		cmocka_unit_test(test_pending_migration_fails_check_then_applies),
		cmocka_unit_test(test_changed_applied_migration_is_an_error_and_nothing_is_applied),
		cmocka_unit_test(test_failing_migration_is_rolled_back_and_not_recorded),
		cmocka_unit_test(test_migration_with_commit_is_refused),
		cmocka_unit_test(test_gap_before_applied_migration_is_refused),
		cmocka_unit_test(test_unsorted_list_is_refused),
		cmocka_unit_test(test_concurrent_runs_apply_each_migration_once),
		cmocka_unit_test(test_reader_role_reads_and_cannot_write),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
