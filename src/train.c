/*
 * train.c - what a training worker does with a request.
 *
 *   1. record the job (cs_job_state), say "started" to the caller
 *   2. read the relation as the calling role, in one transaction, and commit
 *   3. with no transaction or snapshot held: check, split, learn the feature
 *      schema, fit, evaluate on the validation and test splits, encode the
 *      blob; interrupts are checked between chunks of work
 *   4. register the run and the model and close the job, in one transaction
 *
 * A failure anywhere is recorded (job and run, with the message) in a fresh
 * transaction and sent to the caller, which re-raises it; a cancellation is
 * recorded as "cancelled".  The registry is written as the extension's owner,
 * so the caller needs no write access to it.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/shm_mq.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include <math.h>

#include "cs_mlp.h"
#include "credit_scoring.h"
#include "cs_attrib.h"
#include "cs_profile.h"

#define MIN_ROWS_PER_CLASS 10

/* One combination of a search, registered as a child run of the search. */
typedef struct CsChildRun
{
	char  *params_json; /* its effective hyperparameters */
	double mean;        /* mean fold score, NaN when a fold failed */
	double std;         /* population standard deviation of the fold scores */
	char  *folds_json;  /* the fold scores */
	char  *error;       /* why a fold failed, or NULL */
} CsChildRun;

/* The job's memory: what outlives the worker's transactions lives here. */
static MemoryContext job_mcxt = NULL;

typedef struct TrainJob
{
	CsJobShared   *shared;
	shm_mq_handle *mqh;
	Jsonb         *request;
	char          *request_text;
	int64          job_id;
	int64          run_id;
	bool           recorded; /* the job row exists */
	char          *relation;
	Oid            relid;
	char          *model_type;
	char          *target;
	char          *positive;
	char          *name;
	char          *experiment;
	List          *features;
	CsParams       params;
	CsSearch       search;
	StringInfoData search_json; /* the search's summary, for the run's metrics */
	List          *children;    /* CsChildRun: one per combination searched */
	TimestampTz    started;
	char           fingerprint[40]; /* of the rows read: see data_fingerprint() */
	double         seconds_read;
	double         seconds_train;
	double         seconds_evaluate;
	MemoryContext  mcxt;
} TrainJob;

/* Sends a message to the caller; a caller that is gone is not an error. */
static void
send_message(TrainJob *job, const char *data, Size len, bool nowait)
{
	(void) shm_mq_send(job->mqh, len, data, nowait, true);
}

/* Reports progress to cs_jobs and, as a NOTICE, to a waiting caller. */
static void notice(TrainJob *job, const char *phase, double progress, const char *fmt, ...)
	pg_attribute_printf(4, 5);

static void
notice(TrainJob *job, const char *phase, double progress, const char *fmt, ...)
{
	char    buf[1024];
	va_list ap;

	buf[0] = CS_MSG_NOTICE;
	va_start(ap, fmt);
	vsnprintf(buf + 1, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	cs_job_report(phase, progress, buf + 1);
	if (job->shared->wait)
		send_message(job, buf, strlen(buf + 1) + 1, true);
}

/* Seconds since t. */
static double
seconds_since(TimestampTz t)
{
	return (double) (GetCurrentTimestamp() - t) / 1e6;
}

/* Starts a transaction with SPI and a snapshot. */
static void
begin_xact(void)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
}

/* Commits the transaction begun by begin_xact. */
static void
commit_xact(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(job_mcxt);
}

/* An int64 column of the first result row. */
static int64
result_int64(int col)
{
	bool isnull;

	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, &isnull));
}

/* Parses the request into job. */
static void
parse_request(TrainJob *job)
{
	char         *oid_text;
	MemoryContext old = MemoryContextSwitchTo(job->mcxt);

	job->request =
		DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(job->request_text)));
	job->relation = cs_json_get_text(job->request, "relation");
	oid_text = cs_json_get_text(job->request, "relation_oid");
	job->relid = (Oid) strtoul(oid_text, NULL, 10);
	job->model_type = cs_json_get_text(job->request, "model_type");
	job->target = cs_json_get_text(job->request, "target");
	job->positive = cs_json_get_text(job->request, "positive");
	job->name = cs_json_get_text(job->request, "name");
	job->experiment = cs_json_get_text(job->request, "experiment");
	job->features = cs_json_get_text_list(job->request, "features");
	cs_search_parse(cs_model_type_from_name(job->model_type),
					cs_json_get_jsonb(job->request, "params"),
					&job->search);
	/* a search's winner replaces these once it is known */
	for (int c = 0; c < job->search.n_combos; c++)
		job->search.combos[c].threads = job->shared->threads;
	job->params = job->search.combos[0];
	MemoryContextSwitchTo(old);
}

/* Inserts the job row and tells the caller the job and run ids. */
static void
record_start(TrainJob *job)
{
	char *sql;
	Oid   types[5] = { INT4OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID };
	Datum values[5];
	char  msg[1 + 2 * sizeof(int64) + sizeof(int32)];
	char  appname[NAMEDATALEN];
	int32 pid = MyProcPid;

	begin_xact();
	sql = psprintf("INSERT INTO %s (job_id, run_id, status, phase, progress, pid, role, relation, "
				   "model_type, model_name) VALUES (nextval('%s'), nextval('%s'), 'running', "
				   "'starting', 0, $1, $2, $3, $4, $5) RETURNING job_id, run_id",
				   cs_registry_table("cs_job_state"),
				   cs_registry_table("cs_job_state_job_id_seq"),
				   cs_registry_table("cs_runs_run_id_seq"));
	values[0] = Int32GetDatum(MyProcPid);
	values[1] = CStringGetTextDatum(GetUserNameFromId(job->shared->current_user_id, false));
	values[2] = CStringGetTextDatum(job->relation);
	values[3] = CStringGetTextDatum(job->model_type);
	values[4] = CStringGetTextDatum(job->name);
	cs_registry_exec(sql, 5, types, values, NULL, SPI_OK_INSERT_RETURNING);
	job->job_id = result_int64(1);
	job->run_id = result_int64(2);
	commit_xact();
	job->recorded = true;

	snprintf(appname, sizeof(appname), "%s %lld", CS_JOB_APPNAME_PREFIX, (long long) job->job_id);
	pgstat_report_appname(appname);
	cs_job_report("starting", 0, "");

	msg[0] = CS_MSG_STARTED;
	memcpy(msg + 1, &job->job_id, sizeof(int64));
	memcpy(msg + 1 + sizeof(int64), &job->run_id, sizeof(int64));
	memcpy(msg + 1 + 2 * sizeof(int64), &pid, sizeof(int32));
	send_message(job, msg, sizeof(msg), false);
}

/* Progress callback of the core: stops on a pending interrupt. */
static int
training_progress(void *arg, double fraction, const char *message)
{
	if (InterruptPending && (QueryCancelPending || ProcDiePending))
		return 1;
	cs_job_report("training", 0.25 + 0.6 * fraction, message);
	return 0;
}

/* Raises a core error, turning a cancellation into the pending interrupt. */
static void
core_failed(const cs_error *err, const char *context)
{
	if (err->code == CS_ERR_CANCELLED)
		CHECK_FOR_INTERRUPTS();
	cs_raise_core_error(err, context);
}

/*
 * Appends {"n": .., "auc": .., ...} for the rows of one split part, scored
 * on the worker's threads; the scores are returned in *scores when it is
 * not NULL (the training profile reuses the training split's).  The training
 * split of a boosted model is not scored again: boosting left its margins
 * (cs_ensemble_train_predictions, the same numbers).
 */
static void
append_part_metrics(StringInfo buf, const char *part, const cs_model *m, const cs_dataset *ds,
					const size_t *rows, size_t n, int threads, double **scores)
{
	double     *p = palloc(sizeof(double) * Max(n, 1));
	uint8_t    *y = palloc(Max(n, 1));
	cs_error    err;
	size_t      i;
	double      vals[4];
	const char *names[4] = { "auc", "accuracy", "log_loss", "brier" };
	int         k;
	bool        reused;

	/* the training split: n is that of the rows boosting trained on */
	reused = scores != NULL && m->type == CS_MODEL_XGBOOST &&
			 cs_ensemble_train_predictions(m->u.ensemble, n, p);
	if (!reused && cs_score_rows_threads(m, ds, rows, n, p, threads, &err) != CS_OK)
		cs_raise_core_error(&err, "evaluating the model");
	CHECK_FOR_INTERRUPTS();
	for (i = 0; i < n; i++)
		y[i] = ds->label[rows[i]];
	vals[0] = cs_auc(p, y, n);
	vals[1] = cs_accuracy(p, y, n, 0.5);
	vals[2] = cs_log_loss(p, y, n);
	vals[3] = cs_brier(p, y, n);
	appendStringInfo(buf, "\"%s\": {\"n\": %zu", part, n);
	for (k = 0; k < 4; k++)
	{
		if (isnan(vals[k]))
			appendStringInfo(buf, ", \"%s\": null", names[k]);
		else
			appendStringInfo(buf, ", \"%s\": %s", names[k], float8out_internal(vals[k]));
	}
	appendStringInfoChar(buf, '}');
	if (scores)
		*scores = p;
	else
		pfree(p);
	pfree(y);
}

/* The training profile (JSON) that drift reports compare with: features and scores. */
static char *
training_profile(const cs_model *m, const cs_dataset *ds, const cs_split *split, double *scores)
{
	size_t        n = split->n[CS_PART_TRAIN];
	const size_t *rows = split->rows[CS_PART_TRAIN];
	char         *json;
	char         *result;
	cs_error      err;

	if (cs_profile_build(&m->schema, ds, rows, n, scores, &json, &err) != CS_OK)
		core_failed(&err, "profiling the training data");
	result = pstrdup(json);
	cs_free(json);
	pfree(scores);
	return result;
}

/* Appends what the fit reported: iterations, rounds, out-of-bag AUC, importance. */
static void
append_fit_info(StringInfo buf, const cs_model *m)
{
	if (m->type == CS_MODEL_LOGISTIC_REGRESSION)
	{
		appendStringInfo(buf, ", \"iterations\": %d", m->info.n_iter);
		return;
	}
	if (m->type == CS_MODEL_DNN)
	{
		const cs_mlp *n = m->u.mlp;
		int           e;

		/* the learning curve, for a BI tool to plot */
		appendStringInfo(buf,
						 ", \"epochs\": %d, \"best_epoch\": %d, \"train_loss\": [",
						 n->n_epochs,
						 n->best_epoch);
		for (e = 0; e < n->n_epochs; e++)
			appendStringInfo(buf, "%s%s", e ? ", " : "", float8out_internal(n->train_loss[e]));
		appendStringInfoString(buf, "], \"valid_loss\": [");
		for (e = 0; e < n->n_epochs; e++)
			appendStringInfo(buf,
							 "%s%s",
							 e ? ", " : "",
							 isnan(n->valid_loss[e]) ? "null" :
													   float8out_internal(n->valid_loss[e]));
		appendStringInfoChar(buf, ']');
		return;
	}
	if (m->type == CS_MODEL_XGBOOST)
		appendStringInfo(buf,
						 ", \"rounds\": %d, \"best_iteration\": %d",
						 m->info.n_rounds,
						 m->info.best_iteration);
	if (m->type == CS_MODEL_RANDOM_FOREST)
		appendStringInfo(buf,
						 ", \"oob_auc\": %s",
						 isnan(m->info.oob_auc) ? "null" : float8out_internal(m->info.oob_auc));
	{
		int32_t nf = m->schema.n_features;
		double *gain = palloc0(sizeof(double) * Max(nf, 1));
		double *cover = palloc0(sizeof(double) * Max(nf, 1));
		int32_t j;

		cs_ensemble_importance(m->u.ensemble, gain, cover, NULL);
		appendStringInfoString(buf, ", \"importance\": {");
		for (j = 0; j < nf; j++)
		{
			if (j > 0)
				appendStringInfoString(buf, ", ");
			escape_json(buf, m->schema.features[j].name);
			appendStringInfo(buf,
							 ": {\"gain\": %s, \"cover\": %s}",
							 float8out_internal(gain[j]),
							 float8out_internal(cover[j]));
		}
		appendStringInfoChar(buf, '}');
	}
}

/*
 * Verifies each monotone constraint on up to 1,000 training rows: the score
 * must move in the stated direction at every split point of the feature.
 */
static void
append_monotone_check(StringInfo buf, TrainJob *job, const cs_model *m, const cs_dataset *ds,
					  const cs_split *split)
{
	size_t  n = Min(split->n[CS_PART_TRAIN], 1000);
	double *inputs;
	int     i;

	if (m->type != CS_MODEL_XGBOOST || job->params.n_monotone == 0)
		return;
	if (cs_schema_inputs(&m->schema,
						 ds,
						 split->rows[CS_PART_TRAIN],
						 n,
						 &inputs,
						 &(cs_error){ 0 }) != CS_OK)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	appendStringInfoString(buf, ", \"monotone\": {");
	for (i = 0; i < job->params.n_monotone; i++)
	{
		int32    j;
		size_t   violations = 0;
		cs_error err;

		for (j = 0; j < m->schema.n_features; j++)
			if (strcmp(m->schema.features[j].name, job->params.monotone_names[i]) == 0)
				break;
		if (j == m->schema.n_features || job->params.monotone_dirs[i] == 0)
			continue;
		if (cs_check_monotone(m, inputs, n, j, job->params.monotone_dirs[i], &violations, &err) !=
			CS_OK)
			core_failed(&err, "checking monotonicity");
		appendStringInfo(buf, "%s", buf->data[buf->len - 1] == '{' ? "" : ", ");
		escape_json(buf, job->params.monotone_names[i]);
		appendStringInfo(buf,
						 ": {\"direction\": %d, \"rows\": %zu, \"violations\": %zu, "
						 "\"monotone\": %s}",
						 (int) job->params.monotone_dirs[i],
						 n,
						 violations,
						 violations == 0 ? "true" : "false");
	}
	appendStringInfoChar(buf, '}');
	cs_free(inputs);
}

/* Fits the model on the training split of ds; returns it prepared. */
static cs_model *
fit_model(TrainJob *job, cs_dataset *ds, cs_split *split)
{
	cs_model *m;
	cs_error  err;
	size_t    n = split->n[CS_PART_TRAIN];

	notice(job,
		   "training",
		   0.25,
		   "training %s on %zu rows with %d features",
		   job->model_type,
		   n,
		   ds->n_cols);
	cs_check_training_memory((double) ds->n_rows * (8.0 * ds->n_cols + 1) +
								 cs_fit_memory(&job->params, ds, n),
							 job->shared->max_memory_mb,
							 "the training data and its design matrix");
	if (cs_fit_model(&job->params,
					 ds,
					 split->rows[CS_PART_TRAIN],
					 n,
					 split->rows[CS_PART_VALID],
					 split->n[CS_PART_VALID],
					 training_progress,
					 job,
					 &m,
					 &err) != CS_OK)
		core_failed(&err, "training");

	m->meta.target = cs_malloc(strlen(job->target) + 1);
	m->meta.positive = cs_malloc(strlen(job->positive) + 1);
	if (!m->meta.target || !m->meta.positive)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	strcpy(m->meta.target, job->target);
	strcpy(m->meta.positive, job->positive);
	m->meta.threads = job->shared->threads;
	m->meta.n_valid = split->n[CS_PART_VALID];
	m->meta.n_test = split->n[CS_PART_TEST];
	return m;
}

/* Checks that each class has enough rows to be split. */
static void
check_class_counts(TrainJob *job, const cs_dataset *ds)
{
	size_t pos = 0;
	size_t i;

	for (i = 0; i < ds->n_rows; i++)
		pos += ds->label[i];
	if (pos < MIN_ROWS_PER_CLASS || ds->n_rows - pos < MIN_ROWS_PER_CLASS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("too few rows to train: %zu rows of class \"%s\" and %zu of the others",
						pos,
						job->positive,
						ds->n_rows - pos),
				 errhint("Each class needs at least %d rows for the 70/15/15 split.",
						 MIN_ROWS_PER_CLASS)));
}

/* Registers a search's combinations as child runs of the job's run. */
static void
register_children(TrainJob *job)
{
	ListCell *lc;
	int       rank_of;
	Oid       types[5] = { INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID };
	char     *sql;

	if (job->children == NIL)
		return;
	sql = psprintf("INSERT INTO %s (run_id, experiment_id, parent_run, job_id, model_type, status, "
				   "relation, target, positive, features, params, metrics, seed, threads, n_rows, "
				   "n_skipped, n_train, started_at, ended_at, error, created_by, request, "
				   "data_fingerprint) "
				   "SELECT nextval('%s'), experiment_id, run_id, job_id, model_type, $2, relation, "
				   "target, positive, features, $3::jsonb, $4::jsonb, seed, threads, n_rows, "
				   "n_skipped, n_train, started_at, ended_at, $5, created_by, "
				   "jsonb_build_object('search_of', run_id, 'params', $3::jsonb), "
				   "data_fingerprint FROM %s WHERE run_id = $1",
				   cs_registry_table("cs_runs"),
				   cs_registry_table("cs_runs_run_id_seq"),
				   cs_registry_table("cs_runs"));
	foreach(lc, job->children)
	{
		CsChildRun *child = (CsChildRun *) lfirst(lc);
		ListCell   *other;
		Datum       values[5];
		char        nulls[5] = { ' ', ' ', ' ', ' ', ' ' };

		/* rank by mean fold score, ties to the earlier combination */
		rank_of = 1;
		foreach(other, job->children)
		{
			CsChildRun *o = (CsChildRun *) lfirst(other);

			if (o == child)
				break;
			if (!o->error &&
				(child->error ||
				 (job->search.higher_is_better ? o->mean >= child->mean : o->mean <= child->mean)))
				rank_of++;
		}
		for (other = lnext(job->children, lc); other; other = lnext(job->children, other))
		{
			CsChildRun *o = (CsChildRun *) lfirst(other);

			if (!o->error &&
				(child->error ||
				 (job->search.higher_is_better ? o->mean > child->mean : o->mean < child->mean)))
				rank_of++;
		}
		values[0] = Int64GetDatum(job->run_id);
		values[1] = CStringGetTextDatum(child->error ? "failed" : "succeeded");
		values[2] = CStringGetTextDatum(child->params_json);
		values[3] = CStringGetTextDatum(
			child->error ? psprintf("{\"cv\": {\"metric\": \"%s\", \"folds\": %s, \"rank\": %d}}",
									job->search.metric,
									child->folds_json,
									rank_of) :
						   psprintf("{\"cv\": {\"metric\": \"%s\", \"folds\": %s, \"mean\": %s, "
									"\"std\": %s, \"rank\": %d}}",
									job->search.metric,
									child->folds_json,
									float8out_internal(child->mean),
									float8out_internal(child->std),
									rank_of));
		if (child->error)
			values[4] = CStringGetTextDatum(child->error);
		else
			nulls[4] = 'n';
		cs_registry_exec(sql, 5, types, values, nulls, SPI_OK_INSERT);
	}
}

/* Registers run and model and closes the job, in one transaction. */
static int32
register_model(TrainJob *job, const cs_model *m, const char *metrics, int64 n_read, int64 n_skipped,
			   const uint8_t *blob, size_t bloblen, const char *profile)
{
	Oid            types[18];
	Datum          values[18];
	bytea         *b = palloc(VARHDRSZ + bloblen);
	Datum         *feature_datums = palloc(sizeof(Datum) * Max(list_length(job->features), 1));
	StringInfoData timings;
	ListCell      *lc;
	int32          version;
	int            i = 0;

	SET_VARSIZE(b, VARHDRSZ + bloblen);
	memcpy(VARDATA(b), blob, bloblen);
	foreach(lc, job->features)
		feature_datums[i++] = CStringGetTextDatum((char *) lfirst(lc));
	initStringInfo(&timings);
	appendStringInfo(&timings,
					 "{\"read\": %.3f, \"train\": %.3f, \"evaluate\": %.3f, \"total\": %.3f}",
					 job->seconds_read,
					 job->seconds_train,
					 job->seconds_evaluate,
					 seconds_since(job->started));

	begin_xact();
	types[0] = TEXTOID;
	values[0] = CStringGetTextDatum(job->experiment);
	cs_registry_exec(psprintf("INSERT INTO %s (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
							  cs_registry_table("cs_experiments")),
					 1,
					 types,
					 values,
					 NULL,
					 SPI_OK_INSERT);

	for (i = 0; i < 18; i++)
		types[i] = TEXTOID;
	types[1] = INT8OID;
	types[9] = INT8OID;
	types[10] = INT4OID;
	types[11] = INT8OID;
	types[12] = INT8OID;
	types[13] = INT8OID;
	types[14] = INT8OID;
	types[15] = INT8OID;
	types[16] = INT8OID;
	values[1] = Int64GetDatum(job->run_id);
	values[2] = CStringGetTextDatum(job->model_type);
	values[3] = CStringGetTextDatum(job->relation);
	values[4] = CStringGetTextDatum(job->target);
	values[5] = CStringGetTextDatum(job->positive);
	types[6] = TEXTARRAYOID;
	values[6] = PointerGetDatum(construct_array(feature_datums,
												list_length(job->features),
												TEXTOID,
												-1,
												false,
												TYPALIGN_INT));
	values[7] = CStringGetTextDatum(cs_params_json(&job->params));
	values[8] = CStringGetTextDatum(metrics);
	values[9] = Int64GetDatum((int64) job->params.seed);
	values[10] = Int32GetDatum(job->shared->threads);
	values[11] = Int64GetDatum(n_read);
	values[12] = Int64GetDatum(n_skipped);
	values[13] = Int64GetDatum((int64) m->meta.n_train);
	values[14] = Int64GetDatum((int64) m->meta.n_valid);
	values[15] = Int64GetDatum((int64) m->meta.n_test);
	values[16] = Int64GetDatum(job->job_id);
	values[17] = CStringGetTextDatum(timings.data);
	cs_registry_exec(psprintf("INSERT INTO %s (run_id, experiment_id, job_id, model_type, status, "
							  "relation, target, positive, features, params, metrics, seed, "
							  "threads, "
							  "n_rows, n_skipped, n_train, n_valid, n_test, started_at, ended_at, "
							  "timings, created_by, request, data_fingerprint) "
							  "SELECT $2, experiment_id, $17, $3, 'succeeded', $4, $5, $6, $7, "
							  "$8::jsonb, $9::jsonb, $10, $11, $12, $13, $14, $15, $16, "
							  "(SELECT started_at FROM %s WHERE job_id = $17), now(), $18::jsonb, "
							  "(SELECT role FROM %s WHERE job_id = $17), %s::jsonb, %s "
							  "FROM %s WHERE name = $1",
							  cs_registry_table("cs_runs"),
							  cs_registry_table("cs_job_state"),
							  cs_registry_table("cs_job_state"),
							  quote_literal_cstr(job->request_text),
							  quote_literal_cstr(job->fingerprint),
							  cs_registry_table("cs_experiments")),
					 18,
					 types,
					 values,
					 NULL,
					 SPI_OK_INSERT);

	register_children(job);

	/* versions of one name are numbered under a lock on the name */
	types[0] = TEXTOID;
	values[0] = CStringGetTextDatum(job->name);
	cs_registry_exec("SELECT pg_advisory_xact_lock(hashtext('credit_scoring model ' || $1))",
					 1,
					 types,
					 values,
					 NULL,
					 SPI_OK_SELECT);
	types[1] = INT8OID;
	values[1] = Int64GetDatum(job->run_id);
	types[2] = TEXTOID;
	values[2] = CStringGetTextDatum(job->model_type);
	types[3] = BYTEAOID;
	values[3] = PointerGetDatum(b);
	types[4] = TEXTOID;
	values[4] = CStringGetTextDatum(profile);
	cs_registry_exec(psprintf("INSERT INTO %s (name, version, run_id, model_type, blob, "
							  "profile, created_by) "
							  "SELECT $1, coalesce(max(version), 0) + 1, $2, $3, $4, $5::jsonb, "
							  "(SELECT created_by FROM %s WHERE run_id = $2) "
							  "FROM %s WHERE name = $1 RETURNING version",
							  cs_registry_table("cs_models"),
							  cs_registry_table("cs_runs"),
							  cs_registry_table("cs_models")),
					 5,
					 types,
					 values,
					 NULL,
					 SPI_OK_INSERT_RETURNING);
	{
		bool isnull;

		version =
			DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	types[0] = INT8OID;
	values[0] = Int64GetDatum(job->job_id);
	types[1] = TEXTOID;
	values[1] = CStringGetTextDatum(psprintf("registered model %s version %d", job->name, version));
	cs_registry_exec(psprintf("UPDATE %s SET status = 'succeeded', phase = 'done', progress = 1, "
							  "message = $2, ended_at = now() WHERE job_id = $1",
							  cs_registry_table("cs_job_state")),
					 2,
					 types,
					 values,
					 NULL,
					 SPI_OK_UPDATE);
	commit_xact();
	return version;
}

/* Records a failed or cancelled job and its run. */
static void
record_failure(TrainJob *job, bool cancelled, const char *message)
{
	Oid         types[4] = { INT8OID, TEXTOID, TEXTOID, TEXTOID };
	Datum       values[4];
	const char *status = cancelled ? "cancelled" : "failed";
	double      progress;
	const char *phase = cs_job_last_phase(&progress);

	begin_xact();
	values[0] = Int64GetDatum(job->job_id);
	values[1] = CStringGetTextDatum(status);
	values[2] = CStringGetTextDatum(message);
	values[3] = CStringGetTextDatum(job->experiment ? job->experiment : "default");
	/* the phase and progress it had reached tell where it stopped */
	cs_registry_exec(psprintf("UPDATE %s SET status = $2, error = $3, ended_at = now(), "
							  "phase = %s, progress = %.4f WHERE job_id = $1",
							  cs_registry_table("cs_job_state"),
							  quote_literal_cstr(phase),
							  Min(Max(progress, 0.0), 1.0)),
					 3,
					 types,
					 values,
					 NULL,
					 SPI_OK_UPDATE);
	cs_registry_exec(psprintf("INSERT INTO %s (name) VALUES ($4) ON CONFLICT (name) DO NOTHING",
							  cs_registry_table("cs_experiments")),
					 4,
					 types,
					 values,
					 NULL,
					 SPI_OK_INSERT);
	cs_registry_exec(
		psprintf("INSERT INTO %s (run_id, experiment_id, job_id, model_type, status, "
				 "relation, target, positive, features, params, seed, threads, "
				 "started_at, ended_at, error, created_by, request) "
				 "SELECT j.run_id, e.experiment_id, j.job_id, j.model_type, $2, "
				 "j.relation, r->>'target', r->>'positive', "
				 "ARRAY(SELECT jsonb_array_elements_text(r->'features')), r->'params', "
				 "coalesce((r->'params'->>'seed')::bigint, 42), %d, j.started_at, now(), "
				 "$3, j.role, r "
				 "FROM %s j, %s e, (SELECT %s::jsonb AS r) req "
				 "WHERE j.job_id = $1 AND e.name = $4",
				 cs_registry_table("cs_runs"),
				 job->shared->threads,
				 cs_registry_table("cs_job_state"),
				 cs_registry_table("cs_experiments"),
				 quote_literal_cstr(job->request_text)),
		4,
		types,
		values,
		NULL,
		SPI_OK_INSERT);
	commit_xact();
}

/* Sends the error to the caller: sqlstate, message, detail, hint. */
static void
send_error(TrainJob *job, ErrorData *edata, const char *message)
{
	StringInfoData buf;
	int32          code = edata->sqlerrcode;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, CS_MSG_ERROR);
	appendBinaryStringInfo(&buf, (char *) &code, sizeof(int32));
	appendBinaryStringInfo(&buf, message, strlen(message) + 1);
	appendBinaryStringInfo(&buf,
						   edata->detail ? edata->detail : "",
						   strlen(edata->detail ? edata->detail : "") + 1);
	appendBinaryStringInfo(&buf,
						   edata->hint ? edata->hint : "",
						   strlen(edata->hint ? edata->hint : "") + 1);
	send_message(job, buf.data, buf.len, false);
}


/* Progress callback of a search's fits: stops on a pending interrupt. */
static int
search_progress(void *arg, double fraction, const char *message)
{
	return InterruptPending && (QueryCancelPending || ProcDiePending);
}

/* Cross-validates one combination; fills child. */
static void
cross_validate(TrainJob *job, int c, const cs_dataset *ds, const size_t *rows, size_t n,
			   const size_t *valid, size_t n_valid, const int32 *fold, CsChildRun *child)
{
	CsSearch      *s = &job->search;
	size_t        *in = palloc(sizeof(size_t) * Max(n, 1));
	size_t        *out = palloc(sizeof(size_t) * Max(n, 1));
	double        *p = palloc(sizeof(double) * Max(n, 1));
	uint8_t       *y = palloc(Max(n, 1));
	StringInfoData folds;
	double         sum = 0;
	double         sumsq = 0;
	int            f;

	initStringInfo(&folds);
	appendStringInfoChar(&folds, '[');
	child->params_json = cs_params_json(&s->combos[c]);
	child->error = NULL;
	for (f = 0; f < s->folds; f++)
	{
		size_t    n_in = 0;
		size_t    n_out = 0;
		size_t    i;
		cs_model *m;
		cs_error  err;
		double    score;
		char      msg[128];

		snprintf(msg,
				 sizeof(msg),
				 "combination %d/%d, fold %d/%d",
				 c + 1,
				 s->n_combos,
				 f + 1,
				 s->folds);
		cs_job_report("searching",
					  0.2 + 0.5 * ((double) c * s->folds + f) / ((double) s->n_combos * s->folds),
					  msg);
		for (i = 0; i < n; i++)
		{
			if (fold[i] == f)
				out[n_out++] = rows[i];
			else
				in[n_in++] = rows[i];
		}
		if (cs_fit_model(&s->combos[c],
						 ds,
						 in,
						 n_in,
						 valid,
						 n_valid,
						 search_progress,
						 job,
						 &m,
						 &err) != CS_OK)
		{
			if (err.code == CS_ERR_CANCELLED || err.code == CS_ERR_NOMEM || err.code == CS_ERR_BLAS)
				core_failed(&err, "cross-validation");
			/* a combination that cannot be fitted is ranked last, as scikit-learn does */
			child->error = psprintf("fold %d: %s", f + 1, err.msg);
			break;
		}
		if (cs_score_rows(m, ds, out, n_out, p, &err) != CS_OK)
			core_failed(&err, "cross-validation");
		cs_model_free(m);
		for (i = 0; i < n_out; i++)
			y[i] = ds->label[out[i]];
		score = cs_search_metric(s, p, y, n_out);
		sum += score;
		sumsq += score * score;
		appendStringInfo(&folds, "%s%s", f ? ", " : "", float8out_internal(score));
		CHECK_FOR_INTERRUPTS();
	}
	appendStringInfoChar(&folds, ']');
	child->folds_json = folds.data;
	child->mean = child->error ? NAN : sum / s->folds;
	child->std = child->error ? NAN : sqrt(Max(sumsq / s->folds - child->mean * child->mean, 0.0));
	pfree(in);
	pfree(out);
	pfree(p);
	pfree(y);
}

/*
 * Scores every combination of the search by stratified k-fold
 * cross-validation on the training split and makes the best one (by mean
 * fold score, ties to the first) the job's params; the final model is then
 * refitted on the whole training split like a single fit.
 */
static void
run_search(TrainJob *job, const cs_dataset *ds, const cs_split *split)
{
	CsSearch     *s = &job->search;
	size_t        n = split->n[CS_PART_TRAIN];
	const size_t *rows = split->rows[CS_PART_TRAIN];
	int32        *fold = palloc(sizeof(int32) * Max(n, 1));
	CsChildRun   *children = palloc0(sizeof(CsChildRun) * s->n_combos);
	cs_error      err;
	int           winner = -1;
	int           c;

	if (cs_kfold_stratified(ds, rows, n, s->folds, fold, &err) != CS_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s", err.msg),
				 errhint("Lower cv_folds.")));
	notice(job,
		   "searching",
		   0.2,
		   "searching %d combinations by %d-fold cross-validation (%s)",
		   s->n_combos,
		   s->folds,
		   s->metric);
	for (c = 0; c < s->n_combos; c++)
	{
		CsChildRun *child = &children[c];

		cs_check_training_memory((double) ds->n_rows * (8.0 * ds->n_cols + 1) +
									 cs_fit_memory(&s->combos[c], ds, n),
								 job->shared->max_memory_mb,
								 "the training data and its design matrix");
		cross_validate(job,
					   c,
					   ds,
					   rows,
					   n,
					   split->rows[CS_PART_VALID],
					   split->n[CS_PART_VALID],
					   fold,
					   child);
		if (child->error)
			notice(job,
				   "searching",
				   0.2,
				   "combination %d/%d %s failed: %s",
				   c + 1,
				   s->n_combos,
				   s->combo_json[c],
				   child->error);
		else
			notice(job,
				   "searching",
				   0.2,
				   "combination %d/%d %s: mean %s %.4f (sd %.4f)",
				   c + 1,
				   s->n_combos,
				   s->combo_json[c],
				   s->metric,
				   child->mean,
				   child->std);
		if (!child->error &&
			(winner < 0 || (s->higher_is_better ? child->mean > children[winner].mean :
												  child->mean < children[winner].mean)))
			winner = c;
		job->children = lappend(job->children, child);
	}
	if (winner < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("every hyperparameter combination failed; the first: %s",
						children[0].error)));
	job->params = s->combos[winner];
	initStringInfo(&job->search_json);
	appendStringInfo(&job->search_json,
					 "{\"method\": \"%s\", \"metric\": \"%s\", \"cv_folds\": %d, "
					 "\"combinations\": %d, \"winner\": {\"combination\": %d, \"params\": %s, "
					 "\"mean\": %s, \"std\": %s}}",
					 s->random ? "random" : "grid",
					 s->metric,
					 s->folds,
					 s->n_combos,
					 winner + 1,
					 children[winner].params_json,
					 float8out_internal(children[winner].mean),
					 float8out_internal(children[winner].std));
	notice(job, "searching", 0.7, "best: combination %d %s", winner + 1, s->combo_json[winner]);
}

/*
 * A fingerprint of the rows read, independent of their order: the count and
 * the sum of the rows' content hashes (the split's hash with seed 0).  Two
 * runs with equal fingerprints trained on the same multiset of rows.
 */
static void
data_fingerprint(const cs_dataset *ds, char *out, size_t outlen)
{
	uint64 sum = 0;
	size_t i;

	for (i = 0; i < ds->n_rows; i++)
		sum += cs_row_hash(ds, i, 0);
	snprintf(out, outlen, "%zu:%016llx", ds->n_rows, (unsigned long long) sum);
}

/* The job's work between "started" and "done". */
static void
run_job(TrainJob *job)
{
	CsReadResult   rd;
	cs_split       split;
	cs_model      *m;
	cs_error       err;
	TimestampTz    t;
	StringInfoData metrics;
	uint8_t       *blob;
	size_t         bloblen;
	char          *profile;
	double        *train_scores = NULL;
	int32          version;
	char           done[1 + sizeof(int64) + sizeof(int32)];

	/* read committed data as the calling role */
	notice(job, "reading", 0, "reading %s", job->relation);
	t = GetCurrentTimestamp();
	begin_xact();
	{
		Oid save_user;
		int save_sec;

		GetUserIdAndSecContext(&save_user, &save_sec);
		SetUserIdAndSecContext(job->shared->current_user_id, save_sec);
		cs_read_relation(job->relid,
						 job->target,
						 job->positive,
						 job->features,
						 job->shared->max_memory_mb,
						 &rd);
		SetUserIdAndSecContext(save_user, save_sec);
	}
	commit_xact();
	job->seconds_read = seconds_since(t);
	notice(job,
		   "reading",
		   0.2,
		   "read %lld rows (%lld skipped: NULL target)",
		   (long long) rd.n_read,
		   (long long) rd.n_skipped);

	/* from here on no transaction is open */
	data_fingerprint(rd.ds, job->fingerprint, sizeof(job->fingerprint));
	if (cs_dataset_check(rd.ds, &err) != CS_OK)
	{
		if (err.code == CS_ERR_INVALID)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s", err.msg),
					 errhint("Leave the column out with exclude => ARRAY['...'].")));
		core_failed(&err, "checking the data");
	}
	check_class_counts(job, rd.ds);
	if (cs_split_stratified(rd.ds, job->params.seed, &split, &err) != CS_OK)
		core_failed(&err, "splitting the data");

	if (cs_linalg_load(job->shared->blas_library, job->shared->threads, &err) != CS_OK)
		core_failed(&err, "loading BLAS");

	t = GetCurrentTimestamp();
	if (job->search.active)
		run_search(job, rd.ds, &split);
	m = fit_model(job, rd.ds, &split);
	job->seconds_train = seconds_since(t);
	CHECK_FOR_INTERRUPTS();

	notice(job,
		   "evaluating",
		   0.9,
		   "evaluating on %zu validation and %zu test rows",
		   split.n[CS_PART_VALID],
		   split.n[CS_PART_TEST]);
	t = GetCurrentTimestamp();
	initStringInfo(&metrics);
	appendStringInfoChar(&metrics, '{');
	append_part_metrics(&metrics,
						"train",
						m,
						rd.ds,
						split.rows[CS_PART_TRAIN],
						split.n[CS_PART_TRAIN],
						job->shared->threads,
						&train_scores);
	appendStringInfoString(&metrics, ", ");
	append_part_metrics(&metrics,
						"validation",
						m,
						rd.ds,
						split.rows[CS_PART_VALID],
						split.n[CS_PART_VALID],
						job->shared->threads,
						NULL);
	appendStringInfoString(&metrics, ", ");
	append_part_metrics(&metrics,
						"test",
						m,
						rd.ds,
						split.rows[CS_PART_TEST],
						split.n[CS_PART_TEST],
						job->shared->threads,
						NULL);
	append_fit_info(&metrics, m);
	append_monotone_check(&metrics, job, m, rd.ds, &split);
	if (job->search.active)
		appendStringInfo(&metrics, ", \"search\": %s", job->search_json.data);
	appendStringInfoChar(&metrics, '}');
	profile = training_profile(m, rd.ds, &split, train_scores);
	/* the reference sample that KernelSHAP and reason codes compare with */
	if (cs_reference_build(m,
						   rd.ds,
						   split.rows[CS_PART_TRAIN],
						   split.n[CS_PART_TRAIN],
						   m->meta.seed,
						   CS_REFERENCE_ROWS,
						   &err) != CS_OK)
		core_failed(&err, "sampling the reference rows");
	job->seconds_evaluate = seconds_since(t);

	if (cs_blob_encode(m, &blob, &bloblen, &err) != CS_OK)
		core_failed(&err, "encoding the model");
	if (bloblen > (size_t) job->shared->max_model_kb * 1024)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the model takes %zu kB, more than credit_scoring.max_model_size (%d kB)",
						(bloblen + 1023) / 1024,
						job->shared->max_model_kb),
				 errhint(
					 "Train fewer or shallower trees, or raise credit_scoring.max_model_size.")));
	CHECK_FOR_INTERRUPTS();

	cs_job_report("registering", 0.95, "");
	HOLD_INTERRUPTS();
	version = register_model(job, m, metrics.data, rd.n_read, rd.n_skipped, blob, bloblen, profile);
	RESUME_INTERRUPTS();
	cs_free(blob);
	cs_model_free(m);
	cs_split_free(&split);
	cs_dataset_free(rd.ds);

	notice(job,
		   "done",
		   1,
		   "registered model \"%s\" version %d (run %lld)",
		   job->name,
		   version,
		   (long long) job->run_id);
	done[0] = CS_MSG_DONE;
	memcpy(done + 1, &job->run_id, sizeof(int64));
	memcpy(done + 1 + sizeof(int64), &version, sizeof(int32));
	send_message(job, done, sizeof(done), false);
}

/* Records a failure (if the job was recorded) and tells the caller. */
static void
handle_failure(TrainJob *job, ErrorData *edata)
{
	bool  cancelled = edata->sqlerrcode == ERRCODE_QUERY_CANCELED;
	char *message = cancelled ?
						psprintf("training job %lld was cancelled", (long long) job->job_id) :
						edata->message;

	if (job->recorded)
	{
		PG_TRY();
		{
			record_failure(job, cancelled, message);
		}
		PG_CATCH();
		{
			/* the caller still hears the original error */
			EmitErrorReport();
			FlushErrorState();
			AbortCurrentTransaction();
			MemoryContextSwitchTo(job->mcxt);
		}
		PG_END_TRY();
	}
	send_error(job, edata, message);
}

/* Runs a training request in the worker. */
void
cs_run_training(CsJobShared *shared, const char *request, shm_mq_handle *mqh)
{
	TrainJob     *job;
	MemoryContext mcxt =
		AllocSetContextCreate(TopMemoryContext, "credit_scoring job", ALLOCSET_DEFAULT_SIZES);

	job_mcxt = mcxt;
	MemoryContextSwitchTo(mcxt);
	job = palloc0(sizeof(TrainJob));
	job->shared = shared;
	job->mqh = mqh;
	job->mcxt = mcxt;
	job->request_text = pstrdup(request);
	job->started = GetCurrentTimestamp();

	PG_TRY();
	{
		begin_xact();
		parse_request(job);
		commit_xact();
		MemoryContextSwitchTo(mcxt);
		record_start(job);
		MemoryContextSwitchTo(mcxt);
		run_job(job);
	}
	PG_CATCH();
	{
		ErrorData *edata;

		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(mcxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(mcxt);
		handle_failure(job, edata);
		RESUME_INTERRUPTS();
	}
	PG_END_TRY();
}
