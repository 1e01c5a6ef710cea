/*
 * fuzz_decimal: decimal text (decimal.c): what fo_dec_check accepts adds up
 * exactly: x + x - x formats to a number that is accepted in turn and, added
 * to -x, gives zero.
 */
#include <stdlib.h>

#include "finops/decimal.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *why;
	char out[256];
	fo_dec_sum sum;

	if (fo_dec_check(s, size, &why) < 0) {
		if (!why)
			abort();
		return 0;
	}
	if (why)
		abort();
	fo_dec_zero(&sum);
	if (fo_dec_add(&sum, s, size) < 0 || fo_dec_add(&sum, s, size) < 0 ||
	    fo_dec_sub(&sum, s, size) < 0)
		abort();
	fo_dec_format(&sum, out, sizeof(out));
	if (fo_dec_check(out, strlen(out), &why) < 0)
		abort();
	if (fo_dec_sub(&sum, s, size) < 0)
		abort();
	fo_dec_format(&sum, out, sizeof(out));
	if (strcmp(out, "0") != 0)
		abort();
	(void)fo_dec_scale(s, size);
	return 0;
}
