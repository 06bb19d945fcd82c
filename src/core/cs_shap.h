/*
 * cs_shap.h - exact path-dependent TreeSHAP for tree ensembles (src/core/shap.c).
 *
 * Values are in the ensemble's score units: the margin for boosting, the
 * probability for a forest.  phi has n_features + 1 entries, the base value
 * (the expected score over the training cover) last, as XGBoost's
 * pred_contribs; interactions are (n_features + 1)^2, row-major, as XGBoost's
 * pred_interactions.
 */
#ifndef CS_SHAP_H
#define CS_SHAP_H

#include "cs_trees.h"

/* Bytes of scratch that one call needs for this ensemble (never 0). */
size_t cs_tree_shap_workspace(const cs_ensemble *e);
/* SHAP values of one input into phi[n_features + 1]; allocates its workspace. */
cs_status cs_tree_shap(const cs_ensemble *e, const double *input, double *phi, cs_error *err);
/* As cs_tree_shap, with a workspace of cs_tree_shap_workspace(e) bytes: no allocation. */
cs_status cs_tree_shap_ws(const cs_ensemble *e, const double *input, double *phi, void *workspace,
						  cs_error *err);

/* Bytes of scratch that one interaction call needs for this ensemble. */
size_t cs_tree_shap_interactions_workspace(const cs_ensemble *e);
/* SHAP interaction values into phi[(n_features + 1)^2]; allocates its workspace. */
cs_status
cs_tree_shap_interactions(const cs_ensemble *e, const double *input, double *phi, cs_error *err);
/* As cs_tree_shap_interactions, with a caller's workspace: no allocation. */
cs_status cs_tree_shap_interactions_ws(const cs_ensemble *e, const double *input, double *phi,
									   void *workspace, cs_error *err);

#endif /* CS_SHAP_H */
