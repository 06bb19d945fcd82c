/*
 * split.c - the seeded, stratified 70/15/15 split.
 *
 * Each row is placed by a hash of its contents (src/core/README.md), never by
 * its physical position, so the split survives VACUUM, UPDATE and
 * synchronised scans.  Per class, rows sorted by (hash, row index) fill
 * train, then validation, then test; each part is finally sorted by
 * (hash, row index) across classes, the order training sees.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cs_core.h"

#define MISSING_BITS UINT64_C(0x7FF8000000000000)
#define CATEGORY_XOR UINT64_C(0x5BD1E9955BD1E995)

typedef struct hashed_row
{
	uint64_t hash;
	size_t   row;
} hashed_row;

/* The IEEE-754 bits of x, with -0.0 taken as +0.0. */
static uint64_t
double_bits(double x)
{
	uint64_t bits;

	if (x == 0.0)
		x = 0.0;
	memcpy(&bits, &x, sizeof(bits));
	return bits;
}

/* The hashed value of a category code of column c. */
static uint64_t
category_bits(const cs_column *c, double code)
{
	size_t      len;
	const char *s;

	if (!(code >= 0.0 && code < (double) cs_strdict_size(c->dict)))
		return MISSING_BITS;
	s = cs_strdict_get(c->dict, (int32_t) code, &len);
	return cs_fnv1a64(s, len) ^ CATEGORY_XOR;
}

/* The row hash; cat_bits, when given, caches category_bits per column and code. */
static uint64_t
row_hash(const cs_dataset *ds, size_t row, uint64_t seed, uint64_t *const *cat_bits)
{
	uint64_t h = cs_mix64(seed);
	int      j;

	for (j = 0; j < ds->n_cols; j++)
	{
		const cs_column *c = &ds->cols[j];
		double           x = c->values[row];
		uint64_t         v;

		if (isnan(x))
			v = MISSING_BITS;
		else if (c->kind == CS_KIND_NUMERIC)
			v = double_bits(x);
		else if (cat_bits != NULL && cat_bits[j] != NULL && x >= 0.0 &&
				 x < (double) cs_strdict_size(c->dict))
			v = cat_bits[j][(int32_t) x];
		else
			v = category_bits(c, x);
		h = cs_mix64(h ^ v);
	}
	return cs_mix64(h ^ (uint64_t) (ds->label[row] != 0));
}

/* The hash that places row in the split. */
uint64_t
cs_row_hash(const cs_dataset *ds, size_t row, uint64_t seed)
{
	return row_hash(ds, row, seed, NULL);
}

/* qsort order on (hash, row). */
static int
compare_hashed(const void *a, const void *b)
{
	const hashed_row *x = a;
	const hashed_row *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	if (x->row != y->row)
		return x->row < y->row ? -1 : 1;
	return 0;
}

/* Frees the per-column category hash caches. */
static void
free_category_bits(uint64_t **cat_bits, int n_cols)
{
	int j;

	if (cat_bits == NULL)
		return;
	for (j = 0; j < n_cols; j++)
		cs_free(cat_bits[j]);
	cs_free(cat_bits);
}

/* Hashes every category of every categorical column once; NULL when out of memory. */
static uint64_t **
make_category_bits(const cs_dataset *ds)
{
	uint64_t **cat_bits = cs_calloc((size_t) (ds->n_cols > 0 ? ds->n_cols : 1), sizeof(uint64_t *));
	int        j;
	int32_t    k;

	if (cat_bits == NULL)
		return NULL;
	for (j = 0; j < ds->n_cols; j++)
	{
		const cs_column *c = &ds->cols[j];

		if (c->kind != CS_KIND_CATEGORICAL || c->dict == NULL)
			continue;
		cat_bits[j] = cs_malloc(cs_mul_size((size_t) cs_strdict_size(c->dict), sizeof(uint64_t)));
		if (cat_bits[j] == NULL)
		{
			free_category_bits(cat_bits, ds->n_cols);
			return NULL;
		}
		for (k = 0; k < cs_strdict_size(c->dict); k++)
			cat_bits[j][k] = category_bits(c, (double) k);
	}
	return cat_bits;
}

/* Sorts a part by (hash, row) and stores its row indices in out->rows[part]. */
static cs_status
finish_part(hashed_row *items, size_t n, cs_split *out, int part)
{
	size_t i;

	qsort(items, n, sizeof(hashed_row), compare_hashed);
	out->rows[part] = cs_malloc(cs_mul_size(n, sizeof(size_t)));
	if (out->rows[part] == NULL)
		return CS_ERR_NOMEM;
	for (i = 0; i < n; i++)
		out->rows[part][i] = items[i].row;
	out->n[part] = n;
	return CS_OK;
}

/* Seeded stratified 70/15/15 split, independent of the physical row order. */
cs_status
cs_split_stratified(const cs_dataset *ds, uint64_t seed, cs_split *out, cs_error *err)
{
	size_t      n = ds->n_rows;
	hashed_row *all = cs_malloc(cs_mul_size(n, sizeof(hashed_row)));
	hashed_row *parts = cs_malloc(cs_mul_size(n, sizeof(hashed_row)));
	uint64_t  **cat_bits = make_category_bits(ds);
	size_t      class_start[3];
	size_t      part_n[3] = { 0, 0, 0 };
	size_t      i;
	int         c;
	int         k;
	cs_status   st = CS_OK;

	memset(out, 0, sizeof(*out));
	if (all == NULL || parts == NULL || cat_bits == NULL)
	{
		st = CS_ERR_NOMEM;
		goto done;
	}
	/* class 0 rows first, then class 1, each sorted by (hash, row) */
	class_start[0] = 0;
	class_start[1] = 0;
	for (i = 0; i < n; i++)
		if (ds->label[i] == 0)
			class_start[1]++;
	class_start[2] = n;
	{
		size_t fill[2] = { 0, class_start[1] };

		for (i = 0; i < n; i++)
		{
			hashed_row *r = &all[fill[ds->label[i] != 0]++];

			r->hash = row_hash(ds, i, seed, cat_bits);
			r->row = i;
		}
	}
	qsort(all, class_start[1], sizeof(hashed_row), compare_hashed);
	qsort(all + class_start[1], n - class_start[1], sizeof(hashed_row), compare_hashed);
	/* per class: the first (7n+5)/10 to train, the next (15n+50)/100 to validation */
	for (k = 0; k < 3; k++)
	{
		for (c = 0; c < 2; c++)
		{
			size_t n_c = class_start[c + 1] - class_start[c];
			size_t n_train = (7 * n_c + 5) / 10;
			size_t n_valid = (15 * n_c + 50) / 100;
			size_t from;
			size_t to;

			if (n_train > n_c)
				n_train = n_c;
			if (n_valid > n_c - n_train)
				n_valid = n_c - n_train;
			from = class_start[c] + (k == 0 ? 0 : k == 1 ? n_train : n_train + n_valid);
			to = class_start[c] + (k == 0 ? n_train : k == 1 ? n_train + n_valid : n_c);
			memcpy(parts + part_n[0] + part_n[1] + part_n[2],
				   all + from,
				   (to - from) * sizeof(hashed_row));
			part_n[k] += to - from;
		}
	}
	for (k = 0, i = 0; k < 3 && st == CS_OK; i += part_n[k], k++)
		st = finish_part(parts + i, part_n[k], out, k);

done:
	cs_free(all);
	cs_free(parts);
	free_category_bits(cat_bits, ds->n_cols);
	if (st != CS_OK)
	{
		cs_split_free(out);
		return cs_fail(err, st, "out of memory splitting %zu rows", n);
	}
	return CS_OK;
}

/* Frees the row lists of s (not s itself). */
void
cs_split_free(cs_split *s)
{
	int k;

	if (s == NULL)
		return;
	for (k = 0; k < 3; k++)
	{
		cs_free(s->rows[k]);
		s->rows[k] = NULL;
		s->n[k] = 0;
	}
}
