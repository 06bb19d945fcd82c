/*
 * request.c - model types, hyperparameters and small JSON helpers.
 *
 * Hyperparameters are validated twice with the same code: by cs_train in the
 * caller's session, so a mistake is reported at once, and by the worker.
 * Unknown keys are errors: a misspelt "max_iters" silently ignored would
 * train a different model than the analyst asked for.
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include <math.h>

#include "credit_scoring.h"

#define CS_DEFAULT_SEED 42

/* Model type by name; ERROR naming the known types when unknown. */
cs_model_type
cs_model_type_from_name(const char *name)
{
	if (strcmp(name, "logistic_regression") == 0)
		return CS_MODEL_LOGISTIC_REGRESSION;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown model type \"%s\"", name),
			 errhint("Known model types: logistic_regression.")));
	return 0; /* keep the compiler quiet */
}

/* A jsonb object's member (NULL when absent). */
static JsonbValue *
json_member(Jsonb *jb, const char *key)
{
	JsonbValue k;

	if (jb == NULL || !JB_ROOT_IS_OBJECT(jb))
		return NULL;
	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	return findJsonbValueFromContainer(&jb->root, JB_FOBJECT, &k);
}

/* A hyperparameter as a number; ERROR when it is not one. */
static double
param_number(JsonbValue *v, const char *key)
{
	if (v->type != jbvNumeric)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hyperparameter \"%s\" must be a number", key)));
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
}

/* A hyperparameter as an integer within [min, max]. */
static int64
param_int(JsonbValue *v, const char *key, int64 min, int64 max)
{
	double d = param_number(v, key);

	if (d != floor(d) || d < (double) min || d > (double) max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hyperparameter \"%s\" must be an integer between " INT64_FORMAT
						" and " INT64_FORMAT ", not %g",
						key,
						min,
						max,
						d)));
	return (int64) d;
}

/* Checks that every key of params is one of known (NULL-terminated). */
static void
check_known_keys(Jsonb *params, const char *const *known, const char *type_name)
{
	JsonbIterator     *it;
	JsonbValue         v;
	JsonbIteratorToken tok;
	StringInfoData     list;
	int                i;

	initStringInfo(&list);
	for (i = 0; known[i]; i++)
		appendStringInfo(&list, "%s%s", i ? ", " : "", known[i]);

	it = JsonbIteratorInit(&params->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char *key;
		bool  ok = false;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(v.val.string.val, v.val.string.len);
		for (i = 0; known[i]; i++)
			ok |= strcmp(key, known[i]) == 0;
		if (!ok)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown hyperparameter \"%s\" for model type %s", key, type_name),
					 errhint("Known hyperparameters: %s.", list.data)));
	}
}

/* Validates params (a jsonb object) for a model type; ERROR on bad keys/values. */
void
cs_params_parse(cs_model_type type, Jsonb *params, CsParams *out)
{
	static const char *const logreg_keys[] = { "C", "penalty", "max_iter", "tol", "seed", NULL };
	JsonbValue              *v;

	if (params != NULL && !JB_ROOT_IS_OBJECT(params))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("params must be a jsonb object")));
	memset(out, 0, sizeof(*out));
	out->type = type;
	out->seed = CS_DEFAULT_SEED;
	if (params && (v = json_member(params, "seed")) != NULL)
		out->seed = (uint64) param_int(v, "seed", 0, PG_INT64_MAX);

	switch (type)
	{
		case CS_MODEL_LOGISTIC_REGRESSION:
			out->logreg.C = 1.0;
			out->logreg.penalty = 1;
			out->logreg.max_iter = 100;
			out->logreg.tol = 1e-8;
			if (params == NULL)
				break;
			check_known_keys(params, logreg_keys, "logistic_regression");
			if ((v = json_member(params, "C")) != NULL)
			{
				out->logreg.C = param_number(v, "C");
				if (!(out->logreg.C > 0) || isinf(out->logreg.C))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("hyperparameter \"C\" must be a positive finite number")));
			}
			if ((v = json_member(params, "penalty")) != NULL)
			{
				char *pen =
					v->type == jbvString ? pnstrdup(v->val.string.val, v->val.string.len) : NULL;

				if (v->type == jbvNull || (pen && strcmp(pen, "none") == 0))
					out->logreg.penalty = 0;
				else if (pen && strcmp(pen, "l2") == 0)
					out->logreg.penalty = 1;
				else
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("hyperparameter \"penalty\" must be \"l2\" or \"none\"")));
			}
			if ((v = json_member(params, "max_iter")) != NULL)
				out->logreg.max_iter = (int) param_int(v, "max_iter", 1, 100000);
			if ((v = json_member(params, "tol")) != NULL)
			{
				out->logreg.tol = param_number(v, "tol");
				if (!(out->logreg.tol > 0 && out->logreg.tol < 1))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("hyperparameter \"tol\" must be in (0, 1)")));
			}
			break;
	}
}

/* The effective hyperparameters as a JSON object. */
char *
cs_params_json(const CsParams *p)
{
	StringInfoData buf;

	initStringInfo(&buf);
	switch (p->type)
	{
		case CS_MODEL_LOGISTIC_REGRESSION:
			appendStringInfo(&buf,
							 "{\"C\": %s, \"penalty\": \"%s\", \"max_iter\": %d, "
							 "\"tol\": %s, \"seed\": " UINT64_FORMAT "}",
							 float8out_internal(p->logreg.C),
							 p->logreg.penalty ? "l2" : "none",
							 p->logreg.max_iter,
							 float8out_internal(p->logreg.tol),
							 p->seed);
			break;
	}
	return buf.data;
}

/* A jsonb object's member as text (NULL when absent or JSON null). */
char *
cs_json_get_text(Jsonb *jb, const char *key)
{
	JsonbValue *v = json_member(jb, key);

	if (v == NULL || v->type == jbvNull)
		return NULL;
	if (v->type == jbvString)
		return pnstrdup(v->val.string.val, v->val.string.len);
	if (v->type == jbvNumeric)
		return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	if (v->type == jbvBool)
		return pstrdup(v->val.boolean ? "true" : "false");
	return JsonbToCString(NULL, v->val.binary.data, v->val.binary.len);
}

/* A jsonb object's member as a jsonb value (NULL when absent). */
Jsonb *
cs_json_get_jsonb(Jsonb *jb, const char *key)
{
	JsonbValue *v = json_member(jb, key);

	return v ? JsonbValueToJsonb(v) : NULL;
}

/* A jsonb object's member that is an array of strings; NULL when absent. */
List *
cs_json_get_text_list(Jsonb *jb, const char *key)
{
	Jsonb             *arr = cs_json_get_jsonb(jb, key);
	List              *out = NIL;
	JsonbIterator     *it;
	JsonbValue         v;
	JsonbIteratorToken tok;

	if (arr == NULL || !JB_ROOT_IS_ARRAY(arr))
		return NIL;
	it = JsonbIteratorInit(&arr->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_ELEM && v.type == jbvString)
			out = lappend(out, pnstrdup(v.val.string.val, v.val.string.len));
	}
	return out;
}

/* Appends a JSON-quoted string. */
void
cs_json_append_string(StringInfo buf, const char *s)
{
	escape_json(buf, s);
}
