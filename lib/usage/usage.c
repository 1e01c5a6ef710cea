/*
 * usage.c: hourly EC2 utilization from CloudWatch or Metric Streams files
 * (see usage.h).
 *
 * Both sources fill one roll-up: cells keyed by (instance, hour) holding the
 * sums, counts and maxima of each metric. Cells are flushed by COPY into a
 * temporary table as partial aggregates (when they fall OPEN_HOURS behind the
 * newest datapoint, or when too many are open), and one statement at the end
 * merges the partials of each (instance, hour) and upserts them. Memory is
 * bounded by the open cells, not by the size of the input.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "finops/buf.h"
#include "finops/copy.h"
#include "finops/csvread.h"
#include "finops/datetime.h"
#include "finops/http.h"
#include "finops/log.h"
#include "finops/pg.h"
#include "finops/source.h"
#include "finops/usage.h"
#include "finops/stop.h"
#include "aws/cloudwatch.h"
#include "core/core.h"

enum metric {
	M_CPU = FO_USAGE_CPU, M_MEM = FO_USAGE_MEMORY, M_NET_IN = FO_USAGE_NET_IN,
	M_NET_OUT = FO_USAGE_NET_OUT, NMETRICS
};

/* ---- instances ---------------------------------------------------------- */

struct instance {
	char *id, *account, *region;
	int seen;                    /* had a datapoint */
};

struct instances {
	struct instance *v;
	size_t n, cap;
	uint32_t *slots;             /* open addressing: index + 1, 0 empty */
	size_t nslots;
};

static uint64_t
hash_str(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;          /* FNV-1a */

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

static void
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
	uint32_t *s = calloc(n, sizeof(*s));

	if (!s)
		return -1;
	for (size_t i = 0; i < t->n; i++) {
		uint64_t h = hash_str(t->v[i].id, strlen(t->v[i].id));

		for (size_t k = h & (n - 1);; k = (k + 1) & (n - 1))
			if (!s[k]) {
				s[k] = (uint32_t)i + 1;
				break;
			}
	}
	free(t->slots);
	t->slots = s;
	t->nslots = n;
	return 0;
}

/* The index of instance id (n bytes), added when new; -1 out of memory. */
static long
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

static void
set_text(char **dst, const char *v)
{
	if (v && *v && (!*dst || strcmp(*dst, v) != 0)) {
		free(*dst);
		*dst = strdup(v);
	}
}

/* ---- the roll-up ---------------------------------------------------------- */

struct cell {
	uint32_t inst;               /* index + 1; 0: empty slot */
	int32_t hour;                /* hours since the Unix epoch */
	double sum[NMETRICS], count[NMETRICS], max[NMETRICS];
	uint64_t minutes[NMETRICS];  /* minutes seen, to drop duplicate datapoints */
};

struct rollup {
	struct cell *cells;
	size_t nslots, used;         /* open addressing, at most half full */
	int32_t newest;
	fo_copy *copy;
	long long duplicates, flushed;
};

static uint64_t
cell_hash(uint32_t inst, int32_t hour)
{
	uint64_t h = ((uint64_t)inst << 32) ^ (uint32_t)hour;

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

#define ROLLUP_MIN_SLOTS (1u << 14)
/*
 * Hours kept open behind the newest datapoint: streams arrive in time order,
 * and a record Firehose delivers twice comes again within minutes, so a
 * duplicate up to this far behind is still recognised in its open cell.
 */
#define OPEN_HOURS 3
#define ROLLUP_MAX_SLOTS (1u << 21)     /* ~290 MB of cells at most */

static int
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
static int
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
static int
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

static void
rollup_free(struct rollup *r)
{
	free(r->cells);
	r->cells = NULL;
}

/* ---- the run -------------------------------------------------------------- */

struct run {
	struct fo_run *ctx;
	const struct fo_usage_opts *opts;
	int64_t start_s, end_s;
	struct instances inst;
	struct rollup roll;
	const char *source;          /* "metric_stream" or "cloudwatch" */
	/* metric streams */
	const char *file;
	long long lines, used_lines, ignored, outside;
	size_t files;
};

static const char stage_sql[] =
	"CREATE TEMP TABLE usage_stage (instance_id text NOT NULL, hour timestamptz NOT NULL,"
	" account_id text, region text,"
	" cpu_sum float8, cpu_n float8, cpu_max float8, mem_sum float8, mem_n float8,"
	" mem_max float8, in_sum float8, in_n float8, in_max float8, out_sum float8,"
	" out_n float8, out_max float8) ON COMMIT DROP";

static const char *const stage_columns[] = {
	"instance_id", "hour", "account_id", "region", "cpu_sum", "cpu_n", "cpu_max", "mem_sum",
	"mem_n", "mem_max", "in_sum", "in_n", "in_max", "out_sum", "out_n", "out_max",
};

static int
parse_time(const char *what, const char *s, int64_t *out, fo_err *err)
{
	struct fo_ts ts;
	const char *why;

	if (!s)
		return fo_err_set(err, FO_EXIT_USAGE, "%s is required (ISO 8601, UTC:"
				  " 2026-11-01T00:00:00Z)", what);
	if (fo_ts_parse(s, strlen(s), &ts, &why) < 0)
		return fo_err_set(err, FO_EXIT_USAGE, "%s %s: %s", what, s, why);
	if (ts.micros || ts.epoch_s % 3600)
		return fo_err_set(err, FO_EXIT_USAGE, "%s %s: not on the hour (a window is whole"
				  " hours)", what, s);
	*out = ts.epoch_s;
	return 0;
}

/* ---- what CloudWatch can report ------------------------------------------- */

static const char *const metric_names[NMETRICS] = {
	"CPUUtilization", "mem_used_percent", "NetworkIn", "NetworkOut",
};

enum dp_field { DP_AVG, DP_MAX, DP_MIN };

/*
 * Whether one datapoint is physically possible: every value finite,
 * percentages within 0-100, byte counts not negative, the maximum not below
 * the average and the minimum not above it. CloudWatch never reports
 * anything else, so such a value means a broken producer or a file that is
 * not what it claims: the run refuses it (docs/operations.md). Returns 0, or
 * -1 with the field at fault and why in msg.
 */
static int
implausible(enum metric m, double avg, double max, double min, int has_min, enum dp_field *field,
	    char *msg, size_t len)
{
	const double tol = 1e-9 * (1 + fabs(avg));
	const char *name = metric_names[m];
	int percent = m == M_CPU || m == M_MEM;
	struct {
		enum dp_field f;
		double v;
		int present;
	} vals[3] = {{DP_AVG, avg, 1}, {DP_MAX, max, 1}, {DP_MIN, min, has_min}};

	for (int i = 0; i < 3; i++) {
		if (!vals[i].present)
			continue;
		*field = vals[i].f;
		if (!isfinite(vals[i].v)) {
			snprintf(msg, len, "%s %g is not a finite number", name, vals[i].v);
			return -1;
		}
		if (vals[i].v < 0) {
			snprintf(msg, len, "%s %g is negative", name, vals[i].v);
			return -1;
		}
		if (percent && vals[i].v > 100 + 1e-9) {
			snprintf(msg, len, "%s %g is above 100 (a percentage)", name, vals[i].v);
			return -1;
		}
	}
	*field = DP_MAX;
	if (max < avg - tol) {
		snprintf(msg, len, "%s maximum %g is below the average %g", name, max, avg);
		return -1;
	}
	*field = DP_MIN;
	if (has_min && min > avg + tol) {
		snprintf(msg, len, "%s minimum %g is above the average %g", name, min, avg);
		return -1;
	}
	return 0;
}

/* ---- metric streams ------------------------------------------------------- */

static int
metric_of(const char *ns, const char *name)
{
	if (strcmp(ns, "AWS/EC2") == 0) {
		if (strcmp(name, "CPUUtilization") == 0)
			return M_CPU;
		if (strcmp(name, "NetworkIn") == 0)
			return M_NET_IN;
		if (strcmp(name, "NetworkOut") == 0)
			return M_NET_OUT;
	} else if (strcmp(ns, "CWAgent") == 0 && strcmp(name, "mem_used_percent") == 0) {
		return M_MEM;
	}
	return -1;
}

/* Copies a JSON string member into out (of len bytes); -1 when it does not fit. */
static int
copy_member(json_t *j, const char *key, char *out, size_t len)
{
	const char *v = json_string_value(json_object_get(j, key));

	out[0] = '\0';
	if (!v)
		return 0;
	if (strlen(v) >= len)
		return -1;
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

int
fo_usage_parse_stream_line(const char *file, unsigned long long lineno, const char *line,
			   size_t len, struct fo_usage_point *p, fo_err *err)
{
	json_error_t jerr;
	json_t *j, *dims, *val, *inst_id, *jmin;
	const char *ns, *name;
	json_int_t ts;
	int m, rc = 0;

	memset(p, 0, sizeof(*p));
	p->ignore = 1;
	if (len == 0)
		return 0;
	j = json_loadb(line, len, 0, &jerr);
	if (!j)
		return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s:%llu: not a JSON object: %s", file,
				  lineno, jerr.text);
	/* every message is written before j, which holds the strings, is freed */
	if (json_unpack_ex(j, &jerr, 0, "{s:s, s:s, s:o, s:I, s:o}", "namespace", &ns,
			   "metric_name", &name, "dimensions", &dims, "timestamp", &ts, "value",
			   &val) < 0) {
		rc = fo_err_set(err, FO_EXIT_BAD_INPUT, "%s:%llu: not a metric-stream record: %s",
				file, lineno, jerr.text);
		goto out;
	}
	m = metric_of(ns, name);
	inst_id = json_is_object(dims) ? json_object_get(dims, "InstanceId") : NULL;
	/* AWS/EC2 also streams per-group aggregates (by AutoScalingGroupName,
	 * InstanceType, ...): only the per-instance series counts */
	if (m < 0 || !json_is_string(inst_id) ||
	    (m != M_MEM && json_object_size(dims) != 1))
		goto out;
	if (json_unpack_ex(val, &jerr, 0, "{s:F, s:F, s:F}", "sum", &p->sum, "count", &p->count,
			   "max", &p->max) < 0 || !isfinite(p->sum) || !isfinite(p->max) ||
	    !isfinite(p->count) || p->count < 0 || (p->count == 0 && p->sum != 0)) {
		rc = fo_err_set(err, FO_EXIT_BAD_INPUT, "%s:%llu: value: %s", file, lineno,
				jerr.text[0] ? jerr.text : "not a finite sum, count and max (count"
				" a number of samples)");
		goto out;
	}
	if (json_string_length(inst_id) >= sizeof(p->instance_id) ||
	    strncmp(json_string_value(inst_id), "i-", 2) != 0) {
		rc = fo_err_set(err, FO_EXIT_BAD_INPUT, "%s:%llu: dimensions.InstanceId \"%.40s\" is"
				" not an instance id", file, lineno, json_string_value(inst_id));
		goto out;
	}
	memcpy(p->instance_id, json_string_value(inst_id), json_string_length(inst_id) + 1);
	if (copy_member(j, "account_id", p->account_id, sizeof(p->account_id)) < 0 ||
	    copy_member(j, "region", p->region, sizeof(p->region)) < 0) {
		rc = fo_err_set(err, FO_EXIT_BAD_INPUT, "%s:%llu: account_id or region is longer"
				" than %zu characters", file, lineno, sizeof(p->region) - 1);
		goto out;
	}
	jmin = json_object_get(val, "min");
	if (jmin && !json_is_number(jmin)) {
		rc = fo_err_set(err, FO_EXIT_BAD_INPUT, "%s:%llu: value.min: not a number", file,
				lineno);
		goto out;
	}
	{
		static const char *const fields[] = {"value.sum / value.count", "value.max",
						     "value.min"};
		enum dp_field f;
		char why[160];

		/* a record of no samples is a no-op, but its values must still be possible */
		if (implausible((enum metric)m, p->count > 0 ? p->sum / p->count : p->max, p->max,
				json_number_value(jmin), jmin != NULL && p->count > 0, &f, why,
				sizeof(why)) < 0) {
			if (p->count == 0)
				f = DP_MAX;      /* no average without samples: the maximum */
			rc = fo_err_set(err, FO_EXIT_BAD_INPUT, "%s:%llu: %s: %s (instance %s)", file,
					lineno, fields[f], why, p->instance_id);
			goto out;
		}
	}
	p->ignore = 0;
	p->metric = m;
	p->ts_ms = (int64_t)ts;
out:
	json_decref(j);
	return rc;
}

static int
stream_line(void *arg, const char *line, size_t len, unsigned long long lineno, fo_err *err)
{
	struct run *r = arg;
	struct fo_usage_point p;
	long idx;

	r->lines++;
	if (len == 0)
		return 0;
	if (fo_usage_parse_stream_line(r->file, lineno, line, len, &p, err) < 0)
		return -1;
	if (p.ignore) {
		r->ignored++;
		return 0;
	}
	if (p.ts_ms / 1000 < r->start_s || p.ts_ms / 1000 >= r->end_s) {
		r->outside++;
		return 0;
	}
	idx = instance_of(&r->inst, p.instance_id, strlen(p.instance_id));
	if (idx < 0)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	set_text(&r->inst.v[idx].account, p.account_id);
	set_text(&r->inst.v[idx].region, p.region);
	r->inst.v[idx].seen = 1;
	r->used_lines++;
	if (p.count > 0)
		return rollup_add(&r->roll, &r->inst, (uint32_t)idx, p.ts_ms, (enum metric)p.metric,
				  p.sum, p.count, p.max, err);
	return 0;
}

static int
stream_file(struct run *r, const char *name, fo_err *err)
{
	fo_source_file *f;
	int rc;

	r->file = name;
	r->files++;
	if (fo_source_open(name, &f, err) < 0)
		return -1;
	rc = fo_lines_read(name, fo_source_read, f, stream_line, r, NULL, err);
	fo_source_close(f);
	return rc;
}

/* Every file of each source, a directory or prefix however deep, in name order. */
static int
from_streams(struct run *r, fo_err *err)
{
	for (size_t i = 0; i < r->opts->nstreams; i++) {
		const char *src = r->opts->streams[i];
		enum fo_source_kind kind;
		char **files;
		size_t n;
		int rc;

		if (fo_source_kind_of(src, &kind, err) < 0)
			return -1;
		if (!FO_SOURCE_IS_LISTING(kind)) {
			if (stream_file(r, src, err) < 0)
				return -1;
			continue;
		}
		if (fo_source_list(src, FO_SOURCE_DEEP, &files, &n, err) < 0)
			return -1;
		rc = 0;
		for (size_t k = 0; rc == 0 && k < n; k++)
			rc = stream_file(r, files[k], err);
		fo_source_free_list(files, n);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* ---- CloudWatch GetMetricData ---------------------------------------------- */

/* Queries per instance: what each returns, in the order of query ids. */
static const struct fo_cw_metric cw_metrics[] = {
	{"AWS/EC2", "CPUUtilization", "Average"},
	{"AWS/EC2", "CPUUtilization", "Maximum"},
	{"AWS/EC2", "CPUUtilization", "SampleCount"},
	{"CWAgent", "mem_used_percent", "Average"},
	{"CWAgent", "mem_used_percent", "Maximum"},
	{"AWS/EC2", "NetworkIn", "Sum"},
	{"AWS/EC2", "NetworkOut", "Sum"},
};
#define NQ (sizeof(cw_metrics) / sizeof(cw_metrics[0]))
/* which metric each query is, and which part: 0 sum (as avg * 1), 1 count, 2 max */
static const struct {
	enum metric m;
	int field;
} cw_fields[NQ] = {
	{M_CPU, 0}, {M_CPU, 2}, {M_CPU, 1}, {M_MEM, 0}, {M_MEM, 2}, {M_NET_IN, 0}, {M_NET_OUT, 0},
};

/* Values of one instance and hour from CloudWatch, filled query by query. */
struct cw_cell {
	double v[NQ];
	unsigned have;               /* bit per query */
};

/* One region's batch being filled: the cells of its instances' hours. */
struct cw_batch {
	struct run *r;
	const char *region;
	const long *idx;             /* instance table index of each id */
	size_t hours;
	struct cw_cell *cells;       /* n x hours of the current batch */
	size_t first, n;
};

static int
cw_begin(void *ctx, size_t first, size_t n, fo_err *err)
{
	struct cw_batch *b = ctx;

	free(b->cells);
	b->cells = calloc(n * b->hours + 1, sizeof(*b->cells));
	if (!b->cells)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	b->first = first;
	b->n = n;
	return 0;
}

static int
cw_point(void *ctx, size_t id, size_t q, int64_t hour_s, double value, fo_err *err)
{
	struct cw_batch *b = ctx;
	struct cw_cell *c = &b->cells[(id - b->first) * b->hours +
				      (size_t)((hour_s - b->r->start_s) / 3600)];

	(void)err;
	c->v[q] = value;
	c->have |= 1u << q;
	return 0;
}

/* Into the roll-up: one sample per hour and metric, each checked first. */
static int
cw_end(void *ctx, size_t first, size_t n, int partial, fo_err *err)
{
	struct cw_batch *b = ctx;
	struct run *r = b->r;
	int rc = 0;

	(void)first;
	(void)partial;
	for (size_t i = 0; rc == 0 && i < n; i++)
		for (size_t h = 0; rc == 0 && h < b->hours; h++) {
			struct cw_cell *c = &b->cells[i * b->hours + h];
			int64_t ms = (r->start_s + (int64_t)h * 3600) * 1000;
			long inst = b->idx[b->first + i];

			if (!c->have)
				continue;
			r->inst.v[inst].seen = 1;
			for (int m = 0; m < NMETRICS && rc == 0; m++) {
				double sum = 0, max = 0, count = 0;
				int any = 0, has_sum = 0, has_max = 0;

				for (size_t q = 0; q < NQ; q++) {
					if ((int)cw_fields[q].m != m || !(c->have & (1u << q)))
						continue;
					any = 1;
					if (cw_fields[q].field == 0) {
						sum = c->v[q];
						has_sum = 1;
					} else if (cw_fields[q].field == 2) {
						max = c->v[q];
						has_max = 1;
					} else {
						count = c->v[q];
					}
				}
				if (!any)
					continue;
				/* CloudWatch gives hourly figures: one datapoint a metric and hour;
				 * SampleCount rides on the CPU cell's count */
				if (m != M_CPU || count == 0)
					count = 1;
				/* a sum of bytes is its own maximum */
				if (m == M_NET_IN || m == M_NET_OUT)
					max = sum;
				{
					static const char *const stats[] = {"Average", "Maximum",
									    "Minimum"};
					/* one statistic missing: check the other alone */
					double cavg = has_sum ? sum : max, cmax = has_max ? max : cavg;
					enum dp_field f;
					char why[160], when[40];
					struct fo_ts t = {ms / 1000, 0};

					if (implausible((enum metric)m, cavg, cmax, 0, 0, &f, why,
							sizeof(why)) < 0) {
						fo_ts_format(&t, when, sizeof(when));
						return fo_err_set(err, FO_EXIT_BAD_INPUT, "CloudWatch"
								  " GetMetricData in %s: %s %s of %s at"
								  " %s: %s", b->region, metric_names[m],
								  m >= M_NET_IN ? "Sum" : stats[f],
								  r->inst.v[inst].id, when, why);
					}
				}
				rc = rollup_add(&r->roll, &r->inst, (uint32_t)inst, ms, (enum metric)m,
						m == M_CPU ? sum * count : sum, count, max, err);
			}
		}
	return rc;
}

/* The instances of one region, asked in batches; their hours go to the roll-up. */
static int
cw_region(struct run *r, const char *region, const long *idx, size_t n, fo_err *err)
{
	const char **ids = calloc(n ? n : 1, sizeof(*ids));
	struct cw_batch b = {r, region, idx, (size_t)((r->end_s - r->start_s) / 3600), NULL, 0,
			     0};
	struct fo_cw_handler h = {&b, cw_begin, cw_point, cw_end};
	int rc;

	if (!ids)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	for (size_t i = 0; i < n; i++)
		ids[i] = r->inst.v[idx[i]].id;
	rc = fo_cw_get_metric_data(region, ids, n, cw_metrics, NQ, r->start_s, r->end_s, &h, err);
	free(b.cells);
	free(ids);
	return rc;
}

static int
instances_from_billing(struct run *r, fo_err *err)
{
	char s[40], e[40];
	struct fo_ts ts1 = {r->start_s, 0}, ts2 = {r->end_s, 0};
	const char *params[2] = {s, e};
	PGresult *res;

	fo_ts_format(&ts1, s, sizeof(s));
	fo_ts_format(&ts2, e, sizeof(e));
	if (fo_pg_query(r->ctx->conn,
			"SELECT DISTINCT resource_id, sub_account_id, region_id"
			"  FROM finops.billing_line_items"
			" WHERE product_code = 'AmazonEC2' AND resource_id LIKE 'i-%'"
			"   AND usage_type ~ '(BoxUsage|DedicatedUsage|SpotUsage)'"
			"   AND charge_period_start < $2::timestamptz"
			"   AND coalesce(charge_period_end, charge_period_start + interval '1 hour')"
			"       > $1::timestamptz"
			" ORDER BY 1", 2, params, &res, err) < 0)
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		long k = instance_of(&r->inst, PQgetvalue(res, i, 0),
				     (size_t)PQgetlength(res, i, 0));

		if (k < 0) {
			PQclear(res);
			return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		}
		set_text(&r->inst.v[k].account, PQgetvalue(res, i, 1));
		set_text(&r->inst.v[k].region, PQgetvalue(res, i, 2));
	}
	PQclear(res);
	return 0;
}

static const char *
default_region(const struct run *r)
{
	const char *region = r->opts->region ? r->opts->region : fo_env("AWS_REGION");

	if (!region)
		region = fo_env("AWS_DEFAULT_REGION");
	return region ? region : "us-east-1";
}

/* The instances to ask CloudWatch about (before the COPY holds the connection). */
static int
cw_instances(struct run *r, fo_err *err)
{
	if (r->opts->ninstances == 0)
		return instances_from_billing(r, err);
	for (size_t i = 0; i < r->opts->ninstances; i++) {
		long k = instance_of(&r->inst, r->opts->instances[i], strlen(r->opts->instances[i]));

		if (k < 0)
			return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		set_text(&r->inst.v[k].region, default_region(r));
	}
	return 0;
}

static int
from_cloudwatch(struct run *r, fo_err *err)
{
	const char *def_region = default_region(r);
	long *idx;
	int rc = 0;

	if (r->inst.n == 0) {
		fo_logf(FO_LOG_WARN, NULL, 0, "no instances: none given and no EC2 instance hours in"
			" the billing table for the window");
		return 0;
	}
	idx = calloc(r->inst.n, sizeof(*idx));
	if (!idx)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	/* by region: CloudWatch is regional */
	for (size_t i = 0; i < r->inst.n && rc == 0; i++) {
		const char *region = r->inst.v[i].region ? r->inst.v[i].region : def_region;
		size_t n = 0;
		int done = 0;

		for (size_t j = 0; j < i && !done; j++)
			done = strcmp(r->inst.v[j].region ? r->inst.v[j].region : def_region,
				      region) == 0;
		if (done)
			continue;
		for (size_t j = i; j < r->inst.n; j++)
			if (strcmp(r->inst.v[j].region ? r->inst.v[j].region : def_region, region) == 0)
				idx[n++] = (long)j;
		rc = cw_region(r, region, idx, n, err);
	}
	free(idx);
	return rc;
}

/* ---- merge ---------------------------------------------------------------- */

static int
ensure_partitions(struct run *r, fo_err *err)
{
	struct fo_ts ts = {r->start_s, 0};
	char from[16];

	fo_ts_date(&ts, from, sizeof(from));
	for (int y = atoi(from), m = atoi(from + 5);;) {
		char sql[512];
		int ny = m == 12 ? y + 1 : y, nm = m == 12 ? 1 : m + 1;
		int64_t month_start;
		struct fo_ts mt;
		char buf[16];
		const char *why;

		snprintf(sql, sizeof(sql),
			 "CREATE TABLE IF NOT EXISTS finops.instance_usage_hourly_p%04d%02d PARTITION OF"
			 " finops.instance_usage_hourly FOR VALUES FROM ('%04d-%02d-01 00:00+00')"
			 " TO ('%04d-%02d-01 00:00+00')", y, m, y, m, ny, nm);
		if (fo_pg_exec(r->ctx->conn, sql, err) < 0)
			return -1;
		snprintf(buf, sizeof(buf), "%04d-%02d-01", ny, nm);
		if (fo_ts_parse(buf, strlen(buf), &mt, &why) < 0)
			return fo_err_set(err, FO_EXIT_FAILURE, "bad month %s", buf);
		month_start = mt.epoch_s;
		if (month_start >= r->end_s)
			break;
		y = ny;
		m = nm;
	}
	return 0;
}

static int
merge(struct run *r, long long *rows, fo_err *err)
{
	char s[40], e[40], run_id[24];
	struct fo_ts ts1 = {r->start_s, 0}, ts2 = {r->end_s, 0};
	const char *params[4] = {s, e, r->source, run_id};
	PGresult *res;

	fo_ts_format(&ts1, s, sizeof(s));
	fo_ts_format(&ts2, e, sizeof(e));
	snprintf(run_id, sizeof(run_id), "%lld", r->ctx->run_id);
	if (ensure_partitions(r, err) < 0)
		return -1;
	if (fo_pg_query(r->ctx->conn,
		"INSERT INTO finops.instance_usage_hourly AS u (instance_id, hour, account_id, region,"
		"  cpu_avg, cpu_max, mem_avg, mem_max, net_in_bytes, net_out_bytes, sample_count,"
		"  source, run_id)"
		" SELECT instance_id, hour, max(account_id), max(region),"
		"        sum(cpu_sum) / nullif(sum(cpu_n), 0), max(cpu_max),"
		"        sum(mem_sum) / nullif(sum(mem_n), 0), max(mem_max),"
		"        CASE WHEN sum(in_n) > 0 THEN sum(in_sum) END,"
		"        CASE WHEN sum(out_n) > 0 THEN sum(out_sum) END,"
		"        coalesce(sum(cpu_n), 0)::integer, $3, nullif($4, '0')::bigint"
		"   FROM usage_stage"
		"  WHERE hour >= $1::timestamptz AND hour < $2::timestamptz"
		"  GROUP BY instance_id, hour"
		" ON CONFLICT (instance_id, hour) DO UPDATE SET account_id = EXCLUDED.account_id,"
		"   region = EXCLUDED.region, cpu_avg = EXCLUDED.cpu_avg, cpu_max = EXCLUDED.cpu_max,"
		"   mem_avg = EXCLUDED.mem_avg, mem_max = EXCLUDED.mem_max,"
		"   net_in_bytes = EXCLUDED.net_in_bytes, net_out_bytes = EXCLUDED.net_out_bytes,"
		"   sample_count = EXCLUDED.sample_count, source = EXCLUDED.source,"
		"   run_id = EXCLUDED.run_id, loaded_at = now()", 4, params, &res, err) < 0)
		return -1;
	*rows = atoll(PQcmdTuples(res));
	PQclear(res);
	return 0;
}

static int
window(const struct fo_usage_opts *opts, int64_t *start, int64_t *end, fo_err *err)
{
	if (parse_time("--start", opts->start, start, err) < 0 ||
	    parse_time("--end", opts->end, end, err) < 0)
		return -1;
	if (*end <= *start)
		return fo_err_set(err, FO_EXIT_USAGE, "--end %s is not after --start %s", opts->end,
				  opts->start);
	/* a window is loaded (and its partitions made) in one transaction: keep it sane */
	if (*end - *start > (int64_t)FO_USAGE_MAX_WINDOW_DAYS * 86400)
		return fo_err_set(err, FO_EXIT_USAGE, "--start %s --end %s: a window of more than"
				  " %d days; load a longer backfill window by window", opts->start,
				  opts->end, FO_USAGE_MAX_WINDOW_DAYS);
	return 0;
}

int
fo_usage_check(const struct fo_usage_opts *opts, fo_err *err)
{
	int64_t start, end;

	if (window(opts, &start, &end, err) < 0)
		return -1;
	if (opts->nstreams && opts->ninstances)
		return fo_err_set(err, FO_EXIT_USAGE, "--instance is for CloudWatch; metric-stream"
				  " files name their instances");
	for (size_t i = 0; i < opts->nstreams; i++)
		if (fo_source_check(opts->streams[i], err) < 0)
			return -1;
	return 0;
}

int
fo_usage_ingest(struct fo_run *ctx, const struct fo_usage_opts *opts, fo_err *err)
{
	struct run r;
	long long rows = 0;
	size_t silent = 0;
	int rc;

	memset(&r, 0, sizeof(r));
	r.ctx = ctx;
	r.opts = opts;
	r.source = opts->nstreams ? "metric_stream" : "cloudwatch";
	fo_source_set_region(opts->region);
	if (fo_usage_check(opts, err) < 0 || window(opts, &r.start_s, &r.end_s, err) < 0)
		return -1;
	if (rollup_init(&r.roll) < 0)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	rc = fo_run_lock(ctx, "usage", err);
	if (rc == 0)
		rc = fo_pg_begin_writer(ctx->conn, err);
	if (rc == 0)
		rc = fo_pg_exec(ctx->conn, stage_sql, err);
	if (rc == 0 && !opts->nstreams)
		rc = cw_instances(&r, err);
	if (rc == 0)
		rc = fo_copy_begin(ctx->conn, "usage_stage", stage_columns,
				   sizeof(stage_columns) / sizeof(stage_columns[0]), 0, &r.roll.copy,
				   err);
	if (rc == 0)
		rc = opts->nstreams ? from_streams(&r, err) : from_cloudwatch(&r, err);
	if (rc == 0)
		rc = rollup_flush(&r.roll, &r.inst, INT32_MAX, ROLLUP_MIN_SLOTS, err);
	if (r.roll.copy) {
		if (rc == 0)
			rc = fo_copy_finish(r.roll.copy, NULL, err);
		else
			fo_copy_abort(r.roll.copy, "failed");
		r.roll.copy = NULL;
	}
	if (rc == 0)
		rc = merge(&r, &rows, err);
	if (rc < 0 || ctx->dry_run)
		fo_pg_rollback(ctx->conn);
	else
		rc = fo_pg_commit(ctx->conn, err);
	for (size_t i = 0; i < r.inst.n; i++)
		if (!r.inst.v[i].seen) {
			if (silent < 20)
				fo_logf(FO_LOG_INFO, FO_FIELDS(FO_STR("instance_id", r.inst.v[i].id)),
					"%s: no datapoints in the window", r.inst.v[i].id);
			silent++;
		}
	if (rc == 0) {
		ctx->rows_read += opts->nstreams ? r.lines : (long long)r.inst.n;
		ctx->rows_written += ctx->dry_run ? 0 : rows;
		fo_buf_printf(&ctx->summary, "%lld instance-hour(s) %s from %s", rows,
			      ctx->dry_run ? "computed" : "upserted", r.source);
		if (opts->nstreams)
			fo_buf_printf(&ctx->summary, " (%zu file(s), %lld line(s): %lld used, %lld other"
				      " metrics, %lld outside the window, %lld duplicate(s))", r.files,
				      r.lines, r.used_lines, r.ignored, r.outside, r.roll.duplicates);
		else
			fo_buf_printf(&ctx->summary, " (%zu instance(s), %zu without datapoints)",
				      r.inst.n, silent);
		ctx->nothing_new = rows == 0;
	}
	rollup_free(&r.roll);
	instances_free(&r.inst);
	return rc;
}
