/*
 * lime.c - cs_lime: LIME explanations (src/core/lime.c) of one row, record or
 * jsonb, by a model registered with its training profile.
 *
 * The training statistics LIME samples from are the profile's "lime" member
 * (src/core/profile.c), read once per statement and call site; a model
 * without them (imported, or trained before they were stored) is an error
 * with a hint.  The samples are drawn and scored in steps with a check for
 * interrupts between steps, on one workspace per call site: nothing is
 * allocated per sample.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "fmgr.h"

#include <math.h>

#include "cs_lime.h"
#include "credit_scoring.h"

PG_FUNCTION_INFO_V1(cs_lime_record);
PG_FUNCTION_INFO_V1(cs_lime_jsonb);

#define LIME_STEP 256 /* samples between two interrupt checks */

/* A call site's state: the model, its LIME statistics and the workspace. */
typedef struct CsLimeState
{
	CsModelHandle handle;
	MemoryContext stats_cxt;
	int64         stats_model; /* the model_id the statistics belong to */
	TimestampTz   stats_at;    /* and the statement that read them */
	uint32        stats_lxid;
	cs_lime_stats stats;
	void         *workspace;
	int32         workspace_features;
	double       *weight;
	int32        *bin;
} CsLimeState;

/* ERROR: the stored statistics are not what training writes. */
static void lime_corrupt(const char *model, const char *fmt, ...) pg_attribute_printf(2, 3)
	pg_attribute_noreturn();

static void
lime_corrupt(const char *model, const char *fmt, ...)
{
	char    msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("model \"%s\" has malformed LIME statistics: %s", model, msg),
			 errhint("Train the model again to store its training profile afresh.")));
}

/* A member of a jsonb object, NULL when absent. */
static JsonbValue *
member(JsonbContainer *obj, const char *key)
{
	JsonbValue k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	return findJsonbValueFromContainer(obj, JB_FOBJECT, &k);
}

/* A jsonb number as a double; ERROR unless it is one. */
static double
number(JsonbValue *v, const char *what, const char *model)
{
	if (v == NULL || v->type != jbvNumeric)
		lime_corrupt(model, "%s is not a number", what);
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
}

/* A count (a non-negative integer below 2^53). */
static uint64
count(JsonbValue *v, const char *what, const char *model)
{
	double x = number(v, what, model);

	if (!(x >= 0 && x < 9007199254740992.0) || x != floor(x))
		lime_corrupt(model, "%s is not a count", what);
	return (uint64) x;
}

/* An array member of n entries (any n when n < 0), its length in *len. */
static JsonbContainer *
array(JsonbContainer *obj, const char *key, int n, const char *feature, const char *model, int *len)
{
	JsonbValue *v = member(obj, key);
	int         size;

	if (v == NULL || v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		lime_corrupt(model, "\"%s\" of feature \"%s\" is not an array", key, feature);
	size = JsonContainerSize(v->val.binary.data);
	if (n >= 0 && size != n)
		lime_corrupt(model, "\"%s\" of feature \"%s\" has %d entries", key, feature, size);
	if (len)
		*len = size;
	return v->val.binary.data;
}

/* Reads n doubles of an array member into out. */
static void
doubles(JsonbContainer *obj, const char *key, int n, double *out, const char *feature,
		const char *model)
{
	JsonbContainer *arr = array(obj, key, n, feature, model, NULL);
	int             i;

	for (i = 0; i < n; i++)
		out[i] = number(getIthJsonbValueFromContainer(arr, i), key, model);
}

/* One feature's statistics, checked against the schema's name and kind. */
static void
parse_feature(JsonbContainer *obj, const cs_feature *f, cs_lime_feature *out, const char *model)
{
	JsonbValue *v = member(obj, "name");
	JsonbValue *kind = member(obj, "kind");
	const char *want = f->kind == CS_KIND_NUMERIC ? "numeric" : "categorical";

	if (v == NULL || v->type != jbvString || v->val.string.len != strlen(f->name) ||
		memcmp(v->val.string.val, f->name, v->val.string.len) != 0)
		lime_corrupt(model, "its features do not match the model's (\"%s\")", f->name);
	if (kind == NULL || kind->type != jbvString || kind->val.string.len != strlen(want) ||
		memcmp(kind->val.string.val, want, kind->val.string.len) != 0)
		lime_corrupt(model, "feature \"%s\" should be %s", f->name, want);
	out->kind = f->kind;
	out->missing = count(member(obj, "missing"), "missing", model);
	if (f->kind == CS_KIND_NUMERIC)
	{
		cs_lime_numeric *q = &out->num;
		JsonbContainer  *arr;
		int              nq;
		int              k;

		array(obj, "bins", -1, f->name, model, &nq);
		if (nq >= CS_LIME_MAX_BINS)
			lime_corrupt(model, "feature \"%s\" has %d quartiles", f->name, nq);
		q->n_bins = nq > 0 ? nq + 1 : 0;
		doubles(obj, "bins", nq, q->quartiles, f->name, model);
		arr = array(obj, "counts", q->n_bins, f->name, model, NULL);
		for (k = 0; k < q->n_bins; k++)
			q->counts[k] = count(getIthJsonbValueFromContainer(arr, k), "counts", model);
		doubles(obj, "means", q->n_bins, q->means, f->name, model);
		doubles(obj, "stds", q->n_bins, q->stds, f->name, model);
		doubles(obj, "mins", q->n_bins, q->mins, f->name, model);
		doubles(obj, "maxs", q->n_bins, q->maxs, f->name, model);
	}
	else
	{
		JsonbContainer *arr = array(obj, "counts", f->n_levels, f->name, model, NULL);
		uint64         *counts = palloc(sizeof(uint64) * Max(f->n_levels, 1));
		int             k;

		for (k = 0; k < f->n_levels; k++)
			counts[k] = count(getIthJsonbValueFromContainer(arr, k), "counts", model);
		out->n_levels = f->n_levels;
		out->level_counts = counts;
	}
}

/* Reads the model's LIME statistics from its profile into st->stats (in st->stats_cxt). */
static void
load_stats(CsLimeState *st, const cs_model *m)
{
	const char      *model = st->handle.ref;
	Jsonb           *profile;
	JsonbContainer  *lime = NULL;
	JsonbContainer  *features;
	JsonbValue      *v;
	cs_lime_feature *f;
	MemoryContext    old;
	cs_error         err;
	int32            j;

	MemoryContextReset(st->stats_cxt);
	st->stats_model = 0;
	profile = cs_registry_profile(st->handle.model_id);
	if (profile != NULL)
	{
		v = member(&profile->root, "lime");
		if (v != NULL && v->type == jbvBinary)
			lime = v->val.binary.data;
		else if (v != NULL)
			lime_corrupt(model, "not an object");
	}
	if (profile == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" has no training profile, which LIME samples from", model),
				 errhint("A model imported with cs_import_xgboost has none: explain it with "
						 "cs_shap, or train it with cs_train.")));
	if (lime == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" has no LIME training statistics in its profile", model),
				 errhint("A model trained before they were stored lacks them: train it again with "
						 "cs_train.")));
	if (!JsonContainerIsObject(lime))
		lime_corrupt(model, "not an object");
	v = member(lime, "version");
	if (number(v, "version", model) != CS_LIME_STATS_VERSION)
		lime_corrupt(model,
					 "version %g is not %d",
					 number(v, "version", model),
					 CS_LIME_STATS_VERSION);
	v = member(lime, "features");
	if (v == NULL || v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data) ||
		JsonContainerSize(v->val.binary.data) != (uint32) m->schema.n_features)
		lime_corrupt(model,
					 "\"features\" does not list the model's %d features",
					 (int) m->schema.n_features);
	features = v->val.binary.data;
	old = MemoryContextSwitchTo(st->stats_cxt);
	f = palloc0(sizeof(cs_lime_feature) * Max(m->schema.n_features, 1));
	for (j = 0; j < m->schema.n_features; j++)
	{
		JsonbValue *fv = getIthJsonbValueFromContainer(features, j);

		if (fv == NULL || fv->type != jbvBinary || !JsonContainerIsObject(fv->val.binary.data))
			lime_corrupt(model, "feature %d is not an object", (int) j + 1);
		parse_feature(fv->val.binary.data, &m->schema.features[j], &f[j], model);
	}
	MemoryContextSwitchTo(old);
	st->stats.n_features = m->schema.n_features;
	st->stats.features = f;
	if (cs_lime_check(&m->schema, &st->stats, &err) != CS_OK)
	{
		if (err.code == CS_ERR_CORRUPT)
			lime_corrupt(model, "%s", err.msg);
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("model \"%s\": %s", model, err.msg),
				 errhint("Explain it with cs_shap.")));
	}
	st->stats_model = st->handle.model_id;
	st->stats_at = st->handle.resolved_at;
	st->stats_lxid = st->handle.resolved_lxid;
}

/* ERROR naming the first feature a jsonb row lacks: LIME explains complete rows. */
static void
check_jsonb_keys(Jsonb *jb, const cs_model *m, const char *model)
{
	int32 j;

	if (!JB_ROOT_IS_OBJECT(jb))
		return; /* cs_jsonb_inputs says what is wrong */
	for (j = 0; j < m->schema.n_features; j++)
		if (member(&jb->root, m->schema.features[j].name) == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("row has no key \"%s\", a feature of model \"%s\"",
							m->schema.features[j].name,
							model),
					 errhint("LIME explains a complete row: give every feature, null for a "
							 "missing value.")));
}

/* lime's name of the instance's bin. */
static Datum
condition_text(const cs_feature *f, const cs_lime_feature *s, double x)
{
	char  buf[256];
	int   len = cs_lime_condition(f, s, x, buf, sizeof(buf));
	char *big;

	if (len < (int) sizeof(buf))
		return CStringGetTextDatum(buf);
	big = palloc(len + 1);
	cs_lime_condition(f, s, x, big, len + 1);
	return CStringGetTextDatum(big);
}

/* Orders features by |weight| descending, then by model order. */
typedef struct LimeOrder
{
	int32  feature;
	double magnitude;
} LimeOrder;

static int
lime_order_cmp(const void *a, const void *b)
{
	const LimeOrder *x = a;
	const LimeOrder *y = b;

	if (x->magnitude != y->magnitude)
		return x->magnitude > y->magnitude ? -1 : 1;
	return x->feature < y->feature ? -1 : (x->feature > y->feature ? 1 : 0);
}

/*
 * cs_lime(model, input, samples, seed, kernel_width) -> SETOF (feature, value,
 * condition, weight, intercept, score, local_prediction, prediction)
 */
static Datum
lime_rows(FunctionCallInfo fcinfo, bool jsonb_input)
{
	MemoryContext   mcxt = fcinfo->flinfo->fn_mcxt;
	CsLimeState    *st = fcinfo->flinfo->fn_extra;
	ReturnSetInfo  *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const cs_model *m;
	cs_lime_options opt;
	cs_lime_run     run;
	cs_lime_result  res;
	cs_error        err;
	LimeOrder      *order;
	int32           nf;
	int32           i;
	int32           samples;

	/* NULL model or row: no rows, as a STRICT function would give */
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
	{
		InitMaterializedSRF(fcinfo, 0);
		return (Datum) 0;
	}
	if (PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", PG_ARGISNULL(2) ? "samples" : "seed"),
				 errhint("Omit it for its default (samples 5000, seed 0).")));
	samples = PG_GETARG_INT32(2);
	if (samples < CS_LIME_MIN_SAMPLES || samples > CS_LIME_MAX_SAMPLES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("samples must be between %d and %d, not %d",
						CS_LIME_MIN_SAMPLES,
						CS_LIME_MAX_SAMPLES,
						samples),
				 errhint("LIME fits its surrogate on this many perturbed rows, the row itself "
						 "included; lime's default is 5000.")));
	opt.samples = samples;
	opt.seed = (uint64) (int64) PG_GETARG_INT32(3);
	opt.kernel_width = PG_ARGISNULL(4) ? NAN : PG_GETARG_FLOAT8(4);
	if (!PG_ARGISNULL(4) && !(opt.kernel_width > 0 && isfinite(opt.kernel_width)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("kernel_width must be a positive number, not %s",
						float8out_internal(opt.kernel_width)),
				 errhint("NULL takes lime's default, 0.75 sqrt(number of features).")));

	if (st == NULL)
	{
		st = fcinfo->flinfo->fn_extra = MemoryContextAllocZero(mcxt, sizeof(CsLimeState));
		st->stats_cxt = AllocSetContextCreate(mcxt, "cs_lime statistics", ALLOCSET_SMALL_SIZES);
	}
	m = cs_handle_by_name(&st->handle, PG_GETARG_TEXT_PP(0), mcxt);
	if (jsonb_input)
	{
		Jsonb *jb = PG_GETARG_JSONB_P(1);

		check_jsonb_keys(jb, m, st->handle.ref);
		cs_jsonb_inputs(jb, m, st->handle.input);
	}
	else
		cs_handle_record_inputs(&st->handle, PG_GETARG_HEAPTUPLEHEADER(1), mcxt);
	if (st->stats_model != st->handle.model_id || st->stats_at != st->handle.resolved_at ||
		st->stats_lxid != st->handle.resolved_lxid)
		load_stats(st, m);

	nf = m->schema.n_features;
	if (st->workspace == NULL || st->workspace_features != nf)
	{
		if (st->workspace != NULL)
		{
			pfree(st->workspace);
			pfree(st->weight);
			pfree(st->bin);
		}
		st->workspace = MemoryContextAllocHuge(mcxt, cs_lime_workspace(nf));
		st->weight = MemoryContextAlloc(mcxt, sizeof(double) * Max(nf, 1));
		st->bin = MemoryContextAlloc(mcxt, sizeof(int32) * Max(nf, 1));
		st->workspace_features = nf;
	}
	if (cs_lime_start(&run, m, &st->stats, st->handle.input, &opt, st->workspace, &err) != CS_OK)
		cs_raise_core_error(&err, st->handle.ref);
	while (cs_lime_step(&run, LIME_STEP) > 0)
		CHECK_FOR_INTERRUPTS();
	res.weight = st->weight;
	res.bin = st->bin;
	if (cs_lime_finish(&run, &res, &err) != CS_OK)
		cs_raise_core_error(&err, st->handle.ref);

	order = palloc(sizeof(LimeOrder) * Max(nf, 1));
	for (i = 0; i < nf; i++)
	{
		order[i].feature = i;
		order[i].magnitude = fabs(res.weight[i]);
	}
	qsort(order, nf, sizeof(LimeOrder), lime_order_cmp);
	InitMaterializedSRF(fcinfo, 0);
	for (i = 0; i < nf; i++)
	{
		int32             j = order[i].feature;
		const cs_feature *f = &m->schema.features[j];
		Datum             values[8];
		bool              nulls[8] = { false, false, false, false, false, false, false, false };

		values[0] = CStringGetTextDatum(f->name);
		values[1] = cs_input_text(f, st->handle.input[j], &nulls[1]);
		values[2] = condition_text(f, &st->stats.features[j], st->handle.input[j]);
		values[3] = Float8GetDatum(res.weight[j]);
		values[4] = Float8GetDatum(res.intercept);
		values[5] = Float8GetDatum(res.score);
		values[6] = Float8GetDatum(res.local_prediction);
		values[7] = Float8GetDatum(res.prediction);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* cs_lime(model text, input record, samples, seed, kernel_width) */
Datum
cs_lime_record(PG_FUNCTION_ARGS)
{
	return lime_rows(fcinfo, false);
}

/* cs_lime(model text, input jsonb, samples, seed, kernel_width) */
Datum
cs_lime_jsonb(PG_FUNCTION_ARGS)
{
	return lime_rows(fcinfo, true);
}
