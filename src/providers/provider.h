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

#define SYNC_URL_LEN		2048
#define SYNC_HEADER_LEN		512
#define SYNC_MAX_HEADERS	4

typedef struct SyncRequest
{
	char		url[SYNC_URL_LEN];
	char		header_buf[SYNC_MAX_HEADERS][SYNC_HEADER_LEN];
	const char *headers[SYNC_MAX_HEADERS + 1];	/* NULL-terminated */
} SyncRequest;

typedef enum SyncParseStatus
{
	SYNC_PARSE_OK,
	SYNC_PARSE_MALFORMED,		/* not the documented shape at all */
	SYNC_PARSE_PROVIDER_ERROR	/* a well-formed error object */
} SyncParseStatus;

typedef struct SyncProvider
{
	const char *name;
	const char *default_base_url;

	/* false (with errbuf set) when the query cannot be expressed */
	bool		(*bars_request) (const SyncBarQuery *q, SyncRequest *req,
								 char *errbuf, size_t errlen);
	SyncParseStatus (*parse_bars) (const char *body, size_t len,
								   const SyncBarQuery *q, SyncBarPage *page,
								   char *errbuf, size_t errlen);
} SyncProvider;

extern const SyncProvider sync_provider_binance;

extern const SyncProvider *sync_provider_lookup(const char *name);

/* helpers shared by providers (provider.c) */
extern void sync_page_reject(SyncBarPage *page, const char *reason, const char *payload);
extern bool sync_copy_decimal(char *dst, const char *src);
extern void sync_request_add_header(SyncRequest *req, const char *fmt, const char *value);

#endif							/* SYNC_PROVIDER_H */
