/*
 * profile.c - the training profile of a model, and drift against it.
 *
 * Built at training time from the training split (format and rules in
 * README.md, "Fairness and drift"):
 *
 *  - numeric feature and score: with v1 <= ... <= vm the sorted non-missing
 *    values, the decile edges are v[ceil(k m / 10)] for k = 1..9 (the
 *    inverted-CDF quantile: always a training value, no interpolation), ties
 *    removed; bin i holds the values in (e_i, e_{i+1}], the first and last
 *    bins being open.  The ECDF keeps every distinct value with its
 *    cumulative count when there are at most 1,000 of them (the KS test
 *    against training is then exact), else the values at ranks
 *    ceil(k m / 1000), k = 1..1000, with the count of values <= each: the
 *    test then runs against a training sample in which every value between
 *    two kept points is moved up to the next one, so the training CDF is off
 *    by less than the mass between two points (about 1/1000).
 *  - categorical feature: the count of each schema level, missing, unseen.
 *  - "lime": per feature, what LIME samples from (lime.c): the missing count;
 *    numeric, lime's quartile bins of the non-missing values with each bin's
 *    count, mean, deviation and range ("bins", "counts", "means", "stds",
 *    "mins", "maxs", as lime's training_data_stats); categorical, the level
 *    counts.
 *
 * A sample is compared streaming, one value at a time: its bin counts for
 * PSI, and for KS its counts in the 2m + 1 cells that the m ECDF points cut
 * the line into (below p1, at p1, between p1 and p2, ...).  The two-sample
 * statistic against the profile's training sample only changes at those
 * cells' ends, so D, and with the counts the p-value (ks.c), come out exactly
 * as scipy.stats.ks_2samp computes them on the same two samples.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_lime.h"
#include "cs_profile.h"

/* ------------------------------------------------------------ JSON text */

typedef struct jbuf
{
	char  *data;
	size_t len;
	size_t cap;
	int    failed;
} jbuf;

/* Appends len bytes. */
static void
jb_put(jbuf *b, const char *s, size_t len)
{
	if (b->failed)
		return;
	if (b->len + len + 1 > b->cap)
	{
		size_t cap = b->cap ? b->cap : 4096;
		char  *p;

		while (b->len + len + 1 > cap)
			cap *= 2;
		p = cs_realloc(b->data, cap);
		if (p == NULL)
		{
			b->failed = 1;
			return;
		}
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, len);
	b->len += len;
	b->data[b->len] = '\0';
}

/* Appends formatted text. */
static void jb_printf(jbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

static void
jb_printf(jbuf *b, const char *fmt, ...)
{
	char    buf[256];
	va_list ap;
	int     len;

	va_start(ap, fmt);
	len = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t) len >= sizeof(buf))
		b->failed = 1; /* only short fixed texts are formatted */
	else
		jb_put(b, buf, (size_t) len);
}

/* Appends a finite double in the fewest digits that read back exactly. */
static void
jb_number(jbuf *b, double x)
{
	char buf[32];
	int  prec;

	for (prec = 15; prec <= 17; prec++)
	{
		snprintf(buf, sizeof(buf), "%.*g", prec, x);
		if (strtod(buf, NULL) == x)
			break;
	}
	jb_put(b, buf, strlen(buf));
}

/* Appends a JSON string. */
static void
jb_string(jbuf *b, const char *s)
{
	jb_put(b, "\"", 1);
	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;

		if (c == '"' || c == '\\')
		{
			char esc[2] = { '\\', (char) c };

			jb_put(b, esc, 2);
		}
		else if (c < 0x20)
			jb_printf(b, "\\u%04x", c);
		else
			jb_put(b, s, 1);
	}
	jb_put(b, "\"", 1);
}

/* Appends an array of counts. */
static void
jb_counts(jbuf *b, const uint64_t *v, int64_t n)
{
	int64_t i;

	jb_put(b, "[", 1);
	for (i = 0; i < n; i++)
		jb_printf(b, i ? ", %llu" : "%llu", (unsigned long long) v[i]);
	jb_put(b, "]", 1);
}

/* Appends an array of doubles. */
static void
jb_numbers(jbuf *b, const double *v, int64_t n)
{
	int64_t i;

	jb_put(b, "[", 1);
	for (i = 0; i < n; i++)
	{
		if (i)
			jb_put(b, ", ", 2);
		jb_number(b, v[i]);
	}
	jb_put(b, "]", 1);
}

/* ------------------------------------------------------------- building */

/* The number of values in sorted[0..m) that are <= x, from index i on. */
static size_t
upper_from(const double *sorted, size_t m, size_t i, double x)
{
	while (i < m && sorted[i] <= x)
		i++;
	return i;
}

/* The bins and ECDF of m ascending, finite values. */
cs_status
cs_profile_dist_build(const double *sorted, size_t m, cs_profile_dist *out, cs_error *err)
{
	size_t distinct = 0;
	size_t i;
	size_t pos;
	int    k;
	int    cap_points;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < m; i++)
		if (i == 0 || sorted[i] != sorted[i - 1])
			distinct++;
	cap_points = distinct < CS_PROFILE_POINTS ? (int) distinct : CS_PROFILE_POINTS;
	out->edges = cs_calloc(CS_PROFILE_BINS, sizeof(double));
	out->counts = cs_calloc(CS_PROFILE_BINS, sizeof(uint64_t));
	out->points = cs_calloc((size_t) (cap_points > 0 ? cap_points : 1), sizeof(double));
	out->cum = cs_calloc((size_t) (cap_points > 0 ? cap_points : 1), sizeof(uint64_t));
	if (!out->edges || !out->counts || !out->points || !out->cum)
	{
		cs_profile_dist_free(out);
		return cs_fail(err, CS_ERR_NOMEM, "out of memory building the training profile");
	}
	for (i = 0; i < m; i++)
		if (!isfinite(sorted[i]) || (i > 0 && sorted[i] < sorted[i - 1]))
		{
			cs_profile_dist_free(out);
			return cs_fail(err, CS_ERR_INVALID, "profile values must be finite and sorted");
		}
	if (m == 0)
		return CS_OK;

	/* decile edges: the inverted-CDF quantiles v[ceil(k m / 10)], ties removed */
	for (k = 1; k < CS_PROFILE_BINS; k++)
	{
		double e = sorted[(k * m + CS_PROFILE_BINS - 1) / CS_PROFILE_BINS - 1];

		if (out->n_edges == 0 || e > out->edges[out->n_edges - 1])
			out->edges[out->n_edges++] = e;
	}
	pos = 0;
	for (k = 0; k < out->n_edges; k++)
	{
		size_t upto = upper_from(sorted, m, pos, out->edges[k]);

		out->counts[k] = upto - pos;
		pos = upto;
	}
	out->counts[out->n_edges] = m - pos;

	/* ECDF: every distinct value, or the values at ranks ceil(k m / 1000) */
	pos = 0;
	if (distinct <= CS_PROFILE_POINTS)
	{
		while (pos < m)
		{
			size_t upto = upper_from(sorted, m, pos, sorted[pos]);

			out->points[out->n_points] = sorted[pos];
			out->cum[out->n_points++] = upto;
			pos = upto;
		}
		return CS_OK;
	}
	for (k = 1; k <= CS_PROFILE_POINTS; k++)
	{
		size_t rank = ((size_t) k * m + CS_PROFILE_POINTS - 1) / CS_PROFILE_POINTS;
		double v = sorted[rank - 1];

		if (out->n_points > 0 && v <= out->points[out->n_points - 1])
			continue;
		pos = upper_from(sorted, m, rank - 1, v);
		out->points[out->n_points] = v;
		out->cum[out->n_points++] = pos;
	}
	return CS_OK;
}

/* Frees what d owns. */
void
cs_profile_dist_free(cs_profile_dist *d)
{
	cs_free(d->edges);
	cs_free(d->counts);
	cs_free(d->points);
	cs_free(d->cum);
	memset(d, 0, sizeof(*d));
}

/*
 * Appends the "edges", "counts" and "ecdf" members of a numeric distribution;
 * lime (may be NULL) receives the LIME bins of its non-missing values.
 */
static cs_status
append_numeric(jbuf *b, double *values, size_t n, cs_lime_numeric *lime, cs_error *err)
{
	cs_profile_dist d;
	size_t          m = 0;
	size_t          i;
	cs_status       st;

	for (i = 0; i < n; i++)
		if (!isnan(values[i]))
			values[m++] = values[i] == 0.0 ? 0.0 : values[i];
	st = cs_sort_doubles(values, m, err);
	if (st != CS_OK)
		return st;
	if (lime != NULL)
	{
		st = cs_lime_numeric_build(values, m, lime, err);
		if (st != CS_OK)
			return st;
	}
	st = cs_profile_dist_build(values, m, &d, err);
	if (st != CS_OK)
		return st;
	jb_printf(b, "\"n\": %zu, \"missing\": %zu, \"edges\": ", n, n - m);
	jb_numbers(b, d.edges, d.n_edges);
	jb_put(b, ", \"counts\": ", 12);
	jb_counts(b, d.counts, (int64_t) d.n_edges + 1);
	jb_put(b, ", \"ecdf\": {\"points\": ", 21);
	jb_numbers(b, d.points, d.n_points);
	jb_put(b, ", \"cum\": ", 9);
	jb_counts(b, d.cum, d.n_points);
	jb_put(b, "}", 1);
	cs_profile_dist_free(&d);
	return CS_OK;
}

/*
 * Appends the members of a categorical feature: levels, counts, missing,
 * unseen; and its LIME statistics (the level counts and missing) to lb.
 */
static cs_status
append_categorical(jbuf *b, jbuf *lb, const cs_feature *f, const cs_column *c, const size_t *rows,
				   size_t n, cs_error *err)
{
	int32_t   n_codes = cs_strdict_size(c->dict);
	int32_t  *level_of = cs_calloc((size_t) (n_codes > 0 ? n_codes : 1), sizeof(int32_t));
	uint64_t *counts = cs_calloc((size_t) (f->n_levels > 0 ? f->n_levels : 1), sizeof(uint64_t));
	uint64_t  missing = 0;
	uint64_t  unseen = 0;
	int32_t   k;
	size_t    i;

	if (level_of == NULL || counts == NULL)
	{
		cs_free(level_of);
		cs_free(counts);
		return cs_fail(err, CS_ERR_NOMEM, "out of memory building the training profile");
	}
	for (k = 0; k < n_codes; k++)
	{
		size_t      len;
		const char *s = cs_strdict_get(c->dict, k, &len);

		level_of[k] = cs_schema_level(f, s, len);
	}
	for (i = 0; i < n; i++)
	{
		double x = c->values[rows[i]];

		if (isnan(x))
			missing++;
		else if (x >= 0 && x < n_codes && level_of[(int32_t) x] >= 0)
			counts[level_of[(int32_t) x]]++;
		else
			unseen++;
	}
	jb_printf(b,
			  "\"n\": %zu, \"missing\": %llu, \"unseen\": %llu, \"levels\": [",
			  n,
			  (unsigned long long) missing,
			  (unsigned long long) unseen);
	for (k = 0; k < f->n_levels; k++)
	{
		if (k)
			jb_put(b, ", ", 2);
		jb_string(b, f->levels[k]);
	}
	jb_put(b, "], \"counts\": ", 13);
	jb_counts(b, counts, f->n_levels);
	jb_printf(lb, "\"missing\": %llu, \"counts\": ", (unsigned long long) missing);
	jb_counts(lb, counts, f->n_levels);
	cs_free(level_of);
	cs_free(counts);
	return CS_OK;
}

/* Appends a numeric feature's LIME bins: lime's training_data_stats for it. */
static void
append_lime_numeric(jbuf *lb, const cs_lime_numeric *q, uint64_t missing)
{
	int32_t nq = q->n_bins > 0 ? q->n_bins - 1 : 0;

	jb_printf(lb, "\"missing\": %llu, \"bins\": ", (unsigned long long) missing);
	jb_numbers(lb, q->quartiles, nq);
	jb_put(lb, ", \"counts\": ", 12);
	jb_counts(lb, q->counts, q->n_bins);
	jb_put(lb, ", \"means\": ", 11);
	jb_numbers(lb, q->means, q->n_bins);
	jb_put(lb, ", \"stds\": ", 10);
	jb_numbers(lb, q->stds, q->n_bins);
	jb_put(lb, ", \"mins\": ", 10);
	jb_numbers(lb, q->mins, q->n_bins);
	jb_put(lb, ", \"maxs\": ", 10);
	jb_numbers(lb, q->maxs, q->n_bins);
}

/* The profile of a model's features and scores on its training rows, as JSON. */
cs_status
cs_profile_build(const cs_schema *schema, const cs_dataset *ds, const size_t *rows, size_t n,
				 const double *scores, char **json, cs_error *err)
{
	jbuf      b = { NULL, 0, 0, 0 };
	jbuf      lb = { NULL, 0, 0, 0 }; /* the "lime" member */
	double   *values = cs_malloc(cs_mul_size(n > 0 ? n : 1, sizeof(double)));
	cs_status st = CS_OK;
	int32_t   j;
	size_t    i;

	*json = NULL;
	if (values == NULL)
		return cs_fail(err, CS_ERR_NOMEM, "out of memory building the training profile");
	if (schema->n_features != ds->n_cols)
	{
		cs_free(values);
		return cs_fail(err, CS_ERR_INVALID, "the schema does not match the dataset");
	}
	jb_printf(&b,
			  "{\"version\": %d, \"n\": %zu, \"bins\": %d, \"points\": %d, "
			  "\"features\": [",
			  CS_PROFILE_VERSION,
			  n,
			  CS_PROFILE_BINS,
			  CS_PROFILE_POINTS);
	for (j = 0; j < schema->n_features && st == CS_OK; j++)
	{
		const cs_feature *f = &schema->features[j];
		const cs_column  *c = &ds->cols[j];

		jb_put(&b, j ? ", {\"name\": " : "{\"name\": ", j ? 11 : 9);
		jb_string(&b, f->name);
		jb_printf(&b,
				  ", \"kind\": \"%s\", ",
				  f->kind == CS_KIND_NUMERIC ? "numeric" : "categorical");
		jb_put(&lb, j ? ", {\"name\": " : "{\"name\": ", j ? 11 : 9);
		jb_string(&lb, f->name);
		jb_printf(&lb,
				  ", \"kind\": \"%s\", ",
				  f->kind == CS_KIND_NUMERIC ? "numeric" : "categorical");
		if (f->kind == CS_KIND_NUMERIC)
		{
			cs_lime_numeric q;
			size_t          missing = 0;

			for (i = 0; i < n; i++)
			{
				values[i] = c->values[rows[i]];
				missing += isnan(values[i]) ? 1 : 0;
			}
			st = append_numeric(&b, values, n, &q, err);
			if (st == CS_OK)
				append_lime_numeric(&lb, &q, missing);
		}
		else
			st = append_categorical(&b, &lb, f, c, rows, n, err);
		jb_put(&b, "}", 1);
		jb_put(&lb, "}", 1);
	}
	if (st == CS_OK)
	{
		jb_put(&b, "], \"score\": {", 13);
		memcpy(values, scores, n * sizeof(double));
		st = append_numeric(&b, values, n, NULL, err);
		jb_printf(&b, "}, \"lime\": {\"version\": %d, \"features\": [", CS_LIME_STATS_VERSION);
		if (lb.data != NULL)
			jb_put(&b, lb.data, lb.len);
		jb_put(&b, "]}}", 3);
	}
	cs_free(values);
	if (st == CS_OK && (b.failed || lb.failed))
		st = cs_fail(err, CS_ERR_NOMEM, "out of memory writing the training profile");
	cs_free(lb.data);
	if (st != CS_OK)
	{
		cs_free(b.data);
		return st;
	}
	*json = b.data;
	return CS_OK;
}

/* ------------------------------------------------------------ checking */

/* Checks one numeric distribution against its row counts. */
static cs_status
check_dist(const cs_profile_feature *f, cs_error *err)
{
	const cs_profile_dist *d = &f->dist;
	uint64_t               total = 0;
	int32_t                i;

	if (d->n_edges < 0 || d->n_edges >= CS_PROFILE_BINS || d->n_points < 0 ||
		d->n_points > CS_PROFILE_POINTS)
		return cs_fail(err, CS_ERR_CORRUPT, "\"%s\": bad number of edges or points", f->name);
	for (i = 0; i < d->n_edges; i++)
		if (!isfinite(d->edges[i]) || (i > 0 && !(d->edges[i] > d->edges[i - 1])))
			return cs_fail(err, CS_ERR_CORRUPT, "\"%s\": edges must increase", f->name);
	for (i = 0; i <= d->n_edges; i++)
	{
		if (d->counts[i] > f->n - total)
			return cs_fail(err, CS_ERR_CORRUPT, "\"%s\": bin counts exceed n", f->name);
		total += d->counts[i];
	}
	if (total + f->missing != f->n)
		return cs_fail(err,
					   CS_ERR_CORRUPT,
					   "\"%s\": counts and missing do not add up to n",
					   f->name);
	for (i = 0; i < d->n_points; i++)
		if (!isfinite(d->points[i]) || (i > 0 && !(d->points[i] > d->points[i - 1])) ||
			d->cum[i] == 0 || (i > 0 && d->cum[i] <= d->cum[i - 1]))
			return cs_fail(err, CS_ERR_CORRUPT, "\"%s\": ECDF points must increase", f->name);
	if ((d->n_points == 0 && total != 0) || (d->n_points > 0 && d->cum[d->n_points - 1] != total))
		return cs_fail(err, CS_ERR_CORRUPT, "\"%s\": ECDF does not end at the count", f->name);
	return CS_OK;
}

/* Checks one profiled feature. */
static cs_status
check_feature(const cs_profile_feature *f, cs_error *err)
{
	uint64_t total;
	int32_t  k;

	if (f->missing > f->n)
		return cs_fail(err, CS_ERR_CORRUPT, "\"%s\": missing exceeds n", f->name);
	if (f->kind == CS_KIND_NUMERIC)
		return check_dist(f, err);
	total = f->missing;
	if (f->unseen > f->n - total)
		return cs_fail(err, CS_ERR_CORRUPT, "\"%s\": counts exceed n", f->name);
	total += f->unseen;
	for (k = 0; k < f->n_levels; k++)
	{
		if (f->level_counts[k] > f->n - total)
			return cs_fail(err, CS_ERR_CORRUPT, "\"%s\": counts exceed n", f->name);
		total += f->level_counts[k];
	}
	if (total != f->n)
		return cs_fail(err, CS_ERR_CORRUPT, "\"%s\": counts do not add up to n", f->name);
	return CS_OK;
}

/* CS_ERR_CORRUPT naming the first inconsistency of a profile read back. */
cs_status
cs_profile_check(const cs_profile *p, cs_error *err)
{
	int32_t   j;
	cs_status st;

	for (j = 0; j < p->n_features; j++)
	{
		st = check_feature(&p->features[j], err);
		if (st != CS_OK)
			return st;
		if (p->features[j].n != p->score.n)
			return cs_fail(err,
						   CS_ERR_CORRUPT,
						   "\"%s\": n differs from the score's",
						   p->features[j].name);
	}
	if (p->score.kind != CS_KIND_NUMERIC)
		return cs_fail(err, CS_ERR_CORRUPT, "the score must be numeric");
	return check_feature(&p->score, err);
}

/* Frees one feature's arrays. */
static void
free_feature(cs_profile_feature *f)
{
	int32_t k;

	cs_free(f->name);
	cs_profile_dist_free(&f->dist);
	for (k = 0; f->levels && k < f->n_levels; k++)
		cs_free(f->levels[k]);
	cs_free(f->levels);
	cs_free(f->level_counts);
	memset(f, 0, sizeof(*f));
}

/* Frees what p owns (not p itself). */
void
cs_profile_free(cs_profile *p)
{
	int32_t j;

	for (j = 0; p->features && j < p->n_features; j++)
		free_feature(&p->features[j]);
	cs_free(p->features);
	free_feature(&p->score);
	memset(p, 0, sizeof(*p));
}

/* ---------------------------------------------------------- comparing */

/* The number of counters (uint64) an accumulator for ref needs. */
size_t
cs_drift_acc_words(const cs_profile_feature *ref)
{
	if (ref->kind == CS_KIND_NUMERIC)
		return (size_t) ref->dist.n_edges + 1 + 2 * (size_t) ref->dist.n_points + 1;
	return ref->n_levels > 0 ? (size_t) ref->n_levels : 1;
}

/* Starts an accumulator on words: cs_drift_acc_words(ref) zeroed counters. */
void
cs_drift_acc_init(cs_drift_acc *a, const cs_profile_feature *ref, uint64_t *words)
{
	memset(a, 0, sizeof(*a));
	a->ref = ref;
	a->bins = words;
	if (ref->kind == CS_KIND_NUMERIC)
		a->cells = words + ref->dist.n_edges + 1;
}

/* The number of v[0..n) strictly below x (binary search). */
static int32_t
count_below(const double *v, int32_t n, double x)
{
	int32_t lo = 0;
	int32_t hi = n;

	while (lo < hi)
	{
		int32_t mid = lo + (hi - lo) / 2;

		if (v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Adds one value (a number, or a level index; NaN when missing). */
void
cs_drift_acc_add(cs_drift_acc *a, double x)
{
	const cs_profile_feature *f = a->ref;

	a->n++;
	if (isnan(x))
		a->missing++;
	else if (f->kind == CS_KIND_NUMERIC)
	{
		const cs_profile_dist *d = &f->dist;
		int32_t                k = count_below(d->points, d->n_points, x);

		a->bins[count_below(d->edges, d->n_edges, x)]++;
		/* cell 2k + 1: at point k; cell 2k: strictly between points k-1 and k */
		a->cells[2 * (size_t) k + (k < d->n_points && d->points[k] == x ? 1 : 0)]++;
	}
	else if (x >= 0 && x < f->n_levels)
		a->bins[(int32_t) x]++;
	else
		a->unseen++;
}

/* The population stability index over proportions floored at CS_PSI_FLOOR. */
double
cs_psi(const uint64_t *expected, const uint64_t *actual, int n_bins, uint64_t n_e, uint64_t n_a)
{
	double psi = 0.0;
	int    i;

	if (n_e == 0 || n_a == 0)
		return NAN;
	for (i = 0; i < n_bins; i++)
	{
		double e = fmax((double) expected[i] / (double) n_e, CS_PSI_FLOOR);
		double a = fmax((double) actual[i] / (double) n_a, CS_PSI_FLOOR);

		psi += (a - e) * log(a / e);
	}
	return psi;
}

/* PSI of the sample: the value bins (or levels), then missing, then unseen. */
double
cs_drift_psi(const cs_drift_acc *a)
{
	const cs_profile_feature *f = a->ref;
	int                       n_bins =
        f->kind == CS_KIND_NUMERIC ? f->dist.n_edges + 1 : (f->n_levels > 0 ? f->n_levels : 0);
	const uint64_t *ref_bins = f->kind == CS_KIND_NUMERIC ? f->dist.counts : f->level_counts;
	uint64_t        e_extra[2] = { f->missing, f->unseen };
	uint64_t        a_extra[2] = { a->missing, a->unseen };
	double          psi;

	if (f->n == 0 || a->n == 0)
		return NAN;
	psi = cs_psi(ref_bins, a->bins, n_bins, f->n, a->n);
	return psi + cs_psi(e_extra, a_extra, f->kind == CS_KIND_NUMERIC ? 1 : 2, f->n, a->n);
}

/* KS test of the sample's non-missing values against the profile's ECDF. */
void
cs_drift_ks(const cs_drift_acc *a, cs_ks_test *out)
{
	const cs_profile_dist *d = &a->ref->dist;
	uint64_t               n1;
	uint64_t               n2 = a->n - a->missing;
	uint64_t               below = 0; /* sample values < the current point */
	double                 dmax = 0.0;
	int32_t                k;

	out->statistic = NAN;
	out->p_value = NAN;
	out->exact = 0;
	if (a->ref->kind != CS_KIND_NUMERIC || d->n_points == 0)
		return;
	n1 = d->cum[d->n_points - 1];
	if (n1 < 2 || n2 < 2)
		return;
	/*
   * Between points k-1 and k the training CDF is cum[k-1]/n1; the largest
   * gap there is at the last sample value before point k, or at point k-1.
   * At point k both CDFs step: training to cum[k]/n1.
   */
	for (k = 0; k <= d->n_points; k++)
	{
		double f1 = k == 0 ? 0.0 : (double) d->cum[k - 1] / (double) n1;

		if (a->cells[2 * (size_t) k] > 0)
		{
			below += a->cells[2 * (size_t) k];
			dmax = fmax(dmax, fabs(f1 - (double) below / (double) n2));
		}
		if (k < d->n_points)
		{
			below += a->cells[2 * (size_t) k + 1];
			dmax =
				fmax(dmax, fabs((double) d->cum[k] / (double) n1 - (double) below / (double) n2));
		}
	}
	cs_ks_pvalue(n1, n2, dmax, out);
}

/* "stable", "investigate" or "shifted" (NULL for NaN). */
const char *
cs_psi_verdict(double psi)
{
	if (isnan(psi))
		return NULL;
	if (psi < CS_PSI_INVESTIGATE)
		return "stable";
	if (psi < CS_PSI_SHIFTED)
		return "investigate";
	return "shifted";
}
