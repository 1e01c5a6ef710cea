/*
 * monitors.c: what anomaly_detect watches: the default monitors, or a JSON
 * file whose every bad field is named by its JSON path (anomaly_detect.h).
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "finops/anomaly_detect.h"
#include "finops/jsonconf.h"

#define MAX_MONITORS 100
#define MAX_CHANNELS 50
#define MAX_TOP_N 100
#define MAX_FILE (1 << 20)

static const char *const dim_names[] = {
	"billing_account", "service", "sub_account", "region", "usage_type", "tag",
	"cost_category"};

const char *
fo_ad_dim_name(enum fo_ad_dim dim)
{
	return dim_names[dim];
}

/* Everything a monitor can say that the file's top level can say for all of them. */
struct common {
	int top_n;
	struct fo_anom_params up, down;
	int watch_drops;
	size_t *channels;
	size_t nchannels;
};

struct ctx {
	struct fo_jc jc;           /* its err is the caller's */
	struct fo_ad_config *c;
};

/* {"absolute": 100, "percent": 20, "join": "and"} */
static int
thresholds(struct ctx *x, json_t *t, const char *path, struct fo_anom_params *p)
{
	static const char *const keys[] = {"absolute", "percent", "join", NULL};
	const char *join = NULL;

	if (!json_is_object(t))
		return fo_jc_bad(&x->jc, path, "must be an object like {\"absolute\": 100, \"percent\": 20,"
			   " \"join\": \"and\"}");
	if (fo_jc_only_keys(&x->jc, t, path, keys) < 0 ||
	    fo_jc_number(&x->jc, t, "absolute", path, 0, 1e12, 0, &p->min_impact) < 0 ||
	    fo_jc_number(&x->jc, t, "percent", path, 0, 1000, 0, &p->min_pct) < 0 ||
	    fo_jc_string(&x->jc, t, "join", path, &join) < 0)
		return -1;
	if (join && strcmp(join, "and") != 0 && strcmp(join, "or") != 0) {
		char p2[300];

		fo_jc_path(p2, sizeof(p2), path, "join");
		return fo_jc_bad(&x->jc, p2, "must be \"and\" (both thresholds) or \"or\" (either)");
	}
	if (join)
		p->join_or = strcmp(join, "or") == 0;
	return 0;
}

static int
channel_list(struct ctx *x, json_t *v, const char *path, struct common *c)
{
	size_t i;
	json_t *e;

	if (!json_is_array(v))
		return fo_jc_bad(&x->jc, path, "must be a list of channel names");
	free(c->channels);
	c->channels = calloc(json_array_size(v) + 1, sizeof(size_t));
	c->nchannels = 0;
	if (!c->channels)
		return fo_err_set(x->jc.err, FO_EXIT_FAILURE, "out of memory");
	json_array_foreach(v, i, e) {
		char p[300];
		size_t k;

		snprintf(p, sizeof(p), "%s[%zu]", path, i);
		if (!json_is_string(e))
			return fo_jc_bad(&x->jc, p, "must be a channel name (a string)");
		for (k = 0; k < x->c->nchannels; k++)
			if (strcmp(x->c->channels[k].ch.name, json_string_value(e)) == 0)
				break;
		if (k == x->c->nchannels)
			return fo_jc_bad(&x->jc, p, "no channel named '%s' in channels", json_string_value(e));
		c->channels[c->nchannels++] = k;
	}
	return 0;
}

/* What the top level and each monitor share: level, history, thresholds, drops, top_n, notify. */
static int
common(struct ctx *x, json_t *obj, const char *path, struct common *c)
{
	json_t *d = json_object_get(obj, "drops"), *n = json_object_get(obj, "notify"),
	       *t = json_object_get(obj, "threshold");
	char p[300];
	double level = c->up.level;

	if (fo_jc_number(&x->jc, obj, "level", path, 0.5, 0.9999, 0, &level) < 0 ||
	    fo_jc_int(&x->jc, obj, "min_history_days", path, 7, 365, &c->up.min_history) < 0 ||
	    fo_jc_int(&x->jc, obj, "top_n", path, 1, MAX_TOP_N, &c->top_n) < 0)
		return -1;
	c->up.level = level;
	c->down.level = level;
	c->down.min_history = c->up.min_history;
	fo_jc_path(p, sizeof(p), path, "threshold");
	if (t && thresholds(x, t, p, &c->up) < 0)
		return -1;
	fo_jc_path(p, sizeof(p), path, "drops");
	if (json_is_boolean(d)) {
		c->watch_drops = json_is_true(d);
	} else if (d) {
		if (thresholds(x, d, p, &c->down) < 0)
			return -1;
		c->watch_drops = 1;
	}
	fo_jc_path(p, sizeof(p), path, "notify");
	if (n && channel_list(x, n, p, c) < 0)
		return -1;
	return 0;
}

static int
add_monitor(struct fo_ad_config *c, const char *name, enum fo_ad_dim dim, const char *key,
	    const struct common *cm, fo_err *err)
{
	struct fo_ad_monitor *m;

	m = &c->monitors[c->nmonitors];
	memset(m, 0, sizeof(*m));
	m->name = strdup(name);
	m->key = key ? strdup(key) : NULL;
	m->dim = dim;
	m->top_n = cm->top_n;
	m->up = cm->up;
	m->down = cm->down;
	m->down.drops = 1;
	m->watch_drops = cm->watch_drops;
	m->channels = calloc(cm->nchannels + 1, sizeof(size_t));
	c->nmonitors++;
	if (!m->name || (key && !m->key) || !m->channels)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	if (cm->nchannels)
		memcpy(m->channels, cm->channels, cm->nchannels * sizeof(size_t));
	m->nchannels = cm->nchannels;
	return 0;
}

static void
common_defaults(struct common *c)
{
	memset(c, 0, sizeof(*c));
	c->top_n = 10;
	fo_anom_defaults(&c->up);
	fo_anom_defaults(&c->down);
	c->down.drops = 1;
}

static int
default_monitors(struct fo_ad_config *c, const struct common *cm, fo_err *err)
{
	static const enum fo_ad_dim dims[] = {FO_AD_ACCOUNT, FO_AD_SERVICE, FO_AD_SUB_ACCOUNT,
					      FO_AD_REGION, FO_AD_USAGE_TYPE};

	c->monitors = calloc(5, sizeof(*c->monitors));
	if (!c->monitors)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	for (size_t i = 0; i < 5; i++)
		if (add_monitor(c, fo_ad_dim_name(dims[i]), dims[i], NULL, cm, err) < 0)
			return -1;
	return 0;
}

int
fo_ad_config_defaults(struct fo_ad_config *c, fo_err *err)
{
	struct common cm;

	memset(c, 0, sizeof(*c));
	common_defaults(&cm);
	return default_monitors(c, &cm, err);
}

/*
 * A channel's or monitor's name at path: there, fit for logs and URLs, not
 * taken (dup: the index of an earlier one of that name in list, or -1).
 */
static int
check_name(struct ctx *x, const char *path, const char *name, const char *list, long dup)
{
	char p[300];

	fo_jc_path(p, sizeof(p), path, "name");
	if (!name)
		return fo_jc_bad(&x->jc, p, "missing");
	if (!fo_jc_name_ok(name))
		return fo_jc_bad(&x->jc, p, "'%s': letters, digits, '.', '_' and '-' only", name);
	if (dup >= 0)
		return fo_jc_bad(&x->jc, p, "'%s' is also %s[%ld]", name, list, dup);
	return 0;
}

static int
parse_channels(struct ctx *x, json_t *arr)
{
	static const char *const keys[] = {"name", "kind", "webhook", "delivery", NULL};
	struct fo_ad_config *c = x->c;
	size_t i;
	json_t *e;

	if (!json_is_array(arr) || json_array_size(arr) > MAX_CHANNELS)
		return fo_jc_bad(&x->jc, "channels", "must be a list of at most %d channels",
				 MAX_CHANNELS);
	c->channels = calloc(json_array_size(arr) + 1, sizeof(*c->channels));
	if (!c->channels)
		return fo_err_set(x->jc.err, FO_EXIT_FAILURE, "out of memory");
	json_array_foreach(arr, i, e) {
		struct fo_ad_channel *ch = &c->channels[i];
		const char *delivery = NULL;
		char path[64], p[300];

		snprintf(path, sizeof(path), "channels[%zu]", i);
		if (fo_notify_channel_from_json(&x->jc, e, path, keys, &ch->ch) < 0 ||
		    fo_jc_string(&x->jc, e, "delivery", path, &delivery) < 0)
			return -1;
		for (size_t k = 0; k < i; k++)
			if (strcmp(c->channels[k].ch.name, ch->ch.name) == 0) {
				fo_jc_path(p, sizeof(p), path, "name");
				return fo_jc_bad(&x->jc, p, "'%s' is also channels[%zu]", ch->ch.name, k);
			}
		fo_jc_path(p, sizeof(p), path, "delivery");
		if (delivery && strcmp(delivery, "immediate") != 0 && strcmp(delivery, "digest") != 0)
			return fo_jc_bad(&x->jc, p, "must be \"immediate\" or \"digest\" (one message"
					 " a day)");
		ch->digest = delivery && strcmp(delivery, "digest") == 0;
		c->nchannels++;
	}
	return 0;
}

static int
parse_monitor(struct ctx *x, json_t *e, size_t i, const struct common *top)
{
	static const char *const keys[] = {"name", "dimension", "tag", "cost_category", "top_n",
					   "level", "min_history_days", "threshold", "drops",
					   "notify", NULL};
	const char *name = NULL, *dim = NULL, *tag = NULL, *cc = NULL, *key = NULL;
	struct common cm = *top;
	enum fo_ad_dim d = FO_AD_ACCOUNT;
	char path[64], p[300];
	int rc;

	snprintf(path, sizeof(path), "monitors[%zu]", i);
	if (!json_is_object(e))
		return fo_jc_bad(&x->jc, path, "must be an object with a name and a dimension, tag"
				 " or cost_category");
	if (fo_jc_only_keys(&x->jc, e, path, keys) < 0 ||
	    fo_jc_string(&x->jc, e, "name", path, &name) < 0 ||
	    fo_jc_string(&x->jc, e, "dimension", path, &dim) < 0 ||
	    fo_jc_string(&x->jc, e, "tag", path, &tag) < 0 ||
	    fo_jc_string(&x->jc, e, "cost_category", path, &cc) < 0)
		return -1;
	{
		long dup = -1;

		for (size_t k = 0; name && k < x->c->nmonitors && dup < 0; k++)
			if (strcmp(x->c->monitors[k].name, name) == 0)
				dup = (long)k;
		if (check_name(x, path, name, "monitors", dup) < 0)
			return -1;
	}
	if (!!dim + !!tag + !!cc != 1)
		return fo_jc_bad(&x->jc, path, "needs exactly one of dimension, tag and cost_category");
	if (dim) {
		for (d = FO_AD_ACCOUNT; d < FO_AD_TAG; d++)
			if (strcmp(dim, dim_names[d]) == 0)
				break;
		fo_jc_path(p, sizeof(p), path, "dimension");
		if (d == FO_AD_TAG)
			return fo_jc_bad(&x->jc, p, "'%s' is not billing_account, service, sub_account, region"
				   " or usage_type", dim);
	} else {
		d = tag ? FO_AD_TAG : FO_AD_COST_CATEGORY;
		key = tag ? tag : cc;
	}
	/* a monitor's own notify list replaces the file's; the copy is its own */
	cm.channels = NULL;
	cm.nchannels = 0;
	if (!json_object_get(e, "notify") && top->nchannels) {
		cm.channels = malloc(top->nchannels * sizeof(size_t));
		if (!cm.channels)
			return fo_err_set(x->jc.err, FO_EXIT_FAILURE, "out of memory");
		memcpy(cm.channels, top->channels, top->nchannels * sizeof(size_t));
		cm.nchannels = top->nchannels;
	}
	rc = common(x, e, path, &cm);
	if (rc == 0)
		rc = add_monitor(x->c, name, d, key, &cm, x->jc.err);
	free(cm.channels);
	return rc;
}

/* The monitors file's content (root, which c now owns) into c. */
static int
from_json(struct fo_ad_config *c, struct ctx *xp, json_t *root)
{
	static const char *const keys[] = {"metric", "level", "min_history_days", "threshold",
					   "drops", "top_n", "notify", "channels", "monitors",
					   "dashboard_url", NULL};
	struct ctx x = *xp;
	fo_err *err = x.jc.err;
	const char *metric = NULL, *url = NULL;
	struct common top;
	json_t *mons;
	int rc = -1;

	common_defaults(&top);
	c->json = root;
	if (!json_is_object(root)) {
		fo_jc_bad(&x.jc, "", "must be a JSON object (see docs/anomalies.md)");
		goto out;
	}
	if (fo_jc_only_keys(&x.jc, root, "", keys) < 0 ||
	    fo_jc_string(&x.jc, root, "metric", "", &metric) < 0 ||
	    fo_jc_string(&x.jc, root, "dashboard_url", "", &url) < 0)
		goto out;
	if (metric && strcmp(metric, "effective_cost") != 0 && strcmp(metric, "billed_cost") != 0) {
		fo_jc_bad(&x.jc, "metric", "must be \"effective_cost\" (amortized, the default) or"
		    " \"billed_cost\"");
		goto out;
	}
	c->billed = metric && strcmp(metric, "billed_cost") == 0;
	if (url && strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0) {
		fo_jc_bad(&x.jc, "dashboard_url", "must start with https:// (or http://)");
		goto out;
	}
	if (url && !(c->dashboard_url = strdup(url))) {
		fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		goto out;
	}
	if (json_object_get(root, "channels") && parse_channels(&x, json_object_get(root,
								 "channels")) < 0)
		goto out;
	if (common(&x, root, "", &top) < 0)
		goto out;
	mons = json_object_get(root, "monitors");
	if (!mons) {
		rc = default_monitors(c, &top, err);
		goto out;
	}
	if (!json_is_array(mons) || json_array_size(mons) == 0 ||
	    json_array_size(mons) > MAX_MONITORS) {
		fo_jc_bad(&x.jc, "monitors", "must be a list of 1 to %d monitors", MAX_MONITORS);
		goto out;
	}
	c->monitors = calloc(json_array_size(mons), sizeof(*c->monitors));
	if (!c->monitors) {
		fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < json_array_size(mons); i++)
		if (parse_monitor(&x, json_array_get(mons, i), i, &top) < 0)
			goto out;
	rc = 0;
out:
	free(top.channels);
	return rc;
}

int
fo_ad_config_parse(struct fo_ad_config *c, const char *name, const char *text, size_t len,
		   fo_err *err)
{
	struct ctx x = {{name, FO_EXIT_USAGE, err}, c};
	json_t *root;

	memset(c, 0, sizeof(*c));
	if (fo_jc_parse(&x.jc, text, len, &root) < 0)
		return -1;
	return from_json(c, &x, root);
}

int
fo_ad_config_load(struct fo_ad_config *c, const char *path, fo_err *err)
{
	struct ctx x = {{path, FO_EXIT_USAGE, err}, c};
	json_t *root;
	int rc;

	memset(c, 0, sizeof(*c));
	if (fo_jc_load(&x.jc, path, MAX_FILE, &root) < 0)
		return fo_err_prefix(err, "--monitors ");
	rc = from_json(c, &x, root);
	c->path = path;
	return rc;
}

void
fo_ad_config_free(struct fo_ad_config *c)
{
	for (size_t i = 0; i < c->nmonitors; i++) {
		free(c->monitors[i].name);
		free(c->monitors[i].key);
		free(c->monitors[i].channels);
	}
	free(c->monitors);
	free(c->channels);
	free(c->dashboard_url);
	if (c->json)
		json_decref(c->json);
	memset(c, 0, sizeof(*c));
}
