/*
 * cloudwatch.h: CloudWatch GetMetricData (the JSON 1.0 protocol, SigV4 with
 * the run's credentials, aws.h), hourly statistics of metrics of EC2
 * instances, handed to the caller datapoint by datapoint. Private to lib/.
 */
#ifndef FINOPS_AWS_CLOUDWATCH_H
#define FINOPS_AWS_CLOUDWATCH_H

#include <stddef.h>
#include <stdint.h>

#include "finops/error.h"

/* One statistic of one metric asked for every instance. */
struct fo_cw_metric {
	const char *ns, *name, *stat;    /* "AWS/EC2", "CPUUtilization", "Maximum" */
};

/*
 * What receives the datapoints. Instances are asked for in batches (500
 * queries a call, of every metric for each instance): begin() announces the
 * ids [first, first + n) of a batch, point() brings one hourly datapoint
 * (instance id index, metric index, hour start in Unix seconds, value), and
 * end() closes the batch once every page of it is in (partial: how many
 * results CloudWatch still marked PartialData). Each returns 0 or -1 with err
 * to stop.
 */
struct fo_cw_handler {
	void *ctx;
	int (*begin)(void *ctx, size_t first, size_t n, fo_err *err);
	int (*point)(void *ctx, size_t id, size_t metric, int64_t hour_s, double value,
		     fo_err *err);
	int (*end)(void *ctx, size_t first, size_t n, int partial, fo_err *err);
};

/*
 * Hourly (Period 3600) metrics of the instances ids (nids, all of region)
 * over [start_s, end_s), following NextToken; throttling is retried by the
 * HTTP client's policy. The endpoint is FINOPS_CLOUDWATCH_ENDPOINT, else
 * https://monitoring.<region>.amazonaws.com. Credentials refused: FO_EXIT_USAGE.
 */
int fo_cw_get_metric_data(const char *region, const char *const *ids, size_t nids,
			  const struct fo_cw_metric *metrics, size_t nmetrics, int64_t start_s,
			  int64_t end_s, const struct fo_cw_handler *h, fo_err *err);

#endif
