/*-------------------------------------------------------------------------
 * notify.c
 *	  Announces newly stored data to LISTENers: channel sync_bars (or
 *	  sync_trades), payload JSON
 *	    {"source": ..., "symbol": ..., "interval": "00:01:00",
 *	     "from": first ts, "ts": newest ts, "rows": n}
 *	  ("interval" only on sync_bars).
 *
 * A backfill stores a page every few milliseconds; announcing each would
 * flood listeners.  A job therefore announces at most once per
 * sync.notify_interval_ms, folding the pages in between into one range,
 * and always when it has caught up (flush), so the last rows of a burst
 * are never left unannounced.  The notification is queued inside the
 * page's transaction and delivered when it commits, like NOTIFY.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/async.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "notify.h"
#include "storage.h"

/* what this job has stored and not yet announced */
static int64 pending_rows = 0;
static int64 pending_first_ms;
static int64 pending_last_ms;
static TimestampTz last_sent = 0;

static void
append_ts(StringInfo buf, const char *key, int64 ms)
{
	appendStringInfo(buf, ", \"%s\": ", key);
	escape_json(buf, timestamptz_to_str(sync_ms_to_timestamptz(ms)));
}

void
sync_notify_stored(const SyncJob *job, bool trades, int64 first_ms, int64 last_ms,
				   int64 rows, bool flush)
{
	TimestampTz now = GetCurrentTimestamp();
	StringInfoData payload;

	if (rows > 0)
	{
		if (pending_rows == 0)
		{
			pending_first_ms = first_ms;
			pending_last_ms = last_ms;
		}
		pending_first_ms = Min(pending_first_ms, first_ms);
		pending_last_ms = Max(pending_last_ms, last_ms);
		pending_rows += rows;
	}
	if (pending_rows == 0 ||
		(!flush && !TimestampDifferenceExceeds(last_sent, now, sync_notify_interval_ms)))
		return;

	initStringInfo(&payload);
	appendStringInfoString(&payload, "{\"source\": ");
	escape_json(&payload, job->source_name);
	appendStringInfoString(&payload, ", \"symbol\": ");
	escape_json(&payload, job->symbol);
	if (!trades)
	{
		appendStringInfoString(&payload, ", \"interval\": ");
		escape_json(&payload, DatumGetCString(DirectFunctionCall1(interval_out,
																  IntervalPGetDatum(job->bar_interval))));
	}
	append_ts(&payload, "from", pending_first_ms);
	append_ts(&payload, "ts", pending_last_ms);
	appendStringInfo(&payload, ", \"rows\": " INT64_FORMAT "}", pending_rows);
	Async_Notify(trades ? "sync_trades" : "sync_bars", payload.data);
	pfree(payload.data);

	pending_rows = 0;
	last_sent = now;
}
