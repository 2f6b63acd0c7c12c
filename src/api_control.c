/*-------------------------------------------------------------------------
 * api_control.c
 *	  SQL-callable functions that control and observe the workers:
 *	  sync_start(), sync_stop() and the shared-memory readers behind
 *	  sync_status().
 *
 * sync_start() does not launch anything itself: it records the database in
 * the autostart list and wakes the launcher, which owns the supervisors.
 * That keeps one process responsible for restarting supervisors, whether
 * they were asked for just now or before a server restart.
 *
 * sync_start() is also the user's word that jobs stopped for crashing the
 * server may run again (src/crash_guard.c): it forgets this database's
 * crash records and stops, and sync._release_crashed() puts the stopped
 * subscriptions and runs back to work.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/xlog.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "autostart.h"
#include "crash_guard.h"
#include "shmem.h"
#include "sync.h"

PG_FUNCTION_INFO_V1(sync_start);
PG_FUNCTION_INFO_V1(sync_stop);
PG_FUNCTION_INFO_V1(sync_worker_status);
PG_FUNCTION_INFO_V1(sync_supervisor_pid);

/* how long sync_start() waits for the supervisor, and sync_stop() for exit */
#define START_WAIT_MS	10000
#define STOP_WAIT_MS	60000

static void
require_workers(void)
{
	if (!sync_shmem_available())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("sync background workers are not available"),
				 errdetail("The sync library was not loaded through shared_preload_libraries."),
				 errhint("Add 'sync' to shared_preload_libraries in postgresql.conf and restart the server.")));
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("sync cannot run on a server in recovery"),
				 errhint("Start sync on the primary; a standby receives the data through replication.")));
}

static pid_t
current_supervisor_pid(void)
{
	SyncDatabase *db;
	pid_t		pid = 0;

	LWLockAcquire(SyncState->lock, LW_SHARED);
	db = sync_find_database(MyDatabaseId);
	if (db != NULL)
		pid = db->supervisor_pid;
	LWLockRelease(SyncState->lock);
	return pid;
}

/*
 * Wait until this database's supervisor is running (want_running) or gone.
 * Returns whether that state was reached within timeout_ms.
 */
static bool
wait_for_supervisor(bool want_running, int timeout_ms)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);

	for (;;)
	{
		if ((current_supervisor_pid() != 0) == want_running)
			return true;
		if (GetCurrentTimestamp() >= deadline)
			return false;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 20, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * A read replica (docs/replicas.md) receives sync's tables from the
 * ingesting server through a subscription.  Workers there would fetch the
 * same series again, without the keys the replica never receives, and their
 * rows would collide with the replicated ones and stop the subscription.
 * So sync does not start in a database that subscribes to any of its
 * tables, enabled or not: the subscription makes it a replica.
 */
static void
refuse_replica(void)
{
	bool		isnull;
	int			ret;
	char	   *subname = NULL;
	MemoryContext outer = CurrentMemoryContext;

	SPI_connect();
	ret = SPI_execute("SELECT s.subname::text"
					  "  FROM pg_catalog.pg_subscription_rel r"
					  "  JOIN pg_catalog.pg_subscription s ON s.oid = r.srsubid"
					  "  JOIN pg_catalog.pg_depend d ON d.objid = r.srrelid"
					  "   AND d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass"
					  "   AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass"
					  "   AND d.deptype = 'e'"
					  "  JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'sync'"
					  " ORDER BY 1 LIMIT 1", true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not look for subscriptions: SPI error %d", ret);
	if (SPI_processed == 1)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		/* the name outlives SPI_finish(), which frees SPI's memory */
		subname = MemoryContextStrdup(outer, isnull ? "?" : TextDatumGetCString(d));
	}
	SPI_finish();
	if (subname != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("sync cannot run in a read replica"),
				 errdetail("Subscription \"%s\" receives sync's tables from the ingesting server.",
						   subname),
				 errhint("Run sync on the ingesting server. To make this database ingest, drop the subscription first (docs/replicas.md).")));
}

/*
 * Jobs stopped for crashing the server go back to work.  The catalog side
 * is a function of 0.5.0: a library newer than the installed extension
 * skips it (those jobs then wait for ALTER EXTENSION sync UPDATE).
 */
static void
release_crashed_jobs(void)
{
	bool		isnull;
	int			ret;

	sync_crash_guard_release(MyDatabaseId);
	SPI_connect();
	ret = SPI_execute("SELECT to_regprocedure('sync._release_crashed()') IS NOT NULL", true, 1);
	if (ret == SPI_OK_SELECT && SPI_processed == 1 &&
		DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
	{
		ret = SPI_execute("SELECT sync._release_crashed()", false, 1);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "could not release the jobs stopped for crashing: SPI error %d", ret);
	}
	SPI_finish();
}

Datum
sync_start(PG_FUNCTION_ARGS)
{
	SyncDatabase *db;
	Latch	   *launcher_latch;

	require_workers();
	refuse_replica();
	release_crashed_jobs();

	LWLockAcquire(SyncState->lock, LW_EXCLUSIVE);
	db = sync_add_database(MyDatabaseId);
	if (db == NULL)
	{
		LWLockRelease(SyncState->lock);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("sync runs in too many databases"),
				 errdetail("At most %d databases of a cluster can run sync at once.", SYNC_MAX_DATABASES),
				 errhint("Call sync_stop() in a database that no longer needs it.")));
	}
	sync_autostart_save();
	launcher_latch = SyncState->launcher_latch;
	LWLockRelease(SyncState->lock);

	if (launcher_latch == NULL)
		ereport(WARNING,
				(errmsg("the sync launcher is not running"),
				 errdetail("The supervisor will start when the launcher does."),
				 errhint("Check max_worker_processes and the server log.")));
	else
		SetLatch(launcher_latch);

	PG_RETURN_BOOL(wait_for_supervisor(true, START_WAIT_MS));
}

Datum
sync_stop(PG_FUNCTION_ARGS)
{
	SyncDatabase *db;
	pid_t		pid = 0;
	bool		stopped;

	require_workers();

	LWLockAcquire(SyncState->lock, LW_EXCLUSIVE);
	db = sync_find_database(MyDatabaseId);
	if (db != NULL)
	{
		db->stop_requested = true;
		pid = db->supervisor_pid;
		sync_autostart_save();
	}
	LWLockRelease(SyncState->lock);

	if (db == NULL)
		PG_RETURN_BOOL(false);

	/* the supervisor stops its workers, which commit what they hold */
	if (pid != 0)
		kill(pid, SIGTERM);
	stopped = wait_for_supervisor(false, STOP_WAIT_MS);
	if (!stopped)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("sync supervisor (PID %d) did not stop within %d seconds", (int) pid, STOP_WAIT_MS / 1000),
				 errhint("Look in the server log for what it is waiting on; pg_terminate_backend() stops it at once.")));

	LWLockAcquire(SyncState->lock, LW_EXCLUSIVE);
	if (db->dboid == MyDatabaseId && db->stop_requested && db->supervisor_pid == 0)
		db->dboid = InvalidOid;
	LWLockRelease(SyncState->lock);

	PG_RETURN_BOOL(pid != 0);
}

Datum
sync_supervisor_pid(PG_FUNCTION_ARGS)
{
	pid_t		pid;

	if (!sync_shmem_available())
		PG_RETURN_NULL();
	pid = current_supervisor_pid();
	if (pid == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT32((int32) pid);
}

/*
 * One row per job slot of this database.  The slots are copied under the
 * lock and turned into tuples after it is released.  The columns after
 * retry_at came with 0.6.0; a database still on the SQL of 0.5.0 (the
 * library is updated before ALTER EXTENSION UPDATE runs) declares fewer,
 * and gets only those.
 */
#define WORKER_STATUS_COLS 12

static const char *
wait_reason_name(SyncWaitReason r)
{
	switch (r)
	{
		case SYNC_WAIT_NONE:
			break;
		case SYNC_WAIT_NO_WORKER:
			return "no pool worker is running to carry it";
		case SYNC_WAIT_WORKER_BUSY:
			return "its pool worker has every transfer in use";
	}
	return NULL;
}

Datum
sync_worker_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	SyncJobSlot *copy;
	int			n = 0;

	InitMaterializedSRF(fcinfo, 0);
	if (!sync_shmem_available())
		return (Datum) 0;
	if (rsinfo->setDesc->natts > WORKER_STATUS_COLS)
		elog(ERROR, "sync._worker_status() is declared with more columns than this library has");

	copy = sync_slots_of_database(MyDatabaseId, &n);

	for (int i = 0; i < n; i++)
	{
		Datum		values[WORKER_STATUS_COLS];
		bool		nulls[WORKER_STATUS_COLS] = {0};
		SyncJobSlot *s = &copy[i];
		const char *why = wait_reason_name(s->wait_reason);

		values[0] = Int32GetDatum(sync_job_legacy_id(s->kind, s->id));
		values[1] = Int32GetDatum((int32) s->pid);
		nulls[1] = (s->pid == 0);
		values[2] = CStringGetTextDatum(sync_phase_name(s->phase));
		values[3] = TimestampTzGetDatum(s->newest_event);
		nulls[3] = (s->newest_event == 0);
		values[4] = CStringGetTextDatum(s->last_error);
		nulls[4] = (s->last_error[0] == '\0');
		values[5] = TimestampTzGetDatum(s->last_error_at);
		nulls[5] = (s->last_error_at == 0);
		values[6] = TimestampTzGetDatum(s->retry_at);
		nulls[6] = (s->retry_at == 0);
		values[7] = CStringGetTextDatum(sync_job_kind_name(s->kind));
		values[8] = Int32GetDatum(s->id);
		values[9] = Int32GetDatum(s->pool_worker);
		nulls[9] = (s->pool_worker < 0 || !SYNC_JOB_IS_SERIES(s->kind));
		values[10] = TimestampTzGetDatum(s->waiting_since);
		nulls[10] = (s->waiting_since == 0);
		values[11] = why ? CStringGetTextDatum(why) : (Datum) 0;
		nulls[11] = (why == NULL || s->waiting_since == 0);
		/* an old declaration takes the first natts columns only */
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
