/*-------------------------------------------------------------------------
 * series_stream.c
 *	  A series' FOLLOW and CATCHUP modes: caught up, handed to its source's
 *	  streamer, and the seam of every connection that takes it closed over
 *	  REST (src/seam.c).
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

/* FOLLOW and CATCHUP --------------------------------------------------- */

/*
 * Caught up, with a stream to have: the series is handed to the source's
 * streamer and the seam of every connection that takes it is closed over
 * REST (CATCHUP).  It goes back to RUN after a failure (next_request_at
 * says when), or when no stream has carried it for STREAM_WAIT_MS: then
 * REST polls for a poll interval before the stream is waited for again.
 */
void
series_follow_step(SyncSeries *s)
{
	SyncSeam	seam = sync_seam_read(s->slot);
	TimestampTz now = GetCurrentTimestamp();

	if (seam.live && seam.epoch != s->closed_epoch)
	{
		/* the streamer stored past our cursor while our seams were closed */
		s->cursor_ms = Max(s->cursor_ms, seam.stored_ms);
		if (s->trades && s->provider->trades_by_id)
			s->next_trade_id = Max(s->next_trade_id, seam.next_trade_id);
		/*
		 * A page asked for before the stream opened cannot close the seam:
		 * a trade made between its answer and the stream's start would be
		 * in neither.  Ask again.
		 */
		series_cancel_requests(s);
		s->catchup_until = seam.opened_ms;
		s->catchup_epoch = seam.epoch;
		s->catchup_asked = false;
		s->mode = MODE_CATCHUP;
		s->due = now;
		return;
	}
	s->live = seam.live;
	if (seam.live)
		s->not_live_since = now;
	else if (TimestampDifferenceExceeds(s->not_live_since, now, STREAM_WAIT_MS))
	{
		s->rest_until = series_poll_wait_end(s, now);
		s->mode = MODE_RUN;
		s->due = now;
		return;
	}
	series_repair_begin(s, REPAIR_TO_FOLLOW);
}

void
series_follow_after_repair(SyncSeries *s)
{
	if (s->failures > 0)
	{
		s->mode = MODE_RUN;
		series_due_at(s, s->next_request_at);
		return;
	}
	s->mode = MODE_FOLLOW;
	/* the streamer wakes the worker when a connection takes the series */
	s->due = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), FOLLOW_CHECK_MS);
}

static void
catchup_done(SyncSeries *s)
{
	sync_seam_close(s->slot, s->catchup_epoch);
	s->closed_epoch = s->catchup_epoch;
	sync_slot_report(s->slot, SYNC_PHASE_REALTIME, 0);
	s->mode = MODE_FOLLOW;
	s->due = GetCurrentTimestamp();
}

/*
 * REST pages from the checkpoint until catchup_until (when the stream took
 * the series; what came after is in the stream) or until caught up.
 */
void
series_catchup_step(SyncSeries *s)
{
	TimestampTz now = GetCurrentTimestamp();
	int64		now_ms = sync_timestamptz_to_ms(now);
	int64		to_ms;

	/*
	 * The stream began during millisecond catchup_until, and trades of
	 * that millisecond made before it began are only in REST: every
	 * request must cover all of it (a window ends before its to_ms), so
	 * wait for the clock to leave it.
	 */
	if (now_ms <= s->catchup_until)
	{
		s->due = sync_ms_to_timestamptz(s->catchup_until + 1);
		return;
	}
	to_ms = now_ms - now_ms % s->job.interval_ms;

	/*
	 * At least one request after the stream opened, even when the
	 * checkpoint is already at that millisecond: more of its trades may
	 * have come before the stream did.
	 */
	if (s->catchup_asked && s->cursor_ms >= Min(to_ms, s->catchup_until))
	{
		catchup_done(s);
		return;
	}
	if (s->next_request_at > now)
	{
		series_due_at(s, s->next_request_at);
		return;
	}
	if (series_fetch_begin(s, to_ms, Max(s->job.interval_ms, 60000)))
		s->catchup_asked = true;
}

void
series_catchup_after_fetch(SyncSeries *s, bool caught_up)
{
	if (caught_up)
		catchup_done(s);
	else if (s->failures > 0)
	{
		s->mode = MODE_RUN;
		series_due_at(s, s->next_request_at);
	}
	else
		s->due = GetCurrentTimestamp();
}

