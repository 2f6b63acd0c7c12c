/*-------------------------------------------------------------------------
 * series.c
 *	  One series carried by a pool worker (pool.c): pages its bars or
 *	  trades from the provider's REST API, from the checkpoint (or
 *	  history_from) up to the last closed bar, then keeps polling forward,
 *	  repairs its gaps, and hands itself to its source's streamer.
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
#include "storage.h"
#include "validate.h"
#include "worker_common.h"

#define ERRLEN 512
#define MAX_GAPS 16				/* holes re-requested per repair round */
#define MAX_WINDOWS 4			/* requests one series keeps in flight */
#define STREAM_HANDOVER_MS 5000	/* REST this close to now: go live */
#define STREAM_WAIT_MS 3000		/* no stream for this long: REST polls meanwhile */
#define FOLLOW_CHECK_MS 1000	/* a followed series looks at its seam this often */
#define DAY_MS 86400000

/*
 * A day file still missing this long after its day ended will not come:
 * binance-public-data publishes every day of a listed symbol within a day
 * or so.  Before that, a missing file is "not yet".
 */
#define FILE_HOLE_AFTER_MS (3 * (int64) DAY_MS)
#define FILE_WAIT_MAX_MS (3600 * 1000)	/* longest wait between two asks */
#define FILE_TRADES_MAX_PAGE 100000	/* trades one pass over a day file keeps */

StaticAssertDecl(MAX_WINDOWS >= SYNC_HTTP_MAX_TRANSFERS, "sync.requests_in_flight fits the windows");

/* One request in flight: the page [from, to) it asks for, and its answer. */
typedef struct Window
{
	int64		from;
	int64		to;
	int64		window_to_ms;	/* what the request covers (SyncRequest) */
	bool		missing_not_yet;
	int			transfer;		/* in the pool's client */
	bool		done;			/* the answer is in resp */
	SyncHttpResponse resp;
} Window;

typedef enum SeriesMode
{
	MODE_RUN,
	MODE_REPAIR,
	MODE_FOLLOW,
	MODE_CATCHUP,
	MODE_DONE
} SeriesMode;

/* Where a repair round goes back to when it ends. */
typedef enum RepairReturn
{
	REPAIR_TO_RUN,
	REPAIR_TO_FOLLOW
} RepairReturn;

/* What a request start came to. */
typedef enum StartResult
{
	START_OK,
	START_INVALID,				/* the provider cannot express it: s->error says why */
	START_NO_ROOM,				/* every transfer of the worker is in use */
	START_PACED					/* the source's pace or hold: next_request_at says when */
} StartResult;

struct SyncSeries
{
	SyncPool   *pool;
	int			slot;
	SyncJobKind kind;
	int32		id;
	MemoryContext cxt;			/* the series' own memory */
	SyncJob		job;
	const SyncProvider *provider;
	SyncBarQuery query;
	int			capacity;		/* records a page may hold */
	/* requests in flight, oldest first: a ring */
	Window		win[MAX_WINDOWS];
	int			qhead;
	int			qlen;
	bool		dense;			/* the last page was full: more pages follow */
	int64		cursor_ms;		/* next bar to ask for */
	int64		checkpoint_ms;	/* to store with the page */
	int			failures;		/* consecutive transient failures */
	int			misses;			/* consecutive "file not published yet" */
	bool		file_missing;	/* the last page asked for was a missing file */
	bool		repairing;		/* a repair round is asking */
	int64		hole_from;		/* first of old days without a file after data, 0 if none */
	int64		hole_to;		/* where the file after them starts (store_page) */
	TimestampTz next_request_at;
	char		error[ERRLEN];
	bool		permanent;		/* error above stops the job */
	bool		trades;			/* the job is a trades series, not bars */
	int64		next_trade_id;	/* trades_by_id providers: the id to go on from, 0 if unknown */
	TimestampTz last_gap_check; /* repair rounds are due an interval after it */
	TimestampTz rest_until;		/* no stream came: REST polls until then */
	int64		range_to_ms;	/* end of a one-off run, INT64_MAX otherwise */
	int			ngaps;
	int64		gaps[MAX_GAPS][2];	/* [from, to) ms of holes to re-request */

	/* the event loop's view */
	SeriesMode	mode;
	TimestampTz due;			/* step at this time (when not fetching) */
	bool		fetching;		/* the head window's answer is awaited */
	int64		fetch_to_ms;	/* ... for a fetch up to here */
	int64		fetch_settle;
	bool		wants_transfer; /* due, but the worker had no transfer free */
	bool		found;			/* load_job found the row */

	/* REPAIR */
	RepairReturn repair_return;
	int			repair_index;
	bool		repair_missing;
	int64		repair_saved_cursor;

	/* FOLLOW and CATCHUP */
	uint32		closed_epoch;	/* the stream connection whose seam REST closed */
	TimestampTz not_live_since;
	bool		live;
	int64		catchup_until;	/* the stream began during this millisecond */
	uint32		catchup_epoch;
	bool		catchup_asked;	/* a request went out since the stream opened */
};

static void run_txn(SyncSeries *s, const char *what, void (*fn) (void *), void *arg);
static void after_fetch(SyncSeries *s, bool caught_up);
static void run_caught_up(SyncSeries *s, int64 settle);
static void run_after_repair(SyncSeries *s);
static void repair_begin(SyncSeries *s, RepairReturn ret);
static void follow_after_repair(SyncSeries *s);

static int64
interval_ceil(int64 ms, int64 interval)
{
	int64		r = ms % interval;

	return r == 0 ? ms : ms + (interval - r) - (ms < 0 ? interval : 0);
}

static TimestampTz
poll_wait_end(SyncSeries *s, TimestampTz now)
{
	return TimestampTzPlusMilliseconds(now, s->job.poll_interval_ms > 0 ?
									   s->job.poll_interval_ms : sync_poll_interval_ms);
}

/* Step again no sooner than `at`, and not before next_request_at. */
static void
due_at(SyncSeries *s, TimestampTz at)
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

typedef struct StorePage
{
	SyncSeries *s;
	bool		caught_up;
} StorePage;

static void
store_page(void *arg)
{
	SyncSeries *s = ((StorePage *) arg)->s;
	bool		caught_up = ((StorePage *) arg)->caught_up;
	SyncPage   *page = &s->pool->page;
	TimestampTz checkpoint = sync_ms_to_timestamptz(s->checkpoint_ms);
	int64		stored;
	int64		first = INT64_MAX;
	int64		last = INT64_MIN;

	stored = sync_store_page(&s->job, page, s->cursor_ms, s->checkpoint_ms, checkpoint);
	if (s->hole_to > s->hole_from && s->hole_from != 0)
	{
		/* days without a file before this one: a hole (see file_missing()) */
		char		from[16],
					to[16];

		sync_format_date(s->hole_from, from, sizeof(from));
		sync_format_date(s->hole_to - DAY_MS, to, sizeof(to));
		if (!s->trades)
			sync_uncheck_gaps(&s->job, s->hole_from, s->hole_to);
		snprintf(s->error, ERRLEN, "no file for %s%s%s (HTTP 404) while later days have one: %s",
				 from, strcmp(from, to) == 0 ? "" : " to ", strcmp(from, to) == 0 ? "" : to,
				 s->trades ? "their trades are missing" : "listed in sync.gaps");
		sync_subscription_set_error(&s->job, s->error, false);
		ereport(WARNING,
				(errmsg("sync job %s of source \"%s\": %s", s->job.symbol, s->job.source_name, s->error)));
	}
	for (int i = 0; i < page->nbars; i++)
	{
		first = Min(first, page->bars[i].ts_ms);
		last = Max(last, page->bars[i].ts_ms);
	}
	for (int i = 0; i < page->ntrades; i++)
	{
		first = Min(first, sync_ms_of_us(page->trades[i].ts_us));
		last = Max(last, sync_ms_of_us(page->trades[i].ts_us));
	}
	/* listeners hear of it at commit, at most every sync.notify_interval_ms */
	sync_notify_stored(&s->job, s->trades, first, last, stored, caught_up);
}

static void
store_error(void *arg)
{
	SyncSeries *s = (SyncSeries *) arg;

	sync_subscription_set_error(&s->job, s->error, s->permanent);
	if (s->permanent)
		sync_job_run_finish(&s->job, "failed", s->error);
}

typedef struct StoreMalformed
{
	SyncSeries *s;
	SyncHttpResponse *resp;
} StoreMalformed;

static void
store_malformed(void *arg)
{
	StoreMalformed *m = (StoreMalformed *) arg;

	sync_store_reject(&m->s->job, m->s->error, m->resp->body ? m->resp->body : "");
	sync_subscription_set_error(&m->s->job, m->s->error, false);
}

typedef struct FinishRun
{
	SyncSeries *s;
	const char *state;
} FinishRun;

static void
finish_run(void *arg)
{
	FinishRun  *f = (FinishRun *) arg;

	sync_job_run_finish(&f->s->job, f->state,
						strcmp(f->state, "interrupted") == 0 ? "stopped by sync_stop() or shutdown" : NULL);
}

static void
run_finish(SyncSeries *s, const char *state)
{
	FinishRun	f = {s, state};

	run_txn(s, "sync: finishing the backfill", finish_run, &f);
}

/*
 * A step that must write the catalog.  A failure is logged (and, for the
 * series, shown) but does not end the worker: its other series go on, and
 * this one tries again with its next step.
 */
static void
run_txn(SyncSeries *s, const char *what, void (*fn) (void *), void *arg)
{
	char		errbuf[ERRLEN];

	if (!sync_worker_txn(what, fn, arg, errbuf, sizeof(errbuf)))
		sync_slot_set_error(s->slot, SYNC_PHASE_RETRYING, errbuf, 0);
}

/*
 * s->error may quote a provider (its words about a 4xx, a parser's view of
 * a body): shared memory and last_error get it as valid text, invalid
 * UTF-8 and control characters escaped (validate.c).
 */
static void
clean_error(SyncSeries *s)
{
	char		clean[ERRLEN];

	(void) sync_text_escape(s->error, clean, sizeof(clean), false);
	strlcpy(s->error, clean, ERRLEN);
}

/* A transient failure: record it, back off, and go on. */
static void
transient_failure(SyncSeries *s, double retry_after_s)
{
	long		wait_ms;
	TimestampTz retry_at;

	clean_error(s);
	s->failures++;
	wait_ms = retry_after_s >= 0 ? (long) (retry_after_s * 1000) : sync_backoff_ms(s->failures);
	retry_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), wait_ms);
	sync_slot_set_error(s->slot, SYNC_PHASE_RETRYING, s->error, retry_at);
	sync_slot_failed(s->slot, s->failures);
	s->permanent = false;
	run_txn(s, "sync: recording an error", store_error, s);
	if (retry_at > s->next_request_at)
		s->next_request_at = retry_at;
}

static void cancel_requests(SyncSeries *s);

/* A permanent failure: the subscription goes to state 'error', the series is dropped. */
static void
permanent_failure(SyncSeries *s)
{
	clean_error(s);
	cancel_requests(s);
	sync_slot_set_error(s->slot, SYNC_PHASE_ERROR, s->error, 0);
	s->permanent = true;
	run_txn(s, "sync: recording an error", store_error, s);
	ereport(LOG,
			(errmsg("sync job \"%s\" of source \"%s\" stopped: %s",
					s->job.symbol, s->job.source_name, s->error)));
	s->mode = MODE_DONE;
	s->fetching = false;
}

/* The provider's own words about a 4xx, when the body has them. */
static void
describe_http_error(SyncSeries *s, const SyncHttpResponse *resp)
{
	char		perr[ERRLEN] = "";
	SyncPage	empty = {0};

	if (resp->body != NULL &&
		s->provider->parse_bars(resp->body, resp->body_len, &s->query, &empty, perr, sizeof(perr)) == SYNC_PARSE_PROVIDER_ERROR)
		snprintf(s->error, ERRLEN, "provider answered HTTP %ld: %s", resp->status, perr);
	else
		snprintf(s->error, ERRLEN, "provider answered HTTP %ld", resp->status);
}

/*
 * Where the next request starts after a page.  A full page may have more
 * behind it: go on after its newest bar.  A page that was not full holds
 * everything the provider has up to the end of the window, so the window is
 * checked through its end, except for the last moments before now, where a
 * provider may still be publishing (those are asked again next time).
 */
static int64
next_checkpoint(SyncSeries *s, bool full, int64 window_to_ms, int64 to_ms, int64 settle)
{
	SyncPage   *page = &s->pool->page;

	/*
	 * More trades of the newest millisecond may still come (a provider
	 * answers with what it has at that instant), so a trades series goes
	 * on from that millisecond, not after it; the key drops the repeats.
	 */
	int64		after_last = page->last_ts_ms == INT64_MIN ? s->cursor_ms :
		page->last_ts_ms + (s->trades ? 0 : s->job.interval_ms);

	/*
	 * After a full page of trades, more trades of its last millisecond may
	 * follow: ask again from that millisecond (those already stored are
	 * skipped), unless the whole page was that millisecond.
	 */
	if (full && s->trades && s->provider->trades_by_id)
		return Max(s->cursor_ms, page->last_ts_ms);	/* the next id is the next page */
	if (full && s->trades)
		return page->last_ts_ms > s->cursor_ms ? page->last_ts_ms : s->cursor_ms + 1;
	if (full)
		return Max(s->cursor_ms, after_last);
	return Max(Max(s->cursor_ms, after_last), Min(window_to_ms, to_ms - settle));
}

/*
 * Providers say how much of their limit is left: hold the next request of
 * every series of the source until their window resets rather than run
 * into a 429.  Binance counts request weight per minute (6000 for the spot
 * API); past 90% of it we wait for the next minute.
 */
#define BINANCE_WEIGHT_LIMIT 6000

static void
respect_rate_limit_headers(SyncSeries *s, const SyncHttpResponse *resp)
{
	TimestampTz until = 0;

	if (resp->ratelimit_remaining == 0 && resp->ratelimit_reset > 0)
		until = sync_ms_to_timestamptz((int64) resp->ratelimit_reset * 1000);
	else if (resp->used_weight >= BINANCE_WEIGHT_LIMIT * 9 / 10)
	{
		int64		now_ms = sync_timestamptz_to_ms(GetCurrentTimestamp());

		until = sync_ms_to_timestamptz(now_ms - now_ms % 60000 + 60000);
	}
	if (until > s->next_request_at)
		s->next_request_at = until;
	if (until > GetCurrentTimestamp())
	{
		sync_rate_hold(s->pool->dboid, s->job.source_id, until);
		sync_slot_rate_limited(s->slot, until);
	}
}

/*
 * Queue the request for the page [from_ms, to_ms) behind those in flight,
 * without waiting for the answer.
 */
static StartResult
start_request(SyncSeries *s, int64 from_ms, int64 to_ms)
{
	int			w_index = (s->qhead + s->qlen) % MAX_WINDOWS;
	Window	   *w = &s->win[w_index];
	SyncRequest *req = &s->pool->request;
	SyncHttpOptions opts;
	char		perr[ERRLEN];
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz wait_until;
	int			t;

	Assert(s->qlen < MAX_WINDOWS);
	if (sync_http_active(s->pool->http) >= s->pool->capacity)
		return START_NO_ROOM;
	memset(req, 0, sizeof(*req));
	s->query.from_ms = from_ms;
	s->query.to_ms = to_ms;
	s->query.from_id = s->trades && s->provider->trades_by_id ? s->next_trade_id : 0;
	if (!(s->trades ? s->provider->trades_request : s->provider->bars_request) (&s->query, req, perr, sizeof(perr)))
	{
		snprintf(s->error, ERRLEN, "%s", perr);
		return START_INVALID;
	}
	/* the source's pace and the provider's hold, shared by every series of the source */
	wait_until = sync_rate_acquire(s->pool->dboid, s->job.source_id, s->job.requests_per_minute, now);
	if (wait_until != 0)
	{
		s->next_request_at = Max(s->next_request_at, wait_until);
		return START_PACED;
	}
	opts.timeout_ms = s->job.timeout_ms > 0 ? s->job.timeout_ms : sync_http_timeout_ms;
	opts.trusted = s->job.trusted;
	opts.allow_file = strcmp(s->job.provider, "csv") == 0;
	t = sync_http_submit(s->pool->http, req->url, req->headers, &opts, &w->resp);
	if (t < 0)
		return START_NO_ROOM;
	s->pool->transfer_owner[t] = s;
	s->pool->transfer_window[t] = w_index;
	w->transfer = t;
	w->done = false;
	w->from = from_ms;
	w->to = to_ms;
	w->window_to_ms = req->window_to_ms;
	w->missing_not_yet = req->missing_not_yet;
	s->qlen++;
	return START_OK;
}

/* Forget the answer a window holds or awaits, and its transfer. */
static void
release_window(SyncSeries *s, Window *w)
{
	if (!w->done && w->transfer >= 0)
		sync_http_cancel(s->pool->http, w->transfer);
	if (w->transfer >= 0 && s->pool->transfer_owner[w->transfer] == s)
		s->pool->transfer_owner[w->transfer] = NULL;
	w->transfer = -1;
	w->done = false;
	sync_http_response_free(&w->resp);
}

static void
cancel_requests(SyncSeries *s)
{
	for (int i = 0; i < s->qlen; i++)
		release_window(s, &s->win[(s->qhead + i) % MAX_WINDOWS]);
	s->qhead = s->qlen = 0;
}

/*
 * While pages come back full the data is dense: then bar pages are asked
 * for as windows of exactly one page ([from, from + limit * interval)
 * holds at most limit bars), several at once, so the provider works on the
 * next ones while the worker stores the first.  Sparse data, trades (no
 * bound per window), day files and paced sources go one request at a
 * time, which lets a single request jump a quiet stretch.
 */
static bool
pipelined(SyncSeries *s)
{
	return s->dense && !s->trades && !s->provider->whole_days && s->job.requests_per_minute == 0 &&
		sync_requests_in_flight > 1;
}

/*
 * Keep the queue full of windows from next_ms (where the page after those
 * stored so far starts) up to to_ms; requests are sent, not awaited.
 */
static void
fill_pipeline(SyncSeries *s, int64 next_ms, int64 to_ms)
{
	int64		width = (int64) s->query.limit * s->job.interval_ms;

	while (s->qlen < Min(sync_requests_in_flight, MAX_WINDOWS) &&
		   s->next_request_at <= GetCurrentTimestamp())
	{
		int64		from = s->qlen == 0 ? next_ms :
			s->win[(s->qhead + s->qlen - 1) % MAX_WINDOWS].to;

		if (from >= to_ms || start_request(s, from, Min(from + width, to_ms)) != START_OK)
			break;
	}
}

/* An old day without a file, passed over. */
typedef struct SkipDay
{
	SyncSeries *s;
	int64		to_ms;
	bool		has_data;		/* out: data is stored before the day */
} SkipDay;

static void
probe_data_before(void *arg)
{
	SkipDay    *d = (SkipDay *) arg;

	d->has_data = sync_has_data_before(&d->s->job, d->s->trades, d->s->cursor_ms);
}

static void
skip_day(void *arg)
{
	SkipDay    *d = (SkipDay *) arg;
	SyncPage	empty = {0};

	/* a day without data, as an empty file would be, until a later one says otherwise */
	empty.trades = d->s->trades ? d->s->pool->page.trades : NULL;
	empty.last_ts_ms = INT64_MIN;
	(void) sync_store_page(&d->s->job, &empty, d->s->cursor_ms, d->to_ms, sync_ms_to_timestamptz(d->to_ms));
}

/*
 * The file for the cursor's day is not there (404, no such file).  A
 * missing file is "not yet", never an empty day: taking it for one would
 * move the checkpoint past the day and record it as a quiet stretch, and
 * when the file came its bars would be refused as outside the range.
 * So the checkpoint stays, nothing is recorded, and the file is asked
 * for again after the poll interval, doubling while it stays missing (up
 * to an hour): the job shows "waiting: file for <day> not published yet".
 *
 * A day that ended more than FILE_HOLE_AFTER_MS ago will not get a file
 * any more: binance-public-data publishes every day of a listed symbol.
 * It is passed over as a day without data (before the symbol's first
 * file, after its last: not listed yet, delisted).  But when a later day
 * has a file and data is stored before the missing days, they are a hole:
 * store_page() then takes their quiet stretch back, so sync.gaps lists
 * them, and says so in last_error and the log.  Gap repair asks for them
 * again and leaves them listed while they are missing.
 * Returns whether the job is caught up (never: there is more to get).
 */
static bool
file_missing(SyncSeries *s, int64 w_from, int64 window_to_ms, int64 to_ms)
{
	int64		day = w_from - ((w_from % DAY_MS) + DAY_MS) % DAY_MS;
	int64		now_ms = sync_timestamptz_to_ms(GetCurrentTimestamp());
	char		date[16];
	long		wait_ms;

	sync_format_date(day, date, sizeof(date));
	if (day + DAY_MS + FILE_HOLE_AFTER_MS <= now_ms && window_to_ms <= to_ms)
	{
		SkipDay		d = {s, window_to_ms, false};

		s->misses = 0;
		if (s->repairing)
		{
			/* still missing: the hole stays listed, nothing is recorded */
			s->cursor_ms = d.to_ms;
			return false;
		}
		if (s->hole_from == 0)
		{
			run_txn(s, "sync: looking for data before a missing file", probe_data_before, &d);
			if (d.has_data)
				s->hole_from = day;	/* a hole if a later day has a file */
		}
		run_txn(s, "sync: passing over a missing file", skip_day, &d);
		s->cursor_ms = d.to_ms;
		return false;
	}

	/* not yet: ask again later, less often the longer it stays missing */
	s->misses++;
	wait_ms = s->job.poll_interval_ms > 0 ? s->job.poll_interval_ms : sync_poll_interval_ms;
	for (int i = 1; i < s->misses && wait_ms < FILE_WAIT_MAX_MS; i++)
		wait_ms *= 2;
	wait_ms = Min(wait_ms, FILE_WAIT_MAX_MS);
	s->next_request_at = Max(s->next_request_at,
							 TimestampTzPlusMilliseconds(GetCurrentTimestamp(), wait_ms));
	if (day + DAY_MS > now_ms)
	{
		/* the day is not over: no file is expected yet, nothing is wrong */
		sync_slot_report(s->slot, SYNC_PHASE_IDLE, 0);
		return false;
	}
	snprintf(s->error, ERRLEN, "waiting: file for %s not published yet (HTTP 404)", date);
	sync_slot_set_error(s->slot, SYNC_PHASE_RETRYING, s->error, s->next_request_at);
	if (s->misses == 1)
	{
		s->permanent = false;
		run_txn(s, "sync: recording a missing file", store_error, s);
	}
	return false;
}

/*
 * Ask for the page from the cursor (or go on waiting for the one already
 * asked for).  True when an answer is now awaited: after_fetch() follows
 * once it is in.  False when nothing could be asked yet: the series is due
 * again later (paced, no transfer free) or is done (a permanent failure).
 */
static bool
fetch_begin(SyncSeries *s, int64 to_ms, int64 settle)
{
	s->file_missing = false;
	/* what is in flight must start at the cursor and end inside the range */
	if (s->qlen > 0 && (s->win[s->qhead].from != s->cursor_ms || s->win[s->qhead].to > to_ms))
		cancel_requests(s);
	if (s->qlen == 0)
	{
		if (pipelined(s))
			fill_pipeline(s, s->cursor_ms, to_ms);
		if (s->qlen == 0)
		{
			switch (start_request(s, s->cursor_ms, to_ms))
			{
				case START_OK:
					break;
				case START_INVALID:
					permanent_failure(s);
					return false;
				case START_NO_ROOM:
					s->wants_transfer = true;
					return false;
				case START_PACED:
					due_at(s, s->next_request_at);
					return false;
			}
		}
	}
	s->wants_transfer = false;
	s->fetching = true;
	s->fetch_to_ms = to_ms;
	s->fetch_settle = settle;
	return true;
}

/*
 * The answer to the oldest request is in: parse and store it.  Returns
 * true when the series is caught up (the provider had less than a full
 * page up to the fetch's end).  The requests for the following pages are
 * sent before this page is stored (see pipelined()).
 */
static bool
fetch_end(SyncSeries *s)
{
	Window	   *w = &s->win[s->qhead];
	SyncHttpResponse resp = w->resp;	/* the window's slot may be reused below */
	int64		w_from = w->from;
	int64		w_to = w->to;
	int64		window_to = w->window_to_ms;
	bool		missing_not_yet = w->missing_not_yet;
	int64		to_ms = s->fetch_to_ms;
	int64		settle = s->fetch_settle;
	SyncPage   *page = &s->pool->page;
	char		perr[ERRLEN];
	bool		caught_up = false;
	bool		missing;
	TimestampTz started;
	SyncParseStatus st;

	/* the response moved to resp: the window forgets it without freeing it */
	memset(&w->resp, 0, sizeof(w->resp));
	w->transfer = -1;
	w->done = false;
	s->fetching = false;
	s->qhead = (s->qhead + 1) % MAX_WINDOWS;
	s->qlen--;
	/* the page being parsed is the one asked for */
	s->query.from_ms = w_from;
	s->query.to_ms = w_to;

	respect_rate_limit_headers(s, &resp);

	missing = missing_not_yet &&
		(resp.curl_code == CURLE_OK ? resp.status == 404 :
		 resp.curl_code == CURLE_FILE_COULDNT_READ_FILE);
	s->file_missing = missing;
	sync_slot_count_http(s->slot, missing ? 404 : resp.status, resp.curl_code == CURLE_OK || missing);
	if (missing)
	{
		sync_http_response_free(&resp);
		cancel_requests(s);
		return file_missing(s, w_from, window_to, to_ms);
	}
	if (resp.curl_code != CURLE_OK)
	{
		snprintf(s->error, ERRLEN, "HTTP request failed: %s", resp.error);
		transient_failure(s, -1);
	}
	else if (resp.status >= 300 && resp.status < 400)
	{
		snprintf(s->error, ERRLEN, "provider answered HTTP %ld (a redirect): redirects are not followed;"
				 " point the source's base_url at the final location", resp.status);
		transient_failure(s, -1);
	}
	else if (resp.status == 429 || resp.status == 418 || resp.status == 503)
	{
		snprintf(s->error, ERRLEN, "rate limited: provider answered HTTP %ld%s", resp.status,
				 resp.retry_after_s >= 0 ? psprintf(", Retry-After %.0f s", resp.retry_after_s) : "");
		transient_failure(s, resp.retry_after_s);
		/* the provider limits the source, not the symbol: every series of it waits */
		sync_rate_hold(s->pool->dboid, s->job.source_id, s->next_request_at);
		sync_slot_rate_limited(s->slot, s->next_request_at);
	}
	else if (resp.status >= 500)
	{
		snprintf(s->error, ERRLEN, "provider answered HTTP %ld", resp.status);
		transient_failure(s, -1);
	}
	else if (resp.status >= 400)
	{
		describe_http_error(s, &resp);
		sync_http_response_free(&resp);
		permanent_failure(s);
		return false;
	}
	else
	{
		page->nbars = page->ntrades = page->nrejects = page->nreceived = 0;
		page->last_ts_ms = INT64_MIN;
		/* the buffers are the worker's, at least this series' page large */
		page->bar_capacity = s->trades ? 0 : s->capacity;
		page->trade_capacity = s->trades ? s->capacity : 0;
		page->reject_capacity = s->capacity;
		st = (s->trades ? s->provider->parse_trades : s->provider->parse_bars)
			(resp.body ? resp.body : "", resp.body_len, &s->query, page, perr, sizeof(perr));
		if (st != SYNC_PARSE_OK)
		{
			snprintf(s->error, ERRLEN, "%s", perr);
			if (st == SYNC_PARSE_MALFORMED)
			{
				StoreMalformed m = {s, &resp};

				run_txn(s, "sync: storing a malformed answer", store_malformed, &m);
			}
			transient_failure(s, -1);
		}
		else
		{
			bool		full = page->nreceived >= s->query.limit;
			StorePage	sp;

			/* the next page of a by-id provider starts after the newest id kept */
			if (s->trades && s->provider->trades_by_id)
				for (int i = 0; i < page->ntrades; i++)
				{
					int64		id = strtoi64(page->trades[i].trade_id, NULL, 10);

					if (id >= s->next_trade_id)
						s->next_trade_id = id + 1;
				}

			s->checkpoint_ms = next_checkpoint(s, full, window_to, to_ms, settle);
			caught_up = !full && window_to >= to_ms;
			sync_http_response_free(&resp);

			/* ask for what follows before storing this page */
			s->dense = full;
			if (s->qlen > 0 && s->win[s->qhead].from != s->checkpoint_ms)
				cancel_requests(s); /* a window plan that no longer fits */
			if (pipelined(s))
				fill_pipeline(s, s->checkpoint_ms, to_ms);
			else if (s->qlen == 0 && full && s->job.requests_per_minute == 0 &&
					 s->checkpoint_ms < to_ms && s->next_request_at <= GetCurrentTimestamp())
			{
				if (start_request(s, s->checkpoint_ms, to_ms) != START_OK)
					cancel_requests(s); /* it is asked for, or reported, next time */
			}
			/* a file after days without one: those are a hole */
			s->hole_to = 0;
			if (s->hole_from != 0 && !s->repairing && s->provider->whole_days)
				s->hole_to = w_from - ((w_from % DAY_MS) + DAY_MS) % DAY_MS;
			started = GetCurrentTimestamp();
			sp.s = s;
			sp.caught_up = caught_up;
			if (!sync_worker_txn("sync: storing a page", store_page, &sp, perr, sizeof(perr)))
			{
				/*
				 * Not a record's fault (storage refuses those and stores
				 * the rest): the same page later, shown, backed off.
				 */
				snprintf(s->error, ERRLEN, "could not store a page: %s", perr);
				cancel_requests(s);
				transient_failure(s, -1);
				return false;
			}
			sync_slot_page_stored(s->slot,
								  (double) (GetCurrentTimestamp() - started) / USECS_PER_SEC);
			s->cursor_ms = s->checkpoint_ms;
			s->failures = 0;
			s->misses = 0;
			if (!s->repairing)
				s->hole_from = s->hole_to = 0;
			return caught_up;
		}
	}
	sync_http_response_free(&resp);
	cancel_requests(s);			/* after a failure the plan starts again */
	return caught_up;
}

/* RUN ------------------------------------------------------------------ */

/* The main line of a series: catch up, then poll (or hand over to the stream). */
static void
run_step(SyncSeries *s)
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
		(void) fetch_begin(s, to_ms, settle);
		return;
	}
	run_caught_up(s, settle);
}

static void
run_caught_up(SyncSeries *s, int64 settle)
{
	if (s->job.one_off && settle == 0)
	{
		run_finish(s, "succeeded");
		ereport(LOG,
				(errmsg("sync backfill #%d of %s@%s finished",
						s->id, s->job.symbol, s->job.source_name)));
		sync_slot_set_phase(s->slot, SYNC_PHASE_STOPPED);
		s->mode = MODE_DONE;
		return;
	}
	if (s->job.job_run_id != 0)
		run_finish(s, "succeeded");
	sync_slot_report(s->slot, SYNC_PHASE_IDLE, sync_ms_to_timestamptz(s->cursor_ms));
	repair_begin(s, REPAIR_TO_RUN);
}

static void
run_after_repair(SyncSeries *s)
{
	TimestampTz now = GetCurrentTimestamp();

	s->mode = MODE_RUN;
	if (s->failures > 0)
	{
		due_at(s, s->next_request_at);
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
	due_at(s, poll_wait_end(s, now));
}

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
		run_after_repair(s);
	else
		follow_after_repair(s);
}

/*
 * Re-request the holes sync.gaps lists for this subscription, when a round
 * is due.  Whatever the provider answers is stored; a hole asked for twice
 * is then recorded as settled (anything it refused again is in
 * sync.rejects), so a hole is never re-requested forever.
 */
static void
repair_begin(SyncSeries *s, RepairReturn ret)
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
	run_txn(s, "sync: looking for gaps", find_gaps, s);
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

		run_txn(s, "sync: settling a gap", settle_gap, &g);
	}
	s->repair_index++;
	s->repair_missing = false;
	if (s->repair_index < s->ngaps)
		s->cursor_ms = s->gaps[s->repair_index][0];
}

static void
repair_step(SyncSeries *s)
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
				due_at(s, s->next_request_at);
				return;
			}
			(void) fetch_begin(s, gap[1], 0);
			return;
		}
		repair_next_gap(s);
	}
	repair_end(s);
}

static void
repair_after_fetch(SyncSeries *s)
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

/* FOLLOW and CATCHUP --------------------------------------------------- */

/*
 * Caught up, with a stream to have: the series is handed to the source's
 * streamer and the seam of every connection that takes it is closed over
 * REST (CATCHUP).  It goes back to RUN after a failure (next_request_at
 * says when), or when no stream has carried it for STREAM_WAIT_MS: then
 * REST polls for a poll interval before the stream is waited for again.
 */
static void
follow_step(SyncSeries *s)
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
		cancel_requests(s);
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
		s->rest_until = poll_wait_end(s, now);
		s->mode = MODE_RUN;
		s->due = now;
		return;
	}
	repair_begin(s, REPAIR_TO_FOLLOW);
}

static void
follow_after_repair(SyncSeries *s)
{
	if (s->failures > 0)
	{
		s->mode = MODE_RUN;
		due_at(s, s->next_request_at);
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
static void
catchup_step(SyncSeries *s)
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
		due_at(s, s->next_request_at);
		return;
	}
	if (fetch_begin(s, to_ms, Max(s->job.interval_ms, 60000)))
		s->catchup_asked = true;
}

static void
catchup_after_fetch(SyncSeries *s, bool caught_up)
{
	if (caught_up)
		catchup_done(s);
	else if (s->failures > 0)
	{
		s->mode = MODE_RUN;
		due_at(s, s->next_request_at);
	}
	else
		s->due = GetCurrentTimestamp();
}

/* The event loop's side ----------------------------------------------- */

static void
after_fetch(SyncSeries *s, bool caught_up)
{
	if (s->mode == MODE_DONE)
		return;
	switch (s->mode)
	{
		case MODE_RUN:
			if (s->failures > 0)
				due_at(s, s->next_request_at);
			else if (!caught_up)
				due_at(s, GetCurrentTimestamp());
			else
				run_caught_up(s, s->fetch_settle);
			break;
		case MODE_REPAIR:
			repair_after_fetch(s);
			break;
		case MODE_CATCHUP:
			catchup_after_fetch(s, caught_up);
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
	if (s->mode == MODE_DONE)
		return false;
	if (s->fetching)
		return s->qlen > 0 && s->win[s->qhead].done;
	return s->due <= now;
}

/* When the series is due, if it is not waiting for an answer (0 if it is). */
TimestampTz
sync_series_wake_at(const SyncSeries *s)
{
	return s->fetching || s->mode == MODE_DONE ? 0 : s->due;
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
		caught_up = fetch_end(s);
		after_fetch(s, caught_up);
		return;
	}
	switch (s->mode)
	{
		case MODE_RUN:
			run_step(s);
			break;
		case MODE_REPAIR:
			repair_step(s);
			break;
		case MODE_FOLLOW:
			follow_step(s);
			break;
		case MODE_CATCHUP:
			catchup_step(s);
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

int
sync_series_slot(const SyncSeries *s)
{
	return s->slot;
}

/* Open and close ------------------------------------------------------ */

/* Grow the worker's page buffers to hold a page of this series. */
static void
pool_page_reserve(SyncPool *pool, bool trades, int capacity)
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
		permanent_failure(s);
		return s;
	}
	s->trades = strcmp(s->job.dataset, "trades") == 0;
	if (s->trades && s->provider->trades_request == NULL)
	{
		snprintf(s->error, ERRLEN, "provider \"%s\" has no historical trades client in this version of sync",
				 s->job.provider);
		permanent_failure(s);
		return s;
	}
	if (s->trades)
		s->job.interval_ms = 1; /* trades are paged at ms resolution */
	s->capacity = page_capacity(s);
	pool_page_reserve(pool, s->trades, s->capacity);
	s->query.base_url = s->job.base_url ? s->job.base_url : s->provider->default_base_url;
	if (s->query.base_url == NULL)
	{
		snprintf(s->error, ERRLEN, "source \"%s\" has no base_url", s->job.source_name);
		permanent_failure(s);
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
	cancel_requests(s);
	if (shutdown && s->mode != MODE_DONE && s->job.job_run_id != 0 && !s->job.one_off)
		run_finish(s, "interrupted");
	series_free(s);
}
