/*
 * cur.c: AWS CUR (legacy, CUR 2.0) and FOCUS rows mapped to FOCUS columns.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "billing/cur.h"
#include "finops/datetime.h"
#include "finops/decimal.h"
#include "finops/log.h"
#include "core/core.h"

const char *const fo_cur_column_names[FO_CUR_NCOLS] = {
	"billing_period", "source_id", "load_id", "line_item_id", "billing_account_id",
	"billing_account_name", "sub_account_id", "sub_account_name", "billing_period_end",
	"charge_period_start", "charge_period_end", "charge_category", "charge_class",
	"charge_description", "charge_frequency", "provider_name", "publisher_name",
	"invoice_issuer_name", "invoice_id", "service_name", "service_category", "region_id",
	"region_name", "availability_zone", "resource_id", "resource_name", "resource_type",
	"sku_id", "sku_price_id", "pricing_category", "pricing_quantity", "pricing_unit",
	"consumed_quantity", "consumed_unit", "billing_currency", "billed_cost", "list_cost",
	"list_unit_price", "contracted_cost", "contracted_unit_price", "line_item_type",
	"usage_type", "operation", "product_code", "product_family", "instance_type",
	"operating_system", "tenancy", "pricing_term", "reservation_arn", "savings_plan_arn",
	"split_parent_resource_id", "split_cost", "split_unused_cost", "reported_effective_cost",
	"sp_effective_cost", "sp_total_commitment_to_date", "sp_used_commitment",
	"ri_effective_cost", "ri_unused_amortized_upfront_fee", "ri_unused_recurring_fee",
	"effective_cost", "tags", "cost_categories",
};

const unsigned char fo_cur_column_types[FO_CUR_NCOLS] = {
	[FO_COL_BILLING_PERIOD] = FO_BT_DATE,
	[FO_COL_SOURCE_ID] = FO_BT_INT4,
	[FO_COL_LOAD_ID] = FO_BT_INT8,
	[FO_COL_BILLING_PERIOD_END] = FO_BT_DATE,
	[FO_COL_CHARGE_PERIOD_START] = FO_BT_TIMESTAMPTZ,
	[FO_COL_CHARGE_PERIOD_END] = FO_BT_TIMESTAMPTZ,
	[FO_COL_PRICING_QUANTITY] = FO_BT_NUMERIC,
	[FO_COL_CONSUMED_QUANTITY] = FO_BT_NUMERIC,
	[FO_COL_BILLED_COST] = FO_BT_NUMERIC,
	[FO_COL_LIST_COST] = FO_BT_NUMERIC,
	[FO_COL_LIST_UNIT_PRICE] = FO_BT_NUMERIC,
	[FO_COL_CONTRACTED_COST] = FO_BT_NUMERIC,
	[FO_COL_CONTRACTED_UNIT_PRICE] = FO_BT_NUMERIC,
	[FO_COL_SPLIT_COST] = FO_BT_NUMERIC,
	[FO_COL_SPLIT_UNUSED_COST] = FO_BT_NUMERIC,
	[FO_COL_REPORTED_EFFECTIVE_COST] = FO_BT_NUMERIC,
	[FO_COL_SP_EFFECTIVE_COST] = FO_BT_NUMERIC,
	[FO_COL_SP_TOTAL_COMMITMENT] = FO_BT_NUMERIC,
	[FO_COL_SP_USED_COMMITMENT] = FO_BT_NUMERIC,
	[FO_COL_RI_EFFECTIVE_COST] = FO_BT_NUMERIC,
	[FO_COL_RI_UNUSED_AMORTIZED_UPFRONT] = FO_BT_NUMERIC,
	[FO_COL_RI_UNUSED_RECURRING] = FO_BT_NUMERIC,
	[FO_COL_EFFECTIVE_COST] = FO_BT_NUMERIC,
	[FO_COL_TAGS] = FO_BT_JSONB,
	[FO_COL_COST_CATEGORIES] = FO_BT_JSONB,
};

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

static const struct spec specs[] = {
	{FO_COL_LINE_ITEM_ID, K_TEXT, 0, {"identity/LineItemId"}, {NULL}},
	{FO_COL_BILLING_ACCOUNT_ID, K_TEXT, REQ_CUR | REQ_FOCUS, {"bill/PayerAccountId"}, {"BillingAccountId"}},
	{FO_COL_BILLING_ACCOUNT_NAME, K_TEXT, 0, {"bill/PayerAccountName"}, {"BillingAccountName"}},
	{FO_COL_SUB_ACCOUNT_ID, K_TEXT, 0, {"lineItem/UsageAccountId"}, {"SubAccountId"}},
	{FO_COL_SUB_ACCOUNT_NAME, K_TEXT, 0, {"lineItem/UsageAccountName"}, {"SubAccountName"}},
	{FO_COL_BILLING_PERIOD, K_DATE, REQ_CUR | REQ_FOCUS, {"bill/BillingPeriodStartDate"}, {"BillingPeriodStart"}},
	{FO_COL_BILLING_PERIOD_END, K_DATE, 0, {"bill/BillingPeriodEndDate"}, {"BillingPeriodEnd"}},
	{FO_COL_CHARGE_PERIOD_START, K_TS, REQ_CUR | REQ_FOCUS, {"lineItem/UsageStartDate"}, {"ChargePeriodStart"}},
	{FO_COL_CHARGE_PERIOD_END, K_TS, 0, {"lineItem/UsageEndDate"}, {"ChargePeriodEnd"}},
	{FO_COL_CHARGE_CATEGORY, K_TEXT, REQ_FOCUS, {NULL}, {"ChargeCategory"}},
	{FO_COL_CHARGE_CLASS, K_TEXT, 0, {NULL}, {"ChargeClass"}},
	{FO_COL_CHARGE_DESCRIPTION, K_TEXT, 0, {"lineItem/LineItemDescription"}, {"ChargeDescription"}},
	{FO_COL_CHARGE_FREQUENCY, K_TEXT, 0, {NULL}, {"ChargeFrequency"}},
	{FO_COL_PROVIDER_NAME, K_TEXT, 0, {NULL}, {"ProviderName"}},
	{FO_COL_PUBLISHER_NAME, K_TEXT, 0, {"bill/BillingEntity"}, {"PublisherName"}},
	{FO_COL_INVOICE_ISSUER_NAME, K_TEXT, 0, {"bill/InvoicingEntity"}, {"InvoiceIssuerName"}},
	{FO_COL_INVOICE_ID, K_TEXT, 0, {"bill/InvoiceId"}, {"InvoiceId"}},
	{FO_COL_SERVICE_NAME, K_TEXT, 0, {"product/ProductName", "lineItem/ProductCode"}, {"ServiceName"}},
	{FO_COL_SERVICE_CATEGORY, K_TEXT, 0, {NULL}, {"ServiceCategory"}},
	{FO_COL_REGION_ID, K_TEXT, 0, {"product/regionCode", "product/region"}, {"RegionId"}},
	{FO_COL_REGION_NAME, K_TEXT, 0, {"product/location"}, {"RegionName"}},
	{FO_COL_AVAILABILITY_ZONE, K_TEXT, 0, {"lineItem/AvailabilityZone"}, {"AvailabilityZone"}},
	{FO_COL_RESOURCE_ID, K_TEXT, 0, {"lineItem/ResourceId"}, {"ResourceId"}},
	{FO_COL_RESOURCE_NAME, K_TEXT, 0, {NULL}, {"ResourceName"}},
	{FO_COL_RESOURCE_TYPE, K_TEXT, 0, {NULL}, {"ResourceType"}},
	{FO_COL_SKU_ID, K_TEXT, 0, {"product/sku"}, {"SkuId"}},
	{FO_COL_SKU_PRICE_ID, K_TEXT, 0, {"pricing/RateId"}, {"SkuPriceId"}},
	{FO_COL_PRICING_CATEGORY, K_TEXT, 0, {NULL}, {"PricingCategory"}},
	{FO_COL_PRICING_QUANTITY, K_DECIMAL, 0, {"lineItem/UsageAmount"}, {"PricingQuantity"}},
	{FO_COL_PRICING_UNIT, K_TEXT, 0, {"pricing/unit"}, {"PricingUnit"}},
	{FO_COL_CONSUMED_QUANTITY, K_DECIMAL, 0, {"lineItem/UsageAmount"}, {"ConsumedQuantity"}},
	{FO_COL_CONSUMED_UNIT, K_TEXT, 0, {"pricing/unit"}, {"ConsumedUnit"}},
	{FO_COL_BILLING_CURRENCY, K_CURRENCY, REQ_CUR | REQ_FOCUS, {"lineItem/CurrencyCode"}, {"BillingCurrency"}},
	{FO_COL_BILLED_COST, K_DECIMAL, REQ_CUR | REQ_FOCUS, {"lineItem/UnblendedCost"}, {"BilledCost"}},
	{FO_COL_LIST_COST, K_DECIMAL, 0, {"pricing/publicOnDemandCost"}, {"ListCost"}},
	{FO_COL_LIST_UNIT_PRICE, K_DECIMAL, 0, {"pricing/publicOnDemandRate"}, {"ListUnitPrice"}},
	{FO_COL_CONTRACTED_COST, K_DECIMAL, 0, {"lineItem/NetUnblendedCost", "lineItem/UnblendedCost"}, {"ContractedCost"}},
	{FO_COL_CONTRACTED_UNIT_PRICE, K_DECIMAL, 0, {"lineItem/NetUnblendedRate", "lineItem/UnblendedRate"}, {"ContractedUnitPrice"}},
	{FO_COL_LINE_ITEM_TYPE, K_TEXT, REQ_CUR, {"lineItem/LineItemType"}, {NULL}},
	{FO_COL_USAGE_TYPE, K_TEXT, 0, {"lineItem/UsageType"}, {"x_UsageType"}},
	{FO_COL_OPERATION, K_TEXT, 0, {"lineItem/Operation"}, {"x_Operation"}},
	{FO_COL_PRODUCT_CODE, K_TEXT, 0, {"lineItem/ProductCode"}, {"x_ServiceCode"}},
	{FO_COL_PRODUCT_FAMILY, K_TEXT, 0, {"product/productFamily"}, {NULL}},
	{FO_COL_INSTANCE_TYPE, K_TEXT, 0, {"product/instanceType"}, {NULL}},
	{FO_COL_OPERATING_SYSTEM, K_TEXT, 0, {"product/operatingSystem"}, {NULL}},
	{FO_COL_TENANCY, K_TEXT, 0, {"product/tenancy"}, {NULL}},
	{FO_COL_PRICING_TERM, K_TEXT, 0, {"pricing/term"}, {NULL}},
	{FO_COL_RESERVATION_ARN, K_TEXT, 0, {"reservation/ReservationARN"}, {NULL}},
	{FO_COL_SAVINGS_PLAN_ARN, K_TEXT, 0, {"savingsPlan/SavingsPlanARN"}, {NULL}},
	{FO_COL_SPLIT_PARENT_RESOURCE_ID, K_TEXT, 0, {"splitLineItem/ParentResourceId"}, {NULL}},
	{FO_COL_SPLIT_COST, K_DECIMAL, 0, {"splitLineItem/SplitCost"}, {NULL}},
	{FO_COL_SPLIT_UNUSED_COST, K_DECIMAL, 0, {"splitLineItem/UnusedCost"}, {NULL}},
	{FO_COL_REPORTED_EFFECTIVE_COST, K_DECIMAL, REQ_FOCUS, {NULL}, {"EffectiveCost"}},
	{FO_COL_SP_EFFECTIVE_COST, K_DECIMAL, 0, {"savingsPlan/SavingsPlanEffectiveCost"}, {NULL}},
	{FO_COL_SP_TOTAL_COMMITMENT, K_DECIMAL, 0, {"savingsPlan/TotalCommitmentToDate"}, {NULL}},
	{FO_COL_SP_USED_COMMITMENT, K_DECIMAL, 0, {"savingsPlan/UsedCommitment"}, {NULL}},
	{FO_COL_RI_EFFECTIVE_COST, K_DECIMAL, 0, {"reservation/EffectiveCost"}, {NULL}},
	{FO_COL_RI_UNUSED_AMORTIZED_UPFRONT, K_DECIMAL, 0, {"reservation/UnusedAmortizedUpfrontFeeForBillingPeriod"}, {NULL}},
	{FO_COL_RI_UNUSED_RECURRING, K_DECIMAL, 0, {"reservation/UnusedRecurringFee"}, {NULL}},
};
#define NSPECS (sizeof(specs) / sizeof(specs[0]))

struct keyed {
	size_t index;      /* header index */
	char *key;         /* tag or cost category name as a JSON key: "name": */
	size_t keylen;
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
};

/* lineItem/UnblendedCost -> line_item_unblended_cost; product/usagetype -> product_usagetype */
static void
snake_name(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (const char *p = in; *p && o + 2 < len; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '/' || c == ' ' || c == '-' || c == ':') {
			out[o++] = '_';
			continue;
		}
		if (isupper(c) && p > in && (islower((unsigned char)p[-1]) || isdigit((unsigned char)p[-1])) &&
		    o > 0 && out[o - 1] != '_')
			out[o++] = '_';
		out[o++] = (char)tolower(c);
	}
	out[o] = '\0';
}

static long
find_snake(const fo_cur_mapper *m, char snake[][128], const char *want)
{
	char w[128];

	snake_name(want, w, sizeof(w));
	for (size_t i = 0; i < m->ncolumns; i++)
		if (strcmp(snake[i], w) == 0)
			return (long)i;
	return -1;
}

static long
find_exact(const fo_cur_mapper *m, const char *want)
{
	for (size_t i = 0; i < m->ncolumns; i++)
		if (strcasecmp(m->header[i], want) == 0)
			return (long)i;
	return -1;
}

static int
add_keyed(struct keyed **list, size_t *n, size_t index, const char *key)
{
	struct keyed *l = realloc(*list, (*n + 1) * sizeof(**list));
	fo_buf json = FO_BUF_INIT;

	if (!l)
		return -1;
	*list = l;
	fo_json_append_string(&json, key);
	fo_buf_putc(&json, ':');
	if (json.oom) {
		fo_buf_free(&json);
		return -1;
	}
	l[*n].index = index;
	l[*n].key = json.data;      /* the buffer is the caller's now */
	l[*n].keylen = json.len;
	(*n)++;
	return 0;
}

void
fo_cur_mapper_free(fo_cur_mapper *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->ntags; i++)
		free(m->tags[i].key);
	for (size_t i = 0; i < m->ncats; i++)
		free(m->cats[i].key);
	for (size_t i = 0; m->header && i < m->ncolumns; i++)
		free(m->header[i]);
	free(m->header);
	free(m->used);
	free(m->tags);
	free(m->cats);
	free(m->file);
	fo_buf_free(&m->tagbuf);
	fo_buf_free(&m->catbuf);
	free(m);
}

static int
detect(fo_cur_mapper *m, char snake[][128])
{
	int slash = 0;

	for (size_t i = 0; i < m->ncolumns; i++)
		if (strchr(m->header[i], '/') &&
		    (strncmp(m->header[i], "lineItem/", 9) == 0 ||
		     strncmp(m->header[i], "identity/", 9) == 0 ||
		     strncmp(m->header[i], "bill/", 5) == 0))
			slash = 1;
	if (slash) {
		m->format = FO_CUR_CUR_LEGACY;
		m->format_name = "aws-cur";
		return 0;
	}
	if (find_exact(m, "BilledCost") >= 0 && find_exact(m, "ChargePeriodStart") >= 0) {
		m->format = FO_CUR_FOCUS;
		if (find_exact(m, "BillingAccountType") >= 0 || find_exact(m, "InvoiceId") >= 0)
			m->format_name = "focus-1.2";
		else if (find_exact(m, "CapacityReservationId") >= 0 ||
			 find_exact(m, "CommitmentDiscountQuantity") >= 0)
			m->format_name = "focus-1.1";
		else
			m->format_name = "focus-1.0";
		return 0;
	}
	if (find_snake(m, snake, "lineItem/UnblendedCost") >= 0) {
		if (find_exact(m, "resource_tags") >= 0 || find_exact(m, "cost_category") >= 0 ||
		    find_exact(m, "bill_payer_account_name") >= 0) {
			m->format = FO_CUR_CUR2;
			m->format_name = "aws-cur2";
		} else {
			m->format = FO_CUR_CUR_SNAKE;
			m->format_name = "aws-cur-snake";
		}
		return 0;
	}
	return -1;
}

int
fo_cur_mapper_new(const char *file, const struct fo_csv_record *header,
		   const struct fo_cur_map_opts *opts, fo_cur_mapper **out, fo_err *err)
{
	fo_cur_mapper *m;
	char (*snake)[128] = NULL;
	int focus;

	*out = NULL;
	/* binary COPY sends what the mapper checked: the kinds must fit the types */
	for (size_t s = 0; s < NSPECS; s++) {
		static const unsigned char type_of_kind[] = {
			[K_TEXT] = FO_BT_TEXT, [K_DECIMAL] = FO_BT_NUMERIC, [K_TS] = FO_BT_TIMESTAMPTZ,
			[K_DATE] = FO_BT_DATE, [K_CURRENCY] = FO_BT_TEXT,
		};

		if (type_of_kind[specs[s].kind] != fo_cur_column_types[specs[s].col])
			return fo_err_set(err, FO_EXIT_FAILURE, "internal error: column %s has the"
					  " wrong kind", fo_cur_column_names[specs[s].col]);
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return fo_err_set(err, FO_EXIT_FAILURE, "%s: out of memory", file);
	m->file = strdup(file);
	m->ncolumns = header->nfields;
	m->allow_short = opts && opts->allow_short_rows;
	m->header = calloc(header->nfields ? header->nfields : 1, sizeof(char *));
	snake = calloc(header->nfields ? header->nfields : 1, sizeof(*snake));
	if (!m->file || !m->header || !snake)
		goto oom;
	for (size_t i = 0; i < header->nfields; i++) {
		/* a BOM before the first name, and CR or spaces around names, are noise */
		const char *h = header->field[i];
		size_t n;

		if (i == 0 && strncmp(h, "\xef\xbb\xbf", 3) == 0)
			h += 3;
		while (*h == ' ')
			h++;
		if (!fo_utf8_valid(h, strlen(h))) {
			fo_err_set(err, FO_EXIT_BAD_INPUT, "%s:%llu: header column %zu is not valid"
				   " UTF-8", file, header->line, i + 1);
			goto fail;
		}
		m->header[i] = strdup(h);
		if (!m->header[i])
			goto oom;
		n = strlen(m->header[i]);
		while (n > 0 && (m->header[i][n - 1] == '\r' || m->header[i][n - 1] == ' '))
			m->header[i][--n] = '\0';
		snake_name(m->header[i], snake[i], sizeof(snake[i]));
	}
	/*
	 * A column named twice would be read once and dropped once (the first
	 * for costs, the last for tags): refuse. Tag and cost category keys are
	 * case-sensitive (Name and name are two tags); other names are matched
	 * without case or spelling (lineItem/UnblendedCost, line_item_unblended_cost).
	 */
	for (size_t i = 1; i < header->nfields; i++)
		for (size_t j = 0; j < i; j++) {
			int keyed = (strncmp(m->header[i], "resourceTags/", 13) == 0 ||
				     strncmp(m->header[i], "costCategory/", 13) == 0) &&
				    strncmp(m->header[i], m->header[j], 13) == 0;

			if (keyed ? strcmp(m->header[i], m->header[j]) == 0
			    : strcasecmp(m->header[i], m->header[j]) == 0 ||
			      (strcmp(snake[i], snake[j]) == 0 && snake[i][0])) {
				fo_err_set(err, FO_EXIT_BAD_INPUT, "%s:%llu: column %.200s appears twice"
					   " in the header (columns %zu and %zu): which one holds the"
					   " value cannot be told", file, header->line, m->header[i],
					   j + 1, i + 1);
				goto fail;
			}
		}
	if (detect(m, snake) < 0) {
		fo_err_set(err, FO_EXIT_BAD_INPUT,
			   "%s:%llu: not a billing export this tool knows: no lineItem/UnblendedCost,"
			   " line_item_unblended_cost or BilledCost column in the header", file,
			   header->line);
		goto fail;
	}
	focus = m->format == FO_CUR_FOCUS;
	for (size_t s = 0; s < NSPECS; s++) {
		const char *const *names = focus ? specs[s].focus : specs[s].cur;
		size_t nnames = focus ? 2 : 3;

		m->src[s] = -1;
		for (size_t k = 0; k < nnames && names[k] && m->src[s] < 0; k++)
			m->src[s] = focus ? find_exact(m, names[k]) : find_snake(m, snake, names[k]);
		if (m->src[s] < 0 && (specs[s].required & (focus ? REQ_FOCUS : REQ_CUR))) {
			char want[128];

			if (m->format == FO_CUR_CUR_LEGACY || focus)
				snprintf(want, sizeof(want), "%s", names[0]);
			else
				snake_name(names[0], want, sizeof(want));
			fo_err_set(err, FO_EXIT_BAD_INPUT,
				   "%s:%llu: required column %s is missing (%s export)", file,
				   header->line, want, m->format_name);
			goto fail;
		}
	}
	m->tags_json = m->cats_json = -1;
	if (focus) {
		m->tags_json = find_exact(m, "Tags");
	} else if (m->format == FO_CUR_CUR2) {
		m->tags_json = find_exact(m, "resource_tags");
		m->cats_json = find_exact(m, "cost_category");
	} else {
		for (size_t i = 0; i < m->ncolumns; i++) {
			const char *h = m->header[i];

			if (strncmp(h, "resourceTags/", 13) == 0 && h[13]) {
				if (add_keyed(&m->tags, &m->ntags, i, h + 13) < 0)
					goto oom;
			} else if (strncmp(h, "resource_tags_", 14) == 0 && h[14]) {
				if (add_keyed(&m->tags, &m->ntags, i, h + 14) < 0)
					goto oom;
			} else if (strncmp(h, "costCategory/", 13) == 0 && h[13]) {
				if (add_keyed(&m->cats, &m->ncats, i, h + 13) < 0)
					goto oom;
			} else if (strncmp(h, "cost_category_", 14) == 0 && h[14]) {
				if (add_keyed(&m->cats, &m->ncats, i, h + 14) < 0)
					goto oom;
			}
		}
	}
	free(snake);
	m->used = calloc(m->ncolumns ? m->ncolumns : 1, 1);
	if (!m->used) {
		snake = NULL;
		goto oom;
	}
	for (size_t s = 0; s < NSPECS; s++)
		if (m->src[s] >= 0)
			m->used[m->src[s]] = 1;
	for (size_t i = 0; i < m->ntags; i++)
		m->used[m->tags[i].index] = 1;
	for (size_t i = 0; i < m->ncats; i++)
		m->used[m->cats[i].index] = 1;
	if (m->tags_json >= 0)
		m->used[m->tags_json] = 1;
	if (m->cats_json >= 0)
		m->used[m->cats_json] = 1;
	*out = m;
	return 0;
oom:
	fo_err_set(err, FO_EXIT_FAILURE, "%s: out of memory", file);
fail:
	free(snake);
	fo_cur_mapper_free(m);
	return -1;
}

enum fo_cur_format
fo_cur_mapper_format(const fo_cur_mapper *m)
{
	return m->format;
}

const unsigned char *
fo_cur_mapper_used(const fo_cur_mapper *m)
{
	return m->used;
}

const char *
fo_cur_mapper_format_name(const fo_cur_mapper *m)
{
	return m->format_name;
}

const char *
fo_cur_mapper_kind(const fo_cur_mapper *m)
{
	return m->format == FO_CUR_FOCUS ? "focus" : "aws_cur";
}

/* The header index a column is read from, or -1. */
static long
source_of(const fo_cur_mapper *m, enum fo_cur_col col)
{
	for (size_t s = 0; s < NSPECS; s++)
		if (specs[s].col == col)
			return m->src[s];
	return -1;
}

static int
bad(fo_cur_mapper *m, const struct fo_csv_record *rec, long index, const char *value,
    const char *why, fo_err *err)
{
	return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s:%llu: column %s: \"%.80s\" %s", m->file,
			  rec->line, index >= 0 ? m->header[index] : "?", value, why);
}

/* The CUR line item type as a FOCUS charge category. */
static const char *
charge_category_of(const char *t)
{
	static const char *const usage[] = {"Usage", "DiscountedUsage", "SavingsPlanCoveredUsage",
					    "SavingsPlanNegation", NULL};
	static const char *const purchase[] = {"Fee", "RIFee", "SavingsPlanRecurringFee",
					       "SavingsPlanUpfrontFee", NULL};
	static const char *const credit[] = {"Credit", "Refund", "BundledDiscount", "EdpDiscount",
					     "PrivateRateDiscount", "SppDiscount",
					     "DistributorDiscount", "Discount", NULL};

	for (int i = 0; usage[i]; i++)
		if (strcmp(t, usage[i]) == 0)
			return "Usage";
	for (int i = 0; purchase[i]; i++)
		if (strcmp(t, purchase[i]) == 0)
			return "Purchase";
	if (strcmp(t, "Tax") == 0)
		return "Tax";
	for (int i = 0; credit[i]; i++)
		if (strcmp(t, credit[i]) == 0)
			return "Credit";
	return "Adjustment";
}

static const char *
charge_frequency_of(const char *t)
{
	if (strcmp(t, "RIFee") == 0 || strcmp(t, "SavingsPlanRecurringFee") == 0)
		return "Recurring";
	if (strcmp(t, "Fee") == 0 || strcmp(t, "SavingsPlanUpfrontFee") == 0)
		return "One-Time";
	return "Usage-Based";
}

static const char *
pricing_category_of(const char *type, const char *term, const char *usage_type)
{
	if (strcmp(type, "DiscountedUsage") == 0 || strcmp(type, "SavingsPlanCoveredUsage") == 0)
		return "Committed";
	if (usage_type && strstr(usage_type, "SpotUsage"))
		return "Dynamic";
	if (term && strcmp(term, "OnDemand") == 0)
		return "Standard";
	if (term && strcmp(term, "Reserved") == 0)
		return "Committed";
	return NULL;
}

static int
json_object_text(fo_cur_mapper *m, const struct fo_csv_record *rec, long index, const char *v,
		 size_t n, fo_err *err)
{
	json_error_t jerr;
	json_t *j = json_loadb(v, n, JSON_DECODE_ANY, &jerr);
	int is_obj = j && json_is_object(j);

	json_decref(j);
	if (!is_obj)
		return bad(m, rec, index, v, "is not a JSON object", err);
	return 0;
}

/* Builds {"key": "value", ...} from the non-empty keyed columns. */
static void
keyed_json(fo_buf *b, const struct keyed *k, size_t nk, const struct fo_csv_record *rec)
{
	int first = 1;

	fo_buf_reset(b);
	fo_buf_putc(b, '{');
	for (size_t i = 0; i < nk; i++) {
		if (k[i].index >= rec->nfields || rec->len[k[i].index] == 0)
			continue;
		if (!first)
			fo_buf_putc(b, ',');
		first = 0;
		fo_buf_append(b, k[i].key, k[i].keylen);
		fo_json_append_string(b, rec->field[k[i].index]);
	}
	fo_buf_putc(b, '}');
}

/* a + b (or a - b), NULL as 0, at the larger scale of the two, into out. */
static int
dec_combine(const struct fo_cur_row *row, enum fo_cur_col a, enum fo_cur_col b, int subtract,
	    char *out, size_t len)
{
	fo_dec_sum sum;
	int scale = 0;

	fo_dec_zero(&sum);
	if (row->v[a]) {
		if (fo_dec_add(&sum, row->v[a], row->n[a]) < 0)
			return -1;
		scale = fo_dec_scale(row->v[a], row->n[a]);
	}
	if (row->v[b]) {
		int sb = fo_dec_scale(row->v[b], row->n[b]);

		if ((subtract ? fo_dec_sub : fo_dec_add)(&sum, row->v[b], row->n[b]) < 0)
			return -1;
		scale = sb > scale ? sb : scale;
	}
	fo_dec_format_scale(&sum, scale, out, len);
	return 0;
}

static void
set_value(struct fo_cur_row *row, enum fo_cur_col col, const char *v, size_t n)
{
	row->v[col] = v;
	row->n[col] = n;
}

/*
 * The amortized cost. FOCUS reports it; for AWS CUR it is the rule of AWS's
 * Cloud Intelligence Dashboards and the FOCUS converters: Savings Plan and
 * reservation usage at their effective cost, their recurring fees at the
 * unused part, negations and upfront fees at zero (they are amortized into
 * the usage), reservation purchase fees at zero, everything else as billed.
 */
static int
effective_cost_of(fo_cur_mapper *m, const struct fo_csv_record *rec, struct fo_cur_row *row,
		  fo_err *err)
{
	const char *type = row->v[FO_COL_LINE_ITEM_TYPE];
	enum fo_cur_col from = FO_COL_BILLED_COST;

	if (row->v[FO_COL_REPORTED_EFFECTIVE_COST] || !type) {
		from = FO_COL_REPORTED_EFFECTIVE_COST;
	} else if (strcmp(type, "SavingsPlanCoveredUsage") == 0) {
		from = FO_COL_SP_EFFECTIVE_COST;
	} else if (strcmp(type, "DiscountedUsage") == 0) {
		from = FO_COL_RI_EFFECTIVE_COST;
	} else if (strcmp(type, "SavingsPlanNegation") == 0 ||
		   strcmp(type, "SavingsPlanUpfrontFee") == 0 ||
		   (strcmp(type, "Fee") == 0 && row->v[FO_COL_RESERVATION_ARN])) {
		set_value(row, FO_COL_EFFECTIVE_COST, "0", 1);
		return 0;
	} else if (strcmp(type, "SavingsPlanRecurringFee") == 0 || strcmp(type, "RIFee") == 0) {
		int sp = type[0] == 'S';

		if (dec_combine(row, sp ? FO_COL_SP_TOTAL_COMMITMENT : FO_COL_RI_UNUSED_AMORTIZED_UPFRONT,
				sp ? FO_COL_SP_USED_COMMITMENT : FO_COL_RI_UNUSED_RECURRING, sp,
				m->effective, sizeof(m->effective)) < 0)
			return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s:%llu: the effective cost of this"
					  " %s is out of range", m->file, rec->line, type);
		set_value(row, FO_COL_EFFECTIVE_COST, m->effective, strlen(m->effective));
		return 0;
	}
	if (row->v[from])
		set_value(row, FO_COL_EFFECTIVE_COST, row->v[from], row->n[from]);
	else
		set_value(row, FO_COL_EFFECTIVE_COST, "0", 1);
	return 0;
}

static int
is_null(const fo_cur_mapper *m, const char *v, size_t n)
{
	/* FOCUS samples write the literal NULL for null */
	return n == 0 || (m->format == FO_CUR_FOCUS && n == 4 && strcmp(v, "NULL") == 0);
}

int
fo_cur_map_row(fo_cur_mapper *m, const struct fo_csv_record *rec, struct fo_cur_row *row,
		fo_err *err)
{
	int ts_slot = 0;
	const char *type;

	if (rec->nfields != m->ncolumns &&
	    !(m->allow_short && rec->nfields < m->ncolumns))
		return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s:%llu: %zu fields, the header has %zu%s",
				  m->file, rec->line, rec->nfields, m->ncolumns,
				  rec->nfields < m->ncolumns ? " (--allow-short-rows accepts fewer)" : "");
	memset(row->v, 0, sizeof(row->v));
	memset(row->n, 0, sizeof(row->n));
	for (size_t s = 0; s < NSPECS; s++) {
		long i = m->src[s];
		enum fo_cur_col col = specs[s].col;
		const char *v, *why;
		size_t n;

		if (i < 0 || (size_t)i >= rec->nfields)
			goto absent;
		v = rec->field[i];
		n = rec->len[i];
		if (is_null(m, v, n))
			goto absent;
		switch (specs[s].kind) {
		case K_TEXT:
			/* the database takes UTF-8 only; say where, not its COPY row */
			if (!fo_utf8_valid(v, n))
				return bad(m, rec, i, v, "is not valid UTF-8", err);
			break;
		case K_DECIMAL:
			if (fo_dec_check(v, n, &why) < 0)
				return bad(m, rec, i, v, why, err);
			break;
		case K_CURRENCY:
			if (n != 3 || !isupper((unsigned char)v[0]) || !isupper((unsigned char)v[1]) ||
			    !isupper((unsigned char)v[2]))
				return bad(m, rec, i, v, "is not a currency code (ISO 4217)", err);
			break;
		case K_TS:
		case K_DATE: {
			struct fo_ts ts;

			if (fo_ts_parse(v, n, &ts, &why) < 0)
				return bad(m, rec, i, v, why, err);
			row->ts[col] = ts;
			if (specs[s].kind == K_TS)
				fo_ts_format(&ts, m->ts[ts_slot], sizeof(m->ts[0]));
			else
				fo_ts_date(&ts, m->ts[ts_slot], sizeof(m->ts[0]));
			v = m->ts[ts_slot++];
			n = strlen(v);
			break;
		}
		}
		row->v[col] = v;
		row->n[col] = n;
		continue;
absent:
		if (specs[s].required & (m->format == FO_CUR_FOCUS ? REQ_FOCUS : REQ_CUR)) {
			const char *name = i >= 0 ? m->header[i] : "?";

			return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s:%llu: column %s: a value is required",
					  m->file, rec->line, name);
		}
	}
	/* a K_DATE value is always "YYYY-MM-DD" */
	memcpy(row->period, row->v[FO_COL_BILLING_PERIOD], 10);
	row->period[10] = '\0';

	if (m->format != FO_CUR_FOCUS) {
		const char *cat;

		type = row->v[FO_COL_LINE_ITEM_TYPE];
		cat = charge_category_of(type);
		row->v[FO_COL_CHARGE_CATEGORY] = cat;
		row->n[FO_COL_CHARGE_CATEGORY] = strlen(cat);
		row->v[FO_COL_CHARGE_FREQUENCY] = charge_frequency_of(type);
		row->n[FO_COL_CHARGE_FREQUENCY] = strlen(row->v[FO_COL_CHARGE_FREQUENCY]);
		row->v[FO_COL_PRICING_CATEGORY] = pricing_category_of(type, row->v[FO_COL_PRICING_TERM],
								      row->v[FO_COL_USAGE_TYPE]);
		row->n[FO_COL_PRICING_CATEGORY] = row->v[FO_COL_PRICING_CATEGORY]
			? strlen(row->v[FO_COL_PRICING_CATEGORY]) : 0;
		row->v[FO_COL_PROVIDER_NAME] = "AWS";
		row->n[FO_COL_PROVIDER_NAME] = 3;
	} else {
		const char *cat = row->v[FO_COL_CHARGE_CATEGORY];

		if (strcmp(cat, "Usage") && strcmp(cat, "Purchase") && strcmp(cat, "Tax") &&
		    strcmp(cat, "Credit") && strcmp(cat, "Adjustment"))
			return bad(m, rec, source_of(m, FO_COL_CHARGE_CATEGORY), cat,
				   "is not a FOCUS charge category (Usage, Purchase, Tax, Credit,"
				   " Adjustment)", err);
	}

	if (effective_cost_of(m, rec, row, err) < 0)
		return -1;

	/* tags and cost categories, as JSON objects */
	if (m->tags_json >= 0 && (size_t)m->tags_json < rec->nfields &&
	    !is_null(m, rec->field[m->tags_json], rec->len[m->tags_json])) {
		if (json_object_text(m, rec, m->tags_json, rec->field[m->tags_json],
				     rec->len[m->tags_json], err) < 0)
			return -1;
		row->v[FO_COL_TAGS] = rec->field[m->tags_json];
		row->n[FO_COL_TAGS] = rec->len[m->tags_json];
	} else if (m->ntags) {
		/* one rule for every text: a tag that is not UTF-8 is bad input too */
		for (size_t k = 0; k < m->ntags; k++)
			if (m->tags[k].index < rec->nfields &&
			    !fo_utf8_valid(rec->field[m->tags[k].index], rec->len[m->tags[k].index]))
				return bad(m, rec, (long)m->tags[k].index, rec->field[m->tags[k].index],
					   "is not valid UTF-8", err);
		keyed_json(&m->tagbuf, m->tags, m->ntags, rec);
		row->v[FO_COL_TAGS] = m->tagbuf.data;
		row->n[FO_COL_TAGS] = m->tagbuf.len;
	} else {
		row->v[FO_COL_TAGS] = "{}";
		row->n[FO_COL_TAGS] = 2;
	}
	if (m->cats_json >= 0 && (size_t)m->cats_json < rec->nfields &&
	    !is_null(m, rec->field[m->cats_json], rec->len[m->cats_json])) {
		if (json_object_text(m, rec, m->cats_json, rec->field[m->cats_json],
				     rec->len[m->cats_json], err) < 0)
			return -1;
		row->v[FO_COL_COST_CATEGORIES] = rec->field[m->cats_json];
		row->n[FO_COL_COST_CATEGORIES] = rec->len[m->cats_json];
	} else if (m->ncats) {
		for (size_t k = 0; k < m->ncats; k++)
			if (m->cats[k].index < rec->nfields &&
			    !fo_utf8_valid(rec->field[m->cats[k].index], rec->len[m->cats[k].index]))
				return bad(m, rec, (long)m->cats[k].index, rec->field[m->cats[k].index],
					   "is not valid UTF-8", err);
		keyed_json(&m->catbuf, m->cats, m->ncats, rec);
		row->v[FO_COL_COST_CATEGORIES] = m->catbuf.data;
		row->n[FO_COL_COST_CATEGORIES] = m->catbuf.len;
	} else {
		row->v[FO_COL_COST_CATEGORIES] = "{}";
		row->n[FO_COL_COST_CATEGORIES] = 2;
	}
	if (m->tagbuf.oom || m->catbuf.oom)
		return fo_err_set(err, FO_EXIT_FAILURE, "%s: out of memory", m->file);
	return 0;
}
