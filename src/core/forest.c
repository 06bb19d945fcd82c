/*
 * forest.c - random forest of classification trees on binned features.
 *
 * Breiman, "Random Forests" (Machine Learning 45, 2001), as scikit-learn's
 * RandomForestClassifier grows it (sklearn/tree/_splitter.pyx, _criterion.pyx):
 * each tree sees a bootstrap sample (n draws with replacement; a row's weight
 * is its count times its class weight), nodes are split depth first, each node
 * draws features at random without replacement until max_features have been
 * looked at and at least one was not constant in the node, and takes the split
 * that most decreases the weighted Gini impurity, i.e. maximises
 *
 *     (l0^2 + l1^2) / wl + (r0^2 + r1^2) / wr     (class weights per side).
 *
 * A node is a leaf when it is pure, at max_depth, has fewer than
 * min_samples_split rows, or has no split leaving min_samples_leaf rows on
 * each side (rows, not weights, as scikit-learn counts them).  A leaf holds
 * the weighted share of class 1.
 *
 * The difference is the search: scikit-learn sorts the node's values, we
 * scan a histogram of the node's rows over the feature's bins (binning.c),
 * which is what makes the forest fast.  With fewer distinct values than bins
 * the candidate splits are the same; a split falls halfway between the
 * largest value on its left and the smallest on its right (as scikit-learn's,
 * then rounded up to the float that keeps both sides exact).  Missing values
 * (which scikit-learn 1.2 rejects) are a bin of their own: each split is tried
 * with them on the left and on the right, and "missing against the rest" is a
 * candidate too; a node without missing values sends them to its heavier side.
 *
 * Trees are independent tasks, each with its own random stream seeded from
 * (seed, tree index), so a forest does not depend on the thread count.  The
 * out-of-bag AUC scores each training row with the trees that did not draw it
 * (in tree order), as scikit-learn's oob_decision_function_ does.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cs_trees.h"

#define OOB_CHUNK 4096 /* rows per out-of-bag task */
#define GINI_EPS  DBL_EPSILON

/* Class counts of a bin or node: bootstrap counts per class, and rows. */
typedef struct rf_bin
{
	uint32_t c[2];
	uint32_t n;
} rf_bin;

/* A node waiting to be split. */
typedef struct rf_pending
{
	int32_t node;
	int32_t depth;
	size_t  begin;
	size_t  end;
	rf_bin  stats;
} rf_pending;

/* The best split of a node so far. */
typedef struct rf_split
{
	double  proxy;
	int32_t feature; /* -1: none */
	int32_t bin;     /* left: bins <= bin (-1: none) */
	int32_t next;    /* first non-empty bin right of the split */
	uint8_t default_left;
	uint8_t missing_left; /* missing rows go left in training */
	rf_bin  left;
	rf_bin  right;
} rf_split;

/* Per-thread scratch. */
typedef struct rf_scratch
{
	uint32_t   *rows;  /* the tree's rows, grouped by node */
	uint32_t   *codes; /* per position: count << 1 | label */
	uint32_t   *rows_tmp;
	uint32_t   *codes_tmp;
	uint32_t   *counts; /* bootstrap counts per row */
	int32_t    *perm;   /* features, shuffled */
	rf_bin     *hist;
	rf_pending *stack;
	size_t      stack_cap;
} rf_scratch;

/* One grown tree. */
typedef struct rf_tree
{
	cs_tree_node *nodes;
	int32_t       n_nodes;
	int32_t       cap;
	uint8_t      *in_bag; /* bitmap of rows drawn */
	int           failed; /* out of memory (written by its task only) */
} rf_tree;

typedef struct forest
{
	const cs_forest_params *p;
	const cs_tree_data     *d;
	cs_pool                *pool;
	cs_bin_cuts             cuts;
	cs_bin_matrix           bins;
	size_t                  n;
	int32_t                 nf;
	int32_t                 max_features;
	double                  cw[2]; /* class weights */
	rf_scratch             *scratch;
	rf_tree                *trees;
	int32_t                 first_tree; /* of the batch being grown */
	/* out of bag */
	double  *oob_sum;
	int32_t *oob_count;
} forest;

/* ------------------------------------------------------------ parameters */

/* scikit-learn's defaults. */
void
cs_forest_params_default(cs_forest_params *p)
{
	memset(p, 0, sizeof(*p));
	p->n_estimators = 100;
	p->max_depth = 0;
	p->min_samples_split = 2;
	p->min_samples_leaf = 1;
	p->max_features = CS_MAX_FEATURES_SQRT;
	p->class_weight_balanced = 0;
	p->bootstrap = 1;
	p->max_bin = 256;
	p->seed = 0;
	p->threads = 1;
}

/* CS_ERR_INVALID naming the first parameter out of range. */
cs_status
cs_forest_params_check(const cs_forest_params *p, int32_t n_features, cs_error *err)
{
	if (p->n_estimators < 1 || p->n_estimators > 100000)
		return cs_fail(err, CS_ERR_INVALID, "n_estimators must be between 1 and 100000");
	if (p->max_depth < 0 || p->max_depth > 10000)
		return cs_fail(err, CS_ERR_INVALID, "max_depth must be between 0 (unlimited) and 10000");
	if (p->min_samples_split < 2)
		return cs_fail(err, CS_ERR_INVALID, "min_samples_split must be at least 2");
	if (p->min_samples_leaf < 1)
		return cs_fail(err, CS_ERR_INVALID, "min_samples_leaf must be at least 1");
	if (p->max_features < CS_MAX_FEATURES_LOG2 || p->max_features > n_features)
		return cs_fail(err,
					   CS_ERR_INVALID,
					   "max_features must be sqrt, log2, all or 1 to %d",
					   (int) n_features);
	if (p->class_weight_balanced != 0 && p->class_weight_balanced != 1)
		return cs_fail(err, CS_ERR_INVALID, "class_weight_balanced must be 0 or 1");
	if (p->bootstrap != 0 && p->bootstrap != 1)
		return cs_fail(err, CS_ERR_INVALID, "bootstrap must be 0 or 1");
	if (p->max_bin < 2 || p->max_bin > CS_MAX_BIN_LIMIT)
		return cs_fail(err, CS_ERR_INVALID, "max_bin must be between 2 and %d", CS_MAX_BIN_LIMIT);
	if (p->threads < 1 || p->threads > 1024)
		return cs_fail(err, CS_ERR_INVALID, "threads must be between 1 and 1024");
	return CS_OK;
}

/* ------------------------------------------------------------ splits */

/* Weighted Gini impurity of class weights w0, w1. */
static inline double
gini(double w0, double w1)
{
	double w = w0 + w1;

	if (w <= 0.0)
		return 0.0;
	return 1.0 - (w0 * w0 + w1 * w1) / (w * w);
}

/* The threshold between largest value a on the left and smallest b on the right. */
static float
midpoint(float a, float b)
{
	double t = (double) a / 2.0 + (double) b / 2.0;
	float  f = (float) t;

	/* the smallest float above t: (float) x < it exactly when x <= t */
	if ((double) f <= t)
		f = nextafterf(f, INFINITY);
	return f > b ? b : f;
}

/* Scores a candidate partition and keeps it when strictly better. */
static inline void
consider(const forest *f, rf_split *best, int32_t j, int32_t bin, int32_t next, int missing_left,
		 int default_left, const rf_bin *left, const rf_bin *total)
{
	rf_bin right;
	double l0;
	double l1;
	double r0;
	double r1;
	double proxy;

	right.c[0] = total->c[0] - left->c[0];
	right.c[1] = total->c[1] - left->c[1];
	right.n = total->n - left->n;
	if (left->n < (uint32_t) f->p->min_samples_leaf || right.n < (uint32_t) f->p->min_samples_leaf)
		return;
	l0 = left->c[0] * f->cw[0];
	l1 = left->c[1] * f->cw[1];
	r0 = right.c[0] * f->cw[0];
	r1 = right.c[1] * f->cw[1];
	if (l0 + l1 <= 0.0 || r0 + r1 <= 0.0)
		return;
	proxy = (l0 * l0 + l1 * l1) / (l0 + l1) + (r0 * r0 + r1 * r1) / (r0 + r1);
	if (best->feature >= 0 && !(proxy > best->proxy))
		return;
	best->proxy = proxy;
	best->feature = j;
	best->bin = bin;
	best->next = next;
	best->missing_left = (uint8_t) missing_left;
	best->default_left = (uint8_t) (missing_left ? 1 : default_left < 0 ? l0 + l1 >= r0 + r1 : 0);
	best->left = *left;
	best->right = right;
}

/* Searches one feature's histogram; 0 when the feature is constant in the node. */
static int
search_feature(const forest *f, int32_t j, const rf_bin *hist, const rf_bin *total, rf_split *best)
{
	int32_t       nb = cs_bin_count(&f->cuts, j);
	const rf_bin *miss = &hist[nb];
	rf_bin        acc = { { 0, 0 }, 0 };
	int32_t       prev = -1;
	int32_t       n_values = 0;
	int32_t       b;

	for (b = 0; b < nb; b++)
	{
		if (hist[b].n == 0)
			continue;
		n_values++;
		if (prev >= 0)
		{
			/* between bins prev and b: missing right, then missing left */
			consider(f, best, j, prev, b, 0, miss->n > 0 ? 0 : -1, &acc, total);
			if (miss->n > 0)
			{
				rf_bin with = acc;

				with.c[0] += miss->c[0];
				with.c[1] += miss->c[1];
				with.n += miss->n;
				consider(f, best, j, prev, b, 1, 1, &with, total);
			}
		}
		acc.c[0] += hist[b].c[0];
		acc.c[1] += hist[b].c[1];
		acc.n += hist[b].n;
		prev = b;
	}
	if (miss->n > 0 && acc.n > 0)
	{
		/* the missing rows against the rest */
		consider(f, best, j, -1, -1, 1, 1, miss, total);
		return 1;
	}
	/* constant: a single bin, or only missing values */
	return n_values >= 2;
}

/* ------------------------------------------------------------ growing a tree */

/* Appends a node to a tree; its index, or -1 when out of memory. */
static int32_t
add_node(rf_tree *t, const rf_bin *stats, const double *cw)
{
	cs_tree_node *nd;
	double        w0 = stats->c[0] * cw[0];
	double        w1 = stats->c[1] * cw[1];

	if (t->n_nodes == t->cap)
	{
		int32_t       cap = t->cap > 0 ? 2 * t->cap : 64;
		cs_tree_node *nodes = cs_realloc(t->nodes, cs_mul_size((size_t) cap, sizeof(cs_tree_node)));

		if (nodes == NULL || cap < 0)
			return -1;
		t->nodes = nodes;
		t->cap = cap;
	}
	nd = &t->nodes[t->n_nodes];
	memset(nd, 0, sizeof(*nd));
	nd->feature = -1;
	nd->left = -1;
	nd->right = -1;
	nd->value = w0 + w1 > 0.0 ? w1 / (w0 + w1) : 0.0;
	nd->cover = w0 + w1;
	return t->n_nodes++;
}

/* Builds the histogram of feature j over rows[begin .. end). */
static void
build_hist(const forest *f, rf_scratch *s, int32_t j, size_t begin, size_t end)
{
	rf_bin *hist = s->hist;
	size_t  k;

	memset(hist, 0, (size_t) (cs_bin_count(&f->cuts, j) + 1) * sizeof(rf_bin));
	if (f->bins.width[j] == 1)
	{
		const uint8_t *col = f->bins.data + f->bins.offset[j];

		for (k = begin; k < end; k++)
		{
			rf_bin  *h = &hist[col[s->rows[k]]];
			uint32_t code = s->codes[k];

			h->c[code & 1] += code >> 1;
			h->n++;
		}
	}
	else
	{
		const uint16_t *col = (const uint16_t *) (f->bins.data + f->bins.offset[j]);

		for (k = begin; k < end; k++)
		{
			rf_bin  *h = &hist[col[s->rows[k]]];
			uint32_t code = s->codes[k];

			h->c[code & 1] += code >> 1;
			h->n++;
		}
	}
}

/* Finds the best split of a node over randomly drawn features. */
static void
best_split(const forest *f, rf_scratch *s, cs_rng *rng, const rf_pending *pn, rf_split *best)
{
	int32_t visited = 0;
	int32_t constant = 0;
	int32_t k;

	best->feature = -1;
	/* until max_features were looked at and one of them was not constant */
	for (k = 0; k < f->nf && (visited < f->max_features || visited == constant); k++)
	{
		int32_t pick = k + (int32_t) (((cs_rng_next(rng) >> 32) * (uint64_t) (f->nf - k)) >> 32);
		int32_t j = s->perm[pick];

		s->perm[pick] = s->perm[k];
		s->perm[k] = j;
		visited++;
		build_hist(f, s, j, pn->begin, pn->end);
		if (!search_feature(f, j, s->hist, &pn->stats, best))
			constant++;
	}
}

/* Partitions a node's rows stably: left rows first. */
static void
partition(const forest *f, rf_scratch *s, const rf_pending *pn, const rf_split *sp)
{
	int32_t  j = sp->feature;
	uint32_t miss = (uint32_t) cs_bin_count(&f->cuts, j);
	size_t   l = pn->begin;
	size_t   r = pn->end;
	size_t   k;

	for (k = pn->begin; k < pn->end; k++)
	{
		uint32_t row = s->rows[k];
		uint32_t bin = cs_bin_get(&f->bins, j, row);
		int      left = bin == miss ? sp->missing_left : (int32_t) bin <= sp->bin;

		if (left)
		{
			s->rows_tmp[l] = row;
			s->codes_tmp[l++] = s->codes[k];
		}
		else
		{
			s->rows_tmp[--r] = row;
			s->codes_tmp[r] = s->codes[k];
		}
	}
	memcpy(s->rows + pn->begin, s->rows_tmp + pn->begin, (l - pn->begin) * sizeof(uint32_t));
	memcpy(s->codes + pn->begin, s->codes_tmp + pn->begin, (l - pn->begin) * sizeof(uint32_t));
	/* the right rows were written backwards */
	for (k = 0; k < pn->end - l; k++)
	{
		s->rows[l + k] = s->rows_tmp[pn->end - 1 - k];
		s->codes[l + k] = s->codes_tmp[pn->end - 1 - k];
	}
}

/* Draws the bootstrap sample of a tree into the scratch; the root's stats. */
static size_t
draw_sample(const forest *f, rf_scratch *s, cs_rng *rng, rf_tree *t, rf_bin *root)
{
	const uint8_t *y = f->d->y;
	size_t         n = f->n;
	size_t         m = 0;
	size_t         i;

	memset(root, 0, sizeof(*root));
	if (f->p->bootstrap)
	{
		memset(s->counts, 0, n * sizeof(uint32_t));
		for (i = 0; i < n; i++)
			s->counts[((cs_rng_next(rng) >> 32) * (uint64_t) n) >> 32]++;
	}
	for (i = 0; i < n; i++)
	{
		uint32_t c = f->p->bootstrap ? s->counts[i] : 1;

		if (c == 0)
			continue;
		t->in_bag[i >> 3] |= (uint8_t) (1u << (i & 7));
		s->rows[m] = (uint32_t) i;
		s->codes[m] = c << 1 | (y[i] != 0);
		root->c[y[i] != 0] += c;
		root->n++;
		m++;
	}
	return m;
}

/* Turns node into a split with two new children; 0 when out of memory. */
static int
split_node(const forest *f, rf_tree *t, const rf_pending *pn, const rf_split *sp, int32_t *left,
		   int32_t *right)
{
	const float  *lo = f->cuts.lo + f->cuts.ptr[sp->feature];
	const float  *hi = f->cuts.hi + f->cuts.ptr[sp->feature];
	double        wn = pn->stats.c[0] * f->cw[0] + pn->stats.c[1] * f->cw[1];
	double        wl = sp->left.c[0] * f->cw[0] + sp->left.c[1] * f->cw[1];
	double        wr = sp->right.c[0] * f->cw[0] + sp->right.c[1] * f->cw[1];
	cs_tree_node *nd;

	*left = add_node(t, &sp->left, f->cw);
	*right = add_node(t, &sp->right, f->cw);
	if (*left < 0 || *right < 0)
		return 0;
	nd = &t->nodes[pn->node];
	nd->feature = sp->feature;
	nd->threshold = sp->bin < 0 ? -INFINITY : midpoint(hi[sp->bin], lo[sp->next]);
	nd->default_left = sp->default_left;
	nd->left = *left;
	nd->right = *right;
	nd->gain = (float) (wn * gini(pn->stats.c[0] * f->cw[0], pn->stats.c[1] * f->cw[1]) -
						wl * gini(sp->left.c[0] * f->cw[0], sp->left.c[1] * f->cw[1]) -
						wr * gini(sp->right.c[0] * f->cw[0], sp->right.c[1] * f->cw[1]));
	return 1;
}

/* Pushes a pending node; 0 when out of memory. */
static int
push_pending(rf_scratch *s, size_t *top, int32_t node, int32_t depth, size_t begin, size_t end,
			 const rf_bin *stats)
{
	rf_pending *pn;

	if (*top == s->stack_cap)
	{
		size_t      cap = s->stack_cap > 0 ? 2 * s->stack_cap : 64;
		rf_pending *st = cs_realloc(s->stack, cs_mul_size(cap, sizeof(rf_pending)));

		if (st == NULL)
			return 0;
		s->stack = st;
		s->stack_cap = cap;
	}
	pn = &s->stack[(*top)++];
	pn->node = node;
	pn->depth = depth;
	pn->begin = begin;
	pn->end = end;
	pn->stats = *stats;
	return 1;
}

/* Grows tree t (a pool task). */
static void
tree_task(void *arg, size_t task, int thread)
{
	forest     *f = arg;
	int32_t     ti = f->first_tree + (int32_t) task;
	rf_tree    *t = &f->trees[ti];
	rf_scratch *s = &f->scratch[thread];
	cs_rng      rng;
	rf_bin      root;
	size_t      top = 0;
	size_t      m;
	int32_t     j;

	cs_rng_seed(&rng, cs_mix64(f->p->seed) ^ cs_mix64((uint64_t) ti + 1));
	/* the feature order starts afresh, whichever trees this thread grew before */
	for (j = 0; j < f->nf; j++)
		s->perm[j] = j;
	m = draw_sample(f, s, &rng, t, &root);
	if (add_node(t, &root, f->cw) != 0 || !push_pending(s, &top, 0, 0, 0, m, &root))
	{
		t->failed = 1;
		return;
	}
	while (top > 0)
	{
		rf_pending pn = s->stack[--top];
		rf_split   sp;
		int32_t    left;
		int32_t    right;
		double     w0 = pn.stats.c[0] * f->cw[0];
		double     w1 = pn.stats.c[1] * f->cw[1];

		if ((f->p->max_depth > 0 && pn.depth >= f->p->max_depth) ||
			pn.stats.n < (uint32_t) f->p->min_samples_split ||
			pn.stats.n < 2 * (uint32_t) f->p->min_samples_leaf || gini(w0, w1) <= GINI_EPS)
			continue;
		best_split(f, s, &rng, &pn, &sp);
		if (sp.feature < 0)
			continue;
		if (!split_node(f, t, &pn, &sp, &left, &right))
		{
			t->failed = 1;
			return;
		}
		partition(f, s, &pn, &sp);
		/* the left child is split first (it is on top) */
		if (!push_pending(s, &top, right, pn.depth + 1, pn.begin + sp.left.n, pn.end, &sp.right) ||
			!push_pending(s, &top, left, pn.depth + 1, pn.begin, pn.begin + sp.left.n, &sp.left))
		{
			t->failed = 1;
			return;
		}
	}
}

/* ------------------------------------------------------------ out of bag */

/* Scores a chunk of training rows with the trees that did not draw them. */
static void
oob_task(void *arg, size_t task, int thread)
{
	forest             *f = arg;
	const cs_tree_data *d = f->d;
	size_t              from = task * OOB_CHUNK;
	size_t              to = from + OOB_CHUNK < f->n ? from + OOB_CHUNK : f->n;
	int32_t             ti;
	size_t              i;

	(void) thread;
	for (ti = 0; ti < f->p->n_estimators; ti++)
	{
		const rf_tree *t = &f->trees[ti];

		for (i = from; i < to; i++)
		{
			const double *x = d->x + i * d->row_stride;
			int32_t       k = 0;

			if (t->in_bag[i >> 3] & (1u << (i & 7)))
				continue;
			while (t->nodes[k].feature >= 0)
			{
				const cs_tree_node *nd = &t->nodes[k];
				double              v = x[(size_t) nd->feature * d->col_stride];

				if (isnan(v))
					k = nd->default_left ? nd->left : nd->right;
				else
					k = (float) v < nd->threshold ? nd->left : nd->right;
			}
			f->oob_sum[i] += t->nodes[k].value;
			f->oob_count[i]++;
		}
	}
}

/* The out-of-bag AUC, or NaN. */
static cs_status
oob_auc(forest *f, cs_forest_result *out)
{
	double  *score;
	uint8_t *y;
	size_t   m = 0;
	size_t   i;

	out->oob_auc = NAN;
	out->n_oob = 0;
	if (!f->p->bootstrap)
		return CS_OK;
	f->oob_sum = cs_calloc(f->n, sizeof(double));
	f->oob_count = cs_calloc(f->n, sizeof(int32_t));
	score = cs_malloc(cs_mul_size(f->n, sizeof(double)));
	y = cs_malloc(f->n);
	if (f->oob_sum == NULL || f->oob_count == NULL || score == NULL || y == NULL)
	{
		cs_free(score);
		cs_free(y);
		return CS_ERR_NOMEM;
	}
	cs_pool_run(f->pool, (f->n + OOB_CHUNK - 1) / OOB_CHUNK, oob_task, f);
	for (i = 0; i < f->n; i++)
		if (f->oob_count[i] > 0)
		{
			score[m] = f->oob_sum[i] / f->oob_count[i];
			y[m++] = f->d->y[i];
		}
	out->n_oob = m;
	if (m > 0)
		out->oob_auc = cs_auc(score, y, m);
	cs_free(score);
	cs_free(y);
	return CS_OK;
}

/* ------------------------------------------------------------ training */

/* Frees the training state. */
static void
forest_free(forest *f)
{
	int     threads = cs_pool_threads(f->pool);
	int     t;
	int32_t ti;

	for (t = 0; f->scratch != NULL && t < threads; t++)
	{
		rf_scratch *s = &f->scratch[t];

		cs_free(s->rows);
		cs_free(s->codes);
		cs_free(s->rows_tmp);
		cs_free(s->codes_tmp);
		cs_free(s->counts);
		cs_free(s->perm);
		cs_free(s->hist);
		cs_free(s->stack);
	}
	cs_free(f->scratch);
	for (ti = 0; f->trees != NULL && ti < f->p->n_estimators; ti++)
	{
		cs_free(f->trees[ti].nodes);
		cs_free(f->trees[ti].in_bag);
	}
	cs_free(f->trees);
	cs_free(f->oob_sum);
	cs_free(f->oob_count);
	cs_bin_cuts_free(&f->cuts);
	cs_bin_matrix_free(&f->bins);
	cs_pool_free(f->pool);
}

/* Allocates the scratch and the trees' bitmaps; CS_ERR_NOMEM. */
static cs_status
forest_alloc(forest *f)
{
	int     threads = cs_pool_threads(f->pool);
	int32_t max_bins = 0;
	int32_t j;
	int     t;

	for (j = 0; j < f->nf; j++)
		if (cs_bin_count(&f->cuts, j) > max_bins)
			max_bins = cs_bin_count(&f->cuts, j);
	f->scratch = cs_calloc((size_t) threads, sizeof(rf_scratch));
	f->trees = cs_calloc((size_t) f->p->n_estimators, sizeof(rf_tree));
	if (f->scratch == NULL || f->trees == NULL)
		return CS_ERR_NOMEM;
	for (t = 0; t < threads; t++)
	{
		rf_scratch *s = &f->scratch[t];

		s->rows = cs_malloc(cs_mul_size(f->n, sizeof(uint32_t)));
		s->codes = cs_malloc(cs_mul_size(f->n, sizeof(uint32_t)));
		s->rows_tmp = cs_malloc(cs_mul_size(f->n, sizeof(uint32_t)));
		s->codes_tmp = cs_malloc(cs_mul_size(f->n, sizeof(uint32_t)));
		s->counts = cs_malloc(cs_mul_size(f->n, sizeof(uint32_t)));
		s->perm = cs_malloc(cs_mul_size((size_t) f->nf, sizeof(int32_t)));
		s->hist = cs_malloc(cs_mul_size((size_t) max_bins + 1, sizeof(rf_bin)));
		if (s->rows == NULL || s->codes == NULL || s->rows_tmp == NULL || s->codes_tmp == NULL ||
			s->counts == NULL || s->perm == NULL || s->hist == NULL)
			return CS_ERR_NOMEM;
	}
	for (j = 0; j < f->p->n_estimators; j++)
	{
		f->trees[j].in_bag = cs_calloc((f->n + 7) / 8, 1);
		if (f->trees[j].in_bag == NULL)
			return CS_ERR_NOMEM;
	}
	return CS_OK;
}

/* Concatenates the trees into the result's ensemble. */
static cs_status
collect_trees(forest *f, cs_ensemble *e)
{
	int64_t total = 0;
	int32_t ti;

	for (ti = 0; ti < f->p->n_estimators; ti++)
		total += f->trees[ti].n_nodes;
	e->kind = CS_ENSEMBLE_FOREST;
	e->n_features = f->nf;
	e->n_trees = f->p->n_estimators;
	e->n_nodes = total;
	e->base_score = 0.5;
	e->tree_start = cs_malloc(cs_mul_size((size_t) e->n_trees + 1, sizeof(int64_t)));
	e->nodes = cs_malloc(cs_mul_size((size_t) total, sizeof(cs_tree_node)));
	if (e->tree_start == NULL || e->nodes == NULL)
		return CS_ERR_NOMEM;
	e->tree_start[0] = 0;
	for (ti = 0; ti < e->n_trees; ti++)
	{
		memcpy(e->nodes + e->tree_start[ti],
			   f->trees[ti].nodes,
			   (size_t) f->trees[ti].n_nodes * sizeof(cs_tree_node));
		e->tree_start[ti + 1] = e->tree_start[ti] + f->trees[ti].n_nodes;
	}
	return CS_OK;
}

/* The number of features each node looks at. */
static int32_t
features_per_node(int32_t max_features, int32_t nf)
{
	int32_t m;

	if (max_features == CS_MAX_FEATURES_SQRT)
		m = (int32_t) sqrt((double) nf);
	else if (max_features == CS_MAX_FEATURES_LOG2)
		m = (int32_t) log2((double) nf);
	else if (max_features == CS_MAX_FEATURES_ALL)
		m = nf;
	else
		m = max_features;
	return m < 1 ? 1 : m;
}

/* Trains a random forest. */
cs_status
cs_forest_train(const cs_forest_params *p, const cs_tree_data *train, cs_progress_fn progress,
				void *ctx, cs_forest_result *out, cs_error *err)
{
	forest    f;
	cs_status st;
	size_t    n_class[2] = { 0, 0 };
	size_t    i;
	int32_t   done = 0;
	char      msg[64];

	memset(out, 0, sizeof(*out));
	memset(&f, 0, sizeof(f));
	if ((st = cs_forest_params_check(p, train->n_features, err)) != CS_OK)
		return st;
	if (train->n == 0 || train->n_features < 1)
		return cs_fail(err, CS_ERR_INVALID, "no training rows or no features");
	if (train->n > INT32_MAX / 2)
		return cs_fail(err, CS_ERR_INVALID, "more than %d training rows", INT32_MAX / 2);
	f.p = p;
	f.d = train;
	f.n = train->n;
	f.nf = train->n_features;
	f.max_features = features_per_node(p->max_features, f.nf);
	for (i = 0; i < f.n; i++)
		n_class[train->y[i] != 0]++;
	f.cw[0] = f.cw[1] = 1.0;
	if (p->class_weight_balanced)
	{
		/* scikit-learn's compute_class_weight("balanced"): n / (2 n_c) */
		if (n_class[0] > 0)
			f.cw[0] = (double) f.n / (2.0 * (double) n_class[0]);
		if (n_class[1] > 0)
			f.cw[1] = (double) f.n / (2.0 * (double) n_class[1]);
	}
	if ((st = cs_pool_new(p->threads, &f.pool, err)) != CS_OK)
		return st;
	if ((st = cs_bin_cuts_learn(train, p->max_bin, 1, f.pool, &f.cuts, err)) != CS_OK ||
		(st = cs_bin_matrix_build(&f.cuts, train, 0, f.pool, &f.bins, err)) != CS_OK)
		goto done;
	if (forest_alloc(&f) != CS_OK)
		goto nomem;
	/* trees in batches, with progress reported between them */
	while (done < p->n_estimators)
	{
		int32_t batch = 4 * cs_pool_threads(f.pool);

		if (batch > p->n_estimators - done)
			batch = p->n_estimators - done;
		f.first_tree = done;
		cs_pool_run(f.pool, (size_t) batch, tree_task, &f);
		for (; batch > 0; batch--, done++)
			if (f.trees[done].failed)
				goto nomem;
		if (progress != NULL)
		{
			snprintf(msg, sizeof(msg), "tree %d of %d", (int) done, (int) p->n_estimators);
			if (progress(ctx, (double) done / (double) p->n_estimators, msg) != 0)
			{
				st = cs_fail(err, CS_ERR_CANCELLED, "forest cancelled after %d trees", (int) done);
				goto done;
			}
		}
	}
	if (oob_auc(&f, out) != CS_OK || collect_trees(&f, &out->model) != CS_OK)
		goto nomem;
	st = CS_OK;
	goto done;

nomem:
	st = cs_fail(err, CS_ERR_NOMEM, "out of memory growing a forest on %zu rows", f.n);
done:
	forest_free(&f);
	if (st != CS_OK)
		cs_forest_result_free(out);
	return st;
}

/* Frees what r owns (not r itself). */
void
cs_forest_result_free(cs_forest_result *r)
{
	if (r == NULL)
		return;
	cs_ensemble_free(&r->model);
	memset(r, 0, sizeof(*r));
}
