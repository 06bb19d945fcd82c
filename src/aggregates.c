/*
 * aggregates.c - metric aggregates over (score, label) for BI tools and
 * ad-hoc SQL: cs_auc, cs_ks, cs_log_loss, cs_brier, cs_confusion, and their
 * _partial / _merge pairs.
 *
 * As DESIGN.md ("Aggregates") asks, every state is a flat bytea, so that
 * PostgreSQL's parallel query (and Citus on its workers) computes it
 * partially and combines the parts; a bytea state needs no serial functions.
 * A state is a 24-byte header (magic, kind, row count) and a payload:
 *
 *   scores     the rows themselves, 9 bytes each (the score as a native
 *              double, then the label byte): exact AUC and KS need every
 *              (score, label) pair.  Combining appends; the final function
 *              sorts (cs_scored_sort), so the answer does not depend on the
 *              order the rows came in, nor on the plan.
 *   log loss,  a compensated sum of the per-row terms
 *   brier
 *   confusion  the threshold and the four counts
 *
 * The transition functions are STRICT (a NULL score or label skips the row)
 * with INITCOND '' (the empty bytea: no rows yet), and write into their state
 * in place when called by an aggregate (AggCheckCallContext).  A scores state
 * has spare room and doubles when full.  Growing returns a new, larger copy:
 * the executor copies a transition value whose pointer changed into the
 * aggregate's context and frees the old one, so repalloc, which frees the old
 * block itself, would free it twice.  A state can come from anywhere (a
 * _merge aggregate takes the user's bytea), so every state read is validated.
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "evaluation.h"

PG_FUNCTION_INFO_V1(cs_scores_trans);
PG_FUNCTION_INFO_V1(cs_scores_combine);
PG_FUNCTION_INFO_V1(cs_log_loss_trans);
PG_FUNCTION_INFO_V1(cs_log_loss_combine);
PG_FUNCTION_INFO_V1(cs_brier_trans);
PG_FUNCTION_INFO_V1(cs_brier_combine);
PG_FUNCTION_INFO_V1(cs_confusion_trans);
PG_FUNCTION_INFO_V1(cs_confusion_combine);
PG_FUNCTION_INFO_V1(cs_partial_final);
PG_FUNCTION_INFO_V1(cs_auc_final);
PG_FUNCTION_INFO_V1(cs_ks_final);
PG_FUNCTION_INFO_V1(cs_log_loss_final);
PG_FUNCTION_INFO_V1(cs_brier_final);
PG_FUNCTION_INFO_V1(cs_confusion_final);

#define CS_STATE_MAGIC 0x5354534D /* "MSTS" */

typedef enum CsStateKind
{
	STATE_SCORES = 1,
	STATE_LOG_LOSS = 2,
	STATE_BRIER = 3,
	STATE_CONFUSION = 4
} CsStateKind;

typedef struct CsState
{
	int32  vl_len_; /* varlena header */
	uint32 magic;
	int32  kind;
	int32  reserved; /* 0 */
	int64  n;        /* rows */
} CsState;

typedef struct CsSumState
{
	CsState h;
	cs_ksum sum;
} CsSumState;

typedef struct CsConfusionState
{
	CsState      h;
	double       threshold;
	cs_confusion c;
} CsConfusionState;

#define ENTRY_SIZE      9 /* double score, uint8 label */
#define SCORES_INITIAL  64
#define SCORES_CAPACITY ((MaxAllocSize - sizeof(CsState)) / ENTRY_SIZE)

/* The entries of a scores state. */
#define ENTRIES(s) ((char *) (s) + sizeof(CsState))

/* What produces a state of a kind, for messages. */
static const char *
kind_producers(int kind)
{
	switch (kind)
	{
		case STATE_SCORES:
			return "cs_scores_partial, cs_auc_partial or cs_ks_partial";
		case STATE_LOG_LOSS:
			return "cs_log_loss_partial";
		case STATE_BRIER:
			return "cs_brier_partial";
		default:
			return "cs_confusion_partial";
	}
}

/* The fixed size of a state kind (0 for scores, which vary). */
static Size
kind_size(int kind)
{
	switch (kind)
	{
		case STATE_LOG_LOSS:
		case STATE_BRIER:
			return sizeof(CsSumState);
		case STATE_CONFUSION:
			return sizeof(CsConfusionState);
		default:
			return 0;
	}
}

/* ERROR for a bytea that is not a state of kind (kind 0: of any kind). */
static void
invalid_state(int kind, const char *problem)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("the bytea given is not the state of %s",
					kind ? kind_producers(kind) : "a credit_scoring _partial aggregate"),
			 errdetail("%s.", problem)));
}

/*
 * Checks that v (a detoasted, non-empty varlena, perhaps not aligned) is a
 * well-formed state of kind (0: any kind); copies its header into *head.
 */
static void
check_state(const struct varlena *v, int kind, CsState *head)
{
	Size size = VARSIZE(v);

	if (size < sizeof(CsState))
		invalid_state(kind, "It is too short");
	memcpy(head, v, sizeof(CsState));
	if (head->magic != CS_STATE_MAGIC || head->kind < STATE_SCORES || head->kind > STATE_CONFUSION)
		invalid_state(kind, "It is not a credit_scoring aggregate state");
	if (kind != 0 && head->kind != kind)
		invalid_state(kind, "It is the state of another metric");
	if (head->n < 0)
		invalid_state(kind, "Its row count is negative");
	if (head->kind == STATE_SCORES && (size - sizeof(CsState)) / ENTRY_SIZE < (uint64) head->n)
		invalid_state(kind, "It is shorter than its row count says");
	if (head->kind != STATE_SCORES && size != kind_size(head->kind))
		invalid_state(kind, "Its length is wrong");
	if (head->kind == STATE_CONFUSION)
	{
		CsConfusionState c;

		memcpy(&c, v, sizeof(c));
		if (!(c.threshold >= 0.0 && c.threshold <= 1.0) ||
			c.c.tp + c.c.fp + c.c.tn + c.c.fn != (uint64) head->n)
			invalid_state(kind, "Its threshold or counts are inconsistent");
	}
}

/* Entry i of scores entries: its score and label, checked. */
static inline void
read_entry(const char *entries, int64 i, double *score, uint8 *label)
{
	memcpy(score, entries + i * ENTRY_SIZE, sizeof(double));
	*label = (uint8) entries[i * ENTRY_SIZE + sizeof(double)];
	if (*label > 1 || isnan(*score))
		invalid_state(STATE_SCORES, "It holds a NaN score or a label other than 0 and 1");
}

/*
 * A state argument, detoasted and checked; NULL for the empty state (no rows
 * yet).  Not necessarily aligned: read it with memcpy.
 */
static struct varlena *
state_arg(FunctionCallInfo fcinfo, int argno, int kind, CsState *head)
{
	struct varlena *v = PG_DETOAST_DATUM(PG_GETARG_DATUM(argno));

	if (VARSIZE(v) == VARHDRSZ)
		return NULL;
	check_state(v, kind, head);
	return v;
}

/*
 * The transition state (argument 0) as a state of kind that may be written
 * in place; NULL while it is the empty initial state.  A value this module
 * did not make (a user's INITCOND) is checked and copied first.
 */
static CsState *
own_state(FunctionCallInfo fcinfo, int kind, const char *fname)
{
	struct varlena *v = (struct varlena *) PG_GETARG_POINTER(0);
	CsState         head;

	if (!AggCheckCallContext(fcinfo, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s can only be called by an aggregate", fname)));
	if (!VARATT_IS_4B_U(v) || (uintptr_t) v % MAXIMUM_ALIGNOF != 0)
		v = PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(0));
	if (VARSIZE(v) == VARHDRSZ)
		return NULL;
	check_state(v, kind, &head);
	return (CsState *) v;
}

/* A new state of kind with room for capacity rows (scores) in the current context. */
static CsState *
new_state(int kind, int64 capacity)
{
	Size size = kind == STATE_SCORES ? sizeof(CsState) + capacity * ENTRY_SIZE : kind_size(kind);
	CsState *s = palloc0(size);

	SET_VARSIZE(s, size);
	s->magic = CS_STATE_MAGIC;
	s->kind = kind;
	return s;
}

/* s (NULL: a new state) with room for extra more rows, as a larger copy when full. */
static CsState *
scores_reserve(CsState *s, int64 extra)
{
	int64    capacity = s ? (VARSIZE(s) - sizeof(CsState)) / ENTRY_SIZE : 0;
	int64    need = (s ? s->n : 0) + extra;
	CsState *grown;

	if (need <= capacity)
		return s;
	if (need > (int64) SCORES_CAPACITY)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many rows for an exact AUC or KS: at most %lld per aggregate",
						(long long) SCORES_CAPACITY),
				 errhint("Aggregate per group (GROUP BY) or on a sample (TABLESAMPLE).")));
	capacity = Max(Max(capacity * 2, SCORES_INITIAL), need);
	capacity = Min(capacity, (int64) SCORES_CAPACITY);
	grown = new_state(STATE_SCORES, capacity);
	if (s)
		memcpy(ENTRIES(grown), ENTRIES(s), s->n * ENTRY_SIZE);
	grown->n = s ? s->n : 0;
	return grown;
}

/* ERROR unless 0 <= threshold <= 1. */
void
cs_check_threshold(double threshold)
{
	if (!(threshold >= 0.0 && threshold <= 1.0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("threshold %g is outside [0, 1]", threshold),
				 errhint("A threshold is a probability: a score at or above it predicts the "
						 "positive class.")));
}

/* ERROR for a NaN score. */
static void
check_score(double score)
{
	if (isnan(score))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a score is NaN"),
				 errhint(
					 "Filter the rows (WHERE score <> 'NaN') or fix what computes the score.")));
}

/* --------------------------------------------------------------- scores */

/* cs_scores_trans(state bytea, score float8, label boolean) -> bytea */
Datum
cs_scores_trans(PG_FUNCTION_ARGS)
{
	CsState *s = own_state(fcinfo, STATE_SCORES, "cs_scores_trans");
	double   score = PG_GETARG_FLOAT8(1);
	char    *entry;

	check_score(score);
	s = scores_reserve(s, 1);
	entry = ENTRIES(s) + s->n * ENTRY_SIZE;
	memcpy(entry, &score, sizeof(double));
	entry[sizeof(double)] = PG_GETARG_BOOL(2) ? 1 : 0;
	s->n++;
	PG_RETURN_POINTER(s);
}

/* cs_scores_combine(state bytea, other bytea) -> bytea: appends other's rows */
Datum
cs_scores_combine(PG_FUNCTION_ARGS)
{
	const char     *fname = "cs_scores_combine";
	CsState        *s = own_state(fcinfo, STATE_SCORES, fname);
	CsState         head;
	struct varlena *in = state_arg(fcinfo, 1, STATE_SCORES, &head);
	const char     *from;
	int64           i;

	if (in == NULL || head.n == 0)
		PG_RETURN_POINTER(s ? s : (CsState *) PG_GETARG_POINTER(0));
	from = (const char *) in + sizeof(CsState);
	for (i = 0; i < head.n; i++)
	{
		double score;
		uint8  label;

		read_entry(from, i, &score, &label);
	}
	s = scores_reserve(s, head.n);
	memcpy(ENTRIES(s) + s->n * ENTRY_SIZE, from, head.n * ENTRY_SIZE);
	s->n += head.n;
	PG_RETURN_POINTER(s);
}

/* The rows of a scores state, checked and unpacked (weights 1). */
cs_scored *
cs_scores_state_rows(bytea *state, size_t *n)
{
	struct varlena *v = (struct varlena *) state;
	CsState         head;
	cs_scored      *rows;
	const char     *entries;
	int64           i;

	*n = 0;
	if (VARSIZE(v) == VARHDRSZ)
		return NULL;
	check_state(v, STATE_SCORES, &head);
	if (head.n == 0)
		return NULL;
	rows = MemoryContextAllocHuge(CurrentMemoryContext, head.n * sizeof(cs_scored));
	entries = (const char *) v + sizeof(CsState);
	for (i = 0; i < head.n; i++)
	{
		uint8 label;

		read_entry(entries, i, &rows[i].score, &label);
		rows[i].positive = label;
		rows[i].weight = 1.0;
	}
	*n = (size_t) head.n;
	return rows;
}

/* The sorted rows of the state argument; NULL (and *n 0) when it holds none. */
static cs_scored *
sorted_state_rows(FunctionCallInfo fcinfo, size_t *n)
{
	cs_scored *rows = cs_scores_state_rows(PG_GETARG_BYTEA_P(0), n);

	if (rows)
		cs_scored_sort(rows, *n);
	return rows;
}

/* cs_auc_final(state bytea) -> float8; NULL without rows or without both classes */
Datum
cs_auc_final(PG_FUNCTION_ARGS)
{
	size_t     n;
	cs_scored *rows = sorted_state_rows(fcinfo, &n);
	cs_auc_ci  auc;

	if (rows == NULL)
		PG_RETURN_NULL();
	cs_auc_delong_sorted(rows, n, &auc);
	if (isnan(auc.auc))
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(auc.auc);
}

/* cs_ks_final(state bytea) -> float8; NULL without rows or without both classes */
Datum
cs_ks_final(PG_FUNCTION_ARGS)
{
	size_t     n;
	cs_scored *rows = sorted_state_rows(fcinfo, &n);
	double     ks;

	if (rows == NULL)
		PG_RETURN_NULL();
	ks = cs_ks_sorted(rows, n);
	if (isnan(ks))
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(ks);
}

/* cs_partial_final(state bytea) -> bytea: a copy without spare room; NULL without rows */
Datum
cs_partial_final(PG_FUNCTION_ARGS)
{
	struct varlena *v = PG_DETOAST_DATUM(PG_GETARG_DATUM(0));
	CsState         head;
	Size            size;
	CsState        *out;

	if (VARSIZE(v) == VARHDRSZ)
		PG_RETURN_NULL();
	check_state(v, 0, &head);
	if (head.n == 0)
		PG_RETURN_NULL();
	size = head.kind == STATE_SCORES ? sizeof(CsState) + head.n * ENTRY_SIZE : VARSIZE(v);
	out = palloc(size);
	memcpy(out, v, size);
	SET_VARSIZE(out, size);
	PG_RETURN_POINTER(out);
}

/* ---------------------------------------------------- log loss and Brier */

/* Adds one row's term to a sum state of kind. */
static Datum
sum_trans(FunctionCallInfo fcinfo, int kind, const char *fname, double term)
{
	CsSumState *s = (CsSumState *) own_state(fcinfo, kind, fname);

	if (s == NULL)
		s = (CsSumState *) new_state(kind, 0);
	cs_ksum_add(&s->sum, term);
	s->h.n++;
	PG_RETURN_POINTER(s);
}

/* Adds the sum state in argument 1 to the one in argument 0. */
static Datum
sum_combine(FunctionCallInfo fcinfo, int kind, const char *fname)
{
	CsSumState     *s = (CsSumState *) own_state(fcinfo, kind, fname);
	CsSumState      in;
	struct varlena *v = state_arg(fcinfo, 1, kind, &in.h);

	if (v == NULL)
		PG_RETURN_POINTER(s ? s : (CsSumState *) PG_GETARG_POINTER(0));
	memcpy(&in, v, sizeof(in));
	if (s == NULL)
		s = (CsSumState *) new_state(kind, 0);
	cs_ksum_merge(&s->sum, &in.sum);
	s->h.n += in.h.n;
	PG_RETURN_POINTER(s);
}

/* The mean of a sum state's terms; NULL without rows. */
static Datum
sum_final(FunctionCallInfo fcinfo, int kind)
{
	CsSumState      s;
	struct varlena *v = state_arg(fcinfo, 0, kind, &s.h);

	if (v == NULL || s.h.n == 0)
		PG_RETURN_NULL();
	memcpy(&s, v, sizeof(s));
	PG_RETURN_FLOAT8(cs_ksum_value(&s.sum) / (double) s.h.n);
}

/* cs_log_loss_trans(state bytea, score float8, label boolean) -> bytea */
Datum
cs_log_loss_trans(PG_FUNCTION_ARGS)
{
	double score = PG_GETARG_FLOAT8(1);

	check_score(score);
	return sum_trans(fcinfo,
					 STATE_LOG_LOSS,
					 "cs_log_loss_trans",
					 cs_log_loss_term(score, PG_GETARG_BOOL(2)));
}

/* cs_log_loss_combine(state bytea, other bytea) -> bytea */
Datum
cs_log_loss_combine(PG_FUNCTION_ARGS)
{
	return sum_combine(fcinfo, STATE_LOG_LOSS, "cs_log_loss_combine");
}

/* cs_log_loss_final(state bytea) -> float8 */
Datum
cs_log_loss_final(PG_FUNCTION_ARGS)
{
	return sum_final(fcinfo, STATE_LOG_LOSS);
}

/* cs_brier_trans(state bytea, score float8, label boolean) -> bytea */
Datum
cs_brier_trans(PG_FUNCTION_ARGS)
{
	double score = PG_GETARG_FLOAT8(1);

	check_score(score);
	return sum_trans(fcinfo,
					 STATE_BRIER,
					 "cs_brier_trans",
					 cs_brier_term(score, PG_GETARG_BOOL(2)));
}

/* cs_brier_combine(state bytea, other bytea) -> bytea */
Datum
cs_brier_combine(PG_FUNCTION_ARGS)
{
	return sum_combine(fcinfo, STATE_BRIER, "cs_brier_combine");
}

/* cs_brier_final(state bytea) -> float8 */
Datum
cs_brier_final(PG_FUNCTION_ARGS)
{
	return sum_final(fcinfo, STATE_BRIER);
}

/* ------------------------------------------------------------- confusion */

/* ERROR when two parts of one cs_confusion disagree on the threshold. */
static void
check_same_threshold(double mine, double other)
{
	if (mine != other)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cs_confusion needs one threshold for all its rows, not %g and %g",
						mine,
						other)));
}

/* cs_confusion_trans(state bytea, score float8, label boolean [, threshold float8]) -> bytea */
Datum
cs_confusion_trans(PG_FUNCTION_ARGS)
{
	CsConfusionState *s = (CsConfusionState *) own_state(fcinfo, STATE_CONFUSION, "cs_confusion");
	double            score = PG_GETARG_FLOAT8(1);
	double            threshold = PG_NARGS() > 3 ? PG_GETARG_FLOAT8(3) : 0.5;

	check_score(score);
	cs_check_threshold(threshold);
	if (s == NULL)
	{
		s = (CsConfusionState *) new_state(STATE_CONFUSION, 0);
		s->threshold = threshold;
	}
	check_same_threshold(s->threshold, threshold);
	cs_confusion_add(&s->c, score, PG_GETARG_BOOL(2), threshold);
	s->h.n++;
	PG_RETURN_POINTER(s);
}

/* cs_confusion_combine(state bytea, other bytea) -> bytea */
Datum
cs_confusion_combine(PG_FUNCTION_ARGS)
{
	const char       *fname = "cs_confusion_combine";
	CsConfusionState *s = (CsConfusionState *) own_state(fcinfo, STATE_CONFUSION, fname);
	CsConfusionState  in;
	struct varlena   *v = state_arg(fcinfo, 1, STATE_CONFUSION, &in.h);

	if (v == NULL)
		PG_RETURN_POINTER(s ? s : (CsConfusionState *) PG_GETARG_POINTER(0));
	memcpy(&in, v, sizeof(in));
	if (s == NULL)
	{
		s = (CsConfusionState *) new_state(STATE_CONFUSION, 0);
		s->threshold = in.threshold;
	}
	check_same_threshold(s->threshold, in.threshold);
	s->c.tp += in.c.tp;
	s->c.fp += in.c.fp;
	s->c.tn += in.c.tn;
	s->c.fn += in.c.fn;
	s->h.n += in.h.n;
	PG_RETURN_POINTER(s);
}

/* cs_confusion_final(state bytea) -> jsonb: counts and the threshold metrics */
Datum
cs_confusion_final(PG_FUNCTION_ARGS)
{
	CsConfusionState s;
	struct varlena  *v = state_arg(fcinfo, 0, STATE_CONFUSION, &s.h);
	cs_rates         r;
	StringInfoData   buf;

	if (v == NULL || s.h.n == 0)
		PG_RETURN_NULL();
	memcpy(&s, v, sizeof(s));
	cs_confusion_rates(&s.c, &r);
	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"threshold\": ");
	cs_json_number(&buf, s.threshold);
	appendStringInfo(&buf,
					 ", \"n\": " INT64_FORMAT ", \"tp\": " UINT64_FORMAT ", \"fp\": " UINT64_FORMAT
					 ", \"tn\": " UINT64_FORMAT ", \"fn\": " UINT64_FORMAT,
					 s.h.n,
					 s.c.tp,
					 s.c.fp,
					 s.c.tn,
					 s.c.fn);
	appendStringInfoString(&buf, ", \"accuracy\": ");
	cs_json_number(&buf, r.accuracy);
	appendStringInfoString(&buf, ", \"precision\": ");
	cs_json_number(&buf, r.precision);
	appendStringInfoString(&buf, ", \"recall\": ");
	cs_json_number(&buf, r.recall);
	appendStringInfoString(&buf, ", \"specificity\": ");
	cs_json_number(&buf, r.specificity);
	appendStringInfoString(&buf, ", \"f1\": ");
	cs_json_number(&buf, r.f1);
	appendStringInfoChar(&buf, '}');
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}
