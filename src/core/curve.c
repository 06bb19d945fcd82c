/*
 * curve.c - the points of the curves a BI tool plots: cut points (ROC and
 * precision-recall), reliability bins and lift groups.
 */
#include <math.h>
#include <stdlib.h>

#include "cs_metrics.h"

/* The cut points of sorted rows, after a first point that predicts nothing. */
cs_status
cs_cuts_sorted(const cs_scored *rows, size_t n, cs_cut **out, size_t *n_out, cs_error *err)
{
	size_t  runs = 0;
	size_t  k = 0;
	size_t  i;
	cs_cut *cuts;

	for (i = 0; i < n; i++)
		runs += i == 0 || rows[i].score != rows[i - 1].score;
	cuts = cs_malloc(cs_mul_size(runs + 1, sizeof(cs_cut)));
	if (cuts == NULL)
		return cs_fail(err, CS_ERR_NOMEM, "out of memory for %zu cut points", runs + 1);
	cuts[0].threshold = INFINITY;
	cuts[0].tp = cuts[0].fp = 0;
	/* descending: walk the runs from the end */
	for (i = n; i > 0;)
	{
		size_t start = i - 1;
		cs_cut c = cuts[k];

		while (start > 0 && rows[start - 1].score == rows[i - 1].score)
			start--;
		c.threshold = rows[start].score;
		for (; i > start; i--)
		{
			if (rows[i - 1].positive)
				c.tp++;
			else
				c.fp++;
		}
		cuts[++k] = c;
	}
	*out = cuts;
	*n_out = runs + 1;
	return CS_OK;
}

/* The bin of p among equal-width bins: the number of inner edges below p. */
static int
bin_of(double p, int bins, double step)
{
	int lo = 0;
	int hi = bins - 1; /* inner edges k * step, k = 1 .. bins - 1 */

	/* edges as numpy.linspace(0, 1, bins + 1) computes them: k * (1 / bins) */
	while (lo < hi)
	{
		int mid = (lo + hi) / 2;

		if ((double) (mid + 1) * step < p)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Equal-width reliability bins of [0, 1]. */
cs_status
cs_calibration(const cs_scored *rows, size_t n, int bins, cs_calibration_bin *out, cs_error *err)
{
	double   step;
	cs_ksum *sums;
	int      b;
	size_t   i;

	if (bins < 1)
		return cs_fail(err, CS_ERR_INVALID, "the number of bins must be at least 1");
	for (i = 0; i < n; i++)
		if (!(rows[i].score >= 0.0 && rows[i].score <= 1.0))
			return cs_fail(err,
						   CS_ERR_INVALID,
						   "calibration needs probabilities, and a score is %g",
						   rows[i].score);
	sums = cs_calloc((size_t) bins, sizeof(cs_ksum));
	if (sums == NULL)
		return cs_fail(err, CS_ERR_NOMEM, "out of memory for %d bins", bins);
	step = 1.0 / (double) bins;
	for (b = 0; b < bins; b++)
	{
		out[b].lower = b == 0 ? 0.0 : (double) b * step;
		out[b].upper = b == bins - 1 ? 1.0 : (double) (b + 1) * step;
		out[b].count = 0;
		out[b].observed_rate = 0.0;
	}
	for (i = 0; i < n; i++)
	{
		b = bin_of(rows[i].score, bins, step);
		out[b].count++;
		out[b].observed_rate += rows[i].positive != 0;
		cs_ksum_add(&sums[b], rows[i].score);
	}
	for (b = 0; b < bins; b++)
	{
		double count = (double) out[b].count;

		out[b].mean_score = count > 0 ? cs_ksum_value(&sums[b]) / count : NAN;
		out[b].observed_rate = count > 0 ? out[b].observed_rate / count : NAN;
	}
	cs_free(sums);
	return CS_OK;
}

/* The group (as SQL's ntile) of the row at 0-based position d of n. */
static int
ntile_of(size_t d, size_t n, int groups)
{
	size_t q = n / (size_t) groups;
	size_t r = n % (size_t) groups;

	if (d < r * (q + 1))
		return (int) (d / (q + 1));
	return (int) (r + (d - r * (q + 1)) / q);
}

/* Lift and gains by groups of descending score. */
cs_status
cs_lift_sorted(const cs_scored *rows, size_t n, int groups, cs_lift_group *out, cs_error *err)
{
	uint64_t pos_all = 0;
	uint64_t pos_cum = 0;
	size_t   d = 0; /* position in descending order */
	size_t   i;
	int      g;

	if (groups < 1)
		return cs_fail(err, CS_ERR_INVALID, "the number of groups must be at least 1");
	for (g = 0; g < groups; g++)
	{
		out[g].count = out[g].positives = 0;
		out[g].min_score = out[g].max_score = NAN;
	}
	for (i = n; i > 0;)
	{
		size_t start = i - 1;

		while (start > 0 && rows[start - 1].score == rows[i - 1].score)
			start--;
		g = ntile_of(d, n, groups);
		if (out[g].count == 0)
			out[g].max_score = rows[i - 1].score;
		out[g].min_score = rows[start].score;
		d += i - start;
		out[g].count += i - start;
		for (; i > start; i--)
			out[g].positives += rows[i - 1].positive != 0;
	}
	for (g = 0; g < groups; g++)
		pos_all += out[g].positives;
	for (g = 0; g < groups; g++)
	{
		double rate = out[g].count > 0 ? (double) out[g].positives / (double) out[g].count : NAN;

		pos_cum += out[g].positives;
		out[g].rate = rate;
		out[g].lift = pos_all > 0 ? rate / ((double) pos_all / (double) n) : NAN;
		out[g].cumulative_gain = pos_all > 0 ? (double) pos_cum / (double) pos_all : NAN;
	}
	return CS_OK;
}
