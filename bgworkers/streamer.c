/*-------------------------------------------------------------------------
 * streamer.c
 *	  A source's streamer: one WebSocket connection that carries every
 *	  series of the source whose job has caught up, several symbols,
 *	  trades and bars together, as the providers allow (and as Alpaca and
 *	  Polygon require: they refuse a second connection per key).
 *
 * The jobs keep what only they can do: the REST history, and closing the
 * seam of each connection over REST (see src/seam.c for the handover).
 * The streamer receives and parses what arrives and hands each batch to
 * its storer, a process of its own (stream_queue.c, stream_store.c),
 * which stores every series of a batch in one transaction and moves a
 * series' checkpoint only while its seam is closed; when no storer can be
 * started the streamer stores itself.  When the set of series wanting a stream changes (a job caught
 * up, a subscription went), the connection is renewed with the new set;
 * each job closes its seam again, which costs one REST request.
 *
 * A lost connection is reported on every series' status, and the
 * streamer reconnects with backoff; meanwhile the jobs poll REST.
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

#include "catalog.h"
#include "guc.h"
#include "realtime.h"
#include "seam.h"
#include "shmem.h"
#include "storage.h"
#include "stream_queue.h"
#include "stream_store.h"
#include "worker_common.h"

PGDLLEXPORT void sync_streamer_main(Datum arg);

#define MAX_SERIES			1024	/* Binance's limit of streams per connection */
#define SET_CHECK_MS		200		/* how often the wanted set is compared */

/* A series on the connection: what storing needs is in S.store.series. */
typedef struct Series
{
	SyncBarQuery query;
} Series;

typedef struct Streamer
{
	int			slot;
	int32		source_id;
	char	   *source_name;
	const SyncProvider *provider;
	char	   *root;
	Series	   *series;
	SyncStoreSeries *store_series;	/* parallel to series */
	int			nseries;
	SyncStoreSet store;			/* the series as storing sees them */
	SyncStreamQueue *queue;		/* to the storer; NULL: this process stores */
	int32		wanted[MAX_SERIES];
	int			nwanted;
	TimestampTz last_check;
	int			failures;		/* connections lost in a row, for the backoff */
	TimestampTz subscribed_at;	/* when this connection's series were confirmed, or 0 */
} Streamer;

/*
 * A connection lost sooner than this after its series were confirmed
 * counts towards the backoff: a server that accepts the subscription and
 * then sends garbage (or nothing) must not be reconnected to at once,
 * again and again.
 */
#define MIN_HEALTHY_STREAM_MS	60000

static Streamer S;

typedef struct SourceRow
{
	bool		found;
	char	   *provider;
	char	   *stream_url;
} SourceRow;

static void
load_source(void *arg)
{
	SourceRow  *row = (SourceRow *) arg;
	Oid			type = INT4OID;
	Datum		value = Int32GetDatum(S.source_id);
	bool		isnull;

	SPI_connect();
	if (SPI_execute_with_args("SELECT name, provider, stream_url FROM sync.sources WHERE id = $1",
							  1, &type, &value, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read sync.sources");
	row->found = SPI_processed == 1;
	if (row->found)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
		Datum		d;

		S.source_name = TextDatumGetCString(SPI_getbinval(tup, desc, 1, &isnull));
		row->provider = TextDatumGetCString(SPI_getbinval(tup, desc, 2, &isnull));
		d = SPI_getbinval(tup, desc, 3, &isnull);
		row->stream_url = isnull ? NULL : TextDatumGetCString(d);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
}

/* The jobs of the wanted ids, as series; those gone or not streamable are left out. */
typedef struct LoadSeries
{
	MemoryContext cxt;
} LoadSeries;

static void
load_series(void *arg)
{
	LoadSeries *ls = (LoadSeries *) arg;

	S.nseries = 0;
	for (int i = 0; i < S.nwanted; i++)
	{
		Series	   *s = &S.series[S.nseries];
		SyncStoreSeries *ss = &S.store_series[S.nseries];

		memset(s, 0, sizeof(*s));
		memset(ss, 0, sizeof(*ss));
		if (!sync_job_load(S.wanted[i], ls->cxt, &ss->job) || ss->job.source_id != S.source_id)
			continue;
		ss->loaded = true;
		ss->subscription_id = S.wanted[i];
		ss->trades = strcmp(ss->job.dataset, "trades") == 0;
		if (!sync_stream_available(&ss->job, S.provider, ss->trades))
			continue;
		ss->by_id = ss->trades && S.provider->trades_by_id;
		s->query.symbol = ss->job.symbol;
		s->query.key_id = ss->job.key_id;
		s->query.secret = ss->job.secret;
		s->query.feed = ss->job.feed;
		s->query.interval_ms = ss->trades ? 1 : ss->job.interval_ms;
		/* the stream takes any time: duplicates go by key */
		s->query.from_ms = INT64_MIN;
		s->query.to_ms = INT64_MAX;
		S.nseries++;
	}
}

/*
 * The stream's subscribed callback: a new epoch for every series, the
 * jobs woken; the storer learns the series before their first batch.
 */
static bool
series_taken(void *arg, int64 opened_ms, char *error, size_t errlen)
{
	for (int i = 0; i < S.nseries; i++)
		S.store_series[i].epoch = sync_seam_taken(MyDatabaseId, S.store_series[i].subscription_id, opened_ms);
	S.subscribed_at = GetCurrentTimestamp();
	if (S.queue != NULL)
		sync_stream_queue_send_set(S.queue, S.store_series, S.nseries);
	return true;
}

/*
 * The stream's store callback: the page goes to the storer, or is stored
 * here when there is none.
 */
static bool
store_batch(void *arg, SyncStreamSet *set, const int64 *newest, bool wait)
{
	if (S.queue != NULL)
		return sync_stream_queue_send_batch(S.queue, set->page, newest, S.nseries, wait);
	S.store.series = S.store_series;
	S.store.nseries = S.nseries;
	sync_stream_store(&S.store, set->page, newest);
	return true;
}

/* Read the wanted set; true when it differs from the series on the connection. */
static bool
wanted_changed(void)
{
	int32		ids[MAX_SERIES];
	int			n = sync_seam_wanted(MyDatabaseId, S.source_id, ids, MAX_SERIES);
	bool		changed = n != S.nwanted || memcmp(ids, S.wanted, sizeof(int32) * n) != 0;

	/* the others keep polling REST (their jobs stop waiting for a stream) */
	if (changed && n == MAX_SERIES)
		ereport(WARNING,
				(errmsg("sync stream of source \"%s\" carries at most %d series", S.source_name, MAX_SERIES),
				 errhint("Split the symbols over several sources with the same provider.")));

	memcpy(S.wanted, ids, sizeof(int32) * n);
	S.nwanted = n;
	return changed;
}

/* The stream's renew callback, looked at every SET_CHECK_MS. */
static bool
set_changed(void *arg)
{
	TimestampTz now = GetCurrentTimestamp();

	if (!TimestampDifferenceExceeds(S.last_check, now, SET_CHECK_MS))
		return false;
	S.last_check = now;
	if (S.queue != NULL)
		sync_stream_queue_check(S.queue);	/* an ERROR if the storer is gone */
	return wanted_changed();
}

/*
 * The connection is gone (or never came): every series' epoch ends, and
 * with an error, each series' status says it.
 */
static void
series_dropped(const char *error, TimestampTz retry_at)
{
	for (int i = 0; i < S.nseries; i++)
	{
		SyncStoreSeries *ss = &S.store_series[i];
		int			slot = sync_seam_dropped(MyDatabaseId, ss->subscription_id, ss->epoch);

		if (slot >= 0 && ss->epoch != 0)
			sync_slot_reconnect(slot);
		if (slot >= 0 && error != NULL)
		{
			sync_slot_set_error(slot, SYNC_PHASE_RETRYING, error, retry_at);
			sync_slot_failed(slot, S.failures);
		}
		ss->epoch = 0;
	}
}

void
sync_streamer_main(Datum arg)
{
	SyncWorkerArgs args;
	SourceRow	src = {0};
	char		errbuf[SYNC_ERROR_LEN];
	MemoryContext series_cxt;

	memset(&S, 0, sizeof(S));
	S.slot = DatumGetInt32(arg);
	memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof(args));
	S.source_id = args.id;
	sync_worker_init_signals();
	sync_worker_keep_heap();
	BackgroundWorkerInitializeConnectionByOid(args.dboid, InvalidOid, 0);
	if (!sync_service_attach(S.slot, SYNC_JOB_STREAMER, args.id))
		proc_exit(0);
	pgstat_report_appname(MyBgworkerEntry->bgw_name);

	if (!sync_worker_txn("sync streamer: loading its source", load_source, &src, errbuf, sizeof(errbuf)) ||
		!src.found)
		proc_exit(0);
	S.provider = sync_provider_lookup(src.provider);
	if (S.provider == NULL || S.provider->parse_stream == NULL)
		proc_exit(0);
	S.root = src.stream_url ? src.stream_url : (char *) S.provider->default_stream_url;
	S.series = MemoryContextAllocZero(TopMemoryContext, sizeof(Series) * MAX_SERIES);
	S.store_series = MemoryContextAllocZero(TopMemoryContext, sizeof(SyncStoreSeries) * MAX_SERIES);
	S.store.slot = S.slot;
	S.store.source_name = S.source_name;
	/* parsing here, storing in a process of its own: two cores for one source */
	S.queue = sync_stream_queue_start(S.slot, args.dboid, S.source_id, S.source_name);
	series_cxt = AllocSetContextCreate(TopMemoryContext, "sync streamer series", ALLOCSET_DEFAULT_SIZES);
	sync_slot_report(S.slot, SYNC_PHASE_IDLE, 0);

	while (!sync_worker_stopping())
	{
		SyncStreamTarget *targets;
		SyncStream	stream;
		SyncStreamEnd end;
		LoadSeries	ls = {series_cxt};

		CHECK_FOR_INTERRUPTS();
		sync_worker_reload_if_asked();
		MemoryContextReset(series_cxt);
		MemoryContextSwitchTo(series_cxt);
		(void) wanted_changed();
		S.nseries = 0;
		if (S.nwanted > 0 &&
			!sync_worker_txn("sync streamer: loading its series", load_series, &ls, errbuf, sizeof(errbuf)))
			S.nseries = 0;
		if (S.nseries == 0)
		{
			/* nothing to stream yet: look again soon */
			sync_slot_report(S.slot, SYNC_PHASE_IDLE, 0);
			if (!sync_worker_sleep_until(TimestampTzPlusMilliseconds(GetCurrentTimestamp(), SET_CHECK_MS)))
				break;
			continue;
		}

		targets = palloc0(sizeof(SyncStreamTarget) * S.nseries);
		for (int i = 0; i < S.nseries; i++)
		{
			targets[i].q = &S.series[i].query;
			targets[i].trades = S.store_series[i].trades;
		}
		memset(&stream, 0, sizeof(stream));
		stream.provider = S.provider;
		stream.root = S.root;
		stream.set.targets = targets;
		stream.set.ntargets = S.nseries;
		stream.slot = S.slot;
		stream.trusted = S.store_series[0].job.trusted;	/* one source for all */
		stream.subscribed = series_taken;
		stream.store = store_batch;
		stream.renew = set_changed;
		S.last_check = GetCurrentTimestamp();
		S.subscribed_at = 0;

		/*
		 * The storer learns the series now (no epoch yet: what arrives before
		 * the provider confirmed them all moves no checkpoint), and again
		 * with their epochs once confirmed (series_taken).
		 */
		if (S.queue != NULL)
			sync_stream_queue_send_set(S.queue, S.store_series, S.nseries);
		end = sync_stream_run(&stream, errbuf, sizeof(errbuf));
		/* the series go back to their jobs only once all they sent is committed */
		if (S.queue != NULL)
			sync_stream_queue_drain(S.queue);
		if (end == SYNC_STREAM_STOPPED)
		{
			series_dropped(NULL, 0);
			break;
		}
		if (end == SYNC_STREAM_RENEW)
		{
			series_dropped(NULL, 0);
			continue;			/* no failure: open it again at once */
		}
		/* lost or refused: say so on every series, back off, try again */
		{
			long		wait_ms;
			TimestampTz retry_at;

			if (S.subscribed_at != 0 &&
				TimestampDifferenceExceeds(S.subscribed_at, GetCurrentTimestamp(), MIN_HEALTHY_STREAM_MS))
				S.failures = 0;
			S.failures++;
			wait_ms = sync_backoff_ms(S.failures);
			retry_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), wait_ms);
			sync_slot_set_error(S.slot, SYNC_PHASE_RETRYING, errbuf, retry_at);
			sync_slot_failed(S.slot, S.failures);
			series_dropped(errbuf, retry_at);
			ereport(LOG,
					(errmsg("sync stream of source \"%s\" lost: %s; again in %ld ms",
							S.source_name, errbuf, wait_ms)));
			if (!sync_worker_sleep_until(retry_at))
				break;
		}
	}
	proc_exit(0);
}
