/*-------------------------------------------------------------------------
 * realtime.c
 *	  The streaming phase of a job: once its REST backfill has caught up, a
 *	  job with realtime = true opens the provider's WebSocket stream and
 *	  stores what arrives, in batches.
 *
 * No gap at the seam: the stream is connected first, and only then is the
 * REST history fetched from the checkpoint up to now; what happened before
 * the connection comes from REST, what happened after from the stream
 * (which the kernel buffers meanwhile), and the overlap is dropped by the
 * primary key (Binance streams aggTrades, the ids REST serves too).
 *
 * Batching: messages are parsed into a page as they come; the page is
 * committed, in one transaction, when sync.flush_interval_ms has passed
 * since its first message or when it holds sync.stream_batch records.
 * A malformed message becomes a row in sync.rejects and the stream goes on.
 *
 * When the connection breaks, sync_stream_run() stores what it holds and
 * returns SYNC_STREAM_LOST: the job backs off, fills the missed window over
 * REST, and streams again.  On SIGTERM it stores what it holds and returns
 * SYNC_STREAM_STOPPED.  A connection older than sync.stream_max_age_ms is
 * closed on purpose (SYNC_STREAM_RENEW) and opened again at once, ahead of
 * limits such as Binance's 24 hours; the seam is closed as on any start.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "http.h"
#include "realtime.h"
#include "shmem.h"
#include "storage.h"
#include "websocket.h"
#include "worker_common.h"

typedef struct StreamState
{
	const SyncStreamJob *s;
	SyncBarQuery query;			/* accepts any time: duplicates go by key */
	SyncPage	page;
	TimestampTz first_at;		/* when the oldest unstored message came */
	int64		newest_ms;
	MemoryContext batch_cxt;	/* what storing one batch allocates; reset after it */
	char		provider_error[SYNC_REASON_LEN];	/* the provider said stop */
	bool		subscribed;		/* the provider confirmed the subscription */
} StreamState;

bool
sync_stream_available(const SyncJob *job, const SyncProvider *provider, bool trades)
{
	return job->realtime && !job->one_off && provider->parse_stream != NULL &&
		(job->stream_url != NULL || provider->default_stream_url != NULL);
}

static void store_batch(StreamState *st);

static void
on_message(const char *data, size_t len, void *arg)
{
	StreamState *st = (StreamState *) arg;
	const SyncStreamJob *s = st->s;
	char		perr[SYNC_REASON_LEN];
	int			before;
	SyncParseStatus ps;

	/* a burst (the backlog after the REST catch-up) fills batch after batch */
	if (st->page.ntrades + st->page.nbars + st->page.nrejects >= st->page.reject_capacity)
		store_batch(st);
	before = s->trades ? st->page.ntrades : st->page.nbars;

	if (st->page.nrejects == 0 && before == 0)
		st->first_at = GetCurrentTimestamp();
	ps = s->provider->parse_stream(data, len, &st->query, s->trades, &st->page, perr, sizeof(perr));

	if (ps == SYNC_PARSE_PROVIDER_ERROR)
		strlcpy(st->provider_error, perr, sizeof(st->provider_error));
	else if (ps == SYNC_PARSE_SUBSCRIBED)
		st->subscribed = true;
	else if (ps != SYNC_PARSE_OK)
	{
		/* refused whole: keep it, go on with the stream */
		st->page.nreceived++;
		sync_page_reject(&st->page, perr, data);
	}
	if (s->trades)
	{
		for (int i = before; i < st->page.ntrades; i++)
			st->newest_ms = Max(st->newest_ms, st->page.trades[i].ts_ms);
	}
	else
	{
		for (int i = before; i < st->page.nbars; i++)
			st->newest_ms = Max(st->newest_ms, st->page.bars[i].ts_ms + s->job->interval_ms);
	}
}

static bool
batch_due(StreamState *st)
{
	int			n = st->page.ntrades + st->page.nbars + st->page.nrejects;

	if (n == 0)
		return false;
	return n >= Min(sync_stream_batch, st->page.reject_capacity) ||
		TimestampDifferenceExceeds(st->first_at, GetCurrentTimestamp(), sync_flush_interval_ms);
}

static void
store_batch(StreamState *st)
{
	MemoryContext old;

	if (st->page.ntrades + st->page.nbars + st->page.nrejects == 0)
		return;
	old = MemoryContextSwitchTo(st->batch_cxt);
	st->s->store(&st->page, st->newest_ms);
	MemoryContextSwitchTo(old);
	MemoryContextReset(st->batch_cxt);
	st->page.ntrades = st->page.nbars = st->page.nrejects = st->page.nreceived = 0;
	st->page.last_ts_ms = INT64_MIN;
	sync_slot_report(st->s->slot, SYNC_PHASE_REALTIME, sync_ms_to_timestamptz(st->newest_ms));
}

/* Time left until the pending batch is due, or a second when none is. */
static long
wait_budget(StreamState *st)
{
	long		elapsed;

	if (st->page.ntrades + st->page.nbars + st->page.nrejects == 0)
		return 1000;
	elapsed = TimestampDifferenceMilliseconds(st->first_at, GetCurrentTimestamp());
	return Max(0, sync_flush_interval_ms - elapsed);
}

/*
 * Send what the provider wants first (auth, subscribe; secrets only go on
 * the wire) and wait for its confirmation: data flows only once it has
 * taken the subscription, so REST, asked next, covers everything before
 * the stream's first message.  False, with error set, if it refused.
 */
static bool
stream_subscribe(const SyncStreamJob *s, SyncWs *ws, StreamState *st, char *error, size_t errlen)
{
	char		hello[4][SYNC_URL_LEN];
	int			n;
	bool		sent = true;
	TimestampTz deadline;

	if (s->provider->stream_hello == NULL)
		return true;
	n = s->provider->stream_hello(&st->query, s->trades, hello, lengthof(hello));
	for (int i = 0; i < n && sent; i++)
		sent = sync_ws_send_text(ws, hello[i]);
	memset(hello, 0, sizeof(hello));
	if (!sent)
	{
		snprintf(error, errlen, "%s", sync_ws_error(ws));
		return false;
	}
	if (n == 0)
		return true;
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), sync_http_timeout_ms);
	while (!st->subscribed && st->provider_error[0] == '\0' && !sync_worker_stopping() &&
		   GetCurrentTimestamp() < deadline)
	{
		if (sync_ws_service(ws, 100, sync_worker_stopping, on_message, st) != SYNC_WS_OK)
			break;
	}
	if (!st->subscribed)
		snprintf(error, errlen, "%s", st->provider_error[0] ? st->provider_error :
				 "the stream did not confirm the subscription");
	return st->subscribed;
}

/*
 * Stream until the connection breaks, SIGTERM, or it is old enough to be
 * renewed.  Everything received is stored before returning.
 */
SyncStreamEnd
sync_stream_run(const SyncStreamJob *s, char *error, size_t errlen)
{
	StreamState st;
	SyncHttpClient *volatile http;
	SyncWs	   *volatile ws;
	char		url[SYNC_URL_LEN];
	const char *root = s->job->stream_url ? s->job->stream_url : s->provider->default_stream_url;
	int			capacity = sync_stream_batch;
	volatile SyncStreamEnd end = SYNC_STREAM_LOST;
	TimestampTz opened_at;
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "sync stream",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);

	memset(&st, 0, sizeof(st));
	st.s = s;
	st.query = *s->rest_query;
	st.query.from_ms = INT64_MIN;
	st.query.to_ms = INT64_MAX;
	st.page.last_ts_ms = INT64_MIN;
	st.newest_ms = INT64_MIN;
	st.batch_cxt = AllocSetContextCreate(cxt, "sync stream batch", ALLOCSET_DEFAULT_SIZES);
	if (s->trades)
	{
		st.page.trades = palloc(sizeof(SyncTrade) * capacity);
		st.page.trade_capacity = capacity;
	}
	else
	{
		st.page.bars = palloc(sizeof(SyncBar) * capacity);
		st.page.bar_capacity = capacity;
	}
	/* a batch may also be all rejects; one more slot for the message that fills it */
	st.page.rejects = palloc(sizeof(SyncReject) * (capacity + 1));
	st.page.reject_capacity = capacity;

	if (!s->provider->stream_url(&st.query, s->trades, root, url, sizeof(url), error, errlen))
		goto failed;
	http = sync_http_client_create();
	if (http == NULL)
	{
		snprintf(error, errlen, "could not initialise libcurl");
		goto failed;
	}
	ws = sync_ws_open(http, 0, url, sync_http_timeout_ms, sync_worker_stopping, error, errlen);
	if (ws == NULL)
	{
		sync_http_client_destroy(http);
		goto failed;
	}
	/* storing may raise an ERROR: the connection is closed on the way out */
	PG_TRY();
	{
		bool		ready = stream_subscribe(s, ws, &st, error, errlen);

		/* subscribed: now what happened before the stream comes over REST */
		if (ready && !s->catch_up(sync_timestamptz_to_ms(GetCurrentTimestamp())))
		{
			snprintf(error, errlen, "could not fetch the history before the stream");
			ready = false;
		}
		if (ready)
		{
			sync_slot_report(s->slot, SYNC_PHASE_REALTIME, 0);
			opened_at = GetCurrentTimestamp();
			for (;;)
			{
				SyncWsStatus ws_status;

				CHECK_FOR_INTERRUPTS();
				sync_worker_reload_if_asked();
				if (sync_worker_stopping())
				{
					end = SYNC_STREAM_STOPPED;
					break;
				}
				if (TimestampDifferenceExceeds(opened_at, GetCurrentTimestamp(), sync_stream_max_age_ms))
				{
					end = SYNC_STREAM_RENEW;
					break;
				}
				ws_status = sync_ws_service(ws, wait_budget(&st), sync_worker_stopping, on_message, &st);
				if (batch_due(&st))
					store_batch(&st);
				if (ws_status == SYNC_WS_ABORTED)
				{
					end = SYNC_STREAM_STOPPED;
					break;
				}
				if (st.provider_error[0] != '\0')
				{
					snprintf(error, errlen, "%s", st.provider_error);
					break;
				}
				if (ws_status != SYNC_WS_OK)
				{
					snprintf(error, errlen, "%s", sync_ws_error(ws));
					break;
				}
			}
			store_batch(&st);
		}
	}
	PG_FINALLY();
	{
		sync_ws_close(ws);
		sync_http_client_destroy(http);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return end;

failed:
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return SYNC_STREAM_LOST;
}
