/*
 * logreg.c - logistic regression by Newton's method (IRLS).
 *
 * Minimises scikit-learn's LogisticRegression objective divided by C:
 *     sum_i logloss_i + ||w||^2 / (2C)      (penalty l2, intercept free)
 *     sum_i logloss_i                        (penalty none)
 * Each iteration solves (X'WX + I/C) step = X'(p - y) + w/C by Cholesky
 * (LAPACK dposv) and halves the step until the objective does not increase
 * (down to 1e-10), exactly like test/reference/logreg_reference.py.  It stops
 * when the applied step's largest component is below tol.  X'WX is formed by
 * dgemm on row chunks of a sqrt(W)-scaled copy of the active columns, so the
 * memory beyond X is O(chunk x p); the gradient is one dgemv.  Design columns
 * that are zero on every row are held at weight 0 and left out of the solve.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cs_core.h"

#define HESSIAN_CHUNK_ROWS 4096
#define MIN_STEP_FRACTION  1e-10

/* Working memory of one fit. */
typedef struct irls_state
{
	const double  *X;
	const uint8_t *y;
	size_t         n;
	int32_t        p;
	int32_t        m;        /* unknowns: intercept plus active columns */
	double         inv_c;    /* 1/C, or 0 without a penalty */
	int32_t       *active;   /* design column of unknown 1..m-1 */
	double        *beta;     /* m unknowns, intercept first */
	double        *eta;      /* n margins */
	double        *dir;      /* n margin changes of the step */
	double        *resid;    /* n residuals p - y */
	double        *sqrt_w;   /* n sqrt(p(1-p)) */
	double        *grad_all; /* p: X'(p - y) */
	double        *hessian;  /* m x m */
	double        *step;     /* m: gradient in, Newton step out */
	double        *chunk;    /* HESSIAN_CHUNK_ROWS x m scaled rows */
} irls_state;

/* log(1 + exp(z)) without overflow. */
static inline double
softplus(double z)
{
	return z > 0.0 ? z + log1p(exp(-z)) : log1p(exp(z));
}

/* 1 / (1 + exp(-z)) without overflow. */
static inline double
sigmoid(double z)
{
	double e;

	if (z >= 0.0)
		return 1.0 / (1.0 + exp(-z));
	e = exp(z);
	return e / (1.0 + e);
}

/* Frees the working memory. */
static void
free_state(irls_state *s)
{
	cs_free(s->active);
	cs_free(s->beta);
	cs_free(s->eta);
	cs_free(s->dir);
	cs_free(s->resid);
	cs_free(s->sqrt_w);
	cs_free(s->grad_all);
	cs_free(s->hessian);
	cs_free(s->step);
	cs_free(s->chunk);
}

/* Whether design column j has a nonzero value. */
static int
column_is_used(const irls_state *s, int32_t j)
{
	const double *col = s->X + (size_t) j * s->n;
	size_t        i;

	for (i = 0; i < s->n; i++)
		if (col[i] != 0.0)
			return 1;
	return 0;
}

/* Finds the active columns and allocates the working memory; 0 when out of memory. */
static int
init_state(irls_state *s)
{
	size_t  n = s->n;
	size_t  m;
	size_t  chunk_rows = n < HESSIAN_CHUNK_ROWS ? n : HESSIAN_CHUNK_ROWS;
	int32_t j;

	s->active = cs_malloc(cs_mul_size((size_t) s->p + 1, sizeof(int32_t)));
	if (s->active == NULL)
		return 0;
	s->m = 1;
	for (j = 0; j < s->p; j++)
		if (column_is_used(s, j))
			s->active[s->m++] = j;
	m = (size_t) s->m;
	s->beta = cs_calloc(m, sizeof(double));
	s->eta = cs_calloc(n, sizeof(double));
	s->dir = cs_malloc(cs_mul_size(n, sizeof(double)));
	s->resid = cs_malloc(cs_mul_size(n, sizeof(double)));
	s->sqrt_w = cs_malloc(cs_mul_size(n, sizeof(double)));
	s->grad_all = cs_malloc(cs_mul_size((size_t) s->p + 1, sizeof(double)));
	s->hessian = cs_malloc(cs_mul_size(m * m, sizeof(double)));
	s->step = cs_malloc(cs_mul_size(m, sizeof(double)));
	s->chunk = cs_malloc(cs_mul_size(cs_mul_size(chunk_rows, m), sizeof(double)));
	return s->beta && s->eta && s->dir && s->resid && s->sqrt_w && s->grad_all && s->hessian &&
		   s->step && s->chunk;
}

/* The objective at margins eta - t * dir and weights beta - t * step. */
static double
objective_at(const irls_state *s, double t)
{
	double  loss = 0.0;
	double  penalty = 0.0;
	size_t  i;
	int32_t a;

	for (i = 0; i < s->n; i++)
	{
		double z = s->eta[i] - t * s->dir[i];

		loss += softplus(z) - (s->y[i] ? z : 0.0);
	}
	for (a = 1; a < s->m; a++)
	{
		double w = s->beta[a] - t * s->step[a];

		penalty += w * w;
	}
	return loss + 0.5 * s->inv_c * penalty;
}

/* Residuals p - y and square-root IRLS weights at the current margins. */
static void
compute_weights(irls_state *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
	{
		double prob = sigmoid(s->eta[i]);

		s->resid[i] = prob - (s->y[i] ? 1.0 : 0.0);
		s->sqrt_w[i] = sqrt(prob * (1.0 - prob));
	}
}

/* The gradient X1'(p - y) + w/C into step. */
static void
compute_gradient(irls_state *s)
{
	double  sum = 0.0;
	size_t  i;
	int32_t a;

	for (i = 0; i < s->n; i++)
		sum += s->resid[i];
	cs_gemv_t(s->n, (size_t) s->p, 1.0, s->X, s->resid, 0.0, s->grad_all);
	s->step[0] = sum;
	for (a = 1; a < s->m; a++)
		s->step[a] = s->grad_all[s->active[a]] + s->inv_c * s->beta[a];
}

/* The Hessian X1'WX1 + I/C, accumulated by dgemm over row chunks. */
static void
compute_hessian(irls_state *s)
{
	size_t  m = (size_t) s->m;
	size_t  start;
	int32_t a;

	for (start = 0; start < s->n; start += HESSIAN_CHUNK_ROWS)
	{
		size_t        rows = s->n - start < HESSIAN_CHUNK_ROWS ? s->n - start : HESSIAN_CHUNK_ROWS;
		const double *sw = s->sqrt_w + start;
		size_t        i;

		memcpy(s->chunk, sw, rows * sizeof(double));
		for (a = 1; a < s->m; a++)
		{
			const double *col = s->X + (size_t) s->active[a] * s->n + start;
			double       *dst = s->chunk + (size_t) a * rows;

			for (i = 0; i < rows; i++)
				dst[i] = sw[i] * col[i];
		}
		cs_gemm_tn(rows, m, m, 1.0, s->chunk, s->chunk, start == 0 ? 0.0 : 1.0, s->hessian);
	}
	for (a = 1; a < s->m; a++)
		s->hessian[(size_t) a * m + (size_t) a] += s->inv_c;
}

/* The margin change of the step: dir = X1 step. */
static void
compute_direction(irls_state *s)
{
	size_t  i;
	int32_t a;

	for (i = 0; i < s->n; i++)
		s->dir[i] = s->step[0];
	for (a = 1; a < s->m; a++)
	{
		const double *col = s->X + (size_t) s->active[a] * s->n;
		double        st = s->step[a];

		for (i = 0; i < s->n; i++)
			s->dir[i] += st * col[i];
	}
}

/* Whether all m values are finite. */
static int
all_finite(const double *v, size_t m)
{
	size_t i;

	for (i = 0; i < m; i++)
		if (!isfinite(v[i]))
			return 0;
	return 1;
}

/* One Newton iteration; *largest gets the largest applied step component. */
static cs_status
newton_iteration(irls_state *s, double *objective, double *largest, cs_error *err)
{
	size_t    m = (size_t) s->m;
	double    t = 1.0;
	double    candidate;
	size_t    i;
	cs_status st;

	compute_weights(s);
	compute_gradient(s);
	compute_hessian(s);
	if (!all_finite(s->step, m) || !all_finite(s->hessian, m * m))
		return cs_fail(err,
					   CS_ERR_NUMERIC,
					   "logistic regression: the gradient or Hessian is not finite");
	st = cs_posv(m, s->hessian, s->step, err);
	if (st == CS_ERR_NUMERIC)
		return cs_fail(err,
					   CS_ERR_NUMERIC,
					   "logistic regression: the Hessian is singular: the classes may be "
					   "perfectly separable or features collinear; use penalty l2");
	if (st != CS_OK)
		return st;
	compute_direction(s);
	for (;;)
	{
		candidate = objective_at(s, t);
		if (candidate <= *objective || t < MIN_STEP_FRACTION)
			break;
		t *= 0.5;
	}
	*largest = 0.0;
	for (i = 0; i < m; i++)
	{
		double applied = t * s->step[i];

		s->beta[i] -= applied;
		if (fabs(applied) > *largest || isnan(applied))
			*largest = fabs(applied);
	}
	for (i = 0; i < s->n; i++)
		s->eta[i] -= t * s->dir[i];
	*objective = candidate;
	if (!isfinite(candidate) || !all_finite(s->beta, m))
		return cs_fail(err, CS_ERR_NUMERIC, "logistic regression: the objective is not finite");
	return CS_OK;
}

/* Checks the fit's arguments. */
static cs_status
check_arguments(size_t n, int32_t p, const cs_logreg_params *params, cs_error *err)
{
	if (n == 0)
		return cs_fail(err, CS_ERR_INVALID, "logistic regression needs at least one row");
	if (p < 0)
		return cs_fail(err, CS_ERR_INVALID, "invalid design width %d", (int) p);
	if (params->penalty != 0 && params->penalty != 1)
		return cs_fail(err, CS_ERR_INVALID, "invalid penalty %d", params->penalty);
	if (params->penalty == 1 && !(params->C > 0.0 && isfinite(params->C)))
		return cs_fail(err, CS_ERR_INVALID, "C must be a positive number, not %g", params->C);
	if (params->max_iter < 1)
		return cs_fail(err,
					   CS_ERR_INVALID,
					   "max_iter must be at least 1, not %d",
					   params->max_iter);
	if (!(params->tol > 0.0 && isfinite(params->tol)))
		return cs_fail(err, CS_ERR_INVALID, "tol must be a positive number, not %g", params->tol);
	if (!cs_linalg_loaded())
		return cs_fail(err, CS_ERR_BLAS, "the BLAS library is not loaded");
	return CS_OK;
}

/* Fits the model on the column-major n x p design X; coef gets p + 1 values. */
cs_status
cs_logreg_fit(const double *X, const uint8_t *y, size_t n, int32_t p,
			  const cs_logreg_params *params, double *coef, int32_t *n_iter,
			  cs_progress_fn progress, void *ctx, cs_error *err)
{
	irls_state s;
	double     objective;
	double     largest = 0.0;
	char       message[64];
	int        iter;
	int32_t    a;
	cs_status  st = check_arguments(n, p, params, err);

	if (st != CS_OK)
		return st;
	memset(&s, 0, sizeof(s));
	s.X = X;
	s.y = y;
	s.n = n;
	s.p = p;
	s.inv_c = params->penalty == 1 ? 1.0 / params->C : 0.0;
	if (!init_state(&s))
	{
		free_state(&s);
		return cs_fail(err, CS_ERR_NOMEM, "out of memory fitting logistic regression");
	}
	objective = (double) n * log(2.0);
	for (iter = 1; iter <= params->max_iter; iter++)
	{
		snprintf(message, sizeof(message), "iteration %d", iter);
		if (progress != NULL && progress(ctx, (double) (iter - 1) / params->max_iter, message) != 0)
		{
			st = cs_fail(err, CS_ERR_CANCELLED, "logistic regression was cancelled");
			break;
		}
		st = newton_iteration(&s, &objective, &largest, err);
		if (st != CS_OK || largest < params->tol)
			break;
	}
	if (st == CS_OK && iter > params->max_iter)
		st = cs_fail(err,
					 CS_ERR_NUMERIC,
					 "logistic regression did not converge in %d iterations%s",
					 params->max_iter,
					 params->penalty == 0 ?
						 ": the classes may be perfectly separable; use penalty l2" :
						 "; raise max_iter");
	if (st == CS_OK)
	{
		for (a = 0; a <= p; a++)
			coef[a] = 0.0;
		coef[0] = s.beta[0];
		for (a = 1; a < s.m; a++)
			coef[1 + s.active[a]] = s.beta[a];
		if (n_iter != NULL)
			*n_iter = iter;
	}
	free_state(&s);
	return st;
}
