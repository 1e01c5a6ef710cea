/*
 * Connecting: transient failures are retried and reported as transient,
 * configuration errors fail at once as usage errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "finops/pg.h"
#include "pgtest.h"

static void
test_connects_with_environment_and_sets_application_name(void **state)
{
	struct fo_pg_connect_opts o = {NULL, "billing_ingest", 1, 5, 0, 0};
	PGconn *conn;
	fo_err err;

	(void)state;
	assert_int_equal(fo_pg_connect(&o, &conn, &err), 0);
	assert_string_equal(pgtest_value(conn, "SHOW application_name"), "billing_ingest");
	assert_string_equal(pgtest_value(conn, "SHOW client_encoding"), "UTF8");
	PQfinish(conn);
}

static void
test_unreachable_server_is_transient_after_retries(void **state)
{
	struct fo_pg_connect_opts o = {"host=/nonexistent-socket-dir port=5999", "t", 3, 2, 50, 0};
	PGconn *conn;
	double start = pgtest_now_s();
	fo_err err;

	(void)state;
	assert_int_equal(fo_pg_connect(&o, &conn, &err), -1);
	assert_null(conn);
	assert_int_equal(err.code, FO_EXIT_TRANSIENT);
	assert_non_null(strstr(err.msg, "after 3 attempts"));
	assert_true(pgtest_now_s() - start < 5.0);
}

static void
test_missing_database_is_a_usage_error_at_once(void **state)
{
	struct fo_pg_connect_opts o = {"dbname=fo_no_such_database", "t", 5, 2, 4000, 0};
	PGconn *conn;
	double start = pgtest_now_s();
	fo_err err;

	(void)state;
	assert_int_equal(fo_pg_connect(&o, &conn, &err), -1);
	assert_int_equal(err.code, FO_EXIT_USAGE);
	assert_non_null(strstr(err.msg, "fo_no_such_database"));
	assert_true(pgtest_now_s() - start < 2.0);    /* no retries */
}

static void
test_bad_conninfo_is_a_usage_error(void **state)
{
	struct fo_pg_connect_opts o = {"host=x nosuchoption=1", "t", 5, 2, 4000, 0};
	PGconn *conn;
	fo_err err;

	(void)state;
	assert_int_equal(fo_pg_connect(&o, &conn, &err), -1);
	assert_int_equal(err.code, FO_EXIT_USAGE);
	assert_non_null(strstr(err.msg, "nosuchoption"));
}

static void
test_password_never_appears_in_the_error(void **state)
{
	struct fo_pg_connect_opts o = {"host=/nonexistent-socket-dir password=hunter2secret", "t",
				       1, 1, 10, 0};
	PGconn *conn;
	fo_err err;

	(void)state;
	assert_int_equal(fo_pg_connect(&o, &conn, &err), -1);
	assert_null(strstr(err.msg, "hunter2secret"));
}

static void
test_commit_of_failed_transaction_is_reported(void **state)
{
	PGconn *conn = pgtest_connect("postgres");
	PGresult *res;
	fo_err err;

	(void)state;
	assert_int_equal(fo_pg_begin(conn, &err), 0);
	res = PQexec(conn, "SELECT 1/0");
	PQclear(res);
	assert_int_equal(fo_pg_commit(conn, &err), -1);
	assert_non_null(strstr(err.msg, "rolled back"));
	assert_int_equal(PQtransactionStatus(conn), PQTRANS_IDLE);
	PQfinish(conn);
}

static void
test_statement_error_carries_sqlstate_class_and_detail(void **state)
{
	PGconn *conn = pgtest_connect("postgres");
	fo_err err;

	(void)state;
	pgtest_exec(conn, "CREATE TEMP TABLE u (id int PRIMARY KEY)");
	pgtest_exec(conn, "INSERT INTO u VALUES (1)");
	assert_int_equal(fo_pg_exec(conn, "INSERT INTO u VALUES (1)", &err), -1);
	assert_int_equal(err.code, FO_EXIT_BAD_INPUT);
	assert_non_null(strstr(err.msg, "23505"));
	assert_non_null(strstr(err.msg, "detail: Key (id)=(1) already exists."));
	PQfinish(conn);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connects_with_environment_and_sets_application_name),
		cmocka_unit_test(test_unreachable_server_is_transient_after_retries),
		cmocka_unit_test(test_missing_database_is_a_usage_error_at_once),
		cmocka_unit_test(test_bad_conninfo_is_a_usage_error),
		cmocka_unit_test(test_password_never_appears_in_the_error),
		cmocka_unit_test(test_commit_of_failed_transaction_is_reported),
		cmocka_unit_test(test_statement_error_carries_sqlstate_class_and_detail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
