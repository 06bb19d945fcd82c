/*
 * test_lime.c - LIME (src/core/lime.c): lime's quartile bins against NumPy,
 * the weighted ridge against scikit-learn, the truncated normal against
 * mpmath (its quantile) and SciPy (its moments) (lime_reference.h, generated
 * by test/reference/lime_reference.py),
 * then whole explanations of a hand-made logistic regression: reproducible
 * by seed, the surrogate's identities, and the errors.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_lime.h"
#include "lime_reference.h"
#include "tap.h"

/* |got - want| <= tol * max(1, |want|). */
static int
close_to(double got, double want, double tol)
{
	return fabs(got - want) <= tol * fmax(1.0, fabs(want));
}

/* A duplicate of a NUL-terminated string through cs_malloc. */
static char *
dup_string(const char *s)
{
	char *d = cs_malloc(strlen(s) + 1);

	strcpy(d, s);
	return d;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *) a;
	double y = *(const double *) b;

	return x < y ? -1 : (x > y ? 1 : 0);
}

/* ----------------------------------------------------------- quartile bins */

static void
test_quartile_bins(void)
{
	int32_t i;

	for (i = 0; i < LIME_REF_ARRAYS; i++)
	{
		int32_t         n = lime_ref_len[i];
		double          sorted[64];
		cs_lime_numeric q;
		cs_error        err = { 0 };
		int             ok;
		int32_t         k;

		memcpy(sorted, lime_ref_values + lime_ref_start[i], sizeof(double) * (size_t) n);
		qsort(sorted, (size_t) n, sizeof(double), cmp_double);
		ok = cs_lime_numeric_build(sorted, (size_t) n, &q, &err) == CS_OK &&
			 q.n_bins == lime_ref_bins[i];
		for (k = 0; ok && k < q.n_bins; k++)
		{
			int32_t r = 4 * i + k;

			if (k + 1 < q.n_bins)
				ok = ok && q.quartiles[k] == lime_ref_quartiles[3 * i + k];
			ok = ok && q.counts[k] == lime_ref_counts[r] &&
				 close_to(q.means[k], lime_ref_means[r], 1e-14) &&
				 close_to(q.stds[k], lime_ref_stds[r], 1e-14) && q.mins[k] == lime_ref_mins[r] &&
				 q.maxs[k] == lime_ref_maxs[r];
		}
		tap_ok(ok,
			   "array %d (%d values): lime's quartiles exactly as np.percentile and np.unique, "
			   "counts, means, stds (1e-14), mins and maxs",
			   (int) i,
			   (int) n);
	}
	{
		cs_lime_numeric q;
		cs_error        err = { 0 };
		double          bad[2] = { 2, 1 };

		tap_ok(cs_lime_numeric_build(bad, 0, &q, &err) == CS_OK && q.n_bins == 0,
			   "no training value: no value bin");
		tap_ok(cs_lime_numeric_build(bad, 2, &q, &err) == CS_ERR_INVALID,
			   "unsorted values are refused");
	}
}

/* ------------------------------------------------------------------ ridge */

/* The datasets of lime_reference.py's ridge_data(); returns n, fills p. */
static int32_t
ridge_data(int32_t c, double *X, double *y, double *w, int32_t *p)
{
	int32_t n;
	int32_t i;
	int32_t j;

	if (c == 0)
	{
		n = 40;
		*p = 4;
		for (i = 0; i < n; i++)
		{
			for (j = 0; j < *p; j++)
				X[i * *p + j] = ((i * (2 * j + 3) + 5 * j) % 13) / 4.0;
			y[i] = ((i * 7 + 3) % 19) / 16.0 + 0.25 * X[i * *p] - 0.5 * X[i * *p + 2];
			w[i] = ((i * 5) % 9 + 1) / 8.0;
		}
	}
	else if (c == 1)
	{
		n = 60;
		*p = 5;
		for (i = 0; i < n; i++)
		{
			for (j = 0; j < *p; j++)
				X[i * *p + j] = (i * (j + 2) + j * j) % 5 < 2 ? 1.0 : 0.0;
			y[i] = ((i * 11) % 23) / 32.0 + 0.125 * X[i * *p] - 0.25 * X[i * *p + 3];
			w[i] = ((i * 3) % 7 + 1) / 8.0;
		}
	}
	else
	{
		n = 30;
		*p = 3;
		for (i = 0; i < n; i++)
		{
			for (j = 0; j < *p; j++)
				X[i * *p + j] = j == 1 ? 1.0 : ((i + j) % 4) / 2.0;
			y[i] = ((i * 5) % 11) / 8.0;
			w[i] = i % 6 == 5 ? 0.0 : (i % 4 + 1) / 4.0;
		}
	}
	return n;
}

static void
test_ridge(void)
{
	static const char *what[] = { "real-valued columns",
								  "binary columns, as LIME's",
								  "a constant column and zero weights, alpha 0.5" };
	int32_t            c;

	for (c = 0; c < LIME_REF_RIDGES; c++)
	{
		double   X[60 * 5];
		double   y[60];
		double   w[60];
		double   coef[5];
		double   intercept;
		double   score;
		int32_t  p;
		int32_t  n = ridge_data(c, X, y, w, &p);
		void    *ws = malloc(cs_ridge_workspace(p));
		cs_ridge r;
		cs_error err = { 0 };
		double   worst = 0;
		int32_t  i;
		int      ok;

		cs_ridge_init(&r, p, ws);
		for (i = 0; i < n; i++)
			cs_ridge_add(&r, X + i * p, y[i], w[i]);
		ok = cs_ridge_solve(&r, lime_ref_ridge_alpha[c], coef, &intercept, &score, &err) == CS_OK;
		for (i = 0; ok && i < p; i++)
			worst = fmax(worst, fabs(coef[i] - lime_ref_ridge_coef[5 * c + i]));
		worst = fmax(worst, fabs(intercept - lime_ref_ridge_intercept[c]));
		worst = fmax(worst, fabs(score - lime_ref_ridge_score[c]));
		tap_ok(ok && worst < 1e-12,
			   "ridge on %s: coefficients, intercept and weighted R^2 equal scikit-learn's "
			   "to 1e-12 (worst %.2g)",
			   what[c],
			   worst);
		free(ws);
	}
	{
		double   ws[64];
		double   coef[2];
		double   x[2] = { 1, 2 };
		double   intercept;
		double   score;
		cs_ridge r;
		cs_error err = { 0 };

		cs_ridge_init(&r, 2, ws);
		cs_ridge_add(&r, x, 0.5, 1.0);
		x[0] = 0;
		cs_ridge_add(&r, x, 0.5, 2.0);
		tap_ok(cs_ridge_solve(&r, 1.0, coef, &intercept, &score, &err) == CS_OK && score == 1.0 &&
				   coef[0] == 0 && coef[1] == 0 && intercept == 0.5,
			   "a constant target: zero weights, R^2 1 (r2_score's convention)");
		cs_ridge_init(&r, 2, ws);
		cs_ridge_add(&r, x, 0.5, 0.0);
		tap_ok(cs_ridge_solve(&r, 1.0, coef, &intercept, &score, &err) == CS_ERR_NUMERIC,
			   "no weight at all: CS_ERR_NUMERIC");
	}
}

/* ------------------------------------------------------- truncated normal */

static void
test_truncnorm(void)
{
	int32_t c;
	int32_t k;

	for (c = 0; c < LIME_REF_PPF_CASES; c++)
	{
		double a = lime_ref_ppf_a[c];
		double b = lime_ref_ppf_b[c];
		double worst = 0;
		int    inside = 1;

		for (k = 0; k < LIME_REF_PPF_U; k++)
		{
			double x = cs_truncnorm_ppf(a, b, lime_ref_ppf_u[k]);
			double want = lime_ref_ppf[c * LIME_REF_PPF_U + k];

			inside = inside && x >= a && x <= b;
			worst = fmax(worst, fabs(x - want) / fmax(1.0, fabs(want)));
		}
		tap_ok(inside && worst < 1e-12,
			   "the quantile on [%g, %g] at u from 1e-12 to 1 - 1e-12 within 1e-12 relative of "
			   "mpmath's (worst %.2g)",
			   a,
			   b,
			   worst);
	}
	tap_ok(fabs(cs_norm_ppf(0.975) - 1.959963984540054) < 1e-15 &&
			   fabs(cs_norm_ppf(1e-300) + 37.0470962993612) < 1e-12 &&
			   fabs(cs_norm_cdf(cs_norm_ppf(0.3)) - 0.3) < 1e-16,
		   "the normal quantile (AS 241) equals scipy.special.ndtri at 0.975 and 1e-300, and the "
		   "CDF inverts it");

	for (c = 0; c < LIME_REF_STAT_CASES; c++)
	{
		const double *prm = lime_ref_stat_params + 4 * c;
		const double  want_mean = lime_ref_stat_moments[2 * c];
		const double  want_sd = lime_ref_stat_moments[2 * c + 1];
		const int     n = 200000;
		double        sum = 0;
		double        ss = 0;
		double        mean;
		double        sd;
		int           inside = 1;
		cs_rng        rng;
		int           i;

		cs_rng_seed(&rng, 11 + (uint64_t) c);
		for (i = 0; i < n; i++)
		{
			double x = cs_truncnorm_draw(&rng, prm[0], prm[1], prm[2], prm[3]);

			inside = inside && x >= prm[2] && x <= prm[3];
			sum += x;
			ss += x * x;
		}
		mean = sum / n;
		sd = sqrt(fmax(ss / n - mean * mean, 0));
		/* 5 sd / sqrt(n): at least 5 standard errors of the mean, 7 of the deviation */
		tap_ok(inside && fabs(mean - want_mean) < 5 * want_sd / sqrt(n) &&
				   fabs(sd - want_sd) < 5 * want_sd / sqrt(n),
			   "200,000 draws of N(%g, %g) on [%g, %g]: within bounds, mean %.5f and sd %.5f "
			   "match scipy's %.5f and %.5f to 5 sd / sqrt(n)",
			   prm[0],
			   prm[1],
			   prm[2],
			   prm[3],
			   mean,
			   sd,
			   want_mean,
			   want_sd);
	}
	{
		cs_rng rng;

		cs_rng_seed(&rng, 1);
		tap_ok(cs_truncnorm_draw(&rng, 5, 1e-11, 5, 5) == 5 &&
				   cs_truncnorm_draw(&rng, 1, 1e-11, 0, 1) <= 1 &&
				   cs_truncnorm_draw(&rng, 1, 1e-11, 0, 1) > 1 - 1e-9,
			   "a degenerate bin gives its value; a one-value bin stays at its value");
	}
}

/* ----------------------------------------------------------- explanations */

/*
 * A logistic regression over income (numeric, has missing), home (aa, bb,
 * cc) and noise (numeric, weight 0); design income, income:missing,
 * home=bb, home=cc, noise.
 */
static cs_model *
lime_model(void)
{
	cs_model    *m = cs_calloc(1, sizeof(cs_model));
	const double coef[] = { -0.5, 1.5, 0.5, 0.75, -1.0, 0.0 };
	cs_feature  *f;
	cs_error     err = { 0 };

	m->type = CS_MODEL_LOGISTIC_REGRESSION;
	m->meta.target = dup_string("status");
	m->meta.positive = dup_string("bad");
	m->schema.n_features = 3;
	m->schema.features = cs_calloc(3, sizeof(cs_feature));
	f = &m->schema.features[0];
	f->name = dup_string("income");
	f->kind = CS_KIND_NUMERIC;
	f->mean = 125;
	f->sd = 43;
	f->has_missing = 1;
	f = &m->schema.features[1];
	f->name = dup_string("home");
	f->kind = CS_KIND_CATEGORICAL;
	f->sd = 1;
	f->n_levels = 3;
	f->levels = cs_calloc(3, sizeof(char *));
	f->levels[0] = dup_string("aa");
	f->levels[1] = dup_string("bb");
	f->levels[2] = dup_string("cc");
	f = &m->schema.features[2];
	f->name = dup_string("noise");
	f->kind = CS_KIND_NUMERIC;
	f->mean = 0.5;
	f->sd = 0.29;
	m->u.logreg.p = 5;
	m->u.logreg.coef = cs_malloc(sizeof(coef));
	memcpy(m->u.logreg.coef, coef, sizeof(coef));
	if (cs_model_prepare(m, &err) != CS_OK)
		abort();
	return m;
}

static const uint64_t home_counts[3] = { 500, 300, 200 };

/* The model's training statistics: 1,000 rows, income uniform on [50, 200] (100 missing). */
static void
lime_stats(cs_lime_feature *f, cs_lime_stats *s)
{
	double   income[900];
	double   noise[1000];
	cs_rng   rng;
	cs_error err = { 0 };
	int      i;

	cs_rng_seed(&rng, 5);
	for (i = 0; i < 900; i++)
		income[i] = floor(50 + 150 * cs_rng_uniform(&rng));
	for (i = 0; i < 1000; i++)
		noise[i] = cs_rng_uniform(&rng);
	qsort(income, 900, sizeof(double), cmp_double);
	qsort(noise, 1000, sizeof(double), cmp_double);
	memset(f, 0, 3 * sizeof(*f));
	f[0].kind = CS_KIND_NUMERIC;
	f[0].missing = 100;
	f[1].kind = CS_KIND_CATEGORICAL;
	f[1].n_levels = 3;
	f[1].level_counts = home_counts;
	f[2].kind = CS_KIND_NUMERIC;
	if (cs_lime_numeric_build(income, 900, &f[0].num, &err) != CS_OK ||
		cs_lime_numeric_build(noise, 1000, &f[2].num, &err) != CS_OK)
		abort();
	s->n_features = 3;
	s->features = f;
}

static void
test_conditions(const cs_model *m, const cs_lime_stats *s)
{
	const cs_feature *income = &m->schema.features[0];
	const cs_feature *home = &m->schema.features[1];
	cs_lime_feature   f = s->features[0];
	char              buf[128];
	int               ok;

	f.num.n_bins = 4;
	f.num.quartiles[0] = 90;
	f.num.quartiles[1] = 130;
	f.num.quartiles[2] = 180;
	cs_lime_condition(income, &f, 90, buf, sizeof(buf));
	ok = strcmp(buf, "income <= 90.00") == 0 && cs_lime_bin(income, &f, 90) == 0;
	cs_lime_condition(income, &f, 90.5, buf, sizeof(buf));
	ok = ok && strcmp(buf, "90.00 < income <= 130.00") == 0 && cs_lime_bin(income, &f, 90.5) == 1;
	cs_lime_condition(income, &f, 180.001, buf, sizeof(buf));
	ok = ok && strcmp(buf, "income > 180.00") == 0 && cs_lime_bin(income, &f, 180.001) == 3;
	cs_lime_condition(income, &f, NAN, buf, sizeof(buf));
	ok = ok && strcmp(buf, "income IS NULL") == 0 && cs_lime_bin(income, &f, NAN) == 4;
	tap_ok(ok, "numeric bins as searchsorted(quartiles, x), named as lime names them");
	cs_lime_condition(home, &s->features[1], 1, buf, sizeof(buf));
	ok = strcmp(buf, "home = bb") == 0;
	cs_lime_condition(home, &s->features[1], -1, buf, sizeof(buf));
	ok = ok && strcmp(buf, "home = (unseen)") == 0 && cs_lime_bin(home, &s->features[1], -1) == -1;
	cs_lime_condition(home, &s->features[1], NAN, buf, sizeof(buf));
	ok = ok && strcmp(buf, "home IS NULL") == 0 && cs_lime_bin(home, &s->features[1], NAN) == 3;
	tap_ok(ok, "categorical bins: the level, unseen, missing");
	tap_ok(cs_lime_condition(income, &f, 90.5, buf, 4) == 24 && strcmp(buf, "90.") == 0,
		   "condition texts are truncated as snprintf does, returning the full length");
}

/* One explanation; weights into w[3]. */
static cs_status
explain(const cs_model *m, const cs_lime_stats *s, const double *x, int64_t samples, uint64_t seed,
		double width, double *w, cs_lime_result *res, cs_error *err)
{
	static int32_t  bins[3];
	cs_lime_options opt = { samples, seed, width };

	res->weight = w;
	res->bin = bins;
	return cs_lime_explain(m, s, x, &opt, res, err);
}

static void
test_explain(const cs_model *m, const cs_lime_stats *s)
{
	const double   x[3] = { 80, 1, 0.5 }; /* home = bb */
	double         w1[3];
	double         w2[3];
	double         w3[3];
	cs_lime_result r1;
	cs_lime_result r2;
	cs_lime_result r3;
	cs_error       err = { 0 };
	int            ok;

	ok = explain(m, s, x, 5000, 0, NAN, w1, &r1, &err) == CS_OK &&
		 explain(m, s, x, 5000, 0, NAN, w2, &r2, &err) == CS_OK;
	tap_ok(ok && memcmp(w1, w2, sizeof(w1)) == 0 && r1.intercept == r2.intercept &&
			   r1.score == r2.score,
		   "the same seed gives the same explanation, bit for bit");
	ok = explain(m, s, x, 5000, 1, NAN, w3, &r3, &err) == CS_OK;
	tap_ok(ok && memcmp(w1, w3, sizeof(w1)) != 0, "another seed gives other weights");
	tap_ok(fabs(r1.intercept + w1[0] + w1[1] + w1[2] - r1.local_prediction) < 1e-15 &&
			   r1.prediction == cs_model_predict(m, x),
		   "local prediction = intercept + the weights (the instance is all ones); prediction "
		   "is the model's");
	tap_ok(r1.score >= 0 && r1.score <= 1 && r1.kernel_width == 0.75 * sqrt(3.0),
		   "R^2 %.4f in [0, 1]; the kernel width is 0.75 sqrt(3)",
		   r1.score);
	/* a low income in its quartile raises the risk less than the rest of the distribution:
	 * the logistic model's income weight is positive, so its bin weight is negative; home bb
	 * is above the reference level */
	tap_ok(w1[0] < -0.05 && w1[1] > 0.05 && fabs(w1[2]) < 0.01,
		   "weights: income %.4f (low income, lower risk), home = bb %.4f (riskier), noise "
		   "%.4f (the model ignores it: |weight| < 0.01)",
		   w1[0],
		   w1[1],
		   w1[2]);
	tap_ok(fabs(w1[0] - w3[0]) < 0.02 && fabs(w1[1] - w3[1]) < 0.02,
		   "two seeds agree on the weights to 0.02");
	{
		double         wk[3];
		cs_lime_result rk;

		ok = explain(m, s, x, 5000, 0, 0.5, wk, &rk, &err) == CS_OK;
		tap_ok(ok && rk.kernel_width == 0.5 && memcmp(wk, w1, sizeof(wk)) != 0,
			   "kernel_width changes the weights");
	}
	{
		const double   xm[3] = { NAN, -1, 0.5 };
		double         wm[3];
		cs_lime_result rm;

		ok = explain(m, s, xm, 2000, 0, NAN, wm, &rm, &err) == CS_OK;
		tap_ok(ok && rm.bin[0] == s->features[0].num.n_bins && rm.bin[1] == -1 && isfinite(wm[0]) &&
				   isfinite(wm[1]) && rm.score >= 0 && rm.score <= 1,
			   "a missing income is its own bin, an unseen home matches no sample");
	}
}

/* Samples drawn in steps equal those drawn at once, and stay in their bins' ranges. */
static void
test_steps(const cs_model *m, const cs_lime_stats *s)
{
	const double    x[3] = { 150, 0, 0.9 };
	cs_lime_options opt = { 3000, 42, NAN };
	void           *ws = malloc(cs_lime_workspace(3));
	cs_lime_run     run;
	cs_lime_result  res;
	cs_lime_result  once;
	double          w[3];
	double          w_once[3];
	int32_t         bins[3];
	int32_t         bins_once[3];
	cs_error        err = { 0 };
	int             inside = 1;
	int             nulls = 0;
	int             ok;

	ok = cs_lime_start(&run, m, s, x, &opt, ws, &err) == CS_OK;
	while (ok && cs_lime_step(&run, 1) > 0)
	{
		const cs_lime_numeric *inc = &s->features[0].num;
		double                 v = run.input[0];

		if (isnan(v))
			nulls++;
		else
			inside = inside && v >= inc->mins[0] && v <= inc->maxs[inc->n_bins - 1];
		inside = inside && run.input[2] >= 0 && run.input[2] <= 1;
	}
	res.weight = w;
	res.bin = bins;
	ok = ok && cs_lime_finish(&run, &res, &err) == CS_OK;
	once.weight = w_once;
	once.bin = bins_once;
	ok = ok && cs_lime_explain(m, s, x, &opt, &once, &err) == CS_OK;
	tap_ok(ok && memcmp(w, w_once, sizeof(w)) == 0 && res.intercept == once.intercept,
		   "samples drawn one step at a time give the explanation of one call");
	/* 100 of 1,000 training incomes are missing: 10%% of 2,999 draws, give or take */
	tap_ok(inside && nulls > 200 && nulls < 400,
		   "sampled values stay within the training range; %d of 2,999 incomes missing (~10%%)",
		   nulls);
	free(ws);
}

static void
test_errors(const cs_model *m, const cs_lime_stats *s)
{
	const double    x[3] = { 100, 0, 0.5 };
	double          w[3];
	cs_lime_result  res;
	cs_error        err = { 0 };
	cs_lime_feature f[3];
	cs_lime_stats   bad = { 3, f };

	tap_ok(explain(m, s, x, 9, 0, NAN, w, &res, &err) == CS_ERR_INVALID &&
			   strstr(err.msg, "samples") != NULL &&
			   explain(m, s, x, 1000001, 0, NAN, w, &res, &err) == CS_ERR_INVALID,
		   "samples outside 10..1,000,000: CS_ERR_INVALID naming samples");
	tap_ok(explain(m, s, x, 100, 0, -1, w, &res, &err) == CS_ERR_INVALID &&
			   explain(m, s, x, 100, 0, INFINITY, w, &res, &err) == CS_ERR_INVALID,
		   "a kernel width that is not a positive number: CS_ERR_INVALID");
	memcpy(f, s->features, sizeof(f));
	f[1].n_levels = 2;
	tap_ok(explain(m, &bad, x, 100, 0, NAN, w, &res, &err) == CS_ERR_CORRUPT &&
			   strstr(err.msg, "\"home\"") != NULL,
		   "level counts that do not fit the schema: CS_ERR_CORRUPT naming the feature (%s)",
		   err.msg);
	memcpy(f, s->features, sizeof(f));
	f[2].kind = CS_KIND_CATEGORICAL;
	tap_ok(explain(m, &bad, x, 100, 0, NAN, w, &res, &err) == CS_ERR_CORRUPT,
		   "statistics of another kind: CS_ERR_CORRUPT");
	memcpy(f, s->features, sizeof(f));
	f[0].num.quartiles[1] = f[0].num.quartiles[0];
	tap_ok(explain(m, &bad, x, 100, 0, NAN, w, &res, &err) == CS_ERR_CORRUPT,
		   "quartiles that do not increase: CS_ERR_CORRUPT");
	memcpy(f, s->features, sizeof(f));
	f[2].num.stds[0] = 0;
	tap_ok(explain(m, &bad, x, 100, 0, NAN, w, &res, &err) == CS_ERR_CORRUPT,
		   "a zero deviation: CS_ERR_CORRUPT");
	bad.n_features = 2;
	tap_ok(explain(m, &bad, x, 100, 0, NAN, w, &res, &err) == CS_ERR_CORRUPT,
		   "statistics for another number of features: CS_ERR_CORRUPT");
}

int
main(void)
{
	cs_model       *m = lime_model();
	cs_lime_feature f[3];
	cs_lime_stats   s;

	test_quartile_bins();
	test_ridge();
	test_truncnorm();
	lime_stats(f, &s);
	test_conditions(m, &s);
	test_explain(m, &s);
	test_steps(m, &s);
	test_errors(m, &s);
	cs_model_free(m);
	return tap_finish();
}
