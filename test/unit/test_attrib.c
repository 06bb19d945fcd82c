/*
 * test_attrib.c - attributions against reference rows (src/core/attrib.c):
 * KernelSHAP against brute-force Shapley values, single-reference tree
 * Shapley values, the reference sample and its blob section, and the
 * cutoff-matched reference of reason codes.
 *
 * The brute force here is the Shapley formula itself,
 *   phi_i = sum over S not holding i of |S|! (M - |S| - 1)! / M! (v(S + i) - v(S)),
 * with v(S) the mean over the background of the model on the row's values in S
 * and the background row's elsewhere: independent of KernelSHAP's weighted
 * least squares and of the tree walk.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_attrib.h"
#include "cs_fit.h"
#include "tap.h"

#define NF_MAX 16

/* n rows of nf numeric features (a few missing) and a categorical one; a nonlinear label. */
static cs_dataset *
make_data(size_t n, int nf, uint64_t seed)
{
	static const char *levels[] = { "rent", "owner", "parents", "other" };
	char               names[NF_MAX + 1][8];
	const char        *name_ptr[NF_MAX + 1];
	cs_kind            kinds[NF_MAX + 1];
	cs_dataset        *ds;
	cs_rng             rng;
	size_t             r;
	int                j;

	for (j = 0; j <= nf; j++)
	{
		snprintf(names[j], sizeof(names[j]), j < nf ? "x%d" : "home", j);
		name_ptr[j] = names[j];
		kinds[j] = j < nf ? CS_KIND_NUMERIC : CS_KIND_CATEGORICAL;
	}
	ds = cs_dataset_new(nf + 1, name_ptr, kinds, NULL);
	if (ds == NULL || cs_dataset_reserve(ds, n, NULL) != CS_OK)
		abort();
	cs_rng_seed(&rng, seed);
	for (r = 0; r < n; r++)
	{
		double z = 0;
		int    level = (int) (cs_rng_uniform(&rng) * 4);

		for (j = 0; j < nf; j++)
		{
			double x = 2 * cs_rng_uniform(&rng) - 1;

			ds->cols[j].values[r] = cs_rng_uniform(&rng) < 0.03 ? NAN : x;
			z += (j % 2 ? -1.0 : 1.0) * x / (1 + j);
		}
		z += 1.5 * ds->cols[0].values[r] * ds->cols[1].values[r] * (isnan(z) ? 0 : 1);
		z += level == 2 ? 1.0 : 0.0;
		ds->cols[nf].values[r] =
			cs_strdict_intern(ds->cols[nf].dict, levels[level], strlen(levels[level]));
		ds->label[r] = cs_rng_uniform(&rng) < 1 / (1 + exp(-3 * (isnan(z) ? 0 : z)));
	}
	ds->n_rows = n;
	return ds;
}

static size_t *
all_rows(size_t n)
{
	size_t *rows = malloc(sizeof(size_t) * n);
	size_t  i;

	for (i = 0; i < n; i++)
		rows[i] = i;
	return rows;
}

static cs_model *
fit(cs_model_type type, const cs_dataset *ds, const size_t *rows, size_t n)
{
	static const int32_t hidden[1] = { 8 };
	cs_train_params      p;
	cs_model            *m = NULL;
	cs_error             err;

	memset(&p, 0, sizeof(p));
	p.type = type;
	p.seed = 7;
	p.threads = 1;
	p.logreg.C = 1;
	p.logreg.penalty = 1;
	p.logreg.max_iter = 100;
	p.logreg.tol = 1e-10;
	cs_gbm_params_default(&p.gbm);
	p.gbm.n_estimators = 20;
	p.gbm.max_depth = 4;
	cs_forest_params_default(&p.forest);
	p.forest.n_estimators = 10;
	p.forest.max_depth = 5;
	cs_mlp_params_default(&p.mlp);
	p.mlp.n_hidden = 1;
	p.hidden[0] = hidden[0];
	p.mlp.hidden = p.hidden;
	p.mlp.epochs = 30;
	p.mlp.activation = CS_MLP_TANH;
	p.mlp.seed = 7;
	if (cs_fit_model(&p, ds, rows, n, NULL, 0, NULL, NULL, &m, &err) != CS_OK)
	{
		fprintf(stderr, "# fit failed: %s\n", err.msg);
		abort();
	}
	return m;
}

/* v(S) for a coalition given as a bit mask over the features. */
static double
coalition_value(const cs_model *m, const double *x, const double *bg, int n_bg, unsigned mask)
{
	int    nf = m->schema.n_features;
	double h[NF_MAX + 1];
	double v = 0;
	int    b, j;

	for (b = 0; b < n_bg; b++)
	{
		for (j = 0; j < nf; j++)
			h[j] = (mask >> j) & 1 ? x[j] : bg[b * nf + j];
		v += cs_explain_value(m, h);
	}
	return v / n_bg;
}

/* The Shapley formula over all 2^nf coalitions. */
static void
brute_force(const cs_model *m, const double *x, const double *bg, int n_bg, double *phi)
{
	int      nf = m->schema.n_features;
	unsigned full = (1u << nf);
	double  *v = malloc(sizeof(double) * full);
	double   fact[NF_MAX + 2];
	unsigned s;
	int      i;

	fact[0] = 1;
	for (i = 1; i <= nf + 1; i++)
		fact[i] = fact[i - 1] * i;
	for (s = 0; s < full; s++)
		v[s] = coalition_value(m, x, bg, n_bg, s);
	for (i = 0; i < nf; i++)
	{
		phi[i] = 0;
		for (s = 0; s < full; s++)
			if (!((s >> i) & 1))
			{
				int size = __builtin_popcount(s);

				phi[i] += fact[size] * fact[nf - size - 1] / fact[nf] * (v[s | (1u << i)] - v[s]);
			}
	}
	phi[nf] = v[0];
	free(v);
}

static double
max_diff(const double *a, const double *b, int n)
{
	double d = 0;
	int    i;

	for (i = 0; i < n; i++)
		d = fmax(d, fabs(a[i] - b[i]));
	return d;
}

/* A progress callback that asks to stop. */
static int
stop_at_once(void *ctx, double fraction, const char *message)
{
	(void) ctx;
	(void) fraction;
	(void) message;
	return 1;
}

/* ----------------------------------------------------------------- tests */

static void
test_kernel_exact(void)
{
	cs_dataset *ds = make_data(800, 6, 1);
	size_t     *rows = all_rows(800);
	cs_model   *m = fit(CS_MODEL_DNN, ds, rows, 800);
	cs_error    err;
	double      phi[NF_MAX + 1], ref[NF_MAX + 1];
	double      worst = 0, worst_sum = 0;
	int         nf = m->schema.n_features;
	int         t, j;

	tap_ok(cs_reference_build(m, ds, rows, 800, 3, 20, &err) == CS_OK && m->reference.n_rows == 20,
		   "a 20-row reference sample of a 7-feature network");
	for (t = 0; t < 10; t++)
	{
		const double *x = m->reference.inputs + (size_t) ((t * 7) % 20) * nf;
		double        sum = 0;
		double        xin[NF_MAX + 1];

		memcpy(xin, x, sizeof(double) * nf);
		if (t >= 5)
			xin[t % nf] = NAN; /* a missing value too */
		if (cs_kernel_shap(m,
						   xin,
						   m->reference.inputs,
						   NULL,
						   20,
						   2 * nf + 2048,
						   0,
						   NULL,
						   NULL,
						   phi,
						   &err) != CS_OK)
			printf("# %s\n", err.msg);
		brute_force(m, xin, m->reference.inputs, 20, ref);
		worst = fmax(worst, max_diff(phi, ref, nf + 1));
		for (j = 0; j <= nf; j++)
			sum += phi[j];
		worst_sum = fmax(worst_sum, fabs(sum - cs_explain_value(m, xin)));
	}
	tap_ok(worst < 1e-9,
		   "KernelSHAP with every coalition equals brute-force Shapley values (max diff %.2g)",
		   worst);
	tap_ok(worst_sum < 1e-9, "values and base sum to the margin (max diff %.2g)", worst_sum);
	cs_model_free(m);
	cs_dataset_free(ds);
	free(rows);
}

static void
test_kernel_converges(void)
{
	cs_dataset *ds = make_data(800, 11, 2);
	size_t     *rows = all_rows(800);
	cs_model   *m = fit(CS_MODEL_DNN, ds, rows, 800);
	cs_error    err;
	int         nf = m->schema.n_features; /* 12: 4094 proper coalitions */
	double      exact[NF_MAX + 1], phi[NF_MAX + 1], again[NF_MAX + 1];
	double      e_small = 0, e_mid = 0, e_large = 0, e_all = 0;
	int         t;
	int         ok = 1;

	cs_reference_build(m, ds, rows, 800, 3, 10, &err);
	for (t = 0; t < 5; t++)
	{
		const double *x = m->reference.inputs + (size_t) (t + 5) * nf;
		const double *bg = m->reference.inputs;

		brute_force(m, x, bg, 5, exact);
		ok &= cs_kernel_shap(m, x, bg, NULL, 5, 100, 1, NULL, NULL, phi, &err) == CS_OK;
		e_small += max_diff(phi, exact, nf);
		ok &= cs_kernel_shap(m, x, bg, NULL, 5, 1000, 1, NULL, NULL, phi, &err) == CS_OK;
		e_mid += max_diff(phi, exact, nf);
		ok &= cs_kernel_shap(m, x, bg, NULL, 5, 3500, 1, NULL, NULL, phi, &err) == CS_OK;
		e_large += max_diff(phi, exact, nf);
		ok &= cs_kernel_shap(m, x, bg, NULL, 5, 3500, 1, NULL, NULL, again, &err) == CS_OK;
		ok &= memcmp(phi, again, sizeof(double) * (nf + 1)) == 0;
		ok &= cs_kernel_shap(m, x, bg, NULL, 5, 4094, 1, NULL, NULL, phi, &err) == CS_OK;
		e_all += max_diff(phi, exact, nf);
	}
	tap_ok(ok, "KernelSHAP runs with 100 to 4094 samples and repeats itself exactly");
	tap_ok(e_large < e_small && e_mid < e_small,
		   "sampled values converge: mean max error %.3g (100), %.3g (1000), %.3g (3500)",
		   e_small / 5,
		   e_mid / 5,
		   e_large / 5);
	tap_ok(e_large / 5 < 0.05, "with 3500 of 4094 coalitions the error is below 0.05");
	tap_ok(e_all / 5 < 1e-9, "with all 4094 coalitions the values are exact (%.2g)", e_all / 5);
	ok = cs_kernel_shap(m,
						m->reference.inputs + nf,
						m->reference.inputs,
						NULL,
						5,
						2000,
						2,
						NULL,
						NULL,
						again,
						&err) == CS_OK &&
		 cs_kernel_shap(m,
						m->reference.inputs + nf,
						m->reference.inputs,
						NULL,
						5,
						2000,
						1,
						NULL,
						NULL,
						phi,
						&err) == CS_OK;
	tap_ok(ok && memcmp(phi, again, sizeof(double) * nf) != 0, "another seed samples otherwise");
	tap_ok(cs_kernel_shap(m,
						  m->reference.inputs + nf,
						  m->reference.inputs,
						  NULL,
						  5,
						  2000,
						  1,
						  stop_at_once,
						  NULL,
						  phi,
						  &err) == CS_ERR_CANCELLED,
		   "a progress callback that says stop cancels: CS_ERR_CANCELLED");
	/* a row equal to the only background row: every value 0, base = its margin */
	ok = cs_kernel_shap(m,
						m->reference.inputs,
						m->reference.inputs,
						NULL,
						1,
						100,
						0,
						NULL,
						NULL,
						phi,
						&err) == CS_OK;
	for (t = 0; t < nf; t++)
		ok &= phi[t] == 0;
	tap_ok(ok && phi[nf] == cs_explain_value(m, m->reference.inputs),
		   "no feature varies: all values 0");
	tap_ok(cs_kernel_shap(m,
						  m->reference.inputs,
						  m->reference.inputs,
						  NULL,
						  0,
						  100,
						  0,
						  NULL,
						  NULL,
						  phi,
						  &err) == CS_ERR_INVALID,
		   "no background rows: CS_ERR_INVALID");
	cs_model_free(m);
	cs_dataset_free(ds);
	free(rows);
}

/* Exact single-reference (and reference-set) values of trees and of the linear model. */
static void
test_reference_exact(void)
{
	cs_dataset   *ds = make_data(1000, 6, 4);
	size_t       *rows = all_rows(1000);
	cs_model_type types[3] = { CS_MODEL_XGBOOST,
							   CS_MODEL_RANDOM_FOREST,
							   CS_MODEL_LOGISTIC_REGRESSION };
	const char   *names[3] = { "boosting", "forest", "logistic regression" };
	cs_error      err;
	int           k;

	for (k = 0; k < 3; k++)
	{
		cs_model *m = fit(types[k], ds, rows, 1000);
		int       nf = m->schema.n_features;
		double    phi[NF_MAX + 1], exact[NF_MAX + 1];
		double    worst = 0, worst_sum = 0;
		int       t, j;

		cs_reference_build(m, ds, rows, 1000, 5, 30, &err);
		for (t = 0; t < 8; t++)
		{
			const double *x = m->reference.inputs + (size_t) (20 + t) * nf;
			const double *refs = m->reference.inputs + (size_t) (t % 3) * nf;
			int           n_refs = 1 + t % 4;
			double        sum = 0;

			if (cs_reference_shap(m, x, refs, NULL, n_refs, 100, 0, NULL, NULL, phi, &err) != CS_OK)
				printf("# %s\n", err.msg);
			brute_force(m, x, refs, n_refs, exact);
			worst = fmax(worst, max_diff(phi, exact, nf + 1));
			for (j = 0; j <= nf; j++)
				sum += phi[j];
			worst_sum = fmax(worst_sum, fabs(sum - cs_explain_value(m, x)));
		}
		/* boosting sums its leaves in single precision, as XGBoost does */
		tap_ok(worst < (types[k] == CS_MODEL_XGBOOST ? 1e-6 : 1e-12),
			   "%s: values against 1-4 reference rows equal brute-force Shapley values (%.2g)",
			   names[k],
			   worst);
		tap_ok(worst_sum < 1e-6, "%s: they sum to the row's value (%.2g)", names[k], worst_sum);
		cs_model_free(m);
	}
	cs_dataset_free(ds);
	free(rows);
}

static void
test_reference_sample(void)
{
	cs_dataset *ds = make_data(500, 4, 5);
	size_t     *rows = all_rows(500);
	size_t     *reversed = all_rows(500);
	cs_model   *m = fit(CS_MODEL_LOGISTIC_REGRESSION, ds, rows, 500);
	cs_model   *copy = NULL;
	cs_error    err;
	double     *first;
	int         nf = m->schema.n_features;
	int32_t     idx[10];
	uint8_t    *blob = NULL;
	size_t      len = 0;
	int         i, ok = 1;

	for (i = 0; i < 500; i++)
		reversed[i] = 499 - (size_t) i;
	cs_reference_build(m, ds, rows, 500, 9, 50, &err);
	first = malloc(sizeof(double) * 50 * nf);
	memcpy(first, m->reference.inputs, sizeof(double) * 50 * nf);
	cs_reference_build(m, ds, reversed, 500, 9, 50, &err);
	tap_ok(m->reference.n_rows == 50 &&
			   memcmp(first, m->reference.inputs, sizeof(double) * 50 * nf) == 0,
		   "the reference sample does not depend on the rows' order");
	for (i = 0; i < 50; i++)
		ok &= m->reference.values[i] == cs_explain_value(m, m->reference.inputs + i * nf);
	tap_ok(ok, "each reference row keeps its margin");
	cs_reference_build(m, ds, rows, 500, 10, 50, &err);
	tap_ok(memcmp(first, m->reference.inputs, sizeof(double) * 50 * nf) != 0,
		   "another seed samples other rows");

	/* nearest: by |value - target|, ties in position order */
	{
		cs_reference r = { 6, 1, NULL, NULL };
		double       v[6] = { 0.5, -1, 0.2, 0.8, 0.2, 3 };

		r.values = v;
		tap_ok(cs_reference_nearest(&r, 0.3, 3, idx) == 3 && idx[0] == 2 && idx[1] == 4 &&
				   idx[2] == 0,
			   "the nearest rows to a target, ties in order");
		tap_ok(cs_reference_nearest(&r, 10, 10, idx) == 6 && idx[0] == 5 && idx[5] == 1,
			   "asking for more rows than there are gives them all");
	}

	/* the blob keeps the sample (version 2) */
	ok = cs_blob_encode(m, &blob, &len, &err) == CS_OK && blob[4] == 2 &&
		 cs_blob_decode(blob, len, &copy, &err) == CS_OK;
	tap_ok(ok && copy->reference.n_rows == 50 &&
			   memcmp(copy->reference.inputs, m->reference.inputs, sizeof(double) * 50 * nf) == 0 &&
			   memcmp(copy->reference.values, m->reference.values, sizeof(double) * 50) == 0,
		   "a version 2 blob keeps the reference sample");
	cs_model_free(copy);
	copy = NULL;
	{
		/* a categorical level out of range in the sample: corrupt */
		size_t   at = len - 50 * 8 - 8 * (size_t) (50 * nf) + 8 * (size_t) (nf - 1);
		double   bad = 7;
		uint32_t crc;

		memcpy(blob + at, &bad, 8);
		crc = cs_crc32c(0, blob + 16, len - 16);
		memcpy(blob + 12, &crc, 4);
		tap_ok(cs_blob_decode(blob, len, &copy, &err) == CS_ERR_CORRUPT &&
				   strstr(err.msg, "level 7 of \"home\"") != NULL,
			   "a reference level out of range is corrupt: %s",
			   err.msg);
	}
	cs_free(blob);
	cs_reference_build(m, ds, rows, 500, 9, 0, &err);
	ok = cs_blob_encode(m, &blob, &len, &err) == CS_OK && blob[4] == 1 &&
		 cs_blob_decode(blob, len, &copy, &err) == CS_OK && copy->reference.n_rows == 0;
	tap_ok(ok, "a model without a sample is written as version 1 and read back");
	cs_model_free(copy);
	cs_free(blob);
	cs_model_free(m);
	cs_dataset_free(ds);
	free(rows);
	free(reversed);
	free(first);
}

static void
test_cutoff(void)
{
	cs_dataset   *ds = make_data(2000, 5, 6);
	size_t       *rows = all_rows(2000);
	cs_model     *m = fit(CS_MODEL_XGBOOST, ds, rows, 2000);
	cs_error      err;
	int           nf = m->schema.n_features;
	double        phi[NF_MAX + 1];
	double        ref_score = 0;
	double        sum = 0;
	const double *x;
	int           j;
	int           ok;

	tap_ok(cs_cutoff_shap(m, m->reference.inputs, 0.5, 100, 0, NULL, NULL, phi, &ref_score, &err) ==
			   CS_ERR_INVALID,
		   "no reference sample: CS_ERR_INVALID");
	cs_reference_build(m, ds, rows, 2000, 1, 500, &err);
	x = m->reference.inputs + 17 * nf;
	ok = cs_cutoff_shap(m, x, 0.3, 100, 0, NULL, NULL, phi, &ref_score, &err) == CS_OK;
	tap_ok(ok && fabs(ref_score - 0.3) < 1e-12,
		   "the weighted cutoff reference scores the cutoff (%.15f for 0.3)",
		   ref_score);
	for (j = 0; j <= nf; j++)
		sum += phi[j];
	tap_ok(fabs(sum - cs_explain_value(m, x)) < 1e-6 &&
			   fabs(1 / (1 + exp(-phi[nf])) - ref_score) < 1e-12,
		   "values sum to the margin from the cutoff's margin");
	/* the network: KernelSHAP against the same weighted rows sums the same way */
	{
		cs_model *net = fit(CS_MODEL_DNN, ds, rows, 2000);

		cs_reference_build(net, ds, rows, 2000, 1, 500, &err);
		ok = cs_cutoff_shap(net, x, 0.3, 2048, 0, NULL, NULL, phi, &ref_score, &err) == CS_OK;
		for (sum = 0, j = 0; j <= nf; j++)
			sum += phi[j];
		tap_ok(ok && fabs(ref_score - 0.3) < 1e-12 && fabs(sum - cs_explain_value(net, x)) < 1e-9,
			   "network: the same with KernelSHAP over the weighted reference");
		cs_model_free(net);
	}
	tap_ok(cs_cutoff_shap(m, x, 1, 100, 0, NULL, NULL, phi, &ref_score, &err) == CS_ERR_INVALID,
		   "cutoff 1: CS_ERR_INVALID");
	cs_model_free(m);
	cs_dataset_free(ds);
	free(rows);
}

int
main(void)
{
	cs_error err;

	if (cs_linalg_load(NULL, 1, &err) != CS_OK)
	{
		printf("1..0 # SKIP no BLAS: %s\n", err.msg);
		return 0;
	}
	test_kernel_exact();
	test_kernel_converges();
	test_reference_exact();
	test_reference_sample();
	test_cutoff();
	return tap_finish();
}
