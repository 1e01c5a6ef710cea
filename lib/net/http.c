/*
 * http.c: one HTTP client for the library (see http.h).
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
#include "core/core.h"


#define ERR_BODY_MAX 512          /* bytes of an error answer kept for messages */

struct opts {
	long connect_timeout_ms, timeout_ms, low_speed_s, backoff_ms, backoff_max_ms;
	long retry_after_max_s;
	int tries;
	size_t max_bytes;
	const char *ca_file;
	const char *(*retry_reason)(long status, const fo_buf *body, void *arg);
	void *retry_arg;
};

static void
fill_opts(const struct fo_http_opts *in, struct opts *o)
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

int
fo_http_global_init(fo_err *err)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return fo_err_set(err, FO_EXIT_FAILURE, "cannot initialise libcurl");
	return 0;
}

void
fo_http_global_cleanup(void)
{
	curl_global_cleanup();
}

void
fo_http_redact_url(const char *url, char *out, size_t len)
{
	const char *scheme = strstr(url, "://");
	const char *host = scheme ? scheme + 3 : url;
	const char *path_start = host + strcspn(host, "/?#");
	const char *at = memchr(host, '@', (size_t)(path_start - host));
	size_t pathlen;

	if (at)
		host = at + 1;
	pathlen = strcspn(path_start, "?#");
	snprintf(out, len, "%.*s%.*s%.*s", scheme ? (int)(scheme + 3 - url) : 0, url,
		 (int)(path_start - host), host, (int)pathlen, path_start);
}

/* ---- one transfer ---------------------------------------------------------- */

/* What a request needs for its whole life, retries included. */
struct xfer {
	CURL *easy;
	struct curl_slist *headers;
	char *sigv4_param;
	char redacted[512];
	const char *what;
	/* the answer */
	long status;
	int headers_done;
	char etag[256];
	long long content_length;    /* of this answer, -1 unknown */
	long retry_after_s;          /* from the last answer, -1 none */
	long long last_modified;
	/* buffered body */
	fo_buf *body;
	size_t max_bytes;
	int too_big;
	/* streamed body */
	fo_buf *pending;
	fo_buf errbody;
	long long skip;              /* bytes to drop (a Range the server ignored) */
	long long resume_from;       /* the Range asked for, 0 for none */
	int body_started;
};

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

static void
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
static int
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
static int
retryable_code(CURLcode c)
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

static int
retryable_status(long status)
{
	return status == 429 || status >= 500;
}

/* How long to wait before try attempt + 1. */
static int
wait_ms(const struct opts *o, int attempt, long retry_after_s)
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

static void
log_retry(const struct xfer *x, int attempt, int tries, const char *why, int ms)
{
	fo_logf(FO_LOG_WARN, FO_FIELDS(FO_STR("url", x->redacted), FO_INT("attempt", attempt),
				      FO_INT("tries", tries), FO_INT("wait_ms", ms)),
		"%s: %s; trying again in %d ms (%d of %d)", x->what, why, ms, attempt + 1, tries);
}

/* The message of a transport failure that is final. */
static int
transport_error(const struct xfer *x, CURLcode c, const char *detail, int attempts, fo_err *err)
{
	int code = retryable_code(c) ? FO_EXIT_TRANSIENT : FO_EXIT_USAGE;

	/* an answer larger than the caller's cap is not the document it expects */
	if (c == CURLE_WRITE_ERROR && x->too_big)
		return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: %s: the answer is larger than %zu"
				  " bytes", x->what, x->redacted, x->max_bytes);
	return fo_err_set(err, code, "%s: %s: %s%s%s (after %d tr%s)", x->what, x->redacted,
			  curl_easy_strerror(c), detail && detail[0] ? ": " : "",
			  detail ? detail : "", attempts, attempts == 1 ? "y" : "ies");
}

int
fo_http_request(const struct fo_http_opts *opts, const struct fo_http_req *req,
		struct fo_http_resp *resp, fo_err *err)
{
	struct opts o;
	struct xfer x;
	int attempt;
	const char *own;             /* the service's reason to retry, when it gave one */

	fill_opts(opts, &o);
	memset(&x, 0, sizeof(x));
	x.what = req->what ? req->what : "HTTP request";
	fo_http_redact_url(req->url, x.redacted, sizeof(x.redacted));
	resp->status = 0;
	resp->last_modified = 0;
	memset(&resp->body, 0, sizeof(resp->body));
	x.body = &resp->body;
	x.max_bytes = o.max_bytes;
	for (attempt = 1;; attempt++) {
		char detail[CURL_ERROR_SIZE] = "";
		CURLcode c;
		char why[160];

		if (xfer_setup(&x, &o, req, 0, NULL, err) < 0)
			goto fail;
		curl_easy_setopt(x.easy, CURLOPT_ERRORBUFFER, detail);
		fo_buf_wipe(&resp->body);
		c = curl_easy_perform(x.easy);
		own = NULL;
		if (c == CURLE_OK) {
			curl_easy_getinfo(x.easy, CURLINFO_RESPONSE_CODE, &x.status);
			resp->status = x.status;
			resp->last_modified = x.last_modified;
			if (!retryable_status(x.status) &&
			    !(x.status >= 300 && o.retry_reason &&
			      (own = o.retry_reason(x.status, &resp->body, o.retry_arg)) != NULL))
				break;
			snprintf(why, sizeof(why), "HTTP %ld", x.status);
		} else if (!retryable_code(c) || fo_stop_requested()) {
			transport_error(&x, c, detail, attempt, err);
			goto fail;
		} else {
			snprintf(why, sizeof(why), "%s", curl_easy_strerror(c));
		}
		if (attempt >= o.tries || fo_stop_requested()) {
			if (c == CURLE_OK)
				fo_err_set(err, FO_EXIT_TRANSIENT, "%s: %s: HTTP %ld after %d tr%s%s%.*s",
					   x.what, x.redacted, x.status, attempt,
					   attempt == 1 ? "y" : "ies", resp->body.len ? ": " : "",
					   (int)(resp->body.len < 200 ? resp->body.len : 200),
					   resp->body.data ? resp->body.data : "");
			else
				transport_error(&x, c, detail, attempt, err);
			goto fail;
		}
		{
			int ms = wait_ms(&o, attempt, c == CURLE_OK ? x.retry_after_s : -1);

			if (own)
				fo_logf(FO_LOG_WARN, FO_FIELDS(FO_STR("url", x.redacted),
							       FO_INT("attempt", attempt),
							       FO_INT("tries", o.tries),
							       FO_INT("wait_ms", ms)),
					"%s; trying again in %d ms (%d of %d)", own, ms, attempt + 1,
					o.tries);
			else
				log_retry(&x, attempt, o.tries, why, ms);
			fo_sleep_ms(ms);
		}
	}
	xfer_free(&x);
	return 0;
fail:
	xfer_free(&x);
	fo_buf_wipe(&resp->body);
	return -1;
}

/* ---- streams --------------------------------------------------------------- */

struct fo_http_stream {
	struct opts o;
	struct fo_http_req req;      /* its strings are the stream's copies */
	char **header_copies;
	struct fo_http_sigv4 sigv4;
	CURLM *multi;
	struct xfer x;
	fo_buf pending;
	size_t pending_off;
	int running;                 /* the transfer is in the multi handle */
	int done;                    /* the current transfer ended */
	CURLcode result;
	char detail[CURL_ERROR_SIZE];
	long long offset;            /* body bytes handed out */
	long long length;            /* whole body, -1 unknown */
	char etag[256];              /* of the first answer */
	int attempt;
};

static char *
dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

void
fo_http_stream_close(fo_http_stream *s)
{
	if (!s)
		return;
	if (s->multi && s->x.easy && s->running)
		curl_multi_remove_handle(s->multi, s->x.easy);
	xfer_free(&s->x);
	if (s->multi)
		curl_multi_cleanup(s->multi);
	for (size_t i = 0; s->header_copies && s->header_copies[i]; i++)
		fo_free_wiped(s->header_copies[i]);
	free(s->header_copies);
	free((char *)s->req.url);
	free((char *)s->req.what);
	fo_free_wiped((char *)s->sigv4.access_key_id);
	fo_free_wiped((char *)s->sigv4.secret_access_key);
	fo_free_wiped((char *)s->sigv4.session_token);
	free((char *)s->sigv4.region);
	free((char *)s->sigv4.service);
	fo_buf_free(&s->pending);
	free(s);
}

/* Starts (or starts again, from s->offset) the transfer. */
static int
stream_start(fo_http_stream *s, fo_err *err)
{
	char range[64];
	const char *r = NULL;
	char ifmatch[300];

	if (s->running) {
		curl_multi_remove_handle(s->multi, s->x.easy);
		s->running = 0;
	}
	if (s->offset > 0) {
		snprintf(range, sizeof(range), "%lld-", s->offset);
		r = range;
	}
	if (xfer_setup(&s->x, &s->o, &s->req, 1, r, err) < 0)
		return -1;
	if (s->offset > 0 && s->etag[0]) {
		/* the rest of the same object, or an error if it changed meanwhile */
		snprintf(ifmatch, sizeof(ifmatch), "If-Match: %s", s->etag);
		s->x.headers = curl_slist_append(s->x.headers, ifmatch);
		curl_easy_setopt(s->x.easy, CURLOPT_HTTPHEADER, s->x.headers);
	}
	s->detail[0] = '\0';
	curl_easy_setopt(s->x.easy, CURLOPT_ERRORBUFFER, s->detail);
	s->x.pending = &s->pending;
	s->x.skip = 0;
	s->x.resume_from = s->offset;
	s->x.body_started = 0;
	s->done = 0;
	s->result = CURLE_OK;
	if (curl_multi_add_handle(s->multi, s->x.easy) != CURLM_OK)
		return fo_err_set(err, FO_EXIT_FAILURE, "%s: cannot start a transfer", s->x.what);
	s->running = 1;
	return 0;
}

/* Runs the transfer until it has body bytes, its headers (want_headers) or ends. */
static int
stream_pump(fo_http_stream *s, int want_headers, fo_err *err)
{
	while (!s->done) {
		int still, msgs;
		CURLMsg *m;

		if (want_headers ? s->x.headers_done : s->pending.len > s->pending_off)
			return 0;
		if (fo_stop_requested())
			return fo_err_set(err, FO_EXIT_TRANSIENT, "%s: interrupted by a signal",
					  s->x.what);
		if (curl_multi_perform(s->multi, &still) != CURLM_OK)
			return fo_err_set(err, FO_EXIT_FAILURE, "%s: transfer failed", s->x.what);
		while ((m = curl_multi_info_read(s->multi, &msgs)) != NULL)
			if (m->msg == CURLMSG_DONE) {
				s->done = 1;
				s->result = m->data.result;
			}
		if (!s->done && !(want_headers ? s->x.headers_done
				  : s->pending.len > s->pending_off))
			curl_multi_poll(s->multi, NULL, 0, 500, NULL);
	}
	return 0;
}

/*
 * Waits for the status of the current transfer; retries 429, 5xx and
 * transport failures. Returns 0 with a 2xx under way, or -1.
 */
static int
stream_connect(fo_http_stream *s, long *status, fo_err *err)
{
	for (;;) {
		char why[160];
		long retry_after = -1;

		s->attempt++;
		if (stream_start(s, err) < 0 || stream_pump(s, 1, err) < 0)
			return -1;
		if (s->done && s->result != CURLE_OK && !s->x.headers_done) {
			if (!retryable_code(s->result) || s->attempt >= s->o.tries)
				return transport_error(&s->x, s->result, s->detail, s->attempt, err);
			snprintf(why, sizeof(why), "%s", curl_easy_strerror(s->result));
		} else {
			long st = s->x.status;

			if (status)
				*status = st;
			if (st >= 200 && st <= 299)
				return 0;
			/* read the (small) error answer to the end, for the message */
			while (!s->done && stream_pump(s, 0, err) == 0 && !s->done)
				;
			if (!retryable_status(st) || s->attempt >= s->o.tries) {
				fo_buf *b = &s->x.errbody;

				return fo_err_set(err, retryable_status(st) ? FO_EXIT_TRANSIENT
						  : FO_EXIT_FAILURE, "%s: %s: HTTP %ld%s%s%.*s",
						  s->x.what, s->x.redacted, st,
						  s->attempt > 1 ? " (after retries)" : "",
						  b->len ? ": " : "", (int)b->len, b->data ? b->data : "");
			}
			retry_after = s->x.retry_after_s;
			snprintf(why, sizeof(why), "HTTP %ld", st);
		}
		{
			int ms = wait_ms(&s->o, s->attempt, retry_after);

			log_retry(&s->x, s->attempt, s->o.tries, why, ms);
			fo_sleep_ms(ms);
		}
	}
}

int
fo_http_stream_open(const struct fo_http_opts *opts, const struct fo_http_req *req,
		    fo_http_stream **out, long *status, fo_err *err)
{
	fo_http_stream *s = calloc(1, sizeof(*s));
	size_t nh = 0;

	*out = NULL;
	if (status)
		*status = 0;
	if (!s)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	fill_opts(opts, &s->o);
	s->length = -1;
	s->req.method = "GET";
	s->req.url = strdup(req->url);
	s->req.what = strdup(req->what ? req->what : "download");
	while (req->headers && req->headers[nh])
		nh++;
	s->header_copies = calloc(nh + 1, sizeof(char *));
	for (size_t i = 0; s->header_copies && i < nh; i++)
		s->header_copies[i] = strdup(req->headers[i]);
	s->req.headers = (const char *const *)s->header_copies;
	if (req->sigv4) {
		s->sigv4.region = dup_or_null(req->sigv4->region);
		s->sigv4.service = dup_or_null(req->sigv4->service);
		s->sigv4.access_key_id = dup_or_null(req->sigv4->access_key_id);
		s->sigv4.secret_access_key = dup_or_null(req->sigv4->secret_access_key);
		s->sigv4.session_token = dup_or_null(req->sigv4->session_token);
		s->req.sigv4 = &s->sigv4;
	}
	s->multi = curl_multi_init();
	if (!s->req.url || !s->req.what || !s->header_copies || !s->multi ||
	    (req->sigv4 && (!s->sigv4.region || !s->sigv4.service || !s->sigv4.access_key_id ||
			    !s->sigv4.secret_access_key))) {
		fo_http_stream_close(s);
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	}
	s->x.what = s->req.what;
	fo_http_redact_url(req->url, s->x.redacted, sizeof(s->x.redacted));
	if (stream_connect(s, status, err) < 0) {
		fo_http_stream_close(s);
		return -1;
	}
	if (s->x.content_length >= 0)
		s->length = s->x.content_length;
	snprintf(s->etag, sizeof(s->etag), "%s", s->x.etag);
	*out = s;
	return 0;
}

long long
fo_http_stream_length(const fo_http_stream *s)
{
	return s->length;
}

/* After a cut: asks for the rest, checking the server kept to the Range. */
static int
stream_resume(fo_http_stream *s, fo_err *err)
{
	char why[200];
	long status = 0;

	snprintf(why, sizeof(why), "%s after %lld of %lld bytes",
		 s->result != CURLE_OK ? curl_easy_strerror(s->result) : "connection closed",
		 s->offset, s->length);
	if (s->attempt >= s->o.tries)
		return fo_err_set(err, FO_EXIT_TRANSIENT, "%s: %s: %s (after %d tries)", s->x.what,
				  s->x.redacted, why, s->attempt);
	{
		int ms = wait_ms(&s->o, s->attempt, -1);

		log_retry(&s->x, s->attempt, s->o.tries, why, ms);
		fo_sleep_ms(ms);
	}
	if (stream_connect(s, &status, err) < 0) {
		if (status == 412)
			return fo_err_set(err, FO_EXIT_TRANSIENT, "%s: %s: the object changed while"
					  " it was being read (ETag %s no longer matches); run again",
					  s->x.what, s->x.redacted, s->etag);
		return -1;
	}
	if (status != 200 && status != 206) {   /* 200: on_body drops what was read */
		return fo_err_set(err, FO_EXIT_FAILURE, "%s: %s: HTTP %ld to a range request",
				  s->x.what, s->x.redacted, status);
	}
	return 0;
}

ssize_t
fo_http_stream_read(fo_http_stream *s, char *buf, size_t len, fo_err *err)
{
	for (;;) {
		size_t avail;

		if (stream_pump(s, 0, err) < 0)
			return -1;
		avail = s->pending.len - s->pending_off;
		if (avail > 0) {
			size_t n = avail < len ? avail : len;

			memcpy(buf, s->pending.data + s->pending_off, n);
			s->pending_off += n;
			s->offset += (long long)n;
			if (s->pending_off == s->pending.len) {
				fo_buf_reset(&s->pending);
				s->pending_off = 0;
			}
			return (ssize_t)n;
		}
		if (s->pending.oom)
			return fo_err_set(err, FO_EXIT_FAILURE, "%s: out of memory", s->x.what);
		/* the transfer ended with nothing left to hand out */
		if (s->result == CURLE_OK && (s->length < 0 || s->offset >= s->length))
			return 0;
		if (s->result != CURLE_OK && !retryable_code(s->result))
			return transport_error(&s->x, s->result, s->detail, s->attempt, err);
		if (stream_resume(s, err) < 0)
			return -1;
	}
}

ssize_t
fo_http_stream_read_fn(void *ctx, char *buf, size_t len, fo_err *err)
{
	return fo_http_stream_read(ctx, buf, len, err);
}
