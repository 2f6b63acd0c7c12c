/*-------------------------------------------------------------------------
 * supervisor.c
 *	  The supervisor of one database: keeps exactly one job worker running
 *	  for every active subscription and one streamer for every source with
 *	  realtime subscriptions, starts workers for new ones, stops the
 *	  workers of removed ones, and restarts a worker that died (at once if
 *	  it had run a while, with exponential backoff if it keeps dying).
 *
 * On SIGTERM (sync_stop(), server shutdown) it asks each worker to stop,
 * waits until they have committed what they hold and exited, and exits 0.
 *
 * Job workers are dynamic, BGW_NEVER_RESTART workers whose bgw_notify_pid
 * is the supervisor, so a worker's start or exit sets the supervisor's
 * latch and is handled at once.
 *
 * Crash loops: a job whose worker crashed the server SYNC_CRASH_LIMIT times
 * within SYNC_CRASH_WINDOW_MS (the evidence is on disk, src/crash_guard.c)
 * is not started again.  A subscription or a requested run is put in state
 * error, in the same transaction that read the wanted set, so the stop
 * holds over any later crash or restart; a service job (streamer,
 * aggregator, scheduler) has no row, so its stop is a file and its slot
 * shows phase error with the reason.  sync_start() releases them.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "crash_guard.h"
#include "providers/provider.h"
#include "guc.h"
#include "shmem.h"
#include "sync.h"
#include "worker_common.h"

PGDLLEXPORT void sync_supervisor_main(Datum arg);

typedef struct Job
{
	int32		subscription_id;
	char		name[BGW_MAXLEN];
	int			slot;			/* in SyncState->slots, -1 if none yet */
	BackgroundWorkerHandle *handle;
	SyncRestartPolicy restart;
	bool		wanted;
	bool		stopped;		/* a service job stopped for crashing */
	bool		stop_shown;		/* ... and its slot says so */
	char		stop_reason[SYNC_ERROR_LEN];
} Job;

/* A subscription that should have a worker, as read from the catalog. */
typedef struct WantedJob
{
	int32		subscription_id;
	char		name[BGW_MAXLEN];
	char	   *stopped;		/* a service job stopped for crashing: why */
} WantedJob;

static Oid	supervisor_dboid;
static List *jobs = NIL;		/* of Job *, in TopMemoryContext */
static List *wanted = NIL;		/* of WantedJob *, in the loop context */

static void
supervisor_detach(int code, Datum arg)
{
	SyncDatabase *db;

	LWLockAcquire(SyncState->lock, LW_EXCLUSIVE);
	db = sync_find_database(supervisor_dboid);
	if (db != NULL && db->supervisor_pid == MyProcPid)
		db->supervisor_pid = 0;
	for (int i = 0; i < SyncState->nslots; i++)
		if (SyncState->slots[i].in_use && SyncState->slots[i].dboid == supervisor_dboid)
			memset(&SyncState->slots[i], 0, sizeof(SyncJobSlot));
	LWLockRelease(SyncState->lock);
}

/* Claim this database; false if another supervisor has it or stop was asked. */
static bool
supervisor_attach(void)
{
	SyncDatabase *db;
	bool		ok = false;

	LWLockAcquire(SyncState->lock, LW_EXCLUSIVE);
	db = sync_find_database(supervisor_dboid);
	if (db != NULL && !db->stop_requested &&
		(db->supervisor_pid == 0 || kill(db->supervisor_pid, 0) != 0))
	{
		db->supervisor_pid = MyProcPid;
		ok = true;
	}
	LWLockRelease(SyncState->lock);
	return ok;
}

static bool
is_service_job(int32 id)
{
	return id == SYNC_AGGREGATOR_JOB_ID || id == SYNC_SCHEDULER_JOB_ID || SYNC_IS_STREAMER_JOB(id);
}

/*
 * Put a crash-looping subscription or requested run in state error, inside
 * the caller's transaction.  True when this call stopped it (false if the
 * row had changed meanwhile).
 */
static bool
stop_crashed_row(int32 id, const char *reason)
{
	Oid			types[2] = {INT4OID, TEXTOID};
	Datum		values[2] = {Int32GetDatum(id > 0 ? id : -id), CStringGetTextDatum(reason)};
	int			ret;

	if (id > 0)
		ret = SPI_execute_with_args("UPDATE sync.subscriptions"
									"   SET state = 'error', last_error = $2, last_error_at = now()"
									" WHERE id = $1 AND state = 'active'",
									2, types, values, NULL, false, 0);
	else
		ret = SPI_execute_with_args("UPDATE sync.job_runs"
									"   SET state = 'failed', finished_at = now(), error = $2"
									" WHERE id = $1 AND state IN ('pending', 'running')",
									2, types, values, NULL, false, 0);
	if (ret != SPI_OK_UPDATE)
		elog(ERROR, "could not stop job %d: SPI error %d", id, ret);
	return SPI_processed == 1;
}

/*
 * The crash guard's say on the wanted set: a job that crashed the server
 * too often recently is stopped (see the file header); a service job
 * stopped before stays in the set, marked, so its slot can show why.
 */
static void
guard_wanted_jobs(MemoryContext cxt)
{
	SyncCrashRecord *crashes;
	int			ncrashes = sync_crash_guard_recent(supervisor_dboid, &crashes);
	ListCell   *lc;

	foreach(lc, wanted)
	{
		WantedJob  *w = lfirst(lc);
		const SyncCrashRecord *rec = sync_crash_guard_find(crashes, ncrashes, w->subscription_id);
		bool		service = is_service_job(w->subscription_id);
		char		reason[SYNC_ERROR_LEN];
		bool		stopped_now = false;

		if (rec != NULL && rec->count >= SYNC_CRASH_LIMIT)
		{
			sync_crash_guard_message(rec, w->subscription_id > 0, reason, sizeof(reason));
			if (service)
				stopped_now = sync_crash_guard_stop(supervisor_dboid, w->subscription_id, reason);
			else
				stopped_now = stop_crashed_row(w->subscription_id, reason);
			if (stopped_now)
				ereport(WARNING,
						(errmsg("sync job \"%s\" is stopped: it %s", w->name, reason),
						 errhint("Find the cause in the server log (the signal its worker died of), then call sync_start().")));
			if (!service)
			{
				wanted = foreach_delete_current(wanted, lc);
				continue;
			}
		}
		if (service && sync_crash_guard_stopped(supervisor_dboid, w->subscription_id, reason, sizeof(reason)))
			w->stopped = MemoryContextStrdup(cxt, reason);
	}
}

static void
read_wanted_jobs(void *arg)
{
	MemoryContext cxt = (MemoryContext) arg;
	int			ret;

	wanted = NIL;
	if (!sync_extension_ready())
		return;
	SPI_connect();
	/*
	 * Runs asked for with sync_backfill() go by their negated id, the
	 * aggregator and the scheduler by their own ids (once the extension
	 * version that has them is installed).
	 */
	ret = SPI_execute("SELECT s.id, format('sync %s %s@%s', s.dataset, s.symbol, src.name), NULL"
					  "  FROM sync.subscriptions s JOIN sync.sources src ON src.id = s.source_id"
					  " WHERE s.state = 'active'"
					  " UNION ALL "
					  "SELECT -r.id::int4, format('sync backfill %s@%s #%s', r.symbol, r.source, r.id), NULL"
					  "  FROM sync.job_runs r"
					  " WHERE r.requested AND r.state IN ('pending', 'running')"
					  " UNION ALL "
					  "SELECT 0, 'sync aggregator', NULL"
					  " WHERE to_regprocedure('sync.refresh_rollups(integer)') IS NOT NULL"
					  " UNION ALL "
					  "SELECT (-2147483647 - 1)::int4, 'sync scheduler', NULL"
					  " WHERE to_regprocedure('sync.run_due_schedules()') IS NOT NULL"
					  " UNION ALL "
					  "SELECT (-2147483647 + src.id)::int4, format('sync stream %s', src.name), src.provider"
					  "  FROM sync.sources src"
					  " WHERE EXISTS (SELECT FROM sync.subscriptions s"
					  "                WHERE s.source_id = src.id AND s.state = 'active' AND s.realtime)"
					  " ORDER BY 1",
					  true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read subscriptions: SPI error %d", ret);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		provider = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3, &isnull);
		const SyncProvider *p;
		MemoryContext old;
		WantedJob  *w;

		/* a streamer only for a source whose provider has a stream client */
		if (!isnull &&
			((p = sync_provider_lookup(TextDatumGetCString(provider))) == NULL || p->parse_stream == NULL))
			continue;
		old = MemoryContextSwitchTo(cxt);
		w = palloc(sizeof(WantedJob));

		w->subscription_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		strlcpy(w->name, TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull)),
				BGW_MAXLEN);
		w->stopped = NULL;
		wanted = lappend(wanted, w);
		MemoryContextSwitchTo(old);
	}
	/* the rows are copied: the guard may run statements of its own now */
	guard_wanted_jobs(cxt);
	SPI_finish();
}

static Job *
find_job(int32 subscription_id)
{
	ListCell   *lc;

	foreach(lc, jobs)
	{
		Job		   *job = lfirst(lc);

		if (job->subscription_id == subscription_id)
			return job;
	}
	return NULL;
}

static bool
start_worker(Job *job)
{
	BackgroundWorker worker;
	SyncWorkerArgs args;
	MemoryContext old;
	bool		ok;

	if (job->slot < 0)
		job->slot = sync_slot_acquire(supervisor_dboid, job->subscription_id);
	if (job->slot < 0)
	{
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("sync cannot start a worker for subscription %d: all %d job slots are in use",
						job->subscription_id, sync_max_workers),
				 errhint("Raise sync.max_workers (and max_worker_processes) and restart the server.")));
		return false;
	}

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;	/* we restart it */
	snprintf(worker.bgw_library_name, BGW_MAXLEN, SYNC_LIBRARY_NAME);
	if (job->subscription_id == SYNC_AGGREGATOR_JOB_ID)
	{
		snprintf(worker.bgw_function_name, BGW_MAXLEN, "sync_aggregator_main");
		snprintf(worker.bgw_type, BGW_MAXLEN, "sync aggregator");
	}
	else if (job->subscription_id == SYNC_SCHEDULER_JOB_ID)
	{
		snprintf(worker.bgw_function_name, BGW_MAXLEN, "sync_scheduler_main");
		snprintf(worker.bgw_type, BGW_MAXLEN, "sync scheduler");
	}
	else if (SYNC_IS_STREAMER_JOB(job->subscription_id))
	{
		snprintf(worker.bgw_function_name, BGW_MAXLEN, "sync_streamer_main");
		snprintf(worker.bgw_type, BGW_MAXLEN, "sync streamer");
	}
	else
	{
		snprintf(worker.bgw_function_name, BGW_MAXLEN, "sync_historical_main");
		snprintf(worker.bgw_type, BGW_MAXLEN, "sync historical");
	}
	strlcpy(worker.bgw_name, job->name, BGW_MAXLEN);
	worker.bgw_main_arg = Int32GetDatum(job->slot);
	worker.bgw_notify_pid = MyProcPid;
	memset(&args, 0, sizeof(args));
	args.dboid = supervisor_dboid;
	args.subscription_id = job->subscription_id;
	args.crash_guarded = true;
	memcpy(worker.bgw_extra, &args, sizeof(args));

	old = MemoryContextSwitchTo(TopMemoryContext);
	ok = RegisterDynamicBackgroundWorker(&worker, &job->handle);
	MemoryContextSwitchTo(old);
	if (!ok)
	{
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("sync cannot start a worker for subscription %d: no background worker slot is free",
						job->subscription_id),
				 errhint("Raise max_worker_processes and restart the server.")));
		job->handle = NULL;
		return false;
	}
	sync_restart_started(&job->restart, GetCurrentTimestamp());
	return true;
}

static void
stop_job(Job *job)
{
	if (job->handle != NULL)
	{
		TerminateBackgroundWorker(job->handle);
		(void) WaitForBackgroundWorkerShutdown(job->handle);
		pfree(job->handle);
		job->handle = NULL;
	}
	if (job->slot >= 0)
		sync_slot_release(job->slot);
	job->slot = -1;
}

/* Bring the running workers in line with the wanted subscriptions. */
static long
reconcile(void)
{
	TimestampTz now = GetCurrentTimestamp();
	long		next_ms = sync_naptime_ms;
	ListCell   *lc;

	foreach(lc, jobs)
		((Job *) lfirst(lc))->wanted = false;

	foreach(lc, wanted)
	{
		WantedJob  *w = lfirst(lc);
		Job		   *job = find_job(w->subscription_id);

		if (job == NULL)
		{
			MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

			job = palloc0(sizeof(Job));
			job->subscription_id = w->subscription_id;
			job->slot = -1;
			job->restart.next_start = now;
			jobs = lappend(jobs, job);
			MemoryContextSwitchTo(old);
		}
		strlcpy(job->name, w->name, BGW_MAXLEN);
		job->wanted = true;
		if (w->stopped == NULL)
			job->stopped = job->stop_shown = false;
		else if (!job->stopped)
		{
			job->stopped = true;
			strlcpy(job->stop_reason, w->stopped, SYNC_ERROR_LEN);
		}
	}

	foreach(lc, jobs)
	{
		Job		   *job = lfirst(lc);
		pid_t		pid;

		if (!job->wanted)
		{
			stop_job(job);
			pfree(job);
			jobs = foreach_delete_current(jobs, lc);
			continue;
		}
		if (job->handle != NULL &&
			GetBackgroundWorkerPid(job->handle, &pid) == BGWH_STOPPED)
		{
			pfree(job->handle);
			job->handle = NULL;
			sync_restart_exited(&job->restart, now);
			ereport(LOG,
					(errmsg("sync worker \"%s\" exited; restarting it in %ld ms",
							job->name, TimestampDifferenceMilliseconds(now, job->restart.next_start))));
		}
		if (job->stopped)
		{
			/* never started; its slot shows why (sync_status, sync_health) */
			if (job->handle != NULL)
				stop_job(job);
			if (job->slot < 0)
			{
				job->slot = sync_slot_acquire(supervisor_dboid, job->subscription_id);
				job->stop_shown = false;
			}
			if (job->slot >= 0 && !job->stop_shown)
			{
				sync_slot_set_error(job->slot, SYNC_PHASE_ERROR, job->stop_reason, 0);
				job->stop_shown = true;
			}
			continue;
		}
		if (job->handle != NULL)
			continue;
		if (now < job->restart.next_start)
			next_ms = Min(next_ms, TimestampDifferenceMilliseconds(now, job->restart.next_start));
		else if (!start_worker(job))
			sync_restart_failed(&job->restart, now);
	}
	return Max(next_ms, 10);
}

void
sync_supervisor_main(Datum arg)
{
	MemoryContext loop_cxt;
	char		errbuf[256];

	supervisor_dboid = DatumGetObjectId(arg);
	sync_worker_init_signals();
	BackgroundWorkerInitializeConnectionByOid(supervisor_dboid, InvalidOid, 0);

	if (!supervisor_attach())
		proc_exit(0);
	before_shmem_exit(supervisor_detach, (Datum) 0);
	pgstat_report_appname("sync supervisor");

	loop_cxt = AllocSetContextCreate(TopMemoryContext, "sync supervisor loop",
									 ALLOCSET_DEFAULT_SIZES);
	while (!sync_got_sigterm)
	{
		long		wait_ms = sync_naptime_ms;

		MemoryContextReset(loop_cxt);
		MemoryContextSwitchTo(loop_cxt);
		sync_worker_reload_if_asked();

		if (RecoveryInProgress())
			wanted = NIL;
		else if (!sync_worker_txn("sync supervisor: reading subscriptions",
								  read_wanted_jobs, loop_cxt, errbuf, sizeof(errbuf)))
		{
			/* keep the workers we have; try again at the next wake-up */
			wait_ms = sync_naptime_ms;
		}
		else
			wait_ms = reconcile();
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 wait_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}

	/* stop: ask every worker first, then wait for each */
	{
		ListCell   *lc;

		foreach(lc, jobs)
		{
			Job		   *job = lfirst(lc);

			if (job->handle != NULL)
				TerminateBackgroundWorker(job->handle);
		}
		foreach(lc, jobs)
			stop_job((Job *) lfirst(lc));
	}
	proc_exit(0);
}
