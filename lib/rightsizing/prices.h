/*
 * prices.h: what rightsizing knows before it reads an hour of usage
 * (private to lib/rightsizing): the instance types and on-demand prices of
 * the catalog, and the instances billed in the window with their effective
 * rate. All in memory, sorted for bsearch.
 */
#ifndef FINOPS_RIGHTSIZING_PRICES_H
#define FINOPS_RIGHTSIZING_PRICES_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "finops/error.h"

struct itype {
	char *name;
	int vcpu, gpu, storage, current, arm;
	double mem, net;
};

struct price {
	char *key;                   /* region \x1f os \x1f tenancy \x1f type */
	char *text;
	int64_t u;
};

struct billed {
	char *id, *type, *region, *os, *tenancy, *account, *eff_rate;
	double hours;                /* instance hours billed in the window */
	double covered;              /* hours of the window its billing source covers */
};

struct catalog {
	struct itype *types;
	size_t ntypes;
	struct price *prices;
	size_t nprices;
	struct billed *billed;
	size_t nbilled;
	char *billed_text;           /* the billed instances' texts, one block */
};


/* Orders EC2 network performance texts ("Up to 10 Gigabit" < "10 Gigabit"): Mbit/s. */
double network_rank(const char *perf);

/* Decimal text -> units of 1e-10 (prices have at most 10 decimals). */
int64_t price_units(const char *s);

/* Reads the catalog and the instances billed in [start, end); free with catalog_free. */
int load_catalog(PGconn *conn, const char *start, const char *end, struct catalog *c,
		 fo_err *err);
void catalog_free(struct catalog *c);

/* Lookups; NULL when not there. */
const struct itype *type_of(const struct catalog *c, const char *name);
const struct price *price_of(const struct catalog *c, const char *region, const char *os,
			     const char *tenancy, const char *type);
const struct billed *billed_of(const struct catalog *c, const char *id);

#endif
