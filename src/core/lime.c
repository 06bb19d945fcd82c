/*
 * lime.c - LIME as lime's LimeTabularExplainer (lime 0.2) computes it with its
 * defaults: discretize_continuous=True with the quartile discretizer, the
 * exponential kernel of width 0.75 sqrt(features), and a weighted ridge
 * surrogate (alpha 1, with intercept) on the binary representation.
 *
 * Definitions (README "Explanations", LIME):
 *  - bins: a numeric feature's quartile bins (cs_lime_numeric_build), a
 *    categorical feature's levels, and for both one bin more for missing
 *    (lime has no missing values), each with its training frequency.
 *  - sample 0 is the instance; every other sample draws, feature by feature
 *    in schema order, a bin from the frequencies (one uniform u: the bin
 *    holding the floor(u n)-th training row, bins in order, missing last),
 *    then for a numeric value bin a value from the bin's truncated normal
 *    (one uniform, the inverse CDF); a missing bin gives a missing value.
 *  - binary z_j = 1 when the sample's bin of feature j is the instance's;
 *    distance d = sqrt(number of zeros) (lime scales these columns with mean 0
 *    and scale 1), weight sqrt(exp(-d^2 / width^2)).
 *  - the surrogate: cs_ridge on (z, probability of the positive class, weight).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cs_lime.h"

/* --------------------------------------------------------- the bins */

/* numpy.percentile's linear interpolation (numpy's _lerp) at quantile q. */
static double
percentile(const double *sorted, size_t m, double q)
{
	double virt = (double) (m - 1) * q;
	double lo_f = floor(virt);
	size_t lo = (size_t) lo_f;
	size_t hi = lo + 1 < m ? lo + 1 : m - 1;
	double t = virt - lo_f;
	double a = sorted[lo];
	double b = sorted[hi];
	double diff = b - a;

	return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

/* The bins of m ascending, finite values (m may be 0). */
cs_status
cs_lime_numeric_build(const double *sorted, size_t m, cs_lime_numeric *out, cs_error *err)
{
	static const double qs[3] = { 0.25, 0.5, 0.75 };
	size_t              i;
	size_t              start;
	int32_t             k;
	int32_t             n_q = 0;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < m; i++)
		if (!isfinite(sorted[i]) || (i > 0 && sorted[i] < sorted[i - 1]))
			return cs_fail(err, CS_ERR_INVALID, "LIME statistics need finite, sorted values");
	if (m == 0)
		return CS_OK;
	for (k = 0; k < 3; k++)
	{
		double q = percentile(sorted, m, qs[k]);

		/* np.unique: the percentiles are non-decreasing, so drop repeats */
		if (n_q == 0 || q > out->quartiles[n_q - 1])
			out->quartiles[n_q++] = q;
	}
	out->n_bins = n_q + 1;
	/* bin b: searchsorted(quartiles, x) = b, i.e. q[b-1] < x <= q[b] */
	start = 0;
	for (k = 0; k < out->n_bins; k++)
	{
		size_t end = start;
		double sum = 0.0;
		double ss = 0.0;
		double mean;

		while (end < m && (k == n_q || sorted[end] <= out->quartiles[k]))
			sum += sorted[end++];
		out->counts[k] = end - start;
		mean = end > start ? sum / (double) (end - start) : 0.0;
		for (i = start; i < end; i++)
			ss += (sorted[i] - mean) * (sorted[i] - mean);
		out->means[k] = mean;
		out->stds[k] =
			(end > start ? sqrt(ss / (double) (end - start)) : 0.0) + CS_LIME_STD_EPSILON;
		out->mins[k] = k == 0 ? sorted[0] : out->quartiles[k - 1];
		out->maxs[k] = k == n_q ? sorted[m - 1] : out->quartiles[k];
		start = end;
	}
	return CS_OK;
}

/* The number of value bins of a feature (the missing bin is the next one). */
int32_t
cs_lime_value_bins(const cs_lime_feature *s)
{
	return s->kind == CS_KIND_NUMERIC ? s->num.n_bins : s->n_levels;
}

/* Checks one numeric feature's bins. */
static cs_status
check_numeric(const char *name, const cs_lime_numeric *b, cs_error *err)
{
	int32_t k;

	if (b->n_bins != 0 && (b->n_bins < 2 || b->n_bins > CS_LIME_MAX_BINS))
		return cs_fail(err, CS_ERR_CORRUPT, "\"%s\": bad number of LIME bins", name);
	for (k = 0; k + 1 < b->n_bins; k++)
		if (!isfinite(b->quartiles[k]) || (k > 0 && !(b->quartiles[k] > b->quartiles[k - 1])))
			return cs_fail(err, CS_ERR_CORRUPT, "\"%s\": LIME quartiles must increase", name);
	for (k = 0; k < b->n_bins; k++)
		if (!isfinite(b->means[k]) || !isfinite(b->stds[k]) || !(b->stds[k] > 0) ||
			!isfinite(b->mins[k]) || !isfinite(b->maxs[k]) || b->mins[k] > b->maxs[k])
			return cs_fail(err,
						   CS_ERR_CORRUPT,
						   "\"%s\": LIME bin %d has a bad mean, deviation or range",
						   name,
						   (int) k);
	return CS_OK;
}

/* CS_ERR_CORRUPT naming the first feature whose statistics do not fit the schema. */
cs_status
cs_lime_check(const cs_schema *schema, const cs_lime_stats *s, cs_error *err)
{
	int32_t j;

	if (s->n_features != schema->n_features)
		return cs_fail(err,
					   CS_ERR_CORRUPT,
					   "LIME statistics for %d features, the model has %d",
					   (int) s->n_features,
					   (int) schema->n_features);
	if (schema->n_features > CS_LIME_MAX_FEATURES)
		return cs_fail(err,
					   CS_ERR_INVALID,
					   "LIME explains models of up to %d features, this one has %d",
					   CS_LIME_MAX_FEATURES,
					   (int) schema->n_features);
	for (j = 0; j < s->n_features; j++)
	{
		const cs_feature      *f = &schema->features[j];
		const cs_lime_feature *b = &s->features[j];
		uint64_t               total = b->missing;
		int32_t                k;
		cs_status              st;

		if (b->kind != f->kind)
			return cs_fail(err, CS_ERR_CORRUPT, "\"%s\": LIME statistics of another kind", f->name);
		if (b->kind == CS_KIND_NUMERIC)
		{
			st = check_numeric(f->name, &b->num, err);
			if (st != CS_OK)
				return st;
		}
		else if (b->n_levels != f->n_levels || (b->n_levels > 0 && b->level_counts == NULL))
			return cs_fail(err, CS_ERR_CORRUPT, "\"%s\": LIME level counts do not fit", f->name);
		for (k = 0; k < cs_lime_value_bins(b); k++)
		{
			uint64_t c = b->kind == CS_KIND_NUMERIC ? b->num.counts[k] : b->level_counts[k];

			if (c > (UINT64_C(1) << 53) - total)
				return cs_fail(err, CS_ERR_CORRUPT, "\"%s\": LIME counts too large", f->name);
			total += c;
		}
		if (total == 0)
			return cs_fail(err, CS_ERR_CORRUPT, "\"%s\": LIME counts are all zero", f->name);
	}
	return CS_OK;
}

/* The bin of an input value (missing: the value-bin count; -1: no training row's). */
int32_t
cs_lime_bin(const cs_feature *f, const cs_lime_feature *s, double x)
{
	int32_t k;

	if (isnan(x))
		return cs_lime_value_bins(s);
	if (f->kind == CS_KIND_CATEGORICAL)
		return x >= 0 && x < f->n_levels ? (int32_t) x : -1;
	if (s->num.n_bins == 0)
		return -1;
	for (k = 0; k + 1 < s->num.n_bins; k++)
		if (x <= s->num.quartiles[k])
			return k;
	return k;
}

/* lime's name of the instance's bin; snprintf semantics. */
int
cs_lime_condition(const cs_feature *f, const cs_lime_feature *s, double x, char *buf, size_t len)
{
	int32_t       b = cs_lime_bin(f, s, x);
	const double *q = s->num.quartiles;
	int32_t       nq = s->num.n_bins - 1;

	if (isnan(x))
		return snprintf(buf, len, "%s IS NULL", f->name);
	if (f->kind == CS_KIND_CATEGORICAL)
		return snprintf(buf, len, "%s = %s", f->name, b < 0 ? "(unseen)" : f->levels[b]);
	if (b < 0)
		return snprintf(buf, len, "%s IS NOT NULL", f->name);
	if (b == 0)
		return snprintf(buf, len, "%s <= %.2f", f->name, q[0]);
	if (b == nq)
		return snprintf(buf, len, "%s > %.2f", f->name, q[nq - 1]);
	return snprintf(buf, len, "%.2f < %s <= %.2f", q[b - 1], f->name, q[b]);
}

/* ---------------------------------------------- the truncated normal */

/* The standard normal CDF, accurate in the lower tail. */
double
cs_norm_cdf(double x)
{
	return 0.5 * erfc(-x * M_SQRT1_2);
}

/* The inverse of the standard normal CDF: Wichura's AS 241 (PPND16). */
double
cs_norm_ppf(double p)
{
	double q = p - 0.5;
	double r;
	double val;

	if (!(p > 0.0))
		return p == 0.0 ? -INFINITY : NAN;
	if (!(p < 1.0))
		return p == 1.0 ? INFINITY : NAN;
	if (fabs(q) <= 0.425)
	{
		r = 0.180625 - q * q;
		return q *
			   (((((((r * 2509.0809287301226727 + 33430.575583588128105) * r +
					 67265.770927008700853) *
						r +
					45921.953931549871457) *
					   r +
				   13731.693765509461125) *
					  r +
				  1971.5909503065514427) *
					 r +
				 133.14166789178437745) *
					r +
				3.387132872796366608) /
			   (((((((r * 5226.495278852545925 + 28729.085735721942674) * r +
					 39307.89580009271061) *
						r +
					21213.794301586595867) *
					   r +
				   5394.1960214247511077) *
					  r +
				  687.1870074920579083) *
					 r +
				 42.313330701600911252) *
					r +
				1.0);
	}
	r = sqrt(-log(q < 0 ? p : 1.0 - p));
	if (r <= 5.0)
	{
		r -= 1.6;
		val = (((((((r * 7.7454501427834140764e-4 + 0.0227238449892691845833) * r +
					0.24178072517745061177) *
					   r +
				   1.27045825245236838258) *
					  r +
				  3.64784832476320460504) *
					 r +
				 5.7694972214606914055) *
					r +
				4.6303378461565452959) *
				   r +
			   1.42343711074968357734) /
			  (((((((r * 1.05075007164441684324e-9 + 5.475938084995344946e-4) * r +
					0.0151986665636164571966) *
					   r +
				   0.14810397642748007459) *
					  r +
				  0.68976733498510000455) *
					 r +
				 1.6763848301838038494) *
					r +
				2.05319162663775882187) *
				   r +
			   1.0);
	}
	else
	{
		r -= 5.0;
		val = (((((((r * 2.01033439929228813265e-7 + 2.71155556874348757815e-5) * r +
					0.0012426609473880784386) *
					   r +
				   0.026532189526576123093) *
					  r +
				  0.29656057182850489123) *
					 r +
				 1.7848265399172913358) *
					r +
				5.4637849111641143699) *
				   r +
			   6.6579046435011037772) /
			  (((((((r * 2.04426310338993978564e-15 + 1.4215117583164458887e-7) * r +
					1.8463183175100546818e-5) *
					   r +
				   7.868691311456132591e-4) *
					  r +
				  0.0148753612908506148525) *
					 r +
				 0.13692988092273580531) *
					r +
				0.59983220655588793769) *
				   r +
			   1.0);
	}
	return q < 0.0 ? -val : val;
}

/* log of the standard normal CDF for x <= -20: the asymptotic series. */
static double
log_norm_cdf_tail(double x)
{
	double x2 = x * x;
	double term = 1.0;
	double sum = 1.0;
	int    k;

	for (k = 1; k <= 10; k++)
	{
		term *= -(2.0 * k - 1.0) / x2;
		sum += term;
	}
	return -0.5 * x2 - log(-x) - 0.5 * log(2.0 * M_PI) + log(sum);
}

/* log of the standard normal CDF. */
static double
log_norm_cdf(double x)
{
	return x > -20.0 ? log(cs_norm_cdf(x)) : log_norm_cdf_tail(x);
}

/*
 * The u-quantile of the normal truncated to [a, b], a <= b < -30: solves
 * log Phi(x) = log(Phi(a) + u (Phi(b) - Phi(a))) by Newton's method kept
 * inside a bracket (bisection when a step leaves it).
 */
static double
truncnorm_ppf_far(double a, double b, double u)
{
	double lpa = isinf(a) ? -INFINITY : log_norm_cdf(a);
	double lpb = log_norm_cdf(b);
	double target = lpb + log(u + (1.0 - u) * exp(lpa - lpb));
	double lo = fmax(a, -sqrt(-2.0 * target));
	double hi = b;
	double x = b;
	int    it;

	for (it = 0; it < 200; it++)
	{
		double g = log_norm_cdf(x) - target;
		/* d/dx log Phi(x) = phi(x) / Phi(x) */
		double slope = exp(-0.5 * x * x - 0.5 * log(2.0 * M_PI) - log_norm_cdf(x));
		double next;

		if (g > 0)
			hi = x;
		else
			lo = x;
		next = x - g / slope;
		if (!(next > lo && next < hi))
			next = 0.5 * (lo + hi);
		if (fabs(next - x) <= 1e-15 * fabs(x))
			return next;
		x = next;
	}
	return x;
}

/* The u-quantile of the standard normal truncated to [a, b]. */
double
cs_truncnorm_ppf(double a, double b, double u)
{
	if (!(a < b))
		return a;
	if (a > 0.0) /* the upper tail: the mirror image of the lower one */
		return -cs_truncnorm_ppf(-b, -a, 1.0 - u);
	/* an interval too narrow for the CDF to resolve: the density is flat */
	if ((b - a) * (1.0 + fmax(fabs(a), fabs(b))) < 1e-7)
		return a + u * (b - a);
	if (b > 0.0)
	{
		/* a <= 0 < b: Phi(a) and Phi(-b) are both accurate; invert on the side of the
		 * smaller probability */
		double pa = cs_norm_cdf(a);
		double qb = cs_norm_cdf(-b);
		double mass = (1.0 - pa) - qb;
		double x;

		/* 1 - u is exact for u >= 1/2, where it is used */
		if (pa + u * mass <= 0.5)
			x = cs_norm_ppf(pa + u * mass);
		else
			x = -cs_norm_ppf(qb + (1.0 - u) * mass);
		return x < a ? a : (x > b ? b : x);
	}
	if (b < -30.0)
		return truncnorm_ppf_far(a, b, u);
	{
		double pa = cs_norm_cdf(a);
		double pb = cs_norm_cdf(b);
		double x = cs_norm_ppf(pa + u * (pb - pa));

		return x < a ? a : (x > b ? b : x);
	}
}

/* A uniform in (0, 1): the top 53 bits of the next output, plus a half. */
static double
uniform_open(cs_rng *rng)
{
	return ((double) (cs_rng_next(rng) >> 11) + 0.5) * 0x1.0p-53;
}

/* A draw from the normal (mean, sd) truncated to [lo, hi]. */
double
cs_truncnorm_draw(cs_rng *rng, double mean, double sd, double lo, double hi)
{
	double u = uniform_open(rng);
	double x;

	if (!(hi > lo))
		return lo;
	x = mean + sd * cs_truncnorm_ppf((lo - mean) / sd, (hi - mean) / sd, u);
	return x < lo ? lo : (x > hi ? hi : x);
}

/* ------------------------------------------------------ weighted ridge */

/* Bytes of workspace a ridge over p features needs. */
size_t
cs_ridge_workspace(int32_t p)
{
	size_t n = p > 0 ? (size_t) p : 1;

	return cs_mul_size(cs_mul_size(n, n) + 4 * n, sizeof(double));
}

/* Starts an empty ridge on workspace. */
void
cs_ridge_init(cs_ridge *r, int32_t p, void *workspace)
{
	size_t  n = p > 0 ? (size_t) p : 1;
	double *w = workspace;

	memset(workspace, 0, cs_ridge_workspace(p));
	r->p = p;
	r->w_sum = 0.0;
	r->y_mean = 0.0;
	r->yy = 0.0;
	r->xx = w;
	r->x_mean = w + n * n;
	r->xy = r->x_mean + n;
	r->dx = r->xy + n;
	r->solve = r->dx + n;
	r->chol = r->xx; /* factored in place: the solve needs xx no more */
}

/* Adds one row (West's weighted update of the means and centred products). */
void
cs_ridge_add(cs_ridge *r, const double *x, double y, double w)
{
	int32_t p = r->p;
	double  total;
	double  f;
	double  c;
	double  dy;
	int32_t j;
	int32_t k;

	if (!(w > 0))
		return;
	total = r->w_sum + w;
	f = w / total;
	c = w * (r->w_sum / total);
	dy = y - r->y_mean;
	for (j = 0; j < p; j++)
		r->dx[j] = x[j] - r->x_mean[j];
	for (j = 0; j < p; j++)
	{
		double  cj = c * r->dx[j];
		double *row = r->xx + (size_t) j * p;

		for (k = j; k < p; k++)
			row[k] += cj * r->dx[k];
		r->xy[j] += cj * dy;
		r->x_mean[j] += f * r->dx[j];
	}
	r->yy += c * dy * dy;
	r->y_mean += f * dy;
	r->w_sum = total;
}

/* Solves the ridge: coefficients, intercept, weighted R^2 (ends the accumulation). */
cs_status
cs_ridge_solve(cs_ridge *r, double alpha, double *coef, double *intercept, double *score,
			   cs_error *err)
{
	int32_t p = r->p;
	double *a = r->chol;
	double  ss_res;
	double  fit = 0.0;
	double  penalty = 0.0;
	int32_t i;
	int32_t j;
	int32_t k;

	if (!(r->w_sum > 0))
		return cs_fail(err, CS_ERR_NUMERIC, "the ridge has no weighted rows");
	/* Cholesky of xx + alpha I: upper triangle, A = U'U, U stored row by row */
	for (i = 0; i < p; i++)
	{
		double *ri = a + (size_t) i * p;
		double  d = ri[i] + alpha;

		for (k = 0; k < i; k++)
			d -= a[(size_t) k * p + i] * a[(size_t) k * p + i];
		if (!(d > 0))
			return cs_fail(err, CS_ERR_NUMERIC, "the ridge system is not positive definite");
		d = sqrt(d);
		ri[i] = d;
		for (j = i + 1; j < p; j++)
		{
			double s = ri[j];

			for (k = 0; k < i; k++)
				s -= a[(size_t) k * p + i] * a[(size_t) k * p + j];
			ri[j] = s / d;
		}
	}
	/* U'z = xy, then U c = z */
	for (i = 0; i < p; i++)
	{
		double s = r->xy[i];

		for (k = 0; k < i; k++)
			s -= a[(size_t) k * p + i] * r->solve[k];
		r->solve[i] = s / a[(size_t) i * p + i];
	}
	for (i = p - 1; i >= 0; i--)
	{
		double s = r->solve[i];

		for (k = i + 1; k < p; k++)
			s -= a[(size_t) i * p + k] * coef[k];
		coef[i] = s / a[(size_t) i * p + i];
	}
	*intercept = r->y_mean;
	for (j = 0; j < p; j++)
	{
		*intercept -= r->x_mean[j] * coef[j];
		fit += coef[j] * r->xy[j];
		penalty += coef[j] * coef[j];
	}
	/* (xx + alpha I) c = xy, so c'xx c = c'xy - alpha |c|^2 and the residual sum of squares is
	 * yy - 2 c'xy + c'xx c = yy - c'xy - alpha |c|^2, between 0 and yy */
	ss_res = r->yy - fit - alpha * penalty;
	if (ss_res < 0)
		ss_res = 0;
	if (ss_res > r->yy)
		ss_res = r->yy;
	*score = r->yy > 0 ? 1.0 - ss_res / r->yy : 1.0;
	return CS_OK;
}

/* ------------------------------------------------------ the explanation */

/* Rounds a byte count up to a multiple of 8. */
static size_t
align8(size_t n)
{
	return (n + 7) & ~(size_t) 7;
}

/* The address off bytes into a workspace. */
static void *
byte_offset(void *base, size_t off)
{
	return (char *) base + off;
}

/* Bytes of workspace an explanation over n_features needs. */
size_t
cs_lime_workspace(int32_t n_features)
{
	size_t n = n_features > 0 ? (size_t) n_features : 1;

	return align8(cs_ridge_workspace(n_features)) + align8(cs_mul_size(n, sizeof(int32_t))) +
		   cs_mul_size(2 * n, sizeof(double));
}

/* Draws the bin of one feature from its training frequencies. */
static int32_t
draw_bin(cs_rng *rng, const cs_lime_feature *s)
{
	int32_t  nb = cs_lime_value_bins(s);
	uint64_t total = s->missing;
	uint64_t r;
	int32_t  k;

	for (k = 0; k < nb; k++)
		total += s->kind == CS_KIND_NUMERIC ? s->num.counts[k] : s->level_counts[k];
	r = (uint64_t) (uniform_open(rng) * (double) total);
	if (r >= total)
		r = total - 1;
	for (k = 0; k < nb; k++)
	{
		uint64_t c = s->kind == CS_KIND_NUMERIC ? s->num.counts[k] : s->level_counts[k];

		if (r < c)
			return k;
		r -= c;
	}
	return nb; /* missing */
}

/* Starts an explanation: checks, then sample 0, the instance itself. */
cs_status
cs_lime_start(cs_lime_run *run, const cs_model *m, const cs_lime_stats *s, const double *input,
			  const cs_lime_options *opt, void *workspace, cs_error *err)
{
	int32_t   nf = m->schema.n_features;
	size_t    off;
	cs_status st;
	int32_t   j;

	memset(run, 0, sizeof(*run));
	if (opt->samples < CS_LIME_MIN_SAMPLES || opt->samples > CS_LIME_MAX_SAMPLES)
		return cs_fail(err,
					   CS_ERR_INVALID,
					   "samples must be between %d and %d",
					   CS_LIME_MIN_SAMPLES,
					   CS_LIME_MAX_SAMPLES);
	if (!isnan(opt->kernel_width) && !(opt->kernel_width > 0 && isfinite(opt->kernel_width)))
		return cs_fail(err, CS_ERR_INVALID, "kernel_width must be a positive number");
	st = cs_lime_check(&m->schema, s, err);
	if (st != CS_OK)
		return st;
	run->model = m;
	run->stats = s;
	run->samples = opt->samples;
	run->kernel_width = isnan(opt->kernel_width) ? 0.75 * sqrt((double) nf) : opt->kernel_width;
	cs_rng_seed(&run->rng, opt->seed);
	cs_ridge_init(&run->ridge, nf, workspace);
	off = align8(cs_ridge_workspace(nf));
	run->instance_bin = byte_offset(workspace, off);
	off += align8(cs_mul_size(nf > 0 ? (size_t) nf : 1, sizeof(int32_t)));
	run->input = byte_offset(workspace, off);
	run->binary = run->input + (nf > 0 ? nf : 1);
	run->instance = input;
	for (j = 0; j < nf; j++)
	{
		run->instance_bin[j] = cs_lime_bin(&m->schema.features[j], &s->features[j], input[j]);
		run->binary[j] = 1.0;
	}
	run->prediction = cs_model_predict(m, input);
	if (!isfinite(run->prediction))
		return cs_fail(err, CS_ERR_NUMERIC, "the model's prediction for the row is not finite");
	cs_ridge_add(&run->ridge, run->binary, run->prediction, 1.0);
	run->done = 1;
	return CS_OK;
}

/* Draws and scores up to count more samples; returns how many remain. */
int64_t
cs_lime_step(cs_lime_run *run, int64_t count)
{
	const cs_model      *m = run->model;
	const cs_lime_stats *s = run->stats;
	int32_t              nf = m->schema.n_features;
	double               width2 = run->kernel_width * run->kernel_width;

	while (count-- > 0 && run->done < run->samples)
	{
		int32_t mismatches = 0;
		int32_t j;
		double  y;

		for (j = 0; j < nf; j++)
		{
			const cs_lime_feature *f = &s->features[j];
			int32_t                b = draw_bin(&run->rng, f);

			if (b == cs_lime_value_bins(f))
				run->input[j] = NAN;
			else if (f->kind == CS_KIND_CATEGORICAL)
				run->input[j] = (double) b;
			else
				run->input[j] = cs_truncnorm_draw(&run->rng,
												  f->num.means[b],
												  f->num.stds[b],
												  f->num.mins[b],
												  f->num.maxs[b]);
			run->binary[j] = b == run->instance_bin[j] ? 1.0 : 0.0;
			mismatches += b != run->instance_bin[j];
		}
		y = cs_model_predict(m, run->input);
		cs_ridge_add(&run->ridge, run->binary, y, sqrt(exp(-(double) mismatches / width2)));
		run->done++;
	}
	return run->samples - run->done;
}

/* Fits the surrogate on the samples into out. */
cs_status
cs_lime_finish(cs_lime_run *run, cs_lime_result *out, cs_error *err)
{
	int32_t   nf = run->model->schema.n_features;
	cs_status st;
	int32_t   j;

	if (run->done < run->samples)
		return cs_fail(err, CS_ERR_INVALID, "the LIME samples are not all drawn");
	if (!isfinite(run->ridge.y_mean) || !isfinite(run->ridge.yy))
		return cs_fail(err, CS_ERR_NUMERIC, "the model's predictions are not all finite");
	st = cs_ridge_solve(&run->ridge, 1.0, out->weight, &out->intercept, &out->score, err);
	if (st != CS_OK)
		return st;
	out->local_prediction = out->intercept;
	for (j = 0; j < nf; j++)
	{
		out->local_prediction += out->weight[j];
		out->bin[j] = run->instance_bin[j];
	}
	out->prediction = run->prediction;
	out->kernel_width = run->kernel_width;
	return CS_OK;
}

/* The whole explanation in one call. */
cs_status
cs_lime_explain(const cs_model *m, const cs_lime_stats *s, const double *input,
				const cs_lime_options *opt, cs_lime_result *out, cs_error *err)
{
	void       *ws;
	cs_lime_run run;
	cs_status   st;

	if (m->schema.n_features > CS_LIME_MAX_FEATURES)
		return cs_lime_check(&m->schema, s, err);
	ws = cs_malloc(cs_lime_workspace(m->schema.n_features));
	if (ws == NULL)
		return cs_fail(err, CS_ERR_NOMEM, "out of memory for the LIME samples");
	st = cs_lime_start(&run, m, s, input, opt, ws, err);
	if (st == CS_OK)
	{
		cs_lime_step(&run, opt->samples);
		st = cs_lime_finish(&run, out, err);
	}
	cs_free(ws);
	return st;
}
