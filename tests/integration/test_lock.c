/*
 * Advisory locks against a real PostgreSQL: a second run on the same job and
 * scope is kept out, or waits for the first, by option.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "finops/pg.h"
#include "pgtest.h"

static PGconn *a, *b;

static int
setup(void **state)
{
	(void)state;
	PQfinish(pgtest_fresh_db("fo_test_lock"));
	a = pgtest_connect("fo_test_lock");
	b = pgtest_connect("fo_test_lock");
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	PQfinish(a);
	PQfinish(b);
	return 0;
}

static void
test_second_run_on_same_scope_is_refused_and_told_who_holds_it(void **state)
{
	char pid[32];
	fo_err err;

	(void)state;
	snprintf(pid, sizeof(pid), "backend pid %d", PQbackendPID(a));
	assert_int_equal(fo_pg_lock(a, "billing_ingest", "2026-10", 0, &err), 0);
	assert_int_equal(fo_pg_lock(b, "billing_ingest", "2026-10", 0, &err), -1);
	assert_int_equal(err.code, FO_EXIT_TRANSIENT);
	assert_non_null(strstr(err.msg, "another billing_ingest run is working on scope '2026-10'"));
	assert_non_null(strstr(err.msg, pid));
	assert_non_null(strstr(err.msg, "application finops_test"));
	assert_non_null(strstr(err.msg, "--lock-wait"));

	/* other scopes and other jobs are free */
	assert_int_equal(fo_pg_lock(b, "billing_ingest", "2026-11", 0, &err), 0);
	assert_int_equal(fo_pg_lock(b, "usage_ingest", "2026-10", 0, &err), 0);

	assert_int_equal(fo_pg_unlock(a, "billing_ingest", "2026-10", &err), 0);
	assert_int_equal(fo_pg_lock(b, "billing_ingest", "2026-10", 0, &err), 0);
	pgtest_exec(b, "SELECT pg_advisory_unlock_all()");
}

static void *
release_later(void *arg)
{
	fo_err err;

	(void)arg;
	usleep(1200 * 1000);
	fo_pg_unlock(a, "usage_ingest", "w", &err);
	return NULL;
}

static void
test_waiting_run_gets_the_lock_when_the_first_ends(void **state)
{
	pthread_t t;
	double start;
	fo_err err;

	(void)state;
	assert_int_equal(fo_pg_lock(a, "usage_ingest", "w", 0, &err), 0);
	pthread_create(&t, NULL, release_later, NULL);
	start = pgtest_now_s();
	assert_int_equal(fo_pg_lock(b, "usage_ingest", "w", 30, &err), 0);
	assert_true(pgtest_now_s() - start >= 1.0);
	assert_true(pgtest_now_s() - start < 10.0);
	pthread_join(t, NULL);
	pgtest_exec(b, "SELECT pg_advisory_unlock_all()");
}

static void
test_wait_gives_up_after_its_limit(void **state)
{
	double start, took;
	fo_err err;

	(void)state;
	assert_int_equal(fo_pg_lock(a, "forecast_train", "all", 0, &err), 0);
	start = pgtest_now_s();
	assert_int_equal(fo_pg_lock(b, "forecast_train", "all", 2, &err), -1);
	took = pgtest_now_s() - start;
	assert_int_equal(err.code, FO_EXIT_TRANSIENT);
	assert_null(strstr(err.msg, "--lock-wait"));   /* it did wait */
	assert_true(took >= 2.0 && took < 5.0);
	pgtest_exec(a, "SELECT pg_advisory_unlock_all()");
}

static void
test_lock_ends_with_the_session(void **state)
{
	PGconn *c = pgtest_connect("fo_test_lock");
	fo_err err;

	(void)state;
	assert_int_equal(fo_pg_lock(c, "rightsizing_calc", "x", 0, &err), 0);
	assert_int_equal(fo_pg_lock(b, "rightsizing_calc", "x", 0, &err), -1);
	PQfinish(c);
	/* the server drops the lock when the backend exits; give it a moment */
	assert_int_equal(fo_pg_lock(b, "rightsizing_calc", "x", 10, &err), 0);
	pgtest_exec(b, "SELECT pg_advisory_unlock_all()");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_second_run_on_same_scope_is_refused_and_told_who_holds_it),
		cmocka_unit_test(test_waiting_run_gets_the_lock_when_the_first_ends),
		cmocka_unit_test(test_wait_gives_up_after_its_limit),
		cmocka_unit_test(test_lock_ends_with_the_session),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
