/*
 * send.c: delivering a message to a channel at most once, and recording
 * every try in finops.notifications (see notify.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finops/http.h"
#include "finops/log.h"
#include "finops/notify.h"
#include "finops/pg.h"
#include "finops/secrets.h"
#include "core/core.h"

/* Teams' Workflows throttle with 412 (and 502/504, which are 5xx anyway). */
static const char *
teams_retry(long status, const fo_buf *body, void *arg)
{
	(void)body;
	(void)arg;
	return status == 412 ? "Microsoft Teams is throttling the channel (HTTP 412)" : NULL;
}

/* Whether this key went to this channel before. */
static int
sent_before(PGconn *conn, const struct fo_notify_channel *ch, const struct fo_notify_message *m,
	    int *before, fo_err *err)
{
	const char *params[2] = {ch->name, m->dedup_key};
	PGresult *res;

	if (fo_pg_query(conn, "SELECT 1 FROM finops.notifications"
			" WHERE channel = $1 AND dedup_key = $2 AND status = 'sent'", 2, params, &res,
			err) < 0)
		return -1;
	*before = PQntuples(res) > 0;
	PQclear(res);
	return 0;
}

/* Records one try: a new row, or the key's row again (tries + 1). */
static int
record(PGconn *conn, long long run_id, const struct fo_notify_channel *ch,
       const struct fo_notify_message *m, int sent, long http_status, const char *error,
       fo_err *err)
{
	char status[16], run[24];
	fo_buf title = FO_BUF_INIT, why = FO_BUF_INIT;
	const char *params[9];
	int rc;

	snprintf(status, sizeof(status), "%ld", http_status);
	snprintf(run, sizeof(run), "%lld", run_id);
	fo_utf8_clean(&title, m->title, 500);
	if (error)
		fo_utf8_clean(&why, error, 2000);
	params[0] = ch->name;
	params[1] = fo_notify_kind_name(ch->kind);
	params[2] = m->dedup_key;
	params[3] = m->event ? m->event : "message";
	params[4] = fo_buf_str(&title);
	params[5] = sent ? "sent" : "failed";
	params[6] = http_status ? status : NULL;
	params[7] = error ? fo_buf_str(&why) : NULL;
	params[8] = run_id ? run : NULL;
	rc = title.oom || why.oom ? fo_err_set(err, FO_EXIT_FAILURE, "out of memory")
	     : fo_pg_begin_writer(conn, err);
	if (rc == 0)
		rc = fo_pg_query(conn,
			"INSERT INTO finops.notifications AS n (channel, kind, dedup_key, event, title,"
			"  status, http_status, error, run_id, sent_at)"
			" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"
			"         CASE WHEN $6 = 'sent' THEN now() END)"
			" ON CONFLICT (channel, dedup_key) DO UPDATE SET"
			"  kind = EXCLUDED.kind, event = EXCLUDED.event, title = EXCLUDED.title,"
			"  status = EXCLUDED.status, http_status = EXCLUDED.http_status,"
			"  error = EXCLUDED.error, run_id = EXCLUDED.run_id, tries = n.tries + 1,"
			"  last_attempt_at = now(), sent_at = EXCLUDED.sent_at", 9, params, NULL, err);
	if (rc == 0)
		rc = fo_pg_commit(conn, err);
	else
		fo_pg_rollback(conn);
	fo_buf_free(&title);
	fo_buf_free(&why);
	return rc;
}

/* The service's word for a refusal: its short error text (Slack: "channel_not_found"). */
static void
refusal(const fo_buf *body, char *out, size_t len)
{
	fo_buf clean = FO_BUF_INIT;

	fo_utf8_clean(&clean, body->data ? body->data : "", 200);
	snprintf(out, len, "%s", fo_buf_str(&clean));
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	fo_buf_free(&clean);
}

int
fo_notify_send(PGconn *conn, long long run_id, const struct fo_notify_channel *ch,
	       const struct fo_notify_message *m, enum fo_notify_outcome *outcome,
	       fo_err *err)
{
	static const char *const headers[] = {"Content-Type: application/json; charset=utf-8",
					      NULL};
	struct fo_http_opts opts = {0};
	struct fo_http_req req;
	struct fo_http_resp resp;
	fo_buf body = FO_BUF_INIT;
	char *url = NULL, what[200], text[256];
	int before, rc;

	*outcome = FO_NOTIFY_FAILED;
	if (!m->dedup_key || !*m->dedup_key)
		return fo_err_set(err, FO_EXIT_FAILURE, "notification %s: no dedup key", m->title);
	if (sent_before(conn, ch, m, &before, err) < 0)
		return -1;
	if (before) {
		*outcome = FO_NOTIFY_SENT_BEFORE;
		fo_logf(FO_LOG_DEBUG, FO_FIELDS(FO_STR("channel", ch->name),
						FO_STR("dedup_key", m->dedup_key)),
			"%s: already sent to %s", m->dedup_key, ch->name);
		return 0;
	}
	if (fo_notify_render(ch->kind, m, &body, err) < 0)
		return -1;
	if (fo_secret_webhook(ch->webhook, &url, err) < 0) {
		fo_buf_free(&body);
		return fo_err_prefix(err, "channel %s: ", ch->name);
	}
	if (!url) {
		char var[128];

		fo_secret_webhook_env(ch->webhook, var, sizeof(var));
		fo_buf_free(&body);
		return fo_err_set(err, FO_EXIT_USAGE, "channel %s: no webhook URL for %s (Vault field"
				  " %s, or %s or %s_FILE; docs/secrets.md)", ch->name, ch->webhook,
				  ch->webhook, var, var);
	}
	snprintf(what, sizeof(what), "%s channel %s", fo_notify_kind_name(ch->kind), ch->name);
	if (ch->kind == FO_NOTIFY_TEAMS)
		opts.retry_reason = teams_retry;
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = url;
	req.headers = headers;
	req.body = body.data;
	req.body_len = body.len;
	req.what = what;
	req.hide_url = 1;
	rc = fo_http_request(&opts, &req, &resp, err);
	fo_free_wiped(url);
	fo_buf_free(&body);
	if (rc < 0) {
		/* no answer, or still 429/5xx after every try: the next run tries again */
		record(conn, run_id, ch, m, 0, 0, err->msg, NULL);
		return -1;
	}
	if (resp.status >= 200 && resp.status < 300) {
		fo_buf_free(&resp.body);
		*outcome = FO_NOTIFY_SENT;
		fo_logf(FO_LOG_INFO, FO_FIELDS(FO_STR("channel", ch->name),
					       FO_STR("dedup_key", m->dedup_key),
					       FO_INT("http_status", resp.status)),
			"sent \"%s\" to %s", m->title, ch->name);
		return record(conn, run_id, ch, m, 1, resp.status, NULL, err);
	}
	refusal(&resp.body, text, sizeof(text));
	fo_buf_free(&resp.body);
	fo_err_set(err, resp.status >= 400 && resp.status < 500 ? FO_EXIT_USAGE : FO_EXIT_TRANSIENT,
		   "%s refused the message (HTTP %ld%s%s): %s", what, resp.status,
		   text[0] ? ", " : "", text,
		   resp.status == 404 || resp.status == 410 ? "the channel is gone or archived;"
		   " fix the webhook" : resp.status == 400 ? "the message was not accepted"
		   : "check the webhook and its permissions");
	{
		fo_err kept = *err;

		if (record(conn, run_id, ch, m, 0, resp.status, kept.msg, err) < 0)
			return -1;
		*err = kept;
	}
	return -1;
}
