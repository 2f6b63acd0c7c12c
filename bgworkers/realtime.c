/*-------------------------------------------------------------------------
 * realtime.c
 *	  One stream connection: opens the provider's WebSocket for a set of
 *	  series (several symbols, trades and closed bars, where the provider
 *	  allows), subscribes them, and hands what arrives to its owner in
 *	  batches.
 *
 * No gap at the seam: the stream is connected and every series confirmed
 * first, and only then does the owner fetch the REST history up to that
 * moment (the subscribed callback); what happened before comes from REST,
 * what happened after from the stream (which the kernel buffers
 * meanwhile), and the overlap is dropped by the primary key (trade ids are
 * the ones REST serves too).
 *
 * Batching: messages are parsed into one page, each record stamped with
 * its series; the page is handed over to be stored (by the source's
 * storer, see stream_queue.c) as soon as the socket has nothing more to
 * read right now, or when it holds sync.stream_batch records, or at the
 * latest sync.flush_interval_ms after its first message (a stream that
 * never pauses).  No fixed wait: at a low rate a trade is handed over at
 * once; at a high rate the storer is busy while more arrives, and what
 * waits for it is stored together.  When the storer is behind and its
 * queue full, the page is kept and the socket is not read until there is
 * room: the kernel buffers the stream, memory does not grow.  A malformed
 * message becomes a row in sync.rejects (under the set's first series)
 * and the stream goes on.
 *
 * When the connection breaks, sync_stream_run() stores what it holds and
 * returns SYNC_STREAM_LOST: the owner backs off, fills the missed window
 * over REST, and streams again.  On SIGTERM it stores what it holds and
 * returns SYNC_STREAM_STOPPED.  A connection older than
 * sync.stream_max_age_ms is closed on purpose (SYNC_STREAM_RENEW) and
 * opened again at once, ahead of limits such as Binance's 24 hours; so is
 * one whose set of series the owner wants changed.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "http.h"
#include "realtime.h"
#include "shmem.h"
#include "storage.h"
#include "websocket.h"
#include "worker_common.h"

/* room kept in the page for one message's records (Alpaca sends arrays) */
#define STREAM_MESSAGE_RECORDS	1024
/* longest URL or subscribe message (a long list of symbols) */
#define STREAM_HELLO_LEN		65536

typedef struct StreamState
{
	SyncStream *s;
	SyncPage	page;			/* every series' records, stamped with their series */
	int			capacity;
	int64	   *newest;			/* per series: newest time in the page */
	TimestampTz first_at;		/* when the oldest unstored message came */
	TimestampTz store_began;	/* when the last batch began to be stored, 0 once used */
	bool		handing;		/* the page was offered and not taken yet: it is frozen */
	MemoryContext batch_cxt;	/* what storing one batch allocates; reset after it */
	char		provider_error[SYNC_REASON_LEN];	/* the provider said stop */
	ErrorData  *deferred;		/* an ERROR raised while wslay called us, raised on after it returned */
} StreamState;

bool
sync_stream_available(const SyncJob *job, const SyncProvider *provider, bool trades)
{
	return job->realtime && !job->one_off && provider->parse_stream != NULL &&
		(trades || provider->stream_bars) &&
		(job->stream_url != NULL || provider->default_stream_url != NULL);
}

static int
page_count(const StreamState *st)
{
	return st->page.ntrades + st->page.nbars + st->page.nrejects;
}

static bool store_batch(StreamState *st, bool wait);

static void
on_message(const char *data, size_t len, void *arg)
{
	StreamState *st = (StreamState *) arg;
	char		perr[SYNC_REASON_LEN];
	SyncParseStatus ps;

	/*
	 * A burst (the backlog after the REST catch-up) fills batch after
	 * batch; one message may hold many records (Alpaca's arrays), so the
	 * page is stored while it still has room for a large one.
	 */
	if (st->deferred != NULL)
		return;					/* the stream ends once wslay returns */
	if (page_count(st) >= st->capacity - STREAM_MESSAGE_RECORDS)
	{
		/*
		 * Handing the page over can raise an ERROR (the storer is gone):
		 * it must not longjmp through wslay's frames, so it is caught
		 * here and raised again once wslay has returned (service()).
		 */
		MemoryContext cxt = CurrentMemoryContext;

		PG_TRY();
		{
			(void) store_batch(st, true);
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(cxt);
			st->deferred = CopyErrorData();
			FlushErrorState();
		}
		PG_END_TRY();
		if (st->deferred != NULL)
			return;
	}
	/*
	 * A message read right after a batch was stored may have been waiting
	 * in the socket since that store began: its wait counts from then, so
	 * the time spent storing is not added to the flush interval.
	 */
	if (page_count(st) == 0)
		st->first_at = st->store_began != 0 ? st->store_began : GetCurrentTimestamp();
	st->store_began = 0;
	ps = st->s->provider->parse_stream(data, len, &st->s->set, perr, sizeof(perr));

	if (ps == SYNC_PARSE_PROVIDER_ERROR)
		strlcpy(st->provider_error, perr, sizeof(st->provider_error));
	else if (ps != SYNC_PARSE_OK)
	{
		/* refused whole: keep it, go on with the stream */
		st->page.nreceived++;
		sync_page_reject(&st->page, perr, data);
	}
}

/*
 * Whether the page is to be handed over now: the last read brought
 * nothing more (before is the page's count before it), the page is full,
 * or its first message has waited sync.flush_interval_ms.
 */
/* Read and hand on what the connection has; an ERROR deferred by on_message() is raised here. */
static SyncWsStatus
service(SyncWs *ws, long wait_ms, StreamState *st)
{
	SyncWsStatus status = sync_ws_service(ws, wait_ms, sync_worker_stopping, on_message, st);

	if (st->deferred != NULL)
		ReThrowError(st->deferred);
	return status;
}

static bool
batch_due(StreamState *st, int before)
{
	int			n = page_count(st);

	if (n == 0)
		return false;
	return n == before ||
		n >= Min(sync_stream_batch, st->capacity - STREAM_MESSAGE_RECORDS) ||
		TimestampDifferenceExceeds(st->first_at, GetCurrentTimestamp(), sync_flush_interval_ms);
}

/*
 * Hand the page over.  Without wait, false when it was not taken (the
 * page stays as it is, st->handing says so).
 */
static bool
store_batch(StreamState *st, bool wait)
{
	SyncStream *s = st->s;
	MemoryContext old;
	bool		taken;

	if (page_count(st) == 0)
		return true;
	if (!st->handing)
	{
		st->store_began = GetCurrentTimestamp();
		for (int i = 0; i < s->set.ntargets; i++)
			st->newest[i] = INT64_MIN;
		for (int i = 0; i < st->page.ntrades; i++)
			st->newest[st->page.trades[i].target] = Max(st->newest[st->page.trades[i].target],
														sync_ms_of_us(st->page.trades[i].ts_us));
		for (int i = 0; i < st->page.nbars; i++)
		{
			const SyncBar *b = &st->page.bars[i];

			st->newest[b->target] = Max(st->newest[b->target],
										b->ts_ms + s->set.targets[b->target].q->interval_ms);
		}
	}
	old = MemoryContextSwitchTo(st->batch_cxt);
	taken = s->store(s->arg, &s->set, st->newest, false);
	/* shown in pg_stat_activity while the socket is not read */
	if (!taken && !st->handing)
	{
		pgstat_report_activity(STATE_RUNNING, "sync: stream waiting for its storer (queue full)");
		st->handing = true;
	}
	if (!taken && wait)
		taken = s->store(s->arg, &s->set, st->newest, true);
	if (taken && st->handing)
		pgstat_report_activity(STATE_IDLE, NULL);
	MemoryContextSwitchTo(old);
	MemoryContextReset(st->batch_cxt);
	st->handing = !taken;
	if (!taken)
		return false;
	st->page.ntrades = st->page.nbars = st->page.nrejects = st->page.nreceived = 0;
	st->page.last_ts_ms = INT64_MIN;
	return true;
}

/*
 * How long the next read may wait for the socket: not at all while a page
 * is pending (what is there is read, then the page goes), else a second.
 */
static long
wait_budget(StreamState *st)
{
	return page_count(st) == 0 ? 1000 : 0;
}

/*
 * Send what the provider wants first (auth, subscribe; secrets only go on
 * the wire) and wait until it has confirmed every series: data flows only
 * once it has, so REST, asked next, covers everything before the stream's
 * first message.  False, with error set, if it refused.
 */
static bool
stream_subscribe(SyncStream *s, SyncWs *ws, StreamState *st, char *error, size_t errlen)
{
	char	   *msg;
	int			n;
	bool		sent = true;
	TimestampTz deadline;

	for (int i = 0; i < s->set.ntargets; i++)
		s->set.targets[i].subscribed = s->provider->stream_hello == NULL;
	if (s->provider->stream_hello == NULL)
		return true;
	msg = palloc(STREAM_HELLO_LEN);
	for (n = 0; sent && s->provider->stream_hello(&s->set, n, msg, STREAM_HELLO_LEN); n++)
		sent = sync_ws_send_text(ws, msg);
	memset(msg, 0, STREAM_HELLO_LEN);	/* it held the key */
	pfree(msg);
	if (!sent)
	{
		snprintf(error, errlen, "%s", sync_ws_error(ws));
		return false;
	}
	if (n == 0)
	{
		snprintf(error, errlen, "the %s stream needs credentials (key_id and secret) to subscribe",
				 s->provider->name);
		return false;
	}
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), sync_http_timeout_ms);
	while (!sync_stream_all_confirmed(&s->set) && st->provider_error[0] == '\0' &&
		   !sync_worker_stopping() && GetCurrentTimestamp() < deadline)
	{
		if (service(ws, 100, st) != SYNC_WS_OK)
			break;
	}
	if (!sync_stream_all_confirmed(&s->set))
	{
		snprintf(error, errlen, "%s", st->provider_error[0] ? st->provider_error :
				 "the stream did not confirm the subscription");
		return false;
	}
	return true;
}

/*
 * Stream until the connection breaks, SIGTERM, or it is to be renewed.
 * Everything received is stored before returning.
 */
SyncStreamEnd
sync_stream_run(SyncStream *s, char *error, size_t errlen)
{
	StreamState st;
	SyncHttpClient *volatile http;
	SyncWs	   *volatile ws;
	char	   *url;
	volatile SyncStreamEnd end = SYNC_STREAM_LOST;
	TimestampTz opened_at;
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "sync stream",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);

	memset(&st, 0, sizeof(st));
	st.s = s;
	st.capacity = sync_stream_batch + STREAM_MESSAGE_RECORDS;
	st.newest = palloc(sizeof(int64) * s->set.ntargets);
	st.page.last_ts_ms = INT64_MIN;
	st.batch_cxt = AllocSetContextCreate(cxt, "sync stream batch", ALLOCSET_DEFAULT_SIZES);
	/* a batch may be all trades, all bars or all rejects */
	st.page.trades = palloc(sizeof(SyncTrade) * st.capacity);
	st.page.trade_capacity = st.capacity;
	st.page.bars = palloc(sizeof(SyncBar) * st.capacity);
	st.page.bar_capacity = st.capacity;
	st.page.rejects = palloc(sizeof(SyncReject) * (st.capacity + 1));
	st.page.reject_capacity = st.capacity;
	s->set.page = &st.page;

	url = palloc(STREAM_HELLO_LEN);
	if (!s->provider->stream_url(&s->set, s->root, url, STREAM_HELLO_LEN, error, errlen))
		goto failed;
	http = sync_http_client_create();
	if (http == NULL)
	{
		snprintf(error, errlen, "could not initialise libcurl");
		goto failed;
	}
	sync_http_client_set_trusted(http, s->trusted);
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
		if (ready)
			ready = s->subscribed(s->arg, sync_timestamptz_to_ms(GetCurrentTimestamp()), error, errlen);
		if (ready)
		{
			sync_slot_report(s->slot, SYNC_PHASE_REALTIME, 0);
			opened_at = GetCurrentTimestamp();
			for (;;)
			{
				SyncWsStatus ws_status;
				int			before;

				CHECK_FOR_INTERRUPTS();
				sync_worker_reload_if_asked();
				if (sync_worker_stopping())
				{
					end = SYNC_STREAM_STOPPED;
					break;
				}
				if (TimestampDifferenceExceeds(opened_at, GetCurrentTimestamp(), sync_stream_max_age_ms) ||
					(s->renew != NULL && s->renew(s->arg)))
				{
					end = SYNC_STREAM_RENEW;
					break;
				}
				if (st.handing)
				{
					/* the storer is behind: the socket waits until the page is taken */
					if (!store_batch(&st, false))
					{
						(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
										 1000, PG_WAIT_EXTENSION);
						ResetLatch(MyLatch);
						continue;
					}
				}
				before = page_count(&st);
				ws_status = service(ws, wait_budget(&st), &st);
				if (batch_due(&st, before))
					(void) store_batch(&st, false);
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
			(void) store_batch(&st, true);
		}
	}
	PG_FINALLY();
	{
		sync_ws_close(ws);
		sync_http_client_destroy(http);
	}
	PG_END_TRY();
	s->set.page = NULL;
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return end;

failed:
	s->set.page = NULL;
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return SYNC_STREAM_LOST;
}
