/*
 * test_fairness_drift.c - unit tests of the fairness, KS and profile cores
 * (src/core/fairness.c, ks.c, profile.c), printing TAP.
 *
 * Build and run (from the repository root): make test/unit/test_fairness_drift,
 * then prove test/unit/test_fairness_drift.
 *
 * Expected p-values come from SciPy 1.10 (scipy.stats.ks_2samp, kstwo.sf,
 * scipy.special.smirnov), printed with repr(); the fairness and profile
 * figures are worked out by hand from their definitions (README, "Fairness
 * and drift").
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_core.h"
#include "cs_fairness.h"
#include "cs_ks.h"
#include "cs_profile.h"
#include "tap.h"

/* Whether a and b agree to within tol relative to |b| (absolutely when b is 0). */
static int
rel_close(double a, double b, double tol)
{
	if (b == 0.0)
		return fabs(a) <= tol;
	return fabs(a - b) <= tol * fabs(b);
}

/* qsort order of doubles. */
static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *) a;
	double y = *(const double *) b;

	return (x > y) - (x < y);
}

/* A reproducible pseudo-random double in [0, 1). */
static double
next_uniform(cs_rng *rng)
{
	return cs_rng_uniform(rng);
}

/* ------------------------------------------------------------- sorting */

static void
test_sort(void)
{
	static const size_t sizes[] = { 0, 1, 7, 255, 256, 1000, 100000 };
	cs_rng              rng;
	size_t              s;

	cs_rng_seed(&rng, 7);
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
	{
		size_t  n = sizes[s];
		double *x = malloc(sizeof(double) * (n + 1));
		double *y = malloc(sizeof(double) * (n + 1));
		size_t  i;
		int     same = 1;

		for (i = 0; i < n; i++)
			x[i] = i % 3 == 0 ? floor(next_uniform(&rng) * 10) - 5 : next_uniform(&rng) * 2e6 - 1e6;
		if (n > 10)
		{
			x[0] = INFINITY;
			x[1] = -INFINITY;
			x[2] = 1e-310; /* subnormal */
			x[3] = -1e-310;
		}
		memcpy(y, x, sizeof(double) * n);
		qsort(y, n, sizeof(double), cmp_double);
		if (cs_sort_doubles(x, n, NULL) != CS_OK)
			same = 0;
		for (i = 0; i < n && same; i++)
			same = x[i] == y[i];
		tap_ok(same, "radix sort of %zu doubles (ties, infinities, subnormals) equals qsort", n);
		free(x);
		free(y);
	}
}

/* --------------------------------------------------------------- KS */

static void
test_ks_statistic(void)
{
	const double a[] = { 1, 2, 3 };
	const double b[] = { 2.5, 3.5, 4.5 };
	const double ta[] = { 1, 1, 2 };
	const double tb[] = { 1, 2, 2 };
	const double ua[] = { 0, 0, 0 };
	cs_ks_test   t;

	tap_ok(rel_close(cs_ks_statistic(a, 3, b, 3), 2.0 / 3.0, 1e-15),
		   "D of two small samples is 2/3");
	tap_ok(cs_ks_statistic(ta, 3, tb, 3) == 1.0 / 3.0,
		   "D is taken after each group of ties: a tie in both samples moves both CDFs");
	tap_ok(cs_ks_statistic(ua, 3, ua, 3) == 0.0, "D of identical samples is 0");
	tap_ok(isnan(cs_ks_statistic(a, 0, b, 3)), "D of an empty sample is NaN");

	cs_ks_pvalue(3, 3, 2.0 / 3.0, &t);
	tap_ok(t.exact && rel_close(t.p_value, 0.6, 1e-14),
		   "exact p-value, equal sizes (ks_2samp: 0.6)");
	cs_ks_pvalue(8, 6, 0.25, &t);
	tap_ok(t.exact && rel_close(t.p_value, 0.9520479520479521, 1e-14),
		   "exact p-value, unequal sizes (SciPy: 0.9520479520479521)");
	cs_ks_pvalue(30, 45, 12.0 / 90.0, &t);
	tap_ok(t.exact && rel_close(t.p_value, 0.880200562153877, 1e-12) && t.statistic == 12.0 / 90.0,
		   "exact p-value, gcd 15: D rounded to h/lcm (SciPy: 0.880200562153877)");
	cs_ks_pvalue(5, 5, 0.0, &t);
	tap_ok(t.p_value == 1.0, "D = 0 has p-value 1");
	cs_ks_pvalue(11, 19995, 0.9996499124781195, &t);
	tap_ok(!t.exact && rel_close(t.p_value, 1.9363013250593104e-38, 1e-9),
		   "max(n1, n2) > 10000 is asymptotic (SciPy: 1.9363013250593104e-38)");
	tap_ok(cs_ks_exact_sf(10000, 10000, 1) != cs_ks_exact_sf(10000, 10000, 1) ||
			   cs_ks_exact_sf(10000, 10000, 1) <= 1.0,
		   "an exact probability above 1 is refused (then asymptotic, as SciPy)");
}

static void
test_ks_distributions(void)
{
	static const struct
	{
		int64_t     n;
		double      x;
		double      sf; /* scipy.stats.kstwo.sf(x, n) */
		const char *region;
	} kstwo[] = {
		{ 5, 0.15, 0.9988, "n x <= 1 (Ruben-Gambino)" },
		{ 5, 0.85, 0.0001518750000000001, "n x >= n - 1 (Ruben-Gambino)" },
		{ 10, 0.6, 0.0005681672000000003, "x >= 0.5 (2 x Smirnov)" },
		{ 100, 0.05, 0.9532159710635725, "n <= 140, small n x^2 (Durbin matrix)" },
		{ 100, 0.15, 0.019839242125643017, "n <= 140, n x^2 <= 4 (Pomeranz)" },
		{ 100, 0.25, 5.408871776434847e-06, "n <= 140, tail (2 x Smirnov)" },
		{ 141, 0.1, 0.11128445516467944, "n > 140 (Pelz-Good)" },
		{ 1000, 0.01, 0.9999496745370611, "n x^1.5 <= 1.4 (Durbin matrix)" },
		{ 1000, 0.02, 0.8108971656895577, "n <= 100000 (Pelz-Good)" },
		{ 500000, 0.001, 0.6989801443663661, "n > 100000 (Pelz-Good)" },
		{ 500000, 0.003, 0.00024632301239186754, "n x^2 >= 2.2 (2 x Smirnov)" },
		{ 2000000, 0.003, 4.629776712470284e-16, "n > 10^6 (Smirnov's approximation)" },
	};
	size_t i;

	for (i = 0; i < sizeof(kstwo) / sizeof(kstwo[0]); i++)
		tap_ok(rel_close(cs_kolmogn_sf(kstwo[i].n, kstwo[i].x), kstwo[i].sf, 1e-9),
			   "kstwo.sf(%g, %lld) = %.17g, %s",
			   kstwo[i].x,
			   (long long) kstwo[i].n,
			   kstwo[i].sf,
			   kstwo[i].region);
	tap_ok(rel_close(cs_smirnov_sf(10, 0.3), 0.1354635556, 1e-12), "smirnov(10, 0.3)");
	tap_ok(rel_close(cs_smirnov_sf(1000, 0.05), 0.006506037390545166, 1e-10),
		   "smirnov(1000, 0.05)");
	tap_ok(cs_kolmogn_sf(10, 0.0) == 1.0 && cs_kolmogn_sf(10, 1.0) == 0.0,
		   "kstwo.sf at the ends of [0, 1]");
}

/* ----------------------------------------------------------- fairness */

/* A group from its counts. */
static cs_fair_group
group(uint64_t n, uint64_t approved, uint64_t good, uint64_t bad, uint64_t approved_good,
	  uint64_t approved_bad)
{
	cs_fair_group g;

	memset(&g, 0, sizeof(g));
	g.c.n = n;
	g.c.approved = approved;
	g.c.good = good;
	g.c.bad = bad;
	g.c.approved_good = approved_good;
	g.c.approved_bad = approved_bad;
	return g;
}

static void
test_fairness(void)
{
	cs_fair_group   g[2];
	cs_fair_summary s;
	cs_fair_counts  bad_counts = { 3, 4, 0, 0, 0, 0 };

	/* A: 4 rows, 3 approved (2 good payers, 1 defaulter), 3 good; B: 2 rows, 1 approved, both good */
	g[0] = group(4, 3, 3, 1, 2, 1);
	g[1] = group(2, 1, 2, 0, 1, 0);
	cs_fairness_compute(g, 2, -1, &s);
	tap_ok(g[0].selection_rate == 0.75 && rel_close(g[0].true_positive_rate, 2.0 / 3, 1e-15) &&
			   g[0].false_positive_rate == 1.0 && rel_close(g[0].precision, 2.0 / 3, 1e-15),
		   "group A: selection rate 3/4, TPR 2/3, FPR 1, precision 2/3");
	tap_ok(g[1].selection_rate == 0.5 && g[1].true_positive_rate == 0.5 &&
			   isnan(g[1].false_positive_rate) && g[1].precision == 1.0,
		   "group B: no defaulters, so its FPR is undefined (NaN)");
	tap_ok(s.demographic_parity_difference == 0.25 &&
			   rel_close(s.demographic_parity_ratio, 2.0 / 3, 1e-15),
		   "demographic parity: difference 0.25, ratio 2/3");
	tap_ok(rel_close(s.equal_opportunity_difference, 1.0 / 6, 1e-14) &&
			   rel_close(s.equalized_odds_difference, 1.0 / 6, 1e-14),
		   "equal opportunity 1/6; equalized odds leaves the undefined FPR out");
	tap_ok(s.reference == 0 && rel_close(g[1].impact_ratio, 2.0 / 3, 1e-15) &&
			   g[1].passes_four_fifths == 0 && s.four_fifths_rule == 0,
		   "without a privileged group the reference is the highest rate: B at 2/3 fails 4/5");
	tap_ok(isnan(s.statistical_parity_difference) && isnan(s.disparate_impact),
		   "AIF360's figures need a privileged group");

	cs_fairness_compute(g, 2, 1, &s);
	tap_ok(s.reference == 1 && s.statistical_parity_difference == 0.25 &&
			   s.disparate_impact == 1.5 && s.four_fifths_rule == 1,
		   "privileged B: statistical parity difference +0.25, disparate impact 1.5, 4/5 holds");

	g[0] = group(5, 4, 5, 0, 4, 0);
	g[1] = group(5, 0, 5, 0, 0, 0);
	cs_fairness_compute(g, 2, 1, &s);
	tap_ok(isnan(s.disparate_impact) && s.four_fifths_rule == -1 && isnan(g[0].impact_ratio),
		   "a privileged group approving nobody leaves the ratios undefined");
	g[0] = group(5, 4, 5, 0, 4, 0);
	g[1] = group(5, 4, 5, 0, 4, 0);
	cs_fairness_compute(g, 2, -1, &s);
	tap_ok(g[1].passes_four_fifths == 1 && s.four_fifths_rule == 1 &&
			   s.demographic_parity_difference == 0.0,
		   "equal groups: difference 0, rule holds");
	/* exactly 4/5: 4/10 against 5/10 */
	g[0] = group(10, 5, 10, 0, 5, 0);
	g[1] = group(10, 4, 10, 0, 4, 0);
	cs_fairness_compute(g, 2, 0, &s);
	tap_ok(g[1].passes_four_fifths == 1, "a ratio of exactly 4/5 passes (integer comparison)");
	tap_ok(!cs_fair_counts_valid(&bad_counts), "more approvals than rows is invalid");
}

/* ------------------------------------------------------------ profile */

static void
test_profile_dist(void)
{
	double          v[2500];
	const double    ties[] = { 0, 0, 0, 0, 0, 0, 0, 1, 1, 2 };
	cs_profile_dist d;
	int             ok = 1;
	int             i;

	for (i = 0; i < 20; i++)
		v[i] = i + 1;
	cs_profile_dist_build(v, 20, &d, NULL);
	for (i = 0; i < 9; i++)
		ok = ok && d.edges[i] == 2.0 * (i + 1) && d.counts[i] == 2;
	tap_ok(d.n_edges == 9 && ok && d.counts[9] == 2,
		   "1..20: decile edges v[ceil(k m / 10)] = 2, 4, ..., 18, two values a bin");
	tap_ok(d.n_points == 20 && d.points[0] == 1 && d.cum[19] == 20,
		   "20 distinct values: the ECDF keeps every one");
	cs_profile_dist_free(&d);

	cs_profile_dist_build(ties, 10, &d, NULL);
	tap_ok(d.n_edges == 2 && d.edges[0] == 0 && d.edges[1] == 1 && d.counts[0] == 7 &&
			   d.counts[1] == 2 && d.counts[2] == 1,
		   "ties: the edges 0 (x7) and 1 (x2) are kept once; bins (-inf,0], (0,1], (1,inf)");
	tap_ok(d.n_points == 3 && d.cum[0] == 7 && d.cum[1] == 9 && d.cum[2] == 10,
		   "ties: ECDF points 0, 1, 2 with counts 7, 9, 10");
	cs_profile_dist_free(&d);

	for (i = 0; i < 2500; i++)
		v[i] = i + 1;
	cs_profile_dist_build(v, 2500, &d, NULL);
	tap_ok(d.n_points == 1000 && d.points[0] == 3 && d.points[1] == 5 && d.points[2] == 8 &&
			   d.cum[1] == 5 && d.points[999] == 2500 && d.cum[999] == 2500,
		   "2,500 distinct values: 1,000 points at ranks ceil(2.5 k), with their counts");
	cs_profile_dist_free(&d);

	cs_profile_dist_build(v, 0, &d, NULL);
	tap_ok(d.n_edges == 0 && d.n_points == 0 && d.counts[0] == 0, "no values: one empty bin");
	cs_profile_dist_free(&d);
	v[0] = NAN;
	tap_ok(cs_profile_dist_build(v, 3, &d, NULL) == CS_ERR_INVALID, "a NaN is refused");
}

/* A numeric profiled feature over the given training values (NaN = missing). */
static void
numeric_feature(cs_profile_feature *f, const double *train, size_t n)
{
	double *sorted = malloc(sizeof(double) * (n + 1));
	size_t  m = 0;
	size_t  i;

	memset(f, 0, sizeof(*f));
	f->name = "x";
	f->kind = CS_KIND_NUMERIC;
	f->n = n;
	for (i = 0; i < n; i++)
		if (!isnan(train[i]))
			sorted[m++] = train[i];
	qsort(sorted, m, sizeof(double), cmp_double);
	f->missing = n - m;
	cs_profile_dist_build(sorted, m, &f->dist, NULL);
	free(sorted);
}

static void
test_drift(void)
{
	cs_profile_feature f;
	cs_drift_acc       a;
	uint64_t          *words;
	cs_ks_test         t;
	cs_rng             rng;
	double             train[3000];
	double             cur[1500];
	double             pseudo[3000];
	int                i;
	int                k;
	int                m = 0;
	uint64_t           e[3] = { 50, 50, 0 };
	uint64_t           act[3] = { 0, 50, 50 };
	const char        *levels[2] = { "a", "b" };
	uint64_t           level_counts[2] = { 6, 3 };

	/* a continuous training sample: more than 1,000 distinct values */
	cs_rng_seed(&rng, 42);
	for (i = 0; i < 3000; i++)
		train[i] = i % 50 == 0 ? NAN : floor(next_uniform(&rng) * 5000) / 10;
	for (i = 0; i < 1500; i++)
		cur[i] = i % 30 == 0 ? NAN : floor(next_uniform(&rng) * 5500) / 10;
	numeric_feature(&f, train, 3000);
	words = calloc(cs_drift_acc_words(&f), sizeof(uint64_t));
	cs_drift_acc_init(&a, &f, words);
	for (i = 0; i < 1500; i++)
		cs_drift_acc_add(&a, cur[i]);
	cs_drift_ks(&a, &t);

	/* the same test, two-sample, on the training sample the ECDF describes */
	for (k = 0; k < f.dist.n_points; k++)
		for (; m < (int) f.dist.cum[k]; m++)
			pseudo[m] = f.dist.points[k];
	{
		double    *c = malloc(sizeof(double) * 1500);
		int        nc = 0;
		cs_ks_test direct;

		for (i = 0; i < 1500; i++)
			if (!isnan(cur[i]))
				c[nc++] = cur[i];
		qsort(c, nc, sizeof(double), cmp_double);
		cs_ks_pvalue(m, nc, cs_ks_statistic(pseudo, m, c, nc), &direct);
		tap_ok(f.dist.n_points > 900 && t.statistic == direct.statistic &&
				   t.p_value == direct.p_value,
			   "streaming KS against a %d-point profile = two-sample KS on its training "
			   "sample (D %.6f, p %.6g)",
			   f.dist.n_points,
			   t.statistic,
			   t.p_value);
		free(c);
	}
	tap_ok(a.n == 1500 && a.missing == 50, "the sample's rows and missing values are counted");
	tap_ok(cs_drift_psi(&a) > 0.0 && isfinite(cs_drift_psi(&a)), "PSI of a shifted sample > 0");
	free(words);

	/* an identical sample: PSI 0, D 0 */
	words = calloc(cs_drift_acc_words(&f), sizeof(uint64_t));
	cs_drift_acc_init(&a, &f, words);
	for (i = 0; i < 3000; i++)
		cs_drift_acc_add(&a, train[i]);
	cs_drift_ks(&a, &t);
	{
		double gap = 0.0;

		for (k = 0; k < f.dist.n_points; k++)
			gap = fmax(gap,
					   (double) (f.dist.cum[k] - (k ? f.dist.cum[k - 1] : 0)) /
						   (double) f.dist.cum[f.dist.n_points - 1]);
		tap_ok(cs_drift_psi(&a) == 0.0 && t.statistic > 0 && t.statistic < gap,
			   "the training sample against its own profile: PSI 0, D %.5f below the ECDF's "
			   "largest step %.5f",
			   t.statistic,
			   gap);
	}
	free(words);
	cs_profile_dist_free(&f.dist);

	/* PSI by hand: proportions 0.5/0.5/0 against 0/0.5/0.5, empty bins at 1e-4 */
	tap_ok(rel_close(cs_psi(e, act, 3, 100, 100), 2 * (0.5 - 1e-4) * log(0.5 / 1e-4), 1e-14),
		   "PSI floors empty bins at 1e-4: 2 (0.5 - 1e-4) ln(0.5 / 1e-4)");
	tap_ok(isnan(cs_psi(e, act, 3, 0, 100)), "PSI of an empty side is NaN");
	tap_ok(strcmp(cs_psi_verdict(0.0999), "stable") == 0 &&
			   strcmp(cs_psi_verdict(0.1), "investigate") == 0 &&
			   strcmp(cs_psi_verdict(0.2499), "investigate") == 0 &&
			   strcmp(cs_psi_verdict(0.25), "shifted") == 0 && cs_psi_verdict(NAN) == NULL,
		   "verdict bands: < 0.1 stable, < 0.25 investigate, else shifted");

	/* categorical: levels, missing and unseen bins; no KS */
	memset(&f, 0, sizeof(f));
	f.name = "home";
	f.kind = CS_KIND_CATEGORICAL;
	f.n = 10;
	f.missing = 1;
	f.n_levels = 2;
	f.levels = (char **) levels;
	f.level_counts = level_counts;
	words = calloc(cs_drift_acc_words(&f), sizeof(uint64_t));
	cs_drift_acc_init(&a, &f, words);
	cs_drift_acc_add(&a, 0);
	cs_drift_acc_add(&a, 1);
	cs_drift_acc_add(&a, -1);
	cs_drift_acc_add(&a, NAN);
	cs_drift_ks(&a, &t);
	{
		double expect = (0.25 - 0.6) * log(0.25 / 0.6) + (0.25 - 0.3) * log(0.25 / 0.3) +
						(0.25 - 0.1) * log(0.25 / 0.1) + (0.25 - 1e-4) * log(0.25 / 1e-4);

		tap_ok(a.unseen == 1 && a.missing == 1 && rel_close(cs_drift_psi(&a), expect, 1e-14),
			   "categorical PSI over levels, missing and unseen (%.6f)",
			   expect);
	}
	tap_ok(isnan(t.statistic) && isnan(t.p_value), "no KS for a categorical feature");
	free(words);
}

/* Appends a row of text cells (NULL = missing) to a dataset. */
static void
add_row(cs_dataset *ds, const char *const *cells, int label)
{
	size_t r = ds->n_rows;
	int    j;

	if (cs_dataset_reserve(ds, r + 1, NULL) != CS_OK)
		abort();
	for (j = 0; j < ds->n_cols; j++)
	{
		cs_column *c = &ds->cols[j];

		if (cells[j] == NULL)
			c->values[r] = NAN;
		else if (c->kind == CS_KIND_NUMERIC)
			c->values[r] = strtod(cells[j], NULL);
		else
			c->values[r] = cs_strdict_intern(c->dict, cells[j], strlen(cells[j]));
	}
	ds->label[r] = (uint8_t) label;
	ds->n_rows = r + 1;
}

static void
test_profile_build(void)
{
	const char *names[] = { "age", "home" };
	cs_kind     kinds[] = { CS_KIND_NUMERIC, CS_KIND_CATEGORICAL };
	cs_dataset *ds = cs_dataset_new(2, names, kinds, NULL);
	cs_schema   schema;
	size_t      rows[6] = { 0, 1, 2, 3, 4, 5 };
	double      scores[6] = { 0.1, 0.2, 0.2, 0.4, 0.5, 0.6 };
	char       *json = NULL;
	cs_error    err;
	const char *cells[6][2] = {
		{ "30", "rent" }, { "40", "own" },  { NULL, "rent" },
		{ "30", NULL },   { "50", "rent" }, { "-0", "own\"er" },
	};
	int i;

	for (i = 0; i < 6; i++)
		add_row(ds, cells[i], i % 2);
	if (cs_schema_learn(ds, rows, 6, &schema, &err) != CS_OK)
		abort();
	tap_ok(cs_profile_build(&schema, ds, rows, 6, scores, &json, &err) == CS_OK && json != NULL,
		   "the profile of a small dataset builds");
	tap_ok(json &&
			   strstr(json, "{\"version\": 1, \"n\": 6, \"bins\": 10, \"points\": 1000") == json,
		   "it opens with the version, the training rows and the binning");
	tap_ok(json && strstr(json,
						  "{\"name\": \"age\", \"kind\": \"numeric\", \"n\": 6, \"missing\": 1, "
						  "\"edges\": [0, 30, 40, 50], \"counts\": [1, 2, 1, 1, 0]") != NULL,
		   "numeric: missing counted, -0 read as 0, decile edges deduplicated, bin counts");
	tap_ok(json && strstr(json, "\"ecdf\": {\"points\": [0, 30, 40, 50], \"cum\": [1, 3, 4, 5]}") !=
					   NULL,
		   "numeric: the ECDF of every distinct value");
	tap_ok(json && strstr(json,
						  "\"missing\": 1, \"unseen\": 0, \"levels\": [\"rent\", \"own\", "
						  "\"own\\\"er\"], \"counts\": [3, 1, 1]") != NULL,
		   "categorical: the schema's levels (JSON-escaped) with their counts");
	tap_ok(json && strstr(json,
						  "\"score\": {\"n\": 6, \"missing\": 0, \"edges\": [0.1, 0.2, 0.4, "
						  "0.5, 0.6]") != NULL,
		   "the score's profile, numbers in their shortest exact form");
	cs_free(json);
	cs_schema_free(&schema);
	cs_dataset_free(ds);
}

int
main(void)
{
	test_sort();
	test_ks_statistic();
	test_ks_distributions();
	test_fairness();
	test_profile_dist();
	test_drift();
	test_profile_build();
	return tap_finish();
}
