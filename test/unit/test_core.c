/*
 * test_core.c - unit tests of the numerical core (src/core), printing TAP.
 *
 * Build and run (from the repository root):
 *   gcc -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Isrc/core \
 *       -o test/unit/test_core test/unit/test_core.c src/core/\*.c -ldl -lpthread -lm
 *   prove test/unit/test_core
 *
 * Expected figures come from the definitions in src/core/README.md, worked
 * out by hand or with test/reference/logreg_reference.py's functions.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cs_core.h"
#include "tap.h"

/* ------------------------------------------------------------------ helpers */

/* Whether a and b agree to within tol, relative to max(1, |a|, |b|). */
static int
close_to(double a, double b, double tol)
{
	double scale = fmax(1.0, fmax(fabs(a), fabs(b)));

	return fabs(a - b) <= tol * scale;
}

/* Whether the error message contains needle. */
static int
msg_has(const cs_error *err, const char *needle)
{
	return strstr(err->msg, needle) != NULL;
}

/* Appends a row of text cells (NULL = missing) with its label. */
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

/* A dataset of n0 + n1 rows with one distinct numeric column and labels. */
static cs_dataset *
class_dataset(int n0, int n1)
{
	const char *names[] = { "x" };
	cs_kind     kinds[] = { CS_KIND_NUMERIC };
	cs_dataset *ds = cs_dataset_new(1, names, kinds, NULL);
	char        buf[32];
	const char *cells[1] = { buf };
	int         i;

	for (i = 0; i < n0 + n1; i++)
	{
		snprintf(buf, sizeof(buf), "%d.25", i * 7 % 101);
		add_row(ds, cells, i >= n0);
	}
	return ds;
}

/* The logistic function. */
static double
sigmoid(double z)
{
	return 1.0 / (1.0 + exp(-z));
}

/* ------------------------------------------------------------ hash and rng */

static void
test_hashing(void)
{
	cs_rng a;
	cs_rng b;
	int    i;
	int    in_range = 1;
	int    same = 1;

	tap_ok(cs_fnv1a64("", 0) == UINT64_C(0xcbf29ce484222325),
		   "fnv1a64 of \"\" is the offset basis");
	tap_ok(cs_fnv1a64("a", 1) == UINT64_C(0xaf63dc4c8601ec8c), "fnv1a64 of \"a\"");
	tap_ok(cs_fnv1a64("foobar", 6) == UINT64_C(0x85944171f73967e8), "fnv1a64 of \"foobar\"");
	tap_ok(cs_mix64(0) == UINT64_C(0xe220a8397b1dcdaf),
		   "mix64(0) is splitmix64's first output for seed 0");
	tap_ok(cs_crc32c(0, "123456789", 9) == UINT32_C(0xE3069283),
		   "crc32c check value of \"123456789\"");
	tap_ok(cs_crc32c(cs_crc32c(0, "1234", 4), "56789", 5) == UINT32_C(0xE3069283),
		   "crc32c continues across calls");
	cs_rng_seed(&a, 42);
	cs_rng_seed(&b, 42);
	for (i = 0; i < 1000; i++)
	{
		double u = cs_rng_uniform(&a);

		in_range &= u >= 0.0 && u < 1.0;
		same &= u == cs_rng_uniform(&b);
	}
	tap_ok(in_range && same, "xoshiro256** uniforms are in [0, 1) and reproducible from the seed");
	cs_rng_seed(&b, 43);
	tap_ok(cs_rng_next(&a) != cs_rng_next(&b), "different seeds give different streams");
}

/* ------------------------------------------------------------------ strdict */

static void
test_strdict(void)
{
	cs_strdict *d = cs_strdict_new();
	const char  bin[] = { 'a', '\0', 'b' };
	size_t      len = 99;
	int         i;
	int         ok = 1;
	char        buf[32];

	tap_ok(cs_strdict_intern(d, "rent", 4) == 0 && cs_strdict_intern(d, "owner", 5) == 1 &&
			   cs_strdict_intern(d, "rent", 4) == 0,
		   "intern gives dense codes, the same code for the same text");
	tap_ok(cs_strdict_find(d, "owner", 5) == 1 && cs_strdict_find(d, "own", 3) == -1 &&
			   cs_strdict_find(d, "", 0) == -1,
		   "find returns the code, -1 when absent");
	tap_ok(cs_strdict_intern(d, bin, 3) == 2 && cs_strdict_find(d, "a", 1) == -1 &&
			   cs_strdict_intern(d, "", 0) == 3,
		   "strings may hold NUL bytes and be empty");
	tap_ok(strcmp(cs_strdict_get(d, 1, &len), "owner") == 0 && len == 5 &&
			   memcmp(cs_strdict_get(d, 2, &len), bin, 3) == 0 && len == 3 &&
			   cs_strdict_get(d, 4, &len) == NULL,
		   "get returns the stored copy and its length");
	for (i = 0; i < 20000; i++)
	{
		snprintf(buf, sizeof(buf), "level-%d", i);
		ok &= cs_strdict_intern(d, buf, strlen(buf)) == i + 4;
	}
	for (i = 0; i < 20000; i++)
	{
		snprintf(buf, sizeof(buf), "level-%d", i);
		ok &= cs_strdict_find(d, buf, strlen(buf)) == i + 4;
	}
	tap_ok(ok && cs_strdict_size(d) == 20004, "20,000 strings survive the table's growth");
	cs_strdict_free(d);
}

/* ------------------------------------------------------------------ dataset */

static void
test_dataset(void)
{
	const char *names[] = { "income", "home" };
	cs_kind     kinds[] = { CS_KIND_NUMERIC, CS_KIND_CATEGORICAL };
	cs_dataset *ds = cs_dataset_new(2, names, kinds, NULL);
	const char *r1[] = { NULL, "rent" };
	const char *r2[] = { NULL, "owner" };
	const char *r3[] = { "10", NULL };
	cs_error    err = { 0 };

	tap_ok(cs_dataset_check(ds, &err) == CS_ERR_INVALID &&
			   strcmp(err.msg, "the relation has no rows") == 0,
		   "check: no rows");
	add_row(ds, r1, 0);
	add_row(ds, r2, 1);
	tap_ok(cs_dataset_check(ds, &err) == CS_ERR_INVALID &&
			   strcmp(err.msg, "feature \"income\" is entirely NULL") == 0,
		   "check: an entirely NULL feature");
	add_row(ds, r3, 0);
	tap_ok(cs_dataset_check(ds, &err) == CS_OK, "check: a valid dataset passes");
	ds->label[1] = 0;
	tap_ok(cs_dataset_check(ds, &err) == CS_ERR_INVALID &&
			   strcmp(err.msg, "the target has a single class") == 0,
		   "check: a single class");
	tap_ok(cs_dataset_reserve(ds, 5000, &err) == CS_OK && ds->capacity >= 5000 && ds->n_rows == 3 &&
			   isnan(ds->cols[0].values[0]) && ds->cols[1].values[1] == 1.0,
		   "reserve keeps the rows");
	cs_dataset_free(ds);
}

/* -------------------------------------------------------------------- split */

/* Whether every row is in exactly one part and each part is in (hash, row) order. */
static int
split_is_partition(const cs_dataset *ds, const cs_split *s, uint64_t seed)
{
	char  *seen = calloc(ds->n_rows + 1, 1);
	int    ok = s->n[0] + s->n[1] + s->n[2] == ds->n_rows;
	size_t i;
	int    k;

	for (k = 0; k < 3; k++)
		for (i = 0; i < s->n[k]; i++)
		{
			size_t r = s->rows[k][i];

			ok &= r < ds->n_rows && !seen[r];
			if (r < ds->n_rows)
				seen[r] = 1;
			if (i > 0)
			{
				uint64_t h0 = cs_row_hash(ds, s->rows[k][i - 1], seed);
				uint64_t h1 = cs_row_hash(ds, r, seed);

				ok &= h0 < h1 || (h0 == h1 && s->rows[k][i - 1] < r);
			}
		}
	free(seen);
	return ok;
}

/* Rows of class c in part k. */
static size_t
count_class(const cs_dataset *ds, const cs_split *s, int k, int c)
{
	size_t i;
	size_t n = 0;

	for (i = 0; i < s->n[k]; i++)
		n += ds->label[s->rows[k][i]] == c;
	return n;
}

/* Checks the per-class part sizes for n0 and n1 rows. */
static void
check_split_sizes(int n0, int n1, const size_t *e0, const size_t *e1)
{
	cs_dataset *ds = class_dataset(n0, n1);
	cs_split    s;
	cs_error    err = { 0 };
	int         ok = cs_split_stratified(ds, 42, &s, &err) == CS_OK;
	int         k;

	for (k = 0; ok && k < 3; k++)
		ok &= count_class(ds, &s, k, 0) == e0[k] && count_class(ds, &s, k, 1) == e1[k];
	tap_ok(ok && split_is_partition(ds, &s, 42),
		   "split of %d + %d rows: class 0 %zu/%zu/%zu, class 1 %zu/%zu/%zu, a partition in hash "
		   "order",
		   n0,
		   n1,
		   e0[0],
		   e0[1],
		   e0[2],
		   e1[0],
		   e1[1],
		   e1[2]);
	cs_split_free(&s);
	cs_dataset_free(ds);
}

/* Sorts the hashes of each part, for comparing splits as multisets. */
static uint64_t *
part_hashes(const cs_dataset *ds, const cs_split *s, int k, uint64_t seed)
{
	uint64_t *h = malloc((s->n[k] + 1) * sizeof(uint64_t));
	size_t    i;
	size_t    j;

	for (i = 0; i < s->n[k]; i++)
		h[i] = cs_row_hash(ds, s->rows[k][i], seed);
	for (i = 1; i < s->n[k]; i++) /* insertion sort: parts are small */
		for (j = i; j > 0 && h[j - 1] > h[j]; j--)
		{
			uint64_t t = h[j];

			h[j] = h[j - 1];
			h[j - 1] = t;
		}
	return h;
}

static void
test_split(void)
{
	const char *names[] = { "amount", "home", "debt", "zero" };
	cs_kind kinds[] = { CS_KIND_NUMERIC, CS_KIND_CATEGORICAL, CS_KIND_NUMERIC, CS_KIND_NUMERIC };
	const char  *homes[] = { "rent", "owner", "parents", "other", NULL };
	const size_t s10[] = { 7, 2, 1 };
	const size_t s7[] = { 5, 1, 1 };
	const size_t s1[] = { 1, 0, 0 };
	const size_t s0[] = { 0, 0, 0 };
	cs_dataset  *a = cs_dataset_new(4, names, kinds, NULL);
	cs_dataset  *b = cs_dataset_new(4, names, kinds, NULL);
	cs_dataset  *one = cs_dataset_new(4, names, kinds, NULL);
	const char  *row1[] = { "1.5", "owner", NULL, "-0.0" };
	const char  *row2[] = { "1.5", "owner", NULL, "0" };
	int          perm[300];
	char         amount[300][32];
	const char  *cells[300][4];
	int          labels[300];
	cs_split     sa;
	cs_split     sb;
	cs_rng       rng;
	cs_error     err = { 0 };
	int          i;
	int          k;
	int          same = 1;

	check_split_sizes(10, 7, s10, s7);
	check_split_sizes(7, 10, s7, s10);
	check_split_sizes(1, 10, s1, s10);
	check_split_sizes(0, 7, s0, s7);

	/* the row hash against test/reference/logreg_reference.py's row_hash */
	add_row(one, row1, 1);
	add_row(one, row2, 0);
	tap_ok(cs_row_hash(one, 0, 42) == UINT64_C(0x27044fe7fc7a2c1b),
		   "row hash of (1.5, 'owner', NULL, -0.0 | 1), seed 42");
	tap_ok(cs_row_hash(one, 1, 7) == UINT64_C(0x4203d89125182fca),
		   "row hash of (1.5, 'owner', NULL, 0 | 0), seed 7");
	cs_dataset_free(one);

	/* the same rows in another order (and so other category codes) split alike */
	cs_rng_seed(&rng, 1);
	for (i = 0; i < 300; i++)
	{
		snprintf(amount[i], sizeof(amount[i]), "%d", (int) (cs_rng_next(&rng) % 50));
		cells[i][0] = amount[i];
		cells[i][1] = homes[cs_rng_next(&rng) % 5];
		cells[i][2] = i % 9 == 0 ? NULL : "3";
		cells[i][3] = "0";
		labels[i] = cs_rng_uniform(&rng) < 0.3;
		perm[i] = i;
	}
	for (i = 299; i > 0; i--)
	{
		int j = (int) (cs_rng_next(&rng) % (uint64_t) (i + 1));
		int t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
	for (i = 0; i < 300; i++)
	{
		add_row(a, cells[i], labels[i]);
		add_row(b, cells[perm[i]], labels[perm[i]]);
	}
	tap_ok(cs_strdict_get(a->cols[1].dict, 0, NULL) != NULL &&
			   cs_split_stratified(a, 42, &sa, &err) == CS_OK &&
			   cs_split_stratified(b, 42, &sb, &err) == CS_OK,
		   "split of 300 rows in two orders");
	for (k = 0; k < 3; k++)
	{
		uint64_t *ha = part_hashes(a, &sa, k, 42);
		uint64_t *hb = part_hashes(b, &sb, k, 42);

		same &= sa.n[k] == sb.n[k] && memcmp(ha, hb, sa.n[k] * sizeof(uint64_t)) == 0;
		free(ha);
		free(hb);
	}
	tap_ok(same, "each part holds the same rows (hash multisets) whatever the physical row order");
	same = 1;
	for (k = 0; k < 3; k++)
		for (i = 0; (size_t) i < sa.n[k]; i++)
			same &= perm[sb.rows[k][i]] == (int) sa.rows[k][i] ||
					cs_row_hash(a, sa.rows[k][i], 42) == cs_row_hash(b, sb.rows[k][i], 42);
	tap_ok(same && split_is_partition(a, &sa, 42), "and in the same (hash, row) order");
	cs_split_free(&sb);
	tap_ok(cs_split_stratified(a, 43, &sb, &err) == CS_OK &&
			   memcmp(sa.rows[0], sb.rows[0], sa.n[0] * sizeof(size_t)) != 0,
		   "another seed gives another split");
	cs_split_free(&sa);
	cs_split_free(&sb);
	cs_dataset_free(a);
	cs_dataset_free(b);
}

/* ------------------------------------------------------------------- schema */

static void
test_schema(void)
{
	const char *names[] = { "x", "home", "k" };
	cs_kind     kinds[] = { CS_KIND_NUMERIC, CS_KIND_CATEGORICAL, CS_KIND_NUMERIC };
	/* home codes in read order: zzz, b, ab, c, a (not the level order) */
	const char *rows[][3] = {
		{ "9", "zzz", "5" }, /* row 0: not a training row */
		{ "1", "b", "5" },   { "2", "ab", "5" }, { "3", "c", "5" },  { "4", "a", "5" },
		{ NULL, "b", "5" },  { "2", "ab", "5" }, { "3", "c", "5" },  { "4", "a", "5" },
		{ "1", "b", "5" },   { "1", "ab", "5" }, { "2", "c", "5" },  { "3", "a", "5" },
		{ "4", "c", "5" },   { "1", "c", "5" },  { "2", NULL, "5" },
	};
	const char  *expected_names[] = { "x",      "x:missing",    "home=a", "home=ab",
									  "home=b", "home:missing", "k" };
	size_t       train[15];
	cs_dataset  *ds = cs_dataset_new(3, names, kinds, NULL);
	cs_schema    s;
	cs_error     err = { 0 };
	double       in[3];
	double       enc[7];
	double      *X = NULL;
	double      *inputs = NULL;
	char         name[64];
	double       mean = 0.0;
	double       var = 0.0;
	int          i;
	int          c;
	int          ok = 1;
	const double xs[] = { 1, 2, 3, 4, 2, 3, 4, 1, 1, 2, 3, 4, 1, 2 };

	for (i = 0; i < 16; i++)
		add_row(ds, rows[i], i % 2);
	for (i = 0; i < 15; i++)
		train[i] = (size_t) i + 1;
	for (i = 0; i < 14; i++)
		mean += xs[i] / 14.0;
	for (i = 0; i < 14; i++)
		var += (xs[i] - mean) * (xs[i] - mean) / 14.0;

	tap_ok(cs_schema_learn(ds, train, 15, &s, &err) == CS_OK && s.n_features == 3,
		   "learn a schema");
	tap_ok(s.features[1].n_levels == 4 && strcmp(s.features[1].levels[0], "c") == 0 &&
			   strcmp(s.features[1].levels[1], "a") == 0 &&
			   strcmp(s.features[1].levels[2], "ab") == 0 &&
			   strcmp(s.features[1].levels[3], "b") == 0,
		   "levels: by training frequency, ties bytewise with the shorter first (c, a, ab, b; no "
		   "zzz)");
	tap_ok(close_to(s.features[0].mean, mean, 1e-15) &&
			   close_to(s.features[0].sd, sqrt(var), 1e-15) && s.features[0].has_missing,
		   "numeric: mean, population sd and has_missing (%.6f, %.6f)",
		   s.features[0].mean,
		   s.features[0].sd);
	tap_ok(s.features[2].mean == 5.0 && s.features[2].sd == 1.0 && !s.features[2].has_missing &&
			   s.features[1].has_missing,
		   "a constant column gets sd 1; has_missing of each feature");
	tap_ok(s.design_width == 7 && s.features[0].design_offset == 0 &&
			   s.features[0].design_width == 2 && s.features[1].design_offset == 2 &&
			   s.features[1].design_width == 4 && s.features[2].design_offset == 6 &&
			   s.features[2].design_width == 1,
		   "design offsets and widths");
	for (c = 0; c < 7; c++)
	{
		cs_schema_design_name(&s, c, name, sizeof(name));
		ok &= strcmp(name, expected_names[c]) == 0;
	}
	cs_schema_design_name(&s, 7, name, sizeof(name));
	tap_ok(ok && name[0] == '\0',
		   "design column names (x, x:missing, home=a, home=ab, home=b, home:missing, k)");
	tap_ok(cs_schema_level(&s.features[1], "ab", 2) == 2 &&
			   cs_schema_level(&s.features[1], "c", 1) == 0 &&
			   cs_schema_level(&s.features[1], "zzz", 3) == -1,
		   "level lookup; unseen is -1");

	in[0] = 3.5;
	in[1] = 2;
	in[2] = 5;
	cs_schema_encode(&s, in, enc);
	tap_ok(close_to(enc[0], (3.5 - mean) / sqrt(var), 1e-15) && enc[1] == 0 && enc[2] == 0 &&
			   enc[3] == 1 && enc[4] == 0 && enc[5] == 0 && enc[6] == 0,
		   "encode (3.5, 'ab', 5)");
	in[0] = NAN;
	in[1] = NAN;
	cs_schema_encode(&s, in, enc);
	tap_ok(enc[0] == 0 && enc[1] == 1 && enc[2] == 0 && enc[3] == 0 && enc[4] == 0 && enc[5] == 1,
		   "encode missing values: 0 and the indicator");
	in[1] = -1;
	cs_schema_encode(&s, in, enc);
	tap_ok(enc[2] == 0 && enc[3] == 0 && enc[4] == 0 && enc[5] == 0,
		   "an unseen category encodes as the reference level");

	ok = cs_schema_design(&s, ds, train, 15, &X, &err) == CS_OK &&
		 cs_schema_inputs(&s, ds, train, 15, &inputs, &err) == CS_OK;
	tap_ok(ok && inputs[0 * 3 + 1] == 3 && inputs[1 * 3 + 1] == 2 && inputs[2 * 3 + 1] == 0 &&
			   isnan(inputs[4 * 3 + 0]) && isnan(inputs[14 * 3 + 1]) && inputs[0] == 1.0,
		   "scoring inputs map the dataset's codes to schema levels");
	for (i = 0; ok && i < 15; i++)
	{
		cs_schema_encode(&s, inputs + i * 3, enc);
		for (c = 0; c < 7; c++)
			ok &= X[(size_t) c * 15 + (size_t) i] == enc[c];
	}
	tap_ok(ok && X[3 * 15 + 1] == 1.0 && X[1 * 15 + 4] == 1.0,
		   "the design matrix is the column-major encoding of the inputs");
	free(X);
	free(inputs);
	{
		size_t all[16];

		for (i = 0; i < 16; i++)
			all[i] = (size_t) i;
		ok = cs_schema_inputs(&s, ds, all, 16, &inputs, &err) == CS_OK;
		tap_ok(ok && inputs[1] == -1.0, "a category unseen in training becomes -1");
		free(inputs);
	}
	cs_schema_free(&s);
	cs_dataset_free(ds);
}

/* ------------------------------------------------------------------- linalg */

static void
test_linalg(void)
{
	cs_error    err = { 0 };
	const char *env;
	/* A is 3 x 2 column-major: rows (1,4), (2,5), (3,6) */
	double A[] = { 1, 2, 3, 4, 5, 6 };
	double B[] = { 1, 0, 1, 2, 1, 0 };
	double C[4] = { 1, 1, 1, 1 };
	double x[] = { 1, 1, 1 };
	double y[2] = { 10, 10 };
	double H[] = { 4, 2, 2, 3 };
	double b[] = { 2, 1 };
	double S[] = { 1, 1, 1, 1 };
	double sb[] = { 1, 1 };

	tap_ok(cs_linalg_load("libno_such_blas.so.9", 1, &err) == CS_ERR_BLAS &&
			   msg_has(&err, "libno_such_blas.so.9") && msg_has(&err, "libopenblas0") &&
			   !cs_linalg_loaded(),
		   "a missing BLAS library is CS_ERR_BLAS naming it: %s",
		   err.msg);
	tap_ok(cs_linalg_load(NULL, 1, &err) == CS_OK && cs_linalg_loaded(), "load libopenblas.so.0");
	env = getenv("OPENBLAS_NUM_THREADS");
	tap_ok(env != NULL && strcmp(env, "1") == 0, "OPENBLAS_NUM_THREADS is set before the load");
	tap_ok(cs_linalg_load("libno_such_blas.so.9", 4, &err) == CS_OK, "a second load is a no-op");
	cs_gemm_tn(3, 2, 2, 1.0, A, B, 0.0, C);
	/* A'B: B columns (1,0,1) and (2,1,0) */
	tap_ok(C[0] == 4 && C[1] == 10 && C[2] == 4 && C[3] == 13, "gemm_tn computes A'B");
	cs_gemv_t(3, 2, 2.0, A, x, 1.0, y);
	tap_ok(y[0] == 22 && y[1] == 40, "gemv_t computes alpha A'x + beta y");
	tap_ok(cs_posv(2, H, b, &err) == CS_OK && close_to(b[0], 0.5, 1e-15) &&
			   close_to(b[1], 0.0, 1e-15),
		   "posv solves a symmetric positive definite system");
	tap_ok(cs_posv(2, S, sb, &err) == CS_ERR_NUMERIC, "posv reports a singular matrix");
}

/* ------------------------------------------------------------------- logreg */

typedef struct progress_log
{
	int    calls;
	int    stop;
	double last_fraction;
	int    increasing;
	char   first[64];
} progress_log;

/* Records the calls; asks to stop when log->stop. */
static int
record_progress(void *ctx, double fraction, const char *message)
{
	progress_log *log = ctx;

	if (log->calls == 0)
		snprintf(log->first, sizeof(log->first), "%s", message);
	else if (fraction <= log->last_fraction)
		log->increasing = 0;
	log->last_fraction = fraction;
	log->calls++;
	return log->stop;
}

/* The gradient of the README objective (divided by C) at coef, in g[p + 1]. */
static void
objective_gradient(const double *X, const uint8_t *y, size_t n, int p, double inv_c,
				   const double *coef, double *g)
{
	size_t i;
	int    j;

	for (j = 0; j <= p; j++)
		g[j] = j == 0 ? 0.0 : inv_c * coef[j];
	for (i = 0; i < n; i++)
	{
		double z = coef[0];
		double r;

		for (j = 0; j < p; j++)
			z += coef[j + 1] * X[(size_t) j * n + i];
		r = sigmoid(z) - y[i];
		g[0] += r;
		for (j = 0; j < p; j++)
			g[j + 1] += r * X[(size_t) j * n + i];
	}
}

/* Plain gradient descent on the objective, an independent solution. */
static void
gradient_descent(const double *X, const uint8_t *y, size_t n, int p, double inv_c, double *coef)
{
	double g[8];
	double lipschitz = inv_c;
	size_t i;
	int    j;
	int    it;

	for (i = 0; i < n; i++)
	{
		double row = 1.0;

		for (j = 0; j < p; j++)
			row += X[(size_t) j * n + i] * X[(size_t) j * n + i];
		lipschitz += 0.25 * row;
	}
	for (j = 0; j <= p; j++)
		coef[j] = 0.0;
	for (it = 0; it < 100000; it++)
	{
		objective_gradient(X, y, n, p, inv_c, coef, g);
		for (j = 0; j <= p; j++)
			coef[j] -= g[j] / lipschitz;
	}
}

static void
test_logreg(void)
{
	/* one binary feature: x=0 has 1 positive in 4, x=1 has 3 in 4 */
	double           X1[] = { 0, 0, 0, 0, 1, 1, 1, 1 };
	uint8_t          y1[] = { 0, 0, 0, 1, 0, 1, 1, 1 };
	double           Xs[] = { -2, -1, 1, 2 };
	uint8_t          ys[] = { 0, 0, 1, 1 };
	cs_logreg_params none = { 1.0, 0, 100, 1e-10 };
	cs_logreg_params l2 = { 0.5, 1, 100, 1e-10 };
	double           coef[8];
	double           coef_zero[8];
	double           gd[8];
	double           g[8];
	double           X[60 * 4];
	uint8_t          y[60];
	int32_t          n_iter = -1;
	cs_error         err = { 0 };
	progress_log     calls;
	cs_rng           rng;
	double           gmax = 0.0;
	double           dmax = 0.0;
	size_t           i;
	int              j;
	cs_status        st;

	st = cs_logreg_fit(X1, y1, 8, 1, &none, coef, &n_iter, NULL, NULL, &err);
	tap_ok(st == CS_OK && close_to(coef[0], log(1.0 / 3.0), 1e-9) &&
			   close_to(coef[1], log(9.0), 1e-9),
		   "no penalty, one binary feature: intercept log(1/3), slope log 9 (%.12f, %.12f, %d "
		   "iterations)",
		   coef[0],
		   coef[1],
		   (int) n_iter);

	/* l2 on random data: the gradient vanishes and plain gradient descent agrees */
	cs_rng_seed(&rng, 5);
	for (i = 0; i < 60; i++)
	{
		double z = -0.5;

		for (j = 0; j < 3; j++)
		{
			X[(size_t) j * 60 + i] = cs_rng_uniform(&rng) * 4.0 - 2.0;
			z += (j + 1) * 0.7 * X[(size_t) j * 60 + i];
		}
		X[3 * 60 + i] = 0.0; /* a constant-zero column */
		y[i] = cs_rng_uniform(&rng) < sigmoid(z);
	}
	memset(&calls, 0, sizeof(calls));
	calls.increasing = 1;
	st = cs_logreg_fit(X, y, 60, 3, &l2, coef, &n_iter, record_progress, &calls, &err);
	objective_gradient(X, y, 60, 3, 1.0 / l2.C, coef, g);
	for (j = 0; j <= 3; j++)
		gmax = fmax(gmax, fabs(g[j]));
	tap_ok(st == CS_OK && gmax < 1e-9,
		   "l2: the objective's gradient vanishes at the fit (max %.2e)",
		   gmax);
	gradient_descent(X, y, 60, 3, 1.0 / l2.C, gd);
	for (j = 0; j <= 3; j++)
		dmax = fmax(dmax, fabs(gd[j] - coef[j]));
	tap_ok(dmax < 1e-7,
		   "l2: Newton agrees with gradient descent (max diff %.2e; %.6f %.6f %.6f %.6f)",
		   dmax,
		   coef[0],
		   coef[1],
		   coef[2],
		   coef[3]);
	tap_ok(calls.calls == n_iter && calls.increasing && strcmp(calls.first, "iteration 1") == 0 &&
			   n_iter >= 3 && n_iter < 20,
		   "progress is called once per iteration with an increasing fraction (%d iterations)",
		   (int) n_iter);
	st = cs_logreg_fit(X, y, 60, 4, &l2, coef_zero, &n_iter, NULL, NULL, &err);
	tap_ok(st == CS_OK && coef_zero[4] == 0.0 && close_to(coef_zero[1], coef[1], 1e-12) &&
			   close_to(coef_zero[3], coef[3], 1e-12),
		   "a constant-zero column is held at 0 and changes nothing");

	st = cs_logreg_fit(Xs, ys, 4, 1, &none, coef, &n_iter, NULL, NULL, &err);
	tap_ok(st == CS_ERR_NUMERIC && msg_has(&err, "separable"),
		   "no penalty on separable data is CS_ERR_NUMERIC: %s",
		   err.msg);
	st = cs_logreg_fit(Xs, ys, 4, 1, &l2, coef, &n_iter, NULL, NULL, &err);
	tap_ok(st == CS_OK && coef[1] > 0.0, "l2 on the same separable data converges");

	memset(&calls, 0, sizeof(calls));
	calls.stop = 1;
	st = cs_logreg_fit(X, y, 60, 3, &l2, coef, &n_iter, record_progress, &calls, &err);
	tap_ok(st == CS_ERR_CANCELLED && calls.calls == 1,
		   "a progress callback returning 1 cancels: CS_ERR_CANCELLED");

	l2.max_iter = 2;
	st = cs_logreg_fit(X, y, 60, 3, &l2, coef, &n_iter, NULL, NULL, &err);
	tap_ok(st == CS_ERR_NUMERIC && msg_has(&err, "did not converge in 2 iterations"),
		   "max_iter reached is CS_ERR_NUMERIC: %s",
		   err.msg);
	l2.max_iter = 100;
	l2.C = 0.0;
	st = cs_logreg_fit(X, y, 60, 3, &l2, coef, &n_iter, NULL, NULL, &err);
	tap_ok(st == CS_ERR_INVALID && msg_has(&err, "C must be"), "C = 0 is invalid");
}

/* -------------------------------------------------------------------- model */

/* A duplicate of a NUL-terminated string through cs_malloc. */
static char *
dup_string(const char *s)
{
	char *d = cs_malloc(strlen(s) + 1);

	strcpy(d, s);
	return d;
}

/*
 * A hand-made model: income (numeric, mean 100, sd 20, has missing) and
 * home (levels aa, bb, cc); design income, income:missing, home=bb, home=cc.
 */
static cs_model *
hand_model(void)
{
	cs_model    *m = cs_calloc(1, sizeof(cs_model));
	cs_feature  *f;
	const double coef[] = { 0.5, 1.0, -0.25, 0.75, -1.5 };
	cs_error     err = { 0 };

	m->type = CS_MODEL_LOGISTIC_REGRESSION;
	m->meta.target = dup_string("status");
	m->meta.positive = dup_string("bad");
	m->meta.seed = 42;
	m->meta.threads = 2;
	m->meta.n_train = 700;
	m->meta.n_valid = 150;
	m->meta.n_test = 150;
	m->schema.n_features = 2;
	m->schema.features = cs_calloc(2, sizeof(cs_feature));
	f = &m->schema.features[0];
	f->name = dup_string("income");
	f->kind = CS_KIND_NUMERIC;
	f->mean = 100;
	f->sd = 20;
	f->has_missing = 1;
	f = &m->schema.features[1];
	f->name = dup_string("home");
	f->kind = CS_KIND_CATEGORICAL;
	f->mean = 0;
	f->sd = 1;
	f->n_levels = 3;
	f->levels = cs_calloc(3, sizeof(char *));
	f->levels[0] = dup_string("aa");
	f->levels[1] = dup_string("bb");
	f->levels[2] = dup_string("cc");
	m->u.logreg.p = 4;
	m->u.logreg.n_iter = 6;
	m->u.logreg.coef = cs_malloc(5 * sizeof(double));
	memcpy(m->u.logreg.coef, coef, sizeof(coef));
	if (cs_model_prepare(m, &err) != CS_OK)
		abort();
	return m;
}

/* The margin by encoding and dotting with the coefficients; *scale gets sum |terms|. */
static double
encoded_margin(const cs_model *m, const double *input, double *scale)
{
	double enc[64];
	double z = m->u.logreg.coef[0];
	int    c;

	cs_schema_encode(&m->schema, input, enc);
	*scale = fabs(z);
	for (c = 0; c < m->u.logreg.p; c++)
	{
		z += m->u.logreg.coef[c + 1] * enc[c];
		*scale += fabs(m->u.logreg.coef[c + 1] * enc[c]);
	}
	return z;
}

/* A random scoring input for m: values, levels, unseen (-1) and missing. */
static void
random_input(const cs_model *m, cs_rng *rng, double *input)
{
	int32_t j;

	for (j = 0; j < m->schema.n_features; j++)
	{
		const cs_feature *f = &m->schema.features[j];
		double            u = cs_rng_uniform(rng);

		if (u < 0.15)
			input[j] = NAN;
		else if (f->kind == CS_KIND_NUMERIC)
			input[j] = f->mean + f->sd * (cs_rng_uniform(rng) * 6.0 - 3.0);
		else
			input[j] = (double) ((int) (cs_rng_next(rng) % (uint64_t) (f->n_levels + 1)) - 1);
	}
}

/* Whether cs_model_margin matches encode + dot on random inputs. */
static int
margins_match(const cs_model *m, int count, double *worst)
{
	cs_rng rng;
	double input[64];
	int    ok = 1;
	int    i;

	*worst = 0.0;
	cs_rng_seed(&rng, 99);
	for (i = 0; i < count; i++)
	{
		double scale;
		double want;
		double got;

		random_input(m, &rng, input);
		want = encoded_margin(m, input, &scale);
		got = cs_model_margin(m, input);
		*worst = fmax(*worst, fabs(got - want) / (1.0 + scale));
		ok &= fabs(got - want) <= 1e-12 * (1.0 + scale);
		ok &= cs_model_predict(m, input) ==
			  (got >= 0 ? 1.0 / (1.0 + exp(-got)) : exp(got) / (1.0 + exp(got)));
	}
	return ok;
}

/* A dataset like a credit file, labels drawn from a known logistic model. */
static cs_dataset *
credit_like(size_t n)
{
	const char *names[] = { "income", "home", "age", "job" };
	cs_kind     kinds[] = { CS_KIND_NUMERIC,
							CS_KIND_CATEGORICAL,
							CS_KIND_NUMERIC,
							CS_KIND_CATEGORICAL };
	const char *homes[] = { "rent", "owner", "parents", "other", "priv" };
	const char *jobs[] = { "fixed", "partime", "freelance" };
	cs_dataset *ds = cs_dataset_new(4, names, kinds, NULL);
	cs_rng      rng;
	char        income[32];
	char        age[32];
	const char *cells[4];
	size_t      i;

	cs_rng_seed(&rng, 2024);
	for (i = 0; i < n; i++)
	{
		double inc = 50.0 + 150.0 * cs_rng_uniform(&rng);
		double a = 18.0 + (double) (cs_rng_next(&rng) % 50);
		int    h = (int) (cs_rng_next(&rng) % 5);
		int    jb = (int) (cs_rng_next(&rng) % 3);
		double z =
			1.0 - 0.02 * inc + 0.4 * (h == 0) - 0.3 * (h == 1) + 0.5 * (jb == 2) + 0.01 * (a - 40);

		snprintf(income, sizeof(income), "%.2f", inc);
		snprintf(age, sizeof(age), "%.0f", a);
		cells[0] = cs_rng_uniform(&rng) < 0.1 ? NULL : income;
		cells[1] = cs_rng_uniform(&rng) < 0.05 ? NULL : homes[h];
		cells[2] = age;
		cells[3] = jobs[jb];
		add_row(ds, cells, cs_rng_uniform(&rng) < sigmoid(z));
	}
	return ds;
}

/* Trains a logistic regression on ds through the whole core path. */
static cs_model *
train_model(const cs_dataset *ds, cs_split *split)
{
	cs_model        *m = cs_calloc(1, sizeof(cs_model));
	cs_logreg_params params = { 1.0, 1, 100, 1e-8 };
	cs_error         err = { 0 };
	double          *X = NULL;
	int              ok;

	m->type = CS_MODEL_LOGISTIC_REGRESSION;
	m->meta.target = dup_string("status");
	m->meta.positive = dup_string("bad");
	m->meta.seed = 42;
	ok = cs_split_stratified(ds, 42, split, &err) == CS_OK &&
		 cs_schema_learn(ds, split->rows[0], split->n[0], &m->schema, &err) == CS_OK &&
		 cs_schema_design(&m->schema, ds, split->rows[0], split->n[0], &X, &err) == CS_OK;
	if (ok)
	{
		uint8_t *y = malloc(split->n[0]);
		size_t   i;

		for (i = 0; i < split->n[0]; i++)
			y[i] = ds->label[split->rows[0][i]];
		m->u.logreg.p = m->schema.design_width;
		m->u.logreg.coef = cs_malloc(((size_t) m->schema.design_width + 1) * sizeof(double));
		ok = cs_logreg_fit(X,
						   y,
						   split->n[0],
						   m->u.logreg.p,
						   &params,
						   m->u.logreg.coef,
						   &m->u.logreg.n_iter,
						   NULL,
						   NULL,
						   &err) == CS_OK &&
			 cs_model_prepare(m, &err) == CS_OK;
		free(y);
	}
	cs_free(X);
	if (!ok)
	{
		fprintf(stderr, "# train_model: %s\n", err.msg);
		cs_model_free(m);
		return NULL;
	}
	m->meta.n_train = split->n[0];
	m->meta.n_valid = split->n[1];
	m->meta.n_test = split->n[2];
	return m;
}

static void
test_model(void)
{
	cs_model   *hand = hand_model();
	cs_dataset *ds = credit_like(3000);
	cs_split    split;
	cs_model   *m = train_model(ds, &split);
	double      in[2];
	double      worst;
	double     *inputs = NULL;
	double     *p = NULL;
	uint8_t    *y = NULL;
	cs_error    err = { 0 };
	size_t      i;
	size_t      nt;
	int         ok;

	in[0] = 120;
	in[1] = 2;
	tap_ok(fabs(cs_model_margin(hand, in)) < 1e-15 && cs_model_predict(hand, in) == 0.5,
		   "hand model: income 120, home cc scores margin 0.5 + 1 - 1.5 = 0");
	in[0] = NAN;
	in[1] = 1;
	tap_ok(close_to(cs_model_margin(hand, in), 1.0, 1e-15),
		   "hand model: missing income, home bb: 0.5 - 0.25 + 0.75 = 1");
	in[0] = 80;
	in[1] = -1;
	tap_ok(close_to(cs_model_margin(hand, in), -0.5, 1e-15),
		   "hand model: income 80, unseen home: 0.5 - 1 = -0.5");
	in[0] = 1e6;
	tap_ok(cs_model_predict(hand, in) == 1.0 && (in[0] = -1e6, cs_model_predict(hand, in) == 0.0),
		   "predict saturates without overflow");
	tap_ok(strcmp(cs_model_type_name(CS_MODEL_LOGISTIC_REGRESSION), "logistic_regression") == 0,
		   "model type name");
	ok = margins_match(hand, 2000, &worst);
	tap_ok(ok, "hand model: folded margin = encode + dot (worst %.1e)", worst);
	worst = -1.0;
	ok = m != NULL && m->u.logreg.p == 10 && margins_match(m, 20000, &worst);
	tap_ok(ok,
		   "trained model: folded margin = encode + dot on 20,000 random inputs (worst %.1e)",
		   worst);
	if (m == NULL)
		goto done;
	nt = split.n[2];
	p = malloc(nt * sizeof(double));
	y = malloc(nt);
	tap_ok(cs_schema_inputs(&m->schema, ds, split.rows[2], nt, &inputs, &err) == CS_OK,
		   "inputs of the test rows");
	for (i = 0; i < nt; i++)
	{
		p[i] = cs_model_predict(m, inputs + i * 4);
		y[i] = ds->label[split.rows[2][i]];
	}
	tap_ok(cs_auc(p, y, nt) > 0.75 && cs_log_loss(p, y, nt) < 0.6,
		   "the trained model ranks held-out rows (test AUC %.4f, log loss %.4f, %zu rows)",
		   cs_auc(p, y, nt),
		   cs_log_loss(p, y, nt),
		   nt);
	cs_free(inputs);
	free(p);
	free(y);
done:
	cs_split_free(&split);
	cs_model_free(m);
	cs_model_free(hand);
	cs_dataset_free(ds);
}

/* --------------------------------------------------------------------- blob */

/* Decodes a heap copy of exactly len bytes, so that an over-read is caught. */
static cs_status
decode_copy(const uint8_t *data, size_t len, cs_model **out, cs_error *err)
{
	uint8_t  *copy = malloc(len > 0 ? len : 1);
	cs_status st;

	memcpy(copy, data, len);
	st = cs_blob_decode(copy, len, out, err);
	free(copy);
	return st;
}

/* Rewrites the body length and checksum after an edit of the body. */
static void
reseal(uint8_t *blob, size_t len)
{
	uint32_t body = (uint32_t) (len - 16);
	uint32_t crc = cs_crc32c(0, blob + 16, len - 16);
	int      i;

	for (i = 0; i < 4; i++)
	{
		blob[8 + i] = (uint8_t) (body >> (8 * i));
		blob[12 + i] = (uint8_t) (crc >> (8 * i));
	}
}

/* Writes a little-endian value of size bytes at p. */
static void
poke(uint8_t *p, uint64_t v, int size)
{
	int i;

	for (i = 0; i < size; i++)
		p[i] = (uint8_t) (v >> (8 * i));
}

/* Offset of needle in the blob. */
static size_t
find_bytes(const uint8_t *blob, size_t len, const char *needle)
{
	const uint8_t *at = memmem(blob, len, needle, strlen(needle));

	return at == NULL ? 0 : (size_t) (at - blob);
}

/* Edits a copy at offset (value of size bytes), optionally reseals, expects CS_ERR_CORRUPT naming field. */
static void
expect_corrupt(const uint8_t *blob, size_t len, size_t offset, uint64_t value, int size, int seal,
			   const char *field, const char *what)
{
	uint8_t  *copy = malloc(len);
	cs_model *m = NULL;
	cs_error  err = { 0 };
	cs_status st;

	memcpy(copy, blob, len);
	poke(copy + offset, value, size);
	if (seal)
		reseal(copy, len);
	err.msg[0] = '\0';
	st = decode_copy(copy, len, &m, &err);
	tap_ok(st == CS_ERR_CORRUPT && m == NULL && msg_has(&err, field), "%s: %s", what, err.msg);
	cs_model_free(m);
	free(copy);
}

/* Whether two models score random inputs identically. */
static int
same_predictions(const cs_model *a, const cs_model *b)
{
	cs_rng rng;
	double input[64];
	int    ok = 1;
	int    i;

	cs_rng_seed(&rng, 7);
	for (i = 0; i < 5000; i++)
	{
		random_input(a, &rng, input);
		ok &= cs_model_predict(a, input) == cs_model_predict(b, input);
	}
	return ok;
}

static void
test_blob(void)
{
	cs_model   *hand = hand_model();
	cs_dataset *ds = credit_like(2000);
	cs_split    split;
	cs_model   *trained = train_model(ds, &split);
	cs_model   *back = NULL;
	uint8_t    *blob = NULL;
	uint8_t    *big;
	size_t      len = 0;
	size_t      at;
	size_t      coef_at;
	cs_error    err = { 0 };
	int         ok;
	size_t      cut;
	size_t      bit;
	uint64_t    nan_bits;
	double      nan_value = NAN;
	double      inf_value = INFINITY;
	double      minus_one = -1.0;
	uint64_t    bits;

	/* the trained model round trips */
	ok = cs_blob_encode(trained, &blob, &len, &err) == CS_OK &&
		 cs_blob_decode(blob, len, &back, &err) == CS_OK;
	tap_ok(ok && same_predictions(trained, back) &&
			   back->u.logreg.n_iter == trained->u.logreg.n_iter &&
			   strcmp(back->meta.positive, "bad") == 0 &&
			   back->meta.n_train == trained->meta.n_train &&
			   back->schema.design_width == trained->schema.design_width &&
			   strcmp(back->schema.features[3].levels[0], trained->schema.features[3].levels[0]) ==
				   0,
		   "a trained model round trips through the blob with identical predictions (%zu bytes)",
		   len);
	tap_ok(cs_blob_identity(blob, len) ==
				   ((uint64_t) (len - 16) << 32 | cs_crc32c(0, blob + 16, len - 16)) &&
			   cs_blob_identity(blob, 15) == 0,
		   "blob identity is body length << 32 | checksum");
	cs_model_free(back);
	back = NULL;
	cs_free(blob);
	cs_split_free(&split);
	cs_model_free(trained);
	cs_dataset_free(ds);

	/* the hand model: layout, truncations, bit flips, crafted fields */
	ok = cs_blob_encode(hand, &blob, &len, &err) == CS_OK;
	/* 16 + meta 10+7+8+4+24 + 4 + income 10+1+1+8+8+4 + home 8+1+1+8+8+4+3*6 + 4+4+5*8 */
	tap_ok(ok && len == 16 + 53 + 4 + 32 + 48 + 48 && memcmp(blob, "CSMB\1\0\1\0", 8) == 0,
		   "the blob layout: header, meta, schema, coefficients (%zu bytes)",
		   len);
	ok = cs_blob_decode(blob, len, &back, &err) == CS_OK;
	tap_ok(ok && same_predictions(hand, back) && back->meta.threads == 2 && back->meta.seed == 42 &&
			   back->schema.features[0].has_missing == 1 &&
			   back->schema.features[1].level_index != NULL &&
			   cs_schema_level(&back->schema.features[1], "cc", 2) == 2,
		   "the hand model round trips, prepared");
	cs_model_free(back);
	back = NULL;

	ok = 1;
	for (cut = 0; cut < len; cut++)
	{
		cs_model *m = NULL;

		ok &= decode_copy(blob, cut, &m, &err) == CS_ERR_CORRUPT && m == NULL;
		cs_model_free(m);
	}
	tap_ok(ok, "every truncation (0..%zu bytes) is CS_ERR_CORRUPT", len - 1);
	ok = 1;
	for (bit = 0; bit < len * 8; bit++)
	{
		cs_model *m = NULL;

		blob[bit / 8] ^= (uint8_t) (1u << (bit % 8));
		ok &= decode_copy(blob, len, &m, &err) == CS_ERR_CORRUPT && m == NULL;
		blob[bit / 8] ^= (uint8_t) (1u << (bit % 8));
		cs_model_free(m);
	}
	tap_ok(ok, "every single-bit flip (%zu) is CS_ERR_CORRUPT", len * 8);

	at = find_bytes(blob, len, "income");
	coef_at = len - 5 * 8;
	memcpy(&nan_bits, &nan_value, 8);
	expect_corrupt(blob, len, 0, 'X', 1, 0, "magic", "wrong magic");
	expect_corrupt(blob, len, 4, 3, 2, 0, "version", "version 3");
	expect_corrupt(blob, len, 6, 9, 2, 0, "model type", "model type 9");
	expect_corrupt(blob, len, 8, len - 15, 4, 0, "body length", "body length off by one");
	expect_corrupt(blob, len, 12, 0, 4, 0, "checksum", "checksum zeroed");
	expect_corrupt(blob, len, 16, 0x200000, 4, 1, "over 1 MiB", "a 2 MiB target string");
	expect_corrupt(blob,
				   len,
				   16,
				   0x7FFFFFF0,
				   4,
				   1,
				   "over 1 MiB",
				   "a target string longer than the blob");
	expect_corrupt(blob,
				   len,
				   16,
				   len - 19,
				   4,
				   1,
				   "truncated",
				   "a target string running past the end");
	expect_corrupt(blob, len, at - 8, 0x7FFFFFFF, 4, 1, "feature count", "n_features 2^31-1");
	expect_corrupt(blob, len, at - 8, 99999, 4, 1, "feature count", "n_features beyond the bytes");
	expect_corrupt(blob, len, at - 8, 0xFFFFFFFF, 4, 1, "feature count", "n_features -1");
	expect_corrupt(blob, len, at + 6, 7, 1, 1, "feature 1 kind", "a kind of 7");
	expect_corrupt(blob, len, at + 7, 2, 1, 1, "feature 1 has_missing", "has_missing 2");
	memcpy(&bits, &inf_value, 8);
	expect_corrupt(blob, len, at + 8, bits, 8, 1, "feature 1 mean", "an infinite mean");
	memcpy(&bits, &minus_one, 8);
	expect_corrupt(blob, len, at + 16, bits, 8, 1, "feature 1 sd", "sd = -1");
	expect_corrupt(blob, len, at + 16, 0, 8, 1, "feature 1 sd", "sd = 0");
	expect_corrupt(blob,
				   len,
				   at + 24,
				   1,
				   4,
				   1,
				   "numeric feature 1 has 1 levels",
				   "levels on a numeric feature");
	expect_corrupt(blob,
				   len,
				   at + 28 + 4 + 4 + 18,
				   2000000,
				   4,
				   1,
				   "feature 2 level count",
				   "2,000,000 levels");
	expect_corrupt(blob,
				   len,
				   at + 28 + 4 + 4 + 18,
				   1000,
				   4,
				   1,
				   "feature 2 level count",
				   "1,000 levels beyond the bytes");
	expect_corrupt(blob,
				   len,
				   find_bytes(blob, len, "bb"),
				   'a' | 'a' << 8,
				   2,
				   1,
				   "twice",
				   "a duplicate level");
	expect_corrupt(blob,
				   len,
				   find_bytes(blob, len, "cc") + 1,
				   0,
				   1,
				   1,
				   "NUL",
				   "a NUL byte in a level");
	expect_corrupt(blob,
				   len,
				   coef_at - 8,
				   5,
				   4,
				   1,
				   "coefficient count p",
				   "p = 5 for a design of 4");
	expect_corrupt(blob, len, coef_at - 8, 0xFFFFFFFF, 4, 1, "coefficient count p", "p = -1");
	expect_corrupt(blob, len, coef_at - 4, 0xFFFFFFFF, 4, 1, "iteration count", "n_iter = -1");
	expect_corrupt(blob,
				   len,
				   coef_at + 8 * 4,
				   nan_bits,
				   8,
				   1,
				   "coefficient 4",
				   "a NaN coefficient");
	/* trailing bytes, with a valid length and checksum */
	big = malloc(len + 3);
	memcpy(big, blob, len);
	memset(big + len, 0, 3);
	reseal(big, len + 3);
	err.msg[0] = '\0';
	tap_ok(decode_copy(big, len + 3, &back, &err) == CS_ERR_CORRUPT && back == NULL &&
			   msg_has(&err, "3 bytes follow"),
		   "trailing bytes: %s",
		   err.msg);
	free(big);
	cs_free(blob);
	cs_model_free(hand);
}

/* ------------------------------------------------------------------ metrics */

static void
test_metrics(void)
{
	const double  tie[] = { 0.5, 0.5 };
	const uint8_t tie_y[] = { 0, 1 };
	const double  s[] = { 0.1, 0.4, 0.35, 0.8 };
	const uint8_t sy[] = { 0, 0, 1, 1 };
	const double  t[] = { 0.1, 0.4, 0.4, 0.8 };
	const uint8_t ty[] = { 0, 1, 0, 1 };
	const double  p[] = { 0.8, 0.3 };
	const uint8_t py[] = { 1, 0 };
	const double  clip[] = { 0.0, 1.0 };
	const uint8_t clip_y[] = { 1, 1 };
	const double  thr[] = { 0.5, 0.49, 0.7 };
	const uint8_t thr_y[] = { 1, 0, 0 };

	tap_ok(cs_auc(tie, tie_y, 2) == 0.5, "AUC of two tied scores is 0.5");
	tap_ok(close_to(cs_auc(s, sy, 4), 0.75, 1e-15),
		   "AUC of a small case (3 of 4 pairs right) is 0.75");
	tap_ok(close_to(cs_auc(t, ty, 4), 0.875, 1e-15), "AUC with a tied pair counting 1/2 is 3.5/4");
	tap_ok(isnan(cs_auc(s, clip_y, 2)), "AUC with a single class is NaN");
	tap_ok(close_to(cs_log_loss(p, py, 2), -(log(0.8) + log(0.7)) / 2, 1e-15), "log loss");
	tap_ok(close_to(cs_log_loss(clip, clip_y, 2), -log(1e-15) / 2, 1e-12),
		   "log loss clips probabilities to [1e-15, 1 - 1e-15]");
	tap_ok(close_to(cs_accuracy(thr, thr_y, 3, 0.5), 2.0 / 3.0, 1e-15),
		   "accuracy: p >= threshold predicts positive");
	tap_ok(close_to(cs_brier(p, py, 2), (0.04 + 0.09) / 2, 1e-15), "Brier score");
}

int
main(void)
{
	test_hashing();
	test_strdict();
	test_dataset();
	test_split();
	test_schema();
	test_linalg();
	test_logreg();
	test_model();
	test_blob();
	test_metrics();
	return tap_finish();
}
