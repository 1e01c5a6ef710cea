/*
 * Unit tests of exact decimal validation and sums (decimal.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "finops/decimal.h"

static int
ok(const char *s)
{
	const char *why;

	return fo_dec_check(s, strlen(s), &why) == 0;
}

static const char *
sum_of(const char *const *values, size_t n)
{
	static char out[160];
	fo_dec_sum s;

	fo_dec_zero(&s);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(fo_dec_add(&s, values[i], strlen(values[i])), 0);
	fo_dec_format(&s, out, sizeof(out));
	return out;
}

static void
test_check_accepts_plain_and_exponent_forms(void **state)
{
	(void)state;
	assert_true(ok("0"));
	assert_true(ok("12.5"));
	assert_true(ok("-0.0000001"));
	assert_true(ok("+3"));
	assert_true(ok(".5"));
	assert_true(ok("5."));
	assert_true(ok("1.2E-7"));
	assert_true(ok("2.7e+10"));
}

static void
test_check_refuses_what_is_not_a_plain_number(void **state)
{
	const char *why = NULL;

	(void)state;
	assert_false(ok(""));
	assert_false(ok("12,5"));
	assert_false(ok("1,234.00"));
	assert_false(ok(" 1"));
	assert_false(ok("1 "));
	assert_false(ok("NaN"));
	assert_false(ok("Infinity"));
	assert_false(ok("-"));
	assert_false(ok("."));
	assert_false(ok("1e"));
	assert_false(ok("1e99999"));
	assert_false(ok("$5"));
	assert_int_equal(fo_dec_check("abc", 3, &why), -1);
	assert_string_equal(why, "is not a number");
}

static void
test_check_refuses_values_out_of_range(void **state)
{
	const char *why = NULL;

	(void)state;
	/* 30 digits before the point are in range, 31 are not, however spelled */
	assert_true(ok("123456789012345678901234567890"));
	assert_false(ok("1234567890123456789012345678901"));
	assert_true(ok("9.99e29"));
	assert_false(ok("1e30"));
	assert_false(ok("0.001e33"));
	assert_true(ok("0.001e32"));
	assert_int_equal(fo_dec_check("1e400", 5, &why), -1);
	assert_string_equal(why, "is out of range (more than 30 digits before the point)");
	/* 45 decimal places are, 46 are not; zero is zero in any spelling */
	assert_true(ok("1e-45"));
	assert_false(ok("1e-46"));
	assert_int_equal(fo_dec_check("0.1e-45", 7, &why), -1);
	assert_string_equal(why, "has more than 45 decimal places");
	assert_true(ok("0e-9999"));
	assert_true(ok("0000000000000000000000000000000000000.000"));
	assert_true(ok("-0"));
	/* and on success the reason is cleared */
	assert_int_equal(fo_dec_check("1.5", 3, &why), 0);
	assert_null(why);
}

static void
test_sum_is_exact_where_binary_floating_point_is_not(void **state)
{
	const char *tenths[10] = {"0.1", "0.1", "0.1", "0.1", "0.1", "0.1", "0.1", "0.1",
				  "0.1", "0.1"};
	const char *mixed[] = {"12.50", "-0.0000001", "1.2E-7", "100", "-12.5"};
	const char *cancel[] = {"5.25", "-5.25"};
	const char *neg[] = {"-1.5", "0.25"};

	(void)state;
	assert_string_equal(sum_of(tenths, 10), "1");
	assert_string_equal(sum_of(mixed, 5), "100.00000002");
	assert_string_equal(sum_of(cancel, 2), "0");
	assert_string_equal(sum_of(neg, 2), "-1.25");
	assert_string_equal(sum_of(NULL, 0), "0");
}

static void
test_sum_carries_across_limbs_and_many_additions(void **state)
{
	fo_dec_sum s;
	char out[160];

	(void)state;
	fo_dec_zero(&s);
	for (int i = 0; i < 1000000; i++)
		assert_int_equal(fo_dec_add(&s, "999999999.999999999", 19), 0);
	fo_dec_format(&s, out, sizeof(out));
	assert_string_equal(out, "999999999999999.999");
	assert_int_equal(fo_dec_add(&s, "1E-45", 5), 0);
	assert_int_equal(fo_dec_add(&s, "1E-46", 5), -1);     /* beyond 45 decimals */
	assert_int_equal(fo_dec_add(&s, "1E54", 4), -1);      /* beyond 54 integer digits */
}

static void
test_exponent_moves_the_point_both_ways(void **state)
{
	const char *a[] = {"1.5E2"};
	const char *b[] = {"15E-3"};
	const char *c[] = {"0.00E5"};

	(void)state;
	assert_string_equal(sum_of(a, 1), "150");
	assert_string_equal(sum_of(b, 1), "0.015");
	assert_string_equal(sum_of(c, 1), "0");
}

static void
test_canonical_form_of_server_text(void **state)
{
	char out[160];

	(void)state;
	fo_dec_canonical("12.5000000000", out, sizeof(out));
	assert_string_equal(out, "12.5");
	fo_dec_canonical("-0.00", out, sizeof(out));
	assert_string_equal(out, "0");
	fo_dec_canonical("007", out, sizeof(out));
	assert_string_equal(out, "7");
}

static void
test_add_sum_combines_totals(void **state)
{
	fo_dec_sum a, b;
	char out[160];

	(void)state;
	fo_dec_zero(&a);
	fo_dec_zero(&b);
	fo_dec_add(&a, "1.25", 4);
	fo_dec_add(&b, "-3", 2);
	fo_dec_add_sum(&a, &b);
	fo_dec_format(&a, out, sizeof(out));
	assert_string_equal(out, "-1.75");
}

static const char *
combine(const char *a, const char *b, int subtract)
{
	static char out[160];
	fo_dec_sum s;
	int sa = fo_dec_scale(a, strlen(a)), sb = fo_dec_scale(b, strlen(b));

	fo_dec_zero(&s);
	assert_int_equal(fo_dec_add(&s, a, strlen(a)), 0);
	assert_int_equal((subtract ? fo_dec_sub : fo_dec_add)(&s, b, strlen(b)), 0);
	fo_dec_format_scale(&s, sa > sb ? sa : sb, out, sizeof(out));
	return out;
}

/* What PostgreSQL prints for numeric a - b and a + b: the larger scale kept. */
static void
test_difference_keeps_the_scale_numeric_would(void **state)
{
	(void)state;
	assert_string_equal(combine("10.00", "8.75", 1), "1.25");
	assert_string_equal(combine("10.00", "10.00", 1), "0.00");
	assert_string_equal(combine("3.25", "1.5", 0), "4.75");
	assert_string_equal(combine("1", "2.000", 1), "-1.000");
	assert_string_equal(combine("-0.5", "-0.5", 1), "0.0");
	assert_string_equal(combine("1.2E-7", "0", 0), "0.00000012");
	assert_string_equal(combine("5E2", "1", 1), "499");
	assert_string_equal(combine("0", "0", 1), "0");
	assert_int_equal(fo_dec_scale("1.50", 4), 2);
	assert_int_equal(fo_dec_scale("1.2E-7", 6), 8);
	assert_int_equal(fo_dec_scale("1.25E+5", 7), 0);
	assert_int_equal(fo_dec_scale("-7", 2), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_accepts_plain_and_exponent_forms),
		cmocka_unit_test(test_check_refuses_what_is_not_a_plain_number),
		cmocka_unit_test(test_check_refuses_values_out_of_range),
		cmocka_unit_test(test_sum_is_exact_where_binary_floating_point_is_not),
		cmocka_unit_test(test_sum_carries_across_limbs_and_many_additions),
		cmocka_unit_test(test_exponent_moves_the_point_both_ways),
		cmocka_unit_test(test_canonical_form_of_server_text),
		cmocka_unit_test(test_add_sum_combines_totals),
		cmocka_unit_test(test_difference_keeps_the_scale_numeric_would),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
