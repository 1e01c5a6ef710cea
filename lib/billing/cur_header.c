/*
 * cur_header.c: the columns of the billing table, and an AWS CUR (legacy,
 * CUR 2.0) or FOCUS header mapped to them (see cur.h); cur_row.c maps rows.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "billing/cur_map.h"
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

/* sized NSPECS: the declaration in cur_map.h makes a mismatch a compile error */
const struct spec fo_cur_specs[] = {
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
	l[*n].name = strdup(key);
	l[*n].namelen = strlen(key);
	if (!l[*n].name) {
		free(json.data);
		return -1;
	}
	(*n)++;
	return 0;
}

void
fo_cur_mapper_free(fo_cur_mapper *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->ntags; i++) {
		free(m->tags[i].key);
		free(m->tags[i].name);
	}
	for (size_t i = 0; i < m->ncats; i++) {
		free(m->cats[i].key);
		free(m->cats[i].name);
	}
	json_decref(m->tagobj);
	free(m->tagv);
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

		if (type_of_kind[fo_cur_specs[s].kind] != fo_cur_column_types[fo_cur_specs[s].col])
			return fo_err_set(err, FO_EXIT_FAILURE, "internal error: column %s has the"
					  " wrong kind", fo_cur_column_names[fo_cur_specs[s].col]);
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
		const char *const *names = focus ? fo_cur_specs[s].focus : fo_cur_specs[s].cur;
		size_t nnames = focus ? 2 : 3;

		m->src[s] = -1;
		for (size_t k = 0; k < nnames && names[k] && m->src[s] < 0; k++)
			m->src[s] = focus ? find_exact(m, names[k]) : find_snake(m, snake, names[k]);
		if (m->src[s] < 0 && (fo_cur_specs[s].required & (focus ? REQ_FOCUS : REQ_CUR))) {
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

