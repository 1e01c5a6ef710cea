/*
 * from_cloudwatch.c: usage from CloudWatch GetMetricData (lib/aws's client) for
 * the instances named, or those the billing table shows running in the
 * window; the datapoints it hands back fill the roll-up.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finops/datetime.h"
#include "finops/log.h"
#include "finops/pg.h"
#include "finops/run.h"
#include "finops/usage.h"
#include "aws/cloudwatch.h"
#include "usage/run.h"
#include "core/core.h"

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
			if (usage_hour_present(r, r->start_s + (int64_t)h * 3600)) {
				r->present_points++;
				continue;
			}
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

					if (usage_implausible((enum metric)m, cavg, cmax, 0, 0, &f, why,
							sizeof(why)) < 0) {
						fo_ts_format(&t, when, sizeof(when));
						return fo_err_set(err, FO_EXIT_BAD_INPUT, "CloudWatch"
								  " GetMetricData in %s: %s %s of %s at"
								  " %s: %s", b->region, usage_metric_names[m],
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
		long k;

		if (!usage_in_shard(r, PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0))) {
			r->other_shards++;
			continue;
		}
		k = instance_of(&r->inst, PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0));
		if (k < 0) {
			PQclear(res);
			return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		}
		instance_set_text(&r->inst.v[k].account, PQgetvalue(res, i, 1));
		instance_set_text(&r->inst.v[k].region, PQgetvalue(res, i, 2));
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
int
usage_cw_instances(struct run *r, fo_err *err)
{
	if (r->opts->ninstances == 0)
		return instances_from_billing(r, err);
	for (size_t i = 0; i < r->opts->ninstances; i++) {
		long k;

		if (!usage_in_shard(r, r->opts->instances[i], strlen(r->opts->instances[i]))) {
			r->other_shards++;
			continue;
		}
		k = instance_of(&r->inst, r->opts->instances[i], strlen(r->opts->instances[i]));
		if (k < 0)
			return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		instance_set_text(&r->inst.v[k].region, default_region(r));
	}
	return 0;
}

int
usage_from_cloudwatch(struct run *r, fo_err *err)
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

