/*
 * inspect.c - what a model is made of, for people and BI tools:
 * cs_model_info (the feature schema and training metadata as jsonb) and
 * cs_coefficients (a linear model's terms as rows).
 */
#include "postgres.h"

#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/jsonb.h"

#include <math.h>

#include "cs_trees.h"
#include "credit_scoring.h"

PG_FUNCTION_INFO_V1(cs_model_info);
PG_FUNCTION_INFO_V1(cs_coefficients);

/* The model a text reference names, pinned for the current query. */
static const cs_model *
model_by_ref(FunctionCallInfo fcinfo, text *ref)
{
	CsModelHandle *h = palloc0(sizeof(CsModelHandle));

	return cs_handle_by_name(h, ref, fcinfo->flinfo->fn_mcxt);
}

/* Appends a double as JSON (null when not finite). */
static void
append_number(StringInfo buf, double v)
{
	if (isfinite(v))
		appendStringInfoString(buf, float8out_internal(v));
	else
		appendStringInfoString(buf, "null");
}

/* cs_model_info(model text) -> jsonb */
Datum
cs_model_info(PG_FUNCTION_ARGS)
{
	const cs_model *m = model_by_ref(fcinfo, PG_GETARG_TEXT_PP(0));
	StringInfoData  buf;
	int             i;
	int             l;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"model_type\": ");
	cs_json_append_string(&buf, cs_model_type_name(m->type));
	appendStringInfoString(&buf, ", \"target\": ");
	cs_json_append_string(&buf, m->meta.target);
	appendStringInfoString(&buf, ", \"positive\": ");
	cs_json_append_string(&buf, m->meta.positive);
	appendStringInfo(&buf,
					 ", \"seed\": " UINT64_FORMAT ", \"threads\": %d, \"n_train\": " UINT64_FORMAT
					 ", \"n_valid\": " UINT64_FORMAT ", \"n_test\": " UINT64_FORMAT
					 ", \"features\": [",
					 m->meta.seed,
					 m->meta.threads,
					 m->meta.n_train,
					 m->meta.n_valid,
					 m->meta.n_test);
	for (i = 0; i < m->schema.n_features; i++)
	{
		const cs_feature *f = &m->schema.features[i];

		appendStringInfoString(&buf, i ? ", {\"name\": " : "{\"name\": ");
		cs_json_append_string(&buf, f->name);
		appendStringInfo(&buf,
						 ", \"kind\": \"%s\", \"has_missing\": %s",
						 f->kind == CS_KIND_NUMERIC ? "numeric" : "categorical",
						 f->has_missing ? "true" : "false");
		if (f->kind == CS_KIND_NUMERIC)
		{
			appendStringInfoString(&buf, ", \"mean\": ");
			append_number(&buf, f->mean);
			appendStringInfoString(&buf, ", \"sd\": ");
			append_number(&buf, f->sd);
		}
		else
		{
			appendStringInfoString(&buf, ", \"levels\": [");
			for (l = 0; l < f->n_levels; l++)
			{
				if (l)
					appendStringInfoString(&buf, ", ");
				cs_json_append_string(&buf, f->levels[l]);
			}
			appendStringInfoChar(&buf, ']');
		}
		appendStringInfoChar(&buf, '}');
	}
	appendStringInfoChar(&buf, ']');
	if (m->type == CS_MODEL_LOGISTIC_REGRESSION)
		appendStringInfo(&buf, ", \"iterations\": %d", m->u.logreg.n_iter);
	appendStringInfoChar(&buf, '}');
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

/* cs_coefficients(model text) -> SETOF (term text, coefficient float8) */
Datum
cs_coefficients(PG_FUNCTION_ARGS)
{
	ReturnSetInfo  *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const cs_model *m = model_by_ref(fcinfo, PG_GETARG_TEXT_PP(0));
	int             j;

	if (m->type != CS_MODEL_LOGISTIC_REGRESSION)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("model type %s has no coefficients", cs_model_type_name(m->type))));
	InitMaterializedSRF(fcinfo, 0);
	for (j = 0; j <= m->u.logreg.p; j++)
	{
		Datum values[2];
		bool  nulls[2] = { false, false };
		char  name[256];

		if (j == 0)
			strlcpy(name, "(intercept)", sizeof(name));
		else
			cs_schema_design_name(&m->schema, j - 1, name, sizeof(name));
		values[0] = CStringGetTextDatum(name);
		values[1] = Float8GetDatum(m->u.logreg.coef[j]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(cs_feature_importance);

/*
 * cs_feature_importance(model text) -> SETOF (feature, importance, gain,
 * cover, splits): for tree models the total gain (boosting; the forest's is
 * the mean decrease in impurity) and cover of the splits on each feature,
 * importance being the gain normalised to sum to 1; for logistic regression
 * the sum of |weight| over the feature's standardised design columns.
 */
Datum
cs_feature_importance(PG_FUNCTION_ARGS)
{
	ReturnSetInfo  *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const cs_model *m = model_by_ref(fcinfo, PG_GETARG_TEXT_PP(0));
	int32           nf = m->schema.n_features;
	double         *gain = palloc0(sizeof(double) * Max(nf, 1));
	double         *cover = palloc0(sizeof(double) * Max(nf, 1));
	int64_t        *splits = palloc0(sizeof(int64_t) * Max(nf, 1));
	double          total = 0;
	int32           j;

	if (m->type == CS_MODEL_LOGISTIC_REGRESSION)
	{
		for (j = 0; j < nf; j++)
		{
			const cs_feature *f = &m->schema.features[j];
			int32             c;

			for (c = 0; c < f->design_width; c++)
				gain[j] += fabs(m->u.logreg.coef[1 + f->design_offset + c]);
		}
	}
	else if (m->type == CS_MODEL_DNN)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("model type dnn has no built-in feature importance"),
				 errhint("Use SHAP values for the network's explanations.")));
	else
		cs_ensemble_importance(m->u.ensemble, gain, cover, splits);
	for (j = 0; j < nf; j++)
		total += gain[j];
	InitMaterializedSRF(fcinfo, 0);
	for (j = 0; j < nf; j++)
	{
		Datum values[5];
		bool  nulls[5] = { false, false, false, false, false };

		values[0] = CStringGetTextDatum(m->schema.features[j].name);
		values[1] = Float8GetDatum(total > 0 ? gain[j] / total : 0.0);
		values[2] = Float8GetDatum(gain[j]);
		values[3] = Float8GetDatum(cover[j]);
		values[4] = Int64GetDatum(splits[j]);
		if (m->type == CS_MODEL_LOGISTIC_REGRESSION)
			nulls[3] = nulls[4] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
