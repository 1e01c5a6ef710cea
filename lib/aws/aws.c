/*
 * aws.c: the run's AWS credentials (see aws.h).
 */
#include <string.h>

#include "finops/aws.h"

static struct fo_aws_creds creds;
static int have_creds;

int
fo_aws_credentials(const struct fo_aws_creds **out, fo_err *err)
{
	if (!have_creds) {
		if (fo_secret_aws(&creds, err) < 0)
			return -1;
		have_creds = 1;
	}
	*out = &creds;
	return 0;
}

void
fo_aws_sigv4(const struct fo_aws_creds *c, const char *region, const char *service,
	     struct fo_http_sigv4 *out)
{
	memset(out, 0, sizeof(*out));
	out->region = region;
	out->service = service;
	out->access_key_id = c->access_key_id;
	out->secret_access_key = c->secret_access_key;
	out->session_token = c->session_token;
}

void
fo_aws_uri_encode(fo_buf *out, const char *s, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '.' || *p == '_' || *p == '~' || (keep_slash && *p == '/')) {
			fo_buf_putc(out, (char)*p);
		} else {
			fo_buf_putc(out, '%');
			fo_buf_putc(out, hex[*p >> 4]);
			fo_buf_putc(out, hex[*p & 15]);
		}
	}
}

void
fo_aws_done(void)
{
	if (have_creds)
		fo_aws_creds_free(&creds);
	have_creds = 0;
}
