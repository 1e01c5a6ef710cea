/*
 * fuzz_manifest: CUR manifests (manifest.c): no crash; an accepted one has
 * an assembly id and keys that cannot leave the delivery.
 */
#include <stdlib.h>

#include "finops/manifest.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fo_manifest m;
	fo_err err;

	if (fo_manifest_parse("/d/rep/20261001-20261101/rep-Manifest.json", (const char *)data,
			      size, &m, &err) == 0) {
		if (!m.assembly_id || !*m.assembly_id || m.nkeys == 0 ||
		    strstr(m.assembly_id, "/") || strcmp(m.assembly_id, "..") == 0)
			abort();
		for (size_t i = 0; i < m.nkeys; i++)
			if (strstr(m.keys[i], "/../") || strncmp(m.keys[i], "../", 3) == 0)
				abort();
		(void)fo_manifest_scope(m.path, m.cur2);
	}
	fo_manifest_free(&m);
	return 0;
}
