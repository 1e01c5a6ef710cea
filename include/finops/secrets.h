/*
 * secrets.h: where the pipeline's credentials come from.
 *
 * With VAULT_ADDR set, from Vault (see vault.h), each at a configurable path
 * under the KV mount:
 *   database DSN      FINOPS_VAULT_DB_PATH (default finops/database), field dsn;
 *                     FINOPS_VAULT_DB_PATH=none leaves the DSN to libpq's PG*
 *   AWS credentials   FINOPS_VAULT_AWS_PATH (default finops/aws), fields
 *                     access_key_id, secret_access_key, session_token (optional)
 *   webhooks          FINOPS_VAULT_WEBHOOK_PATH (default finops/webhooks), a
 *                     field per webhook name
 * Without VAULT_ADDR (cron fallback runs), from the environment: FINOPS_DSN,
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
 * FINOPS_WEBHOOK_<NAME>, or from files named by the same variables with
 * _FILE appended (Docker and systemd credentials); both set is an error.
 * A --dsn option wins over all of these; with no DSN anywhere, libpq's PG*
 * environment and ~/.pgpass apply. docs/secrets.md has the whole table.
 *
 * Every value is registered with the log's redaction (fo_log_add_secret),
 * and wiped when freed.
 */
#ifndef FINOPS_SECRETS_H
#define FINOPS_SECRETS_H

#include "finops/error.h"

struct fo_aws_creds {
	char *access_key_id;
	char *secret_access_key;
	char *session_token;          /* NULL: none */
	const char *source;           /* "vault", "environment" or "file" */
};

/*
 * The database DSN when one is configured (*dsn is the caller's, free with
 * fo_free_wiped), or *dsn NULL for libpq's defaults. source: where from.
 */
int fo_secret_dsn(char **dsn, const char **source, fo_err *err);

/* AWS credentials; missing ones are a configuration error (exit 2) naming where. */
int fo_secret_aws(struct fo_aws_creds *c, fo_err *err);
void fo_aws_creds_free(struct fo_aws_creds *c);

/*
 * The environment variable of webhook name: FINOPS_WEBHOOK_ and the name
 * upper-cased, with anything but letters and digits as "_"
 * ("finops-alerts": FINOPS_WEBHOOK_FINOPS_ALERTS; its _FILE twin beside it).
 */
void fo_secret_webhook_env(const char *name, char *out, size_t len);

/* A notification webhook URL by name ("slack"), or *url NULL when none is set. */
int fo_secret_webhook(const char *name, char **url, fo_err *err);

/* Closes the Vault session (its token wiped); fo_job_main calls it at the end. */
void fo_secrets_close(void);

#endif
