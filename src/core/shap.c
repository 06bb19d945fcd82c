/*
 * shap.c - exact path-dependent TreeSHAP and SHAP interaction values.
 *
 * The Shapley value of feature j for one input x averages, over every order
 * in which features could be revealed, how much revealing x_j changes the
 * expected score E[f(x) | x_S].  Path-dependent TreeSHAP (Lundberg, Erion and
 * Lee 2018, "Consistent Individualized Feature Attribution for Tree
 * Ensembles", Algorithm 2) takes E[f(x) | x_S] as the tree's own estimate: a
 * split on a feature of S sends x down its side, a split on any other feature
 * follows both children weighted by their share of the node's cover (sum of
 * hessians for boosting, weighted samples for a forest).  Summing over all
 * 2^M subsets is exponential; the algorithm instead walks each tree once and
 * keeps, for the unique features on the path from the root, the fraction of
 * "zero" paths (feature unknown: the cover share) and "one" paths (feature
 * known: 1 when x goes that way, else 0), together with the permutation
 * weights of every subset size.  Extending the path by a feature updates
 * those weights in O(depth); at a leaf, undoing ("unwinding") one feature's
 * extension gives its share of the leaf value, so a tree costs
 * O(leaves x depth^2).  A feature met twice on a path is unwound before it is
 * extended again with the product of its fractions.
 *
 * Interaction values follow the same paper (section 4.2) and XGBoost's
 * pred_interactions: the effect on feature k of fixing feature i on (always
 * the side x takes) minus fixing it off (both sides by cover), halved, is
 * Phi(i, k); the diagonal is phi_i minus the rest of its row, so each row sums
 * to the SHAP value.  A tree that never splits on i contributes nothing to row
 * i, so only the features a tree uses are conditioned on.
 *
 * Differences from XGBoost's src/tree/tree_model.cc: everything is computed
 * in double precision (XGBoost works in float; the results agree to about
 * 1e-6), a child whose zero and one fractions are both 0 is skipped (it
 * contributes exactly zero, and XGBoost gets NaN unwinding it), a node without cover
 * splits its weight evenly, and the one fraction, always 0 or 1 along a path,
 * is never divided by.  No memory is allocated per tree or per node: the
 * path copies live in one workspace whose size depends on the deepest tree.
 */
#include <math.h>
#include <string.h>

#include "cs_shap.h"

/* One unique feature on the current path, with the weight of one subset size. */
typedef struct shap_elem
{
	double  zero;    /* fraction of zero paths (cover share) */
	double  one;     /* fraction of one paths: 1 when x goes this way, else 0 */
	double  pweight; /* permutation weight of subsets of this size */
	int32_t feature; /* -1 for the root's placeholder */
	int32_t pad;
} shap_elem;

/* The state of one tree walk. */
typedef struct shap_walk
{
	const cs_tree_node *nodes;
	const double       *input;
	double             *phi;          /* where contributions go */
	const double       *recip;        /* recip[n] = 1 / n */
	double              scale;        /* multiplies every leaf value */
	double              expected;     /* sum of leaf value x cover share (unconditioned) */
	int                 condition;    /* 0: none, 1: cond_feature on, -1: off */
	int32_t             cond_feature; /* the feature fixed by condition */
} shap_walk;

/* XGBoost's ProbToMargin for logistic loss, in single precision (as tree.c). */
static float
shap_base_margin(double base_score)
{
	return -logf(1.0f / (float) base_score - 1.0f);
}

/* The depth of the subtree under node k (a leaf has depth 0). */
static int32_t
subtree_depth(const cs_tree_node *nodes, int32_t k)
{
	int32_t l, r;

	if (nodes[k].feature < 0)
		return 0;
	l = subtree_depth(nodes, nodes[k].left);
	r = subtree_depth(nodes, nodes[k].right);
	return 1 + (l > r ? l : r);
}

/* The depth of the deepest tree of an ensemble. */
static int32_t
ensemble_depth(const cs_ensemble *e)
{
	int32_t t, depth = 0;

	for (t = 0; t < e->n_trees; t++)
	{
		int32_t d = subtree_depth(e->nodes + e->tree_start[t], 0);

		if (d > depth)
			depth = d;
	}
	return depth;
}

/* Path elements that one walk needs: one path copy per level, each bounded by the features. */
static size_t
path_elems(const cs_ensemble *e)
{
	size_t depth = (size_t) ensemble_depth(e);
	size_t unique = depth < (size_t) e->n_features ? depth : (size_t) e->n_features;

	return (depth + 2) * (unique + 2);
}

/* Bytes of the reciprocal table that leads every workspace (8-byte multiples). */
static size_t
recip_bytes(const cs_ensemble *e)
{
	return ((size_t) e->n_features + 3) * sizeof(double);
}

/* Fills recip[n] = 1 / n for n in [1, n_features + 2]. */
static void
fill_recip(double *recip, int32_t n_features)
{
	int32_t n;

	recip[0] = 0.0;
	for (n = 1; n <= n_features + 2; n++)
		recip[n] = 1.0 / (double) n;
}

/* Appends a feature with its fractions to a path of d elements, updating the subset weights. */
static inline void
extend_path(shap_elem *path, int32_t d, double zero, double one, int32_t feature,
			const double *recip)
{
	double  r = recip[d + 1];
	int32_t i;

	path[d].feature = feature;
	path[d].zero = zero;
	path[d].one = one;
	path[d].pweight = d == 0 ? 1.0 : 0.0;
	for (i = d - 1; i >= 0; i--)
	{
		path[i + 1].pweight += one * path[i].pweight * (double) (i + 1) * r;
		path[i].pweight = zero * path[i].pweight * (double) (d - i) * r;
	}
}

/* Removes element p from a path whose last index is d (the inverse of extend_path). */
static inline void
unwind_path(shap_elem *path, int32_t d, int32_t p, const double *recip)
{
	double  one = path[p].one;
	double  zero = path[p].zero;
	double  next = path[d].pweight;
	double  r = recip[d + 1];
	int32_t i;

	if (one != 0.0)
	{
		for (i = d - 1; i >= 0; i--)
		{
			double prev = path[i].pweight;

			path[i].pweight = next * (double) (d + 1) * recip[i + 1];
			next = prev - path[i].pweight * zero * (double) (d - i) * r;
		}
	}
	else
	{
		/* zero > 0 here: a child whose fractions are both 0 is never entered */
		for (i = d - 1; i >= 0; i--)
			path[i].pweight = path[i].pweight * (double) (d + 1) * recip[d - i] / zero;
	}
	for (i = p; i < d; i++)
	{
		path[i].feature = path[i + 1].feature;
		path[i].zero = path[i + 1].zero;
		path[i].one = path[i + 1].one;
	}
}

#define SHAP_LANES 8

/* Adds a leaf's value, shared out along the path (last index d), to the features on it. */
static inline void
leaf_contributions(shap_walk *w, const shap_elem *path, int32_t d, double value)
{
	double  cold_sum = 0.0, r = w->recip[d + 1];
	int32_t i, p, q, n;

	/* every feature whose one fraction is 0 gets the same share: compute it once */
	for (i = 0; i < d; i++)
		cold_sum += path[i].pweight * (double) (d + 1) * w->recip[d - i];
	for (p = 1; p <= d; p++)
		if (path[p].one == 0.0)
			w->phi[path[p].feature] -= cold_sum * value;

	/*
	 * Each feature x follows unwinds the path its own way, a serial chain per
	 * feature: up to SHAP_LANES of them run side by side so that their chains
	 * overlap in the pipeline.
	 */
	for (p = 1; p <= d;)
	{
		double  zero[SHAP_LANES], next[SHAP_LANES], total[SHAP_LANES];
		int32_t feature[SHAP_LANES];

		for (n = 0; p <= d && n < SHAP_LANES; p++)
			if (path[p].one != 0.0)
			{
				zero[n] = path[p].zero;
				next[n] = path[d].pweight;
				total[n] = 0.0;
				feature[n++] = path[p].feature;
			}
		for (i = d - 1; i >= 0; i--)
		{
			double up = (double) (d + 1) * w->recip[i + 1];
			double down = (double) (d - i) * r;
			double pw = path[i].pweight;

			for (q = 0; q < n; q++)
			{
				double share = next[q] * up;

				total[q] += share;
				next[q] = pw - share * zero[q] * down;
			}
		}
		for (q = 0; q < n; q++)
			w->phi[feature[q]] += total[q] * (1.0 - zero[q]) * value;
	}
}

/*
 * Walks the subtree under node k, whose unique path (last index d, already
 * extended by k's parent split) is path; cond is the weight that conditioning
 * leaves on this node and reach the product of cover shares from the root.
 */
static void
shap_recurse(shap_walk *w, int32_t k, shap_elem *path, int32_t d, double cond, double reach)
{
	const cs_tree_node *nd = &w->nodes[k];
	double              x, cover, zero_hot, zero_cold, in_zero = 1.0, in_one = 1.0;
	double              cond_hot = cond, cond_cold = cond;
	int32_t             hot, cold, p, f = nd->feature;
	int                 fixed;
	shap_elem          *child;

	if (f < 0)
	{
		leaf_contributions(w, path, d, nd->value * w->scale * cond);
		if (w->condition == 0)
			w->expected += reach * nd->value;
		return;
	}
	x = w->input[f];
	if (isnan(x) ? nd->default_left : (float) x < nd->threshold)
		hot = nd->left, cold = nd->right;
	else
		hot = nd->right, cold = nd->left;
	cover = nd->cover;
	if (cover > 0.0)
	{
		zero_hot = w->nodes[hot].cover / cover;
		zero_cold = w->nodes[cold].cover / cover;
	}
	else
		zero_hot = zero_cold = 0.5;

	/* a feature already on the path is taken off, to come back with both fractions */
	for (p = 1; p <= d; p++)
		if (path[p].feature == f)
			break;
	if (p <= d)
	{
		in_zero = path[p].zero;
		in_one = path[p].one;
		unwind_path(path, d, p, w->recip);
		d--;
	}

	fixed = w->condition != 0 && f == w->cond_feature;
	if (fixed && w->condition > 0)
		cond_cold = 0.0;
	else if (fixed)
	{
		cond_hot *= zero_hot;
		cond_cold *= zero_cold;
	}

	/* a child that neither x nor the cover reaches has zero weight in every subset */
	child = path + d + 1;
	if (cond_hot != 0.0 && (fixed || zero_hot * in_zero != 0.0 || in_one != 0.0))
	{
		memcpy(child, path, sizeof(shap_elem) * (size_t) (d + 1));
		if (fixed)
			shap_recurse(w, hot, child, d, cond_hot, reach * zero_hot);
		else
		{
			extend_path(child, d + 1, zero_hot * in_zero, in_one, f, w->recip);
			shap_recurse(w, hot, child, d + 1, cond_hot, reach * zero_hot);
		}
	}
	if (cond_cold != 0.0 && (fixed || zero_cold * in_zero != 0.0))
	{
		memcpy(child, path, sizeof(shap_elem) * (size_t) (d + 1));
		if (fixed)
			shap_recurse(w, cold, child, d, cond_cold, reach * zero_cold);
		else
		{
			extend_path(child, d + 1, zero_cold * in_zero, 0.0, f, w->recip);
			shap_recurse(w, cold, child, d + 1, cond_cold, reach * zero_cold);
		}
	}
}

/* Runs TreeSHAP on tree t into w->phi; returns the tree's expected value when unconditioned. */
static double
shap_tree(shap_walk *w, const cs_ensemble *e, int32_t t, shap_elem *path)
{
	w->nodes = e->nodes + e->tree_start[t];
	w->expected = 0.0;
	extend_path(path, 0, 1.0, 1.0, -1, w->recip);
	shap_recurse(w, 0, path, 0, 1.0, 1.0);
	return w->expected;
}

/* The per-leaf multiplier of an ensemble: 1 for boosting, 1 / n_trees for a forest. */
static double
tree_scale(const cs_ensemble *e)
{
	if (e->kind == CS_ENSEMBLE_FOREST && e->n_trees > 0)
		return 1.0 / (double) e->n_trees;
	return 1.0;
}

/* The base value before any tree: the base margin (boosting), 0 or 0.5 without trees (forest). */
static double
base_value(const cs_ensemble *e)
{
	if (e->kind == CS_ENSEMBLE_BOOSTED)
		return shap_base_margin(e->base_score);
	return e->n_trees > 0 ? 0.0 : 0.5;
}

/* Bytes of scratch that one call needs for this ensemble. */
size_t
cs_tree_shap_workspace(const cs_ensemble *e)
{
	return recip_bytes(e) + path_elems(e) * sizeof(shap_elem);
}

/* SHAP values of one input, with a workspace of cs_tree_shap_workspace(e) bytes. */
cs_status
cs_tree_shap_ws(const cs_ensemble *e, const double *input, double *phi, void *workspace,
				cs_error *err)
{
	double    *recip = workspace;
	shap_elem *path;
	shap_walk  w;
	double     base;
	int32_t    t;

	if (e->n_features < 0 || workspace == NULL)
		return cs_fail(err, CS_ERR_INVALID, "TreeSHAP needs an ensemble and a workspace");
	path = (shap_elem *) (void *) ((char *) workspace + recip_bytes(e));
	fill_recip(recip, e->n_features);
	memset(phi, 0, sizeof(double) * ((size_t) e->n_features + 1));
	memset(&w, 0, sizeof(w));
	w.input = input;
	w.phi = phi;
	w.recip = recip;
	w.scale = tree_scale(e);
	base = base_value(e);
	for (t = 0; t < e->n_trees; t++)
		base += shap_tree(&w, e, t, path) * w.scale;
	phi[e->n_features] = base;
	return CS_OK;
}

/* SHAP values of one input into phi[n_features + 1]. */
cs_status
cs_tree_shap(const cs_ensemble *e, const double *input, double *phi, cs_error *err)
{
	void     *ws = cs_malloc(cs_tree_shap_workspace(e));
	cs_status st;

	if (ws == NULL)
		return cs_fail(err, CS_ERR_NOMEM, "out of memory for the TreeSHAP workspace");
	st = cs_tree_shap_ws(e, input, phi, ws, err);
	cs_free(ws);
	return st;
}

/* Bytes of scratch that one interaction call needs: the SHAP workspace and two per-feature arrays. */
size_t
cs_tree_shap_interactions_workspace(const cs_ensemble *e)
{
	return cs_tree_shap_workspace(e) + ((size_t) e->n_features + 1) * sizeof(double) +
		   2 * ((size_t) e->n_features + 1) * sizeof(int32_t);
}

/* SHAP interaction values with a caller's workspace (see cs_tree_shap_interactions). */
cs_status
cs_tree_shap_interactions_ws(const cs_ensemble *e, const double *input, double *phi,
							 void *workspace, cs_error *err)
{
	size_t     m1 = (size_t) e->n_features + 1;
	char      *base = workspace;
	size_t     shap_bytes;
	double    *diag, *recip = workspace;
	int32_t   *seen, *used;
	shap_elem *path;
	shap_walk  w;
	cs_status  st;
	int32_t    t, j, n_used;
	size_t     i, k;

	if (workspace == NULL)
		return cs_fail(err, CS_ERR_INVALID, "TreeSHAP needs an ensemble and a workspace");
	shap_bytes = cs_tree_shap_workspace(e);
	diag = (double *) (void *) (base + shap_bytes);
	seen = (int32_t *) (void *) (base + shap_bytes + m1 * sizeof(double));
	used = seen + m1;
	path = (shap_elem *) (void *) (base + recip_bytes(e));
	if ((st = cs_tree_shap_ws(e, input, diag, workspace, err)) != CS_OK)
		return st;
	memset(phi, 0, sizeof(double) * m1 * m1);
	for (i = 0; i < m1; i++)
		seen[i] = -1;
	memset(&w, 0, sizeof(w));
	w.input = input;
	w.recip = recip;
	for (t = 0; t < e->n_trees; t++)
	{
		const cs_tree_node *nodes = e->nodes + e->tree_start[t];
		int64_t             size = e->tree_start[t + 1] - e->tree_start[t], n;

		n_used = 0;
		for (n = 0; n < size; n++)
			if (nodes[n].feature >= 0 && seen[nodes[n].feature] != t)
			{
				seen[nodes[n].feature] = t;
				used[n_used++] = nodes[n].feature;
			}
		/* row f gets half of (f fixed on) - (f fixed off); the diagonal is never written */
		for (j = 0; j < n_used; j++)
		{
			w.phi = phi + (size_t) used[j] * m1;
			w.cond_feature = used[j];
			w.condition = 1;
			w.scale = 0.5 * tree_scale(e);
			shap_tree(&w, e, t, path);
			w.condition = -1;
			w.scale = -0.5 * tree_scale(e);
			shap_tree(&w, e, t, path);
		}
	}
	for (i = 0; i < m1; i++)
	{
		double rest = 0.0;

		for (k = 0; k < m1; k++)
			if (k != i)
				rest += phi[i * m1 + k];
		phi[i * m1 + i] = diag[i] - rest;
	}
	return CS_OK;
}

/* SHAP interaction values into phi[(n_features + 1)^2], the bias last, as pred_interactions. */
cs_status
cs_tree_shap_interactions(const cs_ensemble *e, const double *input, double *phi, cs_error *err)
{
	void     *ws = cs_malloc(cs_tree_shap_interactions_workspace(e));
	cs_status st;

	if (ws == NULL)
		return cs_fail(err, CS_ERR_NOMEM, "out of memory for the TreeSHAP workspace");
	st = cs_tree_shap_interactions_ws(e, input, phi, ws, err);
	cs_free(ws);
	return st;
}
