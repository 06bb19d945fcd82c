/*
 * cs_attrib.h - attributions against reference rows (src/core/attrib.c): the
 * reference sample kept with a model, KernelSHAP for models without an exact
 * explainer (the network), exact Shapley values against single reference rows
 * for every model family, and the cutoff-matched reference of reason codes.
 * Pure C, no PostgreSQL header.
 */
#ifndef CS_ATTRIB_H
#define CS_ATTRIB_H

#include "cs_core.h"
#include "cs_trees.h"

/* KernelSHAP's background: the first rows of the reference sample. */
#define CS_KERNEL_BACKGROUND     100
/* Coalitions KernelSHAP may evaluate (its samples argument). */
#define CS_KERNEL_MIN_SAMPLES    10
#define CS_KERNEL_MAX_SAMPLES    100000
/* Rows of the reference sample nearest the cutoff that reason codes compare with. */
#define CS_REASON_REFERENCE_ROWS 20

/*
 * A row's value in the units its SHAP values sum to: the margin (log-odds) of
 * logistic regression, boosting and the network, the mean leaf probability of
 * the forest.
 */
double cs_explain_value(const cs_model *m, const double *input);

/*
 * Keeps min(max_rows, n) of rows[0..n) in m->reference: the rows with the
 * smallest cs_row_hash under seed (ties by position), in that order, with
 * their scoring inputs and cs_explain_value.  Replaces any sample m had.
 */
cs_status cs_reference_build(cs_model *m, const cs_dataset *ds, const size_t *rows, size_t n,
							 uint64_t seed, int32_t max_rows, cs_error *err);

/*
 * The k rows of the reference sample whose values are nearest target, in
 * increasing distance (ties by position), into idx; returns how many (at most
 * k, fewer when the sample is smaller).
 */
int32_t cs_reference_nearest(const cs_reference *ref, double target, int32_t k, int32_t *idx);

/* The samples KernelSHAP takes by default for nf features: 2 nf + 2048 (the shap package's). */
int32_t cs_kernel_shap_default_samples(int32_t nf);

/*
 * KernelSHAP (Lundberg & Lee 2017, as the shap package's KernelExplainer
 * computes it, without its l1 feature selection) of input x against the
 * background rows bg[0..n_bg) (n_bg x n_features, row-major), weighted by
 * bg_weight (summing to 1; NULL: equally): phi[j] for each feature,
 * phi[n_features] the base value, the mean of cs_explain_value over the
 * background; they sum to cs_explain_value(x).  The value of a coalition
 * S is the mean over the background of the model on x's values in S and the
 * background row's elsewhere.  Features on which x equals every background row
 * get 0.  When the 2^M - 2 proper coalitions of the M other features number at
 * most nsamples, all are evaluated and the values are the exact Shapley
 * values; otherwise coalition sizes are enumerated from the ends while the
 * budget allows and the rest sampled (seeded), paired with their complements.
 * progress (may be NULL) is asked every 64 coalitions whether to stop:
 * CS_ERR_CANCELLED when it says so.
 */
cs_status cs_kernel_shap(const cs_model *m, const double *x, const double *bg,
						 const double *bg_weight, int32_t n_bg, int32_t nsamples, uint64_t seed,
						 cs_progress_fn progress, void *ctx, double *phi, cs_error *err);

/*
 * Exact Shapley values of one tree ensemble's output at x when the features
 * outside a coalition take reference row r's values (interventional, one
 * reference), added to phi[0..n_features); work is scratch of
 * cs_tree_shap_baseline_workspace bytes.  Inputs are read as tree scoring
 * reads them after unseen categories became level 0 (cs_reference_shap does
 * that).
 */
size_t cs_tree_shap_baseline_workspace(const cs_ensemble *e);
void   cs_tree_shap_baseline(const cs_ensemble *e, const double *x, const double *r, double *phi,
							 void *work);

/*
 * Shapley values of x against the reference rows refs[0..n_refs) weighted by
 * weights (summing to 1; NULL: equally), the weighted mean of the
 * single-reference values: exact for logistic regression (linear) and
 * tree ensembles, KernelSHAP with nsamples coalitions and seed for the
 * network.  phi[n_features] is the mean cs_explain_value of the references;
 * the values sum to cs_explain_value(x).
 */
cs_status cs_reference_shap(const cs_model *m, const double *x, const double *refs,
							const double *weights, int32_t n_refs, int32_t nsamples, uint64_t seed,
							cs_progress_fn progress, void *ctx, double *phi, cs_error *err);

/*
 * Reason codes' attribution: Shapley values of x (phi, n_features + 1 values)
 * against the rows of the model's reference sample scored nearest the approval
 * cutoff (a probability in (0, 1); an applicant is declined when the score is
 * at or above it): up to CS_REASON_REFERENCE_ROWS / 2 from each side, weighted
 * so that their mean value is the cutoff's, so the values sum to the row's
 * distance from the cutoff in margin units.  *reference_score is the
 * references' mean value as a probability (the cutoff, unless every reference
 * row lies on one side of it).  CS_ERR_INVALID without a reference sample.
 */
cs_status cs_cutoff_shap(const cs_model *m, const double *x, double cutoff, int32_t nsamples,
						 uint64_t seed, cs_progress_fn progress, void *ctx, double *phi,
						 double *reference_score, cs_error *err);

#endif /* CS_ATTRIB_H */
