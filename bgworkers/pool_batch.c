/*-------------------------------------------------------------------------
 * pool_batch.c
 *	  Polls of caught-up series in multi-symbol requests: where a provider
 *	  answers for many symbols at once (Alpaca's /v2/stocks/bars and
 *	  /v2/stocks/trades with symbols=, Polygon's grouped daily bars), a
 *	  pool worker asks once for up to multi_max_series of a source's series
 *	  instead of once for each.
 *
 * Each round the worker gathers the series that are caught up and due to
 * poll within half a poll interval (so series caught up at different
 * moments fall into one rhythm), groups them by source, dataset and
 * interval, and sends one request per group of at most multi_max_series.
 * The answer is parsed once; each series' records (the parser stamps them
 * with their series) are stored with its checkpoint, every series of the
 * request in one transaction.
 *
 * What the batch cannot give goes back to the series alone, once: an
 * answer with more pages behind it (a page token), a 4xx (it may concern
 * one symbol only: each hears its own answer), or a request the provider
 * cannot express (a symbol it cannot list) make each series' next poll a
 * poll of its own, after which it batches again.  A failed request
 * (transport, 3xx, 5xx, a malformed answer, kept once in sync.rejects) is
 * each series' transient failure, and a 429 holds the whole source
 * (ratelimit.c), as for single requests.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>

#include "miscadmin.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "guc.h"
#include "pool_batch.h"
#include "ratelimit.h"
#include "series.h"
#include "worker_common.h"

#define ERRLEN 512

/*
 * Records one batch answer may hold: the worker's page buffers grow to it
 * (about 1.5 kB a record with room for its reject), so it is bounded below
 * the largest provider pages.
 */
#define BATCH_MAX_RECORDS 10000
#define BATCH_LIMIT(provider) Min((provider)->max_page, BATCH_MAX_RECORDS)

typedef struct Batch
{
	SyncBatchKey key;
	SyncSeries **series;
	const SyncBarQuery **queries;
	int			n;
	int64		to_ms;
	int64		settle;
	int64		window_to_ms;
	SyncMultiQuery mq;			/* the request, built once: sent, then parsed against */
	int			transfer;
	SyncHttpResponse resp;
	bool		done;
	struct Batch *next;
} Batch;

struct SyncPoolBatches
{
	Batch	   *in_flight;
};

SyncPoolBatches *
sync_pool_batches_create(MemoryContext cxt)
{
	return MemoryContextAllocZero(cxt, sizeof(SyncPoolBatches));
}

static bool
same_key(const SyncBatchKey *a, const SyncBatchKey *b)
{
	return a->provider == b->provider && a->source_id == b->source_id && a->trades == b->trades &&
		a->interval_ms == b->interval_ms && strcmp(a->base_url, b->base_url) == 0;
}

/*
 * Send one request for the group of series; false (the series untouched)
 * when it cannot go now.
 */
static bool
send_batch(SyncPool *pool, SyncPoolBatches *pb, Batch *b)
{
	const SyncJob *job = sync_series_job(b->series[0]);
	SyncRequest *req = &pool->request;
	SyncHttpOptions opts;
	char		err[ERRLEN];
	bool		ok;
	int			t;

	memset(&b->mq, 0, sizeof(b->mq));
	b->mq.series = b->queries;
	b->mq.nseries = b->n;
	b->mq.from_ms = PG_INT64_MAX;
	for (int i = 0; i < b->n; i++)
		b->mq.from_ms = Min(b->mq.from_ms, b->queries[i]->from_ms);
	b->mq.to_ms = b->to_ms;
	b->mq.limit = BATCH_LIMIT(b->key.provider);
	memset(req, 0, sizeof(*req));
	ok = (b->key.trades ? b->key.provider->multi_trades_request : b->key.provider->multi_bars_request)
		(&b->mq, req, err, sizeof(err));
	if (!ok)
	{
		/* not expressible (a symbol the list cannot hold, an interval): they poll alone */
		for (int i = 0; i < b->n; i++)
			sync_series_batch_refuse(b->series[i]);
		return false;
	}
	if (sync_rate_acquire(pool->dboid, b->key.source_id, job->requests_per_minute,
						  GetCurrentTimestamp()) != 0)
		return false;			/* paced: the group is asked for in a later round */
	opts.timeout_ms = job->timeout_ms > 0 ? job->timeout_ms : sync_http_timeout_ms;
	opts.trusted = job->trusted;
	opts.allow_file = false;
	t = sync_http_submit(pool->http, req->url, req->headers, &opts, &b->resp);
	if (t < 0)
		return false;
	sync_pool_page_reserve(pool, b->key.trades, b->mq.limit);
	b->transfer = t;
	b->window_to_ms = req->window_to_ms > 0 ? Min(req->window_to_ms, b->to_ms) : b->to_ms;
	pool->transfer_owner[t] = NULL;
	pool->transfer_window[t] = -1;
	for (int i = 0; i < b->n; i++)
		sync_series_batch_begin(b->series[i]);
	b->next = pb->in_flight;
	pb->in_flight = b;
	return true;
}

/* Free a batch and what it holds. */
static void
batch_free(Batch *b)
{
	sync_http_response_free(&b->resp);
	pfree(b->series);
	pfree(b->queries);
	pfree(b);
}

/*
 * Gather the caught-up series that may poll together and send their
 * requests.  Only when one of a group is due: the others come along early.
 */
void
sync_pool_batches_send(SyncPool *pool, SyncPoolBatches *pb, SyncSeries **carried, int n)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz horizon = TimestampTzPlusMilliseconds(now, sync_poll_interval_ms / 2);
	SyncBatchKey *keys = palloc(sizeof(SyncBatchKey) * Max(n, 1));
	bool	   *in = palloc0(sizeof(bool) * Max(n, 1));
	int			due_now = 0;

	for (int i = 0; i < n; i++)
	{
		in[i] = sync_series_batchable(carried[i], horizon, &keys[i]);
		if (in[i] && sync_series_wake_at(carried[i]) <= now)
			due_now++;
	}
	for (int i = 0; i < n && due_now > 0; i++)
	{
		Batch	   *b;
		bool		any_due = false;
		int			most;

		if (!in[i])
			continue;
		most = Min(keys[i].provider->multi_max_series, BATCH_LIMIT(keys[i].provider));
		b = MemoryContextAllocZero(pool->cxt, sizeof(Batch));
		b->key = keys[i];
		b->transfer = -1;
		b->series = MemoryContextAlloc(pool->cxt, sizeof(SyncSeries *) * most);
		b->queries = MemoryContextAlloc(pool->cxt, sizeof(SyncBarQuery *) * most);
		for (int j = i; j < n && b->n < most; j++)
		{
			if (!in[j] || !same_key(&keys[i], &keys[j]))
				continue;
			in[j] = false;
			b->series[b->n] = carried[j];
			b->queries[b->n] = sync_series_batch_query(carried[j], &b->to_ms, &b->settle);
			if (sync_series_wake_at(carried[j]) <= now)
			{
				any_due = true;
				due_now--;
			}
			b->n++;
		}
		/* a lone series, or a group none of which is due yet: as usual */
		if (b->n < 2 || !any_due || !send_batch(pool, pb, b))
			batch_free(b);
	}
}

/* A finished transfer: true when it was a batch's (its answer is noted). */
bool
sync_pool_batches_transfer_done(SyncPoolBatches *pb, int transfer)
{
	for (Batch *b = pb->in_flight; b != NULL; b = b->next)
		if (!b->done && b->transfer == transfer)
		{
			b->done = true;
			return true;
		}
	return false;
}

typedef struct BatchStore
{
	Batch	   *b;
	SyncPage   *pages;			/* per series */
	int64	   *checkpoints;
} BatchStore;

static void
store_batch(void *arg)
{
	BatchStore *st = (BatchStore *) arg;

	sync_worker_commit_waits(sync_synchronous_commit);
	for (int i = 0; i < st->b->n; i++)
		st->checkpoints[i] = sync_series_batch_store(st->b->series[i], &st->pages[i],
													 st->b->window_to_ms, st->b->to_ms, st->b->settle);
}

static void
batch_failed(Batch *b, const char *error, double retry_after_s, bool rate_limited)
{
	for (int i = 0; i < b->n; i++)
		sync_series_batch_failed(b->series[i], error, retry_after_s, rate_limited);
}

/* Split the parsed answer into one page per series (by the records' target). */
static SyncPage *
split_page(const SyncPage *all, int n, bool trades, MemoryContext cxt)
{
	SyncPage   *pages = MemoryContextAllocZero(cxt, sizeof(SyncPage) * n);
	int		   *nb = MemoryContextAllocZero(cxt, sizeof(int) * n);
	int		   *nt = MemoryContextAllocZero(cxt, sizeof(int) * n);
	int		   *nr = MemoryContextAllocZero(cxt, sizeof(int) * n);

	for (int i = 0; i < all->nbars; i++)
		if (all->bars[i].target >= 0 && all->bars[i].target < n)
			nb[all->bars[i].target]++;
	for (int i = 0; i < all->ntrades; i++)
		if (all->trades[i].target >= 0 && all->trades[i].target < n)
			nt[all->trades[i].target]++;
	for (int i = 0; i < all->nrejects; i++)
		if (all->rejects[i].target >= 0 && all->rejects[i].target < n)
			nr[all->rejects[i].target]++;
	for (int s = 0; s < n; s++)
	{
		pages[s].bars = MemoryContextAlloc(cxt, sizeof(SyncBar) * Max(nb[s], 1));
		pages[s].bar_capacity = nb[s];
		pages[s].trades = MemoryContextAlloc(cxt, sizeof(SyncTrade) * Max(nt[s], 1));
		pages[s].trade_capacity = nt[s];
		pages[s].rejects = MemoryContextAlloc(cxt, sizeof(SyncReject) * Max(nr[s], 1));
		pages[s].reject_capacity = nr[s];
		pages[s].last_ts_ms = INT64_MIN;
		/* storage tells a trades page from a bars page by which array it has */
		if (trades)
			pages[s].bars = NULL;
		else
			pages[s].trades = NULL;
	}
	for (int i = 0; i < all->nbars; i++)
	{
		int			s = all->bars[i].target;

		if (s < 0 || s >= n)
			continue;
		pages[s].bars[pages[s].nbars] = all->bars[i];
		pages[s].bars[pages[s].nbars++].target = 0;
		pages[s].last_ts_ms = Max(pages[s].last_ts_ms, all->bars[i].ts_ms);
	}
	for (int i = 0; i < all->ntrades; i++)
	{
		int			s = all->trades[i].target;

		if (s < 0 || s >= n)
			continue;
		pages[s].trades[pages[s].ntrades] = all->trades[i];
		pages[s].trades[pages[s].ntrades++].target = 0;
		pages[s].last_ts_ms = Max(pages[s].last_ts_ms, sync_ms_of_us(all->trades[i].ts_us));
	}
	for (int i = 0; i < all->nrejects; i++)
	{
		int			s = all->rejects[i].target;

		if (s < 0 || s >= n)
			continue;
		pages[s].rejects[pages[s].nrejects] = all->rejects[i];
		pages[s].rejects[pages[s].nrejects++].target = 0;
	}
	for (int s = 0; s < n; s++)
		pages[s].nreceived = pages[s].nbars + pages[s].ntrades + pages[s].nrejects;
	return pages;
}

/* Parse and store one batch's answer, or hand its failure to its series. */
static void
finish_batch(SyncPool *pool, Batch *b, MemoryContext cxt)
{
	SyncHttpResponse *resp = &b->resp;
	SyncPage   *page = &pool->page;
	char		err[ERRLEN];
	char		perr[ERRLEN];
	SyncParseStatus st;
	BatchStore	store;
	TimestampTz started;
	int			capacity = BATCH_LIMIT(b->key.provider);

	if (resp->curl_code != CURLE_OK)
	{
		snprintf(err, sizeof(err), "HTTP request failed: %s", resp->error);
		batch_failed(b, err, -1, false);
		return;
	}
	if (resp->status == 429 || resp->status == 418 || resp->status == 503)
	{
		TimestampTz until;

		snprintf(err, sizeof(err), "rate limited: provider answered HTTP %ld", resp->status);
		batch_failed(b, err, resp->retry_after_s, true);
		until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
											resp->retry_after_s >= 0 ? (long) (resp->retry_after_s * 1000) :
											sync_backoff_ms(1));
		sync_rate_hold(pool->dboid, b->key.source_id, until);
		return;
	}
	if (resp->status >= 500 || (resp->status >= 300 && resp->status < 400))
	{
		snprintf(err, sizeof(err), "provider answered HTTP %ld%s", resp->status,
				 resp->status < 400 ? " (a redirect): redirects are not followed" : "");
		batch_failed(b, err, -1, false);
		return;
	}
	if (resp->status != 200)
	{
		/* a 4xx for one symbol would fail them all: each asks alone once and hears its own answer */
		batch_failed(b, NULL, -1, false);
		return;
	}
	/* the worker's page buffers: grown for a whole answer */
	if ((b->key.trades ? page->trade_capacity : page->bar_capacity) < capacity ||
		page->reject_capacity < capacity)
	{
		batch_failed(b, NULL, -1, false);
		return;
	}
	page->nbars = page->ntrades = page->nrejects = page->nreceived = 0;
	page->last_ts_ms = INT64_MIN;
	page->has_more = false;
	st = (b->key.trades ? b->key.provider->parse_multi_trades : b->key.provider->parse_multi_bars)
		(resp->body ? resp->body : "", resp->body_len, &b->mq, page, perr, sizeof(perr));
	if (st != SYNC_PARSE_OK)
	{
		if (st == SYNC_PARSE_MALFORMED)
			sync_series_batch_malformed(b->series[0], perr, resp->body ? resp->body : "");
		batch_failed(b, perr, -1, false);
		return;
	}
	if (page->has_more || page->nreceived >= capacity)
	{
		/* not every series is complete in this answer: each asks alone */
		batch_failed(b, NULL, -1, false);
		return;
	}
	store.b = b;
	store.pages = split_page(page, b->n, b->key.trades, cxt);
	store.checkpoints = MemoryContextAllocZero(cxt, sizeof(int64) * b->n);
	started = GetCurrentTimestamp();
	if (!sync_worker_txn("sync: storing a batch of polls", store_batch, &store, perr, sizeof(perr)))
	{
		snprintf(err, sizeof(err), "could not store a page: %s", perr);
		batch_failed(b, err, -1, false);
		return;
	}
	for (int i = 0; i < b->n; i++)
		sync_series_batch_done(b->series[i], store.checkpoints[i],
							   (double) (GetCurrentTimestamp() - started) / USECS_PER_SEC);
}

/* Finish the batches whose answers came. */
void
sync_pool_batches_finish(SyncPool *pool, SyncPoolBatches *pb, MemoryContext cxt)
{
	Batch	  **link = &pb->in_flight;

	while (*link != NULL)
	{
		Batch	   *b = *link;

		if (!b->done)
		{
			link = &b->next;
			continue;
		}
		*link = b->next;
		finish_batch(pool, b, cxt);
		batch_free(b);
	}
}

/* Drop every batch in flight (the worker stops, or a series in one is put down). */
void
sync_pool_batches_cancel(SyncPool *pool, SyncPoolBatches *pb)
{
	while (pb->in_flight != NULL)
	{
		Batch	   *b = pb->in_flight;

		pb->in_flight = b->next;
		if (!b->done)
			sync_http_cancel(pool->http, b->transfer);
		/* not refused: only this request is gone */
		for (int i = 0; i < b->n; i++)
			sync_series_batch_cancelled(b->series[i]);
		batch_free(b);
	}
}
