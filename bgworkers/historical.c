/*-------------------------------------------------------------------------
 * historical.c
 *	  The historical job worker: pages a subscription's bars from its
 *	  provider's REST API, from the checkpoint (or history_from) up to the
 *	  last closed bar, then keeps polling forward.
 *
 * Each page is one transaction: bars, rejects and the new checkpoint
 * commit together, so a crash, kill or restart resumes exactly where the
 * last commit left off: no gap and, with the idempotent insert, no
 * duplicate.
 *
 * Failures are sorted by what they mean:
 *	 - 429/418/503: wait for Retry-After (or backoff), phase 'retrying';
 *	 - transport errors, timeouts, 5xx, malformed bodies: exponential
 *	   backoff with jitter, the error shown in sync_status();
 *	 - other 4xx (bad symbol, bad key): the subscription is put in state
 *	   'error' and the worker exits; no retry storm;
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
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "guc.h"
#include "notify.h"
#include "realtime.h"
#include "http.h"
#include "seam.h"
#include "providers/provider.h"
#include "shmem.h"
#include "storage.h"
#include "validate.h"
#include "worker_common.h"

PGDLLEXPORT void sync_historical_main(Datum arg);

#define ERRLEN 512
#define MAX_GAPS 16				/* holes re-requested per repair round */
#define STREAM_HANDOVER_MS 5000	/* REST this close to now: go live */
#define STREAM_WAIT_MS 3000		/* no stream for this long: REST polls meanwhile */
#define DAY_MS 86400000

/*
 * A day file still missing this long after its day ended will not come:
 * binance-public-data publishes every day of a listed symbol within a day
 * or so.  Before that, a missing file is "not yet".
 */
#define FILE_HOLE_AFTER_MS (3 * (int64) DAY_MS)
#define FILE_WAIT_MAX_MS (3600 * 1000)	/* longest wait between two asks */
#define FILE_TRADES_MAX_PAGE 100000	/* trades one pass over a day file keeps */

/* One request in flight: the page [from, to) it asks for, and its answer. */
typedef struct Window
{
	int64		from;
	int64		to;
	SyncRequest req;
	SyncHttpResponse resp;
} Window;

typedef struct Historical
{
	int			slot;
	int32		subscription_id;
	MemoryContext job_cxt;		/* lives as long as the worker */
	SyncJob		job;
	const SyncProvider *provider;
	SyncHttpClient *http;
	SyncPage page;
	SyncBarQuery query;
	/* requests in flight, oldest first: a ring over the transfer slots */
	Window		win[SYNC_HTTP_MAX_TRANSFERS];
	int			qhead;
	int			qlen;
	bool		dense;			/* the last page was full: more pages follow */
	int64		cursor_ms;		/* next bar to ask for */
	int64		checkpoint_ms;	/* to store with the page */
	int			failures;		/* consecutive transient failures */
	int			misses;			/* consecutive "file not published yet" */
	bool		file_missing;	/* the last page asked for was a missing file */
	bool		repairing;		/* repair_gaps() is asking */
	int64		hole_from;		/* first of old days without a file after data, 0 if none */
	int64		hole_to;		/* where the file after them starts (store_page) */
	TimestampTz next_request_at;
	char		error[ERRLEN];
	bool		permanent;		/* error above stops the job */
	bool		found;
	bool		trades;			/* the job is a trades series, not bars */
	int64		next_trade_id;	/* trades_by_id providers: the id to go on from, 0 if unknown */
	TimestampTz last_gap_check;	/* repair rounds are due an interval after it */
	TimestampTz rest_until;		/* no stream came: REST polls until then */
	int			ngaps;
	int64		gaps[MAX_GAPS][2];	/* [from, to) ms of holes to re-request */
} Historical;

static Historical H;

static void run_txn(const char *what, void (*fn) (void *), void *arg);

static void
historical_detach(int code, Datum arg)
{
	LWLockAcquire(SyncState->lock, LW_EXCLUSIVE);
	if (SyncState->slots[H.slot].pid == MyProcPid)
	{
		SyncState->slots[H.slot].pid = 0;
		SyncState->slots[H.slot].seam.wanted = false;
		SyncState->slots[H.slot].seam.job_latch = NULL;
		if (SyncState->slots[H.slot].phase != SYNC_PHASE_ERROR)
			SyncState->slots[H.slot].phase = SYNC_PHASE_STOPPED;
	}
	LWLockRelease(SyncState->lock);
	sync_http_client_destroy(H.http);
	H.http = NULL;
}

static bool
historical_attach(void)
{
	SyncJobSlot *s = &SyncState->slots[H.slot];
	bool		ok;

	LWLockAcquire(SyncState->lock, LW_EXCLUSIVE);
	ok = s->in_use && s->dboid == MyDatabaseId && s->subscription_id == H.subscription_id;
	if (ok)
	{
		s->pid = MyProcPid;
		s->phase = SYNC_PHASE_PENDING;
	}
	LWLockRelease(SyncState->lock);
	return ok;
}

static int64
interval_ceil(int64 ms, int64 interval)
{
	int64		r = ms % interval;

	return r == 0 ? ms : ms + (interval - r) - (ms < 0 ? interval : 0);
}

static void
load_job(void *arg)
{
	TimestampTz now = GetCurrentTimestamp();
	const SyncProvider *provider;

	if (H.subscription_id < 0)
	{
		/* a run asked for with sync_backfill(): resume it where it got */
		H.found = sync_job_load_run(-(int64) H.subscription_id, H.job_cxt, &H.job);
		if (H.found)
			sync_job_run_resume(&H.job);
		return;
	}
	H.found = sync_job_load(H.subscription_id, H.job_cxt, &H.job);
	if (!H.found)
		return;
	sync_job_runs_interrupt_stale(H.subscription_id);
	/* by-id paging goes on after the newest trade stored, not from the provider's newest */
	provider = sync_provider_lookup(H.job.provider);
	if (strcmp(H.job.dataset, "trades") == 0 && provider != NULL && provider->trades_by_id)
		H.next_trade_id = sync_last_trade_id(&H.job);
	if (H.job.history_from != DT_NOBEGIN &&
		(H.job.synced_through == DT_NOBEGIN ||
		 now - H.job.synced_through > H.job.interval_ms * 1000 * 2))
		sync_job_run_begin(&H.job, "backfill",
						   H.job.synced_through != DT_NOBEGIN ? H.job.synced_through : H.job.history_from,
						   now);
}

static void
store_page(void *arg)
{
	bool		caught_up = *(bool *) arg;
	TimestampTz checkpoint = sync_ms_to_timestamptz(H.checkpoint_ms);
	int64		stored;
	int64		first = INT64_MAX;
	int64		last = INT64_MIN;

	stored = sync_store_page(&H.job, &H.page, H.cursor_ms, H.checkpoint_ms, checkpoint);
	if (H.hole_to > H.hole_from && H.hole_from != 0)
	{
		/* days without a file before this one: a hole (see file_missing()) */
		char		from[16],
					to[16];

		sync_format_date(H.hole_from, from, sizeof(from));
		sync_format_date(H.hole_to - DAY_MS, to, sizeof(to));
		if (!H.trades)
			sync_uncheck_gaps(&H.job, H.hole_from, H.hole_to);
		snprintf(H.error, ERRLEN, "no file for %s%s%s (HTTP 404) while later days have one: %s",
				 from, strcmp(from, to) == 0 ? "" : " to ", strcmp(from, to) == 0 ? "" : to,
				 H.trades ? "their trades are missing" : "listed in sync.gaps");
		sync_subscription_set_error(&H.job, H.error, false);
		ereport(WARNING,
				(errmsg("sync job %s of source \"%s\": %s", H.job.symbol, H.job.source_name, H.error)));
	}
	for (int i = 0; i < H.page.nbars; i++)
	{
		first = Min(first, H.page.bars[i].ts_ms);
		last = Max(last, H.page.bars[i].ts_ms);
	}
	for (int i = 0; i < H.page.ntrades; i++)
	{
		first = Min(first, sync_ms_of_us(H.page.trades[i].ts_us));
		last = Max(last, sync_ms_of_us(H.page.trades[i].ts_us));
	}
	/* listeners hear of it at commit, at most every sync.notify_interval_ms */
	sync_notify_stored(&H.job, H.trades, first, last, stored, caught_up);
}

static void
store_error(void *arg)
{
	sync_subscription_set_error(&H.job, H.error, H.permanent);
	if (H.permanent)
		sync_job_run_finish(&H.job, "failed", H.error);
}

static void
store_malformed(void *arg)
{
	SyncHttpResponse *resp = (SyncHttpResponse *) arg;

	sync_store_reject(&H.job, H.error, resp->body ? resp->body : "");
	sync_subscription_set_error(&H.job, H.error, false);
}

static void
finish_run(void *arg)
{
	sync_job_run_finish(&H.job, (const char *) arg,
						strcmp((const char *) arg, "interrupted") == 0 ? "stopped by sync_stop() or shutdown" : NULL);
}

static void
run_txn(const char *what, void (*fn) (void *), void *arg)
{
	char		errbuf[ERRLEN];

	if (!sync_worker_txn(what, fn, arg, errbuf, sizeof(errbuf)))
		ereport(ERROR,
				(errmsg("sync job for subscription %d could not write its progress: %s",
						H.subscription_id, errbuf)));
}

/*
 * H.error may quote a provider (its words about a 4xx, a parser's view of
 * a body): shared memory and last_error get it as valid text, invalid
 * UTF-8 and control characters escaped (validate.c).
 */
static void
clean_error(void)
{
	char		clean[ERRLEN];

	(void) sync_text_escape(H.error, clean, sizeof(clean), false);
	strlcpy(H.error, clean, ERRLEN);
}

/* A transient failure: record it, back off, and go on. */
static void
transient_failure(double retry_after_s)
{
	long		wait_ms;
	TimestampTz retry_at;

	clean_error();
	H.failures++;
	wait_ms = retry_after_s >= 0 ? (long) (retry_after_s * 1000) : sync_backoff_ms(H.failures);
	retry_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), wait_ms);
	sync_slot_set_error(H.slot, SYNC_PHASE_RETRYING, H.error, retry_at);
	sync_slot_failed(H.slot, H.failures);
	H.permanent = false;
	run_txn("sync: recording an error", store_error, NULL);
	if (retry_at > H.next_request_at)
		H.next_request_at = retry_at;
}

/* A permanent failure: the subscription goes to state 'error', we exit. */
static void
permanent_failure(void)
{
	clean_error();
	sync_slot_set_error(H.slot, SYNC_PHASE_ERROR, H.error, 0);
	H.permanent = true;
	run_txn("sync: recording an error", store_error, NULL);
	ereport(LOG,
			(errmsg("sync job \"%s\" of source \"%s\" stopped: %s",
					H.job.symbol, H.job.source_name, H.error)));
	proc_exit(0);
}

/* The provider's own words about a 4xx, when the body has them. */
static void
describe_http_error(const SyncHttpResponse *resp)
{
	char		perr[ERRLEN] = "";
	SyncPage empty = {0};

	if (resp->body != NULL &&
		H.provider->parse_bars(resp->body, resp->body_len, &H.query, &empty, perr, sizeof(perr)) == SYNC_PARSE_PROVIDER_ERROR)
		snprintf(H.error, ERRLEN, "provider answered HTTP %ld: %s", resp->status, perr);
	else
		snprintf(H.error, ERRLEN, "provider answered HTTP %ld", resp->status);
}

/*
 * Where the next request starts after a page.  A full page may have more
 * behind it: go on after its newest bar.  A page that was not full holds
 * everything the provider has up to the end of the window, so the window is
 * checked through its end, except for the last moments before now, where a
 * provider may still be publishing (those are asked again next time).
 */
static int64
next_checkpoint(bool full, int64 window_to_ms, int64 to_ms, int64 settle)
{
	/*
	 * More trades of the newest millisecond may still come (a provider
	 * answers with what it has at that instant), so a trades series goes
	 * on from that millisecond, not after it; the key drops the repeats.
	 */
	int64		after_last = H.page.last_ts_ms == INT64_MIN ? H.cursor_ms :
		H.page.last_ts_ms + (H.trades ? 0 : H.job.interval_ms);

	/*
	 * After a full page of trades, more trades of its last millisecond may
	 * follow: ask again from that millisecond (those already stored are
	 * skipped), unless the whole page was that millisecond.
	 */
	if (full && H.trades && H.provider->trades_by_id)
		return Max(H.cursor_ms, H.page.last_ts_ms);	/* the next id is the next page */
	if (full && H.trades)
		return H.page.last_ts_ms > H.cursor_ms ? H.page.last_ts_ms : H.cursor_ms + 1;
	if (full)
		return Max(H.cursor_ms, after_last);
	return Max(Max(H.cursor_ms, after_last), Min(window_to_ms, to_ms - settle));
}

/*
 * Providers say how much of their limit is left: hold the next request
 * until their window resets rather than run into a 429.  Binance counts
 * request weight per minute (6000 for the spot API); past 90% of it we
 * wait for the next minute.
 */
#define BINANCE_WEIGHT_LIMIT 6000

static void
respect_rate_limit_headers(const SyncHttpResponse *resp)
{
	TimestampTz until = 0;

	if (resp->ratelimit_remaining == 0 && resp->ratelimit_reset > 0)
		until = sync_ms_to_timestamptz((int64) resp->ratelimit_reset * 1000);
	else if (resp->used_weight >= BINANCE_WEIGHT_LIMIT * 9 / 10)
	{
		int64		now_ms = sync_timestamptz_to_ms(GetCurrentTimestamp());

		until = sync_ms_to_timestamptz(now_ms - now_ms % 60000 + 60000);
	}
	/* the next page is then not asked for early either (fetch_page) */
	if (until > H.next_request_at)
		H.next_request_at = until;
	if (until > 0)
		sync_slot_rate_limited(H.slot, until);
}

/*
 * Queue the request for the page [from_ms, to_ms) behind those in flight,
 * without waiting for the answer.  False (with H.error set) when the
 * provider cannot express it.
 */
static bool
start_request(int64 from_ms, int64 to_ms)
{
	int			slot = (H.qhead + H.qlen) % SYNC_HTTP_MAX_TRANSFERS;
	Window	   *w = &H.win[slot];
	char		perr[ERRLEN];

	Assert(H.qlen < SYNC_HTTP_MAX_TRANSFERS);
	memset(&w->req, 0, sizeof(w->req));
	H.query.from_ms = from_ms;
	H.query.to_ms = to_ms;
	H.query.from_id = H.trades && H.provider->trades_by_id ? H.next_trade_id : 0;
	if (!(H.trades ? H.provider->trades_request : H.provider->bars_request) (&H.query, &w->req, perr, sizeof(perr)))
	{
		snprintf(H.error, ERRLEN, "%s", perr);
		return false;
	}
	sync_http_start(H.http, slot, w->req.url, w->req.headers,
					H.job.timeout_ms > 0 ? H.job.timeout_ms : sync_http_timeout_ms, &w->resp);
	w->from = from_ms;
	w->to = to_ms;
	H.qlen++;
	return true;
}

static void
cancel_requests(void)
{
	for (int i = 0; i < H.qlen; i++)
	{
		int			slot = (H.qhead + i) % SYNC_HTTP_MAX_TRANSFERS;

		sync_http_cancel(H.http, slot);
		sync_http_response_free(&H.win[slot].resp);
	}
	H.qhead = H.qlen = 0;
}

/*
 * While pages come back full the data is dense: then bar pages are asked
 * for as windows of exactly one page ([from, from + limit * interval)
 * holds at most limit bars), several at once, so the provider works on the
 * next ones while we wait for and store the first.  Sparse data, trades
 * (no bound per window), day files and paced sources go one request at a
 * time, which lets a single request jump a quiet stretch.
 */
static bool
pipelined(void)
{
	return H.dense && !H.trades && !H.provider->whole_days && H.job.requests_per_minute == 0 &&
		sync_requests_in_flight > 1;
}

/*
 * Keep the queue full of windows from next_ms (where the page after those
 * stored so far starts) up to to_ms; requests are sent, not awaited.
 */
static void
fill_pipeline(int64 next_ms, int64 to_ms)
{
	int64		width = (int64) H.query.limit * H.job.interval_ms;

	while (H.qlen < sync_requests_in_flight && H.next_request_at <= GetCurrentTimestamp())
	{
		int64		from = H.qlen == 0 ? next_ms :
			H.win[(H.qhead + H.qlen - 1) % SYNC_HTTP_MAX_TRANSFERS].to;

		if (from >= to_ms || !start_request(from, Min(from + width, to_ms)))
			break;
	}
}

/* An old day without a file, passed over. */
typedef struct SkipDay
{
	int64		to_ms;
	bool		has_data;		/* out: data is stored before the day */
} SkipDay;

static void
probe_data_before(void *arg)
{
	SkipDay    *d = (SkipDay *) arg;

	d->has_data = sync_has_data_before(&H.job, H.trades, H.cursor_ms);
}

static void
skip_day(void *arg)
{
	SkipDay    *d = (SkipDay *) arg;
	SyncPage	empty = {0};

	/* a day without data, as an empty file would be, until a later one says otherwise */
	empty.trades = H.trades ? H.page.trades : NULL;
	empty.last_ts_ms = INT64_MIN;
	(void) sync_store_page(&H.job, &empty, H.cursor_ms, d->to_ms, sync_ms_to_timestamptz(d->to_ms));
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
file_missing(Window *w, int64 to_ms, int64 settle)
{
	int64		day = w->from - ((w->from % DAY_MS) + DAY_MS) % DAY_MS;
	int64		now_ms = sync_timestamptz_to_ms(GetCurrentTimestamp());
	char		date[16];
	long		wait_ms;

	sync_format_date(day, date, sizeof(date));
	if (day + DAY_MS + FILE_HOLE_AFTER_MS <= now_ms && w->req.window_to_ms <= to_ms)
	{
		SkipDay		d = {w->req.window_to_ms, false};

		H.misses = 0;
		if (H.repairing)
		{
			/* still missing: the hole stays listed, nothing is recorded */
			H.cursor_ms = d.to_ms;
			return false;
		}
		if (H.hole_from == 0)
		{
			run_txn("sync: looking for data before a missing file", probe_data_before, &d);
			if (d.has_data)
				H.hole_from = day;	/* a hole if a later day has a file */
		}
		run_txn("sync: passing over a missing file", skip_day, &d);
		H.cursor_ms = d.to_ms;
		return false;
	}

	/* not yet: ask again later, less often the longer it stays missing */
	H.misses++;
	wait_ms = H.job.poll_interval_ms > 0 ? H.job.poll_interval_ms : sync_poll_interval_ms;
	for (int i = 1; i < H.misses && wait_ms < FILE_WAIT_MAX_MS; i++)
		wait_ms *= 2;
	wait_ms = Min(wait_ms, FILE_WAIT_MAX_MS);
	H.next_request_at = Max(H.next_request_at,
							TimestampTzPlusMilliseconds(GetCurrentTimestamp(), wait_ms));
	if (day + DAY_MS > now_ms)
	{
		/* the day is not over: no file is expected yet, nothing is wrong */
		sync_slot_report(H.slot, SYNC_PHASE_IDLE, 0);
		return false;
	}
	snprintf(H.error, ERRLEN, "waiting: file for %s not published yet (HTTP 404)", date);
	sync_slot_set_error(H.slot, SYNC_PHASE_RETRYING, H.error, H.next_request_at);
	if (H.misses == 1)
	{
		H.permanent = false;
		run_txn("sync: recording a missing file", store_error, NULL);
	}
	return false;
}

/*
 * Fetch and store one page from the cursor.  Returns true when the
 * subscription is caught up (the provider had less than a full page up to
 * to_ms), false to go on at once.  The requests for the following pages
 * are sent before this page is stored (see pipelined()).
 */
static bool
fetch_page(int64 to_ms, int64 settle)
{
	Window	   *w;
	SyncHttpResponse *resp;
	char		perr[ERRLEN];
	bool		caught_up = false;
	bool		missing;
	TimestampTz started;
	SyncParseStatus st;
	int			slot;

	H.file_missing = false;
	/* what is in flight must start at the cursor and end inside the range */
	if (H.qlen > 0 && (H.win[H.qhead].from != H.cursor_ms || H.win[H.qhead].to > to_ms))
		cancel_requests();
	if (H.qlen == 0)
	{
		if (pipelined())
			fill_pipeline(H.cursor_ms, to_ms);
		if (H.qlen == 0 && !start_request(H.cursor_ms, to_ms))
			permanent_failure();
	}
	slot = H.qhead;
	w = &H.win[slot];
	resp = &w->resp;
	/* the page being parsed is the one asked for */
	H.query.from_ms = w->from;
	H.query.to_ms = w->to;

	pgstat_report_activity(STATE_RUNNING, "sync: waiting for the provider");
	sync_http_wait(H.http, slot, sync_worker_stopping);
	pgstat_report_activity(STATE_IDLE, NULL);
	H.qhead = (H.qhead + 1) % SYNC_HTTP_MAX_TRANSFERS;
	H.qlen--;
	if (H.job.requests_per_minute > 0)
		H.next_request_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
														60000 / H.job.requests_per_minute);
	respect_rate_limit_headers(resp);
	if (resp->aborted)
	{
		sync_http_response_free(resp);
		return false;
	}

	missing = w->req.missing_not_yet &&
		(resp->curl_code == CURLE_OK ? resp->status == 404 :
		 resp->curl_code == CURLE_FILE_COULDNT_READ_FILE);
	H.file_missing = missing;
	sync_slot_count_http(H.slot, missing ? 404 : resp->status, resp->curl_code == CURLE_OK || missing);
	if (missing)
	{
		sync_http_response_free(resp);
		cancel_requests();
		return file_missing(w, to_ms, settle);
	}
	if (resp->curl_code != CURLE_OK)
	{
		snprintf(H.error, ERRLEN, "HTTP request failed: %s", resp->error);
		transient_failure(-1);
	}
	else if (resp->status >= 300 && resp->status < 400)
	{
		snprintf(H.error, ERRLEN, "provider answered HTTP %ld (a redirect): redirects are not followed;"
				 " point the source's base_url at the final location", resp->status);
		transient_failure(-1);
	}
	else if (resp->status == 429 || resp->status == 418 || resp->status == 503)
	{
		snprintf(H.error, ERRLEN, "rate limited: provider answered HTTP %ld%s", resp->status,
				 resp->retry_after_s >= 0 ? psprintf(", Retry-After %.0f s", resp->retry_after_s) : "");
		transient_failure(resp->retry_after_s);
		sync_slot_rate_limited(H.slot, H.next_request_at);
	}
	else if (resp->status >= 500)
	{
		snprintf(H.error, ERRLEN, "provider answered HTTP %ld", resp->status);
		transient_failure(-1);
	}
	else if (resp->status >= 400)
	{
		describe_http_error(resp);
		sync_http_response_free(resp);
		permanent_failure();
	}
	else
	{
		H.page.nbars = H.page.ntrades = H.page.nrejects = H.page.nreceived = 0;
		H.page.last_ts_ms = INT64_MIN;
		st = (H.trades ? H.provider->parse_trades : H.provider->parse_bars)
			(resp->body ? resp->body : "", resp->body_len, &H.query, &H.page, perr, sizeof(perr));
		if (st != SYNC_PARSE_OK)
		{
			snprintf(H.error, ERRLEN, "%s", perr);
			if (st == SYNC_PARSE_MALFORMED)
				run_txn("sync: storing a malformed answer", store_malformed, resp);
			transient_failure(-1);
		}
		else
		{
			bool		full = H.page.nreceived >= H.query.limit;
			int64		window_to = w->req.window_to_ms;

			/* the next page of a by-id provider starts after the newest id kept */
			if (H.trades && H.provider->trades_by_id)
				for (int i = 0; i < H.page.ntrades; i++)
				{
					int64		id = strtoi64(H.page.trades[i].trade_id, NULL, 10);

					if (id >= H.next_trade_id)
						H.next_trade_id = id + 1;
				}

			H.checkpoint_ms = next_checkpoint(full, window_to, to_ms, settle);
			caught_up = !full && window_to >= to_ms;
			sync_http_response_free(resp);

			/* ask for what follows before storing this page */
			H.dense = full;
			if (H.qlen > 0 && H.win[H.qhead].from != H.checkpoint_ms)
				cancel_requests();	/* a window plan that no longer fits */
			if (pipelined())
				fill_pipeline(H.checkpoint_ms, to_ms);
			else if (H.qlen == 0 && full && H.job.requests_per_minute == 0 &&
					 H.checkpoint_ms < to_ms && H.next_request_at <= GetCurrentTimestamp())
			{
				if (!start_request(H.checkpoint_ms, to_ms))
					cancel_requests();	/* it fails again, and is reported, next time */
			}
			/* a file after days without one: those are a hole */
			H.hole_to = 0;
			if (H.hole_from != 0 && !H.repairing && H.provider->whole_days)
				H.hole_to = w->from - ((w->from % DAY_MS) + DAY_MS) % DAY_MS;
			started = GetCurrentTimestamp();
			if (!sync_worker_txn("sync: storing a page", store_page, &caught_up, perr, sizeof(perr)))
			{
				/*
				 * Not a record's fault (storage refuses those and stores
				 * the rest): the same page later, shown, backed off.
				 */
				snprintf(H.error, ERRLEN, "could not store a page: %s", perr);
				cancel_requests();
				transient_failure(-1);
				return false;
			}
			sync_slot_page_stored(H.slot,
								  (double) (GetCurrentTimestamp() - started) / USECS_PER_SEC);
			H.cursor_ms = H.checkpoint_ms;
			H.failures = 0;
			H.misses = 0;
			if (!H.repairing)
				H.hole_from = H.hole_to = 0;
			return caught_up;
		}
	}
	sync_http_response_free(resp);
	cancel_requests();			/* after a failure the plan starts again */
	return caught_up;
}

static void
find_gaps(void *arg)
{
	Oid			types[3] = {TEXTOID, TEXTOID, INTERVALOID};
	Datum		values[3] = {CStringGetTextDatum(H.job.source_name), CStringGetTextDatum(H.job.symbol),
	IntervalPGetDatum(H.job.bar_interval)};

	H.ngaps = 0;
	SPI_connect();
	if (SPI_execute_with_args("SELECT gap_from, gap_to FROM sync.gaps"
							  " WHERE source = $1 AND symbol = $2 AND bar_interval = $3"
							  " ORDER BY gap_from LIMIT " CppAsString2(MAX_GAPS),
							  3, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read sync.gaps");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		H.gaps[i][0] = sync_timestamptz_to_ms(DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull)));
		H.gaps[i][1] = sync_timestamptz_to_ms(DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull)));
		H.ngaps++;
	}
	SPI_finish();
}

static void
settle_gap(void *arg)
{
	int64	   *gap = (int64 *) arg;

	sync_store_checked_gap(&H.job, gap[0], gap[1]);
}

/*
 * Re-request the holes sync.gaps lists for this subscription.  Whatever
 * the provider answers is stored; a hole asked for twice is then recorded
 * as settled (anything it refused again is in sync.rejects), so a hole is
 * never re-requested forever.
 */
static void
repair_gaps(void)
{
	TimestampTz now = GetCurrentTimestamp();
	int64		saved_cursor = H.cursor_ms;

	/* the interval is read each time, so a reload applies at once */
	if (H.job.one_off || H.trades ||
		now < TimestampTzPlusMilliseconds(H.last_gap_check, sync_gap_repair_interval_ms))
		return;
	H.last_gap_check = now;
	H.misses = 0;
	H.repairing = true;
	run_txn("sync: looking for gaps", find_gaps, NULL);
	for (int i = 0; i < H.ngaps && !sync_got_sigterm; i++)
	{
		bool		missing = false;

		H.cursor_ms = H.gaps[i][0];
		while (H.cursor_ms < H.gaps[i][1] && H.failures == 0 && !sync_got_sigterm)
		{
			if (H.next_request_at > GetCurrentTimestamp() &&
				!sync_worker_sleep_until(H.next_request_at))
				break;
			(void) fetch_page(H.gaps[i][1], 0);
			/* a file still missing: the hole stays listed, asked for next round */
			if (H.file_missing)
			{
				missing = true;
				if (H.cursor_ms < H.gaps[i][1] && H.misses > 0)
					break;		/* not yet: not waited for here */
			}
		}
		if (H.failures > 0 || sync_got_sigterm)
			break;
		if (!missing)
			run_txn("sync: settling a gap", settle_gap, H.gaps[i]);
	}
	H.cursor_ms = saved_cursor;
	H.misses = 0;
	H.repairing = false;
}

/*
 * REST pages from the checkpoint until until_ms (when the stream took the
 * series; what came after is in the stream) or until caught up.  False
 * (the failure recorded) when the provider could not be asked.
 */
static bool
rest_catch_up(int64 until_ms)
{
	/*
	 * A page asked for before the stream opened cannot close the seam: a
	 * trade made between its answer and the stream's start would be in
	 * neither.  Ask again.
	 */
	bool		asked = false;

	/*
	 * The stream began during millisecond until_ms, and trades of that
	 * millisecond made before it began are only in REST: every request
	 * below must cover all of it (a window ends before its to_ms), so wait
	 * for the clock to leave it.
	 */
	while (sync_timestamptz_to_ms(GetCurrentTimestamp()) <= until_ms && !sync_got_sigterm)
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	cancel_requests();
	while (!sync_got_sigterm)
	{
		int64		now_ms = sync_timestamptz_to_ms(GetCurrentTimestamp());
		int64		to_ms = now_ms - now_ms % H.job.interval_ms;

		/*
		 * At least one request after the stream opened, even when the
		 * checkpoint is already at that millisecond: more of its trades may
		 * have come before the stream did.
		 */
		if (asked && H.cursor_ms >= Min(to_ms, until_ms))
			return true;
		asked = true;
		if (H.next_request_at > GetCurrentTimestamp() &&
			!sync_worker_sleep_until(H.next_request_at))
			return false;
		if (fetch_page(to_ms, Max(H.job.interval_ms, 60000)))
			return true;
		if (H.failures > 0)
			return false;
	}
	return false;
}

/*
 * Caught up, with a stream to have: hand the series to the source's
 * streamer (src/seam.c) and close the seam of every connection that takes
 * it.  Returns when stopping, after a failure (next_request_at says when
 * to go on), or when no stream has carried the series for STREAM_WAIT_MS:
 * then REST polls for a poll interval before the stream is waited for
 * again.
 */
static void
stream_follow(void)
{
	TimestampTz not_live_since = GetCurrentTimestamp();
	uint32		closed = 0;
	MemoryContext loop_cxt = AllocSetContextCreate(CurrentMemoryContext, "sync stream follow",
												   ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(loop_cxt);

	sync_seam_want(H.slot, H.job.source_id, true);
	while (!sync_got_sigterm)
	{
		SyncSeam	seam = sync_seam_read(H.slot);
		TimestampTz now = GetCurrentTimestamp();

		/* it may follow for days: what one round allocates goes with it */
		MemoryContextReset(loop_cxt);
		if (seam.live && seam.epoch != closed)
		{
			/* the streamer stored past our cursor while our seams were closed */
			H.cursor_ms = Max(H.cursor_ms, seam.stored_ms);
			if (H.trades && H.provider->trades_by_id)
				H.next_trade_id = Max(H.next_trade_id, seam.next_trade_id);
			if (!rest_catch_up(seam.opened_ms))
				break;
			sync_seam_close(H.slot, seam.epoch);
			closed = seam.epoch;
			sync_slot_report(H.slot, SYNC_PHASE_REALTIME, 0);
			continue;
		}
		if (seam.live)
			not_live_since = now;
		else if (TimestampDifferenceExceeds(not_live_since, now, STREAM_WAIT_MS))
		{
			H.rest_until = TimestampTzPlusMilliseconds(now, H.job.poll_interval_ms > 0 ?
													   H.job.poll_interval_ms : sync_poll_interval_ms);
			break;
		}
		repair_gaps();
		if (H.failures > 0 || sync_got_sigterm)
			break;
		/* the streamer sets the latch when a connection takes the series */
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 seam.live ? 1000 : 100, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		sync_worker_reload_if_asked();
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(loop_cxt);
}

void
sync_historical_main(Datum arg)
{
	SyncWorkerArgs args;
	MemoryContext job_cxt;
	MemoryContext batch_cxt;
	int			capacity;
	int64		range_to_ms;

	memset(&H, 0, sizeof(H));
	H.slot = DatumGetInt32(arg);
	memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof(args));
	H.subscription_id = args.subscription_id;

	sync_worker_init_signals();
	BackgroundWorkerInitializeConnectionByOid(args.dboid, InvalidOid, 0);
	if (!historical_attach())
		proc_exit(0);
	before_shmem_exit(historical_detach, (Datum) 0);

	job_cxt = AllocSetContextCreate(TopMemoryContext, "sync job", ALLOCSET_DEFAULT_SIZES);
	H.job_cxt = job_cxt;
	batch_cxt = AllocSetContextCreate(TopMemoryContext, "sync batch", ALLOCSET_DEFAULT_SIZES);

	MemoryContextSwitchTo(job_cxt);
	run_txn("sync: loading the job", load_job, NULL);
	if (!H.found)
		proc_exit(0);
	pgstat_report_appname(MyBgworkerEntry->bgw_name);

	H.provider = sync_provider_lookup(H.job.provider);
	if (H.provider == NULL)
	{
		snprintf(H.error, ERRLEN, "provider \"%s\" has no historical client in this version of sync",
				 H.job.provider);
		permanent_failure();
	}
	H.trades = strcmp(H.job.dataset, "trades") == 0;
	if (H.trades && H.provider->trades_request == NULL)
	{
		snprintf(H.error, ERRLEN, "provider \"%s\" has no historical trades client in this version of sync",
				 H.job.provider);
		permanent_failure();
	}
	if (H.trades)
		H.job.interval_ms = 1;	/* trades are paged at ms resolution */
	H.http = sync_http_client_create();
	if (H.http == NULL)
		ereport(ERROR, (errmsg("could not initialise libcurl")));
	sync_http_client_set_trusted(H.http, H.job.trusted);

	if (H.provider->whole_days && H.trades)
	{
		/*
		 * Trades of a day file per pass.  A page costs ~1.4 kB a record
		 * (the trade and room for its reject): a larger page_size would
		 * ask for more than palloc gives (1 GB at a million) and fail at
		 * every start; more passes over the file cost less.
		 */
		capacity = H.job.page_size > 0 ? Min(H.job.page_size, FILE_TRADES_MAX_PAGE) : FILE_TRADES_MAX_PAGE;
		if (H.job.page_size > FILE_TRADES_MAX_PAGE)
			ereport(LOG,
					(errmsg("sync job %s of source \"%s\": page_size %d is more than a trade file pass holds, using %d",
							H.job.symbol, H.job.source_name, H.job.page_size, FILE_TRADES_MAX_PAGE)));
	}
	else if (H.provider->whole_days)
		capacity = (int) (86400000 / H.job.interval_ms) + 1;
	else
		capacity = Min(H.job.page_size > 0 ? H.job.page_size : 1000, H.provider->max_page);
	if (H.trades)
	{
		H.page.trade_capacity = capacity;
		H.page.trades = palloc(sizeof(SyncTrade) * capacity);
	}
	else
	{
		H.page.bar_capacity = capacity;
		H.page.bars = palloc(sizeof(SyncBar) * capacity);
	}
	H.page.reject_capacity = capacity;
	H.page.rejects = palloc(sizeof(SyncReject) * capacity);
	H.query.base_url = H.job.base_url ? H.job.base_url : H.provider->default_base_url;
	if (H.query.base_url == NULL)
	{
		snprintf(H.error, ERRLEN, "source \"%s\" has no base_url", H.job.source_name);
		permanent_failure();
	}
	H.query.symbol = H.job.symbol;
	H.query.key_id = H.job.key_id;
	H.query.secret = H.job.secret;
	H.query.feed = H.job.feed;
	if (strcmp(H.job.provider, "csv") == 0)
		sync_http_client_allow_file(H.http);
	H.query.interval_ms = H.job.interval_ms;
	H.query.limit = capacity;

	if (H.job.synced_through != DT_NOBEGIN)
		H.cursor_ms = sync_timestamptz_to_ms(H.job.synced_through);
	else if (H.job.history_from != DT_NOBEGIN)
		H.cursor_ms = interval_ceil(sync_timestamptz_to_ms(H.job.history_from), H.job.interval_ms);
	else
	{
		int64		now_ms = sync_timestamptz_to_ms(GetCurrentTimestamp());

		H.cursor_ms = now_ms - now_ms % H.job.interval_ms - H.job.interval_ms;
	}

	/* the first repair round comes one interval after the start */
	H.last_gap_check = GetCurrentTimestamp();
	range_to_ms = H.job.range_to == DT_NOEND ? PG_INT64_MAX :
		interval_ceil(sync_timestamptz_to_ms(H.job.range_to), H.job.interval_ms);

	ereport(LOG,
			(errmsg("sync job started: %s %s of source \"%s\" (subscription %d)",
					H.job.dataset, H.job.symbol, H.job.source_name, H.subscription_id)));

	while (!sync_got_sigterm)
	{
		TimestampTz now;
		int64		now_ms,
					to_ms,
					settle;
		bool		caught_up;

		CHECK_FOR_INTERRUPTS();
		sync_worker_reload_if_asked();
		MemoryContextReset(batch_cxt);
		MemoryContextSwitchTo(batch_cxt);

		if (H.next_request_at > GetCurrentTimestamp() &&
			!sync_worker_sleep_until(H.next_request_at))
			break;

		now = GetCurrentTimestamp();
		now_ms = sync_timestamptz_to_ms(now);
		to_ms = now_ms - now_ms % H.job.interval_ms;	/* last closed bar ends here */
		settle = Max(H.job.interval_ms, 60000);
		if (H.job.one_off && range_to_ms < to_ms)
		{
			to_ms = range_to_ms;
			settle = 0;			/* a range in the past is complete */
		}

		caught_up = H.cursor_ms >= to_ms;
		/*
		 * A busy stream may never let REST catch up with now: within a few
		 * seconds of it, the stream takes over (and REST closes the seam).
		 * Not right after a failure: then REST polls, in case the stream
		 * cannot be reached at all.
		 */
		if (!caught_up && H.cursor_ms >= now_ms - STREAM_HANDOVER_MS && H.failures == 0 &&
			now >= H.rest_until && sync_stream_available(&H.job, H.provider, H.trades))
			caught_up = true;
		else if (!caught_up)
		{
			if (H.job.job_run_id != 0)
				sync_slot_report(H.slot, SYNC_PHASE_BACKFILL,
								 sync_ms_to_timestamptz(H.cursor_ms));
			caught_up = fetch_page(to_ms, settle);
		}
		if (sync_got_sigterm)
			break;
		if (H.failures > 0)
			continue;			/* next_request_at holds the retry time */
		if (caught_up && H.job.one_off && settle == 0)
		{
			run_txn("sync: finishing the backfill", finish_run, "succeeded");
			ereport(LOG,
					(errmsg("sync backfill #" INT64_FORMAT " of %s@%s finished",
							-(int64) H.subscription_id, H.job.symbol, H.job.source_name)));
			proc_exit(0);
		}
		if (caught_up)
		{
			if (H.job.job_run_id != 0)
				run_txn("sync: finishing the backfill", finish_run, "succeeded");
			sync_slot_report(H.slot, SYNC_PHASE_IDLE,
							 sync_ms_to_timestamptz(H.cursor_ms));
			repair_gaps();
			if (H.failures > 0 || sync_got_sigterm)
				continue;
			if (sync_stream_available(&H.job, H.provider, H.trades) &&
				GetCurrentTimestamp() >= H.rest_until)
			{
				stream_follow();
				continue;
			}
			if (!sync_worker_sleep_until(TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
																	 H.job.poll_interval_ms > 0 ? H.job.poll_interval_ms : sync_poll_interval_ms)))
				break;
		}
	}

	/* a requested run stays open and resumes when sync runs again */
	if (H.job.job_run_id != 0 && !H.job.one_off)
		run_txn("sync: stopping", finish_run, "interrupted");
	sync_slot_set_phase(H.slot, SYNC_PHASE_STOPPED);
	proc_exit(0);
}
