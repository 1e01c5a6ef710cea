/*
 * vault.c: Vault token and AppRole authentication, KV v1/v2 reads (see vault.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "finops/buf.h"
#include "finops/log.h"
#include "finops/vault.h"
#include "core/core.h"

struct fo_vault {
	char *addr;                  /* the cluster in use: one of addrs */
	char **addrs;                /* VAULT_ADDR, then FINOPS_VAULT_BACKUP_ADDR's */
	size_t naddrs, cur;
	/* what an AppRole login on a backup cluster needs again */
	char *role_id, *secret_id, *secret_id_file, *approle_mount;
	char *token;
	char *token_header;          /* "X-Vault-Token: ..." */
	char *ns_header;             /* "X-Vault-Namespace: ..." or NULL */
	char *kv_mount;
	int kv_version;
	struct fo_http_opts http;
	char *ca_file;
	/* the last secret read, for several fields of one path */
	char *cached_path;
	json_t *cached;
};

void
fo_vault_config_from_env(struct fo_vault_config *c)
{
	const char *kv = fo_env("FINOPS_VAULT_KV_VERSION");

	memset(c, 0, sizeof(*c));
	c->addr = fo_env("VAULT_ADDR");
	c->backup_addrs = fo_env("FINOPS_VAULT_BACKUP_ADDR");
	c->namespace_ = fo_env("VAULT_NAMESPACE");
	c->ca_file = fo_env("VAULT_CACERT");
	c->token = fo_env("VAULT_TOKEN");
	c->role_id = fo_env("VAULT_ROLE_ID");
	c->secret_id = fo_env("VAULT_SECRET_ID");
	c->secret_id_file = fo_env("VAULT_SECRET_ID_FILE");
	c->approle_mount = fo_env("FINOPS_VAULT_APPROLE_MOUNT");
	c->kv_mount = fo_env("FINOPS_VAULT_KV_MOUNT");
	c->kv_version = kv ? atoi(kv) : 0;
}

/* Overwrites every string in j before it is freed. */
static void
wipe_json(json_t *j)
{
	const char *k;
	json_t *v;
	size_t i;

	if (json_is_string(j)) {
		fo_memzero((char *)json_string_value(j), json_string_length(j));
	} else if (json_is_object(j)) {
		json_object_foreach(j, k, v)
			wipe_json(v);
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			wipe_json(v);
	}
}

static void
drop_cache(fo_vault *v)
{
	if (v->cached) {
		wipe_json(v->cached);
		json_decref(v->cached);
	}
	v->cached = NULL;
	free(v->cached_path);
	v->cached_path = NULL;
}

void
fo_vault_close(fo_vault *v)
{
	if (!v)
		return;
	drop_cache(v);
	fo_free_strings(v->addrs, v->naddrs);
	free(v->role_id);
	fo_free_wiped(v->secret_id);
	free(v->secret_id_file);
	free(v->approle_mount);
	fo_free_wiped(v->token);
	fo_free_wiped(v->token_header);
	free(v->ns_header);
	free(v->kv_mount);
	free(v->ca_file);
	free(v);
}

/* The "errors" Vault answers with, joined, for messages (they hold no secrets). */
static void
vault_errors(const fo_buf *body, char *out, size_t len)
{
	json_t *j = body->len ? json_loadb(body->data, body->len, 0, NULL) : NULL;
	json_t *errs = j ? json_object_get(j, "errors") : NULL;
	size_t o = 0, i;
	json_t *e;

	out[0] = '\0';
	json_array_foreach(errs, i, e) {
		if (json_is_string(e) && o + 3 < len)
			o += (size_t)snprintf(out + o, len - o, "%s%s", o ? "; " : "",
					      json_string_value(e));
	}
	if (o >= len)
		out[len - 1] = '\0';
	json_decref(j);
}

static int
set_token(fo_vault *v, const char *token, fo_err *err)
{
	size_t n = strlen(token) + 16;

	fo_free_wiped(v->token);
	fo_free_wiped(v->token_header);
	v->token = strdup(token);
	v->token_header = malloc(n);
	if (!v->token || !v->token_header)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	snprintf(v->token_header, n, "X-Vault-Token: %s", token);
	return 0;
}

static int
approle_login(fo_vault *v, fo_err *err)
{
	const char *mount = v->approle_mount ? v->approle_mount : "approle";
	char *secret_id = NULL, *body = NULL;
	const char *headers[3] = {"X-Vault-Request: true", v->ns_header, NULL};
	char url[1024], why[512];
	struct fo_http_req req = {"POST", url, headers, NULL, 0, NULL, "Vault AppRole login", 0};
	struct fo_http_resp resp;
	json_t *j, *tok;
	int rc;

	if (v->secret_id && v->secret_id_file)
		return fo_err_set(err, FO_EXIT_USAGE, "VAULT_SECRET_ID and VAULT_SECRET_ID_FILE are"
				  " both set: set one");
	if (v->secret_id) {
		secret_id = strdup(v->secret_id);
		if (!secret_id)
			return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	} else if (v->secret_id_file) {
		if (fo_read_secret_file("VAULT_SECRET_ID_FILE", v->secret_id_file, &secret_id,
					err) < 0)
			return -1;
	} else {
		return fo_err_set(err, FO_EXIT_USAGE, "VAULT_ROLE_ID is set but neither"
				  " VAULT_SECRET_ID nor VAULT_SECRET_ID_FILE");
	}
	j = json_pack("{s:s, s:s}", "role_id", v->role_id, "secret_id", secret_id);
	fo_free_wiped(secret_id);
	body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	if (j) {
		wipe_json(j);
		json_decref(j);
	}
	if (!body)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	snprintf(url, sizeof(url), "%s/v1/auth/%s/login", v->addr, mount);
	req.body = body;
	req.body_len = strlen(body);
	rc = fo_http_request(&v->http, &req, &resp, err);
	fo_free_wiped(body);
	if (rc < 0)
		return fo_err_prefix(err, "Vault unreachable or unavailable (sealed, standby or"
				     " down): ");
	if (resp.status == 400 || resp.status == 403) {
		vault_errors(&resp.body, why, sizeof(why));
		fo_buf_wipe(&resp.body);
		return fo_err_set(err, FO_EXIT_USAGE,
				  "Vault AppRole login refused (HTTP %ld%s%s): wrong role_id or"
				  " secret_id, or the secret_id expired; check VAULT_ROLE_ID and"
				  " VAULT_SECRET_ID (vault write auth/%s/role/...)", resp.status,
				  why[0] ? ": " : "", why, mount);
	}
	if (resp.status != 200) {
		vault_errors(&resp.body, why, sizeof(why));
		fo_buf_wipe(&resp.body);
		return fo_err_set(err, FO_EXIT_FAILURE, "Vault AppRole login: HTTP %ld%s%s",
				  resp.status, why[0] ? ": " : "", why);
	}
	j = json_loadb(resp.body.data, resp.body.len, 0, NULL);
	fo_buf_wipe(&resp.body);
	tok = j ? json_object_get(json_object_get(j, "auth"), "client_token") : NULL;
	rc = json_is_string(tok) ? set_token(v, json_string_value(tok), err)
	     : fo_err_set(err, FO_EXIT_FAILURE, "Vault AppRole login: no auth.client_token in"
			  " the answer");
	if (j) {
		wipe_json(j);
		json_decref(j);
	}
	return rc;
}

/* Adds an address (its trailing slashes cut) to v's list; checks it is http(s). */
static int
add_addr(fo_vault *v, const char *a, size_t n, const char *var, fo_err *err)
{
	char **l;

	while (n > 0 && (a[n - 1] == '/' || a[n - 1] == ' '))
		n--;
	while (n > 0 && *a == ' ') {
		a++;
		n--;
	}
	if (n == 0)
		return 0;
	if (strncmp(a, "https://", 8) != 0 && strncmp(a, "http://", 7) != 0)
		return fo_err_set(err, FO_EXIT_USAGE, "%s %.*s: not an http(s) URL", var, (int)n, a);
	l = realloc(v->addrs, (v->naddrs + 1) * sizeof(*l));
	if (!l)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	v->addrs = l;
	if (!(l[v->naddrs] = strndup(a, n)))
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	v->naddrs++;
	return 0;
}

/*
 * After a transient failure (no answer, timeout, 5xx, sealed) on the cluster
 * in use: moves to the next one, logs it, and returns 1; 0 when there is none
 * left. A 403 or 400 is never a reason: the credentials are wrong everywhere.
 */
static int
fail_over(fo_vault *v, const fo_err *why)
{
	if (why->code != FO_EXIT_TRANSIENT || v->cur + 1 >= v->naddrs)
		return 0;
	fo_logf(FO_LOG_WARN, FO_FIELDS(FO_STR("vault_addr", v->addr),
				       FO_STR("vault_next", v->addrs[v->cur + 1])),
		"Vault at %s failed (%s); trying the backup cluster at %s", v->addr, why->msg,
		v->addrs[v->cur + 1]);
	v->addr = v->addrs[++v->cur];
	return 1;
}

/* Authenticates on the cluster in use, and on the next ones while they fail transiently. */
static int
authenticate(fo_vault *v, const char *token, fo_err *err)
{
	if (token)
		return set_token(v, token, err);
	while (approle_login(v, err) < 0)
		if (!fail_over(v, err))
			return -1;
	return 0;
}

int
fo_vault_open(const struct fo_vault_config *c, fo_vault **out, fo_err *err)
{
	fo_vault *v;
	size_t n;

	*out = NULL;
	if (!c->addr)
		return fo_err_set(err, FO_EXIT_USAGE, "VAULT_ADDR is not set");
	if (c->kv_version != 0 && c->kv_version != 1 && c->kv_version != 2)
		return fo_err_set(err, FO_EXIT_USAGE, "FINOPS_VAULT_KV_VERSION must be 1 or 2");
	if (!c->token && !c->role_id)
		return fo_err_set(err, FO_EXIT_USAGE, "VAULT_ADDR is set but there is no VAULT_TOKEN"
				  " and no VAULT_ROLE_ID (AppRole) to authenticate with");
	v = calloc(1, sizeof(*v));
	if (!v)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	if (add_addr(v, c->addr, strlen(c->addr), "VAULT_ADDR", err) < 0 || v->naddrs == 0) {
		if (v->naddrs == 0 && err->code == FO_EXIT_OK)
			fo_err_set(err, FO_EXIT_USAGE, "VAULT_ADDR %s: not an http(s) URL", c->addr);
		fo_vault_close(v);
		return -1;
	}
	for (const char *p = c->backup_addrs; p && *p;) {
		size_t len = strcspn(p, ",");

		if (add_addr(v, p, len, "FINOPS_VAULT_BACKUP_ADDR", err) < 0) {
			fo_vault_close(v);
			return -1;
		}
		p += len + (p[len] == ',');
	}
	v->addr = v->addrs[0];
	v->kv_mount = strdup(c->kv_mount ? c->kv_mount : "secret");
	v->kv_version = c->kv_version ? c->kv_version : 2;
	if (c->http)
		v->http = *c->http;
	/* with a backup to go to, a cluster that does not answer gets two tries, not five */
	if (v->naddrs > 1 && v->http.tries == 0)
		v->http.tries = 2;
	if (c->ca_file) {
		v->ca_file = strdup(c->ca_file);
		v->http.ca_file = v->ca_file;
	}
	v->http.max_bytes = 1 << 20;
	if (c->namespace_) {
		n = strlen(c->namespace_) + 24;
		v->ns_header = malloc(n);
		if (v->ns_header)
			snprintf(v->ns_header, n, "X-Vault-Namespace: %s", c->namespace_);
	}
	if (!c->token) {
		v->role_id = strdup(c->role_id);
		v->secret_id = c->secret_id ? strdup(c->secret_id) : NULL;
		v->secret_id_file = c->secret_id_file ? strdup(c->secret_id_file) : NULL;
		v->approle_mount = c->approle_mount ? strdup(c->approle_mount) : NULL;
	}
	if (!v->kv_mount || (c->ca_file && !v->ca_file) || (c->namespace_ && !v->ns_header) ||
	    (!c->token && (!v->role_id || (c->secret_id && !v->secret_id) ||
			   (c->secret_id_file && !v->secret_id_file) ||
			   (c->approle_mount && !v->approle_mount)))) {
		fo_vault_close(v);
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	}
	/* a token wins over AppRole, as with the vault CLI */
	if (authenticate(v, c->token, err) < 0) {
		fo_vault_close(v);
		return -1;
	}
	fo_logf(FO_LOG_DEBUG, FO_FIELDS(FO_STR("vault_addr", v->addr),
					FO_STR("auth", c->token ? "token" : "approle")),
		"authenticated to Vault");
	*out = v;
	return 0;
}

/* Reads the secret at path into v->cached (its data object), from the cluster in use. */
static int
read_secret_once(fo_vault *v, const char *path, fo_err *err)
{
	const char *headers[4] = {"X-Vault-Request: true", v->token_header, v->ns_header, NULL};
	char url[1024], why[512], where[600];
	struct fo_http_req req = {"GET", url, headers, NULL, 0, NULL, "Vault read", 0};
	struct fo_http_resp resp;
	json_t *j, *data;

	while (*path == '/')
		path++;
	if (v->cached_path && strcmp(v->cached_path, path) == 0)
		return 0;
	drop_cache(v);
	snprintf(where, sizeof(where), "%s/%s (KV v%d)", v->kv_mount, path, v->kv_version);
	snprintf(url, sizeof(url), "%s/v1/%s/%s%s", v->addr, v->kv_mount,
		 v->kv_version == 2 ? "data/" : "", path);
	if (fo_http_request(&v->http, &req, &resp, err) < 0)
		return fo_err_prefix(err, "Vault unreachable or unavailable (sealed, standby or"
				     " down) reading %s: ", where);
	vault_errors(&resp.body, why, sizeof(why));
	if (resp.status == 403) {
		fo_buf_wipe(&resp.body);
		return fo_err_set(err, FO_EXIT_USAGE,
				  "Vault refused to read %s (HTTP 403%s%s): the token is wrong or"
				  " expired, or its policy does not allow this path", where,
				  why[0] ? ": " : "", why);
	}
	if (resp.status == 404) {
		fo_buf_wipe(&resp.body);
		return fo_err_set(err, FO_EXIT_USAGE, "Vault has no secret at %s (HTTP 404); check"
				  " the path, the mount (FINOPS_VAULT_KV_MOUNT) and the KV version"
				  " (FINOPS_VAULT_KV_VERSION)", where);
	}
	if (resp.status != 200) {
		fo_buf_wipe(&resp.body);
		return fo_err_set(err, FO_EXIT_FAILURE, "Vault read of %s: HTTP %ld%s%s", where,
				  resp.status, why[0] ? ": " : "", why);
	}
	j = json_loadb(resp.body.data, resp.body.len, 0, NULL);
	fo_buf_wipe(&resp.body);
	data = j ? json_object_get(j, "data") : NULL;
	if (data && v->kv_version == 2)
		data = json_object_get(data, "data");
	if (!json_is_object(data)) {
		if (j) {
			wipe_json(j);
			json_decref(j);
		}
		return fo_err_set(err, FO_EXIT_FAILURE, "Vault read of %s: no %s object in the"
				  " answer%s", where, v->kv_version == 2 ? "data.data" : "data",
				  v->kv_version == 2 ? " (a KV v1 mount? set FINOPS_VAULT_KV_VERSION=1)"
				  : "");
	}
	/* keep data, wipe the rest of the answer */
	json_incref(data);
	json_object_del(v->kv_version == 2 ? json_object_get(j, "data") : j, "data");
	wipe_json(j);
	json_decref(j);
	v->cached = data;
	v->cached_path = strdup(path);
	if (!v->cached_path) {
		drop_cache(v);
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	}
	return 0;
}

/*
 * read_secret_once, on the next clusters while they fail transiently (an
 * AppRole client logs in again there: its token was the last cluster's).
 */
static int
read_secret(fo_vault *v, const char *path, fo_err *err)
{
	while (read_secret_once(v, path, err) < 0) {
		if (!fail_over(v, err))
			return -1;
		if (v->role_id && authenticate(v, NULL, err) < 0)
			return -1;
	}
	if (v->cur > 0)
		fo_logf(FO_LOG_INFO, FO_FIELDS(FO_STR("vault_addr", v->addr)),
			"Vault secrets served by the backup cluster at %s", v->addr);
	return 0;
}

int
fo_vault_read_field(fo_vault *v, const char *path, const char *field, int required,
		    char **value, fo_err *err)
{
	json_t *f;

	*value = NULL;
	if (read_secret(v, path, err) < 0)
		return -1;
	f = json_object_get(v->cached, field);
	if (!f || json_is_null(f)) {
		if (!required)
			return 0;
		return fo_err_set(err, FO_EXIT_USAGE, "Vault secret %s/%s has no field \"%s\"",
				  v->kv_mount, path, field);
	}
	if (json_is_string(f)) {
		*value = strdup(json_string_value(f));
	} else if (json_is_integer(f) || json_is_real(f) || json_is_boolean(f)) {
		*value = json_dumps(f, JSON_ENCODE_ANY);
	} else {
		return fo_err_set(err, FO_EXIT_USAGE, "Vault secret %s/%s: field \"%s\" is not a"
				  " string", v->kv_mount, path, field);
	}
	if (!*value)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	return 0;
}
