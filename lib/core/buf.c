/*
 * buf.c: a growable byte buffer.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finops/buf.h"

int
fo_buf_reserve(fo_buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (b->oom)
		return -1;
	if (extra > SIZE_MAX - b->len - 1)
		goto oom;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->data, cap);
	if (!p)
		goto oom;
	b->data = p;
	b->cap = cap;
	return 0;
oom:
	b->oom = 1;
	return -1;
}

int
fo_buf_append_slow(fo_buf *b, const void *p, size_t n)
{
	if (fo_buf_reserve(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
fo_buf_puts(fo_buf *b, const char *s)
{
	return fo_buf_append(b, s, strlen(s));
}

int
fo_buf_printf(fo_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || fo_buf_reserve(b, (size_t)n) < 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void
fo_buf_reset(fo_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void
fo_memzero(void *p, size_t n)
{
	/* A volatile pointer keeps the compiler from dropping the stores. */
	volatile unsigned char *v = p;

	while (n--)
		*v++ = 0;
}

void
fo_free_wiped(char *s)
{
	if (s) {
		fo_memzero(s, strlen(s));
		free(s);
	}
}

void
fo_buf_wipe(fo_buf *b)
{
	if (b->data)
		fo_memzero(b->data, b->cap);
	fo_buf_free(b);
}

void
fo_buf_free(fo_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
	b->oom = 0;
}

const char *
fo_buf_str(const fo_buf *b)
{
	return b->data ? b->data : "";
}
