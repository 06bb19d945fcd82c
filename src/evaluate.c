/*
 * evaluate.c - cs_evaluate: a model's metrics on a relation, as jsonb; and
 * cs_metrics, the same figures from a scores state (cs_scores_partial).
 *
 * cs_evaluate reads the relation with an SPI cursor as the calling role (so
 * grants and row-level security apply) and scores each row as cs_predict
 * does (the model cache, the row-type mapping), taking the label from the
 * model's target column and positive class.  The figures themselves come
 * from src/core (cs_evaluate_sorted): see src/core/README.md, "Evaluation".
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "evaluation.h"

PG_FUNCTION_INFO_V1(cs_evaluate);
PG_FUNCTION_INFO_V1(cs_metrics);

#define READ_BATCH 10000

/* Appends a double as a JSON number in its shortest exact form (null when not finite). */
void
cs_json_number(StringInfo buf, double v)
{
	char s[DOUBLE_SHORTEST_DECIMAL_LEN];

	if (!isfinite(v))
	{
		appendStringInfoString(buf, "null");
		return;
	}
	double_to_shortest_decimal_buf(v, s);
	appendStringInfoString(buf, s);
}

/* Appends ", "key": number". */
static void
key_number(StringInfo buf, const char *key, double v)
{
	appendStringInfo(buf, ", \"%s\": ", key);
	cs_json_number(buf, v);
}

/* ------------------------------------------------------ reading a relation */

/* ERROR for an amount that cannot weigh a cost. */
static double
check_amount(double w, bool isnull, const char *column)
{
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("amount column \"%s\" is NULL in a row", column),
				 errhint("Evaluate on a view that excludes those rows or gives them an amount.")));
	if (!(w >= 0.0) || isinf(w))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("amount column \"%s\" holds %g; amounts must be finite and not negative",
						column,
						w)));
	return w;
}

/* The 0-based index of column name in tupdesc; -1 when absent. */
static int
column_index(TupleDesc tupdesc, const char *name)
{
	int a;

	for (a = 0; a < tupdesc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, a);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return a;
	}
	return -1;
}

/* What reading a relation needs to know about its columns. */
typedef struct RelationColumns
{
	const char *model; /* the reference the user gave, for messages */
	int         target;
	Oid         target_type;
	FmgrInfo    target_out;
	int         amount; /* -1: none */
	Oid         amount_type;
} RelationColumns;

/* Finds the target and amount columns; ERROR when absent or of the wrong type. */
static void
find_columns(TupleDesc tupdesc, Oid relid, const char *model, const char *target,
			 const char *amount_column, RelationColumns *cols)
{
	cs_kind kind;

	cols->model = model;
	cols->target = column_index(tupdesc, target);
	if (cols->target < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("relation \"%s\" has no column \"%s\", the target of model \"%s\"",
						get_rel_name(relid),
						target,
						model),
				 errhint("Evaluate on a relation that holds the label in column \"%s\" (a view "
						 "can rename it).",
						 target)));
	cols->target_type = getBaseType(TupleDescAttr(tupdesc, cols->target)->atttypid);
	if (cols->target_type != TEXTOID && cols->target_type != VARCHAROID &&
		cols->target_type != BPCHAROID && cols->target_type != BOOLOID)
	{
		Oid  outfunc;
		bool isvarlena;

		getTypeOutputInfo(cols->target_type, &outfunc, &isvarlena);
		fmgr_info(outfunc, &cols->target_out);
	}
	cols->amount = -1;
	if (amount_column == NULL)
		return;
	cols->amount = column_index(tupdesc, amount_column);
	if (cols->amount < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("relation \"%s\" has no amount column \"%s\"",
						get_rel_name(relid),
						amount_column)));
	cols->amount_type = getBaseType(TupleDescAttr(tupdesc, cols->amount)->atttypid);
	if (!cs_type_kind(cols->amount_type, &kind) || kind != CS_KIND_NUMERIC)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("amount column \"%s\" has type %s, not a number",
						amount_column,
						format_type_be(TupleDescAttr(tupdesc, cols->amount)->atttypid))));
}

/* The label of a target value; ERROR at a third class. */
static uint8
row_label(Datum value, RelationColumns *cols, CsScoredRelation *out, char **negative,
		  MemoryContext keep)
{
	size_t      len;
	const char *t = cs_datum_category(value, cols->target_type, &cols->target_out, &len);

	if (len == strlen(out->positive) && memcmp(t, out->positive, len) == 0)
		return 1;
	if (*negative == NULL)
	{
		*negative = MemoryContextAlloc(keep, len + 1);
		memcpy(*negative, t, len);
		(*negative)[len] = '\0';
	}
	else if (strlen(*negative) != len || memcmp(*negative, t, len) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("target column \"%s\" holds more than the two classes of model \"%s\"",
						out->target,
						cols->model),
				 errdetail("Besides the positive class \"%s\" it holds \"%s\" and \"%.*s\".",
						   out->positive,
						   *negative,
						   (int) len,
						   t),
				 errhint("Evaluate on a view that maps the target to the model's two classes.")));
	return 0;
}

/* Scores every row of relid with the model named by ref. */
void
cs_score_relation(text *ref, Oid relid, const char *amount_column, MemoryContext mcxt,
				  CsScoredRelation *out)
{
	MemoryContext   caller = CurrentMemoryContext;
	MemoryContext   batch;
	char           *label = text_to_cstring(ref);
	CsModelHandle  *h = palloc0(sizeof(CsModelHandle));
	CsModelRef      mref;
	const cs_model *m;
	RelationColumns cols;
	char           *negative = NULL;
	size_t          capacity = 0;
	MemoryContext   old;
	Portal          portal;
	SPIPlanPtr      plan;
	char           *query;

	memset(out, 0, sizeof(*out));
	cs_registry_resolve(label, &mref);
	m = cs_handle_by_name(h, ref, mcxt);
	out->model = pstrdup(label);
	if (strchr(out->model, '@'))
		*strchr(out->model, '@') = '\0';
	out->version = mref.version;
	out->target = pstrdup(m->meta.target);
	out->positive = pstrdup(m->meta.positive);
	query = psprintf("SELECT * FROM %s",
					 quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
												get_rel_name(relid)));
	batch = AllocSetContextCreate(caller, "cs_evaluate batch", ALLOCSET_DEFAULT_SIZES);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	plan = SPI_prepare(query, 0, NULL);
	if (plan == NULL)
		elog(ERROR,
			 "could not prepare the read of the relation: %s",
			 SPI_result_code_string(SPI_result));
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);
	/* the columns are checked before any row is read, so an empty relation is checked too */
	old = MemoryContextSwitchTo(caller);
	find_columns(portal->tupDesc, relid, label, out->target, amount_column, &cols);
	cs_rowmap_build(&h->map, m, portal->tupDesc, label, mcxt);
	MemoryContextSwitchTo(old);
	for (;;)
	{
		uint64 i;

		CHECK_FOR_INTERRUPTS();
		SPI_cursor_fetch(portal, true, READ_BATCH);
		if (SPI_processed == 0)
			break;
		if (out->n + SPI_processed > capacity)
		{
			capacity = Max(capacity * 2, out->n + SPI_processed);
			out->rows = out->rows ? repalloc_huge(out->rows, capacity * sizeof(cs_scored)) :
									MemoryContextAllocHuge(caller, capacity * sizeof(cs_scored));
		}
		old = MemoryContextSwitchTo(batch);
		for (i = 0; i < SPI_processed; i++)
		{
			cs_scored *r = &out->rows[out->n];
			Datum     *values = h->map.values;
			bool      *nulls = h->map.nulls;

			heap_deform_tuple(SPI_tuptable->vals[i], h->map.tupdesc, values, nulls);
			if (nulls[cols.target])
			{
				out->n_skipped++;
				continue;
			}
			r->positive = row_label(values[cols.target], &cols, out, &negative, caller);
			r->weight = 1.0;
			if (cols.amount >= 0)
				r->weight = check_amount(nulls[cols.amount] ?
											 0.0 :
											 cs_datum_number(values[cols.amount], cols.amount_type),
										 nulls[cols.amount],
										 amount_column);
			cs_rowmap_inputs(&h->map, m, h->input);
			r->score = cs_model_predict(m, h->input);
			out->n++;
		}
		MemoryContextSwitchTo(old);
		MemoryContextReset(batch);
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	SPI_finish();
	MemoryContextDelete(batch);
}

/* ------------------------------------------------------------------ jsonb */

/* ERROR unless the costs are finite and not negative. */
static void
check_costs(double cost_fn, double cost_fp)
{
	if (!(cost_fn >= 0.0 && cost_fp >= 0.0) || isinf(cost_fn) || isinf(cost_fp))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("costs must be finite and not negative, not cost_fn %g and cost_fp %g",
						cost_fn,
						cost_fp),
				 errhint("cost_fn is what approving a defaulter costs, cost_fp what declining a "
						 "good payer costs.")));
}

/* One confidence band of the error analysis. */
static void
append_band(StringInfo buf, const char *name, uint64 n, uint64 errors, uint64 all_errors)
{
	appendStringInfo(buf, ", \"%s\": {\"n\": " UINT64_FORMAT, name, n);
	appendStringInfo(buf, ", \"errors\": " UINT64_FORMAT, errors);
	key_number(buf, "error_rate", n > 0 ? (double) errors / (double) n : NAN);
	key_number(buf,
			   "share_of_errors",
			   all_errors > 0 ? (double) errors / (double) all_errors : NAN);
	appendStringInfoChar(buf, '}');
}

/* The members of the evaluation object, the business object left open. */
static void
append_eval(StringInfo buf, const cs_eval *e, const cs_eval_options *opt)
{
	appendStringInfo(buf,
					 "\"n\": " UINT64_FORMAT ", \"n_positive\": " UINT64_FORMAT
					 ", \"n_negative\": " UINT64_FORMAT,
					 e->n,
					 e->n_pos,
					 e->n_neg);
	key_number(buf, "threshold", e->threshold);
	key_number(buf, "auc", e->auc.auc);
	appendStringInfoString(buf, ", \"auc_ci\": ");
	if (isnan(e->auc.lo))
		appendStringInfoString(buf, "null");
	else
	{
		appendStringInfoChar(buf, '[');
		cs_json_number(buf, e->auc.lo);
		appendStringInfoString(buf, ", ");
		cs_json_number(buf, e->auc.hi);
		appendStringInfoChar(buf, ']');
	}
	key_number(buf, "auc_var", e->auc.var);
	key_number(buf, "gini", e->gini);
	key_number(buf, "ks", e->ks);
	key_number(buf, "accuracy", e->rates.accuracy);
	key_number(buf, "precision", e->rates.precision);
	key_number(buf, "recall", e->rates.recall);
	key_number(buf, "specificity", e->rates.specificity);
	key_number(buf, "f1", e->rates.f1);
	key_number(buf, "log_loss", e->log_loss);
	key_number(buf, "brier", e->brier);
	key_number(buf, "rmse", e->rmse);
	key_number(buf, "mae", e->mae);
	appendStringInfo(buf,
					 ", \"confusion\": {\"tp\": " UINT64_FORMAT ", \"fp\": " UINT64_FORMAT
					 ", \"tn\": " UINT64_FORMAT ", \"fn\": " UINT64_FORMAT "}",
					 e->confusion.tp,
					 e->confusion.fp,
					 e->confusion.tn,
					 e->confusion.fn);

	appendStringInfo(buf, ", \"error_analysis\": {\"errors\": " UINT64_FORMAT, e->errors);
	key_number(buf, "error_rate", (double) e->errors / (double) e->n);
	append_band(buf, "high_confidence", e->confident_n, e->confident_errors, e->errors);
	append_band(buf, "low_confidence", e->unsure_n, e->unsure_errors, e->errors);
	appendStringInfoChar(buf, '}');

	appendStringInfoString(buf, ", \"business\": {\"cost_fn\": ");
	cs_json_number(buf, opt->cost_fn);
	key_number(buf, "cost_fp", opt->cost_fp);
	appendStringInfo(buf, ", \"approved\": " UINT64_FORMAT, e->approved);
	key_number(buf, "approval_rate", e->approval_rate);
	key_number(buf, "default_rate_approved", e->default_rate_approved);
	key_number(buf, "total_cost", e->total_cost);
	key_number(buf, "expected_cost", e->expected_cost);
	key_number(buf, "optimal_threshold", e->best_threshold);
	key_number(buf, "optimal_total_cost", e->best_total_cost);
	key_number(buf, "optimal_expected_cost", e->best_expected_cost);
	key_number(buf, "optimal_approval_rate", e->best_approval_rate);
}

/* Sorts rows and evaluates them; ERROR on a core failure. */
static void
evaluate_rows(cs_scored *rows, size_t n, const cs_eval_options *opt, cs_eval *e)
{
	cs_error err;

	cs_check_threshold(opt->threshold);
	check_costs(opt->cost_fn, opt->cost_fp);
	cs_scored_sort(rows, n);
	if (cs_evaluate_sorted(rows, n, opt, e, &err) != CS_OK)
		cs_raise_core_error(&err, "evaluating");
}

/*
 * cs_evaluate(model text, relation regclass, threshold float8, cost_fn float8,
 *             cost_fp float8, amount_column text) -> jsonb
 */
Datum
cs_evaluate(PG_FUNCTION_ARGS)
{
	CsScoredRelation sr;
	cs_eval_options  opt;
	cs_eval          e;
	StringInfoData   buf;
	Oid              relid;
	char            *amount_column;
	int              a;

	for (a = 0; a < 5; a++)
		if (PG_ARGISNULL(a))
			PG_RETURN_NULL();
	relid = PG_GETARG_OID(1);
	opt.threshold = PG_GETARG_FLOAT8(2);
	opt.cost_fn = PG_GETARG_FLOAT8(3);
	opt.cost_fp = PG_GETARG_FLOAT8(4);
	amount_column = PG_ARGISNULL(5) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(5));
	cs_check_threshold(opt.threshold);
	check_costs(opt.cost_fn, opt.cost_fp);

	cs_score_relation(PG_GETARG_TEXT_PP(0), relid, amount_column, fcinfo->flinfo->fn_mcxt, &sr);
	if (sr.n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("relation \"%s\" has no rows with a non-NULL \"%s\" to evaluate on",
						get_rel_name(relid),
						sr.target)));
	evaluate_rows(sr.rows, sr.n, &opt, &e);

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"model\": ");
	cs_json_append_string(&buf, sr.model);
	appendStringInfo(&buf, ", \"version\": %d, \"relation\": ", sr.version);
	cs_json_append_string(&buf, get_rel_name(relid));
	appendStringInfoString(&buf, ", \"target\": ");
	cs_json_append_string(&buf, sr.target);
	appendStringInfoString(&buf, ", \"positive\": ");
	cs_json_append_string(&buf, sr.positive);
	appendStringInfo(&buf, ", \"n_skipped\": " INT64_FORMAT ", ", sr.n_skipped);
	append_eval(&buf, &e, &opt);
	appendStringInfoString(&buf, ", \"amount_column\": ");
	if (amount_column)
		cs_json_append_string(&buf, amount_column);
	else
		appendStringInfoString(&buf, "null");
	appendStringInfoString(&buf, "}}");
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

/* cs_metrics(scores bytea, threshold float8, cost_fn float8, cost_fp float8) -> jsonb */
Datum
cs_metrics(PG_FUNCTION_ARGS)
{
	size_t          n;
	cs_scored      *rows = cs_scores_state_rows(PG_GETARG_BYTEA_P(0), &n);
	cs_eval_options opt;
	cs_eval         e;
	StringInfoData  buf;

	opt.threshold = PG_GETARG_FLOAT8(1);
	opt.cost_fn = PG_GETARG_FLOAT8(2);
	opt.cost_fp = PG_GETARG_FLOAT8(3);
	cs_check_threshold(opt.threshold);
	check_costs(opt.cost_fn, opt.cost_fp);
	if (rows == NULL)
		PG_RETURN_NULL();
	evaluate_rows(rows, n, &opt, &e);
	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	append_eval(&buf, &e, &opt);
	appendStringInfoString(&buf, "}}");
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}
