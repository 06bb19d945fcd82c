/*
 * test_mlp.c - unit tests of the dense neural network (src/core/mlp.c),
 * printing TAP.
 *
 * Build and run (from the repository root):
 *   make test/unit/test_mlp && prove test/unit/test_mlp
 *
 * The gradient check compares every parameter block's analytic gradient with
 * central finite differences of cs_mlp_loss_grad's loss; the parity with
 * scikit-learn on credit_data is test/unit/mlp_parity.c (not run here).
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cs_mlp.h"
#include "tap.h"

/* ------------------------------------------------------------------ helpers */

/*
 * One-row scoring (cs_mlp_predict_row, _input, _margin_row) runs the hidden
 * layers in single precision on float copies of the weights (mlp.c,
 * "scoring"), the block path (cs_mlp_predict, BLAS) in double: they agree to
 * float rounding, not bit for bit.  The error is float's (2^-24 = 6e-8)
 * times the sizes of the products summed, which grow with the margin, so the
 * gap is measured on the margin relative to 1 + |margin|: |dp| / (p (1 - p))
 * is the margin's error (dp = p (1 - p) dmargin), divided by 1 + |logit p|.
 * The worst gap measured on this file's networks is 2.6e-6 (the circle in
 * test_learning, steep after a high learning rate); the tolerance is
 * about ten times that.
 */
#define ONE_ROW_TOL 3e-5

/* |margin_row - margin_block| / (1 + |margin_block|), from the probabilities. */
static double
row_gap(double block, double row)
{
	return fabs(row - block) / (block * (1.0 - block)) / (1.0 + fabs(log(block / (1.0 - block))));
}

/* Whether the error is code and its message contains needle. */
static int
fails_with(cs_status st, const cs_error *err, cs_status code, const char *needle)
{
	return st == code && err->code == code && strstr(err->msg, needle) != NULL;
}

/* Default parameters with the given hidden layers and seed. */
static cs_mlp_params
params_with(int32_t n_hidden, const int32_t *hidden, uint64_t seed)
{
	cs_mlp_params p;

	cs_mlp_params_default(&p);
	p.n_hidden = n_hidden;
	p.hidden = hidden;
	p.seed = seed;
	return p;
}

/* n x p row-major uniforms in [-1, 1) and, for each row, a label. */
typedef struct toy_data
{
	size_t   n;
	int32_t  p;
	double  *X;
	uint8_t *y;
} toy_data;

/*
 * kind 0: y = 1 inside the circle x0^2 + x1^2 < 0.5 (not linearly separable);
 * kind 1: y random (pure noise, for overfitting).
 */
static toy_data
make_toy(size_t n, int32_t p, uint64_t seed, int kind)
{
	toy_data d;
	cs_rng   rng;
	size_t   i;
	int32_t  j;

	cs_rng_seed(&rng, seed);
	d.n = n;
	d.p = p;
	d.X = malloc(n * (size_t) p * sizeof(double));
	d.y = malloc(n);
	if (d.X == NULL || d.y == NULL)
		abort();
	for (i = 0; i < n; i++)
	{
		double *x = d.X + i * (size_t) p;

		for (j = 0; j < p; j++)
			x[j] = 2.0 * cs_rng_uniform(&rng) - 1.0;
		if (kind == 0)
			d.y[i] = x[0] * x[0] + x[1] * x[1] < 0.5;
		else
			d.y[i] = cs_rng_uniform(&rng) < 0.5;
	}
	return d;
}

static void
free_toy(toy_data *d)
{
	free(d->X);
	free(d->y);
}

/* ---------------------------------------------------------- hyperparameters */

static void
test_params(void)
{
	static const int32_t two[2] = { 8, 4 };
	static const int32_t widths17[17] = { 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4 };
	int32_t              bad[2] = { 8, 0 };
	cs_mlp_params        p;
	cs_mlp_params        q;
	cs_error             err = { 0 };
	cs_status            st;

	cs_mlp_params_default(&p);
	tap_ok(p.n_hidden == 1 && p.hidden[0] == 100 && p.activation == CS_MLP_RELU &&
			   p.learning_rate == 1e-3 && p.batch_size == 200 && p.epochs == 200 &&
			   p.weight_decay == 1e-4 && p.patience == 10 && p.tol == 1e-4 && p.dropout == 0.0 &&
			   p.batch_norm == 0 && p.early_stopping == 0 && cs_mlp_check_params(&p, &err) == CS_OK,
		   "defaults are scikit-learn's MLPClassifier's");

	q = params_with(0, two, 0);
	st = cs_mlp_check_params(&q, &err);
	tap_ok(fails_with(st, &err, CS_ERR_INVALID, "hidden_layers must list at least one"),
		   "an empty layer list is rejected: %s",
		   err.msg);
	q = params_with(17, widths17, 0);
	st = cs_mlp_check_params(&q, &err);
	tap_ok(fails_with(st, &err, CS_ERR_INVALID, "hidden_layers lists 17 layers, more than the 16"),
		   "17 hidden layers are rejected: %s",
		   err.msg);
	q = params_with(16, widths17, 0);
	tap_ok(cs_mlp_check_params(&q, &err) == CS_OK, "16 hidden layers are allowed");
	q = params_with(2, bad, 0);
	st = cs_mlp_check_params(&q, &err);
	tap_ok(fails_with(st, &err, CS_ERR_INVALID, "hidden_layers[2] is 0"),
		   "a zero width is rejected: %s",
		   err.msg);
	bad[1] = -3;
	st = cs_mlp_check_params(&q, &err);
	tap_ok(fails_with(st, &err, CS_ERR_INVALID, "hidden_layers[2] is -3"),
		   "a negative width is rejected: %s",
		   err.msg);
	bad[1] = CS_MLP_MAX_WIDTH + 1;
	st = cs_mlp_check_params(&q, &err);
	tap_ok(fails_with(st, &err, CS_ERR_INVALID, "between 1 and 65536"),
		   "a width over 65536 is rejected: %s",
		   err.msg);
	bad[1] = CS_MLP_MAX_WIDTH;
	tap_ok(cs_mlp_check_params(&q, &err) == CS_OK, "a width of 65536 is allowed");
	q = params_with(2, NULL, 0);
	st = cs_mlp_check_params(&q, &err);
	tap_ok(fails_with(st, &err, CS_ERR_INVALID, "hidden_layers"), "a missing layer list");

	q = params_with(2, two, 0);
	q.activation = (cs_mlp_activation) 7;
	st = cs_mlp_check_params(&q, &err);
	tap_ok(fails_with(st, &err, CS_ERR_INVALID, "activation"),
		   "an unknown activation: %s",
		   err.msg);
	q = params_with(2, two, 0);
	q.batch_norm = 2;
	st = cs_mlp_check_params(&q, &err);
	tap_ok(fails_with(st, &err, CS_ERR_INVALID, "batch_norm"), "batch_norm must be 0 or 1");
	q = params_with(2, two, 0);
	q.dropout = 1.0;
	st = cs_mlp_check_params(&q, &err);
	tap_ok(fails_with(st, &err, CS_ERR_INVALID, "dropout must be in [0, 1), not 1"),
		   "dropout 1 is rejected: %s",
		   err.msg);
	q.dropout = -0.1;
	st = cs_mlp_check_params(&q, &err);
	tap_ok(fails_with(st, &err, CS_ERR_INVALID, "dropout"), "negative dropout is rejected");
	q.dropout = NAN;
	st = cs_mlp_check_params(&q, &err);
	tap_ok(fails_with(st, &err, CS_ERR_INVALID, "dropout"), "NaN dropout is rejected");
	q = params_with(2, two, 0);
	q.learning_rate = 0.0;
	st = cs_mlp_check_params(&q, &err);
	tap_ok(fails_with(st, &err, CS_ERR_INVALID, "learning_rate must be a positive number, not 0"),
		   "learning_rate 0 is rejected: %s",
		   err.msg);
	q.learning_rate = -1e-3;
	st = cs_mlp_check_params(&q, &err);
	tap_ok(fails_with(st, &err, CS_ERR_INVALID, "learning_rate"), "a negative learning_rate");
	q.learning_rate = INFINITY;
	st = cs_mlp_check_params(&q, &err);
	tap_ok(fails_with(st, &err, CS_ERR_INVALID, "learning_rate"), "an infinite learning_rate");
	q = params_with(2, two, 0);
	q.batch_size = 0;
	st = cs_mlp_check_params(&q, &err);
	tap_ok(fails_with(st, &err, CS_ERR_INVALID, "batch_size must be at least 1, not 0"),
		   "batch_size 0 is rejected: %s",
		   err.msg);
	q.batch_size = -5;
	st = cs_mlp_check_params(&q, &err);
	tap_ok(fails_with(st, &err, CS_ERR_INVALID, "batch_size"), "a negative batch_size");
	q = params_with(2, two, 0);
	q.epochs = 0;
	st = cs_mlp_check_params(&q, &err);
	tap_ok(fails_with(st, &err, CS_ERR_INVALID, "epochs must be between 1 and 1000000, not 0"),
		   "epochs 0 is rejected: %s",
		   err.msg);
	q.epochs = CS_MLP_MAX_EPOCHS + 1;
	st = cs_mlp_check_params(&q, &err);
	tap_ok(fails_with(st, &err, CS_ERR_INVALID, "epochs"), "more than a million epochs");
	q = params_with(2, two, 0);
	q.weight_decay = -1.0;
	st = cs_mlp_check_params(&q, &err);
	tap_ok(fails_with(st, &err, CS_ERR_INVALID, "weight_decay"), "a negative weight_decay");
	q = params_with(2, two, 0);
	q.patience = 0;
	st = cs_mlp_check_params(&q, &err);
	tap_ok(fails_with(st, &err, CS_ERR_INVALID, "patience"), "patience 0 is rejected");
	q = params_with(2, two, 0);
	q.tol = -1.0;
	st = cs_mlp_check_params(&q, &err);
	tap_ok(fails_with(st, &err, CS_ERR_INVALID, "tol"), "a negative tol is rejected");
}

/* Fit-time argument errors; BLAS must not be loaded yet. */
static void
test_fit_arguments(void)
{
	static const int32_t two[2] = { 4, 3 };
	cs_mlp_params        p = params_with(2, two, 1);
	toy_data             d = make_toy(20, 3, 1, 0);
	cs_mlp               m;
	cs_error             err = { 0 };
	cs_status            st;

	p.epochs = 2;
	st = cs_mlp_fit(d.X, d.y, d.n, d.p, NULL, NULL, 0, &p, &m, NULL, NULL, &err);
	tap_ok(fails_with(st, &err, CS_ERR_BLAS, "not loaded") && m.params == NULL,
		   "fitting without BLAS loaded is CS_ERR_BLAS");
	tap_ok(cs_linalg_load(NULL, 1, &err) == CS_OK, "load libopenblas.so.0 with one thread");
	st = cs_mlp_fit(d.X, d.y, 0, d.p, NULL, NULL, 0, &p, &m, NULL, NULL, &err);
	tap_ok(fails_with(st, &err, CS_ERR_INVALID, "at least one training row"), "no training rows");
	st = cs_mlp_fit(d.X, d.y, d.n, 0, NULL, NULL, 0, &p, &m, NULL, NULL, &err);
	tap_ok(fails_with(st, &err, CS_ERR_INVALID, "at least one input column"),
		   "a design without columns: %s",
		   err.msg);
	st = cs_mlp_fit(d.X, d.y, d.n, d.p, NULL, d.y, 5, &p, &m, NULL, NULL, &err);
	tap_ok(fails_with(st, &err, CS_ERR_INVALID, "validation rows are missing"),
		   "validation rows counted but not given");
	p.early_stopping = 1;
	st = cs_mlp_fit(d.X, d.y, d.n, d.p, NULL, NULL, 0, &p, &m, NULL, NULL, &err);
	tap_ok(fails_with(st, &err, CS_ERR_INVALID, "early_stopping needs validation rows"),
		   "early stopping without validation rows: %s",
		   err.msg);
	p.early_stopping = 0;
	p.n_hidden = 0;
	st = cs_mlp_fit(d.X, d.y, d.n, d.p, NULL, NULL, 0, &p, &m, NULL, NULL, &err);
	tap_ok(fails_with(st, &err, CS_ERR_INVALID, "hidden_layers") && m.params == NULL,
		   "fit checks the hyperparameters and leaves the network empty");
	free_toy(&d);
}

/* ----------------------------------------------------------- initialisation */

static void
test_init(void)
{
	static const int32_t two[2] = { 6, 5 };
	cs_mlp_params        p = params_with(2, two, 42);
	cs_mlp               a;
	cs_mlp               b;
	cs_mlp_layer         lay[3];
	cs_error             err = { 0 };
	size_t               n_running;
	size_t               i;
	int                  in_bounds = 1;
	int                  zero_bias = 1;
	int                  l;
	double               bound[3];

	tap_ok(cs_mlp_init(&a, 7, &p, &err) == CS_OK && a.n_layers == 3 && a.units[0] == 7 &&
			   a.units[1] == 6 && a.units[2] == 5 && a.units[3] == 1 &&
			   a.n_params == 7 * 6 + 6 + 6 * 5 + 5 + 5 + 1 && a.n_running == 0,
		   "architecture and parameter count of [6, 5] on 7 inputs");
	bound[0] = sqrt(6.0 / 7.0);       /* He: relu follows */
	bound[1] = sqrt(6.0 / 6.0);       /* He */
	bound[2] = sqrt(6.0 / (5.0 + 1)); /* Glorot: the sigmoid output */
	for (l = 0; l < 3; l++)
	{
		double largest = 0.0;

		cs_mlp_layout(&a, l, &lay[l]);
		for (i = 0; i < (size_t) (lay[l].n_in * lay[l].n_out); i++)
			largest = fmax(largest, fabs(a.params[lay[l].w + i]));
		in_bounds &= largest < bound[l] && largest > 0.5 * bound[l];
		for (i = 0; i < (size_t) lay[l].n_out; i++)
			zero_bias &= a.params[lay[l].b + i] == 0.0;
	}
	tap_ok(in_bounds && zero_bias, "He-uniform hidden weights, Glorot-uniform output, zero biases");
	tap_ok(lay[1].w == 7 * 6 + 6 && lay[2].b == a.n_params - 1 && lay[0].gamma == CS_MLP_ABSENT &&
			   lay[0].mean == CS_MLP_ABSENT,
		   "layout: each layer's weights then biases, the output bias last");
	tap_ok(cs_mlp_init(&b, 7, &p, &err) == CS_OK &&
			   memcmp(a.params, b.params, a.n_params * sizeof(double)) == 0,
		   "the same seed draws the same weights");
	cs_mlp_free(&b);
	p.seed = 43;
	tap_ok(cs_mlp_init(&b, 7, &p, &err) == CS_OK && a.params[0] != b.params[0],
		   "another seed draws other weights");
	cs_mlp_free(&a);
	cs_mlp_free(&b);

	p.activation = CS_MLP_TANH;
	p.batch_norm = 1;
	tap_ok(cs_mlp_init(&a, 7, &p, &err) == CS_OK && a.n_params == 7 * 6 + 12 + 6 * 5 + 10 + 5 + 1 &&
			   cs_mlp_count(&a, &n_running) == a.n_params && n_running == 22 && a.n_running == 22,
		   "batch norm replaces a hidden layer's bias with gamma and beta");
	cs_mlp_layout(&a, 1, &lay[1]);
	tap_ok(lay[1].b == CS_MLP_ABSENT && a.params[lay[1].gamma] == 1.0 &&
			   a.params[lay[1].beta + 4] == 0.0 && a.running[lay[1].mean] == 0.0 &&
			   a.running[lay[1].var + 4] == 1.0 && lay[1].var == 6 * 2 + 5,
		   "gamma 1, beta 0, running mean 0 and variance 1");
	in_bounds = 1;
	for (i = 0; i < 7 * 6; i++)
		in_bounds &= fabs(a.params[i]) < sqrt(6.0 / 13.0);
	tap_ok(in_bounds, "tanh layers are Glorot-uniform");
	cs_mlp_free(&a);
}

/* ----------------------------------------------------------- gradient check */

/*
 * The largest relative error, block by block (each layer's W, b, gamma,
 * beta), between the analytic gradient and central differences:
 * ||analytic - numeric|| / max(||analytic||, ||numeric||).
 */
static double
gradient_error(cs_mlp *m, const toy_data *d, double weight_decay, int32_t layer)
{
	cs_mlp_layer lay;
	double      *grad = malloc(m->n_params * sizeof(double));
	double       loss;
	double       worst = 0.0;
	size_t       starts[4];
	size_t       lens[4];
	int          k;

	if (grad == NULL ||
		cs_mlp_loss_grad(m, d->X, d->y, d->n, weight_decay, &loss, grad, NULL) != CS_OK)
		abort();
	cs_mlp_layout(m, layer, &lay);
	starts[0] = lay.w;
	lens[0] = (size_t) lay.n_in * (size_t) lay.n_out;
	starts[1] = lay.b;
	starts[2] = lay.gamma;
	starts[3] = lay.beta;
	lens[1] = lens[2] = lens[3] = (size_t) lay.n_out;
	for (k = 0; k < 4; k++)
	{
		double diff2 = 0.0;
		double an2 = 0.0;
		double nu2 = 0.0;
		size_t i;

		if (starts[k] == CS_MLP_ABSENT)
			continue;
		for (i = 0; i < lens[k]; i++)
		{
			size_t idx = starts[k] + i;
			double keep = m->params[idx];
			double h = 1e-6 * fmax(1.0, fabs(keep));
			double up;
			double down;
			double numeric;

			m->params[idx] = keep + h;
			cs_mlp_loss_grad(m, d->X, d->y, d->n, weight_decay, &up, NULL, NULL);
			m->params[idx] = keep - h;
			cs_mlp_loss_grad(m, d->X, d->y, d->n, weight_decay, &down, NULL, NULL);
			m->params[idx] = keep;
			numeric = (up - down) / (2.0 * h);
			diff2 += (grad[idx] - numeric) * (grad[idx] - numeric);
			an2 += grad[idx] * grad[idx];
			nu2 += numeric * numeric;
		}
		if (an2 > 0.0 || nu2 > 0.0)
			worst = fmax(worst, sqrt(diff2) / sqrt(fmax(an2, nu2)));
	}
	free(grad);
	return worst;
}

/* Moves the batch-norm parameters off their initial 1 and 0 (so they matter). */
static void
perturb(cs_mlp *m, uint64_t seed)
{
	cs_rng rng;
	size_t i;

	cs_rng_seed(&rng, seed);
	for (i = 0; i < m->n_params; i++)
		m->params[i] += 0.3 * (2.0 * cs_rng_uniform(&rng) - 1.0);
}

static void
test_gradient(void)
{
	static const int32_t w2[2] = { 5, 4 };
	static const int32_t w3[3] = { 6, 5, 4 };
	struct
	{
		const char       *name;
		int32_t           n_hidden;
		const int32_t    *hidden;
		cs_mlp_activation activation;
		int32_t           batch_norm;
		double            weight_decay;
	} cases[] = {
		{ "relu [5, 4]", 2, w2, CS_MLP_RELU, 0, 0.0 },
		{ "relu [6, 5, 4], weight_decay 0.3", 3, w3, CS_MLP_RELU, 0, 0.3 },
		{ "tanh [6, 5, 4], weight_decay 0.1", 3, w3, CS_MLP_TANH, 0, 0.1 },
		{ "relu [5, 4] with batch norm", 2, w2, CS_MLP_RELU, 1, 0.0 },
		{ "tanh [6, 5, 4] with batch norm, weight_decay 0.2", 3, w3, CS_MLP_TANH, 1, 0.2 },
	};
	toy_data d = make_toy(11, 4, 7, 0);
	size_t   c;

	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
	{
		cs_mlp_params p = params_with(cases[c].n_hidden, cases[c].hidden, 100 + c);
		cs_mlp        m;
		int32_t       l;

		p.activation = cases[c].activation;
		p.batch_norm = cases[c].batch_norm;
		if (cs_mlp_init(&m, d.p, &p, NULL) != CS_OK)
			abort();
		perturb(&m, 200 + c);
		for (l = 0; l < m.n_layers; l++)
		{
			double e = gradient_error(&m, &d, cases[c].weight_decay, l);

			tap_ok(e < 1e-6,
				   "gradient check, %s, layer %d%s: relative error %.2e",
				   cases[c].name,
				   (int) l + 1,
				   l == m.n_layers - 1 ? " (output)" : "",
				   e);
		}
		cs_mlp_free(&m);
	}
	free_toy(&d);
}

/* The loss is the mean log loss plus 0.5 * alpha * ||W||^2 / n, as scikit-learn's. */
static void
test_loss_definition(void)
{
	static const int32_t w2[2] = { 5, 4 };
	cs_mlp_params        p = params_with(2, w2, 3);
	toy_data             d = make_toy(13, 4, 9, 0);
	cs_mlp               m;
	cs_mlp_layer         lay;
	double              *prob = malloc(d.n * sizeof(double));
	double               loss;
	double               expected = 0.0;
	double               sumsq = 0.0;
	size_t               i;
	int32_t              l;

	if (prob == NULL || cs_mlp_init(&m, d.p, &p, NULL) != CS_OK ||
		cs_mlp_prepare(&m, NULL) != CS_OK)
		abort();
	cs_mlp_predict(&m, d.X, d.n, prob, NULL);
	for (i = 0; i < d.n; i++)
		expected -= d.y[i] ? log(prob[i]) : log(1.0 - prob[i]);
	for (l = 0; l < m.n_layers; l++)
	{
		cs_mlp_layout(&m, l, &lay);
		for (i = 0; i < (size_t) (lay.n_in * lay.n_out); i++)
			sumsq += m.params[lay.w + i] * m.params[lay.w + i];
	}
	expected = expected / (double) d.n + 0.5 * 0.01 * sumsq / (double) d.n;
	cs_mlp_loss_grad(&m, d.X, d.y, d.n, 0.01, &loss, NULL, NULL);
	tap_ok(fabs(loss - expected) < 1e-12,
		   "the batch loss is mean log loss + 0.5 alpha ||W||^2 / n (%.12f vs %.12f)",
		   loss,
		   expected);
	cs_mlp_free(&m);
	free(prob);
	free_toy(&d);
}

/* -------------------------------------------------------------------- fits */

/* Fraction of pairs (positive, negative) ranked right: the AUC, ties one half. */
static double
toy_auc(const double *score, const uint8_t *y, size_t n)
{
	double good = 0.0;
	double pairs = 0.0;
	size_t i;
	size_t j;

	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++)
			if (y[i] && !y[j])
			{
				pairs += 1.0;
				good += score[i] > score[j] ? 1.0 : score[i] == score[j] ? 0.5 : 0.0;
			}
	return good / pairs;
}

static void
test_learning(void)
{
	static const int32_t w2[2] = { 16, 8 };
	cs_mlp_params        p = params_with(2, w2, 5);
	toy_data             d = make_toy(600, 2, 11, 0);
	toy_data             t = make_toy(400, 2, 12, 0);
	cs_mlp               m;
	cs_error             err = { 0 };
	double              *prob = malloc(t.n * sizeof(double));
	double               worst = 0.0;
	size_t               i;
	cs_status            st;

	p.learning_rate = 0.01;
	p.batch_size = 50;
	st = cs_mlp_fit(d.X, d.y, d.n, d.p, NULL, NULL, 0, &p, &m, NULL, NULL, &err);
	tap_ok(st == CS_OK, "fit a circle (not linearly separable): %s", st == CS_OK ? "ok" : err.msg);
	if (st != CS_OK)
		abort();
	cs_mlp_predict(&m, t.X, t.n, prob, &err);
	tap_ok(toy_auc(prob, t.y, t.n) > 0.97,
		   "held-out AUC on the circle is %.4f (> 0.97)",
		   toy_auc(prob, t.y, t.n));
	tap_ok(m.n_epochs >= 1 && m.n_epochs <= p.epochs && m.best_epoch == m.n_epochs &&
			   m.train_loss[m.n_epochs - 1] < 0.5 * m.train_loss[0] && isnan(m.valid_loss[0]),
		   "learning curve: %d epochs, loss %.4f -> %.4f, no validation loss",
		   (int) m.n_epochs,
		   m.train_loss[0],
		   m.train_loss[m.n_epochs - 1]);
	for (i = 0; i < t.n; i++)
		worst = fmax(worst, row_gap(prob[i], cs_mlp_predict_row(&m, t.X + i * (size_t) t.p)));
	tap_ok(worst < ONE_ROW_TOL,
		   "one-row (float) scoring agrees with block scoring within %.0e (%.1e)",
		   ONE_ROW_TOL,
		   worst);
	tap_ok(cs_mlp_check(&m, &err) == CS_OK, "a fitted network passes cs_mlp_check");
	cs_mlp_free(&m);
	free(prob);
	free_toy(&d);
	free_toy(&t);
}

/* Whether every recorded epoch's losses are finite. */
static int
all_in_curve(const cs_mlp *m)
{
	int32_t e;

	for (e = 0; e < m->n_epochs; e++)
		if (!isfinite(m->train_loss[e]) || !isfinite(m->valid_loss[e]))
			return 0;
	return m->n_epochs > 0;
}

/* Same seed, same bits; batch norm and dropout on, a last batch of one row. */
static void
test_determinism(void)
{
	static const int32_t w2[2] = { 12, 6 };
	cs_mlp_params        p = params_with(2, w2, 77);
	toy_data             d = make_toy(401, 5, 13, 0);
	toy_data             v = make_toy(100, 5, 14, 0);
	cs_mlp               a;
	cs_mlp               b;
	cs_error             err = { 0 };
	toy_data             t = make_toy(300, 5, 15, 0);
	double              *prob = malloc(t.n * sizeof(double));
	double               worst = 0.0;
	size_t               i;
	int                  ok;

	p.batch_norm = 1;
	p.dropout = 0.2;
	p.batch_size = 100;
	p.epochs = 15;
	p.learning_rate = 0.005;
	ok = cs_mlp_fit(d.X, d.y, d.n, d.p, v.X, v.y, v.n, &p, &a, NULL, NULL, &err) == CS_OK &&
		 cs_mlp_fit(d.X, d.y, d.n, d.p, v.X, v.y, v.n, &p, &b, NULL, NULL, &err) == CS_OK;
	tap_ok(ok,
		   "two fits with batch norm, dropout 0.2 and 401 rows in batches of 100: %s",
		   ok ? "ok" : err.msg);
	if (!ok)
		abort();
	tap_ok(memcmp(a.params, b.params, a.n_params * sizeof(double)) == 0 &&
			   memcmp(a.running, b.running, a.n_running * sizeof(double)) == 0 &&
			   memcmp(a.train_loss, b.train_loss, (size_t) a.n_epochs * sizeof(double)) == 0 &&
			   memcmp(a.valid_loss, b.valid_loss, (size_t) a.n_epochs * sizeof(double)) == 0,
		   "the same seed and thread count give the same weights, statistics and curve, bit "
		   "for bit");
	tap_ok(all_in_curve(&a), "every epoch's training and validation loss is finite");
	cs_mlp_predict(&a, t.X, t.n, prob, &err);
	for (i = 0; i < t.n; i++)
		worst = fmax(worst, row_gap(prob[i], cs_mlp_predict_row(&a, t.X + i * (size_t) t.p)));
	tap_ok(worst < ONE_ROW_TOL,
		   "one-row (float) scoring with batch norm agrees with block scoring within %.0e (%.1e)",
		   ONE_ROW_TOL,
		   worst);
	cs_mlp_free(&b);
	p.seed = 78;
	tap_ok(cs_mlp_fit(d.X, d.y, d.n, d.p, v.X, v.y, v.n, &p, &b, NULL, NULL, &err) == CS_OK &&
			   memcmp(a.params, b.params, a.n_params * sizeof(double)) != 0,
		   "another seed gives other weights");
	cs_mlp_free(&a);
	cs_mlp_free(&b);
	free(prob);
	free_toy(&d);
	free_toy(&v);
	free_toy(&t);
}

/* Early stopping keeps the best epoch; without it, scikit-learn's rule on the training loss. */
static void
test_stopping(void)
{
	static const int32_t w2[2] = { 32, 16 };
	cs_mlp_params        p = params_with(2, w2, 3);
	toy_data             d = make_toy(300, 6, 21, 1);
	toy_data             v = make_toy(200, 6, 22, 1);
	double              *prob = malloc(v.n * sizeof(double));
	double               loss = 0.0;
	double               best = INFINITY;
	cs_mlp               m;
	cs_error             err = { 0 };
	int32_t              argmin = 0;
	int32_t              e;
	size_t               i;
	cs_status            st;

	p.learning_rate = 0.01;
	p.batch_size = 32;
	p.early_stopping = 1;
	p.patience = 5;
	p.tol = 0.0;
	st = cs_mlp_fit(d.X, d.y, d.n, d.p, v.X, v.y, v.n, &p, &m, NULL, NULL, &err);
	tap_ok(st == CS_OK && m.n_epochs < p.epochs,
		   "early stopping on noise stops after %d of %d epochs",
		   (int) m.n_epochs,
		   (int) p.epochs);
	if (st != CS_OK)
		abort();
	for (e = 0; e < m.n_epochs; e++)
		if (m.valid_loss[e] < best)
		{
			best = m.valid_loss[e];
			argmin = e + 1;
		}
	tap_ok(m.best_epoch == argmin && m.n_epochs == m.best_epoch + p.patience + 1,
		   "best epoch %d has the lowest validation loss; stopped %d epochs later (patience %d)",
		   (int) m.best_epoch,
		   (int) (m.n_epochs - m.best_epoch),
		   (int) p.patience);
	cs_mlp_predict(&m, v.X, v.n, prob, &err);
	for (i = 0; i < v.n; i++)
		loss -= v.y[i] ? log(prob[i]) : log(1.0 - prob[i]);
	loss /= (double) v.n;
	tap_ok(fabs(loss - m.valid_loss[m.best_epoch - 1]) < 1e-9,
		   "the kept weights are the best epoch's (validation loss %.9f)",
		   loss);
	cs_mlp_free(&m);

	p.early_stopping = 0;
	p.tol = 100.0;
	st = cs_mlp_fit(d.X, d.y, d.n, d.p, v.X, v.y, v.n, &p, &m, NULL, NULL, &err);
	tap_ok(st == CS_OK && m.n_epochs == p.patience + 2 && m.best_epoch == m.n_epochs &&
			   isfinite(m.valid_loss[0]),
		   "without early stopping, scikit-learn's rule: epoch 1 improves on infinity, then "
		   "more than patience epochs without a training-loss gain > tol stop (%d epochs), "
		   "keeping the last weights",
		   (int) m.n_epochs);
	cs_mlp_free(&m);
	free(prob);
	free_toy(&d);
	free_toy(&v);
}

/* A learning rate that overflows the weights stops with CS_ERR_NUMERIC. */
static void
test_divergence(void)
{
	static const int32_t w2[2] = { 8, 8 };
	cs_mlp_params        p = params_with(2, w2, 1);
	toy_data             d = make_toy(200, 4, 31, 0);
	cs_mlp               m;
	cs_error             err = { 0 };
	cs_status            st;

	p.learning_rate = 1e300;
	p.batch_size = 20;
	st = cs_mlp_fit(d.X, d.y, d.n, d.p, NULL, NULL, 0, &p, &m, NULL, NULL, &err);
	tap_ok(fails_with(st,
					  &err,
					  CS_ERR_NUMERIC,
					  "the loss diverged at epoch 1: lower learning_rate") &&
			   m.params == NULL && m.train_loss == NULL,
		   "a diverging loss is CS_ERR_NUMERIC and leaves no network: %s",
		   err.msg);
	free_toy(&d);
}

typedef struct progress_log
{
	int    calls;
	int    stop_at;
	int    increasing;
	double last;
} progress_log;

/* Records the calls; asks to stop at call stop_at. */
static int
record_progress(void *ctx, double fraction, const char *message)
{
	progress_log *log = ctx;

	log->calls++;
	log->increasing &= fraction > log->last && fraction <= 1.0 && strstr(message, "epoch") != NULL;
	log->last = fraction;
	return log->calls == log->stop_at;
}

static void
test_progress(void)
{
	static const int32_t w1[1] = { 4 };
	cs_mlp_params        p = params_with(1, w1, 1);
	toy_data             d = make_toy(100, 3, 41, 0);
	progress_log         log = { 0, 3, 1, 0.0 };
	cs_mlp               m;
	cs_error             err = { 0 };
	cs_status            st;

	p.epochs = 10;
	p.tol = 0.0;
	p.patience = 100;
	st = cs_mlp_fit(d.X, d.y, d.n, d.p, NULL, NULL, 0, &p, &m, record_progress, &log, &err);
	tap_ok(fails_with(st, &err, CS_ERR_CANCELLED, "cancelled") && log.calls == 3 &&
			   m.params == NULL,
		   "progress returning nonzero after epoch 3 cancels: %s",
		   err.msg);
	log.calls = 0;
	log.stop_at = -1;
	log.last = 0.0;
	st = cs_mlp_fit(d.X, d.y, d.n, d.p, NULL, NULL, 0, &p, &m, record_progress, &log, &err);
	tap_ok(st == CS_OK && log.calls == 10 && log.increasing && log.last == 1.0,
		   "progress is called once per epoch with a rising fraction");
	cs_mlp_free(&m);
	free_toy(&d);
}

/* Running statistics after one full batch: PyTorch's momentum 0.1, unbiased variance. */
static void
test_running_statistics(void)
{
	static const int32_t w1[1] = { 3 };
	cs_mlp_params        p = params_with(1, w1, 9);
	toy_data             d = make_toy(50, 4, 51, 0);
	cs_mlp               init;
	cs_mlp               m;
	cs_mlp_layer         lay;
	cs_error             err = { 0 };
	double               worst = 0.0;
	size_t               i;
	size_t               j;
	int32_t              k;

	p.batch_norm = 1;
	p.epochs = 1;
	p.batch_size = 50;
	if (cs_mlp_init(&init, d.p, &p, &err) != CS_OK ||
		cs_mlp_fit(d.X, d.y, d.n, d.p, NULL, NULL, 0, &p, &m, NULL, NULL, &err) != CS_OK)
	{
		tap_ok(0, "running statistics: %s", err.msg);
		return;
	}
	cs_mlp_layout(&m, 0, &lay);
	for (j = 0; j < 3; j++)
	{
		double z[50];
		double mean = 0.0;
		double var = 0.0;

		for (i = 0; i < 50; i++)
		{
			z[i] = 0.0;
			for (k = 0; k < d.p; k++)
				z[i] +=
					d.X[i * (size_t) d.p + (size_t) k] * init.params[lay.w + (size_t) k + j * 4];
			mean += z[i] / 50.0;
		}
		for (i = 0; i < 50; i++)
			var += (z[i] - mean) * (z[i] - mean) / 49.0;
		worst = fmax(worst, fabs(m.running[lay.mean + j] - 0.1 * mean));
		worst = fmax(worst, fabs(m.running[lay.var + j] - (0.9 + 0.1 * var)));
	}
	tap_ok(worst < 1e-12,
		   "after one batch: running mean 0.1 * batch mean, variance 0.9 + 0.1 * unbiased (%.1e)",
		   worst);
	cs_mlp_free(&init);
	cs_mlp_free(&m);
	free_toy(&d);
}

/* ------------------------------------------------------------ one-row scoring */

/* A network of the given shape with nonzero biases and batch-norm statistics. */
static void
kernel_network(cs_mlp *m, int32_t p, int32_t n_hidden, const int32_t *hidden, int activation,
			   int batch_norm, uint64_t seed)
{
	cs_mlp_params q = params_with(n_hidden, hidden, seed);
	size_t        i;

	q.activation = activation;
	q.batch_norm = batch_norm;
	if (cs_mlp_init(m, p, &q, NULL) != CS_OK)
		abort();
	for (i = 0; i < m->n_params; i++)
		m->params[i] += 0.05 * sin(1.3 * (double) i);
	for (i = 0; i < m->n_running; i++)
		m->running[i] = fabs(m->running[i] + 0.3 * sin(0.7 * (double) i));
	if (cs_mlp_prepare(m, NULL) != CS_OK)
		abort();
}

/* Whether a and b are the same double, NaN matching NaN. */
static int
same_double(double a, double b)
{
	return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof(a)) == 0;
}

typedef struct score_job
{
	const cs_mlp *m;
	const double *X;
	size_t        n;
	double       *out;
} score_job;

/* Scores a job's rows one at a time (a thread). */
static void *
score_job_run(void *arg)
{
	score_job *job = (score_job *) arg;
	size_t     i;

	for (i = 0; i < job->n; i++)
		job->out[i] = cs_mlp_margin_row(job->m, job->X + i * (size_t) job->m->units[0]);
	return NULL;
}

static void
test_one_row_kernels(void)
{
	static const int32_t odd[2] = { 77, 13 };   /* 64 + 8 + 5 units, then 8 + 5 */
	static const int32_t deep[3] = { 5, 9, 3 }; /* tanh, batch norm */
	static const int32_t wide[1] = { 700 };     /* scratch too wide for the stack */
	static const char   *names[3] = { "relu [77, 13]",
									  "tanh + batch norm [5, 9, 3]",
									  "relu [700], 300 inputs" };
	const int32_t       *shapes[3] = { odd, deep, wide };
	int32_t              n_hidden[3] = { 2, 3, 1 };
	int32_t              inputs[3] = { 23, 6, 300 };
	int32_t              best = cs_mlp_simd_best();
	int                  k;

	tap_ok(best >= CS_MLP_SIMD_NONE && best <= CS_MLP_SIMD_AVX512,
		   "this CPU's best one-row kernel: %s",
		   best == CS_MLP_SIMD_AVX512 ? "AVX-512F" :
		   best == CS_MLP_SIMD_AVX    ? "AVX" :
										"plain C");
	for (k = 0; k < 3; k++)
	{
		toy_data d = make_toy(300, inputs[k], 70 + (uint64_t) k, 0);
		cs_mlp   m;
		double  *prob = malloc(d.n * sizeof(double));
		double  *ref = malloc(d.n * sizeof(double));
		double   worst = 0.0;
		int      identical = 1;
		int32_t  level;
		size_t   i;

		if (prob == NULL || ref == NULL)
			abort();
		/* zeros to skip: every third value, and the whole first row */
		for (i = 0; i < d.n * (size_t) d.p; i++)
			if (i % 3 == 1 || i < (size_t) d.p)
				d.X[i] = 0.0;
		kernel_network(&m,
					   d.p,
					   n_hidden[k],
					   shapes[k],
					   k == 1 ? CS_MLP_TANH : CS_MLP_RELU,
					   k == 1,
					   80 + (uint64_t) k);
		tap_ok(m.simd == best, "%s: prepared with the best kernel", names[k]);
		cs_mlp_predict(&m, d.X, d.n, prob, NULL);
		for (i = 0; i < d.n; i++)
			worst = fmax(worst, row_gap(prob[i], cs_mlp_predict_row(&m, d.X + i * (size_t) d.p)));
		tap_ok(worst < ONE_ROW_TOL,
			   "%s: one row (float) agrees with block scoring within %.0e (%.1e)",
			   names[k],
			   ONE_ROW_TOL,
			   worst);
		for (level = CS_MLP_SIMD_NONE; level <= best; level++)
		{
			m.simd = level;
			for (i = 0; i < d.n; i++)
			{
				double v = cs_mlp_margin_row(&m, d.X + i * (size_t) d.p);

				if (level == CS_MLP_SIMD_NONE)
					ref[i] = v;
				else
					identical &= same_double(v, ref[i]);
			}
		}
		tap_ok(identical, "%s: every kernel up to this CPU's gives the same bits", names[k]);
		/* an infinite input: NaN in padding lanes must not reach the next layer */
		d.X[1] = INFINITY;
		d.X[2] = -INFINITY;
		identical = 1;
		for (level = CS_MLP_SIMD_NONE; level <= best; level++)
		{
			double v;

			m.simd = level;
			v = cs_mlp_margin_row(&m, d.X);
			if (level == CS_MLP_SIMD_NONE)
				ref[0] = v;
			else
				identical &= same_double(v, ref[0]);
		}
		tap_ok(identical, "%s: an infinite input scores alike on every kernel", names[k]);
		cs_mlp_free(&m);
		free(prob);
		free(ref);
		free_toy(&d);
	}
}

/* Two threads scoring one prepared network get what one thread gets. */
static void
test_one_row_threads(void)
{
	static const int32_t w2[2] = { 64, 32 };
	toy_data             d = make_toy(4000, 20, 90, 0);
	cs_mlp               m;
	score_job            jobs[3];
	pthread_t            threads[2];
	int                  same = 1;
	int                  started = 0;
	size_t               i;
	int                  j;

	kernel_network(&m, d.p, 2, w2, CS_MLP_RELU, 0, 91);
	for (j = 0; j < 3; j++)
	{
		jobs[j].m = &m;
		jobs[j].X = d.X;
		jobs[j].n = d.n;
		jobs[j].out = malloc(d.n * sizeof(double));
		if (jobs[j].out == NULL)
			abort();
	}
	score_job_run(&jobs[2]);
	for (j = 0; j < 2; j++)
		started += pthread_create(&threads[j], NULL, score_job_run, &jobs[j]) == 0;
	for (j = 0; j < started; j++)
		pthread_join(threads[j], NULL);
	for (j = 0; j < 2; j++)
		for (i = 0; i < d.n; i++)
			same &= same_double(jobs[j].out[i], jobs[2].out[i]);
	tap_ok(started == 2 && same, "two threads share a prepared network: same margins as one");
	for (j = 0; j < 3; j++)
		free(jobs[j].out);
	cs_mlp_free(&m);
	free_toy(&d);
}

/* cs_mlp_check refuses what a malformed blob could hold. */
static void
test_check(void)
{
	static const int32_t w2[2] = { 3, 2 };
	cs_mlp_params        p = params_with(2, w2, 1);
	cs_mlp               m;
	cs_error             err = { 0 };
	cs_mlp_layer         lay;
	double               keep;

	p.batch_norm = 1;
	if (cs_mlp_init(&m, 4, &p, &err) != CS_OK)
		abort();
	tap_ok(cs_mlp_check(&m, &err) == CS_OK, "check: an initialised network passes");
	m.n_params--;
	tap_ok(fails_with(cs_mlp_check(&m, &err), &err, CS_ERR_CORRUPT, "parameters"),
		   "check: a wrong parameter count: %s",
		   err.msg);
	m.n_params++;
	keep = m.params[3];
	m.params[3] = NAN;
	tap_ok(fails_with(cs_mlp_check(&m, &err), &err, CS_ERR_CORRUPT, "not finite"),
		   "check: a NaN weight");
	m.params[3] = keep;
	cs_mlp_layout(&m, 1, &lay);
	m.running[lay.var] = -1.0;
	tap_ok(fails_with(cs_mlp_check(&m, &err), &err, CS_ERR_CORRUPT, "running statistic in layer 2"),
		   "check: a negative running variance: %s",
		   err.msg);
	m.running[lay.var] = 1.0;
	m.units[3] = 2;
	tap_ok(fails_with(cs_mlp_check(&m, &err), &err, CS_ERR_CORRUPT, "output layer"),
		   "check: an output layer of two units");
	m.units[3] = 1;
	m.n_layers = 40;
	tap_ok(fails_with(cs_mlp_check(&m, &err), &err, CS_ERR_CORRUPT, "weight layers"),
		   "check: 40 layers");
	m.n_layers = 3;
	m.units[1] = 70000;
	tap_ok(fails_with(cs_mlp_check(&m, &err), &err, CS_ERR_CORRUPT, "hidden layer 1"),
		   "check: a hidden layer of 70,000 units");
	m.units[1] = 3;
	m.activation = 5;
	tap_ok(fails_with(cs_mlp_check(&m, &err), &err, CS_ERR_CORRUPT, "activation"),
		   "check: an unknown activation");
	m.activation = CS_MLP_RELU;
	m.n_epochs = 2;
	m.best_epoch = 3;
	tap_ok(fails_with(cs_mlp_check(&m, &err), &err, CS_ERR_CORRUPT, "learning curve"),
		   "check: a best epoch after the last");
	m.n_epochs = 0;
	m.best_epoch = 0;
	cs_mlp_free(&m);
}

/* ---------------------------------------------------------- schema encoding */

/* Appends a row of (numeric, category) with its label. */
static void
add_row(cs_dataset *ds, double x, const char *cat, int label)
{
	size_t r = ds->n_rows;

	if (cs_dataset_reserve(ds, r + 1, NULL) != CS_OK)
		abort();
	ds->cols[0].values[r] = x;
	ds->cols[1].values[r] =
		cat == NULL ? NAN : (double) cs_strdict_intern(ds->cols[1].dict, cat, strlen(cat));
	ds->label[r] = (uint8_t) label;
	ds->n_rows = r + 1;
}

static void
test_schema_rows(void)
{
	static const int32_t w1[1] = { 5 };
	static const char   *cats[] = { "rent", "owner", "parents", NULL };
	const char          *names[] = { "income", "home" };
	cs_kind              kinds[] = { CS_KIND_NUMERIC, CS_KIND_CATEGORICAL };
	cs_dataset          *ds = cs_dataset_new(2, names, kinds, NULL);
	cs_mlp_params        p = params_with(1, w1, 2);
	cs_schema            s;
	cs_mlp               m;
	cs_error             err = { 0 };
	size_t               rows[5000];
	double              *col = NULL;
	double              *row = NULL;
	double              *inputs = NULL;
	double              *prob;
	uint8_t             *y;
	double               worst = 0.0;
	int                  same = 1;
	size_t               i;
	int32_t              j;

	for (i = 0; i < 5000; i++)
	{
		double x = (double) (i * 37 % 1000);

		add_row(ds, i % 13 == 0 ? NAN : x, cats[i % 4], (i * 37 % 1000) > 600);
		rows[i] = 4999 - i;
	}
	if (cs_schema_learn(ds, rows, 5000, &s, &err) != CS_OK ||
		cs_schema_design(&s, ds, rows, 5000, &col, &err) != CS_OK ||
		cs_mlp_design_rows(&s, ds, rows, 5000, &row, &err) != CS_OK ||
		cs_schema_inputs(&s, ds, rows, 5000, &inputs, &err) != CS_OK)
	{
		tap_ok(0, "design rows: %s", err.msg);
		return;
	}
	for (i = 0; i < 5000; i++)
		for (j = 0; j < s.design_width; j++)
			same &= row[i * (size_t) s.design_width + (size_t) j] == col[(size_t) j * 5000 + i];
	tap_ok(same && s.design_width == 5,
		   "cs_mlp_design_rows is the row-major cs_schema_design (5,000 rows, %d columns)",
		   (int) s.design_width);
	p.epochs = 3;
	prob = malloc(5000 * sizeof(double));
	y = malloc(5000);
	if (prob == NULL || y == NULL)
		abort();
	for (i = 0; i < 5000; i++)
		y[i] = ds->label[rows[i]];
	if (cs_mlp_fit(row, y, 5000, s.design_width, NULL, NULL, 0, &p, &m, NULL, NULL, &err) !=
			CS_OK ||
		cs_mlp_predict(&m, row, 5000, prob, &err) != CS_OK)
		abort();
	for (i = 0; i < 5000; i++)
		worst = fmax(worst, row_gap(prob[i], cs_mlp_predict_input(&m, &s, inputs + i * 2)));
	tap_ok(worst < ONE_ROW_TOL,
		   "cs_mlp_predict_input (float) on a scoring input agrees with block scoring of its "
		   "design row within %.0e (%.1e)",
		   ONE_ROW_TOL,
		   worst);
	for (i = 0; i < 5000; i++)
		same &= cs_mlp_predict_input(&m, &s, inputs + i * 2) ==
				cs_mlp_predict_row(&m, row + i * (size_t) s.design_width);
	for (i = 0; i < 8; i++)
	{
		/* missing, the mean (a zero), unseen (-1), out of range, infinite, reference level */
		double edge[8][2] = { { NAN, NAN },    { s.features[0].mean, 1 }, { 5, -1 }, { 5, 7 },
							  { INFINITY, 2 }, { -INFINITY, NAN },        { 5, 0 },  { 0, 2.5 } };
		double design[5];

		cs_schema_encode(&s, edge[i], design);
		same &= same_double(cs_mlp_predict_input(&m, &s, edge[i]), cs_mlp_predict_row(&m, design));
	}
	tap_ok(same, "cs_mlp_predict_input equals cs_mlp_predict_row of cs_schema_encode, bit for bit");
	cs_mlp_free(&m);
	free(prob);
	free(y);
	cs_free(col);
	cs_free(row);
	cs_free(inputs);
	cs_schema_free(&s);
	cs_dataset_free(ds);
}

int
main(void)
{
	test_params();
	test_fit_arguments();
	test_init();
	test_gradient();
	test_loss_definition();
	test_learning();
	test_determinism();
	test_stopping();
	test_divergence();
	test_progress();
	test_running_statistics();
	test_one_row_kernels();
	test_one_row_threads();
	test_check();
	test_schema_rows();
	return tap_finish();
}
