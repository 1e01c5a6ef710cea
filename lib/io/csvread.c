/*
 * csvread.c: streaming CSV over plain or gzip bytes (see csvread.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <csv.h>
#include <zlib.h>

#include "finops/buf.h"
#include "finops/csvread.h"
#include "finops/stop.h"

#define IN_CHUNK (256 * 1024)
#define OUT_CHUNK (1024 * 1024)

struct reader {
	const char *name;
	fo_csv_record_fn cb;
	void *cbctx;
	fo_err *err;
	int failed;
	/* the record being built */
	fo_buf data;               /* fields, each NUL-terminated, back to back */
	size_t *off, *len;
	char **ptr;
	size_t nfields, cap;
	unsigned long long line;        /* line being parsed, 1-based */
	unsigned long long record_line; /* line the current record started on */
	unsigned long long records;
	int in_record;
	const unsigned char *used;      /* fields to keep (fo_csv_only_fields) */
	size_t nused;
	size_t record_bytes;            /* bytes fed since the record began */
};

void
fo_csv_only_fields(const struct fo_csv_record *rec, const unsigned char *used, size_t n)
{
	struct reader *r = rec->reader;

	r->used = used;
	r->nused = n;
}

static void
on_field(void *s, size_t n, void *data)
{
	struct reader *r = data;

	if (r->failed)
		return;
	if (!r->in_record) {
		r->in_record = 1;
		r->record_line = r->line;
	}
	if (r->nfields == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		size_t *off = realloc(r->off, cap * sizeof(*off));
		size_t *len = off ? realloc(r->len, cap * sizeof(*len)) : NULL;

		if (off)
			r->off = off;
		if (len)
			r->len = len;
		if (!off || !len) {
			r->failed = 1;
			fo_err_set(r->err, FO_EXIT_FAILURE, "%s: out of memory", r->name);
			return;
		}
		r->cap = cap;
	}
	if (r->nfields < r->nused && !r->used[r->nfields]) {
		r->off[r->nfields] = r->data.len;
		r->len[r->nfields] = 0;
		fo_buf_putc(&r->data, '\0');
		r->nfields++;
		return;
	}
	if (n > FO_CSV_MAX_FIELD) {
		r->failed = 1;
		fo_err_set(r->err, FO_EXIT_BAD_INPUT, "%s:%llu: field %zu is longer than %d MiB:"
			   " not a billing or price value", r->name, r->record_line, r->nfields + 1,
			   FO_CSV_MAX_FIELD >> 20);
		return;
	}
	if (n && memchr(s, '\0', n)) {
		r->failed = 1;
		fo_err_set(r->err, FO_EXIT_BAD_INPUT, "%s:%llu: field %zu contains a NUL byte",
			   r->name, r->record_line, r->nfields + 1);
		return;
	}
	r->off[r->nfields] = r->data.len;
	r->len[r->nfields] = n;
	fo_buf_append(&r->data, s, n);
	fo_buf_putc(&r->data, '\0');
	r->nfields++;
}

static void
on_record_end(int c, void *data)
{
	struct reader *r = data;
	struct fo_csv_record rec;
	char **ptr;

	(void)c;
	if (r->failed)
		return;
	if (!r->in_record)
		r->record_line = r->line;
	if (r->data.oom) {
		r->failed = 1;
		fo_err_set(r->err, FO_EXIT_FAILURE, "%s: out of memory", r->name);
		return;
	}
	ptr = realloc(r->ptr, (r->nfields ? r->nfields : 1) * sizeof(*ptr));
	if (!ptr) {
		r->failed = 1;
		fo_err_set(r->err, FO_EXIT_FAILURE, "%s: out of memory", r->name);
		return;
	}
	r->ptr = ptr;
	for (size_t i = 0; i < r->nfields; i++)
		ptr[i] = r->data.data + r->off[i];
	r->records++;
	rec.nfields = r->nfields;
	rec.field = ptr;
	rec.len = r->len;
	rec.line = r->record_line;
	rec.index = r->records;
	rec.reader = r;
	if (r->cb(r->cbctx, &rec, r->err) < 0)
		r->failed = 1;
	r->nfields = 0;
	r->in_record = 0;
	r->record_bytes = 0;
	fo_buf_reset(&r->data);
}

/* Feeds libcsv one line at a time, so callbacks know the line number. */
static int
feed(struct csv_parser *p, struct reader *r, const char *buf, size_t n)
{
	while (n > 0 && !r->failed) {
		const char *nl = memchr(buf, '\n', n);
		size_t k = nl ? (size_t)(nl - buf) + 1 : n;

		/* memory stays bounded by the longest record a real file has */
		r->record_bytes += k;
		if (r->record_bytes > FO_CSV_MAX_RECORD) {
			fo_err_set(r->err, FO_EXIT_BAD_INPUT, "%s:%llu: a record longer than %d MiB:"
				   " not a billing or price file (or a quote left open)", r->name,
				   r->in_record ? r->record_line : r->line, FO_CSV_MAX_RECORD >> 20);
			return -1;
		}
		if (csv_parse(p, buf, k, on_field, on_record_end, r) != k) {
			fo_err_set(r->err, FO_EXIT_BAD_INPUT, "%s:%llu: malformed CSV: %s", r->name,
				   r->line, csv_strerror(csv_error(p)));
			return -1;
		}
		if (nl)
			r->line++;
		buf += k;
		n -= k;
	}
	return r->failed ? -1 : 0;
}

/* Receives the decompressed bytes; returns 0 or -1 with err. */
typedef int (*sink_fn)(void *ctx, const char *buf, size_t n);

/*
 * Reads everything behind rd, inflating it when it starts with the gzip
 * magic bytes (several concatenated members too), and hands the bytes to
 * sink. *line names the line being read in gzip errors.
 */
static int
pump(const char *name, fo_read_fn rd, void *rdctx, sink_fn sink, void *sinkctx,
     const unsigned long long *line, struct fo_csv_stats *st, fo_err *err)
{
	z_stream z;
	char *in = malloc(IN_CHUNK), *out = malloc(OUT_CHUNK);
	int zinit = 0, rc = -1, gz = -1, zend = 0;

	if (!in || !out) {
		fo_err_set(err, FO_EXIT_FAILURE, "%s: out of memory", name);
		goto out;
	}
	for (;;) {
		ssize_t n = rd(rdctx, in, IN_CHUNK, err);

		if (n < 0)
			goto out;
		if (fo_stop_requested()) {
			fo_err_set(err, FO_EXIT_TRANSIENT, "%s: interrupted", name);
			goto out;
		}
		if (n == 0)
			break;
		st->bytes_in += (unsigned long long)n;
		if (gz < 0) {
			gz = n >= 2 && (unsigned char)in[0] == 0x1f && (unsigned char)in[1] == 0x8b;
			if (gz) {
				memset(&z, 0, sizeof(z));
				/* 15 + 16: gzip wrapper only */
				if (inflateInit2(&z, 15 + 16) != Z_OK) {
					fo_err_set(err, FO_EXIT_FAILURE, "%s: cannot start zlib", name);
					goto out;
				}
				zinit = 1;
			}
		}
		if (!gz) {
			st->bytes_csv += (unsigned long long)n;
			if (sink(sinkctx, in, (size_t)n) < 0)
				goto out;
			continue;
		}
		z.next_in = (Bytef *)in;
		z.avail_in = (uInt)n;
		while (z.avail_in > 0) {
			int zr;

			if (zend) {
				/* another gzip member follows (concatenated files) */
				if (inflateReset(&z) != Z_OK) {
					fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: corrupt gzip data", name);
					goto out;
				}
				zend = 0;
			}
			z.next_out = (Bytef *)out;
			z.avail_out = OUT_CHUNK;
			zr = inflate(&z, Z_NO_FLUSH);
			if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
				fo_err_set(err, FO_EXIT_BAD_INPUT, "%s:%llu: corrupt gzip data (%s)", name,
					   *line, z.msg ? z.msg : "inflate failed");
				goto out;
			}
			st->bytes_csv += OUT_CHUNK - z.avail_out;
			if (sink(sinkctx, out, OUT_CHUNK - z.avail_out) < 0)
				goto out;
			if (zr == Z_STREAM_END)
				zend = 1;
			else if (zr == Z_BUF_ERROR && z.avail_out > 0)
				break;
		}
	}
	if (gz == 1) {
		/* drain what inflate still holds */
		while (!zend) {
			int zr;

			z.next_out = (Bytef *)out;
			z.avail_out = OUT_CHUNK;
			zr = inflate(&z, Z_FINISH);
			st->bytes_csv += OUT_CHUNK - z.avail_out;
			if (sink(sinkctx, out, OUT_CHUNK - z.avail_out) < 0)
				goto out;
			if (zr == Z_STREAM_END) {
				zend = 1;
				break;
			}
			if (OUT_CHUNK - z.avail_out == 0) {
				fo_err_set(err, FO_EXIT_BAD_INPUT,
					   "%s:%llu: truncated gzip file (the stream ends early)", name,
					   *line);
				goto out;
			}
		}
	}
	rc = 0;
out:
	st->gzip = gz == 1;
	if (zinit)
		inflateEnd(&z);
	free(in);
	free(out);
	return rc;
}

struct csv_sink {
	struct csv_parser *p;
	struct reader *r;
};

static int
csv_sink(void *ctx, const char *buf, size_t n)
{
	struct csv_sink *s = ctx;

	return feed(s->p, s->r, buf, n);
}

int
fo_csv_read(const char *name, fo_read_fn rd, void *rdctx, fo_csv_record_fn cb, void *cbctx,
	    struct fo_csv_stats *stats, fo_err *err)
{
	struct csv_parser p;
	struct reader r;
	struct csv_sink sink = {&p, &r};
	int rc = -1;
	struct fo_csv_stats st = {0, 0, 0, 0};

	memset(&r, 0, sizeof(r));
	r.name = name;
	r.cb = cb;
	r.cbctx = cbctx;
	r.err = err;
	r.line = 1;
	if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0)
		return fo_err_set(err, FO_EXIT_FAILURE, "%s: cannot start the CSV parser", name);
	/*
	 * libcsv grows a field's buffer by this much at a time (128 bytes by
	 * default): a long field then costs a realloc every 128 bytes, quadratic
	 * where realloc copies (a 16 MiB field took minutes under ASan).
	 */
	csv_set_blk_size(&p, 64 * 1024);
	if (pump(name, rd, rdctx, csv_sink, &sink, &r.line, &st, err) < 0)
		goto out;
	if (csv_fini(&p, on_field, on_record_end, &r) != 0) {
		fo_err_set(err, FO_EXIT_BAD_INPUT, "%s:%llu: malformed CSV at the end: %s", name,
			   r.record_line ? r.record_line : r.line,
			   csv_error(&p) == CSV_EPARSE ? "unterminated quoted field"
						       : csv_strerror(csv_error(&p)));
		goto out;
	}
	if (r.failed)
		goto out;
	rc = 0;
out:
	st.records = r.records;
	if (stats)
		*stats = st;
	csv_free(&p);
	fo_buf_free(&r.data);
	free(r.off);
	free(r.len);
	free(r.ptr);
	return rc;
}

/* ---- lines ------------------------------------------------------------- */

#define MAX_LINE ((unsigned)FO_LINE_MAX)

struct lines {
	const char *name;
	fo_line_fn cb;
	void *cbctx;
	fo_err *err;
	fo_buf partial;               /* a line split across chunks */
	unsigned long long line;      /* the next line's number */
	unsigned long long lines;
};

static int
emit(struct lines *l, const char *s, size_t n)
{
	if (n > 0 && s[n - 1] == '\r')
		n--;
	l->lines++;
	return l->cb(l->cbctx, s, n, l->line++, l->err);
}

static int
lines_sink(void *ctx, const char *buf, size_t n)
{
	struct lines *l = ctx;
	const char *end = buf + n;

	while (buf < end) {
		const char *nl = memchr(buf, '\n', (size_t)(end - buf));
		size_t k = nl ? (size_t)(nl - buf) : (size_t)(end - buf);

		if (!nl || l->partial.len) {
			if (l->partial.len + k > MAX_LINE)
				return fo_err_set(l->err, FO_EXIT_BAD_INPUT, "%s:%llu: a line longer"
						  " than %u bytes", l->name, l->line, MAX_LINE);
			fo_buf_append(&l->partial, buf, k);
			if (l->partial.oom)
				return fo_err_set(l->err, FO_EXIT_FAILURE, "out of memory");
			if (nl) {
				if (emit(l, l->partial.data, l->partial.len) < 0)
					return -1;
				fo_buf_reset(&l->partial);
			}
		} else if (emit(l, buf, k) < 0) {
			return -1;
		}
		buf += k + (nl ? 1 : 0);
	}
	return 0;
}

int
fo_lines_read(const char *name, fo_read_fn rd, void *rdctx, fo_line_fn cb, void *cbctx,
	      struct fo_csv_stats *stats, fo_err *err)
{
	struct lines l;
	struct fo_csv_stats st = {0, 0, 0, 0};
	int rc;

	memset(&l, 0, sizeof(l));
	l.name = name;
	l.cb = cb;
	l.cbctx = cbctx;
	l.err = err;
	l.line = 1;
	rc = pump(name, rd, rdctx, lines_sink, &l, &l.line, &st, err);
	if (rc == 0 && l.partial.len)       /* a last line without its newline */
		rc = emit(&l, l.partial.data, l.partial.len);
	st.records = l.lines;
	if (stats)
		*stats = st;
	fo_buf_free(&l.partial);
	return rc;
}

int
fo_csv_read_file(const char *path, fo_csv_record_fn cb, void *cbctx, struct fo_csv_stats *stats,
		 fo_err *err)
{
	struct fo_fd_source f = {-1, path};
	int rc;

	f.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f.fd < 0)
		return fo_err_set(err, errno == ENOENT ? FO_EXIT_BAD_INPUT : FO_EXIT_FAILURE,
				  "%s: %s", path, strerror(errno));
	rc = fo_csv_read(path, fo_fd_read, &f, cb, cbctx, stats, err);
	close(f.fd);
	return rc;
}
