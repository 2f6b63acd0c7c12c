/*-------------------------------------------------------------------------
 * scheduler.c
 *	  The scheduler of one database: runs the cron schedules that are due
 *	  (sync.run_due_schedules()), keeps the time partitions of bars and
 *	  trades made ahead of the data (sync.maintain_partitions()), applies
 *	  retention (sync.apply_retention()) and trims the job history
 *	  (sync.purge_job_history()).
 *
 * The work is SQL (sql/sync--0.2.0--0.3.0.sql, sql/sync--0.8.0--0.9.0.sql);
 * this worker decides when.
 * Schedules are looked at every sync.naptime_ms, so a firing is late by at
 * most that much.  Retention drops partitions entirely past it and deletes
 * at most sync.retention_batch other rows per dataset in one short
 * transaction, then lets writers go for a moment
 * before the next batch: old data drains without long locks or a long
 * transaction holding back vacuum.
 *
 * The supervisor runs it as the job of kind SYNC_JOB_SCHEDULER.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "shmem.h"
#include "worker_common.h"

PGDLLEXPORT void sync_scheduler_main(Datum arg);

/* between two retention batches while old rows remain */
#define RETENTION_PAUSE_MS	50
/* how often the job history is trimmed */
#define HISTORY_PURGE_MS	(3600 * 1000)

static int	scheduler_slot;

/* One step; on failure the slot shows the error and false is returned. */
static bool
step(const char *activity, SyncSqlCall *call, int *failures)
{
	char		errbuf[SYNC_ERROR_LEN];

	if (sync_worker_txn(activity, sync_worker_sql_number, call, errbuf, sizeof(errbuf)))
		return true;
	(*failures)++;
	sync_slot_set_error(scheduler_slot, SYNC_PHASE_RETRYING, errbuf,
						TimestampTzPlusMilliseconds(GetCurrentTimestamp(), sync_backoff_ms(*failures)));
	return false;
}

void
sync_scheduler_main(Datum arg)
{
	SyncWorkerArgs args;
	MemoryContext loop_cxt;
	/*
	 * When each step last ran and found nothing more to do (0: never; a
	 * failed run does not count, it is tried again after the backoff).  Kept
	 * as the last run, not the next, so that a reloaded
	 * sync.retention_interval_ms applies to the wait in progress.
	 */
	TimestampTz partitions_done = 0;
	TimestampTz retention_done = 0;
	TimestampTz next_purge = 0;
	int			failures = 0;

	scheduler_slot = DatumGetInt32(arg);
	memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof(args));
	sync_worker_init_signals();
	BackgroundWorkerInitializeConnectionByOid(args.dboid, InvalidOid, 0);
	if (!sync_service_attach(scheduler_slot, SYNC_JOB_SCHEDULER, 0))
		proc_exit(0);
	pgstat_report_appname("sync scheduler");

	loop_cxt = AllocSetContextCreate(TopMemoryContext, "sync scheduler loop",
									 ALLOCSET_DEFAULT_SIZES);
	while (!sync_worker_stopping())
	{
		SyncSqlCall call = {0};
		TimestampTz now = GetCurrentTimestamp();
		long		wait_ms = sync_naptime_ms;
		bool		nap = true; /* the plain nap: sync.naptime_ms, reloads included */
		int			before = failures;

		MemoryContextReset(loop_cxt);
		MemoryContextSwitchTo(loop_cxt);
		sync_worker_reload_if_asked();

		call.sql = "SELECT sync.run_due_schedules()::int8";
		(void) step("sync scheduler: running due schedules", &call, &failures);

		/* partitions first, so retention sees the rows moved out of default */
		if (partitions_done == 0 ||
			now >= TimestampTzPlusMilliseconds(partitions_done, sync_retention_interval_ms))
		{
			call.sql = "SELECT sync.maintain_partitions()::int8";
			call.has_arg = false;
			if (!step("sync scheduler: making partitions", &call, &failures))
				nap = false;	/* again after the backoff */
			else if (call.result > 0)
			{
				/* rows may still wait in a default partition */
				wait_ms = RETENTION_PAUSE_MS;
				nap = false;
			}
			else
				partitions_done = now;
		}

		if (retention_done == 0 ||
			now >= TimestampTzPlusMilliseconds(retention_done, sync_retention_interval_ms))
		{
			call.sql = "SELECT sync.apply_retention($1)";
			call.arg = sync_retention_batch;
			call.has_arg = true;
			if (!step("sync scheduler: applying retention", &call, &failures))
				nap = false;	/* again after the backoff */
			else if (call.result > 0)
			{
				/* more may be waiting: come back after a breath */
				wait_ms = RETENTION_PAUSE_MS;
				nap = false;
			}
			else
				retention_done = now;
		}

		if (now >= next_purge)
		{
			call.sql = "SELECT sync.purge_job_history($1)";
			call.arg = sync_job_history_days;
			call.has_arg = true;
			if (step("sync scheduler: trimming job history", &call, &failures))
				next_purge = TimestampTzPlusMilliseconds(now, HISTORY_PURGE_MS);
		}

		if (failures == before)
		{
			failures = 0;
			sync_slot_report(scheduler_slot, SYNC_PHASE_IDLE, GetCurrentTimestamp());
		}
		else
		{
			wait_ms = Max(wait_ms, sync_backoff_ms(failures));
			nap = false;
		}
		if (nap
			? !sync_worker_sleep_interval(GetCurrentTimestamp(), &sync_naptime_ms)
			: !sync_worker_sleep_until(TimestampTzPlusMilliseconds(GetCurrentTimestamp(), wait_ms)))
			break;
	}
	proc_exit(0);
}
