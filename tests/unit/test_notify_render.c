/*
 * The bodies Slack, Teams and generic webhooks get for one message, byte
 * for byte against golden files (tests/golden/notify_*.json, read and
 * checked by eye against the services' documented shapes), and the
 * refusals: text that is not UTF-8, a fact without a title.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "finops/notify.h"
#include "notify_fixture.h"

static struct fo_notify_message msg;

static void
golden(enum fo_notify_kind kind, const char *file)
{
	char path[512], want[8192];
	fo_buf got = FO_BUF_INIT;
	size_t n;
	FILE *f;
	fo_err err;

	snprintf(path, sizeof(path), "%s/%s", FO_TEST_GOLDEN_DIR, file);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(want, 1, sizeof(want) - 1, f);
	fclose(f);
	while (n > 0 && want[n - 1] == '\n')
		n--;
	want[n] = '\0';
	assert_int_equal(fo_notify_render(kind, &msg, &got, &err), 0);
	if (getenv("FO_GOLDEN_PRINT"))
		printf("%s\n", got.data), fflush(stdout);
	assert_string_equal(got.data, want);
	fo_buf_free(&got);
}

static void
test_slack(void **state)
{
	(void)state;
	golden(FO_NOTIFY_SLACK, "notify_slack.json");
}

static void
test_teams(void **state)
{
	(void)state;
	golden(FO_NOTIFY_TEAMS, "notify_teams.json");
}

static void
test_webhook(void **state)
{
	(void)state;
	golden(FO_NOTIFY_WEBHOOK, "notify_webhook.json");
}

static void
test_refusals(void **state)
{
	struct fo_notify_fact bad_fact[] = {{NULL, "x"}};
	struct fo_notify_message m = msg;
	fo_buf out = FO_BUF_INIT;
	enum fo_notify_kind k;
	fo_err err;

	(void)state;
	m.summary = "caf\xe9";          /* Latin-1, not UTF-8 */
	assert_int_equal(fo_notify_render(FO_NOTIFY_SLACK, &m, &out, &err), -1);
	assert_non_null(strstr(err.msg, "not UTF-8"));
	m = msg;
	m.facts = bad_fact;
	m.nfacts = 1;
	assert_int_equal(fo_notify_render(FO_NOTIFY_TEAMS, &m, &out, &err), -1);
	m = msg;
	m.data_json = "[1, 2]";
	assert_int_equal(fo_notify_render(FO_NOTIFY_WEBHOOK, &m, &out, &err), -1);
	assert_non_null(strstr(err.msg, "not a JSON object"));
	assert_int_equal(out.len, 0);
	assert_int_equal(fo_notify_kind_parse("teams", &k), 0);
	assert_int_equal(k, FO_NOTIFY_TEAMS);
	assert_int_equal(fo_notify_kind_parse("email", &k), -1);
	fo_buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slack),
		cmocka_unit_test(test_teams),
		cmocka_unit_test(test_webhook),
		cmocka_unit_test(test_refusals),
	};

	msg = fixture_message("anomaly:17");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
