/*-------------------------------------------------------------------------
 * provider_multi.h
 *	  Helpers for the parsers of multi-symbol answers (provider.c): one
 *	  answer holds the records of many series of a SyncMultiQuery, each
 *	  routed by its symbol to its series, stamped with the series' index
 *	  (target) and accepted against that series' own query.  Included by
 *	  provider files only (it needs json-c, as provider_json.h does).
 *
 * The request asks for [start, mq->to_ms), start the earliest from_ms of
 * the series; a series whose own range is shorter gets records it did not
 * ask for (already stored, or the next poll's).  Those, inside the
 * request's window but outside the series' range, are skipped: counted as
 * received, neither kept nor refused.  Records outside the request's
 * window are the provider's error and refused as a single-series page
 * refuses them.
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_PROVIDER_MULTI_H
#define SYNC_PROVIDER_MULTI_H

#include "provider_json.h"

typedef struct SyncMultiSymbol
{
	const char *symbol;
	int			series;
} SyncMultiSymbol;

/* One parse of a multi answer: the set, its symbol index, per-series state. */
typedef struct SyncMulti
{
	const SyncMultiQuery *mq;
	SyncPage   *page;
	int64_t		window_from;	/* the request's start (records before it are refused) */
	SyncMultiSymbol *by_symbol; /* the series sorted by symbol, any case */
	int64_t    *prev;			/* per series: time of the bar kept before */
	bool	   *answered;		/* per series: a member of the answer held it already */
} SyncMulti;

extern bool sync_multi_begin(SyncMulti *m, const SyncMultiQuery *mq, SyncPage *page,
							 int64_t window_from, const char *who, char *errbuf, size_t errlen);
extern void sync_multi_end(SyncMulti *m);
extern int	sync_multi_series(const SyncMulti *m, const char *symbol);
extern int64_t sync_multi_asked(const SyncMulti *m, bool trades);
extern void sync_multi_add_bar(SyncMulti *m, int series, json_object *e, SyncBarElementFn fn,
							   const char *what);
extern void sync_multi_add_trade(SyncMulti *m, int series, json_object *e, SyncTradeElementFn fn,
								 const char *what);
extern void sync_multi_reject(SyncMulti *m, int series, const char *reason, json_object *e);

/* An object of symbol: array members (Alpaca's answers), each member's records to its series. */
typedef enum SyncMultiMembers
{
	SYNC_MULTI_MEMBERS_OK,
	SYNC_MULTI_MEMBERS_NOT_ARRAY,	/* a set symbol's member is no array nor null */
	SYNC_MULTI_MEMBERS_TOO_MANY		/* more elements in all than twice what was asked */
} SyncMultiMembers;

extern SyncMultiMembers sync_multi_add_members(SyncMulti *m, json_object *o, bool trades,
											   SyncBarElementFn bar_fn, SyncTradeElementFn trade_fn,
											   const char *what, const char **bad_symbol,
											   size_t *nelements);

#endif							/* SYNC_PROVIDER_MULTI_H */
