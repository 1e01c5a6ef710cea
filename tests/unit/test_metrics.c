/*
 * A run's metrics: the text format (HELP and TYPE, labels or none), the
 * scope labels allowed, and the textfile written whole by rename, a failure
 * keeping the last success of the file before it. (Pushes go to a real
 * Pushgateway in tests/cli/test_metrics_cli.py.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "finops/metrics.h"

static char dir[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/fo_metrics_XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int
teardown(void **state)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	(void)state;
	while (d && (e = readdir(d))) {
		char path[512];

		if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	return rmdir(dir);
}

static char *
slurp(const char *path)
{
	static char text[8192];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

static size_t
count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static void
test_scope(void **state)
{
	char long_scope[FO_METRICS_SCOPE_MAX + 2];

	(void)state;
	assert_true(fo_metrics_scope_ok("default"));
	assert_true(fo_metrics_scope_ok("cur-main_2.payer:eu"));
	assert_false(fo_metrics_scope_ok(""));
	assert_false(fo_metrics_scope_ok(NULL));
	assert_false(fo_metrics_scope_ok("a/b"));          /* a grouping-key path separator */
	assert_false(fo_metrics_scope_ok("a b"));
	assert_false(fo_metrics_scope_ok("x\"y"));
	memset(long_scope, 'a', sizeof(long_scope) - 1);
	long_scope[sizeof(long_scope) - 1] = '\0';
	assert_false(fo_metrics_scope_ok(long_scope));
	long_scope[FO_METRICS_SCOPE_MAX] = '\0';
	assert_true(fo_metrics_scope_ok(long_scope));
	assert_true(fo_metrics_succeeded(0));
	assert_true(fo_metrics_succeeded(99));
	for (int c = 1; c <= 4; c++)
		assert_false(fo_metrics_succeeded(c));
}

static void
test_format(void **state)
{
	struct fo_metrics_run m = {"billing_ingest", "payer", 1796000000.25, 12.5, 0, 1000, 998};
	fo_buf b = FO_BUF_INIT;

	(void)state;
	assert_int_equal(fo_metrics_format(&m, 1, m.end_unix, &b), 0);
	assert_int_equal(count(b.data, "# HELP finops_job_"), 6);
	assert_int_equal(count(b.data, "# TYPE finops_job_"), 6);
	assert_int_equal(count(b.data, " gauge\n"), 6);
	assert_non_null(strstr(b.data, "\nfinops_job_last_success_timestamp_seconds"
				    "{job=\"billing_ingest\",scope=\"payer\"} 1796000000.250\n"));
	assert_non_null(strstr(b.data, "\nfinops_job_duration_seconds{job=\"billing_ingest\","
				    "scope=\"payer\"} 12.500\n"));
	assert_non_null(strstr(b.data, "\nfinops_job_rows_read{job=\"billing_ingest\",scope=\"payer\"}"
				    " 1000\n"));
	assert_non_null(strstr(b.data, "\nfinops_job_rows_written{job=\"billing_ingest\","
				    "scope=\"payer\"} 998\n"));
	assert_int_equal(b.data[b.len - 1], '\n');
	assert_null(strchr(b.data, '\r'));

	/* a push: no labels (the grouping key has them), and a failure has no last success */
	fo_buf_reset(&b);
	m.exit_code = 4;
	assert_int_equal(fo_metrics_format(&m, 0, -1, &b), 0);
	assert_null(strstr(b.data, "last_success"));
	assert_null(strchr(b.data, '{'));
	assert_non_null(strstr(b.data, "\nfinops_job_exit_code 4\n"));
	assert_int_equal(count(b.data, "# HELP finops_job_"), 5);
	fo_buf_free(&b);
}

static void
test_textfile(void **state)
{
	struct fo_metrics_run m = {"usage_ingest", "default", 1796000000, 3, 0, 10, 10};
	char path[256];
	fo_err err;
	char *text;
	DIR *d;
	struct dirent *e;
	int files = 0;

	(void)state;
	snprintf(path, sizeof(path), "%s/finops_usage_ingest_default.prom", dir);
	assert_int_equal(fo_metrics_write_textfile(dir, &m, &err), 0);
	text = slurp(path);
	assert_non_null(strstr(text, "finops_job_last_success_timestamp_seconds{job=\"usage_ingest\","
				   "scope=\"default\"} 1796000000.000\n"));

	/* a failure an hour later keeps the success before it */
	m.end_unix += 3600;
	m.exit_code = 3;
	m.rows_written = 0;
	assert_int_equal(fo_metrics_write_textfile(dir, &m, &err), 0);
	text = slurp(path);
	assert_non_null(strstr(text, "finops_job_last_success_timestamp_seconds{job=\"usage_ingest\","
				   "scope=\"default\"} 1796000000.000\n"));
	assert_non_null(strstr(text, "finops_job_last_run_timestamp_seconds{job=\"usage_ingest\","
				   "scope=\"default\"} 1796003600.000\n"));
	assert_non_null(strstr(text, "finops_job_exit_code{job=\"usage_ingest\",scope=\"default\"} 3\n"));

	/* another scope's file is its own: a failure with no success before has none */
	m.scope = "second";
	assert_int_equal(fo_metrics_write_textfile(dir, &m, &err), 0);
	snprintf(path, sizeof(path), "%s/finops_usage_ingest_second.prom", dir);
	assert_null(strstr(slurp(path), "last_success"));

	/* a success replaces the carried value; no temporary file is left */
	m.exit_code = 99;
	m.end_unix += 60;
	assert_int_equal(fo_metrics_write_textfile(dir, &m, &err), 0);
	assert_non_null(strstr(slurp(path), "last_success_timestamp_seconds{job=\"usage_ingest\","
					    "scope=\"second\"} 1796003660.000\n"));
	d = opendir(dir);
	assert_non_null(d);
	while ((e = readdir(d)))
		files += e->d_name[0] != '.' || strstr(e->d_name, ".tmp") != NULL;
	closedir(d);
	assert_int_equal(files, 2);
}

static void
test_textfile_unwritable(void **state)
{
	struct fo_metrics_run m = {"usage_ingest", "default", 1796000000, 3, 0, 10, 10};
	char missing[128];
	fo_err err;

	(void)state;
	snprintf(missing, sizeof(missing), "%s/no/such/dir", dir);
	fo_err_clear(&err);
	assert_int_equal(fo_metrics_write_textfile(missing, &m, &err), -1);
	assert_non_null(strstr(err.msg, missing));
	assert_int_equal(err.code, FO_EXIT_TRANSIENT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scope),
		cmocka_unit_test(test_format),
		cmocka_unit_test_setup_teardown(test_textfile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_textfile_unwritable, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
