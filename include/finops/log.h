/*
 * log.h: structured logging on stderr.
 *
 * Every line is one JSON object ({"ts":..., "level":..., "job":..., "msg":...,
 * then fields}) so that Promtail can ship it to Loki, or plain text when
 * stderr is a terminal or the format is "text". Each line is written with a
 * single write(2), so lines of concurrent processes never interleave.
 *
 * Secrets registered with fo_log_add_secret() are replaced by "[REDACTED]"
 * in every line, whatever field or message they appear in.
 */
#ifndef FINOPS_LOG_H
#define FINOPS_LOG_H

#include <stddef.h>

enum fo_log_level { FO_LOG_DEBUG, FO_LOG_INFO, FO_LOG_WARN, FO_LOG_ERROR };
enum fo_log_format { FO_LOG_FORMAT_AUTO, FO_LOG_FORMAT_JSON, FO_LOG_FORMAT_TEXT };

enum fo_field_type { FO_FT_STR, FO_FT_INT, FO_FT_NUM, FO_FT_BOOL, FO_FT_RAW_JSON };

/* One key/value of a log line. Strings are borrowed for the call only. */
typedef struct fo_field {
	const char *key;
	enum fo_field_type type;
	const char *s;      /* FO_FT_STR (NULL logs null) and FO_FT_RAW_JSON */
	long long i;        /* FO_FT_INT and FO_FT_BOOL */
	double d;           /* FO_FT_NUM */
} fo_field;

#define FO_STR(k, v)  ((fo_field){(k), FO_FT_STR, (v), 0, 0})
#define FO_INT(k, v)  ((fo_field){(k), FO_FT_INT, NULL, (long long)(v), 0})
#define FO_NUM(k, v)  ((fo_field){(k), FO_FT_NUM, NULL, 0, (double)(v)})
#define FO_BOOL(k, v) ((fo_field){(k), FO_FT_BOOL, NULL, !!(v), 0})
/* A value that is already valid JSON (an object or array built by the caller). */
#define FO_JSON(k, v) ((fo_field){(k), FO_FT_RAW_JSON, (v), 0, 0})

/* Expands to "array, count" for fo_logf(): FO_FIELDS(FO_STR("file", f), FO_INT("rows", n)) */
#define FO_FIELDS(...) ((const fo_field[]){__VA_ARGS__}), \
	(sizeof((const fo_field[]){__VA_ARGS__}) / sizeof(fo_field))

/*
 * Sets the job name and output of the log. Without a call, the job is
 * "finops", the level info and the format auto.
 */
void fo_log_init(const char *job, enum fo_log_format format, enum fo_log_level level);
void fo_log_set_level(enum fo_log_level level);
void fo_log_set_format(enum fo_log_format format);
enum fo_log_level fo_log_get_level(void);

/* Parses "json", "text" or "auto"; "debug", "info", "warn", "error". 0 or -1. */
int fo_log_parse_format(const char *s, enum fo_log_format *out);
int fo_log_parse_level(const char *s, enum fo_log_level *out);

/*
 * Sends log lines to fd instead of stderr (tests), and decides the "auto"
 * format from whether fd is a terminal.
 */
void fo_log_set_fd(int fd);

/*
 * Registers a secret: from now on it is replaced by "[REDACTED]" wherever it
 * appears in a log line. The log keeps a copy, wiped by fo_log_forget_secrets().
 * Strings shorter than 4 bytes are ignored (they would redact ordinary text).
 * Returns 0, or -1 when the table is full or memory is out.
 */
int fo_log_add_secret(const char *secret);
void fo_log_forget_secrets(void);

/*
 * Replaces every registered secret in buf (NUL-terminated, of capacity cap)
 * by "[REDACTED]", truncating if the result does not fit. Used by the log
 * itself and by code that stores messages elsewhere (job_runs.error_message).
 */
void fo_log_redact(char *buf, size_t cap);

/* Logs one line with fields (see FO_FIELDS) and a printf-style message. */
void fo_logf(enum fo_log_level level, const fo_field *fields, size_t nfields,
	     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Logs one line without fields. */
void fo_log_msg(enum fo_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define fo_debug(...) fo_log_msg(FO_LOG_DEBUG, __VA_ARGS__)
#define fo_info(...)  fo_log_msg(FO_LOG_INFO, __VA_ARGS__)
#define fo_warn(...)  fo_log_msg(FO_LOG_WARN, __VA_ARGS__)
#define fo_error(...) fo_log_msg(FO_LOG_ERROR, __VA_ARGS__)

/* Appends s as a JSON string literal (with quotes) to a fo_buf. */
struct fo_buf;
int fo_json_append_string(struct fo_buf *b, const char *s);

#endif
