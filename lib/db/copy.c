/*
 * copy.c: COPY FROM STDIN in text or binary format, in large buffers.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finops/buf.h"
#include "finops/copy.h"
#include "finops/decimal.h"
#include "finops/pg.h"

/*
 * Rows are gathered in buf; a full buf is handed to a sender thread, which
 * sends it with PQputCopyData while the caller fills the other buffer. With
 * a blocking send in the caller's thread, the client could only run ahead of
 * the server by the socket's buffer, and parsing and loading would take
 * turns; two buffers let them run at once. Only one thread uses the
 * connection at a time: the sender from begin to finish, the caller after.
 */
struct fo_copy {
	PGconn *conn;              /* NULL while spooling */
	FILE *spool;               /* fo_copy_spool: rows go to this temporary file */
	const char *const *columns;   /* fo_copy_spool: the caller's, for the COPY later */
	char table[256];
	size_t ncolumns;
	size_t field;              /* fields put in the current row */
	int binary;                /* FORMAT binary */
	fo_buf buf;                /* being filled by the caller */
	size_t flush_at;
	unsigned long long rows;
	unsigned long long bytes_sent;
	int refused;               /* a field of the current row was refused */
	size_t refused_field;      /* its 1-based position */
	char refused_msg[128];
	/* the sender thread */
	pthread_t thread;
	int thread_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	fo_buf sending;            /* owned by the sender while has_job */
	int has_job;
	int stop;
	int send_failed;
};

static void *
sender(void *arg)
{
	fo_copy *c = arg;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->has_job && !c->stop)
			pthread_cond_wait(&c->cv, &c->mu);
		if (!c->has_job)
			break;
		pthread_mutex_unlock(&c->mu);
		/* the connection is this thread's until the caller joins it */
		if (!c->send_failed &&
		    PQputCopyData(c->conn, c->sending.data, (int)c->sending.len) != 1)
			c->send_failed = 1;
		pthread_mutex_lock(&c->mu);
		if (!c->send_failed)
			c->bytes_sent += c->sending.len;
		fo_buf_reset(&c->sending);
		c->has_job = 0;
		pthread_cond_broadcast(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* Stops the sender after its last buffer; the connection is the caller's again. */
static void
stop_sender(fo_copy *c)
{
	if (!c->thread_started)
		return;
	pthread_mutex_lock(&c->mu);
	c->stop = 1;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thread, NULL);
	c->thread_started = 0;
}

static void
free_copy(fo_copy *c)
{
	stop_sender(c);
	if (c->spool)
		fclose(c->spool);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	fo_buf_free(&c->buf);
	fo_buf_free(&c->sending);
	free(c);
}

/* Bytes that text-format COPY needs escaped, and their escape letter. */
static const char escape_letter[256] = {
	['\\'] = '\\', ['\t'] = 't', ['\n'] = 'n', ['\r'] = 'r', ['\b'] = 'b',
	['\f'] = 'f', ['\v'] = 'v',
};

int
fo_copy_escape(fo_buf *out, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	char *w;

	/* Worst case every byte doubles; write straight into the buffer. */
	if (fo_buf_reserve(out, 2 * n) < 0)
		return -1;
	w = out->data + out->len;
	while (p < end) {
		const unsigned char *run = p;
		char e;

		/* Runs of bytes that need nothing are copied whole. */
		while (p < end && *p >= 0x20 && *p != '\\')
			p++;
		if (p > run) {
			memcpy(w, run, (size_t)(p - run));
			w += p - run;
		}
		if (p == end)
			break;
		if (*p == '\0') {
			/* COPY cannot carry a NUL byte: leave the buffer as it was */
			out->data[out->len] = '\0';
			return -1;
		}
		e = escape_letter[*p];
		if (e) {
			*w++ = '\\';
			*w++ = e;
		} else {
			*w++ = (char)*p;
		}
		p++;
	}
	out->len = (size_t)(w - out->data);
	out->data[out->len] = '\0';
	return 0;
}

int
fo_copy_begin(PGconn *conn, const char *table, const char *const *columns,
	      size_t ncolumns, size_t buffer_size, fo_copy **out, fo_err *err)
{
	return fo_copy_begin_with(conn, table, columns, ncolumns, buffer_size, NULL, out, err);
}

/* A writer of ncolumns into table, flushing at flush_at bytes; NULL (err set) on failure. */
static fo_copy *
new_copy(const char *table, size_t ncolumns, size_t flush_at, fo_err *err)
{
	fo_copy *c;

	if (ncolumns == 0) {
		fo_err_set(err, FO_EXIT_FAILURE, "COPY into %s: no columns", table);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		fo_err_set(err, FO_EXIT_FAILURE, "COPY into %s: out of memory", table);
		return NULL;
	}
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	c->ncolumns = ncolumns;
	c->flush_at = flush_at;
	snprintf(c->table, sizeof(c->table), "%s", table);
	return c;
}

static int
begin(PGconn *conn, const char *table, const char *const *columns, size_t ncolumns,
      size_t buffer_size, int binary, const char *options, fo_copy **out, fo_err *err)
{
	fo_buf sql = FO_BUF_INIT;
	fo_copy *c;
	PGresult *res;

	*out = NULL;
	if (!(c = new_copy(table, ncolumns, buffer_size ? buffer_size : FO_COPY_DEFAULT_BUFFER,
			   err)))
		return -1;
	c->conn = conn;

	fo_buf_printf(&sql, "COPY %s (", table);
	for (size_t i = 0; i < ncolumns; i++) {
		char *q = PQescapeIdentifier(conn, columns[i], strlen(columns[i]));

		if (!q) {
			fo_err_set(err, FO_EXIT_FAILURE, "COPY into %s: bad column name %s", table,
				   columns[i]);
			goto fail;
		}
		fo_buf_printf(&sql, "%s%s", i ? ", " : "", q);
		PQfreemem(q);
	}
	fo_buf_puts(&sql, ") FROM STDIN");
	if (binary || options)
		fo_buf_printf(&sql, " WITH (%s%s%s)", binary ? "FORMAT binary" : "",
			      binary && options ? ", " : "", options ? options : "");
	if (sql.oom || fo_buf_reserve(&c->buf, c->flush_at + 4096) < 0 ||
	    fo_buf_reserve(&c->sending, c->flush_at + 4096) < 0) {
		fo_err_set(err, FO_EXIT_FAILURE, "COPY into %s: out of memory", table);
		goto fail;
	}
	res = PQexec(conn, sql.data);
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		char what[300];

		snprintf(what, sizeof(what), "COPY into %s", table);
		fo_pg_fail(conn, res, what, err);
		PQclear(res);
		goto fail;
	}
	PQclear(res);
	fo_buf_free(&sql);
	if (pthread_create(&c->thread, NULL, sender, c) != 0) {
		PQputCopyEnd(conn, "cannot start the sender thread");
		while ((res = PQgetResult(conn)) != NULL)
			PQclear(res);
		fo_err_set(err, FO_EXIT_FAILURE, "COPY into %s: cannot start a thread", table);
		free_copy(c);
		return -1;
	}
	c->thread_started = 1;
	c->binary = binary;
	if (binary)   /* signature, flags, header extension length */
		fo_buf_append(&c->buf, "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0", 19);
	*out = c;
	return 0;
fail:
	fo_buf_free(&sql);
	free_copy(c);
	return -1;
}

int
fo_copy_begin_with(PGconn *conn, const char *table, const char *const *columns,
		   size_t ncolumns, size_t buffer_size, const char *options, fo_copy **out,
		   fo_err *err)
{
	return begin(conn, table, columns, ncolumns, buffer_size, 0, options, out, err);
}

int
fo_copy_begin_binary(PGconn *conn, const char *table, const char *const *columns,
		     size_t ncolumns, size_t buffer_size, const char *options, fo_copy **out,
		     fo_err *err)
{
	return begin(conn, table, columns, ncolumns, buffer_size, 1, options, out, err);
}

static void
refuse(fo_copy *c, const char *why)
{
	if (c->refused)
		return;
	c->refused = 1;
	c->refused_field = c->field;
	snprintf(c->refused_msg, sizeof(c->refused_msg), "%s", why);
}

/*
 * Binary format: starts the next field of n bytes (-1: NULL), the row's
 * field count first. Returns where the n bytes go, or NULL.
 */
static unsigned char *
bin_field(fo_copy *c, long n)
{
	unsigned char *w;
	uint32_t len = (uint32_t)n;

	if (fo_buf_reserve(&c->buf, 6 + (n > 0 ? (size_t)n : 0)) < 0) {
		refuse(c, "out of memory");
		return NULL;
	}
	w = (unsigned char *)c->buf.data + c->buf.len;
	if (c->field++ == 0) {
		w[0] = (unsigned char)(c->ncolumns >> 8);
		w[1] = (unsigned char)c->ncolumns;
		w += 2;
	}
	w[0] = (unsigned char)(len >> 24);
	w[1] = (unsigned char)(len >> 16);
	w[2] = (unsigned char)(len >> 8);
	w[3] = (unsigned char)len;
	c->buf.len = (size_t)(w + 4 - (unsigned char *)c->buf.data) + (n > 0 ? (size_t)n : 0);
	return w + 4;
}

static void
put_be(unsigned char *w, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--, v >>= 8)
		w[i] = (unsigned char)v;
}

void
fo_copy_put_int4(fo_copy *c, int32_t v)
{
	unsigned char *w = bin_field(c, 4);

	if (w)
		put_be(w, (uint32_t)v, 4);
}

void
fo_copy_put_int8(fo_copy *c, int64_t v)
{
	unsigned char *w = bin_field(c, 8);

	if (w)
		put_be(w, (uint64_t)v, 8);
}

/* PostgreSQL's epoch, 2000-01-01 00:00:00 UTC, in Unix seconds. */
#define PG_EPOCH 946684800LL

void
fo_copy_put_date(fo_copy *c, int64_t epoch_s)
{
	int64_t s = epoch_s - PG_EPOCH;
	int64_t days = s / 86400 - (s % 86400 < 0);
	unsigned char *w = bin_field(c, 4);

	if (w)
		put_be(w, (uint32_t)(int32_t)days, 4);
}

void
fo_copy_put_timestamptz(fo_copy *c, int64_t epoch_s, int32_t micros)
{
	unsigned char *w = bin_field(c, 8);

	if (w)
		put_be(w, (uint64_t)((epoch_s - PG_EPOCH) * 1000000 + micros), 8);
}

void
fo_copy_put_numeric(fo_copy *c, const char *s, size_t n)
{
	unsigned char *w;
	int len;

	if (!s) {
		fo_copy_put_null(c);
		return;
	}
	w = bin_field(c, (long)FO_DEC_NUMERIC_MAX(n));
	if (!w)
		return;
	len = fo_dec_to_numeric(s, n, w);
	if (len < 0) {
		refuse(c, "a number out of the range of numeric");
		len = 0;
	}
	/* the field was reserved at its largest: write its real length */
	put_be(w - 4, (uint32_t)len, 4);
	c->buf.len = (size_t)(w - (unsigned char *)c->buf.data) + (size_t)len;
}

void
fo_copy_put_jsonb(fo_copy *c, const char *s, size_t n)
{
	unsigned char *w;

	if (!s) {
		fo_copy_put_null(c);
		return;
	}
	if (memchr(s, '\0', n)) {
		refuse(c, "a NUL byte");
		return;
	}
	w = bin_field(c, (long)n + 1);
	if (w) {
		w[0] = 1;               /* jsonb binary format version */
		memcpy(w + 1, s, n);
	}
}

void
fo_copy_put(fo_copy *c, const char *s, size_t n)
{
	if (c->binary) {
		unsigned char *w;

		if (s && memchr(s, '\0', n)) {
			c->field++;
			refuse(c, "a NUL byte");
			return;
		}
		w = bin_field(c, s ? (long)n : -1);
		if (w && s)
			memcpy(w, s, n);
		return;
	}
	if (c->field++ > 0)
		fo_buf_putc(&c->buf, '\t');
	if (!s) {
		fo_buf_append(&c->buf, "\\N", 2);
		return;
	}
	if (fo_copy_escape(&c->buf, s, n) < 0)
		refuse(c, c->buf.oom ? "out of memory" : "a NUL byte");
}

void
fo_copy_put_str(fo_copy *c, const char *s)
{
	fo_copy_put(c, s, s ? strlen(s) : 0);
}

void
fo_copy_put_nonempty(fo_copy *c, const char *s)
{
	fo_copy_put_str(c, s && *s ? s : NULL);
}

void
fo_copy_put_null(fo_copy *c)
{
	fo_copy_put(c, NULL, 0);
}

void
fo_copy_put_int(fo_copy *c, long long v)
{
	char num[32];
	int n = snprintf(num, sizeof(num), "%lld", v);

	fo_copy_put(c, num, (size_t)n);
}

/* Hands the filled buffer to the sender and takes its empty one. */
static int
send_buffer(fo_copy *c, fo_err *err)
{
	fo_buf tmp;
	int failed;

	if (c->buf.len == 0)
		return 0;
	if (c->spool) {
		if (fwrite(c->buf.data, 1, c->buf.len, c->spool) != c->buf.len)
			return fo_err_set(err, FO_EXIT_FAILURE, "COPY into %s: spooling rows to a"
					  " temporary file: %s", c->table, strerror(errno));
		fo_buf_reset(&c->buf);
		return 0;
	}
	pthread_mutex_lock(&c->mu);
	while (c->has_job)
		pthread_cond_wait(&c->cv, &c->mu);
	failed = c->send_failed;
	if (!failed) {
		tmp = c->sending;
		c->sending = c->buf;
		c->buf = tmp;
		c->has_job = 1;
		pthread_cond_broadcast(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
	if (failed) {
		char what[300];

		stop_sender(c);
		snprintf(what, sizeof(what), "COPY into %s: sending rows", c->table);
		return fo_pg_fail(c->conn, NULL, what, err);
	}
	return 0;
}

int
fo_copy_end_row(fo_copy *c, fo_err *err)
{
	if (c->refused) {
		c->refused = 0;
		c->field = 0;
		return fo_err_set(err, FO_EXIT_BAD_INPUT, "COPY into %s, row %llu, field %zu: %s",
				  c->table, c->rows + 1, c->refused_field, c->refused_msg);
	}
	if (c->field != c->ncolumns) {
		size_t got = c->field;

		c->field = 0;
		return fo_err_set(err, FO_EXIT_FAILURE,
				  "COPY into %s, row %llu: %zu fields for %zu columns", c->table,
				  c->rows + 1, got, c->ncolumns);
	}
	if (!c->binary)
		fo_buf_putc(&c->buf, '\n');
	if (c->buf.oom)
		return fo_err_set(err, FO_EXIT_FAILURE, "COPY into %s: out of memory", c->table);
	c->field = 0;
	c->rows++;
	if (c->buf.len >= c->flush_at)
		return send_buffer(c, err);
	return 0;
}

unsigned long long
fo_copy_rows(const fo_copy *c)
{
	return c->rows;
}

/* Reads "line N" and "column X" from a COPY error context. */
static unsigned long long
context_row(const char *ctx, char *column, size_t len)
{
	const char *p;
	unsigned long long row = 0;

	column[0] = '\0';
	if (!ctx)
		return 0;
	p = strstr(ctx, ", line ");
	if (p)
		row = strtoull(p + 7, NULL, 10);
	p = strstr(ctx, ", column ");
	if (p) {
		size_t n = strcspn(p + 9, ":\n");

		snprintf(column, len, "%.*s", (int)n, p + 9);
	}
	return row;
}

static void
drain_results(PGconn *conn)
{
	PGresult *res;

	while ((res = PQgetResult(conn)) != NULL)
		PQclear(res);
}

int
fo_copy_finish(fo_copy *c, struct fo_copy_result *result, fo_err *err)
{
	struct fo_copy_result r = {0, c->rows, 0, 0};
	PGresult *res;
	int rc = 0;

	if (c->field != 0) {
		fo_copy_abort(c, "unfinished row");
		fo_err_set(err, FO_EXIT_FAILURE, "COPY: a row was left unfinished");
		if (result)
			*result = r;
		return -1;
	}
	if (c->binary)
		fo_buf_append(&c->buf, "\377\377", 2);       /* the trailer: field count -1 */
	if (c->buf.oom) {
		if (result)
			*result = r;
		fo_copy_abort(c, "out of memory");
		return fo_err_set(err, FO_EXIT_FAILURE, "COPY: out of memory");
	}
	if (send_buffer(c, err) < 0) {
		rc = -1;
		goto out;
	}
	stop_sender(c);
	if (c->send_failed) {
		char what[300];

		snprintf(what, sizeof(what), "COPY into %s: sending rows", c->table);
		rc = fo_pg_fail(c->conn, NULL, what, err);
		goto out;
	}
	if (PQputCopyEnd(c->conn, NULL) != 1) {
		char what[300];

		snprintf(what, sizeof(what), "COPY into %s: ending", c->table);
		rc = fo_pg_fail(c->conn, NULL, what, err);
		goto out;
	}
	res = PQgetResult(c->conn);
	if (PQresultStatus(res) == PGRES_COMMAND_OK) {
		r.rows = strtoull(PQcmdTuples(res), NULL, 10);
	} else {
		char column[128], what[512];
		const char *ctx = PQresultErrorField(res, PG_DIAG_CONTEXT);

		r.failed_row = context_row(ctx, column, sizeof(column));
		if (r.failed_row)
			snprintf(what, sizeof(what), "COPY into %s failed at row %llu%s%s", c->table,
				 r.failed_row, column[0] ? ", column " : "", column);
		else
			snprintf(what, sizeof(what), "COPY into %s failed", c->table);
		rc = fo_pg_fail(c->conn, res, what, err);
	}
	PQclear(res);
	drain_results(c->conn);
out:
	stop_sender(c);
	r.bytes_sent = c->bytes_sent;
	if (result)
		*result = r;
	free_copy(c);
	return rc;
}

void
fo_copy_abort(fo_copy *c, const char *reason)
{
	if (!c)
		return;
	stop_sender(c);
	if (c->conn && PQputCopyEnd(c->conn, reason ? reason : "aborted by client") == 1)
		drain_results(c->conn);
	free_copy(c);
}

int
fo_copy_spool(const char *table, const char *const *columns, size_t ncolumns, fo_copy **out,
	      fo_err *err)
{
	fo_copy *c;

	*out = NULL;
	if (!(c = new_copy(table, ncolumns, FO_COPY_DEFAULT_BUFFER / 4, err)))
		return -1;
	c->columns = columns;
	c->spool = tmpfile();
	if (!c->spool || fo_buf_reserve(&c->buf, c->flush_at + 4096) < 0) {
		fo_err_set(err, FO_EXIT_FAILURE, "COPY into %s: %s", table, c->spool ?
			   "out of memory" : "cannot make a temporary file");
		free_copy(c);
		return -1;
	}
	*out = c;
	return 0;
}

int
fo_copy_spool_send(fo_copy *spool, PGconn *conn, struct fo_copy_result *result, fo_err *err)
{
	fo_copy *c = NULL;
	size_t got;
	int rc;

	if (spool->field != 0) {
		fo_copy_abort(spool, "unfinished row");
		return fo_err_set(err, FO_EXIT_FAILURE, "COPY: a row was left unfinished");
	}
	rc = send_buffer(spool, err);
	if (rc == 0 && (fflush(spool->spool) != 0 || fseek(spool->spool, 0, SEEK_SET) != 0))
		rc = fo_err_set(err, FO_EXIT_FAILURE, "COPY into %s: reading the spooled rows: %s",
				spool->table, strerror(errno));
	if (rc == 0)
		rc = begin(conn, spool->table, spool->columns, spool->ncolumns, 0, 0, NULL, &c, err);
	while (rc == 0) {
		if (fo_buf_reserve(&c->buf, c->flush_at) < 0) {
			rc = fo_err_set(err, FO_EXIT_FAILURE, "COPY into %s: out of memory", c->table);
			break;
		}
		got = fread(c->buf.data + c->buf.len, 1, c->flush_at, spool->spool);
		c->buf.len += got;
		if (got < c->flush_at) {
			if (ferror(spool->spool))
				rc = fo_err_set(err, FO_EXIT_FAILURE, "COPY into %s: reading the spooled"
						" rows: %s", c->table, strerror(errno));
			break;
		}
		rc = send_buffer(c, err);
	}
	if (c) {
		c->rows = spool->rows;
		if (rc == 0)
			rc = fo_copy_finish(c, result, err);
		else
			fo_copy_abort(c, "failed");
	}
	free_copy(spool);
	return rc;
}

int
fo_copy_text_rows(PGconn *conn, const char *table, const char *const *columns, size_t ncolumns,
		  const fo_buf *rows, fo_err *err)
{
	fo_copy *c;

	if (begin(conn, table, columns, ncolumns, 0, 0, NULL, &c, err) < 0)
		return -1;
	fo_buf_append(&c->buf, rows->data ? rows->data : "", rows->len);
	for (size_t i = 0; i < rows->len; i++)
		c->rows += rows->data[i] == '\n';
	return fo_copy_finish(c, NULL, err);
}
