/*
 * import.c - cs_import_xgboost: registers a model trained by XGBoost in
 * Python (Booster.save_model("m.json"), objective binary:logistic) as a
 * model of this extension, so that teams that train in Python score in the
 * database with cs_predict.
 *
 * XGBoost's JSON keeps each tree as parallel arrays (left_children,
 * right_children, split_indices, split_conditions, default_left,
 * sum_hessian, loss_changes); a node whose left child is -1 is a leaf whose
 * split_condition is its value.  XGBoost sends x left when (float) x <
 * split_condition and a missing x to the default side, and sums the leaves
 * in single precision from logit(base_score): the imported ensemble does the
 * same (cs_trees.h), so its scores are XGBoost's.  Features are mapped by the
 * names saved in the model (feature_names), or through the optional mapping
 * {"xgboost name": "column"}.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include <math.h>

#include "cs_trees.h"
#include "credit_scoring.h"

PG_FUNCTION_INFO_V1(cs_import_xgboost);

#define MAX_IMPORT_TREES 1000000

/* ERROR for a model that is not what cs_import_xgboost reads. */
static void
pg_attribute_noreturn() bad_model(const char *fmt, const char *arg)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("not an XGBoost JSON model: %s", psprintf(fmt, arg)),
			 errhint("Pass the file written by Booster.save_model(\"model.json\") as jsonb.")));
}

/* The member key of an object container, or NULL. */
static JsonbValue *
member(JsonbContainer *c, const char *key)
{
	JsonbValue k;

	if (c == NULL || !JsonContainerIsObject(c))
		return NULL;
	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	return findJsonbValueFromContainer(c, JB_FOBJECT, &k);
}

/* The container of an object or array member, or ERROR naming the path. */
static JsonbContainer *
container(JsonbContainer *c, const char *key, const char *path)
{
	JsonbValue *v = member(c, key);

	if (v == NULL || v->type != jbvBinary)
		bad_model("%s is missing", path);
	return v->val.binary.data;
}

/* A member given as a string (XGBoost writes numbers in strings) or number. */
static char *
member_text(JsonbContainer *c, const char *key, const char *path)
{
	JsonbValue *v = member(c, key);

	if (v == NULL)
		bad_model("%s is missing", path);
	if (v->type == jbvString)
		return pnstrdup(v->val.string.val, v->val.string.len);
	if (v->type == jbvNumeric)
		return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	bad_model("%s is not a string or number", path);
}

/* The elements of an array member as doubles; *n receives the count. */
static double *
number_array(JsonbContainer *tree, const char *key, int *n)
{
	JsonbContainer    *arr = container(tree, key, key);
	JsonbIterator     *it;
	JsonbValue         v;
	JsonbIteratorToken tok;
	int                count = JsonContainerSize(arr);
	double            *out = palloc(sizeof(double) * Max(count, 1));
	int                i = 0;

	if (!JsonContainerIsArray(arr))
		bad_model("tree member %s is not an array", key);
	it = JsonbIteratorInit(arr);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		if (v.type != jbvNumeric || i >= count)
			bad_model("tree member %s holds something other than numbers", key);
		out[i++] = DatumGetFloat8(
			DirectFunctionCall1(numeric_float8_no_overflow, NumericGetDatum(v.val.numeric)));
	}
	*n = i;
	return out;
}

/* Reads one tree into nodes[0..n); returns n. */
static int
read_tree(JsonbContainer *tree, int t, cs_tree_node **nodes, int32 n_features)
{
	int     n;
	int     n2;
	double *left = number_array(tree, "left_children", &n);
	double *right = number_array(tree, "right_children", &n2);
	double *index = NULL;
	double *cond = NULL;
	double *dleft = NULL;
	double *hess = NULL;
	double *gain = NULL;
	double *stype = NULL;
	int     counts[6];
	int     i;

	index = number_array(tree, "split_indices", &counts[0]);
	cond = number_array(tree, "split_conditions", &counts[1]);
	dleft = number_array(tree, "default_left", &counts[2]);
	hess = number_array(tree, "sum_hessian", &counts[3]);
	gain = number_array(tree, "loss_changes", &counts[4]);
	if (member(tree, "split_type") != NULL)
		stype = number_array(tree, "split_type", &counts[5]);
	else
		counts[5] = n;
	for (i = 0; i < 6; i++)
		if (counts[i] != n || n2 != n || n < 1)
			bad_model("%s", psprintf("tree %d has arrays of different lengths", t));
	*nodes = palloc0(sizeof(cs_tree_node) * n);
	for (i = 0; i < n; i++)
	{
		cs_tree_node *nd = &(*nodes)[i];

		nd->cover = hess[i];
		if (left[i] == -1)
		{
			nd->feature = -1;
			nd->left = nd->right = -1;
			nd->value = (double) (float) cond[i];
			continue;
		}
		if (stype && stype[i] != 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("tree %d splits on a categorical feature, which cs_import_xgboost "
							"does not read",
							t),
					 errhint("Train with numeric (or one-hot) inputs.")));
		if (index[i] < 0 || index[i] >= n_features || left[i] <= i || right[i] <= i ||
			left[i] >= n || right[i] >= n)
			bad_model("%s", psprintf("tree %d node %d has a child or feature out of range", t, i));
		nd->feature = (int32) index[i];
		nd->threshold = (float) cond[i];
		nd->left = (int32) left[i];
		nd->right = (int32) right[i];
		nd->default_left = dleft[i] != 0;
		nd->gain = (float) gain[i];
	}
	return n;
}

/* The column a feature of the model maps to. */
static char *
mapped_name(const char *xgb_name, Jsonb *mapping)
{
	JsonbValue *v;

	if (mapping == NULL)
		return pstrdup(xgb_name);
	if (!JB_ROOT_IS_OBJECT(mapping))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg(
					 "the feature mapping must be a jsonb object {\"xgboost name\": \"column\"}")));
	v = member(&mapping->root, xgb_name);
	if (v == NULL)
		return pstrdup(xgb_name);
	if (v->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the mapping of feature \"%s\" is not a column name", xgb_name)));
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/*
 * What an import has malloc'd (the model, its blob), freed when the calling
 * memory context is reset or deleted: at the end of the statement, or by the
 * abort of an error raised midway.
 */
typedef struct ImportHolder
{
	MemoryContextCallback cb;
	cs_model             *m;
	uint8_t              *blob;
} ImportHolder;

static void
import_holder_free(void *arg)
{
	ImportHolder *h = arg;

	cs_model_free(h->m);
	cs_free(h->blob);
	h->m = NULL;
	h->blob = NULL;
}

/* Builds the model: a numeric schema and the ensemble. */
static cs_model *
build_model(JsonbContainer *learner, Jsonb *mapping, ImportHolder *holder)
{
	JsonbContainer    *params = container(learner, "learner_model_param", "learner_model_param");
	JsonbContainer    *booster = container(learner, "gradient_booster", "gradient_booster");
	JsonbContainer    *trees = container(container(booster, "model", "gradient_booster.model"),
                                      "trees",
                                      "gradient_booster.model.trees");
	JsonbContainer    *objective = container(learner, "objective", "objective");
	char              *objective_name = member_text(objective, "name", "objective.name");
	int32              nf = pg_strtoint32(member_text(params, "num_feature", "num_feature"));
	double             base_score = strtod(member_text(params, "base_score", "base_score"), NULL);
	JsonbValue        *names = member(learner, "feature_names");
	JsonbValue        *types = member(learner, "feature_types");
	cs_model          *m = cs_calloc(1, sizeof(cs_model));
	cs_ensemble       *e = cs_calloc(1, sizeof(cs_ensemble));
	cs_tree_node     **tree_nodes;
	int               *tree_sizes;
	JsonbIterator     *it;
	JsonbValue         v;
	JsonbIteratorToken tok;
	int                n_trees = JsonContainerSize(trees);
	int                t = 0;
	int                j;
	int64              k = 0;
	cs_error           err;

	if (m == NULL || e == NULL)
	{
		cs_free(m);
		cs_free(e);
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}
	/* from here on the holder frees whatever is built, should an error come */
	m->type = CS_MODEL_XGBOOST;
	m->u.ensemble = e;
	holder->m = m;
	if (strcmp(objective_name, "binary:logistic") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the model's objective is %s, not binary:logistic", objective_name)));
	if (strcmp(member_text(booster, "name", "gradient_booster.name"), "gbtree") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("only gbtree boosters can be imported")));
	if (nf < 1 || nf > 100000 || !(base_score > 0 && base_score < 1) || n_trees < 1 ||
		n_trees > MAX_IMPORT_TREES)
		bad_model("%s", "num_feature, base_score or the tree count is out of range");

	/* the schema: one numeric feature per model feature, mapped by name */
	m->type = CS_MODEL_XGBOOST;
	m->schema.n_features = nf;
	m->schema.features = cs_calloc(nf, sizeof(cs_feature));
	if (m->schema.features == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	for (j = 0; j < nf; j++)
	{
		char *name = NULL;

		if (names != NULL && names->type == jbvBinary &&
			JsonContainerSize(names->val.binary.data) > 0)
		{
			JsonbValue *nv = getIthJsonbValueFromContainer(names->val.binary.data, j);

			if (nv == NULL || nv->type != jbvString)
				bad_model("%s", "feature_names does not name every feature");
			name = mapped_name(pnstrdup(nv->val.string.val, nv->val.string.len), mapping);
		}
		else
			name = mapped_name(psprintf("f%d", j), mapping);
		if (types != NULL && types->type == jbvBinary &&
			JsonContainerSize(types->val.binary.data) > 0)
		{
			JsonbValue *tv = getIthJsonbValueFromContainer(types->val.binary.data, j);

			if (tv && tv->type == jbvString && tv->val.string.len == 1 &&
				tv->val.string.val[0] == 'c')
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("feature \"%s\" is categorical in the XGBoost model", name),
						 errhint("cs_import_xgboost reads numeric features.")));
		}
		m->schema.features[j].name = cs_malloc(strlen(name) + 1);
		strcpy(m->schema.features[j].name, name);
		m->schema.features[j].kind = CS_KIND_NUMERIC;
		m->schema.features[j].sd = 1.0;
	}

	/* the trees */
	tree_nodes = palloc(sizeof(cs_tree_node *) * n_trees);
	tree_sizes = palloc(sizeof(int) * n_trees);
	it = JsonbIteratorInit(trees);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		if (v.type != jbvBinary || t >= n_trees)
			bad_model("%s", "a tree is not an object");
		tree_sizes[t] = read_tree(v.val.binary.data, t, &tree_nodes[t], nf);
		k += tree_sizes[t];
		t++;
	}
	e->kind = CS_ENSEMBLE_BOOSTED;
	e->n_features = nf;
	e->n_trees = t;
	e->base_score = base_score;
	e->n_nodes = k;
	e->tree_start = cs_malloc(sizeof(int64_t) * (t + 1));
	e->nodes = cs_malloc(sizeof(cs_tree_node) * Max(k, 1));
	if (e->tree_start == NULL || e->nodes == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	e->tree_start[0] = 0;
	for (t = 0; t < e->n_trees; t++)
	{
		memcpy(e->nodes + e->tree_start[t], tree_nodes[t], sizeof(cs_tree_node) * tree_sizes[t]);
		e->tree_start[t + 1] = e->tree_start[t] + tree_sizes[t];
	}
	m->u.ensemble = e;
	if (cs_ensemble_check(e, &err) != CS_OK)
		bad_model("%s", err.msg);
	m->meta.target = cs_malloc(11);
	strcpy(m->meta.target, "(imported)");
	m->meta.positive = cs_malloc(2);
	strcpy(m->meta.positive, "1");
	m->meta.threads = 1;
	if (cs_model_prepare(m, &err) != CS_OK)
		cs_raise_core_error(&err, "importing the model");
	return m;
}

/* Registers the imported model (a run and a version) as the extension owner. */
static int32
register_import(const char *name, const char *experiment, const cs_model *m, const uint8_t *blob,
				size_t bloblen, Jsonb *model_json)
{
	Oid         types[6] = { TEXTOID, TEXTOID, TEXTARRAYOID, BYTEAOID, TEXTOID, INT4OID };
	Datum       values[6];
	Datum      *features = palloc(sizeof(Datum) * Max(m->schema.n_features, 1));
	bytea      *b = palloc(VARHDRSZ + bloblen);
	char       *version_info = "unknown";
	JsonbValue *ver = member(&model_json->root, "version");
	int32       version;
	bool        isnull;
	int         j;

	if (ver != NULL && ver->type == jbvBinary)
		version_info = JsonbToCString(NULL, ver->val.binary.data, VARSIZE(model_json));
	for (j = 0; j < m->schema.n_features; j++)
		features[j] = CStringGetTextDatum(m->schema.features[j].name);
	SET_VARSIZE(b, VARHDRSZ + bloblen);
	memcpy(VARDATA(b), blob, bloblen);
	values[0] = CStringGetTextDatum(name);
	values[1] = CStringGetTextDatum(experiment);
	values[2] = PointerGetDatum(
		construct_array(features, m->schema.n_features, TEXTOID, -1, false, TYPALIGN_INT));
	values[3] = PointerGetDatum(b);
	values[4] = CStringGetTextDatum(version_info);
	values[5] = Int32GetDatum(m->u.ensemble->n_trees);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	cs_registry_exec(psprintf("INSERT INTO %s (name) VALUES ($2) ON CONFLICT (name) DO NOTHING",
							  cs_registry_table("cs_experiments")),
					 2,
					 types,
					 values,
					 NULL,
					 SPI_OK_INSERT);
	cs_registry_exec(
		psprintf("INSERT INTO %s (run_id, experiment_id, model_type, status, relation, features, "
				 "params, metrics, seed, threads, started_at, ended_at, created_by, request) "
				 "SELECT nextval('%s'), experiment_id, 'xgboost', 'succeeded', '(imported)', $3, "
				 "jsonb_build_object('imported_from', 'xgboost', 'xgboost_version', $5::jsonb, "
				 "'n_estimators', $6), '{}', 0, 1, now(), now(), session_user, "
				 "jsonb_build_object('import', $1) FROM %s WHERE name = $2",
				 cs_registry_table("cs_runs"),
				 cs_registry_table("cs_runs_run_id_seq"),
				 cs_registry_table("cs_experiments")),
		6,
		types,
		values,
		NULL,
		SPI_OK_INSERT);
	cs_registry_exec("SELECT pg_advisory_xact_lock(hashtext('credit_scoring model ' || $1))",
					 1,
					 types,
					 values,
					 NULL,
					 SPI_OK_SELECT);
	cs_registry_exec(psprintf("INSERT INTO %s (name, version, run_id, model_type, blob, "
							  "created_by) "
							  "SELECT $1, coalesce(max(version), 0) + 1, currval('%s'), "
							  "'xgboost', $4, session_user FROM %s WHERE name = $1 "
							  "RETURNING version",
							  cs_registry_table("cs_models"),
							  cs_registry_table("cs_runs_run_id_seq"),
							  cs_registry_table("cs_models")),
					 4,
					 types,
					 values,
					 NULL,
					 SPI_OK_INSERT_RETURNING);
	version =
		DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	return version;
}

/* cs_import_xgboost(name text, model jsonb, features jsonb, experiment text) -> version */
Datum
cs_import_xgboost(PG_FUNCTION_ARGS)
{
	char         *name;
	Jsonb        *model_json;
	Jsonb        *mapping = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);
	char         *experiment = PG_ARGISNULL(3) ? "default" : text_to_cstring(PG_GETARG_TEXT_PP(3));
	cs_model     *m;
	uint8_t      *blob;
	size_t        bloblen;
	cs_error      err;
	int32         version;
	ImportHolder *holder;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("cs_import_xgboost needs a model name and a model")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	model_json = PG_GETARG_JSONB_P(1);
	if (name[0] == '\0' || strchr(name, '@') != NULL || strlen(name) > 200)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid model name \"%s\"", name),
				 errhint("A model name is 1 to 200 characters, without \"@\".")));
	if (!JB_ROOT_IS_OBJECT(model_json))
		bad_model("%s", "it is not a JSON object");
	holder = palloc0(sizeof(ImportHolder));
	holder->cb.func = import_holder_free;
	holder->cb.arg = holder;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &holder->cb);
	m = build_model(container(&model_json->root, "learner", "learner"), mapping, holder);
	if (cs_blob_encode(m, &blob, &bloblen, &err) != CS_OK)
		cs_raise_core_error(&err, "encoding the imported model");
	holder->blob = blob;
	version = register_import(name, experiment, m, blob, bloblen, model_json);
	import_holder_free(holder);
	PG_RETURN_INT32(version);
}
