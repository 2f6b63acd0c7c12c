/*-------------------------------------------------------------------------
 * fuzz_common.h
 *	  What every fuzz target shares: reading choices from the first bytes
 *	  of an input, and the one place that knows the names of the query's
 *	  and the page's time fields (so a change of unit or name, ms to us,
 *	  is a change here and not in every target).
 *
 * An input is FUZZ_HEADER_LEN bytes of choices followed by the body.  The
 * choices cover the query parameters a parser sees (interval, window,
 * page size, id cursor, feed, credentials) and the series of a stream
 * set, so the fuzzer explores them as it explores the body.  Header-only:
 * each target is one .c file and the build rule stays generic.
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_FUZZ_COMMON_H
#define SYNC_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "providers/provider.h"

/* choice bytes before the body; a shorter input reads zeros */
#define FUZZ_HEADER_LEN 10

/*
 * Time in the unit of the query and page fields: ms today.  The only
 * lines that name those fields are in fuzz_set_window(),
 * fuzz_set_interval() and fuzz_page_init().
 */
#define FUZZ_PER_MS 1

typedef struct FuzzInput
{
	uint8_t		h[FUZZ_HEADER_LEN];
	char	   *body;			/* malloc'd copy, NUL-terminated like the callers' */
	size_t		len;
} FuzzInput;

static inline void
fuzz_input(FuzzInput *in, const uint8_t *data, size_t size)
{
	size_t		n = size < FUZZ_HEADER_LEN ? size : FUZZ_HEADER_LEN;

	memset(in->h, 0, sizeof(in->h));
	memcpy(in->h, data, n);
	in->len = size - n;
	in->body = malloc(in->len + 1);
	if (in->body == NULL)
		abort();
	if (in->len > 0)
		memcpy(in->body, data + n, in->len);
	in->body[in->len] = '\0';
}

static inline void
fuzz_input_free(FuzzInput *in)
{
	free(in->body);
}

/* Intervals a source may ask for, odd ones included (ms). */
static const int64_t fuzz_intervals[] = {
	60000, 1, 300000, 900000, 3600000, 86400000, 7 * 60000, 1000,
	180000, 1800000, 7200000, 14400000, 21600000, 43200000, 604800000, 0,
};

/* Where a window starts (ms), and how long it is. */
static const int64_t fuzz_from[] = {
	INT64_MIN, 0, 1381104000000LL /* 2013-10-07 */ , 1570752000000LL /* 2019-10-11 */ ,
	1637971200000LL /* 2021-11-27 */ , 1704153600000LL /* 2024-01-02 */ ,
	-86400000LL, 253402300799000LL /* 9999-12-31 */ ,
};
static const int64_t fuzz_span[] = {
	INT64_MAX, 60000, 3600000, 86400000, 7 * 86400000LL, 1, 300 * 60000LL, 0,
};

static const int64_t fuzz_ids[] = {0, 0, 1, 500, 28457, INT64_MAX - 1, -1, 1000000};
static const char *const fuzz_feeds[] = {NULL, "trade", "sip", "iex", "", "otc", NULL, "delayed_sip"};
static const char *const fuzz_secrets[] = {NULL, "K", "se\"c\\ret", ""};

/* The window [from, to) in the fields' unit, without overflow. */
static inline void
fuzz_set_window(SyncBarQuery *q, int64_t from_ms, int64_t span_ms, int64_t interval_ms)
{
	int64_t		from = from_ms;
	int64_t		span = span_ms;

	if (from != INT64_MIN && from > INT64_MIN / FUZZ_PER_MS && from < INT64_MAX / FUZZ_PER_MS)
		from *= FUZZ_PER_MS;
	if (span < INT64_MAX / FUZZ_PER_MS)
		span *= FUZZ_PER_MS;
	q->interval_ms = interval_ms * FUZZ_PER_MS;
	q->from_ms = from;
	q->to_ms = (span == INT64_MAX || from > INT64_MAX - span) ? INT64_MAX : from + span;
}

static inline void
fuzz_set_interval(SyncBarQuery *q, int64_t interval_ms)
{
	q->interval_ms = interval_ms * FUZZ_PER_MS;
}

/*
 * A query from the header: h[1] interval, h[2] page size, h[3] window,
 * h[4] id cursor and feed, h[7] credentials (shared with the stream
 * choices).  The page size is also the capacity of the page's arrays.
 */
static inline void
fuzz_query(SyncBarQuery *q, const FuzzInput *in, const char *symbol)
{
	memset(q, 0, sizeof(*q));
	q->base_url = (in->h[4] & 0x80) ? "file:///data/files" : "http://h";
	q->symbol = symbol;
	q->key_id = fuzz_secrets[in->h[7] & 3];
	q->secret = fuzz_secrets[(in->h[7] >> 2) & 3];
	q->feed = fuzz_feeds[(in->h[4] >> 3) & 7];
	q->from_id = fuzz_ids[in->h[4] & 7];
	q->limit = (in->h[2] & 0x80) ? 256 : 1 + (in->h[2] & 31);
	fuzz_set_window(q, fuzz_from[in->h[3] & 7], fuzz_span[(in->h[3] >> 3) & 7],
					fuzz_intervals[in->h[1] & 15]);
}

/*
 * Whether q is a window a worker could ask a provider for: in years 1970
 * to 9999, not empty, a positive interval.  Request builders only ever
 * see such queries (parsers see any: a stream's series spans all time).
 */
static inline bool
fuzz_requestable(const SyncBarQuery *q)
{
	return q->from_ms >= 0 && q->to_ms > q->from_ms &&
		q->to_ms <= 253402300800000LL * FUZZ_PER_MS && q->interval_ms > 0;
}

/* A page with arrays of exactly cap records each, so ASan sees overruns. */
static inline void
fuzz_page_init(SyncPage *page, int cap)
{
	memset(page, 0, sizeof(*page));
	page->bars = malloc(sizeof(SyncBar) * cap);
	page->trades = malloc(sizeof(SyncTrade) * cap);
	page->rejects = malloc(sizeof(SyncReject) * cap);
	if (page->bars == NULL || page->trades == NULL || page->rejects == NULL)
		abort();
	page->bar_capacity = page->trade_capacity = page->reject_capacity = cap;
	page->last_ts_ms = INT64_MIN;
}

static inline void
fuzz_page_free(SyncPage *page)
{
	free(page->bars);
	free(page->trades);
	free(page->rejects);
}

/* What a parser reported must be a terminated string within its buffer. */
static inline void
fuzz_check_errbuf(const char *errbuf, size_t len)
{
	if (memchr(errbuf, '\0', len) == NULL)
		abort();
}

/* A page's counts stay within its arrays. */
static inline void
fuzz_check_page(const SyncPage *page)
{
	if (page->nbars < 0 || page->nbars > page->bar_capacity ||
		page->ntrades < 0 || page->ntrades > page->trade_capacity ||
		page->nrejects < 0 || page->nrejects > page->reject_capacity)
		abort();
}

#endif							/* SYNC_FUZZ_COMMON_H */
