/*
 * gbm.c - gradient boosting of trees on histograms, as XGBoost 1.7's "hist".
 *
 * Chen & Guestrin, "XGBoost: A Scalable Tree Boosting System" (KDD 2016), and
 * XGBoost 1.7.4's sources (src/tree/updater_quantile_hist.cc,
 * src/tree/hist/evaluate_splits.h, src/tree/split_evaluator.h,
 * src/tree/param.h), which this file follows where the paper leaves a choice.
 *
 * Each round fits one tree to the second-order expansion of the logistic loss
 * at the current margins: per row g = p - y and h = max(p (1 - p), 1e-16),
 * both times scale_pos_weight for a positive row, in single precision.  A
 * node with sums G, H has the weight w = -T(G) / (H + lambda), where T is the
 * L1 soft-threshold by alpha (w = 0 when H < min_child_weight), and a split's
 * loss change is
 *
 *     G_L^2 / (H_L + lambda) + G_R^2 / (H_R + lambda) - G^2 / (H + lambda)
 *
 * (T(G) in place of G with alpha), that is twice the paper's gain before
 * gamma: XGBoost compares this figure with gamma (min_split_loss), keeps a
 * split when it exceeds 1e-6 and is at least gamma, and reports it as the
 * split's gain.  Leaves hold eta * w.  With monotone constraints, weights are
 * clamped to bounds inherited from the ancestors, a split whose left and
 * right weights go the wrong way is refused, and the children's bounds meet
 * at the mean of their weights.  Quantities are rounded to single precision
 * where XGBoost rounds them, so that ties between splits resolve alike.
 *
 * Trees grow depthwise, one level at a time.  The rows of every node are a
 * contiguous range of one array, together with their gradients ("ordered
 * gradients"), and splitting a node partitions its range stably in blocks.
 * Per feature a node has a histogram of (sum g, sum h) per bin, the missing
 * bin last; a split of a feature is found by scanning its bins left to right
 * (missing values go right) and, when the node has missing values, right to
 * left (they go left): the default direction is whichever gains more.  Of two
 * children only the one with fewer rows has its histogram built; the other's
 * is the parent's minus it.
 *
 * The bins are kept twice.  Histograms read every feature of a row, so they
 * read a row-major copy: one cache line per row however deep the node (with
 * two-byte bins, it holds histogram indices, the features' offsets added).  The
 * partition reads one feature of each row, so it reads the column-major
 * copy, which near the root is a sequential scan.
 *
 * Parallel work is split in tasks that each write their own output: the
 * histogram of a block of a node's rows (at most HIST_BLOCK rows; a node's
 * blocks are then summed in block order), a (node, feature) subtraction or
 * split search, a block of rows to partition or score.  Block boundaries
 * depend on the data only, so results are identical for any thread count.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cs_trees.h"

#define ROW_CHUNK      16384 /* rows per gradient or margin task */
#define PART_BLOCK     16384 /* rows per partition task */
#define HIST_BLOCK     65536 /* rows per histogram task */
#define PREFETCH_AHEAD 16    /* rows ahead whose bins are prefetched */
#define PARALLEL_WORK  32768 /* less work than this (rows, bins) runs in the caller */
#define MAX_DEPTH      30
#define RT_EPS         1e-6f /* XGBoost's kRtEps */
#define SPLIT_NONE     (-1)

/* A split candidate (XGBoost's SplitEntry). */
typedef struct gbm_split
{
	float   loss_chg;
	int32_t feature;      /* SPLIT_NONE when nothing was found */
	int32_t bin;          /* left: bins <= bin (-1: only missing values) */
	uint8_t default_left; /* missing values go left */
	float   threshold;    /* left: (float) x < threshold */
	double  lg;
	double  lh;
	double  rg;
	double  rh;
} gbm_split;

/* Training state of one node of the tree being grown. */
typedef struct gbm_node
{
	size_t    begin; /* rows[begin .. end) */
	size_t    end;
	double    g;
	double    h;
	float     root_gain; /* XGBoost's NodeEntry::root_gain */
	float     lower;     /* monotone bounds of the weight */
	float     upper;
	int32_t   depth;
	int32_t   slot; /* histogram slot in the current level, -1 */
	gbm_split split;
} gbm_node;

/* A block of a node's rows for the partition. */
typedef struct part_block
{
	int32_t node;
	size_t  begin;
	size_t  end;
	size_t  n_left;
	size_t  dst_left;
	size_t  dst_right;
} part_block;

/* A block of a node's rows whose histogram one task builds. */
typedef struct hist_block
{
	int32_t node;
	size_t  begin;
	size_t  end;
	int64_t partial; /* its partial histogram, or -1: straight into the node's */
} hist_block;

/* A node built from several blocks: its partials are summed in block order. */
typedef struct hist_multi
{
	int32_t node;
	int64_t first; /* first partial */
	int32_t count;
} hist_multi;

/* A range of rows of one leaf, for the margin update. */
typedef struct leaf_chunk
{
	size_t begin;
	size_t end;
	float  value;
} leaf_chunk;

/*
 * A node of the grown tree for the validation rows: a leaf loops to itself,
 * so that every row takes as many steps as the tree is deep, without a test.
 */
typedef struct walk_node
{
	float   threshold;
	int32_t feature;
	int32_t left;
	int32_t right;
	int32_t default_left; /* 0 or 1 */
} walk_node;

#define WALK_ROWS 8 /* validation rows walked in step */

typedef struct gbm
{
	const cs_gbm_params *p;
	const cs_tree_data  *train;
	const cs_tree_data  *valid;
	cs_pool             *pool;
	/* parameters as XGBoost's single-precision TrainParam holds them */
	float         eta;
	float         lambda;
	float         alpha;
	float         min_child_weight;
	float         gamma;
	float         scale_pos_weight;
	int           has_constraint;
	const int8_t *mono;

	size_t        n;
	int32_t       nf;
	cs_bin_cuts   cuts;
	cs_bin_matrix bins;     /* row-major: histograms read whole rows */
	cs_bin_matrix cols;     /* column-major: the partition reads one feature */
	uint32_t     *hist_off; /* per feature: its first entry in a node histogram */
	size_t        hist_size;

	uint32_t     *rows;
	uint32_t     *rows_tmp;
	uint8_t      *dir; /* per row position: 1 when the row goes left (partition) */
	int           last_level;
	cs_grad_pair *gh;
	cs_grad_pair *gh_tmp;
	float        *margin;
	float        *best_margin; /* early stopping: the margins at the best iteration */
	float        *last_cut;    /* per feature: its last cut (train_margins_exact) */
	float        *valid_margin;
	double       *valid_prob;
	double       *chunk_sums; /* per gradient chunk: sum g, sum h */

	/* the tree being grown */
	int32_t      *feats; /* features of this tree, increasing */
	int32_t       n_feats;
	cs_tree_node *tn;
	gbm_node     *gn;
	int32_t       n_tn;
	int32_t       cap_tn;

	/* histograms of the level being searched (cur) and of the next (next) */
	cs_hist_bin *hist_cur;
	cs_hist_bin *hist_next;
	size_t       cap_cur;
	size_t       cap_next;
	int32_t     *level; /* nodes to split at this level */
	int32_t      n_level;
	int32_t     *search; /* nodes whose splits are searched */
	int32_t      n_search;
	int32_t     *build; /* per searched pair: the child whose histogram is built */
	int32_t      n_build;
	hist_block  *hblocks;
	size_t       n_hblocks;
	size_t       cap_hblocks;
	hist_multi  *multi;
	size_t       n_multi;
	size_t       cap_multi;
	cs_hist_bin *partials;
	size_t       cap_partials;
	gbm_split   *cands; /* n_search x n_feats */
	size_t       cap_cands;
	part_block  *blocks;
	size_t       n_blocks;
	size_t       cap_blocks;
	leaf_chunk  *chunks;
	size_t       n_chunks;
	size_t       cap_chunks;

	/* the ensemble */
	cs_tree_node *nodes;
	int64_t       n_nodes;
	int64_t       cap_nodes;
	int64_t      *tree_start;
	int32_t       tree_index;
	cs_rng        rng;

	/* the grown tree as the validation rows walk it */
	walk_node *walk;
	int32_t    cap_walk;
	int32_t    walk_depth;
} gbm;

/* ------------------------------------------------------------ parameters */

/* XGBoost 1.7's defaults. */
void
cs_gbm_params_default(cs_gbm_params *p)
{
	memset(p, 0, sizeof(*p));
	p->n_estimators = 100;
	p->learning_rate = 0.3;
	p->max_depth = 6;
	p->min_child_weight = 1.0;
	p->reg_lambda = 1.0;
	p->reg_alpha = 0.0;
	p->gamma = 0.0;
	p->subsample = 1.0;
	p->colsample_bytree = 1.0;
	p->max_bin = 256;
	p->scale_pos_weight = 1.0;
	p->base_score = 0.5;
	p->monotone_constraints = NULL;
	p->early_stopping_rounds = 0;
	p->eval_metric = CS_GBM_METRIC_LOGLOSS;
	p->seed = 0;
	p->threads = 1;
	p->hist_subtraction = 1;
}

/* CS_ERR_INVALID naming the first parameter out of range. */
cs_status
cs_gbm_params_check(const cs_gbm_params *p, int32_t n_features, cs_error *err)
{
	int32_t j;

	if (p->n_estimators < 1 || p->n_estimators > 1000000)
		return cs_fail(err, CS_ERR_INVALID, "n_estimators must be between 1 and 1000000");
	if (!(p->learning_rate > 0.0 && p->learning_rate <= 1e6))
		return cs_fail(err, CS_ERR_INVALID, "learning_rate must be positive");
	if (p->max_depth < 1 || p->max_depth > MAX_DEPTH)
		return cs_fail(err, CS_ERR_INVALID, "max_depth must be between 1 and %d", MAX_DEPTH);
	if (!(p->min_child_weight >= 0.0 && p->min_child_weight <= 1e30))
		return cs_fail(err, CS_ERR_INVALID, "min_child_weight must be non-negative");
	if (!(p->reg_lambda >= 0.0 && p->reg_lambda <= 1e30))
		return cs_fail(err, CS_ERR_INVALID, "reg_lambda must be non-negative");
	if (!(p->reg_alpha >= 0.0 && p->reg_alpha <= 1e30))
		return cs_fail(err, CS_ERR_INVALID, "reg_alpha must be non-negative");
	if (!(p->gamma >= 0.0 && p->gamma <= 1e30))
		return cs_fail(err, CS_ERR_INVALID, "gamma must be non-negative");
	if (!(p->subsample > 0.0 && p->subsample <= 1.0))
		return cs_fail(err, CS_ERR_INVALID, "subsample must be in (0, 1]");
	if (!(p->colsample_bytree > 0.0 && p->colsample_bytree <= 1.0))
		return cs_fail(err, CS_ERR_INVALID, "colsample_bytree must be in (0, 1]");
	if (p->max_bin < 2 || p->max_bin > CS_MAX_BIN_LIMIT)
		return cs_fail(err, CS_ERR_INVALID, "max_bin must be between 2 and %d", CS_MAX_BIN_LIMIT);
	if (!(p->scale_pos_weight > 0.0 && p->scale_pos_weight <= 1e30))
		return cs_fail(err, CS_ERR_INVALID, "scale_pos_weight must be positive");
	if (!(p->base_score > 0.0 && p->base_score < 1.0))
		return cs_fail(err, CS_ERR_INVALID, "base_score must be in (0, 1)");
	if (p->early_stopping_rounds < 0)
		return cs_fail(err, CS_ERR_INVALID, "early_stopping_rounds must be non-negative");
	if (p->eval_metric != CS_GBM_METRIC_LOGLOSS && p->eval_metric != CS_GBM_METRIC_AUC)
		return cs_fail(err, CS_ERR_INVALID, "unknown evaluation metric %d", (int) p->eval_metric);
	if (p->threads < 1 || p->threads > 1024)
		return cs_fail(err, CS_ERR_INVALID, "threads must be between 1 and 1024");
	for (j = 0; p->monotone_constraints != NULL && j < n_features; j++)
		if (p->monotone_constraints[j] < -1 || p->monotone_constraints[j] > 1)
			return cs_fail(err,
						   CS_ERR_INVALID,
						   "monotone constraint %d of feature %d is not -1, 0 or 1",
						   (int) p->monotone_constraints[j],
						   (int) j);
	return CS_OK;
}

/* ------------------------------------------------------------ XGBoost's arithmetic */

/* ThresholdL1: the L1 soft-threshold of a gradient sum. */
static inline double
threshold_l1(double w, float alpha)
{
	if (w > +alpha)
		return w - alpha;
	if (w < -alpha)
		return w + alpha;
	return 0.0;
}

/* tree::CalcWeight: the unconstrained weight of sums (g, h). */
static inline double
calc_weight(const gbm *b, double g, double h)
{
	if (h < b->min_child_weight || h <= 0.0)
		return 0.0;
	return -threshold_l1(g, b->alpha) / (h + b->lambda);
}

/* SplitEvaluator::CalcWeight: the weight clamped to a node's monotone bounds. */
static inline float
node_weight(const gbm *b, const gbm_node *nd, double g, double h)
{
	float w = (float) calc_weight(b, g, h);

	if (!b->has_constraint)
		return w;
	if (w < nd->lower)
		return nd->lower;
	if (w > nd->upper)
		return nd->upper;
	return w;
}

/* SplitEvaluator::CalcGainGivenWeight. */
static inline float
gain_given_weight(const gbm *b, double g, double h, float w)
{
	if (h <= 0.0)
		return 0.0f;
	if (!b->has_constraint)
	{
		double t = threshold_l1(g, b->alpha);

		return (float) (t * t) / (float) (h + b->lambda);
	}
	return -(2.0f * (float) g * w + ((float) h + b->lambda) * (w * w));
}

/* SplitEvaluator::CalcGain: a node's gain at its clamped weight. */
static inline float
node_gain(const gbm *b, const gbm_node *nd, double g, double h)
{
	return gain_given_weight(b, g, h, node_weight(b, nd, g, h));
}

/* SplitEvaluator::CalcSplitGain: -inf when a monotone constraint is broken. */
static inline float
split_gain(const gbm *b, const gbm_node *nd, int32_t j, double lg, double lh, double rg, double rh)
{
	float wl;
	float wr;
	float gain;
	int   c;

	/* without constraints the gain does not depend on the weights: not computed */
	if (!b->has_constraint)
		return gain_given_weight(b, lg, lh, 0.0f) + gain_given_weight(b, rg, rh, 0.0f);
	wl = node_weight(b, nd, lg, lh);
	wr = node_weight(b, nd, rg, rh);
	gain = gain_given_weight(b, lg, lh, wl) + gain_given_weight(b, rg, rh, wr);
	c = b->mono[j];
	if (c > 0 && !(wl <= wr))
		return -INFINITY;
	if (c < 0 && !(wl >= wr))
		return -INFINITY;
	return gain;
}

/* SplitEntry::NeedReplace: a higher loss change wins, ties go to the lower feature. */
static inline int
need_replace(const gbm_split *best, float loss_chg, int32_t feature)
{
	int32_t index = best->feature > 0 ? best->feature : 0;

	if (isinf(loss_chg))
		return 0;
	if (index <= feature)
		return loss_chg > best->loss_chg;
	return !(best->loss_chg > loss_chg);
}

/* Records a candidate in best when it wins. */
static inline void
update_split(gbm_split *best, float loss_chg, int32_t feature, int32_t bin, int default_left,
			 float threshold, double lg, double lh, double rg, double rh)
{
	if (!need_replace(best, loss_chg, feature))
		return;
	best->loss_chg = loss_chg;
	best->feature = feature;
	best->bin = bin;
	best->default_left = (uint8_t) default_left;
	best->threshold = threshold;
	best->lg = lg;
	best->lh = lh;
	best->rg = rg;
	best->rh = rh;
}

/* The empty candidate (XGBoost's default SplitEntry). */
static void
no_split(gbm_split *s)
{
	memset(s, 0, sizeof(*s));
	s->feature = SPLIT_NONE;
}

/* ------------------------------------------------------------ split search */

/*
 * gain_given_weight without monotone constraints, without a branch when alpha
 * is 0 (the soft-threshold is then the identity, NaN aside).
 */
static inline float
plain_gain(const gbm *b, double g, double h)
{
	double t = b->alpha == 0.0f ? (g == g ? g : 0.0) : threshold_l1(g, b->alpha);
	float  v = (float) (t * t) / (float) (h + b->lambda);

	return h <= 0.0 ? 0.0f : v;
}

/*
 * search_feature without monotone constraints.  Within one feature a
 * candidate replaces the best so far when its loss change is greater (and
 * finite; the first must beat 0), so the scans only track the best loss and
 * its bin, without a branch, and the winners' sums are added up again
 * afterwards in the same order (the same numbers).
 */
static void
search_plain(const gbm *b, const gbm_node *nd, int32_t j, const cs_hist_bin *hist, gbm_split *best)
{
	const float *cut = b->cuts.values + b->cuts.ptr[j];
	int32_t      nb = cs_bin_count(&b->cuts, j);
	double       mcw = b->min_child_weight;
	float        best_loss = 0.0f;
	float        fwd_loss;
	int32_t      fwd = -1;
	int32_t      bwd = -1;
	double       lg = 0.0;
	double       lh = 0.0;
	int32_t      i;

	no_split(best);
	/* left to right: missing values go right */
	for (i = 0; i < nb; i++)
	{
		float loss;
		int   win;

		lg += hist[i].g;
		lh += hist[i].h;
		loss = plain_gain(b, lg, lh) + plain_gain(b, nd->g - lg, nd->h - lh) - nd->root_gain;
		win = (lh >= mcw) & (nd->h - lh >= mcw) & (loss > best_loss) & !isinf(loss);
		best_loss = win ? loss : best_loss;
		fwd = win ? i : fwd;
	}
	fwd_loss = best_loss;
	if (!(hist[nb].g == 0.0 && hist[nb].h == 0.0))
	{
		/* right to left: missing values go left */
		lg = lh = 0.0;
		for (i = nb - 1; i >= 0; i--)
		{
			float loss;
			int   win;

			lg += hist[i].g;
			lh += hist[i].h;
			loss = plain_gain(b, nd->g - lg, nd->h - lh) + plain_gain(b, lg, lh) - nd->root_gain;
			win = (lh >= mcw) & (nd->h - lh >= mcw) & (loss > best_loss) & !isinf(loss);
			best_loss = win ? loss : best_loss;
			bwd = win ? i : bwd;
		}
	}
	if (fwd >= 0)
	{
		lg = lh = 0.0;
		for (i = 0; i <= fwd; i++)
		{
			lg += hist[i].g;
			lh += hist[i].h;
		}
		update_split(best, fwd_loss, j, fwd, 0, cut[fwd], lg, lh, nd->g - lg, nd->h - lh);
	}
	if (bwd >= 0)
	{
		lg = lh = 0.0;
		for (i = nb - 1; i >= bwd; i--)
		{
			lg += hist[i].g;
			lh += hist[i].h;
		}
		update_split(best,
					 best_loss,
					 j,
					 bwd - 1,
					 1,
					 bwd == 0 ? b->cuts.min_values[j] : cut[bwd - 1],
					 nd->g - lg,
					 nd->h - lh,
					 lg,
					 lh);
	}
}

/* EnumerateSplit in both directions over one feature's histogram. */
static void
search_feature(const gbm *b, const gbm_node *nd, int32_t j, const cs_hist_bin *hist,
			   gbm_split *best)
{
	const float *cut = b->cuts.values + b->cuts.ptr[j];
	int32_t      nb = cs_bin_count(&b->cuts, j);
	double       lg = 0.0;
	double       lh = 0.0;
	int32_t      i;

	if (!b->has_constraint)
	{
		search_plain(b, nd, j, hist, best);
		return;
	}
	no_split(best);
	/*
	 * An empty bin after the first changes no sum, so its candidate is the
	 * previous one again, which cannot replace what that one left: skipped.
	 */
	/* left to right: missing values go right */
	for (i = 0; i < nb; i++)
	{
		double rg;
		double rh;

		if (i > 0 && hist[i].g == 0.0 && hist[i].h == 0.0)
			continue;
		lg += hist[i].g;
		lh += hist[i].h;
		rg = nd->g - lg;
		rh = nd->h - lh;
		if (lh >= b->min_child_weight && rh >= b->min_child_weight)
		{
			float loss = split_gain(b, nd, j, lg, lh, rg, rh) - nd->root_gain;

			update_split(best, loss, j, i, 0, cut[i], lg, lh, rg, rh);
		}
	}
	if (hist[nb].g == 0.0 && hist[nb].h == 0.0)
		return;
	/* right to left: missing values go left */
	lg = lh = 0.0;
	for (i = nb - 1; i >= 0; i--)
	{
		double og;
		double oh;

		if (i < nb - 1 && hist[i].g == 0.0 && hist[i].h == 0.0)
			continue;
		lg += hist[i].g;
		lh += hist[i].h;
		og = nd->g - lg;
		oh = nd->h - lh;
		if (lh >= b->min_child_weight && oh >= b->min_child_weight)
		{
			float loss = split_gain(b, nd, j, og, oh, lg, lh) - nd->root_gain;
			float threshold = i == 0 ? b->cuts.min_values[j] : cut[i - 1];

			update_split(best, loss, j, i - 1, 1, threshold, og, oh, lg, lh);
		}
	}
}

/* XGBoost's CPUExpandEntry::IsValid for a searched node. */
static int
split_is_valid(const gbm *b, const gbm_node *nd)
{
	const gbm_split *s = &nd->split;

	if (s->feature == SPLIT_NONE || !(s->loss_chg > RT_EPS))
		return 0;
	if (s->lh == 0.0 || s->rh == 0.0)
		return 0;
	if (s->loss_chg < b->gamma)
		return 0;
	return nd->depth < b->p->max_depth;
}

/* ------------------------------------------------------------ tasks */

/*
 * Runs a job on the pool, or in the calling thread when it is too small to
 * pay for waking the others (the result is the same either way).
 */
static void
run(gbm *b, size_t n_tasks, cs_task_fn fn, size_t work)
{
	cs_pool_run(work >= PARALLEL_WORK ? b->pool : NULL, n_tasks, fn, b);
}

/* Gradients of one chunk of rows; the rows start in their own order. */
static void
gradient_task(void *arg, size_t task, int thread)
{
	gbm           *b = arg;
	const uint8_t *y = b->train->y;
	size_t         from = task * ROW_CHUNK;
	size_t         to = from + ROW_CHUNK < b->n ? from + ROW_CHUNK : b->n;
	double         sg = 0.0;
	double         sh = 0.0;
	cs_rng         rng;
	size_t         i;

	(void) thread;
	if (b->p->subsample < 1.0)
		cs_rng_seed(&rng, cs_mix64(b->p->seed ^ cs_mix64(((uint64_t) b->tree_index << 32) ^ task)));
	for (i = from; i < to; i++)
	{
		float m = b->margin[i];
		float z = -m < 88.7f ? -m : 88.7f;
		float p = 1.0f / (expf(z) + 1.0f + 1e-16f);
		float label = y[i] ? 1.0f : 0.0f;
		float g = p - label;
		float h = p * (1.0f - p);

		/* fmaxf(h, 1e-16f) as XGBoost, without the libm call (h is never NaN) */
		if (h < 1e-16f)
			h = 1e-16f;
		if (y[i])
		{
			g *= b->scale_pos_weight;
			h *= b->scale_pos_weight;
		}
		if (b->p->subsample < 1.0 && !(cs_rng_uniform(&rng) < b->p->subsample))
			g = h = 0.0f;
		b->rows[i] = (uint32_t) i;
		b->gh[i].g = g;
		b->gh[i].h = h;
		sg += g;
		sh += h;
	}
	b->chunk_sums[2 * task] = sg;
	b->chunk_sums[2 * task + 1] = sh;
}

/* Builds the histogram of one block of a node's rows, every feature. */
static void
block_task(void *arg, size_t task, int thread)
{
	gbm              *b = arg;
	const hist_block *blk = &b->hblocks[task];
	cs_hist_bin      *hist = blk->partial >= 0 ?
								 b->partials + (size_t) blk->partial * b->hist_size :
								 b->hist_next + (size_t) b->gn[blk->node].slot * b->hist_size;

	(void) thread;
	memset(hist, 0, b->hist_size * sizeof(cs_hist_bin));
	cs_hist_accumulate_rows(&b->bins,
							b->hist_off,
							b->rows + blk->begin,
							b->gh + blk->begin,
							blk->end - blk->begin,
							hist);
}

/* Sums a node's partial histograms of one feature, in block order. */
static void
reduce_task(void *arg, size_t task, int thread)
{
	gbm              *b = arg;
	const hist_multi *mu = &b->multi[task / (size_t) b->n_feats];
	int32_t           j = b->feats[task % (size_t) b->n_feats];
	size_t            off = b->hist_off[j];
	size_t            len = (size_t) cs_bin_count(&b->cuts, j) + 1;
	cs_hist_bin      *out = b->hist_next + (size_t) b->gn[mu->node].slot * b->hist_size + off;
	int32_t           k;
	size_t            i;

	(void) thread;
	memcpy(out, b->partials + (size_t) mu->first * b->hist_size + off, len * sizeof(cs_hist_bin));
	for (k = 1; k < mu->count; k++)
	{
		const cs_hist_bin *part = b->partials + (size_t) (mu->first + k) * b->hist_size + off;

		for (i = 0; i < len; i++)
		{
			out[i].g += part[i].g;
			out[i].h += part[i].h;
		}
	}
}

/* The sibling of a built child: the parent's histogram minus the child's. */
static void
subtract_task(void *arg, size_t task, int thread)
{
	gbm    *b = arg;
	size_t  pair = task / (size_t) b->n_feats;
	int32_t j = b->feats[task % (size_t) b->n_feats];
	int32_t built = b->build[pair];
	int32_t other = built == b->search[2 * pair] ? b->search[2 * pair + 1] : b->search[2 * pair];
	const gbm_node *parent = &b->gn[b->level[pair]];
	size_t          off = b->hist_off[j];
	size_t          len = (size_t) cs_bin_count(&b->cuts, j) + 1;

	(void) thread;
	cs_hist_subtract(b->hist_cur + (size_t) parent->slot * b->hist_size + off,
					 b->hist_next + (size_t) b->gn[built].slot * b->hist_size + off,
					 b->hist_next + (size_t) b->gn[other].slot * b->hist_size + off,
					 len);
}

/* Searches one (node, feature) pair of the level in hist_cur. */
static void
search_task(void *arg, size_t task, int thread)
{
	gbm            *b = arg;
	size_t          k = task / (size_t) b->n_feats;
	size_t          f = task % (size_t) b->n_feats;
	int32_t         j = b->feats[f];
	const gbm_node *nd = &b->gn[b->search[k]];

	(void) thread;
	search_feature(b,
				   nd,
				   j,
				   b->hist_cur + (size_t) nd->slot * b->hist_size + b->hist_off[j],
				   &b->cands[k * (size_t) b->n_feats + f]);
}

/* Whether a row goes left at a split on feature j at bin sb (bin miss: missing). */
static inline int
row_goes_left(const uint8_t *col, size_t step, uint32_t row, uint32_t miss, int32_t sb, int dl)
{
	uint32_t bin;

	if (step == 1)
		bin = col[row];
	else
	{
		uint16_t b16;

		memcpy(&b16, col + (size_t) row * 2, sizeof(b16));
		bin = b16;
	}
	return bin == miss ? dl : (int32_t) bin <= sb;
}

/*
 * Pass 1 of the partition: the side of each row of a block (dir[i], 1 for
 * left) and how many go left.  At the last level, instead, the rows' margins
 * take their leaf's value and nothing moves.
 */
static void
partition_task(void *arg, size_t task, int thread)
{
	gbm            *b = arg;
	part_block     *blk = &b->blocks[task];
	const gbm_node *nd;
	int32_t         j;
	int32_t         sb;
	uint32_t        miss;
	int             dl;
	size_t          step;
	const uint8_t  *col;
	size_t          n_left = 0;
	size_t          i;

	(void) thread;
	if (blk->node < 0)
		return;
	nd = &b->gn[blk->node];
	j = nd->split.feature;
	sb = nd->split.bin;
	miss = (uint32_t) cs_bin_count(&b->cuts, j);
	dl = nd->split.default_left;
	step = b->cols.width[j];
	col = b->cols.data + b->cols.offset[j];
	if (b->last_level)
	{
		float value[2];

		value[0] = (float) b->tn[b->tn[blk->node].right].value;
		value[1] = (float) b->tn[b->tn[blk->node].left].value;
		for (i = blk->begin; i < blk->end; i++)
		{
			uint32_t row = b->rows[i];

#if defined(__GNUC__)
			if (i + PREFETCH_AHEAD < blk->end)
				__builtin_prefetch(col + (size_t) b->rows[i + PREFETCH_AHEAD] * step);
#endif
			b->margin[row] += value[row_goes_left(col, step, row, miss, sb, dl)];
		}
		return;
	}
	for (i = blk->begin; i < blk->end; i++)
	{
		int left;

#if defined(__GNUC__)
		if (i + PREFETCH_AHEAD < blk->end)
			__builtin_prefetch(col + (size_t) b->rows[i + PREFETCH_AHEAD] * step);
#endif
		left = row_goes_left(col, step, b->rows[i], miss, sb, dl);
		b->dir[i] = (uint8_t) left;
		n_left += (size_t) left;
	}
	blk->n_left = n_left;
}

/*
 * Pass 2 of the partition: a block's rows and gradients to their places in
 * the other buffers, in order on each side (a block outside the level's nodes
 * is copied as it is).
 */
static void
place_task(void *arg, size_t task, int thread)
{
	gbm        *b = arg;
	part_block *blk = &b->blocks[task];
	size_t      l = blk->dst_left;
	size_t      r = blk->dst_right;
	size_t      i;

	(void) thread;
	if (blk->node < 0)
	{
		memcpy(b->rows_tmp + blk->begin,
			   b->rows + blk->begin,
			   (blk->end - blk->begin) * sizeof(uint32_t));
		memcpy(b->gh_tmp + blk->begin,
			   b->gh + blk->begin,
			   (blk->end - blk->begin) * sizeof(cs_grad_pair));
		return;
	}
	for (i = blk->begin; i < blk->end; i++)
	{
		size_t left = b->dir[i];
		/* a select, not a branch: which side a row takes is unpredictable */
		size_t at = r ^ ((l ^ r) & (0 - left));

		b->rows_tmp[at] = b->rows[i];
		b->gh_tmp[at] = b->gh[i];
		l += left;
		r += 1 - left;
	}
}

/* Adds a leaf's value to the margins of its rows. */
static void
margin_task(void *arg, size_t task, int thread)
{
	gbm        *b = arg;
	leaf_chunk *c = &b->chunks[task];
	size_t      i;

	(void) thread;
	for (i = c->begin; i < c->end; i++)
		b->margin[b->rows[i]] += c->value;
}

/* XGBoost's logloss of one validation row at margin m, as the metric sums it. */
static inline float
logloss_term(float m, uint8_t label)
{
	float z = -m < 88.7f ? -m : 88.7f;
	float p = 1.0f / (expf(z) + 1.0f + 1e-16f);
	float eps = 1e-16f;
	float y = label ? 1.0f : 0.0f;
	float q = 1.0f - p;

	if (p < eps)
		return -y * logf(eps) - (1.0f - y) * logf(1.0f - eps);
	if (q < eps)
		return -y * logf(1.0f - eps) - (1.0f - y) * logf(eps);
	return -y * logf(p) - (1.0f - y) * logf(q);
}

/*
 * Adds the new tree's leaves to the validation margins of a chunk of rows,
 * WALK_ROWS rows in step, and leaves in valid_prob what the metric sums of
 * each row (its logloss term, or its margin for the AUC).
 */
static void
valid_task(void *arg, size_t task, int thread)
{
	gbm                *b = arg;
	const cs_tree_data *v = b->valid;
	const walk_node    *wn = b->walk;
	size_t              from = task * ROW_CHUNK;
	size_t              to = from + ROW_CHUNK < v->n ? from + ROW_CHUNK : v->n;
	size_t              cs = v->col_stride;
	size_t              i;

	(void) thread;
	for (i = from; i < to; i += WALK_ROWS)
	{
		size_t  count = to - i < WALK_ROWS ? to - i : WALK_ROWS;
		int32_t k[WALK_ROWS];
		size_t  r;
		int32_t d;

		for (r = 0; r < WALK_ROWS; r++)
			k[r] = 0;
		for (d = 0; d < b->walk_depth; d++)
			for (r = 0; r < count; r++)
			{
				const walk_node *nd = &wn[k[r]];
				float value = (float) v->x[(i + r) * v->row_stride + (size_t) nd->feature * cs];
				int   left = (value < nd->threshold) | (nd->default_left & (value != value));

				k[r] = left ? nd->left : nd->right;
			}
		for (r = 0; r < count; r++)
		{
			float m = b->valid_margin[i + r] + (float) b->tn[k[r]].value;

			b->valid_margin[i + r] = m;
			b->valid_prob[i + r] =
				b->p->eval_metric == CS_GBM_METRIC_LOGLOSS ? logloss_term(m, v->y[i + r]) : m;
		}
	}
}

/* Lays out the grown tree for the validation rows (valid_task). */
static cs_status
prepare_walk(gbm *b)
{
	int32_t k;

	if (b->n_tn > b->cap_walk)
	{
		walk_node *w = cs_realloc(b->walk, cs_mul_size((size_t) b->n_tn, sizeof(walk_node)));

		if (w == NULL)
			return CS_ERR_NOMEM;
		b->walk = w;
		b->cap_walk = b->n_tn;
	}
	b->walk_depth = 0;
	for (k = 0; k < b->n_tn; k++)
	{
		const cs_tree_node *t = &b->tn[k];
		walk_node          *w = &b->walk[k];

		if (b->gn[k].depth > b->walk_depth)
			b->walk_depth = b->gn[k].depth;
		if (t->feature < 0)
		{
			w->threshold = 0.0f;
			w->feature = 0;
			w->left = w->right = k;
			w->default_left = 0;
			continue;
		}
		w->threshold = t->threshold;
		w->feature = t->feature;
		w->left = t->left;
		w->right = t->right;
		w->default_left = t->default_left ? 1 : 0;
	}
	return CS_OK;
}

/* ------------------------------------------------------------ growing a tree */

/* Makes room for more nodes in the tree being grown. */
static cs_status
reserve_tree_nodes(gbm *b, int32_t more)
{
	int32_t       cap;
	cs_tree_node *tn;
	gbm_node     *gn;

	if (b->n_tn + more <= b->cap_tn)
		return CS_OK;
	cap = b->cap_tn * 2 > b->n_tn + more ? b->cap_tn * 2 : b->n_tn + more;
	tn = cs_realloc(b->tn, cs_mul_size((size_t) cap, sizeof(cs_tree_node)));
	if (tn == NULL)
		return CS_ERR_NOMEM;
	b->tn = tn;
	gn = cs_realloc(b->gn, cs_mul_size((size_t) cap, sizeof(gbm_node)));
	if (gn == NULL)
		return CS_ERR_NOMEM;
	b->gn = gn;
	b->cap_tn = cap;
	return CS_OK;
}

/* Grows *buf to hold n elements of size bytes. */
static cs_status
reserve(void **buf, size_t *cap, size_t n, size_t size)
{
	void  *p;
	size_t want;

	if (n <= *cap)
		return CS_OK;
	want = *cap * 2 > n ? *cap * 2 : n;
	p = cs_realloc(*buf, cs_mul_size(want, size));
	if (p == NULL)
		return CS_ERR_NOMEM;
	*buf = p;
	*cap = want;
	return CS_OK;
}

/* A new leaf node of the tree being grown. */
static void
init_leaf(cs_tree_node *t, float value, double cover)
{
	memset(t, 0, sizeof(*t));
	t->feature = -1;
	t->left = -1;
	t->right = -1;
	t->value = value;
	t->cover = cover;
}

/* ApplyTreeSplit: turns a node into a split and adds its two leaves. */
static void
apply_split(gbm *b, int32_t node)
{
	gbm_node        *nd = &b->gn[node];
	const gbm_split *s = &nd->split;
	int32_t          l = b->n_tn;
	int32_t          r = b->n_tn + 1;
	float            wl = node_weight(b, nd, s->lg, s->lh);
	float            wr = node_weight(b, nd, s->rg, s->rh);
	cs_tree_node    *t = &b->tn[node];
	int              c = b->has_constraint ? b->mono[s->feature] : 0;
	float            mid = (wl + wr) / 2.0f;
	gbm_node        *gl = &b->gn[l];
	gbm_node        *gr = &b->gn[r];

	b->n_tn += 2;
	t->feature = s->feature;
	t->threshold = s->threshold;
	t->default_left = s->default_left;
	t->left = l;
	t->right = r;
	t->gain = s->loss_chg;
	t->cover = s->lh + s->rh;
	init_leaf(&b->tn[l], wl * b->eta, s->lh);
	init_leaf(&b->tn[r], wr * b->eta, s->rh);

	memset(gl, 0, sizeof(*gl));
	memset(gr, 0, sizeof(*gr));
	gl->g = s->lg;
	gl->h = s->lh;
	gr->g = s->rg;
	gr->h = s->rh;
	gl->root_gain = node_gain(b, nd, s->lg, s->lh);
	gr->root_gain = node_gain(b, nd, s->rg, s->rh);
	gl->depth = gr->depth = nd->depth + 1;
	gl->slot = gr->slot = -1;
	gl->lower = gr->lower = nd->lower;
	gl->upper = gr->upper = nd->upper;
	if (c < 0)
	{
		gl->lower = mid;
		gr->upper = mid;
	}
	else if (c > 0)
	{
		gl->upper = mid;
		gr->lower = mid;
	}
	no_split(&gl->split);
	no_split(&gr->split);
}

/* Appends the blocks of rows [from, to) of node (-1: rows outside the level's nodes). */
static cs_status
add_part_blocks(gbm *b, int32_t node, size_t from, size_t to)
{
	for (; from < to; from += PART_BLOCK)
	{
		part_block *blk;

		if (reserve((void **) &b->blocks, &b->cap_blocks, b->n_blocks + 1, sizeof(part_block)) !=
			CS_OK)
			return CS_ERR_NOMEM;
		blk = &b->blocks[b->n_blocks++];
		blk->node = node;
		blk->begin = from;
		blk->end = from + PART_BLOCK < to ? from + PART_BLOCK : to;
		blk->n_left = 0;
	}
	return CS_OK;
}

/*
 * Partitions the rows of every node of the level into its two children: the
 * side of every row (pass 1), then each block's rows straight to their places
 * in the other pair of buffers (pass 2), which then become the current ones;
 * rows of finished leaves are copied along.  A node's rows keep their order
 * on each side.  At the last level, the rows' margins take their leaves'
 * values instead, and the children's row ranges are left empty.
 */
static cs_status
partition_level(gbm *b, int last)
{
	size_t  level_rows = 0;
	size_t  done = 0;
	int32_t k;
	size_t  i;

	b->n_blocks = 0;
	b->last_level = last;
	/* the level's nodes are in the order of their rows */
	for (k = 0; k < b->n_level; k++)
	{
		const gbm_node *nd = &b->gn[b->level[k]];

		if (!last && nd->begin > done && add_part_blocks(b, -1, done, nd->begin) != CS_OK)
			return CS_ERR_NOMEM;
		if (add_part_blocks(b, b->level[k], nd->begin, nd->end) != CS_OK)
			return CS_ERR_NOMEM;
		level_rows += nd->end - nd->begin;
		done = nd->end;
	}
	if (!last && done < b->n && add_part_blocks(b, -1, done, b->n) != CS_OK)
		return CS_ERR_NOMEM;
	run(b, b->n_blocks, partition_task, level_rows);
	if (last)
	{
		for (k = 0; k < b->n_level; k++)
		{
			const cs_tree_node *t = &b->tn[b->level[k]];

			b->gn[t->left].begin = b->gn[t->left].end = 0;
			b->gn[t->right].begin = b->gn[t->right].end = 0;
		}
		return CS_OK;
	}
	/* each node's left rows first, block by block, then its right rows */
	for (i = 0; i < b->n_blocks;)
	{
		int32_t   node = b->blocks[i].node;
		gbm_node *nd;
		size_t    n_left = 0;
		size_t    first = i;
		size_t    left_at;
		size_t    right_at;

		if (node < 0)
		{
			i++;
			continue;
		}
		nd = &b->gn[node];
		for (; i < b->n_blocks && b->blocks[i].node == node; i++)
			n_left += b->blocks[i].n_left;
		left_at = nd->begin;
		right_at = nd->begin + n_left;
		for (; first < i; first++)
		{
			part_block *blk = &b->blocks[first];

			blk->dst_left = left_at;
			blk->dst_right = right_at;
			left_at += blk->n_left;
			right_at += blk->end - blk->begin - blk->n_left;
		}
		b->gn[b->tn[node].left].begin = nd->begin;
		b->gn[b->tn[node].left].end = nd->begin + n_left;
		b->gn[b->tn[node].right].begin = nd->begin + n_left;
		b->gn[b->tn[node].right].end = nd->end;
	}
	run(b, b->n_blocks, place_task, b->n);
	{
		uint32_t     *r = b->rows;
		cs_grad_pair *g = b->gh;

		b->rows = b->rows_tmp;
		b->rows_tmp = r;
		b->gh = b->gh_tmp;
		b->gh_tmp = g;
	}
	return CS_OK;
}

/* Builds the histograms of the nodes in b->build[0 .. n_build) into their hist_next slots. */
static cs_status
build_nodes(gbm *b)
{
	int64_t n_partials = 0;
	size_t  total = 0;
	int32_t k;

	b->n_hblocks = 0;
	b->n_multi = 0;
	for (k = 0; k < b->n_build; k++)
	{
		const gbm_node *nd = &b->gn[b->build[k]];
		size_t          rows = nd->end - nd->begin;
		size_t          count = rows > HIST_BLOCK ? (rows + HIST_BLOCK - 1) / HIST_BLOCK : 1;
		size_t          from = nd->begin;
		size_t          c;

		total += rows;
		if (reserve((void **) &b->hblocks,
					&b->cap_hblocks,
					b->n_hblocks + count,
					sizeof(hist_block)) != CS_OK ||
			reserve((void **) &b->multi, &b->cap_multi, b->n_multi + 1, sizeof(hist_multi)) !=
				CS_OK)
			return CS_ERR_NOMEM;
		if (count > 1)
		{
			b->multi[b->n_multi].node = b->build[k];
			b->multi[b->n_multi].first = n_partials;
			b->multi[b->n_multi].count = (int32_t) count;
			b->n_multi++;
		}
		for (c = 0; c < count; c++)
		{
			hist_block *blk = &b->hblocks[b->n_hblocks++];

			blk->node = b->build[k];
			blk->begin = from;
			blk->end = c + 1 == count ? nd->end : from + HIST_BLOCK;
			blk->partial = count > 1 ? n_partials++ : -1;
			from = blk->end;
		}
	}
	if (reserve((void **) &b->partials,
				&b->cap_partials,
				cs_mul_size((size_t) n_partials, b->hist_size),
				sizeof(cs_hist_bin)) != CS_OK)
		return CS_ERR_NOMEM;
	run(b, b->n_hblocks, block_task, total * (size_t) b->n_feats);
	run(b, b->n_multi * (size_t) b->n_feats, reduce_task, b->n_multi * b->hist_size);
	return CS_OK;
}

/* Builds the histograms of the children of the level's nodes (in hist_next). */
static cs_status
build_histograms(gbm *b)
{
	size_t  pairs = (size_t) b->n_level;
	size_t  k;
	int32_t slot = 0;

	if (reserve((void **) &b->hist_next,
				&b->cap_next,
				cs_mul_size(2 * pairs, b->hist_size),
				sizeof(cs_hist_bin)) != CS_OK)
		return CS_ERR_NOMEM;
	for (k = 0; k < pairs; k++)
	{
		int32_t l = b->search[2 * k];
		int32_t r = b->search[2 * k + 1];

		b->gn[l].slot = slot++;
		b->gn[r].slot = slot++;
	}
	if (!b->p->hist_subtraction)
	{
		/* every child built from its rows */
		memcpy(b->build, b->search, 2 * pairs * sizeof(int32_t));
		b->n_build = (int32_t) (2 * pairs);
		return build_nodes(b);
	}
	/* the child with fewer rows is built, its sibling derived */
	for (k = 0; k < pairs; k++)
	{
		const gbm_node *l = &b->gn[b->search[2 * k]];
		const gbm_node *r = &b->gn[b->search[2 * k + 1]];

		b->build[k] =
			r->end - r->begin < l->end - l->begin ? b->search[2 * k + 1] : b->search[2 * k];
	}
	b->n_build = (int32_t) pairs;
	if (build_nodes(b) != CS_OK)
		return CS_ERR_NOMEM;
	run(b, pairs * (size_t) b->n_feats, subtract_task, pairs * b->hist_size);
	return CS_OK;
}

/* Searches the best split of every node in b->search (histograms in hist_cur). */
static cs_status
search_level(gbm *b)
{
	size_t  n = (size_t) b->n_search * (size_t) b->n_feats;
	int32_t k;
	int32_t f;

	if (reserve((void **) &b->cands, &b->cap_cands, n, sizeof(gbm_split)) != CS_OK)
		return CS_ERR_NOMEM;
	run(b, n, search_task, (size_t) b->n_search * b->hist_size);
	for (k = 0; k < b->n_search; k++)
	{
		gbm_node *nd = &b->gn[b->search[k]];

		no_split(&nd->split);
		for (f = 0; f < b->n_feats; f++)
		{
			const gbm_split *c = &b->cands[(size_t) k * (size_t) b->n_feats + (size_t) f];

			if (c->feature != SPLIT_NONE)
				update_split(&nd->split,
							 c->loss_chg,
							 c->feature,
							 c->bin,
							 c->default_left,
							 c->threshold,
							 c->lg,
							 c->lh,
							 c->rg,
							 c->rh);
		}
	}
	return CS_OK;
}

/* Picks this tree's features (colsample_bytree), increasing. */
static void
sample_features(gbm *b)
{
	int32_t n = b->nf;
	int32_t k;
	int32_t j;

	for (j = 0; j < b->nf; j++)
		b->feats[j] = j;
	if (b->p->colsample_bytree < 1.0)
	{
		n = (int32_t) (b->p->colsample_bytree * (double) b->nf);
		if (n < 1)
			n = 1;
		/* a partial Fisher-Yates shuffle, then the chosen features in order */
		for (k = 0; k < n; k++)
		{
			int32_t pick = k + (int32_t) (cs_rng_next(&b->rng) % (uint64_t) (b->nf - k));
			int32_t t = b->feats[k];

			b->feats[k] = b->feats[pick];
			b->feats[pick] = t;
		}
		for (k = 1; k < n; k++)
			for (j = k; j > 0 && b->feats[j - 1] > b->feats[j]; j--)
			{
				int32_t t = b->feats[j];

				b->feats[j] = b->feats[j - 1];
				b->feats[j - 1] = t;
			}
	}
	b->n_feats = n;
}

/* Adds the leaves' values to the training margins. */
static cs_status
update_margins(gbm *b)
{
	int32_t k;

	b->n_chunks = 0;
	for (k = 0; k < b->n_tn; k++)
	{
		const gbm_node *nd = &b->gn[k];
		size_t          from;

		if (b->tn[k].feature >= 0)
			continue;
		for (from = nd->begin; from < nd->end; from += ROW_CHUNK)
		{
			leaf_chunk *c;

			if (reserve((void **) &b->chunks,
						&b->cap_chunks,
						b->n_chunks + 1,
						sizeof(leaf_chunk)) != CS_OK)
				return CS_ERR_NOMEM;
			c = &b->chunks[b->n_chunks++];
			c->begin = from;
			c->end = from + ROW_CHUNK < nd->end ? from + ROW_CHUNK : nd->end;
			c->value = (float) b->tn[k].value;
		}
	}
	run(b, b->n_chunks, margin_task, b->n);
	return CS_OK;
}

/* Grows one tree on the current margins into b->tn. */
static cs_status
grow_tree(gbm *b)
{
	size_t    n_chunks = (b->n + ROW_CHUNK - 1) / ROW_CHUNK;
	gbm_node *root;
	double    g = 0.0;
	double    h = 0.0;
	size_t    k;
	int32_t   i;

	sample_features(b);
	run(b, n_chunks, gradient_task, b->n);
	for (k = 0; k < n_chunks; k++)
	{
		g += b->chunk_sums[2 * k];
		h += b->chunk_sums[2 * k + 1];
	}
	b->n_tn = 1;
	root = &b->gn[0];
	memset(root, 0, sizeof(*root));
	root->begin = 0;
	root->end = b->n;
	root->g = g;
	root->h = h;
	root->lower = -FLT_MAX;
	root->upper = FLT_MAX;
	root->root_gain = node_gain(b, root, g, h);
	init_leaf(&b->tn[0], node_weight(b, root, g, h) * b->eta, h);
	no_split(&root->split);

	/* the root's histogram */
	b->search[0] = 0;
	b->build[0] = 0;
	b->n_build = 1;
	root->slot = 0;
	if (reserve((void **) &b->hist_next, &b->cap_next, b->hist_size, sizeof(cs_hist_bin)) !=
			CS_OK ||
		build_nodes(b) != CS_OK)
		return CS_ERR_NOMEM;
	{
		cs_hist_bin *t = b->hist_cur;
		size_t       c = b->cap_cur;

		b->hist_cur = b->hist_next;
		b->cap_cur = b->cap_next;
		b->hist_next = t;
		b->cap_next = c;
	}
	b->n_search = 1;
	if (search_level(b) != CS_OK)
		return CS_ERR_NOMEM;
	b->n_level = 0;
	if (split_is_valid(b, root))
		b->level[b->n_level++] = 0;

	while (b->n_level > 0)
	{
		int32_t depth = b->gn[b->level[0]].depth;
		int32_t n_next = 0;

		if (reserve_tree_nodes(b, 2 * b->n_level) != CS_OK)
			return CS_ERR_NOMEM;
		for (i = 0; i < b->n_level; i++)
			apply_split(b, b->level[i]);
		if (partition_level(b, depth + 1 >= b->p->max_depth) != CS_OK)
			return CS_ERR_NOMEM;
		if (depth + 1 >= b->p->max_depth)
			break;
		/* search the children of every split node */
		b->n_search = 2 * b->n_level;
		for (i = 0; i < b->n_level; i++)
		{
			b->search[2 * i] = b->tn[b->level[i]].left;
			b->search[2 * i + 1] = b->tn[b->level[i]].right;
		}
		if (build_histograms(b) != CS_OK)
			return CS_ERR_NOMEM;
		{
			cs_hist_bin *t = b->hist_cur;
			size_t       c = b->cap_cur;

			b->hist_cur = b->hist_next;
			b->cap_cur = b->cap_next;
			b->hist_next = t;
			b->cap_next = c;
		}
		if (search_level(b) != CS_OK)
			return CS_ERR_NOMEM;
		for (i = 0; i < b->n_search; i++)
			if (split_is_valid(b, &b->gn[b->search[i]]))
				b->level[n_next++] = b->search[i];
		b->n_level = n_next;
	}
	return update_margins(b);
}

/* ------------------------------------------------------------ rounds */

/* Appends the grown tree to the ensemble. */
static cs_status
append_tree(gbm *b, int32_t t)
{
	if (b->n_nodes + b->n_tn > b->cap_nodes)
	{
		int64_t cap =
			b->cap_nodes * 2 > b->n_nodes + b->n_tn ? b->cap_nodes * 2 : b->n_nodes + b->n_tn;
		cs_tree_node *nodes = cs_realloc(b->nodes, cs_mul_size((size_t) cap, sizeof(cs_tree_node)));

		if (nodes == NULL)
			return CS_ERR_NOMEM;
		b->nodes = nodes;
		b->cap_nodes = cap;
	}
	memcpy(b->nodes + b->n_nodes, b->tn, (size_t) b->n_tn * sizeof(cs_tree_node));
	b->n_nodes += b->n_tn;
	b->tree_start[t + 1] = b->n_nodes;
	return CS_OK;
}

/* The validation metric after the trees so far, from what valid_task left in valid_prob. */
static double
valid_metric(gbm *b)
{
	double sum = 0.0;
	size_t i;

	if (b->p->eval_metric != CS_GBM_METRIC_LOGLOSS)
		return cs_auc(b->valid_prob, b->valid->y, b->valid->n);
	/* XGBoost's logloss: the rows' terms summed in order */
	for (i = 0; i < b->valid->n; i++)
		sum += b->valid_prob[i];
	return b->valid->n > 0 ? sum / (double) b->valid->n : NAN;
}

/* Whether every value of a chunk of training rows is below its feature's last cut. */
static void
below_cuts_task(void *arg, size_t task, int thread)
{
	gbm                *b = arg;
	const cs_tree_data *d = b->train;
	size_t              from = task * ROW_CHUNK;
	size_t              to = from + ROW_CHUNK < b->n ? from + ROW_CHUNK : b->n;
	int                 below = 1;
	size_t              i;
	int32_t             j;

	(void) thread;
	for (i = from; i < to; i++)
		for (j = 0; j < b->nf; j++)
		{
			float v = (float) d->x[i * d->row_stride + (size_t) j * d->col_stride];

			below &= isnan(v) || v < b->last_cut[j];
		}
	b->chunk_sums[task] = below;
}

/*
 * Whether the training margins are those that scoring computes.  Boosting
 * sends a row left when its bin is at most the split's bin, scoring when
 * (float) x < threshold, the cut above that bin (or below every training
 * value): the same for every value below its feature's last cut, which is
 * above the largest training value unless that is +inf (the last bin holds
 * everything from the cut before the last up).
 */
static int
train_margins_exact(gbm *b)
{
	size_t  n_chunks = (b->n + ROW_CHUNK - 1) / ROW_CHUNK;
	size_t  k;
	int32_t j;

	b->last_cut = cs_malloc(cs_mul_size((size_t) b->nf, sizeof(float)));
	if (b->last_cut == NULL)
		return 0;
	for (j = 0; j < b->nf; j++)
		b->last_cut[j] = b->cuts.values[b->cuts.ptr[j + 1] - 1];
	run(b, n_chunks, below_cuts_task, b->n * (size_t) b->nf);
	for (k = 0; k < n_chunks; k++)
		if (b->chunk_sums[k] == 0.0)
			return 0;
	return 1;
}

/* Frees the training state (not the ensemble arrays handed to the result). */
static void
gbm_free(gbm *b)
{
	cs_bin_cuts_free(&b->cuts);
	cs_bin_matrix_free(&b->bins);
	cs_bin_matrix_free(&b->cols);
	cs_free(b->hist_off);
	cs_free(b->rows);
	cs_free(b->rows_tmp);
	cs_free(b->dir);
	cs_free(b->gh);
	cs_free(b->gh_tmp);
	cs_free(b->margin);
	cs_free(b->best_margin);
	cs_free(b->last_cut);
	cs_free(b->valid_margin);
	cs_free(b->valid_prob);
	cs_free(b->chunk_sums);
	cs_free(b->feats);
	cs_free(b->tn);
	cs_free(b->gn);
	cs_free(b->hist_cur);
	cs_free(b->hist_next);
	cs_free(b->level);
	cs_free(b->search);
	cs_free(b->build);
	cs_free(b->hblocks);
	cs_free(b->multi);
	cs_free(b->partials);
	cs_free(b->cands);
	cs_free(b->blocks);
	cs_free(b->chunks);
	cs_free(b->nodes);
	cs_free(b->tree_start);
	cs_free(b->walk);
	cs_pool_free(b->pool);
}

/* Allocates the training state; CS_ERR_NOMEM. */
static cs_status
gbm_alloc(gbm *b)
{
	size_t n = b->n;
	size_t nv = b->valid != NULL ? b->valid->n : 0;
	size_t nf = (size_t) b->nf;
	/* nodes per level: at most 2^depth, and each has a row */
	size_t max_level = (size_t) 1 << b->p->max_depth;
	size_t j;

	if (max_level > n)
		max_level = n;
	b->hist_off = cs_malloc(cs_mul_size(nf + 1, sizeof(uint32_t)));
	b->rows = cs_malloc(cs_mul_size(n, sizeof(uint32_t)));
	b->rows_tmp = cs_malloc(cs_mul_size(n, sizeof(uint32_t)));
	b->dir = cs_malloc(n);
	b->gh = cs_malloc(cs_mul_size(n, sizeof(cs_grad_pair)));
	b->gh_tmp = cs_malloc(cs_mul_size(n, sizeof(cs_grad_pair)));
	b->margin = cs_malloc(cs_mul_size(n, sizeof(float)));
	if (b->p->early_stopping_rounds > 0)
	{
		b->best_margin = cs_malloc(cs_mul_size(n, sizeof(float)));
		if (b->best_margin == NULL)
			return CS_ERR_NOMEM;
	}
	b->valid_margin = cs_malloc(cs_mul_size(nv, sizeof(float)));
	b->valid_prob = cs_malloc(cs_mul_size(nv, sizeof(double)));
	b->chunk_sums = cs_malloc(cs_mul_size((n + ROW_CHUNK - 1) / ROW_CHUNK + 1, 2 * sizeof(double)));
	b->feats = cs_malloc(cs_mul_size(nf + 1, sizeof(int32_t)));
	b->level = cs_malloc(cs_mul_size(max_level + 1, sizeof(int32_t)));
	b->search = cs_malloc(cs_mul_size(2 * max_level + 2, sizeof(int32_t)));
	b->build = cs_malloc(cs_mul_size(2 * max_level + 2, sizeof(int32_t)));
	b->tree_start = cs_malloc(cs_mul_size((size_t) b->p->n_estimators + 1, sizeof(int64_t)));
	if (b->hist_off == NULL || b->rows == NULL || b->rows_tmp == NULL || b->dir == NULL ||
		b->gh == NULL || b->gh_tmp == NULL || b->margin == NULL || b->valid_margin == NULL ||
		b->valid_prob == NULL || b->chunk_sums == NULL || b->feats == NULL || b->level == NULL ||
		b->search == NULL || b->build == NULL || b->tree_start == NULL)
		return CS_ERR_NOMEM;
	b->hist_off[0] = 0;
	for (j = 0; j < nf; j++)
		b->hist_off[j + 1] = b->hist_off[j] + (uint32_t) cs_bin_count(&b->cuts, (int32_t) j) + 1;
	b->hist_size = b->hist_off[nf];
	cs_bin_matrix_index(&b->bins, b->hist_off, b->pool);
	b->tree_start[0] = 0;
	return reserve_tree_nodes(b, 64);
}

/* Checks the data handed to cs_gbm_train. */
static cs_status
check_data(const cs_tree_data *train, const cs_tree_data *valid, cs_error *err)
{
	if (train->n == 0)
		return cs_fail(err, CS_ERR_INVALID, "no training rows");
	if (train->n > UINT32_MAX)
		return cs_fail(err, CS_ERR_INVALID, "more than %u training rows", UINT32_MAX);
	if (train->n_features < 1)
		return cs_fail(err, CS_ERR_INVALID, "no features");
	if (valid != NULL && valid->n_features != train->n_features)
		return cs_fail(err,
					   CS_ERR_INVALID,
					   "the validation data have %d features, not %d",
					   (int) valid->n_features,
					   (int) train->n_features);
	return CS_OK;
}

/* Trains a boosted ensemble. */
cs_status
cs_gbm_train(const cs_gbm_params *p, const cs_tree_data *train, const cs_tree_data *valid,
			 cs_progress_fn progress, void *ctx, cs_gbm_result *out, cs_error *err)
{
	gbm       b;
	cs_status st;
	int32_t   t;
	int32_t   j;
	double    best = NAN;
	int32_t   best_iter = 0;
	int32_t   since_best = 0;
	size_t    i;
	char      msg[64];

	memset(out, 0, sizeof(*out));
	memset(&b, 0, sizeof(b));
	if ((st = cs_gbm_params_check(p, train->n_features, err)) != CS_OK ||
		(st = check_data(train, valid, err)) != CS_OK)
		return st;
	if (p->early_stopping_rounds > 0 && (valid == NULL || valid->n == 0))
		return cs_fail(err, CS_ERR_INVALID, "early stopping needs validation rows");
	b.p = p;
	b.train = train;
	b.valid = valid != NULL && valid->n > 0 ? valid : NULL;
	b.n = train->n;
	b.nf = train->n_features;
	b.eta = (float) p->learning_rate;
	b.lambda = (float) p->reg_lambda;
	b.alpha = (float) p->reg_alpha;
	b.min_child_weight = (float) p->min_child_weight;
	b.gamma = (float) p->gamma;
	b.scale_pos_weight = (float) p->scale_pos_weight;
	b.mono = p->monotone_constraints;
	for (j = 0; b.mono != NULL && j < b.nf; j++)
		b.has_constraint |= b.mono[j] != 0;
	cs_rng_seed(&b.rng, p->seed);

	if ((st = cs_pool_new(p->threads, &b.pool, err)) != CS_OK)
		return st;
	if ((st = cs_bin_cuts_learn(train, p->max_bin, 0, b.pool, &b.cuts, err)) != CS_OK ||
		(st = cs_bin_matrix_build(&b.cuts, train, 0, b.pool, &b.cols, err)) != CS_OK ||
		(st = cs_bin_matrix_rows(&b.cols, b.pool, &b.bins, err)) != CS_OK)
		goto done;
	if (gbm_alloc(&b) != CS_OK)
	{
		st = cs_fail(err, CS_ERR_NOMEM, "out of memory boosting on %zu rows", b.n);
		goto done;
	}
	for (i = 0; i < b.n; i++)
		b.margin[i] = -logf(1.0f / (float) p->base_score - 1.0f);
	for (i = 0; b.valid != NULL && i < b.valid->n; i++)
		b.valid_margin[i] = -logf(1.0f / (float) p->base_score - 1.0f);
	if (b.valid != NULL)
	{
		out->valid_score = cs_malloc(cs_mul_size((size_t) p->n_estimators, sizeof(double)));
		if (out->valid_score == NULL)
		{
			st = cs_fail(err, CS_ERR_NOMEM, "out of memory boosting on %zu rows", b.n);
			goto done;
		}
	}

	for (t = 0; t < p->n_estimators; t++)
	{
		b.tree_index = t;
		if (grow_tree(&b) != CS_OK || append_tree(&b, t) != CS_OK)
		{
			st = cs_fail(err, CS_ERR_NOMEM, "out of memory growing tree %d", (int) t + 1);
			goto done;
		}
		out->n_rounds = t + 1;
		best_iter = t;
		if (b.valid != NULL)
		{
			double score;
			int    better;

			if (prepare_walk(&b) != CS_OK)
			{
				st = cs_fail(err, CS_ERR_NOMEM, "out of memory growing tree %d", (int) t + 1);
				goto done;
			}
			run(&b, (b.valid->n + ROW_CHUNK - 1) / ROW_CHUNK, valid_task, b.valid->n * 8);
			score = valid_metric(&b);
			out->valid_score[t] = score;
			better = t == 0 || (p->eval_metric == CS_GBM_METRIC_AUC ? score > best : score < best);
			if (p->early_stopping_rounds > 0)
			{
				if (better)
				{
					best = score;
					out->best_iteration = t;
					since_best = 0;
					memcpy(b.best_margin, b.margin, b.n * sizeof(float));
				}
				else
					since_best++;
				best_iter = out->best_iteration;
			}
			else
			{
				best = score;
				out->best_iteration = t;
			}
		}
		if (progress != NULL)
		{
			snprintf(msg, sizeof(msg), "tree %d of %d", (int) t + 1, (int) p->n_estimators);
			if (progress(ctx, (double) (t + 1) / (double) p->n_estimators, msg) != 0)
			{
				st = cs_fail(err,
							 CS_ERR_CANCELLED,
							 "boosting cancelled after %d trees",
							 (int) t + 1);
				goto done;
			}
		}
		if (p->early_stopping_rounds > 0 && since_best >= p->early_stopping_rounds)
			break;
	}
	out->best_iteration = best_iter;
	out->best_score = best;
	out->model.kind = CS_ENSEMBLE_BOOSTED;
	out->model.n_features = b.nf;
	out->model.n_trees = best_iter + 1;
	out->model.n_nodes = b.tree_start[best_iter + 1];
	out->model.base_score = p->base_score;
	out->model.tree_start = b.tree_start;
	out->model.nodes = b.nodes;
	b.tree_start = NULL;
	b.nodes = NULL;
	if (train_margins_exact(&b))
	{
		float **kept = best_iter + 1 < out->n_rounds ? &b.best_margin : &b.margin;

		out->model.train_margin = *kept;
		out->model.n_train_margin = b.n;
		*kept = NULL;
	}
	st = CS_OK;

done:
	gbm_free(&b);
	if (st != CS_OK)
		cs_gbm_result_free(out);
	return st;
}

/* Frees what r owns (not r itself). */
void
cs_gbm_result_free(cs_gbm_result *r)
{
	if (r == NULL)
		return;
	cs_ensemble_free(&r->model);
	cs_free(r->valid_score);
	memset(r, 0, sizeof(*r));
}
