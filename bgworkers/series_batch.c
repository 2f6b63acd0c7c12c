/*-------------------------------------------------------------------------
 * series_batch.c
 *	  A series' side of multi-symbol polls (pool_batch.c): whether it may
 *	  join one, its query, and storing its share of the answer.
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

/* Polls in multi-symbol requests (pool_batch.c) ------------------------ */

/*
 * May the series' next poll go in a multi-symbol request with others of
 * its source?  Only a caught-up series of a subscription, due within
 * `horizon` (so series that became caught up at different moments are
 * drawn into one rhythm), with nothing in flight, and a provider with an
 * endpoint for its dataset.
 */
bool
sync_series_batchable(const SyncSeries *s, TimestampTz horizon, SyncBatchKey *key)
{
	if (s->mode != MODE_RUN || !s->polling || s->fetching || s->batched || s->batch_alone ||
		s->qlen > 0 || s->failures > 0 || s->job.one_off || s->due > horizon ||
		s->next_request_at > horizon || s->provider == NULL || s->provider->multi_max_series < 1 ||
		(s->trades ? s->provider->multi_trades_request : s->provider->multi_bars_request) == NULL)
		return false;
	key->provider = s->provider;
	key->source_id = s->job.source_id;
	key->trades = s->trades;
	key->interval_ms = s->job.interval_ms;
	key->base_url = s->query.base_url;
	return true;
}

/*
 * The series' query for a batched poll up to the last closed bar (its own
 * range; the request spans them all), and the end and settle the answer
 * is judged by.
 */
const SyncBarQuery *
sync_series_batch_query(SyncSeries *s, int64 *to_ms, int64 *settle)
{
	int64		now_ms = sync_timestamptz_to_ms(GetCurrentTimestamp());

	*to_ms = now_ms - now_ms % s->job.interval_ms;
	*settle = Max(s->job.interval_ms, 60000);
	s->query.from_ms = s->cursor_ms;
	s->query.to_ms = *to_ms;
	s->query.from_id = 0;
	return &s->query;
}

void
sync_series_batch_begin(SyncSeries *s)
{
	s->batched = true;
}

/* The batch was dropped before its answer (the worker puts series down): poll again. */
void
sync_series_batch_cancelled(SyncSeries *s)
{
	s->batched = false;
	s->due = GetCurrentTimestamp();
}

const SyncJob *
sync_series_job(const SyncSeries *s)
{
	return &s->job;
}

/*
 * The provider cannot put the batch's series in one request (a symbol its
 * list cannot hold): each polls alone this time.
 */
void
sync_series_batch_refuse(SyncSeries *s)
{
	s->batch_alone = true;
}

typedef struct BatchMalformed
{
	SyncSeries *s;
	const char *body;
} BatchMalformed;

static void
store_batch_malformed(void *arg)
{
	BatchMalformed *m = (BatchMalformed *) arg;

	sync_store_reject(&m->s->job, m->s->error, m->body);
}

/*
 * A batch answer that is not the documented shape: kept once in
 * sync.rejects (under this series, the batch's first), as a single
 * request's would be.
 */
void
sync_series_batch_malformed(SyncSeries *s, const char *error, const char *body)
{
	BatchMalformed m = {s, body};

	snprintf(s->error, ERRLEN, "%s", error);
	series_run_txn(s, "sync: storing a malformed answer", store_batch_malformed, &m);
}

/*
 * The batch did not give this series its poll: with an error, a transient
 * failure shown and backed off from as for a request of its own; with
 * error NULL (an answer cut short, a refusal that may concern another of
 * its symbols), a poll of its own at once, then batches again.
 */
void
sync_series_batch_failed(SyncSeries *s, const char *error, double retry_after_s, bool rate_limited)
{
	s->batched = false;
	if (error == NULL)
	{
		s->batch_alone = true;
		s->due = GetCurrentTimestamp();
		return;
	}
	snprintf(s->error, ERRLEN, "%s", error);
	series_transient_failure(s, retry_after_s);
	if (rate_limited)
		sync_slot_rate_limited(s->slot, s->next_request_at);
	s->polling = false;
	s->mode = MODE_RUN;
	series_due_at(s, s->next_request_at);
}

/*
 * Inside the batch's transaction: store the series' records of the answer
 * (page holds them alone) with its new checkpoint.  Returns the checkpoint
 * for sync_series_batch_done().
 */
int64
sync_series_batch_store(SyncSeries *s, const SyncPage *page, int64 window_to_ms, int64 to_ms,
						int64 settle)
{
	int64		after_last = page->last_ts_ms == INT64_MIN ? s->cursor_ms :
		page->last_ts_ms + (s->trades ? 0 : s->job.interval_ms);
	int64		checkpoint = Max(Max(s->cursor_ms, after_last), Min(window_to_ms, to_ms - settle));
	int64		stored;
	int64		first;
	int64		last;

	stored = sync_store_page(&s->job, page, s->cursor_ms, checkpoint, sync_ms_to_timestamptz(checkpoint));
	series_page_time_range(page, &first, &last);
	sync_notify_stored(&s->job, s->trades, first, last, stored, true);
	return checkpoint;
}

/* The batch's transaction committed: the series is caught up to checkpoint. */
void
sync_series_batch_done(SyncSeries *s, int64 checkpoint, double commit_seconds)
{
	s->batched = false;
	sync_slot_count_http(s->slot, 200, true);
	sync_slot_page_stored(s->slot, commit_seconds);
	s->cursor_ms = Max(s->cursor_ms, checkpoint);
	s->failures = 0;
	sync_slot_report(s->slot, SYNC_PHASE_IDLE, sync_ms_to_timestamptz(s->cursor_ms));
	/* a poll done: gap repair when due, the stream when there is one, else the next poll */
	series_repair_begin(s, REPAIR_TO_RUN);
}

