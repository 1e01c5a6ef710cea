/*
 * render.c: a message as Slack, Teams and generic webhooks want it (see
 * notify.h). Built with jansson, so every string is escaped as JSON; Slack's
 * mrkdwn also needs &, < and > escaped.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "finops/notify.h"
#include "core/core.h"

#define SLACK_MAX_BLOCKS 50
#define SLACK_MAX_FIELDS 10        /* fields of one section block */
#define SLACK_MAX_TEXT 3000        /* characters of a section's text */
#define SLACK_MAX_HEADER 150       /* characters of a header block */

int
fo_notify_kind_parse(const char *s, enum fo_notify_kind *kind)
{
	static const char *const names[] = {"slack", "teams", "webhook"};

	for (int i = 0; i < 3; i++)
		if (s && strcmp(s, names[i]) == 0) {
			*kind = (enum fo_notify_kind)i;
			return 0;
		}
	return -1;
}

const char *
fo_notify_kind_name(enum fo_notify_kind kind)
{
	return kind == FO_NOTIFY_SLACK ? "slack" : kind == FO_NOTIFY_TEAMS ? "teams" : "webhook";
}

/* Appends s, cut to max bytes (never inside a UTF-8 sequence) with "..." when longer. */
static void
put_cut(fo_buf *b, const char *s, size_t max)
{
	if (strlen(s) <= max) {
		fo_buf_puts(b, s);
		return;
	}
	fo_utf8_clean(b, s, max > 3 ? max - 3 : 0);
	fo_buf_puts(b, "...");
}

/* s with Slack mrkdwn's three control characters escaped. */
static void
put_mrkdwn(fo_buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '&')
			fo_buf_puts(b, "&amp;");
		else if (*s == '<')
			fo_buf_puts(b, "&lt;");
		else if (*s == '>')
			fo_buf_puts(b, "&gt;");
		else
			fo_buf_putc(b, *s);
	}
}

static json_t *
text_obj(const char *type, const char *text)
{
	return json_pack("{s:s, s:s}", "type", type, "text", text);
}

/* A section of mrkdwn text, cut to what Slack takes. */
static json_t *
mrkdwn_section(const fo_buf *text)
{
	fo_buf cut = FO_BUF_INIT;
	json_t *j;

	put_cut(&cut, text->data ? text->data : "", SLACK_MAX_TEXT);
	j = cut.oom ? NULL : json_pack("{s:s, s:o}", "type", "section", "text",
				       text_obj("mrkdwn", cut.data ? cut.data : ""));
	fo_buf_free(&cut);
	return j;
}

static json_t *
slack(const struct fo_notify_message *m)
{
	json_t *root = json_object(), *blocks = json_array();
	fo_buf t = FO_BUF_INIT;
	size_t room;

	/* what a phone notification shows (mrkdwn, as Slack reads a message's text) */
	put_mrkdwn(&t, m->title);
	if (m->summary) {
		fo_buf_puts(&t, ": ");
		put_mrkdwn(&t, m->summary);
	}
	json_object_set_new(root, "text", json_string(t.data ? t.data : m->title));
	fo_buf_reset(&t);
	put_cut(&t, m->title, SLACK_MAX_HEADER);
	json_array_append_new(blocks, json_pack("{s:s, s:o}", "type", "header", "text",
						text_obj("plain_text", t.data ? t.data : "")));
	if (m->summary) {
		fo_buf_reset(&t);
		put_mrkdwn(&t, m->summary);
		json_array_append_new(blocks, mrkdwn_section(&t));
	}
	/* the footer blocks (list, link) must fit too */
	room = SLACK_MAX_BLOCKS - json_array_size(blocks) - (m->nitems ? 1 : 0) -
	       (m->link_url ? 1 : 0);
	size_t shown = m->nfacts;

	if ((m->nfacts + SLACK_MAX_FIELDS - 1) / SLACK_MAX_FIELDS > room)
		shown = (room - 1) * SLACK_MAX_FIELDS;     /* one block left to say so */
	for (size_t i = 0; i < shown; i += SLACK_MAX_FIELDS) {
		json_t *fields = json_array();

		for (size_t k = i; k < shown && k < i + SLACK_MAX_FIELDS; k++) {
			fo_buf f = FO_BUF_INIT;

			fo_buf_putc(&f, '*');
			put_mrkdwn(&f, m->facts[k].title);
			fo_buf_puts(&f, "*\n");
			put_mrkdwn(&f, m->facts[k].value ? m->facts[k].value : "-");
			json_array_append_new(fields, text_obj("mrkdwn", f.data ? f.data : ""));
			fo_buf_free(&f);
		}
		json_array_append_new(blocks, json_pack("{s:s, s:o}", "type", "section", "fields",
							fields));
	}
	if (shown < m->nfacts) {
		fo_buf_reset(&t);
		fo_buf_printf(&t, "_%zu more not shown_", m->nfacts - shown);
		json_array_append_new(blocks, mrkdwn_section(&t));
	}
	if (m->nitems) {
		fo_buf_reset(&t);
		if (m->items_title) {
			fo_buf_putc(&t, '*');
			put_mrkdwn(&t, m->items_title);
			fo_buf_puts(&t, "*\n");
		}
		for (size_t i = 0; i < m->nitems; i++) {
			fo_buf_puts(&t, "\xe2\x80\xa2 ");       /* a bullet */
			put_mrkdwn(&t, m->items[i]);
			fo_buf_putc(&t, '\n');
		}
		json_array_append_new(blocks, mrkdwn_section(&t));
	}
	if (m->link_url)
		json_array_append_new(blocks, json_pack(
			"{s:s, s:[{s:s, s:o, s:s}]}", "type", "actions", "elements", "type", "button",
			"text", text_obj("plain_text", m->link_text ? m->link_text : "Open"), "url",
			m->link_url));
	json_object_set_new(root, "blocks", blocks);
	fo_buf_free(&t);
	return root;
}

static json_t *
teams(const struct fo_notify_message *m)
{
	json_t *body = json_array(), *card, *facts = json_array();

	json_array_append_new(body, json_pack("{s:s, s:s, s:s, s:s, s:b}", "type", "TextBlock",
					      "text", m->title, "weight", "Bolder", "size",
					      "Medium", "wrap", 1));
	if (m->summary)
		json_array_append_new(body, json_pack("{s:s, s:s, s:b}", "type", "TextBlock",
						      "text", m->summary, "wrap", 1));
	for (size_t i = 0; i < m->nfacts; i++)
		json_array_append_new(facts, json_pack("{s:s, s:s}", "title", m->facts[i].title,
						       "value", m->facts[i].value ?
						       m->facts[i].value : "-"));
	if (m->nfacts)
		json_array_append_new(body, json_pack("{s:s, s:o}", "type", "FactSet", "facts",
						      facts));
	else
		json_decref(facts);
	if (m->nitems) {
		fo_buf t = FO_BUF_INIT;

		for (size_t i = 0; i < m->nitems; i++)
			fo_buf_printf(&t, "- %s\n", m->items[i]);
		if (m->items_title)
			json_array_append_new(body, json_pack("{s:s, s:s, s:s, s:b}", "type",
							      "TextBlock", "text", m->items_title,
							      "weight", "Bolder", "wrap", 1));
		json_array_append_new(body, json_pack("{s:s, s:s, s:b}", "type", "TextBlock",
						      "text", t.data ? t.data : "", "wrap", 1));
		fo_buf_free(&t);
	}
	card = json_pack("{s:s, s:s, s:s, s:o}", "$schema",
			 "http://adaptivecards.io/schemas/adaptive-card.json", "type", "AdaptiveCard",
			 "version", "1.2", "body", body);
	if (card && m->link_url)
		json_object_set_new(card, "actions", json_pack(
			"[{s:s, s:s, s:s}]", "type", "Action.OpenUrl", "title",
			m->link_text ? m->link_text : "Open", "url", m->link_url));
	return json_pack("{s:s, s:[{s:s, s:n, s:o}]}", "type", "message", "attachments",
			 "contentType", "application/vnd.microsoft.card.adaptive", "contentUrl",
			 "content", card);
}

static json_t *
webhook(const struct fo_notify_message *m, fo_err *err)
{
	json_t *root = json_pack("{s:s, s:s, s:s}", "event", m->event ? m->event : "message",
				 "dedup_key", m->dedup_key ? m->dedup_key : "", "title", m->title);
	json_t *facts = json_array(), *items = json_array();

	if (m->summary)
		json_object_set_new(root, "summary", json_string(m->summary));
	for (size_t i = 0; i < m->nfacts; i++)
		json_array_append_new(facts, json_pack("{s:s, s:s?}", "title", m->facts[i].title,
						       "value", m->facts[i].value));
	json_object_set_new(root, "facts", facts);
	for (size_t i = 0; i < m->nitems; i++)
		json_array_append_new(items, json_string(m->items[i]));
	json_object_set_new(root, "items", items);
	if (m->link_url)
		json_object_set_new(root, "link", json_string(m->link_url));
	if (m->data_json) {
		json_error_t je;
		json_t *data = json_loads(m->data_json, 0, &je);

		if (!json_is_object(data)) {
			json_decref(data);
			json_decref(root);
			fo_err_set(err, FO_EXIT_FAILURE, "notification %s: its data is not a JSON"
				   " object (%s)", m->title, je.text);
			return NULL;
		}
		json_object_set_new(root, "data", data);
	}
	return root;
}

/* Whether s (NULL counts as fine) is valid UTF-8. */
static int
utf8(const char *s)
{
	return !s || fo_utf8_valid(s, strlen(s));
}

int
fo_notify_render(enum fo_notify_kind kind, const struct fo_notify_message *m, fo_buf *out,
		 fo_err *err)
{
	json_t *j;
	char *text;

	if (!m->title)
		return fo_err_set(err, FO_EXIT_FAILURE, "notification without a title");
	if (!utf8(m->title) || !utf8(m->summary) || !utf8(m->items_title) || !utf8(m->link_text) ||
	    !utf8(m->link_url))
		return fo_err_set(err, FO_EXIT_FAILURE, "notification %s: text that is not UTF-8",
				  m->event ? m->event : "message");
	for (size_t i = 0; i < m->nfacts; i++)
		if (!m->facts[i].title || !utf8(m->facts[i].title) || !utf8(m->facts[i].value))
			return fo_err_set(err, FO_EXIT_FAILURE, "notification %s: fact %zu has no"
					  " title, or text that is not UTF-8", m->title, i + 1);
	for (size_t i = 0; i < m->nitems; i++)
		if (!m->items[i] || !utf8(m->items[i]))
			return fo_err_set(err, FO_EXIT_FAILURE, "notification %s: item %zu is empty"
					  " or not UTF-8", m->title, i + 1);
	if (kind == FO_NOTIFY_WEBHOOK) {
		j = webhook(m, err);
		if (!j)
			return -1;
	} else {
		j = kind == FO_NOTIFY_SLACK ? slack(m) : teams(m);
	}
	/* json_pack returns NULL for a string that is not UTF-8, and when out of memory */
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!text)
		return fo_err_set(err, FO_EXIT_FAILURE, "notification %s: cannot build its %s body"
				  " (text that is not UTF-8, or out of memory)", m->title,
				  fo_notify_kind_name(kind));
	fo_buf_puts(out, text);
	free(text);
	return out->oom ? fo_err_set(err, FO_EXIT_FAILURE, "out of memory") : 0;
}

void
fo_notify_money(double v, const char *currency, char *out, size_t len)
{
	char digits[64], grouped[96];
	long long cents = llround(fabs(v) * 100);
	size_t n, k = 0;

	snprintf(digits, sizeof(digits), "%lld", cents / 100);
	n = strlen(digits);
	for (size_t i = 0; i < n; i++) {
		grouped[k++] = digits[i];
		if ((n - i - 1) % 3 == 0 && i + 1 < n)
			grouped[k++] = ',';
	}
	grouped[k] = '\0';
	if (strcmp(currency, "USD") == 0)
		snprintf(out, len, "%s$%s.%02lld", v < 0 && cents ? "-" : "", grouped, cents % 100);
	else
		snprintf(out, len, "%s%s %s.%02lld", v < 0 && cents ? "-" : "", currency, grouped,
			 cents % 100);
}
