/*
 * The HTTP client against a local server that fails on purpose
 * (tests/support/http_faults.py): what is tried again and what is not,
 * Retry-After, timeouts, the size cap, a download cut off and resumed, TLS
 * verification, and what messages show of a URL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "finops/exit.h"
#include "finops/http.h"
#include "srvtest.h"

static struct srvtest plain, tls;
static char tmpdir[] = "/tmp/fo-test-http-XXXXXX";
static char cert[256], keyfile[256];

/* Quick retries so that the tests stay fast. */
static const struct fo_http_opts quick = {
	.connect_timeout_ms = 2000, .timeout_ms = 5000, .tries = 3, .backoff_ms = 20,
	.backoff_max_ms = 50,
};

static double
now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int
setup(void **state)
{
	char cmd[1024];
	const char *plain_argv[] = {"http_faults.py", NULL};
	const char *tls_argv[] = {"http_faults.py", "--cert", cert, "--key", keyfile, NULL};
	fo_err err;

	(void)state;
	assert_non_null(mkdtemp(tmpdir));
	snprintf(cert, sizeof(cert), "%s/cert.pem", tmpdir);
	snprintf(keyfile, sizeof(keyfile), "%s/key.pem", tmpdir);
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1"
		 " -addext subjectAltName=IP:127.0.0.1 -keyout %s -out %s >/dev/null 2>&1", keyfile,
		 cert);
	assert_int_equal(system(cmd), 0);
	srvtest_start(&plain, plain_argv);
	srvtest_start(&tls, tls_argv);
	assert_int_equal(fo_http_global_init(&err), 0);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[600];

	(void)state;
	srvtest_stop(&plain);
	srvtest_stop(&tls);
	fo_http_global_cleanup();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd);
}

static void
url(char *out, size_t len, const char *path)
{
	snprintf(out, len, "http://127.0.0.1:%d%s", plain.port, path);
}

static int
get(const struct fo_http_opts *o, const char *path, struct fo_http_resp *r, fo_err *err)
{
	char u[512];
	struct fo_http_req req = {.url = u, .what = "test"};

	url(u, sizeof(u), path);
	return fo_http_request(o, &req, r, err);
}

/* How many requests the server saw for key (its /log). */
static json_t *
server_log(const char *key)
{
	char path[128];
	struct fo_http_resp r;
	fo_err err;
	json_t *j;

	snprintf(path, sizeof(path), "/log/%s", key);
	assert_int_equal(get(&quick, path, &r, &err), 0);
	j = json_loadb(r.body.data, r.body.len, 0, NULL);
	assert_non_null(j);
	fo_buf_free(&r.body);
	return j;
}

static size_t
requests_seen(const char *key)
{
	json_t *j = server_log(key);
	size_t n = json_array_size(j);

	json_decref(j);
	return n;
}

static void
test_5xx_is_tried_again_until_it_succeeds(void **state)
{
	struct fo_http_resp r;
	fo_err err;

	(void)state;
	assert_int_equal(get(&quick, "/flaky/a?fail=2&status=503", &r, &err), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.data, "ok after 2");
	assert_int_equal(requests_seen("a"), 3);
	fo_buf_free(&r.body);
}

static void
test_5xx_after_the_last_try_is_transient_and_names_the_url(void **state)
{
	struct fo_http_resp r;
	fo_err err;

	(void)state;
	assert_int_equal(get(&quick, "/flaky/b?fail=99&status=502&X-Amz-Signature=secret", &r,
			     &err), -1);
	assert_int_equal(err.code, FO_EXIT_TRANSIENT);
	assert_non_null(strstr(err.msg, "/flaky/b: HTTP 502 after 3 tries"));
	assert_null(strstr(err.msg, "secret"));
	assert_int_equal(requests_seen("b"), 3);
}

static void
test_other_4xx_are_answers_not_retried(void **state)
{
	struct fo_http_resp r;
	fo_err err;

	(void)state;
	assert_int_equal(get(&quick, "/flaky/c?fail=99&status=403", &r, &err), 0);
	assert_int_equal(r.status, 403);
	assert_int_equal(requests_seen("c"), 1);
	fo_buf_free(&r.body);
}

static void
test_429_waits_what_retry_after_asks(void **state)
{
	struct fo_http_resp r;
	fo_err err;
	json_t *log;
	double gap;

	(void)state;
	assert_int_equal(get(&quick, "/retry-after/d?secs=1", &r, &err), 0);
	assert_int_equal(r.status, 200);
	log = server_log("d");
	assert_int_equal(json_array_size(log), 2);
	gap = json_real_value(json_object_get(json_array_get(log, 1), "t")) -
	      json_real_value(json_object_get(json_array_get(log, 0), "t"));
	/* the backoff alone is under 50 ms */
	assert_true(gap >= 0.95);
	assert_true(gap < 3.0);
	json_decref(log);
	fo_buf_free(&r.body);
}

static void
test_a_hanging_server_times_out_as_transient(void **state)
{
	struct fo_http_opts o = quick;
	struct fo_http_resp r;
	fo_err err;
	double t0 = now_s();

	(void)state;
	o.timeout_ms = 300;
	o.tries = 2;
	assert_int_equal(get(&o, "/hang?secs=3", &r, &err), -1);
	assert_int_equal(err.code, FO_EXIT_TRANSIENT);
	assert_non_null(strstr(err.msg, "Timeout"));
	assert_non_null(strstr(err.msg, "after 2 tries"));
	assert_true(now_s() - t0 < 2.5);
}

static void
test_connection_refused_is_transient(void **state)
{
	struct fo_http_req req = {.url = "http://127.0.0.1:1/nothing", .what = "test"};
	struct fo_http_resp r;
	fo_err err;

	(void)state;
	assert_int_equal(fo_http_request(&quick, &req, &r, &err), -1);
	assert_int_equal(err.code, FO_EXIT_TRANSIENT);
	assert_non_null(strstr(err.msg, "http://127.0.0.1:1/nothing"));
	assert_non_null(strstr(err.msg, "after 3 tries"));
}

static void
test_an_answer_over_the_size_cap_fails(void **state)
{
	struct fo_http_opts o = quick;
	struct fo_http_resp r;
	fo_err err;

	(void)state;
	o.max_bytes = 100;
	assert_int_equal(get(&o, "/big?bytes=1000", &r, &err), -1);
	assert_non_null(strstr(err.msg, "larger than 100 bytes"));
	assert_int_equal(err.code, FO_EXIT_BAD_INPUT);
	assert_int_equal(get(&o, "/big?bytes=100", &r, &err), 0);
	assert_int_equal(r.body.len, 100);
	fo_buf_free(&r.body);
}

static void
test_user_agent_names_the_tool(void **state)
{
	struct fo_http_resp r;
	fo_err err;
	json_t *h;

	(void)state;
	assert_int_equal(get(&quick, "/headers", &r, &err), 0);
	h = json_loadb(r.body.data, r.body.len, 0, NULL);
	assert_non_null(h);
	assert_non_null(strstr(json_string_value(json_object_get(h, "User-Agent")),
			       "finops-pipeline/"));
	json_decref(h);
	fo_buf_free(&r.body);
}

static void
read_all(fo_http_stream *s, fo_buf *out)
{
	char chunk[7000];
	ssize_t n;
	fo_err err;

	while ((n = fo_http_stream_read(s, chunk, sizeof(chunk), &err)) > 0)
		fo_buf_append(out, chunk, (size_t)n);
	if (n < 0)
		fail_msg("%s", err.msg);
}

static void
test_a_cut_download_resumes_with_range_and_if_match(void **state)
{
	char u[256];
	struct fo_http_req req = {.url = u, .what = "download"};
	fo_http_stream *s;
	fo_buf got = FO_BUF_INIT;
	fo_err err;
	long status;
	json_t *log;
	size_t size = 300000;

	(void)state;
	url(u, sizeof(u), "/object/e?size=300000&cut=120000");
	assert_int_equal(fo_http_stream_open(&quick, &req, &s, &status, &err), 0);
	assert_int_equal(status, 200);
	assert_int_equal(fo_http_stream_length(s), (long long)size);
	read_all(s, &got);
	fo_http_stream_close(s);
	assert_int_equal(got.len, size);
	for (size_t i = 0; i < size; i++)
		if ((unsigned char)got.data[i] != i % 251)
			fail_msg("byte %zu is %u", i, (unsigned char)got.data[i]);
	log = server_log("e");
	assert_int_equal(json_array_size(log), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(log, 1), "if_match")),
			    "\"v1\"");
	assert_non_null(strstr(json_string_value(json_object_get(json_array_get(log, 1),
								   "range")), "bytes="));
	json_decref(log);
	fo_buf_free(&got);
}

static void
test_a_resumed_download_from_a_server_ignoring_range_skips_what_was_read(void **state)
{
	char u[256];
	struct fo_http_req req = {.url = u, .what = "download"};
	fo_http_stream *s;
	fo_buf got = FO_BUF_INIT;
	fo_err err;
	size_t size = 200000;

	(void)state;
	url(u, sizeof(u), "/object/g?size=200000&cut=70001&norange=1");
	assert_int_equal(fo_http_stream_open(&quick, &req, &s, NULL, &err), 0);
	read_all(s, &got);
	fo_http_stream_close(s);
	assert_int_equal(got.len, size);
	for (size_t i = 0; i < size; i++)
		if ((unsigned char)got.data[i] != i % 251)
			fail_msg("byte %zu is %u", i, (unsigned char)got.data[i]);
	assert_int_equal(requests_seen("g"), 2);
	fo_buf_free(&got);
}

static void
test_an_object_changed_mid_download_is_an_error(void **state)
{
	char u[256], chunk[65536];
	struct fo_http_req req = {.url = u, .what = "download"};
	fo_http_stream *s;
	fo_err err;
	ssize_t n;

	(void)state;
	url(u, sizeof(u), "/object/f?size=300000&cut=1000&changed=1");
	assert_int_equal(fo_http_stream_open(&quick, &req, &s, NULL, &err), 0);
	while ((n = fo_http_stream_read(s, chunk, sizeof(chunk), &err)) > 0)
		;
	assert_int_equal(n, -1);
	assert_int_equal(err.code, FO_EXIT_TRANSIENT);
	assert_non_null(strstr(err.msg, "changed while it was being read"));
	fo_http_stream_close(s);
}

static void
test_a_stream_that_is_refused_reports_status_and_body(void **state)
{
	char u[256];
	struct fo_http_req req = {.url = u, .what = "download"};
	fo_http_stream *s;
	fo_err err;
	long status;

	(void)state;
	url(u, sizeof(u), "/status/404");
	assert_int_equal(fo_http_stream_open(&quick, &req, &s, &status, &err), -1);
	assert_null(s);
	assert_int_equal(status, 404);
	assert_non_null(strstr(err.msg, "HTTP 404: status 404 body"));
}

static void
test_tls_is_verified_and_the_ca_can_be_replaced(void **state)
{
	char u[256];
	struct fo_http_req req = {.url = u, .what = "test"};
	struct fo_http_opts o = quick;
	struct fo_http_resp r;
	fo_err err;

	(void)state;
	snprintf(u, sizeof(u), "https://127.0.0.1:%d/ok", tls.port);
	/* a self-signed certificate the system does not trust: refused, not retried */
	assert_int_equal(fo_http_request(&o, &req, &r, &err), -1);
	assert_int_equal(err.code, FO_EXIT_USAGE);
	assert_non_null(strstr(err.msg, "after 1 try"));
	o.ca_file = cert;
	assert_int_equal(fo_http_request(&o, &req, &r, &err), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.data, "hello");
	fo_buf_free(&r.body);
}

static void
test_redacted_url_has_no_credentials_or_query(void **state)
{
	char out[256];

	(void)state;
	fo_http_redact_url("https://user:pw@bucket.s3.amazonaws.com:443/a/b.csv.gz"
			   "?X-Amz-Signature=abc&X-Amz-Credential=k", out, sizeof(out));
	assert_string_equal(out, "https://bucket.s3.amazonaws.com:443/a/b.csv.gz");
	fo_http_redact_url("http://127.0.0.1:8200/v1/secret/data/x", out, sizeof(out));
	assert_string_equal(out, "http://127.0.0.1:8200/v1/secret/data/x");
	fo_http_redact_url("http://h?only=query", out, sizeof(out));
	assert_string_equal(out, "http://h");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_5xx_is_tried_again_until_it_succeeds),
		cmocka_unit_test(test_5xx_after_the_last_try_is_transient_and_names_the_url),
		cmocka_unit_test(test_other_4xx_are_answers_not_retried),
		cmocka_unit_test(test_429_waits_what_retry_after_asks),
		cmocka_unit_test(test_a_hanging_server_times_out_as_transient),
		cmocka_unit_test(test_connection_refused_is_transient),
		cmocka_unit_test(test_an_answer_over_the_size_cap_fails),
		cmocka_unit_test(test_user_agent_names_the_tool),
		cmocka_unit_test(test_a_cut_download_resumes_with_range_and_if_match),
		cmocka_unit_test(test_a_resumed_download_from_a_server_ignoring_range_skips_what_was_read),
		cmocka_unit_test(test_an_object_changed_mid_download_is_an_error),
		cmocka_unit_test(test_a_stream_that_is_refused_reports_status_and_body),
		cmocka_unit_test(test_tls_is_verified_and_the_ca_can_be_replaced),
		cmocka_unit_test(test_redacted_url_has_no_credentials_or_query),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
