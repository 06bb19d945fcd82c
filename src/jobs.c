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

#include "access/htup_details.h"
#include "funcapi.h"
#include "pgstat.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"

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

/* Publishes the worker's phase/progress/message in its backend status. */
void
cs_job_report(const char *phase, double progress, const char *message)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "%s|%.4f|%s", phase, progress, message ? message : "");
	pgstat_report_activity(STATE_RUNNING, buf);
}

/* cs_job_live(job bigint) -> (alive, pid, phase, progress, message) */
Datum
cs_job_live_sql(PG_FUNCTION_ARGS)
{
	TupleDesc tupdesc;
	CsJobLive live;
	Datum     values[5];
	bool      nulls[5] = { false, false, false, false, false };

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	cs_job_live(PG_GETARG_INT64(0), &live);
	values[0] = BoolGetDatum(live.alive);
	values[1] = Int32GetDatum(live.pid);
	values[2] = CStringGetTextDatum(live.phase);
	values[3] = Float8GetDatum(live.progress);
	values[4] = CStringGetTextDatum(live.message);
	if (!live.alive)
		nulls[1] = nulls[2] = nulls[3] = nulls[4] = true;
	else if (live.phase[0] == '\0')
		nulls[2] = nulls[3] = nulls[4] = true;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}
