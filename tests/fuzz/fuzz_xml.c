/*
 * fuzz_xml: the reader of EC2's XML answers (lib/aws/xml.c): no crash, no
 * leak; an accepted document has a named root and every element a text.
 */
#include <stdlib.h>

#include "aws/xml.h"
#include "fuzz.h"

static void
walk(const struct fo_xml *n, int depth)
{
	for (; n; n = n->next) {
		if (!n->name || !*n->name || !n->text || depth > 64)
			abort();
		walk(n->child, depth + 1);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fo_xml *doc = NULL;
	fo_err err;

	if (fo_xml_parse((const char *)data, size, "fuzz", &doc, &err) == 0) {
		walk(doc, 0);
		(void)fo_xml_text(doc, "reservationSet/item/instancesSet/item/instanceId");
	}
	fo_xml_free(doc);
	return 0;
}
