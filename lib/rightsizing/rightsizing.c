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
#include <math.h>
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
}

/* percentile_cont(p) of v[0..n-1] (sorts v), as PostgreSQL computes it. */
static double
percentile_cont(double *v, size_t n, double p)
{
	double pos, frac;
	size_t lo;

	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(*v), fo_cmp_double);
	pos = p * (double)(n - 1);
	lo = (size_t)floor(pos);
	frac = pos - (double)lo;
	if (lo + 1 >= n)
		return v[n - 1];
	return v[lo] + (v[lo + 1] - v[lo]) * frac;
}



/* Dollars and cents of u units, rounded half away from zero: "140.16", "-3.50". */
static void
money(int64_t u, char *out, size_t len)
{
	int64_t cents = (llabs(u) + 50000000) / 100000000;

	snprintf(out, len, "%s%lld.%02lld", u < 0 && cents ? "-" : "", (long long)(cents / 100),
		 (long long)(cents % 100));
}


/* ---- one instance ------------------------------------------------------------ */

struct sample {
	double cpu_avg, cpu_max, mem_max, net;
	int has_cpu, has_mem, has_net;
	int64_t hour;                /* Unix seconds */
};

struct inst {
	char id[64];
	struct sample *s;
	size_t n, cap;
	double *scratch;
};

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
};

enum finding { F_IDLE, F_OVER, F_UNDER, F_OPTIMIZED, F_INSUFFICIENT };
static const char *const finding_names[] = {
	"idle", "over_provisioned", "under_provisioned", "optimized", "insufficient_data",
};

#define MAX_LOOKBACK_DAYS 93

/*
 * Trusted Advisor's rule over the lookback window: the days with average
 * CPU <= 10% and network <= 5 MB (in + out). Trusted Advisor looks at 14
 * days and needs 4 of them; a window of another length needs the same share
 * (idle_needed).
 */
static int
idle_days(const struct calc *k, const struct inst *in)
{
	double cpu[MAX_LOOKBACK_DAYS] = {0}, net[MAX_LOOKBACK_DAYS] = {0};
	int n[MAX_LOOKBACK_DAYS] = {0}, days = 0, ndays = k->o->lookback_days;

	for (size_t i = 0; i < in->n; i++) {
		const struct sample *s = &in->s[i];
		int64_t d = (s->hour - k->start_s) / 86400;

		if (s->hour < k->start_s || d < 0 || d >= ndays || !s->has_cpu)
			continue;
		cpu[d] += s->cpu_avg;
		net[d] += s->has_net ? s->net : 0;
		n[d]++;
	}
	for (int d = 0; d < ndays; d++)
		if (n[d] && cpu[d] / n[d] <= 10 && net[d] <= 5e6)
			days++;
	return days;
}

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
emit(struct calc *k, const struct inst *in, const struct billed *b, const struct verdict *v,
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
	fo_copy_put_str(k->out, in->id);
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
decide(struct calc *k, struct inst *in, fo_err *err)
{
	const struct billed *b = billed_of(&k->cat, in->id);
	const struct itype *cur = b ? type_of(&k->cat, b->type) : NULL, *best = NULL;
	const struct price *best_p = NULL;
	struct verdict v;
	double mem_pct = 0;
	size_t nv = 0;
	char saving[40], mem_text[96] = "", when[128];
	int need = idle_needed(k->o->lookback_days);

	memset(&v, 0, sizeof(v));
	v.cpu_demand = NAN;
	k->examined++;
	if (in->cap > 0 && !in->scratch)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	for (size_t i = 0; i < in->n; i++) {
		if (in->s[i].has_cpu) {
			in->scratch[nv++] = in->s[i].cpu_max;
			v.hours++;
		}
		if (in->s[i].has_mem) {
			v.has_mem = 1;
			if (in->s[i].mem_max > mem_pct)
				mem_pct = in->s[i].mem_max;
		}
	}
	v.cpu_pct = percentile_cont(in->scratch, nv, k->o->cpu_percentile);
	v.idle = idle_days(k, in);
	v.f = F_INSUFFICIENT;
	if (v.hours < k->o->min_hours) {
		v.has_mem = 0;
		snprintf(v.reason, sizeof(v.reason), "%d hours of metrics in the window; %d needed",
			 v.hours, k->o->min_hours);
		return emit(k, in, b, &v, err);
	}
	if (!b || !cur) {
		v.has_mem = 0;
		if (b)
			snprintf(v.reason, sizeof(v.reason), "%s is not in the instance catalog",
				 b->type);
		else
			snprintf(v.reason, sizeof(v.reason), "no EC2 instance hours in the billing"
				 " table for the window: its type is unknown");
		return emit(k, in, b, &v, err);
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
		return emit(k, in, b, &v, err);
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
		return emit(k, in, b, &v, err);
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
		return emit(k, in, b, &v, err);
	}
	if (best == cur || v.saving_u <= 0) {
		v.f = F_OPTIMIZED;
		v.rec_p = v.cur_p;
		v.saving_u = 0;
		snprintf(v.reason, sizeof(v.reason), "%s CPU %.0f%% of %d vCPU%s: %s is the cheapest"
			 " type that fits with %.0f%% headroom", k->stat_name, v.cpu_pct, cur->vcpu,
			 mem_text, cur->name, k->o->cpu_headroom * 100);
		return emit(k, in, b, &v, err);
	}
	v.f = F_OVER;
	v.rec_type = best->name;
	v.rec_p = best_p;
	snprintf(v.reason, sizeof(v.reason), "%s CPU %.0f%% of %d vCPU%s -> %s fits with %.0f%%"
		 " headroom; saves $%s/month%s", k->stat_name, v.cpu_pct, cur->vcpu, mem_text,
		 best->name, k->o->cpu_headroom * 100, saving, when);
	return emit(k, in, b, &v, err);
}

/* ---- reading the usage -------------------------------------------------------- */

/* Binary values: PostgreSQL sends them big-endian. */
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

#define USAGE_FIELDS 7

static int
add_sample(struct inst *in, const struct field *f)
{
	struct sample *s;

	if (in->n == in->cap) {
		size_t cap = in->cap ? in->cap * 2 : 512;
		struct sample *g = realloc(in->s, cap * sizeof(*g));
		double *sc = realloc(in->scratch, cap * sizeof(*sc));

		if (g)
			in->s = g;
		if (sc)
			in->scratch = sc;
		if (!g || !sc)
			return -1;
		in->cap = cap;
	}
	s = &in->s[in->n++];
	memset(s, 0, sizeof(*s));
	/* timestamptz: microseconds since 2000-01-01 UTC; hours are whole */
	s->hour = (int64_t)be64(f[1].p) / 1000000 + 946684800;   /* 2000-01-01 */
	if (f[2].len == 8 && f[3].len == 8) {
		s->has_cpu = 1;
		s->cpu_avg = float8_of(f[2].p);
		s->cpu_max = float8_of(f[3].p);
	}
	if (f[4].len == 8) {
		s->has_mem = 1;
		s->mem_max = float8_of(f[4].p);
	}
	if (f[5].len == 8 || f[6].len == 8) {
		s->has_net = 1;
		s->net = (f[5].len == 8 ? float8_of(f[5].p) : 0) +
			 (f[6].len == 8 ? float8_of(f[6].p) : 0);
	}
	return 0;
}

/*
 * The fields of one binary COPY row (a CopyData message: PostgreSQL sends a
 * row a message, the first after the file header): 1 and *f filled, 0 at
 * the trailer, -1 when the message is not what the query makes.
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

/* Copies a text field into out (cut to its size), NUL-terminated. */
static void
field_text(const struct field *f, char *out, size_t size)
{
	size_t n = f->len > 0 ? (size_t)f->len : 0;

	if (n >= size)
		n = size - 1;
	memcpy(out, f->p, n);
	out[n] = '\0';
}

/*
 * --shard I/N: the instances with hours in the window whose id falls in
 * shard I (fo_shard_of, the hash usage_ingest --shard uses), into the temp
 * table rightsizing_shard. The ids come from a skip scan of the primary key
 * (one index probe per instance, not a read of every hour), so a shard's
 * run reads only its own instances' hours.
 */
static int
shard_instances(struct calc *k, const char *start, const char *end, fo_err *err)
{
	static const char *const cols[] = {"instance_id"};
	const char *params[2] = {start, end};
	PGresult *res = NULL;
	fo_copy *c = NULL;
	int rc;

	rc = fo_pg_exec(k->ctx->conn,
		"CREATE TEMP TABLE rightsizing_shard (instance_id text PRIMARY KEY) ON COMMIT DROP",
		err);
	if (rc == 0)
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
	if (rc == 0)
		rc = fo_copy_begin(k->ctx->conn, "rightsizing_shard", cols, 1, 0, &c, err);
	for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
		if (fo_shard_of(PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0),
				(unsigned)k->o->nshards) != (unsigned)k->o->shard) {
			k->other_shards++;
			continue;
		}
		fo_copy_put_str(c, PQgetvalue(res, i, 0));
		rc = fo_copy_end_row(c, err);
	}
	PQclear(res);
	if (c && rc == 0)
		rc = fo_copy_finish(c, NULL, err);
	else if (c)
		fo_copy_abort(c, "failed");
	if (rc == 0)
		rc = fo_pg_exec(k->ctx->conn, "ANALYZE rightsizing_shard", err);
	return rc;
}

/*
 * Reads the window's hours with one COPY (SELECT ...) TO STDOUT in binary,
 * ordered by instance, deciding each instance when its hours are all read;
 * memory holds one instance's hours. The recommendations go to a spool
 * (the connection is busy with the COPY) and are copied in afterwards.
 */
static int
read_usage(struct calc *k, const char *start, const char *end, fo_err *err)
{
	const char *params[2] = {start, end};
	PGconn *conn = k->ctx->conn;
	struct field f[USAGE_FIELDS];
	struct inst in;
	char id[64];
	int rc, got, first = 1, cancelled = 0;
	PGresult *res;
	fo_buf sql = FO_BUF_INIT;
	char *lit;

	memset(&in, 0, sizeof(in));
	rc = k->o->nshards ? shard_instances(k, start, end, err) : 0;
	if (rc < 0)
		return -1;
	/* COPY takes no parameters: the window's bounds as literals */
	/*
	 * Only what the decisions need, as stored: each value costs the server a
	 * call of its send function per row, most of the read's time (the
	 * account and region of an instance not billed are looked up once, when
	 * the recommendations are written).
	 */
	fo_buf_puts(&sql, "COPY (SELECT instance_id, hour, cpu_avg, cpu_max, mem_max,"
		    " net_in_bytes, net_out_bytes FROM finops.instance_usage_hourly");
	if (k->o->nshards)
		fo_buf_puts(&sql, " JOIN rightsizing_shard USING (instance_id)");
	for (int i = 0; i < 2; i++) {
		lit = PQescapeLiteral(conn, params[i], strlen(params[i]));
		if (!lit) {
			fo_buf_free(&sql);
			return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		}
		fo_buf_printf(&sql, i ? " AND hour < %s::timestamptz" :
			      " WHERE hour >= %s::timestamptz", lit);
		PQfreemem(lit);
	}
	fo_buf_puts(&sql, " ORDER BY instance_id, hour) TO STDOUT (FORMAT binary)");
	if (sql.oom) {
		fo_buf_free(&sql);
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	}
	res = PQexec(conn, sql.data);
	fo_buf_free(&sql);
	if (PQresultStatus(res) != PGRES_COPY_OUT) {
		rc = fo_pg_fail(conn, res, "reading instance_usage_hourly", err);
		PQclear(res);
		return rc;
	}
	PQclear(res);
	id[0] = '\0';
	for (;;) {
		char *msg = NULL;
		int n = PQgetCopyData(conn, &msg, 0);

		if (n == -1)
			break;                   /* the COPY is over */
		if (n == -2) {
			if (rc == 0)
				rc = fo_pg_fail(conn, NULL, "reading instance_usage_hourly", err);
			break;
		}
		if (rc < 0) {
			/*
			 * An error or a stop request: the server is asked to cancel, so
			 * that what it still sends is a moment's worth, not the rest of
			 * the window, before the connection is free again.
			 */
			if (!cancelled) {
				PGcancel *cancel = PQgetCancel(conn);
				char why[256];

				if (cancel) {
					PQcancel(cancel, why, sizeof(why));
					PQfreeCancel(cancel);
				}
				cancelled = 1;
			}
			PQfreemem(msg);
			continue;
		}
		got = parse_row((const unsigned char *)msg, (size_t)n, first, f);
		first = 0;
		if (got == 1) {
			if (id[0] && ((size_t)f[0].len != strlen(id) ||
				      memcmp(id, f[0].p, (size_t)f[0].len) != 0)) {
				rc = decide(k, &in, err);
				in.n = 0;
			}
			field_text(&f[0], id, sizeof(id));
			field_text(&f[0], in.id, sizeof(in.id));
			if (rc == 0 && add_sample(&in, f) < 0)
				rc = fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		} else if (got < 0) {
			rc = fo_err_set(err, FO_EXIT_FAILURE, "reading instance_usage_hourly: a COPY"
					" row not in the format asked for");
		}
		PQfreemem(msg);
		if (rc == 0 && fo_stop_requested())
			rc = fo_err_set(err, FO_EXIT_TRANSIENT, "interrupted");
	}
	/* the COPY's own result */
	while ((res = PQgetResult(conn)) != NULL) {
		if (rc == 0 && PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = fo_pg_fail(conn, res, "reading instance_usage_hourly", err);
		PQclear(res);
	}
	if (rc == 0 && in.id[0] && in.n)
		rc = decide(k, &in, err);
	free(in.s);
	free(in.scratch);
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
		rc = fo_pg_begin_writer(ctx->conn, err);
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
