/*
 * cs_trees.h - tree ensembles in the pure core: a small thread pool, quantile
 * binning, flat trees, histogram gradient boosting (XGBoost 1.7 "hist") and
 * random forest (scikit-learn's RandomForestClassifier on binned features).
 *
 * Inputs are scoring inputs (cs_core.h): one double per feature in schema
 * order, the numeric value, or the level index of a categorical feature (-1
 * for an unseen category), NaN when missing.  A categorical feature is an
 * ordinal code: splits compare level indices, so an unseen category (-1)
 * follows level 0, the most frequent one, as in the linear encoding.
 *
 * Every structure that a model keeps is made of flat arrays without pointers
 * inside (nodes refer to children by index), so that it serialises as is.
 * Training is deterministic for a given seed: the results do not depend on the
 * thread count either (every parallel reduction has a fixed order).
 */
#ifndef CS_TREES_H
#define CS_TREES_H

#include "cs_core.h"

/* ---------------------------------------------------------------- threads */

/*
 * A fork-join pool of threads running pure core code.  Its threads start with
 * every signal blocked.  cs_pool_run calls fn(arg, task, thread) once for each
 * task in [0, n_tasks), spread over the threads (the caller's thread is thread
 * 0), and returns when all are done; thread < cs_pool_threads(pool) indexes
 * per-thread scratch.  A pool of one thread runs everything in the caller.
 */
typedef struct cs_pool cs_pool;
typedef void (*cs_task_fn)(void *arg, size_t task, int thread);

cs_status cs_pool_new(int threads, cs_pool **out, cs_error *err);
int       cs_pool_threads(const cs_pool *pool);
void      cs_pool_run(cs_pool *pool, size_t n_tasks, cs_task_fn fn, void *arg);
void      cs_pool_free(cs_pool *pool);

/* ---------------------------------------------------------------- inputs */

/*
 * Training inputs: scoring inputs of n rows, element (i, j) at
 * x[i * row_stride + j * col_stride] (row-major, as cs_schema_inputs returns
 * them: row_stride = n_features, col_stride = 1), and a 0/1 label per row.
 */
typedef struct cs_tree_data
{
	const double  *x;
	size_t         row_stride;
	size_t         col_stride;
	size_t         n;
	int32_t        n_features;
	const uint8_t *y;
} cs_tree_data;

/* Describes row-major inputs (n x n_features) with their labels. */
void cs_tree_data_rows(cs_tree_data *d, const double *inputs, size_t n, int32_t n_features,
					   const uint8_t *y);

/* ---------------------------------------------------------------- binning */

#define CS_MAX_BIN_LIMIT 65535

/*
 * The cut points of every feature, learned once per training on the training
 * rows as XGBoost 1.7's hist method learns them (src/core/binning.c).  Feature
 * j has n_bins(j) = ptr[j + 1] - ptr[j] bins; with c = values + ptr[j], bin 0
 * holds the values below c[0], bin b the values in [c[b - 1], c[b]), and the
 * last bin everything from c[n_bins - 2] up.  Bin n_bins(j) is reserved for
 * missing values.  lo and hi give, per bin, the smallest and largest training
 * value it holds (NaN for none), when asked for: the forest splits halfway
 * between them.  All values are single precision, like XGBoost's: a value is
 * compared as (float) x.
 */
typedef struct cs_bin_cuts
{
	int32_t   n_features;
	uint32_t *ptr;        /* n_features + 1 */
	float    *values;     /* ptr[n_features] cut values */
	float    *min_values; /* per feature: below every training value */
	float    *lo;         /* per bin, as values */
	float    *hi;
} cs_bin_cuts;

/* Learns the cuts on the rows of d; lo and hi only when ranges (else NULL). */
cs_status cs_bin_cuts_learn(const cs_tree_data *d, int32_t max_bin, int ranges, cs_pool *pool,
							cs_bin_cuts *out, cs_error *err);
void      cs_bin_cuts_free(cs_bin_cuts *c);
int32_t   cs_bin_count(const cs_bin_cuts *c, int32_t j);
/* The bin of input x of feature j: n_bins(j) when x is NaN. */
uint32_t cs_bin_of(const cs_bin_cuts *c, int32_t j, double x);

/*
 * Binned inputs.  Column-major: feature j's column starts at data + offset[j]
 * and holds n_rows bins of width[j] bytes: 1 when its bins fit a byte (the
 * missing bin counting only when the data have a missing value there), else
 * 2.  Row-major: row i starts at data + i * row_bytes, feature j at offset[j]
 * in it, every feature of the widest width.  Two-byte bins are uint16 in the
 * machine's byte order (the matrix is never stored).
 */
typedef struct cs_bin_matrix
{
	size_t   n_rows;
	int32_t  n_features;
	int32_t  row_major;
	uint8_t *width;
	size_t  *offset;
	size_t   row_bytes;
	int32_t indexed; /* row-major, two bytes: entries are hist_off[j] + bin (cs_bin_matrix_index) */
	uint8_t *data;
} cs_bin_matrix;

cs_status cs_bin_matrix_build(const cs_bin_cuts *c, const cs_tree_data *d, int row_major,
							  cs_pool *pool, cs_bin_matrix *out, cs_error *err);
/* The row-major copy of a column-major matrix. */
cs_status
cs_bin_matrix_rows(const cs_bin_matrix *cols, cs_pool *pool, cs_bin_matrix *out, cs_error *err);
void cs_bin_matrix_free(cs_bin_matrix *m);
/* The bin of row in feature j (not for an indexed matrix). */
uint32_t cs_bin_get(const cs_bin_matrix *m, int32_t j, size_t row);
/*
 * Turns a row-major matrix of two-byte bins into histogram indices, entry j of
 * a row becoming hist_off[j] + bin, when every index fits two bytes (the
 * histogram then skips a lookup per entry); returns whether it did.
 */
int cs_bin_matrix_index(cs_bin_matrix *m, const uint32_t *hist_off, cs_pool *pool);

/* Gradient histograms (exposed for the unit tests). */
typedef struct cs_grad_pair
{
	float g;
	float h;
} cs_grad_pair;

typedef struct cs_hist_bin
{
	double g;
	double h;
} cs_hist_bin;

/*
 * Adds gh[k] to hist[bin of rows[k] in feature j] for k in [0, n): gh is in
 * the order of rows (ordered gradients); hist has n_bins(j) + 1 entries.
 */
void cs_hist_accumulate(const cs_bin_matrix *m, int32_t j, const uint32_t *rows,
						const cs_grad_pair *gh, size_t n, cs_hist_bin *hist);
/*
 * Row-major m: adds gh[k] to the histograms of every feature at once; feature
 * j's bins start at hist + hist_off[j] (the offsets that an indexed m holds).
 */
void cs_hist_accumulate_rows(const cs_bin_matrix *m, const uint32_t *hist_off, const uint32_t *rows,
							 const cs_grad_pair *gh, size_t n, cs_hist_bin *hist);
/* out = parent - child, entry by entry: the sibling's histogram. */
void
cs_hist_subtract(const cs_hist_bin *parent, const cs_hist_bin *child, cs_hist_bin *out, size_t n);

/* ---------------------------------------------------------------- trees */

/*
 * One node of a tree.  A split node sends an input left when (float) x <
 * threshold, right otherwise, and a missing x (NaN) to the default side; a
 * leaf has feature -1 and children -1.  Children are indices local to the
 * tree, always greater than the parent's, so a tree is acyclic by
 * construction and can be checked in one pass.
 */
typedef struct cs_tree_node
{
	int32_t feature;
	float   threshold;
	int32_t left;
	int32_t right;
	uint8_t default_left;
	uint8_t pad[3];
	float   gain;  /* split: loss change (boosting), weighted impurity decrease (forest) */
	double  value; /* leaf: margin term (boosting, a float), P(class 1) (forest) */
	double  cover; /* sum of hessians (boosting), weighted samples (forest) */
} cs_tree_node;

typedef enum cs_ensemble_kind
{
	CS_ENSEMBLE_BOOSTED = 1, /* margin = logit(base_score) + sum of leaves */
	CS_ENSEMBLE_FOREST = 2   /* probability = mean of leaves */
} cs_ensemble_kind;

/* A layout of the trees for fast prediction, in memory only (tree.c). */
typedef struct cs_tree_fast cs_tree_fast;

typedef struct cs_ensemble
{
	cs_ensemble_kind kind;
	int32_t          n_features;
	int32_t          n_trees;
	int64_t          n_nodes;
	int64_t      *tree_start; /* n_trees + 1: tree t is nodes[tree_start[t] .. tree_start[t+1]) */
	cs_tree_node *nodes;
	double        base_score; /* boosting: the initial probability (XGBoost's base_score) */
	cs_tree_fast *fast;       /* cs_ensemble_prepare's layout, or NULL: never serialised */
	/*
	 * Boosting, fresh from cs_gbm_train: the margins of the training rows
	 * under these trees, as cs_ensemble_score computes them (bit for bit), or
	 * NULL; never serialised.  See cs_ensemble_train_predictions.
	 */
	float *train_margin;
	size_t n_train_margin;
} cs_ensemble;

/* Checks structure, indices and values (for a decoded blob): CS_ERR_CORRUPT. */
cs_status cs_ensemble_check(const cs_ensemble *e, cs_error *err);
/*
 * Builds (again) the in-memory prediction layout of a checked ensemble:
 * groups of trees completed to a common depth, 8-byte nodes, walked several
 * at a time.  Scores are the same, bit for bit, with or without it; an
 * ensemble without it (or whose trees are too deep) walks its nodes.  The
 * layout must be rebuilt (or dropped, cs_ensemble_unprepare) when the nodes
 * change.  CS_ERR_NOMEM.
 */
cs_status cs_ensemble_prepare(cs_ensemble *e, cs_error *err);
void      cs_ensemble_unprepare(cs_ensemble *e);
/* The leaf (local index) of tree t that an input reaches. */
int32_t cs_tree_leaf(const cs_ensemble *e, int32_t t, const double *input);
/*
 * Boosting: the margin, accumulated in single precision in tree order from
 * logit(base_score), as XGBoost does, so imported models give its numbers.
 * Forest: the mean leaf probability.
 */
double cs_ensemble_score(const cs_ensemble *e, const double *input);
/* The probability of class 1. */
double cs_ensemble_predict(const cs_ensemble *e, const double *input);
/* The log-odds (forest: of the mean probability clipped to [1e-15, 1 - 1e-15]). */
double cs_ensemble_margin(const cs_ensemble *e, const double *input);
/*
 * For the evaluation after training: cs_ensemble_predict of the n training
 * rows (in training order), bit for bit, from the margins that boosting left
 * (train_margin).  Returns 0, leaving p alone, when e has none for n rows.
 */
int cs_ensemble_train_predictions(const cs_ensemble *e, size_t n, double *p);
/*
 * cs_ensemble_predict of n row-major inputs (row i at x + i * stride), into
 * out[0 .. n): the same numbers, computed a block of rows at a time.
 */
void cs_ensemble_predict_rows(const cs_ensemble *e, const double *x, size_t n, size_t stride,
							  double *out);
/*
 * Feature importance from the nodes, arrays of n_features (each may be NULL):
 * gain = total loss change (boosting) or mean decrease in impurity normalised
 * as scikit-learn's feature_importances_ (forest), cover = total cover of the
 * splits on the feature, splits = how many splits use it.
 */
void cs_ensemble_importance(const cs_ensemble *e, double *gain, double *cover, int64_t *splits);
void cs_ensemble_free(cs_ensemble *e);

/* ---------------------------------------------------------------- boosting */

typedef enum cs_gbm_metric
{
	CS_GBM_METRIC_LOGLOSS = 0, /* XGBoost's default for binary:logistic */
	CS_GBM_METRIC_AUC = 1
} cs_gbm_metric;

/* Names and defaults of XGBoost 1.7 (cs_gbm_params_default). */
typedef struct cs_gbm_params
{
	int32_t       n_estimators;          /* 100 */
	double        learning_rate;         /* 0.3 (eta) */
	int32_t       max_depth;             /* 6, 1..30 */
	double        min_child_weight;      /* 1 */
	double        reg_lambda;            /* 1 */
	double        reg_alpha;             /* 0 */
	double        gamma;                 /* 0 (min_split_loss) */
	double        subsample;             /* 1 */
	double        colsample_bytree;      /* 1 */
	int32_t       max_bin;               /* 256 */
	double        scale_pos_weight;      /* 1 */
	double        base_score;            /* 0.5 */
	const int8_t *monotone_constraints;  /* NULL, or n_features of +1, -1, 0 */
	int32_t       early_stopping_rounds; /* 0: off; needs validation data */
	cs_gbm_metric eval_metric;           /* logloss */
	uint64_t      seed;
	int32_t       threads;          /* 1 */
	int32_t       hist_subtraction; /* 1; 0 builds every histogram (tests) */
} cs_gbm_params;

typedef struct cs_gbm_result
{
	cs_ensemble model;          /* the first best_iteration + 1 trees, with their train_margin */
	int32_t     n_rounds;       /* trees trained */
	int32_t     best_iteration; /* 0-based */
	double      best_score;     /* validation metric there; NaN without validation */
	double     *valid_score;    /* n_rounds validation metrics, or NULL */
} cs_gbm_result;

void      cs_gbm_params_default(cs_gbm_params *p);
cs_status cs_gbm_params_check(const cs_gbm_params *p, int32_t n_features, cs_error *err);
/*
 * Trains on train (and evaluates each round on valid, which may be NULL
 * unless early stopping is on).  progress is called between trees.
 */
cs_status cs_gbm_train(const cs_gbm_params *p, const cs_tree_data *train, const cs_tree_data *valid,
					   cs_progress_fn progress, void *ctx, cs_gbm_result *out, cs_error *err);
void      cs_gbm_result_free(cs_gbm_result *r);

/* ---------------------------------------------------------------- forest */

#define CS_MAX_FEATURES_SQRT (-1) /* max(1, floor(sqrt(n_features))) */
#define CS_MAX_FEATURES_LOG2 (-2) /* max(1, floor(log2(n_features))) */
#define CS_MAX_FEATURES_ALL  0

/* Names and defaults of scikit-learn's RandomForestClassifier (cs_forest_params_default). */
typedef struct cs_forest_params
{
	int32_t  n_estimators;          /* 100 */
	int32_t  max_depth;             /* 0: unlimited (None) */
	int32_t  min_samples_split;     /* 2 */
	int32_t  min_samples_leaf;      /* 1 */
	int32_t  max_features;          /* CS_MAX_FEATURES_SQRT, _LOG2, _ALL, or a count */
	int32_t  class_weight_balanced; /* 0; 1: n / (2 n_class) per class */
	int32_t  bootstrap;             /* 1 */
	int32_t  max_bin;               /* 256 */
	uint64_t seed;
	int32_t  threads; /* 1 */
} cs_forest_params;

typedef struct cs_forest_result
{
	cs_ensemble model;
	double      oob_auc; /* NaN without bootstrap or when a class has no out-of-bag row */
	size_t      n_oob;   /* rows out of bag of at least one tree */
} cs_forest_result;

void      cs_forest_params_default(cs_forest_params *p);
cs_status cs_forest_params_check(const cs_forest_params *p, int32_t n_features, cs_error *err);
cs_status cs_forest_train(const cs_forest_params *p, const cs_tree_data *train,
						  cs_progress_fn progress, void *ctx, cs_forest_result *out, cs_error *err);
void      cs_forest_result_free(cs_forest_result *r);

#endif /* CS_TREES_H */
