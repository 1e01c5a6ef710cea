/*
 * causes.c: the root causes of an anomalous day (see anomaly.h).
 */
#include <stdlib.h>
#include <string.h>

#include "finops/anomaly.h"

#define PAIR_SHARE 0.8              /* a pair this much of its value: the pair is the cause */

static const char *
val(const struct fo_rc_leaf *l, int d)
{
	return l->value[d] ? l->value[d] : "";
}

/* Whether leaf l is inside cause c. */
static int
inside(const struct fo_rc_leaf *l, const struct fo_rc_cause *c)
{
	for (int k = 0; k < 2; k++)
		if (c->dim[k] >= 0 && strcmp(val(l, c->dim[k]), c->value[k]) != 0)
			return 0;
	return 1;
}

/* What cause c explains of the leaves' remaining increases. */
static double
explains(const struct fo_rc_leaf *leaves, const double *left, size_t n,
	 const struct fo_rc_cause *c)
{
	double sum = 0;

	for (size_t i = 0; i < n; i++)
		if (left[i] > 0 && inside(&leaves[i], c))
			sum += left[i];
	return sum;
}

/* How many leaves cause c holds (its specificity). */
static size_t
width(const struct fo_rc_leaf *leaves, size_t n, const struct fo_rc_cause *c)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += inside(&leaves[i], c);
	return k;
}

/*
 * Keeps c in *top when it explains more, or as much with fewer leaves (the
 * more specific cause says more: the account's NAT gateway, not the account).
 */
static void
consider(const struct fo_rc_leaf *leaves, const double *left, size_t n,
	 const struct fo_rc_cause *c, struct fo_rc_cause *top, double *most, size_t *leaves_of)
{
	double e = explains(leaves, left, n, c);
	double tie = 1e-9 * (*most > 1 ? *most : 1);

	if (e > *most + tie) {
		*most = e;
		*top = *c;
		*leaves_of = width(leaves, n, c);
	} else if (e > *most - tie && e > 0) {
		size_t w = width(leaves, n, c);

		if (w < *leaves_of) {
			*top = *c;
			*leaves_of = w;
		}
	}
}

/*
 * The single value that says most: of those explaining at least PAIR_SHARE
 * of what the best explains, the one on the fewest leaves (the NAT
 * gateway's usage type, not the account that holds it and a little noise
 * besides). What it explains, 0 when nothing is.
 */
static double
best_value(const struct fo_rc_leaf *leaves, const double *left, size_t n,
	   struct fo_rc_cause *out)
{
	double most = 0, chosen = 0;
	size_t w = 0, fewest = 0;

	for (size_t i = 0; i < n; i++)
		for (int a = 0; left[i] > 0 && a < FO_RC_NDIMS; a++) {
			struct fo_rc_cause c = {{a, -1}, {val(&leaves[i], a), NULL}, 0};

			consider(leaves, left, n, &c, out, &most, &w);
		}
	if (most <= 0)
		return 0;
	chosen = most;
	fewest = w;
	for (size_t i = 0; i < n; i++)
		for (int a = 0; left[i] > 0 && a < FO_RC_NDIMS; a++) {
			struct fo_rc_cause c = {{a, -1}, {val(&leaves[i], a), NULL}, 0};
			double e = explains(leaves, left, n, &c);
			size_t k;

			if (e < PAIR_SHARE * most)
				continue;
			k = width(leaves, n, &c);
			if (k < fewest || (k == fewest && e > chosen)) {
				*out = c;
				chosen = e;
				fewest = k;
			}
		}
	return chosen;
}

/*
 * The pair refining value v (v's value and one of another dimension, on
 * fewer leaves than v: a pair that holds all of v's says nothing more) that
 * explains most.
 */
static double
best_pair(const struct fo_rc_leaf *leaves, const double *left, size_t n,
	  const struct fo_rc_cause *v, struct fo_rc_cause *out)
{
	double most = 0;
	size_t w = 0, of_v = width(leaves, n, v);

	for (size_t i = 0; i < n; i++) {
		if (left[i] <= 0 || !inside(&leaves[i], v))
			continue;
		for (int b = 0; b < FO_RC_NDIMS; b++) {
			int a = v->dim[0];
			struct fo_rc_cause c = {{a < b ? a : b, a < b ? b : a}, {NULL, NULL}, 0};

			if (b == a)
				continue;
			c.value[0] = val(&leaves[i], c.dim[0]);
			c.value[1] = val(&leaves[i], c.dim[1]);
			if (width(leaves, n, &c) < of_v)
				consider(leaves, left, n, &c, out, &most, &w);
		}
	}
	return most;
}

int
fo_anom_root_causes(const struct fo_rc_leaf *leaves, size_t n, double total_impact,
		    double min_contribution, struct fo_rc_cause *out, size_t max, size_t *nout)
{
	double *left = malloc((n ? n : 1) * sizeof(double)), up = 0, scale = 1;

	*nout = 0;
	if (!left)
		return -1;
	for (size_t i = 0; i < n; i++) {
		left[i] = leaves[i].actual - leaves[i].expected;
		if (left[i] > 0)
			up += left[i];
	}
	/* leaves that fell offset those that rose: explain at most the total */
	if (up > total_impact)
		scale = total_impact > 0 ? total_impact / up : 0;
	for (size_t i = 0; i < n; i++)
		left[i] = left[i] > 0 ? left[i] * scale : 0;
	while (*nout < max) {
		struct fo_rc_cause one, two;
		double e1 = best_value(leaves, left, n, &one), e2;

		if (e1 <= min_contribution)
			break;
		e2 = best_pair(leaves, left, n, &one, &two);
		if (e2 >= PAIR_SHARE * e1 && e2 > min_contribution) {
			one = two;
			e1 = e2;
		}
		one.contribution = e1;
		out[(*nout)++] = one;
		/* its leaves are explained */
		for (size_t i = 0; i < n; i++)
			if (inside(&leaves[i], &one))
				left[i] = 0;
	}
	free(left);
	return 0;
}
