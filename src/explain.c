/*
 * explain.c - SHAP values: cs_shap (one row per feature, then the base
 * value) and cs_shap_values (XGBoost's pred_contribs layout: one value per
 * feature in the model's feature order, the base value last).
 *
 * Values are in the model's margin units: log-odds for logistic regression
 * and boosting, probability for the forest.  Their sum is the row's margin
 * (local accuracy).  Logistic regression: exact linear SHAP against the
 * training means, phi_j = sum over the feature's design columns of
 * w_c (x_c - E[x_c]); the means come from the training profile stored with
 * the model (a standardised numeric column has mean 0 by construction; an
 * indicator or one-hot column's mean is its training frequency).  Tree
 * models: exact path-dependent TreeSHAP (src/core/shap.c).  The network:
 * KernelSHAP (src/core/attrib.c) against the first CS_KERNEL_BACKGROUND rows
 * of the reference sample stored in the model at training time, with the
 * samples argument's coalitions (0: 2 features + 2048), seeded: the same call
 * gives the same values; with at most 11 features every coalition is
 * evaluated and the values are exact.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "fmgr.h"

#include <math.h>

#include "cs_attrib.h"
#include "cs_shap.h"
#include "credit_scoring.h"

PG_FUNCTION_INFO_V1(cs_shap_values_record);
PG_FUNCTION_INFO_V1(cs_shap_values_jsonb);
PG_FUNCTION_INFO_V1(cs_shap_record);
PG_FUNCTION_INFO_V1(cs_shap_jsonb);
PG_FUNCTION_INFO_V1(cs_shap_interactions_record);

/* A call site's state: the model handle and the linear model's design means. */
typedef struct CsShapState
{
	CsModelHandle   handle;
	int64           means_for; /* model_id the means belong to */
	double         *design_mean;
	double         *phi;
	void           *workspace; /* TreeSHAP's, sized for the model once */
	const cs_model *workspace_for;
	double         *tree_input; /* the input with unseen categories read as level 0 */
} CsShapState;

/* A number from a jsonb object member (0 when absent). */
static double
json_number(JsonbContainer *c, const char *key)
{
	JsonbValue  k;
	JsonbValue *v;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	v = findJsonbValueFromContainer(c, JB_FOBJECT, &k);
	if (v == NULL || v->type != jbvNumeric)
		return 0;
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
}

/* The training mean of every design column of a logistic regression. */
static void
design_means(CsShapState *st, const cs_model *m, MemoryContext mcxt)
{
	Jsonb          *profile;
	JsonbContainer *features;
	int32           j;

	if (st->handle.model_id == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg(
					 "linear SHAP needs the model's training profile: name a registered model")));
	profile = cs_registry_profile(st->handle.model_id);
	if (profile == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" has no training profile", st->handle.ref),
				 errhint("Train it again: models keep their training distributions since 0.1.0.")));
	{
		JsonbValue  k;
		JsonbValue *v;

		k.type = jbvString;
		k.val.string.val = "features";
		k.val.string.len = 8;
		v = findJsonbValueFromContainer(&profile->root, JB_FOBJECT, &k);
		if (v == NULL || v->type != jbvBinary)
			elog(ERROR, "the training profile has no features");
		features = v->val.binary.data;
	}
	st->design_mean = MemoryContextAllocZero(mcxt, sizeof(double) * Max(m->schema.design_width, 1));
	for (j = 0; j < m->schema.n_features; j++)
	{
		const cs_feature *f = &m->schema.features[j];
		JsonbValue       *fv = getIthJsonbValueFromContainer(features, j);
		double           *mean = st->design_mean + f->design_offset;
		double            n;

		if (fv == NULL || fv->type != jbvBinary)
			elog(ERROR, "the training profile lacks feature %d", j);
		n = json_number(fv->val.binary.data, "n");
		if (n <= 0)
			continue;
		if (f->kind == CS_KIND_CATEGORICAL)
		{
			JsonbValue  k;
			JsonbValue *counts;
			int32       l;

			k.type = jbvString;
			k.val.string.val = "counts";
			k.val.string.len = 6;
			counts = findJsonbValueFromContainer(fv->val.binary.data, JB_FOBJECT, &k);
			for (l = 1; counts && counts->type == jbvBinary && l < f->n_levels; l++)
			{
				JsonbValue *c = getIthJsonbValueFromContainer(counts->val.binary.data, l);

				if (c && c->type == jbvNumeric)
					mean[l - 1] =
						DatumGetFloat8(
							DirectFunctionCall1(numeric_float8, NumericGetDatum(c->val.numeric))) /
						n;
			}
		}
		/* a standardised numeric column has training mean 0 */
		if (f->has_missing)
			mean[f->design_width - 1] = json_number(fv->val.binary.data, "missing") / n;
	}
	st->means_for = st->handle.model_id;
}

/* The coalitions KernelSHAP evaluates for a samples argument (0: the default). */
int32
cs_kernel_samples(int32 samples, int32 n_features)
{
	if (samples == 0)
		return cs_kernel_shap_default_samples(n_features);
	if (samples < CS_KERNEL_MIN_SAMPLES || samples > CS_KERNEL_MAX_SAMPLES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("samples must be between %d and %d, not %d",
						CS_KERNEL_MIN_SAMPLES,
						CS_KERNEL_MAX_SAMPLES,
						samples),
				 errhint("0 takes the default, 2 * features + 2048.")));
	return samples;
}

/* The model's reference sample, or an error naming the model. */
void
cs_require_reference(const cs_model *m, const char *ref, const char *what)
{
	if (m->reference.n_rows > 0)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("model \"%s\" keeps no reference sample, which %s needs", ref, what),
			 errhint("Models trained by credit_scoring 0.1.0 keep one; imported models and "
					 "models from earlier builds do not: train it again.")));
}

/* SHAP values of one input into phi (n_features values, then the base value). */
static void
shap_values(CsShapState *st, const cs_model *m, const double *input, int32 samples,
			MemoryContext mcxt)
{
	int32 nf = m->schema.n_features;
	int32 j;

	if (st->phi == NULL)
		st->phi = MemoryContextAlloc(mcxt, sizeof(double) * (nf + 1));
	if (m->type == CS_MODEL_LOGISTIC_REGRESSION)
	{
		double *x = palloc(sizeof(double) * Max(m->schema.design_width, 1));
		double  base = m->u.logreg.coef[0];
		int32   c;

		if (st->means_for != st->handle.model_id || st->design_mean == NULL)
			design_means(st, m, mcxt);
		cs_schema_encode(&m->schema, input, x);
		for (c = 0; c < m->schema.design_width; c++)
			base += m->u.logreg.coef[1 + c] * st->design_mean[c];
		for (j = 0; j < nf; j++)
		{
			const cs_feature *f = &m->schema.features[j];

			st->phi[j] = 0;
			for (c = f->design_offset; c < f->design_offset + f->design_width; c++)
				st->phi[j] += m->u.logreg.coef[1 + c] * (x[c] - st->design_mean[c]);
		}
		st->phi[nf] = base;
		pfree(x);
		return;
	}
	if (m->type == CS_MODEL_XGBOOST || m->type == CS_MODEL_RANDOM_FOREST)
	{
		cs_error err;

		if (st->workspace_for != m)
		{
			st->workspace = MemoryContextAlloc(mcxt, Max(cs_tree_shap_workspace(m->u.ensemble), 1));
			st->tree_input = MemoryContextAlloc(mcxt, sizeof(double) * Max(nf, 1));
			st->workspace_for = m;
		}
		/* as scoring does (model.c): an unseen category reads as level 0 */
		for (j = 0; j < nf; j++)
			st->tree_input[j] =
				m->schema.features[j].kind == CS_KIND_CATEGORICAL && input[j] < 0 ? 0 : input[j];
		if (cs_tree_shap_ws(m->u.ensemble, st->tree_input, st->phi, st->workspace, &err) != CS_OK)
			cs_raise_core_error(&err, "TreeSHAP");
		return;
	}
	if (m->type == CS_MODEL_DNN)
	{
		cs_error err;
		int32    n_bg = Min(m->reference.n_rows, CS_KERNEL_BACKGROUND);
		int32    nsamples = cs_kernel_samples(samples, nf);

		cs_require_reference(m, st->handle.ref, "KernelSHAP");
		if (cs_kernel_shap(m,
						   input,
						   m->reference.inputs,
						   NULL,
						   n_bg,
						   nsamples,
						   0,
						   cs_interrupt_pending,
						   NULL,
						   st->phi,
						   &err) != CS_OK)
			cs_raise_core_error(&err, "KernelSHAP");
		return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("SHAP values of model type %s are not available", cs_model_type_name(m->type)),
			 errhint("Logistic regression, xgboost, random_forest and dnn models are explained.")));
}

/* The call site's state, its model resolved and the input read from arg 1. */
static CsShapState *
shap_input(FunctionCallInfo fcinfo, bool jsonb_input)
{
	MemoryContext mcxt = fcinfo->flinfo->fn_mcxt;
	CsShapState  *st = fcinfo->flinfo->fn_extra;

	if (st == NULL)
		st = fcinfo->flinfo->fn_extra = MemoryContextAllocZero(mcxt, sizeof(CsShapState));
	cs_handle_by_name(&st->handle, PG_GETARG_TEXT_PP(0), mcxt);
	if (jsonb_input)
	{
		cs_jsonb_require_features(PG_GETARG_JSONB_P(1), st->handle.model, st->handle.ref);
		cs_jsonb_inputs(PG_GETARG_JSONB_P(1), st->handle.model, st->handle.input);
	}
	else
		cs_handle_record_inputs(&st->handle, PG_GETARG_HEAPTUPLEHEADER(1), mcxt);
	shap_values(st,
				st->handle.model,
				st->handle.input,
				PG_NARGS() > 2 ? PG_GETARG_INT32(2) : 0,
				mcxt);
	return st;
}

/* The SHAP values as float8[]: features in model order, the base value last. */
static Datum
shap_array(CsShapState *st)
{
	int32  nf = st->handle.model->schema.n_features;
	Datum *d = palloc(sizeof(Datum) * (nf + 1));
	int32  j;

	for (j = 0; j <= nf; j++)
		d[j] = Float8GetDatum(st->phi[j]);
	return PointerGetDatum(
		construct_array(d, nf + 1, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* The text of one input value: the number, the category, or NULL. */
Datum
cs_input_text(const cs_feature *f, double x, bool *isnull)
{
	*isnull = isnan(x);
	if (*isnull)
		return (Datum) 0;
	if (f->kind == CS_KIND_NUMERIC)
		return CStringGetTextDatum(float8out_internal(x));
	if (x < 0 || x >= f->n_levels)
		return CStringGetTextDatum("(unseen)");
	return CStringGetTextDatum(f->levels[(int) x]);
}

/* Rows (feature, value, shap), then ('(base value)', NULL, base). */
static Datum
shap_rows(FunctionCallInfo fcinfo, CsShapState *st)
{
	ReturnSetInfo  *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const cs_model *m = st->handle.model;
	int32           nf = m->schema.n_features;
	int32           j;

	InitMaterializedSRF(fcinfo, 0);
	for (j = 0; j <= nf; j++)
	{
		Datum values[3];
		bool  nulls[3] = { false, false, false };

		values[0] = CStringGetTextDatum(j < nf ? m->schema.features[j].name : "(base value)");
		if (j < nf)
			values[1] = cs_input_text(&m->schema.features[j], st->handle.input[j], &nulls[1]);
		else
			nulls[1] = true;
		values[2] = Float8GetDatum(st->phi[j]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* cs_shap_values(model text, input record) -> float8[] */
Datum
cs_shap_values_record(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(shap_array(shap_input(fcinfo, false)));
}

/* cs_shap_values(model text, input jsonb) -> float8[] */
Datum
cs_shap_values_jsonb(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(shap_array(shap_input(fcinfo, true)));
}

/* cs_shap(model text, input record) -> SETOF (feature, value, shap) */
Datum
cs_shap_record(PG_FUNCTION_ARGS)
{
	return shap_rows(fcinfo, shap_input(fcinfo, false));
}

/* cs_shap(model text, input jsonb) -> SETOF (feature, value, shap) */
Datum
cs_shap_jsonb(PG_FUNCTION_ARGS)
{
	return shap_rows(fcinfo, shap_input(fcinfo, true));
}

/*
 * cs_shap_interactions(model text, input record) -> float8[][]: XGBoost's
 * pred_interactions, (M + 1) x (M + 1), the last row and column the bias;
 * each row sums to the feature's SHAP value.
 */
Datum
cs_shap_interactions_record(PG_FUNCTION_ARGS)
{
	MemoryContext   mcxt = fcinfo->flinfo->fn_mcxt;
	CsShapState    *st = fcinfo->flinfo->fn_extra;
	const cs_model *m;
	int32           nf;
	double         *phi;
	void           *ws;
	Datum          *d;
	int             dims[2];
	int             lbs[2] = { 1, 1 };
	cs_error        err;
	int32           j;

	if (st == NULL)
		st = fcinfo->flinfo->fn_extra = MemoryContextAllocZero(mcxt, sizeof(CsShapState));
	m = cs_handle_by_name(&st->handle, PG_GETARG_TEXT_PP(0), mcxt);
	if (m->type != CS_MODEL_XGBOOST && m->type != CS_MODEL_RANDOM_FOREST)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("SHAP interaction values need a tree model, not %s",
						cs_model_type_name(m->type))));
	cs_handle_record_inputs(&st->handle, PG_GETARG_HEAPTUPLEHEADER(1), mcxt);
	nf = m->schema.n_features;
	for (j = 0; j < nf; j++)
		if (m->schema.features[j].kind == CS_KIND_CATEGORICAL && st->handle.input[j] < 0)
			st->handle.input[j] = 0;
	phi = palloc(sizeof(double) * (nf + 1) * (nf + 1));
	ws = palloc(Max(cs_tree_shap_interactions_workspace(m->u.ensemble), 1));
	if (cs_tree_shap_interactions_ws(m->u.ensemble, st->handle.input, phi, ws, &err) != CS_OK)
		cs_raise_core_error(&err, "TreeSHAP interactions");
	d = palloc(sizeof(Datum) * (nf + 1) * (nf + 1));
	for (j = 0; j < (nf + 1) * (nf + 1); j++)
		d[j] = Float8GetDatum(phi[j]);
	dims[0] = dims[1] = nf + 1;
	PG_RETURN_ARRAYTYPE_P(
		construct_md_array(d, NULL, 2, dims, lbs, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * Global importance: mean |SHAP| per position of cs_shap_values arrays, as an
 * aggregate with a flat bytea state (int64 rows, int32 length, then the
 * sums of |value|), a combine function, and PARALLEL SAFE.
 */
typedef struct ShapSums
{
	int32  vl_len_;
	int32  length;
	int64  rows;
	double sum[FLEXIBLE_ARRAY_MEMBER];
} ShapSums;

#define SHAP_SUMS_SIZE(n) (offsetof(ShapSums, sum) + sizeof(double) * (n))

PG_FUNCTION_INFO_V1(cs_shap_importance_trans);
PG_FUNCTION_INFO_V1(cs_shap_importance_combine);
PG_FUNCTION_INFO_V1(cs_shap_importance_final);

/* The state, checked: an empty bytea is no rows yet. */
static ShapSums *
shap_sums(bytea *b)
{
	ShapSums *s = (ShapSums *) b;

	if (VARSIZE(b) == VARHDRSZ)
		return NULL;
	if (VARSIZE(b) < SHAP_SUMS_SIZE(0) || s->length < 0 || VARSIZE(b) != SHAP_SUMS_SIZE(s->length))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid cs_shap_importance state")));
	return s;
}

/* Adds |values| of one array to the state (in place inside an aggregate). */
Datum
cs_shap_importance_trans(PG_FUNCTION_ARGS)
{
	bytea     *state = PG_GETARG_BYTEA_P(0);
	ArrayType *arr = PG_GETARG_ARRAYTYPE_P(1);
	ShapSums  *s;
	Datum     *elems;
	bool      *nulls;
	int        n;
	int        i;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "cs_shap_importance_trans called in non-aggregate context");
	deconstruct_array(arr, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &nulls, &n);
	s = shap_sums(state);
	if (s == NULL)
	{
		MemoryContext agg;

		AggCheckCallContext(fcinfo, &agg);
		s = MemoryContextAllocZero(agg, SHAP_SUMS_SIZE(n));
		SET_VARSIZE(s, SHAP_SUMS_SIZE(n));
		s->length = n;
	}
	else if (s->length != n)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("SHAP arrays of %d and %d values in one aggregate", s->length, n),
				 errhint("Aggregate the values of one model at a time.")));
	for (i = 0; i < n; i++)
		if (!nulls[i])
			s->sum[i] += fabs(DatumGetFloat8(elems[i]));
	s->rows++;
	PG_RETURN_BYTEA_P((bytea *) s);
}

/* Adds two states. */
Datum
cs_shap_importance_combine(PG_FUNCTION_ARGS)
{
	ShapSums     *a = shap_sums(PG_GETARG_BYTEA_P(0));
	ShapSums     *b = shap_sums(PG_GETARG_BYTEA_P(1));
	MemoryContext agg;
	ShapSums     *out;
	int           i;

	if (!AggCheckCallContext(fcinfo, &agg))
		elog(ERROR, "cs_shap_importance_combine called in non-aggregate context");
	if (a == NULL || b == NULL)
	{
		ShapSums *one = a ? a : b;

		if (one == NULL)
			PG_RETURN_BYTEA_P(PG_GETARG_BYTEA_P(0));
		out = MemoryContextAlloc(agg, VARSIZE(one));
		memcpy(out, one, VARSIZE(one));
		PG_RETURN_BYTEA_P((bytea *) out);
	}
	if (a->length != b->length)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("SHAP arrays of %d and %d values in one aggregate", a->length, b->length)));
	out = MemoryContextAlloc(agg, VARSIZE(a));
	memcpy(out, a, VARSIZE(a));
	for (i = 0; i < a->length; i++)
		out->sum[i] += b->sum[i];
	out->rows += b->rows;
	PG_RETURN_BYTEA_P((bytea *) out);
}

/* Mean |SHAP| per position; NULL over no rows. */
Datum
cs_shap_importance_final(PG_FUNCTION_ARGS)
{
	ShapSums *s = shap_sums(PG_GETARG_BYTEA_P(0));
	Datum    *d;
	int       i;

	if (s == NULL || s->rows == 0)
		PG_RETURN_NULL();
	d = palloc(sizeof(Datum) * Max(s->length, 1));
	for (i = 0; i < s->length; i++)
		d[i] = Float8GetDatum(s->sum[i] / (double) s->rows);
	PG_RETURN_ARRAYTYPE_P(
		construct_array(d, s->length, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}
