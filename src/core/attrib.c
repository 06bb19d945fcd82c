/*
 * attrib.c - attributions against reference rows: the reference sample,
 * KernelSHAP, exact single-reference Shapley values, and the cutoff-matched
 * reference of reason codes (cs_attrib.h).
 *
 * Single-reference Shapley values of a tree: with the features in a
 * coalition S taken from x and the others from r, the tree's output is
 * sum over leaves L of v_L [A_L in S, B_L outside S], where A_L (B_L) are the
 * features whose x (r) value the path to L needs and r (x) would not follow.
 * Each term is a game whose Shapley values are v (|A|-1)! |B|! / (|A|+|B|)!
 * for a feature of A and -v |A|! (|B|-1)! / (|A|+|B|)! for one of B, so one
 * walk that splits wherever x and r part ways gives the exact values.
 *
 * KernelSHAP solves the Shapley kernel's weighted least squares with the
 * efficiency constraint eliminated, as the shap package does: with z the
 * coalitions (0/1 over the M features that vary), w their kernel weights and
 * y their values minus the base value, the last feature's column is
 * subtracted from the others and its value recovered from the constraint.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cs_attrib.h"
#include "cs_mlp.h"

/* ------------------------------------------------------------- values */

double
cs_explain_value(const cs_model *m, const double *input)
{
	if (m->type == CS_MODEL_RANDOM_FOREST)
		return cs_ensemble_score(m->u.ensemble, input);
	return cs_model_margin(m, input);
}

/* --------------------------------------------------- the reference sample */

typedef struct hashed_row
{
	uint64_t hash;
	size_t   pos;
} hashed_row;

static int
cmp_hashed(const void *a, const void *b)
{
	const hashed_row *x = a;
	const hashed_row *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->pos < y->pos ? -1 : (x->pos > y->pos);
}

cs_status
cs_reference_build(cs_model *m, const cs_dataset *ds, const size_t *rows, size_t n, uint64_t seed,
				   int32_t max_rows, cs_error *err)
{
	size_t      k = n < (size_t) (max_rows > 0 ? max_rows : 0) ? n : (size_t) max_rows;
	int32_t     nf = m->schema.n_features;
	hashed_row *h;
	size_t     *chosen;
	double     *inputs = NULL;
	double     *values;
	size_t      i;
	cs_status   st;

	cs_free(m->reference.inputs);
	cs_free(m->reference.values);
	memset(&m->reference, 0, sizeof(m->reference));
	if (k == 0)
		return CS_OK;
	h = cs_malloc(sizeof(hashed_row) * n);
	chosen = cs_malloc(sizeof(size_t) * k);
	values = cs_malloc(sizeof(double) * k);
	if (h == NULL || chosen == NULL || values == NULL)
	{
		cs_free(h);
		cs_free(chosen);
		cs_free(values);
		return cs_fail(err, CS_ERR_NOMEM, "out of memory for the reference sample");
	}
	for (i = 0; i < n; i++)
	{
		h[i].hash = cs_row_hash(ds, rows[i], seed ^ UINT64_C(0x5245464552454e43));
		h[i].pos = i;
	}
	qsort(h, n, sizeof(hashed_row), cmp_hashed);
	for (i = 0; i < k; i++)
		chosen[i] = rows[h[i].pos];
	cs_free(h);
	st = cs_schema_inputs(&m->schema, ds, chosen, k, &inputs, err);
	cs_free(chosen);
	if (st != CS_OK)
	{
		cs_free(values);
		return st;
	}
	for (i = 0; i < k; i++)
		values[i] = cs_explain_value(m, inputs + i * (size_t) nf);
	m->reference.n_rows = (int32_t) k;
	m->reference.n_cols = nf;
	m->reference.inputs = inputs;
	m->reference.values = values;
	return CS_OK;
}

int32_t
cs_reference_nearest(const cs_reference *ref, double target, int32_t k, int32_t *idx)
{
	int32_t n = 0;
	int32_t i;

	/* insertion into a sorted list of at most k: k is small */
	for (i = 0; i < ref->n_rows; i++)
	{
		double  d = fabs(ref->values[i] - target);
		int32_t at = n;

		while (at > 0 && fabs(ref->values[idx[at - 1]] - target) > d)
			at--;
		if (at >= k)
			continue;
		if (n < k)
			n++;
		memmove(idx + at + 1, idx + at, sizeof(int32_t) * (size_t) (n - 1 - at));
		idx[at] = i;
	}
	return n;
}

/* -------------------------------------------------------- KernelSHAP */

int32_t
cs_kernel_shap_default_samples(int32_t nf)
{
	return 2 * nf + 2048;
}

/* n choose k as a double. */
static double
choose(int n, int k)
{
	double c = 1;
	int    i;

	if (k < 0 || k > n)
		return 0;
	if (k > n - k)
		k = n - k;
	for (i = 1; i <= k; i++)
		c = c * (double) (n - k + i) / (double) i;
	return c;
}

/* The coalitions: masks over the M varying features, kernel weights, values. */
typedef struct coalitions
{
	int32_t  M;
	size_t   n;
	size_t   cap;
	uint8_t *mask; /* cap x M */
	double  *weight;
	int32_t *table; /* open addressing over masks, -1 empty */
	size_t   table_size;
	int      failed;
} coalitions;

static uint64_t
mask_hash(const uint8_t *mask, int32_t M)
{
	return cs_fnv1a64(mask, (size_t) M);
}

/* Adds weight to mask's entry, creating it; returns 1 when it was new. */
static int
coalition_add(coalitions *c, const uint8_t *mask, double weight)
{
	size_t slot = (size_t) mask_hash(mask, c->M) & (c->table_size - 1);

	while (c->table[slot] >= 0)
	{
		int32_t e = c->table[slot];

		if (memcmp(c->mask + (size_t) e * (size_t) c->M, mask, (size_t) c->M) == 0)
		{
			c->weight[e] += weight;
			return 0;
		}
		slot = (slot + 1) & (c->table_size - 1);
	}
	if (c->n >= c->cap)
	{
		c->failed = 1;
		return 0;
	}
	memcpy(c->mask + c->n * (size_t) c->M, mask, (size_t) c->M);
	c->weight[c->n] = weight;
	c->table[slot] = (int32_t) c->n;
	c->n++;
	return 1;
}

/* Every subset of size s of M (and, when paired, its complement), each with weight w. */
static void
add_all_of_size(coalitions *c, int32_t s, int paired, double w, uint8_t *mask, int32_t *pick)
{
	int32_t M = c->M;
	int32_t i;

	for (i = 0; i < s; i++)
		pick[i] = i;
	for (;;)
	{
		memset(mask, 0, (size_t) M);
		for (i = 0; i < s; i++)
			mask[pick[i]] = 1;
		coalition_add(c, mask, w);
		if (paired)
		{
			for (i = 0; i < M; i++)
				mask[i] ^= 1;
			coalition_add(c, mask, w);
		}
		/* the next combination in lexicographic order */
		i = s - 1;
		while (i >= 0 && pick[i] == M - s + i)
			i--;
		if (i < 0)
			break;
		pick[i]++;
		for (i = i + 1; i < s; i++)
			pick[i] = pick[i - 1] + 1;
	}
}

/*
 * The coalitions and their weights, as shap's KernelExplainer chooses them
 * for M >= 2 features and a budget of nsamples.
 */
static cs_status
choose_coalitions(coalitions *c, int32_t M, int32_t nsamples, uint64_t seed, cs_error *err)
{
	int32_t   n_sizes = M / 2;        /* ceil((M - 1) / 2) */
	int32_t   n_paired = (M - 1) / 2; /* floor((M - 1) / 2) */
	double   *wv = cs_calloc((size_t) n_sizes + 1, sizeof(double));
	double   *rem = cs_calloc((size_t) n_sizes + 1, sizeof(double));
	int32_t  *pick = cs_malloc(sizeof(int32_t) * (size_t) M);
	uint8_t  *mask = cs_malloc((size_t) M);
	int32_t  *perm = cs_malloc(sizeof(int32_t) * (size_t) M);
	double    total = 0;
	double    left = nsamples;
	int32_t   full = 0;
	int32_t   s;
	size_t    i;
	cs_status st = CS_OK;

	if (M < 2 || M > c->M)
	{
		st = cs_fail(err, CS_ERR_INVALID, "KernelSHAP needs 2 or more features, not %d", (int) M);
		goto done;
	}
	if (wv == NULL || rem == NULL || pick == NULL || mask == NULL || perm == NULL)
	{
		st = cs_fail(err, CS_ERR_NOMEM, "out of memory choosing KernelSHAP coalitions");
		goto done;
	}
	if (M <= 30 && (double) ((UINT64_C(1) << M) - 2) <= (double) nsamples)
	{
		/* every proper coalition with its kernel weight: exact */
		for (s = 1; s < M; s++)
			add_all_of_size(c, s, 0, (double) (M - 1) / (choose(M, s) * s * (M - s)), mask, pick);
		goto done;
	}
	for (s = 1; s <= n_sizes; s++)
	{
		wv[s] = (double) (M - 1) / ((double) s * (M - s));
		if (s <= n_paired)
			wv[s] *= 2;
		total += wv[s];
	}
	for (s = 1; s <= n_sizes; s++)
		rem[s] = wv[s] /= total;
	for (s = 1; s <= n_sizes; s++)
	{
		double  subsets = choose(M, s) * (s <= n_paired ? 2 : 1);
		double  w;
		int32_t t;

		if (!(left * rem[s] / subsets >= 1 - 1e-8))
			break;
		full++;
		left -= subsets;
		if (rem[s] < 1)
		{
			double scale = 1 - rem[s];

			for (t = 1; t <= n_sizes; t++)
				rem[t] /= scale;
		}
		w = wv[s] / choose(M, s);
		if (s <= n_paired)
			w /= 2;
		add_all_of_size(c, s, s <= n_paired, w, mask, pick);
	}
	if (full < n_sizes && left > 0)
	{
		size_t  fixed = c->n;
		double  weight_left = 0;
		double  drawn = 0;
		double  cum = 0;
		double *cdf = rem; /* reused: the size distribution of the draws */
		cs_rng  rng;
		size_t  draws = 0;
		size_t  max_draws = (size_t) (4 * left);

		for (s = full + 1; s <= n_sizes; s++)
		{
			weight_left += wv[s];
			cdf[s] = wv[s] / (s <= n_paired ? 2 : 1);
			cum += cdf[s];
		}
		for (s = full + 1; s <= n_sizes; s++)
			cdf[s] = (s > full + 1 ? cdf[s - 1] : 0) + cdf[s] / cum;
		cs_rng_seed(&rng, seed);
		while (left > 0 && draws < max_draws)
		{
			double  u = cs_rng_uniform(&rng);
			int32_t size = full + 1;
			int32_t j;

			draws++;
			while (size < n_sizes && u >= cdf[size])
				size++;
			/* a uniformly random subset of that size: a partial shuffle */
			for (j = 0; j < M; j++)
				perm[j] = j;
			memset(mask, 0, (size_t) M);
			for (j = 0; j < size; j++)
			{
				int32_t r = j + (int32_t) (cs_rng_uniform(&rng) * (M - j));
				int32_t tmp = perm[j];

				perm[j] = perm[r];
				perm[r] = tmp;
				mask[perm[j]] = 1;
			}
			if (coalition_add(c, mask, 1.0))
				left--;
			if (left > 0 && size <= n_paired)
			{
				for (j = 0; j < M; j++)
					mask[j] ^= 1;
				if (coalition_add(c, mask, 1.0))
					left--;
			}
		}
		for (i = fixed; i < c->n; i++)
			drawn += c->weight[i];
		for (i = fixed; i < c->n && drawn > 0; i++)
			c->weight[i] *= weight_left / drawn;
	}
done:
	if (st == CS_OK && c->failed)
		st = cs_fail(err, CS_ERR_NUMERIC, "KernelSHAP chose more coalitions than it planned");
	cs_free(wv);
	cs_free(rem);
	cs_free(pick);
	cs_free(mask);
	cs_free(perm);
	return st;
}

/*
 * Solves the n x n system A w = b in place by Gaussian elimination with
 * partial pivoting; 0 when A is singular to working precision.
 */
static int
solve_dense(double *A, double *b, int32_t n)
{
	int32_t i, j, k;
	double  scale = 0;

	for (i = 0; i < n * n; i++)
		scale = fmax(scale, fabs(A[i]));
	for (k = 0; k < n; k++)
	{
		int32_t p = k;

		for (i = k + 1; i < n; i++)
			if (fabs(A[i * n + k]) > fabs(A[p * n + k]))
				p = i;
		if (!(fabs(A[p * n + k]) > 1e-13 * scale))
			return 0;
		if (p != k)
		{
			double t;

			for (j = 0; j < n; j++)
			{
				t = A[k * n + j];
				A[k * n + j] = A[p * n + j];
				A[p * n + j] = t;
			}
			t = b[k];
			b[k] = b[p];
			b[p] = t;
		}
		for (i = k + 1; i < n; i++)
		{
			double f = A[i * n + k] / A[k * n + k];

			if (f == 0)
				continue;
			for (j = k; j < n; j++)
				A[i * n + j] -= f * A[k * n + j];
			b[i] -= f * b[k];
		}
	}
	for (k = n - 1; k >= 0; k--)
	{
		double s = b[k];

		for (j = k + 1; j < n; j++)
			s -= A[k * n + j] * b[j];
		b[k] = s / A[k * n + k];
	}
	return 1;
}

/* A reference row's weight: its own, or 1/n. */
static inline double
row_weight(const double *weight, int32_t i, int32_t n)
{
	return weight != NULL ? weight[i] : 1.0 / n;
}

/* Two inputs agree on a feature: equal, or both missing. */
static int
same_value(double a, double b)
{
	return a == b || (isnan(a) && isnan(b));
}

cs_status
cs_kernel_shap(const cs_model *m, const double *x, const double *bg, const double *bg_weight,
			   int32_t n_bg, int32_t nsamples, uint64_t seed, cs_progress_fn progress, void *ctx,
			   double *phi, cs_error *err)
{
	int32_t    nf = m->schema.n_features;
	int32_t   *vary = NULL;
	int32_t    M = 0;
	double     fx, base = 0;
	double    *hybrid = NULL;
	double    *y = NULL;
	double    *A = NULL;
	double    *b = NULL;
	coalitions c;
	size_t     i;
	int32_t    j, k, b_row;
	cs_status  st = CS_OK;

	memset(&c, 0, sizeof(c));
	if (n_bg < 1)
		return cs_fail(err, CS_ERR_INVALID, "KernelSHAP needs at least one background row");
	if (nsamples < 1)
		return cs_fail(err, CS_ERR_INVALID, "KernelSHAP needs a positive number of samples");
	memset(phi, 0, sizeof(double) * ((size_t) nf + 1));
	vary = cs_malloc(sizeof(int32_t) * (size_t) (nf > 0 ? nf : 1));
	hybrid = cs_malloc(sizeof(double) * (size_t) (nf > 0 ? nf : 1));
	if (vary == NULL || hybrid == NULL)
	{
		st = cs_fail(err, CS_ERR_NOMEM, "out of memory for KernelSHAP");
		goto done;
	}
	fx = cs_explain_value(m, x);
	for (b_row = 0; b_row < n_bg; b_row++)
		base += row_weight(bg_weight, b_row, n_bg) *
				cs_explain_value(m, bg + (size_t) b_row * (size_t) nf);
	phi[nf] = base;
	for (j = 0; j < nf; j++)
		for (b_row = 0; b_row < n_bg; b_row++)
			if (!same_value(x[j], bg[(size_t) b_row * (size_t) nf + (size_t) j]))
			{
				vary[M++] = j;
				break;
			}
	if (M == 0)
		goto done;
	if (M == 1)
	{
		phi[vary[0]] = fx - base;
		goto done;
	}

	/* the coalitions: at most nsamples of them (every one when they fit) */
	c.M = M;
	c.cap = (size_t) nsamples;
	if (M <= 30 && (double) ((UINT64_C(1) << M) - 2) < (double) c.cap)
		c.cap = (size_t) ((UINT64_C(1) << M) - 2);
	c.table_size = 16;
	while (c.table_size < 2 * c.cap)
		c.table_size *= 2;
	c.mask = cs_malloc(c.cap * (size_t) M);
	c.weight = cs_malloc(sizeof(double) * c.cap);
	c.table = cs_malloc(sizeof(int32_t) * c.table_size);
	y = cs_malloc(sizeof(double) * c.cap);
	A = cs_malloc(sizeof(double) * (size_t) (M - 1) * (size_t) (M - 1));
	b = cs_malloc(sizeof(double) * (size_t) (M - 1));
	if (c.mask == NULL || c.weight == NULL || c.table == NULL || y == NULL || A == NULL ||
		b == NULL)
	{
		st = cs_fail(err, CS_ERR_NOMEM, "out of memory for %d KernelSHAP samples", nsamples);
		goto done;
	}
	memset(c.table, 0xFF, sizeof(int32_t) * c.table_size);
	st = choose_coalitions(&c, M, nsamples, seed, err);
	if (st != CS_OK)
		goto done;

	/* each coalition's value: the mean over the background of the hybrid rows */
	for (i = 0; i < c.n; i++)
	{
		const uint8_t *mask = c.mask + i * (size_t) M;
		double         v = 0;

		if (progress != NULL && i % 64 == 0 &&
			progress(ctx, (double) i / (double) c.n, "evaluating coalitions"))
		{
			st = cs_fail(err, CS_ERR_CANCELLED, "KernelSHAP cancelled");
			goto done;
		}

		for (b_row = 0; b_row < n_bg; b_row++)
		{
			memcpy(hybrid, bg + (size_t) b_row * (size_t) nf, sizeof(double) * (size_t) nf);
			for (k = 0; k < M; k++)
				if (mask[k])
					hybrid[vary[k]] = x[vary[k]];
			v += row_weight(bg_weight, b_row, n_bg) * cs_explain_value(m, hybrid);
		}
		y[i] = v - base;
	}

	/* weighted least squares with sum(phi) = fx - base eliminated */
	memset(A, 0, sizeof(double) * (size_t) (M - 1) * (size_t) (M - 1));
	memset(b, 0, sizeof(double) * (size_t) (M - 1));
	for (i = 0; i < c.n; i++)
	{
		const uint8_t *mask = c.mask + i * (size_t) M;
		double         last = mask[M - 1];
		double         yadj = y[i] - last * (fx - base);
		double         w = c.weight[i];
		int32_t        p, q;

		for (p = 0; p < M - 1; p++)
		{
			double ep = mask[p] - last;

			if (ep == 0)
				continue;
			b[p] += w * ep * yadj;
			for (q = 0; q < M - 1; q++)
				A[p * (M - 1) + q] += w * ep * (mask[q] - last);
		}
	}
	if (!solve_dense(A, b, M - 1))
	{
		st = cs_fail(err,
					 CS_ERR_NUMERIC,
					 "%d KernelSHAP samples do not determine the values of %d features",
					 nsamples,
					 (int) M);
		goto done;
	}
	{
		double sum = 0;

		for (k = 0; k < M - 1; k++)
		{
			phi[vary[k]] = b[k];
			sum += b[k];
		}
		phi[vary[M - 1]] = (fx - base) - sum;
	}
done:
	cs_free(vary);
	cs_free(hybrid);
	cs_free(c.mask);
	cs_free(c.weight);
	cs_free(c.table);
	cs_free(y);
	cs_free(A);
	cs_free(b);
	return st;
}

/* ------------------------------------- single-reference tree Shapley values */

/* The scratch of one walk: each feature's side, and the stacks of A and B. */
typedef struct baseline_walk
{
	const cs_tree_node *nodes;
	const double       *x;
	const double       *r;
	double             *phi;
	double              scale;
	int8_t             *side; /* 0 free, 1 from x, 2 from r */
	int32_t            *a;    /* features taken from x */
	int32_t            *b;    /* features taken from r */
} baseline_walk;

size_t
cs_tree_shap_baseline_workspace(const cs_ensemble *e)
{
	int32_t depth = 0;
	int32_t t;

	/* a path never names more features than it has nodes, nor more than there are */
	for (t = 0; t < e->n_trees; t++)
	{
		int64_t size = e->tree_start[t + 1] - e->tree_start[t];

		if (size > depth)
			depth = size > INT32_MAX / 4 ? INT32_MAX / 4 : (int32_t) size;
	}
	if (depth > e->n_features)
		depth = e->n_features;
	return (size_t) e->n_features * (sizeof(int8_t) + 2 * sizeof(int32_t)) +
		   2 * sizeof(int32_t) * ((size_t) depth + 1) + 16;
}

/* Whether an input goes left at a split node (as scoring decides). */
static inline int
goes_left(const cs_tree_node *nd, double v)
{
	return isnan(v) ? nd->default_left : (float) v < nd->threshold;
}

static void
baseline_node(baseline_walk *w, int32_t k, int32_t na, int32_t nb)
{
	const cs_tree_node *nd = &w->nodes[k];
	int32_t             f = nd->feature;
	int                 lx, lr;

	if (f < 0)
	{
		double  v = nd->value * w->scale;
		int32_t i;

		if (na + nb == 0 || v == 0)
			return;
		if (na > 0)
		{
			double share = v / ((double) na * choose(na + nb, na));

			for (i = 0; i < na; i++)
				w->phi[w->a[i]] += share;
		}
		if (nb > 0)
		{
			double share = v / ((double) nb * choose(na + nb, nb));

			for (i = 0; i < nb; i++)
				w->phi[w->b[i]] -= share;
		}
		return;
	}
	lx = goes_left(nd, w->x[f]);
	if (w->side[f] == 1)
	{
		baseline_node(w, lx ? nd->left : nd->right, na, nb);
		return;
	}
	lr = goes_left(nd, w->r[f]);
	if (w->side[f] == 2 || lx == lr)
	{
		baseline_node(w, lr ? nd->left : nd->right, na, nb);
		return;
	}
	w->side[f] = 1;
	w->a[na] = f;
	baseline_node(w, lx ? nd->left : nd->right, na + 1, nb);
	w->side[f] = 2;
	w->b[nb] = f;
	baseline_node(w, lr ? nd->left : nd->right, na, nb + 1);
	w->side[f] = 0;
}

void
cs_tree_shap_baseline(const cs_ensemble *e, const double *x, const double *r, double *phi,
					  void *work)
{
	baseline_walk w;
	int32_t       t;

	w.x = x;
	w.r = r;
	w.phi = phi;
	w.scale = e->kind == CS_ENSEMBLE_FOREST && e->n_trees > 0 ? 1.0 / e->n_trees : 1.0;
	w.a = (int32_t *) work;
	w.b = w.a + e->n_features;
	w.side = (int8_t *) (w.b + e->n_features);
	memset(w.side, 0, (size_t) e->n_features);
	for (t = 0; t < e->n_trees; t++)
	{
		w.nodes = e->nodes + e->tree_start[t];
		baseline_node(&w, 0, 0, 0);
	}
}

/* ------------------------------------------------ against reference rows */

/* A copy of an input with unseen categories read as level 0, as tree scoring reads them. */
static void
tree_input(const cs_model *m, const double *in, double *out)
{
	int32_t j;

	for (j = 0; j < m->schema.n_features; j++)
		out[j] = m->schema.features[j].kind == CS_KIND_CATEGORICAL && in[j] < 0 ? 0 : in[j];
}

/*
 * The exact (linear or tree) values of x against weighted reference rows
 * whose weighted mean value, base, the caller knows.
 */
static cs_status
reference_shap_exact(const cs_model *m, const double *x, const double *refs, const double *weights,
					 int32_t n_refs, double base, double *phi, cs_error *err)
{
	int32_t nf = m->schema.n_features;
	int32_t i, j;

	memset(phi, 0, sizeof(double) * ((size_t) nf + 1));
	if (m->type == CS_MODEL_LOGISTIC_REGRESSION)
	{
		int32_t dw = m->schema.design_width;
		double *xd = cs_malloc(sizeof(double) * (size_t) (dw > 0 ? dw : 1));
		double *rd = cs_malloc(sizeof(double) * (size_t) (dw > 0 ? dw : 1));
		double *mean = cs_calloc((size_t) (dw > 0 ? dw : 1), sizeof(double));
		int32_t c;

		if (xd == NULL || rd == NULL || mean == NULL)
		{
			cs_free(xd);
			cs_free(rd);
			cs_free(mean);
			return cs_fail(err, CS_ERR_NOMEM, "out of memory for reference attributions");
		}
		for (i = 0; i < n_refs; i++)
		{
			cs_schema_encode(&m->schema, refs + (size_t) i * (size_t) nf, rd);
			for (c = 0; c < dw; c++)
				mean[c] += row_weight(weights, i, n_refs) * rd[c];
		}
		cs_schema_encode(&m->schema, x, xd);
		for (j = 0; j < nf; j++)
		{
			const cs_feature *f = &m->schema.features[j];

			for (c = f->design_offset; c < f->design_offset + f->design_width; c++)
				phi[j] += m->u.logreg.coef[1 + c] * (xd[c] - mean[c]);
		}
		cs_free(xd);
		cs_free(rd);
		cs_free(mean);
	}
	else
	{
		const cs_ensemble *e = m->u.ensemble;
		void              *work = cs_malloc(cs_tree_shap_baseline_workspace(e));
		double            *xt = cs_malloc(sizeof(double) * (size_t) (nf > 0 ? nf : 1) * 3);
		double            *one;

		if (work == NULL || xt == NULL)
		{
			cs_free(work);
			cs_free(xt);
			return cs_fail(err, CS_ERR_NOMEM, "out of memory for reference attributions");
		}
		one = xt + 2 * (nf > 0 ? nf : 1);
		tree_input(m, x, xt);
		for (i = 0; i < n_refs; i++)
		{
			double w = row_weight(weights, i, n_refs);

			memset(one, 0, sizeof(double) * (size_t) nf);
			tree_input(m, refs + (size_t) i * (size_t) nf, xt + nf);
			cs_tree_shap_baseline(e, xt, xt + nf, one, work);
			for (j = 0; j < nf; j++)
				phi[j] += w * one[j];
		}
		cs_free(work);
		cs_free(xt);
	}
	phi[nf] = base;
	return CS_OK;
}

cs_status
cs_reference_shap(const cs_model *m, const double *x, const double *refs, const double *weights,
				  int32_t n_refs, int32_t nsamples, uint64_t seed, cs_progress_fn progress,
				  void *ctx, double *phi, cs_error *err)
{
	int32_t nf = m->schema.n_features;
	int32_t i;
	double  base = 0;

	if (n_refs < 1)
		return cs_fail(err, CS_ERR_INVALID, "no reference rows to compare with");
	if (m->type == CS_MODEL_DNN)
		return cs_kernel_shap(m, x, refs, weights, n_refs, nsamples, seed, progress, ctx, phi, err);
	for (i = 0; i < n_refs; i++)
		base +=
			row_weight(weights, i, n_refs) * cs_explain_value(m, refs + (size_t) i * (size_t) nf);
	return reference_shap_exact(m, x, refs, weights, n_refs, base, phi, err);
}

cs_status
cs_cutoff_shap(const cs_model *m, const double *x, double cutoff, int32_t nsamples, uint64_t seed,
			   cs_progress_fn progress, void *ctx, double *phi, double *reference_score,
			   cs_error *err)
{
	const cs_reference *ref = &m->reference;
	int32_t             nf = m->schema.n_features;
	int32_t             half = CS_REASON_REFERENCE_ROWS / 2;
	int32_t             idx[CS_REASON_REFERENCE_ROWS];
	double              weight[CS_REASON_REFERENCE_ROWS];
	double             *refs;
	double              target;
	double              sum_below = 0, sum_above = 0;
	int32_t             n_below = 0, n_above = 0;
	double              w_above;
	double              mean = 0;
	int32_t             n, i;
	cs_status           st;

	if (ref->n_rows < 1)
		return cs_fail(err, CS_ERR_INVALID, "the model keeps no reference sample");
	if (!(cutoff > 0 && cutoff < 1))
		return cs_fail(err, CS_ERR_INVALID, "the cutoff must lie strictly between 0 and 1");
	target = m->type == CS_MODEL_RANDOM_FOREST ? cutoff : log(cutoff / (1 - cutoff));

	/*
	 * The rows nearest the cutoff from below and from above (up to ten each,
	 * by value, ties by position), weighted so that their mean value is the
	 * cutoff's: the values then sum to margin(x) - logit(cutoff).  When every
	 * row lies on one side the nearest rows of that side count equally.
	 */
	for (i = 0; i < ref->n_rows; i++)
	{
		double   v = ref->values[i];
		int      above = v >= target;
		int32_t *side = above ? idx + half : idx;
		int32_t *count = above ? &n_above : &n_below;
		int32_t  at = *count;

		while (at > 0 && fabs(ref->values[side[at - 1]] - target) > fabs(v - target))
			at--;
		if (at >= half)
			continue;
		if (*count < half)
			(*count)++;
		memmove(side + at + 1, side + at, sizeof(int32_t) * (size_t) (*count - 1 - at));
		side[at] = i;
	}
	for (i = 0; i < n_below; i++)
		sum_below += ref->values[idx[i]];
	for (i = 0; i < n_above; i++)
		sum_above += ref->values[idx[half + i]];
	if (n_below > 0 && n_above > 0)
	{
		double mb = sum_below / n_below;
		double ma = sum_above / n_above;

		w_above = ma > mb ? (target - mb) / (ma - mb) : 0.5;
	}
	else
		w_above = n_above > 0 ? 1 : 0;
	memmove(idx + n_below, idx + half, sizeof(int32_t) * (size_t) n_above);
	n = n_below + n_above;
	refs = cs_malloc(sizeof(double) * (size_t) n * (size_t) (nf > 0 ? nf : 1));
	if (refs == NULL)
		return cs_fail(err, CS_ERR_NOMEM, "out of memory for the cutoff reference");
	for (i = 0; i < n; i++)
	{
		memcpy(refs + (size_t) i * (size_t) nf,
			   ref->inputs + (size_t) idx[i] * (size_t) nf,
			   sizeof(double) * (size_t) nf);
		weight[i] = i < n_below ? (1 - w_above) / n_below : w_above / n_above;
		mean += weight[i] * ref->values[idx[i]];
	}
	/* the references' values are stored with them: no need to score them again */
	if (m->type == CS_MODEL_DNN)
		st = cs_reference_shap(m, x, refs, weight, n, nsamples, seed, progress, ctx, phi, err);
	else
		st = reference_shap_exact(m, x, refs, weight, n, mean, phi, err);
	cs_free(refs);
	if (m->type == CS_MODEL_RANDOM_FOREST)
		*reference_score = mean;
	else
		*reference_score = 1 / (1 + exp(-mean));
	return st;
}
