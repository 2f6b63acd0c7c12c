/*-------------------------------------------------------------------------
 * supervisor.c
 *	  The supervisor of one database: reads what should run (the active
 *	  subscriptions and requested runs: series; the aggregator, the
 *	  scheduler, a streamer per source with realtime subscriptions, and the
 *	  pool workers: processes), gives every series a shared-memory slot and
 *	  assigns it to a pool worker (pool_assign.c), runs the processes, and
 *	  restarts one that died (at once if it had run a while, with
 *	  exponential backoff if it keeps dying).
 *
 * Processes start in order of need: the aggregator and the scheduler
 * first, then the streamers, then the pool workers (sync.max_workers at
 * most, and no more than there are series).  When a process of the first
 * kinds finds no background worker slot free, a pool worker gives its
 * slot up (its series go to the others).
 *
 * On SIGTERM (sync_stop(), server shutdown) it asks each process to stop,
 * waits until they have committed what they hold and exited, and exits 0.
 *
 * Processes are dynamic, BGW_NEVER_RESTART workers whose bgw_notify_pid
 * is the supervisor, so a start or exit sets the supervisor's latch and
 * is handled at once.
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
#include "pool_assign.h"
#include "sync.h"
#include "worker_common.h"

PGDLLEXPORT void sync_supervisor_main(Datum arg);

/* A job: a series (a slot only) or a process (a slot and a worker). */
typedef struct Job
{
	SyncJobKey	key;			/* hash key: kind and id */
	char		name[BGW_MAXLEN];
	int			slot;			/* in SyncState->slots, -1 if none yet */
	BackgroundWorkerHandle *handle;
	SyncRestartPolicy restart;
	bool		wanted;
	bool		stopped;		/* a service stopped for crashing */
	bool		stop_shown;		/* ... and its slot says so */
	char		stop_reason[SYNC_ERROR_LEN];
} Job;

/* A job that should be, as read from the catalog. */
typedef struct WantedJob
{
	SyncJobKey	key;
	char		name[BGW_MAXLEN];
	char	   *stopped;		/* a service stopped for crashing: why */
} WantedJob;

typedef struct Supervisor
{
	Oid			dboid;
	HTAB	   *jobs;			/* of Job, by kind and id, in TopMemoryContext */
	List	   *wanted;			/* of WantedJob *, in the loop context */
	int			nseries;		/* series wanted */
	bool		no_slot_logged; /* sync.max_series is full: said once */
	bool		no_worker_logged;	/* a process could not start: said once */
} Supervisor;

static Supervisor Sup;

static void
supervisor_detach(int code, Datum arg)
{
	SyncDatabase *db;

	LWLockAcquire(SyncState->lock, LW_EXCLUSIVE);
	db = sync_find_database(Sup.dboid);
	if (db != NULL && db->supervisor_pid == MyProcPid)
		db->supervisor_pid = 0;
	for (int i = 0; i < SyncState->nslots; i++)
		if (SyncState->slots[i].in_use && SyncState->slots[i].dboid == Sup.dboid)
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
	db = sync_find_database(Sup.dboid);
	if (db != NULL && !db->stop_requested &&
		(db->supervisor_pid == 0 || kill(db->supervisor_pid, 0) != 0))
	{
		db->supervisor_pid = MyProcPid;
		ok = true;
	}
	LWLockRelease(SyncState->lock);
	return ok;
}

/* The processes whose crash loops stop them (by a file; they have no row). */
static bool
is_service(SyncJobKind kind)
{
	return kind == SYNC_JOB_AGGREGATOR || kind == SYNC_JOB_SCHEDULER || kind == SYNC_JOB_STREAMER;
}

/*
 * Put a crash-looping subscription or requested run in state error, inside
 * the caller's transaction.  True when this call stopped it (false if the
 * row had changed meanwhile).
 */
static bool
stop_crashed_row(SyncJobKey key, const char *reason)
{
	Oid			types[2] = {INT4OID, TEXTOID};
	Datum		values[2] = {Int32GetDatum(key.id), CStringGetTextDatum(reason)};
	int			ret;

	if (key.kind == SYNC_JOB_SUBSCRIPTION)
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
		elog(ERROR, "could not stop job %s %d: SPI error %d", sync_job_kind_name(key.kind), key.id, ret);
	return SPI_processed == 1;
}

/*
 * The crash guard's say on the wanted set: a job that crashed the server
 * too often recently is stopped (see the file header); a service stopped
 * before stays in the set, marked, so its slot can show why.  Pool
 * workers are never stopped: a pool worker's crash is counted against the
 * series it was working on (pool.c).
 */
static void
guard_wanted_jobs(MemoryContext cxt)
{
	SyncCrashRecord *crashes;
	int			ncrashes = sync_crash_guard_recent(Sup.dboid, &crashes);
	ListCell   *lc;

	foreach(lc, Sup.wanted)
	{
		WantedJob  *w = lfirst(lc);
		int32		guard_id = sync_job_legacy_id(w->key.kind, w->key.id);
		const SyncCrashRecord *rec = sync_crash_guard_find(crashes, ncrashes, guard_id);
		bool		service = is_service(w->key.kind);
		char		reason[SYNC_ERROR_LEN];
		bool		stopped_now = false;

		if (w->key.kind == SYNC_JOB_POOL)
			continue;
		if (rec != NULL && rec->count >= SYNC_CRASH_LIMIT)
		{
			sync_crash_guard_message(rec, w->key.kind == SYNC_JOB_SUBSCRIPTION, reason, sizeof(reason));
			if (service)
				stopped_now = sync_crash_guard_stop(Sup.dboid, guard_id, reason);
			else
				stopped_now = stop_crashed_row(w->key, reason);
			if (stopped_now)
				ereport(WARNING,
						(errmsg("sync job \"%s\" is stopped: it %s", w->name, reason),
						 errhint("Find the cause in the server log (the signal its worker died of), then call sync_start().")));
			if (!service)
			{
				Sup.wanted = foreach_delete_current(Sup.wanted, lc);
				continue;
			}
		}
		if (service && sync_crash_guard_stopped(Sup.dboid, guard_id, reason, sizeof(reason)))
			w->stopped = MemoryContextStrdup(cxt, reason);
	}
}

static SyncJobKind
kind_of_text(const char *kind)
{
	if (strcmp(kind, "subscription") == 0)
		return SYNC_JOB_SUBSCRIPTION;
	if (strcmp(kind, "run") == 0)
		return SYNC_JOB_RUN;
	if (strcmp(kind, "aggregator") == 0)
		return SYNC_JOB_AGGREGATOR;
	if (strcmp(kind, "scheduler") == 0)
		return SYNC_JOB_SCHEDULER;
	return SYNC_JOB_STREAMER;
}

static void
read_wanted_jobs(void *arg)
{
	MemoryContext cxt = (MemoryContext) arg;
	int			ret;
	int			pool_workers;
	ListCell   *lc;

	Sup.wanted = NIL;
	Sup.nseries = 0;
	if (!sync_extension_ready())
		return;
	SPI_connect();
	/*
	 * The aggregator and the scheduler once the extension version that has
	 * them is installed; a streamer only for a source whose provider has a
	 * stream client (checked below).  The order is the order of starting.
	 */
	ret = SPI_execute("SELECT 'aggregator', 0, 'sync aggregator', NULL"
					  " WHERE to_regprocedure('sync.refresh_rollups(integer)') IS NOT NULL"
					  " UNION ALL "
					  "SELECT 'scheduler', 0, 'sync scheduler', NULL"
					  " WHERE to_regprocedure('sync.run_due_schedules()') IS NOT NULL"
					  " UNION ALL "
					  "(SELECT 'streamer', src.id, format('sync stream %s', src.name), src.provider"
					  "  FROM sync.sources src"
					  " WHERE EXISTS (SELECT FROM sync.subscriptions s"
					  "                WHERE s.source_id = src.id AND s.state = 'active' AND s.realtime)"
					  " ORDER BY src.id)"
					  " UNION ALL "
					  "(SELECT 'subscription', s.id, format('sync %s %s@%s', s.dataset, s.symbol, src.name), NULL"
					  "  FROM sync.subscriptions s JOIN sync.sources src ON src.id = s.source_id"
					  " WHERE s.state = 'active' ORDER BY s.id)"
					  " UNION ALL "
					  "(SELECT 'run', r.id::int4, format('sync backfill %s@%s #%s', r.symbol, r.source, r.id), NULL"
					  "  FROM sync.job_runs r"
					  " WHERE r.requested AND r.state IN ('pending', 'running') ORDER BY r.id)",
					  true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read subscriptions: SPI error %d", ret);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		provider = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 4, &isnull);
		const SyncProvider *p;
		MemoryContext old;
		WantedJob  *w;

		if (!isnull &&
			((p = sync_provider_lookup(TextDatumGetCString(provider))) == NULL || p->parse_stream == NULL))
			continue;
		old = MemoryContextSwitchTo(cxt);
		w = palloc0(sizeof(WantedJob));
		w->key.kind = kind_of_text(TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull)));
		w->key.id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		strlcpy(w->name, TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3, &isnull)),
				BGW_MAXLEN);
		Sup.wanted = lappend(Sup.wanted, w);
		MemoryContextSwitchTo(old);
	}
	/* the rows are copied: the guard may run statements of its own now */
	guard_wanted_jobs(cxt);
	SPI_finish();

	/* pool workers last: as many as allowed, no more than there are series */
	foreach(lc, Sup.wanted)
		if (SYNC_JOB_IS_SERIES(((WantedJob *) lfirst(lc))->key.kind))
			Sup.nseries++;
	pool_workers = Min(sync_pool_workers_allowed(Sup.dboid), Sup.nseries);
	for (int i = 0; i < pool_workers; i++)
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);
		WantedJob  *w = palloc0(sizeof(WantedJob));

		w->key.kind = SYNC_JOB_POOL;
		w->key.id = i;
		snprintf(w->name, BGW_MAXLEN, "sync pool %d", i);
		Sup.wanted = lappend(Sup.wanted, w);
		MemoryContextSwitchTo(old);
	}
}

static bool
start_worker(Job *job)
{
	BackgroundWorker worker;
	SyncWorkerArgs args;
	MemoryContext old;
	bool		ok;
	const char *function = NULL;

	if (job->slot < 0)
		job->slot = sync_slot_acquire(Sup.dboid, job->key.kind, job->key.id);
	if (job->slot < 0)
	{
		if (!Sup.no_slot_logged)
			ereport(WARNING,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("sync cannot start \"%s\": all %d slots of sync.max_series are in use",
							job->name, sync_max_series),
					 errhint("Raise sync.max_series and restart the server.")));
		Sup.no_slot_logged = true;
		return false;
	}

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;	/* we restart it */
	snprintf(worker.bgw_library_name, BGW_MAXLEN, SYNC_LIBRARY_NAME);
	switch (job->key.kind)
	{
		case SYNC_JOB_AGGREGATOR:
			function = "sync_aggregator_main";
			break;
		case SYNC_JOB_SCHEDULER:
			function = "sync_scheduler_main";
			break;
		case SYNC_JOB_STREAMER:
			function = "sync_streamer_main";
			break;
		case SYNC_JOB_POOL:
			function = "sync_pool_main";
			break;
		case SYNC_JOB_NONE:
		case SYNC_JOB_SUBSCRIPTION:
		case SYNC_JOB_RUN:
			elog(ERROR, "sync job \"%s\" is not a process", job->name);
	}
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "%s", function);
	snprintf(worker.bgw_type, BGW_MAXLEN, "sync %s", sync_job_kind_name(job->key.kind));
	strlcpy(worker.bgw_name, job->name, BGW_MAXLEN);
	worker.bgw_main_arg = Int32GetDatum(job->slot);
	worker.bgw_notify_pid = MyProcPid;
	memset(&args, 0, sizeof(args));
	args.dboid = Sup.dboid;
	args.kind = job->key.kind;
	args.id = job->key.id;
	args.crash_guarded = true;
	memcpy(worker.bgw_extra, &args, sizeof(args));

	old = MemoryContextSwitchTo(TopMemoryContext);
	ok = RegisterDynamicBackgroundWorker(&worker, &job->handle);
	MemoryContextSwitchTo(old);
	if (!ok)
	{
		if (!Sup.no_worker_logged)
			ereport(WARNING,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("sync cannot start \"%s\": no background worker slot is free", job->name),
					 errhint("Raise max_worker_processes (and restart the server), or lower sync.max_workers.")));
		Sup.no_worker_logged = true;
		job->handle = NULL;
		return false;
	}
	sync_restart_started(&job->restart, GetCurrentTimestamp());
	return true;
}

static void
stop_process(Job *job)
{
	if (job->handle != NULL)
	{
		TerminateBackgroundWorker(job->handle);
		(void) WaitForBackgroundWorkerShutdown(job->handle);
		pfree(job->handle);
		job->handle = NULL;
	}
}

/*
 * A job no longer wanted.  A process is stopped and its slot freed.  A
 * series' slot is retired and freed once no pool worker holds it (so a
 * slot is never reused while a worker still writes to it): false while
 * that is not yet so.
 */
static bool
remove_job(Job *job)
{
	if (!SYNC_JOB_IS_SERIES(job->key.kind))
	{
		stop_process(job);
		if (job->slot >= 0)
			sync_slot_release(job->slot);
		job->slot = -1;
		return true;
	}
	if (job->slot >= 0 && !sync_pool_retire_series(job->slot))
		return false;
	job->slot = -1;
	return true;
}

/* The highest-numbered pool worker running, to give its slot to a service. */
static Job *
last_pool_worker(void)
{
	HASH_SEQ_STATUS seq;
	Job		   *job;
	Job		   *last = NULL;

	hash_seq_init(&seq, Sup.jobs);
	while ((job = hash_seq_search(&seq)) != NULL)
		if (job->key.kind == SYNC_JOB_POOL && job->handle != NULL &&
			(last == NULL || job->key.id > last->key.id))
			last = job;
	return last;
}

/* Mark every job unwanted, then the wanted ones wanted (creating them). */
static void
mark_wanted(TimestampTz now)
{
	HASH_SEQ_STATUS seq;
	Job		   *job;
	ListCell   *lc;

	hash_seq_init(&seq, Sup.jobs);
	while ((job = hash_seq_search(&seq)) != NULL)
		job->wanted = false;

	foreach(lc, Sup.wanted)
	{
		WantedJob  *w = lfirst(lc);
		bool		found;

		job = hash_search(Sup.jobs, &w->key, HASH_ENTER, &found);
		if (!found)
		{
			memset((char *) job + sizeof(SyncJobKey), 0, sizeof(Job) - sizeof(SyncJobKey));
			job->slot = -1;
			job->restart.next_start = now;
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
}

/* Keep one process running; returns ms until it may be started again, or -1. */
static long
keep_process(Job *job, TimestampTz now, bool *blocked)
{
	pid_t		pid;

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
		stop_process(job);
		if (job->slot < 0)
		{
			job->slot = sync_slot_acquire(Sup.dboid, job->key.kind, job->key.id);
			job->stop_shown = false;
		}
		if (job->slot >= 0 && !job->stop_shown)
		{
			sync_slot_set_error(job->slot, SYNC_PHASE_ERROR, job->stop_reason, 0);
			job->stop_shown = true;
		}
		return -1;
	}
	if (job->handle != NULL)
		return -1;
	if (now < job->restart.next_start)
		return TimestampDifferenceMilliseconds(now, job->restart.next_start);
	/* a pool worker waits while a process started before it cannot run */
	if (job->key.kind == SYNC_JOB_POOL && *blocked)
		return -1;
	if (start_worker(job))
		return -1;
	sync_restart_failed(&job->restart, now);
	if (job->key.kind != SYNC_JOB_POOL)
	{
		Job		   *pool = last_pool_worker();

		/* a service first: the last pool worker makes room (its series go to the others) */
		*blocked = true;
		if (pool != NULL)
		{
			ereport(LOG,
					(errmsg("sync stops \"%s\" to make room for \"%s\"", pool->name, job->name)));
			stop_process(pool);
			job->restart.next_start = now;
			return 10;
		}
	}
	return TimestampDifferenceMilliseconds(now, job->restart.next_start);
}

/* Bring the running processes and the series' slots in line with what is wanted. */
static long
reconcile(void)
{
	TimestampTz now = GetCurrentTimestamp();
	long		next_ms = sync_naptime_ms;
	bool		blocked = false;
	bool		all_started = true;
	HASH_SEQ_STATUS seq;
	Job		   *job;
	ListCell   *lc;

	mark_wanted(now);

	/* what is gone first: its slots and background worker slots free up */
	hash_seq_init(&seq, Sup.jobs);
	while ((job = hash_seq_search(&seq)) != NULL)
		if (!job->wanted && remove_job(job))
			(void) hash_search(Sup.jobs, &job->key, HASH_REMOVE, NULL);

	/* processes, in the order they were read (services, then pool workers) */
	foreach(lc, Sup.wanted)
	{
		WantedJob  *w = lfirst(lc);
		long		wait;

		if (SYNC_JOB_IS_SERIES(w->key.kind))
			continue;
		job = hash_search(Sup.jobs, &w->key, HASH_FIND, NULL);
		wait = keep_process(job, now, &blocked);
		if (wait >= 0)
			next_ms = Min(next_ms, wait);
		if (job->handle == NULL && !job->stopped)
			all_started = false;
	}
	if (all_started)
		Sup.no_worker_logged = false;

	/* series: a slot each, and a pool worker to carry it */
	foreach(lc, Sup.wanted)
	{
		WantedJob  *w = lfirst(lc);

		if (!SYNC_JOB_IS_SERIES(w->key.kind))
			continue;
		job = hash_search(Sup.jobs, &w->key, HASH_FIND, NULL);
		if (job->slot < 0)
			job->slot = sync_slot_acquire(Sup.dboid, job->key.kind, job->key.id);
		if (job->slot < 0 && !Sup.no_slot_logged)
		{
			ereport(WARNING,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("sync cannot carry \"%s\": all %d slots of sync.max_series are in use",
							job->name, sync_max_series),
					 errhint("Raise sync.max_series and restart the server.")));
			Sup.no_slot_logged = true;
		}
	}
	{
		bool		running[SYNC_MAX_POOL_WORKERS] = {0};

		hash_seq_init(&seq, Sup.jobs);
		while ((job = hash_seq_search(&seq)) != NULL)
			if (job->key.kind == SYNC_JOB_POOL && job->handle != NULL &&
				job->key.id >= 0 && job->key.id < SYNC_MAX_POOL_WORKERS)
				running[job->key.id] = true;
		sync_pool_assign(Sup.dboid, running);
	}
	return Max(next_ms, 10);
}

void
sync_supervisor_main(Datum arg)
{
	MemoryContext loop_cxt;
	char		errbuf[256];
	HASHCTL		ctl;

	Sup.dboid = DatumGetObjectId(arg);
	sync_worker_init_signals();
	BackgroundWorkerInitializeConnectionByOid(Sup.dboid, InvalidOid, 0);

	if (!supervisor_attach())
		proc_exit(0);
	before_shmem_exit(supervisor_detach, (Datum) 0);
	pgstat_report_appname("sync supervisor");

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(SyncJobKey);
	ctl.entrysize = sizeof(Job);
	ctl.hcxt = TopMemoryContext;
	Sup.jobs = hash_create("sync jobs", 256, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	loop_cxt = AllocSetContextCreate(TopMemoryContext, "sync supervisor loop",
									 ALLOCSET_DEFAULT_SIZES);
	while (!sync_got_sigterm)
	{
		long		wait_ms = sync_naptime_ms;

		MemoryContextReset(loop_cxt);
		MemoryContextSwitchTo(loop_cxt);
		sync_worker_reload_if_asked();

		if (RecoveryInProgress())
		{
			Sup.wanted = NIL;
			wait_ms = reconcile();
		}
		else if (!sync_worker_txn("sync supervisor: reading subscriptions",
								  read_wanted_jobs, loop_cxt, errbuf, sizeof(errbuf)))
		{
			/* keep what runs; try again at the next wake-up */
			wait_ms = sync_naptime_ms;
		}
		else
			wait_ms = reconcile();
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 wait_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}

	/* stop: ask every process first, then wait for each */
	{
		HASH_SEQ_STATUS seq;
		Job		   *job;

		hash_seq_init(&seq, Sup.jobs);
		while ((job = hash_seq_search(&seq)) != NULL)
			if (job->handle != NULL)
				TerminateBackgroundWorker(job->handle);
		hash_seq_init(&seq, Sup.jobs);
		while ((job = hash_seq_search(&seq)) != NULL)
			stop_process(job);
	}
	proc_exit(0);
}
