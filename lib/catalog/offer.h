/*
 * offer.h: one AWS Price List offer file read row by row into the
 * catalog's staging table (private to lib/catalog): offer.c maps the rows,
 * catalog.c runs the transaction a file and the bulk API around it.
 */
#ifndef FINOPS_CATALOG_OFFER_H
#define FINOPS_CATALOG_OFFER_H

#include "finops/copy.h"
#include "finops/csvread.h"
#include "finops/error.h"


/* The offer file's columns this job reads, by their header names. */
enum col {
	C_SKU, C_TERM_CODE, C_TERM_TYPE, C_DESCRIPTION, C_EFFECTIVE, C_UNIT, C_PRICE,
	C_CURRENCY, C_LEASE, C_PURCHASE, C_CLASS, C_PRODUCT_FAMILY, C_TYPE, C_CURRENT_GEN,
	C_INSTANCE_FAMILY, C_VCPU, C_PROCESSOR, C_CLOCK, C_MEMORY, C_STORAGE, C_NETWORK,
	C_TENANCY, C_OS, C_LICENSE, C_USAGE_TYPE, C_OPERATION, C_CAPACITY, C_GPU, C_GPU_MEMORY,
	C_SW, C_REGION, C_MARKET, NCOLS
};

/* Why a row is not a price this catalog keeps. */
enum skip {
	S_PRODUCT_FAMILY, S_CAPACITY, S_PLACEHOLDER, S_TERM_TYPE, S_MARKET, S_UNIT, NSKIPS
};

extern const char *const offer_skip_names[NSKIPS];

/* The staging table's columns, in COPY order. */
#define NSTAGE 28
extern const char *const offer_stage_columns[NSTAGE];

/* One offer file being read into the staging table. */
struct offer {
	const char *name;            /* for messages: the file or URL */
	const char *expect_region;   /* rows of another region are an error; NULL: any */
	int header_seen;
	char version[64], publication[64], offer_code[64];
	long idx[NCOLS];
	unsigned char *used;
	size_t nheader;
	fo_copy *copy;
	long long rows, kept, skipped[NSKIPS];
	char eff_date[16], memory[64];
};

/*
 * The CSV reader's callback for an offer file (arg: the struct offer): its
 * metadata lines, its header, then each price row into o->copy (when set).
 */
int offer_record(void *arg, const struct fo_csv_record *rec, fo_err *err);

#endif
