/*
 * Budgets: the periods they run over (months, quarters, years, leap days),
 * and the file's fields, each bad one named by its JSON path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "finops/budget.h"
#include "finops/datetime.h"

static long
day(int y, int m, int d)
{
	return (long)fo_days_from_civil(y, m, d);
}

static void
test_periods(void **state)
{
	long f, l;
	char name[16];

	(void)state;
	fo_bd_period_of(FO_BD_MONTHLY, day(2028, 2, 10), &f, &l, name);
	assert_int_equal(f, day(2028, 2, 1));
	assert_int_equal(l, day(2028, 2, 29));            /* a leap year */
	assert_string_equal(name, "2028-02");
	fo_bd_period_of(FO_BD_QUARTERLY, day(2026, 11, 3), &f, &l, name);
	assert_int_equal(f, day(2026, 10, 1));
	assert_int_equal(l, day(2026, 12, 31));
	assert_string_equal(name, "2026-Q4");
	fo_bd_period_of(FO_BD_QUARTERLY, day(2026, 1, 1), &f, &l, name);
	assert_int_equal(l, day(2026, 3, 31));
	assert_string_equal(name, "2026-Q1");
	fo_bd_period_of(FO_BD_YEARLY, day(2026, 12, 31), &f, &l, name);
	assert_int_equal(f, day(2026, 1, 1));
	assert_int_equal(l, day(2026, 12, 31));
	assert_string_equal(name, "2026");
	fo_bd_period_of(FO_BD_MONTHLY, day(2026, 12, 31), &f, &l, name);
	assert_int_equal(l, day(2026, 12, 31));
}

#define HEAD "{\"channels\": [{\"name\": \"own\", \"kind\": \"slack\"}], \"budgets\": [{" \
	"\"name\": \"b\", \"owner\": \"own\", \"currency\": \"USD\", "

static void
bad(const char *json, const char *want)
{
	struct fo_bd_file f;
	fo_err err;

	fo_err_clear(&err);
	assert_int_equal(fo_bd_parse(&f, "b.json", json, strlen(json), &err), -1);
	assert_int_equal(err.code, FO_EXIT_BAD_INPUT);
	if (!strstr(err.msg, want))
		fail_msg("%s: got \"%s\", want \"%s\"", json, err.msg, want);
	fo_bd_free(&f);
}

static void
test_file(void **state)
{
	struct fo_bd_file f;
	fo_err err;
	const char *good = HEAD "\"period\": \"quarterly\", \"amount\": {\"planned\":"
		" {\"2026-Q4\": 900}}, \"scope\": {\"tags\": {\"team\": [\"a\", \"b\"]},"
		" \"services\": [\"AmazonEC2\"]}, \"thresholds\": [{\"type\": \"actual\","
		" \"percent\": 80}, {\"type\": \"forecasted\", \"amount\": 1000}]}]}";

	(void)state;
	fo_err_clear(&err);
	assert_int_equal(fo_bd_parse(&f, "b.json", good, strlen(good), &err), 0);
	assert_int_equal(f.nbudgets, 1);
	assert_int_equal(f.budgets[0].period, FO_BD_QUARTERLY);
	assert_int_equal(f.budgets[0].amount_kind, FO_BD_PLANNED);
	assert_string_equal(f.budgets[0].planned_keys[0], "2026-Q4");
	assert_int_equal(f.budgets[0].nfilters, 2);
	assert_string_equal(f.budgets[0].thresholds[0].key, "actual:80%");
	assert_string_equal(f.budgets[0].thresholds[1].key, "forecasted:1000.00");
	assert_string_equal(f.budgets[0].thresholds[0].notify[0], "own");   /* the owner */
	fo_bd_free(&f);

	bad("{\"budgets\": []}", "b.json: channels: missing");
	bad(HEAD "\"amount\": 5, \"thresholds\": [{\"type\": \"actual\", \"percent\": 0}]}]}",
	    "b.json: budgets[0].thresholds[0].percent: must be a number above 0");
	bad(HEAD "\"amount\": -5, \"thresholds\": []}]}", "b.json: budgets[0].amount: must be > 0");
	bad(HEAD "\"amount\": 5, \"thresholds\": [{\"type\": \"actual\", \"percent\": 80},"
	    " {\"type\": \"actual\", \"percent\": 80}]}]}",
	    "b.json: budgets[0].thresholds[1]: the same threshold as budgets[0].thresholds[0]");
	bad(HEAD "\"amount\": 5, \"thresholds\": [{\"type\": \"actual\", \"percent\": 80,"
	    " \"notify\": [\"cfo\"]}]}]}",
	    "b.json: budgets[0].thresholds[0].notify[0]: no channel named 'cfo'");
	bad(HEAD "\"period\": \"monthly\", \"amount\": {\"planned\": {\"2026-Q4\": 5}},"
	    " \"thresholds\": [{\"type\": \"actual\", \"percent\": 80}]}]}",
	    "b.json: budgets[0].amount.planned.2026-Q4: not a monthly period");
	bad(HEAD "\"amount\": 5, \"scope\": {\"tags\": {\"team\": []}},"
	    " \"thresholds\": [{\"type\": \"actual\", \"percent\": 80}]}]}",
	    "b.json: budgets[0].scope.tags.team: must be a list of 1 to 1000 strings");
	bad(HEAD "\"amount\": 5, \"thresholds\": [{\"type\": \"actual\", \"percent\": 80}]},"
	    " {\"name\": \"b\", \"owner\": \"own\", \"currency\": \"USD\", \"amount\": 5,"
	    " \"thresholds\": [{\"type\": \"actual\", \"percent\": 80}]}]}",
	    "b.json: budgets[1].name: 'b' is also budgets[0]");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_periods),
		cmocka_unit_test(test_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
