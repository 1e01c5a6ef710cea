/*
 * ec2.c: EC2 DescribeInstances and StopInstances (see ec2.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finops/aws.h"
#include "finops/buf.h"
#include "finops/http.h"
#include "finops/log.h"
#include "aws/ec2.h"
#include "aws/xml.h"
#include "core/core.h"

#define PER_CALL 200               /* values of one filter */
#define API_VERSION "2016-11-15"

/* EC2's error code and message of an answer (Response/Errors/Error), or "". */
static void
error_of(const fo_buf *body, const char *what, char *code, size_t clen, char *msg, size_t mlen)
{
	struct fo_xml *doc = NULL;
	fo_err ignored;

	code[0] = msg[0] = '\0';
	fo_err_clear(&ignored);
	if (body->data && fo_xml_parse(body->data, body->len, what, &doc, &ignored) == 0) {
		const char *c = fo_xml_text(doc, "Errors/Error/Code");
		const char *m = fo_xml_text(doc, "Errors/Error/Message");

		snprintf(code, clen, "%s", c ? c : "");
		snprintf(msg, mlen, "%s", m ? m : "");
	}
	fo_xml_free(doc);
}

/* Credentials refused, as opposed to an action denied. */
static int
credentials_refused(const char *code)
{
	return strcmp(code, "AuthFailure") == 0 || strcmp(code, "InvalidClientTokenId") == 0 ||
	       strcmp(code, "SignatureDoesNotMatch") == 0 ||
	       strcmp(code, "RequestExpired") == 0 || strcmp(code, "ExpiredToken") == 0 ||
	       strcmp(code, "InvalidAccessKeyId") == 0;
}

static int
denied(const char *code)
{
	return strcmp(code, "UnauthorizedOperation") == 0 || strcmp(code, "AccessDenied") == 0 ||
	       strcmp(code, "AccessDeniedException") == 0;
}

/* POSTs one action's form body; 0 with the answer in resp whatever its status. */
static int
post(const char *region, const char *what, const fo_buf *form, struct fo_http_resp *resp,
     fo_err *err)
{
	const char *endpoint = fo_env("FINOPS_EC2_ENDPOINT");
	const char *headers[] = {"Content-Type: application/x-www-form-urlencoded; charset=utf-8",
				 NULL};
	const struct fo_aws_creds *creds;
	struct fo_http_opts opts = {.backoff_max_ms = 20000, .tries = 6,
				    .ca_file = fo_env("AWS_CA_BUNDLE")};
	struct fo_http_sigv4 v;
	char url[512];
	struct fo_http_req req = {"POST", url, headers, form->data, form->len, &v, what, 0};

	if (fo_aws_credentials(&creds, err) < 0)
		return -1;
	fo_aws_sigv4(creds, region, "ec2", &v);
	if (endpoint)
		snprintf(url, sizeof(url), "%s/", endpoint);
	else
		snprintf(url, sizeof(url), "https://ec2.%s.amazonaws.com/", region);
	return fo_http_request(&opts, &req, resp, err);
}

/* A non-200 answer as an error: refused credentials and denials are exit 2. */
static int
fail(const char *region, const char *action, struct fo_http_resp *resp, fo_err *err)
{
	char code[128], msg[512];

	error_of(&resp->body, action, code, sizeof(code), msg, sizeof(msg));
	fo_buf_free(&resp->body);
	if (credentials_refused(code))
		return fo_err_set(err, FO_EXIT_USAGE, "EC2 %s in %s refused the credentials (%s: %s):"
				  " check the AWS secret (docs/secrets.md)", action, region, code,
				  msg);
	if (denied(code))
		return fo_err_set(err, FO_EXIT_USAGE, "EC2 %s in %s: permission denied: the role"
				  " needs ec2:%s (%s: %s)", action, region, action, code, msg);
	return fo_err_set(err, FO_EXIT_FAILURE, "EC2 %s in %s: HTTP %ld %s: %s", action, region,
			  resp->status, code[0] ? code : "(no error code)", msg);
}

static char *
dup_text(const struct fo_xml *n, const char *path)
{
	const char *t = fo_xml_text(n, path);

	return strdup(t ? t : "");
}

static int
add_instance(const struct fo_xml *item, const char *owner, struct fo_ec2_instance **v,
	     size_t *n, size_t *cap)
{
	struct fo_ec2_instance *in;
	const struct fo_xml *tags = fo_xml_child(item, "tagSet");
	size_t ntags = 0;

	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		struct fo_ec2_instance *bigger = realloc(*v, c * sizeof(**v));

		if (!bigger)
			return -1;
		*v = bigger;
		*cap = c;
	}
	in = &(*v)[*n];
	memset(in, 0, sizeof(*in));
	(*n)++;
	in->id = dup_text(item, "instanceId");
	in->type = dup_text(item, "instanceType");
	in->state = dup_text(item, "instanceState/name");
	in->root_device_type = dup_text(item, "rootDeviceType");
	in->lifecycle = dup_text(item, "instanceLifecycle");
	in->owner_id = strdup(owner ? owner : "");
	if (!in->id || !in->type || !in->state || !in->root_device_type || !in->lifecycle ||
	    !in->owner_id)
		return -1;
	for (const struct fo_xml *t = tags ? tags->child : NULL; t; t = t->next)
		ntags++;
	if (ntags) {
		in->tags = calloc(ntags, sizeof(*in->tags));
		if (!in->tags)
			return -1;
	}
	for (const struct fo_xml *t = tags ? tags->child : NULL; t; t = t->next) {
		struct fo_ec2_tag *g = &in->tags[in->ntags++];

		g->key = dup_text(t, "key");
		g->value = dup_text(t, "value");
		if (!g->key || !g->value)
			return -1;
	}
	return 0;
}

int
fo_ec2_describe(const char *region, const char *const *ids, size_t n,
		struct fo_ec2_instance **out, size_t *nout, fo_err *err)
{
	size_t cap = 0;

	*out = NULL;
	*nout = 0;
	for (size_t first = 0; first < n; first += PER_CALL) {
		size_t k = n - first < PER_CALL ? n - first : PER_CALL;
		char *token = NULL;

		do {
			fo_buf form = FO_BUF_INIT;
			struct fo_http_resp resp;
			struct fo_xml *doc = NULL;
			const struct fo_xml *rs;
			int rc;

			fo_buf_puts(&form, "Action=DescribeInstances&Version=" API_VERSION
				    "&Filter.1.Name=instance-id");
			for (size_t i = 0; i < k; i++) {
				fo_buf_printf(&form, "&Filter.1.Value.%zu=", i + 1);
				fo_aws_uri_encode(&form, ids[first + i], 0);
			}
			if (token) {
				fo_buf_puts(&form, "&NextToken=");
				fo_aws_uri_encode(&form, token, 0);
				free(token);
				token = NULL;
			}
			rc = post(region, "EC2 DescribeInstances", &form, &resp, err);
			fo_buf_free(&form);
			if (rc < 0)
				goto fail;
			if (resp.status != 200) {
				fail(region, "DescribeInstances", &resp, err);
				goto fail;
			}
			rc = fo_xml_parse(resp.body.data, resp.body.len, "EC2 DescribeInstances", &doc,
					  err);
			fo_buf_free(&resp.body);
			if (rc < 0)
				goto fail;
			rs = fo_xml_child(doc, "reservationSet");
			for (const struct fo_xml *r = rs ? rs->child : NULL; r; r = r->next) {
				const struct fo_xml *set = fo_xml_child(r, "instancesSet");

				for (const struct fo_xml *i = set ? set->child : NULL; i; i = i->next)
					if (add_instance(i, fo_xml_text(r, "ownerId"), out, nout,
							 &cap) < 0) {
						fo_xml_free(doc);
						fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
						goto fail;
					}
			}
			if (fo_xml_text(doc, "nextToken") && *fo_xml_text(doc, "nextToken"))
				token = strdup(fo_xml_text(doc, "nextToken"));
			fo_xml_free(doc);
		} while (token);
	}
	return 0;
fail:
	fo_ec2_instances_free(*out, *nout);
	*out = NULL;
	*nout = 0;
	return -1;
}

void
fo_ec2_instances_free(struct fo_ec2_instance *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		for (size_t t = 0; t < v[i].ntags; t++) {
			free(v[i].tags[t].key);
			free(v[i].tags[t].value);
		}
		free(v[i].tags);
		free(v[i].id);
		free(v[i].type);
		free(v[i].state);
		free(v[i].root_device_type);
		free(v[i].lifecycle);
		free(v[i].owner_id);
	}
	free(v);
}

const char *
fo_ec2_tag(const struct fo_ec2_instance *in, const char *key)
{
	for (size_t i = 0; i < in->ntags; i++)
		if (strcmp(in->tags[i].key, key) == 0)
			return in->tags[i].value;
	return NULL;
}

int
fo_ec2_stop_instance(const char *region, const char *id, int dry_run,
		     enum fo_ec2_stop *result, char *answer, size_t len, fo_err *err)
{
	fo_buf form = FO_BUF_INIT;
	struct fo_http_resp resp;
	char code[128], msg[512];
	int rc;

	answer[0] = '\0';
	fo_buf_puts(&form, "Action=StopInstances&Version=" API_VERSION "&InstanceId.1=");
	fo_aws_uri_encode(&form, id, 0);
	if (dry_run)
		fo_buf_puts(&form, "&DryRun=true");
	rc = post(region, dry_run ? "EC2 StopInstances (DryRun)" : "EC2 StopInstances", &form,
		  &resp, err);
	fo_buf_free(&form);
	if (rc < 0)
		return -1;
	if (resp.status == 200 && !dry_run) {
		struct fo_xml *doc = NULL;
		const char *was, *now;

		rc = fo_xml_parse(resp.body.data, resp.body.len, "EC2 StopInstances", &doc, err);
		fo_buf_free(&resp.body);
		if (rc < 0)
			return -1;
		was = fo_xml_text(doc, "instancesSet/item/previousState/name");
		now = fo_xml_text(doc, "instancesSet/item/currentState/name");
		snprintf(answer, len, "%s -> %s", was ? was : "?", now ? now : "?");
		fo_xml_free(doc);
		*result = FO_EC2_STOPPED;
		return 0;
	}
	error_of(&resp.body, "EC2 StopInstances", code, sizeof(code), msg, sizeof(msg));
	if (dry_run && strcmp(code, "DryRunOperation") == 0) {
		fo_buf_free(&resp.body);
		snprintf(answer, len, "DryRunOperation: %s", msg);
		*result = FO_EC2_WOULD_STOP;
		return 0;
	}
	if (resp.status >= 400 && resp.status < 500 && !denied(code) &&
	    !credentials_refused(code) && code[0]) {
		fo_buf_free(&resp.body);
		snprintf(answer, len, "%s: %s", code, msg);
		*result = FO_EC2_REFUSED;
		return 0;
	}
	return fail(region, "StopInstances", &resp, err);
}
