/*
 * blob.c - the model blob v1 (layout in src/core/README.md) and CRC-32C.
 *
 * The decoder trusts nothing: every read is bounds-checked, every count is
 * checked against the bytes that remain and a fixed limit before anything is
 * allocated, and any failure frees what was built and names the field.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cs_core.h"
#include "cs_mlp.h"
#include "cs_trees.h"

#define BLOB_MAGIC       "CSMB"
#define HEADER_SIZE      16
#define MAX_STRING       (1024 * 1024)
#define MAX_FEATURES     100000
#define MAX_LEVELS       1000000
/* the smallest feature: empty name, kind, has_missing, mean, sd, n_levels */
#define MIN_FEATURE_SIZE (4 + 1 + 1 + 8 + 8 + 4)

/* ------------------------------------------------------------------ CRC-32C */

static uint32_t crc_table[256];
static int      crc_table_ready;

/* Fills the table of the reflected Castagnoli polynomial 0x82F63B78. */
static void
init_crc_table(void)
{
	uint32_t i;
	int      k;

	for (i = 0; i < 256; i++)
	{
		uint32_t c = i;

		for (k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ UINT32_C(0x82F63B78) : c >> 1;
		crc_table[i] = c;
	}
	crc_table_ready = 1;
}

/* CRC-32C of data continuing from crc (0 to start). */
uint32_t
cs_crc32c(uint32_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t               i;

	if (!crc_table_ready)
		init_crc_table();
	crc = ~crc;
	for (i = 0; i < len; i++)
		crc = crc_table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
	return ~crc;
}

/* ------------------------------------------------------------------ writing */

typedef struct blob_writer
{
	uint8_t *buf;
	size_t   len;
	size_t   cap;
	int      failed;
} blob_writer;

/* Appends n bytes, growing the buffer; records a failure when out of memory. */
static void
put_bytes(blob_writer *w, const void *data, size_t n)
{
	if (w->failed)
		return;
	if (n > SIZE_MAX - w->len)
	{
		w->failed = 1;
		return;
	}
	if (w->len + n > w->cap)
	{
		size_t   cap = w->cap < 256 ? 256 : w->cap;
		uint8_t *buf;

		while (cap < w->len + n)
			cap = cap > SIZE_MAX / 2 ? w->len + n : cap * 2;
		buf = cs_realloc(w->buf, cap);
		if (buf == NULL)
		{
			w->failed = 1;
			return;
		}
		w->buf = buf;
		w->cap = cap;
	}
	if (n > 0)
		memcpy(w->buf + w->len, data, n);
	w->len += n;
}

/* Appends v little-endian in size bytes. */
static void
put_uint(blob_writer *w, uint64_t v, int size)
{
	uint8_t b[8];
	int     i;

	for (i = 0; i < size; i++)
		b[i] = (uint8_t) (v >> (8 * i));
	put_bytes(w, b, (size_t) size);
}

/* Appends the IEEE-754 bits of x. */
static void
put_f64(blob_writer *w, double x)
{
	uint64_t bits;

	memcpy(&bits, &x, sizeof(bits));
	put_uint(w, bits, 8);
}

/* Appends a u32 length and the bytes of s (NULL as the empty string). */
static void
put_string(blob_writer *w, const char *s)
{
	size_t len = s == NULL ? 0 : strlen(s);

	if (len > MAX_STRING)
	{
		w->failed = 2;
		return;
	}
	put_uint(w, len, 4);
	put_bytes(w, s, len);
}

/* Appends the schema. */
static void
put_schema(blob_writer *w, const cs_schema *s)
{
	int32_t j;
	int32_t k;

	put_uint(w, (uint32_t) s->n_features, 4);
	for (j = 0; j < s->n_features; j++)
	{
		const cs_feature *f = &s->features[j];

		put_string(w, f->name);
		put_uint(w, (uint64_t) f->kind, 1);
		put_uint(w, f->has_missing ? 1 : 0, 1);
		put_f64(w, f->mean);
		put_f64(w, f->sd);
		put_uint(w, (uint32_t) f->n_levels, 4);
		for (k = 0; k < f->n_levels; k++)
			put_string(w, f->levels[k]);
	}
}

/* Appends the bits of a float. */
static void
put_f32(blob_writer *w, float x)
{
	uint32_t bits;

	memcpy(&bits, &x, sizeof(bits));
	put_uint(w, bits, 4);
}

/*
 * Appends a tree ensemble: kind u8, n_features i32, base_score f64, n_trees
 * i32, then per tree its node count i32 and nodes (feature i32, threshold
 * f32, left i32, right i32, default_left u8, gain f32, value f64, cover f64).
 */
static void
put_ensemble(blob_writer *w, const cs_ensemble *e)
{
	int32_t t;
	int64_t k;

	put_uint(w, (uint64_t) e->kind, 1);
	put_uint(w, (uint32_t) e->n_features, 4);
	put_f64(w, e->base_score);
	put_uint(w, (uint32_t) e->n_trees, 4);
	for (t = 0; t < e->n_trees; t++)
		put_uint(w, (uint32_t) (e->tree_start[t + 1] - e->tree_start[t]), 4);
	for (k = 0; k < e->n_nodes; k++)
	{
		const cs_tree_node *nd = &e->nodes[k];

		put_uint(w, (uint32_t) nd->feature, 4);
		put_f32(w, nd->threshold);
		put_uint(w, (uint32_t) nd->left, 4);
		put_uint(w, (uint32_t) nd->right, 4);
		put_uint(w, nd->default_left, 1);
		put_f32(w, nd->gain);
		put_f64(w, nd->value);
		put_f64(w, nd->cover);
	}
}

/*
 * Appends a dense network: n_layers i32, units[0..n_layers] i32, activation
 * u8, batch_norm u8, n_params u64 and the parameters f64, n_running u64 and
 * the running statistics f64, n_epochs i32, best_epoch i32, and per epoch the
 * training and validation losses f64 (the learning curve).
 */
static void
put_mlp(blob_writer *w, const cs_mlp *n)
{
	int32_t l;
	size_t  i;

	put_uint(w, (uint32_t) n->n_layers, 4);
	for (l = 0; l <= n->n_layers; l++)
		put_uint(w, (uint32_t) n->units[l], 4);
	put_uint(w, (uint64_t) n->activation, 1);
	put_uint(w, (uint64_t) n->batch_norm, 1);
	put_uint(w, n->n_params, 8);
	for (i = 0; i < n->n_params; i++)
		put_f64(w, n->params[i]);
	put_uint(w, n->n_running, 8);
	for (i = 0; i < n->n_running; i++)
		put_f64(w, n->running[i]);
	put_uint(w, (uint32_t) n->n_epochs, 4);
	put_uint(w, (uint32_t) n->best_epoch, 4);
	for (l = 0; l < n->n_epochs; l++)
	{
		put_f64(w, n->train_loss[l]);
		put_f64(w, n->valid_loss[l]);
	}
}

/* Version 2's reference sample: rows, columns, the inputs, then the values. */
static void
put_reference(blob_writer *w, const cs_reference *ref)
{
	size_t i;

	put_uint(w, (uint32_t) ref->n_rows, 4);
	put_uint(w, (uint32_t) ref->n_cols, 4);
	for (i = 0; i < (size_t) ref->n_rows * (size_t) ref->n_cols; i++)
		put_f64(w, ref->inputs[i]);
	for (i = 0; i < (size_t) ref->n_rows; i++)
		put_f64(w, ref->values[i]);
}

/* Serialises m; *out is cs_malloc'd. */
cs_status
cs_blob_encode(const cs_model *m, uint8_t **out, size_t *len, cs_error *err)
{
	blob_writer      w = { NULL, 0, 0, 0 };
	const cs_logreg *lr = &m->u.logreg;
	size_t           body;
	int32_t          i;

	*out = NULL;
	*len = 0;
	if (m->type != CS_MODEL_LOGISTIC_REGRESSION && m->type != CS_MODEL_XGBOOST &&
		m->type != CS_MODEL_RANDOM_FOREST && m->type != CS_MODEL_DNN)
		return cs_fail(err, CS_ERR_INVALID, "unknown model type %d", (int) m->type);
	put_bytes(&w, BLOB_MAGIC, 4);
	put_uint(&w, m->reference.n_rows > 0 ? CS_BLOB_VERSION : 1, 2);
	put_uint(&w, (uint64_t) m->type, 2);
	put_uint(&w, 0, 8); /* body length and checksum, filled below */
	put_string(&w, m->meta.target);
	put_string(&w, m->meta.positive);
	put_uint(&w, m->meta.seed, 8);
	put_uint(&w, (uint32_t) m->meta.threads, 4);
	put_uint(&w, m->meta.n_train, 8);
	put_uint(&w, m->meta.n_valid, 8);
	put_uint(&w, m->meta.n_test, 8);
	put_schema(&w, &m->schema);
	if (m->type == CS_MODEL_DNN)
		put_mlp(&w, m->u.mlp);
	else if (m->type != CS_MODEL_LOGISTIC_REGRESSION)
		put_ensemble(&w, m->u.ensemble);
	else
	{
		put_uint(&w, (uint32_t) lr->p, 4);
		put_uint(&w, (uint32_t) lr->n_iter, 4);
		for (i = 0; i <= lr->p; i++)
			put_f64(&w, lr->coef[i]);
	}
	if (m->reference.n_rows > 0)
		put_reference(&w, &m->reference);
	if (w.failed || w.len - HEADER_SIZE > UINT32_MAX)
	{
		cs_free(w.buf);
		if (w.failed == 2)
			return cs_fail(err, CS_ERR_INVALID, "a model string is longer than 1 MiB");
		if (w.failed)
			return cs_fail(err, CS_ERR_NOMEM, "out of memory encoding the model");
		return cs_fail(err, CS_ERR_INVALID, "the model is too large to encode");
	}
	body = w.len - HEADER_SIZE;
	w.len = 8;
	put_uint(&w, body, 4);
	put_uint(&w, cs_crc32c(0, w.buf + HEADER_SIZE, body), 4);
	*out = w.buf;
	*len = body + HEADER_SIZE;
	return CS_OK;
}

/* ------------------------------------------------------------------ reading */

typedef struct blob_reader
{
	const uint8_t *p;
	size_t         left;
	cs_error      *err;
	int            type;    /* the model type of the header */
	int            version; /* the format version of the header */
} blob_reader;

static int corrupt(blob_reader *r, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

/* Records a CS_ERR_CORRUPT naming what is wrong; returns 0 for "return corrupt(...)". */
static int
corrupt(blob_reader *r, const char *fmt, ...)
{
	char    what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	cs_fail(r->err, CS_ERR_CORRUPT, "the model blob is corrupt: %s", what);
	return 0;
}

/* Reads a size-byte little-endian unsigned integer; 0 when truncated. */
static int
get_uint(blob_reader *r, int size, uint64_t *v, const char *field)
{
	int i;

	*v = 0;
	if (r->left < (size_t) size)
		return corrupt(r, "it is truncated in %s", field);
	for (i = 0; i < size; i++)
		*v |= (uint64_t) r->p[i] << (8 * i);
	r->p += size;
	r->left -= (size_t) size;
	return 1;
}

/* Reads a signed 32-bit integer within [lo, hi]. */
static int
get_i32(blob_reader *r, int32_t lo, int32_t hi, int32_t *v, const char *field)
{
	uint64_t u;
	int32_t  x;

	*v = 0;
	if (!get_uint(r, 4, &u, field))
		return 0;
	x = (int32_t) (uint32_t) u;
	if (x < lo || x > hi)
		return corrupt(r, "%s is %d, out of range", field, (int) x);
	*v = x;
	return 1;
}

/* Reads a finite double (and > 0 when positive). */
static int
get_f64(blob_reader *r, int positive, double *v, const char *field)
{
	uint64_t bits;

	if (!get_uint(r, 8, &bits, field))
		return 0;
	memcpy(v, &bits, sizeof(*v));
	if (!isfinite(*v))
		return corrupt(r, "%s is not finite", field);
	if (positive && !(*v > 0.0))
		return corrupt(r, "%s is %g, not positive", field, *v);
	return 1;
}

/* Reads a string of at most 1 MiB with no NUL byte into a cs_malloc'd copy. */
static int
get_string(blob_reader *r, char **out, const char *field)
{
	uint64_t len;

	if (!get_uint(r, 4, &len, field))
		return 0;
	if (len > MAX_STRING)
		return corrupt(r, "%s is %llu bytes long, over 1 MiB", field, (unsigned long long) len);
	if (len > r->left)
		return corrupt(r, "it is truncated in %s", field);
	if (len > 0 && memchr(r->p, '\0', (size_t) len) != NULL)
		return corrupt(r, "%s contains a NUL byte", field);
	*out = cs_malloc((size_t) len + 1);
	if (*out == NULL)
	{
		cs_fail(r->err, CS_ERR_NOMEM, "out of memory decoding the model blob");
		return 0;
	}
	if (len > 0)
		memcpy(*out, r->p, (size_t) len);
	(*out)[len] = '\0';
	r->p += len;
	r->left -= (size_t) len;
	return 1;
}

/* Reads the training metadata. */
static int
get_meta(blob_reader *r, cs_model_meta *meta)
{
	int32_t threads;

	if (!get_string(r, &meta->target, "the target name") ||
		!get_string(r, &meta->positive, "the positive class") ||
		!get_uint(r, 8, &meta->seed, "the seed") ||
		!get_i32(r, INT32_MIN, INT32_MAX, &threads, "the thread count") ||
		!get_uint(r, 8, &meta->n_train, "the training row count") ||
		!get_uint(r, 8, &meta->n_valid, "the validation row count") ||
		!get_uint(r, 8, &meta->n_test, "the test row count"))
		return 0;
	meta->threads = threads;
	return 1;
}

/* Reads one feature (j counts from 1 in messages). */
static int
get_feature(blob_reader *r, int32_t j, cs_feature *f)
{
	char     field[64];
	uint64_t kind;
	uint64_t has_missing;
	int32_t  n_levels;
	int32_t  k;

#define FIELD(what) (snprintf(field, sizeof(field), "feature %d %s", (int) j + 1, what), field)
	if (!get_string(r, &f->name, FIELD("name")) || !get_uint(r, 1, &kind, FIELD("kind")))
		return 0;
	if (kind != CS_KIND_NUMERIC && kind != CS_KIND_CATEGORICAL)
		return corrupt(r, "feature %d kind is %d", (int) j + 1, (int) kind);
	f->kind = (cs_kind) kind;
	if (!get_uint(r, 1, &has_missing, FIELD("has_missing")))
		return 0;
	if (has_missing > 1)
		return corrupt(r, "feature %d has_missing is %d", (int) j + 1, (int) has_missing);
	f->has_missing = (uint8_t) has_missing;
	if (!get_f64(r, 0, &f->mean, FIELD("mean")) || !get_f64(r, 1, &f->sd, FIELD("sd")) ||
		!get_i32(r, 0, MAX_LEVELS, &n_levels, FIELD("level count")))
		return 0;
	if (f->kind == CS_KIND_NUMERIC && n_levels != 0)
		return corrupt(r, "numeric feature %d has %d levels", (int) j + 1, (int) n_levels);
	if ((size_t) n_levels > r->left / 4)
		return corrupt(r,
					   "feature %d level count %d exceeds the remaining bytes",
					   (int) j + 1,
					   (int) n_levels);
	f->levels = cs_calloc((size_t) (n_levels > 0 ? n_levels : 1), sizeof(char *));
	if (f->levels == NULL)
	{
		cs_fail(r->err, CS_ERR_NOMEM, "out of memory decoding the model blob");
		return 0;
	}
	f->n_levels = n_levels;
	for (k = 0; k < n_levels; k++)
		if (!get_string(r, &f->levels[k], FIELD("level")))
			return 0;
#undef FIELD
	return 1;
}

/* Reads the schema and computes its layout. */
static int
get_schema(blob_reader *r, cs_schema *s)
{
	int32_t  n;
	int32_t  j;
	cs_error why;

	if (!get_i32(r, 0, MAX_FEATURES, &n, "the feature count"))
		return 0;
	if ((size_t) n > r->left / MIN_FEATURE_SIZE)
		return corrupt(r, "the feature count %d exceeds the remaining bytes", (int) n);
	s->features = cs_calloc((size_t) (n > 0 ? n : 1), sizeof(cs_feature));
	if (s->features == NULL)
	{
		cs_fail(r->err, CS_ERR_NOMEM, "out of memory decoding the model blob");
		return 0;
	}
	s->n_features = n;
	for (j = 0; j < n; j++)
		if (!get_feature(r, j, &s->features[j]))
			return 0;
	switch (cs_schema_index(s, &why))
	{
		case CS_OK:
			return 1;
		case CS_ERR_NOMEM:
			cs_fail(r->err, CS_ERR_NOMEM, "%s", why.msg);
			return 0;
		default:
			return corrupt(r, "the schema: %s", why.msg);
	}
}

/* Reads the logistic regression parameters. */
static int
get_logreg(blob_reader *r, int32_t design_width, cs_logreg *lr)
{
	int32_t i;
	char    field[48];

	if (!get_i32(r, 0, INT32_MAX - 1, &lr->p, "the coefficient count p") ||
		!get_i32(r, 0, INT32_MAX, &lr->n_iter, "the iteration count"))
		return 0;
	if (lr->p != design_width)
		return corrupt(r,
					   "the coefficient count p is %d, the schema implies %d",
					   (int) lr->p,
					   (int) design_width);
	if ((size_t) lr->p + 1 > r->left / 8)
		return corrupt(r, "it is truncated in the coefficients");
	lr->coef = cs_malloc(((size_t) lr->p + 1) * sizeof(double));
	if (lr->coef == NULL)
	{
		cs_fail(r->err, CS_ERR_NOMEM, "out of memory decoding the model blob");
		return 0;
	}
	for (i = 0; i <= lr->p; i++)
	{
		snprintf(field, sizeof(field), "coefficient %d", (int) i);
		if (!get_f64(r, 0, &lr->coef[i], field))
			return 0;
	}
	return 1;
}

/* Reads a float's bits; finite, or infinite when inf_ok (never NaN). */
static int
get_f32_inf(blob_reader *r, float *v, int inf_ok, const char *field)
{
	uint64_t bits;
	uint32_t b32;

	if (!get_uint(r, 4, &bits, field))
		return 0;
	b32 = (uint32_t) bits;
	memcpy(v, &b32, sizeof(*v));
	if (isnan(*v) || (!inf_ok && isinf(*v)))
		return corrupt(r, "%s is not finite", field);
	return 1;
}

/* Reads a finite float. */
static int
get_f32(blob_reader *r, float *v, const char *field)
{
	return get_f32_inf(r, v, 0, field);
}

/* Reads one tree node (fields checked against the tree by cs_ensemble_check). */
static int
get_node(blob_reader *r, int64_t k, cs_tree_node *nd)
{
	uint64_t dl;
	char     field[64];

	snprintf(field, sizeof(field), "node %lld", (long long) k);
	if (!get_i32(r, -1, INT32_MAX, &nd->feature, field) ||
		!get_f32_inf(r, &nd->threshold, 1, field) || !get_i32(r, -1, INT32_MAX, &nd->left, field) ||
		!get_i32(r, -1, INT32_MAX, &nd->right, field) || !get_uint(r, 1, &dl, field) ||
		!get_f32(r, &nd->gain, field) || !get_f64(r, 0, &nd->value, field) ||
		!get_f64(r, 0, &nd->cover, field))
		return 0;
	if (dl > 1)
		return corrupt(r, "%s has a default direction of %d", field, (int) dl);
	nd->default_left = (uint8_t) dl;
	return 1;
}

#define NODE_BYTES 37      /* as put_ensemble writes a node */
#define MAX_TREES  1000000 /* trees in one ensemble */

/* Reads a tree ensemble and checks it (cs_ensemble_check). */
static int
get_ensemble(blob_reader *r, int32_t n_features, cs_model_type type, cs_ensemble **out)
{
	cs_ensemble *e = cs_calloc(1, sizeof(cs_ensemble));
	uint64_t     kind;
	int32_t      nf;
	int32_t      t;
	int64_t      k;
	cs_error     why;

	*out = e;
	if (e == NULL)
	{
		cs_fail(r->err, CS_ERR_NOMEM, "out of memory decoding the model blob");
		return 0;
	}
	if (!get_uint(r, 1, &kind, "the ensemble kind"))
		return 0;
	if (kind != (type == CS_MODEL_XGBOOST ? CS_ENSEMBLE_BOOSTED : CS_ENSEMBLE_FOREST))
		return corrupt(r, "the ensemble kind %d does not match the model type", (int) kind);
	e->kind = (cs_ensemble_kind) kind;
	if (!get_i32(r, 0, INT32_MAX, &nf, "the ensemble's feature count"))
		return 0;
	if (nf != n_features)
		return corrupt(r,
					   "the ensemble has %d features, the schema %d",
					   (int) nf,
					   (int) n_features);
	e->n_features = nf;
	if (!get_f64(r, 0, &e->base_score, "the base score") ||
		!get_i32(r, 0, MAX_TREES, &e->n_trees, "the tree count"))
		return 0;
	if ((size_t) e->n_trees > r->left / 4)
		return corrupt(r, "it is truncated in the tree sizes");
	e->tree_start = cs_malloc(((size_t) e->n_trees + 1) * sizeof(int64_t));
	if (e->tree_start == NULL)
	{
		cs_fail(r->err, CS_ERR_NOMEM, "out of memory decoding the model blob");
		return 0;
	}
	e->tree_start[0] = 0;
	for (t = 0; t < e->n_trees; t++)
	{
		int32_t n;
		char    field[48];

		snprintf(field, sizeof(field), "the node count of tree %d", (int) t);
		if (!get_i32(r, 1, INT32_MAX, &n, field))
			return 0;
		e->tree_start[t + 1] = e->tree_start[t] + n;
		if ((uint64_t) e->tree_start[t + 1] > r->left / NODE_BYTES)
			return corrupt(r, "it is truncated in the nodes of tree %d", (int) t);
	}
	e->n_nodes = e->tree_start[e->n_trees];
	e->nodes = cs_malloc((size_t) (e->n_nodes > 0 ? e->n_nodes : 1) * sizeof(cs_tree_node));
	if (e->nodes == NULL)
	{
		cs_fail(r->err, CS_ERR_NOMEM, "out of memory decoding the model blob");
		return 0;
	}
	memset(e->nodes, 0, (size_t) (e->n_nodes > 0 ? e->n_nodes : 1) * sizeof(cs_tree_node));
	for (k = 0; k < e->n_nodes; k++)
		if (!get_node(r, k, &e->nodes[k]))
			return 0;
	if (cs_ensemble_check(e, &why) != CS_OK)
		return corrupt(r, "the trees: %s", why.msg);
	return 1;
}

/* Reads n doubles (finite unless nan_ok) into a cs_malloc'd array. */
static int
get_f64_array(blob_reader *r, size_t n, int nan_ok, double **out, const char *field)
{
	size_t i;

	*out = NULL;
	if (n > r->left / 8)
		return corrupt(r, "it is truncated in %s", field);
	*out = cs_malloc((n > 0 ? n : 1) * sizeof(double));
	if (*out == NULL)
	{
		cs_fail(r->err, CS_ERR_NOMEM, "out of memory decoding the model blob");
		return 0;
	}
	for (i = 0; i < n; i++)
	{
		uint64_t bits;

		if (!get_uint(r, 8, &bits, field))
			return 0;
		memcpy(&(*out)[i], &bits, sizeof(double));
		if (!isfinite((*out)[i]) && !(nan_ok && isnan((*out)[i])))
			return corrupt(r, "%s has a value that is not finite", field);
	}
	return 1;
}

/*
 * Reads the reference sample (version 2): 1 to CS_REFERENCE_ROWS rows of the
 * schema's width; a numeric input is finite or NaN, a categorical one a level
 * of the feature or NaN; values are finite.
 */
static int
get_reference(blob_reader *r, const cs_schema *s, cs_reference *ref)
{
	uint64_t rows;
	uint64_t cols;
	size_t   i;

	if (!get_uint(r, 4, &rows, "the reference sample's rows") ||
		!get_uint(r, 4, &cols, "the reference sample's columns"))
		return 0;
	if (rows < 1 || rows > CS_REFERENCE_ROWS)
		return corrupt(r, "the reference sample has %llu rows", (unsigned long long) rows);
	if (cols != (uint64_t) s->n_features)
		return corrupt(r,
					   "the reference sample has %llu columns for %d features",
					   (unsigned long long) cols,
					   (int) s->n_features);
	ref->n_rows = (int32_t) rows;
	ref->n_cols = (int32_t) cols;
	if (!get_f64_array(r, (size_t) rows * (size_t) cols, 1, &ref->inputs, "the reference sample") ||
		!get_f64_array(r, (size_t) rows, 0, &ref->values, "the reference sample's values"))
		return 0;
	for (i = 0; i < (size_t) rows * (size_t) cols; i++)
	{
		const cs_feature *f = &s->features[i % cols];
		double            x = ref->inputs[i];

		if (f->kind == CS_KIND_CATEGORICAL && !isnan(x) &&
			(x < 0 || x >= f->n_levels || x != floor(x)))
			return corrupt(r, "the reference sample has level %g of \"%s\"", x, f->name);
	}
	return 1;
}

/* Reads a dense network and checks it (cs_mlp_check, run by cs_model_prepare). */
static int
get_mlp(blob_reader *r, int32_t design_width, cs_mlp **out)
{
	cs_mlp  *n = cs_calloc(1, sizeof(cs_mlp));
	uint64_t v;
	uint64_t n_params;
	uint64_t n_running;
	size_t   running_expected;
	int32_t  l;
	double  *loss;

	*out = n;
	if (n == NULL)
	{
		cs_fail(r->err, CS_ERR_NOMEM, "out of memory decoding the model blob");
		return 0;
	}
	if (!get_i32(r, 2, CS_MLP_MAX_HIDDEN + 1, &n->n_layers, "the layer count"))
		return 0;
	for (l = 0; l <= n->n_layers; l++)
		if (!get_i32(r, 1, l == 0 ? INT32_MAX : CS_MLP_MAX_WIDTH, &n->units[l], "a layer width"))
			return 0;
	if (n->units[0] != design_width || n->units[n->n_layers] != 1)
		return corrupt(r, "the network's input or output width is wrong");
	if (!get_uint(r, 1, &v, "the activation") || v > 1)
		return v > 1 ? corrupt(r, "the activation is %d", (int) v) : 0;
	n->activation = (int32_t) v;
	if (!get_uint(r, 1, &v, "the batch-norm flag") || v > 1)
		return v > 1 ? corrupt(r, "the batch-norm flag is %d", (int) v) : 0;
	n->batch_norm = (int32_t) v;
	/* the counts follow from the architecture: check before allocating */
	if (!get_uint(r, 8, &n_params, "the parameter count"))
		return 0;
	if (n_params != cs_mlp_count(n, &running_expected))
		return corrupt(r, "the parameter count does not match the architecture");
	n->n_params = (size_t) n_params;
	if (!get_f64_array(r, n->n_params, 0, &n->params, "the parameters") ||
		!get_uint(r, 8, &n_running, "the running statistics count"))
		return 0;
	if (n_running != running_expected)
		return corrupt(r, "the running statistics count does not match the architecture");
	n->n_running = (size_t) n_running;
	if (!get_f64_array(r, n->n_running, 0, &n->running, "the running statistics") ||
		!get_i32(r, 0, CS_MLP_MAX_EPOCHS, &n->n_epochs, "the epoch count") ||
		!get_i32(r, 0, n->n_epochs, &n->best_epoch, "the best epoch") ||
		!get_f64_array(r, 2 * (size_t) n->n_epochs, 1, &loss, "the learning curve"))
		return 0;
	n->train_loss = cs_malloc(sizeof(double) * (size_t) (n->n_epochs > 0 ? n->n_epochs : 1));
	n->valid_loss = cs_malloc(sizeof(double) * (size_t) (n->n_epochs > 0 ? n->n_epochs : 1));
	if (n->train_loss == NULL || n->valid_loss == NULL)
	{
		cs_free(loss);
		cs_fail(r->err, CS_ERR_NOMEM, "out of memory decoding the model blob");
		return 0;
	}
	for (l = 0; l < n->n_epochs; l++)
	{
		n->train_loss[l] = loss[2 * l];
		n->valid_loss[l] = loss[2 * l + 1];
	}
	cs_free(loss);
	return 1;
}

/* Checks the header: magic, version, model type, length and checksum. */
static int
check_header(blob_reader *r, const uint8_t *data, size_t len)
{
	uint64_t version;
	uint64_t type;
	uint64_t body_len;
	uint64_t crc;

	if (len < HEADER_SIZE)
		return corrupt(r, "it is %zu bytes long, shorter than its 16-byte header", len);
	if (memcmp(data, BLOB_MAGIC, 4) != 0)
		return corrupt(r, "the magic number is not \"CSMB\"");
	r->p = data + 4;
	r->left = len - 4;
	get_uint(r, 2, &version, "the version");
	get_uint(r, 2, &type, "the model type");
	get_uint(r, 4, &body_len, "the body length");
	get_uint(r, 4, &crc, "the checksum");
	if (version != 1 && version != CS_BLOB_VERSION)
		return corrupt(r, "the format version is %d, not 1 or %d", (int) version, CS_BLOB_VERSION);
	r->version = (int) version;
	if (type != CS_MODEL_LOGISTIC_REGRESSION && type != CS_MODEL_XGBOOST &&
		type != CS_MODEL_RANDOM_FOREST && type != CS_MODEL_DNN)
		return corrupt(r, "the model type is %d", (int) type);
	r->type = (int) type;
	if (body_len != len - HEADER_SIZE)
		return corrupt(r,
					   "the body length is %llu but %zu bytes follow the header",
					   (unsigned long long) body_len,
					   len - HEADER_SIZE);
	if (crc != cs_crc32c(0, data + HEADER_SIZE, len - HEADER_SIZE))
		return corrupt(r, "the checksum does not match the body");
	return 1;
}

/* Validates every field and returns a prepared model, or CS_ERR_CORRUPT. */
cs_status
cs_blob_decode(const uint8_t *data, size_t len, cs_model **out, cs_error *err)
{
	blob_reader r = { NULL, 0, err, 0, 0 };
	cs_error    why;
	cs_model   *m;

	*out = NULL;
	if (!check_header(&r, data, len))
		return err != NULL ? err->code : CS_ERR_CORRUPT;
	m = cs_calloc(1, sizeof(cs_model));
	if (m == NULL)
		return cs_fail(err, CS_ERR_NOMEM, "out of memory decoding the model blob");
	m->type = (cs_model_type) r.type;
	if (!get_meta(&r, &m->meta) || !get_schema(&r, &m->schema))
		goto fail;
	if (m->type == CS_MODEL_LOGISTIC_REGRESSION)
	{
		if (!get_logreg(&r, m->schema.design_width, &m->u.logreg))
			goto fail;
	}
	else if (m->type == CS_MODEL_DNN)
	{
		if (!get_mlp(&r, m->schema.design_width, &m->u.mlp))
			goto fail;
	}
	else if (!get_ensemble(&r, m->schema.n_features, m->type, &m->u.ensemble))
		goto fail;
	if (r.version >= 2 && !get_reference(&r, &m->schema, &m->reference))
		goto fail;
	if (r.left != 0)
	{
		corrupt(&r, "%zu bytes follow the model", r.left);
		goto fail;
	}
	if (cs_model_prepare(m, &why) != CS_OK)
	{
		if (why.code == CS_ERR_NOMEM)
			cs_fail(err, CS_ERR_NOMEM, "%s", why.msg);
		else
			corrupt(&r, "%s", why.msg);
		goto fail;
	}
	*out = m;
	return CS_OK;

fail:
	cs_model_free(m);
	return err != NULL ? err->code : CS_ERR_CORRUPT;
}

/* ((uint64_t) body length << 32) | stored CRC, or 0 when shorter than the header. */
uint64_t
cs_blob_identity(const uint8_t *data, size_t len)
{
	uint64_t body_len;
	uint64_t crc;

	if (len < HEADER_SIZE)
		return 0;
	body_len = (uint64_t) data[8] | (uint64_t) data[9] << 8 | (uint64_t) data[10] << 16 |
			   (uint64_t) data[11] << 24;
	crc = (uint64_t) data[12] | (uint64_t) data[13] << 8 | (uint64_t) data[14] << 16 |
		  (uint64_t) data[15] << 24;
	return body_len << 32 | crc;
}
