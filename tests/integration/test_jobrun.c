/*
 * job_runs against a real PostgreSQL: rows are written, finished, redacted,
 * and runs that died are marked abandoned.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "finops/jobrun.h"
#include "finops/migrate.h"
#include "pgtest.h"

static PGconn *conn;

static int
setup(void **state)
{
	struct fo_migrate_report r;
	fo_err err;

	(void)state;
	conn = pgtest_fresh_db("fo_test_jobrun");
	assert_int_equal(fo_migrate_apply(conn, fo_migrations_embedded,
					  fo_migrations_embedded_count, 0, -1, &r, &err), 0);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	PQfinish(conn);
	return 0;
}

static void
test_run_row_goes_from_running_to_succeeded(void **state)
{
	char *argv[] = {"billing_ingest", "--dsn", "host=x password=hunter2", "manifest.json"};
	struct fo_jobrun_end end = {0, 1000, 990, "{\"files\": 2}", NULL, NULL};
	long long id;
	char sql[256];
	fo_err err;

	(void)state;
	assert_int_equal(fo_jobrun_start(conn, "billing_ingest", 4, argv, 0, &id, &err), 0);
	assert_true(id > 0);
	snprintf(sql, sizeof(sql),
		 "SELECT status || '|' || arguments::text || '|' || (finished_at IS NULL)"
		 "       || '|' || (backend_pid = pg_backend_pid()) FROM finops.job_runs WHERE run_id = %lld",
		 id);
	assert_string_equal(pgtest_value(conn, sql),
			    "running|{billing_ingest,--dsn,\"password=[REDACTED] host=x\",manifest.json}|true|true");
	assert_int_equal(fo_jobrun_set_scope(conn, id, "123456789012/cur/2026-10", &err), 0);
	assert_int_equal(fo_jobrun_finish(conn, id, &end, &err), 0);
	snprintf(sql, sizeof(sql),
		 "SELECT status || '|' || exit_code || '|' || rows_read || '|' || rows_written || '|'"
		 "       || scope || '|' || (details->>'files') || '|' || (finished_at >= started_at)"
		 "  FROM finops.job_runs WHERE run_id = %lld", id);
	assert_string_equal(pgtest_value(conn, sql),
			    "succeeded|0|1000|990|123456789012/cur/2026-10|2|true");
	assert_string_equal(pgtest_value(conn, "SELECT count(*) FROM finops.job_runs_latest"
					 " WHERE job = 'billing_ingest'"), "1");
}

static void
test_failed_run_keeps_its_error_message(void **state)
{
	char *argv[] = {"usage_ingest"};
	struct fo_jobrun_end end = {3, 5, 0, NULL, "metrics.json:7: bad line", NULL};
	long long id;
	char sql[256];
	fo_err err;

	(void)state;
	assert_int_equal(fo_jobrun_start(conn, "usage_ingest", 1, argv, 1, &id, &err), 0);
	assert_int_equal(fo_jobrun_finish(conn, id, &end, &err), 0);
	snprintf(sql, sizeof(sql),
		 "SELECT status || '|' || exit_code || '|' || error_message || '|' || dry_run"
		 "  FROM finops.job_runs WHERE run_id = %lld", id);
	assert_string_equal(pgtest_value(conn, sql), "failed|3|metrics.json:7: bad line|true");
}

static void
test_nothing_new_run_is_recorded_as_such(void **state)
{
	char *argv[] = {"billing_ingest"};
	struct fo_jobrun_end end = {99, 10, 0, NULL, NULL, NULL};
	long long id;
	char sql[128];
	fo_err err;

	(void)state;
	assert_int_equal(fo_jobrun_start(conn, "billing_ingest", 1, argv, 0, &id, &err), 0);
	assert_int_equal(fo_jobrun_finish(conn, id, &end, &err), 0);
	snprintf(sql, sizeof(sql), "SELECT status FROM finops.job_runs WHERE run_id = %lld", id);
	assert_string_equal(pgtest_value(conn, sql), "nothing_new");
}

static void
test_run_whose_session_died_is_marked_abandoned(void **state)
{
	PGconn *dead = pgtest_connect("fo_test_jobrun");
	char *argv[] = {"forecast_train"};
	long long id, id2;
	char sql[160];
	fo_err err;

	(void)state;
	assert_int_equal(fo_jobrun_start(dead, "forecast_train", 1, argv, 0, &id, &err), 0);
	/* the process dies without finishing its row */
	PQfinish(dead);
	snprintf(sql, sizeof(sql), "SELECT status FROM finops.job_runs WHERE run_id = %lld", id);
	for (int i = 0; i < 50; i++) {
		assert_int_equal(fo_jobrun_start(conn, "forecast_train", 1, argv, 0, &id2, &err), 0);
		if (strcmp(pgtest_value(conn, sql), "abandoned") == 0)
			break;
		usleep(100 * 1000);
	}
	assert_string_equal(pgtest_value(conn, sql), "abandoned");
	/* the live run stays running */
	snprintf(sql, sizeof(sql), "SELECT status FROM finops.job_runs WHERE run_id = %lld", id2);
	assert_string_equal(pgtest_value(conn, sql), "running");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run_row_goes_from_running_to_succeeded),
		cmocka_unit_test(test_failed_run_keeps_its_error_message),
		cmocka_unit_test(test_nothing_new_run_is_recorded_as_such),
		cmocka_unit_test(test_run_whose_session_died_is_marked_abandoned),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
