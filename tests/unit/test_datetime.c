/*
 * Unit tests of timestamp parsing and formatting (datetime.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "finops/datetime.h"

static const char *
norm(const char *s)
{
	static char out[64];
	struct fo_ts ts;
	const char *why;

	if (fo_ts_parse(s, strlen(s), &ts, &why) < 0)
		return "ERROR";
	fo_ts_format(&ts, out, sizeof(out));
	return out;
}

static void
test_every_form_seen_in_billing_files(void **state)
{
	(void)state;
	assert_string_equal(norm("2023-11-01T00:00:00.000Z"), "2023-11-01 00:00:00+00");
	assert_string_equal(norm("2023-11-01T00:00:00Z"), "2023-11-01 00:00:00+00");
	assert_string_equal(norm("2024-09-18 22:00:00"), "2024-09-18 22:00:00+00");
	assert_string_equal(norm("2023-11-01 00:00:00+00:00"), "2023-11-01 00:00:00+00");
	assert_string_equal(norm("2018-08-01T00:00Z"), "2018-08-01 00:00:00+00");
	assert_string_equal(norm("20180801T000000.000Z"), "2018-08-01 00:00:00+00");
	assert_string_equal(norm("2022-07-01 00:00:00.000"), "2022-07-01 00:00:00+00");
	assert_string_equal(norm("2023-11-01"), "2023-11-01 00:00:00+00");
	assert_string_equal(norm("2024-02-29T12:30:45.123456Z"), "2024-02-29 12:30:45.123456+00");
}

static void
test_offsets_are_converted_to_utc(void **state)
{
	(void)state;
	assert_string_equal(norm("2023-11-01T01:00:00+02:00"), "2023-10-31 23:00:00+00");
	assert_string_equal(norm("2023-12-31T23:30:00-0100"), "2024-01-01 00:30:00+00");
	assert_string_equal(norm("1970-01-01T00:30:00+01:00"), "1969-12-31 23:30:00+00");
}

static void
test_bad_timestamps_are_refused(void **state)
{
	(void)state;
	assert_string_equal(norm(""), "ERROR");
	assert_string_equal(norm("2023-13-01T00:00:00Z"), "ERROR");
	assert_string_equal(norm("2023-02-29T00:00:00Z"), "ERROR");
	assert_string_equal(norm("2023-11-01T25:00:00Z"), "ERROR");
	assert_string_equal(norm("2023-11-01T00:00:00Zjunk"), "ERROR");
	assert_string_equal(norm("11/01/2023"), "ERROR");
	/* year 0 would be stored as 1 BC; nothing billed or measured predates 1970 */
	assert_string_equal(norm("0000-01-01T00:00:00Z"), "ERROR");
	assert_string_equal(norm("1969-12-31T23:59:59Z"), "ERROR");
	assert_string_equal(norm("2023-11-01T00:00:00."), "ERROR");
	assert_string_equal(norm("yesterday"), "ERROR");
}

static void
test_date_of_a_timestamp_is_its_utc_date(void **state)
{
	struct fo_ts ts;
	const char *why;
	char d[16];

	(void)state;
	assert_int_equal(fo_ts_parse("2024-10-01T00:00:00+05:00", 25, &ts, &why), 0);
	fo_ts_date(&ts, d, sizeof(d));
	assert_string_equal(d, "2024-09-30");
}

/* Dates as PostgreSQL prints them <-> days since the epoch, both ways. */
static void
test_days_and_dates(void **state)
{
	char s[16];

	(void)state;
	assert_int_equal(fo_day_parse("1970-01-01"), 0);
	assert_int_equal(fo_day_parse("2026-10-29"), 20755);      /* Python: (date(2026, 10, 29) - date(1970, 1, 1)).days */
	assert_int_equal(fo_day_parse("not a date"), 0);
	fo_day_text(fo_day_parse("2028-02-29"), s);
	assert_string_equal(s, "2028-02-29");
	fo_day_text(fo_day_parse("2026-12-31") + 1, s);
	assert_string_equal(s, "2027-01-01");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_form_seen_in_billing_files),
		cmocka_unit_test(test_days_and_dates),
		cmocka_unit_test(test_offsets_are_converted_to_utc),
		cmocka_unit_test(test_bad_timestamps_are_refused),
		cmocka_unit_test(test_date_of_a_timestamp_is_its_utc_date),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
