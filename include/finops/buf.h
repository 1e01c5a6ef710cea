/*
 * buf.h: a growable byte buffer, always NUL-terminated.
 */
#ifndef FINOPS_BUF_H
#define FINOPS_BUF_H

#include <stddef.h>
#include <string.h>

typedef struct fo_buf {
	char *data;     /* NUL-terminated; NULL until the first append */
	size_t len;
	size_t cap;
	int oom;        /* set once an allocation failed; later appends do nothing */
} fo_buf;

#define FO_BUF_INIT {NULL, 0, 0, 0}

/* Makes room for at least extra more bytes. Returns 0, or -1 when out of memory. */
int fo_buf_reserve(fo_buf *b, size_t extra);
int fo_buf_append_slow(fo_buf *b, const void *p, size_t n);
int fo_buf_puts(fo_buf *b, const char *s);

/*
 * Appends n bytes. Inline: the hot paths of parsing and COPY call it per
 * field and per character, where a call chain per byte cost a quarter of
 * the client's time.
 */
static inline int
fo_buf_append(fo_buf *b, const void *p, size_t n)
{
	if (b->cap - b->len > n && b->data) {
		if (n)
			memcpy(b->data + b->len, p, n);
		b->len += n;
		b->data[b->len] = '\0';
		return 0;
	}
	return fo_buf_append_slow(b, p, n);
}

static inline int
fo_buf_putc(fo_buf *b, char c)
{
	if (b->cap - b->len > 1 && b->data) {
		b->data[b->len++] = c;
		b->data[b->len] = '\0';
		return 0;
	}
	return fo_buf_append_slow(b, &c, 1);
}
int fo_buf_printf(fo_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Empties the buffer, keeping its memory. */
void fo_buf_reset(fo_buf *b);

/* Overwrites the contents with zeros (for secrets) and frees the memory. */
void fo_buf_wipe(fo_buf *b);
void fo_buf_free(fo_buf *b);

/* Returns the contents ("" when empty); the buffer keeps ownership. */
const char *fo_buf_str(const fo_buf *b);

/* Overwrites n bytes with zeros in a way the compiler may not drop. */
void fo_memzero(void *p, size_t n);

/* Overwrites the NUL-terminated secret s and frees it; NULL is fine. */
void fo_free_wiped(char *s);

#endif
