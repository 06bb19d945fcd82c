/*
 * jobs.c - the live state of training jobs.
 *
 * A training worker names itself in its backend status ("credit_scoring job
 * 17" as application_name) and publishes its phase, progress fraction and
 * message as its activity string.  Reading those needs no transaction in the
 * worker and leaves no dead tuples, and it tells a live worker from one that
 * died: a job whose table row says "running" but whose worker is not in the
 * backend status table was killed or lost in a server restart, and the
 * cs_jobs view reports it as failed.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/skey.h"
#include "access/table.h"
#include "access/tableam.h"
#include "funcapi.h"
#include "pgstat.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include <stdio.h>

#include "credit_scoring.h"

PG_FUNCTION_INFO_V1(cs_job_live_sql);

/* The application_name of job_id's worker. */
static void
job_appname(int64 job_id, char *buf, size_t len)
{
	snprintf(buf, len, "%s %lld", CS_JOB_APPNAME_PREFIX, (long long) job_id);
}

/* Parses "phase|progress|message" into out. */
static void
parse_activity(const char *activity, CsJobLive *out)
{
	const char *bar1 = strchr(activity, '|');
	const char *bar2 = bar1 ? strchr(bar1 + 1, '|') : NULL;

	if (bar1 == NULL || bar2 == NULL)
		return;
	snprintf(out->phase, sizeof(out->phase), "%.*s", (int) (bar1 - activity), activity);
	out->progress = strtod(bar1 + 1, NULL);
	snprintf(out->message, sizeof(out->message), "%s", bar2 + 1);
}

/* Live state of a job's worker, read from the backend status table. */
void
cs_job_live(int64 job_id, CsJobLive *out)
{
	char name[NAMEDATALEN];
	int  n;
	int  i;

	memset(out, 0, sizeof(*out));
	job_appname(job_id, name, sizeof(name));
	/* a fresh look each time: a session polling in one transaction sees progress */
	pgstat_clear_backend_activity_snapshot();
	n = pgstat_fetch_stat_numbackends();
	for (i = 1; i <= n; i++)
	{
		LocalPgBackendStatus *local = pgstat_fetch_stat_local_beentry(i);
		PgBackendStatus      *be;

		if (local == NULL)
			continue;
		be = &local->backendStatus;
		if (be->st_appname == NULL || strcmp(be->st_appname, name) != 0)
			continue;
		out->alive = true;
		out->pid = be->st_procpid;
		if (be->st_activity_raw)
			parse_activity(be->st_activity_raw, out);
		break;
	}
}

/* Number of training workers alive in the cluster. */
int
cs_count_training_workers(void)
{
	size_t plen = strlen(CS_JOB_APPNAME_PREFIX);
	int    count = 0;
	int    n;
	int    i;

	pgstat_clear_backend_activity_snapshot();
	n = pgstat_fetch_stat_numbackends();
	for (i = 1; i <= n; i++)
	{
		LocalPgBackendStatus *local = pgstat_fetch_stat_local_beentry(i);
		const char           *app;

		if (local == NULL)
			continue;
		app = local->backendStatus.st_appname;
		if (app && strncmp(app, CS_JOB_APPNAME_PREFIX, plen) == 0 &&
			(app[plen] == '\0' || app[plen] == ' '))
			count++;
	}
	return count;
}

/* The phase and progress last published by this worker, for the failure record. */
static char   last_phase[32] = "starting";
static double last_progress = 0;

/* Publishes the worker's phase/progress/message in its backend status. */
void
cs_job_report(const char *phase, double progress, const char *message)
{
	char buf[512];

	snprintf(last_phase, sizeof(last_phase), "%s", phase);
	last_progress = progress;
	snprintf(buf, sizeof(buf), "%s|%.4f|%s", phase, progress, message ? message : "");
	pgstat_report_activity(STATE_RUNNING, buf);
}

/* The phase and progress this worker last published. */
const char *
cs_job_last_phase(double *progress)
{
	*progress = last_progress;
	return last_phase;
}

/*
 * Reads job_id's stored row with the latest snapshot into values/nulls
 * (status, phase, progress, message, error); false when there is none.  A
 * reader whose own snapshot predates the worker's last commit would otherwise
 * take a job that ended for one that died.
 */
static bool
latest_job_row(int64 job_id, Datum *values, bool *nulls)
{
	static const char *const columns[5] = { "status", "phase", "progress", "message", "error" };
	Oid                      relid = get_relname_relid("cs_job_state", cs_extension_schema());
	Relation                 rel;
	Snapshot                 snap;
	TableScanDesc            scan;
	ScanKeyData              key;
	HeapTuple                tup;
	bool                     found = false;
	int                      i;

	if (!OidIsValid(relid))
		return false;
	rel = table_open(relid, AccessShareLock);
	snap = RegisterSnapshot(GetLatestSnapshot());
	ScanKeyInit(&key,
				get_attnum(relid, "job_id"),
				BTEqualStrategyNumber,
				F_INT8EQ,
				Int64GetDatum(job_id));
	scan = table_beginscan(rel, snap, 1, &key);
	tup = heap_getnext(scan, ForwardScanDirection);
	if (HeapTupleIsValid(tup))
	{
		found = true;
		for (i = 0; i < 5; i++)
		{
			AttrNumber attnum = get_attnum(relid, columns[i]);

			values[i] = heap_getattr(tup, attnum, RelationGetDescr(rel), &nulls[i]);
			if (!nulls[i])
				values[i] = datumCopy(values[i],
									  TupleDescAttr(RelationGetDescr(rel), attnum - 1)->attbyval,
									  TupleDescAttr(RelationGetDescr(rel), attnum - 1)->attlen);
		}
	}
	table_endscan(scan);
	UnregisterSnapshot(snap);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * cs_job_live(job bigint) -> (alive, pid, status, phase, progress, message,
 * error): the current state of a job that the caller's snapshot shows as
 * running.  A live worker's state comes from its backend status; for a job
 * with no live worker, the latest committed row says how it ended, and a row
 * still "running" means the worker died without recording an outcome.
 */
Datum
cs_job_live_sql(PG_FUNCTION_ARGS)
{
	int64     job_id = PG_GETARG_INT64(0);
	TupleDesc tupdesc;
	CsJobLive live;
	Datum     values[7];
	bool      nulls[7] = { false, false, false, false, false, false, true };

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	cs_job_live(job_id, &live);
	values[0] = BoolGetDatum(live.alive);
	values[1] = Int32GetDatum(live.pid);
	if (live.alive)
	{
		values[2] = CStringGetTextDatum("running");
		values[3] = CStringGetTextDatum(live.phase[0] ? live.phase : "starting");
		values[4] = Float8GetDatum(live.progress);
		values[5] = CStringGetTextDatum(live.message);
	}
	else
	{
		nulls[1] = true;
		if (!latest_job_row(job_id, values + 2, nulls + 2))
			nulls[2] = nulls[3] = nulls[4] = nulls[5] = nulls[6] = true;
		else if (strcmp(TextDatumGetCString(values[2]), "running") == 0)
		{
			values[2] = CStringGetTextDatum("failed");
			values[6] = CStringGetTextDatum("the training worker exited without recording an "
											"outcome (killed, or the server restarted)");
			nulls[6] = false;
		}
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}
