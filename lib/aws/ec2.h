/*
 * ec2.h: the two EC2 Query API actions idle_stop needs, DescribeInstances
 * and StopInstances (Version 2016-11-15, form-encoded POST, SigV4 with the
 * run's credentials, aws.h), through the library's HTTP client: RequestLimit
 * Exceeded and other 5xx are retried with its backoff. The endpoint is
 * FINOPS_EC2_ENDPOINT, else https://ec2.<region>.amazonaws.com. Private to
 * lib/.
 */
#ifndef FINOPS_AWS_EC2_H
#define FINOPS_AWS_EC2_H

#include <stddef.h>

#include "finops/error.h"

struct fo_ec2_tag {
	char *key, *value;
};

/* What DescribeInstances says of an instance. */
struct fo_ec2_instance {
	char *id, *type, *state;   /* state: "running", "stopped", ... */
	char *root_device_type;    /* "ebs" or "instance-store" */
	char *lifecycle;           /* "spot", "scheduled", or "" (on demand) */
	char *owner_id;            /* the account of its reservation */
	struct fo_ec2_tag *tags;
	size_t ntags;
};

/*
 * The instances of region among ids (n), every page, in *out (the caller's:
 * fo_ec2_instances_free). Ids EC2 does not know are simply absent: they are
 * asked for with the instance-id filter, 200 at a time. Refused credentials
 * or a denied ec2:DescribeInstances are FO_EXIT_USAGE naming the action.
 */
int fo_ec2_describe(const char *region, const char *const *ids, size_t n,
		    struct fo_ec2_instance **out, size_t *nout, fo_err *err);
void fo_ec2_instances_free(struct fo_ec2_instance *v, size_t n);

/* The value of an instance's tag key, or NULL. */
const char *fo_ec2_tag(const struct fo_ec2_instance *in, const char *key);

enum fo_ec2_stop {
	FO_EC2_STOPPED,            /* accepted: answer says "running -> stopping" */
	FO_EC2_WOULD_STOP,         /* DryRun: the call would have succeeded (DryRunOperation) */
	FO_EC2_REFUSED             /* EC2 refused this instance (IncorrectInstanceState,
				      UnsupportedOperation, ...): answer has its code and message */
};

/*
 * StopInstances of one instance of region (never Force, never Hibernate),
 * with DryRun when dry_run. Returns 0 with *result and EC2's answer in
 * answer; -1 when permission is denied (FO_EXIT_USAGE naming
 * ec2:StopInstances and EC2's message), on refused credentials (FO_EXIT_USAGE)
 * or when EC2 cannot be reached (FO_EXIT_TRANSIENT).
 */
int fo_ec2_stop_instance(const char *region, const char *id, int dry_run,
			 enum fo_ec2_stop *result, char *answer, size_t len, fo_err *err);

#endif
