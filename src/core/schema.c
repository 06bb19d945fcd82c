/*
 * schema.c - the feature schema learned on the training split, and the
 * linear (design) encoding of logistic regression (src/core/README.md).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_core.h"

typedef struct level_count
{
	size_t      count;
	const char *str;
	size_t      len;
} level_count;

/* A NUL-terminated copy of len bytes, or NULL when out of memory. */
static char *
copy_bytes(const char *s, size_t len)
{
	char *copy = cs_malloc(len == SIZE_MAX ? SIZE_MAX : len + 1);

	if (copy == NULL)
		return NULL;
	if (len > 0)
		memcpy(copy, s, len);
	copy[len] = '\0';
	return copy;
}

/* Level order: frequency descending, then bytewise with the shorter first. */
static int
compare_levels(const void *a, const void *b)
{
	const level_count *x = a;
	const level_count *y = b;
	size_t             common = x->len < y->len ? x->len : y->len;
	int                cmp;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	cmp = common > 0 ? memcmp(x->str, y->str, common) : 0;
	if (cmp != 0)
		return cmp;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return 0;
}

/* Mean and population sd of the non-missing training values of a numeric column. */
static void
learn_numeric(const cs_column *c, const size_t *rows, size_t n, cs_feature *f)
{
	size_t count = 0;
	double sum = 0.0;
	double ss = 0.0;
	size_t i;

	for (i = 0; i < n; i++)
	{
		double x = c->values[rows[i]];

		if (isnan(x))
			f->has_missing = 1;
		else
		{
			sum += x;
			count++;
		}
	}
	f->mean = count > 0 ? sum / (double) count : 0.0;
	for (i = 0; i < n; i++)
	{
		double x = c->values[rows[i]];

		if (!isnan(x))
			ss += (x - f->mean) * (x - f->mean);
	}
	f->sd = count > 0 ? sqrt(ss / (double) count) : 0.0;
	if (!(f->sd > 0.0) || !isfinite(f->sd))
		f->sd = 1.0;
}

/* The levels of a categorical column on the training rows, most frequent first. */
static cs_status
learn_categorical(const cs_column *c, const size_t *rows, size_t n, cs_feature *f)
{
	int32_t      n_codes = cs_strdict_size(c->dict);
	level_count *lc = cs_calloc((size_t) (n_codes > 0 ? n_codes : 1), sizeof(level_count));
	int32_t      k;
	int32_t      n_levels = 0;
	size_t       i;

	if (lc == NULL)
		return CS_ERR_NOMEM;
	for (i = 0; i < n; i++)
	{
		double x = c->values[rows[i]];

		if (x >= 0.0 && x < (double) n_codes)
			lc[(int32_t) x].count++;
		else
			f->has_missing = 1;
	}
	for (k = 0; k < n_codes; k++)
		if (lc[k].count > 0)
		{
			lc[n_levels] = lc[k];
			lc[n_levels].str = cs_strdict_get(c->dict, k, &lc[n_levels].len);
			n_levels++;
		}
	qsort(lc, (size_t) n_levels, sizeof(level_count), compare_levels);
	f->levels = cs_calloc((size_t) (n_levels > 0 ? n_levels : 1), sizeof(char *));
	if (f->levels == NULL)
	{
		cs_free(lc);
		return CS_ERR_NOMEM;
	}
	f->n_levels = n_levels;
	for (k = 0; k < n_levels; k++)
	{
		f->levels[k] = copy_bytes(lc[k].str, lc[k].len);
		if (f->levels[k] == NULL)
		{
			cs_free(lc);
			return CS_ERR_NOMEM;
		}
	}
	f->mean = 0.0;
	f->sd = 1.0;
	cs_free(lc);
	return CS_OK;
}

/* Learns the schema from the training rows of ds. */
cs_status
cs_schema_learn(const cs_dataset *ds, const size_t *rows, size_t n, cs_schema *out, cs_error *err)
{
	int       j;
	cs_status st;

	memset(out, 0, sizeof(*out));
	out->features = cs_calloc((size_t) (ds->n_cols > 0 ? ds->n_cols : 1), sizeof(cs_feature));
	if (out->features == NULL)
		return cs_fail(err, CS_ERR_NOMEM, "out of memory learning the schema");
	out->n_features = ds->n_cols;
	for (j = 0; j < ds->n_cols; j++)
	{
		const cs_column *c = &ds->cols[j];
		cs_feature      *f = &out->features[j];

		f->kind = c->kind;
		f->name = copy_bytes(c->name, strlen(c->name));
		if (f->name == NULL)
			goto nomem;
		if (c->kind == CS_KIND_NUMERIC)
			learn_numeric(c, rows, n, f);
		else if (learn_categorical(c, rows, n, f) != CS_OK)
			goto nomem;
	}
	st = cs_schema_index(out, err);
	if (st != CS_OK)
		cs_schema_free(out);
	return st;

nomem:
	cs_schema_free(out);
	return cs_fail(err, CS_ERR_NOMEM, "out of memory learning the schema");
}

/* The number of design columns of f. */
static int64_t
feature_width(const cs_feature *f)
{
	int64_t width = f->has_missing ? 1 : 0;

	if (f->kind == CS_KIND_NUMERIC)
		return width + 1;
	return width + (f->n_levels > 1 ? f->n_levels - 1 : 0);
}

/* Builds the level lookup of a categorical feature; rejects duplicate levels. */
static cs_status
index_levels(cs_feature *f, cs_error *err)
{
	int32_t k;

	cs_strdict_free(f->level_index);
	f->level_index = cs_strdict_new();
	if (f->level_index == NULL)
		return cs_fail(err, CS_ERR_NOMEM, "out of memory indexing levels");
	for (k = 0; k < f->n_levels; k++)
	{
		int32_t code = cs_strdict_intern(f->level_index, f->levels[k], strlen(f->levels[k]));

		if (code < 0)
			return cs_fail(err, CS_ERR_NOMEM, "out of memory indexing levels");
		if (code != k)
			return cs_fail(err,
						   CS_ERR_INVALID,
						   "feature \"%s\" has the level \"%s\" twice",
						   f->name,
						   f->levels[k]);
	}
	return CS_OK;
}

/* Computes the design layout and builds the level lookups. */
cs_status
cs_schema_index(cs_schema *s, cs_error *err)
{
	int64_t offset = 0;
	int32_t j;

	for (j = 0; j < s->n_features; j++)
	{
		cs_feature *f = &s->features[j];
		int64_t     width = feature_width(f);

		if (offset + width > INT32_MAX)
			return cs_fail(err, CS_ERR_INVALID, "the design matrix is too wide");
		f->design_offset = (int32_t) offset;
		f->design_width = (int32_t) width;
		offset += width;
		if (f->kind == CS_KIND_CATEGORICAL)
		{
			cs_status st = index_levels(f, err);

			if (st != CS_OK)
				return st;
		}
	}
	s->design_width = (int32_t) offset;
	return CS_OK;
}

/* Frees what s owns (not s itself). */
void
cs_schema_free(cs_schema *s)
{
	int32_t j;
	int32_t k;

	if (s == NULL)
		return;
	for (j = 0; s->features != NULL && j < s->n_features; j++)
	{
		cs_feature *f = &s->features[j];

		cs_free(f->name);
		for (k = 0; f->levels != NULL && k < f->n_levels; k++)
			cs_free(f->levels[k]);
		cs_free(f->levels);
		cs_strdict_free(f->level_index);
	}
	cs_free(s->features);
	memset(s, 0, sizeof(*s));
}

/* The level of a category text, -1 when unseen in training. */
int32_t
cs_schema_level(const cs_feature *f, const char *s, size_t len)
{
	if (f->level_index == NULL)
		return -1;
	return cs_strdict_find(f->level_index, s, len);
}

/* Writes the name of design column col into buf ("" when out of range). */
void
cs_schema_design_name(const cs_schema *s, int32_t col, char *buf, size_t buflen)
{
	int32_t j;

	if (buflen == 0)
		return;
	buf[0] = '\0';
	for (j = 0; j < s->n_features; j++)
	{
		const cs_feature *f = &s->features[j];
		int32_t           k = col - f->design_offset;

		if (k < 0 || k >= f->design_width)
			continue;
		if (f->has_missing && k == f->design_width - 1)
			snprintf(buf, buflen, "%s:missing", f->name);
		else if (f->kind == CS_KIND_NUMERIC)
			snprintf(buf, buflen, "%s", f->name);
		else
			snprintf(buf, buflen, "%s=%s", f->name, f->levels[k + 1]);
		return;
	}
}

/* Writes the design columns of one feature value x at dst[0], dst[stride], ... */
static void
encode_feature(const cs_feature *f, double x, double *dst, size_t stride)
{
	int     missing = isnan(x);
	int32_t k;

	if (f->kind == CS_KIND_NUMERIC)
		dst[0] = missing ? 0.0 : (x - f->mean) / f->sd;
	else
	{
		for (k = 1; k < f->n_levels; k++)
			dst[(size_t) (k - 1) * stride] = 0.0;
		if (!missing && x >= 1.0 && x < (double) f->n_levels)
			dst[(size_t) ((int32_t) x - 1) * stride] = 1.0;
	}
	if (f->has_missing)
		dst[(size_t) (f->design_width - 1) * stride] = missing ? 1.0 : 0.0;
}

/* Writes the linear encoding of one input into out[design_width]. */
void
cs_schema_encode(const cs_schema *s, const double *input, double *out)
{
	int32_t j;

	for (j = 0; j < s->n_features; j++)
		encode_feature(&s->features[j], input[j], out + s->features[j].design_offset, 1);
}

/* Frees the per-feature code-to-level maps. */
static void
free_level_maps(int32_t **maps, int32_t n)
{
	int32_t j;

	if (maps == NULL)
		return;
	for (j = 0; j < n; j++)
		cs_free(maps[j]);
	cs_free(maps);
}

/* Maps each dataset category code to its schema level (-1 when unseen). */
static cs_status
make_level_maps(const cs_schema *s, const cs_dataset *ds, int32_t ***out, cs_error *err)
{
	int32_t **maps;
	int32_t   j;
	int32_t   code;

	*out = NULL;
	if (ds->n_cols != s->n_features)
		return cs_fail(err,
					   CS_ERR_INVALID,
					   "the data have %d columns, the schema %d features",
					   ds->n_cols,
					   (int) s->n_features);
	maps = cs_calloc((size_t) (s->n_features > 0 ? s->n_features : 1), sizeof(int32_t *));
	if (maps == NULL)
		return cs_fail(err, CS_ERR_NOMEM, "out of memory mapping levels");
	for (j = 0; j < s->n_features; j++)
	{
		const cs_column *c = &ds->cols[j];
		int32_t          n_codes;

		if (c->kind != s->features[j].kind)
		{
			free_level_maps(maps, s->n_features);
			return cs_fail(err,
						   CS_ERR_INVALID,
						   "column \"%s\" is not of the kind of feature \"%s\"",
						   c->name,
						   s->features[j].name);
		}
		if (c->kind != CS_KIND_CATEGORICAL)
			continue;
		n_codes = cs_strdict_size(c->dict);
		maps[j] = cs_malloc(cs_mul_size((size_t) (n_codes > 0 ? n_codes : 1), sizeof(int32_t)));
		if (maps[j] == NULL)
		{
			free_level_maps(maps, s->n_features);
			return cs_fail(err, CS_ERR_NOMEM, "out of memory mapping levels");
		}
		for (code = 0; code < n_codes; code++)
		{
			size_t      len;
			const char *str = cs_strdict_get(c->dict, code, &len);

			maps[j][code] = cs_schema_level(&s->features[j], str, len);
		}
	}
	*out = maps;
	return CS_OK;
}

/* The scoring input of feature j for a dataset row: value, level, -1 or NaN. */
static double
dataset_input(const cs_dataset *ds, int32_t *const *maps, int32_t j, size_t row)
{
	const cs_column *c = &ds->cols[j];
	double           x = c->values[row];

	if (c->kind == CS_KIND_NUMERIC || isnan(x))
		return x;
	if (x >= 0.0 && x < (double) cs_strdict_size(c->dict))
		return (double) maps[j][(int32_t) x];
	return -1.0;
}

/* Builds the column-major design matrix (n x design_width) of dataset rows. */
cs_status
cs_schema_design(const cs_schema *s, const cs_dataset *ds, const size_t *rows, size_t n,
				 double **out, cs_error *err)
{
	int32_t **maps;
	double   *X;
	int32_t   j;
	size_t    i;
	cs_status st;

	*out = NULL;
	st = make_level_maps(s, ds, &maps, err);
	if (st != CS_OK)
		return st;
	X = cs_malloc(cs_mul_size(cs_mul_size(n, (size_t) s->design_width), sizeof(double)));
	if (X == NULL)
	{
		free_level_maps(maps, s->n_features);
		return cs_fail(err,
					   CS_ERR_NOMEM,
					   "out of memory for a %zu x %d design matrix",
					   n,
					   (int) s->design_width);
	}
	for (j = 0; j < s->n_features; j++)
	{
		double *col = X + (size_t) s->features[j].design_offset * n;

		for (i = 0; i < n; i++)
			encode_feature(&s->features[j], dataset_input(ds, maps, j, rows[i]), col + i, n);
	}
	free_level_maps(maps, s->n_features);
	*out = X;
	return CS_OK;
}

/* Scoring inputs (n x n_features, row-major) of dataset rows. */
cs_status
cs_schema_inputs(const cs_schema *s, const cs_dataset *ds, const size_t *rows, size_t n,
				 double **out, cs_error *err)
{
	int32_t **maps;
	double   *in;
	int32_t   j;
	size_t    i;
	size_t    nf = (size_t) s->n_features;
	cs_status st;

	*out = NULL;
	st = make_level_maps(s, ds, &maps, err);
	if (st != CS_OK)
		return st;
	in = cs_malloc(cs_mul_size(cs_mul_size(n, nf), sizeof(double)));
	if (in == NULL)
	{
		free_level_maps(maps, s->n_features);
		return cs_fail(err, CS_ERR_NOMEM, "out of memory for %zu scoring inputs", n);
	}
	for (i = 0; i < n; i++)
		for (j = 0; j < s->n_features; j++)
			in[i * nf + (size_t) j] = dataset_input(ds, maps, j, rows[i]);
	free_level_maps(maps, s->n_features);
	*out = in;
	return CS_OK;
}
