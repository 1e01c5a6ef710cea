/*
 * billing.h: loading billing exports into finops.billing_line_items.
 *
 * A unit is one manifest (all of its report files) or the files given or
 * found in a directory. Each unit is loaded in one transaction: its rows go
 * by COPY into a new table; the totals per currency counted while parsing
 * must equal what landed; then each (source, billing period) the unit holds
 * replaces that period's partition (DETACH old, ATTACH new, DROP old) and an
 * audit row is written to finops.billing_loads. Readers see the old period
 * or the new one, never a mix; any failure leaves everything as it was.
 *
 * A unit whose assembly is already the current load of every period it
 * holds is not loaded again (nothing new, exit 99), nor is one older than
 * the current load, unless forced.
 */
#ifndef FINOPS_BILLING_H
#define FINOPS_BILLING_H

#include <stddef.h>
#include <stdio.h>

#include "finops/error.h"
#include "finops/run.h"

struct fo_billing_opts {
	char **sources;           /* manifest, file or directory paths, or s3:// URIs */
	size_t nsources;
	const char *report_name;  /* report name for plain files (default "default") */
	int force;                /* load even when nothing is new or the assembly is older */
	int allow_short_rows;     /* rows with fewer fields than the header: missing are empty */
	const char *region;       /* AWS region of s3:// sources; NULL: AWS_REGION etc. */
	int list_units;           /* --list-units: print the units, load nothing */
	int skip_undelivered;     /* --skip-undelivered: a source that does not exist or
				     holds nothing yet (in a root that does) is left out */
};

/*
 * --list-units: prints on out, one JSON object a line, the units the sources
 * hold, each as billing_ingest would load it: {"source": what to pass to load
 * just this unit, "kind": "manifest" or "files", "report", "assembly" (a
 * manifest's), "period" (the folder's, YYYY-MM-DD, or null), "files"}. A
 * report root (a directory or prefix holding period folders such as
 * 20261101-20261201/ and no report file of its own) stands for every period
 * folder in it, in order. *n is the count. Reads the sources (manifests
 * included), never the database. With opts->skip_undelivered, a local path
 * that does not exist, or a folder or S3 prefix holding nothing, is left out
 * with a log line (a period AWS has not delivered yet), not an error.
 */
int fo_billing_list_units(const struct fo_billing_opts *opts, FILE *out, size_t *n,
			  fo_err *err);

/*
 * Loads every unit of opts->sources in order, each atomically; stops at the
 * first failure (units before it stay loaded). Sets ctx->nothing_new when no
 * unit changed anything, and fills ctx's counters, details and summary.
 */
/*
 * Checks the options without connecting: at least one source, and every
 * local one exists and is readable (FO_EXIT_BAD_INPUT naming it).
 */
int fo_billing_check(const struct fo_billing_opts *opts, fo_err *err);

int fo_billing_ingest(struct fo_run *ctx, const struct fo_billing_opts *opts, fo_err *err);

#endif
