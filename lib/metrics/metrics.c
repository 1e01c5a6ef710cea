/*
 * metrics.c: a run's outcome as Prometheus gauges, pushed to a Pushgateway
 * or written for the textfile collector (see metrics.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "finops/http.h"
#include "finops/log.h"
#include "finops/metrics.h"
#include "core/core.h"

#define LAST_SUCCESS "finops_job_last_success_timestamp_seconds"

int
fo_metrics_scope_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > FO_METRICS_SCOPE_MAX)
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-") == n;
}

int
fo_metrics_succeeded(int exit_code)
{
	return exit_code == FO_EXIT_OK || exit_code == FO_EXIT_NOTHING_NEW;
}

/* One gauge: HELP, TYPE and its sample; value is already text. */
static int
gauge(fo_buf *out, const char *name, const char *help, const char *labels, const char *value)
{
	return fo_buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n%s%s %s\n", name, help, name, name,
			     labels, value);
}

int
fo_metrics_format(const struct fo_metrics_run *m, int labels, double last_success_unix,
		  fo_buf *out)
{
	char lab[160] = "", v[6][40];
	int rc = 0;

	if (labels)
		snprintf(lab, sizeof(lab), "{job=\"%s\",scope=\"%s\"}", m->job, m->scope);
	snprintf(v[0], sizeof(v[0]), "%.3f", last_success_unix);
	snprintf(v[1], sizeof(v[1]), "%.3f", m->end_unix);
	snprintf(v[2], sizeof(v[2]), "%.3f", m->duration_s);
	snprintf(v[3], sizeof(v[3]), "%d", m->exit_code);
	snprintf(v[4], sizeof(v[4]), "%lld", m->rows_read);
	snprintf(v[5], sizeof(v[5]), "%lld", m->rows_written);
	if (last_success_unix >= 0)
		rc |= gauge(out, LAST_SUCCESS, "When the job last ended with exit 0 or 99, Unix time.",
			    lab, v[0]);
	rc |= gauge(out, "finops_job_last_run_timestamp_seconds",
		    "When the job last ended, whatever its exit code, Unix time.", lab, v[1]);
	rc |= gauge(out, "finops_job_duration_seconds", "How long the job's last run took.", lab,
		    v[2]);
	rc |= gauge(out, "finops_job_exit_code",
		    "The last run's exit code: 0 done, 99 nothing new, 2 usage or configuration,"
		    " 3 bad input, 4 transient, 1 other.", lab, v[3]);
	rc |= gauge(out, "finops_job_rows_read", "Rows the last run read.", lab, v[4]);
	rc |= gauge(out, "finops_job_rows_written", "Rows the last run wrote.", lab, v[5]);
	return rc < 0 ? -1 : 0;
}

int
fo_metrics_push(const char *base_url, const struct fo_metrics_run *m, fo_err *err)
{
	static const char *const headers[] = {"Content-Type: text/plain; version=0.0.4", NULL};
	struct fo_http_opts opts = {0};
	struct fo_http_req req = {0};
	struct fo_http_resp resp = {0};
	fo_buf url = FO_BUF_INIT, body = FO_BUF_INIT;
	size_t n = strlen(base_url);
	int ok = fo_metrics_succeeded(m->exit_code), rc = -1;

	while (n > 0 && base_url[n - 1] == '/')
		n--;
	if (fo_buf_append(&url, base_url, n) < 0 ||
	    fo_buf_printf(&url, "/metrics/job/%s/scope/%s", m->job, m->scope) < 0 ||
	    fo_metrics_format(m, 0, ok ? m->end_unix : -1, &body) < 0) {
		fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		goto out;
	}
	opts.connect_timeout_ms = 3000;
	opts.timeout_ms = 10000;
	opts.tries = 1;
	opts.max_bytes = 64 * 1024;
	req.method = ok ? "PUT" : "POST";
	req.url = url.data;
	req.headers = headers;
	req.body = body.data;
	req.body_len = body.len;
	req.what = "Pushgateway push";
	if (fo_http_request(&opts, &req, &resp, err) < 0)
		goto out;
	if (resp.status < 200 || resp.status > 299) {
		char shown[512];

		fo_http_redact_url(url.data, shown, sizeof(shown));
		fo_err_set(err, FO_EXIT_TRANSIENT, "Pushgateway push to %s: HTTP %ld: %.200s", shown,
			   resp.status, fo_buf_str(&resp.body));
		goto out;
	}
	rc = 0;
out:
	fo_buf_free(&url);
	fo_buf_free(&body);
	fo_buf_free(&resp.body);
	return rc;
}

/* The last success an earlier textfile holds, or -1. */
static double
previous_success(const char *path, const char *labels)
{
	char line[512];
	size_t pn = strlen(LAST_SUCCESS), ln = strlen(labels);
	double v = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *end;
		double x;

		if (strncmp(line, LAST_SUCCESS, pn) || strncmp(line + pn, labels, ln) ||
		    line[pn + ln] != ' ')
			continue;
		errno = 0;
		x = strtod(line + pn + ln + 1, &end);
		if (!errno && end != line + pn + ln + 1 && x >= 0)
			v = x;
	}
	fclose(f);
	return v;
}

/* Writes all of data to fd. */
static int
write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, data, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		data += w;
		len -= (size_t)w;
	}
	return 0;
}

int
fo_metrics_write_textfile(const char *dir, const struct fo_metrics_run *m, fo_err *err)
{
	fo_buf path = FO_BUF_INIT, tmp = FO_BUF_INIT, body = FO_BUF_INIT;
	char labels[160];
	double last;
	int fd = -1, rc = -1;

	snprintf(labels, sizeof(labels), "{job=\"%s\",scope=\"%s\"}", m->job, m->scope);
	if (fo_buf_printf(&path, "%s/finops_%s_%s.prom", dir, m->job, m->scope) < 0 ||
	    fo_buf_printf(&tmp, "%s/.finops_%s_%s.prom.%ld.tmp", dir, m->job, m->scope,
			  (long)getpid()) < 0) {
		fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		goto out;
	}
	last = fo_metrics_succeeded(m->exit_code) ? m->end_unix : previous_success(path.data, labels);
	if (fo_metrics_format(m, 1, last, &body) < 0) {
		fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		goto out;
	}
	fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fo_err_set(err, FO_EXIT_TRANSIENT, "%s: %s", tmp.data, strerror(errno));
		goto out;
	}
	if (write_all(fd, body.data, body.len) < 0 || fsync(fd) < 0) {
		fo_err_set(err, FO_EXIT_TRANSIENT, "%s: %s", tmp.data, strerror(errno));
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		fo_err_set(err, FO_EXIT_TRANSIENT, "%s: %s", tmp.data, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp.data, path.data) < 0) {
		fo_err_set(err, FO_EXIT_TRANSIENT, "%s: %s", path.data, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0 && tmp.data)
		unlink(tmp.data);
	fo_buf_free(&path);
	fo_buf_free(&tmp);
	fo_buf_free(&body);
	return rc;
}

int
fo_metrics_publish(const struct fo_metrics_run *m)
{
	const char *url = fo_env("FINOPS_PUSHGATEWAY_URL");
	const char *dir = fo_env("FINOPS_METRICS_DIR");
	int failed = 0;
	fo_err err;

	if (url) {
		fo_err_clear(&err);
		/* libcurl counts its set-ups: this one is the push's own */
		if (fo_http_global_init(&err) < 0 || fo_metrics_push(url, m, &err) < 0) {
			fo_logf(FO_LOG_WARN, FO_FIELDS(FO_STR("metrics", "pushgateway")),
				"metrics not pushed (the run's exit code stands): %s", err.msg);
			failed++;
		} else {
			fo_logf(FO_LOG_DEBUG, FO_FIELDS(FO_STR("metrics", "pushgateway")),
				"metrics pushed");
		}
		fo_http_global_cleanup();
	}
	if (dir) {
		fo_err_clear(&err);
		if (fo_metrics_write_textfile(dir, m, &err) < 0) {
			fo_logf(FO_LOG_WARN, FO_FIELDS(FO_STR("metrics", "textfile")),
				"metrics file not written (the run's exit code stands): %s", err.msg);
			failed++;
		}
	}
	return failed;
}
