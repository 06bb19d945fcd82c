/*
 * tree.c - the flat tree ensemble: prediction, validation, feature importance.
 *
 * All trees of an ensemble share one node array; tree t owns nodes
 * [tree_start[t], tree_start[t + 1]) and its root is the first of them.  A
 * child's index is local to its tree and greater than its parent's, so a walk
 * from the root always ends at a leaf in fewer steps than the tree has nodes.
 * Comparisons are made on (float) x, as XGBoost makes them, which also makes
 * a split on a bin boundary exact for the values the binning saw.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "cs_trees.h"

/* XGBoost's ProbToMargin for logistic loss, in single precision. */
static float
base_margin(double base_score)
{
	return -logf(1.0f / (float) base_score - 1.0f);
}

/* XGBoost's common::Sigmoid, in single precision. */
static float
sigmoid_float(float x)
{
	float z = -x < 88.7f ? -x : 88.7f;

	return 1.0f / (expf(z) + 1.0f + 1e-16f);
}

/* The leaf reached from the root of a tree whose nodes start at nodes. */
static inline int32_t
walk(const cs_tree_node *nodes, const double *input)
{
	int32_t k = 0;

	while (nodes[k].feature >= 0)
	{
		const cs_tree_node *nd = &nodes[k];
		double              x = input[nd->feature];
		int32_t             left = isnan(x) ? nd->default_left : (float) x < nd->threshold;

		/* a select, not a branch: which side an input takes is unpredictable */
		k = nd->right ^ ((nd->left ^ nd->right) & -left);
	}
	return k;
}

/* The leaf (local index) of tree t that an input reaches. */
int32_t
cs_tree_leaf(const cs_ensemble *e, int32_t t, const double *input)
{
	return walk(e->nodes + e->tree_start[t], input);
}

/* One step down a tree from node k (a leaf stays where it is). */
static inline int32_t
step(const cs_tree_node *nodes, int32_t k, const double *input)
{
	const cs_tree_node *nd = &nodes[k];
	double              x;
	int32_t             left;

	if (nd->feature < 0)
		return k;
	x = input[nd->feature];
	left = isnan(x) ? nd->default_left : (float) x < nd->threshold;
	return nd->right ^ ((nd->left ^ nd->right) & -left);
}

/*
 * The leaves that four trees from tree t reach.  Walking them in step keeps
 * four independent chains of loads in flight instead of one: the trees are
 * read in the same order and the same leaves are summed in the same order, so
 * the result is bit for bit that of walking them one by one.
 */
static inline void
walk4(const cs_ensemble *e, int32_t t, const double *input, const cs_tree_node **nodes, int32_t *k)
{
	int i;

	for (i = 0; i < 4; i++)
	{
		nodes[i] = e->nodes + e->tree_start[t + i];
		k[i] = 0;
	}
	while (nodes[0][k[0]].feature >= 0 || nodes[1][k[1]].feature >= 0 ||
		   nodes[2][k[2]].feature >= 0 || nodes[3][k[3]].feature >= 0)
	{
		k[0] = step(nodes[0], k[0], input);
		k[1] = step(nodes[1], k[1], input);
		k[2] = step(nodes[2], k[2], input);
		k[3] = step(nodes[3], k[3], input);
	}
}

/* ------------------------------------------------------------ the prediction layout */

/*
 * The trees are taken FAST_GROUP at a time (the last group is padded with
 * empty trees, never summed).  The trees of a group are completed to the
 * group's depth D: a leaf above depth D becomes a split whose two subtrees
 * both end in copies of the leaf, so that every walk takes exactly D steps,
 * without a test for leaves, and node h's children are 2h + 1 and 2h + 2
 * (leaf slot l is node 2^D - 1 + l).  Node h of tree i of a group is
 * nodes[node_off + h * FAST_GROUP + i]: the roots of a group share a cache
 * line.
 *
 * A node is a float threshold and an index into a row's inputs laid out three
 * times as floats: x3[j] = (float) x_j, NaN for a missing value, x3[nf + j]
 * the same with -inf for a missing value, and x3[2 nf + j] -inf for a missing
 * value, +inf otherwise.  A node sends an input right when
 * !(x3[input] < threshold): a split whose missing values go right reads
 * x3[j] (NaN < t is false), one whose missing values go left reads x3[nf + j]
 * (-inf < t is true for every t above -inf); the comparisons are those of the
 * nodes, (float) x < threshold, so the leaves are the same.  A split at -inf
 * whose missing values go left sends left the missing values alone: it reads
 * x3[2 nf + j] against 0.  Groups deeper than FAST_MAX_DEPTH, or that
 * completion would blow up, walk the nodes (four trees in step), as does
 * every tree of a model wider than FAST_MAX_FEATURES.
 */
#define FAST_GROUP        16
#define FAST_MAX_DEPTH    12
#define FAST_MAX_FEATURES 1024
#define FAST_BLOCK        64 /* rows per block of cs_ensemble_predict_rows */

typedef struct fast_node
{
	float    threshold;
	uint32_t input;
} fast_node;

struct cs_tree_fast
{
	int32_t    n_groups;
	int32_t   *depth;    /* per group: D, or -1: walk the nodes */
	int64_t   *node_off; /* per group */
	int64_t   *leaf_off; /* per group: leaf l of tree i at leaf_off + l * FAST_GROUP + i */
	fast_node *nodes;
	float     *leaf_f; /* boosting: the leaves as they are summed, (float) value */
	double    *leaf_d; /* forest */
	float      base;   /* boosting: base_margin(base_score) */
};

/* Frees the prediction layout. */
void
cs_ensemble_unprepare(cs_ensemble *e)
{
	cs_tree_fast *f = e->fast;

	if (f == NULL)
		return;
	cs_free(f->depth);
	cs_free(f->node_off);
	cs_free(f->leaf_off);
	cs_free(f->nodes);
	cs_free(f->leaf_f);
	cs_free(f->leaf_d);
	cs_free(f);
	e->fast = NULL;
}

/* The depth of tree t (a leaf alone: 0); depth is a scratch array of the tree's size. */
static int32_t
tree_depth(const cs_ensemble *e, int32_t t, int32_t *depth)
{
	const cs_tree_node *nodes = e->nodes + e->tree_start[t];
	int64_t             size = e->tree_start[t + 1] - e->tree_start[t];
	int32_t             max = 0;
	int64_t             k;

	depth[0] = 0;
	for (k = 0; k < size; k++)
	{
		if (depth[k] > max)
			max = depth[k];
		if (nodes[k].feature < 0)
			continue;
		depth[nodes[k].left] = depth[k] + 1;
		depth[nodes[k].right] = depth[k] + 1;
	}
	return max;
}

typedef struct fill_ctx
{
	const cs_tree_node *tn;
	int32_t             depth;
	int32_t             n_features;
	int32_t             tree; /* in the group */
	fast_node          *nodes;
	float              *leaf_f;
	double             *leaf_d;
} fill_ctx;

/* Lays out node k of a tree at heap position h, at level level, and its subtree. */
static void
fill(const fill_ctx *c, int32_t k, uint32_t h, int32_t level)
{
	const cs_tree_node *nd = &c->tn[k];
	fast_node          *out;

	if (level == c->depth)
	{
		size_t at = (size_t) (h - (((uint32_t) 1 << c->depth) - 1)) * FAST_GROUP + c->tree;

		if (c->leaf_f != NULL)
			c->leaf_f[at] = (float) nd->value;
		else
			c->leaf_d[at] = nd->value;
		return;
	}
	out = &c->nodes[(size_t) h * FAST_GROUP + c->tree];
	if (nd->feature < 0)
	{
		out->threshold = 0.0f;
		out->input = 0;
		fill(c, k, 2 * h + 1, level + 1);
		fill(c, k, 2 * h + 2, level + 1);
		return;
	}
	out->threshold = nd->threshold;
	out->input = (uint32_t) nd->feature + (nd->default_left ? (uint32_t) c->n_features : 0);
	if (nd->default_left && nd->threshold == -INFINITY)
	{
		/* left: the missing values alone */
		out->threshold = 0.0f;
		out->input = (uint32_t) nd->feature + 2 * (uint32_t) c->n_features;
	}
	fill(c, nd->left, 2 * h + 1, level + 1);
	fill(c, nd->right, 2 * h + 2, level + 1);
}

/* Builds the prediction layout of a checked ensemble. */
cs_status
cs_ensemble_prepare(cs_ensemble *e, cs_error *err)
{
	cs_tree_fast *f;
	int32_t      *scratch = NULL;
	int64_t       max_size = 1;
	int64_t       n_nodes = 0;
	int64_t       n_leaves = 0;
	int32_t       g;
	int32_t       t;

	cs_ensemble_unprepare(e);
	if (e->n_trees == 0 || e->n_features > FAST_MAX_FEATURES)
		return CS_OK;
	f = cs_calloc(1, sizeof(cs_tree_fast));
	if (f == NULL)
		return cs_fail(err, CS_ERR_NOMEM, "out of memory preparing the trees");
	e->fast = f;
	f->n_groups = (e->n_trees + FAST_GROUP - 1) / FAST_GROUP;
	f->base = e->kind == CS_ENSEMBLE_BOOSTED ? base_margin(e->base_score) : 0.0f;
	f->depth = cs_calloc((size_t) f->n_groups, sizeof(int32_t));
	f->node_off = cs_calloc((size_t) f->n_groups, sizeof(int64_t));
	f->leaf_off = cs_calloc((size_t) f->n_groups, sizeof(int64_t));
	for (t = 0; t < e->n_trees; t++)
		if (e->tree_start[t + 1] - e->tree_start[t] > max_size)
			max_size = e->tree_start[t + 1] - e->tree_start[t];
	scratch = cs_calloc((size_t) max_size, sizeof(int32_t));
	if (f->depth == NULL || f->node_off == NULL || f->leaf_off == NULL || scratch == NULL)
		goto nomem;

	/* each group's depth, and where its nodes and leaves go */
	for (g = 0; g < f->n_groups; g++)
	{
		int32_t depth = 0;
		int64_t size = 0;

		for (t = g * FAST_GROUP; t < e->n_trees && t < (g + 1) * FAST_GROUP; t++)
		{
			int32_t d = tree_depth(e, t, scratch);

			if (d > depth)
				depth = d;
			size += e->tree_start[t + 1] - e->tree_start[t];
		}
		/*
		 * completion may multiply a group's nodes by 8, beyond small trees:
		 * a node of the layout takes 16 bytes with its share of the leaves,
		 * one of the ensemble 40, so the layout takes at most about three
		 * times the nodes' memory, plus 128 kB a group
		 */
		if (depth > FAST_MAX_DEPTH || ((int64_t) 2 << depth) * FAST_GROUP > 8 * size + 8192)
			depth = -1;
		f->depth[g] = depth;
		f->node_off[g] = n_nodes;
		f->leaf_off[g] = n_leaves;
		if (depth >= 0)
		{
			n_nodes += (((int64_t) 1 << depth) - 1) * FAST_GROUP;
			n_leaves += ((int64_t) 1 << depth) * FAST_GROUP;
		}
	}
	cs_free(scratch);
	scratch = NULL;
	f->nodes = cs_calloc((size_t) (n_nodes > 0 ? n_nodes : 1), sizeof(fast_node));
	if (e->kind == CS_ENSEMBLE_BOOSTED)
		f->leaf_f = cs_calloc((size_t) (n_leaves > 0 ? n_leaves : 1), sizeof(float));
	else
		f->leaf_d = cs_calloc((size_t) (n_leaves > 0 ? n_leaves : 1), sizeof(double));
	if (f->nodes == NULL || (f->leaf_f == NULL && f->leaf_d == NULL))
		goto nomem;
	for (g = 0; g < f->n_groups; g++)
	{
		fill_ctx c;

		if (f->depth[g] < 0)
			continue;
		c.depth = f->depth[g];
		c.n_features = e->n_features;
		c.nodes = f->nodes + f->node_off[g];
		c.leaf_f = f->leaf_f != NULL ? f->leaf_f + f->leaf_off[g] : NULL;
		c.leaf_d = f->leaf_d != NULL ? f->leaf_d + f->leaf_off[g] : NULL;
		for (t = g * FAST_GROUP; t < e->n_trees && t < (g + 1) * FAST_GROUP; t++)
		{
			c.tn = e->nodes + e->tree_start[t];
			c.tree = t - g * FAST_GROUP;
			fill(&c, 0, 0, 0);
		}
	}
	return CS_OK;

nomem:
	cs_free(scratch);
	cs_ensemble_unprepare(e);
	return cs_fail(err, CS_ERR_NOMEM, "out of memory preparing the trees");
}

/* A row's inputs as the layout reads them (x3: 3 nf floats). */
static inline void
fast_inputs(const double *input, int32_t nf, float *x3)
{
	int32_t j;

	for (j = 0; j < nf; j++)
	{
		float v = (float) input[j];

		x3[j] = v;
		x3[nf + j] = isnan(v) ? -INFINITY : v;
		x3[2 * nf + j] = isnan(v) ? -INFINITY : INFINITY;
	}
}

/* Walks the FAST_GROUP trees of a group of depth D: leaf[i] is tree i's leaf slot. */
static inline void
fast_walk(const fast_node *nodes, int32_t depth, const float *x2, uint32_t *leaf)
{
	uint32_t k[FAST_GROUP];
	int32_t  level;
	int      i;

	for (i = 0; i < FAST_GROUP; i++)
		k[i] = 0;
	for (level = 0; level < depth; level++)
		for (i = 0; i < FAST_GROUP; i++)
		{
			const fast_node *nd = &nodes[k[i] * FAST_GROUP + (uint32_t) i];

			k[i] = 2 * k[i] + 1 + (uint32_t) !(x2[nd->input] < nd->threshold);
		}
	for (i = 0; i < FAST_GROUP; i++)
		leaf[i] = k[i] - (((uint32_t) 1 << depth) - 1);
}

/* The leaves that trees [first, first + count) reach, walking the nodes four trees in step. */
static void
walk_nodes(const cs_ensemble *e, int32_t first, int32_t count, const double *input,
		   const cs_tree_node **leaf)
{
	const cs_tree_node *nodes[4];
	int32_t             k[4];
	int32_t             i = 0;
	int                 q;

	for (; i + 4 <= count; i += 4)
	{
		walk4(e, first + i, input, nodes, k);
		for (q = 0; q < 4; q++)
			leaf[i + q] = e->nodes + e->tree_start[first + i + q] + k[q];
	}
	for (; i < count; i++)
	{
		const cs_tree_node *n1 = e->nodes + e->tree_start[first + i];

		leaf[i] = &n1[walk(n1, input)];
	}
}

/* Boosting: the margin from the layout, in tree order. */
static float
fast_margin(const cs_ensemble *e, const double *input, const float *x2)
{
	const cs_tree_fast *f = e->fast;
	float               m = f->base;
	uint32_t            leaf[FAST_GROUP];
	const cs_tree_node *leaf_node[FAST_GROUP];
	int32_t             g;
	int                 i;

	for (g = 0; g < f->n_groups; g++)
	{
		int32_t      first = g * FAST_GROUP;
		int32_t      count = e->n_trees - first < FAST_GROUP ? e->n_trees - first : FAST_GROUP;
		const float *leaves = f->leaf_f + f->leaf_off[g];

		if (f->depth[g] < 0)
		{
			walk_nodes(e, first, count, input, leaf_node);
			for (i = 0; i < count; i++)
				m += (float) leaf_node[i]->value;
			continue;
		}
		fast_walk(f->nodes + f->node_off[g], f->depth[g], x2, leaf);
		for (i = 0; i < count; i++)
			m += leaves[(size_t) leaf[i] * FAST_GROUP + (size_t) i];
	}
	return m;
}

/* Forest: the sum of the leaves from the layout, in tree order. */
static double
fast_sum(const cs_ensemble *e, const double *input, const float *x2)
{
	const cs_tree_fast *f = e->fast;
	double              sum = 0.0;
	uint32_t            leaf[FAST_GROUP];
	const cs_tree_node *leaf_node[FAST_GROUP];
	int32_t             g;
	int                 i;

	for (g = 0; g < f->n_groups; g++)
	{
		int32_t       first = g * FAST_GROUP;
		int32_t       count = e->n_trees - first < FAST_GROUP ? e->n_trees - first : FAST_GROUP;
		const double *leaves = f->leaf_d + f->leaf_off[g];

		if (f->depth[g] < 0)
		{
			walk_nodes(e, first, count, input, leaf_node);
			for (i = 0; i < count; i++)
				sum += leaf_node[i]->value;
			continue;
		}
		fast_walk(f->nodes + f->node_off[g], f->depth[g], x2, leaf);
		for (i = 0; i < count; i++)
			sum += leaves[(size_t) leaf[i] * FAST_GROUP + (size_t) i];
	}
	return sum;
}

/* The score without the layout: four trees in step, then one by one. */
static double
slow_score(const cs_ensemble *e, const double *input)
{
	const cs_tree_node *nodes[4];
	int32_t             k[4];
	int32_t             t = 0;

	if (e->kind == CS_ENSEMBLE_BOOSTED)
	{
		float m = base_margin(e->base_score);

		for (; t + 4 <= e->n_trees; t += 4)
		{
			walk4(e, t, input, nodes, k);
			m += (float) nodes[0][k[0]].value;
			m += (float) nodes[1][k[1]].value;
			m += (float) nodes[2][k[2]].value;
			m += (float) nodes[3][k[3]].value;
		}
		for (; t < e->n_trees; t++)
		{
			const cs_tree_node *n1 = e->nodes + e->tree_start[t];

			m += (float) n1[walk(n1, input)].value;
		}
		return m;
	}
	else
	{
		double sum = 0.0;

		for (; t + 4 <= e->n_trees; t += 4)
		{
			walk4(e, t, input, nodes, k);
			sum += nodes[0][k[0]].value;
			sum += nodes[1][k[1]].value;
			sum += nodes[2][k[2]].value;
			sum += nodes[3][k[3]].value;
		}
		for (; t < e->n_trees; t++)
		{
			const cs_tree_node *n1 = e->nodes + e->tree_start[t];

			sum += n1[walk(n1, input)].value;
		}
		return e->n_trees > 0 ? sum / (double) e->n_trees : 0.5;
	}
}

/* Boosting: the margin in single precision; forest: the mean leaf probability. */
double
cs_ensemble_score(const cs_ensemble *e, const double *input)
{
	float x2[3 * FAST_MAX_FEATURES];

	if (e->fast == NULL)
		return slow_score(e, input);
	fast_inputs(input, e->n_features, x2);
	if (e->kind == CS_ENSEMBLE_BOOSTED)
		return fast_margin(e, input, x2);
	return fast_sum(e, input, x2) / (double) e->n_trees;
}

/* The probability of class 1. */
double
cs_ensemble_predict(const cs_ensemble *e, const double *input)
{
	double s = cs_ensemble_score(e, input);

	if (e->kind == CS_ENSEMBLE_BOOSTED)
		return sigmoid_float((float) s);
	return s;
}

/* The log-odds of the prediction. */
double
cs_ensemble_margin(const cs_ensemble *e, const double *input)
{
	double s = cs_ensemble_score(e, input);

	if (e->kind == CS_ENSEMBLE_BOOSTED)
		return s;
	s = fmin(fmax(s, 1e-15), 1.0 - 1e-15);
	return log(s / (1.0 - s));
}

/* cs_ensemble_predict of the training rows, from the margins that boosting left. */
int
cs_ensemble_train_predictions(const cs_ensemble *e, size_t n, double *p)
{
	size_t i;

	if (e->kind != CS_ENSEMBLE_BOOSTED || e->train_margin == NULL || e->n_train_margin != n)
		return 0;
	for (i = 0; i < n; i++)
		p[i] = sigmoid_float(e->train_margin[i]);
	return 1;
}

/* cs_ensemble_predict of n rows, a block of rows at a time through each group of trees. */
void
cs_ensemble_predict_rows(const cs_ensemble *e, const double *x, size_t n, size_t stride,
						 double *out)
{
	const cs_tree_fast *f = e->fast;
	float              *x2;
	size_t              nf2 = 3 * (size_t) e->n_features;
	size_t              from;

	x2 = f != NULL ? cs_malloc(sizeof(float) * FAST_BLOCK * (nf2 > 0 ? nf2 : 1)) : NULL;
	if (x2 == NULL)
	{
		size_t i;

		for (i = 0; i < n; i++)
			out[i] = cs_ensemble_predict(e, x + i * stride);
		return;
	}
	for (from = 0; from < n; from += FAST_BLOCK)
	{
		size_t              count = n - from < FAST_BLOCK ? n - from : FAST_BLOCK;
		float               m[FAST_BLOCK];
		double              sum[FAST_BLOCK];
		uint32_t            leaf[FAST_GROUP];
		const cs_tree_node *leaf_node[FAST_GROUP];
		size_t              r;
		int32_t             g;
		int                 i;

		for (r = 0; r < count; r++)
		{
			fast_inputs(x + (from + r) * stride, e->n_features, x2 + r * nf2);
			m[r] = f->base;
			sum[r] = 0.0;
		}
		for (g = 0; g < f->n_groups; g++)
		{
			int32_t first = g * FAST_GROUP;
			int32_t n_in = e->n_trees - first < FAST_GROUP ? e->n_trees - first : FAST_GROUP;

			for (r = 0; r < count; r++)
			{
				const double *input = x + (from + r) * stride;

				if (f->depth[g] < 0)
				{
					walk_nodes(e, first, n_in, input, leaf_node);
					for (i = 0; i < n_in; i++)
						if (f->leaf_f != NULL)
							m[r] += (float) leaf_node[i]->value;
						else
							sum[r] += leaf_node[i]->value;
					continue;
				}
				fast_walk(f->nodes + f->node_off[g], f->depth[g], x2 + r * nf2, leaf);
				if (f->leaf_f != NULL)
				{
					const float *leaves = f->leaf_f + f->leaf_off[g];

					for (i = 0; i < n_in; i++)
						m[r] += leaves[(size_t) leaf[i] * FAST_GROUP + (size_t) i];
				}
				else
				{
					const double *leaves = f->leaf_d + f->leaf_off[g];

					for (i = 0; i < n_in; i++)
						sum[r] += leaves[(size_t) leaf[i] * FAST_GROUP + (size_t) i];
				}
			}
		}
		for (r = 0; r < count; r++)
			out[from + r] =
				e->kind == CS_ENSEMBLE_BOOSTED ? sigmoid_float(m[r]) : sum[r] / (double) e->n_trees;
	}
	cs_free(x2);
}

/* Checks one tree's nodes. */
static cs_status
check_tree(const cs_ensemble *e, int32_t t, cs_error *err)
{
	const cs_tree_node *nodes = e->nodes + e->tree_start[t];
	int64_t             size = e->tree_start[t + 1] - e->tree_start[t];
	int64_t             k;

	for (k = 0; k < size; k++)
	{
		const cs_tree_node *nd = &nodes[k];

		if (!isfinite(nd->value) || !isfinite(nd->cover) || isnan(nd->gain))
			return cs_fail(err,
						   CS_ERR_CORRUPT,
						   "tree %d node %lld has a non-finite value",
						   (int) t,
						   (long long) k);
		if (nd->feature == -1)
		{
			if (nd->left != -1 || nd->right != -1)
				return cs_fail(err,
							   CS_ERR_CORRUPT,
							   "tree %d leaf %lld has children",
							   (int) t,
							   (long long) k);
			continue;
		}
		if (nd->feature < 0 || nd->feature >= e->n_features)
			return cs_fail(err,
						   CS_ERR_CORRUPT,
						   "tree %d node %lld splits on feature %d of %d",
						   (int) t,
						   (long long) k,
						   (int) nd->feature,
						   (int) e->n_features);
		if (isnan(nd->threshold) || nd->default_left > 1)
			return cs_fail(err,
						   CS_ERR_CORRUPT,
						   "tree %d node %lld has an invalid split",
						   (int) t,
						   (long long) k);
		if (nd->left <= k || nd->left >= size || nd->right <= k || nd->right >= size ||
			nd->left == nd->right)
			return cs_fail(err,
						   CS_ERR_CORRUPT,
						   "tree %d node %lld has invalid children",
						   (int) t,
						   (long long) k);
	}
	return CS_OK;
}

/* Checks the structure, every index and every value of an ensemble. */
cs_status
cs_ensemble_check(const cs_ensemble *e, cs_error *err)
{
	int32_t   t;
	cs_status st;

	if (e->kind != CS_ENSEMBLE_BOOSTED && e->kind != CS_ENSEMBLE_FOREST)
		return cs_fail(err, CS_ERR_CORRUPT, "unknown ensemble kind %d", (int) e->kind);
	if (e->n_features < 0 || e->n_trees < 0 || e->n_nodes < 0)
		return cs_fail(err, CS_ERR_CORRUPT, "negative ensemble sizes");
	if (e->kind == CS_ENSEMBLE_BOOSTED && !(e->base_score > 0.0 && e->base_score < 1.0))
		return cs_fail(err, CS_ERR_CORRUPT, "base_score %g is not in (0, 1)", e->base_score);
	if (e->tree_start == NULL || e->tree_start[0] != 0 || e->tree_start[e->n_trees] != e->n_nodes ||
		(e->n_nodes > 0 && e->nodes == NULL))
		return cs_fail(err, CS_ERR_CORRUPT, "the tree offsets do not cover the nodes");
	for (t = 0; t < e->n_trees; t++)
		if (e->tree_start[t + 1] <= e->tree_start[t] ||
			e->tree_start[t + 1] - e->tree_start[t] > INT32_MAX)
			return cs_fail(err, CS_ERR_CORRUPT, "tree %d has an invalid size", (int) t);
	for (t = 0; t < e->n_trees; t++)
		if ((st = check_tree(e, t, err)) != CS_OK)
			return st;
	return CS_OK;
}

/* Adds a forest tree's impurity decreases, normalised as scikit-learn does. */
static void
forest_tree_importance(const cs_tree_node *nodes, int64_t size, double *tree_gain, double *gain)
{
	double  sum = 0.0;
	int64_t k;

	for (k = 0; k < size; k++)
		if (nodes[k].feature >= 0)
		{
			tree_gain[nodes[k].feature] += nodes[k].gain;
			sum += nodes[k].gain;
		}
	for (k = 0; k < size; k++)
		if (nodes[k].feature >= 0 && tree_gain[nodes[k].feature] != 0.0)
		{
			int32_t f = nodes[k].feature;

			if (sum > 0.0)
				gain[f] += tree_gain[f] / sum;
			tree_gain[f] = 0.0;
		}
}

/* Feature importance from the nodes: total gain, cover and split count per feature. */
void
cs_ensemble_importance(const cs_ensemble *e, double *gain, double *cover, int64_t *splits)
{
	double *tree_gain = NULL;
	double  total = 0.0;
	int64_t k;
	int32_t t;
	int32_t f;

	for (f = 0; f < e->n_features; f++)
	{
		if (gain != NULL)
			gain[f] = 0.0;
		if (cover != NULL)
			cover[f] = 0.0;
		if (splits != NULL)
			splits[f] = 0;
	}
	for (k = 0; k < e->n_nodes; k++)
	{
		const cs_tree_node *nd = &e->nodes[k];

		if (nd->feature < 0)
			continue;
		if (cover != NULL)
			cover[nd->feature] += nd->cover;
		if (splits != NULL)
			splits[nd->feature]++;
		if (gain != NULL && e->kind == CS_ENSEMBLE_BOOSTED)
			gain[nd->feature] += nd->gain;
	}
	if (gain == NULL || e->kind != CS_ENSEMBLE_FOREST)
		return;
	/* forest: each tree's decreases sum to 1, then the mean over trees that split */
	tree_gain = cs_calloc((size_t) (e->n_features > 0 ? e->n_features : 1), sizeof(double));
	if (tree_gain == NULL)
		return;
	for (t = 0; t < e->n_trees; t++)
		forest_tree_importance(e->nodes + e->tree_start[t],
							   e->tree_start[t + 1] - e->tree_start[t],
							   tree_gain,
							   gain);
	for (f = 0; f < e->n_features; f++)
		total += gain[f];
	if (total > 0.0)
		for (f = 0; f < e->n_features; f++)
			gain[f] /= total;
	cs_free(tree_gain);
}

/* Frees what e owns (not e itself). */
void
cs_ensemble_free(cs_ensemble *e)
{
	if (e == NULL)
		return;
	cs_ensemble_unprepare(e);
	cs_free(e->train_margin);
	cs_free(e->tree_start);
	cs_free(e->nodes);
	memset(e, 0, sizeof(*e));
}
