/*
 * The COPY writer against a real PostgreSQL: awkward values round-trip
 * exactly, buffers flush, and a server-side error names the row and leaves
 * the table as it was.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "finops/copy.h"
#include "finops/datetime.h"
#include "finops/decimal.h"
#include "finops/pg.h"
#include "pgtest.h"

static PGconn *conn;
static const char *const cols[] = {"id", "val"};

static int
setup(void **state)
{
	(void)state;
	conn = pgtest_fresh_db("fo_test_copy");
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	PQfinish(conn);
	return 0;
}

struct value {
	const char *s;   /* NULL: SQL NULL */
	size_t n;
};

#define V(lit) {lit, sizeof(lit) - 1}

static const struct value awkward[] = {
	V("plain"),
	V(""),                       /* empty string, not NULL */
	{NULL, 0},                   /* NULL */
	V("\\N"),                    /* the text \N, not NULL */
	V("tab\there"),
	V("line\nbreak"),
	V("cr\rlf\r\n"),
	V("back\\slash\\"),
	V("\\."),
	V("\\"),
	V("\"double\" and 'single' quotes"),
	V("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x92\xb0"),   /* UTF-8, 2-4 bytes */
	V("\b\f\v control"),
	V(" leading and trailing spaces "),
	V("comma,separated;and|pipes"),
};

static void
test_awkward_values_round_trip_exactly(void **state)
{
	size_t n = sizeof(awkward) / sizeof(awkward[0]);
	struct fo_copy_result r;
	fo_copy *c;
	fo_err err;
	PGresult *res;

	(void)state;
	pgtest_exec(conn, "CREATE TABLE awkward (id int PRIMARY KEY, val text)");
	assert_int_equal(fo_copy_begin(conn, "awkward", cols, 2, 0, &c, &err), 0);
	for (size_t i = 0; i < n; i++) {
		fo_copy_put_int(c, (long long)i);
		fo_copy_put(c, awkward[i].s, awkward[i].n);
		assert_int_equal(fo_copy_end_row(c, &err), 0);
	}
	assert_int_equal(fo_copy_finish(c, &r, &err), 0);
	assert_int_equal(r.rows, n);
	assert_int_equal(r.rows_sent, n);
	assert_int_equal(r.failed_row, 0);

	res = PQexec(conn, "SELECT id, val FROM awkward ORDER BY id");
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_int_equal(PQntuples(res), (int)n);
	for (size_t i = 0; i < n; i++) {
		if (!awkward[i].s) {
			assert_true(PQgetisnull(res, (int)i, 1));
			continue;
		}
		assert_false(PQgetisnull(res, (int)i, 1));
		assert_int_equal((size_t)PQgetlength(res, (int)i, 1), awkward[i].n);
		assert_memory_equal(PQgetvalue(res, (int)i, 1), awkward[i].s, awkward[i].n);
	}
	PQclear(res);
}

static void
test_many_rows_through_small_buffer_are_all_loaded(void **state)
{
	struct fo_copy_result r;
	fo_copy *c;
	fo_err err;
	char val[64];

	(void)state;
	pgtest_exec(conn, "CREATE TABLE many (id int, val text)");
	/* a 100-byte buffer forces a PQputCopyData call every few rows */
	assert_int_equal(fo_copy_begin(conn, "many", cols, 2, 100, &c, &err), 0);
	for (int i = 1; i <= 20000; i++) {
		int n = snprintf(val, sizeof(val), "row\t%d\\", i);

		fo_copy_put_int(c, i);
		fo_copy_put(c, val, (size_t)n);
		assert_int_equal(fo_copy_end_row(c, &err), 0);
	}
	assert_int_equal(fo_copy_rows(c), 20000);
	assert_int_equal(fo_copy_finish(c, &r, &err), 0);
	assert_int_equal(r.rows, 20000);
	assert_true(r.bytes_sent > 20000 * 10);
	assert_string_equal(pgtest_value(conn, "SELECT count(*) FROM many"), "20000");
	assert_string_equal(pgtest_value(conn, "SELECT sum(id) FROM many"), "200010000");
	assert_string_equal(pgtest_value(conn, "SELECT val FROM many WHERE id = 12345"),
			    "row\t12345\\");
}

static void
test_server_error_names_row_and_leaves_table_unchanged(void **state)
{
	static const char *const mcols[] = {"id", "amount"};
	const char *amounts[] = {"1.50", "2.25", "abc", "4.00"};
	const char *before;
	struct fo_copy_result r;
	fo_copy *c;
	fo_err err;

	(void)state;
	pgtest_exec(conn, "CREATE TABLE money (id int, amount numeric(20,10))");
	pgtest_exec(conn, "INSERT INTO money VALUES (100, 7.5), (101, 8.25)");
	before = pgtest_value(conn, "SELECT md5(string_agg(id || ':' || amount, ',' ORDER BY id))"
			      " FROM money");

	assert_int_equal(fo_pg_begin(conn, &err), 0);
	pgtest_exec(conn, "DELETE FROM money");
	assert_int_equal(fo_copy_begin(conn, "money", mcols, 2, 0, &c, &err), 0);
	for (int i = 0; i < 4; i++) {
		fo_copy_put_int(c, i + 1);
		fo_copy_put_str(c, amounts[i]);
		assert_int_equal(fo_copy_end_row(c, &err), 0);
	}
	assert_int_equal(fo_copy_finish(c, &r, &err), -1);
	assert_int_equal(err.code, FO_EXIT_BAD_INPUT);
	assert_int_equal(r.failed_row, 3);
	assert_int_equal(r.rows, 0);
	assert_non_null(strstr(err.msg, "COPY into money failed at row 3, column amount"));
	assert_non_null(strstr(err.msg, "abc"));
	assert_non_null(strstr(err.msg, "22P02"));
	assert_int_equal(PQtransactionStatus(conn), PQTRANS_INERROR);
	fo_pg_rollback(conn);

	assert_string_equal(pgtest_value(conn, "SELECT md5(string_agg(id || ':' || amount, ','"
					 " ORDER BY id)) FROM money"), before);
	assert_string_equal(pgtest_value(conn, "SELECT count(*) FROM money"), "2");
}

static void
test_nul_byte_is_refused_with_row_number(void **state)
{
	fo_copy *c;
	fo_err err;

	(void)state;
	pgtest_exec(conn, "CREATE TABLE nul (id int, val text)");
	assert_int_equal(fo_copy_begin(conn, "nul", cols, 2, 0, &c, &err), 0);
	fo_copy_put_int(c, 1);
	fo_copy_put_str(c, "fine");
	assert_int_equal(fo_copy_end_row(c, &err), 0);
	fo_copy_put_int(c, 2);
	fo_copy_put(c, "a\0b", 3);
	assert_int_equal(fo_copy_end_row(c, &err), -1);
	assert_int_equal(err.code, FO_EXIT_BAD_INPUT);
	assert_non_null(strstr(err.msg, "row 2"));
	assert_non_null(strstr(err.msg, "NUL byte"));
	fo_copy_abort(c, "test");
	assert_string_equal(pgtest_value(conn, "SELECT count(*) FROM nul"), "0");
}

static void
test_wrong_field_count_is_refused(void **state)
{
	fo_copy *c;
	fo_err err;

	(void)state;
	pgtest_exec(conn, "CREATE TABLE fields (id int, val text)");
	assert_int_equal(fo_copy_begin(conn, "fields", cols, 2, 0, &c, &err), 0);
	fo_copy_put_int(c, 1);
	assert_int_equal(fo_copy_end_row(c, &err), -1);
	assert_non_null(strstr(err.msg, "1 fields for 2 columns"));
	fo_copy_abort(c, "test");
}

static void
test_abort_discards_every_row(void **state)
{
	fo_copy *c;
	fo_err err;

	(void)state;
	pgtest_exec(conn, "CREATE TABLE aborted (id int, val text)");
	assert_int_equal(fo_copy_begin(conn, "aborted", cols, 2, 16, &c, &err), 0);
	for (int i = 0; i < 100; i++) {
		fo_copy_put_int(c, i);
		fo_copy_put_str(c, "x");
		assert_int_equal(fo_copy_end_row(c, &err), 0);
	}
	fo_copy_abort(c, "the input file was truncated");
	assert_string_equal(pgtest_value(conn, "SELECT count(*) FROM aborted"), "0");
}

static void
test_copy_into_missing_table_fails_clearly(void **state)
{
	fo_copy *c;
	fo_err err;

	(void)state;
	assert_int_equal(fo_copy_begin(conn, "no_such_table", cols, 2, 0, &c, &err), -1);
	assert_null(c);
	assert_non_null(strstr(err.msg, "no_such_table"));
	assert_non_null(strstr(err.msg, "42P01"));
}

/* Decimal texts whose binary numeric must equal what numeric_in makes of the text. */
static const char *const numbers[] = {
	"0", "-0", "0.00", "1", "-1", "1.50", "0.0960000000", "9999", "10000", "99999999",
	"100000000", "0.0001", "0.00001", "-0.0000001", "1.2E-7", "1.2e+3", "5E2", "-3.25E-2",
	"0E-5", "+7.5", "123456789.000123456789", "12345678901234567890.5",
	"-98765432109876543210.0123456789012345", ".5", "5.", "00012.3400", "1e-20",
	"0.000000000000000000000000000000000001",
};

static void
test_binary_numbers_equal_the_servers_own_parse(void **state)
{
	static const char *const ncols[] = {"id", "n"};
	size_t count = sizeof(numbers) / sizeof(numbers[0]);
	fo_copy *c;
	fo_err err;
	const char *why;

	(void)state;
	pgtest_exec(conn, "CREATE TABLE bin_numbers (id int, n numeric)");
	assert_int_equal(fo_copy_begin_binary(conn, "bin_numbers", ncols, 2, 64, NULL, &c, &err),
			 0);
	for (size_t i = 0; i < count; i++) {
		assert_int_equal(fo_dec_check(numbers[i], strlen(numbers[i]), &why), 0);
		fo_copy_put_int4(c, (int32_t)i);
		fo_copy_put_numeric(c, numbers[i], strlen(numbers[i]));
		assert_int_equal(fo_copy_end_row(c, &err), 0);
	}
	fo_copy_put_int4(c, -1);
	fo_copy_put_numeric(c, NULL, 0);
	assert_int_equal(fo_copy_end_row(c, &err), 0);
	assert_int_equal(fo_copy_finish(c, NULL, &err), 0);
	for (size_t i = 0; i < count; i++) {
		char q[256], want[256];

		snprintf(q, sizeof(q), "SELECT '%s'::numeric::text", numbers[i]);
		snprintf(want, sizeof(want), "%s", pgtest_value(conn, q));
		snprintf(q, sizeof(q), "SELECT n::text FROM bin_numbers WHERE id = %zu", i);
		if (strcmp(pgtest_value(conn, q), want) != 0)
			fail_msg("%s: binary gave %s, numeric_in %s", numbers[i],
				 pgtest_value(conn, q), want);
	}
	assert_string_equal(pgtest_value(conn, "SELECT n IS NULL FROM bin_numbers WHERE id = -1"),
			    "t");
}

static void
test_binary_row_of_every_type_round_trips(void **state)
{
	static const char *const tcols[] = {"t", "i", "b", "d", "ts", "n", "j", "z"};
	static const char *const stamps[] = {
		"2026-10-01T00:00:00Z", "1999-12-31T23:59:59.999999Z", "1970-01-01 00:00:00",
		"2024-02-29T12:34:56.5Z",
		/* before the epoch in UTC: negative seconds and days */
		"1970-01-01T00:30:00.000001+02:00",
	};
	const char *json = "{\"k\": \"caf\u00e9\", \"n\": [1, 2]}";
	fo_copy *c;
	fo_err err;
	const char *why;

	(void)state;
	pgtest_exec(conn, "SET timezone = 'UTC'");
	pgtest_exec(conn, "CREATE TABLE bin_types (t text, i int, b bigint, d date,"
			  " ts timestamptz, n numeric, j jsonb, z text)");
	/* a small buffer: rows are split across sends */
	assert_int_equal(fo_copy_begin_binary(conn, "bin_types", tcols, 8, 32, NULL, &c, &err), 0);
	for (size_t i = 0; i < sizeof(stamps) / sizeof(stamps[0]); i++) {
		struct fo_ts ts;

		assert_int_equal(fo_ts_parse(stamps[i], strlen(stamps[i]), &ts, &why), 0);
		fo_copy_put(c, awkward[i + 4].s, awkward[i + 4].n);
		fo_copy_put_int4(c, -2147483647 + (int32_t)i);
		fo_copy_put_int8(c, 9007199254740993LL * (i % 2 ? -1 : 1));
		fo_copy_put_date(c, ts.epoch_s);
		fo_copy_put_timestamptz(c, ts.epoch_s, ts.micros);
		fo_copy_put_numeric(c, "-12.50", 6);
		fo_copy_put_jsonb(c, json, strlen(json));
		fo_copy_put(c, "", 0);
		assert_int_equal(fo_copy_end_row(c, &err), 0);
	}
	assert_int_equal(fo_copy_finish(c, NULL, &err), 0);
	assert_string_equal(pgtest_value(conn, "SELECT string_agg(d::text || ' ' || ts::text, ','"
					 " ORDER BY i) FROM bin_types"),
			    "2026-10-01 2026-10-01 00:00:00+00,"
			    "1999-12-31 1999-12-31 23:59:59.999999+00,"
			    "1970-01-01 1970-01-01 00:00:00+00,"
			    "2024-02-29 2024-02-29 12:34:56.5+00,"
			    "1969-12-31 1969-12-31 22:30:00.000001+00");
	assert_string_equal(pgtest_value(conn, "SELECT string_agg(i || ' ' || b, ',' ORDER BY i)"
					 " FROM bin_types"),
			    "-2147483647 9007199254740993,-2147483646 -9007199254740993,"
			    "-2147483645 9007199254740993,-2147483644 -9007199254740993,"
			    "-2147483643 9007199254740993");
	assert_string_equal(pgtest_value(conn, "SELECT count(*) FROM bin_types WHERE n = -12.5"
					 " AND n::text = '-12.50' AND j->>'k' = 'caf\u00e9'"
					 " AND j->'n' = '[1, 2]' AND z = '' AND t IS NOT NULL"), "5");
	assert_string_equal(pgtest_value(conn, "SELECT t FROM bin_types WHERE i = -2147483647"),
			    awkward[4].s);
}

static void
test_binary_refuses_what_the_server_could_not_hold(void **state)
{
	static const char *const ncols[] = {"id", "n"};
	fo_copy *c;
	fo_err err;

	(void)state;
	pgtest_exec(conn, "CREATE TABLE bin_refused (id int, n numeric)");
	assert_int_equal(fo_copy_begin_binary(conn, "bin_refused", ncols, 2, 0, NULL, &c, &err), 0);
	fo_copy_put_int4(c, 1);
	fo_copy_put_numeric(c, "1E-9999", 7);
	assert_int_equal(fo_copy_end_row(c, &err), -1);
	assert_int_equal(err.code, FO_EXIT_BAD_INPUT);
	assert_non_null(strstr(err.msg, "row 1, field 2: a number out of the range of numeric"));
	fo_copy_abort(c, "test");
	assert_int_equal(fo_copy_begin_binary(conn, "bin_refused", ncols, 2, 0, NULL, &c, &err), 0);
	fo_copy_put(c, "a\0b", 3);
	assert_int_equal(fo_copy_end_row(c, &err), -1);
	assert_non_null(strstr(err.msg, "field 1: a NUL byte"));
	fo_copy_abort(c, "test");
	assert_string_equal(pgtest_value(conn, "SELECT count(*) FROM bin_refused"), "0");
}

/*
 * A spool holds rows while the connection is busy (here, with a COPY TO
 * STDOUT being read) and copies them in afterwards: more rows than its
 * buffer, awkward values intact; a server error names the row; an abort
 * sends nothing.
 */
static void
test_spooled_rows_are_copied_after_the_connection_is_free(void **state)
{
	static const char *const scols[] = {"id", "val"};
	struct fo_copy_result r;
	fo_copy *c;
	fo_err err;
	PGresult *res;
	char *msg, val[64];
	int n, rows_out = 0;

	(void)state;
	pgtest_exec(conn, "CREATE TABLE spooled (id int PRIMARY KEY, val text)");
	assert_int_equal(fo_copy_spool("spooled", scols, 2, &c, &err), 0);
	res = PQexec(conn, "COPY (SELECT g FROM generate_series(1, 30000) g) TO STDOUT");
	assert_int_equal(PQresultStatus(res), PGRES_COPY_OUT);
	PQclear(res);
	while ((n = PQgetCopyData(conn, &msg, 0)) > 0) {
		int id = atoi(msg);

		PQfreemem(msg);
		rows_out++;
		snprintf(val, sizeof(val), "row\t%d\\ \n", id);
		fo_copy_put_int(c, id);
		fo_copy_put_str(c, id % 1000 ? val : NULL);
		assert_int_equal(fo_copy_end_row(c, &err), 0);
	}
	assert_int_equal(n, -1);
	while ((res = PQgetResult(conn)) != NULL)
		PQclear(res);
	assert_int_equal(rows_out, 30000);
	assert_int_equal(fo_copy_spool_send(c, conn, &r, &err), 0);
	assert_int_equal(r.rows, 30000);
	assert_string_equal(pgtest_value(conn, "SELECT count(*) || ' ' || count(val) || ' ' ||"
					 " sum(id) FROM spooled"), "30000 29970 450015000");
	assert_string_equal(pgtest_value(conn, "SELECT val FROM spooled WHERE id = 12345"),
			    "row\t12345\\ \n");

	/* a row the server refuses: named, nothing kept */
	assert_int_equal(fo_copy_spool("spooled", scols, 2, &c, &err), 0);
	fo_copy_put_int(c, 30001);
	fo_copy_put_str(c, "new");
	assert_int_equal(fo_copy_end_row(c, &err), 0);
	fo_copy_put_int(c, 1);                       /* already there */
	fo_copy_put_str(c, "duplicate");
	assert_int_equal(fo_copy_end_row(c, &err), 0);
	assert_int_equal(fo_copy_spool_send(c, conn, &r, &err), -1);
	assert_int_equal(r.failed_row, 2);
	assert_string_equal(pgtest_value(conn, "SELECT count(*) FROM spooled"), "30000");

	/* aborted: nothing sent, the connection as it was */
	assert_int_equal(fo_copy_spool("spooled", scols, 2, &c, &err), 0);
	fo_copy_put_int(c, 30002);
	fo_copy_put_str(c, "never");
	assert_int_equal(fo_copy_end_row(c, &err), 0);
	fo_copy_abort(c, "failed");
	assert_string_equal(pgtest_value(conn, "SELECT count(*) FROM spooled"), "30000");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_awkward_values_round_trip_exactly),
		cmocka_unit_test(test_many_rows_through_small_buffer_are_all_loaded),
		cmocka_unit_test(test_server_error_names_row_and_leaves_table_unchanged),
		cmocka_unit_test(test_nul_byte_is_refused_with_row_number),
		cmocka_unit_test(test_wrong_field_count_is_refused),
		cmocka_unit_test(test_abort_discards_every_row),
		cmocka_unit_test(test_copy_into_missing_table_fails_clearly),
		cmocka_unit_test(test_binary_numbers_equal_the_servers_own_parse),
		cmocka_unit_test(test_binary_row_of_every_type_round_trips),
		cmocka_unit_test(test_binary_refuses_what_the_server_could_not_hold),
		cmocka_unit_test(test_spooled_rows_are_copied_after_the_connection_is_free),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
