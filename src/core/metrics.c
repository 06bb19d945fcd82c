/*
 * metrics.c - evaluation metrics of a probabilistic binary classifier.
 */
#include <math.h>
#include <stdlib.h>

#include "cs_core.h"

#define PROB_CLIP 1e-15

typedef struct scored
{
	double  score;
	uint8_t positive;
} scored;

/* qsort order on the score. */
static int
compare_scores(const void *a, const void *b)
{
	double x = ((const scored *) a)->score;
	double y = ((const scored *) b)->score;

	return (x > y) - (x < y);
}

/*
 * ROC AUC by the rank-sum (Mann-Whitney) formula, tied scores sharing their
 * mean rank; NaN when a class is absent or out of memory.
 */
double
cs_auc(const double *score, const uint8_t *y, size_t n)
{
	scored *items = cs_malloc(cs_mul_size(n, sizeof(scored)));
	double  n_pos = 0.0;
	double  rank_sum = 0.0;
	double  n_neg;
	size_t  i;
	size_t  j;

	if (items == NULL)
		return NAN;
	for (i = 0; i < n; i++)
	{
		items[i].score = score[i];
		items[i].positive = y[i] != 0;
		n_pos += items[i].positive;
	}
	n_neg = (double) n - n_pos;
	if (n_pos == 0.0 || n_neg == 0.0)
	{
		cs_free(items);
		return NAN;
	}
	qsort(items, n, sizeof(scored), compare_scores);
	for (i = 0; i < n; i = j)
	{
		double tied_pos = 0.0;
		double mean_rank;

		for (j = i; j < n && items[j].score == items[i].score; j++)
			tied_pos += items[j].positive;
		if (j == i)
			j = i + 1; /* a NaN score ties with nothing */
		mean_rank = ((double) (i + 1) + (double) j) / 2.0;
		rank_sum += tied_pos * mean_rank;
	}
	cs_free(items);
	return (rank_sum - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg);
}

/* Mean log loss, probabilities clipped to [1e-15, 1 - 1e-15]; NaN when n is 0. */
double
cs_log_loss(const double *p, const uint8_t *y, size_t n)
{
	double sum = 0.0;
	size_t i;

	if (n == 0)
		return NAN;
	for (i = 0; i < n; i++)
	{
		double q = fmin(fmax(p[i], PROB_CLIP), 1.0 - PROB_CLIP);

		sum -= y[i] ? log(q) : log1p(-q);
	}
	return sum / (double) n;
}

/* Share of rows whose prediction (p >= threshold means positive) is right. */
double
cs_accuracy(const double *p, const uint8_t *y, size_t n, double threshold)
{
	size_t right = 0;
	size_t i;

	if (n == 0)
		return NAN;
	for (i = 0; i < n; i++)
		right += (p[i] >= threshold) == (y[i] != 0);
	return (double) right / (double) n;
}

/* Mean squared difference between probability and label. */
double
cs_brier(const double *p, const uint8_t *y, size_t n)
{
	double sum = 0.0;
	size_t i;

	if (n == 0)
		return NAN;
	for (i = 0; i < n; i++)
	{
		double d = p[i] - (y[i] ? 1.0 : 0.0);

		sum += d * d;
	}
	return sum / (double) n;
}
