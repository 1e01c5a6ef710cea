/*
 * xml.h: the XML that AWS's Query APIs answer (EC2), read into a tree of
 * elements. Only what those answers use: elements, text, the five named
 * entities and character references, CDATA; attributes, comments,
 * processing instructions and the declaration are skipped, and namespace
 * prefixes dropped. No DTDs (so no entity expansion). Private to lib/.
 */
#ifndef FINOPS_AWS_XML_H
#define FINOPS_AWS_XML_H

#include <stddef.h>

#include "finops/error.h"

struct fo_xml {
	char *name;                /* without a namespace prefix */
	char *text;                /* the element's own text, entities decoded; "" when none */
	struct fo_xml *child;      /* the first child element */
	struct fo_xml *next;       /* the next sibling */
};

/*
 * Parses a document of len bytes into *out (the caller's: fo_xml_free).
 * Malformed XML, a mismatched end tag or nesting deeper than 64 is
 * FO_EXIT_FAILURE naming what (a service that answers so is broken).
 */
int fo_xml_parse(const char *s, size_t len, const char *what, struct fo_xml **out,
		 fo_err *err);
void fo_xml_free(struct fo_xml *n);

/* The first child of n named name, or NULL (n may be NULL). */
const struct fo_xml *fo_xml_child(const struct fo_xml *n, const char *name);

/* The element at a '/'-separated path of child names below n, or NULL. */
const struct fo_xml *fo_xml_at(const struct fo_xml *n, const char *path);

/* The text of the element at path below n, or NULL when there is none. */
const char *fo_xml_text(const struct fo_xml *n, const char *path);

#endif
