/*
 * test_trees.c - unit tests of the tree ensembles (src/core/cs_trees.h), printing TAP.
 *
 * Build and run (from the repository root):
 *   make test/unit/test_trees && prove -v test/unit/test_trees
 *
 * Expected figures are worked out by hand from XGBoost's formulas, as gbm.c
 * implements them: with base_score 0.5 every row starts at p = 0.5, so
 * g = 0.5 - y and h = 0.25 (both times scale_pos_weight for y = 1); a node's
 * weight is -T(G) / (H + lambda) (T: soft-threshold by alpha), a split's gain
 * (XGBoost's loss_chg, twice the paper's gain before gamma) is
 * T(G_L)^2 / (H_L + lambda) + T(G_R)^2 / (H_R + lambda) - T(G)^2 / (H + lambda),
 * and a split is kept when its gain exceeds 1e-6 and is at least gamma.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cs_trees.h"
#include "tap.h"

/* ------------------------------------------------------------------ helpers */

/* Whether a and b agree to within tol, relative to max(1, |a|, |b|). */
static int
close_to(double a, double b, double tol)
{
	double scale = fmax(1.0, fmax(fabs(a), fabs(b)));

	return fabs(a - b) <= tol * scale;
}

/* Row-major data: n rows of nf inputs and their labels. */
typedef struct data
{
	size_t       n;
	int32_t      nf;
	double      *x;
	uint8_t     *y;
	cs_tree_data d;
} data;

/* Allocates n x nf inputs (zero) and labels. */
static void
data_new(data *t, size_t n, int32_t nf)
{
	t->n = n;
	t->nf = nf;
	t->x = calloc(n * (size_t) nf + 1, sizeof(double));
	t->y = calloc(n + 1, 1);
	if (t->x == NULL || t->y == NULL)
		abort();
	cs_tree_data_rows(&t->d, t->x, n, nf, t->y);
}

/* Frees a data set. */
static void
data_free(data *t)
{
	free(t->x);
	free(t->y);
}

/* One column of inputs and labels from arrays. */
static void
data_1d(data *t, const double *x, const int *y, size_t n)
{
	size_t i;

	data_new(t, n, 1);
	for (i = 0; i < n; i++)
	{
		t->x[i] = x[i];
		t->y[i] = (uint8_t) y[i];
	}
}

/* The logistic function. */
static double
sigmoid(double z)
{
	return 1.0 / (1.0 + exp(-z));
}

/*
 * A learnable data set: x0 uniform on [-2, 2] with a bump, x1 normal, x2 pure
 * noise, x3 a category code 0..3; 3% of x1 missing.
 */
static void
data_synthetic(data *t, size_t n, uint64_t seed)
{
	cs_rng rng;
	size_t i;

	cs_rng_seed(&rng, seed);
	data_new(t, n, 4);
	for (i = 0; i < n; i++)
	{
		double *x = t->x + i * 4;
		double  u = cs_rng_uniform(&rng);
		double  v = cs_rng_uniform(&rng);
		double  z;

		x[0] = 4.0 * cs_rng_uniform(&rng) - 2.0;
		x[1] = sqrt(-2.0 * log(1.0 - u)) * cos(6.283185307179586 * v);
		x[2] = cs_rng_uniform(&rng);
		x[3] = (double) (cs_rng_next(&rng) % 4);
		z = 1.5 * x[0] + 2.0 * sin(3.0 * x[0]) + x[1] - 0.8 * (x[3] == 2.0);
		t->y[i] = cs_rng_uniform(&rng) < sigmoid(z);
		if (cs_rng_uniform(&rng) < 0.03)
			x[1] = NAN;
	}
}

/* AUC of an ensemble on a data set. */
static double
ensemble_auc(const cs_ensemble *e, const data *t)
{
	double *score = malloc(t->n * sizeof(double));
	double  auc;
	size_t  i;

	for (i = 0; i < t->n; i++)
		score[i] = cs_ensemble_predict(e, t->x + i * (size_t) t->nf);
	auc = cs_auc(score, t->y, t->n);
	free(score);
	return auc;
}

/* Whether two ensembles have identical trees, bit for bit. */
static int
same_ensemble(const cs_ensemble *a, const cs_ensemble *b)
{
	return a->n_trees == b->n_trees && a->n_nodes == b->n_nodes &&
		   memcmp(a->tree_start, b->tree_start, ((size_t) a->n_trees + 1) * sizeof(int64_t)) == 0 &&
		   memcmp(a->nodes, b->nodes, (size_t) a->n_nodes * sizeof(cs_tree_node)) == 0;
}

/* The depth of the deepest leaf of tree t. */
static int
tree_depth(const cs_ensemble *e, int32_t t, int32_t k)
{
	const cs_tree_node *nodes = e->nodes + e->tree_start[t];
	int                 l;
	int                 r;

	if (nodes[k].feature < 0)
		return 0;
	l = tree_depth(e, t, nodes[k].left);
	r = tree_depth(e, t, nodes[k].right);
	return 1 + (l > r ? l : r);
}

/* Parameters for one hand-checkable tree: depth 1, eta 1, no min_child_weight. */
static void
one_stump(cs_gbm_params *p)
{
	cs_gbm_params_default(p);
	p->n_estimators = 1;
	p->max_depth = 1;
	p->learning_rate = 1.0;
	p->min_child_weight = 0.0;
}

/* ------------------------------------------------------------------ threads */

typedef struct count_job
{
	int counts[1000];
	int bad_thread;
	int threads;
} count_job;

/* Counts each task's runs. */
static void
count_task(void *arg, size_t task, int thread)
{
	count_job *job = arg;

	__atomic_fetch_add(&job->counts[task], 1, __ATOMIC_RELAXED);
	if (thread < 0 || thread >= job->threads)
		job->bad_thread = 1;
}

static void
test_pool(void)
{
	int t;

	for (t = 1; t <= 4; t += 3)
	{
		cs_pool  *pool;
		cs_error  err = { 0 };
		count_job job;
		int       round;
		int       all_once = 1;
		int       i;

		memset(&job, 0, sizeof(job));
		job.threads = t;
		tap_ok(cs_pool_new(t, &pool, &err) == CS_OK && cs_pool_threads(pool) == t,
			   "pool of %d threads starts",
			   t);
		for (round = 0; round < 50; round++)
			cs_pool_run(pool, 1000, count_task, &job);
		for (i = 0; i < 1000; i++)
			all_once &= job.counts[i] == 50;
		tap_ok(all_once && !job.bad_thread,
			   "pool of %d threads: 50 jobs of 1000 tasks run each task once per job",
			   t);
		cs_pool_free(pool);
	}
}

/* ------------------------------------------------------------------ binning */

static void
test_binning(void)
{
	data          t;
	cs_bin_cuts   c;
	cs_bin_matrix cols;
	cs_bin_matrix rows;
	cs_error      err = { 0 };
	const double  xs[] = { 10, 20, 20, 30, 40, 40, 40, NAN, 10, 30 };
	const int     ys[] = { 0, 0, 1, 1, 0, 1, 0, 1, 1, 0 };
	int           ok = 1;
	size_t        i;
	int32_t       j;
	cs_rng        rng;

	/* few distinct values: each has its own bin, cut at the next value (XGBoost) */
	data_1d(&t, xs, ys, 10);
	tap_ok(cs_bin_cuts_learn(&t.d, 256, 1, NULL, &c, &err) == CS_OK, "cuts learned");
	tap_ok(cs_bin_count(&c, 0) == 4 && c.values[0] == 20.0f && c.values[1] == 30.0f &&
			   c.values[2] == 40.0f && c.values[3] == 40.0f + (40.0f + 1e-5f),
		   "4 distinct values: cuts 20, 30, 40 and 40 + |40| + 1e-5 (got %d cuts)",
		   (int) cs_bin_count(&c, 0));
	tap_ok(c.min_values[0] == 10.0f - 10.0f - 1e-5f, "min value 10 - |10| - 1e-5");
	tap_ok(cs_bin_of(&c, 0, 10) == 0 && cs_bin_of(&c, 0, 15) == 0 && cs_bin_of(&c, 0, 20) == 1 &&
			   cs_bin_of(&c, 0, 39.9) == 2 && cs_bin_of(&c, 0, 40) == 3 &&
			   cs_bin_of(&c, 0, 1e9) == 3 && cs_bin_of(&c, 0, -5) == 0 &&
			   cs_bin_of(&c, 0, NAN) == 4,
		   "bins: [., 20) [20, 30) [30, 40) [40, .), NaN in the reserved bin 4");
	tap_ok(c.lo[0] == 10.0f && c.hi[0] == 10.0f && c.lo[3] == 40.0f && c.hi[3] == 40.0f,
		   "each bin's range of training values");
	tap_ok(cs_bin_matrix_build(&c, &t.d, 0, NULL, &cols, &err) == CS_OK && cols.width[0] == 1 &&
			   cs_bin_get(&cols, 0, 0) == 0 && cs_bin_get(&cols, 0, 4) == 3 &&
			   cs_bin_get(&cols, 0, 7) == 4,
		   "column-major bin matrix");
	cs_bin_matrix_free(&cols);
	cs_bin_cuts_free(&c);
	data_free(&t);

	/*
	 * many distinct values: at most max_bin bins, increasing cuts; 3000 rows fit the
	 * sketch's queue at 256 bins (an exact summary) but not at 16
	 */
	data_new(&t, 3000, 3);
	cs_rng_seed(&rng, 11);
	for (i = 0; i < t.n; i++)
	{
		t.x[i * 3] = cs_rng_uniform(&rng) * 1000.0;
		t.x[i * 3 + 1] = (double) (i % 256);
		t.x[i * 3 + 2] = i % 97 == 0 ? NAN : (double) ((i * 7) % 256);
	}
	tap_ok(cs_bin_cuts_learn(&t.d, 16, 0, NULL, &c, &err) == CS_OK && c.lo == NULL,
		   "cuts of 3000 rows, max_bin 16 (no ranges)");
	for (j = 0; j < 3; j++)
	{
		ok &= cs_bin_count(&c, j) >= 2 && cs_bin_count(&c, j) <= 16;
		for (i = 1; i < (size_t) cs_bin_count(&c, j); i++)
			ok &= c.values[c.ptr[j] + i] > c.values[c.ptr[j] + i - 1];
	}
	tap_ok(ok, "at most 16 bins per feature, increasing cuts");
	cs_bin_cuts_free(&c);
	tap_ok(cs_bin_cuts_learn(&t.d, 256, 0, NULL, &c, &err) == CS_OK && cs_bin_count(&c, 1) == 256 &&
			   cs_bin_count(&c, 2) == 256,
		   "256 distinct values, max_bin 256: one bin each");
	if (cs_bin_matrix_build(&c, &t.d, 0, NULL, &cols, &err) != CS_OK ||
		cs_bin_matrix_rows(&cols, NULL, &rows, &err) != CS_OK)
		abort();
	tap_ok(cols.width[1] == 1 && cols.width[2] == 2,
		   "256 bins fit a byte, 256 bins and a missing value need two");
	tap_ok(rows.row_major && rows.row_bytes == 6, "row-major copy, two bytes per bin");
	for (i = 0; i < t.n; i++)
		for (j = 0; j < 3; j++)
			ok &= cs_bin_get(&rows, j, i) == cs_bin_get(&cols, j, i) &&
				  cs_bin_get(&cols, j, i) == cs_bin_of(&c, j, t.x[i * 3 + (size_t) j]);
	tap_ok(ok, "row-major, column-major and cs_bin_of agree on every value");
	{
		/* the row-major copy as histogram indices gives the same histogram, bit for bit */
		uint32_t      off[4];
		uint32_t     *all = malloc(t.n * sizeof(uint32_t));
		cs_grad_pair *gh = malloc(t.n * sizeof(cs_grad_pair));
		cs_hist_bin  *h1;
		cs_hist_bin  *h2;

		off[0] = 0;
		for (j = 0; j < 3; j++)
			off[j + 1] = off[j] + (uint32_t) cs_bin_count(&c, j) + 1;
		h1 = calloc(off[3], sizeof(cs_hist_bin));
		h2 = calloc(off[3], sizeof(cs_hist_bin));
		for (i = 0; i < t.n; i++)
		{
			all[i] = (uint32_t) (t.n - 1 - i);
			gh[i].g = (float) cs_rng_uniform(&rng) - 0.5f;
			gh[i].h = (float) cs_rng_uniform(&rng);
		}
		cs_hist_accumulate_rows(&rows, off, all, gh, t.n, h1);
		tap_ok(cs_bin_matrix_index(&rows, off, NULL) && rows.indexed &&
				   !cs_bin_matrix_index(&cols, off, NULL),
			   "two-byte row-major bins become histogram indices (column-major ones do not)");
		cs_hist_accumulate_rows(&rows, off, all, gh, t.n, h2);
		tap_ok(memcmp(h1, h2, off[3] * sizeof(cs_hist_bin)) == 0,
			   "the indexed rows give the same histogram, bit for bit");
		free(all);
		free(gh);
		free(h1);
		free(h2);
	}
	cs_bin_matrix_free(&rows);
	cs_bin_matrix_free(&cols);
	cs_bin_cuts_free(&c);
	data_free(&t);
}

/* ------------------------------------------------------------------ histograms */

static void
test_histograms(void)
{
	data          t;
	cs_bin_cuts   c;
	cs_bin_matrix cols;
	cs_bin_matrix rows;
	cs_error      err = { 0 };
	cs_rng        rng;
	size_t        n = 3000;
	uint32_t     *all = malloc(n * sizeof(uint32_t));
	uint32_t     *left = malloc(n * sizeof(uint32_t));
	uint32_t     *right = malloc(n * sizeof(uint32_t));
	cs_grad_pair *gh = malloc(n * sizeof(cs_grad_pair));
	cs_grad_pair *gl = malloc(n * sizeof(cs_grad_pair));
	cs_grad_pair *gr = malloc(n * sizeof(cs_grad_pair));
	cs_hist_bin  *hp;
	cs_hist_bin  *hl;
	cs_hist_bin  *hr;
	cs_hist_bin  *hs;
	cs_hist_bin  *hrow;
	uint32_t      off[4];
	size_t        nl = 0;
	size_t        nr = 0;
	size_t        nb;
	size_t        total;
	size_t        i;
	int32_t       j;
	int           exact = 1;
	int           rows_agree = 1;
	double        g_sum = 0.0;
	double        h_sum = 0.0;

	data_synthetic(&t, n, 5);
	cs_rng_seed(&rng, 3);
	if (cs_bin_cuts_learn(&t.d, 64, 0, NULL, &c, &err) != CS_OK ||
		cs_bin_matrix_build(&c, &t.d, 0, NULL, &cols, &err) != CS_OK ||
		cs_bin_matrix_rows(&cols, NULL, &rows, &err) != CS_OK)
		abort();
	for (i = 0; i < n; i++)
	{
		/* dyadic gradients: every sum is exact, so subtraction must be too */
		all[i] = (uint32_t) i;
		gh[i].g = (float) ((int) (cs_rng_next(&rng) % 64) - 32) / 16.0f;
		gh[i].h = (float) (cs_rng_next(&rng) % 16 + 1) / 32.0f;
		if (cs_rng_uniform(&rng) < 0.3)
		{
			left[nl] = (uint32_t) i;
			gl[nl++] = gh[i];
		}
		else
		{
			right[nr] = (uint32_t) i;
			gr[nr++] = gh[i];
		}
		g_sum += gh[i].g;
		h_sum += gh[i].h;
	}
	off[0] = 0;
	for (j = 0; j < 3; j++)
		off[j + 1] = off[j] + (uint32_t) cs_bin_count(&c, j) + 1;
	total = off[3] + (size_t) cs_bin_count(&c, 3) + 1;
	hrow = calloc(total, sizeof(cs_hist_bin));
	cs_hist_accumulate_rows(&rows, off, all, gh, n, hrow);
	for (j = 0; j < 4; j++)
	{
		double sg = 0.0;
		double sh = 0.0;

		nb = (size_t) cs_bin_count(&c, j) + 1;
		hp = calloc(nb, sizeof(cs_hist_bin));
		hl = calloc(nb, sizeof(cs_hist_bin));
		hr = calloc(nb, sizeof(cs_hist_bin));
		hs = calloc(nb, sizeof(cs_hist_bin));
		cs_hist_accumulate(&cols, j, all, gh, n, hp);
		cs_hist_accumulate(&cols, j, left, gl, nl, hl);
		cs_hist_accumulate(&cols, j, right, gr, nr, hr);
		cs_hist_subtract(hp, hl, hs, nb);
		exact &= memcmp(hs, hr, nb * sizeof(cs_hist_bin)) == 0;
		for (i = 0; i < nb; i++)
		{
			sg += hp[i].g;
			sh += hp[i].h;
		}
		exact &= sg == g_sum && sh == h_sum;
		rows_agree &= memcmp(hrow + off[j], hp, nb * sizeof(cs_hist_bin)) == 0;
		free(hp);
		free(hl);
		free(hr);
		free(hs);
	}
	tap_ok(exact, "parent minus one child's histogram equals the other child's, bit for bit");
	tap_ok(rows_agree, "the all-features row-major histogram equals the per-feature ones");
	free(hrow);
	free(all);
	free(left);
	free(right);
	free(gh);
	free(gl);
	free(gr);
	cs_bin_matrix_free(&rows);
	cs_bin_matrix_free(&cols);
	cs_bin_cuts_free(&c);
	data_free(&t);
}

/* ------------------------------------------------------------------ boosting */

/* Trains with p on t; aborts on failure. */
static void
train_gbm(const cs_gbm_params *p, const data *t, const data *v, cs_gbm_result *r)
{
	cs_error err = { 0 };

	if (cs_gbm_train(p, &t->d, v != NULL ? &v->d : NULL, NULL, NULL, r, &err) != CS_OK)
	{
		tap_ok(0, "cs_gbm_train failed: %s", err.msg);
		exit(1);
	}
}

static void
test_gbm_formulas(void)
{
	const double  xs[] = { 1, 2, 3, 4 };
	const int     ys[] = { 0, 0, 1, 1 };
	data          t;
	cs_gbm_params p;
	cs_gbm_result r;
	cs_tree_node *nd;
	double        in;

	data_1d(&t, xs, ys, 4);

	/*
	 * g = (.5, .5, -.5, -.5), h = .25: G = 0, H = 1.  x < 3 gives G_L = 1, H_L = .5,
	 * G_R = -1, H_R = .5: gain 1/1.5 + 1/1.5 - 0 = 4/3 (x < 2 and x < 4: .342857)
	 */
	one_stump(&p);
	train_gbm(&p, &t, NULL, &r);
	nd = r.model.nodes;
	tap_ok(r.model.n_trees == 1 && r.model.n_nodes == 3 && nd[0].feature == 0 &&
			   nd[0].threshold == 3.0f && nd[0].default_left == 0,
		   "the stump splits at x < 3 (missing right: no missing value)");
	tap_ok(close_to(nd[0].gain, 4.0 / 3.0, 1e-6) && close_to(nd[0].cover, 1.0, 1e-12),
		   "gain G_L^2/(H_L+l) + G_R^2/(H_R+l) - G^2/(H+l) = 4/3 (got %.9g), cover H = 1",
		   nd[0].gain);
	tap_ok(close_to(nd[1].value, -2.0 / 3.0, 1e-6) && close_to(nd[2].value, 2.0 / 3.0, 1e-6) &&
			   close_to(nd[1].cover, 0.5, 1e-12),
		   "leaves -G/(H+lambda) = -1/1.5 and +1/1.5 (got %.9g, %.9g)",
		   nd[1].value,
		   nd[2].value);
	in = 2.5;
	tap_ok(close_to(cs_ensemble_margin(&r.model, &in), -2.0 / 3.0, 1e-6) &&
			   close_to(cs_ensemble_predict(&r.model, &in), sigmoid(-2.0 / 3.0), 1e-6),
		   "margin logit(0.5) + leaf, probability its sigmoid");
	cs_gbm_result_free(&r);

	/* lambda 3: gain 1/3.5 * 2 = 0.571429, leaves -+1/3.5 */
	one_stump(&p);
	p.reg_lambda = 3.0;
	train_gbm(&p, &t, NULL, &r);
	nd = r.model.nodes;
	tap_ok(close_to(nd[0].gain, 2.0 / 3.5, 1e-6) && close_to(nd[1].value, -1.0 / 3.5, 1e-6),
		   "reg_lambda 3: gain 2/3.5, leaf -1/3.5 (got %.9g, %.9g)",
		   nd[0].gain,
		   nd[1].value);
	cs_gbm_result_free(&r);

	/* alpha 0.5: T(1) = .5, gain .25/1.5 * 2 = 1/3, leaves -+.5/1.5 */
	one_stump(&p);
	p.reg_alpha = 0.5;
	train_gbm(&p, &t, NULL, &r);
	nd = r.model.nodes;
	tap_ok(close_to(nd[0].gain, 1.0 / 3.0, 1e-6) && close_to(nd[1].value, -1.0 / 3.0, 1e-6) &&
			   close_to(nd[2].value, 1.0 / 3.0, 1e-6),
		   "reg_alpha 0.5: soft-thresholded gain 1/3 and leaves -+1/3 (got %.9g, %.9g)",
		   nd[0].gain,
		   nd[1].value);
	cs_gbm_result_free(&r);

	/* eta 0.3 scales the leaves only */
	one_stump(&p);
	p.learning_rate = 0.3;
	train_gbm(&p, &t, NULL, &r);
	tap_ok(close_to(r.model.nodes[1].value, 0.3 * -2.0 / 3.0, 1e-6) &&
			   close_to(r.model.nodes[0].gain, 4.0 / 3.0, 1e-6),
		   "learning_rate 0.3: leaf 0.3 * -2/3, gain unchanged");
	cs_gbm_result_free(&r);

	/* gamma: kept when the gain is at least gamma */
	one_stump(&p);
	p.gamma = 1.3;
	train_gbm(&p, &t, NULL, &r);
	tap_ok(r.model.n_nodes == 3, "gamma 1.3 < 4/3: split kept");
	cs_gbm_result_free(&r);
	one_stump(&p);
	p.gamma = 1.34;
	train_gbm(&p, &t, NULL, &r);
	tap_ok(r.model.n_nodes == 1 && r.model.nodes[0].feature == -1 && r.model.nodes[0].value == 0.0,
		   "gamma 1.34 > 4/3: a single leaf of weight -G/(H+lambda) = 0");
	cs_gbm_result_free(&r);

	/* min_child_weight: .5 per side is too light for 0.6 */
	one_stump(&p);
	p.min_child_weight = 0.6;
	train_gbm(&p, &t, NULL, &r);
	tap_ok(r.model.n_nodes == 1, "min_child_weight 0.6: no side of any split is heavy enough");
	cs_gbm_result_free(&r);

	/*
	 * scale_pos_weight 2: positives get g = -1, h = .5, so G = -1, H = 1.5;
	 * x < 3: 1/1.5 + 4/2 - 1/2.5 = 2.266667, right leaf 2/2 = 1
	 */
	one_stump(&p);
	p.scale_pos_weight = 2.0;
	train_gbm(&p, &t, NULL, &r);
	nd = r.model.nodes;
	tap_ok(close_to(nd[0].gain, 1.0 / 1.5 + 2.0 - 0.4, 1e-6) && close_to(nd[2].value, 1.0, 1e-6) &&
			   close_to(nd[0].cover, 1.5, 1e-12),
		   "scale_pos_weight 2: gain 2.266667, right leaf 1, cover 1.5 (got %.9g, %.9g)",
		   nd[0].gain,
		   nd[2].value);
	cs_gbm_result_free(&r);

	/* base_score 0.2: margins start at logit(0.2) */
	one_stump(&p);
	p.base_score = 0.2;
	p.gamma = 100.0;
	train_gbm(&p, &t, NULL, &r);
	in = 1.0;
	/* p = .2: g = (.2, .2, -.8, -.8), h = .16: G = -1.2, H = .64, w = 1.2/1.64 */
	tap_ok(close_to(cs_ensemble_margin(&r.model, &in), log(0.25) + 1.2 / 1.64, 1e-6),
		   "base_score 0.2: margin logit(0.2) + 1.2/1.64 (got %.9g)",
		   cs_ensemble_margin(&r.model, &in));
	cs_gbm_result_free(&r);
	data_free(&t);
}

static void
test_gbm_missing(void)
{
	const double  xs[] = { 1, 2, 3, 4, NAN, NAN };
	const int     y_right[] = { 0, 0, 1, 1, 1, 1 };
	const int     y_left[] = { 0, 0, 1, 1, 0, 0 };
	data          t;
	cs_gbm_params p;
	cs_gbm_result r;
	double        in = NAN;

	/* missing rows positive: they join x >= 3 */
	data_1d(&t, xs, y_right, 6);
	one_stump(&p);
	train_gbm(&p, &t, NULL, &r);
	tap_ok(r.model.nodes[0].threshold == 3.0f && r.model.nodes[0].default_left == 0 &&
			   cs_ensemble_predict(&r.model, &in) > 0.5,
		   "missing values with the positives: split x < 3, missing right");
	cs_gbm_result_free(&r);
	data_free(&t);

	/*
	 * missing rows negative: left to right (missing right) x < 3 gains
	 * 1/1.5 + 0/2 - 1/2.5 = .266667; right to left (missing left) 2/1 + 1/1.5 - .4 = 2.266667
	 */
	data_1d(&t, xs, y_left, 6);
	one_stump(&p);
	train_gbm(&p, &t, NULL, &r);
	tap_ok(r.model.nodes[0].threshold == 3.0f && r.model.nodes[0].default_left == 1 &&
			   close_to(r.model.nodes[0].gain, 2.0 + 1.0 / 1.5 - 0.4, 1e-6) &&
			   cs_ensemble_predict(&r.model, &in) < 0.5,
		   "missing values with the negatives: missing left, gain 2.266667 (got %.9g)",
		   r.model.nodes[0].gain);
	cs_gbm_result_free(&r);
	data_free(&t);
}

/* Whether every sampled row's prediction moves in direction dir as feature j grows. */
static int
monotone_in(const cs_ensemble *e, const data *t, int32_t j, int dir, double from, double to)
{
	double *in = malloc((size_t) t->nf * sizeof(double));
	int     ok = 1;
	size_t  i;

	for (i = 0; i < t->n && ok; i += 7)
	{
		double prev = 0.0;
		int    s;

		memcpy(in, t->x + i * (size_t) t->nf, (size_t) t->nf * sizeof(double));
		for (s = 0; s <= 200; s++)
		{
			double p;

			in[j] = from + (to - from) * s / 200.0;
			p = cs_ensemble_predict(e, in);
			if (s > 0 && (dir > 0 ? p < prev : p > prev))
				ok = 0;
			prev = p;
		}
	}
	free(in);
	return ok;
}

static void
test_gbm_monotone(void)
{
	data          t;
	cs_gbm_params p;
	cs_gbm_result r;
	int8_t        mono[4] = { 1, 0, 0, 0 };

	/* y rises with x0 overall but wiggles (2 sin 3 x0) */
	data_synthetic(&t, 3000, 17);
	cs_gbm_params_default(&p);
	p.n_estimators = 60;
	train_gbm(&p, &t, NULL, &r);
	tap_ok(!monotone_in(&r.model, &t, 0, 1, -2.5, 2.5),
		   "unconstrained: the partial dependence on x0 is not monotone");
	cs_gbm_result_free(&r);
	p.monotone_constraints = mono;
	train_gbm(&p, &t, NULL, &r);
	tap_ok(monotone_in(&r.model, &t, 0, 1, -2.5, 2.5),
		   "monotone_constraints +1: predictions never fall as x0 rises (every 7th row, 201 "
		   "points)");
	tap_ok(ensemble_auc(&r.model, &t) > 0.8,
		   "the constrained model still fits (AUC %.3f)",
		   ensemble_auc(&r.model, &t));
	cs_gbm_result_free(&r);
	mono[0] = -1;
	mono[1] = -1;
	p.max_depth = 4;
	p.reg_alpha = 0.5;
	train_gbm(&p, &t, NULL, &r);
	tap_ok(monotone_in(&r.model, &t, 0, -1, -2.5, 2.5) && monotone_in(&r.model, &t, 1, -1, -4, 4),
		   "monotone_constraints -1 on x0 and x1 (with reg_alpha): predictions never rise");
	cs_gbm_result_free(&r);
	data_free(&t);
}

/* Progress callback that stops after ctx trees. */
static int
stop_after(void *ctx, double fraction, const char *message)
{
	int *left = ctx;

	(void) fraction;
	(void) message;
	return --*left < 0;
}

static void
test_gbm_training(void)
{
	data          t;
	data          v;
	cs_gbm_params p;
	cs_gbm_result a;
	cs_gbm_result b;
	cs_error      err = { 0 };
	double        gain[4];
	double        cover[4];
	int64_t       splits[4];
	double        sum = 0.0;
	int64_t       k;
	int           calls;

	data_synthetic(&t, 4000, 23);
	data_synthetic(&v, 1000, 29);

	/*
	 * determinism: same seed, any thread count, with row and column sampling, on
	 * enough rows that every step runs on the threads (histograms in several blocks)
	 */
	{
		data big;

		data_synthetic(&big, 140000, 37);
		cs_gbm_params_default(&p);
		p.n_estimators = 8;
		p.subsample = 0.7;
		p.colsample_bytree = 0.75;
		p.seed = 99;
		train_gbm(&p, &big, NULL, &a);
		train_gbm(&p, &big, NULL, &b);
		tap_ok(same_ensemble(&a.model, &b.model), "same seed: identical trees, bit for bit");
		cs_gbm_result_free(&b);
		p.threads = 3;
		train_gbm(&p, &big, NULL, &b);
		tap_ok(same_ensemble(&a.model, &b.model),
			   "3 threads: the same trees as 1 thread, bit for bit (140000 rows)");
		cs_gbm_result_free(&b);
		p.threads = 1;
		p.seed = 100;
		train_gbm(&p, &big, NULL, &b);
		tap_ok(!same_ensemble(&a.model, &b.model), "another seed: other trees");
		cs_gbm_result_free(&b);
		tap_ok(cs_ensemble_check(&a.model, &err) == CS_OK,
			   "a trained model passes cs_ensemble_check");
		cs_gbm_result_free(&a);
		data_free(&big);
	}

	/* histogram subtraction against building every child */
	cs_gbm_params_default(&p);
	p.n_estimators = 20;
	train_gbm(&p, &t, NULL, &a);
	p.hist_subtraction = 0;
	train_gbm(&p, &t, NULL, &b);
	{
		int    same = a.model.n_nodes == b.model.n_nodes;
		double dv = 0.0;

		for (k = 0; same && k < a.model.n_nodes; k++)
		{
			same &= a.model.nodes[k].feature == b.model.nodes[k].feature &&
					a.model.nodes[k].threshold == b.model.nodes[k].threshold;
			dv = fmax(dv, fabs(a.model.nodes[k].value - b.model.nodes[k].value));
		}
		tap_ok(same && dv < 1e-6,
			   "histograms by subtraction and built directly grow the same trees (leaf diff %.2g)",
			   dv);
	}
	cs_gbm_result_free(&b);

	/* importance: the noise feature x2 matters least */
	cs_ensemble_importance(&a.model, gain, cover, splits);
	for (k = 0; k < a.model.n_nodes; k++)
		if (a.model.nodes[k].feature == 0)
			sum += a.model.nodes[k].gain;
	tap_ok(close_to(gain[0], sum, 1e-9) && splits[0] > 0 && cover[0] > 0.0,
		   "gain importance is the sum of the feature's split gains");
	tap_ok(gain[2] < gain[0] && gain[2] < gain[1], "the noise feature has the least gain");
	cs_gbm_result_free(&a);

	/* early stopping on noisy validation labels: the validation loss falls, then rises */
	cs_gbm_params_default(&p);
	p.n_estimators = 500;
	p.learning_rate = 0.05;
	p.early_stopping_rounds = 5;
	for (k = 0; k < (int64_t) v.n; k++)
		if (cs_mix64((uint64_t) k) % 10 < 2)
			v.y[k] = !v.y[k];
	train_gbm(&p, &t, &v, &a);
	tap_ok(a.n_rounds < 500 && a.best_iteration > 0 && a.n_rounds == a.best_iteration + 1 + 5 &&
			   a.model.n_trees == a.best_iteration + 1 && a.valid_score != NULL &&
			   a.best_score == a.valid_score[a.best_iteration],
		   "early stopping: 5 rounds without improvement after the best (%d), which is kept",
		   (int) a.best_iteration);
	for (k = 0; k < a.n_rounds; k++)
		if (a.valid_score[k] < a.best_score)
			break;
	tap_ok(k == a.n_rounds, "the kept iteration has the lowest validation logloss");
	cs_gbm_result_free(&a);
	p.early_stopping_rounds = 0;
	p.n_estimators = 3;
	p.eval_metric = CS_GBM_METRIC_AUC;
	train_gbm(&p, &t, &v, &a);
	tap_ok(a.n_rounds == 3 && a.model.n_trees == 3 && a.valid_score != NULL &&
			   a.valid_score[2] >= 0.0 && a.valid_score[2] <= 1.0,
		   "without early stopping every tree is kept, validation AUC recorded");
	cs_gbm_result_free(&a);

	/* progress and cancellation */
	cs_gbm_params_default(&p);
	p.n_estimators = 10;
	calls = 4;
	tap_ok(cs_gbm_train(&p, &t.d, NULL, stop_after, &calls, &a, &err) == CS_ERR_CANCELLED &&
			   a.model.nodes == NULL,
		   "a progress callback that asks to stop cancels training: %s",
		   err.msg);

	/* parameter checks */
	cs_gbm_params_default(&p);
	p.max_depth = 0;
	tap_ok(cs_gbm_train(&p, &t.d, NULL, NULL, NULL, &a, &err) == CS_ERR_INVALID &&
			   strstr(err.msg, "max_depth") != NULL,
		   "max_depth 0 is refused: %s",
		   err.msg);
	cs_gbm_params_default(&p);
	p.base_score = 1.0;
	tap_ok(cs_gbm_train(&p, &t.d, NULL, NULL, NULL, &a, &err) == CS_ERR_INVALID,
		   "base_score 1 is refused: %s",
		   err.msg);
	{
		int8_t bad[4] = { 0, 2, 0, 0 };

		cs_gbm_params_default(&p);
		p.monotone_constraints = bad;
		tap_ok(cs_gbm_train(&p, &t.d, NULL, NULL, NULL, &a, &err) == CS_ERR_INVALID,
			   "a monotone constraint of 2 is refused: %s",
			   err.msg);
	}
	cs_gbm_params_default(&p);
	p.early_stopping_rounds = 3;
	tap_ok(cs_gbm_train(&p, &t.d, NULL, NULL, NULL, &a, &err) == CS_ERR_INVALID,
		   "early stopping without validation rows is refused: %s",
		   err.msg);

	/* quality: a held-out AUC well above chance */
	cs_gbm_params_default(&p);
	p.n_estimators = 50;
	p.learning_rate = 0.1;
	p.max_depth = 4;
	data_free(&v);
	data_synthetic(&v, 2000, 31);
	train_gbm(&p, &t, NULL, &a);
	tap_ok(ensemble_auc(&a.model, &v) > 0.8, "held-out AUC %.3f", ensemble_auc(&a.model, &v));
	tap_ok(tree_depth(&a.model, 0, 0) <= 4, "trees are at most max_depth deep");
	cs_gbm_result_free(&a);
	data_free(&v);
	data_free(&t);
}

/* ------------------------------------------------------------------ trees */

static void
test_ensemble(void)
{
	cs_tree_node nodes[5];
	int64_t      start[3] = { 0, 3, 5 };
	cs_ensemble  e;
	cs_error     err = { 0 };
	double       in[2];
	double       gain[2];
	int64_t      splits[2];

	/* tree 0: x0 < 1.5 ? -1 : +1, missing left; tree 1: x1 < 0.5 ? .25 : .75, missing right */
	memset(nodes, 0, sizeof(nodes));
	nodes[0].feature = 0;
	nodes[0].threshold = 1.5f;
	nodes[0].left = 1;
	nodes[0].right = 2;
	nodes[0].default_left = 1;
	nodes[0].gain = 3.0f;
	nodes[1].feature = nodes[2].feature = -1;
	nodes[1].left = nodes[1].right = nodes[2].left = nodes[2].right = -1;
	nodes[1].value = -1.0;
	nodes[2].value = 1.0;
	nodes[3] = nodes[0];
	nodes[3].feature = 1;
	nodes[3].threshold = 0.5f;
	nodes[3].default_left = 0;
	nodes[3].gain = 1.0f;
	nodes[4] = nodes[1];
	nodes[4].value = 0.25;
	memset(&e, 0, sizeof(e));
	e.kind = CS_ENSEMBLE_BOOSTED;
	e.n_features = 2;
	e.n_trees = 2;
	e.n_nodes = 4;
	e.tree_start = start;
	e.nodes = nodes;
	e.base_score = 0.5;
	start[2] = 4;
	tap_ok(cs_ensemble_check(&e, &err) == CS_ERR_CORRUPT,
		   "a split whose child is outside its tree is corrupt: %s",
		   err.msg);
	/* give tree 1 its second leaf */
	{
		cs_tree_node more[6];

		memcpy(more, nodes, 5 * sizeof(cs_tree_node));
		more[5] = nodes[1];
		more[5].value = 0.75;
		/* tree 1 is more[3..5]: split, leaf .25, leaf .75 */
		more[4].value = 0.25;
		start[2] = 6;
		e.n_nodes = 6;
		e.nodes = more;
		tap_ok(cs_ensemble_check(&e, &err) == CS_OK, "a well-formed ensemble passes the check");
		in[0] = 1.0;
		in[1] = 0.7;
		tap_ok(cs_ensemble_margin(&e, in) == -1.0 + 0.75, "margin: -1 + .75");
		in[0] = NAN;
		in[1] = NAN;
		tap_ok(cs_ensemble_margin(&e, in) == -1.0 + 0.75 && cs_tree_leaf(&e, 0, in) == 1 &&
				   cs_tree_leaf(&e, 1, in) == 2,
			   "missing values follow each split's default side");
		in[0] = 1.5;
		in[1] = -1.0; /* an unseen category (-1) goes below every threshold */
		tap_ok(cs_ensemble_margin(&e, in) == 1.0 + 0.25,
			   "x < threshold goes left, x = threshold right");
		cs_ensemble_importance(&e, gain, NULL, splits);
		tap_ok(gain[0] == 3.0 && gain[1] == 1.0 && splits[0] == 1,
			   "boosting importance: total gain per feature");
		e.kind = CS_ENSEMBLE_FOREST;
		in[0] = 2.0;
		in[1] = 0.0;
		tap_ok(cs_ensemble_predict(&e, in) == (1.0 + 0.25) / 2.0, "forest: the mean of the leaves");
		cs_ensemble_importance(&e, gain, NULL, NULL);
		tap_ok(close_to(gain[0], 0.5, 1e-12) && close_to(gain[1], 0.5, 1e-12),
			   "forest importance: each tree's decreases normalised, then averaged");
		e.kind = CS_ENSEMBLE_BOOSTED;
		more[3].left = 3;
		tap_ok(cs_ensemble_check(&e, &err) == CS_ERR_CORRUPT,
			   "a split pointing at itself is corrupt: %s",
			   err.msg);
		more[3].left = 4;
		more[3].feature = 2;
		tap_ok(cs_ensemble_check(&e, &err) == CS_ERR_CORRUPT,
			   "a split on a feature beyond n_features is corrupt: %s",
			   err.msg);
		more[3].feature = 1;
		more[3].threshold = NAN;
		tap_ok(cs_ensemble_check(&e, &err) == CS_ERR_CORRUPT,
			   "a NaN threshold is corrupt: %s",
			   err.msg);
		more[3].threshold = 0.5f;
		more[5].left = 1;
		tap_ok(cs_ensemble_check(&e, &err) == CS_ERR_CORRUPT,
			   "a leaf with children is corrupt: %s",
			   err.msg);
	}
}

/* ------------------------------------------------------------------ forest */

/* Trains a forest with p on t; aborts on failure. */
static void
train_forest(const cs_forest_params *p, const data *t, cs_forest_result *r)
{
	cs_error err = { 0 };

	if (cs_forest_train(p, &t->d, NULL, NULL, r, &err) != CS_OK)
	{
		tap_ok(0, "cs_forest_train failed: %s", err.msg);
		exit(1);
	}
}

/* Parameters of one tree on all rows and features. */
static void
one_tree(cs_forest_params *p)
{
	cs_forest_params_default(p);
	p->n_estimators = 1;
	p->bootstrap = 0;
	p->max_features = CS_MAX_FEATURES_ALL;
}

static void
test_forest_small(void)
{
	const double     xs[] = { 1, 2, 3, 4 };
	const int        ys[] = { 0, 0, 1, 1 };
	const double     xc[] = { 5, 5, 5, 5 };
	const int        yc[] = { 0, 0, 0, 1 };
	const double     xm[] = { 1, 2, 3, 4, NAN, NAN };
	const int        ym[] = { 0, 0, 0, 1, 1, 1 };
	data             t;
	cs_forest_params p;
	cs_forest_result r;
	cs_tree_node    *nd;
	double           in;

	data_1d(&t, xs, ys, 4);
	one_tree(&p);
	train_forest(&p, &t, &r);
	nd = r.model.nodes;
	/* halfway between 2 and 3, then the next float: x <= 2.5 goes left, as scikit-learn */
	tap_ok(r.model.n_nodes == 3 && nd[0].feature == 0 && nd[0].threshold == nextafterf(2.5f, 3.0f),
		   "one tree splits halfway between 2 and 3 (x <= 2.5 left)");
	tap_ok(nd[1].value == 0.0 && nd[2].value == 1.0 && close_to(nd[0].gain, 4 * 0.5, 1e-6) &&
			   nd[0].cover == 4.0,
		   "pure leaves 0 and 1; impurity decrease 4 x gini .5 = 2; cover 4");
	in = 2.5;
	tap_ok(cs_ensemble_predict(&r.model, &in) == 0.0, "2.5 goes left");
	cs_forest_result_free(&r);
	data_free(&t);

	/* a constant feature: one leaf; balanced weights change its value */
	data_1d(&t, xc, yc, 4);
	one_tree(&p);
	train_forest(&p, &t, &r);
	tap_ok(r.model.n_nodes == 1 && r.model.nodes[0].value == 0.25,
		   "constant feature: a single leaf, the share of class 1 (.25)");
	cs_forest_result_free(&r);
	p.class_weight_balanced = 1;
	train_forest(&p, &t, &r);
	tap_ok(r.model.n_nodes == 1 && close_to(r.model.nodes[0].value, 0.5, 1e-12),
		   "class_weight balanced: weights 4/6 and 4/2 make it .5");
	cs_forest_result_free(&r);
	data_free(&t);

	/* missing values with the positives: a split sends them right along with x = 4 */
	data_1d(&t, xm, ym, 6);
	one_tree(&p);
	train_forest(&p, &t, &r);
	in = NAN;
	tap_ok(cs_ensemble_predict(&r.model, &in) == 1.0 && r.model.nodes[0].threshold > 3.0f &&
			   r.model.nodes[0].default_left == 0,
		   "forest: missing values learn their side (x <= 3.5 left, missing right)");
	in = 1.0;
	tap_ok(cs_ensemble_predict(&r.model, &in) == 0.0, "and x = 1 goes left");
	cs_forest_result_free(&r);
	/* min_samples_leaf 3: the only split with 3 rows a side is x <= 3 / x >= 4 + missing */
	p.min_samples_leaf = 3;
	train_forest(&p, &t, &r);
	tap_ok(r.model.n_nodes == 3 && r.model.nodes[1].value == 0.0 && r.model.nodes[2].value == 1.0,
		   "min_samples_leaf 3: the split leaves 3 rows a side");
	cs_forest_result_free(&r);
	data_free(&t);
}

static void
test_forest(void)
{
	data             t;
	data             v;
	cs_forest_params p;
	cs_forest_result a;
	cs_forest_result b;
	cs_error         err = { 0 };
	double           gain[4];
	double           total;
	int              calls;
	int32_t          ti;
	int              deep_ok = 1;
	int              leaves_ok = 1;
	int64_t          k;

	data_synthetic(&t, 3000, 41);
	data_synthetic(&v, 2000, 43);
	cs_forest_params_default(&p);
	p.n_estimators = 60;
	p.seed = 5;
	train_forest(&p, &t, &a);
	tap_ok(a.n_oob > 2900 && a.oob_auc > 0.8 && fabs(a.oob_auc - ensemble_auc(&a.model, &v)) < 0.03,
		   "out-of-bag AUC %.4f close to the held-out AUC %.4f (%zu rows out of bag)",
		   a.oob_auc,
		   ensemble_auc(&a.model, &v),
		   a.n_oob);
	tap_ok(cs_ensemble_check(&a.model, &err) == CS_OK && a.model.n_trees == 60,
		   "a trained forest passes cs_ensemble_check");
	for (k = 0; k < a.model.n_nodes; k++)
		if (a.model.nodes[k].feature < 0)
			leaves_ok &= a.model.nodes[k].value >= 0.0 && a.model.nodes[k].value <= 1.0;
	tap_ok(leaves_ok, "leaves are class-1 shares in [0, 1]");
	cs_ensemble_importance(&a.model, gain, NULL, NULL);
	total = gain[0] + gain[1] + gain[2] + gain[3];
	tap_ok(close_to(total, 1.0, 1e-9) && gain[0] > gain[2] && gain[0] > gain[3],
		   "mean decrease in impurity sums to 1, x0 above the noise (%.3f, %.3f)",
		   gain[0],
		   gain[2]);
	p.threads = 4;
	train_forest(&p, &t, &b);
	tap_ok(same_ensemble(&a.model, &b.model) && a.oob_auc == b.oob_auc,
		   "4 threads: the same forest and OOB AUC as 1 thread, bit for bit");
	cs_forest_result_free(&b);
	p.threads = 1;
	p.seed = 6;
	train_forest(&p, &t, &b);
	tap_ok(!same_ensemble(&a.model, &b.model), "another seed: another forest");
	cs_forest_result_free(&b);
	cs_forest_result_free(&a);

	/* limits */
	cs_forest_params_default(&p);
	p.n_estimators = 10;
	p.max_depth = 3;
	p.class_weight_balanced = 1;
	p.max_features = 2;
	train_forest(&p, &t, &a);
	for (ti = 0; ti < a.model.n_trees; ti++)
		deep_ok &= tree_depth(&a.model, ti, 0) <= 3;
	tap_ok(deep_ok, "max_depth 3: no tree is deeper");
	tap_ok(ensemble_auc(&a.model, &v) > 0.75,
		   "balanced shallow forest: held-out AUC %.3f",
		   ensemble_auc(&a.model, &v));
	cs_forest_result_free(&a);
	p.bootstrap = 0;
	train_forest(&p, &t, &a);
	tap_ok(isnan(a.oob_auc) && a.n_oob == 0, "no bootstrap: no out-of-bag AUC");
	cs_forest_result_free(&a);

	cs_forest_params_default(&p);
	p.n_estimators = 10;
	calls = 1;
	tap_ok(cs_forest_train(&p, &t.d, stop_after, &calls, &a, &err) == CS_ERR_CANCELLED,
		   "a progress callback that asks to stop cancels the forest: %s",
		   err.msg);
	p.max_features = 5;
	tap_ok(cs_forest_train(&p, &t.d, NULL, NULL, &a, &err) == CS_ERR_INVALID,
		   "max_features beyond the features is refused: %s",
		   err.msg);
	cs_forest_params_default(&p);
	p.min_samples_leaf = 0;
	tap_ok(cs_forest_train(&p, &t.d, NULL, NULL, &a, &err) == CS_ERR_INVALID,
		   "min_samples_leaf 0 is refused: %s",
		   err.msg);
	data_free(&v);
	data_free(&t);
}

/* How many of the rows of t the training margins of r predict as cs_ensemble_predict, bit for bit. */
static size_t
train_margins_agree(const cs_gbm_result *r, const data *t)
{
	double *p = malloc(t->n * sizeof(double));
	size_t  same = 0;
	size_t  i;

	if (p == NULL || !cs_ensemble_train_predictions(&r->model, t->n, p))
	{
		free(p);
		return 0;
	}
	for (i = 0; i < t->n; i++)
	{
		double q = cs_ensemble_predict(&r->model, t->x + i * (size_t) t->nf);

		same += memcmp(&p[i], &q, sizeof(double)) == 0;
	}
	free(p);
	return same;
}

/*
 * Boosting leaves the training margins of its kept trees: the evaluation
 * reuses them instead of scoring the training rows, so they must be the
 * scores, bit for bit, with missing values, sampling, early stopping (the
 * margins of the best iteration) and values on the cuts; not left when a
 * training value is +inf (beyond the last cut, its bin and its comparison
 * may disagree).
 */
static void
test_gbm_train_margins(void)
{
	data          t;
	data          v;
	cs_gbm_params p;
	cs_gbm_result r;
	cs_error      err = { 0 };
	size_t        i;
	size_t        same;

	data_synthetic(&t, 3000, 31);
	data_synthetic(&v, 1000, 32);
	/* many values exactly on others: the cuts fall on them */
	for (i = 0; i < t.n; i += 3)
		t.x[i * 4 + 2] = floor(t.x[i * 4 + 2] * 8.0) / 8.0;
	cs_gbm_params_default(&p);
	p.n_estimators = 30;
	p.max_depth = 5;
	train_gbm(&p, &t, &v, &r);
	same = train_margins_agree(&r, &t);
	tap_ok(r.model.train_margin != NULL && same == t.n,
		   "boosting leaves the training margins: %zu of %zu predictions as scoring's",
		   same,
		   t.n);
	cs_ensemble_prepare(&r.model, &err);
	same = train_margins_agree(&r, &t);
	tap_ok(same == t.n, "the same through the prepared layout (%zu of %zu)", same, t.n);
	cs_gbm_result_free(&r);

	p.subsample = 0.6;
	p.colsample_bytree = 0.5;
	p.max_bin = 16;
	p.threads = 2;
	train_gbm(&p, &t, &v, &r);
	same = train_margins_agree(&r, &t);
	tap_ok(same == t.n, "subsample .6, colsample .5, 16 bins, 2 threads: %zu of %zu", same, t.n);
	cs_gbm_result_free(&r);

	/* early stopping on noisy validation labels: the margins of the kept trees */
	cs_gbm_params_default(&p);
	p.n_estimators = 300;
	p.learning_rate = 0.1;
	p.early_stopping_rounds = 5;
	for (i = 0; i < v.n; i++)
		if (cs_mix64((uint64_t) i) % 10 < 3)
			v.y[i] = !v.y[i];
	train_gbm(&p, &t, &v, &r);
	same = train_margins_agree(&r, &t);
	tap_ok(r.model.n_trees < r.n_rounds && same == t.n,
		   "early stopping (%d of %d trees kept): %zu of %zu",
		   (int) r.model.n_trees,
		   (int) r.n_rounds,
		   same,
		   t.n);
	cs_gbm_result_free(&r);

	/* +inf in the training data: no margins, the rows are scored */
	cs_gbm_params_default(&p);
	p.n_estimators = 5;
	t.x[7 * 4 + 0] = INFINITY;
	t.x[8 * 4 + 1] = -INFINITY;
	train_gbm(&p, &t, NULL, &r);
	tap_ok(r.model.train_margin == NULL, "a training value of +inf: no margins left");
	cs_gbm_result_free(&r);
	t.x[7 * 4 + 0] = 1.0;
	train_gbm(&p, &t, NULL, &r);
	same = train_margins_agree(&r, &t);
	tap_ok(same == t.n, "-inf alone: margins left, %zu of %zu", same, t.n);
	cs_gbm_result_free(&r);
	data_free(&t);
	data_free(&v);
}

/* ------------------------------------------------------------------ prediction layout */

/* A random tree below node k of nodes (capacity cap): depth left, thresholds from a few. */
static int32_t
random_subtree(cs_tree_node *nodes, int32_t *n, int32_t cap, int32_t nf, int32_t depth,
			   int neg_inf_left, cs_rng *rng)
{
	static const float cuts[] = { -INFINITY, INFINITY, 0.0f, 0.5f, -1.0f, 2.0f, 1e30f, -1e-30f };
	int32_t            k = (*n)++;
	cs_tree_node      *nd = &nodes[k];

	memset(nd, 0, sizeof(*nd));
	if (depth == 0 || *n + 2 > cap || cs_rng_uniform(rng) < 0.15)
	{
		nd->feature = -1;
		nd->left = nd->right = -1;
		nd->value = cs_rng_uniform(rng) - 0.5;
		return k;
	}
	nd->feature = (int32_t) (cs_rng_next(rng) % (uint64_t) nf);
	nd->threshold = cs_rng_uniform(rng) < 0.5 ? cuts[cs_rng_next(rng) % 8] :
												(float) (4.0 * cs_rng_uniform(rng) - 2.0);
	nd->default_left = (uint8_t) (cs_rng_next(rng) % 2);
	if (nd->threshold == -INFINITY && !neg_inf_left)
		nd->default_left = 0;
	nodes[k].left = random_subtree(nodes, n, cap, nf, depth - 1, neg_inf_left, rng);
	nodes[k].right = random_subtree(nodes, n, cap, nf, depth - 1, neg_inf_left, rng);
	return k;
}

/*
 * A random ensemble of n_trees trees of depth up to max_depth on nf features
 * (beyond 12 only for the last four trees, the others up to 6); splits at
 * -inf send missing values left when neg_inf_left is 1, or 2 and the tree is
 * one of the last four.
 */
static void
random_ensemble(cs_ensemble *e, cs_ensemble_kind kind, int32_t n_trees, int32_t max_depth,
				int32_t nf, int neg_inf_left, cs_rng *rng)
{
	int32_t cap = 4096;
	int32_t t;

	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->n_features = nf;
	e->n_trees = n_trees;
	e->base_score = 0.3;
	e->tree_start = calloc((size_t) n_trees + 1, sizeof(int64_t));
	e->nodes = calloc((size_t) n_trees * (size_t) cap, sizeof(cs_tree_node));
	if (e->tree_start == NULL || e->nodes == NULL)
		abort();
	for (t = 0; t < n_trees; t++)
	{
		int32_t n = 0;
		int     last = t >= n_trees - 4;
		int32_t limit = max_depth > 12 && !last ? 6 : max_depth;
		int32_t depth = (int32_t) (cs_rng_next(rng) % (uint64_t) (limit + 1));

		random_subtree(e->nodes + e->tree_start[t],
					   &n,
					   cap,
					   nf,
					   depth,
					   neg_inf_left == 1 || (neg_inf_left == 2 && last),
					   rng);
		e->tree_start[t + 1] = e->tree_start[t] + n;
	}
	e->n_nodes = e->tree_start[n_trees];
}

/* A random input value: often on a threshold, missing, infinite or out of float's range. */
static double
random_input(cs_rng *rng)
{
	static const double special[] = {
		NAN,  INFINITY, -INFINITY, 0.0,    0.5,    -1.0, 2.0,
		1e30, -1e-30,   1e300,     -1e300, 1e-300, -0.0, 0.49999999999999
	};

	if (cs_rng_uniform(rng) < 0.4)
		return special[cs_rng_next(rng) % 14];
	return 4.0 * cs_rng_uniform(rng) - 2.0;
}

/*
 * The layout scores as the nodes, bit for bit, for random trees, inputs on
 * the thresholds, missing, infinite or beyond float's range.  Where every
 * group is expected to use the layout (depth up to 12, splits at -inf
 * sending missing values left included), zeroing the nodes' values after
 * preparing must not change the scores: the layout alone is read.
 */
static void
test_fast_layout(void)
{
	/* trees, depth, splits at -inf with missing values left, all groups laid out */
	static const int32_t cases[][4] = { { 1, 0, 0, 1 },   { 1, 6, 0, 1 },   { 7, 3, 0, 1 },
										{ 16, 6, 0, 1 },  { 37, 8, 0, 1 },  { 50, 5, 0, 1 },
										{ 20, 14, 0, 0 }, { 40, 14, 0, 0 }, { 40, 6, 1, 1 },
										{ 40, 6, 2, 1 } };
	cs_rng               rng;
	int                  kind;
	size_t               c;

	cs_rng_seed(&rng, 42);
	for (kind = 0; kind < 2; kind++)
		for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
		{
			cs_ensemble e;
			cs_error    err = { 0 };
			int32_t     nf = 5;
			size_t      n = 300;
			double     *x = malloc(sizeof(double) * n * (size_t) nf);
			double     *slow = malloc(sizeof(double) * n);
			double     *fast = malloc(sizeof(double) * n);
			double     *rows = malloc(sizeof(double) * n);
			double     *rows_slow = malloc(sizeof(double) * n);
			size_t      i;
			int64_t     k;
			size_t      same = 0;
			size_t      same_rows = 0;

			if (x == NULL || slow == NULL || fast == NULL || rows == NULL || rows_slow == NULL)
				abort();
			random_ensemble(&e,
							kind ? CS_ENSEMBLE_FOREST : CS_ENSEMBLE_BOOSTED,
							cases[c][0],
							cases[c][1],
							nf,
							cases[c][2],
							&rng);
			tap_ok(cs_ensemble_check(&e, &err) == CS_OK, "random ensemble is valid %s", err.msg);
			for (i = 0; i < n * (size_t) nf; i++)
				x[i] = random_input(&rng);
			for (i = 0; i < n; i++)
				slow[i] = cs_ensemble_margin(&e, x + i * (size_t) nf);
			cs_ensemble_predict_rows(&e, x, n, (size_t) nf, rows_slow);
			tap_ok(cs_ensemble_prepare(&e, &err) == CS_OK && e.fast != NULL, "the layout is built");
			if (cases[c][3])
				for (k = 0; k < e.n_nodes; k++)
					e.nodes[k].value = 0.0;
			for (i = 0; i < n; i++)
				fast[i] = cs_ensemble_margin(&e, x + i * (size_t) nf);
			cs_ensemble_predict_rows(&e, x, n, (size_t) nf, rows);
			for (i = 0; i < n; i++)
			{
				same += memcmp(&slow[i], &fast[i], sizeof(double)) == 0;
				same_rows += rows[i] == cs_ensemble_predict(&e, x + i * (size_t) nf) &&
							 rows[i] == rows_slow[i];
			}
			tap_ok(same == n && same_rows == n,
				   "%s, %d trees of depth up to %d%s: the layout%s scores as the nodes, bit for "
				   "bit (%zu and %zu of %zu)",
				   kind ? "forest" : "boosting",
				   (int) cases[c][0],
				   (int) cases[c][1],
				   cases[c][2] == 1 ? ", splits at -inf with missing values left" :
				   cases[c][2] == 2 ? ", such splits in the last trees" :
									  "",
				   cases[c][3] ? " alone" : "",
				   same,
				   same_rows,
				   n);
			cs_ensemble_free(&e);
			free(x);
			free(slow);
			free(fast);
			free(rows);
			free(rows_slow);
		}
}

int
main(void)
{
	test_pool();
	test_binning();
	test_histograms();
	test_gbm_formulas();
	test_gbm_missing();
	test_gbm_monotone();
	test_gbm_training();
	test_gbm_train_margins();
	test_ensemble();
	test_fast_layout();
	test_forest_small();
	test_forest();
	return tap_finish();
}
