/*-------------------------------------------------------------------------
 * provider_json.h
 *	  Helpers for providers whose answers are JSON (json-c).  Included by
 *	  provider files only: json-c's json_object clashes with PostgreSQL's
 *	  function of that name, so nothing on the PostgreSQL side sees it.
 *
 * Every byte a provider sends is hostile, and json-c's own getters are not
 * safe on it: json_object_get_string() of a JSON null is a NULL pointer
 * (strcmp and "%s" crash on it) and of a number its text;
 * json_object_get_int64() converts doubles and strings and clamps numbers
 * past 64 bits to INT64_MAX without a word; json_object_array_length()
 * asserts on what is no array.  So binance.c, alpaca.c, polygon.c and
 * coinbase.c read JSON through the accessors below ONLY: none of them calls
 * json_object_get_*, json_object_object_get_ex, json_object_array_length,
 * json_object_array_get_idx or json_object_is_type:
 *   grep -n 'json_object_\(get\|object_get\|array_length\|array_get\|is_type\)' \
 *     src/providers/{binance,alpaca,polygon,coinbase}.c
 * finds nothing.  They use json-c itself only to build the messages they
 * send (json_object_new_*, _add) and to release a parsed answer
 * (json_object_put).
 *
 * Two kinds of accessors:
 *	- look-ups, for a message's envelope (its type, symbol, error text): the
 *	  value, or NULL/false when the member is absent, null or of another
 *	  type; the caller says what that means (most often: the message is
 *	  malformed, SYNC_PARSE_MALFORMED with errbuf saying which field);
 *	- record fields: NULL when the field is good (its value stored), else
 *	  why the record is refused, naming the field: "field \"p\" is null",
 *	  "field \"T\" is not an integer", "field 0 (open time) is out of range".
 *	  That text lives in one static buffer until the next refusal: a
 *	  record stops at its first bad field and sync_page_reject copies the
 *	  reason at once (parsing is single-threaded, as workers are).
 * An absent optional field and an optional field that is null are the same
 * (JSON encoders write either); a required one that is absent or null, or
 * any field of the wrong type, refuses the record.
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_PROVIDER_JSON_H
#define SYNC_PROVIDER_JSON_H

#include <json-c/json.h>

#include "provider.h"

/*
 * The deepest JSON a provider answer may nest.  The deepest real ones hold
 * 4 levels (Coinbase's subscriptions: {channels: [{product_ids: [..]}]};
 * Alpaca's trades: {trades: [{c: [..]}]}); json-c keeps a frame per level,
 * and a body of 30 MB of "[[[[..." must not cost more than a shallow one.
 */
#define SYNC_JSON_MAX_DEPTH	16

extern SyncParseStatus sync_parse_json(const char *body, size_t len, json_object **root,
									   const char *who, char *errbuf, size_t errlen);

/* Look-ups (never crash, whatever the value; NULL stands for JSON null) */
extern bool sync_json_type_is(json_object *v, json_type type);
extern bool sync_json_has(json_object *o, const char *key);
extern bool sync_json_is_null(json_object *o, const char *key);
extern json_object *sync_json_get(json_object *o, const char *key, json_type type);
extern const char *sync_json_get_string(json_object *o, const char *key);
extern const char *sync_json_string_of(json_object *v);
extern size_t sync_json_length(json_object *a);
extern json_object *sync_json_at(json_object *a, size_t i);

/* Record fields by key: NULL when good, else why the record is refused */
extern const char *sync_json_string(json_object *o, const char *key, const char **out);
extern const char *sync_json_opt_string(json_object *o, const char *key, const char **out);
extern const char *sync_json_int64(json_object *o, const char *key, int64_t min, int64_t max,
								   int64_t *out);
extern const char *sync_json_opt_int64(json_object *o, const char *key, int64_t min, int64_t max,
									   int64_t *out, int64_t absent);
extern const char *sync_json_opt_bool(json_object *o, const char *key, int *out);
extern const char *sync_json_time_ms(json_object *o, const char *key, int64_t *us);
extern const char *sync_json_time_rfc3339(json_object *o, const char *key, int64_t *us);
extern const char *sync_json_member_decimal(json_object *o, const char *key, char *dst, bool required);

/* Record fields by position (klines, candles); name says what field i is */
extern const char *sync_json_at_int64(json_object *a, size_t i, const char *name, int64_t min,
									  int64_t max, int64_t *out);
extern const char *sync_json_at_decimal(json_object *a, size_t i, const char *name, char *dst,
										bool string_only);

/* Is the array small enough to walk?  false, errbuf set, when it holds far more than asked. */
extern bool sync_json_array_fits(json_object *array, int64_t asked, const char *who,
								 const char *what, char *errbuf, size_t errlen);
extern int64_t sync_page_asked(const SyncPage *page, const SyncBarQuery *q, bool trades);

/* o as compact JSON into buf; false (buf "") when it does not fit.  Releases o. */
extern bool sync_json_emit(json_object *o, char *buf, size_t len, bool wipe);

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
extern void sync_page_reject_json(SyncPage *page, const char *reason, json_object *e);

/* The same for a stream message's record of series t of the set. */
extern void sync_stream_add_bar(SyncStreamSet *set, const SyncStreamTarget *t, json_object *e,
								SyncBarElementFn fn, const char *what);
extern void sync_stream_add_trade(SyncStreamSet *set, const SyncStreamTarget *t, json_object *e,
								  SyncTradeElementFn fn, const char *what);
extern void sync_stream_reject(SyncStreamSet *set, const char *reason, json_object *e);
extern bool sync_stream_array_fits(const SyncStreamSet *set, json_object *array, const char *who,
								   char *errbuf, size_t errlen);

#endif							/* SYNC_PROVIDER_JSON_H */
