/*
 * dataset.c - the raw column-major data read from a relation: numeric values
 * or category codes (NaN = missing) plus a 0/1 label per row.
 */
#include <math.h>
#include <string.h>

#include "cs_core.h"

/* A copy of a NUL-terminated string, or NULL when out of memory. */
static char *
copy_string(const char *s)
{
	size_t len = strlen(s);
	char  *copy = cs_malloc(len + 1);

	if (copy != NULL)
		memcpy(copy, s, len + 1);
	return copy;
}

/* An empty dataset with the given columns (names are copied). */
cs_dataset *
cs_dataset_new(int n_cols, const char *const *names, const cs_kind *kinds, cs_error *err)
{
	cs_dataset *ds;
	int         j;

	if (n_cols < 0)
	{
		cs_fail(err, CS_ERR_INVALID, "invalid column count %d", n_cols);
		return NULL;
	}
	ds = cs_calloc(1, sizeof(cs_dataset));
	if (ds == NULL)
		goto nomem;
	ds->cols = cs_calloc((size_t) n_cols, sizeof(cs_column));
	if (ds->cols == NULL)
	{
		cs_free(ds);
		goto nomem;
	}
	ds->n_cols = n_cols;
	for (j = 0; j < n_cols; j++)
	{
		cs_column *c = &ds->cols[j];

		c->kind = kinds[j];
		c->name = copy_string(names[j]);
		if (c->name == NULL)
			goto nomem_free;
		if (c->kind == CS_KIND_CATEGORICAL)
		{
			c->dict = cs_strdict_new();
			if (c->dict == NULL)
				goto nomem_free;
		}
	}
	return ds;

nomem_free:
	cs_dataset_free(ds);
nomem:
	cs_fail(err, CS_ERR_NOMEM, "out of memory creating a dataset of %d columns", n_cols);
	return NULL;
}

/* Grows every column and the labels to at least n_rows rows. */
cs_status
cs_dataset_reserve(cs_dataset *ds, size_t n_rows, cs_error *err)
{
	size_t   cap;
	uint8_t *label;
	int      j;

	if (n_rows <= ds->capacity)
		return CS_OK;
	cap = ds->capacity < 1024 ? 1024 : ds->capacity;
	while (cap < n_rows)
		cap = cap > SIZE_MAX / 2 ? n_rows : cap * 2;
	for (j = 0; j < ds->n_cols; j++)
	{
		double *v = cs_realloc(ds->cols[j].values, cs_mul_size(cap, sizeof(double)));

		if (v == NULL)
			goto nomem;
		ds->cols[j].values = v;
	}
	label = cs_realloc(ds->label, cap);
	if (label == NULL)
		goto nomem;
	ds->label = label;
	ds->capacity = cap;
	return CS_OK;

nomem:
	return cs_fail(err, CS_ERR_NOMEM, "out of memory reserving %zu rows", n_rows);
}

/* Frees ds and everything it owns; NULL is fine. */
void
cs_dataset_free(cs_dataset *ds)
{
	int j;

	if (ds == NULL)
		return;
	for (j = 0; j < ds->n_cols; j++)
	{
		cs_free(ds->cols[j].name);
		cs_free(ds->cols[j].values);
		cs_strdict_free(ds->cols[j].dict);
	}
	cs_free(ds->cols);
	cs_free(ds->label);
	cs_free(ds);
}

/* Whether column c has at least one non-missing value among n rows. */
static int
column_has_value(const cs_column *c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isnan(c->values[i]))
			return 1;
	return 0;
}

/* Checks that there are rows, no entirely missing feature and two classes. */
cs_status
cs_dataset_check(const cs_dataset *ds, cs_error *err)
{
	size_t i;
	int    j;

	if (ds->n_rows == 0)
		return cs_fail(err, CS_ERR_INVALID, "the relation has no rows");
	for (j = 0; j < ds->n_cols; j++)
		if (!column_has_value(&ds->cols[j], ds->n_rows))
			return cs_fail(err,
						   CS_ERR_INVALID,
						   "feature \"%s\" is entirely NULL",
						   ds->cols[j].name);
	for (i = 1; i < ds->n_rows; i++)
		if (ds->label[i] != ds->label[0])
			return CS_OK;
	return cs_fail(err, CS_ERR_INVALID, "the target has a single class");
}
