/*
 * forecast.h: univariate forecasting models for daily cost series, and the
 * accuracy measures of the M4 competition (see ../shared/notes/forecasting.md
 * for the formulas they follow).
 *
 * Every model takes y[0..n-1] (oldest first), the season length m (7 for
 * daily cost, 24 for hourly series) and a horizon h, and fills the caller's
 * struct fo_fc_out (arrays of h values): the point forecast and the 80% and
 * 95% prediction intervals. A model that cannot run on the series (too
 * short) falls back to a simpler one and says so in out->model.
 */
#ifndef FINOPS_FORECAST_H
#define FINOPS_FORECAST_H

#include <stddef.h>

/* Normal quantiles of the 80% and 95% prediction intervals. */
#define FO_FC_Z80 1.2815515655446004
#define FO_FC_Z95 1.959963984540054

struct fo_fc_out {
	double *point, *lo80, *hi80, *lo95, *hi95;   /* h values each, the caller's */
	char model[64];                              /* what actually ran */
	double params[5];                            /* alpha, beta, gamma, phi, sigma */
	int nparams;
	/*
	 * May be NULL (fo_fc_out_alloc gives it): the forecast errors' weights
	 * on the innovations, psi[0] = sigma, psi[j] = sigma c_j, so that the
	 * error of step j is the sum of psi[j - i] e_i over the innovations
	 * e_i (unit variance) of steps i <= j. Sums of steps are correlated
	 * through them (fo_fc_sum_sd).
	 */
	double *psi;
};

/* Gives out arrays for h values (one allocation), or fails (-1); free with fo_fc_out_free. */
int fo_fc_out_alloc(struct fo_fc_out *out, size_t h);
void fo_fc_out_free(struct fo_fc_out *out);

/* Last season repeated; intervals from the seasonal differences. */
int fo_fc_seasonal_naive(const double *y, size_t n, int m, size_t h, struct fo_fc_out *out);

/*
 * M4's Naive2: the last value of the series seasonally adjusted by classical
 * multiplicative decomposition when it is seasonal (fo_fc_is_seasonal).
 */
int fo_fc_naive2(const double *y, size_t n, int m, size_t h, struct fo_fc_out *out);

/*
 * ETS with additive error: level, optionally a damped trend, optionally an
 * additive season of length m; parameters by bounded Nelder-Mead on the
 * one-step squared error; analytic prediction intervals.
 */
int fo_fc_ets(const double *y, size_t n, int m, int damped, int seasonal, size_t h,
	      struct fo_fc_out *out);

/*
 * TSB (Teunter, Syntetos and Babai) for intermittent series: the size of the
 * non-zero values and the probability of one, each smoothed (alpha, beta by
 * Nelder-Mead on the one-step squared error); the forecast is their product,
 * the expected value a day (every other day at 15: 7.5 a day).
 */
int fo_fc_tsb(const double *y, size_t n, size_t h, struct fo_fc_out *out);

/*
 * The standard deviation of the sum of the forecast's errors over steps
 * from..to-1, from out->psi (correlated steps), or when it is NULL from the
 * 95% intervals as if the steps were independent.
 */
double fo_fc_sum_sd(const struct fo_fc_out *out, size_t from, size_t to);

/* The Theta method (forecast::thetaf), on seasonally adjusted data when seasonal. */
int fo_fc_theta(const double *y, size_t n, int m, size_t h, struct fo_fc_out *out);

/* The M4 seasonality test: lag-m autocorrelation beyond 1.645 standard errors. */
int fo_fc_is_seasonal(const double *y, size_t n, int m);

/* Classical multiplicative decomposition: m seasonal indices averaging 1. */
int fo_fc_seasonal_indices(const double *y, size_t n, int m, double *index);

/*
 * Chooses the model for y by rolling-origin backtest: at each of `origins`
 * cut points bh apart before the end, every candidate (seasonal naive, ETS
 * without and with damped trend, with and without season, Theta, the mean
 * of ETS and Theta, the mean of the last up to 7 seasons; for an hourly
 * series (m 24) also its week: the seasonal naive and Theta at 168, the
 * mean of the last two weeks, the mean of the last day and the last week;
 * for an intermittent series, 30% or more zeros, TSB) is fitted on the data
 * before the cut and scored on the bh values after it, by MASE (by squared
 * error when intermittent). The best wins, or the mean of the best two or
 * three when that scores better on the same cuts; it forecasts h values
 * from the whole series. *mase and *smape (may be NULL) get the backtest
 * scores of what was chosen (NAN when the series is too short to backtest:
 * then the choice falls back by length, and out->model says which; "a+b"
 * is a mean).
 */
int fo_fc_auto(const double *y, size_t n, int m, size_t h, size_t bh, int origins,
	       struct fo_fc_out *out, double *mase, double *smape);

/* sMAPE (in %) and MASE (against the in-sample seasonal naive of lag m). */
double fo_fc_smape(const double *actual, const double *forecast, size_t h);
double fo_fc_mase(const double *insample, size_t n, int m, const double *actual,
		  const double *forecast, size_t h);

/*
 * The mean scaled interval score of a (1 - alpha) interval [lo, hi] (M4):
 * its width plus 2 / alpha times each miss, over h, scaled like MASE.
 */
double fo_fc_msis(const double *insample, size_t n, int m, const double *actual,
		  const double *lo, const double *hi, size_t h, double alpha);

/*
 * Minimises f over dim (<= 8) parameters inside [lo, hi] with the adaptive
 * Nelder-Mead simplex; x holds the start and gets the minimum.
 */
double fo_nelder_mead(double (*f)(const double *x, void *ctx), void *ctx, double *x, int dim,
		      const double *lo, const double *hi, int max_iter);

#endif
