/*
 * evaluate.c - the metrics of a probabilistic binary classifier on scored rows.
 *
 * One sort, then passes over runs of tied scores.  The AUC counts the pairs a
 * positive outranks (a tie counts one half) with integer arithmetic, so it is
 * exact; its variance is DeLong's (DeLong, DeLong & Clarke-Pearson 1988) in
 * the O(n log n) form of Sun & Xu (2014): each positive's placement value is
 * the share of negatives scored below it (ties one half), each negative's the
 * share of positives scored above it, and
 *     var(AUC) = S10 / m + S01 / n
 * with S10, S01 the sample variances (ddof 1) of the m positive and n negative
 * placement values.  Rows in a run of ties share their placement value, so
 * the sums run over runs, not rows.  The KS statistic is max |TPR - FPR| over
 * the cut points after each run, which is SciPy's two-sample KS statistic
 * between the positive and the negative scores.  The cost-minimising
 * threshold tries every cut point with prefix sums: O(n) after the sort.
 */
#include <math.h>
#include <stdlib.h>

#include "cs_metrics.h"

#define PROB_CLIP 1e-15

/* qsort order: score, then label, then weight. */
static int
compare_scored(const void *a, const void *b)
{
	const cs_scored *x = a;
	const cs_scored *y = b;

	if (x->score != y->score)
		return x->score < y->score ? -1 : 1;
	if (x->positive != y->positive)
		return x->positive < y->positive ? -1 : 1;
	return (x->weight > y->weight) - (x->weight < y->weight);
}

/* Sorts rows by (score, positive, weight), ascending. */
void
cs_scored_sort(cs_scored *rows, size_t n)
{
	if (n > 1)
		qsort(rows, n, sizeof(cs_scored), compare_scored);
}

/* End of the run of scores tied with rows[i]. */
static size_t
run_end(const cs_scored *rows, size_t n, size_t i)
{
	size_t j = i + 1;

	while (j < n && rows[j].score == rows[i].score)
		j++;
	return j;
}

/* Positives in rows[i..j). */
static uint64_t
run_positives(const cs_scored *rows, size_t i, size_t j)
{
	uint64_t pos = 0;

	for (; i < j; i++)
		pos += rows[i].positive != 0;
	return pos;
}

/* ------------------------------------------------------------ sums, rows */

/* Adds x (Neumaier's variant of Kahan summation). */
void
cs_ksum_add(cs_ksum *s, double x)
{
	double t = s->sum + x;

	if (fabs(s->sum) >= fabs(x))
		s->comp += (s->sum - t) + x;
	else
		s->comp += (x - t) + s->sum;
	s->sum = t;
}

/* Adds another compensated sum. */
void
cs_ksum_merge(cs_ksum *s, const cs_ksum *other)
{
	cs_ksum_add(s, other->sum);
	s->comp += other->comp;
}

/* The sum's value. */
double
cs_ksum_value(const cs_ksum *s)
{
	return s->sum + s->comp;
}

/* One row's log loss, p clipped to [1e-15, 1 - 1e-15]. */
double
cs_log_loss_term(double p, int positive)
{
	double q = fmin(fmax(p, PROB_CLIP), 1.0 - PROB_CLIP);

	return positive ? -log(q) : -log1p(-q);
}

/* One row's squared error. */
double
cs_brier_term(double p, int positive)
{
	double d = p - (positive ? 1.0 : 0.0);

	return d * d;
}

/* ------------------------------------------------------ confusion matrix */

/* Counts one row into c: score >= threshold predicts positive. */
void
cs_confusion_add(cs_confusion *c, double score, int positive, double threshold)
{
	int predicted = score >= threshold;

	if (predicted && positive)
		c->tp++;
	else if (predicted)
		c->fp++;
	else if (positive)
		c->fn++;
	else
		c->tn++;
}

/* num / den, 0 when den is 0 (scikit-learn's zero_division=0). */
static double
ratio_or_zero(double num, double den)
{
	return den > 0.0 ? num / den : 0.0;
}

/* The rates of a confusion matrix. */
void
cs_confusion_rates(const cs_confusion *c, cs_rates *out)
{
	double tp = (double) c->tp;
	double fp = (double) c->fp;
	double tn = (double) c->tn;
	double fn = (double) c->fn;
	double n = tp + fp + tn + fn;

	if (n == 0.0)
	{
		out->accuracy = out->precision = out->recall = out->specificity = out->f1 = NAN;
		return;
	}
	out->accuracy = (tp + tn) / n;
	out->precision = ratio_or_zero(tp, tp + fp);
	out->recall = ratio_or_zero(tp, tp + fn);
	out->specificity = ratio_or_zero(tn, tn + fp);
	out->f1 = ratio_or_zero(2.0 * tp, 2.0 * tp + fp + fn);
}

/* ---------------------------------------------------------------- AUC, KS */

/* AUC with DeLong's variance and 95% interval (see the top of the file). */
void
cs_auc_delong_sorted(const cs_scored *rows, size_t n, cs_auc_ci *out)
{
	uint64_t pos = run_positives(rows, 0, n);
	uint64_t neg = n - pos;
	uint64_t twice_u = 0; /* 2 * (pairs a positive wins + half the tied pairs) */
	uint64_t pos_below = 0;
	uint64_t neg_below = 0;
	cs_ksum  s10 = { 0, 0 };
	cs_ksum  s01 = { 0, 0 };
	double   auc;
	size_t   i;
	size_t   j;

	out->auc = out->var = out->lo = out->hi = NAN;
	if (pos == 0 || neg == 0)
		return;
	for (i = 0; i < n; i = j)
	{
		uint64_t run_pos;

		j = run_end(rows, n, i);
		run_pos = run_positives(rows, i, j);
		twice_u += run_pos * (2 * neg_below + (j - i - run_pos));
		neg_below += j - i - run_pos;
	}
	auc = (double) twice_u / (2.0 * (double) pos * (double) neg);
	out->auc = auc;
	if (pos < 2 || neg < 2)
		return;

	neg_below = 0;
	for (i = 0; i < n; i = j)
	{
		uint64_t run_pos;
		uint64_t run_neg;
		uint64_t pos_above;

		j = run_end(rows, n, i);
		run_pos = run_positives(rows, i, j);
		run_neg = j - i - run_pos;
		pos_above = pos - pos_below - run_pos;
		if (run_pos > 0)
		{
			double v10 = ((double) neg_below + 0.5 * (double) run_neg) / (double) neg;

			cs_ksum_add(&s10, (double) run_pos * (v10 - auc) * (v10 - auc));
		}
		if (run_neg > 0)
		{
			double v01 = ((double) pos_above + 0.5 * (double) run_pos) / (double) pos;

			cs_ksum_add(&s01, (double) run_neg * (v01 - auc) * (v01 - auc));
		}
		pos_below += run_pos;
		neg_below += run_neg;
	}
	out->var = cs_ksum_value(&s10) / ((double) pos - 1.0) / (double) pos +
			   cs_ksum_value(&s01) / ((double) neg - 1.0) / (double) neg;
	out->lo = fmax(0.0, auc - CS_Z_95 * sqrt(out->var));
	out->hi = fmin(1.0, auc + CS_Z_95 * sqrt(out->var));
}

/* max |TPR - FPR| over the cut points after each run of ties. */
double
cs_ks_sorted(const cs_scored *rows, size_t n)
{
	uint64_t pos = run_positives(rows, 0, n);
	uint64_t neg = n - pos;
	uint64_t tp = 0;
	uint64_t fp = 0;
	uint64_t best = 0;
	size_t   i;
	size_t   j;

	if (pos == 0 || neg == 0)
		return NAN;
	for (i = 0; i < n; i = j)
	{
		uint64_t run_pos;
		uint64_t d;

		j = run_end(rows, n, i);
		run_pos = run_positives(rows, i, j);
		tp += run_pos;
		fp += j - i - run_pos;
		/* |tp/pos - fp/neg| * pos * neg, exactly */
		d = tp * neg > fp * pos ? tp * neg - fp * pos : fp * pos - tp * neg;
		if (d > best)
			best = d;
	}
	return (double) best / ((double) pos * (double) neg);
}

/* --------------------------------------------------------------- evaluate */

/* The metrics that need no cut point search, in one pass over the rows. */
static void
row_metrics(const cs_scored *rows, size_t n, const cs_eval_options *opt, cs_eval *out)
{
	cs_ksum log_loss = { 0, 0 };
	cs_ksum squares = { 0, 0 };
	cs_ksum absolute = { 0, 0 };
	cs_ksum cost_fn = { 0, 0 };
	cs_ksum cost_fp = { 0, 0 };
	size_t  i;

	for (i = 0; i < n; i++)
	{
		const cs_scored *r = &rows[i];
		int              predicted = r->score >= opt->threshold;
		int              wrong = predicted != (r->positive != 0);
		int              confident = r->score <= CS_CONFIDENT_LOW || r->score >= CS_CONFIDENT_HIGH;

		cs_confusion_add(&out->confusion, r->score, r->positive, opt->threshold);
		cs_ksum_add(&log_loss, cs_log_loss_term(r->score, r->positive));
		cs_ksum_add(&squares, cs_brier_term(r->score, r->positive));
		cs_ksum_add(&absolute, fabs(r->score - (r->positive ? 1.0 : 0.0)));
		out->errors += wrong;
		out->confident_n += confident;
		out->confident_errors += confident && wrong;
		if (!predicted && r->positive)
			cs_ksum_add(&cost_fn, r->weight);
		else if (predicted && !r->positive)
			cs_ksum_add(&cost_fp, r->weight);
	}
	out->unsure_n = n - out->confident_n;
	out->unsure_errors = out->errors - out->confident_errors;
	out->log_loss = cs_ksum_value(&log_loss) / (double) n;
	out->brier = cs_ksum_value(&squares) / (double) n;
	out->rmse = sqrt(out->brier);
	out->mae = cs_ksum_value(&absolute) / (double) n;
	out->approved = out->confusion.tn + out->confusion.fn;
	out->approval_rate = (double) out->approved / (double) n;
	out->default_rate_approved =
		out->approved > 0 ? (double) out->confusion.fn / (double) out->approved : NAN;
	out->total_cost =
		opt->cost_fn * cs_ksum_value(&cost_fn) + opt->cost_fp * cs_ksum_value(&cost_fp);
	out->expected_cost = out->total_cost / (double) n;
}

/*
 * The threshold that minimises the total cost.  Threshold t approves the rows
 * scored below t; the candidates are every distinct score and 1 (approving
 * everyone) when every score is below 1.  Ties go to the lowest threshold.
 */
static void
best_threshold(const cs_scored *rows, size_t n, const cs_eval_options *opt, cs_eval *out)
{
	cs_ksum pos_below = { 0, 0 };
	cs_ksum neg_below = { 0, 0 };
	cs_ksum neg_total = { 0, 0 };
	double  neg_all;
	size_t  i;
	size_t  j;

	for (i = 0; i < n; i++)
		if (!rows[i].positive)
			cs_ksum_add(&neg_total, rows[i].weight);
	neg_all = cs_ksum_value(&neg_total);
	out->best_total_cost = INFINITY;
	for (i = 0; i <= n; i = j)
	{
		double cost;

		if (i == n && rows[n - 1].score >= 1.0)
			break;
		cost = opt->cost_fn * cs_ksum_value(&pos_below) +
			   opt->cost_fp * (neg_all - cs_ksum_value(&neg_below));
		if (cost < out->best_total_cost)
		{
			out->best_total_cost = cost;
			out->best_threshold = i == n ? 1.0 : rows[i].score;
			out->best_approval_rate = (double) i / (double) n;
		}
		if (i == n)
			break;
		for (j = i; j < n && rows[j].score == rows[i].score; j++)
			cs_ksum_add(rows[j].positive ? &pos_below : &neg_below, rows[j].weight);
	}
	out->best_expected_cost = out->best_total_cost / (double) n;
}

/* Every metric of sorted rows. */
cs_status
cs_evaluate_sorted(const cs_scored *rows, size_t n, const cs_eval_options *opt, cs_eval *out,
				   cs_error *err)
{
	cs_eval zero = { 0 };

	*out = zero;
	if (n == 0)
		return cs_fail(err, CS_ERR_INVALID, "no rows to evaluate");
	if (!(opt->threshold >= 0.0 && opt->threshold <= 1.0))
		return cs_fail(err, CS_ERR_INVALID, "threshold %g is outside [0, 1]", opt->threshold);
	if (!(opt->cost_fn >= 0.0 && opt->cost_fp >= 0.0) || isinf(opt->cost_fn) || isinf(opt->cost_fp))
		return cs_fail(err, CS_ERR_INVALID, "costs must be finite and not negative");
	for (size_t i = 0; i < n; i++)
		if (isnan(rows[i].score) || !(rows[i].weight >= 0.0) || isinf(rows[i].weight))
			return cs_fail(err,
						   CS_ERR_INVALID,
						   "a score is NaN, or a weight is negative or not finite");
	out->n = n;
	out->n_pos = run_positives(rows, 0, n);
	out->n_neg = n - out->n_pos;
	out->threshold = opt->threshold;
	cs_auc_delong_sorted(rows, n, &out->auc);
	out->gini = 2.0 * out->auc.auc - 1.0;
	out->ks = cs_ks_sorted(rows, n);
	row_metrics(rows, n, opt, out);
	cs_confusion_rates(&out->confusion, &out->rates);
	best_threshold(rows, n, opt, out);
	return CS_OK;
}
