/*
 * config.c: a channel as configuration files name it (see notify.h).
 */
#include <stdio.h>
#include <string.h>

#include "finops/jsonconf.h"
#include "finops/notify.h"

int
fo_notify_channels_from_json(struct fo_jc *x, json_t *arr, const char *path, int required,
			     size_t max, const char *const *keys, struct fo_notify_channel **out,
			     size_t *n)
{
	size_t i;
	json_t *e;

	*n = 0;
	if (!json_is_array(arr) || json_array_size(arr) < (size_t)(required ? 1 : 0) ||
	    json_array_size(arr) > max)
		return fo_jc_bad(x, path, "must be a list of %s%zu channels", required ? "1 to " :
				 "at most ", max);
	*out = calloc(json_array_size(arr) + 1, sizeof(**out));
	if (!*out)
		return fo_err_set(x->err, FO_EXIT_FAILURE, "out of memory");
	json_array_foreach(arr, i, e) {
		struct fo_notify_channel *ch = &(*out)[i];
		char at[64], p[300];

		snprintf(at, sizeof(at), "%s[%zu]", path, i);
		if (fo_notify_channel_from_json(x, e, at, keys, ch) < 0)
			return -1;
		for (size_t k = 0; k < i; k++)
			if (strcmp((*out)[k].name, ch->name) == 0) {
				fo_jc_path(p, sizeof(p), at, "name");
				return fo_jc_bad(x, p, "'%s' is also %s[%zu]", ch->name, path, k);
			}
		(*n)++;
	}
	return 0;
}

int
fo_notify_channel_from_json(struct fo_jc *x, json_t *e, const char *path,
			    const char *const *keys, struct fo_notify_channel *ch)
{
	const char *kind = NULL;
	char p[300];

	memset(ch, 0, sizeof(*ch));
	if (!json_is_object(e))
		return fo_jc_bad(x, path, "must be an object with name, kind and webhook");
	if (fo_jc_only_keys(x, e, path, keys) < 0 ||
	    fo_jc_string(x, e, "name", path, &ch->name) < 0 ||
	    fo_jc_string(x, e, "kind", path, &kind) < 0 ||
	    fo_jc_string(x, e, "webhook", path, &ch->webhook) < 0)
		return -1;
	fo_jc_path(p, sizeof(p), path, "name");
	if (!ch->name)
		return fo_jc_bad(x, p, "missing");
	if (!fo_jc_name_ok(ch->name))
		return fo_jc_bad(x, p, "'%s': letters, digits, '.', '_' and '-' only", ch->name);
	fo_jc_path(p, sizeof(p), path, "kind");
	if (!kind || fo_notify_kind_parse(kind, &ch->kind) < 0)
		return fo_jc_bad(x, p, "must be \"slack\", \"teams\" or \"webhook\"");
	if (!ch->webhook)
		ch->webhook = ch->name;
	return 0;
}
