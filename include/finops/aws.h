/*
 * aws.h: what every AWS client of a run shares: the credentials, read once
 * (from Vault or the environment, secrets.h) when the first client needs
 * them, and the request signing they give (SigV4).
 */
#ifndef FINOPS_AWS_H
#define FINOPS_AWS_H

#include "finops/buf.h"
#include "finops/error.h"
#include "finops/http.h"
#include "finops/secrets.h"

/*
 * The run's AWS credentials: read at the first call, then the same ones;
 * owned here until fo_aws_done(). FO_EXIT_USAGE when none are configured.
 */
int fo_aws_credentials(const struct fo_aws_creds **out, fo_err *err);

/* Signing of a request to service in region with the run's credentials. */
void fo_aws_sigv4(const struct fo_aws_creds *c, const char *region, const char *service,
		  struct fo_http_sigv4 *out);

/*
 * Appends s percent-encoded as RFC 3986 and SigV4 want it: every byte but
 * A-Z a-z 0-9 - . _ ~ (and / when keep_slash) as %XX, upper-case hex. For
 * S3 keys and query values and EC2's form values alike.
 */
void fo_aws_uri_encode(fo_buf *out, const char *s, int keep_slash);

/* Forgets (and wipes) the credentials: the end of a run. */
void fo_aws_done(void);

#endif
