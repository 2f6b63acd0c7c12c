/*-------------------------------------------------------------------------
 * polygon.c
 *	  Polygon aggregates: GET /v2/aggs/ticker/{ticker}/range/{mult}/{span}/{from}/{to}
 *
 * from and to are ms timestamps, both inclusive; sort=asc; the answer is
 *   {"ticker": "AAPL", "results": [{"t": ms, "o": 1.5, "h", "l", "c",
 *    "v", "vw", "n"}, ...], "next_url": "...", "status": "OK"}
 * with prices as JSON numbers (their text is kept exactly).  Paging goes by
 * time from our checkpoint, which also survives restarts, rather than by
 * next_url.  The key goes in an Authorization header, never in the URL,
 * so no log line or error message can show it.  Errors:
 *   {"status": "ERROR", "error": "..."} or {"status": "NOT_AUTHORIZED", "message": "..."}.
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "provider_json.h"

static bool
polygon_span(int64_t ms, int *mult, const char **span)
{
	static const struct
	{
		int64_t		ms;
		int			mult;
		const char *span;
	}			spans[] = {
		{60000, 1, "minute"}, {300000, 5, "minute"}, {900000, 15, "minute"},
		{1800000, 30, "minute"}, {3600000, 1, "hour"}, {14400000, 4, "hour"},
		{86400000, 1, "day"},
	};

	for (size_t i = 0; i < sizeof(spans) / sizeof(spans[0]); i++)
		if (spans[i].ms == ms)
		{
			*mult = spans[i].mult;
			*span = spans[i].span;
			return true;
		}
	return false;
}

static bool
polygon_bars_request(const SyncBarQuery *q, SyncRequest *req, char *errbuf, size_t errlen)
{
	int			mult;
	const char *span;

	if (!polygon_span(q->interval_ms, &mult, &span))
	{
		snprintf(errbuf, errlen, "Polygon has no aggregate of %" PRId64 " ms", q->interval_ms);
		return false;
	}
	if (snprintf(req->url, sizeof(req->url),
				 "%s/v2/aggs/ticker/%s/range/%d/%s/%" PRId64 "/%" PRId64 "?adjusted=false&sort=asc&limit=%d",
				 q->base_url, q->symbol, mult, span, q->from_ms, q->to_ms - 1, q->limit) >= (int) sizeof(req->url))
	{
		snprintf(errbuf, errlen, "request URL longer than %d bytes", SYNC_URL_LEN);
		return false;
	}
	req->window_to_ms = q->to_ms;
	req->headers[0] = NULL;
	if (q->secret != NULL)
		sync_request_add_header(req, "Authorization: Bearer %s", q->secret);
	return true;
}

static const char *
polygon_agg(json_object *a, SyncBar *bar)
{
	json_object *f;
	const char *why;

	if (!json_object_is_type(a, json_type_object))
		return "aggregate is not a JSON object";
	if (!json_object_object_get_ex(a, "t", &f) || !json_object_is_type(f, json_type_int))
		return "t (open time) is not an integer";
	bar->ts_ms = json_object_get_int64(f);
	if ((why = sync_json_member_decimal(a, "o", bar->open, true)) != NULL ||
		(why = sync_json_member_decimal(a, "h", bar->high, true)) != NULL ||
		(why = sync_json_member_decimal(a, "l", bar->low, true)) != NULL ||
		(why = sync_json_member_decimal(a, "c", bar->close, true)) != NULL ||
		(why = sync_json_member_decimal(a, "v", bar->volume, true)) != NULL ||
		(why = sync_json_member_decimal(a, "vw", bar->vwap, false)) != NULL)
		return why;
	bar->trades = -1;
	if (json_object_object_get_ex(a, "n", &f) && json_object_is_type(f, json_type_int))
		bar->trades = json_object_get_int64(f);
	return NULL;
}

/*
 * Parse an answer object; a status other than OK/DELAYED is a provider
 * error.  *results is its "results" array, or NULL when there is none (no
 * data in the range).  The caller releases *root.
 */
static SyncParseStatus
polygon_answer(const char *body, size_t len, json_object **root, json_object **results,
			   char *errbuf, size_t errlen)
{
	json_object *status;

	*results = NULL;
	if (sync_parse_json(body, len, root, "Polygon", errbuf, errlen) != SYNC_PARSE_OK)
		return SYNC_PARSE_MALFORMED;
	if (!json_object_is_type(*root, json_type_object))
	{
		snprintf(errbuf, errlen, "Polygon answer is not a JSON object");
		json_object_put(*root);
		return SYNC_PARSE_MALFORMED;
	}
	if (json_object_object_get_ex(*root, "status", &status) &&
		strcmp(json_object_get_string(status), "OK") != 0 &&
		strcmp(json_object_get_string(status), "DELAYED") != 0)
	{
		json_object *msg = NULL;

		if (!json_object_object_get_ex(*root, "error", &msg))
			json_object_object_get_ex(*root, "message", &msg);
		snprintf(errbuf, errlen, "Polygon error: %s",
				 msg ? json_object_get_string(msg) : json_object_get_string(status));
		json_object_put(*root);
		return SYNC_PARSE_PROVIDER_ERROR;
	}
	if (json_object_object_get_ex(*root, "results", results) &&
		!json_object_is_type(*results, json_type_null) &&
		!json_object_is_type(*results, json_type_array))
	{
		snprintf(errbuf, errlen, "Polygon results is not a JSON array");
		json_object_put(*root);
		return SYNC_PARSE_MALFORMED;
	}
	if (*results != NULL && json_object_is_type(*results, json_type_null))
		*results = NULL;
	return SYNC_PARSE_OK;
}

static SyncParseStatus
polygon_parse_bars(const char *body, size_t len, const SyncBarQuery *q,
				   SyncPage *page, char *errbuf, size_t errlen)
{
	json_object *root;
	json_object *results;
	SyncParseStatus st = polygon_answer(body, len, &root, &results, errbuf, errlen);

	if (st != SYNC_PARSE_OK)
		return st;
	if (results != NULL)
		sync_page_add_bars(page, q, results, polygon_agg, "aggregates");
	json_object_put(root);
	return SYNC_PARSE_OK;
}

/*
 * Trades: GET /v3/trades/{ticker}?timestamp.gte=ns&timestamp.lt=ns&order=asc
 * &sort=timestamp&limit=N.  The answer:
 *   {"results": [{"sip_timestamp": ns, "price": 171.5, "size": 100,
 *    "exchange": 11, "id": "52983525029461", ...}], "status": "OK", ...}
 * Trade ids are unique per exchange and day only: stored as
 * "exchange:id:ms".  No side is given.
 */
static bool
polygon_trades_request(const SyncBarQuery *q, SyncRequest *req, char *errbuf, size_t errlen)
{
	if (snprintf(req->url, sizeof(req->url),
				 "%s/v3/trades/%s?timestamp.gte=%" PRId64 "000000&timestamp.lt=%" PRId64 "000000"
				 "&order=asc&sort=timestamp&limit=%d",
				 q->base_url, q->symbol, q->from_ms, q->to_ms, q->limit) >= (int) sizeof(req->url))
	{
		snprintf(errbuf, errlen, "request URL longer than %d bytes", SYNC_URL_LEN);
		return false;
	}
	req->window_to_ms = q->to_ms;
	req->headers[0] = NULL;
	if (q->secret != NULL)
		sync_request_add_header(req, "Authorization: Bearer %s", q->secret);
	return true;
}

static const char *
polygon_trade(json_object *o, SyncTrade *t)
{
	json_object *f;
	json_object *id;
	json_object *ex;

	if (!json_object_is_type(o, json_type_object))
		return "trade is not a JSON object";
	if (!json_object_object_get_ex(o, "sip_timestamp", &f) || !json_object_is_type(f, json_type_int))
		return "sip_timestamp is not an integer";
	t->ts_us = json_object_get_int64(f) / 1000;
	if (!json_object_object_get_ex(o, "id", &id) || !json_object_is_type(id, json_type_string))
		return "id is not a string";
	if (!json_object_object_get_ex(o, "exchange", &ex) || !json_object_is_type(ex, json_type_int))
		return "exchange is not an integer";
	snprintf(t->trade_id, sizeof(t->trade_id), "%s:%s:%lld", json_object_get_string(ex),
			 json_object_get_string(id), (long long) sync_ms_of_us(t->ts_us));
	if (sync_json_member_decimal(o, "price", t->price, true) != NULL ||
		sync_json_member_decimal(o, "size", t->size, true) != NULL)
		return "price or size is missing or not a number";
	t->side = 0;
	return NULL;
}

static SyncParseStatus
polygon_parse_trades(const char *body, size_t len, const SyncBarQuery *q,
					 SyncPage *page, char *errbuf, size_t errlen)
{
	json_object *root;
	json_object *results;
	SyncParseStatus st = polygon_answer(body, len, &root, &results, errbuf, errlen);

	if (st != SYNC_PARSE_OK)
		return st;
	if (results != NULL)
		sync_page_add_trades(page, q, results, polygon_trade, "trades");
	json_object_put(root);
	return SYNC_PARSE_OK;
}

/*
 * Stream: wss://socket.polygon.io/stocks as given (the cluster is in the
 * path).  The server greets with [{"ev": "status", "status": "connected"}];
 * we send
 *   {"action": "auth", "params": KEY}
 *   {"action": "subscribe", "params": "T.AAPL,AM.MSFT"}
 * and it answers with arrays of events:
 *   {"ev": "status", "status": "auth_success" | "auth_failed" | "success",
 *    "message": "subscribed to: T.AAPL"}, one per channel subscribed;
 *   {"ev": "T", "sym": "AAPL", "x": 4, "i": "12345", "p": 114.125, "s": 100,
 *    "t": SIP ms, "c": [..], "z": 3, "q": seq}: a trade, whose id
 *    (exchange:id:ms) is the one the REST trades give it;
 *   {"ev": "AM", "sym": "AAPL", "o", "h", "l", "c", "v", "vw", "s": start ms,
 *    "e": end ms, ...}: a closed minute.
 * Any other status (auth_failed, max_connections, error) stops the stream.
 */
static bool
polygon_stream_url(const SyncStreamSet *set, const char *root,
				   char *url, size_t urllen, char *errbuf, size_t errlen)
{
	return sync_stream_url_as_given(set, root, url, urllen, errbuf, errlen, "Polygon");
}

static bool
polygon_stream_hello(const SyncStreamSet *set, int n, char *msg, size_t len)
{
	size_t		used;

	if (set->targets[0].q->secret == NULL)
		return false;
	if (n == 0)
		return snprintf(msg, len, "{\"action\":\"auth\",\"params\":\"%s\"}",
						set->targets[0].q->secret) < (int) len;
	if (n != 1)
		return false;
	used = snprintf(msg, len, "{\"action\":\"subscribe\",\"params\":\"");
	for (int i = 0; i < set->ntargets && used < len; i++)
		used += snprintf(msg + used, len - used, "%s%s.%s", i > 0 ? "," : "",
						 set->targets[i].trades ? "T" : "AM", set->targets[i].q->symbol);
	if (used < len)
		used += snprintf(msg + used, len - used, "\"}");
	return used < len;
}

static const char *
polygon_stream_trade(json_object *o, SyncTrade *t)
{
	json_object *f;
	json_object *id;
	json_object *ex;

	if (!json_object_object_get_ex(o, "t", &f) || !json_object_is_type(f, json_type_int))
		return "t (SIP time) is not an integer";
	if (!sync_us_from_ms(json_object_get_int64(f), &t->ts_us))
		return "t is out of range";
	if (!json_object_object_get_ex(o, "i", &id) || !json_object_is_type(id, json_type_string))
		return "i (trade id) is not a string";
	if (!json_object_object_get_ex(o, "x", &ex) || !json_object_is_type(ex, json_type_int))
		return "x (exchange) is not an integer";
	snprintf(t->trade_id, sizeof(t->trade_id), "%s:%s:%lld", json_object_get_string(ex),
			 json_object_get_string(id), (long long) sync_ms_of_us(t->ts_us));
	if (sync_json_member_decimal(o, "p", t->price, true) != NULL ||
		sync_json_member_decimal(o, "s", t->size, true) != NULL)
		return "price or size is missing or not a number";
	t->side = 0;
	return NULL;
}

static const char *
polygon_stream_minute(json_object *o, SyncBar *bar)
{
	json_object *f;
	const char *why;

	if (!json_object_object_get_ex(o, "s", &f) || !json_object_is_type(f, json_type_int))
		return "s (start time) is not an integer";
	bar->ts_ms = json_object_get_int64(f);
	if ((why = sync_json_member_decimal(o, "o", bar->open, true)) != NULL ||
		(why = sync_json_member_decimal(o, "h", bar->high, true)) != NULL ||
		(why = sync_json_member_decimal(o, "l", bar->low, true)) != NULL ||
		(why = sync_json_member_decimal(o, "c", bar->close, true)) != NULL ||
		(why = sync_json_member_decimal(o, "v", bar->volume, true)) != NULL ||
		(why = sync_json_member_decimal(o, "vw", bar->vwap, false)) != NULL)
		return why;
	bar->trades = -1;
	return NULL;
}

/* A status event: confirmations mark their series; refusals stop the stream. */
static SyncParseStatus
polygon_status(json_object *o, SyncStreamSet *set, char *errbuf, size_t errlen)
{
	json_object *f;
	json_object *m = NULL;
	const char *status;
	const char *message;

	if (!json_object_object_get_ex(o, "status", &f))
		return SYNC_PARSE_OK;
	status = json_object_get_string(f);
	json_object_object_get_ex(o, "message", &m);
	message = m ? json_object_get_string(m) : "";
	if (strcmp(status, "success") == 0 && strncmp(message, "subscribed to: ", 15) == 0)
	{
		const char *channel = message + 15;

		if (strncmp(channel, "T.", 2) == 0)
			sync_stream_confirm(set, channel + 2, true);
		else if (strncmp(channel, "AM.", 3) == 0)
			sync_stream_confirm(set, channel + 3, false);
		return SYNC_PARSE_OK;
	}
	if (strcmp(status, "connected") == 0 || strcmp(status, "auth_success") == 0 ||
		strcmp(status, "success") == 0)
		return SYNC_PARSE_OK;
	snprintf(errbuf, errlen, "Polygon stream %s: %s", status, message);
	return SYNC_PARSE_PROVIDER_ERROR;
}

static SyncParseStatus
polygon_parse_stream(const char *msg, size_t len, SyncStreamSet *set, char *errbuf, size_t errlen)
{
	json_object *root;
	SyncParseStatus st = sync_parse_json(msg, len, &root, "Polygon stream message", errbuf, errlen);

	if (st != SYNC_PARSE_OK)
		return st;
	if (!json_object_is_type(root, json_type_array))
	{
		snprintf(errbuf, errlen, "Polygon stream message is not a JSON array");
		json_object_put(root);
		return SYNC_PARSE_MALFORMED;
	}
	for (size_t i = 0; i < json_object_array_length(root) && st == SYNC_PARSE_OK; i++)
	{
		json_object *o = json_object_array_get_idx(root, i);
		json_object *ev;
		json_object *sym;
		SyncStreamTarget *t;

		if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "ev", &ev))
			continue;
		if (strcmp(json_object_get_string(ev), "status") == 0)
			st = polygon_status(o, set, errbuf, errlen);
		else if (!json_object_object_get_ex(o, "sym", &sym))
			continue;
		else if (strcmp(json_object_get_string(ev), "T") == 0 &&
				 (t = sync_stream_target(set, json_object_get_string(sym), true, 0)) != NULL)
			sync_stream_add_trade(set, t, o, polygon_stream_trade, "trades");
		else if (strcmp(json_object_get_string(ev), "AM") == 0 &&
				 (t = sync_stream_target(set, json_object_get_string(sym), false, 60000)) != NULL)
					sync_stream_add_bar(set, t, o, polygon_stream_minute, "aggregates");
	}
	json_object_put(root);
	return st;
}

const SyncProvider sync_provider_polygon = {
	.name = "polygon",
	.default_base_url = "https://api.polygon.io",
	.max_page = 50000,
	.bars_request = polygon_bars_request,
	.parse_bars = polygon_parse_bars,
	.trades_request = polygon_trades_request,
	.parse_trades = polygon_parse_trades,
	.default_stream_url = "wss://socket.polygon.io/stocks",
	.stream_bars = true,
	.stream_url = polygon_stream_url,
	.stream_hello = polygon_stream_hello,
	.parse_stream = polygon_parse_stream,
};
