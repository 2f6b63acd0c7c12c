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
	if (!sync_service_attach(aggregator_slot, SYNC_JOB_AGGREGATOR, 0))
		proc_exit(0);
	pgstat_report_appname("sync aggregator");

	loop_cxt = AllocSetContextCreate(TopMemoryContext, "sync aggregator loop",
									 ALLOCSET_DEFAULT_SIZES);
	while (!sync_worker_stopping())
	{
		SyncSqlCall call = {"SELECT sync.refresh_rollups($1)::int8", sync_aggregate_batch, true, 0};
		long		wait_ms = 0;
		bool		waiting_interval = false;

		MemoryContextReset(loop_cxt);
		MemoryContextSwitchTo(loop_cxt);
		sync_worker_reload_if_asked();

		if (sync_worker_txn("sync aggregator: refreshing rollups", sync_worker_sql_number, &call,
							errbuf, sizeof(errbuf)))
		{
			failures = 0;
			sync_slot_report(aggregator_slot, SYNC_PHASE_IDLE, GetCurrentTimestamp());
			/* a full batch means more is waiting: go on after a look at the latch */
			waiting_interval = call.result < sync_aggregate_batch;
		}
		else
		{
			failures++;
			wait_ms = sync_backoff_ms(failures);
			sync_slot_set_error(aggregator_slot, SYNC_PHASE_RETRYING, errbuf,
								TimestampTzPlusMilliseconds(GetCurrentTimestamp(), wait_ms));
		}
		if (waiting_interval
			? !sync_worker_sleep_interval(GetCurrentTimestamp(), &sync_aggregate_interval_ms)
			: !sync_worker_sleep_until(TimestampTzPlusMilliseconds(GetCurrentTimestamp(), wait_ms)))
			break;
	}
	proc_exit(0);
}
