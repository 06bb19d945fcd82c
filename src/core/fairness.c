/*
 * fairness.c - group fairness figures of approval decisions.
 *
 * The definitions are those of the two reference libraries, with approval as
 * the favourable outcome and "did not default" as the truly good label:
 *
 *  - fairlearn (fairlearn.metrics, method='between_groups', unsigned):
 *    demographic_parity_difference = max - min selection rate over groups,
 *    demographic_parity_ratio = min / max selection rate,
 *    equal_opportunity_difference = max - min true positive rate
 *    (true_positive_rate_difference), equalized_odds_difference = the larger
 *    of the true and false positive rate differences.
 *  - AIF360 (ClassificationMetric, signed, unprivileged vs privileged):
 *    statistical_parity_difference = P(approved | unprivileged)
 *    - P(approved | privileged), disparate_impact = their ratio, where the
 *    unprivileged rows are all the rows outside the privileged group.
 *  - The four-fifths rule (EEOC Uniform Guidelines, 29 CFR 1607.4(D)): a
 *    group's selection rate below 4/5 of the reference group's is evidence of
 *    adverse impact; the reference is the privileged group when one is
 *    named, else the group with the highest rate.  The rule holds when every
 *    group's impact ratio is at least 0.8.
 *
 * A rate whose denominator is zero (a group without good payers has no true
 * positive rate) is undefined, NaN here, and is left out of the maxima and
 * minima; a figure with nothing left to compare is NaN.
 */
#include <math.h>

#include "cs_fairness.h"

/* a / b, NaN when b is zero. */
static double
rate(uint64_t a, uint64_t b)
{
	return b == 0 ? NAN : (double) a / (double) b;
}

/* Checks that counts are consistent (subsets no larger than their sets). */
int
cs_fair_counts_valid(const cs_fair_counts *c)
{
	return c->approved <= c->n && c->good <= c->n && c->bad <= c->n - c->good &&
		   c->approved_good <= c->good && c->approved_bad <= c->bad &&
		   c->approved_good + c->approved_bad <= c->approved;
}

typedef enum rate_kind
{
	RATE_SELECTION,
	RATE_TPR,
	RATE_FPR
} rate_kind;

/* One of a group's rates. */
static double
rate_of(const cs_fair_group *g, rate_kind kind)
{
	switch (kind)
	{
		case RATE_SELECTION:
			return g->selection_rate;
		case RATE_TPR:
			return g->true_positive_rate;
		default:
			return g->false_positive_rate;
	}
}

/* Max and min of one rate over the groups where it is defined. */
static void
rate_range(const cs_fair_group *g, int n, rate_kind kind, double *lo, double *hi)
{
	int i;

	*lo = NAN;
	*hi = NAN;
	for (i = 0; i < n; i++)
	{
		double v = rate_of(&g[i], kind);

		if (isnan(v))
			continue;
		if (isnan(*lo) || v < *lo)
			*lo = v;
		if (isnan(*hi) || v > *hi)
			*hi = v;
	}
}

/* Whether approved_a / n_a >= 0.8 * approved_b / n_b, exactly: 1, 0, or -1 undefined. */
static int
four_fifths(uint64_t approved_a, uint64_t n_a, uint64_t approved_b, uint64_t n_b)
{
	/* products below 2^64 are exact in long double */
	long double lhs = 5.0L * (long double) approved_a * (long double) n_b;
	long double rhs = 4.0L * (long double) approved_b * (long double) n_a;

	if (n_a == 0 || n_b == 0 || approved_b == 0)
		return -1;
	return lhs >= rhs ? 1 : 0;
}

/* Fills each group's rates and the summary. */
void
cs_fairness_compute(cs_fair_group *groups, int n_groups, int privileged, cs_fair_summary *out)
{
	double   lo;
	double   hi;
	double   tpr_diff;
	double   fpr_diff;
	int      ref = privileged;
	int      i;
	uint64_t un_n = 0;
	uint64_t un_approved = 0;

	for (i = 0; i < n_groups; i++)
	{
		cs_fair_group *g = &groups[i];

		g->selection_rate = rate(g->c.approved, g->c.n);
		g->true_positive_rate = rate(g->c.approved_good, g->c.good);
		g->false_positive_rate = rate(g->c.approved_bad, g->c.bad);
		g->precision = rate(g->c.approved_good, g->c.approved_good + g->c.approved_bad);
	}

	rate_range(groups, n_groups, RATE_SELECTION, &lo, &hi);
	out->demographic_parity_difference = hi - lo;
	out->demographic_parity_ratio = hi > 0 ? lo / hi : NAN;
	rate_range(groups, n_groups, RATE_TPR, &lo, &hi);
	tpr_diff = hi - lo;
	out->equal_opportunity_difference = tpr_diff;
	rate_range(groups, n_groups, RATE_FPR, &lo, &hi);
	fpr_diff = hi - lo;
	out->equalized_odds_difference =
		isnan(tpr_diff) ? fpr_diff : (isnan(fpr_diff) ? tpr_diff : fmax(tpr_diff, fpr_diff));

	/* the reference group: the privileged one, else the highest selection rate */
	if (ref < 0)
		for (i = 0; i < n_groups; i++)
			if (ref < 0 || groups[i].selection_rate > groups[ref].selection_rate)
				ref = i;
	out->reference = ref;
	out->four_fifths_rule = n_groups > 0 ? 1 : -1;
	for (i = 0; i < n_groups; i++)
	{
		cs_fair_group       *g = &groups[i];
		const cs_fair_group *r = &groups[ref];

		g->parity_difference = g->selection_rate - r->selection_rate;
		g->impact_ratio = r->selection_rate > 0 ? g->selection_rate / r->selection_rate : NAN;
		g->passes_four_fifths = four_fifths(g->c.approved, g->c.n, r->c.approved, r->c.n);
		if (g->passes_four_fifths < 0)
			out->four_fifths_rule = -1;
		else if (g->passes_four_fifths == 0 && out->four_fifths_rule == 1)
			out->four_fifths_rule = 0;
		if (i != privileged)
		{
			un_n += g->c.n;
			un_approved += g->c.approved;
		}
	}

	out->statistical_parity_difference = NAN;
	out->disparate_impact = NAN;
	if (privileged >= 0 && un_n > 0)
	{
		double p_priv = groups[privileged].selection_rate;
		double p_unpriv = (double) un_approved / (double) un_n;

		out->statistical_parity_difference = p_unpriv - p_priv;
		out->disparate_impact = p_priv > 0 ? p_unpriv / p_priv : NAN;
	}
}
