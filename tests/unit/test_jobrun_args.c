/*
 * Unit tests of job_runs argument recording, option parsing and backoff.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "finops/job.h"
#include "finops/jobrun.h"
#include "finops/log.h"
#include "core/core.h"

static void
test_args_literal_quotes_and_redacts_dsn(void **state)
{
	char *argv[] = {"billing_ingest", "--dsn", "host=db password=hunter2",
			"--dsn=postgresql://u:hunter2@db/x", "a \"b\"", "c\\d", "{x,y}"};
	char *lit;

	(void)state;
	lit = fo_jobrun_args_literal(7, argv);
	assert_non_null(lit);
	assert_null(strstr(lit, "hunter2"));
	assert_string_equal(lit,
			    "{\"billing_ingest\",\"--dsn\",\"password=[REDACTED] host=db\","
			    "\"--dsn=user=u password=[REDACTED] dbname=x host=db\",\"a \\\"b\\\"\","
			    "\"c\\\\d\","
			    "\"{x,y}\"}");
	free(lit);
}

static void
test_args_literal_redacts_registered_secrets(void **state)
{
	char *argv[] = {"job", "--token", "hvs.SECRETSECRET"};
	char *lit;

	(void)state;
	fo_log_add_secret("hvs.SECRETSECRET");
	lit = fo_jobrun_args_literal(3, argv);
	fo_log_forget_secrets();
	assert_string_equal(lit, "{\"job\",\"--token\",\"[REDACTED]\"}");
	free(lit);
}

static void
test_status_of_exit_codes(void **state)
{
	(void)state;
	assert_string_equal(fo_jobrun_status(0), "succeeded");
	assert_string_equal(fo_jobrun_status(99), "nothing_new");
	assert_string_equal(fo_jobrun_status(3), "failed");
	assert_string_equal(fo_jobrun_status(4), "failed");
}

static void
test_parse_int_bounds(void **state)
{
	long v;

	(void)state;
	assert_int_equal(fo_parse_int("30", -1, 100, &v), 0);
	assert_int_equal(v, 30);
	assert_int_equal(fo_parse_int("-1", -1, 100, &v), 0);
	assert_int_equal(v, -1);
	assert_int_equal(fo_parse_int("-2", -1, 100, &v), -1);
	assert_int_equal(fo_parse_int("101", -1, 100, &v), -1);
	assert_int_equal(fo_parse_int("3s", -1, 100, &v), -1);
	assert_int_equal(fo_parse_int("", -1, 100, &v), -1);
}

static void
test_backoff_stays_within_capped_exponential_ceiling(void **state)
{
	(void)state;
	for (int i = 0; i < 1000; i++) {
		int a1 = fo_backoff_ms(1, 500, 8000);
		int a3 = fo_backoff_ms(3, 500, 8000);
		int a10 = fo_backoff_ms(10, 500, 8000);

		assert_in_range(a1, 1, 500);
		assert_in_range(a3, 1, 2000);
		assert_in_range(a10, 1, 8000);
	}
}

static void
test_backoff_is_jittered(void **state)
{
	int seen_low = 0, seen_high = 0;

	(void)state;
	for (int i = 0; i < 1000; i++) {
		int v = fo_backoff_ms(4, 500, 8000);   /* ceiling 4000 */

		seen_low |= v < 1000;
		seen_high |= v > 3000;
	}
	assert_true(seen_low && seen_high);
}

/*
 * The shard hash is the published 64-bit FNV-1a (the test vectors of
 * draft-eastlake-fnv), so shards documented in docs/operations.md can be
 * computed by any tool; and the --shard option's bounds.
 */
static void
test_shard_hash_is_fnv1a_64(void **state)
{
	int i, n;
	fo_err err;

	(void)state;
	assert_int_equal(fo_fnv1a(FO_FNV1A_BASIS, "", 0), 0xcbf29ce484222325ull);
	assert_int_equal(fo_fnv1a(FO_FNV1A_BASIS, "a", 1), 0xaf63dc4c8601ec8cull);
	assert_int_equal(fo_fnv1a(FO_FNV1A_BASIS, "foobar", 6), 0x85944171f73967e8ull);
	assert_int_equal(fo_shard_of("foobar", 6, 1000), 0x85944171f73967e8ull % 1000);
	assert_int_equal(fo_shard_of("i-0abc", 6, 0), 0);
	assert_int_equal(fo_opt_shard("shard", "3/4", &i, &n, &err), 0);
	assert_int_equal(i, 3);
	assert_int_equal(n, 4);
	assert_int_equal(fo_opt_shard("shard", "0/1", &i, &n, &err), 0);
	assert_int_equal(n, 0);                  /* one shard: not sharded */
	assert_int_equal(fo_opt_shard("shard", "4/4", &i, &n, &err), -1);
	assert_int_equal(err.code, FO_EXIT_USAGE);
	assert_int_equal(fo_opt_shard("shard", "0/0", &i, &n, &err), -1);
	assert_int_equal(fo_opt_shard("shard", "1/", &i, &n, &err), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_args_literal_quotes_and_redacts_dsn),
		cmocka_unit_test(test_args_literal_redacts_registered_secrets),
		cmocka_unit_test(test_status_of_exit_codes),
		cmocka_unit_test(test_parse_int_bounds),
		cmocka_unit_test(test_backoff_stays_within_capped_exponential_ceiling),
		cmocka_unit_test(test_backoff_is_jittered),
		cmocka_unit_test(test_shard_hash_is_fnv1a_64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
