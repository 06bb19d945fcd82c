/*
 * search.c - hyperparameter search: grids, random draws, and the metric
 * that ranks them.
 *
 * In cs_train's params, a list value is a grid axis:
 *     {"C": [0.01, 0.1, 1], "penalty": "l2", "cv_folds": 5, "metric": "auc"}
 * Every combination (axes in name order, the last varying fastest, as
 * scikit-learn's ParameterGrid) is scored by stratified k-fold
 * cross-validation on the training split; with "search": "random" and
 * "n_iter", that many combinations are drawn without replacement, seeded.
 * The worker (train.c) runs the folds, ranks by the mean fold score (ties to
 * the first) and refits the winner on the whole training split.  Unlike
 * PostgresML, folds are stratified and the winner is refitted, and AUC is
 * computed on scores, not labels.
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include <math.h>

#include "credit_scoring.h"

#define MAX_COMBINATIONS 10000

/* One key of params: its name and its values (one for a scalar). */
typedef struct ParamAxis
{
	char        *key;
	int          n;
	JsonbValue **values;
} ParamAxis;

/* Appends a scalar JSON value. */
static void
append_scalar(StringInfo buf, JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			appendStringInfoString(buf, "null");
			break;
		case jbvBool:
			appendStringInfoString(buf, v->val.boolean ? "true" : "false");
			break;
		case jbvNumeric:
			appendStringInfoString(buf,
								   DatumGetCString(
									   DirectFunctionCall1(numeric_out,
														   NumericGetDatum(v->val.numeric))));
			break;
		case jbvString:
			escape_json(buf, pnstrdup(v->val.string.val, v->val.string.len));
			break;
		case jbvBinary:
			/* an object value (monotone_constraints) is one value, not an axis */
			appendStringInfoString(buf,
								   JsonbToCString(NULL, v->val.binary.data, v->val.binary.len));
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("hyperparameter values must be numbers, strings, booleans or lists of "
							"them")));
	}
}

/* The values of a list-valued key, or ERROR when it is empty or nested. */
static void
axis_values(ParamAxis *axis, JsonbValue *list)
{
	JsonbIterator     *it = JsonbIteratorInit(list->val.binary.data);
	JsonbValue         v;
	JsonbIteratorToken tok;

	axis->n = 0;
	axis->values = palloc(sizeof(JsonbValue *) * 16);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		if (v.type == jbvBinary && strcmp(axis->key, "hidden_layers") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("hyperparameter \"%s\" has a nested list or object", axis->key)));
		if (axis->n > 0 && axis->n % 16 == 0)
			axis->values = repalloc(axis->values, sizeof(JsonbValue *) * (axis->n + 16));
		axis->values[axis->n] = palloc(sizeof(JsonbValue));
		*axis->values[axis->n++] = v;
	}
	if (axis->n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hyperparameter \"%s\" has an empty list of values", axis->key),
				 errhint("A list is a grid axis: give at least one value.")));
}

/* Compares axes by key, for the grid's name order. */
static int
axis_cmp(const void *a, const void *b)
{
	return strcmp(((const ParamAxis *) a)->key, ((const ParamAxis *) b)->key);
}

/* A control of the search given as an integer within [min, max]. */
static int
control_int(JsonbValue *v, const char *key, int min, int max)
{
	double d;

	if (v->type != jbvNumeric)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" must be an integer between %d and %d", key, min, max)));
	d = DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
	if (d != floor(d) || d < min || d > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" must be an integer between %d and %d, not %g", key, min, max, d)));
	return (int) d;
}

/* Reads the search controls; returns the remaining keys as axes. */
static ParamAxis *
read_params(Jsonb *params, CsSearch *out, int *n_axes, int *n_iter)
{
	JsonbIterator     *it = JsonbIteratorInit(&params->root);
	JsonbValue         v;
	JsonbIteratorToken tok;
	ParamAxis         *axes = palloc0(sizeof(ParamAxis) * Max(JB_ROOT_COUNT(params), 1));
	char              *key = NULL;

	*n_axes = 0;
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			continue;
		}
		if (tok != WJB_VALUE)
			continue;
		if (strcmp(key, "search") == 0)
		{
			char *how = v.type == jbvString ? pnstrdup(v.val.string.val, v.val.string.len) : "";

			if (strcmp(how, "grid") != 0 && strcmp(how, "random") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("\"search\" must be \"grid\" or \"random\"")));
			out->active = true;
			out->random = strcmp(how, "random") == 0;
		}
		else if (strcmp(key, "n_iter") == 0)
			*n_iter = control_int(&v, "n_iter", 1, MAX_COMBINATIONS);
		else if (strcmp(key, "cv_folds") == 0)
			out->folds = control_int(&v, "cv_folds", 2, 100);
		else if (strcmp(key, "metric") == 0)
		{
			out->metric = v.type == jbvString ? pnstrdup(v.val.string.val, v.val.string.len) : "";
			if (strcmp(out->metric, "auc") != 0 && strcmp(out->metric, "log_loss") != 0 &&
				strcmp(out->metric, "brier") != 0 && strcmp(out->metric, "accuracy") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unknown search metric \"%s\"", out->metric),
						 errhint("Known metrics: auc, log_loss, brier, accuracy.")));
		}
		else
		{
			ParamAxis *axis = &axes[(*n_axes)++];

			axis->key = key;
			/* a network's layer list is one value; a list of layer lists is an axis */
			if (strcmp(key, "hidden_layers") == 0 && v.type == jbvBinary &&
				JsonContainerIsArray(v.val.binary.data) &&
				(JsonContainerSize(v.val.binary.data) == 0 ||
				 getIthJsonbValueFromContainer(v.val.binary.data, 0)->type != jbvBinary))
			{
				axis->n = 1;
				axis->values = palloc(sizeof(JsonbValue *));
				axis->values[0] = palloc(sizeof(JsonbValue));
				*axis->values[0] = v;
			}
			else if (v.type == jbvBinary && JsonContainerIsArray(v.val.binary.data))
			{
				if (strcmp(key, "seed") == 0)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("hyperparameter \"seed\" cannot be a grid axis"),
							 errdetail("The seed fixes the split that every combination is "
									   "scored on.")));
				axis_values(axis, &v);
				out->active = true;
			}
			else
			{
				axis->n = 1;
				axis->values = palloc(sizeof(JsonbValue *));
				axis->values[0] = palloc(sizeof(JsonbValue));
				*axis->values[0] = v;
			}
		}
	}
	return axes;
}

/* The combination of grid index idx (the last axis varying fastest) as JSON. */
static char *
combination_json(ParamAxis *axes, int n_axes, int64 idx)
{
	StringInfoData buf;
	int            a;
	int           *pick = palloc(sizeof(int) * Max(n_axes, 1));

	for (a = n_axes - 1; a >= 0; a--)
	{
		pick[a] = (int) (idx % axes[a].n);
		idx /= axes[a].n;
	}
	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (a = 0; a < n_axes; a++)
	{
		if (a > 0)
			appendStringInfoString(&buf, ", ");
		escape_json(&buf, axes[a].key);
		appendStringInfoString(&buf, ": ");
		append_scalar(&buf, axes[a].values[pick[a]]);
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/* Names the combination being validated in an error's context. */
static void
combination_context(void *arg)
{
	errcontext("hyperparameter combination %s", (const char *) arg);
}

/* Parses params into a search (or a single fit). */
void
cs_search_parse(cs_model_type type, Jsonb *params, CsSearch *out)
{
	ParamAxis *axes;
	int        n_axes;
	int        n_iter = 10;
	int64      size = 1;
	int64     *pick;
	int        a;
	int        c;

	memset(out, 0, sizeof(*out));
	out->metric = "auc";
	out->folds = 5;
	if (params == NULL)
		params = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
	if (!JB_ROOT_IS_OBJECT(params) || JB_ROOT_IS_SCALAR(params))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("params must be a jsonb object")));
	axes = read_params(params, out, &n_axes, &n_iter);
	qsort(axes, n_axes, sizeof(ParamAxis), axis_cmp);
	for (a = 0; a < n_axes; a++)
	{
		size *= axes[a].n;
		if (size > MAX_COMBINATIONS)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("the grid has more than %d combinations", MAX_COMBINATIONS),
					 errhint("Use \"search\": \"random\" with \"n_iter\", or fewer values.")));
	}
	out->higher_is_better = strcmp(out->metric, "auc") == 0 || strcmp(out->metric, "accuracy") == 0;

	/* the combinations: all of the grid, or n_iter of them drawn seeded */
	pick = palloc(sizeof(int64) * size);
	for (c = 0; c < size; c++)
		pick[c] = c;
	out->n_combos = (int) size;
	if (out->random && n_iter < size)
	{
		cs_rng rng;
		uint64 seed = 42;
		int    s;

		for (a = 0; a < n_axes; a++)
		{
			if (strcmp(axes[a].key, "seed") == 0 && axes[a].values[0]->type == jbvNumeric)
				seed = (uint64) DatumGetInt64(
					DirectFunctionCall1(numeric_int8,
										NumericGetDatum(axes[a].values[0]->val.numeric)));
		}
		cs_rng_seed(&rng, seed ^ 0x5EA4C4ULL);
		for (s = 0; s < n_iter; s++)
		{
			int64 j = s + (int64) (cs_rng_uniform(&rng) * (double) (size - s));
			int64 tmp = pick[s];

			pick[s] = pick[j];
			pick[j] = tmp;
		}
		out->n_combos = n_iter;
	}

	out->combo_json = palloc(sizeof(char *) * out->n_combos);
	out->combos = palloc(sizeof(CsParams) * out->n_combos);
	for (c = 0; c < out->n_combos; c++)
	{
		ErrorContextCallback cb;

		out->combo_json[c] = combination_json(axes, n_axes, pick[c]);
		cb.callback = combination_context;
		cb.arg = out->combo_json[c];
		cb.previous = error_context_stack;
		if (out->active)
			error_context_stack = &cb;
		cs_params_parse(type,
						DatumGetJsonbP(
							DirectFunctionCall1(jsonb_in, CStringGetDatum(out->combo_json[c]))),
						&out->combos[c]);
		error_context_stack = cb.previous;
	}
}

/* A metric of scores p against labels y, for ranking combinations. */
double
cs_search_metric(const CsSearch *s, const double *p, const uint8_t *y, size_t n)
{
	if (strcmp(s->metric, "log_loss") == 0)
		return cs_log_loss(p, y, n);
	if (strcmp(s->metric, "brier") == 0)
		return cs_brier(p, y, n);
	if (strcmp(s->metric, "accuracy") == 0)
		return cs_accuracy(p, y, n, 0.5);
	return cs_auc(p, y, n);
}
