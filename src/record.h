/*-------------------------------------------------------------------------
 * record.h
 *	  Plain C records that providers produce and storage consumes.
 *
 * Fixed-size fields keep parsing free of allocations (so a parser never
 * needs palloc, and never raises an ERROR) and keep prices and volumes as
 * the exact decimal text the provider sent.
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_RECORD_H
#define SYNC_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#define SYNC_NUM_LEN		48	/* longest decimal text accepted */
#define SYNC_REASON_LEN		160
#define SYNC_PAYLOAD_LEN	1024	/* raw payload kept with a reject */

typedef struct SyncBar
{
	int64_t		ts_ms;			/* open time, ms since the Unix epoch */
	char		open[SYNC_NUM_LEN];
	char		high[SYNC_NUM_LEN];
	char		low[SYNC_NUM_LEN];
	char		close[SYNC_NUM_LEN];
	char		volume[SYNC_NUM_LEN];
	char		vwap[SYNC_NUM_LEN]; /* "" when the provider gives none */
	int64_t		trades;			/* < 0 when the provider gives none */
	int32_t		target;			/* its series in a stream set, else 0 */
} SyncBar;

typedef struct SyncTrade
{
	int64_t		ts_us;			/* trade time, us since the Unix epoch */
	char		trade_id[SYNC_NUM_LEN];
	char		price[SYNC_NUM_LEN];
	char		size[SYNC_NUM_LEN];
	char		side;			/* 'b' buy, 's' sell, 0 unknown (taker's side) */
	int32_t		target;			/* its series in a stream set, else 0 */
} SyncTrade;

/* A record refused before storage, with why and what it was. */
typedef struct SyncReject
{
	int64_t		ts_ms;			/* the record's time, INT64_MIN if unknown */
	char		reason[SYNC_REASON_LEN];
	char		payload[SYNC_PAYLOAD_LEN];
	int32_t		target;			/* its series in a stream set, else 0 */
} SyncReject;

/* What to ask a provider for: [from_ms, to_ms) at one interval. */
typedef struct SyncBarQuery
{
	const char *base_url;
	const char *symbol;
	const char *key_id;			/* NULL when none */
	const char *secret;			/* NULL when none */
	const char *feed;			/* Alpaca's data feed; NULL: iex */
	int64_t		interval_ms;
	int64_t		from_ms;
	int64_t		to_ms;
	int64_t		from_id;		/* > 0: trades from this id on (providers that page by id) */
	int			limit;
} SyncBarQuery;

/* One page of parsed bars or trades; the caller owns the arrays. */
typedef struct SyncPage
{
	SyncBar    *bars;
	int			nbars;
	int			bar_capacity;
	SyncTrade  *trades;
	int			ntrades;
	int			trade_capacity;
	SyncReject *rejects;
	int			nrejects;
	int			reject_capacity;
	int			nreceived;		/* records in the page, accepted or not */
	int64_t		last_ts_ms;		/* newest time seen (a trade's: its ms), INT64_MIN if none */
	bool		has_more;		/* a multi answer has more pages behind it (a page token): not every series is complete */
} SyncPage;

#endif							/* SYNC_RECORD_H */
