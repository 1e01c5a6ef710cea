/*
 * budgets.c: the budgets file, every bad field named by its JSON path, and
 * the periods budgets run over (budget.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "finops/budget.h"
#include "finops/datetime.h"
#include "finops/jsonconf.h"

#define MAX_FILE (1 << 20)
#define MAX_BUDGETS 1000

void
fo_bd_period_of(enum fo_bd_period p, long day, long *first, long *last, char name[16])
{
	int y, m, d, m0, months;

	fo_civil_from_days(day, &y, &m, &d);
	months = p == FO_BD_MONTHLY ? 1 : p == FO_BD_QUARTERLY ? 3 : 12;
	m0 = p == FO_BD_MONTHLY ? m : p == FO_BD_QUARTERLY ? (m - 1) / 3 * 3 + 1 : 1;
	*first = (long)fo_days_from_civil(y, m0, 1);
	*last = (long)fo_days_from_civil(y + (m0 + months - 1) / 12, (m0 + months - 1) % 12 + 1, 1)
		- 1;
	if (p == FO_BD_MONTHLY)
		snprintf(name, 16, "%04d-%02d", y % 10000, m);
	else if (p == FO_BD_QUARTERLY)
		snprintf(name, 16, "%04d-Q%d", y % 10000, (m - 1) / 3 + 1);
	else
		snprintf(name, 16, "%04d", y % 10000);
}

struct ctx {
	struct fo_jc jc;
	struct fo_bd_file *f;
};

/* A list of 1 to 1000 strings at path into a calloc'ed array. */
static int
strings(struct ctx *x, json_t *v, const char *path, const char ***out, size_t *n)
{
	return fo_jc_strings(&x->jc, v, path, 1000, out, n);
}

static int
channel_known(const struct fo_bd_file *f, const char *name)
{
	for (size_t i = 0; i < f->nchannels; i++)
		if (strcmp(f->channels[i].name, name) == 0)
			return 1;
	return 0;
}

static int
parse_scope(struct ctx *x, json_t *s, const char *path, struct fo_bd_budget *b)
{
	static const char *const keys[] = {"billing_accounts", "sub_accounts", "services",
					   "regions", "tags", "cost_categories", NULL};
	static const char *const fields[] = {"billing_account", "sub_account", "service",
					     "region"};
	size_t n = 0;
	const char *k;
	json_t *v;

	if (!json_is_object(s))
		return fo_jc_bad(&x->jc, path, "must be an object of billing_accounts, sub_accounts,"
				 " services, regions, tags, cost_categories");
	if (fo_jc_only_keys(&x->jc, s, path, keys) < 0)
		return -1;
	json_object_foreach(s, k, v)
		n += json_is_object(v) ? json_object_size(v) : 1;
	b->filters = calloc(n + 1, sizeof(*b->filters));
	if (!b->filters)
		return fo_err_set(x->jc.err, FO_EXIT_FAILURE, "out of memory");
	for (int i = 0; i < 4; i++) {
		char p[300];

		v = json_object_get(s, keys[i]);
		if (!v)
			continue;
		fo_jc_path(p, sizeof(p), path, keys[i]);
		b->filters[b->nfilters].field = fields[i];
		b->nfilters++;              /* counted first: freed even when it fails */
		if (strings(x, v, p, &b->filters[b->nfilters - 1].values,
			    &b->filters[b->nfilters - 1].nvalues) < 0)
			return -1;
	}
	for (int i = 4; i < 6; i++) {
		char p[300];
		const char *key;
		json_t *vals;

		v = json_object_get(s, keys[i]);
		if (!v)
			continue;
		fo_jc_path(p, sizeof(p), path, keys[i]);
		if (!json_is_object(v) || json_object_size(v) == 0)
			return fo_jc_bad(&x->jc, p, "must be an object of key: [values]"
					 " (\"team\": [\"payments\"])");
		json_object_foreach(v, key, vals) {
			char p2[400];
			struct fo_bd_filter *fl = &b->filters[b->nfilters];

			snprintf(p2, sizeof(p2), "%s.%s", p, key);
			fl->field = i == 4 ? "tag" : "cost_category";
			fl->key = key;
			b->nfilters++;
			if (strings(x, vals, p2, &fl->values, &fl->nvalues) < 0)
				return -1;
		}
	}
	return 0;
}

static int
parse_amount(struct ctx *x, json_t *a, const char *path, struct fo_bd_budget *b)
{
	static const char *const keys[] = {"planned", "auto", NULL};
	static const char *const auto_keys[] = {"periods", NULL};
	char p[300];

	if (json_is_number(a)) {
		double d = json_number_value(a);

		if (!(d > 0) || !isfinite(d) || d > 1e15)
			return fo_jc_bad(&x->jc, path, "must be > 0");
		b->amount_kind = FO_BD_FIXED;
		b->amount = d;
		return 0;
	}
	if (!json_is_object(a) || json_object_size(a) != 1)
		return fo_jc_bad(&x->jc, path, "must be a number, {\"planned\": {PERIOD: AMOUNT}} or"
				 " {\"auto\": {\"periods\": N}}");
	if (fo_jc_only_keys(&x->jc, a, path, keys) < 0)
		return -1;
	if (json_object_get(a, "auto")) {
		json_t *au = json_object_get(a, "auto");

		fo_jc_path(p, sizeof(p), path, "auto");
		if (!json_is_object(au) || fo_jc_only_keys(&x->jc, au, p, auto_keys) < 0)
			return json_is_object(au) ? -1 : fo_jc_bad(&x->jc, p, "must be {\"periods\": N}");
		b->amount_kind = FO_BD_AUTO;
		b->auto_periods = 3;
		return fo_jc_int(&x->jc, au, "periods", p, 1, 12, &b->auto_periods);
	}
	{
		json_t *pl = json_object_get(a, "planned"), *v;
		const char *k;

		fo_jc_path(p, sizeof(p), path, "planned");
		if (!json_is_object(pl) || json_object_size(pl) == 0)
			return fo_jc_bad(&x->jc, p, "must be an object of PERIOD: AMOUNT"
					 " (\"2026-10\", \"2026-Q4\" or \"2026\" as the period says)");
		b->amount_kind = FO_BD_PLANNED;
		b->planned_keys = calloc(json_object_size(pl), sizeof(char *));
		b->planned = calloc(json_object_size(pl), sizeof(double));
		if (!b->planned_keys || !b->planned)
			return fo_err_set(x->jc.err, FO_EXIT_FAILURE, "out of memory");
		json_object_foreach(pl, k, v) {
			char p2[400];
			int y, m, ok;
			char tail;

			snprintf(p2, sizeof(p2), "%s.%s", p, k);
			ok = b->period == FO_BD_MONTHLY ? sscanf(k, "%4d-%2d%c", &y, &m, &tail) == 2 &&
							  m >= 1 && m <= 12 && strlen(k) == 7
			     : b->period == FO_BD_QUARTERLY ? sscanf(k, "%4d-Q%1d%c", &y, &m, &tail) == 2
							  && m >= 1 && m <= 4 && strlen(k) == 7
			     : sscanf(k, "%4d%c", &y, &tail) == 1 && strlen(k) == 4;
			if (!ok)
				return fo_jc_bad(&x->jc, p2, "not a %s period (%s)",
						 b->period == FO_BD_MONTHLY ? "monthly" :
						 b->period == FO_BD_QUARTERLY ? "quarterly" : "yearly",
						 b->period == FO_BD_MONTHLY ? "\"2026-10\"" :
						 b->period == FO_BD_QUARTERLY ? "\"2026-Q4\"" : "\"2026\"");
			if (!json_is_number(v) || !(json_number_value(v) > 0))
				return fo_jc_bad(&x->jc, p2, "must be > 0");
			b->planned_keys[b->nplanned] = k;
			b->planned[b->nplanned++] = json_number_value(v);
		}
	}
	return 0;
}

static int
parse_thresholds(struct ctx *x, json_t *t, const char *path, struct fo_bd_budget *b)
{
	static const char *const keys[] = {"type", "percent", "amount", "notify", NULL};
	size_t i;
	json_t *e;

	if (!json_is_array(t) || json_array_size(t) == 0 || json_array_size(t) > 20)
		return fo_jc_bad(&x->jc, path, "must be a list of 1 to 20 thresholds");
	b->thresholds = calloc(json_array_size(t), sizeof(*b->thresholds));
	if (!b->thresholds)
		return fo_err_set(x->jc.err, FO_EXIT_FAILURE, "out of memory");
	json_array_foreach(t, i, e) {
		struct fo_bd_threshold *th = &b->thresholds[i];
		const char *type = NULL;
		char p[64], p2[300];

		b->nthresholds = i + 1;     /* counted first: freed even when it fails */
		snprintf(p, sizeof(p), "%s[%zu]", path, i);
		if (!json_is_object(e))
			return fo_jc_bad(&x->jc, p, "must be an object with type and percent or amount");
		if (fo_jc_only_keys(&x->jc, e, p, keys) < 0 ||
		    fo_jc_string(&x->jc, e, "type", p, &type) < 0)
			return -1;
		fo_jc_path(p2, sizeof(p2), p, "type");
		if (!type || (strcmp(type, "actual") != 0 && strcmp(type, "forecasted") != 0))
			return fo_jc_bad(&x->jc, p2, "must be \"actual\" or \"forecasted\"");
		th->forecasted = strcmp(type, "forecasted") == 0;
		if (!!json_object_get(e, "percent") == !!json_object_get(e, "amount"))
			return fo_jc_bad(&x->jc, p, "needs exactly one of percent and amount");
		if (fo_jc_number(&x->jc, e, "percent", p, 0, 1000, 1, &th->percent) < 0 ||
		    fo_jc_number(&x->jc, e, "amount", p, 0, 1e15, 1, &th->absolute) < 0)
			return -1;
		if (th->percent > 0)
			snprintf(th->key, sizeof(th->key), "%s:%g%%", type, th->percent);
		else
			snprintf(th->key, sizeof(th->key), "%s:%.2f", type, th->absolute);
		for (size_t k = 0; k < i; k++)
			if (strcmp(b->thresholds[k].key, th->key) == 0)
				return fo_jc_bad(&x->jc, p, "the same threshold as %s[%zu]", path, k);
		fo_jc_path(p2, sizeof(p2), p, "notify");
		if (json_object_get(e, "notify")) {
			if (strings(x, json_object_get(e, "notify"), p2, &th->notify, &th->nnotify) < 0)
				return -1;
			for (size_t k = 0; k < th->nnotify; k++)
				if (!channel_known(x->f, th->notify[k])) {
					char p3[400];

					snprintf(p3, sizeof(p3), "%s[%zu]", p2, k);
					return fo_jc_bad(&x->jc, p3, "no channel named '%s' in channels",
							 th->notify[k]);
				}
		} else {
			th->notify = calloc(1, sizeof(char *));
			if (!th->notify)
				return fo_err_set(x->jc.err, FO_EXIT_FAILURE, "out of memory");
			th->notify[0] = b->owner;
			th->nnotify = 1;
		}
	}
	return 0;
}

static int
parse_budget(struct ctx *x, json_t *e, size_t i)
{
	static const char *const keys[] = {"name", "owner", "scope", "currency", "period", "metric",
					   "amount", "thresholds", NULL};
	struct fo_bd_budget *b = &x->f->budgets[i];
	const char *period = "monthly", *metric = NULL;
	char path[64], p[300];

	snprintf(path, sizeof(path), "budgets[%zu]", i);
	if (!json_is_object(e))
		return fo_jc_bad(&x->jc, path, "must be an object (see docs/budgets.md)");
	if (fo_jc_only_keys(&x->jc, e, path, keys) < 0 ||
	    fo_jc_string(&x->jc, e, "name", path, &b->name) < 0 ||
	    fo_jc_string(&x->jc, e, "owner", path, &b->owner) < 0 ||
	    fo_jc_string(&x->jc, e, "currency", path, &b->currency) < 0 ||
	    fo_jc_string(&x->jc, e, "period", path, &period) < 0 ||
	    fo_jc_string(&x->jc, e, "metric", path, &metric) < 0)
		return -1;
	fo_jc_path(p, sizeof(p), path, "name");
	if (!b->name)
		return fo_jc_bad(&x->jc, p, "missing");
	if (!fo_jc_name_ok(b->name))
		return fo_jc_bad(&x->jc, p, "'%s': letters, digits, '.', '_' and '-' only", b->name);
	for (size_t k = 0; k < i; k++)
		if (strcmp(x->f->budgets[k].name, b->name) == 0)
			return fo_jc_bad(&x->jc, p, "'%s' is also budgets[%zu]", b->name, k);
	fo_jc_path(p, sizeof(p), path, "owner");
	if (!b->owner || !channel_known(x->f, b->owner))
		return fo_jc_bad(&x->jc, p, b->owner ? "no channel named '%s' in channels"
				 : "missing: the channel of the budget's owner%s", b->owner ? b->owner : "");
	fo_jc_path(p, sizeof(p), path, "currency");
	if (!b->currency || strlen(b->currency) != 3)
		return fo_jc_bad(&x->jc, p, "must be an ISO 4217 code (\"USD\"): budgets are never"
				 " summed across currencies");
	fo_jc_path(p, sizeof(p), path, "period");
	if (strcmp(period, "monthly") == 0)
		b->period = FO_BD_MONTHLY;
	else if (strcmp(period, "quarterly") == 0)
		b->period = FO_BD_QUARTERLY;
	else if (strcmp(period, "yearly") == 0)
		b->period = FO_BD_YEARLY;
	else
		return fo_jc_bad(&x->jc, p, "must be \"monthly\", \"quarterly\" or \"yearly\"");
	fo_jc_path(p, sizeof(p), path, "metric");
	if (metric && strcmp(metric, "effective_cost") != 0 && strcmp(metric, "billed_cost") != 0)
		return fo_jc_bad(&x->jc, p, "must be \"effective_cost\" or \"billed_cost\"");
	b->billed = metric && strcmp(metric, "billed_cost") == 0;
	fo_jc_path(p, sizeof(p), path, "scope");
	if (json_object_get(e, "scope") && parse_scope(x, json_object_get(e, "scope"), p, b) < 0)
		return -1;
	fo_jc_path(p, sizeof(p), path, "amount");
	if (!json_object_get(e, "amount"))
		return fo_jc_bad(&x->jc, p, "missing");
	if (parse_amount(x, json_object_get(e, "amount"), p, b) < 0)
		return -1;
	fo_jc_path(p, sizeof(p), path, "thresholds");
	if (!json_object_get(e, "thresholds"))
		return fo_jc_bad(&x->jc, p, "missing (docs/budgets.md: 80%% actual, 100%% forecasted,"
				 " 100%% actual)");
	if (parse_thresholds(x, json_object_get(e, "thresholds"), p, b) < 0)
		return -1;
	b->definition = json_dumps(e, JSON_SORT_KEYS | JSON_COMPACT);
	if (!b->definition)
		return fo_err_set(x->jc.err, FO_EXIT_FAILURE, "out of memory");
	return 0;
}

static int
parse_channels(struct ctx *x, json_t *arr)
{
	static const char *const keys[] = {"name", "kind", "webhook", NULL};

	return fo_notify_channels_from_json(&x->jc, arr, "channels", 1, 50, keys,
					    &x->f->channels, &x->f->nchannels);
}

static int
from_json(struct ctx *x, json_t *root)
{
	static const char *const keys[] = {"channels", "budgets", NULL};
	struct fo_bd_file *f = x->f;
	json_t *bs;

	f->json = root;
	if (!json_is_object(root))
		return fo_jc_bad(&x->jc, "", "must be a JSON object with channels and budgets");
	if (fo_jc_only_keys(&x->jc, root, "", keys) < 0)
		return -1;
	if (!json_object_get(root, "channels"))
		return fo_jc_bad(&x->jc, "channels", "missing: every budget has an owner channel");
	if (parse_channels(x, json_object_get(root, "channels")) < 0)
		return -1;
	bs = json_object_get(root, "budgets");
	if (!json_is_array(bs) || json_array_size(bs) > MAX_BUDGETS)
		return fo_jc_bad(&x->jc, "budgets", "must be a list of at most %d budgets",
				 MAX_BUDGETS);
	f->budgets = calloc(json_array_size(bs) + 1, sizeof(*f->budgets));
	if (!f->budgets)
		return fo_err_set(x->jc.err, FO_EXIT_FAILURE, "out of memory");
	for (size_t i = 0; i < json_array_size(bs); i++) {
		f->nbudgets = i + 1;
		if (parse_budget(x, json_array_get(bs, i), i) < 0)
			return -1;
	}
	return 0;
}

int
fo_bd_parse(struct fo_bd_file *f, const char *name, const char *text, size_t len, fo_err *err)
{
	struct ctx x = {{name, FO_EXIT_BAD_INPUT, err}, f};
	json_t *root;

	memset(f, 0, sizeof(*f));
	f->path = name;
	if (fo_jc_parse(&x.jc, text, len, &root) < 0)
		return -1;
	return from_json(&x, root);
}

int
fo_bd_load(struct fo_bd_file *f, const char *path, fo_err *err)
{
	struct ctx x = {{path, FO_EXIT_BAD_INPUT, err}, f};
	json_t *root;

	memset(f, 0, sizeof(*f));
	f->path = path;
	if (fo_jc_load(&x.jc, path, MAX_FILE, &root) < 0)
		return fo_err_prefix(err, "--budgets ");
	return from_json(&x, root);
}

void
fo_bd_free(struct fo_bd_file *f)
{
	for (size_t i = 0; i < f->nbudgets; i++) {
		struct fo_bd_budget *b = &f->budgets[i];

		for (size_t k = 0; k < b->nfilters; k++)
			free(b->filters[k].values);
		free(b->filters);
		for (size_t k = 0; k < b->nthresholds; k++)
			free(b->thresholds[k].notify);
		free(b->thresholds);
		free(b->planned_keys);
		free(b->planned);
		free(b->definition);
	}
	free(f->budgets);
	free(f->channels);
	if (f->json)
		json_decref(f->json);
	memset(f, 0, sizeof(*f));
}
