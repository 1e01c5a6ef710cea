/*
 * cur.h: billing export rows (AWS CUR legacy and 2.0, FOCUS 1.0-1.2) mapped
 * to the columns of finops.billing_line_items.
 *
 * The format is recognised from the header; columns are found by name in
 * any order (legacy "lineItem/UnblendedCost" and CUR 2.0
 * "line_item_unblended_cost" are the same column); unknown columns are
 * ignored; missing optional ones are NULL; a missing required one is an
 * error naming it. Every value is checked on the client (money as exact
 * decimal text, timestamps, currency codes, JSON tags) so a bad value is
 * reported with file, line and column before anything is written.
 */
#ifndef FINOPS_CUR_H
#define FINOPS_CUR_H

#include <stddef.h>

#include "finops/buf.h"
#include "finops/csvread.h"
#include "finops/datetime.h"
#include "finops/error.h"

enum fo_cur_format {
	FO_CUR_CUR_LEGACY,    /* lineItem/UnblendedCost, resourceTags/user:x */
	FO_CUR_CUR_SNAKE,     /* legacy CUR with Athena-style snake_case names */
	FO_CUR_CUR2,          /* Data Exports CUR 2.0: resource_tags map column */
	FO_CUR_FOCUS          /* FOCUS 1.0, 1.1, 1.2 */
};

/* The output columns, in the order fo_cur_row holds them. */
enum fo_cur_col {
	FO_COL_BILLING_PERIOD, FO_COL_SOURCE_ID, FO_COL_LOAD_ID, FO_COL_LINE_ITEM_ID,
	FO_COL_BILLING_ACCOUNT_ID, FO_COL_BILLING_ACCOUNT_NAME, FO_COL_SUB_ACCOUNT_ID,
	FO_COL_SUB_ACCOUNT_NAME, FO_COL_BILLING_PERIOD_END, FO_COL_CHARGE_PERIOD_START,
	FO_COL_CHARGE_PERIOD_END, FO_COL_CHARGE_CATEGORY, FO_COL_CHARGE_CLASS,
	FO_COL_CHARGE_DESCRIPTION, FO_COL_CHARGE_FREQUENCY, FO_COL_PROVIDER_NAME,
	FO_COL_PUBLISHER_NAME, FO_COL_INVOICE_ISSUER_NAME, FO_COL_INVOICE_ID, FO_COL_SERVICE_NAME,
	FO_COL_SERVICE_CATEGORY, FO_COL_REGION_ID, FO_COL_REGION_NAME, FO_COL_AVAILABILITY_ZONE,
	FO_COL_RESOURCE_ID, FO_COL_RESOURCE_NAME, FO_COL_RESOURCE_TYPE, FO_COL_SKU_ID,
	FO_COL_SKU_PRICE_ID, FO_COL_PRICING_CATEGORY, FO_COL_PRICING_QUANTITY, FO_COL_PRICING_UNIT,
	FO_COL_CONSUMED_QUANTITY, FO_COL_CONSUMED_UNIT, FO_COL_BILLING_CURRENCY, FO_COL_BILLED_COST,
	FO_COL_LIST_COST, FO_COL_LIST_UNIT_PRICE, FO_COL_CONTRACTED_COST,
	FO_COL_CONTRACTED_UNIT_PRICE, FO_COL_LINE_ITEM_TYPE, FO_COL_USAGE_TYPE, FO_COL_OPERATION,
	FO_COL_PRODUCT_CODE, FO_COL_PRODUCT_FAMILY, FO_COL_INSTANCE_TYPE, FO_COL_OPERATING_SYSTEM,
	FO_COL_TENANCY, FO_COL_PRICING_TERM, FO_COL_RESERVATION_ARN, FO_COL_SAVINGS_PLAN_ARN,
	FO_COL_SPLIT_PARENT_RESOURCE_ID, FO_COL_SPLIT_COST, FO_COL_SPLIT_UNUSED_COST,
	FO_COL_REPORTED_EFFECTIVE_COST, FO_COL_SP_EFFECTIVE_COST, FO_COL_SP_TOTAL_COMMITMENT,
	FO_COL_SP_USED_COMMITMENT, FO_COL_RI_EFFECTIVE_COST, FO_COL_RI_UNUSED_AMORTIZED_UPFRONT,
	FO_COL_RI_UNUSED_RECURRING, FO_COL_EFFECTIVE_COST, FO_COL_TAGS, FO_COL_COST_CATEGORIES,
	FO_CUR_NCOLS
};

/* Column names of finops.billing_line_items, indexed by enum fo_cur_col. */
extern const char *const fo_cur_column_names[FO_CUR_NCOLS];

/* The SQL type of each column, for binary COPY (tests check it against the table). */
enum fo_cur_type {
	FO_BT_TEXT, FO_BT_INT4, FO_BT_INT8, FO_BT_DATE, FO_BT_TIMESTAMPTZ, FO_BT_NUMERIC,
	FO_BT_JSONB,
};
extern const unsigned char fo_cur_column_types[FO_CUR_NCOLS];

/*
 * One mapped row; v[i] NULL means SQL NULL. Date and timestamp columns are
 * also parsed into ts[i]. Valid until the next mapping.
 */
/* A tag of a row whose value is a string (the text PostgreSQL's jsonb gives). */
struct fo_cur_tag {
	const char *key, *value;
	size_t keylen, valuelen;
};

struct fo_cur_row {
	const char *v[FO_CUR_NCOLS];
	size_t n[FO_CUR_NCOLS];
	struct fo_ts ts[FO_CUR_NCOLS];
	char period[11];          /* billing period start date, YYYY-MM-DD */
	/* the tags of v[FO_COL_TAGS] with string values, valid until the next row */
	const struct fo_cur_tag *tags;
	size_t ntags;
};

struct fo_cur_map_opts {
	int allow_short_rows;     /* treat missing trailing fields as empty */
};

typedef struct fo_cur_mapper fo_cur_mapper;

/*
 * Recognises the format from a header record of file and maps its columns.
 * Fails with FO_EXIT_BAD_INPUT naming the first missing required column.
 * On success *out is owned by the caller (fo_cur_mapper_free).
 */
int fo_cur_mapper_new(const char *file, const struct fo_csv_record *header,
		       const struct fo_cur_map_opts *opts, fo_cur_mapper **out, fo_err *err);
void fo_cur_mapper_free(fo_cur_mapper *m);

enum fo_cur_format fo_cur_mapper_format(const fo_cur_mapper *m);

/*
 * Which header columns the mapper reads (1) or ignores (0), one flag per
 * column of the header: for fo_csv_only_fields.
 */
const unsigned char *fo_cur_mapper_used(const fo_cur_mapper *m);

/* "aws-cur", "aws-cur-snake", "aws-cur2", "focus-1.0", "focus-1.1", "focus-1.2" */
const char *fo_cur_mapper_format_name(const fo_cur_mapper *m);

/* The source kind of the format: "aws_cur" or "focus". */
const char *fo_cur_mapper_kind(const fo_cur_mapper *m);

/*
 * Maps and checks one data record. Fails with FO_EXIT_BAD_INPUT and
 * "file:line: column NAME: reason". The source and load ids are left NULL
 * for the caller to fill.
 */
int fo_cur_map_row(fo_cur_mapper *m, const struct fo_csv_record *rec, struct fo_cur_row *row,
		    fo_err *err);

#endif
