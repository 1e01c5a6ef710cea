/*
 * Notifications against stand-ins for Slack and Teams on 127.0.0.1
 * (tests/support/chat_server.py, which refuses bodies the real services
 * refuse) and a real PostgreSQL: what is sent, what is retried and how,
 * what is final, that a message goes once, that a failed one goes on the
 * next try, and that the webhook URL shows nowhere.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "finops/http.h"
#include "finops/migrate.h"
#include "finops/notify.h"
#include "finops/secrets.h"
#include "notify_fixture.h"
#include "pgtest.h"
#include "srvtest.h"

#define SECRET "XSECRETX9f3a"      /* in every webhook URL: must never show */

static PGconn *conn;
static struct srvtest srv;

static int
setup(void **state)
{
	const char *argv[] = {"chat_server.py", NULL};
	struct fo_migrate_report r;
	fo_err err;

	(void)state;
	conn = pgtest_fresh_db("fo_test_notify");
	assert_int_equal(fo_migrate_apply(conn, fo_migrations_embedded,
					  fo_migrations_embedded_count, 0, -1, &r, &err), 0);
	assert_int_equal(fo_http_global_init(&err), 0);
	srvtest_start(&srv, argv);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	srvtest_stop(&srv);
	PQfinish(conn);
	fo_http_global_cleanup();
	return 0;
}

/* A channel of kind whose webhook (secret name) points at path?script=... */
static void
channel(struct fo_notify_channel *ch, const char *name, enum fo_notify_kind kind,
	const char *route, const char *script)
{
	char var[128], url[512];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/%s/%s/T01/B02/%s%s%s", srv.port, route, name,
		 SECRET, script ? "?script=" : "", script ? script : "");
	fo_secret_webhook_env(name, var, sizeof(var));
	setenv(var, url, 1);
	ch->name = name;
	ch->kind = kind;
	ch->webhook = name;
}

/* The requests the stand-in got for name, as JSON (the caller decrefs). */
static json_t *
requests_of(const char *name)
{
	char url[256];
	struct fo_http_req req = {NULL, url, NULL, NULL, 0, NULL, "test log", 0};
	struct fo_http_resp resp;
	json_error_t je;
	json_t *j;
	fo_err err;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/log/%s", srv.port, name);
	assert_int_equal(fo_http_request(NULL, &req, &resp, &err), 0);
	j = json_loadb(resp.body.data, resp.body.len, 0, &je);
	fo_buf_free(&resp.body);
	assert_non_null(j);
	return j;
}

/* Sends the fixture message with key to a channel made as channel() makes it. */
static int
send_to(const char *name, enum fo_notify_kind kind, const char *route, const char *script,
	const char *key, enum fo_notify_outcome *out, fo_err *err)
{
	struct fo_notify_channel ch;
	struct fo_notify_message m = fixture_message(key);

	channel(&ch, name, kind, route, script);
	return fo_notify_send(conn, 0, &ch, &m, out, err);
}

static const char *
record_of(const char *channel_name, const char *key)
{
	char sql[512];

	snprintf(sql, sizeof(sql), "SELECT status || '|' || coalesce(http_status::text, '-') || '|'"
		 " || tries || '|' || CASE WHEN sent_at IS NULL THEN 'f' ELSE 't' END"
		 " FROM finops.notifications"
		 " WHERE channel = '%s' AND dedup_key = '%s'", channel_name, key);
	return pgtest_value(conn, sql);
}

static void
test_slack_sent_once(void **state)
{
	struct fo_notify_channel ch;
	struct fo_notify_message m = fixture_message("anomaly:17");
	enum fo_notify_outcome out;
	json_t *log, *body;
	fo_err err;

	(void)state;
	channel(&ch, "slack-ok", FO_NOTIFY_SLACK, "slack", NULL);
	assert_int_equal(fo_notify_send(conn, 0, &ch, &m, &out, &err), 0);
	assert_int_equal(out, FO_NOTIFY_SENT);
	assert_string_equal(record_of("slack-ok", "anomaly:17"), "sent|200|1|t");
	/* the same key again: nothing sent */
	assert_int_equal(fo_notify_send(conn, 0, &ch, &m, &out, &err), 0);
	assert_int_equal(out, FO_NOTIFY_SENT_BEFORE);
	log = requests_of("slack-ok");
	assert_int_equal(json_array_size(log), 1);
	body = json_object_get(json_array_get(log, 0), "body");
	assert_true(json_is_null(json_object_get(json_array_get(log, 0), "problem")));
	assert_non_null(strstr(json_string_value(json_object_get(body, "text")),
			       "Spend is $939.60 above"));
	assert_string_equal(json_string_value(json_object_get(json_array_get(log, 0),
							      "content_type")),
			    "application/json; charset=utf-8");
	json_decref(log);
}

static void
test_slack_rate_limit_waits_retry_after(void **state)
{
	enum fo_notify_outcome out;
	double t0 = pgtest_now_s();
	json_t *log;
	fo_err err;

	(void)state;
	assert_int_equal(send_to("slack-busy", FO_NOTIFY_SLACK, "slack", "429,200", "anomaly:18",
				 &out, &err), 0);
	assert_int_equal(out, FO_NOTIFY_SENT);
	assert_true(pgtest_now_s() - t0 >= 0.95);      /* Retry-After: 1 */
	log = requests_of("slack-busy");
	assert_int_equal(json_array_size(log), 2);
	json_decref(log);
}

static void
test_slack_down_then_retried_by_next_run(void **state)
{
	struct fo_notify_channel ch;
	struct fo_notify_message m = fixture_message("anomaly:19");
	enum fo_notify_outcome out;
	json_t *log;
	fo_err err;

	(void)state;
	channel(&ch, "slack-down", FO_NOTIFY_SLACK, "slack", "500");
	assert_int_equal(fo_notify_send(conn, 7, &ch, &m, &out, &err), -1);
	assert_int_equal(out, FO_NOTIFY_FAILED);
	assert_int_equal(err.code, FO_EXIT_TRANSIENT);
	assert_non_null(strstr(err.msg, "slack channel slack-down"));
	assert_null(strstr(err.msg, SECRET));
	assert_string_equal(record_of("slack-down", "anomaly:19"), "failed|-|1|f");
	log = requests_of("slack-down");
	assert_int_equal(json_array_size(log), 5);       /* the HTTP client's tries */
	json_decref(log);
	/* the next run finds the channel back */
	channel(&ch, "slack-down", FO_NOTIFY_SLACK, "slack", "200");
	assert_int_equal(fo_notify_send(conn, 8, &ch, &m, &out, &err), 0);
	assert_int_equal(out, FO_NOTIFY_SENT);
	assert_string_equal(record_of("slack-down", "anomaly:19"), "sent|200|2|t");
}

static void
test_slack_refusals_are_final(void **state)
{
	static const struct {
		const char *name, *script, *says;
	} cases[] = {
		{"slack-bad", "400", "invalid_payload"},
		{"slack-gone", "404", "channel_not_found"},
		{"slack-archived", "410", "channel_is_archived"},
		{"slack-denied", "403", "action_prohibited"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum fo_notify_outcome out;
		json_t *log;
		fo_err err;

		assert_int_equal(send_to(cases[i].name, FO_NOTIFY_SLACK, "slack", cases[i].script,
					 "anomaly:20", &out, &err), -1);
		assert_int_equal(out, FO_NOTIFY_FAILED);
		assert_int_equal(err.code, FO_EXIT_USAGE);
		assert_non_null(strstr(err.msg, cases[i].name));
		assert_non_null(strstr(err.msg, cases[i].says));
		assert_null(strstr(err.msg, SECRET));
		log = requests_of(cases[i].name);
		assert_int_equal(json_array_size(log), 1);       /* never tried again */
		json_decref(log);
	}
}

static void
test_slack_many_facts_fit_its_limits(void **state)
{
	struct fo_notify_fact many[600];
	char titles[600][16];
	struct fo_notify_channel ch;
	struct fo_notify_message m = fixture_message("anomaly:21");
	enum fo_notify_outcome out;
	json_t *log, *body;
	fo_err err;

	(void)state;
	for (int i = 0; i < 600; i++) {
		snprintf(titles[i], sizeof(titles[i]), "fact %d", i);
		many[i].title = titles[i];
		many[i].value = "x";
	}
	m.facts = many;
	m.nfacts = 600;
	channel(&ch, "slack-many", FO_NOTIFY_SLACK, "slack", NULL);
	assert_int_equal(fo_notify_send(conn, 0, &ch, &m, &out, &err), 0);
	log = requests_of("slack-many");
	body = json_object_get(json_array_get(log, 0), "body");
	assert_true(json_array_size(json_object_get(body, "blocks")) <= 50);
	{
		json_t *blocks = json_object_get(body, "blocks");
		int said = 0;

		for (size_t i = 0; i < json_array_size(blocks); i++) {
			const char *t = json_string_value(json_object_get(json_object_get(
				json_array_get(blocks, i), "text"), "text"));

			said |= t && strstr(t, "more not shown") != NULL;
		}
		assert_true(said);
	}
	assert_int_equal(json_integer_value(json_object_get(json_array_get(log, 0), "status")), 200);
	json_decref(log);
}

static void
test_teams_card_and_throttling(void **state)
{
	struct fo_notify_channel ch;
	struct fo_notify_message m = fixture_message("anomaly:22");
	enum fo_notify_outcome out;
	json_t *log, *card;
	fo_err err;

	(void)state;
	channel(&ch, "teams-finance", FO_NOTIFY_TEAMS, "teams", "412,200");
	assert_int_equal(fo_notify_send(conn, 0, &ch, &m, &out, &err), 0);
	assert_int_equal(out, FO_NOTIFY_SENT);
	assert_string_equal(record_of("teams-finance", "anomaly:22"), "sent|202|1|t");
	log = requests_of("teams-finance");
	assert_int_equal(json_array_size(log), 2);
	card = json_object_get(json_array_get(json_object_get(json_object_get(
		json_array_get(log, 1), "body"), "attachments"), 0), "content");
	assert_string_equal(json_string_value(json_object_get(card, "version")), "1.2");
	assert_string_equal(json_string_value(json_object_get(json_array_get(
		json_object_get(card, "actions"), 0), "url")),
		"https://grafana.example.com/d/anomalies?var-id=17");
	json_decref(log);
	channel(&ch, "teams-gone", FO_NOTIFY_TEAMS, "teams", "404");
	assert_int_equal(fo_notify_send(conn, 0, &ch, &m, &out, &err), -1);
	assert_int_equal(err.code, FO_EXIT_USAGE);
	assert_null(strstr(err.msg, SECRET));
}

static void
test_generic_webhook_carries_the_event(void **state)
{
	enum fo_notify_outcome out;
	json_t *log, *body;
	fo_err err;

	(void)state;
	assert_int_equal(send_to("hook-ops", FO_NOTIFY_WEBHOOK, "hook", NULL, "anomaly:23", &out,
				 &err), 0);
	log = requests_of("hook-ops");
	body = json_object_get(json_array_get(log, 0), "body");
	assert_string_equal(json_string_value(json_object_get(body, "event")), "cost_anomaly");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(body, "data"),
							    "anomaly_id")), 17);
	assert_int_equal(json_array_size(json_object_get(body, "items")), 2);
	json_decref(log);
}

static void
test_no_webhook_and_no_url_anywhere(void **state)
{
	struct fo_notify_channel ch = {"nowhere", FO_NOTIFY_SLACK, "nowhere"};
	struct fo_notify_message m = fixture_message("anomaly:24");
	enum fo_notify_outcome out;
	fo_err err;

	(void)state;
	unsetenv("FINOPS_WEBHOOK_NOWHERE");
	unsetenv("FINOPS_WEBHOOK_NOWHERE_FILE");
	assert_int_equal(fo_notify_send(conn, 0, &ch, &m, &out, &err), -1);
	assert_int_equal(err.code, FO_EXIT_USAGE);
	assert_non_null(strstr(err.msg, "FINOPS_WEBHOOK_NOWHERE"));
	/* nothing the earlier tests recorded names a webhook URL */
	assert_string_equal(pgtest_value(conn, "SELECT count(*) FROM finops.notifications n"
					 " WHERE n::text LIKE '%" SECRET "%'"), "0");
	assert_string_equal(pgtest_value(conn, "SELECT count(*) > 5 FROM finops.notifications"),
			    "t");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slack_sent_once),
		cmocka_unit_test(test_slack_rate_limit_waits_retry_after),
		cmocka_unit_test(test_slack_down_then_retried_by_next_run),
		cmocka_unit_test(test_slack_refusals_are_final),
		cmocka_unit_test(test_slack_many_facts_fit_its_limits),
		cmocka_unit_test(test_teams_card_and_throttling),
		cmocka_unit_test(test_generic_webhook_carries_the_event),
		cmocka_unit_test(test_no_webhook_and_no_url_anywhere),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
