/*
 * log.c: one JSON object (or one text line) a log line, on stderr.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "finops/buf.h"
#include "finops/log.h"
#include "core/core.h"

#define MAX_SECRETS 32
#define REDACTED "[REDACTED]"

static struct {
	char job[64];
	enum fo_log_format format;
	enum fo_log_level level;
	int fd;
	int is_tty;
	char *secrets[MAX_SECRETS];
	int nsecrets;
} L = {"finops", FO_LOG_FORMAT_AUTO, FO_LOG_INFO, 2, -1, {0}, 0};

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void
fo_log_init(const char *job, enum fo_log_format format, enum fo_log_level level)
{
	snprintf(L.job, sizeof(L.job), "%s", job ? job : "finops");
	L.format = format;
	L.level = level;
	L.is_tty = -1;
}

void
fo_log_set_level(enum fo_log_level level)
{
	L.level = level;
}

void
fo_log_set_format(enum fo_log_format format)
{
	L.format = format;
}

enum fo_log_level
fo_log_get_level(void)
{
	return L.level;
}

void
fo_log_set_fd(int fd)
{
	L.fd = fd;
	L.is_tty = -1;
}

int
fo_log_parse_format(const char *s, enum fo_log_format *out)
{
	if (strcmp(s, "auto") == 0)
		*out = FO_LOG_FORMAT_AUTO;
	else if (strcmp(s, "json") == 0)
		*out = FO_LOG_FORMAT_JSON;
	else if (strcmp(s, "text") == 0)
		*out = FO_LOG_FORMAT_TEXT;
	else
		return -1;
	return 0;
}

int
fo_log_parse_level(const char *s, enum fo_log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum fo_log_level)i;
			return 0;
		}
	}
	if (strcmp(s, "warning") == 0) {
		*out = FO_LOG_WARN;
		return 0;
	}
	return -1;
}

static int
add_one_secret(const char *secret)
{
	for (int i = 0; i < L.nsecrets; i++)
		if (strcmp(L.secrets[i], secret) == 0)
			return 0;
	if (L.nsecrets == MAX_SECRETS)
		return -1;
	L.secrets[L.nsecrets] = strdup(secret);
	if (!L.secrets[L.nsecrets])
		return -1;
	L.nsecrets++;
	return 0;
}

int
fo_log_add_secret(const char *secret)
{
	fo_buf esc = FO_BUF_INIT;
	int rc;

	if (!secret || strlen(secret) < 4)
		return 0;
	if (add_one_secret(secret) < 0)
		return -1;
	/*
	 * A secret inside a JSON value (a raw JSON field, a Vault answer)
	 * appears escaped: redact that spelling too.
	 */
	fo_json_append_string(&esc, secret);
	if (esc.oom)
		return -1;
	esc.data[esc.len - 1] = '\0';
	rc = strcmp(esc.data + 1, secret) != 0 ? add_one_secret(esc.data + 1) : 0;
	fo_buf_wipe(&esc);
	return rc;
}

void
fo_log_forget_secrets(void)
{
	for (int i = 0; i < L.nsecrets; i++) {
		fo_memzero(L.secrets[i], strlen(L.secrets[i]));
		free(L.secrets[i]);
		L.secrets[i] = NULL;
	}
	L.nsecrets = 0;
}

/* Copies s to out with every registered secret replaced. */
static void
redact_into(fo_buf *out, const char *s)
{
	while (*s) {
		const char *first = NULL;
		size_t firstlen = 0;

		for (int i = 0; i < L.nsecrets; i++) {
			const char *p = strstr(s, L.secrets[i]);
			size_t len = strlen(L.secrets[i]);

			/* Earliest match wins; at one position the longest. */
			if (p && (!first || p < first || (p == first && len > firstlen))) {
				first = p;
				firstlen = len;
			}
		}
		if (!first) {
			fo_buf_puts(out, s);
			return;
		}
		fo_buf_append(out, s, (size_t)(first - s));
		fo_buf_puts(out, REDACTED);
		s = first + firstlen;
	}
}

void
fo_log_redact(char *buf, size_t cap)
{
	fo_buf tmp = FO_BUF_INIT;

	if (!buf || cap == 0 || L.nsecrets == 0)
		return;
	redact_into(&tmp, buf);
	if (tmp.oom) {
		/* Rather lose the message than leak a secret. */
		snprintf(buf, cap, "%s", REDACTED);
	} else {
		snprintf(buf, cap, "%s", fo_buf_str(&tmp));
	}
	fo_buf_wipe(&tmp);
}

/* A NUL-terminated string never ends inside a sequence: the NUL fails the test. */
static size_t
utf8_len(const unsigned char *p)
{
	return fo_utf8_len(p, 4);
}

int
fo_json_append_string(fo_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fo_buf_putc(b, '"');
	while (*p) {
		const unsigned char *run = p;
		size_t n;

		/* plain printable ASCII goes in one piece */
		while (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
			p++;
		if (p > run)
			fo_buf_append(b, run, (size_t)(p - run));
		if (!*p)
			break;

		switch (*p) {
		case '"':
			fo_buf_puts(b, "\\\"");
			p++;
			continue;
		case '\\':
			fo_buf_puts(b, "\\\\");
			p++;
			continue;
		case '\n':
			fo_buf_puts(b, "\\n");
			p++;
			continue;
		case '\r':
			fo_buf_puts(b, "\\r");
			p++;
			continue;
		case '\t':
			fo_buf_puts(b, "\\t");
			p++;
			continue;
		}
		if (*p < 0x20) {
			fo_buf_printf(b, "\\u%04x", *p);
			p++;
			continue;
		}
		n = utf8_len(p);
		if (n == 0) {
			/* Keep the line valid JSON whatever bytes came in. */
			fo_buf_puts(b, "\\ufffd");
			p++;
			continue;
		}
		fo_buf_append(b, p, n);
		p += n;
	}
	return fo_buf_putc(b, '"');
}

static int
use_text(void)
{
	if (L.format == FO_LOG_FORMAT_TEXT)
		return 1;
	if (L.format == FO_LOG_FORMAT_JSON)
		return 0;
	if (L.is_tty < 0)
		L.is_tty = isatty(L.fd) ? 1 : 0;
	return L.is_tty;
}

static void
format_ts(char *out, size_t len)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

/* Whether s holds a control character or bytes that are not UTF-8. */
static int
needs_escape(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t n = utf8_len(p);

		if (n == 0 || *p < 0x20 || *p == 0x7f)
			return 1;
		p += n;
	}
	return 0;
}

/*
 * A text message: as it is, but for control characters (a newline would
 * forge a second line, an escape sequence rewrite the terminal) and bytes
 * that are not UTF-8, which are escaped as in C ("\n", "\x1b").
 */
static void
text_message(fo_buf *line, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (!needs_escape(s)) {
		fo_buf_puts(line, s);
		return;
	}
	while (*p) {
		size_t n = utf8_len(p);

		if (*p == '\n')
			fo_buf_puts(line, "\\n");
		else if (*p == '\r')
			fo_buf_puts(line, "\\r");
		else if (*p == '\t')
			fo_buf_puts(line, "\\t");
		else if (n == 0 || *p < 0x20 || *p == 0x7f)
			fo_buf_printf(line, "\\x%02x", *p);
		else {
			fo_buf_append(line, p, n);
			p += n;
			continue;
		}
		p++;
	}
}

/* Text values are quoted (JSON-escaped) when they would be ambiguous in key=value form. */
static void
text_value(fo_buf *line, const char *v)
{
	if (*v && strpbrk(v, " \"=\\") == NULL && !needs_escape(v)) {
		fo_buf_puts(line, v);
		return;
	}
	fo_json_append_string(line, v);
}

static void
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;     /* nowhere left to report it */
		}
		p += w;
		n -= (size_t)w;
	}
}

static void
emit(enum fo_log_level level, const fo_field *fields, size_t nfields,
     const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

static void
emit(enum fo_log_level level, const fo_field *fields, size_t nfields,
     const char *fmt, va_list ap)
{
	fo_buf raw = FO_BUF_INIT, clean = FO_BUF_INIT, line = FO_BUF_INIT;
	char ts[40];
	int text = use_text();
	int saved_errno = errno;

	if (level < L.level)
		return;
	format_ts(ts, sizeof(ts));

	{
		va_list aq;
		int n;

		va_copy(aq, ap);
		n = vsnprintf(NULL, 0, fmt, aq);
		va_end(aq);
		if (n >= 0 && fo_buf_reserve(&raw, (size_t)n) == 0) {
			vsnprintf(raw.data, (size_t)n + 1, fmt, ap);
			raw.len = (size_t)n;
		}
	}
	redact_into(&clean, fo_buf_str(&raw));

	if (text) {
		fo_buf_printf(&line, "%s %-5s %s: ", ts, level_names[level], L.job);
		text_message(&line, fo_buf_str(&clean));
	} else {
		fo_buf_printf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",\"job\":", ts,
			      level_names[level]);
		fo_json_append_string(&line, L.job);
		fo_buf_puts(&line, ",\"msg\":");
		fo_json_append_string(&line, fo_buf_str(&clean));
	}

	for (size_t i = 0; i < nfields; i++) {
		const fo_field *f = &fields[i];
		char num[64];

		fo_buf_reset(&clean);
		if (text)
			fo_buf_printf(&line, " %s=", f->key);
		else {
			fo_buf_putc(&line, ',');
			fo_json_append_string(&line, f->key);
			fo_buf_putc(&line, ':');
		}
		switch (f->type) {
		case FO_FT_STR:
			if (!f->s) {
				fo_buf_puts(&line, "null");
				break;
			}
			redact_into(&clean, f->s);
			if (text)
				text_value(&line, fo_buf_str(&clean));
			else
				fo_json_append_string(&line, fo_buf_str(&clean));
			break;
		case FO_FT_RAW_JSON:
			redact_into(&clean, f->s ? f->s : "null");
			fo_buf_puts(&line, fo_buf_str(&clean));
			break;
		case FO_FT_INT:
			fo_buf_printf(&line, "%lld", f->i);
			break;
		case FO_FT_BOOL:
			fo_buf_puts(&line, f->i ? "true" : "false");
			break;
		case FO_FT_NUM:
			/* JSON has no NaN or infinity. */
			if (f->d != f->d || f->d > 1e308 || f->d < -1e308)
				snprintf(num, sizeof(num), "null");
			else
				snprintf(num, sizeof(num), "%.15g", f->d);
			fo_buf_puts(&line, num);
			break;
		}
	}
	if (!text)
		fo_buf_putc(&line, '}');
	fo_buf_putc(&line, '\n');

	if (!line.oom)
		write_all(L.fd, line.data, line.len);
	fo_buf_wipe(&raw);
	fo_buf_wipe(&clean);
	fo_buf_wipe(&line);
	errno = saved_errno;
}

void
fo_logf(enum fo_log_level level, const fo_field *fields, size_t nfields,
	const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(level, fields, nfields, fmt, ap);
	va_end(ap);
}

void
fo_log_msg(enum fo_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(level, NULL, 0, fmt, ap);
	va_end(ap);
}

