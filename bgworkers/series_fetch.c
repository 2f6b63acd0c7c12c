/*-------------------------------------------------------------------------
 * series_fetch.c
 *	  A series' requests and answers: the windows it keeps in flight on its
 *	  pool worker's client, parsing an answer, storing a page with its
 *	  checkpoint in one transaction, missing day files, and what a failure
 *	  means (see series.c for the list).
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

/* The oldest and newest time (ms) of a page's records, for its NOTIFY. */
void
series_page_time_range(const SyncPage *page, int64 *first, int64 *last)
{
	*first = INT64_MAX;
	*last = INT64_MIN;
	for (int i = 0; i < page->nbars; i++)
	{
		*first = Min(*first, page->bars[i].ts_ms);
		*last = Max(*last, page->bars[i].ts_ms);
	}
	for (int i = 0; i < page->ntrades; i++)
	{
		*first = Min(*first, sync_ms_of_us(page->trades[i].ts_us));
		*last = Max(*last, sync_ms_of_us(page->trades[i].ts_us));
	}
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
	SyncPage   *page = &s->pool->view;
	TimestampTz checkpoint = sync_ms_to_timestamptz(s->checkpoint_ms);
	int64		stored;
	int64		first;
	int64		last;

	sync_worker_commit_waits(sync_synchronous_commit);
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
	series_page_time_range(page, &first, &last);
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

void
series_run_finish(SyncSeries *s, const char *state)
{
	FinishRun	f = {s, state};

	series_run_txn(s, "sync: finishing the backfill", finish_run, &f);
}

/*
 * A step that must write the catalog.  A failure is logged (and, for the
 * series, shown) but does not end the worker: its other series go on, and
 * this one tries again with its next step.
 */
void
series_run_txn(SyncSeries *s, const char *what, void (*fn) (void *), void *arg)
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
void
series_transient_failure(SyncSeries *s, double retry_after_s)
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
	series_run_txn(s, "sync: recording an error", store_error, s);
	if (retry_at > s->next_request_at)
		s->next_request_at = retry_at;
}

void series_cancel_requests(SyncSeries *s);

/* A permanent failure: the subscription goes to state 'error', the series is dropped. */
void
series_permanent_failure(SyncSeries *s)
{
	clean_error(s);
	series_cancel_requests(s);
	sync_slot_set_error(s->slot, SYNC_PHASE_ERROR, s->error, 0);
	s->permanent = true;
	series_run_txn(s, "sync: recording an error", store_error, s);
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
	SyncPage   *page = &s->pool->view;

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

void
series_cancel_requests(SyncSeries *s)
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
			series_run_txn(s, "sync: looking for data before a missing file", probe_data_before, &d);
			if (d.has_data)
				s->hole_from = day;	/* a hole if a later day has a file */
		}
		series_run_txn(s, "sync: passing over a missing file", skip_day, &d);
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
		series_run_txn(s, "sync: recording a missing file", store_error, s);
	}
	return false;
}

/*
 * Ask for the page from the cursor (or go on waiting for the one already
 * asked for).  True when an answer is now awaited: series_after_fetch() follows
 * once it is in.  False when nothing could be asked yet: the series is due
 * again later (paced, no transfer free) or is done (a permanent failure).
 */
bool
series_fetch_begin(SyncSeries *s, int64 to_ms, int64 settle)
{
	s->file_missing = false;
	/* what is in flight must start at the cursor and end inside the range */
	if (s->qlen > 0 && (s->win[s->qhead].from != s->cursor_ms || s->win[s->qhead].to > to_ms))
		series_cancel_requests(s);
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
					series_permanent_failure(s);
					return false;
				case START_NO_ROOM:
					s->wants_transfer = true;
					return false;
				case START_PACED:
					series_due_at(s, s->next_request_at);
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
bool
series_fetch_end(SyncSeries *s)
{
	Window	   *w = &s->win[s->qhead];
	SyncHttpResponse resp = w->resp;	/* the window's slot may be reused below */
	int64		w_from = w->from;
	int64		w_to = w->to;
	int64		window_to = w->window_to_ms;
	bool		missing_not_yet = w->missing_not_yet;
	int64		to_ms = s->fetch_to_ms;
	int64		settle = s->fetch_settle;
	SyncPage   *page = &s->pool->view;
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
		series_cancel_requests(s);
		return file_missing(s, w_from, window_to, to_ms);
	}
	if (resp.curl_code != CURLE_OK)
	{
		snprintf(s->error, ERRLEN, "HTTP request failed: %s", resp.error);
		series_transient_failure(s, -1);
	}
	else if (resp.status >= 300 && resp.status < 400)
	{
		snprintf(s->error, ERRLEN, "provider answered HTTP %ld (a redirect): redirects are not followed;"
				 " point the source's base_url at the final location", resp.status);
		series_transient_failure(s, -1);
	}
	else if (resp.status == 429 || resp.status == 418 || resp.status == 503)
	{
		snprintf(s->error, ERRLEN, "rate limited: provider answered HTTP %ld%s", resp.status,
				 resp.retry_after_s >= 0 ? psprintf(", Retry-After %.0f s", resp.retry_after_s) : "");
		series_transient_failure(s, resp.retry_after_s);
		/* the provider limits the source, not the symbol: every series of it waits */
		sync_rate_hold(s->pool->dboid, s->job.source_id, s->next_request_at);
		sync_slot_rate_limited(s->slot, s->next_request_at);
	}
	else if (resp.status >= 500)
	{
		snprintf(s->error, ERRLEN, "provider answered HTTP %ld", resp.status);
		series_transient_failure(s, -1);
	}
	else if (resp.status >= 400)
	{
		describe_http_error(s, &resp);
		sync_http_response_free(&resp);
		series_permanent_failure(s);
		return false;
	}
	else
	{
		/*
		 * The buffers are the worker's, at least this series' page large;
		 * the view shows only this series' kind of record (storage tells a
		 * trades page from a bars page by which array it has).
		 */
		*page = s->pool->page;
		page->nbars = page->ntrades = page->nrejects = page->nreceived = 0;
		page->last_ts_ms = INT64_MIN;
		page->has_more = false;
		page->bars = s->trades ? NULL : s->pool->page.bars;
		page->trades = s->trades ? s->pool->page.trades : NULL;
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

				series_run_txn(s, "sync: storing a malformed answer", store_malformed, &m);
			}
			series_transient_failure(s, -1);
		}
		else
		{
			bool		full = page->nreceived >= s->query.limit;
			StorePage	sp;
			int64		unstored_next_id = s->next_trade_id;

			/*
			 * The next page of a by-id provider starts after the newest id
			 * kept (asked for below, before this page is stored; if it
			 * cannot be stored, that request is cancelled and the id goes
			 * back, so the same trades are asked for again).
			 */
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
				series_cancel_requests(s); /* a window plan that no longer fits */
			if (pipelined(s))
				fill_pipeline(s, s->checkpoint_ms, to_ms);
			else if (s->qlen == 0 && full && s->job.requests_per_minute == 0 &&
					 s->checkpoint_ms < to_ms && s->next_request_at <= GetCurrentTimestamp())
			{
				if (start_request(s, s->checkpoint_ms, to_ms) != START_OK)
					series_cancel_requests(s); /* it is asked for, or reported, next time */
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
				series_cancel_requests(s);
				s->next_trade_id = unstored_next_id;
				series_transient_failure(s, -1);
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
	series_cancel_requests(s);			/* after a failure the plan starts again */
	return caught_up;
}

