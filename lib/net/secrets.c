/*
 * secrets.c: credentials from Vault, the environment or files (see secrets.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finops/buf.h"
#include "finops/log.h"
#include "finops/secrets.h"
#include "finops/vault.h"
#include "core/core.h"

static fo_vault *session;

void
fo_secrets_close(void)
{
	fo_vault_close(session);
	session = NULL;
}

static int
vault_configured(void)
{
	return fo_env("VAULT_ADDR") != NULL;
}

static int
vault(fo_vault **out, fo_err *err)
{
	struct fo_vault_config c;

	if (!session) {
		fo_vault_config_from_env(&c);
		if (fo_vault_open(&c, &session, err) < 0)
			return -1;
	}
	*out = session;
	return 0;
}

static const char *
path_from_env(const char *var, const char *def)
{
	return fo_env(var) ? fo_env(var) : def;
}

/*
 * The value of variable var, or of the file named by var_FILE; *out NULL
 * when neither is set. *source says which.
 */
static int
from_env(const char *var, char **out, const char **source, fo_err *err)
{
	char file_var[128];
	const char *v = getenv(var), *f;

	snprintf(file_var, sizeof(file_var), "%s_FILE", var);
	f = getenv(file_var);
	*out = NULL;
	if (v && *v && f && *f)
		return fo_err_set(err, FO_EXIT_USAGE, "%s and %s are both set: set one", var,
				  file_var);
	if (v && *v) {
		*out = strdup(v);
		if (!*out)
			return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		*source = "environment";
	} else if (f && *f) {
		if (fo_read_secret_file(file_var, f, out, err) < 0)
			return -1;
		*source = "file";
	}
	return 0;
}

static int
remember(char *value, fo_err *err)
{
	if (value && fo_log_add_secret(value) < 0)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	return 0;
}

int
fo_secret_dsn(char **dsn, const char **source, fo_err *err)
{
	*dsn = NULL;
	*source = "libpq environment";
	if (vault_configured()) {
		const char *path = path_from_env("FINOPS_VAULT_DB_PATH", "finops/database");
		fo_vault *v;

		if (strcmp(path, "none") == 0)
			return 0;
		if (vault(&v, err) < 0 || fo_vault_read_field(v, path, "dsn", 1, dsn, err) < 0)
			return fo_err_prefix(err, "database DSN: ");
		*source = "vault";
	} else if (from_env("FINOPS_DSN", dsn, source, err) < 0) {
		return -1;
	}
	return remember(*dsn, err);
}

void
fo_aws_creds_free(struct fo_aws_creds *c)
{
	fo_free_wiped(c->access_key_id);
	fo_free_wiped(c->secret_access_key);
	fo_free_wiped(c->session_token);
	memset(c, 0, sizeof(*c));
}

int
fo_secret_aws(struct fo_aws_creds *c, fo_err *err)
{
	memset(c, 0, sizeof(*c));
	if (vault_configured()) {
		const char *path = path_from_env("FINOPS_VAULT_AWS_PATH", "finops/aws");
		fo_vault *v;

		if (vault(&v, err) < 0 ||
		    fo_vault_read_field(v, path, "access_key_id", 1, &c->access_key_id, err) < 0 ||
		    fo_vault_read_field(v, path, "secret_access_key", 1, &c->secret_access_key,
					err) < 0 ||
		    fo_vault_read_field(v, path, "session_token", 0, &c->session_token, err) < 0) {
			fo_aws_creds_free(c);
			return fo_err_prefix(err, "AWS credentials: ");
		}
		c->source = "vault";
	} else {
		const char *s1 = NULL, *s2 = NULL, *s3 = NULL;

		if (from_env("AWS_ACCESS_KEY_ID", &c->access_key_id, &s1, err) < 0 ||
		    from_env("AWS_SECRET_ACCESS_KEY", &c->secret_access_key, &s2, err) < 0 ||
		    from_env("AWS_SESSION_TOKEN", &c->session_token, &s3, err) < 0) {
			fo_aws_creds_free(c);
			return -1;
		}
		if (!c->access_key_id || !c->secret_access_key) {
			fo_aws_creds_free(c);
			return fo_err_set(err, FO_EXIT_USAGE,
					  "AWS credentials: none configured: set VAULT_ADDR (Vault"
					  " secret at FINOPS_VAULT_AWS_PATH, default finops/aws), or"
					  " AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or their _FILE"
					  " variants)");
		}
		c->source = s2 ? s2 : s1;
	}
	if (remember(c->secret_access_key, err) < 0 || remember(c->session_token, err) < 0) {
		fo_aws_creds_free(c);
		return -1;
	}
	return 0;
}

void
fo_secret_webhook_env(const char *name, char *out, size_t len)
{
	size_t o;

	snprintf(out, len, "FINOPS_WEBHOOK_");
	o = strlen(out);
	/* a name a shell can export: letters and digits upper-cased, anything else "_" */
	for (size_t i = 0; name[i] && o + 1 < len; i++, o++)
		out[o] = isalnum((unsigned char)name[i]) ? (char)toupper((unsigned char)name[i]) : '_';
	out[o < len ? o : len - 1] = '\0';
}

int
fo_secret_webhook(const char *name, char **url, fo_err *err)
{
	*url = NULL;
	if (vault_configured()) {
		const char *path = path_from_env("FINOPS_VAULT_WEBHOOK_PATH", "finops/webhooks");
		fo_vault *v;

		if (vault(&v, err) < 0 || fo_vault_read_field(v, path, name, 0, url, err) < 0)
			return fo_err_prefix(err, "webhook %s: ", name);
	} else {
		char var[128];
		const char *source;

		fo_secret_webhook_env(name, var, sizeof(var));
		if (from_env(var, url, &source, err) < 0)
			return -1;
	}
	return remember(*url, err);
}
