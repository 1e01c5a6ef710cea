/*
 * csvread.h: streaming CSV records from plain or gzip data.
 *
 * Bytes come from a read function (a local file here; S3 streams plug in the
 * same way), are inflated when they start with the gzip magic bytes
 * (whatever the file is called), and are parsed by libcsv in strict mode.
 * Each record reaches a callback with its fields and the line it started on,
 * so errors can name file, line and column. Memory stays bounded by the
 * longest record, whatever the size of the file.
 */
#ifndef FINOPS_CSVREAD_H
#define FINOPS_CSVREAD_H

#include <stddef.h>
#include <sys/types.h>

#include "finops/error.h"
#include "finops/read.h"

/*
 * Limits far above any real CUR, FOCUS, offer or metric-stream value, so that
 * memory stays bounded whatever a file holds: past them a file is bad input.
 */
#define FO_CSV_MAX_FIELD (1 << 20)    /* one CSV field */
#define FO_CSV_MAX_RECORD (16 << 20)  /* one CSV record (its lines) */
#define FO_LINE_MAX (4 << 20)         /* one line of a line-oriented format */


struct fo_csv_record {
	size_t nfields;
	char **field;                /* NUL-terminated; valid during the callback */
	const size_t *len;
	unsigned long long line;     /* line the record starts on, 1-based */
	unsigned long long index;    /* record number, 1-based (the header is 1) */
	void *reader;                /* the reader's, for fo_csv_only_fields */
};

/* Returns 0 to go on, -1 with err to stop. */
typedef int (*fo_csv_record_fn)(void *ctx, const struct fo_csv_record *rec, fo_err *err);

struct fo_csv_stats {
	unsigned long long records;
	unsigned long long bytes_in;     /* bytes read (compressed when gzip) */
	unsigned long long bytes_csv;    /* bytes parsed */
	int gzip;
};

/*
 * Reads all records of the data behind rd. name is used in messages.
 * Fails with FO_EXIT_BAD_INPUT (and "name:line: ...") on malformed CSV,
 * a truncated or corrupt gzip stream, or a NUL byte; the callback's errors
 * come back as they are.
 */
int fo_csv_read(const char *name, fo_read_fn rd, void *rdctx, fo_csv_record_fn cb, void *cbctx,
		struct fo_csv_stats *stats, fo_err *err);

/*
 * Called from the record callback (typically on the header): from the next
 * record of this file on, field i < n with used[i] == 0 is delivered empty,
 * without being copied or checked. Fields the caller ignores then cost only
 * their parsing. used must stay valid until fo_csv_read returns.
 */
void fo_csv_only_fields(const struct fo_csv_record *rec, const unsigned char *used, size_t n);


/*
 * The line reader, for line-oriented formats (JSON lines): each line (its
 * newline, and a CR before it, removed) reaches cb with its 1-based number.
 * Same gzip handling as fo_csv_read; stats->records counts lines.
 */
typedef int (*fo_line_fn)(void *ctx, const char *line, size_t len, unsigned long long lineno,
			  fo_err *err);
int fo_lines_read(const char *name, fo_read_fn rd, void *rdctx, fo_line_fn cb, void *cbctx,
		  struct fo_csv_stats *stats, fo_err *err);


/* Reads a local file (see fo_csv_read). */
int fo_csv_read_file(const char *path, fo_csv_record_fn cb, void *cbctx,
		     struct fo_csv_stats *stats, fo_err *err);

#endif
