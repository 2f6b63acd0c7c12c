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
 * The columns of a job, the same for a subscription and a requested run,
 * so one function reads either.
 */
#define JOB_COLUMNS \
	"SELECT src.name, src.provider, src.base_url, %1$s.symbol, %1$s.dataset," \
	"       (extract(epoch FROM %1$s.bar_interval) * 1000)::int8," \
	"       %2$s, %3$s, %4$s, %5$s," \
	"       (src.options->>'page_size')::int4," \
	"       (src.options->>'requests_per_minute')::int4," \
	"       (src.options->>'poll_interval_ms')::int4," \
	"       (src.options->>'timeout_ms')::int4," \
	"       sec.credentials->>'key_id', sec.credentials->>'secret'," \
	"       %1$s.bar_interval, src.options->>'feed', src.stream_url, src.id," \
	"       coalesce(src.created_by_superuser, false)"

/* Run the job query; fill *job from its one row.  False when no row. */
static bool
load_job_row(const char *sql, Oid argtype, Datum arg, MemoryContext cxt, SyncJob *job)
{
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	int			ret;

	SPI_connect();
	ret = SPI_execute_with_args(sql, 1, &argtype, &arg, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read a sync job: SPI error %d", ret);
	if (SPI_processed == 0)
	{
		SPI_finish();
		return false;
	}
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;

	memset(job, 0, sizeof(*job));
	job->source_name = copy_text_or_null(tup, desc, 1, cxt);
	job->provider = copy_text_or_null(tup, desc, 2, cxt);
	job->base_url = copy_text_or_null(tup, desc, 3, cxt);
	job->symbol = copy_text_or_null(tup, desc, 4, cxt);
	job->dataset = copy_text_or_null(tup, desc, 5, cxt);
	job->interval_ms = DatumGetInt64(SPI_getbinval(tup, desc, 6, &isnull));
	job->history_from = ts_or_nobegin(tup, desc, 7);
	job->synced_through = ts_or_nobegin(tup, desc, 8);
	job->range_to = DatumGetTimestampTz(SPI_getbinval(tup, desc, 9, &isnull));
	if (isnull)
		job->range_to = DT_NOEND;
	job->realtime = DatumGetBool(SPI_getbinval(tup, desc, 10, &isnull));
	job->page_size = int_or_zero(tup, desc, 11);
	job->requests_per_minute = int_or_zero(tup, desc, 12);
	job->poll_interval_ms = int_or_zero(tup, desc, 13);
	job->timeout_ms = int_or_zero(tup, desc, 14);
	job->key_id = copy_text_or_null(tup, desc, 15, cxt);
	job->secret = copy_text_or_null(tup, desc, 16, cxt);
	job->feed = copy_text_or_null(tup, desc, 18, cxt);
	job->stream_url = copy_text_or_null(tup, desc, 19, cxt);
	job->source_id = DatumGetInt32(SPI_getbinval(tup, desc, 20, &isnull));
	job->trusted = DatumGetBool(SPI_getbinval(tup, desc, 21, &isnull));
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);

		job->bar_interval = DatumGetIntervalP(datumCopy(SPI_getbinval(tup, desc, 17, &isnull),
														false, sizeof(Interval)));
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return true;
}

/*
 * Fill *job for a subscription.  Returns false when the subscription is
 * gone or no longer active.
 */
bool
sync_job_load(int32 subscription_id, MemoryContext cxt, SyncJob *job)
{
	char	   *sql = psprintf(JOB_COLUMNS
							   "  FROM sync.subscriptions s"
							   "  JOIN sync.sources src ON src.id = s.source_id"
							   "  LEFT JOIN sync.source_secrets sec ON sec.source_id = src.id"
							   " WHERE s.id = $1 AND s.state = 'active'",
							   "s", "s.history_from", "s.synced_through", "NULL::timestamptz", "s.realtime");

	if (!load_job_row(sql, INT4OID, Int32GetDatum(subscription_id), cxt, job))
		return false;
	job->subscription_id = subscription_id;
	return true;
}

/*
 * Fill *job for a run requested with sync_backfill().  Returns false when
 * the run is gone, finished, or its source was dropped.
 */
bool
sync_job_load_run(int64 job_run_id, MemoryContext cxt, SyncJob *job)
{
	char	   *sql = psprintf(JOB_COLUMNS
							   "  FROM sync.job_runs r"
							   "  JOIN sync.sources src ON src.name = r.source"
							   "  LEFT JOIN sync.source_secrets sec ON sec.source_id = src.id"
							   " WHERE r.id = $1 AND r.requested AND r.state IN ('pending', 'running')",
							   "r", "r.range_from", "r.checkpoint", "r.range_to", "false");

	if (!load_job_row(sql, INT8OID, Int64GetDatum(job_run_id), cxt, job))
		return false;
	job->one_off = true;
	job->job_run_id = job_run_id;
	return true;
}
