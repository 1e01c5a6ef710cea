/*
 * vault.h: reading secrets from HashiCorp Vault over its HTTP API.
 *
 * Authentication is a token (VAULT_TOKEN) or AppRole (VAULT_ROLE_ID with
 * VAULT_SECRET_ID or VAULT_SECRET_ID_FILE, POST /v1/auth/<mount>/login).
 * Secrets are read from a KV engine, version 2 (GET /v1/<mount>/data/<path>,
 * fields under data.data) or version 1 (GET /v1/<mount>/<path>, fields under
 * data). VAULT_NAMESPACE goes in X-Vault-Namespace, VAULT_CACERT replaces the
 * CA bundle.
 *
 * Errors are distinct and name the path, never a secret: 403 (or a 400 from
 * an AppRole login) is a configuration error (exit 2) and is not retried;
 * 404 is "no such secret" (exit 2); 503 (sealed, standby) and other 5xx are
 * retried and then transient (exit 4). Tokens and values live in buffers
 * that are wiped when freed.
 *
 * Failover (the operations guide's "Vault Down -> switch to backup
 * cluster"): when the cluster of VAULT_ADDR does not answer, times out,
 * answers 5xx or is sealed, the clusters of FINOPS_VAULT_BACKUP_ADDR are
 * tried in order (two tries each instead of five), an AppRole client
 * logging in again on the one it moves to; a 403, 400 or 404 is never a
 * reason to fail over. The log says which cluster served. VAULT_ADDR keeps
 * its meaning for the vault CLI beside the jobs.
 */
#ifndef FINOPS_VAULT_H
#define FINOPS_VAULT_H

#include "finops/error.h"
#include "finops/http.h"

struct fo_vault_config {
	const char *addr;             /* VAULT_ADDR: https://vault:8200 */
	const char *backup_addrs;     /* FINOPS_VAULT_BACKUP_ADDR: the backup clusters,
	                                 comma-separated, tried in order, or NULL */
	const char *namespace_;       /* VAULT_NAMESPACE, or NULL */
	const char *ca_file;          /* VAULT_CACERT, or NULL */
	const char *token;            /* VAULT_TOKEN, or NULL */
	const char *role_id;          /* VAULT_ROLE_ID, or NULL */
	const char *secret_id;        /* VAULT_SECRET_ID, or NULL */
	const char *secret_id_file;   /* VAULT_SECRET_ID_FILE, or NULL */
	const char *approle_mount;    /* FINOPS_VAULT_APPROLE_MOUNT; NULL: "approle" */
	const char *kv_mount;         /* FINOPS_VAULT_KV_MOUNT; NULL: "secret" */
	int kv_version;               /* FINOPS_VAULT_KV_VERSION: 1 or 2; 0: 2 */
	const struct fo_http_opts *http;   /* NULL: defaults */
};

/* Fills c from the environment; c->addr is NULL when VAULT_ADDR is unset. */
void fo_vault_config_from_env(struct fo_vault_config *c);

typedef struct fo_vault fo_vault;

/*
 * Checks the configuration and authenticates (an AppRole login, or the
 * token as given). On success *out is the caller's until fo_vault_close.
 */
int fo_vault_open(const struct fo_vault_config *c, fo_vault **out, fo_err *err);

/*
 * Reads field of the secret at path (relative to the KV mount:
 * "finops/aws"). *value is the caller's; free it with fo_free_wiped.
 * A missing field is an error when required, else *value is NULL.
 */
int fo_vault_read_field(fo_vault *v, const char *path, const char *field, int required,
			char **value, fo_err *err);

/* Wipes the token and frees v. */
void fo_vault_close(fo_vault *v);

#endif
