/*
 * usage.c: hourly EC2 utilization from CloudWatch or Metric Streams files
 * (see usage.h).
 *
 * Both sources fill one roll-up (rollup.h); CloudWatch is asked in
 * from_cloudwatch.c, metric-stream files are read here. One statement at the end
 * merges the partial aggregates of each (instance, hour) and upserts them.
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
#include "usage/run.h"
#include "core/core.h"

_Static_assert((int)M_CPU == FO_USAGE_CPU && (int)M_MEM == FO_USAGE_MEMORY &&
	       (int)M_NET_IN == FO_USAGE_NET_IN && (int)M_NET_OUT == FO_USAGE_NET_OUT &&
	       NMETRICS == 4, "rollup.h's metrics are usage.h's");

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

const char *const usage_metric_names[NMETRICS] = {
	"CPUUtilization", "mem_used_percent", "NetworkIn", "NetworkOut",
};

/*
 * Whether one datapoint is physically possible: every value finite,
 * percentages within 0-100, byte counts not negative, the maximum not below
 * the average and the minimum not above it. CloudWatch never reports
 * anything else, so such a value means a broken producer or a file that is
 * not what it claims: the run refuses it (docs/operations.md). Returns 0, or
 * -1 with the field at fault and why in msg.
 */
int
usage_implausible(enum metric m, double avg, double max, double min, int has_min,
		  enum dp_field *field, char *msg, size_t len)
{
	const double tol = 1e-9 * (1 + fabs(avg));
	const char *name = usage_metric_names[m];
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
		if (usage_implausible((enum metric)m, p->count > 0 ? p->sum / p->count : p->max, p->max,
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
	if (!usage_in_shard(r, p.instance_id, strlen(p.instance_id))) {
		r->other_shards++;
		return 0;
	}
	if (usage_hour_present(r, p.ts_ms / 1000 - (p.ts_ms / 1000 - r->start_s) % 3600)) {
		r->present_points++;
		return 0;
	}
	idx = instance_of(&r->inst, p.instance_id, strlen(p.instance_id));
	if (idx < 0)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	instance_set_text(&r->inst.v[idx].account, p.account_id);
	instance_set_text(&r->inst.v[idx].region, p.region);
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

int
usage_in_shard(const struct run *r, const char *id, size_t len)
{
	return !r->opts->nshards ||
	       fo_shard_of(id, len, (unsigned)r->opts->nshards) == (unsigned)r->opts->shard;
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
	/*
	 * In (instance, hour) order: runs of overlapping shards (or a sharded and
	 * an unsharded one) upserting the same rows at once take their row locks
	 * in the same order, so one waits for the other and they never deadlock.
	 */
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
		"  GROUP BY instance_id, hour ORDER BY instance_id, hour"
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

/*
 * --skip-present: the hours of the window that already have usage rows (of
 * any instance: every run loads an hour whole, in one transaction), which
 * this run leaves as they are.
 */
static int
find_present(struct run *r, fo_err *err)
{
	char s[40], e[40];
	struct fo_ts ts1 = {r->start_s, 0}, ts2 = {r->end_s, 0};
	size_t hours = (size_t)((r->end_s - r->start_s) / 3600);
	PGresult *res;

	fo_ts_format(&ts1, s, sizeof(s));
	fo_ts_format(&ts2, e, sizeof(e));
	r->present = calloc(hours, 1);
	if (!r->present)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	if (fo_pg_query(r->ctx->conn,
			"SELECT (extract(epoch FROM h) - extract(epoch FROM $1::timestamptz))::bigint"
			"       / 3600"
			"  FROM generate_series($1::timestamptz, $2::timestamptz - interval '1 hour',"
			"                       interval '1 hour') h"
			" WHERE EXISTS (SELECT 1 FROM finops.instance_usage_hourly u WHERE u.hour = h)",
			2, (const char *[]){s, e}, &res, err) < 0)
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		long long h = atoll(PQgetvalue(res, i, 0));

		if (h >= 0 && (size_t)h < hours && !r->present[h]) {
			r->present[h] = 1;
			r->present_hours++;
		}
	}
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
	char scope[64];
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
	if (opts->nshards)
		snprintf(scope, sizeof(scope), "usage shard %d/%d", opts->shard, opts->nshards);
	rc = fo_run_lock(ctx, opts->nshards ? scope : "usage", err);
	/*
	 * The window's partitions first, in a transaction of their own under a
	 * lock, so that runs at once (shards) never race to create one; an empty
	 * partition is harmless. A dry run makes them in its own transaction.
	 */
	if (rc == 0 && !ctx->dry_run) {
		rc = fo_pg_begin_writer(ctx->conn, err);
		if (rc == 0)
			rc = fo_pg_query(ctx->conn, "SELECT pg_advisory_xact_lock(hashtextextended("
					 "'finops usage partitions', 0))", 0, NULL, NULL, err);
		if (rc == 0)
			rc = ensure_partitions(&r, err);
		if (rc == 0)
			rc = fo_pg_commit(ctx->conn, err);
		else
			fo_pg_rollback(ctx->conn);
	}
	if (rc == 0)
		rc = fo_pg_begin_writer(ctx->conn, err);
	if (rc == 0 && ctx->dry_run)
		rc = ensure_partitions(&r, err);
	if (rc == 0)
		rc = fo_pg_exec(ctx->conn, stage_sql, err);
	if (rc == 0 && opts->skip_present)
		rc = find_present(&r, err);
	if (rc == 0 && opts->skip_present &&
	    r.present_hours == (size_t)((r.end_s - r.start_s) / 3600)) {
		/* every hour is there: nothing to ask anyone for */
		fo_pg_rollback(ctx->conn);
		fo_buf_printf(&ctx->summary, "every hour of the window has usage already (%zu);"
			      " nothing loaded", r.present_hours);
		ctx->nothing_new = 1;
		free(r.present);
		rollup_free(&r.roll);
		return 0;
	}
	if (rc == 0 && !opts->nstreams)
		rc = usage_cw_instances(&r, err);
	if (rc == 0)
		rc = fo_copy_begin(ctx->conn, "usage_stage", stage_columns,
				   sizeof(stage_columns) / sizeof(stage_columns[0]), 0, &r.roll.copy,
				   err);
	if (rc == 0)
		rc = opts->nstreams ? from_streams(&r, err) : usage_from_cloudwatch(&r, err);
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
		if (opts->nshards)
			fo_buf_printf(&ctx->summary, "; shard %d/%d (%lld %s of other shards left out)",
				      opts->shard, opts->nshards, r.other_shards,
				      opts->nstreams ? "datapoint(s)" : "instance(s)");
		if (opts->skip_present)
			fo_buf_printf(&ctx->summary, "; %zu of %lld hour(s) present already, left as"
				      " they are (%lld datapoint(s) of theirs skipped)", r.present_hours,
				      (long long)((r.end_s - r.start_s) / 3600), r.present_points);
		ctx->nothing_new = rows == 0;
	}
	rollup_free(&r.roll);
	instances_free(&r.inst);
	free(r.present);
	return rc;
}
