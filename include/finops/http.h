/*
 * http.h: the library's one HTTP client (libcurl), for Vault and S3.
 *
 * Every request has a connect and a total timeout, verifies TLS (the CA
 * bundle may be replaced, never switched off) and names the tool in its
 * User-Agent. Connection errors, timeouts, 429 and 5xx are tried again with
 * capped exponential backoff and full jitter, waiting at least what a
 * Retry-After header asks; other 4xx are final. After the last try the
 * error is transient (exit 4) and names the URL without its query string or
 * credentials, and the last status.
 *
 * Bodies either come back in a buffer (small JSON answers, with a size cap)
 * or are streamed (fo_http_stream_*): a read function hands out the body as
 * it arrives, so a 5 GB report never sits in memory, and a download cut off
 * in the middle resumes where it stopped (Range, If-Match on the ETag).
 */
#ifndef FINOPS_HTTP_H
#define FINOPS_HTTP_H

#include <stddef.h>
#include <sys/types.h>

#include "finops/buf.h"
#include "finops/error.h"

struct fo_http_opts {
	long connect_timeout_ms;   /* 0: 10 s */
	long timeout_ms;           /* whole request (a buffered one); 0: 60 s */
	long low_speed_s;          /* streams: give up after this long below 1 byte/s; 0: 60 s */
	int tries;                 /* 0: 5 */
	long backoff_ms;           /* first backoff ceiling; 0: 500 ms */
	long backoff_max_ms;       /* 0: 30 s */
	long retry_after_max_s;    /* longest Retry-After honoured; 0: 120 s */
	size_t max_bytes;          /* buffered bodies larger fail; 0: 16 MiB */
	const char *ca_file;       /* NULL: the system's bundle */
	/*
	 * A service's own word for "try again" among answers the client would
	 * not retry by itself (AWS's JSON protocols answer throttling with 400
	 * ThrottlingException): returns why, for the log ("CloudWatch throttled
	 * GetMetricData"), to retry it with the same backoff and tries as a 503,
	 * or NULL. NULL: none. Buffered requests only.
	 */
	const char *(*retry_reason)(long status, const fo_buf *body, void *arg);
	void *retry_arg;
};

/* SigV4 signing by libcurl (CURLOPT_AWS_SIGV4). */
struct fo_http_sigv4 {
	const char *region;
	const char *service;        /* "s3" */
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token;  /* NULL or empty: none */
};

struct fo_http_req {
	const char *method;         /* NULL: GET */
	const char *url;
	const char *const *headers; /* "Name: value", NULL-terminated; may be NULL */
	const char *body;           /* request body (POST, PUT), or NULL */
	size_t body_len;
	const struct fo_http_sigv4 *sigv4;  /* NULL: unsigned */
	const char *what;           /* what the request is for, in messages ("Vault login") */
	int hide_url;               /* the URL is a secret (a webhook): messages name its host only */
};

struct fo_http_resp {
	long status;
	long long last_modified;    /* Last-Modified, Unix seconds; 0 when absent */
	fo_buf body;                /* the caller frees it (fo_buf_free or fo_buf_wipe) */
};

/*
 * Sends req, trying again as the policy says, and returns 0 with the final
 * status and body in resp, whatever the status: the caller decides what a
 * 403 or 404 means. Fails (-1) when no answer came (exit 4), when the last
 * answer was 429 or 5xx (exit 4), or when the body is over max_bytes.
 * opts may be NULL for the defaults.
 */
int fo_http_request(const struct fo_http_opts *opts, const struct fo_http_req *req,
		    struct fo_http_resp *resp, fo_err *err);

typedef struct fo_http_stream fo_http_stream;

/*
 * Starts a GET of req->url and waits for its status. A status other than 2xx
 * fails, with status (when not NULL) set and the start of the error body in
 * the message; 429 and 5xx are tried again first. On success *out is the
 * caller's until fo_http_stream_close.
 */
int fo_http_stream_open(const struct fo_http_opts *opts, const struct fo_http_req *req,
			fo_http_stream **out, long *status, fo_err *err);

/* Reads up to len bytes of the body: the count, 0 at its end, or -1. */
ssize_t fo_http_stream_read(fo_http_stream *s, char *buf, size_t len, fo_err *err);

/* The size the server announced, or -1. */
long long fo_http_stream_length(const fo_http_stream *s);

void fo_http_stream_close(fo_http_stream *s);

/* fo_http_stream_read as an fo_read_fn (ctx is the stream). */
ssize_t fo_http_stream_read_fn(void *ctx, char *buf, size_t len, fo_err *err);

/*
 * Writes url without user information and query string into out: what
 * messages may show. "https://u:p@h/x?X-Amz-Signature=..." -> "https://h/x".
 */
void fo_http_redact_url(const char *url, char *out, size_t len);

/* Global set-up and clean-up of libcurl; fo_job_main calls them. */
int fo_http_global_init(fo_err *err);
void fo_http_global_cleanup(void);

#endif
