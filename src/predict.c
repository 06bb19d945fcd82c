/*
 * predict.c - cs_predict: the probability of the positive class for a row.
 *
 * The row is a record (cs_predict('m', loans.*)) or a jsonb object.  A call
 * site keeps its state in fn_extra: the model reference it resolved, the
 * decoded model (pinned in the per-backend cache for the query's lifetime)
 * and how the row type's columns map to the model's features.  So per row
 * the work is deforming the tuple and one pass over the features.
 *
 * cs_predict(name text, ...) reads the registry and is STABLE;
 * cs_predict(blob bytea, ...) depends on its arguments alone and is IMMUTABLE.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "funcapi.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/typcache.h"

#include "credit_scoring.h"

PG_FUNCTION_INFO_V1(cs_predict_name_record);
PG_FUNCTION_INFO_V1(cs_predict_name_jsonb);
PG_FUNCTION_INFO_V1(cs_predict_blob_record);
PG_FUNCTION_INFO_V1(cs_predict_blob_jsonb);

/* The call site's handle, allocated on first use. */
CsModelHandle *
cs_call_site_handle(FunctionCallInfo fcinfo)
{
	if (fcinfo->flinfo->fn_extra == NULL)
		fcinfo->flinfo->fn_extra =
			MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(CsModelHandle));
	return (CsModelHandle *) fcinfo->flinfo->fn_extra;
}

/* Points the handle at a newly resolved model, forgetting the row mapping. */
static void
handle_set_model(CsModelHandle *h, const cs_model *model, MemoryContext mcxt)
{
	if (h->model != model)
	{
		h->model = model;
		h->map.tupType = InvalidOid;
		if (h->input)
			pfree(h->input);
		h->input = MemoryContextAlloc(mcxt, sizeof(double) * Max(model->schema.n_features, 1));
	}
}

/* The model named by ref, resolved once per call site and query. */
const cs_model *
cs_handle_by_name(CsModelHandle *h, text *ref, MemoryContext mcxt)
{
	size_t len = VARSIZE_ANY_EXHDR(ref);

	TimestampTz stmt = GetCurrentStatementStartTimestamp();

	/*
	 * Once per statement: a PL/pgSQL expression keeps its fn_extra for the
	 * whole transaction, yet must see a version promoted meanwhile.
	 */
	if (h->ref == NULL || h->ref_len != len || memcmp(h->ref, VARDATA_ANY(ref), len) != 0 ||
		h->resolved_at != stmt || h->resolved_lxid != MyProc->lxid)
	{
		char           *name = text_to_cstring(ref);
		CsModelRef      mref;
		const cs_model *model;

		cs_registry_resolve(name, &mref);
		model = cs_cache_get(mref.model_id, mref.identity, mcxt, name);
		if (h->ref)
			pfree(h->ref);
		h->ref = MemoryContextStrdup(mcxt, name);
		h->ref_len = len;
		h->model_id = mref.model_id;
		h->resolved_at = stmt;
		h->resolved_lxid = MyProc->lxid;
		handle_set_model(h, model, mcxt);
	}
	return h->model;
}

/*
 * The raw form of a blob argument worth remembering: an on-disk TOAST pointer
 * or an inline value (compressed or not).  Equal raw bytes mean equal
 * contents, so a row that passes the same stored blob as the row before is
 * recognised without fetching or decompressing it.
 */
static bool
blob_raw_form(Datum d, const char **raw, Size *len)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(d);

	if (VARATT_IS_EXTERNAL_ONDISK(v))
	{
		*raw = (const char *) v;
		*len = VARSIZE_EXTERNAL(v);
		return true;
	}
	if (VARATT_IS_EXTERNAL(v))
		return false; /* expanded or indirect: no stable bytes */
	*raw = (const char *) v;
	*len = VARSIZE_ANY(v);
	return true;
}

/* The model held in a blob: decoded once per distinct blob, compared per row. */
const cs_model *
cs_handle_by_blob(CsModelHandle *h, FunctionCallInfo fcinfo)
{
	MemoryContext mcxt = fcinfo->flinfo->fn_mcxt;
	const char   *raw = NULL;
	Size          raw_len = 0;
	bool          has_raw = blob_raw_form(PG_GETARG_DATUM(0), &raw, &raw_len);
	bytea        *blob;
	Size          len;

	if (h->model && has_raw && h->raw && h->raw_len == raw_len && memcmp(h->raw, raw, raw_len) == 0)
		return h->model;

	blob = PG_GETARG_BYTEA_PP(0);
	len = VARSIZE_ANY_EXHDR(blob);
	if (h->model == NULL || VARSIZE_ANY_EXHDR(h->blob) != len ||
		memcmp(VARDATA_ANY(h->blob), VARDATA_ANY(blob), len) != 0)
	{
		const cs_model *model = cs_cache_get_blob(blob, mcxt, &h->blob);

		if (h->ref == NULL)
			h->ref = MemoryContextStrdup(mcxt, "(blob)");
		handle_set_model(h, model, mcxt);
	}
	if (h->raw)
		pfree(h->raw);
	h->raw = NULL;
	if (has_raw)
	{
		h->raw = MemoryContextAlloc(mcxt, raw_len);
		memcpy(h->raw, raw, raw_len);
		h->raw_len = raw_len;
	}
	return h->model;
}

/* Fills h->input from a record argument, mapping its row type once. */
void
cs_handle_record_inputs(CsModelHandle *h, HeapTupleHeader td, MemoryContext mcxt)
{
	Oid           tupType = HeapTupleHeaderGetTypeId(td);
	int32         tupTypmod = HeapTupleHeaderGetTypMod(td);
	HeapTupleData tuple;

	if (h->map.tupType != tupType || h->map.tupTypmod != tupTypmod || h->map.attnum == NULL)
	{
		TupleDesc tupdesc = lookup_rowtype_tupdesc(tupType, tupTypmod);

		cs_rowmap_build(&h->map, h->model, tupdesc, h->ref, mcxt);
		ReleaseTupleDesc(tupdesc);
	}
	tuple.t_len = HeapTupleHeaderGetDatumLength(td);
	ItemPointerSetInvalid(&(tuple.t_self));
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = td;
	heap_deform_tuple(&tuple, h->map.tupdesc, h->map.values, h->map.nulls);
	cs_rowmap_inputs(&h->map, h->model, h->input);
}

/* Scores a record argument with the handle's model. */
static double
score_record(CsModelHandle *h, HeapTupleHeader td, MemoryContext mcxt)
{
	cs_handle_record_inputs(h, td, mcxt);
	return cs_model_predict(h->model, h->input);
}

/* cs_predict(model text, input record) */
Datum
cs_predict_name_record(PG_FUNCTION_ARGS)
{
	CsModelHandle *h = cs_call_site_handle(fcinfo);

	cs_handle_by_name(h, PG_GETARG_TEXT_PP(0), fcinfo->flinfo->fn_mcxt);
	PG_RETURN_FLOAT8(score_record(h, PG_GETARG_HEAPTUPLEHEADER(1), fcinfo->flinfo->fn_mcxt));
}

/* cs_predict(model text, input jsonb) */
Datum
cs_predict_name_jsonb(PG_FUNCTION_ARGS)
{
	CsModelHandle *h = cs_call_site_handle(fcinfo);

	cs_handle_by_name(h, PG_GETARG_TEXT_PP(0), fcinfo->flinfo->fn_mcxt);
	cs_jsonb_inputs(PG_GETARG_JSONB_P(1), h->model, h->input);
	PG_RETURN_FLOAT8(cs_model_predict(h->model, h->input));
}

/* cs_predict(model bytea, input record) */
Datum
cs_predict_blob_record(PG_FUNCTION_ARGS)
{
	CsModelHandle *h = cs_call_site_handle(fcinfo);

	cs_handle_by_blob(h, fcinfo);
	PG_RETURN_FLOAT8(score_record(h, PG_GETARG_HEAPTUPLEHEADER(1), fcinfo->flinfo->fn_mcxt));
}

/* cs_predict(model bytea, input jsonb) */
Datum
cs_predict_blob_jsonb(PG_FUNCTION_ARGS)
{
	CsModelHandle *h = cs_call_site_handle(fcinfo);

	cs_handle_by_blob(h, fcinfo);
	cs_jsonb_inputs(PG_GETARG_JSONB_P(1), h->model, h->input);
	PG_RETURN_FLOAT8(cs_model_predict(h->model, h->input));
}
