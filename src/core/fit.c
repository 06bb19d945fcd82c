/*
 * fit.c - fitting a model of any family on rows of a dataset; stratified
 * k-fold assignment for cross-validation.
 */
#include "cs_fit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Fits a logistic regression on the linear design of the learned schema. */
static cs_status
fit_logreg(const cs_train_params *params, const cs_dataset *ds, const size_t *rows, size_t n,
		   cs_progress_fn progress, void *ctx, cs_model *m, cs_error *err)
{
	int32_t   p = m->schema.design_width;
	double   *X = NULL;
	uint8_t  *y;
	size_t    i;
	cs_status st;

	y = cs_malloc(n > 0 ? n : 1);
	m->u.logreg.p = p;
	m->u.logreg.coef = cs_calloc((size_t) p + 1, sizeof(double));
	if (y == NULL || m->u.logreg.coef == NULL)
	{
		cs_free(y);
		return cs_fail(err, CS_ERR_NOMEM, "out of memory for logistic regression");
	}
	for (i = 0; i < n; i++)
		y[i] = ds->label[rows[i]];
	st = cs_schema_design(&m->schema, ds, rows, n, &X, err);
	if (st == CS_OK)
		st = cs_logreg_fit(X,
						   y,
						   n,
						   p,
						   &params->logreg,
						   m->u.logreg.coef,
						   &m->u.logreg.n_iter,
						   progress,
						   ctx,
						   err);
	cs_free(X);
	cs_free(y);
	return st;
}

/* Boosting's monotone constraints by feature index, from their names. */
static cs_status
resolve_monotone(const cs_train_params *params, const cs_schema *s, int8_t **out, cs_error *err)
{
	int32_t i;
	int32_t j;

	*out = NULL;
	if (params->n_monotone == 0)
		return CS_OK;
	*out = cs_calloc((size_t) (s->n_features > 0 ? s->n_features : 1), 1);
	if (*out == NULL)
		return cs_fail(err, CS_ERR_NOMEM, "out of memory for the monotone constraints");
	for (i = 0; i < params->n_monotone; i++)
	{
		for (j = 0; j < s->n_features; j++)
			if (strcmp(s->features[j].name, params->monotone_names[i]) == 0)
				break;
		if (j == s->n_features)
			return cs_fail(err,
						   CS_ERR_INVALID,
						   "a monotone constraint names \"%s\", which is not a feature",
						   params->monotone_names[i]);
		if (s->features[j].kind != CS_KIND_NUMERIC && params->monotone_dirs[i] != 0)
			return cs_fail(err,
						   CS_ERR_INVALID,
						   "feature \"%s\" is categorical: a monotone constraint needs an order",
						   params->monotone_names[i]);
		(*out)[j] = params->monotone_dirs[i];
	}
	return CS_OK;
}

/* The tree inputs (scoring inputs and labels) of rows. */
static cs_status
tree_inputs(const cs_model *m, const cs_dataset *ds, const size_t *rows, size_t n, double **x,
			uint8_t **y, cs_tree_data *d, cs_error *err)
{
	size_t i;

	*x = NULL;
	*y = cs_malloc(n > 0 ? n : 1);
	if (*y == NULL)
		return cs_fail(err, CS_ERR_NOMEM, "out of memory for the labels");
	for (i = 0; i < n; i++)
		(*y)[i] = ds->label[rows[i]];
	if (cs_schema_inputs(&m->schema, ds, rows, n, x, err) != CS_OK)
		return err->code;
	cs_tree_data_rows(d, *x, n, m->schema.n_features, *y);
	return CS_OK;
}

/* Fits a boosted ensemble on the scoring inputs. */
static cs_status
fit_gbm(const cs_train_params *params, const cs_dataset *ds, const size_t *rows, size_t n,
		const size_t *valid, size_t n_valid, cs_progress_fn progress, void *ctx, cs_model *m,
		cs_error *err)
{
	cs_gbm_params g = params->gbm;
	cs_gbm_result res;
	cs_tree_data  train;
	cs_tree_data  vd;
	double       *x = NULL;
	double       *vx = NULL;
	uint8_t      *y = NULL;
	uint8_t      *vy = NULL;
	int8_t       *mono = NULL;
	cs_status     st;

	memset(&res, 0, sizeof(res));
	g.seed = params->seed;
	g.threads = params->threads > 0 ? params->threads : 1;
	st = resolve_monotone(params, &m->schema, &mono, err);
	if (st == CS_OK)
	{
		g.monotone_constraints = mono;
		st = tree_inputs(m, ds, rows, n, &x, &y, &train, err);
	}
	if (st == CS_OK && n_valid > 0)
		st = tree_inputs(m, ds, valid, n_valid, &vx, &vy, &vd, err);
	if (st == CS_OK)
		st = cs_gbm_train(&g, &train, n_valid > 0 ? &vd : NULL, progress, ctx, &res, err);
	if (st == CS_OK)
	{
		m->u.ensemble = cs_malloc(sizeof(cs_ensemble));
		if (m->u.ensemble == NULL)
			st = cs_fail(err, CS_ERR_NOMEM, "out of memory for the ensemble");
		else
		{
			*m->u.ensemble = res.model;
			memset(&res.model, 0, sizeof(res.model));
			m->info.n_rounds = res.n_rounds;
			m->info.best_iteration = res.best_iteration;
		}
	}
	cs_gbm_result_free(&res);
	cs_free(mono);
	cs_free(x);
	cs_free(y);
	cs_free(vx);
	cs_free(vy);
	return st;
}

/* Fits a random forest on the scoring inputs. */
static cs_status
fit_forest(const cs_train_params *params, const cs_dataset *ds, const size_t *rows, size_t n,
		   cs_progress_fn progress, void *ctx, cs_model *m, cs_error *err)
{
	cs_forest_params f = params->forest;
	cs_forest_result res;
	cs_tree_data     train;
	double          *x = NULL;
	uint8_t         *y = NULL;
	cs_status        st;

	memset(&res, 0, sizeof(res));
	f.seed = params->seed;
	f.threads = params->threads > 0 ? params->threads : 1;
	st = tree_inputs(m, ds, rows, n, &x, &y, &train, err);
	if (st == CS_OK)
		st = cs_forest_params_check(&f, m->schema.n_features, err);
	if (st == CS_OK)
		st = cs_forest_train(&f, &train, progress, ctx, &res, err);
	if (st == CS_OK)
	{
		m->u.ensemble = cs_malloc(sizeof(cs_ensemble));
		if (m->u.ensemble == NULL)
			st = cs_fail(err, CS_ERR_NOMEM, "out of memory for the forest");
		else
		{
			*m->u.ensemble = res.model;
			memset(&res.model, 0, sizeof(res.model));
			m->info.oob_auc = res.oob_auc;
		}
	}
	cs_forest_result_free(&res);
	cs_free(x);
	cs_free(y);
	return st;
}

/* Fits a dense network on the linear design (and the validation rows' design). */
static cs_status
fit_mlp(const cs_train_params *params, const cs_dataset *ds, const size_t *rows, size_t n,
		const size_t *valid, size_t n_valid, cs_progress_fn progress, void *ctx, cs_model *m,
		cs_error *err)
{
	cs_mlp_params np = params->mlp;
	double       *X = NULL;
	double       *Xv = NULL;
	uint8_t      *y = cs_malloc(n > 0 ? n : 1);
	uint8_t      *yv = cs_malloc(n_valid > 0 ? n_valid : 1);
	size_t        i;
	cs_status     st;

	np.hidden = params->hidden;
	np.seed = params->seed;
	m->u.mlp = cs_calloc(1, sizeof(cs_mlp));
	if (y == NULL || yv == NULL || m->u.mlp == NULL)
	{
		cs_free(y);
		cs_free(yv);
		return cs_fail(err, CS_ERR_NOMEM, "out of memory for the network");
	}
	for (i = 0; i < n; i++)
		y[i] = ds->label[rows[i]];
	for (i = 0; i < n_valid; i++)
		yv[i] = ds->label[valid[i]];
	st = cs_mlp_design_rows(&m->schema, ds, rows, n, &X, err);
	if (st == CS_OK && n_valid > 0)
		st = cs_mlp_design_rows(&m->schema, ds, valid, n_valid, &Xv, err);
	if (st == CS_OK)
		st = cs_mlp_fit(X,
						y,
						n,
						m->schema.design_width,
						Xv,
						yv,
						n_valid,
						&np,
						m->u.mlp,
						progress,
						ctx,
						err);
	cs_free(X);
	cs_free(Xv);
	cs_free(y);
	cs_free(yv);
	return st;
}

/* Learns the feature schema on rows and fits the model. */
cs_status
cs_fit_model(const cs_train_params *params, const cs_dataset *ds, const size_t *rows, size_t n,
			 const size_t *valid, size_t n_valid, cs_progress_fn progress, void *ctx,
			 cs_model **out, cs_error *err)
{
	cs_model *m = cs_calloc(1, sizeof(cs_model));
	cs_status st;

	*out = NULL;
	if (m == NULL)
		return cs_fail(err, CS_ERR_NOMEM, "out of memory for the model");
	m->type = params->type;
	m->meta.seed = params->seed;
	m->meta.n_train = n;
	m->info.oob_auc = NAN;
	st = cs_schema_learn(ds, rows, n, &m->schema, err);
	if (st == CS_OK)
	{
		switch (params->type)
		{
			case CS_MODEL_LOGISTIC_REGRESSION:
				st = fit_logreg(params, ds, rows, n, progress, ctx, m, err);
				m->info.n_iter = m->u.logreg.n_iter;
				break;
			case CS_MODEL_XGBOOST:
				st = fit_gbm(params, ds, rows, n, valid, n_valid, progress, ctx, m, err);
				break;
			case CS_MODEL_DNN:
				st = fit_mlp(params, ds, rows, n, valid, n_valid, progress, ctx, m, err);
				break;
			case CS_MODEL_RANDOM_FOREST:
				st = fit_forest(params, ds, rows, n, progress, ctx, m, err);
				break;
			default:
				st = cs_fail(err, CS_ERR_INVALID, "unknown model type %d", (int) params->type);
				break;
		}
	}
	if (st == CS_OK)
		st = cs_model_prepare(m, err);
	if (st != CS_OK)
	{
		cs_model_free(m);
		return st;
	}
	*out = m;
	return CS_OK;
}

/* Bytes that cs_fit_model needs besides the dataset, for n rows. */
double
cs_fit_memory(const cs_train_params *params, const cs_dataset *ds, size_t n)
{
	double width = 0;
	int    j;

	/* the linear design: at most one column per level and indicator */
	for (j = 0; j < ds->n_cols; j++)
		width += ds->cols[j].kind == CS_KIND_NUMERIC ?
					 2 :
					 (ds->cols[j].dict ? cs_strdict_size(ds->cols[j].dict) : 0) + 1;
	if (params->type == CS_MODEL_DNN)
		return 8.0 * (double) n * width + cs_mlp_memory(&params->mlp, (int32_t) width, n, n);
	if (params->type != CS_MODEL_LOGISTIC_REGRESSION)
		/* inputs, bins, gradients and row indices per row and feature */
		return (double) n * (8.0 * ds->n_cols + 2.0 * ds->n_cols + 32.0);
	return 8.0 * (double) n * width + 8.0 * width * width + 16.0 * (double) n;
}

/*
 * cs_model_predict of n scoring inputs, which it may change: a tree ensemble
 * scores them a block at a time, its unseen categories (-1) read as level 0
 * as cs_model_predict reads them.
 */
static void
predict_inputs(const cs_model *m, double *inputs, size_t n, double *p)
{
	int32_t nf = m->schema.n_features;
	size_t  i;
	int32_t j;

	if (m->type == CS_MODEL_XGBOOST || m->type == CS_MODEL_RANDOM_FOREST)
	{
		for (j = 0; j < nf; j++)
			if (m->schema.features[j].kind == CS_KIND_CATEGORICAL)
				for (i = 0; i < n; i++)
					if (inputs[i * (size_t) nf + (size_t) j] < 0)
						inputs[i * (size_t) nf + (size_t) j] = 0;
		cs_ensemble_predict_rows(m->u.ensemble, inputs, n, (size_t) nf, p);
		return;
	}
	for (i = 0; i < n; i++)
		p[i] = cs_model_predict(m, inputs + i * (size_t) nf);
}

/* Probabilities of rows[0..n) of ds under m. */
cs_status
cs_score_rows(const cs_model *m, const cs_dataset *ds, const size_t *rows, size_t n, double *p,
			  cs_error *err)
{
	double   *inputs = NULL;
	cs_status st = cs_schema_inputs(&m->schema, ds, rows, n, &inputs, err);

	if (st != CS_OK)
		return st;
	predict_inputs(m, inputs, n, p);
	cs_free(inputs);
	return CS_OK;
}

typedef struct score_task
{
	const cs_model   *m;
	const cs_dataset *ds;
	const size_t     *rows;
	size_t            n;
	double           *p;
	double           *inputs; /* one block per thread */
	size_t            block;
	int               failed;
} score_task;

#define SCORE_BLOCK 4096

/* Scores one block of rows (a pool task). */
static void
score_block(void *arg, size_t task, int thread)
{
	score_task *t = (score_task *) arg;
	size_t      start = task * SCORE_BLOCK;
	size_t      count = t->n - start < SCORE_BLOCK ? t->n - start : SCORE_BLOCK;
	int32_t     nf = t->m->schema.n_features;
	double     *in = t->inputs + (size_t) thread * SCORE_BLOCK * (size_t) nf;
	double     *block_inputs = NULL;
	cs_error    err;

	if (cs_schema_inputs(&t->m->schema, t->ds, t->rows + start, count, &block_inputs, &err) !=
		CS_OK)
	{
		t->failed = 1;
		return;
	}
	memcpy(in, block_inputs, sizeof(double) * count * (size_t) nf);
	cs_free(block_inputs);
	predict_inputs(t->m, in, count, t->p + start);
}

/* Scores rows on a pool of threads. */
cs_status
cs_score_rows_threads(const cs_model *m, const cs_dataset *ds, const size_t *rows, size_t n,
					  double *p, int threads, cs_error *err)
{
	cs_pool   *pool = NULL;
	score_task t;
	cs_status  st;

	if (threads <= 1 || n < 2 * SCORE_BLOCK)
		return cs_score_rows(m, ds, rows, n, p, err);
	st = cs_pool_new(threads, &pool, err);
	if (st != CS_OK)
		return st;
	t.m = m;
	t.ds = ds;
	t.rows = rows;
	t.n = n;
	t.p = p;
	t.failed = 0;
	t.inputs = cs_malloc(sizeof(double) * (size_t) cs_pool_threads(pool) * SCORE_BLOCK *
						 (size_t) (m->schema.n_features > 0 ? m->schema.n_features : 1));
	if (t.inputs == NULL)
	{
		cs_pool_free(pool);
		return cs_fail(err, CS_ERR_NOMEM, "out of memory scoring rows");
	}
	cs_pool_run(pool, (n + SCORE_BLOCK - 1) / SCORE_BLOCK, score_block, &t);
	cs_free(t.inputs);
	cs_pool_free(pool);
	if (t.failed)
		return cs_fail(err, CS_ERR_NOMEM, "out of memory scoring rows");
	return CS_OK;
}

/* Stratified k-fold assignment, round-robin per class in the given order. */
cs_status
cs_kfold_stratified(const cs_dataset *ds, const size_t *rows, size_t n, int32_t k, int32_t *fold,
					cs_error *err)
{
	size_t count[2] = { 0, 0 };
	size_t next[2] = { 0, 0 };
	size_t i;

	if (k < 2)
		return cs_fail(err, CS_ERR_INVALID, "cross-validation needs at least 2 folds, not %d", k);
	for (i = 0; i < n; i++)
		count[ds->label[rows[i]] ? 1 : 0]++;
	if (count[0] < (size_t) k || count[1] < (size_t) k)
		return cs_fail(err,
					   CS_ERR_INVALID,
					   "%d folds need at least %d training rows of each class, but the smaller "
					   "class has %zu",
					   k,
					   k,
					   count[0] < count[1] ? count[0] : count[1]);
	for (i = 0; i < n; i++)
	{
		int c = ds->label[rows[i]] ? 1 : 0;

		fold[i] = (int32_t) (next[c]++ % (size_t) k);
	}
	return CS_OK;
}

/* Compares floats, for sorting thresholds. */
static int
cmp_float(const void *a, const void *b)
{
	float x = *(const float *) a;
	float y = *(const float *) b;

	return (x > y) - (x < y);
}

/* Checks the monotonicity of the score in one feature on n inputs. */
cs_status
cs_check_monotone(const cs_model *m, const double *inputs, size_t n, int32_t feature, int dir,
				  size_t *violations, cs_error *err)
{
	const cs_ensemble *e = m->u.ensemble;
	int32_t            nf = m->schema.n_features;
	float             *cuts;
	size_t             n_cuts = 0;
	double            *row;
	int64_t            k;
	size_t             i;
	size_t             c;

	*violations = 0;
	if (m->type == CS_MODEL_LOGISTIC_REGRESSION || feature < 0 || feature >= nf)
		return cs_fail(err, CS_ERR_INVALID, "monotonicity is checked for tree ensembles");
	cuts = cs_malloc(sizeof(float) * (size_t) (e->n_nodes + 1));
	row = cs_malloc(sizeof(double) * (size_t) (nf > 0 ? nf : 1));
	if (cuts == NULL || row == NULL)
	{
		cs_free(cuts);
		cs_free(row);
		return cs_fail(err, CS_ERR_NOMEM, "out of memory checking monotonicity");
	}
	for (k = 0; k < e->n_nodes; k++)
		if (e->nodes[k].feature == feature)
			cuts[n_cuts++] = e->nodes[k].threshold;
	qsort(cuts, n_cuts, sizeof(float), cmp_float);
	if (n_cuts > 1)
	{
		size_t u = 1;

		for (c = 1; c < n_cuts; c++)
			if (cuts[c] != cuts[u - 1])
				cuts[u++] = cuts[c];
		n_cuts = u;
	}
	for (i = 0; i < n; i++)
	{
		double prev = 0;

		memcpy(row, inputs + i * (size_t) nf, sizeof(double) * (size_t) nf);
		/* below every cut, then at each cut: every piece of the step function */
		for (c = 0; c <= n_cuts; c++)
		{
			double p;

			row[feature] =
				c == 0 ? (n_cuts > 0 ? (double) cuts[0] - 1.0 : 0.0) : (double) cuts[c - 1];
			p = cs_model_margin(m, row);
			if (c > 0 && (p - prev) * dir < -1e-12)
			{
				(*violations)++;
				break;
			}
			prev = p;
		}
	}
	cs_free(cuts);
	cs_free(row);
	return CS_OK;
}
