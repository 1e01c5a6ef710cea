/*
 * fuzz_timestamp: timestamps (datetime.c): what fo_ts_parse accepts formats
 * to text that parses back to the same instant.
 */
#include <stdlib.h>

#include "finops/datetime.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fo_ts a, b;
	const char *why;
	char text[64], day[16];

	if (fo_ts_parse((const char *)data, size, &a, &why) < 0)
		return 0;
	if (a.micros < 0 || a.micros > 999999)
		abort();
	fo_ts_format(&a, text, sizeof(text));
	/* the epoch itself may be just before 1970 after a time zone offset */
	if (a.epoch_s >= 0) {
		if (fo_ts_parse(text, strlen(text), &b, &why) < 0 || b.epoch_s != a.epoch_s ||
		    b.micros != a.micros)
			abort();
	}
	fo_ts_date(&a, day, sizeof(day));
	return 0;
}
