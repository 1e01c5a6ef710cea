/*
 * metrics.h: how a run of a job ends, as Prometheus gauges.
 *
 * Prometheus's advice for batch jobs: export the time of the last success,
 * of the last run (success or failure), the duration, the outcome and the
 * records processed, as gauges holding timestamps, never "time since". The
 * job runner publishes them at the end of every run, to a Pushgateway
 * ($FINOPS_PUSHGATEWAY_URL), for node_exporter's textfile collector
 * ($FINOPS_METRICS_DIR), or both. Labels are job and scope only: scope is
 * the operator's name for what the run is about (--metrics-scope,
 * $FINOPS_METRICS_SCOPE, default "default"), never a value of the data, so
 * the number of series stays what the operator configures.
 *
 * A run that fails keeps the last success of the runs before it: the push
 * of a failure is a POST, which replaces only the metrics it carries and so
 * leaves the group's finops_job_last_success_timestamp_seconds alone; the
 * textfile of a failure carries the previous file's value over. A success
 * is a PUT, which replaces the whole group.
 */
#ifndef FINOPS_METRICS_H
#define FINOPS_METRICS_H

#include "finops/buf.h"
#include "finops/error.h"

/* The longest scope; its characters are [A-Za-z0-9_.:-]. */
#define FO_METRICS_SCOPE_MAX 64

struct fo_metrics_run {
	const char *job;           /* the binary's name */
	const char *scope;         /* fo_metrics_scope_ok() */
	double end_unix;           /* when the run ended, Unix seconds */
	double duration_s;
	int exit_code;
	long long rows_read;
	long long rows_written;
};

/* 1 when s may be a scope label (and a Pushgateway grouping-key value). */
int fo_metrics_scope_ok(const char *s);

/* 1 when the exit code is a success (0 done, 99 nothing new). */
int fo_metrics_succeeded(int exit_code);

/*
 * Appends the run's metrics in Prometheus's text format (HELP and TYPE for
 * each): with labels job and scope when labels is set (the textfile), else
 * none (a push: the grouping key carries them). last_success_unix < 0: no
 * last-success sample.
 */
int fo_metrics_format(const struct fo_metrics_run *m, int labels, double last_success_unix,
		      fo_buf *out);

/*
 * Sends the run's metrics to the Pushgateway at base_url (its root, as
 * http://host:9091, maybe with a path prefix) under the grouping key
 * job/JOB/scope/SCOPE: PUT for a success, POST without the last success for
 * a failure. One try and a short timeout: a job never waits long on its
 * monitoring. Fails on no answer or an answer other than 2xx.
 */
int fo_metrics_push(const char *base_url, const struct fo_metrics_run *m, fo_err *err);

/*
 * Writes dir/finops_JOB_SCOPE.prom for the textfile collector: a temporary
 * file in dir, synced, then renamed over the old one. A failure carries the
 * old file's last success over.
 */
int fo_metrics_write_textfile(const char *dir, const struct fo_metrics_run *m, fo_err *err);

/*
 * Both of the above as the environment asks ($FINOPS_PUSHGATEWAY_URL,
 * $FINOPS_METRICS_DIR; neither set: nothing). A failure is a warning in the
 * log and never the run's exit code; returns how many failed.
 */
int fo_metrics_publish(const struct fo_metrics_run *m);

#endif
