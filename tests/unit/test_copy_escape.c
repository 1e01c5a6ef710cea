/*
 * Unit tests of the COPY text-format escaping (copy.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "finops/buf.h"
#include "finops/copy.h"

static const char *
esc(fo_buf *b, const char *s, size_t n)
{
	fo_buf_reset(b);
	assert_int_equal(fo_copy_escape(b, s, n), 0);
	return fo_buf_str(b);
}

static void
test_plain_text_is_unchanged(void **state)
{
	fo_buf b = FO_BUF_INIT;
	const char *s = "i-0abc 12.50 \"quoted\" 'single' caf\xc3\xa9";

	(void)state;
	assert_string_equal(esc(&b, s, strlen(s)), s);
	fo_buf_free(&b);
}

static void
test_tab_newline_cr_backslash_are_escaped(void **state)
{
	fo_buf b = FO_BUF_INIT;

	(void)state;
	assert_string_equal(esc(&b, "a\tb\nc\rd\\e", 9), "a\\tb\\nc\\rd\\\\e");
	assert_string_equal(esc(&b, "\b\f\v", 3), "\\b\\f\\v");
	fo_buf_free(&b);
}

static void
test_literal_backslash_N_is_not_null(void **state)
{
	fo_buf b = FO_BUF_INIT;

	(void)state;
	/* the two characters \N must not become COPY's NULL marker */
	assert_string_equal(esc(&b, "\\N", 2), "\\\\N");
	/* nor may \. end the data */
	assert_string_equal(esc(&b, "\\.", 2), "\\\\.");
	fo_buf_free(&b);
}

static void
test_empty_string_is_empty_field(void **state)
{
	fo_buf b = FO_BUF_INIT;

	(void)state;
	assert_string_equal(esc(&b, "", 0), "");
	assert_int_equal(b.len, 0);
	fo_buf_free(&b);
}

static void
test_nul_byte_is_refused(void **state)
{
	fo_buf b = FO_BUF_INIT;

	(void)state;
	assert_int_equal(fo_copy_escape(&b, "a\0b", 3), -1);
	assert_int_equal(b.len, 0);
	fo_buf_free(&b);
}

static void
test_escaping_appends(void **state)
{
	fo_buf b = FO_BUF_INIT;

	(void)state;
	fo_buf_puts(&b, "x\t");
	assert_int_equal(fo_copy_escape(&b, "y\n", 2), 0);
	assert_string_equal(fo_buf_str(&b), "x\ty\\n");
	fo_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_text_is_unchanged),
		cmocka_unit_test(test_tab_newline_cr_backslash_are_escaped),
		cmocka_unit_test(test_literal_backslash_N_is_not_null),
		cmocka_unit_test(test_empty_string_is_empty_field),
		cmocka_unit_test(test_nul_byte_is_refused),
		cmocka_unit_test(test_escaping_appends),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
