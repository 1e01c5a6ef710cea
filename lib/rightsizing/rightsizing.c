/*
 * rightsizing.c: rightsizing recommendations (see rightsizing.h and
 * docs/rightsizing.md).
 *
 * The catalog (types and on-demand prices) and the billed instances are read
 * into memory; the hourly usage of the window streams in by COPY, ordered by
 * instance, so memory holds one instance's hours at a time. Prices stay
 * decimal text and savings are computed exactly in units of 1e-10 dollars.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "finops/buf.h"
#include "finops/copy.h"
#include "finops/datetime.h"
#include "finops/log.h"
#include "finops/pg.h"
#include "finops/rightsizing.h"
#include "finops/stop.h"
#include "rightsizing/prices.h"
#include "core/core.h"

#define HOURS_PER_MONTH 730

void
fo_rightsizing_defaults(struct fo_rightsizing_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->lookback_days = 14;
	o->cpu_percentile = 0.995;
	o->cpu_headroom = 0.20;
	o->mem_headroom = 0.20;
	o->under_threshold = 90;
	o->min_hours = 30;
	o->jobs = 2;
	o->memory_mb = 40;
}

/* Dollars and cents of u units, rounded half away from zero: "140.16", "-3.50". */
static void
money(int64_t u, char *out, size_t len)
{
	int64_t cents = (llabs(u) + 50000000) / 100000000;

	snprintf(out, len, "%s%lld.%02lld", u < 0 && cents ? "-" : "", (long long)(cents / 100),
		 (long long)(cents % 100));
}

/* ---- one instance's statistics ----------------------------------------------- */

/* Binary COPY values: PostgreSQL sends them big-endian. */
static uint64_t
be64(const unsigned char *u)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | u[i];
	return v;
}

static uint32_t
be32(const unsigned char *u)
{
	return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

static double
float8_of(const unsigned char *u)
{
	uint64_t bits = be64(u);
	double d;

	memcpy(&d, &bits, sizeof(d));
	return d;
}

/* One field of a binary COPY row: its bytes and length, -1 for NULL. */
struct field {
	const unsigned char *p;
	int32_t len;
};

/* The columns read: instance_id, hour, cpu_avg, cpu_max, mem_max, net_in, net_out. */
#define USAGE_FIELDS 7

/*
 * What decide() needs of an instance's hours, added an hour at a time in
 * whatever order the hours come (several connections read parts of the
 * window at once, each in the order the table holds its rows): the hours
 * with CPU, the memory peak, the CPU maxima the percentile needs, and each
 * day's CPU average and network for the idle rule.
 *
 * The percentile of n values needs the two sorted neighbours at
 * p * (n - 1); for p99.5 those are among the largest few. As many of the
 * largest maxima (for a low percentile, the smallest) are kept as any count
 * of hours the window can hold needs ("keep": 3 for p99.5 over 14 days),
 * so the answer is percentile_cont's to the last bit. A day's sums are in
 * fixed point, which makes them independent of the order of the hours:
 * 32 bits, 2^24 to a percent of CPU and 2^9 to a byte, saturating above
 * what an idle day can have (24 hours of 10%, 5 MB); its average is
 * compared with 10% to 6e-8 of a percent.
 */
struct ustat {
	const char *id;
	struct ustat *next;          /* the instance first seen after this one */
	uint32_t idlen;
	uint32_t hours;              /* hours with cpu_avg and cpu_max */
	uint32_t nkept;              /* values in kept[] */
	int has_mem;
	double mem_peak;             /* percent */
	/* followed by: double kept[keep]; uint32_t cpu[ndays], net[ndays]; uint8_t n[ndays] */
};

struct ulayout {
	size_t keep;                 /* CPU maxima kept */
	int high;                    /* the largest (1) or the smallest (0) */
	int ndays;
	uint32_t max_hours;          /* the window's hours: no instance has more */
	size_t off_cpu, off_net, off_n, size;
};

#define CPU_FIXED 16777216.0         /* 2^24: a day's CPU sum, units of 2^-24 percent */
#define NET_FIXED 512.0              /* 2^9: a day's network, units of 2^-9 byte */

static void
ulayout_init(struct ulayout *l, int ndays, double p)
{
	size_t high = 1, low = 1;

	memset(l, 0, sizeof(*l));
	l->ndays = ndays;
	l->max_hours = (uint32_t)ndays * 24;
	for (uint32_t n = 1; n <= l->max_hours; n++) {
		size_t first = (size_t)floor(p * (double)(n - 1));
		size_t from_low = first + 2 < n ? first + 2 : n;

		if (n - first > high)
			high = n - first;
		if (from_low > low)
			low = from_low;
	}
	l->high = high <= low;
	l->keep = l->high ? high : low;
	l->off_cpu = sizeof(struct ustat) + l->keep * sizeof(double);
	l->off_net = l->off_cpu + (size_t)ndays * sizeof(uint32_t);
	l->off_n = l->off_net + (size_t)ndays * sizeof(uint32_t);
	l->size = (l->off_n + (size_t)ndays + 7) & ~(size_t)7;
}

static double *
kept_of(const struct ustat *s)
{
	return (double *)(void *)(s + 1);
}

static uint32_t *
day_sums(const struct ustat *s, size_t off)
{
	return (uint32_t *)(void *)((unsigned char *)s + off);
}

static uint8_t *
day_hours(const struct ulayout *l, const struct ustat *s)
{
	return (uint8_t *)s + l->off_n;
}

/* a < b in PostgreSQL's order of float8: NaN above every number. */
static int
f8_lt(double a, double b)
{
	return isnan(b) ? !isnan(a) : a < b;
}

/* Keeps x if it is among the keep largest (or smallest) so far, kept sorted. */
static void
keep_value(const struct ulayout *l, struct ustat *s, double x)
{
	double *v = kept_of(s);
	size_t n = s->nkept, i;

	if (n == l->keep && l->high) {
		/* drop the smallest kept, if x is above it, moving down the ones below x */
		if (!f8_lt(v[0], x))
			return;
		for (i = 0; i + 1 < n && f8_lt(v[i + 1], x); i++)
			v[i] = v[i + 1];
		v[i] = x;
		return;
	}
	if (n == l->keep) {
		if (!f8_lt(x, v[n - 1]))
			return;
		n--;                         /* the largest kept makes room */
	}
	for (i = n; i > 0 && f8_lt(x, v[i - 1]); i--)
		v[i] = v[i - 1];
	v[i] = x;
	s->nkept = (uint32_t)n + 1;
}

/*
 * sum + v in units of 1/unit, saturating: NaN too is never an idle day's.
 * Below 0 counts as 0 (usage_ingest refuses negative values).
 */
static uint32_t
fixed_add(uint32_t sum, double v, double unit)
{
	double x = v * unit;
	uint64_t t;

	if (!(x < 4294967295.0))
		return UINT32_MAX;
	t = (uint64_t)sum + (x > 0 ? (uint64_t)(x + 0.5) : 0);
	return t > UINT32_MAX ? UINT32_MAX : (uint32_t)t;
}

/*
 * Adds one hour (a row of USAGE_FIELDS fields). -1 when the instance would
 * have more hours than the window holds, which the table's key forbids.
 */
static int
ustat_add(const struct ulayout *l, int64_t start_s, struct ustat *s, const struct field *f)
{
	/* timestamptz: microseconds since 2000-01-01 UTC; hours are whole */
	int64_t hour = (int64_t)be64(f[1].p) / 1000000 + 946684800;
	int64_t d = (hour - start_s) / 86400;
	uint32_t *cpu, *netsum;
	double net = 0;

	if (f[4].len == 8) {
		double m = float8_of(f[4].p);

		s->has_mem = 1;
		if (m > s->mem_peak)
			s->mem_peak = m;
	}
	if (f[2].len != 8 || f[3].len != 8)
		return 0;
	if (s->hours == l->max_hours)
		return -1;
	s->hours++;
	keep_value(l, s, float8_of(f[3].p));
	if (hour < start_s || d >= l->ndays)
		return 0;
	if (f[5].len == 8)
		net += float8_of(f[5].p);
	if (f[6].len == 8)
		net += float8_of(f[6].p);
	cpu = day_sums(s, l->off_cpu);
	netsum = day_sums(s, l->off_net);
	cpu[d] = fixed_add(cpu[d], float8_of(f[2].p), CPU_FIXED);
	netsum[d] = fixed_add(netsum[d], net, NET_FIXED);
	day_hours(l, s)[d]++;
	return 0;
}

/* percentile_cont(p) of the instance's CPU maxima, as PostgreSQL computes it. */
static double
ustat_percentile(const struct ulayout *l, const struct ustat *s, double p)
{
	const double *v = kept_of(s);
	size_t n = s->hours, lo, base;
	double pos, frac;

	if (n == 0)
		return NAN;
	pos = p * (double)(n - 1);
	lo = (size_t)floor(pos);
	frac = pos - (double)lo;
	base = l->high ? n - s->nkept : 0;   /* the sorted position of kept[0] */
	if (lo + 1 >= n)
		return v[n - 1 - base];
	return v[lo - base] + (v[lo + 1 - base] - v[lo - base]) * frac;
}

/*
 * Trusted Advisor's rule over the lookback window: the days with average
 * CPU <= 10% and network <= 5 MB (in + out). Trusted Advisor looks at 14
 * days and needs 4 of them; a window of another length needs the same share
 * (idle_needed).
 */
static int
ustat_idle_days(const struct ulayout *l, const struct ustat *s)
{
	const uint32_t *cpu = day_sums(s, l->off_cpu), *net = day_sums(s, l->off_net);
	const uint8_t *n = day_hours(l, s);
	int days = 0;

	for (int d = 0; d < l->ndays; d++)
		if (n[d] && cpu[d] <= (uint64_t)(10 * CPU_FIXED) * n[d] &&
		    net[d] <= (uint64_t)(5e6 * NET_FIXED))
			days++;
	return days;
}

/* ---- the statistics of every instance ----------------------------------------- */

/*
 * The instances of the window by id: open addressing over pointers, the
 * statistics and ids in blocks. Its memory is bounded (--memory, "budget");
 * a window with more instances is read again in instance order.
 */
#define BLOCK_SIZE ((size_t)256 << 10)

struct block {
	struct block *next;
	size_t used;
	unsigned char data[];
};

struct stats {
	struct ulayout lay;
	struct ustat **slot;
	size_t nslots, count, bytes, budget;
	struct block *blocks;
	struct ustat *newest;        /* the instance seen last for the first time */
};

static void
stats_free(struct stats *t)
{
	while (t->blocks) {
		struct block *b = t->blocks;

		t->blocks = b->next;
		free(b);
	}
	free(t->slot);
	t->slot = NULL;
	t->nslots = t->count = t->bytes = 0;
	t->newest = NULL;
}

static void *
stats_alloc(struct stats *t, size_t n)
{
	struct block *b = t->blocks;
	void *p;

	n = (n + 7) & ~(size_t)7;
	if (!b || BLOCK_SIZE - b->used < n) {
		size_t size = n > BLOCK_SIZE ? n : BLOCK_SIZE;

		if (t->bytes + size > t->budget || !(b = malloc(sizeof(*b) + size)))
			return NULL;
		b->next = t->blocks;
		b->used = 0;
		t->blocks = b;
		t->bytes += size;
	}
	p = b->data + b->used;
	b->used += n;
	return p;
}

/*
 * The slot of an id: FNV-1a's low bits cluster for ids that differ in their
 * last characters (i-0123...), so the hash is mixed and its high bits used.
 */
static size_t
slot_of(const char *id, size_t len, size_t nslots)
{
	uint64_t h = fo_fnv1a(FO_FNV1A_BASIS, id, len);

	h ^= h >> 29;
	h *= 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> 32) & (nslots - 1);
}

static int
stats_grow(struct stats *t)
{
	size_t n = t->nslots ? t->nslots * 2 : 4096;
	struct ustat **slot;

	if (t->bytes + n * sizeof(*slot) > t->budget || !(slot = calloc(n, sizeof(*slot))))
		return -1;
	for (size_t i = 0; i < t->nslots; i++) {
		struct ustat *s = t->slot[i];
		size_t j;

		if (!s)
			continue;
		j = slot_of(s->id, s->idlen, n);
		while (slot[j])
			j = (j + 1) & (n - 1);
		slot[j] = s;
	}
	t->bytes += (n - t->nslots) * sizeof(*slot);
	free(t->slot);
	t->slot = slot;
	t->nslots = n;
	return 0;
}

static int
is_id(const struct ustat *s, const unsigned char *id, size_t len)
{
	return s && s->idlen == len && memcmp(s->id, id, len) == 0;
}

/*
 * The statistics of instance id (added when new); NULL past the memory
 * budget. *last is the instance of the reader's previous row: a table
 * written an instance at a time holds the next row of the same one, and
 * one written an hour at a time holds the fleet in the same order each
 * hour, so the row after instance A's is, most often, that of the instance
 * first seen after A. Both are tried before the hash, which then, reading
 * the entries in the order they were made, rarely misses a cache.
 */
static struct ustat *
stats_get(struct stats *t, const unsigned char *id, size_t len, struct ustat **last)
{
	struct ustat *s = *last;
	size_t i;
	char *copy;

	if (is_id(s, id, len))
		return s;
	if (s && is_id(s->next, id, len))
		return *last = s->next;
	if ((t->count + 1) * 2 > t->nslots && stats_grow(t) < 0)
		return NULL;
	i = slot_of((const char *)id, len, t->nslots);
	for (; (s = t->slot[i]) != NULL; i = (i + 1) & (t->nslots - 1))
		if (is_id(s, id, len))
			return *last = s;
	s = stats_alloc(t, t->lay.size);
	copy = s ? stats_alloc(t, len + 1) : NULL;
	if (!copy)
		return NULL;
	memset(s, 0, t->lay.size);
	memcpy(copy, id, len);
	copy[len] = '\0';
	s->id = copy;
	s->idlen = (uint32_t)len;
	t->slot[i] = s;
	t->count++;
	if (t->newest)
		t->newest->next = s;
	t->newest = s;
	return *last = s;
}

static int
cmp_ustat(const void *a, const void *b)
{
	return strcmp((*(const struct ustat *const *)a)->id, (*(const struct ustat *const *)b)->id);
}

/* ---- the run's state ---------------------------------------------------------- */

struct calc {
	struct fo_run *ctx;
	const struct fo_rightsizing_opts *o;
	struct catalog cat;
	int64_t start_s, end_s;
	fo_copy *out;
	long long examined, by_finding[5];
	long long other_shards;      /* --shard: instances of other shards left out */
	int64_t saving_list_u;       /* total, units of 1e-10 */
	char stat_name[16];
	struct stats stats;          /* every instance's, read in any order */
	struct ustat *cur;           /* read in instance order: the current instance's */
	char *cur_id;
	size_t cur_idcap;
	int overflow;                /* the statistics outgrew --memory */
};

enum finding { F_IDLE, F_OVER, F_UNDER, F_OPTIMIZED, F_INSUFFICIENT };
static const char *const finding_names[] = {
	"idle", "over_provisioned", "under_provisioned", "optimized", "insufficient_data",
};

/* Idle days needed: 4 of 14, the same share of another window (at least 1). */
static int
idle_needed(int lookback_days)
{
	int need = (4 * lookback_days + 13) / 14;

	return need < 1 ? 1 : need;
}

/*
 * The hours a month the instance is expected to run: 730 (AWS Compute
 * Optimizer's month) times the share of the window's billed hours it ran,
 * in hundredths of an hour. An always-on instance gets 730 h; one billed 5
 * of 14 days, 5/14 of that.
 */
static int64_t
monthly_centihours(const struct billed *b)
{
	double share;

	if (!b || !(b->covered > 0) || !(b->hours > 0))
		return 0;
	share = b->hours / b->covered;
	if (share > 1)
		share = 1;
	return llround(share * HOURS_PER_MONTH * 100);
}

/*
 * A saving in units of 1e-10 dollars: an hourly price difference times
 * centihours, rounded half away from zero. No overflow below $10,000 an
 * hour (1e14 units x 73,000 centihours < 2^63).
 */
static int64_t
monthly_units(int64_t hourly_u, int64_t centihours)
{
	int64_t v = hourly_u * centihours;

	return (v + (v < 0 ? -50 : 50)) / 100;
}

static int
fits(const struct calc *k, const struct itype *cur, const struct itype *t, double cpu_demand,
     double mem_demand, int has_mem)
{
	if (!t->current || t->gpu != cur->gpu || t->net < cur->net || (cur->storage && !t->storage))
		return 0;
	if (!k->o->allow_arch_change && t->arm != cur->arm)
		return 0;
	if ((double)t->vcpu * (1 - k->o->cpu_headroom) < cpu_demand)
		return 0;
	if (has_mem)
		return t->mem * (1 - k->o->mem_headroom) >= mem_demand;
	return t->mem >= cur->mem;   /* memory unknown: never less than today */
}

static void
put_double(fo_copy *c, double v, int present)
{
	char num[40];

	if (!present || isnan(v)) {
		fo_copy_put_null(c);
		return;
	}
	snprintf(num, sizeof(num), "%.6f", v);
	fo_copy_put_str(c, num);
}

static const char *const out_columns[] = {
	"instance_id", "account_id", "region", "operating_system", "tenancy", "current_type",
	"recommended_type", "finding", "hours", "cpu_statistic", "cpu_percent", "cpu_demand_vcpu",
	"memory_peak_gib", "idle_days", "current_hourly_price", "recommended_hourly_price",
	"effective_hourly_rate", "billed_hours", "monthly_hours", "monthly_saving_list", "reason",
};
#define NOUT (sizeof(out_columns) / sizeof(out_columns[0]))

/* What decide() found for one instance, as emit() writes it. */
struct verdict {
	enum finding f;
	const char *rec_type;        /* NULL: none (idle, no change, no data) */
	int hours;                   /* hours of metrics */
	int has_mem, idle;
	double cpu_pct, cpu_demand, mem_peak;
	const struct price *cur_p, *rec_p;
	int64_t centihours;          /* expected running hours a month, x 100 */
	int64_t saving_u;            /* monthly saving, units of 1e-10 dollars */
	char reason[640];
};

static int
emit(struct calc *k, const char *id, const struct billed *b, const struct verdict *v,
     fo_err *err)
{
	char saving[40], hours_s[16], idle_s[16], monthly[24];

	if (!k->out && fo_copy_spool("rightsizing_stage", out_columns, NOUT, &k->out, err) < 0)
		return -1;
	k->by_finding[v->f]++;
	if (v->f == F_IDLE || v->f == F_OVER)
		k->saving_list_u += v->saving_u;
	snprintf(hours_s, sizeof(hours_s), "%d", v->hours);
	snprintf(idle_s, sizeof(idle_s), "%d", v->idle);
	snprintf(monthly, sizeof(monthly), "%lld.%02lld", (long long)(v->centihours / 100),
		 (long long)(v->centihours % 100));
	money(v->saving_u, saving, sizeof(saving));
	fo_copy_put_str(k->out, id);
	/* not billed: the usage's own, looked up when the rows are written */
	fo_copy_put_nonempty(k->out, b ? b->account : NULL);
	fo_copy_put_nonempty(k->out, b ? b->region : NULL);
	fo_copy_put_nonempty(k->out, b ? b->os : NULL);
	fo_copy_put_nonempty(k->out, b ? b->tenancy : NULL);
	fo_copy_put_nonempty(k->out, b ? b->type : NULL);
	fo_copy_put_nonempty(k->out, v->rec_type);
	fo_copy_put_str(k->out, finding_names[v->f]);
	fo_copy_put_str(k->out, hours_s);
	fo_copy_put_str(k->out, k->stat_name);
	put_double(k->out, v->cpu_pct, v->hours > 0);
	put_double(k->out, v->cpu_demand, v->hours > 0 && isfinite(v->cpu_demand));
	put_double(k->out, v->mem_peak, v->has_mem);
	fo_copy_put_str(k->out, idle_s);
	fo_copy_put_nonempty(k->out, v->cur_p ? v->cur_p->text : NULL);
	fo_copy_put_nonempty(k->out, v->rec_p ? v->rec_p->text : NULL);
	fo_copy_put_nonempty(k->out, b ? b->eff_rate : NULL);
	put_double(k->out, b ? b->hours : NAN, b != NULL);
	if (b)
		fo_copy_put_str(k->out, monthly);
	else
		fo_copy_put_null(k->out);
	fo_copy_put_str(k->out, saving);
	fo_copy_put_str(k->out, v->reason);
	return fo_copy_end_row(k->out, err);
}

/* " over 730 h a month", or " over 261 h a month (billed 120 of 336 h in the window)". */
static void
hours_text(const struct billed *b, int64_t centihours, char *out, size_t len)
{
	long long h = (centihours + 50) / 100;

	if (centihours >= HOURS_PER_MONTH * 100)
		snprintf(out, len, " over %lld h a month", h);
	else
		snprintf(out, len, " over %lld h a month (billed %.0f of %.0f h in the window)", h,
			 b->hours, b->covered);
}

static int
decide(struct calc *k, const struct ustat *in, fo_err *err)
{
	const struct billed *b = billed_of(&k->cat, in->id);
	const struct itype *cur = b ? type_of(&k->cat, b->type) : NULL, *best = NULL;
	const struct price *best_p = NULL;
	struct verdict v;
	double mem_pct = in->mem_peak;
	char saving[40], mem_text[96] = "", when[128];
	int need = idle_needed(k->o->lookback_days);

	memset(&v, 0, sizeof(v));
	v.cpu_demand = NAN;
	k->examined++;
	v.hours = (int)in->hours;
	v.has_mem = in->has_mem;
	v.cpu_pct = ustat_percentile(&k->stats.lay, in, k->o->cpu_percentile);
	v.idle = ustat_idle_days(&k->stats.lay, in);
	v.f = F_INSUFFICIENT;
	if (v.hours < k->o->min_hours) {
		v.has_mem = 0;
		snprintf(v.reason, sizeof(v.reason), "%d hours of metrics in the window; %d needed",
			 v.hours, k->o->min_hours);
		return emit(k, in->id, b, &v, err);
	}
	if (!b || !cur) {
		v.has_mem = 0;
		if (b)
			snprintf(v.reason, sizeof(v.reason), "%s is not in the instance catalog",
				 b->type);
		else
			snprintf(v.reason, sizeof(v.reason), "no EC2 instance hours in the billing"
				 " table for the window: its type is unknown");
		return emit(k, in->id, b, &v, err);
	}
	v.cur_p = price_of(&k->cat, b->region, b->os, b->tenancy, b->type);
	v.centihours = monthly_centihours(b);
	hours_text(b, v.centihours, when, sizeof(when));
	v.cpu_demand = v.cpu_pct / 100 * cur->vcpu;
	v.mem_peak = mem_pct / 100 * cur->mem;
	if (v.has_mem)
		snprintf(mem_text, sizeof(mem_text), ", memory %.1f of %g GiB peak", v.mem_peak,
			 cur->mem);
	else
		snprintf(mem_text, sizeof(mem_text), ", memory not measured (never less than %g GiB)",
			 cur->mem);
	if (v.idle >= need) {
		v.f = F_IDLE;
		v.saving_u = v.cur_p ? monthly_units(v.cur_p->u, v.centihours) : 0;
		money(v.saving_u, saving, sizeof(saving));
		snprintf(v.reason, sizeof(v.reason), "idle on %d of the last %d days (average CPU <="
			 " 10%% and network <= 5 MB a day; %d needed) -> stop it%s%s%s%s", v.idle,
			 k->o->lookback_days, need, v.cur_p ? "; saves $" : "",
			 v.cur_p ? saving : "", v.cur_p ? "/month" : "", v.cur_p ? when : "");
		return emit(k, in->id, b, &v, err);
	}
	/* the cheapest fitting type for this region, operating system and tenancy */
	for (size_t i = 0; i < k->cat.ntypes; i++) {
		const struct itype *t = &k->cat.types[i];
		const struct price *p;

		if (!fits(k, cur, t, v.cpu_demand, v.mem_peak, v.has_mem))
			continue;
		p = price_of(&k->cat, b->region, b->os, b->tenancy, t->name);
		if (p && (!best_p || p->u < best_p->u || (p->u == best_p->u && t == cur))) {
			best = t;
			best_p = p;
		}
	}
	if (!v.cur_p || !best) {
		snprintf(v.reason, sizeof(v.reason), "no on-demand price for %s in %s (%s, %s)%s",
			 b->type, b->region ? b->region : "?", b->os ? b->os : "?",
			 b->tenancy ? b->tenancy : "?", best ? "" : " or no type fits");
		return emit(k, in->id, b, &v, err);
	}
	v.saving_u = monthly_units(v.cur_p->u - best_p->u, v.centihours);
	money(v.saving_u < 0 ? -v.saving_u : v.saving_u, saving, sizeof(saving));
	if (v.cpu_pct > k->o->under_threshold) {
		v.f = F_UNDER;
		v.rec_type = best->name;
		v.rec_p = best_p;
		snprintf(v.reason, sizeof(v.reason), "%s CPU %.0f%% of %d vCPU%s -> %s fits with"
			 " %.0f%% headroom; costs $%s/month more%s", k->stat_name, v.cpu_pct,
			 cur->vcpu, mem_text, best->name, k->o->cpu_headroom * 100, saving, when);
		return emit(k, in->id, b, &v, err);
	}
	if (best == cur || v.saving_u <= 0) {
		v.f = F_OPTIMIZED;
		v.rec_p = v.cur_p;
		v.saving_u = 0;
		snprintf(v.reason, sizeof(v.reason), "%s CPU %.0f%% of %d vCPU%s: %s is the cheapest"
			 " type that fits with %.0f%% headroom", k->stat_name, v.cpu_pct, cur->vcpu,
			 mem_text, cur->name, k->o->cpu_headroom * 100);
		return emit(k, in->id, b, &v, err);
	}
	v.f = F_OVER;
	v.rec_type = best->name;
	v.rec_p = best_p;
	snprintf(v.reason, sizeof(v.reason), "%s CPU %.0f%% of %d vCPU%s -> %s fits with %.0f%%"
		 " headroom; saves $%s/month%s", k->stat_name, v.cpu_pct, cur->vcpu, mem_text,
		 best->name, k->o->cpu_headroom * 100, saving, when);
	return emit(k, in->id, b, &v, err);
}

/* ---- reading the usage -------------------------------------------------------- */

/* One connection reading a part of the window with COPY (SELECT ...) TO STDOUT. */
struct reader {
	PGconn *conn;
	int own;                     /* opened for this run, closed at its end */
	int copying;                 /* its COPY is under way */
	int first;                   /* its next message is the COPY's first */
	int cancelled;
	struct ustat *last;          /* the instance of its previous row */
};

#define MAX_JOBS 16

/*
 * The fields of one binary COPY row (a CopyData message: PostgreSQL sends a
 * row a message, the first after the file header): 1 and *f filled, 0 at
 * the trailer, 2 for the header alone, -1 when the message is not what the
 * query makes.
 */
static int
parse_row(const unsigned char *p, size_t n, int first, struct field *f)
{
	static const unsigned char sig[11] = "PGCOPY\n\377\r\n";
	const unsigned char *end = p + n;

	if (first) {
		uint32_t ext;

		if (n < 19 || memcmp(p, sig, 11) != 0)
			return -1;
		ext = be32(p + 15);
		if (ext > n - 19)
			return -1;
		p += 19 + ext;
		if (p == end)
			return 2;            /* the header alone */
	}
	if (end - p < 2)
		return -1;
	if (p[0] == 0xff && p[1] == 0xff)
		return 0;
	if ((p[0] << 8 | p[1]) != USAGE_FIELDS)
		return -1;
	p += 2;
	for (int i = 0; i < USAGE_FIELDS; i++) {
		if (end - p < 4)
			return -1;
		f[i].len = (int32_t)be32(p);
		p += 4;
		f[i].p = p;
		if (f[i].len < 0) {
			f[i].len = -1;
			continue;
		}
		if (end - p < f[i].len)
			return -1;
		p += f[i].len;
	}
	/* the id and the hour must be there; numbers are float8 or NULL */
	if (p != end || f[0].len < 0 || f[1].len != 8)
		return -1;
	for (int i = 2; i < USAGE_FIELDS; i++)
		if (f[i].len != -1 && f[i].len != 8)
			return -1;
	return 1;
}

/* In instance order: the current instance's statistics start again, for id. */
static int
ordered_next(struct calc *k, const unsigned char *id, size_t len, fo_err *err)
{
	if (len + 1 > k->cur_idcap) {
		char *g = realloc(k->cur_id, len + 1);

		if (!g)
			return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		k->cur_id = g;
		k->cur_idcap = len + 1;
	}
	memcpy(k->cur_id, id, len);
	k->cur_id[len] = '\0';
	memset(k->cur, 0, k->stats.lay.size);
	k->cur->id = k->cur_id;
	k->cur->idlen = (uint32_t)len;
	return 0;
}

/*
 * One row to the statistics: to its instance's in the table of every
 * instance or, read in instance order, to the current instance's, which is
 * decided when the next one's rows begin.
 */
static int
on_row(struct calc *k, struct reader *r, const struct field *f, fo_err *err)
{
	size_t len = (size_t)f[0].len;
	struct ustat *s;

	if (k->cur) {
		s = k->cur;
		if (!s->id || s->idlen != len || memcmp(s->id, f[0].p, len) != 0) {
			if (s->id && decide(k, s, err) < 0)
				return -1;
			if (ordered_next(k, f[0].p, len, err) < 0)
				return -1;
		}
	} else if (!(s = stats_get(&k->stats, f[0].p, len, &r->last))) {
		k->overflow = 1;
		return fo_err_set(err, FO_EXIT_FAILURE, "the statistics of %zu instances fill %d MB",
				  k->stats.count, k->o->memory_mb);
	}
	if (ustat_add(&k->stats.lay, k->start_s, s, f) < 0)
		return fo_err_set(err, FO_EXIT_FAILURE, "reading instance_usage_hourly: instance %s"
				  " has more than the %u hours of the window", s->id,
				  (unsigned)k->stats.lay.max_hours);
	return 0;
}

/* Asks the server to stop reader r's COPY: what it still sends is a moment's worth. */
static void
cancel_reader(struct reader *r)
{
	PGcancel *cancel = PQgetCancel(r->conn);
	char why[256];

	if (cancel) {
		PQcancel(cancel, why, sizeof(why));
		PQfreeCancel(cancel);
	}
	r->cancelled = 1;
}

/* Starts reader r's COPY of the hours [from_s, to_s). */
static int
start_copy(struct calc *k, struct reader *r, int64_t from_s, int64_t to_s, fo_err *err)
{
	fo_buf sql = FO_BUF_INIT;
	struct fo_ts t = {0, 0};
	PGresult *res;
	char when[40];
	int rc = 0;

	/*
	 * Only what the decisions need, as stored: each value costs the server a
	 * call of its send function per row, most of the read's time (the
	 * account and region of an instance not billed are looked up once, when
	 * the recommendations are written). COPY takes no parameters: the
	 * bounds are literals.
	 */
	fo_buf_puts(&sql, "COPY (SELECT instance_id, hour, cpu_avg, cpu_max, mem_max,"
		    " net_in_bytes, net_out_bytes FROM finops.instance_usage_hourly");
	if (k->o->nshards)
		fo_buf_puts(&sql, " JOIN rightsizing_shard USING (instance_id)");
	for (int i = 0; i < 2; i++) {
		char *lit;

		t.epoch_s = i ? to_s : from_s;
		fo_ts_format(&t, when, sizeof(when));
		lit = PQescapeLiteral(r->conn, when, strlen(when));
		if (!lit) {
			fo_buf_free(&sql);
			return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		}
		fo_buf_printf(&sql, i ? " AND hour < %s::timestamptz" :
			      " WHERE hour >= %s::timestamptz", lit);
		PQfreemem(lit);
	}
	if (k->cur)
		fo_buf_puts(&sql, " ORDER BY instance_id, hour");
	fo_buf_puts(&sql, ") TO STDOUT (FORMAT binary)");
	if (sql.oom) {
		fo_buf_free(&sql);
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	}
	res = PQexec(r->conn, sql.data);
	fo_buf_free(&sql);
	if (PQresultStatus(res) != PGRES_COPY_OUT)
		rc = fo_pg_fail(r->conn, res, "reading instance_usage_hourly", err);
	else
		r->copying = r->first = 1;
	r->cancelled = 0;
	PQclear(res);
	return rc;
}

/* Reader r's COPY is over: its result. */
static int
end_copy(struct reader *r, int rc, fo_err *err)
{
	PGresult *res;

	r->copying = 0;
	while ((res = PQgetResult(r->conn)) != NULL) {
		if (rc == 0 && PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = fo_pg_fail(r->conn, res, "reading instance_usage_hourly", err);
		PQclear(res);
	}
	return rc;
}

/*
 * Reads the rows of every reader's COPY as they come, on one thread (the
 * work per row is a fraction of the server's), until all are over. After an
 * error or a stop request the servers are asked to cancel and the rest is
 * read and dropped, so that the connections are free again.
 */
static int
read_copies(struct calc *k, struct reader *rd, int nr, int rc, fo_err *err)
{
	struct field f[USAGE_FIELDS];
	struct pollfd pfd[MAX_JOBS];
	int wait[MAX_JOBS];

	for (;;) {
		int np = 0;

		for (int i = 0; i < nr; i++) {
			struct reader *r = &rd[i];

			while (r->copying) {
				char *msg = NULL;
				int n = PQgetCopyData(r->conn, &msg, 1), got;

				if (n == 0) {
					pfd[np].fd = PQsocket(r->conn);
					pfd[np].events = POLLIN;
					wait[np++] = i;
					break;
				}
				if (n < 0) {
					if (n == -2 && rc == 0)
						rc = fo_pg_fail(r->conn, NULL, "reading instance_usage_hourly",
								err);
					rc = end_copy(r, rc, err);
					break;
				}
				if (rc == 0) {
					got = parse_row((const unsigned char *)msg, (size_t)n, r->first, f);
					r->first = 0;
					if (got == 1)
						rc = on_row(k, r, f, err);
					else if (got < 0)
						rc = fo_err_set(err, FO_EXIT_FAILURE, "reading"
								" instance_usage_hourly: a COPY row not in"
								" the format asked for");
				}
				PQfreemem(msg);
				if (rc < 0 && !r->cancelled)
					break;       /* to cancel every reader, then drain */
			}
		}
		if (rc == 0 && fo_stop_requested())
			rc = fo_err_set(err, FO_EXIT_TRANSIENT, "interrupted");
		for (int i = 0; rc < 0 && i < nr; i++)
			if (rd[i].copying && !rd[i].cancelled)
				cancel_reader(&rd[i]);
		if (np == 0) {
			int busy = 0;

			for (int i = 0; i < nr; i++)
				busy |= rd[i].copying;
			if (!busy)
				return rc;
			continue;
		}
		/* a second at most: a stop request is looked at even while nothing comes */
		if (poll(pfd, (nfds_t)np, 1000) < 0 && errno != EINTR && rc == 0)
			rc = fo_err_set(err, FO_EXIT_FAILURE, "reading instance_usage_hourly: poll: %s",
					strerror(errno));
		for (int j = 0; j < np; j++) {
			PGconn *c = rd[wait[j]].conn;

			if (pfd[j].revents && !PQconsumeInput(c) && rc == 0)
				rc = fo_pg_fail(c, NULL, "reading instance_usage_hourly", err);
		}
	}
}

/*
 * The readers: the run's own connection and, with --jobs N, N - 1 more
 * seeing the same snapshot (pg_export_snapshot, as pg_dump --jobs does).
 * A connection that cannot be opened (the server's max_connections, say)
 * is a warning: the run goes on with the ones it has.
 */
static int
open_readers(struct calc *k, struct reader *rd, int *nr, fo_err *err)
{
	int want = k->o->jobs < 1 ? 1 : k->o->jobs;
	PGresult *res = NULL;

	if (want > MAX_JOBS)
		want = MAX_JOBS;
	if (want > k->o->lookback_days)
		want = k->o->lookback_days;  /* each reads whole days */
	rd[0].conn = k->ctx->conn;
	*nr = 1;
	if (want == 1)
		return 0;
	if (fo_pg_query(k->ctx->conn, "SELECT pg_export_snapshot()", 0, NULL, &res, err) < 0)
		return -1;
	while (*nr < want) {
		PGconn *c = NULL;
		fo_err why;

		fo_err_clear(&why);
		if (fo_pg_connect_like(k->ctx->conn, &c, &why) < 0 ||
		    fo_pg_begin_snapshot_of(c, PQgetvalue(res, 0, 0), &why) < 0) {
			fo_logf(FO_LOG_WARN, FO_FIELDS(FO_INT("connections", *nr), FO_INT("jobs", want)),
				"reading the usage on %d connection(s) instead of %d: %s", *nr, want,
				why.msg);
			PQfinish(c);
			break;
		}
		rd[*nr].conn = c;
		rd[(*nr)++].own = 1;
	}
	PQclear(res);
	return 0;
}

/*
 * --shard I/N: the instances with hours in the window whose id falls in
 * shard I (fo_shard_of, the hash usage_ingest --shard uses), into the temp
 * table rightsizing_shard of every reader. The ids come from a skip scan of
 * the primary key (one index probe per instance, not a read of every hour),
 * so a shard's run reads only its own instances' hours.
 */
static int
shard_instances(struct calc *k, const char *start, const char *end, struct reader *rd, int nr,
		fo_err *err)
{
	static const char *const cols[] = {"instance_id"};
	const char *params[2] = {start, end};
	PGresult *res = NULL;
	int rc;

	rc = fo_pg_query(k->ctx->conn,
		"WITH RECURSIVE ids (id) AS ("
		"  (SELECT instance_id FROM finops.instance_usage_hourly"
		"    WHERE hour >= $1::timestamptz AND hour < $2::timestamptz"
		"    ORDER BY instance_id LIMIT 1)"
		"  UNION ALL"
		"  SELECT (SELECT instance_id FROM finops.instance_usage_hourly"
		"           WHERE instance_id > ids.id"
		"             AND hour >= $1::timestamptz AND hour < $2::timestamptz"
		"           ORDER BY instance_id LIMIT 1)"
		"    FROM ids WHERE ids.id IS NOT NULL)"
		" SELECT id FROM ids WHERE id IS NOT NULL", 2, params, &res, err);
	for (int r = 0; rc == 0 && r < nr; r++) {
		fo_copy *c = NULL;

		rc = fo_pg_exec(rd[r].conn, "CREATE TEMP TABLE rightsizing_shard"
				" (instance_id text PRIMARY KEY) ON COMMIT DROP", err);
		if (rc == 0)
			rc = fo_copy_begin(rd[r].conn, "rightsizing_shard", cols, 1, 0, &c, err);
		for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
			if (fo_shard_of(PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0),
					(unsigned)k->o->nshards) != (unsigned)k->o->shard) {
				k->other_shards += r == 0;
				continue;
			}
			fo_copy_put_str(c, PQgetvalue(res, i, 0));
			rc = fo_copy_end_row(c, err);
		}
		if (c && rc == 0)
			rc = fo_copy_finish(c, NULL, err);
		else if (c)
			fo_copy_abort(c, "failed");
		if (rc == 0)
			rc = fo_pg_exec(rd[r].conn, "ANALYZE rightsizing_shard", err);
	}
	PQclear(res);
	return rc;
}

/* Every instance of the table decided, in id order. */
static int
decide_all(struct calc *k, fo_err *err)
{
	struct ustat **v = malloc((k->stats.count + 1) * sizeof(*v));
	size_t n = 0;
	int rc = 0;

	if (!v)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	for (size_t i = 0; i < k->stats.nslots; i++)
		if (k->stats.slot[i])
			v[n++] = k->stats.slot[i];
	qsort(v, n, sizeof(*v), cmp_ustat);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = decide(k, v[i], err);
	free(v);
	return rc;
}

/*
 * Reads the window's hours and decides every instance. The readers each
 * COPY a part of the window's days in binary, in the order the table holds
 * the rows (no sort, no index walk: a heap read at the disk's pace), into a
 * table of every instance's statistics. Should those outgrow --memory,
 * the window is read again in instance order on one connection, one
 * instance in memory at a time. The recommendations go to a spool (the
 * connection is busy) and are copied in afterwards.
 */
static int
read_usage(struct calc *k, const char *start, const char *end, fo_err *err)
{
	struct reader rd[MAX_JOBS];
	int nr = 0, rc, ndays = k->o->lookback_days;

	memset(rd, 0, sizeof(rd));
	ulayout_init(&k->stats.lay, ndays, k->o->cpu_percentile);
	k->stats.budget = (size_t)(k->o->memory_mb > 0 ? k->o->memory_mb : 1) << 20;
	rc = open_readers(k, rd, &nr, err);
	if (rc == 0 && k->o->nshards)
		rc = shard_instances(k, start, end, rd, nr, err);
	/* a savepoint: after a cancelled COPY the run's own transaction goes on */
	if (rc == 0)
		rc = fo_pg_exec(k->ctx->conn, "SAVEPOINT reading_usage", err);
	for (int i = 0; rc == 0 && i < nr; i++)
		rc = start_copy(k, &rd[i], k->start_s + (int64_t)(i * ndays / nr) * 86400,
				k->start_s + (int64_t)((i + 1) * ndays / nr) * 86400, err);
	rc = read_copies(k, rd, nr, rc, err);
	if (rc < 0 && k->overflow) {
		fo_logf(FO_LOG_INFO, FO_FIELDS(FO_INT("instances", (long long)k->stats.count)),
			"more instances than %d MB of statistics hold (--memory): reading the"
			" window again in instance order, one instance at a time (slower; --shard"
			" splits a fleet this size)", k->o->memory_mb);
		fo_err_clear(err);
		stats_free(&k->stats);
		rd[0].last = NULL;
		k->cur = malloc(k->stats.lay.size);
		rc = k->cur ? fo_pg_exec(k->ctx->conn, "ROLLBACK TO SAVEPOINT reading_usage", err)
			    : fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		if (rc == 0) {
			k->cur->id = NULL;
			rc = start_copy(k, &rd[0], k->start_s, k->end_s, err);
		}
		rc = read_copies(k, rd, 1, rc, err);
		if (rc == 0 && k->cur->id)
			rc = decide(k, k->cur, err);
	} else if (rc == 0) {
		rc = decide_all(k, err);
	}
	for (int i = 1; i < nr; i++)
		fo_pg_disconnect(rd[i].conn);
	stats_free(&k->stats);
	free(k->cur);
	free(k->cur_id);
	k->cur = NULL;
	k->cur_id = NULL;
	return rc;
}

/* ---- the run ----------------------------------------------------------------- */


/* The end of the lookback: --end rounded down to the hour, or this hour. */
static int
window_end(const struct fo_rightsizing_opts *o, int64_t *end_s, fo_err *err)
{
	struct fo_ts t;
	const char *why;

	if (!o->end) {
		*end_s = (int64_t)time(NULL) / 3600 * 3600;
		return 0;
	}
	if (fo_ts_parse(o->end, strlen(o->end), &t, &why) < 0)
		return fo_err_set(err, FO_EXIT_USAGE, "--end %s: %s", o->end, why);
	*end_s = t.epoch_s - t.epoch_s % 3600;
	return 0;
}

int
fo_rightsizing_check(const struct fo_rightsizing_opts *o, fo_err *err)
{
	int64_t end_s;

	return window_end(o, &end_s, err);
}

int
fo_rightsizing_calc(struct fo_run *ctx, const struct fo_rightsizing_opts *o, fo_err *err)
{
	struct calc k;
	struct fo_ts t;
	char start[40], end[40], run[24], params[512], shard[12], nshards[12], scope[48];
	const char *qp[6];
	int rc;

	memset(&k, 0, sizeof(k));
	k.ctx = ctx;
	k.o = o;
	if (window_end(o, &k.end_s, err) < 0)
		return -1;
	k.start_s = k.end_s - (int64_t)o->lookback_days * 86400;
	t.epoch_s = k.start_s;
	t.micros = 0;
	fo_ts_format(&t, start, sizeof(start));
	t.epoch_s = k.end_s;
	fo_ts_format(&t, end, sizeof(end));
	if (o->cpu_percentile >= 1)
		snprintf(k.stat_name, sizeof(k.stat_name), "max");
	else
		snprintf(k.stat_name, sizeof(k.stat_name), "p%g", o->cpu_percentile * 100);
	snprintf(run, sizeof(run), "%lld", ctx->run_id);
	snprintf(params, sizeof(params),
		 "{\"lookback_days\":%d,\"cpu_statistic\":\"%s\",\"cpu_headroom\":%g,"
		 "\"memory_headroom\":%g,\"allow_arch_change\":%s,\"under_threshold\":%g,"
		 "\"min_hours\":%d}", o->lookback_days, k.stat_name, o->cpu_headroom, o->mem_headroom,
		 o->allow_arch_change ? "true" : "false", o->under_threshold, o->min_hours);

	if (o->nshards)
		snprintf(scope, sizeof(scope), "rightsizing shard %d/%d", o->shard, o->nshards);
	rc = fo_run_lock(ctx, o->nshards ? scope : "rightsizing", err);
	if (rc == 0)
		rc = load_catalog(ctx->conn, start, end, &k.cat, err);
	if (rc == 0)
		rc = fo_pg_begin_writer_snapshot(ctx->conn, err);
	if (rc == 0)
		rc = fo_pg_exec(ctx->conn,
			"CREATE TEMP TABLE rightsizing_stage (LIKE finops.rightsizing_recommendations)"
			" ON COMMIT DROP;"
			"ALTER TABLE rightsizing_stage ALTER run_id DROP NOT NULL,"
			"  ALTER monthly_saving_effective DROP NOT NULL", err);
	if (rc == 0)
		rc = read_usage(&k, start, end, err);
	if (rc == 0 && k.out)
		rc = fo_copy_spool_send(k.out, ctx->conn, NULL, err);
	else if (k.out)
		fo_copy_abort(k.out, "failed");
	k.out = NULL;
	qp[0] = run;
	qp[1] = start;
	qp[2] = end;
	qp[3] = params;
	snprintf(shard, sizeof(shard), "%d", o->nshards ? o->shard : 0);
	snprintf(nshards, sizeof(nshards), "%d", o->nshards ? o->nshards : 1);
	qp[4] = shard;
	qp[5] = nshards;
	if (rc == 0)
		rc = fo_pg_query(ctx->conn,
			"INSERT INTO finops.rightsizing_runs (run_id, window_start, window_end, parameters,"
			"  instances, monthly_saving_list, monthly_saving_effective, shard_index,"
			"  shard_count)"
			" SELECT $1::bigint, $2::timestamptz, $3::timestamptz, $4::jsonb, 0, 0, 0,"
			"        $5::integer, $6::integer", 6, qp, NULL, err);
	if (rc == 0)
		rc = fo_pg_query(ctx->conn,
			"INSERT INTO finops.rightsizing_recommendations (run_id, instance_id,"
			"  account_id, region, operating_system, tenancy, current_type,"
			"  recommended_type, finding, hours, cpu_statistic, cpu_percent,"
			"  cpu_demand_vcpu, memory_peak_gib, idle_days, current_hourly_price,"
			"  recommended_hourly_price, effective_hourly_rate, billed_hours, monthly_hours,"
			"  monthly_saving_list, monthly_saving_effective, reason)"
			" SELECT $1::bigint, instance_id,"
			"        coalesce(account_id, (SELECT u.account_id"
			"          FROM finops.instance_usage_hourly u"
			"         WHERE u.instance_id = s.instance_id AND u.hour >= $2::timestamptz"
			"           AND u.hour < $3::timestamptz ORDER BY u.hour DESC LIMIT 1)),"
			"        coalesce(region, (SELECT u.region FROM finops.instance_usage_hourly u"
			"         WHERE u.instance_id = s.instance_id AND u.hour >= $2::timestamptz"
			"           AND u.hour < $3::timestamptz ORDER BY u.hour DESC LIMIT 1)),"
			"        operating_system, tenancy,"
			"        current_type, recommended_type, finding, hours, cpu_statistic,"
			"        cpu_percent, cpu_demand_vcpu, memory_peak_gib, idle_days,"
			"        current_hourly_price, recommended_hourly_price, effective_hourly_rate,"
			"        billed_hours, monthly_hours, monthly_saving_list,"
			"        CASE WHEN effective_hourly_rate IS NOT NULL AND current_hourly_price > 0"
			"             THEN round(monthly_saving_list * effective_hourly_rate"
			"                        / current_hourly_price, 2)"
			"             ELSE monthly_saving_list END, reason"
			"   FROM rightsizing_stage s", 3, qp, NULL, err);
	if (rc == 0)
		rc = fo_pg_query(ctx->conn,
			"UPDATE finops.rightsizing_runs SET"
			"  instances = (SELECT count(*) FROM finops.rightsizing_recommendations r"
			"               WHERE r.run_id = $1::bigint),"
			"  monthly_saving_list = (SELECT coalesce(sum(monthly_saving_list), 0)"
			"    FROM finops.rightsizing_recommendations r WHERE r.run_id = $1::bigint"
			"     AND finding IN ('idle', 'over_provisioned')),"
			"  monthly_saving_effective = (SELECT coalesce(sum(monthly_saving_effective), 0)"
			"    FROM finops.rightsizing_recommendations r WHERE r.run_id = $1::bigint"
			"     AND finding IN ('idle', 'over_provisioned'))"
			" WHERE run_id = $1::bigint", 1, qp, NULL, err);
	/* no instance with metrics: keep the current set rather than empty it */
	if (rc < 0 || ctx->dry_run || k.examined == 0)
		fo_pg_rollback(ctx->conn);
	else
		rc = fo_pg_commit(ctx->conn, err);
	if (rc == 0) {
		char total[40];

		money(k.saving_list_u, total, sizeof(total));
		ctx->rows_read += k.examined;
		ctx->rows_written += ctx->dry_run ? 0 : k.examined;
		fo_buf_printf(&ctx->summary, "%lld instance(s) examined: %lld idle, %lld"
			      " over-provisioned, %lld under-provisioned, %lld optimized, %lld with"
			      " insufficient data; monthly saving $%s at list price", k.examined,
			      k.by_finding[F_IDLE], k.by_finding[F_OVER], k.by_finding[F_UNDER],
			      k.by_finding[F_OPTIMIZED], k.by_finding[F_INSUFFICIENT], total);
		if (o->nshards)
			fo_buf_printf(&ctx->summary, "; shard %d/%d (%lld instance(s) of other shards"
				      " left out)", o->shard, o->nshards, k.other_shards);
		ctx->nothing_new = k.examined == 0;
	}
	catalog_free(&k.cat);
	return rc;
}
