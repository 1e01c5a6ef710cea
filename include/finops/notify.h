/*
 * notify.h: telling people: Slack incoming webhooks, Microsoft Teams
 * Workflows webhooks (Adaptive Cards) and generic JSON webhooks, each
 * message sent at most once to a channel.
 *
 * A channel names a webhook secret (secrets.h: Vault, FINOPS_WEBHOOK_<NAME>,
 * or its _FILE); the URL is never written to a log line, an error or the
 * database: messages name the channel. Every delivery is recorded in
 * finops.notifications by channel and dedup key: a message already sent is
 * not sent again, a failed one is tried again by the next run.
 *
 * Delivery: any 2xx is success; 429 waits Retry-After and 5xx (and Teams'
 * 412, which its throttling answers) backs off, as the HTTP client's one
 * retry policy says; other 4xx are final (Slack's 400 invalid_payload, 403
 * action_prohibited, 404 channel_not_found, 410 channel_is_archived) and
 * reported with the channel's name and the service's error text.
 */
#ifndef FINOPS_NOTIFY_H
#define FINOPS_NOTIFY_H

#include <stddef.h>

#include <libpq-fe.h>

#include "finops/buf.h"
#include "finops/error.h"
#include "finops/jsonconf.h"

enum fo_notify_kind {
	FO_NOTIFY_SLACK,           /* {"text": ..., "blocks": [...]} */
	FO_NOTIFY_TEAMS,           /* {"type":"message","attachments":[AdaptiveCard 1.2]} */
	FO_NOTIFY_WEBHOOK          /* {"event", "title", "summary", "facts", ..., "data"} */
};

/* "slack", "teams" or "webhook"; -1 for anything else. */
int fo_notify_kind_parse(const char *s, enum fo_notify_kind *kind);
const char *fo_notify_kind_name(enum fo_notify_kind kind);

struct fo_notify_channel {
	const char *name;          /* in messages and records: "finops-alerts" */
	enum fo_notify_kind kind;
	const char *webhook;       /* the webhook secret's name (fo_secret_webhook) */
};

/*
 * A configuration file's whole "channels" list, arr at path: at most max
 * channels (at least one when required), each as
 * fo_notify_channel_from_json reads it, no name twice. *out (calloc'ed, one
 * spare entry; the caller frees it) and *n.
 */
int fo_notify_channels_from_json(struct fo_jc *x, json_t *arr, const char *path, int required,
				 size_t max, const char *const *keys,
				 struct fo_notify_channel **out, size_t *n);

/*
 * A channel of a configuration file's "channels" list (the anomaly
 * monitors, the budgets): the JSON object e at path holds name (letters,
 * digits, '.', '_', '-'), kind, and webhook (the secret's name; default the
 * name), and no key outside keys (the caller reads its own extra ones).
 * The strings stay e's. The caller checks the name is not taken.
 */
int fo_notify_channel_from_json(struct fo_jc *x, json_t *e, const char *path,
				const char *const *keys, struct fo_notify_channel *ch);

struct fo_notify_fact {
	const char *title;
	const char *value;
};

/* What a message says; every string is plain text (escaped for each service here). */
struct fo_notify_message {
	const char *event;         /* what happened, for records and generic hooks: "cost_anomaly" */
	const char *dedup_key;     /* one message a key and channel, ever */
	const char *title;         /* one line: "Cost anomaly: AmazonEC2 (123456789012)" */
	const char *summary;       /* a sentence or two; what a phone notification shows */
	const struct fo_notify_fact *facts;
	size_t nfacts;
	const char *items_title;   /* a heading for the list below ("Top root causes"), or NULL */
	const char *const *items;  /* a short list, or NULL */
	size_t nitems;
	const char *link_text;     /* a button or link to a dashboard, or NULL */
	const char *link_url;
	const char *data_json;     /* the event as a JSON object, for generic hooks, or NULL */
};

/*
 * The JSON body a channel of this kind gets for m, into out. Slack: text is
 * always set and there are at most 50 blocks (the list is cut, saying how
 * many more); Teams: one Adaptive Card 1.2 with a FactSet.
 */
int fo_notify_render(enum fo_notify_kind kind, const struct fo_notify_message *m, fo_buf *out,
		     fo_err *err);

enum fo_notify_outcome {
	FO_NOTIFY_SENT,            /* delivered now */
	FO_NOTIFY_SENT_BEFORE,     /* this key went to this channel before: nothing sent */
	FO_NOTIFY_FAILED           /* recorded as failed; err says why */
};

/*
 * Sends m to ch unless it went there before, and records the outcome (in
 * its own statement, so that a failure is kept even when the caller's work
 * rolls back; conn must not be inside a transaction). run_id (0: none) is
 * kept with the record. Returns 0 for SENT and SENT_BEFORE; -1 for FAILED
 * (err: FO_EXIT_TRANSIENT when a later run may succeed, FO_EXIT_USAGE when
 * the channel refuses the message or does not exist, naming the channel) or
 * when the record cannot be written.
 */
int fo_notify_send(PGconn *conn, long long run_id, const struct fo_notify_channel *ch,
		   const struct fo_notify_message *m, enum fo_notify_outcome *outcome,
		   fo_err *err);

/* A money amount as messages show it: "$1,234.56", "-$939.60", "EUR 1,234,567.00". */
void fo_notify_money(double v, const char *currency, char *out, size_t len);

#endif
