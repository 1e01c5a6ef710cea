/*
 * Unit tests of the UTF-8 helpers (util.c): what the database will take.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "finops/buf.h"
#include "core/core.h"

static int
valid(const char *s)
{
	return fo_utf8_valid(s, strlen(s));
}

static void
test_valid_text_of_every_length_is_accepted(void **state)
{
	char buf[64];

	(void)state;
	assert_true(valid(""));
	assert_true(valid("plain ASCII, longer than eight bytes at a time"));
	assert_true(valid("caf\xc3\xa9 cr\xc3\xa8me \xe2\x82\xac \xf0\x9f\x92\xb0"));
	/* a multi-byte character at every offset of an eight-byte block */
	for (int k = 0; k < 16; k++) {
		memset(buf, 'a', sizeof(buf));
		memcpy(buf + k, "\xe2\x82\xac", 3);
		buf[k + 20] = '\0';
		assert_true(valid(buf));
	}
}

static void
test_bytes_that_are_not_utf8_are_found_wherever_they_are(void **state)
{
	char buf[64];

	(void)state;
	assert_false(valid("caf\xe9"));                  /* Latin-1 */
	assert_false(valid("\xc0\xaf"));                 /* overlong */
	assert_false(valid("\xed\xa0\x80"));             /* a surrogate */
	assert_false(valid("\xf4\x90\x80\x80"));         /* beyond U+10FFFF */
	assert_false(valid("\xe2\x82"));                 /* cut short */
	assert_false(fo_utf8_valid("\xe2\x82\xac", 2));  /* cut by the length */
	for (int k = 0; k < 20; k++) {
		memset(buf, 'a', sizeof(buf));
		buf[k] = (char)0xff;
		buf[30] = '\0';
		assert_false(valid(buf));
	}
}

static void
test_clean_replaces_bad_bytes_and_never_cuts_a_character(void **state)
{
	fo_buf b = FO_BUF_INIT;

	(void)state;
	fo_utf8_clean(&b, "caf\xe9!", 100);
	assert_string_equal(fo_buf_str(&b), "caf\xef\xbf\xbd!");
	fo_buf_reset(&b);
	/* 5 bytes allowed: "ab" then the euro sign (3) fits, the next does not */
	fo_utf8_clean(&b, "ab\xe2\x82\xac\xe2\x82\xac", 5);
	assert_string_equal(fo_buf_str(&b), "ab\xe2\x82\xac");
	fo_buf_reset(&b);
	fo_utf8_clean(&b, "ab\xe2\x82\xac", 4);
	assert_string_equal(fo_buf_str(&b), "ab");
	assert_true(fo_utf8_valid(b.data, b.len));
	fo_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_text_of_every_length_is_accepted),
		cmocka_unit_test(test_bytes_that_are_not_utf8_are_found_wherever_they_are),
		cmocka_unit_test(test_clean_replaces_bad_bytes_and_never_cuts_a_character),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
