// unit-sources: bgworkers/series_batch.c
// unit-libs: postgres-server libcurl
/*-------------------------------------------------------------------------
 * test_series_batch.c
 *	  Unit test of bgworkers/series_batch.c, a series' side of multi-symbol
 *	  polls: when it may join one, its query, what it does with its share
 *	  of the answer (the checkpoint it stores) and with each failure.  What
 *	  it calls of storage, the slot and the rest of the series is stubbed
 *	  and recorded.  TAP output, no PostgreSQL running.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "../../bgworkers/series_internal.h"
#include "notify.h"
#include "storage.h"

/* Stubs ---------------------------------------------------------------- */

static TimestampTz clock_now = 700000000000000;	/* in ms: 700000000000 */
static char rejected[600];
static double failure_retry = -2;
static TimestampTz slot_limited_until = 0;
static int64 stored_from = -1;
static int64 stored_checkpoint = -1;
static int64 notified[3] = {-1, -1, -1};	/* first, last, rows */
static SyncPhase reported_phase = SYNC_PHASE_PENDING;
static TimestampTz reported_newest = 0;
static int	repairs = 0;
static int	http_200 = 0;
static int	pages_stored = 0;

TimestampTz
GetCurrentTimestamp(void)
{
	return clock_now;
}

int64
sync_timestamptz_to_ms(TimestampTz ts)
{
	return ts / 1000;
}

TimestampTz
sync_ms_to_timestamptz(int64 ms)
{
	return ms * 1000;
}

void
series_run_txn(SyncSeries *s, const char *what, void (*fn) (void *), void *arg)
{
	fn(arg);
}

void
sync_store_reject(SyncJob *job, const char *reason, const char *payload)
{
	snprintf(rejected, sizeof(rejected), "%d: %s: %s", job->subscription_id, reason, payload);
}

void
series_transient_failure(SyncSeries *s, double retry_after_s)
{
	failure_retry = retry_after_s;
	s->failures++;
	s->next_request_at = clock_now + 5 * USECS_PER_SEC;
}

void
sync_slot_rate_limited(int slot, TimestampTz until)
{
	slot_limited_until = until;
}

void
series_due_at(SyncSeries *s, TimestampTz at)
{
	s->due = at;
}

int64
sync_store_page(SyncJob *job, const SyncPage *page, int64 from_ms, int64 to_ms, TimestampTz checkpoint)
{
	stored_from = from_ms;
	stored_checkpoint = to_ms;
	return page->nbars + page->ntrades;
}

void
series_page_time_range(const SyncPage *page, int64 *first, int64 *last)
{
	*first = page->nbars ? page->bars[0].ts_ms : 0;
	*last = page->last_ts_ms;
}

void
sync_notify_stored(const SyncJob *job, bool trades, int64 first_ms, int64 last_ms, int64 rows, bool flush)
{
	notified[0] = first_ms;
	notified[1] = last_ms;
	notified[2] = rows;
}

void
sync_slot_count_http(int slot, long status, bool answered)
{
	if (status == 200 && answered)
		http_200++;
}

void
sync_slot_page_stored(int slot, double commit_seconds)
{
	pages_stored++;
}

void
sync_slot_report(int slot, SyncPhase phase, TimestampTz newest_event)
{
	reported_phase = phase;
	reported_newest = newest_event;
}

void
series_repair_begin(SyncSeries *s, RepairReturn ret)
{
	if (ret == REPAIR_TO_RUN)
		repairs++;
}

/* The tests ----------------------------------------------------------- */

static int	ntests = 0;
static int	nfailed = 0;

static void
ok(bool cond, const char *what)
{
	printf("%sok %d - %s\n", cond ? "" : "not ", ++ntests, what);
	if (!cond)
		nfailed++;
}

static bool
multi_request(const SyncMultiQuery *mq, SyncRequest *req, char *errbuf, size_t errlen)
{
	return true;
}

static const SyncProvider multi = {
	.name = "multi",
	.multi_max_series = 10,
	.multi_bars_request = multi_request,
};

static const SyncProvider multi_none = {
	.name = "multi_none",
	.multi_max_series = 0,
	.multi_bars_request = multi_request,
};

/* a caught-up bars series of a subscription, due now: it may batch */
static void
caught_up(SyncSeries *s)
{
	memset(s, 0, sizeof(*s));
	s->mode = MODE_RUN;
	s->polling = true;
	s->due = clock_now;
	s->next_request_at = clock_now;
	s->provider = &multi;
	s->job.source_id = 4;
	s->job.subscription_id = 17;
	s->job.interval_ms = 60000;
	s->query.base_url = "http://provider";
	s->cursor_ms = 699999880000;
	s->slot = 3;
}

int
main(void)
{
	SyncSeries	s;
	SyncBatchKey key;
	TimestampTz horizon = clock_now + 30 * USECS_PER_SEC;
	int64		to_ms,
				settle,
				checkpoint;
	const SyncBarQuery *q;
	SyncBar		bars[2];
	SyncPage	page;

	/* who may join a batch */
	caught_up(&s);
	memset(&key, 0, sizeof(key));
	ok(sync_series_batchable(&s, horizon, &key), "a caught-up series of a subscription, due, may batch");
	ok(key.provider == &multi && key.source_id == 4 && !key.trades && key.interval_ms == 60000 &&
	   strcmp(key.base_url, "http://provider") == 0, "its key: provider, source, dataset, interval, base URL");
	s.due = horizon + 1;
	ok(!sync_series_batchable(&s, horizon, &key), "not one due after the horizon");
	caught_up(&s);
	s.next_request_at = horizon + 1;
	ok(!sync_series_batchable(&s, horizon, &key), "not one paced past the horizon");
	caught_up(&s);
	s.mode = MODE_FOLLOW;
	ok(!sync_series_batchable(&s, horizon, &key), "not one following a stream");
	caught_up(&s);
	s.polling = false;
	ok(!sync_series_batchable(&s, horizon, &key), "not one still backfilling");
	caught_up(&s);
	s.fetching = true;
	ok(!sync_series_batchable(&s, horizon, &key), "not one fetching");
	caught_up(&s);
	s.batched = true;
	ok(!sync_series_batchable(&s, horizon, &key), "not one already in a batch");
	caught_up(&s);
	s.batch_alone = true;
	ok(!sync_series_batchable(&s, horizon, &key), "not one whose next poll goes alone");
	caught_up(&s);
	s.qlen = 1;
	ok(!sync_series_batchable(&s, horizon, &key), "not one with a request in flight");
	caught_up(&s);
	s.failures = 1;
	ok(!sync_series_batchable(&s, horizon, &key), "not one backing off a failure");
	caught_up(&s);
	s.job.one_off = true;
	ok(!sync_series_batchable(&s, horizon, &key), "not a requested run");
	caught_up(&s);
	s.provider = NULL;
	ok(!sync_series_batchable(&s, horizon, &key), "not one without a provider");
	caught_up(&s);
	s.provider = &multi_none;
	ok(!sync_series_batchable(&s, horizon, &key), "not one whose provider batches no series");
	caught_up(&s);
	s.trades = true;
	ok(!sync_series_batchable(&s, horizon, &key), "not a trades series when the provider batches bars only");

	/* its query: up to the last closed bar, from its cursor */
	caught_up(&s);
	s.query.from_id = 99;
	s.job.interval_ms = 300000;
	q = sync_series_batch_query(&s, &to_ms, &settle);
	ok(q == &s.query && q->from_ms == s.cursor_ms && q->from_id == 0,
	   "the query starts at the cursor, by time");
	ok(to_ms == 700000000000 - 700000000000 % 300000 && q->to_ms == to_ms,
	   "and ends at the start of the current bar");
	ok(settle == 300000, "settle: an interval");
	s.job.interval_ms = 1000;
	sync_series_batch_query(&s, &to_ms, &settle);
	ok(settle == 60000, "and at least a minute");

	/* in a batch, then dropped */
	caught_up(&s);
	sync_series_batch_begin(&s);
	ok(s.batched && !sync_series_batchable(&s, horizon, &key), "a series in a batch");
	s.due = 0;
	sync_series_batch_cancelled(&s);
	ok(!s.batched && s.due == clock_now, "a dropped batch: the series polls again now");
	ok(sync_series_job(&s) == &s.job, "the job of a series");

	sync_series_batch_refuse(&s);
	ok(s.batch_alone && !sync_series_batchable(&s, horizon, &key), "refused: its next poll goes alone");

	/* a malformed answer is kept under the series */
	caught_up(&s);
	sync_series_batch_malformed(&s, "not an object", "<html>");
	ok(strcmp(rejected, "17: not an object: <html>") == 0 && strcmp(s.error, "not an object") == 0,
	   "a malformed answer is kept as a reject of the series, with the error");

	/* failures */
	caught_up(&s);
	s.batched = true;
	clock_now += 1000;
	sync_series_batch_failed(&s, NULL, -1, false);
	ok(!s.batched && s.batch_alone && s.due == clock_now && s.failures == 0 && failure_retry == -2,
	   "no error: it polls alone, now, with no failure counted");
	caught_up(&s);
	s.batched = true;
	s.polling = true;
	sync_series_batch_failed(&s, "rate limited: provider answered HTTP 429", 7, true);
	ok(!s.batched && s.failures == 1 && failure_retry == 7 &&
	   strcmp(s.error, "rate limited: provider answered HTTP 429") == 0,
	   "an error: a transient failure with the provider's Retry-After");
	ok(slot_limited_until == s.next_request_at && s.due == s.next_request_at,
	   "rate limited: the slot says until when, and the series waits that long");
	ok(!s.polling && s.mode == MODE_RUN, "then it polls from RUN again");
	slot_limited_until = 0;
	caught_up(&s);
	sync_series_batch_failed(&s, "provider answered HTTP 500", -1, false);
	ok(slot_limited_until == 0 && failure_retry == -1 && s.due == s.next_request_at,
	   "not rate limited: the slot is not marked");

	/* storing its share: the checkpoint */
	caught_up(&s);
	memset(&page, 0, sizeof(page));
	memset(bars, 0, sizeof(bars));
	bars[0].ts_ms = 699999880000;
	bars[1].ts_ms = 699999940000;
	page.bars = bars;
	page.nbars = 2;
	page.last_ts_ms = bars[1].ts_ms;
	checkpoint = sync_series_batch_store(&s, &page, 700000000000, 700000000000, 60000);
	ok(checkpoint == 700000000000, "bars: the checkpoint is after the last bar");
	ok(stored_from == 699999880000 && stored_checkpoint == checkpoint, "stored from the cursor to it");
	ok(notified[0] == 699999880000 && notified[1] == 699999940000 && notified[2] == 2,
	   "listeners hear of the rows and their times");
	page.nbars = 0;
	page.last_ts_ms = INT64_MIN;
	checkpoint = sync_series_batch_store(&s, &page, 700000000000, 700000000000, 60000);
	ok(checkpoint == 700000000000 - 60000, "an empty answer: the settled part of the window");
	checkpoint = sync_series_batch_store(&s, &page, 699999000000, 700000000000, 60000);
	ok(checkpoint == s.cursor_ms, "never behind the cursor");
	s.trades = true;
	page.last_ts_ms = 699999990000;
	checkpoint = sync_series_batch_store(&s, &page, 699999000000, 700000000000, 60000);
	ok(checkpoint == 699999990000, "trades: the checkpoint is the last trade's time");

	/* done */
	caught_up(&s);
	s.batched = true;
	s.failures = 2;
	sync_series_batch_done(&s, 700000000000, 0.01);
	ok(!s.batched && s.cursor_ms == 700000000000 && s.failures == 0, "done: caught up to the checkpoint");
	ok(reported_phase == SYNC_PHASE_IDLE && reported_newest == 700000000000LL * 1000 &&
	   http_200 == 1 && pages_stored == 1, "its slot shows it idle, with the answer and the page counted");
	ok(repairs == 1, "then a repair round, if due, as after any poll");
	sync_series_batch_done(&s, 600000000000, 0.01);
	ok(s.cursor_ms == 700000000000, "a checkpoint behind the cursor does not move it back");

	printf("1..%d\n", ntests);
	return nfailed != 0;
}
