/*-------------------------------------------------------------------------
 * streamer.c
 *	  A source's streamer: one WebSocket connection that carries every
 *	  series of the source whose job has caught up, several symbols,
 *	  trades and bars together, as the providers allow (and as Alpaca and
 *	  Polygon require: they refuse a second connection per key).
 *
 * The jobs keep what only they can do: the REST history, and closing the
 * seam of each connection over REST (see src/seam.c for the handover).
 * The streamer stores what arrives, every series of a batch in one
 * transaction, and moves a series' checkpoint only while its seam is
 * closed.  When the set of series wanting a stream changes (a job caught
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
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "guc.h"
#include "notify.h"
#include "realtime.h"
#include "seam.h"
#include "shmem.h"
#include "storage.h"
#include "worker_common.h"

PGDLLEXPORT void sync_streamer_main(Datum arg);

#define MAX_SERIES			1024	/* Binance's limit of streams per connection */
#define SET_CHECK_MS		200		/* how often the wanted set is compared */

/* A series on the connection. */
typedef struct Series
{
	int32		subscription_id;
	SyncJob		job;
	SyncBarQuery query;
	bool		trades;
	bool		by_id;			/* trade ids are consecutive integers */
	uint32		epoch;			/* the seam epoch this connection started */
} Series;

typedef struct Streamer
{
	int			slot;
	int32		source_id;
	char	   *source_name;
	const SyncProvider *provider;
	char	   *root;
	Series	   *series;
	int			nseries;
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

		memset(s, 0, sizeof(*s));
		if (!sync_job_load(S.wanted[i], ls->cxt, &s->job) || s->job.source_id != S.source_id)
			continue;
		s->subscription_id = S.wanted[i];
		s->trades = strcmp(s->job.dataset, "trades") == 0;
		if (!sync_stream_available(&s->job, S.provider, s->trades))
			continue;
		s->by_id = s->trades && S.provider->trades_by_id;
		s->query.symbol = s->job.symbol;
		s->query.key_id = s->job.key_id;
		s->query.secret = s->job.secret;
		s->query.feed = s->job.feed;
		s->query.interval_ms = s->trades ? 1 : s->job.interval_ms;
		/* the stream takes any time: duplicates go by key */
		s->query.from_ms = INT64_MIN;
		s->query.to_ms = INT64_MAX;
		S.nseries++;
	}
}

/* The stream's subscribed callback: a new epoch for every series, the jobs woken. */
static bool
series_taken(void *arg, int64 opened_ms, char *error, size_t errlen)
{
	for (int i = 0; i < S.nseries; i++)
		S.series[i].epoch = sync_seam_taken(MyDatabaseId, S.series[i].subscription_id, opened_ms);
	S.subscribed_at = GetCurrentTimestamp();
	return true;
}

/* One batch: the records of series i are page entries stamped i. */
typedef struct Batch
{
	SyncStreamSet *set;
	const int64 *newest;
	int64	   *stored;			/* per series */
	int		   *slots;			/* per series: its job's slot, -1 if none */
} Batch;

/*
 * Copy n records of size bytes from in to out grouped by series, in
 * arrival order within each (a counting sort on the int32 at target_off);
 * series i's are out[start[i] .. start[i + 1]).
 */
static void
group_by_series(const void *in, int n, size_t size, size_t target_off, void *out, int *start)
{
	int		   *next = palloc0(sizeof(int) * (S.nseries + 1));

	for (int k = 0; k < n; k++)
		next[*(const int32 *) ((const char *) in + k * size + target_off) + 1]++;
	for (int i = 0; i < S.nseries; i++)
		next[i + 1] += next[i];
	memcpy(start, next, sizeof(int) * (S.nseries + 1));
	for (int k = 0; k < n; k++)
	{
		int32		t = *(const int32 *) ((const char *) in + k * size + target_off);

		memcpy((char *) out + (size_t) next[t]++ * size, (const char *) in + k * size, size);
	}
}

static void
store_txn(void *arg)
{
	Batch	   *b = (Batch *) arg;
	SyncPage   *all = b->set->page;
	SyncTrade  *trades = palloc(sizeof(SyncTrade) * Max(all->ntrades, 1));
	SyncBar    *bars = palloc(sizeof(SyncBar) * Max(all->nbars, 1));
	SyncReject *rejects = palloc(sizeof(SyncReject) * Max(all->nrejects, 1));
	int		   *ts = palloc(sizeof(int) * (S.nseries + 1));
	int		   *bs = palloc(sizeof(int) * (S.nseries + 1));
	int		   *rs = palloc(sizeof(int) * (S.nseries + 1));

	/*
	 * Not waiting for the WAL flush takes ~2 ms off every batch.  Nothing is
	 * lost by it: a crash takes back the newest batches and, in the same
	 * transactions, the checkpoints they moved, so the jobs fetch those
	 * trades again over REST (sync.stream_synchronous_commit = on waits).
	 */
	(void) set_config_option("synchronous_commit", sync_stream_synchronous_commit ? "on" : "off",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0, false);

	group_by_series(all->trades, all->ntrades, sizeof(SyncTrade), offsetof(SyncTrade, target), trades, ts);
	group_by_series(all->bars, all->nbars, sizeof(SyncBar), offsetof(SyncBar, target), bars, bs);
	group_by_series(all->rejects, all->nrejects, sizeof(SyncReject), offsetof(SyncReject, target), rejects, rs);
	for (int i = 0; i < S.nseries; i++)
	{
		Series	   *s = &S.series[i];
		SyncPage	one = {0};
		int64		first = INT64_MAX;
		int64		next_id = 0;
		bool		closed;

		one.trades = trades + ts[i];
		one.ntrades = ts[i + 1] - ts[i];
		one.bars = bars + bs[i];
		one.nbars = bs[i + 1] - bs[i];
		one.rejects = rejects + rs[i];
		one.nrejects = rs[i + 1] - rs[i];
		for (int k = 0; k < one.ntrades; k++)
		{
			first = Min(first, sync_ms_of_us(one.trades[k].ts_us));
			if (s->by_id)
				next_id = Max(next_id, strtoi64(one.trades[k].trade_id, NULL, 10) + 1);
		}
		for (int k = 0; k < one.nbars; k++)
			first = Min(first, one.bars[k].ts_ms);
		b->stored[i] = 0;
		b->slots[i] = -1;
		if (one.ntrades + one.nbars + one.nrejects == 0)
			continue;
		closed = b->newest[i] != INT64_MIN &&
			sync_seam_stored(MyDatabaseId, s->subscription_id, s->epoch, b->newest[i], next_id, &b->slots[i]);
		b->stored[i] = sync_store_page(&s->job, &one, b->newest[i], b->newest[i],
									   closed ? sync_ms_to_timestamptz(b->newest[i]) : DT_NOBEGIN);
		if (b->stored[i] > 0)
			sync_notify_stored(&s->job, s->trades, first,
							   s->trades ? b->newest[i] : b->newest[i] - s->job.interval_ms, b->stored[i], false);
		if (!closed)
			b->slots[i] = -1;	/* not the job's realtime yet: its status stays */
	}
	/* each series is announced on its own (notify.c), those due now too */
	sync_notify_due();
}

/* The stream's store callback. */
static void
store_batch(void *arg, SyncStreamSet *set, const int64 *newest)
{
	Batch		b = {set, newest, palloc0(sizeof(int64) * S.nseries), palloc(sizeof(int) * S.nseries)};
	TimestampTz started = GetCurrentTimestamp();
	char		errbuf[SYNC_ERROR_LEN];
	double		seconds;

	if (!sync_worker_txn("sync: storing a stream batch", store_txn, &b, errbuf, sizeof(errbuf)))
		ereport(ERROR,
				(errmsg("sync streamer of source \"%s\" could not store a batch: %s",
						S.source_name, errbuf)));
	seconds = (double) (GetCurrentTimestamp() - started) / USECS_PER_SEC;
	sync_slot_page_stored(S.slot, seconds);
	for (int i = 0; i < S.nseries; i++)
		if (b.slots[i] >= 0)
		{
			sync_slot_page_stored(b.slots[i], seconds);
			sync_slot_report(b.slots[i], SYNC_PHASE_REALTIME, sync_ms_to_timestamptz(newest[i]));
		}
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
		int			slot = sync_seam_dropped(MyDatabaseId, S.series[i].subscription_id,
											 S.series[i].epoch);

		if (slot >= 0 && S.series[i].epoch != 0)
			sync_slot_reconnect(slot);
		if (slot >= 0 && error != NULL)
		{
			sync_slot_set_error(slot, SYNC_PHASE_RETRYING, error, retry_at);
			sync_slot_failed(slot, S.failures);
		}
		S.series[i].epoch = 0;
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
			targets[i].trades = S.series[i].trades;
		}
		memset(&stream, 0, sizeof(stream));
		stream.provider = S.provider;
		stream.root = S.root;
		stream.set.targets = targets;
		stream.set.ntargets = S.nseries;
		stream.slot = S.slot;
		stream.trusted = S.series[0].job.trusted;	/* one source for all */
		stream.subscribed = series_taken;
		stream.store = store_batch;
		stream.renew = set_changed;
		S.last_check = GetCurrentTimestamp();
		S.subscribed_at = 0;

		end = sync_stream_run(&stream, errbuf, sizeof(errbuf));
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
