/*-------------------------------------------------------------------------
 * metrics.c
 *	  The counters a job keeps in its shared-memory slot (HTTP answers by
 *	  class, consecutive failures, last success, rate-limit hold, batch
 *	  commit latency histogram) and sync._worker_metrics(), which reads
 *	  them for sync_metrics() and sync_health().
 *
 * Counters live as long as the slot: across restarts of a worker, reset
 * by sync_stop().  Prometheus treats the drop as a counter reset.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "shmem.h"

PG_FUNCTION_INFO_V1(sync_worker_metrics);

const double sync_commit_buckets[SYNC_COMMIT_NBUCKETS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0
};

void
sync_slot_count_http(int slot, long status, bool answered)
{
	SyncHttpClass c;

	if (!answered)
		c = SYNC_HTTP_FAILED;
	else if (status == 429 || status == 418 || status == 503)
		c = SYNC_HTTP_429;
	else if (status >= 500)
		c = SYNC_HTTP_5XX;
	else if (status >= 400)
		c = SYNC_HTTP_4XX;
	else if (status >= 300)
		c = SYNC_HTTP_3XX;
	else
		c = SYNC_HTTP_2XX;
	LWLockAcquire(SyncState->lock, LW_EXCLUSIVE);
	SyncState->slots[slot].counters.http[c]++;
	LWLockRelease(SyncState->lock);
}

void
sync_slot_page_stored(int slot, double commit_seconds)
{
	SyncJobCounters *c = &SyncState->slots[slot].counters;
	int			b = 0;

	while (b < SYNC_COMMIT_NBUCKETS && commit_seconds > sync_commit_buckets[b])
		b++;
	LWLockAcquire(SyncState->lock, LW_EXCLUSIVE);
	c->failures = 0;
	c->last_success = GetCurrentTimestamp();
	c->commits[b]++;
	c->commit_count++;
	c->commit_seconds += commit_seconds;
	LWLockRelease(SyncState->lock);
}

void
sync_slot_failed(int slot, int failures)
{
	LWLockAcquire(SyncState->lock, LW_EXCLUSIVE);
	SyncState->slots[slot].counters.failures = failures;
	LWLockRelease(SyncState->lock);
}

void
sync_slot_rate_limited(int slot, TimestampTz until)
{
	LWLockAcquire(SyncState->lock, LW_EXCLUSIVE);
	if (until > SyncState->slots[slot].counters.rate_limited_until)
		SyncState->slots[slot].counters.rate_limited_until = until;
	LWLockRelease(SyncState->lock);
}

void
sync_slot_reconnect(int slot)
{
	LWLockAcquire(SyncState->lock, LW_EXCLUSIVE);
	SyncState->slots[slot].counters.reconnects++;
	LWLockRelease(SyncState->lock);
}

static ArrayType *
int8_array(const uint64 *values, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * n);

	for (int i = 0; i < n; i++)
		d[i] = Int64GetDatum((int64) values[i]);
	return construct_array(d, n, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
}

/*
 * One row per job slot of this database: the job id (a subscription, a
 * requested run as its negated id, or the aggregator/scheduler), and its
 * counters.  http is indexed by SyncHttpClass; commit_buckets holds the
 * non-cumulative count of each bucket of sync_commit_buckets and +Inf.
 */
Datum
sync_worker_metrics(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	SyncJobSlot *copy;
	int			n = 0;

	InitMaterializedSRF(fcinfo, 0);
	if (!sync_shmem_available())
		return (Datum) 0;

	copy = sync_slots_of_database(MyDatabaseId, &n);

	for (int i = 0; i < n; i++)
	{
		SyncJobCounters *c = &copy[i].counters;
		Datum		values[10];
		bool		nulls[10] = {0};

		values[0] = Int32GetDatum(sync_job_legacy_id(copy[i].kind, copy[i].id));
		values[1] = Int32GetDatum((int32) copy[i].pid);
		nulls[1] = (copy[i].pid == 0);
		values[2] = CStringGetTextDatum(sync_phase_name(copy[i].phase));
		values[3] = PointerGetDatum(int8_array(c->http, SYNC_HTTP_NCLASSES));
		values[4] = Int32GetDatum(c->failures);
		values[5] = TimestampTzGetDatum(c->last_success);
		nulls[5] = (c->last_success == 0);
		values[6] = TimestampTzGetDatum(c->rate_limited_until);
		nulls[6] = (c->rate_limited_until == 0);
		values[7] = PointerGetDatum(int8_array(c->commits, SYNC_COMMIT_NBUCKETS + 1));
		values[8] = Float8GetDatum(c->commit_seconds);
		values[9] = Int64GetDatum((int64) c->reconnects);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
