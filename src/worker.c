/*
 * worker.c - the training background worker's entry point.
 *
 * Started per job by cs_train (launcher.c) as a dynamic background worker:
 * no shared_preload_libraries needed.  It attaches the job's shared memory,
 * connects to the caller's database as the caller's login role, names
 * itself in the backend status table (jobs.c) and runs the job (train.c).
 * SIGINT cancels the job (cs_cancel, or the waiting caller's Ctrl-C); SIGTERM
 * ends it at the next interrupt check.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/proc.h"
#include "storage/shm_mq.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "credit_scoring.h"

/* Entry point of the training worker. */
void
cs_training_worker_main(Datum arg)
{
	dsm_segment   *seg;
	CsJobShared   *shared;
	CsJobShared   *copy;
	shm_mq        *mq;
	shm_mq_handle *mqh;
	char          *request;
	MemoryContext  old;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	CurrentResourceOwner = ResourceOwnerCreate(NULL, "credit_scoring training");
	seg = dsm_attach(DatumGetUInt32(arg));
	if (seg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("could not map the training job's shared memory")));
	/* keep the mapping across the transactions to come */
	dsm_pin_mapping(seg);
	shared = dsm_segment_address(seg);

	old = MemoryContextSwitchTo(TopMemoryContext);
	copy = palloc(sizeof(CsJobShared));
	memcpy(copy, shared, sizeof(CsJobShared));
	request = pnstrdup((char *) shared + sizeof(CsJobShared), shared->request_len);
	mq = (shm_mq *) ((char *) shared + shared->mq_offset);
	shm_mq_set_sender(mq, MyProc);
	mqh = shm_mq_attach(mq, seg, NULL);
	MemoryContextSwitchTo(old);

	BackgroundWorkerInitializeConnectionByOid(copy->database_id, copy->session_user_id, 0);
	/* counts as a running training worker from now on (jobs.c) */
	pgstat_report_appname(CS_JOB_APPNAME_PREFIX);

	cs_run_training(copy, request, mqh);
}
