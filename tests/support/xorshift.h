/*
 * xorshift.h: the seeded generator the tests and benchmarks draw from
 * (Marsaglia's xorshift64), so that every run sees the same numbers.
 * Each caller keeps its own state (any non-zero value).
 */
#ifndef FINOPS_XORSHIFT_H
#define FINOPS_XORSHIFT_H

#include <math.h>
#include <stdint.h>

/* Uniform in (0, 1). */
static inline double
xs_uniform(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return ((double)(*s >> 11) + 0.5) / 9007199254740992.0;
}

/* Standard normal (Box-Muller). */
static inline double
xs_gauss(uint64_t *s)
{
	double u = xs_uniform(s);

	return sqrt(-2 * log(u)) * cos(2 * M_PI * xs_uniform(s));
}

#endif
