/*
 * cur_map.h: what the header mapping (cur_header.c) hands the row mapping
 * (cur_row.c): where each column comes from, and the mapper itself.
 * Private to lib/billing.
 */
#ifndef FINOPS_BILLING_CUR_MAP_H
#define FINOPS_BILLING_CUR_MAP_H

#include <stddef.h>

#include "finops/buf.h"
#include "billing/cur.h"

enum kind { K_TEXT, K_DECIMAL, K_TS, K_DATE, K_CURRENCY };

#define REQ_CUR 1
#define REQ_FOCUS 2

/* Where each output column comes from. CUR names are legacy spellings; CUR
 * 2.0 and Athena snake_case names are matched through snake_name(). */
struct spec {
	enum fo_cur_col col;
	enum kind kind;
	unsigned required;
	const char *cur[3];
	const char *focus[2];
};

#define NSPECS 59
extern const struct spec fo_cur_specs[NSPECS];

struct keyed {
	size_t index;      /* header index */
	char *key;         /* tag or cost category name as a JSON key: "name": */
	size_t keylen;
	char *name;        /* the name itself */
	size_t namelen;
};

struct fo_cur_mapper {
	char *file;
	enum fo_cur_format format;
	const char *format_name;
	size_t ncolumns;               /* header width */
	int allow_short;
	long src[NSPECS];              /* header index per spec, -1 absent */
	struct keyed *tags, *cats;     /* legacy tag / cost category columns */
	size_t ntags, ncats;
	long tags_json, cats_json;     /* CUR 2.0 map columns / FOCUS Tags, -1 absent */
	char **header;                 /* copies of the header names */
	unsigned char *used;           /* per header column: read by the mapping */
	/* scratch for the current row */
	char ts[4][40];
	char effective[160];      /* a computed effective cost */
	fo_buf tagbuf, catbuf;
	struct fo_cur_tag *tagv;  /* the row's tags as pairs (fo_cur_row.tags) */
	size_t tagcap;
	void *tagobj;             /* the json_t those pairs point into, or NULL */
};

#endif
