/*
 * cs_mlp.h - a dense neural network (multi-layer perceptron) for binary
 * classification, trained by mini-batch Adam on the linear design.
 *
 * The inputs are the linear encoding of the feature schema (cs_schema_encode:
 * standardised numerics, one-hot categoricals, missing indicators), the same
 * columns that logistic regression sees.  Hidden layers are dense, each
 * optionally batch-normalised before its activation (relu or tanh) and
 * followed by inverted dropout at training time; the output is one sigmoid
 * unit with log loss.  src/core/mlp.c opens with the exact definitions.
 *
 * A fitted cs_mlp is plain data: a few integers, the fixed-size units[]
 * array and flat double arrays (params, running, the learning curve).  The
 * layout of params and running follows from the architecture alone
 * (cs_mlp_layout), so a blob stores the integers and the arrays and the
 * decoder rebuilds the rest with cs_mlp_check and cs_mlp_prepare.
 */
#ifndef CS_MLP_H
#define CS_MLP_H

#include "cs_core.h"

#define CS_MLP_MAX_HIDDEN  16    /* hidden layers */
#define CS_MLP_MAX_WIDTH   65536 /* units in a hidden layer */
#define CS_MLP_MAX_EPOCHS  1000000
#define CS_MLP_BN_MOMENTUM 0.1 /* running = (1 - m) running + m batch, as PyTorch */
#define CS_MLP_BN_EPS      1e-5
#define CS_MLP_ABSENT      ((size_t) -1) /* offset of a parameter a layer does not have */

typedef enum cs_mlp_activation
{
	CS_MLP_RELU = 0,
	CS_MLP_TANH = 1
} cs_mlp_activation;

/* Hyperparameters (cs_mlp_params_default fills scikit-learn's defaults). */
typedef struct cs_mlp_params
{
	int32_t           n_hidden;       /* hidden layers, 1..CS_MLP_MAX_HIDDEN */
	const int32_t    *hidden;         /* their widths, each 1..CS_MLP_MAX_WIDTH */
	cs_mlp_activation activation;     /* relu */
	int32_t           batch_norm;     /* 0 (off) or 1 */
	double            dropout;        /* drop probability in [0, 1); 0 */
	double            learning_rate;  /* Adam step size; 1e-3 */
	int32_t           batch_size;     /* 200, clipped to the training rows */
	int32_t           epochs;         /* at most this many passes (1..1e6); 200 */
	double            weight_decay;   /* scikit-learn's alpha; 1e-4 */
	int32_t           early_stopping; /* 1: stop on the validation loss, keep the best */
	int32_t           patience;       /* scikit-learn's n_iter_no_change; 10 */
	double            tol;            /* least improvement that counts; 1e-4 */
	uint64_t          seed;           /* initial weights, shuffling, dropout */
} cs_mlp_params;

/* Where one weight layer's parameters lie in params and running. */
typedef struct cs_mlp_layer
{
	int32_t n_in;  /* units feeding the layer */
	int32_t n_out; /* units of the layer */
	size_t  w;     /* n_in x n_out weights, column-major: w + i + j * n_in */
	size_t  b;     /* n_out biases, or CS_MLP_ABSENT (hidden layer with batch norm) */
	size_t  gamma; /* n_out batch-norm scales, or CS_MLP_ABSENT */
	size_t  beta;  /* n_out batch-norm shifts, or CS_MLP_ABSENT */
	size_t  mean;  /* n_out running means in running[], or CS_MLP_ABSENT */
	size_t  var;   /* n_out running variances in running[], or CS_MLP_ABSENT */
} cs_mlp_layer;

/*
 * A network.  Serialise: n_layers, units[0..n_layers], activation,
 * batch_norm, params[n_params], running[n_running], n_epochs, best_epoch,
 * train_loss[n_epochs], valid_loss[n_epochs].  The fields after them are
 * scoring buffers that cs_mlp_prepare rebuilds.
 */
typedef struct cs_mlp
{
	int32_t n_layers;                     /* weight layers: hidden layers + 1 */
	int32_t units[CS_MLP_MAX_HIDDEN + 2]; /* units[0] inputs, units[n_layers] = 1 */
	int32_t activation;                   /* cs_mlp_activation */
	int32_t batch_norm;                   /* 0 or 1 */
	size_t  n_params;                     /* cs_mlp_count of the architecture */
	double *params;                       /* weights, biases, gamma, beta */
	size_t  n_running;                    /* 2 x hidden units with batch norm, else 0 */
	double *running;                      /* batch-norm running means and variances */
	int32_t n_epochs;                     /* epochs run */
	int32_t best_epoch;                   /* 1-based epoch whose weights were kept */
	double *train_loss;                   /* per epoch: mean training loss incl. penalty */
	double *valid_loss;                   /* per epoch: validation log loss, NaN if none */
	/* scoring buffers (cs_mlp_prepare), not serialised; read-only once prepared */
	double      *bn_fold;   /* n_running: scale at mean's index, shift at var's */
	void        *score_mem; /* the allocation behind score_w */
	const float *score_w;   /* hidden layers for one-row scoring in float, see mlp.c */
	size_t       score_off[CS_MLP_MAX_HIDDEN]; /* hidden layer l's block in score_w */
	size_t       score_ld[CS_MLP_MAX_HIDDEN];  /* its row length: units[l+1] rounded up to 16 */
	size_t       score_out_w;                  /* the output layer's weights in params */
	size_t       score_out_b;                  /* its bias in params */
	size_t       score_widest;                 /* widest score_ld */
	size_t       score_nz;                     /* max(units[0], score_widest) + 16 */
	int32_t      simd;                         /* CS_MLP_SIMD_*: the one-row kernel */
} cs_mlp;

/*
 * The one-row kernels (hidden layers in single precision, see mlp.c).
 * cs_mlp_prepare picks the best the CPU runs; a test may lower m->simd
 * afterwards.  All give the same results, bit for bit.
 */
#define CS_MLP_SIMD_NONE   0 /* plain C */
#define CS_MLP_SIMD_AVX    1 /* x86-64 AVX, 8 floats */
#define CS_MLP_SIMD_AVX512 2 /* x86-64 AVX-512F, 16 floats */
/* The best kernel this CPU runs (CS_MLP_SIMD_NONE off x86-64). */
int32_t cs_mlp_simd_best(void);

void cs_mlp_params_default(cs_mlp_params *p);
/* CS_ERR_INVALID naming the first bad hyperparameter. */
cs_status cs_mlp_check_params(const cs_mlp_params *p, cs_error *err);

/* Layer l's parameter offsets, from the architecture fields alone. */
void cs_mlp_layout(const cs_mlp *m, int32_t l, cs_mlp_layer *out);
/* The params length of the architecture; *n_running gets the running length. */
size_t cs_mlp_count(const cs_mlp *m, size_t *n_running);

/*
 * Sets up the architecture for n_inputs design columns and draws the initial
 * weights from params->seed (fit does this itself; tests call it alone).
 * m is overwritten: free an older network first.
 */
cs_status cs_mlp_init(cs_mlp *m, int32_t n_inputs, const cs_mlp_params *params, cs_error *err);

/*
 * Trains a network on X (n x p, ROW-major: row i at X + i * p) and labels y;
 * Xv/yv (nv rows, row-major, may be NULL with nv = 0) give the validation
 * loss of each epoch and, with early_stopping, the stopping rule.  *m is
 * filled (and prepared for scoring) on success, left zeroed on failure.
 * BLAS must be loaded (cs_linalg_load); its thread count is the only
 * parallelism.  CS_ERR_NUMERIC when the loss diverges, CS_ERR_CANCELLED when
 * progress asks to stop (it is called once per epoch).
 */
cs_status cs_mlp_fit(const double *X, const uint8_t *y, size_t n, int32_t p, const double *Xv,
					 const uint8_t *yv, size_t nv, const cs_mlp_params *params, cs_mlp *m,
					 cs_progress_fn progress, void *ctx, cs_error *err);

/* Bytes that cs_mlp_fit needs besides X and Xv (an estimate, for memory limits). */
double cs_mlp_memory(const cs_mlp_params *params, int32_t p, size_t n, size_t nv);

/*
 * Validates a network filled field by field (a decoded blob): architecture,
 * lengths, finite parameters, running variances >= 0.  CS_ERR_CORRUPT naming
 * the field.
 */
cs_status cs_mlp_check(const cs_mlp *m, cs_error *err);
/* Allocates and computes the scoring buffers (after cs_mlp_check). */
cs_status cs_mlp_prepare(cs_mlp *m, cs_error *err);

/*
 * One row, no BLAS; m must be prepared.  The hidden layers run in single
 * precision (float copies of their weights), the output unit and sigmoid in
 * double: the margin agrees with cs_mlp_predict's to float rounding (a few
 * 1e-6 of 1 + |margin| at most in test_mlp), not bit for bit;
 * cs_mlp_predict_input and cs_mlp_predict_row of the same design row agree
 * bit for bit.  The network is only read (scratch
 * is on the stack, or allocated for networks too wide for it: NaN if that
 * fails), so threads may share it.
 */
double cs_mlp_margin_row(const cs_mlp *m, const double *x); /* x: units[0] design values */
double cs_mlp_predict_row(const cs_mlp *m, const double *x);
/* Probability for one scoring input, encoded as cs_schema_encode does. */
double cs_mlp_predict_input(const cs_mlp *m, const cs_schema *s, const double *input);

/* Probabilities of n rows (row-major X) in blocks through the matrix products. */
cs_status cs_mlp_predict(const cs_mlp *m, const double *X, size_t n, double *prob, cs_error *err);

/*
 * The training objective on one batch (X row-major, n rows) in training mode
 * without dropout: mean log loss + 0.5 * weight_decay * ||W||^2 / n, batch
 * statistics for batch norm (running statistics untouched).  grad (n_params,
 * may be NULL) gets its gradient in params' layout.  For gradient checks.
 */
cs_status cs_mlp_loss_grad(const cs_mlp *m, const double *X, const uint8_t *y, size_t n,
						   double weight_decay, double *loss, double *grad, cs_error *err);

/* The row-major design (n x design_width) of dataset rows, for cs_mlp_fit. */
cs_status cs_mlp_design_rows(const cs_schema *s, const cs_dataset *ds, const size_t *rows, size_t n,
							 double **out, cs_error *err);

/* Frees what m owns (not m itself) and zeroes it. */
void cs_mlp_free(cs_mlp *m);

#endif /* CS_MLP_H */
