/*
 * daily.c: the daily aggregates of a load, summed while its rows stream by
 * and written with its partitions (see load.h and migration 0015).
 *
 * finops.billing_daily gets one row a (source, period, day, last day,
 * account, sub account, service, region, charge category, currency), and
 * finops.billing_daily_tags one a (source, period, day, account, currency,
 * tag key, tag value). Summing here, while each row is in hand, costs the
 * load a few hash lookups a row; summing in SQL afterwards meant scanning
 * the period again and expanding every row's tags (minutes at 10 million
 * rows). Sums are exact: 128-bit integers in units of 1e-18, and the full
 * decimal sums of decimal.h for an entry whose values do not fit.
 *
 * A tag key with more than TAG_CAP (day, value) entries in a (source,
 * period), a name or an owner tag on every resource, is not an aggregate:
 * it is left out of billing_daily_tags for that period, with a log line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finops/copy.h"
#include "finops/datetime.h"
#include "finops/log.h"
#include "finops/pg.h"
#include "billing/load.h"
#include "core/core.h"

#define TAG_CAP 20000
#define SCALE 18
#define DAY_US (86400LL * 1000000LL)

__extension__ typedef __int128 i128;

/* An exact sum: v in units of 1e-18, plus what did not fit in it. */
struct xsum {
	i128 v;
	fo_dec_sum *big;
};

struct daily_val {
	int32_t group, day, last_day, currency;
	uint32_t str[4];           /* sub account, service, region, category: arena offset + 1, 0 NULL */
	long long items;
	struct xsum billed, effective, list;
	int has_list;
};

struct tag_val {
	int32_t group, day, currency;
	uint32_t value;            /* arena offset + 1 */
	uint32_t keyslot;          /* its (group, key) entry in the key table */
	long long items;
	struct xsum billed, effective;
};

struct key_val {
	uint32_t entries;
	int dropped;
};

/* A hash table of byte-string keys (in one arena) to fixed-size values. */
struct table {
	fo_buf keys;               /* each key: its bytes; offsets in koff */
	size_t *koff, *klen;
	uint64_t *hash;
	char *vals;
	size_t vsize, n, cap;
	uint32_t *slots;           /* index + 1, 0 empty */
	size_t nslots;
};

#define KCACHE 64

struct daily {
	struct table days, tags, keys;
	fo_buf scratch;
	/* the key table's entries of recent (group, key) pairs: tags repeat row after row */
	long kcache[KCACHE];       /* index + 1, 0 empty */
	/* the currencies seen: keys hold their index (the account is the group's) */
	char cur[MAX_CURRENCIES][4];
	int32_t ncur, lastcur;
};

static const i128 POW10_18 = (i128)1000000000000000000LL;

/* ---- exact sums ------------------------------------------------------- */

/*
 * The decimal text s (checked by fo_dec_check) in units of 1e-18 into *out:
 * 0, or 1 when it has more than 18 digits after the point or too many
 * before it.
 */
static int
to_units(const char *s, size_t n, i128 *out)
{
	char digits[80];
	size_t nd = 0, i = 0;
	int neg = 0, frac = 0, point = 0;
	long exp = 0;
	long k;
	i128 v = 0;

	if (i < n && (s[i] == '-' || s[i] == '+'))
		neg = s[i++] == '-';
	for (; i < n; i++) {
		char c = s[i];

		if (c >= '0' && c <= '9') {
			if (nd == 0 && c == '0') {
				frac += point;      /* a leading zero still counts as a place */
				continue;
			}
			if (nd == sizeof(digits))
				return 1;
			digits[nd++] = c;
			frac += point;
		} else if (c == '.') {
			point = 1;
		} else if (c == 'e' || c == 'E') {
			char *end;

			exp = strtol(s + i + 1, &end, 10);
			break;
		} else {
			return 1;
		}
	}
	while (nd > 0 && digits[nd - 1] == '0') {
		nd--;
		frac--;
	}
	k = SCALE + exp - frac;      /* the units are digits x 10^k */
	if (nd == 0) {
		*out = 0;
		return 0;
	}
	if (k < 0 || (long)nd + k > 37)
		return 1;
	for (size_t d = 0; d < nd; d++)
		v = v * 10 + (digits[d] - '0');
	for (long e = 0; e < k; e++)
		v *= 10;
	*out = neg ? -v : v;
	return 0;
}

/* Writes units (1e-18) as plain decimal text without trailing zeros. */
static void
units_text(i128 v, char *out, size_t len)
{
	char buf[64], fracs[SCALE + 1];
	int neg = v < 0, p = sizeof(buf) - 1, f;
	i128 ip, fp;

	if (neg)
		v = -v;
	ip = v / POW10_18;
	fp = v % POW10_18;
	buf[p] = '\0';
	do {
		buf[--p] = (char)('0' + (int)(ip % 10));
		ip /= 10;
	} while (ip > 0);
	for (f = SCALE - 1; f >= 0; f--) {
		fracs[f] = (char)('0' + (int)(fp % 10));
		fp /= 10;
	}
	fracs[SCALE] = '\0';
	for (f = SCALE; f > 0 && fracs[f - 1] == '0'; f--)
		fracs[f - 1] = '\0';
	snprintf(out, len, "%s%s%s%s", neg ? "-" : "", buf + p, f > 0 ? "." : "", fracs);
}

/* A value parsed once for the several sums it goes to. */
struct xval {
	const char *s;
	size_t n;
	i128 u;
	int fits;
};

static void
xval_of(struct xval *x, const char *s, size_t n)
{
	x->s = s;
	x->n = n;
	x->fits = to_units(s, n, &x->u) == 0;
}

static int
xsum_addv(struct xsum *x, const struct xval *v)
{
	if (!x->big && v->fits && !__builtin_add_overflow(x->v, v->u, &x->v))
		return 0;
	if (!x->big) {
		x->big = malloc(sizeof(*x->big));
		if (!x->big)
			return -1;
		fo_dec_zero(x->big);
	}
	return fo_dec_add(x->big, v->s, v->n);
}

/* The sum as decimal text (at least 128 bytes). */
static void
xsum_text(const struct xsum *x, char *out, size_t len)
{
	fo_dec_sum all;
	char part[64];

	units_text(x->v, part, sizeof(part));
	if (!x->big) {
		snprintf(out, len, "%s", part);
		return;
	}
	all = *x->big;
	fo_dec_add(&all, part, strlen(part));
	fo_dec_format(&all, out, len);
}

/* ---- the tables -------------------------------------------------------- */

static uint64_t
hash_at(const void *ctx, size_t i)
{
	return ((const struct table *)ctx)->hash[i];
}

/* The index of key in t, added (its value zeroed) when new: *added set. -1: out of memory. */
static long
table_get(struct table *t, const char *key, size_t klen, int *added)
{
	uint64_t h = fo_fnv1a(FO_FNV1A_BASIS, key, klen);
	size_t k;

	*added = 0;
	if ((t->n + 1) * 2 > t->nslots) {
		size_t ns = t->nslots ? t->nslots * 2 : 1024;
		uint32_t *slots = fo_slots_build(ns, t->n, hash_at, t);

		if (!slots)
			return -1;
		free(t->slots);
		t->slots = slots;
		t->nslots = ns;
	}
	for (k = h & (t->nslots - 1); t->slots[k]; k = (k + 1) & (t->nslots - 1)) {
		size_t i = t->slots[k] - 1;

		if (t->hash[i] == h && t->klen[i] == klen &&
		    memcmp(t->keys.data + t->koff[i], key, klen) == 0)
			return (long)i;
	}
	if (t->n == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 1024;
		size_t *ko = realloc(t->koff, nc * sizeof(*ko));

		if (!ko)
			return -1;
		t->koff = ko;
		if (!(ko = realloc(t->klen, nc * sizeof(*ko))))
			return -1;
		t->klen = ko;
		uint64_t *hs = realloc(t->hash, nc * sizeof(*hs));

		if (!hs)
			return -1;
		t->hash = hs;
		char *vs = realloc(t->vals, nc * t->vsize);

		if (!vs)
			return -1;
		t->vals = vs;
		t->cap = nc;
	}
	t->koff[t->n] = t->keys.len;
	t->klen[t->n] = klen;
	t->hash[t->n] = h;
	if (fo_buf_append(&t->keys, key, klen) < 0)
		return -1;
	memset(t->vals + t->n * t->vsize, 0, t->vsize);
	t->slots[k] = (uint32_t)(t->n + 1);
	*added = 1;
	return (long)t->n++;
}

static void *
table_val(const struct table *t, size_t i)
{
	return t->vals + i * t->vsize;
}

static void
table_free(struct table *t, void (*free_val)(void *))
{
	for (size_t i = 0; free_val && i < t->n; i++)
		free_val(table_val(t, i));
	fo_buf_free(&t->keys);
	free(t->koff);
	free(t->klen);
	free(t->hash);
	free(t->vals);
	free(t->slots);
}

static void
free_daily_val(void *p)
{
	struct daily_val *v = p;

	free(v->billed.big);
	free(v->effective.big);
	free(v->list.big);
}

static void
free_tag_val(void *p)
{
	struct tag_val *v = p;

	free(v->billed.big);
	free(v->effective.big);
}

/* ---- keys -------------------------------------------------------------- */

/*
 * Appends a NUL-ended string to the key (a NULL as one 0x01 byte): the
 * string's offset in the key + 1, or 0 for a NULL.
 */
static uint32_t
key_str(fo_buf *b, const char *s, size_t n)
{
	size_t at = b->len;

	if (!s) {
		fo_buf_putc(b, '\1');
		return 0;
	}
	fo_buf_putc(b, '\2');
	fo_buf_append(b, s, n);
	fo_buf_putc(b, '\0');
	return (uint32_t)(at + 2);   /* past the marker, + 1 */
}

static int64_t
micros_of(const struct fo_ts *t)
{
	return t->epoch_s * 1000000LL + t->micros;
}

static int32_t
day_of_us(int64_t us)
{
	return (int32_t)(us >= 0 ? us / DAY_US : -((-us + DAY_US - 1) / DAY_US));
}

struct daily *
billing_daily_new(void)
{
	struct daily *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->days.vsize = sizeof(struct daily_val);
	d->tags.vsize = sizeof(struct tag_val);
	d->keys.vsize = sizeof(struct key_val);
	return d;
}

void
billing_daily_free(struct daily *d)
{
	if (!d)
		return;
	table_free(&d->days, free_daily_val);
	table_free(&d->tags, free_tag_val);
	table_free(&d->keys, NULL);
	fo_buf_free(&d->scratch);
	free(d);
}

/* The key table's entry of (group, tag key), through a small cache of recent ones. */
static long
key_index(struct daily *d, int32_t group, const struct fo_cur_tag *tag)
{
	uint64_t h = fo_fnv1a(FO_FNV1A_BASIS, tag->key, tag->keylen) ^ (uint64_t)group;
	size_t slot = (size_t)(h ^ (h >> 29)) & (KCACHE - 1);
	long ki = d->kcache[slot] - 1;
	fo_buf *b = &d->scratch;
	int added;

	if (ki >= 0 && d->keys.klen[ki] == sizeof(group) + tag->keylen &&
	    memcmp(d->keys.keys.data + d->keys.koff[ki], &group, sizeof(group)) == 0 &&
	    memcmp(d->keys.keys.data + d->keys.koff[ki] + sizeof(group), tag->key,
		   tag->keylen) == 0)
		return ki;
	fo_buf_reset(b);
	fo_buf_append(b, &group, sizeof(group));
	fo_buf_append(b, tag->key, tag->keylen);
	if (b->oom || (ki = table_get(&d->keys, b->data, b->len, &added)) < 0)
		return -1;
	d->kcache[slot] = ki + 1;
	return ki;
}

static const int day_cols[4] = {FO_COL_SUB_ACCOUNT_ID, FO_COL_SERVICE_NAME, FO_COL_REGION_ID,
				FO_COL_CHARGE_CATEGORY};

/* The index of the row's currency among those seen; -1 past MAX_CURRENCIES. */
static int32_t
currency_index(struct daily *d, const char *code)
{
	if (d->ncur && strcmp(d->cur[d->lastcur], code) == 0)
		return d->lastcur;
	for (int32_t i = 0; i < d->ncur; i++)
		if (strcmp(d->cur[i], code) == 0)
			return d->lastcur = i;
	if (d->ncur == MAX_CURRENCIES)
		return -1;
	snprintf(d->cur[d->ncur], sizeof(d->cur[0]), "%s", code);
	return d->lastcur = d->ncur++;
}

int
billing_daily_add(struct daily *d, int32_t group, const struct fo_cur_row *row, fo_err *err)
{
	int64_t start = micros_of(&row->ts[FO_COL_CHARGE_PERIOD_START]);
	int32_t day = day_of_us(start), last = day;
	fo_buf *b = &d->scratch;
	uint32_t str[4];
	int32_t cur;
	struct daily_val *v;
	struct xval billed, effective;
	long i;
	int added;

	if (row->v[FO_COL_CHARGE_PERIOD_END]) {
		int64_t end = micros_of(&row->ts[FO_COL_CHARGE_PERIOD_END]);

		if (end > start + DAY_US)
			last = day_of_us(end - 1);
	}
	cur = currency_index(d, row->v[FO_COL_BILLING_CURRENCY]);
	if (cur < 0)
		return fo_err_set(err, FO_EXIT_BAD_INPUT, "more than %d currencies", MAX_CURRENCIES);
	fo_buf_reset(b);
	fo_buf_append(b, &group, sizeof(group));
	fo_buf_append(b, &day, sizeof(day));
	fo_buf_append(b, &last, sizeof(last));
	fo_buf_putc(b, (char)cur);
	for (int c = 0; c < 4; c++)
		str[c] = key_str(b, row->v[day_cols[c]], row->n[day_cols[c]]);
	if (b->oom || (i = table_get(&d->days, b->data, b->len, &added)) < 0)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	v = table_val(&d->days, (size_t)i);
	if (added) {
		v->group = group;
		v->day = day;
		v->last_day = last;
		v->currency = cur;
		for (int c = 0; c < 4; c++)    /* offsets into the table's arena */
			v->str[c] = str[c] ? (uint32_t)(d->days.koff[i] + str[c] - 1) + 1 : 0;
	}
	xval_of(&billed, row->v[FO_COL_BILLED_COST], row->n[FO_COL_BILLED_COST]);
	xval_of(&effective, row->v[FO_COL_EFFECTIVE_COST], row->n[FO_COL_EFFECTIVE_COST]);
	v->items++;
	if (xsum_addv(&v->billed, &billed) < 0 || xsum_addv(&v->effective, &effective) < 0)
		return fo_err_set(err, FO_EXIT_FAILURE, "a daily total is out of range");
	if (row->v[FO_COL_LIST_COST]) {
		struct xval list;

		xval_of(&list, row->v[FO_COL_LIST_COST], row->n[FO_COL_LIST_COST]);
		v->has_list = 1;
		if (xsum_addv(&v->list, &list) < 0)
			return fo_err_set(err, FO_EXIT_FAILURE, "a daily total is out of range");
	}

	for (size_t t = 0; t < row->ntags; t++) {
		const struct fo_cur_tag *tag = &row->tags[t];
		struct key_val *kv;
		struct tag_val *tv;
		uint32_t vs;
		long ki, ti;

		/* the (group, key) first: a key past its cap is skipped at once */
		ki = key_index(d, group, tag);
		if (ki < 0)
			return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		kv = table_val(&d->keys, (size_t)ki);
		if (kv->dropped)
			continue;
		fo_buf_reset(b);
		fo_buf_append(b, &group, sizeof(group));
		fo_buf_append(b, &day, sizeof(day));
		fo_buf_append(b, &ki, sizeof(ki));
		fo_buf_putc(b, (char)cur);
		vs = key_str(b, tag->value, tag->valuelen);
		if (b->oom || (ti = table_get(&d->tags, b->data, b->len, &added)) < 0)
			return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		tv = table_val(&d->tags, (size_t)ti);
		if (added) {
			tv->group = group;
			tv->day = day;
			tv->currency = cur;
			tv->keyslot = (uint32_t)ki;
			tv->value = (uint32_t)(d->tags.koff[ti] + vs - 1) + 1;
			if (++kv->entries > TAG_CAP)
				kv->dropped = 1;
		}
		tv->items++;
		if (xsum_addv(&tv->billed, &billed) < 0 || xsum_addv(&tv->effective, &effective) < 0)
			return fo_err_set(err, FO_EXIT_FAILURE, "a daily total is out of range");
	}
	return 0;
}

/* ---- writing ------------------------------------------------------------ */

static const char *
str_at(const struct table *t, uint32_t off)
{
	return off ? t->keys.data + off - 1 : NULL;
}

static int
in_period(const struct load *l, int32_t group, const char *period)
{
	return strcmp(l->groups[group].period, period) == 0;
}

static void
put_day(fo_copy *c, int32_t day)
{
	char text[16];

	fo_day_text(day, text);
	fo_copy_put_str(c, text);
}

static void
put_sum(fo_copy *c, const struct xsum *x)
{
	char text[160];

	xsum_text(x, text, sizeof(text));
	fo_copy_put_str(c, text);
}

static int
copy_days(struct load *l, const char *period, fo_err *err)
{
	static const char *const cols[] = {
		"billing_period", "source_id", "usage_date", "last_day", "billing_account_id",
		"sub_account_id", "service_name", "region_id", "charge_category", "billing_currency",
		"line_items", "billed_cost", "effective_cost", "list_cost"};
	const struct table *t = &l->daily->days;
	fo_copy *c;
	struct fo_copy_result r;

	if (fo_copy_begin(l->ctx->conn, "finops.billing_daily", cols, 14, 0, &c, err) < 0)
		return -1;
	for (size_t i = 0; i < t->n; i++) {
		const struct daily_val *v = table_val(t, i);

		if (!in_period(l, v->group, period))
			continue;
		fo_copy_put_str(c, period);
		fo_copy_put_int(c, l->groups[v->group].source_id);
		put_day(c, v->day);
		put_day(c, v->last_day);
		fo_copy_put_str(c, l->groups[v->group].account);
		for (int k = 0; k < 3; k++)
			fo_copy_put_str(c, str_at(t, v->str[k]));
		fo_copy_put_str(c, str_at(t, v->str[3]));
		fo_copy_put_str(c, l->daily->cur[v->currency]);
		fo_copy_put_int(c, v->items);
		put_sum(c, &v->billed);
		put_sum(c, &v->effective);
		if (v->has_list)
			put_sum(c, &v->list);
		else
			fo_copy_put_null(c);
		if (fo_copy_end_row(c, err) < 0) {
			fo_copy_abort(c, "daily totals failed");
			return -1;
		}
	}
	return fo_copy_finish(c, &r, err);
}

static int
copy_tags(struct load *l, const char *period, fo_err *err)
{
	static const char *const cols[] = {
		"billing_period", "source_id", "usage_date", "billing_account_id", "billing_currency",
		"tag_key", "tag_value", "line_items", "billed_cost", "effective_cost"};
	const struct daily *d = l->daily;
	const struct table *t = &d->tags;
	fo_copy *c;
	struct fo_copy_result r;

	for (size_t i = 0; i < d->keys.n; i++) {
		const struct key_val *kv = table_val(&d->keys, i);
		int32_t group;

		memcpy(&group, d->keys.keys.data + d->keys.koff[i], sizeof(group));
		if (kv->dropped && in_period(l, group, period))
			fo_logf(FO_LOG_INFO,
				FO_FIELDS(FO_STR("billing_period", period),
					  FO_INT("source_id", l->groups[group].source_id)),
				"%s: tag %.*s has more than %d (day, value) pairs in period %s of %s:"
				" left out of finops.billing_daily_tags (a name or id on every resource"
				" is not an allocation key)", l->u->label,
				(int)(d->keys.klen[i] - sizeof(group)),
				d->keys.keys.data + d->keys.koff[i] + sizeof(group), TAG_CAP, period,
				l->groups[group].account);
	}
	if (fo_copy_begin(l->ctx->conn, "finops.billing_daily_tags", cols, 10, 0, &c, err) < 0)
		return -1;
	for (size_t i = 0; i < t->n; i++) {
		const struct tag_val *v = table_val(t, i);
		const struct key_val *kv = table_val(&d->keys, v->keyslot);

		if (kv->dropped || !in_period(l, v->group, period))
			continue;
		fo_copy_put_str(c, period);
		fo_copy_put_int(c, l->groups[v->group].source_id);
		put_day(c, v->day);
		fo_copy_put_str(c, l->groups[v->group].account);
		fo_copy_put_str(c, d->cur[v->currency]);
		fo_copy_put(c, d->keys.keys.data + d->keys.koff[v->keyslot] + sizeof(int32_t),
			    d->keys.klen[v->keyslot] - sizeof(int32_t));
		fo_copy_put_str(c, str_at(t, v->value));
		fo_copy_put_int(c, v->items);
		put_sum(c, &v->billed);
		put_sum(c, &v->effective);
		if (fo_copy_end_row(c, err) < 0) {
			fo_copy_abort(c, "daily tag totals failed");
			return -1;
		}
	}
	return fo_copy_finish(c, &r, err);
}

int
billing_daily_write(struct load *l, const char *period, const char *source_ids, fo_err *err)
{
	const char *params[2] = {period, source_ids};
	int rc;

	rc = fo_pg_query(l->ctx->conn, "DELETE FROM finops.billing_daily"
			 " WHERE billing_period = $1 AND source_id = ANY($2::int[])", 2, params,
			 NULL, err);
	if (rc == 0)
		rc = fo_pg_query(l->ctx->conn, "DELETE FROM finops.billing_daily_tags"
				 " WHERE billing_period = $1 AND source_id = ANY($2::int[])", 2,
				 params, NULL, err);
	if (rc == 0 && l->daily)
		rc = copy_days(l, period, err);
	if (rc == 0 && l->daily)
		rc = copy_tags(l, period, err);
	return rc;
}
