/*
 * cs_profile.h - the training profile of a model and drift against it
 * (src/core/profile.c).
 *
 * At training time the distribution of every feature and of the score on the
 * training split is summarised in a JSON document stored with the model
 * (cs_models.profile): per numeric feature (and the score) up to 10 quantile
 * bins with their counts, a missing count, and a compact ECDF (at most 1,000
 * points) for the Kolmogorov-Smirnov test; per categorical feature the level
 * counts, a missing count and an "unseen" bin.  Monitoring compares a sample
 * with the profile alone, streaming: the training data are never read again.
 * A "lime" member holds what LIME samples from (cs_lime.h): per feature its
 * missing count, and a numeric feature's quartile bins with their counts,
 * means, deviations and ranges, a categorical one's level counts.
 * Pure C, no PostgreSQL header.
 */
#ifndef CS_PROFILE_H
#define CS_PROFILE_H

#include "cs_core.h"
#include "cs_ks.h"

#define CS_PROFILE_VERSION 1
#define CS_PROFILE_BINS    10   /* quantile bins of a numeric distribution */
#define CS_PROFILE_POINTS  1000 /* ECDF points kept for the KS test */
#define CS_PSI_FLOOR       1e-4 /* a proportion below this counts as this */
#define CS_PSI_INVESTIGATE \
	0.1                     /* PSI bands: < 0.1 stable, < 0.25 investigate  \
                                */
#define CS_PSI_SHIFTED 0.25 /* >= 0.25 shifted */

/*
 * A numeric distribution (a feature's or the score's) on the training split.
 * Bins: (-inf, e1], (e1, e2], ..., (ek, +inf), k = n_edges <= 9.  ECDF:
 * points p1 < ... < pm with cum[i] = the number of training values <= p[i];
 * cum[m-1] is the number of non-missing values.
 */
typedef struct cs_profile_dist
{
	int32_t   n_edges;
	double   *edges;
	uint64_t *counts; /* n_edges + 1 */
	int32_t   n_points;
	double   *points;
	uint64_t *cum;
} cs_profile_dist;

typedef struct cs_profile_feature
{
	char    *name;
	cs_kind  kind;
	uint64_t n;       /* training rows */
	uint64_t missing; /* of which missing */
	/* numeric */
	cs_profile_dist dist;
	/* categorical: the schema's levels in its order, their counts, and the unseen bin */
	int32_t   n_levels;
	char    **levels;
	uint64_t *level_counts;
	uint64_t  unseen;
} cs_profile_feature;

typedef struct cs_profile
{
	int32_t             n_features; /* the schema's features, in its order */
	cs_profile_feature *features;
	cs_profile_feature  score; /* numeric, named "score" */
} cs_profile;

/*
 * The profile of a model's features and scores on its training rows, as a
 * JSON text (*json is cs_malloc'd); scores[i] is the score of rows[i].
 */
cs_status cs_profile_build(const cs_schema *schema, const cs_dataset *ds, const size_t *rows,
						   size_t n, const double *scores, char **json, cs_error *err);

/* The bins and ECDF of m ascending, finite values. */
cs_status
	 cs_profile_dist_build(const double *sorted, size_t m, cs_profile_dist *out, cs_error *err);
void cs_profile_dist_free(cs_profile_dist *d);

/* CS_ERR_CORRUPT naming the first inconsistency of a profile read back. */
cs_status cs_profile_check(const cs_profile *p, cs_error *err);
/* Frees what p owns (not p itself). */
void cs_profile_free(cs_profile *p);

/* A sample being compared with one profiled feature (or the score). */
typedef struct cs_drift_acc
{
	const cs_profile_feature *ref;
	uint64_t                  n;       /* values added */
	uint64_t                  missing; /* of which missing */
	uint64_t                  unseen;  /* categorical: levels unseen in training */
	uint64_t                 *bins;    /* numeric: n_edges + 1; categorical: n_levels */
	uint64_t                 *cells;   /* numeric: 2 n_points + 1 ECDF cells */
} cs_drift_acc;

/* The number of counters (uint64) an accumulator for ref needs. */
size_t cs_drift_acc_words(const cs_profile_feature *ref);
/* Starts an accumulator on words: cs_drift_acc_words(ref) zeroed counters. */
void cs_drift_acc_init(cs_drift_acc *a, const cs_profile_feature *ref, uint64_t *words);
/*
 * Adds one value: a number for a numeric feature, a level index (-1 when
 * unseen in training) for a categorical one; NaN when missing.
 */
void cs_drift_acc_add(cs_drift_acc *a, double x);

/* The population stability index of the sample against the profile. */
double cs_drift_psi(const cs_drift_acc *a);
/*
 * KS test of the sample's non-missing values against the profile's ECDF;
 * NaN figures for a categorical feature or fewer than two values on a side.
 */
void cs_drift_ks(const cs_drift_acc *a, cs_ks_test *out);

/*
 * sum_i (a_i - e_i) ln(a_i / e_i) over proportions e_i = expected[i] / n_e and
 * a_i = actual[i] / n_a, each floored at CS_PSI_FLOOR; NaN when n_e or n_a is
 * 0.
 */
double
cs_psi(const uint64_t *expected, const uint64_t *actual, int n_bins, uint64_t n_e, uint64_t n_a);
/* "stable", "investigate" or "shifted" (NULL for NaN). */
const char *cs_psi_verdict(double psi);

#endif /* CS_PROFILE_H */
