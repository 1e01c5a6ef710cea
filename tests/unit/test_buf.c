/*
 * Unit tests of the growable buffer (buf.c) and error reports (error.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "finops/buf.h"
#include "finops/error.h"

static void
test_buffer_grows_and_stays_terminated(void **state)
{
	fo_buf b = FO_BUF_INIT;

	(void)state;
	assert_string_equal(fo_buf_str(&b), "");
	for (int i = 0; i < 10000; i++)
		assert_int_equal(fo_buf_printf(&b, "%d,", i % 10), 0);
	assert_int_equal(b.len, 20000);
	assert_int_equal(b.data[b.len], '\0');
	assert_memory_equal(b.data, "0,1,2,", 6);
	fo_buf_reset(&b);
	assert_string_equal(fo_buf_str(&b), "");
	assert_int_equal(fo_buf_append(&b, "a\0b", 3), 0);
	assert_int_equal(b.len, 3);
	fo_buf_wipe(&b);
	assert_null(b.data);
}

static void
test_err_set_and_prefix(void **state)
{
	fo_err e;

	(void)state;
	fo_err_clear(&e);
	assert_int_equal(e.code, FO_EXIT_OK);
	assert_int_equal(fo_err_set(&e, FO_EXIT_BAD_INPUT, "column %s: \"%s\" is not a number",
				    "lineItem/UnblendedCost", "12,5"), -1);
	assert_int_equal(fo_err_prefix(&e, "%s:%d: ", "cur.csv", 48213), -1);
	assert_int_equal(e.code, FO_EXIT_BAD_INPUT);
	assert_string_equal(e.msg,
			    "cur.csv:48213: column lineItem/UnblendedCost: \"12,5\" is not a number");
	assert_int_equal(fo_err_set(NULL, 1, "ignored"), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buffer_grows_and_stays_terminated),
		cmocka_unit_test(test_err_set_and_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
