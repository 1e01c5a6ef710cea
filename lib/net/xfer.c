/*
 * xfer.c: one HTTP transfer (libcurl easy handle, headers, body, SigV4)
 * and the retry policy, for request.c and stream.c (see xfer.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "finops/http.h"
#include "finops/log.h"
#include "finops/version.h"
#include "finops/stop.h"
#include "net/xfer.h"
#include "core/core.h"


void
http_fill_opts(const struct fo_http_opts *in, struct opts *o)
{
	static const struct fo_http_opts none;

	if (!in)
		in = &none;
	o->connect_timeout_ms = in->connect_timeout_ms > 0 ? in->connect_timeout_ms : 10000;
	o->timeout_ms = in->timeout_ms > 0 ? in->timeout_ms : 60000;
	o->low_speed_s = in->low_speed_s > 0 ? in->low_speed_s : 60;
	o->tries = in->tries > 0 ? in->tries : 5;
	o->backoff_ms = in->backoff_ms > 0 ? in->backoff_ms : 500;
	o->backoff_max_ms = in->backoff_max_ms > 0 ? in->backoff_max_ms : 30000;
	o->retry_after_max_s = in->retry_after_max_s > 0 ? in->retry_after_max_s : 120;
	o->max_bytes = in->max_bytes > 0 ? in->max_bytes : 16u << 20;
	o->ca_file = in->ca_file && in->ca_file[0] ? in->ca_file : NULL;
	o->retry_reason = in->retry_reason;
	o->retry_arg = in->retry_arg;
}

static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;

	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* a new answer (after a 100 Continue, say): forget the last one's headers */
		x->headers_done = 0;
		x->etag[0] = '\0';
		x->content_length = -1;
		x->retry_after_s = -1;
		x->last_modified = 0;
	} else if (len <= 2 && (data[0] == '\r' || data[0] == '\n')) {
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
		if (x->status >= 200)
			x->headers_done = 1;
	} else if (len > 5 && strncasecmp(data, "ETag:", 5) == 0) {
		const char *v = data + 5;
		size_t k;

		while (*v == ' ' || *v == '\t')
			v++;
		k = (size_t)(data + len - v);
		while (k > 0 && (v[k - 1] == '\r' || v[k - 1] == '\n' || v[k - 1] == ' '))
			k--;
		if (k < sizeof(x->etag))
			snprintf(x->etag, sizeof(x->etag), "%.*s", (int)k, v);
	} else if (len > 15 && strncasecmp(data, "Content-Length:", 15) == 0) {
		x->content_length = strtoll(data + 15, NULL, 10);
	} else if (len > 14 && strncasecmp(data, "Last-Modified:", 14) == 0) {
		char v[128];
		size_t k = strcspn(data + 14, "\r\n");
		time_t when;

		snprintf(v, sizeof(v), "%.*s", (int)(k < sizeof(v) ? k : sizeof(v) - 1), data + 14);
		when = curl_getdate(v, NULL);
		x->last_modified = when > 0 ? (long long)when : 0;
	} else if (len > 12 && strncasecmp(data, "Retry-After:", 12) == 0) {
		char v[128];
		const char *p = data + 12;
		size_t k;
		time_t when;

		while (*p == ' ')
			p++;
		k = strcspn(p, "\r\n");
		snprintf(v, sizeof(v), "%.*s", (int)(k < sizeof(v) ? k : sizeof(v) - 1), p);
		if (v[0] >= '0' && v[0] <= '9') {
			x->retry_after_s = strtol(v, NULL, 10);
		} else if ((when = curl_getdate(v, NULL)) > 0) {
			time_t now = time(NULL);

			x->retry_after_s = when > now ? (long)(when - now) : 0;
		}
	}
	return len;
}

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;

	if (x->status == 0)
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
	if (x->body) {
		if (x->body->len + len > x->max_bytes) {
			x->too_big = 1;
			return 0;       /* ends the transfer with CURLE_WRITE_ERROR */
		}
		fo_buf_append(x->body, data, len);
		return x->body->oom ? 0 : len;
	}
	if (x->status < 200 || x->status > 299) {
		/* an error answer: keep its start for the message */
		if (x->errbody.len < ERR_BODY_MAX)
			fo_buf_append(&x->errbody, data,
				      len < ERR_BODY_MAX - x->errbody.len ? len
				      : ERR_BODY_MAX - x->errbody.len);
		return len;
	}
	if (!x->body_started) {
		/* a server that ignored the Range sends the whole object: drop what was read */
		x->body_started = 1;
		if (x->resume_from > 0 && x->status == 200)
			x->skip = x->resume_from;
	}
	if (x->skip > 0) {
		size_t drop = (long long)len < x->skip ? len : (size_t)x->skip;

		x->skip -= (long long)drop;
		data += drop;
		len -= drop;
		if (len == 0)
			return size * n;
	}
	fo_buf_append(x->pending, data, len);
	return x->pending->oom ? 0 : size * n;
}

void
xfer_free(struct xfer *x)
{
	if (x->easy)
		curl_easy_cleanup(x->easy);
	x->easy = NULL;
	if (x->headers) {
		/* header lines may carry a session token */
		for (struct curl_slist *h = x->headers; h; h = h->next)
			fo_memzero(h->data, strlen(h->data));
		curl_slist_free_all(x->headers);
	}
	x->headers = NULL;
	free(x->sigv4_param);
	x->sigv4_param = NULL;
	fo_buf_free(&x->errbody);
}

/* Sets x->easy up for req (a stream: no total timeout); range: "N-" or NULL. */
int
xfer_setup(struct xfer *x, const struct opts *o, const struct fo_http_req *req, int stream,
	   const char *range, fo_err *err)
{
	static const char ua[] = "finops-pipeline/" FO_VERSION;
	const char *method = req->method ? req->method : "GET";

	xfer_free(x);
	x->status = 0;
	x->headers_done = 0;
	x->content_length = -1;
	x->retry_after_s = -1;
	x->too_big = 0;
	x->easy = curl_easy_init();
	if (!x->easy)
		return fo_err_set(err, FO_EXIT_FAILURE, "%s: cannot start a transfer", x->what);
	for (const char *const *h = req->headers; h && *h; h++)
		x->headers = curl_slist_append(x->headers, *h);
	if (range) {
		char line[320];

		snprintf(line, sizeof(line), "Range: bytes=%s", range);
		x->headers = curl_slist_append(x->headers, line);
	}
	if (req->sigv4) {
		const struct fo_http_sigv4 *s = req->sigv4;
		size_t n = strlen(s->region) + strlen(s->service) + 16;

		x->sigv4_param = malloc(n);
		if (x->sigv4_param)
			snprintf(x->sigv4_param, n, "aws:amz:%s:%s", s->region, s->service);
		if (strcmp(s->service, "s3") == 0)
			x->headers = curl_slist_append(x->headers,
						       "x-amz-content-sha256: UNSIGNED-PAYLOAD");
		if (s->session_token && s->session_token[0]) {
			fo_buf line = FO_BUF_INIT;

			fo_buf_printf(&line, "x-amz-security-token: %s", s->session_token);
			if (!line.oom)
				x->headers = curl_slist_append(x->headers, line.data);
			fo_buf_wipe(&line);
		}
		if (!x->sigv4_param)
			return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		curl_easy_setopt(x->easy, CURLOPT_AWS_SIGV4, x->sigv4_param);
		curl_easy_setopt(x->easy, CURLOPT_USERNAME, s->access_key_id);
		curl_easy_setopt(x->easy, CURLOPT_PASSWORD, s->secret_access_key);
	}
	curl_easy_setopt(x->easy, CURLOPT_URL, req->url);
	curl_easy_setopt(x->easy, CURLOPT_USERAGENT, ua);
	curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
	if (stream) {
		curl_easy_setopt(x->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(x->easy, CURLOPT_LOW_SPEED_TIME, o->low_speed_s);
	} else {
		curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, o->timeout_ms);
	}
	curl_easy_setopt(x->easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(x->easy, CURLOPT_SSL_VERIFYHOST, 2L);
	if (o->ca_file)
		curl_easy_setopt(x->easy, CURLOPT_CAINFO, o->ca_file);
	curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(x->easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
	if (req->body) {
		curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, req->body);
		curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
		curl_easy_setopt(x->easy, CURLOPT_CUSTOMREQUEST, method);
	else if (strcmp(method, "POST") == 0 && !req->body)
		curl_easy_setopt(x->easy, CURLOPT_POST, 1L);
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
	return 0;
}

/* Transport failures worth another try; the rest (TLS trust, bad URL) are final. */
int
http_retryable_code(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
		return 1;
	default:
		return 0;
	}
}

int
http_retryable_status(long status)
{
	return status == 429 || status >= 500;
}

/* How long to wait before try attempt + 1. */
int
http_wait_ms(const struct opts *o, int attempt, long retry_after_s)
{
	int ms = fo_backoff_ms(attempt, (int)o->backoff_ms, (int)o->backoff_max_ms);

	if (retry_after_s >= 0) {
		long want = (retry_after_s > o->retry_after_max_s ? o->retry_after_max_s
			     : retry_after_s) * 1000;

		if (want > ms)
			ms = (int)want;
	}
	return ms;
}

void
http_log_retry(const struct xfer *x, int attempt, int tries, const char *why, int ms)
{
	fo_logf(FO_LOG_WARN, FO_FIELDS(FO_STR("url", x->redacted), FO_INT("attempt", attempt),
				      FO_INT("tries", tries), FO_INT("wait_ms", ms)),
		"%s: %s; trying again in %d ms (%d of %d)", x->what, why, ms, attempt + 1, tries);
}

/* The message of a transport failure that is final. */
int
http_transport_error(const struct xfer *x, CURLcode c, const char *detail, int attempts, fo_err *err)
{
	int code = http_retryable_code(c) ? FO_EXIT_TRANSIENT : FO_EXIT_USAGE;

	/* an answer larger than the caller's cap is not the document it expects */
	if (c == CURLE_WRITE_ERROR && x->too_big)
		return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: %s: the answer is larger than %zu"
				  " bytes", x->what, x->redacted, x->max_bytes);
	return fo_err_set(err, code, "%s: %s: %s%s%s (after %d tr%s)", x->what, x->redacted,
			  curl_easy_strerror(c), detail && detail[0] ? ": " : "",
			  detail ? detail : "", attempts, attempts == 1 ? "y" : "ies");
}

void
http_url_label(const struct fo_http_req *req, char *out, size_t len)
{
	char *host;

	fo_http_redact_url(req->url, out, len);
	if (!req->hide_url)
		return;
	/* scheme and host only: nothing of the path */
	host = strstr(out, "://");
	host = host ? host + 3 : out;
	host[strcspn(host, "/")] = '\0';
}
