/*
 * S3 URIs and object URLs: parsing, path-style and virtual-hosted addressing,
 * and the key encoding SigV4 expects (everything but unreserved bytes and /).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "finops/s3.h"

static void
test_uri_parts(void **state)
{
	char *b, *k;
	fo_err err;

	(void)state;
	assert_int_equal(fo_s3_parse_uri("s3://bucket/a/b.csv.gz", &b, &k, &err), 0);
	assert_string_equal(b, "bucket");
	assert_string_equal(k, "a/b.csv.gz");
	free(b);
	free(k);
	assert_int_equal(fo_s3_parse_uri("s3://bucket", &b, &k, &err), 0);
	assert_string_equal(k, "");
	free(b);
	free(k);
	assert_int_equal(fo_s3_parse_uri("s3:///key", &b, &k, &err), -1);
	assert_int_equal(err.code, FO_EXIT_USAGE);
	assert_int_equal(fo_s3_parse_uri("https://bucket/key", &b, &k, &err), -1);
	assert_true(fo_s3_is_uri("s3://x"));
	assert_false(fo_s3_is_uri("/tmp/s3://x"));
}

static void
test_object_urls(void **state)
{
	struct fo_s3 s;
	fo_buf out = FO_BUF_INIT;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.endpoint = "https://s3.eu-west-1.amazonaws.com";
	s.region = "eu-west-1";
	fo_s3_object_url(&s, "cur", "exports/metadata/BILLING_PERIOD=2026-10/a b+c~d.json", &out);
	assert_string_equal(out.data, "https://cur.s3.eu-west-1.amazonaws.com/exports/metadata/"
			    "BILLING_PERIOD%3D2026-10/a%20b%2Bc~d.json");
	s.endpoint = "http://127.0.0.1:9000";
	s.path_style = 1;
	fo_s3_object_url(&s, "cur", "caf\xc3\xa9/x.csv", &out);
	assert_string_equal(out.data, "http://127.0.0.1:9000/cur/caf%C3%A9/x.csv");
	fo_buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uri_parts),
		cmocka_unit_test(test_object_urls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
