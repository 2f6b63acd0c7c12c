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
	bool		missing_is_empty;	/* 404 / no such file: no data there */
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
	 * Realtime stream; NULL where the provider has no stream client.
	 * stream_url builds the URL of one symbol's trades (or closed bars)
	 * from the stream root; parse_stream adds what one message holds to the
	 * page (nothing for messages that carry no data, such as an open bar).
	 */
	const char *default_stream_url;
	bool		(*stream_url) (const SyncBarQuery *q, bool trades, const char *root,
							   char *url, size_t urllen, char *errbuf, size_t errlen);
	SyncParseStatus (*parse_stream) (const char *msg, size_t len, const SyncBarQuery *q,
									 bool trades, SyncPage *page, char *errbuf, size_t errlen);
	/* messages to send once connected (auth, subscribe); NULL: none */
	int			(*stream_hello) (const SyncBarQuery *q, bool trades,
								 char (*msgs)[SYNC_URL_LEN], int max);
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
extern void sync_request_add_header(SyncRequest *req, const char *fmt, const char *value);
extern void sync_page_accept(SyncPage *page, const SyncBarQuery *q, int64_t *prev_ts,
							 const char *payload);
extern void sync_page_accept_trade(SyncPage *page, const SyncBarQuery *q, const char *payload);
extern void sync_bar_to_json(const SyncBar *b, char *buf, size_t len);
extern void sync_page_sort_tail(SyncPage *page, int n);


#endif							/* SYNC_PROVIDER_H */
