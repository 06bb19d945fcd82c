/*
 * launcher.c - cs_train and cs_cancel: validating a training request,
 * starting its background worker, and waiting for it.
 *
 * The request travels to the worker in a dynamic shared memory segment,
 * not through a table: the caller may be inside a transaction that has not
 * committed (or under REPEATABLE READ), and a worker that had to see the
 * caller's rows would deadlock with a caller that waits for it.  The worker
 * writes the registry itself, in its own transactions, and talks back over
 * a message queue: first "started" (job and run ids), then progress notices,
 * then "done" or the error, which the waiting caller re-raises.  A caller
 * interrupted while waiting (Ctrl-C, statement_timeout) cancels the job.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "storage/shm_mq.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include <signal.h>

#include "credit_scoring.h"

PG_FUNCTION_INFO_V1(cs_train);
PG_FUNCTION_INFO_V1(cs_cancel);

#define CS_MQ_SIZE         65536
#define CS_LAUNCH_LOCK_KEY 0x43534c4e /* "CSLN" */

/* A text argument, or ERROR naming it when NULL. */
static char *
required_text(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"%s\" of cs_train must not be NULL", argname)));
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

/* The elements of a text[] argument (NIL when NULL). */
static List *
text_array_list(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	ArrayType *arr;
	Datum     *elems;
	bool      *nulls;
	int        n;
	int        i;
	List      *out = NIL;

	if (PG_ARGISNULL(argno))
		return NIL;
	arr = PG_GETARG_ARRAYTYPE_P(argno);
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("argument \"%s\" of cs_train must not contain NULL", argname)));
		out = lappend(out, TextDatumGetCString(elems[i]));
	}
	return out;
}

/* True when list holds s. */
static bool
list_has_string(List *list, const char *s)
{
	ListCell *lc;

	foreach(lc, list)
	{
		if (strcmp((char *) lfirst(lc), s) == 0)
			return true;
	}
	return false;
}

/* The attribute of rel named name, or ERROR. */
static Form_pg_attribute
relation_column(Relation rel, const char *name)
{
	TupleDesc tupdesc = RelationGetDescr(rel);
	int       a;

	for (a = 0; a < tupdesc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, a);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return att;
	}
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_COLUMN),
			 errmsg("column \"%s\" of relation \"%s\" does not exist",
					name,
					RelationGetRelationName(rel))));
	return NULL;
}

/* The positive-class value as text, normalised through the target's type. */
static char *
positive_value(Form_pg_attribute att, const char *given, const char *target)
{
	Oid  typid = getBaseType(att->atttypid);
	Oid  infunc;
	Oid  ioparam;
	Oid  outfunc;
	bool isvarlena;
	bool b;

	if (typid == BOOLOID)
	{
		if (given == NULL)
			return pstrdup("true");
		if (!parse_bool(given, &b))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("positive value \"%s\" is not a boolean, as target \"%s\" is",
							given,
							target)));
		return pstrdup(b ? "true" : "false");
	}
	if (given == NULL)
	{
		if (typid == INT2OID || typid == INT4OID || typid == INT8OID)
			return pstrdup("1");
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cs_train needs \"positive\" for target \"%s\" of type %s",
						target,
						format_type_be(att->atttypid)),
				 errhint("Name the value that marks the event to predict, e.g. "
						 "positive => 'bad'.")));
	}
	if (typid == TEXTOID || typid == VARCHAROID)
		return pstrdup(given);
	getTypeInputInfo(typid, &infunc, &ioparam);
	getTypeOutputInfo(typid, &outfunc, &isvarlena);
	return OidOutputFunctionCall(outfunc,
								 OidInputFunctionCall(infunc,
													  (char *) given,
													  ioparam,
													  att->atttypmod));
}

/* Checks that the caller may read the columns of rel that training reads. */
static void
check_select_privilege(Relation rel, List *columns)
{
	Oid       relid = RelationGetRelid(rel);
	ListCell *lc;

	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) == ACLCHECK_OK)
		return;
	foreach(lc, columns)
	{
		AttrNumber attnum = get_attnum(relid, (char *) lfirst(lc));

		if (pg_attribute_aclcheck(relid, attnum, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
			aclcheck_error(ACLCHECK_NO_PRIV,
						   get_relkind_objtype(rel->rd_rel->relkind),
						   RelationGetRelationName(rel));
	}
}

/* Validates the arguments of cs_train and returns the request as JSON text. */
static char *
build_request(FunctionCallInfo fcinfo)
{
	Oid           relid;
	Relation      rel;
	char         *model_type_name = required_text(fcinfo, 1, "model_type");
	char         *target = required_text(fcinfo, 2, "target");
	char         *positive_given = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));
	char         *name;
	List         *features = text_array_list(fcinfo, 5, "features");
	List         *exclude = text_array_list(fcinfo, 6, "exclude");
	Jsonb        *params = PG_ARGISNULL(7) ? NULL : PG_GETARG_JSONB_P(7);
	char         *experiment = required_text(fcinfo, 8, "experiment");
	cs_model_type type;
	CsSearch      search;
	Form_pg_attribute tatt;
	char             *positive;
	StringInfoData    buf;
	ListCell         *lc;
	List             *read_columns;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"relation\" of cs_train must not be NULL")));
	relid = PG_GETARG_OID(0);
	type = cs_model_type_from_name(model_type_name);
	cs_search_parse(type, params, &search);

	rel = relation_open(relid, AccessShareLock);
	if (rel->rd_rel->relkind != RELKIND_RELATION && rel->rd_rel->relkind != RELKIND_VIEW &&
		rel->rd_rel->relkind != RELKIND_MATVIEW &&
		rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE &&
		rel->rd_rel->relkind != RELKIND_FOREIGN_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table or view", RelationGetRelationName(rel))));
	if (rel->rd_createSubid != InvalidSubTransactionId)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("relation \"%s\" was created in the current transaction",
						RelationGetRelationName(rel)),
				 errhint("Commit first: training reads committed data in a background worker.")));
	if (CheckRelationLockedByMe(rel, AccessExclusiveLock, false))
		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("relation \"%s\" is locked by the current transaction",
						RelationGetRelationName(rel)),
				 errhint("The training worker could not read it until this transaction ends.")));

	tatt = relation_column(rel, target);
	{
		cs_kind k;

		if (!cs_type_kind(getBaseType(tatt->atttypid), &k))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("target column \"%s\" has type %s, which cannot be a binary target",
							target,
							format_type_be(tatt->atttypid))));
	}
	positive = positive_value(tatt, positive_given, target);

	foreach(lc, exclude)
		relation_column(rel, (char *) lfirst(lc));
	if (features == NIL)
	{
		TupleDesc tupdesc = RelationGetDescr(rel);
		int       a;

		for (a = 0; a < tupdesc->natts; a++)
		{
			Form_pg_attribute att = TupleDescAttr(tupdesc, a);
			char             *col = NameStr(att->attname);

			if (att->attisdropped || strcmp(col, target) == 0 || list_has_string(exclude, col))
				continue;
			features = lappend(features, pstrdup(col));
		}
	}
	else
	{
		List *seen = NIL;

		foreach(lc, features)
		{
			char *col = (char *) lfirst(lc);

			if (strcmp(col, target) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("target column \"%s\" cannot also be a feature", col)));
			if (list_has_string(seen, col))
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("feature \"%s\" is listed twice", col)));
			if (list_has_string(exclude, col))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("feature \"%s\" is also listed in exclude", col)));
			seen = lappend(seen, col);
		}
	}
	if (features == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("relation \"%s\" has no feature columns besides the target",
						RelationGetRelationName(rel))));
	foreach(lc, features)
	{
		Form_pg_attribute att = relation_column(rel, (char *) lfirst(lc));
		cs_kind           k;

		if (!cs_type_kind(getBaseType(att->atttypid), &k))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" has type %s, which cannot be a feature",
							NameStr(att->attname),
							format_type_be(att->atttypid)),
					 errhint("Leave it out with exclude, or cast it in a view.")));
	}
	/* monotone constraints name numeric features (checked again when fitting) */
	for (int i = 0; i < search.combos[0].n_monotone; i++)
	{
		const char *mono = search.combos[0].monotone_names[i];
		cs_kind     k;

		if (!list_has_string(features, mono))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a monotone constraint names \"%s\", which is not a feature", mono),
					 errhint("Constrain feature columns of \"%s\".",
							 RelationGetRelationName(rel))));
		if (cs_type_kind(getBaseType(relation_column(rel, mono)->atttypid), &k) &&
			k != CS_KIND_NUMERIC && search.combos[0].monotone_dirs[i] != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("feature \"%s\" is categorical: a monotone constraint needs an order",
							mono)));
	}
	read_columns = lappend(list_copy(features), target);
	check_select_privilege(rel, read_columns);

	name = PG_ARGISNULL(4) ? pstrdup(RelationGetRelationName(rel)) :
							 text_to_cstring(PG_GETARG_TEXT_PP(4));
	if (name[0] == '\0' || strchr(name, '@') != NULL || strlen(name) > 200)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid model name \"%s\"", name),
				 errhint("A model name is 1 to 200 characters, without \"@\".")));
	if (experiment[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME), errmsg("experiment name must not be empty")));

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"relation\": ");
	cs_json_append_string(&buf,
						  quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
													 RelationGetRelationName(rel)));
	appendStringInfo(&buf, ", \"relation_oid\": %u, \"model_type\": ", relid);
	cs_json_append_string(&buf, model_type_name);
	appendStringInfoString(&buf, ", \"target\": ");
	cs_json_append_string(&buf, target);
	appendStringInfoString(&buf, ", \"positive\": ");
	cs_json_append_string(&buf, positive);
	appendStringInfoString(&buf, ", \"name\": ");
	cs_json_append_string(&buf, name);
	appendStringInfoString(&buf, ", \"experiment\": ");
	cs_json_append_string(&buf, experiment);
	appendStringInfoString(&buf, ", \"features\": [");
	foreach(lc, features)
	{
		if (lc != list_head(features))
			appendStringInfoString(&buf, ", ");
		cs_json_append_string(&buf, (char *) lfirst(lc));
	}
	appendStringInfoString(&buf, "], \"exclude\": [");
	foreach(lc, exclude)
	{
		if (lc != list_head(exclude))
			appendStringInfoString(&buf, ", ");
		cs_json_append_string(&buf, (char *) lfirst(lc));
	}
	/* a search keeps its grid; a single fit records its effective params */
	appendStringInfo(&buf,
					 "], \"params\": %s}",
					 search.active ? JsonbToCString(NULL, &params->root, VARSIZE(params)) :
									 cs_params_json(&search.combos[0]));
	relation_close(rel, NoLock);
	return buf.data;
}

/* Re-raises an error the worker sent. */
static void
raise_worker_error(const char *data, Size len, int64 job_id)
{
	int32       sqlstate;
	const char *msg;
	const char *detail;
	const char *hint;

	if (len < 1 + sizeof(int32) + 3)
		elog(ERROR, "malformed error message from training worker");
	memcpy(&sqlstate, data + 1, sizeof(int32));
	msg = data + 1 + sizeof(int32);
	detail = msg + strlen(msg) + 1;
	hint = detail + strlen(detail) + 1;
	ereport(ERROR,
			(errcode(sqlstate),
			 errmsg_internal("%s", msg),
			 detail[0] ? errdetail_internal("%s", detail) : 0,
			 hint[0] ? errhint("%s", hint) : 0,
			 job_id > 0 ? errcontext("training job %lld", (long long) job_id) : 0));
}

/*
 * The worker this backend is starting or waiting for, so that an error or an
 * interrupt at any point, even before the worker has said "started", stops it.
 */
static BackgroundWorkerHandle *current_handle = NULL;
static pid_t                   current_pid = 0;

/* Stops the current worker: a cancel once it runs, else no start at all. */
static void
stop_current_worker(void)
{
	if (current_pid > 0)
		kill(current_pid, SIGINT);
	else if (current_handle != NULL)
		TerminateBackgroundWorker(current_handle);
}

/*
 * The lock the worker waits for, when this transaction holds it (a relation
 * this transaction has locked, or its own transaction id).  The worker cannot
 * get it until this transaction ends, and this transaction waits for the
 * worker: a deadlock that the lock manager cannot see, since the caller waits
 * on a message queue.  It also arises when another session's exclusive lock
 * request is queued behind this transaction's lock and ahead of the worker's.
 */
static bool
worker_blocked_by_us(pid_t pid, LOCKTAG *tag)
{
	PGPROC *proc = BackendPidGetProc(pid);
	LOCK   *lock;
	int     mode;

	if (proc == NULL || proc->waitStatus != PROC_WAIT_STATUS_WAITING)
		return false;
	lock = proc->waitLock;
	if (lock == NULL)
		return false;
	/* read without the partition lock: a hint that the caller confirms */
	memcpy(tag, &lock->tag, sizeof(LOCKTAG));
	if (tag->locktag_type == LOCKTAG_RELATION)
	{
		for (mode = AccessShareLock; mode <= AccessExclusiveLock; mode++)
		{
			if (LockHeldByMe(tag, mode))
				return true;
		}
		return false;
	}
	if (tag->locktag_type == LOCKTAG_TRANSACTION)
		return TransactionIdIsCurrentTransactionId((TransactionId) tag->locktag_field1);
	return false;
}

/* Receives the worker's next message, raising a deadlock it cannot escape. */
static shm_mq_result
receive_message(shm_mq_handle *mqh, Size *len, void **data)
{
	LOCKTAG last;
	int     seen = 0;

	for (;;)
	{
		shm_mq_result res = shm_mq_receive(mqh, len, data, true);
		LOCKTAG       tag;

		if (res != SHM_MQ_WOULD_BLOCK)
			return res;
		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 500,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (current_pid <= 0 || !worker_blocked_by_us(current_pid, &tag))
		{
			seen = 0;
			continue;
		}
		/* the same wait seen on consecutive checks, a second apart */
		seen = (seen > 0 && memcmp(&tag, &last, sizeof(LOCKTAG)) == 0) ? seen + 1 : 1;
		last = tag;
		if (seen < 3)
			continue;
		if (tag.locktag_type == LOCKTAG_RELATION)
			ereport(ERROR,
					(errcode(ERRCODE_T_R_DEADLOCK_DETECTED),
					 errmsg("deadlock detected: the training worker waits for a lock on relation "
							"\"%s\" that this transaction holds",
							get_rel_name((Oid) tag.locktag_field2)),
					 errdetail("The worker cannot lock the relation until this transaction ends "
							   "(perhaps behind another session's pending exclusive lock), and "
							   "this transaction waits for the worker."),
					 errhint("Train outside this transaction, or with wait => false.")));
		ereport(ERROR,
				(errcode(ERRCODE_T_R_DEADLOCK_DETECTED),
				 errmsg("deadlock detected: the training worker waits for this transaction"),
				 errdetail("The worker needs a row this transaction has written, and this "
						   "transaction waits for the worker."),
				 errhint("Commit first, or train with wait => false.")));
	}
}

/* Starts the worker and waits for its "started" message. */
static shm_mq_handle *
start_worker(const char *request, bool wait, int64 *job_id, int64 *run_id, int *pid,
			 dsm_segment **segp)
{
	Size                    reqlen = strlen(request) + 1;
	Size                    mq_offset = MAXALIGN(sizeof(CsJobShared) + reqlen);
	dsm_segment            *seg = dsm_create(mq_offset + CS_MQ_SIZE, 0);
	CsJobShared            *shared = dsm_segment_address(seg);
	shm_mq                 *mq;
	shm_mq_handle          *mqh;
	BackgroundWorker        worker;
	BackgroundWorkerHandle *handle;
	BgwHandleStatus         status;
	shm_mq_result           res;
	Size                    len;
	void                   *data;

	memset(shared, 0, sizeof(CsJobShared));
	shared->database_id = MyDatabaseId;
	shared->session_user_id = GetSessionUserId();
	shared->current_user_id = GetUserId();
	shared->threads = cs_training_threads;
	shared->max_memory_mb = cs_max_training_memory_mb;
	shared->max_model_kb = cs_max_model_size_kb;
	shared->wait = wait;
	strlcpy(shared->blas_library, cs_blas_library ? cs_blas_library : "", MAXPGPATH);
	shared->request_len = reqlen;
	shared->mq_offset = mq_offset;
	memcpy((char *) shared + sizeof(CsJobShared), request, reqlen);
	mq = shm_mq_create((char *) shared + mq_offset, CS_MQ_SIZE);
	shm_mq_set_receiver(mq, MyProc);
	mqh = shm_mq_attach(mq, seg, NULL);

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, "credit_scoring", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "cs_training_worker_main", BGW_MAXLEN);
	snprintf(worker.bgw_name, BGW_MAXLEN, "credit_scoring training for PID %d", MyProcPid);
	strlcpy(worker.bgw_type, CS_WORKER_TYPE, BGW_MAXLEN);
	worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(seg));
	worker.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start a training worker: no background worker slot is free"),
				 errhint("Raise max_worker_processes (now %d), or wait for other workers to end.",
						 max_worker_processes)));
	current_handle = handle;
	shm_mq_set_handle(mqh, handle);
	status = WaitForBackgroundWorkerStartup(handle, pid);
	if (status == BGWH_STARTED)
		current_pid = *pid;
	if (status == BGWH_POSTMASTER_DIED)
		ereport(ERROR,
				(errcode(ERRCODE_ADMIN_SHUTDOWN),
				 errmsg("postmaster exited while starting a training worker")));
	if (status != BGWH_STARTED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not start a training worker")));

	res = receive_message(mqh, &len, &data);
	if (res != SHM_MQ_SUCCESS)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("the training worker exited before it started"),
				 errhint("The server log tells why.")));
	if (len >= 1 && ((char *) data)[0] == CS_MSG_ERROR)
		raise_worker_error(data, len, 0);
	if (len != 1 + 2 * sizeof(int64) + sizeof(int32) || ((char *) data)[0] != CS_MSG_STARTED)
		elog(ERROR, "unexpected first message from training worker");
	memcpy(job_id, (char *) data + 1, sizeof(int64));
	memcpy(run_id, (char *) data + 1 + sizeof(int64), sizeof(int64));
	*segp = seg;
	return mqh;
}

/* Relays the worker's messages until it is done; returns normally on success. */
static void
wait_for_worker(shm_mq_handle *mqh, int64 job_id)
{
	for (;;)
	{
		Size          len;
		void         *data;
		shm_mq_result res = receive_message(mqh, &len, &data);
		char          kind;

		if (res != SHM_MQ_SUCCESS)
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("training job %lld ended without a result", (long long) job_id),
					 errdetail("The worker exited unexpectedly; cs_jobs shows the job as failed."),
					 errhint("The server log tells why.")));
		if (len < 1)
			continue;
		kind = ((char *) data)[0];
		if (kind == CS_MSG_NOTICE)
			ereport(NOTICE, (errmsg_internal("%.*s", (int) (len - 1), (char *) data + 1)));
		else if (kind == CS_MSG_ERROR)
			raise_worker_error(data, len, job_id);
		else if (kind == CS_MSG_DONE)
			return;
	}
}

/* Under the launch lock, checks the cap on running jobs and starts the worker. */
static shm_mq_handle *
launch(const char *request, bool wait, int64 *job_id, int64 *run_id, int *pid, dsm_segment **seg)
{
	shm_mq_handle *volatile mqh = NULL;
	LOCKTAG tag;

	/* one launcher at a time counts the running workers, cluster-wide */
	SET_LOCKTAG_ADVISORY(tag, InvalidOid, CS_LAUNCH_LOCK_KEY, 0, 2);
	(void) LockAcquire(&tag, ExclusiveLock, true, false);
	PG_TRY();
	{
		int running = cs_count_training_workers();

		if (running >= cs_max_training_workers)
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("too many training jobs are running (%d of at most %d)",
							running,
							cs_max_training_workers),
					 errhint("Wait for a job to finish (see cs_jobs), or raise "
							 "credit_scoring.max_training_workers.")));
		mqh = start_worker(request, wait, job_id, run_id, pid, seg);
	}
	PG_FINALLY();
	{
		LockRelease(&tag, ExclusiveLock, true);
	}
	PG_END_TRY();
	return mqh;
}

/*
 * cs_train(relation, model_type, target, positive, name, features, exclude,
 *          params, experiment, wait) returns the run id.
 */
Datum
cs_train(PG_FUNCTION_ARGS)
{
	char *request = build_request(fcinfo);
	bool  wait = PG_ARGISNULL(9) ? true : PG_GETARG_BOOL(9);
	shm_mq_handle *volatile mqh = NULL;
	dsm_segment *seg = NULL;
	int64        job_id = 0;
	int64        run_id = 0;
	int          pid = 0;

	current_handle = NULL;
	current_pid = 0;
	PG_TRY();
	{
		mqh = launch(request, wait, &job_id, &run_id, &pid, &seg);
		if (wait)
			wait_for_worker(mqh, job_id);
	}
	PG_CATCH();
	{
		/* interrupted, or the job failed: make sure it stops */
		stop_current_worker();
		current_handle = NULL;
		current_pid = 0;
		PG_RE_THROW();
	}
	PG_END_TRY();
	current_handle = NULL;
	current_pid = 0;
	shm_mq_detach(mqh);
	dsm_detach(seg);
	PG_RETURN_INT64(run_id);
}

/* cs_cancel(job bigint): asks a running job to stop; false if it is not running. */
Datum
cs_cancel(PG_FUNCTION_ARGS)
{
	int64     job_id = PG_GETARG_INT64(0);
	CsJobLive live;

	cs_job_live(job_id, &live);
	if (!live.alive)
		PG_RETURN_BOOL(false);
	if (!superuser())
	{
		LocalPgBackendStatus *local;
		int                   n = pgstat_fetch_stat_numbackends();
		int                   i;
		Oid                   owner = InvalidOid;

		for (i = 1; i <= n; i++)
		{
			local = pgstat_fetch_stat_local_beentry(i);
			if (local && local->backendStatus.st_procpid == live.pid)
				owner = local->backendStatus.st_userid;
		}
		if (!has_privs_of_role(GetUserId(), owner) &&
			!has_privs_of_role(GetUserId(), ROLE_PG_SIGNAL_BACKEND))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to cancel training job %lld", (long long) job_id),
					 errdetail("Only the role that started the job, a member of "
							   "pg_signal_backend or a superuser may cancel it.")));
	}
	if (kill(live.pid, SIGINT) != 0)
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(true);
}
