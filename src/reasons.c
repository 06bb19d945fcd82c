/*
 * reasons.c - reason codes: cs_reasons(model, row, n, cutoff, reason_texts),
 * and the reasons column of cs_score_trigger.
 *
 * A lender tells a declined applicant the principal reasons (US ECOA /
 * Regulation B: about four).  The reasons are the features with the largest
 * positive Shapley values toward default, measured not against the mean
 * applicant but against the applicants at the approval cutoff: the rows of
 * the reference sample kept at training scored nearest the cutoff, ten from
 * below and ten from above, weighted so that their mean margin is the
 * cutoff's (src/core/attrib.c).  The contributions then sum to how far the
 * applicant's margin lies above the cutoff's, and a feature is a reason when
 * the applicant's value moves the score toward decline compared with those
 * marginal applicants.  Values are exact for logistic regression
 * and tree models (single-reference Shapley values averaged over the
 * references), KernelSHAP for the network.
 *
 * The optional reason_texts table maps feature -> reason (and code); it is
 * read once per statement.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"

#include <math.h>

#include "cs_attrib.h"
#include "credit_scoring.h"

PG_FUNCTION_INFO_V1(cs_reasons_record);
PG_FUNCTION_INFO_V1(cs_reasons_jsonb);

#define MAX_REASONS 100

/* Reads the reason table into t (in mcxt); errors name the table and the column. */
void
cs_reason_texts_load(CsReasonTexts *t, Oid relid, MemoryContext mcxt)
{
	char          *relname;
	bool           has_code;
	MemoryContext  old;
	StringInfoData sql;
	uint64         i;

	t->relid = relid;
	t->lxid = MyProc->lxid;
	t->command = GetCurrentCommandId(false);
	t->n = 0;
	relname = DatumGetCString(DirectFunctionCall1(regclassout, ObjectIdGetDatum(relid)));
	if (get_attnum(relid, "feature") == InvalidAttrNumber ||
		get_attnum(relid, "reason") == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("reason table %s has no column \"%s\"",
						relname,
						get_attnum(relid, "feature") == InvalidAttrNumber ? "feature" : "reason"),
				 errhint("A reason table has the columns feature and reason (text), and "
						 "optionally code.")));
	has_code = get_attnum(relid, "code") != InvalidAttrNumber;
	initStringInfo(&sql);
	appendStringInfo(&sql,
					 "SELECT feature::text, reason::text, %s FROM %s",
					 has_code ? "code::text" : "NULL::text",
					 relname);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute(sql.data, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the reason table %s", relname);
	old = MemoryContextSwitchTo(mcxt);
	t->feature = palloc(sizeof(char *) * Max(SPI_processed, 1));
	t->reason = palloc(sizeof(char *) * Max(SPI_processed, 1));
	t->code = palloc(sizeof(char *) * Max(SPI_processed, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple tup = SPI_tuptable->vals[i];
		TupleDesc desc = SPI_tuptable->tupdesc;
		char     *feature = SPI_getvalue(tup, desc, 1);
		uint64    k;

		if (feature == NULL)
			continue;
		for (k = 0; k < (uint64) t->n; k++)
			if (strcmp(t->feature[k], feature) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_UNIQUE_VIOLATION),
						 errmsg("reason table %s names feature \"%s\" twice", relname, feature)));
		t->feature[t->n] = feature;
		t->reason[t->n] = SPI_getvalue(tup, desc, 2);
		t->code[t->n] = SPI_getvalue(tup, desc, 3);
		t->n++;
	}
	MemoryContextSwitchTo(old);
	SPI_finish();
}

/* The table's entry for a feature, or -1. */
static int
reason_entry(const CsReasonTexts *t, const char *feature)
{
	int k;

	for (k = 0; t != NULL && k < t->n; k++)
		if (strcmp(t->feature[k], feature) == 0)
			return k;
	return -1;
}

/* Whether a loaded table is still current: the same relation and SQL command. */
bool
cs_reason_texts_current(const CsReasonTexts *t, Oid relid)
{
	return t->relid == relid && t->lxid == MyProc->lxid && t->command == GetCurrentCommandId(false);
}

int
cs_reasons_compute(const cs_model *m, const char *ref, const double *input, int n, double cutoff,
				   CsReason *out, double *reference_score)
{
	int32    nf = m->schema.n_features;
	double  *phi;
	cs_error err;
	int      count = 0;
	int32    j;

	if (n < 1 || n > MAX_REASONS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("n must be between 1 and %d, not %d", MAX_REASONS, n),
				 errhint("Regulation B asks for the principal reasons: about four.")));
	if (!(cutoff > 0 && cutoff < 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cutoff must lie strictly between 0 and 1, not %g", cutoff),
				 errhint("The cutoff is the probability of default at and above which an "
						 "applicant is declined.")));
	cs_require_reference(m, ref, "reason codes");
	phi = palloc(sizeof(double) * (nf + 1));
	if (cs_cutoff_shap(m,
					   input,
					   cutoff,
					   cs_kernel_shap_default_samples(nf),
					   0,
					   cs_interrupt_pending,
					   NULL,
					   phi,
					   reference_score,
					   &err) != CS_OK)
		cs_raise_core_error(&err, "reason codes");
	/* the n largest positive contributions, ties in feature order */
	for (j = 0; j < nf; j++)
	{
		int at;

		if (!(phi[j] > 0))
			continue;
		at = count;
		while (at > 0 && out[at - 1].contribution < phi[j])
			at--;
		if (at >= n)
			continue;
		if (count < n)
			count++;
		memmove(out + at + 1, out + at, sizeof(CsReason) * (count - 1 - at));
		out[at].feature = j;
		out[at].contribution = phi[j];
	}
	pfree(phi);
	return count;
}

const char *
cs_reason_text(const CsReasonTexts *t, const cs_model *m, int feature, const char **code)
{
	const char *name = m->schema.features[feature].name;
	int         k = reason_entry(t, name);

	if (code != NULL)
		*code = k >= 0 ? t->code[k] : NULL;
	return k >= 0 && t->reason[k] != NULL ? t->reason[k] : name;
}

/* A call site's state. */
typedef struct CsReasonsState
{
	CsModelHandle handle;
	CsReasonTexts texts;
} CsReasonsState;

static Datum
reasons_rows(FunctionCallInfo fcinfo, bool jsonb_input)
{
	ReturnSetInfo  *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext   mcxt = fcinfo->flinfo->fn_mcxt;
	CsReasonsState *st = fcinfo->flinfo->fn_extra;
	const cs_model *m;
	CsReason        reasons[MAX_REASONS];
	double          reference_score;
	double          score;
	int             count;
	int             i;

	InitMaterializedSRF(fcinfo, 0);
	/* a NULL model, row, count or cutoff explains nothing, as a strict function would */
	for (i = 0; i < 4; i++)
		if (PG_ARGISNULL(i))
			return (Datum) 0;
	if (st == NULL)
		st = fcinfo->flinfo->fn_extra = MemoryContextAllocZero(mcxt, sizeof(CsReasonsState));
	m = cs_handle_by_name(&st->handle, PG_GETARG_TEXT_PP(0), mcxt);
	if (jsonb_input)
	{
		cs_jsonb_require_features(PG_GETARG_JSONB_P(1), m, st->handle.ref);
		cs_jsonb_inputs(PG_GETARG_JSONB_P(1), m, st->handle.input);
	}
	else
		cs_handle_record_inputs(&st->handle, PG_GETARG_HEAPTUPLEHEADER(1), mcxt);
	if (!PG_ARGISNULL(4) && !cs_reason_texts_current(&st->texts, PG_GETARG_OID(4)))
		cs_reason_texts_load(&st->texts, PG_GETARG_OID(4), mcxt);
	count = cs_reasons_compute(m,
							   st->handle.ref,
							   st->handle.input,
							   PG_GETARG_INT32(2),
							   PG_GETARG_FLOAT8(3),
							   reasons,
							   &reference_score);
	score = cs_model_predict(m, st->handle.input);
	for (i = 0; i < count; i++)
	{
		const cs_feature *f = &m->schema.features[reasons[i].feature];
		const char       *code;
		const char       *reason =
			cs_reason_text(PG_ARGISNULL(4) ? NULL : &st->texts, m, reasons[i].feature, &code);
		Datum values[8];
		bool  nulls[8] = { false, false, false, false, false, false, false, false };

		values[0] = Int32GetDatum(i + 1);
		values[1] = CStringGetTextDatum(f->name);
		values[2] = cs_input_text(f, st->handle.input[reasons[i].feature], &nulls[2]);
		values[3] = Float8GetDatum(reasons[i].contribution);
		nulls[4] = code == NULL;
		values[4] = code ? CStringGetTextDatum(code) : (Datum) 0;
		values[5] = CStringGetTextDatum(reason);
		values[6] = Float8GetDatum(score);
		values[7] = Float8GetDatum(reference_score);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* cs_reasons(model text, input record, n, cutoff, reason_texts) */
Datum
cs_reasons_record(PG_FUNCTION_ARGS)
{
	return reasons_rows(fcinfo, false);
}

/* cs_reasons(model text, input jsonb, n, cutoff, reason_texts) */
Datum
cs_reasons_jsonb(PG_FUNCTION_ARGS)
{
	return reasons_rows(fcinfo, true);
}
