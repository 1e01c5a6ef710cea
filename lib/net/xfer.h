/*
 * xfer.h: one HTTP transfer and the retry policy, shared by whole requests
 * (request.c) and streamed downloads (stream.c). Private to lib/net.
 */
#ifndef FINOPS_NET_XFER_H
#define FINOPS_NET_XFER_H

#include <stddef.h>

#include <curl/curl.h>

#include "finops/buf.h"
#include "finops/error.h"
#include "finops/http.h"

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

/* The caller's options with their defaults filled in. */
void http_fill_opts(const struct fo_http_opts *in, struct opts *o);

/* A transfer of req (stream: the body goes to x->pending); xfer_free ends it. */
int xfer_setup(struct xfer *x, const struct opts *o, const struct fo_http_req *req, int stream,
	       const char *range, fo_err *err);
void xfer_free(struct xfer *x);

/* The URL as messages show it: without secrets, or only its host (req->hide_url). */
void http_url_label(const struct fo_http_req *req, char *out, size_t len);

/* The one retry policy: what is worth another try, how long to wait, what to say. */
int http_retryable_code(CURLcode c);
int http_retryable_status(long status);
int http_wait_ms(const struct opts *o, int attempt, long retry_after_s);
void http_log_retry(const struct xfer *x, int attempt, int tries, const char *why, int ms);
int http_transport_error(const struct xfer *x, CURLcode c, const char *detail, int attempts,
			 fo_err *err);

#endif
