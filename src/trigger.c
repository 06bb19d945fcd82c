/*
 * trigger.c - cs_score_trigger(model, column): fills a score column on
 * INSERT and UPDATE.
 *
 *   CREATE TRIGGER score BEFORE INSERT OR UPDATE ON loans
 *       FOR EACH ROW EXECUTE FUNCTION cs_score_trigger('credit_risk', 'p_default');
 *
 * With more arguments it also fills a text[] column with the principal
 * reasons of each declined applicant (reasons.c), NULL for an approved one:
 *
 *   cs_score_trigger(model, score_column, reasons_column [, n [, cutoff [, reason_table]]])
 *
 * n defaults to 4, cutoff to 0.5 (declined when score >= cutoff); the
 * reason table maps features to reason texts.
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
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/array.h"

#include "credit_scoring.h"

PG_FUNCTION_INFO_V1(cs_score_trigger);

typedef struct CsTriggerState
{
	CsModelHandle handle;
	int           score_attnum; /* 1-based */
	Oid           score_type;
	int           reasons_attnum; /* 0: no reasons column */
	int           n_reasons;
	double        cutoff;
	Oid           reason_table; /* InvalidOid: none */
	CsReasonTexts texts;
} CsTriggerState;

/* The attribute number of a column of the trigger's relation, or an error. */
static int
trigger_column(Relation rel, const char *column)
{
	int attnum = SPI_fnumber(RelationGetDescr(rel), column);

	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist",
						column,
						RelationGetRelationName(rel))));
	return attnum;
}

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
	if (trigger->tgnargs < 2 || trigger->tgnargs > 6)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cs_score_trigger takes the model and the score column, then optionally a "
						"reasons column, their number, the cutoff and a reason table"),
				 errhint("EXECUTE FUNCTION cs_score_trigger('credit_risk', 'score') or "
						 "cs_score_trigger('credit_risk', 'score', 'reasons', '4', '0.5')")));
	column = trigger->tgargs[1];
	attnum = trigger_column(rel, column);
	st->score_type = getBaseType(TupleDescAttr(RelationGetDescr(rel), attnum - 1)->atttypid);
	if (st->score_type != FLOAT8OID && st->score_type != FLOAT4OID && st->score_type != NUMERICOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("score column \"%s\" has type %s", column, format_type_be(st->score_type)),
				 errhint("Use a double precision, real or numeric column.")));
	st->score_attnum = attnum;
	if (trigger->tgnargs < 3)
		return;
	column = trigger->tgargs[2];
	st->reasons_attnum = trigger_column(rel, column);
	if (getBaseType(TupleDescAttr(RelationGetDescr(rel), st->reasons_attnum - 1)->atttypid) !=
		TEXTARRAYOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("reasons column \"%s\" has type %s",
						column,
						format_type_be(TupleDescAttr(RelationGetDescr(rel), st->reasons_attnum - 1)
										   ->atttypid)),
				 errhint("Use a text[] column.")));
	st->n_reasons = 4;
	st->cutoff = 0.5;
	if (trigger->tgnargs >= 4)
	{
		char *end;
		long  n = strtol(trigger->tgargs[3], &end, 10);

		if (*trigger->tgargs[3] == '\0' || *end != '\0' || n < 1 || n > 100)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the number of reasons must be an integer from 1 to 100, not \"%s\"",
							trigger->tgargs[3])));
		st->n_reasons = (int) n;
	}
	if (trigger->tgnargs >= 5)
	{
		char  *end;
		double c = strtod(trigger->tgargs[4], &end);

		if (*trigger->tgargs[4] == '\0' || *end != '\0' || !(c > 0 && c < 1))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the cutoff must be a number strictly between 0 and 1, not \"%s\"",
							trigger->tgargs[4])));
		st->cutoff = c;
	}
	if (trigger->tgnargs >= 6)
		st->reason_table =
			DatumGetObjectId(DirectFunctionCall1(regclassin, CStringGetDatum(trigger->tgargs[5])));
}

/* The score as a datum of the score column's type. */
static Datum
score_datum(const CsTriggerState *st, double p)
{
	if (st->score_type == FLOAT8OID)
		return Float8GetDatum(p);
	if (st->score_type == FLOAT4OID)
		return Float4GetDatum((float4) p);
	return DirectFunctionCall1(float8_numeric, Float8GetDatum(p));
}

/* The tuple with its score and, for a declined applicant, the reasons (else NULL). */
static HeapTuple
with_reasons(CsTriggerState *st, HeapTuple tuple, TupleDesc tupdesc, double p, MemoryContext mcxt)
{
	int   cols[2] = { st->score_attnum, st->reasons_attnum };
	Datum values[2];
	bool  nulls[2] = { false, true };

	values[0] = score_datum(st, p);
	values[1] = (Datum) 0;
	if (p >= st->cutoff)
	{
		CsReason reasons[100];
		double   reference_score;
		int      count;
		Datum   *texts;
		int      i;

		if (OidIsValid(st->reason_table) && !cs_reason_texts_current(&st->texts, st->reason_table))
			cs_reason_texts_load(&st->texts, st->reason_table, mcxt);
		count = cs_reasons_compute(st->handle.model,
								   st->handle.ref,
								   st->handle.input,
								   st->n_reasons,
								   st->cutoff,
								   reasons,
								   &reference_score);
		texts = palloc(sizeof(Datum) * Max(count, 1));
		for (i = 0; i < count; i++)
			texts[i] =
				CStringGetTextDatum(cs_reason_text(OidIsValid(st->reason_table) ? &st->texts : NULL,
												   st->handle.model,
												   reasons[i].feature,
												   NULL));
		values[1] =
			PointerGetDatum(construct_array(texts, count, TEXTOID, -1, false, TYPALIGN_INT));
		nulls[1] = false;
	}
	return heap_modify_tuple_by_cols(tuple, tupdesc, 2, cols, values, nulls);
}

/* cs_score_trigger(model, column [, reasons_column [, n [, cutoff [, reason_table]]]]) */
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

	if (st->reasons_attnum > 0)
		return PointerGetDatum(with_reasons(st, tuple, tupdesc, p, mcxt));
	score = score_datum(st, p);
	return PointerGetDatum(
		heap_modify_tuple_by_cols(tuple, tupdesc, 1, &st->score_attnum, &score, &isnull));
}
