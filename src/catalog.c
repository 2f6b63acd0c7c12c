/*-------------------------------------------------------------------------
 * catalog.c
 *	  Reads a job's definition from sync.subscriptions, sync.sources and
 *	  sync.source_secrets.  Workers run as the bootstrap superuser, so they
 *	  may read the secrets table that no other role can.
 *
 * Called inside a transaction; the result is copied into the context the
 * caller names, which must outlive the transaction.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/timestamp.h"

#include "catalog.h"

/* true when the extension is installed in this database */
bool
sync_extension_ready(void)
{
	return OidIsValid(get_extension_oid("sync", true));
}

static char *
copy_text_or_null(HeapTuple tup, TupleDesc desc, int col, MemoryContext cxt)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	if (isnull)
		return NULL;
	return MemoryContextStrdup(cxt, TextDatumGetCString(d));
}

static int
int_or_zero(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? 0 : DatumGetInt32(d);
}

static TimestampTz
ts_or_nobegin(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? DT_NOBEGIN : DatumGetTimestampTz(d);
}

/*
 * Fill *job for a subscription.  Returns false when the subscription is
 * gone or no longer active.
 */
bool
sync_job_load(int32 subscription_id, MemoryContext cxt, SyncJob *job)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1] = {Int32GetDatum(subscription_id)};
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	int			ret;

	SPI_connect();
	ret = SPI_execute_with_args(
								"SELECT src.name, src.provider, src.base_url, s.symbol, s.dataset,"
								"       (extract(epoch FROM s.bar_interval) * 1000)::int8,"
								"       s.history_from, s.synced_through, s.realtime,"
								"       (src.options->>'page_size')::int4,"
								"       (src.options->>'requests_per_minute')::int4,"
								"       (src.options->>'poll_interval_ms')::int4,"
								"       (src.options->>'timeout_ms')::int4,"
								"       sec.credentials->>'key_id', sec.credentials->>'secret',"
								"       s.bar_interval, src.options->>'feed'"
								"  FROM sync.subscriptions s"
								"  JOIN sync.sources src ON src.id = s.source_id"
								"  LEFT JOIN sync.source_secrets sec ON sec.source_id = src.id"
								" WHERE s.id = $1 AND s.state = 'active'",
								1, argtypes, args, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read subscription %d: SPI error %d", subscription_id, ret);
	if (SPI_processed == 0)
	{
		SPI_finish();
		return false;
	}
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;

	memset(job, 0, sizeof(*job));
	job->subscription_id = subscription_id;
	job->range_to = DT_NOEND;
	job->source_name = copy_text_or_null(tup, desc, 1, cxt);
	job->provider = copy_text_or_null(tup, desc, 2, cxt);
	job->base_url = copy_text_or_null(tup, desc, 3, cxt);
	job->symbol = copy_text_or_null(tup, desc, 4, cxt);
	job->dataset = copy_text_or_null(tup, desc, 5, cxt);
	job->interval_ms = DatumGetInt64(SPI_getbinval(tup, desc, 6, &isnull));
	job->history_from = ts_or_nobegin(tup, desc, 7);
	job->synced_through = ts_or_nobegin(tup, desc, 8);
	job->realtime = DatumGetBool(SPI_getbinval(tup, desc, 9, &isnull));
	job->page_size = int_or_zero(tup, desc, 10);
	job->requests_per_minute = int_or_zero(tup, desc, 11);
	job->poll_interval_ms = int_or_zero(tup, desc, 12);
	job->timeout_ms = int_or_zero(tup, desc, 13);
	job->key_id = copy_text_or_null(tup, desc, 14, cxt);
	job->secret = copy_text_or_null(tup, desc, 15, cxt);
	job->feed = copy_text_or_null(tup, desc, 17, cxt);
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);

		job->bar_interval = DatumGetIntervalP(datumCopy(SPI_getbinval(tup, desc, 16, &isnull),
														false, sizeof(Interval)));
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return true;
}

/*
 * Fill *job for a run requested with sync_backfill().  Returns false when
 * the run is gone, finished, or its source was dropped.
 */
bool
sync_job_load_run(int64 job_run_id, MemoryContext cxt, SyncJob *job)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1] = {Int64GetDatum(job_run_id)};
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	int			ret;

	SPI_connect();
	ret = SPI_execute_with_args(
								"SELECT src.name, src.provider, src.base_url, r.symbol, r.dataset,"
								"       (extract(epoch FROM r.bar_interval) * 1000)::int8,"
								"       r.range_from, r.checkpoint, r.range_to,"
								"       (src.options->>'page_size')::int4,"
								"       (src.options->>'requests_per_minute')::int4,"
								"       (src.options->>'timeout_ms')::int4,"
								"       sec.credentials->>'key_id', sec.credentials->>'secret',"
								"       r.bar_interval, src.options->>'feed'"
								"  FROM sync.job_runs r"
								"  JOIN sync.sources src ON src.name = r.source"
								"  LEFT JOIN sync.source_secrets sec ON sec.source_id = src.id"
								" WHERE r.id = $1 AND r.requested AND r.state IN ('pending', 'running')",
								1, argtypes, args, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read job run " INT64_FORMAT ": SPI error %d", job_run_id, ret);
	if (SPI_processed == 0)
	{
		SPI_finish();
		return false;
	}
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;

	memset(job, 0, sizeof(*job));
	job->one_off = true;
	job->job_run_id = job_run_id;
	job->source_name = copy_text_or_null(tup, desc, 1, cxt);
	job->provider = copy_text_or_null(tup, desc, 2, cxt);
	job->base_url = copy_text_or_null(tup, desc, 3, cxt);
	job->symbol = copy_text_or_null(tup, desc, 4, cxt);
	job->dataset = copy_text_or_null(tup, desc, 5, cxt);
	job->interval_ms = DatumGetInt64(SPI_getbinval(tup, desc, 6, &isnull));
	job->history_from = ts_or_nobegin(tup, desc, 7);
	job->synced_through = ts_or_nobegin(tup, desc, 8);
	job->range_to = DatumGetTimestampTz(SPI_getbinval(tup, desc, 9, &isnull));
	job->page_size = int_or_zero(tup, desc, 10);
	job->requests_per_minute = int_or_zero(tup, desc, 11);
	job->timeout_ms = int_or_zero(tup, desc, 12);
	job->key_id = copy_text_or_null(tup, desc, 13, cxt);
	job->secret = copy_text_or_null(tup, desc, 14, cxt);
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);

		job->bar_interval = DatumGetIntervalP(datumCopy(SPI_getbinval(tup, desc, 15, &isnull),
														false, sizeof(Interval)));
		MemoryContextSwitchTo(old);
	}
	job->feed = copy_text_or_null(tup, desc, 16, cxt);
	SPI_finish();
	return true;
}
