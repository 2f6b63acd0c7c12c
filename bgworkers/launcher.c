/*-------------------------------------------------------------------------
 * launcher.c
 *	  The launcher: one static background worker per cluster, registered
 *	  from _PG_init, that keeps a supervisor running in every database
 *	  where sync_start() was called.
 *
 * It reads the autostart list at start (so sync comes back after a
 * restart), is woken by sync_start() through its latch, and restarts a
 * supervisor that died, with exponential backoff if it keeps dying.  It
 * connects to no database (like the logical replication launcher): it only
 * needs shared memory.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/timestamp.h"

#include "autostart.h"
#include "shmem.h"
#include "sync.h"
#include "worker_common.h"

PGDLLEXPORT void sync_launcher_main(Datum arg);

typedef struct SupervisorHandle
{
	Oid			dboid;
	BackgroundWorkerHandle *handle;
	SyncRestartPolicy restart;
} SupervisorHandle;

static SupervisorHandle supervisors[SYNC_MAX_DATABASES];

void
sync_launcher_register(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, SYNC_LIBRARY_NAME);
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "sync_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "sync launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "sync launcher");
	RegisterBackgroundWorker(&worker);
}

static void
launcher_detach(int code, Datum arg)
{
	LWLockAcquire(SyncState->lock, LW_EXCLUSIVE);
	if (SyncState->launcher_pid == MyProcPid)
	{
		SyncState->launcher_pid = 0;
		SyncState->launcher_latch = NULL;
	}
	LWLockRelease(SyncState->lock);
}

static bool
start_supervisor(SupervisorHandle *sh)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;	/* the launcher restarts it */
	snprintf(worker.bgw_library_name, BGW_MAXLEN, SYNC_LIBRARY_NAME);
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "sync_supervisor_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "sync supervisor for database %u", sh->dboid);
	snprintf(worker.bgw_type, BGW_MAXLEN, "sync supervisor");
	worker.bgw_main_arg = ObjectIdGetDatum(sh->dboid);
	worker.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&worker, &sh->handle))
	{
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start the sync supervisor for database %u", sh->dboid),
				 errhint("Raise max_worker_processes.")));
		sh->handle = NULL;
		return false;
	}
	sync_restart_started(&sh->restart, GetCurrentTimestamp());
	return true;
}

/* One pass over the databases; returns ms until something is due. */
static long
launcher_reconcile(void)
{
	TimestampTz now = GetCurrentTimestamp();
	long		next_ms = 5000;

	for (int i = 0; i < SYNC_MAX_DATABASES; i++)
	{
		SupervisorHandle *sh = &supervisors[i];
		SyncDatabase *db = &SyncState->dbs[i];
		Oid			dboid;
		bool		wanted;
		pid_t		running_pid;

		LWLockAcquire(SyncState->lock, LW_SHARED);
		dboid = db->dboid;
		wanted = OidIsValid(dboid) && !db->stop_requested;
		running_pid = db->supervisor_pid;
		LWLockRelease(SyncState->lock);

		if (sh->handle != NULL)
		{
			pid_t		pid;

			if (GetBackgroundWorkerPid(sh->handle, &pid) != BGWH_STOPPED)
				continue;
			pfree(sh->handle);
			sh->handle = NULL;
			sync_restart_exited(&sh->restart, now);
		}
		if (sh->dboid != dboid)
		{
			sh->dboid = dboid;
			memset(&sh->restart, 0, sizeof(sh->restart));
		}
		/* a supervisor left from a previous launcher is still in charge */
		if (!wanted || running_pid != 0)
			continue;
		if (now < sh->restart.next_start)
		{
			next_ms = Min(next_ms, TimestampDifferenceMilliseconds(now, sh->restart.next_start));
			continue;
		}
		if (!start_supervisor(sh))
			sync_restart_failed(&sh->restart, now);
	}
	return Max(next_ms, 10);
}

void
sync_launcher_main(Datum arg)
{
	sync_worker_init_signals();

	/* no database: this only makes the launcher visible in pg_stat_activity */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	LWLockAcquire(SyncState->lock, LW_EXCLUSIVE);
	SyncState->launcher_pid = MyProcPid;
	SyncState->launcher_latch = MyLatch;
	LWLockRelease(SyncState->lock);
	on_shmem_exit(launcher_detach, (Datum) 0);

	sync_autostart_load();
	ereport(LOG, (errmsg("sync launcher started")));

	while (!sync_got_sigterm)
	{
		long		wait_ms;

		sync_worker_reload_if_asked();
		wait_ms = launcher_reconcile();
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 wait_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}

	/*
	 * Exit 1 so the postmaster restarts us if someone terminated only the
	 * launcher; at shutdown nothing is restarted anyway.  Supervisors run
	 * on by themselves meanwhile.
	 */
	proc_exit(1);
}
