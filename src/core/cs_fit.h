/*
 * cs_fit.h - fitting a model of any family on a subset of a dataset, and the
 * stratified k-fold assignment that cross-validation uses.
 *
 * cs_fit_model is the one place that knows how each model family turns
 * training rows into a prepared cs_model: the training worker calls it for
 * the final fit, and once per fold and combination in a hyperparameter
 * search.
 */
#ifndef CS_FIT_H
#define CS_FIT_H

#include "cs_core.h"
#include "cs_mlp.h"
#include "cs_trees.h"

/* Hyperparameters of one fit, defaults filled in. */
typedef struct cs_train_params
{
	cs_model_type    type;
	uint64_t         seed;
	int32_t          threads;
	cs_logreg_params logreg;
	cs_gbm_params    gbm;
	cs_forest_params forest;
	cs_mlp_params    mlp;
	int32_t          hidden[CS_MLP_MAX_HIDDEN + 1]; /* mlp.hidden points here */
	/* boosting's monotone constraints by feature name, resolved by cs_fit_model */
	int32_t       n_monotone;
	char *const  *monotone_names;
	const int8_t *monotone_dirs;
} cs_train_params;

/*
 * Learns the feature schema on rows[0..n) of ds and fits the model; *out is
 * prepared for scoring, with meta.n_train and info set (the caller fills the
 * rest of the metadata).  valid (n_valid rows, may be NULL) is what boosting
 * evaluates each round on, for early stopping.  BLAS must be loaded
 * (cs_linalg_load) for logistic regression.
 */
cs_status cs_fit_model(const cs_train_params *params, const cs_dataset *ds, const size_t *rows,
					   size_t n, const size_t *valid, size_t n_valid, cs_progress_fn progress,
					   void *ctx, cs_model **out, cs_error *err);

/* Bytes that cs_fit_model needs besides the dataset, for n rows. */
double cs_fit_memory(const cs_train_params *params, const cs_dataset *ds, size_t n);

/*
 * The same on threads threads (blocks of rows on a cs_pool; a prepared model
 * is read-only, so the threads share it).  Results do not depend on the
 * thread count.
 */
cs_status cs_score_rows_threads(const cs_model *m, const cs_dataset *ds, const size_t *rows,
								size_t n, double *p, int threads, cs_error *err);

/* Probabilities of rows[0..n) of ds under m, into p[n]. */
cs_status cs_score_rows(const cs_model *m, const cs_dataset *ds, const size_t *rows, size_t n,
						double *p, cs_error *err);

/*
 * Stratified k-fold: fold[i] in [0, k) for rows[i], taking each class's rows
 * in the order given (the split's seeded hash order) round-robin, so every
 * fold holds a near-equal share of each class.  CS_ERR_INVALID when a class
 * has fewer than k rows.
 */
cs_status cs_kfold_stratified(const cs_dataset *ds, const size_t *rows, size_t n, int32_t k,
							  int32_t *fold, cs_error *err);

/*
 * Checks that the model's score moves in direction dir (+1 or -1) as feature
 * varies over every threshold the trees split it at, the others held at each
 * of the n inputs (row-major, n x n_features); *violations counts the rows
 * whose score sequence moves the other way by more than 1e-12.
 */
cs_status cs_check_monotone(const cs_model *m, const double *inputs, size_t n, int32_t feature,
							int dir, size_t *violations, cs_error *err);

#endif /* CS_FIT_H */
