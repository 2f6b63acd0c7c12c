/*-------------------------------------------------------------------------
 * notify.c
 *	  Announces newly stored data to LISTENers: channel sync_bars (or
 *	  sync_trades), payload JSON
 *	    {"source": ..., "symbol": ..., "interval": "00:01:00",
 *	     "from": first ts, "ts": newest ts, "rows": n}
 *	  ("interval" only on sync_bars).
 *
 * A backfill stores a page every few milliseconds; announcing each would
 * flood listeners.  A series therefore announces at most once per
 * sync.notify_interval_ms, folding the pages in between into one range,
 * and always when its job has caught up (flush), so the last rows of a
 * burst are never left unannounced.  The notification is queued inside the
 * page's transaction and delivered when it commits, like NOTIFY.
 *
 * One notification is always about one series, with its exact row count:
 * a streamer stores many series in one process and keeps what each has
 * not announced apart (a listener filtering on symbol hears of all its
 * rows, under the right name).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/async.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "notify.h"
#include "storage.h"

/*
 * What each series has stored and not yet announced.  A streamer stores
 * many series in one process: each has its own entry, so each is
 * announced under its own name with its own row count.
 */
typedef struct Pending
{
	int32		subscription_id;
	int64		run_id;			/* a requested run's (subscription_id is 0 for all of them) */
	bool		trades;
	int64		interval_ms;
	int64		rows;
	int64		first_ms;
	int64		last_ms;
	TimestampTz last_sent;
	/* the payload's names, copied: a streamer frees its jobs on reload */
	char	   *source;
	char	   *symbol;
	char	   *interval;
} Pending;

static Pending *pending = NULL;
static int	npending = 0;
static int	pending_capacity = 0;

static void
append_ts(StringInfo buf, const char *key, int64 ms)
{
	appendStringInfo(buf, ", \"%s\": ", key);
	escape_json(buf, timestamptz_to_str(sync_ms_to_timestamptz(ms)));
}

/*
 * The entry of a series, made on first use (in TopMemoryContext).  A
 * requested run is a series of its own: runs have no subscription, and a
 * pool worker carries many runs at once.
 */
static Pending *
pending_for(const SyncJob *job, bool trades)
{
	int64		run_id = job->one_off ? job->job_run_id : 0;

	for (int i = 0; i < npending; i++)
		if (pending[i].subscription_id == job->subscription_id && pending[i].run_id == run_id &&
			pending[i].trades == trades && pending[i].interval_ms == job->interval_ms)
			return &pending[i];
	if (npending == pending_capacity)
	{
		pending_capacity = Max(8, pending_capacity * 2);
		pending = pending == NULL ?
			MemoryContextAlloc(TopMemoryContext, sizeof(Pending) * pending_capacity) :
			repalloc(pending, sizeof(Pending) * pending_capacity);
	}
	memset(&pending[npending], 0, sizeof(Pending));
	pending[npending].subscription_id = job->subscription_id;
	pending[npending].run_id = run_id;
	pending[npending].trades = trades;
	pending[npending].interval_ms = job->interval_ms;
	pending[npending].source = MemoryContextStrdup(TopMemoryContext, job->source_name);
	pending[npending].symbol = MemoryContextStrdup(TopMemoryContext, job->symbol);
	if (!trades)
		pending[npending].interval =
			MemoryContextStrdup(TopMemoryContext,
								DatumGetCString(DirectFunctionCall1(interval_out,
																	IntervalPGetDatum(job->bar_interval))));
	return &pending[npending++];
}

/* Queue the notification of one series' pending rows. */
static void
send_pending(Pending *p, TimestampTz now)
{
	StringInfoData payload;

	initStringInfo(&payload);
	appendStringInfoString(&payload, "{\"source\": ");
	escape_json(&payload, p->source);
	appendStringInfoString(&payload, ", \"symbol\": ");
	escape_json(&payload, p->symbol);
	if (!p->trades)
	{
		appendStringInfoString(&payload, ", \"interval\": ");
		escape_json(&payload, p->interval);
	}
	append_ts(&payload, "from", p->first_ms);
	append_ts(&payload, "ts", p->last_ms);
	appendStringInfo(&payload, ", \"rows\": " INT64_FORMAT "}", p->rows);
	Async_Notify(p->trades ? "sync_trades" : "sync_bars", payload.data);
	pfree(payload.data);

	p->rows = 0;
	p->last_sent = now;
}

static void
forget_pending(Pending *p)
{
	pfree(p->source);
	pfree(p->symbol);
	if (p->interval)
		pfree(p->interval);
	*p = pending[--npending];
}

/*
 * A series stored rows [first_ms, last_ms] in the current transaction:
 * announce them, with what it stored before and did not announce, unless
 * the series was announced less than sync.notify_interval_ms ago (flush
 * announces anyway).
 */
void
sync_notify_stored(const SyncJob *job, bool trades, int64 first_ms, int64 last_ms,
				   int64 rows, bool flush)
{
	TimestampTz now = GetCurrentTimestamp();
	Pending    *p = pending_for(job, trades);

	if (rows > 0)
	{
		if (p->rows == 0)
		{
			p->first_ms = first_ms;
			p->last_ms = last_ms;
		}
		p->first_ms = Min(p->first_ms, first_ms);
		p->last_ms = Max(p->last_ms, last_ms);
		p->rows += rows;
	}
	if (p->rows > 0 &&
		(flush || TimestampDifferenceExceeds(p->last_sent, now, sync_notify_interval_ms)))
		send_pending(p, now);
	/* a run that caught up is over: its entry goes (runs come and go by the thousand) */
	if (flush && job->one_off && p->rows == 0)
		forget_pending(p);
}

/*
 * Announce every series whose rows have waited sync.notify_interval_ms,
 * in the current transaction: a streamer calls it with each batch, so a
 * series that stored rows and then nothing more is not left unannounced
 * while other series go on.
 */
void
sync_notify_due(void)
{
	TimestampTz now = GetCurrentTimestamp();

	for (int i = 0; i < npending; i++)
		if (pending[i].rows > 0 &&
			TimestampDifferenceExceeds(pending[i].last_sent, now, sync_notify_interval_ms))
			send_pending(&pending[i], now);
}
