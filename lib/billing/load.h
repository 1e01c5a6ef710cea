/*
 * load.h: the stages of a billing load, private to lib/billing.
 *
 *   units.c  what a named source holds: a manifest, or a set of plain files
 *   rows.c   their rows, mapped (cur.c) and streamed into one binary COPY
 *            per (source, billing period), with the locks and totals
 *   swap.c   after parsing: reconciliation, what is new, the partition
 *            swap and the audit rows (billing_loads)
 *   ingest.c one unit after another, each in one transaction
 */
#ifndef FINOPS_BILLING_LOAD_H
#define FINOPS_BILLING_LOAD_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <libpq-fe.h>
#include <zlib.h>

#include "finops/billing.h"
#include "finops/copy.h"
#include "finops/decimal.h"
#include "finops/manifest.h"
#include "finops/run.h"
#include "billing/cur.h"

#define MAX_CURRENCIES 32
/*
 * (source, period) partitions one load makes in a period. A load of more
 * sources than that in one period (a FOCUS export of thousands of billing
 * accounts) puts them in the period's DEFAULT partition, and locks the
 * report's period as a whole instead of each source: PostgreSQL's lock
 * table holds a few thousand locks, not one a source, and a partition's
 * list of values must fit in one catalog row.
 */
#define MAX_LEAVES 32
#define PARENT "finops.billing_line_items"

/* One manifest, or a set of plain files. */
struct unit {
	char *label;               /* manifest path, or the first file */
	int has_manifest;
	struct fo_manifest man;
	char **files;
	size_t nfiles;
	const char *report_name;
	char assembly_id[FO_MANIFEST_MAX_ID + 32];   /* manifest ids are checked to fit */
	time_t assembly_time;
};

/* One (source, billing period) of a load. */
struct group {
	char *account;
	char period[11];
	int source_id;
	char source_id_text[16];
	long long rows;
	int replace;               /* decided after parsing */
	long long old_load;        /* current load of the period, 0 when none */
};

struct currency_total {
	char code[4];
	long long rows;
	fo_dec_sum billed;
	fo_dec_sum effective;
};

struct load {
	struct fo_run *ctx;
	const struct fo_billing_opts *opts;
	struct unit *u;
	const char *kind;            /* "aws_cur" or "focus", from the first header */
	const char *format_name;
	fo_cur_mapper *mapper;
	const char *file;
	fo_copy *copy;
	char staging[96];
	int staging_made, multi;
	long long load_id;
	char load_id_text[24];
	struct group *groups;
	size_t ngroups;
	struct group *last;
	uint32_t *gslots;            /* open addressing over groups: index + 1, 0 empty */
	size_t ngslots;
	int staging_kept;            /* the staging table became a partition itself */
	struct currency_total cur[MAX_CURRENCIES];
	size_t ncur;
	long long rows;
	unsigned long long bytes;
	uLong crc;                   /* of the plain files' bytes: their fingerprint */
	struct daily *daily;         /* the daily aggregates (daily.c) */
};

/* ---- daily aggregates (daily.c) ------------------------------------------ */

struct daily *billing_daily_new(void);
void billing_daily_free(struct daily *d);
/* Adds a row of group (an index of l->groups) to the day's totals and its tags'. */
int billing_daily_add(struct daily *d, int32_t group, const struct fo_cur_row *row, fo_err *err);
/*
 * Replaces the daily rows of the sources source_ids (an int[] literal,
 * "{3,7}") of period with the load's, in its transaction:
 * finops.billing_daily and billing_daily_tags.
 */
int billing_daily_write(struct load *l, const char *period, const char *source_ids,
			fo_err *err);

/* ---- units ------------------------------------------------------------ */


/* units.c: the unit a source names (report: its report name, unless a manifest's). */
int billing_unit(struct unit *u, const char *source, const char *report, fo_err *err);

/*
 * --skip-undelivered: *yes when source is a local path that does not exist or
 * a folder or S3 prefix holding nothing (a period AWS has not delivered yet),
 * logged; FO_EXIT_BAD_INPUT when its report root is missing or empty too (a
 * wrong name).
 */
int billing_undelivered(const char *source, int *yes, fo_err *err);
void billing_unit_free(struct unit *u);

/* rows.c */
int billing_sql(struct load *l, fo_err *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Reads every file of the unit into the staging table. */
int billing_read_files(struct load *l, fo_err *err);

/* swap.c */
/* Per (source, period, currency): rows and totals of the staging table; *out is the caller's. */
int billing_landed_totals(struct load *l, PGresult **out, fo_err *err);
int billing_reconcile(struct load *l, PGresult *landed, fo_err *err);
/* 1 when the unit has something new, 0 when not. */
int billing_decide(struct load *l, fo_err *err);
/* Every (source, period) of the load in place, with its audit row. */
int billing_swap(struct load *l, PGresult *landed, long long ms, fo_err *err);

#endif
