/*
 * fuzz_metric_line: one CloudWatch Metric Streams line (usage.c): no crash;
 * an accepted datapoint is physically possible.
 */
#include <math.h>
#include <stdlib.h>

#include "finops/usage.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fo_usage_point p;
	fo_err err;

	if (fo_usage_parse_stream_line("fuzz.json", 1, (const char *)data, size, &p, &err) == 0 &&
	    !p.ignore) {
		double avg = p.count > 0 ? p.sum / p.count : 0;

		if (!isfinite(p.sum) || !isfinite(p.max) || p.count < 0 || p.max < 0 || avg < 0 ||
		    strncmp(p.instance_id, "i-", 2) != 0 || (p.count == 0 && p.sum != 0))
			abort();
		if ((p.metric == FO_USAGE_CPU || p.metric == FO_USAGE_MEMORY) &&
		    (avg > 100 + 1e-6 || p.max > 100 + 1e-6))
			abort();
	}
	return 0;
}
