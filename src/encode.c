/*
 * encode.c - from SQL values to the core's feature values.
 *
 * Integers, floats and numeric are numeric features; text, varchar, char,
 * boolean and enum columns are categorical, their category being the value's
 * text ("true"/"false" for booleans).  NULL is a missing value.  Training
 * (reader.c) and scoring (predict.c, trigger.c) share these conversions, so a
 * value means the same thing in both.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"

#include <math.h>

#include "credit_scoring.h"

/* The feature kind of a column type; false when the type cannot be a feature. */
bool
cs_type_kind(Oid typid, cs_kind *kind)
{
	Oid base = getBaseType(typid);

	switch (base)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
			*kind = CS_KIND_NUMERIC;
			return true;
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
		case NAMEOID:
		case CHAROID:
		case BOOLOID:
			*kind = CS_KIND_CATEGORICAL;
			return true;
		default:
			if (type_is_enum(base))
			{
				*kind = CS_KIND_CATEGORICAL;
				return true;
			}
			return false;
	}
}

/* A numeric datum as a double (a numeric NaN stays NaN). */
double
cs_datum_number(Datum d, Oid typid)
{
	switch (typid)
	{
		case INT2OID:
			return (double) DatumGetInt16(d);
		case INT4OID:
			return (double) DatumGetInt32(d);
		case INT8OID:
			return (double) DatumGetInt64(d);
		case FLOAT4OID:
			return (double) DatumGetFloat4(d);
		case FLOAT8OID:
			return DatumGetFloat8(d);
		case NUMERICOID:
			return DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow, d));
		case BOOLOID:
			return DatumGetBool(d) ? 1.0 : 0.0;
		default:
			elog(ERROR, "type %u is not numeric", typid);
	}
	return NAN; /* keep the compiler quiet */
}

/* A categorical datum as text; outfn is used for types other than text. */
const char *
cs_datum_category(Datum d, Oid typid, FmgrInfo *outfn, size_t *len)
{
	switch (typid)
	{
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			{
				text *t = DatumGetTextPP(d);

				*len = VARSIZE_ANY_EXHDR(t);
				return VARDATA_ANY(t);
			}
		case BOOLOID:
			*len = DatumGetBool(d) ? 4 : 5;
			return DatumGetBool(d) ? "true" : "false";
		default:
			{
				char *s = OutputFunctionCall(outfn, d);

				*len = strlen(s);
				return s;
			}
	}
}

/* The scoring value of a categorical feature from its text. */
static inline double
category_input(const cs_feature *f, const char *s, size_t len)
{
	return (double) cs_schema_level(f, s, len);
}

/* (Re)builds map for tupdesc; errors name the model and the missing column. */
void
cs_rowmap_build(CsRowMap *map, const cs_model *model, TupleDesc tupdesc, const char *model_label,
				MemoryContext mcxt)
{
	const cs_schema *schema = &model->schema;
	MemoryContext    old = MemoryContextSwitchTo(mcxt);
	int              i;

	if (map->attnum)
	{
		pfree(map->attnum);
		pfree(map->typid);
		pfree(map->outfn);
		pfree(map->values);
		pfree(map->nulls);
		FreeTupleDesc(map->tupdesc);
	}
	map->tupdesc = CreateTupleDescCopy(tupdesc);
	map->tupType = tupdesc->tdtypeid;
	map->tupTypmod = tupdesc->tdtypmod;
	map->natts = tupdesc->natts;
	map->attnum = palloc(sizeof(int) * Max(schema->n_features, 1));
	map->typid = palloc(sizeof(Oid) * Max(schema->n_features, 1));
	map->outfn = palloc0(sizeof(FmgrInfo) * Max(schema->n_features, 1));
	map->values = palloc(sizeof(Datum) * Max(tupdesc->natts, 1));
	map->nulls = palloc(sizeof(bool) * Max(tupdesc->natts, 1));

	for (i = 0; i < schema->n_features; i++)
	{
		const cs_feature *f = &schema->features[i];
		int               a;
		int               found = -1;
		cs_kind           kind;

		for (a = 0; a < tupdesc->natts; a++)
		{
			Form_pg_attribute att = TupleDescAttr(tupdesc, a);

			if (!att->attisdropped && strcmp(NameStr(att->attname), f->name) == 0)
			{
				found = a;
				break;
			}
		}
		if (found < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("row has no column \"%s\", a feature of model \"%s\"",
							f->name,
							model_label),
					 errhint("Rows are mapped to features by column name: pass a row of the table "
							 "the model was trained on, or a jsonb object.")));
		map->attnum[i] = found;
		map->typid[i] = getBaseType(TupleDescAttr(tupdesc, found)->atttypid);
		if (!cs_type_kind(map->typid[i], &kind) ||
			(f->kind == CS_KIND_NUMERIC && kind != CS_KIND_NUMERIC && map->typid[i] != BOOLOID))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" has type %s, but model \"%s\" expects a %s feature",
							f->name,
							format_type_be(TupleDescAttr(tupdesc, found)->atttypid),
							model_label,
							f->kind == CS_KIND_NUMERIC ? "numeric" : "categorical")));
		if (f->kind == CS_KIND_CATEGORICAL)
		{
			Oid  outfunc;
			bool isvarlena;

			getTypeOutputInfo(map->typid[i], &outfunc, &isvarlena);
			fmgr_info_cxt(outfunc, &map->outfn[i], mcxt);
		}
	}
	MemoryContextSwitchTo(old);
}

/* Fills input[] from deformed values according to map. */
void
cs_rowmap_inputs(const CsRowMap *map, const cs_model *model, double *input)
{
	int i;

	for (i = 0; i < model->schema.n_features; i++)
		cs_rowmap_input(map, model, i, input);
}

/* Fills input[i], feature i's value, from deformed values according to map. */
void
cs_rowmap_input(const CsRowMap *map, const cs_model *model, int i, double *input)
{
	const cs_feature *f = &model->schema.features[i];
	int               a = map->attnum[i];

	if (map->nulls[a])
		input[i] = NAN;
	else if (f->kind == CS_KIND_NUMERIC)
		input[i] = cs_datum_number(map->values[a], map->typid[i]);
	else
	{
		size_t      len;
		const char *s =
			cs_datum_category(map->values[a], map->typid[i], (FmgrInfo *) &map->outfn[i], &len);

		input[i] = category_input(f, s, len);
	}
}

/* The number held in a jsonb string for a numeric feature. */
static double
jsonb_string_number(const cs_feature *f, const char *s, int len)
{
	char  *buf = pnstrdup(s, len);
	char  *end;
	double v;

	errno = 0;
	v = strtod(buf, &end);
	if (end == buf || *end != '\0' || errno != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid value for numeric feature \"%s\": \"%s\"", f->name, buf)));
	pfree(buf);
	return v;
}

/*
 * An error naming the first feature of the model that a jsonb row has no key
 * for.  Scoring reads an absent key as NULL; an explanation of a row must not
 * silently explain a different applicant, so it asks for every feature (null
 * for a missing value).
 */
void
cs_jsonb_require_features(Jsonb *jb, const cs_model *model, const char *ref)
{
	int i;

	if (!JB_ROOT_IS_OBJECT(jb))
		return; /* cs_jsonb_inputs says what is wrong */
	for (i = 0; i < model->schema.n_features; i++)
	{
		const char *name = model->schema.features[i].name;
		JsonbValue  key;

		key.type = jbvString;
		key.val.string.val = (char *) name;
		key.val.string.len = strlen(name);
		if (findJsonbValueFromContainer(&jb->root, JB_FOBJECT, &key) == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("row has no key \"%s\", a feature of model \"%s\"", name, ref),
					 errhint("An explanation needs every feature of the model; give a missing "
							 "value as null.")));
	}
}

/* Fills input[] from the keys of a jsonb object (absent key = missing). */
void
cs_jsonb_inputs(Jsonb *jb, const cs_model *model, double *input)
{
	const cs_schema *schema = &model->schema;
	int              i;

	if (!JB_ROOT_IS_OBJECT(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a jsonb row must be an object mapping feature names to values")));

	for (i = 0; i < schema->n_features; i++)
	{
		const cs_feature *f = &schema->features[i];
		JsonbValue        key;
		JsonbValue       *v;

		key.type = jbvString;
		key.val.string.val = f->name;
		key.val.string.len = strlen(f->name);
		v = findJsonbValueFromContainer(&jb->root, JB_FOBJECT, &key);

		if (v == NULL || v->type == jbvNull)
			input[i] = NAN;
		else if (f->kind == CS_KIND_NUMERIC)
		{
			if (v->type == jbvNumeric)
				input[i] = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
															  NumericGetDatum(v->val.numeric)));
			else if (v->type == jbvBool)
				input[i] = v->val.boolean ? 1.0 : 0.0;
			else if (v->type == jbvString)
				input[i] = jsonb_string_number(f, v->val.string.val, v->val.string.len);
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("feature \"%s\" must be a number, not a JSON container", f->name)));
		}
		else
		{
			if (v->type == jbvString)
				input[i] = category_input(f, v->val.string.val, v->val.string.len);
			else if (v->type == jbvBool)
				input[i] =
					category_input(f, v->val.boolean ? "true" : "false", v->val.boolean ? 4 : 5);
			else if (v->type == jbvNumeric)
			{
				char *s = DatumGetCString(
					DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));

				input[i] = category_input(f, s, strlen(s));
			}
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("feature \"%s\" must be a string, not a JSON container", f->name)));
		}
	}
}
