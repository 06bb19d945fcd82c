/*
 * predict_columns.c - cs_predict(model, t.*) without building t.*.
 *
 * For cs_predict(model, t.*) the executor first forms the composite value
 * t.* (a copy of the whole row, flattened), which cs_predict then deforms
 * again: about half the time of scoring a simple model.  A planner support
 * function rewrites a call whose row argument is the whole-row reference of
 * a plain table (or materialized view, or partitioned table) into
 *
 *   cs_predict_columns(model, '{col1, col2, ...}', t.ctid, t.col1, t.col2, ...)
 *
 * which receives the columns the scan has already extracted.  The names
 * array maps them to features the way a record's column names do; t.ctid is
 * NULL exactly when the whole row would be (the null-extended side of an
 * outer join), and the result is then NULL, as for the strict original.  The
 * row of a view or a simple subquery, which the planner has turned into
 * ROW(expr, ...) with column names by then, is rewritten the same way, its
 * expressions passed instead of the composite.  Everything else (a row the
 * planner keeps as a composite, outer references, ROW(...) without names)
 * keeps the original call.
 */
#include "postgres.h"

#include "access/sysattr.h"
#include "access/table.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/pathnodes.h"
#include "nodes/supportnodes.h"
#include "parser/parse_func.h"
#include "parser/parsetree.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/typcache.h"

#include <math.h>

#include "credit_scoring.h"

PG_FUNCTION_INFO_V1(cs_predict_support);
PG_FUNCTION_INFO_V1(cs_predict_columns_name);
PG_FUNCTION_INFO_V1(cs_predict_columns_blob);

/* Arguments of cs_predict_columns before the columns: model, names, ctid. */
#define FIRST_COLUMN 3

/*
 * cs_predict_columns(model, names, marker, columns...) for a call of
 * cs_predict(model, row), or NULL when the function is not installed.
 */
static Node *
columns_call(FuncExpr *fe, List *names, Node *marker, List *columns)
{
	Oid       argtypes[3];
	Oid       target;
	List     *fname;
	Datum    *d;
	ListCell *lc;
	int       n = 0;
	FuncExpr *call;
	Const    *names_const;

	argtypes[0] = exprType(linitial(fe->args));
	argtypes[1] = TEXTARRAYOID;
	argtypes[2] = ANYOID;
	fname = list_make2(makeString(get_namespace_name(get_func_namespace(fe->funcid))),
					   makeString("cs_predict_columns"));
	target = LookupFuncName(fname, 3, argtypes, true);
	if (!OidIsValid(target))
		return NULL;
	d = palloc(sizeof(Datum) * Max(list_length(names), 1));
	foreach(lc, names)
		d[n++] = CStringGetTextDatum(strVal(lfirst(lc)));
	names_const =
		makeConst(TEXTARRAYOID,
				  -1,
				  InvalidOid,
				  -1,
				  PointerGetDatum(construct_array(d, n, TEXTOID, -1, false, TYPALIGN_INT)),
				  false,
				  false);
	call = makeFuncExpr(target,
						FLOAT8OID,
						lcons(linitial(fe->args), lcons(names_const, lcons(marker, columns))),
						InvalidOid,
						fe->inputcollid,
						COERCE_EXPLICIT_CALL);
	call->location = fe->location;
	return (Node *) call;
}

/* The whole-row Var of a table: its columns, marked by its ctid. */
static Node *
rewrite_table_row(FuncExpr *fe, PlannerInfo *root, Var *v)
{
	RangeTblEntry *rte;
	Relation       rel;
	TupleDesc      desc;
	List          *names = NIL;
	List          *columns = NIL;
	int            i;

	if (v->varattno != 0 || v->varlevelsup != 0 || v->varno < 1 ||
		v->varno > list_length(root->parse->rtable))
		return NULL;
	rte = rt_fetch(v->varno, root->parse->rtable);
	if (rte->rtekind != RTE_RELATION ||
		(rte->relkind != RELKIND_RELATION && rte->relkind != RELKIND_MATVIEW &&
		 rte->relkind != RELKIND_PARTITIONED_TABLE))
		return NULL;
	/* the row type must be the relation's own (not a ConvertRowtypeExpr target) */
	if (v->vartype != get_rel_type_id(rte->relid))
		return NULL;
	rel = table_open(rte->relid, NoLock); /* the planner holds a lock already */
	desc = RelationGetDescr(rel);
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		names = lappend(names, makeString(pstrdup(NameStr(att->attname))));
		columns = lappend(columns,
						  makeVar(v->varno,
								  att->attnum,
								  att->atttypid,
								  att->atttypmod,
								  att->attcollation,
								  0));
	}
	table_close(rel, NoLock);
	return columns_call(fe,
						names,
						(Node *) makeVar(v->varno,
										 SelfItemPointerAttributeNumber,
										 TIDOID,
										 -1,
										 InvalidOid,
										 0),
						columns);
}

/*
 * The row of a view or subquery that the planner pulled up: ROW(...) with the
 * column names.  It is never NULL as a whole (on the nullable side of an
 * outer join the planner wraps it in a PlaceHolderVar, which is left alone),
 * so the marker is a constant.
 */
static Node *
rewrite_pulled_up_row(FuncExpr *fe, RowExpr *r)
{
	List     *names = NIL;
	List     *columns = NIL;
	ListCell *lc;
	int       i = 0;

	if (r->colnames != NIL)
	{
		ListCell *lc_name;

		/* a RECORD row: the names come with it */
		if (list_length(r->colnames) != list_length(r->args))
			return NULL;
		forboth(lc_name, r->colnames, lc, r->args)
		{
			const char *name = strVal(lfirst(lc_name));

			if (name[0] == '\0')
				continue; /* a dropped column */
			names = lappend(names, makeString(pstrdup(name)));
			columns = lappend(columns, lfirst(lc));
		}
	}
	else if (r->row_typeid != RECORDOID)
	{
		/* a view's (or table's) row type: its attributes, dropped ones included */
		TupleDesc desc = lookup_rowtype_tupdesc_noerror(r->row_typeid, -1, true);

		if (desc == NULL)
			return NULL;
		if (desc->natts != list_length(r->args))
		{
			ReleaseTupleDesc(desc);
			return NULL;
		}
		foreach(lc, r->args)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i++);

			if (att->attisdropped)
				continue;
			names = lappend(names, makeString(pstrdup(NameStr(att->attname))));
			columns = lappend(columns, lfirst(lc));
		}
		ReleaseTupleDesc(desc);
	}
	else
		return NULL;
	return columns_call(fe, names, (Node *) makeBoolConst(true, false), columns);
}

/* The rewritten call, or NULL to keep the original. */
static Node *
rewrite_whole_row(SupportRequestSimplify *req)
{
	FuncExpr *fe = req->fcall;
	Node     *row;

	if (req->root == NULL || list_length(fe->args) != 2)
		return NULL;
	row = lsecond(fe->args);
	if (IsA(row, Var))
		return rewrite_table_row(fe, req->root, (Var *) row);
	if (IsA(row, RowExpr))
		return rewrite_pulled_up_row(fe, (RowExpr *) row);
	return NULL;
}

/* Planner support of cs_predict(model, record): the whole-row rewrite. */
Datum
cs_predict_support(PG_FUNCTION_ARGS)
{
	Node *rawreq = (Node *) PG_GETARG_POINTER(0);

	if (IsA(rawreq, SupportRequestSimplify))
		PG_RETURN_POINTER(rewrite_whole_row((SupportRequestSimplify *) rawreq));
	PG_RETURN_POINTER(NULL);
}

/*
 * Scores the columns with the handle's model: the column map is built once
 * per model from the names array and the arguments' types.
 */
static double
score_columns(FunctionCallInfo fcinfo, CsModelHandle *h)
{
	MemoryContext mcxt = fcinfo->flinfo->fn_mcxt;
	int           natts = PG_NARGS() - FIRST_COLUMN;
	int           i;

	if (h->map.attnum == NULL || h->map.tupType != RECORDOID || h->map.natts != natts)
	{
		ArrayType *arr = PG_GETARG_ARRAYTYPE_P(1);
		Datum     *names;
		bool      *name_nulls;
		int        n;
		TupleDesc  desc;

		deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &names, &name_nulls, &n);
		if (n != natts)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cs_predict_columns got %d column names for %d columns", n, natts)));
		desc = CreateTemplateTupleDesc(Max(natts, 1));
		for (i = 0; i < natts; i++)
		{
			if (name_nulls[i])
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("cs_predict_columns got a NULL column name")));
			TupleDescInitEntry(desc,
							   (AttrNumber) (i + 1),
							   TextDatumGetCString(names[i]),
							   get_fn_expr_argtype(fcinfo->flinfo, FIRST_COLUMN + i),
							   -1,
							   0);
		}
		desc->natts = natts;
		cs_rowmap_build(&h->map, h->model, desc, h->ref, mcxt);
		h->map.tupType = RECORDOID;
		FreeTupleDesc(desc);
	}
	/* float8 columns straight into the input; any other type through the row map */
	for (i = 0; i < h->model->schema.n_features; i++)
	{
		int a = h->map.attnum[i];

		if (h->map.typid[i] == FLOAT8OID && h->model->schema.features[i].kind == CS_KIND_NUMERIC)
			h->input[i] = PG_ARGISNULL(FIRST_COLUMN + a) ?
							  NAN :
							  DatumGetFloat8(PG_GETARG_DATUM(FIRST_COLUMN + a));
		else
		{
			h->map.nulls[a] = PG_ARGISNULL(FIRST_COLUMN + a);
			h->map.values[a] = h->map.nulls[a] ? (Datum) 0 : PG_GETARG_DATUM(FIRST_COLUMN + a);
			cs_rowmap_input(&h->map, h->model, i, h->input);
		}
	}
	return cs_model_predict(h->model, h->input);
}

/* cs_predict_columns(model text, names text[], VARIADIC "any"): see above */
Datum
cs_predict_columns_name(PG_FUNCTION_ARGS)
{
	CsModelHandle *h;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	h = cs_call_site_handle(fcinfo);
	cs_handle_by_name(h, PG_GETARG_TEXT_PP(0), fcinfo->flinfo->fn_mcxt);
	PG_RETURN_FLOAT8(score_columns(fcinfo, h));
}

/* cs_predict_columns(model bytea, names text[], VARIADIC "any"): see above */
Datum
cs_predict_columns_blob(PG_FUNCTION_ARGS)
{
	CsModelHandle *h;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	h = cs_call_site_handle(fcinfo);
	cs_handle_by_blob(h, fcinfo);
	PG_RETURN_FLOAT8(score_columns(fcinfo, h));
}
