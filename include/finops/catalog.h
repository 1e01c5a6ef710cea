/*
 * catalog.h: the EC2 instance and price catalog from the AWS Price List.
 *
 * The bulk API's region index (<base>/offers/v1.0/aws/AmazonEC2/current/
 * region_index.json) names each region's current offer version; the
 * regional offer file is read in its CSV form (five metadata lines, then a
 * header and one row per price), streamed through the CSV reader and never
 * held whole. Rows that are not a compute instance in use are skipped and
 * counted by reason. Each region is replaced in one transaction
 * (finops.instance_prices, finops.instance_types, and its version in
 * finops.instance_catalog_versions); a region whose version is already
 * loaded is not downloaded again.
 */
#ifndef FINOPS_CATALOG_H
#define FINOPS_CATALOG_H

#include <stddef.h>

#include "finops/csvread.h"
#include "finops/error.h"
#include "finops/run.h"

#define FO_CATALOG_DEFAULT_BASE "https://pricing.us-east-1.amazonaws.com"

struct fo_catalog_opts {
	const char *base_url;     /* NULL: FO_CATALOG_DEFAULT_BASE */
	char **regions;           /* only these; none: every region of the index */
	size_t nregions;
	const char *from_file;    /* an offer file on disk instead of the bulk API */
	int force;                /* load even an offer version already loaded */
};

/*
 * Checks the options without connecting: --from-file exists and is readable
 * (FO_EXIT_BAD_INPUT), with at most one --region and no --base-url.
 */
int fo_catalog_check(const struct fo_catalog_opts *opts, fo_err *err);

/*
 * Updates every region that changed. Regions are independent: one that fails
 * keeps its previous catalog and the others go on; the run then fails with
 * the first failure's code. Sets ctx->nothing_new when no region changed.
 */
int fo_catalog_update(struct fo_run *ctx, const struct fo_catalog_opts *opts, fo_err *err);

/* What fo_catalog_check_offer() found. */
struct fo_catalog_check {
	long long rows, prices, skipped;
	char version[64];
};

/*
 * Reads an offer file (CSV, plain or gzip) through rd and checks every row
 * as a load would, without a database: 0 with the counts, or the first
 * problem as FO_EXIT_BAD_INPUT naming line and column.
 */
int fo_catalog_check_offer(const char *name, fo_read_fn rd, void *rdctx,
			   struct fo_catalog_check *out, fo_err *err);

/*
 * The offer version in a currentVersionUrl
 * ("/offers/v1.0/aws/AmazonEC2/20250523232744/ca-west-1/index.json" ->
 * "20250523232744"), into out. Returns -1 when there is none.
 */
int fo_catalog_url_version(const char *url, char *out, size_t len);

#endif
