/*
 * request.c: the library's HTTP client (see http.h): global set-up, URLs
 * without their secrets, and whole requests with retries.
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

int
fo_http_request(const struct fo_http_opts *opts, const struct fo_http_req *req,
		struct fo_http_resp *resp, fo_err *err)
{
	struct opts o;
	struct xfer x;
	int attempt;
	const char *own;             /* the service's reason to retry, when it gave one */

	http_fill_opts(opts, &o);
	memset(&x, 0, sizeof(x));
	x.what = req->what ? req->what : "HTTP request";
	http_url_label(req, x.redacted, sizeof(x.redacted));
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
			if (!http_retryable_status(x.status) &&
			    !(x.status >= 300 && o.retry_reason &&
			      (own = o.retry_reason(x.status, &resp->body, o.retry_arg)) != NULL))
				break;
			snprintf(why, sizeof(why), "HTTP %ld", x.status);
		} else if (!http_retryable_code(c) || fo_stop_requested()) {
			http_transport_error(&x, c, detail, attempt, err);
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
				http_transport_error(&x, c, detail, attempt, err);
			goto fail;
		}
		{
			int ms = http_wait_ms(&o, attempt, c == CURLE_OK ? x.retry_after_s : -1);

			if (own)
				fo_logf(FO_LOG_WARN, FO_FIELDS(FO_STR("url", x.redacted),
							       FO_INT("attempt", attempt),
							       FO_INT("tries", o.tries),
							       FO_INT("wait_ms", ms)),
					"%s; trying again in %d ms (%d of %d)", own, ms, attempt + 1,
					o.tries);
			else
				http_log_retry(&x, attempt, o.tries, why, ms);
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
