/*
 * model.c - a fitted model: preparation for scoring, scoring, freeing.
 *
 * cs_model_prepare folds the standardisation into the weights once, so that
 * scoring one row is a single pass over the features with no allocation and
 * no BLAS:
 *   numeric      slope w/sd on the raw value; the intercept absorbs -w*mean/sd;
 *                a missing value adds the indicator's weight plus w*mean/sd
 *                (undoing the absorbed term, since it encodes as 0)
 *   categorical  the weight of the level (0 for the reference level and an
 *                unseen category); a missing value adds the indicator's weight
 */
#include <math.h>
#include <string.h>

#include "cs_core.h"
#include "cs_mlp.h"
#include "cs_trees.h"

/* Frees the folded coefficients. */
static void
free_folded(cs_logreg *lr)
{
	cs_free(lr->fold_coef);
	cs_free(lr->fold_missing);
	cs_free(lr->fold_level);
	cs_free(lr->fold_level_start);
	lr->fold_coef = NULL;
	lr->fold_missing = NULL;
	lr->fold_level = NULL;
	lr->fold_level_start = NULL;
}

/* Folds one feature's design weights into its scoring coefficients. */
static void
fold_feature(const cs_feature *f, int32_t j, cs_logreg *lr)
{
	const double *w = lr->coef + 1 + f->design_offset;
	double        missing_weight = f->has_missing ? w[f->design_width - 1] : 0.0;
	int32_t       k;

	lr->fold_coef[j] = 0.0;
	lr->fold_missing[j] = missing_weight;
	if (f->kind == CS_KIND_NUMERIC)
	{
		lr->fold_coef[j] = w[0] / f->sd;
		lr->fold_intercept -= w[0] * f->mean / f->sd;
		lr->fold_missing[j] += w[0] * f->mean / f->sd;
		return;
	}
	for (k = 0; k < f->n_levels; k++)
		lr->fold_level[lr->fold_level_start[j] + k] = k == 0 ? 0.0 : w[k - 1];
}

/* Lays out fold_level: each categorical feature's levels, one after another. */
static cs_status
allocate_folded(const cs_schema *s, cs_logreg *lr, cs_error *err)
{
	size_t  nf = (size_t) (s->n_features > 0 ? s->n_features : 1);
	size_t  total = 0;
	int32_t j;

	lr->fold_coef = cs_calloc(nf, sizeof(double));
	lr->fold_missing = cs_calloc(nf, sizeof(double));
	lr->fold_level_start = cs_calloc(nf, sizeof(int32_t));
	if (lr->fold_coef == NULL || lr->fold_missing == NULL || lr->fold_level_start == NULL)
		return cs_fail(err, CS_ERR_NOMEM, "out of memory preparing the model");
	for (j = 0; j < s->n_features; j++)
	{
		if (total > INT32_MAX)
			return cs_fail(err, CS_ERR_INVALID, "the model has too many levels");
		lr->fold_level_start[j] = (int32_t) total;
		if (s->features[j].kind == CS_KIND_CATEGORICAL)
			total += (size_t) s->features[j].n_levels;
	}
	lr->fold_level = cs_calloc(total > 0 ? total : 1, sizeof(double));
	if (lr->fold_level == NULL)
		return cs_fail(err, CS_ERR_NOMEM, "out of memory preparing the model");
	return CS_OK;
}

/* Precomputes what scoring needs: design layout, level lookups, folded weights. */
cs_status
cs_model_prepare(cs_model *m, cs_error *err)
{
	cs_logreg *lr = &m->u.logreg;
	int32_t    j;
	cs_status  st;

	if (m->type != CS_MODEL_LOGISTIC_REGRESSION && m->type != CS_MODEL_XGBOOST &&
		m->type != CS_MODEL_RANDOM_FOREST && m->type != CS_MODEL_DNN)
		return cs_fail(err, CS_ERR_INVALID, "unknown model type %d", (int) m->type);
	st = cs_schema_index(&m->schema, err);
	if (st != CS_OK)
		return st;
	if (m->type == CS_MODEL_DNN)
	{
		if (m->u.mlp == NULL || m->u.mlp->units[0] != m->schema.design_width)
			return cs_fail(err,
						   CS_ERR_INVALID,
						   "the network's input width does not match its schema's design");
		st = cs_mlp_check(m->u.mlp, err);
		return st != CS_OK ? st : cs_mlp_prepare(m->u.mlp, err);
	}
	if (m->type != CS_MODEL_LOGISTIC_REGRESSION)
	{
		/* a tree ensemble scores the inputs directly: only a faster layout of its trees */
		if (m->u.ensemble == NULL || m->u.ensemble->n_features != m->schema.n_features)
			return cs_fail(err,
						   CS_ERR_INVALID,
						   "the ensemble's feature count does not match its schema");
		return cs_ensemble_prepare(m->u.ensemble, err);
	}
	if (lr->coef == NULL || lr->p != m->schema.design_width)
		return cs_fail(err,
					   CS_ERR_INVALID,
					   "the model has %d weights but its schema encodes %d columns",
					   (int) lr->p,
					   (int) m->schema.design_width);
	free_folded(lr);
	st = allocate_folded(&m->schema, lr, err);
	if (st != CS_OK)
	{
		free_folded(lr);
		return st;
	}
	lr->fold_intercept = lr->coef[0];
	for (j = 0; j < m->schema.n_features; j++)
		fold_feature(&m->schema.features[j], j, lr);
	return CS_OK;
}

/*
 * An ensemble's score of an input whose unseen categories (-1) are read as
 * level 0, the most frequent one, as the linear encoding reads them: a tree
 * would otherwise send them wherever a split put the values below level 0,
 * which may be the missing values' side.
 */
static double
ensemble_output(const cs_model *m, const double *input, int margin)
{
	int32_t j;
	double  out;
	double  local[64];
	double *copy;

	for (j = 0; j < m->schema.n_features; j++)
		if (m->schema.features[j].kind == CS_KIND_CATEGORICAL && input[j] < 0)
			break;
	if (j == m->schema.n_features)
		return margin ? cs_ensemble_margin(m->u.ensemble, input) :
						cs_ensemble_predict(m->u.ensemble, input);
	/* no allocation on the scoring path unless the model is wide */
	copy = m->schema.n_features <= 64 ? local :
										cs_malloc(sizeof(double) * (size_t) m->schema.n_features);
	if (copy == NULL)
		return NAN;
	memcpy(copy, input, sizeof(double) * (size_t) m->schema.n_features);
	for (; j < m->schema.n_features; j++)
		if (m->schema.features[j].kind == CS_KIND_CATEGORICAL && copy[j] < 0)
			copy[j] = 0;
	out =
		margin ? cs_ensemble_margin(m->u.ensemble, copy) : cs_ensemble_predict(m->u.ensemble, copy);
	cs_free(copy);
	return out;
}

/* Margin (log-odds) for one scoring input, from the folded coefficients. */
double
cs_model_margin(const cs_model *m, const double *input)
{
	const cs_logreg *lr = &m->u.logreg;
	double           margin = lr->fold_intercept;
	int32_t          j;

	if (m->type == CS_MODEL_DNN)
	{
		/* the log-odds of the network's probability, kept off the extremes */
		double p = cs_mlp_predict_input(m->u.mlp, &m->schema, input);

		p = p < 1e-15 ? 1e-15 : (p > 1 - 1e-15 ? 1 - 1e-15 : p);
		return log(p / (1 - p));
	}
	if (m->type != CS_MODEL_LOGISTIC_REGRESSION)
		return ensemble_output(m, input, 1);
	for (j = 0; j < m->schema.n_features; j++)
	{
		const cs_feature *f = &m->schema.features[j];
		double            x = input[j];

		if (isnan(x))
			margin += lr->fold_missing[j];
		else if (f->kind == CS_KIND_NUMERIC)
			margin += lr->fold_coef[j] * x;
		else if (x >= 0.0 && x < (double) f->n_levels)
			margin += lr->fold_level[lr->fold_level_start[j] + (int32_t) x];
		/* an unseen category (-1) scores as the reference level: adds 0 */
	}
	return margin;
}

/* Probability of the positive class, 1 / (1 + exp(-margin)) without overflow. */
double
cs_model_predict(const cs_model *m, const double *input)
{
	double z;
	double e;

	/* a forest's probability is its mean leaf probability, not a logistic */
	if (m->type == CS_MODEL_DNN)
		return cs_mlp_predict_input(m->u.mlp, &m->schema, input);
	if (m->type != CS_MODEL_LOGISTIC_REGRESSION)
		return ensemble_output(m, input, 0);
	z = cs_model_margin(m, input);
	if (z >= 0.0)
		return 1.0 / (1.0 + exp(-z));
	e = exp(z);
	return e / (1.0 + e);
}

/* Frees m and everything it owns; NULL is fine. */
void
cs_model_free(cs_model *m)
{
	if (m == NULL)
		return;
	cs_free(m->meta.target);
	cs_free(m->meta.positive);
	cs_schema_free(&m->schema);
	cs_free(m->reference.inputs);
	cs_free(m->reference.values);
	if (m->type == CS_MODEL_LOGISTIC_REGRESSION)
	{
		cs_free(m->u.logreg.coef);
		free_folded(&m->u.logreg);
	}
	else if (m->type == CS_MODEL_DNN)
	{
		if (m->u.mlp != NULL)
			cs_mlp_free(m->u.mlp);
		cs_free(m->u.mlp);
	}
	else if (m->u.ensemble != NULL)
	{
		cs_ensemble_free(m->u.ensemble);
		cs_free(m->u.ensemble);
	}
	cs_free(m);
}

/* The SQL-visible name of a model type. */
const char *
cs_model_type_name(cs_model_type t)
{
	switch (t)
	{
		case CS_MODEL_LOGISTIC_REGRESSION:
			return "logistic_regression";
		case CS_MODEL_XGBOOST:
			return "xgboost";
		case CS_MODEL_RANDOM_FOREST:
			return "random_forest";
		case CS_MODEL_DNN:
			return "dnn";
	}
	return "unknown";
}
