/*
 * rollup.h: the instances a usage run has seen, and the roll-up of their
 * datapoints into hourly cells (private to lib/usage).
 *
 * Cells keyed by (instance, hour) hold the sums, counts and maxima of each
 * metric; they are flushed by COPY into the run's staging table as partial
 * aggregates when they fall OPEN_HOURS behind the newest datapoint, or when
 * too many are open. Memory is bounded by the open cells.
 */
#ifndef FINOPS_USAGE_ROLLUP_H
#define FINOPS_USAGE_ROLLUP_H

#include <stddef.h>
#include <stdint.h>

#include "finops/copy.h"
#include "finops/error.h"

/* The metrics, in the order of usage.h's FO_USAGE_* (checked in usage.c). */
enum metric { M_CPU, M_MEM, M_NET_IN, M_NET_OUT, NMETRICS };

struct instance {
	char *id, *account, *region;
	int seen;                    /* had a datapoint */
};

struct instances {
	struct instance *v;
	size_t n, cap;
	uint32_t *slots;             /* open addressing: index + 1, 0 empty */
	size_t nslots;
};


struct cell {
	uint32_t inst;               /* index + 1; 0: empty slot */
	int32_t hour;                /* hours since the Unix epoch */
	double sum[NMETRICS], count[NMETRICS], max[NMETRICS];
	uint64_t minutes[NMETRICS];  /* minutes seen, to drop duplicate datapoints */
};

struct rollup {
	struct cell *cells;
	size_t nslots, used;         /* open addressing, at most half full */
	int32_t newest;
	fo_copy *copy;
	long long duplicates, flushed;
};


#define ROLLUP_MIN_SLOTS (1u << 14)    /* the cells a roll-up starts with */

void instances_free(struct instances *t);
/* The index of instance id (n bytes), added when new; -1 out of memory. */
long instance_of(struct instances *t, const char *id, size_t n);
/* Sets *dst to a copy of v when v is not empty and differs. */
void instance_set_text(char **dst, const char *v);

int rollup_init(struct rollup *r);
/* Adds a datapoint of instance inst (an index of t) at ts_ms. */
int rollup_add(struct rollup *r, const struct instances *t, uint32_t inst, int64_t ts_ms,
	       enum metric m, double sum, double count, double max, fo_err *err);
/* Flushes the cells of hours before keep_from, and shrinks to nslots when it can. */
int rollup_flush(struct rollup *r, const struct instances *t, int32_t keep_from, size_t nslots,
		 fo_err *err);
void rollup_free(struct rollup *r);

#endif
