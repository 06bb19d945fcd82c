/*
 * evaluation.h - declarations shared by the evaluation glue:
 *   aggregates.c  metric aggregates over (score, label): flat bytea states,
 *                 in-place transition, combine, _partial/_merge pairs
 *   curves.c      ROC, precision-recall, calibration and lift as rows
 *   evaluate.c    scoring a relation; cs_evaluate and cs_metrics as jsonb
 * The numerics are in src/core (cs_metrics.h).
 */
#ifndef CS_EVALUATION_H
#define CS_EVALUATION_H

#include "credit_scoring.h"
#include "cs_metrics.h"

/* ------------------------------------------------------------ aggregates.c */

/*
 * The rows held by a scores state (from cs_scores_partial, cs_auc_partial or
 * cs_ks_partial), validated and unpacked into a palloc'd array (weights 1);
 * ERROR when the bytea is not such a state.  NULL, *n 0, for no rows.
 */
extern cs_scored *cs_scores_state_rows(bytea *state, size_t *n);

/* ERROR unless 0 <= threshold <= 1. */
extern void cs_check_threshold(double threshold);

/* ------------------------------------------------------------- evaluate.c */

/* Appends a double as a JSON number in its shortest exact form (null when not finite). */
extern void cs_json_number(StringInfo buf, double v);

/* A relation scored by a model, with the label taken from the model's target. */
typedef struct CsScoredRelation
{
	cs_scored *rows; /* palloc'd (huge), in the order read */
	size_t     n;
	int64      n_skipped; /* rows whose target is NULL */
	char      *model;     /* the model's name */
	int32      version;   /* and the version the reference resolved to */
	char      *target;
	char      *positive;
} CsScoredRelation;

/*
 * Scores every row of relid with the model named by ref (cs_predict's
 * resolution), as the calling role; weights are amount_column's values (NULL:
 * 1 per row).  mcxt pins the model.  ERROR when the relation lacks the target
 * or the amount column, when the target holds more than the model's two
 * classes, or when an amount is NULL or negative.
 */
extern void cs_score_relation(text *ref, Oid relid, const char *amount_column, MemoryContext mcxt,
							  CsScoredRelation *out);

#endif /* CS_EVALUATION_H */
