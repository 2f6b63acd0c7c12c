/*-------------------------------------------------------------------------
 * provider_json.h
 *	  Helpers for providers whose answers are JSON (json-c).  Included by
 *	  provider files only: json-c's json_object clashes with PostgreSQL's
 *	  function of that name, so nothing on the PostgreSQL side sees it.
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_PROVIDER_JSON_H
#define SYNC_PROVIDER_JSON_H

#include <json-c/json.h>

#include "provider.h"

extern SyncParseStatus sync_parse_json(const char *body, size_t len, json_object **root,
									   const char *who, char *errbuf, size_t errlen);
extern const char *sync_json_decimal(json_object *f, char *dst);
extern const char *sync_json_member_decimal(json_object *o, const char *key, char *dst, bool required);

/* Fill one record from one JSON element: NULL when good, else why not. */
typedef const char *(*SyncBarElementFn) (json_object *elem, SyncBar *bar);
typedef const char *(*SyncTradeElementFn) (json_object *elem, SyncTrade *trade);

extern void sync_page_add_bars(SyncPage *page, const SyncBarQuery *q, json_object *array,
							   SyncBarElementFn fn, const char *what);
extern void sync_page_add_trades(SyncPage *page, const SyncBarQuery *q, json_object *array,
								 SyncTradeElementFn fn, const char *what);
extern void sync_page_add_bar(SyncPage *page, const SyncBarQuery *q, json_object *e,
							  SyncBarElementFn fn, const char *what, int64_t *prev);
extern void sync_page_add_trade(SyncPage *page, const SyncBarQuery *q, json_object *e,
								SyncTradeElementFn fn, const char *what);

/* The same for a stream message's record of series t of the set. */
extern void sync_stream_add_bar(SyncStreamSet *set, const SyncStreamTarget *t, json_object *e,
								SyncBarElementFn fn, const char *what);
extern void sync_stream_add_trade(SyncStreamSet *set, const SyncStreamTarget *t, json_object *e,
								  SyncTradeElementFn fn, const char *what);

#endif							/* SYNC_PROVIDER_JSON_H */
