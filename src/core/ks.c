/*
 * ks.c - the two-sample Kolmogorov-Smirnov test, as SciPy computes it.
 *
 * The statistic.  Both samples are sorted; walking them together, the two
 * empirical CDFs are compared after each group of tied values (a value that
 * occurs in both samples moves both CDFs before they are compared), and
 * D = max |i/n1 - j/n2|, in that floating-point arithmetic, which is what
 * scipy.stats.ks_2samp computes with searchsorted(side='right').
 *
 * The p-value follows ks_2samp(alternative='two-sided', method='auto') of
 * SciPy 1.10 step by step, so that the figures agree to rounding:
 *
 *  - exact when max(n1, n2) <= 10000.  With g = gcd(n1, n2) and
 *    lcm = n1 / g * n2, D is rounded to h / lcm, h = round(D * lcm), and
 *    P(D >= h / lcm) is the proportion of lattice paths from (0, 0) to
 *    (n1, n2) that leave the band |x/n1 - y/n2| < h / lcm: for n1 = n2 the
 *    reflection formula of _compute_prob_outside_square, otherwise the
 *    "inside" recursion of _compute_outer_prob_inside_method, which counts
 *    the complement directly (Hodges 1958, "The significance probability of
 *    the Smirnov two-sample test", Arkiv for Matematik 3; Viehmann 2021,
 *    arXiv:2102.08037).  A result outside [0, 1] falls back to the
 *    asymptotic method, as in SciPy.
 *  - otherwise asymptotic: kstwo.sf(D, round(n1 n2 / (n1 + n2))), the
 *    distribution of the one-sample two-sided statistic for that n, which
 *    SciPy evaluates by the method Simard and L'Ecuyer (2011, "Computing
 *    the two-sided Kolmogorov-Smirnov distribution", J. Stat. Softw. 39(11))
 *    choose for each region: Ruben-Gambino closed forms at the extremes,
 *    twice the one-sided Smirnov tail where that is exact or close enough,
 *    the Durbin matrix (Marsaglia, Tsang and Wang 2003) and Pomeranz's
 *    recursion (1974) for small n, and the Pelz-Good asymptotic series
 *    (1976) for large n.  The one-sided tail is the Smirnov/Birnbaum-Tingey
 *    sum, summed in long double (SciPy uses double-double arithmetic).
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cs_ks.h"

#define E128    340282366920938463463374607431768211456.0 /* 2^128 */
#define EM128   (1.0 / E128)
#define MIN_LOG (-708.3964185322641)

/* Clips a probability to [0, 1]. */
static double
clip01(double p)
{
	if (p < 0.0)
		return 0.0;
	if (p > 1.0)
		return 1.0;
	return p;
}

/* ------------------------------------------------------------- sorting */

/* Order-preserving map of a double's bits to an unsigned key. */
static inline uint64_t
double_key(double x)
{
	uint64_t u;

	memcpy(&u, &x, sizeof(u));
	return (u >> 63) ? ~u : (u | 0x8000000000000000ULL);
}

/* Inverse of double_key. */
static inline double
key_double(uint64_t u)
{
	double x;

	u = (u >> 63) ? (u & 0x7FFFFFFFFFFFFFFFULL) : ~u;
	memcpy(&x, &u, sizeof(x));
	return x;
}

/* qsort order of doubles. */
static int
compare_doubles(const void *a, const void *b)
{
	double x = *(const double *) a;
	double y = *(const double *) b;

	return (x > y) - (x < y);
}

#define RADIX_BITS   8
#define RADIX_SIZE   (1 << RADIX_BITS)
#define RADIX_PASSES 8 /* 8 x 8 bits cover 64; an even count ends in the input buffer */

/* Sorts n doubles ascending: LSD radix sort on the bytes of the keys. */
cs_status
cs_sort_doubles(double *x, size_t n, cs_error *err)
{
	uint64_t *keys;
	uint64_t *tmp;
	uint32_t *count;
	size_t    i;
	int       pass;

	if (n < 256 || n > UINT32_MAX)
	{
		qsort(x, n, sizeof(double), compare_doubles);
		return CS_OK;
	}
	tmp = cs_malloc(cs_mul_size(n, sizeof(uint64_t)));
	count = cs_calloc((size_t) RADIX_PASSES * RADIX_SIZE, sizeof(uint32_t));
	if (tmp == NULL || count == NULL)
	{
		cs_free(tmp);
		cs_free(count);
		return cs_fail(err, CS_ERR_NOMEM, "out of memory sorting %zu values", n);
	}
	/* the keys live in x's own storage */
	keys = (uint64_t *) (void *) x;
	for (i = 0; i < n; i++)
	{
		uint64_t k = double_key(x[i]);

		keys[i] = k;
		for (pass = 0; pass < RADIX_PASSES; pass++)
			count[pass * RADIX_SIZE + ((k >> (pass * RADIX_BITS)) & (RADIX_SIZE - 1))]++;
	}
	for (pass = 0; pass < RADIX_PASSES; pass++)
	{
		uint32_t *c = count + (size_t) pass * RADIX_SIZE;
		int       shift = pass * RADIX_BITS;
		uint32_t  sum = 0;
		uint64_t *swap;
		int       d;

		/* a digit shared by every key leaves the order as it is */
		if (c[(keys[0] >> shift) & (RADIX_SIZE - 1)] == n)
			continue;
		for (d = 0; d < RADIX_SIZE; d++)
		{
			uint32_t k = c[d];

			c[d] = sum;
			sum += k;
		}
		for (i = 0; i < n; i++)
			tmp[c[(keys[i] >> shift) & (RADIX_SIZE - 1)]++] = keys[i];
		swap = keys;
		keys = tmp;
		tmp = swap;
	}
	if (keys != (uint64_t *) (void *) x)
	{
		memcpy(x, keys, n * sizeof(uint64_t));
		tmp = keys;
	}
	for (i = 0; i < n; i++)
		x[i] = key_double(((uint64_t *) (void *) x)[i]);
	cs_free(tmp);
	cs_free(count);
	return CS_OK;
}

/* ----------------------------------------------------------- statistic */

/* D of two ascending samples, after each group of ties. */
double
cs_ks_statistic(const double *a, size_t n1, const double *b, size_t n2)
{
	size_t i = 0;
	size_t j = 0;
	double d = 0.0;

	if (n1 == 0 || n2 == 0)
		return NAN;
	while (i < n1 || j < n2)
	{
		double v = (j >= n2 || (i < n1 && a[i] <= b[j])) ? a[i] : b[j];
		double diff;

		while (i < n1 && a[i] <= v)
			i++;
		while (j < n2 && b[j] <= v)
			j++;
		diff = fabs((double) i / (double) n1 - (double) j / (double) n2);
		if (diff > d)
			d = diff;
	}
	return d;
}

/* ------------------------------------------------------- exact p-value */

/* Greatest common divisor. */
static int64_t
gcd64(int64_t a, int64_t b)
{
	while (b != 0)
	{
		int64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/*
 * P(D >= h/n) for two samples of n: 2 * sum_k (-1)^(k+1) C(2n, n-kh) / C(2n,
 * n), evaluated as SciPy's _compute_prob_outside_square does (Horner-like, each
 * term relative to C(2n, n)).
 */
static double
prob_outside_square(int64_t n, int64_t h)
{
	double  p = 0.0;
	int64_t k = (int64_t) floor((double) n / (double) h);

	for (; k >= 0; k--)
	{
		double  p1 = 1.0;
		int64_t j;

		for (j = 0; j < h; j++)
			p1 = (double) (n - k * h - j) * p1 / (double) (n + k * h + j + 1);
		p = p1 * (1.0 - p);
	}
	return 2.0 * p;
}

/*
 * The proportion of lattice paths from (0, 0) to (m, n) that do not stay
 * strictly inside |x/m - y/n| < h/lcm: SciPy's
 * _compute_outer_prob_inside_method, a sliding window of one column of the
 * path-count matrix, each entry already divided by its binomial coefficient.
 */
static double
outer_prob_inside(int64_t m, int64_t n, int64_t g, int64_t h)
{
	int64_t mg;
	int64_t ng;
	int64_t minj;
	int64_t maxj;
	int64_t curlen;
	int64_t len_a;
	int64_t i;
	double *A;
	double  result;

	if (m < n)
	{
		int64_t t = m;

		m = n;
		n = t;
	}
	mg = m / g;
	ng = n / g;
	minj = 0;
	maxj = (int64_t) ceil((double) h / (double) mg);
	if (maxj > n + 1)
		maxj = n + 1;
	curlen = maxj - minj;
	len_a = 2 * maxj + 2 < n + 1 ? 2 * maxj + 2 : n + 1;
	A = cs_malloc(cs_mul_size((size_t) len_a, sizeof(double)));
	if (A == NULL)
		return NAN;
	for (i = 0; i < len_a; i++)
		A[i] = i < maxj ? 0.0 : 1.0;
	for (i = 1; i <= m; i++)
	{
		int64_t lastminj = minj;
		int64_t lastlen = curlen;
		int64_t jj;
		double  val;

		minj = (int64_t) floor((double) (ng * i - h) / (double) mg) + 1;
		if (minj < 0)
			minj = 0;
		if (minj > n)
			minj = n;
		maxj = (int64_t) ceil((double) (ng * i + h) / (double) mg);
		if (maxj > n + 1)
			maxj = n + 1;
		if (maxj <= minj)
		{
			cs_free(A);
			return 1.0;
		}
		val = minj == 0 ? 0.0 : 1.0;
		for (jj = 0; jj < maxj - minj; jj++)
		{
			int64_t j = jj + minj;
			int64_t src = jj + minj - lastminj;

			val = ((src < len_a ? A[src] : 1.0) * (double) i + val * (double) j) / (double) (i + j);
			A[jj] = val;
		}
		curlen = maxj - minj;
		if (lastlen > curlen)
		{
			for (jj = maxj - minj; jj < maxj - minj + (lastlen - curlen) && jj < len_a; jj++)
				A[jj] = 1.0;
		}
	}
	result = A[maxj - minj - 1];
	cs_free(A);
	return result;
}

/* The exact two-sided p-value P(D >= h / lcm(n1, n2)); NaN when it fails. */
double
cs_ks_exact_sf(int64_t n1, int64_t n2, int64_t h)
{
	double p;

	if (n1 <= 0 || n2 <= 0 || h < 0)
		return NAN;
	if (h == 0)
		return 1.0;
	if (n1 == n2)
		p = prob_outside_square(n1, h);
	else
		p = outer_prob_inside(n1, n2, gcd64(n1, n2), h);
	if (!(p >= 0.0 && p <= 1.0))
		return NAN;
	return p;
}

/* ---------------------------------------------- one-sided (Smirnov) tail */

/*
 * scipy.special.smirnov(n, x) = P(D+_n >= x), by the Smirnov/Birnbaum-Tingey
 * sum x * sum_{v=0}^{floor(n(1-x))} C(n,v) (x + v/n)^(v-1) (1 - x - v/n)^(n-v),
 * with SciPy's special cases and its stopping rule.  The sum (all terms
 * positive) is meant for the upper tail, where this core uses it.
 */
double
cs_smirnov_sf(int64_t n, double x)
{
	double      p;
	double      e;
	double      fl;
	double      alpha;
	int64_t     nxfl;
	int64_t     n_terms;
	int64_t     v;
	long double log_c = 0.0L; /* log C(n, v) */
	long double sum = 0.0L;

	if (!(n > 0 && x >= 0.0 && x <= 1.0))
		return NAN;
	if (n == 1)
		return 1.0 - x;
	if (x == 0.0)
		return 1.0;
	if (x == 1.0)
		return 0.0;

	/* floor(n x) and its fraction, from the exact product */
	p = (double) n * x;
	e = fma((double) n, x, -p);
	fl = floor(p);
	alpha = (p - fl) + e;
	if (alpha < 0.0)
	{
		fl -= 1.0;
		alpha += 1.0;
	}
	if (alpha >= 1.0)
	{
		fl += 1.0;
		alpha -= 1.0;
	}
	nxfl = (int64_t) fl;

	if (nxfl == 0 || (nxfl == 1 && alpha == 0.0))
		return clip01(1.0 - x * exp((double) (n - 1) * log1p(x))); /* x <= 1/n */
	if (-2.0 * (double) n * x * x < MIN_LOG)
		return 0.0;
	if (nxfl >= n - 1)
		return clip01(exp((double) n * log1p(-x))); /* x >= 1 - 1/n */
	if (n > 1000000)
	{
		/* SciPy's approximation for n above SMIRNOV_MAX_COMPUTE_N */
		double logp = -pow(6.0 * (double) n * x + 1.0, 2) / 18.0 / (double) n;

		return clip01(logp < -M_LN2 ? exp(logp) : 1.0 + expm1(logp));
	}

	/* v = 0 .. floor(n (1 - x)), less the zero term when n (1 - x) is whole */
	n_terms = n - nxfl;
	for (v = 0; v < n_terms; v++)
	{
		long double t1 = ((long double) (nxfl + v) + alpha) / (long double) n; /* x + v/n */
		long double t2 = ((long double) (n - nxfl - v) - alpha) / (long double) n;
		long double term;

		if (v > 0)
			log_c += logl((long double) (n - v + 1)) - logl((long double) v);
		term = expl(log_c + (long double) (v - 1) * logl(t1) + (long double) (n - v) * logl(t2));
		sum += term;
		/* SciPy's stopping rule: the rest cannot matter */
		if (v > 0)
		{
			if (term != 0.0L)
			{
				if (4.0L * (long double) (n_terms - v) * term < (long double) DBL_EPSILON * sum &&
					v != n_terms - 1)
					break;
			}
			else if (v > n / 2)
				break;
		}
	}
	return clip01((double) ((long double) x * sum));
}

/* --------------------------------------- two-sided one-sample (kstwo) */

/* log(n! / n^n) by Stirling's series, as SciPy's _log_nfactorial_div_n_pow_n. */
static double
log_nfactorial_div_n_pow_n(double n)
{
	static const double stirling[] = {
		-2.955065359477124183e-2,  6.4102564102564102564e-3, -1.9175269175269175269e-3,
		8.4175084175084175084e-4,  -5.952380952380952381e-4, 7.9365079365079365079e-4,
		-2.7777777777777777778e-3, 8.3333333333333333333e-2,
	};
	double rn = 1.0 / n;
	double x = rn / n;
	double poly = 0.0;
	size_t k;

	for (k = 0; k < sizeof(stirling) / sizeof(stirling[0]); k++)
		poly = poly * x + stirling[k];
	return log(n) / 2 - n + log(2 * M_PI) / 2 + rn * poly;
}

/* C = A B for m x m row-major matrices (C distinct from A and B). */
static void
matmul(const double *A, const double *B, double *C, int m)
{
	int i;
	int j;
	int k;

	for (i = 0; i < m; i++)
	{
		for (j = 0; j < m; j++)
			C[i * m + j] = 0.0;
		for (k = 0; k < m; k++)
		{
			double a = A[i * m + k];

			for (j = 0; j < m; j++)
				C[i * m + j] += a * B[k * m + j];
		}
	}
}

/* P(D_n <= d) by the Durbin matrix (Marsaglia, Tsang and Wang), as SciPy. */
static double
kolmogn_dmtw(int64_t n, double d)
{
	double  nd = (double) n * d;
	int     k;
	int     m;
	double  h;
	double *H;
	double *P;
	double *T;
	double *v;
	double *w;
	double  fac = 1.0;
	double  tt;
	double  p;
	int64_t nn = n;
	int     expnt = 0;
	int     hexpnt = 0;
	int     i;
	int     j;

	if (d >= 1.0)
		return 1.0;
	if (nd <= 0.5)
		return 0.0;
	k = (int) ceil(nd);
	h = k - nd;
	m = 2 * k - 1;
	H = cs_calloc((size_t) m * m, sizeof(double));
	P = cs_calloc((size_t) m * m, sizeof(double));
	T = cs_calloc((size_t) m * m, sizeof(double));
	v = cs_calloc((size_t) m, sizeof(double));
	w = cs_calloc((size_t) m, sizeof(double));
	if (!H || !P || !T || !v || !w)
	{
		p = NAN;
		goto done;
	}
	for (j = 1; j <= m; j++)
	{
		v[j - 1] = 1.0 - pow(h, j);
		w[j - 1] = fac;
		fac /= j;
		v[j - 1] *= fac;
	}
	tt = pow(fmax(2 * h - 1.0, 0.0), m) - 2 * pow(h, m);
	v[m - 1] = (1.0 + tt) * fac;
	for (i = 1; i < m; i++)
		for (j = i - 1; j < m; j++)
			H[j * m + i] = w[j - (i - 1)];
	for (j = 0; j < m; j++)
	{
		H[j * m] = v[j];
		H[(m - 1) * m + j] = v[m - 1 - j];
	}
	for (i = 0; i < m; i++)
		P[i * m + i] = 1.0;
	while (nn > 0)
	{
		double *swap;

		if (nn % 2)
		{
			matmul(P, H, T, m);
			swap = P;
			P = T;
			T = swap;
			expnt += hexpnt;
		}
		matmul(H, H, T, m);
		swap = H;
		H = T;
		T = swap;
		hexpnt *= 2;
		if (fabs(H[(k - 1) * m + (k - 1)]) > E128)
		{
			for (i = 0; i < m * m; i++)
				H[i] /= E128;
			hexpnt += 128;
		}
		nn /= 2;
	}
	p = P[(k - 1) * m + (k - 1)];
	for (i = 1; i <= n; i++)
	{
		p = i * p / (double) n;
		if (fabs(p) < EM128)
		{
			p *= E128;
			expnt -= 128;
		}
	}
	if (expnt != 0)
		p = ldexp(p, expnt);
	p = clip01(p);
done:
	cs_free(H);
	cs_free(P);
	cs_free(T);
	cs_free(v);
	cs_free(w);
	return p;
}

/* The interval of non-zero entries of row i of Pomeranz's recursion. */
static void
pomeranz_j1j2(int64_t i, int64_t n, int64_t ll, int ceilf, int roundf, int64_t *j1, int64_t *j2)
{
	int64_t a;
	int64_t b;

	if (i == 0)
	{
		a = -ll - ceilf - 1;
		b = ll + ceilf - 1;
	}
	else
	{
		int64_t half = (i + 1) / 2;

		if ((i + 1) % 2 == 0)
		{
			if (half == n + 1)
			{
				a = n - ll - ceilf - 1;
				b = n + ll + ceilf - 1;
			}
			else
			{
				a = half - 1 - ll - roundf - 1;
				b = half + ll - 1 + ceilf - 1;
			}
		}
		else
		{
			a = half - 1 - ll - 1;
			b = half + ll + roundf - 1;
		}
	}
	*j1 = a + 2 > 0 ? a + 2 : 0;
	*j2 = b < n ? b : n;
}

/* P(D_n <= x) by Pomeranz's recursion, as SciPy's _kolmogn_Pomeranz. */
static double
kolmogn_pomeranz(int64_t n, double x)
{
	double  t = (double) n * x;
	int64_t ll = (int64_t) floor(t);
	double  f = t - (double) ll;
	double  g = fmin(f, 1.0 - f);
	int     ceilf = f > 0 ? 1 : 0;
	int     roundf = f > 0.5 ? 1 : 0;
	int64_t npwrs = 2 * (ll + 1);
	double *gp = cs_calloc((size_t) npwrs, sizeof(double));
	double *g2p = cs_calloc((size_t) npwrs, sizeof(double));
	double *g12p = cs_calloc((size_t) npwrs, sizeof(double));
	double *V0 = cs_calloc((size_t) npwrs, sizeof(double));
	double *V1 = cs_calloc((size_t) npwrs, sizeof(double));
	int64_t V0s = 0;
	int64_t V1s = 0;
	int64_t j1;
	int64_t j2;
	int64_t i;
	int64_t k;
	int     expnt = 0;
	double  ans = NAN;

	if (!gp || !g2p || !g12p || !V0 || !V1)
		goto done;
	gp[0] = g2p[0] = g12p[0] = 1.0;
	for (k = 1; k < npwrs; k++)
	{
		gp[k] = gp[k - 1] * (g / n) / k;
		g2p[k] = g2p[k - 1] * (2 * g / n) / k;
		g12p[k] = g12p[k - 1] * ((1 - 2 * g) / n) / k;
	}
	V1[0] = 1.0;
	pomeranz_j1j2(0, n, ll, ceilf, roundf, &j1, &j2);
	for (i = 1; i < 2 * n + 2; i++)
	{
		int64_t       k1 = j1;
		double       *swap = V0;
		int64_t       swaps = V0s;
		const double *pw;
		int64_t       ln2;

		V0 = V1;
		V1 = swap;
		V0s = V1s;
		V1s = swaps;
		memset(V1, 0, sizeof(double) * npwrs);
		pomeranz_j1j2(i, n, ll, ceilf, roundf, &j1, &j2);
		pw = (i == 1 || i == 2 * n + 1) ? gp : ((i % 2) ? g2p : g12p);
		ln2 = j2 - k1 + 1;
		if (ln2 > 0)
		{
			int64_t start = k1 - V0s;
			int64_t len_a = ln2;
			int64_t len_b = ln2 < npwrs ? ln2 : npwrs;
			int64_t conv_start = j1 - k1;
			int64_t conv_len = j2 - j1 + 1;
			int64_t c;
			double  vmax = 0.0;

			if (start + len_a > npwrs)
				len_a = npwrs - start;
			/* V1[c] = (V0[start ..] * pw)[conv_start + c], a slice of the full convolution */
			for (c = 0; c < conv_len; c++)
			{
				int64_t idx = conv_start + c;
				int64_t a0 = idx - (len_b - 1) > 0 ? idx - (len_b - 1) : 0;
				int64_t a;
				double  s = 0.0;

				for (a = a0; a <= idx && a < len_a; a++)
					s += V0[start + a] * pw[idx - a];
				V1[c] = s;
				if (s > vmax)
					vmax = s;
			}
			if (vmax > 0 && vmax < EM128)
			{
				for (c = 0; c < npwrs; c++)
					V1[c] *= E128;
				expnt -= 128;
			}
			V1s = V0s + j1 - k1;
		}
	}
	ans = V1[n - V1s];
	for (k = 1; k <= n; k++)
	{
		if (fabs(ans) > E128)
		{
			ans *= EM128;
			expnt += 128;
		}
		ans *= (double) k;
	}
	if (expnt != 0)
		ans = ldexp(ans, expnt);
	ans = clip01(ans);
done:
	cs_free(gp);
	cs_free(g2p);
	cs_free(g12p);
	cs_free(V0);
	cs_free(V1);
	return ans;
}

/* The Pelz-Good approximation of P(D_n <= x), as SciPy's _kolmogn_PelzGood. */
static double
kolmogn_pelz_good(int64_t n, double x)
{
	double z;
	double z2;
	double z3;
	double z4;
	double z6;
	double qlog;
	double q;
	double k1a, k1b, k2a, k2b, k2c, k3a, k3b, k3c, k3d;
	double K[4] = { 0, 0, 0, 0 };
	double pi2 = M_PI * M_PI;
	double pi4 = pi2 * pi2;
	double pi6 = pi4 * pi2;
	double sqrt2pi = sqrt(2 * M_PI);
	double k2extra = 0.0;
	double k3extra = 0.0;
	double sqrt3z;
	int    maxk;
	int    k;

	if (x <= 0.0)
		return 0.0;
	if (x >= 1.0)
		return 1.0;
	z = sqrt((double) n) * x;
	z2 = z * z;
	z3 = z2 * z;
	z4 = z2 * z2;
	z6 = z4 * z2;
	qlog = -pi2 / 8 / z2;
	if (qlog < -708)
		return 0.0;
	q = exp(qlog);
	k1a = -z2;
	k1b = pi2 / 4;
	k2a = 6 * z6 + 2 * z4;
	k2b = (2 * z4 - 5 * z2) * pi2 / 4;
	k2c = pi4 * (1 - 2 * z2) / 16;
	k3d = pi6 * (5 - 30 * z2) / 64;
	k3c = pi4 * (-60 * z2 + 212 * z4) / 16;
	k3b = pi2 * (135 * z4 - 96 * z6) / 4;
	k3a = -30 * z6 - 90 * pow(z, 8);
	maxk = (int) ceil(16 * z / M_PI);
	for (k = maxk; k > 0; k--)
	{
		double m = 2 * k - 1;
		double m2 = m * m;
		double m4 = m2 * m2;
		double m6 = m4 * m2;
		double qp = pow(q, 8 * k);

		K[0] = K[0] * qp + 1.0;
		K[1] = K[1] * qp + (k1a + k1b * m2);
		K[2] = K[2] * qp + (k2a + k2b * m2 + k2c * m4);
		K[3] = K[3] * qp + (k3a + k3b * m2 + k3c * m4 + k3d * m6);
	}
	for (k = 0; k < 4; k++)
		K[k] *= q * sqrt2pi;
	K[0] /= z;
	K[1] /= 6 * z4;
	K[2] /= 72 * pow(z, 7);
	K[3] /= 6480 * pow(z, 10);

	q = exp(-pi2 / 2 / z2);
	sqrt3z = sqrt(3.0) * z;
	for (k = maxk; k > 0; k--)
	{
		double ks2 = (double) k * k;
		double qk = pow(q, ks2);
		double kspi = M_PI * k;

		k2extra += ks2 * qk;
		k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ks2 * qk;
	}
	K[2] += k2extra * (pi2 * sqrt2pi / (-36 * z3));
	K[3] += k3extra * (pi2 * sqrt2pi / (216 * z6));
	for (k = 1; k < 4; k++)
		K[k] /= pow((double) n, k / 2.0);
	return K[0] + K[1] + K[2] + K[3];
}

/* scipy.stats.kstwo.sf(x, n), following SciPy's _kolmogn(n, x, cdf=False). */
double
cs_kolmogn_sf(int64_t n, double x)
{
	double t;
	double nx2;
	double cdf;

	if (n <= 0 || isnan(x))
		return NAN;
	if (x >= 1.0)
		return 0.0;
	if (x <= 0.0)
		return 1.0;
	t = (double) n * x;
	if (t <= 1.0)
	{
		double prob;

		if (t <= 0.5)
			return 1.0;
		if (n <= 140)
		{
			int64_t i;

			prob = 1.0;
			for (i = 1; i <= n; i++)
				prob *= (double) i * (1.0 / (double) n) * (2 * t - 1);
		}
		else
			prob = exp(log_nfactorial_div_n_pow_n((double) n) + (double) n * log(2 * t - 1));
		return clip01(1.0 - prob);
	}
	if (t >= (double) (n - 1))
		return clip01(2 * pow(1.0 - x, (double) n));
	if (x >= 0.5)
		return clip01(2 * cs_smirnov_sf(n, x));

	nx2 = t * x;
	if (n <= 140)
	{
		if (nx2 <= 0.754693)
			return clip01(1.0 - kolmogn_dmtw(n, x));
		if (nx2 <= 4)
			return clip01(1.0 - kolmogn_pomeranz(n, x));
		return clip01(2 * cs_smirnov_sf(n, x));
	}
	if (nx2 >= 370.0)
		return 0.0;
	if (nx2 >= 2.2)
		return clip01(2 * cs_smirnov_sf(n, x));
	if (nx2 >= 18.0)
		cdf = 1.0;
	else if (n <= 100000 && (double) n * pow(x, 1.5) <= 1.4)
		cdf = kolmogn_dmtw(n, x);
	else
		cdf = kolmogn_pelz_good(n, x);
	return clip01(1.0 - cdf);
}

/* ------------------------------------------------------------- p-value */

/* Completes a test whose statistic d came from samples of n1 and n2 values. */
void
cs_ks_pvalue(uint64_t n1, uint64_t n2, double d, cs_ks_test *out)
{
	out->statistic = d;
	out->p_value = NAN;
	out->exact = 0;
	if (n1 == 0 || n2 == 0 || isnan(d))
		return;
	if (n1 <= CS_KS_MAX_EXACT_N && n2 <= CS_KS_MAX_EXACT_N)
	{
		int64_t g = gcd64((int64_t) n1, (int64_t) n2);
		int64_t lcm = ((int64_t) n1 / g) * (int64_t) n2;
		int64_t h = (int64_t) rint(d * (double) lcm);
		double  p = cs_ks_exact_sf((int64_t) n1, (int64_t) n2, h);

		out->statistic = (double) h * 1.0 / (double) lcm;
		if (!isnan(p))
		{
			out->p_value = p;
			out->exact = 1;
			return;
		}
		d = out->statistic;
	}
	{
		double m = (double) (n1 > n2 ? n1 : n2);
		double k = (double) (n1 > n2 ? n2 : n1);
		double en = m * k / (m + k);

		out->p_value = cs_kolmogn_sf((int64_t) rint(en), d);
	}
}
