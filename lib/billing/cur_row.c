/*
 * cur_row.c: AWS CUR (legacy, CUR 2.0) and FOCUS rows mapped to FOCUS
 * columns, by the mapper cur_header.c made from the header (see cur.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "billing/cur_map.h"
#include "finops/datetime.h"
#include "finops/decimal.h"
#include "finops/log.h"
#include "core/core.h"
/* The header index a column is read from, or -1. */
static long
source_of(const fo_cur_mapper *m, enum fo_cur_col col)
{
	for (size_t s = 0; s < NSPECS; s++)
		if (fo_cur_specs[s].col == col)
			return m->src[s];
	return -1;
}

static int
bad(fo_cur_mapper *m, const struct fo_csv_record *rec, long index, const char *value,
    const char *why, fo_err *err)
{
	return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s:%llu: column %s: \"%.80s\" %s", m->file,
			  rec->line, index >= 0 ? m->header[index] : "?", value, why);
}

/* The CUR line item type as a FOCUS charge category. */
static const char *
charge_category_of(const char *t)
{
	static const char *const usage[] = {"Usage", "DiscountedUsage", "SavingsPlanCoveredUsage",
					    "SavingsPlanNegation", NULL};
	static const char *const purchase[] = {"Fee", "RIFee", "SavingsPlanRecurringFee",
					       "SavingsPlanUpfrontFee", NULL};
	static const char *const credit[] = {"Credit", "Refund", "BundledDiscount", "EdpDiscount",
					     "PrivateRateDiscount", "SppDiscount",
					     "DistributorDiscount", "Discount", NULL};

	for (int i = 0; usage[i]; i++)
		if (strcmp(t, usage[i]) == 0)
			return "Usage";
	for (int i = 0; purchase[i]; i++)
		if (strcmp(t, purchase[i]) == 0)
			return "Purchase";
	if (strcmp(t, "Tax") == 0)
		return "Tax";
	for (int i = 0; credit[i]; i++)
		if (strcmp(t, credit[i]) == 0)
			return "Credit";
	return "Adjustment";
}

static const char *
charge_frequency_of(const char *t)
{
	if (strcmp(t, "RIFee") == 0 || strcmp(t, "SavingsPlanRecurringFee") == 0)
		return "Recurring";
	if (strcmp(t, "Fee") == 0 || strcmp(t, "SavingsPlanUpfrontFee") == 0)
		return "One-Time";
	return "Usage-Based";
}

static const char *
pricing_category_of(const char *type, const char *term, const char *usage_type)
{
	if (strcmp(type, "DiscountedUsage") == 0 || strcmp(type, "SavingsPlanCoveredUsage") == 0)
		return "Committed";
	if (usage_type && strstr(usage_type, "SpotUsage"))
		return "Dynamic";
	if (term && strcmp(term, "OnDemand") == 0)
		return "Standard";
	if (term && strcmp(term, "Reserved") == 0)
		return "Committed";
	return NULL;
}

static int
json_object_text(fo_cur_mapper *m, const struct fo_csv_record *rec, long index, const char *v,
		 size_t n, json_t **keep, fo_err *err)
{
	json_error_t jerr;
	json_t *j = json_loadb(v, n, JSON_DECODE_ANY, &jerr);
	int is_obj = j && json_is_object(j);

	if (!is_obj || !keep)
		json_decref(j);
	if (!is_obj)
		return bad(m, rec, index, v, "is not a JSON object", err);
	if (keep)
		*keep = j;
	return 0;
}

/* Room for n tag pairs in the mapper's scratch. */
static int
tag_room(fo_cur_mapper *m, size_t n)
{
	struct fo_cur_tag *t;

	if (n <= m->tagcap)
		return 0;
	t = realloc(m->tagv, n * sizeof(*t));
	if (!t)
		return -1;
	m->tagv = t;
	m->tagcap = n;
	return 0;
}

/* The string-valued tags of a JSON object (CUR 2.0 resource_tags, FOCUS Tags). */
static int
json_tags(fo_cur_mapper *m, json_t *obj, struct fo_cur_row *row)
{
	const char *key;
	json_t *value;
	size_t k = 0;

	if (tag_room(m, json_object_size(obj)) < 0)
		return -1;
	json_object_foreach(obj, key, value) {
		if (!json_is_string(value))
			continue;
		m->tagv[k].key = key;
		m->tagv[k].keylen = strlen(key);
		m->tagv[k].value = json_string_value(value);
		m->tagv[k].valuelen = json_string_length(value);
		k++;
	}
	row->tags = m->tagv;
	row->ntags = k;
	return 0;
}

/* The non-empty keyed tag columns of a legacy CUR row. */
static int
keyed_tags(fo_cur_mapper *m, const struct fo_csv_record *rec, struct fo_cur_row *row)
{
	size_t k = 0;

	if (tag_room(m, m->ntags) < 0)
		return -1;
	for (size_t i = 0; i < m->ntags; i++) {
		size_t c = m->tags[i].index;

		if (c >= rec->nfields || rec->len[c] == 0)
			continue;
		m->tagv[k].key = m->tags[i].name;
		m->tagv[k].keylen = m->tags[i].namelen;
		m->tagv[k].value = rec->field[c];
		m->tagv[k].valuelen = rec->len[c];
		k++;
	}
	row->tags = m->tagv;
	row->ntags = k;
	return 0;
}

/* Builds {"key": "value", ...} from the non-empty keyed columns. */
static void
keyed_json(fo_buf *b, const struct keyed *k, size_t nk, const struct fo_csv_record *rec)
{
	int first = 1;

	fo_buf_reset(b);
	fo_buf_putc(b, '{');
	for (size_t i = 0; i < nk; i++) {
		if (k[i].index >= rec->nfields || rec->len[k[i].index] == 0)
			continue;
		if (!first)
			fo_buf_putc(b, ',');
		first = 0;
		fo_buf_append(b, k[i].key, k[i].keylen);
		fo_json_append_string(b, rec->field[k[i].index]);
	}
	fo_buf_putc(b, '}');
}

/* a + b (or a - b), NULL as 0, at the larger scale of the two, into out. */
static int
dec_combine(const struct fo_cur_row *row, enum fo_cur_col a, enum fo_cur_col b, int subtract,
	    char *out, size_t len)
{
	fo_dec_sum sum;
	int scale = 0;

	fo_dec_zero(&sum);
	if (row->v[a]) {
		if (fo_dec_add(&sum, row->v[a], row->n[a]) < 0)
			return -1;
		scale = fo_dec_scale(row->v[a], row->n[a]);
	}
	if (row->v[b]) {
		int sb = fo_dec_scale(row->v[b], row->n[b]);

		if ((subtract ? fo_dec_sub : fo_dec_add)(&sum, row->v[b], row->n[b]) < 0)
			return -1;
		scale = sb > scale ? sb : scale;
	}
	fo_dec_format_scale(&sum, scale, out, len);
	return 0;
}

static void
set_value(struct fo_cur_row *row, enum fo_cur_col col, const char *v, size_t n)
{
	row->v[col] = v;
	row->n[col] = n;
}

/*
 * The amortized cost. FOCUS reports it; for AWS CUR it is the rule of AWS's
 * Cloud Intelligence Dashboards and the FOCUS converters: Savings Plan and
 * reservation usage at their effective cost, their recurring fees at the
 * unused part, negations and upfront fees at zero (they are amortized into
 * the usage), reservation purchase fees at zero, everything else as billed.
 */
static int
effective_cost_of(fo_cur_mapper *m, const struct fo_csv_record *rec, struct fo_cur_row *row,
		  fo_err *err)
{
	const char *type = row->v[FO_COL_LINE_ITEM_TYPE];
	enum fo_cur_col from = FO_COL_BILLED_COST;

	if (row->v[FO_COL_REPORTED_EFFECTIVE_COST] || !type) {
		from = FO_COL_REPORTED_EFFECTIVE_COST;
	} else if (strcmp(type, "SavingsPlanCoveredUsage") == 0) {
		from = FO_COL_SP_EFFECTIVE_COST;
	} else if (strcmp(type, "DiscountedUsage") == 0) {
		from = FO_COL_RI_EFFECTIVE_COST;
	} else if (strcmp(type, "SavingsPlanNegation") == 0 ||
		   strcmp(type, "SavingsPlanUpfrontFee") == 0 ||
		   (strcmp(type, "Fee") == 0 && row->v[FO_COL_RESERVATION_ARN])) {
		set_value(row, FO_COL_EFFECTIVE_COST, "0", 1);
		return 0;
	} else if (strcmp(type, "SavingsPlanRecurringFee") == 0 || strcmp(type, "RIFee") == 0) {
		int sp = type[0] == 'S';

		if (dec_combine(row, sp ? FO_COL_SP_TOTAL_COMMITMENT : FO_COL_RI_UNUSED_AMORTIZED_UPFRONT,
				sp ? FO_COL_SP_USED_COMMITMENT : FO_COL_RI_UNUSED_RECURRING, sp,
				m->effective, sizeof(m->effective)) < 0)
			return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s:%llu: the effective cost of this"
					  " %s is out of range", m->file, rec->line, type);
		set_value(row, FO_COL_EFFECTIVE_COST, m->effective, strlen(m->effective));
		return 0;
	}
	if (row->v[from])
		set_value(row, FO_COL_EFFECTIVE_COST, row->v[from], row->n[from]);
	else
		set_value(row, FO_COL_EFFECTIVE_COST, "0", 1);
	return 0;
}

static int
is_null(const fo_cur_mapper *m, const char *v, size_t n)
{
	/* FOCUS samples write the literal NULL for null */
	return n == 0 || (m->format == FO_CUR_FOCUS && n == 4 && strcmp(v, "NULL") == 0);
}

int
fo_cur_map_row(fo_cur_mapper *m, const struct fo_csv_record *rec, struct fo_cur_row *row,
		fo_err *err)
{
	int ts_slot = 0;
	const char *type;

	if (rec->nfields != m->ncolumns &&
	    !(m->allow_short && rec->nfields < m->ncolumns))
		return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s:%llu: %zu fields, the header has %zu%s",
				  m->file, rec->line, rec->nfields, m->ncolumns,
				  rec->nfields < m->ncolumns ? " (--allow-short-rows accepts fewer)" : "");
	memset(row->v, 0, sizeof(row->v));
	memset(row->n, 0, sizeof(row->n));
	for (size_t s = 0; s < NSPECS; s++) {
		long i = m->src[s];
		enum fo_cur_col col = fo_cur_specs[s].col;
		const char *v, *why;
		size_t n;

		if (i < 0 || (size_t)i >= rec->nfields)
			goto absent;
		v = rec->field[i];
		n = rec->len[i];
		if (is_null(m, v, n))
			goto absent;
		switch (fo_cur_specs[s].kind) {
		case K_TEXT:
			/* the database takes UTF-8 only; say where, not its COPY row */
			if (!fo_utf8_valid(v, n))
				return bad(m, rec, i, v, "is not valid UTF-8", err);
			break;
		case K_DECIMAL:
			if (fo_dec_check(v, n, &why) < 0)
				return bad(m, rec, i, v, why, err);
			break;
		case K_CURRENCY:
			if (n != 3 || !isupper((unsigned char)v[0]) || !isupper((unsigned char)v[1]) ||
			    !isupper((unsigned char)v[2]))
				return bad(m, rec, i, v, "is not a currency code (ISO 4217)", err);
			break;
		case K_TS:
		case K_DATE: {
			struct fo_ts ts;

			if (fo_ts_parse(v, n, &ts, &why) < 0)
				return bad(m, rec, i, v, why, err);
			row->ts[col] = ts;
			if (fo_cur_specs[s].kind == K_TS)
				fo_ts_format(&ts, m->ts[ts_slot], sizeof(m->ts[0]));
			else
				fo_ts_date(&ts, m->ts[ts_slot], sizeof(m->ts[0]));
			v = m->ts[ts_slot++];
			n = strlen(v);
			break;
		}
		}
		row->v[col] = v;
		row->n[col] = n;
		continue;
absent:
		if (fo_cur_specs[s].required & (m->format == FO_CUR_FOCUS ? REQ_FOCUS : REQ_CUR)) {
			const char *name = i >= 0 ? m->header[i] : "?";

			return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s:%llu: column %s: a value is required",
					  m->file, rec->line, name);
		}
	}
	/* a K_DATE value is always "YYYY-MM-DD" */
	memcpy(row->period, row->v[FO_COL_BILLING_PERIOD], 10);
	row->period[10] = '\0';

	if (m->format != FO_CUR_FOCUS) {
		const char *cat;

		type = row->v[FO_COL_LINE_ITEM_TYPE];
		cat = charge_category_of(type);
		row->v[FO_COL_CHARGE_CATEGORY] = cat;
		row->n[FO_COL_CHARGE_CATEGORY] = strlen(cat);
		row->v[FO_COL_CHARGE_FREQUENCY] = charge_frequency_of(type);
		row->n[FO_COL_CHARGE_FREQUENCY] = strlen(row->v[FO_COL_CHARGE_FREQUENCY]);
		row->v[FO_COL_PRICING_CATEGORY] = pricing_category_of(type, row->v[FO_COL_PRICING_TERM],
								      row->v[FO_COL_USAGE_TYPE]);
		row->n[FO_COL_PRICING_CATEGORY] = row->v[FO_COL_PRICING_CATEGORY]
			? strlen(row->v[FO_COL_PRICING_CATEGORY]) : 0;
		row->v[FO_COL_PROVIDER_NAME] = "AWS";
		row->n[FO_COL_PROVIDER_NAME] = 3;
	} else {
		const char *cat = row->v[FO_COL_CHARGE_CATEGORY];

		if (strcmp(cat, "Usage") && strcmp(cat, "Purchase") && strcmp(cat, "Tax") &&
		    strcmp(cat, "Credit") && strcmp(cat, "Adjustment"))
			return bad(m, rec, source_of(m, FO_COL_CHARGE_CATEGORY), cat,
				   "is not a FOCUS charge category (Usage, Purchase, Tax, Credit,"
				   " Adjustment)", err);
	}

	if (effective_cost_of(m, rec, row, err) < 0)
		return -1;

	/* tags and cost categories, as JSON objects; the tags also as pairs */
	json_decref(m->tagobj);
	m->tagobj = NULL;
	row->tags = NULL;
	row->ntags = 0;
	if (m->tags_json >= 0 && (size_t)m->tags_json < rec->nfields &&
	    !is_null(m, rec->field[m->tags_json], rec->len[m->tags_json])) {
		json_t *obj;

		if (json_object_text(m, rec, m->tags_json, rec->field[m->tags_json],
				     rec->len[m->tags_json], &obj, err) < 0)
			return -1;
		m->tagobj = obj;
		if (json_tags(m, obj, row) < 0)
			return fo_err_set(err, FO_EXIT_FAILURE, "%s: out of memory", m->file);
		row->v[FO_COL_TAGS] = rec->field[m->tags_json];
		row->n[FO_COL_TAGS] = rec->len[m->tags_json];
	} else if (m->ntags) {
		/* one rule for every text: a tag that is not UTF-8 is bad input too */
		for (size_t k = 0; k < m->ntags; k++)
			if (m->tags[k].index < rec->nfields &&
			    !fo_utf8_valid(rec->field[m->tags[k].index], rec->len[m->tags[k].index]))
				return bad(m, rec, (long)m->tags[k].index, rec->field[m->tags[k].index],
					   "is not valid UTF-8", err);
		keyed_json(&m->tagbuf, m->tags, m->ntags, rec);
		row->v[FO_COL_TAGS] = m->tagbuf.data;
		row->n[FO_COL_TAGS] = m->tagbuf.len;
		if (keyed_tags(m, rec, row) < 0)
			return fo_err_set(err, FO_EXIT_FAILURE, "%s: out of memory", m->file);
	} else {
		row->v[FO_COL_TAGS] = "{}";
		row->n[FO_COL_TAGS] = 2;
	}
	if (m->cats_json >= 0 && (size_t)m->cats_json < rec->nfields &&
	    !is_null(m, rec->field[m->cats_json], rec->len[m->cats_json])) {
		if (json_object_text(m, rec, m->cats_json, rec->field[m->cats_json],
				     rec->len[m->cats_json], NULL, err) < 0)
			return -1;
		row->v[FO_COL_COST_CATEGORIES] = rec->field[m->cats_json];
		row->n[FO_COL_COST_CATEGORIES] = rec->len[m->cats_json];
	} else if (m->ncats) {
		for (size_t k = 0; k < m->ncats; k++)
			if (m->cats[k].index < rec->nfields &&
			    !fo_utf8_valid(rec->field[m->cats[k].index], rec->len[m->cats[k].index]))
				return bad(m, rec, (long)m->cats[k].index, rec->field[m->cats[k].index],
					   "is not valid UTF-8", err);
		keyed_json(&m->catbuf, m->cats, m->ncats, rec);
		row->v[FO_COL_COST_CATEGORIES] = m->catbuf.data;
		row->n[FO_COL_COST_CATEGORIES] = m->catbuf.len;
	} else {
		row->v[FO_COL_COST_CATEGORIES] = "{}";
		row->n[FO_COL_COST_CATEGORIES] = 2;
	}
	if (m->tagbuf.oom || m->catbuf.oom)
		return fo_err_set(err, FO_EXIT_FAILURE, "%s: out of memory", m->file);
	return 0;
}

