/*
 * test_metrics.c - unit tests of the evaluation core (src/core/evaluate.c and
 * src/core/curve.c), printing TAP.
 *
 * Build and run (from the repository root): make unittest, or
 *   gcc -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Isrc/core \
 *       -o test/unit/test_metrics test/unit/test_metrics.c src/core/\*.c -ldl -lpthread -lm
 *   prove test/unit/test_metrics
 *
 * The hand-made figures are scikit-learn's and SciPy's, copied from
 * test/reference/metrics_reference.json (cases hand_ties and hand_extremes);
 * the randomised checks compare the O(n log n) algorithms with brute force.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cs_metrics.h"
#include "tap.h"

/* ------------------------------------------------------------------ helpers */

/* Whether a and b agree to within tol, relative to max(1, |a|, |b|). */
static int
close_to(double a, double b, double tol)
{
	double scale = fmax(1.0, fmax(fabs(a), fabs(b)));

	return fabs(a - b) <= tol * scale;
}

/* Rows from parallel arrays (weight NULL = 1). */
static cs_scored *
make_rows(const double *score, const int *label, const double *weight, size_t n)
{
	cs_scored *rows = calloc(n, sizeof(cs_scored));
	size_t     i;

	for (i = 0; i < n; i++)
	{
		rows[i].score = score[i];
		rows[i].positive = (uint8_t) label[i];
		rows[i].weight = weight ? weight[i] : 1.0;
	}
	return rows;
}

/* n random rows: scores on a grid of `levels` values (ties), about 30% positive. */
static cs_scored *
random_rows(cs_rng *rng, size_t n, int levels)
{
	cs_scored *rows = calloc(n, sizeof(cs_scored));
	size_t     i;

	for (i = 0; i < n; i++)
	{
		int    positive = cs_rng_uniform(rng) < 0.3;
		double u = cs_rng_uniform(rng) * 0.7 + (positive ? 0.3 : 0.0);

		rows[i].score = floor(u * levels) / levels;
		rows[i].positive = (uint8_t) positive;
		rows[i].weight = (double) (1 + cs_rng_next(rng) % 100);
	}
	return rows;
}

/* Shuffles rows (Fisher-Yates). */
static void
shuffle(cs_rng *rng, cs_scored *rows, size_t n)
{
	size_t i;

	for (i = n; i > 1; i--)
	{
		size_t    j = cs_rng_next(rng) % i;
		cs_scored t = rows[i - 1];

		rows[i - 1] = rows[j];
		rows[j] = t;
	}
}

/* AUC and DeLong variance from the m x n kernel, straight from the definition. */
static void
delong_brute(const cs_scored *rows, size_t n, double *auc, double *var)
{
	size_t  m_pos = 0;
	size_t  m_neg = 0;
	size_t  i;
	size_t  j;
	double *v10 = calloc(n, sizeof(double));
	double *v01 = calloc(n, sizeof(double));
	double  sum = 0.0;
	double  s10 = 0.0;
	double  s01 = 0.0;

	for (i = 0; i < n; i++)
		m_pos += rows[i].positive;
	m_neg = n - m_pos;
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++)
			if (rows[i].positive && !rows[j].positive)
			{
				double psi = rows[i].score > rows[j].score  ? 1.0 :
							 rows[i].score == rows[j].score ? 0.5 :
															  0.0;

				v10[i] += psi / (double) m_neg;
				v01[j] += psi / (double) m_pos;
				sum += psi;
			}
	*auc = sum / ((double) m_pos * (double) m_neg);
	for (i = 0; i < n; i++)
	{
		if (rows[i].positive)
			s10 += (v10[i] - *auc) * (v10[i] - *auc);
		else
			s01 += (v01[i] - *auc) * (v01[i] - *auc);
	}
	*var =
		s10 / (double) (m_pos - 1) / (double) m_pos + s01 / (double) (m_neg - 1) / (double) m_neg;
	free(v10);
	free(v01);
}

/* max |TPR - FPR| over every distinct score as a threshold, by brute force. */
static double
ks_brute(const cs_scored *rows, size_t n)
{
	double best = 0.0;
	size_t pos = 0;
	size_t i;
	size_t j;

	for (i = 0; i < n; i++)
		pos += rows[i].positive;
	for (i = 0; i < n; i++)
	{
		double tp = 0.0;
		double fp = 0.0;

		for (j = 0; j < n; j++)
			if (rows[j].score >= rows[i].score)
			{
				tp += rows[j].positive;
				fp += !rows[j].positive;
			}
		best = fmax(best, fabs(tp / (double) pos - fp / (double) (n - pos)));
	}
	return best;
}

/* Total cost of approving p < t, by brute force. */
static double
cost_at(const cs_scored *rows, size_t n, double t, double cost_fn, double cost_fp)
{
	double cost = 0.0;
	size_t i;

	for (i = 0; i < n; i++)
	{
		if (rows[i].positive && rows[i].score < t)
			cost += cost_fn * rows[i].weight;
		else if (!rows[i].positive && rows[i].score >= t)
			cost += cost_fp * rows[i].weight;
	}
	return cost;
}

/* ------------------------------------------------------- hand_ties (sklearn) */

static const double hand_score[] = { 0.1, 0.1, 0.2, 0.35, 0.35, 0.35, 0.5, 0.5,
									 0.8, 0.9, 0.9, 0.95, 0.05, 0.6,  0.6 };
static const int    hand_label[] = { 0, 1, 0, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 0, 1 };
static const double hand_amount[] = { 1000, 2500, 800,  1200, 4000, 1500, 900, 3000,
									  2000, 700,  5000, 1100, 600,  2200, 1800 };

static void
test_hand_ties(void)
{
	cs_scored      *rows = make_rows(hand_score, hand_label, NULL, 15);
	cs_scored      *weighted = make_rows(hand_score, hand_label, hand_amount, 15);
	cs_eval_options opt = { 0.5, 5.0, 1.0 };
	cs_eval         e;
	cs_error        err = { 0 };

	cs_scored_sort(rows, 15);
	cs_scored_sort(weighted, 15);
	tap_ok(cs_evaluate_sorted(rows, 15, &opt, &e, &err) == CS_OK, "evaluate hand_ties");
	tap_ok(e.n == 15 && e.n_pos == 7 && e.n_neg == 8, "hand_ties: 15 rows, 7 positive");
	tap_ok(close_to(e.auc.auc, 0.7142857142857142, 1e-15), "AUC = roc_auc_score (ties count 1/2)");
	tap_ok(close_to(e.gini, 0.4285714285714284, 1e-15), "Gini = 2 AUC - 1");
	tap_ok(close_to(e.ks, 0.3392857142857143, 1e-15), "KS = ks_2samp statistic");
	tap_ok(close_to(e.auc.var, 0.019891885325558797, 1e-14), "DeLong variance");
	tap_ok(close_to(e.auc.lo, 0.4378551473360661, 1e-14) &&
			   close_to(e.auc.hi, 0.9907162812353623, 1e-14),
		   "DeLong 95%% interval");
	tap_ok(e.confusion.tp == 5 && e.confusion.fp == 3 && e.confusion.tn == 5 && e.confusion.fn == 2,
		   "confusion matrix at 0.5 (0.5 itself predicts positive)");
	tap_ok(close_to(e.rates.accuracy, 0.6666666666666666, 1e-15) &&
			   close_to(e.rates.precision, 0.625, 1e-15) &&
			   close_to(e.rates.recall, 0.7142857142857143, 1e-15) &&
			   close_to(e.rates.specificity, 0.625, 1e-15) &&
			   close_to(e.rates.f1, 0.6666666666666666, 1e-15),
		   "accuracy, precision, recall, specificity, F1");
	tap_ok(close_to(e.log_loss, 0.6726375721433923, 1e-14) && close_to(e.brier, 0.2275, 1e-15) &&
			   close_to(e.rmse, 0.47696960070847283, 1e-15) &&
			   close_to(e.mae, 0.38999999999999996, 1e-15),
		   "log loss, Brier, RMSE, MAE");
	tap_ok(e.errors == 5 && e.confident_n == 6 && e.confident_errors == 2 && e.unsure_n == 9 &&
			   e.unsure_errors == 3,
		   "errors by confidence: 2 of 6 confident, 3 of 9 unsure");
	tap_ok(e.approved == 7 && close_to(e.approval_rate, 7.0 / 15.0, 1e-15) &&
			   close_to(e.default_rate_approved, 2.0 / 7.0, 1e-15),
		   "approval rate and default rate among the approved");
	tap_ok(e.total_cost == 13.0 && e.best_threshold == 0.1 && e.best_total_cost == 7.0 &&
			   close_to(e.best_approval_rate, 1.0 / 15.0, 1e-15),
		   "cost 5 x 2 + 1 x 3 = 13 at 0.5; the optimum approves below 0.1 at cost 7");
	tap_ok(cs_evaluate_sorted(weighted, 15, &opt, &e, &err) == CS_OK && e.total_cost == 28700.0 &&
			   e.best_threshold == 0.1 && e.best_total_cost == 17500.0,
		   "costs weighted by the amount: 28700 at 0.5, 17500 at 0.1");
	opt.threshold = 0.35;
	cs_evaluate_sorted(rows, 15, &opt, &e, &err);
	tap_ok(e.confusion.tp == 6 && e.confusion.fp == 5 && e.confusion.tn == 3 &&
			   e.confusion.fn == 1 && close_to(e.rates.f1, 0.6666666666666665, 1e-15),
		   "threshold 0.35: a run of tied scores at the threshold is predicted positive");
	free(rows);
	free(weighted);
}

/* Scores 0 and 1 (log-loss clipping), 0.1 and 0.9 (confidence bounds), 0.5 (threshold). */
static void
test_hand_extremes(void)
{
	const double    score[] = { 0.0, 1.0, 0.0, 1.0, 0.1, 0.9, 0.1, 0.9, 0.5, 0.5, 0.49, 0.75 };
	const int       label[] = { 0, 1, 1, 0, 0, 1, 1, 0, 1, 0, 0, 1 };
	cs_scored      *rows = make_rows(score, label, NULL, 12);
	cs_eval_options opt = { 0.5, 5.0, 1.0 };
	cs_eval         e;
	cs_error        err = { 0 };

	cs_scored_sort(rows, 12);
	cs_evaluate_sorted(rows, 12, &opt, &e, &err);
	tap_ok(close_to(e.log_loss, 6.353463715949228, 1e-14), "log loss clips 0 and 1 to 1e-15");
	tap_ok(close_to(e.auc.auc, 0.5416666666666666, 1e-15) &&
			   close_to(e.auc.var, 0.03310185185185185, 1e-14) &&
			   close_to(e.ks, 0.16666666666666666, 1e-15),
		   "AUC, DeLong variance and KS");
	tap_ok(e.confident_n == 8 && e.confident_errors == 4 && e.unsure_errors == 1,
		   "p = 0.1 and p = 0.9 are high-confidence (|p - 0.5| >= 0.4)");
	tap_ok(e.best_threshold == 0.0 && e.best_total_cost == 6.0 && e.best_approval_rate == 0.0,
		   "the cheapest policy declines everyone (a score of 1 rules out threshold 1)");
	free(rows);
}

/* ---------------------------------------------------- randomised agreement */

static void
test_against_brute_force(void)
{
	cs_rng rng;
	int    round;
	int    auc_ok = 1;
	int    var_ok = 1;
	int    ks_ok = 1;
	int    cost_ok = 1;
	int    order_ok = 1;

	cs_rng_seed(&rng, 7);
	for (round = 0; round < 40; round++)
	{
		size_t          n = 20 + cs_rng_next(&rng) % 300;
		cs_scored      *rows = random_rows(&rng, n, round % 2 ? 10 : 1000);
		cs_scored      *again = malloc(n * sizeof(cs_scored));
		cs_eval_options opt = { 0.5, 1.0 + round % 7, 1.0 };
		cs_eval         e;
		cs_eval         e2;
		double          auc;
		double          var;
		double          best = INFINITY;
		size_t          i;

		memcpy(again, rows, n * sizeof(cs_scored));
		cs_scored_sort(rows, n);
		if (cs_evaluate_sorted(rows, n, &opt, &e, NULL) != CS_OK)
			abort();
		delong_brute(rows, n, &auc, &var);
		auc_ok &= close_to(e.auc.auc, auc, 1e-14);
		var_ok &= close_to(e.auc.var, var, 1e-13);
		ks_ok &= close_to(e.ks, ks_brute(rows, n), 1e-15);
		for (i = 0; i <= n; i++)
		{
			double t = i == n ? 1.0 : rows[i].score;

			best = fmin(best, cost_at(rows, n, t, opt.cost_fn, opt.cost_fp));
		}
		cost_ok &= close_to(e.best_total_cost, best, 1e-13) &&
				   close_to(e.best_total_cost,
							cost_at(rows, n, e.best_threshold, opt.cost_fn, opt.cost_fp),
							1e-13) &&
				   close_to(e.total_cost, cost_at(rows, n, 0.5, opt.cost_fn, opt.cost_fp), 1e-13);
		shuffle(&rng, again, n);
		cs_scored_sort(again, n);
		cs_evaluate_sorted(again, n, &opt, &e2, NULL);
		order_ok &= memcmp(&e, &e2, sizeof(cs_eval)) == 0;
		free(rows);
		free(again);
	}
	tap_ok(auc_ok, "AUC equals the pairwise count on 40 random samples with ties");
	tap_ok(var_ok, "fast DeLong variance equals the O(mn) structural components");
	tap_ok(ks_ok, "KS equals max |TPR - FPR| over every threshold");
	tap_ok(cost_ok, "the optimal threshold's cost is the minimum over every cut point");
	tap_ok(order_ok, "every figure is bit for bit the same for any row order");
}

/* ------------------------------------------------------------------- curves */

static void
test_curves(void)
{
	cs_scored         *rows = make_rows(hand_score, hand_label, NULL, 15);
	cs_cut            *cuts = NULL;
	size_t             n_cuts = 0;
	cs_calibration_bin bins[10];
	cs_lift_group      groups[10];
	cs_error           err = { 0 };

	cs_scored_sort(rows, 15);
	tap_ok(cs_cuts_sorted(rows, 15, &cuts, &n_cuts, &err) == CS_OK && n_cuts == 10,
		   "cut points: one per distinct score after a first point");
	tap_ok(isinf(cuts[0].threshold) && cuts[0].tp == 0 && cuts[0].fp == 0 &&
			   cuts[1].threshold == 0.95 && cuts[1].tp == 1 && cuts[1].fp == 0 &&
			   cuts[6].threshold == 0.35 && cuts[6].tp == 6 && cuts[6].fp == 5 &&
			   cuts[9].threshold == 0.05 && cuts[9].tp == 7 && cuts[9].fp == 8,
		   "cut points match roc_curve(drop_intermediate=False)");
	cs_free(cuts);
	tap_ok(cs_calibration(rows, 15, 10, bins, &err) == CS_OK && bins[0].count == 3 &&
			   bins[1].count == 1 && bins[2].count == 0 && isnan(bins[2].mean_score) &&
			   bins[8].count == 2 && bins[9].count == 1,
		   "calibration: a score on an edge (0.1, 0.9) belongs to the lower bin");
	tap_ok(bins[2].upper == 0.30000000000000004 && bins[3].lower == bins[2].upper &&
			   close_to(bins[3].mean_score, 0.35, 1e-15) &&
			   close_to(bins[0].observed_rate, 1.0 / 3.0, 1e-15),
		   "calibration: numpy.linspace's edges, mean score and observed rate");
	tap_ok(cs_lift_sorted(rows, 15, 10, groups, &err) == CS_OK && groups[0].count == 3 &&
			   groups[0].positives == 2 && groups[5].count == 0 && isnan(groups[5].rate) &&
			   groups[7].count == 2 && groups[9].count == 1,
		   "lift: a run of ties stays in the decile of its first row");
	tap_ok(close_to(groups[0].lift, 1.4285714285714284, 1e-15) &&
			   close_to(groups[1].cumulative_gain, 3.0 / 7.0, 1e-15) &&
			   groups[9].cumulative_gain == 1.0 && groups[0].max_score == 0.95 &&
			   groups[0].min_score == 0.9,
		   "lift, cumulative gain, score range of a decile");
	free(rows);
	{
		double     s[25];
		int        y[25];
		cs_scored *r;
		int        i;
		int        sizes_ok = 1;

		for (i = 0; i < 25; i++)
		{
			s[i] = (double) i / 25.0;
			y[i] = i % 3 == 0;
		}
		r = make_rows(s, y, NULL, 25);
		cs_scored_sort(r, 25);
		cs_lift_sorted(r, 25, 10, groups, &err);
		for (i = 0; i < 10; i++)
			sizes_ok &= groups[i].count == (i < 5 ? 3u : 2u);
		tap_ok(sizes_ok && groups[0].max_score == 0.96,
			   "lift without ties: groups sized as ntile(10) (3 x 5, then 2 x 5)");
		free(r);
	}
}

/* ---------------------------------------------------------------- bad input */

static void
test_bad_input(void)
{
	cs_scored          rows[2] = { { 0.2, 1.0, 0 }, { 0.7, 1.0, 1 } };
	cs_scored          nan_row[1] = { { NAN, 1.0, 0 } };
	cs_scored          big[1] = { { 1.5, 1.0, 0 } };
	cs_eval_options    opt = { 0.5, 1.0, 1.0 };
	cs_eval            e;
	cs_error           err = { 0 };
	cs_calibration_bin bins[2];
	cs_confusion       empty = { 0 };
	cs_rates           rates;
	cs_ksum            s = { 0, 0 };

	tap_ok(cs_evaluate_sorted(rows, 0, &opt, &e, &err) == CS_ERR_INVALID &&
			   strcmp(err.msg, "no rows to evaluate") == 0,
		   "evaluate: no rows");
	opt.threshold = 1.5;
	tap_ok(cs_evaluate_sorted(rows, 2, &opt, &e, &err) == CS_ERR_INVALID &&
			   strstr(err.msg, "outside [0, 1]") != NULL,
		   "evaluate: threshold outside [0, 1]");
	opt.threshold = NAN;
	tap_ok(cs_evaluate_sorted(rows, 2, &opt, &e, &err) == CS_ERR_INVALID,
		   "evaluate: NaN threshold");
	opt.threshold = 0.5;
	opt.cost_fp = -1.0;
	tap_ok(cs_evaluate_sorted(rows, 2, &opt, &e, &err) == CS_ERR_INVALID &&
			   strstr(err.msg, "not negative") != NULL,
		   "evaluate: a negative cost");
	opt.cost_fp = 1.0;
	tap_ok(cs_evaluate_sorted(nan_row, 1, &opt, &e, &err) == CS_ERR_INVALID,
		   "evaluate: a NaN score");
	tap_ok(cs_evaluate_sorted(rows, 1, &opt, &e, &err) == CS_OK && isnan(e.auc.auc) &&
			   isnan(e.ks) && isnan(e.gini) && e.rates.precision == 0.0 && e.rates.recall == 0.0,
		   "a single class: AUC, Gini and KS undefined; 0/0 rates are 0 as scikit-learn");
	tap_ok(cs_evaluate_sorted(rows, 2, &opt, &e, &err) == CS_OK && e.auc.auc == 1.0 &&
			   isnan(e.auc.var) && isnan(e.auc.lo),
		   "one row per class: an AUC without a DeLong variance");
	tap_ok(cs_calibration(big, 1, 2, bins, &err) == CS_ERR_INVALID &&
			   strstr(err.msg, "1.5") != NULL,
		   "calibration: a score outside [0, 1]");
	tap_ok(cs_calibration(rows, 2, 0, bins, &err) == CS_ERR_INVALID, "calibration: 0 bins");
	cs_confusion_rates(&empty, &rates);
	tap_ok(isnan(rates.accuracy) && isnan(rates.f1), "rates of an empty confusion matrix are NaN");
	cs_ksum_add(&s, 1e16);
	cs_ksum_add(&s, 1.0);
	cs_ksum_add(&s, -1e16);
	tap_ok(cs_ksum_value(&s) == 1.0, "compensated sum keeps 1e16 + 1 - 1e16 = 1");
}

int
main(void)
{
	test_hand_ties();
	test_hand_extremes();
	test_against_brute_force();
	test_curves();
	test_bad_input();
	return tap_finish();
}
