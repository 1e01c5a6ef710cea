/*
 * copy.h: bulk loading with COPY ... FROM STDIN in text format.
 *
 * Fields are escaped for COPY's text format (backslash, tab, newline,
 * carriage return) and rows gathered into a large buffer that is sent with
 * one PQputCopyData call when full, which is what makes COPY fast from a
 * client (see docs/design.md). NULL is sent as \N, the empty string as an
 * empty field: the two never mix.
 *
 * Usage:
 *   fo_copy_begin(conn, "finops.t", cols, 3, &c, err);
 *   for each row: fo_copy_put(c, ...) per column, then fo_copy_end_row(c, err);
 *   fo_copy_finish(c, &result, err);      (or fo_copy_abort(c, why))
 * begin/finish do not open a transaction: the caller decides its scope.
 *
 * Binary format (fo_copy_begin_binary) sends each value in the type's own
 * binary form, which spares the server parsing numbers and timestamps from
 * text (see docs/design.md). Each row then takes, in column order, one of
 * fo_copy_put (text and varchar: the bytes as they are), fo_copy_put_null,
 * fo_copy_put_int4/int8, fo_copy_put_date, fo_copy_put_timestamptz,
 * fo_copy_put_numeric or fo_copy_put_jsonb, matching the column's type.
 */
#ifndef FINOPS_COPY_H
#define FINOPS_COPY_H

#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

#include "finops/error.h"

struct fo_buf;
typedef struct fo_copy fo_copy;

#define FO_COPY_DEFAULT_BUFFER (1024 * 1024)

struct fo_copy_result {
	unsigned long long rows;        /* rows the server accepted (0 on failure) */
	unsigned long long rows_sent;   /* rows handed to the server */
	unsigned long long bytes_sent;
	unsigned long long failed_row;  /* 1-based row the server rejected, else 0 */
};

/*
 * Starts COPY table (columns...) FROM STDIN. table is trusted SQL text
 * ("finops.line_items"); column names are quoted here. buffer_size 0 means
 * FO_COPY_DEFAULT_BUFFER. On success *out is owned by the caller until
 * fo_copy_finish() or fo_copy_abort() frees it.
 */
int fo_copy_begin(PGconn *conn, const char *table, const char *const *columns,
		  size_t ncolumns, size_t buffer_size, fo_copy **out, fo_err *err);

/*
 * As fo_copy_begin, with COPY options (trusted SQL, "FREEZE") added as
 * WITH (options); NULL for none.
 */
int fo_copy_begin_with(PGconn *conn, const char *table, const char *const *columns,
		       size_t ncolumns, size_t buffer_size, const char *options, fo_copy **out,
		       fo_err *err);

/*
 * As fo_copy_begin_with, in binary format (options are added after
 * FORMAT binary).
 */
int fo_copy_begin_binary(PGconn *conn, const char *table, const char *const *columns,
			 size_t ncolumns, size_t buffer_size, const char *options, fo_copy **out,
			 fo_err *err);

/*
 * One COPY of rows made beforehand in text format (fields escaped with
 * fo_copy_escape, tab-separated, one row a line): for rows computed before
 * the transaction that writes them. Errors as fo_copy_finish's.
 */
int fo_copy_text_rows(PGconn *conn, const char *table, const char *const *columns,
		      size_t ncolumns, const struct fo_buf *rows, fo_err *err);

/*
 * Rows to COPY later, on a connection busy now (reading a COPY TO STDOUT, for
 * one): fo_copy_put and fo_copy_end_row write text-format rows to a temporary
 * file (a flat 256 KB in memory), and fo_copy_spool_send copies them into
 * table on conn and frees the spool, whatever the outcome (fo_copy_abort
 * frees it unsent). columns must outlive the spool. Errors as
 * fo_copy_finish's.
 */
int fo_copy_spool(const char *table, const char *const *columns, size_t ncolumns,
		  fo_copy **out, fo_err *err);
int fo_copy_spool_send(fo_copy *spool, PGconn *conn, struct fo_copy_result *result,
		       fo_err *err);

/*
 * Appends the next field of the current row: n bytes of s. s == NULL sends
 * NULL. A NUL byte inside the field is refused (text COPY cannot carry it);
 * the error is reported by fo_copy_end_row().
 */
void fo_copy_put(fo_copy *c, const char *s, size_t n);
void fo_copy_put_str(fo_copy *c, const char *s);          /* NULL-terminated or NULL */
void fo_copy_put_null(fo_copy *c);
void fo_copy_put_int(fo_copy *c, long long v);
void fo_copy_put_nonempty(fo_copy *c, const char *s);     /* NULL or "" sends NULL */

/* Binary format only: one value of the column's type. */
void fo_copy_put_int4(fo_copy *c, int32_t v);
void fo_copy_put_int8(fo_copy *c, int64_t v);
void fo_copy_put_date(fo_copy *c, int64_t epoch_s);          /* its UTC date */
void fo_copy_put_timestamptz(fo_copy *c, int64_t epoch_s, int32_t micros);

/*
 * Binary format only: decimal text (as fo_dec_check accepts) as numeric, and
 * JSON text as jsonb. A value numeric cannot hold is refused, like a NUL.
 */
void fo_copy_put_numeric(fo_copy *c, const char *s, size_t n);
void fo_copy_put_jsonb(fo_copy *c, const char *s, size_t n);

/*
 * Ends the current row. Fails when the row has the wrong number of fields or
 * a field was refused, and when sending a full buffer fails.
 */
int fo_copy_end_row(fo_copy *c, fo_err *err);

/* Rows ended so far. */
unsigned long long fo_copy_rows(const fo_copy *c);

/*
 * Sends what is buffered, ends the COPY and frees c. On a server error the
 * message names the row the server rejected (result->failed_row) and the
 * column, and the error class follows the SQLSTATE. result may be NULL.
 */
int fo_copy_finish(fo_copy *c, struct fo_copy_result *result, fo_err *err);

/* Abandons the COPY (the server discards every row of it) and frees c. */
void fo_copy_abort(fo_copy *c, const char *reason);

/*
 * Appends n bytes of s to out escaped for COPY's text format. Returns 0, or
 * -1 when s holds a NUL byte or memory is out. Exposed for tests.
 */
int fo_copy_escape(struct fo_buf *out, const char *s, size_t n);

#endif
