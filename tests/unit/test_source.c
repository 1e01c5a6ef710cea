/*
 * Sources on local disk: what a name is, listings at the top and deep (name
 * order, no dot files, directories only as what they hold), reading a file
 * through the read function, and reading a small one whole with a cap.
 * (s3:// objects and prefixes go through the same functions in the CLI
 * tests against moto.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "finops/source.h"

static char root[64];

static void
put(const char *rel, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int
setup(void **state)
{
	char path[256];

	(void)state;
	snprintf(root, sizeof(root), "/tmp/fo-source.XXXXXX");
	if (!mkdtemp(root))
		return -1;
	snprintf(path, sizeof(path), "%s/b", root);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/b/deeper", root);
	mkdir(path, 0700);
	put("c.csv", "c\n");
	put("a.csv", "a\n");
	put(".hidden", "x\n");
	put("b/2.json", "{}\n");
	put("b/deeper/1.gz", "g\n");
	put("b/10.json", "{}\n");
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_kinds(void **state)
{
	enum fo_source_kind k;
	char path[256];
	fo_err err;

	(void)state;
	assert_int_equal(fo_source_kind_of(root, &k, &err), 0);
	assert_int_equal(k, FO_SOURCE_DIR);
	snprintf(path, sizeof(path), "%s/a.csv", root);
	assert_int_equal(fo_source_kind_of(path, &k, &err), 0);
	assert_int_equal(k, FO_SOURCE_FILE);
	assert_int_equal(fo_source_kind_of("s3://bucket/report/", &k, &err), 0);
	assert_int_equal(k, FO_SOURCE_PREFIX);
	assert_int_equal(fo_source_kind_of("s3://bucket", &k, &err), 0);
	assert_int_equal(k, FO_SOURCE_PREFIX);
	assert_int_equal(fo_source_kind_of("s3://bucket/x.csv.gz", &k, &err), 0);
	assert_int_equal(k, FO_SOURCE_OBJECT);
	snprintf(path, sizeof(path), "%s/missing.csv", root);
	assert_int_equal(fo_source_kind_of(path, &k, &err), -1);
	assert_int_equal(err.code, FO_EXIT_BAD_INPUT);
	assert_non_null(strstr(err.msg, "missing.csv"));
	assert_int_equal(fo_source_check(path, &err), -1);
	assert_int_equal(err.code, FO_EXIT_BAD_INPUT);
	assert_int_equal(fo_source_check("s3://bucket/not/checked/here", &err), 0);
	assert_string_equal(fo_source_base("s3://b/x/y.csv"), "y.csv");
	assert_string_equal(fo_source_base("plain"), "plain");
}

static void
expect_list(enum fo_source_depth depth, const char *const *want, size_t nwant)
{
	char **names;
	size_t n;
	fo_err err;

	assert_int_equal(fo_source_list(root, depth, &names, &n, &err), 0);
	assert_int_equal(n, nwant);
	for (size_t i = 0; i < n; i++) {
		char path[256];

		snprintf(path, sizeof(path), "%s/%s", root, want[i]);
		assert_string_equal(names[i], path);
	}
	fo_source_free_list(names, n);
}

static void
test_lists(void **state)
{
	static const char *const top[] = {"a.csv", "c.csv"};
	/* a folder's files stand where the folder does in name order */
	static const char *const deep[] = {"a.csv", "b/10.json", "b/2.json", "b/deeper/1.gz",
					   "c.csv"};
	char **names;
	size_t n;
	fo_err err;

	(void)state;
	expect_list(FO_SOURCE_TOP, top, 2);
	expect_list(FO_SOURCE_DEEP, deep, 5);
	assert_int_equal(fo_source_list("/nonexistent/fo-source", FO_SOURCE_TOP, &names, &n, &err),
			 -1);
	assert_int_equal(err.code, FO_EXIT_BAD_INPUT);
	assert_null(names);
	assert_int_equal(n, 0);
}

static void
test_open_read_get(void **state)
{
	fo_source_file *f;
	char path[256], buf[16];
	fo_buf whole = FO_BUF_INIT;
	long long mtime;
	ssize_t got;
	fo_err err;

	(void)state;
	snprintf(path, sizeof(path), "%s/b/2.json", root);
	assert_int_equal(fo_source_open(path, &f, &err), 0);
	assert_true(fo_source_mtime(f) > 0);
	got = fo_source_read(f, buf, sizeof(buf), &err);
	assert_int_equal(got, 3);
	assert_memory_equal(buf, "{}\n", 3);
	assert_int_equal(fo_source_read(f, buf, sizeof(buf), &err), 0);
	fo_source_close(f);

	assert_int_equal(fo_source_get(path, 3, &whole, &mtime, &err), 0);
	assert_int_equal(whole.len, 3);
	assert_true(mtime > 0);
	fo_buf_free(&whole);
	assert_int_equal(fo_source_get(path, 2, &whole, NULL, &err), -1);
	assert_int_equal(err.code, FO_EXIT_BAD_INPUT);
	assert_non_null(strstr(err.msg, "larger than 2 bytes"));
	fo_buf_free(&whole);

	snprintf(path, sizeof(path), "%s/none", root);
	assert_int_equal(fo_source_open(path, &f, &err), -1);
	assert_int_equal(err.code, FO_EXIT_BAD_INPUT);
	assert_null(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_open_read_get),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
