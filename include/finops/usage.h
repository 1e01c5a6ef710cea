/*
 * usage.h: hourly utilization of EC2 instances into
 * finops.instance_usage_hourly, from CloudWatch GetMetricData or from
 * CloudWatch Metric Streams files (JSON lines, gzip or plain, local or S3).
 *
 * A run covers a window [start, end) of whole hours, as an Airflow task's
 * data interval: every hour of the window that has data is computed from all
 * of it and upserted by (instance, hour), so a window loaded again gives the
 * same rows and overlapping windows never double count. Metric-stream
 * sources must therefore hold every datapoint of the window's hours.
 * Metrics: AWS/EC2 CPUUtilization (average, maximum), NetworkIn and
 * NetworkOut (sums, bytes), CWAgent mem_used_percent (average, maximum);
 * memory missing is NULL, never zero.
 */
#ifndef FINOPS_USAGE_H
#define FINOPS_USAGE_H

#include <stddef.h>
#include <stdint.h>

#include "finops/error.h"
#include "finops/run.h"

/* The metrics read: CloudWatch's CPUUtilization, CWAgent mem_used_percent, NetworkIn/Out. */
enum fo_usage_metric { FO_USAGE_CPU, FO_USAGE_MEMORY, FO_USAGE_NET_IN, FO_USAGE_NET_OUT };

/* One CloudWatch Metric Streams record, as fo_usage_parse_stream_line() read it. */
struct fo_usage_point {
	int ignore;                  /* another metric or namespace, or a group aggregate */
	int metric;                  /* enum fo_usage_metric */
	char instance_id[64], account_id[64], region[64];
	int64_t ts_ms;               /* the datapoint's minute, Unix milliseconds */
	double sum, count, max;      /* its statistic set */
};

/*
 * Parses and checks one JSON line of CloudWatch Metric Streams output (file
 * and lineno name it in messages): 0 with *p filled (p->ignore for records
 * usage_ingest does not use), or FO_EXIT_BAD_INPUT for a line that is not a
 * record, or holds values CloudWatch never reports.
 */
int fo_usage_parse_stream_line(const char *file, unsigned long long lineno, const char *line,
			       size_t len, struct fo_usage_point *p, fo_err *err);

/* The longest window one run loads (a quarter). */
#define FO_USAGE_MAX_WINDOW_DAYS 93

struct fo_usage_opts {
	const char *start, *end;  /* ISO 8601, UTC, on the hour */
	char **instances;         /* explicit instance ids; none: from the billing table */
	size_t ninstances;
	const char *region;       /* region of explicit instances (NULL: AWS_REGION ...) */
	char **streams;           /* metric-stream files, directories or s3:// URIs */
	size_t nstreams;          /* none: CloudWatch GetMetricData */
	int skip_present;         /* load only the window's hours that have no usage yet */
	int shard, nshards;       /* --shard I/N: only instances whose id is in shard I of N
				     (core.h fo_shard_of); nshards 0: every instance */
};

/*
 * Checks the options without connecting anywhere: the window (both ends on
 * the hour, end after start, at most FO_USAGE_MAX_WINDOW_DAYS), --instance
 * only without sources, and that
 * every local source exists. FO_EXIT_USAGE, or FO_EXIT_BAD_INPUT for a
 * missing source. fo_usage_ingest() checks them again.
 */
int fo_usage_check(const struct fo_usage_opts *opts, fo_err *err);

int fo_usage_ingest(struct fo_run *ctx, const struct fo_usage_opts *opts, fo_err *err);

#endif
