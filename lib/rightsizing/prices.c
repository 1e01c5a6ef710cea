/*
 * prices.c: the catalog and the billed instances of a rightsizing run (see
 * prices.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finops/pg.h"
#include "rightsizing/prices.h"

double
network_rank(const char *perf)
{
	static const struct {
		const char *name;
		double mbit;
	} words[] = {
		{"Very Low", 50}, {"Low to Moderate", 300}, {"Low", 100}, {"Moderate", 500},
		{"High", 1000},
	};
	double up_to = 0, v;
	const char *p = perf ? perf : "";
	char *end;

	if (strncmp(p, "Up to ", 6) == 0) {
		p += 6;
		up_to = 1;
	}
	v = strtod(p, &end);
	if (end != p) {
		while (*end == ' ')
			end++;
		if (strncmp(end, "Gigabit", 7) == 0)
			v *= 1000;
		/* "Up to X" bursts to X: just below a sustained X */
		return v - up_to;
	}
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(p, words[i].name) == 0)
			return words[i].mbit - up_to;
	return 0;
}

int64_t
price_units(const char *s)
{
	int64_t whole = 0, frac = 0;
	int neg = 0, digits = 0;

	if (*s == '-') {
		neg = 1;
		s++;
	}
	for (; isdigit((unsigned char)*s); s++)
		whole = whole * 10 + (*s - '0');
	if (*s == '.')
		for (s++; isdigit((unsigned char)*s) && digits < 10; s++, digits++)
			frac = frac * 10 + (*s - '0');
	for (; digits < 10; digits++)
		frac *= 10;
	return (neg ? -1 : 1) * (whole * 10000000000LL + frac);
}

static int
cmp_type(const void *a, const void *b)
{
	return strcmp(((const struct itype *)a)->name, ((const struct itype *)b)->name);
}

static int
cmp_price(const void *a, const void *b)
{
	return strcmp(((const struct price *)a)->key, ((const struct price *)b)->key);
}

static int
cmp_billed(const void *a, const void *b)
{
	return strcmp(((const struct billed *)a)->id, ((const struct billed *)b)->id);
}

const struct itype *
type_of(const struct catalog *c, const char *name)
{
	struct itype k = {(char *)name, 0, 0, 0, 0, 0, 0, 0};

	return name ? bsearch(&k, c->types, c->ntypes, sizeof(k), cmp_type) : NULL;
}

const struct price *
price_of(const struct catalog *c, const char *region, const char *os, const char *tenancy,
	 const char *type)
{
	char key[512];
	struct price k = {key, NULL, 0};

	snprintf(key, sizeof(key), "%s\x1f%s\x1f%s\x1f%s", region ? region : "", os ? os : "",
		 tenancy ? tenancy : "", type ? type : "");
	return bsearch(&k, c->prices, c->nprices, sizeof(k), cmp_price);
}

const struct billed *
billed_of(const struct catalog *c, const char *id)
{
	struct billed k = {(char *)id, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0};

	return bsearch(&k, c->billed, c->nbilled, sizeof(k), cmp_billed);
}

/* A value of res copied to *text (NULL for SQL NULL), which moves past it. */
static char *
take_value(PGresult *res, int row, int col, char **text)
{
	char *v = *text;
	size_t n;

	if (PQgetisnull(res, row, col))
		return NULL;
	n = (size_t)PQgetlength(res, row, col) + 1;
	memcpy(v, PQgetvalue(res, row, col), n);
	*text += n;
	return v;
}

void
catalog_free(struct catalog *c)
{
	for (size_t i = 0; i < c->ntypes; i++)
		free(c->types[i].name);
	for (size_t i = 0; i < c->nprices; i++) {
		free(c->prices[i].key);
		free(c->prices[i].text);
	}
	free(c->billed_text);
	free(c->types);
	free(c->prices);
	free(c->billed);
	memset(c, 0, sizeof(*c));
}

int
load_catalog(PGconn *conn, const char *start, const char *end, struct catalog *c, fo_err *err)
{
	const char *params[2] = {start, end};
	PGresult *res;
	size_t text_size = 0;
	char *text;

	if (fo_pg_query(conn, "SELECT instance_type, vcpu, memory_gib, gpu_count,"
			" coalesce(storage, 'EBS only') <> 'EBS only', current_generation,"
			" architecture = 'arm64', network_performance FROM finops.instance_types",
			0, NULL, &res, err) < 0)
		return -1;
	c->ntypes = (size_t)PQntuples(res);
	c->types = calloc(c->ntypes + 1, sizeof(*c->types));
	for (size_t i = 0; c->types && i < c->ntypes; i++) {
		struct itype *t = &c->types[i];

		t->name = strdup(PQgetvalue(res, (int)i, 0));
		t->vcpu = atoi(PQgetvalue(res, (int)i, 1));
		t->mem = atof(PQgetvalue(res, (int)i, 2));
		t->gpu = atoi(PQgetvalue(res, (int)i, 3));
		t->storage = PQgetvalue(res, (int)i, 4)[0] == 't';
		t->current = PQgetvalue(res, (int)i, 5)[0] == 't';
		t->arm = PQgetvalue(res, (int)i, 6)[0] == 't';
		t->net = network_rank(PQgetvalue(res, (int)i, 7));
	}
	PQclear(res);
	if (!c->types)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	qsort(c->types, c->ntypes, sizeof(*c->types), cmp_type);

	if (fo_pg_query(conn, "SELECT region || chr(31) || operating_system || chr(31) || tenancy"
			"       || chr(31) || instance_type, min(price_per_hour)::text"
			"  FROM finops.instance_prices"
			" WHERE term = 'OnDemand' AND pre_installed_sw = 'NA'"
			"   AND license_model IN ('No License required', 'License Included')"
			" GROUP BY 1", 0, NULL, &res, err) < 0)
		return -1;
	c->nprices = (size_t)PQntuples(res);
	c->prices = calloc(c->nprices + 1, sizeof(*c->prices));
	for (size_t i = 0; c->prices && i < c->nprices; i++) {
		c->prices[i].key = strdup(PQgetvalue(res, (int)i, 0));
		c->prices[i].text = strdup(PQgetvalue(res, (int)i, 1));
		c->prices[i].u = price_units(PQgetvalue(res, (int)i, 1));
	}
	PQclear(res);
	if (!c->prices)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	qsort(c->prices, c->nprices, sizeof(*c->prices), cmp_price);

	/*
	 * What each instance last ran as, its effective hourly rate, the
	 * instance hours billed in the window, and the hours of the window that
	 * its billing source covers (from its first to its last instance-hour
	 * line there: the newest day may not be billed yet). Savings Plan
	 * negation lines repeat the covered usage: neither hours nor cost.
	 */
	if (fo_pg_query(conn,
		"SELECT DISTINCT ON (resource_id) resource_id, instance_type, region_id,"
		"       operating_system, coalesce(tenancy, 'Shared'), sub_account_id,"
		"       (sum(effective_cost) OVER w / nullif(sum(qty) OVER w, 0))::text,"
		"       (sum(qty) OVER r)::float8,"
		"       extract(epoch FROM least($2::timestamptz, max(ends) OVER s)"
		"               - greatest($1::timestamptz, min(charge_period_start) OVER s))::float8"
		"         / 3600"
		"  FROM (SELECT resource_id, instance_type, region_id, operating_system, tenancy,"
		"               sub_account_id, source_id, charge_period_start, effective_cost,"
		"               coalesce(consumed_quantity, pricing_quantity, 0) AS qty,"
		"               coalesce(charge_period_end, charge_period_start + interval '1 hour')"
		"                 AS ends"
		"          FROM finops.billing_line_items"
		"         WHERE resource_id LIKE 'i-%' AND instance_type IS NOT NULL"
		"           AND usage_type ~ '(BoxUsage|DedicatedUsage)'"
		"           AND line_item_type IS DISTINCT FROM 'SavingsPlanNegation'"
		"           AND charge_period_start >= $1::timestamptz"
		"           AND charge_period_start < $2::timestamptz) l"
		" WINDOW w AS (PARTITION BY resource_id, instance_type), r AS (PARTITION BY resource_id),"
		"        s AS (PARTITION BY source_id)"
		" ORDER BY resource_id, charge_period_start DESC", 2, params, &res, err) < 0)
		return -1;
	/* the texts of every instance in one block: a fleet's worth is a few MB */
	c->nbilled = (size_t)PQntuples(res);
	for (size_t i = 0; i < c->nbilled; i++)
		for (int col = 0; col < 7; col++)
			text_size += (size_t)PQgetlength(res, (int)i, col) + 1;
	c->billed = calloc(c->nbilled + 1, sizeof(*c->billed));
	c->billed_text = malloc(text_size + 1);
	text = c->billed_text;
	for (size_t i = 0; c->billed && c->billed_text && i < c->nbilled; i++) {
		struct billed *b = &c->billed[i];

		b->id = take_value(res, (int)i, 0, &text);
		b->type = take_value(res, (int)i, 1, &text);
		b->region = take_value(res, (int)i, 2, &text);
		b->os = take_value(res, (int)i, 3, &text);
		b->tenancy = take_value(res, (int)i, 4, &text);
		b->account = take_value(res, (int)i, 5, &text);
		b->eff_rate = take_value(res, (int)i, 6, &text);
		b->hours = atof(PQgetvalue(res, (int)i, 7));
		b->covered = atof(PQgetvalue(res, (int)i, 8));
	}
	PQclear(res);
	if (!c->billed || !c->billed_text)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	qsort(c->billed, c->nbilled, sizeof(*c->billed), cmp_billed);
	return 0;
}
