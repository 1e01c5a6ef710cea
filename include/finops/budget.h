/*
 * budget.h: budgets as code. A JSON file (docs/budgets.md) is the truth:
 * each run syncs it into finops.budgets (a budget gone from it is
 * archived), then judges each active budget's period to date over closed
 * days and its forecast to the period's end against its thresholds, the
 * way AWS Budgets does (an actual threshold fires once a period; a
 * forecasted one re-arms when the forecast falls back below it), records
 * each crossing in finops.budget_breaches and tells the threshold's
 * channels once (notify.h).
 */
#ifndef FINOPS_BUDGET_H
#define FINOPS_BUDGET_H

#include <stddef.h>

#include "finops/error.h"
#include "finops/notify.h"
#include "finops/run.h"

enum fo_bd_period { FO_BD_MONTHLY, FO_BD_QUARTERLY, FO_BD_YEARLY };
enum fo_bd_amount { FO_BD_FIXED, FO_BD_PLANNED, FO_BD_AUTO };

/* One field of a scope: a column (or a tag or cost category key) and the values it may take. */
struct fo_bd_filter {
	/* "billing_account", "sub_account", "service", "region", "tag" or "cost_category" */
	const char *field;
	const char *key;           /* the tag key or cost category name; NULL otherwise */
	const char **values;
	size_t nvalues;
};

struct fo_bd_threshold {
	int forecasted;            /* 0 actual, 1 forecasted */
	double percent;            /* of the amount; 0 when absolute */
	double absolute;           /* a sum; 0 when a percent */
	const char **notify;       /* channel names */
	size_t nnotify;
	char key[64];              /* stable name: "actual:80%", "forecasted:5000" */
};

struct fo_bd_budget {
	const char *name, *owner, *currency;
	enum fo_bd_period period;
	int billed;                /* metric: 1 billed_cost, 0 effective_cost */
	enum fo_bd_amount amount_kind;
	double amount;             /* fixed */
	const char **planned_keys; /* planned: "2026-10", "2026-Q4", "2026" */
	double *planned;
	size_t nplanned;
	int auto_periods;          /* auto: the average of the last N periods (N <= 12) */
	struct fo_bd_filter *filters;
	size_t nfilters;
	struct fo_bd_threshold *thresholds;
	size_t nthresholds;
	char *definition;          /* the budget's JSON, as stored */
};

struct fo_bd_file {
	const char *path;
	struct fo_notify_channel *channels;
	size_t nchannels;
	struct fo_bd_budget *budgets;
	size_t nbudgets;
	void *json;                /* owns the strings */
};

/*
 * Reads a budgets file. Anything wrong is FO_EXIT_BAD_INPUT naming the file
 * and the JSON path ("budgets.json: budgets[3].thresholds[0].percent: must
 * be a number above 0 to 1000"); nothing is changed.
 */
int fo_bd_load(struct fo_bd_file *f, const char *path, fo_err *err);
int fo_bd_parse(struct fo_bd_file *f, const char *name, const char *text, size_t len,
		fo_err *err);
void fo_bd_free(struct fo_bd_file *f);

/* The period holding day (Unix days): its first and last day, and its name ("2026-Q4"). */
void fo_bd_period_of(enum fo_bd_period p, long day, long *first, long *last, char name[16]);

struct fo_bd_opts {
	const char *budgets_path;  /* --budgets */
	int cutoff_days;           /* newest days of each source left out as incomplete (2) */
	int no_notify;
	struct fo_bd_file file;    /* loaded by fo_bd_check */
};

void fo_bd_defaults(struct fo_bd_opts *o);
int fo_bd_check(struct fo_bd_opts *o, fo_err *err);
int fo_bd_run(struct fo_run *ctx, struct fo_bd_opts *o, fo_err *err);
void fo_bd_opts_free(struct fo_bd_opts *o);

#endif
