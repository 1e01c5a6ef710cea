/*
 * Unit tests of log.c: JSON lines, text lines, escaping, redaction.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "finops/buf.h"
#include "finops/log.h"

static int fds[2];
static char captured_text[65536];

static int
setup(void **state)
{
	(void)state;
	assert_int_equal(pipe(fds), 0);
	fo_log_init("test_job", FO_LOG_FORMAT_JSON, FO_LOG_INFO);
	fo_log_set_fd(fds[1]);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	fo_log_forget_secrets();
	fo_log_set_fd(2);
	close(fds[0]);
	close(fds[1]);
	return 0;
}

/* Reads what the log wrote since the last call. */
static const char *
captured(void)
{
	ssize_t n;

	close(fds[1]);
	n = read(fds[0], captured_text, sizeof(captured_text) - 1);
	captured_text[n > 0 ? n : 0] = 0;
	close(fds[0]);
	assert_int_equal(pipe(fds), 0);
	fo_log_set_fd(fds[1]);
	return captured_text;
}

static void
test_json_line_has_ts_level_job_msg_and_fields(void **state)
{
	json_t *j;
	json_error_t jerr;
	const char *line;

	(void)state;
	fo_logf(FO_LOG_INFO, FO_FIELDS(FO_STR("file", "a.csv"), FO_INT("rows", 42),
				       FO_BOOL("ok", 1), FO_NUM("ratio", 0.5), FO_STR("none", NULL)),
		"loaded %d files", 3);
	line = captured();
	assert_non_null(strchr(line, '\n'));
	assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1);
	j = json_loads(line, 0, &jerr);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "level")), "info");
	assert_string_equal(json_string_value(json_object_get(j, "job")), "test_job");
	assert_string_equal(json_string_value(json_object_get(j, "msg")), "loaded 3 files");
	assert_string_equal(json_string_value(json_object_get(j, "file")), "a.csv");
	assert_int_equal(json_integer_value(json_object_get(j, "rows")), 42);
	assert_true(json_is_true(json_object_get(j, "ok")));
	assert_true(json_real_value(json_object_get(j, "ratio")) == 0.5);
	assert_true(json_is_null(json_object_get(j, "none")));
	/* 2026-11-25T03:00:00.123Z */
	assert_int_equal(strlen(json_string_value(json_object_get(j, "ts"))), 24);
	json_decref(j);
}

static void
test_json_escapes_quotes_controls_and_invalid_utf8(void **state)
{
	json_t *j;
	const char *line;

	(void)state;
	fo_log_msg(FO_LOG_WARN, "q\"b\\s\tt\nn\x01 caf\xc3\xa9 bad\xff end");
	line = captured();
	/* one physical line whatever the message held */
	assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1);
	j = json_loads(line, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "msg")),
			    "q\"b\\s\tt\nn\x01 caf\xc3\xa9 bad\xef\xbf\xbd end");
	json_decref(j);
}

static void
test_level_below_threshold_is_not_written(void **state)
{
	(void)state;
	fo_debug("hidden");
	fo_info("shown");
	assert_null(strstr(captured(), "hidden"));
	fo_log_set_level(FO_LOG_DEBUG);
	fo_debug("now shown");
	assert_non_null(strstr(captured(), "now shown"));
	fo_log_set_level(FO_LOG_INFO);
}

static void
test_text_format_is_one_readable_line(void **state)
{
	const char *line;

	(void)state;
	fo_log_set_format(FO_LOG_FORMAT_TEXT);
	fo_logf(FO_LOG_ERROR, FO_FIELDS(FO_STR("file", "my file.csv"), FO_INT("line", 7)),
		"bad value");
	line = captured();
	fo_log_set_format(FO_LOG_FORMAT_JSON);
	assert_non_null(strstr(line, " error test_job: bad value file=\"my file.csv\" line=7\n"));
	assert_int_equal(line[0], '2');
}

static void
test_registered_secret_is_redacted_in_message_and_fields(void **state)
{
	const char *line;

	(void)state;
	assert_int_equal(fo_log_add_secret("s3cr\"t-t0ken"), 0);
	assert_int_equal(fo_log_add_secret("abc"), 0);   /* too short: ignored */
	fo_logf(FO_LOG_INFO, FO_FIELDS(FO_STR("token", "Bearer s3cr\"t-t0ken!"),
				       FO_JSON("raw", "{\"k\":\"s3cr\\\"t-t0ken\"}")),
		"using s3cr\"t-t0ken and s3cr\"t-t0ken again, abc stays");
	line = captured();
	assert_null(strstr(line, "t0ken"));
	assert_non_null(strstr(line, "using [REDACTED] and [REDACTED] again, abc stays"));
	assert_non_null(strstr(line, "\"token\":\"Bearer [REDACTED]!\""));
}

static void
test_redact_buffer_in_place(void **state)
{
	char buf[64] = "vault said hvs.ABCDEFGHIJ is bad";

	(void)state;
	fo_log_add_secret("hvs.ABCDEFGHIJ");
	fo_log_redact(buf, sizeof(buf));
	assert_string_equal(buf, "vault said [REDACTED] is bad");
	fo_log_forget_secrets();
	strcpy(buf, "hvs.ABCDEFGHIJ");
	fo_log_redact(buf, sizeof(buf));
	assert_string_equal(buf, "hvs.ABCDEFGHIJ");
}

static void
test_parse_format_and_level(void **state)
{
	enum fo_log_format f;
	enum fo_log_level l;

	(void)state;
	assert_int_equal(fo_log_parse_format("json", &f), 0);
	assert_int_equal(f, FO_LOG_FORMAT_JSON);
	assert_int_equal(fo_log_parse_format("text", &f), 0);
	assert_int_equal(f, FO_LOG_FORMAT_TEXT);
	assert_int_equal(fo_log_parse_format("xml", &f), -1);
	assert_int_equal(fo_log_parse_level("warn", &l), 0);
	assert_int_equal(l, FO_LOG_WARN);
	assert_int_equal(fo_log_parse_level("loud", &l), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_line_has_ts_level_job_msg_and_fields),
		cmocka_unit_test(test_json_escapes_quotes_controls_and_invalid_utf8),
		cmocka_unit_test(test_level_below_threshold_is_not_written),
		cmocka_unit_test(test_text_format_is_one_readable_line),
		cmocka_unit_test(test_registered_secret_is_redacted_in_message_and_fields),
		cmocka_unit_test(test_redact_buffer_in_place),
		cmocka_unit_test(test_parse_format_and_level),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
