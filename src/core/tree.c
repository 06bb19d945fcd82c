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

/* Boosting: the margin in single precision; forest: the mean leaf probability. */
double
cs_ensemble_score(const cs_ensemble *e, const double *input)
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
	cs_free(e->tree_start);
	cs_free(e->nodes);
	memset(e, 0, sizeof(*e));
}
