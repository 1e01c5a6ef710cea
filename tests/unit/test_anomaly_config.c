/*
 * The anomaly job's monitors file and money as messages write it: the
 * defaults, a file's settings inherited by its monitors (and overridden by
 * them), every bad field named by its JSON path, amounts grouped and
 * signed the way a FinOps reader expects.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "finops/anomaly_detect.h"

static int
parse(struct fo_ad_config *c, const char *json, fo_err *err)
{
	fo_err_clear(err);
	return fo_ad_config_parse(c, "m.json", json, strlen(json), err);
}

static void
test_defaults(void **state)
{
	struct fo_ad_config c;
	fo_err err;

	(void)state;
	assert_int_equal(fo_ad_config_defaults(&c, &err), 0);
	assert_int_equal(c.nmonitors, 5);
	assert_string_equal(c.monitors[0].name, "billing_account");
	assert_string_equal(c.monitors[4].name, "usage_type");
	assert_int_equal(c.monitors[1].top_n, 10);
	assert_true(c.monitors[1].up.level == 0.99 && c.monitors[1].up.min_impact == 100 &&
		    c.monitors[1].up.min_pct == 20 && !c.monitors[1].up.join_or);
	assert_false(c.monitors[1].watch_drops);
	assert_int_equal(c.nchannels, 0);
	assert_false(c.billed);
	fo_ad_config_free(&c);
}

static void
test_inherit_and_override(void **state)
{
	struct fo_ad_config c;
	fo_err err;

	(void)state;
	assert_int_equal(parse(&c,
		"{\"metric\": \"billed_cost\", \"level\": 0.999, \"top_n\": 3,"
		" \"threshold\": {\"absolute\": 250, \"join\": \"or\"},"
		" \"channels\": [{\"name\": \"ops\", \"kind\": \"slack\"},"
		"  {\"name\": \"fin\", \"kind\": \"teams\", \"webhook\": \"fin-hook\","
		"   \"delivery\": \"digest\"}],"
		" \"notify\": [\"ops\"],"
		" \"monitors\": [{\"name\": \"svc\", \"dimension\": \"service\"},"
		"  {\"name\": \"team\", \"tag\": \"user:team\", \"top_n\": 7, \"notify\": [\"fin\", \"ops\"],"
		"   \"threshold\": {\"percent\": 50}, \"drops\": true}]}", &err), 0);
	assert_true(c.billed);
	assert_int_equal(c.nchannels, 2);
	assert_string_equal(c.channels[0].ch.webhook, "ops");       /* its name by default */
	assert_string_equal(c.channels[1].ch.webhook, "fin-hook");
	assert_true(c.channels[1].digest && c.channels[1].ch.kind == FO_NOTIFY_TEAMS);
	assert_int_equal(c.nmonitors, 2);
	/* the file's settings */
	assert_int_equal(c.monitors[0].top_n, 3);
	assert_true(c.monitors[0].up.level == 0.999 && c.monitors[0].up.min_impact == 250 &&
		    c.monitors[0].up.min_pct == 20 && c.monitors[0].up.join_or);
	assert_int_equal(c.monitors[0].nchannels, 1);
	assert_int_equal(c.monitors[0].channels[0], 0);
	/* the monitor's own, over the file's */
	assert_int_equal(c.monitors[1].dim, FO_AD_TAG);
	assert_string_equal(c.monitors[1].key, "user:team");
	assert_int_equal(c.monitors[1].top_n, 7);
	assert_true(c.monitors[1].up.min_impact == 250 && c.monitors[1].up.min_pct == 50);
	assert_true(c.monitors[1].watch_drops && c.monitors[1].down.drops);
	assert_int_equal(c.monitors[1].nchannels, 2);
	assert_int_equal(c.monitors[1].channels[0], 1);
	fo_ad_config_free(&c);
	/* no monitors: the defaults, with the file's settings */
	assert_int_equal(parse(&c, "{\"top_n\": 4, \"drops\": {\"absolute\": 10}}", &err), 0);
	assert_int_equal(c.nmonitors, 5);
	assert_int_equal(c.monitors[2].top_n, 4);
	assert_true(c.monitors[2].watch_drops && c.monitors[2].down.min_impact == 10);
	fo_ad_config_free(&c);
}

static void
bad(const char *json, const char *want)
{
	struct fo_ad_config c;
	fo_err err;

	assert_int_equal(parse(&c, json, &err), -1);
	assert_int_equal(err.code, FO_EXIT_USAGE);
	if (!strstr(err.msg, want))
		fail_msg("%s: got \"%s\", want \"%s\"", json, err.msg, want);
	fo_ad_config_free(&c);
}

static void
test_bad_fields_are_named_by_path(void **state)
{
	(void)state;
	bad("[1]", "m.json: must be a JSON object");
	bad("{\"a\": ", "m.json:1:");
	bad("{\"level\": 1.5}", "m.json: level: must be a number from 0.5 to 0.9999");
	bad("{\"min_history_days\": 3}", "m.json: min_history_days: must be a whole number from 7");
	bad("{\"threshold\": {\"absolute\": \"100\"}}", "m.json: threshold.absolute: must be a number");
	bad("{\"threshold\": {\"percent\": 20, \"pct\": 5}}", "m.json: threshold.pct: unknown key");
	bad("{\"monitors\": []}", "m.json: monitors: must be a list of 1 to 100 monitors");
	bad("{\"monitors\": [{\"dimension\": \"service\"}]}", "m.json: monitors[0].name: missing");
	bad("{\"monitors\": [{\"name\": \"a\", \"dimension\": \"service\"},"
	    " {\"name\": \"a\", \"dimension\": \"region\"}]}",
	    "m.json: monitors[1].name: 'a' is also monitors[0]");
	bad("{\"monitors\": [{\"name\": \"a\", \"dimension\": \"service\", \"tag\": \"t\"}]}",
	    "m.json: monitors[0]: needs exactly one of dimension, tag and cost_category");
	bad("{\"monitors\": [{\"name\": \"a b\", \"dimension\": \"service\"}]}",
	    "m.json: monitors[0].name: 'a b': letters, digits");
	bad("{\"monitors\": [{\"name\": \"a\", \"dimension\": \"service\","
	    " \"drops\": {\"join\": \"both\"}}]}", "m.json: monitors[0].drops.join: must be");
	bad("{\"channels\": [{\"name\": \"x\", \"kind\": \"slack\", \"delivery\": \"weekly\"}]}",
	    "m.json: channels[0].delivery: must be \"immediate\" or \"digest\"");
	bad("{\"notify\": [\"nowhere\"]}", "m.json: notify[0]: no channel named 'nowhere'");
	bad("{\"dashboard_url\": \"javascript:alert(1)\"}", "m.json: dashboard_url: must start");
	bad("{\"metric\": \"unblended\"}", "m.json: metric: must be \"effective_cost\"");
	bad("{\"top_n\": 1, \"top_n\": 2}", "m.json:1:");      /* a key twice */
}

static void
test_money(void **state)
{
	char s[64];

	(void)state;
	fo_notify_money(1234.565, "USD", s, sizeof(s));
	assert_string_equal(s, "$1,234.57");
	fo_notify_money(-939.6, "USD", s, sizeof(s));
	assert_string_equal(s, "-$939.60");
	fo_notify_money(1234567.004, "EUR", s, sizeof(s));
	assert_string_equal(s, "EUR 1,234,567.00");
	fo_notify_money(-0.001, "USD", s, sizeof(s));
	assert_string_equal(s, "$0.00");             /* no "-$0.00" */
	fo_notify_money(999.995, "JPY", s, sizeof(s));
	assert_string_equal(s, "JPY 1,000.00");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_inherit_and_override),
		cmocka_unit_test(test_bad_fields_are_named_by_path),
		cmocka_unit_test(test_money),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
