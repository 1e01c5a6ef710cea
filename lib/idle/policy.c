/*
 * policy.c: idle_stop's policy file, every bad field named by its JSON path
 * (idle.h, docs/idle_stop.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "finops/idle.h"
#include "finops/jsonconf.h"

#define MAX_FILE (1 << 20)

static int
parse_rules(struct fo_jc *x, struct fo_idle_policy *p, json_t *arr)
{
	static const char *const keys[] = {"tag", "values", NULL};
	size_t i;
	json_t *e;

	if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > 50)
		return fo_jc_bad(x, "opt_in", "must be a list of 1 to 50 rules such as {\"tag\":"
				 " \"finops:auto-stop\", \"values\": [\"true\"]}: no rule, no"
				 " instance is ever stopped");
	p->opt_in = calloc(json_array_size(arr), sizeof(*p->opt_in));
	if (!p->opt_in)
		return fo_err_set(x->err, FO_EXIT_FAILURE, "out of memory");
	json_array_foreach(arr, i, e) {
		struct fo_idle_rule *r = &p->opt_in[i];
		char path[64], sub[300];

		snprintf(path, sizeof(path), "opt_in[%zu]", i);
		p->nopt_in = i + 1;
		if (!json_is_object(e))
			return fo_jc_bad(x, path, "must be an object with tag and values");
		if (fo_jc_only_keys(x, e, path, keys) < 0 ||
		    fo_jc_string(x, e, "tag", path, &r->tag) < 0)
			return -1;
		fo_jc_path(sub, sizeof(sub), path, "tag");
		if (!r->tag)
			return fo_jc_bad(x, sub, "missing");
		fo_jc_path(sub, sizeof(sub), path, "values");
		if (!json_object_get(e, "values"))
			return fo_jc_bad(x, sub, "missing: the tag values that opt in");
		if (fo_jc_strings(x, json_object_get(e, "values"), sub, 100, &r->values, &r->nvalues) < 0)
			return -1;
	}
	return 0;
}

static int
parse_channels(struct fo_jc *x, struct fo_idle_policy *p, json_t *arr)
{
	static const char *const keys[] = {"name", "kind", "webhook", NULL};

	return fo_notify_channels_from_json(x, arr, "channels", 0, 50, keys, &p->channels,
					    &p->nchannels);
}

static const struct fo_notify_channel *
channel(const struct fo_idle_policy *p, const char *name)
{
	for (size_t i = 0; name && i < p->nchannels; i++)
		if (strcmp(p->channels[i].name, name) == 0)
			return &p->channels[i];
	return NULL;
}

static int
parse_owners(struct fo_jc *x, struct fo_idle_policy *p, json_t *obj)
{
	const char *key;
	json_t *v;

	if (!json_is_object(obj) || json_object_size(obj) > 10000)
		return fo_jc_bad(x, "owners", "must be an object of owner -> channel name");
	p->owners = calloc(json_object_size(obj) + 1, sizeof(*p->owners));
	if (!p->owners)
		return fo_err_set(x->err, FO_EXIT_FAILURE, "out of memory");
	json_object_foreach(obj, key, v) {
		char path[300];

		snprintf(path, sizeof(path), "owners.%s", key);
		if (!json_is_string(v))
			return fo_jc_bad(x, path, "must be the name of a channel");
		if (!channel(p, json_string_value(v)))
			return fo_jc_bad(x, path, "no channel named '%s' in channels",
					 json_string_value(v));
		p->owners[p->nowners].owner = key;
		p->owners[p->nowners++].channel = json_string_value(v);
	}
	return 0;
}

static int
from_json(struct fo_jc *x, struct fo_idle_policy *p, json_t *root)
{
	static const char *const keys[] = {"opt_in", "keep_tag", "owner_tags", "channels", "owners",
					   "default_channel", "max_usage_age_hours",
					   "max_finding_age_days", NULL};
	static const char *default_owner_tags[] = {"owner", "team"};

	p->json = root;
	if (!json_is_object(root))
		return fo_jc_bad(x, "", "must be a JSON object with opt_in rules");
	if (fo_jc_only_keys(x, root, "", keys) < 0)
		return -1;
	if (!json_object_get(root, "opt_in"))
		return fo_jc_bad(x, "opt_in", "missing: the tags by which an instance opts in to"
				 " being stopped");
	if (parse_rules(x, p, json_object_get(root, "opt_in")) < 0 ||
	    fo_jc_string(x, root, "keep_tag", "", &p->keep_tag) < 0 ||
	    fo_jc_string(x, root, "default_channel", "", &p->default_channel) < 0 ||
	    fo_jc_int(x, root, "max_usage_age_hours", "", 1, 168, &p->max_usage_age_hours) < 0 ||
	    fo_jc_int(x, root, "max_finding_age_days", "", 1, 30, &p->max_finding_age_days) < 0)
		return -1;
	if (json_object_get(root, "owner_tags")) {
		if (fo_jc_strings(x, json_object_get(root, "owner_tags"), "owner_tags", 10,
				  &p->owner_tags, &p->nowner_tags) < 0)
			return -1;
	} else {
		p->owner_tags = calloc(2, sizeof(char *));
		if (!p->owner_tags)
			return fo_err_set(x->err, FO_EXIT_FAILURE, "out of memory");
		memcpy(p->owner_tags, default_owner_tags, sizeof(default_owner_tags));
		p->nowner_tags = 2;
	}
	if (json_object_get(root, "channels") &&
	    parse_channels(x, p, json_object_get(root, "channels")) < 0)
		return -1;
	if (json_object_get(root, "owners") &&
	    parse_owners(x, p, json_object_get(root, "owners")) < 0)
		return -1;
	if (p->default_channel && !channel(p, p->default_channel))
		return fo_jc_bad(x, "default_channel", "no channel named '%s' in channels",
				 p->default_channel);
	return 0;
}

static void
defaults(struct fo_idle_policy *p, const char *path)
{
	memset(p, 0, sizeof(*p));
	p->path = path;
	p->keep_tag = "finops:keep";
	p->max_usage_age_hours = 6;
	p->max_finding_age_days = 3;
}

int
fo_idle_policy_parse(struct fo_idle_policy *p, const char *name, const char *text, size_t len,
		     fo_err *err)
{
	struct fo_jc x = {name, FO_EXIT_USAGE, err};
	json_t *root;

	defaults(p, name);
	if (fo_jc_parse(&x, text, len, &root) < 0)
		return -1;
	return from_json(&x, p, root);
}

int
fo_idle_policy_load(struct fo_idle_policy *p, const char *path, fo_err *err)
{
	struct fo_jc x = {path, FO_EXIT_USAGE, err};
	json_t *root;

	defaults(p, path);
	if (fo_jc_load(&x, path, MAX_FILE, &root) < 0)
		return -1;
	return from_json(&x, p, root);
}

void
fo_idle_policy_free(struct fo_idle_policy *p)
{
	for (size_t i = 0; p->opt_in && i < p->nopt_in; i++)
		free(p->opt_in[i].values);
	free(p->opt_in);
	free(p->owner_tags);
	free(p->channels);
	free(p->owners);
	json_decref(p->json);
	memset(p, 0, sizeof(*p));
}

const struct fo_notify_channel *
fo_idle_channel_of(const struct fo_idle_policy *p, const char *owner)
{
	for (size_t i = 0; owner && i < p->nowners; i++)
		if (strcmp(p->owners[i].owner, owner) == 0)
			return channel(p, p->owners[i].channel);
	return channel(p, p->default_channel);
}
