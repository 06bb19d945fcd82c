/*
 * cs_core.h - the pure C11 numerical core of credit_scoring.
 *
 * Nothing here includes a PostgreSQL header: the core is unit-tested without
 * a server and is safe to run in threads.  Memory comes from malloc through
 * cs_malloc()/cs_free(); errors are returned as a cs_status plus a message in
 * a caller-supplied cs_error, never by longjmp or abort.
 *
 * The data path (see src/core/README.md for the exact definitions that the
 * reference scripts under test/reference reproduce):
 *   cs_dataset  raw columns as read from a relation (numeric value or
 *               category code, NaN = missing) plus a 0/1 label
 *   cs_split    seeded, stratified, row-order independent 70/15/15 split
 *   cs_schema   the feature schema learned on the training split
 *   cs_model    schema + fitted parameters + training metadata; encoded to
 *               and decoded from the versioned, checksummed model blob
 */
#ifndef CS_CORE_H
#define CS_CORE_H

#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- errors */

typedef enum cs_status
{
	CS_OK = 0,
	CS_ERR_NOMEM,     /* allocation failed or size overflow */
	CS_ERR_INVALID,   /* bad input or parameter (user error) */
	CS_ERR_CORRUPT,   /* malformed model blob */
	CS_ERR_CANCELLED, /* progress callback asked to stop */
	CS_ERR_NUMERIC,   /* did not converge, singular, non-finite */
	CS_ERR_BLAS       /* the BLAS/LAPACK library is unavailable */
} cs_status;

typedef struct cs_error
{
	cs_status code;
	char      msg[512];
} cs_error;

/* Records an error; returns code so callers can "return cs_fail(...)". */
cs_status cs_fail(cs_error *err, cs_status code, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 3, 4)))
#endif
	;

/* ------------------------------------------------------------- allocator */

void *cs_malloc(size_t size);
void *cs_calloc(size_t n, size_t size);
void *cs_realloc(void *ptr, size_t size);
void  cs_free(void *ptr);
/* n * size, or SIZE_MAX on overflow (which cs_malloc then refuses) */
size_t cs_mul_size(size_t n, size_t size);

/*
 * Progress callback: called only from the thread that called the training
 * function, between chunks of work.  Returning nonzero asks the core to stop;
 * the core then frees what it allocated and returns CS_ERR_CANCELLED.
 */
typedef int (*cs_progress_fn)(void *ctx, double fraction, const char *message);

/* ------------------------------------------------------- random numbers */

/* splitmix64 finaliser: the hash mixer used by the split and the seeds */
uint64_t cs_mix64(uint64_t z);
/* 64-bit FNV-1a of a byte string */
uint64_t cs_fnv1a64(const void *data, size_t len);

/* xoshiro256** generator, seeded through splitmix64 */
typedef struct cs_rng
{
	uint64_t s[4];
} cs_rng;

void     cs_rng_seed(cs_rng *rng, uint64_t seed);
uint64_t cs_rng_next(cs_rng *rng);
double   cs_rng_uniform(cs_rng *rng); /* [0, 1) with 53 random bits */

/* --------------------------------------------------------- string dictionary */

/* Interns strings (any bytes, explicit length) to dense codes 0..n-1. */
typedef struct cs_strdict cs_strdict;

cs_strdict *cs_strdict_new(void);
void        cs_strdict_free(cs_strdict *d);
/* code of s, adding it if new; -1 when out of memory */
int32_t cs_strdict_intern(cs_strdict *d, const char *s, size_t len);
/* code of s, or -1 when absent */
int32_t cs_strdict_find(const cs_strdict *d, const char *s, size_t len);
int32_t cs_strdict_size(const cs_strdict *d);
/* the string of a code (NUL-terminated copy owned by d), its length in *len */
const char *cs_strdict_get(const cs_strdict *d, int32_t code, size_t *len);

/* ---------------------------------------------------------------- dataset */

typedef enum cs_kind
{
	CS_KIND_NUMERIC = 0,    /* value is the number itself */
	CS_KIND_CATEGORICAL = 1 /* value is a cs_strdict code */
} cs_kind;

typedef struct cs_column
{
	char       *name; /* source column name */
	cs_kind     kind;
	double     *values; /* n_rows values; NaN = missing (NULL) */
	cs_strdict *dict;   /* categorical only: code -> category text */
} cs_column;

/* Column-major raw data plus a 0/1 label per row. */
typedef struct cs_dataset
{
	size_t     n_rows;
	size_t     capacity;
	int        n_cols;
	cs_column *cols;
	uint8_t   *label;
} cs_dataset;

cs_dataset *
cs_dataset_new(int n_cols, const char *const *names, const cs_kind *kinds, cs_error *err);
/* makes room for at least n_rows rows in every column (amortised growth) */
cs_status cs_dataset_reserve(cs_dataset *ds, size_t n_rows, cs_error *err);
void      cs_dataset_free(cs_dataset *ds);
/* CS_ERR_INVALID naming the first feature that is entirely missing, etc. */
cs_status cs_dataset_check(const cs_dataset *ds, cs_error *err);

/* ------------------------------------------------------------------ split */

enum
{
	CS_PART_TRAIN = 0,
	CS_PART_VALID = 1,
	CS_PART_TEST = 2
};

typedef struct cs_split
{
	size_t  n[3];    /* rows in train, validation, test */
	size_t *rows[3]; /* row indices of each part, in split order */
} cs_split;

/* The row hash that places a row in the split (src/core/README.md). */
uint64_t cs_row_hash(const cs_dataset *ds, size_t row, uint64_t seed);
/* Seeded stratified 70/15/15 split, independent of the physical row order. */
cs_status cs_split_stratified(const cs_dataset *ds, uint64_t seed, cs_split *out, cs_error *err);
void      cs_split_free(cs_split *s);

/* ----------------------------------------------------------------- schema */

typedef struct cs_feature
{
	char   *name;
	cs_kind kind;
	/* numeric: standardisation from the training split (population sd) */
	double mean;
	double sd; /* 1 when the training column is constant */
	/* categorical: levels by training frequency desc, ties bytewise; the
	 * first is the reference level of the linear encoding */
	int32_t     n_levels;
	char      **levels;
	cs_strdict *level_index; /* built on load: text -> level */
	/* both kinds: the training split had missing values */
	uint8_t has_missing;
	/* first design column of this feature in the linear encoding */
	int32_t design_offset;
	int32_t design_width;
} cs_feature;

typedef struct cs_schema
{
	int32_t     n_features;
	cs_feature *features;
	int32_t     design_width; /* encoded columns, intercept excluded */
} cs_schema;

/* Learns the schema from the training rows of ds. */
cs_status
cs_schema_learn(const cs_dataset *ds, const size_t *rows, size_t n, cs_schema *out, cs_error *err);
void cs_schema_free(cs_schema *s);
/*
 * Computes each feature's design_offset and design_width, the schema's
 * design_width, and each categorical feature's level_index, for a schema
 * filled in field by field (cs_schema_learn and the blob decoder call it);
 * CS_ERR_INVALID on a duplicate level or an oversized design.
 */
cs_status cs_schema_index(cs_schema *s, cs_error *err);
/* level of a category text, -1 when unseen in training */
int32_t cs_schema_level(const cs_feature *f, const char *s, size_t len);
/* design column name, e.g. "income", "income:missing", "home=owner" */
void cs_schema_design_name(const cs_schema *s, int32_t col, char *buf, size_t buflen);

/*
 * A scoring input is one double per feature, in schema order:
 *   numeric      the value, NaN when missing
 *   categorical  the level index (cs_schema_level), -1 for an unseen
 *                category, NaN when missing
 */

/* Writes the linear encoding of one input into out[design_width]. */
void cs_schema_encode(const cs_schema *s, const double *input, double *out);

/*
 * Builds the column-major design matrix (n x design_width) of the given
 * dataset rows; the dataset's category codes are mapped to schema levels.
 */
cs_status cs_schema_design(const cs_schema *s, const cs_dataset *ds, const size_t *rows, size_t n,
						   double **out, cs_error *err);
/* Scoring inputs (n x n_features, row-major) of dataset rows. */
cs_status cs_schema_inputs(const cs_schema *s, const cs_dataset *ds, const size_t *rows, size_t n,
						   double **out, cs_error *err);

/* ------------------------------------------------------- linear algebra */

/*
 * BLAS and LAPACK come from OpenBLAS, loaded at run time with dlopen so that
 * a scoring backend never loads it (and never starts its thread pool).  The
 * thread count is fixed through OPENBLAS_NUM_THREADS before the load, with
 * all signals blocked so that its pool threads never take a signal.
 */
cs_status cs_linalg_load(const char *library, int threads, cs_error *err);
int       cs_linalg_loaded(void);

/*
 * C = alpha op(A) op(B) + beta C, column-major, op(X) = X^T when its flag is
 * 'T' (else 'N'): C is m x n (leading dimension ldc), op(A) m x k, op(B)
 * k x n; one cblas_dgemm call.
 */
void cs_gemm(char ta, char tb, size_t m, size_t n, size_t k, double alpha, const double *A,
			 size_t lda, const double *B, size_t ldb, double beta, double *C, size_t ldc);
/* C = alpha * A^T * B + beta * C; A is n x m, B is n x k, column-major */
void cs_gemm_tn(size_t n, size_t m, size_t k, double alpha, const double *A, const double *B,
				double beta, double *C);
/* y = alpha * A^T * x + beta * y; A is n x m column-major */
void cs_gemv_t(size_t n, size_t m, double alpha, const double *A, const double *x, double beta,
			   double *y);
/* solves A x = b in place for symmetric positive definite A (m x m) */
cs_status cs_posv(size_t m, double *A, double *b, cs_error *err);

/* ---------------------------------------------------------------- metrics */

/* ROC AUC on scores, ties counting one half; NaN when a class is absent */
double cs_auc(const double *score, const uint8_t *y, size_t n);
double cs_log_loss(const double *p, const uint8_t *y, size_t n);
double cs_accuracy(const double *p, const uint8_t *y, size_t n, double threshold);
double cs_brier(const double *p, const uint8_t *y, size_t n);

/* ------------------------------------------------------------------ models */

typedef enum cs_model_type
{
	CS_MODEL_LOGISTIC_REGRESSION = 1,
	CS_MODEL_XGBOOST = 2,       /* histogram gradient boosting (cs_trees.h) */
	CS_MODEL_RANDOM_FOREST = 3, /* random forest (cs_trees.h) */
	CS_MODEL_DNN = 4            /* dense neural network (cs_mlp.h) */
} cs_model_type;

struct cs_ensemble;
struct cs_mlp;

/* What a fit reports besides the model; not part of the blob. */
typedef struct cs_fit_info
{
	int32_t n_iter;         /* logistic regression: Newton iterations */
	int32_t n_rounds;       /* boosting: trees trained */
	int32_t best_iteration; /* boosting: the kept trees - 1 (early stopping) */
	double  oob_auc;        /* forest: out-of-bag AUC, NaN when not available */
} cs_fit_info;

typedef struct cs_logreg_params
{
	double C;       /* inverse L2 strength, as scikit-learn */
	int    penalty; /* 1 = l2, 0 = none */
	int    max_iter;
	double tol; /* max |step| of the Newton update */
} cs_logreg_params;

typedef struct cs_logreg
{
	int32_t p;    /* design width */
	double *coef; /* p + 1: intercept first */
	int32_t n_iter;
	/* folded for scoring (cs_model_prepare): raw-value coefficients */
	double  *fold_coef; /* per feature: slope on the raw value */
	double   fold_intercept;
	double  *fold_missing;     /* per feature: margin term when missing */
	double  *fold_level;       /* all categorical levels' weights (level 0: 0) */
	int32_t *fold_level_start; /* per feature: its first entry in fold_level */
} cs_logreg;

typedef struct cs_model_meta
{
	char    *target;   /* target column */
	char    *positive; /* positive-class value, as text */
	uint64_t seed;
	int32_t  threads;
	uint64_t n_train;
	uint64_t n_valid;
	uint64_t n_test;
} cs_model_meta;

/*
 * A reference sample kept with a model: up to CS_REFERENCE_ROWS training rows
 * (scoring inputs, in the order of a seeded hash of their content, so any
 * prefix is a random sample) and each row's value in the model's explanation
 * units (cs_explain_value).  KernelSHAP takes its background from it and reason
 * codes their cutoff-matched reference (src/core/attrib.c).  n_rows is 0 for
 * a model without one (imported models, blobs written before it existed).
 */
#define CS_REFERENCE_ROWS 500

typedef struct cs_reference
{
	int32_t n_rows;
	int32_t n_cols; /* the schema's features */
	double *inputs; /* n_rows x n_cols, row-major */
	double *values; /* n_rows */
} cs_reference;

typedef struct cs_model
{
	cs_model_type type;
	cs_model_meta meta;
	cs_schema     schema;
	union
	{
		cs_logreg           logreg;
		struct cs_ensemble *ensemble; /* xgboost, random_forest */
		struct cs_mlp      *mlp;      /* dnn */
	} u;
	cs_fit_info  info;      /* set by cs_fit_model */
	cs_reference reference; /* set by the trainer (cs_reference_build) */
} cs_model;

cs_status cs_logreg_fit(const double *X, const uint8_t *y, size_t n, int32_t p,
						const cs_logreg_params *params, double *coef, int32_t *n_iter,
						cs_progress_fn progress, void *ctx, cs_error *err);

/* Precomputes what scoring needs (level lookups, folded coefficients). */
cs_status cs_model_prepare(cs_model *m, cs_error *err);
/* Probability of the positive class for one scoring input. */
double cs_model_predict(const cs_model *m, const double *input);
/* Margin (log-odds) for one scoring input. */
double cs_model_margin(const cs_model *m, const double *input);
/* Frees m and all it owns; m must come from cs_malloc (e.g. cs_blob_decode). */
void        cs_model_free(cs_model *m);
const char *cs_model_type_name(cs_model_type t);

/* -------------------------------------------------------------- model blob */

/*
 * Version 2 appends the reference sample; a model without one is written as
 * version 1, byte for byte as before, and both versions are read.
 */
#define CS_BLOB_VERSION 2

/* Serialises m; *out is cs_malloc'd. */
cs_status cs_blob_encode(const cs_model *m, uint8_t **out, size_t *len, cs_error *err);
/* Validates every field and returns a prepared model, or CS_ERR_CORRUPT. */
cs_status cs_blob_decode(const uint8_t *data, size_t len, cs_model **out, cs_error *err);
/* The blob's stored checksum (0 when too short): a cheap identity. */
uint64_t cs_blob_identity(const uint8_t *data, size_t len);
/* CRC-32C (Castagnoli) */
uint32_t cs_crc32c(uint32_t crc, const void *data, size_t len);

#endif /* CS_CORE_H */
