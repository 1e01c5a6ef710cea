/*
 * cloudwatch.c: CloudWatch GetMetricData (see cloudwatch.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "finops/aws.h"
#include "finops/http.h"
#include "finops/log.h"
#include "finops/stop.h"
#include "aws/cloudwatch.h"
#include "core/core.h"

#define MAX_QUERIES 500            /* a GetMetricData call's limit */

/* Throttling comes back as 400 ThrottlingException: the HTTP client retries it. */
static const char *
throttled(long status, const fo_buf *body, void *arg)
{
	(void)arg;
	return status == 400 && body->data && strstr(body->data, "Throttling")
	       ? "CloudWatch throttled GetMetricData" : NULL;
}

static int
post(const char *region, const char *body, struct fo_http_resp *resp, fo_err *err)
{
	const char *endpoint = fo_env("FINOPS_CLOUDWATCH_ENDPOINT");
	const char *headers[] = {"Content-Type: application/x-amz-json-1.0",
				 "X-Amz-Target: GraniteServiceVersion20100801.GetMetricData", NULL};
	const struct fo_aws_creds *creds;
	struct fo_http_opts opts = {.retry_reason = throttled, .backoff_max_ms = 20000,
				    .tries = 8};
	struct fo_http_sigv4 v;
	char url[512];
	struct fo_http_req req = {"POST", url, headers, body, strlen(body), &v,
				  "CloudWatch GetMetricData", 0};

	if (fo_aws_credentials(&creds, err) < 0)
		return -1;
	fo_aws_sigv4(creds, region, "monitoring", &v);
	if (endpoint)
		snprintf(url, sizeof(url), "%s/", endpoint);
	else
		snprintf(url, sizeof(url), "https://monitoring.%s.amazonaws.com/", region);
	if (fo_http_request(&opts, &req, resp, err) < 0)
		return -1;
	if (resp->status == 200)
		return 0;
	fo_err_set(err, resp->status == 403 ? FO_EXIT_USAGE : FO_EXIT_FAILURE,
		   "CloudWatch GetMetricData in %s: HTTP %ld: %.300s", region, resp->status,
		   resp->body.data ? resp->body.data : "");
	fo_buf_free(&resp->body);
	return -1;
}

/* The queries of ids [first, first + n): every metric of each, ids "q<i>_<metric>". */
static json_t *
queries_of(const char *const *ids, size_t first, size_t n, const struct fo_cw_metric *metrics,
	   size_t nmetrics)
{
	json_t *queries = json_array();

	for (size_t i = 0; queries && i < n; i++)
		for (size_t q = 0; q < nmetrics; q++) {
			char id[32];

			snprintf(id, sizeof(id), "q%zu_%zu", i, q);
			if (json_array_append_new(queries, json_pack(
				"{s:s, s:{s:{s:s, s:s, s:[{s:s, s:s}]}, s:i, s:s}, s:b}", "Id", id,
				"MetricStat", "Metric", "Namespace", metrics[q].ns, "MetricName",
				metrics[q].name, "Dimensions", "Name", "InstanceId", "Value",
				ids[first + i], "Period", 3600, "Stat", metrics[q].stat,
				"ReturnData", 1)) < 0) {
				json_decref(queries);
				return NULL;
			}
		}
	return queries;
}

/* Hands the datapoints of one answer to h; counts the results still PartialData. */
static int
deliver(json_t *results, size_t first, size_t n, size_t nmetrics, int64_t start_s,
	int64_t end_s, const struct fo_cw_handler *h, int *partial, fo_err *err)
{
	size_t k;
	json_t *res;

	json_array_foreach(results, k, res) {
		const char *id = json_string_value(json_object_get(res, "Id"));
		const char *status = json_string_value(json_object_get(res, "StatusCode"));
		json_t *ts = json_object_get(res, "Timestamps"), *vals = json_object_get(res, "Values");
		size_t i, q, count;

		if (!id || sscanf(id, "q%zu_%zu", &i, &q) != 2 || i >= n || q >= nmetrics)
			continue;
		if (status && strcmp(status, "PartialData") == 0)
			(*partial)++;
		count = json_array_size(ts) < json_array_size(vals) ? json_array_size(ts)
			: json_array_size(vals);
		for (size_t p = 0; p < count; p++) {
			json_t *t = json_array_get(ts, p);
			int64_t when = json_is_integer(t) ? (int64_t)json_integer_value(t)
				       : (int64_t)json_number_value(t);

			if (when < start_s || when >= end_s)
				continue;
			if (h->point(h->ctx, first + i, q, when - (when - start_s) % 3600,
				     json_number_value(json_array_get(vals, p)), err) < 0)
				return -1;
		}
	}
	return 0;
}

/* One batch, every page of it. */
static int
batch(const char *region, const char *const *ids, size_t first, size_t n,
      const struct fo_cw_metric *metrics, size_t nmetrics, int64_t start_s, int64_t end_s,
      const struct fo_cw_handler *h, fo_err *err)
{
	json_t *queries = queries_of(ids, first, n, metrics, nmetrics), *token = NULL;
	int rc = 0, partial = 0;

	if (!queries)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	if (h->begin && h->begin(h->ctx, first, n, err) < 0) {
		json_decref(queries);
		return -1;
	}
	do {
		json_t *req = json_pack("{s:O, s:I, s:I, s:s}", "MetricDataQueries", queries,
					"StartTime", (json_int_t)start_s, "EndTime", (json_int_t)end_s,
					"ScanBy", "TimestampAscending");
		struct fo_http_resp resp;
		json_t *ans, *results;
		char *body;

		if (token)
			json_object_set(req, "NextToken", token);
		body = req ? json_dumps(req, JSON_COMPACT) : NULL;
		json_decref(req);
		json_decref(token);
		token = NULL;
		if (!body) {
			rc = fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
			break;
		}
		rc = post(region, body, &resp, err);
		free(body);
		if (rc < 0)
			break;
		ans = json_loadb(resp.body.data, resp.body.len, 0, NULL);
		fo_buf_free(&resp.body);
		results = ans ? json_object_get(ans, "MetricDataResults") : NULL;
		if (!json_is_array(results)) {
			json_decref(ans);
			rc = fo_err_set(err, FO_EXIT_FAILURE, "CloudWatch GetMetricData in %s: an answer"
					" without MetricDataResults", region);
			break;
		}
		rc = deliver(results, first, n, nmetrics, start_s, end_s, h, &partial, err);
		token = json_incref(json_object_get(ans, "NextToken"));
		if (token && !json_is_string(token)) {
			json_decref(token);
			token = NULL;
		}
		json_decref(ans);
	} while (token && rc == 0 && !fo_stop_requested());
	json_decref(token);
	json_decref(queries);
	if (rc == 0 && partial)
		fo_logf(FO_LOG_WARN, FO_FIELDS(FO_STR("region", region), FO_INT("results", partial)),
			"CloudWatch returned PartialData for %d result(s) after the last page", partial);
	if (rc == 0 && h->end)
		rc = h->end(h->ctx, first, n, partial, err);
	return rc;
}

int
fo_cw_get_metric_data(const char *region, const char *const *ids, size_t nids,
		      const struct fo_cw_metric *metrics, size_t nmetrics, int64_t start_s,
		      int64_t end_s, const struct fo_cw_handler *h, fo_err *err)
{
	size_t per_call = nmetrics ? MAX_QUERIES / nmetrics : 0;

	if (per_call == 0)
		return fo_err_set(err, FO_EXIT_FAILURE, "CloudWatch: more than %d metrics an"
				  " instance", MAX_QUERIES);
	for (size_t first = 0; first < nids; first += per_call) {
		size_t n = nids - first < per_call ? nids - first : per_call;

		if (batch(region, ids, first, n, metrics, nmetrics, start_s, end_s, h, err) < 0)
			return -1;
		if (fo_stop_requested())
			return fo_err_set(err, FO_EXIT_TRANSIENT, "interrupted");
	}
	return 0;
}
