/*-------------------------------------------------------------------------
 * provider.h
 *	  The seam between providers and the rest of sync.
 *
 * A provider turns a query into a request (URL and headers) and a
 * response body into SyncBar records.  It never calls ereport, palloc or
 * SPI: it fills caller-owned buffers and returns a code, so a fifth
 * provider is one more file and a fuzzer can drive a parser alone.
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_PROVIDER_H
#define SYNC_PROVIDER_H

#include <stddef.h>

#include "record.h"
#include "timefmt.h"

#define SYNC_URL_LEN		2048
#define SYNC_HEADER_LEN		512
#define SYNC_MAX_HEADERS	4

typedef struct SyncRequest
{
	char		url[SYNC_URL_LEN];
	int64_t		window_to_ms;	/* end of what this request covers (<= q->to_ms) */
	bool		missing_not_yet;	/* 404 / no such file: not published yet */
	char		header_buf[SYNC_MAX_HEADERS][SYNC_HEADER_LEN];
	const char *headers[SYNC_MAX_HEADERS + 1];	/* NULL-terminated */
} SyncRequest;

typedef enum SyncParseStatus
{
	SYNC_PARSE_OK,
	SYNC_PARSE_MALFORMED,		/* not the documented shape at all */
	SYNC_PARSE_PROVIDER_ERROR,	/* a well-formed error object */
	SYNC_PARSE_SUBSCRIBED		/* a stream confirmed the subscription */
} SyncParseStatus;

/* One series a stream connection carries. */
typedef struct SyncStreamTarget
{
	const SyncBarQuery *q;		/* symbol, interval, keys */
	bool		trades;			/* trades, or closed bars of q->interval_ms */
	bool		subscribed;		/* the provider confirmed it */
} SyncStreamTarget;

/*
 * The series of one connection and the page their records go to, each
 * record stamped with its series (SyncTrade.target...), so memory does
 * not grow with the number of series.
 */
typedef struct SyncStreamSet
{
	SyncStreamTarget *targets;
	int			ntargets;
	SyncPage   *page;
} SyncStreamSet;

/*
 * Many series of one source asked for in one request (caught-up polls of
 * providers with a multi-symbol endpoint).  Every series has the same
 * interval and the source's keys; each keeps its own [from_ms, to_ms) in its
 * own query, which is what its records are accepted against.
 */
typedef struct SyncMultiQuery
{
	const SyncBarQuery *const *series;	/* nseries queries: symbol, interval, keys, own range */
	int			nseries;
	int64_t		from_ms;		/* earliest from_ms of the series: the request's start */
	int64_t		to_ms;			/* the request's end (exclusive) */
	int			limit;			/* records one answer may hold in total */
} SyncMultiQuery;

typedef struct SyncProvider
{
	const char *name;
	const char *default_base_url;
	int			max_page;		/* most records one request may return */
	bool		whole_days;		/* one request per UTC day (daily files) */
	bool		trades_by_id;	/* trade ids are consecutive integers in time order */

	/* false (with errbuf set) when the query cannot be expressed */
	bool		(*bars_request) (const SyncBarQuery *q, SyncRequest *req,
								 char *errbuf, size_t errlen);
	SyncParseStatus (*parse_bars) (const char *body, size_t len,
								   const SyncBarQuery *q, SyncPage *page,
								   char *errbuf, size_t errlen);

	/* trades; NULL where the provider has no historical trades client */
	bool		(*trades_request) (const SyncBarQuery *q, SyncRequest *req,
								   char *errbuf, size_t errlen);
	SyncParseStatus (*parse_trades) (const char *body, size_t len,
									 const SyncBarQuery *q, SyncPage *page,
									 char *errbuf, size_t errlen);

	/*
	 * Realtime stream; NULL where the provider has no stream client.  One
	 * connection carries every series of a SyncStreamSet (several symbols,
	 * trades and bars, where the provider allows).  stream_url builds the
	 * URL from the stream root; stream_hello the n-th message to send once
	 * connected (auth, subscribe; false when there is no n-th);
	 * parse_stream adds what one message holds to its series' pages
	 * (nothing for messages that carry no data, such as an open bar) and
	 * marks the series the provider confirmed.  Without stream_hello the
	 * series are subscribed by the URL alone.
	 */
	const char *default_stream_url;
	bool		stream_bars;	/* closed bars come on the stream, not only trades */
	bool		(*stream_url) (const SyncStreamSet *set, const char *root,
							   char *url, size_t urllen, char *errbuf, size_t errlen);
	bool		(*stream_hello) (const SyncStreamSet *set, int n, char *msg, size_t len);
	SyncParseStatus (*parse_stream) (const char *msg, size_t len, SyncStreamSet *set,
									 char *errbuf, size_t errlen);

	/*
	 * Multi-symbol endpoint; 0 / NULL where the provider has none (Binance:
	 * its klines and trades take one symbol; Coinbase: one product per
	 * request; CSV: one file per symbol and day).  Alpaca names the symbols
	 * in the URL (bars and trades); Polygon's grouped daily bars answer
	 * every ticker of one day (bars of 1 day only, no trades).
	 *
	 * The parsers stamp every bar, trade and reject with target = the index
	 * of its series in mq->series, accept each record against its own
	 * series' query, keep the records of one series in time order and count
	 * nreceived over the records of the set's symbols only: a symbol in the
	 * answer that is not in the set is ignored.  A record that names no
	 * symbol is refused under series 0, as a stream's are.  A record inside
	 * the request's window but outside its own series' range (a series that
	 * starts later or ends sooner than the set) is counted as received and
	 * skipped, neither kept nor refused: it was asked for by another series.
	 * A record outside the request's window is refused as today.  has_more
	 * is set when the provider says more pages follow (then the series after
	 * the cut may have nothing in this one).  Polygon's grouped request
	 * covers the UTC day of mq->from_ms (window_to_ms: that day's end, or
	 * mq->to_ms if sooner).
	 */
	int			multi_max_series;	/* most series one request may name (URL length bound) */
	bool		(*multi_bars_request) (const SyncMultiQuery *mq, SyncRequest *req,
									   char *errbuf, size_t errlen);	/* false: not expressible (e.g. the interval) */
	SyncParseStatus (*parse_multi_bars) (const char *body, size_t len, const SyncMultiQuery *mq,
										 SyncPage *page, char *errbuf, size_t errlen);
	bool		(*multi_trades_request) (const SyncMultiQuery *mq, SyncRequest *req,
										 char *errbuf, size_t errlen);
	SyncParseStatus (*parse_multi_trades) (const char *body, size_t len, const SyncMultiQuery *mq,
										   SyncPage *page, char *errbuf, size_t errlen);
} SyncProvider;

extern const SyncProvider sync_provider_binance;
extern const SyncProvider sync_provider_alpaca;
extern const SyncProvider sync_provider_polygon;
extern const SyncProvider sync_provider_coinbase;
extern const SyncProvider sync_provider_csv;

extern const SyncProvider *sync_provider_lookup(const char *name);
extern const char *sync_binance_interval(int64_t ms);

/* helpers shared by providers (provider.c) */
extern void sync_page_reject(SyncPage *page, const char *reason, const char *payload);
extern bool sync_copy_decimal(char *dst, const char *src);
extern bool sync_request_add_header(SyncRequest *req, const char *fmt, const char *value);
extern void sync_page_accept(SyncPage *page, const SyncBarQuery *q, int64_t *prev_ts,
							 const char *payload);
extern void sync_page_accept_trade(SyncPage *page, const SyncBarQuery *q, const char *payload);
extern bool sync_bar_to_json(const SyncBar *b, char *buf, size_t len);
extern void sync_page_sort_tail(SyncPage *page, int n);
extern SyncStreamTarget *sync_stream_target(SyncStreamSet *set, const char *symbol, bool trades,
											int64_t interval_ms);
extern void sync_stream_confirm(SyncStreamSet *set, const char *symbol, bool trades);
extern bool sync_stream_all_confirmed(const SyncStreamSet *set);
extern bool sync_stream_url_as_given(const SyncStreamSet *set, const char *root, char *url,
									 size_t urllen, char *errbuf, size_t errlen, const char *who);


#endif							/* SYNC_PROVIDER_H */
