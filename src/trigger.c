/*
 * trigger.c - cs_score_trigger(model, column): fills a score column on
 * INSERT and UPDATE.
 *
 *   CREATE TRIGGER score BEFORE INSERT OR UPDATE ON loans
 *       FOR EACH ROW EXECUTE FUNCTION cs_score_trigger('credit_risk', 'p_default');
 *
 * The model is resolved once per statement (the trigger's fn_extra lives as
 * long as the query), so a bulk INSERT decodes nothing per row.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/rel.h"

#include "credit_scoring.h"

PG_FUNCTION_INFO_V1(cs_score_trigger);

typedef struct CsTriggerState
{
	CsModelHandle handle;
	int           score_attnum; /* 1-based */
	Oid           score_type;
} CsTriggerState;

/* Checks the trigger's definition and finds the score column. */
static void
trigger_setup(CsTriggerState *st, TriggerData *trigdata)
{
	Trigger    *trigger = trigdata->tg_trigger;
	Relation    rel = trigdata->tg_relation;
	const char *column;
	int         attnum;

	if (!TRIGGER_FIRED_BEFORE(trigdata->tg_event) || !TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("cs_score_trigger must be fired BEFORE, FOR EACH ROW")));
	if (!TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) &&
		!TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("cs_score_trigger must be fired on INSERT or UPDATE")));
	if (trigger->tgnargs != 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cs_score_trigger takes two arguments: the model and the score column"),
				 errhint("EXECUTE FUNCTION cs_score_trigger('credit_risk', 'score')")));
	column = trigger->tgargs[1];
	attnum = SPI_fnumber(RelationGetDescr(rel), column);
	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist",
						column,
						RelationGetRelationName(rel))));
	st->score_type = getBaseType(TupleDescAttr(RelationGetDescr(rel), attnum - 1)->atttypid);
	if (st->score_type != FLOAT8OID && st->score_type != FLOAT4OID && st->score_type != NUMERICOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("score column \"%s\" has type %s", column, format_type_be(st->score_type)),
				 errhint("Use a double precision, real or numeric column.")));
	st->score_attnum = attnum;
}

/* cs_score_trigger(model, column) */
Datum
cs_score_trigger(PG_FUNCTION_ARGS)
{
	TriggerData    *trigdata = (TriggerData *) fcinfo->context;
	MemoryContext   mcxt = fcinfo->flinfo->fn_mcxt;
	CsTriggerState *st;
	HeapTuple       tuple;
	TupleDesc       tupdesc;
	double          p;
	Datum           score;
	bool            isnull = false;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("cs_score_trigger can only be called as a trigger")));
	if (fcinfo->flinfo->fn_extra == NULL)
	{
		st = MemoryContextAllocZero(mcxt, sizeof(CsTriggerState));
		trigger_setup(st, trigdata);
		fcinfo->flinfo->fn_extra = st;
	}
	st = (CsTriggerState *) fcinfo->flinfo->fn_extra;

	cs_handle_by_name(&st->handle, cstring_to_text(trigdata->tg_trigger->tgargs[0]), mcxt);
	tuple = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? trigdata->tg_newtuple :
														  trigdata->tg_trigtuple;
	tupdesc = RelationGetDescr(trigdata->tg_relation);
	if (st->handle.map.attnum == NULL || st->handle.map.tupType != tupdesc->tdtypeid)
		cs_rowmap_build(&st->handle.map, st->handle.model, tupdesc, st->handle.ref, mcxt);
	heap_deform_tuple(tuple, tupdesc, st->handle.map.values, st->handle.map.nulls);
	cs_rowmap_inputs(&st->handle.map, st->handle.model, st->handle.input);
	p = cs_model_predict(st->handle.model, st->handle.input);

	if (st->score_type == FLOAT8OID)
		score = Float8GetDatum(p);
	else if (st->score_type == FLOAT4OID)
		score = Float4GetDatum((float4) p);
	else
		score = DirectFunctionCall1(float8_numeric, Float8GetDatum(p));
	return PointerGetDatum(
		heap_modify_tuple_by_cols(tuple, tupdesc, 1, &st->score_attnum, &score, &isnull));
}
