/*
 * cs_ks.h - the two-sample Kolmogorov-Smirnov test of the numerical core.
 *
 * The statistic and the p-value are SciPy's ks_2samp(alternative='two-sided',
 * method='auto') (SciPy 1.10): see the essay at the top of ks.c.  Pure C, no
 * PostgreSQL header; safe in threads.
 */
#ifndef CS_KS_H
#define CS_KS_H

#include "cs_core.h"

/* SciPy's MAX_AUTO_N: the exact distribution when max(n1, n2) <= this. */
#define CS_KS_MAX_EXACT_N 10000

typedef struct cs_ks_test
{
	double statistic; /* D; in exact mode SciPy's h / lcm(n1, n2) */
	double p_value;
	int    exact; /* 1: exact distribution, 0: asymptotic (kstwo) */
} cs_ks_test;

/* Sorts n doubles ascending (LSD radix sort; no NaN; -0.0 sorts before +0.0). */
cs_status cs_sort_doubles(double *x, size_t n, cs_error *err);

/*
 * D = max |F1(x) - F2(x)| of two ascending samples, the empirical CDFs
 * evaluated after each group of ties, in SciPy's arithmetic (i/n1 - j/n2).
 */
double cs_ks_statistic(const double *a, size_t n1, const double *b, size_t n2);

/* Completes a test whose statistic d came from samples of n1 and n2 values. */
void cs_ks_pvalue(uint64_t n1, uint64_t n2, double d, cs_ks_test *out);

/* The exact two-sided p-value P(D >= h / lcm(n1, n2)); NaN when it fails. */
double cs_ks_exact_sf(int64_t n1, int64_t n2, int64_t h);
/* scipy.stats.kstwo.sf(x, n): the two-sided one-sample distribution. */
double cs_kolmogn_sf(int64_t n, double x);
/* scipy.special.smirnov(n, x): the one-sided one-sample distribution. */
double cs_smirnov_sf(int64_t n, double x);

#endif /* CS_KS_H */
