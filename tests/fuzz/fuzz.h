/*
 * fuzz.h: what the libFuzzer harnesses share: fuzz input as a read function,
 * in small pieces, so that every chunk boundary is tried.
 */
#ifndef FINOPS_FUZZ_H
#define FINOPS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "finops/error.h"

struct fuzz_src {
	const uint8_t *data;
	size_t len, pos;
	size_t step;                 /* bytes a read returns at most */
};

static inline ssize_t
fuzz_read(void *ctx, char *buf, size_t len, fo_err *err)
{
	struct fuzz_src *s = ctx;
	size_t n = s->len - s->pos;

	(void)err;
	if (n > len)
		n = len;
	if (n > s->step)
		n = s->step;
	memcpy(buf, s->data + s->pos, n);
	s->pos += n;
	return (ssize_t)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
