/*
 * curves.c - the curves of a model's evaluation as rows a BI tool plots
 * directly: ROC, precision-recall, calibration (reliability) and lift/gains
 * by decile.
 *
 * Each comes in two forms that give the same rows: (model text, relation
 * regclass) scores the relation as cs_evaluate does, the label from the
 * model's target; (scores bytea) takes the state of cs_scores_partial(score,
 * label), so that any score column of any query can be plotted.
 */
#include "postgres.h"

#include <math.h>

#include "funcapi.h"
#include "utils/builtins.h"

#include "evaluation.h"

PG_FUNCTION_INFO_V1(cs_roc_curve_relation);
PG_FUNCTION_INFO_V1(cs_roc_curve_scores);
PG_FUNCTION_INFO_V1(cs_pr_curve_relation);
PG_FUNCTION_INFO_V1(cs_pr_curve_scores);
PG_FUNCTION_INFO_V1(cs_calibration_relation);
PG_FUNCTION_INFO_V1(cs_calibration_scores);
PG_FUNCTION_INFO_V1(cs_lift_relation);
PG_FUNCTION_INFO_V1(cs_lift_scores);

#define MAX_BINS  10000
#define N_DECILES 10

/*
 * The sorted rows of the call's input: arguments (model, relation) when
 * from_relation, else a scores state in argument 0.  NULL when there are none.
 */
static cs_scored *
input_rows(FunctionCallInfo fcinfo, bool from_relation, const char *fname, size_t *n)
{
	cs_scored *rows;

	if (from_relation)
	{
		CsScoredRelation sr;

		cs_score_relation(PG_GETARG_TEXT_PP(0),
						  PG_GETARG_OID(1),
						  NULL,
						  fcinfo->flinfo->fn_mcxt,
						  &sr);
		rows = sr.rows;
		*n = sr.n;
	}
	else
		rows = cs_scores_state_rows(PG_GETARG_BYTEA_P(0), n);
	if (rows != NULL)
		cs_scored_sort(rows, *n);
	return *n > 0 ? rows : NULL;
}

/* A float8 datum; NULL for NaN (undefined), while +inf stays. */
static Datum
number(double v, bool *isnull)
{
	*isnull = isnan(v);
	return Float8GetDatum(v);
}

/* The cut points of the input, or NULL (and 0) without rows. */
static cs_cut *
input_cuts(FunctionCallInfo fcinfo, bool from_relation, const char *fname, size_t *n_cuts,
		   uint64 *pos, uint64 *neg)
{
	size_t     n;
	cs_scored *rows = input_rows(fcinfo, from_relation, fname, &n);
	cs_cut    *cuts;
	cs_cut    *copy;
	cs_error   err;

	*n_cuts = 0;
	if (rows == NULL)
		return NULL;
	if (cs_cuts_sorted(rows, n, &cuts, n_cuts, &err) != CS_OK)
		cs_raise_core_error(&err, fname);
	copy = MemoryContextAllocHuge(CurrentMemoryContext, *n_cuts * sizeof(cs_cut));
	memcpy(copy, cuts, *n_cuts * sizeof(cs_cut));
	cs_free(cuts);
	*pos = copy[*n_cuts - 1].tp;
	*neg = copy[*n_cuts - 1].fp;
	return copy;
}

/* ROC rows (fpr, tpr, threshold), from the point that predicts nothing. */
static Datum
roc_curve(FunctionCallInfo fcinfo, bool from_relation)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	size_t         n_cuts;
	uint64         pos = 0;
	uint64         neg = 0;
	cs_cut        *cuts = input_cuts(fcinfo, from_relation, "cs_roc_curve", &n_cuts, &pos, &neg);
	size_t         k;

	InitMaterializedSRF(fcinfo, 0);
	for (k = 0; k < n_cuts; k++)
	{
		Datum values[3];
		bool  nulls[3];

		values[0] = number(neg ? (double) cuts[k].fp / (double) neg : NAN, &nulls[0]);
		values[1] = number(pos ? (double) cuts[k].tp / (double) pos : NAN, &nulls[1]);
		values[2] = number(cuts[k].threshold, &nulls[2]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* Precision-recall rows (recall, precision, threshold), from recall 0 (precision 1). */
static Datum
pr_curve(FunctionCallInfo fcinfo, bool from_relation)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	size_t         n_cuts;
	uint64         pos = 0;
	uint64         neg = 0;
	cs_cut        *cuts = input_cuts(fcinfo, from_relation, "cs_pr_curve", &n_cuts, &pos, &neg);
	size_t         k;

	InitMaterializedSRF(fcinfo, 0);
	for (k = 0; k < n_cuts; k++)
	{
		Datum  values[3];
		bool   nulls[3];
		uint64 predicted = cuts[k].tp + cuts[k].fp;

		values[0] = number(pos ? (double) cuts[k].tp / (double) pos : NAN, &nulls[0]);
		values[1] = number(predicted ? (double) cuts[k].tp / (double) predicted : 1.0, &nulls[1]);
		values[2] = number(cuts[k].threshold, &nulls[2]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* Reliability rows (bin, lower, upper, mean_predicted, observed_rate, count). */
static Datum
calibration(FunctionCallInfo fcinfo, bool from_relation, int bins)
{
	ReturnSetInfo      *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	size_t              n = 0;
	cs_scored          *rows;
	cs_calibration_bin *out;
	cs_error            err;
	int                 b;

	if (bins < 1 || bins > MAX_BINS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bins must be between 1 and %d, not %d", MAX_BINS, bins)));
	rows = input_rows(fcinfo, from_relation, "cs_calibration", &n);
	out = palloc(sizeof(cs_calibration_bin) * bins);
	if (cs_calibration(rows, n, bins, out, &err) != CS_OK)
		cs_raise_core_error(&err, "cs_calibration");
	InitMaterializedSRF(fcinfo, 0);
	for (b = 0; b < bins && n > 0; b++)
	{
		Datum values[6];
		bool  nulls[6] = { false, false, false, false, false, false };

		values[0] = Int32GetDatum(b + 1);
		values[1] = Float8GetDatum(out[b].lower);
		values[2] = Float8GetDatum(out[b].upper);
		values[3] = number(out[b].mean_score, &nulls[3]);
		values[4] = number(out[b].observed_rate, &nulls[4]);
		values[5] = Int64GetDatum((int64) out[b].count);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* Lift rows (decile, count, positives, rate, lift, cumulative_gain, min_score, max_score). */
static Datum
lift(FunctionCallInfo fcinfo, bool from_relation)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	size_t         n = 0;
	cs_scored     *rows = input_rows(fcinfo, from_relation, "cs_lift", &n);
	cs_lift_group  out[N_DECILES];
	cs_error       err;
	int            g;

	InitMaterializedSRF(fcinfo, 0);
	if (rows == NULL)
		return (Datum) 0;
	if (cs_lift_sorted(rows, n, N_DECILES, out, &err) != CS_OK)
		cs_raise_core_error(&err, "cs_lift");
	for (g = 0; g < N_DECILES; g++)
	{
		Datum values[8];
		bool  nulls[8] = { false, false, false, false, false, false, false, false };

		values[0] = Int32GetDatum(g + 1);
		values[1] = Int64GetDatum((int64) out[g].count);
		values[2] = Int64GetDatum((int64) out[g].positives);
		values[3] = number(out[g].rate, &nulls[3]);
		values[4] = number(out[g].lift, &nulls[4]);
		values[5] = number(out[g].cumulative_gain, &nulls[5]);
		values[6] = number(out[g].min_score, &nulls[6]);
		values[7] = number(out[g].max_score, &nulls[7]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* cs_roc_curve(model text, relation regclass) */
Datum
cs_roc_curve_relation(PG_FUNCTION_ARGS)
{
	return roc_curve(fcinfo, true);
}

/* cs_roc_curve(scores bytea) */
Datum
cs_roc_curve_scores(PG_FUNCTION_ARGS)
{
	return roc_curve(fcinfo, false);
}

/* cs_pr_curve(model text, relation regclass) */
Datum
cs_pr_curve_relation(PG_FUNCTION_ARGS)
{
	return pr_curve(fcinfo, true);
}

/* cs_pr_curve(scores bytea) */
Datum
cs_pr_curve_scores(PG_FUNCTION_ARGS)
{
	return pr_curve(fcinfo, false);
}

/* cs_calibration(model text, relation regclass, bins integer) */
Datum
cs_calibration_relation(PG_FUNCTION_ARGS)
{
	return calibration(fcinfo, true, PG_GETARG_INT32(2));
}

/* cs_calibration(scores bytea, bins integer) */
Datum
cs_calibration_scores(PG_FUNCTION_ARGS)
{
	return calibration(fcinfo, false, PG_GETARG_INT32(1));
}

/* cs_lift(model text, relation regclass) */
Datum
cs_lift_relation(PG_FUNCTION_ARGS)
{
	return lift(fcinfo, true);
}

/* cs_lift(scores bytea) */
Datum
cs_lift_scores(PG_FUNCTION_ARGS)
{
	return lift(fcinfo, false);
}
