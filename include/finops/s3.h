/*
 * s3.h: reading objects from Amazon S3 (or an S3-compatible store) with
 * SigV4, through the library's HTTP client.
 *
 * Credentials come from secrets.h (Vault, or the AWS_* environment). The
 * region is an option, else AWS_REGION, else AWS_DEFAULT_REGION, else
 * us-east-1. The endpoint is FINOPS_S3_ENDPOINT (or AWS_ENDPOINT_URL_S3,
 * AWS_ENDPOINT_URL), else https://s3.<region>.amazonaws.com. Addressing is
 * virtual-hosted (https://bucket.s3.region.amazonaws.com/key) on AWS and
 * path-style (endpoint/bucket/key) on a custom endpoint, unless
 * FINOPS_S3_ADDRESSING says "path" or "virtual". AWS_CA_BUNDLE replaces the CA
 * bundle (TLS is always verified).
 *
 * Errors say what to do: rejected credentials (InvalidAccessKeyId,
 * SignatureDoesNotMatch, expired tokens) are exit 2 pointing at the Vault
 * secret; a missing key is bad input (exit 3) naming the s3:// URI; a
 * missing bucket or a bucket in another region is exit 2.
 */
#ifndef FINOPS_S3_H
#define FINOPS_S3_H

#include <stddef.h>

#include "finops/buf.h"
#include "finops/error.h"
#include "finops/http.h"
#include "finops/secrets.h"

struct fo_s3 {
	char *endpoint;          /* no trailing slash */
	char *region;
	int path_style;
	const struct fo_aws_creds *creds;   /* the run's (aws.h) */
	struct fo_http_opts http;
};

/* Reads configuration and credentials; region may be NULL. Free with fo_s3_free. */
int fo_s3_init(struct fo_s3 *s, const char *region, fo_err *err);
void fo_s3_free(struct fo_s3 *s);

/* Splits "s3://bucket/key" (key may be empty); *bucket and *key are the caller's. */
int fo_s3_parse_uri(const char *uri, char **bucket, char **key, fo_err *err);

/* Whether s names an S3 object ("s3://..."). */
int fo_s3_is_uri(const char *s);

/* The URL of an object (key encoded as SigV4 wants), into out. */
void fo_s3_object_url(const struct fo_s3 *s, const char *bucket, const char *key, fo_buf *out);

/*
 * GETs a small object (a manifest) whole into out, up to max bytes;
 * last_modified (may be NULL) gets its Last-Modified time, 0 when unknown.
 */
int fo_s3_get(struct fo_s3 *s, const char *bucket, const char *key, size_t max, fo_buf *out,
	      long long *last_modified, fo_err *err);

/* Opens an object for streaming (fo_http_stream_read_fn reads it). */
int fo_s3_open(struct fo_s3 *s, const char *bucket, const char *key, fo_http_stream **out,
	       fo_err *err);

/*
 * Lists the keys under prefix (ListObjectsV2, every page), sorted.
 * *keys (and each key) are the caller's: fo_s3_free_keys.
 */
int fo_s3_list(struct fo_s3 *s, const char *bucket, const char *prefix, char ***keys,
	       size_t *nkeys, fo_err *err);
void fo_s3_free_keys(char **keys, size_t n);

#endif
