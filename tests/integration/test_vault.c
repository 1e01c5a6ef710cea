/*
 * The Vault client against tests/support/vault_server.py, which answers as
 * Vault's API documents: token and AppRole authentication, KV v2 and v1,
 * namespaces, and every error path (403, 400 from a login, 404, 503 sealed),
 * with no secret in any message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "finops/exit.h"
#include "finops/vault.h"
#include "srvtest.h"

#define TOKEN "hvs.TESTROOTTOKEN0000"
#define ROLE_ID "8e2c6a2e-role"
#define SECRET_ID "f00dfeed-secret-id-value"
#define AWS_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

static struct srvtest vault, vault403;
static char tmpdir[] = "/tmp/fo-test-vault-XXXXXX";
static char datafile[256], secretfile[256], addr[64], addr403[64];

static const struct fo_http_opts quick = {
	.connect_timeout_ms = 2000, .timeout_ms = 5000, .tries = 2, .backoff_ms = 20,
	.backoff_max_ms = 40,
};

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int
setup(void **state)
{
	const char *argv[] = {"vault_server.py", "--data", datafile, NULL};
	const char *argv403[] = {"vault_server.py", "--data", datafile, "--approle-status", "403",
				 NULL};

	(void)state;
	assert_non_null(mkdtemp(tmpdir));
	snprintf(datafile, sizeof(datafile), "%s/vault.json", tmpdir);
	snprintf(secretfile, sizeof(secretfile), "%s/secret-id", tmpdir);
	write_file(datafile,
		   "{\"tokens\": [\"" TOKEN "\"],"
		   " \"approle\": {\"role_id\": \"" ROLE_ID "\", \"secret_id\": \"" SECRET_ID "\"},"
		   " \"kv2\": [\"secret\"], \"kv1\": [\"kv\"],"
		   " \"secrets\": {"
		   "  \"secret/finops/aws\": {\"access_key_id\": \"AKIAEXAMPLE\","
		   "     \"secret_access_key\": \"" AWS_SECRET "\", \"port\": 5432},"
		   "  \"team:secret/finops/aws\": {\"access_key_id\": \"AKIATEAM\"},"
		   "  \"kv/finops/db\": {\"dsn\": \"host=db password=kv1pass\"}}}");
	write_file(secretfile, SECRET_ID "\n");
	srvtest_start(&vault, argv);
	srvtest_start(&vault403, argv403);
	snprintf(addr, sizeof(addr), "http://127.0.0.1:%d/", vault.port);
	snprintf(addr403, sizeof(addr403), "http://127.0.0.1:%d", vault403.port);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[300];

	(void)state;
	srvtest_stop(&vault);
	srvtest_stop(&vault403);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd);
}

static struct fo_vault_config
config(void)
{
	struct fo_vault_config c;

	memset(&c, 0, sizeof(c));
	c.addr = addr;
	c.http = &quick;
	return c;
}

/* The requests the server saw, as "METHOD path" lines. */
static json_t *
requests(const struct srvtest *s)
{
	char url[128];
	struct fo_http_req req = {.url = url, .what = "test"};
	struct fo_http_resp r;
	fo_err err;
	json_t *j;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/_test/requests", s->port);
	assert_int_equal(fo_http_request(&quick, &req, &r, &err), 0);
	j = json_loadb(r.body.data, r.body.len, 0, NULL);
	assert_non_null(j);
	fo_buf_free(&r.body);
	return j;
}

static size_t
count_requests(const struct srvtest *s, const char *method, const char *path)
{
	json_t *j = requests(s), *e;
	size_t i, n = 0;

	json_array_foreach(j, i, e) {
		if (strcmp(json_string_value(json_object_get(e, "method")), method) == 0 &&
		    strcmp(json_string_value(json_object_get(e, "path")), path) == 0)
			n++;
	}
	json_decref(j);
	return n;
}

static void
post(const struct srvtest *s, const char *path)
{
	char url[128];
	struct fo_http_req req = {"POST", url, NULL, "{}", 2, NULL, "test", 0};
	struct fo_http_resp r;
	fo_err err;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", s->port, path);
	assert_int_equal(fo_http_request(&quick, &req, &r, &err), 0);
	fo_buf_free(&r.body);
}

static void
assert_no_secret(const char *msg)
{
	assert_null(strstr(msg, TOKEN));
	assert_null(strstr(msg, SECRET_ID));
	assert_null(strstr(msg, AWS_SECRET));
}

static void
test_token_reads_kv2_fields(void **state)
{
	struct fo_vault_config c = config();
	fo_vault *v;
	char *val;
	fo_err err;

	(void)state;
	c.token = TOKEN;
	assert_int_equal(fo_vault_open(&c, &v, &err), 0);
	assert_int_equal(fo_vault_read_field(v, "finops/aws", "secret_access_key", 1, &val, &err),
			 0);
	assert_string_equal(val, AWS_SECRET);
	fo_free_wiped(val);
	assert_int_equal(fo_vault_read_field(v, "/finops/aws", "port", 1, &val, &err), 0);
	assert_string_equal(val, "5432");
	fo_free_wiped(val);
	assert_int_equal(fo_vault_read_field(v, "finops/aws", "session_token", 0, &val, &err), 0);
	assert_null(val);
	assert_int_equal(fo_vault_read_field(v, "finops/aws", "session_token", 1, &val, &err), -1);
	assert_int_equal(err.code, FO_EXIT_USAGE);
	assert_string_equal(err.msg, "Vault secret secret/finops/aws has no field"
			    " \"session_token\"");
	fo_vault_close(v);
	/* several fields of one secret: one read */
	assert_int_equal(count_requests(&vault, "GET", "/v1/secret/data/finops/aws"), 1);
}

static void
test_approle_login_with_secret_id_or_its_file(void **state)
{
	struct fo_vault_config c = config();
	fo_vault *v;
	char *val;
	fo_err err;

	(void)state;
	c.role_id = ROLE_ID;
	c.secret_id = SECRET_ID;
	assert_int_equal(fo_vault_open(&c, &v, &err), 0);
	assert_int_equal(fo_vault_read_field(v, "finops/aws", "access_key_id", 1, &val, &err), 0);
	assert_string_equal(val, "AKIAEXAMPLE");
	fo_free_wiped(val);
	fo_vault_close(v);

	c.secret_id = NULL;
	c.secret_id_file = secretfile;
	assert_int_equal(fo_vault_open(&c, &v, &err), 0);
	assert_int_equal(fo_vault_read_field(v, "finops/aws", "access_key_id", 1, &val, &err), 0);
	fo_free_wiped(val);
	fo_vault_close(v);
	assert_int_equal(count_requests(&vault, "POST", "/v1/auth/approle/login"), 2);
}

static void
test_wrong_approle_credentials_are_a_config_error_not_retried(void **state)
{
	struct fo_vault_config c = config();
	fo_vault *v;
	fo_err err;

	(void)state;
	c.role_id = ROLE_ID;
	c.secret_id = "wrong-" SECRET_ID;
	assert_int_equal(fo_vault_open(&c, &v, &err), -1);
	assert_int_equal(err.code, FO_EXIT_USAGE);
	assert_non_null(strstr(err.msg, "Vault AppRole login refused (HTTP 400: invalid role or"
				" secret ID)"));
	assert_no_secret(err.msg);

	/* the same with a Vault that answers 403 */
	c.addr = addr403;
	assert_int_equal(fo_vault_open(&c, &v, &err), -1);
	assert_int_equal(err.code, FO_EXIT_USAGE);
	assert_non_null(strstr(err.msg, "HTTP 403"));
	assert_int_equal(count_requests(&vault403, "POST", "/v1/auth/approle/login"), 1);
}

static void
test_wrong_token_is_refused_once_with_a_clear_message(void **state)
{
	struct fo_vault_config c = config();
	fo_vault *v;
	char *val;
	fo_err err;

	(void)state;
	c.token = "hvs.not-a-token";
	assert_int_equal(fo_vault_open(&c, &v, &err), 0);
	assert_int_equal(fo_vault_read_field(v, "finops/db", "dsn", 1, &val, &err), -1);
	assert_int_equal(err.code, FO_EXIT_USAGE);
	assert_string_equal(err.msg, "Vault refused to read secret/finops/db (KV v2) (HTTP 403:"
			    " permission denied): the token is wrong or expired, or its policy"
			    " does not allow this path");
	assert_null(strstr(err.msg, "hvs.not-a-token"));
	fo_vault_close(v);
	assert_int_equal(count_requests(&vault, "GET", "/v1/secret/data/finops/db"), 1);
}

static void
test_missing_secret_is_404_naming_the_path(void **state)
{
	struct fo_vault_config c = config();
	fo_vault *v;
	char *val;
	fo_err err;

	(void)state;
	c.token = TOKEN;
	assert_int_equal(fo_vault_open(&c, &v, &err), 0);
	assert_int_equal(fo_vault_read_field(v, "finops/nope", "dsn", 1, &val, &err), -1);
	assert_int_equal(err.code, FO_EXIT_USAGE);
	assert_non_null(strstr(err.msg, "Vault has no secret at secret/finops/nope (KV v2)"
				" (HTTP 404)"));
	fo_vault_close(v);
}

static void
test_sealed_vault_is_transient_after_retries(void **state)
{
	struct fo_vault_config c = config();
	fo_vault *v;
	char *val;
	fo_err err;

	(void)state;
	c.token = TOKEN;
	assert_int_equal(fo_vault_open(&c, &v, &err), 0);
	post(&vault, "/_test/seal");
	assert_int_equal(fo_vault_read_field(v, "finops/aws", "access_key_id", 1, &val, &err), -1);
	post(&vault, "/_test/unseal");
	assert_int_equal(err.code, FO_EXIT_TRANSIENT);
	assert_non_null(strstr(err.msg, "Vault unreachable or unavailable (sealed, standby or"
				" down) reading secret/finops/aws (KV v2)"));
	assert_non_null(strstr(err.msg, "HTTP 503 after 2 tries"));
	assert_non_null(strstr(err.msg, "Vault is sealed"));
	fo_vault_close(v);

	/* an AppRole login to a sealed Vault: the same class */
	c.token = NULL;
	c.role_id = ROLE_ID;
	c.secret_id = SECRET_ID;
	post(&vault, "/_test/seal");
	assert_int_equal(fo_vault_open(&c, &v, &err), -1);
	post(&vault, "/_test/unseal");
	assert_int_equal(err.code, FO_EXIT_TRANSIENT);
	assert_no_secret(err.msg);
}

static void
test_namespace_and_kv1(void **state)
{
	struct fo_vault_config c = config();
	fo_vault *v;
	char *val;
	fo_err err;

	(void)state;
	c.token = TOKEN;
	c.namespace_ = "team";
	assert_int_equal(fo_vault_open(&c, &v, &err), 0);
	assert_int_equal(fo_vault_read_field(v, "finops/aws", "access_key_id", 1, &val, &err), 0);
	assert_string_equal(val, "AKIATEAM");
	fo_free_wiped(val);
	fo_vault_close(v);

	c.namespace_ = NULL;
	c.kv_mount = "kv";
	c.kv_version = 1;
	assert_int_equal(fo_vault_open(&c, &v, &err), 0);
	assert_int_equal(fo_vault_read_field(v, "finops/db", "dsn", 1, &val, &err), 0);
	assert_string_equal(val, "host=db password=kv1pass");
	fo_free_wiped(val);
	fo_vault_close(v);
}

static void
test_configuration_errors(void **state)
{
	struct fo_vault_config c = config();
	fo_vault *v;
	fo_err err;

	(void)state;
	assert_int_equal(fo_vault_open(&c, &v, &err), -1);
	assert_int_equal(err.code, FO_EXIT_USAGE);
	assert_non_null(strstr(err.msg, "no VAULT_TOKEN and no VAULT_ROLE_ID"));
	c.role_id = ROLE_ID;
	c.secret_id = SECRET_ID;
	c.secret_id_file = secretfile;
	assert_int_equal(fo_vault_open(&c, &v, &err), -1);
	assert_string_equal(err.msg, "VAULT_SECRET_ID and VAULT_SECRET_ID_FILE are both set:"
			    " set one");
	c.secret_id = NULL;
	c.secret_id_file = "/nonexistent/secret-id";
	assert_int_equal(fo_vault_open(&c, &v, &err), -1);
	assert_int_equal(err.code, FO_EXIT_USAGE);
	assert_non_null(strstr(err.msg, "VAULT_SECRET_ID_FILE=/nonexistent/secret-id: No such file"));
	c.addr = "vault:8200";
	assert_int_equal(fo_vault_open(&c, &v, &err), -1);
	assert_non_null(strstr(err.msg, "not an http(s) URL"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_reads_kv2_fields),
		cmocka_unit_test(test_approle_login_with_secret_id_or_its_file),
		cmocka_unit_test(test_wrong_approle_credentials_are_a_config_error_not_retried),
		cmocka_unit_test(test_wrong_token_is_refused_once_with_a_clear_message),
		cmocka_unit_test(test_missing_secret_is_404_naming_the_path),
		cmocka_unit_test(test_sealed_vault_is_transient_after_retries),
		cmocka_unit_test(test_namespace_and_kv1),
		cmocka_unit_test(test_configuration_errors),
	};
	fo_err err;
	int rc;

	fo_http_global_init(&err);
	rc = cmocka_run_group_tests(tests, setup, teardown);
	fo_http_global_cleanup();
	return rc;
}
