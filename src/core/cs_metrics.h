/*
 * cs_metrics.h - evaluating a probabilistic binary classifier: the metrics of
 * cs_evaluate, the curves a BI tool plots, and the pieces the SQL aggregates
 * are built from.  Pure C11 like the rest of the core.
 *
 * Everything works on an array of cs_scored rows.  Functions named *_sorted
 * want the rows sorted by cs_scored_sort first; sorting by the whole row makes
 * every result independent of the order in which the rows arrived (a parallel
 * plan gives the bits of a serial one).  The definitions, which
 * test/reference/metrics_reference.py reproduces with scikit-learn and SciPy,
 * are in src/core/README.md ("Evaluation").
 */
#ifndef CS_METRICS_H
#define CS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "cs_core.h"

/* z of a two-sided 95% normal interval: scipy.stats.norm.ppf(0.975) */
#define CS_Z_95 1.959963984540054

/* a prediction is high-confidence when p <= 0.1 or p >= 0.9, i.e. |p - 0.5| >= 0.4 */
#define CS_CONFIDENT_LOW  0.1
#define CS_CONFIDENT_HIGH 0.9

/* One scored row. */
typedef struct cs_scored
{
	double  score;    /* the model's score, P(positive); never NaN */
	double  weight;   /* the row's weight in the cost (a loan amount), 1 when none */
	uint8_t positive; /* 1 for the positive class (a default) */
} cs_scored;

/* Sorts rows by (score, positive, weight), ascending. */
void cs_scored_sort(cs_scored *rows, size_t n);

/* Confusion counts at a threshold: score >= threshold predicts positive. */
typedef struct cs_confusion
{
	uint64_t tp;
	uint64_t fp;
	uint64_t tn;
	uint64_t fn;
} cs_confusion;

/* What a confusion matrix gives; a ratio whose denominator is 0 is 0 (scikit-learn's
 * zero_division=0). */
typedef struct cs_rates
{
	double accuracy;
	double precision;
	double recall; /* true positive rate */
	double specificity;
	double f1;
} cs_rates;

/* Counts one row into c. */
void cs_confusion_add(cs_confusion *c, double score, int positive, double threshold);
/* Accuracy, precision, recall, specificity, F1 of c (NaN for all when c is empty). */
void cs_confusion_rates(const cs_confusion *c, cs_rates *out);

/* Neumaier's compensated sum: a sum of many terms that hardly depends on their order. */
typedef struct cs_ksum
{
	double sum;
	double comp;
} cs_ksum;

void   cs_ksum_add(cs_ksum *s, double x);
void   cs_ksum_merge(cs_ksum *s, const cs_ksum *other);
double cs_ksum_value(const cs_ksum *s);

/* One row's log loss, p clipped to [1e-15, 1 - 1e-15]. */
double cs_log_loss_term(double p, int positive);
/* One row's squared error (p - y)^2. */
double cs_brier_term(double p, int positive);

/* ROC AUC, its DeLong variance and 95% interval (clipped to [0, 1]). */
typedef struct cs_auc_ci
{
	double auc; /* NaN when a class is absent */
	double var; /* NaN when a class has fewer than 2 rows */
	double lo;
	double hi;
} cs_auc_ci;

void cs_auc_delong_sorted(const cs_scored *rows, size_t n, cs_auc_ci *out);
/* Kolmogorov-Smirnov statistic max |TPR - FPR|; NaN when a class is absent. */
double cs_ks_sorted(const cs_scored *rows, size_t n);

/* How cs_evaluate_sorted decides and what its errors cost. */
typedef struct cs_eval_options
{
	double threshold; /* in [0, 1]: score >= threshold predicts positive */
	double cost_fn;   /* cost of a false negative: approving a defaulter */
	double cost_fp;   /* cost of a false positive: declining a good payer */
} cs_eval_options;

/* Every metric of cs_evaluate; NaN where undefined. */
typedef struct cs_eval
{
	uint64_t     n;
	uint64_t     n_pos;
	uint64_t     n_neg;
	double       threshold;
	cs_auc_ci    auc;
	double       gini;
	double       ks;
	cs_confusion confusion;
	cs_rates     rates;
	double       log_loss;
	double       brier;
	double       rmse;
	double       mae;
	/* error analysis: rows misclassified at the threshold, by confidence */
	uint64_t errors;
	uint64_t confident_n;
	uint64_t confident_errors;
	uint64_t unsure_n;
	uint64_t unsure_errors;
	/* business: an application is approved when score < threshold */
	uint64_t approved;
	double   approval_rate;
	double   default_rate_approved; /* NaN when nobody is approved */
	double   total_cost;            /* cost_fn * approved defaulters + cost_fp * declined good */
	double   expected_cost;         /* total_cost / n */
	/* the threshold that minimises total_cost over all cut points (ties: the lowest) */
	double best_threshold;
	double best_total_cost;
	double best_expected_cost;
	double best_approval_rate;
} cs_eval;

/* Every metric of sorted rows; CS_ERR_INVALID when n is 0 or an option is out of range. */
cs_status cs_evaluate_sorted(const cs_scored *rows, size_t n, const cs_eval_options *opt,
							 cs_eval *out, cs_error *err);

/* ------------------------------------------------------------------ curves */

/* A cut point: the rows with score >= threshold are predicted positive. */
typedef struct cs_cut
{
	double   threshold;
	uint64_t tp;
	uint64_t fp;
} cs_cut;

/*
 * The cut points of sorted rows, one per distinct score in descending order,
 * after a first point (threshold +inf, tp = fp = 0); *out is cs_malloc'd.
 */
cs_status
cs_cuts_sorted(const cs_scored *rows, size_t n, cs_cut **out, size_t *n_out, cs_error *err);

/* One bin of a reliability diagram. */
typedef struct cs_calibration_bin
{
	double   lower; /* bin k holds lower < p <= upper (the first also p = 0) */
	double   upper;
	uint64_t count;
	double   mean_score;    /* NaN when empty */
	double   observed_rate; /* NaN when empty */
} cs_calibration_bin;

/* Equal-width bins of [0, 1] as scikit-learn's calibration_curve; out has bins entries. */
cs_status
cs_calibration(const cs_scored *rows, size_t n, int bins, cs_calibration_bin *out, cs_error *err);

/* One group of a lift table, highest scores first. */
typedef struct cs_lift_group
{
	uint64_t count;
	uint64_t positives;
	double   rate;            /* positives / count; NaN when empty */
	double   lift;            /* rate / overall positive rate */
	double   cumulative_gain; /* positives in this and higher groups / all positives */
	double   min_score;       /* NaN when empty */
	double   max_score;
} cs_lift_group;

/*
 * Groups of equal size by descending score (as SQL's ntile), a run of tied
 * scores kept whole in the group of its first row; out has groups entries.
 */
cs_status
cs_lift_sorted(const cs_scored *rows, size_t n, int groups, cs_lift_group *out, cs_error *err);

#endif /* CS_METRICS_H */
