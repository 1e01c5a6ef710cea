/*
 * offer.c: the rows of an AWS Price List offer file, mapped to the
 * catalog's staging table (see offer.h).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "finops/buf.h"
#include "finops/copy.h"
#include "finops/csvread.h"
#include "finops/datetime.h"
#include "finops/decimal.h"
#include "finops/http.h"
#include "finops/log.h"
#include "finops/pg.h"
#include "finops/source.h"
#include "finops/stop.h"
#include "catalog/offer.h"
#include "core/core.h"
static const struct {
	const char *name;
	int required;
} columns[NCOLS] = {
	[C_SKU] = {"SKU", 1}, [C_TERM_CODE] = {"OfferTermCode", 1},
	[C_TERM_TYPE] = {"TermType", 1}, [C_DESCRIPTION] = {"PriceDescription", 1},
	[C_EFFECTIVE] = {"EffectiveDate", 1}, [C_UNIT] = {"Unit", 1},
	[C_PRICE] = {"PricePerUnit", 1}, [C_CURRENCY] = {"Currency", 1},
	[C_LEASE] = {"LeaseContractLength", 1}, [C_PURCHASE] = {"PurchaseOption", 1},
	[C_CLASS] = {"OfferingClass", 1}, [C_PRODUCT_FAMILY] = {"Product Family", 1},
	[C_TYPE] = {"Instance Type", 1}, [C_CURRENT_GEN] = {"Current Generation", 1},
	[C_INSTANCE_FAMILY] = {"Instance Family", 0}, [C_VCPU] = {"vCPU", 1},
	[C_PROCESSOR] = {"Physical Processor", 0}, [C_CLOCK] = {"Clock Speed", 0},
	[C_MEMORY] = {"Memory", 1}, [C_STORAGE] = {"Storage", 0},
	[C_NETWORK] = {"Network Performance", 0}, [C_TENANCY] = {"Tenancy", 1},
	[C_OS] = {"Operating System", 1}, [C_LICENSE] = {"License Model", 1},
	[C_USAGE_TYPE] = {"usageType", 1}, [C_OPERATION] = {"operation", 0},
	[C_CAPACITY] = {"CapacityStatus", 1}, [C_GPU] = {"GPU", 0},
	[C_GPU_MEMORY] = {"GPU Memory", 0}, [C_SW] = {"Pre Installed S/W", 1},
	[C_REGION] = {"Region Code", 1}, [C_MARKET] = {"MarketOption", 0},
};

const char *const offer_skip_names[NSKIPS] = {
	[S_PRODUCT_FAMILY] = "not_compute_instance", [S_CAPACITY] = "capacity_not_used",
	[S_PLACEHOLDER] = "host_or_reservation_placeholder", [S_TERM_TYPE] = "other_term_type",
	[S_MARKET] = "other_market_option", [S_UNIT] = "other_unit",
};

/* its size must be NSTAGE: the declaration in offer.h makes a mismatch a compile error */
const char *const offer_stage_columns[] = {
	"region", "instance_type", "operating_system", "tenancy", "license_model",
	"pre_installed_sw", "term", "purchase_option", "offering_class", "lease_length", "unit",
	"price", "currency", "effective_date", "sku", "offer_term_code", "usage_type", "operation",
	"instance_family", "vcpu", "memory_gib", "gpu_count", "gpu_memory", "physical_processor",
	"clock_speed", "network_performance", "storage", "current_generation",
};

static int
value_is(const struct fo_csv_record *rec, long i, const char *want)
{
	return i >= 0 && (size_t)i < rec->nfields && strcmp(rec->field[i], want) == 0;
}

static const char *
value(const struct offer *o, const struct fo_csv_record *rec, enum col c)
{
	long i = o->idx[c];

	return i >= 0 && (size_t)i < rec->nfields ? rec->field[i] : "";
}

static int
bad(const struct offer *o, const struct fo_csv_record *rec, enum col c, const char *why,
    fo_err *err)
{
	return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s:%llu: column %s: \"%.60s\" %s", o->name,
			  rec->line, columns[c].name, value(o, rec, c), why);
}

/* The metadata lines before the header: "FormatVersion","v1.0" and so on. */
static int
metadata(struct offer *o, const struct fo_csv_record *rec, fo_err *err)
{
	const char *k = rec->field[0];

	if (rec->nfields != 2)
		return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s:%llu: not an AWS Price List offer file:"
				  " %zu fields before the SKU header", o->name, rec->line,
				  rec->nfields);
	if (strcmp(k, "Version") == 0)
		snprintf(o->version, sizeof(o->version), "%s", rec->field[1]);
	else if (strcmp(k, "Publication Date") == 0)
		snprintf(o->publication, sizeof(o->publication), "%s", rec->field[1]);
	else if (strcmp(k, "OfferCode") == 0)
		snprintf(o->offer_code, sizeof(o->offer_code), "%s", rec->field[1]);
	return 0;
}

static int
header(struct offer *o, const struct fo_csv_record *rec, fo_err *err)
{
	if (!o->version[0])
		return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: no \"Version\" line before the header",
				  o->name);
	if (o->offer_code[0] && strcmp(o->offer_code, "AmazonEC2") != 0)
		return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: an offer file of %s, not AmazonEC2",
				  o->name, o->offer_code);
	o->used = calloc(rec->nfields, 1);
	if (!o->used)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	o->nheader = rec->nfields;
	/* a column named twice: which one holds the value cannot be told */
	for (size_t i = 1; i < rec->nfields; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(rec->field[i], rec->field[j]) == 0)
				return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s:%llu: column \"%.200s\""
						  " appears twice in the header (columns %zu and %zu)",
						  o->name, rec->line, rec->field[i], j + 1, i + 1);
	for (int c = 0; c < NCOLS; c++) {
		o->idx[c] = -1;
		for (size_t i = 0; i < rec->nfields; i++)
			if (strcmp(rec->field[i], columns[c].name) == 0) {
				o->idx[c] = (long)i;
				o->used[i] = 1;
				break;
			}
		if (o->idx[c] < 0 && columns[c].required)
			return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s:%llu: required column \"%s\" is"
					  " missing from the header", o->name, rec->line,
					  columns[c].name);
	}
	fo_csv_only_fields(rec, o->used, rec->nfields);
	o->header_seen = 1;
	return 0;
}

/* Why the row is skipped, or -1 when it is a price to keep. */
static int
skip_reason(const struct offer *o, const struct fo_csv_record *rec)
{
	const char *family = value(o, rec, C_PRODUCT_FAMILY), *term = value(o, rec, C_TERM_TYPE);
	const char *unit = value(o, rec, C_UNIT), *market = value(o, rec, C_MARKET);
	const char *usage = value(o, rec, C_USAGE_TYPE);

	if (strncmp(family, "Compute Instance", 16) != 0)
		return S_PRODUCT_FAMILY;
	if (strcmp(value(o, rec, C_CAPACITY), "Used") != 0)
		return S_CAPACITY;
	if (!value(o, rec, C_TYPE)[0] || strcmp(value(o, rec, C_TENANCY), "Host") == 0 ||
	    strstr(usage, "HostUsage") || strstr(usage, "Reservation:"))
		return S_PLACEHOLDER;
	if (strcmp(term, "OnDemand") != 0 && strcmp(term, "Reserved") != 0)
		return S_TERM_TYPE;
	if (market[0] && strcmp(market, "OnDemand") != 0)
		return S_MARKET;
	if (strcmp(unit, "Hrs") != 0 && strcmp(unit, "Quantity") != 0)
		return S_UNIT;
	return -1;
}

/*
 * "1,952 GiB" -> "1952"; NULL when it is not a plain, positive amount of GiB
 * below a million (the largest instance has 32 TiB).
 */
static const char *
memory_gib(struct offer *o, const char *v)
{
	size_t k = 0, whole = 0;
	int point = 0, nonzero = 0;

	for (; *v && *v != ' ' && k + 1 < sizeof(o->memory); v++)
		if (*v != ',')
			o->memory[k++] = *v;
	o->memory[k] = '\0';
	if (strcmp(v, " GiB") != 0 || k == 0)
		return NULL;
	for (size_t i = 0; i < k; i++) {
		char c = o->memory[i];

		if (c == '.' && !point)
			point = 1;
		else if (c < '0' || c > '9')
			return NULL;
		else {
			whole += !point;
			nonzero |= c != '0';
		}
	}
	return nonzero && whole <= 6 ? o->memory : NULL;
}

/* A whole number of at most max_digits digits. */
static int
whole_number_upto(const char *v, size_t max_digits)
{
	return *v && strlen(v) <= max_digits && strspn(v, "0123456789") == strlen(v);
}

static int
price_row(struct offer *o, const struct fo_csv_record *rec, fo_err *err)
{
	const char *price = value(o, rec, C_PRICE), *region = value(o, rec, C_REGION);
	const char *gpu = value(o, rec, C_GPU), *why = NULL, *mem;
	int reason = skip_reason(o, rec);
	struct fo_ts ts;

	if (reason >= 0) {
		o->skipped[reason]++;
		return 0;
	}
	/* the database takes UTF-8 only: say where, not its COPY row */
	for (int c = 0; c < NCOLS; c++)
		if (o->idx[c] >= 0 && (size_t)o->idx[c] < rec->nfields &&
		    !fo_utf8_valid(rec->field[o->idx[c]], rec->len[o->idx[c]]))
			return bad(o, rec, (enum col)c, "is not valid UTF-8", err);
	if (fo_dec_check(price, strlen(price), &why) < 0)
		return bad(o, rec, C_PRICE, why, err);
	if (price[0] == '-')
		return bad(o, rec, C_PRICE, "is negative", err);
	if (!whole_number_upto(value(o, rec, C_VCPU), 5) || atoi(value(o, rec, C_VCPU)) == 0)
		return bad(o, rec, C_VCPU, "is not a whole number of vCPUs (1-99999)", err);
	if (!(mem = memory_gib(o, value(o, rec, C_MEMORY))))
		return bad(o, rec, C_MEMORY, "is not an amount of GiB (\"16 GiB\", below a"
			   " million)", err);
	if (*gpu && strcmp(gpu, "NA") != 0 && !whole_number_upto(gpu, 3))
		return bad(o, rec, C_GPU, "is not a GPU count", err);
	if (!region[0])
		return bad(o, rec, C_REGION, "is empty", err);
	if (o->expect_region && strcmp(region, o->expect_region) != 0)
		return bad(o, rec, C_REGION, "is not the region of this offer file", err);
	if (fo_ts_parse(value(o, rec, C_EFFECTIVE), strlen(value(o, rec, C_EFFECTIVE)), &ts,
			&why) < 0)
		return bad(o, rec, C_EFFECTIVE, why, err);
	fo_ts_date(&ts, o->eff_date, sizeof(o->eff_date));
	{
		const char *cur = value(o, rec, C_CURRENCY);

		if (strlen(cur) != 3 || strspn(cur, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3)
			return bad(o, rec, C_CURRENCY, "is not a currency code (ISO 4217: USD)",
				   err);
	}
	if (!o->copy) {              /* checking only (fo_catalog_check_offer) */
		o->kept++;
		return 0;
	}

	fo_copy_put_str(o->copy, region);
	fo_copy_put_str(o->copy, value(o, rec, C_TYPE));
	fo_copy_put_str(o->copy, value(o, rec, C_OS));
	fo_copy_put_str(o->copy, value(o, rec, C_TENANCY));
	fo_copy_put_str(o->copy, value(o, rec, C_LICENSE));
	fo_copy_put_str(o->copy, value(o, rec, C_SW));
	fo_copy_put_str(o->copy, value(o, rec, C_TERM_TYPE));
	fo_copy_put_nonempty(o->copy, value(o, rec, C_PURCHASE));
	fo_copy_put_nonempty(o->copy, value(o, rec, C_CLASS));
	fo_copy_put_nonempty(o->copy, value(o, rec, C_LEASE));
	fo_copy_put_str(o->copy, value(o, rec, C_UNIT));
	fo_copy_put_str(o->copy, price);
	fo_copy_put_str(o->copy, value(o, rec, C_CURRENCY));
	fo_copy_put_str(o->copy, o->eff_date);
	fo_copy_put_str(o->copy, value(o, rec, C_SKU));
	fo_copy_put_str(o->copy, value(o, rec, C_TERM_CODE));
	fo_copy_put_nonempty(o->copy, value(o, rec, C_USAGE_TYPE));
	fo_copy_put_nonempty(o->copy, value(o, rec, C_OPERATION));
	fo_copy_put_nonempty(o->copy, value(o, rec, C_INSTANCE_FAMILY));
	fo_copy_put_str(o->copy, value(o, rec, C_VCPU));
	fo_copy_put_str(o->copy, mem);
	fo_copy_put_str(o->copy, *gpu && strcmp(gpu, "NA") != 0 ? gpu : "0");
	fo_copy_put_nonempty(o->copy, strcmp(value(o, rec, C_GPU_MEMORY), "NA") == 0 ? ""
		    : value(o, rec, C_GPU_MEMORY));
	fo_copy_put_nonempty(o->copy, value(o, rec, C_PROCESSOR));
	fo_copy_put_nonempty(o->copy, value(o, rec, C_CLOCK));
	fo_copy_put_nonempty(o->copy, value(o, rec, C_NETWORK));
	fo_copy_put_nonempty(o->copy, value(o, rec, C_STORAGE));
	fo_copy_put_str(o->copy, strcmp(value(o, rec, C_CURRENT_GEN), "Yes") == 0 ? "t" : "f");
	if (fo_copy_end_row(o->copy, err) < 0)
		return fo_err_prefix(err, "%s:%llu: ", o->name, rec->line);
	o->kept++;
	return 0;
}

int
offer_record(void *arg, const struct fo_csv_record *rec, fo_err *err)
{
	struct offer *o = arg;

	if (!o->header_seen) {
		if (rec->nfields > 2 && value_is(rec, 0, "SKU"))
			return header(o, rec, err);
		return metadata(o, rec, err);
	}
	o->rows++;
	if (rec->nfields != o->nheader)
		return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s:%llu: %zu fields, the header has %zu"
				  " (a truncated file?)", o->name, rec->line, rec->nfields,
				  o->nheader);
	return price_row(o, rec, err);
}
