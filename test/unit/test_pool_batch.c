// unit-sources: bgworkers/pool_batch.c
// unit-libs: postgres-server libcurl
/*-------------------------------------------------------------------------
 * test_pool_batch.c
 *	  Unit test of bgworkers/pool_batch.c: which series go into one
 *	  multi-symbol request, and what each series hears of its answer (its
 *	  own records, or which failure).  The series, the provider, the HTTP
 *	  client, the rate limit and the transaction are stand-ins that record
 *	  what pool_batch.c asks of them.  TAP output, no PostgreSQL running.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>

#include "catalog.h"
#include "../../bgworkers/pool_batch.h"
#include "../../bgworkers/worker_common.h"
#include "ratelimit.h"

/* The stand-ins -------------------------------------------------------- */

/* what a series is to pool_batch.c, and what it was told */
struct SyncSeries
{
	bool		batchable;
	TimestampTz wake;
	int32		source_id;
	const SyncProvider *provider;
	SyncJob		job;
	SyncBarQuery query;
	/* what it heard */
	int			began;
	int			refused;
	int			cancelled;
	int			failed;
	bool		failed_alone;	/* error NULL: poll alone */
	char		error[512];
	double		retry_after_s;
	bool		rate_limited;
	char		malformed[512];
	int			nbars;
	int			nrejects;
	bool		targets_zero;
	int64		checkpoint;
	int			done;
};

int			sync_poll_interval_ms = 60000;
int			sync_http_timeout_ms = 30000;
bool		sync_synchronous_commit = false;

static TimestampTz clock_now = 700000000000000;
static TimestampTz paced_until = 0;
static bool client_full = false;
static bool txn_fails = false;
static int	next_transfer = 0;
static SyncHttpResponse *submitted[16];
static char submitted_url[16][256];
static long submitted_timeout[16];
static int	cancelled_transfer = -1;
static int	reserved = 0;
static TimestampTz held_until = 0;
static int	txns = 0;

TimestampTz
GetCurrentTimestamp(void)
{
	return clock_now;
}

void *
MemoryContextAllocZero(MemoryContext cxt, Size size)
{
	return calloc(1, size);
}

void *
MemoryContextAlloc(MemoryContext cxt, Size size)
{
	return malloc(size);
}

void *
palloc(Size size)
{
	return malloc(size);
}

void *
palloc0(Size size)
{
	return calloc(1, size);
}

void
pfree(void *p)
{
	free(p);
}

bool
sync_series_batchable(const SyncSeries *s, TimestampTz horizon, SyncBatchKey *key)
{
	if (!s->batchable || s->wake > horizon)
		return false;
	key->provider = s->provider;
	key->source_id = s->source_id;
	key->trades = false;
	key->interval_ms = 60000;
	key->base_url = "http://multi";
	return true;
}

TimestampTz
sync_series_wake_at(const SyncSeries *s)
{
	return s->wake;
}

const SyncBarQuery *
sync_series_batch_query(SyncSeries *s, int64 *to_ms, int64 *settle)
{
	*to_ms = 1000000;
	*settle = 60000;
	return &s->query;
}

const SyncJob *
sync_series_job(const SyncSeries *s)
{
	return &s->job;
}

void
sync_series_batch_begin(SyncSeries *s)
{
	s->began++;
}

void
sync_series_batch_refuse(SyncSeries *s)
{
	s->refused++;
}

void
sync_series_batch_cancelled(SyncSeries *s)
{
	s->cancelled++;
}

void
sync_series_batch_failed(SyncSeries *s, const char *error, double retry_after_s, bool rate_limited)
{
	s->failed++;
	s->failed_alone = error == NULL;
	snprintf(s->error, sizeof(s->error), "%s", error ? error : "");
	s->retry_after_s = retry_after_s;
	s->rate_limited = rate_limited;
}

void
sync_series_batch_malformed(SyncSeries *s, const char *error, const char *body)
{
	snprintf(s->malformed, sizeof(s->malformed), "%s: %s", error, body);
}

int64
sync_series_batch_store(SyncSeries *s, const SyncPage *page, int64 window_to_ms, int64 to_ms,
						int64 settle)
{
	s->nbars = page->nbars;
	s->nrejects = page->nrejects;
	s->targets_zero = true;
	for (int i = 0; i < page->nbars; i++)
		s->targets_zero &= page->bars[i].target == 0;
	for (int i = 0; i < page->nrejects; i++)
		s->targets_zero &= page->rejects[i].target == 0;
	return page->last_ts_ms;
}

void
sync_series_batch_done(SyncSeries *s, int64 checkpoint, double commit_seconds)
{
	s->done++;
	s->checkpoint = checkpoint;
}

void
sync_pool_page_reserve(SyncPool *pool, bool trades, int capacity)
{
	reserved = capacity;
}

TimestampTz
sync_rate_acquire(Oid dboid, int32 source_id, int requests_per_minute, TimestampTz now)
{
	return paced_until;
}

void
sync_rate_hold(Oid dboid, int32 source_id, TimestampTz until)
{
	held_until = until;
}

long
sync_backoff_ms(int failures)
{
	return 1234;
}

int
sync_http_submit(SyncHttpClient *c, const char *url, const char *const *headers,
				 const SyncHttpOptions *opts, SyncHttpResponse *resp)
{
	if (client_full)
		return -1;
	submitted[next_transfer] = resp;
	snprintf(submitted_url[next_transfer], sizeof(submitted_url[0]), "%s", url);
	submitted_timeout[next_transfer] = opts->timeout_ms;
	memset(resp, 0, sizeof(*resp));
	resp->retry_after_s = -1;
	return next_transfer++;
}

void
sync_http_cancel(SyncHttpClient *c, int slot)
{
	cancelled_transfer = slot;
}

void
sync_http_response_free(SyncHttpResponse *resp)
{
	free(resp->body);
	resp->body = NULL;
}

/* the batch's transaction commits without waiting for its WAL flush */
static int	commits_not_waiting = 0;

void
sync_worker_commit_waits(bool wait)
{
	if (!wait)
		commits_not_waiting++;
}

bool
sync_worker_txn(const char *activity, void (*fn) (void *), void *arg, char *errbuf, size_t errlen)
{
	txns++;
	if (txn_fails)
	{
		snprintf(errbuf, errlen, "canceling statement due to lock timeout");
		return false;
	}
	fn(arg);
	return true;
}

/*
 * The provider: the request names the symbols; a symbol "BAD" cannot be
 * listed.  The answer's text says what it parses to: "MALFORMED",
 * "ERROR", "MORE" (more pages behind it), "FULL" (as many records as the
 * request allows), else records "b<series>@<minute>" and "r<series>".
 */
static bool
multi_request(const SyncMultiQuery *mq, SyncRequest *req, char *errbuf, size_t errlen)
{
	req->url[0] = '\0';
	for (int i = 0; i < mq->nseries; i++)
	{
		if (strcmp(mq->series[i]->symbol, "BAD") == 0)
			return false;
		strlcat(req->url, mq->series[i]->symbol, sizeof(req->url));
		strlcat(req->url, ",", sizeof(req->url));
	}
	req->window_to_ms = 0;
	return true;
}

static SyncParseStatus
parse_multi(const char *body, size_t len, const SyncMultiQuery *mq, SyncPage *page,
			char *errbuf, size_t errlen)
{
	const char *p = body;

	if (strcmp(body, "MALFORMED") == 0)
	{
		snprintf(errbuf, errlen, "not an object");
		return SYNC_PARSE_MALFORMED;
	}
	if (strcmp(body, "ERROR") == 0)
	{
		snprintf(errbuf, errlen, "provider error: forbidden");
		return SYNC_PARSE_PROVIDER_ERROR;
	}
	if (strcmp(body, "MORE") == 0)
	{
		page->has_more = true;
		return SYNC_PARSE_OK;
	}
	if (strcmp(body, "FULL") == 0)
	{
		page->nreceived = mq->limit;
		return SYNC_PARSE_OK;
	}
	while (*p)
	{
		int			target,
					minute,
					used;

		if (sscanf(p, "b%d@%d%n", &target, &minute, &used) == 2)
		{
			SyncBar    *b = &page->bars[page->nbars++];

			memset(b, 0, sizeof(*b));
			b->target = target;
			b->ts_ms = (int64) minute * 60000;
		}
		else if (sscanf(p, "r%d%n", &target, &used) == 1)
		{
			SyncReject *r = &page->rejects[page->nrejects++];

			memset(r, 0, sizeof(*r));
			r->target = target;
		}
		else
			break;
		page->nreceived++;
		p += used;
		while (*p == ' ')
			p++;
	}
	return SYNC_PARSE_OK;
}

static const SyncProvider multi = {
	.name = "multi",
	.max_page = 100,
	.multi_max_series = 3,
	.multi_bars_request = multi_request,
	.parse_multi_bars = parse_multi,
};

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

#define NSERIES 6
static SyncSeries series[NSERIES];
static SyncSeries *carried[NSERIES];
static SyncPool pool;

/* n due series of source 1 (symbols S0, S1...), each batchable */
static void
fresh(int n)
{
	static char symbols[NSERIES][8];

	memset(series, 0, sizeof(series));
	for (int i = 0; i < NSERIES; i++)
	{
		snprintf(symbols[i], sizeof(symbols[i]), "S%d", i);
		series[i].batchable = i < n;
		series[i].wake = clock_now;
		series[i].source_id = 1;
		series[i].provider = &multi;
		series[i].query.symbol = symbols[i];
		series[i].query.from_ms = 600000 + i * 60000;
		carried[i] = &series[i];
	}
	paced_until = 0;
	client_full = false;
	txn_fails = false;
	reserved = 0;
	held_until = 0;
	cancelled_transfer = -1;
}

/* one batch of the first three series, answered with status and body */
static void
answer(SyncPoolBatches *pb, long status, int curl_code, const char *body)
{
	int			t;

	fresh(3);
	t = next_transfer;
	sync_pool_batches_send(&pool, pb, carried, NSERIES);
	if (next_transfer != t + 1)
	{
		printf("Bail out! the batch was not sent\n");
		exit(1);
	}
	submitted[t]->status = status;
	submitted[t]->curl_code = curl_code;
	snprintf(submitted[t]->error, sizeof(submitted[t]->error), "Connection refused");
	submitted[t]->body = body ? strdup(body) : NULL;
	submitted[t]->body_len = body ? strlen(body) : 0;
	ok(sync_pool_batches_transfer_done(pb, t), "(the batch's transfer is known)");
	sync_pool_batches_finish(&pool, pb, NULL);
}

static bool
all_failed(const char *error, bool alone)
{
	for (int i = 0; i < 3; i++)
		if (series[i].failed != 1 || series[i].failed_alone != alone || series[i].done != 0 ||
			strcmp(series[i].error, error) != 0)
			return false;
	return true;
}

int
main(void)
{
	SyncPoolBatches *pb = sync_pool_batches_create(NULL);
	int			t;

	pool.dboid = 5;
	pool.transfer_owner = calloc(16, sizeof(SyncSeries *));
	pool.transfer_window = calloc(16, sizeof(int));
	pool.page.bars = calloc(200, sizeof(SyncBar));
	pool.page.bar_capacity = 200;
	pool.page.rejects = calloc(200, sizeof(SyncReject));
	pool.page.reject_capacity = 200;

	/* grouping: at most multi_max_series (3) a request; another source's lone series as usual */
	fresh(5);
	series[3].source_id = 2;
	pool.transfer_owner[0] = &series[5];
	pool.transfer_window[0] = 3;
	series[1].job.timeout_ms = 0;
	series[0].job.timeout_ms = 4321;
	sync_pool_batches_send(&pool, pb, carried, NSERIES);
	ok(next_transfer == 1, "one request for the source's series");
	ok(strcmp(submitted_url[0], "S0,S1,S2,") == 0, "it names the first three series");
	ok(submitted_timeout[0] == 4321, "with the timeout of the first series' job");
	ok(series[0].began == 1 && series[1].began == 1 && series[2].began == 1,
	   "each series of the request is told");
	ok(series[3].began == 0 && series[4].began == 0 && series[5].began == 0,
	   "a series of another source, or a fourth one, is not in it");
	ok(reserved == 100, "the worker's pages are grown to the request's records");
	ok(pool.transfer_owner[0] == NULL && pool.transfer_window[0] == -1,
	   "the transfer belongs to no single series");
	ok(!sync_pool_batches_transfer_done(pb, 7), "another transfer is not the batch's");

	/* dropped before its answer: the transfer is cancelled, the series poll again */
	sync_pool_batches_cancel(&pool, pb);
	ok(cancelled_transfer == 0 && series[0].cancelled == 1 && series[2].cancelled == 1 &&
	   series[0].refused == 0, "a cancelled batch cancels its transfer and tells its series");

	/* the answer: each series stores its own records, then is caught up */
	answer(pb, 200, CURLE_OK, "b0@10 b1@11 b1@12 r1 b2@13 b7@14 r9");
	ok(series[0].nbars == 1 && series[1].nbars == 2 && series[2].nbars == 1,
	   "each series stores its own bars");
	ok(series[1].nrejects == 1 && series[0].nrejects == 0, "and its own rejects");
	ok(series[0].targets_zero && series[1].targets_zero && series[2].targets_zero,
	   "stored as a page of the series alone (target 0)");
	ok(series[0].checkpoint == 10 * 60000 && series[1].checkpoint == 12 * 60000 &&
	   series[2].checkpoint == 13 * 60000, "each series' checkpoint follows its newest record");
	ok(series[0].done == 1 && series[1].done == 1 && series[2].done == 1 && series[0].failed == 0,
	   "every series of the batch is done");
	ok(!sync_pool_batches_transfer_done(pb, next_transfer - 1), "a finished batch is gone");

	/* failures of the request: each series' transient failure */
	answer(pb, 0, CURLE_COULDNT_CONNECT, NULL);
	ok(all_failed("HTTP request failed: Connection refused", false), "a transport failure");
	answer(pb, 500, CURLE_OK, "oops");
	ok(all_failed("provider answered HTTP 500", false), "a 5xx");
	answer(pb, 302, CURLE_OK, NULL);
	ok(all_failed("provider answered HTTP 302 (a redirect): redirects are not followed", false),
	   "a redirect, which is not followed");
	t = next_transfer;
	answer(pb, 429, CURLE_OK, NULL);
	(void) t;
	ok(all_failed("rate limited: provider answered HTTP 429", false) && series[0].rate_limited &&
	   held_until == clock_now + 1234 * 1000, "a 429 without Retry-After holds the source for a backoff");
	fresh(3);
	t = next_transfer;
	sync_pool_batches_send(&pool, pb, carried, NSERIES);
	submitted[t]->status = 503;
	submitted[t]->retry_after_s = 7;
	sync_pool_batches_transfer_done(pb, t);
	sync_pool_batches_finish(&pool, pb, NULL);
	ok(all_failed("rate limited: provider answered HTTP 503", false) && series[2].retry_after_s == 7 &&
	   held_until == clock_now + 7 * USECS_PER_SEC, "a 503 with Retry-After holds the source that long");

	/* answers that concern a series alone, or do not complete every series: each polls alone */
	answer(pb, 404, CURLE_OK, "not found");
	ok(all_failed("", true), "a 4xx: each series asks alone");
	answer(pb, 200, CURLE_OK, "MORE");
	ok(all_failed("", true), "an answer with more pages: each asks alone");
	answer(pb, 200, CURLE_OK, "FULL");
	ok(all_failed("", true), "an answer as long as the limit may be cut short: each asks alone");

	/* a malformed answer is kept once, under the first series */
	answer(pb, 200, CURLE_OK, "MALFORMED");
	ok(all_failed("not an object", false) && strcmp(series[0].malformed, "not an object: MALFORMED") == 0 &&
	   series[1].malformed[0] == '\0', "a malformed answer: kept once, a failure for each");
	answer(pb, 200, CURLE_OK, "ERROR");
	ok(all_failed("provider error: forbidden", false) && series[0].malformed[0] == '\0',
	   "a provider's error: a failure for each, nothing kept");

	/* the database cannot store it */
	txns = 0;
	fresh(3);
	txn_fails = true;
	t = next_transfer;
	sync_pool_batches_send(&pool, pb, carried, NSERIES);
	submitted[t]->status = 200;
	submitted[t]->body = strdup("b0@1 b1@2 b2@3");
	sync_pool_batches_transfer_done(pb, t);
	sync_pool_batches_finish(&pool, pb, NULL);
	ok(txns == 1 && all_failed("could not store a page: canceling statement due to lock timeout", false),
	   "a batch that cannot be stored is each series' failure, with the reason");

	/* pages too small for the answer (the worker could not grow them): each polls alone */
	pool.page.reject_capacity = 50;
	answer(pb, 200, CURLE_OK, "b0@1");
	ok(all_failed("", true), "page buffers smaller than an answer: each asks alone");
	pool.page.reject_capacity = 200;

	/* requests that cannot go */
	fresh(3);
	series[1].query.symbol = "BAD";
	t = next_transfer;
	sync_pool_batches_send(&pool, pb, carried, NSERIES);
	ok(next_transfer == t && series[0].refused == 1 && series[1].refused == 1 && series[2].refused == 1 &&
	   series[0].began == 0, "a request the provider cannot express: each series polls alone");
	fresh(3);
	paced_until = clock_now + 1000;
	sync_pool_batches_send(&pool, pb, carried, NSERIES);
	ok(next_transfer == t && series[0].refused == 0 && series[0].began == 0,
	   "paced: not sent, the series untouched (asked for in a later round)");
	fresh(3);
	client_full = true;
	sync_pool_batches_send(&pool, pb, carried, NSERIES);
	ok(next_transfer == t && series[0].began == 0, "a full client: not sent");
	fresh(3);
	for (int i = 0; i < 3; i++)
		series[i].wake = clock_now + 1000;
	sync_pool_batches_send(&pool, pb, carried, NSERIES);
	ok(next_transfer == t && series[0].began == 0, "a group none of which is due yet waits");
	fresh(3);
	series[1].wake = series[2].wake = clock_now + 1000;
	sync_pool_batches_send(&pool, pb, carried, NSERIES);
	ok(next_transfer == t + 1 && series[1].began == 1 && series[2].began == 1,
	   "one due series brings the others of its group along");
	ok(submitted_timeout[t] == sync_http_timeout_ms, "a job without a timeout of its own: sync.http_timeout_ms");
	sync_pool_batches_transfer_done(pb, t);
	sync_pool_batches_cancel(&pool, pb);
	ok(cancelled_transfer == -1 && series[0].cancelled == 1,
	   "a batch whose answer came is not cancelled in the client, its series are told");
	fresh(1);
	sync_pool_batches_send(&pool, pb, carried, NSERIES);
	ok(next_transfer == t + 1 && series[0].began == 0, "a lone series polls as usual");
	ok(commits_not_waiting > 0 && commits_not_waiting <= txns,
	   "a batch's transaction commits without waiting for its WAL flush (sync.synchronous_commit off)");

	printf("1..%d\n", ntests);
	return nfailed != 0;
}
