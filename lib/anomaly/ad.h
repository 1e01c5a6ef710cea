/*
 * ad.h: what the anomaly job's files share (private to lib/anomaly).
 */
#ifndef FINOPS_ANOMALY_AD_H
#define FINOPS_ANOMALY_AD_H

#include <stddef.h>

#include "finops/anomaly_detect.h"

/* What the run did, for the summary line and job_runs. */
struct fo_ad_counts {
	long long series, series_days;
	long long opened, grown, closed, restated;
	long long sent, sent_before, failed, waiting;
	long newest;               /* the newest day evaluated (0: none) */
};

/*
 * Tells the channels of each anomaly's monitor about the anomalies not yet
 * told there (a failed send is tried again), once committed: at once or
 * in the channel's daily digest. conn outside a transaction.
 */
int fo_ad_tell(struct fo_run *ctx, const struct fo_ad_opts *o, struct fo_ad_counts *n,
	       fo_err *err);

#endif
