/*-------------------------------------------------------------------------
 * series_repair.c
 *	  A series' REPAIR mode: the holes sync.gaps lists, asked for again
 *	  every sync.gap_repair_interval_ms.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>

#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "guc.h"
#include "notify.h"
#include "ratelimit.h"
#include "realtime.h"
#include "seam.h"
#include "series.h"
#include "series_internal.h"
#include "storage.h"
#include "validate.h"
#include "worker_common.h"

/* REPAIR --------------------------------------------------------------- */

static void
find_gaps(void *arg)
{
	SyncSeries *s = (SyncSeries *) arg;
	Oid			types[3] = {TEXTOID, TEXTOID, INTERVALOID};
	Datum		values[3] = {CStringGetTextDatum(s->job.source_name), CStringGetTextDatum(s->job.symbol),
	IntervalPGetDatum(s->job.bar_interval)};

	s->ngaps = 0;
	SPI_connect();
	if (SPI_execute_with_args("SELECT gap_from, gap_to FROM sync.gaps"
							  " WHERE source = $1 AND symbol = $2 AND bar_interval = $3"
							  " ORDER BY gap_from LIMIT " CppAsString2(MAX_GAPS),
							  3, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read sync.gaps");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		s->gaps[i][0] = sync_timestamptz_to_ms(DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull)));
		s->gaps[i][1] = sync_timestamptz_to_ms(DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull)));
		s->ngaps++;
	}
	SPI_finish();
}

typedef struct SettleGap
{
	SyncSeries *s;
	int64	   *gap;
} SettleGap;

static void
settle_gap(void *arg)
{
	SettleGap  *g = (SettleGap *) arg;

	sync_store_checked_gap(&g->s->job, g->gap[0], g->gap[1]);
}

static void
repair_end(SyncSeries *s)
{
	s->cursor_ms = s->repair_saved_cursor;
	s->misses = 0;
	s->repairing = false;
	if (s->repair_return == REPAIR_TO_RUN)
		series_run_after_repair(s);
	else
		series_follow_after_repair(s);
}

/*
 * Re-request the holes sync.gaps lists for this subscription, when a round
 * is due.  Whatever the provider answers is stored; a hole asked for twice
 * is then recorded as settled (anything it refused again is in
 * sync.rejects), so a hole is never re-requested forever.
 */
void
series_repair_begin(SyncSeries *s, RepairReturn ret)
{
	TimestampTz now = GetCurrentTimestamp();

	s->repair_return = ret;
	/* the interval is read each time, so a reload applies at once */
	if (s->job.one_off || s->trades ||
		now < TimestampTzPlusMilliseconds(s->last_gap_check, sync_gap_repair_interval_ms))
	{
		s->repair_saved_cursor = s->cursor_ms;
		repair_end(s);
		return;
	}
	s->last_gap_check = now;
	s->misses = 0;
	s->repairing = true;
	s->repair_saved_cursor = s->cursor_ms;
	series_run_txn(s, "sync: looking for gaps", find_gaps, s);
	s->repair_index = 0;
	s->repair_missing = false;
	if (s->ngaps > 0)
		s->cursor_ms = s->gaps[0][0];
	s->mode = MODE_REPAIR;
	s->due = now;
}

/* Done with the hole at repair_index: settle it (unless a file is still missing), go to the next. */
static void
repair_next_gap(SyncSeries *s)
{
	if (!s->repair_missing)
	{
		SettleGap	g = {s, s->gaps[s->repair_index]};

		series_run_txn(s, "sync: settling a gap", settle_gap, &g);
	}
	s->repair_index++;
	s->repair_missing = false;
	if (s->repair_index < s->ngaps)
		s->cursor_ms = s->gaps[s->repair_index][0];
}

void
series_repair_step(SyncSeries *s)
{
	while (s->repair_index < s->ngaps)
	{
		int64	   *gap = s->gaps[s->repair_index];

		if (s->failures > 0)
			break;
		if (s->cursor_ms < gap[1])
		{
			if (s->next_request_at > GetCurrentTimestamp())
			{
				series_due_at(s, s->next_request_at);
				return;
			}
			(void) series_fetch_begin(s, gap[1], 0);
			return;
		}
		repair_next_gap(s);
	}
	repair_end(s);
}

void
series_repair_after_fetch(SyncSeries *s)
{
	int64	   *gap = s->gaps[s->repair_index];

	if (s->failures > 0)
	{
		repair_end(s);
		return;
	}
	/* a file still missing: the hole stays listed, asked for next round */
	if (s->file_missing)
	{
		s->repair_missing = true;
		if (s->cursor_ms < gap[1] && s->misses > 0)
			s->cursor_ms = gap[1];	/* not yet: not waited for here */
	}
	s->due = GetCurrentTimestamp();
}

