/*
 * detect.c: daily cost anomalies (see anomaly.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "finops/anomaly.h"
#include "finops/datetime.h"
#include "finops/forecast.h"
#include "core/core.h"

#define SEASON 7
#define CLIP_MADS 5.0              /* history beyond this many robust deviations is clipped */
#define RECUR_SHARE 0.5            /* a month-ago excess this share of today's: recurring */

void
fo_anom_defaults(struct fo_anom_params *p)
{
	static const struct fo_anom_params defaults = {
		.min_history = 14, .window = 56, .level = 0.99, .min_impact = 100, .min_pct = 20,
		.join_or = 0, .shift_days = 7,
	};

	*p = defaults;
}

/* Acklam's rational approximation (relative error below 1.2e-9). */
double
fo_anom_probit(double q)
{
	static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
				   -2.759285104469687e+02, 1.383577518672690e+02,
				   -3.066479806614716e+01, 2.506628277459239e+00};
	static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
				   -1.556989798598866e+02, 6.680131188771972e+01,
				   -1.328068155288572e+01};
	static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
				   -2.400758277161838e+00, -2.549732539343734e+00,
				   4.374664141464968e+00, 2.938163982698783e+00};
	static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
				   2.445134137142996e+00, 3.754408661907416e+00};
	double r, s;

	if (q <= 0)
		return -INFINITY;
	if (q >= 1)
		return INFINITY;
	if (q < 0.02425) {
		s = sqrt(-2 * log(q));
		return (((((c[0] * s + c[1]) * s + c[2]) * s + c[3]) * s + c[4]) * s + c[5]) /
		       ((((d[0] * s + d[1]) * s + d[2]) * s + d[3]) * s + 1);
	}
	if (q > 1 - 0.02425)
		return -fo_anom_probit(1 - q);
	s = q - 0.5;
	r = s * s;
	return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * s /
	       (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/* The median of v[0..n-1] (reorders v); 0 when n is 0. */
static double
median(double *v, size_t n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), fo_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * The index of the same day of the month k months before day t (the last
 * day of that month when it is shorter), or -1 before the series.
 */
static long
same_day_months_ago(size_t t, long first_day, int k)
{
	int y, m, d, dim;

	fo_civil_from_days(first_day + (long)t, &y, &m, &d);
	m -= k;
	for (; m < 1; m += 12)
		y--;
	dim = fo_days_in_month(y, m);
	return (long)(fo_days_from_civil(y, m, d <= dim ? d : dim) - first_day);
}

/* The cost of day p above the median of the 7 days before it; NAN when they are not all there. */
static double
local_excess(const double *y, long p)
{
	double w[7];

	if (p < 7)
		return NAN;
	memcpy(w, y + p - 7, sizeof(w));
	return y[p] - median(w, 7);
}

int
fo_anom_evaluate(const double *y, const unsigned char *excluded, size_t t, long first_day,
		 const struct fo_anom_params *p, struct fo_anom_eval *out)
{
	size_t start = t > (size_t)p->window ? t - (size_t)p->window : 0, n = t - start, clean = 0;
	double *h, *tmp, wmed[SEASON], mad, sigma, point, z;
	struct fo_fc_out fc;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	out->actual = y[t];
	out->impact_pct = NAN;
	for (size_t i = start; i < t; i++)
		clean += !(excluded && excluded[i]);
	if (clean < (size_t)p->min_history || clean < 2)
		return 0;
	h = malloc(2 * n * sizeof(double));
	if (!h || fo_fc_out_alloc(&fc, 1) < 0) {
		free(h);
		return -1;
	}
	tmp = h + n;
	/* each weekday's median over the clean days, the clean days' median for a weekday without one */
	{
		size_t k = 0;
		double all;

		for (size_t i = start; i < t; i++)
			if (!(excluded && excluded[i]))
				tmp[k++] = y[i];
		all = median(tmp, k);
		for (int w = 0; w < SEASON; w++) {
			k = 0;
			for (size_t i = start + (size_t)w; i < t; i += SEASON)
				if (!(excluded && excluded[i]))
					tmp[k++] = y[i];
			/* the weekday of index i is (i - start) % 7 */
			wmed[w] = k ? median(tmp, k) : all;
		}
	}
	/* the robust spread of the clean days around their weekday's median */
	{
		size_t k = 0;

		for (size_t i = start; i < t; i++)
			if (!(excluded && excluded[i]))
				tmp[k++] = fabs(y[i] - wmed[(i - start) % SEASON]);
		mad = 1.4826 * median(tmp, k);
	}
	for (size_t i = start; i < t; i++) {
		double base = wmed[(i - start) % SEASON], v = y[i];

		if (excluded && excluded[i])
			v = base;
		else if (mad > 0 && v - base > CLIP_MADS * mad)
			v = base + CLIP_MADS * mad;     /* spikes only: zero days stay zero */
		else if (p->drops && mad > 0 && base - v > CLIP_MADS * mad)
			v = base - CLIP_MADS * mad;     /* watching drops: earlier dips too */
		h[i - start] = v;
	}
	rc = fo_fc_ets(h, n, SEASON, 1, n >= 3 * SEASON && fo_fc_is_seasonal(h, n, SEASON), 1, &fc);
	if (rc < 0) {
		rc = fo_fc_seasonal_naive(h, n, SEASON, 1, &fc);
		if (rc < 0)
			goto done;
	}
	point = fc.point[0] > 0 ? fc.point[0] : 0;
	sigma = (fc.hi95[0] - fc.point[0]) / FO_FC_Z95;
	if (!isfinite(sigma) || sigma < 0)
		sigma = 0;
	/*
	 * The fit's own error understates a new day's: it was fitted to these
	 * very days (its parameters and a season's worth of states), and the
	 * history was cleaned. Take at least the spread of the clean days
	 * around their weekday's median.
	 */
	{
		double used = (double)fc.nparams + SEASON + 1;

		if ((double)n > used + 2)
			sigma *= sqrt((double)n / ((double)n - used));
		if (mad > sigma)
			sigma = mad;
	}
	/* the upper end of the two-sided interval, as the library's hi80/hi95 are */
	z = fo_anom_probit(1 - (1 - p->level) / 2);
	out->evaluated = 1;
	memcpy(out->model, fc.model, sizeof(out->model));
	out->model[sizeof(out->model) - 1] = '\0';
	out->expected = point;
	out->upper = point + z * sigma;
	out->lower = point - z * sigma;
	out->impact = y[t] - point;
	out->impact_pct = point > 0 ? 100 * out->impact / point : NAN;
	{
		/* how far beyond the expected, in the direction watched */
		double beyond = p->drops ? -out->impact : out->impact;
		int abs_ok = beyond >= p->min_impact;
		/* no expected cost: any increase is an infinite percentage (a drop is impossible) */
		int pct_ok = isnan(out->impact_pct) ? beyond > 0
			     : (p->drops ? -out->impact_pct : out->impact_pct) >= p->min_pct;

		out->score = sigma > 0 ? beyond / sigma : (beyond > 0 ? 100 : 0);
		out->score = out->score < 0 ? 0 : out->score > 100 ? 100 : out->score;
		out->anomalous = (p->drops ? y[t] < out->lower : y[t] > out->upper) &&
				 (p->join_or ? abs_ok || pct_ok : abs_ok && pct_ok);
	}
	if (out->anomalous && !p->drops) {
		int seen = 0, recurring = 1;

		for (int k = 1; k <= 2; k++) {
			long q = same_day_months_ago(t, first_day, k);
			double e = q >= 0 ? local_excess(y, q) : NAN;

			if (isnan(e))
				continue;
			seen++;
			recurring &= e >= RECUR_SHARE * out->impact;
		}
		if (seen && recurring) {
			out->recurring = 1;
			out->anomalous = 0;
		}
	}
done:
	fo_fc_out_free(&fc);
	free(h);
	return rc < 0 ? -1 : 0;
}

/*
 * Whether the last k days up to t hold steady: their cost over the expected
 * (or, when nothing was expected, the cost itself) within tol of its
 * median. v[i] is that measure of day i. A level of zero counts only when
 * zero_ok (a service that stopped: a drop to nothing is a new normal too).
 */
static int
steady(const double *v, size_t t, size_t k, double tol, int zero_ok)
{
	double w[64], m;

	if (k > 64 || t + 1 < k)
		return 0;
	for (size_t i = t + 1 - k; i <= t; i++)
		if (!isfinite(v[i]))
			return 0;
	memcpy(w, v + t + 1 - k, k * sizeof(double));
	m = median(w, k);
	for (size_t i = t + 1 - k; i <= t; i++)
		if (fabs(v[i] - m) > tol * fabs(m))
			return 0;
	return m > 0 || (zero_ok && m == 0);
}

/* How far from normal day t is: its cost over the expected, or minus the cost when none was. */
static double
level_of(const struct fo_anom_eval *ev)
{
	return ev->expected > 0 ? ev->actual / ev->expected : -ev->actual;
}

/* Whether a person held any of days a..b out of the baseline (planned, not an anomaly). */
static int
any_held(const unsigned char *held, size_t a, size_t b)
{
	for (size_t i = a; held && i <= b; i++)
		if (held[i])
			return 1;
	return 0;
}

static struct fo_anom_episode *
new_episode(struct fo_anom_episode **e, size_t *ne, size_t first)
{
	struct fo_anom_episode *g = realloc(*e, (*ne + 1) * sizeof(**e)), *cur;

	if (!g)
		return NULL;
	*e = g;
	cur = &g[(*ne)++];
	memset(cur, 0, sizeof(*cur));
	cur->first = first;
	cur->open = 1;
	return cur;
}

static void
grow(struct fo_anom_episode *cur, size_t t, const struct fo_anom_eval *ev)
{
	cur->last = t;
	cur->impact += ev->impact;
	if (fabs(ev->impact) > fabs(cur->max_impact))
		cur->max_impact = ev->impact;
	if (ev->score > cur->score)
		cur->score = ev->score;
}

int
fo_anom_scan_days(const double *y, size_t n, long first_day, size_t from, size_t *base,
		  const unsigned char *held, const struct fo_anom_params *p,
		  struct fo_anom_eval *ev, struct fo_anom_episode **eps, size_t *neps)
{
	unsigned char *excluded = calloc(n ? n : 1, 1);
	double *level = malloc((n ? n : 1) * sizeof(double));
	struct fo_anom_episode *e = NULL, *cur = NULL;
	size_t ne = 0;

	*eps = NULL;
	*neps = 0;
	if (!excluded || !level) {
		free(excluded);
		free(level);
		return -1;
	}
	for (size_t t = 0; t < n; t++) {
		excluded[t] = (held && held[t]) || (t < from && ev[t].anomalous);
		level[t] = t < from && ev[t].anomalous ? level_of(&ev[t]) : NAN;
	}
	/* an episode still open the day before: it goes on */
	if (from > *base && from <= n && ev[from - 1].anomalous) {
		size_t f = from - 1;

		while (f > *base && ev[f - 1].anomalous)
			f--;
		if (!(cur = new_episode(&e, &ne, f)))
			goto oom;
		for (size_t t = f; t < from; t++)
			grow(cur, t, &ev[t]);
	}
	for (size_t t = from; t < n; t++) {
		/* after a level shift, the series starts again where it shifted */
		if (fo_anom_evaluate(y + *base, excluded + *base, t - *base,
				     first_day + (long)*base, p, &ev[t]) < 0)
			goto oom;
		if (!ev[t].anomalous) {
			if (cur)
				cur->open = 0;
			cur = NULL;
			continue;
		}
		excluded[t] = 1;
		level[t] = level_of(&ev[t]);
		if (!cur && !(cur = new_episode(&e, &ne, t)))
			goto oom;
		grow(cur, t, &ev[t]);
		if (p->shift_days > 0 && cur->last - cur->first + 1 >= (size_t)p->shift_days &&
		    !any_held(held, cur->first, t) &&
		    (level[t] >= 0 ? steady(level, t, (size_t)p->shift_days, 0.15, p->drops)
		     : steady(y, t, (size_t)p->shift_days, 0.35, p->drops))) {
			/* the new normal: its days are the baseline from here on */
			memset(excluded + cur->first, 0, t + 1 - cur->first);
			*base = cur->first;
			cur->level_shift = 1;
			cur->open = 0;
			cur = NULL;
		}
	}
	free(excluded);
	free(level);
	*eps = e;
	*neps = ne;
	return 0;
oom:
	free(excluded);
	free(level);
	free(e);
	return -1;
}

int
fo_anom_scan(const double *y, size_t n, long first_day, size_t from,
	     const struct fo_anom_params *p, unsigned char *flags,
	     struct fo_anom_episode **eps, size_t *neps)
{
	struct fo_anom_eval *ev = calloc(n ? n : 1, sizeof(*ev));
	size_t base = 0;
	int rc;

	if (!ev)
		return -1;
	rc = fo_anom_scan_days(y, n, first_day, from, &base, NULL, p, ev, eps, neps);
	for (size_t t = 0; t < n; t++)
		flags[t] = rc == 0 && ev[t].anomalous;
	free(ev);
	return rc;
}
