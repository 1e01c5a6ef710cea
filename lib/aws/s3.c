/*
 * s3.c: S3 GetObject and ListObjectsV2 with SigV4 (see s3.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finops/log.h"
#include "finops/aws.h"
#include "finops/s3.h"
#include "core/core.h"

int
fo_s3_is_uri(const char *s)
{
	return strncmp(s, "s3://", 5) == 0;
}

int
fo_s3_init(struct fo_s3 *s, const char *region, fo_err *err)
{
	const char *endpoint = fo_env("FINOPS_S3_ENDPOINT");
	const char *addressing = fo_env("FINOPS_S3_ADDRESSING");
	size_t n;

	memset(s, 0, sizeof(*s));
	if (!endpoint)
		endpoint = fo_env("AWS_ENDPOINT_URL_S3");
	if (!endpoint)
		endpoint = fo_env("AWS_ENDPOINT_URL");
	if (!region)
		region = fo_env("AWS_REGION");
	if (!region)
		region = fo_env("AWS_DEFAULT_REGION");
	if (!region)
		region = "us-east-1";
	if (addressing && strcmp(addressing, "path") != 0 && strcmp(addressing, "virtual") != 0)
		return fo_err_set(err, FO_EXIT_USAGE, "FINOPS_S3_ADDRESSING must be path or virtual,"
				  " not %s", addressing);
	s->region = strdup(region);
	if (endpoint) {
		if (strncmp(endpoint, "http://", 7) != 0 && strncmp(endpoint, "https://", 8) != 0)
			return fo_err_set(err, FO_EXIT_USAGE, "S3 endpoint %s: not an http(s) URL",
					  endpoint);
		s->endpoint = strdup(endpoint);
		s->path_style = !addressing || strcmp(addressing, "path") == 0;
	} else {
		n = strlen(region) + 32;
		s->endpoint = malloc(n);
		if (s->endpoint)
			snprintf(s->endpoint, n, "https://s3.%s.amazonaws.com", region);
		s->path_style = addressing && strcmp(addressing, "path") == 0;
	}
	if (!s->region || !s->endpoint) {
		fo_s3_free(s);
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	}
	n = strlen(s->endpoint);
	while (n > 0 && s->endpoint[n - 1] == '/')
		s->endpoint[--n] = '\0';
	/* streams may be long: no total timeout, but nothing may stall */
	s->http.low_speed_s = 120;
	s->http.ca_file = fo_env("AWS_CA_BUNDLE");
	if (fo_aws_credentials(&s->creds, err) < 0) {
		fo_s3_free(s);
		return -1;
	}
	return 0;
}

void
fo_s3_free(struct fo_s3 *s)
{
	free(s->endpoint);
	free(s->region);
	memset(s, 0, sizeof(*s));
}

int
fo_s3_parse_uri(const char *uri, char **bucket, char **key, fo_err *err)
{
	const char *b = uri + 5, *slash;

	*bucket = *key = NULL;
	if (!fo_s3_is_uri(uri) || !*b || *b == '/')
		return fo_err_set(err, FO_EXIT_USAGE, "%s: not an s3://BUCKET/KEY URI", uri);
	slash = strchr(b, '/');
	*bucket = slash ? strndup(b, (size_t)(slash - b)) : strdup(b);
	*key = strdup(slash ? slash + 1 : "");
	if (!*bucket || !*key) {
		free(*bucket);
		free(*key);
		*bucket = *key = NULL;
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	}
	return 0;
}

static void
bucket_url(const struct fo_s3 *s, const char *bucket, fo_buf *out)
{
	fo_buf_reset(out);
	if (s->path_style) {
		fo_buf_printf(out, "%s/%s", s->endpoint, bucket);
	} else {
		const char *host = strstr(s->endpoint, "://") + 3;

		fo_buf_printf(out, "%.*s%s.%s", (int)(host - s->endpoint), s->endpoint, bucket,
			      host);
	}
}

void
fo_s3_object_url(const struct fo_s3 *s, const char *bucket, const char *key, fo_buf *out)
{
	bucket_url(s, bucket, out);
	fo_buf_putc(out, '/');
	fo_aws_uri_encode(out, key, 1);
}

static const char *
find(const char *hay, size_t len, const char *needle)
{
	size_t n = strlen(needle);

	for (const char *p = hay; n <= len && p <= hay + len - n; p++)
		if (*p == *needle && memcmp(p, needle, n) == 0)
			return p;
	return NULL;
}

/* The text of the first <tag>...</tag> in xml, entities decoded, into out. */
static int
xml_text(const char *xml, size_t len, const char *tag, const char **after, fo_buf *out)
{
	static const struct {
		const char *ent;
		char c;
	} ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
	char open[64], close[64];
	const char *end = xml + len, *a, *b;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	a = find(xml, len, open);
	if (!a)
		return 0;
	a += strlen(open);
	b = find(a, (size_t)(end - a), close);
	if (!b)
		return 0;
	fo_buf_reset(out);
	for (const char *p = a; p < b; p++) {
		int matched = 0;

		for (size_t e = 0; *p == '&' && !matched && e < sizeof(ents) / sizeof(ents[0]); e++) {
			size_t el = strlen(ents[e].ent);

			if ((size_t)(b - p) >= el && strncmp(p, ents[e].ent, el) == 0) {
				fo_buf_putc(out, ents[e].c);
				p += el - 1;
				matched = 1;
			}
		}
		if (!matched)
			fo_buf_putc(out, *p);
	}
	fo_buf_puts(out, "");
	if (after)
		*after = b + strlen(close);
	return 1;
}

/* Turns an S3 error answer into a message that says what to do. */
static int
s3_error(const struct fo_s3 *s, long status, const fo_buf *body, const char *bucket,
	 const char *key, fo_err *err)
{
	fo_buf code = FO_BUF_INIT, msg = FO_BUF_INIT, region = FO_BUF_INIT;
	const char *c;
	int rc;

	if (body->len) {
		xml_text(body->data, body->len, "Code", NULL, &code);
		xml_text(body->data, body->len, "Message", NULL, &msg);
		xml_text(body->data, body->len, "Region", NULL, &region);
	}
	c = code.len ? code.data : "";
	if (strcmp(c, "InvalidAccessKeyId") == 0 || strcmp(c, "SignatureDoesNotMatch") == 0 ||
	    strcmp(c, "ExpiredToken") == 0 || strcmp(c, "InvalidToken") == 0 ||
	    strcmp(c, "TokenRefreshRequired") == 0)
		rc = fo_err_set(err, FO_EXIT_USAGE,
				"AWS credentials rejected by S3 (%s) reading s3://%s/%s: update the"
				" AWS credentials (from %s: %s)", c, bucket, key,
				s->creds->source ? s->creds->source : "?",
				strcmp(s->creds->source ? s->creds->source : "", "vault") == 0
				? "the Vault secret at FINOPS_VAULT_AWS_PATH, default finops/aws"
				: "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
	else if (strcmp(c, "AccessDenied") == 0 || (status == 403 && !code.len))
		rc = fo_err_set(err, FO_EXIT_USAGE, "access denied to s3://%s/%s: the credentials"
				" need s3:GetObject and s3:ListBucket on the bucket%s%s", bucket, key,
				msg.len ? ": " : "", msg.len ? msg.data : "");
	else if (strcmp(c, "NoSuchKey") == 0 || (status == 404 && !code.len))
		rc = fo_err_set(err, FO_EXIT_BAD_INPUT, "s3://%s/%s: no such object", bucket, key);
	else if (strcmp(c, "NoSuchBucket") == 0)
		rc = fo_err_set(err, FO_EXIT_USAGE, "s3://%s: no such bucket", bucket);
	else if (status == 301 || strcmp(c, "PermanentRedirect") == 0 ||
		 strcmp(c, "AuthorizationHeaderMalformed") == 0)
		rc = fo_err_set(err, FO_EXIT_USAGE, "s3://%s is not in region %s%s%s: set"
				" AWS_REGION", bucket, s->region, region.len ? " but in " : "",
				region.len ? region.data : "");
	else
		rc = fo_err_set(err, status >= 500 || status == 429 ? FO_EXIT_TRANSIENT
				: FO_EXIT_FAILURE, "s3://%s/%s: HTTP %ld%s%s%s%s", bucket, key,
				status, code.len ? " " : "", c, msg.len ? ": " : "",
				msg.len ? msg.data : "");
	fo_buf_free(&code);
	fo_buf_free(&msg);
	fo_buf_free(&region);
	return rc;
}

static void
sigv4_of(struct fo_s3 *s, struct fo_http_sigv4 *v)
{
	fo_aws_sigv4(s->creds, s->region, "s3", v);
}

static int
get(struct fo_s3 *s, const char *url, const char *bucket, const char *key, size_t max,
    fo_buf *out, long long *last_modified, fo_err *err)
{
	struct fo_http_sigv4 v;
	struct fo_http_req req = {"GET", url, NULL, NULL, 0, &v, "S3 GetObject", 0};
	struct fo_http_opts o = s->http;
	struct fo_http_resp resp;

	sigv4_of(s, &v);
	o.max_bytes = max;
	if (fo_http_request(&o, &req, &resp, err) < 0)
		return -1;
	if (resp.status != 200) {
		s3_error(s, resp.status, &resp.body, bucket, key, err);
		fo_buf_free(&resp.body);
		return -1;
	}
	*out = resp.body;
	if (last_modified)
		*last_modified = resp.last_modified;
	return 0;
}

int
fo_s3_get(struct fo_s3 *s, const char *bucket, const char *key, size_t max, fo_buf *out,
	  long long *last_modified, fo_err *err)
{
	fo_buf url = FO_BUF_INIT;
	int rc;

	fo_s3_object_url(s, bucket, key, &url);
	rc = url.oom ? fo_err_set(err, FO_EXIT_FAILURE, "out of memory")
	     : get(s, url.data, bucket, key, max, out, last_modified, err);
	fo_buf_free(&url);
	return rc;
}

int
fo_s3_open(struct fo_s3 *s, const char *bucket, const char *key, fo_http_stream **out,
	   fo_err *err)
{
	fo_buf url = FO_BUF_INIT;
	struct fo_http_sigv4 v;
	struct fo_http_req req = {"GET", NULL, NULL, NULL, 0, &v, "S3 GetObject", 0};
	fo_err e2;
	long status = 0;
	int rc;

	sigv4_of(s, &v);
	fo_s3_object_url(s, bucket, key, &url);
	if (url.oom)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	req.url = url.data;
	rc = fo_http_stream_open(&s->http, &req, out, &status, err);
	if (rc < 0 && status >= 300 && status != 429 && status < 500) {
		/* the message carries the start of the XML answer: read its code again */
		fo_buf body = FO_BUF_INIT;

		fo_buf_puts(&body, strstr(err->msg, "<Error>") ? strstr(err->msg, "<Error>") : "");
		e2 = *err;
		s3_error(s, status, &body, bucket, key, err);
		if (err->code == FO_EXIT_FAILURE)
			*err = e2;
		fo_buf_free(&body);
	}
	fo_buf_free(&url);
	return rc;
}

void
fo_s3_free_keys(char **keys, size_t n)
{
	fo_free_strings(keys, n);
}

int
fo_s3_list(struct fo_s3 *s, const char *bucket, const char *prefix, char ***keys,
	   size_t *nkeys, fo_err *err)
{
	fo_buf url = FO_BUF_INIT, token = FO_BUF_INIT, k = FO_BUF_INIT, trunc = FO_BUF_INIT;
	char **list = NULL;
	size_t n = 0;
	int rc = 0, more = 1;

	*keys = NULL;
	*nkeys = 0;
	while (more && rc == 0) {
		fo_buf body = FO_BUF_INIT;
		const char *p;

		bucket_url(s, bucket, &url);
		/* query parameters in the order SigV4's canonical query string sorts them */
		fo_buf_puts(&url, "/?");
		if (token.len) {
			fo_buf_puts(&url, "continuation-token=");
			fo_aws_uri_encode(&url, token.data, 0);
			fo_buf_putc(&url, '&');
		}
		fo_buf_puts(&url, "list-type=2&prefix=");
		fo_aws_uri_encode(&url, prefix, 0);
		if (url.oom) {
			rc = fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
			break;
		}
		rc = get(s, url.data, bucket, prefix, 64u << 20, &body, NULL, err);
		if (rc < 0)
			break;
		for (p = body.data; p && xml_text(p, body.len - (size_t)(p - body.data), "Key", &p,
						   &k);) {
			char **grown = realloc(list, (n + 1) * sizeof(*list));

			if (!grown || !(grown[n] = strdup(k.data))) {
				list = grown ? grown : list;
				rc = fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
				break;
			}
			list = grown;
			n++;
		}
		more = xml_text(body.data, body.len, "IsTruncated", NULL, &trunc) &&
		       strcmp(trunc.data, "true") == 0 &&
		       xml_text(body.data, body.len, "NextContinuationToken", NULL, &token);
		fo_buf_free(&body);
	}
	fo_buf_free(&url);
	fo_buf_free(&token);
	fo_buf_free(&k);
	fo_buf_free(&trunc);
	if (rc < 0) {
		fo_s3_free_keys(list, n);
		return -1;
	}
	if (n)
		qsort(list, n, sizeof(*list), fo_cmp_str);
	*keys = list;
	*nkeys = n;
	return 0;
}
