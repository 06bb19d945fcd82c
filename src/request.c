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
	if (strcmp(name, "xgboost") == 0)
		return CS_MODEL_XGBOOST;
	if (strcmp(name, "random_forest") == 0)
		return CS_MODEL_RANDOM_FOREST;
	if (strcmp(name, "dnn") == 0)
		return CS_MODEL_DNN;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown model type \"%s\"", name),
			 errhint("Known model types: logistic_regression, xgboost, random_forest, dnn.")));
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

/* A hyperparameter as a number within [lo, hi] (open ends when the flags say so). */
static double
param_range(JsonbValue *v, const char *key, double lo, bool lo_open, double hi, bool hi_open)
{
	double d = param_number(v, key);

	if (isnan(d) || (lo_open ? d <= lo : d < lo) || (hi_open ? d >= hi : d > hi))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hyperparameter \"%s\" must be in %s%g, %g%s, not %g",
						key,
						lo_open ? "(" : "[",
						lo,
						hi,
						hi_open ? ")" : "]",
						d)));
	return d;
}

/* Reads "monotone_constraints": {"feature": -1 | 0 | 1, ...}. */
static void
parse_monotone(JsonbValue *v, CsParams *out)
{
	JsonbIterator     *it;
	JsonbValue         kv;
	JsonbIteratorToken tok;
	char             **names;
	int8_t            *dirs;
	int                n = 0;
	char              *key = NULL;

	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hyperparameter \"monotone_constraints\" must be an object mapping "
						"feature names to -1, 0 or 1")));
	names = palloc(sizeof(char *) * Max(JsonContainerSize(v->val.binary.data), 1));
	dirs = palloc(sizeof(int8_t) * Max(JsonContainerSize(v->val.binary.data), 1));
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &kv, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			key = pnstrdup(kv.val.string.val, kv.val.string.len);
		else if (tok == WJB_VALUE)
		{
			names[n] = key;
			dirs[n] = (int8_t) param_int(&kv, "monotone_constraints", -1, 1);
			n++;
		}
	}
	out->n_monotone = n;
	out->monotone_names = names;
	out->monotone_dirs = dirs;
}

/* Boosting's hyperparameters, named and defaulted as XGBoost 1.7's. */
static void
parse_xgboost(Jsonb *params, CsParams *out)
{
	static const char *const keys[] = { "n_estimators",
										"learning_rate",
										"eta",
										"max_depth",
										"min_child_weight",
										"reg_lambda",
										"reg_alpha",
										"gamma",
										"subsample",
										"colsample_bytree",
										"max_bin",
										"scale_pos_weight",
										"base_score",
										"monotone_constraints",
										"early_stopping_rounds",
										"eval_metric",
										"seed",
										NULL };
	cs_gbm_params           *g = &out->gbm;
	JsonbValue              *v;

	cs_gbm_params_default(g);
	if (params == NULL)
		return;
	check_known_keys(params, keys, "xgboost");
	if ((v = json_member(params, "n_estimators")) != NULL)
		g->n_estimators = (int32) param_int(v, "n_estimators", 1, 100000);
	if ((v = json_member(params, "learning_rate")) != NULL ||
		(v = json_member(params, "eta")) != NULL)
		g->learning_rate = param_range(v, "learning_rate", 0, true, 1, false);
	if ((v = json_member(params, "max_depth")) != NULL)
		g->max_depth = (int32) param_int(v, "max_depth", 1, 20);
	if ((v = json_member(params, "min_child_weight")) != NULL)
		g->min_child_weight = param_range(v, "min_child_weight", 0, false, 1e30, false);
	if ((v = json_member(params, "reg_lambda")) != NULL)
		g->reg_lambda = param_range(v, "reg_lambda", 0, false, 1e30, false);
	if ((v = json_member(params, "reg_alpha")) != NULL)
		g->reg_alpha = param_range(v, "reg_alpha", 0, false, 1e30, false);
	if ((v = json_member(params, "gamma")) != NULL)
		g->gamma = param_range(v, "gamma", 0, false, 1e30, false);
	if ((v = json_member(params, "subsample")) != NULL)
		g->subsample = param_range(v, "subsample", 0, true, 1, false);
	if ((v = json_member(params, "colsample_bytree")) != NULL)
		g->colsample_bytree = param_range(v, "colsample_bytree", 0, true, 1, false);
	if ((v = json_member(params, "max_bin")) != NULL)
		g->max_bin = (int32) param_int(v, "max_bin", 2, 65535);
	if ((v = json_member(params, "scale_pos_weight")) != NULL)
		g->scale_pos_weight = param_range(v, "scale_pos_weight", 0, true, 1e30, false);
	if ((v = json_member(params, "base_score")) != NULL)
		g->base_score = param_range(v, "base_score", 0, true, 1, true);
	if ((v = json_member(params, "early_stopping_rounds")) != NULL)
		g->early_stopping_rounds = (int32) param_int(v, "early_stopping_rounds", 0, 100000);
	if ((v = json_member(params, "eval_metric")) != NULL)
	{
		char *m = v->type == jbvString ? pnstrdup(v->val.string.val, v->val.string.len) : "";

		if (strcmp(m, "logloss") == 0)
			g->eval_metric = CS_GBM_METRIC_LOGLOSS;
		else if (strcmp(m, "auc") == 0)
			g->eval_metric = CS_GBM_METRIC_AUC;
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("hyperparameter \"eval_metric\" must be \"logloss\" or \"auc\"")));
	}
	if ((v = json_member(params, "monotone_constraints")) != NULL)
		parse_monotone(v, out);
}

/* The forest's hyperparameters, named and defaulted as scikit-learn's. */
static void
parse_forest(Jsonb *params, CsParams *out)
{
	static const char *const keys[] = { "n_estimators",
										"max_depth",
										"min_samples_split",
										"min_samples_leaf",
										"max_features",
										"class_weight",
										"bootstrap",
										"max_bin",
										"seed",
										NULL };
	cs_forest_params        *f = &out->forest;
	JsonbValue              *v;

	cs_forest_params_default(f);
	if (params == NULL)
		return;
	check_known_keys(params, keys, "random_forest");
	if ((v = json_member(params, "n_estimators")) != NULL)
		f->n_estimators = (int32) param_int(v, "n_estimators", 1, 100000);
	if ((v = json_member(params, "max_depth")) != NULL)
		f->max_depth = v->type == jbvNull ? 0 : (int32) param_int(v, "max_depth", 1, 64);
	if ((v = json_member(params, "min_samples_split")) != NULL)
		f->min_samples_split = (int32) param_int(v, "min_samples_split", 2, PG_INT32_MAX);
	if ((v = json_member(params, "min_samples_leaf")) != NULL)
		f->min_samples_leaf = (int32) param_int(v, "min_samples_leaf", 1, PG_INT32_MAX);
	if ((v = json_member(params, "max_features")) != NULL)
	{
		char *mf = v->type == jbvString ? pnstrdup(v->val.string.val, v->val.string.len) : NULL;

		if (v->type == jbvNull || (mf && strcmp(mf, "all") == 0))
			f->max_features = CS_MAX_FEATURES_ALL;
		else if (mf && strcmp(mf, "sqrt") == 0)
			f->max_features = CS_MAX_FEATURES_SQRT;
		else if (mf && strcmp(mf, "log2") == 0)
			f->max_features = CS_MAX_FEATURES_LOG2;
		else if (v->type == jbvNumeric)
			f->max_features = (int32) param_int(v, "max_features", 1, 100000);
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("hyperparameter \"max_features\" must be \"sqrt\", \"log2\", "
							"null (all) or a count")));
	}
	if ((v = json_member(params, "class_weight")) != NULL)
	{
		char *cw = v->type == jbvString ? pnstrdup(v->val.string.val, v->val.string.len) : NULL;

		if (v->type == jbvNull)
			f->class_weight_balanced = 0;
		else if (cw && strcmp(cw, "balanced") == 0)
			f->class_weight_balanced = 1;
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("hyperparameter \"class_weight\" must be \"balanced\" or null")));
	}
	if ((v = json_member(params, "bootstrap")) != NULL)
	{
		if (v->type != jbvBool)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("hyperparameter \"bootstrap\" must be true or false")));
		f->bootstrap = v->val.boolean ? 1 : 0;
	}
	if ((v = json_member(params, "max_bin")) != NULL)
		f->max_bin = (int32) param_int(v, "max_bin", 2, 65535);
}

/* A boolean hyperparameter. */
static bool
param_bool(JsonbValue *v, const char *key)
{
	if (v->type != jbvBool)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hyperparameter \"%s\" must be true or false", key)));
	return v->val.boolean;
}

/* The network's hyperparameters (defaults as scikit-learn's MLPClassifier). */
static void
parse_dnn(Jsonb *params, CsParams *out)
{
	static const char *const keys[] = { "hidden_layers",
										"activation",
										"dropout",
										"batch_norm",
										"learning_rate",
										"batch_size",
										"epochs",
										"weight_decay",
										"early_stopping",
										"patience",
										"tol",
										"seed",
										NULL };
	cs_mlp_params           *n = &out->mlp;
	JsonbValue              *v;
	cs_error                 err;

	cs_mlp_params_default(n);
	out->hidden[0] = 64;
	out->hidden[1] = 32;
	n->n_hidden = 2;
	n->early_stopping = 1;
	if (params != NULL)
	{
		check_known_keys(params, keys, "dnn");
		if ((v = json_member(params, "hidden_layers")) != NULL)
		{
			JsonbIterator     *it;
			JsonbValue         e;
			JsonbIteratorToken tok;

			if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("hyperparameter \"hidden_layers\" must be a list of layer widths, "
								"e.g. [64, 32]")));
			n->n_hidden = 0;
			it = JsonbIteratorInit(v->val.binary.data);
			while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
			{
				if (tok != WJB_ELEM)
					continue;
				if (n->n_hidden >= CS_MLP_MAX_HIDDEN)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("hyperparameter \"hidden_layers\" has more than %d layers",
									CS_MLP_MAX_HIDDEN)));
				out->hidden[n->n_hidden++] =
					(int32) param_int(&e, "hidden_layers", 1, CS_MLP_MAX_WIDTH);
			}
		}
		if ((v = json_member(params, "activation")) != NULL)
		{
			char *a = v->type == jbvString ? pnstrdup(v->val.string.val, v->val.string.len) : "";

			if (strcmp(a, "relu") == 0)
				n->activation = CS_MLP_RELU;
			else if (strcmp(a, "tanh") == 0)
				n->activation = CS_MLP_TANH;
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("hyperparameter \"activation\" must be \"relu\" or \"tanh\"")));
		}
		if ((v = json_member(params, "dropout")) != NULL)
			n->dropout = param_range(v, "dropout", 0, false, 1, true);
		if ((v = json_member(params, "batch_norm")) != NULL)
			n->batch_norm = param_bool(v, "batch_norm");
		if ((v = json_member(params, "learning_rate")) != NULL)
			n->learning_rate = param_range(v, "learning_rate", 0, true, 10, false);
		if ((v = json_member(params, "batch_size")) != NULL)
			n->batch_size = (int32) param_int(v, "batch_size", 1, 1000000);
		if ((v = json_member(params, "epochs")) != NULL)
			n->epochs = (int32) param_int(v, "epochs", 1, 100000);
		if ((v = json_member(params, "weight_decay")) != NULL)
			n->weight_decay = param_range(v, "weight_decay", 0, false, 1e6, false);
		if ((v = json_member(params, "early_stopping")) != NULL)
			n->early_stopping = param_bool(v, "early_stopping");
		if ((v = json_member(params, "patience")) != NULL)
			n->patience = (int32) param_int(v, "patience", 1, 100000);
		if ((v = json_member(params, "tol")) != NULL)
			n->tol = param_range(v, "tol", 0, false, 1, false);
	}
	if (n->n_hidden == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hyperparameter \"hidden_layers\" must list at least one layer"),
				 errhint("A network without hidden layers is a logistic regression.")));
	n->hidden = out->hidden;
	n->seed = out->seed;
	if (cs_mlp_check_params(n, &err) != CS_OK)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("%s", err.msg)));
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
		case CS_MODEL_XGBOOST:
			parse_xgboost(params, out);
			out->gbm.seed = out->seed;
			break;
		case CS_MODEL_RANDOM_FOREST:
			parse_forest(params, out);
			out->forest.seed = out->seed;
			break;
		case CS_MODEL_DNN:
			parse_dnn(params, out);
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
		case CS_MODEL_XGBOOST:
			{
				const cs_gbm_params *g = &p->gbm;
				int                  i;

				appendStringInfo(&buf,
								 "{\"n_estimators\": %d, \"learning_rate\": %s, \"max_depth\": %d, "
								 "\"min_child_weight\": %s, \"reg_lambda\": %s, \"reg_alpha\": %s, "
								 "\"gamma\": %s, \"subsample\": %s, \"colsample_bytree\": %s, "
								 "\"max_bin\": %d, \"scale_pos_weight\": %s, \"base_score\": %s, "
								 "\"early_stopping_rounds\": %d, \"eval_metric\": \"%s\", "
								 "\"seed\": " UINT64_FORMAT,
								 g->n_estimators,
								 float8out_internal(g->learning_rate),
								 g->max_depth,
								 float8out_internal(g->min_child_weight),
								 float8out_internal(g->reg_lambda),
								 float8out_internal(g->reg_alpha),
								 float8out_internal(g->gamma),
								 float8out_internal(g->subsample),
								 float8out_internal(g->colsample_bytree),
								 g->max_bin,
								 float8out_internal(g->scale_pos_weight),
								 float8out_internal(g->base_score),
								 g->early_stopping_rounds,
								 g->eval_metric == CS_GBM_METRIC_AUC ? "auc" : "logloss",
								 p->seed);
				if (p->n_monotone > 0)
				{
					appendStringInfoString(&buf, ", \"monotone_constraints\": {");
					for (i = 0; i < p->n_monotone; i++)
					{
						if (i > 0)
							appendStringInfoString(&buf, ", ");
						escape_json(&buf, p->monotone_names[i]);
						appendStringInfo(&buf, ": %d", (int) p->monotone_dirs[i]);
					}
					appendStringInfoChar(&buf, '}');
				}
				appendStringInfoChar(&buf, '}');
			}
			break;
		case CS_MODEL_RANDOM_FOREST:
			{
				const cs_forest_params *f = &p->forest;
				char                    mf[32];

				if (f->max_features == CS_MAX_FEATURES_SQRT)
					strlcpy(mf, "\"sqrt\"", sizeof(mf));
				else if (f->max_features == CS_MAX_FEATURES_LOG2)
					strlcpy(mf, "\"log2\"", sizeof(mf));
				else if (f->max_features == CS_MAX_FEATURES_ALL)
					strlcpy(mf, "null", sizeof(mf));
				else
					snprintf(mf, sizeof(mf), "%d", f->max_features);
				appendStringInfo(&buf,
								 "{\"n_estimators\": %d, \"max_depth\": %s, \"min_samples_split\": "
								 "%d, "
								 "\"min_samples_leaf\": %d, \"max_features\": %s, "
								 "\"class_weight\": %s, \"bootstrap\": %s, \"max_bin\": %d, "
								 "\"seed\": " UINT64_FORMAT "}",
								 f->n_estimators,
								 f->max_depth > 0 ? psprintf("%d", f->max_depth) : "null",
								 f->min_samples_split,
								 f->min_samples_leaf,
								 mf,
								 f->class_weight_balanced ? "\"balanced\"" : "null",
								 f->bootstrap ? "true" : "false",
								 f->max_bin,
								 p->seed);
			}
			break;
		case CS_MODEL_DNN:
			break; /* below */
	}
	if (p->type == CS_MODEL_DNN)
	{
		const cs_mlp_params *n = &p->mlp;
		int                  l;

		appendStringInfoString(&buf, "{\"hidden_layers\": [");
		for (l = 0; l < n->n_hidden; l++)
			appendStringInfo(&buf, "%s%d", l ? ", " : "", n->hidden[l]);
		appendStringInfo(&buf,
						 "], \"activation\": \"%s\", \"dropout\": %s, \"batch_norm\": %s, "
						 "\"learning_rate\": %s, \"batch_size\": %d, \"epochs\": %d, "
						 "\"weight_decay\": %s, \"early_stopping\": %s, \"patience\": %d, "
						 "\"tol\": %s, \"seed\": " UINT64_FORMAT "}",
						 n->activation == CS_MLP_TANH ? "tanh" : "relu",
						 float8out_internal(n->dropout),
						 n->batch_norm ? "true" : "false",
						 float8out_internal(n->learning_rate),
						 n->batch_size,
						 n->epochs,
						 float8out_internal(n->weight_decay),
						 n->early_stopping ? "true" : "false",
						 n->patience,
						 float8out_internal(n->tol),
						 p->seed);
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
