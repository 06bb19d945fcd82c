/*
 * drift.c - drift monitoring.
 *
 *   cs_ks_drift(value, is_current)        the two-sample Kolmogorov-Smirnov
 *                                          test as an aggregate, with its
 *                                          _partial/_merge pair
 *   cs_ks_drift(reference, current, col)  the same over two relations
 *   cs_drift_report(model, relation)      every feature, the score and the
 *                                          performance of a model on a
 *                                          relation against the profile it
 *                                          stored at training time; written
 *                                          to cs_drift_reports
 *
 * The numerics are in src/core (ks.c, profile.c).  The aggregate's state is a
 * flat bytea (DESIGN.md, "Aggregates"): a header, then the values, the
 * reference sample growing from the front of the buffer and the current
 * sample from its back.  The transition function writes in place when
 * called by an aggregate; when the buffer is full it returns a larger copy
 * (the executor copies a changed transition value into the aggregate's
 * context and frees the old one, so repalloc would free it twice).  The
 * final function sorts copies of the samples and leaves the state as it is,
 * so the aggregate also works as a window function.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/regproc.h"

#include "credit_scoring.h"
#include "cs_ks.h"
#include "cs_profile.h"

PG_FUNCTION_INFO_V1(cs_ks_drift_step);
PG_FUNCTION_INFO_V1(cs_ks_drift_combine);
PG_FUNCTION_INFO_V1(cs_ks_drift_merge_step);
PG_FUNCTION_INFO_V1(cs_ks_drift_state);
PG_FUNCTION_INFO_V1(cs_ks_drift_final);
PG_FUNCTION_INFO_V1(cs_ks_drift_relations);
PG_FUNCTION_INFO_V1(cs_drift_report);

#define KS_MAGIC         0x444B5343 /* "CSKD" */
#define KS_INITIAL       1024       /* values of a new state */
#define KS_DEFAULT_ALPHA 0.05
#define READ_BATCH       10000
#define PERF_DROP        0.05 /* a relative worsening above this is "degraded" */

typedef struct KsState
{
	int32  vl_len_; /* varlena header */
	uint32 magic;
	int32  reserved1;
	int32  reserved2;
	double alpha; /* drifted when p < alpha */
	int64  n_ref; /* reference values, from the front */
	int64  n_cur; /* current values, from the back */
} KsState;

#define KS_VALUES(s)   ((double *) ((char *) (s) + sizeof(KsState)))
#define KS_CAPACITY(s) ((int64) ((VARSIZE(s) - sizeof(KsState)) / sizeof(double)))
#define KS_MAX_VALUES  ((int64) ((MaxAllocSize - sizeof(KsState)) / sizeof(double)))

/* ERROR unless 0 < alpha < 1. */
static void
check_alpha(double alpha)
{
	if (!(alpha > 0.0 && alpha < 1.0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("significance level %g is outside (0, 1)", alpha),
				 errhint("Drift is flagged when the p-value is below alpha, "
						 "usually 0.05.")));
}

/* ERROR for a bytea that is not a cs_ks_drift state. */
static void
invalid_state(const char *fname, const char *problem)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("%s expects the state of cs_ks_drift_partial", fname),
			 errdetail("The bytea given is not one: %s.", problem)));
}

/* Checks a state's header. */
static void
check_state(const KsState *s, const char *fname)
{
	if (VARSIZE(s) < sizeof(KsState) || (VARSIZE(s) - sizeof(KsState)) % sizeof(double) != 0)
		invalid_state(fname, "its length is wrong");
	if (s->magic != KS_MAGIC)
		invalid_state(fname, "it is not a cs_ks_drift state");
	if (s->n_ref < 0 || s->n_cur < 0 || s->n_ref > KS_CAPACITY(s) - s->n_cur)
		invalid_state(fname, "its counts exceed its length");
	if (!(s->alpha > 0.0 && s->alpha < 1.0))
		invalid_state(fname, "its significance level is outside (0, 1)");
}

/* A state argument, detoasted (aligned) and checked; NULL for the empty state. */
static KsState *
state_arg(FunctionCallInfo fcinfo, int argno, const char *fname)
{
	struct varlena *v = PG_DETOAST_DATUM(PG_GETARG_DATUM(argno));

	if (VARSIZE(v) == VARHDRSZ)
		return NULL;
	if ((uintptr_t) v % MAXIMUM_ALIGNOF != 0)
		v = PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(argno));
	check_state((KsState *) v, fname);
	return (KsState *) v;
}

/*
 * The transition state (argument 0), writable in place by an aggregate (a
 * private copy otherwise); NULL while it is the empty initial state.
 */
static KsState *
own_state(FunctionCallInfo fcinfo, const char *fname)
{
	struct varlena *v = (struct varlena *) PG_GETARG_POINTER(0);

	if (!AggCheckCallContext(fcinfo, NULL) || !VARATT_IS_4B_U(v) ||
		(uintptr_t) v % MAXIMUM_ALIGNOF != 0)
		v = PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(0));
	if (VARSIZE(v) == VARHDRSZ)
		return NULL;
	check_state((KsState *) v, fname);
	return (KsState *) v;
}

/* s (NULL: a new state) with room for more values: s, or a larger copy. */
static KsState *
ks_reserve(KsState *s, int64 extra)
{
	int64    capacity = s ? KS_CAPACITY(s) : 0;
	int64    used = s ? s->n_ref + s->n_cur : 0;
	KsState *grown;
	Size     size;

	if (used + extra <= capacity && s != NULL)
		return s;
	if (used + extra > KS_MAX_VALUES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many values for cs_ks_drift: at most %lld per aggregate",
						(long long) KS_MAX_VALUES),
				 errhint("Test a sample (TABLESAMPLE) or per group (GROUP BY).")));
	capacity = Min(Max(Max(capacity * 2, KS_INITIAL), used + extra), KS_MAX_VALUES);
	size = sizeof(KsState) + capacity * sizeof(double);
	grown = palloc0(size);
	SET_VARSIZE(grown, size);
	grown->magic = KS_MAGIC;
	grown->alpha = s ? s->alpha : KS_DEFAULT_ALPHA;
	if (s)
	{
		grown->n_ref = s->n_ref;
		grown->n_cur = s->n_cur;
		memcpy(KS_VALUES(grown), KS_VALUES(s), s->n_ref * sizeof(double));
		memcpy(KS_VALUES(grown) + capacity - s->n_cur,
			   KS_VALUES(s) + KS_CAPACITY(s) - s->n_cur,
			   s->n_cur * sizeof(double));
	}
	return grown;
}

/* cs_ks_drift_step(state bytea, value float8, is_current boolean) -> bytea */
Datum
cs_ks_drift_step(PG_FUNCTION_ARGS)
{
	KsState *s = own_state(fcinfo, "cs_ks_drift");
	double   x = PG_GETARG_FLOAT8(1);

	if (isnan(x))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cs_ks_drift was given a NaN value"),
				 errhint("Filter the rows (WHERE x <> 'NaN') or map NaN to NULL, which is "
						 "skipped.")));
	s = ks_reserve(s, 1);
	if (x == 0.0)
		x = 0.0; /* -0.0 is 0.0 */
	if (PG_GETARG_BOOL(2))
		KS_VALUES(s)[KS_CAPACITY(s) - ++s->n_cur] = x;
	else
		KS_VALUES(s)[s->n_ref++] = x;
	PG_RETURN_POINTER(s);
}

/* Appends the values of in (checked) to s (NULL: a new state). */
static KsState *
ks_merge(KsState *s, const KsState *in, const char *fname)
{
	const double *from = KS_VALUES(in);
	int64         cap_in = KS_CAPACITY(in);
	int64         i;
	bool          fresh = s == NULL;

	for (i = 0; i < in->n_ref; i++)
		if (isnan(from[i]))
			invalid_state(fname, "it holds a NaN");
	for (i = cap_in - in->n_cur; i < cap_in; i++)
		if (isnan(from[i]))
			invalid_state(fname, "it holds a NaN");
	s = ks_reserve(s, in->n_ref + in->n_cur);
	if (fresh)
		s->alpha = in->alpha;
	memcpy(KS_VALUES(s) + s->n_ref, from, in->n_ref * sizeof(double));
	s->n_ref += in->n_ref;
	memcpy(KS_VALUES(s) + KS_CAPACITY(s) - s->n_cur - in->n_cur,
		   from + cap_in - in->n_cur,
		   in->n_cur * sizeof(double));
	s->n_cur += in->n_cur;
	return s;
}

/* cs_ks_drift_combine(state bytea, other bytea) -> bytea */
Datum
cs_ks_drift_combine(PG_FUNCTION_ARGS)
{
	const char *fname = "cs_ks_drift_merge";
	KsState    *s = own_state(fcinfo, fname);
	KsState    *in = state_arg(fcinfo, 1, fname);

	if (in == NULL)
		PG_RETURN_POINTER(s ? s : (KsState *) PG_GETARG_POINTER(0));
	PG_RETURN_POINTER(ks_merge(s, in, fname));
}

/* cs_ks_drift_merge_step(state bytea, partial bytea, alpha float8) -> bytea */
Datum
cs_ks_drift_merge_step(PG_FUNCTION_ARGS)
{
	const char *fname = "cs_ks_drift_merge";
	KsState    *s = own_state(fcinfo, fname);
	KsState    *in = state_arg(fcinfo, 1, fname);
	double      alpha = PG_GETARG_FLOAT8(2);

	check_alpha(alpha);
	if (in != NULL)
		s = ks_merge(s, in, fname);
	if (s == NULL)
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	s->alpha = alpha;
	PG_RETURN_POINTER(s);
}

/* cs_ks_drift_state(state bytea) -> bytea: the _partial aggregate's result */
Datum
cs_ks_drift_state(PG_FUNCTION_ARGS)
{
	KsState *in = state_arg(fcinfo, 0, "cs_ks_drift_partial");
	KsState *out;
	Size     size;

	if (in == NULL)
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	/* a compact copy: the two samples back to back */
	size = sizeof(KsState) + (in->n_ref + in->n_cur) * sizeof(double);
	out = palloc(size);
	memcpy(out, in, sizeof(KsState));
	SET_VARSIZE(out, size);
	memcpy(KS_VALUES(out), KS_VALUES(in), in->n_ref * sizeof(double));
	memcpy(KS_VALUES(out) + in->n_ref,
		   KS_VALUES(in) + KS_CAPACITY(in) - in->n_cur,
		   in->n_cur * sizeof(double));
	PG_RETURN_POINTER(out);
}

/* A cs_ks_result (statistic, p_value, drifted) for the function's result type. */
static Datum
ks_result(FunctionCallInfo fcinfo, const cs_ks_test *t, double alpha)
{
	TupleDesc tupdesc;
	Datum     values[3];
	bool      nulls[3] = { false, false, false };

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "cs_ks_drift must return a composite type");
	tupdesc = BlessTupleDesc(tupdesc);
	values[0] = Float8GetDatum(t->statistic);
	values[1] = Float8GetDatum(t->p_value);
	values[2] = BoolGetDatum(t->p_value < alpha);
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

/* Tests the two samples of s (sorted copies); side_names say which is which. */
static void
ks_test_state(const KsState *s, const char *const side_names[2], cs_ks_test *out)
{
	double  *ref;
	double  *cur;
	cs_error err;
	int      side;

	for (side = 0; side < 2; side++)
	{
		int64 n = side ? s->n_cur : s->n_ref;

		if (n < 2)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the Kolmogorov-Smirnov test needs at least two values on each side; "
							"%s has %lld",
							side_names[side],
							(long long) n),
					 errhint("NULL values are skipped.")));
	}
	/* sorted copies: the state stays as it is (a window aggregate goes on with it) */
	ref = palloc(s->n_ref * sizeof(double));
	cur = palloc(s->n_cur * sizeof(double));
	memcpy(ref, KS_VALUES(s), s->n_ref * sizeof(double));
	memcpy(cur, KS_VALUES(s) + KS_CAPACITY(s) - s->n_cur, s->n_cur * sizeof(double));
	if (cs_sort_doubles(ref, s->n_ref, &err) != CS_OK ||
		cs_sort_doubles(cur, s->n_cur, &err) != CS_OK)
		cs_raise_core_error(&err, "cs_ks_drift");
	cs_ks_pvalue(s->n_ref, s->n_cur, cs_ks_statistic(ref, s->n_ref, cur, s->n_cur), out);
	pfree(ref);
	pfree(cur);
}

/* cs_ks_drift_final(state bytea) -> cs_ks_result; NULL without any value */
Datum
cs_ks_drift_final(PG_FUNCTION_ARGS)
{
	static const char *const sides[2] = { "the reference sample (is_current false)",
										  "the current sample (is_current true)" };
	KsState                 *s = state_arg(fcinfo, 0, "cs_ks_drift");
	cs_ks_test               t;

	if (s == NULL)
		PG_RETURN_NULL();
	ks_test_state(s, sides, &t);
	PG_RETURN_DATUM(ks_result(fcinfo, &t, s->alpha));
}

/* The values of one numeric column of a relation, as a cs_ks_drift state. */
static KsState *
relation_values(Oid relid, const char *column, bool is_current)
{
	AttrNumber  att = get_attnum(relid, column);
	const char *relname = get_rel_name(relid);
	cs_kind     kind;
	Oid         typid;
	char       *sql;
	KsState    *s = NULL;

	if (att == InvalidAttrNumber || att < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("relation \"%s\" has no column \"%s\"", relname, column)));
	typid = getBaseType(get_atttype(relid, att));
	if (!cs_type_kind(typid, &kind) || kind != CS_KIND_NUMERIC)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" of relation \"%s\" has type %s; the "
						"Kolmogorov-Smirnov "
						"test needs a numeric column",
						column,
						relname,
						format_type_be(typid))));
	sql =
		psprintf("SELECT %s.cs_ks_drift_partial((r.%s)::pg_catalog.float8, %s) "
				 "FROM %s AS r",
				 quote_identifier(get_namespace_name(cs_extension_schema())),
				 quote_identifier(column),
				 is_current ? "true" : "false",
				 quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), relname));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute(sql, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "cs_ks_drift: the query over the relation failed: %s", sql);
	{
		bool  isnull;
		Datum d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
		{
			struct varlena *v = (struct varlena *) PG_DETOAST_DATUM(d);

			if (VARSIZE(v) > VARHDRSZ)
			{
				s = SPI_palloc(VARSIZE(v));
				memcpy(s, v, VARSIZE(v));
				check_state(s, "cs_ks_drift");
			}
		}
	}
	SPI_finish();
	return s;
}

/* cs_ks_drift(reference regclass, current regclass, column text, alpha float8) */
Datum
cs_ks_drift_relations(PG_FUNCTION_ARGS)
{
	Oid         ref = PG_GETARG_OID(0);
	Oid         cur = PG_GETARG_OID(1);
	char       *column = text_to_cstring(PG_GETARG_TEXT_PP(2));
	double      alpha = PG_GETARG_FLOAT8(3);
	KsState    *a;
	KsState    *b;
	KsState    *s;
	const char *sides[2];
	cs_ks_test  t;

	check_alpha(alpha);
	a = relation_values(ref, column, false);
	b = relation_values(cur, column, true);
	s = a;
	if (b != NULL)
		s = ks_merge(s, b, "cs_ks_drift");
	if (s == NULL)
		s = ks_reserve(NULL, 0); /* no values at all: the check below names the relation */
	sides[0] = psprintf("column \"%s\" of relation \"%s\"", column, get_rel_name(ref));
	sides[1] = psprintf("column \"%s\" of relation \"%s\"", column, get_rel_name(cur));
	ks_test_state(s, sides, &t);
	PG_RETURN_DATUM(ks_result(fcinfo, &t, alpha));
}

/* ------------------------------------------------------- the profile */

/* ERROR: the model's stored profile is not what training writes. */
static void profile_corrupt(const char *model, const char *fmt, ...) pg_attribute_printf(2, 3)
	pg_attribute_noreturn();

static void
profile_corrupt(const char *model, const char *fmt, ...)
{
	char    msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("model \"%s\" has a malformed drift profile: %s", model, msg),
			 errhint("The registry row was edited; train the model again to rebuild its "
					 "profile.")));
}

/* Member key of a jsonb object container (NULL when absent). */
static JsonbValue *
profile_member(JsonbContainer *obj, const char *key)
{
	JsonbValue k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	return findJsonbValueFromContainer(obj, JB_FOBJECT, &k);
}

/* The object member key as a container, ERROR when it is not an object. */
static JsonbContainer *
profile_object(JsonbContainer *obj, const char *key, const char *model)
{
	JsonbValue *v = profile_member(obj, key);

	if (v == NULL || v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		profile_corrupt(model, "\"%s\" is not an object", key);
	return v->val.binary.data;
}

/* The array member key as a container and its length, ERROR when not an array. */
static JsonbContainer *
profile_array(JsonbContainer *obj, const char *key, const char *model, int *n)
{
	JsonbValue *v = profile_member(obj, key);

	if (v == NULL || v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		profile_corrupt(model, "\"%s\" is not an array", key);
	*n = JsonContainerSize(v->val.binary.data);
	return v->val.binary.data;
}

/* A JSON number as a double; ERROR naming what when it is not a finite number. */
static double
profile_double(JsonbValue *v, const char *what, const char *model)
{
	double x;

	if (v == NULL || v->type != jbvNumeric)
		profile_corrupt(model, "%s is not a number", what);
	x = DatumGetFloat8(
		DirectFunctionCall1(numeric_float8_no_overflow, NumericGetDatum(v->val.numeric)));
	if (!isfinite(x))
		profile_corrupt(model, "%s is not finite", what);
	return x;
}

/* A JSON number as a count: a whole number in [0, 2^53]. */
static uint64
profile_count(JsonbValue *v, const char *what, const char *model)
{
	double x = profile_double(v, what, model);

	if (!(x >= 0 && x <= 9007199254740992.0 && x == floor(x)))
		profile_corrupt(model, "%s is not a count", what);
	return (uint64) x;
}

/* Reads count doubles or counts of a JSON array member into a palloc'd array. */
static void *
profile_vector(JsonbContainer *obj, const char *key, bool counts, int expect, const char *model,
			   int *n_out)
{
	int             n;
	JsonbContainer *arr = profile_array(obj, key, model, &n);
	void           *out;
	int             i;

	if (expect >= 0 && n != expect)
		profile_corrupt(model, "\"%s\" has %d entries, not %d", key, n, expect);
	if (n > 1000000)
		profile_corrupt(model, "\"%s\" is too long", key);
	out = palloc(sizeof(uint64) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		JsonbValue *v = getIthJsonbValueFromContainer(arr, i);

		if (counts)
			((uint64 *) out)[i] = profile_count(v, key, model);
		else
			((double *) out)[i] = profile_double(v, key, model);
	}
	if (n_out)
		*n_out = n;
	return out;
}

/* Reads one profiled numeric distribution (a feature's or the score's). */
static void
parse_numeric(JsonbContainer *obj, cs_profile_feature *f, const char *model)
{
	JsonbContainer *ecdf = profile_object(obj, "ecdf", model);
	int             n;

	f->dist.edges = profile_vector(obj, "edges", false, -1, model, &n);
	if (n >= CS_PROFILE_BINS)
		profile_corrupt(model, "\"%s\" has too many edges", f->name);
	f->dist.n_edges = n;
	f->dist.counts = profile_vector(obj, "counts", true, n + 1, model, NULL);
	f->dist.points = profile_vector(ecdf, "points", false, -1, model, &n);
	if (n > CS_PROFILE_POINTS)
		profile_corrupt(model, "\"%s\" has too many ECDF points", f->name);
	f->dist.n_points = n;
	f->dist.cum = profile_vector(ecdf, "cum", true, n, model, NULL);
}

/* Reads one profiled feature (or the score, name NULL) and checks it against the model's. */
static void
parse_feature(JsonbContainer *obj, const cs_feature *schema_f, cs_profile_feature *f,
			  const char *model)
{
	JsonbValue *v;

	f->kind = schema_f ? schema_f->kind : CS_KIND_NUMERIC;
	f->name = schema_f ? schema_f->name : "score";
	if (schema_f)
	{
		v = profile_member(obj, "name");
		if (v == NULL || v->type != jbvString || v->val.string.len != strlen(schema_f->name) ||
			memcmp(v->val.string.val, schema_f->name, v->val.string.len) != 0)
			profile_corrupt(model, "its features differ from the model's at \"%s\"", f->name);
		v = profile_member(obj, "kind");
		if (v == NULL || v->type != jbvString ||
			strncmp(v->val.string.val,
					f->kind == CS_KIND_NUMERIC ? "numeric" : "categorical",
					v->val.string.len) != 0)
			profile_corrupt(model, "\"%s\" has the wrong kind", f->name);
	}
	f->n = profile_count(profile_member(obj, "n"), "n", model);
	f->missing = profile_count(profile_member(obj, "missing"), "missing", model);
	if (f->kind == CS_KIND_NUMERIC)
		parse_numeric(obj, f, model);
	else
	{
		int             n;
		int             k;
		JsonbContainer *levels = profile_array(obj, "levels", model, &n);

		if (n != schema_f->n_levels)
			profile_corrupt(model, "\"%s\" has other levels than the model", f->name);
		for (k = 0; k < n; k++)
		{
			v = getIthJsonbValueFromContainer(levels, k);
			if (v == NULL || v->type != jbvString ||
				v->val.string.len != strlen(schema_f->levels[k]) ||
				memcmp(v->val.string.val, schema_f->levels[k], v->val.string.len) != 0)
				profile_corrupt(model, "\"%s\" has other levels than the model", f->name);
		}
		f->n_levels = n;
		f->level_counts = profile_vector(obj, "counts", true, n, model, NULL);
		f->unseen = profile_count(profile_member(obj, "unseen"), "unseen", model);
	}
}

/* The model's profile, read from jsonb and checked against the model. */
static void
parse_profile(Jsonb *jb, const cs_model *m, const char *model, cs_profile *p)
{
	JsonbContainer *root = &jb->root;
	JsonbContainer *features;
	JsonbValue     *v;
	cs_error        err;
	int             n;
	int             j;

	if (!JB_ROOT_IS_OBJECT(jb))
		profile_corrupt(model, "it is not an object");
	v = profile_member(root, "version");
	if (v == NULL || profile_count(v, "version", model) != CS_PROFILE_VERSION)
		profile_corrupt(model, "its version is not %d", CS_PROFILE_VERSION);
	features = profile_array(root, "features", model, &n);
	if (n != m->schema.n_features)
		profile_corrupt(model, "it has %d features, the model %d", n, m->schema.n_features);
	memset(p, 0, sizeof(*p));
	p->n_features = n;
	p->features = palloc0(sizeof(cs_profile_feature) * Max(n, 1));
	for (j = 0; j < n; j++)
	{
		v = getIthJsonbValueFromContainer(features, j);
		if (v == NULL || v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
			profile_corrupt(model, "feature %d is not an object", j + 1);
		parse_feature(v->val.binary.data, &m->schema.features[j], &p->features[j], model);
	}
	parse_feature(profile_object(root, "score", model), NULL, &p->score, model);
	if (cs_profile_check(p, &err) != CS_OK)
		profile_corrupt(model, "%s", err.msg);
}

/* ------------------------------------------------------- the report */

/* One row of a report. */
typedef struct ReportRow
{
	const char *kind; /* feature, prediction, performance */
	const char *name;
	int64       n_reference;
	int64       n_current;
	double      ks_statistic; /* NaN: NULL */
	double      p_value;
	double      psi;
	double      reference_value;
	double      current_value;
	double      relative_change;
	const char *verdict; /* NULL: NULL */
} ReportRow;

/* What a report reads from the registry. */
typedef struct ReportModel
{
	CsModelRef      ref;
	char           *label; /* the reference as given */
	char           *name;
	const cs_model *model;
	cs_profile      profile;
	Jsonb          *test_metrics; /* cs_runs.metrics->'test', or NULL */
} ReportModel;

/* Resolves the model and reads its profile and its run's test metrics. */
static void
load_report_model(text *ref, ReportModel *rm, MemoryContext mcxt)
{
	MemoryContext caller = CurrentMemoryContext;
	Oid           argtypes[1] = { INT8OID };
	Datum         args[1];
	bool          isnull;
	Jsonb        *profile = NULL;
	char         *sql;

	rm->label = text_to_cstring(ref);
	cs_registry_resolve(rm->label, &rm->ref);
	rm->model = cs_cache_get(rm->ref.model_id, rm->ref.identity, mcxt, rm->label);
	sql = psprintf("SELECT m.name, m.profile, r.metrics OPERATOR(pg_catalog.->) 'test' "
				   "FROM %s m LEFT JOIN %s r ON r.run_id OPERATOR(pg_catalog.=) m.run_id "
				   "WHERE m.model_id OPERATOR(pg_catalog.=) $1",
				   cs_registry_table("cs_models"),
				   cs_registry_table("cs_runs"));
	args[0] = Int64GetDatum(rm->ref.model_id);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args(sql, 1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not read model \"%s\" from the registry", rm->label);
	{
		HeapTuple     tup = SPI_tuptable->vals[0];
		TupleDesc     desc = SPI_tuptable->tupdesc;
		MemoryContext old = MemoryContextSwitchTo(caller);
		Datum         d;

		rm->name = TextDatumGetCString(SPI_getbinval(tup, desc, 1, &isnull));
		d = SPI_getbinval(tup, desc, 2, &isnull);
		if (!isnull)
			profile = DatumGetJsonbPCopy(d);
		d = SPI_getbinval(tup, desc, 3, &isnull);
		rm->test_metrics = isnull ? NULL : DatumGetJsonbPCopy(d);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	if (profile == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" version %d has no drift profile", rm->name, rm->ref.version),
				 errdetail("Training stores the distributions a drift "
						   "report compares against; "
						   "this version has none."),
				 errhint("Train the model again.")));
	parse_profile(profile, rm->model, rm->label, &rm->profile);
}

/* How the report reads one column of the relation. */
typedef struct ReportColumn
{
	Oid      typid;
	FmgrInfo outfn;
} ReportColumn;

/* The relation's rows compared with the profile. */
typedef struct ReportScan
{
	cs_drift_acc *acc;   /* per feature */
	cs_drift_acc  score; /* the prediction */
	int64         n;     /* rows */
	bool          has_target;
	double       *p; /* scores of rows with a known outcome */
	uint8_t      *y;
	int64         n_labelled;
	int64         cap_labelled;
	MemoryContext mcxt; /* where p and y live */
} ReportScan;

/* Checks the relation's columns against the model; returns the query that reads them. */
static char *
report_query(Oid relid, const ReportModel *rm, ReportColumn *cols, bool *has_target)
{
	const cs_schema *schema = &rm->model->schema;
	StringInfoData   q;
	int              j;
	AttrNumber       att;

	initStringInfo(&q);
	appendStringInfoString(&q, "SELECT ");
	for (j = 0; j < schema->n_features; j++)
	{
		const cs_feature *f = &schema->features[j];
		cs_kind           kind;
		Oid               typid;
		Oid               outfunc;
		bool              isvarlena;

		att = get_attnum(relid, f->name);
		if (att == InvalidAttrNumber || att < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("relation \"%s\" has no column \"%s\", a feature "
							"of model \"%s\"",
							get_rel_name(relid),
							f->name,
							rm->label),
					 errhint("A drift report reads every feature of the model "
							 "by its name.")));
		typid = getBaseType(get_atttype(relid, att));
		if (!cs_type_kind(typid, &kind) ||
			(f->kind == CS_KIND_NUMERIC && kind != CS_KIND_NUMERIC && typid != BOOLOID))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of relation \"%s\" has type %s, but model \"%s\" "
							"expects a %s feature",
							f->name,
							get_rel_name(relid),
							format_type_be(typid),
							rm->label,
							f->kind == CS_KIND_NUMERIC ? "numeric" : "categorical")));
		cols[j].typid = typid;
		getTypeOutputInfo(typid, &outfunc, &isvarlena);
		fmgr_info(outfunc, &cols[j].outfn);
		appendStringInfo(&q, "%sr.%s", j ? ", " : "", quote_identifier(f->name));
	}
	att = get_attnum(relid, rm->model->meta.target);
	*has_target = att != InvalidAttrNumber && att > 0;
	if (*has_target)
	{
		Oid  typid = getBaseType(get_atttype(relid, att));
		Oid  outfunc;
		bool isvarlena;

		cols[j].typid = typid;
		getTypeOutputInfo(typid, &outfunc, &isvarlena);
		fmgr_info(outfunc, &cols[j].outfn);
		appendStringInfo(&q,
						 "%sr.%s",
						 schema->n_features ? ", " : "",
						 quote_identifier(rm->model->meta.target));
	}
	else if (schema->n_features == 0)
		appendStringInfoString(&q, "1");
	appendStringInfo(&q,
					 " FROM %s AS r",
					 quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
												get_rel_name(relid)));
	return q.data;
}

/* Adds one row of the relation to the scan. */
static void
scan_row(ReportScan *sc, const ReportModel *rm, ReportColumn *cols, Datum *values, bool *nulls,
		 double *input)
{
	const cs_model *m = rm->model;
	int             nf = m->schema.n_features;
	int             j;
	double          p;

	for (j = 0; j < nf; j++)
	{
		const cs_feature *f = &m->schema.features[j];

		if (nulls[j])
			input[j] = NAN;
		else if (f->kind == CS_KIND_NUMERIC)
			input[j] = cs_datum_number(values[j], cols[j].typid);
		else
		{
			size_t      len;
			const char *s = cs_datum_category(values[j], cols[j].typid, &cols[j].outfn, &len);

			input[j] = (double) cs_schema_level(f, s, len);
		}
		cs_drift_acc_add(&sc->acc[j], input[j]);
	}
	p = cs_model_predict(m, input);
	cs_drift_acc_add(&sc->score, p);
	sc->n++;
	if (sc->has_target && !nulls[nf])
	{
		size_t      len;
		const char *t = cs_datum_category(values[nf], cols[nf].typid, &cols[nf].outfn, &len);

		if (sc->n_labelled == sc->cap_labelled)
		{
			sc->cap_labelled = Max(sc->cap_labelled * 2, 1024);
			if ((Size) sc->cap_labelled * sizeof(double) > MaxAllocHugeSize)
				ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("too many rows")));
			sc->p = sc->p ? repalloc_huge(sc->p, sc->cap_labelled * sizeof(double)) :
							MemoryContextAllocHuge(sc->mcxt, sc->cap_labelled * sizeof(double));
			sc->y = sc->y ? repalloc_huge(sc->y, sc->cap_labelled) :
							MemoryContextAllocHuge(sc->mcxt, sc->cap_labelled);
		}
		sc->p[sc->n_labelled] = p;
		sc->y[sc->n_labelled++] =
			len == strlen(m->meta.positive) && memcmp(t, m->meta.positive, len) == 0;
	}
}

/* Reads the relation (as the calling role) into the scan's accumulators. */
static void
scan_relation(Oid relid, const ReportModel *rm, ReportScan *sc)
{
	const cs_model *m = rm->model;
	int             nf = m->schema.n_features;
	ReportColumn   *cols = palloc0(sizeof(ReportColumn) * (nf + 1));
	MemoryContext   caller = CurrentMemoryContext;
	MemoryContext   batch;
	char           *sql = report_query(relid, rm, cols, &sc->has_target);
	double         *input = palloc(sizeof(double) * Max(nf, 1));
	Datum          *values = palloc(sizeof(Datum) * (nf + 2));
	bool           *nulls = palloc(sizeof(bool) * (nf + 2));
	SPIPlanPtr      plan;
	Portal          portal;
	int             j;

	sc->mcxt = caller;
	sc->acc = palloc0(sizeof(cs_drift_acc) * Max(nf, 1));
	for (j = 0; j < nf; j++)
		cs_drift_acc_init(&sc->acc[j],
						  &rm->profile.features[j],
						  palloc0(sizeof(uint64) * cs_drift_acc_words(&rm->profile.features[j])));
	cs_drift_acc_init(&sc->score,
					  &rm->profile.score,
					  palloc0(sizeof(uint64) * cs_drift_acc_words(&rm->profile.score)));

	batch = AllocSetContextCreate(caller, "cs_drift_report rows", ALLOCSET_DEFAULT_SIZES);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	plan = SPI_prepare(sql, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "could not prepare the read of the relation: %s", sql);
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);
	for (;;)
	{
		uint64 i;

		CHECK_FOR_INTERRUPTS();
		SPI_cursor_fetch(portal, true, READ_BATCH);
		if (SPI_processed == 0)
			break;
		/* what a row allocates (detoasted text, output functions) lives per batch */
		MemoryContextSwitchTo(batch);
		for (i = 0; i < SPI_processed; i++)
		{
			heap_deform_tuple(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, values, nulls);
			scan_row(sc, rm, cols, values, nulls, input);
		}
		MemoryContextSwitchTo(caller);
		MemoryContextReset(batch);
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	SPI_finish();
	MemoryContextDelete(batch);
	if (sc->n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("relation \"%s\" has no rows to compare with model \"%s\"",
						get_rel_name(relid),
						rm->label)));
}

/* The row of one feature (or of the prediction). */
static void
distribution_row(ReportRow *row, const char *kind, const cs_drift_acc *acc)
{
	cs_ks_test t;

	cs_drift_ks(acc, &t);
	row->kind = kind;
	row->name = acc->ref->name;
	row->n_reference = (int64) acc->ref->n;
	row->n_current = (int64) acc->n;
	row->ks_statistic = t.statistic;
	row->p_value = t.p_value;
	row->psi = cs_drift_psi(acc);
	row->reference_value = NAN;
	row->current_value = NAN;
	row->relative_change = NAN;
	row->verdict = cs_psi_verdict(row->psi);
}

/* A number of the run's test metrics (NaN when absent). */
static double
test_metric(Jsonb *test, const char *key)
{
	JsonbValue *v;

	if (test == NULL || !JB_ROOT_IS_OBJECT(test))
		return NAN;
	v = profile_member(&test->root, key);
	if (v == NULL || v->type != jbvNumeric)
		return NAN;
	return DatumGetFloat8(
		DirectFunctionCall1(numeric_float8_no_overflow, NumericGetDatum(v->val.numeric)));
}

/* The performance rows: AUC, accuracy, log loss and Brier against the run's test figures. */
static int
performance_rows(ReportRow *rows, const ReportScan *sc, const ReportModel *rm)
{
	static const char *const names[4] = { "auc", "accuracy", "log_loss", "brier" };
	static const bool        higher_better[4] = { true, true, false, false };
	double                   current[4];
	double                   n_test = test_metric(rm->test_metrics, "n");
	size_t                   n = (size_t) sc->n_labelled;
	int                      k;

	current[0] = cs_auc(sc->p, sc->y, n);
	current[1] = n > 0 ? cs_accuracy(sc->p, sc->y, n, 0.5) : NAN;
	current[2] = cs_log_loss(sc->p, sc->y, n);
	current[3] = n > 0 ? cs_brier(sc->p, sc->y, n) : NAN;
	for (k = 0; k < 4; k++)
	{
		ReportRow *row = &rows[k];
		double     ref = test_metric(rm->test_metrics, names[k]);
		double     worse;

		memset(row, 0, sizeof(*row));
		row->kind = "performance";
		row->name = names[k];
		row->n_reference = isfinite(n_test) ? (int64) n_test : -1;
		row->n_current = sc->n_labelled;
		row->ks_statistic = row->p_value = row->psi = NAN;
		row->reference_value = ref;
		row->current_value = current[k];
		row->relative_change = ref != 0 ? (current[k] - ref) / ref : NAN;
		worse = higher_better[k] ? -row->relative_change : row->relative_change;
		row->verdict = isfinite(worse) ? (worse > PERF_DROP ? "degraded" : "stable") : NULL;
	}
	return 4;
}

/* A float8 column value (NULL when not finite). */
static void
put_double(Datum *values, bool *nulls, int c, double v)
{
	values[c] = Float8GetDatum(v);
	nulls[c] = !isfinite(v);
}

/* Writes the report to cs_drift_reports as the extension's owner; returns its id. */
static int64
record_report(const ReportModel *rm, Oid relid, const ReportRow *rows, int n_rows, double alpha)
{
	Oid   types[18] = { INT8OID, INT8OID,   TEXTOID,   INT4OID,   TEXTOID,   TEXTOID,
						TEXTOID, TEXTOID,   INT8OID,   INT8OID,   FLOAT8OID, FLOAT8OID,
						BOOLOID, FLOAT8OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, TEXTOID };
	char *run_by = GetUserNameFromId(GetUserId(), false);
	char *relation = DatumGetCString(DirectFunctionCall1(regclassout, ObjectIdGetDatum(relid)));
	Oid   save_user;
	int   save_sec;
	int64 report_id;
	SPIPlanPtr plan;
	int        i;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(cs_extension_owner(),
						   save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	if (SPI_execute(psprintf("SELECT pg_catalog.nextval(%s::pg_catalog.regclass)",
							 quote_literal_cstr(
								 cs_registry_table("cs_drift_reports_report_id_seq"))),
					false,
					1) != SPI_OK_SELECT)
		elog(ERROR, "could not number the drift report");
	{
		bool isnull;

		report_id =
			DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	plan = SPI_prepare(psprintf("INSERT INTO %s (report_id, model_id, model_name, model_version, "
								"relation, run_by, kind, name, n_reference, n_current, "
								"ks_statistic, p_value, ks_drifted, psi, reference_value, "
								"current_value, relative_change, verdict) VALUES ($1, $2, $3, "
								"$4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, "
								"$18)",
								cs_registry_table("cs_drift_reports")),
					   18,
					   types);
	if (plan == NULL)
		elog(ERROR, "could not prepare the drift report's insert");
	for (i = 0; i < n_rows; i++)
	{
		const ReportRow *r = &rows[i];
		Datum            values[18];
		bool             isnull[18];
		char             nulls[18];
		int              c;

		memset(isnull, 0, sizeof(isnull));
		values[0] = Int64GetDatum(report_id);
		values[1] = Int64GetDatum(rm->ref.model_id);
		values[2] = CStringGetTextDatum(rm->name);
		values[3] = Int32GetDatum(rm->ref.version);
		values[4] = CStringGetTextDatum(relation);
		values[5] = CStringGetTextDatum(run_by);
		values[6] = CStringGetTextDatum(r->kind);
		values[7] = CStringGetTextDatum(r->name);
		values[8] = Int64GetDatum(r->n_reference);
		isnull[8] = r->n_reference < 0;
		values[9] = Int64GetDatum(r->n_current);
		put_double(values, isnull, 10, r->ks_statistic);
		put_double(values, isnull, 11, r->p_value);
		values[12] = BoolGetDatum(r->p_value < alpha);
		isnull[12] = !isfinite(r->p_value);
		put_double(values, isnull, 13, r->psi);
		put_double(values, isnull, 14, r->reference_value);
		put_double(values, isnull, 15, r->current_value);
		put_double(values, isnull, 16, r->relative_change);
		values[17] = r->verdict ? CStringGetTextDatum(r->verdict) : (Datum) 0;
		isnull[17] = r->verdict == NULL;
		for (c = 0; c < 18; c++)
			nulls[c] = isnull[c] ? 'n' : ' ';
		if (SPI_execute_plan(plan, values, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not record the drift report");
	}
	SetUserIdAndSecContext(save_user, save_sec);
	SPI_finish();
	return report_id;
}

/* cs_drift_report(model text, relation regclass, alpha float8) -> one row per figure */
Datum
cs_drift_report(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid            relid = PG_GETARG_OID(1);
	double         alpha = PG_GETARG_FLOAT8(2);
	ReportModel    rm;
	ReportScan     sc;
	ReportRow     *rows;
	int            n_rows = 0;
	int64          report_id;
	int            j;
	int            i;

	check_alpha(alpha);
	memset(&rm, 0, sizeof(rm));
	memset(&sc, 0, sizeof(sc));
	load_report_model(PG_GETARG_TEXT_PP(0), &rm, fcinfo->flinfo->fn_mcxt);
	scan_relation(relid, &rm, &sc);

	rows = palloc0(sizeof(ReportRow) * (rm.profile.n_features + 5));
	for (j = 0; j < rm.profile.n_features; j++)
		distribution_row(&rows[n_rows++], "feature", &sc.acc[j]);
	distribution_row(&rows[n_rows++], "prediction", &sc.score);
	if (sc.has_target)
		n_rows += performance_rows(&rows[n_rows], &sc, &rm);
	report_id = record_report(&rm, relid, rows, n_rows, alpha);

	InitMaterializedSRF(fcinfo, 0);
	for (i = 0; i < n_rows; i++)
	{
		const ReportRow *r = &rows[i];
		Datum            values[13];
		bool             nulls[13];

		memset(nulls, 0, sizeof(nulls));
		values[0] = Int64GetDatum(report_id);
		values[1] = CStringGetTextDatum(r->kind);
		values[2] = CStringGetTextDatum(r->name);
		values[3] = Int64GetDatum(r->n_reference);
		nulls[3] = r->n_reference < 0;
		values[4] = Int64GetDatum(r->n_current);
		put_double(values, nulls, 5, r->ks_statistic);
		put_double(values, nulls, 6, r->p_value);
		values[7] = BoolGetDatum(r->p_value < alpha);
		nulls[7] = !isfinite(r->p_value);
		put_double(values, nulls, 8, r->psi);
		put_double(values, nulls, 9, r->reference_value);
		put_double(values, nulls, 10, r->current_value);
		put_double(values, nulls, 11, r->relative_change);
		values[12] = r->verdict ? CStringGetTextDatum(r->verdict) : (Datum) 0;
		nulls[12] = r->verdict == NULL;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
