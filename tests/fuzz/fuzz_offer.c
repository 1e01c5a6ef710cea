/*
 * fuzz_offer: an EC2 Price List offer file, header and rows (catalog.c),
 * checked as a load would check them: no crash, counts that add up.
 */
#include <stdlib.h>

#include "finops/catalog.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_src src = {data, size, 0, size > 0 ? 1 + data[size - 1] % 251 : 1};
	struct fo_catalog_check c;
	fo_err err;

	if (fo_catalog_check_offer("fuzz.csv", fuzz_read, &src, &c, &err) == 0 &&
	    c.prices + c.skipped != c.rows)
		abort();
	return 0;
}
