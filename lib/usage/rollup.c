/*
 * rollup.c: the instances of a usage run and the hourly roll-up of their
 * datapoints (see rollup.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finops/copy.h"
#include "finops/datetime.h"
#include "usage/rollup.h"
#include "core/core.h"

static uint64_t
hash_str(const char *s, size_t n)
{
	return fo_fnv1a(FO_FNV1A_BASIS, s, n);
}

static uint64_t
hash_of_instance(const void *ctx, size_t i)
{
	const struct instances *t = ctx;

	return hash_str(t->v[i].id, strlen(t->v[i].id));
}

void
instances_free(struct instances *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].id);
		free(t->v[i].account);
		free(t->v[i].region);
	}
	free(t->v);
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

static int
grow_slots(struct instances *t)
{
	size_t n = t->nslots ? t->nslots * 2 : 1024;
	uint32_t *s = fo_slots_build(n, t->n, hash_of_instance, t);

	if (!s)
		return -1;
	free(t->slots);
	t->slots = s;
	t->nslots = n;
	return 0;
}

/* The index of instance id (n bytes), added when new; -1 out of memory. */
long
instance_of(struct instances *t, const char *id, size_t n)
{
	uint64_t h = hash_str(id, n);
	size_t k;

	if ((t->n + 1) * 2 > t->nslots && grow_slots(t) < 0)
		return -1;
	for (k = h & (t->nslots - 1); t->slots[k]; k = (k + 1) & (t->nslots - 1)) {
		struct instance *in = &t->v[t->slots[k] - 1];

		if (strlen(in->id) == n && memcmp(in->id, id, n) == 0)
			return (long)t->slots[k] - 1;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		struct instance *v = realloc(t->v, cap * sizeof(*v));

		if (!v)
			return -1;
		t->v = v;
		t->cap = cap;
	}
	memset(&t->v[t->n], 0, sizeof(t->v[0]));
	t->v[t->n].id = strndup(id, n);
	if (!t->v[t->n].id)
		return -1;
	t->slots[k] = (uint32_t)t->n + 1;
	return (long)t->n++;
}

void
instance_set_text(char **dst, const char *v)
{
	if (v && *v && (!*dst || strcmp(*dst, v) != 0)) {
		free(*dst);
		*dst = strdup(v);
	}
}

static uint64_t
cell_hash(uint32_t inst, int32_t hour)
{
	uint64_t h = ((uint64_t)inst << 32) ^ (uint32_t)hour;

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

/*
 * Hours kept open behind the newest datapoint: streams arrive in time order,
 * and a record Firehose delivers twice comes again within minutes, so a
 * duplicate up to this far behind is still recognised in its open cell.
 */
#define OPEN_HOURS 3
#define ROLLUP_MAX_SLOTS (1u << 21)     /* ~290 MB of cells at most */

int
rollup_init(struct rollup *r)
{
	memset(r, 0, sizeof(*r));
	r->nslots = ROLLUP_MIN_SLOTS;
	r->cells = calloc(r->nslots, sizeof(*r->cells));
	r->newest = INT32_MIN;
	return r->cells ? 0 : -1;
}

static struct cell *
cell_of(struct rollup *r, uint32_t inst, int32_t hour)
{
	size_t k = cell_hash(inst, hour) & (r->nslots - 1);

	for (;; k = (k + 1) & (r->nslots - 1)) {
		struct cell *c = &r->cells[k];

		if (!c->inst) {
			c->inst = inst;
			c->hour = hour;
			r->used++;
			return c;
		}
		if (c->inst == inst && c->hour == hour)
			return c;
	}
}

static void
put_num(fo_copy *copy, double v, int present)
{
	char num[40];

	if (!present) {
		fo_copy_put_null(copy);
		return;
	}
	snprintf(num, sizeof(num), "%.17g", v);
	fo_copy_put_str(copy, num);
}

/* Sends one cell as a partial aggregate to the staging table. */
static int
emit_cell(struct rollup *r, const struct instances *t, const struct cell *c, fo_err *err)
{
	const struct instance *in = &t->v[c->inst - 1];
	char hour[40];
	struct fo_ts ts = {(int64_t)c->hour * 3600, 0};

	fo_ts_format(&ts, hour, sizeof(hour));
	fo_copy_put_str(r->copy, in->id);
	fo_copy_put_str(r->copy, hour);
	fo_copy_put_str(r->copy, in->account);
	fo_copy_put_str(r->copy, in->region);
	for (int m = 0; m < NMETRICS; m++) {
		put_num(r->copy, c->sum[m], c->count[m] > 0);
		put_num(r->copy, c->count[m], 1);
		put_num(r->copy, c->max[m], c->count[m] > 0);
	}
	r->flushed++;
	return fo_copy_end_row(r->copy, err);
}

/*
 * Flushes the cells older than keep_from (all with INT32_MAX) and rebuilds
 * the table with nslots slots for the others.
 */
int
rollup_flush(struct rollup *r, const struct instances *t, int32_t keep_from, size_t nslots,
	     fo_err *err)
{
	struct cell *old = r->cells;
	size_t n = r->nslots;

	for (size_t i = 0; i < n; i++)
		if (old[i].inst && old[i].hour < keep_from && emit_cell(r, t, &old[i], err) < 0)
			return -1;
	r->cells = calloc(nslots, sizeof(*r->cells));
	if (!r->cells) {
		r->cells = old;
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	}
	r->nslots = nslots;
	r->used = 0;
	for (size_t i = 0; i < n; i++)
		if (old[i].inst && old[i].hour >= keep_from)
			*cell_of(r, old[i].inst, old[i].hour) = old[i];
	free(old);
	return 0;
}

/* Adds one datapoint (sum and count of the samples, their maximum) of minute ts_ms. */
int
rollup_add(struct rollup *r, const struct instances *t, uint32_t inst, int64_t ts_ms,
	   enum metric m, double sum, double count, double max, fo_err *err)
{
	int64_t minute = ts_ms / 60000;
	int32_t hour = (int32_t)(minute / 60);
	struct cell *c;
	uint64_t bit = 1ull << (minute % 60);

	if (hour > r->newest) {
		/* streams come in time order: older hours are complete */
		if (r->newest != INT32_MIN &&
		    rollup_flush(r, t, hour - OPEN_HOURS, r->nslots, err) < 0)
			return -1;
		r->newest = hour;
	}
	if ((r->used + 1) * 2 > r->nslots) {
		/* more open cells than slots: a larger table, or (at the largest) flush */
		if (r->nslots < ROLLUP_MAX_SLOTS) {
			if (rollup_flush(r, t, INT32_MIN, r->nslots * 2, err) < 0)
				return -1;
		} else if (rollup_flush(r, t, INT32_MAX, r->nslots, err) < 0) {
			return -1;
		}
	}
	c = cell_of(r, inst + 1, hour);
	if (c->minutes[m] & bit) {
		r->duplicates++;
		return 0;
	}
	c->minutes[m] |= bit;
	if (c->count[m] == 0 || max > c->max[m])
		c->max[m] = max;
	c->sum[m] += sum;
	c->count[m] += count;
	return 0;
}

void
rollup_free(struct rollup *r)
{
	free(r->cells);
	r->cells = NULL;
}

