/*
 * mlp.c - a dense neural network (multi-layer perceptron) for binary
 * classification, trained by mini-batch Adam.
 *
 * The network.  Inputs x are the linear design (src/core/README.md).  Weight
 * layer l (0 <= l < L, L = hidden layers + 1) maps units[l] values to
 * units[l+1]: z = x W + b.  A hidden layer then applies, in this order,
 * batch norm when enabled (z -> gamma (z - mu) / sqrt(var + 1e-5) + beta, with
 * the batch's mean and biased variance in training and the running ones in
 * inference; the layer has no bias b then, beta replaces it), its activation
 * (relu or tanh) and, in training only, inverted dropout (each value kept
 * with probability 1 - dropout and divided by it).  The output layer is one
 * unit: P(positive) = sigmoid(z).  Running statistics follow PyTorch:
 * running = 0.9 running + 0.1 batch, with the unbiased batch variance.
 *
 * Initial weights are uniform in +-sqrt(6 / fan_in) for a layer followed by
 * relu (He) and +-sqrt(6 / (fan_in + fan_out)) otherwise (Glorot, also the
 * output layer); biases and beta 0, gamma 1, running variance 1.  They are
 * drawn layer by layer, column by column, from xoshiro256** seeded with the
 * seed; the same stream then shuffles the rows before each epoch
 * (Fisher-Yates) and draws the dropout masks.
 *
 * Training follows scikit-learn's MLPClassifier(solver='adam') exactly where
 * it can (sklearn/neural_network/_multilayer_perceptron.py, 1.2): batches of
 * batch_size rows in shuffled order (a last batch of one row joins the one
 * before it when batch norm is on: its variance is undefined), per batch the
 * loss
 *     mean log loss + 0.5 * alpha * sum ||W||^2 / rows     (biases, gamma, beta
 * free) and its gradient, then one Adam step (beta1 0.9, beta2 0.999, eps 1e-8,
 * step learning_rate * sqrt(1 - beta2^t) / (1 - beta1^t)).  An epoch's
 * training loss is the row-weighted mean of its batch losses.  Stopping, as
 * scikit-learn with tol and n_iter_no_change = patience: an epoch that does
 * not lower the best loss by more than tol counts as no improvement, and
 * training stops when more than `patience` epochs in a row did not improve.
 * The loss watched is the training loss, or with early_stopping the
 * validation log loss (inference mode), in which case the weights of the
 * epoch with the lowest validation loss are kept.  A non-finite loss stops
 * training with CS_ERR_NUMERIC.
 *
 * Layout.  A batch of activations is rows x units, column-major (one unit's
 * values contiguous), except the batch of inputs, which is row-major as the
 * design is (one row's values contiguous).  Forward and backward are matrix
 * products through cs_gemm (cblas_dgemm); scoring one row runs SIMD kernels over an
 * input-major single-precision copy of the weights, without BLAS (see "scoring" below).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cs_mlp.h"

/* x86-64 with GCC or clang: SIMD kernels for one-row scoring, chosen at run time */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SCORE_X86 1
#include <immintrin.h>
#else
#define SCORE_X86 0
#endif

#define ADAM_BETA1    0.9
#define ADAM_BETA2    0.999
#define ADAM_EPSILON  1e-8
#define PREDICT_BLOCK 1024 /* rows per block when predicting many rows */
#define DESIGN_BLOCK  4096 /* rows per block when encoding the design */

/* ---------------------------------------------------------------- numerics */

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

/*
 * x when keep, else +0.0, without a branch: the signs of a layer's values are
 * random, and a mispredicted branch per value costs more than the products.
 */
static inline double
keep_if(double x, int keep)
{
	uint64_t bits;

	memcpy(&bits, &x, sizeof(bits));
	bits &= (uint64_t) 0 - (uint64_t) (keep != 0);
	memcpy(&x, &bits, sizeof(bits));
	return x;
}

/* relu over n values in place (a NaN stays a NaN, -0 stays -0). */
static void
relu_in_place(double *z, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		z[i] = keep_if(z[i], !(z[i] < 0.0));
}

/*
 * Sums a batch's column (or a row's products, in dot_of) in four interleaved
 * partial sums: one running sum is a chain of dependent additions, four keep
 * the adder busy.
 */
static double
sum_of(const double *x, size_t n)
{
	double s[4] = { 0.0, 0.0, 0.0, 0.0 };
	size_t i;

	for (i = 0; i + 4 <= n; i += 4)
	{
		s[0] += x[i];
		s[1] += x[i + 1];
		s[2] += x[i + 2];
		s[3] += x[i + 3];
	}
	for (; i < n; i++)
		s[0] += x[i];
	return (s[0] + s[1]) + (s[2] + s[3]);
}

/* sum of x[i] * y[i], as sum_of. */
static double
dot_of(const double *x, const double *y, size_t n)
{
	double s[4] = { 0.0, 0.0, 0.0, 0.0 };
	size_t i;

	for (i = 0; i + 4 <= n; i += 4)
	{
		s[0] += x[i] * y[i];
		s[1] += x[i + 1] * y[i + 1];
		s[2] += x[i + 2] * y[i + 2];
		s[3] += x[i + 3] * y[i + 3];
	}
	for (; i < n; i++)
		s[0] += x[i] * y[i];
	return (s[0] + s[1]) + (s[2] + s[3]);
}

/* sum of (x[i] - mean)^2, as sum_of. */
static double
centered_sumsq(const double *x, size_t n, double mean)
{
	double s[4] = { 0.0, 0.0, 0.0, 0.0 };
	size_t i;

	for (i = 0; i + 4 <= n; i += 4)
	{
		s[0] += (x[i] - mean) * (x[i] - mean);
		s[1] += (x[i + 1] - mean) * (x[i + 1] - mean);
		s[2] += (x[i + 2] - mean) * (x[i + 2] - mean);
		s[3] += (x[i + 3] - mean) * (x[i + 3] - mean);
	}
	for (; i < n; i++)
		s[0] += (x[i] - mean) * (x[i] - mean);
	return (s[0] + s[1]) + (s[2] + s[3]);
}

/* Whether all n values are finite. */
static int
all_finite(const double *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return 0;
	return 1;
}

/* A uniform integer in [0, bound), bound > 0, without modulo bias. */
static size_t
random_below(cs_rng *rng, size_t bound)
{
	uint64_t threshold = (0 - (uint64_t) bound) % (uint64_t) bound;

	for (;;)
	{
		uint64_t r = cs_rng_next(rng);

		if (r >= threshold)
			return (size_t) (r % (uint64_t) bound);
	}
}

/* ------------------------------------------------------------ architecture */

/* Fills layer l's offsets from the running offsets *off and *run, and advances
 * them. */
static void
layout_step(const cs_mlp *m, int32_t l, size_t *off, size_t *run, cs_mlp_layer *out)
{
	size_t n_in = (size_t) m->units[l];
	size_t n_out = (size_t) m->units[l + 1];
	int    bn = m->batch_norm && l < m->n_layers - 1;

	out->n_in = m->units[l];
	out->n_out = m->units[l + 1];
	out->w = *off;
	*off += n_in * n_out;
	out->b = out->gamma = out->beta = out->mean = out->var = CS_MLP_ABSENT;
	if (!bn)
	{
		out->b = *off;
		*off += n_out;
		return;
	}
	out->gamma = *off;
	out->beta = *off + n_out;
	*off += 2 * n_out;
	out->mean = *run;
	out->var = *run + n_out;
	*run += 2 * n_out;
}

/* Layer l's parameter offsets. */
void
cs_mlp_layout(const cs_mlp *m, int32_t l, cs_mlp_layer *out)
{
	size_t  off = 0;
	size_t  run = 0;
	int32_t k;

	for (k = 0; k <= l; k++)
		layout_step(m, k, &off, &run, out);
}

/* Every layer's offsets into lay[0..n_layers). */
static void
layout_all(const cs_mlp *m, cs_mlp_layer *lay)
{
	size_t  off = 0;
	size_t  run = 0;
	int32_t l;

	for (l = 0; l < m->n_layers; l++)
		layout_step(m, l, &off, &run, &lay[l]);
}

/* The params length; *n_running gets the running length. */
size_t
cs_mlp_count(const cs_mlp *m, size_t *n_running)
{
	size_t       off = 0;
	size_t       run = 0;
	cs_mlp_layer lay;
	int32_t      l;

	for (l = 0; l < m->n_layers; l++)
		layout_step(m, l, &off, &run, &lay);
	if (n_running != NULL)
		*n_running = run;
	return off;
}

/* The widest hidden layer. */
static size_t
max_hidden_width(const cs_mlp *m)
{
	size_t  w = 1;
	int32_t l;

	for (l = 1; l < m->n_layers; l++)
		if ((size_t) m->units[l] > w)
			w = (size_t) m->units[l];
	return w;
}

/* ---------------------------------------------------------- hyperparameters */

/* scikit-learn's MLPClassifier defaults, one hidden layer of 100 relu units. */
void
cs_mlp_params_default(cs_mlp_params *p)
{
	static const int32_t default_hidden[1] = { 100 };

	memset(p, 0, sizeof(*p));
	p->n_hidden = 1;
	p->hidden = default_hidden;
	p->activation = CS_MLP_RELU;
	p->batch_norm = 0;
	p->dropout = 0.0;
	p->learning_rate = 1e-3;
	p->batch_size = 200;
	p->epochs = 200;
	p->weight_decay = 1e-4;
	p->early_stopping = 0;
	p->patience = 10;
	p->tol = 1e-4;
	p->seed = 0;
}

/* CS_ERR_INVALID naming the first bad hyperparameter. */
cs_status
cs_mlp_check_params(const cs_mlp_params *p, cs_error *err)
{
	int32_t l;

	if (p->n_hidden < 1)
		return cs_fail(err,
					   CS_ERR_INVALID,
					   "hidden_layers must list at least one layer width; a network without "
					   "hidden layers is a logistic regression");
	if (p->n_hidden > CS_MLP_MAX_HIDDEN)
		return cs_fail(err,
					   CS_ERR_INVALID,
					   "hidden_layers lists %d layers, more than the %d allowed",
					   (int) p->n_hidden,
					   CS_MLP_MAX_HIDDEN);
	if (p->hidden == NULL)
		return cs_fail(err, CS_ERR_INVALID, "hidden_layers is missing");
	for (l = 0; l < p->n_hidden; l++)
		if (p->hidden[l] < 1 || p->hidden[l] > CS_MLP_MAX_WIDTH)
			return cs_fail(err,
						   CS_ERR_INVALID,
						   "hidden_layers[%d] is %d; a layer width must be between 1 and %d",
						   (int) l + 1,
						   (int) p->hidden[l],
						   CS_MLP_MAX_WIDTH);
	if (p->activation != CS_MLP_RELU && p->activation != CS_MLP_TANH)
		return cs_fail(err, CS_ERR_INVALID, "activation must be relu or tanh");
	if (p->batch_norm != 0 && p->batch_norm != 1)
		return cs_fail(err, CS_ERR_INVALID, "batch_norm must be true or false");
	if (!(p->dropout >= 0.0 && p->dropout < 1.0))
		return cs_fail(err, CS_ERR_INVALID, "dropout must be in [0, 1), not %g", p->dropout);
	if (!(p->learning_rate > 0.0 && isfinite(p->learning_rate)))
		return cs_fail(err,
					   CS_ERR_INVALID,
					   "learning_rate must be a positive number, not %g",
					   p->learning_rate);
	if (p->batch_size < 1)
		return cs_fail(err,
					   CS_ERR_INVALID,
					   "batch_size must be at least 1, not %d",
					   (int) p->batch_size);
	if (p->epochs < 1 || p->epochs > CS_MLP_MAX_EPOCHS)
		return cs_fail(err,
					   CS_ERR_INVALID,
					   "epochs must be between 1 and %d, not %d",
					   CS_MLP_MAX_EPOCHS,
					   (int) p->epochs);
	if (!(p->weight_decay >= 0.0 && isfinite(p->weight_decay)))
		return cs_fail(err,
					   CS_ERR_INVALID,
					   "weight_decay must be a number >= 0, not %g",
					   p->weight_decay);
	if (p->early_stopping != 0 && p->early_stopping != 1)
		return cs_fail(err, CS_ERR_INVALID, "early_stopping must be true or false");
	if (p->patience < 1)
		return cs_fail(err,
					   CS_ERR_INVALID,
					   "patience must be at least 1, not %d",
					   (int) p->patience);
	if (!(p->tol >= 0.0 && isfinite(p->tol)))
		return cs_fail(err, CS_ERR_INVALID, "tol must be a number >= 0, not %g", p->tol);
	return CS_OK;
}

/* ----------------------------------------------------------- initialisation */

/* Draws the initial parameters from rng (see the top of the file). */
static void
init_parameters(cs_mlp *m, cs_rng *rng)
{
	cs_mlp_layer lay;
	size_t       off = 0;
	size_t       run = 0;
	size_t       i;
	int32_t      l;

	for (l = 0; l < m->n_layers; l++)
	{
		double fan_in;
		double fan_out;
		double bound;
		size_t n_w;

		layout_step(m, l, &off, &run, &lay);
		fan_in = (double) lay.n_in;
		fan_out = (double) lay.n_out;
		if (l < m->n_layers - 1 && m->activation == CS_MLP_RELU)
			bound = sqrt(6.0 / fan_in);
		else
			bound = sqrt(6.0 / (fan_in + fan_out));
		n_w = (size_t) lay.n_in * (size_t) lay.n_out;
		for (i = 0; i < n_w; i++)
			m->params[lay.w + i] = bound * (2.0 * cs_rng_uniform(rng) - 1.0);
		for (i = 0; i < (size_t) lay.n_out; i++)
		{
			if (lay.b != CS_MLP_ABSENT)
				m->params[lay.b + i] = 0.0;
			if (lay.gamma == CS_MLP_ABSENT)
				continue;
			m->params[lay.gamma + i] = 1.0;
			m->params[lay.beta + i] = 0.0;
			m->running[lay.mean + i] = 0.0;
			m->running[lay.var + i] = 1.0;
		}
	}
}

/* Sets up the architecture and draws the initial weights from rng. */
static cs_status
init_network(cs_mlp *m, int32_t n_inputs, const cs_mlp_params *params, cs_rng *rng, cs_error *err)
{
	int32_t   l;
	cs_status st = cs_mlp_check_params(params, err);

	memset(m, 0, sizeof(*m));
	if (st != CS_OK)
		return st;
	if (n_inputs < 1)
		return cs_fail(err,
					   CS_ERR_INVALID,
					   "the network needs at least one input column, the design has %d",
					   (int) n_inputs);
	m->n_layers = params->n_hidden + 1;
	m->units[0] = n_inputs;
	for (l = 0; l < params->n_hidden; l++)
		m->units[l + 1] = params->hidden[l];
	m->units[m->n_layers] = 1;
	m->activation = params->activation;
	m->batch_norm = params->batch_norm;
	m->n_params = cs_mlp_count(m, &m->n_running);
	m->params = cs_malloc(cs_mul_size(m->n_params, sizeof(double)));
	m->running = cs_malloc(cs_mul_size(m->n_running, sizeof(double)));
	if (m->params == NULL || m->running == NULL)
	{
		cs_mlp_free(m);
		return cs_fail(err,
					   CS_ERR_NOMEM,
					   "out of memory for a network of %zu parameters",
					   m->n_params);
	}
	init_parameters(m, rng);
	return CS_OK;
}

/* Sets up the architecture and draws the initial weights from params->seed. */
cs_status
cs_mlp_init(cs_mlp *m, int32_t n_inputs, const cs_mlp_params *params, cs_error *err)
{
	cs_rng rng;

	cs_rng_seed(&rng, params->seed);
	return init_network(m, n_inputs, params, &rng, err);
}

/* Frees what m owns and zeroes it. */
void
cs_mlp_free(cs_mlp *m)
{
	if (m == NULL)
		return;
	cs_free(m->params);
	cs_free(m->running);
	cs_free(m->train_loss);
	cs_free(m->valid_loss);
	cs_free(m->bn_fold);
	cs_free(m->score_mem);
	memset(m, 0, sizeof(*m));
}

/* ---------------------------------------------------------------- workspace */

/* Buffers of the forward and backward passes over up to cap rows. */
typedef struct mlp_work
{
	size_t        cap;
	int           training;                   /* batch statistics, dropout, backward */
	double        dropout;                    /* drop probability in training */
	const double *xin;                        /* the batch's inputs, row-major */
	double       *xbt;                        /* cap x units[0]: a gathered batch */
	double       *act[CS_MLP_MAX_HIDDEN];     /* cap x width: activations before dropout */
	double       *out[CS_MLP_MAX_HIDDEN];     /* after dropout: act itself without dropout */
	double       *mask[CS_MLP_MAX_HIDDEN];    /* dropout multipliers 0 or 1 / (1 - dropout) */
	double       *xhat[CS_MLP_MAX_HIDDEN];    /* batch norm's normalised values */
	double       *inv_std[CS_MLP_MAX_HIDDEN]; /* batch norm's 1 / sqrt(var + eps) */
	double       *margin;                     /* cap output margins */
	double       *delta[2];                   /* cap x widest: backward, in turn */
} mlp_work;

/* Frees a workspace. */
static void
free_work(mlp_work *w, int32_t n_hidden)
{
	int32_t l;

	cs_free(w->xbt);
	for (l = 0; l < n_hidden; l++)
	{
		if (w->out[l] != w->act[l])
			cs_free(w->out[l]);
		cs_free(w->act[l]);
		cs_free(w->mask[l]);
		cs_free(w->xhat[l]);
		cs_free(w->inv_std[l]);
	}
	cs_free(w->margin);
	cs_free(w->delta[0]);
	cs_free(w->delta[1]);
	memset(w, 0, sizeof(*w));
}

/* An array of a x b doubles, or NULL. */
static double *
alloc_doubles(size_t a, size_t b)
{
	return cs_malloc(cs_mul_size(cs_mul_size(a, b), sizeof(double)));
}

/* Allocates a workspace; 0 when out of memory (w is then freed). */
static int
alloc_work(const cs_mlp *m, mlp_work *w, size_t cap, int training, double dropout)
{
	int32_t n_hidden = m->n_layers - 1;
	int32_t l;
	int     ok;

	memset(w, 0, sizeof(*w));
	w->cap = cap;
	w->training = training;
	w->dropout = training ? dropout : 0.0;
	w->margin = alloc_doubles(cap, 1);
	ok = w->margin != NULL;
	if (training)
	{
		w->xbt = alloc_doubles(cap, (size_t) m->units[0]);
		w->delta[0] = alloc_doubles(cap, max_hidden_width(m));
		w->delta[1] = alloc_doubles(cap, max_hidden_width(m));
		ok = ok && w->xbt && w->delta[0] && w->delta[1];
	}
	for (l = 0; l < n_hidden; l++)
	{
		size_t width = (size_t) m->units[l + 1];

		w->act[l] = alloc_doubles(cap, width);
		w->out[l] = w->act[l];
		ok = ok && w->act[l];
		if (w->dropout > 0.0)
		{
			w->out[l] = alloc_doubles(cap, width);
			w->mask[l] = alloc_doubles(cap, width);
			ok = ok && w->out[l] && w->mask[l];
		}
		if (training && m->batch_norm)
		{
			w->xhat[l] = alloc_doubles(cap, width);
			w->inv_std[l] = alloc_doubles(width, 1);
			ok = ok && w->xhat[l] && w->inv_std[l];
		}
	}
	if (!ok)
		free_work(w, n_hidden);
	return ok;
}

/* ----------------------------------------------------------------- forward */

/* Batch norm's inference affine map of unit j: u = z * scale + shift. */
static void
bn_affine(const cs_mlp *m, const cs_mlp_layer *lay, size_t j, double *scale, double *shift)
{
	double s = m->params[lay->gamma + j] / sqrt(m->running[lay->var + j] + CS_MLP_BN_EPS);

	*scale = s;
	*shift = m->params[lay->beta + j] - m->running[lay->mean + j] * s;
}

/*
 * Batch norm in training mode over rows values of each unit of z (in place),
 * keeping what backward needs; running (may be NULL) gets the momentum update.
 */
static void
bn_train(const cs_mlp *m, const cs_mlp_layer *lay, mlp_work *w, int32_t l, double *z, size_t rows,
		 double *running)
{
	size_t j;
	size_t i;

	for (j = 0; j < (size_t) lay->n_out; j++)
	{
		double *col = z + j * rows;
		double *xh = w->xhat[l] + j * rows;
		double  gamma = m->params[lay->gamma + j];
		double  beta = m->params[lay->beta + j];
		double  mean;
		double  var;
		double  inv;

		mean = sum_of(col, rows) / (double) rows;
		var = centered_sumsq(col, rows, mean) / (double) rows;
		inv = 1.0 / sqrt(var + CS_MLP_BN_EPS);
		w->inv_std[l][j] = inv;
		for (i = 0; i < rows; i++)
		{
			xh[i] = (col[i] - mean) * inv;
			col[i] = gamma * xh[i] + beta;
		}
		if (running == NULL)
			continue;
		running[lay->mean + j] =
			(1.0 - CS_MLP_BN_MOMENTUM) * running[lay->mean + j] + CS_MLP_BN_MOMENTUM * mean;
		running[lay->var + j] =
			(1.0 - CS_MLP_BN_MOMENTUM) * running[lay->var + j] +
			CS_MLP_BN_MOMENTUM * (rows > 1 ? var * (double) rows / (double) (rows - 1) : var);
	}
}

/* Batch norm in inference mode (running statistics), in place. */
static void
bn_infer(const cs_mlp *m, const cs_mlp_layer *lay, double *z, size_t rows)
{
	size_t j;
	size_t i;

	for (j = 0; j < (size_t) lay->n_out; j++)
	{
		double *col = z + j * rows;
		double  scale;
		double  shift;

		bn_affine(m, lay, j, &scale, &shift);
		for (i = 0; i < rows; i++)
			col[i] = col[i] * scale + shift;
	}
}

/* Adds bias b[j] to column j of the rows x n_out matrix z. */
static void
add_bias(double *z, size_t rows, size_t n_out, const double *b)
{
	size_t i;
	size_t j;

	for (j = 0; j < n_out; j++)
		for (i = 0; i < rows; i++)
			z[i + j * rows] += b[j];
}

/* Inverted dropout of layer l: out = act * mask, the mask drawn from rng. */
static void
apply_dropout(mlp_work *w, int32_t l, size_t count, cs_rng *rng)
{
	double keep = 1.0 - w->dropout;
	double scale = 1.0 / keep;
	size_t i;

	for (i = 0; i < count; i++)
	{
		w->mask[l][i] = cs_rng_uniform(rng) < keep ? scale : 0.0;
		w->out[l][i] = w->act[l][i] * w->mask[l][i];
	}
}

/*
 * Runs the network on rows inputs xin (row-major) into w->margin.  Training
 * mode uses batch statistics (updating running when not NULL) and dropout
 * from rng; inference mode the running statistics.
 */
static void
forward(const cs_mlp *m, const cs_mlp_layer *lay, mlp_work *w, const double *xin, size_t rows,
		double *running, cs_rng *rng)
{
	int32_t L = m->n_layers;
	int32_t l;

	w->xin = xin;
	for (l = 0; l < L; l++)
	{
		const cs_mlp_layer *ly = &lay[l];
		size_t              n_in = (size_t) ly->n_in;
		size_t              n_out = (size_t) ly->n_out;
		const double       *W = m->params + ly->w;
		double             *z = l == L - 1 ? w->margin : w->act[l];
		size_t              i;

		if (l == 0)
			cs_gemm('T', 'N', rows, n_out, n_in, 1.0, xin, n_in, W, n_in, 0.0, z, rows);
		else
			cs_gemm('N', 'N', rows, n_out, n_in, 1.0, w->out[l - 1], rows, W, n_in, 0.0, z, rows);
		if (ly->b != CS_MLP_ABSENT)
			add_bias(z, rows, n_out, m->params + ly->b);
		if (l == L - 1)
			break;
		if (ly->gamma != CS_MLP_ABSENT && w->training)
			bn_train(m, ly, w, l, z, rows, running);
		else if (ly->gamma != CS_MLP_ABSENT)
			bn_infer(m, ly, z, rows);
		if (m->activation == CS_MLP_RELU)
			relu_in_place(z, rows * n_out);
		else
			for (i = 0; i < rows * n_out; i++)
				z[i] = tanh(z[i]);
		if (w->dropout > 0.0)
			apply_dropout(w, l, rows * n_out, rng);
	}
}

/* ---------------------------------------------------------------- backward */

/*
 * Turns delta, the gradient of the summed loss with respect to hidden layer
 * l's output, into the gradient with respect to its linear output z, and
 * writes gamma's and beta's gradients (summed loss) into grad.
 */
static void
hidden_backward(const cs_mlp *m, const cs_mlp_layer *ly, const mlp_work *w, int32_t l,
				double *delta, size_t rows, double *grad)
{
	size_t        count = rows * (size_t) ly->n_out;
	const double *act = w->act[l];
	size_t        i;
	size_t        j;

	if (w->dropout > 0.0)
		for (i = 0; i < count; i++)
			delta[i] *= w->mask[l][i];
	if (m->activation == CS_MLP_TANH)
		for (i = 0; i < count; i++)
			delta[i] *= 1.0 - act[i] * act[i];
	else
		for (i = 0; i < count; i++)
			delta[i] = keep_if(delta[i], act[i] > 0.0);
	if (ly->gamma == CS_MLP_ABSENT)
		return;
	for (j = 0; j < (size_t) ly->n_out; j++)
	{
		double       *d = delta + j * rows;
		const double *xh = w->xhat[l] + j * rows;
		double        sum_d = sum_of(d, rows);
		double        sum_dx = dot_of(d, xh, rows);
		double        g = m->params[ly->gamma + j] * w->inv_std[l][j];
		double        mean_d;
		double        mean_dx;

		grad[ly->gamma + j] = sum_dx;
		grad[ly->beta + j] = sum_d;
		mean_d = sum_d / (double) rows;
		mean_dx = sum_dx / (double) rows;
		for (i = 0; i < rows; i++)
			d[i] = g * (d[i] - mean_d - xh[i] * mean_dx);
	}
}

/*
 * After forward in training mode: the batch loss (mean log loss plus the L2
 * penalty) and, into grad, its gradient in params' layout.
 */
static double
backward(const cs_mlp *m, const cs_mlp_layer *lay, mlp_work *w, const uint8_t *y, size_t rows,
		 double weight_decay, double *grad)
{
	int32_t L = m->n_layers;
	double *delta = w->delta[0];
	double *spare = w->delta[1];
	double  loss = 0.0;
	double  sumsq = 0.0;
	size_t  i;
	int32_t l;

	for (i = 0; i < rows; i++)
	{
		double z = w->margin[i];

		loss += softplus(z) - (y[i] ? z : 0.0);
		delta[i] = sigmoid(z) - (y[i] ? 1.0 : 0.0);
	}
	for (l = L - 1; l >= 0; l--)
	{
		const cs_mlp_layer *ly = &lay[l];
		size_t              n_in = (size_t) ly->n_in;
		size_t              n_out = (size_t) ly->n_out;
		double             *gw = grad + ly->w;
		size_t              j;

		if (l < L - 1)
			hidden_backward(m, ly, w, l, delta, rows, grad);
		if (l == 0)
			cs_gemm('N', 'N', n_in, n_out, rows, 1.0, w->xin, n_in, delta, rows, 0.0, gw, n_in);
		else
			cs_gemm('T',
					'N',
					n_in,
					n_out,
					rows,
					1.0,
					w->out[l - 1],
					rows,
					delta,
					rows,
					0.0,
					gw,
					n_in);
		if (ly->b != CS_MLP_ABSENT)
			for (j = 0; j < n_out; j++)
				grad[ly->b + j] = sum_of(delta + j * rows, rows);
		if (l > 0)
		{
			double *t;

			cs_gemm('N',
					'T',
					rows,
					n_in,
					n_out,
					1.0,
					delta,
					rows,
					m->params + ly->w,
					n_in,
					0.0,
					spare,
					rows);
			t = delta;
			delta = spare;
			spare = t;
		}
	}
	/* from the summed loss to the mean, plus the penalty, as scikit-learn */
	for (l = 0; l < L; l++)
	{
		size_t        w_end = lay[l].w + (size_t) lay[l].n_in * (size_t) lay[l].n_out;
		size_t        end = l + 1 < L ? lay[l + 1].w : m->n_params;
		const double *W = m->params;

		for (i = lay[l].w; i < w_end; i++)
		{
			sumsq += W[i] * W[i];
			grad[i] = (grad[i] + weight_decay * W[i]) / (double) rows;
		}
		for (i = w_end; i < end; i++)
			grad[i] /= (double) rows;
	}
	return loss / (double) rows + 0.5 * weight_decay * sumsq / (double) rows;
}

/* ---------------------------------------------------------------- training */

/* Everything one fit allocates besides the network. */
typedef struct mlp_train
{
	cs_mlp_layer lay[CS_MLP_MAX_HIDDEN + 1];
	mlp_work     batch;        /* training workspace */
	mlp_work     eval;         /* inference workspace for the validation loss */
	size_t      *order;        /* n row indices, shuffled each epoch */
	uint8_t     *yb;           /* the batch's labels */
	double      *grad;         /* n_params */
	double      *adam_m;       /* first moments */
	double      *adam_v;       /* second moments */
	double      *best_params;  /* early stopping: the best epoch's parameters */
	double      *best_running; /* and running statistics */
	double      *valid_margin; /* nv margins */
	uint64_t     step;         /* Adam's t: updates so far */
} mlp_train;

/* Frees a fit's working memory. */
static void
free_train(mlp_train *t, int32_t n_hidden)
{
	free_work(&t->batch, n_hidden);
	free_work(&t->eval, n_hidden);
	cs_free(t->order);
	cs_free(t->yb);
	cs_free(t->grad);
	cs_free(t->adam_m);
	cs_free(t->adam_v);
	cs_free(t->best_params);
	cs_free(t->best_running);
	cs_free(t->valid_margin);
}

/* Allocates a fit's working memory; 0 when out of memory. */
static int
alloc_train(const cs_mlp *m, const cs_mlp_params *params, size_t n, size_t nv, size_t cap,
			mlp_train *t)
{
	size_t i;

	layout_all(m, t->lay);
	if (!alloc_work(m, &t->batch, cap, 1, params->dropout))
		return 0;
	if (nv > 0 && !alloc_work(m, &t->eval, nv < PREDICT_BLOCK ? nv : PREDICT_BLOCK, 0, 0.0))
		return 0;
	t->order = cs_malloc(cs_mul_size(n, sizeof(size_t)));
	t->yb = cs_malloc(cap);
	t->grad = alloc_doubles(m->n_params, 1);
	t->adam_m = cs_calloc(m->n_params, sizeof(double));
	t->adam_v = cs_calloc(m->n_params, sizeof(double));
	t->valid_margin = alloc_doubles(nv, 1);
	if (params->early_stopping)
	{
		t->best_params = alloc_doubles(m->n_params, 1);
		t->best_running = alloc_doubles(m->n_running, 1);
		if (t->best_params == NULL || t->best_running == NULL)
			return 0;
	}
	if (!t->order || !t->yb || !t->grad || !t->adam_m || !t->adam_v || !t->valid_margin)
		return 0;
	for (i = 0; i < n; i++)
		t->order[i] = i;
	return 1;
}

/* Fisher-Yates shuffle of the row order. */
static void
shuffle_rows(size_t *order, size_t n, cs_rng *rng)
{
	size_t i;

	for (i = n; i > 1; i--)
	{
		size_t j = random_below(rng, i);
		size_t tmp = order[i - 1];

		order[i - 1] = order[j];
		order[j] = tmp;
	}
}

/* One Adam step on every parameter with the gradient in t->grad. */
static void
adam_step(cs_mlp *m, mlp_train *t, double learning_rate)
{
	double rate;
	size_t i;

	t->step++;
	rate = learning_rate * sqrt(1.0 - pow(ADAM_BETA2, (double) t->step)) /
		   (1.0 - pow(ADAM_BETA1, (double) t->step));
	for (i = 0; i < m->n_params; i++)
	{
		double g = t->grad[i];

		t->adam_m[i] = ADAM_BETA1 * t->adam_m[i] + (1.0 - ADAM_BETA1) * g;
		t->adam_v[i] = ADAM_BETA2 * t->adam_v[i] + (1.0 - ADAM_BETA2) * (g * g);
		m->params[i] += -rate * t->adam_m[i] / (sqrt(t->adam_v[i]) + ADAM_EPSILON);
	}
}

/* Margins of n row-major rows, in blocks of the inference workspace w. */
static void
predict_margins(const cs_mlp *m, const cs_mlp_layer *lay, mlp_work *w, const double *X, size_t n,
				double *margin)
{
	size_t p = (size_t) m->units[0];
	size_t start;

	for (start = 0; start < n; start += w->cap)
	{
		size_t rows = n - start < w->cap ? n - start : w->cap;

		forward(m, lay, w, X + start * p, rows, NULL, NULL);
		memcpy(margin + start, w->margin, rows * sizeof(double));
	}
}

/* Mean log loss of margins against labels. */
static double
mean_log_loss(const double *margin, const uint8_t *y, size_t n)
{
	double sum = 0.0;
	size_t i;

	for (i = 0; i < n; i++)
		sum += softplus(margin[i]) - (y[i] ? margin[i] : 0.0);
	return sum / (double) n;
}

/* One pass over the shuffled training rows; *loss gets the epoch's training
 * loss. */
static cs_status
run_epoch(cs_mlp *m, mlp_train *t, const double *X, const uint8_t *y, size_t n,
		  const cs_mlp_params *params, size_t batch_size, cs_rng *rng, int epoch, double *loss,
		  cs_error *err)
{
	size_t p = (size_t) m->units[0];
	double total = 0.0;
	size_t start = 0;

	shuffle_rows(t->order, n, rng);
	while (start < n)
	{
		size_t rows = n - start < batch_size ? n - start : batch_size;
		double batch_loss;
		size_t i;

		/* batch norm cannot normalise a last batch of one row: it joins this one */
		if (m->batch_norm && n - start - rows == 1)
			rows++;
		for (i = 0; i < rows; i++)
		{
			size_t r = t->order[start + i];

			memcpy(t->batch.xbt + i * p, X + r * p, p * sizeof(double));
			t->yb[i] = y[r];
		}
		forward(m, t->lay, &t->batch, t->batch.xbt, rows, m->running, rng);
		batch_loss = backward(m, t->lay, &t->batch, t->yb, rows, params->weight_decay, t->grad);
		if (!isfinite(batch_loss))
			return cs_fail(err,
						   CS_ERR_NUMERIC,
						   "the loss diverged at epoch %d: lower learning_rate (now %g)",
						   epoch,
						   params->learning_rate);
		total += batch_loss * (double) rows;
		adam_step(m, t, params->learning_rate);
		start += rows;
	}
	*loss = total / (double) n;
	return CS_OK;
}

/* Checks cs_mlp_fit's data arguments. */
static cs_status
check_data(const double *X, const uint8_t *y, size_t n, int32_t p, const double *Xv,
		   const uint8_t *yv, size_t nv, const cs_mlp_params *params, cs_error *err)
{
	cs_status st = cs_mlp_check_params(params, err);

	if (st != CS_OK)
		return st;
	if (n == 0 || X == NULL || y == NULL)
		return cs_fail(err, CS_ERR_INVALID, "the network needs at least one training row");
	if (p < 1)
		return cs_fail(err,
					   CS_ERR_INVALID,
					   "the network needs at least one input column, the design has %d",
					   (int) p);
	if (nv > 0 && (Xv == NULL || yv == NULL))
		return cs_fail(err, CS_ERR_INVALID, "the validation rows are missing");
	if (params->early_stopping && nv == 0)
		return cs_fail(err, CS_ERR_INVALID, "early_stopping needs validation rows");
	if (!cs_linalg_loaded())
		return cs_fail(err, CS_ERR_BLAS, "the BLAS library is not loaded");
	return CS_OK;
}

/*
 * Applies the stopping rule after an epoch (see the top of the file); keeps
 * the best weights under early stopping.  Returns 1 when training should stop.
 */
static int
should_stop(cs_mlp *m, mlp_train *t, const cs_mlp_params *params, int epoch, double watched,
			double *best, int *no_improvement)
{
	if (watched > *best - params->tol)
		(*no_improvement)++;
	else
		*no_improvement = 0;
	if (watched < *best)
	{
		*best = watched;
		if (params->early_stopping)
		{
			memcpy(t->best_params, m->params, m->n_params * sizeof(double));
			memcpy(t->best_running, m->running, m->n_running * sizeof(double));
			m->best_epoch = epoch;
		}
	}
	if (!params->early_stopping)
		m->best_epoch = epoch;
	return *no_improvement > params->patience;
}

/* The epochs: shuffle, batches, validation loss, stopping rule, progress. */
static cs_status
train_epochs(cs_mlp *m, mlp_train *t, const double *X, const uint8_t *y, size_t n, const double *Xv,
			 const uint8_t *yv, size_t nv, const cs_mlp_params *params, size_t batch_size,
			 cs_rng *rng, cs_progress_fn progress, void *ctx, cs_error *err)
{
	double best = INFINITY;
	int    no_improvement = 0;
	int    epoch;
	char   message[128];

	for (epoch = 1; epoch <= params->epochs; epoch++)
	{
		double    train_loss = 0.0;
		double    valid_loss = NAN;
		int       stop;
		cs_status st = run_epoch(m, t, X, y, n, params, batch_size, rng, epoch, &train_loss, err);

		if (st != CS_OK)
			return st;
		if (nv > 0)
		{
			predict_margins(m, t->lay, &t->eval, Xv, nv, t->valid_margin);
			valid_loss = mean_log_loss(t->valid_margin, yv, nv);
			if (!isfinite(valid_loss))
				return cs_fail(err,
							   CS_ERR_NUMERIC,
							   "the loss diverged at epoch %d: lower learning_rate (now %g)",
							   epoch,
							   params->learning_rate);
		}
		m->train_loss[epoch - 1] = train_loss;
		m->valid_loss[epoch - 1] = valid_loss;
		m->n_epochs = epoch;
		stop = should_stop(m,
						   t,
						   params,
						   epoch,
						   params->early_stopping ? valid_loss : train_loss,
						   &best,
						   &no_improvement);
		if (nv > 0)
			snprintf(message,
					 sizeof(message),
					 "epoch %d of at most %d: loss %.6f, validation loss %.6f",
					 epoch,
					 (int) params->epochs,
					 train_loss,
					 valid_loss);
		else
			snprintf(message,
					 sizeof(message),
					 "epoch %d of at most %d: loss %.6f",
					 epoch,
					 (int) params->epochs,
					 train_loss);
		if (progress != NULL && progress(ctx, (double) epoch / params->epochs, message) != 0)
			return cs_fail(err, CS_ERR_CANCELLED, "training the network was cancelled");
		if (stop)
			break;
	}
	if (params->early_stopping)
	{
		memcpy(m->params, t->best_params, m->n_params * sizeof(double));
		memcpy(m->running, t->best_running, m->n_running * sizeof(double));
	}
	return CS_OK;
}

/* Trains a network on row-major X (see cs_mlp.h). */
cs_status
cs_mlp_fit(const double *X, const uint8_t *y, size_t n, int32_t p, const double *Xv,
		   const uint8_t *yv, size_t nv, const cs_mlp_params *params, cs_mlp *m,
		   cs_progress_fn progress, void *ctx, cs_error *err)
{
	mlp_train t;
	cs_rng    rng;
	size_t    batch_size;
	cs_status st = check_data(X, y, n, p, Xv, yv, nv, params, err);

	memset(m, 0, sizeof(*m));
	if (st != CS_OK)
		return st;
	cs_rng_seed(&rng, params->seed);
	st = init_network(m, p, params, &rng, err);
	if (st != CS_OK)
		return st;
	batch_size = (size_t) params->batch_size < n ? (size_t) params->batch_size : n;
	memset(&t, 0, sizeof(t));
	m->train_loss = alloc_doubles((size_t) params->epochs, 1);
	m->valid_loss = alloc_doubles((size_t) params->epochs, 1);
	if (m->train_loss == NULL || m->valid_loss == NULL ||
		!alloc_train(m, params, n, nv, batch_size + (m->batch_norm ? 1 : 0), &t))
		st = cs_fail(err, CS_ERR_NOMEM, "out of memory training the network");
	if (st == CS_OK)
		st = train_epochs(m, &t, X, y, n, Xv, yv, nv, params, batch_size, &rng, progress, ctx, err);
	if (st == CS_OK &&
		!(all_finite(m->params, m->n_params) && all_finite(m->running, m->n_running)))
		st = cs_fail(err,
					 CS_ERR_NUMERIC,
					 "the loss diverged at epoch %d: lower learning_rate (now %g)",
					 (int) m->n_epochs,
					 params->learning_rate);
	if (st == CS_OK)
		st = cs_mlp_prepare(m, err);
	free_train(&t, m->n_layers - 1);
	if (st != CS_OK)
		cs_mlp_free(m);
	return st;
}

/* Bytes that cs_mlp_fit needs besides X and Xv (an estimate). */
double
cs_mlp_memory(const cs_mlp_params *params, int32_t p, size_t n, size_t nv)
{
	cs_mlp  m;
	double  batch = (double) (params->batch_size + 1);
	double  block = (double) (nv < PREDICT_BLOCK ? nv : PREDICT_BLOCK);
	double  units = 0.0;
	double  widest = 1.0;
	size_t  n_running;
	double  n_params;
	int32_t l;

	if (cs_mlp_check_params(params, NULL) != CS_OK || p < 1)
		return 0.0;
	memset(&m, 0, sizeof(m));
	m.n_layers = params->n_hidden + 1;
	m.units[0] = p;
	for (l = 0; l < params->n_hidden; l++)
	{
		m.units[l + 1] = params->hidden[l];
		units += params->hidden[l];
		if (params->hidden[l] > widest)
			widest = params->hidden[l];
	}
	m.units[m.n_layers] = 1;
	m.batch_norm = params->batch_norm;
	n_params = (double) cs_mlp_count(&m, &n_running);
	/*
	 * params, gradient, two moments, best copy, the scoring copy (about as
	 * large); running and its copy; curves
	 */
	return 8.0 * (6.0 * n_params + 2.0 * (double) n_running + 2.0 * params->epochs) +
		   /* row order, validation margins */
		   8.0 * ((double) n + (double) nv) +
		   /* the batch: inputs, four buffers per hidden unit, two deltas */
		   8.0 * batch * ((double) p + 4.0 * units + 2.0 * widest + 2.0) +
		   /* the validation blocks */
		   8.0 * block * (2.0 * units + (double) p + 1.0);
}

/* ---------------------------------------------------------------- checking */

/* Validates a network filled field by field (CS_ERR_CORRUPT naming the field). */
cs_status
cs_mlp_check(const cs_mlp *m, cs_error *err)
{
	size_t  n_running;
	size_t  n_params;
	int32_t l;

	if (m->n_layers < 2 || m->n_layers > CS_MLP_MAX_HIDDEN + 1)
		return cs_fail(err,
					   CS_ERR_CORRUPT,
					   "the network has %d weight layers, not 2 to %d",
					   (int) m->n_layers,
					   CS_MLP_MAX_HIDDEN + 1);
	if (m->units[0] < 1)
		return cs_fail(err, CS_ERR_CORRUPT, "the network has %d inputs", (int) m->units[0]);
	for (l = 1; l < m->n_layers; l++)
		if (m->units[l] < 1 || m->units[l] > CS_MLP_MAX_WIDTH)
			return cs_fail(err,
						   CS_ERR_CORRUPT,
						   "hidden layer %d of the network has %d units",
						   (int) l,
						   (int) m->units[l]);
	if (m->units[m->n_layers] != 1)
		return cs_fail(err, CS_ERR_CORRUPT, "the network's output layer is not one unit");
	if (m->activation != CS_MLP_RELU && m->activation != CS_MLP_TANH)
		return cs_fail(err,
					   CS_ERR_CORRUPT,
					   "the network's activation %d is unknown",
					   (int) m->activation);
	if (m->batch_norm != 0 && m->batch_norm != 1)
		return cs_fail(err, CS_ERR_CORRUPT, "the network's batch_norm flag is %d", m->batch_norm);
	n_params = cs_mlp_count(m, &n_running);
	if (m->n_params != n_params || m->params == NULL)
		return cs_fail(err,
					   CS_ERR_CORRUPT,
					   "the network has %zu parameters, its layers need %zu",
					   m->n_params,
					   n_params);
	if (m->n_running != n_running || (n_running > 0 && m->running == NULL))
		return cs_fail(err,
					   CS_ERR_CORRUPT,
					   "the network has %zu running statistics, its layers need %zu",
					   m->n_running,
					   n_running);
	if (!all_finite(m->params, n_params))
		return cs_fail(err, CS_ERR_CORRUPT, "the network has a parameter that is not finite");
	for (l = 0; l < m->n_layers - 1 && m->batch_norm; l++)
	{
		cs_mlp_layer lay;
		size_t       j;

		cs_mlp_layout(m, l, &lay);
		for (j = 0; j < (size_t) lay.n_out; j++)
			if (!isfinite(m->running[lay.mean + j]) || !isfinite(m->running[lay.var + j]) ||
				m->running[lay.var + j] < 0.0)
				return cs_fail(err,
							   CS_ERR_CORRUPT,
							   "the network has an invalid running statistic in layer %d",
							   (int) l + 1);
	}
	if (m->n_epochs < 0 || m->best_epoch < 0 || m->best_epoch > m->n_epochs ||
		(m->n_epochs > 0 && (m->train_loss == NULL || m->valid_loss == NULL)))
		return cs_fail(err, CS_ERR_CORRUPT, "the network's learning curve is inconsistent");
	return CS_OK;
}

/* ----------------------------------------------------------------- scoring */

/*
 * One row, in single precision.  Training and the batched cs_mlp_predict (BLAS)
 * are double; one-row scoring (cs_predict, evaluation) runs the hidden layers
 * on float copies of the weights, as XGBoost scores in float: half the cache
 * (the weights stay in L1 while a table scan streams through it) and twice the
 * units per vector.  The row's inputs are rounded to float (one beyond float's
 * range, about 3e38 standard deviations out, becomes infinite), each hidden
 * layer computes in float, and the output unit is a double dot product of the
 * last hidden layer's float values with the double output weights, then the
 * sigmoid in double.  The margin then differs from the double batched path by
 * float roundings: a few 1e-7 of the sizes of the products summed (test_mlp
 * states the tolerance).
 *
 * A hidden layer's units are computed together: for each input i that is not
 * zero (a relu layer's zeros, one-hot and missing-indicator columns are
 * skipped), out[j] += x[i] * W[i][j] over the units j, so the inner loop runs
 * over contiguous memory of an input-major copy of W, in SIMD registers.  Each
 * unit still adds its products in input order, each float product rounded
 * and then each float sum (no fused multiply-add), so the kernels (plain C,
 * AVX, AVX-512) give the same bits; skipping a zero input changes nothing
 * (u + 0 * w = u).  Then out[j] = out[j] * scale[j] + shift[j], with scale 1
 * and shift the bias, or batch norm's folded affine map (computed in double,
 * then rounded), and the activation (tanhf for tanh).
 *
 * score_w holds per hidden layer l, from score_off[l] floats (64-byte
 * aligned): the units[l] x ld input-major weights (ld = units[l+1] rounded up
 * to 16, zero padded), then scale[ld] and shift[ld], all float.
 */

#define SCORE_LANES 16   /* ld is a multiple of this: one AVX-512 vector of floats */
#define SCORE_STACK 1024 /* int32 and twice as many floats of stack scratch for one row */

/* One hidden layer of one row, for a kernel. */
typedef struct score_layer
{
	const float   *x;      /* the layer's inputs */
	const int32_t *nz;     /* the indexes of those that are not zero, in order */
	size_t         n_nz;   /* how many */
	const float   *w;      /* input-major weights, ld per input */
	size_t         ld;     /* units rounded up to SCORE_LANES */
	const float   *scale;  /* ld */
	const float   *shift;  /* ld */
	int            relu;   /* apply relu (tanh is applied after the kernel) */
	float         *out;    /* ld values */
	int32_t       *nz_out; /* ld + 16: the indexes of the outputs that are not zero */
} score_layer;

/* x when keep, else +0.0f, without a branch (keep_if for a float). */
static inline float
keep_if_float(float x, int keep)
{
	uint32_t bits;

	memcpy(&bits, &x, sizeof(bits));
	bits &= (uint32_t) 0 - (uint32_t) (keep != 0);
	memcpy(&x, &bits, sizeof(bits));
	return x;
}

/*
 * The kernels must not fuse a product and its sum into one multiply-add (the
 * compiler would where the target has FMA, -ffp-contract=fast being GCC's
 * default in gnu11): that rounds once instead of twice, and the kernels would
 * differ from each other and from one machine to the next.  (clang honours
 * its pragma unless built with -ffp-contract=fast.)  Float arithmetic is
 * float on x86-64 (FLT_EVAL_METHOD 0: SSE, no x87 excess precision), so the
 * plain C kernel rounds as the vector kernels do.
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#define SCORE_NO_CONTRACT
#elif defined(__clang__)
#define SCORE_NO_CONTRACT _Pragma("clang fp contract(off)")
#else
#define SCORE_NO_CONTRACT
#endif

/*
 * Plain C, SCORE_LANES units at a time.  Each kernel returns how many
 * indexes it wrote to nz_out: those of the outputs that are not zero (NaN
 * included), padding lanes too (the caller drops them).
 */
static size_t
layer_plain(const score_layer *s)
{
	SCORE_NO_CONTRACT
	const float   *x = s->x;
	const int32_t *nz = s->nz;
	const float   *w = s->w;
	size_t         ld = s->ld;
	float         *out = s->out;
	size_t         count = 0;
	size_t         j0;
	size_t         k;
	int            v;

	for (j0 = 0; j0 < ld; j0 += SCORE_LANES)
	{
		float acc[SCORE_LANES] = { 0.0f };

		for (k = 0; k < s->n_nz; k++)
		{
			const float *row = w + (size_t) nz[k] * ld + j0;
			float        xi = x[nz[k]];

#pragma GCC unroll 16
			for (v = 0; v < SCORE_LANES; v++)
				acc[v] += xi * row[v];
		}
		for (v = 0; v < SCORE_LANES; v++)
		{
			float u = acc[v] * s->scale[j0 + v] + s->shift[j0 + v];

			u = s->relu ? keep_if_float(u, !(u < 0.0f)) : u;
			out[j0 + v] = u;
			s->nz_out[count] = (int32_t) (j0 + (size_t) v);
			count += u != 0.0f;
		}
	}
	return count;
}

#if SCORE_X86

/*
 * nv vectors of 8 units from unit j0 (nv is a constant after inlining: the
 * accumulators stay in registers); adds the indexes of the outputs that are
 * not zero at nz_out + *count.  max(0, u) returns u when u is NaN or -0, as
 * keep_if_float does.
 */
__attribute__((target("avx"), always_inline)) static inline void
tile_avx(const score_layer *s, size_t j0, const int nv, size_t *count)
{
	SCORE_NO_CONTRACT
	const float   *x = s->x;
	const int32_t *nz = s->nz;
	size_t         n_nz = s->n_nz;
	const float   *w = s->w + j0;
	size_t         ld = s->ld;
	const float   *scale = s->scale + j0;
	const float   *shift = s->shift + j0;
	float         *out = s->out + j0;
	int32_t       *nz_out = s->nz_out;
	int            relu = s->relu;
	size_t         c = *count;
	__m256         zero = _mm256_setzero_ps();
	__m256         acc[8];
	size_t         k;
	int            v;
	int            b;

#pragma GCC unroll 8
	for (v = 0; v < nv; v++)
		acc[v] = zero;
	for (k = 0; k < n_nz; k++)
	{
		const float *row = w + (size_t) nz[k] * ld;
		__m256       xi = _mm256_broadcast_ss(x + nz[k]);

#pragma GCC unroll 8
		for (v = 0; v < nv; v++)
			acc[v] = _mm256_add_ps(acc[v], _mm256_mul_ps(xi, _mm256_load_ps(row + 8 * v)));
	}
#pragma GCC unroll 8
	for (v = 0; v < nv; v++)
	{
		__m256  u = _mm256_add_ps(_mm256_mul_ps(acc[v], _mm256_load_ps(scale + 8 * v)),
                                 _mm256_load_ps(shift + 8 * v));
		int32_t j = (int32_t) (j0 + 8 * (size_t) v);
		int     bits;

		u = relu ? _mm256_max_ps(zero, u) : u;
		_mm256_store_ps(out + 8 * v, u);
		bits = _mm256_movemask_ps(_mm256_cmp_ps(u, zero, _CMP_NEQ_UQ));
#pragma GCC unroll 8
		for (b = 0; b < 8; b++)
		{
			nz_out[c] = j + b;
			c += (size_t) ((bits >> b) & 1);
		}
	}
	*count = c;
}

/* AVX: 64 units at a time, then 32, then 16. */
__attribute__((target("avx"))) static size_t
layer_avx(const score_layer *s)
{
	size_t j0 = 0;
	size_t count = 0;

	for (; j0 + 64 <= s->ld; j0 += 64)
		tile_avx(s, j0, 8, &count);
	if (j0 + 32 <= s->ld)
	{
		tile_avx(s, j0, 4, &count);
		j0 += 32;
	}
	if (j0 < s->ld)
		tile_avx(s, j0, 2, &count);
	return count;
}

/* nv vectors of 16 units from unit j0, as tile_avx. */
__attribute__((target("avx512f,popcnt"), always_inline)) static inline void
tile_avx512(const score_layer *s, size_t j0, const int nv, size_t *count)
{
	SCORE_NO_CONTRACT
	const float   *x = s->x;
	const int32_t *nz = s->nz;
	size_t         n_nz = s->n_nz;
	const float   *w = s->w + j0;
	size_t         ld = s->ld;
	const float   *scale = s->scale + j0;
	const float   *shift = s->shift + j0;
	float         *out = s->out + j0;
	int32_t       *nz_out = s->nz_out;
	int            relu = s->relu;
	size_t         c = *count;
	__m512         zero = _mm512_setzero_ps();
	__m512i        lanes = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
	__m512         acc[8];
	size_t         k;
	int            v;

#pragma GCC unroll 8
	for (v = 0; v < nv; v++)
		acc[v] = zero;
	for (k = 0; k < n_nz; k++)
	{
		const float *row = w + (size_t) nz[k] * ld;
		__m512       xi = _mm512_set1_ps(x[nz[k]]);

#pragma GCC unroll 8
		for (v = 0; v < nv; v++)
			acc[v] = _mm512_add_ps(acc[v], _mm512_mul_ps(xi, _mm512_load_ps(row + 16 * v)));
	}
#pragma GCC unroll 8
	for (v = 0; v < nv; v++)
	{
		__m512    u = _mm512_add_ps(_mm512_mul_ps(acc[v], _mm512_load_ps(scale + 16 * v)),
                                 _mm512_load_ps(shift + 16 * v));
		__m512i   j = _mm512_add_epi32(lanes, _mm512_set1_epi32((int32_t) (j0 + 16 * (size_t) v)));
		__mmask16 bits;

		u = relu ? _mm512_max_ps(zero, u) : u;
		_mm512_store_ps(out + 16 * v, u);
		bits = _mm512_cmp_ps_mask(u, zero, _CMP_NEQ_UQ);
		/* 16 indexes stored, the first popcount(bits) of them kept */
		_mm512_storeu_si512(nz_out + c, _mm512_maskz_compress_epi32(bits, j));
		c += (size_t) __builtin_popcount((unsigned) bits);
	}
	*count = c;
}

/* AVX-512F: 128 units at a time, then 64, 32 and 16. */
__attribute__((target("avx512f,popcnt"))) static size_t
layer_avx512(const score_layer *s)
{
	size_t j0 = 0;
	size_t count = 0;

	for (; j0 + 128 <= s->ld; j0 += 128)
		tile_avx512(s, j0, 8, &count);
	if (j0 + 64 <= s->ld)
	{
		tile_avx512(s, j0, 4, &count);
		j0 += 64;
	}
	if (j0 + 32 <= s->ld)
	{
		tile_avx512(s, j0, 2, &count);
		j0 += 32;
	}
	if (j0 < s->ld)
		tile_avx512(s, j0, 1, &count);
	return count;
}

#endif /* SCORE_X86 */

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

/* The best kernel this CPU runs (the OS must save its registers: libgcc checks). */
int32_t
cs_mlp_simd_best(void)
{
#if SCORE_X86
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("popcnt"))
		return CS_MLP_SIMD_AVX512;
	if (__builtin_cpu_supports("avx"))
		return CS_MLP_SIMD_AVX;
#endif
	return CS_MLP_SIMD_NONE;
}

/* Runs one hidden layer with m's kernel; returns the outputs that are not zero. */
static size_t
score_layer_run(const cs_mlp *m, const score_layer *s)
{
#if SCORE_X86
	if (m->simd == CS_MLP_SIMD_AVX512)
		return layer_avx512(s);
	if (m->simd == CS_MLP_SIMD_AVX)
		return layer_avx(s);
#else
	(void) m;
#endif
	return layer_plain(s);
}

/* n rounded up to SCORE_LANES. */
static size_t
round_lanes(size_t n)
{
	return (n + SCORE_LANES - 1) / SCORE_LANES * SCORE_LANES;
}

/* Frees the scoring buffers. */
static void
free_scoring(cs_mlp *m)
{
	cs_free(m->bn_fold);
	cs_free(m->score_mem);
	m->bn_fold = NULL;
	m->score_mem = NULL;
	m->score_w = NULL;
}

/* Fills hidden layer l's block of score_w (bn_fold ready), rounding to float. */
static void
fill_score_layer(const cs_mlp *m, const cs_mlp_layer *lay, float *block, size_t ld)
{
	size_t n_in = (size_t) lay->n_in;
	size_t n_out = (size_t) lay->n_out;
	float *scale = block + n_in * ld;
	float *shift = scale + ld;
	size_t i;
	size_t j;

	memset(block, 0, (n_in + 2) * ld * sizeof(float));
	for (j = 0; j < n_out; j++)
	{
		for (i = 0; i < n_in; i++)
			block[i * ld + j] = (float) m->params[lay->w + i + j * n_in];
		if (lay->gamma != CS_MLP_ABSENT)
		{
			scale[j] = (float) m->bn_fold[lay->mean + j];
			shift[j] = (float) m->bn_fold[lay->var + j];
		}
		else
		{
			scale[j] = 1.0f;
			shift[j] = (float) m->params[lay->b + j];
		}
	}
}

/* a + b, or SIZE_MAX on overflow (which cs_malloc then refuses). */
static size_t
add_size(size_t a, size_t b)
{
	return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

/* Allocates and computes the scoring buffers. */
cs_status
cs_mlp_prepare(cs_mlp *m, cs_error *err)
{
	cs_mlp_layer lay[CS_MLP_MAX_HIDDEN + 1];
	size_t       total = 0;
	size_t       widest = 0;
	float       *base;
	int32_t      L = m->n_layers;
	int32_t      l;

	free_scoring(m);
	layout_all(m, lay);
	for (l = 0; l < L - 1; l++)
	{
		size_t ld = round_lanes((size_t) lay[l].n_out);

		m->score_off[l] = total;
		m->score_ld[l] = ld;
		total = add_size(total, cs_mul_size((size_t) lay[l].n_in + 2, ld));
		widest = ld > widest ? ld : widest;
	}
	m->score_out_w = lay[L - 1].w;
	m->score_out_b = lay[L - 1].b;
	m->score_widest = widest;
	m->score_nz = ((size_t) m->units[0] > widest ? (size_t) m->units[0] : widest) + 16;
	m->bn_fold = alloc_doubles(m->n_running, 1);
	m->score_mem = cs_malloc(cs_mul_size(add_size(total, SCORE_LANES), sizeof(float)));
	if (m->bn_fold == NULL || m->score_mem == NULL)
	{
		free_scoring(m);
		return cs_fail(err, CS_ERR_NOMEM, "out of memory preparing the network");
	}
	base = (float *) m->score_mem;
	while ((uintptr_t) base % (SCORE_LANES * sizeof(float)) != 0)
		base++;
	m->score_w = base;
	for (l = 0; l < L - 1 && m->batch_norm; l++)
	{
		size_t j;

		for (j = 0; j < (size_t) lay[l].n_out; j++)
			bn_affine(m, &lay[l], j, &m->bn_fold[lay[l].mean + j], &m->bn_fold[lay[l].var + j]);
	}
	for (l = 0; l < L - 1; l++)
		fill_score_layer(m, &lay[l], base + m->score_off[l], m->score_ld[l]);
	m->simd = cs_mlp_simd_best();
	return CS_OK;
}

/*
 * One row's scratch: two float layer outputs of score_widest values (64-byte
 * aligned: score_widest is a multiple of 16) and the row's inputs rounded to
 * float (units[0], rounded up to SCORE_LANES), then two lists of the indexes
 * of a layer's inputs that are not zero (score_nz each).  On the stack unless
 * the network is too wide for it.
 */
typedef struct score_scratch
{
	float   *heap_f;
	int32_t *heap_nz;
	float   *out[2];
	float   *xf;
	int32_t *nz[2];
} score_scratch;

/* Frees sc's allocated buffers, if any. */
static void
scratch_close(score_scratch *sc)
{
	cs_free(sc->heap_f);
	cs_free(sc->heap_nz);
}

/*
 * Points sc's buffers into the stack arrays f (2 * SCORE_STACK floats,
 * 64-byte aligned) and nz (SCORE_STACK), or at allocated ones; 0 when out of
 * memory.
 */
static int
scratch_open(const cs_mlp *m, score_scratch *sc, float *f, int32_t *nz)
{
	size_t floats = 2 * m->score_widest + round_lanes((size_t) m->units[0]);

	sc->heap_f = NULL;
	sc->heap_nz = NULL;
	if (floats > 2 * SCORE_STACK || 2 * m->score_nz > SCORE_STACK)
	{
		sc->heap_f = cs_malloc(cs_mul_size(add_size(floats, SCORE_LANES), sizeof(float)));
		sc->heap_nz = cs_malloc(cs_mul_size(2 * m->score_nz, sizeof(int32_t)));
		if (sc->heap_f == NULL || sc->heap_nz == NULL)
		{
			scratch_close(sc);
			return 0;
		}
		f = sc->heap_f;
		while ((uintptr_t) f % (SCORE_LANES * sizeof(float)) != 0)
			f++;
		nz = sc->heap_nz;
	}
	sc->out[0] = f;
	sc->out[1] = f + m->score_widest;
	sc->xf = f + 2 * m->score_widest;
	sc->nz[0] = nz;
	sc->nz[1] = nz + m->score_nz;
	return 1;
}

/* sum of (double) h[i] * w[i], as dot_of. */
static double
dot_float(const float *h, const double *w, size_t n)
{
	double s[4] = { 0.0, 0.0, 0.0, 0.0 };
	size_t i;

	for (i = 0; i + 4 <= n; i += 4)
	{
		s[0] += (double) h[i] * w[i];
		s[1] += (double) h[i + 1] * w[i + 1];
		s[2] += (double) h[i + 2] * w[i + 2];
		s[3] += (double) h[i + 3] * w[i + 3];
	}
	for (; i < n; i++)
		s[0] += (double) h[i] * w[i];
	return (s[0] + s[1]) + (s[2] + s[3]);
}

/*
 * The margin of the row whose inputs, rounded to float, are in sc->xf, those
 * that are not zero listed in sc->nz[0][0..n_nz) (the first layer reads no
 * other): the hidden layers in float, the output unit in double.
 */
static double
margin_with(const cs_mlp *m, size_t n_nz, const score_scratch *sc)
{
	const float *in = sc->xf;
	score_layer  s;
	int32_t      L = m->n_layers;
	int32_t      l;
	size_t       i;

	s.relu = m->activation == CS_MLP_RELU;
	for (l = 0; l < L - 1; l++)
	{
		size_t n_out = (size_t) m->units[l + 1];

		s.x = in;
		s.nz = sc->nz[l & 1];
		s.n_nz = n_nz;
		s.w = m->score_w + m->score_off[l];
		s.ld = m->score_ld[l];
		s.scale = s.w + (size_t) m->units[l] * s.ld;
		s.shift = s.scale + s.ld;
		s.out = sc->out[l & 1];
		s.nz_out = sc->nz[(l + 1) & 1];
		n_nz = score_layer_run(m, &s);
		/* padding lanes are 0 unless an input is infinite: drop them */
		while (n_nz > 0 && (size_t) s.nz_out[n_nz - 1] >= n_out)
			n_nz--;
		if (!s.relu)
			for (i = 0; i < n_out; i++)
				s.out[i] = tanhf(s.out[i]);
		in = s.out;
	}
	return dot_float(in, m->params + m->score_out_w, (size_t) m->units[L - 1]) +
		   m->params[m->score_out_b];
}

/*
 * The design columns of input (cs_schema_encode's values) that are not zero:
 * writes x[c] for each, rounded to float, and their indexes c, ascending, to
 * nz; returns how many.  Whether a column is zero is decided on the double
 * value, as score_one does for a design row, so the two agree bit for bit.  The other columns of x are left alone: the first layer reads only
 * these.  Skips writing a one-hot feature's zeros and the pass over the
 * design that looks for them.  (test_mlp checks it against cs_schema_encode.)
 */
static size_t
encode_nonzero(const cs_schema *s, const double *input, float *x, int32_t *nz)
{
	size_t  n = 0;
	int32_t j;

	for (j = 0; j < s->n_features; j++)
	{
		const cs_feature *f = &s->features[j];
		double            v = input[j];
		int               missing = isnan(v);
		int32_t           c = f->design_offset;

		if (f->kind == CS_KIND_NUMERIC)
		{
			if (!missing)
			{
				double z = (v - f->mean) / f->sd;

				x[c] = (float) z;
				nz[n] = c;
				n += z != 0.0;
			}
		}
		else if (!missing && v >= 1.0 && v < (double) f->n_levels)
		{
			c += (int32_t) v - 1;
			x[c] = 1.0f;
			nz[n++] = c;
		}
		if (missing && f->has_missing)
		{
			c = f->design_offset + f->design_width - 1;
			x[c] = 1.0f;
			nz[n++] = c;
		}
	}
	return n;
}

/*
 * The margin of design row x, or with s not NULL of input encoded under s;
 * NaN when a network too wide for the stack finds no memory.
 */
static double
score_one(const cs_mlp *m, const double *x, const cs_schema *s, const double *input)
{
	_Alignas(64) float local_f[2 * SCORE_STACK];
	int32_t            local_nz[SCORE_STACK];
	score_scratch      sc;
	double             margin;
	size_t             n_nz = 0;
	size_t             i;

	if (!scratch_open(m, &sc, local_f, local_nz))
		return NAN;
	if (s != NULL)
		n_nz = encode_nonzero(s, input, sc.xf, sc.nz[0]);
	else
		for (i = 0; i < (size_t) m->units[0]; i++)
		{
			sc.xf[i] = (float) x[i];
			sc.nz[0][n_nz] = (int32_t) i;
			n_nz += x[i] != 0.0;
		}
	margin = margin_with(m, n_nz, &sc);
	scratch_close(&sc);
	return margin;
}

/* The margin of one design row. */
double
cs_mlp_margin_row(const cs_mlp *m, const double *x)
{
	return score_one(m, x, NULL, NULL);
}

/* The probability of one design row. */
double
cs_mlp_predict_row(const cs_mlp *m, const double *x)
{
	return sigmoid(score_one(m, x, NULL, NULL));
}

/* The probability of one scoring input, encoded into the scratch first. */
double
cs_mlp_predict_input(const cs_mlp *m, const cs_schema *s, const double *input)
{
	return sigmoid(score_one(m, NULL, s, input));
}

/* Probabilities of n row-major rows, in blocks through the matrix products. */
cs_status
cs_mlp_predict(const cs_mlp *m, const double *X, size_t n, double *prob, cs_error *err)
{
	cs_mlp_layer lay[CS_MLP_MAX_HIDDEN + 1];
	mlp_work     w;
	size_t       i;

	if (n == 0)
		return CS_OK;
	layout_all(m, lay);
	if (!alloc_work(m, &w, n < PREDICT_BLOCK ? n : PREDICT_BLOCK, 0, 0.0))
		return cs_fail(err, CS_ERR_NOMEM, "out of memory scoring %zu rows", n);
	predict_margins(m, lay, &w, X, n, prob);
	for (i = 0; i < n; i++)
		prob[i] = sigmoid(prob[i]);
	free_work(&w, m->n_layers - 1);
	return CS_OK;
}

/* The training objective on one batch and its gradient (for gradient checks). */
cs_status
cs_mlp_loss_grad(const cs_mlp *m, const double *X, const uint8_t *y, size_t n, double weight_decay,
				 double *loss, double *grad, cs_error *err)
{
	cs_mlp_layer lay[CS_MLP_MAX_HIDDEN + 1];
	mlp_work     w;
	double      *g = grad;

	if (n == 0)
		return cs_fail(err, CS_ERR_INVALID, "the batch has no rows");
	layout_all(m, lay);
	if (g == NULL)
		g = alloc_doubles(m->n_params, 1);
	if (g == NULL || !alloc_work(m, &w, n, 1, 0.0))
	{
		if (g != grad)
			cs_free(g);
		return cs_fail(err, CS_ERR_NOMEM, "out of memory for the gradient");
	}
	forward(m, lay, &w, X, n, NULL, NULL);
	*loss = backward(m, lay, &w, y, n, weight_decay, g);
	free_work(&w, m->n_layers - 1);
	if (g != grad)
		cs_free(g);
	return CS_OK;
}

/* ------------------------------------------------------------------ design */

/* The row-major design of dataset rows, encoded block by block. */
cs_status
cs_mlp_design_rows(const cs_schema *s, const cs_dataset *ds, const size_t *rows, size_t n,
				   double **out, cs_error *err)
{
	size_t    p = (size_t) s->design_width;
	size_t    nf = (size_t) s->n_features;
	double   *X;
	size_t    start;
	cs_status st = CS_OK;

	*out = NULL;
	X = alloc_doubles(n, p);
	if (X == NULL)
		return cs_fail(err, CS_ERR_NOMEM, "out of memory for a %zu x %zu design matrix", n, p);
	for (start = 0; start < n && st == CS_OK; start += DESIGN_BLOCK)
	{
		size_t  count = n - start < DESIGN_BLOCK ? n - start : DESIGN_BLOCK;
		double *inputs = NULL;
		size_t  i;

		st = cs_schema_inputs(s, ds, rows + start, count, &inputs, err);
		if (st != CS_OK)
			break;
		for (i = 0; i < count; i++)
			cs_schema_encode(s, inputs + i * nf, X + (start + i) * p);
		cs_free(inputs);
	}
	if (st != CS_OK)
	{
		cs_free(X);
		return st;
	}
	*out = X;
	return CS_OK;
}
