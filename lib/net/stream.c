/*
 * stream.c: streamed HTTP downloads that resume where a cut transfer
 * stopped (Range + If-Match), with the same retry policy (see http.h).
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
			if (!http_retryable_code(s->result) || s->attempt >= s->o.tries)
				return http_transport_error(&s->x, s->result, s->detail, s->attempt, err);
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
			if (!http_retryable_status(st) || s->attempt >= s->o.tries) {
				fo_buf *b = &s->x.errbody;

				return fo_err_set(err, http_retryable_status(st) ? FO_EXIT_TRANSIENT
						  : FO_EXIT_FAILURE, "%s: %s: HTTP %ld%s%s%.*s",
						  s->x.what, s->x.redacted, st,
						  s->attempt > 1 ? " (after retries)" : "",
						  b->len ? ": " : "", (int)b->len, b->data ? b->data : "");
			}
			retry_after = s->x.retry_after_s;
			snprintf(why, sizeof(why), "HTTP %ld", st);
		}
		{
			int ms = http_wait_ms(&s->o, s->attempt, retry_after);

			http_log_retry(&s->x, s->attempt, s->o.tries, why, ms);
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
	http_fill_opts(opts, &s->o);
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
	http_url_label(req, s->x.redacted, sizeof(s->x.redacted));
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
		int ms = http_wait_ms(&s->o, s->attempt, -1);

		http_log_retry(&s->x, s->attempt, s->o.tries, why, ms);
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
		if (s->result != CURLE_OK && !http_retryable_code(s->result))
			return http_transport_error(&s->x, s->result, s->detail, s->attempt, err);
		if (stream_resume(s, err) < 0)
			return -1;
	}
}

ssize_t
fo_http_stream_read_fn(void *ctx, char *buf, size_t len, fo_err *err)
{
	return fo_http_stream_read(ctx, buf, len, err);
}
