/*-------------------------------------------------------------------------
 * aggregator.c
 *	  The aggregator of one database: folds newly stored 1-minute input into
 *	  the materialized rollups by calling sync.refresh_rollups() every
 *	  sync.aggregate_interval_ms, and at once again while a batch came back
 *	  full (a backfill is landing).
 *
 * The work itself is set-based SQL (sql/sync--0.1.0--0.2.0.sql); this
 * worker only decides when it runs.  The views are current without it, so
 * a failed refresh is logged, shown in the worker's slot and retried with
 * backoff, and costs queries some speed, never correctness.
 *
 * The supervisor runs it as the job with subscription id 0.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "shmem.h"
#include "worker_common.h"

PGDLLEXPORT void sync_aggregator_main(Datum arg);

static int	aggregator_slot;

static void
aggregator_detach(int code, Datum arg)
{
	SyncJobSlot *s = &SyncState->slots[aggregator_slot];

	LWLockAcquire(SyncState->lock, LW_EXCLUSIVE);
	if (s->pid == MyProcPid)
	{
		s->pid = 0;
		s->phase = SYNC_PHASE_STOPPED;
	}
	LWLockRelease(SyncState->lock);
}

static bool
aggregator_attach(void)
{
	SyncJobSlot *s = &SyncState->slots[aggregator_slot];
	bool		ok;

	LWLockAcquire(SyncState->lock, LW_EXCLUSIVE);
	ok = s->in_use && s->dboid == MyDatabaseId &&
		s->subscription_id == SYNC_AGGREGATOR_JOB_ID;
	if (ok)
	{
		s->pid = MyProcPid;
		s->phase = SYNC_PHASE_PENDING;
	}
	LWLockRelease(SyncState->lock);
	return ok;
}

/* One refresh; *(int *) arg receives how many invalidations it claimed. */
static void
refresh_once(void *arg)
{
	int		   *claimed = (int *) arg;
	Datum		batch = Int32GetDatum(sync_aggregate_batch);
	Oid			argtype = INT4OID;
	bool		isnull;
	int			ret;

	*claimed = 0;
	SPI_connect();
	ret = SPI_execute_with_args("SELECT sync.refresh_rollups($1)", 1, &argtype, &batch,
								NULL, false, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not refresh rollups: SPI error %d", ret);
	*claimed = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
}

void
sync_aggregator_main(Datum arg)
{
	SyncWorkerArgs args;
	MemoryContext loop_cxt;
	char		errbuf[SYNC_ERROR_LEN];
	int			failures = 0;

	aggregator_slot = DatumGetInt32(arg);
	memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof(args));
	sync_worker_init_signals();
	BackgroundWorkerInitializeConnectionByOid(args.dboid, InvalidOid, 0);
	if (!aggregator_attach())
		proc_exit(0);
	before_shmem_exit(aggregator_detach, (Datum) 0);
	pgstat_report_appname("sync aggregator");

	loop_cxt = AllocSetContextCreate(TopMemoryContext, "sync aggregator loop",
									 ALLOCSET_DEFAULT_SIZES);
	while (!sync_worker_stopping())
	{
		int			claimed = 0;
		long		wait_ms;

		MemoryContextReset(loop_cxt);
		MemoryContextSwitchTo(loop_cxt);
		sync_worker_reload_if_asked();

		if (sync_worker_txn("sync aggregator: refreshing rollups", refresh_once, &claimed,
							errbuf, sizeof(errbuf)))
		{
			failures = 0;
			sync_slot_report(aggregator_slot, SYNC_PHASE_IDLE, GetCurrentTimestamp());
			/* a full batch means more is waiting: go on after a look at the latch */
			wait_ms = claimed >= sync_aggregate_batch ? 0 : sync_aggregate_interval_ms;
		}
		else
		{
			failures++;
			wait_ms = sync_backoff_ms(failures);
			sync_slot_set_error(aggregator_slot, SYNC_PHASE_RETRYING, errbuf,
								TimestampTzPlusMilliseconds(GetCurrentTimestamp(), wait_ms));
		}
		if (!sync_worker_sleep_until(TimestampTzPlusMilliseconds(GetCurrentTimestamp(), wait_ms)))
			break;
	}
	proc_exit(0);
}
