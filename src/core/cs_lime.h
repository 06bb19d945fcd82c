/*
 * cs_lime.h - LIME explanations as lime's LimeTabularExplainer computes them
 * with its defaults (src/core/lime.c).
 *
 * Every feature is treated as categorical over its bins: a numeric feature
 * over lime's quartile bins (QuartileDiscretizer), a categorical one over its
 * levels, and, since lime has no missing values, both over one more bin for
 * missing.  Samples draw each feature's bin from its training frequencies and
 * a numeric bin's value from the bin's truncated normal; the interpretable
 * representation is binary (1 when a sample's bin is the instance's), each
 * sample is weighted by the exponential kernel on its Euclidean distance to
 * the instance, and a weighted ridge regression (scikit-learn's Ridge,
 * alpha 1, with intercept) on all features explains the model's probability
 * of the positive class.  The training statistics come from the profile
 * stored with the model (cs_profile.h).  Pure C, no PostgreSQL header; the
 * core allocates nothing while explaining: the caller hands it a workspace.
 */
#ifndef CS_LIME_H
#define CS_LIME_H

#include "cs_core.h"

#define CS_LIME_STATS_VERSION 1     /* the profile's "lime" member */
#define CS_LIME_MAX_BINS      4     /* value bins of a numeric feature: quartiles + 1 */
#define CS_LIME_STD_EPSILON   1e-11 /* added to every bin's standard deviation, as lime */
#define CS_LIME_MIN_SAMPLES   10
#define CS_LIME_MAX_SAMPLES   1000000
#define CS_LIME_MAX_FEATURES  2048 /* the ridge holds a features x features matrix */

/*
 * A numeric feature's bins on its non-missing training values: the quartiles
 * as numpy.percentile(x, [25, 50, 75]) computes them (linear interpolation),
 * duplicates removed (np.unique); bin b holds the values x with
 * searchsorted(quartiles, x) = b, i.e. q[b-1] < x <= q[b]; per bin its count,
 * mean, population standard deviation + 1e-11 (0 + 1e-11 when empty) and
 * lime's boundaries mins = [min] + quartiles, maxs = quartiles + [max].
 */
typedef struct cs_lime_numeric
{
	int32_t  n_bins; /* 2..4; 0 when the training split had no value */
	double   quartiles[CS_LIME_MAX_BINS - 1];
	uint64_t counts[CS_LIME_MAX_BINS];
	double   means[CS_LIME_MAX_BINS];
	double   stds[CS_LIME_MAX_BINS];
	double   mins[CS_LIME_MAX_BINS];
	double   maxs[CS_LIME_MAX_BINS];
} cs_lime_numeric;

/* The training frequencies of one feature's bins. */
typedef struct cs_lime_feature
{
	cs_kind         kind;
	cs_lime_numeric num;          /* numeric */
	int32_t         n_levels;     /* categorical: the schema's levels, */
	const uint64_t *level_counts; /* in its order (the caller owns them) */
	uint64_t        missing;      /* training rows where it was missing */
} cs_lime_feature;

typedef struct cs_lime_stats
{
	int32_t                n_features; /* the schema's, in its order */
	const cs_lime_feature *features;
} cs_lime_stats;

/* The bins of m ascending, finite values (m may be 0). */
cs_status
cs_lime_numeric_build(const double *sorted, size_t m, cs_lime_numeric *out, cs_error *err);

/*
 * CS_ERR_CORRUPT naming the first feature whose statistics do not fit the
 * schema; CS_ERR_INVALID for a model of more than CS_LIME_MAX_FEATURES.
 */
cs_status cs_lime_check(const cs_schema *schema, const cs_lime_stats *s, cs_error *err);

/*
 * The bin of an input value: numeric searchsorted(quartiles, x), categorical
 * the level; the feature's value-bin count for a missing value, and -1 for a
 * value no training row had (an unseen category, or a number when the
 * training split had none).
 */
int32_t cs_lime_bin(const cs_feature *f, const cs_lime_feature *s, double x);

/* The number of value bins of a feature (the missing bin is the next one). */
int32_t cs_lime_value_bins(const cs_lime_feature *s);

/*
 * lime's name of the instance's bin, e.g. "income <= 90.00",
 * "90.00 < income <= 130.00", "income > 180.00", "home = rent",
 * "income IS NULL", "home = (unseen)"; snprintf semantics (returns the length
 * the full text needs).
 */
int
cs_lime_condition(const cs_feature *f, const cs_lime_feature *s, double x, char *buf, size_t len);

/* ------------------------------------------------ the truncated normal */

/* The standard normal CDF, and its inverse (Wichura's AS 241, ~1e-16 relative). */
double cs_norm_cdf(double x);
double cs_norm_ppf(double p);

/*
 * The u-quantile (0 < u < 1) of the standard normal truncated to [a, b]
 * (a <= b): scipy.stats.truncnorm.ppf(u, a, b), by inverting the CDF on the
 * side of the distribution's smaller tail, and in log space where the normal
 * CDF underflows.
 */
double cs_truncnorm_ppf(double a, double b, double u);

/*
 * A draw from the normal (mean, sd) truncated to [lo, hi]: lime's
 * undiscretize (scipy.stats.truncnorm.rvs) by the inverse CDF of one uniform;
 * lo when lo = hi (lime returns the z-score there, a slip).
 */
double cs_truncnorm_draw(cs_rng *rng, double mean, double sd, double lo, double hi);

/* ------------------------------------------------ weighted ridge */

/*
 * scikit-learn's Ridge(alpha, fit_intercept=True) with sample weights:
 * minimises sum_i w_i (y_i - b - x_i c)^2 + alpha |c|^2, from the weighted
 * means and centred cross-products, which are accumulated one row at a time
 * (West's weighted update, stable); the coefficients solve
 * (X'WX + alpha I) c = X'Wy on the centred data (Cholesky), b = ybar - xbar c,
 * and score is Ridge.score with the same weights (weighted R^2; 1 when y is
 * constant, as r2_score).
 */
typedef struct cs_ridge
{
	int32_t p;
	double  w_sum;
	double  y_mean;
	double  yy; /* centred weighted sums of squares and products */
	double *x_mean;
	double *xx; /* p x p, upper triangle */
	double *xy;
	double *dx;    /* scratch: x - x_mean */
	double *chol;  /* scratch: p x p */
	double *solve; /* scratch: p */
} cs_ridge;

/* Bytes of workspace a ridge over p features needs. */
size_t cs_ridge_workspace(int32_t p);
/* Starts an empty ridge on workspace (cs_ridge_workspace(p) bytes, 8-aligned). */
void cs_ridge_init(cs_ridge *r, int32_t p, void *workspace);
/* Adds one row x[p] with target y and weight w >= 0. */
void cs_ridge_add(cs_ridge *r, const double *x, double y, double w);
/*
 * Solves: coef[p], *intercept, *score; CS_ERR_NUMERIC without weight.  The
 * factorisation overwrites the accumulated products: solve once.
 */
cs_status cs_ridge_solve(cs_ridge *r, double alpha, double *coef, double *intercept, double *score,
						 cs_error *err);

/* ------------------------------------------------ the explanation */

typedef struct cs_lime_options
{
	int64_t  samples;      /* CS_LIME_MIN_SAMPLES..CS_LIME_MAX_SAMPLES, the instance included */
	uint64_t seed;         /* xoshiro256** seed */
	double   kernel_width; /* NaN: 0.75 sqrt(features), lime's default; else > 0 */
} cs_lime_options;

/* The explanation: per feature in schema order, and the surrogate's figures. */
typedef struct cs_lime_result
{
	double  *weight;           /* n_features (the caller's) */
	int32_t *bin;              /* n_features (the caller's): the instance's, cs_lime_bin */
	double   intercept;        /* the ridge's */
	double   score;            /* its weighted R^2 on the samples */
	double   local_prediction; /* its prediction for the instance: intercept + sum weight */
	double   prediction;       /* the model's probability for the instance */
	double   kernel_width;     /* the width used */
} cs_lime_result;

/* A run in progress, its samples drawn and scored in steps. */
typedef struct cs_lime_run
{
	const cs_model      *model;
	const cs_lime_stats *stats;
	int64_t              samples;
	int64_t              done;
	double               kernel_width;
	cs_rng               rng;
	cs_ridge             ridge;
	const double        *instance;
	int32_t             *instance_bin;
	double              *input;  /* the sample's values */
	double              *binary; /* its interpretable representation */
	double               prediction;
} cs_lime_run;

/* Bytes of workspace an explanation over n_features needs. */
size_t cs_lime_workspace(int32_t n_features);

/*
 * Starts an explanation of input (a scoring input, cs_core.h) on workspace:
 * checks the options and the statistics against the model, scores the
 * instance (sample 0).  Nothing is allocated; the caller frees the workspace.
 */
cs_status
cs_lime_start(cs_lime_run *run, const cs_model *m, const cs_lime_stats *s, const double *input,
			  const cs_lime_options *opt, void *workspace, cs_error *err);
/* Draws and scores up to count more samples; returns how many remain. */
int64_t cs_lime_step(cs_lime_run *run, int64_t count);
/* Fits the surrogate on the samples (all drawn) into out. */
cs_status cs_lime_finish(cs_lime_run *run, cs_lime_result *out, cs_error *err);

/* The whole explanation in one call (workspace from cs_malloc). */
cs_status cs_lime_explain(const cs_model *m, const cs_lime_stats *s, const double *input,
						  const cs_lime_options *opt, cs_lime_result *out, cs_error *err);

#endif /* CS_LIME_H */
