/*-------------------------------------------------------------------------
 * series.c
 *	  One series carried by a pool worker (pool.c): pages its bars or
 *	  trades from the provider's REST API, from the checkpoint (or
 *	  history_from) up to the last closed bar, then keeps polling forward,
 *	  repairs its gaps, and hands itself to its source's streamer.  This
 *	  file opens and closes a series, runs its RUN mode and is the event
 *	  loop's entry point; requests and storing are in series_fetch.c, the
 *	  other modes in series_repair.c and series_stream.c.
 *
 * A series never blocks its worker: it is a state machine the worker's
 * event loop steps when it is due (sync_series_ready), and every wait it
 * had as a process of its own (a poll interval, a backoff, a provider's
 * answer, a rate limit) is a time it sets itself to be woken at, or an
 * answer it waits for.  Its modes:
 *	 - RUN: catch up with the provider, then poll each poll interval;
 *	 - REPAIR: re-request the holes sync.gaps lists (from RUN or FOLLOW);
 *	 - FOLLOW: caught up, its series handed to the stream (src/seam.c);
 *	 - CATCHUP: close a stream connection's seam over REST;
 *	 - DONE: a run finished, or a permanent failure: the worker drops it.
 *
 * Each page is one transaction: bars, rejects and the new checkpoint
 * commit together, so a crash, kill or restart resumes exactly where the
 * last commit left off: no gap and, with the idempotent insert, no
 * duplicate.
 *
 * Failures are sorted by what they mean:
 *	 - 429/418/503: wait for Retry-After (or backoff), phase 'retrying';
 *	   the wait holds every series of the source (ratelimit.c);
 *	 - transport errors, timeouts, 5xx, malformed bodies: exponential
 *	   backoff with jitter, the error shown in sync_status();
 *	 - other 4xx (bad symbol, bad key): the subscription is put in state
 *	   'error' and the series is dropped; no retry storm;
 *	 - 3xx: redirects are not followed, nor taken for an empty answer:
 *	   backoff, the error shown;
 *	 - a day file not there (404, no such file; sources whose requests say
 *	   missing_not_yet): see file_missing().
 *
 * A page the database cannot store is not retried forever either: storage
 * refuses the records at fault (src/storage.c) and any other failure to
 * store is a transient failure, shown and backed off from.
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

static int64
interval_ceil(int64 ms, int64 interval)
{
	int64		r = ms % interval;

	return r == 0 ? ms : ms + (interval - r) - (ms < 0 ? interval : 0);
}

TimestampTz
series_poll_wait_end(SyncSeries *s, TimestampTz now)
{
	return TimestampTzPlusMilliseconds(now, s->job.poll_interval_ms > 0 ?
									   s->job.poll_interval_ms : sync_poll_interval_ms);
}

/* Step again no sooner than `at`, and not before next_request_at. */
void
series_due_at(SyncSeries *s, TimestampTz at)
{
	s->due = Max(at, s->next_request_at);
}

static void
load_job(void *arg)
{
	SyncSeries *s = (SyncSeries *) arg;
	TimestampTz now = GetCurrentTimestamp();
	const SyncProvider *provider;

	if (s->kind == SYNC_JOB_RUN)
	{
		/* a run asked for with sync_backfill(): resume it where it got */
		s->found = sync_job_load_run(s->id, s->cxt, &s->job);
		if (s->found)
			sync_job_run_resume(&s->job);
		return;
	}
	s->found = sync_job_load(s->id, s->cxt, &s->job);
	if (!s->found)
		return;
	sync_job_runs_interrupt_stale(s->id);
	/* by-id paging goes on after the newest trade stored, not from the provider's newest */
	provider = sync_provider_lookup(s->job.provider);
	if (strcmp(s->job.dataset, "trades") == 0 && provider != NULL && provider->trades_by_id)
		s->next_trade_id = sync_last_trade_id(&s->job);
	if (s->job.history_from != DT_NOBEGIN &&
		(s->job.synced_through == DT_NOBEGIN ||
		 now - s->job.synced_through > s->job.interval_ms * 1000 * 2))
		sync_job_run_begin(&s->job, "backfill",
						   s->job.synced_through != DT_NOBEGIN ? s->job.synced_through : s->job.history_from,
						   now);
}

/*
 * When a caught-up series polls next: a poll interval on, but when it has
 * everything up to the last closed bar, not before the next bar closes
 * (nothing new can exist before; a thousand series would wake six times a
 * minute for one new bar each).  If that bar is not published yet when
 * asked for, the checkpoint stays and the next poll comes a poll interval
 * later, as before.
 */
static TimestampTz
next_poll(SyncSeries *s, TimestampTz now)
{
	TimestampTz at = series_poll_wait_end(s, now);
	int64		now_ms = sync_timestamptz_to_ms(now);
	int64		closed_to = now_ms - now_ms % s->job.interval_ms;

	if (!s->trades && s->cursor_ms >= closed_to)
		at = Max(at, sync_ms_to_timestamptz(closed_to + s->job.interval_ms));
	return at;
}

/* RUN ------------------------------------------------------------------ */

/* The main line of a series: catch up, then poll (or hand over to the stream). */
void
series_run_step(SyncSeries *s)
{
	TimestampTz now = GetCurrentTimestamp();
	int64		now_ms = sync_timestamptz_to_ms(now);
	int64		to_ms = now_ms - now_ms % s->job.interval_ms;	/* last closed bar ends here */
	int64		settle = Max(s->job.interval_ms, 60000);
	bool		caught_up;

	if (s->job.one_off && s->range_to_ms < to_ms)
	{
		to_ms = s->range_to_ms;
		settle = 0;				/* a range in the past is complete */
	}
	caught_up = s->cursor_ms >= to_ms;

	/*
	 * A busy stream may never let REST catch up with now: within a few
	 * seconds of it, the stream takes over (and REST closes the seam).
	 * Not right after a failure: then REST polls, in case the stream
	 * cannot be reached at all.
	 */
	if (!caught_up && s->cursor_ms >= now_ms - STREAM_HANDOVER_MS && s->failures == 0 &&
		now >= s->rest_until && sync_stream_available(&s->job, s->provider, s->trades))
		caught_up = true;
	else if (!caught_up)
	{
		if (s->job.job_run_id != 0)
			sync_slot_report(s->slot, SYNC_PHASE_BACKFILL, sync_ms_to_timestamptz(s->cursor_ms));
		(void) series_fetch_begin(s, to_ms, settle);
		return;
	}
	series_run_caught_up(s, settle);
}

void
series_run_caught_up(SyncSeries *s, int64 settle)
{
	if (s->job.one_off && settle == 0)
	{
		series_run_finish(s, "succeeded");
		ereport(LOG,
				(errmsg("sync backfill #%d of %s@%s finished",
						s->id, s->job.symbol, s->job.source_name)));
		sync_slot_set_phase(s->slot, SYNC_PHASE_STOPPED);
		s->mode = MODE_DONE;
		return;
	}
	if (s->job.job_run_id != 0)
		series_run_finish(s, "succeeded");
	sync_slot_report(s->slot, SYNC_PHASE_IDLE, sync_ms_to_timestamptz(s->cursor_ms));
	series_repair_begin(s, REPAIR_TO_RUN);
}

void
series_run_after_repair(SyncSeries *s)
{
	TimestampTz now = GetCurrentTimestamp();

	s->mode = MODE_RUN;
	if (s->failures > 0)
	{
		series_due_at(s, s->next_request_at);
		return;
	}
	if (sync_stream_available(&s->job, s->provider, s->trades) && now >= s->rest_until)
	{
		/* FOLLOW: hand the series to the source's streamer (src/seam.c) */
		sync_seam_want(s->slot, s->job.source_id, true);
		s->not_live_since = now;
		s->closed_epoch = 0;
		s->live = false;
		s->mode = MODE_FOLLOW;
		s->due = now;
		return;
	}
	s->polling = true;
	series_due_at(s, next_poll(s, now));
}

/* The event loop's side ----------------------------------------------- */

static void
series_after_fetch(SyncSeries *s, bool caught_up)
{
	if (s->mode == MODE_DONE)
		return;
	switch (s->mode)
	{
		case MODE_RUN:
			s->polling = false;
			s->batch_alone = false; /* its poll alone is done: batches again */
			if (s->failures > 0)
				series_due_at(s, s->next_request_at);
			else if (!caught_up)
				series_due_at(s, GetCurrentTimestamp());
			else
				series_run_caught_up(s, s->fetch_settle);
			break;
		case MODE_REPAIR:
			series_repair_after_fetch(s);
			break;
		case MODE_CATCHUP:
			series_catchup_after_fetch(s, caught_up);
			break;
		case MODE_FOLLOW:
		case MODE_DONE:
			break;
	}
}

/* Whether the series has something to do now. */
bool
sync_series_ready(const SyncSeries *s, TimestampTz now)
{
	if (s->mode == MODE_DONE || s->batched)
		return false;
	if (s->fetching)
		return s->qlen > 0 && s->win[s->qhead].done;
	return s->due <= now;
}

/* When the series is due, if it is not waiting for an answer (0 if it is). */
TimestampTz
sync_series_wake_at(const SyncSeries *s)
{
	return s->fetching || s->batched || s->mode == MODE_DONE ? 0 : s->due;
}

/* The series was due but its worker had no transfer for it. */
bool
sync_series_wants_transfer(const SyncSeries *s)
{
	return s->wants_transfer;
}

/* One step: what is due, or the answer that came in. */
void
sync_series_step(SyncSeries *s)
{
	if (s->fetching)
	{
		bool		caught_up;

		if (s->qlen == 0 || !s->win[s->qhead].done)
			return;
		caught_up = series_fetch_end(s);
		series_after_fetch(s, caught_up);
		return;
	}
	switch (s->mode)
	{
		case MODE_RUN:
			series_run_step(s);
			break;
		case MODE_REPAIR:
			series_repair_step(s);
			break;
		case MODE_FOLLOW:
			series_follow_step(s);
			break;
		case MODE_CATCHUP:
			series_catchup_step(s);
			break;
		case MODE_DONE:
			break;
	}
}

/* The transfer of one of the series' windows finished: its answer is in. */
void
sync_series_transfer_done(SyncSeries *s, int window)
{
	s->win[window].done = true;
	s->win[window].transfer = -1;
}

/* The streamer may have taken or dropped the series: look at the seam now. */
void
sync_series_seam_changed(SyncSeries *s)
{
	if (s->mode == MODE_FOLLOW)
		s->due = GetCurrentTimestamp();
}

bool
sync_series_finished(const SyncSeries *s)
{
	return s->mode == MODE_DONE;
}

/* Open and close ------------------------------------------------------ */

/* Grow the worker's page buffers to hold a page of capacity records. */
void
sync_pool_page_reserve(SyncPool *pool, bool trades, int capacity)
{
	SyncPage   *p = &pool->page;
	MemoryContext old = MemoryContextSwitchTo(pool->cxt);

	if (trades && p->trade_capacity < capacity)
	{
		if (p->trades)
			pfree(p->trades);
		p->trades = palloc(sizeof(SyncTrade) * capacity);
		p->trade_capacity = capacity;
	}
	if (!trades && p->bar_capacity < capacity)
	{
		if (p->bars)
			pfree(p->bars);
		p->bars = palloc(sizeof(SyncBar) * capacity);
		p->bar_capacity = capacity;
	}
	if (p->reject_capacity < capacity)
	{
		if (p->rejects)
			pfree(p->rejects);
		p->rejects = palloc(sizeof(SyncReject) * capacity);
		p->reject_capacity = capacity;
	}
	MemoryContextSwitchTo(old);
}

/* The records one page of the series may hold, from its provider and options. */
static int
page_capacity(SyncSeries *s)
{
	if (s->provider->whole_days && s->trades)
	{
		/*
		 * Trades of a day file per pass.  A page costs ~1.4 kB a record
		 * (the trade and room for its reject): a larger page_size would
		 * ask for more than palloc gives (1 GB at a million) and fail at
		 * every start; more passes over the file cost less.
		 */
		if (s->job.page_size > FILE_TRADES_MAX_PAGE)
			ereport(LOG,
					(errmsg("sync job %s of source \"%s\": page_size %d is more than a trade file pass holds, using %d",
							s->job.symbol, s->job.source_name, s->job.page_size, FILE_TRADES_MAX_PAGE)));
		return s->job.page_size > 0 ? Min(s->job.page_size, FILE_TRADES_MAX_PAGE) : FILE_TRADES_MAX_PAGE;
	}
	if (s->provider->whole_days)
		return (int) (86400000 / s->job.interval_ms) + 1;
	return Min(s->job.page_size > 0 ? s->job.page_size : 1000, s->provider->max_page);
}

static void
series_free(SyncSeries *s)
{
	MemoryContextDelete(s->cxt);
	pfree(s);
}

/*
 * Take up a series: read its job from the catalog and set it going from
 * its checkpoint.  NULL when it is gone (unsubscribed, run ended) or its
 * job could not be read now (the worker tries again later).  A series
 * that cannot run at all (no client for its provider, no base_url) comes
 * back finished, its error recorded.
 */
SyncSeries *
sync_series_open(SyncPool *pool, int slot, SyncJobKind kind, int32 id)
{
	SyncSeries *s = MemoryContextAllocZero(pool->cxt, sizeof(SyncSeries));
	MemoryContext old;
	char		errbuf[ERRLEN];

	s->pool = pool;
	s->slot = slot;
	s->kind = kind;
	s->id = id;
	s->cxt = AllocSetContextCreate(pool->cxt, "sync series", ALLOCSET_SMALL_SIZES);
	for (int i = 0; i < MAX_WINDOWS; i++)
		s->win[i].transfer = -1;

	old = MemoryContextSwitchTo(s->cxt);
	if (!sync_worker_txn("sync: loading a series", load_job, s, errbuf, sizeof(errbuf)) || !s->found)
	{
		MemoryContextSwitchTo(old);
		series_free(s);
		return NULL;
	}
	MemoryContextSwitchTo(old);

	s->mode = MODE_RUN;
	s->due = GetCurrentTimestamp();
	s->provider = sync_provider_lookup(s->job.provider);
	if (s->provider == NULL)
	{
		snprintf(s->error, ERRLEN, "provider \"%s\" has no historical client in this version of sync",
				 s->job.provider);
		series_permanent_failure(s);
		return s;
	}
	s->trades = strcmp(s->job.dataset, "trades") == 0;
	if (s->trades && s->provider->trades_request == NULL)
	{
		snprintf(s->error, ERRLEN, "provider \"%s\" has no historical trades client in this version of sync",
				 s->job.provider);
		series_permanent_failure(s);
		return s;
	}
	if (s->trades)
		s->job.interval_ms = 1; /* trades are paged at ms resolution */
	s->capacity = page_capacity(s);
	sync_pool_page_reserve(pool, s->trades, s->capacity);
	s->query.base_url = s->job.base_url ? s->job.base_url : s->provider->default_base_url;
	if (s->query.base_url == NULL)
	{
		snprintf(s->error, ERRLEN, "source \"%s\" has no base_url", s->job.source_name);
		series_permanent_failure(s);
		return s;
	}
	s->query.symbol = s->job.symbol;
	s->query.key_id = s->job.key_id;
	s->query.secret = s->job.secret;
	s->query.feed = s->job.feed;
	s->query.interval_ms = s->job.interval_ms;
	s->query.limit = s->capacity;

	if (s->job.synced_through != DT_NOBEGIN)
		s->cursor_ms = sync_timestamptz_to_ms(s->job.synced_through);
	else if (s->job.history_from != DT_NOBEGIN)
		s->cursor_ms = interval_ceil(sync_timestamptz_to_ms(s->job.history_from), s->job.interval_ms);
	else
	{
		int64		now_ms = sync_timestamptz_to_ms(GetCurrentTimestamp());

		s->cursor_ms = now_ms - now_ms % s->job.interval_ms - s->job.interval_ms;
	}

	/* the first repair round comes one interval after the start */
	s->last_gap_check = GetCurrentTimestamp();
	s->range_to_ms = s->job.range_to == DT_NOEND ? PG_INT64_MAX :
		interval_ceil(sync_timestamptz_to_ms(s->job.range_to), s->job.interval_ms);
	sync_slot_set_phase(slot, SYNC_PHASE_PENDING);
	return s;
}

/*
 * Put a series down: its requests are dropped (nothing half-stored: a page
 * and its checkpoint commit together).  shutdown: it stops for good (sync
 * stops, or the series was removed), so an open backfill run of a
 * subscription is marked interrupted; a requested run stays open and
 * resumes when sync runs again.  Otherwise it only moves to another
 * worker, which takes it up from its checkpoint.
 */
void
sync_series_close(SyncSeries *s, bool shutdown)
{
	Assert(!s->batched);
	series_cancel_requests(s);
	if (shutdown && s->mode != MODE_DONE && s->job.job_run_id != 0 && !s->job.one_off)
		series_run_finish(s, "interrupted");
	series_free(s);
}

