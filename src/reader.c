/*
 * reader.c - reading a relation into the core's column-major dataset.
 *
 * An SPI cursor fetches the target and the feature columns in batches; each
 * row is deformed once and its values written straight into the columns
 * (doubles, NaN for NULL, category codes for categorical columns).  The query
 * runs as the calling role, so privileges and row-level security apply, and
 * every identifier is quoted.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include <math.h>

#include "credit_scoring.h"

#define READ_BATCH 10000

/* State of the binary-target check: the distinct values seen so far. */
typedef struct TargetValues
{
	char       *first;
	char       *second;
	const char *target;
} TargetValues;

/* Records a target value; ERROR on a third distinct value. */
static void
note_target_value(TargetValues *tv, const char *s, size_t len)
{
	if (tv->first && strlen(tv->first) == len && memcmp(tv->first, s, len) == 0)
		return;
	if (tv->second && strlen(tv->second) == len && memcmp(tv->second, s, len) == 0)
		return;
	if (tv->first == NULL)
		tv->first = pnstrdup(s, len);
	else if (tv->second == NULL)
		tv->second = pnstrdup(s, len);
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("target column \"%s\" is not binary", tv->target),
				 errdetail("It has more than two distinct values, among them \"%s\", \"%s\" and "
						   "\"%.*s\".",
						   tv->first,
						   tv->second,
						   (int) len,
						   s),
				 errhint("Train on a view that maps the target to two values.")));
}

/* Estimated row count of a relation, 0 when unknown. */
static double
estimated_rows(Oid relid)
{
	HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	double    n = 0;

	if (HeapTupleIsValid(tup))
	{
		n = ((Form_pg_class) GETSTRUCT(tup))->reltuples;
		ReleaseSysCache(tup);
	}
	return n > 0 ? n : 0;
}

/* Builds the SELECT of target and features. */
static char *
build_query(Oid relid, const char *target, List *features)
{
	StringInfoData q;
	ListCell      *lc;

	initStringInfo(&q);
	appendStringInfo(&q, "SELECT %s", quote_identifier(target));
	foreach(lc, features)
		appendStringInfo(&q, ", %s", quote_identifier((char *) lfirst(lc)));
	appendStringInfo(&q,
					 " FROM %s",
					 quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
												get_rel_name(relid)));
	return q.data;
}

/* Creates the dataset whose columns match the cursor's result columns. */
static cs_dataset *
new_dataset(TupleDesc tupdesc, List *features)
{
	int          nf = list_length(features);
	const char **names = palloc(sizeof(char *) * nf);
	cs_kind     *kinds = palloc(sizeof(cs_kind) * nf);
	cs_dataset  *ds;
	cs_error     err;
	int          j;

	for (j = 0; j < nf; j++)
	{
		Oid typid = getBaseType(TupleDescAttr(tupdesc, j + 1)->atttypid);

		names[j] = list_nth(features, j);
		if (!cs_type_kind(typid, &kinds[j]))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" has type %s, which cannot be a feature",
							names[j],
							format_type_be(typid))));
	}
	ds = cs_dataset_new(nf, names, kinds, &err);
	if (ds == NULL)
		cs_raise_core_error(&err, "reading the relation");
	return ds;
}

/* Appends one deformed row to the dataset. */
static void
append_row(cs_dataset *ds, size_t row, Datum *values, bool *nulls, Oid *typids, FmgrInfo *outfns,
		   List *features, uint8_t label)
{
	int j;

	for (j = 0; j < ds->n_cols; j++)
	{
		cs_column *col = &ds->cols[j];
		double     v;

		if (nulls[j + 1])
			v = NAN;
		else if (col->kind == CS_KIND_NUMERIC)
		{
			v = cs_datum_number(values[j + 1], typids[j + 1]);
			if (isinf(v))
				ereport(ERROR,
						(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						 errmsg("column \"%s\" contains an infinite value",
								(char *) list_nth(features, j))));
		}
		else
		{
			size_t      len;
			const char *s = cs_datum_category(values[j + 1], typids[j + 1], &outfns[j + 1], &len);
			int32_t     code = cs_strdict_intern(col->dict, s, len);

			if (code < 0)
				ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
			v = (double) code;
		}
		col->values[row] = v;
	}
	ds->label[row] = label;
}

/* ERROR naming what needs the memory when bytes exceed max_memory_mb. */
void
cs_check_training_memory(double bytes, int max_memory_mb, const char *what)
{
	if (bytes > (double) max_memory_mb * 1024 * 1024)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s need %.0f MB, more than credit_scoring.max_training_memory (%d MB)",
						what,
						bytes / (1024 * 1024),
						max_memory_mb),
				 errhint("Raise credit_scoring.max_training_memory, train on fewer rows, or "
						 "group rare categories.")));
}

/* Reads target and features of a relation into a dataset (in a transaction). */
void
cs_read_relation(Oid relid, const char *target, const char *positive, List *features,
				 int max_memory_mb, CsReadResult *out)
{
	MemoryContext caller = CurrentMemoryContext;
	double        estimate = estimated_rows(relid);
	TargetValues  tv = { NULL, NULL, target };
	bool          positive_seen = false;
	Portal        portal;
	SPIPlanPtr    plan;
	TupleDesc     tupdesc;
	Oid          *typids;
	FmgrInfo     *outfns;
	Datum        *values;
	bool         *nulls;
	cs_dataset   *ds = NULL;
	cs_error      err;
	int           natts;
	int           a;
	size_t        plen = strlen(positive);
	char          msg[128];

	memset(out, 0, sizeof(*out));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	plan = SPI_prepare(build_query(relid, target, features), 0, NULL);
	if (plan == NULL)
		elog(ERROR,
			 "could not prepare the read of the relation: %s",
			 SPI_result_code_string(SPI_result));
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);

	for (;;)
	{
		uint64 i;

		CHECK_FOR_INTERRUPTS();
		SPI_cursor_fetch(portal, true, READ_BATCH);
		if (SPI_processed == 0)
			break;
		tupdesc = SPI_tuptable->tupdesc;
		if (ds == NULL)
		{
			MemoryContext old = MemoryContextSwitchTo(caller);

			natts = tupdesc->natts;
			ds = new_dataset(tupdesc, features);
			typids = palloc(sizeof(Oid) * natts);
			outfns = palloc0(sizeof(FmgrInfo) * natts);
			values = palloc(sizeof(Datum) * natts);
			nulls = palloc(sizeof(bool) * natts);
			for (a = 0; a < natts; a++)
			{
				Oid  outfunc;
				bool isvarlena;

				typids[a] = getBaseType(TupleDescAttr(tupdesc, a)->atttypid);
				getTypeOutputInfo(typids[a], &outfunc, &isvarlena);
				fmgr_info(outfunc, &outfns[a]);
			}
			MemoryContextSwitchTo(old);
		}
		cs_check_training_memory(((double) ds->n_rows + SPI_processed) * (8.0 * ds->n_cols + 1),
								 max_memory_mb,
								 "the relation's rows");
		if (cs_dataset_reserve(ds, ds->n_rows + SPI_processed, &err) != CS_OK)
			cs_raise_core_error(&err, "reading the relation");

		for (i = 0; i < SPI_processed; i++)
		{
			size_t      len;
			const char *t;
			uint8_t     label;

			heap_deform_tuple(SPI_tuptable->vals[i], tupdesc, values, nulls);
			if (nulls[0])
			{
				out->n_skipped++;
				continue;
			}
			t = cs_datum_category(values[0], typids[0], &outfns[0], &len);
			note_target_value(&tv, t, len);
			label = (len == plen && memcmp(t, positive, len) == 0);
			positive_seen |= label;
			append_row(ds, ds->n_rows, values, nulls, typids, outfns, features, label);
			ds->n_rows++;
		}
		SPI_freetuptable(SPI_tuptable);
		snprintf(msg, sizeof(msg), "read %zu rows", ds->n_rows);
		cs_job_report("reading", estimate > 0 ? Min(0.99, ds->n_rows / estimate) * 0.2 : 0, msg);
	}
	SPI_cursor_close(portal);
	SPI_finish();

	if (ds == NULL || ds->n_rows == 0)
	{
		if (ds)
			cs_dataset_free(ds);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("relation \"%s\" has no rows with a non-NULL target",
						get_rel_name(relid))));
	}
	if (!positive_seen)
	{
		cs_dataset_free(ds);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("positive class \"%s\" does not occur in target column \"%s\"",
						positive,
						target),
				 errhint("The column holds \"%s\"%s%s%s.",
						 tv.first,
						 tv.second ? " and \"" : "",
						 tv.second ? tv.second : "",
						 tv.second ? "\"" : "")));
	}
	if (tv.second == NULL)
	{
		cs_dataset_free(ds);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("target column \"%s\" has a single value, \"%s\"", target, tv.first),
				 errhint("Training needs rows of both classes.")));
	}
	out->ds = ds;
	out->n_read = ds->n_rows;
}
