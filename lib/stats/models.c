/*
 * models.c: seasonal naive, Naive2, ETS and Theta, Nelder-Mead, and the
 * M4 accuracy measures (see forecast.h and ../shared/notes/forecasting.md).
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finops/forecast.h"

/* ---- Nelder-Mead ------------------------------------------------------------- */

static void
clamp(double *x, int dim, const double *lo, const double *hi)
{
	for (int i = 0; i < dim; i++)
		x[i] = x[i] < lo[i] ? lo[i] : x[i] > hi[i] ? hi[i] : x[i];
}

double
fo_nelder_mead(double (*f)(const double *x, void *ctx), void *ctx, double *x, int dim,
	       const double *lo, const double *hi, int max_iter)
{
	/* adaptive coefficients (Gao and Han, 2012) */
	double ra = 1, ex = 1 + 2.0 / dim, co = 0.75 - 1.0 / (2.0 * dim), sh = 1 - 1.0 / dim;
	double p[9][8], fv[9], c[8], xr[8], xe[8], xc[8];
	int n = dim + 1;

	if (dim < 1 || dim > 8)
		return NAN;
	for (int i = 0; i < n; i++) {
		memcpy(p[i], x, sizeof(double) * (size_t)dim);
		if (i > 0) {
			double step = 0.05 * (hi[i - 1] - lo[i - 1]);

			p[i][i - 1] += p[i][i - 1] + step <= hi[i - 1] ? step : -step;
		}
		clamp(p[i], dim, lo, hi);
		fv[i] = f(p[i], ctx);
	}
	for (int it = 0; it < max_iter; it++) {
		double fr, fe, fc;
		int best = 0, worst = 0, second = 0;

		for (int i = 1; i < n; i++) {
			if (fv[i] < fv[best])
				best = i;
			if (fv[i] > fv[worst])
				worst = i;
		}
		second = best;
		for (int i = 0; i < n; i++)
			if (i != worst && fv[i] > fv[second])
				second = i;
		if (fabs(fv[worst] - fv[best]) <= 1e-10 * (fabs(fv[best]) + 1e-12))
			break;
		for (int d = 0; d < dim; d++) {
			c[d] = 0;
			for (int i = 0; i < n; i++)
				if (i != worst)
					c[d] += p[i][d];
			c[d] /= dim;
		}
		for (int d = 0; d < dim; d++)
			xr[d] = c[d] + ra * (c[d] - p[worst][d]);
		clamp(xr, dim, lo, hi);
		fr = f(xr, ctx);
		if (fr < fv[best]) {
			for (int d = 0; d < dim; d++)
				xe[d] = c[d] + ex * (xr[d] - c[d]);
			clamp(xe, dim, lo, hi);
			fe = f(xe, ctx);
			if (fe < fr) {
				memcpy(p[worst], xe, sizeof(double) * (size_t)dim);
				fv[worst] = fe;
			} else {
				memcpy(p[worst], xr, sizeof(double) * (size_t)dim);
				fv[worst] = fr;
			}
			continue;
		}
		if (fr < fv[second]) {
			memcpy(p[worst], xr, sizeof(double) * (size_t)dim);
			fv[worst] = fr;
			continue;
		}
		/* contract, outside or inside */
		for (int d = 0; d < dim; d++)
			xc[d] = fr < fv[worst] ? c[d] + co * (xr[d] - c[d])
				: c[d] - co * (c[d] - p[worst][d]);
		clamp(xc, dim, lo, hi);
		fc = f(xc, ctx);
		if (fc < (fr < fv[worst] ? fr : fv[worst])) {
			memcpy(p[worst], xc, sizeof(double) * (size_t)dim);
			fv[worst] = fc;
			continue;
		}
		for (int i = 0; i < n; i++) {
			if (i == best)
				continue;
			for (int d = 0; d < dim; d++)
				p[i][d] = p[best][d] + sh * (p[i][d] - p[best][d]);
			clamp(p[i], dim, lo, hi);
			fv[i] = f(p[i], ctx);
		}
	}
	{
		int best = 0;

		for (int i = 1; i < n; i++)
			if (fv[i] < fv[best])
				best = i;
		memcpy(x, p[best], sizeof(double) * (size_t)dim);
		return fv[best];
	}
}

/* ---- helpers ------------------------------------------------------------------ */

int
fo_fc_out_alloc(struct fo_fc_out *out, size_t h)
{
	double *buf = calloc(6 * (h ? h : 1), sizeof(double));

	memset(out, 0, sizeof(*out));
	if (!buf)
		return -1;
	out->point = buf;
	out->lo80 = buf + h;
	out->hi80 = buf + 2 * h;
	out->lo95 = buf + 3 * h;
	out->hi95 = buf + 4 * h;
	out->psi = buf + 5 * h;
	return 0;
}

void
fo_fc_out_free(struct fo_fc_out *out)
{
	free(out->point);
	out->point = NULL;
}

static void
intervals(struct fo_fc_out *out, size_t i, double sd)
{
	if (!isfinite(sd) || sd < 0)
		sd = 0;
	out->lo80[i] = out->point[i] - FO_FC_Z80 * sd;
	out->hi80[i] = out->point[i] + FO_FC_Z80 * sd;
	out->lo95[i] = out->point[i] - FO_FC_Z95 * sd;
	out->hi95[i] = out->point[i] + FO_FC_Z95 * sd;
}

/*
 * The forecast error's weights on the innovations (see forecast.h): sigma
 * for step 0, sigma c_j for step j; c(j) gives c_j.
 */
static void
set_psi(struct fo_fc_out *out, size_t h, double sigma, double (*c)(size_t j, const void *ctx),
	const void *ctx)
{
	if (!out->psi)
		return;
	if (!isfinite(sigma) || sigma < 0)
		sigma = 0;
	for (size_t j = 0; j < h; j++)
		out->psi[j] = j ? sigma * c(j, ctx) : sigma;
}

/* c_j of a random walk: every past innovation stays */
static double
c_one(size_t j, const void *ctx)
{
	(void)j;
	(void)ctx;
	return 1;
}

/* c_j of simple exponential smoothing: alpha, *(double *)ctx */
static double
c_const(size_t j, const void *ctx)
{
	(void)j;
	return *(const double *)ctx;
}

/*
 * The c of c_const that makes sigma2 sum_i (1 + c (L - 1 - i))^2, the
 * variance a constant c gives a sum of L steps, the variance of the sums of
 * L steps of the repeated-season forecast (the last k seasons' mean of
 * period s; k 1 is the seasonal naive) from every origin of the history:
 * the errors of a model that repeats past seasons are correlated through
 * the seasons it repeats and through the level moving, by an amount only
 * the data tells. 0 when the history is too short.
 */
static double
c_from_sums(const double *y, size_t n, size_t s, size_t k, double sigma2)
{
	size_t L = 4 * s, origins = 0;
	double v = 0, R, K1, K2, disc;

	if (n > k * s && L > (n - k * s) / 2)
		L = (n - k * s) / 2;
	if (!(sigma2 > 0) || L < 2 || n < k * s + L)
		return 0;
	for (size_t t = k * s; t + L <= n; t++, origins++) {
		double sum = 0;

		for (size_t j = 0; j < L; j++) {
			double p = 0;

			for (size_t i = 1; i <= k; i++)
				p += y[t - i * s + j % s];
			sum += y[t + j] - p / (double)k;
		}
		v += sum * sum;
	}
	R = v / (double)origins / sigma2;
	K1 = (double)L * (double)(L - 1) / 2;
	K2 = (double)(L - 1) * (double)L * (double)(2 * L - 1) / 6;
	disc = K1 * K1 - K2 * ((double)L - R);
	if (R <= (double)L || disc < 0)
		return 0;
	disc = (-K1 + sqrt(disc)) / K2;
	return disc < 1 ? disc : 1;
}

static double
mean(const double *y, size_t n)
{
	double s = 0;

	for (size_t i = 0; i < n; i++)
		s += y[i];
	return n ? s / (double)n : 0;
}

static void
naive_fallback(const double *y, size_t n, size_t h, struct fo_fc_out *out, const char *why)
{
	double last = n ? y[n - 1] : 0, s = 0;
	size_t k = 0;

	for (size_t t = 1; t < n; t++, k++)
		s += (y[t] - y[t - 1]) * (y[t] - y[t - 1]);
	for (size_t i = 0; i < h; i++) {
		out->point[i] = last;
		intervals(out, i, k ? sqrt(s / (double)k * (double)(i + 1)) : 0);
	}
	set_psi(out, h, k ? sqrt(s / (double)k) : 0, c_one, NULL);
	snprintf(out->model, sizeof(out->model), "%s", why);
	out->nparams = 0;
}

/* ---- seasonal naive and Naive2 -------------------------------------------------- */

int
fo_fc_seasonal_naive(const double *y, size_t n, int m, size_t h, struct fo_fc_out *out)
{
	double s = 0;
	size_t k = 0;

	if (m < 2 || n < (size_t)m) {
		naive_fallback(y, n, h, out, "naive");
		return 0;
	}
	for (size_t t = (size_t)m; t < n; t++, k++)
		s += (y[t] - y[t - (size_t)m]) * (y[t] - y[t - (size_t)m]);
	for (size_t i = 0; i < h; i++) {
		out->point[i] = y[n - (size_t)m + i % (size_t)m];
		intervals(out, i, k ? sqrt(s / (double)k * (double)(i / (size_t)m + 1)) : 0);
	}
	{
		double c = out->psi ? c_from_sums(y, n, (size_t)m, 1, k ? s / (double)k : 0) : 0;

		set_psi(out, h, k ? sqrt(s / (double)k) : 0, c_const, &c);
	}
	snprintf(out->model, sizeof(out->model), "seasonal_naive");
	out->nparams = 0;
	return 0;
}

static double
acf(const double *y, size_t n, size_t lag, double mu, double var)
{
	double s = 0;

	for (size_t t = lag; t < n; t++)
		s += (y[t] - mu) * (y[t - lag] - mu);
	return var > 0 ? s / var : 0;
}

int
fo_fc_is_seasonal(const double *y, size_t n, int m)
{
	double mu, var = 0, sum = 0, limit;

	if (m < 2 || n < 3 * (size_t)m)
		return 0;
	mu = mean(y, n);
	for (size_t t = 0; t < n; t++)
		var += (y[t] - mu) * (y[t] - mu);
	if (var <= 0)
		return 0;
	for (int k = 1; k < m; k++) {
		double r = acf(y, n, (size_t)k, mu, var);

		sum += r * r;
	}
	limit = 1.645 * sqrt((1 + 2 * sum) / (double)n);
	return fabs(acf(y, n, (size_t)m, mu, var)) > limit;
}

int
fo_fc_seasonal_indices(const double *y, size_t n, int m, double *index)
{
	double *ratio = calloc((size_t)m, sizeof(double)), norm = 0;
	size_t *count = calloc((size_t)m, sizeof(size_t)), half = (size_t)m / 2;

	if (!ratio || !count || n < 2 * (size_t)m) {
		free(ratio);
		free(count);
		return -1;
	}
	/* centred moving average of order m (2 x m when m is even) */
	for (size_t t = half; t + half < n; t++) {
		double ma = 0;

		if (m % 2 == 0) {
			if (t + half >= n || t < half)
				continue;
			ma = 0.5 * y[t - half] + 0.5 * y[t + half];
			for (size_t k = t - half + 1; k < t + half; k++)
				ma += y[k];
			ma /= m;
		} else {
			for (size_t k = t - half; k <= t + half; k++)
				ma += y[k];
			ma /= m;
		}
		if (ma != 0) {
			ratio[t % (size_t)m] += y[t] / ma;
			count[t % (size_t)m]++;
		}
	}
	for (int i = 0; i < m; i++) {
		index[i] = count[i] ? ratio[i] / (double)count[i] : 1;
		norm += index[i];
	}
	for (int i = 0; i < m; i++)
		index[i] = norm > 0 ? index[i] * m / norm : 1;
	free(ratio);
	free(count);
	return 0;
}

/* Seasonal indices when y is seasonal and positive (multiplicative), else NULL. */
static double *
adjust(const double *y, size_t n, int m, double **adjusted)
{
	double *index, *x;

	*adjusted = NULL;
	if (!fo_fc_is_seasonal(y, n, m))
		return NULL;
	for (size_t t = 0; t < n; t++)
		if (y[t] <= 0)
			return NULL;
	index = malloc((size_t)m * sizeof(double));
	x = malloc(n * sizeof(double));
	if (!index || !x || fo_fc_seasonal_indices(y, n, m, index) < 0) {
		free(index);
		free(x);
		return NULL;
	}
	for (size_t t = 0; t < n; t++)
		x[t] = y[t] / index[t % (size_t)m];
	*adjusted = x;
	return index;
}

static void
reseason(struct fo_fc_out *out, size_t n, int m, size_t h, const double *index)
{
	for (size_t i = 0; index && i < h; i++) {
		double k = index[(n + i) % (size_t)m];

		out->point[i] *= k;
		out->lo80[i] *= k;
		out->hi80[i] *= k;
		out->lo95[i] *= k;
		out->hi95[i] *= k;
	}
}

int
fo_fc_naive2(const double *y, size_t n, int m, size_t h, struct fo_fc_out *out)
{
	double *x, *index = adjust(y, n, m, &x);

	naive_fallback(index ? x : y, n, h, out, "naive2");
	reseason(out, n, m, h, index);
	free(x);
	free(index);
	return 0;
}

/* ---- ETS ---------------------------------------------------------------------- */

struct ets {
	const double *y;
	size_t n;
	int m, trend, damped, seasonal;
	double l0, b0, *s0;          /* initial states */
	double *s;                   /* scratch: the season */
};

/* x = alpha [, beta] [, gamma] [, phi] */
static void
ets_unpack(const struct ets *e, const double *x, double *a, double *b, double *g, double *phi)
{
	int k = 0;

	*a = x[k++];
	*b = e->trend ? x[k++] : 0;
	*g = e->seasonal ? x[k++] : 0;
	*phi = e->damped ? x[k++] : 1;
}

/* One pass over the series: the sum of squared one-step errors; final states. */
static double
ets_run(const struct ets *e, double a, double b, double g, double phi, double *l_out,
	double *b_out)
{
	double l = e->l0, tr = e->trend ? e->b0 : 0, sse = 0;
	size_t m = (size_t)e->m;

	/* the hot loop of every fit: one without the season, one with (no division) */
	if (!e->seasonal) {
		for (size_t t = 0; t < e->n; t++) {
			double fit = l + phi * tr, err = e->y[t] - fit;

			sse += err * err;
			l = l + phi * tr + a * err;
			tr = phi * tr + b * err;
		}
	} else {
		memcpy(e->s, e->s0, m * sizeof(double));
		for (size_t t = 0, j = 0; t < e->n; t++) {
			double season = e->s[j];
			double fit = l + phi * tr + season, err = e->y[t] - fit;

			sse += err * err;
			l = l + phi * tr + a * err;
			tr = phi * tr + b * err;
			e->s[j] = season + g * err;
			if (++j == m)
				j = 0;
		}
	}
	if (l_out)
		*l_out = l;
	if (b_out)
		*b_out = tr;
	return sse;
}

static double
ets_loss(const double *x, void *ctx)
{
	const struct ets *e = ctx;
	double a, b, g, phi, sse;

	ets_unpack(e, x, &a, &b, &g, &phi);
	if ((e->trend && b > a) || (e->seasonal && g > 1 - a))
		return DBL_MAX;
	sse = ets_run(e, a, b, g, phi, NULL, NULL);
	return isfinite(sse) ? sse : DBL_MAX;
}

int
fo_fc_ets(const double *y, size_t n, int m, int damped, int seasonal, size_t h,
	  struct fo_fc_out *out)
{
	struct ets e;
	double x[4], lo[4], hi[4], a, b, g, phi, l, tr, sse, sigma2;
	int k = 0;

	memset(&e, 0, sizeof(e));
	if (seasonal && (m < 2 || n < 2 * (size_t)m))
		seasonal = 0;
	if (n < 4) {
		naive_fallback(y, n, h, out, "naive");
		return 0;
	}
	e.y = y;
	e.n = n;
	e.m = seasonal ? m : 1;
	e.trend = damped;              /* a trend only damped: undamped trends overshoot */
	e.damped = damped;
	e.seasonal = seasonal;
	if (seasonal) {
		double first = mean(y, (size_t)m), second = mean(y + m, (size_t)m), sm = 0;

		e.s0 = malloc((size_t)m * sizeof(double));
		e.s = malloc((size_t)m * sizeof(double));
		if (!e.s0 || !e.s) {
			free(e.s0);
			free(e.s);
			naive_fallback(y, n, h, out, "naive");
			return 0;
		}
		e.l0 = first;
		e.b0 = (second - first) / m;
		for (int i = 0; i < m; i++) {
			e.s0[i] = y[i] - first;
			sm += e.s0[i];
		}
		for (int i = 0; i < m; i++)
			e.s0[i] -= sm / m;
	} else {
		e.l0 = y[0];
		e.b0 = y[1] - y[0];
	}
	lo[k] = 1e-4, hi[k] = 0.9999, x[k++] = 0.3;
	if (e.trend)
		lo[k] = 1e-4, hi[k] = 0.9999, x[k++] = 0.05;
	if (e.seasonal)
		lo[k] = 1e-4, hi[k] = 0.9999, x[k++] = 0.1;
	if (e.damped)
		lo[k] = 0.8, hi[k] = 0.98, x[k++] = 0.9;
	fo_nelder_mead(ets_loss, &e, x, k, lo, hi, 2000);
	ets_unpack(&e, x, &a, &b, &g, &phi);
	sse = ets_run(&e, a, b, g, phi, &l, &tr);
	sigma2 = sse / (double)(n > (size_t)k + 1 ? n - (size_t)k - 1 : 1);
	{
		double damp_sum = 0, var_sum = 1, phi_pow = 1, prev_c = 0;

		for (size_t i = 0; i < h; i++) {
			double season = e.seasonal ? e.s[(n + i) % (size_t)m] : 0;

			phi_pow *= phi;
			damp_sum += phi_pow;
			out->point[i] = l + damp_sum * tr + season;
			intervals(out, i, sqrt(sigma2 * var_sum));
			/* c_j for the next horizon: alpha + beta (phi + ... + phi^j) + gamma [j % m == 0] */
			{
				double cj = a + b * damp_sum +
					    (e.seasonal && (i + 1) % (size_t)m == 0 ? g : 0);

				var_sum += cj * cj;
				if (out->psi)
					out->psi[i] = sqrt(sigma2) * (i ? prev_c : 1);
				prev_c = cj;
			}
		}
	}
	snprintf(out->model, sizeof(out->model), "ets_A%s%s", damped ? "Ad" : "N",
		 seasonal ? "A" : "N");
	out->params[0] = a;
	out->params[1] = b;
	out->params[2] = g;
	out->params[3] = phi;
	out->params[4] = sqrt(sigma2);
	out->nparams = 5;
	free(e.s0);
	free(e.s);
	return 0;
}

/* ---- Theta ---------------------------------------------------------------------- */

struct ses {
	const double *x;
	size_t n;
};

static double
ses_sse(const double *p, void *ctx)
{
	const struct ses *s = ctx;
	double l = s->x[0], sse = 0;

	for (size_t t = 1; t < s->n; t++) {
		double err = s->x[t] - l;

		sse += err * err;
		l += p[0] * err;
	}
	return sse;
}

int
fo_fc_theta(const double *y, size_t n, int m, size_t h, struct fo_fc_out *out)
{
	double *x, *index, alpha = 0.5, lo = 1e-4, hi = 0.9999, l, sse, sigma, slope;
	double st = 0, sx = 0, stt = 0, stx = 0;
	struct ses s;

	if (n < 4) {
		naive_fallback(y, n, h, out, "naive");
		return 0;
	}
	index = adjust(y, n, m, &x);
	s.x = index ? x : y;
	s.n = n;
	fo_nelder_mead(ses_sse, &s, &alpha, 1, &lo, &hi, 500);
	l = s.x[0];
	for (size_t t = 1; t < n; t++)
		l += alpha * (s.x[t] - l);
	sse = ses_sse(&alpha, &s);
	sigma = sqrt(sse / (double)(n - 1));
	for (size_t t = 0; t < n; t++) {
		st += (double)t;
		sx += s.x[t];
		stt += (double)t * (double)t;
		stx += (double)t * s.x[t];
	}
	slope = (n * stx - st * sx) / (n * stt - st * st);
	for (size_t i = 0; i < h; i++) {
		out->point[i] = l + slope / 2 * ((double)i + (1 - pow(1 - alpha, (double)n)) / alpha);
		intervals(out, i, sigma * sqrt(1 + (double)i * alpha * alpha));
	}
	set_psi(out, h, sigma, c_const, &alpha);
	reseason(out, n, m, h, index);
	snprintf(out->model, sizeof(out->model), "theta%s", index ? "_seasonal" : "");
	out->params[0] = alpha;
	out->params[1] = slope;
	out->params[4] = sigma;
	out->nparams = 5;
	free(x);
	free(index);
	return 0;
}

/* ---- accuracy -------------------------------------------------------------------- */

double
fo_fc_smape(const double *a, const double *f, size_t h)
{
	double s = 0;

	for (size_t i = 0; i < h; i++) {
		double d = fabs(a[i]) + fabs(f[i]);

		s += d > 0 ? 200 * fabs(a[i] - f[i]) / d : 0;
	}
	return h ? s / (double)h : 0;
}

/* MASE's denominator: the in-sample mean absolute difference at lag m (NAN when none). */
static double
mase_scale(const double *insample, size_t n, int m)
{
	double scale = 0;
	size_t k = 0, lag = m >= 1 && n > (size_t)m ? (size_t)m : 1;

	for (size_t t = lag; t < n; t++, k++)
		scale += fabs(insample[t] - insample[t - lag]);
	return k && scale > 0 ? scale / (double)k : NAN;
}

double
fo_fc_mase(const double *insample, size_t n, int m, const double *a, const double *f,
	   size_t h)
{
	double err = 0;

	for (size_t i = 0; i < h; i++)
		err += fabs(a[i] - f[i]);
	return h ? (err / (double)h) / mase_scale(insample, n, m) : NAN;
}

double
fo_fc_msis(const double *insample, size_t n, int m, const double *a, const double *lo,
	   const double *hi, size_t h, double alpha)
{
	double s = 0;

	for (size_t i = 0; i < h; i++) {
		s += hi[i] - lo[i];
		if (a[i] < lo[i])
			s += 2 / alpha * (lo[i] - a[i]);
		if (a[i] > hi[i])
			s += 2 / alpha * (a[i] - hi[i]);
	}
	return h ? (s / (double)h) / mase_scale(insample, n, m) : NAN;
}

/* ---- seasonal means ------------------------------------------------------------- */

/*
 * The mean of the last k seasons of length s at each position of the
 * season; intervals from its in-sample errors, widening a season at a time.
 */
static int
seasonal_mean(const double *y, size_t n, size_t s, size_t k, size_t h, struct fo_fc_out *out)
{
	double e2 = 0;
	size_t ne = 0;

	if (s < 2 || k < 1 || n < (k + 1) * s)
		return fo_fc_seasonal_naive(y, n, (int)s, h, out);
	for (size_t t = k * s; t < n; t++, ne++) {
		double p = 0;

		for (size_t j = 1; j <= k; j++)
			p += y[t - j * s];
		p /= (double)k;
		e2 += (y[t] - p) * (y[t] - p);
	}
	for (size_t i = 0; i < h; i++) {
		double p = 0;

		for (size_t j = 1; j <= k; j++)
			p += y[n - j * s + i % s];
		out->point[i] = p / (double)k;
		intervals(out, i, sqrt(e2 / (double)ne * (double)(i / s + 1)));
	}
	{
		double c = out->psi ? c_from_sums(y, n, s, k, e2 / (double)ne) : 0;

		set_psi(out, h, sqrt(e2 / (double)ne), c_const, &c);
	}
	snprintf(out->model, sizeof(out->model), "seasonal_mean_%zux%zu", k, s);
	out->nparams = 0;
	return 0;
}

/* ---- intermittent series: TSB ------------------------------------------------------ */

struct tsb {
	const double *y;
	size_t n;
	double z0, p0;               /* initial size and probability */
};

/* One pass: the sum of squared one-step errors; the final size and probability. */
static double
tsb_run(const struct tsb *t, double a, double b, double *z_out, double *p_out)
{
	double z = t->z0, p = t->p0, sse = 0;

	for (size_t i = 0; i < t->n; i++) {
		double err = t->y[i] - p * z;

		sse += err * err;
		if (t->y[i] != 0) {
			z += a * (t->y[i] - z);
			p += b * (1 - p);
		} else {
			p -= b * p;
		}
	}
	if (z_out)
		*z_out = z;
	if (p_out)
		*p_out = p;
	return sse;
}

static double
tsb_loss(const double *x, void *ctx)
{
	double sse = tsb_run(ctx, x[0], x[1], NULL, NULL);

	return isfinite(sse) ? sse : DBL_MAX;
}

int
fo_fc_tsb(const double *y, size_t n, size_t h, struct fo_fc_out *out)
{
	struct tsb t = {y, n, 0, 0};
	double x[2] = {0.1, 0.1}, lo[2] = {0.01, 0.01}, hi[2] = {0.5, 0.5}, z, p, sigma, rate;
	size_t nz = 0;

	for (size_t i = 0; i < n; i++)
		if (y[i] != 0) {
			t.z0 += y[i];
			nz++;
		}
	if (n < 4 || nz == 0) {
		naive_fallback(y, n, h, out, "naive");
		return 0;
	}
	t.z0 /= (double)nz;
	t.p0 = (double)nz / (double)n;
	fo_nelder_mead(tsb_loss, &t, x, 2, lo, hi, 500);
	sigma = sqrt(tsb_run(&t, x[0], x[1], &z, &p) / (double)(n > 3 ? n - 3 : 1));
	rate = fmax(x[0], x[1]);
	for (size_t i = 0; i < h; i++) {
		out->point[i] = p * z;
		intervals(out, i, sigma * sqrt(1 + (double)i * rate * rate));
	}
	set_psi(out, h, sigma, c_const, &rate);
	snprintf(out->model, sizeof(out->model), "tsb");
	out->params[0] = x[0];
	out->params[1] = x[1];
	out->params[2] = 0;
	out->params[3] = 1;
	out->params[4] = sigma;
	out->nparams = 5;
	return 0;
}

/* The share of zero values of y. */
static double
zero_share(const double *y, size_t n)
{
	size_t z = 0;

	for (size_t i = 0; i < n; i++)
		z += y[i] == 0;
	return n ? (double)z / (double)n : 0;
}

/* ---- sums of forecast steps ------------------------------------------------------- */

double
fo_fc_sum_sd(const struct fo_fc_out *out, size_t from, size_t to)
{
	double var = 0;

	if (to <= from)
		return 0;
	if (!out->psi) {
		for (size_t i = from; i < to; i++) {
			double sd = (out->hi95[i] - out->lo95[i]) / (2 * FO_FC_Z95);

			var += isfinite(sd) ? sd * sd : 0;
		}
		return sqrt(var);
	}
	/*
	 * error of step j = sum over innovations i <= j of psi[j - i] e_i, so
	 * the sum over steps from..to-1 weighs innovation i by the psi of its
	 * distances to those steps
	 */
	for (size_t i = 0; i < to; i++) {
		double w = 0;

		for (size_t j = i > from ? i : from; j < to; j++)
			w += out->psi[j - i];
		var += w * w;
	}
	return isfinite(var) ? sqrt(var) : 0;
}

/* ---- model choice by backtest ------------------------------------------------------ */

/*
 * The candidates. Those after C_COMBO use a second, longer season m2 (the
 * week of an hourly series) or several seasons of history, and run only
 * where the series has them.
 */
enum cand {
	C_SNAIVE, C_ANN, C_AADN, C_ANA, C_AADA, C_THETA, C_COMBO,
	C_SMEAN,                     /* the mean of the last (up to 7) seasons */
	C_SNAIVE2, C_SMEAN2, C_THETA2, C_MIX2,
	C_TSB,                       /* intermittent series only */
	NCANDS
};

/* The most seasons C_SMEAN averages, and the fewest it needs. */
#define SMEAN_MAX 7
#define SMEAN_MIN 3

static int
mean_of(const enum cand *parts, int k, const double *y, size_t n, int m, int m2, size_t h,
	struct fo_fc_out *out, int named);

/* Whether candidate c can run on n values. */
static int
cand_fits(enum cand c, size_t n, int m, int m2)
{
	switch (c) {
	case C_ANA:
	case C_AADA:
	case C_COMBO:
		return n >= 2 * (size_t)m;
	case C_SMEAN:
		return m >= 2 && n >= (SMEAN_MIN + 1) * (size_t)m;
	case C_SNAIVE2:
	case C_MIX2:
		return m2 > 0 && n >= 2 * (size_t)m2;
	case C_SMEAN2:
		return m2 > 0 && n >= 3 * (size_t)m2;
	case C_THETA2:
		return m2 > 0 && n >= 3 * (size_t)m2;
	case C_TSB:
		return 0;            /* fo_fc_auto decides */
	default:
		return 1;
	}
}

static int
run_cand(enum cand c, const double *y, size_t n, int m, int m2, size_t h, struct fo_fc_out *out)
{
	switch (c) {
	case C_SNAIVE:
		return fo_fc_seasonal_naive(y, n, m, h, out);
	case C_ANN:
		return fo_fc_ets(y, n, m, 0, 0, h, out);
	case C_AADN:
		return fo_fc_ets(y, n, m, 1, 0, h, out);
	case C_ANA:
		return fo_fc_ets(y, n, m, 0, 1, h, out);
	case C_AADA:
		return fo_fc_ets(y, n, m, 1, 1, h, out);
	case C_THETA:
		return fo_fc_theta(y, n, m, h, out);
	case C_COMBO: {
		/* the mean of three (M4: combinations were robustly strong) */
		static const enum cand parts[3] = {C_ANA, C_AADA, C_THETA};

		if (mean_of(parts, 3, y, n, m, m2, h, out, 0) < 0)
			return -1;
		snprintf(out->model, sizeof(out->model), "combination");
		return 0;
	}
	case C_SMEAN: {
		size_t k = m >= 2 ? n / (size_t)m - 1 : 0;

		return seasonal_mean(y, n, (size_t)m, k > SMEAN_MAX ? SMEAN_MAX : k, h, out);
	}
	case C_SNAIVE2:
		return fo_fc_seasonal_naive(y, n, m2, h, out);
	case C_SMEAN2:
		return seasonal_mean(y, n, (size_t)m2, 2, h, out);
	case C_THETA2:
		if (fo_fc_theta(y, n, m2, h, out) < 0)
			return -1;
		snprintf(out->model, sizeof(out->model), "theta_seasonal_%d", m2);
		return 0;
	case C_MIX2: {
		/* the last day and the same day a week ago, at once */
		static const enum cand parts[2] = {C_SNAIVE, C_SNAIVE2};

		if (mean_of(parts, 2, y, n, m, m2, h, out, 0) < 0)
			return -1;
		snprintf(out->model, sizeof(out->model), "seasonal_naive_%d_%d", m, m2);
		return 0;
	}
	case C_TSB:
		return fo_fc_tsb(y, n, h, out);
	default:
		return -1;
	}
}

/*
 * The mean of k candidates' forecasts, bounds and weights; named: out->model
 * is theirs joined by + (else the caller names it).
 */
static int
mean_of(const enum cand *parts, int k, const double *y, size_t n, int m, int m2, size_t h,
	struct fo_fc_out *out, int named)
{
	char name[sizeof(out->model)] = "";
	size_t len = 0;
	struct fo_fc_out p;

	if (fo_fc_out_alloc(&p, h) < 0)
		return -1;
	for (size_t i = 0; i < h; i++) {
		out->point[i] = out->lo80[i] = out->hi80[i] = out->lo95[i] = out->hi95[i] = 0;
		if (out->psi)
			out->psi[i] = 0;
	}
	for (int j = 0; j < k; j++) {
		if (run_cand(parts[j], y, n, m, m2, h, &p) < 0) {
			fo_fc_out_free(&p);
			return -1;
		}
		for (size_t i = 0; i < h; i++) {
			out->point[i] += p.point[i] / k;
			out->lo80[i] += p.lo80[i] / k;
			out->hi80[i] += p.hi80[i] / k;
			out->lo95[i] += p.lo95[i] / k;
			out->hi95[i] += p.hi95[i] / k;
			if (out->psi)
				out->psi[i] += p.psi[i] / k;
		}
		len += (size_t)snprintf(name + len, len < sizeof(name) ? sizeof(name) - len : 0,
					"%s%s", j ? "+" : "", p.model);
		if (len >= sizeof(name))
			len = sizeof(name) - 1;
	}
	fo_fc_out_free(&p);
	if (named)
		memcpy(out->model, name, sizeof(name));
	out->nparams = 0;
	return 0;
}

/* The longer season fo_fc_auto also tries: an hourly series' week. */
static int
second_season(int m)
{
	return m == 24 ? 7 * 24 : 0;
}

/*
 * Whether c sits out on an intermittent series: a trend there is the noise
 * of which days happened to be billed, and TSB is its level model.
 */
static int
not_intermittent(enum cand c)
{
	return c == C_ANN || c == C_AADN || c == C_AADA || c == C_THETA || c == C_COMBO ||
	       c == C_THETA2;
}

/* Backtest score of a forecast: MASE, or sMAPE / 100 on a flat history. */
static double
score_of(const double *y, size_t cut, int m, const double *f, size_t bh)
{
	double e = fo_fc_mase(y, cut, m, y + cut, f, bh);

	return isfinite(e) ? e : fo_fc_smape(y + cut, f, bh) / 100;
}

/* Mean squared error. */
static double
mse_of(const double *a, const double *f, size_t h)
{
	double s = 0;

	for (size_t i = 0; i < h; i++)
		s += (a[i] - f[i]) * (a[i] - f[i]);
	return h ? s / (double)h : 0;
}

/*
 * A series with at least this share of zero days is intermittent: TSB is a
 * candidate, the level and trend models are not, and the backtest ranks by
 * squared error, which the mean minimises (absolute errors, as MASE's,
 * favour forecasting the zeros).
 */
#define INTERMITTENT_SHARE 0.3

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The median of v[0..n-1] (n > 0), which it sorts. */
static double
median(double *v, size_t n)
{
	qsort(v, n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * The share of the spread of y's changes over a season that is not a few
 * outlying days': the root mean square of the changes winsorized at 3
 * robust standard deviations (1.4826 MAD) over their plain root mean
 * square; 1 for normal noise (0.99), small after an incident of a few days.
 */
static double
ordinary_share(const double *y, size_t n, size_t m)
{
	double *d, med, mad, cap, all = 0, wins = 0;
	size_t k;

	if (m < 1 || n < m + 8 || !(d = malloc((n - m) * sizeof(double))))
		return 1;
	k = n - m;
	for (size_t t = m; t < n; t++)
		d[t - m] = y[t] - y[t - m];
	for (size_t t = 0; t < k; t++)
		all += d[t] * d[t];
	med = median(d, k);
	for (size_t t = 0; t < k; t++)
		d[t] = fabs(d[t] - med);
	mad = median(d, k);
	cap = 3 * 1.4826 * mad;
	for (size_t t = m; t < n; t++) {
		double v = y[t] - y[t - m];

		v = v > med + cap ? med + cap : v < med - cap ? med - cap : v;
		wins += v * v;
	}
	free(d);
	return all > 0 && mad > 0 ? fmin(1, sqrt(wins / all)) : 1;
}

/* fo_fc_auto's forecast is the mean of at most this many of the best candidates */
#define MAX_MEAN 3

/*
 * f = the mean of k candidates' backtest forecasts at origin o (0-based),
 * from fc: each candidate's bh values at each of the origins.
 */
static void
mean_backtest(const double *fc, int origins, size_t bh, const int *parts, int k, int o,
	      double *f)
{
	for (size_t i = 0; i < bh; i++) {
		f[i] = 0;
		for (int j = 0; j < k; j++)
			f[i] += fc[((size_t)parts[j] * (size_t)origins + (size_t)o) * bh + i] / k;
	}
}

static int
choose(const double *y, size_t n, int m, size_t h, size_t bh, int origins,
       struct fo_fc_out *out, double *mase, double *smape)
{
	double score[NCANDS] = {0}, sm[NCANDS] = {0}, rank[NCANDS] = {0};
	double use_rank, use_score, use_sm;
	double *fc = NULL;           /* each candidate's backtest forecasts, origin by origin */
	int tried[NCANDS] = {0}, order[NCANDS], nranked = 0, use, done = 0, m2 = second_season(m);
	double zeros = zero_share(y, n);
	int intermittent = n >= 8 && zeros >= INTERMITTENT_SHARE && zeros < 1;
	struct fo_fc_out p;

	if (mase)
		*mase = NAN;
	if (smape)
		*smape = NAN;
	if (origins < 0)
		origins = 0;
	if (bh > 0 && origins > 0)
		fc = malloc((size_t)NCANDS * (size_t)origins * bh * sizeof(double));
	if ((bh > 0 && origins > 0 && !fc) || fo_fc_out_alloc(&p, bh) < 0) {
		free(fc);
		return -1;
	}
	p.psi = NULL;                /* the backtests need no sums */
	for (int o = 1; o <= origins && bh > 0; o++) {
		size_t cut;

		if (n < (size_t)o * bh + 2 * (size_t)m || n < (size_t)o * bh + 8)
			break;
		cut = n - (size_t)o * bh;
		for (int c = 0; c < NCANDS; c++) {
			double e;

			if (!(c == C_TSB ? intermittent : cand_fits((enum cand)c, cut, m, m2)) ||
			    (intermittent && not_intermittent((enum cand)c)))
				continue;
			if (c == C_COMBO && tried[C_ANA] == o && tried[C_AADA] == o &&
			    tried[C_THETA] == o) {
				/* its parts' forecasts at this origin, already made */
				static const int parts[3] = {C_ANA, C_AADA, C_THETA};

				mean_backtest(fc, origins, bh, parts, 3, o - 1, p.point);
			} else {
				run_cand((enum cand)c, y, cut, m, m2, bh, &p);
			}
			memcpy(fc + ((size_t)c * (size_t)origins + (size_t)(o - 1)) * bh, p.point,
			       bh * sizeof(double));
			e = score_of(y, cut, m, p.point, bh);
			score[c] += e;
			rank[c] += intermittent ? mse_of(y + cut, p.point, bh) : e;
			sm[c] += fo_fc_smape(y + cut, p.point, bh);
			tried[c]++;
		}
		done = o;
	}
	/* the candidates tried at every origin, best first */
	for (int c = 0; c < NCANDS; c++) {
		int j = nranked++;

		if (!tried[c] || tried[c] != done) {
			nranked--;
			continue;
		}
		for (; j > 0 && rank[c] < rank[order[j - 1]] - 1e-12; j--)
			order[j] = order[j - 1];
		order[j] = c;
	}
	if (nranked == 0) {
		fo_fc_out_free(&p);
		free(fc);
		/* too short to backtest: the simplest model the length allows */
		if (intermittent)
			return fo_fc_tsb(y, n, h, out);
		return run_cand(n >= 2 * (size_t)m ? C_SNAIVE : C_ANN, y, n, m, m2, h, out);
	}
	/*
	 * The mean of the best two or three (M4: combinations of a few strong
	 * models beat choosing one), scored on the same origins, when it
	 * backtests better than the best alone.
	 */
	use = 1;
	use_rank = rank[order[0]];
	use_score = score[order[0]];
	use_sm = sm[order[0]];
	for (int k = 2; k <= MAX_MEAN && k <= nranked; k++) {
		double r = 0, sc = 0, s2 = 0, *f = p.point;

		for (int o = 0; o < done; o++) {
			size_t cut = n - (size_t)(o + 1) * bh;
			double e;

			mean_backtest(fc, origins, bh, order, k, o, f);
			e = score_of(y, cut, m, f, bh);
			sc += e;
			r += intermittent ? mse_of(y + cut, f, bh) : e;
			s2 += fo_fc_smape(y + cut, f, bh);
		}
		if (r < use_rank - 1e-12) {
			use = k;
			use_rank = r;
			use_score = sc;
			use_sm = s2;
		}
	}
	fo_fc_out_free(&p);
	free(fc);
	if (mase)
		*mase = use_score / done;
	if (smape)
		*smape = use_sm / done;
	if (use == 1)
		return run_cand((enum cand)order[0], y, n, m, m2, h, out);
	{
		enum cand parts[MAX_MEAN];

		for (int j = 0; j < use; j++)
			parts[j] = (enum cand)order[j];
		return mean_of(parts, use, y, n, m, m2, h, out, 1);
	}
}

int
fo_fc_auto(const double *y, size_t n, int m, size_t h, size_t bh, int origins,
	   struct fo_fc_out *out, double *mase, double *smape)
{
	int rc = choose(y, n, m, h, bh, origins, out, mase, smape);

	/*
	 * The errors of sums of days (month totals) are not set by the few
	 * outlying days of the history (an incident of three days inflates a
	 * model's sigma, and a sum of correlated days grows with its square):
	 * their weights take only the ordinary share of the spread.
	 */
	if (rc == 0 && out->psi) {
		double share = ordinary_share(y, n, m >= 1 ? (size_t)m : 1);

		for (size_t i = 0; i < h; i++)
			out->psi[i] *= share;
	}
	return rc;
}
